//! Outgoing e-mail through a durable outbox: business code enqueues a message in its own
//! transaction; the worker delivers it over SMTP (or writes an .eml file when no SMTP server
//! is configured), with retries and backoff, so nothing is lost if the server is down.

pub mod attachments;
pub mod transport;
pub mod worker;

use crate::db::Tx;
use crate::domain::time::now_ms;
use crate::domain::{FileId, TenantId};
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
    enqueue_with_attachments(tx, mail, &[]).await
}

/// Like [`enqueue`], with stored files attached (of the mail's tenant). Only their ids are
/// queued: the worker reads the bytes from the file store when it sends, so the outbox stays
/// small and a file is never copied into the database.
pub async fn enqueue_with_attachments(tx: &mut Tx, mail: OutgoingMail, files: &[FileId]) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    let attachment_ids = files.iter().map(|f| f.0.to_string()).collect::<Vec<_>>().join(" ");
    let message_id = format!("<{}@ouvrage>", crate::http::session::random_token());
    on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, message_id, to_addr, subject, body_text, body_html, status, attempts, next_attempt_at,
                             created_at, attachment_file_ids)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $8) RETURNING id"
    )
    .bind(mail.tenant_id)
    .bind(&message_id)
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(now)
    .bind(&attachment_ids)
    .fetch_one(c)
    .await
    })
}
