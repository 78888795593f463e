//! The client admin gives their colleagues access to the extranet, from the contact list of
//! "Mon entreprise": create the account of a contact (temporary password e-mailed), change its
//! role, permissions and notification profile, re-send the access, revoke it. Everything is
//! confined to the admin's own company: another company's contact or account, and any staff
//! account, is not found; client users who are not admins are refused.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::store::{self, CollaboratorRow};
use super::{DigestFields, digest_fields, profile_values};
use crate::app::AppState;
use crate::db::Tx;
use crate::domain::{ClientId, Email, Permission, Permissions, Role, TenantId, UserId};
use crate::features::audit;
use crate::features::clients::store::{self as clients, ContactRow};
use crate::features::clients::ui::{FieldErrors, FormData, Opt, parse_id};
use crate::features::home::tenant_name;
use crate::features::users::PermOpt;
use crate::features::users::account::{
    CreateUserError, DigestProfile, FirmDigest, NewAccess, TemporaryPassword, create_access, firm_digest,
    reissue_access, set_active, set_digest,
};
use crate::http::session::destroy_all_for_user;
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, render};

/// The roles a client admin may give.
const CLIENT_ROLES: [Role; 2] = [Role::ClientUser, Role::ClientAdmin];

/// Only the company's administrators manage accesses; returns their company.
pub fn require_client_admin(actor: &ClientActor) -> AppResult<ClientId> {
    if actor.0.role == Role::ClientAdmin { Ok(actor.client_id()) } else { Err(AppError::Forbidden) }
}

/// A contact of the admin's own company (404 otherwise, archived included: it is not listed).
async fn own_contact(state: &AppState, actor: &Actor, client: ClientId, raw_id: &str) -> AppResult<ContactRow> {
    let id = parse_id(raw_id)?;
    clients::contact(&state.db, actor.tenant_id, id)
        .await?
        .filter(|c| c.client_id == client && !c.archived)
        .ok_or(AppError::NotFound)
}

/// An account of the admin's own company (404 for another company's or a staff account).
async fn own_account(state: &AppState, actor: &Actor, client: ClientId, raw_id: &str) -> AppResult<CollaboratorRow> {
    let id = parse_id(raw_id)?;
    store::collaborator(&state.db, actor.tenant_id, client, id).await?.ok_or(AppError::NotFound)
}

/// The form as typed.
struct AccessForm {
    role: String,
    permissions: Vec<String>,
    frequency: String,
    weekday: String,
}

impl AccessForm {
    fn read(data: &FormData) -> AccessForm {
        AccessForm {
            role: data.get("role"),
            permissions: data.all("permissions"),
            frequency: data.get("digest_frequency"),
            weekday: data.get("digest_weekday"),
        }
    }

    fn of(row: &CollaboratorRow) -> AccessForm {
        let (frequency, weekday) =
            profile_values(&DigestProfile::from_stored(&row.digest_frequency, row.digest_weekday));
        let held = Permissions::parse(&row.permissions);
        AccessForm {
            role: row.role.clone(),
            permissions: Permission::ALL.into_iter().filter(|p| held.has(*p)).map(|p| p.code().to_string()).collect(),
            frequency,
            weekday,
        }
    }

    fn blank() -> AccessForm {
        AccessForm {
            role: Role::ClientUser.code().into(),
            permissions: Vec::new(),
            frequency: "default".into(),
            weekday: String::new(),
        }
    }
}

/// What the form decides once checked.
struct AccessChoice {
    role: Role,
    permissions: Permissions,
    digest: DigestProfile,
}

/// Checks the form. The admin grants only permissions they hold themselves; permissions of the
/// account that the admin does not hold (`current`) are kept as they are.
fn validate(actor: &Actor, f: &AccessForm, current: &Permissions) -> Result<AccessChoice, FieldErrors> {
    let mut e = FieldErrors::default();
    let role = Role::parse(&f.role).filter(|r| CLIENT_ROLES.contains(r));
    if role.is_none() {
        e.add("role", "Choisissez le profil : utilisateur ou administrateur.");
    }
    let digest = match DigestProfile::parse_form(&f.frequency, &f.weekday) {
        Ok(d) => Some(d),
        Err(err) => {
            e.add(err.field(), err.to_string());
            None
        }
    };
    let (Some(role), Some(digest)) = (role, digest) else { return Err(e) };
    let list: Vec<Permission> = Permission::ALL
        .into_iter()
        .filter(|p| if actor.can(*p) { f.permissions.iter().any(|c| c == p.code()) } else { current.has(*p) })
        .collect();
    Ok(AccessChoice { role, permissions: Permissions::from_list(&list), digest })
}

fn role_opts(current: &str) -> Vec<Opt> {
    CLIENT_ROLES
        .into_iter()
        .map(|r| {
            let label = match r {
                Role::ClientAdmin => "Administrateur (gère l'entreprise et les accès)",
                _ => "Utilisateur",
            };
            Opt::new(r.code(), label, current)
        })
        .collect()
}

/// The permissions the admin may grant (those they hold), with the typed ones checked.
fn perm_opts(actor: &Actor, chosen: &[String]) -> Vec<PermOpt> {
    Permission::ALL
        .into_iter()
        .filter(|p| actor.can(*p))
        .map(|p| PermOpt { code: p.code(), label: p.label(), checked: chosen.iter().any(|c| c == p.code()) })
        .collect()
}

#[derive(Template)]
#[template(path = "account/access.html")]
struct AccessPage {
    ctx: Ctx,
    title: String,
    action: String,
    /// The person the access is for, and their login.
    name: String,
    email: String,
    job_title: String,
    /// Giving (or restoring) access sends a temporary password; editing does not.
    gives: bool,
    restoring: bool,
    roles: Vec<Opt>,
    perms: Vec<PermOpt>,
    digest: DigestFields,
    errors: FieldErrors,
}

/// Whom the page is about, and what it does.
struct Subject<'a> {
    action: String,
    mode: Mode,
    name: &'a str,
    email: &'a str,
    job_title: &'a str,
}

fn access_page(
    ctx: Ctx,
    actor: &Actor,
    firm: &FirmDigest,
    who: Subject<'_>,
    f: &AccessForm,
    errors: FieldErrors,
) -> AccessPage {
    let Subject { action, mode, .. } = who;
    let title = match mode {
        Mode::Give => format!("Donner l'accès à {}", who.name),
        Mode::Restore => format!("Rétablir l'accès de {}", who.name),
        Mode::Edit => format!("Accès de {}", who.name),
    };
    AccessPage {
        ctx: ctx.with_nav("company"),
        title,
        action,
        name: who.name.to_string(),
        email: who.email.to_string(),
        job_title: who.job_title.to_string(),
        gives: mode != Mode::Edit,
        restoring: mode == Mode::Restore,
        roles: role_opts(&f.role),
        perms: perm_opts(actor, &f.permissions),
        digest: digest_fields(&f.frequency, &f.weekday, firm),
        errors,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Give,
    Restore,
    Edit,
}

fn invalid(page: AccessPage) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

async fn linked_account(
    state: &AppState,
    tenant: TenantId,
    client: ClientId,
    contact: &ContactRow,
) -> AppResult<Option<CollaboratorRow>> {
    Ok(store::account_of_contact_db(&state.db, tenant, client, contact.id).await?)
}

// ---------------------------------------------------------------------------------------------
// Giving access to a contact

pub async fn give_page(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let client = require_client_admin(&actor)?;
    let actor = actor.0;
    let contact = own_contact(&state, &actor, client, &id).await?;
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let (mode, form, email) = match linked_account(&state, actor.tenant_id, client, &contact).await? {
        Some(u) if u.active => return Ok(Redirect::to(&format!("/espace/entreprise/acces/{}", u.id)).into_response()),
        Some(u) => (Mode::Restore, AccessForm::of(&u), u.email),
        None => (Mode::Give, AccessForm::blank(), contact.email.clone()),
    };
    let mut errors = FieldErrors::default();
    if email.is_empty() {
        errors.add("email", no_email_message(&contact));
    }
    let who = Subject {
        action: format!("/espace/entreprise/contacts/{}/acces", contact.id),
        mode,
        name: &contact.person_name(),
        email: &email,
        job_title: &contact.job_title,
    };
    let page = access_page(ctx, &actor, &firm, who, &form, errors);
    Ok(render(&page)?.into_response())
}

fn no_email_message(contact: &ContactRow) -> String {
    format!(
        "{} n'a pas d'adresse e-mail : c'est son identifiant de connexion. Demandez la mise à jour de ce contact avant de lui donner l'accès.",
        contact.person_name()
    )
}

pub async fn give(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let client = require_client_admin(&actor)?;
    let actor = actor.0;
    let contact = own_contact(&state, &actor, client, &id).await?;
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let form = AccessForm::read(&FormData(raw));
    let existing = linked_account(&state, actor.tenant_id, client, &contact).await?;
    if existing.as_ref().is_some_and(|u| u.active) {
        return Err(AppError::BadRequest(format!("{} a déjà un accès à l'espace.", contact.person_name())));
    }
    let mode = if existing.is_some() { Mode::Restore } else { Mode::Give };
    let action = format!("/espace/entreprise/contacts/{}/acces", contact.id);
    let name = contact.person_name();
    let current = existing.as_ref().map(|u| Permissions::parse(&u.permissions)).unwrap_or_default();
    let login = existing.as_ref().map(|u| u.email.clone()).unwrap_or_else(|| contact.email.clone());
    let mut errors = FieldErrors::default();
    let email = if login.is_empty() {
        errors.add("email", no_email_message(&contact));
        None
    } else {
        match Email::parse(&login) {
            Ok(e) => Some(e),
            Err(msg) => {
                errors.add("email", msg);
                None
            }
        }
    };
    let choice = match validate(&actor, &form, &current) {
        Ok(c) => Some(c),
        Err(e) => {
            for (field, msg) in [
                ("role", e.get("role")),
                ("digest_frequency", e.get("digest_frequency")),
                ("digest_weekday", e.get("digest_weekday")),
            ] {
                if let Some(m) = msg {
                    errors.add(field, m.to_string());
                }
            }
            None
        }
    };
    let who = Subject { action, mode, name: &name, email: &login, job_title: &contact.job_title };
    let (Some(email), Some(choice)) = (email.filter(|_| errors.is_empty()), choice) else {
        return invalid(access_page(ctx, &actor, &firm, who, &form, errors));
    };
    let firm_name = tenant_name(&state.db, actor.tenant_id).await?;
    let temporary = TemporaryPassword::generate().await?;
    let base_url = state.config.base_url.clone();
    let mut tx = state.db.begin().await?;
    // Re-read in the transaction: the account may have been created meanwhile.
    let existing = store::account_of_contact(&mut tx, actor.tenant_id, client, contact.id).await?;
    let user_id = match existing {
        Some(u) if u.active => {
            return Err(AppError::BadRequest(format!("{name} a déjà un accès à l'espace.")));
        }
        Some(u) => {
            restore(&mut tx, &base_url, &firm_name, &actor, client, &u, &choice, &temporary).await?;
            u.id
        }
        None => {
            let created = create_access(
                &mut tx,
                &base_url,
                &firm_name,
                NewAccess {
                    tenant_id: actor.tenant_id,
                    client_id: Some(client),
                    contact_id: Some(contact.id),
                    email: email.clone(),
                    full_name: name.clone(),
                    role: choice.role,
                    permissions: choice.permissions.clone(),
                    digest: choice.digest,
                    temporary,
                },
            )
            .await;
            match created {
                Ok(id) => {
                    audit::record(
                        &mut tx,
                        &actor,
                        "create",
                        "user",
                        Some(id.0),
                        &format!(
                            "Accès extranet {} donné à {name} ({}) par l'administrateur de l'entreprise ; identifiants envoyés par e-mail",
                            email.as_str(),
                            choice.role.label()
                        ),
                    )
                    .await?;
                    id
                }
                Err(CreateUserError::Db(e)) => return Err(e.into()),
                Err(e) => {
                    drop(tx);
                    let mut errors = FieldErrors::default();
                    errors.add("email", e.to_string());
                    return invalid(access_page(ctx, &actor, &firm, who, &form, errors));
                }
            }
        }
    };
    tx.commit().await?;
    if mode == Mode::Restore {
        destroy_all_for_user(&state.db, user_id, None).await?;
    }
    state.mail_wakeup.notify_one();
    Ok(Redirect::to("/espace/entreprise?msg=acces").into_response())
}

/// Re-activates a revoked account with the chosen profile and a new temporary password.
#[allow(clippy::too_many_arguments)]
async fn restore(
    tx: &mut Tx,
    base_url: &str,
    firm_name: &str,
    actor: &Actor,
    client: ClientId,
    u: &CollaboratorRow,
    choice: &AccessChoice,
    temporary: &TemporaryPassword,
) -> AppResult<()> {
    let tenant = actor.tenant_id;
    if store::set_role_and_permissions(tx, tenant, client, u.id, choice.role.code(), &choice.permissions.to_stored())
        .await?
        == 0
    {
        return Err(AppError::NotFound);
    }
    set_digest(tx, tenant, u.id, choice.digest).await?;
    set_active(tx, tenant, u.id, true).await?;
    reissue_access(tx, base_url, firm_name, tenant, u.id, &u.full_name, &u.email, temporary).await?;
    audit::record(
        tx,
        actor,
        "reactivate",
        "user",
        Some(u.id.0),
        &format!(
            "Accès extranet {} rétabli ({}) par l'administrateur de l'entreprise ; nouveau mot de passe temporaire envoyé",
            u.email,
            choice.role.label()
        ),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Changing an access

fn not_self(actor: &Actor, user: UserId) -> AppResult<()> {
    if actor.user_id == user {
        Err(AppError::BadRequest(
            "Vous ne pouvez pas modifier ni révoquer votre propre accès : un autre administrateur de votre entreprise, ou le prestataire, peut le faire.".into(),
        ))
    } else {
        Ok(())
    }
}

pub async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let client = require_client_admin(&actor)?;
    let actor = actor.0;
    let u = own_account(&state, &actor, client, &id).await?;
    if u.id == actor.user_id {
        return Ok(Redirect::to("/espace/profil").into_response());
    }
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let job = job_title_of(&state, &actor, &u).await?;
    let who = Subject {
        action: format!("/espace/entreprise/acces/{}", u.id),
        mode: Mode::Edit,
        name: &u.full_name,
        email: &u.email,
        job_title: &job,
    };
    let page = access_page(ctx, &actor, &firm, who, &AccessForm::of(&u), FieldErrors::default());
    Ok(render(&page)?.into_response())
}

async fn job_title_of(state: &AppState, actor: &Actor, u: &CollaboratorRow) -> AppResult<String> {
    Ok(match u.contact_id {
        Some(c) => clients::contact(&state.db, actor.tenant_id, c.0).await?.map(|c| c.job_title).unwrap_or_default(),
        None => String::new(),
    })
}

pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let client = require_client_admin(&actor)?;
    let actor = actor.0;
    let u = own_account(&state, &actor, client, &id).await?;
    not_self(&actor, u.id)?;
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let form = AccessForm::read(&FormData(raw));
    let current = Permissions::parse(&u.permissions);
    let choice = match validate(&actor, &form, &current) {
        Ok(c) => c,
        Err(errors) => {
            let job = job_title_of(&state, &actor, &u).await?;
            let who = Subject {
                action: format!("/espace/entreprise/acces/{}", u.id),
                mode: Mode::Edit,
                name: &u.full_name,
                email: &u.email,
                job_title: &job,
            };
            return invalid(access_page(ctx, &actor, &firm, who, &form, errors));
        }
    };
    let old_role = Role::parse(&u.role);
    let before = DigestProfile::from_stored(&u.digest_frequency, u.digest_weekday);
    let mut changes = Vec::new();
    if old_role != Some(choice.role) {
        changes.push(format!("profil {}", choice.role.label()));
    }
    if choice.permissions != current {
        changes.push("permissions".to_string());
    }
    if choice.digest != before {
        changes.push(format!("notifications : {}", choice.digest.label(&firm)));
    }
    if !changes.is_empty() {
        let mut tx = state.db.begin().await?;
        let tenant = actor.tenant_id;
        if store::set_role_and_permissions(
            &mut tx,
            tenant,
            client,
            u.id,
            choice.role.code(),
            &choice.permissions.to_stored(),
        )
        .await?
            == 0
        {
            return Err(AppError::NotFound);
        }
        set_digest(&mut tx, tenant, u.id, choice.digest).await?;
        audit::record(
            &mut tx,
            &actor,
            "update",
            "user",
            Some(u.id.0),
            &format!(
                "Accès extranet {} modifié par l'administrateur de l'entreprise ({})",
                u.email,
                changes.join(", ")
            ),
        )
        .await?;
        tx.commit().await?;
        if old_role != Some(choice.role) {
            // A new role takes effect now: the user logs in again.
            destroy_all_for_user(&state.db, u.id, None).await?;
        }
    }
    Ok(Redirect::to("/espace/entreprise?msg=enregistre").into_response())
}

// ---------------------------------------------------------------------------------------------
// Re-sending and revoking

/// A new temporary password by e-mail: the old password stops working, sessions end.
pub async fn resend(State(state): State<AppState>, actor: ClientActor, Path(id): Path<String>) -> AppResult<Response> {
    let client = require_client_admin(&actor)?;
    let actor = actor.0;
    let u = own_account(&state, &actor, client, &id).await?;
    not_self(&actor, u.id)?;
    if !u.active {
        return Err(AppError::BadRequest(
            "Cet accès est révoqué : utilisez « Rétablir l'accès » pour en ouvrir un nouveau.".into(),
        ));
    }
    let firm_name = tenant_name(&state.db, actor.tenant_id).await?;
    let temporary = TemporaryPassword::generate().await?;
    let mut tx = state.db.begin().await?;
    let u = store::collaborator_tx(&mut tx, actor.tenant_id, client, u.id.0).await?.ok_or(AppError::NotFound)?;
    if !reissue_access(
        &mut tx,
        &state.config.base_url,
        &firm_name,
        actor.tenant_id,
        u.id,
        &u.full_name,
        &u.email,
        &temporary,
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &actor,
        "temp_password",
        "user",
        Some(u.id.0),
        &format!("Nouveau mot de passe temporaire envoyé à {} par l'administrateur de l'entreprise", u.email),
    )
    .await?;
    tx.commit().await?;
    destroy_all_for_user(&state.db, u.id, None).await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to("/espace/entreprise?msg=envoye").into_response())
}

/// Revokes an access: the account is deactivated and its sessions end at once.
pub async fn revoke(State(state): State<AppState>, actor: ClientActor, Path(id): Path<String>) -> AppResult<Response> {
    let client = require_client_admin(&actor)?;
    let actor = actor.0;
    let u = own_account(&state, &actor, client, &id).await?;
    not_self(&actor, u.id)?;
    if u.active {
        let mut tx = state.db.begin().await?;
        if store::collaborator_tx(&mut tx, actor.tenant_id, client, u.id.0).await?.is_none()
            || set_active(&mut tx, actor.tenant_id, u.id, false).await? == 0
        {
            return Err(AppError::NotFound);
        }
        audit::record(
            &mut tx,
            &actor,
            "deactivate",
            "user",
            Some(u.id.0),
            &format!("Accès extranet {} révoqué par l'administrateur de l'entreprise", u.email),
        )
        .await?;
        tx.commit().await?;
    }
    destroy_all_for_user(&state.db, u.id, None).await?;
    Ok(Redirect::to("/espace/entreprise?msg=enregistre").into_response())
}
