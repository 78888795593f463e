//! Outgoing e-mail through a durable outbox: business code enqueues a message in its own
//! transaction; the worker delivers it over SMTP (or writes an .eml file when no SMTP server
//! is configured), with retries and backoff, so nothing is lost if the server is down.

pub mod transport;
pub mod worker;

use crate::db::Tx;
use crate::domain::TenantId;
use crate::domain::time::now_ms;
use crate::on_tx;

pub struct OutgoingMail {
    pub tenant_id: Option<TenantId>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Queues a message in the caller's transaction: it is sent only if the transaction commits.
/// Call `state.mail_wakeup.notify_one()` after commit to send without waiting for the next poll.
pub async fn enqueue(tx: &mut Tx, mail: OutgoingMail) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    let message_id = format!("<{}@ouvrage>", crate::http::session::random_token());
    on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, message_id, to_addr, subject, body_text, body_html, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) RETURNING id"
    )
    .bind(mail.tenant_id)
    .bind(&message_id)
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(now)
    .fetch_one(c)
    .await
    })
}
