//! Every query of intervention requests and interventions. Reads take the firm and, for
//! extranet users, their client ([`Scope`]), so an id outside the scope is simply not found.
//! Answers are conditional updates on the current status: of two staff acting at once, one wins
//! and the other is told.

use crate::db::{Db, Engine, Tx};
use crate::domain::{ClientId, SiteId, TenantId, UserId};
use crate::features::sites::Scope;
use crate::{exec_tx, on_db, on_tx};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Choice {
    pub id: i64,
    pub label: String,
}

/// The firm's current services, in its order, for the request form.
pub async fn services(db: &Db, tenant: TenantId) -> Result<Vec<Choice>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, label FROM services WHERE tenant_id = $1 AND archived = FALSE ORDER BY position, id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

/// A member of the firm's staff who may be sent on an intervention.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct StaffRow {
    pub id: UserId,
    pub full_name: String,
    pub role: String,
}

/// The firm's active staff, technicians first.
pub async fn field_staff(db: &Db, tenant: TenantId) -> Result<Vec<StaffRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, full_name, role FROM users
         WHERE tenant_id = $1 AND client_id IS NULL AND active
           AND role IN ('technician', 'office', 'admin')
         ORDER BY CASE role WHEN 'technician' THEN 0 ELSE 1 END, full_name, id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

// ---------------------------------------------------------------------------------------------
// Requests

pub struct NewRequest<'a> {
    pub tenant: TenantId,
    pub client: ClientId,
    pub site: SiteId,
    pub service: i64,
    pub days: &'a [String],
    pub comment: &'a str,
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub thread: i64,
    pub by: UserId,
    pub now: i64,
}

pub async fn insert_request(tx: &mut Tx, r: &NewRequest<'_>) -> Result<i64, sqlx::Error> {
    let day = |i: usize| r.days.get(i).cloned();
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO intervention_requests (tenant_id, client_id, site_id, service_id, preferred_day_1,
             preferred_day_2, preferred_day_3, comment, contact_name, contact_phone, thread_id, status, created_by,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13, $13) RETURNING id"
    )
    .bind(r.tenant)
    .bind(r.client)
    .bind(r.site)
    .bind(r.service)
    .bind(day(0).unwrap_or_default())
    .bind(day(1))
    .bind(day(2))
    .bind(r.comment)
    .bind(r.contact_name)
    .bind(r.contact_phone)
    .bind(r.thread)
    .bind(r.by)
    .bind(r.now)
    .fetch_one(c)
    .await)
}

/// A request with what it refers to and, once planned, its intervention.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RequestRow {
    pub id: i64,
    pub client_id: ClientId,
    pub client_code: String,
    pub client_name: String,
    pub site_id: SiteId,
    pub site_name: String,
    pub service_id: i64,
    pub service_label: String,
    pub preferred_day_1: String,
    pub preferred_day_2: Option<String>,
    pub preferred_day_3: Option<String>,
    pub comment: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub thread_id: i64,
    pub status: String,
    pub proposed_day: Option<String>,
    pub proposed_start: Option<String>,
    pub proposed_end: Option<String>,
    pub refusal_reason: String,
    pub intervention_id: Option<i64>,
    pub created_by_name: Option<String>,
    pub answered_by_name: Option<String>,
    pub answered_at: Option<i64>,
    pub created_at: i64,
    pub intervention_day: Option<String>,
    pub intervention_start: Option<String>,
    pub intervention_end: Option<String>,
    pub intervention_status: Option<String>,
    pub technician_name: Option<String>,
}

impl RequestRow {
    pub fn preferred_days(&self) -> Vec<&str> {
        std::iter::once(self.preferred_day_1.as_str())
            .chain(self.preferred_day_2.as_deref())
            .chain(self.preferred_day_3.as_deref())
            .filter(|d| !d.is_empty())
            .collect()
    }
}

const REQUEST_SELECT: &str = "SELECT r.id, r.client_id, cl.code AS client_code, cl.name AS client_name, r.site_id,
        s.name AS site_name, r.service_id, sv.label AS service_label, r.preferred_day_1, r.preferred_day_2,
        r.preferred_day_3, r.comment, r.contact_name, r.contact_phone, r.thread_id, r.status, r.proposed_day,
        r.proposed_start, r.proposed_end, r.refusal_reason, r.intervention_id, cu.full_name AS created_by_name,
        au.full_name AS answered_by_name, r.answered_at, r.created_at, i.day AS intervention_day,
        i.window_start AS intervention_start, i.window_end AS intervention_end, i.status AS intervention_status,
        tu.full_name AS technician_name
 FROM intervention_requests r
 JOIN clients cl ON cl.id = r.client_id AND cl.tenant_id = r.tenant_id
 JOIN sites s ON s.id = r.site_id AND s.tenant_id = r.tenant_id
 JOIN services sv ON sv.id = r.service_id AND sv.tenant_id = r.tenant_id
 LEFT JOIN users cu ON cu.id = r.created_by AND cu.tenant_id = r.tenant_id
 LEFT JOIN users au ON au.id = r.answered_by AND au.tenant_id = r.tenant_id
 LEFT JOIN interventions i ON i.id = r.intervention_id AND i.tenant_id = r.tenant_id
 LEFT JOIN users tu ON tu.id = i.technician_id AND tu.tenant_id = r.tenant_id";

/// Pending first, then proposals awaiting the client, then the rest; newest first in each.
const REQUEST_ORDER: &str =
    "CASE r.status WHEN 'pending' THEN 0 WHEN 'proposed' THEN 1 ELSE 2 END, r.created_at DESC, r.id DESC";

/// How many requests a list shows at most.
pub const LIST_LIMIT: i64 = 200;

/// One request within the scope.
pub async fn request(db: &Db, scope: Scope, id: i64) -> Result<Option<RequestRow>, sqlx::Error> {
    let sql = format!("{REQUEST_SELECT} WHERE r.id = $1 AND r.tenant_id = $2 AND ($3 IS NULL OR r.client_id = $3)");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .bind(scope.tenant)
        .bind(scope.client)
        .fetch_optional(p)
        .await)
}

/// The filters of the back office's list (empty for any).
#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    pub status: String,
    pub client: Option<ClientId>,
    pub site: Option<i64>,
}

/// The requests of the scope (one client's for extranet users), pending first.
pub async fn requests(db: &Db, scope: Scope, f: &RequestFilter) -> Result<Vec<RequestRow>, sqlx::Error> {
    let sql = format!(
        "{REQUEST_SELECT}
         WHERE r.tenant_id = $1 AND ($2 IS NULL OR r.client_id = $2) AND ($3 = '' OR r.status = $3)
           AND ($4 IS NULL OR r.client_id = $4) AND ($5 IS NULL OR r.site_id = $5)
         ORDER BY {REQUEST_ORDER} LIMIT {LIST_LIMIT}"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.tenant)
        .bind(scope.client)
        .bind(&f.status)
        .bind(f.client)
        .bind(f.site)
        .fetch_all(p)
        .await)
}

/// How many requests await the firm's answer.
pub async fn pending_count(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM intervention_requests WHERE tenant_id = $1 AND status = 'pending'"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
}

/// Records the intervention planned for an accepted request.
pub async fn link_intervention(tx: &mut Tx, tenant: TenantId, id: i64, intervention: i64) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE intervention_requests SET intervention_id = $1 WHERE id = $2 AND tenant_id = $3"
    )
    .bind(intervention)
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)?;
    Ok(())
}

/// The request a thread was opened by, if any: `(id, status)`.
pub async fn request_of_thread(db: &Db, tenant: TenantId, thread: i64) -> Result<Option<(i64, String)>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, status FROM intervention_requests WHERE tenant_id = $1 AND thread_id = $2 ORDER BY id LIMIT 1"
    )
    .bind(tenant)
    .bind(thread)
    .fetch_optional(p)
    .await)
}

/// How a request is answered.
pub enum Answer<'a> {
    /// Planned: [`link_intervention`] follows once the intervention exists.
    Accepted,
    Proposed {
        day: &'a str,
        start: &'a str,
        end: &'a str,
    },
    Refused {
        reason: &'a str,
    },
}

/// Records the answer if the request still awaits one; 0 rows when someone answered first.
pub async fn answer(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    a: &Answer<'_>,
    by: UserId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    // $1 status, $2..$4 proposed slot, $5 reason, $6 by, $7 now, $8 id, $9 tenant.
    let (status, slot, reason) = match a {
        Answer::Accepted => ("accepted", (None, None, None), ""),
        Answer::Proposed { day, start, end } => ("proposed", (Some(*day), Some(*start), Some(*end)), ""),
        Answer::Refused { reason } => ("refused", (None, None, None), *reason),
    };
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE intervention_requests
         SET status = $1, proposed_day = COALESCE($2, proposed_day), proposed_start = COALESCE($3, proposed_start),
             proposed_end = COALESCE($4, proposed_end), refusal_reason = $5, answered_by = $6, answered_at = $7,
             updated_at = $7
         WHERE id = $8 AND tenant_id = $9 AND status IN ('pending', 'proposed')"
    )
    .bind(status)
    .bind(slot.0)
    .bind(slot.1)
    .bind(slot.2)
    .bind(reason)
    .bind(by)
    .bind(now)
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)
}

// ---------------------------------------------------------------------------------------------
// Interventions

pub struct NewIntervention<'a> {
    pub tenant: TenantId,
    pub client: ClientId,
    pub site: SiteId,
    pub service: Option<i64>,
    pub request: Option<i64>,
    pub day: &'a str,
    pub start: &'a str,
    pub end: &'a str,
    pub technician: UserId,
    pub by: Option<UserId>,
    pub now: i64,
}

pub async fn insert_intervention(tx: &mut Tx, n: &NewIntervention<'_>) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO interventions (tenant_id, client_id, site_id, service_id, request_id, status, day, window_start,
             window_end, technician_id, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7, $8, $9, $10, $11, $11) RETURNING id"
    )
    .bind(n.tenant)
    .bind(n.client)
    .bind(n.site)
    .bind(n.service)
    .bind(n.request)
    .bind(n.day)
    .bind(n.start)
    .bind(n.end)
    .bind(n.technician)
    .bind(n.by)
    .bind(n.now)
    .fetch_one(c)
    .await)
}

/// Serialises the scheduling of one technician, so that two staff planning them at once see each
/// other's interventions when checking overlaps. SQLite transactions are already serialised
/// (`BEGIN IMMEDIATE`); PostgreSQL locks the technician's row.
pub async fn lock_technician(tx: &mut Tx, tenant: TenantId, technician: UserId) -> Result<(), sqlx::Error> {
    if tx.engine() == Engine::Postgres {
        exec_tx!(tx, |c| sqlx::query("SELECT id FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind(technician)
            .bind(tenant)
            .execute(c)
            .await)?;
    }
    Ok(())
}

/// A technician's planned windows on a day: `(intervention id, site name, start, end)`.
pub async fn technician_day(
    tx: &mut Tx,
    tenant: TenantId,
    technician: UserId,
    day: &str,
) -> Result<Vec<(i64, String, String, String)>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as(
        "SELECT i.id, s.name, i.window_start, i.window_end FROM interventions i
         JOIN sites s ON s.id = i.site_id AND s.tenant_id = i.tenant_id
         WHERE i.tenant_id = $1 AND i.technician_id = $2 AND i.day = $3 AND i.status = 'planned'
         ORDER BY i.window_start"
    )
    .bind(tenant)
    .bind(technician)
    .bind(day)
    .fetch_all(c)
    .await)
}

/// Whether `user` is an active member of the firm's staff.
pub async fn is_field_staff(tx: &mut Tx, tenant: TenantId, user: i64) -> Result<Option<String>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT full_name FROM users WHERE id = $1 AND tenant_id = $2 AND client_id IS NULL AND active
           AND role IN ('technician', 'office', 'admin')"
    )
    .bind(user)
    .bind(tenant)
    .fetch_optional(c)
    .await)
}

/// An intervention with its site, client, service and technician named.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct InterventionRow {
    pub id: i64,
    pub client_id: ClientId,
    pub client_code: String,
    pub client_name: String,
    pub site_id: SiteId,
    pub site_name: String,
    pub site_city: String,
    pub service_label: Option<String>,
    pub request_id: Option<i64>,
    pub status: String,
    pub day: String,
    pub window_start: String,
    pub window_end: String,
    pub technician_id: Option<UserId>,
    pub technician_name: Option<String>,
    pub attempt: i64,
}

const INTERVENTION_SELECT: &str = "SELECT i.id, i.client_id, cl.code AS client_code, cl.name AS client_name,
        i.site_id, s.name AS site_name, s.city AS site_city, sv.label AS service_label, i.request_id, i.status,
        i.day, i.window_start, i.window_end, i.technician_id, tu.full_name AS technician_name, i.attempt
 FROM interventions i
 JOIN clients cl ON cl.id = i.client_id AND cl.tenant_id = i.tenant_id
 JOIN sites s ON s.id = i.site_id AND s.tenant_id = i.tenant_id
 LEFT JOIN services sv ON sv.id = i.service_id AND sv.tenant_id = i.tenant_id
 LEFT JOIN users tu ON tu.id = i.technician_id AND tu.tenant_id = i.tenant_id";

/// The interventions of days `from..=to` (`YYYY-MM-DD`), optionally one technician's, by day,
/// technician and window.
pub async fn planning(
    db: &Db,
    tenant: TenantId,
    from: &str,
    to: &str,
    technician: Option<UserId>,
) -> Result<Vec<InterventionRow>, sqlx::Error> {
    // Two shapes rather than a `($4 IS NULL OR …)` guard, so each uses its index.
    let (filter, order) = match technician {
        Some(_) => ("AND i.technician_id = $4", "i.day, i.window_start, i.id"),
        None => ("", "i.day, tu.full_name, i.technician_id, i.window_start, i.id"),
    };
    let sql = format!(
        "{INTERVENTION_SELECT}
         WHERE i.tenant_id = $1 AND i.day >= $2 AND i.day <= $3 {filter}
         ORDER BY {order} LIMIT 2000"
    );
    on_db!(db, |p| {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(tenant).bind(from).bind(to);
        let q = match technician {
            Some(t) => q.bind(t),
            None => q,
        };
        q.fetch_all(p).await
    })
}

/// A site's interventions within the scope, latest day first.
pub async fn site_interventions(db: &Db, scope: Scope, site: SiteId) -> Result<Vec<InterventionRow>, sqlx::Error> {
    let sql = format!(
        "{INTERVENTION_SELECT}
         WHERE i.tenant_id = $1 AND i.site_id = $2 AND ($3 IS NULL OR i.client_id = $3)
         ORDER BY i.day DESC, i.window_start DESC, i.id DESC LIMIT 100"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.tenant)
        .bind(site)
        .bind(scope.client)
        .fetch_all(p)
        .await)
}

pub async fn intervention(db: &Db, tenant: TenantId, id: i64) -> Result<Option<InterventionRow>, sqlx::Error> {
    let sql = format!("{INTERVENTION_SELECT} WHERE i.id = $1 AND i.tenant_id = $2");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).bind(tenant).fetch_optional(p).await)
}

/// Marks a planned intervention done or cancelled; 0 rows when it no longer is planned.
pub async fn close(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    status: &str,
    by: UserId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE interventions SET status = $1, closed_by = $2, closed_at = $3, updated_at = $3
         WHERE id = $4 AND tenant_id = $5 AND status = 'planned'"
    )
    .bind(status)
    .bind(by)
    .bind(now)
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)
}

/// The earliest planned day left on a site.
pub async fn next_planned_day(tx: &mut Tx, tenant: TenantId, site: SiteId) -> Result<Option<String>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT MIN(day) FROM interventions WHERE tenant_id = $1 AND site_id = $2 AND status = 'planned'"
    )
    .bind(tenant)
    .bind(site)
    .fetch_one(c)
    .await)
}

// ---------------------------------------------------------------------------------------------
// The site's dates follow its interventions, so that Mes chantiers' intervention-date filter
// (on the expected and actual dates) finds what is planned.

/// Planned: status scheduled, expected on `day`.
pub async fn site_scheduled(
    tx: &mut Tx,
    tenant: TenantId,
    site: SiteId,
    day: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE sites SET status = 'scheduled', expected_date = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4"
    )
    .bind(day)
    .bind(now)
    .bind(site)
    .bind(tenant)
    .execute(c)
    .await)?;
    Ok(())
}

/// Done: status done, done on `day`.
pub async fn site_done(tx: &mut Tx, tenant: TenantId, site: SiteId, day: &str, now: i64) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE sites SET status = 'done', actual_date = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4"
    )
    .bind(day)
    .bind(now)
    .bind(site)
    .bind(tenant)
    .execute(c)
    .await)?;
    Ok(())
}

/// The intervention of `day` was cancelled and none is planned any more: a site still shown
/// as scheduled on that day goes back to "to schedule", without that date.
pub async fn site_unscheduled(
    tx: &mut Tx,
    tenant: TenantId,
    site: SiteId,
    day: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE sites SET status = 'to_schedule', expected_date = NULL, updated_at = $1
         WHERE id = $2 AND tenant_id = $3 AND status = 'scheduled' AND expected_date = $4"
    )
    .bind(now)
    .bind(site)
    .bind(tenant)
    .bind(day)
    .execute(c)
    .await)?;
    Ok(())
}
