//! One-click unsubscribe from digest e-mails (RFC 8058). Each digest carries
//! `List-Unsubscribe: <BASE/desabonnement/TOKEN>` and `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click`: mail clients POST to that address without cookies, so the token
//! itself authenticates the request (and the path is exempt from the CSRF check). A person who
//! opens the link gets a confirmation page with a button that POSTs to the same address.
//!
//! The token is `USER_ID.HMAC(secret, "unsubscribe:" + USER_ID)`: it names one user, cannot be
//! forged without the server's secret, and is checked in constant time.

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::domain::time::now_ms;
use crate::domain::{TenantId, UserId};
use crate::features::audit::{self, AuditActor};
use crate::http::{AppError, AppResult, Ctx, render};
use crate::{exec_tx, on_db};

/// The path prefix of unsubscribe links (exempt from the CSRF check: see `http/csrf.rs`).
pub const PATH_PREFIX: &str = "/desabonnement/";

fn mac(secret: &[u8], user: UserId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("unsubscribe:{}", user.0).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The token of a user's unsubscribe link.
pub fn unsubscribe_token(secret: &[u8], user: UserId) -> String {
    format!("{}.{}", user.0, mac(secret, user))
}

/// The absolute unsubscribe address (`base` without its trailing slash).
pub fn unsubscribe_url(base: &str, secret: &[u8], user: UserId) -> String {
    format!("{}{PATH_PREFIX}{}", base.trim_end_matches('/'), unsubscribe_token(secret, user))
}

/// The user a token names, when its signature is right.
pub fn verify_token(secret: &[u8], token: &str) -> Option<UserId> {
    let (id, given) = token.split_once('.')?;
    let id = id.parse::<i64>().ok().filter(|v| *v > 0)?;
    let expected = mac(secret, UserId(id));
    bool::from(given.as_bytes().ct_eq(expected.as_bytes())).then_some(UserId(id))
}

#[derive(sqlx::FromRow)]
struct Subscriber {
    id: UserId,
    tenant_id: TenantId,
    email: String,
    digest_frequency: String,
}

async fn subscriber(state: &AppState, token: &str) -> AppResult<Subscriber> {
    let user = verify_token(state.secret(), token).ok_or(AppError::NotFound)?;
    let row: Option<Subscriber> = on_db!(&state.db, |p| sqlx::query_as(
        "SELECT id, tenant_id, email, digest_frequency FROM users WHERE id = $1"
    )
    .bind(user)
    .fetch_optional(p)
    .await)?;
    row.ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "notifications/unsubscribe.html")]
struct UnsubscribePage {
    ctx: Ctx,
    email: String,
    token: String,
    done: bool,
}

/// GET: the confirmation page, with a button.
pub async fn page(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    let user = subscriber(&state, &token).await?;
    let page = UnsubscribePage { ctx, email: user.email, token, done: false };
    Ok(render(&page)?.into_response())
}

/// POST (the button, or a mail client's one-click request): no more digest e-mails.
pub async fn confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let user = subscriber(&state, &token).await?;
    if user.digest_frequency != "none" {
        let mut tx = state.db.begin().await?;
        exec_tx!(&mut tx, |c| sqlx::query(
            "UPDATE users SET digest_frequency = 'none', updated_at = $1 WHERE id = $2 AND tenant_id = $3"
        )
        .bind(now_ms())
        .bind(user.id)
        .bind(user.tenant_id)
        .execute(c)
        .await)?;
        let who = AuditActor {
            tenant_id: user.tenant_id,
            user_id: Some(user.id),
            label: user.email.clone(),
            ip: peer.ip().to_string(),
        };
        audit::record(
            &mut tx,
            who,
            "unsubscribe",
            "user",
            Some(user.id.0),
            "Désabonnement des récapitulatifs par e-mail (lien de l'e-mail)",
        )
        .await?;
        tx.commit().await?;
    }
    let page = UnsubscribePage { ctx, email: user.email, token, done: true };
    Ok(render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_one_user_and_resist_forgery() {
        let secret = b"server-secret";
        let t = unsubscribe_token(secret, UserId(42));
        assert!(t.starts_with("42."));
        assert_eq!(verify_token(secret, &t), Some(UserId(42)));
        // Another user's id with this signature, another secret, a truncated or empty signature.
        let forged = t.replacen("42.", "43.", 1);
        assert_eq!(verify_token(secret, &forged), None);
        assert_eq!(verify_token(b"other-secret", &t), None);
        assert_eq!(verify_token(secret, &t[..t.len() - 1]), None);
        assert_eq!(verify_token(secret, "42."), None);
        assert_eq!(verify_token(secret, "nimporte-quoi"), None);
        assert_eq!(verify_token(secret, "-1.abc"), None);
        assert_eq!(unsubscribe_url("https://x.fr/", secret, UserId(42)), format!("https://x.fr/desabonnement/{t}"));
    }
}
