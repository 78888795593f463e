//! Security headers on every response: a strict CSP (no inline script or style), no sniffing,
//! no framing, no referrer leaks to other sites.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
object-src 'none'; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The policy of a file preview (a PDF or an image shown inline), which our own document pages
/// frame: the same as [`CSP`] but framable by the same origin.
pub const PREVIEW_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
object-src 'none'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A handler that serves a preview asks to be framed by our pages with SAMEORIGIN; every other
    // response may not be framed at all.
    let framable = h.get(header::X_FRAME_OPTIONS).is_some_and(|v| v == "SAMEORIGIN");
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(if framable { PREVIEW_CSP } else { CSP }));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !framable {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
