//! Logging in and out, throttling, password reset links, temporary passwords, CSRF.

use crate::support::*;

#[tokio::test]
async fn staff_and_client_users_land_on_their_side() {
    let app = TestApp::spawn().await;
    let staff = app.client();
    let resp = staff.login("admin@demo.test", "demo-ouvrage").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/bo");
    let (status, body) = staff.get_text("/bo").await;
    assert_eq!(status, 200);
    assert!(body.contains("Mesures &#38; Contrôles Atlantique") || body.contains("Mesures &amp; Contrôles Atlantique"));

    let client = app.client();
    let resp = client.login("client@demo.test", "demo-ouvrage").await;
    assert_eq!(location(&resp), "/espace");
    let (status, body) = client.get_text("/espace").await;
    assert_eq!(status, 200);
    assert!(body.contains("Maisons Horizon Atlantique"));
    // A client user is refused the back office.
    assert_eq!(client.get("/bo").await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_is_refused_in_french() {
    let app = TestApp::spawn().await;
    let b = app.client();
    let resp = b.login("client@demo.test", "pas-le-bon").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("Adresse e-mail ou mot de passe incorrect"));
    let resp = b.login("personne@demo.test", "demo-ouvrage").await;
    assert_eq!(resp.status(), 401);
    // Not logged in: pages redirect to the login form, keeping where the user wanted to go.
    let resp = b.get("/bo/planning").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?next=%2Fbo%2Fplanning");
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let b = app.client();
    for _ in 0..5 {
        assert_eq!(b.login("client@demo.test", "mauvais-mot-de-passe").await.status(), 401);
    }
    let resp = b.login("client@demo.test", "demo-ouvrage").await;
    assert_eq!(resp.status(), 429);
    assert!(resp.text().await.unwrap().contains("Trop de tentatives"));
    // Other accounts are not locked by it.
    assert_eq!(app.client().login("admin@demo.test", "demo-ouvrage").await.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn many_failures_from_one_address_lock_that_address() {
    let app = TestApp::spawn().await;
    let b = app.client();
    for i in 0..30 {
        let email = format!("inconnu{i}@exemple.test");
        assert_eq!(b.login(&email, "nimporte-quoi-1").await.status(), 401);
    }
    // Even a valid account is refused from this address now.
    assert_eq!(b.login("bureau@demo.test", "demo-ouvrage").await.status(), 429);
    app.stop().await;
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let b = app.client();
    let _ = b.get("/login").await; // gets the CSRF cookie
    let resp = b
        .http
        .post(b.url("/login"))
        .form(&[("email", "admin@demo.test"), ("password", "demo-ouvrage")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("Formulaire expiré"));
    let resp = b
        .http
        .post(b.url("/login"))
        .form(&[("_csrf", "0000"), ("email", "admin@demo.test"), ("password", "demo-ouvrage")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A token from another browser does not work either.
    let other = app.client();
    let token = other.csrf("/login").await;
    let resp = b
        .http
        .post(b.url("/login"))
        .form(&[("_csrf", token.as_str()), ("email", "admin@demo.test"), ("password", "demo-ouvrage")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let b = app.login("bureau@demo.test").await;
    assert_eq!(b.get("/bo").await.status(), 200);
    let resp = b.submit("/bo", "/logout", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(b.get("/bo").await.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_french_pages_not_plain_text() {
    let app = TestApp::spawn().await;
    let b = app.login("bureau@demo.test").await;
    // A repeated query key the page cannot read, a wrong method, a form of the wrong type.
    for (resp, status) in [(b.get("/bo/clients?q=a&q=b").await, 400), (b.get("/logout").await, 405)] {
        assert_eq!(resp.status(), status);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{ct}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("lang=\"fr\""), "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_answer_404_in_french() {
    let app = TestApp::spawn().await;
    let (status, body) = app.client().get_text("/nulle-part").await;
    assert_eq!(status, 404);
    assert!(body.contains("Page introuvable"));
    app.stop().await;
}
