//! Server-side sessions: the browser holds a random token in an HttpOnly, SameSite cookie; the
//! database holds only its SHA-256, so a leaked database cannot be replayed as cookies.

use axum_extra::extract::cookie::{Cookie, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::domain::time::{DAY_MS, HOUR_MS, now_ms};
use crate::domain::{TenantId, UserId};
use crate::exec_db;

pub const SESSION_COOKIE: &str = "ouvrage_session";
/// A session unused for this long ends.
pub const IDLE_TIMEOUT_MS: i64 = 8 * HOUR_MS;
/// A session ends after this long whatever happens.
pub const ABSOLUTE_TIMEOUT_MS: i64 = 7 * DAY_MS;
/// `last_seen_at` is refreshed at most this often, so reads stay reads.
pub const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token)).path("/").http_only(true).secure(secure).same_site(SameSite::Lax).build()
}

pub fn removal_cookie(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build((name, "")).path("/").build();
    c.make_removal();
    c
}

/// Opens a session for the user; returns the cookie value.
pub async fn create(
    db: &Db,
    user: UserId,
    tenant: TenantId,
    ip: &str,
    user_agent: &str,
) -> Result<String, sqlx::Error> {
    let token = random_token();
    let now = now_ms();
    let ua: String = user_agent.chars().take(300).collect();
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, tenant_id, created_at, last_seen_at, expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)"
    )
    .bind(hash_token(&token))
    .bind(user)
    .bind(tenant)
    .bind(now)
    .bind(now + ABSOLUTE_TIMEOUT_MS)
    .bind(ip)
    .bind(&ua)
    .execute(p)
    .await)?;
    Ok(token)
}

pub async fn destroy(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(p).await)?;
    Ok(())
}

/// Ends every session of a user except, optionally, the one in use.
pub async fn destroy_all_for_user(db: &Db, user: UserId, keep: Option<&str>) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user)
        .bind(keep.unwrap_or(""))
        .execute(p)
        .await)?;
    Ok(())
}
