//! A builder asks for an intervention from a chantier's page; the office, in its own browser,
//! schedules it from the request's page; the builder then reads the answer in the thread, sees
//! the intervention on the chantier and finds the chantier in Mes chantiers by its date.

use fantoccini::Locator;
use ouvrage::features::interventions::rules::{fr_long_day, iso, paris_today};
use ouvrage::on_db;
use serde_json::json;

use crate::driver::{Chromium, artifacts_dir};
use crate::support::{TestApp, eventually};

/// Sets a date input's value the way the date picker does (its typed form depends on the
/// browser's locale) and tells the page it changed.
async fn set_date(chromium: &Chromium, css: &str, day: &str) {
    chromium.wait_css(css).await;
    chromium
        .client
        .execute(
            "const input = document.querySelector(arguments[0]);
             input.value = arguments[1];
             input.dispatchEvent(new Event('input', { bubbles: true }));
             input.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(day)],
        )
        .await
        .expect("set the date");
}

async fn click(chromium: &Chromium, css: &str) {
    chromium.wait_css(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// The path of the page the browser is on.
async fn path(chromium: &Chromium) -> String {
    chromium.client.current_url().await.map(|u| u.path().to_string()).unwrap_or_default()
}

#[tokio::test]
async fn a_client_requests_an_intervention_the_office_schedules_it_and_the_client_finds_it() {
    let app = TestApp::spawn().await;
    // A chantier of the builder without any intervention date yet.
    let site: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT MIN(s.id) FROM sites s JOIN users u ON u.client_id = s.client_id AND u.tenant_id = s.tenant_id
         WHERE u.email = 'client.admin@demo.test' AND NOT s.archived AND s.kind = 'construction'
           AND s.expected_date IS NULL AND s.actual_date IS NULL"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let (service, service_label): (i64, String) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT id, label FROM services WHERE NOT archived ORDER BY position, id LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let technician: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM users WHERE email = 'technicien@demo.test'")
            .fetch_one(p)
            .await)
        .unwrap();
    // Beyond the demo's planning (this week and the next), so the technician is free.
    let day = iso(paris_today() + chrono::Duration::days(18));

    // The builder opens the chantier and asks for an intervention.
    let client = Chromium::start().await;
    client.login(&app.base, "client.admin@demo.test", "demo-ouvrage").await;
    client.wait_path("/espace").await;
    client.goto(&app.url(&format!("/espace/chantiers/{site}"))).await;
    click(&client, "#request-intervention").await;
    client.wait_path("/espace/actions/intervention").await;
    let chosen = client.wait_css("select#f-chantier").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(chosen, site.to_string(), "the chantier is preselected");
    client.wait_css("select#f-prestation").await.select_by_value(&service.to_string()).await.expect("the service");
    set_date(&client, "#f-date1", &day).await;
    client.wait_css("#f-commentaire").await.send_keys("Portail ouvert le matin.").await.unwrap();
    click(&client, "#intervention-request button[type=submit]").await;
    let opened = eventually(std::time::Duration::from_secs(15), || async {
        path(&client).await.strip_prefix("/espace/messagerie/").is_some_and(|id| id.parse::<i64>().is_ok())
    })
    .await;
    assert!(opened, "the request lands on its thread: {}", path(&client).await);
    let thread_path = path(&client).await;
    let text = client.page_text().await;
    assert!(
        text.contains("Demande d'intervention") && text.contains(&format!("Prestation : {service_label}")),
        "{text}"
    );
    assert!(text.contains(&fr_long_day(&day)) && text.contains("Portail ouvert le matin."));
    let thread: i64 = thread_path.rsplit('/').next().unwrap().parse().unwrap();
    let request: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT id FROM intervention_requests WHERE thread_id = $1")
            .bind(thread)
            .fetch_one(p)
            .await)
        .unwrap();

    // The office, in its own browser, finds it among the pending requests and schedules it.
    let office = Chromium::start().await;
    office.login(&app.base, "bureau@demo.test", "demo-ouvrage").await;
    office.wait_path("/bo").await;
    office.goto(&app.url("/bo/planning")).await;
    click(&office, "#pending-requests").await;
    click(&office, &format!("a[href='/bo/demandes-intervention/{request}']")).await;
    office.wait_path(&format!("/bo/demandes-intervention/{request}")).await;
    let prefilled = office.wait_css("#p-jour").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(prefilled, day, "the form starts from the preferred day");
    office.wait_css("select#p-technicien").await.select_by_value(&technician.to_string()).await.unwrap();
    let png = office.client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("intervention-request-bo.png"), &png).expect("write screenshot");
    click(&office, "#form-plan button[type=submit]").await;
    let planned = eventually(std::time::Duration::from_secs(15), || async {
        match office.client.find(Locator::Css("#request-status")).await {
            Ok(e) => e.text().await.map(|t| t == "Planifiée").unwrap_or(false),
            Err(_) => false,
        }
    })
    .await;
    assert!(planned, "the request is planned: {}", office.page_text().await);
    // The planning shows it on its day, under its technician.
    office.goto(&app.url(&format!("/bo/planning?du={day}&au={day}"))).await;
    let day_section = office.wait_css(&format!("#jour-{day}")).await.text().await.unwrap();
    assert!(day_section.contains("Yann Le Goff") && day_section.contains(&service_label), "{day_section}");
    let png = office.client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("intervention-planning.png"), &png).expect("write screenshot");

    // The builder reloads the thread: the firm's answer is there.
    client.goto(&app.url(&thread_path)).await;
    let text = client.page_text().await;
    let answer =
        format!("Intervention planifiée le {} entre 8 h 00 et 10 h 00 — technicien : Yann Le Goff", fr_long_day(&day));
    assert!(text.contains(&answer), "{text}");
    // The chantier shows the intervention.
    client.goto(&app.url(&format!("/espace/chantiers/{site}"))).await;
    let section = client.wait_css("#site-interventions").await.text().await.unwrap();
    assert!(section.contains("Yann Le Goff") && section.contains("Planifiée") && section.contains("8 h 00 – 10 h 00"));
    // Mes chantiers, filtered on that intervention date, lists it.
    client.goto(&app.url("/espace/chantiers")).await;
    set_date(&client, "#s-du", &day).await;
    set_date(&client, "#s-au", &day).await;
    click(&client, "form.site-filters button[type=submit]").await;
    let link = format!("a[href='/espace/chantiers/{site}']");
    client.wait_css(&link).await;
    let query = client.client.current_url().await.unwrap().query().unwrap_or_default().to_string();
    assert!(query.contains(&format!("du={day}")) && query.contains(&format!("au={day}")), "{query}");
    let png = client.client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("intervention-found-by-date.png"), &png).expect("write screenshot");

    for chromium in [&client, &office] {
        let problems: Vec<_> = chromium
            .console()
            .await
            .into_iter()
            .filter(|(level, msg)| {
                msg.contains("Content Security Policy") || (level == "SEVERE" && msg.contains(".js"))
            })
            .collect();
        assert!(problems.is_empty(), "console problems: {problems:?}");
    }
    client.close().await;
    office.close().await;
    app.stop().await;
}
