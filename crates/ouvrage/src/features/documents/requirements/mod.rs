//! Expected documents and data (données et documents attendus).
//!
//! The firm describes, per service it sells (prestation), what it needs from the client before
//! and after the intervention: documents of a type, or pieces of data ([`settings`], templates).
//! Adding a service to a site copies its templates as the site's requirements, so editing a
//! template later does not rewrite what a client was already asked. Each requirement is missing,
//! received (a document of its type was deposited on the site, or the data was typed in),
//! validated or refused with a reason by the firm's admin or office; a refused one waits for a
//! new document. A site is complete when it has requirements and every one is validated.
//!
//! - [`store`]: the SQL, and the counts dashboards read ([`site_completeness`],
//!   [`to_validate_count`], [`incomplete_sites_by_status`]).
//! - [`settings`]: `/bo/parametres/prestations`, the firm's services and their templates.
//! - [`queue`]: `/bo/documents/a-valider`, what clients sent and staff must look at.
//! - this module: the section of a site's documents page and its actions.

pub mod queue;
pub mod rules;
pub mod seed;
pub mod settings;
pub mod store;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use self::store::RequirementRow;
use super::pages::{SiteFormState, site_page};
use super::types;
use crate::app::AppState;
use crate::db::{Db, Tx};
use crate::domain::time::{fr_datetime, now_ms};
use crate::domain::{ClientId, DocumentId, SiteId, TenantId, UserId};
use crate::features::audit;
use crate::features::clients::ui::positive_id;
use crate::features::notifications::{self, Audience, Event};
use crate::features::sites::store::SiteRow;
use crate::features::sites::{Area, list as site_list};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

pub use self::store::Completeness;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/parametres/prestations", get(settings::page).post(settings::add_service))
        .route("/bo/parametres/prestations/{service}/attendus", post(settings::add_template))
        .route("/bo/parametres/prestations/{service}/archiver", post(settings::archive_service))
        .route("/bo/parametres/prestations/{service}/attendus/{template}/archiver", post(settings::archive_template))
        .route("/bo/documents/a-valider", get(queue::page))
        .route("/bo/chantiers/{id}/prestations", post(bo_add_service))
        .route("/bo/chantiers/{id}/attendus/{req}/valider", post(bo_validate))
        .route("/bo/chantiers/{id}/attendus/{req}/refuser", post(bo_refuse))
        .route("/bo/chantiers/{id}/attendus/{req}/donnee", post(bo_data))
        .route("/espace/chantiers/{id}/attendus/{req}/donnee", post(espace_data))
}

// ---------------------------------------------------------------------------------------------
// What dashboards read

/// How many of a site's requirements are missing, received, validated, refused; complete when
/// it has some and all are validated.
pub async fn site_completeness(db: &Db, tenant: TenantId, site: SiteId) -> Result<Completeness, sqlx::Error> {
    store::site_completeness(db, tenant, site).await
}

/// Requirements received and waiting for the firm to validate or refuse them.
pub async fn to_validate_count(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    store::to_validate_count(db, tenant).await
}

/// For one client, its current sites with at least one requirement not validated, counted per
/// site status (`to_schedule`, `scheduled`, `done`, `cancelled`, each listed).
pub async fn incomplete_sites_by_status(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    store::incomplete_sites_by_status(db, tenant, client).await
}

// ---------------------------------------------------------------------------------------------
// The section of a site's documents page

pub struct Choice {
    pub id: i64,
    pub label: String,
}

/// One requirement as the section shows it, with what this actor may do with it.
pub struct Item {
    pub id: i64,
    pub label: String,
    pub hint: String,
    pub kind_label: &'static str,
    pub is_document: bool,
    pub document_type: String,
    pub type_label: String,
    pub status: String,
    pub status_label: &'static str,
    pub status_class: &'static str,
    pub refusal_reason: String,
    pub document_url: String,
    pub document_title: String,
    pub data_value: String,
    /// "Validé par … le …" / "Refusé par … le …".
    pub decision: String,
    pub received_on: String,
    pub validate_url: String,
    pub refuse_url: String,
    pub data_url: String,
    pub can_validate: bool,
    pub can_refuse: bool,
    pub show_upload: bool,
    pub show_data_form: bool,
    /// The text typed in this requirement's form when it came back with an error.
    pub draft: String,
}

pub struct StageGroup {
    pub label: &'static str,
    pub items: Vec<Item>,
}

pub struct ServiceGroup {
    pub label: String,
    pub stages: Vec<StageGroup>,
}

/// The requirements section of a site's documents page.
pub struct SitePanel {
    pub groups: Vec<ServiceGroup>,
    pub counts: Completeness,
    pub can_manage: bool,
    /// Services the site does not have yet (shown to those who may add one).
    pub services: Vec<Choice>,
    pub add_action: String,
    pub errors: Vec<String>,
}

impl SitePanel {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut parts = vec![format!("{} validé(s) sur {}", c.validated, c.total())];
        if c.received > 0 {
            parts.push(format!("{} reçu(s) à valider", c.received));
        }
        if c.missing > 0 {
            parts.push(format!("{} manquant(s)", c.missing));
        }
        if c.refused > 0 {
            parts.push(format!("{} refusé(s)", c.refused));
        }
        parts.join(" · ")
    }
}

/// Who may type a piece of data in: admin and office in the back office, the client's users
/// while the site is not archived.
fn can_fill(actor: &Actor, site: &SiteRow) -> bool {
    if actor.is_staff() { rules::can_manage(actor) } else { !site.archived }
}

fn item_of(
    r: &RequirementRow,
    actor: &Actor,
    area: Area,
    site: &SiteRow,
    type_list: &[types::DocumentType],
    manage: bool,
) -> Item {
    let base = format!("{}/{}/attendus/{}", area.base(), site.id, r.id);
    let is_document = r.kind != rules::DATA;
    let type_in_use = type_list.iter().any(|t| t.code == r.document_type);
    let open = r.status == rules::MISSING || r.status == rules::REFUSED;
    let decision = match (r.status.as_str(), r.decided_at) {
        (rules::VALIDATED, Some(at)) => {
            format!("Validé par {} le {}", r.decider.clone().unwrap_or_else(|| "l'équipe".into()), fr_datetime(at))
        }
        (rules::REFUSED, Some(at)) => {
            format!("Refusé par {} le {}", r.decider.clone().unwrap_or_else(|| "l'équipe".into()), fr_datetime(at))
        }
        _ => String::new(),
    };
    Item {
        id: r.id,
        label: r.label.clone(),
        hint: r.hint.clone(),
        kind_label: rules::kind_label(&r.kind),
        is_document,
        document_type: r.document_type.clone(),
        type_label: if is_document { types::label_of(type_list, &r.document_type).to_string() } else { String::new() },
        status: r.status.clone(),
        status_label: rules::status_label(&r.status),
        status_class: rules::status_class(&r.status),
        refusal_reason: if r.status == rules::REFUSED { r.refusal_reason.clone() } else { String::new() },
        document_url: r.document_id.map(|d| format!("{}/{d}", super::docs_base(area))).unwrap_or_default(),
        document_title: r.document_title.clone().unwrap_or_default(),
        data_value: r.data_value.clone(),
        decision,
        received_on: r.received_at.map(fr_datetime).unwrap_or_default(),
        validate_url: format!("{base}/valider"),
        refuse_url: format!("{base}/refuser"),
        data_url: format!("{base}/donnee"),
        can_validate: manage && r.status == rules::RECEIVED,
        can_refuse: manage && (r.status == rules::RECEIVED || r.status == rules::VALIDATED),
        show_upload: is_document && open && type_in_use && super::pages::can_upload(actor, site),
        show_data_form: !is_document && r.status != rules::VALIDATED && can_fill(actor, site),
        draft: String::new(),
    }
}

pub async fn site_panel(
    state: &AppState,
    actor: &Actor,
    area: Area,
    site: &SiteRow,
    _csrf: &str,
) -> AppResult<SitePanel> {
    let rows = store::site_requirements(&state.db, actor.tenant_id, site).await?;
    let type_list = types::list(&state.db, actor.tenant_id).await?;
    let manage = area.is_bo() && rules::can_manage(actor);
    let mut groups: Vec<ServiceGroup> = Vec::new();
    let mut last_service: Option<Option<i64>> = None;
    for r in &rows {
        if last_service != Some(r.site_service_id) {
            last_service = Some(r.site_service_id);
            let label = r.service_label.clone().unwrap_or_else(|| "Autres éléments attendus".into());
            groups.push(ServiceGroup { label, stages: Vec::new() });
        }
        let group = groups.last_mut().expect("a group was just pushed");
        let stage = rules::stage_label(&r.stage);
        if group.stages.last().is_none_or(|s| s.label != stage) {
            group.stages.push(StageGroup { label: stage, items: Vec::new() });
        }
        let item = item_of(r, actor, area, site, &type_list, manage);
        group.stages.last_mut().expect("a stage was just pushed").items.push(item);
    }
    let mut counts: Vec<(String, i64)> = Vec::new();
    for r in &rows {
        match counts.iter_mut().find(|(s, _)| *s == r.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.status.clone(), 1)),
        }
    }
    let services = if manage {
        let taken = store::site_service_ids(&state.db, actor.tenant_id, site.id).await?;
        store::services(&state.db, actor.tenant_id)
            .await?
            .into_iter()
            .filter(|s| !taken.contains(&s.id))
            .map(|s| Choice { id: s.id, label: s.label })
            .collect()
    } else {
        Vec::new()
    };
    Ok(SitePanel {
        groups,
        counts: store::Completeness::from_counts(&counts),
        can_manage: manage,
        services,
        add_action: format!("/bo/chantiers/{}/prestations", site.id),
        errors: Vec::new(),
    })
}

/// The site's documents page again, with the section's error and the typed text kept: 422.
async fn refused_on_page(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    site: SiteRow,
    error: String,
    draft: Option<(i64, String)>,
) -> AppResult<Response> {
    let form = SiteFormState { chosen_type: String::new(), added: Vec::new(), errors: Vec::new() };
    let mut page = site_page(state, ctx, actor, area, site, None, form).await?;
    page.requirements.errors.push(error);
    if let Some((id, text)) = draft {
        for item in
            page.requirements.groups.iter_mut().flat_map(|g| g.stages.iter_mut()).flat_map(|s| s.items.iter_mut())
        {
            if item.id == id {
                item.draft = text.clone();
            }
        }
    }
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

async fn load(state: &AppState, actor: &Actor, raw_site: &str, raw_req: &str) -> AppResult<(SiteRow, RequirementRow)> {
    let site = site_list::load(state, actor, raw_site).await?;
    let id = positive_id(raw_req).ok_or(AppError::NotFound)?;
    let req = store::requirement(&state.db, actor.tenant_id, &site, id).await?.ok_or(AppError::NotFound)?;
    Ok((site, req))
}

fn site_documents_url(area: Area, site: &SiteRow, msg: &str) -> String {
    format!("{}/{}/documents?msg={msg}", area.base(), site.id)
}

// ---------------------------------------------------------------------------------------------
// Adding a service to a site

#[derive(Deserialize, Default)]
#[serde(default)]
struct AddServiceForm {
    prestation: String,
}

async fn bo_add_service(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(f): Form<AddServiceForm>,
) -> AppResult<Response> {
    let site = site_list::load(&state, &actor, &id).await?;
    if !rules::can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let mut tx = state.db.begin().await?;
    let service = match positive_id(&f.prestation) {
        Some(id) => store::service(&mut tx, actor.tenant_id, id).await?,
        None => None,
    };
    let Some(service) = service else {
        drop(tx);
        let msg = "Choisissez une prestation de la liste.".to_string();
        return refused_on_page(&state, ctx, &actor, Area::Bo, site, msg, None).await;
    };
    let already = format!("La prestation « {} » est déjà ajoutée à ce chantier.", service.label);
    if store::site_has_service(&mut tx, actor.tenant_id, site.id, service.id).await? {
        drop(tx);
        return refused_on_page(&state, ctx, &actor, Area::Bo, site, already, None).await;
    }
    let now = now_ms();
    let created =
        match store::add_service_to_site(&mut tx, actor.tenant_id, &site, service.id, actor.user_id, now).await {
            Ok(n) => n,
            // Added by someone else meanwhile.
            Err(e) if crate::db::is_unique_violation(&e) => {
                drop(tx);
                return refused_on_page(&state, ctx, &actor, Area::Bo, site, already, None).await;
            }
            Err(e) => return Err(e.into()),
        };
    let summary = format!("Prestation « {} » ajoutée : {created} élément(s) attendu(s)", service.label);
    audit::record(&mut tx, &actor, "create", "site", Some(site.id.0), &summary).await?;
    if created > 0 {
        let event = Event {
            tenant_id: actor.tenant_id,
            client_id: Some(site.client_id),
            kind: "requirements_added",
            event_key: format!("site_service:{}:{}", site.id, service.id),
            title: format!("Documents et données attendus sur « {} » : {}", site.name, service.label),
            link: format!("/espace/chantiers/{}/documents", site.id),
            site_label: site.name.clone(),
        };
        notifications::notify(&mut tx, &event, Audience::ClientUsers { client: site.client_id, permission: None })
            .await?;
    }
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(Redirect::to(&site_documents_url(Area::Bo, &site, "prestation")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Validating and refusing

#[derive(Deserialize, Default)]
#[serde(default)]
struct DecisionForm {
    motif: String,
    /// `a-valider` when the form was on the list of what to validate.
    retour: String,
}

/// Where a decision sends staff back, and where its error is shown.
async fn decision_refused(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    site: SiteRow,
    from_queue: bool,
    error: String,
    draft: Option<(i64, String)>,
) -> AppResult<Response> {
    if from_queue {
        queue::refused(state, ctx, actor, error, draft).await
    } else {
        refused_on_page(state, ctx, actor, Area::Bo, site, error, draft).await
    }
}

fn decision_done(site: &SiteRow, from_queue: bool, msg: &str) -> Response {
    if from_queue {
        Redirect::to(&format!("{}?msg={msg}", queue::PATH)).into_response()
    } else {
        Redirect::to(&site_documents_url(Area::Bo, site, msg)).into_response()
    }
}

async fn bo_validate(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path((id, req)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> AppResult<Response> {
    let (site, req) = load(&state, &actor, &id, &req).await?;
    if !rules::can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let from_queue = f.retour == "a-valider";
    let nothing = format!(
        "« {} » ne peut pas être validé : rien n'a été reçu (statut : {}).",
        req.label,
        rules::status_label(&req.status)
    );
    let mut tx = state.db.begin().await?;
    if store::validate(&mut tx, actor.tenant_id, site.id, req.id, actor.user_id, now_ms()).await? == 0 {
        drop(tx);
        return decision_refused(&state, ctx, &actor, site, from_queue, nothing, None).await;
    }
    let summary = format!("Élément attendu « {} » validé", req.label);
    audit::record(&mut tx, &actor, "update", "site", Some(site.id.0), &summary).await?;
    tx.commit().await?;
    Ok(decision_done(&site, from_queue, "valide"))
}

async fn bo_refuse(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path((id, req)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> AppResult<Response> {
    let (site, req) = load(&state, &actor, &id, &req).await?;
    if !rules::can_manage(&actor) {
        return Err(AppError::Forbidden);
    }
    let from_queue = f.retour == "a-valider";
    let reason = match rules::check_reason(&f.motif) {
        Ok(r) => r,
        Err(e) => return decision_refused(&state, ctx, &actor, site, from_queue, e, Some((req.id, f.motif))).await,
    };
    let nothing = format!("« {} » ne peut pas être refusé : rien n'a été reçu.", req.label);
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if store::refuse(&mut tx, actor.tenant_id, site.id, req.id, &reason, actor.user_id, now).await? == 0 {
        drop(tx);
        return decision_refused(&state, ctx, &actor, site, from_queue, nothing, Some((req.id, f.motif))).await;
    }
    let summary = format!("Élément attendu « {} » refusé : {reason}", req.label);
    audit::record(&mut tx, &actor, "update", "site", Some(site.id.0), &summary).await?;
    let event = Event {
        tenant_id: actor.tenant_id,
        client_id: Some(site.client_id),
        kind: "requirement_refused",
        event_key: format!("requirement_refused:{}:{now}", req.id),
        title: format!("« {} » refusé sur « {} » : {reason}", req.label, site.name),
        link: format!("/espace/chantiers/{}/documents", site.id),
        site_label: site.name.clone(),
    };
    notifications::notify(&mut tx, &event, Audience::ClientUsers { client: site.client_id, permission: None }).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(decision_done(&site, from_queue, "refuse"))
}

// ---------------------------------------------------------------------------------------------
// Typing a piece of data in

#[derive(Deserialize, Default)]
#[serde(default)]
struct DataForm {
    valeur: String,
}

async fn fill_data(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw_site: &str,
    raw_req: &str,
    f: DataForm,
) -> AppResult<Response> {
    let (site, req) = load(state, actor, raw_site, raw_req).await?;
    if !can_fill(actor, &site) {
        return Err(AppError::Forbidden);
    }
    let draft = Some((req.id, f.valeur.clone()));
    if req.kind != rules::DATA {
        let msg = format!("« {} » attend un document : déposez-le avec le formulaire de dépôt.", req.label);
        return refused_on_page(state, ctx, actor, area, site, msg, None).await;
    }
    let value = match rules::check_data(&f.valeur) {
        Ok(v) => v,
        Err(e) => return refused_on_page(state, ctx, actor, area, site, e, draft).await,
    };
    let mut tx = state.db.begin().await?;
    if store::set_data(&mut tx, actor.tenant_id, site.id, req.id, &value, now_ms()).await? == 0 {
        drop(tx);
        let msg = format!("« {} » est déjà validé : il ne peut plus être modifié.", req.label);
        return refused_on_page(state, ctx, actor, area, site, msg, draft).await;
    }
    let summary = format!("Donnée attendue « {} » renseignée : {value}", req.label);
    audit::record(&mut tx, actor, "update", "site", Some(site.id.0), &summary).await?;
    if !actor.is_staff() {
        let event = Event {
            tenant_id: actor.tenant_id,
            client_id: Some(site.client_id),
            kind: "requirement_received",
            event_key: format!("requirement_data:{}:{}", req.id, now_ms()),
            title: format!("{} — « {} » renseigné sur « {} »", site.client_code, req.label, site.name),
            link: format!("/bo/chantiers/{}/documents", site.id),
            site_label: site.name.clone(),
        };
        notifications::notify(&mut tx, &event, Audience::Office).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&site_documents_url(area, &site, "donnee")).into_response())
}

async fn bo_data(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path((id, req)): Path<(String, String)>,
    Form(f): Form<DataForm>,
) -> AppResult<Response> {
    fill_data(&state, ctx, &actor, Area::Bo, &id, &req, f).await
}

async fn espace_data(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path((id, req)): Path<(String, String)>,
    Form(f): Form<DataForm>,
) -> AppResult<Response> {
    fill_data(&state, ctx, &actor, Area::Espace, &id, &req, f).await
}

// ---------------------------------------------------------------------------------------------
// Uploads and seeding

/// Called in the transaction that files a document on a site: the requirement the depositor
/// named, when it is one of this site's of that type and not validated, gets the document;
/// otherwise every missing or refused requirement of the site with that type does.
pub async fn on_document_added(
    tx: &mut Tx,
    tenant: TenantId,
    site: &SiteRow,
    document_type: &str,
    document: DocumentId,
    requirement_id: Option<i64>,
    _by: Option<UserId>,
) -> Result<(), sqlx::Error> {
    store::fulfil(tx, tenant, site, document_type, document, requirement_id, now_ms()).await?;
    Ok(())
}

/// The services and expected documents every firm starts with. Idempotent.
pub async fn seed_defaults(tx: &mut Tx, tenant: TenantId) -> Result<(), sqlx::Error> {
    seed::seed_defaults(tx, tenant).await
}
