//! The audit log: who changed what, when, from where. Append-only (the database refuses
//! updates and deletes); written in the same transaction as the change it records.

pub mod routes;

pub use routes::routes;

use crate::db::Tx;
use crate::domain::time::now_ms;
use crate::domain::{TenantId, UserId};
use crate::exec_tx;
use crate::http::Actor;

/// Who did it, when there may be no logged-in user (CLI, demo loader, a public form).
#[derive(Clone, Debug)]
pub struct AuditActor {
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    pub label: String,
    pub ip: String,
}

impl From<&Actor> for AuditActor {
    fn from(a: &Actor) -> Self {
        AuditActor { tenant_id: a.tenant_id, user_id: Some(a.user_id), label: a.label(), ip: a.ip.clone() }
    }
}

/// Records one change. `action` is a verb code ("create", "update", "login"…), `entity` the
/// kind of object, `summary` a short French description shown to admins.
pub async fn record(
    tx: &mut Tx,
    who: impl Into<AuditActor>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    summary: &str,
) -> Result<(), sqlx::Error> {
    let who = who.into();
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO audit_log (tenant_id, user_id, actor_label, action, entity, entity_id, summary, ip, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(who.tenant_id)
    .bind(who.user_id)
    .bind(&who.label)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(summary)
    .bind(&who.ip)
    .bind(now_ms())
    .execute(c)
    .await)?;
    Ok(())
}
