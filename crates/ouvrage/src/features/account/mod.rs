//! The user's own account and the client admin's management of their colleagues' accesses:
//! personal data and notification profile (both faces), giving, re-sending and revoking
//! extranet access from "Mon entreprise". The rules (accounts, temporary passwords, the access
//! e-mail, the effective digest frequency) live in `users::account`; this folder parses,
//! authorises and renders.

pub mod access;
pub mod profile;
pub mod store;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::features::clients::company;
use crate::features::clients::ui::Opt;
use crate::features::users::account::{DigestChoice, DigestProfile, FirmDigest, weekday_from_number, weekday_label};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/espace/profil", get(profile::espace_page).post(profile::espace_save))
        .route("/bo/profil", get(profile::bo_page).post(profile::bo_save))
        .route("/espace/entreprise/contacts/{id}/acces", get(access::give_page).post(access::give))
        .route("/espace/entreprise/acces/{id}", get(access::edit_page).post(access::update))
        .route("/espace/entreprise/acces/{id}/renvoyer", post(access::resend))
        .route("/espace/entreprise/acces/{id}/revoquer", post(access::revoke))
        .merge(company::routes())
}

/// The choices of a notification-profile form, with what the user typed selected.
pub struct DigestFields {
    pub legend: &'static str,
    pub freqs: Vec<Opt>,
    pub days: Vec<Opt>,
    /// What "Par défaut" currently means, e.g. `Quotidien`.
    pub firm_label: String,
}

/// A user's form: "Par défaut (…)" then NON / daily / weekly; `frequency`/`weekday` as typed.
pub fn digest_fields(frequency: &str, weekday: &str, firm: &FirmDigest) -> DigestFields {
    fields("Notifications par e-mail", &DigestChoice::ALL, frequency, weekday, firm)
}

/// The firm's default in the settings: NON / daily / weekly.
pub fn firm_digest_fields(frequency: &str, weekday: &str, firm: &FirmDigest) -> DigestFields {
    fields(
        "Notifications par e-mail : fréquence par défaut des utilisateurs",
        &DigestChoice::FIRM,
        frequency,
        weekday,
        firm,
    )
}

/// The form values of a stored profile.
pub fn profile_values(p: &DigestProfile) -> (String, String) {
    (p.choice.code().to_string(), p.weekday.map(|d| d.to_string()).unwrap_or_default())
}

fn fields(
    legend: &'static str,
    choices: &[DigestChoice],
    frequency: &str,
    weekday: &str,
    firm: &FirmDigest,
) -> DigestFields {
    let firm_label = firm.effective().label();
    let freqs = choices
        .iter()
        .map(|c| {
            let label = match c {
                DigestChoice::Default => format!("Par défaut de l'entreprise ({firm_label})"),
                other => other.label().to_string(),
            };
            Opt::new(c.code(), label, frequency)
        })
        .collect();
    // Without a day of their own, the firm's day is offered.
    let day = if weekday.trim().is_empty() { firm.weekday.to_string() } else { weekday.trim().to_string() };
    let days = (1..=7)
        .filter_map(|n| weekday_from_number(n).map(|d| (n, d)))
        .map(|(n, d)| {
            let label = weekday_label(d);
            let mut chars = label.chars();
            let cap = chars.next().map(|f| f.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default();
            Opt::new(n.to_string(), cap, &day)
        })
        .collect();
    DigestFields { legend, freqs, days, firm_label }
}
