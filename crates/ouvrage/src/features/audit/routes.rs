//! The audit log of the firm, for its admin: newest first, filtered by kind of object and by
//! user, read-only (the database itself refuses changes to it).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::time::fr_datetime;
use crate::domain::{TenantId, UserId};
use crate::features::clients::ui::{Opt, Pager, url_with};
use crate::http::{AdminActor, AppResult, Ctx, render};
use crate::on_db;

pub const PER_PAGE: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/bo/parametres/journal", get(journal))
}

/// French names of the kinds of objects recorded in the log.
pub fn entity_label(entity: &str) -> String {
    match entity {
        "client" => "Client",
        "contact" => "Contact",
        "user" => "Utilisateur",
        "tenant" => "Paramètres de l'entreprise",
        "file" => "Fichier",
        "site" => "Chantier",
        "document" => "Document",
        "invoice" => "Facture",
        "quote" => "Devis",
        "contract" => "Contrat",
        "intervention" => "Intervention",
        "message" => "Message",
        other => other,
    }
    .to_string()
}

/// French names of the actions recorded in the log.
pub fn action_label(action: &str) -> String {
    match action {
        "create" => "Création",
        "update" => "Modification",
        "delete" => "Suppression",
        "archive" => "Archivage",
        "unarchive" => "Réactivation",
        "login" => "Connexion",
        "password_change" => "Changement de mot de passe",
        "password_reset_requested" => "Demande de réinitialisation",
        "password_reset" => "Réinitialisation du mot de passe",
        "temp_password" => "Mot de passe temporaire",
        "upload" => "Dépôt de fichier",
        other => other,
    }
    .to_string()
}

/// Where the object of an entry can be seen, when it has a page.
fn entity_link(entity: &str, id: Option<i64>) -> Option<String> {
    let id = id?;
    match entity {
        "client" => Some(format!("/bo/clients/{id}")),
        "contact" => Some(format!("/bo/contacts/{id}/modifier")),
        "user" => Some(format!("/bo/utilisateurs/{id}/modifier")),
        "tenant" => Some("/bo/parametres".to_string()),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
struct JournalQuery {
    #[serde(default)]
    entite: String,
    #[serde(default)]
    utilisateur: String,
    #[serde(default)]
    page: String,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    created_at: i64,
    user_id: Option<UserId>,
    actor_label: String,
    action: String,
    entity: String,
    entity_id: Option<i64>,
    summary: String,
    ip: String,
}

pub struct Entry {
    pub when: String,
    pub who: String,
    pub who_id: Option<UserId>,
    pub action: String,
    pub entity: String,
    pub link: Option<String>,
    pub summary: String,
    pub ip: String,
}

#[derive(Template)]
#[template(path = "bo/settings/journal.html")]
struct JournalPage {
    ctx: Ctx,
    entities: Vec<Opt>,
    users: Vec<Opt>,
    entries: Vec<Entry>,
    pager: Pager,
    filtered: bool,
}

const WHERE: &str = "tenant_id = $1 AND ($2 = '' OR entity = $2) AND ($3 IS NULL OR user_id = $3)";

async fn page_of(
    state: &AppState,
    tenant: TenantId,
    entity: &str,
    user: Option<UserId>,
    page: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let sql = format!(
        "SELECT created_at, user_id, actor_label, action, entity, entity_id, summary, ip FROM audit_log
         WHERE {WHERE} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
    );
    on_db!(&state.db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(entity)
        .bind(user)
        .bind(PER_PAGE)
        .bind(Pager::offset(page, PER_PAGE))
        .fetch_all(p)
        .await)
}

async fn journal(
    State(state): State<AppState>,
    ctx: Ctx,
    AdminActor(actor): AdminActor,
    Query(q): Query<JournalQuery>,
) -> AppResult<Response> {
    let tenant = actor.tenant_id;
    let kinds: Vec<String> = on_db!(&state.db, |p| sqlx::query_scalar(
        "SELECT DISTINCT entity FROM audit_log WHERE tenant_id = $1 ORDER BY entity"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)?;
    // Only kinds that exist in this firm's log are accepted as a filter.
    let entity = kinds.iter().find(|k| **k == q.entite.trim()).cloned().unwrap_or_default();
    let user = q.utilisateur.trim().parse::<i64>().ok().map(UserId);
    let count_sql = format!("SELECT COUNT(*) FROM audit_log WHERE {WHERE}");
    let total: i64 = on_db!(&state.db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
        .bind(tenant)
        .bind(&entity)
        .bind(user)
        .fetch_one(p)
        .await)?;
    let user_param = user.map(|u| u.to_string()).unwrap_or_default();
    let link = |n: i64| {
        let page = if n > 1 { n.to_string() } else { String::new() };
        url_with("/bo/parametres/journal", &[("entite", &entity), ("utilisateur", &user_param), ("page", &page)])
    };
    let pager = Pager::new(Pager::requested(&q.page), PER_PAGE, total, link);
    let rows = page_of(&state, tenant, &entity, user, pager.page).await?;
    let mut entities = vec![Opt::new("", "Tout", &entity)];
    entities.extend(kinds.iter().map(|k| Opt::new(k.clone(), entity_label(k), &entity)));
    let mut users = vec![Opt::new("", "Tous les utilisateurs", &user_param)];
    users.extend(
        crate::features::users::store::all_names(&state.db, tenant)
            .await?
            .into_iter()
            .map(|(id, name, email)| Opt::new(id.to_string(), format!("{name} <{email}>"), &user_param)),
    );
    let entries = rows
        .into_iter()
        .map(|r| Entry {
            when: fr_datetime(r.created_at),
            who: r.actor_label,
            who_id: r.user_id,
            action: action_label(&r.action),
            link: entity_link(&r.entity, r.entity_id),
            entity: entity_label(&r.entity),
            summary: r.summary,
            ip: r.ip,
        })
        .collect();
    let page = JournalPage {
        ctx: ctx.with_nav("settings"),
        entities,
        users,
        entries,
        pager,
        filtered: !entity.is_empty() || user.is_some(),
    };
    Ok(render(&page)?.into_response())
}
