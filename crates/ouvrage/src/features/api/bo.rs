//! The back-office page of a client's integrations (admin only): its API tokens, the creation of
//! one (the secret is shown once, on the answer to the form) and their revocation.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::tokens::{self, TokenRow};
use crate::app::AppState;
use crate::domain::TenantId;
use crate::domain::time::fr_datetime;
use crate::features::audit;
use crate::features::clients::store::{self as clients, ClientRow};
use crate::features::clients::ui::{FieldErrors, FormData, parse_id};
use crate::http::{AdminActor, AppError, AppResult, Ctx, render};

pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

impl TokenView {
    fn of(t: &TokenRow) -> TokenView {
        TokenView {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created: fr_datetime(t.created_at),
            last_used: t.last_used_at.map(fr_datetime).unwrap_or_else(|| "jamais".into()),
            revoked: t.revoked_at.map(fr_datetime),
        }
    }
}

/// A token just created, shown once.
pub struct NewSecret {
    pub name: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "api/integrations.html")]
struct IntegrationsPage {
    ctx: Ctx,
    client_id: i64,
    client_code: String,
    client_name: String,
    tokens: Vec<TokenView>,
    /// The name typed in the creation form (shown again with its error).
    typed_name: String,
    errors: FieldErrors,
    created: Option<NewSecret>,
}

async fn load_client(state: &AppState, actor: &AdminActor, raw_id: &str) -> AppResult<ClientRow> {
    let id = parse_id(raw_id)?;
    clients::client(&state.db, actor.0.tenant_id, id).await?.ok_or(AppError::NotFound)
}

async fn page(
    state: &AppState,
    ctx: Ctx,
    tenant: TenantId,
    client: &ClientRow,
    typed_name: String,
    errors: FieldErrors,
    created: Option<NewSecret>,
) -> AppResult<IntegrationsPage> {
    let tokens = tokens::list(&state.db, tenant, client.id).await?;
    Ok(IntegrationsPage {
        ctx: ctx.with_nav("clients"),
        client_id: client.id.0,
        client_code: client.code.clone(),
        client_name: client.name.clone(),
        tokens: tokens.iter().map(TokenView::of).collect(),
        typed_name,
        errors,
        created,
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: AdminActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let client = load_client(&state, &actor, &id).await?;
    let page = page(&state, ctx, actor.0.tenant_id, &client, String::new(), FieldErrors::default(), None).await?;
    Ok(render(&page)?.into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: AdminActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let client = load_client(&state, &actor, &id).await?;
    let typed = FormData(raw).get("name");
    let name = match tokens::check_name(&typed) {
        Ok(n) => n,
        Err(msg) => {
            let mut errors = FieldErrors::default();
            errors.add("name", msg);
            let page = page(&state, ctx, actor.0.tenant_id, &client, typed, errors, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let mut tx = state.db.begin().await?;
    let created = tokens::create(&mut tx, actor.0.tenant_id, client.id, &name, Some(actor.0.user_id)).await?;
    audit::record(
        &mut tx,
        &actor.0,
        "create",
        "api_token",
        Some(created.id),
        &format!("Jeton d'API « {name} » ({}…) créé pour le client {} {}", created.prefix, client.code, client.name),
    )
    .await?;
    tx.commit().await?;
    let secret = NewSecret { name, secret: created.secret };
    let page =
        page(&state, ctx, actor.0.tenant_id, &client, String::new(), FieldErrors::default(), Some(secret)).await?;
    Ok(render(&page)?.into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    actor: AdminActor,
    Path((id, token_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let client = load_client(&state, &actor, &id).await?;
    let token_id = parse_id(&token_id)?;
    let mut tx = state.db.begin().await?;
    let token = tokens::get(&mut tx, actor.0.tenant_id, client.id, token_id).await?.ok_or(AppError::NotFound)?;
    if tokens::revoke(&mut tx, actor.0.tenant_id, client.id, token.id).await? {
        audit::record(
            &mut tx,
            &actor.0,
            "revoke",
            "api_token",
            Some(token.id),
            &format!(
                "Jeton d'API « {} » ({}…) révoqué pour le client {} {}",
                token.name, token.prefix, client.code, client.name
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/clients/{}/integrations?msg=enregistre", client.id)).into_response())
}
