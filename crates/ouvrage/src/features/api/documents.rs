//! Documents through the API: a site's documents filed by software (`POST
//! /api/v1/sites/{site_id}/documents`), listed (`GET` on the same path), read
//! (`GET /api/v1/documents/{id}`) and downloaded (`…/content`).
//!
//! A document takes the path of the web forms, [`upload::deposit`]: the same content checks,
//! versions, audit and notifications. Who is speaking is the token's integrator, for its client
//! (audit label "API : <token>"):
//! - a document filed without `publish_as` is one the client's side hands over, as a client user
//!   dropping it on the site would: the firm's office is notified;
//! - with `publish_as` (`report`, `invoice`) the software delivers the firm's report or invoice
//!   (typically the firm's reporting tool, holding a token for this client): it is published as
//!   the office would publish it, so the client's users are notified and an invoice is mailed with
//!   its PDF to the billing contact.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::auth::ApiActor;
use super::problem::Problem;
use super::schema::{DocumentOut, string_enum};
use super::segment;
use super::sites::whole_number;
use super::studies::{is_multipart, multipart_problem, read_capped, text_too_long, too_large, unknown_part};
use crate::app::AppState;
use crate::domain::{DocumentId, Permission, Permissions, Role, UserId};
use crate::features::clients::ui::positive_id;
use crate::features::documents::store::{self, DocumentFilter, DocumentRow, DocumentSort, Published};
use crate::features::documents::types;
use crate::features::documents::upload::{self as deposits, Deposit, DepositError, Depositor};
use crate::features::files::content_disposition;
use crate::features::files::upload::{self, UploadError};
use crate::features::files::{FileKind, fr_size};
use crate::features::sites::store as sites;
use crate::http::Actor;

/// The longest text part (`type`, `publish_as`, `title`) read.
const MAX_TEXT_BYTES: u64 = 4096;
const MAX_TITLE_CHARS: usize = 200;
pub const DEFAULT_PER_PAGE: i64 = 200;
pub const MAX_PER_PAGE: i64 = 500;

/// The document store reads with a web actor; the token reads as its client's administrator
/// would: every document of the client, invoices included (the API publishes them too). Only
/// ever used to read: it never marks a document seen (an integrator is not the client opening
/// it) and never writes.
fn reader(api: &ApiActor) -> Actor {
    Actor {
        user_id: UserId(0),
        tenant_id: api.tenant_id,
        role: Role::ClientAdmin,
        client_id: Some(api.client_id),
        permissions: Permissions::from_list(&[Permission::SeeInvoices]),
        email: String::new(),
        full_name: format!("API : {}", api.token_name),
        session_hash: String::new(),
        ip: api.ip.clone(),
        csrf: String::new(),
    }
}

fn site_not_found() -> Problem {
    Problem::not_found("Ce chantier est introuvable pour ce client.")
}

fn document_not_found() -> Problem {
    Problem::not_found("Ce document est introuvable pour ce client.")
}

/// The site of the path, if it is the token's client's.
async fn site_of(state: &AppState, actor: &ApiActor, raw: &str) -> Result<sites::SiteRow, Problem> {
    let id = positive_id(raw).ok_or_else(site_not_found)?;
    sites::site(&state.db, actor.scope(), id).await.map_err(|e| Problem::internal(&e))?.ok_or_else(site_not_found)
}

/// The parts an upload may have (the OpenAPI document allows no others).
const PARTS: [&str; 5] = ["file", "type", "publish_as", "title", "xml"];

/// The parts of an upload.
#[derive(Default)]
struct Upload {
    file: Option<(String, Bytes)>,
    xml: Option<(String, Bytes)>,
    document_type: Option<String>,
    publish_as: Option<String>,
    title: Option<String>,
    /// Parts refused while reading (unknown, too long), by name, with their French message.
    errors: BTreeMap<String, String>,
}

fn malformed() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "multipart-invalide",
        "Envoi mal formé",
        "Le corps multipart/form-data est mal formé ou a été interrompu : renvoyez la requête avec la partie « file ».",
    )
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
            "file" | "xml" => {
                let file_name = field.file_name().map(str::to_string).unwrap_or_default();
                let bytes = read_capped(&mut field, max).await.map_err(|e| multipart_problem(&e, max))?;
                let Some(bytes) = bytes else {
                    return Err(too_large(&file_name, max));
                };
                let slot = if name == "file" { &mut upload.file } else { &mut upload.xml };
                if slot.is_some() {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "fichier-en-double",
                        "Un seul fichier par envoi",
                        format!("La requête contient plusieurs parties « {name} » : envoyez un document par requête."),
                    ));
                }
                *slot = Some((file_name, bytes));
            }
            "type" | "publish_as" | "title" => {
                let bytes = read_capped(&mut field, MAX_TEXT_BYTES).await.map_err(|e| multipart_problem(&e, max))?;
                let Some(bytes) = bytes else {
                    text_too_long(&mut upload.errors, &name, MAX_TEXT_BYTES);
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).to_string();
                match name.as_str() {
                    "type" => upload.document_type = Some(text),
                    "publish_as" => upload.publish_as = Some(text),
                    _ => upload.title = Some(text),
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

/// A file the checks refused: 413 when too large, 422 otherwise.
fn upload_problem(e: UploadError) -> Problem {
    let detail = e.to_string();
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(status, "fichier-trop-volumineux", "Fichier trop volumineux", detail)
    } else if e.is_refusal() {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "fichier-refuse", "Fichier refusé", detail)
    } else {
        match e {
            UploadError::Db(db) => Problem::internal(&db),
            other => {
                tracing::error!(error = ?other, "storage failed (API document)");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "",
                    "Service momentanément indisponible",
                    other.to_string(),
                )
            }
        }
    }
}

/// 422 for a type the firm does not have, naming the ones it has.
async fn unknown_type(state: &AppState, actor: &ApiActor, code: &str) -> Problem {
    let codes: Vec<String> = types::list(&state.db, actor.tenant_id)
        .await
        .map(|l| l.into_iter().map(|t| t.code).collect())
        .unwrap_or_default();
    let detail = format!(
        "Le type de document « {code} » n'existe pas chez votre prestataire : indiquez l'un de ces codes : {}.",
        codes.join(", ")
    );
    let mut errors = BTreeMap::new();
    errors.insert("type".to_string(), detail.clone());
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "type-inconnu", "Type de document inconnu", detail)
        .with("errors", errors)
        .with("allowed_types", codes)
}

/// Files a document on a site of the token's client, or publishes it as a report or an invoice.
#[utoipa::path(
    post,
    path = "/api/v1/sites/{site_id}/documents",
    operation_id = "createSiteDocument",
    tag = "Documents",
    summary = "Déposer un document sur un chantier (ou publier un rapport, une facture)",
    description = "Dépose un document typé sur le chantier, avec les contrôles du dépôt sur le site (format \
        vérifié d'après le contenu : PDF, JPEG, PNG, XML sans DTD ; taille maximale). Un document de même \
        chantier, type et titre devient une nouvelle version. Sans `publish_as`, le prestataire est prévenu. \
        Avec `publish_as` (`report` ou `invoice`, PDF uniquement), le document est publié au client comme \
        par le bureau du prestataire : ses utilisateurs sont prévenus (les factures, seulement ceux qui \
        voient les factures) et une facture part aussitôt par e-mail, PDF joint, à l'adresse de facturation.",
    params(("site_id" = i64, Path, minimum = 1, description = "L'identifiant du site")),
    request_body(content = inline(super::schema::DocumentUpload), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Document déposé", body = DocumentOut,
            headers(("Location" = String, description = "/api/v1/documents/{id}"))),
        (status = 400, description = "Requête mal formée (pas de partie `file` ou `type`, paramètre invalide : `errors`)",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Pas de tel site pour ce client",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Fichier trop volumineux",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Le corps n'est pas en multipart/form-data",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Type de document inconnu (`allowed_types`) ou fichier refusé (format, \
            fichier vide ou incomplet, XML avec DTD, publication d'autre chose qu'un PDF)",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    actor: ApiActor,
    site_id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, Problem> {
    let site = site_of(&state, &actor, &segment(site_id)).await?;
    if !is_multipart(&headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "format-non-pris-en-charge",
            "Format non pris en charge",
            "Envoyez le document en multipart/form-data, dans une partie nommée « file », avec son type dans « type ».",
        ));
    }
    let multipart = multipart.map_err(|_| malformed())?;
    let max = state.config.max_upload_bytes;
    let form = read_upload(multipart, max).await?;

    let mut errors = form.errors.clone();
    let published = match form.publish_as.as_deref() {
        None => Published::No,
        Some(code) => match Published::parse(code) {
            Some(p @ (Published::Report | Published::Invoice)) => p,
            _ => {
                errors.insert(
                    "publish_as".to_string(),
                    format!("« {code} » n'est pas une valeur de publish_as : report ou invoice est attendu."),
                );
                Published::No
            }
        },
    };
    // As sent: a code with spaces is an unknown code (422, naming the firm's codes).
    let given_type = form.document_type.as_deref();
    if given_type == Some("") {
        errors.insert(
            "type".to_string(),
            "La partie « type » est vide : indiquez le code du type de document (plan, building_permit, photo…)."
                .to_string(),
        );
    }
    let document_type = match (given_type.filter(|t| !t.is_empty()), published) {
        (Some(t), _) => t.to_string(),
        (None, Published::Report) => types::REPORT.to_string(),
        (None, Published::Invoice) => types::INVOICE.to_string(),
        (None, Published::No) => {
            if form.publish_as.is_none() && given_type.is_none() {
                errors.insert(
                    "type".to_string(),
                    "La partie « type » manque : indiquez le code du type de document (plan, building_permit, photo…)."
                        .to_string(),
                );
            }
            String::new()
        }
    };
    // Counted as sent, as the document's `maxLength`; kept without its surrounding spaces.
    if form.title.as_deref().is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS) {
        errors.insert("title".to_string(), format!("Le titre ne doit pas dépasser {MAX_TITLE_CHARS} caractères."));
    }
    let title = form.title.as_deref().map(one_line).filter(|t| !t.is_empty());
    if form.xml.is_some() && published != Published::Invoice {
        errors.insert(
            "xml".to_string(),
            "Le fichier XML Factur-X ne s'ajoute qu'à une facture publiée (publish_as=invoice).".to_string(),
        );
    }
    let Some((file_name, bytes)) = form.file else {
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "fichier-manquant",
            "Fichier manquant",
            "La requête ne contient pas de partie « file » : joignez-y le document (PDF, JPEG, PNG ou XML).",
        );
        if !errors.is_empty() {
            p = p.with("errors", errors);
        }
        return Err(p);
    };
    if !errors.is_empty() {
        return Err(Problem::bad_params(errors));
    }
    {
        // No code holds U+0000, which PostgreSQL text cannot even be compared with.
        let known = !document_type.contains('\0') && {
            let mut tx = state.db.begin().await.map_err(|e| Problem::internal(&e))?;
            types::exists(&mut tx, actor.tenant_id, &document_type).await.map_err(|e| Problem::internal(&e))?
        };
        if !known {
            return Err(unknown_type(&state, &actor, &document_type).await);
        }
    }
    let checked = upload::check(&file_name, bytes, max).map_err(upload_problem)?;
    if published != Published::No && checked.kind != FileKind::Pdf {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "fichier-refuse",
            "Fichier refusé",
            format!(
                "Le fichier « {} » n'est pas un PDF : un rapport ou une facture se publie en PDF ({}).",
                checked.name,
                checked.kind.label()
            ),
        ));
    }
    let twin = match form.xml {
        None => None,
        Some((name, bytes)) => {
            let c = upload::check(&name, bytes, max).map_err(upload_problem)?;
            if c.kind != FileKind::Xml {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "fichier-refuse",
                    "Fichier refusé",
                    format!("Le fichier « {} » de la partie « xml » n'est pas un fichier XML (Factur-X CII).", c.name),
                ));
            }
            Some(c)
        }
    };
    let by = Depositor { who: actor.audit(), staff: false, api_token_id: Some(actor.token_id) };
    let d = Deposit { document_type: &document_type, title: title.as_deref(), published, requirement_id: None, twin };
    let done = match deposits::deposit(&state, &by, &site, d, checked).await {
        Ok(done) => done,
        Err(DepositError::Upload(e)) => return Err(upload_problem(e)),
        Err(DepositError::UnknownType(code)) => return Err(unknown_type(&state, &actor, &code).await),
        Err(DepositError::Db(e)) => return Err(Problem::internal(&e)),
    };
    let row = store::find_visible(&state.db, &reader(&actor), done.document.id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(document_not_found)?;
    let mut resp = (StatusCode::CREATED, Json(DocumentOut::from(&row))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/documents/{}", row.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

const LIST_PARAMS: [&str; 4] = ["type", "published_as", "page", "per_page"];

/// The list's filter, page and page size; 400 with a French message per wrong parameter.
fn criteria(query: &str) -> Result<(DocumentFilter, i64, i64), Problem> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if !LIST_PARAMS.contains(&k.as_ref()) {
            errors.insert(
                k.to_string(),
                format!("Paramètre inconnu « {k} » : les paramètres reconnus sont {}.", LIST_PARAMS.join(", ")),
            );
            continue;
        }
        if values.insert(k.to_string(), v.to_string()).is_some() {
            errors.insert(k.to_string(), format!("Le paramètre « {k} » est donné plusieurs fois."));
        }
    }
    // Read as sent, as the OpenAPI document describes them: an empty `type` is no filter, an
    // empty value of another parameter a wrong one.
    let get = |k: &str| values.get(k).map(String::as_str);
    let mut filter = DocumentFilter { sort: DocumentSort::Newest, ..DocumentFilter::default() };
    filter.document_type = get("type").filter(|t| !t.is_empty()).map(str::to_string);
    if let Some(p) = get("published_as") {
        match Published::parse(p) {
            Some(p @ (Published::Report | Published::Invoice)) => filter.published = Some(p),
            _ => {
                errors.insert("published_as".into(), format!("« {p} » : report ou invoice est attendu."));
            }
        }
    }
    let mut number = |key: &'static str, default: i64, max: i64| -> i64 {
        match get(key) {
            None => default,
            Some(raw) => match whole_number(raw) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.insert(key.into(), format!("« {raw} » : un nombre entier de 1 à {max} est attendu."));
                    default
                }
            },
        }
    };
    let page = number("page", 1, 1_000_000);
    let per_page = number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE);
    if errors.is_empty() { Ok((filter, page, per_page)) } else { Err(Problem::bad_params(errors)) }
}

/// The parameters of the list (all optional), for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters; `criteria` reads them
pub struct ListParams {
    /// Only documents of this type code.
    r#type: Option<String>,
    #[param(schema_with = published_schema)]
    published_as: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<i64>,
    /// Documents per page, 1 to 500 (default 200).
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

fn published_schema() -> utoipa::openapi::Object {
    string_enum("`report` or `invoice`: only what the firm published as such.", &["report", "invoice"])
}

/// The current documents of a site of the token's client, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/documents",
    operation_id = "listSiteDocuments",
    tag = "Documents",
    summary = "Lister les documents d'un chantier",
    description = "La version en cours de chaque document du chantier, les plus récents d'abord. L'en-tête \
        `X-Total-Count` donne le nombre de documents qui répondent aux filtres.",
    params(("site_id" = i64, Path, minimum = 1, description = "L'identifiant du site"), ListParams),
    responses(
        (status = 200, description = "Les documents", body = Vec<DocumentOut>,
            headers(("X-Total-Count" = i64, description = "Nombre total de documents qui répondent aux filtres"))),
        (status = 400, description = "Paramètre invalide (`errors`)",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Pas de tel site pour ce client",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    site_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let site = site_of(&state, &actor, &segment(site_id)).await?;
    let (mut filter, page, per_page) = criteria(query.as_deref().unwrap_or_default())?;
    filter.site = Some(site.id);
    let offset = (page - 1).saturating_mul(per_page);
    // No code holds U+0000 (which PostgreSQL text cannot even be compared with): nothing matches.
    let (rows, total) = if filter.document_type.as_deref().is_some_and(|t| t.contains('\0')) {
        (Vec::new(), 0)
    } else {
        store::search(&state.db, &reader(&actor), &filter, per_page, offset).await.map_err(|e| Problem::internal(&e))?
    };
    let items: Vec<DocumentOut> = rows.iter().map(DocumentOut::from).collect();
    let mut resp = Json(items).into_response();
    resp.headers_mut().insert("x-total-count", HeaderValue::from(total));
    Ok(resp)
}

/// A title as lists show it: control characters (line breaks, U+0000…) become spaces.
fn one_line(raw: &str) -> String {
    raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

async fn visible(state: &AppState, actor: &ApiActor, raw: &str) -> Result<DocumentRow, Problem> {
    let id = positive_id(raw).ok_or_else(document_not_found)?;
    store::find_visible(&state.db, &reader(actor), DocumentId(id))
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(document_not_found)
}

/// One document of the token's client.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    operation_id = "getDocument",
    tag = "Documents",
    summary = "Lire un document",
    params(("id" = i64, Path, minimum = 1, description = "L'identifiant du document")),
    responses(
        (status = 200, description = "Le document", body = DocumentOut),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Pas de tel document pour ce client",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    actor: ApiActor,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DocumentOut>, Problem> {
    let row = visible(&state, &actor, &segment(id)).await?;
    Ok(Json(DocumentOut::from(&row)))
}

/// The bytes of a document of the token's client.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}/content",
    operation_id = "getDocumentContent",
    tag = "Documents",
    summary = "Télécharger le contenu d'un document",
    description = "Le fichier tel qu'il a été déposé, avec son type (`Content-Type`) et son nom \
        (`Content-Disposition`). Le télécharger par l'API ne le marque pas comme lu par le client.",
    params(("id" = i64, Path, minimum = 1, description = "L'identifiant du document")),
    responses(
        (status = 200, description = "Le contenu du fichier",
            content(
                ([u8] = "application/pdf"),
                ([u8] = "image/jpeg"),
                ([u8] = "image/png"),
                ([u8] = "application/xml")
            ),
            headers(
                ("Content-Disposition" = String, description = "attachment; filename=\"…\""),
                ("Content-Length" = i64, description = "Taille en octets")
            )),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Pas de tel document pour ce client, ou contenu introuvable",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "Stockage des fichiers indisponible",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn content(
    State(state): State<AppState>,
    actor: ApiActor,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let row = visible(&state, &actor, &segment(id)).await?;
    let bytes = match state.files.get(&row.sha256).await {
        Ok(b) => b,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::error!(document_id = row.id.0, sha256 = %row.sha256, "stored bytes are missing (API)");
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "contenu-introuvable",
                "Contenu introuvable",
                "Le contenu de ce document est introuvable sur le serveur : prévenez votre prestataire.",
            ));
        }
        Err(e) => {
            tracing::error!(document_id = row.id.0, error = %e, "file storage unavailable (API)");
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "",
                "Service momentanément indisponible",
                format!(
                    "Le stockage des fichiers ne répond pas ({} à télécharger). Réessayez dans quelques instants.",
                    fr_size(row.size_bytes)
                ),
            ));
        }
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    let ct = HeaderValue::from_str(&row.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(false, &row.original_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_criteria_are_read_and_checked() {
        let (f, page, per) = criteria("type=plan&published_as=report&page=2&per_page=10").unwrap();
        assert_eq!(f.document_type.as_deref(), Some("plan"));
        assert_eq!(f.published, Some(Published::Report));
        assert_eq!((page, per), (2, 10));
        let p = criteria("published_as=devis&per_page=9999&couleur=rouge").unwrap_err();
        let errors = &p.extensions["errors"];
        for key in ["published_as", "per_page", "couleur"] {
            assert!(errors[key].is_string(), "{key}: {errors}");
        }
    }
}
