//! The SQL of authentication: accounts by e-mail, throttling counters, reset tokens.

use crate::db::{Db, Tx};
use crate::domain::time::now_ms;
use crate::domain::{ClientId, TenantId, UserId};
use crate::{exec_db, exec_tx, on_db, on_tx};

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct LoginAccount {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub temp_password_expires_at: Option<i64>,
    pub active: bool,
}

const ACCOUNT_COLUMNS: &str = "id, tenant_id, client_id, email, full_name, role, password_hash, must_change_password, temp_password_expires_at, active";

pub async fn account_by_email(db: &Db, email: &str) -> Result<Option<LoginAccount>, sqlx::Error> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE email = $1");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(p).await)
}

pub async fn account_by_id(db: &Db, id: UserId) -> Result<Option<LoginAccount>, sqlx::Error> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)
}

pub async fn record_login(db: &Db, id: UserId) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await)?;
    Ok(())
}

/// Replaces the password; a password set by its owner is never temporary.
pub async fn set_password(tx: &mut Tx, id: UserId, hash: &str) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = FALSE, temp_password_expires_at = NULL, updated_at = $2 WHERE id = $3"
    )
    .bind(hash)
    .bind(now_ms())
    .bind(id)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// Throttling rule: at most `max` failures per `window_ms`, then locked for `lock_ms`.
#[derive(Clone, Copy)]
pub struct Limit {
    pub max: i64,
    pub window_ms: i64,
    pub lock_ms: i64,
}

/// When the key is locked, the time until which it stays locked.
pub async fn locked_until(db: &Db, key: &str) -> Result<Option<i64>, sqlx::Error> {
    let until: Option<Option<i64>> =
        on_db!(db, |p| sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(p)
            .await)?;
    Ok(until.flatten().filter(|t| *t > now_ms()))
}

/// Counts one failure (or one use, for rate limits) against the key; locks it past the limit.
pub async fn record_failure(db: &Db, key: &str, limit: Limit) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let window_start = now - limit.window_ms;
    let failures: i64 = on_db!(db, |p| sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END,
           window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END
         RETURNING failures"
    )
    .bind(key)
    .bind(now)
    .bind(window_start)
    .fetch_one(p)
    .await)?;
    if failures >= limit.max {
        exec_db!(db, |p| sqlx::query(
            "UPDATE login_throttle SET locked_until = $1, failures = 0, window_start = $2 WHERE key = $3"
        )
        .bind(now + limit.lock_ms)
        .bind(now)
        .bind(key)
        .execute(p)
        .await)?;
    }
    Ok(())
}

pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(p).await)?;
    Ok(())
}

pub async fn insert_reset(
    tx: &mut Tx,
    token_hash: &str,
    user: UserId,
    tenant: TenantId,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, tenant_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(token_hash)
    .bind(user)
    .bind(tenant)
    .bind(now_ms())
    .bind(expires_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// The user a reset token is for, if it is unused and unexpired.
pub async fn valid_reset(db: &Db, token_hash: &str) -> Result<Option<UserId>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT r.user_id FROM password_resets r JOIN users u ON u.id = r.user_id AND u.active
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2"
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(p)
    .await)
}

/// Marks the token used; `None` if it was already used or has expired (so two tabs cannot
/// both use one link).
pub async fn consume_reset(tx: &mut Tx, token_hash: &str) -> Result<Option<UserId>, sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query_scalar(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id"
    )
    .bind(now_ms())
    .bind(token_hash)
    .fetch_optional(c)
    .await
    })
}
