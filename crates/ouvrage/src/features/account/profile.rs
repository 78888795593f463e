//! "Mes informations": every user (staff at `/bo/profil`, client users at `/espace/profil`)
//! edits their own name, phone and notification profile; the password has its own page.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{DigestFields, digest_fields, store};
use crate::app::AppState;
use crate::domain::format::fr_phone;
use crate::domain::parse_phone;
use crate::features::audit;
use crate::features::clients::ui::{FieldErrors, FormData};
use crate::features::users::account::{DigestProfile, firm_digest};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfilePage {
    ctx: Ctx,
    action: &'static str,
    email: String,
    role: &'static str,
    full_name: String,
    phone: String,
    digest: DigestFields,
    /// What the saved profile currently gives, e.g. "Par défaut (Quotidien)".
    current: String,
    errors: FieldErrors,
}

fn path_of(actor: &Actor) -> &'static str {
    if actor.is_staff() { "/bo/profil" } else { "/espace/profil" }
}

async fn show(state: &AppState, actor: &Actor, ctx: Ctx) -> AppResult<Response> {
    let me = store::me(&state.db, actor.tenant_id, actor.user_id).await?.ok_or(AppError::NotFound)?;
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let profile = DigestProfile::from_stored(&me.digest_frequency, me.digest_weekday);
    let (freq, day) = super::profile_values(&profile);
    let page = ProfilePage {
        ctx: ctx.with_nav("profile"),
        action: path_of(actor),
        email: me.email,
        role: actor.role.label(),
        full_name: me.full_name,
        phone: fr_phone(&me.phone),
        digest: digest_fields(&freq, &day, &firm),
        current: profile.label(&firm),
        errors: FieldErrors::default(),
    };
    Ok(render(&page)?.into_response())
}

async fn save(state: &AppState, actor: &Actor, ctx: Ctx, data: FormData) -> AppResult<Response> {
    let me = store::me(&state.db, actor.tenant_id, actor.user_id).await?.ok_or(AppError::NotFound)?;
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let full_name = data.get("full_name");
    let phone_typed = data.get("phone");
    let freq = data.get("digest_frequency");
    let day = data.get("digest_weekday");
    let mut errors = FieldErrors::default();
    if full_name.is_empty() {
        errors.add("full_name", "Votre nom est obligatoire.");
    }
    errors.max_len("full_name", "Le nom", &full_name, 150);
    let phone = errors.check("phone", parse_phone(&phone_typed));
    let digest = match DigestProfile::parse_form(&freq, &day) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.add(e.field(), e.to_string());
            None
        }
    };
    let Some(digest) = digest.filter(|_| errors.is_empty()) else {
        let before = DigestProfile::from_stored(&me.digest_frequency, me.digest_weekday);
        let page = ProfilePage {
            ctx: ctx.with_nav("profile"),
            action: path_of(actor),
            email: me.email,
            role: actor.role.label(),
            full_name,
            phone: phone_typed,
            digest: digest_fields(&freq, &day, &firm),
            current: before.label(&firm),
            errors,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let before = DigestProfile::from_stored(&me.digest_frequency, me.digest_weekday);
    let mut changes = Vec::new();
    if full_name != me.full_name {
        changes.push("nom".to_string());
    }
    if phone != me.phone {
        changes.push("téléphone".to_string());
    }
    if digest != before {
        changes.push(format!("notifications : {}", digest.label(&firm)));
    }
    if !changes.is_empty() {
        let mut tx = state.db.begin().await?;
        if store::update_me(&mut tx, actor.tenant_id, actor.user_id, &me.email, &full_name, &phone, digest).await? == 0
        {
            return Err(AppError::NotFound);
        }
        audit::record(
            &mut tx,
            actor,
            "update",
            "user",
            Some(actor.user_id.0),
            &format!("Données personnelles de {} modifiées ({})", me.email, changes.join(", ")),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("{}?msg=enregistre", path_of(actor))).into_response())
}

pub async fn espace_page(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
) -> AppResult<Response> {
    show(&state, &actor, ctx).await
}

pub async fn bo_page(State(state): State<AppState>, ctx: Ctx, StaffActor(actor): StaffActor) -> AppResult<Response> {
    show(&state, &actor, ctx).await
}

pub async fn espace_save(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    save(&state, &actor, ctx, FormData(raw)).await
}

pub async fn bo_save(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    save(&state, &actor, ctx, FormData(raw)).await
}
