//! The outbox worker: claims due messages with a lease (so two app instances never send the
//! same message at once), delivers them, and records the outcome. A message is marked sent only
//! after the server accepted it; a failure is retried with exponential backoff, and after
//! [`MAX_ATTEMPTS`] tries the message is marked failed and an error is logged.

use std::time::Duration;

use tokio::sync::watch;

use super::transport::{Failure, QueuedMail, Transport};
use crate::app::AppState;
use crate::db::{Db, Engine};
use crate::domain::time::{HOUR_MS, MINUTE_MS, SECOND_MS, now_ms};
use crate::{exec_db, on_tx};

/// Messages claimed per round trip.
const BATCH: i64 = 20;
/// How long a claim protects messages from other instances: longer than a whole batch of
/// timed-out SMTP conversations, so a slow server never causes a second send.
const LEASE_MS: i64 = 15 * MINUTE_MS;
/// After this many failed attempts the message is given up.
pub const MAX_ATTEMPTS: i64 = 10;

/// Wait before the next attempt, given the number of attempts made so far: 10 s, 20 s, 40 s...
/// up to one hour.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (10 * SECOND_MS).saturating_mul(1i64 << exp).min(HOUR_MS)
}

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(state.config.worker_poll_ms.max(10));
    let transport = match Transport::from_config(&state.config) {
        Ok(t) => Some(t),
        Err(e) => {
            // Messages stay queued until the configuration is fixed and the app restarted.
            tracing::error!(error = %e, "outbox: smtp_url is unusable, e-mails stay queued");
            None
        }
    };
    if let Some(t) = &transport {
        tracing::info!(transport = %t.describe(), "outbox worker started");
    }
    loop {
        if *stop.borrow() {
            break;
        }
        if let Some(t) = &transport {
            match drain_once(&state, t, &stop).await {
                // A full batch: there may be more waiting right now.
                Ok(n) if n >= BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: database error, will retry"),
            }
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = state.mail_wakeup.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Claims one batch of due messages and delivers them; returns how many were claimed.
pub async fn drain_once(
    state: &AppState,
    transport: &Transport,
    stop: &watch::Receiver<bool>,
) -> Result<usize, sqlx::Error> {
    let batch = claim(&state.db, BATCH).await?;
    let claimed = batch.len();
    for (i, mail) in batch.iter().enumerate() {
        if *stop.borrow() {
            // Shutting down: hand the rest back at once instead of waiting for the lease.
            for m in &batch[i..] {
                release(&state.db, m.id).await?;
            }
            break;
        }
        let outcome = match super::attachments::load(state, mail).await {
            Ok(attachments) => transport.deliver(&state.config.mail_from, mail, &attachments).await,
            Err(failure) => Err(failure),
        };
        record_outcome(&state.db, mail, outcome).await?;
    }
    Ok(claimed)
}

/// Marks up to `limit` due messages as being sent by this instance, until the lease ends.
/// Due: pending and whose retry time has come, or claimed by an instance whose lease ran out
/// (it crashed mid-batch).
pub async fn claim(db: &Db, limit: i64) -> Result<Vec<QueuedMail>, sqlx::Error> {
    let now = now_ms();
    let lock = match db.engine() {
        // Concurrent claimers skip each other's rows instead of waiting for them.
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        // A SQLite write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET status = 'sending', locked_until = $1
         WHERE id IN (
           SELECT id FROM outbox
           WHERE (status = 'pending' OR (status = 'sending' AND locked_until < $2)) AND next_attempt_at <= $2
           ORDER BY id LIMIT $3{lock})
         RETURNING id, message_id, to_addr, subject, body_text, body_html, attempts, created_at, extra_headers,
                   tenant_id, attachment_file_ids"
    );
    let mut tx = db.begin().await?;
    let mut rows: Vec<QueuedMail> = on_tx!(&mut tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now + LEASE_MS)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    tx.commit().await?;
    rows.sort_by_key(|m| m.id);
    Ok(rows)
}

async fn release(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query(
        "UPDATE outbox SET status = 'pending', locked_until = NULL WHERE id = $1 AND status = 'sending'"
    )
    .bind(id)
    .execute(p)
    .await)?;
    Ok(())
}

async fn record_outcome(db: &Db, mail: &QueuedMail, outcome: Result<(), Failure>) -> Result<(), sqlx::Error> {
    let attempts = mail.attempts + 1;
    let now = now_ms();
    match outcome {
        Ok(()) => {
            // The server has the message: recording it must not be lost to a passing database
            // hiccup, or the message would be sent again when the lease runs out.
            let mut tries = 0;
            loop {
                let done = exec_db!(db, |p| {
                    sqlx::query(
                    "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = $2, locked_until = NULL, last_error = NULL
                     WHERE id = $3"
                )
                .bind(now)
                .bind(attempts)
                .bind(mail.id)
                .execute(p)
                .await
                });
                match done {
                    Ok(_) => break,
                    Err(e) if tries < 5 => {
                        tries += 1;
                        tracing::warn!(outbox_id = mail.id, error = %e, "outbox: could not record a sent message, retrying");
                        tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            tracing::info!(outbox_id = mail.id, attempts, "e-mail sent");
        }
        Err(failure) => {
            let permanent = matches!(failure, Failure::Permanent(_)) || attempts >= MAX_ATTEMPTS;
            let status = if permanent { "failed" } else { "pending" };
            let next = now + retry_delay_ms(attempts);
            exec_db!(db, |p| {
                sqlx::query(
                "UPDATE outbox SET status = $1, attempts = $2, last_error = $3, next_attempt_at = $4, locked_until = NULL
                 WHERE id = $5"
            )
            .bind(status)
            .bind(attempts)
            .bind(failure.message())
            .bind(next)
            .bind(mail.id)
            .execute(p)
            .await
            })?;
            if permanent {
                tracing::error!(outbox_id = mail.id, attempts, error = %failure.message(), "e-mail given up");
            } else {
                tracing::warn!(outbox_id = mail.id, attempts, retry_in_ms = next - now, error = %failure.message(), "e-mail delivery failed, will retry");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps_at_one_hour() {
        assert_eq!(retry_delay_ms(1), 10 * SECOND_MS);
        assert_eq!(retry_delay_ms(2), 20 * SECOND_MS);
        assert_eq!(retry_delay_ms(3), 40 * SECOND_MS);
        assert_eq!(retry_delay_ms(9), 2560 * SECOND_MS);
        assert_eq!(retry_delay_ms(10), HOUR_MS);
        assert_eq!(retry_delay_ms(1000), HOUR_MS);
    }
}
