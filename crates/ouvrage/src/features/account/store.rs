//! The SQL of the user's own account and of a client's collaborators. Every query takes the
//! tenant, and the collaborators' queries the client too: a forged id of another company, or a
//! staff account (no client), is simply not found.

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, TenantId, UserId};
use crate::features::users::account::DigestProfile;
use crate::{exec_tx, on_db, on_tx};

/// The logged-in user's own data.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Me {
    pub email: String,
    pub full_name: String,
    pub phone: String,
    pub digest_frequency: String,
    pub digest_weekday: Option<i64>,
}

pub async fn me(db: &Db, tenant: TenantId, user: UserId) -> Result<Option<Me>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT email, full_name, phone, digest_frequency, digest_weekday FROM users WHERE id = $1 AND tenant_id = $2"
    )
    .bind(user)
    .bind(tenant)
    .fetch_optional(p)
    .await)
}

/// Saves the user's own name, phone (E.164) and notification profile.
pub async fn update_me(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    email: &str,
    full_name: &str,
    phone: &str,
    digest: DigestProfile,
) -> Result<u64, sqlx::Error> {
    let day =
        if digest.choice == crate::features::users::account::DigestChoice::Weekly { digest.weekday } else { None };
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET full_name = $1, phone = $2, digest_frequency = $3, digest_weekday = $4, search_key = $5,
                updated_at = $6
         WHERE id = $7 AND tenant_id = $8"
    )
    .bind(full_name)
    .bind(phone)
    .bind(digest.choice.code())
    .bind(day)
    .bind(search_key(&[full_name, email]))
    .bind(now_ms())
    .bind(user)
    .bind(tenant)
    .execute(c)
    .await)
}

/// An extranet account of a client, as its administrator manages it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct CollaboratorRow {
    pub id: UserId,
    pub contact_id: Option<crate::domain::ContactId>,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub permissions: String,
    pub active: bool,
    pub must_change_password: bool,
    pub temp_password_expires_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub digest_frequency: String,
    pub digest_weekday: Option<i64>,
}

const COLLABORATOR_SELECT: &str = "SELECT id, contact_id, email, full_name, role, permissions, active, \
     must_change_password, temp_password_expires_at, last_login_at, digest_frequency, digest_weekday FROM users";

/// Every account of the client (the client's own staff only: `client_id` is never NULL here).
pub async fn collaborators(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<CollaboratorRow>, sqlx::Error> {
    let sql = format!(
        "{COLLABORATOR_SELECT} WHERE tenant_id = $1 AND client_id = $2 ORDER BY active DESC, LOWER(full_name), id"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(client).fetch_all(p).await)
}

/// One account of the client, or nothing (other company, other firm, staff account).
pub async fn collaborator(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
    id: i64,
) -> Result<Option<CollaboratorRow>, sqlx::Error> {
    let sql = format!("{COLLABORATOR_SELECT} WHERE id = $1 AND tenant_id = $2 AND client_id = $3");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).bind(client).fetch_optional(p).await)
}

pub async fn collaborator_tx(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    id: i64,
) -> Result<Option<CollaboratorRow>, sqlx::Error> {
    let sql = format!("{COLLABORATOR_SELECT} WHERE id = $1 AND tenant_id = $2 AND client_id = $3");
    on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).bind(client).fetch_optional(c).await)
}

/// The account linked to a contact of the client, if any (an active one first).
pub async fn account_of_contact(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    contact: crate::domain::ContactId,
) -> Result<Option<CollaboratorRow>, sqlx::Error> {
    let sql = format!(
        "{COLLABORATOR_SELECT} WHERE tenant_id = $1 AND client_id = $2 AND contact_id = $3 ORDER BY active DESC, id LIMIT 1"
    );
    on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(client)
        .bind(contact)
        .fetch_optional(c)
        .await)
}

/// Changes the role (a client role) and permissions of an account of the client.
pub async fn set_role_and_permissions(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    user: UserId,
    role: &str,
    permissions: &str,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE users SET role = $1, permissions = $2, updated_at = $3 WHERE id = $4 AND tenant_id = $5 AND client_id = $6"
    )
    .bind(role)
    .bind(permissions)
    .bind(now_ms())
    .bind(user)
    .bind(tenant)
    .bind(client)
    .execute(c)
    .await
    })
}

pub async fn account_of_contact_db(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
    contact: crate::domain::ContactId,
) -> Result<Option<CollaboratorRow>, sqlx::Error> {
    let sql = format!(
        "{COLLABORATOR_SELECT} WHERE tenant_id = $1 AND client_id = $2 AND contact_id = $3 ORDER BY active DESC, id LIMIT 1"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(client)
        .bind(contact)
        .fetch_optional(p)
        .await)
}
