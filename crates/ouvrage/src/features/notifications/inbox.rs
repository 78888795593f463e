//! The in-app list of notifications, on both faces (`/espace/notifications` for extranet users,
//! `/bo/notifications` for staff): newest first, paginated, unread ones marked. Opening one
//! marks it read and follows its link. A user only ever sees and marks their own notifications:
//! every query is bound to the actor's tenant and user id, and anything else answers 404.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::Db;
use crate::domain::time::{fr_datetime, now_ms};
use crate::domain::{TenantId, UserId};
use crate::features::clients::ui::{Pager, parse_id, url_with};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};
use crate::{exec_db, on_db};

const PER_PAGE: i64 = 25;
/// The navigation shows at most this many unread ("99+" beyond), so counting stays cheap.
pub const UNREAD_CAP: i64 = 100;

/// How many unread notifications the user has, counted up to [`UNREAD_CAP`] (one indexed query
/// on the partial index of unread rows).
pub async fn unread_count(db: &Db, tenant: TenantId, user: UserId) -> Result<i64, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM notifications
                               WHERE user_id = $1 AND tenant_id = $2 AND read_at IS NULL LIMIT $3) u"
    )
    .bind(user)
    .bind(tenant)
    .bind(UNREAD_CAP)
    .fetch_one(p)
    .await)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    title: String,
    site_label: String,
    created_at: i64,
    read_at: Option<i64>,
}

struct Line {
    id: i64,
    title: String,
    site: String,
    when: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "notifications/list.html")]
struct ListPage {
    ctx: Ctx,
    lines: Vec<Line>,
    pager: Pager,
    unread: i64,
    only_unread: bool,
    list_path: &'static str,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    page: String,
    /// "1": only the unread ones.
    #[serde(default, rename = "non-lues")]
    unread: String,
}

pub async fn espace_list(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, q, "/espace/notifications").await
}

pub async fn bo_list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, q, "/bo/notifications").await
}

fn list_path(actor: &Actor) -> &'static str {
    if actor.is_staff() { "/bo/notifications" } else { "/espace/notifications" }
}

async fn list(state: &AppState, ctx: Ctx, actor: &Actor, q: ListQuery, path: &'static str) -> AppResult<Response> {
    let only_unread = q.unread == "1";
    let filter = if only_unread { " AND read_at IS NULL" } else { "" };
    let count_sql = format!("SELECT COUNT(*) FROM notifications WHERE tenant_id = $1 AND user_id = $2{filter}");
    let total: i64 = on_db!(&state.db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
        .bind(actor.tenant_id)
        .bind(actor.user_id)
        .fetch_one(p)
        .await)?;
    let requested = Pager::requested(&q.page);
    let unread_param = if only_unread { "1" } else { "" };
    let pager = Pager::new(requested, PER_PAGE, total, |n| {
        url_with(path, &[("non-lues", unread_param), ("page", &page_param(n))])
    });
    let rows_sql = format!(
        "SELECT id, title, site_label, created_at, read_at FROM notifications
         WHERE tenant_id = $1 AND user_id = $2{filter}
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows: Vec<Row> = on_db!(&state.db, |p| sqlx::query_as(sqlx::AssertSqlSafe(rows_sql))
        .bind(actor.tenant_id)
        .bind(actor.user_id)
        .bind(PER_PAGE)
        .bind(Pager::offset(pager.page, PER_PAGE))
        .fetch_all(p)
        .await)?;
    let unread = ctx.unread;
    let lines = rows
        .into_iter()
        .map(|r| Line {
            id: r.id,
            title: r.title,
            site: r.site_label,
            when: fr_datetime(r.created_at),
            unread: r.read_at.is_none(),
        })
        .collect();
    let page = ListPage { ctx: ctx.with_nav("notifications"), lines, pager, unread, only_unread, list_path: path };
    Ok(render(&page)?.into_response())
}

fn page_param(n: i64) -> String {
    if n > 1 { n.to_string() } else { String::new() }
}

/// Only local paths are followed, so a stored link can never send users to another site.
fn safe_link(link: &str) -> Option<&str> {
    (link.starts_with('/') && !link.starts_with("//") && !link.starts_with("/\\") && !link.contains("://"))
        .then_some(link)
}

/// POST /notifications/{id}/lu: marks the actor's notification read and opens its link.
pub async fn open(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let link: Option<String> = on_db!(&state.db, |p| sqlx::query_scalar(
        "SELECT link FROM notifications WHERE id = $1 AND tenant_id = $2 AND user_id = $3"
    )
    .bind(id)
    .bind(actor.tenant_id)
    .bind(actor.user_id)
    .fetch_optional(p)
    .await)?;
    let link = link.ok_or(AppError::NotFound)?;
    // Read state is the user's own view of their list, not business data: it is not audited.
    exec_db!(&state.db, |p| sqlx::query(
        "UPDATE notifications SET read_at = $1 WHERE id = $2 AND tenant_id = $3 AND user_id = $4 AND read_at IS NULL"
    )
    .bind(now_ms())
    .bind(id)
    .bind(actor.tenant_id)
    .bind(actor.user_id)
    .execute(p)
    .await)?;
    let target = safe_link(&link).map(str::to_string).unwrap_or_else(|| list_path(&actor).to_string());
    Ok(Redirect::to(&target).into_response())
}

/// POST /notifications/tout-lu: marks every notification of the actor read.
pub async fn open_all(State(state): State<AppState>, actor: Actor) -> AppResult<Response> {
    exec_db!(&state.db, |p| sqlx::query(
        "UPDATE notifications SET read_at = $1 WHERE tenant_id = $2 AND user_id = $3 AND read_at IS NULL"
    )
    .bind(now_ms())
    .bind(actor.tenant_id)
    .bind(actor.user_id)
    .execute(p)
    .await)?;
    Ok(Redirect::to(&format!("{}?msg=lues", list_path(&actor))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_links_are_opened() {
        assert_eq!(safe_link("/espace/documents?x=1"), Some("/espace/documents?x=1"));
        assert_eq!(safe_link("//evil.example"), None);
        assert_eq!(safe_link("https://evil.example"), None);
        assert_eq!(safe_link("/\\evil.example"), None);
        assert_eq!(safe_link(""), None);
    }
}
