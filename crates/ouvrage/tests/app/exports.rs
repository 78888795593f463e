//! The Excel export of the site lists: the ticked rows or every result of the search, read back
//! from the downloaded bytes as Excel would (headers, dates, numbers, text kept as text), and
//! who may export what.

use std::io::Cursor;

use calamine::{Data, DataType, Reader, Xlsx};
use chrono::NaiveDate;
use ouvrage::db::Db;
use ouvrage::on_db;

use crate::clients::{demo_client, unescape};
use crate::support::*;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The extranet's columns, in order.
const ESPACE_HEADERS: [&str; 17] = [
    "Nom",
    "Type",
    "Numéro",
    "Voie",
    "Code postal",
    "Commune",
    "Code INSEE",
    "Conducteur de travaux",
    "Type d'opération",
    "Phase",
    "Statut",
    "Date d'intervention prévue",
    "Date d'intervention réelle",
    "Permis de construire",
    "Maître d'ouvrage",
    "Logements",
    "Archivé",
];

/// A downloaded workbook: its header and data rows.
struct Sheet {
    header: Vec<String>,
    rows: Vec<Vec<Data>>,
}

impl Sheet {
    fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}: {:?}", self.header))
    }

    /// The cells of column `name`, one per data row.
    fn column(&self, name: &str) -> Vec<&Data> {
        let i = self.col(name);
        self.rows.iter().map(|r| &r[i]).collect()
    }

    fn texts(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self.column(name).into_iter().map(|d| d.to_string()).collect();
        v.sort();
        v
    }

    /// The data row whose "Nom" is `name`.
    fn row(&self, name: &str) -> &[Data] {
        let i = self.col("Nom");
        self.rows.iter().find(|r| r[i] == Data::String(name.into())).unwrap_or_else(|| panic!("no row {name}"))
    }
}

/// GETs `path`, checks it is an .xlsx download, reads it back.
async fn download(b: &Browser, path: &str) -> Sheet {
    let resp = b.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("content-type"), XLSX);
    let disposition = header("content-disposition");
    let name = disposition
        .strip_prefix("attachment; filename=\"chantiers-")
        .and_then(|rest| rest.strip_suffix(".xlsx\""))
        .unwrap_or_else(|| panic!("content-disposition: {disposition}"));
    assert!(NaiveDate::parse_from_str(name, "%Y-%m-%d").is_ok(), "dated file name: {disposition}");
    let bytes = resp.bytes().await.unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook");
    let first = book.sheet_names()[0].clone();
    assert_eq!(first, "Chantiers");
    let range = book.worksheet_range(&first).expect("the sheet");
    let mut rows = range.rows().map(|r| r.to_vec());
    let header = rows.next().expect("a header row").iter().map(|c| c.to_string()).collect();
    Sheet { header, rows: rows.collect() }
}

/// The ids and names of the result rows of a list page, in order (from their checkboxes and
/// links).
fn listed(body: &str) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for part in body.split("<input type=\"checkbox\" name=\"ids\" value=\"").skip(1) {
        let id: i64 = part[..part.find('"').unwrap()].parse().unwrap();
        assert!(part.contains("form=\"export-form\""), "the checkbox belongs to the export form");
        let link = format!("/{id}\">");
        let start = part.find(&link).unwrap() + link.len();
        let name = unescape(&part[start..start + part[start..].find("</a>").unwrap()]);
        out.push((id, name));
    }
    out
}

/// The number of results a list page announces (`12 chantiers — 1 à 12`).
fn list_count(body: &str) -> usize {
    let marker = "<p class=\"count\" aria-live=\"polite\">";
    let text = &body[body.find(marker).expect("the count") + marker.len()..];
    if text.starts_with("Aucun") {
        return 0;
    }
    text.split(' ').next().unwrap().parse().unwrap()
}

/// The site form of the extranet, with `name`, a permit and an address of its own.
fn site_form<'a>(name: &'a str, permit: &'a str, street: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("kind", "construction"),
        ("parent_id", ""),
        ("name", name),
        ("street_number", "3"),
        ("street", street),
        ("postcode", "44470"),
        ("city_code", "44026"),
        ("city", "Carquefou"),
        ("site_manager_id", ""),
        ("operation_type", "collective"),
        ("phase", "works"),
        ("expected_date", "22/11/2030"),
        ("permit_number", permit),
        ("owner_name", "SCI Les Exports"),
        ("dwellings", "12"),
        ("notes", ""),
    ]
}

/// Creates a site through the extranet's form; its id.
async fn create_site(b: &Browser, fields: &[(&str, &str)]) -> i64 {
    let resp = b.submit("/espace/chantiers/nouveau", "/espace/chantiers/nouveau", fields).await;
    assert_eq!(resp.status(), 303, "the site is created");
    let loc = location(&resp);
    loc.strip_prefix("/espace/chantiers/").unwrap().split('?').next().unwrap().parse().unwrap()
}

async fn site_of_client(db: &Db, client: i64) -> (i64, String) {
    on_db!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, name FROM sites WHERE client_id = $1 AND NOT archived ORDER BY id LIMIT 1"
    )
    .bind(client)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn current_sites_of(db: &Db, client: i64) -> usize {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sites WHERE client_id = $1 AND NOT archived")
        .bind(client)
        .fetch_one(p)
        .await)
    .unwrap() as usize
}

#[tokio::test]
async fn ticked_rows_export_exactly_those_rows_with_french_headers_and_typed_cells() {
    let app = TestApp::spawn().await;
    let b = app.login("client@demo.test").await;
    let created =
        create_site(&b, &site_form("Résidence des Exports", "PC 044 026 30 X0001", "allée des Tableurs")).await;

    // The list: every row has its labelled checkbox, and the export form repeats the criteria.
    let (_, body) = b.get_text("/espace/chantiers?q=exports").await;
    assert_eq!(listed(&body), [(created, "Résidence des Exports".to_string())]);
    assert!(body.contains(&format!("<label for=\"coche-{created}\" class=\"sr-only\">Cocher Résidence des Exports")));
    let (status, body) = b.get_text("/espace/chantiers?cp=44&tri=date&sens=desc").await;
    assert_eq!(status, 200);
    assert!(body.contains("<form method=\"get\" action=\"/espace/chantiers/export.xlsx\" id=\"export-form\""));
    for hidden in ["name=\"cp\" value=\"44\"", "name=\"tri\" value=\"date\"", "name=\"sens\" value=\"desc\""] {
        assert!(body.contains(&format!("<input type=\"hidden\" {hidden}>")), "{hidden}");
    }
    assert!(body.contains("id=\"tout-cocher\""), "a « tout cocher » box");
    let total = list_count(&body);
    assert!(body.contains(&format!("id=\"export-all\">Exporter tous les résultats ({total})</button>")));
    let rows = listed(&body);
    assert!(rows.len() >= 3, "the demo has sites in 44: {rows:?}");

    // Tick the new site and two others of the page, as the form sends them.
    let mut ticked: Vec<(i64, String)> = vec![(created, "Résidence des Exports".into())];
    ticked.extend(rows.iter().filter(|(id, _)| *id != created).take(2).cloned());
    let ids: String = ticked.iter().map(|(id, _)| format!("&ids={id}")).collect();
    let sheet = download(&b, &format!("/espace/chantiers/export.xlsx?cp=44&tri=date&sens=desc{ids}")).await;
    assert_eq!(sheet.header, ESPACE_HEADERS, "French headers, no client columns in the extranet");
    let mut expected: Vec<String> = ticked.iter().map(|(_, name)| name.clone()).collect();
    expected.sort();
    assert_eq!(sheet.texts("Nom"), expected, "exactly the ticked rows");

    // The new site's cells: text, a real date, a real number.
    let r = sheet.row("Résidence des Exports");
    let cell = |name: &str| &r[sheet.col(name)];
    assert_eq!(cell("Code postal"), &Data::String("44470".into()), "postcodes stay text");
    assert_eq!(cell("Code INSEE"), &Data::String("44026".into()));
    assert_eq!(cell("Type"), &Data::String("Chantier".into()));
    assert_eq!(cell("Type d'opération"), &Data::String("Collectif".into()));
    assert_eq!(cell("Phase"), &Data::String("Travaux".into()));
    assert_eq!(cell("Statut"), &Data::String("À planifier".into()));
    assert_eq!(cell("Permis de construire"), &Data::String("PC 044 026 30 X0001".into()));
    assert!(cell("Date d'intervention prévue").is_datetime(), "a real date: {:?}", cell("Date d'intervention prévue"));
    assert_eq!(cell("Date d'intervention prévue").as_date(), NaiveDate::from_ymd_opt(2030, 11, 22));
    assert_eq!(cell("Date d'intervention réelle"), &Data::Empty);
    assert_eq!(cell("Logements"), &Data::Float(12.0), "a real number");
    assert_eq!(cell("Archivé"), &Data::String("Non".into()));
    app.stop().await;
}

#[tokio::test]
async fn all_results_export_the_rows_of_the_search() {
    let app = TestApp::spawn().await;
    let b = app.login("client.admin@demo.test").await;
    let (_, body) = b.get_text("/espace/chantiers?cp=44").await;
    let total = list_count(&body);
    assert!(total > 0);
    let sheet = download(&b, "/espace/chantiers/export.xlsx?cp=44&tout=1").await;
    assert_eq!(sheet.rows.len(), total, "as many rows as the list counts");
    assert!(sheet.column("Code postal").iter().all(|c| c.to_string().starts_with("44")), "only the search's rows");
    // Ticked boxes go along with « Exporter tous les résultats »: all results still.
    let (_, all) = b.get_text("/espace/chantiers").await;
    let first = listed(&all)[0].0;
    let sheet = download(&b, &format!("/espace/chantiers/export.xlsx?cp=44&tout=1&ids={first}")).await;
    assert_eq!(sheet.rows.len(), total);
    // The whole list, in the list's order (by name).
    let everything = list_count(&all);
    let sheet = download(&b, "/espace/chantiers/export.xlsx?tout=1").await;
    assert_eq!(sheet.rows.len(), everything);
    let names: Vec<String> = listed(&all).into_iter().map(|(_, n)| n).collect();
    let exported: Vec<String> = sheet.column("Nom").iter().take(names.len()).map(|c| c.to_string()).collect();
    assert_eq!(exported, names, "the rows in the order of the list");
    app.stop().await;
}

#[tokio::test]
async fn a_formula_typed_as_a_name_comes_back_as_that_text() {
    let app = TestApp::spawn().await;
    let b = app.login("client@demo.test").await;
    let evil = r#"=HYPERLINK("http://evil","x")"#;
    let id = create_site(&b, &site_form(evil, "PC 044 026 30 X0002", "chemin des Formules")).await;
    let (_, body) = b.get_text("/espace/chantiers?q=formules").await;
    assert_eq!(listed(&body).iter().map(|(i, _)| *i).collect::<Vec<_>>(), [id]);
    let sheet = download(&b, &format!("/espace/chantiers/export.xlsx?q=formules&ids={id}")).await;
    assert_eq!(sheet.rows.len(), 1);
    assert_eq!(sheet.row(evil)[sheet.col("Nom")], Data::String(evil.into()), "the exact text, not a formula");
    app.stop().await;
}

#[tokio::test]
async fn nobody_exports_sites_outside_their_scope() {
    let app = TestApp::spawn().await;
    let c001 = demo_client(&app.db, "C001").await;
    let c002 = demo_client(&app.db, "C002").await;
    let (own, own_name) = site_of_client(&app.db, c001).await;
    let (foreign, _) = site_of_client(&app.db, c002).await;

    // A client user ticking another client's site id gets a file without it.
    let b = app.login("client@demo.test").await;
    let sheet = download(&b, &format!("/espace/chantiers/export.xlsx?ids={foreign}&ids={own}&archives=")).await;
    assert_eq!(sheet.texts("Nom"), [own_name]);
    let sheet = download(&b, &format!("/espace/chantiers/export.xlsx?ids={foreign}")).await;
    assert!(sheet.rows.is_empty(), "nothing of C002: {:?}", sheet.rows);
    // All results are their company's only, even when asking for another client.
    let sheet = download(&b, &format!("/espace/chantiers/export.xlsx?tout=1&client={c002}")).await;
    assert_eq!(sheet.rows.len(), current_sites_of(&app.db, c001).await);
    // The back office is not theirs.
    assert_eq!(b.get("/bo/chantiers/export.xlsx?tout=1").await.status(), 403);

    // Staff use the back office's export, not the extranet's.
    let tech = app.login("technicien@demo.test").await;
    assert_eq!(tech.get("/espace/chantiers/export.xlsx?tout=1").await.status(), 403);

    // Anonymous: to the login page, and back here after.
    let anon = app.client();
    let resp = anon.get("/espace/chantiers/export.xlsx?tout=1").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/login?next="), "{}", location(&resp));
    let resp = anon.get("/bo/chantiers/export.xlsx?tout=1").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/login"));
    app.stop().await;
}

#[tokio::test]
async fn a_technician_exports_every_client_from_the_back_office() {
    let app = TestApp::spawn().await;
    let tech = app.login("technicien@demo.test").await;
    let (status, body) = tech.get_text("/bo/chantiers?cp=44").await;
    assert_eq!(status, 200);
    assert!(body.contains("action=\"/bo/chantiers/export.xlsx\""), "technicians read, and may export");
    let total = list_count(&body);
    let sheet = download(&tech, "/bo/chantiers/export.xlsx?cp=44&tout=1").await;
    assert_eq!(&sheet.header[..3], ["Code client", "Client", "Nom"]);
    assert_eq!(&sheet.header[2..], ESPACE_HEADERS);
    assert_eq!(sheet.rows.len(), total);
    let codes = sheet.texts("Code client");
    assert!(codes.contains(&"C001".to_string()) && codes.contains(&"C002".to_string()), "every client: {codes:?}");
    // Ticked rows of several clients.
    let ids: Vec<i64> = listed(&body).into_iter().map(|(id, _)| id).take(4).collect();
    let query: String = ids.iter().map(|id| format!("ids={id}&")).collect();
    let sheet = download(&tech, &format!("/bo/chantiers/export.xlsx?{query}cp=44")).await;
    assert_eq!(sheet.rows.len(), ids.len());
    app.stop().await;
}

#[tokio::test]
async fn an_export_without_a_choice_or_with_wrong_criteria_is_explained() {
    let app = TestApp::spawn().await;
    let b = app.login("client@demo.test").await;
    // Neither ticked rows nor « tous les résultats ».
    for query in ["", "?cp=44", "?ids=&tout=0"] {
        let (status, body) = b.get_text(&format!("/espace/chantiers/export.xlsx{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert!(body.contains("Cochez au moins un chantier"), "{query}: {body}");
    }
    // Wrong criteria: the list's own messages.
    let (status, body) = b.get_text("/espace/chantiers/export.xlsx?cp=44A&tout=1").await;
    assert_eq!(status, 422);
    assert!(unescape(&body).contains("Le code postal recherché s'écrit avec 1 à 5 chiffres"), "{body}");
    let (status, body) = b.get_text("/espace/chantiers/export.xlsx?du=2030-02-01&au=2030-01-01&tout=1").await;
    assert_eq!(status, 422);
    assert!(unescape(&body).contains("La date de fin de la période précède sa date de début."));
    // A forged id is not found.
    assert_eq!(b.get("/espace/chantiers/export.xlsx?ids=1%20OR%201%3D1").await.status(), 404);
    app.stop().await;
}
