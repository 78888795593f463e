//! How requests and interventions are shown in lists, and the "Interventions" section of a
//! site's page (both faces).

use super::rules::{self, fr_short_day, fr_time};
use super::store::{self, InterventionRow, RequestFilter, RequestRow};
use crate::app::AppState;
use crate::domain::time::fr_date;
use crate::features::sites::Scope;
use crate::features::sites::store::SiteRow;
use crate::http::{Actor, AppResult};

/// One request, ready to show.
pub struct RequestItem {
    pub id: i64,
    pub received: String,
    pub client: String,
    pub site_id: i64,
    pub site: String,
    pub service: String,
    pub days: String,
    pub status: &'static str,
    pub status_class: &'static str,
    /// The answer in a few words: the planned or proposed slot, the refusal.
    pub answer: String,
    pub thread_id: i64,
    pub open: bool,
}

impl RequestItem {
    pub fn from_row(r: &RequestRow) -> RequestItem {
        let (status, status_class) = rules::request_status(&r.status);
        let answer = match r.status.as_str() {
            "accepted" => match (&r.intervention_day, &r.intervention_start, &r.intervention_end) {
                (Some(d), Some(s), Some(e)) => format!("{} {}–{}", fr_short_day(d), fr_time(s), fr_time(e)),
                _ => String::new(),
            },
            "proposed" => match (&r.proposed_day, &r.proposed_start, &r.proposed_end) {
                (Some(d), Some(s), Some(e)) => format!("proposé : {} {}–{}", fr_short_day(d), fr_time(s), fr_time(e)),
                _ => String::new(),
            },
            "refused" => r.refusal_reason.clone(),
            _ => String::new(),
        };
        RequestItem {
            id: r.id,
            received: fr_date(r.created_at),
            client: format!("{} — {}", r.client_code, r.client_name),
            site_id: r.site_id.0,
            site: r.site_name.clone(),
            service: r.service_label.clone(),
            days: r.preferred_days().into_iter().map(fr_short_day).collect::<Vec<_>>().join(", "),
            status,
            status_class,
            answer,
            thread_id: r.thread_id,
            open: rules::OPEN_REQUEST_STATUSES.contains(&r.status.as_str()),
        }
    }
}

/// One intervention, ready to show.
pub struct InterventionItem {
    pub id: i64,
    pub day: String,
    pub iso_day: String,
    pub window: String,
    pub client: String,
    pub site_id: i64,
    pub site: String,
    pub city: String,
    pub service: String,
    pub technician: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub planned: bool,
    pub request_id: Option<i64>,
    pub attempt: i64,
}

impl InterventionItem {
    pub fn from_row(i: &InterventionRow) -> InterventionItem {
        let (status, status_class) = rules::intervention_status(&i.status);
        InterventionItem {
            id: i.id,
            day: fr_short_day(&i.day),
            iso_day: i.day.clone(),
            window: format!("{} – {}", fr_time(&i.window_start), fr_time(&i.window_end)),
            client: format!("{} — {}", i.client_code, i.client_name),
            site_id: i.site_id.0,
            site: i.site_name.clone(),
            city: i.site_city.clone(),
            service: i.service_label.clone().unwrap_or_default(),
            technician: i.technician_name.clone().unwrap_or_default(),
            status,
            status_class,
            planned: i.status == "planned",
            request_id: i.request_id,
            attempt: i.attempt,
        }
    }
}

/// The "Interventions" section of a site's page.
pub struct SiteSection {
    pub bo: bool,
    pub interventions: Vec<InterventionItem>,
    /// The requests still awaiting the firm's answer or the client's confirmation.
    pub requests: Vec<RequestItem>,
    /// "Demander une intervention" (extranet, current sites); empty when not offered.
    pub request_url: String,
}

pub async fn section(state: &AppState, actor: &Actor, site: &SiteRow) -> AppResult<SiteSection> {
    let scope = Scope::of(actor);
    let interventions = store::site_interventions(&state.db, scope, site.id).await?;
    let requests = store::requests(&state.db, scope, &RequestFilter { site: Some(site.id.0), ..Default::default() })
        .await?
        .iter()
        .map(RequestItem::from_row)
        .filter(|r| r.open)
        .collect();
    let bo = actor.is_staff();
    Ok(SiteSection {
        bo,
        interventions: interventions.iter().map(InterventionItem::from_row).collect(),
        requests,
        request_url: if bo || site.archived {
            String::new()
        } else {
            format!("/espace/actions/intervention?chantier={}", site.id)
        },
    })
}
