//! The extranet: "Mes actions" and the intervention request form.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::rules::{self, THREAD_SUBJECT, fr_long_day};
use super::site::RequestItem;
use super::store::{self, NewRequest, RequestFilter};
use crate::app::AppState;
use crate::domain::format::fr_phone;
use crate::domain::time::now_ms;
use crate::features::audit;
use crate::features::clients::ui::positive_id;
use crate::features::clients::ui::{FieldErrors, FormData, Opt};
use crate::features::messaging;
use crate::features::sites::Scope;
use crate::features::sites::store::SiteRow;
use crate::http::{AppResult, ClientActor, Ctx, render};

/// How many of the company's requests "Mes actions" lists.
const RECENT_REQUESTS: usize = 20;

#[derive(Template)]
#[template(path = "interventions/actions.html")]
struct ActionsPage {
    ctx: Ctx,
    requests: Vec<RequestItem>,
    /// The messaging filtered on the requests' subject.
    threads_url: String,
}

pub async fn actions(State(state): State<AppState>, ctx: Ctx, ClientActor(actor): ClientActor) -> AppResult<Response> {
    let rows = store::requests(&state.db, Scope::of(&actor), &RequestFilter::default()).await?;
    let page = ActionsPage {
        ctx: ctx.with_nav("actions"),
        requests: rows.iter().take(RECENT_REQUESTS).map(RequestItem::from_row).collect(),
        threads_url: crate::features::clients::ui::url_with("/espace/messagerie", &[("objet", THREAD_SUBJECT)]),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Template)]
#[template(path = "interventions/request_form.html")]
struct RequestForm {
    ctx: Ctx,
    sites: Vec<Opt>,
    services: Vec<Opt>,
    /// The site the form was opened from (its page's button), for the way back.
    from_site: Option<(i64, String)>,
    dates: Vec<String>,
    comment: String,
    contact_name: String,
    contact_phone: String,
    errors: FieldErrors,
    /// Bounds of the date inputs (`YYYY-MM-DD`).
    min_day: String,
    max_day: String,
}

/// One preferred-day input of the form.
pub struct DateField {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub required: bool,
    pub error: Option<String>,
}

impl RequestForm {
    fn date_fields(&self) -> Vec<DateField> {
        ["date1", "date2", "date3"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| DateField {
                name,
                label: if i == 0 { "Date préférée" } else { "Autre date possible (facultatif)" },
                value: self.dates.get(i).cloned().unwrap_or_default(),
                required: i == 0,
                error: self.errors.get(name).map(str::to_string),
            })
            .collect()
    }
}

async fn form(state: &AppState, ctx: Ctx, actor: &ClientActor, site: i64, service: &str) -> AppResult<RequestForm> {
    let tenant = actor.0.tenant_id;
    let current = if site > 0 { site.to_string() } else { String::new() };
    let mut sites = vec![Opt::new("", "Choisissez le chantier", &current)];
    sites.extend(
        messaging::store::client_sites(&state.db, tenant, actor.client_id())
            .await?
            .into_iter()
            .map(|s| Opt::new(s.id.to_string(), s.label, &current)),
    );
    let mut services = vec![Opt::new("", "Choisissez la prestation", service)];
    services.extend(
        store::services(&state.db, tenant).await?.into_iter().map(|s| Opt::new(s.id.to_string(), s.label, service)),
    );
    let today = rules::paris_today();
    Ok(RequestForm {
        ctx: ctx.with_nav("actions"),
        sites,
        services,
        from_site: None,
        dates: vec![String::new(); rules::MAX_PREFERRED_DAYS],
        comment: String::new(),
        contact_name: String::new(),
        contact_phone: String::new(),
        errors: FieldErrors::default(),
        min_day: rules::iso(today),
        max_day: rules::iso(today + chrono::Duration::days(rules::MAX_DAYS_AHEAD)),
    })
}

/// A current site of the actor's company, or `None`.
async fn own_site(state: &AppState, actor: &ClientActor, raw: &str) -> AppResult<Option<SiteRow>> {
    let Some(id) = positive_id(raw) else { return Ok(None) };
    let site = crate::features::sites::store::site(&state.db, Scope::of(&actor.0), id).await?;
    Ok(site.filter(|s| !s.archived))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    chantier: String,
}

pub async fn new_request(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    // A site of another company (or an unknown id) is simply not preselected.
    let site = own_site(&state, &actor, &q.chantier).await?;
    let mut page = form(&state, ctx, &actor, site.as_ref().map(|s| s.id.0).unwrap_or(0), "").await?;
    if let Some(s) = site {
        // The site manager is the usual contact on site.
        let name = [&s.manager_first_name, &s.manager_last_name]
            .iter()
            .filter_map(|v| v.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        let phone = [&s.manager_mobile, &s.manager_phone].iter().filter_map(|v| v.as_deref()).find(|p| !p.is_empty());
        page.contact_name = name.trim().to_string();
        page.contact_phone = phone.map(fr_phone).unwrap_or_default();
        page.from_site = Some((s.id.0, s.name));
    }
    Ok(render(&page)?.into_response())
}

pub async fn create_request(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: ClientActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let f = FormData(raw);
    let site = own_site(&state, &actor, &f.get("chantier")).await?;
    let service_raw = f.get("prestation");
    let mut page = form(&state, ctx, &actor, site.as_ref().map(|s| s.id.0).unwrap_or(0), &service_raw).await?;
    let mut e = FieldErrors::default();
    if site.is_none() {
        e.add("chantier", "Choisissez un de vos chantiers en cours dans la liste.");
    }
    let service = page.services.iter().skip(1).find(|o| o.selected).map(|o| (o.value.clone(), o.label.clone()));
    if service.is_none() {
        e.add("prestation", "Choisissez la prestation souhaitée dans la liste.");
    }
    let dates: Vec<String> = ["date1", "date2", "date3"].iter().map(|k| f.get(k)).collect();
    let input = rules::check_request(
        &dates,
        &f.text("commentaire"),
        &f.get("contact_nom"),
        &f.get("contact_tel"),
        rules::paris_today(),
        &mut e,
    );
    page.dates = dates;
    page.comment = f.text("commentaire");
    page.contact_name = f.get("contact_nom");
    page.contact_phone = f.get("contact_tel");
    let (Some(site), Some((service_id, service_label)), true) = (site, service, e.is_empty()) else {
        page.errors = e;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let service_id: i64 = service_id.parse().unwrap_or_default();
    let actor = actor.0;
    let client = site.client_id;
    let body = summary(&site.name, &service_label, &input);
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let (thread, _) = messaging::open_thread(
        &mut tx,
        &actor,
        client,
        Some((site.id.0, site.name.clone())),
        THREAD_SUBJECT,
        &body,
        now,
    )
    .await?;
    let id = store::insert_request(
        &mut tx,
        &NewRequest {
            tenant: actor.tenant_id,
            client,
            site: site.id,
            service: service_id,
            days: &input.days,
            comment: &input.comment,
            contact_name: &input.contact_name,
            contact_phone: &input.contact_phone,
            thread,
            by: actor.user_id,
            now,
        },
    )
    .await?;
    let days = input.days.iter().map(|d| fr_long_day(d)).collect::<Vec<_>>().join(", ");
    let line = format!("Demande d'intervention n° {id} : {service_label}, souhaitée le {days}");
    audit::record(&mut tx, &actor, "create", "intervention_request", Some(id), &format!("{line} ({})", site.name))
        .await?;
    audit::record(&mut tx, &actor, "update", "site", Some(site.id.0), &line).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/espace/messagerie/{thread}?msg=envoye")).into_response())
}

/// The first message of the request's thread: everything the office needs to answer.
fn summary(site: &str, service: &str, r: &rules::RequestInput) -> String {
    let days = r.days.iter().map(|d| fr_long_day(d)).collect::<Vec<_>>().join(", ");
    let contact = match (r.contact_name.is_empty(), r.contact_phone.is_empty()) {
        (true, true) => "non précisé".to_string(),
        (false, true) => r.contact_name.clone(),
        (true, false) => fr_phone(&r.contact_phone),
        (false, false) => format!("{} — {}", r.contact_name, fr_phone(&r.contact_phone)),
    };
    let mut body = format!(
        "Demande d'intervention sur le chantier « {site} ».\nPrestation : {service}\n{} : {days}\nContact sur place : {contact}",
        if r.days.len() > 1 { "Dates souhaitées" } else { "Date souhaitée" }
    );
    if !r.comment.is_empty() {
        body.push_str(&format!("\nCommentaire :\n{}", r.comment));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_sums_the_request_up() {
        let r = rules::RequestInput {
            days: vec!["2026-12-01".into(), "2026-12-03".into()],
            comment: "Portail ouvert".into(),
            contact_name: "Julien Lefèvre".into(),
            contact_phone: "+33623456789".into(),
        };
        let body = summary("Maison Durand", "Test d'étanchéité à l'air", &r);
        assert!(body.contains("« Maison Durand »"));
        assert!(body.contains("Prestation : Test d'étanchéité à l'air"));
        assert!(body.contains("Dates souhaitées : mardi 1er décembre 2026, jeudi 3 décembre 2026"));
        assert!(body.contains("Contact sur place : Julien Lefèvre — 06 23 45 67 89"));
        assert!(body.ends_with("Commentaire :\nPortail ouvert"));
        let bare = rules::RequestInput { days: vec!["2026-12-01".into()], ..Default::default() };
        let body = summary("X", "Y", &bare);
        assert!(
            body.contains("Date souhaitée : mardi") && body.contains("non précisé") && !body.contains("Commentaire")
        );
    }
}
