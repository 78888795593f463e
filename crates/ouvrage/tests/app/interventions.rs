//! Intervention requests and interventions: a client asks for an intervention on a site, which
//! opens a "Demande d'intervention" thread and notifies the office; the office schedules it,
//! proposes another day or refuses it, each answer landing in the thread; the client then sees
//! the intervention on the site and finds the site by its intervention date; the planning shows
//! it under its day and technician; marking it done or cancelled moves the site. Bad input and
//! other companies' ids are refused and write nothing.

use ouvrage::db::Db;
use ouvrage::features::interventions::rules::{fr_long_day, fr_short_day, iso, paris_today};
use ouvrage::on_db;
use reqwest::multipart::Form;

use crate::support::*;

async fn scalar(db: &Db, sql: &'static str, arg: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sql).bind(arg).fetch_one(p).await).unwrap()
}

async fn user_id(db: &Db, email: &str) -> i64 {
    scalar(db, "SELECT id FROM users WHERE email = $1", email).await
}

/// The `n`-th current site (by id) of the company of `email` that has no intervention date yet,
/// so that the date filter cannot find it before it is scheduled.
async fn undated_site(db: &Db, email: &str, n: i64) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT s.id FROM sites s JOIN users u ON u.client_id = s.client_id AND u.tenant_id = s.tenant_id
         WHERE u.email = $1 AND NOT s.archived AND s.kind = 'construction'
           AND s.expected_date IS NULL AND s.actual_date IS NULL
         ORDER BY s.id LIMIT 1 OFFSET $2"
    )
    .bind(email)
    .bind(n)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// The firm's first service: `(id, label)`.
async fn first_service(db: &Db) -> (i64, String) {
    on_db!(db, |p| sqlx::query_as("SELECT id, label FROM services WHERE NOT archived ORDER BY position, id LIMIT 1")
        .fetch_one(p)
        .await)
    .unwrap()
}

/// A site's status and dates.
async fn site_state(db: &Db, site: i64) -> (String, Option<String>, Option<String>) {
    on_db!(db, |p| sqlx::query_as("SELECT status, expected_date, actual_date FROM sites WHERE id = $1")
        .bind(site)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// A request's status.
async fn request_status(db: &Db, id: i64) -> String {
    on_db!(db, |p| sqlx::query_scalar("SELECT status FROM intervention_requests WHERE id = $1")
        .bind(id)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// Rows the feature writes: requests, interventions, threads, messages, notifications, sites changed.
async fn written(db: &Db) -> (i64, i64, i64, i64, i64) {
    on_db!(db, |p| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM intervention_requests), (SELECT COUNT(*) FROM interventions),
                (SELECT COUNT(*) FROM threads), (SELECT COUNT(*) FROM messages),
                (SELECT COUNT(*) FROM notifications)"
    )
    .fetch_one(p)
    .await)
    .unwrap()
}

/// Text as the templates print it (HTML-escaped).
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('\'', "&#39;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

fn day_in(days: i64) -> String {
    iso(paris_today() + chrono::Duration::days(days))
}

/// The client asks for an intervention on `site`; returns the request's and the thread's ids.
async fn ask(app: &TestApp, client: &Browser, site: i64, service: i64, day: &str) -> (i64, i64) {
    let (site, service) = (site.to_string(), service.to_string());
    let r = client
        .submit(
            "/espace/actions/intervention",
            "/espace/actions/intervention",
            &[
                ("chantier", &site),
                ("prestation", &service),
                ("date1", day),
                ("date2", ""),
                ("date3", ""),
                ("commentaire", "Clé sous le paillasson."),
                ("contact_nom", "Julien Lefèvre"),
                ("contact_tel", "06 11 22 33 44"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let loc = location(&r);
    let thread: i64 = loc
        .strip_prefix("/espace/messagerie/")
        .and_then(|rest| rest.strip_suffix("?msg=envoye"))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirect to the thread: {loc}"));
    let id: i64 = on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM intervention_requests WHERE thread_id = $1")
        .bind(thread)
        .fetch_one(p)
        .await)
    .unwrap();
    (id, thread)
}

/// The office schedules request `id`.
async fn schedule(b: &Browser, id: i64, day: &str, start: &str, end: &str, technician: i64) -> reqwest::Response {
    let page = format!("/bo/demandes-intervention/{id}");
    let technician = technician.to_string();
    b.submit(
        &page,
        &format!("{page}/planifier"),
        &[("jour", day), ("debut", start), ("fin", end), ("technicien", &technician)],
    )
    .await
}

/// Whether Mes chantiers, filtered on the intervention dates `from..=to`, lists `site`.
async fn listed_between(client: &Browser, site: i64, from: &str, to: &str) -> bool {
    let (status, body) = client.get_text(&format!("/espace/chantiers?du={from}&au={to}")).await;
    assert_eq!(status, 200);
    body.contains(&format!("href=\"/espace/chantiers/{site}\""))
}

#[tokio::test]
async fn a_requested_intervention_is_scheduled_and_the_client_follows_it() {
    let app = TestApp::spawn().await;
    let client = app.login("client.admin@demo.test").await;
    let colleague_id = user_id(&app.db, "client@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    let tech = app.login("technicien@demo.test").await;
    let stranger = app.login("autre.client@demo.test").await;
    let office_id = user_id(&app.db, "bureau@demo.test").await;
    let tech_id = user_id(&app.db, "technicien@demo.test").await;
    let site = undated_site(&app.db, "client.admin@demo.test", 0).await;
    let (service, service_label) = first_service(&app.db).await;
    // Beyond the demo's planning (this week and the next), so the technician is free.
    let day = day_in(20);

    // From the site's page: the button opens the form on that site, its manager as contact.
    let (status, site_page) = client.get_text(&format!("/espace/chantiers/{site}")).await;
    assert_eq!(status, 200);
    let button = format!("href=\"/espace/actions/intervention?chantier={site}\"");
    assert!(site_page.contains(&button) && site_page.contains("Demander une intervention"));
    assert!(site_page.contains("id=\"site-interventions\"") && site_page.contains("Aucune intervention planifiée"));
    let (status, form) = client.get_text(&format!("/espace/actions/intervention?chantier={site}")).await;
    assert_eq!(status, 200);
    assert!(form.contains(&format!("<option value=\"{site}\" selected>")));
    assert!(form.contains(&format!("<option value=\"{service}\">{}</option>", html(&service_label))));
    assert!(!listed_between(&client, site, &day, &day).await);

    let (id, thread) = ask(&app, &client, site, service, &day).await;
    // The thread: on the site, subject "Demande d'intervention", summing the request up.
    let (subject, thread_site, thread_status): (String, i64, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT subject, site_id, status FROM threads WHERE id = $1")
            .bind(thread)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!((subject.as_str(), thread_site, thread_status.as_str()), ("Demande d'intervention", site, "open"));
    let (status, page) = client.get_text(&format!("/espace/messagerie/{thread}?msg=envoye")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&html(&format!("Prestation : {service_label}"))), "{page}");
    assert!(page.contains(&fr_long_day(&day)) && page.contains("Julien Lefèvre — 06 11 22 33 44"));
    assert!(page.contains("Clé sous le paillasson."));
    // The office is told, as for any client message.
    let notified: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = 'new_message' AND link = $2"
    )
    .bind(office_id)
    .bind(format!("/bo/messagerie/{thread}"))
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(notified, 1);
    // "Mes actions" lists it; another company does not see it.
    let (status, actions) = client.get_text("/espace/actions").await;
    assert_eq!(status, 200);
    assert!(actions.contains("Demander une intervention") && actions.contains("/espace/signatures"));
    assert!(actions.contains(&format!("href=\"/espace/messagerie/{thread}\"")) && actions.contains("En attente"));
    let (_, theirs) = stranger.get_text("/espace/actions").await;
    assert!(!theirs.contains(&format!("/espace/messagerie/{thread}\"")));
    let (_, pending_on_site) = client.get_text(&format!("/espace/chantiers/{site}")).await;
    assert!(pending_on_site.contains("Demandes en cours") && pending_on_site.contains("En attente"));

    // The back office: pending first in the list; the thread links to the request.
    let (status, list) = office.get_text("/bo/demandes-intervention?statut=pending").await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("href=\"/bo/demandes-intervention/{id}\"")));
    let (_, bo_thread) = office.get_text(&format!("/bo/messagerie/{thread}")).await;
    assert!(bo_thread.contains(&format!("id=\"thread-request\" href=\"/bo/demandes-intervention/{id}\"")));
    let (status, request_page) = office.get_text(&format!("/bo/demandes-intervention/{id}")).await;
    assert_eq!(status, 200);
    assert!(request_page.contains("id=\"form-plan\"") && request_page.contains(&format!("value=\"{day}\"")));
    assert!(request_page.contains("Yann Le Goff"));

    // Technicians read the request but do not answer it.
    let (status, tech_view) = tech.get_text(&format!("/bo/demandes-intervention/{id}")).await;
    assert_eq!(status, 200);
    assert!(!tech_view.contains("id=\"form-plan\""));
    let before = written(&app.db).await;
    assert_eq!(schedule(&tech, id, &day, "08:00", "10:00", tech_id).await.status(), 403);
    assert_eq!(written(&app.db).await, before);
    assert_eq!(request_status(&app.db, id).await, "pending");
    // Client users never reach the back office's requests.
    assert_eq!(client.get(&format!("/bo/demandes-intervention/{id}")).await.status(), 403);

    // The office schedules it.
    let r = schedule(&office, id, &day, "08:00", "10:00", tech_id).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/bo/demandes-intervention/{id}?msg=enregistre"));
    assert_eq!(request_status(&app.db, id).await, "accepted");
    let (intervention, i_status, i_day, i_tech): (i64, String, String, i64) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT id, status, day, technician_id FROM interventions WHERE request_id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!((i_status.as_str(), i_day.as_str(), i_tech), ("planned", day.as_str(), tech_id));
    assert_eq!(site_state(&app.db, site).await, ("scheduled".into(), Some(day.clone()), None));
    let answered: String = on_db!(&app.db, |p| sqlx::query_scalar("SELECT status FROM threads WHERE id = $1")
        .bind(thread)
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(answered, "answered");
    let client_notified: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = 'new_message' AND link = $2"
    )
    .bind(colleague_id)
    .bind(format!("/espace/messagerie/{thread}"))
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(client_notified, 1, "the company's users are told of the answer");
    // A second answer (a colleague at the same time) is refused and changes nothing.
    let before = written(&app.db).await;
    let r = office
        .submit(
            &format!("/bo/demandes-intervention/{id}"),
            &format!("/bo/demandes-intervention/{id}/refuser"),
            &[("motif", "Trop tard")],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("déjà reçu une réponse"));
    assert_eq!(written(&app.db).await, before);
    assert_eq!(request_status(&app.db, id).await, "accepted");

    // The client sees the answer in the thread, the intervention on the site, and finds the site
    // by its intervention date.
    let (_, page) = client.get_text(&format!("/espace/messagerie/{thread}")).await;
    let planned =
        format!("Intervention planifiée le {} entre 8 h 00 et 10 h 00 — technicien : Yann Le Goff", fr_long_day(&day));
    assert!(page.contains(&planned), "{page}");
    let (_, site_page) = client.get_text(&format!("/espace/chantiers/{site}")).await;
    let section = &site_page[site_page.find("id=\"site-interventions\"").unwrap()..];
    assert!(section.contains(&fr_short_day(&day)) && section.contains("8 h 00 – 10 h 00"));
    assert!(section.contains("Yann Le Goff") && section.contains("Planifiée"));
    assert!(!section.contains("Demandes en cours"), "the request is answered");
    assert!(listed_between(&client, site, &day, &day).await);
    assert!(listed_between(&client, site, &day_in(19), &day_in(21)).await);
    assert!(!listed_between(&client, site, &day_in(21), &day_in(25)).await);
    assert!(!listed_between(&stranger, site, &day, &day).await);

    // The planning: under its day, then its technician; the technician sees theirs, read-only.
    let (status, planning) = office.get_text(&format!("/bo/planning?du={day}&au={day}")).await;
    assert_eq!(status, 200);
    let day_at = planning.find(&format!("id=\"jour-{day}\"")).expect("the day's section");
    let tech_at = planning[day_at..].find("Yann Le Goff").expect("the technician's heading") + day_at;
    let row_at = planning.find(&format!("id=\"intervention-{intervention}\"")).expect("the intervention's row");
    assert!(day_at < tech_at && tech_at < row_at);
    assert!(planning.contains(&format!("/bo/interventions/{intervention}/statut")));
    assert!(planning.contains(&format!("href=\"/bo/demandes-intervention/{id}\"")));
    let (_, other_tech) = office.get_text(&format!("/bo/planning?du={day}&au={day}&technicien={office_id}")).await;
    assert!(!other_tech.contains(&format!("id=\"intervention-{intervention}\"")));
    let (status, theirs) = tech.get_text(&format!("/bo/planning?du={day}&au={day}")).await;
    assert_eq!(status, 200);
    assert!(theirs.contains(&format!("id=\"intervention-{intervention}\"")));
    assert!(!theirs.contains(&format!("/bo/interventions/{intervention}/statut")));
    let (status, week) = office.get_text("/bo/planning").await;
    assert_eq!(status, 200);
    assert!(week.contains("Planning du lundi"));
    assert_eq!(client.get("/bo/planning").await.status(), 403);
    app.stop().await;
}

/// Posts a reply in a thread the way the browser does (multipart, token in the URL).
async fn reply(b: &Browser, thread: i64, message: &str) -> reqwest::Response {
    let token = b.csrf("/espace/messagerie").await;
    let form = Form::new().text("message", message.to_string());
    b.http
        .post(b.url(&format!("/espace/messagerie/{thread}/repondre?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn another_day_is_proposed_and_a_request_is_refused_with_its_reason() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    let tech_id = user_id(&app.db, "technicien@demo.test").await;
    let site = undated_site(&app.db, "client@demo.test", 0).await;
    let (service, _) = first_service(&app.db).await;
    let (id, thread) = ask(&app, &client, site, service, &day_in(16)).await;
    let page = format!("/bo/demandes-intervention/{id}");

    // A proposal needs a day and an ordered window; refused, it writes nothing.
    let before = written(&app.db).await;
    let r = office
        .submit(&page, &format!("{page}/proposer"), &[("jour", &day_in(22)), ("debut", "11:00"), ("fin", "09:00")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("La fin du créneau doit suivre son début."));
    assert_eq!(written(&app.db).await, before);
    assert_eq!(request_status(&app.db, id).await, "pending");

    let proposed = day_in(22);
    let r = office
        .submit(&page, &format!("{page}/proposer"), &[("jour", &proposed), ("debut", "14:00"), ("fin", "16:00")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(request_status(&app.db, id).await, "proposed");
    let (_, seen) = client.get_text(&format!("/espace/messagerie/{thread}")).await;
    assert!(seen.contains(&format!("le {} entre 14 h 00 et 16 h 00", fr_long_day(&proposed))), "{seen}");
    assert!(seen.contains("Merci de nous confirmer cette date en répondant à ce message"));
    assert!(site_state(&app.db, site).await.1.is_none(), "a proposal does not schedule the site");
    // The client confirms by replying; the office plans it, the form starting from the proposal.
    assert_eq!(reply(&client, thread, "C'est parfait, merci.").await.status(), 303);
    let (_, request_page) = office.get_text(&page).await;
    assert!(request_page.contains(&format!(
        "id=\"p-jour\" name=\"jour\" type=\"date\" min=\"{}\" value=\"{proposed}\"",
        iso(paris_today())
    )));
    assert!(request_page.contains("value=\"14:00\""));
    assert_eq!(schedule(&office, id, &proposed, "14:00", "16:00", tech_id).await.status(), 303);
    assert_eq!(request_status(&app.db, id).await, "accepted");
    assert_eq!(site_state(&app.db, site).await.1, Some(proposed.clone()));

    // A refusal needs its reason, which the client reads in the thread.
    let other = undated_site(&app.db, "client@demo.test", 1).await;
    let (id2, thread2) = ask(&app, &client, other, service, &day_in(17)).await;
    let page2 = format!("/bo/demandes-intervention/{id2}");
    let before = written(&app.db).await;
    let r = office.submit(&page2, &format!("{page2}/refuser"), &[("motif", "   ")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Indiquez le motif du refus"));
    assert_eq!(written(&app.db).await, before);
    let r = office.submit(&page2, &format!("{page2}/refuser"), &[("motif", "Chantier hors de notre secteur.")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(request_status(&app.db, id2).await, "refused");
    let (_, seen) = client.get_text(&format!("/espace/messagerie/{thread2}")).await;
    assert!(seen.contains("Motif : Chantier hors de notre secteur."));
    let (_, site_page) = client.get_text(&format!("/espace/chantiers/{other}")).await;
    assert!(!site_page.contains("Demandes en cours"));
    assert_eq!(site_state(&app.db, other).await, ("to_schedule".into(), None, None));
    let (_, refused) = office.get_text("/bo/demandes-intervention?statut=refused").await;
    assert!(refused.contains(&format!("href=\"/bo/demandes-intervention/{id2}\"")));
    assert!(!refused.contains(&format!("href=\"/bo/demandes-intervention/{id}\"")));
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_in_french_and_write_nothing() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let site = undated_site(&app.db, "client@demo.test", 0).await.to_string();
    let foreign = undated_site(&app.db, "autre.client@demo.test", 0).await.to_string();
    let (service, _) = first_service(&app.db).await;
    let service = service.to_string();
    let (soon, past, far) = (day_in(5), day_in(-1), day_in(400));
    let before = written(&app.db).await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("chantier", &site), ("prestation", &service)], "Indiquez au moins une date souhaitée"),
        (vec![("chantier", &site), ("prestation", &service), ("date1", &past)], "est passée"),
        (vec![("chantier", &site), ("prestation", &service), ("date1", &far)], "trop lointaine"),
        (vec![("chantier", &site), ("prestation", &service), ("date1", "31/02/2026")], "n&#39;est pas une date valide"),
        (vec![("chantier", &site), ("prestation", &service), ("date1", &soon), ("date2", &soon)], "déjà proposée"),
        (
            vec![("chantier", &site), ("prestation", &service), ("date1", &soon), ("contact_tel", "12")],
            "n&#39;est pas un numéro de téléphone valide",
        ),
        (vec![("chantier", &site), ("date1", &soon)], "Choisissez la prestation"),
        (vec![("chantier", &site), ("prestation", "999999"), ("date1", &soon)], "Choisissez la prestation"),
        (vec![("prestation", &service), ("date1", &soon)], "Choisissez un de vos chantiers"),
        (vec![("chantier", "abc"), ("prestation", &service), ("date1", &soon)], "Choisissez un de vos chantiers"),
        // Another company's site, even with everything else right.
        (vec![("chantier", &foreign), ("prestation", &service), ("date1", &soon)], "Choisissez un de vos chantiers"),
    ];
    for (fields, expected) in cases {
        let r = client.submit("/espace/actions/intervention", "/espace/actions/intervention", &fields).await;
        assert_eq!(r.status(), 422, "{fields:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains(expected), "{fields:?} should say « {expected} »");
        assert!(body.contains("id=\"intervention-request\""), "the form is shown again");
    }
    assert_eq!(written(&app.db).await, before);
    // The form opened with another company's site preselects nothing of theirs.
    let (status, form) = client.get_text(&format!("/espace/actions/intervention?chantier={foreign}")).await;
    assert_eq!(status, 200);
    assert!(!form.contains(&format!("value=\"{foreign}\"")));
    // Staff do not use the extranet's form.
    let office = app.login("bureau@demo.test").await;
    assert_eq!(office.get("/espace/actions/intervention").await.status(), 403);
    app.stop().await;
}

/// The intervention planned for a request.
async fn intervention_of(db: &Db, request: i64) -> i64 {
    on_db!(db, |p| sqlx::query_scalar("SELECT id FROM interventions WHERE request_id = $1")
        .bind(request)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// Marks an intervention from the planning, asking to come back to a planning page.
async fn mark(b: &Browser, id: i64, status: &str) -> reqwest::Response {
    let action = format!("/bo/interventions/{id}/statut");
    b.submit("/bo/planning", &action, &[("statut", status), ("retour", "/bo/planning?du=2026-01-05")]).await
}

#[tokio::test]
async fn marking_interventions_done_or_cancelled_moves_the_site() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    let tech = app.login("technicien@demo.test").await;
    let tech_id = user_id(&app.db, "technicien@demo.test").await;
    let (service, _) = first_service(&app.db).await;
    let today = iso(paris_today());
    let (a, b, c) = (
        undated_site(&app.db, "client@demo.test", 0).await,
        undated_site(&app.db, "client@demo.test", 1).await,
        undated_site(&app.db, "client@demo.test", 2).await,
    );
    // Early in the morning, before the demo's windows (from 8 h).
    let (id_a, _) = ask(&app, &client, a, service, &today).await;
    assert_eq!(schedule(&office, id_a, &today, "06:00", "07:00", tech_id).await.status(), 303);
    // The same technician cannot be in two places at once: refused, nothing written.
    let (id_b, _) = ask(&app, &client, b, service, &today).await;
    let before = written(&app.db).await;
    let r = schedule(&office, id_b, &today, "06:30", "07:30", tech_id).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("a déjà une intervention ce jour-là entre 6 h 00 et 7 h 00"));
    assert_eq!(written(&app.db).await, before);
    assert_eq!(request_status(&app.db, id_b).await, "pending");
    let later = day_in(30);
    assert_eq!(schedule(&office, id_b, &later, "09:00", "11:00", tech_id).await.status(), 303);

    let (ia, ib) = (intervention_of(&app.db, id_a).await, intervention_of(&app.db, id_b).await);
    // Technicians do not mark; a day to come is not done yet; unknown statuses are refused.
    assert_eq!(mark(&tech, ia, "done").await.status(), 403);
    let r = mark(&office, ib, "done").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("elle ne peut être déclarée réalisée"));
    assert_eq!(mark(&office, ia, "fini").await.status(), 422);
    assert_eq!(site_state(&app.db, a).await, ("scheduled".into(), Some(today.clone()), None));

    // Done: the site is done that day, and found by that date.
    let r = mark(&office, ia, "done").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/bo/planning?du=2026-01-05&msg=enregistre");
    assert_eq!(site_state(&app.db, a).await, ("done".into(), Some(today.clone()), Some(today.clone())));
    assert!(listed_between(&client, a, &today, &today).await);
    assert_eq!(mark(&office, ia, "cancelled").await.status(), 409, "no longer planned");
    let (_, site_page) = client.get_text(&format!("/espace/chantiers/{a}")).await;
    assert!(site_page[site_page.find("id=\"site-interventions\"").unwrap()..].contains("Réalisée"));

    // Cancelled: the site goes back to "to schedule", without the date.
    assert_eq!(mark(&office, ib, "cancelled").await.status(), 303);
    assert_eq!(site_state(&app.db, b).await, ("to_schedule".into(), None, None));
    assert!(!listed_between(&client, b, &later, &later).await);
    let (_, planning) = office.get_text(&format!("/bo/planning?du={later}&au={later}")).await;
    assert!(planning.contains(&format!("id=\"intervention-{ib}\"")) && planning.contains("Annulée"));
    assert!(!planning.contains(&format!("/bo/interventions/{ib}/statut")));

    // A back link outside the back office is not followed.
    let (id_c, _) = ask(&app, &client, c, service, &today).await;
    assert_eq!(schedule(&office, id_c, &today, "19:00", "20:00", tech_id).await.status(), 303);
    let ic = intervention_of(&app.db, id_c).await;
    let r = office
        .submit(
            "/bo/planning",
            &format!("/bo/interventions/{ic}/statut"),
            &[("statut", "done"), ("retour", "//evil.test/")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/bo/planning?msg=enregistre");
    // Unknown ids are not found.
    assert_eq!(mark(&office, 999_999, "done").await.status(), 404);
    assert_eq!(office.get("/bo/demandes-intervention/999999").await.status(), 404);
    assert_eq!(office.get("/bo/planning?technicien=999999").await.status(), 404);
    let r = office.get("/bo/planning?du=2026-03-10&au=2026-03-01").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("La fin de la période précède son début."));
    app.stop().await;
}

#[tokio::test]
async fn two_staff_answering_at_once_do_not_both_win() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    let admin = app.login("admin@demo.test").await;
    let tech_id = user_id(&app.db, "technicien@demo.test").await;
    let admin_id = user_id(&app.db, "admin@demo.test").await;
    let (service, _) = first_service(&app.db).await;
    let day = day_in(25);

    // The same request, scheduled by two people at once: one wins, the other is told.
    let site = undated_site(&app.db, "client@demo.test", 0).await;
    let (id, thread) = ask(&app, &client, site, service, &day).await;
    let (a, b) = tokio::join!(
        schedule(&office, id, &day, "08:00", "10:00", tech_id),
        schedule(&admin, id, &day, "14:00", "16:00", admin_id)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    let (interventions, staff_messages): (i64, i64) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM interventions WHERE request_id = $1),
                (SELECT COUNT(*) FROM messages WHERE thread_id = $2 AND from_staff)"
    )
    .bind(id)
    .bind(thread)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!((interventions, staff_messages), (1, 1));

    // Two requests given the same technician at the same time: the second finds them busy.
    let (site2, site3) =
        (undated_site(&app.db, "client@demo.test", 1).await, undated_site(&app.db, "client@demo.test", 2).await);
    let (id2, _) = ask(&app, &client, site2, service, &day).await;
    let (id3, _) = ask(&app, &client, site3, service, &day).await;
    let (a, b) = tokio::join!(
        schedule(&office, id2, &day, "17:00", "18:00", tech_id),
        schedule(&admin, id3, &day, "17:30", "18:30", tech_id)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 422]);
    let busy: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM interventions WHERE technician_id = $1 AND day = $2 AND window_start >= '17:00'"
    )
    .bind(tech_id)
    .bind(&day)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(busy, 1);
    let pending: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM intervention_requests WHERE id IN ($1, $2) AND status = 'pending'"
    )
    .bind(id2)
    .bind(id3)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(pending, 1, "the refused scheduling left its request pending");
    app.stop().await;
}
