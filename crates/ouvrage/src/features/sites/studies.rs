//! Thermal studies on sites: a builder drops the building's study (RSET/RSEE XML) and the
//! chantier exists. The rules shared by the three entry points (the site form, the integrator
//! API, the demo loader):
//! - the file is read by the `ouvrage-thermal` format crate; anything else gets its French
//!   explanation;
//! - the site form is prefilled from the study ([`prefill`]), and what is still missing is
//!   marked: required fields in red, desired ones in orange ([`Marks`]);
//! - the file is kept as a document of type "étude thermique" on the site, and each version's
//!   extraction is kept, with what changed since the previous one ([`attach`]);
//! - the same file is never imported twice for a client (its SHA-256 is unique per client),
//!   and a new site is first compared with the existing ones ([`super::duplicates`]).
//!
//! Between dropping the file and submitting the form, the bytes wait in the content-addressed
//! store, named in the form by a signed token ([`stage_token`]): nothing is written to the
//! database for a form that is abandoned, and a forged token names nothing.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use ouvrage_thermal::{self as thermal, ParseError, ThermalStudy};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::duplicates::{self, Candidate, Probe};
use super::model::{self, OperationType, Phase, SiteData, SiteForm, SiteKind, SiteStatus};
use super::store::{self, Scope, SiteRow};
use crate::app::AppState;
use crate::db::{Db, Tx, is_unique_violation};
use crate::domain::time::now_ms;
use crate::domain::{ClientId, FileId, SiteId, TenantId, UserId};
use crate::features::audit::{self, AuditActor};
use crate::features::clients::ui::FieldErrors;
use crate::features::files::storage::sha256_hex;
use crate::features::files::upload::{self, StoredUpload, UploadError};
use crate::{on_db, on_tx};

/// The `document_type` of a kept study.
pub const DOCUMENT_TYPE: &str = "thermal_study";

/// Where a study came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Form,
    Api,
    Demo,
}

impl Source {
    pub fn code(self) -> &'static str {
        match self {
            Source::Form => "form",
            Source::Api => "api",
            Source::Demo => "demo",
        }
    }

    pub fn label(code: &str) -> &'static str {
        match code {
            "api" => "API (logiciel d'étude thermique)",
            "demo" => "Données de démonstration",
            _ => "Dépôt sur le site",
        }
    }
}

/// Why a study could not be imported. `Display` is the French message for the user.
#[derive(Debug)]
pub enum StudyError {
    /// Not a readable thermal study.
    Unreadable(ParseError),
    /// Refused by the file checks (size, type).
    Upload(UploadError),
    /// The study lacks what a site needs (name, postcode, city…): the fields and their messages.
    Invalid(FieldErrors),
    /// Existing sites look like the same chantier; `create_anyway` creates it all the same.
    Duplicate(Vec<Candidate>),
    /// This very file was already imported for the client, on `site_id`.
    AlreadyImported {
        site_id: SiteId,
    },
    /// The site (or client) is not within the actor's scope.
    NotFound,
    /// The staged file is gone or its token was forged.
    StagedMissing,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StudyError {
    fn from(e: sqlx::Error) -> Self {
        StudyError::Db(e)
    }
}

impl From<UploadError> for StudyError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Db(e) => StudyError::Db(e),
            UploadError::ClientNotFound => StudyError::NotFound,
            other => StudyError::Upload(other),
        }
    }
}

impl std::fmt::Display for StudyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StudyError::Unreadable(e) => write!(f, "{e}"),
            StudyError::Upload(e) => write!(f, "{e}"),
            StudyError::Invalid(errors) => write!(
                f,
                "L'étude thermique ne donne pas tout ce qu'il faut pour créer le chantier : {}",
                errors.messages().join(" ")
            ),
            StudyError::Duplicate(c) => write!(
                f,
                "Ce chantier semble déjà exister ({} site{} correspondant{}) : vérifiez avant de le créer.",
                c.len(),
                if c.len() > 1 { "s" } else { "" },
                if c.len() > 1 { "s" } else { "" }
            ),
            StudyError::AlreadyImported { site_id } => {
                write!(f, "Ce fichier d'étude thermique a déjà été importé (site n° {site_id}).")
            }
            StudyError::NotFound => write!(f, "Ce chantier est introuvable."),
            StudyError::StagedMissing => {
                write!(f, "Le fichier d'étude thermique déposé n'est plus disponible : déposez-le de nouveau.")
            }
            StudyError::Db(_) => write!(f, "Une erreur interne est survenue."),
        }
    }
}

/// Reads a dropped file: first as a thermal study (the French explanation of what was expected
/// when it is not one), then through the file checks every upload passes.
pub fn read(
    original_name: &str,
    bytes: Bytes,
    max_bytes: u64,
) -> Result<(upload::CheckedUpload, ThermalStudy), StudyError> {
    let study = thermal::parse(&bytes).map_err(StudyError::Unreadable)?;
    let max = max_bytes.min(thermal::MAX_BYTES as u64);
    let checked = upload::check(original_name, bytes, max)?;
    Ok((checked, study))
}

// ---------------------------------------------------------------------------------------------
// The form prefilled from a study, and its marks.

/// `3 chemin des Essais` → (`3`, `chemin des Essais`); `12 bis rue X` → (`12 bis`, `rue X`);
/// a line without a leading number is all street (`Lot 12 - Lotissement des Essais`).
pub fn split_address(line: &str) -> (String, String) {
    let line = line.trim();
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else { return (String::new(), String::new()) };
    let digits = first.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ',');
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return (String::new(), line.to_string());
    }
    let mut number = first.trim_end_matches(',').to_string();
    let rest: Vec<&str> = words.collect();
    let mut start = 0;
    if let Some(w) = rest.first() {
        let folded = w.trim_end_matches(',').to_lowercase();
        if matches!(folded.as_str(), "bis" | "ter" | "quater" | "b" | "t") {
            number = format!("{number} {}", w.trim_end_matches(','));
            start = 1;
        }
    }
    (number, rest[start..].join(" "))
}

/// A city as people write it: `SAINT-HERBLAIN` → `Saint-Herblain`; mixed case is kept.
pub fn city_case(city: &str) -> String {
    let city = city.trim();
    if city.chars().any(|c| c.is_lowercase()) {
        return city.to_string();
    }
    let mut out = String::with_capacity(city.len());
    let mut start = true;
    for c in city.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = matches!(c, ' ' | '-' | '\'');
    }
    // Articles inside a name stay lower case, as in "Saint-Julien-de-Concelles".
    for w in ["-De-", "-Du-", "-Des-", "-La-", "-Le-", "-Les-", "-Sur-", "-Sous-", "-En-", "-Et-"] {
        out = out.replace(w, &w.to_lowercase());
    }
    out
}

/// The operation type a study implies: Individuel for a single house, Collectif for a
/// building of dwellings; not said otherwise.
pub fn operation_type_of(study: &ThermalStudy) -> &'static str {
    if study.building_type.is_individual() {
        OperationType::Individual.code()
    } else if matches!(study.building_type, thermal::BuildingType::LogementCollectif)
        || study.dwellings.is_some_and(|n| n > 1)
    {
        OperationType::Collective.code()
    } else {
        ""
    }
}

/// The site form as a study fills it (a new chantier, works phase, to schedule).
pub fn prefill(study: &ThermalStudy, client: ClientId) -> SiteForm {
    let (street_number, street) = split_address(study.address.as_deref().unwrap_or_default());
    SiteForm {
        client_id: client.to_string(),
        kind: SiteKind::Construction.code().into(),
        name: study.operation_name.clone().unwrap_or_default(),
        street_number,
        street,
        postcode: study.postcode.clone().unwrap_or_default(),
        city_code: study.citycode.clone().unwrap_or_default(),
        city: study.city.as_deref().map(city_case).unwrap_or_default(),
        operation_type: operation_type_of(study).into(),
        phase: Phase::Works.code().into(),
        status: SiteStatus::ToSchedule.code().into(),
        permit_number: study.permit_number.clone().unwrap_or_default(),
        owner_name: study.owner_name.clone().unwrap_or_default(),
        dwellings: study.dwellings.map(|n| n.to_string()).unwrap_or_default(),
        ..SiteForm::default()
    }
}

/// Fields a chantier cannot be created without, and their labels.
pub const REQUIRED: [(&str, &str); 3] = [("name", "Nom du chantier"), ("postcode", "Code postal"), ("city", "Commune")];

/// Fields the firm wants to plan its intervention, and their labels.
pub const DESIRED: [(&str, &str); 8] = [
    ("street", "Voie"),
    ("city_code", "Code INSEE de la commune"),
    ("permit_number", "Numéro de permis de construire"),
    ("owner_name", "Maître d'ouvrage"),
    ("operation_type", "Type d'opération"),
    ("site_manager_id", "Conducteur de travaux"),
    ("expected_date", "Date d'intervention prévue"),
    ("dwellings", "Nombre de logements"),
];

/// What a prefilled form still lacks: required fields (outlined in red) and desired ones
/// (outlined in orange).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    pub required: Vec<&'static str>,
    pub desired: Vec<&'static str>,
}

impl Marks {
    pub fn of(form: &SiteForm) -> Marks {
        let value = |field: &str| -> &str {
            match field {
                "name" => &form.name,
                "postcode" => &form.postcode,
                "city" => &form.city,
                "street" => &form.street,
                "city_code" => &form.city_code,
                "permit_number" => &form.permit_number,
                "owner_name" => &form.owner_name,
                "operation_type" => &form.operation_type,
                "site_manager_id" => &form.site_manager_id,
                "expected_date" => &form.expected_date,
                "dwellings" => &form.dwellings,
                _ => "",
            }
        };
        Marks {
            required: REQUIRED.iter().filter(|(f, _)| value(f).trim().is_empty()).map(|(f, _)| *f).collect(),
            desired: DESIRED.iter().filter(|(f, _)| value(f).trim().is_empty()).map(|(f, _)| *f).collect(),
        }
    }

    /// The CSS class of a field: `missing-required`, `missing-desired` or empty.
    pub fn class(&self, field: &str) -> &'static str {
        if self.required.contains(&field) {
            "missing-required"
        } else if self.desired.contains(&field) {
            "missing-desired"
        } else {
            ""
        }
    }

    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.desired.is_empty()
    }

    /// The labels of the missing required fields.
    pub fn required_labels(&self) -> Vec<&'static str> {
        REQUIRED.iter().filter(|(f, _)| self.required.contains(f)).map(|(_, l)| *l).collect()
    }

    pub fn desired_labels(&self) -> Vec<&'static str> {
        DESIRED.iter().filter(|(f, _)| self.desired.contains(f)).map(|(_, l)| *l).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Staging between the drop and the form.

fn stage_mac(secret: &[u8], tenant: TenantId, client: ClientId, sha: &str, name: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("thermal-study\n{tenant}\n{client}\n{sha}\n{name}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The token naming a staged study in the form: `sha256.mac`, valid for this client and name.
pub fn stage_token(secret: &[u8], tenant: TenantId, client: ClientId, sha: &str, name: &str) -> String {
    format!("{sha}.{}", stage_mac(secret, tenant, client, sha, name))
}

/// The SHA-256 a token names, if the token was made for this client and name.
pub fn verify_stage_token(
    secret: &[u8],
    tenant: TenantId,
    client: ClientId,
    token: &str,
    name: &str,
) -> Option<String> {
    let (sha, mac) = token.split_once('.')?;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let expected = stage_mac(secret, tenant, client, sha, name);
    use subtle::ConstantTimeEq;
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes())).then(|| sha.to_string())
}

/// A study waiting in the store for its form.
#[derive(Debug, Clone)]
pub struct Staged {
    pub token: String,
    pub name: String,
    pub study: ThermalStudy,
}

/// Reads a dropped study and puts its bytes in the store for the form that follows.
pub async fn stage(
    state: &AppState,
    tenant: TenantId,
    client: ClientId,
    original_name: &str,
    bytes: Bytes,
) -> Result<Staged, StudyError> {
    let (checked, study) = read(original_name, bytes, state.config.max_upload_bytes)?;
    let stored = upload::put_bytes(&state.files, checked).await?;
    let token = stage_token(state.secret(), tenant, client, &stored.sha256, &stored.name);
    Ok(Staged { token, name: stored.name, study })
}

/// The staged study named by `token`, read again from the store (the form's hidden fields
/// are never trusted for what the file says).
pub async fn unstage(
    state: &AppState,
    tenant: TenantId,
    client: ClientId,
    token: &str,
    name: &str,
) -> Result<(StoredUpload, ThermalStudy), StudyError> {
    let sha = verify_stage_token(state.secret(), tenant, client, token, name).ok_or(StudyError::StagedMissing)?;
    let bytes = state.files.get(&sha).await.map_err(|_| StudyError::StagedMissing)?;
    let (checked, study) = read(name, bytes, state.config.max_upload_bytes)?;
    let size_bytes = checked.bytes.len() as i64;
    Ok((StoredUpload { kind: checked.kind, name: checked.name, sha256: sha, size_bytes }, study))
}

// ---------------------------------------------------------------------------------------------
// Versions and what changed.

/// One difference between two versions of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub label: String,
    pub before: String,
    pub after: String,
}

/// `52.3` → `52,3`; `118.0` → `118`; two decimals at most.
pub fn fr_decimal(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

fn opt_text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn opt_num(v: Option<f64>) -> String {
    v.map(fr_decimal).unwrap_or_default()
}

/// What differs between two versions, labelled in French (empty when nothing does).
pub fn diff(before: &ThermalStudy, after: &ThermalStudy) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |label: String, b: String, a: String| {
        if b != a {
            out.push(Change { label, before: b, after: a });
        }
    };
    push("Format".into(), before.format.label().into(), after.format.label().into());
    push("Version du moteur".into(), opt_text(&before.engine_version), opt_text(&after.engine_version));
    push("Nom de l'opération".into(), opt_text(&before.operation_name), opt_text(&after.operation_name));
    push("Adresse".into(), opt_text(&before.address), opt_text(&after.address));
    push("Code postal".into(), opt_text(&before.postcode), opt_text(&after.postcode));
    push("Code INSEE".into(), opt_text(&before.citycode), opt_text(&after.citycode));
    push("Commune".into(), opt_text(&before.city), opt_text(&after.city));
    push("Permis de construire".into(), opt_text(&before.permit_number), opt_text(&after.permit_number));
    push("Maître d'ouvrage".into(), opt_text(&before.owner_name), opt_text(&after.owner_name));
    push("Bureau d'études thermiques".into(), opt_text(&before.bet_name), opt_text(&after.bet_name));
    push("Logiciel".into(), opt_text(&before.software), opt_text(&after.software));
    push("Type de bâtiment".into(), before.building_type.label().into(), after.building_type.label().into());
    push(
        "Nombre de logements".into(),
        before.dwellings.map(|n| n.to_string()).unwrap_or_default(),
        after.dwellings.map(|n| n.to_string()).unwrap_or_default(),
    );
    push("Énergie de chauffage".into(), opt_text(&before.heating_energy), opt_text(&after.heating_energy));
    push("Énergie de l'eau chaude".into(), opt_text(&before.dhw_energy), opt_text(&after.dhw_energy));
    let indexes: std::collections::BTreeSet<u32> =
        before.buildings.iter().chain(after.buildings.iter()).map(|b| b.index).collect();
    for i in indexes {
        let (b, a) = (before.buildings.iter().find(|x| x.index == i), after.buildings.iter().find(|x| x.index == i));
        match (b, a) {
            (Some(_), None) => push(format!("Bâtiment {i}"), "présent".into(), "retiré".into()),
            (None, Some(_)) => push(format!("Bâtiment {i}"), String::new(), "ajouté".into()),
            (Some(b), Some(a)) => {
                let fields: [(&str, Option<f64>, Option<f64>); 7] = [
                    ("SHAB (m²)", b.shab, a.shab),
                    ("SRef (m²)", b.sref, a.sref),
                    ("Bbio", b.bbio, a.bbio),
                    ("Cep", b.cep, a.cep),
                    ("Cep,nr", b.cep_nr, a.cep_nr),
                    ("Ic construction", b.ic_construction, a.ic_construction),
                    ("Ic énergie", b.ic_energie, a.ic_energie),
                ];
                for (label, bv, av) in fields {
                    push(format!("Bâtiment {i} : {label}"), opt_num(bv), opt_num(av));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// The site fields a study fills, with their labels (for the audit summary).
const STUDY_FIELDS: [(&str, &str); 9] = [
    ("name", "nom"),
    ("street_number", "numéro"),
    ("street", "voie"),
    ("postcode", "code postal"),
    ("city_code", "code INSEE"),
    ("city", "commune"),
    ("permit_number", "permis"),
    ("owner_name", "maître d'ouvrage"),
    ("dwellings", "logements"),
];

fn form_field<'a>(f: &'a mut SiteForm, field: &str) -> &'a mut String {
    match field {
        "name" => &mut f.name,
        "street_number" => &mut f.street_number,
        "street" => &mut f.street,
        "postcode" => &mut f.postcode,
        "city_code" => &mut f.city_code,
        "city" => &mut f.city,
        "permit_number" => &mut f.permit_number,
        "owner_name" => &mut f.owner_name,
        _ => &mut f.dwellings,
    }
}

/// The site as updated by a new version of its study: a field follows the study when the
/// site still shows what the previous version said (nobody corrected it by hand) and the new
/// version says something. Returns the new form and the labels of the fields that moved.
pub fn follow_study(
    current: &SiteForm,
    previous: &ThermalStudy,
    next: &ThermalStudy,
    client: ClientId,
) -> (SiteForm, Vec<&'static str>) {
    let (mut old, mut new) = (prefill(previous, client), prefill(next, client));
    let mut out = current.clone();
    let mut moved = Vec::new();
    for (field, label) in STUDY_FIELDS {
        let was = form_field(&mut old, field).clone();
        let now = form_field(&mut new, field).clone();
        let cur = form_field(&mut out, field);
        if cur.trim() == was.trim() && !now.trim().is_empty() && now.trim() != cur.trim() {
            *cur = now;
            moved.push(label);
        }
    }
    (out, moved)
}

/// Who imports: for the audit log, and the user or token recorded on the study.
pub struct Importer {
    pub audit: AuditActor,
    pub user: Option<UserId>,
    pub api_token: Option<i64>,
    pub source: Source,
}

/// What [`attach`] did.
#[derive(Debug, Clone)]
pub struct Attached {
    pub study_id: i64,
    pub document_id: i64,
    pub file_id: FileId,
    /// What differs from the previous version (empty for a first study).
    pub changes: Vec<Change>,
    /// Labels of the site fields that followed the new version.
    pub moved: Vec<&'static str>,
}

/// The site (if any) on which this client already imported the file `sha`.
pub async fn imported_on(
    db: &Db,
    tenant: TenantId,
    client: ClientId,
    sha: &str,
) -> Result<Option<SiteId>, sqlx::Error> {
    on_db!(db, |p| sqlx::query_scalar(
        "SELECT site_id FROM thermal_studies WHERE tenant_id = $1 AND client_id = $2 AND sha256 = $3"
    )
    .bind(tenant)
    .bind(client)
    .bind(sha)
    .fetch_optional(p)
    .await)
}

/// The latest study of a site, inside a transaction.
async fn latest_in(tx: &mut Tx, tenant: TenantId, site: SiteId) -> Result<Option<ThermalStudy>, sqlx::Error> {
    let json: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT extracted FROM thermal_studies WHERE tenant_id = $1 AND site_id = $2 ORDER BY id DESC LIMIT 1"
    )
    .bind(tenant)
    .bind(site)
    .fetch_optional(c)
    .await)?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// The site a study is filed on: one just created in the same transaction, or an existing one
/// as loaded (already checked to be in the actor's scope).
pub enum Target<'a> {
    New { id: SiteId, client: ClientId, name: &'a str },
    Existing(&'a SiteRow),
}

impl Target<'_> {
    fn id(&self) -> SiteId {
        match self {
            Target::New { id, .. } => *id,
            Target::Existing(s) => s.id,
        }
    }

    fn client(&self) -> ClientId {
        match self {
            Target::New { client, .. } => *client,
            Target::Existing(s) => s.client_id,
        }
    }

    fn name(&self) -> &str {
        match self {
            Target::New { name, .. } => name,
            Target::Existing(s) => &s.name,
        }
    }
}

/// Files a study on a site:
/// the file row, its "étude thermique" document, the version with its changes; a new version
/// also updates the site fields that followed the previous one. All in the caller's
/// transaction; the bytes are already in the store.
pub async fn attach(
    tx: &mut Tx,
    who: &Importer,
    target: Target<'_>,
    stored: &StoredUpload,
    study: &ThermalStudy,
) -> Result<Attached, StudyError> {
    let tenant = who.audit.tenant_id;
    let (site_id, client, site_name) = (target.id(), target.client(), target.name().to_string());
    let existing: Option<SiteId> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT site_id FROM thermal_studies WHERE tenant_id = $1 AND client_id = $2 AND sha256 = $3"
    )
    .bind(tenant)
    .bind(client)
    .bind(&stored.sha256)
    .fetch_optional(c)
    .await)?;
    if let Some(site_id) = existing {
        return Err(StudyError::AlreadyImported { site_id });
    }
    let previous = latest_in(tx, tenant, site_id).await?;
    let file_id = upload::insert_generated_file(
        tx,
        AuditActor {
            tenant_id: tenant,
            user_id: who.audit.user_id,
            label: who.audit.label.clone(),
            ip: who.audit.ip.clone(),
        },
        Some(client),
        stored,
    )
    .await?;
    let now = now_ms();
    let title = format!("Étude thermique ({})", study.format.label());
    // Filed like every document: each new study is the next version of the site's study.
    let inserted = crate::features::documents::store::insert(
        tx,
        &crate::features::documents::store::NewDocument {
            tenant_id: tenant,
            client_id: client,
            site_id: Some(site_id),
            file_id,
            document_type: DOCUMENT_TYPE,
            title: &title,
            created_by: who.user,
            api_token_id: None,
            published: crate::features::documents::store::Published::No,
            twin_file_id: None,
        },
    )
    .await?;
    let document_id: i64 = inserted.id.0;
    if let Target::Existing(site) = &target {
        // The study answers the site's expected "étude thermique".
        crate::features::documents::requirements::on_document_added(
            tx,
            tenant,
            site,
            DOCUMENT_TYPE,
            inserted.id,
            None,
            who.user,
        )
        .await?;
    }
    let (changes, moved) = match (&previous, &target) {
        (Some(prev), Target::Existing(site)) => {
            let changes = diff(prev, study);
            let current = super::form::form_of(site);
            let (followed, moved) = follow_study(&current, prev, study, client);
            if !moved.is_empty() {
                // The same checks as the form; a study value the site form refuses is left out.
                let staff_kept =
                    (SiteStatus::parse(&site.status).unwrap_or(SiteStatus::ToSchedule), site.actual_date.clone());
                if let Ok(data) = model::validate(&followed, false, staff_kept) {
                    let scope = Scope { tenant, client: Some(client) };
                    store::update(tx, scope, site.id, &data).await?;
                    (changes, moved)
                } else {
                    (changes, Vec::new())
                }
            } else {
                (changes, moved)
            }
        }
        (Some(prev), Target::New { .. }) => (diff(prev, study), Vec::new()),
        (None, _) => (Vec::new(), Vec::new()),
    };
    let extracted = serde_json::to_string(study).expect("a study serialises");
    let changes_json = serde_json::to_string(&changes).expect("changes serialise");
    let inserted: Result<i64, sqlx::Error> = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO thermal_studies (tenant_id, client_id, site_id, document_id, sha256, format, engine_version,
                                      extracted, changes, source, api_token_id, created_by, created_at, moved)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site_id)
    .bind(document_id)
    .bind(&stored.sha256)
    .bind(study.format.as_str())
    .bind(study.engine_version.as_deref())
    .bind(&extracted)
    .bind(&changes_json)
    .bind(who.source.code())
    .bind(who.api_token)
    .bind(who.user)
    .bind(now)
    .bind(moved.join(", "))
    .fetch_one(c)
    .await);
    let study_id = match inserted {
        Ok(id) => id,
        // Another request filed the same file meanwhile.
        Err(e) if is_unique_violation(&e) => return Err(StudyError::AlreadyImported { site_id }),
        Err(e) => return Err(e.into()),
    };
    let summary = if previous.is_none() {
        format!("Étude thermique ({}) jointe au site « {site_name} »", study.format.label())
    } else if moved.is_empty() {
        format!("Nouvelle version de l'étude thermique du site « {site_name} » ({} changement(s))", changes.len())
    } else {
        format!(
            "Nouvelle version de l'étude thermique du site « {site_name} » ({} changement(s) ; mis à jour : {})",
            changes.len(),
            moved.join(", ")
        )
    };
    audit::record(tx, clone_audit(&who.audit), "thermal_study", "site", Some(site_id.0), &summary).await?;
    Ok(Attached { study_id, document_id, file_id, changes, moved })
}

fn clone_audit(a: &AuditActor) -> AuditActor {
    AuditActor { tenant_id: a.tenant_id, user_id: a.user_id, label: a.label.clone(), ip: a.ip.clone() }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub site_id: SiteId,
    /// A new site (otherwise a new version of the site's study).
    pub created: bool,
    pub study: ThermalStudy,
    pub attached: Attached,
}

/// Imports a study in one step (API, demo): creates the chantier it describes, or files a new
/// version on `site` when given. The same rules as the form: the fields a site requires, the
/// duplicate check (skipped by `create_anyway`), the same file never twice. `scope` is the
/// importer's (its client for a client user or an API token); `client` the site's client.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    state: &AppState,
    who: &Importer,
    scope: Scope,
    client: ClientId,
    original_name: &str,
    bytes: Bytes,
    site: Option<SiteId>,
    create_anyway: bool,
) -> Result<Imported, StudyError> {
    if scope.client.is_some_and(|c| c != client) {
        return Err(StudyError::NotFound);
    }
    let tenant = scope.tenant;
    let sha = sha256_hex(&bytes);
    let (checked, study) = read(original_name, bytes, state.config.max_upload_bytes)?;
    if let Some(site_id) = imported_on(&state.db, tenant, client, &sha).await? {
        return Err(StudyError::AlreadyImported { site_id });
    }
    match site {
        Some(id) => {
            let row = store::site(&state.db, scope, id.0).await?.ok_or(StudyError::NotFound)?;
            if row.client_id != client {
                return Err(StudyError::NotFound);
            }
            let stored = upload::put_bytes(&state.files, checked).await?;
            let mut tx = state.db.begin().await?;
            let attached = attach(&mut tx, who, Target::Existing(&row), &stored, &study).await?;
            tx.commit().await?;
            Ok(Imported { site_id: row.id, created: false, study, attached })
        }
        None => {
            let form = prefill(&study, client);
            let data: SiteData =
                model::validate(&form, false, (SiteStatus::ToSchedule, None)).map_err(StudyError::Invalid)?;
            if !create_anyway {
                let found = duplicates::find(&state.db, scope, &Probe::of(&data), None).await?;
                if !found.is_empty() {
                    return Err(StudyError::Duplicate(found));
                }
            }
            let stored = upload::put_bytes(&state.files, checked).await?;
            let mut tx = state.db.begin().await?;
            let id = store::insert(&mut tx, tenant, client, who.user, &data).await?;
            audit::record(
                &mut tx,
                clone_audit(&who.audit),
                "create",
                "site",
                Some(id.0),
                &format!("Création du site « {} » depuis l'étude thermique ({})", data.name, study.format.label()),
            )
            .await?;
            let target = Target::New { id, client, name: &data.name };
            let attached = attach(&mut tx, who, target, &stored, &study).await?;
            tx.commit().await?;
            Ok(Imported { site_id: id, created: true, study, attached })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the versions back.

/// One version of a site's study, newest first on the site page.
#[derive(Debug, Clone)]
pub struct StudyVersion {
    pub id: i64,
    pub created_at: i64,
    pub source: String,
    pub format: String,
    pub engine_version: Option<String>,
    pub file_id: FileId,
    pub file_name: String,
    pub study: Option<ThermalStudy>,
    pub changes: Vec<Change>,
    /// Labels of the site fields that followed this version ("nom, commune"); empty if none.
    pub moved: String,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    created_at: i64,
    source: String,
    format: String,
    engine_version: Option<String>,
    file_id: FileId,
    file_name: String,
    extracted: String,
    changes: String,
    moved: String,
}

/// The versions of the study of `site` within `scope`, newest first.
pub async fn versions(db: &Db, scope: Scope, site: SiteId) -> Result<Vec<StudyVersion>, sqlx::Error> {
    let rows: Vec<VersionRow> = on_db!(db, |p| {
        sqlx::query_as(
        "SELECT ts.id, ts.created_at, ts.source, ts.format, ts.engine_version, d.file_id, f.original_name AS file_name,
                ts.extracted, ts.changes, ts.moved
         FROM thermal_studies ts
         JOIN documents d ON d.id = ts.document_id AND d.tenant_id = ts.tenant_id
         JOIN files f ON f.id = d.file_id AND f.tenant_id = ts.tenant_id
         WHERE ts.tenant_id = $1 AND ($2 IS NULL OR ts.client_id = $2) AND ts.site_id = $3
         ORDER BY ts.id DESC"
    )
    .bind(scope.tenant)
    .bind(scope.client)
    .bind(site)
    .fetch_all(p)
    .await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| StudyVersion {
            id: r.id,
            created_at: r.created_at,
            source: r.source,
            format: r.format,
            engine_version: r.engine_version,
            file_id: r.file_id,
            file_name: r.file_name,
            study: serde_json::from_str(&r.extracted).ok(),
            changes: serde_json::from_str(&r.changes).unwrap_or_default(),
            moved: r.moved,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_number_and_street() {
        assert_eq!(split_address("3 chemin des Essais"), ("3".into(), "chemin des Essais".into()));
        assert_eq!(split_address("12 bis rue des Lilas"), ("12 bis".into(), "rue des Lilas".into()));
        assert_eq!(split_address("12B, avenue de la Gare"), ("12B".into(), "avenue de la Gare".into()));
        assert_eq!(
            split_address("Lot 12 - Lotissement des Essais"),
            (String::new(), "Lot 12 - Lotissement des Essais".into())
        );
        assert_eq!(split_address("  "), (String::new(), String::new()));
    }

    #[test]
    fn upper_case_cities_are_written_as_people_do() {
        assert_eq!(city_case("CARQUEFOU"), "Carquefou");
        assert_eq!(city_case("SAINT-JULIEN-DE-CONCELLES"), "Saint-Julien-de-Concelles");
        assert_eq!(city_case("La Baule-Escoublac"), "La Baule-Escoublac");
    }

    #[test]
    fn decimals_are_french() {
        assert_eq!(fr_decimal(52.3), "52,3");
        assert_eq!(fr_decimal(118.0), "118");
        assert_eq!(fr_decimal(0.126), "0,13");
    }

    #[test]
    fn stage_tokens_are_bound_to_client_and_name() {
        let sha = "a".repeat(64);
        let t = stage_token(b"secret", TenantId(1), ClientId(2), &sha, "etude.xml");
        assert_eq!(verify_stage_token(b"secret", TenantId(1), ClientId(2), &t, "etude.xml"), Some(sha.clone()));
        assert_eq!(verify_stage_token(b"secret", TenantId(1), ClientId(3), &t, "etude.xml"), None);
        assert_eq!(verify_stage_token(b"secret", TenantId(1), ClientId(2), &t, "autre.xml"), None);
        assert_eq!(verify_stage_token(b"other", TenantId(1), ClientId(2), &t, "etude.xml"), None);
        assert_eq!(verify_stage_token(b"secret", TenantId(1), ClientId(2), "zz.zz", "etude.xml"), None);
    }
}
