//! Bulk download: the ticked documents as one .zip, a folder per site, each file named by its
//! type and title. Built in a temporary file by a writer thread and streamed, so a large
//! selection neither holds the runtime nor all its bytes in memory at once.

use std::collections::HashSet;
use std::io::{Seek, SeekFrom, Write};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::store::{self, DocumentRow};
use super::types;
use crate::app::AppState;
use crate::domain::time::now_ms;
use crate::features::files::{FileKind, fr_size};
use crate::http::error::error_page;
use crate::http::{Actor, AppResult, ClientActor, StaffActor};

/// The most documents and bytes one archive takes: beyond, the user downloads in several goes.
pub const MAX_DOCUMENTS: usize = 500;
pub const MAX_BYTES: i64 = 512 * 1024 * 1024;

/// The ids ticked: `?ids=1&ids=2` (checkboxes) or `?ids=1,2`.
fn requested_ids(raw: Option<&str>) -> Result<Vec<i64>, ()> {
    let mut ids = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if k != "ids" {
            continue;
        }
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            ids.push(part.parse::<i64>().ok().filter(|i| *i > 0).ok_or(())?);
        }
    }
    let mut seen = HashSet::new();
    ids.retain(|i| seen.insert(*i));
    Ok(ids)
}

/// A name safe in every file system: no path separators or control characters.
fn safe_component(name: &str) -> String {
    let cleaned: String =
        name.chars()
            .map(|c| {
                if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
    let trimmed = cleaned.trim().trim_matches('.').to_string();
    if trimmed.is_empty() { "document".into() } else { trimmed.chars().take(120).collect() }
}

/// The entry names of the archive: `Site/Type - titre.ext`, numbered when two would collide.
pub fn entry_names(rows: &[DocumentRow], types: &[types::DocumentType]) -> Vec<String> {
    let mut used = HashSet::new();
    rows.iter()
        .map(|r| {
            let folder = safe_component(r.site_name.as_deref().unwrap_or("Général"));
            let ext = r.original_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            let mut stem = format!("{} - {}", types::label_of(types, &r.document_type), r.title);
            if !ext.is_empty() && stem.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
                stem.truncate(stem.len() - ext.len() - 1);
            }
            if !r.is_current {
                stem.push_str(&format!(" (version {})", r.version));
            }
            let stem = safe_component(&stem);
            let dot_ext = if ext.is_empty() { String::new() } else { format!(".{ext}") };
            let mut name = format!("{folder}/{stem}{dot_ext}");
            let mut n = 2;
            while !used.insert(name.to_lowercase()) {
                name = format!("{folder}/{stem} ({n}){dot_ext}");
                n += 1;
            }
            name
        })
        .collect()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    error_page(status, "Téléchargement impossible", message)
}

async fn zip(state: &AppState, actor: &Actor, raw: Option<&str>) -> AppResult<Response> {
    let Ok(ids) = requested_ids(raw) else {
        return Ok(refuse(StatusCode::BAD_REQUEST, "La sélection de documents est illisible : cochez-les à nouveau."));
    };
    if ids.is_empty() {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "Cochez au moins un document de la liste, puis cliquez sur « Télécharger la sélection ».",
        ));
    }
    if ids.len() > MAX_DOCUMENTS {
        return Ok(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Une archive contient au plus {MAX_DOCUMENTS} documents : téléchargez-les en plusieurs fois."),
        ));
    }
    let rows = store::visible_among(&state.db, actor, &ids).await?;
    if rows.len() != ids.len() {
        // One id outside the actor's scope (or unknown) and nothing is given: the answer does
        // not tell which documents exist.
        return Err(crate::http::AppError::NotFound);
    }
    let total: i64 = rows.iter().map(|r| r.size_bytes).sum();
    if total > MAX_BYTES {
        return Ok(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "La sélection pèse {} ; une archive fait au plus {}. Téléchargez-la en plusieurs fois.",
                fr_size(total),
                fr_size(MAX_BYTES)
            ),
        ));
    }
    let types = types::list(&state.db, actor.tenant_id).await?;
    let names = entry_names(&rows, &types);
    let mut file = tempfile::tempfile().context("temporary file of an archive")?;
    let out = file.try_clone().context("temporary file of an archive")?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, bool, bytes::Bytes)>(2);
    let writer = tokio::task::spawn_blocking(move || -> zip::result::ZipResult<()> {
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(out));
        while let Some((name, compress, bytes)) = rx.blocking_recv() {
            // PDFs and photos are compressed already: stored as they are, they cost no CPU.
            let method = if compress { CompressionMethod::Deflated } else { CompressionMethod::Stored };
            zip.start_file(name, SimpleFileOptions::default().compression_method(method).large_file(false))?;
            zip.write_all(&bytes)?;
        }
        zip.finish()?.flush()?;
        Ok(())
    });
    for (row, name) in rows.iter().zip(names) {
        let bytes = match state.files.get(&row.sha256).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(document = row.id.0, error = %e, "bytes of a document unavailable for an archive");
                drop(tx);
                let _ = writer.await;
                return Ok(refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "Le contenu de « {} » est momentanément indisponible : l'archive n'a pas été créée. \
                         Réessayez dans quelques instants.",
                        row.title
                    ),
                ));
            }
        };
        let compress = FileKind::from_content_type(&row.content_type) == Some(FileKind::Xml);
        if tx.send((name, compress, bytes)).await.is_err() {
            break;
        }
    }
    drop(tx);
    writer.await.context("archive writer")?.context("writing the archive")?;
    file.seek(SeekFrom::Start(0)).context("rewinding the archive")?;
    let len = file.metadata().context("size of the archive")?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file)));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let name = format!("documents-{}.zip", crate::domain::time::fr_date(now_ms()).replace('/', "-"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

pub async fn bo_zip(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    zip(&state, &actor, raw.as_deref()).await
}

pub async fn espace_zip(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    zip(&state, &actor, raw.as_deref()).await
}
