//! Integrators' API tokens: created by the firm's admin for one client (or by the command line),
//! shown once, kept only as their SHA-256. A token is `ouv_` followed by 32 random bytes in
//! base64url; its first 12 characters (`prefix`) are kept so that staff can recognise it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, Tx};
use crate::domain::time::now_ms;
use crate::domain::{ClientId, TenantId, UserId};
use crate::{exec_db, exec_tx, on_db, on_tx};

/// Every token starts with this.
pub const SCHEME_PREFIX: &str = "ouv_";
/// How many leading characters are kept to recognise a token.
pub const PREFIX_CHARS: usize = 12;
/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// `last_used_at` is written at most this often per token.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A new secret: `ouv_` + base64url of 32 random bytes (47 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SCHEME_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret: SHA-256, hex.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What staff see of a secret.
pub fn prefix_of(secret: &str) -> String {
    secret.chars().take(PREFIX_CHARS).collect()
}

/// Checks a token name; the French message when it is refused.
pub fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Donnez un nom au jeton (par exemple le logiciel d'étude thermique qui l'utilisera).".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("Le nom du jeton ne doit pas dépasser {MAX_NAME_CHARS} caractères."));
    }
    if name.chars().any(char::is_control) {
        return Err("Le nom du jeton ne doit pas contenir de caractères de contrôle.".into());
    }
    Ok(name.to_string())
}

/// A token as staff see it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token just created: its row id and the secret, to be shown once.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: i64,
    pub secret: String,
    pub prefix: String,
}

/// Creates a token for `client` (already checked to be of `tenant`), in the caller's transaction.
pub async fn create(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    name: &str,
    created_by: Option<UserId>,
) -> Result<Created, sqlx::Error> {
    let secret = generate();
    let prefix = prefix_of(&secret);
    let id: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO api_tokens (tenant_id, client_id, name, prefix, token_hash, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(name)
    .bind(&prefix)
    .bind(hash(&secret))
    .bind(created_by)
    .bind(now_ms())
    .fetch_one(c)
    .await)?;
    Ok(Created { id, secret, prefix })
}

/// The tokens of a client, newest first (revoked ones included).
pub async fn list(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<TokenRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens
         WHERE tenant_id = $1 AND client_id = $2 ORDER BY id DESC"
    )
    .bind(tenant)
    .bind(client)
    .fetch_all(p)
    .await)
}

/// One token of a client.
pub async fn get(tx: &mut Tx, tenant: TenantId, client: ClientId, id: i64) -> Result<Option<TokenRow>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens
         WHERE id = $1 AND tenant_id = $2 AND client_id = $3"
    )
    .bind(id)
    .bind(tenant)
    .bind(client)
    .fetch_optional(c)
    .await)
}

/// Revokes a token of a client; false when it was not found or already revoked.
pub async fn revoke(tx: &mut Tx, tenant: TenantId, client: ClientId, id: i64) -> Result<bool, sqlx::Error> {
    let n = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND client_id = $4 AND revoked_at IS NULL"
    )
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .bind(client)
    .execute(c)
    .await
    })?;
    Ok(n > 0)
}

/// Who a valid token speaks for.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Holder {
    pub id: i64,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub name: String,
    pub last_used_at: Option<i64>,
}

/// The live (not revoked) token whose secret is `secret`. Looked up by hash, so no comparison of
/// secrets takes place.
pub async fn lookup(db: &Db, secret: &str) -> Result<Option<Holder>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT t.id, t.tenant_id, t.client_id, t.name, t.last_used_at FROM api_tokens t
         JOIN clients c ON c.id = t.client_id AND c.tenant_id = t.tenant_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
    )
    .bind(hash(secret))
    .fetch_optional(p)
    .await)
}

/// Records a use of the token, at most once a minute.
pub async fn touch(db: &Db, holder: &Holder) -> Result<(), sqlx::Error> {
    let now = now_ms();
    if holder.last_used_at.is_some_and(|t| now - t < TOUCH_EVERY_MS) {
        return Ok(());
    }
    exec_db!(db, |p| sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)"
    )
    .bind(now)
    .bind(holder.id)
    .bind(now - TOUCH_EVERY_MS)
    .execute(p)
    .await)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_recognisable() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with("ouv_"));
        assert_eq!(a.len(), 4 + 43);
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(prefix_of(&a).len(), 12);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn names_are_required_and_bounded() {
        assert!(check_name("  ").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert_eq!(check_name(" Logiciel BET ").unwrap(), "Logiciel BET");
    }
}
