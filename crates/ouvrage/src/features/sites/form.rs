//! Creating, editing and archiving sites, on both faces. The form is checked in two steps:
//! what needs no database ([`model::validate`]), then the references (site manager, parent
//! residence) against the site's client, inside the transaction that writes.
//!
//! A new chantier can start from its thermal study: the file dropped on the creation page
//! opens the form prefilled, what is still missing marked ([`studies::Marks`]); the form
//! carries the staged file's token, and the file is filed on the site in the transaction that
//! creates it. Before any creation, the sites that look like the same chantier are shown
//! ([`duplicates::find`]) and the user must confirm with "Créer quand même".

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use ouvrage_thermal::ThermalStudy;
use serde::Deserialize;

use super::duplicates::{self, Candidate, Probe};
use super::list::{CLIENT_LIST_MAX, load};
use super::model::{
    self, MANAGER_ERROR, OperationType, PARENT_ERROR, Phase, SiteData, SiteForm, SiteKind, SiteStatus, fr_day, options,
    status_label,
};
use super::store::{self, Scope, SiteRow};
use super::studies::{self, Importer, Marks, Source, StudyError, Target};
use super::study_pages::{self, DuplicateView, Refused, StudyView};
use super::{Area, can_write};
use crate::app::AppState;
use crate::db::Tx;
use crate::domain::{ClientId, SiteId, TenantId};
use crate::features::audit;
use crate::features::clients::store::{active_clients, client, contacts_of};
use crate::features::clients::ui::{FieldErrors, FormData, Opt, parse_id, parse_opt_id};
use crate::features::files::storage::sha256_hex;
use crate::features::files::upload::StoredUpload;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

/// `?client=…&residence=…` of the creation page: the client chosen (back office) and the
/// residence of a new dwelling.
#[derive(Deserialize, Default, Debug)]
pub struct NewQuery {
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub residence: String,
    /// A client code typed instead of chosen (firms with many clients).
    #[serde(default)]
    pub code: String,
}

fn require_writer(actor: &Actor) -> AppResult<()> {
    if can_write(actor) { Ok(()) } else { Err(AppError::Forbidden) }
}

/// The client a form is for: its id and how it is named.
pub struct ClientRef {
    tenant: TenantId,
    id: ClientId,
    label: String,
}

impl ClientRef {
    fn of_site(s: &SiteRow, tenant: TenantId) -> ClientRef {
        ClientRef { tenant, id: s.client_id, label: format!("{} — {}", s.client_code, s.client_name) }
    }
}

async fn client_ref(state: &AppState, tenant: TenantId, id: i64) -> AppResult<ClientRef> {
    let c = client(&state.db, tenant, id).await?.ok_or(AppError::NotFound)?;
    Ok(ClientRef { tenant, id: c.id, label: format!("{} — {}", c.code, c.name) })
}

fn read_form(data: &FormData) -> SiteForm {
    SiteForm {
        client_id: data.get("client_id"),
        kind: data.get("kind"),
        parent_id: data.get("parent_id"),
        name: data.get("name"),
        street_number: data.get("street_number"),
        street: data.get("street"),
        postcode: data.get("postcode"),
        city_code: data.get("city_code"),
        city: data.get("city"),
        site_manager_id: data.get("site_manager_id"),
        operation_type: data.get("operation_type"),
        phase: data.get("phase"),
        status: data.get("status"),
        expected_date: data.get("expected_date"),
        actual_date: data.get("actual_date"),
        permit_number: data.get("permit_number"),
        owner_name: data.get("owner_name"),
        dwellings: data.get("dwellings"),
        notes: data.text("notes"),
    }
}

/// The stored site as its form shows it.
pub(super) fn form_of(s: &SiteRow) -> SiteForm {
    SiteForm {
        client_id: s.client_id.to_string(),
        kind: s.kind.clone(),
        parent_id: s.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        name: s.name.clone(),
        street_number: s.street_number.clone(),
        street: s.street.clone(),
        postcode: s.postcode.clone(),
        city_code: s.city_code.clone(),
        city: s.city.clone(),
        site_manager_id: s.site_manager_contact_id.map(|p| p.to_string()).unwrap_or_default(),
        operation_type: s.operation_type.clone(),
        phase: s.phase.clone(),
        status: s.status.clone(),
        expected_date: s.expected_date.clone().unwrap_or_default(),
        actual_date: s.actual_date.clone().unwrap_or_default(),
        permit_number: s.permit_number.clone(),
        owner_name: s.owner_name.clone(),
        dwellings: s.dwellings.map(|n| n.to_string()).unwrap_or_default(),
        notes: s.notes.clone(),
    }
}

/// The stored site as checked data, to tell what an edit changes.
fn data_of(s: &SiteRow) -> SiteData {
    SiteData {
        kind: SiteKind::parse(&s.kind).unwrap_or(SiteKind::Construction),
        parent_id: s.parent_id.map(|p| p.0),
        name: s.name.clone(),
        street_number: s.street_number.clone(),
        street: s.street.clone(),
        postcode: s.postcode.clone(),
        city_code: s.city_code.clone(),
        city: s.city.clone(),
        site_manager_id: s.site_manager_contact_id.map(|c| c.0),
        operation_type: s.operation_type.clone(),
        phase: Phase::parse(&s.phase).unwrap_or(Phase::Works),
        status: SiteStatus::parse(&s.status).unwrap_or(SiteStatus::ToSchedule),
        expected_date: s.expected_date.clone(),
        actual_date: s.actual_date.clone(),
        permit_number: s.permit_number.clone(),
        owner_name: s.owner_name.clone(),
        dwellings: s.dwellings,
        notes: s.notes.clone(),
    }
}

/// The labels of the fields that differ, for the audit summary.
fn changed_fields(a: &SiteData, b: &SiteData) -> String {
    let pairs: [(&str, bool); 16] = [
        ("type", a.kind != b.kind),
        ("résidence", a.parent_id != b.parent_id),
        ("nom", a.name != b.name),
        ("adresse", a.street_number != b.street_number || a.street != b.street),
        ("code postal", a.postcode != b.postcode),
        ("code INSEE", a.city_code != b.city_code),
        ("commune", a.city != b.city),
        ("conducteur de travaux", a.site_manager_id != b.site_manager_id),
        ("type d'opération", a.operation_type != b.operation_type),
        ("phase", a.phase != b.phase),
        ("statut", a.status != b.status),
        ("date prévue", a.expected_date != b.expected_date),
        ("date réelle", a.actual_date != b.actual_date),
        ("permis", a.permit_number != b.permit_number),
        ("maître d'ouvrage", a.owner_name != b.owner_name),
        ("logements ou notes", a.dwellings != b.dwellings || a.notes != b.notes),
    ];
    pairs.iter().filter(|(_, changed)| *changed).map(|(l, _)| *l).collect::<Vec<_>>().join(", ")
}

/// The references a site form makes: its kind, site manager and parent residence.
struct Refs {
    kind: Option<SiteKind>,
    manager: Option<i64>,
    parent: Option<i64>,
}

impl Refs {
    fn of(d: &SiteData) -> Refs {
        Refs { kind: Some(d.kind), manager: d.site_manager_id, parent: d.parent_id }
    }

    /// What can be read of a form that failed other checks, so that every error shows at once.
    fn of_typed(t: &SiteForm) -> Refs {
        let kind = SiteKind::parse(&t.kind);
        Refs {
            kind,
            manager: t.site_manager_id.trim().parse().ok(),
            parent: if kind == Some(SiteKind::Dwelling) { t.parent_id.trim().parse().ok() } else { None },
        }
    }
}

/// Checks the references against the site's client (in the writing transaction), adding
/// their errors to `e`.
async fn check_refs(
    tx: &mut Tx,
    client: &ClientRef,
    refs: Refs,
    existing: Option<&SiteRow>,
    e: &mut FieldErrors,
) -> Result<(), sqlx::Error> {
    let tenant = client.tenant;
    if let Some(m) = refs.manager
        && e.get("site_manager_id").is_none()
        && !store::is_contact_of(tx, tenant, client.id, m).await?
    {
        e.add("site_manager_id", MANAGER_ERROR);
    }
    if let Some(p) = refs.parent
        && e.get("parent_id").is_none()
        && (existing.is_some_and(|s| s.id.0 == p) || !store::is_residence_of(tx, tenant, client.id, p).await?)
    {
        e.add("parent_id", PARENT_ERROR);
    }
    if let (Some(s), Some(kind)) = (existing, refs.kind)
        && s.kind == SiteKind::Residence.code()
        && kind != SiteKind::Residence
        && store::dwelling_count(tx, tenant, s.id).await? > 0
    {
        e.add("kind", "Cette résidence compte des logements : elle reste une résidence.");
    }
    Ok(())
}

/// The form's errors: those of `validate`, then the references' (checked even when other
/// fields are wrong, so the user sees every problem at once).
async fn form_errors(
    state: &AppState,
    client: &ClientRef,
    typed: &SiteForm,
    existing: Option<&SiteRow>,
    mut errors: FieldErrors,
) -> AppResult<FieldErrors> {
    let mut tx = state.db.begin().await?;
    check_refs(&mut tx, client, Refs::of_typed(typed), existing, &mut errors).await?;
    drop(tx);
    Ok(errors)
}

#[derive(Template)]
#[template(path = "sites/form.html")]
struct FormPage {
    ctx: Ctx,
    bo: bool,
    title: String,
    action: String,
    cancel: String,
    client_id: String,
    client_label: String,
    form: SiteForm,
    kinds: Vec<Opt>,
    parents: Vec<Opt>,
    managers: Vec<Opt>,
    operations: Vec<Opt>,
    phases: Vec<Opt>,
    statuses: Vec<Opt>,
    /// Status and actual date are editable (staff); otherwise they are shown.
    staff_fields: bool,
    status_text: String,
    actual_text: String,
    errors: FieldErrors,
    /// The action of the thermal-study drop zone (a new site that is not a dwelling); empty
    /// when the page has none.
    drop_action: String,
    accept: &'static str,
    /// Why the dropped (or carried) study was refused.
    study_error: Option<String>,
    /// The file is already filed on a site: the message and that site's page, instead of the form.
    already: Option<(String, String)>,
    /// What the study the form was prefilled from says.
    study: Option<StudyView>,
    study_token: String,
    study_name: String,
    /// What the prefilled form still lacks (empty without a study).
    marks: Marks,
    /// Sites that look like the same chantier: "Créer quand même" is offered.
    duplicates: Vec<DuplicateView>,
}

async fn form_page(
    state: &AppState,
    ctx: Ctx,
    area: Area,
    client: &ClientRef,
    existing: Option<&SiteRow>,
    form: SiteForm,
    errors: FieldErrors,
) -> AppResult<FormPage> {
    let base = area.base();
    let tenant = client.tenant;
    let mut managers = vec![Opt::new("", "— Aucun —", &form.site_manager_id)];
    for c in contacts_of(&state.db, tenant, client.id, true).await? {
        let value = c.id.to_string();
        if c.archived && value != form.site_manager_id {
            continue;
        }
        let mut label = c.person_name();
        if !c.job_title.is_empty() {
            label = format!("{label} ({})", c.job_title);
        }
        if c.archived {
            label.push_str(" — archivé");
        }
        managers.push(Opt::new(value, label, &form.site_manager_id));
    }
    let mut parents = vec![Opt::new("", "— Choisir une résidence —", &form.parent_id)];
    for (id, label) in store::residences(&state.db, tenant, client.id).await? {
        if existing.is_some_and(|s| s.id == id) {
            continue;
        }
        parents.push(Opt::new(id.to_string(), label, &form.parent_id));
    }
    let drop_action = match (existing, area) {
        (Some(_), _) => String::new(),
        _ if form.kind == SiteKind::Dwelling.code() => String::new(),
        (None, Area::Espace) => format!("{base}/nouveau/etude?_csrf={}", ctx.csrf),
        (None, Area::Bo) => format!("{base}/nouveau/etude?_csrf={}&client={}", ctx.csrf, client.id),
    };
    let (title, action, cancel) = match existing {
        Some(s) => {
            (format!("Modifier « {} »", s.name), format!("{base}/{}/modifier", s.id), format!("{base}/{}", s.id))
        }
        None => (
            if area.is_bo() { "Nouveau chantier ou site".to_string() } else { "Créer un chantier".to_string() },
            format!("{base}/nouveau"),
            base.to_string(),
        ),
    };
    Ok(FormPage {
        ctx: ctx.with_nav("sites"),
        bo: area.is_bo(),
        title,
        action,
        cancel,
        client_id: client.id.to_string(),
        client_label: client.label.clone(),
        kinds: options(Some("— Choisir —"), SiteKind::ALL.map(|k| (k.code(), k.label())), &form.kind),
        parents,
        managers,
        operations: options(
            Some("— Non précisé —"),
            OperationType::ALL.map(|k| (k.code(), k.label())),
            &form.operation_type,
        ),
        phases: options(None, Phase::ALL.map(|k| (k.code(), k.label())), &form.phase),
        statuses: options(None, SiteStatus::ALL.map(|k| (k.code(), k.label())), &form.status),
        staff_fields: area.is_bo(),
        status_text: status_label(&form.status).to_string(),
        actual_text: if form.actual_date.is_empty() { String::new() } else { fr_day(&form.actual_date) },
        form,
        errors,
        drop_action,
        accept: study_pages::ACCEPT,
        study_error: None,
        already: None,
        study: None,
        study_token: String::new(),
        study_name: String::new(),
        marks: Marks::default(),
        duplicates: Vec::new(),
    })
}

impl FormPage {
    /// The form carries `study`: its hidden fields, what it says, what the form still lacks.
    fn with_study(mut self, study: Option<&Carried>) -> FormPage {
        if let Some(c) = study {
            self.study_token = c.token.clone();
            self.study_name = c.name.clone();
            self.study = Some(StudyView::of(&c.study));
            self.marks = Marks::of(&self.form);
        }
        self
    }

    fn with_duplicates(mut self, found: &[Candidate], area: Area) -> FormPage {
        self.duplicates = found.iter().map(|c| DuplicateView::of(c, area)).collect();
        self
    }
}

fn respond(status: StatusCode, page: FormPage) -> AppResult<Response> {
    Ok((status, render(&page)?).into_response())
}

fn invalid(page: FormPage) -> AppResult<Response> {
    respond(StatusCode::UNPROCESSABLE_ENTITY, page)
}

#[derive(Template)]
#[template(path = "sites/choose_client.html")]
struct ChoosePage {
    ctx: Ctx,
    /// Empty when the client is typed by its code instead (many clients).
    clients: Vec<Opt>,
    code: String,
    error: Option<String>,
}

/// The back office's first step: which client the new site is for.
async fn choose_client(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    code: &str,
    error: Option<String>,
) -> AppResult<Response> {
    let clients = if store::active_client_count(&state.db, actor.tenant_id).await? <= CLIENT_LIST_MAX {
        let mut v = vec![Opt::new("", "— Choisir —", "")];
        v.extend(
            active_clients(&state.db, actor.tenant_id)
                .await?
                .into_iter()
                .map(|(id, code, name)| Opt::new(id.to_string(), format!("{code} — {name}"), "")),
        );
        v
    } else {
        Vec::new()
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ChoosePage { ctx: ctx.with_nav("sites"), clients, code: code.trim().to_string(), error };
    Ok((status, render(&page)?).into_response())
}

pub async fn new_page(state: &AppState, ctx: Ctx, actor: &Actor, area: Area, q: NewQuery) -> AppResult<Response> {
    require_writer(actor)?;
    let client = match area {
        Area::Espace => client_ref(state, actor.tenant_id, actor.client_scope().map(|c| c.0).unwrap_or(-1)).await?,
        Area::Bo => match parse_opt_id(&q.client)? {
            Some(id) => client_ref(state, actor.tenant_id, id).await?,
            None if !q.code.trim().is_empty() => {
                match store::client_by_code(&state.db, actor.tenant_id, &q.code).await? {
                    Some(id) => client_ref(state, actor.tenant_id, id.0).await?,
                    None => {
                        let error = format!("Aucun client n'a le code « {} ».", q.code.trim());
                        return choose_client(state, ctx, actor, &q.code, Some(error)).await;
                    }
                }
            }
            // First choose the client: its contacts and residences fill the form.
            None => return choose_client(state, ctx, actor, "", None).await,
        },
    };
    let residence = parse_opt_id(&q.residence)?;
    let form = SiteForm {
        client_id: client.id.to_string(),
        kind: if residence.is_some() { SiteKind::Dwelling } else { SiteKind::Construction }.code().into(),
        parent_id: residence.map(|r| r.to_string()).unwrap_or_default(),
        phase: Phase::Works.code().into(),
        status: SiteStatus::ToSchedule.code().into(),
        ..SiteForm::default()
    };
    let page = form_page(state, ctx, area, &client, None, form, FieldErrors::default()).await?;
    Ok(render(&page)?.into_response())
}

fn kind_name(d: &SiteData) -> String {
    model::kind_label(d.kind.code()).to_lowercase()
}

/// The client a new site is for: the user's own in the extranet; in the back office the one
/// named by `raw` (the query's or the form's `client`), which must be a client of the firm
/// (anything else is a forged id).
pub async fn new_client(state: &AppState, actor: &Actor, area: Area, raw: &str) -> AppResult<ClientRef> {
    let id = match area {
        Area::Espace => actor.client_scope().map(|c| c.0).unwrap_or(-1),
        Area::Bo => parse_id(raw)?,
    };
    client_ref(state, actor.tenant_id, id).await
}

/// The empty form of a new chantier.
fn blank(client: &ClientRef) -> SiteForm {
    SiteForm {
        client_id: client.id.to_string(),
        kind: SiteKind::Construction.code().into(),
        phase: Phase::Works.code().into(),
        status: SiteStatus::ToSchedule.code().into(),
        ..SiteForm::default()
    }
}

/// A thermal study carried by the creation form: its token and name (the hidden fields), and
/// what the staged file says, read again from the store.
struct Carried {
    token: String,
    name: String,
    stored: StoredUpload,
    study: ThermalStudy,
}

/// The page saying that this very file is already filed on a site (409), with its link.
async fn already_imported(
    state: &AppState,
    ctx: Ctx,
    area: Area,
    client: &ClientRef,
    site_id: SiteId,
) -> AppResult<Response> {
    let mut page = form_page(state, ctx, area, client, None, blank(client), FieldErrors::default()).await?;
    page.already = Some((StudyError::AlreadyImported { site_id }.to_string(), format!("{}/{site_id}", area.base())));
    respond(StatusCode::CONFLICT, page)
}

/// The creation page again, with why the dropped file was refused.
async fn refused(
    state: &AppState,
    ctx: Ctx,
    area: Area,
    client: &ClientRef,
    (status, message): Refused,
) -> AppResult<Response> {
    let mut page = form_page(state, ctx, area, client, None, blank(client), FieldErrors::default()).await?;
    page.study_error = Some(message);
    respond(status, page)
}

/// `POST {base}/nouveau/etude`: the dropped study opens the form prefilled (nothing is written
/// to the database until the form is sent); a refused file shows the creation page again with
/// why. `upload` is the file as read from the request (by [`study_pages::read_upload`]).
pub async fn study_new(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    client: &ClientRef,
    upload: Result<(String, Bytes), Refused>,
) -> AppResult<Response> {
    require_writer(actor)?;
    let (name, bytes) = match upload {
        Ok(v) => v,
        Err(r) => return refused(state, ctx, area, client, r).await,
    };
    if let Some(site_id) = studies::imported_on(&state.db, client.tenant, client.id, &sha256_hex(&bytes)).await? {
        return already_imported(state, ctx, area, client, site_id).await;
    }
    let staged = match studies::stage(state, client.tenant, client.id, &name, bytes).await {
        Ok(s) => s,
        Err(e) => return refused(state, ctx, area, client, study_pages::refusal(e)?).await,
    };
    let form = studies::prefill(&staged.study, client.id);
    let found = duplicates::find(&state.db, Scope::of(actor), &study_pages::probe_of(&form), None).await?;
    let page = form_page(state, ctx, area, client, None, form, FieldErrors::default()).await?;
    let mut page = page.with_duplicates(&found, area);
    page.study_token = staged.token;
    page.study_name = staged.name;
    page.study = Some(StudyView::of(&staged.study));
    page.marks = Marks::of(&page.form);
    Ok(render(&page)?.into_response())
}

pub async fn create(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw: Vec<(String, String)>,
) -> AppResult<Response> {
    require_writer(actor)?;
    let fields = FormData(raw);
    let typed = read_form(&fields);
    let create_anyway = fields.get("create_anyway") == "1";
    let client = new_client(state, actor, area, &typed.client_id).await?;
    // The study the form carries, read again from the store: the hidden fields only name it.
    let token = fields.get("study_token");
    let carried = if token.is_empty() {
        None
    } else {
        let name = fields.get("study_name");
        match studies::unstage(state, client.tenant, client.id, &token, &name).await {
            Ok((stored, study)) => Some(Carried { token, name, stored, study }),
            Err(e) => {
                // A forged or lost token: nothing is attached, the form comes back without it.
                let (status, message) = study_pages::refusal(e)?;
                let mut page = form_page(state, ctx, area, &client, None, typed, FieldErrors::default()).await?;
                page.study_error = Some(message);
                return respond(status, page);
            }
        }
    };
    let data = match model::validate(&typed, area.is_bo(), (SiteStatus::ToSchedule, None)) {
        Ok(d) => d,
        Err(errors) => {
            let errors = form_errors(state, &client, &typed, None, errors).await?;
            let page = form_page(state, ctx, area, &client, None, typed, errors).await?;
            return invalid(page.with_study(carried.as_ref()));
        }
    };
    if let Some(c) = &carried
        && let Some(site_id) = studies::imported_on(&state.db, client.tenant, client.id, &c.stored.sha256).await?
    {
        return already_imported(state, ctx, area, &client, site_id).await;
    }
    // The same chantier twice? Dwellings share their residence's address by nature.
    let found = if data.kind == SiteKind::Dwelling {
        Vec::new()
    } else {
        duplicates::find(&state.db, Scope::of(actor), &Probe::of(&data), None).await?
    };
    if !found.is_empty() && !create_anyway {
        let page = form_page(state, ctx, area, &client, None, typed, FieldErrors::default()).await?;
        return respond(StatusCode::CONFLICT, page.with_study(carried.as_ref()).with_duplicates(&found, area));
    }
    let mut tx = state.db.begin().await?;
    let mut errors = FieldErrors::default();
    check_refs(&mut tx, &client, Refs::of(&data), None, &mut errors).await?;
    if !errors.is_empty() {
        drop(tx);
        let page = form_page(state, ctx, area, &client, None, typed, errors).await?;
        return invalid(page.with_study(carried.as_ref()));
    }
    let id: SiteId = store::insert(&mut tx, actor.tenant_id, client.id, Some(actor.user_id), &data).await?;
    let mut summary = format!("Création du site « {} » ({}, client {})", data.name, kind_name(&data), client.label);
    if let Some(c) = &carried {
        summary.push_str(&format!(" depuis l'étude thermique ({})", c.study.format.label()));
    }
    if !found.is_empty() {
        summary.push_str(&format!(" ; créé malgré {} doublon(s) possible(s)", found.len()));
    }
    audit::record(&mut tx, actor, "create", "site", Some(id.0), &summary).await?;
    if let Some(c) = &carried {
        let who = Importer { audit: actor.into(), user: Some(actor.user_id), api_token: None, source: Source::Form };
        let target = Target::New { id, client: client.id, name: &data.name };
        match studies::attach(&mut tx, &who, target, &c.stored, &c.study).await {
            Ok(_) => {}
            Err(StudyError::AlreadyImported { site_id }) => {
                drop(tx);
                return already_imported(state, ctx, area, &client, site_id).await;
            }
            Err(e) => {
                drop(tx);
                let (status, message) = study_pages::refusal(e)?;
                let page = form_page(state, ctx, area, &client, None, typed, FieldErrors::default()).await?;
                let mut page = page.with_study(carried.as_ref());
                page.study_error = Some(message);
                return respond(status, page);
            }
        }
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}/{id}?msg=cree", area.base())).into_response())
}

/// Client users edit their current sites; an archived one is the firm's to restore first.
pub fn require_editable(actor: &Actor, area: Area, site: &SiteRow) -> AppResult<()> {
    require_writer(actor)?;
    if area == Area::Espace && site.archived { Err(AppError::Forbidden) } else { Ok(()) }
}

pub async fn edit_page(state: &AppState, ctx: Ctx, actor: &Actor, area: Area, raw_id: &str) -> AppResult<Response> {
    let site = load(state, actor, raw_id).await?;
    require_editable(actor, area, &site)?;
    let client = ClientRef::of_site(&site, actor.tenant_id);
    let page = form_page(state, ctx, area, &client, Some(&site), form_of(&site), FieldErrors::default()).await?;
    Ok(render(&page)?.into_response())
}

pub async fn update(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw_id: &str,
    raw: Vec<(String, String)>,
) -> AppResult<Response> {
    let site = load(state, actor, raw_id).await?;
    require_editable(actor, area, &site)?;
    let client = ClientRef::of_site(&site, actor.tenant_id);
    let mut typed = read_form(&FormData(raw));
    typed.client_id = site.client_id.to_string();
    if !area.is_bo() {
        // Shown, not editable: keep the stored values on a re-displayed form.
        typed.status = site.status.clone();
        typed.actual_date = site.actual_date.clone().unwrap_or_default();
    }
    let kept = (SiteStatus::parse(&site.status).unwrap_or(SiteStatus::ToSchedule), site.actual_date.clone());
    let data = match model::validate(&typed, area.is_bo(), kept) {
        Ok(d) => d,
        Err(errors) => {
            let errors = form_errors(state, &client, &typed, Some(&site), errors).await?;
            return invalid(form_page(state, ctx, area, &client, Some(&site), typed, errors).await?);
        }
    };
    let base = area.base();
    let changes = changed_fields(&data_of(&site), &data);
    if changes.is_empty() {
        return Ok(Redirect::to(&format!("{base}/{}?msg=enregistre", site.id)).into_response());
    }
    let mut tx = state.db.begin().await?;
    let mut errors = FieldErrors::default();
    check_refs(&mut tx, &client, Refs::of(&data), Some(&site), &mut errors).await?;
    if !errors.is_empty() {
        drop(tx);
        return invalid(form_page(state, ctx, area, &client, Some(&site), typed, errors).await?);
    }
    if store::update(&mut tx, Scope::of(actor), site.id, &data).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        actor,
        "update",
        "site",
        Some(site.id.0),
        &format!("Modification du site « {} » ({changes})", data.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{base}/{}?msg=enregistre", site.id)).into_response())
}

/// Back office: `archiver=1` archives, `archiver=0` restores; without the field the state is
/// switched. Admin and office only.
pub async fn archive(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let site = load(&state, &actor, &id).await?;
    require_writer(&actor)?;
    let archived = match FormData(raw).get("archiver").as_str() {
        "1" => true,
        "0" => false,
        _ => !site.archived,
    };
    if archived != site.archived {
        let mut tx = state.db.begin().await?;
        if store::set_archived(&mut tx, Scope::of(&actor), site.id, archived).await? == 0 {
            return Err(AppError::NotFound);
        }
        let (action, what) = if archived { ("archive", "Archivage") } else { ("unarchive", "Réactivation") };
        audit::record(&mut tx, &actor, action, "site", Some(site.id.0), &format!("{what} du site « {} »", site.name))
            .await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("{}/{}?msg=enregistre", Area::Bo.base(), site.id)).into_response())
}
