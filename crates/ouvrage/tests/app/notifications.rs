//! The notification store and the in-app lists: each audience reaches exactly the users who may
//! see the event, once; the lists of both faces show a user's own notifications, newest first,
//! with their unread state and count; opening or marking them is scoped to their owner; the
//! invoice hook e-mails the company's billing contact.

use ouvrage::app::AppState;
use ouvrage::db::Db;
use ouvrage::domain::{ClientId, Permission, TenantId, UserId};
use ouvrage::features::notifications::{Audience, Event, mail_invoice_to_billing_contact, notify};
use ouvrage::{exec_db, on_db};

use crate::support::*;

pub async fn user_id(db: &Db, email: &str) -> UserId {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(p).await).unwrap()
}

pub async fn client_id(db: &Db, code: &str) -> ClientId {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM clients WHERE code = $1").bind(code).fetch_one(p).await).unwrap()
}

pub async fn demo_tenant(db: &Db) -> TenantId {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'").fetch_one(p).await).unwrap()
}

/// Runs one SQL statement with text/number binds (test staging).
pub async fn sql(db: &Db, statement: &'static str, binds: &[&str]) {
    exec_db!(db, |p| {
        let mut q = sqlx::query(statement);
        for b in binds {
            q = match b.parse::<i64>() {
                Ok(n) => q.bind(n),
                Err(_) => q.bind(b.to_string()),
            };
        }
        q.execute(p).await
    })
    .unwrap();
}

pub fn event(
    tenant: TenantId,
    client: Option<ClientId>,
    kind: &'static str,
    key: &str,
    title: &str,
    site: &str,
) -> Event {
    Event {
        tenant_id: tenant,
        client_id: client,
        kind,
        event_key: key.to_string(),
        title: title.to_string(),
        link: "/espace/documents".to_string(),
        site_label: site.to_string(),
    }
}

/// Records an event in its own transaction; returns the rows added.
pub async fn record(db: &Db, event: &Event, audience: Audience) -> u64 {
    let mut tx = db.begin().await.unwrap();
    let n = notify(&mut tx, event, audience).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// The e-mails of the recipients of `event_key`, sorted.
pub async fn recipients(db: &Db, event_key: &str) -> Vec<String> {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT u.email FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.event_key = $1 ORDER BY u.email"
    )
    .bind(event_key)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// The notification of `event_key` for `email`: (id, read_at, digest_state).
pub async fn notification(db: &Db, email: &str, event_key: &str) -> (i64, Option<i64>, String) {
    on_db!(db, |p| sqlx::query_as(
        "SELECT n.id, n.read_at, n.digest_state FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE u.email = $1 AND n.event_key = $2"
    )
    .bind(email)
    .bind(event_key)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// The application state over the test app's database (same secret, same configuration).
pub async fn state_of(app: &TestApp) -> AppState {
    AppState::new(app.config.clone(), app.db.clone()).await.unwrap()
}

/// A second firm with one staff user, for cross-tenant checks.
async fn other_firm(db: &Db) -> (TenantId, UserId, ClientId) {
    sql(db, "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('autre', 'Autre Firme', 0)", &[]).await;
    let tenant: TenantId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'autre'").fetch_one(p).await).unwrap();
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO users (tenant_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, 'patron@autre.test', 'Patron Autre', 'admin', '!', 0, 0)"
    )
    .bind(tenant)
    .execute(p)
    .await)
    .unwrap();
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO clients (tenant_id, code, name, kind, billing_email, created_at, updated_at)
         VALUES ($1, 'X001', 'Client Autre', 'builder', 'compta@client-autre.test', 0, 0)"
    )
    .bind(tenant)
    .execute(p)
    .await)
    .unwrap();
    let client: ClientId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM clients WHERE code = 'X001'").fetch_one(p).await).unwrap();
    (tenant, user_id(db, "patron@autre.test").await, client)
}

#[tokio::test]
async fn each_audience_is_recorded_once_for_the_users_who_may_see_it() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let t = demo_tenant(db).await;
    let c001 = client_id(db, "C001").await;

    // The users of a company (client@demo.test has no invoice permission; client.admin has).
    let doc = event(t, Some(c001), "new_document", "document:1", "Nouveau document : plan de masse", "Les Lilas");
    assert_eq!(record(db, &doc, Audience::ClientUsers { client: c001, permission: None }).await, 2);
    assert_eq!(recipients(db, "document:1").await, ["client.admin@demo.test", "client@demo.test"]);
    // Recording the same event again keeps one row per recipient.
    assert_eq!(record(db, &doc, Audience::ClientUsers { client: c001, permission: None }).await, 0);
    assert_eq!(recipients(db, "document:1").await.len(), 2);

    // A permission filter: client admins see everything of their company, others need it.
    let invoices = Audience::ClientUsers { client: c001, permission: Some(Permission::SeeInvoices) };
    let inv = event(t, Some(c001), "new_invoice", "invoice:1", "Nouvelle facture FA-1", "");
    assert_eq!(record(db, &inv, invoices).await, 1);
    assert_eq!(recipients(db, "invoice:1").await, ["client.admin@demo.test"]);
    sql(db, "UPDATE users SET permissions = 'sign invoices' WHERE email = 'client@demo.test'", &[]).await;
    let inv2 = event(t, Some(c001), "new_invoice", "invoice:2", "Nouvelle facture FA-2", "");
    assert_eq!(record(db, &inv2, invoices).await, 2);

    let req = event(t, Some(c001), "contact_request_validated", "request:1", "Demande validée", "");
    record(db, &req, Audience::ClientAdmins { client: c001 }).await;
    assert_eq!(recipients(db, "request:1").await, ["client.admin@demo.test"]);

    let cred = event(t, None, "credential_request", "credential:1", "Nouvelle demande d'identifiants", "");
    record(db, &cred, Audience::Office).await;
    assert_eq!(recipients(db, "credential:1").await, ["admin@demo.test", "bureau@demo.test"], "not the technician");

    let one = event(t, Some(c001), "new_message", "message:1", "Nouveau message", "");
    record(db, &one, Audience::User(user_id(db, "client@demo.test").await)).await;
    assert_eq!(recipients(db, "message:1").await, ["client@demo.test"]);

    // Inactive users are left out.
    sql(db, "UPDATE users SET active = FALSE WHERE email = 'client@demo.test'", &[]).await;
    let doc2 = event(t, Some(c001), "new_document", "document:2", "Nouveau document : PC", "");
    assert_eq!(record(db, &doc2, Audience::ClientUsers { client: c001, permission: None }).await, 1);
    assert_eq!(recipients(db, "document:2").await, ["client.admin@demo.test"]);

    // Another firm's user or client is never a recipient of this firm's event.
    let (_, stranger, their_client) = other_firm(db).await;
    let leak = event(t, None, "new_message", "message:2", "Fuite ?", "");
    assert_eq!(record(db, &leak, Audience::User(stranger)).await, 0);
    sql(
        db,
        "INSERT INTO users (tenant_id, client_id, email, full_name, role, password_hash, created_at, updated_at)
         SELECT tenant_id, id, 'client@client-autre.test', 'Client Autre', 'client_user', '!', 0, 0 FROM clients WHERE code = 'X001'",
        &[],
    )
    .await;
    assert_eq!(record(db, &leak, Audience::ClientUsers { client: their_client, permission: None }).await, 0);
    assert!(recipients(db, "message:2").await.is_empty());
    app.stop().await;
}

/// The `N` of the navigation badge, if shown.
fn badge(body: &str) -> Option<String> {
    let marker = "Notifications <span class=\"badge\">";
    let start = body.find(marker)? + marker.len();
    Some(body[start..].split('<').next()?.to_string())
}

#[tokio::test]
async fn the_extranet_list_is_newest_first_paginated_and_tracks_unread() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let t = demo_tenant(db).await;
    let c001 = client_id(db, "C001").await;
    let julien = user_id(db, "client@demo.test").await;
    for i in 1..=30 {
        let e = event(t, Some(c001), "new_document", &format!("doc:{i}"), &format!("Événement {i:02}"), "Les Lilas");
        record(db, &e, Audience::User(julien)).await;
    }
    let b = app.login("client@demo.test").await;
    let (status, body) = b.get_text("/espace/notifications").await;
    assert_eq!(status, 200);
    assert_eq!(badge(&body).as_deref(), Some("30"), "the navigation shows the unread count");
    let (p30, p29) = (body.find("Événement 30").unwrap(), body.find("Événement 29").unwrap());
    assert!(p30 < p29, "newest first");
    assert!(!body.contains("Événement 05"), "25 per page");
    assert!(body.contains("Page 1 sur 2") && body.contains("30 notifications"));
    assert_eq!(body.matches("Non lue</span>").count(), 25);
    let (_, page2) = b.get_text("/espace/notifications?page=2").await;
    assert!(page2.contains("Événement 05") && page2.contains("Événement 01") && !page2.contains("Événement 06"));
    // The badge also shows on the other pages of the extranet.
    assert_eq!(badge(&b.get_text("/espace").await.1).as_deref(), Some("30"));

    // Opening one marks it read and follows its link.
    let (id30, read, _) = notification(db, "client@demo.test", "doc:30").await;
    assert!(read.is_none());
    let resp = b.submit("/espace/notifications", &format!("/notifications/{id30}/lu"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/documents");
    assert!(notification(db, "client@demo.test", "doc:30").await.1.is_some());
    let (_, body) = b.get_text("/espace/notifications").await;
    assert_eq!(badge(&body).as_deref(), Some("29"));
    assert_eq!(body.matches("Non lue</span>").count(), 24);
    let (_, unread_only) = b.get_text("/espace/notifications?non-lues=1").await;
    assert!(!unread_only.contains("Événement 30") && unread_only.contains("29 notifications"));

    // Everything read at once.
    let resp = b.submit("/espace/notifications", "/notifications/tout-lu", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/notifications?msg=lues");
    let (_, body) = b.get_text("/espace/notifications?msg=lues").await;
    assert!(body.contains("Toutes vos notifications sont marquées comme lues."));
    assert_eq!(badge(&body), None, "no badge without unread notifications");
    assert!(!body.contains("Tout marquer comme lu"));
    let unread: i64 = on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE read_at IS NULL")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(unread, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_user_only_sees_and_marks_their_own_notifications() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let t = demo_tenant(db).await;
    let (c001, c002) = (client_id(db, "C001").await, client_id(db, "C002").await);
    let theirs = event(t, Some(c002), "new_document", "doc:c002", "Secret de Demeures de l'Estuaire", "");
    record(db, &theirs, Audience::User(user_id(db, "autre.client@demo.test").await)).await;
    let mine = event(t, Some(c001), "new_document", "doc:c001", "Pour Julien", "");
    record(db, &mine, Audience::User(user_id(db, "client@demo.test").await)).await;
    let office = event(t, None, "credential_request", "cred:1", "Nouvelle demande d'identifiants : Dupont BTP", "");
    record(db, &office, Audience::Office).await;
    let (their_id, _, _) = notification(db, "autre.client@demo.test", "doc:c002").await;
    let (admin_note, _, _) = notification(db, "admin@demo.test", "cred:1").await;

    let julien = app.login("client@demo.test").await;
    let (_, body) = julien.get_text("/espace/notifications").await;
    assert!(body.contains("Pour Julien"));
    assert!(!body.contains("Secret de Demeures") && !body.contains("Dupont BTP"));
    for id in [their_id.to_string(), admin_note.to_string(), "999999".into(), "abc".into()] {
        let resp = julien.submit("/espace/notifications", &format!("/notifications/{id}/lu"), &[]).await;
        assert_eq!(resp.status(), 404, "notification {id}");
        assert!(resp.text().await.unwrap().contains("Page introuvable"));
    }
    julien.submit("/espace/notifications", "/notifications/tout-lu", &[]).await;
    assert!(notification(db, "autre.client@demo.test", "doc:c002").await.1.is_none(), "untouched");
    assert!(notification(db, "admin@demo.test", "cred:1").await.1.is_none(), "untouched");
    assert!(notification(db, "client@demo.test", "doc:c001").await.1.is_some());
    assert_eq!(julien.get("/bo/notifications").await.status(), 403);

    // Staff: their own list on the back office, nobody else's notification.
    let admin = app.login("admin@demo.test").await;
    let (status, body) = admin.get_text("/bo/notifications").await;
    assert_eq!(status, 200);
    assert!(body.contains("Dupont BTP") && !body.contains("Pour Julien"));
    assert_eq!(badge(&body).as_deref(), Some("1"));
    let resp = admin.submit("/bo/notifications", &format!("/notifications/{their_id}/lu"), &[]).await;
    assert_eq!(resp.status(), 404);
    assert!(notification(db, "autre.client@demo.test", "doc:c002").await.1.is_none());
    assert_eq!(admin.get("/espace/notifications").await.status(), 403);
    let resp = admin.submit("/bo/notifications", &format!("/notifications/{admin_note}/lu"), &[]).await;
    assert_eq!(resp.status(), 303);
    let resp = admin.submit("/bo/notifications", "/notifications/tout-lu", &[]).await;
    assert_eq!(location(&resp), "/bo/notifications?msg=lues");
    // The office colleague's copy is theirs: still unread.
    let (_, body) = app.login("bureau@demo.test").await.get_text("/bo/notifications").await;
    assert_eq!(badge(&body).as_deref(), Some("1"));
    // Not logged in: to the login page.
    assert_eq!(location(&app.client().get("/espace/notifications").await), "/login?next=%2Fespace%2Fnotifications");
    app.stop().await;
}

/// Outbox rows to `to`: (subject, body).
async fn mails_to(db: &Db, to: &str) -> Vec<(String, String)> {
    on_db!(db, |p| sqlx::query_as("SELECT subject, body_text FROM outbox WHERE to_addr = $1 ORDER BY id")
        .bind(to)
        .fetch_all(p)
        .await)
    .unwrap()
}

#[tokio::test]
async fn a_new_invoice_is_mailed_at_once_to_the_billing_contact() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let t = demo_tenant(db).await;
    let (c001, c002) = (client_id(db, "C001").await, client_id(db, "C002").await);
    let link = format!("{}/espace/documents/factures", app.config.base_url);

    let mut tx = db.begin().await.unwrap();
    let id = mail_invoice_to_billing_contact(&mut tx, t, c001, "FA-2026-0042", &link, None).await.unwrap();
    tx.commit().await.unwrap();
    assert!(id.is_some());
    let mails = mails_to(db, "compta@maisons-horizon.test").await;
    assert_eq!(mails.len(), 1);
    let (subject, body) = &mails[0];
    assert!(subject.contains("Nouvelle facture FA-2026-0042"), "{subject}");
    assert!(body.contains("FA-2026-0042") && body.contains(&link) && body.contains("Maisons Horizon"), "{body}");

    // No billing e-mail: nothing queued, no error.
    sql(db, "UPDATE clients SET billing_email = '' WHERE code = 'C002'", &[]).await;
    let mut tx = db.begin().await.unwrap();
    assert_eq!(mail_invoice_to_billing_contact(&mut tx, t, c002, "FA-2026-0043", &link, None).await.unwrap(), None);
    tx.commit().await.unwrap();

    // A client of another firm is not found from this firm (and the reverse).
    let (other, _, their_client) = other_firm(db).await;
    let mut tx = db.begin().await.unwrap();
    assert_eq!(mail_invoice_to_billing_contact(&mut tx, t, their_client, "FA-1", &link, None).await.unwrap(), None);
    assert_eq!(mail_invoice_to_billing_contact(&mut tx, other, c001, "FA-1", &link, None).await.unwrap(), None);
    tx.commit().await.unwrap();
    let total: i64 =
        on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE subject LIKE 'Nouvelle facture%'")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(total, 1, "only the first invoice was mailed");
    app.stop().await;
}
