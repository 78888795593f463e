//! Clients and contacts in the back office, and the extranet's "Mon entreprise" page.

use ouvrage::db::Db;
use ouvrage::{exec_db, on_db};

use crate::support::*;

/// The id of a client of the demo firm.
pub async fn demo_client(db: &Db, code: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT c.id FROM clients c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'demo' AND c.code = $1"
    )
    .bind(code)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// HTML-escaped ampersands and apostrophes back to text, to compare links and messages.
pub fn unescape(body: &str) -> String {
    body.replace("&#38;", "&").replace("&amp;", "&").replace("&#39;", "'").replace("&#x27;", "'")
}

pub async fn count(db: &Db, sql: &'static str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).unwrap()
}

/// Another firm with its own client (coded C001 too), contact, client user and admin.
pub struct OtherFirm {
    pub tenant: i64,
    pub client: i64,
    pub contact: i64,
    pub user: i64,
    pub admin: i64,
}

pub async fn other_firm(db: &Db) -> OtherFirm {
    let tenant = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('autre-firme', 'Autre Firme Diagnostics', 0) RETURNING id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let client = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO clients (tenant_id, code, name, kind, search_key, created_at, updated_at)
         VALUES ($1, 'C001', 'Client Secret Ailleurs', 'builder', 'c001 client secret ailleurs', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
    .unwrap();
    let contact = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO contacts (tenant_id, client_id, first_name, last_name, email, created_at, updated_at)
         VALUES ($1, $2, 'Gaspard', 'Confidentiel', 'gaspard@ailleurs.test', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .fetch_one(p)
    .await)
    .unwrap();
    let user = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (tenant_id, client_id, contact_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, 'gaspard@ailleurs.test', 'Gaspard Confidentiel', 'client_user', 'hash-ailleurs', 0, 0)
         RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(contact)
    .fetch_one(p)
    .await)
    .unwrap();
    let admin = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (tenant_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, 'patron@ailleurs.test', 'Patron Ailleurs', 'admin', 'hash-patron', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
    .unwrap();
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO audit_log (tenant_id, user_id, actor_label, action, entity, entity_id, summary, created_at)
         VALUES ($1, $2, 'Patron Ailleurs', 'create', 'client', $3, 'Entrée secrète de l''autre firme', 0)"
    )
    .bind(tenant)
    .bind(admin)
    .bind(client)
    .execute(p)
    .await)
    .unwrap();
    OtherFirm { tenant, client, contact, user, admin }
}

/// Everything stored about the other firm's objects, to prove nothing changed.
async fn other_firm_state(db: &Db, f: &OtherFirm) -> String {
    let rows: Vec<(String,)> = on_db!(db, |p| sqlx::query_as(
        "SELECT 'client ' || name || ' ' || code || ' ' || archived || ' ' || updated_at FROM clients WHERE tenant_id = $1
         UNION ALL SELECT 'contact ' || last_name || ' ' || email || ' ' || archived || ' ' || updated_at FROM contacts WHERE tenant_id = $1
         UNION ALL SELECT 'user ' || email || ' ' || role || ' ' || active || ' ' || password_hash || ' ' || updated_at FROM users WHERE tenant_id = $1
         ORDER BY 1"
    )
    .bind(f.tenant)
    .fetch_all(p)
    .await)
    .unwrap();
    rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
}

fn new_client_fields<'a>(code: &'a str, name: &'a str, siret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("code", code),
        ("name", name),
        ("kind", "landlord"),
        ("siret", siret),
        ("address_line1", "12 rue des Halles"),
        ("address_line2", ""),
        ("postcode", "85000"),
        ("city", "La Roche-sur-Yon"),
        ("billing_address", ""),
        ("billing_email", "Factures@Vendee-Habitat.test"),
        ("phone", "02 51 00 00 01"),
        ("notes", "Accès par le portail côté parking."),
    ]
}

#[tokio::test]
async fn office_creates_edits_searches_and_archives_a_client() {
    let app = TestApp::spawn().await;
    let b = app.login("bureau@demo.test").await;
    let (status, body) = b.get_text("/bo/clients/nouveau").await;
    assert_eq!(status, 200);
    assert!(body.contains("Nouveau client"));

    // Left empty, the code is the next free one after C005.
    let resp = b
        .submit(
            "/bo/clients/nouveau",
            "/bo/clients/nouveau",
            &new_client_fields("", "Vendée Habitat Services", "732 829 320 00074"),
        )
        .await;
    assert_eq!(resp.status(), 303);
    let target = location(&resp);
    assert!(target.starts_with("/bo/clients/") && target.ends_with("?msg=cree"), "{target}");
    let id = demo_client(&app.db, "C006").await;
    assert_eq!(target, format!("/bo/clients/{id}?msg=cree"));
    let (phone, email, siret): (String, String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT phone, billing_email, siret FROM clients WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(phone, "+33251000001");
    assert_eq!(email, "factures@vendee-habitat.test");
    assert_eq!(siret, "73282932000074");

    let (status, body) = b.get_text(&target).await;
    assert_eq!(status, 200);
    assert!(body.contains("Création enregistrée"));
    assert!(body.contains("Vendée Habitat Services") && body.contains("C006"));
    assert!(body.contains("02 51 00 00 01"), "phones are shown the French way");
    assert!(body.contains("732 829 320 00074"));
    assert!(body.contains("Bailleur social"));
    assert!(body.contains(&format!("href=\"/bo/clients/{id}/fichiers\"")));

    // Search ignores case and accents; it matches the city and the code too.
    for q in ["vendee", "ROCHE-SUR", "c006", "85000"] {
        let (_, body) = b.get_text(&format!("/bo/clients?q={q}")).await;
        assert!(body.contains("Vendée Habitat Services"), "search {q}");
        assert!(!body.contains("Maisons Horizon Atlantique"), "search {q}");
    }
    // Filtering by kind.
    let body = unescape(&b.get_text("/bo/clients?type=landlord").await.1);
    assert!(body.contains("Vendée Habitat Services") && body.contains("Loire Habitat Social"));
    assert!(!body.contains("Maisons Horizon Atlantique"));
    // The criteria are kept in the sort links.
    assert!(body.contains("href=\"/bo/clients?type=landlord&tri=nom\""), "sort links keep the filter");

    // Edition through the form: the search key follows the new name.
    let (status, body) = b.get_text(&format!("/bo/clients/{id}/modifier")).await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"02 51 00 00 01\""));
    let mut fields = new_client_fields("C006", "Océane Habitat", "");
    fields.retain(|(k, _)| *k != "phone");
    fields.push(("phone", "06 12 00 00 99"));
    let resp = b.submit(&format!("/bo/clients/{id}/modifier"), &format!("/bo/clients/{id}/modifier"), &fields).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/clients/{id}?msg=enregistre"));
    let (_, body) = b.get_text("/bo/clients?q=oceane").await;
    assert!(body.contains("Océane Habitat"));
    let (_, body) = b.get_text("/bo/clients?q=vendee").await;
    assert!(!body.contains("Océane Habitat"), "the old name no longer matches");
    let (_, body) = b.get_text(&format!("/bo/clients/{id}")).await;
    assert!(body.contains("06 12 00 00 99"));
    assert!(body.contains("nom, SIRET, téléphone"), "the history tells what changed");

    // Archive: gone from the active list, listed with archives=1, then restored.
    let resp =
        b.submit(&format!("/bo/clients/{id}"), &format!("/bo/clients/{id}/archiver"), &[("archiver", "1")]).await;
    assert_eq!(resp.status(), 303);
    let (_, body) = b.get_text("/bo/clients").await;
    assert!(!body.contains("Océane Habitat"));
    let (_, body) = b.get_text("/bo/clients?archives=1").await;
    assert!(body.contains("Océane Habitat") && !body.contains("Maisons Horizon Atlantique"));
    let (_, body) = b.get_text(&format!("/bo/clients/{id}")).await;
    assert!(body.contains("Ce client est archivé"));
    let resp =
        b.submit(&format!("/bo/clients/{id}"), &format!("/bo/clients/{id}/archiver"), &[("archiver", "0")]).await;
    assert_eq!(resp.status(), 303);
    let (_, body) = b.get_text("/bo/clients").await;
    assert!(body.contains("Océane Habitat"));

    // Every change is in the audit log, by the office user.
    let entries: Vec<(String, String)> = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT action, actor_label FROM audit_log WHERE entity = 'client' AND entity_id = $1 ORDER BY id"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap();
    let actions: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["create", "update", "archive", "unarchive"]);
    assert!(entries.iter().all(|(_, who)| who.contains("bureau@demo.test")));
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_code_is_refused_with_a_message_and_nothing_written() {
    let app = TestApp::spawn().await;
    let b = app.login("admin@demo.test").await;
    let before = count(&app.db, "SELECT COUNT(*) FROM clients").await;
    let audit_before = count(&app.db, "SELECT COUNT(*) FROM audit_log").await;
    let resp = b
        .submit("/bo/clients/nouveau", "/bo/clients/nouveau", &new_client_fields("c001", "Doublon Construction", ""))
        .await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Le code C001 est déjà utilisé"), "{body}");
    assert!(body.contains("value=\"Doublon Construction\""), "what was typed is kept");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clients").await, before);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_log").await, audit_before);

    // Renaming another client's code to an existing one is refused the same way.
    let c002 = demo_client(&app.db, "C002").await;
    let resp = b
        .submit(
            &format!("/bo/clients/{c002}/modifier"),
            &format!("/bo/clients/{c002}/modifier"),
            &[("code", "C001"), ("name", "Demeures de l'Estuaire"), ("kind", "builder")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Le code C001 est déjà utilisé"));
    assert_eq!(demo_client(&app.db, "C002").await, c002);
    app.stop().await;
}

#[tokio::test]
async fn invalid_identifiers_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let b = app.login("bureau@demo.test").await;
    let before = count(&app.db, "SELECT COUNT(*) FROM clients").await;
    let resp = b
        .submit("/bo/clients/nouveau", "/bo/clients/nouveau", &new_client_fields("", "Siret Faux", "73282932000075"))
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Ce SIRET n'est pas valide"), "{body}");
    assert!(
        body.contains("<div class=\"field field-error\">\n  <label for=\"f-siret\">"),
        "the message sits next to the field"
    );
    assert!(body.contains("value=\"73282932000075\""));

    let fields =
        [("name", ""), ("kind", "builder"), ("postcode", "440"), ("billing_email", "pas une adresse"), ("phone", "12")];
    let resp = b.submit("/bo/clients/nouveau", "/bo/clients/nouveau", &fields).await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    for msg in [
        "Le nom du client est obligatoire",
        "Le code postal doit comporter 5 chiffres",
        "« pas une adresse » n'est pas une adresse e-mail valide",
        "« 12 » n'est pas un numéro de téléphone valide",
    ] {
        assert!(body.contains(msg), "missing «{msg}»");
    }
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clients").await, before);
    app.stop().await;
}

#[tokio::test]
async fn contacts_are_added_edited_and_archived() {
    let app = TestApp::spawn().await;
    let b = app.login("bureau@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;
    let page = format!("/bo/clients/{c001}/contacts/nouveau");
    let resp = b
        .submit(
            &page,
            &page,
            &[
                ("civility", "Mme"),
                ("first_name", "Agnès"),
                ("last_name", "Kerbrat"),
                ("job_title", "Conductrice de travaux"),
                ("email", "A.Kerbrat@Maisons-Horizon.test"),
                ("email_alt", ""),
                ("phone", "02 40 12 34 00"),
                ("mobile", "06 11 22 33 44"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/clients/{c001}?msg=cree#contacts"));
    let (id, email, mobile): (i64, String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT id, email, mobile FROM contacts WHERE last_name = 'Kerbrat'")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(email, "a.kerbrat@maisons-horizon.test");
    assert_eq!(mobile, "+33611223344");
    let (_, body) = b.get_text(&format!("/bo/clients/{c001}")).await;
    assert!(body.contains("Mme Agnès Kerbrat") && body.contains("06 11 22 33 44"));

    // A missing last name and a wrong mobile are refused, nothing changes.
    let edit = format!("/bo/contacts/{id}/modifier");
    let resp = b.submit(&edit, &edit, &[("first_name", "Agnès"), ("last_name", ""), ("mobile", "0")]).await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Le nom du contact est obligatoire"));
    let resp = b
        .submit(
            &edit,
            &edit,
            &[
                ("civility", "Mme"),
                ("first_name", "Agnès"),
                ("last_name", "Kerbrat-Le Bihan"),
                ("mobile", "07 81 23 45 67"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let (last, mobile): (String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT last_name, mobile FROM contacts WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!((last.as_str(), mobile.as_str()), ("Kerbrat-Le Bihan", "+33781234567"));

    // The client user sees the contact on "Mon entreprise" until it is archived.
    let client = app.login("client@demo.test").await;
    assert!(client.get_text("/espace/entreprise").await.1.contains("Kerbrat-Le Bihan"));
    let resp = b.submit(&edit, &format!("/bo/contacts/{id}/archiver"), &[("archiver", "1")]).await;
    assert_eq!(resp.status(), 303);
    assert!(!client.get_text("/espace/entreprise").await.1.contains("Kerbrat-Le Bihan"));
    let (_, body) = b.get_text(&format!("/bo/clients/{c001}")).await;
    assert!(body.contains("Contacts archivés (1)"));
    let actions: Vec<String> = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity = 'contact' AND entity_id = $1 ORDER BY id"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(actions, ["create", "update", "archive"]);
    app.stop().await;
}

#[tokio::test]
async fn technicians_read_clients_but_cannot_change_them() {
    let app = TestApp::spawn().await;
    let t = app.login("technicien@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;
    let contact: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM contacts WHERE client_id = $1 ORDER BY id LIMIT 1")
            .bind(c001)
            .fetch_one(p)
            .await)
        .unwrap();
    let (status, body) = t.get_text("/bo/clients").await;
    assert_eq!(status, 200);
    assert!(body.contains("Maisons Horizon Atlantique"));
    assert!(!body.contains("Nouveau client"));
    let (status, body) = t.get_text(&format!("/bo/clients/{c001}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Claire Moreau") && !body.contains("/modifier\""));
    let before = count(&app.db, "SELECT COUNT(*) + MAX(updated_at) FROM clients").await;
    let contacts_before = count(&app.db, "SELECT COUNT(*) + MAX(updated_at) FROM contacts").await;
    for path in [
        "/bo/clients/nouveau".to_string(),
        format!("/bo/clients/{c001}/modifier"),
        format!("/bo/clients/{c001}/contacts/nouveau"),
        format!("/bo/contacts/{contact}/modifier"),
    ] {
        assert_eq!(t.get(&path).await.status(), 403, "GET {path}");
    }
    let fields = [
        ("code", "T001"),
        ("name", "Par un technicien"),
        ("kind", "builder"),
        ("last_name", "Tech"),
        ("archiver", "1"),
    ];
    for path in [
        "/bo/clients/nouveau".to_string(),
        format!("/bo/clients/{c001}/modifier"),
        format!("/bo/clients/{c001}/archiver"),
        format!("/bo/clients/{c001}/contacts/nouveau"),
        format!("/bo/contacts/{contact}/modifier"),
        format!("/bo/contacts/{contact}/archiver"),
    ] {
        assert_eq!(t.submit("/bo/clients", &path, &fields).await.status(), 403, "POST {path}");
    }
    assert_eq!(count(&app.db, "SELECT COUNT(*) + MAX(updated_at) FROM clients").await, before);
    assert_eq!(count(&app.db, "SELECT COUNT(*) + MAX(updated_at) FROM contacts").await, contacts_before);
    // Client users have no back office at all.
    assert_eq!(app.login("client@demo.test").await.get("/bo/clients").await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn another_firms_ids_answer_404_on_every_route() {
    let app = TestApp::spawn().await;
    let other = other_firm(&app.db).await;
    let before = other_firm_state(&app.db, &other).await;
    let (client, contact, user) = (other.client, other.contact, other.user);
    for who in ["admin@demo.test", "bureau@demo.test"] {
        let b = app.login(who).await;
        let gets = [
            format!("/bo/clients/{client}"),
            format!("/bo/clients/{client}/modifier"),
            format!("/bo/clients/{client}/contacts/nouveau"),
            format!("/bo/contacts/{contact}/modifier"),
            format!("/bo/utilisateurs/{user}/modifier"),
            format!("/bo/utilisateurs/{}/modifier", other.admin),
            format!("/bo/utilisateurs/nouveau?client={client}"),
            format!("/bo/utilisateurs/nouveau?contact={contact}"),
        ];
        for path in &gets {
            let (status, body) = b.get_text(path).await;
            assert_eq!(status, 404, "{who} GET {path}");
            assert!(!body.contains("Client Secret Ailleurs") && !body.contains("Confidentiel"));
        }
        let fields = [
            ("code", "C001"),
            ("name", "Piraté"),
            ("kind", "builder"),
            ("last_name", "Piraté"),
            ("archiver", "1"),
            ("full_name", "Pirate"),
            ("email", "pirate@demo.test"),
            ("role", "client_user"),
            ("active", "1"),
        ];
        let posts = [
            format!("/bo/clients/{client}/modifier"),
            format!("/bo/clients/{client}/archiver"),
            format!("/bo/clients/{client}/contacts/nouveau"),
            format!("/bo/contacts/{contact}/modifier"),
            format!("/bo/contacts/{contact}/archiver"),
            format!("/bo/utilisateurs/{user}/modifier"),
            format!("/bo/utilisateurs/{user}/mot-de-passe-temporaire"),
        ];
        for path in &posts {
            assert_eq!(b.submit("/bo/clients", path, &fields).await.status(), 404, "{who} POST {path}");
        }
        // A forged client or contact in the new-access form.
        let client_s = client.to_string();
        let contact_s = contact.to_string();
        let c001 = demo_client(&app.db, "C001").await.to_string();
        for form in [
            vec![
                ("client_id", client_s.as_str()),
                ("role", "client_user"),
                ("full_name", "Pirate"),
                ("email", "pirate@demo.test"),
            ],
            vec![
                ("client_id", c001.as_str()),
                ("contact_id", contact_s.as_str()),
                ("role", "client_user"),
                ("full_name", "Pirate"),
                ("email", "pirate@demo.test"),
            ],
        ] {
            assert_eq!(
                b.submit("/bo/clients", "/bo/utilisateurs/nouveau", &form).await.status(),
                404,
                "{who} {form:?}"
            );
        }
        // Listings never show the other firm's rows, even for a matching search.
        let (_, body) = b.get_text("/bo/clients?q=c001").await;
        assert!(!body.contains("Client Secret Ailleurs"));
        let (_, body) = b.get_text("/bo/utilisateurs?q=gaspard").await;
        assert!(!body.contains("gaspard@ailleurs.test"));
    }
    assert_eq!(other_firm_state(&app.db, &other).await, before, "nothing of the other firm changed");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM users WHERE email = 'pirate@demo.test'").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_listing_is_paginated_and_exported_with_its_criteria() {
    let app = TestApp::spawn().await;
    let tenant: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'").fetch_one(p).await)
            .unwrap();
    for i in 0..60 {
        let code = format!("P{i:03}");
        let name = format!("Copropriété du Parc {i:03}");
        exec_db!(&app.db, |p| sqlx::query(
            "INSERT INTO clients (tenant_id, code, name, kind, city, search_key, created_at, updated_at)
             VALUES ($1, $2, $3, 'syndic', 'Angers', $4, 0, 0)"
        )
        .bind(tenant)
        .bind(&code)
        .bind(&name)
        .bind(ouvrage::domain::text::search_key(&[&code, &name, "Angers"]))
        .execute(p)
        .await)
        .unwrap();
    }
    let b = app.login("bureau@demo.test").await;
    let body = unescape(&b.get_text("/bo/clients?q=parc&tri=nom").await.1);
    assert!(body.contains("60 clients — 1 à 50"), "{body}");
    assert!(body.contains("Copropriété du Parc 049") && !body.contains("Copropriété du Parc 050"));
    assert!(body.contains("href=\"/bo/clients?q=parc&tri=nom&page=2\""), "the next page keeps the criteria");
    let (_, body) = b.get_text("/bo/clients?q=parc&tri=nom&page=2").await;
    assert!(body.contains("51 à 60") && body.contains("Copropriété du Parc 059"));
    assert!(!body.contains("Copropriété du Parc 049"));
    // Descending order.
    let (_, body) = b.get_text("/bo/clients?q=parc&tri=nom&sens=desc").await;
    assert!(body.find("Parc 059").unwrap() < body.find("Parc 058").unwrap());

    let resp = b.get("/bo/clients/export.csv?type=syndic").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}Code;Nom;Type"));
    assert_eq!(csv.lines().count(), 1 + 61, "60 syndics plus C004");
    assert!(csv.contains("C004;Cabinet Syndic des Trois Rivières;Syndic"));
    assert!(!csv.contains("Maisons Horizon"));
    app.stop().await;
}

#[tokio::test]
async fn mon_entreprise_shows_the_users_own_company_only() {
    let app = TestApp::spawn().await;
    let _other = other_firm(&app.db).await;
    let b = app.login("client@demo.test").await;
    let (status, body) = b.get_text("/espace/entreprise").await;
    assert_eq!(status, 200);
    assert!(body.contains("Maisons Horizon Atlantique") && body.contains("C001"));
    assert!(body.contains("732 829 320 00074") && body.contains("02 40 12 34 56"));
    assert!(body.contains("Claire Moreau") && body.contains("Sophie Garnier"));
    for foreign in
        ["C002", "Demeures de l", "Thomas Bernard", "factures@demeures-estuaire.test", "Client Secret Ailleurs"]
    {
        assert!(!body.contains(foreign), "shows «{foreign}»");
    }
    let (status, body) = app.login("autre.client@demo.test").await.get_text("/espace/entreprise").await;
    assert_eq!(status, 200);
    assert!(body.contains("C002") && !body.contains("Maisons Horizon Atlantique"));
    // Staff have the back office instead.
    assert_eq!(app.login("bureau@demo.test").await.get("/espace/entreprise").await.status(), 403);
    app.stop().await;
}
