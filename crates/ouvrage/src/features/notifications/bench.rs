//! The digest benchmark of `ouvrage bench`: a firm of `users` extranet users who each have
//! three pending notifications (two sites and an event without a site), then one timed
//! [`compose_due_digests`] run that mails all of them. Budget: 50,000 users in under 10 s.
//!
//! Run it on a state whose workers are not running (the outbox worker would start writing the
//! queued mails meanwhile): `AppState::new(config, db)` over the benchmark's database.

use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use super::digest::{DigestRunStats, compose_due_digests};
use crate::app::AppState;
use crate::domain::TenantId;
use crate::domain::time::now_ms;
use crate::{exec_tx, on_tx};

/// Users per client company of the generated firm.
const USERS_PER_CLIENT: usize = 5;
const ROWS_PER_INSERT: usize = 500;

#[derive(Clone, Debug, Serialize)]
pub struct DigestBench {
    pub users: usize,
    pub notifications: usize,
    /// Generating the firm (not part of the budget).
    pub seed_seconds: f64,
    /// The measured digest run.
    pub compose_seconds: f64,
    pub stats: DigestRunStats,
}

/// Generates the firm, then measures one digest run at 09:00 (Paris) today.
pub async fn bench_digests(state: &AppState, users: usize) -> anyhow::Result<DigestBench> {
    let started = Instant::now();
    let tenant = seed(state, users).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let notifications = users * 3;
    tracing::info!(tenant = %tenant, users, notifications, seed_seconds, "digest benchmark data ready");

    let started = Instant::now();
    let stats = compose_due_digests(state, nine_today()).await?;
    let compose_seconds = started.elapsed().as_secs_f64();
    Ok(DigestBench { users, notifications, seed_seconds, compose_seconds, stats })
}

fn nine_today() -> DateTime<Utc> {
    let today = Utc::now().with_timezone(&Paris).date_naive();
    let nine = today.and_hms_opt(9, 0, 0).expect("09:00 exists");
    Paris.from_local_datetime(&nine).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or_else(Utc::now)
}

async fn seed(state: &AppState, users: usize) -> anyhow::Result<TenantId> {
    let now = now_ms();
    let suffix: String = crate::http::session::random_token()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect::<String>()
        .to_lowercase();
    let slug = format!("bench-digests-{suffix}");
    let mut tx = state.db.begin().await?;
    let tenant: TenantId = on_tx!(&mut tx, |c| sqlx::query_scalar(
        "INSERT INTO tenants (slug, legal_name, created_at, default_digest_frequency) VALUES ($1, $2, $3, 'daily')
         RETURNING id"
    )
    .bind(&slug)
    .bind("Diagnostics de l'Ouest (banc d'essai)")
    .bind(now)
    .fetch_one(c)
    .await)?;

    let clients = users.div_ceil(USERS_PER_CLIENT);
    let mut client_ids: Vec<i64> = Vec::with_capacity(clients);
    for start in (0..clients).step_by(ROWS_PER_INSERT) {
        let n = ROWS_PER_INSERT.min(clients - start);
        let values: Vec<String> =
            (0..n).map(|i| format!("($1, ${}, ${}, 'builder', $2, $2)", 2 * i + 3, 2 * i + 4)).collect();
        let sql = format!(
            "INSERT INTO clients (tenant_id, code, name, kind, created_at, updated_at) VALUES {} RETURNING id",
            values.join(", ")
        );
        let ids: Vec<i64> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(now);
            for i in start..start + n {
                q = q.bind(format!("B{i:06}")).bind(format!("Constructions Banc {i}"));
            }
            q.fetch_all(c).await
        })?;
        client_ids.extend(ids);
    }

    for start in (0..users).step_by(ROWS_PER_INSERT) {
        let n = ROWS_PER_INSERT.min(users - start);
        let values: Vec<String> = (0..n)
            .map(|i| {
                format!("($1, ${}, ${}, ${}, 'client_user', '', '!', $2, $2, 'daily')", 3 * i + 3, 3 * i + 4, 3 * i + 5)
            })
            .collect();
        let sql = format!(
            "INSERT INTO users (tenant_id, client_id, email, full_name, role, permissions, password_hash,
                                created_at, updated_at, digest_frequency) VALUES {}",
            values.join(", ")
        );
        exec_tx!(&mut tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(now);
            for i in start..start + n {
                q = q
                    .bind(client_ids[i / USERS_PER_CLIENT])
                    .bind(format!("utilisateur{i}@{slug}.test"))
                    .bind(format!("Utilisateur {i}"));
            }
            q.execute(c).await
        })?;
    }

    // Three events per user: a report and a document on two sites, a message without a site.
    for (kind, key, title, site, link, age) in [
        (
            "new_report",
            "report",
            "Nouveau rapport disponible : test d'étanchéité à l'air",
            "Résidence Les Lilas – lot 12",
            "/espace/documents",
            3,
        ),
        (
            "new_document",
            "document",
            "Nouveau document : plan de masse",
            "Maison Durand – Rezé",
            "/espace/documents",
            2,
        ),
        ("new_message", "message", "Nouveau message de votre chargé d'affaires", "", "/espace/messagerie", 1),
    ] {
        exec_tx!(&mut tx, |c| {
            sqlx::query(
            "INSERT INTO notifications (tenant_id, user_id, client_id, site_label, kind, event_key, title, link, created_at)
             SELECT tenant_id, id, client_id, $2, $3, $4, $5, $6, $7 FROM users WHERE tenant_id = $1"
        )
        .bind(tenant)
        .bind(site)
        .bind(kind)
        .bind(format!("bench:{key}"))
        .bind(title)
        .bind(link)
        .bind(now - age * 3_600_000)
        .execute(c)
        .await
        })?;
    }
    tx.commit().await?;
    // Fresh statistics, as a database in service has (and as the firm generator leaves them).
    crate::exec_db!(&state.db, |p| sqlx::query("ANALYZE").execute(p).await)?;
    Ok(tenant)
}
