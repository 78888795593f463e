//! The two dashboards' counts, each answered by one query so that the page that every user
//! opens first stays fast with a thousand sites per company: the client's (state of its sites,
//! what the firm still expects, what to sign, what is new) and the firm's (what waits for it).
//! Every count links to the list it counts, filtered the same way.

use crate::db::Db;
use crate::domain::{ClientId, TenantId, UserId};
use crate::on_db;

/// A site still waiting for an expected document or piece of data from the client (missing,
/// or refused and to send again): a counter the database keeps (migration 0009).
const INCOMPLETE: &str = "s.requirements_missing > 0";

#[derive(Debug, Default, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientCounts {
    /// PHASE TRAVAUX: the company's sites in the works phase (chantiers à venir).
    pub works: i64,
    /// PHASE RÉCEPTION – planifiés incomplets: handover phase, scheduled, something missing.
    pub planned_incomplete: i64,
    /// PHASE RÉCEPTION – réalisés incomplets: handover phase, done, something missing.
    pub done_incomplete: i64,
    /// Chantiers with expected documents or data not sent yet (missing, or refused and to
    /// send again).
    pub expected: i64,
    /// Justificatifs waiting for a signature this user may give (the company's, or theirs).
    pub to_sign: i64,
    pub new_reports: i64,
    pub new_invoices: i64,
}

/// The client dashboard's counts for `user` of `client`.
pub async fn client_counts(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
    user: UserId,
    sees_invoices: bool,
) -> Result<ClientCounts, sqlx::Error> {
    let sql = format!(
        "SELECT
           (SELECT COUNT(*) FROM sites s WHERE s.tenant_id = $1 AND s.client_id = $2 AND s.archived = FALSE
              AND s.phase = 'works') AS works,
           (SELECT COUNT(*) FROM sites s WHERE s.tenant_id = $1 AND s.client_id = $2 AND s.archived = FALSE
              AND s.phase = 'handover' AND s.status = 'scheduled' AND {INCOMPLETE}) AS planned_incomplete,
           (SELECT COUNT(*) FROM sites s WHERE s.tenant_id = $1 AND s.client_id = $2 AND s.archived = FALSE
              AND s.phase = 'handover' AND s.status = 'done' AND {INCOMPLETE}) AS done_incomplete,
           (SELECT COUNT(*) FROM sites s WHERE s.tenant_id = $1 AND s.client_id = $2 AND s.archived = FALSE
              AND {INCOMPLETE}) AS expected,
           (SELECT COUNT(*) FROM signature_requests g WHERE g.tenant_id = $1 AND g.client_id = $2
              AND g.status = 'pending' AND (g.signer_user_id IS NULL OR g.signer_user_id = $3)) AS to_sign,
           (SELECT COUNT(*) FROM documents d WHERE d.tenant_id = $1 AND d.client_id = $2 AND d.published_as = 'report'
              AND d.is_current = TRUE AND d.first_seen_at IS NULL) AS new_reports,
           (SELECT COUNT(*) FROM documents d WHERE d.tenant_id = $1 AND d.client_id = $2 AND d.published_as = 'invoice'
              AND d.is_current = TRUE AND d.first_seen_at IS NULL AND $4 = TRUE) AS new_invoices"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant)
        .bind(client)
        .bind(user)
        .bind(sees_invoices)
        .fetch_one(p)
        .await)
}

#[derive(Debug, Default, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FirmCounts {
    /// Contact and credential requests waiting for an answer.
    pub requests: i64,
    /// Intervention requests not answered yet.
    pub intervention_requests: i64,
    /// Documents and data received from clients, to validate or refuse.
    pub to_validate: i64,
    /// Conversations whose last message is the client's (open).
    pub unanswered: i64,
    /// Justificatifs sent for signature and not signed yet.
    pub awaiting_signature: i64,
    /// Chantiers planned whose client still has documents or data to send.
    pub planned_incomplete: i64,
}

pub async fn firm_counts(db: &Db, tenant: TenantId) -> Result<FirmCounts, sqlx::Error> {
    let sql = format!(
        "SELECT
           (SELECT COUNT(*) FROM contact_requests WHERE tenant_id = $1 AND status = 'pending')
             + (SELECT COUNT(*) FROM credential_requests WHERE tenant_id = $1 AND status = 'pending') AS requests,
           (SELECT COUNT(*) FROM intervention_requests WHERE tenant_id = $1 AND status = 'pending')
             AS intervention_requests,
           (SELECT COUNT(*) FROM site_requirements WHERE tenant_id = $1 AND status = 'received') AS to_validate,
           (SELECT COUNT(*) FROM threads WHERE tenant_id = $1 AND status = 'open') AS unanswered,
           (SELECT COUNT(*) FROM signature_requests WHERE tenant_id = $1 AND status = 'pending') AS awaiting_signature,
           (SELECT COUNT(*) FROM sites s WHERE s.tenant_id = $1 AND s.archived = FALSE AND s.status = 'scheduled'
              AND {INCOMPLETE}) AS planned_incomplete"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(tenant).fetch_one(p).await)
}
