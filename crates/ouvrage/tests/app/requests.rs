//! Requests to the firm: contact requests from the client admin (create, change, remove) and
//! the public credential-request form, with their processing in the back office.

use ouvrage::db::Db;
use ouvrage::features::requests::antispam::sign_issue_time;
use ouvrage::{exec_db, on_db};

use crate::clients::{count, demo_client, unescape};
use crate::support::*;

const FORM: &str = "/demande-identifiants";

async fn scalar(db: &Db, sql: &'static str, bind: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).bind(bind).fetch_one(p).await).unwrap()
}

async fn user_id(db: &Db, email: &str) -> i64 {
    scalar(db, "SELECT id FROM users WHERE email = $1", email).await
}

/// A form token issued `ago_ms` milliseconds ago, signed with the app's secret like the page's.
async fn token_issued_ago(db: &Db, ago_ms: i64) -> String {
    let secret: String =
        on_db!(db, |p| sqlx::query_scalar("SELECT value FROM settings WHERE key = 'secret_key'").fetch_one(p).await)
            .unwrap();
    sign_issue_time(secret.as_bytes(), ouvrage::domain::time::now_ms() - ago_ms)
}

/// A complete, valid request (the token must be added).
fn request_fields<'a>(company: &'a str, siret: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("company", company),
        ("siret", siret),
        ("full_name", "Anne-Marie de la Tour"),
        ("job_title", "Assistante de direction"),
        ("email", email),
        ("phone", "06 11 22 33 44"),
        ("message", "Nous construisons avec vous depuis 2020."),
        ("site_web", ""),
    ]
}

/// The latest queued mail to `to`: (subject, body).
async fn last_mail(db: &Db, to: &str) -> Option<(String, String)> {
    on_db!(db, |p| sqlx::query_as::<_, (String, String)>(
        "SELECT subject, body_text FROM outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1"
    )
    .bind(to)
    .fetch_optional(p)
    .await)
    .unwrap()
}

/// Notifications of one user: (kind, title, link).
async fn notifications_of(db: &Db, email: &str) -> Vec<(String, String, String)> {
    on_db!(db, |p| sqlx::query_as::<_, (String, String, String)>(
        "SELECT n.kind, n.title, n.link FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE u.email = $1 ORDER BY n.id"
    )
    .bind(email)
    .fetch_all(p)
    .await)
    .unwrap()
}

fn temporary_password_in(body: &str) -> String {
    let marker = "Mot de passe temporaire : ";
    let start = body.find(marker).expect("the mail gives the temporary password") + marker.len();
    body[start..].lines().next().unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// The public credential request

#[tokio::test]
async fn the_public_form_marks_required_fields_and_refuses_missing_ones_in_french() {
    let app = TestApp::spawn().await;
    let visitor = app.client();
    let (status, body) = visitor.get_text(FORM).await;
    assert_eq!(status, 200);
    assert!(unescape(&body).contains("Vous travaillez avec Mesures & Contrôles Atlantique"), "the firm's page");
    assert!(body.contains("class=\"req\""), "required fields are marked with *");
    assert!(body.contains("name=\"site_web\"") && body.contains("Ne pas remplir ce champ"), "the honeypot");
    assert!(body.contains("class=\"hp-field\""), "hidden by a CSS class, not an inline style");
    assert!(!body.contains("style="));

    let token = token_issued_ago(&app.db, 10_000).await;
    let resp = visitor
        .submit(
            FORM,
            FORM,
            &[
                ("company", ""),
                ("siret", "123"),
                ("full_name", " "),
                ("email", "pas-un-mail"),
                ("phone", ""),
                ("message", "Je garde ce que j'ai tapé"),
                ("site_web", ""),
                ("jeton", &token),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    for msg in [
        "Le nom de votre société est obligatoire.",
        "Vos nom et prénom sont obligatoires.",
        "« pas-un-mail » n'est pas une adresse e-mail valide.",
        "Votre numéro de téléphone est obligatoire.",
        "Le SIRET doit comporter 14 chiffres.",
    ] {
        assert!(body.contains(msg), "message {msg:?} shown");
    }
    assert!(body.contains("Je garde ce que j'ai tapé"), "typed values are kept");

    // A missing e-mail has its own message; an invalid phone too.
    let mut fields = request_fields("Bâtisseurs du Lac", "", "");
    fields.retain(|(k, _)| *k != "phone");
    fields.push(("phone", "12"));
    fields.push(("jeton", &token));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Votre adresse e-mail est obligatoire"));
    assert!(body.contains("« 12 » n'est pas un numéro de téléphone valide."));

    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM credential_requests").await, 0, "nothing stored");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM notifications").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn bots_are_refused_honeypot_too_fast_forged_or_stale_forms() {
    let app = TestApp::spawn().await;
    let visitor = app.client();
    let good = token_issued_ago(&app.db, 10_000).await;

    // The honeypot filled in.
    let mut fields = request_fields("Spam SARL", "", "robot@spam.test");
    fields.retain(|(k, _)| *k != "site_web");
    fields.push(("site_web", "http://spam.test"));
    fields.push(("jeton", &good));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("n'a pas pu être envoyée"));

    // Sent back at once with the page's own token: too fast for a person.
    let (_, page) = visitor.get_text(FORM).await;
    let marker = "name=\"jeton\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let fresh = page[start..page[start..].find('"').unwrap() + start].to_string();
    let mut fields = request_fields("Pressé SARL", "", "presse@exemple.test");
    fields.push(("jeton", &fresh));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("envoyé trop rapidement"), "too fast");
    assert!(body.contains("value=\"Pressé SARL\""), "what was typed is kept");

    // A token whose time was moved back keeps its old signature: refused.
    let (time, sig) = fresh.split_once('.').unwrap();
    let forged = format!("{}.{sig}", time.parse::<i64>().unwrap() - 60_000);
    let mut fields = request_fields("Faussaire SARL", "", "faux@exemple.test");
    fields.push(("jeton", &forged));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("n'est pas valide"));

    // A form older than two hours.
    let stale = token_issued_ago(&app.db, 3 * 3_600_000).await;
    let mut fields = request_fields("Lent SARL", "", "lent@exemple.test");
    fields.push(("jeton", &stale));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("a expiré"));

    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM credential_requests").await, 0, "nothing stored");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM notifications").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_burst_from_one_address_is_rate_limited() {
    let app = TestApp::spawn().await;
    let visitor = app.client();
    let token = token_issued_ago(&app.db, 10_000).await;
    for i in 0..5 {
        let resp = visitor.submit(FORM, FORM, &[("company", ""), ("jeton", &token)]).await;
        assert_eq!(resp.status(), 422, "submission {i} is only checked");
    }
    // The sixth, even a valid one, is refused with a French page.
    let mut fields = request_fields("Sixième SARL", "", "sixieme@exemple.test");
    fields.push(("jeton", &token));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 429);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Trop de demandes ont été envoyées depuis votre connexion"));
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM credential_requests").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_valid_request_reaches_the_office_which_creates_the_client_and_the_access() {
    let app = TestApp::spawn().await;
    let visitor = app.client();
    let token = token_issued_ago(&app.db, 10_000).await;
    let mut fields = request_fields("Bâtisseurs du Lac", "", "AM.Delatour@Batisseurs-Lac.test");
    fields.push(("jeton", &token));
    let resp = visitor.submit(FORM, FORM, &fields).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/demande-identifiants?envoyee=1");
    let (_, body) = visitor.get_text("/demande-identifiants?envoyee=1").await;
    assert!(body.contains("Votre demande a bien été envoyée"));

    // Stored for the demo firm (the only one), normalised, with the requester's address.
    let (tenant, email, phone, status): (String, String, String, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT t.slug, r.email, r.phone, r.status FROM credential_requests r JOIN tenants t ON t.id = r.tenant_id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(
        (tenant.as_str(), email.as_str(), phone.as_str()),
        ("demo", "am.delatour@batisseurs-lac.test", "+33611223344")
    );
    assert_eq!(status, "pending");
    let request = count(&app.db, "SELECT id FROM credential_requests").await;

    // The office (admin and office staff, not the technician) is notified.
    for staff in ["admin@demo.test", "bureau@demo.test"] {
        let n = notifications_of(&app.db, staff).await;
        assert_eq!(n.len(), 1, "{staff} notified once");
        assert_eq!(n[0].0, "credential_request");
        assert!(n[0].1.contains("Anne-Marie de la Tour") && n[0].1.contains("Bâtisseurs du Lac"));
        assert_eq!(n[0].2, format!("/bo/demandes/identifiants/{request}"));
    }
    assert!(notifications_of(&app.db, "technicien@demo.test").await.is_empty());

    // The office sees it in the queue and opens it.
    let office = app.login("bureau@demo.test").await;
    let (status, body) = office.get_text("/bo/demandes").await;
    assert_eq!(status, 200);
    assert!(body.contains("Bâtisseurs du Lac"));
    let detail = format!("/bo/demandes/identifiants/{request}");
    let (status, body) = office.get_text(&detail).await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"Bâtisseurs du Lac\""), "the new client is prefilled");
    assert!(unescape(&body).contains("Rattachez d'abord la demande à un client"), "no access before a client");

    // Opening the access before choosing a client is refused.
    let resp = office
        .submit(
            &detail,
            &format!("{detail}/creer-acces"),
            &[("last_name", "Tour"), ("email", &email), ("role", "client_admin")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM users WHERE email = 'am.delatour@batisseurs-lac.test'").await, 0);

    // Step 1: create the client from the request (a wrong SIRET is refused first).
    let bad = office
        .submit(
            &detail,
            &format!("{detail}/creer-client"),
            &[("client_name", "Bâtisseurs du Lac"), ("kind", "builder"), ("siret", "12345678901234")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(unescape(&bad.text().await.unwrap()).contains("Ce SIRET n'est pas valide"));
    let resp = office
        .submit(
            &detail,
            &format!("{detail}/creer-client"),
            &[
                ("client_name", "Bâtisseurs du Lac"),
                ("kind", "builder"),
                ("siret", "443 061 841 00047"),
                ("client_phone", "02 40 11 22 33"),
                ("postcode", "44000"),
                ("city", "Nantes"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let (client, code, siret): (i64, String, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT c.id, c.code, c.siret FROM clients c JOIN credential_requests r ON r.client_id = c.id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!((code.as_str(), siret.as_str()), ("C006", "44306184100047"));

    // Step 2: open the access; the requester becomes a contact and gets the access e-mail.
    let (_, body) = office.get_text(&detail).await;
    assert!(body.contains("value=\"Anne-Marie\"") && body.contains("value=\"de la Tour\""), "name split");
    let resp = office
        .submit(
            &detail,
            &format!("{detail}/creer-acces"),
            &[
                ("first_name", "Anne-Marie"),
                ("last_name", "de la Tour"),
                ("email", &email),
                ("phone", "06 11 22 33 44"),
                ("job_title", "Assistante de direction"),
                ("role", "client_admin"),
                ("permissions", "sign"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap_or_default());
    let (status, user_client, role, must_change): (String, i64, String, bool) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT r.status, u.client_id, u.role, u.must_change_password FROM credential_requests r
         JOIN users u ON u.id = r.user_id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!((status.as_str(), user_client, role.as_str(), must_change), ("validated", client, "client_admin", true));
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM contacts WHERE email = 'am.delatour@batisseurs-lac.test' AND last_name = 'de la Tour'"
        )
        .await,
        1
    );
    let (subject, mail) = last_mail(&app.db, &email).await.expect("the access e-mail is queued");
    assert!(subject.starts_with("Vos accès"));
    assert!(mail.contains(&format!("Identifiant : {email}")));
    let temporary = temporary_password_in(&mail);

    // The temporary password works, and must be changed at once.
    let newcomer = app.client();
    let resp = newcomer.login(&email, &temporary).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/mot-de-passe/changer");

    // Processed requests cannot be processed again.
    let again = office.submit(&detail, &format!("{detail}/refuser"), &[("reason", "trop tard")]).await;
    assert!(again.status() == 400 || again.status() == 403, "{}", again.status());
    assert!(
        count(&app.db, "SELECT COUNT(*) FROM audit_log WHERE entity = 'credential_request'").await >= 3,
        "submission, link and validation are audited"
    );
    app.stop().await;
}

#[tokio::test]
async fn staff_link_a_request_to_the_client_with_the_same_siret() {
    let app = TestApp::spawn().await;
    let visitor = app.client();
    let token = token_issued_ago(&app.db, 10_000).await;
    let mut fields = request_fields("Maisons Horizon", "732 829 320 00074", "nouvelle@maisons-horizon.test");
    fields.push(("jeton", &token));
    assert_eq!(visitor.submit(FORM, FORM, &fields).await.status(), 303);
    let request = count(&app.db, "SELECT id FROM credential_requests").await;
    let c001 = demo_client(&app.db, "C001").await;

    let office = app.login("admin@demo.test").await;
    let detail = format!("/bo/demandes/identifiants/{request}");
    let (_, body) = office.get_text(&detail).await;
    assert!(body.contains("Client avec ce SIRET"), "the SIRET match is suggested");
    assert!(body.contains(&format!("<option value=\"{c001}\" selected>")), "and preselected");

    // Another firm's client cannot be chosen.
    let foreign = crate::clients::other_firm(&app.db).await;
    let resp =
        office.submit(&detail, &format!("{detail}/rattacher"), &[("client_id", &foreign.client.to_string())]).await;
    assert_eq!(resp.status(), 404);
    let resp = office.submit(&detail, &format!("{detail}/rattacher"), &[("client_id", &c001.to_string())]).await;
    assert_eq!(resp.status(), 303);
    let (_, body) = office.get_text(&detail).await;
    assert!(body.contains("value=\"client_user\" selected"), "C001 already has an admin: a user is proposed");

    let resp = office
        .submit(
            &detail,
            &format!("{detail}/creer-acces"),
            &[
                ("first_name", "Anne-Marie"),
                ("last_name", "de la Tour"),
                ("email", "nouvelle@maisons-horizon.test"),
                ("role", "client_user"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let user_client: i64 =
        scalar(&app.db, "SELECT client_id FROM users WHERE email = $1", "nouvelle@maisons-horizon.test").await;
    assert_eq!(user_client, c001);

    // The firm receiving a request: with another (older) firm present and no host bound, the
    // oldest firm gets it; once the demo firm is bound to this host name, the demo firm does.
    let mut fields = request_fields("Maisons Horizon", "", "perdue@exemple.test");
    fields.push(("jeton", &token));
    assert_eq!(visitor.submit(FORM, FORM, &fields).await.status(), 303);
    assert_eq!(
        scalar(&app.db, "SELECT tenant_id FROM credential_requests WHERE email = $1", "perdue@exemple.test").await,
        foreign.tenant
    );
    exec_db!(&app.db, |p| sqlx::query("UPDATE tenants SET public_host = '127.0.0.1' WHERE slug = 'demo'")
        .execute(p)
        .await)
    .unwrap();
    let (_, body) = visitor.get_text(FORM).await;
    assert!(unescape(&body).contains("Mesures & Contrôles Atlantique"));

    // An e-mail that already has an account is refused next to the field, nothing half-done.
    let mut fields = request_fields("Maisons Horizon", "", "client@demo.test");
    fields.push(("jeton", &token));
    assert_eq!(visitor.submit(FORM, FORM, &fields).await.status(), 303);
    let second = scalar(&app.db, "SELECT MAX(id) FROM credential_requests WHERE email = $1", "client@demo.test").await;
    let detail = format!("/bo/demandes/identifiants/{second}");
    let (_, body) = office.get_text(&detail).await;
    assert!(body.contains("Un compte existe déjà avec"), "staff are warned before trying");
    office.submit(&detail, &format!("{detail}/rattacher"), &[("client_id", &c001.to_string())]).await;
    let contacts_before = count(&app.db, "SELECT COUNT(*) FROM contacts").await;
    let resp = office
        .submit(
            &detail,
            &format!("{detail}/creer-acces"),
            &[("last_name", "Lefèvre"), ("email", "client@demo.test"), ("role", "client_user")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("Un compte existe déjà avec l'adresse client@demo.test"));
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM contacts").await, contacts_before);
    let status: String =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT status FROM credential_requests WHERE id = $1")
            .bind(second)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(status, "pending");
    app.stop().await;
}

#[tokio::test]
async fn refusing_a_credential_request_needs_a_reason_which_is_mailed_to_the_requester() {
    let app = TestApp::spawn().await;
    let visitor = app.client();
    let token = token_issued_ago(&app.db, 10_000).await;
    let mut fields = request_fields("Inconnus Associés", "", "inconnu@exemple.test");
    fields.push(("jeton", &token));
    assert_eq!(visitor.submit(FORM, FORM, &fields).await.status(), 303);
    let request = count(&app.db, "SELECT id FROM credential_requests").await;
    let office = app.login("bureau@demo.test").await;
    let detail = format!("/bo/demandes/identifiants/{request}");

    let resp = office.submit(&detail, &format!("{detail}/refuser"), &[("reason", "  ")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Indiquez le motif du refus"));
    assert!(last_mail(&app.db, "inconnu@exemple.test").await.is_none());

    let reason = "Nous ne trouvons aucun chantier en commun avec votre société.";
    let resp = office.submit(&detail, &format!("{detail}/refuser"), &[("reason", reason)]).await;
    assert_eq!(resp.status(), 303);
    let (status, stored): (String, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT status, reason FROM credential_requests").fetch_one(p).await)
            .unwrap();
    assert_eq!((status.as_str(), stored.as_str()), ("refused", reason));
    let (subject, body) = last_mail(&app.db, "inconnu@exemple.test").await.expect("the requester is told");
    assert!(subject.contains("Votre demande d'identifiants"));
    assert!(body.contains(reason) && body.contains("Bonjour Anne-Marie de la Tour"));
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM users WHERE email = 'inconnu@exemple.test'").await, 0);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Contact requests

async fn contact_id(db: &Db, email: &str) -> i64 {
    scalar(db, "SELECT id FROM contacts WHERE email = $1", email).await
}

async fn request_status(db: &Db, id: i64) -> (String, String) {
    on_db!(db, |p| sqlx::query_as("SELECT status, reason FROM contact_requests WHERE id = $1")
        .bind(id)
        .fetch_one(p)
        .await)
    .unwrap()
}

async fn last_contact_request(db: &Db) -> i64 {
    count(db, "SELECT COALESCE(MAX(id), 0) FROM contact_requests").await
}

#[tokio::test]
async fn a_new_contact_request_is_validated_by_staff_and_the_requester_told() {
    let app = TestApp::spawn().await;
    let admin = app.login("client.admin@demo.test").await;
    let (status, body) = admin.get_text("/espace/entreprise/demandes").await;
    assert_eq!(status, 200);
    assert!(body.contains("Sophie Garnier") && body.contains("Demander un nouveau contact"));

    let form = "/espace/entreprise/demandes/nouveau-contact";
    let resp = admin.submit(form, form, &[("first_name", "Lucie"), ("last_name", ""), ("email", "lucie@")]).await;
    assert_eq!(resp.status(), 422);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("Le nom du contact est obligatoire.") && body.contains("value=\"Lucie\""));
    assert_eq!(last_contact_request(&app.db).await, 0);

    let resp = admin
        .submit(
            form,
            form,
            &[
                ("civility", "Mme"),
                ("first_name", "Lucie"),
                ("last_name", "Perrin"),
                ("job_title", "Conductrice de travaux"),
                ("email", "L.Perrin@maisons-horizon.test"),
                ("phone", ""),
                ("mobile", "06 98 76 54 32"),
                ("message", "Arrivée le mois prochain."),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let id = last_contact_request(&app.db).await;
    assert_eq!(location(&resp), format!("/espace/entreprise/demandes/{id}?msg=envoye"));
    let (_, body) = admin.get_text(&format!("/espace/entreprise/demandes/{id}")).await;
    assert!(body.contains("En attente") && body.contains("Lucie Perrin"));

    // The firm's office is notified.
    let n = notifications_of(&app.db, "bureau@demo.test").await;
    assert_eq!(n.len(), 1);
    assert_eq!((n[0].0.as_str(), n[0].2.as_str()), ("contact_request", format!("/bo/demandes/contacts/{id}").as_str()));
    assert!(n[0].1.contains("Lucie Perrin") && n[0].1.contains("C001"));

    // Staff validate: the contact is created for C001.
    let office = app.login("bureau@demo.test").await;
    let (_, body) = office.get_text("/bo/demandes").await;
    assert!(body.contains("Lucie Perrin"));
    let detail = format!("/bo/demandes/contacts/{id}");
    let (status, body) = office.get_text(&detail).await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"Perrin\"") && body.contains("06 98 76 54 32"));
    let resp = office
        .submit(
            &detail,
            &format!("{detail}/valider"),
            &[
                ("civility", "Mme"),
                ("first_name", "Lucie"),
                ("last_name", "Perrin"),
                ("job_title", "Conductrice de travaux"),
                ("email", "l.perrin@maisons-horizon.test"),
                ("phone", ""),
                ("mobile", "06 98 76 54 32"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let c001 = demo_client(&app.db, "C001").await;
    let (client, mobile, archived): (i64, String, bool) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT client_id, mobile, archived FROM contacts WHERE email = 'l.perrin@maisons-horizon.test' AND last_name = 'Perrin'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!((client, mobile.as_str(), archived), (c001, "+33698765432", false));
    assert_eq!(request_status(&app.db, id).await.0, "validated");
    let result: Option<i64> =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT result_contact_id FROM contact_requests WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(result, Some(contact_id(&app.db, "l.perrin@maisons-horizon.test").await));

    // The requester is notified, and may now give the contact access.
    let n = notifications_of(&app.db, "client.admin@demo.test").await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, "contact_request_validated");
    assert!(n[0].1.contains("validée"));
    assert!(notifications_of(&app.db, "client@demo.test").await.is_empty(), "only the requester");
    let (_, body) = admin.get_text(&format!("/espace/entreprise/demandes/{id}")).await;
    let perrin = contact_id(&app.db, "l.perrin@maisons-horizon.test").await;
    assert!(body.contains("Validée") && body.contains(&format!("href=\"/espace/entreprise/contacts/{perrin}/acces\"")));

    // The admin then gives the new contact access: the account exists, tied to that contact.
    let access = format!("/espace/entreprise/contacts/{perrin}/acces");
    let resp = admin.submit(&access, &access, &[("role", "client_user"), ("digest_frequency", "daily")]).await;
    assert_eq!(resp.status(), 303);
    let (user_client, user_contact, must_change): (i64, i64, bool) = on_db!(&app.db, |p| {
        sqlx::query_as(
        "SELECT client_id, contact_id, must_change_password FROM users WHERE email = 'l.perrin@maisons-horizon.test'"
    )
    .fetch_one(p)
    .await
    })
    .unwrap();
    assert_eq!((user_client, user_contact, must_change), (c001, perrin, true));

    // Validating twice does nothing more.
    let again = office.submit(&detail, &format!("{detail}/valider"), &[("last_name", "Perrin")]).await;
    assert_eq!(again.status(), 400);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM contacts WHERE last_name = 'Perrin'").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn change_and_removal_requests_are_applied_when_validated() {
    let app = TestApp::spawn().await;
    let admin = app.login("client.admin@demo.test").await;
    let garnier = contact_id(&app.db, "s.garnier@maisons-horizon.test").await;

    // A change: the form is prefilled; sending it unchanged is refused.
    let change = format!("/espace/entreprise/contacts/{garnier}/demande-modification");
    let (status, body) = admin.get_text(&change).await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"Garnier\"") && body.contains("value=\"06 34 56 78 90\""));
    let same = vec![
        ("civility", ""),
        ("first_name", "Sophie"),
        ("last_name", "Garnier"),
        ("job_title", "Conductrice de travaux"),
        ("email", "s.garnier@maisons-horizon.test"),
        ("phone", ""),
        ("mobile", "06 34 56 78 90"),
    ];
    let resp = admin.submit(&change, &change, &same).await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("Aucune information n'a été modifiée"));

    let mut changed = same.clone();
    changed[3] = ("job_title", "Responsable travaux");
    let resp = admin.submit(&change, &change, &changed).await;
    assert_eq!(resp.status(), 303);
    let change_id = last_contact_request(&app.db).await;
    // A second request on the same contact waits for the first.
    let resp = admin.submit(&change, &change, &changed).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(last_contact_request(&app.db).await, change_id);

    let office = app.login("admin@demo.test").await;
    let detail = format!("/bo/demandes/contacts/{change_id}");
    let (_, body) = office.get_text(&detail).await;
    assert!(body.contains("Responsable travaux") && body.contains("modifié"), "the change is shown");
    let resp = office.submit(&detail, &format!("{detail}/valider"), &changed).await;
    assert_eq!(resp.status(), 303);
    let title: String = on_db!(&app.db, |p| sqlx::query_scalar("SELECT job_title FROM contacts WHERE id = $1")
        .bind(garnier)
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(title, "Responsable travaux");

    // A removal of a contact who has an account: the reason is required.
    let lefevre = contact_id(&app.db, "client@demo.test").await;
    let colleague = app.login("client@demo.test").await;
    assert_eq!(colleague.get("/espace").await.status(), 200);
    let remove = format!("/espace/entreprise/contacts/{lefevre}/demande-suppression");
    let (_, body) = admin.get_text(&remove).await;
    assert!(unescape(&body).contains("son accès sera fermé"));
    let resp = admin.submit(&remove, &remove, &[("reason", "")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Indiquez le motif de la suppression"));
    let resp = admin.submit(&remove, &remove, &[("reason", "A quitté l'entreprise fin septembre.")]).await;
    assert_eq!(resp.status(), 303);
    let remove_id = last_contact_request(&app.db).await;
    // Asking to remove oneself is not offered.
    let me = contact_id(&app.db, "client.admin@demo.test").await;
    let own = format!("/espace/entreprise/contacts/{me}/demande-suppression");
    let resp = admin.submit(&own, &own, &[("reason", "Je pars")]).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(last_contact_request(&app.db).await, remove_id);

    let detail = format!("/bo/demandes/contacts/{remove_id}");
    let (_, body) = office.get_text(&detail).await;
    assert!(body.contains("client@demo.test"), "the account to be closed is listed");
    let resp = office.submit(&detail, &format!("{detail}/valider"), &[]).await;
    assert_eq!(resp.status(), 303);
    let archived: bool = on_db!(&app.db, |p| sqlx::query_scalar("SELECT archived FROM contacts WHERE id = $1")
        .bind(lefevre)
        .fetch_one(p)
        .await)
    .unwrap();
    assert!(archived, "the contact is archived");
    let active: bool =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT active FROM users WHERE email = 'client@demo.test'")
            .fetch_one(p)
            .await)
        .unwrap();
    assert!(!active, "its access is deactivated");
    let uid = user_id(&app.db, "client@demo.test").await;
    assert_eq!(
        on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(uid)
            .fetch_one(p)
            .await)
        .unwrap(),
        0,
        "its sessions are ended"
    );
    let resp = colleague.get("/espace").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/login"));
    assert!(
        count(&app.db, "SELECT COUNT(*) FROM audit_log WHERE entity = 'user' AND action = 'deactivate'").await >= 1
    );

    let kinds: Vec<String> =
        notifications_of(&app.db, "client.admin@demo.test").await.into_iter().map(|n| n.0).collect();
    assert_eq!(kinds, ["contact_request_validated", "contact_request_validated"]);
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_needs_a_reason_which_the_requester_reads() {
    let app = TestApp::spawn().await;
    let admin = app.login("client.admin@demo.test").await;
    let form = "/espace/entreprise/demandes/nouveau-contact";
    admin.submit(form, form, &[("first_name", "Paul"), ("last_name", "Inconnu")]).await;
    let id = last_contact_request(&app.db).await;
    assert!(id > 0);

    let office = app.login("bureau@demo.test").await;
    let detail = format!("/bo/demandes/contacts/{id}");
    let resp = office.submit(&detail, &format!("{detail}/refuser"), &[("reason", "")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Indiquez le motif du refus"));
    assert_eq!(request_status(&app.db, id).await.0, "pending");
    assert!(notifications_of(&app.db, "client.admin@demo.test").await.is_empty());

    let reason = "Cette personne ne figure pas dans vos effectifs déclarés.";
    let resp = office.submit(&detail, &format!("{detail}/refuser"), &[("reason", reason)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(request_status(&app.db, id).await, ("refused".to_string(), reason.to_string()));
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM contacts WHERE last_name = 'Inconnu'").await, 0);
    let n = notifications_of(&app.db, "client.admin@demo.test").await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, "contact_request_refused");
    assert!(n[0].1.contains(reason));
    let (_, body) = admin.get_text("/espace/entreprise/demandes").await;
    assert!(body.contains("Refusée") && body.contains(reason));
    app.stop().await;
}

#[tokio::test]
async fn contact_requests_stay_within_the_company_and_belong_to_its_admin() {
    let app = TestApp::spawn().await;
    let c002 = demo_client(&app.db, "C002").await;
    let benali = contact_id(&app.db, "n.benali@demeures-estuaire.test").await;
    let other_user = user_id(&app.db, "autre.client@demo.test").await;
    let tenant = scalar(&app.db, "SELECT id FROM tenants WHERE slug = $1", "demo").await;
    let foreign: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "INSERT INTO contact_requests (tenant_id, client_id, requested_by, kind, contact_id, last_name, message, created_at)
         VALUES ($1, $2, $3, 'remove', $4, 'Benali', 'Motif confidentiel Estuaire', 0) RETURNING id"
    )
    .bind(tenant)
    .bind(c002)
    .bind(other_user)
    .bind(benali)
    .fetch_one(p)
    .await)
    .unwrap();

    let admin = app.login("client.admin@demo.test").await;
    let (status, body) = admin.get_text(&format!("/espace/entreprise/demandes/{foreign}")).await;
    assert_eq!(status, 404);
    assert!(!body.contains("Motif confidentiel Estuaire"));
    let (_, body) = admin.get_text("/espace/entreprise/demandes").await;
    assert!(
        !body.contains("Benali") && !body.contains("Demeures"),
        "another company's contacts and requests stay hidden"
    );
    for path in [
        format!("/espace/entreprise/contacts/{benali}/demande-modification"),
        format!("/espace/entreprise/contacts/{benali}/demande-suppression"),
    ] {
        assert_eq!(admin.get(&path).await.status(), 404, "GET {path}");
        let resp =
            admin.submit("/espace/entreprise/demandes", &path, &[("last_name", "Pirate"), ("reason", "x")]).await;
        assert_eq!(resp.status(), 404, "POST {path}");
    }
    assert_eq!(last_contact_request(&app.db).await, foreign, "nothing was created");

    // A client user (not admin) and a technician are refused.
    let user = app.login("client@demo.test").await;
    assert_eq!(user.get("/espace/entreprise/demandes").await.status(), 403);
    assert_eq!(user.get("/espace/entreprise/demandes/nouveau-contact").await.status(), 403);
    let resp = user.submit("/espace", "/espace/entreprise/demandes/nouveau-contact", &[("last_name", "Pirate")]).await;
    assert_eq!(resp.status(), 403);
    let tech = app.login("technicien@demo.test").await;
    assert_eq!(tech.get("/bo/demandes").await.status(), 403);
    assert_eq!(tech.get(&format!("/bo/demandes/contacts/{foreign}")).await.status(), 403);
    assert_eq!(last_contact_request(&app.db).await, foreign);

    // Staff of another firm do not see this firm's requests.
    crate::clients::other_firm(&app.db).await;
    exec_db!(&app.db, |p| sqlx::query("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = 'admin@demo.test') WHERE email = 'patron@ailleurs.test'")
        .execute(p)
        .await)
    .unwrap();
    let outsider = app.login("patron@ailleurs.test").await;
    assert_eq!(outsider.get(&format!("/bo/demandes/contacts/{foreign}")).await.status(), 404);
    let resp = outsider.submit("/bo/demandes", &format!("/bo/demandes/contacts/{foreign}/valider"), &[]).await;
    assert_eq!(resp.status(), 404);
    let (_, body) = outsider.get_text("/bo/demandes").await;
    assert!(!body.contains("Benali"));
    assert_eq!(request_status(&app.db, foreign).await.0, "pending");
    app.stop().await;
}
