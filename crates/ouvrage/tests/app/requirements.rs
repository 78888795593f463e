//! Expected documents and data: the firm's services and their templates, applied to a site;
//! an upload of the right type fulfils a requirement, staff validate or refuse it with a reason
//! the client reads; a site is complete when everything is validated. Another company's
//! requirements are never touched, and only admin and office decide.

use ouvrage::db::Db;
use ouvrage::domain::{ClientId, SiteId, TenantId};
use ouvrage::features::documents::requirements;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};

use crate::support::*;

/// A small valid PDF; `tag` makes its bytes unique.
fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% {tag}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
         3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

async fn scalar(db: &Db, sql: &'static str, arg: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sql).bind(arg).fetch_one(p).await).unwrap()
}

async fn tenant(db: &Db) -> TenantId {
    TenantId(scalar(db, "SELECT id FROM tenants WHERE slug = $1", "demo").await)
}

async fn client_id(db: &Db, code: &str) -> i64 {
    scalar(
        db,
        "SELECT c.id FROM clients c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'demo' AND c.code = $1",
        code,
    )
    .await
}

/// A current chantier of the client `code` with its thermal study filed as a document.
async fn site_of(db: &Db, code: &str) -> i64 {
    scalar(
        db,
        "SELECT MIN(s.id) FROM sites s JOIN clients c ON c.id = s.client_id
         WHERE c.code = $1 AND NOT s.archived AND s.kind = 'construction'
           AND EXISTS (SELECT 1 FROM documents d WHERE d.site_id = s.id AND d.document_type = 'thermal_study')
           AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.site_id = s.id AND d.document_type <> 'thermal_study')",
        code,
    )
    .await
}

async fn service_id(db: &Db, code: &str) -> i64 {
    scalar(
        db,
        "SELECT s.id FROM services s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = 'demo' AND s.code = $1",
        code,
    )
    .await
}

async fn service_by_label(db: &Db, label: &str) -> i64 {
    scalar(db, "SELECT id FROM services WHERE label = $1", label).await
}

/// The requirement of `site` with this label.
async fn requirement(db: &Db, site: i64, label: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM site_requirements WHERE site_id = $1 AND label = $2")
        .bind(site)
        .bind(label)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// (status, document id, refusal reason, data value) of a requirement.
async fn state_of(db: &Db, id: i64) -> (String, Option<i64>, String, String) {
    on_db!(db, |p| sqlx::query_as(
        "SELECT status, document_id, refusal_reason, data_value FROM site_requirements WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sql).fetch_one(p).await).unwrap()
}

/// A page's text with the escaped apostrophes and quotes back, to look for French sentences.
fn plain(body: &str) -> String {
    body.replace("&#x27;", "'").replace("&#39;", "'").replace("&quot;", "\"").replace("&#x22;", "\"")
}

/// The table row of a requirement on a page.
fn row(body: &str, id: i64) -> String {
    let marker = format!("data-requirement=\"{id}\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("requirement {id} not on the page"));
    let end = body[start..].find("</tr>").map(|e| start + e).unwrap_or(body.len());
    body[start..end].to_string()
}

fn docs(bo: bool, site: i64) -> String {
    if bo { format!("/bo/chantiers/{site}/documents") } else { format!("/espace/chantiers/{site}/documents") }
}

/// Posts files to a site's upload form the way the browser does (token in the action URL).
async fn upload(b: &Browser, bo: bool, site: i64, doc_type: &str, req: Option<i64>, name: &str) -> reqwest::Response {
    let page = docs(bo, site);
    let token = b.csrf(&page).await;
    let mut form = Form::new().text("type", doc_type.to_string());
    if let Some(r) = req {
        form = form.text("requirement", r.to_string());
    }
    form = form.part("files", Part::bytes(pdf(name)).file_name(name.to_string()));
    b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await.expect("POST")
}

async fn add_service(b: &Browser, site: i64, service: i64) -> reqwest::Response {
    b.submit(&docs(true, site), &format!("/bo/chantiers/{site}/prestations"), &[("prestation", &service.to_string())])
        .await
}

async fn decide(b: &Browser, site: i64, req: i64, what: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    b.submit(&docs(true, site), &format!("/bo/chantiers/{site}/attendus/{req}/{what}"), fields).await
}

#[tokio::test]
async fn a_service_added_to_a_site_lists_its_requirements_and_an_upload_of_the_right_type_fulfils_one() {
    let app = TestApp::spawn().await;
    let site = site_of(&app.db, "C001").await;
    let re2020 = service_id(&app.db, "air_tightness_re2020").await;
    let staff = app.login("bureau@demo.test").await;

    // The demo firm already expects documents on a few other chantiers.
    let base_services = count(&app.db, "SELECT COUNT(*) FROM site_services").await;
    let base_requirements = count(&app.db, "SELECT COUNT(*) FROM site_requirements").await;
    let (_, before) = staff.get_text(&docs(true, site)).await;
    assert!(before.contains("Données et documents attendus"));
    assert!(before.contains("Aucune prestation n'attend de document"));
    let resp = add_service(&staff, site, re2020).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/chantiers/{site}/documents?msg=prestation"));
    let (_, page) = staff.get_text(&location(&resp)).await;
    assert!(plain(&page).contains("Test d'étanchéité à l'air (RE2020)"));
    assert!(plain(&page).contains("Avant l'intervention") && plain(&page).contains("Après l'intervention"));
    let permit = requirement(&app.db, site, "Permis de construire").await;
    assert!(row(&page, permit).contains("Manquant"));
    let surface = requirement(&app.db, site, "Surface habitable (m²)").await;
    assert!(row(&page, surface).contains("Manquant"));
    // The thermal study already filed on the chantier counts as received.
    let study = requirement(&app.db, site, "Étude thermique RE2020 (RSEE)").await;
    assert!(row(&page, study).contains("Reçu"), "{}", row(&page, study));
    assert!(page.contains("Incomplet"));

    // The same service twice is refused, in French, and nothing is added.
    let again = add_service(&staff, site, re2020).await;
    assert_eq!(again.status(), 422);
    let body = again.text().await.unwrap();
    assert!(body.contains("est déjà ajoutée à ce chantier"), "{body}");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM site_services").await, base_services + 1);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM site_requirements").await, base_requirements + 8);

    // The client's users see the same list, are told, and get an upload form per missing document.
    let client = app.login("client@demo.test").await;
    let (status, espace) = client.get_text(&docs(false, site)).await;
    assert_eq!(status, 200);
    let permit_row = row(&espace, permit);
    assert!(permit_row.contains("Manquant"));
    assert!(permit_row.contains(&format!("name=\"requirement\" value=\"{permit}\"")));
    assert!(permit_row.contains("name=\"type\" value=\"building_permit\""));
    assert!(!permit_row.contains("Valider"), "clients do not validate");
    let (_, notes) = client.get_text("/espace/notifications").await;
    assert!(notes.contains("Documents et données attendus sur"), "{notes}");

    let resp = upload(&client, false, site, "building_permit", Some(permit), "PC 044 109 24 A0012.pdf").await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let (status, doc, _, _) = state_of(&app.db, permit).await;
    assert_eq!(status, "received");
    let doc = doc.expect("the document is linked");
    let (_, espace) = client.get_text(&docs(false, site)).await;
    let permit_row = row(&espace, permit);
    assert!(permit_row.contains("Reçu"));
    assert!(permit_row.contains(&format!("href=\"/espace/documents/{doc}\"")));
    assert!(permit_row.contains("PC 044 109 24 A0012.pdf"));
    assert!(!permit_row.contains("name=\"requirement\""), "a received document is not asked again");

    // Staff see it among what to validate, and validate it.
    let (_, queue) = staff.get_text("/bo/documents/a-valider").await;
    let queued = row(&queue, permit);
    assert!(queued.contains("C001") && queued.contains(&format!("href=\"/bo/documents/{doc}\"")));
    assert!(queue.contains("2 éléments à valider"), "the permit and the study");
    let resp = decide(&staff, site, permit, "valider", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/chantiers/{site}/documents?msg=valide"));
    let (_, page) = staff.get_text(&location(&resp)).await;
    assert!(page.contains("Élément validé."));
    assert!(row(&page, permit).contains("Validé"));
    assert!(row(&page, permit).contains("Validé par Karine Lemoine"));
    let (_, espace) = client.get_text(&docs(false, site)).await;
    assert!(row(&espace, permit).contains("Validé"));

    // Validating a missing one is refused and changes nothing.
    let resp = decide(&staff, site, surface, "valider", &[]).await;
    assert_eq!(resp.status(), 422);
    assert!(plain(&resp.text().await.unwrap()).contains("rien n'a été reçu"));
    assert_eq!(state_of(&app.db, surface).await.0, "missing");

    // A validated requirement is never reopened by a later upload.
    let resp = upload(&client, false, site, "building_permit", Some(permit), "PC modificatif.pdf").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(state_of(&app.db, permit).await, ("validated".to_string(), Some(doc), String::new(), String::new()));
}

#[tokio::test]
async fn when_every_requirement_is_validated_the_site_is_complete() {
    let app = TestApp::spawn().await;
    let t = tenant(&app.db).await;
    let c001 = client_id(&app.db, "C001").await;
    let site = site_of(&app.db, "C001").await;
    // The demo firm already expects documents on a few other chantiers of C001.
    let baseline = requirements::incomplete_sites_by_status(&app.db, t, ClientId(c001)).await.unwrap();
    let baseline_of = |status: &str| baseline.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
    let baseline_sum: i64 = baseline.iter().map(|(_, n)| n).sum();
    let admin = app.login("admin@demo.test").await;
    let settings = "/bo/parametres/prestations";
    let resp = admin.submit(settings, settings, &[("libelle", "Mesure acoustique")]).await;
    assert_eq!(resp.status(), 303);
    let service = service_by_label(&app.db, "Mesure acoustique").await;
    let add = format!("{settings}/{service}/attendus");
    let resp = admin
        .submit(
            settings,
            &add,
            &[("libelle", "Plan de masse"), ("nature", "document"), ("type", "plan"), ("moment", "before")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let resp = admin
        .submit(
            settings,
            &add,
            &[("libelle", "Surface habitable (m²)"), ("nature", "data"), ("moment", "after"), ("aide", "Au permis.")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        requirements::incomplete_sites_by_status(&app.db, t, ClientId(c001))
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>(),
        baseline_sum
    );

    assert_eq!(add_service(&admin, site, service).await.status(), 303);
    let plan = requirement(&app.db, site, "Plan de masse").await;
    let surface = requirement(&app.db, site, "Surface habitable (m²)").await;
    let c = requirements::site_completeness(&app.db, t, SiteId(site)).await.unwrap();
    assert_eq!((c.missing, c.received, c.validated, c.refused, c.complete), (2, 0, 0, 0, false));
    let site_status: String =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT status FROM sites WHERE id = $1").bind(site).fetch_one(p).await)
            .unwrap();
    let by_status = requirements::incomplete_sites_by_status(&app.db, t, ClientId(c001)).await.unwrap();
    assert_eq!(
        by_status.iter().find(|(s, _)| *s == site_status).map(|(_, n)| *n),
        Some(baseline_of(&site_status) + 1),
        "{by_status:?}"
    );
    assert_eq!(by_status.iter().map(|(_, n)| n).sum::<i64>(), baseline_sum + 1);
    assert_eq!(by_status.len(), 4, "every site status is listed");

    // The client deposits a plan through the page's form (no requirement named: its type is
    // enough) and types the surface in.
    let client = app.login("client.admin@demo.test").await;
    assert_eq!(upload(&client, false, site, "plan", None, "Plan de masse.pdf").await.status(), 303);
    assert_eq!(state_of(&app.db, plan).await.0, "received");
    let data = format!("/espace/chantiers/{site}/attendus/{surface}/donnee");
    let resp = client.submit(&docs(false, site), &data, &[("valeur", "  ")]).await;
    assert_eq!(resp.status(), 422);
    assert!(plain(&resp.text().await.unwrap()).contains("Saisissez l'information demandée"));
    assert_eq!(state_of(&app.db, surface).await.0, "missing");
    let resp = client.submit(&docs(false, site), &data, &[("valeur", "98,5")]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/espace/chantiers/{site}/documents?msg=donnee"));
    assert_eq!(state_of(&app.db, surface).await, ("received".to_string(), None, String::new(), "98,5".to_string()));
    let (_, espace) = client.get_text(&docs(false, site)).await;
    assert!(row(&espace, surface).contains("Reçu") && row(&espace, surface).contains("98,5"));
    assert_eq!(requirements::to_validate_count(&app.db, t).await.unwrap(), 2);
    // The office is told.
    let office = app.login("bureau@demo.test").await;
    let (_, notes) = office.get_text("/bo/notifications").await;
    assert!(notes.contains("Surface habitable (m²)"), "{notes}");

    // Staff validate both from the list of what to validate.
    for req in [plan, surface] {
        let resp = office
            .submit(
                "/bo/documents/a-valider",
                &format!("/bo/chantiers/{site}/attendus/{req}/valider"),
                &[("retour", "a-valider")],
            )
            .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(location(&resp), "/bo/documents/a-valider?msg=valide");
    }
    let (_, queue) = office.get_text("/bo/documents/a-valider?msg=valide").await;
    assert!(queue.contains("Rien à valider") && queue.contains("Élément validé."));
    let c = requirements::site_completeness(&app.db, t, SiteId(site)).await.unwrap();
    assert_eq!((c.missing, c.received, c.validated, c.refused, c.complete), (0, 0, 2, 0, true));
    assert_eq!(requirements::to_validate_count(&app.db, t).await.unwrap(), 0);
    assert_eq!(
        requirements::incomplete_sites_by_status(&app.db, t, ClientId(c001))
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>(),
        baseline_sum
    );
    let (_, espace) = client.get_text(&docs(false, site)).await;
    assert!(espace.contains("id=\"requirements-complete\"") && espace.contains(">Complet<"));
    // A validated piece of data can no longer be changed.
    let resp = client.submit(&docs(false, site), &data, &[("valeur", "120")]).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(state_of(&app.db, surface).await.3, "98,5");
}

#[tokio::test]
async fn a_refusal_needs_a_reason_which_the_client_reads_and_then_the_requirement_waits_again() {
    let app = TestApp::spawn().await;
    let site = site_of(&app.db, "C001").await;
    let staff = app.login("admin@demo.test").await;
    assert_eq!(add_service(&staff, site, service_id(&app.db, "air_tightness_re2020").await).await.status(), 303);
    let permit = requirement(&app.db, site, "Permis de construire").await;
    let client = app.login("client@demo.test").await;
    assert_eq!(upload(&client, false, site, "building_permit", Some(permit), "permis.pdf").await.status(), 303);
    let first_doc = state_of(&app.db, permit).await.1;
    let refusals = "SELECT COUNT(*) FROM notifications WHERE kind = 'requirement_refused'";

    let resp = decide(&staff, site, permit, "refuser", &[("motif", "   ")]).await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Indiquez le motif du refus"), "{body}");
    assert_eq!(state_of(&app.db, permit).await.0, "received");
    assert_eq!(count(&app.db, refusals).await, 0);

    let reason = "Le permis est illisible : envoyez un scan en couleur.";
    let resp = decide(&staff, site, permit, "refuser", &[("motif", reason)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/chantiers/{site}/documents?msg=refuse"));
    assert_eq!(state_of(&app.db, permit).await.0, "refused");
    let (_, espace) = client.get_text(&docs(false, site)).await;
    let r = row(&espace, permit);
    assert!(r.contains("Refusé") && r.contains("Le permis est illisible : envoyez un scan en couleur."), "{r}");
    assert!(r.contains(&format!("name=\"requirement\" value=\"{permit}\"")), "a refused document is asked again");
    // Every user of C001 is told; nobody of C002 nor the firm.
    let told: Vec<String> = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT u.email FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE n.kind = 'requirement_refused' ORDER BY u.email"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(told, vec!["client.admin@demo.test".to_string(), "client@demo.test".to_string()]);
    let (_, notes) = client.get_text("/espace/notifications").await;
    assert!(notes.contains("Le permis est illisible"), "{notes}");

    // A new document puts it back to received, the reason gone.
    assert_eq!(upload(&client, false, site, "building_permit", None, "permis couleur.pdf").await.status(), 303);
    let (status, doc, reason_left, _) = state_of(&app.db, permit).await;
    assert_eq!(status, "received");
    assert_ne!(doc, first_doc);
    assert_eq!(reason_left, "");
}

#[tokio::test]
async fn a_forged_requirement_of_another_clients_site_is_never_touched() {
    let app = TestApp::spawn().await;
    let mine = site_of(&app.db, "C001").await;
    let theirs = site_of(&app.db, "C002").await;
    let re2020 = service_id(&app.db, "air_tightness_re2020").await;
    let staff = app.login("bureau@demo.test").await;
    assert_eq!(add_service(&staff, mine, re2020).await.status(), 303);
    assert_eq!(add_service(&staff, theirs, re2020).await.status(), 303);
    let my_permit = requirement(&app.db, mine, "Permis de construire").await;
    let their_permit = requirement(&app.db, theirs, "Permis de construire").await;
    let their_surface = requirement(&app.db, theirs, "Surface habitable (m²)").await;

    // C001's user names C002's requirement on its own site's upload: only its own site's
    // requirement of that type is fulfilled.
    let client = app.login("client@demo.test").await;
    assert_eq!(upload(&client, false, mine, "building_permit", Some(their_permit), "permis.pdf").await.status(), 303);
    assert_eq!(state_of(&app.db, their_permit).await, ("missing".to_string(), None, String::new(), String::new()));
    assert_eq!(state_of(&app.db, my_permit).await.0, "received");
    // Staff naming another site's requirement on this site's upload do not touch it either.
    assert_eq!(upload(&staff, true, mine, "building_permit", Some(their_permit), "permis bis.pdf").await.status(), 303);
    assert_eq!(state_of(&app.db, their_permit).await.0, "missing");

    // C002's site and its requirements do not exist for C001's users.
    for path in [
        format!("/espace/chantiers/{theirs}/documents"),
        format!("/espace/chantiers/{theirs}/attendus/{their_surface}/donnee"),
        format!("/espace/chantiers/{mine}/attendus/{their_surface}/donnee"),
    ] {
        let resp = if path.ends_with("/documents") {
            client.get(&path).await
        } else {
            client.submit(&docs(false, mine), &path, &[("valeur", "12")]).await
        };
        assert_eq!(resp.status(), 404, "{path}");
    }
    assert_eq!(state_of(&app.db, their_surface).await.0, "missing");
    // And C002's user cannot reach C001's site.
    let other = app.login("autre.client@demo.test").await;
    assert_eq!(other.get(&docs(false, mine)).await.status(), 404);
    let resp = other
        .submit(
            &docs(false, theirs),
            &format!("/espace/chantiers/{mine}/attendus/{my_permit}/donnee"),
            &[("valeur", "1")],
        )
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn technicians_and_clients_cannot_decide_nor_edit_services() {
    let app = TestApp::spawn().await;
    let site = site_of(&app.db, "C001").await;
    let re2020 = service_id(&app.db, "air_tightness_re2020").await;
    let office = app.login("bureau@demo.test").await;
    assert_eq!(add_service(&office, site, re2020).await.status(), 303);
    let study = requirement(&app.db, site, "Étude thermique RE2020 (RSEE)").await;
    assert_eq!(state_of(&app.db, study).await.0, "received");

    let tech = app.login("technicien@demo.test").await;
    let (status, page) = tech.get_text(&docs(true, site)).await;
    assert_eq!(status, 200);
    assert!(row(&page, study).contains("Reçu") && !row(&page, study).contains("Valider"));
    assert!(!page.contains("id=\"add-service\""));
    for what in ["valider", "refuser"] {
        assert_eq!(decide(&tech, site, study, what, &[("motif", "non")]).await.status(), 403, "{what}");
    }
    assert_eq!(add_service(&tech, site, service_id(&app.db, "ventilation_check").await).await.status(), 403);
    let (status, queue) = tech.get_text("/bo/documents/a-valider").await;
    assert_eq!(status, 200);
    assert!(queue.contains("1 élément à valider") && !queue.contains(">Valider<"));
    // Technicians read the services; only admin and office change them.
    let settings = "/bo/parametres/prestations";
    let (status, body) = tech.get_text(settings).await;
    assert_eq!(status, 200);
    assert!(body.contains("Contrôle des systèmes de ventilation") && !body.contains("Créer la prestation"));
    assert_eq!(tech.submit(settings, settings, &[("libelle", "Thermographie")]).await.status(), 403);
    let archive = format!("{settings}/{re2020}/archiver");
    assert_eq!(tech.submit(settings, &archive, &[]).await.status(), 403);

    // Client users have no back-office route.
    let client = app.login("client.admin@demo.test").await;
    let resp = client.submit(&docs(false, site), &format!("/bo/chantiers/{site}/attendus/{study}/valider"), &[]).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(client.get("/bo/documents/a-valider").await.status(), 403);
    assert_eq!(client.get(settings).await.status(), 403);
    assert_eq!(state_of(&app.db, study).await.0, "received");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM services WHERE archived = TRUE").await, 0);
}

#[tokio::test]
async fn settings_add_services_and_templates_refuse_bad_input_in_french_and_sites_keep_their_copy() {
    let app = TestApp::spawn().await;
    let settings = "/bo/parametres/prestations";
    let admin = app.login("admin@demo.test").await;
    let (_, firm) = admin.get_text("/bo/parametres").await;
    assert!(firm.contains("href=\"/bo/parametres/prestations\""));
    let office = app.login("bureau@demo.test").await;
    let (status, body) = office.get_text(settings).await;
    assert_eq!(status, 200);
    for text in ["Entretien VMC / chauffage", "Surface habitable (m²)", "Permis de construire", "Créer la prestation"]
    {
        assert!(body.contains(text), "{text}");
    }
    let services = "SELECT COUNT(*) FROM services";
    let templates = "SELECT COUNT(*) FROM requirement_templates";
    let (n_services, n_templates) = (count(&app.db, services).await, count(&app.db, templates).await);

    let resp = office.submit(settings, settings, &[("libelle", "  ")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Indiquez le nom de la prestation"));
    let resp = office.submit(settings, settings, &[("libelle", "contrôle des systèmes de VENTILATION")]).await;
    assert_eq!(resp.status(), 422);
    assert!(plain(&resp.text().await.unwrap()).contains("Une prestation s'appelle déjà"));
    assert_eq!(count(&app.db, services).await, n_services);

    let vmc = service_id(&app.db, "ventilation_check").await;
    let add = format!("{settings}/{vmc}/attendus");
    let resp = office
        .submit(settings, &add, &[("libelle", ""), ("nature", "document"), ("type", ""), ("moment", "before")])
        .await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(plain(&body).contains("Indiquez l'intitulé"), "{body}");
    assert!(body.contains("Choisissez le type du document attendu"));
    let resp = office
        .submit(
            settings,
            &add,
            &[("libelle", "Cadastre"), ("nature", "document"), ("type", "cadastre"), ("moment", "after")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(plain(&resp.text().await.unwrap()).contains("Ce type de document n'existe pas"));
    let resp =
        office.submit(settings, &add, &[("libelle", "Photos"), ("nature", "video"), ("moment", "pendant")]).await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Choisissez la nature") && body.contains("avant ou après"));
    assert_eq!(count(&app.db, templates).await, n_templates);
    // A service of another id is not found.
    assert_eq!(
        office.submit(settings, &format!("{settings}/999999/attendus"), &[("libelle", "X")]).await.status(),
        404
    );

    let resp = office
        .submit(
            settings,
            &add,
            &[
                ("libelle", "Photos des bouches d'extraction"),
                ("nature", "document"),
                ("type", "photo"),
                ("moment", "after"),
                ("aide", "Une par pièce humide."),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let (_, body) = office.get_text(settings).await;
    assert!(plain(&body).contains("Photos des bouches d'extraction") && body.contains("Une par pièce humide."));
    let audited = count(&app.db, "SELECT COUNT(*) FROM audit_log WHERE entity = 'requirement_template'").await;
    assert_eq!(audited, 1);

    // A site keeps its copy when a template is retired later; the next site does not get it.
    let site = site_of(&app.db, "C001").await;
    assert_eq!(add_service(&office, site, vmc).await.status(), 303);
    let photos = requirement(&app.db, site, "Photos des bouches d'extraction").await;
    let template: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT id FROM requirement_templates WHERE label = 'Photos des bouches d''extraction'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let resp = office.submit(settings, &format!("{settings}/{vmc}/attendus/{template}/archiver"), &[]).await;
    assert_eq!(resp.status(), 303);
    let (_, page) = office.get_text(&docs(true, site)).await;
    assert!(row(&page, photos).contains("Photos des bouches d"));
    let other = site_of(&app.db, "C002").await;
    assert_eq!(add_service(&office, other, vmc).await.status(), 303);
    let copied: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM site_requirements WHERE site_id = $1 AND label = 'Photos des bouches d''extraction'"
    )
    .bind(other)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(copied, 0);

    // A retired service is no longer offered.
    let resp = office.submit(settings, &format!("{settings}/{vmc}/archiver"), &[]).await;
    assert_eq!(resp.status(), 303);
    let (_, body) = office.get_text(settings).await;
    assert!(!body.contains("Contrôle des systèmes de ventilation"));
    let third = scalar(
        &app.db,
        "SELECT MAX(s.id) FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = $1 AND NOT s.archived",
        "C001",
    )
    .await;
    let resp = add_service(&office, third, vmc).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Choisissez une prestation de la liste"));
}

#[tokio::test]
async fn seeding_twice_adds_nothing() {
    let app = TestApp::spawn().await;
    let t = tenant(&app.db).await;
    let before = (
        count(&app.db, "SELECT COUNT(*) FROM services").await,
        count(&app.db, "SELECT COUNT(*) FROM requirement_templates").await,
    );
    assert_eq!(before, (3, 17));
    let mut tx = app.db.begin().await.unwrap();
    requirements::seed_defaults(&mut tx, t).await.unwrap();
    tx.commit().await.unwrap();
    let after = (
        count(&app.db, "SELECT COUNT(*) FROM services").await,
        count(&app.db, "SELECT COUNT(*) FROM requirement_templates").await,
    );
    assert_eq!(before, after);
}
