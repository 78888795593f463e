//! The thermal study reader on arbitrary bytes: an `Err` with a French message or a study that
//! the app can store as JSON and show, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouvrage_thermal::{Building, ThermalStudy, parse};

fuzz_target!(|data: &[u8]| {
    ouvrage_fuzz::run(|| match parse(data) {
        Ok(study) => {
            let numbers = |b: &Building| [b.shab, b.sref, b.bbio, b.cep, b.cep_nr, b.ic_construction, b.ic_energie];
            for building in &study.buildings {
                assert!(numbers(building).into_iter().flatten().all(f64::is_finite), "non-finite: {building:?}");
            }
            assert!(study.buildings.windows(2).all(|pair| pair[0].index < pair[1].index), "buildings out of order");
            // The app stores the study as JSON and reads it back when showing the chantier; serde_json
            // may read a float back one unit in the last place away.
            let json = serde_json::to_string(&study).expect("study to JSON");
            let mut back: ThermalStudy = serde_json::from_str(&json).expect("study from JSON");
            assert_eq!(back.buildings.len(), study.buildings.len());
            for (read, written) in back.buildings.iter_mut().zip(&study.buildings) {
                for (r, w) in numbers(read).into_iter().zip(numbers(written)) {
                    let close = r.zip(w).map_or(r == w, |(r, w)| (r - w).abs() <= w.abs() * 1e-15);
                    assert!(close, "{r:?} read back for {w:?}");
                }
                *read = written.clone();
            }
            assert_eq!(back, study, "JSON round trip");
            let _ = (study.building_type.label(), study.format.label());
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            let _ = error.code();
        }
    });
});
