//! The JSON the API answers with. These types are its contract with integrators: each key is
//! always present (`null` when there is no value), and the OpenAPI document is derived from them.

use ouvrage_thermal::{self as thermal, ThermalStudy};
use serde::Serialize;
use utoipa::ToSchema;

use crate::features::documents::store::DocumentRow;
use crate::features::sites::duplicates::Candidate;
use crate::features::sites::store::{SiteListRow, SiteRow};
use crate::features::sites::studies::{Change, StudyVersion};

/// The file format (and regulation) of a study.
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyFormat {
    /// RT2012 RSET.
    #[serde(rename = "rt2012_rset")]
    Rt2012Rset,
    /// E+C- RSEE.
    #[serde(rename = "ec_rsee")]
    EcRsee,
    /// RE2020 RSEE.
    #[serde(rename = "re2020_rsee")]
    Re2020Rsee,
}

impl From<thermal::Format> for StudyFormat {
    fn from(f: thermal::Format) -> Self {
        match f {
            thermal::Format::Rt2012Rset => StudyFormat::Rt2012Rset,
            thermal::Format::EcRsee => StudyFormat::EcRsee,
            thermal::Format::Re2020Rsee => StudyFormat::Re2020Rsee,
        }
    }
}

/// One building of a study and its indicators (`null` where the file gives none).
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = Building)]
pub struct BuildingOut {
    /// The building's index in the study (from 1).
    pub index: u32,
    /// Surface habitable (m²).
    #[schema(required)]
    pub shab: Option<f64>,
    /// Surface de référence (m², RE2020).
    #[schema(required)]
    pub sref: Option<f64>,
    /// Bbio (points).
    #[schema(required)]
    pub bbio: Option<f64>,
    /// Cep (kWhep/m².an).
    #[schema(required)]
    pub cep: Option<f64>,
    /// Cep,nr (kWhep/m².an).
    #[schema(required)]
    pub cep_nr: Option<f64>,
    /// Ic construction (kg éq. CO2/m², RE2020).
    #[schema(required)]
    pub ic_construction: Option<f64>,
    /// Ic énergie (kg éq. CO2/m², RE2020).
    #[schema(required)]
    pub ic_energie: Option<f64>,
}

/// What was read from a thermal study (`null` where the file gives nothing).
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = ThermalStudy)]
pub struct StudyOut {
    pub format: StudyFormat,
    /// Version of the calculation engine.
    #[schema(required, example = "2022.E1.0.0")]
    pub engine_version: Option<String>,
    #[schema(required)]
    pub operation_name: Option<String>,
    /// Street line of the operation's address.
    #[schema(required)]
    pub address: Option<String>,
    #[schema(required, example = "44000")]
    pub postcode: Option<String>,
    /// INSEE city code.
    #[schema(required)]
    pub citycode: Option<String>,
    #[schema(required)]
    pub city: Option<String>,
    /// Building permit number (`null` when the file says "EN COURS").
    #[schema(required)]
    pub permit_number: Option<String>,
    /// Maître d'ouvrage.
    #[schema(required)]
    pub owner_name: Option<String>,
    /// Thermal consultancy (bureau d'études thermiques).
    #[schema(required)]
    pub bet_name: Option<String>,
    /// `maison_individuelle`, `logement_collectif`, or another code (`bureaux`, `mixte`, `autre`,
    /// `inconnu`…).
    #[schema(example = "maison_individuelle")]
    pub building_type: String,
    #[schema(required)]
    pub dwellings: Option<u32>,
    pub buildings: Vec<BuildingOut>,
}

impl From<&ThermalStudy> for StudyOut {
    fn from(s: &ThermalStudy) -> Self {
        StudyOut {
            format: s.format.into(),
            engine_version: s.engine_version.clone(),
            operation_name: s.operation_name.clone(),
            address: s.address.clone(),
            postcode: s.postcode.clone(),
            citycode: s.citycode.clone(),
            city: s.city.clone(),
            permit_number: s.permit_number.clone(),
            owner_name: s.owner_name.clone(),
            bet_name: s.bet_name.clone(),
            building_type: s.building_type.as_str().to_string(),
            dwellings: s.dwellings,
            buildings: s
                .buildings
                .iter()
                .map(|b| BuildingOut {
                    index: b.index,
                    shab: b.shab,
                    sref: b.sref,
                    bbio: b.bbio,
                    cep: b.cep,
                    cep_nr: b.cep_nr,
                    ic_construction: b.ic_construction,
                    ic_energie: b.ic_energie,
                })
                .collect(),
        }
    }
}

/// The answer to an import that created a chantier (201).
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ImportedStudy {
    /// The chantier created (or, for a new version, updated).
    pub site_id: i64,
    #[serde(flatten)]
    pub study: StudyOut,
}

/// One difference with the previous version of the study.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = StudyChange)]
pub struct ChangeOut {
    /// What changed, in French (`Bâtiment 1 : Bbio`).
    pub label: String,
    /// The previous value as shown to users (empty when there was none).
    pub before: String,
    pub after: String,
}

impl From<&Change> for ChangeOut {
    fn from(c: &Change) -> Self {
        ChangeOut { label: c.label.clone(), before: c.before.clone(), after: c.after.clone() }
    }
}

/// The answer to an import that filed a new version of an existing chantier's study (200).
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct UpdatedStudy {
    #[serde(flatten)]
    pub imported: ImportedStudy,
    /// What differs from the previous version.
    pub changes: Vec<ChangeOut>,
}

/// An existing chantier that looks like the one being imported.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct DuplicateCandidate {
    pub id: i64,
    pub name: String,
    /// Street, postcode and city.
    pub address: String,
    pub postcode: String,
    pub city: String,
    #[schema(required)]
    pub permit_number: Option<String>,
    #[schema(required)]
    pub owner_name: Option<String>,
    pub archived: bool,
    /// Why it is taken for the same chantier (`même numéro de permis`, `même adresse`…).
    pub reasons: Vec<String>,
}

impl From<&Candidate> for DuplicateCandidate {
    fn from(c: &Candidate) -> Self {
        DuplicateCandidate {
            id: c.id.0,
            name: c.name.clone(),
            address: c.address(),
            postcode: c.postcode.clone(),
            city: c.city.clone(),
            permit_number: non_empty(&c.permit_number),
            owner_name: non_empty(&c.owner_name),
            archived: c.archived,
            reasons: c.reasons.iter().map(|r| r.label().to_string()).collect(),
        }
    }
}

/// The multipart request of `POST /api/v1/thermal-studies` (for the OpenAPI document).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)] // the handler refuses other parts
#[allow(dead_code)] // describes the request; the handler reads the parts one by one
pub struct ThermalStudyUpload {
    /// The study: an RSET (RT2012) or RSEE (E+C-, RE2020) XML file.
    #[schema(value_type = String, format = Binary, content_media_type = "application/xml")]
    pub file: Vec<u8>,
    /// To file a new version of the study of this existing chantier instead of creating one.
    #[schema(nullable = false, minimum = 1)]
    pub site_id: Option<i64>,
    /// `true` to create the chantier even though existing ones look like it.
    #[schema(nullable = false)]
    pub create_anyway: Option<bool>,
}

/// The site manager (conducteur de travaux) of a chantier.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = SiteManager)]
pub struct ManagerOut {
    pub id: i64,
    pub name: String,
}

/// A site (chantier, résidence, logement, locaux) of the token's client.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = Site)]
pub struct SiteOut {
    pub id: i64,
    /// `construction`, `residence`, `dwelling` or `premises`.
    #[schema(example = "construction")]
    pub kind: String,
    pub name: String,
    #[schema(required)]
    pub street_number: Option<String>,
    #[schema(required)]
    pub street: Option<String>,
    pub postcode: String,
    /// INSEE city code.
    #[schema(required)]
    pub city_code: Option<String>,
    pub city: String,
    /// `individual`, `collective`, or `null`.
    #[schema(required)]
    pub operation_type: Option<String>,
    /// `works` or `handover`.
    #[schema(example = "works")]
    pub phase: String,
    /// `to_schedule`, `scheduled`, `done` or `cancelled`.
    #[schema(example = "to_schedule")]
    pub status: String,
    /// `YYYY-MM-DD`.
    #[schema(required)]
    pub expected_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(required)]
    pub actual_date: Option<String>,
    #[schema(required)]
    pub permit_number: Option<String>,
    #[schema(required)]
    pub owner_name: Option<String>,
    #[schema(required)]
    pub dwellings: Option<i64>,
    pub archived: bool,
    #[schema(required)]
    pub site_manager: Option<ManagerOut>,
}

/// The schema of a string that takes one of `values` (`schema_with` drops the field's doc
/// comment, hence the description here).
pub fn string_enum(description: &str, values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some(description))
        .enum_values(Some(values.iter().copied()))
        .build()
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() { None } else { Some(s.to_string()) }
}

fn manager(id: Option<crate::domain::ContactId>, first: &Option<String>, last: &Option<String>) -> Option<ManagerOut> {
    id.map(|id| ManagerOut {
        id: id.0,
        name: format!("{} {}", first.as_deref().unwrap_or_default(), last.as_deref().unwrap_or_default())
            .trim()
            .to_string(),
    })
}

/// A site's API object from either row type (a list row or a full row): the same fields under
/// the same names, but the site manager's id.
macro_rules! site_out {
    ($s:expr, $manager_id:expr) => {{
        let s = $s;
        SiteOut {
            id: s.id.0,
            kind: s.kind.clone(),
            name: s.name.clone(),
            street_number: non_empty(&s.street_number),
            street: non_empty(&s.street),
            postcode: s.postcode.clone(),
            city_code: non_empty(&s.city_code),
            city: s.city.clone(),
            operation_type: non_empty(&s.operation_type),
            phase: s.phase.clone(),
            status: s.status.clone(),
            expected_date: s.expected_date.clone(),
            actual_date: s.actual_date.clone(),
            permit_number: non_empty(&s.permit_number),
            owner_name: non_empty(&s.owner_name),
            dwellings: s.dwellings,
            archived: s.archived,
            site_manager: manager($manager_id, &s.manager_first_name, &s.manager_last_name),
        }
    }};
}

impl From<&SiteListRow> for SiteOut {
    fn from(s: &SiteListRow) -> Self {
        site_out!(s, s.manager_id)
    }
}

impl From<&SiteRow> for SiteOut {
    fn from(s: &SiteRow) -> Self {
        site_out!(s, s.site_manager_contact_id)
    }
}

/// One page of sites.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct SiteList {
    pub items: Vec<SiteOut>,
    /// How many sites match in all.
    pub total: i64,
    /// This page (from 1).
    pub page: i64,
    pub per_page: i64,
}

/// The latest version of a site's thermal study.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = StudyVersion)]
pub struct StudyVersionOut {
    pub version_id: i64,
    /// When it was filed (RFC 3339, UTC).
    #[schema(example = "2026-03-02T09:30:00Z")]
    pub imported_at: String,
    /// `form` (dropped on the site), `api` or `demo`.
    pub source: String,
    #[serde(flatten)]
    pub study: StudyOut,
}

impl StudyVersionOut {
    pub fn of(v: &StudyVersion) -> Option<StudyVersionOut> {
        let study = v.study.as_ref()?;
        Some(StudyVersionOut {
            version_id: v.id,
            imported_at: chrono::DateTime::from_timestamp_millis(v.created_at)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            source: v.source.clone(),
            study: StudyOut::from(study),
        })
    }
}

/// A site with the latest version of its thermal study.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct SiteDetail {
    #[serde(flatten)]
    pub site: SiteOut,
    /// The latest study filed on the site, or `null`.
    #[schema(required)]
    pub thermal_study: Option<StudyVersionOut>,
}

/// A document of a site (the current version of its lineage, or the one just filed).
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = Document)]
pub struct DocumentOut {
    pub document_id: i64,
    /// The site it is filed on (`null` for a document of the client filed on no site).
    #[schema(required)]
    pub site_id: Option<i64>,
    /// The code of its type among the firm's types (`plan`, `report`, `invoice`…).
    #[serde(rename = "type")]
    #[schema(example = "report")]
    pub document_type: String,
    pub title: String,
    /// From 1; a document of the same site, type and title becomes a new version.
    pub version: i64,
    /// The file's name, as it is downloaded.
    pub file_name: String,
    #[schema(example = "application/pdf")]
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the content, in hexadecimal.
    pub sha256: String,
    /// `report` or `invoice` when the firm published it as such (Mes rapports, Mes factures).
    #[schema(required)]
    pub published_as: Option<String>,
    /// When it was published (RFC 3339, UTC).
    #[schema(required)]
    pub published_at: Option<String>,
    /// When a user of the client first opened it (published documents only; RFC 3339, UTC).
    #[schema(required)]
    pub first_seen_at: Option<String>,
    /// Whether an invoice carries its Factur-X XML twin.
    pub has_xml_twin: bool,
    /// When it was filed (RFC 3339, UTC).
    #[schema(example = "2026-03-02T09:30:00Z")]
    pub created_at: String,
    /// Where its bytes are downloaded.
    #[schema(example = "/api/v1/documents/42/content")]
    pub content_url: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl From<&DocumentRow> for DocumentOut {
    fn from(d: &DocumentRow) -> Self {
        DocumentOut {
            document_id: d.id.0,
            site_id: d.site_id.map(|s| s.0),
            document_type: d.document_type.clone(),
            title: d.title.clone(),
            version: d.version,
            file_name: d.original_name.clone(),
            content_type: d.content_type.clone(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
            published_as: non_empty(&d.published_as),
            published_at: d.published_at.map(rfc3339),
            first_seen_at: d.first_seen_at.map(rfc3339),
            has_xml_twin: d.twin_file_id.is_some(),
            created_at: rfc3339(d.created_at),
            content_url: format!("/api/v1/documents/{}/content", d.id),
        }
    }
}

fn publish_as_schema() -> utoipa::openapi::Object {
    string_enum(
        "`report` or `invoice` to publish the document to the client (Mes rapports, Mes factures; PDF only): its \
         users are notified, and an invoice is e-mailed with its PDF to the client's billing address. Without it, \
         the document is filed on the site and the firm is notified.",
        &["report", "invoice"],
    )
}

/// The multipart request of `POST /api/v1/sites/{site_id}/documents` (for the OpenAPI document).
// `openapi::document_upload_rules` adds what a struct cannot say: `type` or `publish_as` is
// required, `xml` goes with `publish_as=invoice` only. The example is whole (no per-part ones), so
// that tools that build a request from examples build a valid one.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)] // the handler refuses other parts
#[schema(example = json!({
    "type": "other",
    "title": "Relevé de mesures",
    "file": "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<releve/>\n"
}))]
#[allow(dead_code)] // describes the request; the handler reads the parts one by one
pub struct DocumentUpload {
    /// The document: PDF, JPEG or PNG image, or XML (checked from its content, not its name).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The code of one of the firm's document types (`plan`, `building_permit`, `photo`, `report`,
    /// `invoice`…). Optional with `publish_as`, whose type it then is.
    #[schema(nullable = false, min_length = 1)]
    pub r#type: Option<String>,
    #[schema(schema_with = publish_as_schema)]
    pub publish_as: Option<String>,
    /// The title lists show (200 characters at most); the file's name when absent.
    #[schema(nullable = false, max_length = 200)]
    pub title: Option<String>,
    /// For an invoice: its Factur-X XML (CII, without DTD).
    #[schema(value_type = Option<String>, format = Binary, nullable = false)]
    pub xml: Option<Vec<u8>>,
}
