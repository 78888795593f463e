//! Pages and downloads: a client's files in the back office (with the upload form) and
//! `/fichiers/{id}` for everyone within their scope. The extranet lists files as documents
//! (features::documents).

use askama::Template;
use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::fr_size;
use super::kind::{ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS, FileKind};
use super::multipart::read_form;
use super::queries::{self, ClientHeader, FileListRow};
use super::upload;
use crate::app::AppState;
use crate::domain::time::fr_datetime;
use crate::domain::{ClientId, FileId, TenantId};
use crate::features::clients::ui::positive_id;
use crate::features::documents::store::Published;
use crate::features::documents::types as doc_types;
use crate::features::documents::upload::{Deposit, DepositError, Depositor, deposit_general};
use crate::http::error::error_page;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

const PAGE_SIZE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/clients/{id}/fichiers", get(client_files).post(upload_client_files))
        .route("/fichiers/{id}", get(download))
}

/// A file as shown in a list.
pub struct FileItem {
    pub id: FileId,
    pub name: String,
    pub type_label: &'static str,
    pub size: String,
    pub date: String,
    pub uploader: String,
    pub previewable: bool,
}

impl From<FileListRow> for FileItem {
    fn from(r: FileListRow) -> Self {
        let kind = FileKind::from_content_type(&r.content_type);
        FileItem {
            id: r.id,
            name: r.original_name,
            type_label: kind.map(FileKind::label).unwrap_or("Fichier"),
            size: fr_size(r.size_bytes),
            date: fr_datetime(r.created_at),
            uploader: r.uploader.unwrap_or_else(|| "—".into()),
            previewable: kind.is_some_and(FileKind::previewable),
        }
    }
}

/// Page numbers: 1-based, from `?page=N`; anything unreadable is page 1.
struct Paging {
    page: i64,
    pages: i64,
}

fn query_param(query: &Option<String>, key: &str) -> Option<String> {
    let q = query.as_deref()?;
    url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

fn requested_page(query: &Option<String>) -> i64 {
    query_param(query, "page").and_then(|p| p.parse::<i64>().ok()).filter(|p| (1..=1_000_000).contains(p)).unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// Back office: a client's files

#[derive(Template)]
#[template(path = "files/client_files.html")]
struct ClientFilesPage {
    ctx: Ctx,
    client: ClientHeader,
    files: Vec<FileItem>,
    total: i64,
    paging: Paging,
    accept: &'static str,
    formats: &'static str,
    limit: String,
    empty_text: &'static str,
    /// Names of the files stored by this submission, when some others were refused.
    added: Vec<String>,
    errors: Vec<String>,
}

const STAFF_EMPTY: &str = "Aucun fichier pour ce client. Ajoutez-en avec le formulaire ci-dessus : ils seront visibles \
par les utilisateurs de son espace client.";

async fn client_page(
    state: &AppState,
    ctx: Ctx,
    tenant: TenantId,
    client: ClientHeader,
    page: i64,
    added: Vec<String>,
    errors: Vec<String>,
) -> AppResult<ClientFilesPage> {
    let (rows, total) =
        queries::list_for_client(&state.db, tenant, client.id, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    Ok(ClientFilesPage {
        ctx: ctx.with_nav("clients"),
        client,
        files: rows.into_iter().map(FileItem::from).collect(),
        total,
        paging: Paging { page, pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1) },
        accept: ACCEPT_ATTRIBUTE,
        formats: ACCEPTED_FORMATS,
        limit: fr_size(state.config.max_upload_bytes as i64),
        empty_text: STAFF_EMPTY,
        added,
        errors,
    })
}

async fn staff_client(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<ClientHeader> {
    let id = positive_id(raw_id).ok_or(AppError::NotFound)?;
    queries::client_header(&state.db, actor.tenant_id, ClientId(id)).await?.ok_or(AppError::NotFound)
}

async fn client_files(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let client = staff_client(&state, &actor, &id).await?;
    let page =
        client_page(&state, ctx, actor.tenant_id, client, requested_page(&query), Vec::new(), Vec::new()).await?;
    Ok(render(&page)?.into_response())
}

async fn upload_client_files(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let client = staff_client(&state, &actor, &id).await?;
    let max = state.config.max_upload_bytes;
    let form = read_form(
        multipart,
        max,
        "Le formulaire d'envoi n'a pas été reçu correctement : choisissez les fichiers puis renvoyez-le.",
    )
    .await;
    let (mut errors, mut status) = (form.errors, form.status);
    let mut added: Vec<String> = Vec::new();
    for part in form.files {
        // Shared with the company as a document of no particular site, so its users find it in
        // Mes documents.
        let by = Depositor::user(&actor);
        let what = Deposit {
            document_type: doc_types::OTHER,
            title: None,
            published: Published::No,
            requirement_id: None,
            twin: None,
        };
        let filed = match upload::check(&part.name, part.bytes, max) {
            Ok(checked) => deposit_general(&state, &by, client.id, what, checked).await,
            Err(e) => Err(DepositError::Upload(e)),
        };
        match filed {
            Ok(_) => added.push(upload::clean_name(&part.name)),
            Err(e) if e.is_refusal() => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    status = StatusCode::PAYLOAD_TOO_LARGE;
                }
                errors.push(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if errors.is_empty() && added.is_empty() {
        errors.push("Choisissez au moins un fichier à envoyer.".into());
    }
    if errors.is_empty() {
        let target = format!("/bo/clients/{}/fichiers?msg=fichier", client.id);
        return Ok(Redirect::to(&target).into_response());
    }
    let page = client_page(&state, ctx, actor.tenant_id, client, 1, added, errors).await?;
    Ok((status, render(&page)?).into_response())
}

// ---------------------------------------------------------------------------------------------
// Downloads

/// `attachment; filename="plan.pdf"; filename*=UTF-8''plan.pdf` (RFC 6266 / 5987): an ASCII
/// fallback for old clients, the exact UTF-8 name for the others.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let disposition = if inline { "inline" } else { "attachment" };
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

async fn download(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let id = positive_id(&id).ok_or(AppError::NotFound)?;
    let file = queries::find_visible(&state.db, &actor, FileId(id)).await?.ok_or(AppError::NotFound)?;
    let inline = query_param(&query, "apercu").as_deref() == Some("1");
    Ok(serve_stored(&state, file.id, &file.sha256, &file.content_type, &file.original_name, inline).await)
}

/// The bytes of a stored file as a download, or shown in the browser when `inline` and the
/// format can be previewed (PDF, images). Missing bytes or an unavailable store give a French
/// page. A preview may be framed by our own pages (the document page shows it).
pub async fn serve_stored(
    state: &AppState,
    file_id: FileId,
    sha256: &str,
    content_type: &str,
    name: &str,
    inline: bool,
) -> Response {
    let bytes = match state.files.get(sha256).await {
        Ok(b) => b,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::error!(file_id = file_id.0, sha256 = %sha256, "stored bytes are missing");
            return error_page(
                StatusCode::NOT_FOUND,
                "Fichier indisponible",
                "Le contenu de ce fichier est introuvable sur le serveur. Prévenez votre interlocuteur habituel \
                 pour qu'il le dépose à nouveau.",
            );
        }
        Err(e) => {
            tracing::error!(file_id = file_id.0, error = %e, "file storage unavailable");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Fichier momentanément indisponible",
                "Le stockage des fichiers ne répond pas. Réessayez dans quelques instants.",
            );
        }
    };
    let kind = FileKind::from_content_type(content_type);
    let inline = inline && kind.is_some_and(FileKind::previewable);
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    let ct =
        HeaderValue::from_str(content_type).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(inline, name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if inline {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn download_names_survive_accents_and_quotes() {
        assert_eq!(
            content_disposition(false, "Relevé n°2 \"final\".pdf"),
            "attachment; filename=\"Relev_ n_2 _final_.pdf\"; filename*=UTF-8''Relev%C3%A9%20n%C2%B02%20%22final%22.pdf"
        );
        assert!(content_disposition(true, "a.png").starts_with("inline; "));
    }
}
