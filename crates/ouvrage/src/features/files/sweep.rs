//! The orphan sweep: bytes are stored before the row that points to them is committed, so a
//! crash (or a failed transaction) between the two leaves bytes nobody points to. The sweep
//! deletes them once they are older than the grace period (an upload of another instance may
//! be between the two steps right now), and the half-written temporary files of a process
//! killed while writing. It runs at start-up and hourly.

use std::collections::HashSet;

use sqlx::AssertSqlSafe;

use super::FileStore;
use crate::app::AppState;
use crate::db::Db;
use crate::domain::time::now_ms;
use crate::on_db;

pub const KIND: &str = "sweep_orphan_files";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub objects: usize,
    pub deleted: usize,
    pub staging: usize,
}

/// Deletes stored objects no `files` row points to, written before `before_ms`.
pub async fn sweep(db: &Db, store: &FileStore, before_ms: i64) -> anyhow::Result<Swept> {
    let staging = store.remove_stale_staging(before_ms)?;
    let objects = store.list().await?;
    let old: Vec<&str> = objects.iter().filter(|(_, at)| *at <= before_ms).map(|(sha, _)| sha.as_str()).collect();
    let mut deleted = 0;
    for chunk in old.chunks(500) {
        // Hex digests only (checked by `FileStore::list`): safe to inline.
        let list = chunk.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT DISTINCT sha256 FROM files WHERE sha256 IN ({list})");
        let referenced: Vec<String> =
            on_db!(db, |p| sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_all(p).await)?;
        let referenced: HashSet<String> = referenced.into_iter().collect();
        for sha in chunk.iter().filter(|s| !referenced.contains(**s)) {
            // Checked again one by one: a row may have been committed since the batch query.
            let still_orphan: Option<i64> =
                on_db!(db, |p| sqlx::query_scalar("SELECT id FROM files WHERE sha256 = $1 LIMIT 1")
                    .bind(*sha)
                    .fetch_optional(p)
                    .await)?;
            // And not written again since the listing: an upload that found these bytes already
            // there writes them anew before committing its row (see `FileStore::put`).
            let rewritten = store.written_at(sha).await?.is_none_or(|at| at > before_ms);
            if still_orphan.is_none() && !rewritten {
                store.delete(sha).await?;
                deleted += 1;
            }
        }
    }
    Ok(Swept { objects: objects.len(), deleted, staging })
}

/// The job and the start-up pass: everything older than the configured grace period.
pub async fn run(state: &AppState, _payload: &serde_json::Value) -> anyhow::Result<()> {
    let before = now_ms() - (state.config.orphan_grace_secs as i64) * 1000;
    let swept = sweep(&state.db, &state.files, before).await?;
    if swept.deleted > 0 || swept.staging > 0 {
        tracing::warn!(?swept, "unreferenced stored bytes deleted");
    } else {
        tracing::info!(?swept, "no unreferenced stored bytes");
    }
    Ok(())
}
