//! The extranet's "Mon entreprise": the client user's own company and its contacts, with each
//! contact's extranet access. The company's administrators edit the company's details (same
//! validation and storage as the back office) and manage their colleagues' accesses
//! (`features::account::access`); other users read. The client always comes from the session,
//! never from the URL.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};

use super::store::{self, ClientData, ClientRow};
use super::ui::{FieldErrors, FormData};
use super::{ClientView, ContactView};
use crate::app::AppState;
use crate::domain::format::fr_phone;
use crate::domain::time::{fr_datetime, now_ms};
use crate::domain::{Permission, Permissions, Role};
use crate::features::account::access::require_client_admin;
use crate::features::account::store::{CollaboratorRow, collaborators};
use crate::features::audit;
use crate::features::notifications::{Audience, Event, notify};
use crate::features::users::account::{DigestProfile, FirmDigest, access_status, firm_digest};
use crate::http::{AppError, AppResult, ClientActor, Ctx, render};
use crate::on_db;

/// The routes of this page beyond `GET /espace/entreprise` (registered by `features::account`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/espace/entreprise/modifier", get(edit_page).post(save))
}

#[derive(sqlx::FromRow)]
struct FirmRow {
    legal_name: String,
    phone: String,
    email: String,
}

/// A contact's extranet access, as the company's admin sees it.
pub struct AccessItem {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: &'static str,
    pub status: &'static str,
    pub status_class: &'static str,
    pub active: bool,
    pub digest: String,
    pub permissions: String,
    pub last_login: String,
    pub is_self: bool,
}

pub struct ContactLine {
    pub contact: ContactView,
    pub access: Option<AccessItem>,
}

#[derive(Template)]
#[template(path = "espace/company.html")]
struct CompanyPage {
    ctx: Ctx,
    c: ClientView,
    contacts: Vec<ContactLine>,
    /// Accesses not tied to a listed contact.
    others: Vec<AccessItem>,
    is_admin: bool,
    firm_name: String,
    firm_phone: String,
    firm_phone_link: String,
    firm_email: String,
}

fn access_item(u: &CollaboratorRow, firm: &FirmDigest, me: i64, now: i64) -> AccessItem {
    let (status, status_class) = access_status(u.active, u.must_change_password, u.temp_password_expires_at, now);
    let perms = Permissions::parse(&u.permissions);
    let role = Role::parse(&u.role).unwrap_or(Role::ClientUser);
    let permissions = if role == Role::ClientAdmin {
        "Toutes".to_string()
    } else {
        let list: Vec<&str> = Permission::ALL.into_iter().filter(|p| perms.has(*p)).map(|p| p.label()).collect();
        if list.is_empty() { "—".to_string() } else { list.join(", ") }
    };
    AccessItem {
        user_id: u.id.0,
        email: u.email.clone(),
        name: u.full_name.clone(),
        role: match role {
            Role::ClientAdmin => "Administrateur",
            _ => "Utilisateur",
        },
        status: if u.active { status } else { "Accès révoqué" },
        status_class,
        active: u.active,
        digest: DigestProfile::from_stored(&u.digest_frequency, u.digest_weekday).label(firm),
        permissions,
        last_login: u.last_login_at.map(fr_datetime).unwrap_or_else(|| "jamais".into()),
        is_self: u.id.0 == me,
    }
}

pub async fn page(State(state): State<AppState>, ctx: Ctx, actor: ClientActor) -> AppResult<Response> {
    let tenant = actor.0.tenant_id;
    let client_id = actor.client_id();
    let client = store::client(&state.db, tenant, client_id.0).await?.ok_or(AppError::NotFound)?;
    let contacts = store::contacts_of(&state.db, tenant, client.id, false).await?;
    let users = collaborators(&state.db, tenant, client.id).await?;
    let firm_digest = firm_digest(&state.db, tenant).await?;
    let now = now_ms();
    let me = actor.0.user_id.0;
    let lines: Vec<ContactLine> = contacts
        .iter()
        .map(|c| {
            // An active account first, then a revoked one.
            let u = users.iter().filter(|u| u.contact_id == Some(c.id)).max_by_key(|u| u.active);
            ContactLine {
                contact: ContactView::from_row(c, u.is_some_and(|u| u.active)),
                access: u.map(|u| access_item(u, &firm_digest, me, now)),
            }
        })
        .collect();
    let others = users
        .iter()
        .filter(|u| !lines.iter().any(|l| l.access.as_ref().is_some_and(|a| a.user_id == u.id.0)))
        .map(|u| access_item(u, &firm_digest, me, now))
        .collect();
    let firm: FirmRow =
        on_db!(&state.db, |p| sqlx::query_as("SELECT legal_name, phone, email FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(p)
            .await)?;
    let page = CompanyPage {
        ctx: ctx.with_nav("company"),
        c: ClientView::from_row(&client),
        contacts: lines,
        others,
        is_admin: actor.0.role == Role::ClientAdmin,
        firm_name: firm.legal_name,
        firm_phone: fr_phone(&firm.phone),
        firm_phone_link: firm.phone,
        firm_email: firm.email,
    };
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Editing the company's details (client admins)

#[derive(Template)]
#[template(path = "espace/company_form.html")]
struct FormPage {
    ctx: Ctx,
    code: String,
    form: ClientData,
    errors: FieldErrors,
}

/// The admin edits what identifies and reaches the company; the firm keeps the code, the kind
/// and its internal notes.
fn read_form(current: &ClientRow, data: &FormData) -> ClientData {
    let typed = super::read_form(data);
    ClientData { code: current.code.clone(), kind: current.kind.clone(), notes: current.notes.clone(), ..typed }
}

async fn own_client(state: &AppState, actor: &ClientActor) -> AppResult<ClientRow> {
    store::client(&state.db, actor.0.tenant_id, actor.client_id().0).await?.ok_or(AppError::NotFound)
}

async fn edit_page(State(state): State<AppState>, ctx: Ctx, actor: ClientActor) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let client = own_client(&state, &actor).await?;
    let mut form = ClientData::from(&client);
    form.phone = fr_phone(&form.phone);
    let page =
        FormPage { ctx: ctx.with_nav("company"), code: client.code.clone(), form, errors: FieldErrors::default() };
    Ok(render(&page)?.into_response())
}

async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require_client_admin(&actor)?;
    let client = own_client(&state, &actor).await?;
    let typed = read_form(&client, &FormData(raw));
    let data = match super::validate(&typed, true) {
        Ok(d) => d,
        Err(errors) => {
            let page = FormPage { ctx: ctx.with_nav("company"), code: client.code.clone(), form: typed, errors };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let changes = super::changed_fields(&ClientData::from(&client), &data);
    if changes.is_empty() {
        return Ok(Redirect::to("/espace/entreprise?msg=enregistre").into_response());
    }
    let actor = actor.0;
    let mut tx = state.db.begin().await?;
    if store::update(&mut tx, actor.tenant_id, client.id, &data).await? == 0 {
        return Err(AppError::NotFound);
    }
    let summary = format!("Client {} {} modifié par son administrateur ({changes})", data.code, data.name);
    audit::record(&mut tx, &actor, "update", "client", Some(client.id.0), &summary).await?;
    // The firm learns that its client changed its details (billing e-mail, address…).
    let event = Event {
        tenant_id: actor.tenant_id,
        client_id: Some(client.id),
        kind: "client_details_updated",
        event_key: format!("client_details:{}:{}", client.id, now_ms()),
        title: format!("{} — {} a mis à jour ses coordonnées ({changes})", data.code, data.name),
        link: format!("/bo/clients/{}", client.id),
        site_label: String::new(),
    };
    notify(&mut tx, &event, Audience::Office).await?;
    tx.commit().await?;
    Ok(Redirect::to("/espace/entreprise?msg=enregistre").into_response())
}
