//! Text for the standard Helvetica fonts: WinAnsi encoding, glyph widths, line wrapping and
//! content-stream string literals. The standard 14 fonts need no embedding, and with
//! /WinAnsiEncoding every French character has a byte (é è à ç œ « » – …).

/// The two faces the crate writes with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Face {
    Regular,
    Bold,
}

/// Unicode → WinAnsi (Windows-1252) bytes; what has no byte becomes a close substitute or '?'.
pub(crate) fn to_winansi(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    for ch in text.chars() {
        match winansi_byte(ch) {
            Some(byte) => bytes.push(byte),
            None => bytes.extend(substitute(ch).chars().map(|c| winansi_byte(c).unwrap_or(b'?'))),
        }
    }
    bytes
}

fn winansi_byte(ch: char) -> Option<u8> {
    let code = ch as u32;
    match code {
        0x20..=0x7E | 0xA0..=0xFF => Some(code as u8),
        _ => Some(match ch {
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => return None,
        }),
    }
}

/// A readable stand-in for characters WinAnsi lacks (French typography uses the narrow
/// no-break space before « ; : ! ? », for instance).
fn substitute(ch: char) -> &'static str {
    match ch {
        '\u{202F}' | '\u{2007}' | '\u{2009}' | '\u{200A}' | '\u{2002}' | '\u{2003}' => "\u{A0}",
        '\t' | '\n' | '\r' => " ",
        '\u{200B}' | '\u{FEFF}' | '\u{00AD}' => "",
        '‐' | '‑' | '‒' | '−' => "-",
        '′' => "'",
        '″' => "\"",
        '≤' => "<=",
        '≥' => ">=",
        '→' => "->",
        '←' => "<-",
        'ł' => "l",
        'Ł' => "L",
        'ő' => "o",
        'Ő' => "O",
        'ű' => "u",
        'Ű' => "U",
        'ć' | 'č' => "c",
        'Ć' | 'Č' => "C",
        'ś' | 'ş' | 'ș' => "s",
        'Ś' | 'Ş' | 'Ș' => "S",
        'ț' | 'ţ' => "t",
        'Ț' | 'Ţ' => "T",
        'ă' | 'ą' | 'ā' => "a",
        'Ă' | 'Ą' | 'Ā' => "A",
        'ę' | 'ě' | 'ē' | 'ė' => "e",
        'Ę' | 'Ě' | 'Ē' | 'Ė' => "E",
        'ń' | 'ň' => "n",
        'Ń' | 'Ň' => "N",
        'ř' => "r",
        'Ř' => "R",
        'ź' | 'ż' => "z",
        'Ź' | 'Ż' => "Z",
        'ğ' => "g",
        'Ğ' => "G",
        'ı' | 'ī' => "i",
        'İ' | 'Ī' => "I",
        _ => "?",
    }
}

/// Width of a WinAnsi byte in thousandths of the font size (Adobe's Helvetica metrics).
fn glyph_width(byte: u8, face: Face) -> u16 {
    const REGULAR: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '..'/'
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // '0'..'?'
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // '@'..'O'
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 'P'..'_'
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // '`'..'o'
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'..'~'
    ];
    const BOLD: [u16; 95] = [
        278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, //
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, //
        975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, //
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, //
        333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, //
        611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, //
    ];
    let table = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    let ascii = |c: u8| table[(c - 0x20) as usize];
    let bold = face == Face::Bold;
    match byte {
        0x20..=0x7E => ascii(byte),
        // Accented letters are as wide as their base letter, except the accented i's.
        0xC0..=0xC5 => ascii(b'A'),
        0xC6 => 1000,
        0xC7 => ascii(b'C'),
        0xC8..=0xCB => ascii(b'E'),
        0xCC..=0xCF => 278,
        0xD0 => 722,
        0xD1 => ascii(b'N'),
        0xD2..=0xD6 | 0xD8 => ascii(b'O'),
        0xD7 => 584,
        0xD9..=0xDC => ascii(b'U'),
        0xDD => ascii(b'Y'),
        0xDE => 667,
        0xDF => 611,
        0xE0..=0xE5 => ascii(b'a'),
        0xE6 => 889,
        0xE7 => ascii(b'c'),
        0xE8..=0xEB => ascii(b'e'),
        0xEC..=0xEF => 278,
        0xF0 => 611,
        0xF1 => ascii(b'n'),
        0xF2..=0xF6 | 0xF8 => ascii(b'o'),
        0xF7 => 584,
        0xF9..=0xFC => ascii(b'u'),
        0xFD | 0xFF => ascii(b'y'),
        0xFE => 611,
        0xA0 => 278,
        0xAB | 0xBB => 556,
        0xB0 => 400,
        0x8C => 1000,
        0x9C => 944,
        0x80 => 556,
        0x85 | 0x89 | 0x97 => 1000,
        0x96 => 556,
        0x91 | 0x92 | 0x82 => {
            if bold {
                278
            } else {
                222
            }
        }
        0x93 | 0x94 | 0x84 => {
            if bold {
                500
            } else {
                333
            }
        }
        0x95 => 350,
        0x8B | 0x9B => 333,
        0x99 => 1000,
        0x8A | 0x9A | 0x8E | 0x9E | 0x9F => ascii(if byte == 0x9F { b'Y' } else { b'S' }),
        _ => 556,
    }
}

/// Width of WinAnsi bytes set at `size` points.
pub(crate) fn text_width(bytes: &[u8], face: Face, size: f32) -> f32 {
    bytes.iter().map(|&b| f32::from(glyph_width(b, face))).sum::<f32>() * size / 1000.0
}

/// Splits `text` into WinAnsi lines no wider than `max_width`: at spaces where possible,
/// inside a word when one word alone is too wide (hashes, long e-mail addresses).
pub(crate) fn wrap(text: &str, face: Face, size: f32, max_width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let bytes = to_winansi(paragraph.trim_end_matches('\r'));
        let mut line: Vec<u8> = Vec::new();
        for word in bytes.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let candidate_width = if line.is_empty() {
                text_width(word, face, size)
            } else {
                text_width(&line, face, size) + text_width(b" ", face, size) + text_width(word, face, size)
            };
            if candidate_width <= max_width {
                if !line.is_empty() {
                    line.push(b' ');
                }
                line.extend_from_slice(word);
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone may still be too wide: cut it where it no longer fits.
            let mut rest = word;
            while text_width(rest, face, size) > max_width {
                let mut cut = 1;
                while cut < rest.len() && text_width(&rest[..cut + 1], face, size) <= max_width {
                    cut += 1;
                }
                lines.push(rest[..cut].to_vec());
                rest = &rest[cut..];
            }
            line.extend_from_slice(rest);
        }
        lines.push(line);
    }
    lines
}

/// A PDF literal string `( … )` holding WinAnsi bytes; everything outside printable ASCII
/// goes out as an octal escape so the content stream stays plain ASCII.
pub(crate) fn pdf_literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('(');
    for &byte in bytes {
        match byte {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(byte as char);
            }
            0x20..=0x7E => out.push(byte as char),
            _ => out.push_str(&format!("\\{byte:03o}")),
        }
    }
    out.push(')');
    out
}

/// A PDF text string (document information, signature dictionary): PDFDocEncoding is
/// ASCII-compatible, anything else goes as UTF-16BE with its byte order mark.
pub(crate) fn pdf_text_string(text: &str) -> Vec<u8> {
    if text.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return text.as_bytes().to_vec();
    }
    let mut bytes = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_characters_have_winansi_bytes() {
        assert_eq!(to_winansi("é è à ç œ « » – €"), b"\xE9 \xE8 \xE0 \xE7 \x9C \xAB \xBB \x96 \x80");
        assert_eq!(to_winansi("a\u{202F}: 中"), b"a\xA0: ?");
    }

    #[test]
    fn wrapping_keeps_words_and_cuts_overlong_ones() {
        let lines = wrap("un deux trois quatre cinq six", Face::Regular, 10.0, 60.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, Face::Regular, 10.0) <= 60.0));
        assert_eq!(lines.join(&b' '), b"un deux trois quatre cinq six");
        let hash = "0123456789abcdef".repeat(4);
        let lines = wrap(&hash, Face::Regular, 10.0, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), hash.as_bytes());
    }

    #[test]
    fn literals_escape_delimiters_and_high_bytes() {
        assert_eq!(pdf_literal(b"a(b)\\\xE9"), "(a\\(b\\)\\\\\\351)");
    }
}
