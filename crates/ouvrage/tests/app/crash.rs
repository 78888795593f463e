//! Crash safety: the real binary is killed with SIGKILL at random moments while clients write
//! through its pages — document deposits, chantiers created from their thermal study and new
//! versions of it, messages with and without attachments, on-screen signatures — then
//! restarted, many times. After each restart every write the server acknowledged is there
//! with its bytes, nothing is half-written, the database is intact, and the start-up sweep
//! leaves no stored bytes that nothing points to.

#[path = "crash_checks.rs"]
mod checks;
#[path = "crash_writers.rs"]
mod writers;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ouvrage::db::Db;
use ouvrage::features::files::FileStore;
use ouvrage::on_db;
use rand::Rng;

use crate::support::*;
use checks::Checker;
use writers::{Ledger, Pool, Ready, Shared};

/// Kill-and-restart rounds.
const ROUNDS: usize = 20;
/// Pending signature requests made before the rounds.
const POOL: usize = 160;
/// Signatures each of the two signers attempts per round, at most.
const SIGNER_QUOTA: usize = POOL / ROUNDS / 2;
/// How long the writers run before the kill, at most (ms); the moment is drawn at random.
const WINDOW_MS: std::ops::Range<u64> = 100..1000;

fn ouvrage(env: &TestEnv) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ouvrage"));
    c.env("OUVRAGE_DATA", env.tmp.path())
        .env("DATABASE_URL", &env.database_url)
        .env("OUVRAGE_ORPHAN_GRACE_SECS", "0")
        .env_remove("OUVRAGE_CONFIG");
    c
}

/// The server process, killed with SIGKILL when dropped (a failing check never leaves it
/// running).
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(env: &TestEnv) -> Server {
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
        Server { child, url }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first current site of client C001 (the demo client the writers belong to).
async fn c001_site(db: &Db) -> i64 {
    on_db!(db, |p| {
        sqlx::query_scalar(
            "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id
             WHERE c.code = 'C001' AND s.archived = FALSE AND s.kind = 'construction' ORDER BY s.id LIMIT 1",
        )
        .fetch_one(p)
        .await
    })
    .unwrap()
}

/// Checks everything after a restart: waits for the start-up sweep (it runs beside the first
/// requests), then panics with every problem found.
async fn check_after_restart(
    checker: &mut Checker,
    env: &TestEnv,
    store: &FileStore,
    ledger: &Shared,
    pool: &Pool,
    when: &str,
) {
    let db = Db::connect(&env.database_url).await.unwrap();
    eventually(Duration::from_secs(20), || {
        let (db, store, env) = (db.clone(), store.clone(), env.clone());
        async move { checks::leftovers(&db, &store, &env).await.is_empty() }
    })
    .await;
    // Out of the lock while checking (no writer runs now).
    let taken = std::mem::take(&mut *ledger.lock().unwrap());
    let problems = checker.problems(&db, store, env, &taken, &pool.requests).await;
    *ledger.lock().unwrap() = taken;
    db.close().await;
    assert!(problems.is_empty(), "{when}: {problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_every_kind_survive_sigkill_at_random_moments() {
    let started = Instant::now();
    let env = TestEnv::new().await;
    let demo = ouvrage(&env).arg("demo").output().unwrap();
    assert!(demo.status.success(), "demo data: {}", String::from_utf8_lossy(&demo.stderr));
    let store = FileStore::from_config(&env.config().storage).unwrap();
    let db = Db::connect(&env.database_url).await.unwrap();
    let site = c001_site(&db).await;

    // The requests to sign, put up by the office before the crashes begin.
    let server = Server::start(&env);
    let makers: Vec<_> = (0..4)
        .map(|i| tokio::spawn(writers::make_pool(server.url.clone(), site, i * POOL / 4..(i + 1) * POOL / 4)))
        .collect();
    let mut titles = Vec::new();
    for m in makers {
        titles.extend(m.await.unwrap());
    }
    server.kill();
    let ids: Vec<(i64, String)> = on_db!(&db, |p| sqlx::query_as(
        "SELECT id, title FROM signature_requests WHERE title LIKE 'crash-sig-%' AND status = 'pending' ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(ids.len(), titles.len(), "every request of the pool is pending");
    db.close().await;
    let pool = Arc::new(Pool::new(ids));

    let ledger: Shared = Arc::new(Mutex::new(Ledger::default()));
    let mut checker = Checker::default();
    let mut rng = rand::thread_rng();
    for round in 0..ROUNDS {
        let server = Server::start(&env);
        check_after_restart(&mut checker, &env, &store, &ledger, &pool, &format!("after restart {round}")).await;

        let url = server.url.clone();
        let writers = 6;
        let quota = SIGNER_QUOTA;
        let ready = Ready(Arc::new(tokio::sync::Barrier::new(writers + 1)));
        let tag = |w: usize| format!("r{round}w{w}");
        let (l, r) = (ledger.clone(), ready.clone());
        let tasks = vec![
            tokio::spawn(writers::uploads(url.clone(), site, tag(0), l.clone(), r.clone())),
            tokio::spawn(writers::studies(url.clone(), tag(1), l.clone(), r.clone())),
            tokio::spawn(writers::client_messages(url.clone(), site, tag(2), l.clone(), r.clone())),
            tokio::spawn(writers::office_messages(url.clone(), tag(3), l.clone(), r.clone())),
            tokio::spawn(writers::signatures(
                url.clone(),
                "client.admin@demo.test",
                quota,
                pool.clone(),
                l.clone(),
                r.clone(),
            )),
            tokio::spawn(writers::signatures(url.clone(), "client@demo.test", quota, pool.clone(), l, r)),
        ];
        assert_eq!(tasks.len(), writers);
        // Every writer has logged in: kill at a random moment of their writes.
        ready.wait().await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(WINDOW_MS))).await;
        server.kill();
        for t in tasks {
            t.await.unwrap();
        }
    }
    // The last restart is checked too.
    let server = Server::start(&env);
    check_after_restart(&mut checker, &env, &store, &ledger, &pool, "after the last restart").await;
    server.kill();

    let l = ledger.lock().unwrap();
    eprintln!(
        "crash test ({}): {ROUNDS} kills survived in {:.1} s; uploads {}; studies {}; messages {}; signatures {} \
         ({} of {POOL} requests used)",
        if env.database_url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" },
        started.elapsed().as_secs_f64(),
        l.uploads.summary(),
        l.studies.summary(),
        l.messages.summary(),
        l.signatures.summary(),
        pool.used(),
    );
    // Each kind got writes through between the kills.
    for (kind, acked) in [
        ("uploads", l.uploads.acked.len()),
        ("studies", l.studies.acked.len()),
        ("messages", l.messages.acked.len()),
        ("signatures", l.signatures.acked.len()),
    ] {
        assert!(acked >= ROUNDS / 2, "{kind}: only {acked} acknowledged writes");
    }
}
