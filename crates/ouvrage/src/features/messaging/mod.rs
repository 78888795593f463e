//! Messaging: threads between a client's users and the firm, about one site or general, with
//! attached files (through the files capability) and a read state per user.
//!
//! - Extranet `/espace/messagerie`: the company's threads (filters: subject, site, unread), a
//!   new thread, a thread page with the reply form. Client users see only their company's threads.
//! - Back office `/bo/messagerie`: the shared inbox of every client's threads (filters: client,
//!   site, status, assignee, unread, subject); staff answer, admin and office assign and change
//!   the status.
//!
//! A client's message opens the thread again and notifies its assignee (or the office when none);
//! the firm's message marks it answered and notifies the client's users (in-app and digests).
//! Opening a thread marks it read for that user only. All SQL is in [`store`], rules in [`rules`].

pub mod rules;
pub mod store;

use std::collections::HashMap;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use self::store::{Choice, ThreadFilter, ThreadRow};
use crate::app::AppState;
use crate::domain::text::like_pattern;
use crate::domain::time::{fr_datetime, now_ms};
use crate::domain::{ClientId, FileId, UserId};
use crate::features::audit;
use crate::features::clients::ui::positive_id;
use crate::features::files::fr_size;
use crate::features::files::kind::{ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS};
use crate::features::files::upload::{self, UploadError};
use crate::features::notifications::{self, Audience, Event};
use crate::features::sites::Scope;
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/messagerie", get(espace_list))
        .route("/espace/messagerie/nouveau", get(espace_new).post(espace_create))
        .route("/espace/messagerie/{id}", get(espace_thread))
        .route("/espace/messagerie/{id}/repondre", post(espace_reply))
        .route("/bo/messagerie", get(bo_list))
        .route("/bo/messagerie/{id}", get(bo_thread))
        .route("/bo/messagerie/{id}/repondre", post(bo_reply))
        .route("/bo/messagerie/{id}/affecter", post(bo_assign))
        .route("/bo/messagerie/{id}/statut", post(bo_status))
}

fn base(bo: bool) -> &'static str {
    if bo { "/bo/messagerie" } else { "/espace/messagerie" }
}

// ---------------------------------------------------------------------------------------------
// Lists

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ListQuery {
    objet: String,
    chantier: String,
    client: String,
    statut: String,
    affecte: String,
    #[serde(rename = "non-lus")]
    non_lus: String,
}

pub struct ThreadItem {
    pub id: i64,
    pub subject: String,
    pub client: String,
    pub site: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub assigned: String,
    pub date: String,
    pub unread: bool,
}

impl From<&ThreadRow> for ThreadItem {
    fn from(t: &ThreadRow) -> Self {
        ThreadItem {
            id: t.id,
            subject: t.subject.clone(),
            client: format!("{} — {}", t.client_code, t.client_name),
            site: t.site_name.clone().unwrap_or_else(|| "Général".into()),
            status: rules::status_label(&t.status),
            status_class: rules::status_class(&t.status),
            assigned: t.assigned_name.clone().unwrap_or_default(),
            date: fr_datetime(t.last_message_at),
            unread: t.unread > 0,
        }
    }
}

#[derive(Template)]
#[template(path = "messaging/list.html")]
struct ListPage {
    ctx: Ctx,
    bo: bool,
    base: &'static str,
    threads: Vec<ThreadItem>,
    objet: String,
    chantier: Option<i64>,
    statut: String,
    affecte: String,
    non_lus: bool,
    sites: Vec<Choice>,
    clients: Vec<Choice>,
    statuses: &'static [(&'static str, &'static str, &'static str)],
    /// The site the list is filtered on, for the title and the "new thread" link.
    site_name: Option<String>,
    /// The selected site and client ids for the selects (0 when none).
    sel_site: i64,
    sel_client: i64,
}

async fn espace_list(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, false, q).await
}

async fn bo_list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, true, q).await
}

async fn list(state: &AppState, ctx: Ctx, actor: &Actor, bo: bool, q: ListQuery) -> AppResult<Response> {
    let chantier = positive_id(&q.chantier);
    let client = if bo { positive_id(&q.client) } else { None };
    let statut = if bo && rules::is_status(&q.statut) { q.statut.clone() } else { String::new() };
    let affecte = if bo && matches!(q.affecte.as_str(), "moi" | "autre" | "personne") {
        q.affecte.clone()
    } else {
        String::new()
    };
    let objet = q.objet.trim().to_string();
    let filter = ThreadFilter {
        subject_pattern: if objet.is_empty() { String::new() } else { like_pattern(&objet) },
        site: chantier,
        client: client.map(ClientId),
        status: statut.clone(),
        assigned: affecte.clone(),
        unread_only: q.non_lus == "1",
    };
    let rows = store::list(&state.db, actor.tenant_id, actor.client_scope(), actor.user_id, &filter).await?;
    let (sites, clients) = match actor.client_scope() {
        Some(own) => (store::client_sites(&state.db, actor.tenant_id, own).await?, Vec::new()),
        None => (Vec::new(), store::clients(&state.db, actor.tenant_id).await?),
    };
    let site_name = match chantier {
        Some(id) => crate::features::sites::store::site(&state.db, Scope::of(actor), id).await?.map(|s| s.name),
        None => None,
    };
    let page = ListPage {
        ctx: ctx.with_nav("messages"),
        bo,
        base: base(bo),
        threads: rows.iter().map(ThreadItem::from).collect(),
        objet,
        chantier,
        statut,
        affecte,
        non_lus: filter.unread_only,
        sites,
        clients,
        statuses: rules::STATUSES,
        site_name,
        sel_site: chantier.unwrap_or(0),
        sel_client: client.unwrap_or(0),
    };
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Reading a form with attachments

/// A posted form: its text fields and its files (name, bytes), each file at most the upload limit.
struct Posted {
    fields: HashMap<String, String>,
    files: Vec<(String, Bytes)>,
    /// Files over the limit, read to their end and dropped (their names).
    too_large: Vec<String>,
}

impl Posted {
    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or_default()
    }
}

/// Why a form could not be read: the status and the French message.
type Refused = (StatusCode, String);

async fn read_posted(multipart: Result<Multipart, MultipartRejection>, max: u64) -> Result<Posted, Refused> {
    let broken = || {
        (
            StatusCode::BAD_REQUEST,
            "L'envoi a été interrompu ou est mal formé : vérifiez votre message et vos pièces jointes puis renvoyez-le."
                .to_string(),
        )
    };
    let mut multipart = multipart.map_err(|_| broken())?;
    let mut posted = Posted { fields: HashMap::new(), files: Vec::new(), too_large: Vec::new() };
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let limit = fr_size(max as i64);
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "L'envoi dépasse la taille maximale de {limit} : envoyez les pièces jointes en plusieurs messages."
                    ),
                ));
            }
            Err(_) => return Err(broken()),
        };
        let name = field.name().unwrap_or_default().to_string();
        let Some(file_name) = field.file_name().map(str::to_string) else {
            let text = field.text().await.map_err(|_| broken())?;
            posted.fields.insert(name, text);
            continue;
        };
        let mut buf = BytesMut::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
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
                Ok(None) => break,
                Err(_) if over => break,
                Err(_) => return Err(broken()),
            }
        }
        if over {
            posted.too_large.push(upload::clean_name(&file_name));
        } else if !(file_name.is_empty() && buf.is_empty()) {
            posted.files.push((file_name, buf.freeze()));
        }
    }
    Ok(posted)
}

/// The attachments checked (size, content), or the French reasons they are refused with the
/// status to answer (413 when one is too large).
fn check_files(state: &AppState, posted: &Posted) -> Result<Vec<upload::CheckedUpload>, (StatusCode, Vec<String>)> {
    let max = state.config.max_upload_bytes;
    let mut errors = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    for name in &posted.too_large {
        errors.push(UploadError::TooLarge { name: name.clone(), limit: fr_size(max as i64) }.to_string());
        status = StatusCode::PAYLOAD_TOO_LARGE;
    }
    if posted.files.len() + posted.too_large.len() > rules::MAX_FILES {
        errors.push(format!("Joignez au plus {} fichiers par message.", rules::MAX_FILES));
    }
    let mut checked = Vec::new();
    for (name, bytes) in &posted.files {
        match upload::check(name, bytes.clone(), max) {
            Ok(c) => checked.push(c),
            Err(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    status = StatusCode::PAYLOAD_TOO_LARGE;
                }
                errors.push(e.to_string());
            }
        }
    }
    if errors.is_empty() { Ok(checked) } else { Err((status, errors)) }
}

/// Stores the bytes (before any row exists), then, in the caller's transaction, the file rows of
/// the thread's client and their links to the message.
async fn store_files(state: &AppState, checked: Vec<upload::CheckedUpload>) -> AppResult<Vec<upload::StoredUpload>> {
    let mut stored = Vec::with_capacity(checked.len());
    for c in checked {
        stored.push(upload::put_bytes(&state.files, c).await?);
    }
    Ok(stored)
}

async fn attach_files(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    client: ClientId,
    message: i64,
    stored: &[upload::StoredUpload],
) -> AppResult<()> {
    for s in stored {
        let file: FileId = upload::insert_file(tx, actor, Some(client), s).await?;
        store::attach(tx, actor.tenant_id, message, file).await?;
    }
    Ok(())
}

/// Announces a new message: to the client's users when it comes from the firm, to the assignee
/// (or the office) when it comes from the client.
async fn announce(tx: &mut crate::db::Tx, actor: &Actor, thread: &ThreadRow, message: i64) -> AppResult<()> {
    let site_label = thread.site_name.clone().unwrap_or_default();
    let (event, audience) = if actor.is_staff() {
        (
            Event {
                tenant_id: actor.tenant_id,
                client_id: Some(thread.client_id),
                kind: "new_message",
                event_key: format!("message:{message}"),
                title: format!("Nouveau message de nos équipes : « {} »", thread.subject),
                link: format!("/espace/messagerie/{}", thread.id),
                site_label,
            },
            Audience::ClientUsers { client: thread.client_id, permission: None },
        )
    } else {
        (
            Event {
                tenant_id: actor.tenant_id,
                client_id: Some(thread.client_id),
                kind: "new_message",
                event_key: format!("message:{message}"),
                title: format!("{} — message de {} : « {} »", thread.client_code, actor.full_name, thread.subject),
                link: format!("/bo/messagerie/{}", thread.id),
                site_label,
            },
            match thread.assigned_to {
                Some(u) => Audience::User(u),
                None => Audience::Office,
            },
        )
    };
    notifications::notify(tx, &event, audience).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A new thread (extranet)

#[derive(Template)]
#[template(path = "messaging/new.html")]
struct NewPage {
    ctx: Ctx,
    sites: Vec<Choice>,
    /// The selected site (0 for none).
    site: i64,
    subject: String,
    body: String,
    errors: Vec<String>,
    accept: &'static str,
    formats: &'static str,
    limit: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewQuery {
    chantier: String,
}

async fn new_page(state: &AppState, ctx: Ctx, actor: &ClientActor) -> AppResult<NewPage> {
    Ok(NewPage {
        ctx: ctx.with_nav("messages"),
        sites: store::client_sites(&state.db, actor.0.tenant_id, actor.client_id()).await?,
        site: 0,
        subject: String::new(),
        body: String::new(),
        errors: Vec::new(),
        accept: ACCEPT_ATTRIBUTE,
        formats: ACCEPTED_FORMATS,
        limit: fr_size(state.config.max_upload_bytes as i64),
    })
}

async fn espace_new(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let mut page = new_page(&state, ctx, &actor).await?;
    page.site = positive_id(&q.chantier).filter(|id| page.sites.iter().any(|s| s.id == *id)).unwrap_or(0);
    Ok(render(&page)?.into_response())
}

async fn espace_create(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let client = actor.client_id();
    let mut page = new_page(&state, ctx, &actor).await?;
    let actor = actor.0;
    let posted = match read_posted(multipart, state.config.max_upload_bytes).await {
        Ok(p) => p,
        Err((status, msg)) => {
            page.errors.push(msg);
            return Ok((status, render(&page)?).into_response());
        }
    };
    page.subject = posted.field("sujet").trim().to_string();
    page.body = posted.field("message").to_string();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let subject = rules::subject(posted.field("sujet")).map_err(|e| page.errors.push(e)).ok();
    let body = rules::body(posted.field("message")).map_err(|e| page.errors.push(e)).ok();
    let raw_site = posted.field("chantier").trim();
    let site = if raw_site.is_empty() {
        None
    } else {
        let found = match positive_id(raw_site) {
            Some(id) => crate::features::sites::store::site(&state.db, Scope::of(&actor), id).await?,
            None => None,
        };
        match found {
            Some(s) => {
                page.site = s.id.0;
                Some(s)
            }
            None => {
                page.errors.push("Ce chantier n'existe pas dans votre espace : choisissez-en un dans la liste.".into());
                None
            }
        }
    };
    let checked = match check_files(&state, &posted) {
        Ok(c) => c,
        Err((s, errs)) => {
            status = s;
            page.errors.extend(errs);
            Vec::new()
        }
    };
    let (Some(subject), Some(body), true) = (subject, body, page.errors.is_empty()) else {
        return Ok((status, render(&page)?).into_response());
    };
    let stored = store_files(&state, checked).await?;
    let mut tx = state.db.begin().await?;
    let site = site.map(|s| (s.id.0, s.name));
    let (id, message) = open_thread(&mut tx, &actor, client, site, &subject, &body, now_ms()).await?;
    attach_files(&mut tx, &actor, client, message, &stored).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/espace/messagerie/{id}?msg=envoye")).into_response())
}

/// Opens a thread of `client` (on `site`: its id and name) with a first message from the actor,
/// in the caller's transaction, announced and audited as a thread opened from the extranet form
/// is: other features (intervention requests) open their threads through it. Returns the
/// thread's and the message's ids.
pub async fn open_thread(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    client: ClientId,
    site: Option<(i64, String)>,
    subject: &str,
    body: &str,
    now: i64,
) -> AppResult<(i64, i64)> {
    let site_id = site.as_ref().map(|s| s.0);
    let id = store::create_thread(tx, actor.tenant_id, client, site_id, subject, actor.user_id, now).await?;
    let message = store::add_message(tx, actor.tenant_id, id, actor.user_id, actor.is_staff(), body, now).await?;
    let thread = ThreadRow {
        id,
        client_id: client,
        client_code: client_code(tx, actor, client).await?,
        client_name: String::new(),
        site_id,
        site_name: site.map(|s| s.1),
        subject: subject.to_string(),
        status: "open".into(),
        assigned_to: None,
        assigned_name: None,
        last_message_id: message,
        last_message_at: now,
        unread: 0,
    };
    announce(tx, actor, &thread, message).await?;
    audit::record(tx, actor, "create", "thread", Some(id), &format!("Conversation « {subject} » ouverte")).await?;
    Ok((id, message))
}

/// Posts `body` in `thread` (found in the actor's scope) from the actor, in the caller's
/// transaction, with the status change and the notifications of a reply typed on the thread
/// page: the firm's message marks it answered and notifies the client's users. Returns the
/// message's id.
pub async fn post_message(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    thread: &ThreadRow,
    body: &str,
    now: i64,
) -> AppResult<i64> {
    let message =
        store::add_message(tx, actor.tenant_id, thread.id, actor.user_id, actor.is_staff(), body, now).await?;
    announce(tx, actor, thread, message).await?;
    Ok(message)
}

async fn client_code(tx: &mut crate::db::Tx, actor: &Actor, client: ClientId) -> AppResult<String> {
    let code: String =
        crate::on_tx!(tx, |c| sqlx::query_scalar("SELECT code FROM clients WHERE id = $1 AND tenant_id = $2")
            .bind(client)
            .bind(actor.tenant_id)
            .fetch_one(c)
            .await)?;
    Ok(code)
}

// ---------------------------------------------------------------------------------------------
// A thread

pub struct AttachmentView {
    pub id: FileId,
    pub name: String,
    pub size: String,
}

pub struct MessageView {
    pub author: String,
    pub from_staff: bool,
    pub date: String,
    pub body: String,
    pub files: Vec<AttachmentView>,
}

#[derive(Template)]
#[template(path = "messaging/thread.html")]
struct ThreadPage {
    ctx: Ctx,
    bo: bool,
    base: &'static str,
    t: ThreadItem,
    site_id: Option<i64>,
    client_id: ClientId,
    /// The assignee's id (0 for nobody), for the select.
    assigned_to: i64,
    status_code: String,
    /// Back office: the intervention request that opened the thread (id, status label).
    intervention_request: Option<(i64, &'static str)>,
    messages: Vec<MessageView>,
    can_manage: bool,
    staff: Vec<Choice>,
    statuses: &'static [(&'static str, &'static str, &'static str)],
    draft: String,
    errors: Vec<String>,
    accept: &'static str,
    formats: &'static str,
    limit: String,
}

async fn load(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<ThreadRow> {
    let id = positive_id(raw_id).ok_or(AppError::NotFound)?;
    store::thread(&state.db, actor.tenant_id, actor.client_scope(), actor.user_id, id).await?.ok_or(AppError::NotFound)
}

async fn thread_page(state: &AppState, ctx: Ctx, actor: &Actor, bo: bool, t: ThreadRow) -> AppResult<ThreadPage> {
    let messages = store::messages(&state.db, actor.tenant_id, t.id).await?;
    let files = store::attachments(&state.db, actor.tenant_id, t.id).await?;
    let can_manage = bo && rules::can_manage(actor);
    Ok(ThreadPage {
        ctx: ctx.with_nav("messages"),
        bo,
        base: base(bo),
        t: ThreadItem::from(&t),
        site_id: t.site_id,
        client_id: t.client_id,
        assigned_to: t.assigned_to.map(|u| u.0).unwrap_or(0),
        status_code: t.status.clone(),
        intervention_request: if bo {
            crate::features::interventions::store::request_of_thread(&state.db, actor.tenant_id, t.id)
                .await?
                .map(|(id, status)| (id, crate::features::interventions::rules::request_status(&status).0))
        } else {
            None
        },
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                author: m.author_name.unwrap_or_else(|| "—".into()),
                from_staff: m.from_staff,
                date: fr_datetime(m.created_at),
                body: m.body,
                files: files
                    .iter()
                    .filter(|f| f.message_id == m.id)
                    .map(|f| AttachmentView {
                        id: f.file_id,
                        name: f.original_name.clone(),
                        size: fr_size(f.size_bytes),
                    })
                    .collect(),
            })
            .collect(),
        can_manage,
        staff: if can_manage { store::staff_members(&state.db, actor.tenant_id).await? } else { Vec::new() },
        statuses: rules::STATUSES,
        draft: String::new(),
        errors: Vec::new(),
        accept: ACCEPT_ATTRIBUTE,
        formats: ACCEPTED_FORMATS,
        limit: fr_size(state.config.max_upload_bytes as i64),
    })
}

async fn espace_thread(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    show(&state, ctx, &actor, false, &id).await
}

async fn bo_thread(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    show(&state, ctx, &actor, true, &id).await
}

/// The thread page; opening it marks it read for this user only.
async fn show(state: &AppState, mut ctx: Ctx, actor: &Actor, bo: bool, raw_id: &str) -> AppResult<Response> {
    let t = load(state, actor, raw_id).await?;
    if t.unread > 0 {
        store::mark_read(&state.db, actor.tenant_id, t.id, actor.user_id, t.last_message_id).await?;
        ctx.unread_messages = (ctx.unread_messages - 1).max(0);
    }
    let page = thread_page(state, ctx, actor, bo, t).await?;
    Ok(render(&page)?.into_response())
}

async fn espace_reply(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    reply(&state, ctx, &actor, false, &id, multipart).await
}

async fn bo_reply(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    reply(&state, ctx, &actor, true, &id, multipart).await
}

async fn reply(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    bo: bool,
    raw_id: &str,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    // Found in scope before the body is read: nothing is kept for another company's thread.
    let t = load(state, actor, raw_id).await?;
    let mut errors = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let mut draft = String::new();
    let mut ready = None;
    match read_posted(multipart, state.config.max_upload_bytes).await {
        Err((s, msg)) => {
            status = s;
            errors.push(msg);
        }
        Ok(posted) => {
            draft = posted.field("message").to_string();
            let body = rules::body(&draft).map_err(|e| errors.push(e)).ok();
            match check_files(state, &posted) {
                Ok(checked) => ready = body.map(|b| (b, checked)),
                Err((s, errs)) => {
                    status = s;
                    errors.extend(errs);
                }
            }
        }
    }
    let Some((body, checked)) = ready.filter(|_| errors.is_empty()) else {
        let mut page = thread_page(state, ctx, actor, bo, t).await?;
        page.errors = errors;
        page.draft = draft;
        return Ok((status, render(&page)?).into_response());
    };
    let stored = store_files(state, checked).await?;
    let mut tx = state.db.begin().await?;
    let message =
        store::add_message(&mut tx, actor.tenant_id, t.id, actor.user_id, actor.is_staff(), &body, now_ms()).await?;
    attach_files(&mut tx, actor, t.client_id, message, &stored).await?;
    announce(&mut tx, actor, &t, message).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}/{}?msg=envoye", base(bo), t.id)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Assignment and status (admin and office)

#[derive(Deserialize, Default)]
#[serde(default)]
struct AssignForm {
    agent: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatusForm {
    statut: String,
}

async fn managed(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<ThreadRow> {
    let t = load(state, actor, raw_id).await?;
    if !rules::can_manage(actor) {
        return Err(AppError::Forbidden);
    }
    Ok(t)
}

async fn refuse(state: &AppState, ctx: Ctx, actor: &Actor, t: ThreadRow, msg: &str) -> AppResult<Response> {
    let mut page = thread_page(state, ctx, actor, true, t).await?;
    page.errors.push(msg.to_string());
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

async fn bo_assign(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> AppResult<Response> {
    let t = managed(&state, &actor, &id).await?;
    let to = if f.agent.trim().is_empty() {
        None
    } else {
        let staff = store::staff_members(&state.db, actor.tenant_id).await?;
        match positive_id(&f.agent).and_then(|id| staff.into_iter().find(|s| s.id == id)) {
            Some(s) => Some(s),
            None => {
                return refuse(&state, ctx, &actor, t, "Choisissez un membre de l'équipe dans la liste.").await;
            }
        }
    };
    let mut tx = state.db.begin().await?;
    store::set_assigned(&mut tx, actor.tenant_id, t.id, to.as_ref().map(|s| UserId(s.id))).await?;
    let summary = match &to {
        Some(s) => format!("Conversation « {} » affectée à {}", t.subject, s.label),
        None => format!("Conversation « {} » désaffectée", t.subject),
    };
    audit::record(&mut tx, &actor, "update", "thread", Some(t.id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/messagerie/{}?msg=enregistre", t.id)).into_response())
}

async fn bo_status(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    let t = managed(&state, &actor, &id).await?;
    if !rules::is_status(&f.statut) {
        return refuse(&state, ctx, &actor, t, "Choisissez un statut : ouvert, répondu ou clos.").await;
    }
    let mut tx = state.db.begin().await?;
    store::set_status(&mut tx, actor.tenant_id, t.id, &f.statut).await?;
    let summary = format!("Conversation « {} » : statut « {} »", t.subject, rules::status_label(&f.statut));
    audit::record(&mut tx, &actor, "update", "thread", Some(t.id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/messagerie/{}?msg=enregistre", t.id)).into_response())
}
