//! Sites: chantiers, résidences, logements and locaux in the back office and in the
//! extranet's "Mes chantiers": forms, validation, search, sort, pagination, and who may see
//! and change what.

use ouvrage::db::Db;
use ouvrage::domain::{ClientId, TenantId};
use ouvrage::features::sites::model::{Phase, SiteData, SiteKind, SiteStatus};
use ouvrage::features::sites::store;
use ouvrage::{exec_db, on_db};

use crate::clients::{demo_client, unescape};
use crate::support::*;

/// The marker that only a page showing results carries.
const RESULTS: &str = "id=\"chantiers-resultats\"";

async fn scalar_i64(db: &Db, sql: &'static str, bind: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).bind(bind).fetch_one(p).await).unwrap()
}

async fn contact_id(db: &Db, email: &str) -> i64 {
    scalar_i64(db, "SELECT id FROM contacts WHERE email = $1", email).await
}

async fn site_count(db: &Db) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sites").fetch_one(p).await).unwrap()
}

async fn audit_count(db: &Db) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE entity = 'site'")
        .fetch_one(p)
        .await)
    .unwrap()
}

async fn audit_summaries(db: &Db, site: i64) -> Vec<String> {
    on_db!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT summary FROM audit_log WHERE entity = 'site' AND entity_id = $1 ORDER BY id"
    )
    .bind(site)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// The stored fields of a site that the tests look at.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct Stored {
    client_id: i64,
    kind: String,
    name: String,
    postcode: String,
    city_code: String,
    site_manager_contact_id: Option<i64>,
    status: String,
    phase: String,
    expected_date: Option<String>,
    actual_date: Option<String>,
    archived: bool,
    updated_at: i64,
}

async fn stored(db: &Db, id: i64) -> Stored {
    on_db!(db, |p| sqlx::query_as::<_, Stored>(
        "SELECT client_id, kind, name, postcode, city_code, site_manager_contact_id, status, phase, expected_date,
                actual_date, archived, updated_at FROM sites WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// The id in a `…/chantiers/{id}?msg=…` redirect.
fn redirected_id(resp: &reqwest::Response, base: &str) -> i64 {
    let loc = location(resp);
    let rest = loc.strip_prefix(&format!("{base}/")).unwrap_or_else(|| panic!("unexpected redirect {loc}"));
    rest.split('?').next().unwrap().parse().unwrap()
}

/// The names in the results table, in order.
fn result_names(body: &str) -> Vec<String> {
    let Some(start) = body.find(RESULTS) else {
        return Vec::new();
    };
    let table = &body[start..start + body[start..].find("</table>").unwrap()];
    let tbody = &table[table.find("<tbody>").unwrap()..];
    tbody
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let a = row.find("<a href=").unwrap();
            let text = a + row[a..].find('>').unwrap() + 1;
            let end = text + row[text..].find("</a>").unwrap();
            unescape(&row[text..end])
        })
        .collect()
}

fn fields<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut base = vec![
        ("kind", "construction"),
        ("parent_id", ""),
        ("name", "Maison Témoin Kervégan"),
        ("street_number", "12"),
        ("street", "rue des Invalides"),
        ("postcode", "44300"),
        ("city_code", "44109"),
        ("city", "Nantes"),
        ("site_manager_id", ""),
        ("operation_type", "individual"),
        ("phase", "works"),
        ("status", "to_schedule"),
        ("expected_date", ""),
        ("actual_date", ""),
        ("permit_number", "PC 044 109 25 A0042"),
        ("owner_name", "M. et Mme Kervégan"),
        ("dwellings", "1"),
        ("notes", "Portail vert."),
    ];
    for (k, v) in extra {
        if let Some(f) = base.iter_mut().find(|(bk, _)| bk == k) {
            f.1 = v;
        } else {
            base.push((k, v));
        }
    }
    base
}

#[tokio::test]
async fn office_creates_edits_and_archives_a_site_in_the_back_office() {
    let app = TestApp::spawn().await;
    let b = app.login("bureau@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await.to_string();
    let garnier = contact_id(&app.db, "s.garnier@maisons-horizon.test").await.to_string();

    // First the client, then the form with that client's contacts.
    let (status, body) = b.get_text("/bo/chantiers/nouveau").await;
    assert_eq!(status, 200);
    assert!(body.contains("Pour quel client"));
    let form_page = format!("/bo/chantiers/nouveau?client={c001}");
    let (status, body) = b.get_text(&form_page).await;
    assert_eq!(status, 200);
    assert!(body.contains("Sophie Garnier") && !body.contains("Thomas Bernard"), "only C001's contacts");

    let resp = b
        .submit(
            &form_page,
            "/bo/chantiers/nouveau",
            &fields(&[
                ("client_id", c001.as_str()),
                ("site_manager_id", garnier.as_str()),
                ("status", "scheduled"),
                ("expected_date", "2031-05-12"),
            ]),
        )
        .await;
    assert_eq!(resp.status(), 303);
    let id = redirected_id(&resp, "/bo/chantiers");
    let (status, body) = b.get_text(&format!("/bo/chantiers/{id}?msg=cree")).await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    for shown in [
        "Maison Témoin Kervégan",
        "12 rue des Invalides",
        "44300 Nantes",
        "44109",
        "12/05/2031",
        "Planifié",
        "Sophie Garnier",
        "06 34 56 78 90",
        "s.garnier@maisons-horizon.test",
        "PC 044 109 25 A0042",
        "M. et Mme Kervégan",
        "Individuel",
    ] {
        assert!(body.contains(shown), "detail shows {shown}");
    }
    let s = stored(&app.db, id).await;
    assert_eq!(s.client_id.to_string(), c001);
    assert_eq!(s.expected_date.as_deref(), Some("2031-05-12"));
    assert!(audit_summaries(&app.db, id).await[0].contains("Création du site « Maison Témoin Kervégan »"));

    // Edit through the form: the intervention took place.
    let edit = format!("/bo/chantiers/{id}/modifier");
    let (status, body) = b.get_text(&edit).await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"2031-05-12\""), "the stored date is in the form");
    let resp = b
        .submit(
            &edit,
            &edit,
            &fields(&[
                ("site_manager_id", garnier.as_str()),
                ("status", "done"),
                ("phase", "handover"),
                ("expected_date", "2031-05-12"),
                ("actual_date", "15/05/2031"),
            ]),
        )
        .await;
    assert_eq!(resp.status(), 303);
    let s = stored(&app.db, id).await;
    assert_eq!((s.status.as_str(), s.phase.as_str()), ("done", "handover"));
    assert_eq!(s.actual_date.as_deref(), Some("2031-05-15"));
    let (_, body) = b.get_text(&format!("/bo/chantiers/{id}")).await;
    assert!(body.contains("15/05/2031") && body.contains("Réalisé") && body.contains("Réception"));
    let history = audit_summaries(&app.db, id).await;
    assert!(history[1].contains("Modification du site") && history[1].contains("statut"), "{history:?}");

    // Archive: gone from the current list, found among the archived, then restored.
    let listed = |body: &str| result_names(body).iter().any(|n| n == "Maison Témoin Kervégan");
    let (_, body) = b.get_text("/bo/chantiers?q=kervegan").await;
    assert!(listed(&body));
    let resp =
        b.submit(&format!("/bo/chantiers/{id}"), &format!("/bo/chantiers/{id}/archiver"), &[("archiver", "1")]).await;
    assert_eq!(resp.status(), 303);
    assert!(stored(&app.db, id).await.archived);
    let (_, body) = b.get_text("/bo/chantiers?q=kervegan").await;
    assert!(!listed(&body));
    let (_, body) = b.get_text("/bo/chantiers?q=kervegan&archives=1").await;
    assert!(listed(&body));
    let resp =
        b.submit(&format!("/bo/chantiers/{id}"), &format!("/bo/chantiers/{id}/archiver"), &[("archiver", "0")]).await;
    assert_eq!(resp.status(), 303);
    assert!(!stored(&app.db, id).await.archived);
    let history = audit_summaries(&app.db, id).await;
    assert!(history[2].starts_with("Archivage") && history[3].starts_with("Réactivation"), "{history:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_client_user_creates_and_edits_a_chantier_in_mes_chantiers() {
    let app = TestApp::spawn().await;
    let b = app.login("client@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;
    let c002 = demo_client(&app.db, "C002").await.to_string();
    let lefevre = contact_id(&app.db, "client@demo.test").await.to_string();

    let (status, body) = b.get_text("/espace/chantiers/nouveau").await;
    assert_eq!(status, 200);
    assert!(body.contains("Créer un chantier"));
    assert!(!body.contains("name=\"status\""), "the status is the firm's to set");
    assert!(body.contains("Julien Lefèvre") && !body.contains("Thomas Bernard"));

    // A forged client, status and actual date are ignored: the site is the user's company's,
    // to be scheduled by the firm.
    let resp = b
        .submit(
            "/espace/chantiers/nouveau",
            "/espace/chantiers/nouveau",
            &fields(&[
                ("client_id", c002.as_str()),
                ("site_manager_id", lefevre.as_str()),
                ("status", "done"),
                ("actual_date", "2030-01-01"),
                ("expected_date", "22/11/2030"),
            ]),
        )
        .await;
    assert_eq!(resp.status(), 303);
    let id = redirected_id(&resp, "/espace/chantiers");
    let s = stored(&app.db, id).await;
    assert_eq!(s.client_id, c001);
    assert_eq!((s.status.as_str(), s.actual_date.clone()), ("to_schedule", None));
    assert_eq!(s.expected_date.as_deref(), Some("2030-11-22"));
    let (status, body) = b.get_text(&format!("/espace/chantiers/{id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("22/11/2030") && body.contains("À planifier") && body.contains("Julien Lefèvre"));
    assert!(!body.contains("Historique"), "the firm's history stays in the back office");

    // Edit through the form; the status shown is kept whatever is posted.
    let edit = format!("/espace/chantiers/{id}/modifier");
    let resp = b
        .submit(
            &edit,
            &edit,
            &fields(&[
                ("name", "Maison Témoin — lot 7"),
                ("site_manager_id", lefevre.as_str()),
                ("status", "cancelled"),
                ("expected_date", "2030-12-01"),
            ]),
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/espace/chantiers/{id}?msg=enregistre"));
    let s = stored(&app.db, id).await;
    assert_eq!(s.name, "Maison Témoin — lot 7");
    assert_eq!(s.status, "to_schedule");
    assert_eq!(s.expected_date.as_deref(), Some("2030-12-01"));
    let history = audit_summaries(&app.db, id).await;
    assert_eq!(history.len(), 2);
    assert!(history[1].contains("nom") && history[1].contains("date prévue"), "{history:?}");

    // It shows in Mes chantiers; the client user may not archive (back office only).
    let (_, body) = b.get_text("/espace/chantiers?q=temoin").await;
    assert_eq!(result_names(&body), vec!["Maison Témoin — lot 7".to_string()]);
    let token = b.csrf("/espace/chantiers").await;
    let resp = b
        .http
        .post(b.url(&format!("/bo/chantiers/{id}/archiver")))
        .form(&[("_csrf", token.as_str()), ("archiver", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(!stored(&app.db, id).await.archived);
    app.stop().await;
}

#[tokio::test]
async fn invalid_forms_answer_422_with_french_messages_and_write_nothing() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await.to_string();
    let c002_contact = contact_id(&app.db, "autre.client@demo.test").await.to_string();
    let c003 = demo_client(&app.db, "C003").await;
    let c003_residence = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM sites WHERE client_id = $1 AND kind = 'residence' ORDER BY id LIMIT 1"
    )
    .bind(c003)
    .fetch_one(p)
    .await)
    .unwrap()
    .to_string();
    let sites_before = site_count(&app.db).await;
    let audit_before = audit_count(&app.db).await;
    let page = format!("/bo/chantiers/nouveau?client={c001}");

    let resp = office
        .submit(
            &page,
            "/bo/chantiers/nouveau",
            &fields(&[
                ("client_id", c001.as_str()),
                ("name", ""),
                ("postcode", "4430"),
                ("city_code", "ABCDE"),
                ("expected_date", "31/02/2026"),
                ("site_manager_id", c002_contact.as_str()),
                ("dwellings", "beaucoup"),
            ]),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    for message in [
        "Le nom du chantier est obligatoire.",
        "Le code postal doit comporter 5 chiffres.",
        "Le code INSEE de la commune comporte 5 caractères",
        "« 31/02/2026 » n'est pas une date valide",
        "Le nombre de logements est un nombre entier positif.",
    ] {
        assert!(body.contains(message), "message {message}");
    }
    assert!(body.contains("value=\"rue des Invalides\"") && body.contains("value=\"4430\""), "typed values kept");

    // References are checked against the site's client: a manager of another client, a
    // residence of another client, a dwelling without its residence.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("site_manager_id", c002_contact.as_str())],
            "Choisissez un conducteur de travaux parmi les contacts de ce client.",
        ),
        (vec![("kind", "dwelling"), ("parent_id", c003_residence.as_str())], "Choisissez la résidence de ce client"),
        (vec![("kind", "dwelling")], "Un logement appartient à une résidence"),
        (vec![("status", "scheduled")], "Un chantier planifié a une date d'intervention prévue"),
        (
            vec![("status", "done"), ("expected_date", "2026-01-10")],
            "Un chantier réalisé a une date d'intervention réelle",
        ),
        (vec![("kind", "spaceship")], "Choisissez le type de site"),
    ];
    for (extra, message) in cases {
        let mut all = vec![("client_id", c001.as_str())];
        all.extend(extra);
        let resp = office.submit(&page, "/bo/chantiers/nouveau", &fields(&all)).await;
        assert_eq!(resp.status(), 422, "{message}");
        assert!(unescape(&resp.text().await.unwrap()).contains(message), "{message}");
    }

    // The extranet checks the same way.
    let client = app.login("client@demo.test").await;
    let resp = client
        .submit(
            "/espace/chantiers/nouveau",
            "/espace/chantiers/nouveau",
            &fields(&[("site_manager_id", c002_contact.as_str()), ("expected_date", "demain")]),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Choisissez un conducteur de travaux parmi les contacts de ce client."));
    assert!(body.contains("« demain » n'est pas une date valide"));

    // An edit that fails changes nothing.
    let own = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM sites WHERE client_id = $1 AND kind = 'construction' ORDER BY id LIMIT 1"
    )
    .bind(demo_client(&app.db, "C001").await)
    .fetch_one(p)
    .await)
    .unwrap();
    let before = stored(&app.db, own).await;
    let edit = format!("/espace/chantiers/{own}/modifier");
    let resp = client.submit(&edit, &edit, &fields(&[("name", "Nouveau nom"), ("postcode", "ABCDE")])).await;
    assert_eq!(resp.status(), 422);
    let edit = format!("/bo/chantiers/{own}/modifier");
    let resp =
        office.submit(&edit, &edit, &fields(&[("kind", "dwelling"), ("parent_id", c003_residence.as_str())])).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(stored(&app.db, own).await, before);
    assert_eq!(site_count(&app.db).await, sites_before);
    assert_eq!(audit_count(&app.db).await, audit_before);
    app.stop().await;
}

/// A client of its own with a user, two site managers and sites with known values.
struct Fixture {
    manager_a: i64,
    manager_b: i64,
}

fn site(name: &str, postcode: &str, city: &str) -> SiteData {
    SiteData {
        kind: SiteKind::Construction,
        parent_id: None,
        name: name.into(),
        street_number: "1".into(),
        street: "rue de la Paix".into(),
        postcode: postcode.into(),
        city_code: String::new(),
        city: city.into(),
        site_manager_id: None,
        operation_type: String::new(),
        phase: Phase::Works,
        status: SiteStatus::ToSchedule,
        expected_date: None,
        actual_date: None,
        permit_number: String::new(),
        owner_name: String::new(),
        dwellings: None,
        notes: String::new(),
    }
}

async fn search_fixture(app: &TestApp) -> Fixture {
    let db = &app.db;
    let tenant = scalar_i64(db, "SELECT id FROM tenants WHERE slug = $1", "demo").await;
    let client = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO clients (tenant_id, code, name, kind, search_key, created_at, updated_at)
         VALUES ($1, 'C090', 'Constructions Recherche', 'builder', 'c090 constructions recherche', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
    .unwrap();
    let mut managers = Vec::new();
    for (first, last) in [("Arnaud", "Aubert"), ("Bruno", "Zidane")] {
        managers.push(
            on_db!(db, |p| sqlx::query_scalar::<_, i64>(
                "INSERT INTO contacts (tenant_id, client_id, first_name, last_name, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 0, 0) RETURNING id"
            )
            .bind(tenant)
            .bind(client)
            .bind(first)
            .bind(last)
            .fetch_one(p)
            .await)
            .unwrap(),
        );
    }
    let hash = on_db!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT password_hash FROM users WHERE email = 'client@demo.test'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO users (tenant_id, client_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, $2, 'recherche@demo.test', 'Rita Recherche', 'client_user', $3, 0, 0)"
    )
    .bind(tenant)
    .bind(client)
    .bind(&hash)
    .execute(p)
    .await)
    .unwrap();
    let (a, b) = (managers[0], managers[1]);
    let mut sites = Vec::new();
    let mut s = site("Alpha Résidence", "44300", "Nantes");
    (s.site_manager_id, s.expected_date, s.status) = (Some(a), Some("2030-01-10".into()), SiteStatus::Scheduled);
    sites.push(s);
    let mut s = site("Bravo", "44800", "Saint-Herblain");
    (s.site_manager_id, s.phase, s.status) = (Some(b), Phase::Handover, SiteStatus::Done);
    (s.expected_date, s.actual_date) = (Some("2030-02-01".into()), Some("2030-02-15".into()));
    sites.push(s);
    let mut s = site("Charlie", "85000", "La Roche-sur-Yon");
    s.expected_date = Some("2030-03-20".into());
    sites.push(s);
    let mut s = site("Delta", "49100", "Angers");
    (s.site_manager_id, s.phase, s.status) = (Some(a), Phase::Handover, SiteStatus::Cancelled);
    sites.push(s);
    let mut s = site("Écho", "44000", "Nantes");
    (s.site_manager_id, s.status) = (Some(b), SiteStatus::Done);
    (s.expected_date, s.actual_date) = (Some("2029-12-31".into()), Some("2030-01-05".into()));
    sites.push(s);
    for n in 1..=55 {
        let mut s = site(&format!("Lot {n:02}"), "72000", "Le Mans");
        s.kind = SiteKind::Premises;
        s.expected_date = Some(format!("2031-06-{:02}", n % 28 + 1));
        sites.push(s);
    }
    let mut tx = db.begin().await.unwrap();
    for s in &sites {
        store::insert(&mut tx, TenantId(tenant), ClientId(client), None, s).await.unwrap();
    }
    let archived =
        store::insert(&mut tx, TenantId(tenant), ClientId(client), None, &site("Foxtrot", "44100", "Nantes"))
            .await
            .unwrap();
    tx.commit().await.unwrap();
    exec_db!(db, |p| sqlx::query("UPDATE sites SET archived = TRUE WHERE id = $1").bind(archived).execute(p).await)
        .unwrap();
    Fixture { manager_a: a, manager_b: b }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn mes_chantiers_searches_by_every_criterion_and_sorts_by_every_column() {
    let app = TestApp::spawn().await;
    let fx = search_fixture(&app).await;
    let b = app.login("recherche@demo.test").await;
    let found = async |query: &str| {
        let (status, body) = b.get_text(&format!("/espace/chantiers?{query}")).await;
        assert_eq!(status, 200, "{query}");
        result_names(&body)
    };
    // Criteria, one at a time (the default order is by name, accents folded).
    let named = "type=construction";
    assert_eq!(found(named).await, names(&["Alpha Résidence", "Bravo", "Charlie", "Delta", "Écho"]));
    assert_eq!(found("q=ECHO").await, names(&["Écho"]));
    assert_eq!(found("q=residence+alpha").await, names(&["Alpha Résidence"]), "every word must match");
    assert_eq!(found("cp=44").await, names(&["Alpha Résidence", "Bravo", "Écho"]), "a department finds its postcodes");
    assert_eq!(found("cp=443").await, names(&["Alpha Résidence"]));
    assert_eq!(found("cp=44800").await, names(&["Bravo"]));
    assert_eq!(found("ville=herblain").await, names(&["Bravo"]));
    assert_eq!(found(&format!("conducteur={}", fx.manager_a)).await, names(&["Alpha Résidence", "Delta"]));
    assert_eq!(found(&format!("conducteur={}", fx.manager_b)).await, names(&["Bravo", "Écho"]));
    // A date range matches the expected or the actual intervention date.
    assert_eq!(found("du=2030-01-01&au=2030-01-31").await, names(&["Alpha Résidence", "Écho"]));
    assert_eq!(found("du=01/02/2030&au=14/02/2030").await, names(&["Bravo"]), "expected date in range");
    assert_eq!(found(&format!("{named}&du=2030-02-10")).await, names(&["Bravo", "Charlie"]), "open-ended range");
    assert_eq!(found(&format!("{named}&au=2030-01-07")).await, names(&["Écho"]));
    assert_eq!(found("phase=handover").await, names(&["Bravo", "Delta"]));
    assert_eq!(found("statut=done").await, names(&["Bravo", "Écho"]));
    assert_eq!(found("statut=cancelled").await, names(&["Delta"]));
    assert_eq!(found("archives=1").await, names(&["Foxtrot"]));
    assert_eq!(found("cp=44&statut=done&ville=nantes").await, names(&["Écho"]), "criteria combine");

    // Every column sorts, both ways; sites without a manager or a date come last.
    let sorted = [
        ("nom", vec!["Alpha Résidence", "Bravo", "Charlie", "Delta", "Écho"]),
        ("cp", vec!["Écho", "Alpha Résidence", "Bravo", "Delta", "Charlie"]),
        ("ville", vec!["Delta", "Charlie", "Alpha Résidence", "Écho", "Bravo"]),
        ("conducteur", vec!["Alpha Résidence", "Delta", "Bravo", "Écho", "Charlie"]),
        ("date", vec!["Écho", "Alpha Résidence", "Bravo", "Charlie", "Delta"]),
        ("phase", vec!["Alpha Résidence", "Charlie", "Écho", "Bravo", "Delta"]),
        ("statut", vec!["Charlie", "Alpha Résidence", "Bravo", "Écho", "Delta"]),
    ];
    for (key, order) in sorted {
        assert_eq!(found(&format!("{named}&tri={key}")).await, names(&order), "tri={key}");
    }
    assert_eq!(
        found(&format!("{named}&tri=cp&sens=desc")).await,
        names(&["Charlie", "Delta", "Bravo", "Alpha Résidence", "Écho"])
    );
    assert_eq!(
        found(&format!("{named}&tri=date&sens=desc")).await,
        names(&["Charlie", "Bravo", "Alpha Résidence", "Écho", "Delta"])
    );
    assert_eq!(
        found(&format!("{named}&tri=conducteur&sens=desc")).await,
        names(&["Écho", "Bravo", "Delta", "Alpha Résidence", "Charlie"])
    );

    // Dates read the French way; wrong criteria are explained (422) and no results shown.
    let (_, body) = b.get_text("/espace/chantiers?q=bravo").await;
    assert!(body.contains("15/02/2030"));
    for (query, message) in [
        ("cp=44A", "Le code postal recherché s'écrit avec 1 à 5 chiffres"),
        ("du=2030-02-01&au=2030-01-01", "La date de fin de la période précède sa date de début."),
        ("du=hier", "« hier » n'est pas une date valide"),
    ] {
        let (status, body) = b.get_text(&format!("/espace/chantiers?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert!(unescape(&body).contains(message), "{query}");
        assert!(!body.contains(RESULTS), "{query}");
    }
    app.stop().await;
}

#[tokio::test]
async fn pagination_and_sort_links_keep_the_criteria() {
    let app = TestApp::spawn().await;
    search_fixture(&app).await;
    let b = app.login("recherche@demo.test").await;
    let (status, body) = b.get_text("/espace/chantiers?cp=72&type=premises&tri=nom&sens=desc").await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    assert!(body.contains("55 chantiers — 1 à 50"));
    let first = result_names(&body);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "Lot 55");
    let next = "/espace/chantiers?cp=72&type=premises&sens=desc&page=2";
    assert!(body.contains(&format!("href=\"{next}\" rel=\"next\"")), "the next page keeps the criteria");
    // The column headers keep the criteria too, and switch the direction of the current sort.
    assert!(body.contains("href=\"/espace/chantiers?cp=72&type=premises&tri=cp\""));
    assert!(body.contains("href=\"/espace/chantiers?cp=72&type=premises\""), "name ascending again");
    assert!(body.contains("<input type=\"hidden\" name=\"sens\" value=\"desc\">"), "a new search keeps the sort");

    let (_, body) = b.get_text(next).await;
    let body = unescape(&body);
    assert!(body.contains("Page 2 sur 2"));
    assert_eq!(result_names(&body), names(&["Lot 05", "Lot 04", "Lot 03", "Lot 02", "Lot 01"]));
    assert!(body.contains("href=\"/espace/chantiers?cp=72&type=premises&sens=desc\" rel=\"prev\""));
    // Past the last page: the last page.
    let (_, body) = b.get_text("/espace/chantiers?cp=72&type=premises&page=9").await;
    assert!(body.contains("Page 2 sur 2"));
    app.stop().await;
}

#[tokio::test]
async fn client_users_and_other_firms_never_reach_sites_that_are_not_theirs() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let tenant = scalar_i64(db, "SELECT id FROM tenants WHERE slug = $1", "demo").await;
    let c002 = demo_client(db, "C002").await;
    // A site of C002 with a name nobody else may see.
    let mut tx = db.begin().await.unwrap();
    let mut secret = site("Chantier Secret Estuaire", "44800", "Saint-Herblain");
    secret.site_manager_id = Some(contact_id(db, "autre.client@demo.test").await);
    let secret_id = store::insert(&mut tx, TenantId(tenant), ClientId(c002), None, &secret).await.unwrap().0;
    tx.commit().await.unwrap();
    let before = stored(db, secret_id).await;

    // A client user of C001: the C002 site does not exist for them.
    let c001_user = app.login("client@demo.test").await;
    for path in [format!("/espace/chantiers/{secret_id}"), format!("/espace/chantiers/{secret_id}/modifier")] {
        let (status, body) = c001_user.get_text(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("Secret"));
    }
    let edit = format!("/espace/chantiers/{secret_id}/modifier");
    let resp = c001_user.submit("/espace/chantiers", &edit, &fields(&[("name", "Piraté")])).await;
    assert_eq!(resp.status(), 404);
    let bravo_contact = contact_id(db, "autre.client@demo.test").await;
    for query in ["q=secret", "cp=44800", &format!("conducteur={bravo_contact}"), "client=1", "archives=1"] {
        let (status, body) = c001_user.get_text(&format!("/espace/chantiers?{query}")).await;
        assert_eq!(status, 200);
        assert!(!body.contains("Secret Estuaire") && !body.contains("Thomas Bernard"), "{query}");
    }
    assert_eq!(c001_user.get("/bo/chantiers").await.status(), 403);
    assert_eq!(c001_user.get(&format!("/bo/chantiers/{secret_id}")).await.status(), 403);
    // The C002 user sees it.
    let c002_user = app.login("autre.client@demo.test").await;
    let (status, body) = c002_user.get_text(&format!("/espace/chantiers/{secret_id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Chantier Secret Estuaire"));
    // Staff do not use the extranet pages.
    let office = app.login("bureau@demo.test").await;
    assert_eq!(office.get(&format!("/espace/chantiers/{secret_id}")).await.status(), 403);

    // Another firm, with its own admin, client, contact and residence.
    let hash = on_db!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT password_hash FROM users WHERE email = 'admin@demo.test'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let beta = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('beta', 'Bêta Diagnostics', 0) RETURNING id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let beta_client = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO clients (tenant_id, code, name, kind, created_at, updated_at)
         VALUES ($1, 'C001', 'Client Bêta', 'builder', 0, 0) RETURNING id"
    )
    .bind(beta)
    .fetch_one(p)
    .await)
    .unwrap();
    let beta_contact = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO contacts (tenant_id, client_id, first_name, last_name, created_at, updated_at)
         VALUES ($1, $2, 'Bérénice', 'Bêta', 0, 0) RETURNING id"
    )
    .bind(beta)
    .bind(beta_client)
    .fetch_one(p)
    .await)
    .unwrap();
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO users (tenant_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, 'admin@beta.test', 'Admin Bêta', 'admin', $2, 0, 0)"
    )
    .bind(beta)
    .bind(&hash)
    .execute(p)
    .await)
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    let mut residence = site("Résidence Bêta Confidentielle", "75011", "Paris");
    residence.kind = SiteKind::Residence;
    let beta_site = store::insert(&mut tx, TenantId(beta), ClientId(beta_client), None, &residence).await.unwrap().0;
    tx.commit().await.unwrap();

    let beta_admin = app.login("admin@beta.test").await;
    for path in [
        format!("/bo/chantiers/{secret_id}"),
        format!("/bo/chantiers/{secret_id}/modifier"),
        format!("/bo/chantiers/nouveau?client={c002}"),
    ] {
        let (status, body) = beta_admin.get_text(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("Secret") && !body.contains("Demeures"), "{path}");
    }
    let (_, body) = beta_admin.get_text("/bo/chantiers").await;
    assert_eq!(result_names(&body), names(&["Résidence Bêta Confidentielle"]), "only the firm's own sites");
    let (_, body) = beta_admin.get_text(&format!("/bo/chantiers?client={c002}")).await;
    assert!(result_names(&body).is_empty());
    let sites_before = site_count(db).await;
    for (path, form) in [
        (format!("/bo/chantiers/{secret_id}/modifier"), fields(&[("name", "Piraté")])),
        (format!("/bo/chantiers/{secret_id}/archiver"), vec![("archiver", "1")]),
        ("/bo/chantiers/nouveau".to_string(), fields(&[("client_id", &c002.to_string())])),
    ] {
        let resp = beta_admin.submit("/bo/chantiers", &path, &form).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    assert_eq!(stored(db, secret_id).await, before, "nothing of C002's site changed");
    assert_eq!(site_count(db).await, sites_before);

    // And the demo firm's staff do not reach the other firm's site, nor use its ids in forms.
    for path in [format!("/bo/chantiers/{beta_site}"), format!("/bo/chantiers/nouveau?client={beta_client}")] {
        let (status, body) = office.get_text(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("Confidentielle"));
    }
    let beta_site_s = beta_site.to_string();
    let beta_contact_s = beta_contact.to_string();
    let resp = c001_user
        .submit(
            "/espace/chantiers/nouveau",
            "/espace/chantiers/nouveau",
            &fields(&[("kind", "dwelling"), ("parent_id", &beta_site_s), ("site_manager_id", &beta_contact_s)]),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(!body.contains("Confidentielle") && !body.contains("Bérénice"));
    assert_eq!(site_count(db).await, sites_before);
    app.stop().await;
}

#[tokio::test]
async fn technicians_read_sites_but_cannot_change_them() {
    let app = TestApp::spawn().await;
    let tech = app.login("technicien@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;
    let id = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM sites WHERE client_id = $1 ORDER BY id LIMIT 1"
    )
    .bind(c001)
    .fetch_one(p)
    .await)
    .unwrap();
    let before = stored(&app.db, id).await;
    let (status, body) = tech.get_text("/bo/chantiers").await;
    assert_eq!(status, 200);
    assert!(body.contains(RESULTS) && !body.contains("/bo/chantiers/nouveau"));
    let (status, body) = tech.get_text(&format!("/bo/chantiers/{id}")).await;
    assert_eq!(status, 200);
    assert!(!body.contains("/modifier") && !body.contains("/archiver"));
    for path in ["/bo/chantiers/nouveau".to_string(), format!("/bo/chantiers/{id}/modifier")] {
        assert_eq!(tech.get(&path).await.status(), 403, "{path}");
    }
    let c001_s = c001.to_string();
    for (path, form) in [
        ("/bo/chantiers/nouveau".to_string(), fields(&[("client_id", &c001_s)])),
        (format!("/bo/chantiers/{id}/modifier"), fields(&[])),
        (format!("/bo/chantiers/{id}/archiver"), vec![("archiver", "1")]),
    ] {
        let resp = tech.submit("/bo/chantiers", &path, &form).await;
        assert_eq!(resp.status(), 403, "{path}");
    }
    assert_eq!(stored(&app.db, id).await, before);
    app.stop().await;
}

#[tokio::test]
async fn the_demo_firm_has_several_hundred_believable_sites() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let per_client: Vec<(String, i64)> = on_db!(db, |p| sqlx::query_as(
        "SELECT c.code, COUNT(*) FROM sites s JOIN clients c ON c.id = s.client_id GROUP BY c.code ORDER BY c.code"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let total: i64 = per_client.iter().map(|(_, n)| n).sum();
    assert!(total >= 300, "{per_client:?}");
    assert_eq!(
        per_client.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        ["C001", "C002", "C003", "C004", "C005"]
    );
    // Managers are contacts of the site's client, dwellings belong to a residence of theirs.
    let inconsistent: i64 = on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM sites s
         LEFT JOIN contacts ct ON ct.id = s.site_manager_contact_id
         LEFT JOIN sites par ON par.id = s.parent_id
         WHERE (s.site_manager_contact_id IS NOT NULL AND ct.client_id <> s.client_id)
            OR (s.kind = 'dwelling' AND (par.id IS NULL OR par.kind <> 'residence' OR par.client_id <> s.client_id))
            OR s.search_key = '' OR LENGTH(s.city_code) <> 5"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(inconsistent, 0);
    // Dates around today: some done, some planned, some to schedule.
    let statuses: Vec<String> =
        on_db!(db, |p| sqlx::query_scalar("SELECT DISTINCT status FROM sites ORDER BY status").fetch_all(p).await)
            .unwrap();
    assert_eq!(statuses, ["cancelled", "done", "scheduled", "to_schedule"]);

    // Mes chantiers of the C001 user, and the department search.
    let b = app.login("client@demo.test").await;
    let (status, body) = b.get_text("/espace/chantiers").await;
    assert_eq!(status, 200);
    assert!(body.contains(RESULTS) && body.contains("Page 1 sur"));
    let (_, body) = b.get_text("/espace/chantiers?cp=44&tri=cp").await;
    assert!(body.contains(RESULTS));
    let cell = "<td class=\"nowrap postcode\">";
    let postcodes: Vec<&str> =
        body.match_indices(cell).map(|(i, _)| &body[i + cell.len()..i + cell.len() + 5]).collect();
    assert!(!postcodes.is_empty() && postcodes.iter().all(|p| p.starts_with("44")), "{postcodes:?}");

    // A residence's page lists its dwellings; a dwelling's page links to its residence.
    let office = app.login("bureau@demo.test").await;
    let (residence, dwelling, dwelling_name): (i64, i64, String) = on_db!(db, |p| sqlx::query_as(
        "SELECT parent_id, id, name FROM sites WHERE kind = 'dwelling' ORDER BY id LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let (status, body) = office.get_text(&format!("/bo/chantiers/{residence}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Logements (") && body.contains(&dwelling_name));
    let (_, body) = office.get_text(&format!("/bo/chantiers/{dwelling}")).await;
    assert!(body.contains(&format!("href=\"/bo/chantiers/{residence}\"")));
    // The back office filters by client.
    let c002 = demo_client(db, "C002").await;
    let (_, body) = office.get_text(&format!("/bo/chantiers?client={c002}")).await;
    assert!(body.contains("<td>C002 — Demeures") && !body.contains("C001 — Maisons Horizon Atlantique</td>"));
    app.stop().await;
}

#[tokio::test]
async fn a_firm_with_many_clients_types_the_client_code() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let tenant = scalar_i64(db, "SELECT id FROM tenants WHERE slug = $1", "demo").await;
    let values: Vec<String> =
        (100..420).map(|n| format!("({tenant}, 'K{n}', 'Client {n}', 'builder', 0, 0)")).collect();
    let sql = format!(
        "INSERT INTO clients (tenant_id, code, name, kind, created_at, updated_at) VALUES {}",
        values.join(", ")
    );
    exec_db!(db, |p| sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(p).await).unwrap();
    let office = app.login("bureau@demo.test").await;

    let (status, body) = office.get_text("/bo/chantiers").await;
    assert_eq!(status, 200);
    assert!(body.contains("name=\"code\"") && !body.contains("id=\"s-client\""), "no list of 325 clients");
    let (status, body) = office.get_text("/bo/chantiers?code=c002&tri=cp").await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    assert!(body.contains("<td>C002 — Demeures") && !body.contains("<td>C001 —"));
    assert!(body.contains("href=\"/bo/chantiers?code=c002\""), "sort links keep the code");
    let (status, body) = office.get_text("/bo/chantiers?code=ZZZ").await;
    assert_eq!(status, 422);
    assert!(unescape(&body).contains("Aucun client n'a le code « ZZZ »."));

    let (status, body) = office.get_text("/bo/chantiers/nouveau").await;
    assert_eq!(status, 200);
    assert!(body.contains("name=\"code\"") && !body.contains("Client 100"));
    let (status, body) = office.get_text("/bo/chantiers/nouveau?code=c001").await;
    assert_eq!(status, 200);
    assert!(body.contains("Client : C001 — Maisons Horizon Atlantique") && body.contains("Sophie Garnier"));
    let (status, body) = office.get_text("/bo/chantiers/nouveau?code=ZZZ").await;
    assert_eq!(status, 422);
    assert!(unescape(&body).contains("Aucun client n'a le code « ZZZ »."));
    app.stop().await;
}
