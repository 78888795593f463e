//! Accepting a file: size and content checks, a clean name, the bytes stored first, then the row
//! and its audit record in one transaction, so a row never points to missing bytes. Every
//! capability that takes files (documents, signatures, messages…) goes through here.

use std::fmt;

use axum::http::StatusCode;
use bytes::Bytes;

use super::kind::{self, ACCEPTED_FORMATS, FileKind, Refusal};
use super::{FileStore, fr_size, queries};
use crate::app::AppState;
use crate::db::Tx;
use crate::domain::{ClientId, FileId, TenantId, UserId};
use crate::features::audit::{self, AuditActor};
use crate::http::{Actor, AppError};
use crate::on_tx;

/// Longest original name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

#[derive(Debug)]
pub enum UploadError {
    /// Larger than `Config::max_upload_bytes`; `limit` is already worded ("25 Mo").
    TooLarge {
        name: String,
        limit: String,
    },
    Empty {
        name: String,
    },
    Unsupported {
        name: String,
        detected: Option<&'static str>,
    },
    TruncatedPdf {
        name: String,
    },
    /// A PDF that does not open (damaged inside, or protected by a password); `reason` is the
    /// PDF reader's French explanation.
    UnreadablePdf {
        name: String,
        reason: String,
    },
    XmlWithDtd {
        name: String,
    },
    /// The client does not exist, belongs to another tenant, or is not the actor's own client.
    ClientNotFound,
    Storage(object_store::Error),
    Db(sqlx::Error),
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadError::TooLarge { name, limit } => write!(
                f,
                "Le fichier « {name} » dépasse la taille maximale autorisée de {limit} par fichier. \
                 Réduisez-le (PDF compressé, photo moins lourde) puis renvoyez-le."
            ),
            UploadError::Empty { name } => {
                write!(f, "Le fichier « {name} » est vide. Vérifiez le fichier choisi puis renvoyez-le.")
            }
            UploadError::Unsupported { name, detected } => {
                write!(
                    f,
                    "Le fichier « {name} » n'est pas dans un format accepté (formats acceptés : {ACCEPTED_FORMATS})."
                )?;
                match detected {
                    Some(ext) => write!(f, " Son contenu est celui d'un fichier .{ext}, quel que soit son nom."),
                    None => write!(f, " Son contenu ne correspond à aucun de ces formats, quel que soit son nom."),
                }
            }
            UploadError::TruncatedPdf { name } => write!(
                f,
                "Le fichier « {name} » est un PDF incomplet (sa fin est manquante) : il a sans doute été mal \
                 enregistré ou mal transféré. Enregistrez-le à nouveau puis renvoyez-le."
            ),
            UploadError::UnreadablePdf { name, reason } => write!(
                f,
                "Le fichier « {name} » ne s'ouvre pas comme un PDF : {reason} Enregistrez-le à nouveau (ou \
                 « Imprimer en PDF ») puis renvoyez-le."
            ),
            UploadError::XmlWithDtd { name } => write!(
                f,
                "Le fichier XML « {name} » contient une déclaration DOCTYPE ou ENTITY, refusée pour des raisons \
                 de sécurité. Exportez-le à nouveau sans DTD puis renvoyez-le."
            ),
            UploadError::ClientNotFound => write!(f, "Ce client est introuvable."),
            UploadError::Storage(_) => write!(
                f,
                "Le stockage des fichiers ne répond pas : le fichier n'a pas été enregistré. Réessayez dans quelques instants."
            ),
            UploadError::Db(_) => write!(
                f,
                "La base de données ne répond pas : le fichier n'a pas été enregistré. Réessayez dans quelques instants."
            ),
        }
    }
}

impl std::error::Error for UploadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UploadError::Storage(e) => Some(e),
            UploadError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        UploadError::Db(e)
    }
}

impl UploadError {
    /// True when the file itself was refused (size, format): the user can fix it, and a form
    /// should be shown again with [`UploadError`]'s message.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            UploadError::TooLarge { .. }
                | UploadError::Empty { .. }
                | UploadError::Unsupported { .. }
                | UploadError::TruncatedPdf { .. }
                | UploadError::UnreadablePdf { .. }
                | UploadError::XmlWithDtd { .. }
        )
    }

    /// The status of a page that shows this error.
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::ClientNotFound => StatusCode::NOT_FOUND,
            UploadError::Storage(_) | UploadError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge { .. } => AppError::PayloadTooLarge(e.to_string()),
            UploadError::ClientNotFound => AppError::NotFound,
            UploadError::Db(db) => AppError::from(db),
            UploadError::Storage(s) => {
                tracing::error!(error = %s, "file storage unavailable");
                AppError::StorageUnavailable
            }
            refused => AppError::BadRequest(refused.to_string()),
        }
    }
}

/// A file whose size, content and name have been checked, not yet stored.
#[derive(Clone, Debug)]
pub struct CheckedUpload {
    pub kind: FileKind,
    /// The cleaned name (see [`clean_name`]), with an extension matching the content.
    pub name: String,
    pub bytes: Bytes,
}

/// Bytes safely in the store, ready to be given a row.
#[derive(Clone, Debug)]
pub struct StoredUpload {
    pub kind: FileKind,
    pub name: String,
    pub sha256: String,
    pub size_bytes: i64,
}

/// Checks size and content. `max_bytes` is `Config::max_upload_bytes`.
pub fn check(original_name: &str, bytes: Bytes, max_bytes: u64) -> Result<CheckedUpload, UploadError> {
    let name = clean_name(original_name);
    let shown = if name.is_empty() { "sans nom".to_string() } else { name.clone() };
    if bytes.len() as u64 > max_bytes {
        return Err(UploadError::TooLarge { name: shown, limit: fr_size(max_bytes as i64) });
    }
    let kind = kind::detect(&bytes).map_err(|r| match r {
        Refusal::Empty => UploadError::Empty { name: shown.clone() },
        Refusal::Unsupported { detected } => UploadError::Unsupported { name: shown.clone(), detected },
        Refusal::TruncatedPdf => UploadError::TruncatedPdf { name: shown.clone() },
        Refusal::XmlWithDtd => UploadError::XmlWithDtd { name: shown.clone() },
    })?;
    Ok(CheckedUpload { kind, name: with_extension(&name, kind), bytes })
}

/// Puts checked bytes in the store (once per content) and returns what the row needs.
pub async fn put_bytes(store: &FileStore, checked: CheckedUpload) -> Result<StoredUpload, UploadError> {
    let size_bytes = checked.bytes.len() as i64;
    let sha256 = store.put(checked.bytes).await.map_err(UploadError::Storage)?;
    Ok(StoredUpload { kind: checked.kind, name: checked.name, sha256, size_bytes })
}

/// The client a new file may be attached to: in the actor's tenant, and the actor's own client
/// for client users (who always upload for their company, even when `client_id` is `None`).
fn allowed_client(actor: &Actor, client_id: Option<ClientId>) -> Result<Option<ClientId>, UploadError> {
    match actor.client_scope() {
        None => Ok(client_id),
        Some(own) => match client_id {
            None => Ok(Some(own)),
            Some(c) if c == own => Ok(Some(c)),
            Some(_) => Err(UploadError::ClientNotFound),
        },
    }
}

/// The client's code, checked to belong to the tenant.
async fn client_code(tx: &mut Tx, tenant: TenantId, client: ClientId) -> Result<String, UploadError> {
    let code: Option<String> =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT code FROM clients WHERE id = $1 AND tenant_id = $2")
            .bind(client)
            .bind(tenant)
            .fetch_optional(c)
            .await)?;
    code.ok_or(UploadError::ClientNotFound)
}

/// Writes the row of stored bytes and its audit record in the caller's transaction, so a
/// capability can create its own row (document, message…) pointing to the file atomically.
pub async fn insert_file(
    tx: &mut Tx,
    actor: &Actor,
    client_id: Option<ClientId>,
    stored: &StoredUpload,
) -> Result<FileId, UploadError> {
    let client = allowed_client(actor, client_id)?;
    insert_row(tx, actor.into(), actor.tenant_id, Some(actor.user_id), client, stored).await
}

/// Like [`insert_file`] for files the platform produces itself (generated PDFs, imports run by a
/// job): no user uploaded them, `who` says what did.
pub async fn insert_generated_file(
    tx: &mut Tx,
    who: AuditActor,
    client_id: Option<ClientId>,
    stored: &StoredUpload,
) -> Result<FileId, UploadError> {
    let tenant = who.tenant_id;
    let user = who.user_id;
    insert_row(tx, who, tenant, user, client_id, stored).await
}

async fn insert_row(
    tx: &mut Tx,
    who: AuditActor,
    tenant: TenantId,
    uploaded_by: Option<UserId>,
    client: Option<ClientId>,
    stored: &StoredUpload,
) -> Result<FileId, UploadError> {
    let code = match client {
        Some(c) => Some(client_code(tx, tenant, c).await?),
        None => None,
    };
    let now = crate::domain::time::now_ms();
    let id: FileId = on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO files (tenant_id, client_id, sha256, size_bytes, content_type, original_name, uploaded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(&stored.sha256)
    .bind(stored.size_bytes)
    .bind(stored.kind.content_type())
    .bind(&stored.name)
    .bind(uploaded_by)
    .bind(now)
    .fetch_one(c)
    .await
    })?;
    let summary = match code {
        Some(code) => format!(
            "Fichier « {} » ajouté pour le client {code} ({}, {})",
            stored.name,
            stored.kind.label(),
            fr_size(stored.size_bytes)
        ),
        None => format!("Fichier « {} » ajouté ({}, {})", stored.name, stored.kind.label(), fr_size(stored.size_bytes)),
    };
    audit::record(tx, who, "create", "file", Some(id.0), &summary).await?;
    Ok(id)
}

/// Checks, stores and records one uploaded file for `client_id` (or for no client, staff only).
/// The bytes are in the store before the row exists; a refused file leaves nothing behind.
pub async fn store_upload(
    state: &AppState,
    actor: &Actor,
    client_id: Option<ClientId>,
    original_name: &str,
    bytes: Bytes,
) -> Result<FileId, UploadError> {
    let checked = check(original_name, bytes, state.config.max_upload_bytes)?;
    let client = allowed_client(actor, client_id)?;
    if let Some(c) = client
        && queries::client_header(&state.db, actor.tenant_id, c).await?.is_none()
    {
        // Checked before storing too, so bytes for a forbidden client never reach the store.
        return Err(UploadError::ClientNotFound);
    }
    let stored = put_bytes(&state.files, checked).await?;
    let mut tx = state.db.begin().await?;
    let id = insert_file(&mut tx, actor, client, &stored).await?;
    tx.commit().await?;
    Ok(id)
}

/// Whether `c` must not appear in a stored name: controls, and the invisible formatting
/// characters that can disguise an extension (right-to-left override…).
fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The name as the user sees it: the last path component (browsers may send `C:\…\plan.pdf`),
/// without control or invisible characters, trimmed of spaces and dots, at most
/// [`MAX_NAME_CHARS`] characters (the extension is kept). May be empty.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !is_hidden_char(*c)).collect();
    let cleaned = cleaned.trim_matches(|c: char| c.is_whitespace() || c == '.');
    shorten(cleaned, MAX_NAME_CHARS)
}

fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !ext.is_empty() && ext.chars().count() <= 10 => {
            let keep = max - ext.chars().count() - 1;
            let stem: String = stem.chars().take(keep).collect();
            format!("{}.{ext}", stem.trim_end())
        }
        _ => name.chars().take(max).collect::<String>().trim_end().to_string(),
    }
}

/// Adds the content's extension when the name lacks a fitting one, so the downloaded file opens
/// with the right application (`plan.exe` holding a PDF becomes `plan.exe.pdf`).
fn with_extension(name: &str, kind: FileKind) -> String {
    let base = if name.is_empty() { "fichier" } else { name };
    let fits =
        base.rsplit_once('.').is_some_and(|(_, ext)| kind.extensions().iter().any(|e| e.eq_ignore_ascii_case(ext)));
    if fits {
        return base.to_string();
    }
    let ext = kind.extensions()[0];
    let stem = shorten(base, MAX_NAME_CHARS - ext.len() - 1);
    format!("{stem}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_length() {
        assert_eq!(clean_name("C:\\Users\\moi\\Plan RDC.pdf"), "Plan RDC.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("fac\u{202E}fdp.exe"), "facfdp.exe");
        assert_eq!(clean_name("ligne\r\nDeux\t.pdf"), "ligneDeux.pdf");
        assert_eq!(clean_name(".."), "");
        let long = format!("{}.pdf", "é".repeat(300));
        let short = clean_name(&long);
        assert_eq!(short.chars().count(), MAX_NAME_CHARS);
        assert!(short.ends_with(".pdf"));
    }

    #[test]
    fn the_extension_follows_the_content() {
        assert_eq!(with_extension("plan.PDF", FileKind::Pdf), "plan.PDF");
        assert_eq!(with_extension("photo.jpeg", FileKind::Jpeg), "photo.jpeg");
        assert_eq!(with_extension("plan.exe", FileKind::Pdf), "plan.exe.pdf");
        assert_eq!(with_extension("", FileKind::Png), "fichier.png");
        let long = "a".repeat(MAX_NAME_CHARS);
        assert_eq!(with_extension(&long, FileKind::Xml).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn size_and_content_are_checked_before_anything_is_stored() {
        let pdf = Bytes::from_static(b"%PDF-1.4\n%%EOF\n");
        let ok = check("plan.pdf", pdf.clone(), 1024).unwrap();
        assert_eq!(ok.kind, FileKind::Pdf);
        let err = check("plan.pdf", pdf, 4).unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.to_string().contains("« plan.pdf »"));
        let err = check("plan.pdf", Bytes::from_static(b"MZ\x90\0\x03\0\0\0"), 1024).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.to_string().contains("PDF, images JPEG ou PNG, XML"), "{err}");
    }
}
