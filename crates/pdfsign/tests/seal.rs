//! Seals real PDFs and checks them with the tools a recipient would use: poppler's `pdfsig`
//! for the signature, `qpdf --check` for the structure, `pdftotext` for what is printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use lopdf::{Document, Object};
use ouvrage_pdfsign::{
    Anchor, Evidence, SealInput, SignError, SigningIdentity, Stamp, StampPage, page_count, sample_pdf, seal,
};
use tempfile::TempDir;

#[path = "seal/properties.rs"]
mod properties;

const CAPTION: &str = "Signé par Jean Dupont le 23/11/2026 à 14:05";
const SIGNING_TIME: i64 = 1_795_442_709; // 2026-11-23 14:05:09 UTC

/// The path of a command-line tool the tests need, or a panic that says which package to install.
fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("`{name}` is missing: these tests run the real tool (apt-get install {package})");
}

fn run(program: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(program).args(args).output().expect("run tool");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

/// pdfsig's report, without certificate checks (the test certificates are self-signed, and
/// no network is needed).
fn pdfsig(pdf: &[u8]) -> String {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "sealed.pdf", pdf);
    run(&tool("pdfsig", "poppler-utils"), &["-nocert", path.to_str().unwrap()]).1
}

fn assert_valid(pdf: &[u8], common_name: &str) {
    let report = pdfsig(pdf);
    assert!(report.contains("Signature Validation: Signature is Valid."), "pdfsig:\n{report}");
    assert!(report.contains(&format!("Signer Certificate Common Name: {common_name}")), "pdfsig:\n{report}");
    assert!(report.contains("Signature Type: ETSI.CAdES.detached"), "pdfsig:\n{report}");
    assert!(report.contains("Total document signed"), "pdfsig:\n{report}");
}

fn assert_invalid(pdf: &[u8]) {
    let report = pdfsig(pdf);
    assert!(report.contains("Signature Validation:"), "pdfsig found no signature:\n{report}");
    assert!(!report.contains("Signature is Valid."), "pdfsig:\n{report}");
    assert!(report.contains("Signature is Invalid") || report.contains("Digest Mismatch"), "pdfsig:\n{report}");
}

fn assert_qpdf_check(pdf: &[u8]) {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "sealed.pdf", pdf);
    let (ok, report) = run(&tool("qpdf", "qpdf"), &["--check", path.to_str().unwrap()]);
    assert!(ok && report.contains("No syntax or stream encoding errors found"), "qpdf --check:\n{report}");
}

/// Text of pages `first..=last` as pdftotext extracts it.
fn page_text(pdf: &[u8], first: u32, last: u32) -> String {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "sealed.pdf", pdf);
    let (ok, text) = run(
        &tool("pdftotext", "poppler-utils"),
        &["-f", &first.to_string(), "-l", &last.to_string(), path.to_str().unwrap(), "-"],
    );
    assert!(ok, "pdftotext failed: {text}");
    text
}

/// A transparent canvas with a dark stroke, as `canvas.toDataURL('image/png')` gives.
fn signature_png() -> Vec<u8> {
    let (width, height) = (400u32, 150u32);
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    for x in 20..width - 20 {
        let y = height / 2 + ((x as f32 / 25.0).sin() * 40.0) as u32;
        for dy in 0..5 {
            let at = (((y + dy) * width + x) * 4) as usize;
            pixels[at..at + 4].copy_from_slice(&[15, 25, 90, 255]);
        }
    }
    encode_png(width, height, png::ColorType::Rgba, &pixels)
}

fn encode_png(width: u32, height: u32, color: png::ColorType, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().unwrap().write_image_data(pixels).unwrap();
    out
}

fn evidence() -> Evidence {
    Evidence {
        title: "Attestation de signature électronique".to_string(),
        lines: vec![
            ("Signataire".to_string(), "Jean Dupont – client (jean.dupont@exemple.fr)".to_string()),
            ("Document".to_string(), "Procès-verbal de réception « Façade & œuvre »".to_string()),
            ("Date et heure".to_string(), "23/11/2026 à 14:05:09 (heure de Paris)".to_string()),
            ("Adresse IP".to_string(), "203.0.113.7".to_string()),
            (
                "Empreinte SHA-256 du document d'origine".to_string(),
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string(),
            ),
            ("Montant".to_string(), "1 250,00 € TTC — déjà réglé".to_string()),
        ],
    }
}

fn input<'a>(original: &'a [u8], stamp: Option<Stamp<'a>>) -> SealInput<'a> {
    SealInput {
        original,
        stamp,
        evidence: evidence(),
        reason: "Signature électronique du client".to_string(),
        location: "Saint-Étienne".to_string(),
        signer_name: "Jean Dupont".to_string(),
        signing_time_unix: SIGNING_TIME,
    }
}

fn stamp(png: &[u8], page: StampPage, anchor: Anchor) -> Stamp<'_> {
    Stamp { page, anchor, png, caption: CAPTION.to_string() }
}

fn identity() -> SigningIdentity {
    SigningIdentity::generate("Sceau Bâtiments Dupont", "Bâtiments Dupont & Fils").unwrap()
}

/// Names of the image XObjects a page's content draws (`/Name Do`) that are in its resources.
fn drawn_images(doc: &Document, page_number: u32) -> Vec<lopdf::Dictionary> {
    let page_id = doc.get_pages()[&page_number];
    let page = doc.get_dictionary(page_id).unwrap();
    let resources = match page.get(b"Resources").unwrap() {
        Object::Reference(id) => doc.get_dictionary(*id).unwrap(),
        Object::Dictionary(dict) => dict,
        other => panic!("resources: {other:?}"),
    };
    let Ok(xobjects) = resources.get(b"XObject") else {
        return Vec::new();
    };
    let xobjects = match xobjects {
        Object::Reference(id) => doc.get_dictionary(*id).unwrap(),
        Object::Dictionary(dict) => dict,
        other => panic!("xobjects: {other:?}"),
    };
    let content = String::from_utf8_lossy(&doc.get_page_content(page_id)).into_owned();
    xobjects
        .iter()
        .filter(|(name, _)| content.contains(&format!("/{} Do", String::from_utf8_lossy(name))))
        .filter_map(|(_, object)| doc.get_object(object.as_reference().ok()?).ok()?.as_stream().ok())
        .filter(|stream| stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image"))
        .map(|stream| stream.dict.clone())
        .collect()
}

/// The signature dictionary, through the AcroForm's signature field.
fn signature_dictionary(doc: &Document) -> lopdf::Dictionary {
    let catalog = doc.catalog().unwrap();
    let form = match catalog.get(b"AcroForm").unwrap() {
        Object::Reference(id) => doc.get_dictionary(*id).unwrap(),
        Object::Dictionary(dict) => dict,
        other => panic!("AcroForm: {other:?}"),
    };
    assert_eq!(form.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
    let fields = form.get(b"Fields").unwrap().as_array().unwrap();
    let field = fields
        .iter()
        .map(|f| doc.get_dictionary(f.as_reference().unwrap()).unwrap())
        .find(|f| f.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig"))
        .expect("a signature field");
    doc.get_dictionary(field.get(b"V").unwrap().as_reference().unwrap()).unwrap().clone()
}

fn text_string(object: &Object) -> String {
    let bytes = object.as_str().unwrap();
    match bytes.strip_prefix(&[0xFE, 0xFF]) {
        Some(utf16) => {
            String::from_utf16(&utf16.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>()).unwrap()
        }
        None => String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// The signed ranges from the sealed file's ByteRange.
fn byte_range(pdf: &[u8]) -> [usize; 4] {
    let doc = Document::load_mem(pdf).unwrap();
    let range = signature_dictionary(&doc).get(b"ByteRange").unwrap().as_array().unwrap().clone();
    let values: Vec<usize> = range.iter().map(|v| v.as_i64().unwrap() as usize).collect();
    [values[0], values[1], values[2], values[3]]
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn sealed_sample_is_valid_structurally_sound_and_stamped_on_the_chosen_page() {
    let original = sample_pdf(3, "Devis n° 42");
    let png = signature_png();
    let identity = identity();
    let sealed =
        seal(&input(&original, Some(stamp(&png, StampPage::Number(2), Anchor::BottomRight))), &identity).unwrap();

    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);
    assert_eq!(page_count(&sealed).unwrap(), 4, "three pages and the evidence page");
    assert!(sealed.starts_with(&original), "the changes are appended, the original bytes kept");

    // The caption is printed on page 2 only, and page 2 alone draws the transparent image.
    assert!(page_text(&sealed, 2, 2).contains(CAPTION));
    assert!(!page_text(&sealed, 1, 1).contains("Signé par"));
    assert!(!page_text(&sealed, 3, 3).contains("Signé par"));
    let doc = Document::load_mem(&sealed).unwrap();
    let images = drawn_images(&doc, 2);
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].get(b"Width").unwrap().as_i64().unwrap(), 400);
    assert!(images[0].has(b"SMask"), "the canvas's transparency is kept");
    assert!(drawn_images(&doc, 1).is_empty() && drawn_images(&doc, 3).is_empty());
    // The original text is still there under the stamp.
    assert!(page_text(&sealed, 2, 2).contains("Devis n° 42 – page 2 / 3"));

    let signature = signature_dictionary(&doc);
    assert_eq!(signature.get(b"SubFilter").unwrap().as_name().unwrap(), b"ETSI.CAdES.detached");
    assert_eq!(text_string(signature.get(b"Name").unwrap()), "Jean Dupont");
    assert_eq!(text_string(signature.get(b"Reason").unwrap()), "Signature électronique du client");
    assert_eq!(text_string(signature.get(b"Location").unwrap()), "Saint-Étienne");
    assert_eq!(text_string(signature.get(b"M").unwrap()), "D:20261123140509+00'00'");
    assert!(pdfsig(&sealed).contains("Signing Time: Nov 23 2026 14:05:09"));
}

#[test]
fn evidence_page_prints_the_lines_with_their_accents() {
    let original = sample_pdf(2, "Contrat");
    let identity = identity();
    let sealed = seal(&input(&original, None), &identity).unwrap();
    assert_eq!(page_count(&sealed).unwrap(), 3);
    let text = page_text(&sealed, 3, 3);
    assert!(text.contains("Attestation de signature électronique"), "{text}");
    for (label, value) in evidence().lines {
        // A long label may wrap: its words are all there.
        for word in label.split(' ') {
            assert!(text.contains(word), "label word {word:?} missing from:\n{text}");
        }
        // A long value may wrap too.
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        assert!(squash(&text).contains(&squash(&value)), "value {value:?} missing from:\n{text}");
    }
    assert!(text.contains("Procès-verbal de réception « Façade & œuvre »"), "{text}");
    assert!(text.contains("1 250,00 € TTC — déjà réglé"), "{text}");
    // The seal's own line names the certificate.
    assert!(text.contains("Bâtiments Dupont & Fils"), "{text}");
    assert!(text.contains(&identity.certificate_sha256()[..32]), "{text}");
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
}

#[test]
fn long_evidence_continues_on_further_pages() {
    let original = sample_pdf(1, "Contrat");
    let mut input = input(&original, None);
    input.evidence.lines = (1..=80).map(|n| (format!("Événement {n}"), format!("Détail n° {n} : ça marche"))).collect();
    let sealed = seal(&input, &identity()).unwrap();
    let pages = page_count(&sealed).unwrap();
    assert!(pages >= 3, "80 lines need more than one evidence page, got {pages} pages");
    let text = page_text(&sealed, 2, pages);
    for n in [1, 40, 80] {
        assert!(text.contains(&format!("Détail n° {n} : ça marche")), "line {n} missing");
    }
    assert!(text.contains("(suite)"));
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);
}

#[test]
fn changing_any_signed_byte_invalidates_the_signature() {
    let original = sample_pdf(3, "Devis");
    let png = signature_png();
    let sealed = seal(&input(&original, Some(stamp(&png, StampPage::Last, Anchor::BottomLeft))), &identity()).unwrap();
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    let [_, first_len, second_start, second_len] = byte_range(&sealed);
    assert_eq!(second_start + second_len, sealed.len(), "the signature covers the whole file");

    // First range: a letter of page 1's text.
    let lorem = position(&sealed, b"Lorem ipsum").unwrap();
    assert!(lorem < first_len);
    let mut tampered = sealed.clone();
    tampered[lorem] = b'M';
    assert_invalid(&tampered);

    // Second range: the signature field's name, written after the signature value.
    let field = position(&sealed[second_start..], b"(Signature1)").unwrap() + second_start;
    let mut tampered = sealed.clone();
    tampered[field + "(Signature".len()] = b'2';
    assert_invalid(&tampered);
}

#[test]
fn factur_x_samples_are_sealed_with_their_attachments() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/facturx");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples)
        .unwrap_or_else(|e| panic!("{}: {e}", samples.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pdf"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected the Factur-X samples in {}", samples.display());
    let png = signature_png();
    let identity = identity();
    let pdfdetach = tool("pdfdetach", "poppler-utils");
    for file in files {
        let original = std::fs::read(&file).unwrap();
        let pages = page_count(&original).unwrap();
        let sealed = seal(&input(&original, Some(stamp(&png, StampPage::Last, Anchor::BottomCenter))), &identity)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_valid(&sealed, "Sceau Bâtiments Dupont");
        assert_qpdf_check(&sealed);
        assert_eq!(page_count(&sealed).unwrap(), pages + 1, "{}", file.display());
        assert!(sealed.starts_with(&original), "{}: appended as an update", file.display());
        assert!(page_text(&sealed, pages, pages).contains(CAPTION), "{}", file.display());

        // The embedded invoice XML is still attached.
        let dir = TempDir::new().unwrap();
        let before = run(&pdfdetach, &["-list", write(&dir, "a.pdf", &original).to_str().unwrap()]).1;
        let after = run(&pdfdetach, &["-list", write(&dir, "b.pdf", &sealed).to_str().unwrap()]).1;
        assert!(before.contains(".xml"), "{}: {before}", file.display());
        assert_eq!(before, after, "{}", file.display());
    }
}

/// Rewrites `original` with qpdf and the given options.
fn qpdf_variant(original: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = TempDir::new().unwrap();
    let input = write(&dir, "in.pdf", original);
    let output = dir.path().join("out.pdf");
    let mut all: Vec<&str> = args.to_vec();
    all.push(input.to_str().unwrap());
    all.push(output.to_str().unwrap());
    let (ok, report) = run(&tool("qpdf", "qpdf"), &all);
    assert!(ok, "qpdf {args:?}: {report}");
    std::fs::read(output).unwrap()
}

#[test]
fn object_streams_linearized_and_empty_password_files_are_sealed() {
    let original = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf"),
    )
    .unwrap();
    let png = signature_png();
    let identity = identity();
    // The last is decrypted and rewritten whole: an appended update would have to be encrypted.
    let variants: [(&str, &[&str], bool); 3] = [
        ("object and xref streams", &["--object-streams=generate"], true),
        ("linearized", &["--linearize"], true),
        ("encrypted, empty user password", &["--encrypt", "", "proprietaire", "256", "--"], false),
    ];
    for (label, args, appended) in variants {
        let variant = qpdf_variant(&original, args);
        assert_eq!(page_count(&variant).unwrap(), 2, "{label}");
        let sealed = seal(&input(&variant, Some(stamp(&png, StampPage::Number(1), Anchor::TopLeft))), &identity)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_valid(&sealed, "Sceau Bâtiments Dupont");
        assert_qpdf_check(&sealed);
        assert!(page_text(&sealed, 1, 1).contains(CAPTION), "{label}");
        assert_eq!(sealed.starts_with(&variant), appended, "{label}");
    }
}

#[test]
fn a_file_with_a_broken_cross_reference_table_is_rewritten_whole() {
    let original = sample_pdf(2, "Réparé");
    // Point startxref at the wrong place, as a file edited by a careless tool does.
    let start = position(&original, b"startxref\n").unwrap() + "startxref\n".len();
    let end = start + original[start..].iter().position(|b| !b.is_ascii_digit()).unwrap();
    let mut broken = original[..start].to_vec();
    broken.extend_from_slice(b"17");
    broken.extend_from_slice(&original[end..]);
    assert_eq!(page_count(&broken).unwrap(), 2, "lopdf repairs it");
    let sealed = seal(&input(&broken, None), &identity()).unwrap();
    assert!(!sealed.starts_with(&broken), "no update is appended to a broken table");
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);
    assert_eq!(page_count(&sealed).unwrap(), 3);
}

#[test]
fn a_file_holding_the_signature_placeholders_is_sealed() {
    // Found by fuzz/pdf_seal: an original holding the ByteRange placeholder array (or a zeroed
    // /Contents of the same size, as another signing tool leaves) made sealing fail, since the
    // placeholders were then found twice in the saved file.
    let mut doc = Document::load_mem(&sample_pdf(2, "Déjà préparé")).unwrap();
    let catalog_id = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let catalog = doc.get_object_mut(catalog_id).unwrap().as_dict_mut().unwrap();
    let placeholder = [0, 9_999_999_999, 9_999_999_999, 9_999_999_999].map(Object::Integer);
    catalog.set("Placeholder", placeholder.to_vec());
    catalog.set("Unsigned", Object::String(vec![0; 16 * 1024], lopdf::StringFormat::Hexadecimal));
    let mut original = Vec::new();
    doc.save_to(&mut original).unwrap();
    assert!(position(&original, b"[0 9999999999 9999999999 9999999999]").is_some());
    let sealed = seal(&input(&original, None), &identity()).unwrap();
    assert!(sealed.starts_with(&original), "appended to the original");
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);

    // Rewritten whole (broken cross-reference table), where every object is saved again.
    let start = position(&original, b"startxref\n").unwrap() + "startxref\n".len();
    let end = start + original[start..].iter().position(|b| !b.is_ascii_digit()).unwrap();
    let broken = [&original[..start], b"17", &original[end..]].concat();
    let sealed = seal(&input(&broken, None), &identity()).unwrap();
    assert!(!sealed.starts_with(&broken));
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_eq!(page_count(&sealed).unwrap(), 3);
}

#[test]
fn a_page_tree_that_loops_is_refused() {
    // Found by the property tests (seal/properties.rs): a Kids array pointing back at its own node
    // gave lopdf's walk its first pages again, the upload check accepted the file, and its sealed
    // copy no longer opened.
    let mut doc = Document::load_mem(&sample_pdf(3, "Boucle")).unwrap();
    let catalog_id = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let root_id = doc.get_dictionary(catalog_id).unwrap().get(b"Pages").unwrap().as_reference().unwrap();
    let root = doc.get_object_mut(root_id).unwrap().as_dict_mut().unwrap();
    root.get_mut(b"Kids").unwrap().as_array_mut().unwrap().push(Object::Reference(root_id));
    // The count lopdf reaches, so that only the loop is wrong.
    let reached = doc.get_pages().len() as i64;
    assert!(reached > 3);
    doc.get_object_mut(root_id).unwrap().as_dict_mut().unwrap().set("Count", reached);
    let mut looping = Vec::new();
    doc.save_to(&mut looping).unwrap();
    assert!(matches!(page_count(&looping), Err(SignError::UnreadablePdf)));
    assert!(matches!(seal(&input(&looping, None), &identity()), Err(SignError::UnreadablePdf)));
}

#[test]
fn a_page_drawn_from_the_cross_reference_stream_is_refused() {
    // Found by the property tests (seal/properties.rs): a page whose /Contents named the file's
    // cross-reference stream passed the upload check, but lopdf drops that stream when it saves a
    // repaired file whole, and the sealed copy no longer opened.
    let original = sample_pdf(3, "Contenu");
    let doc = Document::load_mem(&original).unwrap();
    let (xref_id, _) = doc.objects.iter().find(|(_, object)| object.type_name().is_ok_and(|t| t == b"XRef")).unwrap();
    let at = position(&original, b"/Contents ").unwrap() + "/Contents ".len();
    let digits = original[at..].iter().position(|b| !b.is_ascii_digit()).unwrap();
    let edited = [&original[..at], xref_id.0.to_string().as_bytes(), &original[at + digits..]].concat();
    assert_ne!(edited.len(), original.len(), "the offsets move: the file is repaired, then saved whole");
    assert!(matches!(page_count(&edited), Err(SignError::UnreadablePdf)));
    assert!(matches!(seal(&input(&edited, None), &identity()), Err(SignError::UnreadablePdf)));
}

#[test]
fn a_page_tree_without_its_count_gets_the_right_one() {
    // Found by the property tests (seal/properties.rs): without /Count in the page tree, the
    // sealed copy counted the evidence page alone and no longer opened.
    let mut doc = Document::load_mem(&sample_pdf(2, "Sans total")).unwrap();
    let catalog_id = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let root_id = doc.get_dictionary(catalog_id).unwrap().get(b"Pages").unwrap().as_reference().unwrap();
    doc.get_object_mut(root_id).unwrap().as_dict_mut().unwrap().remove(b"Count");
    let mut original = Vec::new();
    doc.save_to(&mut original).unwrap();
    assert_eq!(page_count(&original).unwrap(), 2);
    let sealed = seal(&input(&original, None), &identity()).unwrap();
    assert_eq!(page_count(&sealed).unwrap(), 3);
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);
}

#[test]
fn a_cross_reference_stream_numbering_the_wrong_objects_is_rewritten_whole() {
    // Found by the property tests (seal/properties.rs): lopdf reads such a file without reporting
    // a repair, and the update appended to it did not open.
    let original = sample_pdf(3, "Décalé");
    let index = position(&original, b"/Index[1 ").unwrap();
    let shifted = [&original[..index], b"/Index[2 ", &original[index + "/Index[1 ".len()..]].concat();
    assert_eq!(page_count(&shifted).unwrap(), 3);
    let sealed = seal(&input(&shifted, None), &identity()).unwrap();
    assert_eq!(page_count(&sealed).unwrap(), 4);
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);
}

#[test]
fn sealing_a_sealed_file_keeps_the_first_signature_valid() {
    let png = signature_png();
    let original = sample_pdf(2, "Contrat");
    let firm = identity();
    let first = seal(&input(&original, Some(stamp(&png, StampPage::Number(1), Anchor::BottomLeft))), &firm).unwrap();
    let second_signer = SigningIdentity::generate("Second signataire", "Maître d'œuvre").unwrap();
    let second =
        seal(&input(&first, Some(stamp(&png, StampPage::Number(2), Anchor::BottomRight))), &second_signer).unwrap();
    assert!(second.starts_with(&first));
    let report = pdfsig(&second);
    assert_eq!(report.matches("Signature Validation: Signature is Valid.").count(), 2, "pdfsig:\n{report}");
    assert!(report.contains("Signer Certificate Common Name: Sceau Bâtiments Dupont"), "{report}");
    assert!(report.contains("Signer Certificate Common Name: Second signataire"), "{report}");
    assert!(report.contains("Signature Field Name: Signature2"), "{report}");
    assert_qpdf_check(&second);
    assert_eq!(page_count(&second).unwrap(), 4, "two pages and two evidence pages");
}

#[test]
fn incremental_updates_are_read_as_their_latest_revision() {
    let original = sample_pdf(2, "Avenant");
    let doc = Document::load_mem(&original).unwrap();
    let page_one = doc.get_dictionary(doc.get_pages()[&1]).unwrap();
    let content_id = page_one.get(b"Contents").unwrap().as_reference().unwrap();
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let start = position(&original, b"startxref").unwrap();
    let previous_xref: usize =
        String::from_utf8_lossy(&original[start + 9..]).split_whitespace().next().unwrap().parse().unwrap();

    // Replace page 1's content stream, the way an editor appends its changes.
    let mut updated = original.clone();
    updated.extend_from_slice(b"\n");
    let object_offset = updated.len();
    let content = b"BT /F1 14 Tf 1 0 0 1 72 700 Tm (Version amendee) Tj ET";
    updated.extend_from_slice(format!("{} 0 obj\n<< /Length {} >>\nstream\n", content_id.0, content.len()).as_bytes());
    updated.extend_from_slice(content);
    updated.extend_from_slice(b"\nendstream\nendobj\n");
    let xref_offset = updated.len();
    updated.extend_from_slice(
        format!(
            "xref\n{} 1\n{object_offset:010} 00000 n \ntrailer\n<< /Size {} /Root {} 0 R /Prev {previous_xref} >>\nstartxref\n{xref_offset}\n%%EOF\n",
            content_id.0,
            doc.max_id + 1,
            root.0
        )
        .as_bytes(),
    );
    assert!(page_text(&updated, 1, 1).contains("Version amendee"), "the hand-made update is well formed");

    let sealed = seal(&input(&updated, None), &identity()).unwrap();
    assert_valid(&sealed, "Sceau Bâtiments Dupont");
    assert_qpdf_check(&sealed);
    let text = page_text(&sealed, 1, 1);
    assert!(text.contains("Version amendee") && !text.contains("Lorem"), "{text}");
}

/// Where pdftotext puts the caption's first word, as fractions of the displayed page.
fn caption_position(pdf: &[u8], page: u32) -> (f32, f32) {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "sealed.pdf", pdf);
    let (ok, html) = run(
        &tool("pdftotext", "poppler-utils"),
        &["-bbox", "-f", &page.to_string(), "-l", &page.to_string(), path.to_str().unwrap(), "-"],
    );
    assert!(ok, "{html}");
    let number = |line: &str, key: &str| -> f32 {
        let at = line.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        line[at..].split('"').next().unwrap().parse().unwrap()
    };
    let page_line = html.lines().find(|l| l.contains("<page ")).unwrap();
    let (width, height) = (number(page_line, "width"), number(page_line, "height"));
    let word = html.lines().find(|l| l.contains(">Signé<")).expect("caption on the page");
    (number(word, "xMin") / width, number(word, "yMin") / height)
}

#[test]
fn anchors_place_the_stamp_in_the_displayed_corner_even_on_rotated_pages() {
    let upright = sample_pdf(1, "Plan");
    let rotated = qpdf_variant(&upright, &["--rotate=+90"]);
    let png = signature_png();
    let identity = identity();
    for (label, original) in [("upright", &upright), ("rotated 90°", &rotated)] {
        for (anchor, right, bottom) in [
            (Anchor::BottomRight, Some(true), true),
            (Anchor::BottomLeft, Some(false), true),
            (Anchor::TopRight, Some(true), false),
            (Anchor::TopLeft, Some(false), false),
            (Anchor::BottomCenter, None, true),
        ] {
            let sealed = seal(&input(original, Some(stamp(&png, StampPage::Last, anchor))), &identity).unwrap();
            let (x, y) = caption_position(&sealed, 1);
            match right {
                Some(true) => assert!(x > 0.5, "{label} {anchor:?}: x = {x}"),
                Some(false) => assert!(x < 0.5, "{label} {anchor:?}: x = {x}"),
                None => assert!((0.25..0.6).contains(&x), "{label} {anchor:?}: x = {x}"),
            }
            assert_eq!(y > 0.5, bottom, "{label} {anchor:?}: y = {y}");
        }
    }
}

#[test]
fn opaque_and_grayscale_images_are_accepted_and_garbage_is_refused() {
    let original = sample_pdf(1, "Bon");
    let identity = identity();
    let gray = encode_png(60, 20, png::ColorType::Grayscale, &[128; 60 * 20]);
    let rgb = encode_png(60, 20, png::ColorType::Rgb, &[200; 60 * 20 * 3]);
    for png in [gray, rgb] {
        let sealed =
            seal(&input(&original, Some(stamp(&png, StampPage::Last, Anchor::BottomRight))), &identity).unwrap();
        let doc = Document::load_mem(&sealed).unwrap();
        let images = drawn_images(&doc, 1);
        assert_eq!(images.len(), 1);
        assert!(!images[0].has(b"SMask"), "an opaque image needs no mask");
        assert_valid(&sealed, "Sceau Bâtiments Dupont");
    }
    let garbage = b"data:image/png;base64,iVBORw0KGgo".to_vec();
    let error =
        seal(&input(&original, Some(stamp(&garbage, StampPage::Last, Anchor::BottomRight))), &identity).unwrap_err();
    assert!(matches!(error, SignError::InvalidImage));
    assert_eq!(error.to_string(), "L'image de la signature est illisible : une image PNG est attendue.");
}

#[test]
fn a_page_that_does_not_exist_is_refused_in_french() {
    let original = sample_pdf(3, "Devis");
    let png = signature_png();
    let identity = identity();
    for page in [7, 0] {
        let error = seal(&input(&original, Some(stamp(&png, StampPage::Number(page), Anchor::BottomRight))), &identity)
            .unwrap_err();
        assert_eq!(error.to_string(), format!("La page {page} n'existe pas : ce document en compte 3."));
    }
}

#[test]
fn page_count_accepts_pdfs_and_refuses_damaged_or_locked_ones() {
    assert_eq!(page_count(&sample_pdf(3, "Devis")).unwrap(), 3);
    assert_eq!(page_count(&sample_pdf(1, "Devis")).unwrap(), 1);

    let original = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/facturx/mustang_EN16931_Einfach.pdf"),
    )
    .unwrap();
    for cut in [original.len() / 4, original.len() / 2, original.len() - 300, original.len() - 20] {
        let error = page_count(&original[..cut]).unwrap_err();
        assert_eq!(error.to_string(), "Le PDF à signer est illisible ou endommagé.", "cut at {cut}");
    }
    let sealed = seal(&input(&sample_pdf(10, "Devis"), None), &identity()).unwrap();
    assert!(page_count(&sealed[..sealed.len() / 3]).is_err(), "a truncated file whose first pages survive");
    for junk in [&b""[..], b"%PDF-1.7\n", b"PK\x03\x04 not a pdf", &[0u8; 4096][..]] {
        assert!(matches!(page_count(junk), Err(SignError::UnreadablePdf)), "{junk:?}");
    }
    let error = page_count(&sample_pdf(0, "Vide")).unwrap_err();
    assert_eq!(error.to_string(), "Le PDF ne contient aucune page.");

    let locked = qpdf_variant(&original, &["--encrypt", "utilisateur", "proprietaire", "256", "--"]);
    let error = page_count(&locked).unwrap_err();
    assert!(matches!(error, SignError::PasswordProtected), "{error:?}");
    assert!(error.to_string().contains("mot de passe"));
    assert!(matches!(seal(&input(&locked, None), &identity()), Err(SignError::PasswordProtected)));
}

#[test]
fn a_generated_identity_survives_its_pem_round_trip() {
    let identity = SigningIdentity::generate("Sceau électronique", "Société Générale de Bâtiment").unwrap();
    assert_eq!(identity.subject(), "CN=Sceau électronique, O=Société Générale de Bâtiment");
    assert!(identity.is_self_signed());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let ten_years = 3652 * 24 * 3600;
    assert!((identity.not_after() - (now + ten_years)).abs() < 3 * 24 * 3600, "{}", identity.not_after());
    assert!(identity.not_before() <= now);
    assert_eq!(identity.certificate_sha256().len(), 64);

    let pem = identity.to_pem();
    assert!(pem.contains("-----BEGIN CERTIFICATE-----") && pem.contains("-----BEGIN PRIVATE KEY-----"));
    let restored = SigningIdentity::from_pem(&pem).unwrap();
    assert_eq!(restored.certificate_sha256(), identity.certificate_sha256());
    assert_eq!(restored.subject(), identity.subject());
    assert_eq!(restored.to_pem(), pem);
    let sealed = seal(&input(&sample_pdf(1, "Devis"), None), &restored).unwrap();
    assert_valid(&sealed, "Sceau électronique");

    assert!(matches!(SigningIdentity::from_pem("pas un certificat"), Err(SignError::NoPrivateKey)));
    let certificate_only: String = pem.split("-----BEGIN PRIVATE KEY-----").next().unwrap().to_string();
    assert!(SigningIdentity::from_pem(&certificate_only).is_err());
    let broken = pem.replacen("MII", "MIX", 1);
    assert!(SigningIdentity::from_pem(&broken).is_err());
    // A key from another identity does not match the certificate.
    let other = SigningIdentity::generate("Autre", "Autre").unwrap().to_pem();
    let mismatched = format!("{certificate_only}{}", &other[other.find("-----BEGIN PRIVATE KEY-----").unwrap()..]);
    assert!(matches!(SigningIdentity::from_pem(&mismatched), Err(SignError::NoCertificateForKey)));
    assert!(SigningIdentity::generate("", "Entreprise").is_err());
}

/// Runs openssl in `dir`; the PKCS#12 tests need the real tool to make their files.
fn openssl(dir: &Path, args: &[&str]) {
    let openssl = tool("openssl", "openssl");
    let output = Command::new(openssl).current_dir(dir).args(args).output().expect("run openssl");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn pkcs12_files_from_openssl_are_read_and_sign() {
    let dir = TempDir::new().unwrap();
    let path = dir.path();
    openssl(
        path,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ec.key",
            "-out",
            "ec.crt",
            "-days",
            "30",
            "-utf8",
            "-subj",
            "/O=Société Test/CN=Sceau ECDSA",
        ],
    );
    openssl(
        path,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rsa.key",
            "-out",
            "rsa.crt",
            "-days",
            "30",
            "-subj",
            "/O=Entreprise RSA/CN=Sceau RSA",
        ],
    );
    let export = |name: &str, stem: &str, extra: &[&str]| {
        let (key, certificate) = (format!("{stem}.key"), format!("{stem}.crt"));
        let mut args = vec!["pkcs12", "-export", "-inkey", &key, "-in", &certificate, "-out", name];
        args.extend_from_slice(&["-passout", "pass:mot de passe"]);
        args.extend_from_slice(extra);
        openssl(path, &args);
        std::fs::read(path.join(name)).unwrap()
    };
    let files = [
        ("ECDSA, AES-256 (OpenSSL 3 default)", export("ec.p12", "ec", &[]), "Sceau ECDSA"),
        ("RSA, AES-256", export("rsa.p12", "rsa", &[]), "Sceau RSA"),
        (
            "RSA, 3DES",
            export("rsa3des.p12", "rsa", &["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]),
            "Sceau RSA",
        ),
        ("RSA, legacy RC2-40 + 3DES", export("legacy.p12", "rsa", &["-legacy"]), "Sceau RSA"),
    ];
    let original = sample_pdf(2, "Devis");
    let png = signature_png();
    for (label, p12, common_name) in &files {
        let identity = SigningIdentity::from_pkcs12(p12, "mot de passe").unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(identity.subject().starts_with(&format!("CN={common_name}, O=")), "{label}: {}", identity.subject());
        let sealed = seal(&input(&original, Some(stamp(&png, StampPage::Last, Anchor::BottomRight))), &identity)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_valid(&sealed, common_name);

        let error = SigningIdentity::from_pkcs12(p12, "mauvais").unwrap_err();
        assert!(matches!(error, SignError::WrongPassword), "{label}: {error:?}");
        assert_eq!(error.to_string(), "Le mot de passe du certificat est incorrect.");
    }
    assert!(SigningIdentity::from_pkcs12(&files[1].1, "mot de passe").unwrap().key_description() == "RSA 2048 bits");

    // The fingerprint is the one openssl shows, and the PEM round trip keeps an RSA key working.
    let rsa = SigningIdentity::from_pkcs12(&files[1].1, "mot de passe").unwrap();
    let output = Command::new(tool("openssl", "openssl"))
        .current_dir(path)
        .args(["x509", "-in", "rsa.crt", "-noout", "-fingerprint", "-sha256"])
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&output.stdout).split('=').nth(1).unwrap().trim().replace(':', "");
    assert_eq!(rsa.certificate_sha256(), fingerprint.to_lowercase());
    let restored = SigningIdentity::from_pem(&rsa.to_pem()).unwrap();
    assert_valid(&seal(&input(&original, None), &restored).unwrap(), "Sceau RSA");

    // Not a PKCS#12 at all, or one without a key.
    let error = SigningIdentity::from_pkcs12(b"-----BEGIN CERTIFICATE-----", "x").unwrap_err();
    assert_eq!(error.to_string(), "Ce fichier n'est pas un certificat PKCS#12 (.p12 ou .pfx).");
    assert!(matches!(SigningIdentity::from_pkcs12(&original, "x"), Err(SignError::NotPkcs12)));
    openssl(path, &["pkcs12", "-export", "-nokeys", "-in", "rsa.crt", "-out", "nokey.p12", "-passout", "pass:x"]);
    let error = SigningIdentity::from_pkcs12(&std::fs::read(path.join("nokey.p12")).unwrap(), "x").unwrap_err();
    assert!(matches!(error, SignError::NoPrivateKey), "{error:?}");
}

#[test]
fn a_pkcs12_chain_puts_the_signer_first_and_embeds_its_issuer() {
    let dir = TempDir::new().unwrap();
    let path = dir.path();
    openssl(
        path,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "30",
            "-subj",
            "/O=Autorité Test/CN=AC Test",
            "-utf8",
        ],
    );
    openssl(
        path,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/O=Bâtiments Dupont/CN=Sceau Dupont",
            "-utf8",
        ],
    );
    openssl(
        path,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.crt",
            "-days",
            "30",
        ],
    );
    openssl(
        path,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "leaf.key",
            "-in",
            "leaf.crt",
            "-certfile",
            "ca.crt",
            "-out",
            "chain.p12",
            "-passout",
            "pass:secret",
        ],
    );
    let identity = SigningIdentity::from_pkcs12(&std::fs::read(path.join("chain.p12")).unwrap(), "secret").unwrap();
    assert_eq!(identity.subject(), "CN=Sceau Dupont, O=Bâtiments Dupont");
    assert_eq!(identity.issuer(), "CN=AC Test, O=Autorité Test");
    assert!(!identity.is_self_signed());
    let pem = identity.to_pem();
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 2, "signer and issuer");
    let sealed = seal(&input(&sample_pdf(1, "Devis"), None), &identity).unwrap();
    assert_valid(&sealed, "Sceau Dupont");
    assert_eq!(SigningIdentity::from_pem(&pem).unwrap().issuer(), identity.issuer());
}
