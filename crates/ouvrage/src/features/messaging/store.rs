//! Every query of the messaging: threads, messages, their files and the read state. Reads take
//! the tenant and the actor's client scope (`None` for staff), so a thread of another company
//! or firm is never found.

use crate::db::conditions::{Arg, Conditions, bind_all};
use crate::db::{Db, Tx};
use crate::domain::{ClientId, FileId, TenantId, UserId};
use crate::{exec_db, exec_tx, on_db, on_tx};

/// The filters of a thread list (both faces; the extranet leaves the staff-only ones empty).
#[derive(Clone, Debug, Default)]
pub struct ThreadFilter {
    /// A LIKE pattern on the folded subject (`domain::text::like_pattern`), `""` for none.
    pub subject_pattern: String,
    pub site: Option<i64>,
    pub client: Option<ClientId>,
    /// A status code, `""` for any.
    pub status: String,
    /// `""`, `moi`, `autre` or `personne`.
    pub assigned: String,
    pub unread_only: bool,
}

/// How many threads a list shows at most (the newest).
pub const LIST_LIMIT: i64 = 200;

#[derive(sqlx::FromRow, Debug)]
pub struct ThreadRow {
    pub id: i64,
    pub client_id: ClientId,
    pub client_code: String,
    pub client_name: String,
    pub site_id: Option<i64>,
    pub site_name: Option<String>,
    pub subject: String,
    pub status: String,
    pub assigned_to: Option<UserId>,
    pub assigned_name: Option<String>,
    pub last_message_id: i64,
    pub last_message_at: i64,
    pub unread: i64,
}

/// The columns of a [`ThreadRow`]; `user` is the placeholder of the user whose reads count.
fn thread_select(user: &str) -> String {
    format!(
        "SELECT t.id, t.client_id, cl.code AS client_code, cl.name AS client_name, t.site_id,
        s.name AS site_name, t.subject, t.status, t.assigned_to, au.full_name AS assigned_name, t.last_message_id,
        t.last_message_at,
        CAST(CASE WHEN t.last_message_id > COALESCE(r.last_message_id, 0) THEN 1 ELSE 0 END AS BIGINT) AS unread
 FROM threads t
 JOIN clients cl ON cl.id = t.client_id AND cl.tenant_id = t.tenant_id
 LEFT JOIN sites s ON s.id = t.site_id AND s.tenant_id = t.tenant_id
 LEFT JOIN users au ON au.id = t.assigned_to AND au.tenant_id = t.tenant_id
 LEFT JOIN thread_reads r ON r.thread_id = t.id AND r.user_id = {user}"
    )
}

/// The threads the actor sees, newest message first.
pub async fn list(
    db: &Db,
    tenant: TenantId,
    scope: Option<ClientId>,
    user: UserId,
    f: &ThreadFilter,
) -> Result<Vec<ThreadRow>, sqlx::Error> {
    // `$1` the tenant, `$2` the user (whose reads mark threads unread); then only the criteria
    // given: `($n IS NULL OR …)` guards made the inbox scan every thread of the firm.
    let mut c = Conditions::default();
    c.bind(Arg::Int(tenant.0));
    c.bind(Arg::Int(user.0));
    c.push("t.tenant_id = $1");
    for client in [scope, f.client].into_iter().flatten() {
        let p = c.bind(Arg::Int(client.0));
        c.push(format!("t.client_id = {p}"));
    }
    if !f.subject_pattern.is_empty() {
        let p = c.bind(Arg::Text(f.subject_pattern.clone()));
        c.push(format!("t.subject_key LIKE {p}"));
    }
    if let Some(site) = f.site {
        let p = c.bind(Arg::Int(site));
        c.push(format!("t.site_id = {p}"));
    }
    if !f.status.is_empty() {
        let p = c.bind(Arg::Text(f.status.clone()));
        c.push(format!("t.status = {p}"));
    }
    match f.assigned.as_str() {
        "moi" => c.push("t.assigned_to = $2"),
        "autre" => c.push("t.assigned_to IS NOT NULL AND t.assigned_to <> $2"),
        "personne" => c.push("t.assigned_to IS NULL"),
        _ => {}
    }
    if f.unread_only {
        c.push("t.last_message_id > COALESCE(r.last_message_id, 0)");
    }
    let sql = format!(
        "{} WHERE {} ORDER BY t.last_message_at DESC, t.id DESC LIMIT {LIST_LIMIT}",
        thread_select("$2"),
        c.where_clause()
    );
    on_db!(db, |p| bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), &c.args).fetch_all(p).await)
}

/// One thread within the actor's scope.
pub async fn thread(
    db: &Db,
    tenant: TenantId,
    scope: Option<ClientId>,
    user: UserId,
    id: i64,
) -> Result<Option<ThreadRow>, sqlx::Error> {
    let sql =
        format!("{} WHERE t.id = $4 AND t.tenant_id = $1 AND ($2 IS NULL OR t.client_id = $2)", thread_select("$3"));
    on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant)
        .bind(scope)
        .bind(user)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// How many threads have a message the user has not read (optionally on one site).
pub async fn unread_count(
    db: &Db,
    tenant: TenantId,
    scope: Option<ClientId>,
    user: UserId,
    site: Option<i64>,
) -> Result<i64, sqlx::Error> {
    // Counted on every page: each shape names the columns of its index instead of
    // `($n IS NULL OR …)` guards, which no planner can use. A client user counts their company's
    // threads; staff count the threads awaiting the firm (open) that are theirs or nobody's, not
    // the firm's whole history nor a colleague's conversations.
    let mut filters = String::new();
    let mut ids = Vec::new();
    if let Some(client) = scope {
        ids.push(client.0);
        filters.push_str(&format!(" AND t.client_id = ${}", ids.len() + 2));
    }
    if let Some(site) = site {
        ids.push(site);
        filters.push_str(&format!(" AND t.site_id = ${}", ids.len() + 2));
    }
    if scope.is_none() && site.is_none() {
        filters.push_str(" AND t.status = 'open' AND (t.assigned_to = $2 OR t.assigned_to IS NULL)");
    }
    let sql = format!(
        "SELECT COUNT(*) FROM threads t
         LEFT JOIN thread_reads r ON r.thread_id = t.id AND r.user_id = $2
         WHERE t.tenant_id = $1{filters} AND t.last_message_id > COALESCE(r.last_message_id, 0)"
    );
    on_db!(db, |p| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(tenant).bind(user);
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_one(p).await
    })
}

#[derive(sqlx::FromRow, Debug)]
pub struct MessageRow {
    pub id: i64,
    pub author_name: Option<String>,
    pub from_staff: bool,
    pub body: String,
    pub created_at: i64,
}

/// A thread's messages, oldest first (the thread was found in scope by the caller).
pub async fn messages(db: &Db, tenant: TenantId, thread: i64) -> Result<Vec<MessageRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT m.id, u.full_name AS author_name, m.from_staff, m.body, m.created_at
         FROM messages m LEFT JOIN users u ON u.id = m.author_id AND u.tenant_id = m.tenant_id
         WHERE m.tenant_id = $1 AND m.thread_id = $2 ORDER BY m.id"
    )
    .bind(tenant)
    .bind(thread)
    .fetch_all(p)
    .await)
}

#[derive(sqlx::FromRow, Debug)]
pub struct AttachmentRow {
    pub message_id: i64,
    pub file_id: FileId,
    pub original_name: String,
    pub size_bytes: i64,
}

/// The files attached to a thread's messages.
pub async fn attachments(db: &Db, tenant: TenantId, thread: i64) -> Result<Vec<AttachmentRow>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT mf.message_id, f.id AS file_id, f.original_name, f.size_bytes
         FROM message_files mf
         JOIN messages m ON m.id = mf.message_id AND m.tenant_id = mf.tenant_id
         JOIN files f ON f.id = mf.file_id AND f.tenant_id = mf.tenant_id
         WHERE mf.tenant_id = $1 AND m.thread_id = $2 ORDER BY f.id"
    )
    .bind(tenant)
    .bind(thread)
    .fetch_all(p)
    .await)
}

/// Marks the thread read for one user up to `message` (never backwards).
pub async fn mark_read(db: &Db, tenant: TenantId, thread: i64, user: UserId, message: i64) -> Result<(), sqlx::Error> {
    exec_db!(db, |p| sqlx::query(MARK_READ)
        .bind(tenant)
        .bind(thread)
        .bind(user)
        .bind(message)
        .bind(crate::domain::time::now_ms())
        .execute(p)
        .await)?;
    Ok(())
}

const MARK_READ: &str = "INSERT INTO thread_reads (tenant_id, thread_id, user_id, last_message_id, read_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (thread_id, user_id) DO UPDATE SET read_at = excluded.read_at,
       last_message_id = CASE WHEN excluded.last_message_id > thread_reads.last_message_id
                              THEN excluded.last_message_id ELSE thread_reads.last_message_id END";

/// A new thread (without messages yet; [`add_message`] follows in the same transaction).
pub async fn create_thread(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    site: Option<i64>,
    subject: &str,
    by: UserId,
    now: i64,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO threads (tenant_id, client_id, site_id, subject, subject_key, status, created_by, created_at,
                              last_message_at)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(subject)
    .bind(crate::domain::text::search_key(&[subject]))
    .bind(by)
    .bind(now)
    .fetch_one(c)
    .await)
}

/// Adds a message, moves the thread's last message and status (a client's message opens the
/// thread again, the firm's answers it) and marks it read for its author.
pub async fn add_message(
    tx: &mut Tx,
    tenant: TenantId,
    thread: i64,
    author: UserId,
    from_staff: bool,
    body: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let id: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO messages (tenant_id, thread_id, author_id, from_staff, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    )
    .bind(tenant)
    .bind(thread)
    .bind(author)
    .bind(from_staff)
    .bind(body)
    .bind(now)
    .fetch_one(c)
    .await)?;
    let status = if from_staff { "answered" } else { "open" };
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE threads SET last_message_id = $1, last_message_at = $2, status = $3 WHERE id = $4 AND tenant_id = $5"
    )
    .bind(id)
    .bind(now)
    .bind(status)
    .bind(thread)
    .bind(tenant)
    .execute(c)
    .await)?;
    exec_tx!(tx, |c| sqlx::query(MARK_READ)
        .bind(tenant)
        .bind(thread)
        .bind(author)
        .bind(id)
        .bind(now)
        .execute(c)
        .await)?;
    Ok(id)
}

pub async fn attach(tx: &mut Tx, tenant: TenantId, message: i64, file: FileId) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query("INSERT INTO message_files (tenant_id, message_id, file_id) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(message)
        .bind(file)
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn set_assigned(tx: &mut Tx, tenant: TenantId, thread: i64, to: Option<UserId>) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query("UPDATE threads SET assigned_to = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(to)
        .bind(thread)
        .bind(tenant)
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn set_status(tx: &mut Tx, tenant: TenantId, thread: i64, status: &str) -> Result<(), sqlx::Error> {
    exec_tx!(tx, |c| sqlx::query("UPDATE threads SET status = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(status)
        .bind(thread)
        .bind(tenant)
        .execute(c)
        .await)?;
    Ok(())
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Choice {
    pub id: i64,
    pub label: String,
}

/// The firm's active staff, who may be assigned a thread.
pub async fn staff_members(db: &Db, tenant: TenantId) -> Result<Vec<Choice>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, full_name AS label FROM users
         WHERE tenant_id = $1 AND client_id IS NULL AND active ORDER BY full_name, id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

/// The firm's clients, for the inbox filter.
pub async fn clients(db: &Db, tenant: TenantId) -> Result<Vec<Choice>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, code || ' — ' || name AS label FROM clients WHERE tenant_id = $1 AND NOT archived ORDER BY name, id"
    )
    .bind(tenant)
    .fetch_all(p)
    .await)
}

/// A client's current sites, for the new thread form.
pub async fn client_sites(db: &Db, tenant: TenantId, client: ClientId) -> Result<Vec<Choice>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, name AS label FROM sites WHERE tenant_id = $1 AND client_id = $2 AND NOT archived
         ORDER BY name_key, id LIMIT 1000"
    )
    .bind(tenant)
    .bind(client)
    .fetch_all(p)
    .await)
}
