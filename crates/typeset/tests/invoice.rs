//! The invoice PDF as its readers see it: the text poppler extracts, qpdf's structural check,
//! the PDF/A-3b markers and embedded fonts, hostile user text printed literally.
//! Needs poppler-utils (pdftotext, pdffonts, pdfinfo) and qpdf.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use ouvrage_typeset::{
    Address, Buyer, Error, Invoice, InvoiceLine, Mentions, Quantity, Renderer, Seller, VatRate, format_euros,
    sample_invoice,
};

/// One renderer for the whole binary, as the application keeps one.
static RENDERER: LazyLock<Renderer> = LazyLock::new(Renderer::new);

struct Rendered {
    _dir: tempfile::TempDir,
    path: PathBuf,
    bytes: Vec<u8>,
}

fn render(invoice: &Invoice) -> Rendered {
    let bytes = RENDERER.invoice_pdf(invoice).expect("invoice renders");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("facture.pdf");
    std::fs::write(&path, &bytes).expect("write pdf");
    Rendered { _dir: dir, path, bytes }
}

fn run(program: &str, args: &[&str], file: &Path) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (poppler-utils, qpdf): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// The page text as poppler reads it, with the no-break spaces and runs of spaces made one space.
fn text_of(rendered: &Rendered) -> String {
    let output = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-raw"])
        .arg(&rendered.path)
        .arg("-")
        .output()
        .expect("pdftotext must be installed (poppler-utils)");
    assert!(output.status.success(), "pdftotext: {}", String::from_utf8_lossy(&output.stderr));
    normalise(&String::from_utf8(output.stdout).expect("UTF-8 text"))
}

/// Runs of spaces (no-break ones included) made one space, and spaces between digits removed:
/// poppler keeps or drops the narrow space grouping thousands (`6 890,00`) depending on its width.
fn normalise(text: &str) -> String {
    let spaced = text.replace(['\u{a0}', '\u{202f}'], " ");
    let words = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars: Vec<char> = words.chars().collect();
    let mut out = String::with_capacity(words.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits =
            i > 0 && i + 1 < chars.len() && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit();
        if !(c == ' ' && between_digits) {
            out.push(c);
        }
    }
    out
}

fn assert_prints(text: &str, expected: &str) {
    let expected = normalise(expected);
    assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
}

fn page_count(rendered: &Rendered) -> u32 {
    let (ok, info) = run("pdfinfo", &[], &rendered.path);
    assert!(ok, "pdfinfo failed: {info}");
    let pages = info.lines().find_map(|l| l.strip_prefix("Pages:")).expect("page count");
    pages.trim().parse().expect("number of pages")
}

#[test]
fn the_sample_invoice_reads_as_a_french_invoice_on_one_page() {
    let invoice = sample_invoice();
    let rendered = render(&invoice);
    let text = text_of(&rendered);

    for expected in [
        "FACTURE",
        "N° F2026-00042",
        "23/11/2026",
        "23/12/2026",
        "Atlantique Thermique",
        "SCI Les Hauts de Loire",
        "8 boulevard Guist'hau",
        "SIREN 501 234 567",
        "27 rue des Lilas",
        "Net à payer TTC",
        "IBAN FR76 3000 4000 0312 3456 7890 143",
        "40 €",
        "Pas d'escompte pour paiement anticipé.",
        "Catégorie de l'opération : prestation de services.",
        "Assurance décennale : SMABTP",
        "RCS Nantes 852 147 963",
        "SIRET 852 147 963 00027",
        "Page 1 / 1",
    ] {
        assert_prints(&text, expected);
    }
    let totals = invoice.totals().unwrap();
    for (line, amount) in invoice.lines.iter().zip(&totals.line_cents) {
        let designation = line.description.lines().next().unwrap();
        assert_prints(&text, designation);
        assert_prints(&text, &format!("{} {}", line.vat_rate, format_euros(*amount)));
    }
    assert_prints(&text, "Maison individuelle, 1 bâtiment");
    for subtotal in &totals.vat {
        let row =
            format!("{} {} {}", subtotal.rate, format_euros(subtotal.base_cents), format_euros(subtotal.vat_cents));
        assert_prints(&text, &row);
    }
    for (label, cents) in
        [("Total HT", totals.excl_tax_cents), ("Total TVA", totals.vat_cents), ("TTC", totals.incl_tax_cents)]
    {
        assert_prints(&text, &format!("{label} {}", format_euros(cents)));
    }
    // Worked out by hand: 1 405,00 € at 20 %, 2 417,70 € at 10 %, 7 586,00 € at 5,5 %, that is
    // 11 408,70 € HT and 281,00 + 241,77 + 417,23 = 940,00 € of VAT.
    assert_prints(&text, "Net à payer TTC 12 348,70 €");
    assert_eq!(page_count(&rendered), 1);
}

#[test]
fn the_file_passes_qpdf_and_carries_the_pdf_a_3b_markers() {
    let rendered = render(&sample_invoice());
    assert!(rendered.bytes.starts_with(b"%PDF-1.7"), "PDF/A-3 is based on PDF 1.7");

    let (ok, report) = run("qpdf", &["--check"], &rendered.path);
    assert!(ok && !report.contains("WARNING"), "qpdf --check: {report}");

    // Uncompressed, so the XMP packet and the catalog can be searched.
    let expanded = rendered.path.with_file_name("expanded.pdf");
    let status = Command::new("qpdf")
        .args(["--qdf", "--object-streams=disable"])
        .arg(&rendered.path)
        .arg(&expanded)
        .status()
        .expect("qpdf");
    assert!(status.success());
    let raw = String::from_utf8_lossy(&std::fs::read(&expanded).unwrap()).into_owned();
    let xmp_says = |property: &str, value: &str| {
        raw.contains(&format!("<pdfaid:{property}>{value}</pdfaid:{property}>"))
            || raw.contains(&format!("pdfaid:{property}=\"{value}\""))
    };
    assert!(xmp_says("part", "3"), "XMP declares PDF/A part 3");
    assert!(xmp_says("conformance", "B"), "XMP declares conformance level B");
    assert!(raw.contains("/OutputIntents") && raw.contains("/GTS_PDFA1"), "a PDF/A output intent");
    assert!(raw.contains("F2026-00042"), "the document title names the invoice");

    let (ok, fonts) = run("pdffonts", &[], &rendered.path);
    assert!(ok, "pdffonts: {fonts}");
    let rows: Vec<&str> = fonts.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(!rows.is_empty(), "the page uses fonts: {fonts}");
    for row in rows {
        // Columns: name, type (may be two words), encoding, emb, sub, uni, object, id.
        let columns: Vec<&str> = row.split_whitespace().collect();
        let emb = columns[columns.len() - 5];
        assert_eq!(emb, "yes", "every font embedded: {row}");
    }
}

#[test]
fn user_text_is_printed_literally_never_run_as_markup() {
    let mut invoice = sample_invoice();
    invoice.buyer.name = "#import \"@preview/evil:0.1.0\": *".to_string();
    invoice.buyer.address.lines = vec!["] #panic(\"boom\") [".to_string(), "C:\\Users\\x \\ fin".to_string()];
    invoice.subject = Some("#{1+1} $x^2$ *gras* _penché_ <etiq> @ref".to_string());
    invoice.lines[0].description = "// pas un commentaire\n#set text(size: 40pt)".to_string();
    invoice.lines[1].description = "#read(\"/etc/passwd\") `code` = titre".to_string();
    invoice.number = "F-\"2026\"\\01".to_string();

    let text = text_of(&render(&invoice));
    for literal in [
        "#import \"@preview/evil:0.1.0\": *",
        "] #panic(\"boom\") [",
        "C:\\Users\\x \\ fin",
        "#{1+1} $x^2$ *gras* _penché_ <etiq> @ref",
        "// pas un commentaire",
        "#set text(size: 40pt)",
        "#read(\"/etc/passwd\") `code` = titre",
        "F-\"2026\"\\01",
    ] {
        assert_prints(&text, literal);
    }
    assert!(!text.contains("root:"), "no file is readable from the template");
}

#[test]
fn characters_without_a_glyph_and_control_characters_do_not_stop_the_invoice() {
    let mut invoice = sample_invoice();
    invoice.buyer.name = "Chauffage \u{1F525} Dupont\tfils\u{7}".to_string();
    invoice.lines[0].description = "Réglage 漢字 ✓".to_string();
    let text = text_of(&render(&invoice));
    // The emoji and the CJK characters have no glyph in the bundled fonts; a tab prints as a space.
    assert_prints(&text, "Chauffage \u{25a1} Dupont fils");
    assert_prints(&text, "Réglage \u{25a1}\u{25a1} ✓");
}

#[test]
fn the_same_invoice_gives_the_same_bytes() {
    let invoice = sample_invoice();
    assert_eq!(render(&invoice).bytes, render(&invoice).bytes);
}

#[test]
fn a_long_invoice_runs_onto_more_pages_with_its_header_repeated() {
    let mut invoice = sample_invoice();
    invoice.lines = (1..=70)
        .map(|n| InvoiceLine {
            description: format!("Entretien annuel chaudière logement {n}"),
            quantity: Quantity::whole(1),
            unit: "u".to_string(),
            unit_price_cents: 9_500,
            vat_rate: VatRate::INTERMEDIATE,
        })
        .collect();
    let rendered = render(&invoice);
    let text = text_of(&rendered);
    let pages = page_count(&rendered);
    assert!(pages >= 2, "70 lines take more than a page");
    assert_prints(&text, "Entretien annuel chaudière logement 70");
    assert_prints(&text, &format!("Page {pages} / {pages}"));
    assert!(text.matches("Désignation").count() >= 2, "the table header repeats: {text}");
    // 70 × 95,00 € = 6 650,00 € HT, 665,00 € of VAT at 10 %.
    assert_prints(&text, "Net à payer TTC 7 315,00 €");
}

#[test]
fn an_invoice_that_cannot_be_issued_gets_a_french_message() {
    let mut empty = sample_invoice();
    empty.lines.clear();
    let error = RENDERER.invoice_pdf(&empty).unwrap_err();
    assert!(matches!(error, Error::NoLines));
    assert_eq!(error.to_string(), "La facture n'a aucune ligne.");

    let mut late = sample_invoice();
    late.due_date = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let message = RENDERER.invoice_pdf(&late).unwrap_err().to_string();
    assert_eq!(message, "La date d'échéance (01/11/2026) précède la date de facture (23/11/2026).");
}

#[test]
fn an_invoice_with_only_the_required_fields_renders_without_the_optional_blocks() {
    let full = sample_invoice();
    let invoice = Invoice {
        seller: Seller {
            legal_name: "Jean Martin".to_string(),
            address: Address {
                lines: vec!["3 impasse du Port".to_string()],
                postcode: "29200".to_string(),
                city: "Brest".to_string(),
                country: None,
            },
            siren: "812345678".to_string(),
            siret: "81234567800019".to_string(),
            ..Seller::default()
        },
        buyer: Buyer {
            name: "M. et Mme Le Gall".to_string(),
            address: Address { lines: vec![], postcode: "29200".to_string(), city: "Brest".to_string(), country: None },
            ..Buyer::default()
        },
        subject: None,
        delivery_address: None,
        mentions: Mentions {
            vat_exemption: Some("TVA non applicable, art. 293 B du CGI.".to_string()),
            recovery_indemnity: false,
            operation_category: None,
            ..Mentions::default()
        },
        lines: vec![InvoiceLine {
            description: "Ramonage conduit de cheminée".to_string(),
            quantity: Quantity::whole(1),
            unit: "u".to_string(),
            unit_price_cents: 7_000,
            vat_rate: VatRate::ZERO,
        }],
        ..full
    };
    let text = text_of(&render(&invoice));
    for expected in [
        "M. et Mme Le Gall",
        "29200 Brest",
        "Ramonage conduit de cheminée",
        "TVA non applicable, art. 293 B du CGI.",
        "SIREN 812 345 678",
        "Net à payer TTC 70,00 €",
    ] {
        assert_prints(&text, expected);
    }
    for absent in ["OBJET", "CHANTIER", "Réf. client", "IBAN", "40 €", "Catégorie", "décennale"] {
        assert!(!text.contains(absent), "{absent:?} printed although not given:\n{text}");
    }
}
