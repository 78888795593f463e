//! Contact requests: the client admin asks the firm to create a contact, change one or remove
//! one; staff validate (the change is applied) or refuse with a reason. Each step notifies the
//! other side in the transaction of the change.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::store::{self, ContactRequestRow, NewContactRequest, ProposedContact, StatusFilter};
use super::{kind_label, require_client_admin, require_processor, status_label};
use crate::app::AppState;
use crate::db::Tx;
use crate::domain::format::fr_phone;
use crate::domain::time::fr_datetime;
use crate::domain::{ClientId, ContactId, Email, TenantId, UserId, parse_phone};
use crate::features::audit;
use crate::features::clients::contacts::CIVILITIES;
use crate::features::clients::store::{self as clients, ContactData, ContactRow};
use crate::features::clients::ui::{FieldErrors, FormData, Opt, parse_id};
use crate::features::notifications::{Audience, Event, notify};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};
use crate::on_db;

use super::MESSAGE_MAX;

// ---------------------------------------------------------------------------------------------
// Shared pieces

fn read_values(data: &FormData) -> ProposedContact {
    ProposedContact {
        civility: data.get("civility"),
        first_name: data.get("first_name"),
        last_name: data.get("last_name"),
        job_title: data.get("job_title"),
        email: data.get("email"),
        phone: data.get("phone"),
        mobile: data.get("mobile"),
    }
}

/// Checks typed values; returns them normalised (e-mail lower-cased, phones in E.164).
fn validate_values(t: &ProposedContact, e: &mut FieldErrors) -> ProposedContact {
    if !CIVILITIES.iter().any(|(c, _)| *c == t.civility) {
        e.add("civility", "Choisissez une civilité dans la liste.");
    }
    if t.last_name.is_empty() {
        e.add("last_name", "Le nom du contact est obligatoire.");
    }
    e.max_len("first_name", "Le prénom", &t.first_name, 100);
    e.max_len("last_name", "Le nom", &t.last_name, 100);
    e.max_len("job_title", "La fonction", &t.job_title, 150);
    let email = if t.email.is_empty() {
        String::new()
    } else {
        e.check("email", Email::parse(&t.email).map(|m| m.as_str().to_string()))
    };
    ProposedContact {
        civility: t.civility.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        job_title: t.job_title.clone(),
        email,
        phone: e.check("phone", parse_phone(&t.phone)),
        mobile: e.check("mobile", parse_phone(&t.mobile)),
    }
}

/// The values as shown in a form (phones French style).
fn for_display(v: &ProposedContact) -> ProposedContact {
    ProposedContact { phone: fr_phone(&v.phone), mobile: fr_phone(&v.mobile), ..v.clone() }
}

fn from_contact(c: &ContactRow) -> ProposedContact {
    ProposedContact {
        civility: c.civility.clone(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        job_title: c.job_title.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        mobile: c.mobile.clone(),
    }
}

fn civilities(current: &str) -> Vec<Opt> {
    CIVILITIES.iter().map(|(v, l)| Opt::new(*v, *l, current)).collect()
}

fn person(v: &ProposedContact) -> String {
    format!("{} {}", v.first_name, v.last_name).trim().to_string()
}

/// One line of a request's values: label, value (and, for changes, the current value).
pub struct ValueLine {
    pub label: &'static str,
    pub current: String,
    pub proposed: String,
    pub changed: bool,
}

fn value_lines(proposed: &ProposedContact, current: Option<&ProposedContact>) -> Vec<ValueLine> {
    let show = |v: &ProposedContact| {
        [
            v.civility.clone(),
            v.first_name.clone(),
            v.last_name.clone(),
            v.job_title.clone(),
            v.email.clone(),
            fr_phone(&v.phone),
            fr_phone(&v.mobile),
        ]
    };
    let labels = ["Civilité", "Prénom", "Nom", "Fonction", "E-mail", "Téléphone", "Mobile"];
    let p = show(proposed);
    let c = current.map(show);
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let cur = c.as_ref().map(|c| c[i].clone()).unwrap_or_default();
            ValueLine { label, changed: c.is_some() && cur != p[i], current: cur, proposed: p[i].clone() }
        })
        .collect()
}

/// A request as both faces show it.
pub struct RequestView {
    pub id: i64,
    pub kind: &'static str,
    pub kind_code: String,
    pub subject: String,
    pub client: String,
    pub created: String,
    pub requester: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub pending: bool,
    pub decided: String,
    pub decider: String,
    pub reason: String,
    pub message: String,
}

impl RequestView {
    fn from_row(r: &ContactRequestRow) -> RequestView {
        let (status, status_class) = status_label(&r.status);
        RequestView {
            id: r.id,
            kind: kind_label(&r.kind),
            kind_code: r.kind.clone(),
            subject: r.subject_name(),
            client: format!("{} — {}", r.client_code, r.client_name),
            created: fr_datetime(r.created_at),
            requester: r.requester_name.clone(),
            status,
            status_class,
            pending: r.status == "pending",
            decided: r.decided_at.map(fr_datetime).unwrap_or_default(),
            decider: r.decider_name.clone().unwrap_or_default(),
            reason: r.reason.clone(),
            message: r.message.clone(),
        }
    }
}

/// "la création du contact Anne Durand", for sentences.
fn what(kind: &str, subject: &str) -> String {
    match kind {
        "create" => format!("création du contact {subject}"),
        "change" => format!("modification du contact {subject}"),
        _ => format!("suppression du contact {subject}"),
    }
}

/// The account's own contact (a client admin does not ask for their own removal).
async fn own_contact(state: &AppState, user: UserId) -> AppResult<Option<ContactId>> {
    let found: Option<Option<ContactId>> =
        on_db!(&state.db, |p| sqlx::query_scalar("SELECT contact_id FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(p)
            .await)?;
    Ok(found.flatten())
}

/// An active contact of the actor's own company; anything else is not found.
async fn own_company_contact(state: &AppState, actor: &ClientActor, raw_id: &str) -> AppResult<ContactRow> {
    let id = parse_id(raw_id)?;
    let contact = clients::contact(&state.db, actor.0.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    if contact.client_id != actor.client_id() || contact.archived {
        return Err(AppError::NotFound);
    }
    Ok(contact)
}

/// Records a new request, audits it and tells the firm's office, in one transaction.
async fn submit_request(
    state: &AppState,
    actor: &ClientActor,
    kind: &str,
    contact: Option<&ContactRow>,
    values: &ProposedContact,
    message: &str,
) -> AppResult<i64> {
    let a = &actor.0;
    let client = actor.client_id();
    let mut tx = state.db.begin().await?;
    let c = clients::client_tx(&mut tx, a.tenant_id, client.0).await?.ok_or(AppError::NotFound)?;
    let id = store::insert_contact_request(
        &mut tx,
        &NewContactRequest {
            tenant_id: a.tenant_id,
            client_id: client,
            requested_by: a.user_id,
            kind,
            contact_id: contact.map(|ct| ct.id),
            values,
            message,
        },
    )
    .await?;
    let subject = contact.map(|ct| ct.person_name()).unwrap_or_else(|| person(values));
    let summary = format!("Demande de {} (client {})", what(kind, &subject), c.code);
    audit::record(&mut tx, a, "request", "contact_request", Some(id), &summary).await?;
    let event = Event {
        tenant_id: a.tenant_id,
        client_id: Some(client),
        kind: "contact_request",
        event_key: format!("contact_request:{id}"),
        title: format!("{} — demande de {} par {}", c.code, what(kind, &subject), a.full_name),
        link: format!("/bo/demandes/contacts/{id}"),
        site_label: String::new(),
    };
    notify(&mut tx, &event, Audience::Office).await?;
    tx.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// Extranet: the list of the company's contacts and requests

pub struct ContactLine {
    pub id: i64,
    pub name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub mobile: String,
    pub pending: bool,
    pub is_self: bool,
}

pub struct RequestLine {
    pub id: i64,
    pub created: String,
    pub kind: &'static str,
    pub subject: String,
    pub requester: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub decided: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "requests/espace_list.html")]
struct EspaceListPage {
    ctx: Ctx,
    company: String,
    contacts: Vec<ContactLine>,
    requests: Vec<RequestLine>,
}

pub async fn espace_list(State(state): State<AppState>, ctx: Ctx, actor: ClientActor) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let tenant = actor.0.tenant_id;
    let client = clients::client(&state.db, tenant, actor.client_id().0).await?.ok_or(AppError::NotFound)?;
    let rows = store::contact_requests(&state.db, tenant, Some(client.id), StatusFilter::All).await?;
    let pending: Vec<ContactId> = rows.iter().filter(|r| r.status == "pending").filter_map(|r| r.contact_id).collect();
    let me = own_contact(&state, actor.0.user_id).await?;
    let contacts = clients::contacts_of(&state.db, tenant, client.id, false)
        .await?
        .iter()
        .map(|c| ContactLine {
            id: c.id.0,
            name: c.full_name(),
            job_title: c.job_title.clone(),
            email: c.email.clone(),
            phone: fr_phone(&c.phone),
            mobile: fr_phone(&c.mobile),
            pending: pending.contains(&c.id),
            is_self: me == Some(c.id),
        })
        .collect();
    let requests = rows
        .iter()
        .map(|r| {
            let (status, status_class) = status_label(&r.status);
            RequestLine {
                id: r.id,
                created: fr_datetime(r.created_at),
                kind: kind_label(&r.kind),
                subject: r.subject_name(),
                requester: r.requester_name.clone(),
                status,
                status_class,
                decided: r.decided_at.map(fr_datetime).unwrap_or_default(),
                reason: r.reason.clone(),
            }
        })
        .collect();
    let page = EspaceListPage { ctx: ctx.with_nav("company"), company: client.name, contacts, requests };
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Extranet: asking for a new contact or a change

#[derive(Template)]
#[template(path = "requests/espace_form.html")]
struct EspaceFormPage {
    ctx: Ctx,
    title: String,
    intro: String,
    action: String,
    form: ProposedContact,
    message: String,
    civilities: Vec<Opt>,
    errors: FieldErrors,
}

fn form_page(
    ctx: Ctx,
    contact: Option<&ContactRow>,
    form: ProposedContact,
    message: String,
    errors: FieldErrors,
) -> EspaceFormPage {
    let (title, intro, action) = match contact {
        Some(c) => (
            format!("Demander la modification de {}", c.full_name()),
            "Corrigez les informations à modifier : nos équipes vérifient la demande avant de l'appliquer.".to_string(),
            format!("/espace/entreprise/contacts/{}/demande-modification", c.id),
        ),
        None => (
            "Demander un nouveau contact".to_string(),
            "Indiquez les coordonnées du collaborateur à ajouter : après validation par nos équipes, vous pourrez lui donner accès à l'espace client.".to_string(),
            "/espace/entreprise/demandes/nouveau-contact".to_string(),
        ),
    };
    EspaceFormPage {
        ctx: ctx.with_nav("company"),
        title,
        intro,
        action,
        civilities: civilities(&form.civility),
        form,
        message,
        errors,
    }
}

fn invalid<T: Template>(page: &T) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
}

pub async fn create_page(ctx: Ctx, actor: ClientActor) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let page = form_page(ctx, None, ProposedContact::default(), String::new(), FieldErrors::default());
    Ok(render(&page)?.into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let data = FormData(raw);
    let typed = read_values(&data);
    let message = data.text("message");
    let mut errors = FieldErrors::default();
    let values = validate_values(&typed, &mut errors);
    errors.max_len("message", "Le message", &message, MESSAGE_MAX);
    if !errors.is_empty() {
        return invalid(&form_page(ctx, None, typed, message, errors));
    }
    let id = submit_request(&state, &actor, "create", None, &values, &message).await?;
    Ok(Redirect::to(&format!("/espace/entreprise/demandes/{id}?msg=envoye")).into_response())
}

pub async fn change_page(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let contact = own_company_contact(&state, &actor, &id).await?;
    let form = for_display(&from_contact(&contact));
    Ok(render(&form_page(ctx, Some(&contact), form, String::new(), FieldErrors::default()))?.into_response())
}

fn already_pending(errors: &mut FieldErrors) {
    errors.add(
        "message",
        "Une demande est déjà en attente pour ce contact : attendez sa réponse avant d'en envoyer une autre.",
    );
}

pub async fn change(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let contact = own_company_contact(&state, &actor, &id).await?;
    let data = FormData(raw);
    let typed = read_values(&data);
    let message = data.text("message");
    let mut errors = FieldErrors::default();
    let values = validate_values(&typed, &mut errors);
    errors.max_len("message", "Le message", &message, MESSAGE_MAX);
    if errors.is_empty() && values == from_contact(&contact) {
        errors.add("last_name", "Aucune information n'a été modifiée : changez au moins un champ.");
    }
    if store::pending_for_contact(&state.db, actor.0.tenant_id, contact.id).await? {
        already_pending(&mut errors);
    }
    if !errors.is_empty() {
        return invalid(&form_page(ctx, Some(&contact), typed, message, errors));
    }
    let id = submit_request(&state, &actor, "change", Some(&contact), &values, &message).await?;
    Ok(Redirect::to(&format!("/espace/entreprise/demandes/{id}?msg=envoye")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Extranet: asking for a removal

#[derive(Template)]
#[template(path = "requests/espace_remove.html")]
struct EspaceRemovePage {
    ctx: Ctx,
    contact_id: i64,
    name: String,
    job_title: String,
    email: String,
    has_access: bool,
    reason: String,
    errors: FieldErrors,
}

async fn remove_form(
    state: &AppState,
    tenant: TenantId,
    ctx: Ctx,
    contact: &ContactRow,
    reason: String,
    errors: FieldErrors,
) -> AppResult<EspaceRemovePage> {
    let users = clients::users_of(&state.db, tenant, contact.client_id).await?;
    let has_access = users.iter().any(|u| u.active && u.contact_id == Some(contact.id));
    Ok(EspaceRemovePage {
        ctx: ctx.with_nav("company"),
        contact_id: contact.id.0,
        name: contact.full_name(),
        job_title: contact.job_title.clone(),
        email: contact.email.clone(),
        has_access,
        reason,
        errors,
    })
}

pub async fn remove_page(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let contact = own_company_contact(&state, &actor, &id).await?;
    let mut errors = FieldErrors::default();
    if own_contact(&state, actor.0.user_id).await? == Some(contact.id) {
        errors.add("reason", self_removal_message());
    }
    Ok(render(&remove_form(&state, actor.0.tenant_id, ctx, &contact, String::new(), errors).await?)?.into_response())
}

fn self_removal_message() -> &'static str {
    "Vous ne pouvez pas demander votre propre suppression : votre accès serait fermé. Contactez directement nos équipes."
}

pub async fn remove(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let contact = own_company_contact(&state, &actor, &id).await?;
    let reason = FormData(raw).text("reason");
    let mut errors = FieldErrors::default();
    if reason.is_empty() {
        errors.add("reason", "Indiquez le motif de la suppression (départ de l'entreprise, changement de poste…).");
    }
    errors.max_len("reason", "Le motif", &reason, MESSAGE_MAX);
    if own_contact(&state, actor.0.user_id).await? == Some(contact.id) {
        errors.add("reason", self_removal_message());
    }
    if store::pending_for_contact(&state.db, actor.0.tenant_id, contact.id).await? {
        errors.add(
            "reason",
            "Une demande est déjà en attente pour ce contact : attendez sa réponse avant d'en envoyer une autre.",
        );
    }
    if !errors.is_empty() {
        return invalid(&remove_form(&state, actor.0.tenant_id, ctx, &contact, reason, errors).await?);
    }
    let values = from_contact(&contact);
    let id = submit_request(&state, &actor, "remove", Some(&contact), &values, &reason).await?;
    Ok(Redirect::to(&format!("/espace/entreprise/demandes/{id}?msg=envoye")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Extranet: one request

#[derive(Template)]
#[template(path = "requests/espace_detail.html")]
struct EspaceDetailPage {
    ctx: Ctx,
    r: RequestView,
    values: Vec<ValueLine>,
    show_current: bool,
    /// Once a new contact is validated, where the admin gives them access.
    access_link: Option<String>,
}

pub async fn espace_detail(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let id = parse_id(&id)?;
    let row = store::contact_request(&state.db, actor.0.tenant_id, Some(actor.client_id()), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let current = match (row.kind.as_str(), row.status.as_str(), row.contact_id) {
        ("change", "pending", Some(cid)) => clients::contact(&state.db, actor.0.tenant_id, cid.0)
            .await?
            .filter(|c| c.client_id == actor.client_id())
            .map(|c| from_contact(&c)),
        _ => None,
    };
    let values = if row.kind == "remove" { Vec::new() } else { value_lines(&row.proposed(), current.as_ref()) };
    // Once a new contact is created, the admin gives them access (if nobody did yet).
    let access_link = match (row.kind.as_str(), row.status.as_str(), row.result_contact_id) {
        ("create", "validated", Some(cid)) => {
            let active = clients::contact(&state.db, actor.0.tenant_id, cid.0)
                .await?
                .is_some_and(|c| c.client_id == actor.client_id() && !c.archived);
            let has_access = clients::users_of(&state.db, actor.0.tenant_id, actor.client_id())
                .await?
                .iter()
                .any(|u| u.active && u.contact_id == Some(cid));
            (active && !has_access).then(|| format!("/espace/entreprise/contacts/{cid}/acces"))
        }
        _ => None,
    };
    let page = EspaceDetailPage {
        ctx: ctx.with_nav("company"),
        show_current: current.is_some(),
        r: RequestView::from_row(&row),
        values,
        access_link,
    };
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Back office: one request, validated or refused

#[derive(Template)]
#[template(path = "requests/bo_contact.html")]
struct BoContactPage {
    ctx: Ctx,
    r: RequestView,
    client_id: ClientId,
    values: Vec<ValueLine>,
    show_current: bool,
    /// The form of the values to apply (create and change), editable by staff.
    form: ProposedContact,
    civilities: Vec<Opt>,
    errors: FieldErrors,
    refuse_reason: String,
    refuse_error: Option<String>,
    /// Accounts a removal will deactivate.
    accounts: Vec<String>,
    /// Set when the contact of a change or removal is gone (archived or moved).
    blocked: Option<&'static str>,
    result_contact: Option<i64>,
}

struct BoForm {
    form: Option<ProposedContact>,
    errors: FieldErrors,
    refuse_reason: String,
    refuse_error: Option<String>,
}

impl BoForm {
    fn empty() -> BoForm {
        BoForm { form: None, errors: FieldErrors::default(), refuse_reason: String::new(), refuse_error: None }
    }
}

async fn load_request(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<ContactRequestRow> {
    let id = parse_id(raw_id)?;
    store::contact_request(&state.db, actor.tenant_id, None, id).await?.ok_or(AppError::NotFound)
}

/// The contact a change or removal is about, if it is still an active contact of the request's
/// client.
async fn target_contact(state: &AppState, actor: &Actor, r: &ContactRequestRow) -> AppResult<Option<ContactRow>> {
    let Some(cid) = r.contact_id else { return Ok(None) };
    Ok(clients::contact(&state.db, actor.tenant_id, cid.0).await?.filter(|c| c.client_id == r.client_id && !c.archived))
}

async fn bo_page(
    state: &AppState,
    actor: &Actor,
    ctx: Ctx,
    r: &ContactRequestRow,
    f: BoForm,
) -> AppResult<BoContactPage> {
    let pending = r.status == "pending";
    let target = if r.kind == "create" { None } else { target_contact(state, actor, r).await? };
    let current = if r.kind == "change" && pending { target.as_ref().map(from_contact) } else { None };
    let blocked = if pending && r.kind != "create" && target.is_none() {
        Some("Ce contact n'existe plus ou a été archivé entre-temps : refusez la demande en indiquant le motif.")
    } else {
        None
    };
    let accounts = match (&target, r.kind.as_str()) {
        (Some(ct), "remove") => clients::users_of(&state.db, actor.tenant_id, r.client_id)
            .await?
            .into_iter()
            .filter(|u| u.active && u.contact_id == Some(ct.id))
            .map(|u| format!("{} <{}>", u.full_name, u.email))
            .collect(),
        _ => Vec::new(),
    };
    let values = if r.kind == "remove" { Vec::new() } else { value_lines(&r.proposed(), current.as_ref()) };
    let form = f.form.unwrap_or_else(|| for_display(&r.proposed()));
    Ok(BoContactPage {
        ctx: ctx.with_nav("requests"),
        r: RequestView::from_row(r),
        client_id: r.client_id,
        values,
        show_current: current.is_some(),
        civilities: civilities(&form.civility),
        form,
        errors: f.errors,
        refuse_reason: f.refuse_reason,
        refuse_error: f.refuse_error,
        accounts,
        blocked,
        result_contact: r.result_contact_id.map(|c| c.0),
    })
}

pub async fn bo_detail(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let r = load_request(&state, &actor, &id).await?;
    require_processor(&actor)?;
    Ok(render(&bo_page(&state, &actor, ctx, &r, BoForm::empty()).await?)?.into_response())
}

fn already_decided() -> AppError {
    AppError::BadRequest("Cette demande a déjà été traitée : rechargez la liste des demandes.".into())
}

/// Tells the requester about the decision.
async fn notify_decision(
    tx: &mut Tx,
    actor: &Actor,
    r: &ContactRequestRow,
    validated: bool,
    reason: &str,
) -> AppResult<()> {
    let subject = r.subject_name();
    let title = if validated {
        format!("Votre demande de {} a été validée.", what(&r.kind, &subject))
    } else {
        format!("Votre demande de {} a été refusée : {reason}", what(&r.kind, &subject))
    };
    let event = Event {
        tenant_id: actor.tenant_id,
        client_id: Some(r.client_id),
        kind: if validated { "contact_request_validated" } else { "contact_request_refused" },
        event_key: format!("contact_request:{}:decision", r.id),
        title,
        link: format!("/espace/entreprise/demandes/{}", r.id),
        site_label: String::new(),
    };
    notify(tx, &event, Audience::User(r.requested_by)).await?;
    Ok(())
}

pub async fn validate(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = load_request(&state, &actor, &id).await?;
    require_processor(&actor)?;
    if r.status != "pending" {
        return Err(already_decided());
    }
    let data = FormData(raw);
    // Staff may correct the proposed values before applying them.
    let values = if r.kind == "remove" {
        r.proposed()
    } else {
        let typed = read_values(&data);
        let mut errors = FieldErrors::default();
        let values = validate_values(&typed, &mut errors);
        if !errors.is_empty() {
            let f = BoForm { form: Some(typed), errors, ..BoForm::empty() };
            return invalid(&bo_page(&state, &actor, ctx, &r, f).await?);
        }
        values
    };
    let mut tx = state.db.begin().await?;
    if !store::decide_contact_request(&mut tx, actor.tenant_id, r.id, "validated", "", actor.user_id).await? {
        return Err(already_decided());
    }
    let client = clients::client_tx(&mut tx, actor.tenant_id, r.client_id.0).await?.ok_or(AppError::NotFound)?;
    let gone = || {
        AppError::BadRequest(
            "Ce contact n'existe plus ou a été archivé entre-temps : refusez la demande en indiquant le motif.".into(),
        )
    };
    match r.kind.as_str() {
        "create" => {
            if client.archived {
                return Err(AppError::BadRequest(
                    "Ce client est archivé : réactivez-le avant de valider la demande.".into(),
                ));
            }
            let data = ContactData {
                civility: values.civility.clone(),
                first_name: values.first_name.clone(),
                last_name: values.last_name.clone(),
                job_title: values.job_title.clone(),
                email: values.email.clone(),
                email_alt: String::new(),
                phone: values.phone.clone(),
                mobile: values.mobile.clone(),
            };
            let contact = clients::insert_contact(&mut tx, actor.tenant_id, client.id, &data).await?;
            store::set_contact_request_result(&mut tx, actor.tenant_id, r.id, &values, contact).await?;
            audit::record(
                &mut tx,
                &actor,
                "create",
                "contact",
                Some(contact.0),
                &format!("Contact {} ajouté au client {} (demande n° {})", person(&values), client.code, r.id),
            )
            .await?;
        }
        "change" => {
            let cid = r.contact_id.ok_or_else(gone)?;
            let current = clients::contact_tx(&mut tx, actor.tenant_id, cid.0)
                .await?
                .filter(|c| c.client_id == client.id && !c.archived)
                .ok_or_else(gone)?;
            let data = ContactData {
                civility: values.civility.clone(),
                first_name: values.first_name.clone(),
                last_name: values.last_name.clone(),
                job_title: values.job_title.clone(),
                email: values.email.clone(),
                email_alt: current.email_alt.clone(),
                phone: values.phone.clone(),
                mobile: values.mobile.clone(),
            };
            if clients::update_contact(&mut tx, actor.tenant_id, current.id, &data).await? == 0 {
                return Err(gone());
            }
            store::set_contact_request_result(&mut tx, actor.tenant_id, r.id, &values, current.id).await?;
            audit::record(
                &mut tx,
                &actor,
                "update",
                "contact",
                Some(current.id.0),
                &format!("Contact {} du client {} modifié (demande n° {})", person(&values), client.code, r.id),
            )
            .await?;
        }
        _ => {
            let cid = r.contact_id.ok_or_else(gone)?;
            let current = clients::contact_tx(&mut tx, actor.tenant_id, cid.0)
                .await?
                .filter(|c| c.client_id == client.id && !c.archived)
                .ok_or_else(gone)?;
            clients::set_contact_archived(&mut tx, actor.tenant_id, current.id, true).await?;
            store::set_result_contact(&mut tx, actor.tenant_id, r.id, current.id).await?;
            audit::record(
                &mut tx,
                &actor,
                "archive",
                "contact",
                Some(current.id.0),
                &format!("Contact {} du client {} archivé (demande n° {})", current.person_name(), client.code, r.id),
            )
            .await?;
            for (user, email) in
                store::deactivate_users_of_contact(&mut tx, actor.tenant_id, client.id, current.id).await?
            {
                audit::record(
                    &mut tx,
                    &actor,
                    "deactivate",
                    "user",
                    Some(user.0),
                    &format!("Accès {email} désactivé : contact supprimé à la demande du client (demande n° {})", r.id),
                )
                .await?;
            }
        }
    }
    audit::record(
        &mut tx,
        &actor,
        "validate",
        "contact_request",
        Some(r.id),
        &format!("Demande de {} (client {}) validée", what(&r.kind, &r.subject_name()), client.code),
    )
    .await?;
    notify_decision(&mut tx, &actor, &r, true, "").await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/demandes/contacts/{}?msg=enregistre", r.id)).into_response())
}

pub async fn refuse(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = load_request(&state, &actor, &id).await?;
    require_processor(&actor)?;
    if r.status != "pending" {
        return Err(already_decided());
    }
    let reason = FormData(raw).text("reason");
    let problem = super::refusal_problem(&reason, "Indiquez le motif du refus : il est transmis au client.");
    if let Some(msg) = problem {
        let f = BoForm { refuse_reason: reason, refuse_error: Some(msg), ..BoForm::empty() };
        return invalid(&bo_page(&state, &actor, ctx, &r, f).await?);
    }
    let mut tx = state.db.begin().await?;
    if !store::decide_contact_request(&mut tx, actor.tenant_id, r.id, "refused", &reason, actor.user_id).await? {
        return Err(already_decided());
    }
    audit::record(
        &mut tx,
        &actor,
        "refuse",
        "contact_request",
        Some(r.id),
        &format!("Demande de {} (client {}) refusée : {reason}", what(&r.kind, &r.subject_name()), r.client_code),
    )
    .await?;
    notify_decision(&mut tx, &actor, &r, false, &reason).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/demandes/contacts/{}?msg=enregistre", r.id)).into_response())
}
