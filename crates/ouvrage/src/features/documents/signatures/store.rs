//! The signatures feature's SQL: requests read in the actor's scope (the tenant always, the own
//! client for client users), the claim that lets one signature through, and the evidence log,
//! which the database itself keeps append-only.

use sqlx::AssertSqlSafe;

use super::Status;
use crate::db::{Db, Tx};
use crate::domain::time::MINUTE_MS;
use crate::domain::{ClientId, DocumentId, FileId, SiteId, TenantId, UserId};
use crate::http::Actor;
use crate::{exec_db, exec_tx, on_db, on_tx};

/// A request with what its pages show: client, site, the original's file, the people named.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub client_name: String,
    pub site_id: SiteId,
    pub site_name: String,
    pub document_id: DocumentId,
    pub file_id: FileId,
    pub file_sha256: String,
    pub content_type: String,
    pub original_name: String,
    pub title: String,
    pub signer_user_id: Option<UserId>,
    pub signer_name: Option<String>,
    pub stamp_page: Option<i64>,
    pub anchor: String,
    pub status: String,
    pub method: String,
    pub original_sha256: String,
    pub signed_document_id: Option<DocumentId>,
    pub signed_by: Option<UserId>,
    pub signed_by_name: Option<String>,
    pub signed_at: Option<i64>,
    pub created_by_name: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "r.id, r.tenant_id, r.client_id, cl.name AS client_name, r.site_id, s.name AS site_name,
    r.document_id, d.file_id, f.sha256 AS file_sha256, f.content_type, f.original_name, r.title, r.signer_user_id,
    su.full_name AS signer_name, r.stamp_page, r.anchor, r.status, r.method, r.original_sha256,
    r.signed_document_id, r.signed_by, sb.full_name AS signed_by_name, r.signed_at, cb.full_name AS created_by_name,
    r.created_at";

const JOINS: &str = "FROM signature_requests r
    JOIN clients cl ON cl.id = r.client_id AND cl.tenant_id = r.tenant_id
    JOIN sites s ON s.id = r.site_id AND s.tenant_id = r.tenant_id
    JOIN documents d ON d.id = r.document_id AND d.tenant_id = r.tenant_id
    JOIN files f ON f.id = d.file_id AND f.tenant_id = r.tenant_id
    LEFT JOIN users su ON su.id = r.signer_user_id AND su.tenant_id = r.tenant_id
    LEFT JOIN users sb ON sb.id = r.signed_by AND sb.tenant_id = r.tenant_id
    LEFT JOIN users cb ON cb.id = r.created_by AND cb.tenant_id = r.tenant_id";

/// The scope every read applies: `$1` tenant, `$2` client (NULL for staff).
const SCOPE: &str = "r.tenant_id = $1 AND ($2 IS NULL OR r.client_id = $2)";

/// The request if the actor may see it; `None` alike for an unknown id and someone else's.
pub async fn find(db: &Db, actor: &Actor, id: i64) -> Result<Option<RequestRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {JOINS} WHERE {SCOPE} AND r.id = $3");
    on_db!(db, |p| sqlx::query_as(AssertSqlSafe(sql.clone()))
        .bind(actor.tenant_id)
        .bind(actor.client_scope())
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Which requests a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Only(Status),
    /// Pending and signed: what the client still has to do and what they did.
    Open,
}

/// The most a list shows; older requests stay reachable from their site.
pub const LIST_LIMIT: i64 = 500;

/// Requests in the actor's scope, pending first, newest first.
pub async fn list(
    db: &Db,
    actor: &Actor,
    site: Option<SiteId>,
    filter: StatusFilter,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    let only = match filter {
        StatusFilter::Only(s) => s.code(),
        _ => "",
    };
    let sql = format!(
        "SELECT {COLUMNS} {JOINS} WHERE {SCOPE}
           AND ($3 IS NULL OR r.site_id = $3) AND ($4 = '' OR r.status = $4)
           AND ($5 = FALSE OR r.status <> 'cancelled')
         ORDER BY CASE WHEN r.status = 'pending' THEN 0 ELSE 1 END, r.created_at DESC, r.id DESC
         LIMIT $6"
    );
    on_db!(db, |p| sqlx::query_as(AssertSqlSafe(sql.clone()))
        .bind(actor.tenant_id)
        .bind(actor.client_scope())
        .bind(site)
        .bind(only)
        .bind(filter == StatusFilter::Open)
        .bind(LIST_LIMIT)
        .fetch_all(p)
        .await)
}

/// A request about to be written.
pub struct NewRequest<'a> {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub site_id: SiteId,
    pub document_id: DocumentId,
    pub title: &'a str,
    pub signer_user_id: Option<UserId>,
    pub stamp_page: Option<i64>,
    pub anchor: &'a str,
    pub original_sha256: &'a str,
    pub created_by: UserId,
    pub created_at: i64,
}

pub async fn insert(tx: &mut Tx, new: &NewRequest<'_>) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO signature_requests (tenant_id, client_id, site_id, document_id, title, signer_user_id, stamp_page,
                                         anchor, status, method, original_sha256, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', '', $9, $10, $11) RETURNING id"
    )
    .bind(new.tenant_id)
    .bind(new.client_id)
    .bind(new.site_id)
    .bind(new.document_id)
    .bind(new.title)
    .bind(new.signer_user_id)
    .bind(new.stamp_page)
    .bind(new.anchor)
    .bind(new.original_sha256)
    .bind(new.created_by)
    .bind(new.created_at)
    .fetch_one(c)
    .await)
}

/// How long a claim holds before another attempt may take it over: only a crash mid-signature
/// leaves one behind, and signing takes well under this.
pub const CLAIM_TTL_MS: i64 = 2 * MINUTE_MS;

/// A signature in progress: who claimed the request, how, and when (the claim's identity).
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    pub request: i64,
    pub tenant: TenantId,
    pub user: UserId,
    pub method: &'static str,
    pub at: i64,
}

/// Reserves a pending request for one signature, so that a double click or two signers at
/// once file one signed document, not two. The claim lives in the row (method, signer, time)
/// while the status stays pending; false when the request is signed, cancelled or being signed.
pub async fn claim(db: &Db, claim: &Claim) -> Result<bool, sqlx::Error> {
    let n = exec_db!(db, |p| sqlx::query(
        "UPDATE signature_requests SET method = $3, signed_by = $4, signed_at = $5
         WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND (method = '' OR signed_at < $6)"
    )
    .bind(claim.request)
    .bind(claim.tenant)
    .bind(claim.method)
    .bind(claim.user)
    .bind(claim.at)
    .bind(claim.at - CLAIM_TTL_MS)
    .execute(p)
    .await)?;
    Ok(n == 1)
}

/// Gives a claim back after a failure: the request is pending again for anyone.
pub async fn release(db: &Db, claim: &Claim) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query(
        "UPDATE signature_requests SET method = '', signed_by = NULL, signed_at = NULL
         WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND signed_by = $3 AND signed_at = $4"
    )
    .bind(claim.request)
    .bind(claim.tenant)
    .bind(claim.user)
    .bind(claim.at)
    .execute(p)
    .await)?;
    Ok(())
}

/// Marks the claimed request signed with its signed document; false when the claim was lost.
pub async fn finish(tx: &mut Tx, claim: &Claim, signed: DocumentId, now: i64) -> Result<bool, sqlx::Error> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE signature_requests SET status = 'signed', signed_document_id = $5, signed_at = $6
         WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND signed_by = $3 AND signed_at = $4"
    )
    .bind(claim.request)
    .bind(claim.tenant)
    .bind(claim.user)
    .bind(claim.at)
    .bind(signed)
    .bind(now)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Cancels a pending request nobody is signing; false otherwise.
pub async fn cancel(tx: &mut Tx, tenant: TenantId, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE signature_requests SET status = 'cancelled'
         WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND (method = '' OR signed_at < $3)"
    )
    .bind(id)
    .bind(tenant)
    .bind(now - CLAIM_TTL_MS)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// One step of the evidence log.
pub struct NewEvidence<'a> {
    pub tenant_id: TenantId,
    pub request_id: i64,
    pub event: &'static str,
    pub user_id: Option<UserId>,
    pub user_label: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub sha256: &'a str,
    pub detail: &'a str,
    pub at: i64,
}

pub async fn add_evidence(tx: &mut Tx, e: &NewEvidence<'_>) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO signature_evidence (tenant_id, request_id, event, user_id, user_label, ip, user_agent, sha256,
                                         detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(e.tenant_id)
    .bind(e.request_id)
    .bind(e.event)
    .bind(e.user_id)
    .bind(e.user_label)
    .bind(e.ip)
    .bind(e.user_agent)
    .bind(e.sha256)
    .bind(e.detail)
    .bind(e.at)
    .execute(c)
    .await)?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EvidenceRow {
    pub id: i64,
    pub event: String,
    pub user_label: String,
    pub ip: String,
    pub user_agent: String,
    pub sha256: String,
    pub detail: String,
    pub created_at: i64,
}

/// A request's evidence log, oldest first. The caller has checked the request is in scope.
pub async fn evidence(db: &Db, tenant: TenantId, request: i64) -> Result<Vec<EvidenceRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, event, user_label, ip, user_agent, sha256, detail, created_at FROM signature_evidence
         WHERE tenant_id = $1 AND request_id = $2 ORDER BY id"
    )
    .bind(tenant)
    .bind(request)
    .fetch_all(p)
    .await)
}

/// A user of a client who may be named as the signer.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClientUser {
    pub id: UserId,
    pub full_name: String,
    pub email: String,
    pub permissions: String,
}

/// The client's active users, by name.
pub async fn client_users(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<ClientUser>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, full_name, email, permissions FROM users
         WHERE tenant_id = $1 AND client_id = $2 AND active = TRUE AND role IN ('client_admin', 'client_user')
         ORDER BY full_name, id"
    )
    .bind(tenant)
    .bind(client)
    .fetch_all(p)
    .await)
}

/// The firm's legal name, for the certificate and the evidence page.
pub async fn tenant_name(db: &Db, tenant: TenantId) -> Result<String, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar("SELECT legal_name FROM tenants WHERE id = $1").bind(tenant).fetch_one(p).await)
}
