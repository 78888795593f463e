//! Static assets compiled into the binary: no CDN, no build step.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::AppError;

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../static/app.js")),
    ("logo.svg", "image/svg+xml", include_bytes!("../../static/logo.svg")),
    // The signature pad and its page (documents::signatures), loaded by those pages only.
    ("signature.css", "text/css; charset=utf-8", include_bytes!("../../static/signature.css")),
    ("signature.js", "text/javascript; charset=utf-8", include_bytes!("../../static/signature.js")),
];

pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, bytes)) => {
            let mut resp = bytes.into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            resp
        }
        None => AppError::NotFound.into_response(),
    }
}
