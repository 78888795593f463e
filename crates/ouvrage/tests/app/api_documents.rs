//! Documents through the integrator API: filed on a site of the token's client with the checks
//! of the web, listed, read back byte for byte; published as a report or an invoice with the
//! same notifications and e-mail as the office's form; another client's sites and documents are
//! not found; refusals are French problem details; the OpenAPI document describes it all.

use ouvrage::db::Db;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::published::{
    BILLING_C001, INVOICE_XML, app_sending_to, count, invoice_pdf, mails_for, mime_parts, notification_kind, shows_new,
    site_of, tiny_pdf,
};
use crate::smtp::SmtpServer;
use crate::support::*;

async fn token(db: &Db, client_code: &str, name: &str) -> String {
    ouvrage::cli::create_token_cli(db, "demo", client_code, name).await.expect("token created")
}

struct Answer {
    status: u16,
    content_type: String,
    location: String,
    json: Value,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (content_type, location) = (header("content-type"), header("location"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
    Answer { status, content_type, location, json }
}

/// Posts a document (`file` part and text parts) to a site.
async fn post_document(
    app: &TestApp,
    token: Option<&str>,
    site: i64,
    file: Option<(&str, Vec<u8>)>,
    fields: &[(&str, &str)],
) -> Answer {
    let mut form = Form::new();
    if let Some((name, bytes)) = file {
        form = form.part("file", Part::bytes(bytes).file_name(name.to_string()));
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut req = reqwest::Client::new().post(app.url(&format!("/api/v1/sites/{site}/documents"))).multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(req.send().await.unwrap()).await
}

fn get(app: &TestApp, token: Option<&str>, path: &str) -> reqwest::RequestBuilder {
    let req = reqwest::Client::new().get(app.url(path));
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

fn assert_problem(a: &Answer, status: u16, detail_has: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.json);
    assert_eq!(a.json["status"], status);
    assert!(a.json["instance"].as_str().unwrap().starts_with("/api/"), "{}", a.json);
    let detail = a.json["detail"].as_str().unwrap();
    assert!(detail.contains(detail_has), "detail «{detail}» should mention «{detail_has}»");
}

const PROMISED: [&str; 6] = ["document_id", "sha256", "type", "title", "site_id", "created_at"];

#[tokio::test]
async fn a_document_filed_through_the_api_is_listed_and_read_back_byte_for_byte() {
    let app = app_sending_to(None).await;
    let db = &app.db;
    let t = token(db, "C001", "Logiciel de plans").await;
    let site = site_of(db, "C001").await;
    let pdf = invoice_pdf();

    let a = post_document(&app, Some(&t), site, Some(("Plan RDC.pdf", pdf.clone())), &[("type", "plan")]).await;
    assert_eq!(a.status, 201, "{}", a.json);
    assert!(a.content_type.starts_with("application/json"));
    for key in PROMISED {
        assert!(!a.json[key].is_null(), "{key} missing: {}", a.json);
    }
    let id = a.json["document_id"].as_i64().unwrap();
    assert_eq!(a.location, format!("/api/v1/documents/{id}"));
    assert_eq!(a.json["type"], "plan");
    assert_eq!(a.json["site_id"], site);
    assert_eq!(a.json["title"], "Plan RDC.pdf");
    assert_eq!(a.json["version"], 1);
    assert_eq!(a.json["size_bytes"], pdf.len());
    assert_eq!(a.json["sha256"], ouvrage::features::files::storage::sha256_hex(&pdf));
    assert_eq!(a.json["published_as"], Value::Null);
    assert_eq!(a.json["content_url"], format!("/api/v1/documents/{id}/content"));

    // The same title again is a new version; the list shows the current one.
    let again = post_document(&app, Some(&t), site, Some(("Plan RDC.pdf", tiny_pdf())), &[("type", "plan")]).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json["version"], 2);
    let v2 = again.json["document_id"].as_i64().unwrap();
    let resp = get(&app, Some(&t), &format!("/api/v1/sites/{site}/documents")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let total = resp.headers()["x-total-count"].to_str().unwrap().parse::<i64>().unwrap();
    let list: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(list.len() as i64, total);
    let mine: Vec<&Value> = list.iter().filter(|d| d["title"] == "Plan RDC.pdf").collect();
    assert_eq!(mine.len(), 1, "only the current version is listed");
    assert_eq!(mine[0]["document_id"], v2);
    assert_eq!(mine[0]["version"], 2);
    let resp = get(&app, Some(&t), &format!("/api/v1/sites/{site}/documents?type=photo")).send().await.unwrap();
    let photos: Vec<Value> = resp.json().await.unwrap();
    assert!(photos.iter().all(|d| d["type"] == "photo"));
    let bad = answer(
        get(&app, Some(&t), &format!("/api/v1/sites/{site}/documents?published_as=devis")).send().await.unwrap(),
    )
    .await;
    assert_problem(&bad, 400, "report ou invoice");

    // Read back: the object, and the bytes as they were sent (the first version too).
    let one = answer(get(&app, Some(&t), &format!("/api/v1/documents/{v2}")).send().await.unwrap()).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["document_id"], v2);
    let resp = get(&app, Some(&t), &format!("/api/v1/documents/{id}/content")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment") && disposition.contains("Plan RDC.pdf"), "{disposition}");
    assert!(resp.bytes().await.unwrap().as_ref() == pdf.as_slice(), "byte-identical");

    // Handed over by the client's software: the firm's office is told, not the client.
    let key = format!("document:{id}");
    assert_eq!(notification_kind(db, "bureau@demo.test", &key).await.map(|n| n.0), Some("new_document".into()));
    assert_eq!(notification_kind(db, "client@demo.test", &key).await, None);
    // Audited as the token.
    let label: String = on_db!(db, |p| sqlx::query_scalar(
        "SELECT actor_label FROM audit_log WHERE entity = 'document' AND entity_id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(label, "API : Logiciel de plans");
    app.stop().await;
}

#[tokio::test]
async fn an_invoice_published_through_the_api_is_mailed_and_notified_like_the_offices() {
    let smtp = SmtpServer::start().await;
    let app = app_sending_to(Some(&smtp)).await;
    let db = &app.db;
    let t = token(db, "C001", "Logiciel de facturation").await;
    let site = site_of(db, "C001").await;
    let pdf = invoice_pdf();
    let xml = std::fs::read(INVOICE_XML).unwrap();

    let form = Form::new()
        .part("file", Part::bytes(pdf.clone()).file_name("F2026-0099.pdf"))
        .part("xml", Part::bytes(xml).file_name("F2026-0099.xml"))
        .text("publish_as", "invoice")
        .text("title", "Facture F2026-0099");
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/sites/{site}/documents")))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 201, "{}", a.json);
    assert_eq!(a.json["type"], "invoice", "the type follows publish_as");
    assert_eq!(a.json["published_as"], "invoice");
    assert_eq!(a.json["has_xml_twin"], true);
    assert!(a.json["published_at"].is_string());
    let id = a.json["document_id"].as_i64().unwrap();

    let mails = mails_for(&smtp, BILLING_C001).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject().contains("Nouvelle facture F2026-0099"), "{}", mails[0].subject());
    let pdfs: Vec<_> =
        mime_parts(&mails[0].data).into_iter().filter(|p| p.content_type.starts_with("application/pdf")).collect();
    assert_eq!(pdfs.len(), 1);
    assert!(pdfs[0].body == pdf, "the PDF is attached");

    let key = format!("document:{id}");
    assert_eq!(notification_kind(db, "client.admin@demo.test", &key).await.map(|n| n.0), Some("new_invoice".into()));
    assert_eq!(notification_kind(db, "client@demo.test", &key).await, None, "no permission to see invoices");
    let boss = app.login("client.admin@demo.test").await;
    let (_, body) = boss.get_text("/espace/documents/factures").await;
    assert!(shows_new(&body, id));
    // The integrator reading it does not count as the client opening it.
    let resp = get(&app, Some(&t), &format!("/api/v1/documents/{id}/content")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let (_, body) = boss.get_text("/espace/documents/factures").await;
    assert!(shows_new(&body, id));

    // A report published through the API reaches every user of the company.
    let a = post_document(
        &app,
        Some(&t),
        site,
        Some(("rapport.pdf", tiny_pdf())),
        &[("publish_as", "report"), ("title", "Rapport d'intervention")],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.json);
    let report = a.json["document_id"].as_i64().unwrap();
    for email in ["client.admin@demo.test", "client@demo.test"] {
        let n = notification_kind(db, email, &format!("document:{report}")).await;
        assert_eq!(n, Some(("new_report".into(), format!("/espace/documents/{report}"))), "{email}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_with_french_problems_and_keeps_each_token_to_its_client() {
    let app = app_sending_to(None).await;
    let db = &app.db;
    let t = token(db, "C001", "Logiciel").await;
    let theirs = token(db, "C002", "Logiciel voisin").await;
    let site = site_of(db, "C001").await;
    let their_site = site_of(db, "C002").await;
    let documents = || count(db, "SELECT COUNT(*) FROM documents");
    let before = documents().await;

    // No token, or a wrong one: 401 on the three paths.
    let a = post_document(&app, None, site, Some(("p.pdf", tiny_pdf())), &[("type", "plan")]).await;
    assert_problem(&a, 401, "Authorization");
    for path in [format!("/api/v1/sites/{site}/documents"), "/api/v1/documents/1/content".to_string()] {
        let a = answer(get(&app, None, &path).send().await.unwrap()).await;
        assert_eq!(a.status, 401, "{path}");
        let a = answer(get(&app, Some("ouv_pas_un_jeton"), &path).send().await.unwrap()).await;
        assert_eq!(a.status, 401, "{path}");
    }

    // Another client's site: not found, for filing and for listing.
    let a = post_document(&app, Some(&t), their_site, Some(("p.pdf", tiny_pdf())), &[("type", "plan")]).await;
    assert_problem(&a, 404, "introuvable");
    let a = answer(get(&app, Some(&t), &format!("/api/v1/sites/{their_site}/documents")).send().await.unwrap()).await;
    assert_problem(&a, 404, "introuvable");
    // Another client's document: not found either, object or content.
    let filed = post_document(&app, Some(&theirs), their_site, Some(("x.pdf", tiny_pdf())), &[("type", "plan")]).await;
    assert_eq!(filed.status, 201);
    let their_doc = filed.json["document_id"].as_i64().unwrap();
    for path in [format!("/api/v1/documents/{their_doc}"), format!("/api/v1/documents/{their_doc}/content")] {
        let a = answer(get(&app, Some(&t), &path).send().await.unwrap()).await;
        assert_problem(&a, 404, "introuvable");
    }
    let before = before + 1;

    // An unknown type: 422 naming the firm's types.
    let a = post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[("type", "bon-de-livraison")]).await;
    assert_problem(&a, 422, "« bon-de-livraison » n'existe pas");
    assert!(a.json["allowed_types"].as_array().unwrap().iter().any(|t| t == "plan"), "{}", a.json);
    assert!(a.json["errors"]["type"].is_string());
    // Missing type, missing file, unknown publish_as: 400.
    let a = post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[]).await;
    assert_problem(&a, 400, "« type » manque");
    let a = post_document(&app, Some(&t), site, None, &[("type", "plan")]).await;
    assert_problem(&a, 400, "« file »");
    let a = post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[("publish_as", "devis")]).await;
    assert_problem(&a, 400, "report ou invoice");
    // Files the checks refuse: 422, whatever their name says.
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
    let a = post_document(&app, Some(&t), site, Some(("plan.pdf", exe)), &[("type", "plan")]).await;
    assert_problem(&a, 422, "n'est pas dans un format accepté");
    assert_eq!(a.json["type"], "https://ouvrage.fr/problemes/fichier-refuse");
    let dtd = b"<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e \"e\">]>\n<x>&e;</x>\n".to_vec();
    let a = post_document(&app, Some(&t), site, Some(("plan.xml", dtd)), &[("type", "plan")]).await;
    assert_problem(&a, 422, "DOCTYPE");
    let a = post_document(&app, Some(&t), site, Some(("vide.pdf", Vec::new())), &[("type", "plan")]).await;
    assert_problem(&a, 422, "vide");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
    let a = post_document(&app, Some(&t), site, Some(("r.png", png)), &[("publish_as", "report")]).await;
    assert_problem(&a, 422, "n'est pas un PDF");
    // Not multipart: 415.
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/sites/{site}/documents")))
        .bearer_auth(&t)
        .json(&serde_json::json!({"type": "plan"}))
        .send()
        .await
        .unwrap();
    assert_problem(&answer(resp).await, 415, "multipart/form-data");
    assert_eq!(documents().await, before, "nothing stored by a refused request");
    app.stop().await;
}

/// What fuzzing the API against its OpenAPI document (`.ci/schemathesis.sh`) found: each part
/// and parameter is read as the document describes it, and what it forbids is a 400 naming it
/// (before, an unknown part was ignored, an over-long text part silently dropped, an empty
/// `type` or `publish_as` taken for none).
#[tokio::test]
async fn uploads_and_lists_take_exactly_what_the_document_describes() {
    let app = app_sending_to(None).await;
    let db = &app.db;
    let t = token(db, "C001", "Logiciel").await;
    let site = site_of(db, "C001").await;
    let documents = || count(db, "SELECT COUNT(*) FROM documents");
    let before = documents().await;

    let long_title = "é".repeat(3000);
    for (fields, part, says) in [
        (vec![("type", "plan"), ("commentaire", "x")], "commentaire", "Partie inconnue"),
        (vec![("type", ""), ("publish_as", "report")], "type", "vide"),
        (vec![("type", "plan"), ("publish_as", "")], "publish_as", "report ou invoice"),
        (vec![("type", "plan"), ("title", long_title.as_str())], "title", "trop longue"),
        (vec![("type", "plan"), ("title", &long_title[..402])], "title", "200 caractères"),
    ] {
        let a = post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &fields).await;
        assert_problem(&a, 400, says);
        assert!(a.json["errors"][part].is_string(), "{fields:?}: {}", a.json);
    }
    // The Factur-X twin goes with an invoice only, as the document's `anyOf` says.
    let form = Form::new()
        .part("file", Part::bytes(tiny_pdf()).file_name("r.pdf"))
        .text("publish_as", "report")
        .part("xml", Part::bytes(std::fs::read(INVOICE_XML).unwrap()).file_name("f.xml"));
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/sites/{site}/documents")))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_problem(&a, 400, "facture publiée");
    assert!(a.json["errors"]["xml"].is_string());
    // A type code is taken as sent: with spaces it is no code of the firm (422, naming them).
    let a = post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[("type", " plan")]).await;
    assert_problem(&a, 422, "n'existe pas");
    // U+0000, which PostgreSQL text cannot hold (500 there before): no type has it, and a title
    // loses its control characters.
    let a = post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[("type", "pl\0an")]).await;
    assert_problem(&a, 422, "n'existe pas");
    let a = answer(get(&app, Some(&t), &format!("/api/v1/sites/{site}/documents?type=pl%00an")).send().await.unwrap())
        .await;
    assert_eq!((a.status, a.json.as_array().map(Vec::len)), (200, Some(0)), "{}", a.json);
    let a =
        post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[("type", "plan"), ("title", "Plan\0\nRDC")])
            .await;
    assert_eq!((a.status, a.json["title"].as_str()), (201, Some("Plan  RDC")), "{}", a.json);
    assert_eq!(documents().await, before + 1, "only the titled document was stored");
    // A title of 200 characters is taken.
    let title = "é".repeat(200);
    let a =
        post_document(&app, Some(&t), site, Some(("p.pdf", tiny_pdf())), &[("type", "plan"), ("title", &title)]).await;
    assert_eq!(a.status, 201, "{}", a.json);

    // The list's parameters.
    for (query, key) in [("per_page=501", "per_page"), ("page=0", "page"), ("published_as=", "published_as")] {
        let a =
            answer(get(&app, Some(&t), &format!("/api/v1/sites/{site}/documents?{query}")).send().await.unwrap()).await;
        assert_problem(&a, 400, "");
        assert!(a.json["errors"][key].is_string(), "{query}: {}", a.json);
    }
    let a = answer(
        get(&app, Some(&t), &format!("/api/v1/sites/{site}/documents?type=&per_page=500")).send().await.unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_document_gets_413() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.max_upload_bytes = 20_000).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let t = token(&app.db, "C001", "Logiciel").await;
    let site = site_of(&app.db, "C001").await;
    let a = post_document(&app, Some(&t), site, Some(("gros.pdf", invoice_pdf())), &[("type", "plan")]).await;
    assert_problem(&a, 413, "dépasse la taille maximale");
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_document_endpoints() {
    let app = TestApp::spawn().await;
    let resp = get(&app, None, "/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    for (path, method) in [
        ("/api/v1/sites/{site_id}/documents", "post"),
        ("/api/v1/sites/{site_id}/documents", "get"),
        ("/api/v1/documents/{id}", "get"),
        ("/api/v1/documents/{id}/content", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path}");
        assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{method} {path}");
        assert!(op["responses"]["401"].is_object() && op["responses"]["404"].is_object(), "{method} {path}");
    }
    let create = &doc["paths"]["/api/v1/sites/{site_id}/documents"]["post"];
    let form = &create["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert_eq!(form["properties"]["file"]["format"], "binary", "{form}");
    for part in ["type", "publish_as", "title", "xml"] {
        assert!(form["properties"][part].is_object(), "{part}: {form}");
    }
    for status in ["201", "400", "413", "422"] {
        assert!(create["responses"][status].is_object(), "{status}");
    }
    assert!(create["responses"]["422"]["content"]["application/problem+json"].is_object());
    // The rules between the parts, and no other parts.
    assert_eq!(form["additionalProperties"], false, "{form}");
    assert_eq!(form["properties"]["type"]["minLength"], 1, "{form}");
    assert_eq!(form["properties"]["title"]["maxLength"], 200, "{form}");
    assert_eq!(form["properties"]["publish_as"]["enum"], serde_json::json!(["report", "invoice"]), "{form}");
    let ways = form["anyOf"].as_array().unwrap();
    assert_eq!(ways[0]["properties"]["publish_as"]["const"], "invoice", "{form}");
    assert!(ways[1..].iter().all(|w| w["properties"]["xml"] == false), "{form}");
    let list = &doc["paths"]["/api/v1/sites/{site_id}/documents"]["get"]["parameters"];
    let per_page = list.as_array().unwrap().iter().find(|p| p["name"] == "per_page").unwrap();
    assert_eq!(per_page["schema"]["maximum"], 500);
    let document = &doc["components"]["schemas"]["Document"]["properties"];
    for key in PROMISED.iter().chain(&["version", "size_bytes", "published_as", "content_url"]) {
        assert!(document[*key].is_object(), "Document.{key}");
    }
    app.stop().await;
}
