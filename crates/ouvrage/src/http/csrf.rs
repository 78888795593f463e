//! CSRF protection for every state-changing request outside the token-authenticated API.
//!
//! Each browser gets a random nonce in an HttpOnly, SameSite=Strict cookie. The form token is
//! HMAC(secret, nonce, session): a page from another site can neither read the cookie nor
//! compute the token, and the token changes when the session does (login, logout). The token is
//! read from the `_csrf` form field (URL-encoded bodies), the `_csrf` query parameter (multipart
//! uploads, whose body we do not buffer here) or the `X-CSRF-Token` header (scripts).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::AppError;
use super::session::{SESSION_COOKIE, hash_token, random_token};
use crate::app::AppState;

pub const CSRF_COOKIE: &str = "ouvrage_csrf";
pub const CSRF_FIELD: &str = "_csrf";
/// URL-encoded forms larger than this are refused before parsing.
const FORM_LIMIT: usize = 1024 * 1024;

/// The token to embed in this request's forms.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

pub fn compute(secret: &[u8], nonce: &str, session_hash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"csrf\0");
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(session_hash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths whose POSTs authenticate themselves instead of relying on a session, so they carry no
/// CSRF token: the JSON API (per-integration bearer tokens) and the one-click unsubscribe links
/// of digest e-mails (`/desabonnement/TOKEN`), which mail clients POST without cookies
/// (RFC 8058); their HMAC token names the user and cannot be forged, and the only thing such a
/// POST can do is stop that user's digest e-mails.
fn is_exempt(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with(crate::features::notifications::unsubscribe::PATH_PREFIX)
}

pub async fn csrf_layer(State(state): State<AppState>, jar: CookieJar, req: Request, next: Next) -> Response {
    let existing = jar.get(CSRF_COOKIE).map(|c| c.value().to_string()).filter(|v| v.len() >= 32 && v.len() <= 64);
    let fresh = existing.is_none();
    let nonce = existing.unwrap_or_else(random_token);
    let session_hash = jar.get(SESSION_COOKIE).map(|c| hash_token(c.value())).unwrap_or_default();
    let expected = compute(state.secret(), &nonce, &session_hash);

    let mut req = req;
    if is_unsafe(req.method()) && !is_exempt(req.uri().path()) {
        let (provided, rebuilt) = match provided_token(req).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        req = rebuilt;
        let ok = !fresh && provided.as_bytes().ct_eq(expected.as_bytes()).into();
        if !ok {
            tracing::info!(path = %req.uri().path(), "CSRF check failed");
            return AppError::Csrf.into_response();
        }
    }
    req.extensions_mut().insert(CsrfToken(expected));
    let mut resp = next.run(req).await;
    if fresh {
        let cookie = Cookie::build((CSRF_COOKIE, nonce))
            .path("/")
            .http_only(true)
            .secure(state.config.secure_cookies())
            .same_site(SameSite::Strict)
            .build();
        if let Ok(v) = cookie.to_string().parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Finds the submitted token; URL-encoded bodies are buffered and handed back intact.
async fn provided_token(req: Request) -> Result<(String, Request), Response> {
    if let Some(v) = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Ok((v.to_string(), req));
    }
    if let Some(q) = req.uri().query()
        && let Some((_, v)) = url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == CSRF_FIELD)
    {
        return Ok((v.into_owned(), req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((String::new(), req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| AppError::PayloadTooLarge("Le formulaire envoyé est trop volumineux.".into()).into_response())?;
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}
