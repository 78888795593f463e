//! Chantiers created from their thermal study, in the pages of both faces: the dropped file
//! opens the form prefilled and marked, the study is filed on the new site with its indicators,
//! refused files leave nothing behind, the same chantier or the same file is caught, an updated
//! study lists what changed, and who may do what.

use ouvrage::db::Db;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};

use crate::clients::{demo_client, unescape};
use crate::support::*;

const RT2012: &str = "SYNTHETIC_RT2012_RSET-8100_maison_individuelle.xml";
const RE2020_HOUSE: &str = "SYNTHETIC_RE2020_RSEE-2022_maison_individuelle.xml";

fn sample_path(dir: &str, name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/thermal").join(dir).join(name)
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(sample_path("synthetic", name)).expect("thermal sample")
}

/// The RT2012 sample made unique to a test by a comment (its values unchanged).
fn rt2012_tagged(tag: &str) -> String {
    let xml = sample(RT2012);
    let out = xml.replacen("<RSET ", &format!("<!-- {tag} -->\n<RSET "), 1);
    assert_ne!(out, xml, "the sample changed");
    out
}

/// The RT2012 sample turned into another house: its own name, owner, address and permit, so
/// that it is nobody's duplicate unless a test wants it to be.
fn house(name: &str, owner: &str, address: &str, permit: &str) -> String {
    let xml = sample(RT2012);
    let out = xml
        .replace("Maison individuelle EXEMPLE (fictif)", name)
        .replace("M. et Mme EXEMPLE (FICTIF)", owner)
        .replace("Lot 12 - Lotissement des Essais", address)
        .replace("<num_permis>EN COURS</num_permis>", &format!("<num_permis>{permit}</num_permis>"));
    assert!(out.contains(name) && out.contains(address) && out.contains(permit), "the sample changed");
    out
}

async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone())).fetch_one(p).await).unwrap()
}

/// Rows of the tables a study import writes.
async fn rows(db: &Db) -> [i64; 4] {
    [
        count(db, "sites").await,
        count(db, "files").await,
        count(db, "documents").await,
        count(db, "thermal_studies").await,
    ]
}

async fn site_name(db: &Db, id: i64) -> String {
    on_db!(db, |p| sqlx::query_scalar::<_, String>("SELECT name FROM sites WHERE id = $1").bind(id).fetch_one(p).await)
        .unwrap()
}

async fn site_client(db: &Db, id: i64) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>("SELECT client_id FROM sites WHERE id = $1")
        .bind(id)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// The id of the file of the site's latest study, and its document type.
async fn study_file(db: &Db, site: i64) -> Option<(i64, String, String)> {
    on_db!(db, |p| sqlx::query_as::<_, (i64, String, String)>(
        "SELECT d.file_id, d.document_type, ts.source FROM thermal_studies ts JOIN documents d ON d.id = ts.document_id
         WHERE ts.site_id = $1 ORDER BY ts.id DESC LIMIT 1"
    )
    .bind(site)
    .fetch_optional(p)
    .await)
    .unwrap()
}

async fn audit_summaries(db: &Db, site: i64) -> Vec<String> {
    on_db!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT summary FROM audit_log WHERE entity = 'site' AND entity_id = $1 ORDER BY id"
    )
    .bind(site)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// A current chantier of `client` at an address no other client has: id, number, street,
/// postcode, city.
async fn a_site_of(db: &Db, client: i64) -> (i64, String, String, String, String) {
    on_db!(db, |p| sqlx::query_as::<_, (i64, String, String, String, String)>(
        "SELECT id, street_number, street, postcode, city FROM sites
         WHERE client_id = $1 AND kind = 'construction' AND NOT archived AND street <> ''
           AND address_key NOT IN (SELECT address_key FROM sites WHERE client_id <> $1)
         ORDER BY id LIMIT 1"
    )
    .bind(client)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// Sends `bytes` as `file_name` through the drop form of `base`'s creation page (the token in
/// the action, as the page writes it).
async fn drop_study(b: &Browser, base: &str, client: Option<i64>, file_name: &str, bytes: Vec<u8>) -> (u16, String) {
    let page = match client {
        Some(c) => format!("{base}/nouveau?client={c}"),
        None => format!("{base}/nouveau"),
    };
    let (status, body) = b.get_text(&page).await;
    assert_eq!(status, 200, "{page}");
    let action = attr_of(&body, "id=\"study-drop\"", "action").expect("the drop form");
    let form = Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_string()));
    let resp = b.http.post(b.url(&action)).multipart(form).send().await.expect("POST");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Sends a file to a site's `/etude` route.
async fn send_update(b: &Browser, base: &str, site: i64, bytes: Vec<u8>) -> reqwest::Response {
    let token = b.csrf(base).await;
    let form = Form::new().part("file", Part::bytes(bytes).file_name("etude-v2.xml"));
    b.http.post(b.url(&format!("{base}/{site}/etude?_csrf={token}"))).multipart(form).send().await.expect("POST")
}

/// The value of attribute `attr` of the tag holding `marker`.
fn attr_of(body: &str, marker: &str, attr: &str) -> Option<String> {
    let at = body.find(marker)?;
    let start = body[..at].rfind('<')?;
    let end = at + body[at..].find('>')?;
    let tag = &body[start..end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    Some(unescape(&tag[v..v + tag[v..].find('"')?]))
}

/// The classes of the wrapper of the field `name` in the site form.
fn field_class(body: &str, name: &str) -> String {
    let label = body.find(&format!("<label for=\"f-{name}\"")).unwrap_or_else(|| panic!("field {name}"));
    let div = body[..label].rfind("<div class=\"").unwrap() + "<div class=\"".len();
    body[div..div + body[div..].find('"').unwrap()].to_string()
}

/// The fields of the site form as the browser would send them (inputs, selected options,
/// textareas), `_csrf` included.
fn form_fields(body: &str) -> Vec<(String, String)> {
    let start = body.find("id=\"site-form\"").expect("the site form");
    let form = &body[start..start + body[start..].find("</form>").unwrap()];
    let attr = |tag: &str, key: &str| -> Option<String> {
        let k = format!(" {key}=\"");
        let v = tag.find(&k)? + k.len();
        Some(unescape(&tag[v..v + tag[v..].find('"')?]))
    };
    let mut out = Vec::new();
    for piece in form.split('<').skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let Some(rest) = tag.strip_prefix("input ") {
            if let Some(name) = attr(rest, "name") {
                out.push((name, attr(rest, "value").unwrap_or_default()));
            }
        } else if let Some(rest) = tag.strip_prefix("select ") {
            // The first option unless one is selected.
            out.push((attr(rest, "name").unwrap(), String::new()));
        } else if let Some(rest) = tag.strip_prefix("option ") {
            if rest.contains(" selected") || rest.ends_with("selected") {
                let value = attr(&format!(" {rest}"), "value").unwrap_or_default();
                if let Some(last) = out.last_mut() {
                    last.1 = value;
                }
            }
        } else if let Some(rest) = tag.strip_prefix("textarea ") {
            let name = attr(rest, "name").unwrap();
            let text = &piece[piece.find('>').unwrap() + 1..];
            out.push((name, unescape(text)));
        }
    }
    out
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(f) => f.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

async fn post_form(b: &Browser, action: &str, fields: &[(String, String)]) -> reqwest::Response {
    b.http.post(b.url(action)).form(fields).send().await.expect("POST")
}

/// The id in a `…/chantiers/{id}?…` redirect.
fn created_id(resp: &reqwest::Response, base: &str) -> i64 {
    let loc = location(resp);
    let rest = loc.strip_prefix(&format!("{base}/")).unwrap_or_else(|| panic!("unexpected redirect {loc}"));
    rest.split('?').next().unwrap().parse().unwrap()
}

/// Drops `xml` on `base`'s creation page and sends the prefilled form as it is.
async fn create_from(b: &Browser, base: &str, client: Option<i64>, xml: &str) -> i64 {
    let (status, body) = drop_study(b, base, client, "etude.xml", xml.as_bytes().to_vec()).await;
    assert_eq!(status, 200, "{body}");
    let resp = post_form(b, &format!("{base}/nouveau"), &form_fields(&body)).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    created_id(&resp, base)
}

#[tokio::test]
async fn a_dropped_study_opens_the_form_prefilled_and_creates_the_chantier_with_its_study() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;

    let (status, page) = client.get_text("/espace/chantiers/nouveau").await;
    assert_eq!(status, 200);
    for marker in [
        "id=\"study-drop\"",
        "enctype=\"multipart/form-data\"",
        "id=\"study-dropzone\"",
        "Déposez ici l'étude thermique (RSET ou RSEE, fichier XML)",
        "id=\"study-file\"",
        "accept=\".xml,application/xml,text/xml\"",
    ] {
        assert!(unescape(&page).contains(marker), "{marker}");
    }
    let action = attr_of(&page, "id=\"study-drop\"", "action").unwrap();
    assert!(action.starts_with("/espace/chantiers/nouveau/etude?_csrf="), "{action}");

    // Dropping the study writes nothing yet.
    let before = rows(&app.db).await;
    let xml = rt2012_tagged("prefill");
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "etude.xml", xml.clone().into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(rows(&app.db).await, before, "nothing is written before the form is sent");
    let fields = form_fields(&body);
    assert_eq!(get(&fields, "name"), "Maison individuelle EXEMPLE (fictif)");
    assert_eq!(get(&fields, "postcode"), "44470");
    assert_eq!(get(&fields, "city"), "Carquefou");
    assert_eq!(get(&fields, "street"), "Lot 12 - Lotissement des Essais");
    assert_eq!(get(&fields, "owner_name"), "M. et Mme EXEMPLE (FICTIF)");
    assert_eq!(get(&fields, "operation_type"), "individual", "a single house is Individuel");
    assert_eq!(get(&fields, "dwellings"), "1");
    assert!(!get(&fields, "study_token").is_empty() && get(&fields, "study_name") == "etude.xml");
    // Marks: nothing required is missing; the site manager and the permit are wanted.
    assert!(!body.contains("missing-required"), "no required field is missing");
    assert!(field_class(&body, "site_manager_id").contains("missing-desired"));
    assert!(field_class(&body, "permit_number").contains("missing-desired"));
    assert!(field_class(&body, "expected_date").contains("missing-desired"));
    assert!(!field_class(&body, "name").contains("missing"));
    let text = unescape(&body);
    let legend = &text[text.find("id=\"marks-legend\"").expect("the legend")..];
    let legend = &legend[..legend.find("</div>").unwrap()];
    assert!(legend.contains("rouge") && legend.contains("orange"), "{legend}");
    assert!(legend.contains("Conducteur de travaux") && legend.contains("Numéro de permis de construire"), "{legend}");
    // What the study says, beside the form, French decimals.
    let summary = &text[text.find("id=\"study-summary\"").expect("the study's summary")..];
    for shown in [
        "RSET RT2012",
        "Logiciel fictif 8.1.0.0",
        "BUREAU D ETUDES THERMIQUES FICTIF",
        "Maison individuelle",
        "101,2",
        "52,3",
        "48,7",
    ] {
        assert!(summary.contains(shown), "{shown} in the summary");
    }

    // Create it as it is.
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let id = created_id(&resp, "/espace/chantiers");
    assert_eq!(site_name(&app.db, id).await, "Maison individuelle EXEMPLE (fictif)");
    assert_eq!(site_client(&app.db, id).await, c001);
    let (file_id, doc_type, source) = study_file(&app.db, id).await.expect("the study is filed on the site");
    assert_eq!((doc_type.as_str(), source.as_str()), ("thermal_study", "form"));
    let after = rows(&app.db).await;
    assert_eq!(after, [before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1]);

    // The site page shows the indicators, the file and the history.
    let (status, page) = client.get_text(&format!("/espace/chantiers/{id}")).await;
    assert_eq!(status, 200);
    let page = unescape(&page);
    let section = &page[page.find("id=\"thermal-study\"").expect("the study section")..];
    for shown in ["52,3", "48,7", "101,2", "RSET RT2012", "Logiciel fictif 8.1.0.0", "Version 1", "Dépôt sur le site"]
    {
        assert!(section.contains(shown), "{shown} on the site page");
    }
    assert!(section.contains(&format!("href=\"/fichiers/{file_id}\"")), "the XML's download link");
    let resp = client.get(&format!("/fichiers/{file_id}")).await;
    assert_eq!(resp.status(), 200, "the client's users download the study");
    assert_eq!(resp.bytes().await.unwrap(), xml.as_bytes());
    // Staff see it too; the other client does not.
    let office = app.login("bureau@demo.test").await;
    let (_, bo_page) = office.get_text(&format!("/bo/chantiers/{id}")).await;
    assert!(bo_page.contains("id=\"thermal-study\"") && bo_page.contains("52,3"));
    let other = app.login("autre.client@demo.test").await;
    assert_eq!(other.get(&format!("/fichiers/{file_id}")).await.status(), 404);

    // The same file again never makes a second site: a link to the first instead of the form.
    let before = rows(&app.db).await;
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "encore.xml", xml.into_bytes()).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("id=\"study-already\"") && body.contains(&format!("href=\"/espace/chantiers/{id}\"")));
    assert!(body.contains("déjà été importé"));
    assert!(!body.contains("id=\"site-form\""), "no form for a file already imported");
    assert_eq!(rows(&app.db).await, before);
}

#[tokio::test]
async fn a_study_without_name_or_city_marks_them_required_and_keeps_the_study_on_a_refused_form() {
    let app = TestApp::spawn().await;
    let client = app.login("client.admin@demo.test").await;
    let xml = rt2012_tagged("blanks")
        .replace("<name>Maison individuelle EXEMPLE (fictif)</name>", "<name></name>")
        .replace("<Name>Maison EXEMPLE</Name>", "<Name></Name>")
        .replace("<ville>CARQUEFOU</ville>", "<ville></ville>");
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "sans-nom.xml", xml.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(field_class(&body, "name").contains("missing-required"), "{}", field_class(&body, "name"));
    assert!(field_class(&body, "city").contains("missing-required"));
    assert!(!field_class(&body, "postcode").contains("missing"));
    let legend = unescape(&body);
    let legend = &legend[legend.find("id=\"marks-legend\"").unwrap()..];
    assert!(legend[..legend.find("</div>").unwrap()].contains("Nom du chantier, Commune"));

    // Sent as it is: refused, the study still attached and the marks still shown.
    let mut fields = form_fields(&body);
    let token = get(&fields, "study_token").to_string();
    let before = rows(&app.db).await;
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 422);
    let again = resp.text().await.unwrap();
    assert!(again.contains(&format!("name=\"study_token\" value=\"{token}\"")), "the study stays attached");
    assert!(field_class(&again, "name").contains("missing-required"));
    assert!(again.contains("id=\"study-summary\""));
    assert_eq!(rows(&app.db).await, before);

    // Completed, it is created with its study.
    set(&mut fields, "name", "Maison Complétée");
    set(&mut fields, "city", "Carquefou");
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let id = created_id(&resp, "/espace/chantiers");
    assert_eq!(site_name(&app.db, id).await, "Maison Complétée");
    assert!(study_file(&app.db, id).await.is_some());
}

#[tokio::test]
async fn a_tampered_study_token_attaches_nothing() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let xml = house("Maison Falsifiée", "M. Jeton", "9 rue du Jeton", "PC 044 470 25 T0001");
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "etude.xml", xml.into_bytes()).await;
    assert_eq!(status, 200);
    let mut fields = form_fields(&body);
    let token = get(&fields, "study_token").to_string();
    let (sha, mac) = token.split_once('.').unwrap();
    let flipped = if mac.starts_with('0') { "1" } else { "0" };
    set(&mut fields, "study_token", &format!("{sha}.{flipped}{}", &mac[1..]));
    let before = rows(&app.db).await;
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 422);
    let page = unescape(&resp.text().await.unwrap());
    assert!(page.contains("id=\"study-error\"") && page.contains("n'est plus disponible : déposez-le de nouveau"));
    assert!(!page.contains("name=\"study_token\""), "the forged token is not carried on");
    assert_eq!(rows(&app.db).await, before, "nothing created, nothing attached");

    // Another file's name under a real token is no better.
    set(&mut fields, "study_token", &token);
    set(&mut fields, "study_name", "autre.xml");
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(rows(&app.db).await, before);
}

#[tokio::test]
async fn files_that_are_not_studies_are_refused_in_french_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    let c003 = demo_client(&app.db, "C003").await;
    let dpe = std::fs::read(sample_path("dpe", "dpe_v2.1_maison_individuelle_60_Breteuil_2260E1364581G.xml")).unwrap();
    let pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec();
    let before = rows(&app.db).await;
    let objects = stored_objects(&app);

    let (status, body) = drop_study(&client, "/espace/chantiers", None, "dpe.xml", dpe.clone()).await;
    assert_eq!(status, 422);
    let body = unescape(&body);
    assert!(body.contains("id=\"study-error\"") && body.contains("DPE (diagnostic de performance énergétique)"));
    assert!(body.contains("id=\"study-drop\""), "the drop zone is offered again");
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "etude.pdf", pdf.clone()).await;
    assert_eq!(status, 422);
    assert!(unescape(&body).contains("n'est pas du XML"), "{body}");
    let (status, body) = drop_study(&office, "/bo/chantiers", Some(c003), "dpe.xml", dpe).await;
    assert_eq!(status, 422);
    assert!(unescape(&body).contains("pas une étude thermique"));
    let (status, _) = drop_study(&office, "/bo/chantiers", Some(c003), "vide.xml", Vec::new()).await;
    assert_eq!(status, 422, "an empty file");

    assert_eq!(rows(&app.db).await, before, "no site, file, document or study");
    assert_eq!(stored_objects(&app), objects, "no bytes kept for refused files");
}

#[tokio::test]
async fn a_study_larger_than_the_limit_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let before = rows(&app.db).await;
    let max = app.config.max_upload_bytes as usize;
    // Just over the per-file limit (the file's own check), and far beyond the request's limit
    // (the upload cut short).
    for size in [max + 16 * 1024, max + 4 * 1024 * 1024] {
        let mut xml = rt2012_tagged("large").into_bytes();
        let pad = format!("<!-- {} -->\n", "x".repeat(size));
        xml.splice(39..39, pad.into_bytes());
        let (status, body) = drop_study(&client, "/espace/chantiers", None, "grosse.xml", xml).await;
        assert_eq!(status, 413, "{size}: {body}");
        assert!(unescape(&body).contains("taille maximale"), "{body}");
    }
    assert_eq!(rows(&app.db).await, before);
}

#[tokio::test]
async fn a_second_study_with_the_same_permit_shows_the_duplicate_until_created_anyway() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let permit = "PC 044 470 25 D0101";
    let first = create_from(
        &client,
        "/espace/chantiers",
        None,
        &house("Maison Aubépine", "M. et Mme AUBEPINE", "4 allée des Aubépines", permit),
    )
    .await;

    let second = house("Maison Bruyère", "M. et Mme BRUYERE", "8 allée des Bruyères", permit);
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "etude.xml", second.into_bytes()).await;
    assert_eq!(status, 200);
    let body = unescape(&body);
    let block = &body[body.find("id=\"duplicates\"").expect("the duplicates block")..];
    let block = &block[..block.find("</section>").unwrap()];
    assert!(block.contains(&format!("href=\"/espace/chantiers/{first}\"")) && block.contains("Maison Aubépine"));
    assert!(block.contains("même numéro de permis"), "{block}");
    assert!(body.contains("id=\"create-anyway\""));

    // Sent without confirming: refused again, nothing created.
    let mut fields = form_fields(&body);
    let before = rows(&app.db).await;
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 409);
    let again = resp.text().await.unwrap();
    assert!(again.contains("id=\"duplicates\"") && again.contains("name=\"study_token\""));
    assert_eq!(rows(&app.db).await, before);

    // "Créer quand même".
    set(&mut fields, "create_anyway", "1");
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let id = created_id(&resp, "/espace/chantiers");
    assert_eq!(site_name(&app.db, id).await, "Maison Bruyère");
    assert!(study_file(&app.db, id).await.is_some());
    let audit = audit_summaries(&app.db, id).await;
    assert!(audit.iter().any(|s| s.contains("créé malgré 1 doublon(s) possible(s)")), "{audit:?}");
}

#[tokio::test]
async fn a_manual_form_at_the_address_of_an_existing_site_shows_it_as_a_duplicate() {
    let app = TestApp::spawn().await;
    let c001 = demo_client(&app.db, "C001").await;
    let c002 = demo_client(&app.db, "C002").await;
    let (existing, number, street, postcode, city) = a_site_of(&app.db, c001).await;
    let manual = |name: &str| -> Vec<(String, String)> {
        [
            ("kind", "construction"),
            ("name", name),
            ("street_number", number.as_str()),
            ("street", street.as_str()),
            ("postcode", postcode.as_str()),
            ("city", city.as_str()),
            ("operation_type", "individual"),
            ("phase", "works"),
            ("status", "to_schedule"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };

    // The client's own user: the existing site is shown, with its link.
    let client = app.login("client@demo.test").await;
    let mut fields = manual("Maison du Doublon");
    fields.push(("_csrf".into(), client.csrf("/espace/chantiers/nouveau").await));
    let before = rows(&app.db).await;
    let resp = post_form(&client, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 409);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains("id=\"duplicates\"") && body.contains(&format!("href=\"/espace/chantiers/{existing}\"")));
    assert!(body.contains("même adresse"));
    assert!(body.contains(
        "<button type=\"submit\" name=\"create_anyway\" value=\"1\" id=\"create-anyway\">Créer quand même</button>"
    ));
    assert!(!body.contains("client C001"), "client users are not told their own client");
    assert_eq!(rows(&app.db).await, before);

    // Another client's user at the same address: never shown C001's site, created directly.
    let other = app.login("autre.client@demo.test").await;
    let mut fields = manual("Maison Voisine");
    fields.push(("_csrf".into(), other.csrf("/espace/chantiers/nouveau").await));
    let resp = post_form(&other, "/espace/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let theirs = created_id(&resp, "/espace/chantiers");
    assert_eq!(site_client(&app.db, theirs).await, c002);

    // Staff see every client's candidates, with the client named.
    let office = app.login("bureau@demo.test").await;
    let mut fields = manual("Maison du Bureau");
    fields.push(("client_id".into(), c001.to_string()));
    fields.push(("_csrf".into(), office.csrf(&format!("/bo/chantiers/nouveau?client={c001}")).await));
    let resp = post_form(&office, "/bo/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 409);
    let body = unescape(&resp.text().await.unwrap());
    assert!(body.contains(&format!("href=\"/bo/chantiers/{existing}\"")));
    assert!(body.contains(&format!("href=\"/bo/chantiers/{theirs}\"")), "staff see the other client's site too");
    assert!(body.contains("client C001 — ") && body.contains("client C002 — "));
    set(&mut fields, "create_anyway", "1");
    let resp = post_form(&office, "/bo/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303);
    let id = created_id(&resp, "/bo/chantiers");
    let audit = audit_summaries(&app.db, id).await;
    assert!(audit.iter().any(|s| s.contains("créé malgré") && s.contains("doublon(s) possible(s)")), "{audit:?}");

    // And a client user dropping a study that matches only another client's site sees nothing.
    let xml = house("Maison Voisine Bis", "M. VOISIN", &format!("{number} {street}"), "PC 044 470 25 V0001")
        .replace("<code_postal>44470</code_postal>", &format!("<code_postal>{postcode}</code_postal>"));
    let (status, body) = drop_study(&client, "/espace/chantiers", None, "voisine.xml", xml.into_bytes()).await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("href=\"/espace/chantiers/{existing}\"")), "its own site is a candidate");
    assert!(!body.contains(&format!("/chantiers/{theirs}\"")), "never another client's site");
}

#[tokio::test]
async fn an_updated_study_lists_what_changed_and_moves_the_fields_nobody_edited() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let base = "/espace/chantiers";
    let v1 = |name: &str, owner: &str, address: &str, permit: &str| house(name, owner, address, permit);
    let v2 = |xml: &str, name: &str, new_name: &str| {
        xml.replace(name, new_name)
            .replace("<O_Bbio_pts_annuel>52.3</O_Bbio_pts_annuel>", "<O_Bbio_pts_annuel>49.8</O_Bbio_pts_annuel>")
    };

    // Nobody touched the name: it follows the study.
    let first = v1("Maison Chêne", "M. et Mme CHENE", "2 rue des Chênes", "PC 044 470 25 U0001");
    let id = create_from(&client, base, None, &first).await;
    let updated = v2(&first, "Maison Chêne", "Maison Chêne et Garage");
    let resp = send_update(&client, base, id, updated.clone().into_bytes()).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let loc = location(&resp);
    assert!(loc.starts_with(&format!("{base}/{id}?etude=")), "{loc}");
    let n: usize = loc.rsplit('=').next().unwrap().parse().unwrap();
    assert!(n >= 2, "the name and the Bbio changed: {n}");
    assert_eq!(site_name(&app.db, id).await, "Maison Chêne et Garage");
    let (_, page) = client.get_text(&loc).await;
    let page = unescape(&page);
    assert!(page.contains("id=\"study-notice\"") && page.contains(&format!("{n} changements")));
    let section = &page[page.find("id=\"thermal-study\"").unwrap()..];
    assert!(section.contains("49,8"), "the latest indicators");
    assert!(section.contains("Version 2") && section.contains("Version 1"), "two versions");
    let changes = &section[section.find("study-changes").expect("the table of changes")..];
    let changes = &changes[..changes.find("</table>").unwrap()];
    assert!(changes.contains("Libellé") && changes.contains("Avant") && changes.contains("Après"));
    assert!(changes.contains("Bâtiment 1 : Bbio") && changes.contains("52,3") && changes.contains("49,8"), "{changes}");
    assert!(changes.contains("Nom de l'opération") && changes.contains("Maison Chêne et Garage"));
    assert!(section.contains("Champs du chantier mis à jour d'après cette version : nom"), "{section}");
    assert_eq!(count(&app.db, &format!("thermal_studies WHERE site_id = {id}")).await, 2);

    // The same file again: 409 with a link, nothing added.
    let before = rows(&app.db).await;
    let resp = send_update(&client, base, id, updated.into_bytes()).await;
    assert_eq!(resp.status(), 409);
    let body = resp.text().await.unwrap();
    assert!(body.contains(&format!("href=\"{base}/{id}\"")));
    assert_eq!(rows(&app.db).await, before);
    // Not a study: French 422.
    let resp = send_update(&client, base, id, b"<html><body>non</body></html>".to_vec()).await;
    assert_eq!(resp.status(), 422);
    assert!(unescape(&resp.text().await.unwrap()).contains("n'est pas du XML : il ressemble à une page web"));
    assert_eq!(rows(&app.db).await, before);

    // The user corrected the name by hand: it stays theirs.
    let second = v1("Maison Frêne", "M. et Mme FRENE", "6 rue des Frênes", "PC 044 470 25 U0002");
    let id2 = create_from(&client, base, None, &second).await;
    let edit = format!("{base}/{id2}/modifier");
    let (_, form) = client.get_text(&edit).await;
    let mut fields = form_fields(&form);
    set(&mut fields, "name", "Maison Frêne (corrigé)");
    let resp = post_form(&client, &edit, &fields).await;
    assert_eq!(resp.status(), 303);
    let resp = send_update(&client, base, id2, v2(&second, "Maison Frêne", "Maison Frêne Agrandie").into_bytes()).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(site_name(&app.db, id2).await, "Maison Frêne (corrigé)");
    let (_, page) = client.get_text(&format!("{base}/{id2}")).await;
    let page = unescape(&page);
    let section = &page[page.find("id=\"thermal-study\"").unwrap()..];
    assert!(section.contains("Version 2") && section.contains("Maison Frêne Agrandie"));
    assert!(section.contains("Aucun champ du chantier n'a été modifié par cette version"), "{section}");

    // Staff on the back office send a study to a site that had none.
    let office = app.login("bureau@demo.test").await;
    let c001 = demo_client(&app.db, "C001").await;
    let new = format!("/bo/chantiers/nouveau?client={c001}");
    let (_, form) = office.get_text(&new).await;
    let mut fields = form_fields(&form);
    for (k, v) in
        [("name", "Maison Sans Étude"), ("street", "rue Sans Étude"), ("postcode", "44300"), ("city", "Nantes")]
    {
        set(&mut fields, k, v);
    }
    let resp = post_form(&office, "/bo/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let plain = created_id(&resp, "/bo/chantiers");
    let (_, page) = office.get_text(&format!("/bo/chantiers/{plain}")).await;
    assert!(page.contains("id=\"thermal-study-add\"") && !page.contains("id=\"thermal-study\""));
    let xml = sample(RE2020_HOUSE).replacen("<projet", "<!-- bo -->\n<projet", 1);
    let resp = send_update(&office, "/bo/chantiers", plain, xml.into_bytes()).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(location(&resp), format!("/bo/chantiers/{plain}?etude=jointe"));
    let (_, page) = office.get_text(&location(&resp)).await;
    assert!(page.contains("id=\"thermal-study\"") && page.contains("RSEE RE2020"));
}

#[tokio::test]
async fn the_office_creates_a_chantier_for_a_chosen_client_from_its_study() {
    let app = TestApp::spawn().await;
    let office = app.login("bureau@demo.test").await;
    let c003 = demo_client(&app.db, "C003").await;
    let (_, page) = office.get_text(&format!("/bo/chantiers/nouveau?client={c003}")).await;
    let action = attr_of(&page, "id=\"study-drop\"", "action").expect("the drop zone on the back office");
    assert!(action.starts_with("/bo/chantiers/nouveau/etude?_csrf=") && action.ends_with(&format!("&client={c003}")));
    // The client must be chosen first: no drop zone on the choice page.
    let (_, choose) = office.get_text("/bo/chantiers/nouveau").await;
    assert!(!choose.contains("id=\"study-drop\""));

    let xml = house("Maison du Bailleur", "Loire Habitat Test", "11 rue du Bailleur", "PC 044 470 25 B0001");
    let (status, body) = drop_study(&office, "/bo/chantiers", Some(c003), "bailleur.xml", xml.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let fields = form_fields(&body);
    assert_eq!(get(&fields, "client_id"), c003.to_string());
    assert_eq!(get(&fields, "name"), "Maison du Bailleur");
    let resp = post_form(&office, "/bo/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let id = created_id(&resp, "/bo/chantiers");
    assert_eq!(site_client(&app.db, id).await, c003);
    let (_, doc_type, source) = study_file(&app.db, id).await.unwrap();
    assert_eq!((doc_type.as_str(), source.as_str()), ("thermal_study", "form"));
    let audit = audit_summaries(&app.db, id).await;
    assert!(audit.iter().any(|s| s.contains("depuis l'étude thermique (RSET RT2012)")), "{audit:?}");

    // A token staged for one client does not attach to another.
    let c001 = demo_client(&app.db, "C001").await;
    let xml = house("Maison Détournée", "M. DETOUR", "13 rue du Détour", "PC 044 470 25 B0002");
    let (_, body) = drop_study(&office, "/bo/chantiers", Some(c003), "detour.xml", xml.into_bytes()).await;
    let mut fields = form_fields(&body);
    set(&mut fields, "client_id", &c001.to_string());
    let before = rows(&app.db).await;
    let resp = post_form(&office, "/bo/chantiers/nouveau", &fields).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(rows(&app.db).await, before);
    // An unknown client: 404.
    let token = office.csrf("/bo/chantiers").await;
    let form = Form::new().part("file", Part::bytes(rt2012_tagged("x").into_bytes()).file_name("e.xml"));
    let resp = office
        .http
        .post(office.url(&format!("/bo/chantiers/nouveau/etude?_csrf={token}&client=999999")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn technicians_and_other_clients_are_kept_out_of_the_study_routes() {
    let app = TestApp::spawn().await;
    let c001 = demo_client(&app.db, "C001").await;
    let c002 = demo_client(&app.db, "C002").await;
    let (mine, ..) = a_site_of(&app.db, c001).await;
    let (theirs, ..) = a_site_of(&app.db, c002).await;
    let xml = || rt2012_tagged("acces").into_bytes();
    let before = rows(&app.db).await;

    let tech = app.login("technicien@demo.test").await;
    let token = tech.csrf("/bo/chantiers").await;
    let post = |path: String| {
        let form = Form::new().part("file", Part::bytes(xml()).file_name("e.xml"));
        tech.http.post(tech.url(&path)).multipart(form).send()
    };
    let resp = post(format!("/bo/chantiers/nouveau/etude?_csrf={token}&client={c001}")).await.unwrap();
    assert_eq!(resp.status(), 403);
    let resp = post(format!("/bo/chantiers/{mine}/etude?_csrf={token}")).await.unwrap();
    assert_eq!(resp.status(), 403);
    let client_id = c001.to_string();
    let resp = tech
        .http
        .post(tech.url("/bo/chantiers/nouveau"))
        .form(&[("_csrf", token.as_str()), ("client_id", client_id.as_str()), ("study_token", "x.y")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (_, page) = tech.get_text(&format!("/bo/chantiers/{mine}")).await;
    assert!(!page.contains("id=\"study-update\""), "no upload form for technicians");

    // Another client's site: 404 on its study route, both ways.
    let client = app.login("client@demo.test").await;
    let resp = send_update(&client, "/espace/chantiers", theirs, xml()).await;
    assert_eq!(resp.status(), 404);
    let other = app.login("autre.client@demo.test").await;
    let resp = send_update(&other, "/espace/chantiers", mine, xml()).await;
    assert_eq!(resp.status(), 404);
    // Client users on the back office routes: refused.
    let token = client.csrf("/espace/chantiers").await;
    let form = Form::new().part("file", Part::bytes(xml()).file_name("e.xml"));
    let resp = client
        .http
        .post(client.url(&format!("/bo/chantiers/{mine}/etude?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Without the CSRF token: refused.
    let form = Form::new().part("file", Part::bytes(xml()).file_name("e.xml"));
    let resp = client.http.post(client.url("/espace/chantiers/nouveau/etude")).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(rows(&app.db).await, before);

    // An archived site of the client: read only for its users.
    let office = app.login("admin@demo.test").await;
    let resp = office
        .submit(&format!("/bo/chantiers/{mine}"), &format!("/bo/chantiers/{mine}/archiver"), &[("archiver", "1")])
        .await;
    assert_eq!(resp.status(), 303);
    let resp = send_update(&client, "/espace/chantiers", mine, xml()).await;
    assert_eq!(resp.status(), 403);
    let (_, page) = client.get_text(&format!("/espace/chantiers/{mine}")).await;
    assert!(!page.contains("id=\"study-update\""));
    assert_eq!(rows(&app.db).await, before);
}

/// Files under DATA/files, to tell that refused uploads left no bytes behind.
fn stored_objects(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir.join("files"), &mut out);
    out.sort();
    out
}
