//! Durable background jobs and the periodic scheduler, in the database so they survive
//! restarts and are shared safely by several app instances. Job kinds and periodic schedules
//! are listed in [`registry`]: start there to add one.

pub mod purge;
pub mod registry;
pub mod scheduler;
pub mod worker;

use crate::db::Tx;
use crate::domain::TenantId;
use crate::domain::time::now_ms;
use crate::on_tx;

/// Queues a job in the caller's transaction. With a `unique_key`, queuing the same work twice
/// is a no-op (returns `None`).
pub async fn enqueue(
    tx: &mut Tx,
    tenant_id: Option<TenantId>,
    kind: &str,
    payload: &serde_json::Value,
    run_at: i64,
    unique_key: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO jobs (tenant_id, kind, payload, unique_key, status, run_at, attempts, max_attempts, created_at)
         VALUES ($1, $2, $3, $4, 'queued', $5, 0, 5, $6)
         ON CONFLICT (unique_key) DO NOTHING RETURNING id"
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(payload.to_string())
    .bind(unique_key)
    .bind(run_at)
    .bind(now_ms())
    .fetch_optional(c)
    .await)
}
