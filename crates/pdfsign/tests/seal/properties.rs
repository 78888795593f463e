//! Properties on generated input (proptest): whatever the bytes of the upload or of the drawn
//! signature, `page_count` and `seal` answer with a page count, sealed bytes or a French refusal,
//! never a panic; and what the upload check accepts, sealing accepts too.

use std::sync::OnceLock;

use ouvrage_pdfsign::{Anchor, SignError, SigningIdentity, StampPage, page_count, sample_pdf, seal};
use proptest::prelude::*;

use super::{encode_png, input, signature_png, stamp};

fn shared_identity() -> &'static SigningIdentity {
    static IDENTITY: OnceLock<SigningIdentity> = OnceLock::new();
    IDENTITY.get_or_init(super::identity)
}

fn stamp_png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(signature_png)
}

/// The upload check and sealing agree on `bytes`: both refuse it, or it has pages and its sealed
/// version has them plus the evidence page.
fn check_pdf(bytes: &[u8]) -> Result<(), TestCaseError> {
    let sealed = seal(&input(bytes, Some(stamp(stamp_png(), StampPage::Last, Anchor::BottomRight))), shared_identity());
    match (page_count(bytes), sealed) {
        (Ok(pages), Ok(sealed)) => {
            prop_assert!(pages > 0);
            let after = page_count(&sealed);
            prop_assert!(after.as_ref().is_ok_and(|&after| after > pages), "{pages} pages, then {after:?}");
        }
        (Ok(pages), Err(error)) => prop_assert!(false, "accepted on upload ({pages} pages) but not sealed: {error:?}"),
        (Err(error), Ok(_)) => prop_assert!(false, "refused on upload ({error:?}) but sealed"),
        (Err(error), Err(_)) => prop_assert!(
            matches!(error, SignError::UnreadablePdf | SignError::PasswordProtected | SignError::NoPages),
            "{error:?}"
        ),
    }
    Ok(())
}

/// The documents edited below: generated ones and a Factur-X invoice from shared/samples.
fn originals() -> &'static [Vec<u8>] {
    static ORIGINALS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ORIGINALS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf");
        let invoice = std::fs::read(path).expect("Factur-X sample");
        vec![sample_pdf(1, "Devis"), sample_pdf(3, "Procès-verbal de réception"), invoice]
    })
}

/// Pieces of PDF syntax, to build and damage files.
fn pdf_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"1 0 obj".to_vec()),
        Just(b"endobj\n".to_vec()),
        Just(b"<<".to_vec()),
        Just(b">>".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"(".to_vec()),
        Just(b")".to_vec()),
        Just(b"/Type /Page ".to_vec()),
        Just(b"/Type /Pages /Kids [2 0 R] /Count 1 ".to_vec()),
        Just(b"/Type /Catalog /Pages 1 0 R ".to_vec()),
        Just(b"/Parent 1 0 R /MediaBox [0 0 595 842] /Rotate 90 ".to_vec()),
        Just(b"/Contents 3 0 R ".to_vec()),
        Just(b"/Length 10 >>\nstream\nBT ET q Q\nendstream\n".to_vec()),
        Just(b"/Filter /FlateDecode ".to_vec()),
        Just(b"/Encrypt 9 0 R ".to_vec()),
        Just(b"/Type /ObjStm /N 2 /First 8 ".to_vec()),
        Just(b"xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \n".to_vec()),
        Just(b"trailer\n<< /Size 4 /Root 2 0 R /Prev 0 >>\n".to_vec()),
        Just(b"startxref\n9\n".to_vec()),
        Just(b" 2 0 R ".to_vec()),
        Just(b"%%EOF\n".to_vec()),
        any::<i64>().prop_map(|n| format!(" {n} ").into_bytes()),
        "[ -~]{0,12}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..16),
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    SetByte(f64, u8),
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Duplicate(f64, usize),
    /// Replaces the run of digits found from there (object numbers, offsets, lengths, counts).
    ReplaceNumber(f64, i64),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), any::<u8>()).prop_map(|(at, b)| Edit::SetByte(at, b)),
        (at.clone(), pdf_piece()).prop_map(|(at, s)| Edit::Insert(at, s)),
        (at.clone(), 0..300usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (at.clone(), 0..1000usize).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (at, prop_oneof![-2..12i64, any::<i64>()]).prop_map(|(at, n)| Edit::ReplaceNumber(at, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let index = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
    match edit {
        Edit::SetByte(at, b) => {
            let i = index(*at, bytes.len());
            if let Some(slot) = bytes.get_mut(i) {
                *slot = *b;
            }
        }
        Edit::Insert(at, piece) => {
            let i = index(*at, bytes.len());
            bytes.splice(i..i, piece.iter().copied());
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
        Edit::ReplaceNumber(at, n) => {
            let from = index(*at, bytes.len());
            let Some(start) = bytes[from..].iter().position(u8::is_ascii_digit).map(|p| from + p) else { return };
            let end = bytes[start..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |p| start + p);
            bytes.splice(start..end, n.to_string().into_bytes());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_between_a_pdf_header_and_end_are_counted_or_refused(
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        check_pdf(&[b"%PDF-1.7\n".as_slice(), &body, b"\n%%EOF\n"].concat())?;
    }

    #[test]
    fn pdf_syntax_soup_is_counted_or_refused(pieces in prop::collection::vec(pdf_piece(), 0..40)) {
        check_pdf(&[b"%PDF-1.4\n".to_vec(), pieces.concat(), b"\n%%EOF\n".to_vec()].concat())?;
    }
}

proptest! {
    // Each case may seal a real document (about 5 ms in a debug build).
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn edited_pdfs_are_refused_or_sealed(which in 0..3usize, edits in prop::collection::vec(edit(), 1..5)) {
        let mut bytes = originals()[which].clone();
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        check_pdf(&bytes)?;
    }

    #[test]
    fn any_drawn_signature_is_stamped_or_refused_as_an_image(
        width in 1..80u32,
        height in 1..40u32,
        color in prop::sample::select(vec![
            png::ColorType::Grayscale,
            png::ColorType::GrayscaleAlpha,
            png::ColorType::Rgb,
            png::ColorType::Rgba,
        ]),
        edits in prop::collection::vec(edit(), 0..4),
        page in prop_oneof![Just(StampPage::Last), (0..5u32).prop_map(StampPage::Number)],
        anchor in prop::sample::select(vec![
            Anchor::BottomRight,
            Anchor::BottomLeft,
            Anchor::BottomCenter,
            Anchor::TopRight,
            Anchor::TopLeft,
        ]),
    ) {
        static ORIGINAL: OnceLock<Vec<u8>> = OnceLock::new();
        let original = ORIGINAL.get_or_init(|| sample_pdf(3, "Devis"));
        let channels = match color {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            _ => 4,
        };
        let pixels: Vec<u8> = (0..width * height * channels).map(|i| (i * 37 % 256) as u8).collect();
        let mut png = encode_png(width, height, color, &pixels);
        for edit in &edits {
            apply(&mut png, edit);
        }
        match seal(&input(original, Some(stamp(&png, page, anchor))), shared_identity()) {
            Ok(sealed) => prop_assert_eq!(page_count(&sealed).ok(), Some(4)),
            Err(SignError::PageOutOfRange { page, count }) => {
                prop_assert_eq!(count, 3);
                prop_assert!(page == 0 || page > 3);
            }
            Err(error) => {
                prop_assert!(matches!(error, SignError::InvalidImage | SignError::ImageTooLarge), "{error:?}");
            }
        }
    }
}
