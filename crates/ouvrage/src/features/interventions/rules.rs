//! The rules of intervention requests and interventions: statuses, who answers, what a request
//! and a schedule must hold, and how days and time windows read in French.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Europe::Paris;

use crate::domain::Role;
use crate::features::clients::ui::FieldErrors;
use crate::features::sites::model::parse_day;
use crate::http::Actor;

/// Subject of the thread a request opens (the client filters the messaging on it).
pub const THREAD_SUBJECT: &str = "Demande d'intervention";
/// Most preferred days a client gives.
pub const MAX_PREFERRED_DAYS: usize = 3;
/// How far ahead a day may be asked or planned.
pub const MAX_DAYS_AHEAD: i64 = 366;
pub const MAX_COMMENT_CHARS: usize = 2000;
pub const MAX_CONTACT_CHARS: usize = 120;
pub const MAX_REASON_CHARS: usize = 2000;

/// A request's statuses: code, French label, badge class.
pub const REQUEST_STATUSES: &[(&str, &str, &str)] = &[
    ("pending", "En attente", "warn"),
    ("proposed", "Autre date proposée", "warn"),
    ("accepted", "Planifiée", "ok"),
    ("refused", "Refusée", "off"),
    ("cancelled", "Annulée", "off"),
];

/// An intervention's statuses: code, French label, badge class.
pub const INTERVENTION_STATUSES: &[(&str, &str, &str)] =
    &[("planned", "Planifiée", ""), ("done", "Réalisée", "ok"), ("cancelled", "Annulée", "off")];

/// The request statuses the firm still answers (schedule, propose, refuse).
pub const OPEN_REQUEST_STATUSES: [&str; 2] = ["pending", "proposed"];

fn label_of(table: &'static [(&str, &str, &str)], code: &str) -> (&'static str, &'static str) {
    table.iter().find(|s| s.0 == code).map(|s| (s.1, s.2)).unwrap_or(("", ""))
}

pub fn request_status(code: &str) -> (&'static str, &'static str) {
    label_of(REQUEST_STATUSES, code)
}

pub fn intervention_status(code: &str) -> (&'static str, &'static str) {
    label_of(INTERVENTION_STATUSES, code)
}

pub fn is_request_status(code: &str) -> bool {
    REQUEST_STATUSES.iter().any(|s| s.0 == code)
}

/// Who answers requests and changes interventions: the firm's admin and office (technicians
/// read the requests and the planning).
pub fn can_manage(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office)
}

/// Today in Paris, the calendar of the firm and its clients.
pub fn paris_today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&Paris).date_naive()
}

/// The Monday of the week of `day`.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - chrono::Duration::days(day.weekday().num_days_from_monday() as i64)
}

pub fn iso(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

pub fn parse_iso(day: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

pub fn weekday_fr(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

/// `2026-12-01` → `mardi 1er décembre 2026`; anything else as stored.
pub fn fr_long_day(day: &str) -> String {
    let Some(d) = parse_iso(day) else { return day.to_string() };
    let n = if d.day() == 1 { "1er".to_string() } else { d.day().to_string() };
    format!("{} {n} {} {}", weekday_fr(d.weekday()), MONTHS[d.month0() as usize], d.year())
}

/// `2026-12-01` → `mar. 01/12/2026`, for tables.
pub fn fr_short_day(day: &str) -> String {
    let Some(d) = parse_iso(day) else { return day.to_string() };
    format!("{}. {}", &weekday_fr(d.weekday())[..3], d.format("%d/%m/%Y"))
}

/// `08:00` → `8 h 00`.
pub fn fr_time(hhmm: &str) -> String {
    match NaiveTime::parse_from_str(hhmm, "%H:%M") {
        Ok(t) => format!("{} h {}", t.format("%-H"), t.format("%M")),
        Err(_) => hhmm.to_string(),
    }
}

/// `entre 8 h 00 et 10 h 00`.
pub fn fr_window(start: &str, end: &str) -> String {
    format!("entre {} et {}", fr_time(start), fr_time(end))
}

/// A time of day typed in a form (`08:00` from a time input, `8:30`, `8h`, `8 h 30`), as `HH:MM`.
pub fn parse_time(input: &str) -> Result<String, String> {
    let s: String = input.trim().to_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return Err("Indiquez l'heure (par exemple 08:00).".into());
    }
    let (h, m) = match s.split_once([':', 'h']) {
        Some((h, m)) => (h, if m.is_empty() { "00" } else { m }),
        None => (s.as_str(), "00"),
    };
    // Seconds from some browsers' time inputs (08:00:00) are dropped.
    let m = m.split(':').next().unwrap_or_default();
    let digits = |v: &str, max: usize| !v.is_empty() && v.len() <= max && v.bytes().all(|b| b.is_ascii_digit());
    let parsed = if digits(h, 2) && digits(m, 2) && m.len() == 2 {
        NaiveTime::from_hms_opt(h.parse().unwrap_or(99), m.parse().unwrap_or(99), 0)
    } else {
        None
    };
    parsed
        .map(|t| t.format("%H:%M").to_string())
        .ok_or_else(|| format!("« {} » n'est pas une heure valide : saisissez-la au format HH:MM.", input.trim()))
}

/// A day to ask for or to plan: a valid date, not before `today`, at most a year ahead.
pub fn parse_future_day(input: &str, today: NaiveDate, what: &str) -> Result<Option<String>, String> {
    let Some(day) = parse_day(input)? else { return Ok(None) };
    let d = parse_iso(&day).ok_or_else(|| format!("« {} » n'est pas une date valide.", input.trim()))?;
    if d < today {
        return Err(format!(
            "{what} du {} est passée : choisissez aujourd'hui ou un jour à venir.",
            d.format("%d/%m/%Y")
        ));
    }
    if d > today + chrono::Duration::days(MAX_DAYS_AHEAD) {
        return Err(format!("{what} du {} est trop lointaine : un an à l'avance au plus.", d.format("%d/%m/%Y")));
    }
    Ok(Some(day))
}

/// What a client asks for, once checked (the site and the service are checked against the
/// database by the caller).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInput {
    pub days: Vec<String>,
    pub comment: String,
    pub contact_name: String,
    /// E.164 or empty.
    pub contact_phone: String,
}

/// The request form's fields as typed: `dates` are the (up to three) preferred day inputs.
pub fn check_request(
    dates: &[String],
    comment: &str,
    contact_name: &str,
    contact_phone: &str,
    today: NaiveDate,
    e: &mut FieldErrors,
) -> RequestInput {
    const FIELDS: [&str; MAX_PREFERRED_DAYS] = ["date1", "date2", "date3"];
    let mut days: Vec<String> = Vec::new();
    for (i, raw) in dates.iter().take(MAX_PREFERRED_DAYS).enumerate() {
        match parse_future_day(raw, today, "La date souhaitée") {
            Ok(Some(d)) if days.contains(&d) => e.add(FIELDS[i], "Cette date est déjà proposée plus haut."),
            Ok(Some(d)) => days.push(d),
            Ok(None) => {}
            Err(m) => e.add(FIELDS[i], m),
        }
    }
    if days.is_empty() && e.get("date1").is_none() && e.get("date2").is_none() && e.get("date3").is_none() {
        e.add("date1", "Indiquez au moins une date souhaitée pour l'intervention.");
    }
    let comment = comment.trim().replace("\r\n", "\n");
    e.max_len("commentaire", "Le commentaire", &comment, MAX_COMMENT_CHARS);
    let contact_name = contact_name.trim().to_string();
    e.max_len("contact_nom", "Le nom du contact sur place", &contact_name, MAX_CONTACT_CHARS);
    let contact_phone = e.check("contact_tel", crate::domain::parse_phone(contact_phone));
    RequestInput { days, comment, contact_name, contact_phone }
}

/// A day and window to plan or propose.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub day: String,
    pub start: String,
    pub end: String,
}

impl Slot {
    /// `le mardi 1er décembre 2026 entre 8 h 00 et 10 h 00`.
    pub fn fr(&self) -> String {
        format!("le {} {}", fr_long_day(&self.day), fr_window(&self.start, &self.end))
    }
}

/// The day and window of a schedule or a proposal form, or `None` with the errors recorded.
pub fn check_slot(day: &str, start: &str, end: &str, today: NaiveDate, e: &mut FieldErrors) -> Option<Slot> {
    let day = match parse_future_day(day, today, "La date d'intervention") {
        Ok(Some(d)) => Some(d),
        Ok(None) => {
            e.add("jour", "Indiquez le jour de l'intervention.");
            None
        }
        Err(m) => {
            e.add("jour", m);
            None
        }
    };
    let start = parse_time(start).map_err(|m| e.add("debut", m)).ok();
    let end = parse_time(end).map_err(|m| e.add("fin", m)).ok();
    if let (Some(s), Some(f)) = (&start, &end)
        && s >= f
    {
        e.add("fin", "La fin du créneau doit suivre son début.");
        return None;
    }
    Some(Slot { day: day?, start: start?, end: end? })
}

/// The refusal reason, or the French message why it is refused.
pub fn check_reason(raw: &str) -> Result<String, String> {
    let r = raw.trim().replace("\r\n", "\n");
    if r.is_empty() {
        return Err("Indiquez le motif du refus : le client le lira dans la conversation.".into());
    }
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(format!("Le motif ne doit pas dépasser {MAX_REASON_CHARS} caractères."));
    }
    Ok(r)
}

/// Two windows of the same day overlap (bounds `HH:MM`, end excluded).
pub fn overlaps(a_start: &str, a_end: &str, b_start: &str, b_end: &str) -> bool {
    a_start < b_end && b_start < a_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        parse_iso(s).unwrap()
    }

    #[test]
    fn days_and_windows_read_in_french() {
        assert_eq!(fr_long_day("2026-12-01"), "mardi 1er décembre 2026");
        assert_eq!(fr_long_day("2026-11-22"), "dimanche 22 novembre 2026");
        assert_eq!(fr_short_day("2026-12-01"), "mar. 01/12/2026");
        assert_eq!(fr_window("08:00", "10:30"), "entre 8 h 00 et 10 h 30");
        let slot = Slot { day: "2026-12-01".into(), start: "08:00".into(), end: "10:00".into() };
        assert_eq!(slot.fr(), "le mardi 1er décembre 2026 entre 8 h 00 et 10 h 00");
        assert_eq!(monday_of(day("2026-11-22")), day("2026-11-16"));
        assert_eq!(monday_of(day("2026-11-16")), day("2026-11-16"));
    }

    #[test]
    fn times_are_read_the_ways_people_type_them() {
        assert_eq!(parse_time("08:00").unwrap(), "08:00");
        assert_eq!(parse_time("8:30").unwrap(), "08:30");
        assert_eq!(parse_time("8h").unwrap(), "08:00");
        assert_eq!(parse_time(" 14 h 15 ").unwrap(), "14:15");
        assert_eq!(parse_time("07:45:00").unwrap(), "07:45");
        assert!(parse_time("25:00").is_err());
        assert!(parse_time("8:75").is_err());
        assert!(parse_time("midi").is_err());
        assert!(parse_time("").is_err());
    }

    #[test]
    fn a_request_needs_a_day_to_come_and_a_valid_phone() {
        let today = day("2026-11-23");
        let mut e = FieldErrors::default();
        let ok = check_request(
            &["2026-11-25".into(), "".into(), "27/11/2026".into()],
            " Portail ouvert \r\n ",
            " Julien ",
            "06 23 45 67 89",
            today,
            &mut e,
        );
        assert!(e.is_empty(), "{:?}", e.messages());
        assert_eq!(ok.days, vec!["2026-11-25", "2026-11-27"]);
        assert_eq!((ok.comment.as_str(), ok.contact_name.as_str()), ("Portail ouvert", "Julien"));
        assert_eq!(ok.contact_phone, "+33623456789");

        let mut e = FieldErrors::default();
        check_request(&["".into(), "".into(), "".into()], "", "", "", today, &mut e);
        assert!(e.get("date1").unwrap().contains("au moins une date"));

        let mut e = FieldErrors::default();
        check_request(&["2026-11-20".into(), "2026-11-25".into(), "2026-11-25".into()], "", "", "12", today, &mut e);
        assert!(e.get("date1").unwrap().contains("passée"));
        assert!(e.get("date3").unwrap().contains("déjà"));
        assert!(e.get("contact_tel").is_some());
        let mut e = FieldErrors::default();
        check_request(&["2028-01-01".into()], "", "", "", today, &mut e);
        assert!(e.get("date1").unwrap().contains("lointaine"));
    }

    #[test]
    fn a_slot_needs_a_day_and_an_ordered_window() {
        let today = day("2026-11-23");
        let mut e = FieldErrors::default();
        let s = check_slot("2026-11-23", "8:00", "10:00", today, &mut e).unwrap();
        assert_eq!((s.day.as_str(), s.start.as_str(), s.end.as_str()), ("2026-11-23", "08:00", "10:00"));
        let mut e = FieldErrors::default();
        assert!(check_slot("2026-11-24", "10:00", "09:00", today, &mut e).is_none());
        assert!(e.get("fin").is_some());
        let mut e = FieldErrors::default();
        assert!(check_slot("", "", "10:00", today, &mut e).is_none());
        assert!(e.get("jour").is_some() && e.get("debut").is_some());
        assert!(check_reason("  ").is_err());
        assert_eq!(check_reason(" Hors zone ").unwrap(), "Hors zone");
        assert!(overlaps("08:00", "10:00", "09:00", "11:00"));
        assert!(!overlaps("08:00", "10:00", "10:00", "12:00"));
    }
}
