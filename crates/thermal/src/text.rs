//! Text decoding and tolerant number parsing.

/// Windows-1252 characters for bytes 0x80..=0x9F (the rest of the range is ISO-8859-1).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’',
    '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn cp1252(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Decodes the raw bytes of a value: UTF-8, or Windows-1252 when the file declares a Latin
/// encoding or when the bytes are not valid UTF-8 (then `bad_utf8` is set).
pub(crate) fn decode(bytes: &[u8], latin: bool, bad_utf8: &mut bool) -> String {
    if !latin {
        match std::str::from_utf8(bytes) {
            Ok(s) => return s.to_owned(),
            Err(_) => *bad_utf8 = true,
        }
    }
    bytes.iter().map(|&b| cp1252(b)).collect()
}

/// Trims and collapses runs of whitespace; `None` when nothing is left.
pub(crate) fn clean(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    (!out.is_empty()).then_some(out)
}

/// A numeric value as found in a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// Empty element or `xsi:nil`: no value, nothing to report.
    Empty,
    Value(f64),
    /// `NaN`, `inf`…: the software did not compute it.
    NotComputed,
    /// Not a number.
    Bad,
}

/// Parses a decimal number written with a dot or a comma, possibly with spaces as thousands
/// separators (`1 532,4`).
pub(crate) fn parse_num(raw: &str) -> Num {
    let s: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '\'').collect();
    if s.is_empty() {
        return Num::Empty;
    }
    let lower = s.to_ascii_lowercase();
    if lower.contains("nan") || lower.contains("inf") || lower.contains("#ind") {
        return Num::NotComputed;
    }
    let commas = s.matches(',').count();
    let normalized = match (commas, s.rfind(','), s.rfind('.')) {
        (0, _, _) => s,
        (1, Some(_), None) => s.replace(',', "."),
        // Both separators: the last one is the decimal point, the other groups thousands.
        (_, Some(c), Some(d)) if c > d && commas == 1 => s.replace('.', "").replace(',', "."),
        (_, Some(c), Some(d)) if d > c => s.replace(',', ""),
        _ => return Num::Bad,
    };
    if !normalized.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return Num::Bad;
    }
    match normalized.parse::<f64>() {
        Ok(v) if v.is_finite() => Num::Value(v),
        Ok(_) => Num::NotComputed,
        Err(_) => Num::Bad,
    }
}

/// A non-negative integer (`24`, `24.0`, `24,0`).
pub(crate) fn parse_count(raw: &str) -> Num {
    match parse_num(raw) {
        Num::Value(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => Num::Value(v),
        Num::Value(_) => Num::Bad,
        other => other,
    }
}

/// Shortens a raw value for a warning message.
pub(crate) fn excerpt(raw: &str) -> String {
    let cleaned = clean(raw).unwrap_or_default();
    let mut out: String = cleaned.chars().filter(|c| !c.is_control()).take(40).collect();
    if cleaned.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_accept_dots_commas_spaces_and_exponents() {
        assert_eq!(parse_num("52.3"), Num::Value(52.3));
        assert_eq!(parse_num(" 52,3 "), Num::Value(52.3));
        assert_eq!(parse_num("1 532,4"), Num::Value(1532.4));
        assert_eq!(parse_num("1\u{a0}532,4"), Num::Value(1532.4));
        assert_eq!(parse_num("1.532,4"), Num::Value(1532.4));
        assert_eq!(parse_num("1,532.4"), Num::Value(1532.4));
        assert_eq!(parse_num("-3.5E+02"), Num::Value(-350.0));
        assert_eq!(parse_num("0"), Num::Value(0.0));
    }

    #[test]
    fn numbers_tell_empty_not_computed_and_garbage_apart() {
        assert_eq!(parse_num(""), Num::Empty);
        assert_eq!(parse_num("  \n "), Num::Empty);
        assert_eq!(parse_num("NaN"), Num::NotComputed);
        assert_eq!(parse_num("-nan(ind)"), Num::NotComputed);
        assert_eq!(parse_num("INF"), Num::NotComputed);
        assert_eq!(parse_num("1e999"), Num::NotComputed);
        assert_eq!(parse_num("x"), Num::Bad);
        assert_eq!(parse_num("12 m²"), Num::Bad);
        assert_eq!(parse_num("1,2,3"), Num::Bad);
        assert_eq!(parse_num("--"), Num::Bad);
    }

    #[test]
    fn counts_are_non_negative_integers() {
        assert_eq!(parse_count("24"), Num::Value(24.0));
        assert_eq!(parse_count("24,0"), Num::Value(24.0));
        assert_eq!(parse_count("2.5"), Num::Bad);
        assert_eq!(parse_count("-1"), Num::Bad);
        assert_eq!(parse_count("99999999999"), Num::Bad);
    }

    #[test]
    fn latin_and_broken_utf8_are_decoded_as_windows_1252() {
        let mut bad = false;
        assert_eq!(decode("Bâtiment".as_bytes(), false, &mut bad), "Bâtiment");
        assert!(!bad);
        assert_eq!(decode(b"B\xe2timent \x80", true, &mut bad), "Bâtiment €");
        assert!(!bad);
        assert_eq!(decode(b"B\xe2timent", false, &mut bad), "Bâtiment");
        assert!(bad);
    }

    #[test]
    fn clean_collapses_whitespace() {
        assert_eq!(clean("  Lot 12 \n  - Lotissement\t"), Some("Lot 12 - Lotissement".to_owned()));
        assert_eq!(clean(" \n "), None);
    }
}
