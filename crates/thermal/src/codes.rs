//! Code tables of the RSET/RSEE schemas (usages, energies) and their French labels.

pub(crate) const ELECTRICITY: &str = "Électricité";
const GAS: &str = "Gaz";
const FUEL_OIL: &str = "Fioul";
const COAL: &str = "Charbon";
const WOOD: &str = "Bois";
const WOOD_PELLETS: &str = "Bois granulés";
const WOOD_LOGS: &str = "Bois bûches";
const WOOD_CHIPS: &str = "Bois plaquettes";
const HEAT_NETWORK: &str = "Réseau de chaleur";
const SOLAR: &str = "Solaire";

/// Which usage list a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UsageTable {
    /// The 34 RT2012 usages (RSET `Zone/Usage`, E+C- `usage_principal`).
    Rt,
    /// The RE2020 usages (`usage_principal`, `Zone/Usage` 1 to 5 in the 2022 schema).
    Re2020,
}

/// Building type code of a usage code; `None` when the code is not in the table.
pub(crate) fn usage_code(code: u32, table: UsageTable) -> Option<&'static str> {
    let common = match code {
        1 => Some("maison_individuelle"),
        2 => Some("logement_collectif"),
        _ => None,
    };
    common.or(match table {
        UsageTable::Re2020 => match code {
            3 => Some("bureaux"),
            4 => Some("enseignement_primaire"),
            5 => Some("enseignement_secondaire"),
            _ => None,
        },
        UsageTable::Rt => match code {
            0 => Some("autre"),
            3 => Some("petite_enfance"),
            4 => Some("enseignement_primaire"),
            5 | 6 => Some("enseignement_secondaire"),
            7 => Some("enseignement_superieur"),
            8 => Some("foyer_jeunes_travailleurs"),
            10..=15 => Some("hotel"),
            16 => Some("bureaux"),
            17..=20 => Some("restauration"),
            22 => Some("commerce"),
            24 | 36 => Some("sport"),
            26 => Some("etablissement_sanitaire"),
            27 | 28 => Some("hopital"),
            29 => Some("aerogare"),
            30 => Some("cite_universitaire"),
            32 | 33 => Some("industrie"),
            34 => Some("tribunal"),
            37 | 38 => Some("restauration_scolaire"),
            _ => None,
        },
    })
}

/// French label of a building type code.
pub(crate) fn building_type_label(code: &str) -> &str {
    match code {
        "maison_individuelle" => "Maison individuelle",
        "logement_collectif" => "Logement collectif",
        "bureaux" => "Bureaux",
        "enseignement_primaire" => "Enseignement primaire",
        "enseignement_secondaire" => "Enseignement secondaire",
        "enseignement_superieur" => "Enseignement supérieur",
        "petite_enfance" => "Accueil de la petite enfance",
        "foyer_jeunes_travailleurs" => "Foyer de jeunes travailleurs",
        "hotel" => "Hôtel",
        "restauration" => "Restauration",
        "restauration_scolaire" => "Restauration scolaire",
        "commerce" => "Commerce",
        "sport" => "Établissement sportif",
        "etablissement_sanitaire" => "Établissement sanitaire avec hébergement",
        "hopital" => "Hôpital",
        "aerogare" => "Aérogare",
        "cite_universitaire" => "Cité universitaire",
        "industrie" => "Industrie",
        "tribunal" => "Tribunal",
        "mixte" => "Usages mixtes",
        "autre" => "Autre usage",
        "inconnu" => "Type inconnu",
        other => other,
    }
}

/// Which list an energy code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnergyTable {
    /// E+C- RSEnv `donnees_techniques/vecteur_energie_principal_*` (documented 1 to 9).
    Ec,
    /// RE2020 RSET `Sortie_Batiment_C/vecteur_energie_principal_*` (0 to 13, no labels in the
    /// schema; only 11 = electricity is attested).
    Re2020,
}

/// French label of an energy code; `Ok(None)` for "none", `Err(())` for an unknown code.
pub(crate) fn energy_code(code: i64, table: EnergyTable) -> Result<Option<&'static str>, ()> {
    match table {
        EnergyTable::Ec => match code {
            0 => Ok(None),
            1 => Ok(Some(ELECTRICITY)),
            2 => Ok(Some(GAS)),
            3 => Ok(Some(FUEL_OIL)),
            4 => Ok(Some(WOOD_PELLETS)),
            5 => Ok(Some(WOOD_LOGS)),
            6 => Ok(Some(WOOD_CHIPS)),
            7 => Ok(Some(HEAT_NETWORK)),
            8 => Ok(Some(COAL)),
            9 => Ok(Some(SOLAR)),
            _ => Err(()),
        },
        EnergyTable::Re2020 => match code {
            0 => Ok(None),
            11 => Ok(Some(ELECTRICITY)),
            _ => Err(()),
        },
    }
}

/// Energy of a per-energy output name token (`gaz` in `O_Cef_gaz_imp_ch_annuel`, `elec` in
/// `O_Cep_ch_elec_annuel`). The boolean is true for the wood aggregate, which duplicates the
/// detailed wood outputs when both exist.
pub(crate) fn energy_token(token: &str) -> Option<(&'static str, bool)> {
    Some(match token {
        "gaz" => (GAS, false),
        "fioul" => (FUEL_OIL, false),
        "charbon" => (COAL, false),
        "elec" => (ELECTRICITY, false),
        "reseau" | "reseau_chaleur" => (HEAT_NETWORK, false),
        "bois" => (WOOD, true),
        t if t.starts_with("boisgran") => (WOOD_PELLETS, false),
        t if t.starts_with("boisbuch") => (WOOD_LOGS, false),
        t if t.starts_with("boisplaq") => (WOOD_CHIPS, false),
        _ => return None,
    })
}

/// Which end use a per-energy output is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndUse {
    Heating,
    HotWater,
}

/// Recognises the per-energy outputs of `Sortie_Batiment_C`:
/// imported final energy `O_Cef_<energy>_imp_<ch|ecs>_annuel` (`primary == false`) and primary
/// energy `O_Cep_<ch|ecs>_<energy>_annuel` (RT2012, `primary == true`).
pub(crate) fn per_energy_output(name: &str) -> Option<(EndUse, &'static str, bool, bool)> {
    if let Some(rest) = name.strip_prefix("O_Cef_") {
        let (token, end_use) = if let Some(t) = rest.strip_suffix("_imp_ch_annuel") {
            (t, EndUse::Heating)
        } else if let Some(t) = rest.strip_suffix("_imp_ecs_annuel") {
            (t, EndUse::HotWater)
        } else {
            return None;
        };
        let (label, aggregate) = energy_token(token)?;
        return Some((end_use, label, aggregate, false));
    }
    if let Some(rest) = name.strip_prefix("O_Cep_") {
        let rest = rest.strip_suffix("_annuel")?;
        let (end_use, token) = if let Some(t) = rest.strip_prefix("ch_") {
            (EndUse::Heating, t)
        } else if let Some(t) = rest.strip_prefix("ecs_") {
            (EndUse::HotWater, t)
        } else {
            return None;
        };
        let (label, aggregate) = energy_token(token)?;
        return Some((end_use, label, aggregate, true));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_tables_differ_beyond_housing() {
        assert_eq!(usage_code(1, UsageTable::Rt), Some("maison_individuelle"));
        assert_eq!(usage_code(2, UsageTable::Re2020), Some("logement_collectif"));
        assert_eq!(usage_code(3, UsageTable::Re2020), Some("bureaux"));
        assert_eq!(usage_code(3, UsageTable::Rt), Some("petite_enfance"));
        assert_eq!(usage_code(16, UsageTable::Rt), Some("bureaux"));
        assert_eq!(usage_code(16, UsageTable::Re2020), None);
        assert_eq!(usage_code(9, UsageTable::Rt), None);
    }

    #[test]
    fn energy_codes() {
        assert_eq!(energy_code(1, EnergyTable::Ec), Ok(Some(ELECTRICITY)));
        assert_eq!(energy_code(7, EnergyTable::Ec), Ok(Some("Réseau de chaleur")));
        assert_eq!(energy_code(11, EnergyTable::Re2020), Ok(Some(ELECTRICITY)));
        assert_eq!(energy_code(0, EnergyTable::Re2020), Ok(None));
        assert_eq!(energy_code(4, EnergyTable::Re2020), Err(()));
    }

    #[test]
    fn per_energy_outputs() {
        assert_eq!(per_energy_output("O_Cef_gaz_imp_ch_annuel"), Some((EndUse::Heating, "Gaz", false, false)));
        assert_eq!(
            per_energy_output("O_Cef_boisgranpoel_imp_ecs_annuel"),
            Some((EndUse::HotWater, "Bois granulés", false, false))
        );
        assert_eq!(per_energy_output("O_Cef_bois_imp_ch_annuel"), Some((EndUse::Heating, "Bois", true, false)));
        assert_eq!(
            per_energy_output("O_Cep_ecs_reseau_chaleur_annuel"),
            Some((EndUse::HotWater, "Réseau de chaleur", false, true))
        );
        assert_eq!(per_energy_output("O_Cep_ch_elec_annuel"), Some((EndUse::Heating, ELECTRICITY, false, true)));
        assert_eq!(per_energy_output("O_Cef_imp_ch_annuel"), None);
        assert_eq!(per_energy_output("O_Cep_ch_annuel"), None);
        assert_eq!(per_energy_output("O_Cep_fr_gaz_annuel"), None);
        assert_eq!(per_energy_output("O_Cef_elec_imp_fr_annuel"), None);
    }
}
