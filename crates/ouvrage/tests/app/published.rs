//! Reports and invoices the firm publishes: the office publishes a PDF on a site, the client's
//! users are notified (invoices only those allowed to see them), an invoice reaches the billing
//! contact by e-mail with its PDF attached (over real SMTP), Mes rapports / Mes factures show
//! them "nouveau" until a user of the client opens them (staff opening them changes nothing),
//! only the admin and the office publish, and a refused publication stores nothing.

use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::domain::time::now_ms;
use ouvrage::{exec_db, on_db};
use reqwest::multipart::{Form, Part};

use crate::smtp::{Mail, Received, SmtpServer};
use crate::support::*;

pub const INVOICE_PDF: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf");
pub const INVOICE_XML: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/facturx/cen_CII_example1.xml");
/// A one-page PDF that opens (its cross-reference table is right), a few hundred bytes.
pub fn tiny_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}
pub const BILLING_C001: &str = "compta@maisons-horizon.test";

pub fn invoice_pdf() -> Vec<u8> {
    std::fs::read(INVOICE_PDF).expect("Factur-X sample PDF")
}

pub async fn scalar(db: &Db, sql: &'static str, bind: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).bind(bind).fetch_one(p).await).unwrap()
}

/// A site of the client `code` (the demo gives each company several).
pub async fn site_of(db: &Db, code: &str) -> i64 {
    scalar(
        db,
        "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = $1 ORDER BY s.id LIMIT 1",
        code,
    )
    .await
}

/// The current document titled `title`.
pub async fn document_titled(db: &Db, title: &str) -> i64 {
    scalar(db, "SELECT id FROM documents WHERE title = $1 AND is_current = TRUE", title).await
}

pub async fn count(db: &Db, sql: &'static str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).unwrap()
}

/// The kind of `email`'s notification of `key`, if they have one.
pub async fn notification_kind(db: &Db, email: &str, key: &str) -> Option<(String, String)> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT n.kind, n.link FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE u.email = $1 AND n.event_key = $2"
    )
    .bind(email)
    .bind(key)
    .fetch_optional(p)
    .await)
    .unwrap()
}

/// Whether the list page shows document `id`, and with the "Nouveau" badge.
pub fn row_of(body: &str, id: i64) -> Option<String> {
    let start = body.find(&format!("data-document=\"{id}\""))?;
    let end = body[start..].find("</tr>").map(|e| start + e).unwrap_or(body.len());
    Some(body[start..end].to_string())
}

pub fn shows_new(body: &str, id: i64) -> bool {
    row_of(body, id).is_some_and(|r| r.contains("badge new"))
}

/// One part of a MIME message: its headers and its body with the transfer encoding undone.
pub struct MimePart {
    pub content_type: String,
    pub disposition: String,
    pub body: Vec<u8>,
    raw: Vec<u8>,
}

impl MimePart {
    /// A text part's content, decoded (base64 or quoted-printable).
    pub fn text(&self) -> String {
        Mail::parse(&self.raw).text()
    }
}

fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (raw, &[]),
    }
}

/// The leaf parts of a (possibly nested) multipart message.
pub fn mime_parts(raw: &[u8]) -> Vec<MimePart> {
    let mail = Mail::parse(raw);
    let content_type = mail.header("Content-Type").unwrap_or_default();
    let (_, body) = split_head(raw);
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary=").map(|b| b.trim_matches('"').to_string()))
            .expect("a boundary");
        let marker = format!("--{boundary}");
        let text = body.to_vec();
        let mut out = Vec::new();
        let mut rest: &[u8] = &text;
        while let Some(i) = rest.windows(marker.len()).position(|w| w == marker.as_bytes()) {
            rest = &rest[i + marker.len()..];
            if rest.starts_with(b"--") {
                break;
            }
            let next = rest.windows(marker.len()).position(|w| w == marker.as_bytes()).unwrap_or(rest.len());
            let part = rest[..next].strip_prefix(b"\r\n").unwrap_or(&rest[..next]);
            let part = part.strip_suffix(b"\r\n").unwrap_or(part);
            out.extend(mime_parts(part));
            rest = &rest[next..];
        }
        return out;
    }
    let encoding = mail.header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
    let body = if encoding == "base64" {
        let compact: String = String::from_utf8_lossy(body).split_whitespace().collect();
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact).expect("base64 part")
    } else {
        body.to_vec()
    };
    let disposition = mail.header("Content-Disposition").unwrap_or_default();
    vec![MimePart { content_type, disposition, body, raw: raw.to_vec() }]
}

/// The messages the SMTP server received for `to`, waiting for at least one.
pub async fn mails_for(smtp: &SmtpServer, to: &str) -> Vec<Received> {
    let found =
        eventually(Duration::from_secs(15), || async { smtp.received().iter().any(|m| m.to.iter().any(|t| t == to)) })
            .await;
    assert!(found, "no e-mail reached {to}: {:?}", smtp.received().iter().map(|m| &m.to).collect::<Vec<_>>());
    smtp.received().into_iter().filter(|m| m.to.iter().any(|t| t == to)).collect()
}

/// An app with the demo data that sends through `smtp` (when given).
pub async fn app_sending_to(smtp: Option<&SmtpServer>) -> TestApp {
    let env = TestEnv::new().await;
    let url = smtp.map(SmtpServer::url);
    let app = TestApp::start(&env, |c| c.smtp_url = url).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.expect("demo data");
    app
}

/// Posts the publishing form of site `site` as the browser `b` would.
async fn publish(
    b: &Browser,
    site: i64,
    publish_as: &str,
    title: &str,
    file: Option<(&str, Vec<u8>)>,
    xml: Option<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let token = b.csrf(&format!("/bo/chantiers/{site}/documents")).await;
    let mut form = Form::new().text("publish_as", publish_as.to_string()).text("title", title.to_string());
    if let Some((name, bytes)) = file {
        form = form.part("file", Part::bytes(bytes).file_name(name.to_string()));
    }
    if let Some((name, bytes)) = xml {
        form = form.part("xml", Part::bytes(bytes).file_name(name.to_string()));
    }
    b.http
        .post(b.url(&format!("/bo/chantiers/{site}/publier?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .expect("POST publier")
}

#[tokio::test]
async fn an_invoice_reaches_the_billing_contact_with_its_pdf_and_is_new_for_those_who_see_invoices() {
    let smtp = SmtpServer::start().await;
    let app = app_sending_to(Some(&smtp)).await;
    let db = &app.db;
    let site = site_of(db, "C001").await;
    let pdf = invoice_pdf();
    let xml = std::fs::read(INVOICE_XML).unwrap();

    let admin = app.login("admin@demo.test").await;
    let (_, page) = admin.get_text(&format!("/bo/chantiers/{site}/documents")).await;
    assert!(page.contains("id=\"publish-form\""), "the office sees the publishing form");
    let resp = publish(
        &admin,
        site,
        "invoice",
        "Facture F2026-0042",
        Some(("facture-F2026-0042.pdf", pdf.clone())),
        Some(("facture-F2026-0042.xml", xml)),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/chantiers/{site}/documents?msg=publie"));
    let id = document_titled(db, "Facture F2026-0042").await;
    let (kind, published_as, twin): (String, String, Option<i64>) =
        on_db!(db, |p| sqlx::query_as("SELECT document_type, published_as, twin_file_id FROM documents WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!((kind.as_str(), published_as.as_str()), ("invoice", "invoice"));
    assert!(twin.is_some(), "the Factur-X XML is the invoice's twin");

    // The billing contact receives the invoice at once, its PDF attached, byte for byte.
    let mails = mails_for(&smtp, BILLING_C001).await;
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.subject().contains("Nouvelle facture F2026-0042"), "{}", m.subject());
    assert!(m.header("Content-Type").unwrap().starts_with("multipart/mixed"));
    let parts = mime_parts(&m.data);
    let text = parts.iter().find(|p| p.content_type.starts_with("text/plain")).expect("a text part");
    let text = text.text();
    assert!(text.contains(&format!("{}/espace/documents/{id}", app.config.base_url)), "{text}");
    assert!(text.contains("jointe"), "{text}");
    let attached: Vec<&_> = parts.iter().filter(|p| p.content_type.starts_with("application/pdf")).collect();
    assert_eq!(attached.len(), 1, "one PDF attached");
    assert!(attached[0].disposition.starts_with("attachment"), "{}", attached[0].disposition);
    assert!(attached[0].disposition.contains("facture-F2026-0042.pdf"), "{}", attached[0].disposition);
    assert!(attached[0].body == pdf, "the attachment is the published PDF");
    assert!(
        eventually(Duration::from_secs(5), || async {
            count(db, "SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND attachment_file_ids <> ''").await == 1
        })
        .await
    );

    // Notified: the client's users who see invoices, not the others.
    let key = format!("document:{id}");
    assert_eq!(
        notification_kind(db, "client.admin@demo.test", &key).await,
        Some(("new_invoice".to_string(), format!("/espace/documents/{id}")))
    );
    assert_eq!(notification_kind(db, "client@demo.test", &key).await, None);
    assert_eq!(notification_kind(db, "autre.client@demo.test", &key).await, None);

    // Mes factures: "Nouveau" for the user who sees invoices; nothing at all for one who does not.
    let boss = app.login("client.admin@demo.test").await;
    let (status, body) = boss.get_text("/espace/documents/factures").await;
    assert_eq!(status, 200);
    assert!(shows_new(&body, id), "new in Mes factures");
    let (_, body) = boss.get_text("/espace/documents/factures?nouveaux=1").await;
    assert!(row_of(&body, id).is_some(), "listed among the new ones");
    let user = app.login("client@demo.test").await;
    assert_eq!(user.get("/espace/documents/factures").await.status(), 403);
    assert_eq!(user.get(&format!("/espace/documents/{id}")).await.status(), 404);
    assert_eq!(user.get(&format!("/espace/documents/{id}/fichier")).await.status(), 404);
    let (_, body) = user.get_text("/espace/documents").await;
    assert!(row_of(&body, id).is_none(), "not in Mes documents either");
    let other = app.login("autre.client@demo.test").await;
    assert_eq!(other.get(&format!("/espace/documents/{id}")).await.status(), 404);

    // Staff opening and downloading it leaves it new for the client.
    assert_eq!(admin.get(&format!("/bo/documents/{id}")).await.status(), 200);
    assert_eq!(admin.get(&format!("/bo/documents/{id}/fichier")).await.status(), 200);
    let (_, body) = boss.get_text("/espace/documents/factures").await;
    assert!(shows_new(&body, id), "still new after staff looked at it");
    let (_, page) = admin.get_text(&format!("/bo/chantiers/{site}/documents")).await;
    assert!(page.contains("Pas encore ouvert par le client"), "the office sees it unopened");

    // The client opens it: no longer new, and the office sees when.
    let (status, body) = boss.get_text(&format!("/espace/documents/{id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Télécharger le XML (Factur-X)"), "the XML twin is offered");
    let (_, body) = boss.get_text("/espace/documents/factures").await;
    assert!(row_of(&body, id).is_some() && !shows_new(&body, id), "opened: no longer new");
    let (_, body) = boss.get_text("/espace/documents/factures?nouveaux=1").await;
    assert!(row_of(&body, id).is_none());
    let (_, page) = admin.get_text(&format!("/bo/chantiers/{site}/documents")).await;
    assert!(page.contains("Ouvert par le client le"), "the office sees it was opened");
    app.stop().await;
}

#[tokio::test]
async fn a_report_notifies_the_company_and_stays_new_until_one_of_its_users_opens_it() {
    let app = app_sending_to(None).await;
    let db = &app.db;
    let site = site_of(db, "C001").await;
    let office = app.login("bureau@demo.test").await;
    let title = "Rapport de test d'étanchéité";
    let resp = publish(&office, site, "report", title, Some(("rapport.pdf", tiny_pdf())), None).await;
    assert_eq!(resp.status(), 303);
    let (_, page) = office.get_text(&location(&resp)).await;
    assert!(page.contains("Document publié : le client est prévenu."));
    let id = document_titled(db, title).await;
    let kind: String = on_db!(db, |p| sqlx::query_scalar("SELECT document_type FROM documents WHERE id = $1")
        .bind(id)
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(kind, "report");

    // Every user of the company is notified (digests carry it); nobody else; no e-mail at once.
    let key = format!("document:{id}");
    for email in ["client.admin@demo.test", "client@demo.test"] {
        assert_eq!(
            notification_kind(db, email, &key).await,
            Some(("new_report".to_string(), format!("/espace/documents/{id}"))),
            "{email}"
        );
    }
    assert_eq!(notification_kind(db, "autre.client@demo.test", &key).await, None);
    assert_eq!(notification_kind(db, "admin@demo.test", &key).await, None);
    assert_eq!(count(db, "SELECT COUNT(*) FROM outbox WHERE attachment_file_ids <> ''").await, 0);

    let user = app.login("client@demo.test").await;
    let (_, body) = user.get_text("/espace/documents/rapports").await;
    assert!(shows_new(&body, id), "new in Mes rapports");
    let boss = app.login("client.admin@demo.test").await;
    let (_, body) = boss.get_text("/espace/documents/rapports?nouveaux=1").await;
    assert!(shows_new(&body, id));
    // Another company does not see it, even by its id.
    let other = app.login("autre.client@demo.test").await;
    let (_, body) = other.get_text("/espace/documents/rapports").await;
    assert!(row_of(&body, id).is_none());
    assert_eq!(other.get(&format!("/espace/documents/{id}/fichier")).await.status(), 404);

    // One user downloads it: it is no longer new for any user of the company.
    let resp = user.get(&format!("/espace/documents/{id}/fichier")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), tiny_pdf().as_slice());
    let (_, body) = boss.get_text("/espace/documents/rapports").await;
    assert!(row_of(&body, id).is_some() && !shows_new(&body, id), "seen by a colleague: not new");
    let (_, body) = boss.get_text("/espace/documents/rapports?nouveaux=1").await;
    assert!(row_of(&body, id).is_none());
    app.stop().await;
}

#[tokio::test]
async fn only_the_admin_and_the_office_publish_and_a_refused_publication_stores_nothing() {
    let env = TestEnv::new().await;
    // A small upload limit, so that the sample invoice is too large.
    let app = TestApp::start(&env, |c| c.max_upload_bytes = 20_000).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let db = &app.db;
    let site = site_of(db, "C001").await;
    let documents = || count(db, "SELECT COUNT(*) FROM documents");
    let files = || count(db, "SELECT COUNT(*) FROM files");
    let (docs_before, files_before) = (documents().await, files().await);

    // A technician sees the site's documents but neither the form nor the right to publish.
    let tech = app.login("technicien@demo.test").await;
    let (status, page) = tech.get_text(&format!("/bo/chantiers/{site}/documents")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("id=\"publish-form\""));
    let resp = publish(&tech, site, "report", "Rapport", Some(("r.pdf", tiny_pdf())), None).await;
    assert_eq!(resp.status(), 403);
    // A client user may not either, even on their own site.
    let client = app.login("client.admin@demo.test").await;
    let token = client.csrf(&format!("/espace/chantiers/{site}/documents")).await;
    let form = Form::new()
        .text("publish_as", "report")
        .text("title", "Rapport")
        .part("file", Part::bytes(tiny_pdf()).file_name("r.pdf"));
    let resp = client
        .http
        .post(client.url(&format!("/bo/chantiers/{site}/publier?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // The admin publishes (one document, one file); on an unknown site, nothing.
    let admin = app.login("admin@demo.test").await;
    let resp = publish(&admin, site, "report", "Rapport", Some(("r.pdf", tiny_pdf())), None).await;
    assert_eq!(resp.status(), 303, "the admin publishes");
    let (docs_before, files_before) = (docs_before + 1, files_before + 1);
    let token = admin.csrf(&format!("/bo/chantiers/{site}/documents")).await;
    let form = Form::new()
        .text("publish_as", "report")
        .text("title", "Rapport")
        .part("file", Part::bytes(tiny_pdf()).file_name("r.pdf"));
    let resp = admin
        .http
        .post(admin.url(&format!("/bo/chantiers/99999999/publier?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
    let dtd = b"<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e \"e\">]>\n<x>&e;</x>\n".to_vec();
    type FilePart = Option<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, &str, FilePart, FilePart, u16, &str)> = vec![
        ("report", "Photo", Some(("photo.png", png)), None, 422, "n'est pas un PDF"),
        ("invoice", "", Some(("f.pdf", tiny_pdf())), None, 422, "Indiquez le titre"),
        ("", "Sans choix", Some(("f.pdf", tiny_pdf())), None, 422, "un rapport ou une facture"),
        ("invoice", "Facture F1", None, None, 422, "Choisissez le fichier PDF"),
        ("invoice", "Facture F2", Some(("f.pdf", tiny_pdf())), Some(("f.xml", dtd)), 422, "DOCTYPE"),
        (
            "report",
            "Rapport R1",
            Some(("r.pdf", tiny_pdf())),
            Some(("r.xml", b"<?xml version=\"1.0\"?>\n<CrossIndustryInvoice/>\n".to_vec())),
            422,
            "qu'à une facture",
        ),
        ("invoice", "Facture F3", Some(("f.pdf", invoice_pdf())), None, 413, "dépasse la taille maximale"),
        ("invoice", "Facture F4", Some(("f.pdf", b"%PDF-1.4\n1 0 obj".to_vec())), None, 422, "PDF incomplet"),
    ];
    for (publish_as, title, file, xml, status, message) in cases {
        let resp = publish(&admin, site, publish_as, title, file, xml).await;
        assert_eq!(resp.status().as_u16(), status, "{title}: {message}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("id=\"publish-errors\""), "{title}");
        let message_html = message.replace('\'', "&#39;");
        assert!(body.contains(message) || body.contains(&message_html), "{title}: «{message}» missing");
        // The form keeps what was typed.
        if !title.is_empty() {
            assert!(body.contains(&format!("value=\"{title}\"")), "{title}: title kept");
        }
    }
    assert_eq!(documents().await, docs_before, "nothing stored");
    assert_eq!(files().await, files_before, "no file row either");
    assert_eq!(count(db, "SELECT COUNT(*) FROM outbox WHERE attachment_file_ids <> ''").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn an_invoice_whose_pdf_is_missing_at_send_time_waits_and_is_sent_once_it_is_back() {
    let smtp = SmtpServer::start().await;
    let env = TestEnv::new().await;
    // Workers off while the invoice is published, so that the bytes can go before the mail does.
    let app = TestApp::start(&env, |c| c.workers = false).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let site = site_of(&app.db, "C001").await;
    let admin = app.login("admin@demo.test").await;
    let pdf = invoice_pdf();
    let resp =
        publish(&admin, site, "invoice", "Facture F2026-0077", Some(("facture-0077.pdf", pdf.clone())), None).await;
    assert_eq!(resp.status(), 303);
    app.stop().await;
    let sha = ouvrage::features::files::storage::sha256_hex(&pdf);
    let stored = env.tmp.path().join("files").join("sha256").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
    assert!(stored.exists(), "the PDF is stored at {}", stored.display());
    std::fs::remove_file(&stored).unwrap();

    // The worker cannot read the attachment: the mail stays queued with the reason, not sent bare.
    let app = TestApp::start(&env, |c| c.smtp_url = Some(smtp.url())).await;
    let db = &app.db;
    let failed = eventually(Duration::from_secs(10), || async {
        count(db, "SELECT COUNT(*) FROM outbox WHERE attachment_file_ids <> '' AND attempts > 0").await == 1
    })
    .await;
    assert!(failed, "the attempt is recorded");
    let (status, error): (String, Option<String>) =
        on_db!(db, |p| sqlx::query_as("SELECT status, last_error FROM outbox WHERE attachment_file_ids <> ''")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(status, "pending", "kept for a retry");
    let error = error.unwrap_or_default();
    assert!(error.contains("facture-0077.pdf") && error.contains("absente du stockage"), "{error}");
    assert!(smtp.received().is_empty(), "nothing sent without its attachment");

    // The bytes are back (restored from a backup); the retry sends the mail with them.
    app.files.put(pdf.clone().into()).await.unwrap();
    exec_db!(db, |p| sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE status = 'pending'")
        .bind(now_ms())
        .execute(p)
        .await)
    .unwrap();
    let mails = mails_for(&smtp, BILLING_C001).await;
    let attached: Vec<MimePart> =
        mime_parts(&mails[0].data).into_iter().filter(|p| p.content_type.starts_with("application/pdf")).collect();
    assert_eq!(attached.len(), 1);
    assert!(attached[0].body == pdf);
    app.stop().await;
}
