//! Backups: `ouvrage backup PATH` while the server runs and users keep depositing documents,
//! then `ouvrage restore PATH` into a fresh data directory and database, where every row and
//! every file is found again; and what restore refuses.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ouvrage::db::Db;
use ouvrage::features::files::FileStore;
use ouvrage::features::files::storage::sha256_hex;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};
use sqlx::AssertSqlSafe;

use crate::support::*;

fn ouvrage(env: &TestEnv) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ouvrage"));
    c.env("OUVRAGE_DATA", env.tmp.path()).env("DATABASE_URL", &env.database_url).env_remove("OUVRAGE_CONFIG");
    c
}

/// Runs the command off the async runtime, so the server's clients keep going meanwhile.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn serve(env: &TestEnv) -> (Child, String) {
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

fn browser(url: &str) -> Browser {
    let http =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Browser { http, base: url.to_string() }
}

/// A small valid PDF whose bytes are unique to `tag`.
fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% {tag}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
         2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
         3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

/// Deposits a document on a site the way the client's browser does; true once acknowledged.
async fn deposit(b: &Browser, page: &str, token: &str, title: &str) -> bool {
    let form = Form::new().text("type", "plan").part("files", Part::bytes(pdf(title)).file_name(title.to_string()));
    let resp = b.http.post(b.url(&format!("{page}?_csrf={token}"))).multipart(form).send().await.unwrap();
    resp.status() == 303
}

async fn client_site(db: &Db) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = 'C001' ORDER BY s.id LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .unwrap()
}

/// Logs the demo client user in on a server started from the binary.
async fn client_session(url: &str) -> Browser {
    let b = browser(url);
    let resp = b.login("client@demo.test", "demo-ouvrage").await;
    assert_eq!(resp.status(), 303, "the demo client logs in");
    b
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json written")).unwrap()
}

async fn row_count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
    on_db!(db, |p| sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_one(p).await).unwrap()
}

async fn table_names(db: &Db) -> Vec<String> {
    let sql = match db {
        Db::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Db::Postgres(_) => "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    };
    on_db!(db, |p| sqlx::query_scalar(sql).fetch_all(p).await).unwrap()
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_users_write_then_restore_into_a_fresh_database() {
    let source = TestEnv::new().await;
    let demo = run({
        let mut c = ouvrage(&source);
        c.arg("demo");
        c
    })
    .await;
    assert!(demo.status.success(), "demo data: {}", stderr(&demo));
    let (mut server, url) = serve(&source);
    let source_db = Db::connect(&source.database_url).await.unwrap();
    let site = client_site(&source_db).await;
    let page = format!("/espace/chantiers/{site}/documents");

    // Documents deposited before the backup starts: they must all be in it.
    let client = client_session(&url).await;
    let token = client.csrf(&page).await;
    let mut before = Vec::new();
    for n in 0..4 {
        let title = format!("avant-sauvegarde-{n}.pdf");
        assert!(deposit(&client, &page, &token, &title).await, "deposit {title}");
        before.push(title);
    }

    let documents_before = row_count(&source_db, "documents").await;

    // A user keeps depositing while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let writer = {
        let stop = stop.clone();
        let url = url.clone();
        let page = page.clone();
        tokio::spawn(async move {
            let b = client_session(&url).await;
            let token = b.csrf(&page).await;
            let mut started = Some(started_tx);
            let mut acknowledged = 0;
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if deposit(&b, &page, &token, &format!("pendant-sauvegarde-{n}.pdf")).await {
                    acknowledged += 1;
                }
                if let Some(tx) = started.take() {
                    let _ = tx.send(());
                }
            }
            acknowledged
        })
    };
    started_rx.await.unwrap();
    let backups = tempfile::tempdir().unwrap();
    let saved = backups.path().join("sauvegarde-du-jour");
    let out = run({
        let mut c = ouvrage(&source);
        c.arg("backup").arg(&saved);
        c
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let written_meanwhile = writer.await.unwrap();
    assert!(out.status.success(), "backup: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Sauvegarde écrite"), "{out:?}");
    assert!(written_meanwhile > 0, "deposits went on around the backup");
    let _ = server.kill();
    server.wait().unwrap();

    let m = manifest(&saved);
    let engine = if source.database_url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    assert_eq!(m["format_version"], 1);
    assert_eq!(m["engine"], engine);
    assert_eq!(m["app_version"], env!("CARGO_PKG_VERSION"));
    let tables = m["tables"].as_object().unwrap();
    let documents_saved = tables["documents"].as_i64().unwrap();
    assert!(documents_saved >= documents_before, "what was there when the backup started: {documents_saved}");
    assert!(documents_saved <= row_count(&source_db, "documents").await);
    let objects = m["files"]["objects"].as_array().unwrap();
    assert_eq!(m["files"]["count"].as_u64().unwrap() as usize, objects.len());
    let total: u64 = objects.iter().map(|o| o["bytes"].as_u64().unwrap()).sum();
    assert_eq!(m["files"]["total_bytes"].as_u64().unwrap(), total);
    // Each object is in the backup under its name, with the bytes its name promises.
    for o in objects {
        let sha = o["sha256"].as_str().unwrap();
        let bytes = std::fs::read(saved.join("files").join(&sha[..2]).join(sha)).unwrap();
        assert_eq!(sha256_hex(&bytes), sha);
    }
    source_db.close().await;

    // Restore into a fresh data directory and database.
    let target = TestEnv::new().await;
    let out = run({
        let mut c = ouvrage(&target);
        c.arg("restore").arg(&saved);
        c
    })
    .await;
    assert!(out.status.success(), "restore: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("restaurée"), "{out:?}");

    // Every table holds the rows of the snapshot, no more, no less.
    let db = Db::connect(&target.database_url).await.unwrap();
    let names = table_names(&db).await;
    let saved_names: Vec<String> = tables.keys().cloned().collect();
    assert_eq!(names, saved_names, "the same tables");
    for (table, rows) in tables {
        assert_eq!(row_count(&db, table).await, rows.as_i64().unwrap(), "rows of {table}");
    }
    // Every file row finds its exact bytes in the new data directory.
    let store = FileStore::from_config(&target.config().storage).unwrap();
    let rows: Vec<(i64, String, i64)> =
        on_db!(&db, |p| sqlx::query_as("SELECT id, sha256, size_bytes FROM files").fetch_all(p).await).unwrap();
    assert_eq!(rows.len() as i64, tables["files"].as_i64().unwrap());
    for (id, sha, size) in &rows {
        let bytes = store.get(sha).await.unwrap_or_else(|e| panic!("bytes of file {id}: {e}"));
        assert_eq!((sha256_hex(&bytes).as_str(), bytes.len() as i64), (sha.as_str(), *size), "file {id}");
    }
    // The deposits made before the backup are there.
    let mut first_file = None;
    for title in &before {
        let file: Option<i64> = on_db!(&db, |p| sqlx::query_scalar("SELECT file_id FROM documents WHERE title = $1")
            .bind(title)
            .fetch_optional(p)
            .await)
        .unwrap();
        assert!(file.is_some(), "{title} restored");
        first_file = first_file.or(file);
    }
    db.close().await;

    // The restored site works: the client logs in and downloads what they deposited.
    let app = TestApp::start(&target, |_| {}).await;
    let client = app.login("client@demo.test").await;
    let resp = client.get(&format!("/fichiers/{}", first_file.unwrap())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), pdf(&before[0]).as_slice());
    app.stop().await;

    // The restored database now holds data: a second restore is refused without --force.
    let out = run({
        let mut c = ouvrage(&target);
        c.arg("restore").arg(&saved);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let message = stderr(&out);
    assert!(message.contains("contient déjà des données") && message.contains("--force"), "{message}");
    let out = run({
        let mut c = ouvrage(&target);
        c.arg("restore").arg("--force").arg(&saved);
        c
    })
    .await;
    assert!(out.status.success(), "restore --force: {}", stderr(&out));
    let db = Db::connect(&target.database_url).await.unwrap();
    for (table, rows) in tables {
        assert_eq!(row_count(&db, table).await, rows.as_i64().unwrap(), "rows of {table} after --force");
    }
    db.close().await;

    // A backup is never written over another one.
    let out = run({
        let mut c = ouvrage(&target);
        c.arg("backup").arg(&saved);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("n'est pas vide"), "{}", stderr(&out));
}

#[tokio::test]
async fn restore_refuses_a_damaged_backup_and_writes_nothing() {
    let source = TestEnv::new().await;
    assert!(ouvrage(&source).arg("demo").output().unwrap().status.success());
    let backups = tempfile::tempdir().unwrap();
    let saved = backups.path().join("sauvegarde");
    let out = ouvrage(&source).arg("backup").arg(&saved).output().unwrap();
    assert!(out.status.success(), "backup: {}", stderr(&out));

    // One byte flipped in one stored file.
    let m = manifest(&saved);
    let sha = m["files"]["objects"][0]["sha256"].as_str().unwrap().to_string();
    let damaged = saved.join("files").join(&sha[..2]).join(&sha);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();

    let target = TestEnv::new().await;
    let out = ouvrage(&target).arg("restore").arg(&saved).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let message = stderr(&out);
    assert!(message.contains("sauvegarde altérée") && message.contains(&sha), "{message}");
    assert!(message.contains("Rien n'a été restauré"), "{message}");
    // Nothing was written: no database, no stored file.
    assert!(files_under(&target.tmp.path().join("files")).is_empty(), "no stored file written");
    if target.database_url.starts_with("sqlite") {
        assert!(!target.tmp.path().join("ouvrage.db").exists(), "no database written");
    } else {
        let db = Db::connect(&target.database_url).await.unwrap();
        assert!(table_names(&db).await.is_empty(), "no table created");
        db.close().await;
    }

    // A backup of the other engine is refused clearly.
    bytes[middle] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();
    let mut other = m.clone();
    let (engine, file) =
        if m["engine"] == "sqlite" { ("postgres", "database.pgdump") } else { ("sqlite", "database.sqlite") };
    other["engine"] = engine.into();
    other["database"]["file"] = file.into();
    std::fs::write(saved.join("manifest.json"), serde_json::to_vec(&other).unwrap()).unwrap();
    let out = ouvrage(&target).arg("restore").arg(&saved).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("d'un moteur à l'autre n'est pas prise en charge"), "{}", stderr(&out));

    // A directory that is not a backup is refused.
    let out = ouvrage(&target).arg("restore").arg(backups.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("n'est pas une sauvegarde ouvrage"), "{}", stderr(&out));
}
