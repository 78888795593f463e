//! The firm's signing certificate: the identity that seals every document signed on screen.
//! A firm that never chose one gets a self-signed ECDSA certificate in its legal name the first
//! time one is needed; the admin may replace it by uploading a PKCS#12 file. The old ones stay,
//! inactive, so that what they sealed can still be traced to them. The stored PEM holds the
//! private key: it is read here and handed to the sealing code, never logged nor rendered.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ouvrage_pdfsign::{SignError, SigningIdentity};
use serde::Deserialize;

use super::store::tenant_name;
use crate::app::AppState;
use crate::domain::time::{fr_date, fr_datetime, now_ms};
use crate::domain::{TenantId, UserId};
use crate::features::audit::{self, AuditActor};
use crate::features::files::multipart::{Part, read_part};
use crate::http::{AdminActor, AppError, AppResult, Ctx, render};
use crate::{exec_tx, on_db, on_tx};

/// A PKCS#12 file is a few kilobytes; this only bounds what is read.
const MAX_PKCS12_BYTES: u64 = 1024 * 1024;

/// The identity in use, ready to seal.
pub struct ActiveIdentity {
    pub id: i64,
    pub subject: String,
    pub fingerprint: String,
    pub identity: SigningIdentity,
}

#[derive(sqlx::FromRow)]
struct StoredIdentity {
    id: i64,
    subject: String,
    fingerprint: String,
    pem: String,
}

/// The firm's active identity; generated and stored first when it has none.
pub async fn active(state: &AppState, tenant: TenantId, by: AuditActor) -> AppResult<ActiveIdentity> {
    if let Some(found) = load_active(state, tenant).await? {
        return Ok(found);
    }
    let legal_name = tenant_name(&state.db, tenant).await?;
    // A certificate name is at most 64 characters.
    let name: String = legal_name.trim().chars().take(64).collect();
    let name = if name.is_empty() { "ouvrage".to_string() } else { name };
    let generated = tokio::task::spawn_blocking(move || SigningIdentity::generate(&name, &name))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("signing certificate generation failed: {e}")))?;
    let mut tx = state.db.begin().await?;
    // Two first signatures at once must agree on one certificate: the tenant row is the lock
    // (SQLite's write transaction already serialises them).
    exec_tx!(&mut tx, |c| sqlx::query("UPDATE tenants SET legal_name = legal_name WHERE id = $1")
        .bind(tenant)
        .execute(c)
        .await)?;
    let existing: Option<i64> = on_tx!(&mut tx, |c| sqlx::query_scalar(
        "SELECT id FROM signing_identities WHERE tenant_id = $1 AND active = TRUE LIMIT 1"
    )
    .bind(tenant)
    .fetch_optional(c)
    .await)?;
    if existing.is_none() {
        insert(&mut tx, tenant, &generated, "generated", by.user_id).await?;
        let summary = format!("Certificat de signature généré : {}", generated.subject());
        audit::record(&mut tx, by, "create", "signing_identity", None, &summary).await?;
    }
    tx.commit().await?;
    load_active(state, tenant).await?.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no active signing identity")))
}

/// Gives a new firm its signing certificate (ECDSA, in its legal name) when it has none: run
/// when the firm is set up, so the admin sees it before the first signature.
pub async fn generate_at_setup(tx: &mut crate::db::Tx, tenant: TenantId) -> Result<(), sqlx::Error> {
    let existing: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM signing_identities WHERE tenant_id = $1 AND active = TRUE LIMIT 1"
    )
    .bind(tenant)
    .fetch_optional(c)
    .await)?;
    if existing.is_some() {
        return Ok(());
    }
    let legal_name: String = on_tx!(tx, |c| sqlx::query_scalar("SELECT legal_name FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(c)
        .await)?;
    let name: String = legal_name.trim().chars().take(64).collect();
    let name = if name.is_empty() { "ouvrage".to_string() } else { name };
    match SigningIdentity::generate(&name, &name) {
        Ok(generated) => {
            insert(tx, tenant, &generated, "generated", None).await?;
        }
        // Not fatal to the set-up: the first signature generates it (see `active`).
        Err(e) => tracing::error!(error = %e, "signing certificate generation failed at set-up"),
    }
    Ok(())
}

async fn load_active(state: &AppState, tenant: TenantId) -> AppResult<Option<ActiveIdentity>> {
    let row: Option<StoredIdentity> = on_db!(&state.db, |p| sqlx::query_as(
        "SELECT id, subject, fingerprint, pem FROM signing_identities
         WHERE tenant_id = $1 AND active = TRUE ORDER BY id DESC LIMIT 1"
    )
    .bind(tenant)
    .fetch_optional(p)
    .await)?;
    let Some(row) = row else { return Ok(None) };
    let identity = SigningIdentity::from_pem(&row.pem).map_err(|e| {
        // The error names the problem, never the PEM's content.
        AppError::Internal(anyhow::anyhow!("stored signing identity {} unreadable: {e}", row.id))
    })?;
    Ok(Some(ActiveIdentity { id: row.id, subject: row.subject, fingerprint: row.fingerprint, identity }))
}

async fn insert(
    tx: &mut crate::db::Tx,
    tenant: TenantId,
    identity: &SigningIdentity,
    source: &str,
    by: Option<UserId>,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO signing_identities (tenant_id, subject, fingerprint, not_after, source, pem, active, created_by,
                                         created_at)
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8) RETURNING id"
    )
    .bind(tenant)
    .bind(identity.subject())
    .bind(identity.certificate_sha256())
    .bind(identity.not_after().saturating_mul(1000))
    .bind(source)
    .bind(identity.to_pem())
    .bind(by)
    .bind(now_ms())
    .fetch_one(c)
    .await)
}

// ---------------------------------------------------------------------------------------------
// The settings page (admin only: the certificate speaks for the whole firm)

#[derive(sqlx::FromRow)]
struct IdentitySummary {
    subject: String,
    fingerprint: String,
    not_after: i64,
    source: String,
    active: bool,
    created_at: i64,
    created_by_name: Option<String>,
}

pub struct IdentityItem {
    pub subject: String,
    pub fingerprint: String,
    pub expires: String,
    pub expired: bool,
    pub source: &'static str,
    pub created: String,
    pub created_by: String,
    pub active: bool,
}

fn source_label(code: &str) -> &'static str {
    match code {
        "generated" => "Généré automatiquement par ouvrage (certificat auto-signé)",
        "uploaded" => "Fichier PKCS#12 envoyé par l'administrateur",
        _ => "Autre",
    }
}

/// `AB:CD:…`: how certificate fingerprints are usually read out.
fn grouped(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect::<Vec<_>>().join(":")
}

#[derive(Template)]
#[template(path = "signatures/identity.html")]
pub struct IdentityPage {
    pub ctx: Ctx,
    pub current: Option<IdentityItem>,
    pub previous: Vec<IdentityItem>,
    pub legal_name: String,
    pub upload_action: String,
    pub errors: Vec<String>,
    pub notice: &'static str,
}

async fn identity_page(
    state: &AppState,
    ctx: Ctx,
    tenant: TenantId,
    errors: Vec<String>,
    notice: &'static str,
) -> AppResult<IdentityPage> {
    let rows: Vec<IdentitySummary> = on_db!(&state.db, |p| {
        sqlx::query_as(
        "SELECT i.subject, i.fingerprint, i.not_after, i.source, i.active, i.created_at, u.full_name AS created_by_name
         FROM signing_identities i LEFT JOIN users u ON u.id = i.created_by AND u.tenant_id = i.tenant_id
         WHERE i.tenant_id = $1 ORDER BY i.active DESC, i.id DESC"
    )
    .bind(tenant)
    .fetch_all(p)
    .await
    })?;
    let now = now_ms();
    let mut items = rows.into_iter().map(|r| IdentityItem {
        subject: r.subject,
        fingerprint: grouped(&r.fingerprint),
        expires: fr_date(r.not_after),
        expired: r.not_after < now,
        source: source_label(&r.source),
        created: fr_datetime(r.created_at),
        created_by: r.created_by_name.unwrap_or_else(|| "ouvrage".into()),
        active: r.active,
    });
    let first = items.next();
    let (current, previous) = match first {
        Some(f) if f.active => (Some(f), items.collect()),
        Some(f) => (None, std::iter::once(f).chain(items).collect()),
        None => (None, Vec::new()),
    };
    Ok(IdentityPage {
        upload_action: format!("/bo/parametres/signature?_csrf={}", ctx.csrf),
        ctx: ctx.with_nav("settings"),
        current,
        previous,
        legal_name: tenant_name(&state.db, tenant).await?,
        errors,
        notice,
    })
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    msg: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    AdminActor(actor): AdminActor,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let notice = match q.msg.as_deref() {
        Some("certificat") => "Nouveau certificat enregistré : il scelle désormais les documents signés.",
        _ => "",
    };
    let page = identity_page(&state, ctx, actor.tenant_id, Vec::new(), notice).await?;
    Ok(render(&page)?.into_response())
}

/// Receives a PKCS#12 file and its password. Anything wrong (not a PKCS#12, wrong password,
/// no key, expired) leaves the current certificate in place and says why.
pub async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    AdminActor(actor): AdminActor,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let refuse = |state: AppState, ctx: Ctx, status: StatusCode, message: String| async move {
        let page = identity_page(&state, ctx, actor.tenant_id, vec![message], "").await?;
        Ok::<Response, AppError>((status, render(&page)?).into_response())
    };
    let mut file: Option<bytes::Bytes> = None;
    let mut password = String::new();
    let Ok(mut multipart) = multipart else {
        let msg = "Le formulaire n'a pas été reçu correctement : choisissez le fichier puis renvoyez-le.".to_string();
        return refuse(state, ctx, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    };
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                let msg = "L'envoi a été interrompu ou est mal formé : choisissez à nouveau le fichier.".to_string();
                return refuse(state, ctx, StatusCode::BAD_REQUEST, msg).await;
            }
        };
        match read_part(&mut field, MAX_PKCS12_BYTES).await {
            Ok(Part::File { bytes, .. }) => file = Some(bytes),
            Ok(Part::Text { name, value }) if name == "password" => password = value,
            Ok(Part::TooLarge { .. }) => {
                let msg = "Ce fichier est trop volumineux pour être un certificat PKCS#12 (1 Mo au plus).".to_string();
                return refuse(state, ctx, StatusCode::PAYLOAD_TOO_LARGE, msg).await;
            }
            Ok(_) => {}
            Err(_) => {
                let msg = "L'envoi a été interrompu ou est mal formé : choisissez à nouveau le fichier.".to_string();
                return refuse(state, ctx, StatusCode::BAD_REQUEST, msg).await;
            }
        }
    }
    let Some(file) = file else {
        let msg = "Choisissez le fichier du certificat (.p12 ou .pfx).".to_string();
        return refuse(state, ctx, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    };
    let read = tokio::task::spawn_blocking(move || SigningIdentity::from_pkcs12(&file, &password))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let identity = match read {
        Ok(i) => i,
        Err(SignError::Internal { .. }) => {
            let msg = "Ce certificat n'a pas pu être lu : vérifiez le fichier et son mot de passe.".to_string();
            return refuse(state, ctx, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
        }
        Err(e) => return refuse(state, ctx, StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).await,
    };
    let now = now_ms();
    if identity.not_after().saturating_mul(1000) < now {
        let msg = format!(
            "Ce certificat a expiré le {} : choisissez un certificat en cours de validité.",
            fr_date(identity.not_after() * 1000)
        );
        return refuse(state, ctx, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    }
    let mut tx = state.db.begin().await?;
    exec_tx!(&mut tx, |c| sqlx::query(
        "UPDATE signing_identities SET active = FALSE WHERE tenant_id = $1 AND active = TRUE"
    )
    .bind(actor.tenant_id)
    .execute(c)
    .await)?;
    let id = insert(&mut tx, actor.tenant_id, &identity, "uploaded", Some(actor.user_id)).await?;
    let summary = format!("Certificat de signature remplacé : {} (PKCS#12 envoyé)", identity.subject());
    audit::record(&mut tx, &actor, "update", "signing_identity", Some(id), &summary).await?;
    tx.commit().await?;
    Ok(Redirect::to("/bo/parametres/signature?msg=certificat").into_response())
}
