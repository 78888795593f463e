//! Background workers of this process: the e-mail outbox and the job runner with its
//! scheduler (both coordinate with other instances through the database), and on SQLite the
//! write-ahead log's checkpoints.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::db::{Db, Engine};

pub fn spawn_all(state: AppState, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut workers = vec![
        tokio::spawn(super::mail::worker::run(state.clone(), stop.clone())),
        tokio::spawn(super::jobs::worker::run(state.clone(), stop.clone())),
    ];
    if state.db.engine() == Engine::Sqlite {
        workers.push(tokio::spawn(checkpoint_wal(state.db.clone(), stop)));
    }
    workers
}

/// How often the SQLite write-ahead log is folded back into the database and restarted.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

/// SQLite's automatic checkpoints copy the log into the database but never restart it while a
/// reader is in flight, which under steady load is always: the soak saw the log reach 1.7 GB in
/// ten minutes. A RESTART checkpoint waits (busy timeout) for readers to move to the newest
/// snapshot, then the next writer starts the log from its beginning, and `journal_size_limit`
/// trims the file.
async fn checkpoint_wal(db: Db, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
        }
        if *stop.borrow() {
            return;
        }
        let done: Result<(i64, i64, i64), sqlx::Error> =
            crate::on_db!(&db, |p| sqlx::query_as("PRAGMA wal_checkpoint(RESTART)").fetch_one(p).await);
        match done {
            Ok((0, _, _)) => {}
            Ok((_, log, done)) => tracing::debug!(log, done, "WAL checkpoint could not restart the log yet"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}
