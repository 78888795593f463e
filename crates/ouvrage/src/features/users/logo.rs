//! The firm's logo: uploaded by the admin (PNG or JPEG, checked from the content), stored like
//! every file, and shown in the header of both faces of the product.

use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;

use crate::app::AppState;
use crate::domain::{FileId, TenantId};
use crate::features::audit;
use crate::features::files::kind::FileKind;
use crate::features::files::upload::{self, UploadError};
use crate::http::{Actor, AdminActor, AppError, AppResult};
use crate::{exec_tx, on_db};

/// A logo is shown on every page: keep it small.
pub const MAX_LOGO_BYTES: u64 = 2 * 1024 * 1024;

const DEFAULT_LOGO: &[u8] = include_bytes!("../../../static/logo.svg");

pub fn routes() -> Router<AppState> {
    Router::new().route("/bo/parametres/logo", post(upload_logo)).route("/logo", get(logo))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    crate::http::error::error_page(status, "Logo refusé", message)
}

async fn upload_logo(
    State(state): State<AppState>,
    AdminActor(actor): AdminActor,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let Ok(mut multipart) = multipart else {
        return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, "Choisissez une image PNG ou JPEG à envoyer."));
    };
    let mut found: Option<(String, Bytes)> = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        let Some(name) = field.file_name().map(str::to_string) else { continue };
        match field.bytes().await {
            Ok(bytes) if !bytes.is_empty() => {
                found = Some((name, bytes));
                break;
            }
            Ok(_) => {}
            Err(_) => {
                return Ok(refuse(StatusCode::PAYLOAD_TOO_LARGE, "Le logo ne doit pas dépasser 2 Mo."));
            }
        }
    }
    let Some((name, bytes)) = found else {
        return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, "Choisissez une image PNG ou JPEG à envoyer."));
    };
    let checked = match upload::check(&name, bytes, MAX_LOGO_BYTES) {
        Ok(c) if matches!(c.kind, FileKind::Png | FileKind::Jpeg) => c,
        Ok(_) => return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, "Le logo doit être une image PNG ou JPEG.")),
        Err(UploadError::TooLarge { .. }) => {
            return Ok(refuse(StatusCode::PAYLOAD_TOO_LARGE, "Le logo ne doit pas dépasser 2 Mo."));
        }
        Err(e) => return Ok(refuse(e.status(), &e.to_string())),
    };
    // Bytes first, then the rows that point at them.
    let stored = upload::put_bytes(&state.files, checked).await?;
    let mut tx = state.db.begin().await?;
    let file = upload::insert_file(&mut tx, &actor, None, &stored).await?;
    exec_tx!(&mut tx, |c| sqlx::query("UPDATE tenants SET logo_file_id = $1 WHERE id = $2")
        .bind(file)
        .bind(actor.tenant_id)
        .execute(c)
        .await)?;
    audit::record(&mut tx, &actor, "update", "tenant", Some(actor.tenant_id.0), "Logo de l'entreprise remplacé")
        .await?;
    tx.commit().await?;
    Ok(Redirect::to("/bo/parametres?msg=enregistre").into_response())
}

#[derive(sqlx::FromRow)]
struct LogoFile {
    sha256: String,
    content_type: String,
}

async fn tenant_logo(state: &AppState, tenant: TenantId) -> Result<Option<LogoFile>, sqlx::Error> {
    on_db!(&state.db, |p| sqlx::query_as(
        "SELECT f.sha256, f.content_type FROM tenants t JOIN files f ON f.id = t.logo_file_id AND f.tenant_id = t.id
         WHERE t.id = $1"
    )
    .bind(tenant)
    .fetch_optional(p)
    .await)
}

/// The logo of the actor's own firm (the product's logo until one is uploaded).
async fn logo(State(state): State<AppState>, actor: Actor) -> AppResult<Response> {
    let (bytes, content_type) = match tenant_logo(&state, actor.tenant_id).await? {
        Some(f) => match state.files.get(&f.sha256).await {
            Ok(b) => (b, f.content_type),
            Err(e) => {
                tracing::warn!(error = %e, "tenant logo bytes unavailable");
                (Bytes::from_static(DEFAULT_LOGO), "image/svg+xml".to_string())
            }
        },
        None => (Bytes::from_static(DEFAULT_LOGO), "image/svg+xml".to_string()),
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(&content_type).map_err(|e| AppError::Internal(e.into()))?);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(resp)
}

/// Whether the firm has uploaded a logo, for the settings page.
pub async fn has_logo(state: &AppState, tenant: TenantId) -> Result<bool, sqlx::Error> {
    let id: Option<Option<FileId>> =
        on_db!(&state.db, |p| sqlx::query_scalar("SELECT logo_file_id FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(p)
            .await)?;
    Ok(id.flatten().is_some())
}
