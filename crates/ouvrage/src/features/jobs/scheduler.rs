//! The periodic scheduler: each built-in schedule queues its job once per period, however many
//! app instances share the database. An instance that finds a schedule due advances
//! `next_run_at` with a compare-and-set; only the one whose update changed a row queues the job,
//! and the job's `unique_key` (schedule name + the period's start) makes a second queuing of the
//! same period a no-op anyway.

use super::registry::{SCHEDULES, Schedule};
use crate::db::Db;
use crate::domain::time::{SECOND_MS, now_ms};
use crate::{exec_db, exec_tx, on_db};

/// Records the built-in schedules. A new schedule is due at once; an existing one keeps its next
/// run and takes the current period length.
pub async fn install(db: &Db) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for s in SCHEDULES {
        exec_db!(db, |p| sqlx::query(
            "INSERT INTO schedules (name, every_secs, next_run_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET every_secs = excluded.every_secs"
        )
        .bind(s.name)
        .bind(s.every_secs)
        .bind(now)
        .execute(p)
        .await)?;
    }
    Ok(())
}

/// The next run after `now`: the start of the next period on a fixed grid (every hour on the
/// hour...), so missed periods are not run in a burst after downtime.
pub fn next_run_after(now: i64, every_secs: i64) -> i64 {
    let period = every_secs.max(1) * SECOND_MS;
    (now.div_euclid(period) + 1) * period
}

/// The `unique_key` of the job queued for the period starting at `slot`.
pub fn period_key(schedule: &str, slot: i64) -> String {
    format!("schedule:{schedule}:{slot}")
}

/// Queues the job of every due schedule; returns the names of those this instance queued.
pub async fn tick(db: &Db) -> Result<Vec<&'static str>, sqlx::Error> {
    let now = now_ms();
    let due: Vec<(String, i64, i64)> =
        on_db!(db, |p| sqlx::query_as("SELECT name, every_secs, next_run_at FROM schedules WHERE next_run_at <= $1")
            .bind(now)
            .fetch_all(p)
            .await)?;
    let mut queued = Vec::new();
    for (name, every_secs, slot) in due {
        // Rows of schedules this version does not know (removed features) are left alone.
        let Some(schedule) = SCHEDULES.iter().find(|s| s.name == name) else { continue };
        if run_due(db, schedule, every_secs, slot, now).await? {
            queued.push(schedule.name);
        }
    }
    Ok(queued)
}

async fn run_due(db: &Db, s: &Schedule, every_secs: i64, slot: i64, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let won = exec_tx!(&mut tx, |c| sqlx::query(
        "UPDATE schedules SET next_run_at = $1 WHERE name = $2 AND next_run_at = $3"
    )
    .bind(next_run_after(now, every_secs))
    .bind(s.name)
    .bind(slot)
    .execute(c)
    .await)?;
    if won != 1 {
        // Another instance took this period.
        return Ok(false);
    }
    let key = period_key(s.name, slot);
    let id = super::enqueue(&mut tx, None, s.kind, &serde_json::json!({}), now, Some(&key)).await?;
    tx.commit().await?;
    if id.is_some() {
        tracing::info!(schedule = s.name, "periodic job queued");
    }
    Ok(id.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::HOUR_MS;

    #[test]
    fn next_runs_follow_a_fixed_grid() {
        let t = 1_782_907_200_000; // on the hour
        assert_eq!(next_run_after(t, 3600), t + HOUR_MS);
        assert_eq!(next_run_after(t + 1, 3600), t + HOUR_MS);
        assert_eq!(next_run_after(t + HOUR_MS - 1, 3600), t + HOUR_MS);
        // Five hours late: the next run is the next hour, not five runs in a row.
        assert_eq!(next_run_after(t + 5 * HOUR_MS + 10, 3600), t + 6 * HOUR_MS);
        assert_ne!(period_key("purge_expired", t), period_key("purge_expired", t + HOUR_MS));
    }
}
