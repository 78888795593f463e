//! Properties on generated input (proptest): whatever the bytes, `parse` returns, without
//! panicking, either an error or a study the app can store as JSON and show.

use std::sync::OnceLock;

use ouvrage_thermal::{Building, ParseError, ThermalStudy, parse};
use proptest::prelude::*;

use super::{DPE_COLLECTIVE, DPE_HOUSE, EC_RSEE, RE2020_COLLECTIVE, RE2020_HOUSE, RT2012, sample};

/// What every study read from any input must satisfy.
fn check(result: Result<ThermalStudy, ParseError>) -> Result<(), TestCaseError> {
    let study = match result {
        Ok(study) => study,
        Err(error) => {
            prop_assert!(error.to_string().contains("Fichier attendu"), "{error}");
            return Ok(());
        }
    };
    prop_assert!(study.buildings.windows(2).all(|pair| pair[0].index < pair[1].index), "{:?}", study.buildings);
    for b in &study.buildings {
        prop_assert!(numbers(b).into_iter().flatten().all(f64::is_finite), "non-finite value in {b:?}");
    }
    prop_assert!(study.warnings.len() <= 51, "{} warnings", study.warnings.len());
    // The app stores the study as JSON and reads it back to show the chantier (serde_json may
    // read a float back one unit in the last place away).
    let json = serde_json::to_string(&study).expect("study to JSON");
    let mut back: ThermalStudy = serde_json::from_str(&json).expect("study from JSON");
    prop_assert_eq!(back.buildings.len(), study.buildings.len());
    for (read, written) in back.buildings.iter_mut().zip(&study.buildings) {
        for (read, written) in numbers(read).into_iter().zip(numbers(written)) {
            prop_assert!(
                read.zip(written).map_or(read == written, |(r, w)| (r - w).abs() <= w.abs() * 1e-15),
                "{read:?} read back for {written:?}"
            );
        }
        *read = written.clone();
    }
    prop_assert_eq!(back, study);
    Ok(())
}

fn numbers(b: &Building) -> [Option<f64>; 7] {
    [b.shab, b.sref, b.bbio, b.cep, b.cep_nr, b.ic_construction, b.ic_energie]
}

/// The study samples and the E+C- one built in samples.rs, read once.
fn originals() -> &'static [Vec<u8>] {
    static ORIGINALS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ORIGINALS.get_or_init(|| {
        let mut all: Vec<Vec<u8>> =
            [RT2012, RE2020_COLLECTIVE, RE2020_HOUSE, DPE_HOUSE, DPE_COLLECTIVE].map(sample).to_vec();
        all.push(EC_RSEE.as_bytes().to_vec());
        all
    })
}

/// Pieces of thermal-study XML and of what damages it.
fn markup_piece() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "RSET",
        "projet",
        "RSEnv",
        "Datas_Comp",
        "donnees_generales",
        "operation",
        "nom",
        "name",
        "adresse",
        "Entree_Projet",
        "Sortie_Projet",
        "Batiment_Collection",
        "Batiment",
        "batiment_collection",
        "batiment",
        "Index",
        "index",
        "Zone",
        "NB_logement",
        "Groupe",
        "SHAB",
        "O_SHAB",
        "O_SREF",
        "Sortie_Batiment_B",
        "O_Bbio_pts_annuel",
        "Sortie_Batiment_C",
        "O_Cep_annuel",
        "O_Cef_elec_imp_ch_annuel",
        "vecteur_energie_principal_ch",
        "usage_principal",
        "Version",
        "dpe",
    ]);
    prop_oneof![
        names.clone().prop_map(|n| format!("<{n}>")),
        names.clone().prop_map(|n| format!("</{n}>")),
        names.prop_map(|n| format!("<{n} xsi:nil=\"true\"/>")),
        number(),
        "[a-zA-Zéà 0-9]{0,12}",
        Just("<?xml version=\"1.0\" encoding=\"utf-8\"?>".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("]]>".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#233;".to_owned()),
        Just("&#xFFFFFFFF;".to_owned()),
        Just("&x;".to_owned()),
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just("\"".to_owned()),
    ]
}

/// Number-like text as studies write it, and the edges of f64 and u32.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        "-?[0-9 ]{0,12}([.,][0-9]{0,6})?([eE][-+]?[0-9]{1,3})?",
        Just("1e308".to_owned()),
        Just("1,7976931348623157e308".to_owned()),
        Just("4294967295".to_owned()),
        Just("4294967296".to_owned()),
        Just("NaN".to_owned()),
        Just("-INF".to_owned()),
        Just("1.#IND".to_owned()),
        Just("".to_owned()),
    ]
}

/// One edit of a file: what to do, where (a fraction of the length), and with what.
#[derive(Clone, Debug)]
enum Edit {
    Truncate(f64),
    SetByte(f64, u8),
    Insert(f64, String),
    Delete(f64, usize),
    Duplicate(f64, usize),
    /// Replaces the text of the element whose content starts after the `>` found from there.
    ReplaceText(f64, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    prop_oneof![
        at.clone().prop_map(Edit::Truncate),
        (at.clone(), any::<u8>()).prop_map(|(at, b)| Edit::SetByte(at, b)),
        (at.clone(), markup_piece()).prop_map(|(at, s)| Edit::Insert(at, s)),
        (at.clone(), 0..400usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (at.clone(), 0..2000usize).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (at.clone(), number()).prop_map(|(at, s)| Edit::ReplaceText(at, s)),
        (at, markup_piece()).prop_map(|(at, s)| Edit::ReplaceText(at, s)),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let index = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
    match edit {
        Edit::Truncate(at) => bytes.truncate(index(*at, bytes.len())),
        Edit::SetByte(at, b) => {
            let i = index(*at, bytes.len());
            if let Some(slot) = bytes.get_mut(i) {
                *slot = *b;
            }
        }
        Edit::Insert(at, text) => {
            let i = index(*at, bytes.len());
            bytes.splice(i..i, text.bytes());
        }
        Edit::Delete(at, n) => {
            let i = index(*at, bytes.len());
            bytes.drain(i..(i + n).min(bytes.len()));
        }
        Edit::Duplicate(at, n) => {
            let i = index(*at, bytes.len());
            let copy = bytes[i..(i + n).min(bytes.len())].to_vec();
            bytes.splice(i..i, copy);
        }
        Edit::ReplaceText(at, text) => {
            let from = index(*at, bytes.len());
            let Some(open) = bytes[from..].iter().position(|&b| b == b'>').map(|p| from + p + 1) else { return };
            let close = bytes[open..].iter().position(|&b| b == b'<').map_or(bytes.len(), |p| open + p);
            bytes.splice(open..close, text.bytes());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(parse(&bytes))?;
    }

    #[test]
    fn markup_soup_never_panics(
        root in prop::sample::select(vec!["RSET", "projet"]),
        pieces in prop::collection::vec(markup_piece(), 0..60),
    ) {
        let xml = format!("<{root}>{}</{root}>", pieces.concat());
        check(parse(xml.as_bytes()))?;
    }

    #[test]
    fn edited_samples_never_panic(
        which in 0..6usize,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = originals()[which].clone();
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        check(parse(&bytes))?;
    }

    #[test]
    fn group_surfaces_add_up_to_a_finite_shab(surfaces in prop::collection::vec(number(), 1..8)) {
        let groups: String =
            surfaces.iter().map(|shab| format!("<Groupe><Index>1</Index><SHAB>{shab}</SHAB></Groupe>")).collect();
        let xml = format!(
            "<RSET><Entree_Projet><Batiment_Collection><Batiment><Index>1</Index><Zone_Collection><Zone>\
             <Groupe_Collection>{groups}</Groupe_Collection></Zone></Zone_Collection></Batiment>\
             </Batiment_Collection></Entree_Projet></RSET>"
        );
        check(parse(xml.as_bytes()))?;
    }

    #[test]
    fn any_values_in_the_rt2012_sample_never_panic(
        edits in prop::collection::vec((0.0..1.0f64, number()).prop_map(|(at, s)| Edit::ReplaceText(at, s)), 1..40),
    ) {
        // The small sample, many values at a time: the sums and the choice of energies see them all.
        let mut bytes = originals()[0].clone();
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        check(parse(&bytes))?;
    }
}
