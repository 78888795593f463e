//! French display formats.

/// `1 234,56 €` from cents (narrow no-break space as thousands separator, as in French usage).
pub fn fr_money_cents(cents: i64) -> String {
    let neg = cents < 0;
    let abs = cents.unsigned_abs();
    let euros = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    format!("{}{},{:02}\u{a0}€", if neg { "-" } else { "" }, grouped, abs % 100)
}

/// `+33612345678` → `06 12 34 56 78` for French numbers; others stay international.
pub fn fr_phone(e164: &str) -> String {
    if let Some(rest) = e164.strip_prefix("+33")
        && rest.len() == 9
    {
        let national = format!("0{rest}");
        return national
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ");
    }
    e164.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_phone_read_the_french_way() {
        assert_eq!(fr_money_cents(123_456), "1\u{202f}234,56\u{a0}€");
        assert_eq!(fr_money_cents(-5), "-0,05\u{a0}€");
        assert_eq!(fr_phone("+33612345678"), "06 12 34 56 78");
        assert_eq!(fr_phone("+3227654321"), "+3227654321");
    }
}
