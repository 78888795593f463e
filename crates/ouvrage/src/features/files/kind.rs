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
fn contains_ci(hay: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    hay.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
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
    if contains_ci(text, "<!DOCTYPE") || contains_ci(text, "<!ENTITY") {
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
}
