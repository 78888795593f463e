//! The back office's intervention requests: the list, a request's page and its three answers
//! (schedule, propose another day, refuse), each posted in the request's thread.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::rules::{self, Slot, fr_long_day};
use super::site::RequestItem;
use super::store::{self, Answer, NewIntervention, RequestFilter, RequestRow};
use crate::app::AppState;
use crate::db::{Tx, is_unique_violation};
use crate::domain::ClientId;
use crate::domain::format::fr_phone;
use crate::domain::time::{fr_datetime, now_ms};
use crate::features::audit;
use crate::features::clients::ui::{FieldErrors, FormData, Opt, parse_id, parse_opt_id};
use crate::features::messaging;
use crate::features::sites::Scope;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    statut: String,
    client: String,
}

#[derive(Template)]
#[template(path = "interventions/bo_requests.html")]
struct ListPage {
    ctx: Ctx,
    requests: Vec<RequestItem>,
    statuses: Vec<Opt>,
    clients: Vec<Opt>,
    narrowed: bool,
}

pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let status = if rules::is_request_status(&q.statut) { q.statut.clone() } else { String::new() };
    let client = parse_opt_id(&q.client)?;
    let filter = RequestFilter { status: status.clone(), client: client.map(ClientId), site: None };
    let rows = store::requests(&state.db, Scope::of(&actor), &filter).await?;
    let mut statuses = vec![Opt::new("", "Tous", &status)];
    statuses.extend(rules::REQUEST_STATUSES.iter().map(|s| Opt::new(s.0, s.1, &status)));
    let current_client = client.map(|c| c.to_string()).unwrap_or_default();
    let mut clients = vec![Opt::new("", "Tous les clients", &current_client)];
    clients.extend(
        messaging::store::clients(&state.db, actor.tenant_id)
            .await?
            .into_iter()
            .map(|c| Opt::new(c.id.to_string(), c.label, &current_client)),
    );
    let page = ListPage {
        ctx: ctx.with_nav("intervention_requests"),
        requests: rows.iter().map(RequestItem::from_row).collect(),
        statuses,
        clients,
        narrowed: !status.is_empty() || client.is_some(),
    };
    Ok(render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// A request

/// What one of the three forms holds, as typed, with its errors.
#[derive(Default)]
pub struct SlotForm {
    pub day: String,
    pub start: String,
    pub end: String,
    pub technician: String,
    pub errors: FieldErrors,
}

/// The intervention planned for a request.
pub struct PlannedView {
    pub id: i64,
    pub iso_day: String,
    /// `le mardi 1er décembre 2026 entre 8 h 00 et 10 h 00`.
    pub slot: String,
    pub technician: String,
    pub label: &'static str,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "interventions/bo_request.html")]
struct RequestPage {
    ctx: Ctx,
    r: RequestItem,
    days: Vec<String>,
    comment: String,
    contact_name: String,
    /// `(shown, tel: link)`.
    contact_phone: Option<(String, String)>,
    created: String,
    created_by: String,
    answered: String,
    proposed: String,
    refusal: String,
    intervention: Option<PlannedView>,
    can_answer: bool,
    technicians: Vec<Opt>,
    others: Vec<Opt>,
    plan: SlotForm,
    propose: SlotForm,
    reason: String,
    refuse_errors: FieldErrors,
    /// Why the posted answer was not recorded (someone answered first…).
    conflict: Option<String>,
    min_day: String,
}

async fn load(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<RequestRow> {
    let id = parse_id(raw_id)?;
    store::request(&state.db, Scope::of(actor), id).await?.ok_or(AppError::NotFound)
}

async fn page(state: &AppState, ctx: Ctx, actor: &Actor, r: RequestRow) -> AppResult<RequestPage> {
    let can_answer = rules::can_manage(actor) && rules::OPEN_REQUEST_STATUSES.contains(&r.status.as_str());
    let today = rules::paris_today();
    // The schedule form starts from the proposed slot, else the first preferred day to come.
    let first_day = r
        .proposed_day
        .clone()
        .or_else(|| {
            r.preferred_days().into_iter().find(|d| rules::parse_iso(d).is_some_and(|d| d >= today)).map(String::from)
        })
        .unwrap_or_default();
    let plan = SlotForm {
        day: first_day,
        start: r.proposed_start.clone().unwrap_or_else(|| "08:00".into()),
        end: r.proposed_end.clone().unwrap_or_else(|| "10:00".into()),
        ..SlotForm::default()
    };
    let propose = SlotForm { start: "08:00".into(), end: "10:00".into(), ..SlotForm::default() };
    let (mut technicians, mut others) = (Vec::new(), Vec::new());
    if can_answer {
        for s in store::field_staff(&state.db, actor.tenant_id).await? {
            let o = Opt::new(s.id.to_string(), s.full_name, "");
            if s.role == "technician" { technicians.push(o) } else { others.push(o) }
        }
    }
    let intervention = match (&r.intervention_id, &r.intervention_day, &r.intervention_start, &r.intervention_end) {
        (Some(id), Some(d), Some(s), Some(e)) => {
            let slot = Slot { day: d.clone(), start: s.clone(), end: e.clone() };
            let (label, class) = rules::intervention_status(r.intervention_status.as_deref().unwrap_or_default());
            Some(PlannedView {
                id: *id,
                iso_day: d.clone(),
                slot: slot.fr(),
                technician: r.technician_name.clone().unwrap_or_default(),
                label,
                class,
            })
        }
        _ => None,
    };
    let proposed = match (&r.proposed_day, &r.proposed_start, &r.proposed_end) {
        (Some(d), Some(s), Some(e)) => Slot { day: d.clone(), start: s.clone(), end: e.clone() }.fr(),
        _ => String::new(),
    };
    Ok(RequestPage {
        ctx: ctx.with_nav("intervention_requests"),
        r: RequestItem::from_row(&r),
        days: r.preferred_days().into_iter().map(fr_long_day).collect(),
        comment: r.comment.clone(),
        contact_name: r.contact_name.clone(),
        contact_phone: (!r.contact_phone.is_empty()).then(|| (fr_phone(&r.contact_phone), r.contact_phone.clone())),
        created: fr_datetime(r.created_at),
        created_by: r.created_by_name.clone().unwrap_or_default(),
        answered: match (&r.answered_at, &r.answered_by_name) {
            (Some(at), Some(by)) => format!("{} par {by}", fr_datetime(*at)),
            (Some(at), None) => fr_datetime(*at),
            _ => String::new(),
        },
        proposed,
        refusal: r.refusal_reason.clone(),
        intervention,
        can_answer,
        technicians,
        others,
        plan,
        propose,
        reason: String::new(),
        refuse_errors: FieldErrors::default(),
        conflict: None,
        min_day: rules::iso(today),
    })
}

impl RequestPage {
    /// Marks the chosen technician in the schedule form's lists.
    fn select_technician(&mut self, id: &str) {
        for o in self.technicians.iter_mut().chain(self.others.iter_mut()) {
            o.selected = o.value == id;
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let r = load(&state, &actor, &id).await?;
    Ok(render(&page(&state, ctx, &actor, r).await?)?.into_response())
}

/// The request, found in scope, that the actor may answer (admin and office).
async fn answerable(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<RequestRow> {
    let r = load(state, actor, raw_id).await?;
    if !rules::can_manage(actor) {
        return Err(AppError::Forbidden);
    }
    Ok(r)
}

const ALREADY_ANSWERED: &str =
    "Cette demande a déjà reçu une réponse (peut-être d'un collègue à l'instant) : voici son état actuel.";

/// The request's page, fresh, telling why the answer was not recorded.
async fn conflict(state: &AppState, ctx: Ctx, actor: &Actor, id: i64, msg: &str) -> AppResult<Response> {
    let r = store::request(&state.db, Scope::of(actor), id).await?.ok_or(AppError::NotFound)?;
    let mut p = page(state, ctx, actor, r).await?;
    p.conflict = Some(msg.to_string());
    Ok((StatusCode::CONFLICT, render(&p)?).into_response())
}

/// The thread the answer is posted in.
async fn thread_of(state: &AppState, actor: &Actor, r: &RequestRow) -> AppResult<messaging::store::ThreadRow> {
    messaging::store::thread(&state.db, actor.tenant_id, None, actor.user_id, r.thread_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("thread {} of request {} missing", r.thread_id, r.id)))
}

fn slot_form(f: &FormData) -> SlotForm {
    SlotForm {
        day: f.get("jour"),
        start: f.get("debut"),
        end: f.get("fin"),
        technician: f.get("technicien"),
        errors: FieldErrors::default(),
    }
}

pub async fn schedule(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = answerable(&state, &actor, &id).await?;
    if !rules::OPEN_REQUEST_STATUSES.contains(&r.status.as_str()) {
        return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
    }
    let mut typed = slot_form(&FormData(raw));
    let slot = rules::check_slot(&typed.day, &typed.start, &typed.end, rules::paris_today(), &mut typed.errors);
    let staff = store::field_staff(&state.db, actor.tenant_id).await?;
    let technician = typed.technician.parse::<i64>().ok().and_then(|t| staff.into_iter().find(|s| s.id.0 == t));
    if technician.is_none() {
        typed.errors.add("technicien", "Choisissez le technicien dans la liste.");
    }
    let (Some(slot), Some(technician), true) = (slot, technician, typed.errors.is_empty()) else {
        return refused_form(&state, ctx, &actor, r, |p| p.plan = typed).await;
    };
    let thread = thread_of(&state, &actor, &r).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Claimed first: of two staff answering at once, the second finds it answered.
    if store::answer(&mut tx, actor.tenant_id, r.id, &Answer::Accepted, actor.user_id, now).await? == 0 {
        drop(tx);
        return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
    }
    store::lock_technician(&mut tx, actor.tenant_id, technician.id).await?;
    let busy = store::technician_day(&mut tx, actor.tenant_id, technician.id, &slot.day).await?;
    if let Some((_, site, s, e)) = busy.iter().find(|(_, _, s, e)| rules::overlaps(&slot.start, &slot.end, s, e)) {
        drop(tx);
        typed.errors.add(
            "technicien",
            format!(
                "{} a déjà une intervention ce jour-là {} (« {site} ») : choisissez un autre créneau ou un autre technicien.",
                technician.full_name,
                rules::fr_window(s, e)
            ),
        );
        return refused_form(&state, ctx, &actor, r, |p| p.plan = typed).await;
    }
    let planned = NewIntervention {
        tenant: actor.tenant_id,
        client: r.client_id,
        site: r.site_id,
        service: Some(r.service_id),
        request: Some(r.id),
        day: &slot.day,
        start: &slot.start,
        end: &slot.end,
        technician: technician.id,
        by: Some(actor.user_id),
        now,
    };
    let intervention = match store::insert_intervention(&mut tx, &planned).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
        }
        Err(e) => return Err(e.into()),
    };
    store::link_intervention(&mut tx, actor.tenant_id, r.id, intervention).await?;
    store::site_scheduled(&mut tx, actor.tenant_id, r.site_id, &slot.day, now).await?;
    let body = format!(
        "Intervention planifiée {} — technicien : {}.\nPrestation : {}",
        slot.fr(),
        technician.full_name,
        r.service_label
    );
    messaging::post_message(&mut tx, &actor, &thread, &body, now).await?;
    let line = format!("Intervention planifiée {} — technicien : {}", slot.fr(), technician.full_name);
    record(&mut tx, &actor, &r, &format!("Demande d'intervention n° {} acceptée : {line}", r.id)).await?;
    audit::record(&mut tx, &actor, "create", "intervention", Some(intervention), &format!("{line} ({})", r.site_name))
        .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/demandes-intervention/{}?msg=enregistre", r.id)).into_response())
}

pub async fn propose(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = answerable(&state, &actor, &id).await?;
    if !rules::OPEN_REQUEST_STATUSES.contains(&r.status.as_str()) {
        return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
    }
    let mut typed = slot_form(&FormData(raw));
    let slot = rules::check_slot(&typed.day, &typed.start, &typed.end, rules::paris_today(), &mut typed.errors);
    let Some(slot) = slot.filter(|_| typed.errors.is_empty()) else {
        return refused_form(&state, ctx, &actor, r, |p| p.propose = typed).await;
    };
    let thread = thread_of(&state, &actor, &r).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let answer = Answer::Proposed { day: &slot.day, start: &slot.start, end: &slot.end };
    if store::answer(&mut tx, actor.tenant_id, r.id, &answer, actor.user_id, now).await? == 0 {
        drop(tx);
        return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
    }
    let body = format!(
        "Nous ne pouvons pas intervenir aux dates demandées. Nous vous proposons une intervention {}.\n\
         Merci de nous confirmer cette date en répondant à ce message (ou de nous en proposer une autre).",
        slot.fr()
    );
    messaging::post_message(&mut tx, &actor, &thread, &body, now).await?;
    record(&mut tx, &actor, &r, &format!("Demande d'intervention n° {} : autre date proposée, {}", r.id, slot.fr()))
        .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/demandes-intervention/{}?msg=enregistre", r.id)).into_response())
}

pub async fn refuse(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let r = answerable(&state, &actor, &id).await?;
    if !rules::OPEN_REQUEST_STATUSES.contains(&r.status.as_str()) {
        return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
    }
    let typed = FormData(raw).text("motif");
    let reason = match rules::check_reason(&typed) {
        Ok(reason) => reason,
        Err(m) => {
            return refused_form(&state, ctx, &actor, r, |p| {
                p.reason = typed;
                p.refuse_errors.add("motif", m);
            })
            .await;
        }
    };
    let thread = thread_of(&state, &actor, &r).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if store::answer(&mut tx, actor.tenant_id, r.id, &Answer::Refused { reason: &reason }, actor.user_id, now).await?
        == 0
    {
        drop(tx);
        return conflict(&state, ctx, &actor, r.id, ALREADY_ANSWERED).await;
    }
    let body = format!("Nous ne pouvons pas donner suite à votre demande d'intervention.\nMotif : {reason}");
    messaging::post_message(&mut tx, &actor, &thread, &body, now).await?;
    record(&mut tx, &actor, &r, &format!("Demande d'intervention n° {} refusée : {reason}", r.id)).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/demandes-intervention/{}?msg=enregistre", r.id)).into_response())
}

/// The request's page again with one form's input and errors (422): nothing was written.
async fn refused_form(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    r: RequestRow,
    fill: impl FnOnce(&mut RequestPage),
) -> AppResult<Response> {
    let mut p = page(state, ctx, actor, r).await?;
    fill(&mut p);
    let chosen = p.plan.technician.clone();
    p.select_technician(&chosen);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&p)?).into_response())
}

/// The answer in the request's and the site's histories.
async fn record(tx: &mut Tx, actor: &Actor, r: &RequestRow, line: &str) -> AppResult<()> {
    audit::record(tx, actor, "update", "intervention_request", Some(r.id), line).await?;
    audit::record(tx, actor, "update", "site", Some(r.site_id.0), line).await?;
    Ok(())
}
