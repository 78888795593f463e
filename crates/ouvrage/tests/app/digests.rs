//! Digest e-mails, with a controllable clock: at most one per user and day (daily) or week
//! (weekly, on the chosen day), none for NON; visibility re-checked when sending; claimed before
//! rendering so that a worker killed mid-run loses nothing and sends nothing twice; one-click
//! unsubscribe without cookies or CSRF token.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use ouvrage::app::AppState;
use ouvrage::db::Db;
use ouvrage::domain::Permission;
use ouvrage::features::mail::transport::Transport;
use ouvrage::features::notifications::digest::{self, DigestRunStats};
use ouvrage::features::notifications::{Audience, claim_due_digests, compose_due_digests};
use ouvrage::{exec_db, on_db};

use crate::notifications::{client_id, demo_tenant, event, notification, record, sql, state_of, user_id};
use crate::smtp::SmtpServer;
use crate::support::*;

fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Paris.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap().with_timezone(&Utc)
}

/// The app without its workers (the scheduler would compose digests on the real clock), with
/// the demo data, and a state to drive digest runs.
async fn app_with(adjust: impl FnOnce(&mut ouvrage::config::Config)) -> (TestApp, AppState) {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| {
        c.workers = false;
        adjust(c);
    })
    .await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let state = state_of(&app).await;
    (app, state)
}

#[derive(sqlx::FromRow, Debug)]
struct Mail {
    id: i64,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    extra_headers: Option<String>,
}

async fn mails(db: &Db, to: &str) -> Vec<Mail> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, subject, body_text, body_html, extra_headers FROM outbox WHERE to_addr = $1 ORDER BY id"
    )
    .bind(to)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// The digests of `email`: (period_key, status, outbox_id).
async fn digests(db: &Db, email: &str) -> Vec<(String, String, Option<i64>)> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT d.period_key, d.status, d.outbox_id FROM digests d JOIN users u ON u.id = d.user_id
         WHERE u.email = $1 ORDER BY d.id"
    )
    .bind(email)
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn frequency(db: &Db, email: &str, freq: &str, weekday: Option<i64>) {
    exec_db!(db, |p| sqlx::query("UPDATE users SET digest_frequency = $1, digest_weekday = $2 WHERE email = $3")
        .bind(freq)
        .bind(weekday)
        .bind(email)
        .execute(p)
        .await)
    .unwrap();
}

/// Records a document event of C001 for one user.
async fn news_for(app: &TestApp, email: &str, key: &str, title: &str, site: &str) {
    let t = demo_tenant(&app.db).await;
    let c001 = client_id(&app.db, "C001").await;
    let user = user_id(&app.db, email).await;
    record(&app.db, &event(t, Some(c001), "new_document", key, title, site), Audience::User(user)).await;
}

async fn run(state: &AppState, at: DateTime<Utc>) -> DigestRunStats {
    compose_due_digests(state, at).await.unwrap()
}

#[tokio::test]
async fn a_daily_user_gets_one_mail_per_day_whatever_the_number_of_events() {
    let (app, state) = app_with(|_| {}).await;
    let db = &app.db;
    let who = "client@demo.test";
    frequency(db, who, "daily", None).await;
    news_for(&app, who, "doc:1", "Nouveau document : plan de masse", "Résidence Les Lilas").await;
    news_for(&app, who, "doc:2", "Nouveau rapport : test d'étanchéité", "Résidence Les Lilas").await;
    news_for(&app, who, "doc:3", "Nouveau message du bureau", "").await;

    // Monday 23 November 2026, before 07:00 in Paris: nothing leaves yet.
    run(&state, paris(2026, 11, 23, 6, 45)).await;
    assert!(mails(db, who).await.is_empty());
    assert_eq!(notification(db, who, "doc:1").await.2, "pending");

    // From 07:00: one mail listing the three events, grouped by site.
    let stats = run(&state, paris(2026, 11, 23, 8, 0)).await;
    assert!(stats.mailed >= 1, "{stats:?}");
    let sent = mails(db, who).await;
    assert_eq!(sent.len(), 1, "three events, one e-mail");
    let m = &sent[0];
    assert!(m.subject.starts_with("Vos nouveautés du 23/11/2026"), "{}", m.subject);
    for title in
        ["Nouveau document : plan de masse", "Nouveau rapport : test d'étanchéité", "Nouveau message du bureau"]
    {
        assert!(m.body_text.contains(title), "{title} in {}", m.body_text);
    }
    let (lilas, others) =
        (m.body_text.find("Résidence Les Lilas").unwrap(), m.body_text.find("Autres nouveautés").unwrap());
    assert!(lilas < others, "sites first, then the rest: {}", m.body_text);
    let link = format!("{}/espace/documents", app.config.base_url);
    assert!(m.body_text.contains(&link), "absolute links: {}", m.body_text);
    let html = m.body_html.as_deref().unwrap();
    assert!(html.contains(&format!("href=\"{link}\"")) && html.contains("<h2>Résidence Les Lilas</h2>"), "{html}");
    assert!(
        html.contains("Nouveau rapport : test d&#39;étanchéité") || html.contains("test d&#x27;étanchéité"),
        "{html}"
    );
    assert_eq!(digests(db, who).await, [("daily:2026-11-23".to_string(), "queued".to_string(), Some(m.id))]);
    for key in ["doc:1", "doc:2", "doc:3"] {
        assert_eq!(notification(db, who, key).await.2, "sent");
    }
    // Still unread in the app: the mail does not read them for the user.
    assert!(notification(db, who, "doc:1").await.1.is_none());

    // Later the same day: nothing more, even with new events (they wait for tomorrow).
    run(&state, paris(2026, 11, 23, 10, 0)).await;
    news_for(&app, who, "doc:4", "Nouvelle facture disponible", "Maison Durand").await;
    run(&state, paris(2026, 11, 23, 12, 0)).await;
    run(&state, paris(2026, 11, 23, 23, 45)).await;
    assert_eq!(mails(db, who).await.len(), 1);
    assert_eq!(notification(db, who, "doc:4").await.2, "pending");

    // Next day: one more, with only what is new.
    run(&state, paris(2026, 11, 24, 7, 15)).await;
    run(&state, paris(2026, 11, 24, 7, 30)).await;
    let sent = mails(db, who).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].subject.starts_with("Vos nouveautés du 24/11/2026"));
    assert!(sent[1].body_text.contains("Nouvelle facture disponible") && sent[1].body_text.contains("Maison Durand"));
    assert!(!sent[1].body_text.contains("plan de masse"), "nothing is mailed twice");
    assert!(sent[1].body_text.contains("1 nouveauté."), "{}", sent[1].body_text);
    app.stop().await;
}

#[tokio::test]
async fn a_weekly_user_gets_one_mail_per_week_on_their_day() {
    let (app, state) = app_with(|_| {}).await;
    let db = &app.db;
    let who = "client@demo.test";
    frequency(db, who, "weekly", Some(3)).await; // Wednesday
    news_for(&app, who, "doc:1", "Nouveau document : DPE", "").await;
    news_for(&app, who, "doc:2", "Nouveau rapport : RE2020", "").await;

    // Monday, Tuesday, Wednesday before 07:00: nothing.
    for at in [paris(2026, 11, 23, 9, 0), paris(2026, 11, 24, 9, 0), paris(2026, 11, 25, 6, 30)] {
        run(&state, at).await;
    }
    assert!(mails(db, who).await.is_empty());
    run(&state, paris(2026, 11, 25, 9, 0)).await;
    assert_eq!(mails(db, who).await.len(), 1);
    assert!(mails(db, who).await[0].subject.starts_with("Vos nouveautés de la semaine 48"));

    // New events during the week wait for next Wednesday.
    news_for(&app, who, "doc:3", "Nouveau message", "").await;
    for day in [25, 26, 27, 28, 29, 30] {
        run(&state, paris(2026, 11, day, 18, 0)).await;
    }
    run(&state, paris(2026, 12, 1, 9, 0)).await;
    assert_eq!(mails(db, who).await.len(), 1);
    run(&state, paris(2026, 12, 2, 8, 0)).await;
    run(&state, paris(2026, 12, 2, 8, 15)).await;
    let sent = mails(db, who).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].body_text.contains("Nouveau message") && !sent[1].body_text.contains("DPE"));
    let periods: Vec<String> = digests(db, who).await.into_iter().map(|d| d.0).collect();
    assert_eq!(periods, ["weekly:2026-W48", "weekly:2026-W49"]);

    // The firm's default can be weekly too: a user on "default" follows it, with its day.
    sql(db, "UPDATE tenants SET default_digest_frequency = 'weekly', default_digest_weekday = 5", &[]).await;
    frequency(db, "client.admin@demo.test", "default", None).await;
    news_for(&app, "client.admin@demo.test", "doc:9", "Nouveau document : plan", "").await;
    run(&state, paris(2026, 12, 3, 9, 0)).await; // Thursday
    assert!(mails(db, "client.admin@demo.test").await.is_empty());
    run(&state, paris(2026, 12, 4, 9, 0)).await; // Friday
    assert_eq!(mails(db, "client.admin@demo.test").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn non_gets_no_mail_but_keeps_the_notifications_in_the_app() {
    let (app, state) = app_with(|_| {}).await;
    let db = &app.db;
    frequency(db, "client@demo.test", "none", None).await;
    // The firm's default is NON, and client.admin follows the default.
    sql(db, "UPDATE tenants SET default_digest_frequency = 'none'", &[]).await;
    frequency(db, "client.admin@demo.test", "default", None).await;
    for who in ["client@demo.test", "client.admin@demo.test"] {
        news_for(&app, who, "doc:1", "Nouveau rapport : contrôle VMC", "Les Lilas").await;
    }
    run(&state, paris(2026, 11, 23, 9, 0)).await;
    run(&state, paris(2026, 11, 24, 9, 0)).await;
    for who in ["client@demo.test", "client.admin@demo.test"] {
        assert!(mails(db, who).await.is_empty(), "{who}");
        assert!(digests(db, who).await.is_empty(), "{who}");
        assert_eq!(notification(db, who, "doc:1").await.2, "skipped");
    }
    // Still listed, unread, in the app.
    let (_, body) = app.login("client@demo.test").await.get_text("/espace/notifications").await;
    assert!(body.contains("Nouveau rapport : contrôle VMC") && body.contains("Non lue"));
    // Choosing daily again later: new events are mailed, the skipped ones are not.
    frequency(db, "client@demo.test", "daily", None).await;
    news_for(&app, "client@demo.test", "doc:2", "Nouveau document : attestation", "").await;
    run(&state, paris(2026, 11, 25, 9, 0)).await;
    let sent = mails(db, "client@demo.test").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body_text.contains("attestation") && !sent[0].body_text.contains("contrôle VMC"));
    app.stop().await;
}

#[tokio::test]
async fn an_event_the_user_may_no_longer_see_is_not_mailed() {
    let (app, state) = app_with(|_| {}).await;
    let db = &app.db;
    let t = demo_tenant(db).await;
    let (c001, c002) = (client_id(db, "C001").await, client_id(db, "C002").await);
    sql(db, "UPDATE users SET permissions = 'sign invoices' WHERE email = 'client@demo.test'", &[]).await;
    let doc = event(t, Some(c001), "new_document", "doc:1", "Nouveau document : plan de masse", "");
    record(db, &doc, Audience::ClientUsers { client: c001, permission: None }).await;
    let inv = event(t, Some(c001), "new_invoice", "inv:1", "Nouvelle facture FA-2026-0007", "");
    record(db, &inv, Audience::ClientUsers { client: c001, permission: Some(Permission::SeeInvoices) }).await;
    let other = event(t, Some(c002), "new_report", "rep:1", "Nouveau rapport de Demeures de l'Estuaire", "");
    record(db, &other, Audience::ClientUsers { client: c002, permission: None }).await;
    assert_eq!(notification(db, "client@demo.test", "inv:1").await.2, "pending");

    // Then: Julien loses the invoice permission, Thomas moves to another company, Claire's
    // account is deactivated.
    sql(db, "UPDATE users SET permissions = 'sign' WHERE email = 'client@demo.test'", &[]).await;
    sql(db, "UPDATE users SET client_id = (SELECT id FROM clients WHERE code = 'C003') WHERE email = 'autre.client@demo.test'", &[]).await;
    sql(db, "UPDATE users SET active = FALSE WHERE email = 'client.admin@demo.test'", &[]).await;

    run(&state, paris(2026, 11, 23, 9, 0)).await;
    let sent = mails(db, "client@demo.test").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body_text.contains("plan de masse"));
    assert!(!sent[0].body_text.contains("FA-2026-0007"), "the invoice is no longer visible to Julien");
    assert!(!sent[0].body_html.as_deref().unwrap().contains("FA-2026-0007"));
    assert_eq!(notification(db, "client@demo.test", "doc:1").await.2, "sent");
    assert_eq!(notification(db, "client@demo.test", "inv:1").await.2, "skipped");

    // Thomas: nothing of his former company; the digest is closed without a mail.
    assert!(mails(db, "autre.client@demo.test").await.is_empty());
    assert_eq!(
        digests(db, "autre.client@demo.test").await,
        [("daily:2026-11-23".to_string(), "closed".to_string(), None)]
    );
    assert_eq!(notification(db, "autre.client@demo.test", "rep:1").await.2, "skipped");

    // Claire: deactivated, no mail at all.
    assert!(mails(db, "client.admin@demo.test").await.is_empty());
    assert_eq!(notification(db, "client.admin@demo.test", "doc:1").await.2, "skipped");
    assert_eq!(notification(db, "client.admin@demo.test", "inv:1").await.2, "skipped");
    app.stop().await;
}

#[tokio::test]
async fn a_worker_killed_mid_run_sends_each_digest_exactly_once() {
    let (app, state) = app_with(|_| {}).await;
    let db = &app.db;
    let t = demo_tenant(db).await;
    let c001 = client_id(db, "C001").await;
    let users = ["client.admin@demo.test", "client@demo.test"];
    for i in 1..=3 {
        let e = event(t, Some(c001), "new_document", &format!("doc:{i}"), &format!("Nouveau document n°{i}"), "");
        record(db, &e, Audience::ClientUsers { client: c001, permission: None }).await;
    }
    // The worker claims, then dies before composing.
    let claimed = claim_due_digests(db, paris(2026, 11, 23, 9, 0)).await.unwrap();
    assert_eq!(claimed.claimed, 2, "{claimed:?}");
    for who in users {
        assert!(mails(db, who).await.is_empty());
        assert_eq!(digests(db, who).await[0].1, "composing");
        assert_eq!(notification(db, who, "doc:1").await.2, "claimed");
    }
    // A new event after the claim is not part of the claimed digest.
    let late = event(t, Some(c001), "new_document", "doc:late", "Document arrivé après la réclamation", "");
    record(db, &late, Audience::ClientUsers { client: c001, permission: None }).await;

    // The next run finishes the claimed digests, once.
    let stats = run(&state, paris(2026, 11, 23, 9, 15)).await;
    assert_eq!(stats.resumed, 2, "{stats:?}");
    run(&state, paris(2026, 11, 23, 9, 30)).await;
    for who in users {
        let sent = mails(db, who).await;
        assert_eq!(sent.len(), 1, "{who}");
        for i in 1..=3 {
            assert!(sent[0].body_text.contains(&format!("Nouveau document n°{i}")));
        }
        assert!(!sent[0].body_text.contains("après la réclamation"));
        assert_eq!(digests(db, who).await, [("daily:2026-11-23".to_string(), "queued".to_string(), Some(sent[0].id))]);
        assert_eq!(notification(db, who, "doc:late").await.2, "pending", "waits for tomorrow");
    }

    // Killed again the next day, then two instances restart at once: still one mail each.
    let claimed = claim_due_digests(db, paris(2026, 11, 24, 9, 0)).await.unwrap();
    assert_eq!(claimed.claimed, 2);
    let other = state_of(&app).await;
    let (a, b) = tokio::join!(
        compose_due_digests(&state, paris(2026, 11, 24, 9, 15)),
        compose_due_digests(&other, paris(2026, 11, 24, 9, 15))
    );
    assert_eq!(a.unwrap().mailed + b.unwrap().mailed, 2);
    for who in users {
        let sent = mails(db, who).await;
        assert_eq!(sent.len(), 2, "{who}");
        assert!(sent[1].body_text.contains("après la réclamation"));
    }
    app.stop().await;
}

#[tokio::test]
async fn the_digest_mail_carries_a_one_click_unsubscribe_that_works_without_cookies() {
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    let (app, state) = app_with(|c| c.smtp_url = Some(smtp_url)).await;
    let db = &app.db;
    let who = "client@demo.test";
    news_for(&app, who, "doc:1", "Nouveau rapport disponible", "Les Lilas").await;
    run(&state, paris(2026, 11, 23, 9, 0)).await;

    // Deliver the outbox over SMTP, as the worker does.
    let transport = Transport::from_config(&state.config).unwrap();
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    ouvrage::features::mail::worker::drain_once(&state, &transport, &stop_rx).await.unwrap();
    let got = smtp.wait_for(1, Duration::from_secs(10)).await;
    let m = got.iter().find(|m| m.to == [who.to_string()]).expect("the digest reaches the SMTP server");
    let header = m.header("List-Unsubscribe").expect("List-Unsubscribe header");
    let prefix = format!("<{}/desabonnement/", app.config.base_url);
    assert!(header.starts_with(&prefix) && header.ends_with('>'), "{header}");
    assert_eq!(m.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    let url = header.trim_start_matches('<').trim_end_matches('>').to_string();
    assert!(m.text().contains(&url), "the link is also in the text");
    // The configured base URL of the test app names port 0: reach the running server instead.
    let path = url.trim_start_matches(&app.config.base_url).to_string();
    let url = app.url(&path);
    assert!(m.subject().starts_with("Vos nouveautés du 23/11/2026"));
    let stored = &mails(db, who).await[0];
    assert!(stored.extra_headers.as_deref().unwrap().contains("List-Unsubscribe-Post"));

    // A person opening the link sees a French confirmation page with a button.
    let (status, page) = app.client().get_text(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains(who) && page.contains("Ne plus recevoir ces e-mails"));
    assert!(page.contains(&format!("action=\"{path}\"")));

    // A forged or altered token is refused, and changes nothing.
    let token = url.rsplit('/').next().unwrap().to_string();
    let (id, mac) = token.split_once('.').unwrap();
    let other = user_id(db, "autre.client@demo.test").await;
    for bad in [format!("{other}.{mac}"), format!("{id}.{}", &mac[1..]), "abc".to_string(), format!("{id}.")] {
        let resp = reqwest::Client::new()
            .post(app.url(&format!("/desabonnement/{bad}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{bad}");
        assert!(resp.text().await.unwrap().contains("Page introuvable"));
    }
    let freq = |email: &'static str| async move {
        on_db!(db, |p| sqlx::query_scalar::<_, String>("SELECT digest_frequency FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(p)
            .await)
        .unwrap()
    };
    assert_eq!(freq(who).await, "default");
    assert_eq!(freq("autre.client@demo.test").await, "default");

    // RFC 8058 one-click: a mail client POSTs without cookies nor CSRF token.
    let resp = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("ne recevra plus"));
    assert_eq!(freq(who).await, "none");
    let audited: i64 = on_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'unsubscribe' AND entity_id = (SELECT id FROM users WHERE email = $1)"
    )
    .bind(who)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(audited, 1);
    // Other forms still need their CSRF token: the exemption is only this path.
    let resp = reqwest::Client::new().post(app.url("/notifications/tout-lu")).send().await.unwrap();
    assert_eq!(resp.status(), 403);

    // No more digests for this user.
    news_for(&app, who, "doc:2", "Nouveau document", "").await;
    run(&state, paris(2026, 11, 24, 9, 0)).await;
    assert_eq!(mails(db, who).await.len(), 1);
    assert_eq!(notification(db, who, "doc:2").await.2, "skipped");
    app.stop().await;
}

#[tokio::test]
async fn the_digest_job_runs_every_fifteen_minutes_on_the_real_clock() {
    let (app, state) = app_with(|_| {}).await;
    let schedule = ouvrage::features::jobs::registry::SCHEDULES.iter().find(|s| s.name == "compose_digests");
    assert_eq!(schedule.map(|s| (s.every_secs, s.kind)), Some((900, digest::KIND)));
    news_for(&app, "client@demo.test", "doc:1", "Nouveau document", "").await;
    ouvrage::features::jobs::registry::run_job(&state, digest::KIND, &serde_json::json!({})).await.unwrap();
    // Daily by default: mailed if it is 07:00 or later in Paris right now, waiting otherwise.
    let expected = match digest::due_period(ouvrage::features::users::account::DigestFrequency::Daily, Utc::now()) {
        digest::Due::Period(_) => "sent",
        _ => "pending",
    };
    assert_eq!(notification(&app.db, "client@demo.test", "doc:1").await.2, expected);
    app.stop().await;
}
