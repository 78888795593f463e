//! The rules of the messaging: who manages threads, the statuses, what a message must hold.

use crate::domain::Role;
use crate::http::Actor;

/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest message, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;
/// Most files attached to one message.
pub const MAX_FILES: usize = 10;

/// The statuses of a thread: code, French label, CSS class.
pub const STATUSES: &[(&str, &str, &str)] = &[
    ("open", "Ouvert", "status-open"),
    ("answered", "Répondu", "status-answered"),
    ("closed", "Clos", "status-closed"),
];

pub fn status_label(code: &str) -> &'static str {
    STATUSES.iter().find(|s| s.0 == code).map(|s| s.1).unwrap_or("Ouvert")
}

pub fn status_class(code: &str) -> &'static str {
    STATUSES.iter().find(|s| s.0 == code).map(|s| s.2).unwrap_or("")
}

pub fn is_status(code: &str) -> bool {
    STATUSES.iter().any(|s| s.0 == code)
}

/// Who assigns threads and changes their status: the firm's admin and office (technicians read
/// and answer).
pub fn can_manage(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office)
}

/// The subject, trimmed, or the French reason it is refused.
pub fn subject(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("Indiquez l'objet de la conversation (par exemple « Demande d'intervention »).".into());
    }
    if s.chars().count() > MAX_SUBJECT_CHARS {
        return Err(format!("L'objet est trop long : {MAX_SUBJECT_CHARS} caractères au plus."));
    }
    Ok(s.to_string())
}

/// The message, trimmed of surrounding blank lines, or the French reason it is refused.
pub fn body(raw: &str) -> Result<String, String> {
    let b = raw.trim();
    if b.is_empty() {
        return Err("Le message est vide : écrivez votre message avant de l'envoyer.".into());
    }
    if b.chars().count() > MAX_BODY_CHARS {
        return Err(format!("Le message est trop long : {MAX_BODY_CHARS} caractères au plus."));
    }
    Ok(b.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_bodies_are_required_and_bounded() {
        assert!(subject("   ").is_err());
        assert_eq!(subject("  Demande d'intervention ").unwrap(), "Demande d'intervention");
        assert!(subject(&"a".repeat(MAX_SUBJECT_CHARS + 1)).is_err());
        assert!(body("\n \n").unwrap_err().contains("vide"));
        assert_eq!(body("\nBonjour\n").unwrap(), "Bonjour");
        assert!(body(&"é".repeat(MAX_BODY_CHARS + 1)).is_err());
    }

    #[test]
    fn statuses_read_in_french() {
        assert_eq!(status_label("answered"), "Répondu");
        assert!(is_status("closed") && !is_status("ferme"));
    }
}
