//! Reads every file of `shared/samples/thermal` (synthetic RSET/RSEE and real DPE files) and hostile
//! or damaged inputs built here.

use std::path::PathBuf;

use ouvrage_thermal::{Building, BuildingType, Format, MAX_BYTES, ParseError, ThermalStudy, parse};

#[path = "samples/properties.rs"]
mod properties;

const EXPECTED: &str = "une étude thermique RSET (RT2012) ou RSEE (E+C-, RE2020) au format XML";
const RT2012: &str = "synthetic/SYNTHETIC_RT2012_RSET-8100_maison_individuelle.xml";
const RE2020_COLLECTIVE: &str = "synthetic/SYNTHETIC_RE2020_RSEE-2022_logement_collectif_24lgts.xml";
const RE2020_HOUSE: &str = "synthetic/SYNTHETIC_RE2020_RSEE-2022_maison_individuelle.xml";
const DPE_HOUSE: &str = "dpe/dpe_v2.1_maison_individuelle_60_Breteuil_2260E1364581G.xml";
const DPE_COLLECTIVE: &str = "dpe/dpe_v2.2_immeuble_collectif_57lgts_2014_21_Chevigny_2321E0998807O.xml";

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/thermal")
}

fn sample(name: &str) -> Vec<u8> {
    let path = samples_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn sample_str(name: &str) -> String {
    String::from_utf8(sample(name)).unwrap()
}

fn study(bytes: &[u8]) -> ThermalStudy {
    parse(bytes).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

/// An E+C- RSEE (root `projet`, RSET 8.1 + RSEnv 1.1 parts, paths of `2020_E8100_C1100.xsd`)
/// with two buildings, decimal commas, `xsi:nil`, a `NaN` and an element newer than the schema.
const EC_RSEE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<projet xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1.0.3" referentiel_ec="2">
 <RSEnv>
  <entree_projet>
   <batiment><index>1</index><nom>Bat A (RSEnv)</nom>
    <zone><index>1</index><usage>2</usage><sdp>1310.0</sdp></zone>
   </batiment>
   <batiment><index>2</index><nom>Bat B (RSEnv)</nom>
    <zone><index>1</index><usage>2</usage><sdp>880.0</sdp></zone>
   </batiment>
   <date_etude>2019-05-02</date_etude>
  </entree_projet>
  <sortie_projet>
   <batiment><index>1</index>
    <indicateurs_performance_collection>
     <indicateurs_performance ref="1"><valeur>1450.2</valeur></indicateurs_performance>
     <indicateurs_performance ref="4"><valeur>702.9</valeur></indicateurs_performance>
    </indicateurs_performance_collection>
   </batiment>
  </sortie_projet>
  <data_comp>
   <donnees_generales>
    <maitre_ouvrage><nom>OFFICE HLM ACV (RSEnv)</nom><type>1</type>
     <adresse><ligne>9 place de la Mairie</ligne><code_postal>35000</code_postal><ville>RENNES</ville></adresse>
    </maitre_ouvrage>
    <bureau_etude_acv><nom>ACV CONSEIL</nom>
     <adresse><ligne>2 rue Verte</ligne><code_postal>35000</code_postal><ville>RENNES</ville></adresse>
     <SIRET>12345678901234</SIRET>
    </bureau_etude_acv>
    <logiciel><editeur>Editeur ACV</editeur><nom>ACV fictif</nom><version>2.0</version></logiciel>
    <operation><nom>Nom RSEnv (moins prioritaire)</nom>
     <adresse><ligne>Autre adresse</ligne><code_postal>35001</code_postal><ville>AILLEURS</ville></adresse>
     <date_depot_PC>2017-09-01</date_depot_PC><num_permis>PC0352381700042</num_permis>
     <surface_parcelle>3200</surface_parcelle><nb_batiment>2</nb_batiment>
    </operation>
   </donnees_generales>
   <batiment><index>1</index><usage_principal>2</usage_principal><cadre_rt>1</cadre_rt>
    <sdp>1310.0</sdp><shab>1 200,0</shab>
    <donnees_techniques>
     <vecteur_energie_principal_ch>2</vecteur_energie_principal_ch>
     <vecteur_energie_principal_ecs>1</vecteur_energie_principal_ecs>
    </donnees_techniques>
   </batiment>
  </data_comp>
 </RSEnv>
 <RSET idfiche="X" idxsl="8.1" idxsd="8.1">
  <Datas_Comp>
   <donnees_generales>
    <maitre_ouvrage><nom>OFFICE HLM FICTIF</nom>
     <adresse><ligne>9 place de la Mairie</ligne><code_postal>35000</code_postal><ville>RENNES</ville></adresse>
    </maitre_ouvrage>
    <BET><nom>THERMI-CONSEIL FICTIF</nom>
     <adresse><ligne>4 quai Est</ligne><code_postal>35000</code_postal><ville>RENNES</ville></adresse>
     <date_etude>2019-04-30</date_etude><editeur_logiciel>Editeur fictif</editeur_logiciel>
     <nom_logiciel>Logiciel E+C- fictif</nom_logiciel><version_logiciel>4.2</version_logiciel>
    </BET>
    <bureau_controle><nom>NEANT</nom></bureau_controle>
    <operation>
     <num_permis>PC0352381700042</num_permis>
     <date_depot_PC>2017-09-01</date_depot_PC>
     <date_obtention_PC xsi:nil="true"/>
     <avancement>1</avancement>
     <name>Les Tilleuls - 30 logements</name>
     <adresse><ligne>Rue des Tilleuls</ligne><ligne>ZAC du Parc</ligne><code_postal>35 000</code_postal>
      <ville>RENNES</ville></adresse>
    </operation>
   </donnees_generales>
   <batiment_collection>
    <batiment><Index>1</Index><O_Shon_RT>1290.0</O_Shon_RT><type_travaux>1</type_travaux></batiment>
    <batiment><Index>2</Index><O_Shon_RT>870.0</O_Shon_RT><type_travaux>1</type_travaux></batiment>
   </batiment_collection>
  </Datas_Comp>
  <Entree_Projet>
   <Index>1</Index><Name>Tilleuls</Name><Version>8.1.0.0</Version>
   <Batiment_Collection>
    <Batiment><Index>1</Index><Name>Bâtiment A</Name>
     <Zone_Collection>
      <Zone><Index>1</Index><Name>Logements A</Name><Usage>2</Usage><NB_logement>18</NB_logement>
       <Groupe_Collection>
        <Groupe><Index>1</Index><Name>Nord</Name><SHAB>600,25</SHAB></Groupe>
        <Groupe><Index>2</Index><Name>Sud</Name><SHAB>599,25</SHAB></Groupe>
       </Groupe_Collection>
      </Zone>
     </Zone_Collection>
    </Batiment>
    <Batiment><Index>2</Index><Name>Bâtiment B</Name>
     <Zone_Collection>
      <Zone><Index>1</Index><Name>Logements B</Name><Usage>2</Usage><NB_logement>12</NB_logement>
       <Groupe_Collection><Groupe><Index>1</Index><Name>Tout</Name><SHAB>812,5</SHAB></Groupe></Groupe_Collection>
      </Zone>
     </Zone_Collection>
    </Batiment>
   </Batiment_Collection>
  </Entree_Projet>
  <Sortie_Projet HashKey="X">
   <Index>1</Index><Version>8.1.0.0</Version>
   <Sortie_Batiment_B_Collection>
    <Sortie_Batiment_B><Index>2</Index><O_Bbio_pts_annuel>NaN</O_Bbio_pts_annuel></Sortie_Batiment_B>
    <Sortie_Batiment_B><Index>1</Index><O_Bbio_pts_annuel>61.2</O_Bbio_pts_annuel></Sortie_Batiment_B>
   </Sortie_Batiment_B_Collection>
   <Sortie_Batiment_C_Collection>
    <Sortie_Batiment_C><Index>1</Index><O_Cep_annuel>72,4</O_Cep_annuel><O_Cep_nr_annuel>70.1</O_Cep_nr_annuel>
     <O_Cef_gaz_imp_ch_annuel>0</O_Cef_gaz_imp_ch_annuel><O_Cef_elec_imp_ch_annuel>90</O_Cef_elec_imp_ch_annuel>
     <O_Indicateur_Editeur_2026>3</O_Indicateur_Editeur_2026>
    </Sortie_Batiment_C>
    <Sortie_Batiment_C><Index>2</Index><O_Cep_annuel>80.3</O_Cep_annuel>
     <O_Cep_nr_annuel xsi:nil="true"/>
     <O_Cef_gaz_imp_ch_annuel>40</O_Cef_gaz_imp_ch_annuel><O_Cef_elec_imp_ch_annuel>3</O_Cef_elec_imp_ch_annuel>
     <O_Cef_gaz_imp_ecs_annuel>10</O_Cef_gaz_imp_ecs_annuel><O_Cef_elec_imp_ecs_annuel>15</O_Cef_elec_imp_ecs_annuel>
     <Sortie_Zone_C_Collection><Sortie_Zone_C><Index>1</Index><O_Cep_annuel>999</O_Cep_annuel></Sortie_Zone_C>
     </Sortie_Zone_C_Collection>
    </Sortie_Batiment_C>
   </Sortie_Batiment_C_Collection>
  </Sortie_Projet>
 </RSET>
</projet>
"#;

/// Every file of the sample folders is one of those asserted below: a new sample fails this test
/// until it gets its assertions.
#[test]
fn every_sample_file_is_covered() {
    let mut found = Vec::new();
    for dir in ["synthetic", "dpe"] {
        for entry in std::fs::read_dir(samples_dir().join(dir)).unwrap() {
            found.push(format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()));
        }
    }
    found.sort();
    let mut covered = vec![RT2012, RE2020_COLLECTIVE, RE2020_HOUSE, DPE_HOUSE, DPE_COLLECTIVE];
    covered.sort();
    assert_eq!(found, covered);
}

#[test]
fn rt2012_rset_house() {
    let raw = sample_str(RT2012);
    // The values asserted are in the file where the RSET schema puts them.
    for needle in [
        "<name>Maison individuelle EXEMPLE (fictif)</name>",
        "<ligne>Lot 12 - Lotissement des Essais</ligne>",
        "<num_permis>EN COURS</num_permis>",
        "<O_Bbio_pts_annuel>52.3</O_Bbio_pts_annuel>",
        "<O_Cep_annuel>48.7</O_Cep_annuel>",
        "<SHAB>101.2</SHAB>",
        "<NB_logement>1</NB_logement>",
    ] {
        assert!(raw.contains(needle), "{needle}");
    }
    let s = study(raw.as_bytes());
    assert_eq!(s.format, Format::Rt2012Rset);
    assert_eq!(s.engine_version.as_deref(), Some("8.1.0.0"));
    assert_eq!(s.operation_name.as_deref(), Some("Maison individuelle EXEMPLE (fictif)"));
    assert_eq!(s.address.as_deref(), Some("Lot 12 - Lotissement des Essais"));
    assert_eq!(s.postcode.as_deref(), Some("44470"));
    assert_eq!(s.citycode, None, "RT2012 addresses have no INSEE code");
    assert_eq!(s.city.as_deref(), Some("CARQUEFOU"));
    assert_eq!(s.permit_number, None, "« EN COURS » is no permit number");
    assert_eq!(s.owner_name.as_deref(), Some("M. et Mme EXEMPLE (FICTIF)"));
    assert_eq!(s.bet_name.as_deref(), Some("BUREAU D ETUDES THERMIQUES FICTIF"));
    assert_eq!(s.software.as_deref(), Some("Logiciel fictif 8.1.0.0"));
    assert_eq!(s.building_type, BuildingType::MaisonIndividuelle);
    assert_eq!(s.dwellings, Some(1));
    assert_eq!(
        s.buildings,
        vec![Building {
            index: 1,
            name: Some("Maison".to_owned()),
            shab: Some(101.2),
            sref: None,
            bbio: Some(52.3),
            cep: Some(48.7),
            // The 8.1 engine writes Cep,nr in RSET files too (a 0 placeholder here).
            cep_nr: Some(0.0),
            ic_construction: None,
            ic_energie: None,
        }]
    );
    // Every per-energy output of the synthetic file is a 0 placeholder.
    assert_eq!(s.heating_energy, None);
    assert_eq!(s.dhw_energy, None);
    assert_eq!(
        s.warnings,
        vec![
            "Énergie principale de chauffage introuvable dans l'étude.",
            "Énergie principale d'eau chaude sanitaire introuvable dans l'étude."
        ]
    );
}

fn assert_re2020_common(s: &ThermalStudy) {
    assert_eq!(s.format, Format::Re2020Rsee);
    assert_eq!(s.engine_version.as_deref(), Some("2022.E1.0.0"));
    assert_eq!(s.address.as_deref(), Some("12 Rue de l'Exemple"));
    assert_eq!(s.postcode.as_deref(), Some("69008"));
    assert_eq!(s.citycode.as_deref(), Some("69388"));
    assert_eq!(s.city.as_deref(), Some("Lyon"));
    assert_eq!(s.permit_number.as_deref(), Some("PC0693832300001"));
    assert_eq!(s.bet_name.as_deref(), Some("BET THERMIQUE FICTIF"));
    assert_eq!(s.software.as_deref(), Some("Logiciel fictif 1.0"));
    assert_eq!(s.heating_energy.as_deref(), Some("Électricité"));
    assert_eq!(s.dhw_energy.as_deref(), Some("Électricité"));
    assert_eq!(s.warnings, Vec::<String>::new());
}

#[test]
fn re2020_rsee_collective_housing() {
    let raw = sample_str(RE2020_COLLECTIVE);
    for needle in [
        "<nom>Résidence Les Exemples - 24 logements (fictif)</nom>",
        "<name>12 Rue de l'Exemple</name>",
        "<citycode>69388</citycode>",
        "<usage_principal>2</usage_principal>",
        "<NB_logement>24</NB_logement>",
        "<O_SHAB>1532.4</O_SHAB>",
        "<O_Bbio_pts_annuel>55.2</O_Bbio_pts_annuel>",
        "<O_Cep_nr_annuel>45.3</O_Cep_nr_annuel>",
        "<ic_construction>612.4</ic_construction>",
        "<ic_energie>168.2</ic_energie>",
        "<vecteur_energie_principal_ch>11</vecteur_energie_principal_ch>",
    ] {
        assert!(raw.contains(needle), "{needle}");
    }
    let s = study(raw.as_bytes());
    assert_re2020_common(&s);
    assert_eq!(s.operation_name.as_deref(), Some("Résidence Les Exemples - 24 logements (fictif)"));
    assert_eq!(s.owner_name.as_deref(), Some("SCCV LES EXEMPLES (FICTIF)"));
    assert_eq!(s.building_type, BuildingType::LogementCollectif);
    assert_eq!(s.dwellings, Some(24));
    assert_eq!(
        s.buildings,
        vec![Building {
            index: 1,
            name: Some("Bâtiment A".to_owned()),
            shab: Some(1532.4),
            sref: Some(1532.4),
            bbio: Some(55.2),
            cep: Some(58.1),
            cep_nr: Some(45.3),
            ic_construction: Some(612.4),
            ic_energie: Some(168.2),
        }]
    );
}

#[test]
fn re2020_rsee_house() {
    let raw = sample_str(RE2020_HOUSE);
    for needle in
        ["<nom>M. et Mme EXEMPLE (FICTIF)</nom>", "<usage_principal>1</usage_principal>", "<O_SREF>104.6</O_SREF>"]
    {
        assert!(raw.contains(needle), "{needle}");
    }
    let s = study(raw.as_bytes());
    assert_re2020_common(&s);
    assert_eq!(s.operation_name.as_deref(), Some("Maison individuelle EXEMPLE (fictif)"));
    assert_eq!(s.owner_name.as_deref(), Some("M. et Mme EXEMPLE (FICTIF)"));
    assert_eq!(s.building_type, BuildingType::MaisonIndividuelle);
    assert!(s.building_type.is_individual());
    assert_eq!(s.dwellings, Some(1));
    assert_eq!(
        s.buildings,
        vec![Building {
            index: 1,
            name: Some("Bâtiment A".to_owned()),
            shab: Some(104.6),
            sref: Some(104.6),
            bbio: Some(55.2),
            cep: Some(58.1),
            cep_nr: Some(45.3),
            ic_construction: Some(612.4),
            ic_energie: Some(168.2),
        }]
    );
}

#[test]
fn ec_rsee_with_two_buildings() {
    let s = study(EC_RSEE.as_bytes());
    assert_eq!(s.format, Format::EcRsee);
    assert_eq!(s.engine_version.as_deref(), Some("8.1.0.0"));
    // The RSET Datas_Comp wins over the RSEnv data_comp.
    assert_eq!(s.operation_name.as_deref(), Some("Les Tilleuls - 30 logements"));
    assert_eq!(s.address.as_deref(), Some("Rue des Tilleuls, ZAC du Parc"));
    assert_eq!(s.postcode.as_deref(), Some("35000"));
    assert_eq!(s.citycode, None);
    assert_eq!(s.city.as_deref(), Some("RENNES"));
    assert_eq!(s.permit_number.as_deref(), Some("PC0352381700042"));
    assert_eq!(s.owner_name.as_deref(), Some("OFFICE HLM FICTIF"));
    assert_eq!(s.bet_name.as_deref(), Some("THERMI-CONSEIL FICTIF"));
    assert_eq!(s.software.as_deref(), Some("Logiciel E+C- fictif 4.2"));
    assert_eq!(s.building_type, BuildingType::LogementCollectif);
    assert_eq!(s.dwellings, Some(30));
    assert_eq!(
        s.buildings,
        vec![
            Building {
                index: 1,
                name: Some("Bâtiment A".to_owned()),
                shab: Some(1200.0),
                sref: None,
                bbio: Some(61.2),
                cep: Some(72.4),
                cep_nr: Some(70.1),
                ic_construction: None,
                ic_energie: None,
            },
            Building {
                index: 2,
                name: Some("Bâtiment B".to_owned()),
                shab: Some(812.5),
                sref: None,
                bbio: None,
                cep: Some(80.3),
                cep_nr: None,
                ic_construction: None,
                ic_energie: None,
            },
        ]
    );
    // Building 1 declares gas (code 2) although its outputs say electricity: the declaration wins;
    // building 2 has no declaration, its largest imported energy is gas.
    assert_eq!(s.heating_energy.as_deref(), Some("Gaz"));
    assert_eq!(s.dhw_energy.as_deref(), Some("Électricité"));
    assert_eq!(s.warnings, vec!["Bâtiment 2 : Bbio non calculé dans le fichier (valeur « NaN »), laissé vide."]);
}

#[test]
fn json_field_names_follow_the_api_contract() {
    let s = study(&sample(RE2020_COLLECTIVE));
    let json = serde_json::to_value(&s).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "format",
        "engine_version",
        "operation_name",
        "address",
        "postcode",
        "citycode",
        "city",
        "permit_number",
        "owner_name",
        "bet_name",
        "software",
        "building_type",
        "dwellings",
        "buildings",
        "heating_energy",
        "dhw_energy",
        "warnings",
    ];
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    expected.sort();
    assert_eq!(keys_sorted, expected);
    assert_eq!(json["format"], "re2020_rsee");
    assert_eq!(json["building_type"], "logement_collectif");
    assert_eq!(json["dwellings"], 24);
    let building = &json["buildings"][0];
    let mut bkeys: Vec<&str> = building.as_object().unwrap().keys().map(String::as_str).collect();
    bkeys.sort();
    assert_eq!(bkeys, ["bbio", "cep", "cep_nr", "ic_construction", "ic_energie", "index", "name", "shab", "sref"]);
    assert_eq!(building["index"], 1);
    assert_eq!(building["ic_energie"], 168.2);

    let rt = serde_json::to_value(study(&sample(RT2012))).unwrap();
    assert_eq!(rt["format"], "rt2012_rset");
    assert_eq!(rt["building_type"], "maison_individuelle");
    assert!(rt["citycode"].is_null() && rt["permit_number"].is_null());
    assert!(rt["buildings"][0]["sref"].is_null() && rt["buildings"][0]["ic_construction"].is_null());
    assert_eq!(serde_json::to_value(study(EC_RSEE.as_bytes())).unwrap()["format"], "ec_rsee");

    // What is stored can be read back.
    let back: ThermalStudy = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
    let other: BuildingType = serde_json::from_str("\"bureaux\"").unwrap();
    assert_eq!(other, BuildingType::Other("bureaux".to_owned()));
    assert_eq!(other.label(), "Bureaux");
}

#[test]
fn dpe_files_are_recognised_as_dpe() {
    for name in [DPE_HOUSE, DPE_COLLECTIVE] {
        let bytes = sample(name);
        assert!(String::from_utf8_lossy(&bytes).contains("<numero_dpe>"));
        let err = parse(&bytes).unwrap_err();
        assert_eq!(err, ParseError::Dpe, "{name}");
        assert_eq!(err.code(), "dpe");
        let message = err.to_string();
        assert!(
            message.contains("ce fichier est un DPE (diagnostic de performance énergétique), pas une étude thermique")
                || message
                    .contains("Ce fichier est un DPE (diagnostic de performance énergétique), pas une étude thermique")
        );
        assert!(message.contains(EXPECTED), "{message}");
    }
}

/// The RE2020 collective sample with a few values rewritten.
fn re2020_variant(edits: &[(&str, &str)]) -> String {
    let mut xml = sample_str(RE2020_COLLECTIVE);
    for (from, to) in edits {
        assert!(xml.contains(from), "{from}");
        xml = xml.replacen(from, to, 1);
    }
    xml
}

#[test]
fn decimal_commas_nil_nan_empty_and_newer_elements_are_tolerated() {
    let xml = re2020_variant(&[
        (
            "<projet version=\"2022.D1E1C1\">",
            "<projet xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" version=\"2026.D1E1C1\">",
        ),
        (
            "<Version>2022.E1.0.0</Version>",
            "<Version>2026.E1.0.0</Version><Nouveau_Bloc_2026><Valeur>1</Valeur></Nouveau_Bloc_2026>",
        ),
        ("<O_Bbio_pts_annuel>55.2</O_Bbio_pts_annuel>", "<O_Bbio_pts_annuel>55,2</O_Bbio_pts_annuel>"),
        ("<O_Cep_annuel>58.1</O_Cep_annuel>", "<O_Cep_annuel xsi:nil=\"true\"></O_Cep_annuel>"),
        ("<O_Cep_nr_annuel>45.3</O_Cep_nr_annuel>", "<O_Cep_nr_annuel>NaN</O_Cep_nr_annuel>"),
        ("<ic_energie>168.2</ic_energie>", "<ic_energie>n/a</ic_energie><ic_futur_2026>4</ic_futur_2026>"),
        // Empty in Datas_Comp: the SHAB of the RSET groups is used instead.
        ("<O_SHAB>1532.4</O_SHAB>\n    <nb_niv_ssol>", "<O_SHAB/>\n    <nb_niv_ssol>"),
        ("<ic_construction>612.4</ic_construction>", "<ic_construction> 612,4 </ic_construction>"),
    ]);
    let ic_line = xml.lines().position(|l| l.contains("<ic_energie>n/a")).unwrap() + 1;
    let s = study(xml.as_bytes());
    assert_eq!(s.format, Format::Re2020Rsee);
    assert_eq!(s.engine_version.as_deref(), Some("2026.E1.0.0"));
    let b = &s.buildings[0];
    assert_eq!(b.bbio, Some(55.2));
    assert_eq!(b.cep, None);
    assert_eq!(b.cep_nr, None);
    assert_eq!(b.ic_energie, None);
    assert_eq!(b.ic_construction, Some(612.4));
    assert_eq!(b.shab, Some(1532.4));
    assert_eq!(s.dwellings, Some(24));
    assert_eq!(
        s.warnings,
        vec![
            "Bâtiment 1 : Cep,nr non calculé dans le fichier (valeur « NaN »), laissé vide.".to_owned(),
            format!("Bâtiment 1 : valeur illisible « n/a » pour Ic énergie (ligne {ic_line}), laissée vide."),
        ]
    );
}

#[test]
fn utf8_bom_is_accepted() {
    let plain = sample(RE2020_HOUSE);
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&plain);
    assert_eq!(study(&with_bom), study(&plain));
    let mut rt = b"\xEF\xBB\xBF".to_vec();
    rt.extend_from_slice(&sample(RT2012));
    assert_eq!(study(&rt).operation_name.as_deref(), Some("Maison individuelle EXEMPLE (fictif)"));
}

#[test]
fn an_unknown_code_is_a_warning_not_a_failure() {
    let xml = re2020_variant(&[
        ("<usage_principal>2</usage_principal>", "<usage_principal>9</usage_principal>"),
        (
            "<vecteur_energie_principal_ch>11</vecteur_energie_principal_ch>",
            "<vecteur_energie_principal_ch>4</vecteur_energie_principal_ch>",
        ),
    ]);
    let s = study(xml.as_bytes());
    assert_eq!(s.building_type, BuildingType::Other("autre".to_owned()));
    assert_eq!(s.heating_energy, None);
    assert_eq!(s.dhw_energy.as_deref(), Some("Électricité"));
    assert_eq!(
        s.warnings,
        vec![
            "Bâtiment 1 : code d'usage 9 non reconnu, type « autre » retenu.",
            "Bâtiment 1 : code 4 de l'énergie de chauffage non reconnu.",
            "Énergie principale de chauffage introuvable dans l'étude.",
        ]
    );
}

#[test]
fn malformed_xml_is_refused_with_its_line() {
    let xml = re2020_variant(&[("</maitre_oeuvre>", "</maitre_oeuvr>")]);
    let line = xml.lines().position(|l| l.contains("</maitre_oeuvr>")).unwrap() as u64 + 1;
    let err = parse(xml.as_bytes()).unwrap_err();
    assert!(matches!(&err, ParseError::Malformed { line: l, .. } if *l == line), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("n'est pas du XML valide"), "{message}");
    assert!(message.contains(&format!("ligne {line}")), "{message}");
    assert!(message.contains(EXPECTED), "{message}");

    for bad in ["<RSET><Datas_Comp></RSET>", "<RSET/><RSET/>", "<RSET></Datas_Comp>"] {
        assert!(matches!(parse(bad.as_bytes()), Err(ParseError::Malformed { .. })), "{bad}");
    }
}

#[test]
fn not_xml_and_other_xml_are_explained() {
    let err = parse(b"Nom;Adresse\nA;B\n").unwrap_err();
    assert_eq!(err, ParseError::NotXml { looks_like: None });
    assert!(err.to_string().starts_with("Le fichier n'est pas du XML"));
    assert!(err.to_string().contains(EXPECTED));
    let pdf = parse(b"%PDF-1.4\n%\xe2\xe3").unwrap_err();
    assert!(pdf.to_string().contains("PDF"), "{pdf}");
    let other = parse(b"<?xml version=\"1.0\"?><facture><total>12</total></facture>").unwrap_err();
    assert_eq!(other, ParseError::NotThermalStudy { root: "facture".to_owned() });
    assert!(other.to_string().contains("<facture>") && other.to_string().contains(EXPECTED));
    let empty_rset = parse(b"<RSET></RSET>").unwrap_err();
    assert!(matches!(empty_rset, ParseError::NotThermalStudy { .. }));
    assert!(empty_rset.to_string().contains("ne contient aucune partie d'une étude thermique"));
    let audit = parse(b"<audit><administratif/></audit>").unwrap_err();
    assert_eq!(audit, ParseError::EnergyAudit);
    assert_eq!(parse(b"").unwrap_err().to_string(), format!("Le fichier est vide. Fichier attendu : {EXPECTED}."));
}

#[test]
fn truncated_files_are_refused() {
    for name in [RT2012, RE2020_COLLECTIVE] {
        let bytes = sample(name);
        let root_end = bytes.trim_ascii_end().len();
        let step = (root_end / 150).max(1);
        let cuts = (1..root_end).step_by(step).chain([root_end - 1, root_end - 5, 40, 100, 300]);
        for cut in cuts {
            let err = parse(&bytes[..cut]).unwrap_err();
            assert_eq!(err, ParseError::Truncated, "{name} cut at {cut}");
        }
        assert_eq!(parse(&bytes[..root_end]).map(|s| s.format).ok(), Some(study(&bytes).format));
    }
    let message = ParseError::Truncated.to_string();
    assert!(message.contains("Le fichier est tronqué") && message.contains(EXPECTED), "{message}");
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut dtd = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE projet [\n <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
        dtd.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    dtd.push_str("]>\n<projet><Datas_Comp><donnees_generales><operation><nom>&lol9;</nom></operation>");
    dtd.push_str("</donnees_generales></Datas_Comp></projet>\n");
    let err = parse(dtd.as_bytes()).unwrap_err();
    assert_eq!(err, ParseError::DtdForbidden);
    let message = err.to_string();
    assert!(
        message.contains("les fichiers contenant une DTD ou des entités sont refusés pour des raisons de sécurité")
            || message
                .contains("Les fichiers contenant une DTD ou des entités sont refusés pour des raisons de sécurité"),
        "{message}"
    );
    assert!(message.contains(EXPECTED));

    // Quadratic blow-up: one large entity referenced many times.
    let big = "a".repeat(100_000);
    let refs = "&a;".repeat(100_000);
    let quadratic = format!("<!DOCTYPE RSET [<!ENTITY a \"{big}\">]><RSET><Datas_Comp>{refs}</Datas_Comp></RSET>");
    assert_eq!(parse(quadratic.as_bytes()).unwrap_err(), ParseError::DtdForbidden);
}

#[test]
fn external_entities_and_dtds_are_refused() {
    let study_body = "<RSET><Datas_Comp><donnees_generales><maitre_ouvrage><nom>&xxe;</nom></maitre_ouvrage>\
        </donnees_generales></Datas_Comp></RSET>";
    for prolog in [
        "<!DOCTYPE RSET [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
        "<?xml version=\"1.0\"?><!-- export --><!DOCTYPE RSET [<!ENTITY xxe SYSTEM \"http://example.invalid/x\">]>",
        "<!DOCTYPE RSET SYSTEM \"http://example.invalid/rset.dtd\">",
        "<!DOCTYPE RSET [<!ENTITY % remote SYSTEM \"http://example.invalid/p.dtd\"> %remote;]>",
        "<!doctype RSET [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
    ] {
        let xml = format!("{prolog}{study_body}");
        assert_eq!(parse(xml.as_bytes()).unwrap_err(), ParseError::DtdForbidden, "{prolog}");
    }
    // Without a DTD, an entity reference is never resolved: the value keeps only its text.
    let xml = "<RSET><Datas_Comp><donnees_generales><maitre_ouvrage><nom>SCI &xxe;Dupont</nom></maitre_ouvrage>\
        </donnees_generales></Datas_Comp></RSET>";
    let s = study(xml.as_bytes());
    assert_eq!(s.owner_name.as_deref(), Some("SCI Dupont"));
    assert!(s.warnings.iter().any(|w| w.contains("&xxe;")), "{:?}", s.warnings);
    // A declaration hidden inside the document is refused too.
    let inner = "<RSET><!ENTITY xxe SYSTEM \"file:///etc/passwd\"><Datas_Comp/></RSET>";
    assert_eq!(parse(inner.as_bytes()).unwrap_err(), ParseError::DtdForbidden);
}

#[test]
fn files_above_50_mb_are_refused_up_front() {
    let mut big = sample(RT2012);
    big.resize(MAX_BYTES + 1, b' ');
    let err = parse(&big).unwrap_err();
    assert_eq!(err, ParseError::TooLarge { size: MAX_BYTES + 1 });
    let message = err.to_string();
    assert!(message.to_lowercase().contains("fichier trop volumineux (50 mo au plus)"), "{message}");
    assert!(message.contains(EXPECTED));

    // Exactly at the limit, a study (padded with a comment) is still read.
    let raw = sample(RT2012);
    let mut padded = b"<!--".to_vec();
    padded.resize(MAX_BYTES - raw.len() - 3, b'.');
    padded.extend_from_slice(b"-->");
    padded.extend_from_slice(&raw);
    assert_eq!(padded.len(), MAX_BYTES);
    assert_eq!(study(&padded), study(&raw));
}

#[test]
fn a_large_study_is_streamed_and_capped() {
    // 40 MB of groups under one building: read as a stream, the SHAB of every group is summed.
    let group = "<Groupe><Index>1</Index><Name>G</Name><SHAB>1,5</SHAB><V>0</V></Groupe>\n";
    let count = 40 * 1024 * 1024 / group.len();
    let mut xml = String::with_capacity(count * group.len() + 512);
    xml.push_str("<RSET><Entree_Projet><Version>8.1.0.0</Version><Batiment_Collection><Batiment><Index>1</Index>");
    xml.push_str("<Zone_Collection><Zone><Usage>1</Usage><NB_logement>1</NB_logement><Groupe_Collection>\n");
    for _ in 0..count {
        xml.push_str(group);
    }
    xml.push_str(
        "</Groupe_Collection></Zone></Zone_Collection></Batiment></Batiment_Collection></Entree_Projet></RSET>",
    );
    let s = study(xml.as_bytes());
    assert_eq!(s.buildings.len(), 1);
    assert_eq!(s.buildings[0].shab, Some(1.5 * count as f64));

    // Thousands of buildings are not a study: the first 1000 are kept, with a warning.
    let mut many = String::from("<RSET><Sortie_Projet><Sortie_Batiment_B_Collection>");
    for i in 1..=2500 {
        many.push_str(&format!(
            "<Sortie_Batiment_B><Index>{i}</Index><O_Bbio_pts_annuel>1</O_Bbio_pts_annuel></Sortie_Batiment_B>"
        ));
    }
    many.push_str("</Sortie_Batiment_B_Collection></Sortie_Projet></RSET>");
    let s = study(many.as_bytes());
    assert_eq!(s.buildings.len(), 1000);
    assert!(s.warnings.iter().any(|w| w.contains("Plus de 1000 bâtiments")), "{:?}", s.warnings);
}

#[test]
fn group_surfaces_too_large_to_add_up_leave_the_shab_empty() {
    // Found by the property tests (samples/properties.rs): two groups of 1e308 m² made an infinite
    // SHAB, which the app would store as JSON `null` and show as "inf".
    let xml = "<RSET><Entree_Projet><Batiment_Collection><Batiment><Index>1</Index><Zone_Collection><Zone>\
        <Groupe_Collection><Groupe><SHAB>1e308</SHAB></Groupe><Groupe><SHAB>1,5e308</SHAB></Groupe>\
        <Groupe><SHAB>12</SHAB></Groupe></Groupe_Collection></Zone></Zone_Collection></Batiment>\
        </Batiment_Collection></Entree_Projet></RSET>";
    let s = study(xml.as_bytes());
    assert_eq!(s.buildings.len(), 1);
    assert_eq!(s.buildings[0].shab, None);
    assert!(
        s.warnings.iter().any(|w| w == "Bâtiment 1 : valeur illisible « 1,5e308 » pour SHAB (ligne 1), laissée vide."),
        "{:?}",
        s.warnings
    );
}

/// A small deterministic generator (xorshift64*), to damage the samples reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn damaged_files_never_panic() {
    let snippets: [&[u8]; 12] = [
        b"<",
        b">",
        b"&",
        b"</x>",
        b"<!DOCTYPE x>",
        b"&lol;",
        b"\"",
        "\u{feff}".as_bytes(),
        b"<![CDATA[",
        b"-->",
        b"<a xsi:nil=\"true\"/>",
        b"\xff\xfe",
    ];
    let mut inputs: Vec<Vec<u8>> =
        [RT2012, RE2020_COLLECTIVE, RE2020_HOUSE, DPE_HOUSE, DPE_COLLECTIVE].map(sample).to_vec();
    inputs.push(EC_RSEE.as_bytes().to_vec());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for original in &inputs {
        for _ in 0..150 {
            let mut bytes = original.clone();
            let rounds = 1 + rng.below(4);
            for _ in 0..rounds {
                let at = rng.below(bytes.len());
                match rng.below(5) {
                    0 => bytes.truncate(at),
                    1 => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = rng.next() as u8;
                        }
                    }
                    2 => {
                        let snippet = snippets[rng.below(snippets.len())];
                        bytes.splice(at..at, snippet.iter().copied());
                    }
                    3 => {
                        let end = (at + rng.below(200)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                    _ => {
                        let end = (at + rng.below(500)).min(bytes.len());
                        let copy = bytes[at..end].to_vec();
                        bytes.splice(at..at, copy);
                    }
                }
            }
            if let Ok(s) = parse(&bytes) {
                assert!(s.buildings.windows(2).all(|w| w[0].index < w[1].index));
                assert!(s.warnings.len() <= 51);
                serde_json::to_string(&s).unwrap();
            }
        }
    }
}
