//! Accounts of staff and client users: listing, creation with a temporary password sent by
//! e-mail, edition (role, permissions, activation), new temporary passwords. The firm admin
//! manages every account; office staff manage client accounts only; technicians see nothing.

pub mod account;
pub mod logo;
pub mod settings;
pub mod store;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::is_unique_violation;
use crate::domain::text::like_pattern;
use crate::domain::time::{fr_date, fr_datetime, now_ms};
use crate::domain::{ClientId, ContactId, Email, Permission, Permissions, Role, UserId};
use crate::features::account::{DigestFields, digest_fields, profile_values};
use crate::features::audit;
use crate::features::clients::store as clients;
use crate::features::clients::ui::{FieldErrors, FormData, Opt, Pager, parse_id, parse_opt_id, url_with};
use crate::features::home::tenant_name;
use crate::http::session::destroy_all_for_user;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};
use account::{
    CreateUserError, DigestProfile, NewAccess, TemporaryPassword, access_status, create_access, firm_digest,
    reissue_access, set_digest,
};
use store::{UserRow, UserUpdate};

pub const PER_PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/utilisateurs", get(list))
        .route("/bo/utilisateurs/nouveau", get(new_page).post(create))
        .route("/bo/utilisateurs/{id}/modifier", get(edit_page).post(update))
        .route("/bo/utilisateurs/{id}/mot-de-passe-temporaire", post(reissue))
        .merge(settings::routes())
        .merge(logo::routes())
}

/// Admin and office staff open the users pages; technicians do not.
fn require_user_manager(actor: &Actor) -> AppResult<()> {
    if matches!(actor.role, Role::Admin | Role::Office) { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Whether `actor` may create or modify an account with `role`: the admin any account, office
/// staff client accounts only.
pub fn may_manage(actor: &Actor, role: Role) -> bool {
    match actor.role {
        Role::Admin => true,
        Role::Office => !role.is_staff(),
        _ => false,
    }
}

fn role_label(code: &str) -> String {
    Role::parse(code).map(|r| r.label().to_string()).unwrap_or_else(|| code.to_string())
}

fn status_of(u: &UserRow, now: i64) -> (&'static str, &'static str) {
    access_status(u.active, u.must_change_password, u.temp_password_expires_at, now)
}

fn client_label(u: &UserRow) -> String {
    match (&u.client_code, &u.client_name) {
        (Some(code), Some(name)) => format!("{code} — {name}"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Listing

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    profil: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    actif: String,
    #[serde(default)]
    tri: String,
    #[serde(default)]
    page: String,
}

impl ListQuery {
    fn profile(&self) -> &'static str {
        match self.profil.as_str() {
            "personnel" => "personnel",
            "client" => "client",
            _ => "",
        }
    }

    fn role(&self) -> &'static str {
        Role::parse(&self.role).map(Role::code).unwrap_or("")
    }

    fn active(&self) -> &'static str {
        match self.actif.as_str() {
            "1" => "1",
            "0" => "0",
            _ => "",
        }
    }

    fn sort(&self) -> &'static str {
        match self.tri.as_str() {
            "email" => "email",
            "connexion" => "connexion",
            _ => "nom",
        }
    }

    fn client(&self) -> Option<i64> {
        self.client.trim().parse::<i64>().ok()
    }

    fn url(&self, sort: &str, page: i64) -> String {
        let client = self.client().map(|c| c.to_string()).unwrap_or_default();
        let page = if page > 1 { page.to_string() } else { String::new() };
        url_with(
            "/bo/utilisateurs",
            &[
                ("q", self.q.trim()),
                ("profil", self.profile()),
                ("role", self.role()),
                ("client", &client),
                ("actif", self.active()),
                ("tri", if sort == "nom" { "" } else { sort }),
                ("page", &page),
            ],
        )
    }
}

pub struct UserItem {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub client: String,
    pub client_id: Option<ClientId>,
    pub status: &'static str,
    pub status_class: &'static str,
    pub last_login: String,
    pub editable: bool,
}

pub struct SortLink {
    pub label: &'static str,
    pub url: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "bo/users/list.html")]
struct ListPage {
    ctx: Ctx,
    q: String,
    profiles: Vec<Opt>,
    roles: Vec<Opt>,
    clients: Vec<Opt>,
    actives: Vec<Opt>,
    sorts: Vec<SortLink>,
    rows: Vec<UserItem>,
    pager: Pager,
    filtered: bool,
    is_admin: bool,
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    require_user_manager(&actor)?;
    let filter = store::UserFilter {
        pattern: if q.q.trim().is_empty() { String::new() } else { like_pattern(q.q.trim()) },
        profile: q.profile().to_string(),
        role: q.role().to_string(),
        client: q.client().map(ClientId),
        active: q.active().to_string(),
        sort: q.sort(),
    };
    let requested = Pager::requested(&q.page);
    let (mut rows, total) =
        store::list(&state.db, actor.tenant_id, &filter, PER_PAGE, Pager::offset(requested, PER_PAGE)).await?;
    let pager = Pager::new(requested, PER_PAGE, total, |n| q.url(q.sort(), n));
    if pager.page != requested {
        rows = store::list(&state.db, actor.tenant_id, &filter, PER_PAGE, Pager::offset(pager.page, PER_PAGE)).await?.0;
    }
    let now = now_ms();
    let client_filter = q.client().map(|c| c.to_string()).unwrap_or_default();
    let mut clients = vec![Opt::new("", "Tous les clients", &client_filter)];
    clients.extend(
        clients::active_clients(&state.db, actor.tenant_id)
            .await?
            .into_iter()
            .map(|(id, code, name)| Opt::new(id.to_string(), format!("{code} — {name}"), &client_filter)),
    );
    let mut roles = vec![Opt::new("", "Tous les rôles", q.role())];
    roles.extend(Role::ALL.into_iter().map(|r| Opt::new(r.code(), r.label(), q.role())));
    let items = rows
        .iter()
        .map(|u| {
            let (status, status_class) = status_of(u, now);
            UserItem {
                id: u.id.0,
                name: u.full_name.clone(),
                email: u.email.clone(),
                role: role_label(&u.role),
                client: client_label(u),
                client_id: u.client_id,
                status,
                status_class,
                last_login: u.last_login_at.map(fr_datetime).unwrap_or_else(|| "jamais".into()),
                editable: Role::parse(&u.role).is_some_and(|r| may_manage(&actor, r)),
            }
        })
        .collect();
    let page = ListPage {
        ctx: ctx.with_nav("users"),
        q: q.q.trim().to_string(),
        profiles: vec![
            Opt::new("", "Tous les comptes", q.profile()),
            Opt::new("personnel", "Personnel", q.profile()),
            Opt::new("client", "Clients (extranet)", q.profile()),
        ],
        roles,
        clients,
        actives: vec![
            Opt::new("", "Tous", q.active()),
            Opt::new("1", "Actifs", q.active()),
            Opt::new("0", "Désactivés", q.active()),
        ],
        sorts: [("nom", "Nom"), ("email", "E-mail"), ("connexion", "Dernière connexion")]
            .into_iter()
            .map(|(key, label)| SortLink { label, url: q.url(key, 1), current: q.sort() == key })
            .collect(),
        rows: items,
        pager,
        filtered: !q.q.trim().is_empty()
            || !q.profile().is_empty()
            || !q.role().is_empty()
            || q.client().is_some()
            || !q.active().is_empty(),
        is_admin: actor.role == Role::Admin,
    };
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Shared form pieces

pub struct PermOpt {
    pub code: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

fn perm_opts(current: &Permissions) -> Vec<PermOpt> {
    Permission::ALL.into_iter().map(|p| PermOpt { code: p.code(), label: p.label(), checked: current.has(p) }).collect()
}

fn read_permissions(data: &FormData) -> Permissions {
    let chosen = data.all("permissions");
    let list: Vec<Permission> = Permission::ALL.into_iter().filter(|p| chosen.iter().any(|c| c == p.code())).collect();
    Permissions::from_list(&list)
}

/// The roles `actor` may give to an account of this profile (staff or client).
fn role_choices(actor: &Actor, staff: bool, current: &str) -> Vec<Opt> {
    Role::ALL
        .into_iter()
        .filter(|r| r.is_staff() == staff && may_manage(actor, *r))
        .map(|r| Opt::new(r.code(), r.label(), current))
        .collect()
}

fn contact_choices(contacts: &[clients::ContactRow], current: Option<ContactId>) -> Vec<Opt> {
    let current = current.map(|c| c.to_string()).unwrap_or_default();
    let mut opts = vec![Opt::new("", "— Aucun —", &current)];
    opts.extend(contacts.iter().map(|c| {
        let label = if c.email.is_empty() { c.full_name() } else { format!("{} — {}", c.full_name(), c.email) };
        let label = if c.archived { format!("{label} (archivé)") } else { label };
        Opt::new(c.id.to_string(), label, &current)
    }));
    opts
}

// ---------------------------------------------------------------------------------------------
// Creation

#[derive(Deserialize, Default)]
struct NewQuery {
    #[serde(default)]
    profil: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    contact: String,
}

/// What the creation form shows: typed values and choices.
struct NewState {
    staff: bool,
    client: Option<clients::ClientRow>,
    contact_id: Option<ContactId>,
    role: String,
    full_name: String,
    email: String,
    permissions: Permissions,
    /// The notification profile as typed (`digest_frequency`, `digest_weekday`).
    frequency: String,
    weekday: String,
}

pub struct ClientChoice {
    pub id: ClientId,
    pub code: String,
    pub name: String,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "bo/users/new.html")]
struct NewPage {
    ctx: Ctx,
    staff: bool,
    is_admin: bool,
    client: Option<ClientChoice>,
    clients: Vec<Opt>,
    contacts: Vec<Opt>,
    roles: Vec<Opt>,
    perms: Vec<PermOpt>,
    digest: DigestFields,
    full_name: String,
    email: String,
    errors: FieldErrors,
}

async fn new_form(state: &AppState, actor: &Actor, ctx: Ctx, s: NewState, errors: FieldErrors) -> AppResult<NewPage> {
    let (clients_opts, contacts) = match &s.client {
        Some(c) => (Vec::new(), clients::contacts_of(&state.db, actor.tenant_id, c.id, false).await?),
        None if !s.staff => {
            let mut opts = vec![Opt::new("", "— Choisir le client —", "")];
            opts.extend(
                clients::active_clients(&state.db, actor.tenant_id)
                    .await?
                    .into_iter()
                    .map(|(id, code, name)| Opt::new(id.to_string(), format!("{code} — {name}"), "")),
            );
            (opts, Vec::new())
        }
        None => (Vec::new(), Vec::new()),
    };
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    Ok(NewPage {
        ctx: ctx.with_nav("users"),
        staff: s.staff,
        is_admin: actor.role == Role::Admin,
        client: s.client.as_ref().map(|c| ClientChoice {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            archived: c.archived,
        }),
        clients: clients_opts,
        contacts: contact_choices(&contacts, s.contact_id),
        roles: role_choices(actor, s.staff, &s.role),
        perms: perm_opts(&s.permissions),
        digest: digest_fields(&s.frequency, &s.weekday, &firm),
        full_name: s.full_name,
        email: s.email,
        errors,
    })
}

async fn new_page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    require_user_manager(&actor)?;
    let staff = q.profil == "personnel";
    if staff && actor.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let mut s = NewState {
        staff,
        client: None,
        contact_id: None,
        role: if staff { Role::Office.code().into() } else { Role::ClientUser.code().into() },
        full_name: String::new(),
        email: String::new(),
        permissions: Permissions::default(),
        frequency: "default".into(),
        weekday: String::new(),
    };
    if !staff {
        let mut client_id = parse_opt_id(&q.client)?;
        if let Some(contact_id) = parse_opt_id(&q.contact)? {
            let contact = clients::contact(&state.db, actor.tenant_id, contact_id).await?.ok_or(AppError::NotFound)?;
            if client_id.is_some_and(|c| c != contact.client_id.0) {
                return Err(AppError::NotFound);
            }
            client_id = Some(contact.client_id.0);
            s.contact_id = Some(contact.id);
            s.full_name = contact.person_name();
            s.email = contact.email.clone();
        }
        if let Some(id) = client_id {
            s.client = Some(clients::client(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)?);
        }
    }
    Ok(render(&new_form(&state, &actor, ctx, s, FieldErrors::default()).await?)?.into_response())
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require_user_manager(&actor)?;
    let data = FormData(raw);
    let mut errors = FieldErrors::default();
    let role = Role::parse(&data.get("role"));
    let staff = match role {
        Some(r) => r.is_staff(),
        None => data.get("profil") == "personnel",
    };
    if staff && actor.role != Role::Admin {
        // Only the firm admin creates staff accounts (and admins).
        return Err(AppError::Forbidden);
    }
    let mut s = NewState {
        staff,
        client: None,
        contact_id: None,
        role: data.get("role"),
        full_name: data.get("full_name"),
        email: data.get("email"),
        permissions: read_permissions(&data),
        frequency: data.get("digest_frequency"),
        weekday: data.get("digest_weekday"),
    };
    if s.frequency.is_empty() {
        s.frequency = "default".into();
    }
    let mut contact = None;
    if !staff {
        if let Some(id) = parse_opt_id(&data.get("client_id"))? {
            s.client = Some(clients::client(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)?);
        }
        if let Some(id) = parse_opt_id(&data.get("contact_id"))? {
            let ct = clients::contact(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)?;
            s.contact_id = Some(ct.id);
            contact = Some(ct);
        }
        match (&s.client, &contact) {
            (None, _) => errors.add("client_id", "Choisissez le client auquel rattacher cet accès."),
            (Some(c), _) if c.archived => {
                errors.add("client_id", "Ce client est archivé : réactivez-le avant de lui ouvrir un accès.")
            }
            (Some(c), Some(ct)) if ct.client_id != c.id => {
                errors.add("contact_id", "Ce contact n'appartient pas à ce client.")
            }
            _ => {}
        }
        // A chosen contact fills in what was left empty.
        if let Some(ct) = &contact {
            if s.full_name.is_empty() {
                s.full_name = ct.person_name();
            }
            if s.email.is_empty() {
                s.email = ct.email.clone();
            }
        }
    }
    let role = match role.filter(|r| r.is_staff() == staff) {
        Some(r) => r,
        None => {
            errors.add("role", "Choisissez le rôle de l'utilisateur.");
            if staff { Role::Office } else { Role::ClientUser }
        }
    };
    if !may_manage(&actor, role) {
        return Err(AppError::Forbidden);
    }
    if s.full_name.is_empty() {
        errors.add("full_name", "Le nom de l'utilisateur est obligatoire.");
    }
    errors.max_len("full_name", "Le nom", &s.full_name, 150);
    let email = if s.email.is_empty() {
        errors.add("email", "L'adresse e-mail est obligatoire : c'est l'identifiant de connexion.");
        None
    } else {
        match Email::parse(&s.email) {
            Ok(e) => Some(e),
            Err(msg) => {
                errors.add("email", msg);
                None
            }
        }
    };
    let digest = match DigestProfile::parse_form(&s.frequency, &s.weekday) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.add(e.field(), e.to_string());
            None
        }
    };
    let (Some(email), Some(digest)) = (email.filter(|_| errors.is_empty()), digest) else {
        let page = new_form(&state, &actor, ctx, s, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let firm = tenant_name(&state.db, actor.tenant_id).await?;
    let temporary = TemporaryPassword::generate().await?;
    let mut tx = state.db.begin().await?;
    let created = create_access(
        &mut tx,
        &state.config.base_url,
        &firm,
        NewAccess {
            tenant_id: actor.tenant_id,
            client_id: s.client.as_ref().map(|c| c.id),
            contact_id: s.contact_id,
            email: email.clone(),
            full_name: s.full_name.clone(),
            role,
            permissions: s.permissions.clone(),
            digest,
            temporary,
        },
    )
    .await;
    let id = match created {
        Ok(id) => id,
        Err(CreateUserError::Db(e)) => return Err(e.into()),
        Err(e) => {
            drop(tx);
            let field = match e {
                CreateUserError::ClientRequired => "client_id",
                CreateUserError::NameRequired => "full_name",
                CreateUserError::StaffWithClient => "role",
                _ => "email",
            };
            errors.add(field, e.to_string());
            let page = new_form(&state, &actor, ctx, s, errors).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let whose = match &s.client {
        Some(c) => {
            format!("Accès extranet {} créé pour {} ({}, client {})", email.as_str(), s.full_name, role.label(), c.code)
        }
        None => format!("Compte {} créé pour {} ({})", email.as_str(), s.full_name, role.label()),
    };
    audit::record(&mut tx, &actor, "create", "user", Some(id.0), &format!("{whose} ; identifiants envoyés par e-mail"))
        .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&format!("/bo/utilisateurs/{id}/modifier?msg=acces")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Edition

#[derive(Template)]
#[template(path = "bo/users/edit.html")]
struct EditPage {
    ctx: Ctx,
    id: UserId,
    title: String,
    client: String,
    client_id: Option<ClientId>,
    staff: bool,
    is_self: bool,
    status: &'static str,
    status_class: &'static str,
    created: String,
    last_login: String,
    full_name: String,
    email: String,
    active: bool,
    roles: Vec<Opt>,
    contacts: Vec<Opt>,
    perms: Vec<PermOpt>,
    digest: DigestFields,
    errors: FieldErrors,
}

/// A user of the actor's tenant that the actor may manage (404 outside the tenant, 403 when
/// the account is beyond the actor's rights).
async fn load_managed(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<(UserRow, Role)> {
    require_user_manager(actor)?;
    let id = parse_id(raw_id)?;
    let user = store::user(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    let role = Role::parse(&user.role).ok_or(AppError::NotFound)?;
    if !may_manage(actor, role) {
        return Err(AppError::Forbidden);
    }
    Ok((user, role))
}

struct EditValues {
    full_name: String,
    email: String,
    role: String,
    active: bool,
    contact_id: Option<ContactId>,
    permissions: Permissions,
    /// The notification profile as typed; `None` when the form did not carry it (kept).
    digest: Option<(String, String)>,
}

async fn edit_form(
    state: &AppState,
    actor: &Actor,
    ctx: Ctx,
    user: &UserRow,
    v: EditValues,
    errors: FieldErrors,
) -> AppResult<EditPage> {
    let staff = user.client_id.is_none();
    let contacts = match user.client_id {
        Some(c) => clients::contacts_of(&state.db, actor.tenant_id, c, true).await?,
        None => Vec::new(),
    };
    let (status, status_class) = status_of(user, now_ms());
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let (frequency, weekday) = match &v.digest {
        Some(typed) => typed.clone(),
        None => {
            let stored = account::digest_of(&state.db, actor.tenant_id, user.id).await?.unwrap_or_default();
            profile_values(&stored)
        }
    };
    Ok(EditPage {
        ctx: ctx.with_nav("users"),
        id: user.id,
        title: format!("Utilisateur {}", user.full_name),
        client: client_label(user),
        client_id: user.client_id,
        staff,
        is_self: user.id == actor.user_id,
        status,
        status_class,
        created: fr_date(user.created_at),
        last_login: user.last_login_at.map(fr_datetime).unwrap_or_else(|| "jamais".into()),
        full_name: v.full_name,
        email: v.email,
        active: v.active,
        roles: role_choices(actor, staff, &v.role),
        contacts: contact_choices(&contacts, v.contact_id),
        perms: perm_opts(&v.permissions),
        digest: digest_fields(&frequency, &weekday, &firm),
        errors,
    })
}

async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (user, _) = load_managed(&state, &actor, &id).await?;
    let v = EditValues {
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        role: user.role.clone(),
        active: user.active,
        contact_id: user.contact_id,
        permissions: Permissions::parse(&user.permissions),
        digest: None,
    };
    Ok(render(&edit_form(&state, &actor, ctx, &user, v, FieldErrors::default()).await?)?.into_response())
}

async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (user, old_role) = load_managed(&state, &actor, &id).await?;
    let data = FormData(raw);
    let staff = user.client_id.is_none();
    let v = EditValues {
        full_name: data.get("full_name"),
        email: data.get("email"),
        role: data.get("role"),
        active: data.has("active"),
        contact_id: parse_opt_id(&data.get("contact_id"))?.map(ContactId),
        permissions: read_permissions(&data),
        digest: data.has("digest_frequency").then(|| (data.get("digest_frequency"), data.get("digest_weekday"))),
    };
    let mut errors = FieldErrors::default();
    let digest = match &v.digest {
        Some((f, d)) => match DigestProfile::parse_form(f, d) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.add(e.field(), e.to_string());
                None
            }
        },
        None => None,
    };
    let new_role = Role::parse(&v.role);
    if let Some(r) = new_role
        && !may_manage(&actor, r)
    {
        // Office staff cannot give a staff role (nor the admin role).
        return Err(AppError::Forbidden);
    }
    let new_role = match new_role {
        Some(r) if r.is_staff() == staff => r,
        Some(_) if staff => {
            errors.add("role", "Un compte du personnel ne peut pas devenir un compte client : créez un nouvel accès.");
            old_role
        }
        Some(_) => {
            errors.add("role", "Un compte client ne peut pas devenir un compte du personnel.");
            old_role
        }
        None => {
            errors.add("role", "Choisissez le rôle de l'utilisateur.");
            old_role
        }
    };
    if user.id == actor.user_id {
        if !v.active {
            errors.add("active", "Vous ne pouvez pas désactiver votre propre compte.");
        }
        if old_role == Role::Admin && new_role != Role::Admin {
            errors.add("role", "Vous ne pouvez pas retirer votre propre rôle d'administrateur.");
        }
    }
    if v.full_name.is_empty() {
        errors.add("full_name", "Le nom de l'utilisateur est obligatoire.");
    }
    errors.max_len("full_name", "Le nom", &v.full_name, 150);
    let email = match Email::parse(&v.email) {
        Ok(e) => e.as_str().to_string(),
        Err(msg) => {
            errors.add("email", msg);
            String::new()
        }
    };
    let contact_id = match (user.client_id, v.contact_id) {
        (Some(client), Some(cid)) => {
            let ct = clients::contact(&state.db, actor.tenant_id, cid.0).await?.ok_or(AppError::NotFound)?;
            if ct.client_id != client {
                errors.add("contact_id", "Ce contact n'appartient pas au client de cet utilisateur.");
            }
            Some(ct.id)
        }
        _ => None,
    };
    let rerender = |errors: FieldErrors, v: EditValues, ctx: Ctx| async {
        let page = edit_form(&state, &actor, ctx, &user, v, errors).await?;
        Ok::<Response, AppError>((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
    };
    if !errors.is_empty() {
        return rerender(errors, v, ctx).await;
    }
    // Read before the transaction: only a changed profile is written and audited.
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let digest_before = account::digest_of(&state.db, actor.tenant_id, user.id).await?.unwrap_or_default();
    let digest = digest.filter(|d| *d != digest_before);
    let mut tx = state.db.begin().await?;
    if email != user.email && store::email_taken(&mut tx, &email, Some(user.id)).await? {
        drop(tx);
        errors.add("email", format!("Un compte existe déjà avec l'adresse {email}."));
        return rerender(errors, v, ctx).await;
    }
    let permissions = v.permissions.clone();
    let upd = UserUpdate {
        email: email.clone(),
        full_name: v.full_name.clone(),
        role: new_role.code().to_string(),
        permissions: permissions.to_stored(),
        active: v.active,
        contact_id,
    };
    let mut changes = Vec::new();
    if upd.full_name != user.full_name {
        changes.push("nom".to_string());
    }
    if upd.email != user.email {
        changes.push(format!("e-mail {} → {}", user.email, upd.email));
    }
    if new_role != old_role {
        changes.push(format!("rôle {} → {}", old_role.label(), new_role.label()));
    }
    if upd.permissions != Permissions::parse(&user.permissions).to_stored() {
        changes.push("permissions".to_string());
    }
    if upd.active != user.active {
        changes.push(if upd.active { "réactivé".to_string() } else { "désactivé".to_string() });
    }
    if upd.contact_id != user.contact_id {
        changes.push("contact".to_string());
    }
    if let Some(d) = &digest {
        changes.push(format!("notifications : {}", d.label(&firm)));
    }
    if changes.is_empty() {
        return Ok(Redirect::to(&format!("/bo/utilisateurs/{}/modifier?msg=enregistre", user.id)).into_response());
    }
    match store::update(&mut tx, actor.tenant_id, user.id, &upd).await {
        Ok(0) => return Err(AppError::NotFound),
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            errors.add("email", format!("Un compte existe déjà avec l'adresse {email}."));
            return rerender(errors, v, ctx).await;
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(d) = digest {
        set_digest(&mut tx, actor.tenant_id, user.id, d).await?;
    }
    audit::record(
        &mut tx,
        &actor,
        "update",
        "user",
        Some(user.id.0),
        &format!("Compte {} modifié ({})", user.email, changes.join(", ")),
    )
    .await?;
    tx.commit().await?;
    if new_role != old_role || (user.active && !upd.active) {
        // A new role or a deactivation takes effect now: the user logs in again (or cannot).
        destroy_all_for_user(&state.db, user.id, None).await?;
    }
    Ok(Redirect::to(&format!("/bo/utilisateurs/{}/modifier?msg=enregistre", user.id)).into_response())
}

/// "Renvoyer les accès": a new temporary password, e-mailed; the old password stops working.
async fn reissue(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (user, _) = load_managed(&state, &actor, &id).await?;
    if user.id == actor.user_id {
        return Err(AppError::BadRequest(
            "Pour changer votre propre mot de passe, utilisez « Changer de mot de passe ».".into(),
        ));
    }
    if !user.active {
        return Err(AppError::BadRequest("Ce compte est désactivé : réactivez-le avant de renvoyer ses accès.".into()));
    }
    let firm = tenant_name(&state.db, actor.tenant_id).await?;
    let temporary = TemporaryPassword::generate().await?;
    let mut tx = state.db.begin().await?;
    // Re-read in the transaction: the account must still be this tenant's.
    let user = store::user_tx(&mut tx, actor.tenant_id, user.id.0).await?.ok_or(AppError::NotFound)?;
    let (name, email) = (user.full_name.clone(), user.email.clone());
    if !reissue_access(&mut tx, &state.config.base_url, &firm, actor.tenant_id, user.id, &name, &email, &temporary)
        .await?
    {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &actor,
        "temp_password",
        "user",
        Some(user.id.0),
        &format!("Nouveau mot de passe temporaire envoyé à {}", user.email),
    )
    .await?;
    tx.commit().await?;
    destroy_all_for_user(&state.db, user.id, None).await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&format!("/bo/utilisateurs/{}/modifier?msg=envoye", user.id)).into_response())
}
