//! The firm's own settings (the tenant): legal identity and contact details, admin only.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};

use crate::app::AppState;
use crate::domain::format::fr_phone;
use crate::domain::{Email, TenantId, parse_phone, parse_postcode, parse_siren, parse_siret};
use crate::features::account::{DigestFields, firm_digest_fields};
use crate::features::audit;
use crate::features::clients::ui::{FieldErrors, FormData};
use crate::features::users::account::{DigestChoice, DigestFormError, DigestProfile, FirmDigest, firm_digest};
use crate::http::{AdminActor, AppError, AppResult, Ctx, render};
use crate::{exec_tx, on_db};

pub fn routes() -> Router<AppState> {
    Router::new().route("/bo/parametres", get(page).post(save))
}

#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct FirmData {
    pub legal_name: String,
    pub siren: String,
    pub siret: String,
    pub vat_number: String,
    pub address_line1: String,
    pub address_line2: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
}

async fn load(state: &AppState, tenant: TenantId) -> AppResult<FirmData> {
    on_db!(&state.db, |p| sqlx::query_as(
        "SELECT legal_name, siren, siret, vat_number, address_line1, address_line2, postcode, city, phone, email
         FROM tenants WHERE id = $1"
    )
    .bind(tenant)
    .fetch_optional(p)
    .await)?
    .ok_or(AppError::NotFound)
}

/// A French intra-community VAT number: `FR`, a 2-character key, then the 9 digits of the
/// SIREN. Spaces are ignored; the result is upper-case.
pub fn parse_vat_number(input: &str) -> Result<String, String> {
    let s: String = input.chars().filter(|c| !c.is_whitespace() && *c != '.').collect::<String>().to_uppercase();
    if s.is_empty() {
        return Ok(s);
    }
    let ok = s.len() == 13
        && s.starts_with("FR")
        && s[2..4].chars().all(|c| c.is_ascii_alphanumeric())
        && s[4..].chars().all(|c| c.is_ascii_digit());
    if !ok {
        return Err("Le numéro de TVA intracommunautaire s'écrit FR suivi de 11 caractères : la clé (2 caractères) puis les 9 chiffres du SIREN.".into());
    }
    // A numeric key is (12 + 3 × (SIREN mod 97)) mod 97.
    if let (Ok(key), Ok(siren)) = (s[2..4].parse::<u64>(), s[4..].parse::<u64>())
        && key != (12 + 3 * (siren % 97)) % 97
    {
        return Err("La clé de ce numéro de TVA ne correspond pas au SIREN : vérifiez-le.".into());
    }
    Ok(s)
}

fn read_form(d: &FormData) -> FirmData {
    FirmData {
        legal_name: d.get("legal_name"),
        siren: d.get("siren"),
        siret: d.get("siret"),
        vat_number: d.get("vat_number"),
        address_line1: d.get("address_line1"),
        address_line2: d.get("address_line2"),
        postcode: d.get("postcode"),
        city: d.get("city"),
        phone: d.get("phone"),
        email: d.get("email"),
    }
}

fn validate(t: &FirmData) -> Result<FirmData, FieldErrors> {
    let mut e = FieldErrors::default();
    if t.legal_name.is_empty() {
        e.add("legal_name", "La raison sociale est obligatoire.");
    }
    e.max_len("legal_name", "La raison sociale", &t.legal_name, 200);
    let siren = e.check("siren", parse_siren(&t.siren));
    let siret = e.check("siret", parse_siret(&t.siret));
    let vat_number = e.check("vat_number", parse_vat_number(&t.vat_number));
    if !siren.is_empty() && !siret.is_empty() && !siret.starts_with(&siren) {
        e.add("siret", "Le SIRET doit commencer par les 9 chiffres du SIREN.");
    }
    if !siren.is_empty() && !vat_number.is_empty() && !vat_number.ends_with(&siren) {
        e.add("vat_number", "Le numéro de TVA doit se terminer par les 9 chiffres du SIREN.");
    }
    let postcode = e.check("postcode", parse_postcode(&t.postcode));
    let phone = e.check("phone", parse_phone(&t.phone));
    let email = if t.email.is_empty() {
        String::new()
    } else {
        e.check("email", Email::parse(&t.email).map(|m| m.as_str().to_string()))
    };
    e.max_len("address_line1", "L'adresse", &t.address_line1, 200);
    e.max_len("address_line2", "Le complément d'adresse", &t.address_line2, 200);
    e.max_len("city", "La ville", &t.city, 100);
    if !e.is_empty() {
        return Err(e);
    }
    Ok(FirmData {
        legal_name: t.legal_name.clone(),
        siren,
        siret,
        vat_number,
        address_line1: t.address_line1.clone(),
        address_line2: t.address_line2.clone(),
        postcode,
        city: t.city.clone(),
        phone,
        email,
    })
}

#[derive(Template)]
#[template(path = "bo/settings/firm.html")]
struct SettingsPage {
    ctx: Ctx,
    form: FirmData,
    errors: FieldErrors,
    has_logo: bool,
    digest: DigestFields,
}

async fn page(State(state): State<AppState>, ctx: Ctx, AdminActor(actor): AdminActor) -> AppResult<Response> {
    let mut form = load(&state, actor.tenant_id).await?;
    form.phone = fr_phone(&form.phone);
    let has_logo = super::logo::has_logo(&state, actor.tenant_id).await?;
    let firm = firm_digest(&state.db, actor.tenant_id).await?;
    let digest = firm_digest_fields(&firm.frequency, &firm.weekday.to_string(), &firm);
    Ok(render(&SettingsPage { ctx: ctx.with_nav("settings"), form, errors: FieldErrors::default(), has_logo, digest })?
        .into_response())
}

fn changed(before: &FirmData, after: &FirmData) -> String {
    [
        ("raison sociale", before.legal_name != after.legal_name),
        ("SIREN", before.siren != after.siren),
        ("SIRET", before.siret != after.siret),
        ("TVA", before.vat_number != after.vat_number),
        ("adresse", before.address_line1 != after.address_line1 || before.address_line2 != after.address_line2),
        ("code postal", before.postcode != after.postcode),
        ("ville", before.city != after.city),
        ("téléphone", before.phone != after.phone),
        ("e-mail", before.email != after.email),
    ]
    .iter()
    .filter(|(_, c)| *c)
    .map(|(l, _)| *l)
    .collect::<Vec<_>>()
    .join(", ")
}

async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    AdminActor(actor): AdminActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let raw = FormData(raw);
    let typed = read_form(&raw);
    let firm_before = firm_digest(&state.db, actor.tenant_id).await?;
    // The firm's default notification frequency; a form without it keeps the current one.
    let (freq_typed, day_typed) = if raw.has("digest_frequency") {
        (raw.get("digest_frequency"), raw.get("digest_weekday"))
    } else {
        (firm_before.frequency.clone(), firm_before.weekday.to_string())
    };
    let digest = parse_firm_digest(&freq_typed, &day_typed, &firm_before);
    let (data, firm_after) = match (validate(&typed), digest) {
        (Ok(d), Ok(f)) => (d, f),
        (result, digest) => {
            let mut errors = result.err().unwrap_or_default();
            if let Err(e) = digest {
                errors.add(e.field(), e.to_string());
            }
            let has_logo = super::logo::has_logo(&state, actor.tenant_id).await?;
            let digest = firm_digest_fields(&freq_typed, &day_typed, &firm_before);
            let page = SettingsPage { ctx: ctx.with_nav("settings"), form: typed, errors, has_logo, digest };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let before = load(&state, actor.tenant_id).await?;
    let mut changes = changed(&before, &data);
    let digest_changed = firm_after != firm_before;
    if digest_changed {
        let part = format!("notifications par défaut : {}", firm_after.effective().label());
        changes = if changes.is_empty() { part } else { format!("{changes}, {part}") };
    }
    if !changes.is_empty() {
        let mut tx = state.db.begin().await?;
        exec_tx!(&mut tx, |c| sqlx::query(
            "UPDATE tenants SET legal_name = $1, siren = $2, siret = $3, vat_number = $4, address_line1 = $5,
                    address_line2 = $6, postcode = $7, city = $8, phone = $9, email = $10
             WHERE id = $11"
        )
        .bind(&data.legal_name)
        .bind(&data.siren)
        .bind(&data.siret)
        .bind(&data.vat_number)
        .bind(&data.address_line1)
        .bind(&data.address_line2)
        .bind(&data.postcode)
        .bind(&data.city)
        .bind(&data.phone)
        .bind(&data.email)
        .bind(actor.tenant_id)
        .execute(c)
        .await)?;
        if digest_changed {
            exec_tx!(&mut tx, |c| sqlx::query(
                "UPDATE tenants SET default_digest_frequency = $1, default_digest_weekday = $2 WHERE id = $3"
            )
            .bind(&firm_after.frequency)
            .bind(firm_after.weekday)
            .bind(actor.tenant_id)
            .execute(c)
            .await)?;
        }
        audit::record(
            &mut tx,
            &actor,
            "update",
            "tenant",
            Some(actor.tenant_id.0),
            &format!("Paramètres de l'entreprise modifiés ({changes})"),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Redirect::to("/bo/parametres?msg=enregistre").into_response())
}

/// The firm's default from the form: NON, daily or weekly (a default cannot follow itself);
/// the stored day is kept when the frequency is not weekly.
fn parse_firm_digest(frequency: &str, weekday: &str, before: &FirmDigest) -> Result<FirmDigest, DigestFormError> {
    let p = DigestProfile::parse_form(frequency, weekday)?;
    if p.choice == DigestChoice::Default {
        return Err(DigestFormError::Frequency);
    }
    Ok(FirmDigest { frequency: p.choice.code().to_string(), weekday: p.weekday.unwrap_or(before.weekday) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_numbers_are_checked() {
        assert_eq!(parse_vat_number("fr 44 732829320").unwrap(), "FR44732829320");
        assert!(parse_vat_number("FR4473282932").is_err());
        assert!(parse_vat_number("DE123456789").is_err());
        assert!(parse_vat_number("FR19552100554").unwrap_err().contains("clé"), "a wrong key is refused");
        assert_eq!(parse_vat_number("").unwrap(), "");
    }

    #[test]
    fn the_firm_default_is_never_default() {
        let before = FirmDigest { frequency: "daily".into(), weekday: 4 };
        assert_eq!(parse_firm_digest("default", "", &before), Err(DigestFormError::Frequency));
        assert_eq!(parse_firm_digest("weekly", "", &before), Err(DigestFormError::Weekday));
        assert_eq!(
            parse_firm_digest("weekly", "2", &before),
            Ok(FirmDigest { frequency: "weekly".into(), weekday: 2 })
        );
        assert_eq!(parse_firm_digest("none", "", &before), Ok(FirmDigest { frequency: "none".into(), weekday: 4 }));
    }

    #[test]
    fn siret_and_vat_follow_the_siren() {
        let mut t = FirmData {
            legal_name: "Mesures".into(),
            siren: "732829320".into(),
            siret: "55210055400013".into(),
            vat_number: "FR96552100554".into(),
            address_line1: String::new(),
            address_line2: String::new(),
            postcode: String::new(),
            city: String::new(),
            phone: String::new(),
            email: String::new(),
        };
        let e = validate(&t).unwrap_err();
        assert!(e.get("siret").is_some());
        assert!(e.get("vat_number").is_some());
        t.siren = "552100554".into();
        assert!(validate(&t).is_ok());
    }
}
