//! The codes of requirements, their French labels, who may do what, and the checks of what
//! staff and clients type in. No SQL here.

use crate::domain::Role;
use crate::domain::text::search_key;
use crate::http::Actor;

pub const MISSING: &str = "missing";
pub const RECEIVED: &str = "received";
pub const VALIDATED: &str = "validated";
pub const REFUSED: &str = "refused";

pub const DOCUMENT: &str = "document";
pub const DATA: &str = "data";

pub const BEFORE: &str = "before";
pub const AFTER: &str = "after";

pub const LABEL_MAX: usize = 200;
pub const HINT_MAX: usize = 500;
pub const SERVICE_LABEL_MAX: usize = 120;
pub const DATA_MAX: usize = 500;
pub const REASON_MAX: usize = 1000;

pub fn status_label(status: &str) -> &'static str {
    match status {
        RECEIVED => "Reçu",
        VALIDATED => "Validé",
        REFUSED => "Refusé",
        _ => "Manquant",
    }
}

/// The badge's CSS classes.
pub fn status_class(status: &str) -> &'static str {
    match status {
        RECEIVED => "badge received",
        VALIDATED => "badge ok",
        REFUSED => "badge warn refused",
        _ => "badge warn missing",
    }
}

pub fn stage_label(stage: &str) -> &'static str {
    if stage == AFTER { "Après l'intervention" } else { "Avant l'intervention" }
}

pub fn kind_label(kind: &str) -> &'static str {
    if kind == DATA { "Donnée" } else { "Document" }
}

/// Who decides on what the client sent, edits the firm's services and adds them to sites: the
/// firm's admin and office (technicians read).
pub fn can_manage(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office)
}

/// The number of characters, for limits users understand.
fn too_long(s: &str, max: usize) -> bool {
    s.chars().count() > max
}

/// What the settings form says about a new expected document or piece of data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateInput {
    pub label: String,
    pub kind: String,
    pub document_type: String,
    pub stage: String,
    pub hint: String,
}

/// Checks a template's fields (the document type's existence is the caller's: it is tenant
/// data). Returns the cleaned input or the French messages.
pub fn check_template(raw: &TemplateInput) -> Result<TemplateInput, Vec<String>> {
    let mut errors = Vec::new();
    let label = raw.label.trim().to_string();
    if label.is_empty() {
        errors.push("Indiquez l'intitulé de l'élément attendu (par exemple « Permis de construire »).".to_string());
    } else if too_long(&label, LABEL_MAX) {
        errors.push(format!("L'intitulé ne doit pas dépasser {LABEL_MAX} caractères."));
    }
    let kind = raw.kind.trim().to_string();
    if kind != DOCUMENT && kind != DATA {
        errors.push("Choisissez la nature de l'élément : un document ou une donnée à saisir.".to_string());
    }
    let document_type = if kind == DOCUMENT { raw.document_type.trim().to_string() } else { String::new() };
    if kind == DOCUMENT && document_type.is_empty() {
        errors.push("Choisissez le type du document attendu (plan, permis de construire…).".to_string());
    }
    let stage = raw.stage.trim().to_string();
    if stage != BEFORE && stage != AFTER {
        errors.push("Choisissez quand l'élément est attendu : avant ou après l'intervention.".to_string());
    }
    let hint = raw.hint.trim().to_string();
    if too_long(&hint, HINT_MAX) {
        errors.push(format!("L'aide ne doit pas dépasser {HINT_MAX} caractères."));
    }
    if errors.is_empty() { Ok(TemplateInput { label, kind, document_type, stage, hint }) } else { Err(errors) }
}

pub fn check_service_label(raw: &str) -> Result<String, String> {
    let label = raw.trim().to_string();
    if label.is_empty() {
        Err("Indiquez le nom de la prestation (par exemple « Test d'étanchéité à l'air »).".to_string())
    } else if too_long(&label, SERVICE_LABEL_MAX) {
        Err(format!("Le nom de la prestation ne doit pas dépasser {SERVICE_LABEL_MAX} caractères."))
    } else {
        Ok(label)
    }
}

/// A stable code made from a service's name (`test_d_etancheite_a_l_air`).
pub fn service_code(label: &str) -> String {
    let key: String = search_key(&[label]).chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let code: String = key.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_");
    let code: String = code.chars().take(60).collect();
    if code.is_empty() { "prestation".to_string() } else { code }
}

pub fn check_data(raw: &str) -> Result<String, String> {
    let value = raw.trim().to_string();
    if value.is_empty() {
        Err("Saisissez l'information demandée avant d'enregistrer.".to_string())
    } else if too_long(&value, DATA_MAX) {
        Err(format!("L'information saisie ne doit pas dépasser {DATA_MAX} caractères."))
    } else {
        Ok(value)
    }
}

pub fn check_reason(raw: &str) -> Result<String, String> {
    let reason = raw.trim().to_string();
    if reason.is_empty() {
        Err("Indiquez le motif du refus : le client le lit pour corriger son envoi.".to_string())
    } else if too_long(&reason, REASON_MAX) {
        Err(format!("Le motif ne doit pas dépasser {REASON_MAX} caractères."))
    } else {
        Ok(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_needs_a_label_a_kind_a_stage_and_a_type_for_documents() {
        let errors = check_template(&TemplateInput::default()).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        let doc = TemplateInput {
            label: " Plans ".into(),
            kind: DOCUMENT.into(),
            stage: BEFORE.into(),
            ..Default::default()
        };
        assert!(check_template(&doc).unwrap_err()[0].contains("type du document"));
        let data = TemplateInput {
            label: "Surface habitable (m²)".into(),
            kind: DATA.into(),
            document_type: "plan".into(),
            stage: AFTER.into(),
            hint: String::new(),
        };
        let ok = check_template(&data).unwrap();
        assert_eq!(ok.document_type, "", "a piece of data has no document type");
        assert_eq!(ok.label, "Surface habitable (m²)");
    }

    #[test]
    fn service_codes_are_plain_ascii() {
        assert_eq!(service_code("Test d'étanchéité à l'air (RE2020)"), "test_d_etancheite_a_l_air_re2020");
        assert_eq!(service_code("  ***  "), "prestation");
    }

    #[test]
    fn reasons_and_data_must_not_be_blank() {
        assert!(check_reason("  ").is_err());
        assert!(check_data("").is_err());
        assert_eq!(check_data(" 98,5 ").unwrap(), "98,5");
        assert!(check_reason(&"x".repeat(REASON_MAX + 1)).is_err());
    }
}
