//! Password-reset links received by e-mail and temporary passwords, as a user meets them.

use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::domain::time::now_ms;
use ouvrage::domain::{ClientId, Email, Permissions, Role, TenantId};
use ouvrage::features::users::account::{NewUser, create_user};
use ouvrage::{exec_db, on_db};

use crate::smtp::Mail;
use crate::support::*;

const NEW_PASSWORD: &str = "Chantier-Neuf-2026";

/// Asks for a reset link for `email` and reads it from the e-mail the app wrote (no SMTP is
/// configured in these tests, so mails land as .eml files): the `/reinitialiser/<token>` path.
async fn reset_link(app: &TestApp, email: &str) -> String {
    let resp = app.client().submit("/mot-de-passe-oublie", "/mot-de-passe-oublie", &[("email", email)]).await;
    assert_eq!(resp.status(), 200);
    let db = app.db.clone();
    let id_of_mail = || {
        let db = db.clone();
        async move {
            let id: Option<i64> = on_db!(&db, |p| sqlx::query_scalar(
                "SELECT id FROM outbox WHERE to_addr = $1 AND status = 'sent' ORDER BY id DESC LIMIT 1"
            )
            .bind(email)
            .fetch_optional(p)
            .await)
            .unwrap();
            id
        }
    };
    assert!(eventually(Duration::from_secs(5), || async { id_of_mail().await.is_some() }).await, "mail written");
    let id = id_of_mail().await.unwrap();
    let raw = std::fs::read(app.data_dir.join("mail").join(format!("{id}.eml"))).expect("the .eml file");
    let mail = Mail::parse(&raw);
    assert_eq!(mail.header("To").as_deref(), Some(email));
    let text = mail.text();
    let start = text.find("/reinitialiser/").expect("link in the mail");
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn choose_password(b: &Browser, link: &str, password: &str, confirm: &str) -> reqwest::Response {
    b.submit(link, link, &[("password", password), ("confirm", confirm)]).await
}

/// Posts to `link` without fetching it first (it answers an error page, without a form).
async fn post_directly(b: &Browser, link: &str) -> reqwest::Response {
    let token = b.csrf("/login").await;
    b.http
        .post(b.url(link))
        .form(&[("_csrf", token.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_only() {
    let app = TestApp::spawn().await;
    let link = reset_link(&app, "client@demo.test").await;
    let b = app.client();
    let (status, body) = b.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(body.contains("Choisir un nouveau mot de passe"));
    let resp = choose_password(&b, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?msg=reinitialise");

    // The new password works, the old one no longer does.
    let resp = app.client().login("client@demo.test", NEW_PASSWORD).await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (303, "/espace".to_string()));
    assert_eq!(app.client().login("client@demo.test", "demo-ouvrage").await.status(), 401);

    // The link cannot be used a second time, to read or to post.
    let (status, body) = b.get_text(&link).await;
    assert_eq!(status, 400);
    assert!(body.contains("expiré ou a déjà été utilisé"), "{body}");
    let resp = post_directly(&b, &link).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("expiré ou a déjà été utilisé"));
    app.stop().await;
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let app = TestApp::spawn().await;
    let link = reset_link(&app, "bureau@demo.test").await;
    exec_db!(&app.db, |p| sqlx::query("UPDATE password_resets SET expires_at = $1")
        .bind(now_ms() - 1000)
        .execute(p)
        .await)
    .unwrap();
    let b = app.client();
    let (status, body) = b.get_text(&link).await;
    assert_eq!(status, 400);
    assert!(body.contains("expiré ou a déjà été utilisé"));
    let resp = post_directly(&b, &link).await;
    assert_eq!(resp.status(), 400);
    // The password is unchanged.
    assert_eq!(app.client().login("bureau@demo.test", "demo-ouvrage").await.status(), 303);
    assert_eq!(app.client().login("bureau@demo.test", NEW_PASSWORD).await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_reset_logs_out_every_old_session() {
    let app = TestApp::spawn().await;
    let phone = app.login("client.admin@demo.test").await;
    let laptop = app.login("client.admin@demo.test").await;
    assert_eq!(phone.get("/espace").await.status(), 200);
    let link = reset_link(&app, "client.admin@demo.test").await;
    let resp = choose_password(&app.client(), &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(resp.status(), 303);
    for b in [&phone, &laptop] {
        let resp = b.get("/espace").await;
        assert_eq!(resp.status(), 303, "an old session no longer opens pages");
        assert!(location(&resp).starts_with("/login"));
    }
    app.stop().await;
}

#[tokio::test]
async fn a_weak_new_password_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let link = reset_link(&app, "technicien@demo.test").await;
    let b = app.client();
    let resp = choose_password(&b, &link, "court1", "court1").await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("au moins 10 caractères"));
    let resp = choose_password(&b, &link, "motdepasse2026", "motdepasse2026").await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("trop courant"));
    let resp = choose_password(&b, &link, NEW_PASSWORD, "Autre-Chose-2026").await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("ne sont pas identiques"));
    // Nothing changed and the link still works.
    assert_eq!(app.client().login("technicien@demo.test", "demo-ouvrage").await.status(), 303);
    assert_eq!(choose_password(&b, &link, NEW_PASSWORD, NEW_PASSWORD).await.status(), 303);
    app.stop().await;
}

const TEMPORARY: &str = "Provisoire-4821";

/// A client user of C001 created with a temporary password.
async fn user_with_temporary_password(db: &Db, email: &str) {
    let tenant: TenantId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'").fetch_one(p).await).unwrap();
    let client: ClientId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM clients WHERE code = 'C001' AND tenant_id = $1")
            .bind(tenant)
            .fetch_one(p)
            .await)
        .unwrap();
    let hash = ouvrage::features::auth::password::hash(TEMPORARY.to_string()).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    create_user(
        &mut tx,
        NewUser {
            tenant_id: tenant,
            client_id: Some(client),
            contact_id: None,
            email: Email::parse(email).unwrap(),
            full_name: "Nouvelle Conductrice".into(),
            role: Role::ClientUser,
            permissions: Permissions::default(),
            password_hash: hash,
            temporary: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_temporary_password_must_be_changed_before_anything_else() {
    let app = TestApp::spawn().await;
    user_with_temporary_password(&app.db, "nouvelle@demo.test").await;
    let b = app.client();
    let resp = b.login("nouvelle@demo.test", TEMPORARY).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/mot-de-passe/changer");
    // Every other page sends the user back to the change form.
    for page in ["/espace", "/bo", "/espace?onglet=documents"] {
        let resp = b.get(page).await;
        assert_eq!(resp.status(), 303, "{page}");
        assert_eq!(location(&resp), "/mot-de-passe/changer", "{page}");
    }
    let (status, body) = b.get_text("/mot-de-passe/changer").await;
    assert_eq!(status, 200);
    assert!(body.contains("mot de passe temporaire"));

    // A weak choice is refused in French, the temporary password still rules.
    let resp = b
        .submit(
            "/mot-de-passe/changer",
            "/mot-de-passe/changer",
            &[("current", TEMPORARY), ("password", "abc"), ("confirm", "abc")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("au moins 10 caractères"));
    assert_eq!(location(&b.get("/espace").await), "/mot-de-passe/changer");

    let resp = b
        .submit(
            "/mot-de-passe/changer",
            "/mot-de-passe/changer",
            &[("current", TEMPORARY), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/espace"), "lands on the extranet home: {}", location(&resp));
    let (status, _) = b.get_text("/espace").await;
    assert_eq!(status, 200);
    // From now on the chosen password is the one.
    assert_eq!(location(&app.client().login("nouvelle@demo.test", NEW_PASSWORD).await), "/espace");
    assert_eq!(app.client().login("nouvelle@demo.test", TEMPORARY).await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_temporary_password_is_refused_at_login() {
    let app = TestApp::spawn().await;
    user_with_temporary_password(&app.db, "retardataire@demo.test").await;
    exec_db!(&app.db, |p| sqlx::query("UPDATE users SET temp_password_expires_at = $1 WHERE email = $2")
        .bind(now_ms() - 1000)
        .bind("retardataire@demo.test")
        .execute(p)
        .await)
    .unwrap();
    let b = app.client();
    let resp = b.login("retardataire@demo.test", TEMPORARY).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("Votre mot de passe temporaire a expiré"));
    // No session was opened.
    assert_eq!(location(&b.get("/espace").await), "/login?next=%2Fespace");
    app.stop().await;
}
