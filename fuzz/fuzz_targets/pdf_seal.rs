//! Sealing an arbitrary uploaded PDF, stamp included: never a panic that escapes `seal`; a file
//! the upload check accepted (`page_count`) is sealed, one it refused is not, and the sealed file
//! opens with the evidence page added.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouvrage_pdfsign::{Anchor, Evidence, SealInput, Stamp, StampPage, page_count, sample_signature_png, seal};

fuzz_target!(|data: &[u8]| {
    ouvrage_fuzz::run(|| {
        let png = sample_signature_png(120, 60);
        let input = SealInput {
            original: data,
            stamp: Some(Stamp {
                page: StampPage::Last,
                anchor: Anchor::BottomRight,
                png: &png,
                caption: "Signé par Jean Dupont le 23/11/2026 à 14:05".to_owned(),
            }),
            evidence: Evidence {
                title: "Justificatif de signature".to_owned(),
                lines: vec![("Signataire".to_owned(), "Jean Dupont".to_owned())],
            },
            reason: "Signature électronique du client".to_owned(),
            location: "Ouvrage".to_owned(),
            signer_name: "Jean Dupont".to_owned(),
            signing_time_unix: 1_795_442_709,
        };
        match (page_count(data), seal(&input, ouvrage_fuzz::identity())) {
            (Ok(before), Ok(sealed)) => {
                let after = page_count(&sealed).expect("the sealed file opens");
                assert!(after > before, "no evidence page added: {before} -> {after} pages");
            }
            (Ok(pages), Err(error)) => panic!("accepted on upload ({pages} pages) but not sealed: {error}"),
            (Err(error), Ok(_)) => panic!("refused on upload ({error}) but sealed"),
            (Err(_), Err(_)) => {}
        }
    });
});
