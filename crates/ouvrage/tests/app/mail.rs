//! Outgoing e-mail through the outbox: delivered over real SMTP, kept and retried while the
//! server is down, sent exactly once, written as .eml files without SMTP.

use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::domain::time::now_ms;
use ouvrage::features::mail::{self, OutgoingMail};
use ouvrage::{exec_db, on_db};

use crate::smtp::{Mail, SmtpServer};
use crate::support::*;

#[derive(sqlx::FromRow, Debug)]
struct OutboxRow {
    id: i64,
    message_id: String,
    to_addr: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
}

async fn outbox(db: &Db) -> Vec<OutboxRow> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT id, message_id, to_addr, status, attempts, next_attempt_at, last_error, sent_at FROM outbox ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

/// An app on `env` with the demo data, sending through `smtp_url` (files when `None`).
async fn app_with(env: &TestEnv, smtp_url: Option<String>) -> TestApp {
    let app = TestApp::start(env, |c| c.smtp_url = smtp_url).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    app
}

async fn request_reset(app: &TestApp, email: &str) {
    let b = app.client();
    let resp = b.submit("/mot-de-passe-oublie", "/mot-de-passe-oublie", &[("email", email)]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("un e-mail vient de lui être envoyé"));
}

/// The `/reinitialiser/<token>` path in a mail's text.
fn reset_path(text: &str) -> Option<String> {
    let start = text.find("/reinitialiser/")?;
    Some(text[start..].split_whitespace().next()?.to_string())
}

#[tokio::test]
async fn password_reset_mail_is_delivered_over_smtp() {
    let smtp = SmtpServer::start().await;
    let env = TestEnv::new().await;
    let app = app_with(&env, Some(smtp.url())).await;
    request_reset(&app, "client@demo.test").await;

    let got = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "one message reaches the SMTP server");
    let m = &got[0];
    assert_eq!(m.to, vec!["client@demo.test".to_string()]);
    assert_eq!(m.from, "no-reply@localhost");
    assert_eq!(m.subject(), "Réinitialisation de votre mot de passe");
    let text = m.text();
    assert!(text.starts_with("Bonjour"), "{text}");
    let path = reset_path(&text).expect("the mail holds the reset link");
    assert!(text.contains(&format!("{}{path}", app.config.base_url)), "absolute link: {text}");
    // The link in the mail works.
    assert_eq!(app.client().get(&path).await.status(), 200);

    assert!(
        eventually(Duration::from_secs(5), || async { outbox(&app.db).await[0].status == "sent" }).await,
        "the outbox row is marked sent"
    );
    let row = &outbox(&app.db).await[0];
    assert!(row.sent_at.is_some());
    assert_eq!(m.header("Message-ID").as_deref(), Some(row.message_id.as_str()));
    assert!(m.header("Date").is_some());
    app.stop().await;
}

#[tokio::test]
async fn mail_waits_while_the_server_is_down_and_is_sent_once_when_it_is_back() {
    let mut smtp = SmtpServer::start().await;
    smtp.stop().await;
    let env = TestEnv::new().await;
    let app = app_with(&env, Some(smtp.url())).await;
    request_reset(&app, "bureau@demo.test").await;

    // The server refuses connections: the message stays queued, with the failure recorded.
    assert!(
        eventually(Duration::from_secs(10), || async {
            outbox(&app.db).await.first().is_some_and(|r| r.attempts > 0 && r.last_error.is_some())
        })
        .await,
        "the failed attempt is recorded"
    );
    let row = &outbox(&app.db).await[0];
    assert_eq!(row.status, "pending", "{row:?}");
    assert!(row.next_attempt_at > now_ms(), "the retry waits a while: {row:?}");
    assert!(!row.last_error.as_deref().unwrap().is_empty());
    assert!(smtp.received().is_empty());

    // The server comes back; time passes until the retry is due.
    smtp.restart().await;
    exec_db!(&app.db, |p| sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE status = 'pending'")
        .bind(now_ms())
        .execute(p)
        .await)
    .unwrap();
    let got = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["bureau@demo.test".to_string()]);
    assert!(eventually(Duration::from_secs(5), || async { outbox(&app.db).await[0].status == "sent" }).await);

    // Nothing is sent again: not by this instance, nor after a restart.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.stop().await;
    let app = TestApp::start(&env, |c| c.smtp_url = Some(smtp.url())).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(smtp.received().len(), 1, "the message is delivered exactly once");
    let row = &outbox(&app.db).await[0];
    assert_eq!(row.status, "sent");
    assert!(row.last_error.is_none());
    app.stop().await;
}

#[tokio::test]
async fn two_instances_never_send_the_same_message() {
    let smtp = SmtpServer::start().await;
    let env = TestEnv::new().await;
    let first = TestApp::start(&env, |c| c.workers = false).await;
    ouvrage::demo::load_if_empty(&first.db, &first.files).await.unwrap();
    let mut tx = first.db.begin().await.unwrap();
    for i in 0..40 {
        let mail = OutgoingMail {
            tenant_id: None,
            to: format!("destinataire{i}@exemple.fr"),
            subject: format!("Message {i}"),
            text: "Bonjour".into(),
            html: Some("<p>Bonjour</p>".into()),
        };
        mail::enqueue(&mut tx, mail).await.unwrap();
    }
    tx.commit().await.unwrap();
    first.stop().await;

    let a = TestApp::start(&env, |c| c.smtp_url = Some(smtp.url())).await;
    let b = TestApp::start(&env, |c| c.smtp_url = Some(smtp.url())).await;
    let got = smtp.wait_for(40, Duration::from_secs(20)).await;
    assert!(
        eventually(Duration::from_secs(10), || async { outbox(&a.db).await.iter().all(|r| r.status == "sent") }).await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = smtp.received();
    assert_eq!(got_after.len(), 40, "each message exactly once (had {} then {})", got.len(), got_after.len());
    let mut ids: Vec<String> = got_after.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    // The HTML alternative travels with the text.
    assert!(got_after.iter().all(|m| m.text().trim() == "Bonjour"));
    assert!(got_after.iter().all(|m| String::from_utf8_lossy(&m.data).contains("text/html")));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_invalid_recipient_fails_at_once() {
    let smtp = SmtpServer::start().await;
    let env = TestEnv::new().await;
    let app = app_with(&env, Some(smtp.url())).await;
    let mut tx = app.db.begin().await.unwrap();
    let mail = OutgoingMail {
        tenant_id: None,
        to: "pas une adresse".into(),
        subject: "Test".into(),
        text: "Bonjour".into(),
        html: None,
    };
    mail::enqueue(&mut tx, mail).await.unwrap();
    tx.commit().await.unwrap();
    assert!(eventually(Duration::from_secs(5), || async { outbox(&app.db).await[0].status == "failed" }).await);
    let row = &outbox(&app.db).await[0];
    assert_eq!(row.attempts, 1, "no retries for an address that can never work");
    assert!(row.last_error.as_deref().unwrap().contains("destinataire invalide"), "{row:?}");
    assert!(smtp.received().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn without_smtp_mails_are_written_as_eml_files() {
    let env = TestEnv::new().await;
    let app = app_with(&env, None).await;
    request_reset(&app, "technicien@demo.test").await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            outbox(&app.db).await.first().is_some_and(|r| r.status == "sent")
        })
        .await
    );
    let row = &outbox(&app.db).await[0];
    assert_eq!(row.to_addr, "technicien@demo.test");
    let dir = app.data_dir.join("mail");
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec![format!("{}.eml", row.id)], "one complete file, no temporary left behind");
    let raw = std::fs::read(dir.join(format!("{}.eml", row.id))).unwrap();
    let m = Mail::parse(&raw);
    assert_eq!(m.header("To").as_deref(), Some("technicien@demo.test"));
    assert_eq!(m.header("Subject").as_deref(), Some("Réinitialisation de votre mot de passe"));
    assert_eq!(m.header("Message-ID").as_deref(), Some(row.message_id.as_str()));
    let path = reset_path(&m.text()).expect("reset link in the file");
    assert_eq!(app.client().get(&path).await.status(), 200);
    app.stop().await;
}
