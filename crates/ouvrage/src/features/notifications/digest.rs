//! Digest e-mails: at most one per user and period (day or ISO week, Europe/Paris), listing
//! what is new since the last one.
//!
//! A run has two steps per batch of users, each its own transaction:
//! 1. **claim**: insert the `digests` row (status `composing`; its UNIQUE (user_id,
//!    period_key) makes a second instance or a re-run a no-op) and attach the user's pending
//!    notifications to it (`claimed`). Users who want no digest get their pending
//!    notifications marked `skipped` (they stay in the in-app list).
//! 2. **compose**: lock the digest, re-check that each claimed notification is still visible
//!    to its recipient (`skipped` otherwise), render the mail, queue it in the outbox, mark
//!    the notifications `sent` and the digest `queued`. A digest with nothing left visible is
//!    `closed` without a mail.
//!
//! A worker that dies between the two steps leaves its digests `composing` with their
//! notifications still attached: the next run composes them first, so nothing is lost and
//! nothing is mailed twice (the compose step only takes digests still `composing`, under a
//! row lock on PostgreSQL and the write lock on SQLite).

use std::collections::HashMap;

use askama::Template;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use super::placeholders;
use super::unsubscribe::unsubscribe_url;
use crate::app::AppState;
use crate::db::{Db, Engine, Tx};
use crate::domain::time::{fr_datetime, now_ms};
use crate::domain::{ClientId, Permission, Permissions, Role, TenantId, UserId};
use crate::features::users::account::{DigestFrequency, effective_digest};
use crate::{exec_tx, on_db, on_tx};

/// The job kind of the periodic digest run.
pub const KIND: &str = "compose_digests";
/// How often the scheduler runs it.
pub const EVERY_SECS: i64 = 15 * 60;
/// Digests leave at or after this hour (Europe/Paris), so that they arrive in the morning.
pub const SEND_FROM_HOUR: u32 = 7;
/// The notification kind whose visibility also depends on the "sees invoices" permission.
pub const INVOICE_KIND: &str = "new_invoice";
/// Users (and digests) handled per transaction.
const BATCH: usize = 500;

/// What a run did, for logs and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DigestRunStats {
    /// Users with pending notifications that were looked at.
    pub users: u64,
    /// Digests claimed by this run (one per user and period).
    pub claimed: u64,
    /// Digests left `composing` by an earlier run that this run finished.
    pub resumed: u64,
    /// Digests queued as e-mails.
    pub mailed: u64,
    /// Digests closed without an e-mail (nothing left visible).
    pub closed_empty: u64,
    /// Notifications listed in the queued e-mails.
    pub notifications_sent: u64,
    /// Notifications marked skipped (no digest wanted, or no longer visible).
    pub notifications_skipped: u64,
}

/// Whether a user's digest is due at a given moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Not now (before 07:00, or not the weekly day): pending notifications wait.
    NotYet,
    /// The user wants no digest: pending notifications are skipped.
    Skip,
    /// Due for this period (`daily:2026-11-23`, `weekly:2026-W48`): at most one digest each.
    Period(String),
}

/// THE schedule rule, in Europe/Paris time: daily digests from 07:00 each calendar day, weekly
/// ones from 07:00 on the chosen day, at most one per ISO week.
pub fn due_period(freq: DigestFrequency, now: DateTime<Utc>) -> Due {
    let local = now.with_timezone(&Paris);
    match freq {
        DigestFrequency::None => Due::Skip,
        _ if local.hour() < SEND_FROM_HOUR => Due::NotYet,
        DigestFrequency::Daily => Due::Period(format!("daily:{}", local.format("%Y-%m-%d"))),
        DigestFrequency::Weekly(day) if local.weekday() == day => {
            Due::Period(format!("weekly:{}", local.format("%G-W%V")))
        }
        DigestFrequency::Weekly(_) => Due::NotYet,
    }
}

/// The periodic job: composes what is due now.
pub async fn run(state: &AppState, _payload: &serde_json::Value) -> anyhow::Result<()> {
    let stats = compose_due_digests(state, Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("composition des récapitulatifs de notifications : {e}"))?;
    if stats != DigestRunStats::default() {
        tracing::info!(?stats, "digests composed");
    }
    Ok(())
}

/// Finishes the digests an earlier run left `composing`, then claims and composes every digest
/// due at `now` (a parameter, so tests and the benchmark control the clock).
pub async fn compose_due_digests(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<DigestRunStats> {
    let mut stats = DigestRunStats::default();
    resume_open(state, &mut stats).await?;
    claim_loop(&state.db, now, &mut stats, Some(state)).await?;
    Ok(stats)
}

/// Only the claim step of a run (what a worker killed before composing leaves behind): the
/// digests stay `composing` until the next [`compose_due_digests`].
pub async fn claim_due_digests(db: &Db, now: DateTime<Utc>) -> anyhow::Result<DigestRunStats> {
    let mut stats = DigestRunStats::default();
    claim_loop(db, now, &mut stats, None).await?;
    Ok(stats)
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: UserId,
    tenant_id: TenantId,
    active: bool,
    digest_frequency: String,
    digest_weekday: Option<i64>,
    default_digest_frequency: String,
    default_digest_weekday: i64,
}

/// Users with pending notifications, by id after `after`: first their ids (an index-only
/// range of the pending notifications), then their rows by primary key.
async fn pending_users(db: &Db, after: i64) -> Result<Vec<Candidate>, sqlx::Error> {
    let ids: Vec<UserId> = on_db!(db, |p| sqlx::query_scalar(
        "SELECT DISTINCT user_id FROM notifications WHERE digest_state = 'pending' AND user_id > $1
         ORDER BY user_id LIMIT $2"
    )
    .bind(after)
    .bind(BATCH as i64)
    .fetch_all(p)
    .await)?;
    let mut out: Vec<Candidate> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(db.engine(), 1)) {
        let sql = format!(
            "SELECT u.id, u.tenant_id, u.active, u.digest_frequency, u.digest_weekday,
                    t.default_digest_frequency, t.default_digest_weekday
             FROM users u JOIN tenants t ON t.id = u.tenant_id
             WHERE u.id IN ({})",
            placeholders(1, chunk.len())
        );
        let rows: Vec<Candidate> = on_db!(db, |p| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(p).await
        })?;
        out.extend(rows);
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

async fn claim_loop(
    db: &Db,
    now: DateTime<Utc>,
    stats: &mut DigestRunStats,
    compose: Option<&AppState>,
) -> anyhow::Result<()> {
    let mut after = 0;
    loop {
        let batch = pending_users(db, after).await?;
        let Some(last) = batch.last() else { break };
        after = last.id.0;
        stats.users += batch.len() as u64;
        let mut skip = Vec::new();
        let mut due = Vec::new();
        for c in &batch {
            let freq = effective_digest(
                &c.digest_frequency,
                c.digest_weekday,
                &c.default_digest_frequency,
                c.default_digest_weekday,
            );
            match due_period(freq, now) {
                _ if !c.active => skip.push(c.id),
                Due::Skip => skip.push(c.id),
                Due::Period(key) => due.push((c.tenant_id, c.id, key)),
                Due::NotYet => {}
            }
        }
        let claimed = claim_batch(db, now, &skip, &due, stats).await?;
        if let Some(state) = compose
            && !claimed.is_empty()
        {
            compose_batch(state, &claimed, stats).await?;
        }
        if batch.len() < BATCH {
            break;
        }
    }
    Ok(())
}

/// Bound values per statement. SQLite finds each parameter by a linear scan of the statement's
/// parameter list, so one statement with thousands of them costs quadratically: there, a batch
/// is written with several shorter statements. PostgreSQL takes a whole batch at once.
fn max_params(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 240,
        Engine::Postgres => 8_000,
    }
}

/// Rows per statement for a statement binding `per_row` values per row.
fn rows_per_statement(engine: Engine, per_row: usize) -> usize {
    (max_params(engine) / per_row.max(1)).max(1)
}

/// The claim transaction of one batch; returns the ids of the digests it created.
async fn claim_batch(
    db: &Db,
    now: DateTime<Utc>,
    skip: &[UserId],
    due: &[(TenantId, UserId, String)],
    stats: &mut DigestRunStats,
) -> Result<Vec<i64>, sqlx::Error> {
    if skip.is_empty() && due.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin().await?;
    let engine = tx.engine();
    for chunk in skip.chunks(rows_per_statement(engine, 1)) {
        let sql = format!(
            "UPDATE notifications SET digest_state = 'skipped' WHERE digest_state = 'pending' AND user_id IN ({})",
            placeholders(1, chunk.len())
        );
        stats.notifications_skipped += exec_tx!(&mut tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(c).await
        })?;
    }
    let created = now.timestamp_millis();
    let mut claimed: Vec<(i64, UserId)> = Vec::new();
    for chunk in due.chunks(rows_per_statement(engine, 4)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, 'composing', ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO digests (tenant_id, user_id, period_key, status, created_at) VALUES {}
             ON CONFLICT (user_id, period_key) DO NOTHING RETURNING id, user_id",
            values.join(", ")
        );
        let rows: Vec<(i64, UserId)> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for (tenant, user, key) in chunk {
                q = q.bind(*tenant).bind(*user).bind(key.as_str()).bind(created);
            }
            q.fetch_all(c).await
        })?;
        claimed.extend(rows);
    }
    for chunk in claimed.chunks(rows_per_statement(engine, 2)) {
        // Both lists spelled out, so that the plan is index lookups whatever the statistics say.
        let sql = format!(
            "UPDATE notifications SET digest_state = 'claimed', digest_id = d.id FROM digests d
             WHERE d.id IN ({}) AND notifications.digest_state = 'pending' AND notifications.user_id IN ({})
               AND notifications.user_id = d.user_id AND notifications.tenant_id = d.tenant_id",
            placeholders(1, chunk.len()),
            placeholders(chunk.len() + 1, chunk.len())
        );
        exec_tx!(&mut tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, _) in chunk {
                q = q.bind(*id);
            }
            for (_, user) in chunk {
                q = q.bind(*user);
            }
            q.execute(c).await
        })?;
    }
    tx.commit().await?;
    stats.claimed += claimed.len() as u64;
    Ok(claimed.into_iter().map(|(id, _)| id).collect())
}

/// Composes every digest still `composing` (left by a run that died before composing).
async fn resume_open(state: &AppState, stats: &mut DigestRunStats) -> anyhow::Result<()> {
    let mut after = 0i64;
    loop {
        let ids: Vec<i64> = on_db!(&state.db, |p| sqlx::query_scalar(
            "SELECT id FROM digests WHERE status = 'composing' AND id > $1 ORDER BY id LIMIT $2"
        )
        .bind(after)
        .bind(BATCH as i64)
        .fetch_all(p)
        .await)?;
        let Some(&last) = ids.last() else { break };
        after = last;
        stats.resumed += compose_batch(state, &ids, stats).await?;
        if ids.len() < BATCH {
            break;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OpenDigest {
    id: i64,
    user_id: UserId,
    period_key: String,
}

#[derive(sqlx::FromRow)]
struct Recipient {
    id: UserId,
    tenant_id: TenantId,
    email: String,
    full_name: String,
    active: bool,
    client_id: Option<ClientId>,
    role: String,
    permissions: String,
    firm: String,
}

#[derive(sqlx::FromRow)]
struct ClaimedNote {
    id: i64,
    digest_id: i64,
    tenant_id: TenantId,
    client_id: Option<ClientId>,
    kind: String,
    title: String,
    link: String,
    site_label: String,
    created_at: i64,
}

/// Whether the recipient may still see the notification now: an active account of the same
/// firm; for a client account, an event of their current company and, for an invoice, the
/// permission to see invoices (client admins see everything of their company).
fn still_visible(user: &Recipient, note: &ClaimedNote) -> bool {
    if !user.active || user.tenant_id != note.tenant_id {
        return false;
    }
    let Some(role) = Role::parse(&user.role) else { return false };
    if role.is_staff() {
        return user.client_id.is_none();
    }
    let Some(client) = user.client_id else { return false };
    note.client_id == Some(client)
        && (note.kind != INVOICE_KIND
            || role == Role::ClientAdmin
            || Permissions::parse(&user.permissions).has(Permission::SeeInvoices))
}

/// A mail ready to be queued for one digest.
struct Outgoing {
    digest_id: i64,
    tenant_id: TenantId,
    message_id: String,
    to: String,
    subject: String,
    text: String,
    html: String,
    headers: String,
}

/// The compose transaction for the given digests (those still `composing`); returns how many
/// it composed.
async fn compose_batch(state: &AppState, ids: &[i64], stats: &mut DigestRunStats) -> anyhow::Result<u64> {
    let mut tx = state.db.begin().await?;
    let engine = tx.engine();
    let lock = match engine {
        // Another instance composing the same digest skips it instead of waiting.
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        // The write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        Engine::Sqlite => "",
    };
    let mut digests: Vec<OpenDigest> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(engine, 1)) {
        let sql = format!(
            "SELECT id, user_id, period_key FROM digests WHERE status = 'composing' AND id IN ({}) ORDER BY id{lock}",
            placeholders(1, chunk.len())
        );
        let rows: Vec<OpenDigest> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?;
        digests.extend(rows);
    }
    if digests.is_empty() {
        return Ok(0);
    }
    let mut user_ids: Vec<UserId> = digests.iter().map(|d| d.user_id).collect();
    user_ids.sort();
    user_ids.dedup();
    let mut recipients: HashMap<UserId, Recipient> = HashMap::with_capacity(user_ids.len());
    for chunk in user_ids.chunks(rows_per_statement(engine, 1)) {
        let sql = format!(
            "SELECT u.id, u.tenant_id, u.email, u.full_name, u.active, u.client_id, u.role, u.permissions,
                    t.legal_name AS firm
             FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id IN ({})",
            placeholders(1, chunk.len())
        );
        let rows: Vec<Recipient> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?;
        recipients.extend(rows.into_iter().map(|r| (r.id, r)));
    }
    let mut by_digest: HashMap<i64, Vec<ClaimedNote>> = HashMap::with_capacity(digests.len());
    for chunk in digests.chunks(rows_per_statement(engine, 1)) {
        let sql = format!(
            "SELECT n.id, n.digest_id, n.tenant_id, n.client_id, n.kind, n.title, n.link, n.site_label, n.created_at
             FROM digests d
             JOIN notifications n ON n.digest_state = 'claimed' AND n.user_id = d.user_id AND n.digest_id = d.id
             WHERE d.id IN ({})",
            placeholders(1, chunk.len())
        );
        let rows: Vec<ClaimedNote> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for d in chunk {
                q = q.bind(d.id);
            }
            q.fetch_all(c).await
        })?;
        for n in rows {
            by_digest.entry(n.digest_id).or_default().push(n);
        }
    }

    let now = now_ms();
    let base = state.config.base_url.trim_end_matches('/');
    let mut hidden: Vec<i64> = Vec::new();
    let mut sent: Vec<i64> = Vec::new();
    let mut empty: Vec<i64> = Vec::new();
    let mut mails: Vec<Outgoing> = Vec::new();
    for d in &digests {
        let mut notes = by_digest.remove(&d.id).unwrap_or_default();
        notes.sort_by_key(|n| (n.created_at, n.id));
        let Some(user) = recipients.get(&d.user_id) else {
            hidden.extend(notes.iter().map(|n| n.id));
            empty.push(d.id);
            continue;
        };
        let (visible, gone): (Vec<ClaimedNote>, Vec<ClaimedNote>) =
            notes.into_iter().partition(|n| still_visible(user, n));
        hidden.extend(gone.iter().map(|n| n.id));
        if visible.is_empty() {
            empty.push(d.id);
            continue;
        }
        sent.extend(visible.iter().map(|n| n.id));
        let unsubscribe = unsubscribe_url(base, state.secret(), user.id);
        let rendered = render_digest(base, user, &d.period_key, &visible, &unsubscribe)?;
        mails.push(Outgoing {
            digest_id: d.id,
            tenant_id: user.tenant_id,
            // Led by the digest id, so that the unique index grows at its end instead of taking
            // random inserts; the random part keeps it unguessable and globally unique.
            message_id: format!("<digest-{}-{}@ouvrage>", d.id, &crate::http::session::random_token()[..16]),
            to: user.email.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            headers: serde_json::json!({
                "List-Unsubscribe": format!("<{unsubscribe}>"),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            })
            .to_string(),
        });
    }

    set_state(&mut tx, "skipped", &hidden).await?;
    set_state(&mut tx, "sent", &sent).await?;
    for chunk in empty.chunks(rows_per_statement(engine, 1)) {
        let sql = format!("UPDATE digests SET status = 'closed' WHERE id IN ({})", placeholders(1, chunk.len()));
        exec_tx!(&mut tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(c).await
        })?;
    }
    let mut pairs: Vec<(i64, i64)> = Vec::with_capacity(mails.len());
    for chunk in mails.chunks(rows_per_statement(engine, 8)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 8 * i;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, 'pending', 0, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO outbox (tenant_id, message_id, to_addr, subject, body_text, body_html, status, attempts,
                                 next_attempt_at, created_at, extra_headers)
             VALUES {} RETURNING id, message_id",
            values.join(", ")
        );
        let queued: Vec<(i64, String)> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for m in chunk {
                q = q
                    .bind(m.tenant_id)
                    .bind(&m.message_id)
                    .bind(&m.to)
                    .bind(&m.subject)
                    .bind(&m.text)
                    .bind(&m.html)
                    .bind(now)
                    .bind(&m.headers);
            }
            q.fetch_all(c).await
        })?;
        let outbox_of: HashMap<&str, i64> = queued.iter().map(|(id, mid)| (mid.as_str(), *id)).collect();
        for m in chunk {
            let outbox = outbox_of
                .get(m.message_id.as_str())
                .copied()
                .ok_or_else(|| anyhow::anyhow!("message du récapitulatif {} introuvable dans la file", m.digest_id))?;
            pairs.push((m.digest_id, outbox));
        }
    }
    for chunk in pairs.chunks(rows_per_statement(engine, 2)) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
        let sql = format!(
            "UPDATE digests SET status = 'queued', outbox_id = v.column2 FROM (VALUES {}) AS v
             WHERE digests.id = v.column1 AND digests.status = 'composing'",
            values.join(", ")
        );
        exec_tx!(&mut tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (digest, outbox) in chunk {
                q = q.bind(*digest).bind(*outbox);
            }
            q.execute(c).await
        })?;
    }
    tx.commit().await?;
    if !mails.is_empty() {
        state.mail_wakeup.notify_one();
    }
    stats.mailed += mails.len() as u64;
    stats.closed_empty += empty.len() as u64;
    stats.notifications_sent += sent.len() as u64;
    stats.notifications_skipped += hidden.len() as u64;
    Ok(digests.len() as u64)
}

/// Moves claimed notifications (by id, read as claimed under the digest's lock in this
/// transaction) to `sent` or `skipped`.
async fn set_state(tx: &mut Tx, state: &'static str, ids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(rows_per_statement(tx.engine(), 1) - 1) {
        let sql = format!("UPDATE notifications SET digest_state = $1 WHERE id IN ({})", placeholders(2, chunk.len()));
        exec_tx!(tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(c).await
        })?;
    }
    Ok(())
}

/// One line of a digest.
struct Item {
    title: String,
    url: String,
    when: String,
}

/// The lines of one site ("Autres nouveautés" for events without a site).
struct Group {
    label: String,
    items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "notifications/digest.html")]
struct DigestHtml<'a> {
    subject: &'a str,
    name: &'a str,
    intro: &'a str,
    groups: &'a [Group],
    list_url: &'a str,
    frequency: &'a str,
    unsubscribe_url: &'a str,
}

struct Rendered {
    subject: String,
    text: String,
    html: String,
}

/// The absolute URL of a notification's link; only local paths are followed, anything else
/// leads to the list of notifications.
fn absolute(base: &str, link: &str, fallback: &str) -> String {
    if link.starts_with('/') && !link.starts_with("//") && !link.starts_with("/\\") {
        format!("{base}{link}")
    } else {
        fallback.to_string()
    }
}

/// "du 23/11/2026" / "de la semaine 48", and the frequency's adjective, from the period key.
fn period_words(key: &str) -> (String, &'static str) {
    if let Some(day) = key.strip_prefix("daily:")
        && let Ok(date) = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
    {
        return (format!("du {}", date.format("%d/%m/%Y")), "quotidien");
    }
    if let Some(week) = key.strip_prefix("weekly:")
        && let Some((_, w)) = week.split_once("-W")
    {
        return (format!("de la semaine {}", w.trim_start_matches('0')), "hebdomadaire");
    }
    ("récentes".to_string(), "périodique")
}

fn render_digest(
    base: &str,
    user: &Recipient,
    period_key: &str,
    notes: &[ClaimedNote],
    unsubscribe: &str,
) -> anyhow::Result<Rendered> {
    let list_url =
        format!("{base}{}", if user.client_id.is_some() { "/espace/notifications" } else { "/bo/notifications" });
    // Sites in alphabetical order, then the events of no site.
    let mut groups: Vec<Group> = Vec::new();
    let mut others: Vec<Item> = Vec::new();
    let mut by_site: std::collections::BTreeMap<String, Vec<Item>> = std::collections::BTreeMap::new();
    for n in notes {
        let item =
            Item { title: n.title.clone(), url: absolute(base, &n.link, &list_url), when: fr_datetime(n.created_at) };
        let site = n.site_label.trim();
        if site.is_empty() {
            others.push(item);
        } else {
            by_site.entry(site.to_string()).or_default().push(item);
        }
    }
    groups.extend(by_site.into_iter().map(|(label, items)| Group { label, items }));
    if !others.is_empty() {
        groups.push(Group { label: "Autres nouveautés".into(), items: others });
    }
    let (period, frequency) = period_words(period_key);
    let count = notes.len();
    let subject = format!("Vos nouveautés {period} – {}", user.firm);
    let intro = format!(
        "Voici ce qui est nouveau sur votre espace {} : {count} {}.",
        user.firm,
        if count == 1 { "nouveauté" } else { "nouveautés" }
    );
    let name = user.full_name.trim();

    let mut text = format!("Bonjour {name},\n\n{intro}\n");
    for g in &groups {
        text.push_str(&format!("\n{}\n", g.label));
        for i in &g.items {
            text.push_str(&format!("- {} ({})\n  {}\n", i.title, i.when, i.url));
        }
    }
    text.push_str(&format!(
        "\nToutes vos notifications : {list_url}\n\n--\nVous recevez ce récapitulatif {frequency} selon vos préférences de notification.\nPour ne plus le recevoir : {unsubscribe}\n"
    ));
    let html = DigestHtml {
        subject: &subject,
        name,
        intro: &intro,
        groups: &groups,
        list_url: &list_url,
        frequency,
        unsubscribe_url: unsubscribe,
    }
    .render()?;
    Ok(Rendered { subject, text, html })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Weekday};

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Paris.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_digests_wait_for_seven_in_paris() {
        // 06:59 in Paris is 05:59 UTC in winter: not yet.
        assert_eq!(due_period(DigestFrequency::Daily, paris(2026, 11, 23, 6, 59)), Due::NotYet);
        assert_eq!(
            due_period(DigestFrequency::Daily, paris(2026, 11, 23, 7, 0)),
            Due::Period("daily:2026-11-23".into())
        );
        // The Paris calendar day counts, not the UTC one: 23:30 in Paris is 22:30 UTC.
        assert_eq!(
            due_period(DigestFrequency::Daily, paris(2026, 11, 23, 23, 30)),
            Due::Period("daily:2026-11-23".into())
        );
        // Summer time: 07:05 in Paris is 05:05 UTC.
        assert_eq!(due_period(DigestFrequency::Daily, paris(2026, 7, 1, 7, 5)), Due::Period("daily:2026-07-01".into()));
        assert_eq!(due_period(DigestFrequency::None, paris(2026, 11, 23, 9, 0)), Due::Skip);
    }

    #[test]
    fn weekly_digests_go_on_their_day_once_per_iso_week() {
        let wed = DigestFrequency::Weekly(Weekday::Wed);
        // 2026-11-23 is a Monday (ISO week 48).
        assert_eq!(due_period(wed, paris(2026, 11, 23, 9, 0)), Due::NotYet);
        assert_eq!(due_period(wed, paris(2026, 11, 25, 6, 0)), Due::NotYet);
        assert_eq!(due_period(wed, paris(2026, 11, 25, 9, 0)), Due::Period("weekly:2026-W48".into()));
        assert_eq!(due_period(wed, paris(2026, 12, 2, 9, 0)), Due::Period("weekly:2026-W49".into()));
        // ISO weeks straddle years: Wednesday 30 December 2026 belongs to 2026-W53.
        assert_eq!(due_period(wed, paris(2026, 12, 30, 9, 0)), Due::Period("weekly:2026-W53".into()));
    }

    #[test]
    fn period_words_read_in_french() {
        assert_eq!(period_words("daily:2026-11-23"), ("du 23/11/2026".to_string(), "quotidien"));
        assert_eq!(period_words("weekly:2026-W08"), ("de la semaine 8".to_string(), "hebdomadaire"));
    }

    #[test]
    fn only_local_links_are_followed() {
        let list = "https://x.fr/espace/notifications";
        assert_eq!(absolute("https://x.fr", "/espace/documents", list), "https://x.fr/espace/documents");
        assert_eq!(absolute("https://x.fr", "//evil.example/", list), list);
        assert_eq!(absolute("https://x.fr", "https://evil.example/", list), list);
        assert_eq!(absolute("https://x.fr", "", list), list);
    }
}
