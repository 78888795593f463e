//! Intervention requests and interventions.
//!
//! - Extranet `/espace/actions` ("Mes actions") and `/espace/actions/intervention`: a client's
//!   user asks for an intervention on one of the company's sites (service, one to three
//!   preferred days, comment, contact on site). The request opens a "Demande d'intervention"
//!   thread on the site, which notifies the office; the firm's answer arrives in that thread.
//! - Back office `/bo/demandes-intervention`: the requests, pending first; on a request, admin
//!   and office schedule it (day, window, technician: an intervention is planned and the site is
//!   scheduled on that day), propose another day, or refuse it with a reason. Technicians read.
//! - Back office `/bo/planning`: the interventions by day and technician; admin and office mark
//!   them done (the site is done on that day) or cancelled.
//! - A site's page lists its interventions and its requests awaiting an answer ([`site`]).
//!
//! An intervention is one passage (`attempt`); its `outcome` is left for the technicians'
//! reports to come. All SQL is in [`store`], rules in [`rules`].

pub mod answers;
pub mod espace;
pub mod planning;
pub mod rules;
pub mod site;
pub mod store;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/actions", get(espace::actions))
        .route("/espace/actions/intervention", get(espace::new_request).post(espace::create_request))
        .route("/bo/demandes-intervention", get(answers::list))
        .route("/bo/demandes-intervention/{id}", get(answers::show))
        .route("/bo/demandes-intervention/{id}/planifier", post(answers::schedule))
        .route("/bo/demandes-intervention/{id}/proposer", post(answers::propose))
        .route("/bo/demandes-intervention/{id}/refuser", post(answers::refuse))
        .route("/bo/planning", get(planning::page))
        .route("/bo/interventions/{id}/statut", post(planning::set_status))
}
