//! The actor: who is making this request, resolved once from the session cookie. Handlers
//! receive an actor (or a narrower `StaffActor`/`ClientActor`/`AdminActor`) instead of reading
//! cookies, and every query takes its scope.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;

use super::csrf::CsrfToken;
use super::error::AppError;
use super::session::{ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS, SESSION_COOKIE, TOUCH_EVERY_MS, hash_token};
use crate::app::AppState;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, Permission, Permissions, Role, TenantId, UserId};
use crate::{exec_db, on_db};

#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    /// Set for extranet users: the only client whose rows they may see.
    pub client_id: Option<ClientId>,
    pub permissions: Permissions,
    pub email: String,
    pub full_name: String,
    pub session_hash: String,
    pub ip: String,
    pub csrf: String,
}

impl Actor {
    /// The client the actor is confined to; `None` for staff, who see every client of their
    /// tenant. Queries bind this as `($n IS NULL OR client_id = $n)`.
    pub fn client_scope(&self) -> Option<ClientId> {
        if self.role.is_staff() { None } else { Some(self.client_id.unwrap_or(ClientId(-1))) }
    }

    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    pub fn can(&self, p: Permission) -> bool {
        self.permissions.has(p)
    }

    /// How the actor appears in the audit log.
    pub fn label(&self) -> String {
        format!("{} <{}>", self.full_name, self.email)
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: UserId,
    tenant_id: TenantId,
    created_at: i64,
    last_seen_at: i64,
    role: String,
    client_id: Option<ClientId>,
    permissions: String,
    email: String,
    full_name: String,
    must_change_password: bool,
    active: bool,
}

pub fn client_ip(parts: &Parts) -> String {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default()
}

/// Paths a user with a temporary password may still reach.
fn allowed_before_password_change(path: &str) -> bool {
    matches!(path, "/mot-de-passe/changer" | "/logout")
}

async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Actor, AppError> {
    if let Some(actor) = parts.extensions.get::<Actor>() {
        return Ok(actor.clone());
    }
    let unauthenticated = || AppError::Unauthenticated {
        next: if parts.method == axum::http::Method::GET {
            parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default()
        } else {
            String::new()
        },
    };
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Err(unauthenticated());
    };
    let hash = hash_token(&token);
    let row: Option<SessionRow> = on_db!(&state.db, |p| sqlx::query_as(
        "SELECT s.user_id, s.tenant_id, s.created_at, s.last_seen_at, u.role, u.client_id, u.permissions,
                u.email, u.full_name, u.must_change_password, u.active
         FROM sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id
         WHERE s.token_hash = $1"
    )
    .bind(&hash)
    .fetch_optional(p)
    .await)?;
    let Some(row) = row else {
        return Err(unauthenticated());
    };
    let now = now_ms();
    let role = Role::parse(&row.role);
    let expired = now - row.last_seen_at > IDLE_TIMEOUT_MS || now - row.created_at > ABSOLUTE_TIMEOUT_MS;
    let Some(role) = role.filter(|_| row.active && !expired) else {
        super::session::destroy(&state.db, &hash).await?;
        return Err(unauthenticated());
    };
    if !role.is_staff() && row.client_id.is_none() {
        // A client account without a client is a data error: refuse rather than guess.
        return Err(AppError::Forbidden);
    }
    if now - row.last_seen_at > TOUCH_EVERY_MS {
        exec_db!(&state.db, |p| sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(p)
            .await)?;
    }
    if row.must_change_password && !allowed_before_password_change(parts.uri.path()) {
        return Err(AppError::MustChangePassword);
    }
    let actor = Actor {
        user_id: row.user_id,
        tenant_id: row.tenant_id,
        role,
        client_id: row.client_id,
        permissions: Permissions::parse(&row.permissions),
        email: row.email,
        full_name: row.full_name,
        session_hash: hash,
        ip: client_ip(parts),
        csrf: parts.extensions.get::<CsrfToken>().map(|t| t.0.clone()).unwrap_or_default(),
    };
    parts.extensions.insert(actor.clone());
    Ok(actor)
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await
    }
}

impl OptionalFromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match resolve(parts, state).await {
            Ok(a) => Ok(Some(a)),
            Err(AppError::Unauthenticated { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A member of the firm's staff (admin, office, technician).
#[derive(Clone, Debug)]
pub struct StaffActor(pub Actor);

impl FromRequestParts<AppState> for StaffActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let a = resolve(parts, state).await?;
        if a.is_staff() { Ok(StaffActor(a)) } else { Err(AppError::Forbidden) }
    }
}

/// The firm's administrator.
#[derive(Clone, Debug)]
pub struct AdminActor(pub Actor);

impl FromRequestParts<AppState> for AdminActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let a = resolve(parts, state).await?;
        if a.role == Role::Admin { Ok(AdminActor(a)) } else { Err(AppError::Forbidden) }
    }
}

/// A user of a client company (extranet).
#[derive(Clone, Debug)]
pub struct ClientActor(pub Actor);

impl ClientActor {
    pub fn client_id(&self) -> ClientId {
        self.0.client_id.expect("resolve() refuses client accounts without a client")
    }
}

impl FromRequestParts<AppState> for ClientActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let a = resolve(parts, state).await?;
        if a.is_staff() { Err(AppError::Forbidden) } else { Ok(ClientActor(a)) }
    }
}
