//! The thermal study in the site pages, on both faces:
//! - `POST {base}/nouveau/etude`: the file dropped on "Créer un chantier" opens the site form
//!   prefilled (see [`super::form::study_new`]);
//! - `POST {base}/{id}/etude`: an updated study on an existing site, filed as a new version
//!   with what changed;
//! - the study's section of the site page: the latest indicators, the file, every version.
//!
//! Writers only ([`super::can_write`]); client users on their own current sites.

use askama::Template;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use bytes::{Bytes, BytesMut};
use ouvrage_thermal::{ParseError, ThermalStudy};

use super::duplicates::{self, Candidate, Probe};
use super::form::{self, NewQuery};
use super::list::load;
use super::model::{self, SiteForm, SiteStatus};
use super::store::{Scope, SiteRow};
use super::studies::{self, Change, Importer, Source, StudyError};
use super::{Area, can_write};
use crate::app::AppState;
use crate::domain::time::fr_datetime;
use crate::features::files::fr_size;
use crate::features::files::upload::{UploadError, clean_name};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

/// The `accept` attribute of the study file inputs.
pub const ACCEPT: &str = ".xml,application/xml,text/xml";

// ---------------------------------------------------------------------------------------------
// Routes (declared in `sites/mod.rs`).

pub async fn bo_new(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<NewQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    new_study(&state, ctx, &actor, Area::Bo, q, multipart).await
}

pub async fn espace_new(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    new_study(&state, ctx, &actor, Area::Espace, NewQuery::default(), multipart).await
}

pub async fn bo_update(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    update_study(&state, ctx, &actor, Area::Bo, &id, multipart).await
}

pub async fn espace_update(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    update_study(&state, ctx, &actor, Area::Espace, &id, multipart).await
}

async fn new_study(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    q: NewQuery,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    // Refused before the body is read: nothing of a forbidden upload is kept.
    if !can_write(actor) {
        return Err(AppError::Forbidden);
    }
    let client = form::new_client(state, actor, area, &q.client).await?;
    let upload = read_upload(multipart, state.config.max_upload_bytes).await;
    form::study_new(state, ctx, actor, area, &client, upload).await
}

// ---------------------------------------------------------------------------------------------
// Reading the upload.

/// Why an upload could not be read: the status and the French message.
pub type Refused = (StatusCode, String);

fn multipart_refusal(err: &MultipartError, limit: &str) -> Refused {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Le fichier dépasse la taille maximale autorisée de {limit} : l'étude thermique n'a pas été lue."),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "L'envoi a été interrompu ou est mal formé : choisissez à nouveau le fichier de l'étude puis renvoyez-le."
                .into(),
        )
    }
}

/// The file of the form's `file` field (its name and bytes), at most `max` bytes.
pub async fn read_upload(
    multipart: Result<Multipart, MultipartRejection>,
    max: u64,
) -> Result<(String, Bytes), Refused> {
    let limit = fr_size(max as i64);
    let mut multipart = multipart.map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "Le formulaire d'envoi n'a pas été reçu correctement : choisissez le fichier de l'étude puis renvoyez-le."
                .to_string(),
        )
    })?;
    let mut found: Option<(String, Bytes)> = None;
    let mut too_large: Option<String> = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(match too_large {
                    Some(n) => too_large_refusal(&n, &limit),
                    None => multipart_refusal(&e, &limit),
                });
            }
        };
        let wanted = field.name() == Some("file") && field.file_name().is_some() && found.is_none();
        let name = field.file_name().unwrap_or_default().to_string();
        let mut buf = BytesMut::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if !wanted || over {
                        continue;
                    }
                    if (buf.len() + chunk.len()) as u64 > max {
                        over = true;
                        buf = BytesMut::new();
                    } else {
                        buf.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                // The body limit cut the upload: nothing more can be read.
                Err(_) if over => return Err(too_large_refusal(&name, &limit)),
                Err(e) => return Err(multipart_refusal(&e, &limit)),
            }
        }
        if over {
            too_large = Some(name);
        } else if wanted && !(name.is_empty() && buf.is_empty()) {
            found = Some((name, buf.freeze()));
        }
    }
    if let Some(name) = too_large {
        return Err(too_large_refusal(&name, &limit));
    }
    found.ok_or_else(|| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choisissez le fichier de l'étude thermique (RSET ou RSEE, au format XML) avant d'envoyer.".to_string(),
        )
    })
}

fn too_large_refusal(name: &str, limit: &str) -> Refused {
    let shown = clean_name(name);
    let name = if shown.is_empty() { "sans nom".to_string() } else { shown };
    (StatusCode::PAYLOAD_TOO_LARGE, UploadError::TooLarge { name, limit: limit.to_string() }.to_string())
}

/// The status and message of a refused study; the errors that are not the user's to fix
/// (database, scope) become the usual error pages.
pub fn refusal(e: StudyError) -> Result<Refused, AppError> {
    let e = match e {
        StudyError::NotFound => return Err(AppError::NotFound),
        StudyError::Db(db) => return Err(AppError::from(db)),
        other => other,
    };
    let status = match &e {
        StudyError::Unreadable(ParseError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        StudyError::Unreadable(_) | StudyError::Invalid(_) | StudyError::StagedMissing => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        StudyError::Upload(u) => u.status(),
        StudyError::Duplicate(_) | StudyError::AlreadyImported { .. } => StatusCode::CONFLICT,
        StudyError::NotFound => StatusCode::NOT_FOUND,
        StudyError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Ok((status, e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// What a study says, as the pages show it.

pub struct BuildingView {
    pub label: String,
    pub shab: String,
    pub sref: String,
    pub bbio: String,
    pub cep: String,
    pub cep_nr: String,
    pub ic_construction: String,
    pub ic_energie: String,
}

/// A study's administrative data and indicators, French decimals, "—" for what it lacks.
pub struct StudyView {
    pub format: String,
    pub engine: String,
    pub software: String,
    pub bet: String,
    pub building_type: String,
    pub dwellings: String,
    pub heating: String,
    pub dhw: String,
    pub buildings: Vec<BuildingView>,
    /// What could not be read in the file.
    pub warnings: Vec<String>,
    /// RE2020 indicators (SRef, Ic) are shown only when some building has them.
    pub has_re2020: bool,
}

const NONE: &str = "—";

fn text(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(NONE).to_string()
}

fn num(v: Option<f64>) -> String {
    v.map(studies::fr_decimal).unwrap_or_else(|| NONE.to_string())
}

impl StudyView {
    pub fn of(s: &ThermalStudy) -> StudyView {
        let buildings: Vec<BuildingView> = s
            .buildings
            .iter()
            .map(|b| BuildingView {
                label: match b.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    Some(n) => format!("{} — {n}", b.index),
                    None => format!("Bâtiment {}", b.index),
                },
                shab: num(b.shab),
                sref: num(b.sref),
                bbio: num(b.bbio),
                cep: num(b.cep),
                cep_nr: num(b.cep_nr),
                ic_construction: num(b.ic_construction),
                ic_energie: num(b.ic_energie),
            })
            .collect();
        StudyView {
            format: s.format.label().to_string(),
            engine: text(&s.engine_version),
            software: text(&s.software),
            bet: text(&s.bet_name),
            building_type: s.building_type.label().to_string(),
            dwellings: s.dwellings.map(|n| n.to_string()).unwrap_or_else(|| NONE.to_string()),
            heating: text(&s.heating_energy),
            dhw: text(&s.dhw_energy),
            has_re2020: s.buildings.iter().any(|b| b.sref.is_some() || b.ic_construction.is_some()),
            buildings,
            warnings: s.warnings.clone(),
        }
    }
}

/// A site that may be the same chantier, as the form lists it.
pub struct DuplicateView {
    pub url: String,
    pub name: String,
    pub address: String,
    /// The site's client, for staff (empty for client users: always their own).
    pub client: String,
    pub reasons: String,
    pub archived: bool,
}

impl DuplicateView {
    pub fn of(c: &Candidate, area: Area) -> DuplicateView {
        DuplicateView {
            url: format!("{}/{}", area.base(), c.id),
            name: c.name.clone(),
            address: c.address(),
            client: if area.is_bo() { format!("{} — {}", c.client_code, c.client_name) } else { String::new() },
            reasons: c.reasons_text(),
            archived: c.archived,
        }
    }
}

/// What a form (typed or prefilled) is compared on, even when it is not valid yet.
pub fn probe_of(form: &SiteForm) -> Probe {
    match model::validate(form, false, (SiteStatus::ToSchedule, None)) {
        Ok(data) => Probe::of(&data),
        Err(_) => Probe {
            permit_key: duplicates::permit_key(&form.permit_number),
            postcode: form.postcode.trim().to_string(),
            address_key: duplicates::address_key(&form.street_number, &form.street),
            owner_key: duplicates::owner_key(&form.owner_name),
            name_key: crate::domain::text::search_key(&[&form.name]),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// An updated study on an existing site.

#[derive(Template)]
#[template(path = "sites/study_error.html")]
struct StudyErrorPage {
    ctx: Ctx,
    bo: bool,
    base: &'static str,
    title: String,
    message: String,
    /// The site that already holds the same file.
    link: Option<String>,
    back: String,
    site_name: String,
}

fn study_error_page(
    ctx: Ctx,
    area: Area,
    site: &SiteRow,
    (status, message): Refused,
    link: Option<String>,
) -> AppResult<Response> {
    let page = StudyErrorPage {
        ctx: ctx.with_nav("sites"),
        bo: area.is_bo(),
        base: area.base(),
        title: "Étude thermique non enregistrée".into(),
        message,
        link,
        back: format!("{}/{}", area.base(), site.id),
        site_name: site.name.clone(),
    };
    Ok((status, render(&page)?).into_response())
}

async fn update_study(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw_id: &str,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let site = load(state, actor, raw_id).await?;
    form::require_editable(actor, area, &site)?;
    let (name, bytes) = match read_upload(multipart, state.config.max_upload_bytes).await {
        Ok(v) => v,
        Err(refused) => return study_error_page(ctx, area, &site, refused, None),
    };
    let who = Importer { audit: actor.into(), user: Some(actor.user_id), api_token: None, source: Source::Form };
    let scope = Scope::of(actor);
    match studies::import(state, &who, scope, site.client_id, &name, bytes, Some(site.id), false).await {
        Ok(imported) => {
            let first = studies::versions(&state.db, scope, site.id).await?.len() <= 1;
            let note = if first { "jointe".to_string() } else { imported.attached.changes.len().to_string() };
            Ok(Redirect::to(&format!("{}/{}?etude={note}", area.base(), site.id)).into_response())
        }
        Err(StudyError::AlreadyImported { site_id }) => {
            let message = if site_id == site.id {
                "Ce fichier est déjà la version enregistrée de l'étude thermique de ce chantier (ou l'une de ses \
                 versions précédentes) : rien n'a changé."
                    .to_string()
            } else {
                format!("Ce fichier d'étude thermique a déjà été importé, sur un autre chantier (site n° {site_id}).")
            };
            let link = format!("{}/{site_id}", area.base());
            study_error_page(ctx, area, &site, (StatusCode::CONFLICT, message), Some(link))
        }
        Err(e) => study_error_page(ctx, area, &site, refusal(e)?, None),
    }
}

// ---------------------------------------------------------------------------------------------
// The site page's section.

/// `?etude=…` after an updated study: the confirmation shown on the site page.
#[derive(Default, Debug)]
pub struct DetailQuery {
    pub etude: String,
}

impl DetailQuery {
    /// Read from the query's pairs (any other parameter, or a repeated one, is ignored).
    pub fn of(pairs: &[(String, String)]) -> DetailQuery {
        DetailQuery { etude: pairs.iter().find(|(k, _)| k == "etude").map(|(_, v)| v.clone()).unwrap_or_default() }
    }

    /// Only known values are shown (the URL cannot inject text).
    pub fn notice(&self) -> Option<String> {
        let v = self.etude.trim();
        if v == "jointe" {
            return Some("Étude thermique jointe au chantier.".into());
        }
        let n: u32 = v.parse().ok()?;
        Some(match n {
            0 => {
                "Nouvelle version de l'étude thermique enregistrée : aucune différence dans ce qu'elle indique.".into()
            }
            1 => "Nouvelle version de l'étude thermique enregistrée : 1 changement.".into(),
            n => format!("Nouvelle version de l'étude thermique enregistrée : {n} changements."),
        })
    }
}

/// One version of the study in the history, newest first.
pub struct VersionView {
    pub number: usize,
    pub when: String,
    pub source: &'static str,
    pub format: String,
    pub file_url: String,
    pub file_name: String,
    /// The first version has nothing to compare with.
    pub first: bool,
    pub changes: Vec<Change>,
    /// Labels of the site fields that followed this version ("nom, commune"); empty if none.
    pub followed: String,
}

/// The study of a site: its latest indicators, its file and its versions.
pub struct StudySection {
    pub latest: Option<StudyView>,
    pub file_url: String,
    pub file_name: String,
    pub versions: Vec<VersionView>,
    /// The form of an updated study; empty when the actor may not send one.
    pub upload_action: String,
    pub accept: &'static str,
}

impl StudySection {
    pub fn has_study(&self) -> bool {
        !self.versions.is_empty()
    }
}

pub async fn section(
    state: &AppState,
    actor: &Actor,
    area: Area,
    site: &SiteRow,
    csrf: &str,
    can_upload: bool,
) -> AppResult<StudySection> {
    let versions = studies::versions(&state.db, Scope::of(actor), site.id).await?;
    let total = versions.len();
    let latest = versions.first().and_then(|v| v.study.as_ref()).map(StudyView::of);
    let (file_url, file_name) =
        versions.first().map(|v| (format!("/fichiers/{}", v.file_id), v.file_name.clone())).unwrap_or_default();
    let views = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let number = total - i;
            VersionView {
                number,
                when: fr_datetime(v.created_at),
                source: Source::label(&v.source),
                format: v.study.as_ref().map(|s| s.format.label().to_string()).unwrap_or_else(|| v.format.clone()),
                file_url: format!("/fichiers/{}", v.file_id),
                file_name: v.file_name.clone(),
                first: number == 1,
                changes: v.changes.clone(),
                followed: v.moved.clone(),
            }
        })
        .collect();
    let upload_action =
        if can_upload { format!("{}/{}/etude?_csrf={csrf}", area.base(), site.id) } else { String::new() };
    Ok(StudySection { latest, file_url, file_name, versions: views, upload_action, accept: ACCEPT })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SiteId;

    fn query(pairs: &[(&str, &str)]) -> DetailQuery {
        DetailQuery::of(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
    }

    #[test]
    fn the_site_page_confirms_only_known_values() {
        assert_eq!(query(&[("etude", "jointe")]).notice().as_deref(), Some("Étude thermique jointe au chantier."));
        assert!(query(&[("msg", "cree"), ("etude", "3")]).notice().unwrap().ends_with(": 3 changements."));
        assert!(query(&[("etude", "1")]).notice().unwrap().ends_with(": 1 changement."));
        assert_eq!(query(&[("etude", "<script>")]).notice(), None);
        assert_eq!(query(&[("etude", "-2")]).notice(), None);
        assert_eq!(query(&[]).notice(), None);
    }

    #[test]
    fn refused_studies_get_their_status() {
        let status = |e: StudyError| refusal(e).map(|(s, _)| s).ok();
        assert_eq!(status(StudyError::Unreadable(ParseError::Dpe)), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(
            status(StudyError::Unreadable(ParseError::TooLarge { size: 60 << 20 })),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(status(StudyError::StagedMissing), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(status(StudyError::AlreadyImported { site_id: SiteId(4) }), Some(StatusCode::CONFLICT));
        assert!(matches!(refusal(StudyError::NotFound), Err(AppError::NotFound)));
    }

    #[test]
    fn an_incomplete_form_is_still_compared_on_what_it_gives() {
        let form = SiteForm {
            permit_number: "PC 044 109 25 A0012".into(),
            street_number: "3".into(),
            street: "r. des Lilas".into(),
            postcode: "44000".into(),
            ..SiteForm::default()
        };
        let p = probe_of(&form);
        assert_eq!(p.permit_key, "PC04410925A0012");
        assert_eq!(p.address_key, duplicates::address_key("3", "rue des Lilas"));
        assert_eq!(p.postcode, "44000");
    }
}
