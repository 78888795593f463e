//! Logging in and out, forgotten passwords, temporary passwords that must be changed.

pub mod password;
pub mod store;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::time::{HOUR_MS, MINUTE_MS, fr_datetime, now_ms};
use crate::domain::{Email, Role, check_password_strength};
use crate::features::audit::{self, AuditActor};
use crate::features::mail::{self, OutgoingMail};
use crate::http::session::{self, SESSION_COOKIE, hash_token, random_token, removal_cookie, session_cookie};
use crate::http::{Actor, AppError, AppResult, Ctx, render};
use store::Limit;

/// Five wrong passwords on one account within 15 minutes lock it for 15 minutes.
pub const ACCOUNT_LIMIT: Limit = Limit { max: 5, window_ms: 15 * MINUTE_MS, lock_ms: 15 * MINUTE_MS };
/// Thirty failures from one address within 15 minutes lock that address out.
pub const IP_LIMIT: Limit = Limit { max: 30, window_ms: 15 * MINUTE_MS, lock_ms: 15 * MINUTE_MS };
/// Password-reset requests per address per hour.
pub const RESET_REQUEST_LIMIT: Limit = Limit { max: 10, window_ms: HOUR_MS, lock_ms: HOUR_MS };
pub const RESET_LINK_VALIDITY_MS: i64 = HOUR_MS;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/mot-de-passe-oublie", get(forgot_page).post(forgot))
        .route("/reinitialiser/{token}", get(reset_page).post(reset))
        .route("/mot-de-passe/changer", get(change_page).post(change))
}

/// Where a user lands after logging in.
pub fn home_for(role: Role) -> &'static str {
    if role.is_staff() { "/bo" } else { "/espace" }
}

/// Only local paths are followed after login, so a crafted link cannot send users elsewhere.
fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && !next.contains("://"))
        .then_some(next)
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    ctx: Ctx,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn login_page(ctx: Ctx, actor: Option<Actor>, Query(q): Query<NextQuery>) -> AppResult<Response> {
    if let Some(a) = actor {
        return Ok(Redirect::to(home_for(a.role)).into_response());
    }
    Ok(render(&LoginPage { ctx, email: String::new(), next: q.next, error: None })?.into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    jar: CookieJar,
    headers: HeaderMap,
    parts: axum::extract::ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let ip = parts.0.ip().to_string();
    let email = form.email.trim().to_lowercase();
    let refuse = |status: StatusCode, msg: String, ctx: Ctx| -> AppResult<Response> {
        let page = LoginPage { ctx, email: form.email.trim().to_string(), next: form.next.clone(), error: Some(msg) };
        Ok((status, render(&page)?).into_response())
    };
    let account_key = format!("account:{email}");
    let ip_key = format!("ip:{ip}");
    for key in [&account_key, &ip_key] {
        if let Some(until) = store::locked_until(&state.db, key).await? {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Trop de tentatives de connexion. Réessayez après {} ou réinitialisez votre mot de passe.",
                    fr_datetime(until)
                ),
                ctx,
            );
        }
    }
    if email.is_empty() || form.password.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Saisissez votre adresse e-mail et votre mot de passe.".into(),
            ctx,
        );
    }
    let account = store::account_by_email(&state.db, &email).await?.filter(|a| a.active);
    let ok = password::verify(form.password.clone(), account.as_ref().map(|a| a.password_hash.clone())).await;
    let Some(account) = account.filter(|_| ok) else {
        store::record_failure(&state.db, &account_key, ACCOUNT_LIMIT).await?;
        store::record_failure(&state.db, &ip_key, IP_LIMIT).await?;
        return refuse(StatusCode::UNAUTHORIZED, "Adresse e-mail ou mot de passe incorrect.".into(), ctx);
    };
    if account.must_change_password && account.temp_password_expires_at.is_some_and(|t| t <= now_ms()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Votre mot de passe temporaire a expiré. Demandez-en un nouveau avec « Mot de passe oublié » ou auprès de votre administrateur.".into(),
            ctx,
        );
    }
    let Some(role) = Role::parse(&account.role) else {
        return Err(AppError::Forbidden);
    };
    store::clear(&state.db, &account_key).await?;
    // A new session id at every login: a session fixed before login is never promoted.
    if let Some(old) = jar.get(SESSION_COOKIE) {
        session::destroy(&state.db, &hash_token(old.value())).await?;
    }
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let token = session::create(&state.db, account.id, account.tenant_id, &ip, ua).await?;
    store::record_login(&state.db, account.id).await?;
    let mut tx = state.db.begin().await?;
    let who = AuditActor {
        tenant_id: account.tenant_id,
        user_id: Some(account.id),
        label: format!("{} <{}>", account.full_name, account.email),
        ip,
    };
    audit::record(&mut tx, who, "login", "user", Some(account.id.0), "Connexion").await?;
    tx.commit().await?;
    let target = if account.must_change_password {
        "/mot-de-passe/changer".to_string()
    } else {
        safe_next(&form.next).map(str::to_string).unwrap_or_else(|| home_for(role).to_string())
    };
    let jar = jar.add(session_cookie(token, state.config.secure_cookies()));
    Ok((jar, Redirect::to(&target)).into_response())
}

async fn logout(State(state): State<AppState>, jar: CookieJar) -> AppResult<Response> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        session::destroy(&state.db, &hash_token(c.value())).await?;
    }
    Ok((jar.add(removal_cookie(SESSION_COOKIE)), Redirect::to("/login?msg=deconnecte")).into_response())
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    ctx: Ctx,
    sent: bool,
    error: Option<String>,
}

async fn forgot_page(ctx: Ctx) -> AppResult<Response> {
    Ok(render(&ForgotPage { ctx, sent: false, error: None })?.into_response())
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    ctx: Ctx,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    let ip_key = format!("reset:{}", peer.ip());
    if store::locked_until(&state.db, &ip_key).await?.is_some() {
        let page = ForgotPage {
            ctx,
            sent: false,
            error: Some("Trop de demandes depuis votre connexion. Réessayez dans une heure.".into()),
        };
        return Ok((StatusCode::TOO_MANY_REQUESTS, render(&page)?).into_response());
    }
    store::record_failure(&state.db, &ip_key, RESET_REQUEST_LIMIT).await?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(msg) => {
            let page = ForgotPage { ctx, sent: false, error: Some(msg) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    // The answer is the same whether or not the account exists.
    if let Some(account) = store::account_by_email(&state.db, email.as_str()).await?.filter(|a| a.active) {
        let token = random_token();
        let link = format!("{}/reinitialiser/{}", state.config.base_url, token);
        let mut tx = state.db.begin().await?;
        store::insert_reset(
            &mut tx,
            &hash_token(&token),
            account.id,
            account.tenant_id,
            now_ms() + RESET_LINK_VALIDITY_MS,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            OutgoingMail {
                tenant_id: Some(account.tenant_id),
                to: account.email.clone(),
                subject: "Réinitialisation de votre mot de passe".into(),
                text: format!(
                    "Bonjour {},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable une heure, utilisable une seule fois) :\n\n{}\n\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe reste inchangé.\n",
                    account.full_name, link
                ),
                html: None,
            },
        )
        .await?;
        let who = AuditActor {
            tenant_id: account.tenant_id,
            user_id: Some(account.id),
            label: account.email.clone(),
            ip: peer.ip().to_string(),
        };
        audit::record(
            &mut tx,
            who,
            "password_reset_requested",
            "user",
            Some(account.id.0),
            "Demande de réinitialisation du mot de passe",
        )
        .await?;
        tx.commit().await?;
        state.mail_wakeup.notify_one();
    }
    Ok(render(&ForgotPage { ctx, sent: true, error: None })?.into_response())
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    ctx: Ctx,
    token: String,
    error: Option<String>,
}

fn expired_link() -> AppError {
    AppError::BadRequest(
        "Ce lien de réinitialisation a expiré ou a déjà été utilisé. Demandez-en un nouveau depuis « Mot de passe oublié ».".into(),
    )
}

async fn reset_page(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    if store::valid_reset(&state.db, &hash_token(&token)).await?.is_none() {
        return Err(expired_link());
    }
    Ok(render(&ResetPage { ctx, token, error: None })?.into_response())
}

#[derive(Deserialize)]
struct NewPasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

fn check_new_password(form: &NewPasswordForm, email: &str) -> Result<(), String> {
    if form.password != form.confirm {
        return Err("Les deux mots de passe saisis ne sont pas identiques.".into());
    }
    check_password_strength(&form.password, email)
}

async fn reset(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<NewPasswordForm>,
) -> AppResult<Response> {
    let token_hash = hash_token(&token);
    let Some(user_id) = store::valid_reset(&state.db, &token_hash).await? else {
        return Err(expired_link());
    };
    let account = store::account_by_id(&state.db, user_id).await?.ok_or(AppError::NotFound)?;
    if let Err(msg) = check_new_password(&form, &account.email) {
        let page = ResetPage { ctx, token, error: Some(msg) };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    }
    let hash = password::hash(form.password).await?;
    let mut tx = state.db.begin().await?;
    if store::consume_reset(&mut tx, &token_hash).await? != Some(user_id) {
        return Err(expired_link());
    }
    store::set_password(&mut tx, user_id, &hash).await?;
    let who = AuditActor {
        tenant_id: account.tenant_id,
        user_id: Some(user_id),
        label: account.email.clone(),
        ip: peer.ip().to_string(),
    };
    audit::record(&mut tx, who, "password_reset", "user", Some(user_id.0), "Mot de passe réinitialisé par lien e-mail")
        .await?;
    tx.commit().await?;
    // Whoever knew the old password is logged out everywhere.
    session::destroy_all_for_user(&state.db, user_id, None).await?;
    store::clear(&state.db, &format!("account:{}", account.email)).await?;
    Ok(Redirect::to("/login?msg=reinitialise").into_response())
}

#[derive(Template)]
#[template(path = "auth/change.html")]
struct ChangePage {
    ctx: Ctx,
    forced: bool,
    error: Option<String>,
}

async fn change_page(State(state): State<AppState>, ctx: Ctx, actor: Actor) -> AppResult<Response> {
    let forced = store::account_by_id(&state.db, actor.user_id).await?.is_some_and(|a| a.must_change_password);
    Ok(render(&ChangePage { ctx, forced, error: None })?.into_response())
}

async fn change(
    State(state): State<AppState>,
    ctx: Ctx,
    actor: Actor,
    Form(form): Form<NewPasswordForm>,
) -> AppResult<Response> {
    let account = store::account_by_id(&state.db, actor.user_id).await?.ok_or(AppError::NotFound)?;
    let refuse = |msg: String, ctx: Ctx| -> AppResult<Response> {
        let page = ChangePage { ctx, forced: account.must_change_password, error: Some(msg) };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
    };
    if !password::verify(form.current.clone(), Some(account.password_hash.clone())).await {
        return refuse("Le mot de passe actuel est incorrect.".into(), ctx);
    }
    if let Err(msg) = check_new_password(&form, &account.email) {
        return refuse(msg, ctx);
    }
    if form.password == form.current {
        return refuse("Le nouveau mot de passe doit être différent de l'actuel.".into(), ctx);
    }
    let hash = password::hash(form.password).await?;
    let mut tx = state.db.begin().await?;
    store::set_password(&mut tx, actor.user_id, &hash).await?;
    audit::record(&mut tx, &actor, "password_change", "user", Some(actor.user_id.0), "Mot de passe modifié").await?;
    tx.commit().await?;
    session::destroy_all_for_user(&state.db, actor.user_id, Some(&actor.session_hash)).await?;
    Ok(Redirect::to(&format!("{}?msg=mot-de-passe", home_for(actor.role))).into_response())
}
