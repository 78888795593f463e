//! The integrator API, for thermal-consultancy software: a token created by the firm's admin for
//! one client ([`tokens`], the back-office page in [`bo`], or `ouvrage token create`) lets the
//! software send its studies (`POST /api/v1/thermal-studies`, the chantier is created or its
//! study gets a new version) and read the client's sites (`GET /api/v1/sites`, `…/{id}`); file,
//! list and download a site's documents, or publish reports and invoices ([`documents`]).
//!
//! - Authentication: `Authorization: Bearer <token>` ([`auth::ApiActor`]); every query is scoped
//!   to the token's client.
//! - Errors: problem details, RFC 9457 ([`problem`]), for everything under `/api/`.
//! - The OpenAPI document is served at `/api/v1/openapi.json` ([`openapi`]).
//! - `/api/` routes carry no CSRF token (they are not cookie-authenticated).

pub mod auth;
pub mod bo;
pub mod documents;
pub mod openapi;
pub mod problem;
pub mod schema;
pub mod sites;
pub mod studies;
pub mod tokens;

use axum::Router;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/thermal-studies", post(studies::import))
        .route("/api/v1/sites", get(sites::list))
        .route("/api/v1/sites/{id}", get(sites::get))
        // `{id}` is the site (`{site_id}` in the OpenAPI document): the router wants one name
        // per segment.
        .route("/api/v1/sites/{id}/documents", get(documents::list).post(documents::create))
        .route("/api/v1/documents/{id}", get(documents::get))
        .route("/api/v1/documents/{id}/content", get(documents::content))
        .route("/bo/clients/{id}/integrations", get(bo::show).post(bo::create))
        .route("/bo/clients/{id}/integrations/{token_id}/revoquer", post(bo::revoke))
}

/// The `{id}` of a path as sent. A segment that does not decode to UTF-8 (`%FF`) names nothing
/// of ours: empty, hence 404 like any other id that is not one, rather than the router's 400.
fn segment(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(s)| s).unwrap_or_default()
}
