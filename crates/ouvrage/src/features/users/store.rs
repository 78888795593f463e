//! The SQL of user management: listing, reading and updating accounts of one tenant.

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, TenantId, UserId};
use crate::{exec_tx, on_db, on_tx};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct UserRow {
    pub id: UserId,
    pub client_id: Option<ClientId>,
    pub contact_id: Option<ContactId>,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub permissions: String,
    pub active: bool,
    pub must_change_password: bool,
    pub temp_password_expires_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
    pub client_code: Option<String>,
    pub client_name: Option<String>,
}

const USER_SELECT: &str =
    "SELECT u.id, u.client_id, u.contact_id, u.email, u.full_name, u.role, u.permissions, u.active,
        u.must_change_password, u.temp_password_expires_at, u.last_login_at, u.created_at,
        c.code AS client_code, c.name AS client_name
     FROM users u LEFT JOIN clients c ON c.id = u.client_id AND c.tenant_id = u.tenant_id";

pub async fn user(db: &Db, tenant: TenantId, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("{USER_SELECT} WHERE u.id = $1 AND u.tenant_id = $2");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(p).await)
}

pub async fn user_tx(tx: &mut Tx, tenant: TenantId, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("{USER_SELECT} WHERE u.id = $1 AND u.tenant_id = $2");
    on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(c).await)
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// LIKE pattern over `search_key`, or empty.
    pub pattern: String,
    /// "personnel", "client" or empty.
    pub profile: String,
    /// A role code or empty.
    pub role: String,
    pub client: Option<ClientId>,
    /// "1" (active), "0" (deactivated) or empty.
    pub active: String,
    /// "nom", "email", "connexion".
    pub sort: &'static str,
}

const LIST_WHERE: &str = "u.tenant_id = $1 AND ($2 = '' OR u.search_key LIKE $2)
     AND ($3 = '' OR ($3 = 'personnel' AND u.client_id IS NULL) OR ($3 = 'client' AND u.client_id IS NOT NULL))
     AND ($4 = '' OR u.role = $4) AND ($5 IS NULL OR u.client_id = $5)
     AND ($6 = '' OR ($6 = '1' AND u.active) OR ($6 = '0' AND NOT u.active))";

pub async fn list(
    db: &Db,
    tenant: TenantId,
    f: &UserFilter,
    per_page: i64,
    offset: i64,
) -> Result<(Vec<UserRow>, i64), sqlx::Error> {
    let count_sql = format!("SELECT COUNT(*) FROM users u WHERE {LIST_WHERE}");
    let total: i64 = on_db!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
        .bind(tenant)
        .bind(&f.pattern)
        .bind(&f.profile)
        .bind(&f.role)
        .bind(f.client)
        .bind(&f.active)
        .fetch_one(p)
        .await)?;
    let order = match f.sort {
        "email" => "u.email, u.id",
        // Most recent first; never-connected accounts last on both engines.
        "connexion" => "CASE WHEN u.last_login_at IS NULL THEN 1 ELSE 0 END, u.last_login_at DESC, u.id",
        _ => "LOWER(u.full_name), u.id",
    };
    let sql = format!("{USER_SELECT} WHERE {LIST_WHERE} ORDER BY {order} LIMIT $7 OFFSET $8");
    let rows = on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(&f.pattern)
        .bind(&f.profile)
        .bind(&f.role)
        .bind(f.client)
        .bind(&f.active)
        .bind(per_page)
        .bind(offset)
        .fetch_all(p)
        .await)?;
    Ok((rows, total))
}

/// Whether any account (of any tenant: e-mails are the login) other than `except` uses `email`.
pub async fn email_taken(tx: &mut Tx, email: &str, except: Option<UserId>) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND ($2 IS NULL OR id <> $2)")
            .bind(email)
            .bind(except)
            .fetch_optional(c)
            .await)?;
    Ok(found.is_some())
}

pub struct UserUpdate {
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub permissions: String,
    pub active: bool,
    pub contact_id: Option<ContactId>,
}

pub async fn update(tx: &mut Tx, tenant: TenantId, id: UserId, u: &UserUpdate) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET email = $1, full_name = $2, role = $3, permissions = $4, active = $5, contact_id = $6,
                search_key = $7, updated_at = $8
         WHERE id = $9 AND tenant_id = $10"
    )
    .bind(&u.email)
    .bind(&u.full_name)
    .bind(&u.role)
    .bind(&u.permissions)
    .bind(u.active)
    .bind(u.contact_id)
    .bind(search_key(&[&u.full_name, &u.email]))
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)
}

/// Every account of the tenant (`id`, name, e-mail), for the audit log's filter.
pub async fn all_names(db: &Db, tenant: TenantId) -> Result<Vec<(UserId, String, String)>, sqlx::Error> {
    on_db!(db, |p| {
        sqlx::query_as(
        "SELECT id, full_name, email FROM users WHERE tenant_id = $1 ORDER BY CASE WHEN client_id IS NULL THEN 0 ELSE 1 END, LOWER(full_name)"
    )
    .bind(tenant)
    .fetch_all(p)
    .await
    })
}
