//! `POST /api/v1/thermal-studies`: a thermal-consultancy software sends the study it has just
//! produced, and the chantier exists (or its study gets a new version). The same rules as the
//! site form, through [`studies::import`]: what a site requires, the duplicate check, the same
//! file never twice.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use ouvrage_thermal::{self as thermal, ParseError};

use super::auth::ApiActor;
use super::problem::Problem;
use super::schema::{ChangeOut, DuplicateCandidate, ImportedStudy, StudyOut, UpdatedStudy};
use super::sites::whole_number;
use crate::app::AppState;
use crate::domain::SiteId;
use crate::features::files::fr_size;
use crate::features::files::upload::{UploadError, clean_name};
use crate::features::sites::store;
use crate::features::sites::studies::{self, Importer, Source, StudyError};

/// The longest text part (`site_id`, `create_anyway`) read.
const MAX_TEXT_BYTES: u64 = 1024;

/// The name a study is kept under when its part carries none.
const DEFAULT_NAME: &str = "etude-thermique.xml";

/// The parts the request may have (the OpenAPI document allows no others).
const PARTS: [&str; 3] = ["file", "site_id", "create_anyway"];

/// The parts of the request.
#[derive(Default)]
struct Upload {
    file: Option<(String, Bytes)>,
    site_id: Option<String>,
    create_anyway: Option<String>,
    /// Parts refused while reading (unknown, too long), by name, with their French message.
    errors: BTreeMap<String, String>,
}

/// At most this many wrong parts are named in an answer.
const MAX_PART_ERRORS: usize = 20;

/// Notes a part the operation does not take.
pub(super) fn unknown_part(errors: &mut BTreeMap<String, String>, name: &str, known: &[&str]) {
    if errors.len() < MAX_PART_ERRORS {
        errors.insert(
            name.to_string(),
            format!("Partie inconnue « {name} » : les parties reconnues sont {}.", known.join(", ")),
        );
    }
}

/// Notes a text part longer than `max` bytes.
pub(super) fn text_too_long(errors: &mut BTreeMap<String, String>, name: &str, max: u64) {
    errors.insert(name.to_string(), format!("La partie « {name} » est trop longue ({max} octets au plus)."));
}

pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn malformed() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "multipart-invalide",
        "Envoi mal formé",
        "Le corps multipart/form-data est mal formé ou a été interrompu : renvoyez la requête avec la partie « file ».",
    )
}

pub(super) fn too_large(name: &str, limit: u64) -> Problem {
    let shown = clean_name(name);
    let shown = if shown.is_empty() { "sans nom".to_string() } else { shown };
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "fichier-trop-volumineux",
        "Fichier trop volumineux",
        UploadError::TooLarge { name: shown, limit: fr_size(limit as i64) }.to_string(),
    )
}

pub(super) fn multipart_problem(e: &MultipartError, limit: u64) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "fichier-trop-volumineux",
            "Envoi trop volumineux",
            format!("L'envoi dépasse la taille maximale de {} par fichier.", fr_size(limit as i64)),
        )
    } else {
        malformed()
    }
}

/// Reads a part to its end, keeping at most `max` bytes; `None` when it is longer (the rest is
/// still read, so that the answer reaches a client that is still sending).
pub(super) async fn read_capped(field: &mut Field<'_>, max: u64) -> Result<Option<Bytes>, MultipartError> {
    let mut buf = BytesMut::new();
    let mut over = false;
    while let Some(chunk) = field.chunk().await? {
        if over {
            continue;
        }
        if (buf.len() + chunk.len()) as u64 > max {
            over = true;
            buf = BytesMut::new();
        } else {
            buf.extend_from_slice(&chunk);
        }
    }
    Ok(if over { None } else { Some(buf.freeze()) })
}

async fn read_upload(mut multipart: Multipart, max: u64) -> Result<Upload, Problem> {
    let mut upload = Upload::default();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_problem(&e, max)),
        };
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file_name = field.file_name().map(str::to_string).unwrap_or_default();
                let bytes = read_capped(&mut field, max).await.map_err(|e| multipart_problem(&e, max))?;
                let Some(bytes) = bytes else {
                    return Err(too_large(&file_name, max));
                };
                if upload.file.is_some() {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "fichier-en-double",
                        "Un seul fichier par envoi",
                        "La requête contient plusieurs parties « file » : envoyez une étude thermique par requête.",
                    ));
                }
                let file_name = if file_name.trim().is_empty() { DEFAULT_NAME.to_string() } else { file_name };
                upload.file = Some((file_name, bytes));
            }
            "site_id" | "create_anyway" => {
                let bytes = read_capped(&mut field, MAX_TEXT_BYTES).await.map_err(|e| multipart_problem(&e, max))?;
                let Some(bytes) = bytes else {
                    text_too_long(&mut upload.errors, &name, MAX_TEXT_BYTES);
                    continue;
                };
                // Read as sent: the document says an integer, a boolean.
                let text = String::from_utf8_lossy(&bytes).to_string();
                if name == "site_id" {
                    upload.site_id = Some(text);
                } else {
                    upload.create_anyway = Some(text);
                }
            }
            // Read to its end, so that the answer reaches a client still sending.
            _ => {
                read_capped(&mut field, 0).await.map_err(|e| multipart_problem(&e, max))?;
                unknown_part(&mut upload.errors, &name, &PARTS);
            }
        }
    }
    Ok(upload)
}

/// `site_id` and `create_anyway` as the request gives them; 400 with their messages (and those
/// of the parts refused while reading) otherwise.
fn options(upload: &Upload) -> Result<(Option<SiteId>, bool), Problem> {
    let mut errors = upload.errors.clone();
    let site = match upload.site_id.as_deref() {
        None => None,
        Some(raw) => match whole_number(raw) {
            Some(id) if id > 0 => Some(SiteId(id)),
            _ => {
                errors.insert(
                    "site_id".to_string(),
                    format!("« {raw} » n'est pas un identifiant de chantier : un nombre entier est attendu."),
                );
                None
            }
        },
    };
    let anyway = match upload.create_anyway.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            errors.insert(
                "create_anyway".to_string(),
                format!("« {other} » n'est pas une valeur de create_anyway : true ou false est attendu."),
            );
            false
        }
    };
    if errors.is_empty() { Ok((site, anyway)) } else { Err(Problem::bad_params(errors)) }
}

/// The fields a site needs from a study, as `FieldErrors` may name them.
const SITE_FIELDS: [&str; 16] = [
    "name",
    "postcode",
    "city",
    "city_code",
    "street_number",
    "street",
    "permit_number",
    "owner_name",
    "dwellings",
    "operation_type",
    "kind",
    "phase",
    "status",
    "expected_date",
    "actual_date",
    "parent_id",
];

fn study_problem(e: StudyError) -> Problem {
    let detail = e.to_string();
    match e {
        StudyError::Unreadable(ParseError::TooLarge { .. }) => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "fichier-trop-volumineux", "Fichier trop volumineux", detail)
        }
        StudyError::Unreadable(p) => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "fichier-illisible", "Étude thermique illisible", detail)
                .with("code", p.code())
        }
        StudyError::Upload(u) => {
            let status = u.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(status, "fichier-trop-volumineux", "Fichier trop volumineux", detail)
            } else if status.is_client_error() {
                Problem::new(status, "fichier-refuse", "Fichier refusé", detail)
            } else {
                tracing::error!(error = ?u, "storage failed (API import)");
                Problem::new(status, "", "Service momentanément indisponible", detail)
            }
        }
        StudyError::Invalid(fields) => {
            let errors: std::collections::BTreeMap<String, String> =
                SITE_FIELDS.iter().filter_map(|f| fields.get(f).map(|m| (f.to_string(), m.to_string()))).collect();
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "etude-incomplete", "Étude thermique incomplète", detail)
                .with("errors", errors)
        }
        StudyError::Duplicate(candidates) => {
            let list: Vec<DuplicateCandidate> = candidates.iter().map(DuplicateCandidate::from).collect();
            Problem::new(StatusCode::CONFLICT, "doublon", "Chantier en double", detail)
                .with("existing_site_id", candidates.first().map(|c| c.id.0))
                .with("candidates", list)
        }
        StudyError::AlreadyImported { site_id } => {
            Problem::new(StatusCode::CONFLICT, "deja-importe", "Étude déjà importée", detail)
                .with("existing_site_id", site_id.0)
                .with("candidates", Vec::<DuplicateCandidate>::new())
        }
        StudyError::NotFound => Problem::not_found(detail),
        StudyError::StagedMissing => Problem::of_status(StatusCode::INTERNAL_SERVER_ERROR),
        StudyError::Db(e) => Problem::internal(&e),
    }
}

/// The site on which the same file was already imported, as a duplicate candidate.
fn same_file_candidate(s: &store::SiteRow) -> DuplicateCandidate {
    let line = format!("{} {}", s.street_number, s.street).trim().to_string();
    let address = format!("{line}, {} {}", s.postcode, s.city).trim_start_matches(", ").to_string();
    let non_empty = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    DuplicateCandidate {
        id: s.id.0,
        name: s.name.clone(),
        address,
        postcode: s.postcode.clone(),
        city: s.city.clone(),
        permit_number: non_empty(&s.permit_number),
        owner_name: non_empty(&s.owner_name),
        archived: s.archived,
        reasons: vec!["même fichier d'étude thermique".to_string()],
    }
}

/// Imports a thermal study: creates the chantier it describes, or files a new version of the
/// study of `site_id`.
#[utoipa::path(
    post,
    path = "/api/v1/thermal-studies",
    operation_id = "importThermalStudy",
    tag = "Études thermiques",
    summary = "Importer une étude thermique (RSET, RSEE)",
    description = "Crée le chantier décrit par l'étude, avec les mêmes contrôles que le dépôt sur le site : \
        champs requis, recherche de doublons (passée par `create_anyway=true`), un même fichier jamais \
        importé deux fois pour le client. Avec `site_id`, dépose une nouvelle version de l'étude du chantier.",
    request_body(content = inline(super::schema::ThermalStudyUpload), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Chantier créé", body = ImportedStudy,
            headers(("Location" = String, description = "/api/v1/sites/{id}"))),
        (status = 200, description = "Nouvelle version de l'étude du chantier `site_id`", body = UpdatedStudy),
        (status = 400, description = "Requête mal formée (pas de partie `file`, paramètre invalide)",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "`site_id` introuvable pour ce client",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Doublon probable (`existing_site_id`, `candidates`) ou fichier déjà importé",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Fichier trop volumineux",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Le corps n'est pas en multipart/form-data",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Fichier illisible (pas une étude thermique) ou étude incomplète (`errors`)",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn import(
    State(state): State<AppState>,
    actor: ApiActor,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, Problem> {
    if !is_multipart(&headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "format-non-pris-en-charge",
            "Format non pris en charge",
            "Envoyez l'étude thermique en multipart/form-data, dans une partie nommée « file ».",
        ));
    }
    let multipart = multipart.map_err(|_| malformed())?;
    let max = state.config.max_upload_bytes.min(thermal::MAX_BYTES as u64);
    let upload = read_upload(multipart, max).await?;
    let (site, create_anyway) = options(&upload)?;
    let Some((file_name, bytes)) = upload.file else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "fichier-manquant",
            "Fichier manquant",
            "La requête ne contient pas de partie « file » : joignez-y l'étude thermique (fichier XML RSET ou RSEE).",
        ));
    };
    let scope = actor.scope();
    if let Some(id) = site {
        let found = store::site(&state.db, scope, id.0).await.map_err(|e| Problem::internal(&e))?;
        if found.is_none() {
            return Err(Problem::not_found(format!("Le chantier n° {id} est introuvable pour ce client.")));
        }
    }
    let who = Importer { audit: actor.audit(), user: None, api_token: Some(actor.token_id), source: Source::Api };
    let imported =
        match studies::import(&state, &who, scope, actor.client_id, &file_name, bytes, site, create_anyway).await {
            Ok(i) => i,
            Err(StudyError::AlreadyImported { site_id }) => {
                // The site that has the file is the one candidate.
                let row = store::site(&state.db, scope, site_id.0).await.map_err(|e| Problem::internal(&e))?;
                let problem = study_problem(StudyError::AlreadyImported { site_id });
                let candidates: Vec<DuplicateCandidate> = row.iter().map(same_file_candidate).collect();
                return Err(problem.with("candidates", candidates));
            }
            Err(e) => return Err(study_problem(e)),
        };
    let body = ImportedStudy { site_id: imported.site_id.0, study: StudyOut::from(&imported.study) };
    if imported.created {
        let location = format!("/api/v1/sites/{}", imported.site_id);
        let mut resp = (StatusCode::CREATED, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Ok(resp)
    } else {
        let changes = imported.attached.changes.iter().map(ChangeOut::from).collect();
        Ok((StatusCode::OK, Json(UpdatedStudy { imported: body, changes })).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(site: Option<&str>, anyway: Option<&str>) -> Upload {
        Upload {
            file: None,
            site_id: site.map(String::from),
            create_anyway: anyway.map(String::from),
            errors: BTreeMap::new(),
        }
    }

    #[test]
    fn options_are_checked() {
        assert_eq!(options(&upload(None, None)).unwrap(), (None, false));
        assert_eq!(options(&upload(Some("12"), Some("true"))).unwrap(), (Some(SiteId(12)), true));
        // As the document says: an integer, a boolean, nothing else.
        for (site, anyway) in [(Some(""), None), (Some("+12"), None), (None, Some("1")), (None, Some("TRUE"))] {
            assert!(options(&upload(site, anyway)).is_err(), "{site:?} {anyway:?}");
        }
        let p = options(&upload(Some("douze"), Some("oui"))).unwrap_err();
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        let errors = &p.extensions["errors"];
        assert!(errors["site_id"].as_str().unwrap().contains("douze"));
        assert!(errors["create_anyway"].as_str().unwrap().contains("true ou false"));
    }
}
