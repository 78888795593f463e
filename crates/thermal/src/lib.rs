//! Reader for French thermal-study XML files: RT2012 RSET (root `RSET`), E+C- RSEE and RE2020 RSEE
//! (root `projet`).
//!
//! The crate knows nothing of the application: [`parse`] turns the bytes of an uploaded file into a
//! [`ThermalStudy`] (administrative data, buildings and their indicators) or a [`ParseError`] whose
//! `Display` is a French explanation meant for the user who uploaded the file.
//!
//! The parse is streaming (quick-xml events, no DOM) and collects only the handful of values it
//! needs, so memory stays bounded whatever the size of the file (itself capped at [`MAX_BYTES`]).
//! Files carrying a DTD or entity declarations are refused before anything is expanded.
//! Blocks are found by element name, not by depth, so the differences between software and engine
//! versions (up to RE2020 2026.E1 while the schema known is 2022.E1) are tolerated; values that
//! cannot be read (`NaN`, garbage, unknown codes) become French [`ThermalStudy::warnings`].
//!
//! # Where the values come from
//!
//! Blocks are matched by name at any depth; `a > b` means "b, direct child of a". When several
//! places give a value, the first one listed wins.
//!
//! - Administrative data, in `Datas_Comp > donnees_generales` (RT2012, E+C- RSET part, RE2020), then
//!   E+C- `RSEnv > data_comp > donnees_generales`: `operation > name|nom` (else the engine's
//!   `Entree_Projet > Name`), `operation > num_permis` ("EN COURS" = none), `maitre_ouvrage > nom`,
//!   `BET > nom` (RE2020: the `BET` whose `ref` is 1 or 3 first; E+C- `bureau_etude_acv` last),
//!   software from `BET > nom_logiciel` + `version_logiciel` (RT2012, E+C-) or `logiciel > nom` +
//!   `version` (RE2020), address from `operation > adresse`: BAN `name` (else `housenumber street`,
//!   else the `ligne`s joined, else `label`), `postcode|code_postal`, `citycode`, `city|ville`.
//! - `engine_version`: `Entree_Projet > Version`, else `Sortie_Projet > Version`.
//! - Buildings, joined by `Index`/`index`: name from `Entree_Projet…Batiment > Name`, RSEnv
//!   `entree_projet > batiment > nom`, RE2020 `batiment_collection > batiment > description`;
//!   SHAB from `batiment_collection > batiment > O_SHAB` (RE2020), E+C- `data_comp > batiment > shab`,
//!   else the sum of `Groupe > SHAB` of the building's RSET groups; SREF (RE2020) from
//!   `batiment_collection > batiment > O_SREF`, `Sortie_Batiment_C|B > O_SREF`, RSEnv
//!   `entree_projet > batiment > sref`; `Sortie_Batiment_B > O_Bbio_pts_annuel`;
//!   `Sortie_Batiment_C > O_Cep_annuel`, `O_Cep_nr_annuel`; RSEnv `sortie_projet > batiment >
//!   indicateur_perf_env > ic_construction`, `ic_energie` (RE2020 only; E+C- has Eges instead).
//! - Dwellings: sum of RSET `Zone > NB_logement`, else of RSEnv `zone > nb_logement`.
//! - Building type: `usage_principal` (RE2020 Datas_Comp, E+C- data_comp), else the zones' `Usage`.
//! - Energies: the declared main energy vector (RE2020 `Sortie_Batiment_C >
//!   vecteur_energie_principal_ch|ecs`, only code 11 = electricity is attested; E+C- `data_comp >
//!   batiment > donnees_techniques > vecteur_energie_principal_ch|ecs`, codes 1 to 9), else the
//!   energy with the largest imported final energy `Sortie_Batiment_C > O_Cef_<energy>_imp_ch|ecs_annuel`,
//!   else primary energy `O_Cep_ch|ecs_<energy>_annuel`; buildings weighted by their surface.

mod codes;
mod scan;
mod text;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest accepted file (50 MiB): anything bigger is refused before parsing.
pub const MAX_BYTES: usize = 50 * 1024 * 1024;

/// What the user was expected to upload; ends every error message.
const EXPECTED: &str = "une étude thermique RSET (RT2012) ou RSEE (E+C-, RE2020) au format XML";

/// Reads a thermal study.
///
/// Never panics; anything that is not a readable RSET/RSEE file is a [`ParseError`]. Values that
/// cannot be read inside an otherwise valid study are reported in [`ThermalStudy::warnings`].
pub fn parse(bytes: &[u8]) -> Result<ThermalStudy, ParseError> {
    if bytes.len() > MAX_BYTES {
        return Err(ParseError::TooLarge { size: bytes.len() });
    }
    scan::parse(bytes)
}

/// The file format (and so the regulation) of a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// RT2012 "Récapitulatif Standardisé d'Étude Thermique" (root `RSET`).
    #[serde(rename = "rt2012_rset")]
    Rt2012Rset,
    /// E+C- (label Énergie-Carbone) "Récapitulatif Standardisé d'Étude Énergétique" (root `projet`).
    #[serde(rename = "ec_rsee")]
    EcRsee,
    /// RE2020 RSEE (root `projet`).
    #[serde(rename = "re2020_rsee")]
    Re2020Rsee,
}

impl Format {
    /// The code used in JSON: `rt2012_rset`, `ec_rsee` or `re2020_rsee`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rt2012Rset => "rt2012_rset",
            Format::EcRsee => "ec_rsee",
            Format::Re2020Rsee => "re2020_rsee",
        }
    }

    /// A French label for screens.
    pub fn label(self) -> &'static str {
        match self {
            Format::Rt2012Rset => "RSET RT2012",
            Format::EcRsee => "RSEE E+C-",
            Format::Re2020Rsee => "RSEE RE2020",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Main use of the building(s) of a study. Serialised as a string: `maison_individuelle`,
/// `logement_collectif`, or another code (`bureaux`, `enseignement_primaire`, `mixte`, `autre`,
/// `inconnu`…).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BuildingType {
    MaisonIndividuelle,
    LogementCollectif,
    Other(String),
}

impl BuildingType {
    pub fn as_str(&self) -> &str {
        match self {
            BuildingType::MaisonIndividuelle => "maison_individuelle",
            BuildingType::LogementCollectif => "logement_collectif",
            BuildingType::Other(code) => code,
        }
    }

    /// A French label for screens ("Maison individuelle", "Bureaux"…).
    pub fn label(&self) -> &str {
        codes::building_type_label(self.as_str())
    }

    /// An individual house (operation type "Individuel"), as opposed to anything else.
    pub fn is_individual(&self) -> bool {
        matches!(self, BuildingType::MaisonIndividuelle)
    }

    fn from_code(code: &str) -> Self {
        match code {
            "maison_individuelle" => BuildingType::MaisonIndividuelle,
            "logement_collectif" => BuildingType::LogementCollectif,
            other => BuildingType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for BuildingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for BuildingType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BuildingType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(BuildingType::from_code(&code))
    }
}

/// What was read from a thermal study. Every field the file does not give is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThermalStudy {
    pub format: Format,
    /// Version of the calculation engine (`8.1.0.0`, `2022.E1.0.0`…).
    pub engine_version: Option<String>,
    pub operation_name: Option<String>,
    /// Street line of the operation's address.
    pub address: Option<String>,
    pub postcode: Option<String>,
    /// INSEE city code (RE2020 BAN address only).
    pub citycode: Option<String>,
    pub city: Option<String>,
    /// Building permit number; `None` when the file says "EN COURS".
    pub permit_number: Option<String>,
    /// Maître d'ouvrage.
    pub owner_name: Option<String>,
    /// Thermal consultancy (bureau d'études thermiques).
    pub bet_name: Option<String>,
    /// Name and version of the software that produced the study.
    pub software: Option<String>,
    pub building_type: BuildingType,
    pub dwellings: Option<u32>,
    /// The buildings, ordered by index.
    pub buildings: Vec<Building>,
    /// Main heating energy, French label ("Électricité", "Gaz", "Réseau de chaleur"…).
    pub heating_energy: Option<String>,
    /// Main domestic hot water energy, French label.
    pub dhw_energy: Option<String>,
    /// What could not be read, in French.
    pub warnings: Vec<String>,
}

/// One building of a study, joined across the blocks of the file by its index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Building {
    pub index: u32,
    pub name: Option<String>,
    /// Surface habitable (m²).
    pub shab: Option<f64>,
    /// Surface de référence (m², RE2020).
    pub sref: Option<f64>,
    /// Bbio (points).
    pub bbio: Option<f64>,
    /// Cep (kWhep/m².an).
    pub cep: Option<f64>,
    /// Cep,nr (kWhep/m².an).
    pub cep_nr: Option<f64>,
    /// Ic construction (kg éq. CO2/m², RE2020).
    pub ic_construction: Option<f64>,
    /// Ic énergie (kg éq. CO2/m², RE2020).
    pub ic_energie: Option<f64>,
}

/// Why a file is not a readable thermal study. `Display` gives a French explanation for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Larger than [`MAX_BYTES`].
    TooLarge { size: usize },
    /// No content at all.
    Empty,
    /// Not XML; `looks_like` names what it seems to be ("un document PDF"…) when recognised.
    NotXml { looks_like: Option<&'static str> },
    /// Contains a DTD (`<!DOCTYPE`) or entity declarations.
    DtdForbidden,
    /// The XML stops before the end of the document.
    Truncated,
    /// Not well-formed XML.
    Malformed { line: u64, detail: String },
    /// An ADEME DPE (energy performance diagnosis) file.
    Dpe,
    /// An ADEME energy audit file.
    EnergyAudit,
    /// Well-formed XML of another kind; `root` is the name of its root element.
    NotThermalStudy { root: String },
}

impl ParseError {
    /// A stable machine code, e.g. for API problem types.
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "too_large",
            ParseError::Empty => "empty",
            ParseError::NotXml { .. } => "not_xml",
            ParseError::DtdForbidden => "dtd_forbidden",
            ParseError::Truncated => "truncated",
            ParseError::Malformed { .. } => "malformed",
            ParseError::Dpe => "dpe",
            ParseError::EnergyAudit => "energy_audit",
            ParseError::NotThermalStudy { .. } => "not_thermal_study",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLarge { size } => {
                let mo = *size as f64 / (1024.0 * 1024.0);
                let mo = format!("{mo:.1}").replace('.', ",");
                write!(f, "Fichier trop volumineux (50 Mo au plus) : ce fichier fait {mo} Mo")?;
            }
            ParseError::Empty => f.write_str("Le fichier est vide")?,
            ParseError::NotXml { looks_like: Some(kind) } => {
                write!(f, "Le fichier n'est pas du XML : il ressemble à {kind}")?
            }
            ParseError::NotXml { looks_like: None } => f.write_str("Le fichier n'est pas du XML")?,
            ParseError::DtdForbidden => {
                f.write_str("Les fichiers contenant une DTD ou des entités sont refusés pour des raisons de sécurité")?
            }
            ParseError::Truncated => f.write_str(
                "Le fichier est tronqué : il s'arrête avant la fin du document XML (envoi interrompu ou export incomplet)",
            )?,
            ParseError::Malformed { line, detail } => {
                write!(f, "Le fichier n'est pas du XML valide (ligne {line} : {detail})")?
            }
            ParseError::Dpe => {
                f.write_str("Ce fichier est un DPE (diagnostic de performance énergétique), pas une étude thermique")?
            }
            ParseError::EnergyAudit => f.write_str("Ce fichier est un audit énergétique, pas une étude thermique")?,
            ParseError::NotThermalStudy { root } if root == "RSET" || root == "projet" => write!(
                f,
                "Ce fichier XML a l'élément racine <{root}> mais ne contient aucune partie d'une étude thermique \
                 (Datas_Comp, Entree_Projet, Sortie_Projet, RSEnv)"
            )?,
            ParseError::NotThermalStudy { root } => {
                write!(f, "Ce fichier XML n'est pas une étude thermique (son élément racine est <{root}>)")?
            }
        }
        write!(f, ". Fichier attendu : {EXPECTED}.")
    }
}

impl std::error::Error for ParseError {}
