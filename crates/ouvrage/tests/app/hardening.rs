//! HTTP hardening: security headers on every kind of answer, session ids renewed at login and
//! ended by a password change or by time, body size limits and slow clients.
//!
//! Elsewhere: a password reset ends every session (`passwords.rs`,
//! `a_reset_logs_out_every_old_session`); uploads above the limit get a French 413 on the web
//! (`files.rs`, `an_upload_above_the_limit_is_refused_with_413`; `documents.rs`) and in the API
//! (`api_documents.rs`, `an_oversized_document_gets_413`); previews may be framed by our own pages
//! only (`documents.rs`); forms need their CSRF token (`auth.rs`).

use std::sync::Arc;
use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::domain::time::now_ms;
use ouvrage::http::session::{ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS};
use ouvrage::{exec_db, on_db};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Guards against a test hanging forever when the behaviour under test is missing; never a
/// measure of speed.
const PATIENCE: Duration = Duration::from_secs(60);

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn assert_security_headers(what: &str, resp: &reqwest::Response) {
    let csp = header(resp, "content-security-policy");
    for directive in ["default-src 'self'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{what}: CSP without {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(header(resp, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(resp, "referrer-policy"), "same-origin", "{what}");
    assert_eq!(header(resp, "x-frame-options"), "DENY", "{what}");
}

/// Script, style and event handlers written into the HTML itself, which the CSP would block.
fn inline_code(html: &str) -> Vec<String> {
    let lower = html.to_lowercase();
    let mut found = Vec::new();
    for (i, _) in lower.match_indices("<script") {
        let tag = &lower[i..i + lower[i..].find('>').unwrap_or(0)];
        if !tag.contains(" src=") {
            found.push(tag.to_string());
        }
    }
    for (i, _) in lower.match_indices(" on") {
        let attr: String = lower[i + 1..].chars().take_while(|c| c.is_ascii_alphabetic() || *c == '=').collect();
        if attr.len() > 3 && attr.ends_with('=') {
            found.push(attr);
        }
    }
    for needle in ["<style", " style=", "javascript:"] {
        if lower.contains(needle) {
            found.push(needle.to_string());
        }
    }
    found
}

#[tokio::test]
async fn pages_errors_static_files_and_api_answers_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let token = ouvrage::cli::create_token_cli(&app.db, "demo", "C001", "Logiciel de test").await.unwrap();
    let staff = app.login("bureau@demo.test").await;
    let anonymous = app.client();
    let api = reqwest::Client::new();
    let answers = [
        ("login page", anonymous.get("/login").await, 200),
        ("back office", staff.get("/bo").await, 200),
        ("client list", staff.get("/bo/clients").await, 200),
        ("not found", anonymous.get("/nulle-part").await, 404),
        ("wrong method", staff.get("/logout").await, 405),
        ("forbidden", app.login("client@demo.test").await.get("/bo").await, 403),
        (
            "no CSRF token",
            anonymous.http.post(anonymous.url("/login")).form(&[("email", "x")]).send().await.unwrap(),
            403,
        ),
        ("static file", anonymous.get("/static/app.js").await, 200),
        ("health", anonymous.get("/healthz").await, 200),
        ("API", api.get(app.url("/api/v1/sites")).bearer_auth(&token).send().await.unwrap(), 200),
        ("API without token", api.get(app.url("/api/v1/sites")).send().await.unwrap(), 401),
    ];
    for (what, resp, status) in answers {
        assert_eq!(resp.status().as_u16(), status, "{what}");
        assert_security_headers(what, &resp);
        if header(&resp, "content-type").starts_with("text/html") {
            let body = resp.text().await.unwrap();
            assert!(inline_code(&body).is_empty(), "{what}: inline code {:?}", inline_code(&body));
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn no_template_holds_inline_script_style_or_event_handlers() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut templates = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"), &mut templates);
    assert!(templates.len() > 20, "the templates are found");
    for t in templates {
        let html = std::fs::read_to_string(&t).unwrap();
        assert!(inline_code(&html).is_empty(), "{}: {:?}", t.display(), inline_code(&html));
    }
}

fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let value = c.strip_prefix("ouvrage_session=")?;
        Some(value.split(';').next().unwrap_or_default().to_string()).filter(|v| !v.is_empty())
    })
}

/// GET `path` carrying only the session cookie `token`.
async fn get_with_session(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    http.get(app.url(path)).header("cookie", format!("ouvrage_session={token}")).send().await.unwrap()
}

#[tokio::test]
async fn logging_in_issues_a_new_session_id_and_the_previous_one_stops_working() {
    let app = TestApp::spawn().await;
    // A browser carrying a session id chosen by someone else before login (session fixation).
    let planted = "identifiant-de-session-impose-par-un-tiers";
    let jar = Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(&format!("ouvrage_session={planted}; Path=/"), &app.base.parse().unwrap());
    let http =
        reqwest::Client::builder().cookie_provider(jar).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let b = Browser { http, base: app.base.clone() };
    let anonymous_form_token = b.csrf("/login").await;
    let resp = b.login("bureau@demo.test", "demo-ouvrage").await;
    assert_eq!(resp.status(), 303);
    let first = session_cookie(&resp).expect("login sets a session cookie");
    assert_ne!(first, planted);
    assert_eq!(get_with_session(&app, &first, "/bo").await.status(), 200);
    let resp = get_with_session(&app, planted, "/bo").await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (303, "/login?next=%2Fbo".to_string()));
    // The form token handed out before login belonged to the anonymous browser.
    let resp = b.http.post(b.url("/logout")).form(&[("_csrf", anonymous_form_token.as_str())]).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(get_with_session(&app, &first, "/bo").await.status(), 200, "still logged in");

    // Logging in again from the same browser (here as someone else) renews the id again and
    // ends the session it replaces.
    let resp = b.submit("/bo", "/login", &[("email", "client@demo.test"), ("password", "demo-ouvrage")]).await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (303, "/espace".to_string()));
    let second = session_cookie(&resp).expect("a new session cookie");
    assert_ne!(second, first);
    assert_eq!(get_with_session(&app, &first, "/bo").await.status(), 303, "the replaced session is over");
    assert_eq!(get_with_session(&app, &second, "/espace").await.status(), 200);
    app.stop().await;
}

async fn sessions_of(db: &Db, email: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)"
    )
    .bind(email)
    .fetch_one(p)
    .await)
    .unwrap()
}

#[tokio::test]
async fn changing_ones_password_ends_every_other_session_of_that_user() {
    const NEW_PASSWORD: &str = "Chantier-Neuf-2026";
    let app = TestApp::spawn().await;
    let phone = app.login("client.admin@demo.test").await;
    let laptop = app.login("client.admin@demo.test").await;
    let colleague = app.login("client@demo.test").await;
    for b in [&phone, &laptop, &colleague] {
        assert_eq!(b.get("/espace").await.status(), 200);
    }
    let resp = laptop
        .submit(
            "/mot-de-passe/changer",
            "/mot-de-passe/changer",
            &[("current", "demo-ouvrage"), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (303, "/espace?msg=mot-de-passe".to_string()));
    // The browser that changed it stays logged in; the other one is sent to the login form.
    assert_eq!(laptop.get("/espace").await.status(), 200);
    let resp = phone.get("/espace").await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (303, "/login?next=%2Fespace".to_string()));
    assert_eq!(sessions_of(&app.db, "client.admin@demo.test").await, 1);
    // Another user of the same company is not affected.
    assert_eq!(colleague.get("/espace").await.status(), 200);
    app.stop().await;
}

/// Backdates the sessions of `email` instead of waiting hours.
async fn age_sessions(db: &Db, email: &str, created_ago_ms: i64, seen_ago_ms: i64) {
    let now = now_ms();
    exec_db!(db, |p| sqlx::query(
        "UPDATE sessions SET created_at = $1, last_seen_at = $2 WHERE user_id = (SELECT id FROM users WHERE email = $3)"
    )
    .bind(now - created_ago_ms)
    .bind(now - seen_ago_ms)
    .bind(email)
    .execute(p)
    .await)
    .unwrap();
}

#[tokio::test]
async fn a_session_ends_when_idle_too_long_and_past_its_absolute_lifetime() {
    const WHO: &str = "client@demo.test";
    const HOUR: i64 = 3_600_000;
    let app = TestApp::spawn().await;
    let expired = |resp: reqwest::Response| (resp.status().as_u16(), location(&resp));
    let to_login = (303, "/login?next=%2Fespace".to_string());

    // Idle: unused for a minute less than the limit it still works, a minute more and it is over.
    let b = app.login(WHO).await;
    age_sessions(&app.db, WHO, HOUR, IDLE_TIMEOUT_MS - 60_000).await;
    assert_eq!(b.get("/espace").await.status(), 200);
    age_sessions(&app.db, WHO, HOUR, IDLE_TIMEOUT_MS + 60_000).await;
    assert_eq!(expired(b.get("/espace").await), to_login);
    assert_eq!(sessions_of(&app.db, WHO).await, 0, "the expired session is deleted");

    // Absolute: even in constant use, a session ends once it is old enough.
    let b = app.login(WHO).await;
    age_sessions(&app.db, WHO, ABSOLUTE_TIMEOUT_MS - 60_000, 0).await;
    assert_eq!(b.get("/espace").await.status(), 200);
    age_sessions(&app.db, WHO, ABSOLUTE_TIMEOUT_MS + 60_000, 0).await;
    assert_eq!(expired(b.get("/espace").await), to_login);
    assert_eq!(sessions_of(&app.db, WHO).await, 0);
    // Logging in again opens a fresh session.
    assert_eq!(app.login(WHO).await.get("/espace").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_form_above_the_size_limit_gets_a_french_413() {
    let app = TestApp::spawn().await;
    let b = app.client();
    let token = b.csrf("/login").await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let resp = b
        .http
        .post(b.url("/login"))
        .form(&[("_csrf", token.as_str()), ("email", "bureau@demo.test"), ("password", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Envoi trop volumineux") && body.contains("Le formulaire envoyé est trop volumineux"),
        "{body}"
    );
    // The same form at a normal size goes through.
    assert_eq!(b.login("bureau@demo.test", "demo-ouvrage").await.status(), 303);
    app.stop().await;
}

/// Everything the server sends on `stream` until it closes the connection (or a complete
/// HTML page has arrived), while `trickle` bytes go out one at a time every 200 ms.
async fn exchange_while_trickling(stream: TcpStream, start: &[u8], trickle: Option<u8>) -> String {
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(start).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.windows(7).any(|w| w == b"</html>") || got.ends_with(b"}") {
                break;
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    });
    tokio::pin!(reader);
    tokio::time::timeout(PATIENCE, async {
        loop {
            tokio::select! {
                got = &mut reader => return got.unwrap(),
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Some(byte) = trickle {
                        let _ = wr.write_all(&[byte]).await;
                    }
                }
            }
        }
    })
    .await
    .expect("the server should end the exchange with a client that slow")
}

#[tokio::test]
async fn clients_slower_than_the_header_timeout_are_disconnected() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.header_read_timeout = Duration::from_secs(1)).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // A normal client is served.
    assert_eq!(app.client().get("/login").await.status(), 200);
    // Headers sent a byte at a time, never finished.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let got = exchange_while_trickling(stream, b"GET /login HTTP/1.1\r\nHost: ouvrage\r\nX-Lent: ", Some(b'a')).await;
    assert!(!got.contains(" 200 "), "{got}");
    // A connection that never says anything.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let got = exchange_while_trickling(stream, b"", None).await;
    assert!(!got.contains(" 200 "), "{got}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_trickled_forever_is_cut_with_a_french_408() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.request_timeout = Duration::from_secs(2)).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let token = ouvrage::cli::create_token_cli(&app.db, "demo", "C001", "Logiciel de test").await.unwrap();
    let site: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = 'C001' ORDER BY s.id LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let addr = app.base.trim_start_matches("http://").to_string();

    let form = b"POST /login HTTP/1.1\r\nHost: ouvrage\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 100000\r\n\r\nemail=";
    let got = exchange_while_trickling(TcpStream::connect(&addr).await.unwrap(), form, Some(b'a')).await;
    let lower = got.to_lowercase();
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(lower.contains("content-type: text/html"), "{got}");
    assert!(got.contains("Délai dépassé") && got.contains("La requête a pris trop de temps"), "{got}");
    assert!(lower.contains("content-security-policy: default-src 'self'"), "{got}");

    let upload = format!(
        "POST /api/v1/sites/{site}/documents HTTP/1.1\r\nHost: ouvrage\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=LIMITE\r\nContent-Length: 100000\r\n\r\n\
         --LIMITE\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plan.pdf\"\r\n\r\n%PDF-1.4\n"
    );
    let got = exchange_while_trickling(TcpStream::connect(&addr).await.unwrap(), upload.as_bytes(), Some(b' ')).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.to_lowercase().contains("content-type: application/problem+json"), "{got}");
    assert!(got.contains("\"status\":408"), "{got}");
    app.stop().await;
}

/// A NUL byte typed into a form (PostgreSQL cannot store one, SQLite can) is the client's
/// mistake: a 4xx, never a 500, and nothing half-written.
#[tokio::test]
async fn a_nul_byte_in_a_form_is_refused_not_a_server_error() {
    let app = TestApp::spawn().await;
    let clients_before: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM clients").fetch_one(p).await).unwrap();
    let b = app.login("bureau@demo.test").await;
    let fields = [
        ("code", ""),
        ("name", "Nul\0 Construction"),
        ("kind", "landlord"),
        ("siret", ""),
        ("address_line1", "12 rue des Halles"),
        ("address_line2", ""),
        ("postcode", "85000"),
        ("city", "La Roche-sur-Yon"),
        ("billing_address", ""),
        ("billing_email", ""),
        ("phone", ""),
        ("notes", "Octet\0nul"),
    ];
    let resp = b.submit("/bo/clients/nouveau", "/bo/clients/nouveau", &fields).await;
    let status = resp.status().as_u16();
    assert!(status < 500, "a NUL byte got {status}: {}", resp.text().await.unwrap_or_default());
    if status >= 400 {
        let body = resp.text().await.unwrap();
        assert!(body.contains("caractère invalide"), "{body}");
        let clients_after: i64 =
            on_db!(&app.db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM clients").fetch_one(p).await).unwrap();
        assert_eq!(clients_after, clients_before, "nothing written");
    }
    // Logging in with one gets the login page's refusal, not an error.
    let anon = app.client();
    let token = anon.csrf("/login").await;
    let resp = anon
        .http
        .post(anon.url("/login"))
        .form(&[("_csrf", token.as_str()), ("email", "bureau\0@demo.test"), ("password", "demo-ouvrage")])
        .send()
        .await
        .unwrap();
    assert!(resp.status().as_u16() < 500, "login with a NUL byte got {}", resp.status());
    app.stop().await;
}
