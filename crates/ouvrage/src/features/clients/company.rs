//! The extranet's "Mon entreprise": the client user's own company and its active contacts,
//! read-only. The client comes from the session, never from the URL.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::store;
use super::{ClientView, ContactView};
use crate::app::AppState;
use crate::domain::format::fr_phone;
use crate::http::{AppError, AppResult, ClientActor, Ctx, render};
use crate::on_db;

#[derive(sqlx::FromRow)]
struct FirmRow {
    legal_name: String,
    phone: String,
    email: String,
}

#[derive(Template)]
#[template(path = "espace/company.html")]
struct CompanyPage {
    ctx: Ctx,
    c: ClientView,
    contacts: Vec<ContactView>,
    firm_name: String,
    firm_phone: String,
    firm_phone_link: String,
    firm_email: String,
}

pub async fn page(State(state): State<AppState>, ctx: Ctx, actor: ClientActor) -> AppResult<Response> {
    let tenant = actor.0.tenant_id;
    let client_id = actor.client_id();
    let client = store::client(&state.db, tenant, client_id.0).await?.ok_or(AppError::NotFound)?;
    let contacts = store::contacts_of(&state.db, tenant, client.id, false)
        .await?
        .iter()
        .map(|c| ContactView::from_row(c, false))
        .collect();
    let firm: FirmRow =
        on_db!(&state.db, |p| sqlx::query_as("SELECT legal_name, phone, email FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(p)
            .await)?;
    let page = CompanyPage {
        ctx: ctx.with_nav("company"),
        c: ClientView::from_row(&client),
        contacts,
        firm_name: firm.legal_name,
        firm_phone: fr_phone(&firm.phone),
        firm_phone_link: firm.phone,
        firm_email: firm.email,
    };
    Ok(render(&page)?.into_response())
}
