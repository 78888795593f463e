//! Crash safety of uploads: the real binary is killed with SIGKILL while clients deposit
//! documents, then restarted, many times. After each restart every upload the server
//! acknowledged is there with its bytes, no row points to missing or different bytes, no
//! half-written file is visible, the database is intact, and the start-up sweep leaves no
//! stored bytes that nothing points to.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::features::files::FileStore;
use ouvrage::features::files::storage::sha256_hex;
use ouvrage::on_db;
use rand::Rng;
use reqwest::multipart::{Form, Part};

use crate::support::*;

/// Kill-and-restart rounds.
const ROUNDS: usize = 6;
/// Concurrent depositors during a round.
const WRITERS: usize = 4;

fn ouvrage(env: &TestEnv) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ouvrage"));
    c.env("OUVRAGE_DATA", env.tmp.path())
        .env("DATABASE_URL", &env.database_url)
        .env("OUVRAGE_ORPHAN_GRACE_SECS", "0")
        .env_remove("OUVRAGE_CONFIG");
    c
}

fn start(env: &TestEnv) -> (Child, String) {
    let mut child = ouvrage(env)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "serve prints where it listens: {line}");
    (child, url)
}

/// The CSRF token of a page, or `None` when the server is gone.
async fn page_token(b: &Browser, path: &str) -> Option<String> {
    let resp = b.http.get(b.url(path)).send().await.ok()?;
    extract_csrf(&resp.text().await.ok()?)
}

fn browser(url: &str) -> Browser {
    let http =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Browser { http, base: url.to_string() }
}

/// A valid one-page PDF of about `size` bytes, unique to `tag`.
fn pdf(tag: &str, size: usize) -> Vec<u8> {
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

fn staging_files(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                found.extend(staging_files(&e.path()));
            } else if e.file_name().to_string_lossy().contains('#') {
                found.push(e.path().display().to_string());
            }
        }
    }
    found
}

async fn check_invariants(db: &Db, store: &FileStore, env: &TestEnv, acknowledged: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    // Every acknowledged deposit is there.
    for title in acknowledged {
        let found: Option<i64> = on_db!(db, |p| sqlx::query_scalar("SELECT id FROM documents WHERE title = $1")
            .bind(title)
            .fetch_optional(p)
            .await)
        .unwrap();
        if found.is_none() {
            problems.push(format!("acknowledged upload {title} lost"));
        }
    }
    // Every document has its file row, and every file row its exact bytes.
    let orphans: i64 = on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM documents d LEFT JOIN files f ON f.id = d.file_id WHERE f.id IS NULL"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    if orphans > 0 {
        problems.push(format!("{orphans} documents without their file row"));
    }
    let files: Vec<(i64, String, i64)> =
        on_db!(db, |p| sqlx::query_as("SELECT id, sha256, size_bytes FROM files").fetch_all(p).await).unwrap();
    for (id, sha, size) in &files {
        match store.get(sha).await {
            Ok(bytes) if sha256_hex(&bytes) == *sha && bytes.len() as i64 == *size => {}
            Ok(_) => problems.push(format!("file {id}: stored bytes differ from their row")),
            Err(e) => problems.push(format!("file {id}: bytes missing ({e})")),
        }
    }
    // No half-written file, no bytes nobody points to (the start-up sweep ran).
    let staging = staging_files(&env.tmp.path().join("files"));
    if !staging.is_empty() {
        problems.push(format!("half-written files visible: {staging:?}"));
    }
    let referenced: std::collections::HashSet<&str> = files.iter().map(|(_, s, _)| s.as_str()).collect();
    let unreferenced: Vec<String> =
        store.list().await.unwrap().into_iter().map(|(s, _)| s).filter(|s| !referenced.contains(s.as_str())).collect();
    if !unreferenced.is_empty() {
        problems.push(format!("{} stored objects nothing points to", unreferenced.len()));
    }
    if env.database_url.starts_with("sqlite") {
        let check: String = on_db!(db, |p| sqlx::query_scalar("PRAGMA integrity_check").fetch_one(p).await).unwrap();
        if check != "ok" {
            problems.push(format!("SQLite integrity check: {check}"));
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_sigkill_at_random_moments() {
    let env = TestEnv::new().await;
    let demo = ouvrage(&env).arg("demo").output().unwrap();
    assert!(demo.status.success(), "demo data: {}", String::from_utf8_lossy(&demo.stderr));
    let config = env.config();
    let store = FileStore::from_config(&config.storage).unwrap();
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut rng = rand::thread_rng();
    let mut attempts = 0usize;
    for round in 0..ROUNDS {
        let (mut child, url) = start(&env);
        let db = Db::connect(&env.database_url).await.unwrap();
        // The server swept at start-up: wait for it to finish before checking (it runs beside
        // the first requests).
        let ok = eventually(Duration::from_secs(20), || {
            let acknowledged = acknowledged.lock().unwrap().clone();
            let db = db.clone();
            let store = store.clone();
            let env = env.clone();
            async move { check_invariants(&db, &store, &env, &acknowledged).await.is_empty() }
        })
        .await;
        if !ok {
            let list = acknowledged.lock().unwrap().clone();
            let problems = check_invariants(&db, &store, &env, &list).await;
            panic!("after restart {round}: {problems:?}");
        }
        let site: i64 = on_db!(&db, |p| {
            sqlx::query_scalar(
            "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = 'C001' ORDER BY s.id LIMIT 1"
        )
        .fetch_one(p)
        .await
        })
        .unwrap();
        db.close().await;

        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let url = url.clone();
            let acknowledged = acknowledged.clone();
            writers.push(tokio::spawn(async move {
                let b = browser(&url);
                // The server may be killed at any moment: every request here may fail.
                let Some(token) = page_token(&b, "/login").await else { return 0usize };
                let login = b
                    .http
                    .post(b.url("/login"))
                    .form(&[("_csrf", token.as_str()), ("email", "client@demo.test"), ("password", "demo-ouvrage")])
                    .send()
                    .await;
                if !login.is_ok_and(|r| r.status() == 303) {
                    return 0;
                }
                let page = format!("/espace/chantiers/{site}/documents");
                let Some(token) = page_token(&b, &page).await else { return 0 };
                let mut sent = 0;
                for n in 0.. {
                    let title = format!("crash-r{round}-w{w}-n{n}.pdf");
                    let bytes = pdf(&title, 64 * 1024 + n * 997);
                    let form =
                        Form::new().text("type", "plan").part("files", Part::bytes(bytes).file_name(title.clone()));
                    let resp = b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await;
                    sent += 1;
                    match resp {
                        Ok(r) if r.status() == 303 => acknowledged.lock().unwrap().push(title),
                        Ok(r) if r.status().is_server_error() => {}
                        Ok(r) => panic!("unexpected answer {} to an upload", r.status()),
                        Err(_) => break, // the server is gone
                    }
                }
                sent
            }));
        }
        // Let the writers run, then kill at a random moment.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for w in writers {
            attempts += w.await.unwrap();
        }
    }
    // The last restart is checked too.
    let (mut child, _url) = start(&env);
    let db = Db::connect(&env.database_url).await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let ok = eventually(Duration::from_secs(20), || {
        let db = db.clone();
        let store = store.clone();
        let env = env.clone();
        let acknowledged = acknowledged.clone();
        async move { check_invariants(&db, &store, &env, &acknowledged).await.is_empty() }
    })
    .await;
    let problems = if ok { Vec::new() } else { check_invariants(&db, &store, &env, &acknowledged).await };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(problems.is_empty(), "after the last restart: {problems:?}");
    assert!(acknowledged.len() >= ROUNDS, "uploads went through between kills ({} of {attempts})", acknowledged.len());
    eprintln!(
        "crash test: {ROUNDS} kills survived, {} acknowledged uploads of {attempts} attempts",
        acknowledged.len()
    );
}
