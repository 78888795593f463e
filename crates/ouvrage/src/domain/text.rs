//! Text helpers shared by search and validation.

/// Lower-case, accent-free, single-spaced: the form stored in `search_key` columns and used for
/// searching, so that "Écoles" finds "ecoles" identically on SQLite and PostgreSQL.
pub fn search_key(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        for c in part.chars() {
            let folded = fold_char(c);
            if folded.is_empty() {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            } else {
                out.push_str(folded);
            }
        }
        if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

/// A LIKE pattern matching `query` anywhere in a search key. Folding drops LIKE's wildcards
/// (`%`, `_`) and backslashes, so user input is always matched literally on both engines.
pub fn like_pattern(query: &str) -> String {
    format!("%{}%", search_key(&[query]))
}

fn fold_char(c: char) -> &'static str {
    match c {
        'a'..='z' | '0'..='9' => {
            const ASCII: [&str; 128] = ascii_table();
            ASCII[c as usize]
        }
        'A'..='Z' => {
            const ASCII: [&str; 128] = ascii_table();
            ASCII[c.to_ascii_lowercase() as usize]
        }
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'À' | 'Â' | 'Ä' | 'Á' => "a",
        'ç' | 'Ç' => "c",
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "e",
        'î' | 'ï' | 'í' | 'Î' | 'Ï' => "i",
        'ô' | 'ö' | 'ó' | 'õ' | 'Ô' | 'Ö' => "o",
        'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' => "u",
        'ÿ' | 'Ÿ' => "y",
        'ñ' | 'Ñ' => "n",
        'œ' | 'Œ' => "oe",
        'æ' | 'Æ' => "ae",
        '@' => "@",
        '.' => ".",
        '+' => "+",
        '-' => "-",
        _ => "",
    }
}

const fn ascii_table() -> [&'static str; 128] {
    const LETTERS: [&str; 36] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v",
        "w", "x", "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ];
    let mut t = [""; 128];
    let mut i = 0;
    while i < 26 {
        t[b'a' as usize + i] = LETTERS[i];
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = LETTERS[26 + d];
        d += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_key_folds_case_accents_and_spacing() {
        assert_eq!(search_key(&["  Société  Générale", "Œuvre"]), "societe generale oeuvre");
        assert_eq!(like_pattern("Société 100%_x"), "%societe 100 x%");
    }
}
