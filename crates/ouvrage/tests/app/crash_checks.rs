//! What must hold after each restart of the crash harness: every acknowledged write is there
//! with its bytes, no row is half-written or points to missing or different bytes, the
//! database is consistent, and the store holds no temporary file nor bytes nobody points to.

use std::collections::{HashMap, HashSet};

use ouvrage::db::Db;
use ouvrage::features::files::FileStore;
use ouvrage::features::files::storage::sha256_hex;
use ouvrage::on_db;

use super::writers::Ledger;
use crate::support::TestEnv;

/// Rows that would each be a half-written or dangling write: every count must be 0. Run on
/// both engines (on PostgreSQL they stand in for SQLite's integrity and foreign-key checks).
const CONSISTENCY: [(&str, &str); 13] = [
    (
        "documents without their file row",
        "SELECT COUNT(*) FROM documents d LEFT JOIN files f ON f.id = d.file_id WHERE f.id IS NULL",
    ),
    (
        "documents without their twin's file row",
        "SELECT COUNT(*) FROM documents d LEFT JOIN files f ON f.id = d.twin_file_id
         WHERE d.twin_file_id IS NOT NULL AND f.id IS NULL",
    ),
    (
        "attachments without their file row",
        "SELECT COUNT(*) FROM message_files mf LEFT JOIN files f ON f.id = mf.file_id WHERE f.id IS NULL",
    ),
    (
        "attachments without their message",
        "SELECT COUNT(*) FROM message_files mf LEFT JOIN messages m ON m.id = mf.message_id WHERE m.id IS NULL",
    ),
    (
        "messages without their thread",
        "SELECT COUNT(*) FROM messages m LEFT JOIN threads t ON t.id = m.thread_id WHERE t.id IS NULL",
    ),
    (
        "threads without any message",
        "SELECT COUNT(*) FROM threads t WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id)",
    ),
    (
        "thermal studies without their document",
        "SELECT COUNT(*) FROM thermal_studies ts LEFT JOIN documents d ON d.id = ts.document_id WHERE d.id IS NULL",
    ),
    (
        "thermal studies whose document is on another site or holds other bytes",
        "SELECT COUNT(*) FROM thermal_studies ts JOIN documents d ON d.id = ts.document_id
         JOIN files f ON f.id = d.file_id
         WHERE f.sha256 <> ts.sha256 OR d.site_id IS NULL OR d.site_id <> ts.site_id",
    ),
    (
        "signature requests without their original",
        "SELECT COUNT(*) FROM signature_requests r LEFT JOIN documents d ON d.id = r.document_id WHERE d.id IS NULL",
    ),
    (
        "signed requests without their signed document",
        "SELECT COUNT(*) FROM signature_requests r LEFT JOIN documents d ON d.id = r.signed_document_id
         WHERE r.status = 'signed' AND d.id IS NULL",
    ),
    (
        "signed requests without the evidence of their signature",
        "SELECT COUNT(*) FROM signature_requests r WHERE r.status = 'signed' AND NOT EXISTS
         (SELECT 1 FROM signature_evidence e WHERE e.request_id = r.id AND e.event IN ('signed', 'paper_signed'))",
    ),
    (
        "evidence without its request",
        "SELECT COUNT(*) FROM signature_evidence e LEFT JOIN signature_requests r ON r.id = e.request_id
         WHERE r.id IS NULL",
    ),
    (
        "pending requests with a signed document",
        "SELECT COUNT(*) FROM signature_requests r WHERE r.status <> 'signed' AND r.signed_document_id IS NOT NULL",
    ),
];

/// Remembers which file rows already had their bytes hashed: stored objects never change, so
/// later rounds only check they are still there with their size.
#[derive(Default)]
pub struct Checker {
    hashed: HashSet<i64>,
}

/// Files under the store's directory whose name marks a half-written temporary file.
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

/// Where the local store keeps the bytes of `sha`.
fn object_path(env: &TestEnv, sha: &str) -> std::path::PathBuf {
    env.tmp.path().join("files/sha256").join(&sha[0..2]).join(&sha[2..4]).join(sha)
}

async fn file_rows(db: &Db) -> Vec<(i64, String, i64)> {
    on_db!(db, |p| sqlx::query_as("SELECT id, sha256, size_bytes FROM files").fetch_all(p).await).unwrap()
}

/// What the start-up sweep must have cleared: temporary files and unreferenced objects.
pub async fn leftovers(db: &Db, store: &FileStore, env: &TestEnv) -> Vec<String> {
    let mut problems = Vec::new();
    let staging = staging_files(&env.tmp.path().join("files"));
    if !staging.is_empty() {
        problems.push(format!("half-written files visible: {staging:?}"));
    }
    let referenced: HashSet<String> = file_rows(db).await.into_iter().map(|(_, s, _)| s).collect();
    let unreferenced: Vec<String> =
        store.list().await.unwrap().into_iter().map(|(s, _)| s).filter(|s| !referenced.contains(s)).collect();
    if !unreferenced.is_empty() {
        problems.push(format!("{} stored objects nothing points to", unreferenced.len()));
    }
    problems
}

impl Checker {
    pub async fn problems(
        &mut self,
        db: &Db,
        store: &FileStore,
        env: &TestEnv,
        ledger: &Ledger,
        pool: &[(i64, String)],
    ) -> Vec<String> {
        let mut problems = leftovers(db, store, env).await;
        problems.extend(database(db, env).await);
        problems.extend(self.bytes(db, store, env).await);
        problems.extend(uploads(db, ledger).await);
        problems.extend(studies(db, ledger).await);
        problems.extend(messages(db, ledger).await);
        problems.extend(signatures(db, ledger, pool).await);
        problems
    }

    /// Every file row has its exact bytes in the store.
    async fn bytes(&mut self, db: &Db, store: &FileStore, env: &TestEnv) -> Vec<String> {
        let mut problems = Vec::new();
        for (id, sha, size) in file_rows(db).await {
            if self.hashed.contains(&id) {
                match std::fs::metadata(object_path(env, &sha)) {
                    Ok(m) if m.len() as i64 == size => {}
                    Ok(_) => problems.push(format!("file {id}: stored bytes changed size")),
                    Err(e) => problems.push(format!("file {id}: bytes gone ({e})")),
                }
                continue;
            }
            match store.get(&sha).await {
                Ok(bytes) if sha256_hex(&bytes) == sha && bytes.len() as i64 == size => {
                    self.hashed.insert(id);
                }
                Ok(_) => problems.push(format!("file {id}: stored bytes differ from their row")),
                Err(e) => problems.push(format!("file {id}: bytes missing ({e})")),
            }
        }
        problems
    }
}

/// The engine's own checks (SQLite) and the consistency queries (both).
async fn database(db: &Db, env: &TestEnv) -> Vec<String> {
    let mut problems = Vec::new();
    if env.database_url.starts_with("sqlite") {
        let check: String = on_db!(db, |p| sqlx::query_scalar("PRAGMA integrity_check").fetch_one(p).await).unwrap();
        if check != "ok" {
            problems.push(format!("SQLite integrity check: {check}"));
        }
        let broken =
            on_db!(db, |p| sqlx::query("PRAGMA foreign_key_check").fetch_all(p).await.map(|r| r.len())).unwrap();
        if broken > 0 {
            problems.push(format!("SQLite foreign key check: {broken} rows"));
        }
    }
    for (what, sql) in CONSISTENCY {
        let n: i64 = on_db!(db, |p| sqlx::query_scalar(sql).fetch_one(p).await).unwrap();
        if n > 0 {
            problems.push(format!("{n} {what}"));
        }
    }
    problems
}

/// Every acknowledged deposit is a document holding the bytes sent.
async fn uploads(db: &Db, ledger: &Ledger) -> Vec<String> {
    let rows: Vec<(String, String)> = on_db!(db, |p| sqlx::query_as(
        "SELECT d.title, f.sha256 FROM documents d JOIN files f ON f.id = d.file_id WHERE d.title LIKE 'crash-%'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let found: HashMap<String, String> = rows.into_iter().collect();
    let mut problems = Vec::new();
    for ack in &ledger.uploads.acked {
        match found.get(&ack.title) {
            None => problems.push(format!("acknowledged upload {} lost", ack.title)),
            Some(sha) if *sha != ack.sha => problems.push(format!("upload {} holds other bytes", ack.title)),
            Some(_) => {}
        }
    }
    problems
}

/// Every acknowledged study is filed on its chantier with the file sent and what it says; every
/// chantier made from a study (acknowledged or not) has it, and shows its latest version's name.
async fn studies(db: &Db, ledger: &Ledger) -> Vec<String> {
    let rows: Vec<(i64, i64, String, String)> = on_db!(db, |p| sqlx::query_as(
        "SELECT ts.id, ts.site_id, ts.sha256, ts.extracted FROM thermal_studies ts
         JOIN sites s ON s.id = ts.site_id WHERE s.name LIKE 'Maison crash %' ORDER BY ts.id"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let sites: Vec<(i64, String)> =
        on_db!(db, |p| sqlx::query_as("SELECT id, name FROM sites WHERE name LIKE 'Maison crash %'")
            .fetch_all(p)
            .await)
        .unwrap();
    let operation = |extracted: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(extracted).expect("extracted study");
        v["operation_name"].as_str().unwrap_or_default().to_string()
    };
    let by_file: HashMap<(i64, &str), &str> =
        rows.iter().map(|(_, site, sha, extracted)| ((*site, sha.as_str()), extracted.as_str())).collect();
    let mut problems = Vec::new();
    for ack in &ledger.studies.acked {
        match by_file.get(&(ack.site, ack.sha.as_str())) {
            None => problems.push(format!("acknowledged study v{} of chantier {} lost", ack.version, ack.site)),
            Some(extracted) if operation(extracted) != ack.name => {
                problems.push(format!("study of chantier {} reads {:?}", ack.site, operation(extracted)))
            }
            Some(_) => {}
        }
    }
    // Rows come oldest first: the last one per site is its latest version.
    let latest: HashMap<i64, &str> = rows.iter().map(|(_, site, _, e)| (*site, e.as_str())).collect();
    for (site, name) in &sites {
        match latest.get(site) {
            None => problems.push(format!("chantier {site} ({name}) created without its study")),
            Some(extracted) if operation(extracted) != *name => problems.push(format!(
                "chantier {site} is named {name:?} but its latest study says {:?}",
                operation(extracted)
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Every acknowledged message is in its thread with its attachments' exact bytes; every message
/// found carries the number of files its body announces.
async fn messages(db: &Db, ledger: &Ledger) -> Vec<String> {
    let rows: Vec<(i64, i64, String)> =
        on_db!(db, |p| sqlx::query_as("SELECT id, thread_id, body FROM messages WHERE body LIKE 'crash-msg %'")
            .fetch_all(p)
            .await)
        .unwrap();
    let files: Vec<(i64, String)> = on_db!(db, |p| sqlx::query_as(
        "SELECT mf.message_id, f.sha256 FROM message_files mf JOIN files f ON f.id = mf.file_id
         JOIN messages m ON m.id = mf.message_id WHERE m.body LIKE 'crash-msg %'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let mut attached: HashMap<i64, Vec<String>> = HashMap::new();
    for (message, sha) in files {
        attached.entry(message).or_default().push(sha);
    }
    let by_body: HashMap<&str, (i64, i64)> = rows.iter().map(|(id, t, b)| (b.as_str(), (*id, *t))).collect();
    let mut problems = Vec::new();
    for ack in &ledger.messages.acked {
        let Some((id, thread)) = by_body.get(ack.body.as_str()) else {
            problems.push(format!("acknowledged message {:?} lost", ack.body));
            continue;
        };
        if *thread != ack.thread {
            problems.push(format!("message {:?} in thread {thread}, not {}", ack.body, ack.thread));
        }
        let mut found = attached.get(id).cloned().unwrap_or_default();
        let mut sent = ack.files.clone();
        found.sort();
        sent.sort();
        if found != sent {
            problems.push(format!("message {:?}: attachments differ from those sent", ack.body));
        }
    }
    for (id, _, body) in &rows {
        let announced: usize = body.rsplit("pj=").next().unwrap().parse().unwrap();
        let carried = attached.get(id).map_or(0, Vec::len);
        if carried != announced {
            problems.push(format!("message {body:?} carries {carried} files"));
        }
    }
    problems
}

/// Every acknowledged signature gave one signed document, with its bytes and the evidence of
/// the signature; no request of the pool is signed twice, or half-signed.
async fn signatures(db: &Db, ledger: &Ledger, pool: &[(i64, String)]) -> Vec<String> {
    let requests: Vec<(i64, String, Option<i64>)> = on_db!(db, |p| sqlx::query_as(
        "SELECT id, status, signed_document_id FROM signature_requests WHERE title LIKE 'crash-sig-%'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let signed_docs: Vec<(i64, String, String)> = on_db!(db, |p| sqlx::query_as(
        "SELECT d.id, d.title, f.sha256 FROM documents d JOIN files f ON f.id = d.file_id
         WHERE d.title LIKE 'crash-sig-% (signé)'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let evidence: Vec<(i64, String)> = on_db!(db, |p| sqlx::query_as(
        "SELECT e.request_id, e.sha256 FROM signature_evidence e JOIN signature_requests r ON r.id = e.request_id
         WHERE e.event = 'signed' AND r.title LIKE 'crash-sig-%'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let state: HashMap<i64, (&str, Option<i64>)> = requests.iter().map(|(id, s, d)| (*id, (s.as_str(), *d))).collect();
    let mut problems = Vec::new();
    for (id, title) in pool {
        let Some((status, signed_doc)) = state.get(id) else {
            problems.push(format!("signature request {id} gone"));
            continue;
        };
        let signed_title = format!("{title} (signé)");
        let docs: Vec<&(i64, String, String)> = signed_docs.iter().filter(|d| d.1 == signed_title).collect();
        let proofs: Vec<&String> = evidence.iter().filter(|e| e.0 == *id).map(|e| &e.1).collect();
        match *status {
            "signed" => {
                if docs.len() != 1 || proofs.len() != 1 {
                    problems.push(format!(
                        "request {id} signed with {} signed documents and {} signatures in evidence",
                        docs.len(),
                        proofs.len()
                    ));
                } else if *signed_doc != Some(docs[0].0) {
                    problems.push(format!("request {id} points to another signed document"));
                } else if *proofs[0] != docs[0].2 {
                    problems.push(format!("request {id}: the evidence names other bytes than the signed PDF"));
                }
            }
            "pending" => {
                if !docs.is_empty() || !proofs.is_empty() {
                    problems.push(format!(
                        "request {id} still pending with {} signed documents and {} signatures in evidence",
                        docs.len(),
                        proofs.len()
                    ));
                }
            }
            other => problems.push(format!("request {id} is {other}")),
        }
    }
    for id in &ledger.signatures.acked {
        if state.get(id).map(|s| s.0) != Some("signed") {
            problems.push(format!("acknowledged signature of request {id} lost"));
        }
    }
    problems
}
