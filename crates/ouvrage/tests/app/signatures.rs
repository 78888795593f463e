//! Justificatifs à signer: staff put a PDF up for signature on a site; the client signs it on
//! paper (download, scan, upload) or on screen (a drawn signature sealed with the firm's
//! certificate, which `pdfsig` checks); the evidence log keeps every step and cannot be changed.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use ouvrage::db::Db;
use ouvrage::{exec_db, on_db};
use reqwest::multipart::{Form, Part};

use crate::support::*;

async fn scalar_i64(db: &Db, sql: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(p).await).unwrap()
}

/// A site of the demo client C001 (the company of client.admin@ and client@demo.test).
async fn c001_site(db: &Db) -> i64 {
    scalar_i64(
        db,
        "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = 'C001' AND s.archived = FALSE
         ORDER BY s.id LIMIT 1",
    )
    .await
}

async fn user_id(db: &Db, email: &str) -> i64 {
    scalar_i64(db, &format!("SELECT id FROM users WHERE email = '{email}'")).await
}

async fn last_request(db: &Db) -> i64 {
    scalar_i64(db, "SELECT MAX(id) FROM signature_requests").await
}

async fn request_status(db: &Db, id: i64) -> (String, String, Option<i64>) {
    on_db!(db, |p| sqlx::query_as::<_, (String, String, Option<i64>)>(
        "SELECT status, method, signed_document_id FROM signature_requests WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn events(db: &Db, id: i64) -> Vec<String> {
    on_db!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT event FROM signature_evidence WHERE request_id = $1 ORDER BY id"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// Staff put `pdf` up for signature on `site` through the form (multipart, token in the URL).
async fn request_signature(
    staff: &Browser,
    site: i64,
    pdf: Option<Vec<u8>>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = staff.csrf(&format!("/bo/chantiers/{site}/signatures")).await;
    let mut form = Form::new();
    if let Some(pdf) = pdf {
        form = form.part("file", Part::bytes(pdf).file_name("attestation-fin-de-travaux.pdf"));
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let url = staff.url(&format!("/bo/chantiers/{site}/signatures?_csrf={token}"));
    staff.http.post(url).multipart(form).send().await.expect("POST")
}

/// A new request on a C001 site, by the office, for `signer` (any authorised user when `None`).
async fn new_request(app: &TestApp, title: &str, signer: Option<&str>) -> i64 {
    let staff = app.login("bureau@demo.test").await;
    let site = c001_site(&app.db).await;
    let signer_id = match signer {
        Some(email) => user_id(&app.db, email).await.to_string(),
        None => String::new(),
    };
    let pdf = ouvrage_pdfsign::sample_pdf(2, title);
    let resp = request_signature(&staff, site, Some(pdf), &[("title", title), ("signer", &signer_id)]).await;
    assert_eq!(resp.status(), 303, "the request is created: {}", resp.text().await.unwrap());
    last_request(&app.db).await
}

/// A signature as the pad exports it: a transparent PNG with a dark wavy stroke.
fn drawn_signature() -> String {
    let (w, h) = (400u32, 120u32);
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for x in 20..380u32 {
        let y = (60.0 + 30.0 * ((x as f64) / 25.0).sin()) as u32;
        for dy in 0..3 {
            let i = (((y + dy) * w + x) * 4) as usize;
            rgba[i..i + 4].copy_from_slice(&[20, 37, 74, 255]);
        }
    }
    data_url(w, h, &rgba)
}

fn data_url(w: u32, h: u32, rgba: &[u8]) -> String {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(rgba).unwrap();
    }
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(out))
}

/// Posts the signature form (the token taken from the list, so that the evidence log records
/// only the showings the test asks for).
async fn sign(b: &Browser, id: i64, signature: &str, confirm: bool) -> reqwest::Response {
    let mut fields = vec![("signature", signature)];
    if confirm {
        fields.push(("confirm", "on"));
    }
    b.submit("/espace/signatures", &format!("/espace/signatures/{id}/signer"), &fields).await
}

/// Text as the templates escape it.
fn html(text: &str) -> String {
    text.replace('&', "&#38;").replace('\'', "&#39;").replace('"', "&#34;").replace('<', "&#60;").replace('>', "&#62;")
}

fn sha256_hex(bytes: &[u8]) -> String {
    ouvrage::features::files::storage::sha256_hex(bytes)
}

/// What `pdfsig` says of a PDF.
fn pdfsig(dir: &Path, name: &str, pdf: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("/usr/bin/pdfsig").arg(&path).output().expect("pdfsig runs (apt-get install poppler-utils)");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn pdftotext(dir: &Path, pdf: &[u8]) -> String {
    let path = dir.join("text.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("/usr/bin/pdftotext").arg(&path).arg("-").output().expect("pdftotext runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The signed file with one byte changed inside the part the signature covers (in the first
/// page's content), the way a forger would edit it.
fn tampered(pdf: &[u8]) -> Vec<u8> {
    let mut out = pdf.to_vec();
    let text = String::from_utf8_lossy(pdf);
    let br = text.find("/ByteRange").expect("a signature dictionary");
    let nums: Vec<usize> = text[br..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(4)
        .map(|s| s.parse().unwrap())
        .collect();
    let first_end = nums[1];
    let at = match out.windows(6).position(|w| w == b"stream") {
        Some(p) if p + 40 < first_end => p + 30,
        _ => first_end / 2,
    };
    out[at] ^= 0x01;
    out
}

#[tokio::test]
async fn electronic_signature_seals_a_pdf_that_pdfsig_validates_and_tampering_breaks() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation de fin de travaux", None).await;
    let (status, method, _) = request_status(&app.db, id).await;
    assert_eq!((status.as_str(), method.as_str()), ("pending", ""));
    let original_sha: String =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT original_sha256 FROM signature_requests WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();

    // The client's users are told; the list offers both ways to sign.
    let claire = user_id(&app.db, "client.admin@demo.test").await;
    let told = scalar_i64(
        &app.db,
        &format!("SELECT COUNT(*) FROM notifications WHERE user_id = {claire} AND kind = 'signature_requested'"),
    )
    .await;
    assert_eq!(told, 1);
    let client = app.login("client.admin@demo.test").await;
    let (s, list) = client.get_text("/espace/signatures").await;
    assert_eq!(s, 200);
    assert!(list.contains("Attestation de fin de travaux"), "{list}");
    assert!(list.contains("Signature papier") && list.contains("Signature électronique"));
    assert!(list.contains(&format!("href=\"/espace/signatures/{id}\"")));

    // The site's documents page has the same section, on both faces.
    let site = c001_site(&app.db).await;
    let (s, docs) = client.get_text(&format!("/espace/chantiers/{site}/documents")).await;
    assert_eq!(s, 200);
    assert!(docs.contains("Justificatifs à signer") && docs.contains(&format!("/espace/signatures/{id}/papier")));
    let staff = app.login("bureau@demo.test").await;
    let (_, docs) = staff.get_text(&format!("/bo/chantiers/{site}/documents")).await;
    assert!(docs.contains(&format!("href=\"/bo/signatures/{id}\"")), "{docs}");

    // The signature page shows the document and the pad, with its script and no inline code.
    let (s, page) = client.get_text(&format!("/espace/signatures/{id}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("<canvas id=\"signature-pad\""), "{page}");
    assert!(page.contains("<script src=\"/static/signature.js\" defer></script>"));
    assert!(page.contains("/fichier?apercu=1"), "the PDF is shown in the page");
    assert!(page.contains("Je certifie avoir lu le document et le signer en tant que Claire Moreau"));
    assert!(!page.contains("onclick") && !page.contains("style=\""), "no inline script or style");
    let js = client.get("/static/signature.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("pointerdown"));

    // Sign.
    let resp = sign(&client, id, &drawn_signature(), true).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(location(&resp), "/espace/signatures?msg=signe");
    let (status, method, signed_doc) = request_status(&app.db, id).await;
    assert_eq!((status.as_str(), method.as_str()), ("signed", "electronic"));
    let signed_doc = signed_doc.expect("the signed document is linked");
    let title: String = on_db!(&app.db, |p| sqlx::query_scalar("SELECT title FROM documents WHERE id = $1")
        .bind(signed_doc)
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(title, "Attestation de fin de travaux (signé)");
    let (_, list) = client.get_text("/espace/signatures?msg=signe").await;
    assert!(list.contains(&format!("/espace/documents/{signed_doc}/fichier")), "the signed PDF is offered: {list}");

    // The signed PDF: pdfsig says valid; one changed byte makes it invalid.
    let signed = client.get(&format!("/espace/documents/{signed_doc}/fichier")).await;
    assert_eq!(signed.status(), 200);
    let signed = signed.bytes().await.unwrap().to_vec();
    assert!(signed.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let report = pdfsig(dir.path(), "signed.pdf", &signed);
    assert!(report.contains("Signature is Valid."), "pdfsig on the signed PDF: {report}");
    let firm: String = on_db!(&app.db, |p| sqlx::query_scalar("SELECT legal_name FROM tenants ORDER BY id LIMIT 1")
        .fetch_one(p)
        .await)
    .unwrap();
    assert!(report.contains(&firm), "sealed with the firm's certificate ({firm}): {report}");
    let report = pdfsig(dir.path(), "tampered.pdf", &tampered(&signed));
    assert!(!report.contains("Signature is Valid."), "pdfsig on the tampered PDF: {report}");
    assert!(report.contains("Invalid") || report.contains("Mismatch"), "{report}");

    // The evidence page names the signer, the IP and the original's SHA-256.
    let text = pdftotext(dir.path(), &signed);
    assert!(text.contains("Claire Moreau"), "{text}");
    assert!(text.contains("client.admin@demo.test"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(text.contains(&original_sha), "the SHA-256 of the original: {text}");
    assert!(text.contains("Maisons Horizon Atlantique"), "{text}");

    // The evidence log: requested, shown, signed (with the signed file's SHA-256).
    assert_eq!(events(&app.db, id).await, ["requested", "shown", "signed"]);
    let signed_sha: String = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT sha256 FROM signature_evidence WHERE request_id = $1 AND event = 'signed'"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(signed_sha, sha256_hex(&signed));
    let ua: String = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT ip || ' ' || user_label FROM signature_evidence WHERE request_id = $1 AND event = 'signed'"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(ua, "127.0.0.1 Claire Moreau <client.admin@demo.test>");

    // The office is told, and its page of the request shows the log.
    let office = user_id(&app.db, "bureau@demo.test").await;
    let told = scalar_i64(
        &app.db,
        &format!("SELECT COUNT(*) FROM notifications WHERE user_id = {office} AND kind = 'signature_signed'"),
    )
    .await;
    assert_eq!(told, 1);
    let (s, detail) = staff.get_text(&format!("/bo/signatures/{id}")).await;
    assert_eq!(s, 200);
    for needle in ["Mis à signer", "Affiché pour signature", "Signé électroniquement", "127.0.0.1", &signed_sha] {
        assert!(detail.contains(needle), "the evidence log shows {needle}: {detail}");
    }
    let (_, list) = staff.get_text("/bo/signatures?statut=signed").await;
    assert!(list.contains("Attestation de fin de travaux"));
    let (_, list) = staff.get_text("/bo/signatures?statut=pending").await;
    assert!(!list.contains("Attestation de fin de travaux"));

    // Signing again is refused, and files nothing more.
    let again = sign(&client, id, &drawn_signature(), true).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("déjà été signé"));
    let (s, _) = client.get_text(&format!("/espace/signatures/{id}")).await;
    assert_eq!(s, 409);
    let signed_docs = scalar_i64(&app.db, "SELECT COUNT(*) FROM documents WHERE title LIKE '%(signé)'").await;
    assert_eq!(signed_docs, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_double_click_files_one_signed_document() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Procès-verbal de réception", None).await;
    let client = app.login("client.admin@demo.test").await;
    let token = client.csrf(&format!("/espace/signatures/{id}")).await;
    let signature = drawn_signature();
    let form = [("_csrf", token.as_str()), ("signature", signature.as_str()), ("confirm", "on")];
    let url = client.url(&format!("/espace/signatures/{id}/signer"));
    let (a, b) = tokio::join!(client.http.post(&url).form(&form).send(), client.http.post(&url).form(&form).send());
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    let signed_docs = scalar_i64(&app.db, "SELECT COUNT(*) FROM documents WHERE title LIKE '%(signé)'").await;
    assert_eq!(signed_docs, 1);
    assert_eq!(events(&app.db, id).await.iter().filter(|e| *e == "signed").count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_blank_pad_a_fake_image_or_no_confirmation_signs_nothing() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation", None).await;
    let client = app.login("client.admin@demo.test").await;

    let blank = data_url(200, 80, &vec![0u8; 200 * 80 * 4]);
    let resp = sign(&client, id, &blank, true).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Le cadre de signature est vide"));

    let fake = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(b"<svg/>"));
    let resp = sign(&client, id, &fake, true).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("illisible"));

    let resp = sign(&client, id, "", true).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Tracez votre signature"));

    let resp = sign(&client, id, &drawn_signature(), false).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Cochez"));

    assert_eq!(request_status(&app.db, id).await.0, "pending");
    assert!(!events(&app.db, id).await.contains(&"signed".to_string()));
    app.stop().await;
}

#[tokio::test]
async fn paper_path_downloads_the_original_and_files_the_scan_as_the_signed_version() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation papier", None).await;
    let original_sha: String =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT original_sha256 FROM signature_requests WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();
    // client@demo.test may sign on paper like any user of the company.
    let client = app.login("client@demo.test").await;
    let original = client.get(&format!("/espace/signatures/{id}/original")).await;
    assert_eq!(original.status(), 200);
    assert!(original.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(sha256_hex(&original.bytes().await.unwrap()), original_sha);

    let token = client.csrf("/espace/signatures").await;
    let paper = |bytes: Vec<u8>, name: &'static str| {
        let form = Form::new().part("scan", Part::bytes(bytes).file_name(name));
        client.http.post(client.url(&format!("/espace/signatures/{id}/papier?_csrf={token}"))).multipart(form).send()
    };
    // Something that is not a PDF or an image is refused, on the list with the reason.
    let resp = paper(b"<?xml version=\"1.0\"?><a/>".to_vec(), "scan.xml").await.unwrap();
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("PDF ou une image JPEG ou PNG"));
    assert_eq!(request_status(&app.db, id).await.0, "pending");

    // A photo of the signed page.
    let scan = {
        let url = drawn_signature();
        base64::engine::general_purpose::STANDARD.decode(url.trim_start_matches("data:image/png;base64,")).unwrap()
    };
    let resp = paper(scan.clone(), "scan-signé.png").await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/signatures?msg=papier");
    let (status, method, doc) = request_status(&app.db, id).await;
    assert_eq!((status.as_str(), method.as_str()), ("signed", "paper"));
    let doc = doc.unwrap();
    let (title, doc_type, sha): (String, String, String) = on_db!(&app.db, |p| {
        sqlx::query_as(
        "SELECT d.title, d.document_type, f.sha256 FROM documents d JOIN files f ON f.id = d.file_id WHERE d.id = $1"
    )
    .bind(doc)
    .fetch_one(p)
    .await
    })
    .unwrap();
    assert_eq!((title.as_str(), doc_type.as_str()), ("Attestation papier (signé)", "supporting_document"));
    assert_eq!(sha, sha256_hex(&scan));
    assert_eq!(events(&app.db, id).await, ["requested", "downloaded", "paper_signed"]);
    let (_, list) = client.get_text("/espace/signatures").await;
    assert!(list.contains("signature papier (scan)"), "{list}");
    // Once signed, another scan is refused.
    let resp = paper(scan, "encore.png").await.unwrap();
    assert_eq!(resp.status(), 409);
    app.stop().await;
}

#[tokio::test]
async fn a_user_without_the_permission_cannot_sign_on_screen() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation réservée", None).await;
    exec_db!(&app.db, |p| sqlx::query("UPDATE users SET permissions = '' WHERE email = 'client@demo.test'")
        .execute(p)
        .await)
    .unwrap();
    let client = app.login("client@demo.test").await;
    let (s, list) = client.get_text("/espace/signatures").await;
    assert_eq!(s, 200);
    assert!(list.contains("Attestation réservée") && list.contains("Signature papier"));
    assert!(!list.contains("Signature électronique"), "the action is not offered: {list}");
    let (s, _) = client.get_text(&format!("/espace/signatures/{id}")).await;
    assert_eq!(s, 403);
    // The form of a user who has the permission, replayed by this one: refused.
    let token = client.csrf("/espace/signatures").await;
    let signature = drawn_signature();
    let resp = client
        .http
        .post(client.url(&format!("/espace/signatures/{id}/signer")))
        .form(&[("_csrf", token.as_str()), ("signature", signature.as_str()), ("confirm", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(request_status(&app.db, id).await, ("pending".to_string(), String::new(), None));
    assert_eq!(events(&app.db, id).await, ["requested"]);
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM documents WHERE title LIKE '%(signé)'").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_request_naming_a_user_is_seen_by_the_company_and_signed_by_that_user_only() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation nominative", Some("client@demo.test")).await;
    // Only the named user is told.
    let told = scalar_i64(&app.db, "SELECT COUNT(*) FROM notifications WHERE kind = 'signature_requested'").await;
    assert_eq!(told, 1);

    let admin = app.login("client.admin@demo.test").await;
    let (_, list) = admin.get_text("/espace/signatures").await;
    assert!(list.contains("Attestation nominative") && list.contains("À signer par Julien Lefèvre"), "{list}");
    assert!(!list.contains(&format!("/espace/signatures/{id}/papier")), "no paper upload for another signer");
    let (s, _) = admin.get_text(&format!("/espace/signatures/{id}")).await;
    assert_eq!(s, 403);
    assert_eq!(sign(&admin, id, &drawn_signature(), true).await.status(), 403);
    let token = admin.csrf("/espace/signatures").await;
    let form = Form::new().part("scan", Part::bytes(ouvrage_pdfsign::sample_pdf(1, "scan")).file_name("scan.pdf"));
    let resp = admin
        .http
        .post(admin.url(&format!("/espace/signatures/{id}/papier?_csrf={token}")))
        .multipart(form)
        .send()
        .await;
    assert_eq!(resp.unwrap().status(), 403);
    assert_eq!(request_status(&app.db, id).await.0, "pending");

    let julien = app.login("client@demo.test").await;
    let (_, list) = julien.get_text("/espace/signatures").await;
    assert!(list.contains("Signature électronique"));
    assert_eq!(sign(&julien, id, &drawn_signature(), true).await.status(), 303);
    assert_eq!(request_status(&app.db, id).await.0, "signed");
    app.stop().await;
}

#[tokio::test]
async fn another_company_sees_nothing_of_the_request() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation confidentielle", None).await;
    let other = app.login("autre.client@demo.test").await;
    let (_, list) = other.get_text("/espace/signatures").await;
    assert!(!list.contains("Attestation confidentielle"));
    for path in [format!("/espace/signatures/{id}"), format!("/espace/signatures/{id}/original")] {
        let (s, body) = other.get_text(&path).await;
        assert_eq!(s, 404, "{path}");
        assert!(!body.contains("Attestation confidentielle"));
    }
    assert_eq!(sign(&other, id, &drawn_signature(), true).await.status(), 404);
    let token = other.csrf("/espace/signatures").await;
    let form = Form::new().part("scan", Part::bytes(ouvrage_pdfsign::sample_pdf(1, "scan")).file_name("scan.pdf"));
    let resp = other
        .http
        .post(other.url(&format!("/espace/signatures/{id}/papier?_csrf={token}")))
        .multipart(form)
        .send()
        .await;
    assert_eq!(resp.unwrap().status(), 404);
    // Client users do not reach the back office's pages of it either.
    let (s, _) = other.get_text(&format!("/bo/signatures/{id}")).await;
    assert_eq!(s, 403);
    assert_eq!(request_status(&app.db, id).await.0, "pending");
    assert_eq!(events(&app.db, id).await, ["requested"]);
    app.stop().await;
}

#[tokio::test]
async fn the_evidence_log_is_append_only_and_records_each_step() {
    let app = TestApp::spawn().await;
    let id = new_request(&app, "Attestation tracée", None).await;
    let client = app.login("client.admin@demo.test").await;
    assert_eq!(client.get(&format!("/espace/signatures/{id}/original")).await.status(), 200);
    assert_eq!(client.get(&format!("/espace/signatures/{id}")).await.status(), 200);
    assert_eq!(sign(&client, id, &drawn_signature(), true).await.status(), 303);
    assert_eq!(events(&app.db, id).await, ["requested", "downloaded", "shown", "signed"]);

    let update =
        exec_db!(&app.db, |p| sqlx::query("UPDATE signature_evidence SET ip = '10.0.0.1' WHERE request_id = $1")
            .bind(id)
            .execute(p)
            .await);
    assert!(update.is_err(), "an evidence row cannot be changed");
    let delete = exec_db!(&app.db, |p| sqlx::query("DELETE FROM signature_evidence WHERE request_id = $1")
        .bind(id)
        .execute(p)
        .await);
    assert!(delete.is_err(), "an evidence row cannot be removed");
    assert_eq!(events(&app.db, id).await, ["requested", "downloaded", "shown", "signed"]);
    let ips = scalar_i64(
        &app.db,
        &format!("SELECT COUNT(*) FROM signature_evidence WHERE request_id = {id} AND ip = '10.0.0.1'"),
    )
    .await;
    assert_eq!(ips, 0);

    let staff = app.login("bureau@demo.test").await;
    let (_, detail) = staff.get_text(&format!("/bo/signatures/{id}")).await;
    for code in ["requested", "downloaded", "shown", "signed"] {
        assert!(detail.contains(&format!("data-event=\"{code}\"")), "{code} is listed");
    }
    assert!(detail.contains("Original téléchargé"));
    app.stop().await;
}

#[tokio::test]
async fn staff_choose_the_page_the_place_and_an_existing_pdf_and_bad_input_is_refused() {
    let app = TestApp::spawn().await;
    let site = c001_site(&app.db).await;
    let staff = app.login("bureau@demo.test").await;
    let (s, page) = staff.get_text(&format!("/bo/chantiers/{site}/documents")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Mettre un document à signer") && page.contains("En haut à gauche"), "{page}");

    // A page the PDF does not have.
    let pdf = ouvrage_pdfsign::sample_pdf(2, "Deux pages");
    let resp = request_signature(&staff, site, Some(pdf.clone()), &[("page", "5")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains(&html("La page 5 n'existe pas : ce document en compte 2.")));
    let resp = request_signature(&staff, site, Some(pdf.clone()), &[("anchor", "milieu")]).await;
    assert_eq!(resp.status(), 422);
    // Not a PDF; nothing at all.
    let resp = request_signature(&staff, site, Some(b"\x89PNG\r\n\x1a\n".to_vec()), &[]).await;
    assert_eq!(resp.status(), 422);
    let resp = request_signature(&staff, site, None, &[("title", "Rien")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Choisissez le PDF à faire signer"));
    // A signer of another company.
    let other = user_id(&app.db, "autre.client@demo.test").await.to_string();
    let resp = request_signature(&staff, site, Some(pdf.clone()), &[("signer", &other)]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains(&html("n'est pas un utilisateur actif de ce client")));
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM signature_requests").await, 0);
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM documents WHERE title = 'Deux pages'").await, 0);

    // Page 1, top left: filed as a Justificatif, then signed with the stamp on page 1.
    let resp =
        request_signature(&staff, site, Some(pdf), &[("title", "Deux pages"), ("page", "1"), ("anchor", "top_left")])
            .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/chantiers/{site}/documents?msg=signature"));
    let id = last_request(&app.db).await;
    let (page, anchor, doc_type): (Option<i64>, String, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT r.stamp_page, r.anchor, d.document_type FROM signature_requests r JOIN documents d ON d.id = r.document_id
         WHERE r.id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!((page, anchor.as_str(), doc_type.as_str()), (Some(1), "top_left", "supporting_document"));

    // An existing PDF of the site, chosen from the list.
    let doc: i64 = scalar_i64(&app.db, &format!("SELECT document_id FROM signature_requests WHERE id = {id}")).await;
    let (_, form) = staff.get_text(&format!("/bo/chantiers/{site}/signatures")).await;
    assert!(form.contains(&format!("<option value=\"{doc}\"")), "the site's PDFs are offered");
    let resp =
        request_signature(&staff, site, None, &[("document", &doc.to_string()), ("title", "Deux pages, bis")]).await;
    assert_eq!(resp.status(), 303);
    let again = last_request(&app.db).await;
    assert_eq!(
        scalar_i64(&app.db, &format!("SELECT document_id FROM signature_requests WHERE id = {again}")).await,
        doc
    );
    // An id that is no PDF of this site.
    let unknown_doc = scalar_i64(&app.db, "SELECT MAX(id) FROM documents").await + 1000;
    let resp = request_signature(&staff, site, None, &[("document", &unknown_doc.to_string())]).await;
    assert_eq!(resp.status(), 422);

    // Technicians do not put documents up for signature; clients do not reach the form.
    let tech = app.login("technicien@demo.test").await;
    assert_eq!(tech.get(&format!("/bo/chantiers/{site}/signatures")).await.status(), 403);
    let client = app.login("client.admin@demo.test").await;
    assert_eq!(client.get(&format!("/bo/chantiers/{site}/signatures")).await.status(), 403);

    // Cancelling: the client can no longer sign.
    let resp = staff.submit(&format!("/bo/signatures/{again}"), &format!("/bo/signatures/{again}/annuler"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(request_status(&app.db, again).await.0, "cancelled");
    assert_eq!(events(&app.db, again).await, ["requested", "cancelled"]);
    let resp = staff.submit(&format!("/bo/signatures/{again}"), &format!("/bo/signatures/{again}/annuler"), &[]).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(sign(&client, again, &drawn_signature(), true).await.status(), 409);
    let (_, list) = client.get_text("/espace/signatures").await;
    assert!(!list.contains("Deux pages, bis"), "cancelled requests leave the client's list");
    app.stop().await;
}

/// A PKCS#12 file made with the openssl CLI: an ECDSA P-256 key and its self-signed certificate.
fn make_pkcs12(dir: &Path, common_name: &str, password: &str) -> Vec<u8> {
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    let p12 = dir.join("id.p12");
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"])
        .arg("-subj")
        .arg(format!("/CN={common_name}/O=Cabinet Test"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let ok = Command::new("openssl")
        .args(["pkcs12", "-export", "-inkey"])
        .arg(&key)
        .arg("-in")
        .arg(&cert)
        .arg("-out")
        .arg(&p12)
        .arg("-passout")
        .arg(format!("pass:{password}"))
        .output()
        .expect("openssl runs");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    std::fs::read(p12).unwrap()
}

async fn upload_p12(admin: &Browser, bytes: Vec<u8>, password: &str) -> reqwest::Response {
    // Any back-office page carries the token (the office has no access to the settings page).
    let token = admin.csrf("/bo").await;
    let form =
        Form::new().part("p12", Part::bytes(bytes).file_name("certificat.p12")).text("password", password.to_string());
    admin.http.post(admin.url(&format!("/bo/parametres/signature?_csrf={token}"))).multipart(form).send().await.unwrap()
}

#[tokio::test]
async fn the_admin_installs_a_pkcs12_certificate_which_then_seals_signatures() {
    let app = TestApp::spawn().await;
    let admin = app.login("admin@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    assert_eq!(office.get("/bo/parametres/signature").await.status(), 403, "admin only");

    // The firm's certificate was generated when the firm was set up: shown before any signature.
    let generated: (String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT subject, source FROM signing_identities WHERE active = TRUE")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(generated.1, "generated");
    assert!(generated.0.contains("Mesures & Contrôles Atlantique"), "{}", generated.0);
    let id = new_request(&app, "Première signature", None).await;
    let client = app.login("client.admin@demo.test").await;
    assert_eq!(sign(&client, id, &drawn_signature(), true).await.status(), 303);
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM signing_identities").await, 1, "the first signature used it");
    let (_, page) = admin.get_text("/bo/parametres/signature").await;
    assert!(page.contains(&html(&generated.0)) && page.contains("Généré automatiquement"), "{page}");
    assert!(!page.contains("PRIVATE KEY"), "the key is never shown");

    let dir = tempfile::tempdir().unwrap();
    let p12 = make_pkcs12(dir.path(), "Cabinet Test Signature", "s3cret-p12");
    // A wrong password and a file that is not a PKCS#12 change nothing.
    let resp = upload_p12(&admin, p12.clone(), "mauvais").await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Le mot de passe du certificat est incorrect."));
    let resp = upload_p12(&admin, b"pas un certificat".to_vec(), "s3cret-p12").await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("PKCS#12"));
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM signing_identities").await, 1);
    // The office cannot install one.
    assert_eq!(upload_p12(&office, p12.clone(), "s3cret-p12").await.status(), 403);

    let resp = upload_p12(&admin, p12, "s3cret-p12").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/bo/parametres/signature?msg=certificat");
    let (_, page) = admin.get_text("/bo/parametres/signature?msg=certificat").await;
    assert!(page.contains("Cabinet Test Signature") && page.contains("PKCS#12"), "{page}");
    assert!(page.contains("Certificats précédents") && page.contains(&html(&generated.0)), "the old one is kept");
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM signing_identities WHERE active = TRUE").await, 1);
    assert_eq!(scalar_i64(&app.db, "SELECT COUNT(*) FROM signing_identities").await, 2);

    // The next signature is sealed with the uploaded certificate.
    let id = new_request(&app, "Deuxième signature", None).await;
    assert_eq!(sign(&client, id, &drawn_signature(), true).await.status(), 303);
    let doc = request_status(&app.db, id).await.2.unwrap();
    let signed = client.get(&format!("/espace/documents/{doc}/fichier")).await.bytes().await.unwrap();
    let report = pdfsig(dir.path(), "p12.pdf", &signed);
    assert!(report.contains("Signature is Valid."), "{report}");
    assert!(report.contains("Cabinet Test Signature"), "the signer certificate is the uploaded one: {report}");
    app.stop().await;
}
