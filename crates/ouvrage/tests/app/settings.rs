//! The firm's settings and its audit log, for the firm admin only.

use ouvrage::on_db;

use crate::clients::{count, demo_client, other_firm, unescape};
use crate::support::*;

fn firm_fields<'a>(siren: &'a str, vat: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("legal_name", "Mesures & Contrôles Atlantique SAS"),
        ("siren", siren),
        ("siret", "55210055400013"),
        ("vat_number", vat),
        ("address_line1", "27 rue du Moulin"),
        ("address_line2", "Bâtiment B"),
        ("postcode", "44300"),
        ("city", "Nantes"),
        ("phone", "02 40 00 00 00"),
        ("email", "Contact@MCA-demo.test"),
    ]
}

#[tokio::test]
async fn the_admin_edits_the_firms_identity() {
    let app = TestApp::spawn().await;
    let admin = app.login("admin@demo.test").await;
    let (status, body) = admin.get_text("/bo/parametres").await;
    assert_eq!(status, 200);
    assert!(unescape(&body).contains("value=\"Mesures & Contrôles Atlantique\""));
    assert!(body.contains("value=\"02 40 00 00 00\""), "the phone is shown the French way");
    assert!(body.contains("href=\"/bo/parametres/journal\""));

    let resp = admin.submit("/bo/parametres", "/bo/parametres", &firm_fields("552100555", "FR96552100554")).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Le SIREN doit comporter 9 chiffres valides"));
    let resp = admin.submit("/bo/parametres", "/bo/parametres", &firm_fields("552100554", "FR1955210055")).await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(body.contains("FR suivi de 11 caractères"));
    assert!(body.contains("value=\"FR1955210055\""), "what was typed is kept");
    let mut empty_name = firm_fields("552100554", "FR96552100554");
    empty_name[0].1 = "";
    let resp = admin.submit("/bo/parametres", "/bo/parametres", &empty_name).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("La raison sociale est obligatoire"));
    let name: String = on_db!(&app.db, |p| sqlx::query_scalar("SELECT legal_name FROM tenants WHERE slug = 'demo'")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(name, "Mesures & Contrôles Atlantique", "nothing written by refused forms");

    let resp = admin.submit("/bo/parametres", "/bo/parametres", &firm_fields("552 100 554", "fr 96 552100554")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/bo/parametres?msg=enregistre");
    let (name, siren, vat, line2, phone, email): (String, String, String, String, String, String) =
        on_db!(&app.db, |p| sqlx::query_as(
            "SELECT legal_name, siren, vat_number, address_line2, phone, email FROM tenants WHERE slug = 'demo'"
        )
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(name, "Mesures & Contrôles Atlantique SAS");
    assert_eq!((siren.as_str(), vat.as_str()), ("552100554", "FR96552100554"));
    assert_eq!(line2, "Bâtiment B");
    assert_eq!(phone, "+33240000000");
    assert_eq!(email, "contact@mca-demo.test");
    let summary: String = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT summary FROM audit_log WHERE entity = 'tenant' ORDER BY id DESC LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(summary.contains("raison sociale") && summary.contains("adresse"), "{summary}");

    // Only the admin.
    for who in ["bureau@demo.test", "technicien@demo.test", "client.admin@demo.test"] {
        let b = app.login(who).await;
        assert_eq!(b.get("/bo/parametres").await.status(), 403, "{who}");
        let resp = b.submit("/mot-de-passe/changer", "/bo/parametres", &firm_fields("552100554", "")).await;
        assert!(matches!(resp.status().as_u16(), 403), "{who}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_lists_this_firms_changes_to_its_admin_only() {
    let app = TestApp::spawn().await;
    let _other = other_firm(&app.db).await;
    let office = app.login("bureau@demo.test").await;
    let c002 = demo_client(&app.db, "C002").await;
    let page = format!("/bo/clients/{c002}/modifier");
    let resp = office
        .submit(&page, &page, &[("code", "C002"), ("name", "Demeures de l'Estuaire Nord"), ("kind", "builder")])
        .await;
    assert_eq!(resp.status(), 303);
    let resp = office
        .submit(&format!("/bo/clients/{c002}"), &format!("/bo/clients/{c002}/archiver"), &[("archiver", "1")])
        .await;
    assert_eq!(resp.status(), 303);

    let admin = app.login("admin@demo.test").await;
    let (status, body) = admin.get_text("/bo/parametres/journal").await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    let modified = body.find("Client C002 Demeures de l'Estuaire Nord modifié").expect("the edit is logged");
    let archived = body.find("Client C002 Demeures de l'Estuaire Nord archivé").expect("the archiving is logged");
    assert!(archived < modified, "newest first");
    assert!(body.contains("Karine Lemoine") && body.contains("bureau@demo.test"), "the author is shown");
    assert!(body.contains("Archivage") && body.contains(&format!("href=\"/bo/clients/{c002}\"")));
    assert!(!body.contains("Entrée secrète de l'autre firme"), "another firm's log stays hidden");

    // Filters: by kind of object and by user.
    let body = unescape(&admin.get_text("/bo/parametres/journal?entite=user").await.1);
    assert!(!body.contains("Demeures de l'Estuaire Nord") && body.contains("Accès extranet client@demo.test créé"));
    let office_id: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM users WHERE email = 'bureau@demo.test'")
            .fetch_one(p)
            .await)
        .unwrap();
    let body = unescape(&admin.get_text(&format!("/bo/parametres/journal?utilisateur={office_id}")).await.1);
    assert!(body.contains("Demeures de l'Estuaire Nord modifié"));
    assert!(
        !body.contains("Client C001 Maisons Horizon Atlantique créé"),
        "the demo loader's entries are filtered out"
    );

    // Not for anyone else.
    for who in ["client@demo.test", "client.admin@demo.test", "bureau@demo.test", "technicien@demo.test"] {
        assert_eq!(app.login(who).await.get("/bo/parametres/journal").await.status(), 403, "{who}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_paginated_by_hundreds() {
    let app = TestApp::spawn().await;
    let tenant: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'").fetch_one(p).await)
            .unwrap();
    // At least 150 entries (the demo's own may already be more).
    let before = count(&app.db, "SELECT COUNT(*) FROM audit_log").await;
    for i in 0..(150 - before).max(0) {
        ouvrage::exec_db!(&app.db, |p| sqlx::query(
            "INSERT INTO audit_log (tenant_id, actor_label, action, entity, summary, created_at) VALUES ($1, 'import', 'create', 'site', $2, $3)"
        )
        .bind(tenant)
        .bind(format!("Chantier importé n° {i:03}"))
        .bind(1_000_000 + i)
        .execute(p)
        .await)
        .unwrap();
    }
    let entries = count(&app.db, "SELECT COUNT(*) FROM audit_log").await;
    assert!(entries >= 150);
    let admin = app.login("admin@demo.test").await;
    // Logging in added one entry.
    let total = entries + 1;
    let body = unescape(&admin.get_text("/bo/parametres/journal").await.1);
    assert!(body.contains(&format!("{total} entrées — 1 à 100")), "{body}");
    assert!(body.contains("href=\"/bo/parametres/journal?page=2\""));
    let body = unescape(&admin.get_text("/bo/parametres/journal?page=2").await.1);
    assert!(body.contains(&format!("101 à {}", total.min(200))));
    let body = unescape(&admin.get_text("/bo/parametres/journal?entite=site").await.1);
    assert!(body.contains("Chantier") && !body.contains("Connexion"));
    app.stop().await;
}

/// A real 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

async fn send_logo(b: &Browser, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let token = b.csrf("/bo").await;
    let form = reqwest::multipart::Form::new()
        .part("logo", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    b.http.post(b.url(&format!("/bo/parametres/logo?_csrf={token}"))).multipart(form).send().await.unwrap()
}

#[tokio::test]
async fn the_admin_uploads_the_firms_logo_shown_to_its_staff_and_clients_only() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let admin = app.login("admin@demo.test").await;
    let png = base64::engine::general_purpose::STANDARD.decode(PNG).unwrap();

    // Before any upload, the product's logo stands in.
    let resp = admin.get("/logo").await;
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");

    // Not an image: refused in French, nothing changes.
    let resp = send_logo(&admin, "logo.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec()).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("PNG ou JPEG"));
    let resp = send_logo(&admin, "logo.png", vec![0u8; 3 * 1024 * 1024]).await;
    assert!(resp.status() == 413 || resp.status() == 422, "{}", resp.status());
    assert_eq!(admin.get("/logo").await.headers()["content-type"], "image/svg+xml");

    let resp = send_logo(&admin, "logo.png", png.clone()).await;
    assert_eq!(resp.status(), 303);
    for who in ["admin@demo.test", "client@demo.test"] {
        let b = app.login(who).await;
        let resp = b.get("/logo").await;
        assert_eq!(resp.headers()["content-type"], "image/png", "{who}");
        assert_eq!(resp.bytes().await.unwrap().to_vec(), png, "{who} sees the firm's logo");
    }
    let audited: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'tenant' AND summary LIKE 'Logo%'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(audited, 1);

    // Office staff may not change it; anonymous visitors do not get it.
    let office = app.login("bureau@demo.test").await;
    assert_eq!(send_logo(&office, "logo.png", png.clone()).await.status(), 403);
    assert_eq!(app.client().get("/logo").await.status(), 303);
    app.stop().await;
}
