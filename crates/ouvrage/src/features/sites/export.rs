//! The Excel export of the site lists (Mes chantiers, Chantiers et sites): the ticked rows
//! (`ids=…`, repeated) or every result (`tout=1`) of the list's criteria, as a .xlsx file with
//! French headers, real dates and numbers (`ouvrage_sheets` does the format).
//!
//! The rows come from the database as a stream, in chunks, to a writer on a blocking thread
//! that fills an anonymous temporary file (gone from the disk as soon as it is closed); the
//! file is then streamed to the client. Memory stays bounded whatever the number of rows, up to
//! the 1,048,575 data rows of an Excel sheet.

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::Context;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use ouvrage_sheets::{Cell, Column, MAX_DATA_ROWS, SheetError, SheetWriter};
use tokio::sync::Semaphore;

use super::Area;
use super::list::{self, criteria};
use super::model::{fr_day, kind_label, operation_label, phase_label, status_label};
use super::search::ListQuery;
use super::store::{self, Scope, SiteFilter, SiteListRow};
use crate::app::AppState;
use crate::db::Db;
use crate::domain::SiteId;
use crate::features::clients::ui::parse_id;
use crate::http::error::error_page;
use crate::http::{Actor, AppResult, Ctx};

pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Rows per chunk from the database to the writer.
const CHUNK: usize = 500;

/// At most this many ticked rows (a page shows 50): beyond, « tous les résultats ».
pub const MAX_TICKED: usize = 1000;

/// Exports written at the same time (each keeps a core busy); the others wait their turn.
static WRITERS: Semaphore = Semaphore::const_new(2);

/// What is exported: every result of the criteria, or the ticked rows among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Ticked(Vec<SiteId>),
}

impl Selection {
    /// `tout=1` (which wins: the ticked boxes go along with any button of the form), else the
    /// `ids` given; `None` when there is neither. An id that is not a number is not found (404),
    /// like any forged id.
    pub fn from_query(raw: &str) -> AppResult<Option<Selection>> {
        let mut ids = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            match &*k {
                "tout" if v.trim() == "1" => return Ok(Some(Selection::All)),
                "ids" if !v.trim().is_empty() => {
                    let id = SiteId(parse_id(&v)?);
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                _ => {}
            }
        }
        Ok(if ids.is_empty() { None } else { Some(Selection::Ticked(ids)) })
    }
}

/// `GET {base}/export.xlsx`: the export of the list `q` for `actor`, the ticked rows or all of
/// them as the raw query string says.
pub async fn export(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    q: ListQuery,
    raw_query: Option<&str>,
) -> AppResult<Response> {
    let (filter, errors) = criteria(&state.db, actor, &q).await?;
    if !errors.is_empty() {
        // The list's own answer: its criteria with their French messages, in a 422.
        return list::list(state, ctx, actor, area, q).await;
    }
    let selection = match Selection::from_query(raw_query.unwrap_or_default())? {
        Some(s) => s,
        None => {
            return Ok(error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Aucun chantier coché",
                "Cochez au moins un chantier dans la liste pour exporter la sélection, ou choisissez « Exporter tous \
                 les résultats ».",
            ));
        }
    };
    let ids = match &selection {
        Selection::All => None,
        Selection::Ticked(ids) if ids.len() > MAX_TICKED => {
            return Ok(error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Trop de chantiers cochés",
                &format!(
                    "Une sélection compte au plus {MAX_TICKED} chantiers : pour en exporter davantage, choisissez « \
                     Exporter tous les résultats » de la recherche."
                ),
            ));
        }
        Selection::Ticked(ids) => Some(ids.as_slice()),
    };
    let scope = Scope::of(actor);
    let total = store::export_count(&state.db, scope, &filter, ids).await?;
    if total > i64::from(MAX_DATA_ROWS) {
        return Ok(error_page(StatusCode::UNPROCESSABLE_ENTITY, "Export trop volumineux", &too_many_message(total)));
    }
    let _turn = WRITERS.acquire().await.context("export queue closed")?;
    let file = write_to_tempfile(&state.db, scope, &filter, ids, area.is_bo()).await?;
    download(file, &file_name())
}

fn too_many_message(total: i64) -> String {
    format!(
        "Cette recherche compte {} chantiers ; une feuille Excel en contient au plus {}. Affinez les critères \
         (client, code postal, période…) et exportez en plusieurs fois.",
        group_thousands(total),
        group_thousands(i64::from(MAX_DATA_ROWS))
    )
}

/// `1048575` → `1 048 575` (a narrow no-break space between groups, as French writes it).
fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `chantiers-2026-11-22.xlsx`, the day in Paris.
fn file_name() -> String {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris);
    format!("chantiers-{}.xlsx", today.format("%Y-%m-%d"))
}

/// Streams the rows from the database to a writer thread that fills an anonymous temporary
/// file; returns the file, rewound.
async fn write_to_tempfile(
    db: &Db,
    scope: Scope,
    filter: &SiteFilter,
    ids: Option<&[SiteId]>,
    bo: bool,
) -> AppResult<std::fs::File> {
    let started = std::time::Instant::now();
    let mut file = tempfile::tempfile().context("temporary file of an export")?;
    let out = file.try_clone().context("temporary file of an export")?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SiteListRow>>(4);
    let writer = tokio::task::spawn_blocking(move || -> Result<u32, SheetError> {
        let mut sheet = SitesSheet::new(BufWriter::new(out), bo)?;
        while let Some(chunk) = rx.blocking_recv() {
            for r in &chunk {
                sheet.push(r)?;
            }
        }
        let rows = sheet.rows();
        sheet.finish()?;
        Ok(rows)
    });
    let read = store::export(db, scope, filter, ids, CHUNK, &tx).await;
    let read_ms = started.elapsed().as_millis() as u64;
    drop(tx);
    let written = writer.await.context("export writer")?;
    let sent = read?;
    let written = written.context("writing the export")?;
    let total_ms = started.elapsed().as_millis() as u64;
    tracing::info!(rows = written, sent, read_ms, total_ms, "site export written");
    file.seek(SeekFrom::Start(0)).context("rewinding the export")?;
    Ok(file)
}

/// The file as an attachment, streamed.
fn download(file: std::fs::File, name: &str) -> AppResult<Response> {
    let len = file.metadata().context("size of the export")?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file)));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// The sheet

/// The columns of the export; the client's code and name only in the back office.
pub fn columns(bo: bool) -> Vec<Column> {
    let mut cols = Vec::new();
    if bo {
        cols.push(Column::text("Code client", 11.0));
        cols.push(Column::text("Client", 28.0));
    }
    cols.extend([
        Column::text("Nom", 34.0),
        Column::text("Type", 11.0),
        Column::text("Numéro", 8.0),
        Column::text("Voie", 30.0),
        Column::text("Code postal", 11.0),
        Column::text("Commune", 24.0),
        Column::text("Code INSEE", 11.0),
        Column::text("Conducteur de travaux", 24.0),
        Column::text("Type d'opération", 16.0),
        Column::text("Phase", 11.0),
        Column::text("Statut", 12.0),
        Column::date("Date d'intervention prévue", 15.0),
        Column::date("Date d'intervention réelle", 15.0),
        Column::text("Permis de construire", 24.0),
        Column::text("Maître d'ouvrage", 30.0),
        Column::integer("Logements", 11.0),
        Column::text("Archivé", 9.0),
    ]);
    cols
}

/// A stored `YYYY-MM-DD` as a date cell (anything else as it is stored).
fn day(stored: Option<&str>) -> Cell {
    match stored.map(str::trim) {
        None | Some("") => Cell::Empty,
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_or_else(|_| Cell::text(fr_day(s)), Cell::Date),
    }
}

/// The cells of one site, in the order of [`columns`].
pub fn cells(r: &SiteListRow, bo: bool) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(19);
    if bo {
        cells.push(Cell::text(&r.client_code));
        cells.push(Cell::text(&r.client_name));
    }
    cells.extend([
        Cell::text(&r.name),
        Cell::text(kind_label(&r.kind)),
        Cell::text(&r.street_number),
        Cell::text(&r.street),
        Cell::text(&r.postcode),
        Cell::text(&r.city),
        Cell::text(&r.city_code),
        Cell::Text(r.manager_name()),
        Cell::text(operation_label(&r.operation_type)),
        Cell::text(phase_label(&r.phase)),
        Cell::text(status_label(&r.status)),
        day(r.expected_date.as_deref()),
        day(r.actual_date.as_deref()),
        Cell::text(&r.permit_number),
        Cell::text(&r.owner_name),
        Cell::opt_int(r.dwellings),
        Cell::text(if r.archived { "Oui" } else { "Non" }),
    ]);
    cells
}

/// A sheet of sites being written.
pub struct SitesSheet<W: Write + Send> {
    sheet: SheetWriter<W>,
    bo: bool,
}

impl<W: Write + Send> SitesSheet<W> {
    pub fn new(out: W, bo: bool) -> Result<SitesSheet<W>, SheetError> {
        Ok(SitesSheet { sheet: SheetWriter::new(out, "Chantiers", &columns(bo))?, bo })
    }

    pub fn push(&mut self, r: &SiteListRow) -> Result<(), SheetError> {
        self.sheet.write_row(&cells(r, self.bo))
    }

    pub fn rows(&self) -> u32 {
        self.sheet.rows()
    }

    pub fn finish(self) -> Result<W, SheetError> {
        self.sheet.finish()
    }
}

/// Writes `rows` as the export's workbook at `path` (the back office's columns when `bo`), without
/// the database or HTTP: what the benchmark harness times. Returns the number of rows.
pub fn write_sites_xlsx<'a>(
    rows: impl IntoIterator<Item = &'a SiteListRow>,
    bo: bool,
    path: &Path,
) -> Result<u32, SheetError> {
    let mut sheet = SitesSheet::new(BufWriter::new(std::fs::File::create(path)?), bo)?;
    for r in rows {
        sheet.push(r)?;
    }
    let n = sheet.rows();
    sheet.finish()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClientId;

    fn row(n: i64) -> SiteListRow {
        SiteListRow {
            id: SiteId(n),
            client_id: ClientId(1),
            client_code: "C001".into(),
            client_name: "Maisons Horizon".into(),
            kind: "construction".into(),
            parent_id: None,
            name: format!("Maison témoin n° {n}"),
            street_number: "12".into(),
            street: "rue des Lilas".into(),
            postcode: "44300".into(),
            city_code: "44109".into(),
            city: "Nantes".into(),
            operation_type: "individual".into(),
            phase: "works".into(),
            status: "scheduled".into(),
            expected_date: Some("2026-11-22".into()),
            actual_date: None,
            permit_number: format!("PC 044 109 25 A{n:04}"),
            owner_name: "M. et Mme Kervégan".into(),
            dwellings: Some(n % 40),
            archived: false,
            manager_id: None,
            manager_first_name: Some("Julien".into()),
            manager_last_name: Some("Lefèvre".into()),
        }
    }

    #[test]
    fn the_selection_comes_from_the_query_string() {
        assert_eq!(Selection::from_query("cp=44").unwrap(), None);
        assert_eq!(Selection::from_query("ids=&cp=44").unwrap(), None);
        assert_eq!(
            Selection::from_query("ids=3&cp=44&ids=1&ids=3").unwrap(),
            Some(Selection::Ticked(vec![SiteId(3), SiteId(1)]))
        );
        assert_eq!(Selection::from_query("ids=3&tout=1").unwrap(), Some(Selection::All), "tout wins");
        assert_eq!(Selection::from_query("tout=0").unwrap(), None);
        assert!(Selection::from_query("ids=1%3B%20DROP").is_err(), "a forged id is not found");
    }

    #[test]
    fn one_cell_per_column_and_typed() {
        let r = row(7);
        assert_eq!(cells(&r, true).len(), columns(true).len());
        assert_eq!(cells(&r, false).len(), columns(false).len());
        let c = cells(&r, false);
        let h: Vec<String> = columns(false).into_iter().map(|c| c.header).collect();
        let at = |name: &str| &c[h.iter().position(|x| x == name).unwrap()];
        assert_eq!(at("Type"), &Cell::text("Chantier"));
        assert_eq!(at("Conducteur de travaux"), &Cell::text("Julien Lefèvre"));
        assert_eq!(at("Type d'opération"), &Cell::text("Individuel"));
        assert_eq!(at("Statut"), &Cell::text("Planifié"));
        assert_eq!(at("Date d'intervention prévue"), &Cell::Date(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()));
        assert_eq!(at("Date d'intervention réelle"), &Cell::Empty);
        assert_eq!(at("Logements"), &Cell::Int(7));
        assert_eq!(at("Archivé"), &Cell::text("Non"));
    }

    #[test]
    fn the_limit_is_explained_in_french() {
        assert_eq!(group_thousands(1_048_575), "1\u{202f}048\u{202f}575");
        assert_eq!(group_thousands(999), "999");
        let m = too_many_message(2_000_000);
        assert!(m.contains("2\u{202f}000\u{202f}000 chantiers") && m.contains("Affinez les critères"), "{m}");
    }
}
