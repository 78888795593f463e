//! Documents: typed uploads on a site (several at once), content checks that store nothing on
//! refusal, versions, lists across sites with their filters, previews, and the .zip of a
//! selection.

use std::io::Read;

use ouvrage::db::Db;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};

use crate::support::*;

const SAMPLE_PDF: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf");

fn sample_pdf() -> Vec<u8> {
    std::fs::read(SAMPLE_PDF).expect("shared sample PDF")
}

/// A small PDF that opens, made unique by `tag`.
fn pdf(tag: &str) -> Vec<u8> {
    let body = format!(
        "%PDF-1.4\n% {tag}\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n\
         3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>\nendobj\n"
    );
    let xref_at = body.len();
    let offsets: Vec<usize> = ["1 0 obj", "2 0 obj", "3 0 obj"].iter().map(|m| body.find(m).unwrap()).collect();
    let mut out = body;
    out.push_str("xref\n0 4\n0000000000 65535 f \n");
    for o in offsets {
        out.push_str(&format!("{o:010} 00000 n \n"));
    }
    out.push_str(&format!("trailer\n<</Size 4/Root 1 0 R>>\nstartxref\n{xref_at}\n%%EOF\n"));
    out.into_bytes()
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    b.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    b
}

fn jpeg() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00];
    b.extend_from_slice(&[0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9]);
    b
}

async fn scalar(db: &Db, sql: &'static str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sql).fetch_one(p).await).unwrap()
}

/// A chantier of client `code` of the demo firm.
async fn site_of(db: &Db, code: &str) -> (i64, String) {
    on_db!(db, |p| sqlx::query_as(
        "SELECT s.id, s.name FROM sites s JOIN clients c ON c.id = s.client_id
         WHERE c.code = $1 AND s.archived = FALSE AND s.kind = 'construction' ORDER BY s.id LIMIT 1"
    )
    .bind(code)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// Posts the site's "Dépôt de documents" form as a browser does (CSRF token in the query).
async fn deposit(b: &Browser, base: &str, site: i64, doc_type: &str, files: &[(&str, Vec<u8>)]) -> reqwest::Response {
    let page = format!("{base}/{site}/documents");
    let token = b.csrf(&page).await;
    let mut form = Form::new().text("type", doc_type.to_string());
    for (name, bytes) in files {
        form = form.part("files", Part::bytes(bytes.clone()).file_name(name.to_string()));
    }
    b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await.unwrap()
}

async fn counts(db: &Db) -> (i64, i64) {
    (scalar(db, "SELECT COUNT(*) FROM documents").await, scalar(db, "SELECT COUNT(*) FROM files").await)
}

/// Stored objects in the local file store.
fn stored_objects(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
            .unwrap_or(0)
    }
    walk(&app.data_dir.join("files"))
}

async fn document_id(db: &Db, title: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM documents WHERE title = $1 AND is_current = TRUE")
        .bind(title)
        .fetch_one(p)
        .await)
    .unwrap()
}

#[tokio::test]
async fn a_client_deposits_several_typed_files_at_once_and_finds_them_on_the_site_and_in_mes_documents() {
    let app = TestApp::spawn().await;
    let (site, site_name) = site_of(&app.db, "C001").await;
    let client = app.login("client@demo.test").await;
    let (status, page) = client.get_text(&format!("/espace/chantiers/{site}/documents")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Déposer des documents") && page.contains("Permis de construire"), "types offered");

    let plan = sample_pdf();
    let files = [
        ("Plan RDC.pdf", plan.clone()),
        ("façade.jpg", jpeg()),
        ("coupe.png", png()),
        ("métré.xml", b"<?xml version=\"1.0\"?><metre><piece surface=\"12,5\"/></metre>".to_vec()),
    ];
    let resp = deposit(&client, "/espace/chantiers", site, "plan", &files).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(location(&resp), format!("/espace/chantiers/{site}/documents?msg=depose"));

    let (_, page) = client.get_text(&format!("/espace/chantiers/{site}/documents?msg=depose")).await;
    assert!(page.contains("Documents déposés."));
    for (name, _) in &files {
        assert!(page.contains(name), "{name} listed on the site");
    }
    // Each is typed "Plan", attached to the site, with its uploader.
    let typed: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM documents WHERE site_id = $1 AND document_type = 'plan' AND created_by IS NOT NULL"
    )
    .bind(site)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(typed, 4);

    // Mes documents across sites: search, type and site filters.
    let (_, list) = client.get_text("/espace/documents?q=facade").await;
    assert!(list.contains("façade.jpg") && !list.contains("Plan RDC.pdf"), "search folds accents");
    let (_, list) = client.get_text("/espace/documents?type=plan").await;
    assert!(list.contains("Plan RDC.pdf") && list.contains("coupe.png"));
    assert!(!list.contains("Étude thermique ("), "thermal studies are another type");
    let (_, list) = client.get_text(&format!("/espace/documents?chantier={site}&tri=nom")).await;
    assert!(list.contains(&site_name) && list.contains("4 documents") || list.contains("documents"), "{list}");
    let coupe = list.find("coupe.png").unwrap();
    let metre = list.find("métré.xml").unwrap();
    assert!(coupe < metre, "sorted by name");
    let (status, list) = client.get_text("/espace/documents?du=31/02/2026").await;
    assert_eq!(status, 200);
    assert!(list.contains("n&#39;est pas une date valide") || list.contains("n'est pas une date valide"), "{list}");

    // Download is byte-identical; the preview may be framed by our own pages only.
    let id = document_id(&app.db, "Plan RDC.pdf").await;
    let resp = client.get(&format!("/espace/documents/{id}/fichier")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), plan.as_slice());
    let resp = client.get(&format!("/espace/documents/{id}/fichier?apercu=1")).await;
    let h = resp.headers();
    assert!(h["content-disposition"].to_str().unwrap().starts_with("inline;"));
    assert_eq!(h["x-frame-options"], "SAMEORIGIN");
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'self'"));
    let (_, detail) = client.get_text(&format!("/espace/documents/{id}")).await;
    assert!(detail.contains(&format!("src=\"/espace/documents/{id}/fichier?apercu=1\"")), "PDF shown in the page");
    // Pages themselves are never framable.
    let resp = client.get(&format!("/espace/documents/{id}")).await;
    assert_eq!(resp.headers()["x-frame-options"], "DENY");

    // The firm sees them in its document list, and the office was told.
    let office = app.login("bureau@demo.test").await;
    let (_, bo) = office.get_text(&format!("/bo/documents?chantier={site}")).await;
    assert!(bo.contains("Plan RDC.pdf") && bo.contains("métré.xml"));
    let told: i64 = scalar(
        &app.db,
        "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE u.email = 'bureau@demo.test' AND n.kind = 'new_document'",
    )
    .await;
    assert_eq!(told, 4);
    // Another company sees none of it.
    let other = app.login("autre.client@demo.test").await;
    assert_eq!(other.get(&format!("/espace/documents/{id}")).await.status(), 404);
    assert_eq!(other.get(&format!("/espace/documents/{id}/fichier")).await.status(), 404);
    let (_, list) = other.get_text("/espace/documents?q=plan").await;
    assert!(!list.contains("Plan RDC.pdf"));
    app.stop().await;
}

#[tokio::test]
async fn refused_files_are_explained_in_french_and_nothing_is_stored() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.max_upload_bytes = 64 * 1024).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let (site, _) = site_of(&app.db, "C001").await;
    let client = app.login("client@demo.test").await;
    let before = counts(&app.db).await;
    let objects = stored_objects(&app);

    let mut zip_bomb = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip_bomb));
        w.start_file("bombe.txt", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, &vec![0u8; 10 * 1024 * 1024]).unwrap();
        w.finish().unwrap();
    }
    let laughs = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>".to_vec();
    let mut truncated = sample_pdf();
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("plan.pdf", b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".to_vec(), 422, "n'est pas dans un format accepté"),
        ("plan.pdf", zip_bomb, 422, "n'est pas dans un format accepté"),
        ("etude.xml", laughs, 422, "DOCTYPE"),
        ("plan.pdf", truncated, 422, "PDF incomplet"),
        ("vide.pdf", Vec::new(), 422, "est vide"),
        ("gros.pdf", vec![b'%'; 100 * 1024], 413, "dépasse la taille maximale"),
    ];
    for (name, bytes, status, message) in cases {
        let resp = deposit(&client, "/espace/chantiers", site, "plan", &[(name, bytes)]).await;
        assert_eq!(resp.status().as_u16(), status, "{name}");
        let body = resp.text().await.unwrap().replace("&#39;", "'");
        assert!(body.contains(message), "{name}: {message} in {body}");
        assert!(body.contains("Aucun document n'a été déposé"));
    }
    // A PDF that ends well but does not open (no pages, garbage inside).
    let resp =
        deposit(&client, "/espace/chantiers", site, "plan", &[("faux.pdf", b"%PDF-1.7\ngarbage\n%%EOF\n".to_vec())])
            .await;
    assert_eq!(resp.status(), 422);
    // No type chosen: nothing is filed, the user is asked to pick one.
    let resp = deposit(&client, "/espace/chantiers", site, "", &[("plan.pdf", pdf("sans-type"))]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Choisissez le type"));
    let resp = deposit(&client, "/espace/chantiers", site, "inconnu", &[("plan.pdf", pdf("type-inconnu"))]).await;
    assert_eq!(resp.status(), 422);

    assert_eq!(counts(&app.db).await, before, "no row written");
    assert_eq!(stored_objects(&app), objects, "no bytes stored");

    // One good file among bad ones: the good one is filed, the page says which were refused.
    let resp = deposit(
        &client,
        "/espace/chantiers",
        site,
        "photo",
        &[("bon.png", png()), ("mauvais.jpg", b"GIF89a\x01\0\x01\0".to_vec())],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Certains fichiers n&#39;ont pas été déposés")
            || body.contains("Certains fichiers n'ont pas été déposés")
    );
    assert!(body.contains("« bon.png »"));
    assert_eq!(counts(&app.db).await.0, before.0 + 1);

    // Without the CSRF token, nothing at all.
    let form = Form::new().text("type", "plan").part("files", Part::bytes(pdf("csrf")).file_name("x.pdf"));
    let resp = client
        .http
        .post(client.url(&format!("/espace/chantiers/{site}/documents")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(counts(&app.db).await.0, before.0 + 1);
    app.stop().await;
}

#[tokio::test]
async fn a_new_upload_of_the_same_type_and_name_keeps_the_old_version() {
    let app = TestApp::spawn().await;
    let (site, _) = site_of(&app.db, "C001").await;
    let client = app.login("client.admin@demo.test").await;
    let first = pdf("version-1");
    let second = pdf("version-2");
    assert_eq!(
        deposit(&client, "/espace/chantiers", site, "building_permit", &[("Permis.pdf", first.clone())]).await.status(),
        303
    );
    let office = app.login("bureau@demo.test").await;
    assert_eq!(
        deposit(&office, "/bo/chantiers", site, "building_permit", &[("permis.PDF", second.clone())]).await.status(),
        303
    );
    // Another type with the same name is another document.
    assert_eq!(deposit(&client, "/espace/chantiers", site, "plan", &[("Permis.pdf", pdf("plan"))]).await.status(), 303);

    let rows: Vec<(i64, i64, bool)> = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT id, version, is_current FROM documents WHERE site_id = $1 AND document_type = 'building_permit' ORDER BY version"
    )
    .bind(site)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].1, rows[0].2), (1, false));
    assert_eq!((rows[1].1, rows[1].2), (2, true));
    let (old, new) = (rows[0].0, rows[1].0);

    // The site lists the newest only; its page lists both versions, each with its own bytes.
    let (_, page) = client.get_text(&format!("/espace/chantiers/{site}/documents")).await;
    assert!(page.contains("permis.PDF") && page.contains("v2"));
    assert!(!page.contains(&format!("data-document=\"{old}\"")));
    let (_, detail) = client.get_text(&format!("/espace/documents/{new}")).await;
    assert!(detail.contains("Versions") && detail.contains(&format!("/espace/documents/{old}/fichier")));
    let (_, old_page) = client.get_text(&format!("/espace/documents/{old}")).await;
    assert!(old_page.contains("Ceci est une ancienne version"));
    let got = client.get(&format!("/espace/documents/{old}/fichier")).await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), first.as_slice());
    let got = client.get(&format!("/espace/documents/{new}/fichier")).await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), second.as_slice());
    app.stop().await;
}

#[tokio::test]
async fn the_ticked_documents_download_as_one_zip_and_foreign_ids_get_nothing() {
    let app = TestApp::spawn().await;
    let (site, site_name) = site_of(&app.db, "C001").await;
    let client = app.login("client@demo.test").await;
    let plan = pdf("zip-plan");
    let photo = png();
    let resp = deposit(&client, "/espace/chantiers", site, "plan", &[("Plan R+1.pdf", plan.clone())]).await;
    assert_eq!(resp.status(), 303);
    let resp = deposit(&client, "/espace/chantiers", site, "photo", &[("Plan R+1.png", photo.clone())]).await;
    assert_eq!(resp.status(), 303);
    let a = document_id(&app.db, "Plan R+1.pdf").await;
    let b = document_id(&app.db, "Plan R+1.png").await;

    let resp = client.get(&format!("/espace/documents/archive.zip?ids={a}&ids={b}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let bytes = resp.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(zip.len(), 2);
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, vec![format!("{site_name}/Photo - Plan R+1.png"), format!("{site_name}/Plan - Plan R+1.pdf")]);
    let mut got = Vec::new();
    zip.by_name(&format!("{site_name}/Plan - Plan R+1.pdf")).unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, plan);

    // Nothing ticked, or an id of another company among them: no archive.
    let (status, body) = client.get_text("/espace/documents/archive.zip").await;
    assert_eq!(status, 400);
    assert!(body.contains("Cochez au moins un document"));
    let foreign: i64 = scalar(
        &app.db,
        "SELECT d.id FROM documents d JOIN clients c ON c.id = d.client_id WHERE c.code = 'C002' ORDER BY d.id LIMIT 1",
    )
    .await;
    assert_eq!(client.get(&format!("/espace/documents/archive.zip?ids={a},{foreign}")).await.status(), 404);
    assert_eq!(client.get("/espace/documents/archive.zip?ids=abc").await.status(), 400);
    // Staff take any client's documents.
    let staff = app.login("technicien@demo.test").await;
    assert_eq!(staff.get(&format!("/bo/documents/archive.zip?ids={a},{foreign}")).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn an_archived_site_takes_no_client_documents_and_staff_still_file_them() {
    let app = TestApp::spawn().await;
    let (site, _) = site_of(&app.db, "C001").await;
    on_db!(&app.db, |p| sqlx::query("UPDATE sites SET archived = TRUE WHERE id = $1")
        .bind(site)
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    let client = app.login("client@demo.test").await;
    let (status, page) = client.get_text(&format!("/espace/chantiers/{site}/documents")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("Déposer des documents"));
    assert_eq!(deposit(&client, "/espace/chantiers", site, "photo", &[("photo.png", png())]).await.status(), 403);
    let office = app.login("bureau@demo.test").await;
    assert_eq!(deposit(&office, "/bo/chantiers", site, "photo", &[("photo.png", png())]).await.status(), 303);
    // The client's users are told of a document the firm filed.
    let told: i64 = scalar(
        &app.db,
        "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE u.email = 'client@demo.test' AND n.kind = 'new_document'",
    )
    .await;
    assert_eq!(told, 1);
    app.stop().await;
}
