//! Landing pages: `/` sends each user home, the two dashboards, and the sections whose
//! capabilities are still to come (they say what will be there).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

pub mod dashboard;

use crate::app::AppState;
use crate::db::Db;
use crate::domain::time::fr_datetime;
use crate::domain::{ClientId, TenantId};
use crate::features::auth::home_for;
use crate::http::{Actor, AppResult, ClientActor, Ctx, StaffActor, render};
use crate::on_db;

pub fn routes() -> Router<AppState> {
    let mut r = Router::new().route("/", get(root)).route("/bo", get(bo_home)).route("/espace", get(espace_home));
    for s in SECTIONS {
        r = r.route(s.path, get(section));
    }
    r
}

async fn root(actor: Option<Actor>) -> Response {
    match actor {
        Some(a) => Redirect::to(home_for(a.role)).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Template)]
#[template(path = "bo/home.html")]
struct BoHome {
    ctx: Ctx,
    tenant_name: String,
    waiting: dashboard::FirmCounts,
    clients: i64,
    contacts: i64,
    client_users: i64,
    recent: Vec<RecentEvent>,
}

pub struct RecentEvent {
    pub when: String,
    pub who: String,
    pub summary: String,
}

#[derive(sqlx::FromRow)]
struct RecentRow {
    created_at: i64,
    actor_label: String,
    summary: String,
}

async fn count(db: &Db, sql: &'static str, tenant: TenantId) -> Result<i64, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar(sql).bind(tenant).fetch_one(p).await)
}

pub async fn tenant_name(db: &Db, tenant: TenantId) -> Result<String, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar("SELECT legal_name FROM tenants WHERE id = $1").bind(tenant).fetch_one(p).await)
}

async fn bo_home(State(state): State<AppState>, ctx: Ctx, StaffActor(actor): StaffActor) -> AppResult<Response> {
    let t = actor.tenant_id;
    let rows: Vec<RecentRow> = on_db!(&state.db, |p| {
        sqlx::query_as(
        "SELECT created_at, actor_label, summary FROM audit_log WHERE tenant_id = $1 AND action <> 'login' ORDER BY id DESC LIMIT 8"
    )
    .bind(t)
    .fetch_all(p)
    .await
    })?;
    let page = BoHome {
        ctx: ctx.with_nav("home"),
        tenant_name: tenant_name(&state.db, t).await?,
        waiting: dashboard::firm_counts(&state.db, t).await?,
        clients: count(&state.db, "SELECT COUNT(*) FROM clients WHERE tenant_id = $1 AND NOT archived", t).await?,
        contacts: count(&state.db, "SELECT COUNT(*) FROM contacts WHERE tenant_id = $1 AND NOT archived", t).await?,
        client_users: count(
            &state.db,
            "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND client_id IS NOT NULL AND active",
            t,
        )
        .await?,
        recent: rows
            .into_iter()
            .map(|r| RecentEvent { when: fr_datetime(r.created_at), who: r.actor_label, summary: r.summary })
            .collect(),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Template)]
#[template(path = "espace/home.html")]
struct EspaceHome {
    ctx: Ctx,
    company: String,
    tenant_name: String,
    counts: dashboard::ClientCounts,
    sees_invoices: bool,
}

async fn espace_home(State(state): State<AppState>, ctx: Ctx, actor: ClientActor) -> AppResult<Response> {
    let client: ClientId = actor.client_id();
    let t = actor.0.tenant_id;
    let company: String =
        on_db!(&state.db, |p| sqlx::query_scalar("SELECT name FROM clients WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(client)
            .fetch_one(p)
            .await)?;
    let sees_invoices = actor.0.can(crate::domain::Permission::SeeInvoices);
    let counts = dashboard::client_counts(&state.db, t, client, actor.0.user_id, sees_invoices).await?;
    let page = EspaceHome {
        ctx: ctx.with_nav("home"),
        company,
        tenant_name: tenant_name(&state.db, t).await?,
        counts,
        sees_invoices,
    };
    Ok(render(&page)?.into_response())
}

/// A section of the product whose capability is on its way: the page says what it will do.
struct Section {
    path: &'static str,
    staff: bool,
    nav: &'static str,
    title: &'static str,
    coming: &'static [&'static str],
}

const SECTIONS: &[Section] = &[Section {
    path: "/bo/facturation",
    staff: true,
    nav: "billing",
    title: "Facturation",
    coming: &[
        "Devis, factures et avoirs numérotés sans trou, au format Factur-X.",
        "Dépôt Chorus Pro pour les clients publics et suivi des statuts.",
    ],
}];

#[derive(Template)]
#[template(path = "section.html")]
struct SectionPage {
    ctx: Ctx,
    title: &'static str,
    coming: &'static [&'static str],
}

async fn section(ctx: Ctx, actor: Actor, uri: axum::http::Uri) -> AppResult<Response> {
    let Some(s) = SECTIONS.iter().find(|s| s.path == uri.path()) else {
        return Err(crate::http::AppError::NotFound);
    };
    if s.staff != actor.is_staff() {
        return Err(crate::http::AppError::Forbidden);
    }
    Ok(render(&SectionPage { ctx: ctx.with_nav(s.nav), title: s.title, coming: s.coming })?.into_response())
}
