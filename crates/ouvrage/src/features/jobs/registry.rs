//! Every kind of background job and every periodic schedule, in one place.
//!
//! To add a kind: write, in your feature, a handler
//! `pub async fn run(state: &AppState, payload: &serde_json::Value) -> anyhow::Result<()>`
//! that is safe to run twice (a job whose instance died mid-way is run again), add one arm to
//! [`run_job`], and queue it with [`super::enqueue`]. To run it periodically, add a line to
//! [`SCHEDULES`] as well. An error returned by a handler is retried with backoff, then the job
//! is marked failed with the error text: write that text in French, administrators read it.

use crate::app::AppState;

use super::purge;
use crate::features::files::sweep;
use crate::features::notifications::digest;

/// A job that the scheduler queues every `every_secs`.
pub struct Schedule {
    /// Also the schedule's key in the `schedules` table.
    pub name: &'static str,
    pub every_secs: i64,
    /// The job kind queued at each period.
    pub kind: &'static str,
}

/// The built-in periodic jobs.
pub const SCHEDULES: &[Schedule] = &[
    Schedule { name: "purge_expired", every_secs: 3600, kind: purge::KIND },
    Schedule { name: "compose_digests", every_secs: digest::EVERY_SECS, kind: digest::KIND },
    Schedule { name: "sweep_orphan_files", every_secs: 3600, kind: sweep::KIND },
];

/// Runs the handler of a job kind.
pub async fn run_job(state: &AppState, kind: &str, payload: &serde_json::Value) -> anyhow::Result<()> {
    match kind {
        purge::KIND => purge::run(state, payload).await,
        digest::KIND => digest::run(state, payload).await,
        sweep::KIND => sweep::run(state, payload).await,
        // During a rolling upgrade an older instance may meet a kind only newer ones know: the
        // job is retried (a newer instance may take it) before being marked failed.
        other => anyhow::bail!("type de tâche inconnu : « {other} »"),
    }
}
