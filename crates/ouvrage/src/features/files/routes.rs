//! Pages and downloads: a client's files in the back office (with the upload form), the
//! client's documents in the extranet, and `/fichiers/{id}` for everyone within their scope.

use askama::Template;
use axum::Router;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use bytes::BytesMut;

use super::kind::{ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS, FileKind};
use super::queries::{self, ClientHeader, FileListRow};
use super::upload::{self, UploadError};
use super::{fr_size, store_upload};
use crate::app::AppState;
use crate::domain::time::fr_datetime;
use crate::domain::{ClientId, FileId, TenantId};
use crate::http::error::error_page;
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

const PAGE_SIZE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/clients/{id}/fichiers", get(client_files).post(upload_client_files))
        .route("/espace/documents", get(espace_documents))
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

fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|v| *v > 0)
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
    let id = parse_id(raw_id).ok_or(AppError::NotFound)?;
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

/// What reading one part of the upload gave.
enum Part {
    File {
        name: String,
        bytes: bytes::Bytes,
    },
    /// Larger than the per-file limit: read to its end and dropped. `body_cut` when the request
    /// body limit stopped the reading, so nothing more can be read.
    TooLarge {
        name: String,
        body_cut: bool,
    },
    /// A form field that is not a file, or an empty file input.
    Skip,
}

async fn read_part(field: &mut axum::extract::multipart::Field<'_>, max_bytes: u64) -> Result<Part, MultipartError> {
    let Some(name) = field.file_name().map(str::to_string) else {
        while field.chunk().await?.is_some() {}
        return Ok(Part::Skip);
    };
    let mut buf = BytesMut::new();
    let mut too_large = false;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) if too_large => return Ok(Part::TooLarge { name, body_cut: true }),
            Err(e) => return Err(e),
        };
        if too_large {
            continue;
        }
        if (buf.len() + chunk.len()) as u64 > max_bytes {
            too_large = true;
            buf = BytesMut::new();
        } else {
            buf.extend_from_slice(&chunk);
        }
    }
    Ok(if too_large {
        Part::TooLarge { name, body_cut: false }
    } else if name.is_empty() && buf.is_empty() {
        Part::Skip
    } else {
        Part::File { name, bytes: buf.freeze() }
    })
}

fn multipart_message(err: &MultipartError, limit: &str) -> (StatusCode, String) {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "L'envoi dépasse la taille maximale de {limit} : envoyez les fichiers en plusieurs fois \
                 (chaque fichier doit faire au plus {limit})."
            ),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "L'envoi a été interrompu ou est mal formé : choisissez à nouveau les fichiers puis renvoyez le formulaire."
                .to_string(),
        )
    }
}

async fn upload_client_files(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let client = staff_client(&state, &actor, &id).await?;
    let limit = fr_size(state.config.max_upload_bytes as i64);
    let mut added: Vec<String> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    match multipart {
        Err(_) => errors.push(
            "Le formulaire d'envoi n'a pas été reçu correctement : choisissez les fichiers puis renvoyez-le.".into(),
        ),
        Ok(mut multipart) => loop {
            let mut field = match multipart.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    let (s, msg) = multipart_message(&e, &limit);
                    status = s;
                    errors.push(msg);
                    break;
                }
            };
            match read_part(&mut field, state.config.max_upload_bytes).await {
                Ok(Part::Skip) => {}
                Ok(Part::TooLarge { name, body_cut }) => {
                    let shown = upload::clean_name(&name);
                    errors.push(UploadError::TooLarge { name: shown, limit: limit.clone() }.to_string());
                    status = StatusCode::PAYLOAD_TOO_LARGE;
                    if body_cut {
                        break;
                    }
                }
                Ok(Part::File { name, bytes }) => {
                    match store_upload(&state, &actor, Some(client.id), &name, bytes).await {
                        Ok(_) => added.push(upload::clean_name(&name)),
                        Err(e) if e.is_refusal() => {
                            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                                status = StatusCode::PAYLOAD_TOO_LARGE;
                            }
                            errors.push(e.to_string());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => {
                    let (s, msg) = multipart_message(&e, &limit);
                    status = s;
                    errors.push(msg);
                    break;
                }
            }
        },
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
// Extranet: the company's documents

#[derive(Template)]
#[template(path = "files/espace_documents.html")]
struct EspaceDocumentsPage {
    ctx: Ctx,
    company: String,
    files: Vec<FileItem>,
    total: i64,
    paging: Paging,
    empty_text: &'static str,
}

const CLIENT_EMPTY: &str = "Aucun document pour l'instant. Les documents de vos chantiers et de vos sites (rapports, \
plans, justificatifs, photos…) apparaîtront ici dès qu'ils auront été déposés, par nos équipes ou par vos collaborateurs.";

async fn espace_documents(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let client =
        queries::client_header(&state.db, actor.0.tenant_id, actor.client_id()).await?.ok_or(AppError::NotFound)?;
    let page = requested_page(&query);
    let (rows, total) =
        queries::list_for_client(&state.db, actor.0.tenant_id, client.id, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    let view = EspaceDocumentsPage {
        ctx: ctx.with_nav("documents"),
        company: client.name,
        files: rows.into_iter().map(FileItem::from).collect(),
        total,
        paging: Paging { page, pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1) },
        empty_text: CLIENT_EMPTY,
    };
    Ok(render(&view)?.into_response())
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
    let id = parse_id(&id).ok_or(AppError::NotFound)?;
    let file = queries::find_visible(&state.db, &actor, FileId(id)).await?.ok_or(AppError::NotFound)?;
    let bytes = match state.files.get(&file.sha256).await {
        Ok(b) => b,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::error!(file_id = file.id.0, sha256 = %file.sha256, "stored bytes are missing");
            return Ok(error_page(
                StatusCode::NOT_FOUND,
                "Fichier indisponible",
                "Le contenu de ce fichier est introuvable sur le serveur. Prévenez votre interlocuteur habituel \
                 pour qu'il le dépose à nouveau.",
            ));
        }
        Err(e) => {
            tracing::error!(file_id = file.id.0, error = %e, "file storage unavailable");
            return Ok(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Fichier momentanément indisponible",
                "Le stockage des fichiers ne répond pas. Réessayez dans quelques instants.",
            ));
        }
    };
    let kind = FileKind::from_content_type(&file.content_type);
    let inline = query_param(&query, "apercu").as_deref() == Some("1") && kind.is_some_and(FileKind::previewable);
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    let ct = HeaderValue::from_str(&file.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(inline, &file.original_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
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
