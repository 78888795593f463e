//! Our .xlsx writer alone, on the rows `bench/peers/peers.py` gives openpyxl and XlsxWriter:
//! the export's 19 back-office columns, 100,000 rows built before the clock starts, written to
//! a file. The HTTP export (`sites_export`) adds the database and the download to this.

use std::time::Instant;

use serde::Serialize;

use crate::domain::{ClientId, ContactId, SiteId};
use crate::features::sites::export::write_sites_xlsx;
use crate::features::sites::store::SiteListRow;

/// Rows of the side-by-side.
pub const ROWS: usize = 100_000;

#[derive(Clone, Debug, Serialize)]
pub struct WriterBench {
    pub rows: u32,
    pub seconds: f64,
    pub bytes: u64,
}

/// Row `i` of the side-by-side; `peers.py` builds the same values (`export_row`).
pub fn row(i: usize) -> SiteListRow {
    let client = i % 2000 + 1;
    let day =
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default() + chrono::Duration::days((i % 365) as i64);
    let day = day.format("%Y-%m-%d").to_string();
    SiteListRow {
        id: SiteId(i as i64 + 1),
        client_id: ClientId(client as i64),
        client_code: format!("C{client:05}"),
        client_name: format!("Maisons de l'Atlantique {client}"),
        kind: "construction".into(),
        parent_id: None,
        name: format!("Maison Perrin — lot {i}"),
        street_number: (i % 150 + 1).to_string(),
        street: "rue des Lilas".into(),
        postcode: "44000".into(),
        city_code: "44109".into(),
        city: "Nantes".into(),
        operation_type: "individual".into(),
        phase: "works".into(),
        status: if i.is_multiple_of(2) { "done" } else { "scheduled" }.into(),
        expected_date: Some(day.clone()),
        actual_date: i.is_multiple_of(2).then_some(day),
        permit_number: format!("PC 044 109 25 A{:04}", i % 10_000),
        owner_name: "M. et Mme Perrin".into(),
        dwellings: Some(1),
        archived: false,
        manager_id: Some(ContactId(1)),
        manager_first_name: Some("Julien".into()),
        manager_last_name: Some("Lefèvre".into()),
    }
}

/// Writes `n` rows to a temporary file and times it.
pub fn bench_writer(n: usize) -> anyhow::Result<WriterBench> {
    let rows: Vec<SiteListRow> = (0..n).map(row).collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("chantiers.xlsx");
    let started = Instant::now();
    let written = write_sites_xlsx(rows.iter(), true, &path)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(WriterBench { rows: written, seconds, bytes: std::fs::metadata(&path)?.len() })
}
