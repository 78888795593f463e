//! "Demande d'identifiants": the public form for someone without an account (honeypot, signed
//! issue time, rate limit per address), and its processing in the back office: link the
//! request to a client (or create the client), then open the access, or refuse with a reason
//! e-mailed to the requester.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::antispam::{self, HONEYPOT_FIELD, SUBMIT_LIMIT, TokenError};
use super::store::{self, CredentialRequestRow, NewCredentialRequest};
use super::{require_processor, status_label};
use crate::app::AppState;
use crate::db::is_unique_violation;
use crate::domain::format::fr_phone;
use crate::domain::time::{fr_datetime, now_ms};
use crate::domain::{
    ClientId, ClientKind, Email, Permission, Permissions, Role, parse_phone, parse_postcode, parse_siret,
};
use crate::features::audit::{self, AuditActor};
use crate::features::auth::store as throttle;
use crate::features::clients::store::{self as clients, ClientData, ContactData};
use crate::features::clients::ui::{FieldErrors, FormData, Opt, parse_id};
use crate::features::clients::{fr_siret, kind_label};
use crate::features::home::tenant_name;
use crate::features::mail::{self, OutgoingMail};
use crate::features::notifications::{Audience, Event, notify};
use crate::features::users::account::{CreateUserError, DigestProfile, NewAccess, TemporaryPassword, create_access};
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

use super::MESSAGE_MAX;

// ---------------------------------------------------------------------------------------------
// The public form

/// The form as typed.
#[derive(Debug, Clone, Default)]
pub struct CredentialForm {
    pub company: String,
    pub siret: String,
    pub full_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub message: String,
}

fn read_form(data: &FormData) -> CredentialForm {
    CredentialForm {
        company: data.get("company"),
        siret: data.get("siret"),
        full_name: data.get("full_name"),
        job_title: data.get("job_title"),
        email: data.get("email"),
        phone: data.get("phone"),
        message: data.text("message"),
    }
}

/// Checks the required fields and formats; returns the values to store.
fn validate(t: &CredentialForm) -> Result<CredentialForm, FieldErrors> {
    let mut e = FieldErrors::default();
    if t.company.is_empty() {
        e.add("company", "Le nom de votre société est obligatoire.");
    }
    e.max_len("company", "Le nom de la société", &t.company, 200);
    let siret = e.check("siret", parse_siret(&t.siret));
    if t.full_name.is_empty() {
        e.add("full_name", "Vos nom et prénom sont obligatoires.");
    }
    e.max_len("full_name", "Le nom", &t.full_name, 150);
    e.max_len("job_title", "La fonction", &t.job_title, 150);
    let email = if t.email.is_empty() {
        e.add("email", "Votre adresse e-mail est obligatoire : elle deviendra votre identifiant.");
        String::new()
    } else {
        e.check("email", Email::parse(&t.email).map(|m| m.as_str().to_string()))
    };
    let phone = if t.phone.is_empty() {
        e.add("phone", "Votre numéro de téléphone est obligatoire.");
        String::new()
    } else {
        e.check("phone", parse_phone(&t.phone))
    };
    e.max_len("message", "Le message", &t.message, MESSAGE_MAX);
    if !e.is_empty() {
        return Err(e);
    }
    Ok(CredentialForm {
        company: t.company.clone(),
        siret,
        full_name: t.full_name.clone(),
        job_title: t.job_title.clone(),
        email,
        phone,
        message: t.message.clone(),
    })
}

#[derive(Template)]
#[template(path = "requests/public_form.html")]
struct PublicPage {
    ctx: Ctx,
    firm: String,
    form: CredentialForm,
    token: String,
    honeypot: &'static str,
    errors: FieldErrors,
    form_error: Option<&'static str>,
    sent: bool,
}

#[derive(Deserialize, Default)]
pub struct PublicQuery {
    #[serde(default)]
    envoyee: String,
}

fn request_host(headers: &HeaderMap) -> String {
    headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(antispam::host_without_port).unwrap_or_default()
}

pub async fn public_page(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Query(q): Query<PublicQuery>,
) -> AppResult<Response> {
    let (_, firm) = store::tenant_for_host(&state.db, &request_host(&headers)).await?.ok_or(AppError::NotFound)?;
    let page = PublicPage {
        ctx,
        firm,
        form: CredentialForm::default(),
        token: antispam::sign_issue_time(state.secret(), now_ms()),
        honeypot: HONEYPOT_FIELD,
        errors: FieldErrors::default(),
        form_error: None,
        sent: q.envoyee == "1",
    };
    Ok(render(&page)?.into_response())
}

pub async fn public_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let ip = peer.ip().to_string();
    let key = format!("credreq:{ip}");
    if throttle::locked_until(&state.db, &key).await?.is_some() {
        return Err(AppError::TooManyRequests(
            "Trop de demandes ont été envoyées depuis votre connexion. Réessayez dans une heure ou appelez-nous."
                .into(),
        ));
    }
    // Every submission counts, accepted or not: a burst is refused whatever it contains.
    throttle::record_failure(&state.db, &key, SUBMIT_LIMIT).await?;
    let (tenant, firm) = store::tenant_for_host(&state.db, &request_host(&headers)).await?.ok_or(AppError::NotFound)?;
    let data = FormData(raw);
    let typed = read_form(&data);
    let now = now_ms();
    let submitted_token = data.get("jeton");
    let refuse =
        |form_error: Option<&'static str>, errors: FieldErrors, token: String, ctx: Ctx| -> AppResult<Response> {
            let page = PublicPage {
                ctx,
                firm: firm.clone(),
                form: typed.clone(),
                token,
                honeypot: HONEYPOT_FIELD,
                errors,
                form_error,
                sent: false,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        };
    if !data.get(HONEYPOT_FIELD).is_empty() {
        tracing::info!(%ip, "credential request refused: honeypot filled");
        return refuse(
            Some(
                "Votre demande n'a pas pu être envoyée. Laissez vide le champ « ne pas remplir » et renvoyez le formulaire.",
            ),
            FieldErrors::default(),
            antispam::sign_issue_time(state.secret(), now),
            ctx,
        );
    }
    let (token_error, token) = match antispam::check_issue_time(state.secret(), &submitted_token, now) {
        Ok(_) => (None, submitted_token.clone()),
        // Too fast: keep the issue time, so the same form is accepted a moment later.
        Err(TokenError::TooFast) => (Some(TokenError::TooFast), submitted_token.clone()),
        Err(e) => (Some(e), antispam::sign_issue_time(state.secret(), now)),
    };
    if let Some(e) = token_error {
        tracing::info!(%ip, error = ?e, "credential request refused: form token");
    }
    let v = match (validate(&typed), token_error) {
        (Ok(v), None) => v,
        (checked, token_error) => {
            return refuse(token_error.map(TokenError::message), checked.err().unwrap_or_default(), token, ctx);
        }
    };
    let mut tx = state.db.begin().await?;
    let id = store::insert_credential_request(
        &mut tx,
        &NewCredentialRequest {
            tenant_id: tenant,
            company: v.company.clone(),
            siret: v.siret.clone(),
            full_name: v.full_name.clone(),
            job_title: v.job_title.clone(),
            email: v.email.clone(),
            phone: v.phone.clone(),
            message: v.message.clone(),
            ip: ip.clone(),
        },
    )
    .await?;
    let who = AuditActor {
        tenant_id: tenant,
        user_id: None,
        label: format!("{} <{}> (formulaire public)", v.full_name, v.email),
        ip,
    };
    audit::record(
        &mut tx,
        who,
        "request",
        "credential_request",
        Some(id),
        &format!("Demande d'identifiants de {} pour la société {}", v.full_name, v.company),
    )
    .await?;
    let event = Event {
        tenant_id: tenant,
        client_id: None,
        kind: "credential_request",
        event_key: format!("credential_request:{id}"),
        title: format!("Demande d'identifiants de {} ({})", v.full_name, v.company),
        link: format!("/bo/demandes/identifiants/{id}"),
        site_label: String::new(),
    };
    notify(&mut tx, &event, Audience::Office).await?;
    tx.commit().await?;
    Ok(Redirect::to("/demande-identifiants?envoyee=1").into_response())
}

// ---------------------------------------------------------------------------------------------
// Back office: processing a request

pub struct CredentialView {
    pub id: i64,
    pub created: String,
    pub company: String,
    pub siret: String,
    pub full_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub phone_link: String,
    pub message: String,
    pub ip: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub pending: bool,
    pub decided: String,
    pub decider: String,
    pub reason: String,
    pub user_email: String,
    pub user_id: Option<i64>,
}

impl CredentialView {
    fn from_row(r: &CredentialRequestRow) -> CredentialView {
        let (status, status_class) = status_label(&r.status);
        CredentialView {
            id: r.id,
            created: fr_datetime(r.created_at),
            company: r.company.clone(),
            siret: fr_siret(&r.siret),
            full_name: r.full_name.clone(),
            job_title: r.job_title.clone(),
            email: r.email.clone(),
            phone: fr_phone(&r.phone),
            phone_link: r.phone.clone(),
            message: r.message.clone(),
            ip: r.ip.clone(),
            status,
            status_class,
            pending: r.status == "pending",
            decided: r.decided_at.map(fr_datetime).unwrap_or_default(),
            decider: r.decider_name.clone().unwrap_or_default(),
            reason: r.reason.clone(),
            user_email: r.user_email.clone().unwrap_or_default(),
            user_id: r.user_id.map(|u| u.0),
        }
    }
}

pub struct LinkedClient {
    pub id: ClientId,
    pub label: String,
    pub archived: bool,
}

/// The client to create, prefilled from the request.
#[derive(Debug, Clone, Default)]
pub struct NewClientForm {
    pub client_name: String,
    pub kind: String,
    pub siret: String,
    pub client_phone: String,
    pub postcode: String,
    pub city: String,
}

/// The account to open.
#[derive(Debug, Clone, Default)]
pub struct AccessForm {
    pub first_name: String,
    pub last_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub role: String,
    pub permissions: Permissions,
}

pub struct PermOpt {
    pub code: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "requests/bo_credential.html")]
struct BoCredentialPage {
    ctx: Ctx,
    r: CredentialView,
    linked: Option<LinkedClient>,
    suggestions: Vec<String>,
    clients: Vec<Opt>,
    link_error: Option<String>,
    new_client: NewClientForm,
    kinds: Vec<Opt>,
    client_errors: FieldErrors,
    access: AccessForm,
    roles: Vec<Opt>,
    perms: Vec<PermOpt>,
    access_errors: FieldErrors,
    refuse_reason: String,
    refuse_error: Option<String>,
    /// An account of the firm already uses the requester's e-mail.
    existing_user: Option<i64>,
}

/// What a re-rendered page keeps of a refused form.
#[derive(Default)]
struct Typed {
    link_error: Option<String>,
    new_client: Option<NewClientForm>,
    client_errors: FieldErrors,
    access: Option<AccessForm>,
    access_errors: FieldErrors,
    refuse_reason: String,
    refuse_error: Option<String>,
}

/// "Anne-Marie de la Tour" → ("Anne-Marie", "de la Tour").
fn split_name(full: &str) -> (String, String) {
    match full.trim().split_once(char::is_whitespace) {
        Some((first, last)) => (first.to_string(), last.trim().to_string()),
        None => (String::new(), full.trim().to_string()),
    }
}

async fn load(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<CredentialRequestRow> {
    let id = parse_id(raw_id)?;
    store::credential_request(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)
}

async fn bo_page(
    state: &AppState,
    actor: &Actor,
    ctx: Ctx,
    r: &CredentialRequestRow,
    t: Typed,
) -> AppResult<BoCredentialPage> {
    let matches = store::clients_with_siret(&state.db, actor.tenant_id, &r.siret).await?;
    let selected = r.client_id.or_else(|| matches.first().map(|m| m.0)).map(|c| c.to_string()).unwrap_or_default();
    let mut client_opts = vec![Opt::new("", "— Choisir le client —", &selected)];
    client_opts.extend(
        clients::active_clients(&state.db, actor.tenant_id)
            .await?
            .into_iter()
            .map(|(id, code, name)| Opt::new(id.to_string(), format!("{code} — {name}"), &selected)),
    );
    let linked = match (r.client_id, &r.client_code, &r.client_name) {
        (Some(id), Some(code), Some(name)) => {
            Some(LinkedClient { id, label: format!("{code} — {name}"), archived: r.client_archived.unwrap_or(false) })
        }
        _ => None,
    };
    let new_client = t.new_client.unwrap_or_else(|| NewClientForm {
        client_name: r.company.clone(),
        kind: ClientKind::ALL[0].code().to_string(),
        siret: r.siret.clone(),
        client_phone: fr_phone(&r.phone),
        postcode: String::new(),
        city: String::new(),
    });
    let mut kinds = vec![Opt::new("", "— Choisir —", &new_client.kind)];
    kinds.extend(ClientKind::ALL.into_iter().map(|k| Opt::new(k.code(), k.label(), &new_client.kind)));
    // The first account of a company is usually its administrator.
    let has_admin = match r.client_id {
        Some(c) => clients::users_of(&state.db, actor.tenant_id, c)
            .await?
            .iter()
            .any(|u| u.active && u.role == Role::ClientAdmin.code()),
        None => false,
    };
    let access = t.access.unwrap_or_else(|| {
        let (first_name, last_name) = split_name(&r.full_name);
        AccessForm {
            first_name,
            last_name,
            job_title: r.job_title.clone(),
            email: r.email.clone(),
            phone: fr_phone(&r.phone),
            role: if has_admin { Role::ClientUser.code().into() } else { Role::ClientAdmin.code().into() },
            permissions: Permissions::default(),
        }
    });
    let roles = [Role::ClientAdmin, Role::ClientUser]
        .into_iter()
        .map(|x| Opt::new(x.code(), x.label(), &access.role))
        .collect();
    let perms = Permission::ALL
        .into_iter()
        .map(|p| PermOpt { code: p.code(), label: p.label(), checked: access.permissions.has(p) })
        .collect();
    Ok(BoCredentialPage {
        ctx: ctx.with_nav("requests"),
        r: CredentialView::from_row(r),
        linked,
        suggestions: matches.iter().map(|(_, code, name)| format!("{code} — {name}")).collect(),
        clients: client_opts,
        link_error: t.link_error,
        new_client,
        kinds,
        client_errors: t.client_errors,
        access,
        roles,
        perms,
        access_errors: t.access_errors,
        refuse_reason: t.refuse_reason,
        refuse_error: t.refuse_error,
        existing_user: store::user_with_email(&state.db, actor.tenant_id, &r.email).await?.map(|u| u.0),
    })
}

fn invalid(page: BoCredentialPage) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

fn already_decided() -> AppError {
    AppError::BadRequest("Cette demande a déjà été traitée : rechargez la liste des demandes.".into())
}

fn detail_url(id: i64, msg: &str) -> String {
    format!("/bo/demandes/identifiants/{id}?msg={msg}")
}

pub async fn bo_detail(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let r = load(&state, &actor, &id).await?;
    require_processor(&actor)?;
    Ok(render(&bo_page(&state, &actor, ctx, &r, Typed::default()).await?)?.into_response())
}

/// Step 1, first way: the requester's company is already a client.
pub async fn link(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = load(&state, &actor, &id).await?;
    require_processor(&actor)?;
    if r.status != "pending" {
        return Err(already_decided());
    }
    let raw_client = FormData(raw).get("client_id");
    if raw_client.is_empty() {
        let t =
            Typed { link_error: Some("Choisissez le client auquel rattacher la demande.".into()), ..Typed::default() };
        return invalid(bo_page(&state, &actor, ctx, &r, t).await?);
    }
    let client =
        clients::client(&state.db, actor.tenant_id, parse_id(&raw_client)?).await?.ok_or(AppError::NotFound)?;
    if client.archived {
        let t = Typed {
            link_error: Some("Ce client est archivé : réactivez-le ou choisissez-en un autre.".into()),
            ..Typed::default()
        };
        return invalid(bo_page(&state, &actor, ctx, &r, t).await?);
    }
    let mut tx = state.db.begin().await?;
    if !store::link_credential_request(&mut tx, actor.tenant_id, r.id, client.id).await? {
        return Err(already_decided());
    }
    audit::record(
        &mut tx,
        &actor,
        "link",
        "credential_request",
        Some(r.id),
        &format!("Demande d'identifiants de {} rattachée au client {} {}", r.full_name, client.code, client.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&detail_url(r.id, "enregistre")).into_response())
}

fn read_new_client(data: &FormData) -> NewClientForm {
    NewClientForm {
        client_name: data.get("client_name"),
        kind: data.get("kind"),
        siret: data.get("siret"),
        client_phone: data.get("client_phone"),
        postcode: data.get("postcode"),
        city: data.get("city"),
    }
}

fn validate_new_client(t: &NewClientForm) -> Result<ClientData, FieldErrors> {
    let mut e = FieldErrors::default();
    if t.client_name.is_empty() {
        e.add("client_name", "Le nom du client est obligatoire.");
    }
    e.max_len("client_name", "Le nom", &t.client_name, 200);
    let kind = match ClientKind::parse(&t.kind) {
        Some(k) => k.code().to_string(),
        None => {
            e.add("kind", "Choisissez le type de client.");
            String::new()
        }
    };
    let siret = e.check("siret", parse_siret(&t.siret));
    let phone = e.check("client_phone", parse_phone(&t.client_phone));
    let postcode = e.check("postcode", parse_postcode(&t.postcode));
    e.max_len("city", "La ville", &t.city, 100);
    if !e.is_empty() {
        return Err(e);
    }
    Ok(ClientData {
        code: String::new(),
        name: t.client_name.clone(),
        kind,
        siret,
        address_line1: String::new(),
        address_line2: String::new(),
        postcode,
        city: t.city.clone(),
        billing_address: String::new(),
        billing_email: String::new(),
        phone,
        notes: String::new(),
    })
}

/// Step 1, second way: a new client, prefilled from the request.
pub async fn create_client(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = load(&state, &actor, &id).await?;
    require_processor(&actor)?;
    if r.status != "pending" {
        return Err(already_decided());
    }
    let typed = read_new_client(&FormData(raw));
    let mut data = match validate_new_client(&typed) {
        Ok(d) => d,
        Err(errors) => {
            let t = Typed { new_client: Some(typed), client_errors: errors, ..Typed::default() };
            return invalid(bo_page(&state, &actor, ctx, &r, t).await?);
        }
    };
    // The automatic code can collide with a concurrent creation: retry with the next one.
    for _ in 0..5 {
        let mut tx = state.db.begin().await?;
        data.code = clients::next_code(&mut tx, actor.tenant_id).await?;
        let client = match clients::insert(&mut tx, actor.tenant_id, &data).await {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        if !store::link_credential_request(&mut tx, actor.tenant_id, r.id, client).await? {
            return Err(already_decided());
        }
        audit::record(
            &mut tx,
            &actor,
            "create",
            "client",
            Some(client.0),
            &format!(
                "Client {} {} créé ({}) depuis la demande d'identifiants n° {}",
                data.code,
                data.name,
                kind_label(&data.kind),
                r.id
            ),
        )
        .await?;
        audit::record(
            &mut tx,
            &actor,
            "link",
            "credential_request",
            Some(r.id),
            &format!("Demande d'identifiants de {} rattachée au nouveau client {}", r.full_name, data.code),
        )
        .await?;
        tx.commit().await?;
        return Ok(Redirect::to(&detail_url(r.id, "cree")).into_response());
    }
    Err(AppError::Unavailable)
}

fn read_access(data: &FormData) -> AccessForm {
    let chosen = data.all("permissions");
    let list: Vec<Permission> = Permission::ALL.into_iter().filter(|p| chosen.iter().any(|c| c == p.code())).collect();
    AccessForm {
        first_name: data.get("first_name"),
        last_name: data.get("last_name"),
        job_title: data.get("job_title"),
        email: data.get("email"),
        phone: data.get("phone"),
        role: data.get("role"),
        permissions: Permissions::from_list(&list),
    }
}

/// Step 2: the contact (found by e-mail or created) and its account, with the access e-mail.
pub async fn create_access_for_request(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = load(&state, &actor, &id).await?;
    require_processor(&actor)?;
    if r.status != "pending" {
        return Err(already_decided());
    }
    let Some(client_id) = r.client_id else {
        return Err(AppError::BadRequest(
            "Rattachez d'abord la demande à un client existant ou créez le client.".into(),
        ));
    };
    let typed = read_access(&FormData(raw));
    let mut e = FieldErrors::default();
    if typed.last_name.is_empty() {
        e.add("last_name", "Le nom est obligatoire.");
    }
    e.max_len("first_name", "Le prénom", &typed.first_name, 100);
    e.max_len("last_name", "Le nom", &typed.last_name, 100);
    e.max_len("job_title", "La fonction", &typed.job_title, 150);
    let email = if typed.email.is_empty() {
        e.add("email", "L'adresse e-mail est obligatoire : c'est l'identifiant de connexion.");
        None
    } else {
        match Email::parse(&typed.email) {
            Ok(m) => Some(m),
            Err(msg) => {
                e.add("email", msg);
                None
            }
        }
    };
    let phone = e.check("phone", parse_phone(&typed.phone));
    let role = match Role::parse(&typed.role) {
        Some(role) if !role.is_staff() => Some(role),
        _ => {
            e.add("role", "Choisissez le rôle de l'utilisateur.");
            None
        }
    };
    if r.client_archived.unwrap_or(false) {
        e.add("email", "Le client rattaché est archivé : réactivez-le avant d'ouvrir un accès.");
    }
    let (Some(email), Some(role)) = (email.filter(|_| e.is_empty()), role) else {
        let t = Typed { access: Some(typed), access_errors: e, ..Typed::default() };
        return invalid(bo_page(&state, &actor, ctx, &r, t).await?);
    };
    let firm = tenant_name(&state.db, actor.tenant_id).await?;
    let temporary = TemporaryPassword::generate().await?;
    let full_name = format!("{} {}", typed.first_name, typed.last_name).trim().to_string();
    let mut tx = state.db.begin().await?;
    let client = clients::client_tx(&mut tx, actor.tenant_id, client_id.0).await?.ok_or(AppError::NotFound)?;
    if client.archived {
        return Err(AppError::BadRequest(
            "Le client rattaché est archivé : réactivez-le avant d'ouvrir un accès.".into(),
        ));
    }
    let contact = match store::contact_by_email(&mut tx, actor.tenant_id, client.id, email.as_str()).await? {
        Some(c) => c,
        None => {
            let data = ContactData {
                civility: String::new(),
                first_name: typed.first_name.clone(),
                last_name: typed.last_name.clone(),
                job_title: typed.job_title.clone(),
                email: email.as_str().to_string(),
                email_alt: String::new(),
                phone: phone.clone(),
                mobile: String::new(),
            };
            let c = clients::insert_contact(&mut tx, actor.tenant_id, client.id, &data).await?;
            audit::record(
                &mut tx,
                &actor,
                "create",
                "contact",
                Some(c.0),
                &format!("Contact {full_name} ajouté au client {} (demande d'identifiants n° {})", client.code, r.id),
            )
            .await?;
            c
        }
    };
    let created = create_access(
        &mut tx,
        &state.config.base_url,
        &firm,
        NewAccess {
            tenant_id: actor.tenant_id,
            client_id: Some(client.id),
            contact_id: Some(contact),
            email: email.clone(),
            full_name: full_name.clone(),
            role,
            permissions: typed.permissions.clone(),
            digest: DigestProfile::default(),
            temporary,
        },
    )
    .await;
    let user = match created {
        Ok(u) => u,
        Err(CreateUserError::Db(err)) => return Err(err.into()),
        Err(err) => {
            drop(tx);
            let field = match err {
                CreateUserError::NameRequired => "last_name",
                _ => "email",
            };
            let mut errors = FieldErrors::default();
            errors.add(field, err.to_string());
            let t = Typed { access: Some(typed), access_errors: errors, ..Typed::default() };
            return invalid(bo_page(&state, &actor, ctx, &r, t).await?);
        }
    };
    if !store::decide_credential_request(&mut tx, actor.tenant_id, r.id, "validated", "", Some(user), actor.user_id)
        .await?
    {
        return Err(already_decided());
    }
    audit::record(
        &mut tx,
        &actor,
        "create",
        "user",
        Some(user.0),
        &format!(
            "Accès extranet {} créé pour {full_name} ({}, client {}) ; identifiants envoyés par e-mail",
            email.as_str(),
            role.label(),
            client.code
        ),
    )
    .await?;
    audit::record(
        &mut tx,
        &actor,
        "validate",
        "credential_request",
        Some(r.id),
        &format!("Demande d'identifiants de {} validée : accès {} créé", r.full_name, email.as_str()),
    )
    .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&detail_url(r.id, "acces")).into_response())
}

/// Refusal: the reason is required and e-mailed to the requester.
pub async fn refuse(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = load(&state, &actor, &id).await?;
    require_processor(&actor)?;
    if r.status != "pending" {
        return Err(already_decided());
    }
    let reason = FormData(raw).text("reason");
    let problem =
        super::refusal_problem(&reason, "Indiquez le motif du refus : il est envoyé par e-mail au demandeur.");
    if let Some(msg) = problem {
        let t = Typed { refuse_reason: reason, refuse_error: Some(msg), ..Typed::default() };
        return invalid(bo_page(&state, &actor, ctx, &r, t).await?);
    }
    let firm = tenant_name(&state.db, actor.tenant_id).await?;
    let mut tx = state.db.begin().await?;
    if !store::decide_credential_request(&mut tx, actor.tenant_id, r.id, "refused", &reason, None, actor.user_id)
        .await?
    {
        return Err(already_decided());
    }
    mail::enqueue(
        &mut tx,
        OutgoingMail {
            tenant_id: Some(actor.tenant_id),
            to: r.email.clone(),
            subject: format!("Votre demande d'identifiants — {firm}"),
            text: format!(
                "Bonjour {},\n\nVous avez demandé des identifiants pour l'espace client de {firm} au nom de la société {}.\n\nNous ne pouvons pas donner suite à cette demande, pour le motif suivant :\n\n{reason}\n\nPour toute question, contactez directement {firm}.\n",
                r.full_name, r.company
            ),
            html: None,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        &actor,
        "refuse",
        "credential_request",
        Some(r.id),
        &format!("Demande d'identifiants de {} ({}) refusée : {reason}", r.full_name, r.company),
    )
    .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&detail_url(r.id, "enregistre")).into_response())
}
