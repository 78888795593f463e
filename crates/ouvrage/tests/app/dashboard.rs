//! The dashboards: on a company whose every tile has something to count (and things that must
//! not be counted), each count is right and each tile opens the list of exactly what it counts.

use ouvrage::db::Db;
use ouvrage::on_db;

use crate::support::*;

async fn id(db: &Db, sql: String) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(p).await).unwrap()
}

async fn exec(db: &Db, sql: String) {
    on_db!(db, |p| sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(p).await.map(|_| ())).unwrap()
}

struct Fixture {
    tenant: i64,
    client: i64,
    user: i64,
    other_user: i64,
}

async fn site(db: &Db, f: &Fixture, name: &str, phase: &str, status: &str, archived: bool) -> i64 {
    id(
        db,
        format!(
            "INSERT INTO sites (tenant_id, client_id, kind, name, phase, status, archived, name_key, search_key, postcode,
                                city, created_at, updated_at)
             VALUES ({}, {}, 'construction', '{name}', '{phase}', '{status}', {archived}, lower('{name}'), lower('{name}'),
                     '44000', 'Nantes', 0, 0) RETURNING id",
            f.tenant, f.client
        ),
    )
    .await
}

async fn requirement(db: &Db, f: &Fixture, site: i64, status: &str) {
    exec(
        db,
        format!(
            "INSERT INTO site_requirements (tenant_id, client_id, site_id, label, kind, document_type, stage, status,
                                            created_at, updated_at)
             VALUES ({}, {}, {site}, 'Plans', 'document', 'plan', 'before', '{status}', 0, 0)",
            f.tenant, f.client
        ),
    )
    .await
}

async fn document(db: &Db, f: &Fixture, site: i64, title: &str, published: &str, seen: bool) -> i64 {
    let file = id(
        db,
        format!(
            "INSERT INTO files (tenant_id, client_id, sha256, size_bytes, content_type, original_name, created_at)
             VALUES ({}, {}, '{}', 10, 'application/pdf', '{title}.pdf', 0) RETURNING id",
            f.tenant,
            f.client,
            "0".repeat(64)
        ),
    )
    .await;
    let doc_type = if published.is_empty() { "supporting_document" } else { published };
    let id = id(
        db,
        format!(
            "INSERT INTO documents (tenant_id, client_id, site_id, file_id, document_type, title, created_at, name_key,
                                    published_as, published_at, first_seen_at)
             VALUES ({}, {}, {site}, {file}, '{doc_type}', '{title}', 0, lower('{title}'), '{published}', 1, {})
             RETURNING id",
            f.tenant,
            f.client,
            if seen { "5" } else { "NULL" }
        ),
    )
    .await;
    exec(db, format!("UPDATE documents SET lineage_id = id WHERE id = {id}")).await;
    id
}

async fn signature(db: &Db, f: &Fixture, site: i64, doc: i64, title: &str, signer: Option<i64>, status: &str) {
    exec(
        db,
        format!(
            "INSERT INTO signature_requests (tenant_id, client_id, site_id, document_id, title, signer_user_id, status,
                                             original_sha256, created_at)
             VALUES ({}, {}, {site}, {doc}, '{title}', {}, '{status}', '{}', 0)",
            f.tenant,
            f.client,
            signer.map(|s| s.to_string()).unwrap_or_else(|| "NULL".into()),
            "0".repeat(64)
        ),
    )
    .await
}

/// A company of the demo firm with its own user (the demo password), and an empty slate.
async fn company(app: &TestApp) -> Fixture {
    let db = &app.db;
    let tenant = id(db, "SELECT id FROM tenants WHERE slug = 'demo'".into()).await;
    let client = id(
        db,
        format!(
            "INSERT INTO clients (tenant_id, code, name, kind, search_key, created_at, updated_at)
             VALUES ({tenant}, 'C099', 'Tableau Bâtisseurs', 'builder', 'c099 tableau batisseurs', 0, 0) RETURNING id"
        ),
    )
    .await;
    let mut users = Vec::new();
    for (email, perms) in [("tableau@demo.test", "invoices sign"), ("collegue@demo.test", "")] {
        users.push(
            id(
                db,
                format!(
                    "INSERT INTO users (tenant_id, client_id, email, full_name, role, permissions, password_hash,
                                        search_key, created_at, updated_at)
                     SELECT {tenant}, {client}, '{email}', 'Utilisateur Tableau', 'client_user', '{perms}', password_hash,
                            '', 0, 0
                     FROM users WHERE email = 'client@demo.test' RETURNING id"
                ),
            )
            .await,
        );
    }
    Fixture { tenant, client, user: users[0], other_user: users[1] }
}

fn count_of(page: &str, tile: &str) -> i64 {
    let at = page.find(&format!("id=\"{tile}\"")).unwrap_or_else(|| panic!("tile {tile} missing"));
    let rest = &page[at..];
    let start = rest.find("tile-count\">").unwrap() + "tile-count\">".len();
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].parse().unwrap()
}

fn href_of(page: &str, tile: &str) -> String {
    let at = page.find(&format!("id=\"{tile}\"")).unwrap();
    let rest = &page[at..];
    let start = rest.find("href=\"").unwrap() + 6;
    let end = rest[start..].find('"').unwrap() + start;
    rest[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn each_client_tile_counts_what_its_link_lists() {
    let app = TestApp::spawn().await;
    let f = company(&app).await;
    let db = &app.db;
    for name in ["Travaux Un", "Travaux Deux", "Travaux Trois"] {
        site(db, &f, name, "works", "to_schedule", false).await;
    }
    site(db, &f, "Travaux Archivé", "works", "to_schedule", true).await;
    let p1 = site(db, &f, "Planifié Manquant", "handover", "scheduled", false).await;
    let p2 = site(db, &f, "Planifié Refusé", "handover", "scheduled", false).await;
    let p3 = site(db, &f, "Planifié Complet", "handover", "scheduled", false).await;
    site(db, &f, "Planifié Sans Attente", "handover", "scheduled", false).await;
    let d1 = site(db, &f, "Réalisé Manquant", "handover", "done", false).await;
    let d2 = site(db, &f, "Réalisé Complet", "handover", "done", false).await;
    let d3 = site(db, &f, "Réalisé Reçu", "handover", "done", false).await;
    requirement(db, &f, p1, "missing").await;
    requirement(db, &f, p1, "missing").await;
    requirement(db, &f, p1, "validated").await;
    requirement(db, &f, p2, "refused").await;
    requirement(db, &f, p3, "validated").await;
    requirement(db, &f, d1, "missing").await;
    requirement(db, &f, d2, "validated").await;
    // Sent by the client, waiting for the firm: nothing more for the client to send.
    requirement(db, &f, d3, "received").await;
    // A refusal then a new upload: counted while refused, not after.
    requirement(db, &f, d2, "refused").await;
    exec(db, format!("UPDATE site_requirements SET status = 'received' WHERE site_id = {d2} AND status = 'refused'"))
        .await;
    let pv = document(db, &f, p1, "PV à signer", "", false).await;
    signature(db, &f, p1, pv, "Signature Commune", None, "pending").await;
    signature(db, &f, p1, pv, "Signature Personnelle", Some(f.user), "pending").await;
    signature(db, &f, p1, pv, "Signature Du Collègue", Some(f.other_user), "pending").await;
    signature(db, &f, p1, pv, "Signature Déjà Faite", None, "signed").await;
    document(db, &f, d1, "Rapport Nouveau A", "report", false).await;
    document(db, &f, d2, "Rapport Nouveau B", "report", false).await;
    document(db, &f, d2, "Rapport Déjà Lu", "report", true).await;
    document(db, &f, d2, "Facture Nouvelle", "invoice", false).await;

    let user = app.login("tableau@demo.test").await;
    let (status, home) = user.get_text("/espace").await;
    assert_eq!(status, 200);
    let expected = [
        ("tile-works", 3),
        ("tile-planned-incomplete", 2),
        ("tile-done-incomplete", 1),
        ("tile-expected", 3),
        ("tile-to-sign", 2),
        ("tile-reports", 2),
        ("tile-invoices", 1),
    ];
    for (tile, n) in expected {
        assert_eq!(count_of(&home, tile), n, "{tile}");
    }
    // Each tile opens the list of what it counts.
    let lists: [(&str, &[&str], &[&str]); 6] = [
        ("tile-works", &["Travaux Un", "Travaux Deux", "Travaux Trois"], &["Travaux Archivé", "Planifié Manquant"]),
        (
            "tile-planned-incomplete",
            &["Planifié Manquant", "Planifié Refusé"],
            &["Planifié Complet", "Planifié Sans Attente", "Réalisé Reçu"],
        ),
        ("tile-done-incomplete", &["Réalisé Manquant"], &["Réalisé Complet", "Réalisé Reçu", "Planifié Manquant"]),
        (
            "tile-expected",
            &["Planifié Manquant", "Planifié Refusé", "Réalisé Manquant"],
            &["Planifié Complet", "Travaux Un", "Réalisé Reçu"],
        ),
        ("tile-reports", &["Rapport Nouveau A", "Rapport Nouveau B"], &["Rapport Déjà Lu", "Facture Nouvelle"]),
        ("tile-invoices", &["Facture Nouvelle"], &["Rapport Nouveau A"]),
    ];
    for (tile, shown, hidden) in lists {
        let href = href_of(&home, tile);
        let (status, list) = user.get_text(&href).await;
        assert_eq!(status, 200, "{tile} → {href}");
        let list = list.replace("&#39;", "'");
        for name in shown {
            assert!(list.contains(name), "{tile} → {href} lists {name}");
        }
        for name in hidden {
            assert!(!list.contains(name), "{tile} → {href} does not list {name}");
        }
    }
    let (status, signatures) = user.get_text(&href_of(&home, "tile-to-sign")).await;
    assert_eq!(status, 200);
    assert!(signatures.contains("Signature Commune") && signatures.contains("Signature Personnelle"));

    // The colleague has no invoice permission and no signature of their own: their tiles say so.
    let colleague = app.login("collegue@demo.test").await;
    let (_, home) = colleague.get_text("/espace").await;
    assert!(!home.contains("id=\"tile-invoices\""));
    assert_eq!(count_of(&home, "tile-to-sign"), 2, "the company's and their own");
    assert_eq!(count_of(&home, "tile-works"), 3);
    // Another company's dashboard counts none of it.
    let other = app.login("autre.client@demo.test").await;
    let (_, home) = other.get_text("/espace").await;
    assert_eq!(count_of(&home, "tile-to-sign"), 0);
    assert_eq!(count_of(&home, "tile-reports"), 0);
    app.stop().await;
}

#[tokio::test]
async fn the_firm_dashboard_counts_what_waits_for_it() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    let (_, before) = office.get_text("/bo").await;
    let f = company(&app).await;
    let db = &app.db;
    let s = site(db, &f, "Chantier Attente", "handover", "scheduled", false).await;
    requirement(db, &f, s, "received").await;
    requirement(db, &f, s, "received").await;
    requirement(db, &f, s, "missing").await;
    let pv = document(db, &f, s, "PV", "", false).await;
    signature(db, &f, s, pv, "Signature En Attente", None, "pending").await;
    let thread = id(
        db,
        format!(
            "INSERT INTO threads (tenant_id, client_id, site_id, subject, status, created_at, last_message_at)
             VALUES ({}, {}, {s}, 'Demande d''intervention', 'open', 0, 0) RETURNING id",
            f.tenant, f.client
        ),
    )
    .await;
    exec(
        db,
        format!(
            "INSERT INTO intervention_requests (tenant_id, client_id, site_id, service_id, preferred_day_1, thread_id,
                                                status, created_at, updated_at)
             SELECT {}, {}, {s}, MIN(id), '2031-01-15', {thread}, 'pending', 0, 0 FROM services WHERE tenant_id = {}",
            f.tenant, f.client, f.tenant
        ),
    )
    .await;
    let (_, after) = office.get_text("/bo").await;
    for (tile, delta) in [
        ("tile-to-validate", 2),
        ("tile-awaiting-signature", 1),
        ("tile-unanswered", 1),
        ("tile-planned-incomplete", 1),
        ("tile-requests", 0),
        ("tile-intervention-requests", 1),
    ] {
        assert_eq!(count_of(&after, tile) - count_of(&before, tile), delta, "{tile}");
    }
    let (status, list) = office.get_text(&href_of(&after, "tile-planned-incomplete")).await;
    assert_eq!(status, 200);
    assert!(list.contains("Chantier Attente"));
    let (status, list) = office.get_text(&href_of(&after, "tile-intervention-requests")).await;
    assert_eq!(status, 200);
    assert!(list.contains("Chantier Attente"), "the pending request is listed");
    app.stop().await;
}
