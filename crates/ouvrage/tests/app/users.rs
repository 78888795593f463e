//! User management in the back office: client accesses with temporary passwords, staff
//! accounts, roles, deactivation.

use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::on_db;

use crate::clients::{count, demo_client, unescape};
use crate::support::*;

pub async fn user_id(db: &Db, email: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(p).await)
        .unwrap()
}

/// The latest queued mail to `to`: (subject, body).
pub async fn last_mail(db: &Db, to: &str) -> Option<(String, String)> {
    on_db!(db, |p| sqlx::query_as::<_, (String, String)>(
        "SELECT subject, body_text FROM outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1"
    )
    .bind(to)
    .fetch_optional(p)
    .await)
    .unwrap()
}

pub fn temporary_password_in(body: &str) -> String {
    let marker = "Mot de passe temporaire : ";
    let start = body.find(marker).expect("the mail gives the temporary password") + marker.len();
    body[start..].lines().next().unwrap().trim().to_string()
}

#[tokio::test]
async fn a_new_client_access_gets_a_temporary_password_by_mail_and_must_change_it() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    let c003 = demo_client(&app.db, "C003").await;
    let contact: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM contacts WHERE email = 'm.dubois@loire-habitat.test'")
            .fetch_one(p)
            .await)
        .unwrap();

    // Choosing the contact prefills the name and e-mail.
    let page = format!("/bo/utilisateurs/nouveau?client={c003}&contact={contact}");
    let (status, body) = office.get_text(&page).await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"Marc Dubois\"") && body.contains("value=\"m.dubois@loire-habitat.test\""));
    assert!(body.contains("Loire Habitat Social"));
    assert!(!body.contains("value=\"admin\""), "office staff are not offered the admin role");

    let client_id = c003.to_string();
    let contact_id = contact.to_string();
    let resp = office
        .submit(
            &page,
            "/bo/utilisateurs/nouveau",
            &[
                ("profil", "client"),
                ("client_id", &client_id),
                ("contact_id", &contact_id),
                ("role", "client_admin"),
                // Left empty: taken from the contact.
                ("full_name", ""),
                ("email", ""),
                ("permissions", "sign"),
                ("permissions", "invoices"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let id = user_id(&app.db, "m.dubois@loire-habitat.test").await;
    assert_eq!(location(&resp), format!("/bo/utilisateurs/{id}/modifier?msg=acces"));
    let (name, role, client, must_change, expires, perms): (String, String, Option<i64>, bool, Option<i64>, String) =
        on_db!(&app.db, |p| sqlx::query_as(
            "SELECT full_name, role, client_id, must_change_password, temp_password_expires_at, permissions FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!((name.as_str(), role.as_str(), client), ("Marc Dubois", "client_admin", Some(c003)));
    assert!(must_change);
    let hours = (expires.unwrap() - ouvrage::domain::time::now_ms()) as f64 / 3_600_000.0;
    assert!((71.9..=72.0).contains(&hours), "expires in {hours} h");
    assert_eq!(perms, "sign invoices");

    // The outbox holds the mail: login URL, login, temporary password, validity.
    let (subject, text) = last_mail(&app.db, "m.dubois@loire-habitat.test").await.expect("a mail is queued");
    assert!(subject.contains("Vos accès") && subject.contains("Mesures & Contrôles Atlantique"), "{subject}");
    assert!(text.contains(&format!("{}/login", app.config.base_url)), "{text}");
    assert!(text.contains("Identifiant : m.dubois@loire-habitat.test"));
    assert!(text.contains("72 heures"));
    let temporary = temporary_password_in(&text);
    assert_eq!(temporary.len(), 14);
    let audit = count(&app.db, "SELECT COUNT(*) FROM audit_log WHERE entity = 'user' AND action = 'create' AND summary LIKE '%m.dubois@loire-habitat.test%'").await;
    assert_eq!(audit, 1);

    // First login: the user must choose a password before anything else.
    let user = app.client();
    let resp = user.login("m.dubois@loire-habitat.test", &temporary).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/mot-de-passe/changer");
    for path in ["/espace", "/espace/entreprise"] {
        let resp = user.get(path).await;
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(location(&resp), "/mot-de-passe/changer", "{path}");
    }
    let resp = user
        .submit(
            "/mot-de-passe/changer",
            "/mot-de-passe/changer",
            &[("current", &temporary), ("password", "Chaufferie-Nord-2026"), ("confirm", "Chaufferie-Nord-2026")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/espace"), "{}", location(&resp));
    let (status, body) = user.get_text("/espace/entreprise").await;
    assert_eq!(status, 200);
    assert!(body.contains("Loire Habitat Social"));

    // The list shows the new access with its client.
    let (_, body) = office.get_text(&format!("/bo/utilisateurs?client={c003}")).await;
    assert!(body.contains("m.dubois@loire-habitat.test") && !body.contains("client@demo.test"));
    app.stop().await;
}

#[tokio::test]
async fn a_taken_email_or_missing_client_is_refused_in_french() {
    let app = TestApp::spawn().await;
    let admin = app.login("admin@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await.to_string();
    let users_before = count(&app.db, "SELECT COUNT(*) FROM users").await;
    let mails_before = count(&app.db, "SELECT COUNT(*) FROM outbox").await;
    let resp = admin
        .submit(
            "/bo/utilisateurs",
            "/bo/utilisateurs/nouveau",
            &[("client_id", &c001), ("role", "client_user"), ("full_name", "Doublon"), ("email", "Client@Demo.test")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Un compte existe déjà avec l"));
    let resp = admin
        .submit(
            "/bo/utilisateurs",
            "/bo/utilisateurs/nouveau",
            &[
                ("profil", "client"),
                ("role", "client_user"),
                ("full_name", "Sans Client"),
                ("email", "sans.client@exemple.test"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Choisissez le client"));
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM users").await, users_before);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM outbox").await, mails_before, "no mail for a refused form");
    app.stop().await;
}

#[tokio::test]
async fn office_staff_manage_client_accounts_only() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    assert_eq!(office.get("/bo/utilisateurs/nouveau?profil=personnel").await.status(), 403);
    let resp = office
        .submit(
            "/bo/utilisateurs",
            "/bo/utilisateurs/nouveau",
            &[
                ("profil", "personnel"),
                ("role", "admin"),
                ("full_name", "Faux Admin"),
                ("email", "faux.admin@demo.test"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM users WHERE email = 'faux.admin@demo.test'").await, 0);

    // Nor promote a client user, nor touch a staff account.
    let client = user_id(&app.db, "client@demo.test").await;
    let page = format!("/bo/utilisateurs/{client}/modifier");
    let resp = office
        .submit(
            &page,
            &page,
            &[("full_name", "Julien Lefèvre"), ("email", "client@demo.test"), ("role", "admin"), ("active", "1")],
        )
        .await;
    assert_eq!(resp.status(), 403);
    let role: String =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT role FROM users WHERE id = $1").bind(client).fetch_one(p).await)
            .unwrap();
    assert_eq!(role, "client_user");
    let admin = user_id(&app.db, "admin@demo.test").await;
    assert_eq!(office.get(&format!("/bo/utilisateurs/{admin}/modifier")).await.status(), 403);
    let resp =
        office.submit("/bo/utilisateurs", &format!("/bo/utilisateurs/{admin}/mot-de-passe-temporaire"), &[]).await;
    assert_eq!(resp.status(), 403);

    // Office staff do manage client accounts.
    let resp = office
        .submit(
            &page,
            &page,
            &[
                ("full_name", "Julien Lefèvre"),
                ("email", "client@demo.test"),
                ("role", "client_admin"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);

    // Technicians and client users see nothing of it.
    let tech = app.login("technicien@demo.test").await;
    for path in ["/bo/utilisateurs", "/bo/utilisateurs/nouveau", &page] {
        assert_eq!(tech.get(path).await.status(), 403, "{path}");
    }
    assert_eq!(tech.submit("/bo", "/bo/utilisateurs/nouveau", &[("role", "client_user")]).await.status(), 403);
    assert_eq!(app.login("client.admin@demo.test").await.get("/bo/utilisateurs").await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn role_changes_and_deactivation_end_the_users_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.login("admin@demo.test").await;
    let user = app.login("client@demo.test").await;
    assert_eq!(user.get("/espace").await.status(), 200);
    let id = user_id(&app.db, "client@demo.test").await;
    let page = format!("/bo/utilisateurs/{id}/modifier");
    let (status, body) = admin.get_text(&page).await;
    assert_eq!(status, 200);
    assert!(body.contains("Julien Lefèvre") && body.contains("Maisons Horizon Atlantique"));

    // A new role: the user is logged out.
    let resp = admin
        .submit(
            &page,
            &page,
            &[
                ("full_name", "Julien Lefèvre"),
                ("email", "client@demo.test"),
                ("role", "client_admin"),
                ("permissions", "sign"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let resp = user.get("/espace").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/login"));

    // Deactivated: logged out and unable to log in.
    let user = app.login("client@demo.test").await;
    let resp = admin
        .submit(
            &page,
            &page,
            &[("full_name", "Julien Lefèvre"), ("email", "client@demo.test"), ("role", "client_admin")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(user.get("/espace").await.status(), 303);
    assert_eq!(app.client().login("client@demo.test", "demo-ouvrage").await.status(), 401);
    let summaries: Vec<String> = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT summary FROM audit_log WHERE entity = 'user' AND entity_id = $1 AND action = 'update' ORDER BY id"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(summaries.len(), 2);
    assert!(summaries[0].contains("rôle Utilisateur client → Administrateur client"));
    assert!(summaries[1].contains("désactivé"));

    // The e-mail of another account cannot be taken.
    let resp = admin
        .submit(
            &page,
            &page,
            &[("full_name", "Julien Lefèvre"), ("email", "bureau@demo.test"), ("role", "client_admin")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("Un compte existe déjà avec l'adresse bureau@demo.test"));
    app.stop().await;
}

#[tokio::test]
async fn nobody_locks_themselves_out() {
    let app = TestApp::spawn().await;
    let admin = app.login("admin@demo.test").await;
    let id = user_id(&app.db, "admin@demo.test").await;
    let page = format!("/bo/utilisateurs/{id}/modifier");
    let resp = admin
        .submit(&page, &page, &[("full_name", "Élodie Carré"), ("email", "admin@demo.test"), ("role", "admin")])
        .await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Vous ne pouvez pas désactiver votre propre compte"));
    let resp = admin
        .submit(
            &page,
            &page,
            &[("full_name", "Élodie Carré"), ("email", "admin@demo.test"), ("role", "office"), ("active", "1")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(
        unescape(&resp.text().await.unwrap()).contains("Vous ne pouvez pas retirer votre propre rôle d'administrateur")
    );
    let (role, active): (String, bool) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT role, active FROM users WHERE id = $1").bind(id).fetch_one(p).await)
            .unwrap();
    assert_eq!((role.as_str(), active), ("admin", true));
    assert_eq!(admin.get("/bo").await.status(), 200, "still logged in");

    // The admin creates a staff account, who is then an admin too.
    let resp = admin
        .submit(
            "/bo/utilisateurs/nouveau?profil=personnel",
            "/bo/utilisateurs/nouveau",
            &[
                ("profil", "personnel"),
                ("role", "admin"),
                ("full_name", "Hugo Martin"),
                ("email", "hugo.martin@demo.test"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let (role, client): (String, Option<i64>) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT role, client_id FROM users WHERE email = 'hugo.martin@demo.test'")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!((role.as_str(), client), ("admin", None));
    assert!(last_mail(&app.db, "hugo.martin@demo.test").await.is_some());
    app.stop().await;
}

#[tokio::test]
async fn resending_access_replaces_the_password_with_a_new_temporary_one() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    let victim = app.login("autre.client@demo.test").await;
    let id = user_id(&app.db, "autre.client@demo.test").await;
    let resp = office
        .submit(
            &format!("/bo/utilisateurs/{id}/modifier"),
            &format!("/bo/utilisateurs/{id}/mot-de-passe-temporaire"),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("/bo/utilisateurs/{id}/modifier?msg=envoye"));
    let (subject, text) = last_mail(&app.db, "autre.client@demo.test").await.expect("a mail is queued");
    assert!(subject.contains("nouveaux accès"), "{subject}");
    let temporary = temporary_password_in(&text);
    // Open sessions end, the old password stops working, the new one forces a change.
    assert_eq!(victim.get("/espace").await.status(), 303);
    assert_eq!(app.client().login("autre.client@demo.test", "demo-ouvrage").await.status(), 401);
    let b = app.client();
    let resp = b.login("autre.client@demo.test", &temporary).await;
    assert_eq!(location(&resp), "/mot-de-passe/changer");
    let (_, body) = office.get_text(&format!("/bo/utilisateurs/{id}/modifier")).await;
    assert!(body.contains("En attente de première connexion"));
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'temp_password' AND summary LIKE '%autre.client@demo.test%'"
        )
        .await,
        1
    );
    // The outbox worker picks the mail up (written as a file without SMTP).
    let db = app.db.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let db = db.clone();
            async move {
                on_db!(&db, |p| sqlx::query_scalar::<_, String>(
                    "SELECT status FROM outbox WHERE to_addr = 'autre.client@demo.test' ORDER BY id DESC LIMIT 1"
                )
                .fetch_one(p)
                .await)
                .unwrap()
                    == "sent"
            }
        })
        .await
    );
    app.stop().await;
}

#[tokio::test]
async fn the_user_list_is_searched_and_filtered() {
    let app = TestApp::spawn().await;
    let b = app.login("admin@demo.test").await;
    let (status, body) = b.get_text("/bo/utilisateurs?profil=client").await;
    assert_eq!(status, 200);
    assert!(body.contains("client@demo.test") && body.contains("autre.client@demo.test"));
    assert!(!body.contains("bureau@demo.test"));
    let (_, body) = b.get_text("/bo/utilisateurs?profil=personnel").await;
    assert!(body.contains("bureau@demo.test") && body.contains("technicien@demo.test"));
    assert!(!body.contains("autre.client@demo.test"));
    let (_, body) = b.get_text("/bo/utilisateurs?q=moreau").await;
    assert!(body.contains("client.admin@demo.test") && !body.contains("bureau@demo.test"));
    let (_, body) = b.get_text("/bo/utilisateurs?q=LEFEVRE").await;
    assert!(body.contains("client@demo.test"), "accents and case are ignored");
    let (_, body) = b.get_text("/bo/utilisateurs?role=technician").await;
    assert!(body.contains("technicien@demo.test") && !body.contains("bureau@demo.test"));
    let c002 = demo_client(&app.db, "C002").await;
    let (_, body) = b.get_text(&format!("/bo/utilisateurs?client={c002}")).await;
    assert!(body.contains("autre.client@demo.test") && !body.contains("client.admin@demo.test"));
    let (_, body) = b.get_text("/bo/utilisateurs?actif=0").await;
    assert!(body.contains("Aucun utilisateur"));
    app.stop().await;
}
