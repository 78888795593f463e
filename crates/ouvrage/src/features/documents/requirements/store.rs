//! The SQL of requirements: the firm's services and templates, a site's services and
//! requirements, and the counts the dashboards read. Every query takes the tenant; a site's
//! rows also take the site's client, so a forged id of another company's row matches nothing.

use super::rules::{self, TemplateInput};
use crate::db::{Db, Tx};
use crate::domain::{ClientId, DocumentId, SiteId, TenantId, UserId};
use crate::features::sites::store::SiteRow;
use crate::{exec_tx, on_db, on_tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ServiceRow {
    pub id: i64,
    pub code: String,
    pub label: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: i64,
    pub service_id: i64,
    pub label: String,
    pub kind: String,
    pub document_type: String,
    pub stage: String,
    pub hint: String,
}

/// The firm's services in use, in their order.
pub async fn services(db: &Db, tenant: TenantId) -> Result<Vec<ServiceRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, code, label FROM services WHERE tenant_id = $1 AND archived = FALSE ORDER BY position, id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

/// The templates in use of the services in use, in their order.
pub async fn templates(db: &Db, tenant: TenantId) -> Result<Vec<TemplateRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT t.id, t.service_id, t.label, t.kind, t.document_type, t.stage, t.hint
         FROM requirement_templates t
         JOIN services s ON s.id = t.service_id AND s.tenant_id = t.tenant_id AND s.archived = FALSE
         WHERE t.tenant_id = $1 AND t.archived = FALSE
         ORDER BY t.service_id, CASE t.stage WHEN 'before' THEN 0 ELSE 1 END, t.position, t.id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

/// A service in use of the tenant.
pub async fn service(tx: &mut Tx, tenant: TenantId, id: i64) -> Result<Option<ServiceRow>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, code, label FROM services WHERE tenant_id = $1 AND id = $2 AND archived = FALSE"
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Whether a service in use already has this name (compared folded: case and accents aside).
pub async fn service_label_taken(tx: &mut Tx, tenant: TenantId, label: &str) -> Result<bool, sqlx::Error> {
    let labels: Vec<String> =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT label FROM services WHERE tenant_id = $1 AND archived = FALSE")
            .bind(tenant)
            .fetch_all(c)
            .await)?;
    let key = crate::domain::text::search_key(&[label]);
    Ok(labels.iter().any(|l| crate::domain::text::search_key(&[l]) == key))
}

/// Creates a service at the end of the list, with a code made from its name (suffixed when an
/// archived service already holds it).
pub async fn insert_service(tx: &mut Tx, tenant: TenantId, label: &str) -> Result<i64, sqlx::Error> {
    let base = rules::service_code(label);
    let taken: Vec<String> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT code FROM services WHERE tenant_id = $1 AND (code = $2 OR code LIKE $3)"
    )
    .bind(tenant)
    .bind(&base)
    .bind(format!("{base}_%"))
    .fetch_all(c)
    .await)?;
    let code = (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}_{n}") })
        .find(|c| !taken.contains(c))
        .expect("an unused suffix exists");
    let position: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), -1) + 1 FROM services WHERE tenant_id = $1"
    )
    .bind(tenant)
    .fetch_one(c)
    .await)?;
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO services (tenant_id, code, label, position) VALUES ($1, $2, $3, $4) RETURNING id"
    )
    .bind(tenant)
    .bind(&code)
    .bind(label)
    .bind(position)
    .fetch_one(c)
    .await)
}

/// Whether the service already expects an element of this name (folded).
pub async fn template_label_taken(
    tx: &mut Tx,
    tenant: TenantId,
    service: i64,
    label: &str,
) -> Result<bool, sqlx::Error> {
    let labels: Vec<String> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT label FROM requirement_templates WHERE tenant_id = $1 AND service_id = $2 AND archived = FALSE"
    )
    .bind(tenant)
    .bind(service)
    .fetch_all(c)
    .await)?;
    let key = crate::domain::text::search_key(&[label]);
    Ok(labels.iter().any(|l| crate::domain::text::search_key(&[l]) == key))
}

pub async fn insert_template(
    tx: &mut Tx,
    tenant: TenantId,
    service: i64,
    t: &TemplateInput,
) -> Result<i64, sqlx::Error> {
    let position: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), -1) + 1 FROM requirement_templates WHERE tenant_id = $1 AND service_id = $2"
    )
    .bind(tenant)
    .bind(service)
    .fetch_one(c)
    .await)?;
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO requirement_templates (tenant_id, service_id, label, kind, document_type, stage, hint, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
    )
    .bind(tenant)
    .bind(service)
    .bind(&t.label)
    .bind(&t.kind)
    .bind(&t.document_type)
    .bind(&t.stage)
    .bind(&t.hint)
    .bind(position)
    .fetch_one(c)
    .await)
}

/// Retires a service: sites that ordered it keep their requirements.
pub async fn archive_service(tx: &mut Tx, tenant: TenantId, id: i64) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE services SET archived = TRUE WHERE tenant_id = $1 AND id = $2 AND archived = FALSE"
    )
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await)
}

/// The template `id` of `service`, in use.
pub async fn template(
    tx: &mut Tx,
    tenant: TenantId,
    service: i64,
    id: i64,
) -> Result<Option<TemplateRow>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, service_id, label, kind, document_type, stage, hint FROM requirement_templates
         WHERE tenant_id = $1 AND service_id = $2 AND id = $3 AND archived = FALSE"
    )
    .bind(tenant)
    .bind(service)
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Retires a template: the requirements already copied to sites stay as they are.
pub async fn archive_template(tx: &mut Tx, tenant: TenantId, id: i64) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE requirement_templates SET archived = TRUE WHERE tenant_id = $1 AND id = $2 AND archived = FALSE"
    )
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await)
}

// ---------------------------------------------------------------------------------------------
// A site's services and requirements

/// The ids of the services a site has.
pub async fn site_service_ids(db: &Db, tenant: TenantId, site: SiteId) -> Result<Vec<i64>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar("SELECT service_id FROM site_services WHERE tenant_id = $1 AND site_id = $2")
        .bind(tenant)
        .bind(site)
        .fetch_all(p)
        .await)
}

pub async fn site_has_service(tx: &mut Tx, tenant: TenantId, site: SiteId, service: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM site_services WHERE tenant_id = $1 AND site_id = $2 AND service_id = $3"
    )
    .bind(tenant)
    .bind(site)
    .bind(service)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Orders `service` for `site`: copies its templates in use as the site's requirements, the
/// documents of those types already on the site counting as received. Returns how many
/// requirements were created.
pub async fn add_service_to_site(
    tx: &mut Tx,
    tenant: TenantId,
    site: &SiteRow,
    service: i64,
    by: UserId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let site_service: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO site_services (tenant_id, client_id, site_id, service_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    )
    .bind(tenant)
    .bind(site.client_id)
    .bind(site.id)
    .bind(service)
    .bind(by)
    .bind(now)
    .fetch_one(c)
    .await)?;
    let created = exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO site_requirements (tenant_id, client_id, site_id, site_service_id, template_id, label, kind,
                                        document_type, stage, hint, status, created_at, updated_at)
         SELECT t.tenant_id, $3, $4, $5, t.id, t.label, t.kind, t.document_type, t.stage, t.hint, 'missing', $6, $6
         FROM requirement_templates t
         WHERE t.tenant_id = $1 AND t.service_id = $2 AND t.archived = FALSE
         ORDER BY t.position, t.id"
    )
    .bind(tenant)
    .bind(service)
    .bind(site.client_id)
    .bind(site.id)
    .bind(site_service)
    .bind(now)
    .execute(c)
    .await)?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE site_requirements SET status = 'received', received_at = $4, updated_at = $4,
                document_id = (SELECT d.id FROM documents d
                               WHERE d.tenant_id = site_requirements.tenant_id AND d.site_id = site_requirements.site_id
                                 AND d.client_id = site_requirements.client_id
                                 AND d.document_type = site_requirements.document_type
                                 AND d.is_current = TRUE AND d.published_as = ''
                               ORDER BY d.created_at DESC, d.id DESC LIMIT 1)
         WHERE tenant_id = $1 AND site_id = $2 AND site_service_id = $3 AND kind = 'document'
           AND EXISTS (SELECT 1 FROM documents d
                       WHERE d.tenant_id = site_requirements.tenant_id AND d.site_id = site_requirements.site_id
                         AND d.client_id = site_requirements.client_id
                         AND d.document_type = site_requirements.document_type
                         AND d.is_current = TRUE AND d.published_as = '')"
    )
    .bind(tenant)
    .bind(site.id)
    .bind(site_service)
    .bind(now)
    .execute(c)
    .await)?;
    Ok(created)
}

/// A site's requirement as pages show it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RequirementRow {
    pub id: i64,
    pub site_service_id: Option<i64>,
    pub service_label: Option<String>,
    pub label: String,
    pub kind: String,
    pub document_type: String,
    pub stage: String,
    pub hint: String,
    pub status: String,
    pub document_id: Option<DocumentId>,
    pub document_title: Option<String>,
    pub data_value: String,
    pub refusal_reason: String,
    pub received_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub decider: Option<String>,
}

const REQUIREMENT_COLUMNS: &str =
    "r.id, r.site_service_id, sv.label AS service_label, r.label, r.kind, r.document_type,
        r.stage, r.hint, r.status, r.document_id, d.title AS document_title, r.data_value, r.refusal_reason,
        r.received_at, r.decided_at, u.full_name AS decider
     FROM site_requirements r
     LEFT JOIN site_services ss ON ss.id = r.site_service_id AND ss.tenant_id = r.tenant_id
     LEFT JOIN services sv ON sv.id = ss.service_id AND sv.tenant_id = r.tenant_id
     LEFT JOIN requirement_templates t ON t.id = r.template_id AND t.tenant_id = r.tenant_id
     LEFT JOIN documents d ON d.id = r.document_id AND d.tenant_id = r.tenant_id AND d.client_id = r.client_id
     LEFT JOIN users u ON u.id = r.decided_by AND u.tenant_id = r.tenant_id";

/// The site's requirements, by service (in the order they were added), then before/after, then
/// the template's order.
pub async fn site_requirements(db: &Db, tenant: TenantId, site: &SiteRow) -> Result<Vec<RequirementRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {REQUIREMENT_COLUMNS}
         WHERE r.tenant_id = $1 AND r.site_id = $2 AND r.client_id = $3
         ORDER BY COALESCE(ss.id, 0), CASE r.stage WHEN 'before' THEN 0 ELSE 1 END, COALESCE(t.position, 0), r.id"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant)
        .bind(site.id)
        .bind(site.client_id)
        .fetch_all(p)
        .await)
}

/// One requirement of the site (and of the site's client), or `None`.
pub async fn requirement(
    db: &Db,
    tenant: TenantId,
    site: &SiteRow,
    id: i64,
) -> Result<Option<RequirementRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {REQUIREMENT_COLUMNS} WHERE r.tenant_id = $1 AND r.site_id = $2 AND r.client_id = $3 AND r.id = $4"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant)
        .bind(site.id)
        .bind(site.client_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Validates a received requirement. 0 when it was not (or no longer) received.
pub async fn validate(
    tx: &mut Tx,
    tenant: TenantId,
    site: SiteId,
    id: i64,
    by: UserId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE site_requirements SET status = 'validated', refusal_reason = '', decided_by = $4, decided_at = $5,
                updated_at = $5
         WHERE tenant_id = $1 AND site_id = $2 AND id = $3 AND status = 'received'"
    )
    .bind(tenant)
    .bind(site)
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(c)
    .await)
}

/// Refuses what was received (or validated by mistake): the requirement waits for a new
/// document or a new value. 0 when there was nothing to refuse.
pub async fn refuse(
    tx: &mut Tx,
    tenant: TenantId,
    site: SiteId,
    id: i64,
    reason: &str,
    by: UserId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE site_requirements SET status = 'refused', refusal_reason = $4, decided_by = $5, decided_at = $6,
                updated_at = $6
         WHERE tenant_id = $1 AND site_id = $2 AND id = $3 AND status IN ('received', 'validated')"
    )
    .bind(tenant)
    .bind(site)
    .bind(id)
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(c)
    .await)
}

/// Records a piece of data: received, waiting for staff. 0 when the requirement is not a piece of
/// data or is already validated.
pub async fn set_data(
    tx: &mut Tx,
    tenant: TenantId,
    site: SiteId,
    id: i64,
    value: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE site_requirements SET status = 'received', data_value = $4, refusal_reason = '', received_at = $5,
                decided_by = NULL, decided_at = NULL, updated_at = $5
         WHERE tenant_id = $1 AND site_id = $2 AND id = $3 AND kind = 'data' AND status <> 'validated'"
    )
    .bind(tenant)
    .bind(site)
    .bind(id)
    .bind(value)
    .bind(now)
    .execute(c)
    .await)
}

/// A new document of `document_type` on `site`: the requirement the depositor named when it is
/// one of this site's (and client's) requirements of that type not yet validated; otherwise
/// every missing or refused requirement of the site with that type.
pub async fn fulfil(
    tx: &mut Tx,
    tenant: TenantId,
    site: &SiteRow,
    document_type: &str,
    document: DocumentId,
    requirement: Option<i64>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    const SET: &str = "UPDATE site_requirements SET status = 'received', document_id = $4, refusal_reason = '',
                received_at = $5, decided_by = NULL, decided_at = NULL, updated_at = $5
         WHERE tenant_id = $1 AND site_id = $2 AND client_id = $3 AND kind = 'document' AND document_type = $6";
    if let Some(id) = requirement {
        let sql = format!("{SET} AND id = $7 AND status IN ('missing', 'refused', 'received')");
        let done = exec_tx!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(tenant)
            .bind(site.id)
            .bind(site.client_id)
            .bind(document)
            .bind(now)
            .bind(document_type)
            .bind(id)
            .execute(c)
            .await)?;
        if done > 0 {
            return Ok(done);
        }
    }
    let sql = format!("{SET} AND status IN ('missing', 'refused')");
    exec_tx!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant)
        .bind(site.id)
        .bind(site.client_id)
        .bind(document)
        .bind(now)
        .bind(document_type)
        .execute(c)
        .await)
}

// ---------------------------------------------------------------------------------------------
// Counts and lists for dashboards

/// How far a site's requirements are. `complete` when it has some and every one is validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completeness {
    pub missing: i64,
    pub received: i64,
    pub validated: i64,
    pub refused: i64,
    pub complete: bool,
}

impl Completeness {
    pub fn total(&self) -> i64 {
        self.missing + self.received + self.validated + self.refused
    }

    pub fn from_counts(counts: &[(String, i64)]) -> Completeness {
        let mut c = Completeness::default();
        for (status, n) in counts {
            match status.as_str() {
                rules::MISSING => c.missing += n,
                rules::RECEIVED => c.received += n,
                rules::VALIDATED => c.validated += n,
                rules::REFUSED => c.refused += n,
                _ => {}
            }
        }
        c.complete = c.total() > 0 && c.validated == c.total();
        c
    }
}

pub async fn site_completeness(db: &Db, tenant: TenantId, site: SiteId) -> Result<Completeness, sqlx::Error> {
    let counts: Vec<(String, i64)> = on_db!(db, |p| sqlx::query_as(
        "SELECT status, COUNT(*) FROM site_requirements WHERE tenant_id = $1 AND site_id = $2 GROUP BY status"
    )
    .bind(tenant)
    .bind(site)
    .fetch_all(p)
    .await)?;
    Ok(Completeness::from_counts(&counts))
}

/// Requirements received and waiting for staff to validate or refuse them.
pub async fn to_validate_count(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM site_requirements WHERE tenant_id = $1 AND status = 'received'"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
}

/// The site statuses dashboards split by (see migration 0006), in their order.
pub const SITE_STATUSES: [&str; 4] = ["to_schedule", "scheduled", "done", "cancelled"];

/// For one client: how many of its current sites have at least one requirement not validated,
/// per site status (every status listed, 0 included).
pub async fn incomplete_sites_by_status(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = on_db!(db, |p| sqlx::query_as(
        "SELECT s.status, COUNT(DISTINCT s.id) FROM site_requirements r
         JOIN sites s ON s.id = r.site_id AND s.tenant_id = r.tenant_id AND s.client_id = r.client_id
         WHERE r.tenant_id = $1 AND r.client_id = $2 AND r.status IN ('missing', 'received', 'refused')
           AND s.archived = FALSE
         GROUP BY s.status"
    )
    .bind(tenant)
    .bind(client)
    .fetch_all(p)
    .await)?;
    let mut out: Vec<(String, i64)> = SITE_STATUSES
        .iter()
        .map(|s| (s.to_string(), rows.iter().find(|(st, _)| st == s).map(|(_, n)| *n).unwrap_or(0)))
        .collect();
    // A status this list does not know yet still counts.
    out.extend(rows.into_iter().filter(|(st, _)| !SITE_STATUSES.contains(&st.as_str())));
    Ok(out)
}

/// A received requirement waiting for staff.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueueRow {
    pub id: i64,
    pub site_id: SiteId,
    pub site_name: String,
    pub client_code: String,
    pub client_name: String,
    pub service_label: Option<String>,
    pub label: String,
    pub kind: String,
    pub stage: String,
    pub document_id: Option<DocumentId>,
    pub document_title: Option<String>,
    pub data_value: String,
    pub received_at: Option<i64>,
}

/// The oldest received requirements first.
pub async fn to_validate(db: &Db, tenant: TenantId, limit: i64) -> Result<Vec<QueueRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT r.id, r.site_id, s.name AS site_name, c.code AS client_code, c.name AS client_name,
                sv.label AS service_label, r.label, r.kind, r.stage, r.document_id, d.title AS document_title,
                r.data_value, r.received_at
         FROM site_requirements r
         JOIN sites s ON s.id = r.site_id AND s.tenant_id = r.tenant_id
         JOIN clients c ON c.id = r.client_id AND c.tenant_id = r.tenant_id
         LEFT JOIN site_services ss ON ss.id = r.site_service_id AND ss.tenant_id = r.tenant_id
         LEFT JOIN services sv ON sv.id = ss.service_id AND sv.tenant_id = r.tenant_id
         LEFT JOIN documents d ON d.id = r.document_id AND d.tenant_id = r.tenant_id
         WHERE r.tenant_id = $1 AND r.status = 'received'
         ORDER BY COALESCE(r.received_at, r.updated_at), r.id
         LIMIT $2"
    )
    .bind(tenant)
    .bind(limit)
    .fetch_all(p)
    .await)
}
