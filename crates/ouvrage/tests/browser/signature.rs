//! A client signs a justificatif on screen: the office puts a PDF up for signature, the client's
//! administrator opens "Justificatifs à signer", draws the signature on the pad with real pointer
//! actions, ticks the confirmation and signs; the signed PDF downloaded from the list is valid
//! for `pdfsig`, and no longer once one byte is changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::Locator;
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};

use crate::driver::{Chromium, artifacts_dir};
use crate::support::{TestApp, eventually, location};

/// The office puts a two-page PDF up for signature on a site of C001, through the form.
async fn put_up_for_signature(app: &TestApp, title: &str) -> i64 {
    let site: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT s.id FROM sites s JOIN clients c ON c.id = s.client_id WHERE c.code = 'C001' AND s.archived = FALSE
         ORDER BY s.id LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let staff = app.login("bureau@demo.test").await;
    let token = staff.csrf(&format!("/bo/chantiers/{site}/signatures")).await;
    let form = Form::new()
        .part("file", Part::bytes(ouvrage_pdfsign::sample_pdf(2, title)).file_name("attestation.pdf"))
        .text("title", title.to_string());
    let resp = staff
        .http
        .post(staff.url(&format!("/bo/chantiers/{site}/signatures?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the office puts the PDF up for signature");
    assert!(location(&resp).ends_with("/documents?msg=signature"));
    on_db!(&app.db, |p| sqlx::query_scalar("SELECT MAX(id) FROM signature_requests").fetch_one(p).await).unwrap()
}

/// A signature drawn the way a hand does it: press near the pad's left edge, a wavy stroke
/// across it, release.
async fn draw_signature(chromium: &Chromium) {
    let pad = chromium.wait_css("canvas#signature-pad").await;
    let width = chromium
        .client
        .execute("return document.getElementById('signature-pad').getBoundingClientRect().width;", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(0.0) as i64;
    assert!(width > 200, "the pad is wide enough to sign ({width} px)");
    let steps = 36;
    let step_x = (width - 40) / steps;
    let mut mouse = MouseActions::new("signer".into())
        .then(PointerAction::MoveToElement { element: pad, duration: None, x: -(width / 2) + 20, y: 10 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT });
    for step in 0..steps {
        let dy = if step % 6 < 3 { -9 } else { 9 };
        mouse = mouse.then(PointerAction::MoveBy { duration: Some(Duration::from_millis(15)), x: step_x, y: dy });
    }
    mouse = mouse.then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    chromium.client.perform_actions(mouse).await.expect("draw on the signature pad");
    chromium.client.release_actions().await.expect("release the pointer");
}

/// Waits for the signed PDF in `dir` (Chromium writes `*.crdownload` until done).
async fn downloaded_signed_pdf(dir: &Path) -> PathBuf {
    let find = || {
        std::fs::read_dir(dir).ok().and_then(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.ends_with(".pdf") && name.contains("sign")
            })
        })
    };
    let found = eventually(Duration::from_secs(20), || async { find().is_some() }).await;
    assert!(found, "no signed PDF was downloaded into {}", dir.display());
    find().unwrap()
}

fn pdfsig(path: &Path) -> String {
    let out = Command::new("/usr/bin/pdfsig").arg(path).output().expect("pdfsig runs (poppler-utils)");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test]
async fn client_draws_the_signature_on_screen_and_gets_a_pdf_that_pdfsig_validates() {
    let app = TestApp::spawn().await;
    let request = put_up_for_signature(&app, "Attestation de fin de travaux").await;
    let downloads = tempfile::tempdir().expect("downloads dir");
    let chromium = Chromium::start_downloading_to(downloads.path()).await;
    chromium.login(&app.base, "client.admin@demo.test", "demo-ouvrage").await;
    chromium.wait_path("/espace").await;

    // Mes justificatifs: the pending line offers both ways to sign.
    chromium
        .wait_css("nav#nav")
        .await
        .find(Locator::LinkText("Justificatifs à signer"))
        .await
        .expect("the menu entry « Justificatifs à signer »")
        .click()
        .await
        .unwrap();
    chromium.wait_path("/espace/signatures").await;
    let line = chromium.wait_css(&format!("li#signature-{request}")).await.text().await.unwrap();
    assert!(line.contains("Attestation de fin de travaux") && line.contains("Signature papier"), "{line}");
    chromium.wait_css(&format!("li#signature-{request} a.sign-electronic")).await.click().await.unwrap();
    chromium.wait_path(&format!("/espace/signatures/{request}")).await;
    chromium.wait_css("iframe.sign-preview").await;

    // Signing with an empty pad is stopped on the page.
    chromium.wait_css("input#signature-confirm").await.click().await.unwrap();
    chromium.wait_css("button#signature-submit").await.click().await.unwrap();
    let missing = chromium.wait_css("#signature-missing").await;
    assert!(missing.is_displayed().await.unwrap(), "an empty pad is refused before sending");
    chromium.wait_path(&format!("/espace/signatures/{request}")).await;

    // Draw, then sign.
    draw_signature(&chromium).await;
    let drawn: bool = chromium
        .client
        .execute("return document.getElementById('signature-data').value.startsWith('data:image/png;base64,');", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap_or(false);
    assert!(drawn, "the drawing is in the form");
    let png = chromium.client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("signature-drawn.png"), &png).expect("write screenshot");
    chromium.wait_css("button#signature-submit").await.click().await.unwrap();
    chromium.wait_path("/espace/signatures").await;
    let notice = chromium.wait_css("#signatures-notice").await.text().await.unwrap();
    assert!(notice.contains("Document signé"), "{notice}");
    let status: String = on_db!(&app.db, |p| sqlx::query_scalar("SELECT status FROM signature_requests WHERE id = $1")
        .bind(request)
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(status, "signed");
    let png = chromium.client.screenshot().await.expect("screenshot");
    std::fs::write(artifacts_dir().join("signature-signed-list.png"), &png).expect("write screenshot");

    // Download the signed PDF from the list: valid, and invalid once tampered with.
    chromium.wait_css(&format!("li#signature-{request} a.signed-download")).await.click().await.unwrap();
    let file = downloaded_signed_pdf(downloads.path()).await;
    let report = pdfsig(&file);
    assert!(report.contains("Signature is Valid."), "pdfsig on the signed PDF: {report}");
    std::fs::copy(&file, artifacts_dir().join("signature-signed.pdf")).expect("keep the signed PDF");
    let mut bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let range_start = text.find("/ByteRange").expect("a PAdES signature");
    let first_part_end: usize = text[range_start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let at = bytes.windows(6).position(|w| w == b"stream").filter(|p| p + 40 < first_part_end).map(|p| p + 30);
    bytes[at.unwrap_or(first_part_end / 2)] ^= 0x01;
    let tampered = downloads.path().join("tampered.pdf");
    std::fs::write(&tampered, &bytes).unwrap();
    let report = pdfsig(&tampered);
    assert!(!report.contains("Signature is Valid."), "pdfsig on the tampered PDF: {report}");

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
