//! Sites: chantiers (construction sites), résidences and their logements, locaux. The back
//! office sees every client's sites (admin and office write, technicians read); the extranet's
//! "Mes chantiers" shows a client's own sites, which its users create and edit. Both faces
//! share the same store, search and forms; [`Area`] says which face a request is on.

pub mod duplicates;
pub mod export;
pub mod form;
pub mod list;
pub mod model;
pub mod search;
pub mod store;
pub mod studies;
pub mod study_pages;

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::domain::Role;
use crate::http::{Actor, AppResult, ClientActor, Ctx, StaffActor};

pub use store::{Scope, SiteFilter, SiteListRow, SiteSort, search as search_sites};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/chantiers", get(bo_list))
        .route("/bo/chantiers/export.xlsx", get(bo_export))
        .route("/bo/chantiers/nouveau", get(bo_new).post(bo_create))
        .route("/bo/chantiers/{id}", get(bo_detail))
        .route("/bo/chantiers/{id}/modifier", get(bo_edit).post(bo_update))
        .route("/bo/chantiers/{id}/archiver", post(form::archive))
        .route("/bo/chantiers/nouveau/etude", post(study_pages::bo_new))
        .route("/bo/chantiers/{id}/etude", post(study_pages::bo_update))
        .route("/espace/chantiers/nouveau/etude", post(study_pages::espace_new))
        .route("/espace/chantiers/{id}/etude", post(study_pages::espace_update))
        .route("/espace/chantiers", get(espace_list))
        .route("/espace/chantiers/export.xlsx", get(espace_export))
        .route("/espace/chantiers/nouveau", get(espace_new).post(espace_create))
        .route("/espace/chantiers/{id}", get(espace_detail))
        .route("/espace/chantiers/{id}/modifier", get(espace_edit).post(espace_update))
}

/// Which face of the product a request is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `/bo/chantiers`: the firm's staff, every client of the firm.
    Bo,
    /// `/espace/chantiers`: a client's users, their own company's sites.
    Espace,
}

impl Area {
    pub fn base(self) -> &'static str {
        match self {
            Area::Bo => "/bo/chantiers",
            Area::Espace => "/espace/chantiers",
        }
    }

    pub fn is_bo(self) -> bool {
        self == Area::Bo
    }
}

/// Who may create and edit sites on their face: the firm's admin and office in the back
/// office (technicians read), and every user of the client in the extranet (builders create
/// and describe their chantiers).
pub fn can_write(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office | Role::ClientAdmin | Role::ClientUser)
}

async fn bo_list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<search::ListQuery>,
) -> AppResult<Response> {
    list::list(&state, ctx, &actor, Area::Bo, q).await
}

async fn espace_list(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<search::ListQuery>,
) -> AppResult<Response> {
    list::list(&state, ctx, &actor, Area::Espace, q).await
}

async fn bo_export(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<search::ListQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    export::export(&state, ctx, &actor, Area::Bo, q, raw.as_deref()).await
}

async fn espace_export(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<search::ListQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    export::export(&state, ctx, &actor, Area::Espace, q, raw.as_deref()).await
}

async fn bo_detail(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    list::detail(&state, ctx, &actor, Area::Bo, &id, study_pages::DetailQuery::of(&q)).await
}

async fn espace_detail(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    list::detail(&state, ctx, &actor, Area::Espace, &id, study_pages::DetailQuery::of(&q)).await
}

async fn bo_new(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<form::NewQuery>,
) -> AppResult<Response> {
    form::new_page(&state, ctx, &actor, Area::Bo, q).await
}

async fn espace_new(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<form::NewQuery>,
) -> AppResult<Response> {
    form::new_page(&state, ctx, &actor, Area::Espace, q).await
}

async fn bo_create(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    form::create(&state, ctx, &actor, Area::Bo, raw).await
}

async fn espace_create(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    form::create(&state, ctx, &actor, Area::Espace, raw).await
}

async fn bo_edit(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    form::edit_page(&state, ctx, &actor, Area::Bo, &id).await
}

async fn espace_edit(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    form::edit_page(&state, ctx, &actor, Area::Espace, &id).await
}

async fn bo_update(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    form::update(&state, ctx, &actor, Area::Bo, &id, raw).await
}

async fn espace_update(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    form::update(&state, ctx, &actor, Area::Espace, &id, raw).await
}
