//! Faults of what the application depends on: the file store refusing writes, the database
//! missing at start-up or lost while serving. (The SMTP server being down is in `mail.rs`:
//! `mail_waits_while_the_server_is_down_and_is_sent_once_when_it_is_back`.)
//!
//! The PostgreSQL scenarios put a TCP relay written here ([`DbProxy`]) between the application
//! and the real server, which the test cuts and reopens. They need a server, so they run in the
//! PostgreSQL pass (`OUVRAGE_TEST_POSTGRES=…`) and return at once on SQLite, where a database is
//! a local file and cannot go away in the same way.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::support::*;

/// Guards against a test hanging forever when the behaviour under test is missing; never a
/// measure of speed.
const PATIENCE: Duration = Duration::from_secs(90);

fn on_postgres() -> bool {
    std::env::var("OUVRAGE_TEST_POSTGRES").is_ok_and(|s| !s.is_empty())
}

/// A relay from a local port to the PostgreSQL server. Open, it pipes each connection through;
/// cut, it drops the connections it carries and closes new ones as soon as they arrive.
struct DbProxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl DbProxy {
    async fn start(database_url: &str, open: bool) -> DbProxy {
        let u = url::Url::parse(database_url).unwrap();
        let upstream = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(open));
        let pipes: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_open, carried) = (open.clone(), pipes.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if !is_open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                carried.lock().unwrap().push(pipe.abort_handle());
                // Cut while this one was being set up: it goes too.
                if !is_open.load(Ordering::SeqCst) {
                    pipe.abort();
                }
            }
        });
        DbProxy { addr, open, pipes, accept: accept.abort_handle() }
    }

    /// `database_url` going through the relay.
    fn url(&self, database_url: &str) -> String {
        let mut u = url::Url::parse(database_url).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.addr.port())).unwrap();
        u.to_string()
    }

    /// The database is lost: open connections drop, new ones are closed at once.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).unwrap()
}

async fn id_of(db: &Db, sql: &'static str) -> i64 {
    count(db, sql).await
}

/// A one-page PDF; `tag` makes its bytes (and so its stored object) unique.
fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% {tag}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
         3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

/// Posts a multipart form to `page` (whose form gives the CSRF token) as the browser does.
async fn post_files(b: &Browser, page: &str, field: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let token = b.csrf(page).await;
    let form = Form::new().text("type", "plan").part(field.to_string(), Part::bytes(bytes).file_name(name.to_string()));
    b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await.unwrap()
}

async fn post_api_document(app: &TestApp, token: &str, site: i64, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().text("type", "plan").part("file", Part::bytes(bytes).file_name(name.to_string()));
    reqwest::Client::new()
        .post(app.url(&format!("/api/v1/sites/{site}/documents")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn text_of(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, ct, resp.text().await.unwrap())
}

#[tokio::test]
async fn a_failing_file_store_refuses_uploads_clearly_writes_no_row_and_recovers() {
    let app = TestApp::spawn().await;
    let c001 = id_of(&app.db, "SELECT id FROM clients WHERE code = 'C001'").await;
    let site = id_of(
        &app.db,
        "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id
         WHERE c.code = 'C001' AND s.archived = FALSE AND s.kind = 'construction' ORDER BY s.id LIMIT 1",
    )
    .await;
    let token = ouvrage::cli::create_token_cli(&app.db, "demo", "C001", "Logiciel de test").await.unwrap();
    let staff = app.login("bureau@demo.test").await;
    let client = app.login("client@demo.test").await;
    let files_page = format!("/bo/clients/{c001}/fichiers");
    let deposit_page = format!("/espace/chantiers/{site}/documents");
    let rows = || async {
        (count(&app.db, "SELECT COUNT(*) FROM files").await, count(&app.db, "SELECT COUNT(*) FROM documents").await)
    };
    let before = rows().await;

    // The store's directory is replaced by a plain file: every write fails, even as root.
    let store = app.data_dir.join("files");
    let away = app.data_dir.join("files.ailleurs");
    std::fs::rename(&store, &away).unwrap();
    std::fs::write(&store, b"pas un dossier").unwrap();

    for resp in [
        post_files(&staff, &files_page, "fichiers", "plan.pdf", pdf("bureau")).await,
        post_files(&client, &deposit_page, "files", "plan.pdf", pdf("client")).await,
    ] {
        let (status, ct, body) = text_of(resp).await;
        assert_eq!(status, 503, "{body}");
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(body.contains("Le stockage des fichiers ne répond pas"), "{body}");
        assert!(body.contains("en cours d&#39;envoi n&#39;a pas été enregistré"), "{body}");
        assert!(!body.contains("base de données"), "the page names the right culprit: {body}");
    }
    let (status, ct, body) = text_of(post_api_document(&app, &token, site, "plan.pdf", pdf("api")).await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(ct, "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("Le stockage des fichiers ne répond pas"), "{problem}");
    assert_eq!(rows().await, before, "no file or document row points to bytes that were never stored");

    // The store is back: the same uploads go through.
    std::fs::remove_file(&store).unwrap();
    std::fs::rename(&away, &store).unwrap();
    let resp = post_files(&staff, &files_page, "fichiers", "plan.pdf", pdf("bureau")).await;
    assert_eq!(resp.status(), 303);
    let resp = post_files(&client, &deposit_page, "files", "plan.pdf", pdf("client")).await;
    assert_eq!(resp.status(), 303);
    let resp = post_api_document(&app, &token, site, "plan-api.pdf", pdf("api")).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(rows().await, (before.0 + 3, before.1 + 3), "three files, three documents (the staff file too)");
    app.stop().await;
}

/// PostgreSQL only (see the module's comment).
#[tokio::test]
async fn losing_the_database_while_serving_answers_503_and_service_resumes_alone() {
    if !on_postgres() {
        return;
    }
    let env = TestEnv::new().await;
    let proxy = DbProxy::start(&env.database_url, true).await;
    let via_proxy = proxy.url(&env.database_url);
    let app = TestApp::start(&env, |c| c.database_url = via_proxy).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let token = ouvrage::cli::create_token_cli(&app.db, "demo", "C001", "Logiciel de test").await.unwrap();
    let staff = app.login("bureau@demo.test").await;
    let anonymous = app.client();
    let api = |path: &str| reqwest::Client::new().get(app.url(path)).bearer_auth(&token).send();
    assert_eq!(staff.get("/bo").await.status(), 200);
    assert_eq!(api("/api/v1/sites").await.unwrap().status(), 200);

    proxy.cut();
    let (status, ct, body) = text_of(staff.get("/bo").await).await;
    assert_eq!(status, 503, "{body}");
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.contains("Service momentanément indisponible"), "{body}");
    assert!(body.contains("La base de données ne répond pas"), "{body}");
    // Logging in needs the database too: the same answer, not an error 500.
    let resp = anonymous.login("client@demo.test", "demo-ouvrage").await;
    assert_eq!(resp.status(), 503);
    let (status, ct, body) = text_of(api("/api/v1/sites").await.unwrap()).await;
    assert_eq!((status, ct.as_str()), (503, "application/problem+json"), "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("La base de données ne répond pas"), "{problem}");
    let (status, _, body) = text_of(anonymous.get("/healthz").await).await;
    assert_eq!((status, body.as_str()), (503, "base de données injoignable"));

    // The database is back: no restart, the same session works again.
    proxy.reopen();
    let healthy = eventually(PATIENCE, || async { anonymous.get("/healthz").await.status() == 200 }).await;
    assert!(healthy, "/healthz turns back to 200");
    assert_eq!(staff.get("/bo").await.status(), 200);
    assert_eq!(api("/api/v1/sites").await.unwrap().status(), 200);
    assert_eq!(anonymous.login("client@demo.test", "demo-ouvrage").await.status(), 303);
    app.stop().await;
}

/// `ouvrage` run as operators run it, on `env`'s data directory with `database_url`.
fn ouvrage(env: &TestEnv, database_url: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_ouvrage"));
    c.env("OUVRAGE_DATA", env.tmp.path())
        .env("DATABASE_URL", database_url)
        .env("OUVRAGE_ADDR", "127.0.0.1:0")
        .env_remove("OUVRAGE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// Runs the command to its end (a guard kills it if it never ends); returns its success and
/// standard error.
async fn run_to_end(mut cmd: tokio::process::Command) -> (bool, String) {
    let child = cmd.spawn().unwrap();
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the command should stop instead of serving or waiting")
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// PostgreSQL only (see the module's comment).
#[tokio::test]
async fn serve_waits_for_a_postgresql_server_that_is_not_up_yet() {
    if !on_postgres() {
        return;
    }
    let env = TestEnv::new().await;
    let proxy = DbProxy::start(&env.database_url, false).await;
    let mut cmd = ouvrage(&env, &proxy.url(&env.database_url));
    cmd.arg("serve").env("OUVRAGE_DB_WAIT_SECS", "600");
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();

    // It says, in French, what it is waiting for, without the password.
    let waiting = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains("nouvel essai") {
                return line;
            }
        }
        panic!("ouvrage stopped instead of waiting for the database");
    })
    .await
    .expect("a message about the unreachable database");
    assert!(waiting.contains("la base de données PostgreSQL"), "{waiting}");
    assert!(waiting.contains("ne répond pas"), "{waiting}");
    assert!(waiting.contains("abandon après 600 s"), "{waiting}");
    assert!(waiting.contains(":***@"), "the password is hidden: {waiting}");
    // The rest of standard error is drained, so the server never blocks on a full pipe.
    let rest = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            lines.push(line);
        }
        lines
    });

    proxy.reopen();
    let listening = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("ouvrage écoute sur ") {
                return url.trim().to_string();
            }
        }
        panic!("ouvrage stopped instead of serving");
    })
    .await
    .expect("ouvrage serves once the database answers");
    let resp = reqwest::get(format!("{listening}/healthz")).await.unwrap();
    assert_eq!(resp.status(), 200);
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let rest = rest.await.unwrap();
    assert!(rest.iter().any(|l| l.contains("répond ; démarrage")), "{rest:?}");
}

/// PostgreSQL only (see the module's comment).
#[tokio::test]
async fn start_up_gives_up_on_a_database_that_stays_away_and_at_once_on_one_that_refuses_us() {
    if !on_postgres() {
        return;
    }
    let env = TestEnv::new().await;
    // Nobody answers for longer than the configured wait: the default command gives up.
    let proxy = DbProxy::start(&env.database_url, false).await;
    let mut cmd = ouvrage(&env, &proxy.url(&env.database_url));
    cmd.env("OUVRAGE_DB_WAIT_SECS", "2");
    let (ok, stderr) = run_to_end(cmd).await;
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("nouvel essai"), "it retried first: {stderr}");
    assert!(stderr.contains("ne répond toujours pas après 2 s d'attente"), "{stderr}");
    assert!(stderr.contains("Vérifiez qu'elle est démarrée"), "{stderr}");

    // The server answers that the database does not exist: no waiting, whatever the patience.
    let mut missing = url::Url::parse(&env.database_url).unwrap();
    missing.set_path("/ouvrage_base_qui_n_existe_pas");
    let mut cmd = ouvrage(&env, missing.as_str());
    cmd.arg("serve").env("OUVRAGE_DB_WAIT_SECS", "3600");
    let (ok, stderr) = run_to_end(cmd).await;
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("cette base de données n'existe pas"), "{stderr}");
    assert!(!stderr.contains("nouvel essai"), "{stderr}");
}

#[tokio::test]
async fn an_sqlite_database_that_cannot_be_opened_stops_start_up_with_a_clear_message() {
    let env = TestEnv::new().await;
    let blocker = env.tmp.path().join("pas-un-dossier");
    std::fs::write(&blocker, b"un fichier, pas un dossier").unwrap();
    let db_path = blocker.join("ouvrage.db");
    for command in [Some("serve"), None] {
        let mut cmd = ouvrage(&env, &format!("sqlite://{}", db_path.display()));
        if let Some(c) = command {
            cmd.arg(c);
        }
        let (ok, stderr) = run_to_end(cmd).await;
        assert!(!ok, "{command:?}: {stderr}");
        assert!(stderr.contains("impossible d'ouvrir la base de données SQLite"), "{command:?}: {stderr}");
        assert!(stderr.contains(&db_path.display().to_string()), "{command:?}: {stderr}");
    }
}
