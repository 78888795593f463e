//! Depositing documents on a site: the "Dépôt de documents" form (several files at once, one
//! type for the batch), and [`deposit`], the one path every document takes (web form, API,
//! published reports and invoices, signed justificatifs): content checked, bytes stored first,
//! then the file row, the document (a new version when the same type and name exist), the
//! requirement it fulfils, the audit record and the notification in one transaction.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ouvrage_pdfsign::SignError;

use super::pages::{SiteFormState, site_page};
use super::store::{self, Inserted, NewDocument, Published};
use super::{requirements, types};
use crate::app::AppState;
use crate::domain::{ClientId, DocumentId, FileId, UserId};
use crate::features::audit::{self, AuditActor};
use crate::features::clients::ui::positive_id;
use crate::features::files::multipart::read_form;
use crate::features::files::upload::{self, CheckedUpload, UploadError};
use crate::features::notifications::{self, Audience, Event};
use crate::features::sites::store::SiteRow;
use crate::features::sites::{Area, list as site_list};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

/// Who deposits: a user of either face, or an integrator's API token (acting for its client).
#[derive(Clone, Debug)]
pub struct Depositor {
    pub who: AuditActor,
    pub staff: bool,
    pub api_token_id: Option<i64>,
}

impl Depositor {
    pub fn user(actor: &Actor) -> Depositor {
        Depositor { who: actor.into(), staff: actor.is_staff(), api_token_id: None }
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.who.user_id
    }
}

/// What is deposited besides the bytes.
#[derive(Clone, Debug)]
pub struct Deposit<'a> {
    pub document_type: &'a str,
    /// The title lists show; the file's cleaned name when empty.
    pub title: Option<&'a str>,
    pub published: Published,
    /// The requirement the depositor says this document answers (the site's requirements of
    /// the same type are fulfilled anyway).
    pub requirement_id: Option<i64>,
    /// The XML twin of an invoice (Factur-X), already checked.
    pub twin: Option<CheckedUpload>,
}

#[derive(Clone, Debug)]
pub struct Deposited {
    pub document: Inserted,
    pub file_id: FileId,
    pub sha256: String,
    pub title: String,
    pub size_bytes: i64,
}

/// Why a deposit failed: the file itself (shown to the user), an unknown type, or storage.
#[derive(Debug)]
pub enum DepositError {
    Upload(UploadError),
    UnknownType(String),
    Db(sqlx::Error),
}

impl std::fmt::Display for DepositError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DepositError::Upload(e) => e.fmt(f),
            DepositError::UnknownType(t) if t.is_empty() => {
                write!(f, "Choisissez le type des documents déposés (plan, permis de construire, photo…).")
            }
            DepositError::UnknownType(t) => write!(
                f,
                "Le type de document « {t} » n'existe pas : choisissez un type de la liste (plan, permis de construire, photo…)."
            ),
            DepositError::Db(_) => {
                write!(
                    f,
                    "La base de données ne répond pas : le document n'a pas été enregistré. Réessayez dans quelques instants."
                )
            }
        }
    }
}

impl From<UploadError> for DepositError {
    fn from(e: UploadError) -> Self {
        DepositError::Upload(e)
    }
}

impl From<sqlx::Error> for DepositError {
    fn from(e: sqlx::Error) -> Self {
        DepositError::Db(e)
    }
}

impl DepositError {
    /// The user can fix it (another file, another type): the form comes back with the message.
    pub fn is_refusal(&self) -> bool {
        match self {
            DepositError::Upload(e) => e.is_refusal(),
            DepositError::UnknownType(_) => true,
            DepositError::Db(_) => false,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            DepositError::Upload(e) => e.status(),
            DepositError::UnknownType(_) => StatusCode::UNPROCESSABLE_ENTITY,
            DepositError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<DepositError> for AppError {
    fn from(e: DepositError) -> Self {
        match e {
            DepositError::Upload(u) => u.into(),
            DepositError::Db(db) => db.into(),
            refused => AppError::BadRequest(refused.to_string()),
        }
    }
}

/// Checks a PDF opens (a page count can be read), on top of the content sniffing of every
/// upload: a damaged PDF is refused at the door rather than discovered by the client.
pub fn check_pdf_opens(checked: &CheckedUpload) -> Result<(), UploadError> {
    if checked.kind != crate::features::files::FileKind::Pdf {
        return Ok(());
    }
    match ouvrage_pdfsign::page_count(&checked.bytes) {
        Ok(_) => Ok(()),
        Err(e) => {
            let reason = match e {
                SignError::PasswordProtected => "il est protégé par un mot de passe.",
                SignError::NoPages => "il ne contient aucune page.",
                _ => "son contenu est endommagé ou illisible.",
            };
            Err(UploadError::UnreadablePdf { name: checked.name.clone(), reason: reason.to_string() })
        }
    }
}

/// Files one checked upload as a document of `site`. The bytes reach the store before any row;
/// everything else is one transaction, so a failure leaves no row (and the sweep removes the
/// bytes nobody points to).
pub async fn deposit(
    state: &AppState,
    by: &Depositor,
    site: &SiteRow,
    deposit: Deposit<'_>,
    checked: CheckedUpload,
) -> Result<Deposited, DepositError> {
    deposit_at(state, by, site.client_id, Some(site), deposit, checked).await
}

/// Like [`deposit`] for a document of the client as a whole, on no site (files the firm shares
/// with the company from its client page). It cannot be published nor fulfil a requirement.
pub async fn deposit_general(
    state: &AppState,
    by: &Depositor,
    client: ClientId,
    deposit: Deposit<'_>,
    checked: CheckedUpload,
) -> Result<Deposited, DepositError> {
    let general = Deposit { published: Published::No, requirement_id: None, ..deposit };
    deposit_at(state, by, client, None, general, checked).await
}

async fn deposit_at(
    state: &AppState,
    by: &Depositor,
    client: ClientId,
    site: Option<&SiteRow>,
    deposit: Deposit<'_>,
    checked: CheckedUpload,
) -> Result<Deposited, DepositError> {
    let stored = store_bytes(state, by, deposit, checked).await?;
    let mut tx = state.db.begin().await?;
    let done = write_rows(&mut tx, state, by, client, site, stored).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(done)
}

/// A deposit checked and its bytes in the store, waiting for its rows ([`write_rows`]).
pub struct StoredDeposit<'a> {
    document_type: &'a str,
    published: Published,
    requirement_id: Option<i64>,
    type_label: String,
    title: String,
    stored: upload::StoredUpload,
    twin: Option<upload::StoredUpload>,
}

/// The first half of [`deposit`]: the checks, then the bytes put in the store; no row yet. A
/// caller that must write its own rows atomically with the document's (a signature) then calls
/// [`write_rows`] in its transaction.
pub async fn store_bytes<'a>(
    state: &AppState,
    by: &Depositor,
    deposit: Deposit<'a>,
    checked: CheckedUpload,
) -> Result<StoredDeposit<'a>, DepositError> {
    check_pdf_opens(&checked)?;
    let type_label = {
        let mut tx = state.db.begin().await?;
        types::label(&mut tx, by.who.tenant_id, deposit.document_type).await?
    };
    let Some(type_label) = type_label else {
        return Err(DepositError::UnknownType(deposit.document_type.to_string()));
    };
    let title = deposit.title.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let title = title.unwrap_or_else(|| checked.name.clone());
    let stored = upload::put_bytes(&state.files, checked).await?;
    let twin = match deposit.twin {
        Some(t) => Some(upload::put_bytes(&state.files, t).await?),
        None => None,
    };
    Ok(StoredDeposit {
        document_type: deposit.document_type,
        published: deposit.published,
        requirement_id: deposit.requirement_id,
        type_label,
        title,
        stored,
        twin,
    })
}

/// The second half of [`deposit`]: the file row, the document, the requirement it fulfils, the
/// audit record and the notification, in the caller's transaction (the caller commits, then
/// wakes the mailer).
pub async fn write_rows(
    tx: &mut crate::db::Tx,
    state: &AppState,
    by: &Depositor,
    client: ClientId,
    site: Option<&SiteRow>,
    deposit: StoredDeposit<'_>,
) -> Result<Deposited, DepositError> {
    let tenant = by.who.tenant_id;
    let StoredDeposit { document_type, published, requirement_id, type_label, title, stored, twin } = deposit;
    let file_id = upload::insert_generated_file(tx, by.who.clone(), Some(client), &stored).await?;
    let twin_file_id = match &twin {
        Some(t) => Some(upload::insert_generated_file(tx, by.who.clone(), Some(client), t).await?),
        None => None,
    };
    let new = NewDocument {
        tenant_id: tenant,
        client_id: client,
        site_id: site.map(|s| s.id),
        file_id,
        document_type,
        title: &title,
        created_by: by.user_id(),
        api_token_id: by.api_token_id,
        published,
        twin_file_id,
    };
    let inserted = store::insert(tx, &new).await?;
    let place = match site {
        Some(site) => format!("sur « {} »", site.name),
        None => "pour le client".to_string(),
    };
    let summary = if inserted.version > 1 {
        format!("Document « {title} » ({type_label}) déposé {place} : version {}", inserted.version)
    } else {
        format!("Document « {title} » ({type_label}) déposé {place}")
    };
    audit::record(tx, by.who.clone(), "create", "document", Some(inserted.id.0), &summary).await?;
    match site {
        Some(site) => {
            requirements::on_document_added(tx, tenant, site, document_type, inserted.id, requirement_id, by.user_id())
                .await?;
            if published == Published::No {
                announce_deposit(tx, by, client, &site.name, inserted.id, &title).await?;
            } else {
                super::published::announce(
                    tx,
                    state,
                    super::published::Announcement {
                        tenant,
                        site,
                        document_id: inserted.id,
                        file_id,
                        title: &title,
                        published,
                    },
                )
                .await?;
            }
        }
        None => announce_deposit(tx, by, client, "", inserted.id, &title).await?,
    }
    Ok(Deposited { document: inserted, file_id, sha256: stored.sha256, title, size_bytes: stored.size_bytes })
}

/// A new document on a site tells the other side: the client's users when the firm deposits
/// it, the office when the client (or its software) does.
async fn announce_deposit(
    tx: &mut crate::db::Tx,
    by: &Depositor,
    client: ClientId,
    site_name: &str,
    id: DocumentId,
    title: &str,
) -> Result<(), sqlx::Error> {
    let (audience, link) = if by.staff {
        (Audience::ClientUsers { client, permission: None }, format!("/espace/documents/{id}"))
    } else {
        (Audience::Office, format!("/bo/documents/{id}"))
    };
    let event = Event {
        tenant_id: by.who.tenant_id,
        client_id: Some(client),
        kind: "new_document",
        event_key: format!("document:{id}"),
        title: if site_name.is_empty() {
            format!("Nouveau document : {title}")
        } else {
            format!("Nouveau document sur « {site_name} » : {title}")
        },
        link,
        site_label: site_name.to_string(),
    };
    notifications::notify(tx, &event, audience).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The "Dépôt de documents" form

async fn upload(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw_id: &str,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let site = site_list::load(state, actor, raw_id).await?;
    if !super::pages::can_upload(actor, &site) {
        return Err(AppError::Forbidden);
    }
    let max = state.config.max_upload_bytes;
    let form = read_form(
        multipart,
        max,
        "Le formulaire d'envoi n'a pas été reçu correctement : choisissez les fichiers puis renvoyez-le.",
    )
    .await;
    let doc_type = form.text("type").to_string();
    let requirement = positive_id(form.text("requirement"));
    let (mut errors, mut status, files) = (form.errors, form.status, form.files);
    let mut added: Vec<String> = Vec::new();
    if files.is_empty() && errors.is_empty() {
        errors.push("Choisissez au moins un fichier à déposer.".into());
    }
    let by = Depositor::user(actor);
    // Nothing is filed when the type is missing: the user picks it and sends the files again.
    let type_ok = {
        let mut tx = state.db.begin().await?;
        types::exists(&mut tx, actor.tenant_id, &doc_type).await?
    };
    if !type_ok && !files.is_empty() {
        errors.push(DepositError::UnknownType(doc_type.clone()).to_string());
    } else {
        for part in files {
            let checked = match upload::check(&part.name, part.bytes, max) {
                Ok(c) => c,
                Err(e) => {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        status = StatusCode::PAYLOAD_TOO_LARGE;
                    }
                    errors.push(e.to_string());
                    continue;
                }
            };
            let d = Deposit {
                document_type: &doc_type,
                title: None,
                published: Published::No,
                requirement_id: requirement,
                twin: None,
            };
            match deposit(state, &by, &site, d, checked).await {
                Ok(done) => added.push(done.title),
                Err(e) if e.is_refusal() => {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        status = StatusCode::PAYLOAD_TOO_LARGE;
                    }
                    errors.push(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    if errors.is_empty() {
        return Ok(Redirect::to(&format!("{}/{}/documents?msg=depose", area.base(), site.id)).into_response());
    }
    let form = SiteFormState { chosen_type: doc_type, added, errors };
    let page = site_page(state, ctx, actor, area, site, None, form).await?;
    Ok((status, render(&page)?).into_response())
}

pub async fn bo_upload(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    upload(&state, ctx, &actor, Area::Bo, &id, multipart).await
}

pub async fn espace_upload(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    upload(&state, ctx, &actor, Area::Espace, &id, multipart).await
}
