//! Contacts of a client: creation, edition, archiving. The contact's client is always looked up
//! again within the actor's tenant before anything is shown or written.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::store::{self, ClientRow, ContactData, ContactRow};
use super::ui::{FieldErrors, FormData, Opt, parse_id};
use super::{load, require_editor};
use crate::app::AppState;
use crate::domain::format::fr_phone;
use crate::domain::{Email, parse_phone};
use crate::features::audit;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

pub const CIVILITIES: [(&str, &str); 3] = [("", "—"), ("M.", "M."), ("Mme", "Mme")];

fn read_form(data: &FormData) -> ContactData {
    ContactData {
        civility: data.get("civility"),
        first_name: data.get("first_name"),
        last_name: data.get("last_name"),
        job_title: data.get("job_title"),
        email: data.get("email"),
        email_alt: data.get("email_alt"),
        phone: data.get("phone"),
        mobile: data.get("mobile"),
    }
}

fn optional_email(e: &mut FieldErrors, field: &'static str, value: &str) -> String {
    if value.is_empty() { String::new() } else { e.check(field, Email::parse(value).map(|m| m.as_str().to_string())) }
}

fn validate(t: &ContactData) -> Result<ContactData, FieldErrors> {
    let mut e = FieldErrors::default();
    if !CIVILITIES.iter().any(|(c, _)| *c == t.civility) {
        e.add("civility", "Choisissez une civilité dans la liste.");
    }
    if t.last_name.is_empty() {
        e.add("last_name", "Le nom du contact est obligatoire.");
    }
    e.max_len("first_name", "Le prénom", &t.first_name, 100);
    e.max_len("last_name", "Le nom", &t.last_name, 100);
    e.max_len("job_title", "La fonction", &t.job_title, 150);
    let email = optional_email(&mut e, "email", &t.email);
    let email_alt = optional_email(&mut e, "email_alt", &t.email_alt);
    let phone = e.check("phone", parse_phone(&t.phone));
    let mobile = e.check("mobile", parse_phone(&t.mobile));
    if !e.is_empty() {
        return Err(e);
    }
    Ok(ContactData {
        civility: t.civility.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        job_title: t.job_title.clone(),
        email,
        email_alt,
        phone,
        mobile,
    })
}

#[derive(Template)]
#[template(path = "bo/clients/contact_form.html")]
struct FormPage {
    ctx: Ctx,
    title: String,
    client_code: String,
    client_name: String,
    action: String,
    cancel: String,
    form: ContactData,
    civilities: Vec<Opt>,
    errors: FieldErrors,
}

fn form_page(
    ctx: Ctx,
    client: &ClientRow,
    contact: Option<&ContactRow>,
    form: ContactData,
    errors: FieldErrors,
) -> FormPage {
    let civilities = CIVILITIES.iter().map(|(v, l)| Opt::new(*v, *l, &form.civility)).collect();
    let (title, action) = match contact {
        Some(ct) => (format!("Modifier le contact {}", ct.full_name()), format!("/bo/contacts/{}/modifier", ct.id)),
        None => ("Nouveau contact".to_string(), format!("/bo/clients/{}/contacts/nouveau", client.id)),
    };
    FormPage {
        ctx: ctx.with_nav("clients"),
        title,
        client_code: client.code.clone(),
        client_name: client.name.clone(),
        action,
        cancel: format!("/bo/clients/{}", client.id),
        form,
        civilities,
        errors,
    }
}

fn invalid(page: FormPage) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

pub async fn new_page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let client = load(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let form = ContactData {
        civility: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        job_title: String::new(),
        email: String::new(),
        email_alt: String::new(),
        phone: String::new(),
        mobile: String::new(),
    };
    Ok(render(&form_page(ctx, &client, None, form, FieldErrors::default()))?.into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let client = load(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let typed = read_form(&FormData(raw));
    let data = match validate(&typed) {
        Ok(d) => d,
        Err(errors) => return invalid(form_page(ctx, &client, None, typed, errors)),
    };
    let mut tx = state.db.begin().await?;
    // Re-read inside the transaction: the client must still be this tenant's.
    let client = store::client_tx(&mut tx, actor.tenant_id, client.id.0).await?.ok_or(AppError::NotFound)?;
    let contact = store::insert_contact(&mut tx, actor.tenant_id, client.id, &data).await?;
    let name = format!("{} {}", data.first_name, data.last_name);
    audit::record(
        &mut tx,
        &actor,
        "create",
        "contact",
        Some(contact.0),
        &format!("Contact {} ajouté au client {} {}", name.trim(), client.code, client.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/clients/{}?msg=cree#contacts", client.id)).into_response())
}

/// A contact of the actor's tenant and its client (also of the tenant).
async fn load_contact(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<(ContactRow, ClientRow)> {
    let id = parse_id(raw_id)?;
    let contact = store::contact(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    let client = store::client(&state.db, actor.tenant_id, contact.client_id.0).await?.ok_or(AppError::NotFound)?;
    Ok((contact, client))
}

pub async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (contact, client) = load_contact(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let mut form = ContactData::from(&contact);
    form.phone = fr_phone(&form.phone);
    form.mobile = fr_phone(&form.mobile);
    Ok(render(&form_page(ctx, &client, Some(&contact), form, FieldErrors::default()))?.into_response())
}

fn changed_fields(before: &ContactData, after: &ContactData) -> String {
    [
        ("civilité", before.civility != after.civility),
        ("prénom", before.first_name != after.first_name),
        ("nom", before.last_name != after.last_name),
        ("fonction", before.job_title != after.job_title),
        ("e-mail", before.email != after.email),
        ("second e-mail", before.email_alt != after.email_alt),
        ("téléphone", before.phone != after.phone),
        ("mobile", before.mobile != after.mobile),
    ]
    .iter()
    .filter(|(_, c)| *c)
    .map(|(l, _)| *l)
    .collect::<Vec<_>>()
    .join(", ")
}

pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (contact, client) = load_contact(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let typed = read_form(&FormData(raw));
    let data = match validate(&typed) {
        Ok(d) => d,
        Err(errors) => return invalid(form_page(ctx, &client, Some(&contact), typed, errors)),
    };
    let changes = changed_fields(&ContactData::from(&contact), &data);
    if !changes.is_empty() {
        let mut tx = state.db.begin().await?;
        if store::update_contact(&mut tx, actor.tenant_id, contact.id, &data).await? == 0 {
            return Err(AppError::NotFound);
        }
        let name = format!("{} {}", data.first_name, data.last_name);
        audit::record(
            &mut tx,
            &actor,
            "update",
            "contact",
            Some(contact.id.0),
            &format!("Contact {} du client {} modifié ({changes})", name.trim(), client.code),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("/bo/clients/{}?msg=enregistre#contacts", client.id)).into_response())
}

/// `archiver=1` archives, `archiver=0` restores; without the field the state is switched.
pub async fn archive(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (contact, client) = load_contact(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let archived = match FormData(raw).get("archiver").as_str() {
        "1" => true,
        "0" => false,
        _ => !contact.archived,
    };
    if archived != contact.archived {
        let mut tx = state.db.begin().await?;
        if store::set_contact_archived(&mut tx, actor.tenant_id, contact.id, archived).await? == 0 {
            return Err(AppError::NotFound);
        }
        let (action, what) = if archived { ("archive", "archivé") } else { ("unarchive", "réactivé") };
        audit::record(
            &mut tx,
            &actor,
            action,
            "contact",
            Some(contact.id.0),
            &format!("Contact {} du client {} {what}", contact.person_name(), client.code),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("/bo/clients/{}?msg=enregistre#contacts", client.id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_fields_are_checked() {
        let t = ContactData {
            civility: "Mme".into(),
            first_name: "Anne".into(),
            last_name: String::new(),
            job_title: String::new(),
            email: "pas-un-mail".into(),
            email_alt: String::new(),
            phone: "02 40 00 00 01".into(),
            mobile: "12".into(),
        };
        let e = validate(&t).unwrap_err();
        assert!(e.get("last_name").is_some());
        assert!(e.get("email").is_some());
        assert!(e.get("mobile").is_some());
        assert!(e.get("phone").is_none());
    }
}
