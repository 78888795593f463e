//! The product, one folder per capability: each owns its routes, queries, templates and rules.

pub mod account;
pub mod api;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod documents;
pub mod files;
pub mod health;
pub mod help;
pub mod home;
pub mod interventions;
pub mod jobs;
pub mod mail;
pub mod messaging;
pub mod notifications;
pub mod requests;
pub mod sites;
pub mod users;
pub mod workers;

use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(health::routes())
        .merge(auth::routes())
        .merge(home::routes())
        .merge(clients::routes())
        .merge(users::routes())
        .merge(account::routes())
        .merge(files::routes())
        .merge(audit::routes())
        .merge(notifications::routes())
        .merge(requests::routes())
        .merge(sites::routes())
        .merge(messaging::routes())
        .merge(interventions::routes())
        .merge(documents::routes())
        .merge(help::routes())
        .merge(api::routes())
}
