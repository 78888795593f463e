//! Believable thermal studies for the demo and the benchmark.
//!
//! No real RSET/RSEE file is public. The two templates here are copies, byte for byte, of the
//! schema-valid synthetic samples of `shared/samples/thermal/synthetic`: an RT2012 RSET of a
//! house (13 KB) and an RE2020 RSEE of a 24-dwelling building (268 KB). [`StudySpec::render`]
//! rewrites in a template the values the reader extracts (operation, address, permit, owner,
//! consultancy, software, dwellings, surfaces, indicators, main energies) and the neighbours
//! that must agree with them (usage codes, department, climate zone, maxima, dates); every other
//! value stays the template's placeholder. The RE2020 house is the collective template with the
//! usage codes of a house, which is exactly how the two RE2020 samples differ.
//!
//! A template is cut once into literal pieces and value slots, so writing a study is one pass
//! of copies, whatever its size.

use std::fmt::Write as _;
use std::sync::OnceLock;

const RT2012_TEMPLATE: &str = include_str!("studies/rt2012_rset_8100_maison_individuelle.xml");
const RE2020_TEMPLATE: &str = include_str!("studies/re2020_rsee_2022_logement_collectif.xml");

/// The regulation, and so the file format, of a study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Regulation {
    /// An RSET file (RT2012, engine 8.1).
    Rt2012,
    /// An RSEE file (RE2020, engine 2022.E1).
    Re2020,
}

/// A main energy, for heating or hot water.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Energy {
    Electricity,
    Gas,
    WoodPellets,
    HeatNetwork,
}

impl Energy {
    /// The label the reader gives it.
    pub fn label(self) -> &'static str {
        match self {
            Energy::Electricity => "Électricité",
            Energy::Gas => "Gaz",
            Energy::WoodPellets => "Bois granulés",
            Energy::HeatNetwork => "Réseau de chaleur",
        }
    }
}

/// A thermal consultancy (bureau d'études thermiques) of the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bet {
    pub name: &'static str,
    pub line: &'static str,
    pub postcode: &'static str,
    pub citycode: &'static str,
    pub city: &'static str,
}

pub const BETS: &[Bet] = &[
    Bet {
        name: "THERMI'OUEST ÉTUDES",
        line: "4 rue de l'Héronnière",
        postcode: "44000",
        citycode: "44109",
        city: "Nantes",
    },
    Bet {
        name: "BET ATLANTIQUE ÉNERGIE",
        line: "17 boulevard de la Prairie au Duc",
        postcode: "44200",
        citycode: "44109",
        city: "Nantes",
    },
    Bet {
        name: "ERDRE THERMIQUE CONSEIL",
        line: "2 allée des Tanneurs",
        postcode: "44470",
        citycode: "44026",
        city: "Carquefou",
    },
    Bet {
        name: "VENDÉE ÉNERGIE BÂTIMENT",
        line: "9 rue Sadi Carnot",
        postcode: "85000",
        citycode: "85191",
        city: "La Roche-sur-Yon",
    },
    Bet {
        name: "ANJOU THERMIQUE INGÉNIERIE",
        line: "31 rue Lenepveu",
        postcode: "49100",
        citycode: "49007",
        city: "Angers",
    },
    Bet {
        name: "ESTUAIRE FLUIDES ET THERMIQUE",
        line: "6 avenue de la République",
        postcode: "44600",
        citycode: "44184",
        city: "Saint-Nazaire",
    },
    Bet {
        name: "CABINET KERVADEC THERMIQUE",
        line: "12 rue du Calvaire",
        postcode: "44350",
        citycode: "44069",
        city: "Guérande",
    },
];

/// Software that writes studies: (editor, name, version) for each regulation.
pub const RT2012_SOFTWARE: &[(&str, &str, &str)] = &[
    ("Thermisoft", "ThermiCalc RT", "8.1.0.0"),
    ("Logiciels du Bâtiment", "Calcul'Bât RT2012", "5.4"),
    ("Énergétique Conseil Informatique", "ClimExpert", "12.2"),
];
pub const RE2020_SOFTWARE: &[(&str, &str, &str)] = &[
    ("Thermisoft", "ThermiCalc RE", "2.3.1"),
    ("Logiciels du Bâtiment", "Calcul'Bât RE2020", "7.1"),
    ("Énergétique Conseil Informatique", "ClimExpert RE", "14.0"),
];

/// What a study says; [`StudySpec::render`] writes it as a file the reader reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct StudySpec {
    pub regulation: Regulation,
    /// A building of several dwellings (otherwise a house).
    pub collective: bool,
    pub operation_name: String,
    /// The street line of the operation's address; `None` leaves it empty in the file.
    pub address: Option<String>,
    pub postcode: String,
    /// As the software writes it (RT2012 software often in capitals).
    pub city: String,
    /// INSEE code of the commune; only the RE2020 format carries it.
    pub citycode: String,
    /// `None` is written "EN COURS" (permit not yet obtained).
    pub permit: Option<String>,
    /// Maître d'ouvrage; `None` leaves it empty.
    pub owner: Option<String>,
    /// Maître d'œuvre (the builder or the architect); not read by the reader.
    pub designer: String,
    pub bet: Bet,
    /// (editor, name, version).
    pub software: (&'static str, &'static str, &'static str),
    /// `YYYY-MM-DD`.
    pub study_date: String,
    /// `YYYY-MM-DD`.
    pub permit_filed: String,
    pub dwellings: u32,
    /// Surface habitable (m²), which is also the RE2020 reference surface here.
    pub shab: f64,
    pub bbio: f64,
    pub bbio_max: f64,
    pub cep: f64,
    pub cep_max: f64,
    /// RE2020 only (an RT2012 file has a 0 placeholder).
    pub cep_nr: f64,
    pub cep_nr_max: f64,
    /// RE2020 only.
    pub ic_construction: f64,
    pub ic_construction_max: f64,
    pub ic_energie: f64,
    pub ic_energie_max: f64,
    pub heating: Energy,
    pub dhw: Energy,
}

/// A value slot of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Comment,
    OperationName,
    OperationDescription,
    ProjectName,
    OperationAddress,
    OwnerName,
    OwnerAddress,
    OwnerType,
    Designer,
    BetName,
    BetAddress,
    StudyDate,
    PermitFiled,
    Permit,
    SoftwareEditor,
    SoftwareName,
    SoftwareVersion,
    Department,
    ClimateZone,
    Usage,
    Dwellings,
    Occupants,
    Levels,
    Shab,
    Shon,
    Bbio,
    BbioMax,
    Cep,
    CepMax,
    CepNr,
    CepNrMax,
    IcConstruction,
    IcConstructionMax,
    IcEnergie,
    IcEnergieMax,
    VectorHeating,
    VectorDhw,
    /// Imported final energy of one energy for heating (`true`) or hot water.
    Cef(Energy, bool),
}

/// The text `old` between `before` and `after`, in every place it occurs, is the slot.
struct Needle {
    before: &'static str,
    old: &'static str,
    after: &'static str,
    slot: Slot,
}

const fn n(before: &'static str, old: &'static str, after: &'static str, slot: Slot) -> Needle {
    Needle { before, old, after, slot }
}

const RT2012_NEEDLES: &[Needle] = &[
    n("<nom>", "M. et Mme EXEMPLE (FICTIF)", "</nom>", Slot::OwnerName),
    n(
        "<adresse>\n     ",
        "<ligne>3 chemin des Essais</ligne>\n     <code_postal>44000</code_postal>\n     <ville>NANTES</ville>",
        "\n    </adresse>",
        Slot::OwnerAddress,
    ),
    n("<nom>", "CONSTRUCTEUR FICTIF", "</nom>", Slot::Designer),
    n("<nom>", "BUREAU D ETUDES THERMIQUES FICTIF", "</nom>", Slot::BetName),
    n(
        "<adresse>\n     ",
        "<ligne>1 rue du Calcul</ligne>\n     <code_postal>44100</code_postal>\n     <ville>NANTES</ville>",
        "\n    </adresse>",
        Slot::BetAddress,
    ),
    n("<date_etude>", "2020-06-15", "</date_etude>", Slot::StudyDate),
    n("<editeur_logiciel>", "Editeur fictif", "</editeur_logiciel>", Slot::SoftwareEditor),
    n("<nom_logiciel>", "Logiciel fictif", "</nom_logiciel>", Slot::SoftwareName),
    n("<version_logiciel>", "8.1.0.0", "</version_logiciel>", Slot::SoftwareVersion),
    n("<num_permis>", "EN COURS", "</num_permis>", Slot::Permit),
    n("<date_depot_PC>", "2020-07-01", "</date_depot_PC>", Slot::PermitFiled),
    n("<name>", "Maison individuelle EXEMPLE (fictif)", "</name>", Slot::OperationName),
    n(
        "<adresse>\n     ",
        "<ligne>Lot 12 - Lotissement des Essais</ligne>\n     <code_postal>44470</code_postal>\n     <ville>CARQUEFOU</ville>",
        "\n    </adresse>",
        Slot::OperationAddress,
    ),
    n("<O_Shon_RT>", "118.4", "</O_Shon_RT>", Slot::Shon),
    n("<SHON_RT>", "118.4", "</SHON_RT>", Slot::Shon),
    n("<Usage>", "1", "</Usage>", Slot::Usage),
    n("<Name>", "Maison EXEMPLE", "</Name>", Slot::ProjectName),
    n("<Departement>", "44", "</Departement>", Slot::Department),
    n("<NB_logement>", "1", "</NB_logement>", Slot::Dwellings),
    n("<SURT>", "101.2", "</SURT>", Slot::Shab),
    n("<SHAB>", "101.2", "</SHAB>", Slot::Shab),
    n("<O_Bbio_pts_annuel>", "52.3", "</O_Bbio_pts_annuel>", Slot::Bbio),
    n("<O_Bbio_Max>", "66.0", "</O_Bbio_Max>", Slot::BbioMax),
    n("<O_Cep_Max>", "60.0", "</O_Cep_Max>", Slot::CepMax),
    n("<O_Cep_annuel>", "48.7", "</O_Cep_annuel>", Slot::Cep),
    n("<O_Cef_gaz_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::Gas, true)),
    n("<O_Cef_gaz_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::Gas, false)),
    n("<O_Cef_elec_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::Electricity, true)),
    n("<O_Cef_elec_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::Electricity, false)),
    n("<O_Cef_boisgran_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::WoodPellets, true)),
    n("<O_Cef_boisgran_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::WoodPellets, false)),
    n("<O_Cef_reseau_chaleur_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::HeatNetwork, true)),
    n("<O_Cef_reseau_chaleur_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::HeatNetwork, false)),
];

// The BAN address blocks of the RE2020 template (label, name, postcode, citycode, city, district).
const RE2020_OWNER_BLOCK: &str = "<label>10 Rue des Essais 69003 Lyon</label>\n     <name>10 Rue des Essais</name>\n     <postcode>69003</postcode>\n     <citycode>69383</citycode>\n     <city>Lyon</city>\n     <district>Lyon 3e Arrondissement</district>";
const RE2020_BET_BLOCK: &str = "<label>1 Rue du Calcul 69007 Lyon</label>\n     <name>1 Rue du Calcul</name>\n     <postcode>69007</postcode>\n     <citycode>69387</citycode>\n     <city>Lyon</city>\n     <district>Lyon 7e Arrondissement</district>";
const RE2020_OPERATION_BLOCK: &str = "<label>12 Rue de l'Exemple 69008 Lyon</label>\n     <name>12 Rue de l'Exemple</name>\n     <postcode>69008</postcode>\n     <citycode>69388</citycode>\n     <city>Lyon</city>\n     <district>Lyon 8e Arrondissement</district>";

const RE2020_NEEDLES: &[Needle] = &[
    n("<nom>", "SCCV LES EXEMPLES (FICTIF)", "</nom>", Slot::OwnerName),
    n("<adresse>\n     ", RE2020_OWNER_BLOCK, "\n    </adresse>", Slot::OwnerAddress),
    n("</adresse>\n    <type>", "1", "</type>\n   </maitre_ouvrage>", Slot::OwnerType),
    n("<nom>", "ARCHITECTE FICTIF", "</nom>", Slot::Designer),
    n("<nom>", "BET THERMIQUE FICTIF", "</nom>", Slot::BetName),
    n("<adresse>\n     ", RE2020_BET_BLOCK, "\n    </adresse>", Slot::BetAddress),
    n("<date_etude>", "2023-03-15", "</date_etude>", Slot::StudyDate),
    n("<date_etude>", "2022-01-01", "</date_etude>", Slot::StudyDate),
    n("<editeur>", "Editeur fictif", "</editeur>", Slot::SoftwareEditor),
    n("<nom>", "Logiciel fictif", "</nom>", Slot::SoftwareName),
    n("<version>", "1.0", "</version>", Slot::SoftwareVersion),
    n("<nom>", "Résidence Les Exemples - 24 logements (fictif)", "</nom>", Slot::OperationName),
    n("<description>", "Opération fictive pour tests de parseur", "</description>", Slot::OperationDescription),
    n("<num_permis>", "PC0693832300001", "</num_permis>", Slot::Permit),
    n("<date_depot_PC>", "2023-04-01", "</date_depot_PC>", Slot::PermitFiled),
    n("<adresse>\n     ", RE2020_OPERATION_BLOCK, "\n    </adresse>", Slot::OperationAddress),
    n("<zone_climatique>", "H1c", "</zone_climatique>", Slot::ClimateZone),
    n(">", "1532.4", "<", Slot::Shab),
    n("<Usage>", "2", "</Usage>", Slot::Usage),
    n("<usage_principal>", "2", "</usage_principal>", Slot::Usage),
    n("<usage>", "2", "</usage>", Slot::Usage),
    n("<n_occ>", "48.5", "</n_occ>", Slot::Occupants),
    n("<nb_niv_surface>", "5", "</nb_niv_surface>", Slot::Levels),
    n("<Name>", "Projet EXEMPLE", "</Name>", Slot::ProjectName),
    n("<Departement>", "69", "</Departement>", Slot::Department),
    n("<NB_logement>", "24", "</NB_logement>", Slot::Dwellings),
    n("<nb_logement>", "24", "</nb_logement>", Slot::Dwellings),
    n("<O_Bbio_pts_annuel>", "55.2", "</O_Bbio_pts_annuel>", Slot::Bbio),
    n("<O_Bbio_Max>", "62.0", "</O_Bbio_Max>", Slot::BbioMax),
    n("<O_Cep_annuel>", "58.1", "</O_Cep_annuel>", Slot::Cep),
    n("<O_Cep_nr_annuel>", "45.3", "</O_Cep_nr_annuel>", Slot::CepNr),
    n("<O_Cep_Max>", "75.0", "</O_Cep_Max>", Slot::CepMax),
    n("<O_Cep_nr_Max>", "70.0", "</O_Cep_nr_Max>", Slot::CepNrMax),
    n("<ic_construction>", "612.4", "</ic_construction>", Slot::IcConstruction),
    n("<ic_construction_max>", "740.0", "</ic_construction_max>", Slot::IcConstructionMax),
    n("<ic_energie>", "168.2", "</ic_energie>", Slot::IcEnergie),
    n("<ic_energie_max>", "560.0", "</ic_energie_max>", Slot::IcEnergieMax),
    n("<vecteur_energie_principal_ch>", "11", "</vecteur_energie_principal_ch>", Slot::VectorHeating),
    n("<vecteur_energie_principal_ecs>", "11", "</vecteur_energie_principal_ecs>", Slot::VectorDhw),
    n("<O_Cef_gaz_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::Gas, true)),
    n("<O_Cef_gaz_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::Gas, false)),
    n("<O_Cef_elec_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::Electricity, true)),
    n("<O_Cef_elec_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::Electricity, false)),
    n("<O_Cef_boisgranchaud_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::WoodPellets, true)),
    n("<O_Cef_boisgranchaud_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::WoodPellets, false)),
    n("<O_Cef_reseau_imp_ch_annuel>", "0", "</", Slot::Cef(Energy::HeatNetwork, true)),
    n("<O_Cef_reseau_imp_ecs_annuel>", "0", "</", Slot::Cef(Energy::HeatNetwork, false)),
];

enum Piece {
    Text(std::ops::Range<usize>),
    Slot(Slot),
}

/// A template cut into literal pieces and slots.
struct Template {
    source: &'static str,
    pieces: Vec<Piece>,
}

/// Where the value of `needle` starts in `source`, at each of its places.
fn places(source: &str, needle: &Needle) -> Vec<usize> {
    let whole = format!("{}{}{}", needle.before, needle.old, needle.after);
    source.match_indices(whole.as_str()).map(|(at, _)| at + needle.before.len()).collect()
}

impl Template {
    fn compile(source: &'static str, needles: &[Needle]) -> Template {
        let mut slots: Vec<(std::ops::Range<usize>, Slot)> = Vec::new();
        // The leading comment says what the template is; a generated study says what it is.
        if let (Some(start), Some(end)) = (source.find("<!--"), source.find("-->")) {
            slots.push((start..end + 3, Slot::Comment));
        }
        for needle in needles {
            for start in places(source, needle) {
                slots.push((start..start + needle.old.len(), needle.slot));
            }
        }
        slots.sort_by_key(|(r, _)| r.start);
        let mut pieces = Vec::with_capacity(slots.len() * 2 + 1);
        let mut cursor = 0;
        for (range, slot) in slots {
            assert!(range.start >= cursor, "overlapping slots in a study template");
            pieces.push(Piece::Text(cursor..range.start));
            pieces.push(Piece::Slot(slot));
            cursor = range.end;
        }
        pieces.push(Piece::Text(cursor..source.len()));
        Template { source, pieces }
    }
}

fn rt2012() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| Template::compile(RT2012_TEMPLATE, RT2012_NEEDLES))
}

fn re2020() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| Template::compile(RE2020_TEMPLATE, RE2020_NEEDLES))
}

/// Text escaped for an XML element.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['&', '<', '>']) {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").into()
    } else {
        s.into()
    }
}

/// 52.3 → `52.3`, as engines write their outputs.
fn num(out: &mut String, v: f64) {
    let _ = write!(out, "{v:.1}");
}

/// `x` rounded to one decimal, the precision the files are written with.
pub fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl StudySpec {
    /// The department (`44`) of the operation.
    pub fn department(&self) -> &str {
        self.postcode.get(..2).unwrap_or("44")
    }

    /// The file name a consultancy would give it.
    pub fn file_name(&self) -> String {
        let stem: String = self
            .operation_name
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .split('_')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        match self.regulation {
            Regulation::Rt2012 => format!("RSET_{stem}.xml"),
            Regulation::Re2020 => format!("RSEE_{stem}.xml"),
        }
    }

    /// The study as a file.
    pub fn render(&self) -> Vec<u8> {
        let template = match self.regulation {
            Regulation::Rt2012 => rt2012(),
            Regulation::Re2020 => re2020(),
        };
        let mut out = String::with_capacity(template.source.len() + 1024);
        for piece in &template.pieces {
            match piece {
                Piece::Text(r) => out.push_str(&template.source[r.clone()]),
                Piece::Slot(slot) => self.write_slot(&mut out, *slot),
            }
        }
        out.into_bytes()
    }

    fn write_slot(&self, out: &mut String, slot: Slot) {
        let re2020 = self.regulation == Regulation::Re2020;
        match slot {
            Slot::Comment => out.push_str(
                "<!-- Étude de démonstration générée par ouvrage à partir d'un modèle synthétique (valeurs inventées) : \
                 ce n'est pas une étude réelle. -->",
            ),
            Slot::OperationName => out.push_str(&esc(&self.operation_name)),
            Slot::OperationDescription => {
                let what = if self.collective {
                    format!("Construction de {} logements collectifs", self.dwellings)
                } else {
                    "Construction d'une maison individuelle".to_string()
                };
                out.push_str(&what);
            }
            Slot::ProjectName => out.push_str(&esc(&self.operation_name)),
            Slot::OperationAddress => {
                let line = self.address.as_deref().unwrap_or_default();
                if re2020 {
                    self.write_ban(out, line, &self.postcode, &self.citycode, &self.city);
                } else {
                    write_lines(out, line, &self.postcode, &self.city);
                }
            }
            Slot::OwnerName => out.push_str(&esc(self.owner.as_deref().unwrap_or_default())),
            Slot::OwnerAddress => {
                // The owner's own address is not read; the operation's keeps the file coherent.
                let line = self.address.as_deref().unwrap_or_default();
                if re2020 {
                    self.write_ban(out, line, &self.postcode, &self.citycode, &self.city);
                } else {
                    write_lines(out, line, &self.postcode, &self.city);
                }
            }
            // 1: a company (a promoter's SCCV, a landlord), 2: a private person.
            Slot::OwnerType => out.push_str(if self.collective { "1" } else { "2" }),
            Slot::Designer => out.push_str(&esc(&self.designer)),
            Slot::BetName => out.push_str(&esc(self.bet.name)),
            Slot::BetAddress => {
                if re2020 {
                    self.write_ban(out, self.bet.line, self.bet.postcode, self.bet.citycode, self.bet.city);
                } else {
                    write_lines(out, self.bet.line, self.bet.postcode, &self.bet.city.to_uppercase());
                }
            }
            Slot::StudyDate => out.push_str(&self.study_date),
            Slot::PermitFiled => out.push_str(&self.permit_filed),
            Slot::Permit => out.push_str(&esc(self.permit.as_deref().unwrap_or("EN COURS"))),
            Slot::SoftwareEditor => out.push_str(&esc(self.software.0)),
            Slot::SoftwareName => out.push_str(&esc(self.software.1)),
            Slot::SoftwareVersion => out.push_str(&esc(self.software.2)),
            Slot::Department => out.push_str(self.department()),
            // Loire-Atlantique, Vendée and Maine-et-Loire are all in H2b.
            Slot::ClimateZone => out.push_str("H2b"),
            Slot::Usage => out.push_str(if self.collective { "2" } else { "1" }),
            Slot::Dwellings => {
                let _ = write!(out, "{}", self.dwellings);
            }
            Slot::Occupants => num(out, tenth(self.dwellings as f64 * 2.1)),
            Slot::Levels => {
                let levels = if self.collective { 2 + self.dwellings / 8 } else { 1 + u32::from(self.shab > 110.0) };
                let _ = write!(out, "{levels}");
            }
            Slot::Shab => num(out, self.shab),
            Slot::Shon => num(out, tenth(self.shab * 1.17)),
            Slot::Bbio => num(out, self.bbio),
            Slot::BbioMax => num(out, self.bbio_max),
            Slot::Cep => num(out, self.cep),
            Slot::CepMax => num(out, self.cep_max),
            Slot::CepNr => num(out, self.cep_nr),
            Slot::CepNrMax => num(out, self.cep_nr_max),
            Slot::IcConstruction => num(out, self.ic_construction),
            Slot::IcConstructionMax => num(out, self.ic_construction_max),
            Slot::IcEnergie => num(out, self.ic_energie),
            Slot::IcEnergieMax => num(out, self.ic_energie_max),
            // The RE2020 code list attests only 11 (electricity); other energies are left
            // undeclared (0) and read from the imported final energies.
            Slot::VectorHeating => out.push_str(if self.heating == Energy::Electricity { "11" } else { "0" }),
            Slot::VectorDhw => out.push_str(if self.dhw == Energy::Electricity { "11" } else { "0" }),
            Slot::Cef(energy, heating) => {
                // Final energy per m² and year: most of it for heating, hot water next.
                let value = match (heating, energy == self.heating, energy == self.dhw) {
                    (true, true, _) => tenth(self.cep * if energy == Energy::Electricity { 0.22 } else { 0.5 }),
                    (false, _, true) => tenth(self.cep * if energy == Energy::Electricity { 0.12 } else { 0.25 }),
                    _ => 0.0,
                };
                if value == 0.0 {
                    out.push('0');
                } else {
                    num(out, value);
                }
            }
        }
    }

    fn write_ban(&self, out: &mut String, line: &str, postcode: &str, citycode: &str, city: &str) {
        // The reader falls back on the label for the street: no street, no label.
        let label = if line.is_empty() { String::new() } else { format!("{line} {postcode} {city}") };
        let _ = write!(
            out,
            "<label>{}</label>\n     <name>{}</name>\n     <postcode>{postcode}</postcode>\n     \
             <citycode>{citycode}</citycode>\n     <city>{}</city>\n     <district>{}</district>",
            esc(label.trim()),
            esc(line),
            esc(city),
            esc(city)
        );
    }
}

fn write_lines(out: &mut String, line: &str, postcode: &str, city: &str) {
    let _ = write!(
        out,
        "<ligne>{}</ligne>\n     <code_postal>{postcode}</code_postal>\n     <ville>{}</ville>",
        esc(line),
        esc(city)
    );
}

// ---------------------------------------------------------------------------------------------
// Varied studies for the benchmark and the tests.

/// Communes of Loire-Atlantique, Vendée and Maine-et-Loire: (postcode, INSEE code, name).
pub const COMMUNES: &[(&str, &str, &str)] = &[
    ("44000", "44109", "Nantes"),
    ("44300", "44109", "Nantes"),
    ("44800", "44162", "Saint-Herblain"),
    ("44400", "44143", "Rezé"),
    ("44600", "44184", "Saint-Nazaire"),
    ("44700", "44114", "Orvault"),
    ("44120", "44215", "Vertou"),
    ("44470", "44026", "Carquefou"),
    ("44240", "44035", "La Chapelle-sur-Erdre"),
    ("44340", "44020", "Bouguenais"),
    ("44230", "44190", "Saint-Sébastien-sur-Loire"),
    ("44350", "44069", "Guérande"),
    ("44210", "44131", "Pornic"),
    ("44190", "44043", "Clisson"),
    ("44150", "44003", "Ancenis-Saint-Géréon"),
    ("44110", "44036", "Châteaubriant"),
    ("44980", "44172", "Sainte-Luce-sur-Loire"),
    ("44119", "44209", "Treillières"),
    ("44130", "44015", "Blain"),
    ("44260", "44195", "Savenay"),
    ("44500", "44055", "La Baule-Escoublac"),
    ("44115", "44071", "Haute-Goulaine"),
    ("44115", "44009", "Basse-Goulaine"),
    ("85000", "85191", "La Roche-sur-Yon"),
    ("85100", "85194", "Les Sables-d'Olonne"),
    ("85300", "85047", "Challans"),
    ("85600", "85146", "Montaigu-Vendée"),
    ("85200", "85092", "Fontenay-le-Comte"),
    ("85400", "85128", "Luçon"),
    ("85500", "85109", "Les Herbiers"),
    ("85190", "85003", "Aizenay"),
    ("85800", "85222", "Saint-Gilles-Croix-de-Vie"),
    ("85700", "85182", "Pouzauges"),
    ("49000", "49007", "Angers"),
    ("49100", "49007", "Angers"),
    ("49300", "49099", "Cholet"),
    ("49400", "49328", "Saumur"),
    ("49240", "49015", "Avrillé"),
    ("49800", "49353", "Trélazé"),
    ("49130", "49246", "Les Ponts-de-Cé"),
    ("49070", "49020", "Beaucouzé"),
    ("49500", "49331", "Segré-en-Anjou Bleu"),
    ("49124", "49267", "Saint-Barthélemy-d'Anjou"),
];

/// Streets of new housing estates, used for the benchmark's studies only (the generated firm's
/// sites use other streets, so that an imported study is nobody's duplicate).
const NEW_STREETS: &[&str] = &[
    "rue des Artisans",
    "allée des Peupliers",
    "rue des Coquelicots",
    "impasse des Érables",
    "rue de la Futaie",
    "allée des Bruyères",
    "rue des Vergers",
    "chemin des Noues",
    "rue du Clos Fleuri",
    "allée des Charmilles",
    "rue des Rouges-Gorges",
    "impasse des Saules",
    "rue de la Garenne",
    "allée des Aubépines",
    "rue des Fauvettes",
    "rue du Pré Vert",
];

pub const FIRST_MEN: &[&str] = &[
    "Julien",
    "Thomas",
    "Nicolas",
    "Maxime",
    "Antoine",
    "Romain",
    "Sébastien",
    "Guillaume",
    "Kévin",
    "Mathieu",
    "Florian",
    "Jérémy",
    "Yann",
    "Erwan",
    "Benoît",
    "Damien",
];
pub const FIRST_WOMEN: &[&str] = &[
    "Claire", "Émilie", "Aurélie", "Julie", "Camille", "Marion", "Élodie", "Sophie", "Laura", "Anaïs", "Pauline",
    "Nolwenn", "Céline", "Mélanie", "Gaëlle", "Amandine",
];
pub const FAMILIES: &[&str] = &[
    "Perrin",
    "Guérin",
    "Chevalier",
    "Lemaire",
    "Gautier",
    "Renaud",
    "Brunet",
    "Blanchard",
    "Mercier",
    "Boucher",
    "Rousseau",
    "Fontaine",
    "Caron",
    "Morin",
    "Giraud",
    "Poirier",
    "Tessier",
    "Baudry",
    "Le Gall",
    "Jamet",
    "Rivière",
    "Hamon",
    "Charrier",
    "Ménard",
    "Leroux",
    "Babin",
    "Cousin",
    "Pineau",
    "Robin",
    "Besnard",
    "Le Floch",
    "Bouvier",
    "Gaillard",
    "Briand",
    "Pichon",
    "Lebreton",
    "Guillou",
    "Chauvin",
    "Marchand",
    "Texier",
    "Rabiller",
    "Oger",
    "Durand",
    "Coutant",
    "Loiseau",
    "Bodin",
    "Praud",
    "Drouet",
];
pub const RESIDENCES: &[&str] = &[
    "Les Terrasses de l'Erdre",
    "Le Clos Saint-Joseph",
    "Les Jardins de la Sèvre",
    "Le Hameau des Pins",
    "Les Balcons de Loire",
    "L'Îlot Magellan",
    "Le Carré des Arts",
    "Les Rives du Cens",
    "Le Domaine des Prés",
    "Les Coteaux d'Anjou",
];

/// A small deterministic generator (the same study for the same index on every run).
#[derive(Clone, Debug)]
pub struct Dice(pub u64);

impl Dice {
    pub fn roll(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.roll(list.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.roll(100) < percent
    }

    /// A value between `low` and `high`, to one decimal.
    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        tenth(low + (high - low) * self.roll(1001) as f64 / 1000.0)
    }
}

/// The city as the software writes it: RT2012 software mostly in capitals (when that reads
/// back to the same name), RE2020 software as the national address base spells it.
pub fn written_city(regulation: Regulation, city: &str, d: &mut Dice) -> String {
    let upper = city.to_uppercase();
    if regulation == Regulation::Rt2012 && d.chance(70) && crate::features::sites::studies::city_case(&upper) == city {
        upper
    } else {
        city.to_string()
    }
}

/// The indicators of a believable study, within the regulation's maxima (H2b, under 400 m).
pub fn indicators(spec: &mut StudySpec, d: &mut Dice) {
    let collective = spec.collective;
    spec.shab = if collective { d.between(52.0, 68.0) * spec.dwellings as f64 } else { d.between(82.0, 145.0) };
    spec.shab = tenth(spec.shab);
    match spec.regulation {
        Regulation::Rt2012 => {
            spec.bbio_max = if collective { 72.0 } else { 66.0 };
            spec.bbio = d.between(spec.bbio_max * 0.68, spec.bbio_max * 0.98);
            spec.cep_max = if collective { 62.7 } else { 54.6 };
            spec.cep = d.between(spec.cep_max * 0.62, spec.cep_max * 0.98);
            spec.cep_nr = 0.0;
            spec.cep_nr_max = 0.0;
            spec.ic_construction = 0.0;
            spec.ic_construction_max = 0.0;
            spec.ic_energie = 0.0;
            spec.ic_energie_max = 0.0;
        }
        Regulation::Re2020 => {
            spec.bbio_max = if collective { 65.0 } else { 63.0 };
            spec.bbio = d.between(spec.bbio_max * 0.65, spec.bbio_max * 0.97);
            spec.cep_max = if collective { 85.0 } else { 75.0 };
            spec.cep = d.between(spec.cep_max * 0.55, spec.cep_max * 0.95);
            spec.cep_nr_max = if collective { 70.0 } else { 55.0 };
            spec.cep_nr = d.between(spec.cep_nr_max * 0.55, spec.cep_nr_max * 0.95).min(spec.cep);
            spec.ic_construction_max = if collective { 740.0 } else { 640.0 };
            spec.ic_construction = d.between(spec.ic_construction_max * 0.72, spec.ic_construction_max * 0.97);
            spec.ic_energie_max = if collective { 560.0 } else { 160.0 };
            let share = match spec.heating {
                Energy::Gas => (0.78, 0.97),
                Energy::HeatNetwork => (0.35, 0.7),
                Energy::Electricity | Energy::WoodPellets => (0.3, 0.9),
            };
            spec.ic_energie = d.between(spec.ic_energie_max * share.0, spec.ic_energie_max * share.1);
        }
    }
}

/// Main energies: heat pumps everywhere in RE2020 houses; gas and heat networks in buildings;
/// RT2012 houses still had gas boilers and pellet stoves.
pub fn energies(regulation: Regulation, collective: bool, d: &mut Dice) -> (Energy, Energy) {
    let heating = match (regulation, collective, d.roll(100)) {
        (Regulation::Re2020, false, r) if r < 88 => Energy::Electricity,
        (Regulation::Re2020, false, _) => Energy::WoodPellets,
        (_, true, r) if r < 45 => Energy::Gas,
        (_, true, r) if r < 75 => Energy::HeatNetwork,
        (_, true, _) => Energy::Electricity,
        (Regulation::Rt2012, false, r) if r < 40 => Energy::Gas,
        (Regulation::Rt2012, false, r) if r < 50 => Energy::WoodPellets,
        (Regulation::Rt2012, false, _) => Energy::Electricity,
    };
    let dhw = match heating {
        Energy::WoodPellets => Energy::Electricity,
        other => other,
    };
    (heating, dhw)
}

/// Dates of a study made `days_before` days before `day`, and its permit filing.
pub fn dates(day: chrono::NaiveDate, days_before: i64) -> (String, String) {
    let study = day - chrono::Duration::days(days_before);
    let filed = study + chrono::Duration::days(12 + days_before % 20);
    (study.format("%Y-%m-%d").to_string(), filed.format("%Y-%m-%d").to_string())
}

/// A building-permit number as town halls write it: `PC 044 109 24 A0012`.
pub fn permit_number(citycode: &str, year: i32, letter: char, seq: usize) -> String {
    format!("PC 0{} {} {:02} {letter}{:04}", &citycode[..2], &citycode[2..], year.rem_euclid(100), seq % 10_000)
}

/// [`COMMUNES`] with one commune per postcode (two communes share 44115).
fn distinct_postcodes() -> &'static [(&'static str, &'static str, &'static str)] {
    static LIST: OnceLock<Vec<(&str, &str, &str)>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut seen = std::collections::HashSet::new();
        COMMUNES.iter().filter(|c| seen.insert(c.0)).copied().collect()
    })
}

/// The `index`-th study of the benchmark's integrators: mostly RT2012-sized house studies, one
/// in five an RE2020 file (a house or a building). Distinct indexes give distinct permits,
/// addresses, owners and bytes, so that no study is taken for another's duplicate.
pub fn sample(index: u64) -> StudySpec {
    let mut d = Dice(index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    let i = index as usize;
    let regulation = if i % 5 == 2 { Regulation::Re2020 } else { Regulation::Rt2012 };
    let collective = i % 10 == 4 || i % 20 == 7;
    // Mixed radix: 42 postcodes × 16 streets × 180 numbers = 120,960 distinct addresses.
    let communes = distinct_postcodes();
    let (postcode, citycode, city) = communes[i % communes.len()];
    let street = NEW_STREETS[(i / communes.len()) % NEW_STREETS.len()];
    let number = (i / (communes.len() * NEW_STREETS.len())) % 180 + 1;
    let address = format!("{number} {street}");
    let family = FAMILIES[i % FAMILIES.len()];
    let (he, she) = (FIRST_MEN[(i / FAMILIES.len()) % FIRST_MEN.len()], FIRST_WOMEN[d.roll(FIRST_WOMEN.len())]);
    let other_family = FAMILIES[(i / (FAMILIES.len() * FIRST_MEN.len()) + 7) % FAMILIES.len()];
    let (operation_name, owner, dwellings) = if collective {
        let residence = RESIDENCES[i % RESIDENCES.len()];
        let n = 8 + d.roll(30) as u32;
        (format!("{residence} — {n} logements, {address}"), format!("SCCV {} {index}", residence.to_uppercase()), n)
    } else {
        // The owners of the benchmark's studies are couples named in full, which nobody else is.
        (format!("Maison {family}"), format!("M. {he} {family} et Mme {she} {other_family}"), 1)
    };
    let (heating, dhw) = energies(regulation, collective, &mut d);
    let year = 2024 + (i / 130_000 % 3) as i32;
    let letter = (b'N' + (i / 10_000 % 13) as u8) as char;
    let day =
        chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default() + chrono::Duration::days(d.roll(300) as i64);
    let (study_date, permit_filed) = dates(day, 30 + d.roll(60) as i64);
    let software = *d.pick(match regulation {
        Regulation::Rt2012 => RT2012_SOFTWARE,
        Regulation::Re2020 => RE2020_SOFTWARE,
    });
    let mut spec = StudySpec {
        regulation,
        collective,
        operation_name,
        address: Some(address),
        postcode: postcode.into(),
        city: written_city(regulation, city, &mut d),
        citycode: citycode.into(),
        permit: Some(permit_number(citycode, year, letter, i)),
        owner: Some(owner),
        designer: "CONSTRUCTIONS DU BANC D'ESSAI".into(),
        bet: *d.pick(BETS),
        software,
        study_date,
        permit_filed,
        dwellings,
        shab: 0.0,
        bbio: 0.0,
        bbio_max: 0.0,
        cep: 0.0,
        cep_max: 0.0,
        cep_nr: 0.0,
        cep_nr_max: 0.0,
        ic_construction: 0.0,
        ic_construction_max: 0.0,
        ic_energie: 0.0,
        ic_energie_max: 0.0,
        heating,
        dhw,
    };
    indicators(&mut spec, &mut d);
    spec
}

/// The `index`-th benchmark study as a file.
pub fn study(index: u64) -> Vec<u8> {
    sample(index).render()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::sites::studies::{city_case, prefill, split_address};
    use ouvrage_thermal::{BuildingType, Format};

    #[test]
    fn every_needle_is_found_where_expected() {
        // Each needle's number of places in its template: a template that changed fails here.
        let count =
            |source, needles: &[Needle]| -> Vec<usize> { needles.iter().map(|n| places(source, n).len()).collect() };
        let rt = count(RT2012_TEMPLATE, RT2012_NEEDLES);
        assert_eq!(
            rt,
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
        let re = count(RE2020_TEMPLATE, RE2020_NEEDLES);
        assert_eq!(
            re,
            [
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
            ]
        );
        assert!(rt2012().pieces.iter().any(|p| matches!(p, Piece::Slot(Slot::Comment))));
    }

    /// Renders `spec` and checks that the reader reads back every value written, and the site
    /// form it prefills.
    pub(crate) fn check(spec: &StudySpec) {
        let bytes = spec.render();
        let s = ouvrage_thermal::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", spec.operation_name));
        let label = &spec.operation_name;
        assert_eq!(
            s.format,
            match spec.regulation {
                Regulation::Rt2012 => Format::Rt2012Rset,
                Regulation::Re2020 => Format::Re2020Rsee,
            },
            "{label}"
        );
        assert_eq!(s.operation_name.as_deref(), Some(spec.operation_name.as_str()), "{label}");
        assert_eq!(s.address, spec.address, "{label}");
        assert_eq!(s.postcode.as_deref(), Some(spec.postcode.as_str()), "{label}");
        assert_eq!(s.city.as_deref(), Some(spec.city.as_str()), "{label}");
        match spec.regulation {
            Regulation::Rt2012 => assert_eq!(s.citycode, None, "{label}"),
            Regulation::Re2020 => assert_eq!(s.citycode.as_deref(), Some(spec.citycode.as_str()), "{label}"),
        }
        assert_eq!(s.permit_number, spec.permit, "{label}");
        assert_eq!(s.owner_name, spec.owner, "{label}");
        assert_eq!(s.bet_name.as_deref(), Some(spec.bet.name), "{label}");
        assert_eq!(s.software, Some(format!("{} {}", spec.software.1, spec.software.2)), "{label}");
        assert_eq!(s.dwellings, Some(spec.dwellings), "{label}");
        let expected_type =
            if spec.collective { BuildingType::LogementCollectif } else { BuildingType::MaisonIndividuelle };
        assert_eq!(s.building_type, expected_type, "{label}");
        assert_eq!(s.heating_energy.as_deref(), Some(spec.heating.label()), "{label}");
        assert_eq!(s.dhw_energy.as_deref(), Some(spec.dhw.label()), "{label}");
        assert_eq!(s.warnings, Vec::<String>::new(), "{label}");
        assert_eq!(s.buildings.len(), 1, "{label}");
        let b = &s.buildings[0];
        assert_eq!(b.shab, Some(spec.shab), "{label}");
        assert_eq!(b.bbio, Some(spec.bbio), "{label}");
        assert_eq!(b.cep, Some(spec.cep), "{label}");
        match spec.regulation {
            Regulation::Rt2012 => {
                assert_eq!((b.sref, b.ic_construction, b.ic_energie), (None, None, None), "{label}");
            }
            Regulation::Re2020 => {
                assert_eq!(b.sref, Some(spec.shab), "{label}");
                assert_eq!(b.cep_nr, Some(spec.cep_nr), "{label}");
                assert_eq!(b.ic_construction, Some(spec.ic_construction), "{label}");
                assert_eq!(b.ic_energie, Some(spec.ic_energie), "{label}");
            }
        }
        // Within the maxima, as a study that passes would be.
        assert!(spec.bbio <= spec.bbio_max && spec.cep <= spec.cep_max, "{label}");
        // The site form it prefills.
        let form = prefill(&s, crate::domain::ClientId(1));
        assert_eq!(form.name, spec.operation_name);
        assert_eq!(form.city, city_case(&spec.city));
        let (number, street) = split_address(spec.address.as_deref().unwrap_or_default());
        assert_eq!((form.street_number, form.street), (number, street));
    }

    #[test]
    fn generated_studies_read_back_to_what_was_written() {
        let mut permits = std::collections::HashSet::new();
        let mut shas = std::collections::HashSet::new();
        for i in 0..200 {
            let spec = sample(i);
            check(&spec);
            assert!(permits.insert(spec.permit.clone()), "permit of {i} repeated");
            assert!(shas.insert(crate::features::files::storage::sha256_hex(&spec.render())), "bytes of {i}");
        }
        let formats: std::collections::HashSet<_> =
            (0..20).map(|i| (sample(i).regulation, sample(i).collective)).collect();
        assert_eq!(formats.len(), 4, "RT2012 and RE2020, houses and buildings: {formats:?}");
    }

    #[test]
    fn missing_values_stay_missing_and_text_is_escaped() {
        let mut spec = sample(3);
        spec.permit = None;
        spec.owner = None;
        spec.address = None;
        spec.operation_name = "Maison Dupont & Fils <lot 3>".into();
        check(&spec);
        let mut spec = sample(2);
        assert_eq!(spec.regulation, Regulation::Re2020);
        spec.permit = None;
        spec.owner = None;
        spec.address = None;
        check(&spec);
    }

    #[test]
    fn benchmark_studies_are_distinct_people_and_places() {
        let addresses: std::collections::HashSet<(String, Option<String>)> =
            (0..5_000).map(sample).map(|s| (s.postcode, s.address)).collect();
        assert_eq!(addresses.len(), 5_000);
        let owners: std::collections::HashSet<String> =
            (0..5_000).map(|i| crate::features::sites::duplicates::owner_key(&sample(i).owner.unwrap())).collect();
        assert_eq!(owners.len(), 5_000);
    }
}
