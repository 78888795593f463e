//! A client user logs in through the real form and lands on the extranet dashboard.

use fantoccini::Locator;

use crate::driver::{Chromium, artifacts_dir};
use crate::support::TestApp;

/// Types the credentials into the login form's fields and clicks "Se connecter".
async fn fill_login_form(chromium: &Chromium, app: &TestApp, email: &str, password: &str) {
    chromium.login(&app.base, email, password).await;
}

#[tokio::test]
async fn client_logs_in_through_the_form_and_sees_the_extranet_dashboard() {
    let app = TestApp::spawn().await;
    let chromium = Chromium::start().await;

    fill_login_form(&chromium, &app, "client@demo.test", "demo-ouvrage").await;
    chromium.wait_path("/espace").await;
    let heading = chromium.wait_css("main h1").await.text().await.unwrap();
    assert_eq!(heading, "Tableau de bord");
    let text = chromium.page_text().await;
    assert!(text.contains("Maisons Horizon Atlantique"), "the client's company is named: {text}");
    assert!(text.contains("PHASE TRAVAUX"), "the works-phase tile is shown: {text}");

    // The extranet menu leads to the client's sites and company.
    let nav = chromium.wait_css("nav#nav").await;
    for (label, href) in [("Mes chantiers", "/espace/chantiers"), ("Mon entreprise", "/espace/entreprise")] {
        let link = nav.find(Locator::LinkText(label)).await.unwrap_or_else(|_| panic!("menu entry « {label} »"));
        assert!(link.is_displayed().await.unwrap(), "« {label} » is visible at 1280 px");
        assert_eq!(link.attr("href").await.unwrap().as_deref(), Some(href));
    }

    // The stylesheet applies under the strict CSP (tiles have their coloured top border), and the
    // browser reported no CSP violation nor script error on the login page or the dashboard.
    let tile = chromium.wait_css(".tile").await;
    assert_eq!(tile.css_value("border-top-width").await.unwrap(), "4px", "app.css is applied");
    let problems: Vec<_> = chromium
        .console()
        .await
        .into_iter()
        .filter(|(level, msg)| msg.contains("Content Security Policy") || (level == "SEVERE" && msg.contains(".js")))
        .collect();
    assert!(problems.is_empty(), "console problems: {problems:?}");

    let png = chromium.client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());
    let path = artifacts_dir().join("extranet-dashboard.png");
    std::fs::write(&path, &png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));

    chromium.close().await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_shows_the_french_error_and_keeps_the_email() {
    let app = TestApp::spawn().await;
    let chromium = Chromium::start().await;

    fill_login_form(&chromium, &app, "client@demo.test", "pas-le-bon-mot-de-passe").await;
    let alert = chromium.wait_css("p.error[role=alert]").await.text().await.unwrap();
    assert_eq!(alert, "Adresse e-mail ou mot de passe incorrect.");
    chromium.wait_path("/login").await;
    // The user does not have to type the address again; the password field is empty.
    let email = chromium.wait_css("input#email").await.prop("value").await.unwrap();
    assert_eq!(email.as_deref(), Some("client@demo.test"));
    let password = chromium.wait_css("input#password").await.prop("value").await.unwrap();
    assert_eq!(password.as_deref(), Some(""));

    chromium.close().await;
    app.stop().await;
}
