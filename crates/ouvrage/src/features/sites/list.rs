//! The site lists (Mes chantiers, the back office's Chantiers et sites) and a site's page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::model::{
    Phase, SiteKind, SiteStatus, fr_day, kind_label, operation_label, options, phase_label, status_class, status_label,
};
use super::search::{ListQuery, SortCol};
use super::store::{self, Scope, SiteFilter, SiteListRow, SiteRow, SiteSort};
use super::{Area, can_write};
use crate::app::AppState;
use crate::db::Db;
use crate::domain::format::fr_phone;
use crate::domain::time::{fr_date, fr_datetime};
use crate::domain::{ClientId, SiteId};
use crate::features::clients::store::{active_clients, contacts_of};
use crate::features::clients::ui::{FieldErrors, Opt, Pager, parse_id};
use crate::http::{Actor, AppError, AppResult, Ctx, render};

pub const PER_PAGE: i64 = 50;

/// Up to this many current clients, the back office offers them in a list; beyond, the
/// client is typed by its code.
pub const CLIENT_LIST_MAX: i64 = 300;

/// How many dwellings a residence's page lists (the rest through the filtered list).
const DWELLINGS_SHOWN: i64 = 50;

/// One row of a list, ready to show.
pub struct SiteItem {
    pub id: SiteId,
    pub name: String,
    /// Empty for a chantier (the usual case); "Résidence", "Logement"…
    pub kind: String,
    pub client: String,
    pub address: String,
    pub postcode: String,
    pub city: String,
    pub manager: String,
    pub date: String,
    /// "réalisée" or "prévue" (or empty).
    pub date_note: &'static str,
    pub phase: String,
    pub status: String,
    pub status_class: &'static str,
    pub archived: bool,
}

impl SiteItem {
    pub fn from_row(r: &SiteListRow) -> SiteItem {
        let (date, date_note) = match (&r.actual_date, &r.expected_date) {
            (Some(d), _) => (fr_day(d), "réalisée"),
            (None, Some(d)) => (fr_day(d), "prévue"),
            (None, None) => (String::new(), ""),
        };
        SiteItem {
            id: r.id,
            name: r.name.clone(),
            kind: if r.kind == SiteKind::Construction.code() { String::new() } else { kind_label(&r.kind).into() },
            client: if r.client_code.is_empty() {
                String::new()
            } else {
                format!("{} — {}", r.client_code, r.client_name)
            },
            address: format!("{} {}", r.street_number, r.street).trim().to_string(),
            postcode: r.postcode.clone(),
            city: r.city.clone(),
            manager: r.manager_name(),
            date,
            date_note,
            phase: phase_label(&r.phase).into(),
            status: status_label(&r.status).into(),
            status_class: status_class(&r.status),
            archived: r.archived,
        }
    }
}

/// The criteria as typed, shown back in the search form.
pub struct Criteria {
    pub q: String,
    pub cp: String,
    pub ville: String,
    pub du: String,
    pub au: String,
    pub archived: bool,
    pub incomplete: bool,
    pub residence: String,
    pub code: String,
    pub client: String,
    /// The current sort, kept when the form is submitted again (empty for the default).
    pub tri: &'static str,
    pub sens: &'static str,
}

#[derive(Template)]
#[template(path = "sites/list.html")]
struct ListPage {
    ctx: Ctx,
    bo: bool,
    base: &'static str,
    title: &'static str,
    c: Criteria,
    /// Empty when the client is typed by its code instead (many clients).
    clients: Vec<Opt>,
    managers: Vec<Opt>,
    kinds: Vec<Opt>,
    phases: Vec<Opt>,
    statuses: Vec<Opt>,
    cols: Vec<SortCol>,
    rows: Vec<SiteItem>,
    pager: Pager,
    errors: FieldErrors,
    narrowed: bool,
    can_create: bool,
    /// The current criteria as hidden fields of the export form: `(name, value)`.
    export_fields: Vec<(String, String)>,
}

/// The search criteria of `q` for `actor` (a client code typed by staff resolved to its
/// client), with the French messages of the wrong ones: what every list, export or API of
/// sites runs through before [`store::search`].
pub async fn criteria(db: &Db, actor: &Actor, q: &ListQuery) -> AppResult<(SiteFilter, FieldErrors)> {
    let staff = actor.is_staff();
    let (mut filter, mut errors) = q.filter(staff)?;
    if staff && !q.code.trim().is_empty() {
        match store::client_by_code(db, actor.tenant_id, &q.code).await? {
            Some(id) => filter.client = Some(id),
            None => errors.add("code", format!("Aucun client n'a le code « {} ».", q.code.trim())),
        }
    }
    Ok((filter, errors))
}

/// The criteria of `q` as `(name, value)` fields, exactly those the list's own links carry
/// (first page), so that a form repeating them finds the same rows.
pub fn criteria_fields(q: &ListQuery) -> Vec<(String, String)> {
    let link = q.url("", q.sort(), q.desc(), 1);
    match link.split_once('?') {
        Some((_, query)) => url::form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
        None => Vec::new(),
    }
}

pub async fn list(state: &AppState, ctx: Ctx, actor: &Actor, area: Area, q: ListQuery) -> AppResult<Response> {
    let scope = Scope::of(actor);
    let (filter, errors) = criteria(&state.db, actor, &q).await?;
    let base = area.base();
    let requested = Pager::requested(&q.page);
    let (rows, pager) = if errors.is_empty() {
        let (mut rows, total) =
            store::search(&state.db, scope, &filter, Some((PER_PAGE, Pager::offset(requested, PER_PAGE)))).await?;
        let pager = Pager::new(requested, PER_PAGE, total, |n| q.url(base, q.sort(), q.desc(), n));
        if pager.page != requested && total > 0 {
            // Asked past the last page: show the last one.
            rows = store::search(&state.db, scope, &filter, Some((PER_PAGE, Pager::offset(pager.page, PER_PAGE))))
                .await?
                .0;
        }
        (rows, pager)
    } else {
        (Vec::new(), Pager::new(1, PER_PAGE, 0, |_| String::new()))
    };
    let current_manager = filter.manager.map(|m| m.to_string()).unwrap_or_default();
    // The site managers offered: the client's contacts (a staff member picks a client first).
    let managers_of = match area {
        Area::Espace => scope.client,
        Area::Bo => filter.client,
    };
    let mut managers = Vec::new();
    if let Some(client) = managers_of {
        managers.push(Opt::new("", "Tous", &current_manager));
        for c in contacts_of(&state.db, actor.tenant_id, client, false).await? {
            managers.push(Opt::new(c.id.to_string(), c.person_name(), &current_manager));
        }
    }
    let clients = if area.is_bo() && store::active_client_count(&state.db, actor.tenant_id).await? <= CLIENT_LIST_MAX {
        let current = filter.client.map(|c| c.to_string()).unwrap_or_default();
        let mut v = vec![Opt::new("", "Tous les clients", &current)];
        v.extend(
            active_clients(&state.db, actor.tenant_id)
                .await?
                .into_iter()
                .map(|(id, code, name)| Opt::new(id.to_string(), format!("{code} — {name}"), &current)),
        );
        v
    } else {
        Vec::new()
    };
    let cols = [
        (SiteSort::Name, "Nom"),
        (SiteSort::Postcode, "Code postal"),
        (SiteSort::City, "Ville"),
        (SiteSort::Manager, "Conducteur de travaux"),
        (SiteSort::Date, "Date d'intervention"),
        (SiteSort::Phase, "Phase"),
        (SiteSort::Status, "Statut"),
    ]
    .into_iter()
    .map(|(s, label)| SortCol::new(&q, base, s, label))
    .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = ListPage {
        ctx: ctx.with_nav("sites"),
        bo: area.is_bo(),
        base,
        title: if area.is_bo() { "Chantiers et sites" } else { "Mes chantiers" },
        c: Criteria {
            q: q.q.trim().into(),
            cp: q.cp.trim().into(),
            ville: q.ville.trim().into(),
            du: q.du.trim().into(),
            au: q.au.trim().into(),
            archived: q.archived(),
            incomplete: q.incomplete(),
            residence: q.residence.trim().into(),
            code: q.code.trim().into(),
            client: q.client.trim().into(),
            tri: if q.sort() == SiteSort::Name { "" } else { q.sort().code() },
            sens: if q.desc() { "desc" } else { "" },
        },
        clients,
        managers,
        kinds: options(Some("Tous"), SiteKind::ALL.map(|k| (k.code(), k.label())), q.kind()),
        phases: options(Some("Toutes"), Phase::ALL.map(|k| (k.code(), k.label())), q.phase()),
        statuses: options(Some("Tous"), SiteStatus::ALL.map(|k| (k.code(), k.label())), q.status()),
        cols,
        rows: rows.iter().map(SiteItem::from_row).collect(),
        pager,
        errors,
        narrowed: q.narrowed(),
        can_create: can_write(actor),
        export_fields: criteria_fields(&q),
    };
    Ok((status, render(&page)?).into_response())
}

// ---------------------------------------------------------------------------------------------
// A site's page

pub struct SiteView {
    pub id: SiteId,
    pub client_id: ClientId,
    pub client: String,
    pub kind: String,
    pub is_residence: bool,
    pub is_dwelling: bool,
    pub name: String,
    pub address: String,
    pub postcode_city: String,
    pub city_code: String,
    pub parent: Option<(SiteId, String)>,
    pub manager: Option<ManagerView>,
    pub operation_type: String,
    pub phase: String,
    pub status: String,
    pub status_class: &'static str,
    pub expected_date: String,
    pub actual_date: String,
    pub permit_number: String,
    pub owner_name: String,
    pub dwellings: String,
    pub notes: String,
    pub archived: bool,
    pub created: String,
    pub updated: String,
}

pub struct ManagerView {
    pub name: String,
    pub job_title: String,
    pub email: String,
    pub phones: Vec<(String, String)>,
}

impl SiteView {
    fn from_row(s: &SiteRow) -> SiteView {
        let manager = s.site_manager_contact_id.map(|_| {
            let name = [&s.manager_civility, &s.manager_first_name, &s.manager_last_name]
                .iter()
                .filter_map(|v| v.as_deref())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let phones = [&s.manager_mobile, &s.manager_phone]
                .iter()
                .filter_map(|v| v.as_deref())
                .filter(|v| !v.is_empty())
                .map(|p| (fr_phone(p), p.to_string()))
                .collect();
            ManagerView {
                name,
                job_title: s.manager_job_title.clone().unwrap_or_default(),
                email: s.manager_email.clone().unwrap_or_default(),
                phones,
            }
        });
        SiteView {
            id: s.id,
            client_id: s.client_id,
            client: format!("{} — {}", s.client_code, s.client_name),
            kind: kind_label(&s.kind).into(),
            is_residence: s.kind == SiteKind::Residence.code(),
            is_dwelling: s.kind == SiteKind::Dwelling.code(),
            name: s.name.clone(),
            address: format!("{} {}", s.street_number, s.street).trim().to_string(),
            postcode_city: format!("{} {}", s.postcode, s.city).trim().to_string(),
            city_code: s.city_code.clone(),
            parent: s.parent_id.map(|p| (p, s.parent_name.clone().unwrap_or_default())),
            manager,
            operation_type: operation_label(&s.operation_type).into(),
            phase: phase_label(&s.phase).into(),
            status: status_label(&s.status).into(),
            status_class: status_class(&s.status),
            expected_date: s.expected_date.as_deref().map(fr_day).unwrap_or_default(),
            actual_date: s.actual_date.as_deref().map(fr_day).unwrap_or_default(),
            permit_number: s.permit_number.clone(),
            owner_name: s.owner_name.clone(),
            dwellings: s.dwellings.map(|n| n.to_string()).unwrap_or_default(),
            notes: s.notes.clone(),
            archived: s.archived,
            created: fr_date(s.created_at),
            updated: fr_datetime(s.updated_at),
        }
    }
}

pub struct HistoryItem {
    pub when: String,
    pub who: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "sites/detail.html")]
struct DetailPage {
    ctx: Ctx,
    bo: bool,
    base: &'static str,
    s: SiteView,
    dwellings: Vec<SiteItem>,
    dwelling_total: i64,
    dwellings_url: String,
    add_dwelling_url: String,
    history: Vec<HistoryItem>,
    can_edit: bool,
    /// The thermal study: latest indicators, file, versions, the form of an updated one.
    study: super::study_pages::StudySection,
    /// The confirmation of an updated study (`?etude=…`).
    study_notice: Option<String>,
    /// The green "Messagerie" button: the site's threads and how many are unread.
    messages_url: String,
    messages_unread: i64,
    /// The site's interventions and pending requests, and the "Demander une intervention" link.
    interventions: crate::features::interventions::site::SiteSection,
}

/// The site `raw_id` within the actor's scope, or 404.
pub async fn load(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<SiteRow> {
    let id = parse_id(raw_id)?;
    store::site(&state.db, Scope::of(actor), id).await?.ok_or(AppError::NotFound)
}

pub async fn detail(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw_id: &str,
    q: super::study_pages::DetailQuery,
) -> AppResult<Response> {
    let site = load(state, actor, raw_id).await?;
    let base = area.base();
    let (dwellings, dwelling_total) = if site.kind == SiteKind::Residence.code() {
        let f = SiteFilter { residence: Some(site.id), ..SiteFilter::default() };
        store::search(&state.db, Scope::of(actor), &f, Some((DWELLINGS_SHOWN, 0))).await?
    } else {
        (Vec::new(), 0)
    };
    let history = if area.is_bo() {
        store::history(&state.db, actor.tenant_id, site.id)
            .await?
            .into_iter()
            .map(|h| HistoryItem { when: fr_datetime(h.created_at), who: h.actor_label, summary: h.summary })
            .collect()
    } else {
        Vec::new()
    };
    let add_dwelling_url = match area {
        Area::Bo => format!("{base}/nouveau?client={}&residence={}", site.client_id, site.id),
        Area::Espace => format!("{base}/nouveau?residence={}", site.id),
    };
    let can_edit = can_write(actor) && (area.is_bo() || !site.archived);
    let study = super::study_pages::section(state, actor, area, &site, &ctx.csrf, can_edit).await?;
    let page = DetailPage {
        ctx: ctx.with_nav("sites"),
        bo: area.is_bo(),
        base,
        s: SiteView::from_row(&site),
        dwellings: dwellings.iter().map(SiteItem::from_row).collect(),
        dwelling_total,
        dwellings_url: format!("{base}?residence={}", site.id),
        add_dwelling_url,
        history,
        can_edit,
        study,
        study_notice: q.notice(),
        messages_url: format!(
            "{}?chantier={}",
            if area.is_bo() { "/bo/messagerie" } else { "/espace/messagerie" },
            site.id
        ),
        messages_unread: crate::features::messaging::store::unread_count(
            &state.db,
            actor.tenant_id,
            actor.client_scope(),
            actor.user_id,
            Some(site.id.0),
        )
        .await?,
        interventions: crate::features::interventions::site::section(state, actor, &site).await?,
    };
    Ok(render(&page)?.into_response())
}
