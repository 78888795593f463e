//! One error type for pages: every failure becomes a French page with the right status, and
//! nothing internal leaks to the browser.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Unknown route, or an object outside the actor's scope: the same answer for both, so
    /// guessing ids reveals nothing.
    #[error("introuvable")]
    NotFound,
    #[error("accès refusé")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    #[error("formulaire expiré")]
    Csrf,
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("non connecté")]
    Unauthenticated { next: String },
    #[error("changement de mot de passe requis")]
    MustChangePassword,
    /// The database does not answer (see [`crate::db::is_unavailable`]).
    #[error("service indisponible")]
    Unavailable,
    /// The file store refused a write: the file being sent was not recorded.
    #[error("stockage des fichiers indisponible")]
    StorageUnavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            tracing::error!(error = %e, "database unavailable");
            AppError::Unavailable
        } else if crate::db::is_unstorable_text(&e) {
            // Typed by the client (a NUL byte in a field): PostgreSQL refuses it, SQLite not.
            AppError::BadRequest(
                "Un des champs contient un caractère invalide (octet nul) : retirez-le et réessayez.".into(),
            )
        } else {
            AppError::Internal(e.into())
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage { status: status.as_u16(), title, message };
    let body = page.render().unwrap_or_else(|_| format!("<h1>{title}</h1>"));
    (status, Html(body)).into_response()
}

fn database_unavailable() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service momentanément indisponible",
        "La base de données ne répond pas. Réessayez dans quelques instants.",
    )
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Cette page n'existe pas, ou vous n'y avez pas accès.",
            ),
            AppError::Forbidden => error_page(
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Votre compte ne donne pas accès à cette partie de l'application.",
            ),
            AppError::BadRequest(msg) => error_page(StatusCode::BAD_REQUEST, "Demande invalide", &msg),
            AppError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Ce formulaire a expiré ou ne vient pas de cette application. Rechargez la page et recommencez.",
            ),
            AppError::TooManyRequests(msg) => error_page(StatusCode::TOO_MANY_REQUESTS, "Trop de tentatives", &msg),
            AppError::PayloadTooLarge(msg) => error_page(StatusCode::PAYLOAD_TOO_LARGE, "Envoi trop volumineux", &msg),
            AppError::Unauthenticated { next } => {
                let target = if next.is_empty() || next == "/" {
                    "/login".to_string()
                } else {
                    format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
                };
                Redirect::to(&target).into_response()
            }
            AppError::MustChangePassword => Redirect::to("/mot-de-passe/changer").into_response(),
            AppError::Unavailable => database_unavailable(),
            AppError::StorageUnavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Stockage des fichiers indisponible",
                "Le stockage des fichiers ne répond pas : le fichier en cours d'envoi n'a pas été enregistré. \
                 Réessayez dans quelques instants.",
            ),
            // A database failure that reached us wrapped (through `anyhow`) is still a 503.
            AppError::Internal(e) if e.chain().any(|c| c.downcast_ref().is_some_and(crate::db::is_unavailable)) => {
                tracing::error!(error = ?e, "database unavailable");
                database_unavailable()
            }
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur interne",
                    "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez plus tard.",
                )
            }
        }
    }
}

/// Turns the framework's plain-text rejections (malformed query string or form, wrong method,
/// body too large, timeout) into French pages with the same status. Our own pages are HTML and
/// pass through untouched; under `/api/` every error becomes a problem document (RFC 9457).
pub async fn french_rejections(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/api/").then(|| req.uri().path().to_string());
    let resp = next.run(req).await;
    if let Some(path) = api {
        return crate::features::api::problem::finish(resp, &path);
    }
    let status = resp.status();
    if !status.is_client_error() {
        return resp;
    }
    let is_html = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if is_html {
        return resp;
    }
    let (title, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("Action impossible", "Cette adresse ne permet pas cette action."),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("Envoi trop volumineux", "Les données envoyées dépassent la taille autorisée.")
        }
        StatusCode::REQUEST_TIMEOUT => ("Délai dépassé", "La requête a pris trop de temps. Réessayez."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("Format non pris en charge", "Le formulaire envoyé n'a pas le format attendu.")
        }
        StatusCode::NOT_FOUND => ("Page introuvable", "Cette page n'existe pas, ou vous n'y avez pas accès."),
        _ => ("Demande invalide", "La demande est mal formée : vérifiez l'adresse ou le formulaire et recommencez."),
    };
    let mut page = error_page(status, title, message);
    for name in [axum::http::header::SET_COOKIE, axum::http::header::ALLOW] {
        for v in resp.headers().get_all(&name) {
            page.headers_mut().append(&name, v.clone());
        }
    }
    page
}
