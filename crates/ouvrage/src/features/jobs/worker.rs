//! The job runner: claims due jobs with a lease (`locked_by` this process, `locked_until` now +
//! [`LEASE_MS`], extended while the job runs), runs the handler of their kind, and records the
//! outcome: done, retried later with backoff, or failed after `max_attempts`. A job whose
//! instance died is claimed again once its lease has run out. Each round also ticks the
//! periodic scheduler.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::watch;

use super::{registry, scheduler};
use crate::app::AppState;
use crate::db::{Db, Engine};
use crate::domain::time::{HOUR_MS, MINUTE_MS, SECOND_MS, now_ms};
use crate::domain::{JobId, TenantId};
use crate::{exec_db, on_tx};

/// How long a claim protects a job from other instances; renewed every third of it while the
/// handler runs.
pub const LEASE_MS: i64 = 5 * MINUTE_MS;
/// Jobs run concurrently by one instance.
const BATCH: i64 = 4;

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    pub payload: String,
    /// Including this run.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Wait before retrying a job that failed `attempts` times: 30 s, 1 min, 2 min... up to 1 h.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (30 * SECOND_MS).saturating_mul(1i64 << exp).min(HOUR_MS)
}

/// This process's name in `locked_by`.
fn worker_id() -> String {
    let token = crate::http::session::random_token();
    format!("{}-{}", std::process::id(), &token[..12])
}

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(state.config.worker_poll_ms.max(10));
    let me = worker_id();
    let mut installed = false;
    tracing::info!(worker = %me, "job worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        if !installed {
            match scheduler::install(&state.db).await {
                Ok(()) => installed = true,
                Err(e) => tracing::warn!(error = %e, "jobs: could not record the schedules, will retry"),
            }
        }
        if installed && let Err(e) = scheduler::tick(&state.db).await {
            tracing::warn!(error = %e, "jobs: scheduler error, will retry");
        }
        match run_once(&state, &me).await {
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "jobs: database error, will retry"),
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Claims a batch of due jobs and runs them to the end; returns how many were claimed.
pub async fn run_once(state: &AppState, me: &str) -> Result<usize, sqlx::Error> {
    let jobs = claim(&state.db, me, BATCH).await?;
    let n = jobs.len();
    let results = futures::future::join_all(jobs.into_iter().map(|job| execute(state, me, job))).await;
    for r in results {
        r?;
    }
    Ok(n)
}

/// Marks up to `limit` due jobs as running for `me`, counting the attempt.
pub async fn claim(db: &Db, me: &str, limit: i64) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let now = now_ms();
    let lock = match db.engine() {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        // A SQLite write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM jobs
           WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)
           ORDER BY run_at, id LIMIT $4{lock})
         RETURNING id, tenant_id, kind, payload, attempts, max_attempts"
    );
    let mut tx = db.begin().await?;
    let mut jobs: Vec<ClaimedJob> = on_tx!(&mut tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(me)
        .bind(now + LEASE_MS)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    tx.commit().await?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

async fn execute(state: &AppState, me: &str, job: ClaimedJob) -> Result<(), sqlx::Error> {
    if job.attempts > job.max_attempts {
        // Its previous runs never came back (the instance died each time): stop trying.
        let msg = "abandonnée : l'exécution précédente ne s'est jamais terminée".to_string();
        return finish(&state.db, me, &job, Err(msg)).await;
    }
    let outcome = match serde_json::from_str::<serde_json::Value>(&job.payload) {
        Err(e) => Err(format!("données de la tâche illisibles : {e}")),
        Ok(payload) => {
            let work = AssertUnwindSafe(registry::run_job(state, &job.kind, &payload)).catch_unwind();
            let result = with_heartbeat(&state.db, me, job.id, work).await;
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(_) => Err("la tâche s'est interrompue sur une erreur interne (panic)".to_string()),
            }
        }
    };
    finish(&state.db, me, &job, outcome).await
}

/// Runs `work`, extending the job's lease while it runs so no other instance takes it over.
async fn with_heartbeat<F: std::future::Future>(db: &Db, me: &str, id: JobId, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    let every = Duration::from_millis((LEASE_MS / 3) as u64);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep(every) => {
                let renewed = exec_db!(db, |p| sqlx::query(
                    "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND status = 'running'"
                )
                .bind(now_ms() + LEASE_MS)
                .bind(id)
                .bind(me)
                .execute(p)
                .await);
                if let Err(e) = renewed {
                    tracing::warn!(job_id = %id, error = %e, "jobs: could not renew a lease");
                }
            }
        }
    }
}

async fn finish(db: &Db, me: &str, job: &ClaimedJob, outcome: Result<(), String>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    match outcome {
        Ok(()) => {
            exec_db!(db, |p| {
                sqlx::query(
                "UPDATE jobs SET status = 'done', finished_at = $1, locked_by = NULL, locked_until = NULL, last_error = NULL
                 WHERE id = $2 AND locked_by = $3"
            )
            .bind(now)
            .bind(job.id)
            .bind(me)
            .execute(p)
            .await
            })?;
            tracing::info!(job_id = %job.id, kind = %job.kind, "job done");
        }
        Err(error) => {
            let error: String = error.chars().take(2000).collect();
            let failed = job.attempts >= job.max_attempts;
            exec_db!(db, |p| {
                sqlx::query(
                "UPDATE jobs SET status = $1, run_at = $2, finished_at = $3, last_error = $4, locked_by = NULL, locked_until = NULL
                 WHERE id = $5 AND locked_by = $6"
            )
            .bind(if failed { "failed" } else { "queued" })
            .bind(if failed { now } else { now + retry_delay_ms(job.attempts) })
            .bind(failed.then_some(now))
            .bind(&error)
            .bind(job.id)
            .bind(me)
            .execute(p)
            .await
            })?;
            if failed {
                tracing::error!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempts = job.attempts, %error, "job failed for good");
            } else {
                tracing::warn!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, %error, "job failed, will retry");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(retry_delay_ms(1), 30 * SECOND_MS);
        assert_eq!(retry_delay_ms(2), MINUTE_MS);
        assert_eq!(retry_delay_ms(4), 4 * MINUTE_MS);
        assert_eq!(retry_delay_ms(50), HOUR_MS);
    }
}
