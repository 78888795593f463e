//! `/bo/parametres/prestations`: the firm's services and, for each, the documents and data it
//! expects before and after the intervention. Admin and office edit; technicians read.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::rules::{self, TemplateInput};
use super::store;
use crate::app::AppState;
use crate::features::audit;
use crate::features::clients::ui::positive_id;
use crate::features::documents::types::{self, DocumentType};
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

pub const PATH: &str = "/bo/parametres/prestations";

pub struct TemplateView {
    pub id: i64,
    pub label: String,
    pub kind_label: &'static str,
    pub type_label: String,
    pub hint: String,
    pub archive_action: String,
}

pub struct StageTemplates {
    pub label: &'static str,
    pub templates: Vec<TemplateView>,
}

pub struct ServiceView {
    pub id: i64,
    pub label: String,
    /// Before, then after the intervention.
    pub stages: Vec<StageTemplates>,
    pub add_action: String,
    pub archive_action: String,
}

#[derive(Template)]
#[template(path = "documents/requirements/settings.html")]
pub struct SettingsPage {
    pub ctx: Ctx,
    pub can_edit: bool,
    pub services: Vec<ServiceView>,
    pub types: Vec<DocumentType>,
    pub errors: Vec<String>,
    /// The name typed in the "new service" form when it came back.
    pub service_draft: String,
    /// The service whose "new element" form came back (0: none) and what was typed in it.
    pub draft_service: i64,
    pub draft: TemplateInput,
}

async fn settings_page(state: &AppState, ctx: Ctx, actor: &Actor) -> AppResult<SettingsPage> {
    let services = store::services(&state.db, actor.tenant_id).await?;
    let templates = store::templates(&state.db, actor.tenant_id).await?;
    let types = types::list(&state.db, actor.tenant_id).await?;
    let view = |t: &store::TemplateRow| TemplateView {
        id: t.id,
        label: t.label.clone(),
        kind_label: rules::kind_label(&t.kind),
        type_label: if t.kind == rules::DOCUMENT {
            types::label_of(&types, &t.document_type).to_string()
        } else {
            String::new()
        },
        hint: t.hint.clone(),
        archive_action: format!("{PATH}/{}/attendus/{}/archiver", t.service_id, t.id),
    };
    let services = services
        .into_iter()
        .map(|s| {
            let stages = [rules::BEFORE, rules::AFTER]
                .into_iter()
                .map(|stage| StageTemplates {
                    label: rules::stage_label(stage),
                    templates: templates
                        .iter()
                        .filter(|t| t.service_id == s.id && (t.stage == rules::AFTER) == (stage == rules::AFTER))
                        .map(view)
                        .collect(),
                })
                .collect();
            ServiceView {
                id: s.id,
                stages,
                add_action: format!("{PATH}/{}/attendus", s.id),
                archive_action: format!("{PATH}/{}/archiver", s.id),
                label: s.label,
            }
        })
        .collect();
    Ok(SettingsPage {
        ctx: ctx.with_nav("settings"),
        can_edit: rules::can_manage(actor),
        services,
        types,
        errors: Vec::new(),
        service_draft: String::new(),
        draft_service: 0,
        draft: TemplateInput { kind: rules::DOCUMENT.into(), stage: rules::BEFORE.into(), ..TemplateInput::default() },
    })
}

pub async fn page(State(state): State<AppState>, ctx: Ctx, StaffActor(actor): StaffActor) -> AppResult<Response> {
    Ok(render(&settings_page(&state, ctx, &actor).await?)?.into_response())
}

fn editor(actor: &Actor) -> AppResult<()> {
    if rules::can_manage(actor) { Ok(()) } else { Err(AppError::Forbidden) }
}

fn unprocessable(page: &SettingsPage) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ServiceForm {
    libelle: String,
}

pub async fn add_service(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Form(f): Form<ServiceForm>,
) -> AppResult<Response> {
    editor(&actor)?;
    let mut tx = state.db.begin().await?;
    let error = match rules::check_service_label(&f.libelle) {
        Err(e) => Some(e),
        Ok(label) if store::service_label_taken(&mut tx, actor.tenant_id, &label).await? => {
            Some(format!("Une prestation s'appelle déjà « {label} »."))
        }
        Ok(_) => None,
    };
    if let Some(e) = error {
        drop(tx);
        let mut page = settings_page(&state, ctx, &actor).await?;
        page.errors.push(e);
        page.service_draft = f.libelle;
        return unprocessable(&page);
    }
    let label = f.libelle.trim();
    let id = store::insert_service(&mut tx, actor.tenant_id, label).await?;
    audit::record(&mut tx, &actor, "create", "service", Some(id), &format!("Prestation « {label} » créée")).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{PATH}?msg=cree")).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TemplateForm {
    libelle: String,
    nature: String,
    #[serde(rename = "type")]
    document_type: String,
    moment: String,
    aide: String,
}

pub async fn add_template(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(service): Path<String>,
    Form(f): Form<TemplateForm>,
) -> AppResult<Response> {
    editor(&actor)?;
    let mut tx = state.db.begin().await?;
    let service = match positive_id(&service) {
        Some(id) => store::service(&mut tx, actor.tenant_id, id).await?,
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    let raw = TemplateInput {
        label: f.libelle,
        kind: f.nature,
        document_type: f.document_type,
        stage: f.moment,
        hint: f.aide,
    };
    let mut errors = Vec::new();
    let checked = match rules::check_template(&raw) {
        Ok(t) => Some(t),
        Err(e) => {
            errors = e;
            None
        }
    };
    if let Some(t) = &checked {
        if t.kind == rules::DOCUMENT && !types::exists(&mut tx, actor.tenant_id, &t.document_type).await? {
            errors.push("Ce type de document n'existe pas : choisissez un type de la liste.".to_string());
        }
        if store::template_label_taken(&mut tx, actor.tenant_id, service.id, &t.label).await? {
            errors.push(format!("La prestation « {} » attend déjà « {} ».", service.label, t.label));
        }
    }
    let Some(t) = checked.filter(|_| errors.is_empty()) else {
        drop(tx);
        let mut page = settings_page(&state, ctx, &actor).await?;
        page.errors = errors;
        page.draft_service = service.id;
        page.draft = raw;
        return unprocessable(&page);
    };
    let id = store::insert_template(&mut tx, actor.tenant_id, service.id, &t).await?;
    let summary = format!(
        "Prestation « {} » : {} « {} » attendu {}",
        service.label,
        rules::kind_label(&t.kind).to_lowercase(),
        t.label,
        if t.stage == rules::AFTER { "après l'intervention" } else { "avant l'intervention" }
    );
    audit::record(&mut tx, &actor, "create", "requirement_template", Some(id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{PATH}?msg=enregistre")).into_response())
}

pub async fn archive_service(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(service): Path<String>,
) -> AppResult<Response> {
    editor(&actor)?;
    let mut tx = state.db.begin().await?;
    let service = match positive_id(&service) {
        Some(id) => store::service(&mut tx, actor.tenant_id, id).await?,
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    store::archive_service(&mut tx, actor.tenant_id, service.id).await?;
    let summary = format!("Prestation « {} » archivée", service.label);
    audit::record(&mut tx, &actor, "archive", "service", Some(service.id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{PATH}?msg=enregistre")).into_response())
}

pub async fn archive_template(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path((service, template)): Path<(String, String)>,
) -> AppResult<Response> {
    editor(&actor)?;
    let mut tx = state.db.begin().await?;
    let service = match positive_id(&service) {
        Some(id) => store::service(&mut tx, actor.tenant_id, id).await?,
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    let template = match positive_id(&template) {
        Some(id) => store::template(&mut tx, actor.tenant_id, service.id, id).await?,
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    store::archive_template(&mut tx, actor.tenant_id, template.id).await?;
    let summary = format!("Prestation « {} » : « {} » n'est plus attendu", service.label, template.label);
    audit::record(&mut tx, &actor, "archive", "requirement_template", Some(template.id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{PATH}?msg=enregistre")).into_response())
}
