//! The notification store: each business event is recorded once per recipient who may see it.
//! Capabilities call [`notify`] in the transaction of the change they announce; the digest
//! job mails what is new at each user's chosen frequency, and both faces list notifications
//! with their unread state.
//!
//! - [`digest`]: the periodic digest e-mails (claim before render, visibility re-checked).
//! - [`inbox`]: the in-app lists (`/espace/notifications`, `/bo/notifications`) and read state.
//! - [`unsubscribe`]: the one-click unsubscribe link every digest carries.
//! - [`invoice`]: the immediate invoice e-mail to a company's billing contact.
//! - [`bench`]: the digest benchmark of `ouvrage bench`.

pub mod bench;
pub mod digest;
pub mod inbox;
pub mod invoice;
pub mod unsubscribe;

use axum::Router;
use axum::routing::{get, post};

pub use digest::{DigestRunStats, claim_due_digests, compose_due_digests};
pub use invoice::mail_invoice_to_billing_contact;

use crate::app::AppState;
use crate::db::Tx;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, Permission, TenantId, UserId};
use crate::exec_tx;

/// What happened, described once for all its recipients.
#[derive(Clone, Debug)]
pub struct Event {
    pub tenant_id: TenantId,
    /// The client the event's object belongs to; `None` for the firm's own business. Set it for
    /// anything a client user receives: digests re-check it against the recipient's current
    /// company, and an event without a client is never mailed to a client user.
    pub client_id: Option<ClientId>,
    /// A stable code: `new_document`, `new_report`, `new_invoice`, `new_message`,
    /// `contact_request_validated`, `credential_request`… (`new_invoice` events are mailed
    /// only to recipients who still may see invoices).
    pub kind: &'static str,
    /// Identifies the event ("document:42"): recording it twice for a recipient keeps one row.
    pub event_key: String,
    /// The French line shown in lists and digests.
    pub title: String,
    /// Where the recipient goes to see it (a path, e.g. `/espace/documents`).
    pub link: String,
    /// The site the event concerns, to group digests by site ("" when none).
    pub site_label: String,
}

/// Who may see an event.
#[derive(Clone, Copy, Debug)]
pub enum Audience {
    /// The active users of a client, optionally only those holding a permission (invoices…).
    ClientUsers { client: ClientId, permission: Option<Permission> },
    /// The client's administrators only.
    ClientAdmins { client: ClientId },
    /// The firm's admin and office staff.
    Office,
    /// One user (who must belong to the event's tenant).
    User(UserId),
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/notifications", get(inbox::espace_list))
        .route("/bo/notifications", get(inbox::bo_list))
        .route("/notifications/{id}/lu", post(inbox::open))
        .route("/notifications/tout-lu", post(inbox::open_all))
        .route("/desabonnement/{token}", get(unsubscribe::page).post(unsubscribe::confirm))
}

/// `$start, $start+1, …` for `count` bound values (an `IN (…)` list).
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start..start + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Records the event for every recipient of `audience`; returns how many rows were added.
pub async fn notify(tx: &mut Tx, event: &Event, audience: Audience) -> Result<u64, sqlx::Error> {
    // $9 is the audience's one parameter (a client id, a user id or a permission code).
    let (filter, param): (&str, Param) = match audience {
        Audience::ClientUsers { client, permission: None } => ("u.client_id = $9", Param::Id(client.0)),
        Audience::ClientUsers { client, permission: Some(p) } => (
            // Client admins see everything of their company; others need the permission.
            "u.client_id = $9 AND (u.role = 'client_admin' OR (' ' || u.permissions || ' ') LIKE $10)",
            Param::IdAndText(client.0, format!("% {} %", p.code())),
        ),
        Audience::ClientAdmins { client } => ("u.client_id = $9 AND u.role = 'client_admin'", Param::Id(client.0)),
        Audience::Office => ("u.client_id IS NULL AND u.role IN ('admin', 'office')", Param::None),
        Audience::User(id) => ("u.id = $9", Param::Id(id.0)),
    };
    let sql = format!(
        "INSERT INTO notifications (tenant_id, user_id, client_id, site_label, kind, event_key, title, link, created_at)
         SELECT $1, u.id, $2, $3, $4, $5, $6, $7, $8 FROM users u
         WHERE u.tenant_id = $1 AND u.active AND {filter}
         ON CONFLICT (user_id, event_key) DO NOTHING"
    );
    exec_tx!(tx, |c| {
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(event.tenant_id)
            .bind(event.client_id)
            .bind(&event.site_label)
            .bind(event.kind)
            .bind(&event.event_key)
            .bind(&event.title)
            .bind(&event.link)
            .bind(now_ms());
        let q = match &param {
            Param::None => q,
            Param::Id(id) => q.bind(*id),
            Param::IdAndText(id, text) => q.bind(*id).bind(text.clone()),
        };
        q.execute(c).await
    })
}

enum Param {
    None,
    Id(i64),
    IdAndText(i64, String),
}
