//! `/bo/documents/a-valider`: what clients sent for their sites' requirements, oldest first,
//! for the firm to validate or refuse. Every staff member reads it; admin and office decide.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{rules, store};
use crate::app::AppState;
use crate::domain::time::fr_datetime;
use crate::http::{Actor, AppResult, Ctx, StaffActor, render};

pub const PATH: &str = "/bo/documents/a-valider";

/// The list shows this many; the count says how many there are in all.
const SHOWN: i64 = 200;

pub struct QueueItem {
    pub id: i64,
    pub client: String,
    pub site: String,
    pub site_url: String,
    pub service: String,
    pub label: String,
    pub stage: &'static str,
    pub is_document: bool,
    pub document_url: String,
    pub document_title: String,
    pub data_value: String,
    pub received_on: String,
    pub validate_url: String,
    pub refuse_url: String,
    pub draft: String,
}

#[derive(Template)]
#[template(path = "documents/requirements/to_validate.html")]
pub struct QueuePage {
    pub ctx: Ctx,
    pub items: Vec<QueueItem>,
    pub total: i64,
    pub can_decide: bool,
    pub notice: &'static str,
    pub errors: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueQuery {
    msg: String,
}

async fn queue_page(state: &AppState, ctx: Ctx, actor: &Actor, msg: &str) -> AppResult<QueuePage> {
    let rows = store::to_validate(&state.db, actor.tenant_id, SHOWN).await?;
    let total = store::to_validate_count(&state.db, actor.tenant_id).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let base = format!("/bo/chantiers/{}/attendus/{}", r.site_id, r.id);
            QueueItem {
                id: r.id,
                client: format!("{} — {}", r.client_code, r.client_name),
                site: r.site_name,
                site_url: format!("/bo/chantiers/{}/documents", r.site_id),
                service: r.service_label.unwrap_or_default(),
                label: r.label,
                stage: rules::stage_label(&r.stage),
                is_document: r.kind != rules::DATA,
                document_url: r.document_id.map(|d| format!("/bo/documents/{d}")).unwrap_or_default(),
                document_title: r.document_title.unwrap_or_default(),
                data_value: r.data_value,
                received_on: r.received_at.map(fr_datetime).unwrap_or_default(),
                validate_url: format!("{base}/valider"),
                refuse_url: format!("{base}/refuser"),
                draft: String::new(),
            }
        })
        .collect();
    Ok(QueuePage {
        ctx: ctx.with_nav("documents"),
        items,
        total,
        can_decide: rules::can_manage(actor),
        notice: match msg {
            "valide" => "Élément validé.",
            "refuse" => "Élément refusé : le client voit le motif.",
            _ => "",
        },
        errors: Vec::new(),
    })
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<QueueQuery>,
) -> AppResult<Response> {
    Ok(render(&queue_page(&state, ctx, &actor, &q.msg).await?)?.into_response())
}

/// The list again with a decision's error (and the reason typed kept): 422.
pub async fn refused(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    error: String,
    draft: Option<(i64, String)>,
) -> AppResult<Response> {
    let mut page = queue_page(state, ctx, actor, "").await?;
    page.errors.push(error);
    if let Some((id, text)) = draft {
        for item in page.items.iter_mut().filter(|i| i.id == id) {
            item.draft = text.clone();
        }
    }
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}
