//! The SQL of clients and contacts. Every query takes the tenant; contacts are always joined to
//! a client of the same tenant, so a forged id never reaches another firm's rows.

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, TenantId, UserId};
use crate::{exec_tx, on_db, on_tx};

pub const CLIENT_COLUMNS: &str = "id, code, name, kind, siret, address_line1, address_line2, postcode, city, \
     billing_address, billing_email, phone, notes, archived, created_at, updated_at";

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClientRow {
    pub id: ClientId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub siret: String,
    pub address_line1: String,
    pub address_line2: String,
    pub postcode: String,
    pub city: String,
    pub billing_address: String,
    pub billing_email: String,
    pub phone: String,
    pub notes: String,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A client's data as validated from the form (code resolved before writing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub siret: String,
    pub address_line1: String,
    pub address_line2: String,
    pub postcode: String,
    pub city: String,
    pub billing_address: String,
    pub billing_email: String,
    pub phone: String,
    pub notes: String,
}

impl ClientData {
    pub fn search_key(&self) -> String {
        search_key(&[&self.code, &self.name, &self.city, &self.postcode, &self.siret])
    }
}

impl From<&ClientRow> for ClientData {
    fn from(r: &ClientRow) -> Self {
        ClientData {
            code: r.code.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            siret: r.siret.clone(),
            address_line1: r.address_line1.clone(),
            address_line2: r.address_line2.clone(),
            postcode: r.postcode.clone(),
            city: r.city.clone(),
            billing_address: r.billing_address.clone(),
            billing_email: r.billing_email.clone(),
            phone: r.phone.clone(),
            notes: r.notes.clone(),
        }
    }
}

pub async fn client(db: &Db, tenant: TenantId, id: i64) -> Result<Option<ClientRow>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1 AND tenant_id = $2");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(p).await)
}

pub async fn client_tx(tx: &mut Tx, tenant: TenantId, id: i64) -> Result<Option<ClientRow>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1 AND tenant_id = $2");
    on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(c).await)
}

/// Listing criteria, already validated.
#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    /// A LIKE pattern over `search_key`, or empty.
    pub pattern: String,
    /// A `ClientKind` code, or empty.
    pub kind: String,
    pub archived: bool,
    /// "code", "nom" or "ville".
    pub sort: &'static str,
    pub desc: bool,
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClientListRow {
    pub id: ClientId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub siret: String,
    pub address_line1: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub billing_email: String,
    pub archived: bool,
    pub contacts: i64,
}

const LIST_WHERE: &str = "c.tenant_id = $1 AND ($2 = '' OR c.search_key LIKE $2) AND ($3 = '' OR c.kind = $3) \
     AND c.archived = $4";

fn order_by(f: &ClientFilter) -> String {
    let dir = if f.desc { "DESC" } else { "ASC" };
    match f.sort {
        "nom" => format!("LOWER(c.name) {dir}, c.code {dir}"),
        "ville" => format!("LOWER(c.city) {dir}, LOWER(c.name) {dir}"),
        _ => format!("c.code {dir}"),
    }
}

/// One page of clients and the total count.
pub async fn list(
    db: &Db,
    tenant: TenantId,
    f: &ClientFilter,
    limit: Option<(i64, i64)>,
) -> Result<(Vec<ClientListRow>, i64), sqlx::Error> {
    let count_sql = format!("SELECT COUNT(*) FROM clients c WHERE {LIST_WHERE}");
    let total: i64 = on_db!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
        .bind(tenant)
        .bind(&f.pattern)
        .bind(&f.kind)
        .bind(f.archived)
        .fetch_one(p)
        .await)?;
    let (per_page, offset) = limit.unwrap_or((i64::MAX / 4, 0));
    let sql = format!(
        "SELECT c.id, c.code, c.name, c.kind, c.siret, c.address_line1, c.postcode, c.city, c.phone, c.billing_email,
                c.archived,
                (SELECT COUNT(*) FROM contacts ct WHERE ct.tenant_id = c.tenant_id AND ct.client_id = c.id
                   AND NOT ct.archived) AS contacts
         FROM clients c WHERE {LIST_WHERE} ORDER BY {} LIMIT $5 OFFSET $6",
        order_by(f)
    );
    let rows = on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(&f.pattern)
        .bind(&f.kind)
        .bind(f.archived)
        .bind(per_page)
        .bind(offset)
        .fetch_all(p)
        .await)?;
    Ok((rows, total))
}

/// Whether another client of the tenant already uses `code`.
pub async fn code_taken(
    tx: &mut Tx,
    tenant: TenantId,
    code: &str,
    except: Option<ClientId>,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM clients WHERE tenant_id = $1 AND code = $2 AND ($3 IS NULL OR id <> $3)"
    )
    .bind(tenant)
    .bind(code)
    .bind(except)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// The next free `C###` code of the tenant: one more than the highest numeric `C` code.
pub async fn next_code(tx: &mut Tx, tenant: TenantId) -> Result<String, sqlx::Error> {
    let codes: Vec<String> =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT code FROM clients WHERE tenant_id = $1 AND code LIKE 'C%'")
            .bind(tenant)
            .fetch_all(c)
            .await)?;
    Ok(format!("C{:03}", next_number(&codes)))
}

fn next_number(codes: &[String]) -> u64 {
    codes
        .iter()
        .filter_map(|c| c.strip_prefix('C'))
        .filter(|n| !n.is_empty() && n.len() <= 15 && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1
}

pub async fn insert(tx: &mut Tx, tenant: TenantId, d: &ClientData) -> Result<ClientId, sqlx::Error> {
    let now = now_ms();
    on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO clients (tenant_id, code, name, kind, siret, address_line1, address_line2, postcode, city,
                              billing_address, billing_email, phone, notes, search_key, archived, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, FALSE, $15, $15) RETURNING id"
    )
    .bind(tenant)
    .bind(&d.code)
    .bind(&d.name)
    .bind(&d.kind)
    .bind(&d.siret)
    .bind(&d.address_line1)
    .bind(&d.address_line2)
    .bind(&d.postcode)
    .bind(&d.city)
    .bind(&d.billing_address)
    .bind(&d.billing_email)
    .bind(&d.phone)
    .bind(&d.notes)
    .bind(d.search_key())
    .bind(now)
    .fetch_one(c)
    .await
    })
}

pub async fn update(tx: &mut Tx, tenant: TenantId, id: ClientId, d: &ClientData) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE clients SET code = $1, name = $2, kind = $3, siret = $4, address_line1 = $5, address_line2 = $6,
                postcode = $7, city = $8, billing_address = $9, billing_email = $10, phone = $11, notes = $12,
                search_key = $13, updated_at = $14
         WHERE id = $15 AND tenant_id = $16"
    )
    .bind(&d.code)
    .bind(&d.name)
    .bind(&d.kind)
    .bind(&d.siret)
    .bind(&d.address_line1)
    .bind(&d.address_line2)
    .bind(&d.postcode)
    .bind(&d.city)
    .bind(&d.billing_address)
    .bind(&d.billing_email)
    .bind(&d.phone)
    .bind(&d.notes)
    .bind(d.search_key())
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)
}

pub async fn set_archived(tx: &mut Tx, tenant: TenantId, id: ClientId, archived: bool) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query("UPDATE clients SET archived = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(archived)
        .bind(now_ms())
        .bind(id)
        .bind(tenant)
        .execute(c)
        .await)
}

/// Non-archived clients of the tenant, for choosers (`id`, `code`, `name`).
pub async fn active_clients(db: &Db, tenant: TenantId) -> Result<Vec<(ClientId, String, String)>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, code, name FROM clients WHERE tenant_id = $1 AND NOT archived ORDER BY code"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

// ---------------------------------------------------------------------------------------------
// Contacts

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ContactRow {
    pub id: ContactId,
    pub client_id: ClientId,
    pub civility: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: String,
    pub email: String,
    pub email_alt: String,
    pub phone: String,
    pub mobile: String,
    pub archived: bool,
}

impl ContactRow {
    pub fn full_name(&self) -> String {
        [self.civility.as_str(), self.first_name.as_str(), self.last_name.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// First and last name, without civility: how an account is named.
    pub fn person_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactData {
    pub civility: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: String,
    pub email: String,
    pub email_alt: String,
    pub phone: String,
    pub mobile: String,
}

impl ContactData {
    fn search_key(&self) -> String {
        search_key(&[&self.first_name, &self.last_name, &self.email, &self.email_alt, &self.job_title])
    }
}

impl From<&ContactRow> for ContactData {
    fn from(r: &ContactRow) -> Self {
        ContactData {
            civility: r.civility.clone(),
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            job_title: r.job_title.clone(),
            email: r.email.clone(),
            email_alt: r.email_alt.clone(),
            phone: r.phone.clone(),
            mobile: r.mobile.clone(),
        }
    }
}

const CONTACT_COLUMNS: &str = "ct.id, ct.client_id, ct.civility, ct.first_name, ct.last_name, ct.job_title, ct.email, \
     ct.email_alt, ct.phone, ct.mobile, ct.archived";

/// Contacts of a client of the tenant, active first then by name.
pub async fn contacts_of(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
    include_archived: bool,
) -> Result<Vec<ContactRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts ct
         JOIN clients c ON c.id = ct.client_id AND c.tenant_id = ct.tenant_id
         WHERE ct.tenant_id = $1 AND ct.client_id = $2 AND ($3 OR NOT ct.archived)
         ORDER BY ct.archived, LOWER(ct.last_name), LOWER(ct.first_name), ct.id"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(client)
        .bind(include_archived)
        .fetch_all(p)
        .await)
}

/// A contact whose client belongs to the tenant.
pub async fn contact(db: &Db, tenant: TenantId, id: i64) -> Result<Option<ContactRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts ct
         JOIN clients c ON c.id = ct.client_id AND c.tenant_id = $2
         WHERE ct.id = $1 AND ct.tenant_id = $2"
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(p).await)
}

pub async fn contact_tx(tx: &mut Tx, tenant: TenantId, id: i64) -> Result<Option<ContactRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts ct
         JOIN clients c ON c.id = ct.client_id AND c.tenant_id = $2
         WHERE ct.id = $1 AND ct.tenant_id = $2"
    );
    on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(c).await)
}

pub async fn insert_contact(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    d: &ContactData,
) -> Result<ContactId, sqlx::Error> {
    let now = now_ms();
    on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO contacts (tenant_id, client_id, civility, first_name, last_name, job_title, email, email_alt, phone,
                               mobile, search_key, archived, created_at, updated_at)
         SELECT $1, c.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, FALSE, $12, $12
         FROM clients c WHERE c.id = $2 AND c.tenant_id = $1 RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(&d.civility)
    .bind(&d.first_name)
    .bind(&d.last_name)
    .bind(&d.job_title)
    .bind(&d.email)
    .bind(&d.email_alt)
    .bind(&d.phone)
    .bind(&d.mobile)
    .bind(d.search_key())
    .bind(now)
    .fetch_one(c)
    .await
    })
}

pub async fn update_contact(tx: &mut Tx, tenant: TenantId, id: ContactId, d: &ContactData) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE contacts SET civility = $1, first_name = $2, last_name = $3, job_title = $4, email = $5, email_alt = $6,
                phone = $7, mobile = $8, search_key = $9, updated_at = $10
         WHERE id = $11 AND tenant_id = $12 AND client_id IN (SELECT id FROM clients WHERE tenant_id = $12)"
    )
    .bind(&d.civility)
    .bind(&d.first_name)
    .bind(&d.last_name)
    .bind(&d.job_title)
    .bind(&d.email)
    .bind(&d.email_alt)
    .bind(&d.phone)
    .bind(&d.mobile)
    .bind(d.search_key())
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await
    })
}

pub async fn set_contact_archived(
    tx: &mut Tx,
    tenant: TenantId,
    id: ContactId,
    archived: bool,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE contacts SET archived = $1, updated_at = $2
         WHERE id = $3 AND tenant_id = $4 AND client_id IN (SELECT id FROM clients WHERE tenant_id = $4)"
    )
    .bind(archived)
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)
}

// ---------------------------------------------------------------------------------------------
// Extranet users of a client

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClientUserRow {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub contact_id: Option<ContactId>,
    pub active: bool,
    pub must_change_password: bool,
    pub last_login_at: Option<i64>,
}

pub async fn users_of(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<ClientUserRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, email, full_name, role, contact_id, active, must_change_password, last_login_at
         FROM users WHERE tenant_id = $1 AND client_id = $2 ORDER BY active DESC, LOWER(full_name), id"
    )
    .bind(tenant)
    .bind(client)
    .fetch_all(p)
    .await)
}

/// Recent audit entries about a client and its contacts.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct HistoryRow {
    pub created_at: i64,
    pub actor_label: String,
    pub summary: String,
}

pub async fn history(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<HistoryRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT created_at, actor_label, summary FROM audit_log
         WHERE tenant_id = $1 AND ((entity = 'client' AND entity_id = $2)
            OR (entity = 'contact' AND entity_id IN (SELECT id FROM contacts WHERE tenant_id = $1 AND client_id = $2)))
         ORDER BY id DESC LIMIT 10"
    )
    .bind(tenant)
    .bind(client)
    .fetch_all(p)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_code_follows_the_highest_numeric_code() {
        let codes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(next_number(&codes(&[])), 1);
        assert_eq!(next_number(&codes(&["C001", "C005", "CLIENT", "C0A1", "C"])), 6);
        assert_eq!(next_number(&codes(&["C999"])), 1000);
    }
}
