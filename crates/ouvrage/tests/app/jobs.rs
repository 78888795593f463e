//! Durable jobs: they survive restarts, are queued once per key, are retried then failed, and
//! the scheduler queues each period's job once even with several app instances.

use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::domain::time::{DAY_MS, HOUR_MS, now_ms};
use ouvrage::features::jobs;
use ouvrage::{exec_db, on_db};

use crate::support::*;

#[derive(sqlx::FromRow, Debug)]
struct JobRow {
    status: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    last_error: Option<String>,
    finished_at: Option<i64>,
}

async fn job(db: &Db, id: i64) -> JobRow {
    on_db!(db, |p| sqlx::query_as(
        "SELECT status, attempts, max_attempts, run_at, last_error, finished_at FROM jobs WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn jobs_of_kind(db: &Db, kind: &str) -> Vec<JobRow> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT status, attempts, max_attempts, run_at, last_error, finished_at FROM jobs WHERE kind = $1 ORDER BY id"
    )
    .bind(kind)
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn enqueue(db: &Db, kind: &str, unique_key: Option<&str>) -> Option<i64> {
    let mut tx = db.begin().await.unwrap();
    let id =
        jobs::enqueue(&mut tx, None, kind, &serde_json::json!({"note": "test"}), now_ms(), unique_key).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn session_exists(db: &Db, hash: &str) -> bool {
    let n: i64 = on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .fetch_one(p)
        .await)
    .unwrap();
    n == 1
}

async fn insert_session(db: &Db, hash: &str, created_at: i64, last_seen_at: i64) {
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, tenant_id, created_at, last_seen_at, expires_at)
         SELECT $1, id, tenant_id, $2, $3, $4 FROM users WHERE email = 'client@demo.test'"
    )
    .bind(hash)
    .bind(created_at)
    .bind(last_seen_at)
    .bind(created_at + 7 * DAY_MS)
    .execute(p)
    .await)
    .unwrap();
}

/// Rows the hourly purge must delete, next to rows it must keep.
async fn stage_leftovers(db: &Db, now: i64) {
    for (hash, expires_at, used_at) in [
        ("used-long-ago", now + HOUR_MS, Some(now - 2 * DAY_MS)),
        ("expired-long-ago", now - 2 * DAY_MS, None),
        ("just-used", now + HOUR_MS, Some(now - HOUR_MS)),
        ("fresh", now + HOUR_MS, None),
    ] {
        exec_db!(db, |p| sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, tenant_id, created_at, expires_at, used_at)
             SELECT $1, id, tenant_id, $2, $3, $4 FROM users WHERE email = 'client@demo.test'"
        )
        .bind(hash)
        .bind(now - 3 * DAY_MS)
        .bind(expires_at)
        .bind(used_at)
        .execute(p)
        .await)
        .unwrap();
    }
    for (key, window_start, locked_until) in [
        ("stale", now - 2 * HOUR_MS, None),
        ("lock-over", now - 2 * HOUR_MS, Some(now - HOUR_MS)),
        ("locked", now - 2 * HOUR_MS, Some(now + HOUR_MS)),
        ("recent", now - 60_000, None),
    ] {
        exec_db!(db, |p| sqlx::query(
            "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 3, $2, $3)"
        )
        .bind(key)
        .bind(window_start)
        .bind(locked_until)
        .execute(p)
        .await)
        .unwrap();
    }
    for (message_id, status, at) in [
        ("<old-sent>", "sent", now - 100 * DAY_MS),
        ("<old-failed>", "failed", now - 100 * DAY_MS),
        ("<recent>", "sent", now - DAY_MS),
    ] {
        exec_db!(db, |p| sqlx::query(
            "INSERT INTO outbox (message_id, to_addr, subject, body_text, status, attempts, next_attempt_at, created_at, sent_at)
             VALUES ($1, 'x@exemple.fr', 'Sujet', 'Texte', $2, 1, $3, $3, $4)"
        )
        .bind(message_id)
        .bind(status)
        .bind(at)
        .bind((status == "sent").then_some(at))
        .execute(p)
        .await)
        .unwrap();
    }
}

async fn column(db: &Db, sql: &'static str) -> Vec<String> {
    on_db!(db, |p| sqlx::query_scalar(sql).fetch_all(p).await).unwrap()
}

#[tokio::test]
async fn a_job_queued_before_a_restart_runs_after_it() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.workers = false).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let now = now_ms();
    // Unused for nine hours (idle timeout passed) / opened eight days ago / in use.
    insert_session(&app.db, "idle", now - 2 * DAY_MS, now - 9 * HOUR_MS).await;
    insert_session(&app.db, "too-old", now - 8 * DAY_MS, now - 60_000).await;
    insert_session(&app.db, "live", now - HOUR_MS, now - 60_000).await;
    stage_leftovers(&app.db, now).await;
    let id = enqueue(&app.db, "purge_expired", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(job(&app.db, id).await.status, "queued", "no worker runs in this instance");
    app.stop().await;

    let app = TestApp::start(&env, |_| {}).await;
    assert!(
        eventually(Duration::from_secs(10), || async { job(&app.db, id).await.status == "done" }).await,
        "the job queued before the restart runs: {:?}",
        job(&app.db, id).await
    );
    let row = job(&app.db, id).await;
    assert_eq!(row.attempts, 1);
    assert!(row.finished_at.is_some());
    assert!(!session_exists(&app.db, "idle").await, "idle session purged");
    assert!(!session_exists(&app.db, "too-old").await, "session past its absolute lifetime purged");
    assert!(session_exists(&app.db, "live").await, "a session in use is kept");
    assert_eq!(
        column(&app.db, "SELECT token_hash FROM password_resets ORDER BY token_hash").await,
        ["fresh", "just-used"]
    );
    assert_eq!(column(&app.db, "SELECT key FROM login_throttle ORDER BY key").await, ["locked", "recent"]);
    assert_eq!(
        column(&app.db, "SELECT message_id FROM outbox ORDER BY message_id").await,
        ["<old-failed>", "<recent>"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_unique_key_queues_the_work_once() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.workers = false).await;
    let first = enqueue(&app.db, "digest", Some("digest:user-7:2026-07-01")).await;
    let second = enqueue(&app.db, "digest", Some("digest:user-7:2026-07-01")).await;
    let other = enqueue(&app.db, "digest", Some("digest:user-7:2026-07-02")).await;
    assert!(first.is_some());
    assert_eq!(second, None, "the same key is not queued twice");
    assert!(other.is_some() && other != first);
    assert_eq!(jobs_of_kind(&app.db, "digest").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_failing_job_is_retried_then_marked_failed() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |_| {}).await;
    let id = enqueue(&app.db, "tache_inexistante", None).await.unwrap();

    // First failure: queued again for later, with the reason.
    assert!(eventually(Duration::from_secs(5), || async { job(&app.db, id).await.attempts >= 1 }).await);
    assert!(
        eventually(Duration::from_secs(5), || async { job(&app.db, id).await.status == "queued" }).await,
        "{:?}",
        job(&app.db, id).await
    );
    let row = job(&app.db, id).await;
    assert_eq!(row.attempts, 1);
    assert!(row.run_at > now_ms(), "the retry waits: {row:?}");
    assert!(row.last_error.as_deref().unwrap().contains("type de tâche inconnu"), "{row:?}");

    // Let time pass for each retry until the job gives up.
    let gave_up = eventually(Duration::from_secs(20), || async {
        exec_db!(&app.db, |p| sqlx::query("UPDATE jobs SET run_at = 0 WHERE id = $1 AND status = 'queued'")
            .bind(id)
            .execute(p)
            .await)
        .unwrap();
        job(&app.db, id).await.status == "failed"
    })
    .await;
    let row = job(&app.db, id).await;
    assert!(gave_up, "{row:?}");
    assert_eq!(row.attempts, row.max_attempts, "retried up to max_attempts: {row:?}");
    assert!(row.last_error.as_deref().unwrap().contains("tache_inexistante"));
    assert!(row.finished_at.is_some());
    // And it is left alone afterwards.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(job(&app.db, id).await.attempts, row.max_attempts);
    app.stop().await;
}

#[tokio::test]
async fn the_scheduler_queues_each_period_once_across_instances() {
    let env = TestEnv::new().await;
    let a = TestApp::start(&env, |_| {}).await;
    let b = TestApp::start(&env, |_| {}).await;
    let done_count = |n: usize| {
        let db = a.db.clone();
        async move {
            let jobs = jobs_of_kind(&db, "purge_expired").await;
            jobs.len() >= n && jobs.iter().all(|j| j.status == "done")
        }
    };
    assert!(eventually(Duration::from_secs(10), || done_count(1)).await, "the hourly purge runs at start");
    // Both instances tick many times in this while.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(jobs_of_kind(&a.db, "purge_expired").await.len(), 1, "queued once for this period");
    let next: i64 =
        on_db!(&a.db, |p| sqlx::query_scalar("SELECT next_run_at FROM schedules WHERE name = 'purge_expired'")
            .fetch_one(p)
            .await)
        .unwrap();
    assert!(next > now_ms() && next <= now_ms() + HOUR_MS, "next run within the hour");
    assert_eq!(next % HOUR_MS, 0, "on the hour");

    // The next period comes.
    exec_db!(&a.db, |p| sqlx::query("UPDATE schedules SET next_run_at = $1 WHERE name = 'purge_expired'")
        .bind(now_ms() - 1)
        .execute(p)
        .await)
    .unwrap();
    assert!(eventually(Duration::from_secs(10), || done_count(2)).await, "the next period's purge runs");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(jobs_of_kind(&b.db, "purge_expired").await.len(), 2, "once per period");
    a.stop().await;
    b.stop().await;
}
