//! `purge_expired`: hourly housekeeping of rows that no longer serve any purpose: ended
//! sessions, spent password-reset links, stale throttling counters, and e-mails sent long ago.

use crate::app::AppState;
use crate::domain::time::{DAY_MS, now_ms};
use crate::exec_db;
use crate::features::auth::{ACCOUNT_LIMIT, IP_LIMIT, RESET_REQUEST_LIMIT};
use crate::http::session::{ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS};

pub const KIND: &str = "purge_expired";

/// Sent e-mails are kept this long (to answer "did you send it?"), then deleted.
pub const SENT_MAIL_RETENTION_MS: i64 = 90 * DAY_MS;
/// Used or expired reset links are kept this long, for investigating abuse.
pub const RESET_RETENTION_MS: i64 = DAY_MS;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub password_resets: u64,
    pub throttle: u64,
    pub outbox: u64,
}

pub async fn run(state: &AppState, _payload: &serde_json::Value) -> anyhow::Result<()> {
    let purged = purge(&state.db, now_ms()).await?;
    tracing::info!(?purged, "expired rows purged");
    Ok(())
}

pub async fn purge(db: &crate::db::Db, now: i64) -> Result<Purged, sqlx::Error> {
    let sessions = exec_db!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2 OR expires_at < $3"
    )
    .bind(now - IDLE_TIMEOUT_MS)
    .bind(now - ABSOLUTE_TIMEOUT_MS)
    .bind(now)
    .execute(p)
    .await)?;
    let password_resets =
        exec_db!(db, |p| sqlx::query("DELETE FROM password_resets WHERE used_at < $1 OR expires_at < $1")
            .bind(now - RESET_RETENTION_MS)
            .execute(p)
            .await)?;
    // A counter matters while its window is open or its lock runs; the longest window decides.
    let longest_window = [ACCOUNT_LIMIT, IP_LIMIT, RESET_REQUEST_LIMIT].iter().map(|l| l.window_ms).max().unwrap_or(0);
    let throttle = exec_db!(db, |p| sqlx::query(
        "DELETE FROM login_throttle WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < $2)"
    )
    .bind(now - longest_window)
    .bind(now)
    .execute(p)
    .await)?;
    let outbox = exec_db!(db, |p| sqlx::query("DELETE FROM outbox WHERE status = 'sent' AND sent_at < $1")
        .bind(now - SENT_MAIL_RETENTION_MS)
        .execute(p)
        .await)?;
    Ok(Purged { sessions, password_resets, throttle, outbox })
}
