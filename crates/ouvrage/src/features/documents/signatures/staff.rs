//! The firm's side: putting a PDF up for signature on a site (a new file, or one of the site's
//! PDFs), cancelling, the list of requests and a request's page with its evidence log.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use serde::Deserialize;

use super::store::{self, NewEvidence, NewRequest, RequestRow, StatusFilter};
use super::{ANCHORS, RequestItem, Status, anchor_label, can_manage, event_label, is_pdf, paris_timestamp, user_agent};
use crate::app::AppState;
use crate::domain::time::now_ms;
use crate::domain::{DocumentId, Permission, Permissions, UserId};
use crate::features::audit;
use crate::features::clients::ui::{parse_id, positive_id};
use crate::features::documents::store::{self as documents, DocumentFilter, DocumentSort, Published};
use crate::features::documents::types::SUPPORTING;
use crate::features::documents::upload::{Deposit, Depositor, deposit};
use crate::features::files::kind::FileKind;
use crate::features::files::multipart::read_form;
use crate::features::files::upload::{self, CheckedUpload};
use crate::features::notifications::{self, Audience, Event};
use crate::features::sites::list as site_list;
use crate::features::sites::store::SiteRow;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

/// The longest title kept.
const MAX_TITLE_CHARS: usize = 200;

pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The "Mettre un document à signer" form, blank or as sent back with its errors.
pub struct RequestForm {
    pub action: String,
    pub documents: Vec<Choice>,
    pub users: Vec<Choice>,
    pub anchors: Vec<Choice>,
    pub title: String,
    pub document: String,
    pub signer: String,
    pub page: String,
    pub anchor: String,
    pub errors: Vec<String>,
}

impl RequestForm {
    pub async fn blank(state: &AppState, actor: &Actor, site: &SiteRow, csrf: &str) -> AppResult<RequestForm> {
        RequestForm::with(state, actor, site, csrf, FormInput::default(), Vec::new()).await
    }

    async fn with(
        state: &AppState,
        actor: &Actor,
        site: &SiteRow,
        csrf: &str,
        input: FormInput,
        errors: Vec<String>,
    ) -> AppResult<RequestForm> {
        let filter = DocumentFilter { site: Some(site.id), sort: DocumentSort::Title, ..DocumentFilter::default() };
        let (docs, _) = documents::search(&state.db, actor, &filter, 500, 0).await?;
        let users = store::client_users(&state.db, actor.tenant_id, site.client_id).await?;
        Ok(RequestForm {
            action: format!("/bo/chantiers/{}/signatures?_csrf={csrf}", site.id),
            documents: docs
                .into_iter()
                .filter(|d| is_pdf(&d.content_type))
                .map(|d| Choice { value: d.id.to_string(), label: format!("{} ({})", d.title, d.original_name) })
                .collect(),
            users: users
                .into_iter()
                .map(|u| {
                    let on_screen = if Permissions::parse(&u.permissions).has(Permission::SignElectronically) {
                        " — peut signer électroniquement"
                    } else {
                        " — signature papier seulement"
                    };
                    Choice { value: u.id.to_string(), label: format!("{} <{}>{on_screen}", u.full_name, u.email) }
                })
                .collect(),
            anchors: ANCHORS.iter().map(|(c, l, _)| Choice { value: c.to_string(), label: l.to_string() }).collect(),
            title: input.title,
            document: input.document,
            signer: input.signer,
            page: input.page,
            anchor: if input.anchor.is_empty() { "bottom_right".into() } else { input.anchor },
            errors,
        })
    }
}

#[derive(Template)]
#[template(path = "signatures/new.html")]
pub struct NewPage {
    pub ctx: Ctx,
    pub site_name: String,
    pub site_url: String,
    pub form: RequestForm,
}

async fn new_request_page(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    site: &SiteRow,
    input: FormInput,
    errors: Vec<String>,
) -> AppResult<NewPage> {
    let form = RequestForm::with(state, actor, site, &ctx.csrf, input, errors).await?;
    Ok(NewPage {
        ctx: ctx.with_nav("sites"),
        site_name: site.name.clone(),
        site_url: format!("/bo/chantiers/{}", site.id),
        form,
    })
}

pub async fn new_page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let site = site_list::load(&state, &actor, &id).await?;
    if !can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let page = new_request_page(&state, ctx, &actor, &site, FormInput::default(), Vec::new()).await?;
    Ok(render(&page)?.into_response())
}

/// The form as sent (kept to show it again).
#[derive(Default)]
struct FormInput {
    title: String,
    document: String,
    signer: String,
    page: String,
    anchor: String,
}

/// The PDF to sign, once checked: a new file to deposit, or a document already on the site.
enum Original {
    New(CheckedUpload),
    Existing { id: DocumentId, sha256: String, title: String },
}

struct Checked {
    original: Original,
    title: String,
    signer: Option<UserId>,
    stamp_page: Option<i64>,
    anchor: String,
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let site = site_list::load(&state, &actor, &id).await?;
    if !can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let read = read_form(
        multipart,
        state.config.max_upload_bytes,
        "Le formulaire n'a pas été reçu correctement : renvoyez-le.",
    )
    .await;
    let input = FormInput {
        title: read.text("title").to_string(),
        document: read.text("document").to_string(),
        signer: read.text("signer").to_string(),
        page: read.text("page").to_string(),
        anchor: read.text("anchor").to_string(),
    };
    let file: Option<(String, Bytes)> = read.files.into_iter().last().map(|f| (f.name, f.bytes));
    let (mut errors, status) = (read.errors, read.status);
    let checked = if errors.is_empty() {
        match check(&state, &actor, &site, &input, file).await? {
            Ok(c) => Some(c),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        }
    } else {
        None
    };
    let Some(checked) = checked else {
        let page = new_request_page(&state, ctx, &actor, &site, input, errors).await?;
        return Ok((status, render(&page)?).into_response());
    };

    let (document_id, sha256) = match checked.original {
        Original::New(upload) => {
            let d = Deposit {
                document_type: SUPPORTING,
                title: Some(&checked.title),
                published: Published::No,
                requirement_id: None,
                twin: None,
            };
            let done = deposit(&state, &Depositor::user(&actor), &site, d, upload).await?;
            (done.document.id, done.sha256)
        }
        Original::Existing { id, sha256, .. } => (id, sha256),
    };
    let now = now_ms();
    let signer_label = match checked.signer {
        Some(uid) => store::client_users(&state.db, actor.tenant_id, site.client_id)
            .await?
            .into_iter()
            .find(|u| u.id == uid)
            .map(|u| format!("Signataire : {} <{}>", u.full_name, u.email))
            .unwrap_or_default(),
        None => "Signataire : tout utilisateur habilité du client".to_string(),
    };
    let mut tx = state.db.begin().await?;
    let new = NewRequest {
        tenant_id: actor.tenant_id,
        client_id: site.client_id,
        site_id: site.id,
        document_id,
        title: &checked.title,
        signer_user_id: checked.signer,
        stamp_page: checked.stamp_page,
        anchor: &checked.anchor,
        original_sha256: &sha256,
        created_by: actor.user_id,
        created_at: now,
    };
    let request = store::insert(&mut tx, &new).await?;
    let placement = format!(
        "{signer_label} ; signature : {}, {}",
        checked.stamp_page.map(|p| format!("page {p}")).unwrap_or_else(|| "dernière page".into()),
        anchor_label(&checked.anchor).to_lowercase()
    );
    let ua = user_agent(&headers);
    let label = actor.label();
    let evidence = NewEvidence {
        tenant_id: actor.tenant_id,
        request_id: request,
        event: "requested",
        user_id: Some(actor.user_id),
        user_label: &label,
        ip: &actor.ip,
        user_agent: &ua,
        sha256: &sha256,
        detail: &placement,
        at: now,
    };
    store::add_evidence(&mut tx, &evidence).await?;
    let event = Event {
        tenant_id: actor.tenant_id,
        client_id: Some(site.client_id),
        kind: "signature_requested",
        event_key: format!("signature:{request}"),
        title: format!("Document à signer sur « {} » : {}", site.name, checked.title),
        link: "/espace/signatures".to_string(),
        site_label: site.name.clone(),
    };
    let audience = match checked.signer {
        Some(uid) => Audience::User(uid),
        None => Audience::ClientUsers { client: site.client_id, permission: None },
    };
    notifications::notify(&mut tx, &event, audience).await?;
    let summary = format!("Document « {} » mis à signer sur « {} »", checked.title, site.name);
    audit::record(&mut tx, &actor, "create", "signature_request", Some(request), &summary).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&format!("/bo/chantiers/{}/documents?msg=signature", site.id)).into_response())
}

/// Validates the form: one PDF that opens, the stamp's page within it, a known anchor, a signer
/// among the client's active users. `Ok(Err(messages))` sends the form back.
async fn check(
    state: &AppState,
    actor: &Actor,
    site: &SiteRow,
    input: &FormInput,
    file: Option<(String, Bytes)>,
) -> AppResult<Result<Checked, Vec<String>>> {
    let mut errors = Vec::new();
    let existing = if input.document.is_empty() {
        None
    } else {
        let id = positive_id(&input.document).unwrap_or(-1);
        match documents::find_visible(&state.db, actor, DocumentId(id)).await? {
            Some(d) if d.site_id == Some(site.id) && is_pdf(&d.content_type) => Some(d),
            _ => {
                errors.push(
                    "Le document choisi n'est pas un PDF de ce chantier : choisissez-en un dans la liste.".into(),
                );
                None
            }
        }
    };
    let (original, bytes) = match (file, existing) {
        (Some(_), Some(_)) => {
            errors.push("Déposez un fichier ou choisissez un document du chantier, pas les deux.".into());
            return Ok(Err(errors));
        }
        (Some((name, bytes)), None) => match upload::check(&name, bytes, state.config.max_upload_bytes) {
            Ok(c) if c.kind == FileKind::Pdf => {
                let bytes = c.bytes.clone();
                (Original::New(c), bytes)
            }
            Ok(c) => {
                errors.push(format!("Le document à signer doit être un PDF : « {} » n'en est pas un.", c.name));
                return Ok(Err(errors));
            }
            Err(e) if e.is_refusal() => {
                errors.push(e.to_string());
                return Ok(Err(errors));
            }
            Err(e) => return Err(e.into()),
        },
        (None, Some(d)) => {
            let bytes = state.files.get(&d.sha256).await.map_err(|e| {
                tracing::error!(error = %e, document = d.id.0, "original bytes unavailable");
                AppError::Unavailable
            })?;
            (Original::Existing { id: d.id, sha256: d.sha256.clone(), title: d.title.clone() }, bytes)
        }
        (None, None) => {
            if errors.is_empty() {
                errors.push(
                    "Choisissez le PDF à faire signer : déposez un fichier ou choisissez un document du chantier."
                        .into(),
                );
            }
            return Ok(Err(errors));
        }
    };
    let pages = match ouvrage_pdfsign::page_count(&bytes) {
        Ok(n) => n,
        Err(e) => {
            errors.push(e.to_string());
            return Ok(Err(errors));
        }
    };
    let stamp_page = if input.page.is_empty() {
        None
    } else {
        match input.page.parse::<i64>() {
            Ok(n) if n >= 1 && n <= i64::from(pages) => Some(n),
            Ok(n) => {
                errors.push(format!("La page {n} n'existe pas : ce document en compte {pages}."));
                None
            }
            Err(_) => {
                errors
                    .push("La page de la signature est un numéro (1, 2…) ; laissez vide pour la dernière page.".into());
                None
            }
        }
    };
    let anchor = if input.anchor.is_empty() { "bottom_right".to_string() } else { input.anchor.clone() };
    if super::anchor_of(&anchor).is_none() {
        errors.push("Choisissez l'emplacement de la signature dans la liste.".into());
    }
    let signer = if input.signer.is_empty() {
        None
    } else {
        let users = store::client_users(&state.db, actor.tenant_id, site.client_id).await?;
        match input.signer.parse::<i64>().ok().and_then(|v| users.iter().find(|u| u.id.0 == v)) {
            Some(u) => Some(u.id),
            None => {
                errors.push("Le signataire choisi n'est pas un utilisateur actif de ce client.".into());
                None
            }
        }
    };
    let default_title = match &original {
        Original::New(c) => c.name.trim_end_matches(".pdf").to_string(),
        Original::Existing { title, .. } => title.clone(),
    };
    let title = if input.title.is_empty() { default_title } else { input.title.clone() };
    if title.chars().count() > MAX_TITLE_CHARS {
        errors.push(format!("Le titre compte {MAX_TITLE_CHARS} caractères au plus."));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(Checked { original, title, signer, stamp_page, anchor }))
}

// ---------------------------------------------------------------------------------------------
// Cancelling

pub async fn cancel(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let req = find(&state, &actor, &id).await?;
    if !can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if !store::cancel(&mut tx, actor.tenant_id, req.id, now).await? {
        return Ok(not_pending());
    }
    let ua = user_agent(&headers);
    let label = actor.label();
    let evidence = NewEvidence {
        tenant_id: actor.tenant_id,
        request_id: req.id,
        event: "cancelled",
        user_id: Some(actor.user_id),
        user_label: &label,
        ip: &actor.ip,
        user_agent: &ua,
        sha256: &req.original_sha256,
        detail: "",
        at: now,
    };
    store::add_evidence(&mut tx, &evidence).await?;
    let summary = format!("Signature de « {} » annulée", req.title);
    audit::record(&mut tx, &actor, "update", "signature_request", Some(req.id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/signatures/{}?msg=annule", req.id)).into_response())
}

/// The answer to an action on a request that is no longer pending.
pub fn not_pending() -> Response {
    crate::http::error::error_page(
        StatusCode::CONFLICT,
        "Justificatif déjà traité",
        "Ce justificatif n'est plus à signer : il a déjà été signé ou sa signature a été annulée.",
    )
}

async fn find(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<RequestRow> {
    let id = parse_id(raw_id)?;
    store::find(&state.db, actor, id).await?.ok_or(AppError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// The back-office list and a request's page

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    statut: String,
}

pub struct StatusChoice {
    pub code: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "signatures/bo_list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub items: Vec<RequestItem>,
    pub statuses: Vec<StatusChoice>,
    pub statut: String,
    pub limit: i64,
}

pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let status = Status::parse(q.statut.trim());
    let filter = status.map(StatusFilter::Only).unwrap_or(StatusFilter::All);
    let rows = store::list(&state.db, &actor, None, filter).await?;
    let page = ListPage {
        items: rows.iter().map(|r| RequestItem::of(r, &actor, &ctx.csrf)).collect(),
        statuses: Status::ALL.into_iter().map(|s| StatusChoice { code: s.code(), label: s.label() }).collect(),
        statut: status.map(|s| s.code().to_string()).unwrap_or_default(),
        limit: store::LIST_LIMIT,
        ctx: ctx.with_nav("signatures"),
    };
    Ok(render(&page)?.into_response())
}

pub struct EvidenceItem {
    pub event: &'static str,
    pub code: String,
    pub who: String,
    pub when: String,
    pub ip: String,
    pub user_agent: String,
    pub sha256: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "signatures/bo_detail.html")]
pub struct DetailPage {
    pub ctx: Ctx,
    pub item: RequestItem,
    pub original_url: String,
    pub signed_page_url: String,
    pub original_sha256: String,
    pub placement: String,
    pub created_by: String,
    pub signed_by: String,
    pub can_cancel: bool,
    pub evidence: Vec<EvidenceItem>,
    pub notice: &'static str,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    msg: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Response> {
    let req = find(&state, &actor, &id).await?;
    let evidence = store::evidence(&state.db, actor.tenant_id, req.id).await?;
    let item = RequestItem::of(&req, &actor, &ctx.csrf);
    let page = DetailPage {
        original_url: format!("/bo/documents/{}", req.document_id),
        signed_page_url: req.signed_document_id.map(|d| format!("/bo/documents/{d}")).unwrap_or_default(),
        original_sha256: req.original_sha256.clone(),
        placement: format!(
            "{}, {}",
            req.stamp_page.map(|p| format!("page {p}")).unwrap_or_else(|| "dernière page".into()),
            anchor_label(&req.anchor).to_lowercase()
        ),
        created_by: req.created_by_name.clone().unwrap_or_default(),
        signed_by: if req.status == Status::Signed.code() {
            req.signed_by_name.clone().unwrap_or_default()
        } else {
            String::new()
        },
        can_cancel: item.pending && can_manage(&actor),
        evidence: evidence
            .into_iter()
            .map(|e| EvidenceItem {
                event: event_label(&e.event),
                code: e.event,
                who: e.user_label,
                when: paris_timestamp(e.created_at),
                ip: e.ip,
                user_agent: e.user_agent,
                sha256: e.sha256,
                detail: e.detail,
            })
            .collect(),
        notice: match q.msg.as_deref() {
            Some("annule") => "Signature annulée : le client ne peut plus signer ce document.",
            _ => "",
        },
        item,
        ctx: ctx.with_nav("signatures"),
    };
    Ok(render(&page)?.into_response())
}
