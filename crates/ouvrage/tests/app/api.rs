//! The integrator API, as thermal-consultancy software and their scripts rely on it: tokens
//! (back-office page and command line), the import of studies with its JSON answers, the site
//! list, problem details for every error, the confinement of a token to its client and firm, and
//! the OpenAPI document.

use std::process::Command;

use ouvrage::db::Db;
use ouvrage::on_db;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::support::*;

const RT2012: &str = "SYNTHETIC_RT2012_RSET-8100_maison_individuelle.xml";
const RE2020: &str = "SYNTHETIC_RE2020_RSEE-2022_logement_collectif_24lgts.xml";
const RE2020_HOUSE: &str = "SYNTHETIC_RE2020_RSEE-2022_maison_individuelle.xml";
const DPE: &str = "dpe_v2.1_maison_individuelle_60_Breteuil_2260E1364581G.xml";
const PDF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf");

/// The keys the import promises, no more, no less.
const STUDY_KEYS: [&str; 14] = [
    "site_id",
    "format",
    "engine_version",
    "operation_name",
    "address",
    "postcode",
    "citycode",
    "city",
    "permit_number",
    "owner_name",
    "bet_name",
    "building_type",
    "dwellings",
    "buildings",
];
const BUILDING_KEYS: [&str; 8] = ["index", "shab", "sref", "bbio", "cep", "cep_nr", "ic_construction", "ic_energie"];

fn sample(dir: &str, name: &str) -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/thermal").join(dir).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn synthetic(name: &str) -> String {
    String::from_utf8(sample("synthetic", name)).unwrap()
}

/// The RT2012 sample made this test's own (name, owner, address), so that no demo chantier
/// looks like it; `tag` is a number.
fn rt2012(tag: u32) -> Vec<u8> {
    synthetic(RT2012)
        .replace("Maison individuelle EXEMPLE (fictif)", &format!("Maison Essai API {tag}"))
        .replace("M. et Mme EXEMPLE (FICTIF)", &format!("M. et Mme Apitest {tag}"))
        .replace("Lot 12 - Lotissement des Essais", &format!("Lot {tag} - Clos des Intégrateurs"))
        .into_bytes()
}

/// The RE2020 collective sample made this test's own, with the permit `PC06938323{tag:05}`.
fn re2020(tag: u32) -> String {
    synthetic(RE2020)
        .replace("Résidence Les Exemples - 24 logements (fictif)", &format!("Résidence Intégration {tag}"))
        .replace("SCCV LES EXEMPLES (FICTIF)", &format!("SCCV APITEST {tag}"))
        .replace("PC0693832300001", &format!("PC06938323{tag:05}"))
        .replace("12 Rue de l'Exemple", &format!("{tag} rue des Intégrateurs"))
}

/// A new API token of `client_code` in `tenant`, through the command's function.
async fn token(db: &Db, tenant: &str, client_code: &str, name: &str) -> String {
    ouvrage::cli::create_token_cli(db, tenant, client_code, name).await.expect("token created")
}

async fn scalar(db: &Db, sql: &'static str, bind: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(sql).bind(bind).fetch_one(p).await).unwrap()
}

async fn client_id(db: &Db, code: &str) -> i64 {
    scalar(db, "SELECT id FROM clients WHERE code = $1", code).await
}

struct Answer {
    status: u16,
    content_type: String,
    location: String,
    www_authenticate: String,
    json: Value,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (content_type, location, www_authenticate) =
        (header("content-type"), header("location"), header("www-authenticate"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
    Answer { status, content_type, location, www_authenticate, json }
}

/// Posts a study (and text parts) to the import.
async fn import(app: &TestApp, token: &str, file_name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Answer {
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_string()));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let resp =
        reqwest::Client::new().post(app.url("/api/v1/thermal-studies")).bearer_auth(token).multipart(form).send().await;
    answer(resp.unwrap()).await
}

async fn api_get(app: &TestApp, token: Option<&str>, path: &str) -> Answer {
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(req.send().await.unwrap()).await
}

/// A problem document (RFC 9457) with a French detail.
fn assert_problem(a: &Answer, status: u16, detail_has: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.json);
    assert_eq!(a.json["status"], status);
    let kind = a.json["type"].as_str().unwrap();
    assert!(kind == "about:blank" || kind.starts_with("https://"), "type {kind}");
    assert!(a.json["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(a.json["instance"].as_str().unwrap().starts_with("/api/"), "{}", a.json);
    let detail = a.json["detail"].as_str().unwrap();
    assert!(detail.contains(detail_has), "detail «{detail}» should mention «{detail_has}»");
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// A second firm with one client (`X001`) and its admin, as the isolation tests make it.
async fn beta_firm(db: &Db) -> (i64, i64) {
    let tenant = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('beta', 'Bêta Diagnostics', 0) RETURNING id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let client = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO clients (tenant_id, code, name, kind, search_key, created_at, updated_at)
         VALUES ($1, 'X001', 'Constructions Secrètes Bêta', 'builder', 'x001 constructions secretes beta', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
    .unwrap();
    let hash = ouvrage::features::auth::password::hash("demo-ouvrage".into()).await.unwrap();
    on_db!(db, |p| sqlx::query(
        "INSERT INTO users (tenant_id, email, full_name, role, password_hash, search_key, created_at, updated_at)
         VALUES ($1, 'admin@beta.test', 'Admin Bêta', 'admin', $2, '', 0, 0)"
    )
    .bind(tenant)
    .bind(&hash)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    (tenant, client)
}

#[tokio::test]
async fn imports_answer_with_the_promised_json_and_refuse_duplicates() {
    let app = TestApp::spawn().await;
    let t = token(&app.db, "demo", "C001", "Logiciel BET Exemple").await;

    // RT2012: a new chantier, 201, Location, exactly the promised keys, nulls where the file has none.
    let rt = import(&app, &t, "etude-rt2012.xml", rt2012(1001), &[]).await;
    assert_eq!(rt.status, 201, "{}", rt.json);
    assert_eq!(rt.content_type, "application/json");
    let rt_site = rt.json["site_id"].as_i64().unwrap();
    assert_eq!(rt.location, format!("/api/v1/sites/{rt_site}"));
    assert_eq!(keys(&rt.json), sorted(&STUDY_KEYS));
    assert_eq!(keys(&rt.json["buildings"][0]), sorted(&BUILDING_KEYS));
    assert_eq!(rt.json["format"], "rt2012_rset");
    assert_eq!(rt.json["engine_version"], "8.1.0.0");
    assert_eq!(rt.json["operation_name"], "Maison Essai API 1001");
    assert_eq!(rt.json["owner_name"], "M. et Mme Apitest 1001");
    assert_eq!(rt.json["address"], "Lot 1001 - Clos des Intégrateurs");
    assert_eq!(rt.json["postcode"], "44470");
    assert_eq!(rt.json["city"], "CARQUEFOU");
    assert_eq!(rt.json["building_type"], "maison_individuelle");
    assert_eq!(rt.json["dwellings"], 1);
    assert!(rt.json["citycode"].is_null() && rt.json["permit_number"].is_null());
    assert_eq!(rt.json["buildings"][0]["index"], 1);
    assert_eq!(rt.json["buildings"][0]["bbio"], 52.3);
    assert!(rt.json["buildings"][0]["sref"].is_null() && rt.json["buildings"][0]["ic_construction"].is_null());

    // RE2020 collective: every value present.
    let re = import(&app, &t, "etude-re2020.xml", re2020(1002).into_bytes(), &[]).await;
    assert_eq!(re.status, 201, "{}", re.json);
    assert_eq!(keys(&re.json), sorted(&STUDY_KEYS));
    let re_site = re.json["site_id"].as_i64().unwrap();
    assert_eq!(re.json["format"], "re2020_rsee");
    assert_eq!(re.json["postcode"], "69008");
    assert_eq!(re.json["citycode"], "69388");
    assert_eq!(re.json["permit_number"], "PC0693832301002");
    assert_eq!(re.json["building_type"], "logement_collectif");
    assert_eq!(re.json["dwellings"], 24);
    assert_eq!(re.json["buildings"][0]["bbio"], 55.2);
    assert_eq!(re.json["buildings"][0]["ic_construction"], 612.4);

    // The chantier exists for the client, read back through the API with its study.
    let site = api_get(&app, Some(&t), &rt.location).await;
    assert_eq!(site.status, 200, "{}", site.json);
    assert_eq!(site.json["id"], rt_site);
    assert_eq!(site.json["name"], "Maison Essai API 1001");
    assert_eq!(site.json["street"], "Lot 1001 - Clos des Intégrateurs");
    assert_eq!(site.json["operation_type"], "individual");
    assert_eq!(site.json["thermal_study"]["format"], "rt2012_rset");
    assert_eq!(site.json["thermal_study"]["source"], "api");
    // Kept with the token that sent it, and audited under its name.
    let token_id = on_db!(&app.db, |p| sqlx::query_scalar::<_, Option<i64>>(
        "SELECT api_token_id FROM thermal_studies WHERE site_id = $1"
    )
    .bind(rt_site)
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(token_id.is_some());
    let audited = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'site' AND entity_id = $1 AND actor_label = 'API : Logiciel BET Exemple'"
    )
    .bind(rt_site)
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(audited >= 2, "creation and study are audited under the token's name");

    // The same file again: 409, naming the site that has it.
    let again = import(&app, &t, "etude-rt2012.xml", rt2012(1001), &[]).await;
    assert_problem(&again, 409, "déjà été importé");
    assert_eq!(again.json["existing_site_id"], rt_site);
    assert_eq!(again.json["candidates"][0]["id"], rt_site);

    // A copy renamed but with the same permit: a probable duplicate.
    let renamed = re2020(1002).replace("Résidence Intégration 1002", "Les Terrasses du Parc");
    let dup = import(&app, &t, "terrasses.xml", renamed.clone().into_bytes(), &[]).await;
    assert_problem(&dup, 409, "semble déjà exister");
    assert_eq!(dup.json["type"], "https://ouvrage.fr/problemes/doublon");
    assert_eq!(dup.json["existing_site_id"], re_site);
    let candidate = &dup.json["candidates"][0];
    assert_eq!(candidate["id"], re_site);
    assert!(candidate["reasons"].to_string().contains("même numéro de permis"), "{candidate}");
    let sites_before = scalar(&app.db, "SELECT COUNT(*) FROM sites WHERE name = $1", "Les Terrasses du Parc").await;
    assert_eq!(sites_before, 0, "a refused duplicate writes nothing");

    // create_anyway=true creates it all the same.
    let anyway = import(&app, &t, "terrasses.xml", renamed.into_bytes(), &[("create_anyway", "true")]).await;
    assert_eq!(anyway.status, 201, "{}", anyway.json);
    assert_eq!(anyway.json["operation_name"], "Les Terrasses du Parc");
    assert_ne!(anyway.json["site_id"], re_site);

    // site_id: a new version of the study of that chantier, with what changed.
    let v2 = re2020(1002)
        .replace("<O_Bbio_pts_annuel>55.2</O_Bbio_pts_annuel>", "<O_Bbio_pts_annuel>53.9</O_Bbio_pts_annuel>");
    let site_id = re_site.to_string();
    let update = import(&app, &t, "v2.xml", v2.into_bytes(), &[("site_id", &site_id)]).await;
    assert_eq!(update.status, 200, "{}", update.json);
    let mut expected = STUDY_KEYS.to_vec();
    expected.push("changes");
    assert_eq!(keys(&update.json), sorted(&expected));
    assert_eq!(update.json["site_id"], re_site);
    assert_eq!(update.json["buildings"][0]["bbio"], 53.9);
    let changes = update.json["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["label"] == "Bâtiment 1 : Bbio" && c["before"] == "55,2" && c["after"] == "53,9"),
        "{changes:?}"
    );
    let versions =
        on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM thermal_studies WHERE site_id = $1")
            .bind(re_site)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!(versions, 2);
    let detail = api_get(&app, Some(&t), &format!("/api/v1/sites/{re_site}")).await;
    assert_eq!(detail.json["thermal_study"]["buildings"][0]["bbio"], 53.9, "the latest version is shown");

    // A site that is not there (or not the client's): 404 and nothing filed.
    let missing = import(&app, &t, "v3.xml", sample("synthetic", RE2020_HOUSE), &[("site_id", "999999")]).await;
    assert_problem(&missing, 404, "introuvable");
    app.stop().await;
}

#[tokio::test]
async fn what_cannot_be_imported_gets_a_french_problem() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.max_upload_bytes = 1024 * 1024).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.unwrap();
    let t = token(&app.db, "demo", "C001", "Logiciel").await;

    let dpe = import(&app, &t, "dpe.xml", sample("dpe", DPE), &[]).await;
    assert_problem(&dpe, 422, "DPE");
    assert_eq!(dpe.json["type"], "https://ouvrage.fr/problemes/fichier-illisible");
    assert_eq!(dpe.json["code"], "dpe");
    let pdf = import(&app, &t, "etude.pdf", std::fs::read(PDF).unwrap(), &[]).await;
    assert_problem(&pdf, 422, "PDF");
    let empty = import(&app, &t, "vide.xml", Vec::new(), &[]).await;
    assert_problem(&empty, 422, "vide");

    // A study without what a chantier needs: 422 with the fields.
    let nameless = String::from_utf8(rt2012(2001)).unwrap().replace("44470", "").replace("CARQUEFOU", "");
    let incomplete = import(&app, &t, "incomplete.xml", nameless.into_bytes(), &[]).await;
    assert_problem(&incomplete, 422, "ne donne pas tout ce qu'il faut");
    assert!(incomplete.json["errors"]["postcode"].is_string(), "{}", incomplete.json);

    // Too large for the firm's limit: 413 (the body is still read to its end).
    let mut big = String::from_utf8(rt2012(2002)).unwrap();
    big.push_str(&format!("<!-- {} -->", "x".repeat(1030 * 1024)));
    let too_large = import(&app, &t, "enorme.xml", big.into_bytes(), &[]).await;
    assert_problem(&too_large, 413, "taille maximale");

    // Wrong requests: no file part, bad options, not multipart, malformed multipart.
    let http = reqwest::Client::new();
    let url = app.url("/api/v1/thermal-studies");
    let no_file =
        answer(http.post(&url).bearer_auth(&t).multipart(Form::new().text("site_id", "1")).send().await.unwrap()).await;
    assert_problem(&no_file, 400, "file");
    let bad = import(&app, &t, "e.xml", rt2012(2003), &[("create_anyway", "oui"), ("site_id", "x")]).await;
    assert_problem(&bad, 400, "true ou false");
    assert!(bad.json["errors"]["site_id"].is_string());
    let json =
        answer(http.post(&url).bearer_auth(&t).json(&serde_json::json!({"file": "x"})).send().await.unwrap()).await;
    assert_problem(&json, 415, "multipart/form-data");
    let broken = http
        .post(&url)
        .bearer_auth(&t)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntrunc")
        .send()
        .await
        .unwrap();
    assert_problem(&answer(broken).await, 400, "mal formé");

    // The framework's own refusals are problems too: wrong method, unknown path.
    let wrong_method = answer(http.delete(app.url("/api/v1/sites")).bearer_auth(&t).send().await.unwrap()).await;
    assert_problem(&wrong_method, 405, "méthode");
    let unknown = api_get(&app, Some(&t), "/api/v1/nulle-part").await;
    assert_problem(&unknown, 404, "n'existe pas");

    // Nothing of all this left a site behind.
    let created = scalar(&app.db, "SELECT COUNT(*) FROM thermal_studies WHERE source = $1", "api").await;
    assert_eq!(created, 0);
    app.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let app = TestApp::spawn().await;
    let none = api_get(&app, None, "/api/v1/sites").await;
    assert_problem(&none, 401, "Authorization");
    assert!(none.www_authenticate.starts_with("Bearer"), "{}", none.www_authenticate);
    let garbage = api_get(&app, Some("ouv_not_a_real_token_at_all_000000000000000000"), "/api/v1/sites").await;
    assert_problem(&garbage, 401, "pas reconnu");
    assert!(garbage.www_authenticate.starts_with("Bearer"));
    let resp = reqwest::Client::new()
        .get(app.url("/api/v1/sites"))
        .header("authorization", "Basic YWRtaW46ZGVtbw==")
        .send()
        .await
        .unwrap();
    assert_problem(&answer(resp).await, 401, "Bearer");
    let post = import(&app, "nope", "e.xml", rt2012(3001), &[]).await;
    assert_problem(&post, 401, "pas reconnu");
    // A session cookie is no API credential.
    let admin = app.login("admin@demo.test").await;
    let resp = admin.get("/api/v1/sites").await;
    assert_eq!(resp.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_token_reaches_only_its_own_clients_sites() {
    let app = TestApp::spawn().await;
    let (_, beta_client) = beta_firm(&app.db).await;
    let c001 = token(&app.db, "demo", "C001", "BET pour C001").await;
    let c002 = token(&app.db, "demo", "C002", "BET pour C002").await;
    let beta = token(&app.db, "beta", "X001", "BET de Bêta").await;

    // Each imports a study; the same file may be imported once per client, and duplicates are
    // looked for within the client only (nothing of another client is named).
    let mine = import(&app, &c001, "e.xml", re2020(4001).into_bytes(), &[]).await;
    assert_eq!(mine.status, 201, "{}", mine.json);
    let theirs = import(&app, &c002, "e.xml", re2020(4001).into_bytes(), &[]).await;
    assert_eq!(theirs.status, 201, "{}", theirs.json);
    let betas = import(&app, &beta, "e.xml", re2020(4001).into_bytes(), &[]).await;
    assert_eq!(betas.status, 201, "{}", betas.json);
    let (mine, theirs, betas) = (
        mine.json["site_id"].as_i64().unwrap(),
        theirs.json["site_id"].as_i64().unwrap(),
        betas.json["site_id"].as_i64().unwrap(),
    );
    let c001_id = client_id(&app.db, "C001").await;
    let owner = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>("SELECT client_id FROM sites WHERE id = $1")
        .bind(betas)
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(owner, beta_client);

    for (who, own, foreign) in
        [(&c001, mine, [theirs, betas]), (&c002, theirs, [mine, betas]), (&beta, betas, [mine, theirs])]
    {
        assert_eq!(api_get(&app, Some(who), &format!("/api/v1/sites/{own}")).await.status, 200);
        for f in foreign {
            let read = api_get(&app, Some(who), &format!("/api/v1/sites/{f}")).await;
            assert_problem(&read, 404, "introuvable");
            // Not updatable through site_id either, and nothing is filed.
            let v = re2020(4001).replace("PC0693832304001", &format!("PC-INTRUS-{f}"));
            let update = import(&app, who, "v.xml", v.into_bytes(), &[("site_id", &f.to_string())]).await;
            assert_problem(&update, 404, "introuvable");
        }
        // The list holds the client's sites and nothing else.
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let list = api_get(&app, Some(who), &format!("/api/v1/sites?per_page=200&page={page}")).await;
            assert_eq!(list.status, 200, "{}", list.json);
            let items = list.json["items"].as_array().unwrap().clone();
            if items.is_empty() {
                break;
            }
            ids.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
            page += 1;
        }
        assert!(ids.contains(&own));
        assert!(foreign.iter().all(|f| !ids.contains(f)), "a token lists another client's site");
        // Searching by the shared permit finds only one's own.
        let found = api_get(&app, Some(who), "/api/v1/sites?q=PC0693832304001").await;
        let found: Vec<i64> =
            found.json["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
        assert_eq!(found, vec![own]);
    }
    let c001_sites = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM sites WHERE client_id = $1 AND archived = $2"
    )
    .bind(c001_id)
    .bind(false)
    .fetch_one(p)
    .await)
    .unwrap();
    let list = api_get(&app, Some(&c001), "/api/v1/sites?per_page=1").await;
    assert_eq!(list.json["total"], c001_sites);
    let versions = scalar(&app.db, "SELECT COUNT(*) FROM thermal_studies WHERE source = $1", "api").await;
    assert_eq!(versions, 3, "no refused update was filed");
    app.stop().await;
}

#[tokio::test]
async fn the_site_list_takes_the_filters_of_mes_chantiers() {
    let app = TestApp::spawn().await;
    let t = token(&app.db, "demo", "C001", "Logiciel").await;
    let re = import(&app, &t, "e.xml", re2020(5001).into_bytes(), &[]).await;
    let re_site = re.json["site_id"].as_i64().unwrap();

    let lyon =
        api_get(&app, Some(&t), "/api/v1/sites?postcode=69&kind=construction&phase=works&status=to_schedule").await;
    assert_eq!(lyon.status, 200, "{}", lyon.json);
    let items = lyon.json["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["id"] == re_site));
    assert!(items.iter().all(|i| i["postcode"].as_str().unwrap().starts_with("69")));
    let item = items.iter().find(|i| i["id"] == re_site).unwrap();
    let mut expected = vec![
        "id",
        "kind",
        "name",
        "street_number",
        "street",
        "postcode",
        "city_code",
        "city",
        "operation_type",
        "phase",
        "status",
        "expected_date",
        "actual_date",
        "permit_number",
        "owner_name",
        "dwellings",
        "archived",
        "site_manager",
    ];
    expected.sort();
    assert_eq!(keys(item), sorted(&expected));
    assert_eq!(item["city_code"], "69388");
    assert_eq!(item["dwellings"], 24);
    assert!(item["site_manager"].is_null() && item["expected_date"].is_null());

    // Paging: per_page and page, with the total.
    let all = api_get(&app, Some(&t), "/api/v1/sites?sort=postcode&order=desc").await;
    let total = all.json["total"].as_i64().unwrap();
    assert!(total > 3);
    assert_eq!(all.json["per_page"], 50);
    let second = api_get(&app, Some(&t), "/api/v1/sites?sort=postcode&order=desc&per_page=2&page=2").await;
    assert_eq!(second.json["page"], 2);
    assert_eq!(second.json["total"], total);
    assert_eq!(second.json["items"][0]["id"], all.json["items"][2]["id"]);
    let postcodes: Vec<&str> =
        all.json["items"].as_array().unwrap().iter().map(|i| i["postcode"].as_str().unwrap()).collect();
    assert!(postcodes.windows(2).all(|w| w[0] >= w[1]), "sorted by postcode, descending");
    let archived = api_get(&app, Some(&t), "/api/v1/sites?archived=true").await;
    assert!(archived.json["items"].as_array().unwrap().iter().all(|i| i["archived"] == true));

    // Wrong parameters: 400 with a French message per parameter.
    let wrong =
        api_get(&app, Some(&t), "/api/v1/sites?postcode=69A&from=31/12/2026&per_page=500&sort=taille&colour=red").await;
    assert_problem(&wrong, 400, "code postal");
    for key in ["postcode", "from", "per_page", "sort", "colour"] {
        assert!(wrong.json["errors"][key].is_string(), "{key}: {}", wrong.json);
    }
    let backwards = api_get(&app, Some(&t), "/api/v1/sites?from=2026-06-01&to=2026-01-01").await;
    assert_problem(&backwards, 400, "précède");
    app.stop().await;
}

/// What fuzzing the API against its OpenAPI document (`.ci/schemathesis.sh`) found: a parameter
/// or a part is read exactly as the document describes it, whatever the document forbids is a
/// 400 naming it, and a path that names nothing is a 404.
#[tokio::test]
async fn the_api_takes_exactly_what_its_document_describes() {
    let app = TestApp::spawn().await;
    let t = token(&app.db, "demo", "C001", "Logiciel").await;

    // The site list: values that the document's enums, patterns and ranges refuse.
    for (query, key) in [
        ("phase=", "phase"),
        ("status=%20done", "status"),
        ("sort=", "sort"),
        ("archived=1", "archived"),
        ("postcode=", "postcode"),
        ("page=%2B2", "page"),
        ("per_page=201", "per_page"),
        ("site_manager_id=0", "site_manager_id"),
        ("from=1989-12-31", "from"),
    ] {
        let a = api_get(&app, Some(&t), &format!("/api/v1/sites?{query}")).await;
        assert_problem(&a, 400, "");
        assert!(a.json["errors"][key].is_string(), "{query}: {}", a.json);
    }
    // …and what it allows is taken: empty free text, the edges of the ranges.
    for query in ["q=&city=", "page=1000000&per_page=200", "archived=false&order=desc&from=1990-01-01&to=2100-12-31"] {
        let a = api_get(&app, Some(&t), &format!("/api/v1/sites?{query}")).await;
        assert_eq!(a.status, 200, "{query}: {}", a.json);
    }

    // Ids that name nothing, even a segment that is no UTF-8 once decoded: 404, never 400 or 500.
    for path in [
        "/api/v1/sites/%FF",
        "/api/v1/sites/0",
        "/api/v1/sites/99999999999999999999",
        "/api/v1/sites/%FF/documents",
        "/api/v1/documents/%FF",
        "/api/v1/documents/9223372036854775807/content",
    ] {
        let a = api_get(&app, Some(&t), path).await;
        assert_problem(&a, 404, "introuvable");
    }

    // The import's parts: an integer, a boolean, no other part, none too long to read. A valid
    // study comes with each, so that only the part is refused (it was dropped or misread before).
    for (n, (part, value)) in [
        ("site_id", ""),
        ("site_id", "+1"),
        ("create_anyway", "1"),
        ("create_anyway", "TRUE"),
        ("commentaire", "à mettre à jour"),
    ]
    .into_iter()
    .enumerate()
    {
        let a = import(&app, &t, "e.xml", rt2012(6000 + n as u32), &[(part, value)]).await;
        assert_problem(&a, 400, "");
        assert!(a.json["errors"][part].is_string(), "{part}={value:?}: {}", a.json);
    }
    let long_id = "1".repeat(2000);
    let a = import(&app, &t, "e.xml", rt2012(6100), &[("site_id", long_id.as_str())]).await;
    assert_problem(&a, 400, "trop longue");
    assert!(a.json["errors"]["site_id"].is_string(), "{}", a.json);
    let imported = scalar(&app.db, "SELECT COUNT(*) FROM thermal_studies WHERE source = $1", "api").await;
    assert_eq!(imported, 0, "no refused import created a chantier");
    app.stop().await;
}

#[tokio::test]
async fn the_back_office_creates_shows_once_and_revokes_tokens() {
    let app = TestApp::spawn().await;
    let (_, beta_client) = beta_firm(&app.db).await;
    let c001 = client_id(&app.db, "C001").await;
    let c002 = client_id(&app.db, "C002").await;
    let page = format!("/bo/clients/{c001}/integrations");
    let admin = app.login("admin@demo.test").await;

    // Reached from the client's page; office staff are refused.
    let (_, client_page) = admin.get_text(&format!("/bo/clients/{c001}")).await;
    assert!(client_page.contains(&page), "the client page links to its integrations");
    let office = app.login("bureau@demo.test").await;
    assert_eq!(office.get(&page).await.status(), 403);
    let resp = office.submit(&format!("/bo/clients/{c001}"), &page, &[("name", "x")]).await;
    assert_eq!(resp.status(), 403);
    let client_user = app.login("client.admin@demo.test").await;
    assert_eq!(client_user.get(&page).await.status(), 403);

    // A name is required, 100 characters at most.
    let resp = admin.submit(&page, &page, &[("name", "  ")]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("Donnez un nom au jeton"));
    let long = "x".repeat(101);
    let resp = admin.submit(&page, &page, &[("name", &long)]).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("100 caractères"));

    // Created: the secret is on the answer, with the warning, and never again.
    let resp = admin.submit(&page, &page, &[("name", "Logiciel BET Dupont")]).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(body.contains("ne sera plus jamais affiché"));
    let start = body.find("value=\"ouv_").expect("the secret is shown") + "value=\"".len();
    let secret = body[start..start + body[start..].find('"').unwrap()].to_string();
    assert_eq!(secret.len(), 47);
    let (_, later) = admin.get_text(&page).await;
    assert!(!later.contains(&secret), "the secret is shown once");
    assert!(later.contains(&secret[..12]) && later.contains("Logiciel BET Dupont"), "its prefix and name are listed");
    let stored = scalar(&app.db, "SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1", &{
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(secret.as_bytes()))
    })
    .await;
    assert_eq!(stored, 1, "only the hash is stored");
    let plain = scalar(&app.db, "SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1", &secret).await;
    assert_eq!(plain, 0);

    // It works, and its use is shown.
    assert_eq!(api_get(&app, Some(&secret), "/api/v1/sites").await.status, 200);
    let (_, used) = admin.get_text(&page).await;
    assert!(!used.contains("jamais</td>"), "last use is shown");

    // Revoking: only through the client's page; afterwards the token gets 401.
    let token_id = scalar(&app.db, "SELECT id FROM api_tokens WHERE name = $1", "Logiciel BET Dupont").await;
    let wrong_client = format!("/bo/clients/{c002}/integrations/{token_id}/revoquer");
    assert_eq!(admin.submit(&page, &wrong_client, &[]).await.status(), 404);
    let revoke = format!("{page}/{token_id}/revoquer");
    assert_eq!(office.submit(&format!("/bo/clients/{c001}"), &revoke, &[]).await.status(), 403);
    assert_eq!(api_get(&app, Some(&secret), "/api/v1/sites").await.status, 200);
    let resp = admin.submit(&page, &revoke, &[]).await;
    assert_eq!(resp.status(), 303);
    assert_problem(&api_get(&app, Some(&secret), "/api/v1/sites").await, 401, "révoqué");
    let (_, after) = admin.get_text(&page).await;
    assert!(after.contains("Révoqué le"));

    // Both are in the audit log.
    for action in ["create", "revoke"] {
        let n =
            scalar(&app.db, "SELECT COUNT(*) FROM audit_log WHERE entity = 'api_token' AND action = $1", action).await;
        assert_eq!(n, 1, "{action} audited");
    }

    // A client of another firm is not found.
    let foreign = format!("/bo/clients/{beta_client}/integrations");
    assert_eq!(admin.get(&foreign).await.status(), 404);
    assert_eq!(admin.submit(&page, &foreign, &[("name", "Intrus")]).await.status(), 404);
    let beta_admin = app.login("admin@beta.test").await;
    assert_eq!(beta_admin.get(&page).await.status(), 404);
    app.stop().await;
}

fn ouvrage_cmd(env: &TestEnv) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ouvrage"));
    c.env("OUVRAGE_DATA", env.tmp.path()).env("DATABASE_URL", &env.database_url).env_remove("OUVRAGE_CONFIG");
    c
}

#[tokio::test]
async fn token_create_prints_a_working_token_for_scripts() {
    let env = TestEnv::new().await;
    assert!(ouvrage_cmd(&env).arg("demo").output().unwrap().status.success());
    let out = ouvrage_cmd(&env)
        .args(["token", "create", "--tenant", "demo", "--client", "C001", "--name", "Logiciel BET"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "only the token on stdout: {stdout:?}");
    let secret = stdout.trim_end_matches('\n');
    assert!(secret.starts_with("ouv_") && secret.len() == 47, "{secret}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ne sera plus affiché"));

    for (args, expected) in [
        (["--tenant", "nulle-part", "--client", "C001"], "aucun prestataire"),
        (["--tenant", "demo", "--client", "C999"], "C999"),
    ] {
        let out = ouvrage_cmd(&env).args(["token", "create"]).args(args).args(["--name", "x"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    let app = TestApp::start(&env, |_| {}).await;
    let list = api_get(&app, Some(secret), "/api/v1/sites").await;
    assert_eq!(list.status, 200, "{}", list.json);
    assert!(list.json["total"].as_i64().unwrap() > 0);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = TestApp::spawn().await;
    let doc = api_get(&app, None, "/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.content_type.starts_with("application/json"));
    let doc = doc.json;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [("/api/v1/thermal-studies", "post"), ("/api/v1/sites", "get"), ("/api/v1/sites/{id}", "get")]
    {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        assert_eq!(doc["paths"][path][method]["security"][0]["bearer"], serde_json::json!([]));
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["type"], "http");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let import = &doc["paths"]["/api/v1/thermal-studies"]["post"];
    let form = &import["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert_eq!(form["properties"]["file"]["format"], "binary");
    assert!(form["properties"]["site_id"].is_object() && form["properties"]["create_anyway"].is_object());
    assert_eq!(form["additionalProperties"], false, "the import refuses other parts");
    assert_eq!(form["properties"]["site_id"]["minimum"], 1);
    // The list's parameters carry the checks the handler makes.
    let params = doc["paths"]["/api/v1/sites"]["get"]["parameters"].as_array().unwrap();
    let param = |name: &str| &params.iter().find(|p| p["name"] == name).unwrap()["schema"];
    assert_eq!(param("per_page")["maximum"], 200);
    assert_eq!(param("page")["minimum"], 1);
    assert_eq!(param("phase")["enum"], serde_json::json!(["works", "handover"]));
    assert_eq!(param("from")["format"], "date");
    assert_eq!(param("postcode")["pattern"], "^[0-9]{1,5}$");
    assert_eq!(param("q")["maxLength"], 200);
    let id = &doc["paths"]["/api/v1/sites/{id}"]["get"]["parameters"][0]["schema"];
    assert_eq!(id["minimum"], 1, "{id}");
    for status in ["200", "201", "401", "409", "422"] {
        assert!(import["responses"][status].is_object(), "{status}");
    }
    assert!(import["responses"]["409"]["content"]["application/problem+json"].is_object());
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Problem"]["properties"]["existing_site_id"].is_object());
    assert!(schemas["Problem"]["properties"]["candidates"].is_object());
    let imported = schemas["ImportedStudy"].to_string();
    assert!(imported.contains("site_id"));
    assert!(schemas["ThermalStudy"]["properties"]["buildings"].is_object());
    assert!(schemas["Building"]["properties"]["ic_energie"].is_object());
    app.stop().await;
}
