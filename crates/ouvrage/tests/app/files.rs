//! Files: uploads checked from their content, content-addressed storage, downloads confined to
//! the actor's tenant and client.

use ouvrage::db::Db;
use ouvrage::domain::time::now_ms;
use ouvrage::{exec_db, on_db};
use reqwest::multipart::{Form, Part};

use crate::support::*;

const SAMPLE_PDF: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf");

/// A small valid PDF; `tag` makes its bytes unique to a test.
fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% {tag}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
         3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    b.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    b
}

async fn client_id(db: &Db, code: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT c.id FROM clients c JOIN tenants t ON t.id = c.tenant_id
                                         WHERE t.slug = 'demo' AND c.code = $1"
    )
    .bind(code)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// Files other than the demo chantiers' thermal studies.
async fn file_rows(db: &Db) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM files WHERE sha256 NOT IN (SELECT sha256 FROM thermal_studies)"
    )
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn last_file_id(db: &Db) -> i64 {
    on_db!(db, |p| sqlx::query_scalar("SELECT MAX(id) FROM files").fetch_one(p).await).unwrap()
}

/// Files stored under DATA/files (temporary upload files included, so leftovers would show),
/// but the demo chantiers' thermal studies.
async fn stored_objects(app: &TestApp) -> Vec<std::path::PathBuf> {
    let demo: Vec<String> =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT sha256 FROM thermal_studies").fetch_all(p).await).unwrap();
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir.join("files"), &mut out);
    out.retain(|p| !demo.iter().any(|sha| p.ends_with(sha)));
    out
}

/// Posts files to a client's upload form the way the browser does (token in the action URL).
async fn upload(b: &Browser, client: i64, files: &[(&str, Vec<u8>)]) -> reqwest::Response {
    let page = format!("/bo/clients/{client}/fichiers");
    let token = b.csrf(&page).await;
    let mut form = Form::new();
    for (name, bytes) in files {
        form = form.part("fichiers", Part::bytes(bytes.clone()).file_name(name.to_string()));
    }
    b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await.expect("POST")
}

#[tokio::test]
async fn staff_upload_is_listed_and_downloaded_by_the_clients_users_only() {
    let app = TestApp::spawn().await;
    let c001 = client_id(&app.db, "C001").await;
    let bytes = std::fs::read(SAMPLE_PDF).expect("sample PDF");
    let staff = app.login("bureau@demo.test").await;
    let (status, body) = staff.get_text(&format!("/bo/clients/{c001}/fichiers")).await;
    assert_eq!(status, 200);
    assert!(body.contains("enctype=\"multipart/form-data\""));
    assert!(body.contains(&format!("action=\"/bo/clients/{c001}/fichiers?_csrf=")));
    assert!(body.contains("type=\"file\"") && body.contains(" multiple"));

    let resp = upload(&staff, c001, &[("Relevé étanchéité lot 3.pdf", bytes.clone())]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/clients/{c001}/fichiers?msg=fichier"));
    let id = last_file_id(&app.db).await;
    let (_, list) = staff.get_text(&location(&resp)).await;
    assert!(list.contains("Fichier ajouté."));
    assert!(list.contains("Relevé étanchéité lot 3.pdf"), "listed by name");
    assert!(list.contains(&format!("href=\"/fichiers/{id}\"")));
    assert!(list.contains("<td>PDF</td>"));
    assert!(list.contains("37\u{a0}Ko"), "size in Ko");
    assert!(list.contains("<td>Karine Lemoine</td>"), "uploader shown");
    // The audit log records the upload.
    let audited: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'file' AND entity_id = $1 AND action = 'create'"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(audited, 1);

    // A user of C001 sees it in their documents and downloads exactly the uploaded bytes.
    let client = app.login("client@demo.test").await;
    let (status, docs) = client.get_text("/espace/documents").await;
    assert_eq!(status, 200);
    assert!(docs.contains("Relevé étanchéité lot 3.pdf"));
    // Listed as a document of the company (no particular site), with its preview.
    let doc_id: i64 = on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM documents WHERE file_id = $1")
        .bind(id)
        .fetch_one(p)
        .await)
    .unwrap();
    assert!(docs.contains(&format!("href=\"/espace/documents/{doc_id}/fichier?apercu=1\"")), "{docs}");
    let resp = client.get(&format!("/fichiers/{id}")).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "private, no-store");
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(cd.contains("filename*=UTF-8''Relev%C3%A9%20%C3%A9tanch%C3%A9it%C3%A9%20lot%203.pdf"), "{cd}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice(), "byte-identical");
    let preview = client.get(&format!("/fichiers/{id}?apercu=1")).await;
    assert!(preview.headers()["content-disposition"].to_str().unwrap().starts_with("inline;"));

    // A user of C002 gets the same 404 as for an unknown file, and does not see it listed.
    let other = app.login("autre.client@demo.test").await;
    let (status, body) = other.get_text(&format!("/fichiers/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(other.get(&format!("/fichiers/{}", id + 1000)).await.status(), 404);
    assert_eq!(other.get("/fichiers/abc").await.status(), 404);
    assert!(!body.contains("Relevé"));
    let (status, docs) = other.get_text("/espace/documents").await;
    assert_eq!(status, 200);
    assert!(!docs.contains("Relevé étanchéité"));
    assert!(docs.contains("Étude thermique"), "their own chantiers' studies are listed");
    // Client users have no access to the back-office page nor its upload.
    assert_eq!(client.get(&format!("/bo/clients/{c001}/fichiers")).await.status(), 403);
    // Staff see it too; anonymous visitors are sent to the login page.
    assert_eq!(app.login("technicien@demo.test").await.get(&format!("/fichiers/{id}")).await.status(), 200);
    let anon = app.client().get(&format!("/fichiers/{id}")).await;
    assert_eq!(anon.status(), 303);
    assert!(location(&anon).starts_with("/login"));
    app.stop().await;
}

#[tokio::test]
async fn staff_of_another_tenant_get_404_for_files_and_clients() {
    let app = TestApp::spawn().await;
    let c001 = client_id(&app.db, "C001").await;
    let staff = app.login("admin@demo.test").await;
    assert_eq!(upload(&staff, c001, &[("plan.pdf", pdf("tenant"))]).await.status(), 303);
    let id = last_file_id(&app.db).await;

    // A second firm with its own client and office user.
    let now = now_ms();
    let hash = ouvrage::features::auth::password::hash("autre-firme-2026".into()).await.unwrap();
    let tenant: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('autre', 'Autre Firme', $1) RETURNING id"
    )
    .bind(now)
    .fetch_one(p)
    .await)
    .unwrap();
    let other_client: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "INSERT INTO clients (tenant_id, code, name, kind, created_at, updated_at)
         VALUES ($1, 'C001', 'Client de l''autre firme', 'builder', $2, $2) RETURNING id"
    )
    .bind(tenant)
    .bind(now)
    .fetch_one(p)
    .await)
    .unwrap();
    exec_db!(&app.db, |p| sqlx::query(
        "INSERT INTO users (tenant_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, 'bureau@autre.test', 'Bureau Autre', 'office', $2, $3, $3)"
    )
    .bind(tenant)
    .bind(&hash)
    .bind(now)
    .execute(p)
    .await)
    .unwrap();

    let stranger = app.client();
    assert_eq!(stranger.login("bureau@autre.test", "autre-firme-2026").await.status(), 303);
    assert_eq!(stranger.get(&format!("/fichiers/{id}")).await.status(), 404);
    assert_eq!(stranger.get(&format!("/bo/clients/{c001}/fichiers")).await.status(), 404);
    // Uploading onto the first firm's client is refused the same way, and writes nothing.
    let rows = file_rows(&app.db).await;
    let token = stranger.csrf(&format!("/bo/clients/{other_client}/fichiers")).await;
    let form = Form::new().part("fichiers", Part::bytes(pdf("intrus")).file_name("intrus.pdf"));
    let resp = stranger
        .http
        .post(stranger.url(&format!("/bo/clients/{c001}/fichiers?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(file_rows(&app.db).await, rows);
    // Their own client's page works and does not list the first firm's file.
    let (status, body) = stranger.get_text(&format!("/bo/clients/{other_client}/fichiers")).await;
    assert_eq!(status, 200);
    assert!(!body.contains("plan.pdf"));
    app.stop().await;
}

#[tokio::test]
async fn contents_that_are_not_accepted_are_refused_in_french_and_write_nothing() {
    let app = TestApp::spawn().await;
    let c001 = client_id(&app.db, "C001").await;
    let staff = app.login("bureau@demo.test").await;

    let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0".to_vec();
    exe.extend_from_slice(&[0u8; 200]);
    let resp = upload(&staff, c001, &[("plan.pdf", exe)]).await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("« plan.pdf » n&#39;est pas dans un format accepté")
            || body.contains("« plan.pdf » n'est pas dans un format accepté"),
        "{body}"
    );
    assert!(body.contains("PDF, images JPEG ou PNG, XML"));
    assert_eq!(file_rows(&app.db).await, 0);
    assert!(stored_objects(&app).await.is_empty(), "refused bytes are not stored");

    let xml = b"<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY lol \"lol\">]>\n<r>&lol;</r>".to_vec();
    let resp = upload(&staff, c001, &[("etude.xml", xml)]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("DOCTYPE"));

    let mut truncated = pdf("coupé");
    truncated.truncate(truncated.len() - 10);
    let resp = upload(&staff, c001, &[("coupé.pdf", truncated)]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("PDF incomplet"));

    let resp = upload(&staff, c001, &[("vide.pdf", Vec::new())]).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(file_rows(&app.db).await, 0);
    assert!(stored_objects(&app).await.is_empty());

    // In a batch, the good file is kept and the bad one named in the message.
    let zip = b"PK\x03\x04\x14\0\0\0\x08\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    let xml_ok =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<projet><nom>Résidence</nom></projet>".as_bytes().to_vec();
    let resp = upload(&staff, c001, &[("photo.png", png()), ("archive.pdf", zip), ("etude.xml", xml_ok)]).await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(body.contains("archive.pdf") && body.contains(".zip"), "{body}");
    assert!(body.contains("photo.png") && body.contains("etude.xml"));
    let types: Vec<String> = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT content_type FROM files WHERE sha256 NOT IN (SELECT sha256 FROM thermal_studies) ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(types, ["image/png", "application/xml"]);
    assert_eq!(stored_objects(&app).await.len(), 2);

    // Nothing chosen: a French message, not an error page.
    let resp = upload(&staff, c001, &[("", Vec::new())]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Choisissez au moins un fichier"));
    app.stop().await;
}

/// A valid PDF of about 1.9 KB.
fn big_enough() -> Vec<u8> {
    let mut b = pdf("lot");
    b.splice(9..9, std::iter::repeat_n(b' ', 1700));
    b
}

#[tokio::test]
async fn an_upload_above_the_limit_is_refused_with_413() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.max_upload_bytes = 2048).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let c001 = client_id(&app.db, "C001").await;
    let staff = app.login("bureau@demo.test").await;
    let mut big = pdf("gros");
    big.splice(9..9, std::iter::repeat_n(b' ', 3000));
    let resp = upload(&staff, c001, &[("gros.pdf", big)]).await;
    assert_eq!(resp.status(), 413);
    let body = resp.text().await.unwrap();
    assert!(body.contains("« gros.pdf » dépasse la taille maximale autorisée de 2\u{a0}Ko"), "{body}");
    assert_eq!(file_rows(&app.db).await, 0);
    assert!(stored_objects(&app).await.is_empty());
    // Far above the limit (the request body limit cuts the reading): the same single message.
    let mut huge = pdf("énorme");
    huge.splice(9..9, std::iter::repeat_n(b' ', 200_000));
    let resp = upload(&staff, c001, &[("énorme.pdf", huge)]).await;
    assert_eq!(resp.status(), 413);
    let body = resp.text().await.unwrap();
    assert!(body.contains("« énorme.pdf » dépasse la taille maximale"), "{body}");
    assert!(!body.contains("envoyez les fichiers en plusieurs fois"));
    // Many files each within the limit but too many together: refused beyond the total.
    let many: Vec<(&str, Vec<u8>)> = (0..40).map(|_| ("lot.pdf", big_enough())).collect();
    let resp = upload(&staff, c001, &many).await;
    assert_eq!(resp.status(), 413);
    assert!(resp.text().await.unwrap().contains("envoyez les fichiers en plusieurs fois"));
    // A file within the limit still goes through.
    assert_eq!(upload(&staff, c001, &[("petit.pdf", pdf("petit"))]).await.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn the_same_bytes_twice_are_stored_once_with_two_rows() {
    let app = TestApp::spawn().await;
    let c001 = client_id(&app.db, "C001").await;
    let c002 = client_id(&app.db, "C002").await;
    let staff = app.login("bureau@demo.test").await;
    let bytes = pdf("deux fois");
    assert_eq!(upload(&staff, c001, &[("plan.pdf", bytes.clone())]).await.status(), 303);
    assert_eq!(upload(&staff, c002, &[("plan-copie.pdf", bytes.clone())]).await.status(), 303);
    assert_eq!(file_rows(&app.db).await, 2);
    let objects = stored_objects(&app).await;
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(std::fs::read(&objects[0]).unwrap(), bytes);
    let shas: Vec<String> = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT DISTINCT sha256 FROM files WHERE sha256 NOT IN (SELECT sha256 FROM thermal_studies)"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(shas.len(), 1);
    assert!(objects[0].ends_with(&shas[0]), "the object is named by its SHA-256");
    // Each copy stays with its own client.
    let (_, docs) = app.login("autre.client@demo.test").await.get_text("/espace/documents").await;
    assert!(docs.contains("plan-copie.pdf") && !docs.contains(">plan.pdf<"));
    app.stop().await;
}

#[tokio::test]
async fn an_upload_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let c001 = client_id(&app.db, "C001").await;
    let staff = app.login("bureau@demo.test").await;
    let _ = staff.get(&format!("/bo/clients/{c001}/fichiers")).await;
    let form = Form::new().part("fichiers", Part::bytes(pdf("csrf")).file_name("plan.pdf"));
    let resp =
        staff.http.post(staff.url(&format!("/bo/clients/{c001}/fichiers"))).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let form = Form::new()
        .text("_csrf", staff.csrf(&format!("/bo/clients/{c001}/fichiers")).await)
        .part("fichiers", Part::bytes(pdf("csrf")).file_name("plan.pdf"));
    let resp = staff
        .http
        .post(staff.url(&format!("/bo/clients/{c001}/fichiers?_csrf=faux")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a wrong token in the URL is refused");
    assert_eq!(file_rows(&app.db).await, 0);
    assert!(stored_objects(&app).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn missing_bytes_answer_a_french_not_found_page() {
    let app = TestApp::spawn().await;
    let c001 = client_id(&app.db, "C001").await;
    let staff = app.login("bureau@demo.test").await;
    assert_eq!(upload(&staff, c001, &[("plan.pdf", pdf("perdu"))]).await.status(), 303);
    let id = last_file_id(&app.db).await;
    for object in stored_objects(&app).await {
        std::fs::remove_file(object).unwrap();
    }
    let (status, body) = staff.get_text(&format!("/fichiers/{id}")).await;
    assert_eq!(status, 404);
    assert!(body.contains("Fichier indisponible"));
    app.stop().await;
}

/// An upload whose bytes are already stored but unreferenced (a deleted document's, say) must not
/// lose them to the orphan sweep between finding them there and committing its row: the upload
/// writes old bytes again, and the sweep leaves objects written since it listed them.
#[tokio::test]
async fn the_orphan_sweep_never_deletes_bytes_an_upload_is_about_to_reference() {
    use ouvrage::features::files::sweep::sweep;
    let app = TestApp::spawn().await;
    let bytes = pdf("orphan-race");
    let sha = app.files.put(bytes.clone().into()).await.unwrap();
    let object = app.data_dir.join("files/sha256").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
    assert!(object.is_file(), "stored at {}", object.display());
    // Left unreferenced for two hours: past the sweep's grace period.
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    std::fs::File::options().write(true).open(&object).unwrap().set_modified(two_hours_ago).unwrap();
    let grace_start = now_ms() - 15 * 60 * 1000;

    // An upload of the same bytes stores them (its row is not committed yet)...
    assert_eq!(app.files.put(bytes.clone().into()).await.unwrap(), sha);
    // ...while the sweep runs: the bytes stay.
    let swept = sweep(&app.db, &app.files, grace_start).await.unwrap();
    assert_eq!(swept.deleted, 0, "{swept:?}");
    assert_eq!(app.files.get(&sha).await.unwrap().as_ref(), bytes.as_slice());

    // Truly forgotten bytes do go.
    std::fs::File::options().write(true).open(&object).unwrap().set_modified(two_hours_ago).unwrap();
    let swept = sweep(&app.db, &app.files, grace_start).await.unwrap();
    assert_eq!(swept.deleted, 1, "{swept:?}");
    assert!(!object.exists());
}
