//! Documents: what the firm needs from the client, what the client must sign, and what the
//! firm delivers.
//!
//! - [`types`]: the firm's document types (tenant data).
//! - [`store`]: typed, versioned documents of a client's sites; lists and their scope.
//! - [`pages`]: a site's "Dépôt de documents" (several typed files at once), Mes documents
//!   across sites with search and filters, a document's page (preview, versions), downloads,
//!   and the selection as one .zip ([`archive`]).
//! - [`requirements`]: the documents and data expected per service, fulfilled by uploads,
//!   validated or refused by staff.
//! - [`signatures`]: justificatifs à signer, on paper or electronically (sealed PDF, PAdES).
//! - [`published`]: reports and invoices the firm publishes (Mes rapports, Mes factures).

pub mod archive;
pub mod pages;
pub mod published;
pub mod requirements;
pub mod signatures;
pub mod store;
pub mod types;
pub mod upload;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;
use crate::features::sites::Area;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/chantiers/{id}/documents", get(pages::bo_site_documents).post(upload::bo_upload))
        .route("/espace/chantiers/{id}/documents", get(pages::espace_site_documents).post(upload::espace_upload))
        .route("/bo/documents", get(pages::bo_list))
        .route("/espace/documents", get(pages::espace_list))
        .route("/espace/documents/rapports", get(pages::espace_reports))
        .route("/espace/documents/factures", get(pages::espace_invoices))
        .route("/bo/documents/archive.zip", get(archive::bo_zip))
        .route("/espace/documents/archive.zip", get(archive::espace_zip))
        .route("/bo/documents/{id}", get(pages::bo_document))
        .route("/espace/documents/{id}", get(pages::espace_document))
        .route("/bo/documents/{id}/fichier", get(pages::bo_download))
        .route("/espace/documents/{id}/fichier", get(pages::espace_download))
        .merge(requirements::routes())
        .merge(signatures::routes())
        .merge(published::routes())
}

/// Where a face's document pages live.
pub fn docs_base(area: Area) -> &'static str {
    if area.is_bo() { "/bo/documents" } else { "/espace/documents" }
}
