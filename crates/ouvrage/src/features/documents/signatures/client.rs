//! The client's side: "Justificatifs à signer" (pending first, then signed), the original's
//! download and the paper path (sign by hand, upload the scan). Every request of the company is
//! visible to its users; one naming a user is signable by that user only.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::staff::not_pending;
use super::store::{self, Claim, NewEvidence, RequestRow, StatusFilter};
use super::{RequestItem, Status, in_signer_scope, user_agent};
use crate::app::AppState;
use crate::domain::time::now_ms;
use crate::features::audit;
use crate::features::clients::ui::parse_id;
use crate::features::documents::store::Published;
use crate::features::documents::types::SUPPORTING;
use crate::features::documents::upload::{Deposit, Depositor, StoredDeposit, store_bytes, write_rows};
use crate::features::files::kind::FileKind;
use crate::features::files::multipart::read_form;
use crate::features::files::serve_stored;
use crate::features::files::upload;
use crate::features::notifications::{self, Audience, Event};
use crate::features::sites::list as site_list;
use crate::features::sites::store::SiteRow;
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, render};

#[derive(Template)]
#[template(path = "signatures/espace_list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub pending: Vec<RequestItem>,
    pub done: Vec<RequestItem>,
    pub notice: &'static str,
    pub can_sign_on_screen: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    msg: Option<String>,
}

async fn list_page(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    notice: &'static str,
    error: Option<(i64, String)>,
) -> AppResult<ListPage> {
    let rows = store::list(&state.db, actor, None, StatusFilter::Open).await?;
    let (mut pending, mut done) = (Vec::new(), Vec::new());
    for row in &rows {
        let mut item = RequestItem::of(row, actor, &ctx.csrf);
        if let Some((id, message)) = &error
            && *id == item.id
        {
            item.error = message.clone();
        }
        if item.pending { pending.push(item) } else { done.push(item) }
    }
    Ok(ListPage {
        ctx: ctx.with_nav("signatures"),
        pending,
        done,
        notice,
        can_sign_on_screen: actor.can(crate::domain::Permission::SignElectronically),
    })
}

pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let notice = match q.msg.as_deref() {
        Some("signe") => "Document signé : la version signée et scellée est disponible ci-dessous.",
        Some("papier") => "Version signée déposée : votre interlocuteur est prévenu.",
        _ => "",
    };
    let page = list_page(&state, ctx, &actor, notice, None).await?;
    Ok(render(&page)?.into_response())
}

pub(super) async fn find(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<RequestRow> {
    let id = parse_id(raw_id)?;
    store::find(&state.db, actor, id).await?.ok_or(AppError::NotFound)
}

/// Records one step of a request's evidence log in its own transaction.
pub(super) async fn record(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    req: &RequestRow,
    event: &'static str,
) -> AppResult<()> {
    let ua = user_agent(headers);
    let label = actor.label();
    let mut tx = state.db.begin().await?;
    let evidence = NewEvidence {
        tenant_id: actor.tenant_id,
        request_id: req.id,
        event,
        user_id: Some(actor.user_id),
        user_label: &label,
        ip: &actor.ip,
        user_agent: &ua,
        sha256: &req.original_sha256,
        detail: "",
        at: now_ms(),
    };
    store::add_evidence(&mut tx, &evidence).await?;
    tx.commit().await?;
    Ok(())
}

/// The PDF to sign, as a download; the evidence log records who took it.
pub async fn original(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let req = find(&state, &actor, &id).await?;
    record(&state, &actor, &headers, &req, "downloaded").await?;
    Ok(serve_stored(&state, req.file_id, &req.file_sha256, &req.content_type, &req.original_name, false).await)
}

/// What a finished signature writes besides the signed document.
pub(super) struct Finished<'a> {
    pub claim: &'a Claim,
    pub event: &'static str,
    /// The SHA-256 of the certificate that sealed an on-screen signature, for the evidence.
    pub certificate: Option<String>,
    pub user_agent: String,
}

/// Files the signed version (its bytes already stored) and marks the claimed request signed,
/// with the evidence, the office's notification and the audit, in one transaction: a crash
/// never leaves a signed document on a request still pending. False when the claim was lost
/// meanwhile (nothing is written); a failure gives the claim back.
pub(super) async fn finish(
    state: &AppState,
    actor: &Actor,
    req: &RequestRow,
    site: &SiteRow,
    signed: StoredDeposit<'_>,
    f: Finished<'_>,
) -> AppResult<bool> {
    match write_signed(state, actor, req, site, signed, &f).await {
        Ok(done) => {
            if done {
                state.mail_wakeup.notify_one();
            }
            Ok(done)
        }
        Err(e) => {
            store::release(&state.db, f.claim).await?;
            Err(e)
        }
    }
}

async fn write_signed(
    state: &AppState,
    actor: &Actor,
    req: &RequestRow,
    site: &SiteRow,
    signed: StoredDeposit<'_>,
    f: &Finished<'_>,
) -> AppResult<bool> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let deposited = write_rows(&mut tx, state, &Depositor::user(actor), site.client_id, Some(site), signed).await?;
    if !store::finish(&mut tx, f.claim, deposited.document.id, now).await? {
        return Ok(false);
    }
    let detail = match &f.certificate {
        Some(fingerprint) => {
            format!("Document signé : n° {} ; certificat SHA-256 {fingerprint}", deposited.document.id)
        }
        None => format!("Version signée déposée : document n° {}", deposited.document.id),
    };
    let label = actor.label();
    let evidence = NewEvidence {
        tenant_id: actor.tenant_id,
        request_id: req.id,
        event: f.event,
        user_id: Some(actor.user_id),
        user_label: &label,
        ip: &actor.ip,
        user_agent: &f.user_agent,
        sha256: &deposited.sha256,
        detail: &detail,
        at: now,
    };
    store::add_evidence(&mut tx, &evidence).await?;
    let how = if f.event == "signed" { "électroniquement" } else { "sur papier" };
    let event = Event {
        tenant_id: actor.tenant_id,
        client_id: Some(req.client_id),
        kind: "signature_signed",
        event_key: format!("signature:{}:signed", req.id),
        title: format!("« {} » signé {how} par {} ({})", req.title, actor.full_name, req.client_name),
        link: format!("/bo/signatures/{}", req.id),
        site_label: req.site_name.clone(),
    };
    notifications::notify(&mut tx, &event, Audience::Office).await?;
    let summary = format!("« {} » signé {how}", req.title);
    audit::record(&mut tx, actor, "update", "signature_request", Some(req.id), &summary).await?;
    tx.commit().await?;
    Ok(true)
}

/// The title of the signed version.
pub(super) fn signed_title(title: &str) -> String {
    format!("{title} (signé)")
}

/// The paper path's upload: the scan (PDF, JPEG or PNG) filed as the signed version.
pub async fn paper(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let req = find(&state, &actor, &id).await?;
    if !in_signer_scope(&actor, &req) {
        return Err(AppError::Forbidden);
    }
    if req.status != Status::Pending.code() {
        return Ok(not_pending());
    }
    let max = state.config.max_upload_bytes;
    let read = read_form(multipart, max, "Choisissez le fichier de la version signée.").await;
    let refusal = read.errors.into_iter().next().map(|message| (read.status, message));
    let scan = read.files.into_iter().next().map(|f| (f.name, f.bytes));
    let checked = match (refusal, scan) {
        (Some(r), _) => Err(r),
        (None, None) => {
            Err((StatusCode::UNPROCESSABLE_ENTITY, "Choisissez le fichier de la version signée (PDF ou photo).".into()))
        }
        (None, Some((name, bytes))) => match upload::check(&name, bytes, max) {
            Ok(c) if matches!(c.kind, FileKind::Pdf | FileKind::Jpeg | FileKind::Png) => Ok(c),
            Ok(c) => Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "La version signée doit être un PDF ou une image JPEG ou PNG : « {} » n'en est pas un.",
                    c.name
                ),
            )),
            Err(e) if e.is_refusal() => Err((e.status(), e.to_string())),
            Err(e) => return Err(e.into()),
        },
    };
    let checked = match checked {
        Ok(c) => c,
        Err((status, message)) => {
            let page = list_page(&state, ctx, &actor, "", Some((req.id, message))).await?;
            return Ok((status, render(&page)?).into_response());
        }
    };
    let site = site_list::load(&state, &actor, &req.site_id.to_string()).await?;
    let claim = Claim { request: req.id, tenant: actor.tenant_id, user: actor.user_id, method: "paper", at: now_ms() };
    if !store::claim(&state.db, &claim).await? {
        return Ok(not_pending());
    }
    let title = signed_title(&req.title);
    let d = Deposit {
        document_type: SUPPORTING,
        title: Some(&title),
        published: Published::No,
        requirement_id: None,
        twin: None,
    };
    let stored = match store_bytes(&state, &Depositor::user(&actor), d, checked).await {
        Ok(stored) => stored,
        Err(e) => {
            store::release(&state.db, &claim).await?;
            if e.is_refusal() {
                let status = e.status();
                let page = list_page(&state, ctx, &actor, "", Some((req.id, e.to_string()))).await?;
                return Ok((status, render(&page)?).into_response());
            }
            return Err(e.into());
        }
    };
    let finished =
        Finished { claim: &claim, event: "paper_signed", certificate: None, user_agent: user_agent(&headers) };
    if !finish(&state, &actor, &req, &site, stored, finished).await? {
        return Ok(not_pending());
    }
    Ok(Redirect::to("/espace/signatures?msg=papier").into_response())
}
