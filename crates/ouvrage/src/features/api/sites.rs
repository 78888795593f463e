//! `GET /api/v1/sites` and `GET /api/v1/sites/{id}`: the token's client's sites, with the
//! filters of Mes chantiers (the same [`store::search`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use chrono::NaiveDate;
use utoipa::IntoParams;

use super::auth::ApiActor;
use super::problem::Problem;
use super::schema::{SiteDetail, SiteList, SiteOut, StudyVersionOut, string_enum};
use super::segment;
use crate::app::AppState;
use crate::domain::text::search_key;
use crate::domain::{ContactId, SiteId};
use crate::features::clients::ui::positive_id;
use crate::features::sites::model::{Phase, SiteKind, SiteStatus};
use crate::features::sites::store::{self, SiteFilter, SiteSort};
use crate::features::sites::studies;

/// At most this many words of `q` are searched (each must match), as in Mes chantiers.
const MAX_WORDS: usize = 6;
pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 200;

/// The query parameters of the list (all optional). A parameter is read exactly as sent: only
/// `q` and `city`, free text, may be empty (no filter).
#[derive(IntoParams, Default, Debug)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters; `criteria` reads them
pub struct ListParams {
    /// Free text: words to find in the name, address, permit number or owner.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Postcode or its beginning, 1 to 5 digits (`44` for the whole department).
    #[param(pattern = "^[0-9]{1,5}$", example = "44")]
    postcode: Option<String>,
    /// Text to find in the city.
    #[param(max_length = 100)]
    city: Option<String>,
    /// The site manager (contact id).
    #[param(minimum = 1)]
    site_manager_id: Option<i64>,
    #[param(schema_with = from_schema)]
    from: Option<String>,
    #[param(schema_with = to_schema)]
    to: Option<String>,
    #[param(schema_with = phase_schema)]
    phase: Option<String>,
    #[param(schema_with = status_schema)]
    status: Option<String>,
    #[param(schema_with = kind_schema)]
    kind: Option<String>,
    /// `true` for archived sites instead of current ones.
    archived: Option<bool>,
    #[param(schema_with = sort_schema)]
    sort: Option<String>,
    #[param(schema_with = order_schema)]
    order: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<i64>,
    /// Sites per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// A day `YYYY-MM-DD` with a year from 1990 to 2100, as [`day`] takes it (`schema_with` drops the
/// field's doc comment, hence the description here).
fn day_schema(description: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some(description))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date)))
        .pattern(Some("^(199[0-9]|20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"))
        .build()
}

fn from_schema() -> utoipa::openapi::Object {
    day_schema("Intervention dates (expected or actual) from this day, `YYYY-MM-DD` (years 1990 to 2100).")
}

fn to_schema() -> utoipa::openapi::Object {
    day_schema("…to this day, `YYYY-MM-DD` (years 1990 to 2100), not before `from`.")
}

fn phase_schema() -> utoipa::openapi::Object {
    string_enum("`works` or `handover`.", &["works", "handover"])
}

fn status_schema() -> utoipa::openapi::Object {
    string_enum(
        "`to_schedule`, `scheduled`, `done` or `cancelled`.",
        &["to_schedule", "scheduled", "done", "cancelled"],
    )
}

fn kind_schema() -> utoipa::openapi::Object {
    string_enum(
        "`construction`, `residence`, `dwelling` or `premises`.",
        &["construction", "residence", "dwelling", "premises"],
    )
}

fn sort_schema() -> utoipa::openapi::Object {
    string_enum(
        "`name` (default), `postcode`, `city`, `manager`, `date`, `phase` or `status`.",
        &["name", "postcode", "city", "manager", "date", "phase", "status"],
    )
}

fn order_schema() -> utoipa::openapi::Object {
    string_enum("`asc` (default) or `desc`.", &["asc", "desc"])
}

const PARAMS: [&str; 14] = [
    "q",
    "postcode",
    "city",
    "site_manager_id",
    "from",
    "to",
    "phase",
    "status",
    "kind",
    "archived",
    "sort",
    "order",
    "page",
    "per_page",
];

fn sort_of(code: &str) -> Option<SiteSort> {
    Some(match code {
        "name" => SiteSort::Name,
        "postcode" => SiteSort::Postcode,
        "city" => SiteSort::City,
        "manager" => SiteSort::Manager,
        "date" => SiteSort::Date,
        "phase" => SiteSort::Phase,
        "status" => SiteSort::Status,
        _ => return None,
    })
}

/// A number written with digits only (no sign, no spaces), as a query parameter of type
/// integer is; `None` otherwise or when it does not fit in 64 bits.
pub(super) fn whole_number(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn day(raw: &str) -> Result<String, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| raw.len() == 10 && (1990..=2100).contains(&chrono::Datelike::year(d)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| format!("« {raw} » n'est pas une date au format AAAA-MM-JJ (années 1990 à 2100)."))
}

/// The filter, page and page size a query string asks for; 400 with a French message per wrong
/// parameter.
pub fn criteria(query: &str) -> Result<(SiteFilter, i64, i64), Problem> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if !PARAMS.contains(&k.as_ref()) {
            errors.insert(
                k.to_string(),
                format!("Paramètre inconnu « {k} » : les paramètres reconnus sont {}.", PARAMS.join(", ")),
            );
            continue;
        }
        if values.insert(k.to_string(), v.to_string()).is_some() {
            errors.insert(k.to_string(), format!("Le paramètre « {k} » est donné plusieurs fois."));
        }
    }
    // Read as sent, as the OpenAPI document describes them: an empty value is a wrong value,
    // except for the free-text `q` and `city`.
    let get = |k: &str| values.get(k).map(String::as_str);
    let mut f = SiteFilter::default();
    if let Some(q) = get("q") {
        if q.chars().count() > 200 {
            errors.insert("q".into(), "La recherche ne doit pas dépasser 200 caractères.".into());
        }
        let folded = search_key(&[q]);
        f.words = folded.split(' ').filter(|w| !w.is_empty()).take(MAX_WORDS).map(String::from).collect();
    }
    if let Some(cp) = get("postcode") {
        if (1..=5).contains(&cp.len()) && cp.bytes().all(|b| b.is_ascii_digit()) {
            f.postcode_prefix = cp.to_string();
        } else {
            errors.insert(
                "postcode".into(),
                "Le code postal recherché s'écrit avec 1 à 5 chiffres (par exemple 44 pour tout le département)."
                    .into(),
            );
        }
    }
    if let Some(city) = get("city") {
        if city.chars().count() > 100 {
            errors.insert("city".into(), "La commune recherchée ne doit pas dépasser 100 caractères.".into());
        }
        if !city.trim().is_empty() {
            f.city = search_key(&[city]);
        }
    }
    if let Some(m) = get("site_manager_id") {
        match whole_number(m) {
            Some(id) if id > 0 => f.manager = Some(ContactId(id)),
            _ => {
                errors.insert("site_manager_id".into(), format!("« {m} » n'est pas un identifiant de contact."));
            }
        }
    }
    for key in ["from", "to"] {
        if let Some(raw) = get(key) {
            match day(raw) {
                Ok(d) if key == "from" => f.from = Some(d),
                Ok(d) => f.to = Some(d),
                Err(m) => {
                    errors.insert(key.into(), m);
                }
            }
        }
    }
    if let (Some(a), Some(b)) = (&f.from, &f.to)
        && a > b
    {
        errors.insert("to".into(), "La date de fin de la période précède sa date de début.".into());
    }
    if let Some(p) = get("phase") {
        match Phase::parse(p).filter(|x| x.code() == p) {
            Some(p) => f.phase = Some(p.code()),
            None => {
                errors.insert("phase".into(), format!("Phase inconnue « {p} » : works ou handover."));
            }
        }
    }
    if let Some(s) = get("status") {
        match SiteStatus::parse(s).filter(|x| x.code() == s) {
            Some(s) => f.status = Some(s.code()),
            None => {
                errors.insert(
                    "status".into(),
                    format!("Statut inconnu « {s} » : to_schedule, scheduled, done ou cancelled."),
                );
            }
        }
    }
    if let Some(k) = get("kind") {
        match SiteKind::parse(k).filter(|x| x.code() == k) {
            Some(k) => f.kind = Some(k.code()),
            None => {
                errors.insert(
                    "kind".into(),
                    format!("Type de site inconnu « {k} » : construction, residence, dwelling ou premises."),
                );
            }
        }
    }
    if let Some(a) = get("archived") {
        match a {
            "true" => f.archived = true,
            "false" => f.archived = false,
            _ => {
                errors.insert("archived".into(), format!("« {a} » : true ou false est attendu."));
            }
        }
    }
    if let Some(s) = get("sort") {
        match sort_of(s) {
            Some(s) => f.sort = s,
            None => {
                errors.insert(
                    "sort".into(),
                    format!("Tri inconnu « {s} » : name, postcode, city, manager, date, phase ou status."),
                );
            }
        }
    }
    if let Some(o) = get("order") {
        match o {
            "asc" => f.desc = false,
            "desc" => f.desc = true,
            _ => {
                errors.insert("order".into(), format!("Ordre inconnu « {o} » : asc ou desc."));
            }
        }
    }
    let mut number = |key: &'static str, default: i64, max: i64| -> i64 {
        match get(key) {
            None => default,
            Some(raw) => match whole_number(raw) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.insert(key.into(), format!("« {raw} » : un nombre entier de 1 à {max} est attendu."));
                    default
                }
            },
        }
    };
    let page = number("page", 1, 1_000_000);
    let per_page = number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE);
    if errors.is_empty() { Ok((f, page, per_page)) } else { Err(Problem::bad_params(errors)) }
}

/// Lists the sites of the token's client.
#[utoipa::path(
    get,
    path = "/api/v1/sites",
    operation_id = "listSites",
    tag = "Chantiers",
    summary = "Lister les chantiers du client",
    description = "Les sites du client du jeton, avec les filtres de « Mes chantiers ».",
    params(ListParams),
    responses(
        (status = 200, description = "Une page de sites", body = SiteList),
        (status = 400, description = "Paramètre invalide (`errors`)",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    actor: ApiActor,
    RawQuery(query): RawQuery,
) -> Result<Json<SiteList>, Problem> {
    let (filter, page, per_page) = criteria(query.as_deref().unwrap_or_default())?;
    let offset = (page - 1).saturating_mul(per_page);
    let (rows, total) = store::search(&state.db, actor.scope(), &filter, Some((per_page, offset)))
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(SiteList { items: rows.iter().map(SiteOut::from).collect(), total, page, per_page }))
}

/// One site of the token's client, with the latest version of its thermal study.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}",
    operation_id = "getSite",
    tag = "Chantiers",
    summary = "Lire un chantier",
    params(("id" = i64, Path, minimum = 1, description = "L'identifiant du site")),
    responses(
        (status = 200, description = "Le site et sa dernière étude thermique", body = SiteDetail),
        (status = 401, description = "Jeton manquant, inconnu ou révoqué",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Pas de tel site pour ce client",
            body = super::problem::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    actor: ApiActor,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SiteDetail>, Problem> {
    let not_found = || Problem::not_found("Ce chantier est introuvable pour ce client.");
    let id = positive_id(&segment(id)).ok_or_else(not_found)?;
    let scope = actor.scope();
    let site = store::site(&state.db, scope, id).await.map_err(|e| Problem::internal(&e))?.ok_or_else(not_found)?;
    let versions = studies::versions(&state.db, scope, SiteId(id)).await.map_err(|e| Problem::internal(&e))?;
    let thermal_study = versions.first().and_then(StudyVersionOut::of);
    Ok(Json(SiteDetail { site: SiteOut::from(&site), thermal_study }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_are_read_and_checked() {
        let (f, page, per) =
            criteria("q=R%C3%A9sidence+Erdre&postcode=44&from=2026-03-01&phase=works&sort=date&order=desc&page=2")
                .unwrap();
        assert_eq!(f.words, vec!["residence", "erdre"]);
        assert_eq!(f.postcode_prefix, "44");
        assert_eq!(f.from.as_deref(), Some("2026-03-01"));
        assert_eq!(f.phase, Some("works"));
        assert_eq!((f.sort, f.desc), (SiteSort::Date, true));
        assert_eq!((page, per), (2, 50));

        let p = criteria("postcode=44A&from=01/03/2026&per_page=500&status=bogus&colour=red").unwrap_err();
        let errors = &p.extensions["errors"];
        for key in ["postcode", "from", "per_page", "status", "colour"] {
            assert!(errors[key].is_string(), "{key}: {errors}");
        }
    }
}
