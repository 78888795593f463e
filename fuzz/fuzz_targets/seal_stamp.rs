//! The drawn signature (PNG bytes from the client's browser) stamped on a generated PDF: a sealed
//! file or `InvalidImage`/`ImageTooLarge`, never a panic that escapes `seal`. The first byte picks
//! the page and the corner.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ouvrage_pdfsign::{Anchor, Evidence, SealInput, Stamp, StampPage, sample_pdf, seal};

fuzz_target!(|data: &[u8]| {
    static ORIGINAL: OnceLock<Vec<u8>> = OnceLock::new();
    let original = ORIGINAL.get_or_init(|| sample_pdf(2, "Procès-verbal de réception"));
    let Some((&choice, png)) = data.split_first() else { return };
    let anchors = [Anchor::BottomRight, Anchor::BottomLeft, Anchor::BottomCenter, Anchor::TopRight, Anchor::TopLeft];
    let page = match choice >> 4 {
        0 => StampPage::Last,
        n => StampPage::Number(u32::from(n)),
    };
    ouvrage_fuzz::run(|| {
        let input = SealInput {
            original,
            stamp: Some(Stamp {
                page,
                anchor: anchors[usize::from(choice & 0x0F) % anchors.len()],
                png,
                caption: "Signé par Jean Dupont le 23/11/2026 à 14:05".to_owned(),
            }),
            evidence: Evidence::default(),
            reason: "Signature électronique du client".to_owned(),
            location: "Ouvrage".to_owned(),
            signer_name: "Jean Dupont".to_owned(),
            signing_time_unix: 1_795_442_709,
        };
        let _ = seal(&input, ouvrage_fuzz::identity());
    });
});
