//! The rules of a site: its kinds, phases and statuses (codes stored, French labels shown),
//! calendar dates, and the checks of the site form that need no database.
//!
//! Statuses follow the firm's intervention on the site:
//! - `to_schedule` (à planifier): nothing planned yet; the default of a new site;
//! - `scheduled` (planifié): an intervention date is expected (the expected date is required);
//! - `done` (réalisé): the intervention took place (the actual date is required);
//! - `cancelled` (annulé): the firm will not intervene.
//!
//! Status and actual date are the firm's to set; client users describe their site (address,
//! site manager, phase, expected date…) and see the status.

use chrono::NaiveDate;

use crate::domain::parse_postcode;
use crate::features::clients::ui::{FieldErrors, Opt};

/// What a site is (glossary: chantier, résidence, logement, locaux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    Construction,
    Residence,
    Dwelling,
    Premises,
}

impl SiteKind {
    pub const ALL: [SiteKind; 4] =
        [SiteKind::Construction, SiteKind::Residence, SiteKind::Dwelling, SiteKind::Premises];

    pub fn code(self) -> &'static str {
        match self {
            SiteKind::Construction => "construction",
            SiteKind::Residence => "residence",
            SiteKind::Dwelling => "dwelling",
            SiteKind::Premises => "premises",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SiteKind::Construction => "Chantier",
            SiteKind::Residence => "Résidence",
            SiteKind::Dwelling => "Logement",
            SiteKind::Premises => "Locaux",
        }
    }

    pub fn parse(s: &str) -> Option<SiteKind> {
        SiteKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// Where the building stands: under construction, or being handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Works,
    Handover,
}

impl Phase {
    pub const ALL: [Phase; 2] = [Phase::Works, Phase::Handover];

    pub fn code(self) -> &'static str {
        match self {
            Phase::Works => "works",
            Phase::Handover => "handover",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Works => "Travaux",
            Phase::Handover => "Réception",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// Where the firm's intervention stands (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteStatus {
    ToSchedule,
    Scheduled,
    Done,
    Cancelled,
}

impl SiteStatus {
    pub const ALL: [SiteStatus; 4] =
        [SiteStatus::ToSchedule, SiteStatus::Scheduled, SiteStatus::Done, SiteStatus::Cancelled];

    pub fn code(self) -> &'static str {
        match self {
            SiteStatus::ToSchedule => "to_schedule",
            SiteStatus::Scheduled => "scheduled",
            SiteStatus::Done => "done",
            SiteStatus::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SiteStatus::ToSchedule => "À planifier",
            SiteStatus::Scheduled => "Planifié",
            SiteStatus::Done => "Réalisé",
            SiteStatus::Cancelled => "Annulé",
        }
    }

    /// The CSS modifier of the status badge.
    pub fn class(self) -> &'static str {
        match self {
            SiteStatus::ToSchedule => "warn",
            SiteStatus::Scheduled => "",
            SiteStatus::Done => "ok",
            SiteStatus::Cancelled => "off",
        }
    }

    pub fn parse(s: &str) -> Option<SiteStatus> {
        SiteStatus::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// Individuel (a single house) or Collectif (a building of several dwellings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationType {
    Individual,
    Collective,
}

impl OperationType {
    pub const ALL: [OperationType; 2] = [OperationType::Individual, OperationType::Collective];

    pub fn code(self) -> &'static str {
        match self {
            OperationType::Individual => "individual",
            OperationType::Collective => "collective",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OperationType::Individual => "Individuel",
            OperationType::Collective => "Collectif",
        }
    }

    pub fn parse(s: &str) -> Option<OperationType> {
        OperationType::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// The label of a stored code, or the code itself if unknown (never empty-handed).
pub fn kind_label(code: &str) -> &str {
    SiteKind::parse(code).map(SiteKind::label).unwrap_or(code)
}

pub fn phase_label(code: &str) -> &str {
    Phase::parse(code).map(Phase::label).unwrap_or(code)
}

pub fn status_label(code: &str) -> &str {
    SiteStatus::parse(code).map(SiteStatus::label).unwrap_or(code)
}

pub fn status_class(code: &str) -> &'static str {
    SiteStatus::parse(code).map(SiteStatus::class).unwrap_or("")
}

pub fn operation_label(code: &str) -> &str {
    OperationType::parse(code).map(OperationType::label).unwrap_or(code)
}

/// A calendar day typed by a user: `2026-11-22` (date inputs) or `22/11/2026`; stored as
/// `YYYY-MM-DD`. Empty gives `None`.
pub fn parse_day(input: &str) -> Result<Option<String>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| format!("« {s} » n'est pas une date valide : saisissez-la au format JJ/MM/AAAA."))?;
    if !(1990..=2100).contains(&chrono::Datelike::year(&date)) {
        return Err(format!("« {s} » : l'année doit être comprise entre 1990 et 2100."));
    }
    Ok(Some(date.format("%Y-%m-%d").to_string()))
}

/// `2026-11-22` → `22/11/2026`; anything else is shown as stored.
pub fn fr_day(iso: &str) -> String {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d").map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|_| iso.into())
}

/// An INSEE city code (code commune): 5 characters, digits, or 2A/2B then 3 digits for
/// Corsica. Empty is allowed.
pub fn parse_city_code(input: &str) -> Result<String, String> {
    let s = input.trim().to_uppercase();
    if s.is_empty() {
        return Ok(s);
    }
    let b = s.as_bytes();
    let valid = b.len() == 5
        && b[2..].iter().all(u8::is_ascii_digit)
        && (b[..2].iter().all(u8::is_ascii_digit) || &s[..2] == "2A" || &s[..2] == "2B");
    if valid {
        Ok(s)
    } else {
        Err("Le code INSEE de la commune comporte 5 caractères : des chiffres, ou 2A / 2B suivis de 3 chiffres pour la Corse.".into())
    }
}

/// The site form as typed (every field a string, so a wrong value is shown back as typed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteForm {
    pub client_id: String,
    pub kind: String,
    pub parent_id: String,
    pub name: String,
    pub street_number: String,
    pub street: String,
    pub postcode: String,
    pub city_code: String,
    pub city: String,
    pub site_manager_id: String,
    pub operation_type: String,
    pub phase: String,
    pub status: String,
    pub expected_date: String,
    pub actual_date: String,
    pub permit_number: String,
    pub owner_name: String,
    pub dwellings: String,
    pub notes: String,
}

/// A site's data, checked: what is written to the database (client and references resolved
/// by the caller against the actor's scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteData {
    pub kind: SiteKind,
    pub parent_id: Option<i64>,
    pub name: String,
    pub street_number: String,
    pub street: String,
    pub postcode: String,
    pub city_code: String,
    pub city: String,
    pub site_manager_id: Option<i64>,
    /// An `OperationType` code or empty.
    pub operation_type: String,
    pub phase: Phase,
    pub status: SiteStatus,
    pub expected_date: Option<String>,
    pub actual_date: Option<String>,
    pub permit_number: String,
    pub owner_name: String,
    pub dwellings: Option<i64>,
    pub notes: String,
}

impl SiteData {
    pub fn name_key(&self) -> String {
        crate::domain::text::search_key(&[&self.name])
    }

    pub fn city_key(&self) -> String {
        crate::domain::text::search_key(&[&self.city])
    }

    /// What free-text search looks into: name, address, permit number and owner.
    pub fn search_key(&self) -> String {
        crate::domain::text::search_key(&[
            &self.name,
            &self.street_number,
            &self.street,
            &self.postcode,
            &self.city,
            &self.permit_number,
            &self.owner_name,
        ])
    }
}

/// An optional reference typed in a form (a select's value): empty is none; anything but a
/// positive number is recorded as an error on `field`.
fn opt_ref(e: &mut FieldErrors, field: &'static str, raw: &str, message: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i64>() {
        Ok(v) if v > 0 => Some(v),
        _ => {
            e.add(field, message);
            None
        }
    }
}

pub const MANAGER_ERROR: &str = "Choisissez un conducteur de travaux parmi les contacts de ce client.";
pub const PARENT_ERROR: &str = "Choisissez la résidence de ce client à laquelle appartient le logement.";

/// Checks what needs no database. `staff` decides whether status and actual date come from
/// the form; otherwise `kept` (the stored site's, or the defaults of a new site) are used.
pub fn validate(typed: &SiteForm, staff: bool, kept: (SiteStatus, Option<String>)) -> Result<SiteData, FieldErrors> {
    let mut e = FieldErrors::default();
    let kind = SiteKind::parse(&typed.kind);
    if kind.is_none() {
        e.add("kind", "Choisissez le type de site : chantier, résidence, logement ou locaux.");
    }
    let parent_id = if kind == Some(SiteKind::Dwelling) {
        let p = opt_ref(&mut e, "parent_id", &typed.parent_id, PARENT_ERROR);
        if p.is_none() {
            e.add("parent_id", "Un logement appartient à une résidence : choisissez-la.");
        }
        p
    } else {
        None
    };
    if typed.name.is_empty() {
        e.add("name", "Le nom du chantier est obligatoire.");
    }
    e.max_len("name", "Le nom", &typed.name, 200);
    e.max_len("street_number", "Le numéro", &typed.street_number, 20);
    e.max_len("street", "La voie", &typed.street, 200);
    let postcode = e.check("postcode", parse_postcode(&typed.postcode));
    if typed.postcode.trim().is_empty() {
        e.add("postcode", "Le code postal est obligatoire.");
    }
    let city_code = e.check("city_code", parse_city_code(&typed.city_code));
    if typed.city.is_empty() {
        e.add("city", "La commune est obligatoire.");
    }
    e.max_len("city", "La commune", &typed.city, 100);
    let site_manager_id = opt_ref(&mut e, "site_manager_id", &typed.site_manager_id, MANAGER_ERROR);
    let operation_type = if typed.operation_type.trim().is_empty() {
        String::new()
    } else {
        match OperationType::parse(&typed.operation_type) {
            Some(o) => o.code().to_string(),
            None => {
                e.add("operation_type", "Choisissez le type d'opération : individuel ou collectif.");
                String::new()
            }
        }
    };
    let phase = Phase::parse(&typed.phase);
    if phase.is_none() {
        e.add("phase", "Choisissez la phase : travaux ou réception.");
    }
    let expected_date = parse_day(&typed.expected_date).unwrap_or_else(|m| {
        e.add("expected_date", m);
        None
    });
    let (status, actual_date) = if staff {
        let status = SiteStatus::parse(&typed.status);
        if status.is_none() {
            e.add("status", "Choisissez le statut.");
        }
        let actual = parse_day(&typed.actual_date).unwrap_or_else(|m| {
            e.add("actual_date", m);
            None
        });
        (status, actual)
    } else {
        (Some(kept.0), kept.1)
    };
    if staff {
        if status == Some(SiteStatus::Scheduled) && expected_date.is_none() && e.get("expected_date").is_none() {
            e.add("expected_date", "Un chantier planifié a une date d'intervention prévue : saisissez-la.");
        }
        if status == Some(SiteStatus::Done) && actual_date.is_none() && e.get("actual_date").is_none() {
            e.add("actual_date", "Un chantier réalisé a une date d'intervention réelle : saisissez-la.");
        }
    }
    e.max_len("permit_number", "Le numéro de permis", &typed.permit_number, 50);
    e.max_len("owner_name", "Le maître d'ouvrage", &typed.owner_name, 200);
    let dwellings = match typed.dwellings.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(n) if (0..=100_000).contains(&n) => Some(n),
            _ => {
                e.add("dwellings", "Le nombre de logements est un nombre entier positif.");
                None
            }
        },
    };
    e.max_len("notes", "Les notes", &typed.notes, 10_000);
    match (e.is_empty(), kind, phase, status) {
        (true, Some(kind), Some(phase), Some(status)) => Ok(SiteData {
            kind,
            parent_id,
            name: typed.name.clone(),
            street_number: typed.street_number.clone(),
            street: typed.street.clone(),
            postcode,
            city_code,
            city: typed.city.clone(),
            site_manager_id,
            operation_type,
            phase,
            status,
            expected_date,
            actual_date,
            permit_number: typed.permit_number.clone(),
            owner_name: typed.owner_name.clone(),
            dwellings,
            notes: typed.notes.clone(),
        }),
        _ => Err(e),
    }
}

/// Options of a select over `(code, label)` pairs, with a first empty choice when given.
pub fn options(
    first: Option<&str>,
    items: impl IntoIterator<Item = (&'static str, &'static str)>,
    current: &str,
) -> Vec<Opt> {
    let mut out = Vec::new();
    if let Some(label) = first {
        out.push(Opt::new("", label, current));
    }
    out.extend(items.into_iter().map(|(code, label)| Opt::new(code, label, current)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> SiteForm {
        SiteForm {
            kind: "construction".into(),
            name: "Maison Perrin".into(),
            street_number: "12".into(),
            street: "rue des Lilas".into(),
            postcode: "44300".into(),
            city_code: "44109".into(),
            city: "Nantes".into(),
            phase: "works".into(),
            status: "scheduled".into(),
            expected_date: "22/11/2026".into(),
            ..SiteForm::default()
        }
    }

    #[test]
    fn dates_are_read_both_ways_and_shown_the_french_way() {
        assert_eq!(parse_day("2026-11-22").unwrap().as_deref(), Some("2026-11-22"));
        assert_eq!(parse_day(" 22/11/2026 ").unwrap().as_deref(), Some("2026-11-22"));
        assert_eq!(parse_day("").unwrap(), None);
        assert!(parse_day("31/02/2026").is_err());
        assert!(parse_day("22/11/1789").is_err());
        assert_eq!(fr_day("2026-11-22"), "22/11/2026");
    }

    #[test]
    fn insee_codes_allow_corsica() {
        assert_eq!(parse_city_code("2a004").unwrap(), "2A004");
        assert_eq!(parse_city_code("44109").unwrap(), "44109");
        assert!(parse_city_code("4410").is_err());
        assert!(parse_city_code("2C004").is_err());
        assert!(parse_city_code("AB123").is_err());
    }

    #[test]
    fn a_valid_form_is_kept_and_staff_rules_apply() {
        let d = validate(&typed(), true, (SiteStatus::ToSchedule, None)).unwrap();
        assert_eq!(d.expected_date.as_deref(), Some("2026-11-22"));
        assert_eq!(d.status, SiteStatus::Scheduled);
        let mut t = typed();
        t.status = "done".into();
        let e = validate(&t, true, (SiteStatus::ToSchedule, None)).unwrap_err();
        assert!(e.get("actual_date").is_some());
        // Client users cannot set the status: the kept one stays.
        let d = validate(&t, false, (SiteStatus::ToSchedule, None)).unwrap();
        assert_eq!(d.status, SiteStatus::ToSchedule);
    }

    #[test]
    fn wrong_fields_get_french_messages() {
        let mut t = typed();
        t.kind = "dwelling".into();
        t.name = String::new();
        t.postcode = "4430".into();
        t.city_code = "2C123".into();
        t.dwellings = "-3".into();
        t.site_manager_id = "abc".into();
        let e = validate(&t, true, (SiteStatus::ToSchedule, None)).unwrap_err();
        for f in ["parent_id", "name", "postcode", "city_code", "dwellings", "site_manager_id"] {
            assert!(e.get(f).is_some(), "{f} should be refused");
        }
    }
}
