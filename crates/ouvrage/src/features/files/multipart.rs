//! Reading uploaded files from a multipart form: each file part read into memory up to the
//! per-file limit (a larger one is read to its end and reported, so the other files of the
//! form still arrive), with French messages for a body cut by the request limit or malformed.

use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use bytes::BytesMut;

/// What reading one part of the upload gave.
pub enum Part {
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
    /// A form field that is not a file (its first [`MAX_TEXT_BYTES`], lossily decoded).
    Text {
        name: String,
        value: String,
    },
    /// An empty file input.
    Skip,
}

/// The most of a text field kept: form fields are short (a type, an id, a title).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

pub async fn read_part(
    field: &mut axum::extract::multipart::Field<'_>,
    max_bytes: u64,
) -> Result<Part, MultipartError> {
    let Some(name) = field.file_name().map(str::to_string) else {
        let field_name = field.name().unwrap_or_default().to_string();
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await? {
            let room = MAX_TEXT_BYTES.saturating_sub(text.len());
            text.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        return Ok(Part::Text { name: field_name, value: String::from_utf8_lossy(&text).into_owned() });
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

pub fn multipart_message(err: &MultipartError, limit: &str) -> (StatusCode, String) {
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

/// A file part of a form: the form field it came in, the name the browser gave, the bytes.
pub struct FilePart {
    pub field: String,
    pub name: String,
    pub bytes: bytes::Bytes,
}

/// A whole multipart form, read: its text fields and files, and what could not be read.
pub struct ReadForm {
    /// Text fields in the order sent, trimmed.
    pub texts: Vec<(String, String)>,
    pub files: Vec<FilePart>,
    /// Why some of it was refused, in French: a file over the limit, a body cut or malformed,
    /// a form not received at all.
    pub errors: Vec<String>,
    /// The status of a page showing `errors`: 413 when a file or the body was too large, 400
    /// for a malformed body, 422 otherwise.
    pub status: StatusCode,
}

impl ReadForm {
    /// The last value of text field `name`, or "".
    pub fn text(&self, name: &str) -> &str {
        self.texts.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }
}

/// Reads every part of a multipart form, each file up to `max_bytes` (see [`read_part`]).
/// `not_received` is the message when the request is not a multipart form at all.
pub async fn read_form(
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
    max_bytes: u64,
    not_received: &str,
) -> ReadForm {
    let limit = super::fr_size(max_bytes as i64);
    let mut form =
        ReadForm { texts: Vec::new(), files: Vec::new(), errors: Vec::new(), status: StatusCode::UNPROCESSABLE_ENTITY };
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(_) => {
            form.errors.push(not_received.to_string());
            return form;
        }
    };
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let (status, message) = multipart_message(&e, &limit);
                form.status = status;
                form.errors.push(message);
                break;
            }
        };
        let field_name = field.name().unwrap_or_default().to_string();
        match read_part(&mut field, max_bytes).await {
            Ok(Part::Skip) => {}
            Ok(Part::Text { name, value }) => form.texts.push((name, value.trim().to_string())),
            Ok(Part::File { name, bytes }) => form.files.push(FilePart { field: field_name, name, bytes }),
            Ok(Part::TooLarge { name, body_cut }) => {
                let name = super::upload::clean_name(&name);
                form.errors.push(super::UploadError::TooLarge { name, limit: limit.clone() }.to_string());
                form.status = StatusCode::PAYLOAD_TOO_LARGE;
                if body_cut {
                    break;
                }
            }
            Err(e) => {
                let (status, message) = multipart_message(&e, &limit);
                form.status = status;
                form.errors.push(message);
                break;
            }
        }
    }
    form
}
