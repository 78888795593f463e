//! The SQL of requests: contact requests (a client admin asks the firm to create, change or
//! remove a contact) and credential requests (the public form). Every read takes the tenant,
//! and for extranet users their client.

use crate::db::{Db, Tx};
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, TenantId, UserId};
use crate::{exec_tx, on_db, on_tx};

// ---------------------------------------------------------------------------------------------
// Contact requests

/// The values a contact request proposes (already checked and normalised).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposedContact {
    pub civility: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub mobile: String,
}

pub struct NewContactRequest<'a> {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub requested_by: UserId,
    /// "create", "change" or "remove".
    pub kind: &'a str,
    pub contact_id: Option<ContactId>,
    pub values: &'a ProposedContact,
    pub message: &'a str,
}

pub async fn insert_contact_request(tx: &mut Tx, r: &NewContactRequest<'_>) -> Result<i64, sqlx::Error> {
    // The client must be the tenant's: the row can never point across firms.
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO contact_requests (tenant_id, client_id, requested_by, kind, contact_id, civility, first_name,
                                       last_name, job_title, email, phone, mobile, message, status, created_at)
         SELECT $1, c.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', $14
         FROM clients c WHERE c.id = $2 AND c.tenant_id = $1 RETURNING id"
    )
    .bind(r.tenant_id)
    .bind(r.client_id)
    .bind(r.requested_by)
    .bind(r.kind)
    .bind(r.contact_id)
    .bind(&r.values.civility)
    .bind(&r.values.first_name)
    .bind(&r.values.last_name)
    .bind(&r.values.job_title)
    .bind(&r.values.email)
    .bind(&r.values.phone)
    .bind(&r.values.mobile)
    .bind(r.message)
    .bind(now_ms())
    .fetch_one(c)
    .await)
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ContactRequestRow {
    pub id: i64,
    pub client_id: ClientId,
    pub requested_by: UserId,
    pub kind: String,
    pub contact_id: Option<ContactId>,
    pub civility: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub mobile: String,
    pub message: String,
    pub status: String,
    pub reason: String,
    pub decided_at: Option<i64>,
    pub result_contact_id: Option<ContactId>,
    pub created_at: i64,
    pub client_code: String,
    pub client_name: String,
    pub requester_name: String,
    pub decider_name: Option<String>,
    /// The current name of the contact a change or removal is about.
    pub contact_first_name: Option<String>,
    pub contact_last_name: Option<String>,
}

impl ContactRequestRow {
    pub fn proposed(&self) -> ProposedContact {
        ProposedContact {
            civility: self.civility.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            job_title: self.job_title.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            mobile: self.mobile.clone(),
        }
    }

    /// Who the request is about: the existing contact, or the proposed person.
    pub fn subject_name(&self) -> String {
        let (first, last) = match (&self.contact_first_name, &self.contact_last_name) {
            (Some(f), Some(l)) if self.kind != "create" => (f.as_str(), l.as_str()),
            _ => (self.first_name.as_str(), self.last_name.as_str()),
        };
        format!("{first} {last}").trim().to_string()
    }
}

const CONTACT_REQUEST_SELECT: &str = "SELECT r.id, r.client_id, r.requested_by, r.kind, r.contact_id, r.civility,
        r.first_name, r.last_name, r.job_title, r.email, r.phone, r.mobile, r.message, r.status, r.reason,
        r.decided_at, r.result_contact_id, r.created_at, c.code AS client_code, c.name AS client_name,
        u.full_name AS requester_name, d.full_name AS decider_name,
        ct.first_name AS contact_first_name, ct.last_name AS contact_last_name
     FROM contact_requests r
     JOIN clients c ON c.id = r.client_id AND c.tenant_id = r.tenant_id
     JOIN users u ON u.id = r.requested_by AND u.tenant_id = r.tenant_id
     LEFT JOIN users d ON d.id = r.decided_by AND d.tenant_id = r.tenant_id
     LEFT JOIN contacts ct ON ct.id = r.contact_id AND ct.tenant_id = r.tenant_id";

/// One request of the tenant; with `client` set, only if it is that client's.
pub async fn contact_request(
    db: &Db,
    tenant: TenantId,
    client: Option<ClientId>,
    id: i64,
) -> Result<Option<ContactRequestRow>, sqlx::Error> {
    let sql =
        format!("{CONTACT_REQUEST_SELECT} WHERE r.id = $1 AND r.tenant_id = $2 AND ($3 IS NULL OR r.client_id = $3)");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).bind(client).fetch_optional(p).await)
}

/// At most this many requests are listed at once.
pub const LIST_LIMIT: i64 = 200;

/// Requests of the tenant (of one client when `client` is set), filtered by status: pending
/// ones oldest first (a queue), processed ones newest first.
pub async fn contact_requests(
    db: &Db,
    tenant: TenantId,
    client: Option<ClientId>,
    status: StatusFilter,
) -> Result<Vec<ContactRequestRow>, sqlx::Error> {
    let sql = format!(
        "{CONTACT_REQUEST_SELECT} WHERE r.tenant_id = $1 AND ($2 IS NULL OR r.client_id = $2) AND {}
         ORDER BY {} LIMIT {LIST_LIMIT}",
        status.condition(),
        status.order(),
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(client).fetch_all(p).await)
}

/// Whether a pending change or removal already exists for the contact.
pub async fn pending_for_contact(db: &Db, tenant: TenantId, contact: ContactId) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM contact_requests WHERE tenant_id = $1 AND contact_id = $2 AND status = 'pending' LIMIT 1"
    )
    .bind(tenant)
    .bind(contact)
    .fetch_optional(p)
    .await)?;
    Ok(found.is_some())
}

/// Records the decision if the request is still pending; false when someone decided first.
pub async fn decide_contact_request(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    status: &str,
    reason: &str,
    by: UserId,
) -> Result<bool, sqlx::Error> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE contact_requests SET status = $1, reason = $2, decided_by = $3, decided_at = $4
         WHERE id = $5 AND tenant_id = $6 AND status = 'pending'"
    )
    .bind(status)
    .bind(reason)
    .bind(by)
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// After validation: the values applied (staff may have corrected them) and the contact.
pub async fn set_contact_request_result(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    values: &ProposedContact,
    contact: ContactId,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE contact_requests SET civility = $1, first_name = $2, last_name = $3, job_title = $4, email = $5,
                phone = $6, mobile = $7, result_contact_id = $8
         WHERE id = $9 AND tenant_id = $10"
    )
    .bind(&values.civility)
    .bind(&values.first_name)
    .bind(&values.last_name)
    .bind(&values.job_title)
    .bind(&values.email)
    .bind(&values.phone)
    .bind(&values.mobile)
    .bind(contact)
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)
}

pub async fn set_result_contact(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    contact: ContactId,
) -> Result<u64, sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query("UPDATE contact_requests SET result_contact_id = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(contact)
        .bind(id)
        .bind(tenant)
        .execute(c)
        .await)
}

/// Deactivates the active accounts tied to a contact of the client; returns them (id, e-mail).
pub async fn deactivate_users_of_contact(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    contact: ContactId,
) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    let users: Vec<(UserId, String)> = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE users SET active = FALSE, updated_at = $1
         WHERE tenant_id = $2 AND client_id = $3 AND contact_id = $4 AND active
         RETURNING id, email"
    )
    .bind(now_ms())
    .bind(tenant)
    .bind(client)
    .bind(contact)
    .fetch_all(c)
    .await)?;
    for (id, _) in &users {
        exec_tx!(tx, |c| sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2")
            .bind(*id)
            .bind(tenant)
            .execute(c)
            .await)?;
    }
    Ok(users)
}

// ---------------------------------------------------------------------------------------------
// Credential requests

/// Which requests a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Pending,
    Processed,
    All,
}

impl StatusFilter {
    pub fn parse(s: &str) -> StatusFilter {
        match s {
            "traitees" => StatusFilter::Processed,
            "toutes" => StatusFilter::All,
            _ => StatusFilter::Pending,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            StatusFilter::Pending => "",
            StatusFilter::Processed => "traitees",
            StatusFilter::All => "toutes",
        }
    }

    fn condition(self) -> &'static str {
        match self {
            StatusFilter::Pending => "r.status = 'pending'",
            StatusFilter::Processed => "r.status <> 'pending'",
            StatusFilter::All => "1 = 1",
        }
    }

    fn order(self) -> &'static str {
        match self {
            StatusFilter::Pending => "r.created_at, r.id",
            _ => "r.created_at DESC, r.id DESC",
        }
    }
}

/// What the public form stores (already checked).
pub struct NewCredentialRequest {
    pub tenant_id: TenantId,
    pub company: String,
    pub siret: String,
    pub full_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub message: String,
    pub ip: String,
}

pub async fn insert_credential_request(tx: &mut Tx, r: &NewCredentialRequest) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO credential_requests (tenant_id, company, siret, full_name, job_title, email, phone, message, ip,
                                          status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10) RETURNING id"
    )
    .bind(r.tenant_id)
    .bind(&r.company)
    .bind(&r.siret)
    .bind(&r.full_name)
    .bind(&r.job_title)
    .bind(&r.email)
    .bind(&r.phone)
    .bind(&r.message)
    .bind(&r.ip)
    .bind(now_ms())
    .fetch_one(c)
    .await)
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct CredentialRequestRow {
    pub id: i64,
    pub company: String,
    pub siret: String,
    pub full_name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
    pub message: String,
    pub ip: String,
    pub status: String,
    pub reason: String,
    pub client_id: Option<ClientId>,
    pub user_id: Option<UserId>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub client_code: Option<String>,
    pub client_name: Option<String>,
    pub client_archived: Option<bool>,
    pub user_email: Option<String>,
    pub decider_name: Option<String>,
}

const CREDENTIAL_REQUEST_SELECT: &str = "SELECT r.id, r.company, r.siret, r.full_name, r.job_title, r.email,
        r.phone, r.message, r.ip, r.status, r.reason, r.client_id, r.user_id, r.decided_at, r.created_at,
        c.code AS client_code, c.name AS client_name, c.archived AS client_archived, u.email AS user_email,
        d.full_name AS decider_name
     FROM credential_requests r
     LEFT JOIN clients c ON c.id = r.client_id AND c.tenant_id = r.tenant_id
     LEFT JOIN users u ON u.id = r.user_id AND u.tenant_id = r.tenant_id
     LEFT JOIN users d ON d.id = r.decided_by AND d.tenant_id = r.tenant_id";

pub async fn credential_request(
    db: &Db,
    tenant: TenantId,
    id: i64,
) -> Result<Option<CredentialRequestRow>, sqlx::Error> {
    let sql = format!("{CREDENTIAL_REQUEST_SELECT} WHERE r.id = $1 AND r.tenant_id = $2");
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(p).await)
}

pub async fn credential_request_tx(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
) -> Result<Option<CredentialRequestRow>, sqlx::Error> {
    let sql = format!("{CREDENTIAL_REQUEST_SELECT} WHERE r.id = $1 AND r.tenant_id = $2");
    on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant).fetch_optional(c).await)
}

pub async fn credential_requests(
    db: &Db,
    tenant: TenantId,
    status: StatusFilter,
) -> Result<Vec<CredentialRequestRow>, sqlx::Error> {
    let sql = format!(
        "{CREDENTIAL_REQUEST_SELECT} WHERE r.tenant_id = $1 AND {} ORDER BY {} LIMIT {LIST_LIMIT}",
        status.condition(),
        status.order()
    );
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).fetch_all(p).await)
}

/// Links a pending request to a client of the tenant; false when it is no longer pending or the
/// client is not the tenant's.
pub async fn link_credential_request(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    client: ClientId,
) -> Result<bool, sqlx::Error> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE credential_requests SET client_id = $1
         WHERE id = $2 AND tenant_id = $3 AND status = 'pending'
           AND EXISTS (SELECT 1 FROM clients c WHERE c.id = $1 AND c.tenant_id = $3)"
    )
    .bind(client)
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Closes a pending request (validated with its account, or refused with the reason); false
/// when someone decided first.
pub async fn decide_credential_request(
    tx: &mut Tx,
    tenant: TenantId,
    id: i64,
    status: &str,
    reason: &str,
    user: Option<UserId>,
    by: UserId,
) -> Result<bool, sqlx::Error> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE credential_requests SET status = $1, reason = $2, user_id = $3, decided_by = $4, decided_at = $5
         WHERE id = $6 AND tenant_id = $7 AND status = 'pending'"
    )
    .bind(status)
    .bind(reason)
    .bind(user)
    .bind(by)
    .bind(now_ms())
    .bind(id)
    .bind(tenant)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Clients of the tenant with this SIRET: the likely match of a credential request.
pub async fn clients_with_siret(
    db: &Db,
    tenant: TenantId,
    siret: &str,
) -> Result<Vec<(ClientId, String, String)>, sqlx::Error> {
    if siret.is_empty() {
        return Ok(Vec::new());
    }
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, code, name FROM clients WHERE tenant_id = $1 AND siret = $2 AND NOT archived ORDER BY code"
    )
    .bind(tenant)
    .bind(siret)
    .fetch_all(p)
    .await)
}

/// An active contact of the client with this e-mail, to attach a new account to.
pub async fn contact_by_email(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    email: &str,
) -> Result<Option<ContactId>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM contacts WHERE tenant_id = $1 AND client_id = $2 AND LOWER(email) = $3 AND NOT archived
         ORDER BY id LIMIT 1"
    )
    .bind(tenant)
    .bind(client)
    .bind(email)
    .fetch_optional(c)
    .await)
}

/// The firm a public page belongs to: the tenant bound to this host name, else the oldest one.
pub async fn tenant_for_host(db: &Db, host: &str) -> Result<Option<(TenantId, String)>, sqlx::Error> {
    if !host.is_empty() {
        let bound: Option<(TenantId, String)> = on_db!(db, |p| sqlx::query_as(
            "SELECT id, legal_name FROM tenants WHERE LOWER(public_host) = $1 ORDER BY id LIMIT 1"
        )
        .bind(host)
        .fetch_optional(p)
        .await)?;
        if bound.is_some() {
            return Ok(bound);
        }
    }
    on_db!(db, |p| sqlx::query_as("SELECT id, legal_name FROM tenants ORDER BY created_at, id LIMIT 1")
        .fetch_optional(p)
        .await)
}

/// The number of pending requests of each kind, for the back office.
pub async fn pending_counts(db: &Db, tenant: TenantId) -> Result<(i64, i64), sqlx::Error> {
    let contacts: i64 = on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM contact_requests WHERE tenant_id = $1 AND status = 'pending'"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)?;
    let credentials: i64 = on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM credential_requests WHERE tenant_id = $1 AND status = 'pending'"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)?;
    Ok((contacts, credentials))
}

/// The firm's account using this e-mail, if any.
pub async fn user_with_email(db: &Db, tenant: TenantId, email: &str) -> Result<Option<UserId>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND email = $2")
        .bind(tenant)
        .bind(email)
        .fetch_optional(p)
        .await)
}
