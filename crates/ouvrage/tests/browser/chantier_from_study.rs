//! A builder drops the thermal study of a house on "Créer un chantier", completes the prefilled
//! form, finds the new chantier in Mes chantiers by its postcode, ticks it and exports it to
//! Excel; the downloaded workbook holds exactly that chantier.

use std::path::{Path, PathBuf};
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use fantoccini::Locator;
use serde_json::json;

use crate::driver::{Chromium, artifacts_dir};
use crate::support::{TestApp, eventually};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/thermal/synthetic").join(name)
}

/// The RT2012 sample turned into another house: its own name, owner and address, so that it
/// is nobody's duplicate.
fn study_of_a_new_house() -> String {
    let xml = std::fs::read_to_string(sample("SYNTHETIC_RT2012_RSET-8100_maison_individuelle.xml")).expect("sample");
    let out = xml
        .replace("Maison individuelle EXEMPLE (fictif)", "Maison Navigateur")
        .replace("M. et Mme EXEMPLE (FICTIF)", "M. et Mme NAVIGATEUR")
        .replace("Lot 12 - Lotissement des Essais", "7 impasse des Navigateurs");
    assert!(out.contains("Maison Navigateur") && out.contains("7 impasse des Navigateurs"), "the sample changed");
    out
}

/// Drops `xml` as `etude.xml` on the drop zone, the way a file dragged from the desktop arrives:
/// a `drop` event whose DataTransfer holds the file.
async fn drop_file(chromium: &Chromium, xml: &str) {
    chromium
        .client
        .execute(
            "const zone = document.getElementById('study-dropzone');
             const dt = new DataTransfer();
             dt.items.add(new File([arguments[0]], 'etude.xml', { type: 'text/xml' }));
             for (const type of ['dragenter', 'dragover', 'drop']) {
               zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
             }",
            vec![json!(xml)],
        )
        .await
        .expect("drop the file on the zone");
}

/// Waits for a finished download in `dir` (Chromium writes `*.crdownload` until done).
async fn downloaded_xlsx(dir: &Path) -> PathBuf {
    let found = eventually(Duration::from_secs(20), || async {
        std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "xlsx")))
            .unwrap_or(false)
    })
    .await;
    assert!(found, "no .xlsx was downloaded into {}", dir.display());
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "xlsx"))
        .unwrap()
}

#[tokio::test]
async fn builder_drops_a_study_creates_the_chantier_then_exports_it_from_mes_chantiers() {
    let app = TestApp::spawn().await;
    let downloads = tempfile::tempdir().expect("downloads dir");
    let chromium = Chromium::start_downloading_to(downloads.path()).await;
    chromium.login(&app.base, "client@demo.test", "demo-ouvrage").await;
    chromium.wait_path("/espace").await;

    // Drop the study on "Créer un chantier": the form opens prefilled from the file.
    chromium.goto(&app.url("/espace/chantiers/nouveau")).await;
    chromium.wait_css("#study-dropzone").await;
    assert!(chromium.wait_css("input#study-file").await.is_displayed().await.unwrap(), "a plain file input too");
    drop_file(&chromium, &study_of_a_new_house()).await;
    let legend = chromium.wait_css("#marks-legend").await.text().await.unwrap();
    assert!(legend.to_lowercase().contains("rouge") && legend.to_lowercase().contains("orange"), "legend: {legend}");
    let value = |css: &'static str| {
        let chromium = &chromium;
        async move { chromium.wait_css(css).await.prop("value").await.unwrap().unwrap_or_default() }
    };
    assert_eq!(value("input[name=name]").await, "Maison Navigateur");
    assert_eq!(value("input[name=postcode]").await, "44470");
    assert_eq!(value("input[name=city]").await, "Carquefou");
    assert_eq!(value("select[name=operation_type]").await, "individual", "a single house is Individuel");
    // Nothing required is missing; the site manager (not in a study) is wanted, in orange.
    assert!(chromium.client.find_all(Locator::Css(".missing-required")).await.unwrap().is_empty());
    let wanted = chromium.client.find_all(Locator::Css(".missing-desired")).await.unwrap();
    let mut wanted_text = String::new();
    for w in &wanted {
        wanted_text.push_str(&w.text().await.unwrap());
    }
    assert!(wanted_text.contains("Conducteur de travaux"), "the site manager is marked as wanted: {wanted_text}");
    let png = chromium.client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("chantier-prefilled-from-study.png"), &png).expect("write screenshot");

    // Create it.
    chromium
        .client
        .find(Locator::Css("form.site-form button[type=submit].primary"))
        .await
        .expect("the form's « Enregistrer »")
        .click()
        .await
        .expect("submit the site form");
    let created = eventually(Duration::from_secs(15), || async {
        let path = chromium.client.current_url().await.map(|u| u.path().to_string()).unwrap_or_default();
        path.strip_prefix("/espace/chantiers/").is_some_and(|id| id.parse::<i64>().is_ok())
    })
    .await;
    assert!(created, "the browser lands on the new chantier's page: {}", chromium.client.current_url().await.unwrap());
    let url = chromium.client.current_url().await.unwrap();
    let site_id: i64 = url.path().rsplit('/').next().unwrap().parse().unwrap();
    let study = chromium.wait_css("#thermal-study").await.text().await.unwrap();
    assert!(study.contains("52,3"), "the Bbio of the study is shown on the site page: {study}");

    // Find it in Mes chantiers with the postcode filter, tick it, export the selection.
    chromium.goto(&app.url("/espace/chantiers")).await;
    chromium.wait_css("input#s-cp").await.send_keys("44470").await.unwrap();
    chromium
        .client
        .find(Locator::Css("form.site-filters button[type=submit]"))
        .await
        .expect("the search button")
        .click()
        .await
        .unwrap();
    let tick = format!("input[type=checkbox][name=ids][value='{site_id}']");
    chromium.wait_css(&tick).await.click().await.expect("tick the new chantier");
    assert!(chromium.client.current_url().await.unwrap().query().unwrap_or_default().contains("cp=44470"));
    chromium.wait_css("#export-selection").await.click().await.expect("export the selection");

    let file = downloaded_xlsx(downloads.path()).await;
    let mut book: Xlsx<_> = calamine::open_workbook(&file).expect("the download opens as a workbook");
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).expect("first sheet");
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 2, "the header and the one ticked chantier: {rows:?}");
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name}: {header:?}"));
    assert_eq!(rows[1][col("Nom")].to_string(), "Maison Navigateur");
    assert_eq!(rows[1][col("Code postal")].to_string(), "44470");
    assert_eq!(rows[1][col("Commune")].to_string(), "Carquefou");

    let problems: Vec<_> = chromium
        .console()
        .await
        .into_iter()
        .filter(|(level, msg)| msg.contains("Content Security Policy") || (level == "SEVERE" && msg.contains(".js")))
        .collect();
    assert!(problems.is_empty(), "console problems: {problems:?}");
    chromium.close().await;
    app.stop().await;
}
