//! Creating accounts: the one path used by the back office, the command line and the demo
//! loader, so the rules (unique e-mail, client roles tied to a client, temporary passwords)
//! hold everywhere.

use crate::db::{Tx, is_unique_violation};
use crate::domain::text::search_key;
use crate::domain::time::{HOUR_MS, now_ms};
use crate::domain::{ClientId, ContactId, Email, Permissions, Role, TenantId, UserId};
use crate::on_tx;

/// A temporary password stops working after 72 hours.
pub const TEMP_PASSWORD_VALIDITY_MS: i64 = 72 * HOUR_MS;

pub struct NewUser {
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
    pub contact_id: Option<ContactId>,
    pub email: Email,
    pub full_name: String,
    pub role: Role,
    pub permissions: Permissions,
    /// Already hashed with argon2id.
    pub password_hash: String,
    /// A temporary password must be changed at first login and expires.
    pub temporary: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("Un compte existe déjà avec l'adresse {0}.")]
    EmailTaken(String),
    #[error("Un compte client doit être rattaché à un client.")]
    ClientRequired,
    #[error("Un compte du prestataire ne peut pas être rattaché à un client.")]
    StaffWithClient,
    #[error("Le nom est obligatoire.")]
    NameRequired,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create_user(tx: &mut Tx, new: NewUser) -> Result<UserId, CreateUserError> {
    let name = new.full_name.trim();
    if name.is_empty() {
        return Err(CreateUserError::NameRequired);
    }
    match (new.role.is_staff(), new.client_id) {
        (true, Some(_)) => return Err(CreateUserError::StaffWithClient),
        (false, None) => return Err(CreateUserError::ClientRequired),
        _ => {}
    }
    if let Some(client) = new.client_id {
        // The client must belong to the same tenant: never link across firms.
        let found: Option<i64> =
            on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM clients WHERE id = $1 AND tenant_id = $2")
                .bind(client)
                .bind(new.tenant_id)
                .fetch_optional(c)
                .await)?;
        if found.is_none() {
            return Err(CreateUserError::ClientRequired);
        }
    }
    let now = now_ms();
    let result: Result<UserId, sqlx::Error> = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO users (tenant_id, client_id, contact_id, email, full_name, role, permissions, password_hash,
                            must_change_password, temp_password_expires_at, active, search_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $12, $12) RETURNING id"
    )
    .bind(new.tenant_id)
    .bind(new.client_id)
    .bind(new.contact_id)
    .bind(new.email.as_str())
    .bind(name)
    .bind(new.role.code())
    .bind(new.permissions.to_stored())
    .bind(&new.password_hash)
    .bind(new.temporary)
    .bind(new.temporary.then_some(now + TEMP_PASSWORD_VALIDITY_MS))
    .bind(search_key(&[name, new.email.as_str()]))
    .bind(now)
    .fetch_one(c)
    .await);
    match result {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(CreateUserError::EmailTaken(new.email.as_str().to_string())),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a user's password with a new temporary one (already hashed): it must be changed at
/// the next login and stops working after [`TEMP_PASSWORD_VALIDITY_MS`]. Returns the rows
/// changed (0 when the user is not in the tenant).
pub async fn set_temporary_password(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    password_hash: &str,
) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    crate::exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = TRUE, temp_password_expires_at = $2,
                updated_at = $3
         WHERE id = $4 AND tenant_id = $5"
    )
    .bind(password_hash)
    .bind(now + TEMP_PASSWORD_VALIDITY_MS)
    .bind(now)
    .bind(user)
    .bind(tenant)
    .execute(c)
    .await)
}
