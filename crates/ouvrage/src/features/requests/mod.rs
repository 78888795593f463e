//! Requests to the firm, processed in the back office: a client admin asks for a contact to be
//! created, changed or removed (instead of a letter); someone without an account asks for
//! extranet credentials on the public form. Staff validate or refuse with a reason, and each
//! step notifies the other side.

pub mod antispam;
pub mod contact;
pub mod credentials;
pub mod store;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::Role;
use crate::domain::time::fr_datetime;
use crate::features::clients::require_editor;
use crate::features::clients::ui::Opt;
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};
use store::StatusFilter;

pub fn routes() -> Router<AppState> {
    Router::new()
        // Extranet: the client admin's requests about the company's contacts.
        .route("/espace/entreprise/demandes", get(contact::espace_list))
        .route("/espace/entreprise/demandes/nouveau-contact", get(contact::create_page).post(contact::create))
        .route("/espace/entreprise/demandes/{id}", get(contact::espace_detail))
        .route("/espace/entreprise/contacts/{id}/demande-modification", get(contact::change_page).post(contact::change))
        .route("/espace/entreprise/contacts/{id}/demande-suppression", get(contact::remove_page).post(contact::remove))
        // Back office: the queue of requests and their processing.
        .route("/bo/demandes", get(bo_list))
        .route("/bo/demandes/contacts/{id}", get(contact::bo_detail))
        .route("/bo/demandes/contacts/{id}/valider", post(contact::validate))
        .route("/bo/demandes/contacts/{id}/refuser", post(contact::refuse))
        .route("/bo/demandes/identifiants/{id}", get(credentials::bo_detail))
        .route("/bo/demandes/identifiants/{id}/rattacher", post(credentials::link))
        .route("/bo/demandes/identifiants/{id}/creer-client", post(credentials::create_client))
        .route("/bo/demandes/identifiants/{id}/creer-acces", post(credentials::create_access_for_request))
        .route("/bo/demandes/identifiants/{id}/refuser", post(credentials::refuse))
        // Public: the credential request form.
        .route("/demande-identifiants", get(credentials::public_page).post(credentials::public_submit))
}

/// Contact requests are the client admin's: other extranet users are refused.
pub fn require_client_admin(actor: &ClientActor) -> AppResult<()> {
    if actor.0.role == Role::ClientAdmin { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Requests are processed by the admin and office staff; technicians do not see them.
pub fn require_processor(actor: &Actor) -> AppResult<()> {
    require_editor(actor)
}

/// The French label of a request's status and its badge class.
pub fn status_label(status: &str) -> (&'static str, &'static str) {
    match status {
        "pending" => ("En attente", "warn"),
        "validated" => ("Validée", "ok"),
        "refused" => ("Refusée", "off"),
        _ => ("Inconnu", "off"),
    }
}

/// The French label of a contact request's kind.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "create" => "Nouveau contact",
        "change" => "Modification",
        "remove" => "Suppression",
        _ => "Demande",
    }
}

// ---------------------------------------------------------------------------------------------
// The back office's queue

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    statut: String,
}

pub struct ContactRequestItem {
    pub id: i64,
    pub created: String,
    pub client: String,
    pub kind: &'static str,
    pub subject: String,
    pub requester: String,
    pub status: &'static str,
    pub status_class: &'static str,
}

pub struct CredentialRequestItem {
    pub id: i64,
    pub created: String,
    pub company: String,
    pub siret: String,
    pub name: String,
    pub email: String,
    pub status: &'static str,
    pub status_class: &'static str,
}

#[derive(Template)]
#[template(path = "requests/bo_list.html")]
struct BoListPage {
    ctx: Ctx,
    filters: Vec<Opt>,
    pending_only: bool,
    contact_requests: Vec<ContactRequestItem>,
    credential_requests: Vec<CredentialRequestItem>,
    pending_contacts: i64,
    pending_credentials: i64,
    contacts_truncated: bool,
    credentials_truncated: bool,
    limit: i64,
}

async fn bo_list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    require_processor(&actor)?;
    let status = StatusFilter::parse(&q.statut);
    let contact_rows = store::contact_requests(&state.db, actor.tenant_id, None, status).await?;
    let credential_rows = store::credential_requests(&state.db, actor.tenant_id, status).await?;
    let (pending_contacts, pending_credentials) = store::pending_counts(&state.db, actor.tenant_id).await?;
    let current = status.code();
    let filters = vec![
        Opt::new(StatusFilter::Pending.code(), "En attente", current),
        Opt::new(StatusFilter::Processed.code(), "Traitées", current),
        Opt::new(StatusFilter::All.code(), "Toutes", current),
    ];
    let page = BoListPage {
        ctx: ctx.with_nav("requests"),
        filters,
        pending_only: status == StatusFilter::Pending,
        contact_requests: contact_rows
            .iter()
            .map(|r| {
                let (status, status_class) = status_label(&r.status);
                ContactRequestItem {
                    id: r.id,
                    created: fr_datetime(r.created_at),
                    client: format!("{} — {}", r.client_code, r.client_name),
                    kind: kind_label(&r.kind),
                    subject: r.subject_name(),
                    requester: r.requester_name.clone(),
                    status,
                    status_class,
                }
            })
            .collect(),
        credential_requests: credential_rows
            .iter()
            .map(|r| {
                let (status, status_class) = status_label(&r.status);
                CredentialRequestItem {
                    id: r.id,
                    created: fr_datetime(r.created_at),
                    company: r.company.clone(),
                    siret: crate::features::clients::fr_siret(&r.siret),
                    name: r.full_name.clone(),
                    email: r.email.clone(),
                    status,
                    status_class,
                }
            })
            .collect(),
        pending_contacts,
        pending_credentials,
        contacts_truncated: contact_rows.len() as i64 >= store::LIST_LIMIT,
        credentials_truncated: credential_rows.len() as i64 >= store::LIST_LIMIT,
        limit: store::LIST_LIMIT,
    };
    Ok(render(&page)?.into_response())
}

/// The longest free text (message, reason) a request may carry.
pub(crate) const MESSAGE_MAX: usize = 2000;

/// What is wrong with a refusal's reason, if anything: it is required (the other side is told
/// why) and bounded. `missing` says who receives it.
pub(crate) fn refusal_problem(reason: &str, missing: &str) -> Option<String> {
    if reason.is_empty() {
        Some(missing.to_string())
    } else if reason.chars().count() > MESSAGE_MAX {
        Some(format!("Le motif ne doit pas dépasser {MESSAGE_MAX} caractères."))
    } else {
        None
    }
}
