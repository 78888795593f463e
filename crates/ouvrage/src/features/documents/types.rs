//! The firm's document types: tenant data, so a firm can rename a type, add its own or retire
//! one. Every firm starts with the types of the trade; documents store the type's `code`.

use crate::db::{Db, Tx};
use crate::domain::TenantId;
use crate::{exec_tx, on_db, on_tx};

/// Codes the platform itself relies on (the thermal-study import, published reports and
/// invoices, signed justificatifs).
pub const THERMAL_STUDY: &str = "thermal_study";
pub const REPORT: &str = "report";
pub const INVOICE: &str = "invoice";
pub const SUPPORTING: &str = "supporting_document";
pub const OTHER: &str = "other";

/// The types every firm starts with, in the order lists show them.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("plan", "Plan"),
    ("building_permit", "Permis de construire"),
    (SUPPORTING, "Justificatif"),
    (THERMAL_STUDY, "Étude thermique"),
    ("photo", "Photo"),
    ("manual", "Notice"),
    ("certificate", "Attestation"),
    (REPORT, "Rapport"),
    (INVOICE, "Facture"),
    ("quote", "Devis"),
    (OTHER, "Autre"),
];

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DocumentType {
    pub code: String,
    pub label: String,
}

/// The tenant's types in use, in their order.
pub async fn list(db: &Db, tenant: TenantId) -> Result<Vec<DocumentType>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT code, label FROM document_types WHERE tenant_id = $1 AND archived = FALSE ORDER BY position, id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

/// The label of a code among `types`, or the code's default label, or the code itself: a
/// document keeps showing a sensible type even after the firm retired it.
pub fn label_of<'a>(types: &'a [DocumentType], code: &'a str) -> &'a str {
    types
        .iter()
        .find(|t| t.code == code)
        .map(|t| t.label.as_str())
        .or_else(|| DEFAULTS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l))
        .unwrap_or(code)
}

/// The label of `code` if it is one of the tenant's types in use.
pub async fn label(tx: &mut Tx, tenant: TenantId, code: &str) -> Result<Option<String>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT label FROM document_types WHERE tenant_id = $1 AND code = $2 AND archived = FALSE"
    )
    .bind(tenant)
    .bind(code)
    .fetch_optional(c)
    .await)
}

/// Whether `code` is one of the tenant's types in use.
pub async fn exists(tx: &mut Tx, tenant: TenantId, code: &str) -> Result<bool, sqlx::Error> {
    Ok(label(tx, tenant, code).await?.is_some())
}

/// Gives a new firm the trade's document types, services and expected documents, and its
/// signing certificate. Idempotent.
pub async fn seed_tenant(tx: &mut Tx, tenant: TenantId) -> Result<(), sqlx::Error> {
    for (position, (code, label)) in DEFAULTS.iter().enumerate() {
        exec_tx!(tx, |c| sqlx::query(
            "INSERT INTO document_types (tenant_id, code, label, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, code) DO NOTHING"
        )
        .bind(tenant)
        .bind(*code)
        .bind(*label)
        .bind(position as i64)
        .execute(c)
        .await)?;
    }
    super::requirements::seed_defaults(tx, tenant).await?;
    super::signatures::identity::generate_at_setup(tx, tenant).await
}

/// The migration's step: the firms that existed before documents were typed get the defaults.
pub async fn seed_every_tenant(tx: &mut Tx) -> Result<(), sqlx::Error> {
    let tenants: Vec<TenantId> =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM tenants ORDER BY id").fetch_all(c).await)?;
    for t in tenants {
        seed_tenant(tx, t).await?;
    }
    Ok(())
}
