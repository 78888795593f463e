//! The files feature's SQL. Every read takes the actor's scope: tenant always, own client for
//! client users.

use crate::db::Db;
use crate::domain::{ClientId, FileId, TenantId};
use crate::http::Actor;
use crate::on_db;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClientHeader {
    pub id: ClientId,
    pub code: String,
    pub name: String,
}

/// The client, if it belongs to the tenant.
pub async fn client_header(db: &Db, tenant: TenantId, client: ClientId) -> Result<Option<ClientHeader>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as("SELECT id, code, name FROM clients WHERE id = $1 AND tenant_id = $2")
        .bind(client)
        .bind(tenant)
        .fetch_optional(p)
        .await)
}

/// A file as listed: what it is and who brought it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileListRow {
    pub id: FileId,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: i64,
    pub uploader: Option<String>,
}

/// One page of a client's files, newest first, and how many there are in all.
pub async fn list_for_client(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
    limit: i64,
    offset: i64,
) -> Result<(Vec<FileListRow>, i64), sqlx::Error> {
    let rows: Vec<FileListRow> = on_db!(db, |p| sqlx::query_as(
        "SELECT f.id, f.original_name, f.content_type, f.size_bytes, f.created_at, u.full_name AS uploader
         FROM files f LEFT JOIN users u ON u.id = f.uploaded_by AND u.tenant_id = f.tenant_id
         WHERE f.tenant_id = $1 AND f.client_id = $2
         ORDER BY f.created_at DESC, f.id DESC
         LIMIT $3 OFFSET $4"
    )
    .bind(tenant)
    .bind(client)
    .bind(limit)
    .bind(offset)
    .fetch_all(p)
    .await)?;
    let total: i64 =
        on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE tenant_id = $1 AND client_id = $2")
            .bind(tenant)
            .bind(client)
            .fetch_one(p)
            .await)?;
    Ok((rows, total))
}

/// What a download needs.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: FileId,
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub original_name: String,
    pub created_at: i64,
}

/// The file if the actor may see it: staff of its tenant, or a user of its client. `None` is the
/// same answer for an unknown id and for someone else's file.
pub async fn find_visible(db: &Db, actor: &Actor, id: FileId) -> Result<Option<FileRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, tenant_id, client_id, sha256, size_bytes, content_type, original_name, created_at
         FROM files WHERE id = $1 AND tenant_id = $2 AND ($3 IS NULL OR client_id = $3)"
    )
    .bind(id)
    .bind(actor.tenant_id)
    .bind(actor.client_scope())
    .fetch_optional(p)
    .await)
}
