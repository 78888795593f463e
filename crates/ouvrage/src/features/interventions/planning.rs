//! The back office's planning: interventions by day then technician, and marking one done or
//! cancelled (the site follows).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::rules::{self, fr_long_day};
use super::site::InterventionItem;
use super::store;
use crate::app::AppState;
use crate::domain::Role;
use crate::domain::time::now_ms;
use crate::features::audit;
use crate::features::clients::ui::{FieldErrors, FormData, Opt, parse_id, url_with};
use crate::features::sites::model::parse_day;
use crate::http::error::error_page;
use crate::http::{AppError, AppResult, Ctx, StaffActor, render};

/// The longest period the planning shows at once, in days.
const MAX_RANGE_DAYS: i64 = 62;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PlanningQuery {
    du: String,
    au: String,
    /// A user id, or `tous`; empty: a technician's own planning, everyone's for the office.
    technicien: String,
}

pub struct TechnicianGroup {
    pub name: String,
    pub items: Vec<InterventionItem>,
}

pub struct DayGroup {
    pub iso: String,
    pub label: String,
    pub today: bool,
    pub technicians: Vec<TechnicianGroup>,
}

#[derive(Template)]
#[template(path = "interventions/planning.html")]
struct PlanningPage {
    ctx: Ctx,
    du: String,
    au: String,
    title: String,
    technicians: Vec<Opt>,
    days: Vec<DayGroup>,
    count: usize,
    errors: FieldErrors,
    prev_url: String,
    next_url: String,
    this_week_url: String,
    pending: i64,
    can_manage: bool,
    /// This page, to come back to after marking an intervention.
    back: String,
    today: String,
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<PlanningQuery>,
) -> AppResult<Response> {
    let today = rules::paris_today();
    let mut errors = FieldErrors::default();
    let mut day_of = |field: &'static str, raw: &str| match parse_day(raw) {
        Ok(d) => d.and_then(|d| rules::parse_iso(&d)),
        Err(m) => {
            errors.add(field, m);
            None
        }
    };
    let from = day_of("du", &q.du).unwrap_or_else(|| rules::monday_of(today));
    let to = day_of("au", &q.au).unwrap_or_else(|| from + chrono::Duration::days(6));
    if to < from {
        errors.add("au", "La fin de la période précède son début.");
    } else if (to - from).num_days() >= MAX_RANGE_DAYS {
        errors.add("au", format!("Le planning montre {MAX_RANGE_DAYS} jours au plus : raccourcissez la période."));
    }
    let staff = store::field_staff(&state.db, actor.tenant_id).await?;
    // A technician opens their own planning; the office everyone's.
    let chosen = match q.technicien.trim() {
        "" if actor.role == Role::Technician => actor.user_id.0.to_string(),
        "" => "tous".to_string(),
        other => other.to_string(),
    };
    let technician = match chosen.as_str() {
        "tous" => None,
        raw => Some(staff.iter().find(|s| s.id.0.to_string() == raw).map(|s| s.id).ok_or(AppError::NotFound)?),
    };
    let mut technicians = vec![Opt::new("tous", "Tous", &chosen)];
    technicians.extend(staff.iter().map(|s| Opt::new(s.id.0.to_string(), s.full_name.clone(), &chosen)));
    let rows = if errors.is_empty() {
        store::planning(&state.db, actor.tenant_id, &rules::iso(from), &rules::iso(to), technician).await?
    } else {
        Vec::new()
    };
    let days = if errors.is_empty() {
        group(from, to, today, rows.iter().map(InterventionItem::from_row))
    } else {
        Vec::new()
    };
    let link = |f: NaiveDate, t: NaiveDate| {
        url_with("/bo/planning", &[("du", &rules::iso(f)), ("au", &rules::iso(t)), ("technicien", &q.technicien)])
    };
    let span = (to - from).num_days().clamp(0, MAX_RANGE_DAYS) + 1;
    let (from_label, to_label) = (fr_long_day(&rules::iso(from)), fr_long_day(&rules::iso(to)));
    let page = PlanningPage {
        ctx: ctx.with_nav("planning"),
        du: rules::iso(from),
        au: rules::iso(to),
        title: if from == to {
            format!("Planning du {from_label}")
        } else {
            format!("Planning du {from_label} au {to_label}")
        },
        technicians,
        count: rows.len(),
        days,
        errors,
        prev_url: link(from - chrono::Duration::days(span), to - chrono::Duration::days(span)),
        next_url: link(from + chrono::Duration::days(span), to + chrono::Duration::days(span)),
        this_week_url: url_with("/bo/planning", &[("technicien", &q.technicien)]),
        pending: store::pending_count(&state.db, actor.tenant_id).await?,
        can_manage: rules::can_manage(&actor),
        back: link(from, to),
        today: rules::iso(today),
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(&page)?).into_response())
}

/// Every day of `from..=to`, each with its interventions grouped by technician (in the order
/// the rows come: by day, technician, window).
fn group(
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    items: impl Iterator<Item = InterventionItem>,
) -> Vec<DayGroup> {
    let mut days: Vec<DayGroup> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| DayGroup {
            iso: rules::iso(d),
            label: capitalise(&fr_long_day(&rules::iso(d))),
            today: d == today,
            technicians: Vec::new(),
        })
        .collect();
    for item in items {
        let Some(day) = days.iter_mut().find(|d| d.iso == item.iso_day) else { continue };
        let name = if item.technician.is_empty() { "Sans technicien".to_string() } else { item.technician.clone() };
        match day.technicians.last_mut() {
            Some(t) if t.name == name => t.items.push(item),
            _ => day.technicians.push(TechnicianGroup { name, items: vec![item] }),
        }
    }
    days
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Where to go back after marking an intervention: a back-office page, never another site.
fn safe_back(raw: &str) -> Option<&str> {
    let ok = raw.starts_with("/bo/") && !raw.starts_with("//") && !raw.contains(['\\', '\r', '\n']);
    ok.then_some(raw)
}

pub async fn set_status(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let i = store::intervention(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    if !rules::can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let f = FormData(raw);
    let status = f.get("statut");
    if !matches!(status.as_str(), "done" | "cancelled") {
        return Ok(error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Statut inconnu",
            "Choisissez « réalisée » ou « annulée » pour cette intervention.",
        ));
    }
    let day_label = fr_long_day(&i.day);
    if status == "done" && rules::parse_iso(&i.day).is_some_and(|d| d > rules::paris_today()) {
        return Ok(error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Intervention à venir",
            &format!(
                "Cette intervention est prévue le {day_label} : elle ne peut être déclarée réalisée qu'à partir de ce jour."
            ),
        ));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if store::close(&mut tx, actor.tenant_id, i.id, &status, actor.user_id, now).await? == 0 {
        drop(tx);
        return Ok(error_page(
            StatusCode::CONFLICT,
            "Intervention déjà traitée",
            "Cette intervention n'est plus planifiée : elle a déjà été déclarée réalisée ou annulée.",
        ));
    }
    let line = if status == "done" {
        store::site_done(&mut tx, actor.tenant_id, i.site_id, &i.day, now).await?;
        format!("Intervention du {day_label} réalisée")
    } else {
        match store::next_planned_day(&mut tx, actor.tenant_id, i.site_id).await? {
            Some(next) => store::site_scheduled(&mut tx, actor.tenant_id, i.site_id, &next, now).await?,
            None => store::site_unscheduled(&mut tx, actor.tenant_id, i.site_id, &i.day, now).await?,
        }
        format!("Intervention du {day_label} annulée")
    };
    audit::record(&mut tx, &actor, "update", "intervention", Some(i.id), &format!("{line} ({})", i.site_name)).await?;
    audit::record(&mut tx, &actor, "update", "site", Some(i.site_id.0), &line).await?;
    tx.commit().await?;
    let back = safe_back(&f.get("retour")).map(str::to_string).unwrap_or_else(|| "/bo/planning".into());
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}msg=enregistre")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_links_stay_in_the_back_office() {
        assert_eq!(safe_back("/bo/planning?du=2026-11-16"), Some("/bo/planning?du=2026-11-16"));
        assert_eq!(safe_back("//evil.test/bo/"), None);
        assert_eq!(safe_back("https://evil.test"), None);
        assert_eq!(safe_back("/espace"), None);
    }
}
