//! The clients of the crash harness: each drives one kind of write through the real pages of
//! the running binary, as a browser would, until the server disappears under it, and records
//! in the ledger every write the server acknowledged (answered with its redirect).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use ouvrage::features::files::storage::sha256_hex;
use reqwest::multipart::{Form, Part};

use crate::clients::unescape;
use crate::support::*;

/// Acknowledged and attempted writes of one kind.
pub struct Tally<T> {
    pub attempted: usize,
    pub acked: Vec<T>,
    /// Answers that were neither success nor a crash (e.g. a request still claimed by a
    /// signature the crash interrupted).
    pub refused: usize,
}

impl<T> Default for Tally<T> {
    fn default() -> Self {
        Tally { attempted: 0, acked: Vec::new(), refused: 0 }
    }
}

impl<T> Tally<T> {
    pub fn summary(&self) -> String {
        format!("{}/{} acknowledged ({} refused)", self.acked.len(), self.attempted, self.refused)
    }
}

/// A document deposited on the site.
#[derive(Clone)]
pub struct UploadAck {
    pub title: String,
    pub sha: String,
}

/// A chantier created from its study (`version` 1), or a new version of its study (2).
#[derive(Clone)]
pub struct StudyAck {
    pub site: i64,
    pub name: String,
    pub sha: String,
    pub version: u8,
}

/// A message posted in a thread, with the SHA-256 of each attachment.
#[derive(Clone)]
pub struct MessageAck {
    pub thread: i64,
    pub body: String,
    pub files: Vec<String>,
}

/// Every write the server acknowledged before it was killed, by kind.
#[derive(Default)]
pub struct Ledger {
    pub uploads: Tally<UploadAck>,
    pub studies: Tally<StudyAck>,
    pub messages: Tally<MessageAck>,
    /// Signature requests signed on screen.
    pub signatures: Tally<i64>,
}

pub type Shared = Arc<Mutex<Ledger>>;

/// Pending signature requests made before the rounds (id, title), handed out one by one; the
/// signatures a crash left unanswered are tried again first in the next round, as their
/// signer would (the server must then refuse to sign twice).
pub struct Pool {
    pub requests: Vec<(i64, String)>,
    next: AtomicUsize,
    unanswered: Mutex<Vec<i64>>,
}

impl Pool {
    pub fn new(requests: Vec<(i64, String)>) -> Pool {
        Pool { requests, next: AtomicUsize::new(0), unanswered: Mutex::new(Vec::new()) }
    }

    fn take(&self) -> Option<i64> {
        if let Some(id) = self.unanswered.lock().unwrap().pop() {
            return Some(id);
        }
        self.requests.get(self.next.fetch_add(1, Ordering::Relaxed)).map(|r| r.0)
    }

    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.requests.len())
    }
}

pub fn browser(url: &str) -> Browser {
    let http =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Browser { http, base: url.to_string() }
}

/// The CSRF token of a page, or `None` when the server is gone.
pub async fn page_token(b: &Browser, path: &str) -> Option<String> {
    let resp = b.http.get(b.url(path)).send().await.ok()?;
    extract_csrf(&resp.text().await.ok()?)
}

/// A logged-in browser, or `None` when the server is gone.
pub async fn logged_in(url: &str, email: &str) -> Option<Browser> {
    let b = browser(url);
    let token = page_token(&b, "/login").await?;
    let resp = b
        .http
        .post(b.url("/login"))
        .form(&[("_csrf", token.as_str()), ("email", email), ("password", "demo-ouvrage")])
        .send()
        .await
        .ok()?;
    (resp.status() == 303).then_some(b)
}

/// What became of one write.
enum Outcome {
    /// The redirect that acknowledges it, and where it leads.
    Acked(String),
    /// A 5xx, or an expected refusal: not written, go on.
    NotWritten,
    /// The server is gone.
    Gone,
}

/// Classifies an answer; any other status is a bug of the server (a crash never explains it).
async fn outcome(resp: reqwest::Result<reqwest::Response>, tolerated: &[u16], what: &str) -> Outcome {
    match resp {
        Ok(r) if r.status() == 303 => Outcome::Acked(location(&r)),
        Ok(r) if r.status().is_server_error() || tolerated.contains(&r.status().as_u16()) => Outcome::NotWritten,
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            panic!("unexpected answer {status} to {what}: {}", &body[..body.len().min(2000)])
        }
        Err(_) => Outcome::Gone,
    }
}

/// The id in a `…/{id}?…` redirect.
fn id_in(location: &str) -> i64 {
    let path = location.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().parse().unwrap_or_else(|_| panic!("no id in the redirect {location}"))
}

/// A valid one-page PDF of about `size` bytes, unique to `tag`.
pub fn pdf(tag: &str, size: usize) -> Vec<u8> {
    let padding = "x".repeat(size);
    let body = format!(
        "%PDF-1.4\n% {tag}\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n\
         3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>\nendobj\n% {padding}\n"
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

// ---------------------------------------------------------------------------------------------
// Document deposits

/// Deposits PDFs on `site` through the "Dépôt de documents" form until the server dies.
pub async fn uploads(url: String, site: i64, tag: String, ledger: Shared, ready: Ready) {
    let page = format!("/espace/chantiers/{site}/documents");
    let session = async {
        let b = logged_in(&url, "client@demo.test").await?;
        let token = page_token(&b, &page).await?;
        Some((b, token))
    }
    .await;
    ready.wait().await;
    let Some((b, token)) = session else { return };
    for n in 0.. {
        let title = format!("crash-{tag}-n{n}.pdf");
        let bytes = pdf(&title, 24 * 1024 + (n % 16) * 4099);
        let sha = sha256_hex(&bytes);
        let form = Form::new().text("type", "plan").part("files", Part::bytes(bytes).file_name(title.clone()));
        ledger.lock().unwrap().uploads.attempted += 1;
        let resp = b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await;
        match outcome(resp, &[], "an upload").await {
            Outcome::Acked(_) => ledger.lock().unwrap().uploads.acked.push(UploadAck { title, sha }),
            Outcome::NotWritten => {}
            Outcome::Gone => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Thermal studies

const RT2012: &str = "SYNTHETIC_RT2012_RSET-8100_maison_individuelle.xml";

/// The RT2012 sample as another house, nobody's duplicate: its own name, owner, address, permit.
fn house(name: &str, address: &str, permit: &str) -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/thermal/synthetic").join(RT2012);
    let xml = std::fs::read_to_string(path).expect("thermal sample");
    let out = xml
        .replace("Maison individuelle EXEMPLE (fictif)", name)
        .replace("M. et Mme EXEMPLE (FICTIF)", &format!("Propriétaire de {name}"))
        .replace("Lot 12 - Lotissement des Essais", address)
        .replace("<num_permis>EN COURS</num_permis>", &format!("<num_permis>{permit}</num_permis>"));
    assert!(out.contains(name) && out.contains(address) && out.contains(permit), "the sample changed");
    out
}

/// The next version of a study: renamed, with another Bbio.
fn next_version(xml: &str, name: &str, new_name: &str) -> String {
    let out = xml
        .replace(name, new_name)
        .replace("<O_Bbio_pts_annuel>52.3</O_Bbio_pts_annuel>", "<O_Bbio_pts_annuel>49.8</O_Bbio_pts_annuel>");
    assert!(out.contains("49.8"), "the sample changed");
    out
}

/// The value of attribute `attr` of the tag holding `marker`.
fn attr_of(body: &str, marker: &str, attr: &str) -> Option<String> {
    let at = body.find(marker)?;
    let start = body[..at].rfind('<')?;
    let end = at + body[at..].find('>')?;
    let tag = &body[start..end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    Some(unescape(&tag[v..v + tag[v..].find('"')?]))
}

/// The fields of the site form as the browser sends them (inputs, selected options, textareas).
fn form_fields(body: &str) -> Vec<(String, String)> {
    let start = body.find("id=\"site-form\"").expect("the site form");
    let form = &body[start..start + body[start..].find("</form>").unwrap()];
    let attr = |tag: &str, key: &str| -> Option<String> {
        let k = format!(" {key}=\"");
        let v = tag.find(&k)? + k.len();
        Some(unescape(&tag[v..v + tag[v..].find('"')?]))
    };
    let mut out = Vec::new();
    for piece in form.split('<').skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let Some(rest) = tag.strip_prefix("input ") {
            if let Some(name) = attr(rest, "name") {
                out.push((name, attr(rest, "value").unwrap_or_default()));
            }
        } else if let Some(rest) = tag.strip_prefix("select ") {
            out.push((attr(rest, "name").unwrap(), String::new()));
        } else if let Some(rest) = tag.strip_prefix("option ") {
            if rest.contains(" selected") || rest.ends_with("selected") {
                let value = attr(&format!(" {rest}"), "value").unwrap_or_default();
                if let Some(last) = out.last_mut() {
                    last.1 = value;
                }
            }
        } else if let Some(rest) = tag.strip_prefix("textarea ") {
            let name = attr(rest, "name").unwrap();
            out.push((name, unescape(&piece[piece.find('>').unwrap() + 1..])));
        }
    }
    out
}

/// Creates chantiers from dropped studies (drop, then the prefilled form), and sends every
/// other one a second version, until the server dies.
pub async fn studies(url: String, tag: String, ledger: Shared, ready: Ready) {
    let base = "/espace/chantiers";
    let session = async {
        let b = logged_in(&url, "client@demo.test").await?;
        let page = b.http.get(b.url(&format!("{base}/nouveau"))).send().await.ok()?.text().await.ok()?;
        let drop_action = attr_of(&page, "id=\"study-drop\"", "action").expect("the drop form");
        let token = extract_csrf(&page)?;
        Some((b, drop_action, token))
    }
    .await;
    ready.wait().await;
    let Some((b, drop_action, token)) = session else { return };
    for n in 0.. {
        let name = format!("Maison crash {tag} n{n}");
        let xml = house(&name, &format!("{n} rue du Crash {tag}"), &format!("PC crash {tag} {n}"));
        ledger.lock().unwrap().studies.attempted += 1;
        let form = Form::new().part("file", Part::bytes(xml.clone().into_bytes()).file_name("etude.xml"));
        let dropped = match b.http.post(b.url(&drop_action)).multipart(form).send().await {
            Ok(r) if r.status() == 200 => match r.text().await {
                Ok(body) => body,
                Err(_) => return,
            },
            Ok(r) if r.status().is_server_error() => continue,
            Ok(r) => panic!("unexpected answer {} to a dropped study: {}", r.status(), r.text().await.unwrap()),
            Err(_) => return,
        };
        let mut fields = form_fields(&dropped);
        fields.push(("create_anyway".into(), "1".into()));
        let resp = b.http.post(b.url(&format!("{base}/nouveau"))).form(&fields).send().await;
        let site = match outcome(resp, &[], "a chantier created from its study").await {
            Outcome::Acked(loc) => {
                let site = id_in(&loc);
                let ack = StudyAck { site, name: name.clone(), sha: sha256_hex(xml.as_bytes()), version: 1 };
                ledger.lock().unwrap().studies.acked.push(ack);
                site
            }
            Outcome::NotWritten => continue,
            Outcome::Gone => return,
        };
        if n % 2 == 1 {
            continue;
        }
        let new_name = format!("{name} agrandie");
        let v2 = next_version(&xml, &name, &new_name);
        ledger.lock().unwrap().studies.attempted += 1;
        let form = Form::new().part("file", Part::bytes(v2.clone().into_bytes()).file_name("etude-v2.xml"));
        let resp = b.http.post(b.url(&format!("{base}/{site}/etude?_csrf={token}"))).multipart(form).send().await;
        match outcome(resp, &[], "a new version of a study").await {
            Outcome::Acked(_) => {
                let ack = StudyAck { site, name: new_name, sha: sha256_hex(v2.as_bytes()), version: 2 };
                ledger.lock().unwrap().studies.acked.push(ack);
            }
            Outcome::NotWritten => {}
            Outcome::Gone => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

/// The multipart form of a message: its fields, then `attachments` unique PDFs. Returns the
/// form and the attachments' SHA-256.
fn message_form(fields: &[(&str, String)], tag: &str, attachments: usize) -> (Form, Vec<String>) {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    let mut shas = Vec::new();
    for i in 0..attachments {
        let bytes = pdf(&format!("{tag} pj{i}"), 8 * 1024 + i * 3001);
        shas.push(sha256_hex(&bytes));
        form = form.part("fichiers", Part::bytes(bytes).file_name(format!("piece-{i}.pdf")));
    }
    (form, shas)
}

/// The body of a message, naming how many files it carries (checked on every message found).
fn message_body(tag: &str, attachments: usize) -> String {
    format!("crash-msg {tag} pj={attachments}")
}

/// A client user opens threads on `site` and answers in them, with 0 to 2 attachments, until
/// the server dies.
pub async fn client_messages(url: String, site: i64, tag: String, ledger: Shared, ready: Ready) {
    let session = async {
        let b = logged_in(&url, "client.admin@demo.test").await?;
        let token = page_token(&b, "/espace/messagerie").await?;
        Some((b, token))
    }
    .await;
    ready.wait().await;
    let Some((b, token)) = session else { return };
    let mut thread: Option<i64> = None;
    for n in 0usize.. {
        let attachments = [0, 1, 0, 2][n % 4];
        let body = message_body(&format!("{tag} n{n}"), attachments);
        let (action, form, files) = match thread.filter(|_| n % 4 != 0) {
            None => {
                let fields =
                    [("sujet", format!("Crash {tag} n{n}")), ("chantier", site.to_string()), ("message", body.clone())];
                let (form, files) = message_form(&fields, &body, attachments);
                ("/espace/messagerie/nouveau".to_string(), form, files)
            }
            Some(t) => {
                let (form, files) = message_form(&[("message", body.clone())], &body, attachments);
                (format!("/espace/messagerie/{t}/repondre"), form, files)
            }
        };
        ledger.lock().unwrap().messages.attempted += 1;
        let resp = b.http.post(b.url(&format!("{action}?_csrf={token}"))).multipart(form).send().await;
        match outcome(resp, &[], "a message").await {
            Outcome::Acked(loc) => {
                let t = id_in(&loc);
                thread = Some(t);
                ledger.lock().unwrap().messages.acked.push(MessageAck { thread: t, body, files });
            }
            Outcome::NotWritten => {}
            Outcome::Gone => return,
        }
    }
}

/// The office answers in the threads already acknowledged, until the server dies.
pub async fn office_messages(url: String, tag: String, ledger: Shared, ready: Ready) {
    let session = async {
        let b = logged_in(&url, "bureau@demo.test").await?;
        let token = page_token(&b, "/bo/messagerie").await?;
        Some((b, token))
    }
    .await;
    ready.wait().await;
    let Some((b, token)) = session else { return };
    for n in 0usize.. {
        let thread = {
            let l = ledger.lock().unwrap();
            let threads = &l.messages.acked;
            (!threads.is_empty()).then(|| threads[n * 7 % threads.len()].thread)
        };
        let Some(thread) = thread else {
            // No thread yet: wait for the client's first one (and notice when the server dies).
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            if b.http.get(b.url("/bo/messagerie")).send().await.is_err() {
                return;
            }
            continue;
        };
        let attachments = [1, 0, 0][n % 3];
        let body = message_body(&format!("{tag} bo n{n}"), attachments);
        let (form, files) = message_form(&[("message", body.clone())], &body, attachments);
        ledger.lock().unwrap().messages.attempted += 1;
        let resp =
            b.http.post(b.url(&format!("/bo/messagerie/{thread}/repondre?_csrf={token}"))).multipart(form).send().await;
        match outcome(resp, &[], "an answer of the office").await {
            Outcome::Acked(_) => ledger.lock().unwrap().messages.acked.push(MessageAck { thread, body, files }),
            Outcome::NotWritten => {}
            Outcome::Gone => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures

/// A signature as the pad exports it: a transparent PNG with a dark wavy stroke.
fn drawn_signature() -> String {
    let (w, h) = (300u32, 90u32);
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for x in 15..285u32 {
        let y = (45.0 + 25.0 * ((x as f64) / 20.0).sin()) as u32;
        for dy in 0..3 {
            let i = (((y + dy) * w + x) * 4) as usize;
            rgba[i..i + 4].copy_from_slice(&[20, 37, 74, 255]);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&rgba).unwrap();
    }
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(out))
}

/// Signs up to `quota` of the pool's requests on screen, one after the other, then waits for
/// the server to die (the pool lasts all the rounds).
pub async fn signatures(url: String, email: &'static str, quota: usize, pool: Arc<Pool>, ledger: Shared, ready: Ready) {
    let session = async {
        let b = logged_in(&url, email).await?;
        let token = page_token(&b, "/espace/signatures").await?;
        Some((b, token))
    }
    .await;
    ready.wait().await;
    let Some((b, token)) = session else { return };
    let signature = drawn_signature();
    for _ in 0..quota {
        let Some(id) = pool.take() else { break };
        ledger.lock().unwrap().signatures.attempted += 1;
        let form = [("_csrf", token.as_str()), ("signature", signature.as_str()), ("confirm", "on")];
        let resp = b.http.post(b.url(&format!("/espace/signatures/{id}/signer"))).form(&form).send().await;
        // 409 on a request tried again: signed before the crash, or still held by the claim of
        // the interrupted signature.
        match outcome(resp, &[409], "a signature").await {
            Outcome::Acked(loc) => {
                assert_eq!(loc, "/espace/signatures?msg=signe");
                ledger.lock().unwrap().signatures.acked.push(id);
            }
            Outcome::NotWritten => ledger.lock().unwrap().signatures.refused += 1,
            Outcome::Gone => {
                pool.unanswered.lock().unwrap().push(id);
                return;
            }
        }
    }
    while b.http.get(b.url("/espace/signatures")).send().await.is_ok() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Staff put PDFs up for signature on `site` through the back office's form, numbered `range`.
pub async fn make_pool(url: String, site: i64, range: std::ops::Range<usize>) -> Vec<String> {
    let staff = logged_in(&url, "bureau@demo.test").await.expect("staff log in");
    let page = format!("/bo/chantiers/{site}/signatures");
    let token = page_token(&staff, &page).await.expect("the request form");
    let mut titles = Vec::new();
    for i in range {
        let title = format!("crash-sig-{i:03}");
        let form = Form::new()
            .part("file", Part::bytes(ouvrage_pdfsign::sample_pdf(1, &title)).file_name(format!("{title}.pdf")))
            .text("title", title.clone());
        let resp =
            staff.http.post(staff.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await.expect("POST");
        assert_eq!(resp.status(), 303, "request {title}: {}", resp.text().await.unwrap());
        titles.push(title);
    }
    titles
}

/// Holds every writer until all have logged in, so that the kill lands among the writes.
#[derive(Clone)]
pub struct Ready(pub Arc<tokio::sync::Barrier>);

impl Ready {
    pub async fn wait(&self) {
        self.0.wait().await;
    }
}
