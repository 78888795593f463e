//! The documents feature's SQL. Every read takes the actor's scope: the tenant always, the own
//! client for client users, and invoices only for client users allowed to see them.

use crate::db::conditions::{Arg, Conditions, bind_all};
use sqlx::AssertSqlSafe;

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, DocumentId, FileId, Permission, SiteId, TenantId, UserId};
use crate::http::Actor;
use crate::{exec_tx, on_db, on_tx};

/// How a document reaches the client: filed on a site, or delivered by the firm as a report or
/// an invoice (listed under Mes rapports / Mes factures, "nouveau" until opened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    No,
    Report,
    Invoice,
}

impl Published {
    pub fn code(self) -> &'static str {
        match self {
            Published::No => "",
            Published::Report => "report",
            Published::Invoice => "invoice",
        }
    }

    pub fn parse(code: &str) -> Option<Published> {
        match code {
            "" => Some(Published::No),
            "report" => Some(Published::Report),
            "invoice" => Some(Published::Invoice),
            _ => None,
        }
    }
}

/// A document about to be written; its file is already stored and has its row.
#[derive(Clone, Debug)]
pub struct NewDocument<'a> {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub site_id: Option<SiteId>,
    pub file_id: FileId,
    pub document_type: &'a str,
    pub title: &'a str,
    pub created_by: Option<UserId>,
    pub api_token_id: Option<i64>,
    pub published: Published,
    pub twin_file_id: Option<FileId>,
}

/// What [`insert`] wrote: the new document, its version, and the document it replaced.
#[derive(Clone, Copy, Debug)]
pub struct Inserted {
    pub id: DocumentId,
    pub version: i64,
    pub replaced: Option<DocumentId>,
}

/// Writes a document in the caller's transaction. A document of the same site, type and name
/// (folded) becomes its previous version: it stays, reachable from the new one, but lists show
/// only the newest.
pub async fn insert(tx: &mut Tx, new: &NewDocument<'_>) -> Result<Inserted, sqlx::Error> {
    let name_key = search_key(&[new.title]);
    let previous: Option<(DocumentId, Option<i64>, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, lineage_id, version FROM documents
         WHERE tenant_id = $1 AND client_id = $2 AND (site_id = $3 OR ($3 IS NULL AND site_id IS NULL))
           AND document_type = $4 AND name_key = $5 AND is_current = TRUE
         ORDER BY version DESC, id DESC LIMIT 1"
    )
    .bind(new.tenant_id)
    .bind(new.client_id)
    .bind(new.site_id)
    .bind(new.document_type)
    .bind(&name_key)
    .fetch_optional(c)
    .await)?;
    if let Some((old, _, _)) = previous {
        exec_tx!(tx, |c| sqlx::query("UPDATE documents SET is_current = FALSE WHERE id = $1 AND tenant_id = $2")
            .bind(old)
            .bind(new.tenant_id)
            .execute(c)
            .await)?;
    }
    let version = previous.map(|(_, _, v)| v + 1).unwrap_or(1);
    let lineage = previous.map(|(old, lineage, _)| lineage.unwrap_or(old.0));
    let now = now_ms();
    let published_at = (new.published != Published::No).then_some(now);
    let id: DocumentId = on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO documents (tenant_id, client_id, site_id, file_id, document_type, title, created_by, created_at,
                                lineage_id, version, is_current, name_key, published_as, published_at, twin_file_id,
                                api_token_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $12, $13, $14, $15) RETURNING id"
    )
    .bind(new.tenant_id)
    .bind(new.client_id)
    .bind(new.site_id)
    .bind(new.file_id)
    .bind(new.document_type)
    .bind(new.title)
    .bind(new.created_by)
    .bind(now)
    .bind(lineage)
    .bind(version)
    .bind(&name_key)
    .bind(new.published.code())
    .bind(published_at)
    .bind(new.twin_file_id)
    .bind(new.api_token_id)
    .fetch_one(c)
    .await
    })?;
    if lineage.is_none() {
        exec_tx!(tx, |c| sqlx::query("UPDATE documents SET lineage_id = id WHERE id = $1").bind(id).execute(c).await)?;
    }
    Ok(Inserted { id, version, replaced: previous.map(|(old, _, _)| old) })
}

/// A document with its file and its site, as lists and pages show it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DocumentRow {
    pub id: DocumentId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub client_name: String,
    pub site_id: Option<SiteId>,
    pub site_name: Option<String>,
    pub document_type: String,
    pub title: String,
    pub version: i64,
    pub is_current: bool,
    pub lineage_id: i64,
    pub published_as: String,
    pub published_at: Option<i64>,
    pub first_seen_at: Option<i64>,
    pub file_id: FileId,
    pub twin_file_id: Option<FileId>,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub original_name: String,
    pub created_at: i64,
    pub uploader: Option<String>,
}

const ROW_COLUMNS: &str = "d.id, d.tenant_id, d.client_id, cl.name AS client_name, d.site_id, s.name AS site_name,
    d.document_type, d.title, d.version, d.is_current, COALESCE(d.lineage_id, d.id) AS lineage_id, d.published_as,
    d.published_at, d.first_seen_at, d.file_id, d.twin_file_id, f.sha256, f.size_bytes, f.content_type,
    f.original_name, d.created_at, u.full_name AS uploader";

const ROW_JOINS: &str = "FROM documents d
    JOIN files f ON f.id = d.file_id AND f.tenant_id = d.tenant_id
    JOIN clients cl ON cl.id = d.client_id AND cl.tenant_id = d.tenant_id
    LEFT JOIN sites s ON s.id = d.site_id AND s.tenant_id = d.tenant_id
    LEFT JOIN users u ON u.id = d.created_by AND u.tenant_id = d.tenant_id";

/// The scope every read applies, as binds `$1` tenant, `$2` client (NULL for staff), `$3`
/// whether invoices are hidden (client users without the permission).
const SCOPE: &str = "d.tenant_id = $1 AND ($2 IS NULL OR d.client_id = $2)
    AND ($3 = FALSE OR (d.document_type <> 'invoice' AND d.published_as <> 'invoice'))";

/// Whether the actor must not see invoices: client users without "Voit les factures".
pub fn hides_invoices(actor: &Actor) -> bool {
    actor.client_scope().is_some() && !actor.can(Permission::SeeInvoices)
}

/// The document if the actor may see it. `None` is the same answer for an unknown id and for
/// someone else's document.
pub async fn find_visible(db: &Db, actor: &Actor, id: DocumentId) -> Result<Option<DocumentRow>, sqlx::Error> {
    let sql = format!("SELECT {ROW_COLUMNS} {ROW_JOINS} WHERE {SCOPE} AND d.id = $4");
    on_db!(db, |p| sqlx::query_as(AssertSqlSafe(sql.clone()))
        .bind(actor.tenant_id)
        .bind(actor.client_scope())
        .bind(hides_invoices(actor))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Every version of a document's lineage the actor may see, newest first.
pub async fn versions(db: &Db, actor: &Actor, lineage: i64) -> Result<Vec<DocumentRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} {ROW_JOINS} WHERE {SCOPE} AND COALESCE(d.lineage_id, d.id) = $4
         ORDER BY d.version DESC, d.id DESC"
    );
    on_db!(db, |p| sqlx::query_as(AssertSqlSafe(sql.clone()))
        .bind(actor.tenant_id)
        .bind(actor.client_scope())
        .bind(hides_invoices(actor))
        .bind(lineage)
        .fetch_all(p)
        .await)
}

/// Documents of several ids the actor may see (bulk download), in the order of their sites.
pub async fn visible_among(db: &Db, actor: &Actor, ids: &[i64]) -> Result<Vec<DocumentRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT {ROW_COLUMNS} {ROW_JOINS} WHERE {SCOPE} AND d.id IN ({list})
         ORDER BY s.name, d.document_type, d.title, d.version DESC"
    );
    on_db!(db, |p| sqlx::query_as(AssertSqlSafe(sql.clone()))
        .bind(actor.tenant_id)
        .bind(actor.client_scope())
        .bind(hides_invoices(actor))
        .fetch_all(p)
        .await)
}

/// How a document list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DocumentSort {
    /// Newest first (the default).
    #[default]
    Newest,
    Oldest,
    Title,
    Site,
    Type,
}

impl DocumentSort {
    pub const ALL: [DocumentSort; 5] =
        [DocumentSort::Newest, DocumentSort::Oldest, DocumentSort::Title, DocumentSort::Site, DocumentSort::Type];

    pub fn code(self) -> &'static str {
        match self {
            DocumentSort::Newest => "recent",
            DocumentSort::Oldest => "ancien",
            DocumentSort::Title => "nom",
            DocumentSort::Site => "chantier",
            DocumentSort::Type => "type",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DocumentSort::Newest => "Plus récents d'abord",
            DocumentSort::Oldest => "Plus anciens d'abord",
            DocumentSort::Title => "Nom",
            DocumentSort::Site => "Chantier",
            DocumentSort::Type => "Type",
        }
    }

    pub fn parse(code: &str) -> DocumentSort {
        DocumentSort::ALL.into_iter().find(|s| s.code() == code).unwrap_or_default()
    }

    fn order_by(self) -> &'static str {
        match self {
            DocumentSort::Newest => "d.created_at DESC, d.id DESC",
            DocumentSort::Oldest => "d.created_at ASC, d.id ASC",
            DocumentSort::Title => "d.name_key ASC, d.id DESC",
            DocumentSort::Site => "s.name_key ASC, d.created_at DESC, d.id DESC",
            DocumentSort::Type => "d.document_type ASC, d.created_at DESC, d.id DESC",
        }
    }
}

/// The criteria of a document list. Empty criteria list every current document in scope.
#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub client: Option<ClientId>,
    pub site: Option<SiteId>,
    pub document_type: Option<String>,
    /// Words found in the title or the file name (folded).
    pub text: Option<String>,
    /// Created on or after / before (ms, from calendar days in Europe/Paris).
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// `Some(Report|Invoice)`: only what the firm published as such.
    pub published: Option<Published>,
    /// Only published documents no user of the client opened yet.
    pub only_new: bool,
    pub sort: DocumentSort,
}

/// One page of current documents matching `filter` in the actor's scope, and how many there are.
pub async fn search(
    db: &Db,
    actor: &Actor,
    filter: &DocumentFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<DocumentRow>, i64), sqlx::Error> {
    // Only the criteria given become conditions: `($n IS NULL OR …)` guards made every list
    // scan the firm's documents (200 ms at 250,000) instead of the client's or the site's index.
    let mut c = Conditions::default();
    let tenant = c.bind(Arg::Int(actor.tenant_id.0));
    c.push(format!("d.tenant_id = {tenant} AND d.is_current = TRUE"));
    for client in [actor.client_scope(), filter.client].into_iter().flatten() {
        let p = c.bind(Arg::Int(client.0));
        c.push(format!("d.client_id = {p}"));
    }
    if hides_invoices(actor) {
        c.push("d.document_type <> 'invoice' AND d.published_as <> 'invoice'");
    }
    if let Some(site) = filter.site {
        let p = c.bind(Arg::Int(site.0));
        c.push(format!("d.site_id = {p}"));
    }
    if let Some(t) = &filter.document_type {
        let p = c.bind(Arg::Text(t.clone()));
        c.push(format!("d.document_type = {p}"));
    }
    if let Some(text) = filter.text.as_deref() {
        let p = c.bind(Arg::Text(crate::domain::text::like_pattern(text)));
        c.push(format!("d.name_key LIKE {p}"));
    }
    if let Some(from) = filter.from_ms {
        let p = c.bind(Arg::Int(from));
        c.push(format!("d.created_at >= {p}"));
    }
    if let Some(until) = filter.until_ms {
        let p = c.bind(Arg::Int(until));
        c.push(format!("d.created_at < {p}"));
    }
    if let Some(published) = filter.published {
        let p = c.bind(Arg::Text(published.code().to_string()));
        c.push(format!("d.published_as = {p}"));
    }
    if filter.only_new {
        c.push("d.published_as <> '' AND d.first_seen_at IS NULL");
    }
    let count_sql = format!("SELECT COUNT(*) FROM documents d WHERE {}", c.where_clause());
    let total: i64 =
        on_db!(db, |p| bind_all!(sqlx::query_scalar(AssertSqlSafe(count_sql.clone())), &c.args).fetch_one(p).await)?;
    if total == 0 {
        return Ok((Vec::new(), 0));
    }
    let (l, o) = (c.bind(Arg::Int(limit)), c.bind(Arg::Int(offset)));
    let sql = format!(
        "SELECT {ROW_COLUMNS} {ROW_JOINS} WHERE {} ORDER BY {} LIMIT {l} OFFSET {o}",
        c.where_clause(),
        filter.sort.order_by()
    );
    let rows: Vec<DocumentRow> =
        on_db!(db, |p| bind_all!(sqlx::query_as(AssertSqlSafe(sql.clone())), &c.args).fetch_all(p).await)?;
    Ok((rows, total))
}

/// Records that a user of the client opened a published document: it is no longer "nouveau".
/// Staff opening it changes nothing (the client has not seen it yet).
pub async fn mark_seen(db: &Db, actor: &Actor, doc: &DocumentRow) -> Result<(), sqlx::Error> {
    if actor.is_staff() || doc.published_as.is_empty() || doc.first_seen_at.is_some() {
        return Ok(());
    }
    on_db!(db, |p| sqlx::query(
        "UPDATE documents SET first_seen_at = $1, first_seen_by = $2
         WHERE id = $3 AND tenant_id = $4 AND client_id = $5 AND first_seen_at IS NULL"
    )
    .bind(now_ms())
    .bind(actor.user_id)
    .bind(doc.id)
    .bind(actor.tenant_id)
    .bind(actor.client_scope())
    .execute(p)
    .await
    .map(|_| ()))
}
