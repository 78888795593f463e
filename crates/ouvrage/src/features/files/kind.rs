//! What an uploaded file really is, decided from its bytes (never from its name or the type the
//! browser claims): PDF, JPEG, PNG or XML, everything else refused.

/// The formats ouvrage accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
    Xml,
}

/// How many bytes at the end of a PDF may follow its last `%%EOF` marker (padding, a stray line
/// break added by a mail client…).
const PDF_EOF_WINDOW: usize = 1024;

/// The French list of accepted formats, for messages and form hints.
pub const ACCEPTED_FORMATS: &str = "PDF, images JPEG ou PNG, XML";

/// What the file input proposes by default (the server still checks the content).
pub const ACCEPT_ATTRIBUTE: &str =
    ".pdf,.jpg,.jpeg,.png,.xml,application/pdf,image/jpeg,image/png,application/xml,text/xml";

impl FileKind {
    pub const ALL: [FileKind; 4] = [FileKind::Pdf, FileKind::Jpeg, FileKind::Png, FileKind::Xml];

    /// The content type stored with the file and sent on download.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Xml => "application/xml",
        }
    }

    pub fn from_content_type(ct: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.content_type() == ct)
    }

    /// Short French label shown in lists.
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Pdf => "PDF",
            FileKind::Jpeg => "Image JPEG",
            FileKind::Png => "Image PNG",
            FileKind::Xml => "XML",
        }
    }

    /// File-name extensions that fit this kind; the first is the one added when a name has none
    /// of them.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Pdf => &["pdf"],
            FileKind::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            FileKind::Png => &["png"],
            FileKind::Xml => &["xml"],
        }
    }

    /// Whether a browser may show it in place (`?apercu=1`): PDF and images, never XML.
    pub fn previewable(self) -> bool {
        matches!(self, FileKind::Pdf | FileKind::Jpeg | FileKind::Png)
    }
}

/// Why content was refused; the caller words it for the user with the file's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    /// Not one of the accepted formats; `detected` names what the content looks like when known
    /// (e.g. "exe", "zip").
    Unsupported {
        detected: Option<&'static str>,
    },
    /// Starts like a PDF but has no end-of-file marker: cut during transfer.
    TruncatedPdf,
    /// XML carrying a document type declaration or entity definitions (billion laughs, XXE).
    XmlWithDtd,
}

/// Identifies the content, or says why it is refused.
pub fn detect(bytes: &[u8]) -> Result<FileKind, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.starts_with(b"%PDF-") {
        let tail = &bytes[bytes.len().saturating_sub(PDF_EOF_WINDOW)..];
        return if find(tail, b"%%EOF").is_some() { Ok(FileKind::Pdf) } else { Err(Refusal::TruncatedPdf) };
    }
    if infer::image::is_jpeg(bytes) && bytes.len() >= 4 {
        return Ok(FileKind::Jpeg);
    }
    if infer::image::is_png(bytes) && is_png(bytes) {
        return Ok(FileKind::Png);
    }
    if let Some(text) = decode_text(bytes) {
        match check_xml(&text) {
            Err(Refusal::Unsupported { .. }) => {}
            // A DTD in the raw bytes counts too: UTF-16 read as 8-bit text (or the reverse) hides
            // one from the decoded text, and a reader that guesses the encoding otherwise would see it.
            Ok(FileKind::Xml) if has_dtd(bytes) => return Err(Refusal::XmlWithDtd),
            verdict => return verdict,
        }
    }
    Err(Refusal::Unsupported { detected: infer::get(bytes).map(|t| t.extension()) })
}

/// The full PNG signature followed by the mandatory IHDR chunk.
fn is_png(bytes: &[u8]) -> bool {
    bytes.len() >= 16 && bytes[..8] == *b"\x89PNG\r\n\x1a\n" && &bytes[12..16] == b"IHDR"
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Case-insensitive (ASCII) substring search, without copying the text.
fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// A document type declaration or an entity definition (billion laughs, XXE).
fn has_dtd(text: &[u8]) -> bool {
    contains_ci(text, b"<!DOCTYPE") || contains_ci(text, b"<!ENTITY")
}

/// The text of a file that may be XML: UTF-8 (with or without BOM), UTF-16 (with a BOM, or
/// recognisable from a leading `<`), or an 8-bit encoding that the XML declaration names
/// explicitly (ISO-8859-1/15, Windows-1252: older French software exports). `None` for
/// anything else, including binary data.
fn decode_text(bytes: &[u8]) -> Option<String> {
    fn utf16(body: &[u8], big_endian: bool) -> Option<String> {
        if !body.len().is_multiple_of(2) {
            return None;
        }
        let units = body
            .chunks_exact(2)
            .map(|c| if big_endian { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) });
        char::decode_utf16(units).collect::<Result<String, _>>().ok()
    }
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest).ok().map(str::to_string),
        // FF FE 00 00 is UTF-32 LE, which we do not accept.
        [0xFF, 0xFE, 0, 0, ..] => None,
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0, b'<', ..] => utf16(bytes, true),
        [b'<', 0, ..] => utf16(bytes, false),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.to_string()),
            Err(_) if declares_8bit_encoding(bytes) => Some(bytes.iter().map(|&b| b as char).collect()),
            Err(_) => None,
        },
    }
}

fn declares_8bit_encoding(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(200)];
    let Some(end) = find(head, b"?>") else { return false };
    let decl = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let decl = decl.trim_start_matches([' ', '\t', '\r', '\n']);
    decl.starts_with("<?xml")
        && ["iso-8859-1", "iso-8859-15", "latin1", "latin-1", "windows-1252", "cp1252"]
            .iter()
            .any(|e| decl.contains(&format!("encoding=\"{e}\"")) || decl.contains(&format!("encoding='{e}'")))
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Accepts text that starts (after whitespace) with an XML declaration or an element, carries no
/// DTD or entity declaration, and whose root is not an HTML page.
fn check_xml(text: &str) -> Result<FileKind, Refusal> {
    let unsupported = Err(Refusal::Unsupported { detected: None });
    let mut rest = text.trim_start_matches(is_xml_space);
    if !rest.starts_with('<') || text.contains('\0') {
        return unsupported;
    }
    if has_dtd(text.as_bytes()) {
        return Err(Refusal::XmlWithDtd);
    }
    // Skip the declaration, processing instructions and comments before the root element.
    loop {
        rest = rest.trim_start_matches(is_xml_space);
        if rest.starts_with("<?") {
            match rest.find("?>") {
                Some(i) => rest = &rest[i + 2..],
                None => return unsupported,
            }
        } else if rest.starts_with("<!--") {
            match rest.find("-->") {
                Some(i) => rest = &rest[i + 3..],
                None => return unsupported,
            }
        } else {
            break;
        }
    }
    let Some(after) = rest.strip_prefix('<') else { return unsupported };
    let name: String = after.chars().take_while(|c| !is_xml_space(*c) && *c != '>' && *c != '/').collect();
    let starts_like_a_name = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
    if !starts_like_a_name || name.eq_ignore_ascii_case("html") {
        return unsupported;
    }
    Ok(FileKind::Xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

    #[test]
    fn pdf_needs_its_header_and_its_end() {
        assert_eq!(detect(PDF), Ok(FileKind::Pdf));
        assert_eq!(detect(&PDF[..PDF.len() - 8]), Err(Refusal::TruncatedPdf));
        let mut padded = PDF.to_vec();
        padded.extend(std::iter::repeat_n(0u8, 500));
        assert_eq!(detect(&padded), Ok(FileKind::Pdf));
    }

    #[test]
    fn images_are_recognised_from_their_signature() {
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']), Ok(FileKind::Jpeg));
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01";
        assert_eq!(detect(png), Ok(FileKind::Png));
        assert!(matches!(detect(&png[..8]), Err(Refusal::Unsupported { .. })));
    }

    #[test]
    fn xml_in_utf8_or_utf16_is_accepted() {
        assert_eq!(detect(b"  \n<?xml version=\"1.0\"?><RSET/>"), Ok(FileKind::Xml));
        assert_eq!(detect(b"\xEF\xBB\xBF<projet><a>\xC3\xA9</a></projet>"), Ok(FileKind::Xml));
        assert_eq!(detect(b"<!-- export --><dpe version=\"2\"/>"), Ok(FileKind::Xml));
        let utf16le: Vec<u8> = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-16\"?><projet/>"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(detect(&utf16le), Ok(FileKind::Xml));
        let utf16be: Vec<u8> = "<projet/>".encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(detect(&utf16be), Ok(FileKind::Xml));
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><RSET>\xe9</RSET>";
        assert_eq!(detect(latin1), Ok(FileKind::Xml));
        assert!(matches!(detect(b"<RSET>\xe9</RSET>"), Err(Refusal::Unsupported { .. })));
    }

    #[test]
    fn dtds_entities_html_and_other_content_are_refused() {
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>"),
            Err(Refusal::XmlWithDtd)
        );
        assert_eq!(detect(b"<r><!entity x SYSTEM \"file:///etc/passwd\"></r>"), Err(Refusal::XmlWithDtd));
        let utf16: Vec<u8> = "\u{feff}<!DOCTYPE r><r/>".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(detect(&utf16), Err(Refusal::XmlWithDtd));
        assert!(matches!(detect(b"<html><script>alert(1)</script></html>"), Err(Refusal::Unsupported { .. })));
        assert!(matches!(detect(b"bonjour"), Err(Refusal::Unsupported { detected: None })));
        assert!(matches!(detect(b"< pas du xml"), Err(Refusal::Unsupported { .. })));
        assert_eq!(detect(b""), Err(Refusal::Empty));
        let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";
        assert!(matches!(detect(exe), Err(Refusal::Unsupported { .. })));
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0";
        assert_eq!(detect(zip), Err(Refusal::Unsupported { detected: Some("zip") }));
    }

    #[test]
    fn a_dtd_hidden_by_the_encoding_guess_is_refused() {
        // Found by fuzz/upload_sniff: a leading `\0<` reads as UTF-16 BE, where the ASCII DTD
        // that follows decodes to CJK characters; a reader guessing an 8-bit encoding sees it.
        let mut minimal = b"\0<\0r\0>".to_vec();
        minimal.extend_from_slice(b"<!DOCTYPE r [<!ENTITY a 'a'>]><r>&a;</r>");
        assert_eq!(minimal.len() % 2, 0);
        assert_eq!(detect(&minimal), Err(Refusal::XmlWithDtd));
        let found: &[u8] = b"\x00<\x00R\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9bu\x00\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\
            \x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\
            <?xmlu\x00 version=\"1.0\"?><!DOCTYPE r [<!E\x9b\x9b\x9b\x9bNTITY$a \"aaUITY  b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\
            \x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\
            \x9b\x9b\x9b\x9b\x00S\x00\xe9\x00\"&a\"\x00;&a;&a;\">\xa1]><r>&b;/\x00></r>";
        assert_eq!(found.len(), 188);
        assert_eq!(detect(found), Err(Refusal::XmlWithDtd));
    }

    /// Properties on generated bytes: `detect` never panics and never accepts content that lacks
    /// the signature of the kind it names (checked here independently of the code above).
    mod properties {
        use proptest::prelude::*;

        use super::super::{FileKind, Refusal, detect};

        /// Whether `bytes` start as `kind` must: header (and PDF end marker), or for XML a `<`
        /// first after an optional BOM and whitespace, and no DTD in the text or the raw bytes.
        fn carries_signature(kind: FileKind, bytes: &[u8]) -> bool {
            match kind {
                FileKind::Pdf => {
                    let tail = &bytes[bytes.len().saturating_sub(1024)..];
                    bytes.starts_with(b"%PDF-") && tail.windows(5).any(|w| w == b"%%EOF")
                }
                FileKind::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
                FileKind::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR"),
                FileKind::Xml => {
                    let units = code_units(bytes);
                    let first = units.iter().copied().find(|&u| ![u16::from(b' '), 9, 10, 13].contains(&u));
                    // Non-ASCII units become 0xFF so that only ASCII can spell a marker.
                    let text: Vec<u8> = units.iter().map(|&u| u8::try_from(u).unwrap_or(0xFF)).collect();
                    first == Some(u16::from(b'<')) && !declares_a_dtd(&text) && !declares_a_dtd(bytes)
                }
            }
        }

        /// The text's code units, from the BOM or the zero byte next to a leading `<` (UTF-16),
        /// else one per byte.
        fn code_units(bytes: &[u8]) -> Vec<u16> {
            let pairs = |body: &[u8], big_endian: bool| -> Vec<u16> {
                body.chunks(2)
                    .map(|c| {
                        let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                        if big_endian { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) }
                    })
                    .collect()
            };
            match bytes {
                [0xEF, 0xBB, 0xBF, rest @ ..] => rest.iter().map(|&b| u16::from(b)).collect(),
                [0xFE, 0xFF, rest @ ..] => pairs(rest, true),
                [0xFF, 0xFE, rest @ ..] => pairs(rest, false),
                [0, b'<', ..] => pairs(bytes, true),
                [b'<', 0, ..] => pairs(bytes, false),
                _ => bytes.iter().map(|&b| u16::from(b)).collect(),
            }
        }

        fn declares_a_dtd(text: &[u8]) -> bool {
            let text = text.to_ascii_lowercase();
            text.windows(9).any(|w| w == b"<!doctype") || text.windows(8).any(|w| w == b"<!entity")
        }

        /// Headers of accepted and refused formats, so that generated bytes get past the first checks.
        fn header() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"%PDF-1.7\n".to_vec()),
                Just(b"\x89PNG\r\n\x1a\n".to_vec()),
                Just(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec()),
                Just(vec![0xFF, 0xD8, 0xFF, 0xE0]),
                Just(b"PK\x03\x04\x14\0".to_vec()),
                Just(b"MZ\x90\0".to_vec()),
                Just(b"GIF89a".to_vec()),
                Just(b"<?xml version=\"1.0\"?>".to_vec()),
                Just(b"\xEF\xBB\xBF<".to_vec()),
                Just(vec![0xFF, 0xFE, b'<', 0]),
                Just(vec![0xFE, 0xFF, 0, b'<']),
                Just(vec![0, b'<']),
                Just(b"<html>".to_vec()),
                Just(Vec::new()),
            ]
        }

        /// ASCII-ish markup soup: tags, text, the markers the sniffer looks for.
        fn markup() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                Just(b"<".to_vec()),
                Just(b">".to_vec()),
                Just(b"<r>".to_vec()),
                Just(b"</r>".to_vec()),
                Just(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".to_vec()),
                Just(b"<!--".to_vec()),
                Just(b"-->".to_vec()),
                Just(b"?>".to_vec()),
                Just(b"%%EOF".to_vec()),
                Just(b" \n".to_vec()),
                Just(b"\0".to_vec()),
                Just("é".as_bytes().to_vec()),
                Just(vec![0xE9]),
                "[a-zA-Z0-9 =\"']{1,8}".prop_map(String::into_bytes),
            ];
            prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
        }

        /// A DTD marker with random letters in lower case.
        fn dtd_marker() -> impl Strategy<Value = Vec<u8>> {
            (prop_oneof![Just("<!DOCTYPE r>"), Just("<!ENTITY x \"y\">"), Just("<!doctype html>")], any::<u64>())
                .prop_map(|(marker, cases)| {
                    marker
                        .bytes()
                        .enumerate()
                        .map(|(i, b)| if cases >> (i % 64) & 1 == 1 { b.to_ascii_lowercase() } else { b })
                        .collect()
                })
        }

        fn utf16(text: &[u8], big_endian: bool, bom: bool) -> Vec<u8> {
            let text = String::from_utf8_lossy(text);
            let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
            units.flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes_get_a_kind_only_with_its_signature(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
                if let Ok(kind) = detect(&bytes) {
                    prop_assert!(carries_signature(kind, &bytes), "{kind:?} for {bytes:?}");
                }
            }

            #[test]
            fn known_headers_followed_by_anything_get_a_kind_only_with_its_signature(
                head in header(),
                body in prop_oneof![prop::collection::vec(any::<u8>(), 0..1024), markup()],
            ) {
                let bytes = [head, body].concat();
                match detect(&bytes) {
                    Ok(kind) => prop_assert!(carries_signature(kind, &bytes), "{kind:?} for {bytes:?}"),
                    Err(Refusal::Empty) => prop_assert!(bytes.is_empty()),
                    Err(Refusal::TruncatedPdf) => prop_assert!(bytes.starts_with(b"%PDF-")),
                    Err(_) => {}
                }
            }

            #[test]
            fn xml_with_a_dtd_anywhere_is_never_accepted(
                before in markup(),
                marker in dtd_marker(),
                after in markup(),
                encoding in 0..5u8,
            ) {
                let text = [b"<r>".to_vec(), before, marker, after].concat();
                let bytes = match encoding {
                    0 => text,
                    1 => [b"\xEF\xBB\xBF".to_vec(), text].concat(),
                    2 => utf16(&text, false, true),
                    3 => utf16(&text, true, true),
                    _ => utf16(&text, true, false),
                };
                let verdict = detect(&bytes);
                prop_assert!(verdict.is_err(), "{verdict:?} for {bytes:?}");
            }

            #[test]
            fn xml_around_any_text_is_accepted_in_utf8_and_utf16(
                text in "[^\u{0}<&]{0,200}",
                encoding in 0..4u8,
            ) {
                prop_assume!(!declares_a_dtd(text.as_bytes()));
                let document = format!("<?xml version=\"1.0\"?>\n<projet>{text}</projet>");
                let bytes = match encoding {
                    0 => document.into_bytes(),
                    1 => [b"\xEF\xBB\xBF".to_vec(), document.into_bytes()].concat(),
                    2 => utf16(document.as_bytes(), false, true),
                    _ => utf16(document.as_bytes(), true, false),
                };
                prop_assert_eq!(detect(&bytes), Ok(FileKind::Xml));
            }
        }
    }
}
