//! The SQL of sites. Every query takes a [`Scope`]: the actor's firm always, and their client
//! for extranet users, so an id outside the scope is simply not found.
//!
//! [`search`] is the one search of sites (Mes chantiers, the back-office list, a residence's
//! dwellings, the Excel export through [`export`]; later the API): its SQL is assembled from the
//! criteria that are set, so each query uses the index of its criteria (a client's postcode
//! range, a date range…) instead of `($n IS NULL OR …)` guards that no planner can index.

use crate::db::conditions::{Arg, Conditions, bind_all};
use crate::db::{Db, Tx};
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, SiteId, TenantId, UserId};
use crate::http::Actor;
use crate::{exec_tx, on_db, on_tx};

use super::duplicates::{address_key, owner_key, permit_key};
use super::model::{SiteData, SiteKind};

/// Whose sites a query may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub tenant: TenantId,
    /// `Some` for extranet users: only that client's sites.
    pub client: Option<ClientId>,
}

impl Scope {
    pub fn of(actor: &Actor) -> Scope {
        Scope { tenant: actor.tenant_id, client: actor.client_scope() }
    }
}

/// The sort orders of the site lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SiteSort {
    #[default]
    Name,
    Postcode,
    City,
    Manager,
    /// The intervention date: the actual one when known, else the expected one.
    Date,
    Phase,
    Status,
}

impl SiteSort {
    pub const ALL: [SiteSort; 7] = [
        SiteSort::Name,
        SiteSort::Postcode,
        SiteSort::City,
        SiteSort::Manager,
        SiteSort::Date,
        SiteSort::Phase,
        SiteSort::Status,
    ];

    /// The value of `tri=` in URLs.
    pub fn code(self) -> &'static str {
        match self {
            SiteSort::Name => "nom",
            SiteSort::Postcode => "cp",
            SiteSort::City => "ville",
            SiteSort::Manager => "conducteur",
            SiteSort::Date => "date",
            SiteSort::Phase => "phase",
            SiteSort::Status => "statut",
        }
    }

    pub fn parse(s: &str) -> Option<SiteSort> {
        SiteSort::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// Search criteria, already validated (see `search::ListQuery::filter`). Empty strings and
/// `None` mean "any".
#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    /// Folded words (`domain::text::search_key`), each to be found in the site's search key.
    pub words: Vec<String>,
    /// 1 to 5 digits: postcodes starting with them.
    pub postcode_prefix: String,
    /// Folded text to be found in the city.
    pub city: String,
    /// Staff only: one client (for a client user, the scope already fixes it).
    pub client: Option<ClientId>,
    pub manager: Option<ContactId>,
    /// Dwellings of this residence.
    pub residence: Option<SiteId>,
    /// `YYYY-MM-DD` bounds (inclusive) on the expected or the actual intervention date.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Codes of `SiteKind`, `Phase`, `SiteStatus`.
    pub kind: Option<&'static str>,
    pub phase: Option<&'static str>,
    pub status: Option<&'static str>,
    /// Archived sites instead of current ones.
    pub archived: bool,
    /// Only sites whose client still has expected documents or data to send.
    pub incomplete: bool,
    pub sort: SiteSort,
    pub desc: bool,
}

/// One row of a site list, with the client and the site manager's name joined.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct SiteListRow {
    pub id: SiteId,
    pub client_id: ClientId,
    /// Empty for client-scoped searches (the user knows their company).
    pub client_code: String,
    pub client_name: String,
    pub kind: String,
    pub parent_id: Option<SiteId>,
    pub name: String,
    pub street_number: String,
    pub street: String,
    pub postcode: String,
    pub city_code: String,
    pub city: String,
    pub operation_type: String,
    pub phase: String,
    pub status: String,
    pub expected_date: Option<String>,
    pub actual_date: Option<String>,
    pub permit_number: String,
    pub owner_name: String,
    pub dwellings: Option<i64>,
    pub archived: bool,
    pub manager_id: Option<ContactId>,
    pub manager_first_name: Option<String>,
    pub manager_last_name: Option<String>,
}

impl SiteListRow {
    /// `Julien Lefèvre`, or empty without a site manager.
    pub fn manager_name(&self) -> String {
        let first = self.manager_first_name.as_deref().unwrap_or_default();
        let last = self.manager_last_name.as_deref().unwrap_or_default();
        format!("{first} {last}").trim().to_string()
    }
}

/// The conditions of a search, `s` being the sites table.
fn conditions(scope: Scope, f: &SiteFilter) -> Conditions {
    let mut c = Conditions::default();
    let t = c.bind(Arg::Int(scope.tenant.0));
    c.push(format!("s.tenant_id = {t}"));
    // The actor's client scope first; a staff filter on a client is the same condition.
    if let Some(client) = scope.client.or(f.client) {
        let p = c.bind(Arg::Int(client.0));
        c.push(format!("s.client_id = {p}"));
        if let (Some(scoped), Some(asked)) = (scope.client, f.client)
            && scoped != asked
        {
            // A client user asking for another client's sites: nothing.
            c.push("1 = 0");
        }
    }
    let a = c.bind(Arg::Bool(f.archived));
    c.push(format!("s.archived = {a}"));
    if !f.postcode_prefix.is_empty() {
        // A prefix of digits as a range of 5-digit codes: "44" → 44000..44999, which every
        // engine answers from the (…, postcode) index whatever the collation.
        let low = format!("{:0<5}", f.postcode_prefix);
        let high = format!("{:9<5}", f.postcode_prefix);
        let (l, h) = (c.bind(Arg::Text(low)), c.bind(Arg::Text(high)));
        c.push(format!("s.postcode >= {l} AND s.postcode <= {h}"));
    }
    for w in &f.words {
        let p = c.bind(Arg::Text(format!("%{w}%")));
        c.push(format!("s.search_key LIKE {p}"));
    }
    if !f.city.is_empty() {
        let p = c.bind(Arg::Text(format!("%{}%", f.city)));
        c.push(format!("s.city_key LIKE {p}"));
    }
    if let Some(m) = f.manager {
        let p = c.bind(Arg::Int(m.0));
        c.push(format!("s.site_manager_contact_id = {p}"));
    }
    if let Some(r) = f.residence {
        let p = c.bind(Arg::Int(r.0));
        c.push(format!("s.parent_id = {p}"));
    }
    if f.from.is_some() || f.to.is_some() {
        let from = f.from.clone().map(|d| c.bind(Arg::Text(d)));
        let to = f.to.clone().map(|d| c.bind(Arg::Text(d)));
        let range = |col: &str| {
            let mut parts = Vec::new();
            if let Some(p) = &from {
                parts.push(format!("{col} >= {p}"));
            }
            if let Some(p) = &to {
                parts.push(format!("{col} <= {p}"));
            }
            format!("({})", parts.join(" AND "))
        };
        c.push(format!("({} OR {})", range("s.expected_date"), range("s.actual_date")));
    }
    for (col, v) in [("s.kind", f.kind), ("s.phase", f.phase), ("s.status", f.status)] {
        if let Some(v) = v {
            let p = c.bind(Arg::Text(v.to_string()));
            c.push(format!("{col} = {p}"));
        }
    }
    if f.incomplete {
        // Kept by triggers on site_requirements (migration 0009).
        c.push("s.requirements_missing > 0");
    }
    c
}

fn order_by(f: &SiteFilter) -> String {
    let dir = if f.desc { "DESC" } else { "ASC" };
    let key = match f.sort {
        SiteSort::Name => format!("s.name_key {dir}"),
        SiteSort::Postcode => format!("s.postcode {dir}, s.name_key {dir}"),
        SiteSort::City => format!("s.city_key {dir}, s.name_key {dir}"),
        // Sites without a manager or a date come last in both directions.
        SiteSort::Manager => {
            format!("(ct.id IS NULL), LOWER(ct.last_name) {dir}, LOWER(ct.first_name) {dir}, s.name_key {dir}")
        }
        SiteSort::Date => format!(
            "(COALESCE(s.actual_date, s.expected_date) IS NULL), COALESCE(s.actual_date, s.expected_date) {dir}, \
             s.name_key {dir}"
        ),
        SiteSort::Phase => {
            format!("CASE s.phase WHEN 'works' THEN 1 WHEN 'handover' THEN 2 ELSE 3 END {dir}, s.name_key {dir}")
        }
        SiteSort::Status => format!(
            "CASE s.status WHEN 'to_schedule' THEN 1 WHEN 'scheduled' THEN 2 WHEN 'done' THEN 3 ELSE 4 END {dir}, \
             s.name_key {dir}"
        ),
    };
    format!("{key}, s.id {dir}")
}

/// The sites matching `f` within `scope`, sorted, one page of them when `page` is
/// `Some((per_page, offset))` (all otherwise), and how many match in all.
pub async fn search(
    db: &Db,
    scope: Scope,
    f: &SiteFilter,
    page: Option<(i64, i64)>,
) -> Result<(Vec<SiteListRow>, i64), sqlx::Error> {
    let mut c = conditions(scope, f);
    let count_sql = format!("SELECT COUNT(*) FROM sites s WHERE {}", c.where_clause());
    let total: i64 = on_db!(db, |p| bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &c.args)
        .fetch_one(p)
        .await)?;
    if total == 0 {
        return Ok((Vec::new(), 0));
    }
    let (per_page, offset) = page.unwrap_or((i64::MAX / 4, 0));
    let (l, o) = (c.bind(Arg::Int(per_page)), c.bind(Arg::Int(offset)));
    let sql = if f.sort == SiteSort::Manager {
        // The manager's name is in the joined contact: sorted with the whole rows.
        format!("{} LIMIT {l} OFFSET {o}", list_select(scope, &c, f))
    } else {
        // The page's ids first, sorted from an index where one serves (postcode, then name),
        // then only those rows read and joined: a page of a large company's list otherwise
        // reads and sorts every matching row whole.
        let (columns, joins) = list_parts(scope);
        format!(
            "SELECT {columns}
             FROM (SELECT s.id FROM sites s WHERE {} ORDER BY {order} LIMIT {l} OFFSET {o}) page
             JOIN sites s ON s.id = page.id {joins}
             ORDER BY {order}",
            c.where_clause(),
            order = order_by(f),
        )
    };
    let rows = on_db!(db, |p| bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), &c.args).fetch_all(p).await)?;
    Ok((rows, total))
}

/// The columns of a [`SiteListRow`] and the joins they need, `s` being the site.
fn list_parts(scope: Scope) -> (String, &'static str) {
    // The client's code and name are only needed when the list spans clients.
    let (client_cols, joins) = if scope.client.is_none() {
        (
            "cl.code AS client_code, cl.name AS client_name",
            "JOIN clients cl ON cl.id = s.client_id AND cl.tenant_id = s.tenant_id
             LEFT JOIN contacts ct ON ct.id = s.site_manager_contact_id AND ct.tenant_id = s.tenant_id",
        )
    } else {
        (
            "'' AS client_code, '' AS client_name",
            "LEFT JOIN contacts ct ON ct.id = s.site_manager_contact_id AND ct.tenant_id = s.tenant_id",
        )
    };
    let columns = format!(
        "s.id, s.client_id, {client_cols}, s.kind, s.parent_id, s.name, s.street_number, s.street, s.postcode,
                s.city_code, s.city, s.operation_type, s.phase, s.status, s.expected_date, s.actual_date,
                s.permit_number, s.owner_name, s.dwellings, s.archived,
                ct.id AS manager_id, ct.first_name AS manager_first_name, ct.last_name AS manager_last_name"
    );
    (columns, joins)
}

/// The sorted `SELECT` of [`SiteListRow`]s under the conditions `c`.
fn list_select(scope: Scope, c: &Conditions, f: &SiteFilter) -> String {
    let (columns, joins) = list_parts(scope);
    format!("SELECT {columns} FROM sites s {joins} WHERE {} ORDER BY {}", c.where_clause(), order_by(f))
}

/// The conditions of [`search`], narrowed to `ids` when given (the ticked rows of a list).
fn export_conditions(scope: Scope, f: &SiteFilter, ids: Option<&[SiteId]>) -> Conditions {
    let mut c = conditions(scope, f);
    if let Some(ids) = ids {
        let params: Vec<String> = ids.iter().map(|id| c.bind(Arg::Int(id.0))).collect();
        c.push(if params.is_empty() { "1 = 0".into() } else { format!("s.id IN ({})", params.join(", ")) });
    }
    c
}

/// How many sites [`export`] would send.
pub async fn export_count(db: &Db, scope: Scope, f: &SiteFilter, ids: Option<&[SiteId]>) -> Result<i64, sqlx::Error> {
    let c = export_conditions(scope, f, ids);
    let sql = format!("SELECT COUNT(*) FROM sites s WHERE {}", c.where_clause());
    on_db!(db, |p| bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())), &c.args).fetch_one(p).await)
}

/// The sites of [`search`] (only those of `ids` among them when given), in the list's order,
/// sent down `out` in chunks of `chunk` rows as the database yields them: one query read as a
/// stream, so memory stays bounded whatever the number of rows. Stops early when `out` is
/// closed. Returns how many rows were sent.
pub async fn export(
    db: &Db,
    scope: Scope,
    f: &SiteFilter,
    ids: Option<&[SiteId]>,
    chunk: usize,
    out: &tokio::sync::mpsc::Sender<Vec<SiteListRow>>,
) -> Result<u64, sqlx::Error> {
    use futures::TryStreamExt;
    use std::collections::HashMap;
    let c = export_conditions(scope, f, ids);
    // The rows' client and site manager are named from two small maps read first rather than
    // joined on each of (up to a million) rows: the per-row cost of the driver dominates an
    // export, and four strings fewer a row is a quarter of it. Sorting by manager needs the join.
    let joined = f.sort == SiteSort::Manager;
    let sql = if joined {
        list_select(scope, &c, f)
    } else {
        format!(
            "SELECT s.id, s.client_id, '' AS client_code, '' AS client_name, s.kind, s.parent_id, s.name,
                    s.street_number, s.street, s.postcode, s.city_code, s.city, s.operation_type, s.phase, s.status,
                    s.expected_date, s.actual_date, s.permit_number, s.owner_name, s.dwellings, s.archived,
                    s.site_manager_contact_id AS manager_id, NULL AS manager_first_name, NULL AS manager_last_name
             FROM sites s WHERE {} ORDER BY {}",
            c.where_clause(),
            order_by(f)
        )
    };
    // id → (code, name) of clients; id → (first name, last name) of contacts.
    type Names = HashMap<i64, (String, String)>;
    let (clients, managers): (Names, Names) = if joined {
        (HashMap::new(), HashMap::new())
    } else {
        let clients: Vec<(i64, String, String)> = if scope.client.is_none() {
            on_db!(db, |p| sqlx::query_as("SELECT id, code, name FROM clients WHERE tenant_id = $1")
                .bind(scope.tenant)
                .fetch_all(p)
                .await)?
        } else {
            Vec::new()
        };
        let contacts: Vec<(i64, String, String)> = on_db!(db, |p| sqlx::query_as(
            "SELECT id, first_name, last_name FROM contacts WHERE tenant_id = $1 AND ($2 IS NULL OR client_id = $2)"
        )
        .bind(scope.tenant)
        .bind(scope.client)
        .fetch_all(p)
        .await)?;
        (
            clients.into_iter().map(|(id, a, b)| (id, (a, b))).collect(),
            contacts.into_iter().map(|(id, a, b)| (id, (a, b))).collect(),
        )
    };
    let name = |mut row: SiteListRow| {
        if !joined {
            if let Some((code, name)) = clients.get(&row.client_id.0) {
                row.client_code = code.clone();
                row.client_name = name.clone();
            }
            match row.manager_id.and_then(|m| managers.get(&m.0)) {
                Some((first, last)) => {
                    row.manager_first_name = Some(first.clone());
                    row.manager_last_name = Some(last.clone());
                }
                // A manager outside the scope (never expected) is not shown.
                None => row.manager_id = None,
            }
        }
        row
    };
    let chunk = chunk.max(1);
    on_db!(db, |p| {
        let mut rows = bind_all!(sqlx::query_as::<_, SiteListRow>(sqlx::AssertSqlSafe(sql.clone())), &c.args).fetch(p);
        let mut sent = 0u64;
        let mut batch = Vec::with_capacity(chunk);
        while let Some(row) = rows.try_next().await? {
            batch.push(name(row));
            if batch.len() == chunk {
                sent += batch.len() as u64;
                if out.send(std::mem::replace(&mut batch, Vec::with_capacity(chunk))).await.is_err() {
                    return Ok(sent);
                }
            }
        }
        if !batch.is_empty() {
            sent += batch.len() as u64;
            let _ = out.send(batch).await;
        }
        Ok(sent)
    })
}

/// Everything about one site, for its page and its edit form.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct SiteRow {
    pub id: SiteId,
    pub client_id: ClientId,
    pub client_code: String,
    pub client_name: String,
    pub kind: String,
    pub parent_id: Option<SiteId>,
    pub parent_name: Option<String>,
    pub name: String,
    pub street_number: String,
    pub street: String,
    pub postcode: String,
    pub city_code: String,
    pub city: String,
    pub site_manager_contact_id: Option<ContactId>,
    pub manager_civility: Option<String>,
    pub manager_first_name: Option<String>,
    pub manager_last_name: Option<String>,
    pub manager_job_title: Option<String>,
    pub manager_email: Option<String>,
    pub manager_phone: Option<String>,
    pub manager_mobile: Option<String>,
    pub operation_type: String,
    pub phase: String,
    pub status: String,
    pub expected_date: Option<String>,
    pub actual_date: Option<String>,
    pub permit_number: String,
    pub owner_name: String,
    pub dwellings: Option<i64>,
    pub notes: String,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The site `id` if it lies within `scope`.
pub async fn site(db: &Db, scope: Scope, id: i64) -> Result<Option<SiteRow>, sqlx::Error> {
    let mut c = Conditions::default();
    let (i, t) = (c.bind(Arg::Int(id)), c.bind(Arg::Int(scope.tenant.0)));
    let mut sql = format!(
        "SELECT s.id, s.client_id, cl.code AS client_code, cl.name AS client_name, s.kind, s.parent_id,
                par.name AS parent_name, s.name, s.street_number, s.street, s.postcode, s.city_code, s.city,
                s.site_manager_contact_id, ct.civility AS manager_civility, ct.first_name AS manager_first_name,
                ct.last_name AS manager_last_name, ct.job_title AS manager_job_title, ct.email AS manager_email,
                ct.phone AS manager_phone, ct.mobile AS manager_mobile, s.operation_type, s.phase, s.status,
                s.expected_date, s.actual_date, s.permit_number, s.owner_name, s.dwellings, s.notes, s.archived,
                s.created_at, s.updated_at
         FROM sites s
         JOIN clients cl ON cl.id = s.client_id AND cl.tenant_id = s.tenant_id
         LEFT JOIN contacts ct ON ct.id = s.site_manager_contact_id AND ct.tenant_id = s.tenant_id
         LEFT JOIN sites par ON par.id = s.parent_id AND par.tenant_id = s.tenant_id
         WHERE s.id = {i} AND s.tenant_id = {t}"
    );
    if let Some(client) = scope.client {
        let p = c.bind(Arg::Int(client.0));
        sql.push_str(&format!(" AND s.client_id = {p}"));
    }
    on_db!(db, |p| bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), &c.args).fetch_optional(p).await)
}

/// Whether `contact` is a contact of `client` in the firm (archived ones included: a site may
/// keep the manager it had).
pub async fn is_contact_of(tx: &mut Tx, tenant: TenantId, client: ClientId, contact: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM contacts WHERE id = $1 AND tenant_id = $2 AND client_id = $3"
    )
    .bind(contact)
    .bind(tenant)
    .bind(client)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Whether `site` is a residence of `client` in the firm.
pub async fn is_residence_of(tx: &mut Tx, tenant: TenantId, client: ClientId, site: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM sites WHERE id = $1 AND tenant_id = $2 AND client_id = $3 AND kind = $4"
    )
    .bind(site)
    .bind(tenant)
    .bind(client)
    .bind(SiteKind::Residence.code())
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// How many dwellings belong to the residence `site`.
pub async fn dwelling_count(tx: &mut Tx, tenant: TenantId, site: SiteId) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar("SELECT COUNT(*) FROM sites WHERE tenant_id = $1 AND parent_id = $2")
        .bind(tenant)
        .bind(site)
        .fetch_one(c)
        .await)
}

/// Current residences of a client, for the "résidence" choice of a dwelling: `(id, label)`.
pub async fn residences(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<(SiteId, String)>, sqlx::Error> {
    let rows: Vec<(SiteId, String, String)> = on_db!(db, |p| sqlx::query_as(
        "SELECT id, name, city FROM sites
         WHERE tenant_id = $1 AND client_id = $2 AND kind = $3 AND NOT archived ORDER BY name_key, id"
    )
    .bind(tenant)
    .bind(client)
    .bind(SiteKind::Residence.code())
    .fetch_all(p)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, city)| (id, if city.is_empty() { name } else { format!("{name} ({city})") }))
        .collect())
}

/// Binds the written columns of a site, in the order of [`DATA_COLUMNS`], on the query `$q`.
macro_rules! bind_data {
    ($q:expr, $d:expr) => {{
        let d: &SiteData = $d;
        $q.bind(d.kind.code())
            .bind(d.parent_id)
            .bind(&d.name)
            .bind(&d.street_number)
            .bind(&d.street)
            .bind(&d.postcode)
            .bind(&d.city_code)
            .bind(&d.city)
            .bind(d.site_manager_id)
            .bind(&d.operation_type)
            .bind(d.phase.code())
            .bind(d.status.code())
            .bind(d.expected_date.as_deref())
            .bind(d.actual_date.as_deref())
            .bind(&d.permit_number)
            .bind(&d.owner_name)
            .bind(d.dwellings)
            .bind(&d.notes)
            .bind(d.name_key())
            .bind(d.city_key())
            .bind(d.search_key())
            .bind(permit_key(&d.permit_number))
            .bind(address_key(&d.street_number, &d.street))
            .bind(owner_key(&d.owner_name))
    }};
}

/// The columns [`bind_data`] binds, in its order: 24 values.
const DATA_COLUMNS: [&str; 24] = [
    "kind",
    "parent_id",
    "name",
    "street_number",
    "street",
    "postcode",
    "city_code",
    "city",
    "site_manager_contact_id",
    "operation_type",
    "phase",
    "status",
    "expected_date",
    "actual_date",
    "permit_number",
    "owner_name",
    "dwellings",
    "notes",
    "name_key",
    "city_key",
    "search_key",
    "permit_key",
    "address_key",
    "owner_key",
];

pub async fn insert(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    created_by: Option<UserId>,
    d: &SiteData,
) -> Result<SiteId, sqlx::Error> {
    // $1 tenant, $2 client, $3..$26 the data, $27 author, $28 now.
    let values: Vec<String> = (3..3 + DATA_COLUMNS.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "INSERT INTO sites (tenant_id, client_id, {}, archived, created_by, created_at, updated_at)
         SELECT $1, cl.id, {}, FALSE, $27, $28, $28
         FROM clients cl WHERE cl.id = $2 AND cl.tenant_id = $1
         RETURNING id",
        DATA_COLUMNS.join(", "),
        values.join(", ")
    );
    let now = now_ms();
    on_tx!(tx, |c| {
        bind_data!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(tenant).bind(client), d)
            .bind(created_by)
            .bind(now)
            .fetch_one(c)
            .await
    })
}

/// Rewrites the site's data; 0 rows when it is outside `scope`.
pub async fn update(tx: &mut Tx, scope: Scope, id: SiteId, d: &SiteData) -> Result<u64, sqlx::Error> {
    // $1..$24 the data, $25 now, $26 id, $27 tenant, $28 the client scope.
    let sets: Vec<String> = DATA_COLUMNS.iter().enumerate().map(|(i, col)| format!("{col} = ${}", i + 1)).collect();
    let sql = format!(
        "UPDATE sites SET {}, updated_at = $25
         WHERE id = $26 AND tenant_id = $27 AND ($28 IS NULL OR client_id = $28)",
        sets.join(", ")
    );
    exec_tx!(tx, |c| bind_data!(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), d)
        .bind(now_ms())
        .bind(id)
        .bind(scope.tenant)
        .bind(scope.client)
        .execute(c)
        .await)
}

pub async fn set_archived(tx: &mut Tx, scope: Scope, id: SiteId, archived: bool) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE sites SET archived = $1, updated_at = $2
         WHERE id = $3 AND tenant_id = $4 AND ($5 IS NULL OR client_id = $5)"
    )
    .bind(archived)
    .bind(now_ms())
    .bind(id)
    .bind(scope.tenant)
    .bind(scope.client)
    .execute(c)
    .await)
}

/// How many current clients the firm has (a chooser lists them only when they are few).
pub async fn active_client_count(db: &Db, tenant: TenantId) -> Result<i64, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE tenant_id = $1 AND NOT archived")
        .bind(tenant)
        .fetch_one(p)
        .await)
}

/// The firm's client with this code (`C001`), case-insensitive.
pub async fn client_by_code(db: &Db, tenant: TenantId, code: &str) -> Result<Option<ClientId>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM clients WHERE tenant_id = $1 AND code = $2")
        .bind(tenant)
        .bind(code.trim().to_uppercase())
        .fetch_optional(p)
        .await)
}

/// Recent audit entries about a site (back office only).
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct HistoryRow {
    pub created_at: i64,
    pub actor_label: String,
    pub summary: String,
}

pub async fn history(db: &Db, tenant: TenantId, site: SiteId) -> Result<Vec<HistoryRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT created_at, actor_label, summary FROM audit_log
         WHERE tenant_id = $1 AND entity = 'site' AND entity_id = $2 ORDER BY id DESC LIMIT 10"
    )
    .bind(tenant)
    .bind(site)
    .fetch_all(p)
    .await)
}
