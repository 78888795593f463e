//! Extranet accounts run by the client's administrator: "Mon entreprise" details, giving,
//! re-sending and revoking colleagues' access (with their notification profile), everyone's
//! personal data and notification frequency, and the firm's default frequency.

use std::time::Duration;

use ouvrage::db::Db;
use ouvrage::domain::time::{HOUR_MS, now_ms};
use ouvrage::features::users::account::{DigestFrequency, effective_digest};
use ouvrage::{exec_db, on_db};

use crate::clients::{count, demo_client, unescape};
use crate::smtp::SmtpServer;
use crate::support::*;
use crate::users::{last_mail, temporary_password_in, user_id};

async fn contact_id(db: &Db, email: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>("SELECT id FROM contacts WHERE email = $1")
        .bind(email)
        .fetch_one(p)
        .await)
    .unwrap()
}

#[derive(sqlx::FromRow, Debug)]
struct Account {
    client_id: Option<i64>,
    contact_id: Option<i64>,
    role: String,
    permissions: String,
    active: bool,
    must_change_password: bool,
    temp_password_expires_at: Option<i64>,
    digest_frequency: String,
    digest_weekday: Option<i64>,
}

async fn account(db: &Db, email: &str) -> Option<Account> {
    on_db!(db, |p| sqlx::query_as(
        "SELECT client_id, contact_id, role, permissions, active, must_change_password, temp_password_expires_at,
                digest_frequency, digest_weekday
         FROM users WHERE email = $1"
    )
    .bind(email)
    .fetch_optional(p)
    .await)
    .unwrap()
}

/// What a user's stored profile gives under their firm's stored default.
async fn effective_of(db: &Db, email: &str) -> DigestFrequency {
    let (f, d, tf, td): (String, Option<i64>, String, i64) = on_db!(db, |p| sqlx::query_as(
        "SELECT u.digest_frequency, u.digest_weekday, t.default_digest_frequency, t.default_digest_weekday
         FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1"
    )
    .bind(email)
    .fetch_one(p)
    .await)
    .unwrap();
    effective_digest(&f, d, &tf, td)
}

async fn audits(db: &Db, action: &str, entity: &str) -> Vec<String> {
    on_db!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT summary FROM audit_log WHERE action = $1 AND entity = $2 ORDER BY id"
    )
    .bind(action)
    .bind(entity)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// Logs in with a temporary password and sets `new` as instructed; returns the browser.
async fn first_login(app: &TestApp, email: &str, temporary: &str, new: &str) -> Browser {
    let b = app.client();
    let resp = b.login(email, temporary).await;
    assert_eq!(resp.status(), 303, "the temporary password of {email} works");
    assert_eq!(location(&resp), "/mot-de-passe/changer", "a change is forced at first login");
    assert_eq!(location(&b.get("/espace").await), "/mot-de-passe/changer", "nothing else before the change");
    let resp = b
        .submit(
            "/mot-de-passe/changer",
            "/mot-de-passe/changer",
            &[("current", temporary), ("password", new), ("confirm", new)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/espace"), "{}", location(&resp));
    b
}

#[tokio::test]
async fn a_client_admin_gives_access_from_the_contact_list_and_the_mail_works() {
    let smtp = SmtpServer::start().await;
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.smtp_url = Some(smtp.url())).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let admin = app.login("client.admin@demo.test").await;
    let sophie = contact_id(&app.db, "s.garnier@maisons-horizon.test").await;
    let julien = user_id(&app.db, "client@demo.test").await;

    // The contact list shows who has access, their notification profile, and the actions.
    let (status, body) = admin.get_text("/espace/entreprise").await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    assert!(body.contains("Sophie Garnier") && body.contains("Pas d'accès"), "{body}");
    assert!(body.contains(&format!("/espace/entreprise/contacts/{sophie}/acces")));
    assert!(body.contains(&format!("/espace/entreprise/acces/{julien}/revoquer")));
    assert!(body.contains("Par défaut (Quotidien)"), "Julien follows the firm's default");

    let page = format!("/espace/entreprise/contacts/{sophie}/acces");
    let (status, form) = admin.get_text(&page).await;
    assert_eq!(status, 200);
    assert!(form.contains("s.garnier@maisons-horizon.test"), "the login is the contact's e-mail");
    let resp = admin
        .submit(
            &page,
            &page,
            &[
                ("role", "client_user"),
                ("permissions", "sign"),
                ("digest_frequency", "weekly"),
                ("digest_weekday", "3"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/entreprise?msg=acces");

    let c001 = demo_client(&app.db, "C001").await;
    let a = account(&app.db, "s.garnier@maisons-horizon.test").await.expect("the account exists");
    assert_eq!((a.client_id, a.contact_id), (Some(c001), Some(sophie)));
    assert_eq!((a.role.as_str(), a.permissions.as_str(), a.active), ("client_user", "sign", true));
    assert!(a.must_change_password);
    let expires = a.temp_password_expires_at.expect("a temporary password expires");
    assert!((expires - (now_ms() + 72 * HOUR_MS)).abs() < 60_000, "72 hours");
    assert_eq!((a.digest_frequency.as_str(), a.digest_weekday), ("weekly", Some(3)));
    let logged = audits(&app.db, "create", "user").await;
    assert!(
        logged.iter().any(|s| s.contains("s.garnier@maisons-horizon.test") && s.contains("administrateur")),
        "{logged:?}"
    );

    // The e-mail reaches the SMTP server with the login and a temporary password that works.
    let got = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["s.garnier@maisons-horizon.test".to_string()]);
    assert!(got[0].subject().starts_with("Vos accès"), "{}", got[0].subject());
    let text = got[0].text();
    assert!(text.contains("Identifiant : s.garnier@maisons-horizon.test"), "{text}");
    assert!(text.contains(&format!("{}/login", app.config.base_url)), "{text}");
    let temporary = temporary_password_in(&text);
    let sophie_browser = first_login(&app, "s.garnier@maisons-horizon.test", &temporary, "Chantier-Ouest-2026").await;
    assert_eq!(sophie_browser.get("/espace").await.status(), 200);
    // She is a plain user: no admin action for her.
    assert_eq!(sophie_browser.get("/espace/entreprise/modifier").await.status(), 403);

    // Giving access again is not possible: the form leads to the existing access.
    let resp = admin.get(&page).await;
    assert_eq!(resp.status(), 303);
    let sophie_user = user_id(&app.db, "s.garnier@maisons-horizon.test").await;
    assert_eq!(location(&resp), format!("/espace/entreprise/acces/{sophie_user}"));
    let token = admin.csrf("/espace/entreprise").await;
    let resp = admin
        .http
        .post(admin.url(&page))
        .form(&[("_csrf", token.as_str()), ("role", "client_user"), ("digest_frequency", "default")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM users WHERE email = 's.garnier@maisons-horizon.test'").await, 1);

    // The admin changes her profile: administrator now, NON notifications.
    let edit = format!("/espace/entreprise/acces/{sophie_user}");
    let resp = admin
        .submit(
            &edit,
            &edit,
            &[
                ("role", "client_admin"),
                ("permissions", "sign"),
                ("permissions", "invoices"),
                ("digest_frequency", "none"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let a = account(&app.db, "s.garnier@maisons-horizon.test").await.unwrap();
    assert_eq!(
        (a.role.as_str(), a.permissions.as_str(), a.digest_frequency.as_str()),
        ("client_admin", "sign invoices", "none")
    );
    assert_eq!(a.digest_weekday, None);
    assert_eq!(effective_of(&app.db, "s.garnier@maisons-horizon.test").await, DigestFrequency::None);
    assert_eq!(location(&sophie_browser.get("/espace").await), "/login?next=%2Fespace", "a new role logs her out");
    app.stop().await;
}

#[tokio::test]
async fn resending_invalidates_the_old_password_and_revoking_logs_out_and_blocks_login() {
    let app = TestApp::spawn().await;
    let admin = app.login("client.admin@demo.test").await;
    let julien = app.login("client@demo.test").await;
    let id = user_id(&app.db, "client@demo.test").await;

    // Re-send: a new temporary password by e-mail, sessions ended, the old password refused.
    let resp = admin.submit("/espace/entreprise", &format!("/espace/entreprise/acces/{id}/renvoyer"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/entreprise?msg=envoye");
    assert_eq!(location(&julien.get("/espace").await), "/login?next=%2Fespace", "his session ended");
    assert_eq!(app.client().login("client@demo.test", "demo-ouvrage").await.status(), 401);
    let (subject, body) = last_mail(&app.db, "client@demo.test").await.expect("a mail is queued");
    assert!(subject.starts_with("Vos nouveaux accès"), "{subject}");
    let first = temporary_password_in(&body);

    // A second re-send invalidates the first temporary password.
    let resp = admin.submit("/espace/entreprise", &format!("/espace/entreprise/acces/{id}/renvoyer"), &[]).await;
    assert_eq!(resp.status(), 303);
    let second = temporary_password_in(&last_mail(&app.db, "client@demo.test").await.unwrap().1);
    assert_ne!(first, second);
    assert_eq!(app.client().login("client@demo.test", &first).await.status(), 401, "the old one is refused");
    let julien = first_login(&app, "client@demo.test", &second, "Conduite-Travaux-44").await;
    assert_eq!(julien.get("/espace").await.status(), 200);
    assert_eq!(audits(&app.db, "temp_password", "user").await.len(), 2);

    // Revoke: logged out at once, login refused, shown as revoked with a way back.
    let resp = admin.submit("/espace/entreprise", &format!("/espace/entreprise/acces/{id}/revoquer"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&julien.get("/espace").await), "/login?next=%2Fespace");
    assert_eq!(app.client().login("client@demo.test", "Conduite-Travaux-44").await.status(), 401);
    assert!(!account(&app.db, "client@demo.test").await.unwrap().active);
    assert!(audits(&app.db, "deactivate", "user").await.iter().any(|s| s.contains("client@demo.test")));
    let contact = contact_id(&app.db, "client@demo.test").await;
    let (_, body) = admin.get_text("/espace/entreprise").await;
    let body = unescape(&body);
    assert!(body.contains("Accès révoqué"));
    assert!(body.contains(&format!("/espace/entreprise/contacts/{contact}/acces")), "Rétablir l'accès");
    // A revoked access cannot be re-sent.
    let resp = admin.submit("/espace/entreprise", &format!("/espace/entreprise/acces/{id}/renvoyer"), &[]).await;
    assert_eq!(resp.status(), 400);

    // Restoring it: the same account, active again with a new temporary password.
    let page = format!("/espace/entreprise/contacts/{contact}/acces");
    let resp = admin
        .submit(&page, &page, &[("role", "client_user"), ("permissions", "sign"), ("digest_frequency", "daily")])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(user_id(&app.db, "client@demo.test").await, id, "the same account");
    let a = account(&app.db, "client@demo.test").await.unwrap();
    assert!(a.active && a.must_change_password);
    assert_eq!((a.permissions.as_str(), a.digest_frequency.as_str()), ("sign", "daily"));
    let third = temporary_password_in(&last_mail(&app.db, "client@demo.test").await.unwrap().1);
    first_login(&app, "client@demo.test", &third, "Retour-Chantier-2026").await;

    // Nobody revokes or re-sends their own access.
    let me = user_id(&app.db, "client.admin@demo.test").await;
    for action in ["revoquer", "renvoyer"] {
        let resp = admin.submit("/espace/entreprise", &format!("/espace/entreprise/acces/{me}/{action}"), &[]).await;
        assert_eq!(resp.status(), 400, "{action}");
    }
    assert!(account(&app.db, "client.admin@demo.test").await.unwrap().active);
    assert_eq!(admin.get("/espace").await.status(), 200, "still logged in");
    app.stop().await;
}

#[tokio::test]
async fn a_client_admin_acts_on_their_own_company_only_and_users_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.login("client.admin@demo.test").await;
    let other_contact = contact_id(&app.db, "n.benali@demeures-estuaire.test").await;
    let other_user = user_id(&app.db, "autre.client@demo.test").await;
    let staff = user_id(&app.db, "bureau@demo.test").await;
    let outbox_before = count(&app.db, "SELECT COUNT(*) FROM outbox").await;

    // Another company's contact, another company's or a staff account: not found.
    for path in [
        format!("/espace/entreprise/contacts/{other_contact}/acces"),
        "/espace/entreprise/contacts/999999/acces".into(),
        "/espace/entreprise/contacts/abc/acces".into(),
    ] {
        assert_eq!(admin.get(&path).await.status(), 404, "GET {path}");
        let resp = admin
            .submit("/espace/entreprise", &path, &[("role", "client_admin"), ("digest_frequency", "default")])
            .await;
        assert_eq!(resp.status(), 404, "POST {path}");
    }
    for user in [other_user, staff] {
        let edit = format!("/espace/entreprise/acces/{user}");
        assert_eq!(admin.get(&edit).await.status(), 404, "GET {edit}");
        let resp =
            admin.submit("/espace/entreprise", &edit, &[("role", "client_admin"), ("digest_frequency", "none")]).await;
        assert_eq!(resp.status(), 404, "POST {edit}");
        for action in ["renvoyer", "revoquer"] {
            let resp = admin.submit("/espace/entreprise", &format!("{edit}/{action}"), &[]).await;
            assert_eq!(resp.status(), 404, "{action} {user}");
        }
    }
    assert!(account(&app.db, "n.benali@demeures-estuaire.test").await.is_none());
    let other = account(&app.db, "autre.client@demo.test").await.unwrap();
    assert!(other.active && !other.must_change_password && other.role == "client_user");
    assert_eq!(other.digest_frequency, "default");
    assert_eq!(account(&app.db, "bureau@demo.test").await.unwrap().role, "office");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM outbox").await, outbox_before, "no mail sent");
    assert_eq!(app.client().login("autre.client@demo.test", "demo-ouvrage").await.status(), 303);

    // The company edited is always the admin's own: a forged client id changes nothing elsewhere.
    let c002 = demo_client(&app.db, "C002").await.to_string();
    let resp = admin
        .submit(
            "/espace/entreprise/modifier",
            "/espace/entreprise/modifier",
            &[("client_id", &c002), ("id", &c002), ("name", "Piraté"), ("billing_email", "pirate@exemple.test")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clients WHERE name = 'Piraté' AND code = 'C001'").await, 1);
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM clients WHERE code = 'C002' AND billing_email = 'factures@demeures-estuaire.test'"
        )
        .await,
        1
    );
    // The back office's pages stay closed to client admins.
    assert_eq!(admin.get(&format!("/bo/clients/{c002}/modifier")).await.status(), 403);

    // A client user (not admin) reads the page but every admin action is refused.
    let user = app.login("client@demo.test").await;
    let (status, body) = user.get_text("/espace/entreprise").await;
    assert_eq!(status, 200);
    assert!(!body.contains("/revoquer") && !body.contains("/acces\"") && !body.contains("/espace/entreprise/modifier"));
    let sophie = contact_id(&app.db, "s.garnier@maisons-horizon.test").await;
    let colleague = user_id(&app.db, "client.admin@demo.test").await;
    assert_eq!(user.get("/espace/entreprise/modifier").await.status(), 403);
    assert_eq!(user.get(&format!("/espace/entreprise/contacts/{sophie}/acces")).await.status(), 403);
    assert_eq!(user.get(&format!("/espace/entreprise/acces/{colleague}")).await.status(), 403);
    for (path, fields) in [
        ("/espace/entreprise/modifier".to_string(), vec![("name", "Autre nom")]),
        (
            format!("/espace/entreprise/contacts/{sophie}/acces"),
            vec![("role", "client_admin"), ("digest_frequency", "default")],
        ),
        (format!("/espace/entreprise/acces/{colleague}"), vec![("role", "client_user"), ("digest_frequency", "none")]),
        (format!("/espace/entreprise/acces/{colleague}/renvoyer"), vec![]),
        (format!("/espace/entreprise/acces/{colleague}/revoquer"), vec![]),
    ] {
        assert_eq!(user.submit("/espace/entreprise", &path, &fields).await.status(), 403, "{path}");
    }
    assert!(account(&app.db, "s.garnier@maisons-horizon.test").await.is_none());
    assert!(account(&app.db, "client.admin@demo.test").await.unwrap().active);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM clients WHERE name = 'Autre nom'").await, 0);

    // Staff use the back office, not these pages.
    let office = app.login("bureau@demo.test").await;
    assert_eq!(office.get("/espace/entreprise/modifier").await.status(), 403);
    assert_eq!(office.get(&format!("/espace/entreprise/contacts/{sophie}/acces")).await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn a_client_admin_grants_only_the_permissions_they_hold() {
    let app = TestApp::spawn().await;
    exec_db!(&app.db, |p| sqlx::query(
        "UPDATE users SET permissions = 'invoices' WHERE email = 'client.admin@demo.test'"
    )
    .execute(p)
    .await)
    .unwrap();
    let admin = app.login("client.admin@demo.test").await;
    let sophie = contact_id(&app.db, "s.garnier@maisons-horizon.test").await;
    let page = format!("/espace/entreprise/contacts/{sophie}/acces");
    let (_, form) = admin.get_text(&page).await;
    assert!(
        form.contains("value=\"invoices\"") && !form.contains("value=\"sign\""),
        "only held permissions are offered"
    );
    let resp = admin
        .submit(
            &page,
            &page,
            &[
                ("role", "client_user"),
                ("permissions", "sign"),
                ("permissions", "invoices"),
                ("digest_frequency", "default"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(account(&app.db, "s.garnier@maisons-horizon.test").await.unwrap().permissions, "invoices");

    // Julien's "sign", which the admin does not hold, survives an edit of his access.
    let julien = user_id(&app.db, "client@demo.test").await;
    let edit = format!("/espace/entreprise/acces/{julien}");
    let resp = admin
        .submit(&edit, &edit, &[("role", "client_user"), ("permissions", "invoices"), ("digest_frequency", "daily")])
        .await;
    assert_eq!(resp.status(), 303);
    let a = account(&app.db, "client@demo.test").await.unwrap();
    assert_eq!((a.permissions.as_str(), a.digest_frequency.as_str()), ("sign invoices", "daily"));
    // A wrong profile or a weekly choice without a valid day is refused in French.
    let resp =
        admin.submit(&edit, &edit, &[("role", "admin"), ("digest_frequency", "weekly"), ("digest_weekday", "9")]).await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Choisissez le profil") && body.contains("Choisissez le jour d'envoi"), "{body}");
    assert_eq!(account(&app.db, "client@demo.test").await.unwrap().role, "client_user");
    app.stop().await;
}

#[tokio::test]
async fn mon_entreprise_edits_are_validated_server_side_and_audited() {
    let app = TestApp::spawn().await;
    let admin = app.login("client.admin@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;
    let before: (String, String, String, String, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT name, siret, postcode, billing_email, phone FROM clients WHERE id = $1"
    )
    .bind(c001)
    .fetch_one(p)
    .await)
    .unwrap();
    let (status, body) = admin.get_text("/espace/entreprise/modifier").await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("value=\"{}\"", before.3)), "the form shows the billing e-mail");

    let resp = admin
        .submit(
            "/espace/entreprise/modifier",
            "/espace/entreprise/modifier",
            &[
                ("name", ""),
                ("siret", "732 829 320 00075"),
                ("postcode", "440"),
                ("city", "Nantes"),
                ("billing_email", "compta chez horizon"),
                ("phone", "12"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    for msg in [
        "Le nom du client est obligatoire.",
        "Ce SIRET n'est pas valide",
        "Le code postal doit comporter 5 chiffres.",
        "n'est pas une adresse e-mail valide",
        "n'est pas un numéro de téléphone valide",
    ] {
        assert!(body.contains(msg), "{msg} in {body}");
    }
    assert!(body.contains("value=\"compta chez horizon\""), "what was typed is kept");
    let unchanged: (String, String, String, String, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT name, siret, postcode, billing_email, phone FROM clients WHERE id = $1"
    )
    .bind(c001)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(unchanged, before, "nothing written");
    assert!(audits(&app.db, "update", "client").await.is_empty());

    let resp = admin
        .submit(
            "/espace/entreprise/modifier",
            "/espace/entreprise/modifier",
            &[
                ("name", "Maisons Horizon Atlantique"),
                ("siret", "732 829 320 00074"),
                ("address_line1", "4 quai de la Fosse"),
                ("postcode", "44000"),
                ("city", "Nantes"),
                ("billing_email", "Factures@Horizon-Atlantique.test"),
                ("phone", "02 40 11 22 33"),
                // Not the admin's to change: ignored.
                ("code", "ZZZ"),
                ("kind", "individual"),
                ("notes", "modifié"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/entreprise?msg=enregistre");
    let after: (String, String, String, String, String, String, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT code, kind, name, siret, billing_email, phone, notes FROM clients WHERE id = $1"
    )
    .bind(c001)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(after.0, "C001");
    assert_eq!(after.1, "builder");
    assert_eq!(after.2, "Maisons Horizon Atlantique");
    assert_eq!(after.3, "73282932000074");
    assert_eq!(after.4, "factures@horizon-atlantique.test");
    assert_eq!(after.5, "+33240112233");
    assert_ne!(after.6, "modifié");
    let logged = audits(&app.db, "update", "client").await;
    assert_eq!(logged.len(), 1);
    assert!(logged[0].contains("e-mail de facturation") && logged[0].contains("par son administrateur"), "{logged:?}");
    // The firm's office hears about it.
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM notifications WHERE kind = 'client_details_updated'").await, 2);
    let (_, body) = admin.get_text("/espace/entreprise").await;
    assert!(body.contains("factures@horizon-atlantique.test") && body.contains("02 40 11 22 33"));
    // Staff see the change on the client's page.
    let office = app.login("bureau@demo.test").await;
    let (_, body) = office.get_text(&format!("/bo/clients/{c001}")).await;
    assert!(body.contains("Maisons Horizon Atlantique"));
    app.stop().await;
}

#[tokio::test]
async fn everyone_edits_their_profile_and_default_follows_the_firm() {
    let app = TestApp::spawn().await;
    let user = app.login("client@demo.test").await;
    let (status, body) = user.get_text("/espace/profil").await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    assert!(body.contains("Par défaut de l'entreprise (Quotidien)"), "{body}");
    assert!(body.contains("/mot-de-passe/changer"), "a link to change the password");
    assert_eq!(effective_of(&app.db, "client@demo.test").await, DigestFrequency::Daily);

    // Wrong values: 422 in French, nothing written.
    let resp = user
        .submit(
            "/espace/profil",
            "/espace/profil",
            &[("full_name", ""), ("phone", "12"), ("digest_frequency", "weekly"), ("digest_weekday", "")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Votre nom est obligatoire.") && body.contains("n'est pas un numéro de téléphone valide"));
    assert!(body.contains("Choisissez le jour d'envoi de l'e-mail hebdomadaire."));
    let a = account(&app.db, "client@demo.test").await.unwrap();
    assert_eq!(a.digest_frequency, "default");

    let resp = user
        .submit(
            "/espace/profil",
            "/espace/profil",
            &[
                ("full_name", "Julien Lefèvre-Durand"),
                ("phone", "06 11 22 33 44"),
                ("digest_frequency", "weekly"),
                ("digest_weekday", "5"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace/profil?msg=enregistre");
    let (name, phone): (String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT full_name, phone FROM users WHERE email = 'client@demo.test'")
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!((name.as_str(), phone.as_str()), ("Julien Lefèvre-Durand", "+33611223344"));
    let a = account(&app.db, "client@demo.test").await.unwrap();
    assert_eq!((a.digest_frequency.as_str(), a.digest_weekday), ("weekly", Some(5)));
    assert_eq!(effective_of(&app.db, "client@demo.test").await, DigestFrequency::Weekly(chrono::Weekday::Fri));
    assert!(
        audits(&app.db, "update", "user")
            .await
            .iter()
            .any(|s| s.contains("Données personnelles") && s.contains("téléphone"))
    );
    let (_, body) = user.get_text("/espace/profil").await;
    assert!(body.contains("Hebdomadaire (vendredi)") && body.contains("06 11 22 33 44"));

    // Back to the firm's default, which the firm admin then sets to weekly on Tuesday.
    let resp = user
        .submit(
            "/espace/profil",
            "/espace/profil",
            &[
                ("full_name", "Julien Lefèvre-Durand"),
                ("phone", "06 11 22 33 44"),
                ("digest_frequency", "default"),
                ("digest_weekday", "5"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let a = account(&app.db, "client@demo.test").await.unwrap();
    assert_eq!((a.digest_frequency.as_str(), a.digest_weekday), ("default", None));

    let admin = app.login("admin@demo.test").await;
    let firm: (String, String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT legal_name, siren, siret FROM tenants WHERE slug = 'demo'")
            .fetch_one(p)
            .await)
        .unwrap();
    let (status, body) = admin.get_text("/bo/parametres").await;
    assert_eq!(status, 200);
    assert!(!body.contains("value=\"default\""), "the firm's default cannot be 'default'");
    let mut fields = vec![("legal_name", firm.0.as_str()), ("siren", firm.1.as_str()), ("siret", firm.2.as_str())];
    fields.extend([("digest_frequency", "default"), ("digest_weekday", "2")]);
    let resp = admin.submit("/bo/parametres", "/bo/parametres", &fields).await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("Choisissez la fréquence des e-mails de notification"));
    assert_eq!(effective_of(&app.db, "client@demo.test").await, DigestFrequency::Daily, "nothing written");

    fields.truncate(3);
    fields.extend([("digest_frequency", "weekly"), ("digest_weekday", "2")]);
    let resp = admin.submit("/bo/parametres", "/bo/parametres", &fields).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(effective_of(&app.db, "client@demo.test").await, DigestFrequency::Weekly(chrono::Weekday::Tue));
    assert!(audits(&app.db, "update", "tenant").await.iter().any(|s| s.contains("notifications par défaut")));
    let (_, body) = user.get_text("/espace/profil").await;
    assert!(unescape(&body).contains("Par défaut de l'entreprise (Hebdomadaire (mardi))"));
    // A user with their own choice is not affected.
    assert_eq!(effective_of(&app.db, "autre.client@demo.test").await, DigestFrequency::Weekly(chrono::Weekday::Tue));
    exec_db!(&app.db, |p| sqlx::query(
        "UPDATE users SET digest_frequency = 'daily' WHERE email = 'autre.client@demo.test'"
    )
    .execute(p)
    .await)
    .unwrap();
    assert_eq!(effective_of(&app.db, "autre.client@demo.test").await, DigestFrequency::Daily);

    // Staff have the same page in the back office; each face keeps to its own.
    let tech = app.login("technicien@demo.test").await;
    assert_eq!(tech.get("/bo/profil").await.status(), 200);
    let resp = tech
        .submit(
            "/bo/profil",
            "/bo/profil",
            &[("full_name", "Yann Le Goff"), ("phone", "+32 2 765 43 21"), ("digest_frequency", "none")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/bo/profil?msg=enregistre");
    assert_eq!(effective_of(&app.db, "technicien@demo.test").await, DigestFrequency::None);
    assert_eq!(user.get("/bo/profil").await.status(), 403);
    assert_eq!(tech.get("/espace/profil").await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn staff_set_the_notification_profile_in_the_back_office() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await.to_string();
    let sophie = contact_id(&app.db, "s.garnier@maisons-horizon.test").await.to_string();
    let page = format!("/bo/utilisateurs/nouveau?client={c001}&contact={sophie}");
    let (_, body) = office.get_text(&page).await;
    assert!(body.contains("name=\"digest_frequency\""));
    let resp = office
        .submit(
            &page,
            "/bo/utilisateurs/nouveau",
            &[
                ("profil", "client"),
                ("client_id", &c001),
                ("contact_id", &sophie),
                ("role", "client_user"),
                ("digest_frequency", "weekly"),
                ("digest_weekday", "1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let a = account(&app.db, "s.garnier@maisons-horizon.test").await.unwrap();
    assert_eq!((a.digest_frequency.as_str(), a.digest_weekday), ("weekly", Some(1)));
    // The same access e-mail as from the extranet.
    let (subject, body) = last_mail(&app.db, "s.garnier@maisons-horizon.test").await.unwrap();
    assert!(subject.starts_with("Vos accès") && body.contains("Identifiant : s.garnier@maisons-horizon.test"));

    let id = user_id(&app.db, "s.garnier@maisons-horizon.test").await;
    let edit = format!("/bo/utilisateurs/{id}/modifier");
    let base = [
        ("full_name", "Sophie Garnier"),
        ("email", "s.garnier@maisons-horizon.test"),
        ("role", "client_user"),
        ("active", "1"),
    ];
    let mut fields = base.to_vec();
    fields.extend([("digest_frequency", "weekly"), ("digest_weekday", "")]);
    let resp = office.submit(&edit, &edit, &fields).await;
    assert_eq!(resp.status(), 422);
    let mut fields = base.to_vec();
    fields.push(("digest_frequency", "none"));
    let resp = office.submit(&edit, &edit, &fields).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(account(&app.db, "s.garnier@maisons-horizon.test").await.unwrap().digest_frequency, "none");
    let (_, body) = office.get_text(&edit).await;
    assert!(body.contains("<option value=\"none\" selected>"));
    // A form without the profile (older page) keeps it.
    let resp = office.submit(&edit, &edit, &base).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(account(&app.db, "s.garnier@maisons-horizon.test").await.unwrap().digest_frequency, "none");
    assert!(audits(&app.db, "update", "user").await.iter().any(|s| s.contains("notifications : NON")));
    app.stop().await;
}
