//! The services every firm starts with and what each expects from the client: the trade's
//! usual needs, which the firm then adapts in its settings.

use super::rules::{AFTER, BEFORE, DATA, DOCUMENT};
use crate::db::Tx;
use crate::domain::TenantId;
use crate::{exec_tx, on_tx};

/// One expected element: (kind, document type code or "", stage, label, hint).
type Template = (&'static str, &'static str, &'static str, &'static str, &'static str);

/// (code, label, templates). Document types are codes of `types::DEFAULTS`.
pub const DEFAULT_SERVICES: &[(&str, &str, &[Template])] = &[
    (
        "air_tightness_re2020",
        "Test d'étanchéité à l'air (RE2020)",
        &[
            (
                DOCUMENT,
                "thermal_study",
                BEFORE,
                "Étude thermique RE2020 (RSEE)",
                "Dernière version de l'étude du bureau d'études thermiques, au format XML de préférence.",
            ),
            (
                DOCUMENT,
                "plan",
                BEFORE,
                "Plans du logement (niveaux, coupes)",
                "Plans cotés avec les surfaces et les hauteurs sous plafond.",
            ),
            (
                DOCUMENT,
                "building_permit",
                BEFORE,
                "Permis de construire",
                "Arrêté de permis de construire, avec son numéro.",
            ),
            (DATA, "", BEFORE, "Surface habitable (m²)", "Telle qu'indiquée au permis de construire."),
            (
                DATA,
                "",
                BEFORE,
                "Surface des parois déperditives hors plancher bas (ATbat, m²)",
                "Indiquée dans l'étude thermique : elle sert au calcul du Q4Pa-surf.",
            ),
            (
                DATA,
                "",
                BEFORE,
                "Accès au chantier le jour du test",
                "Code du portail, personne sur place, boîte à clés…",
            ),
            (
                DOCUMENT,
                "photo",
                AFTER,
                "Photos des reprises d'étanchéité",
                "Si le test a relevé des fuites : photos après correction (traversées de réseaux, trappes, menuiseries).",
            ),
            (
                DOCUMENT,
                "supporting_document",
                AFTER,
                "Justificatif de fin de travaux signé",
                "Signé par le maître d'ouvrage, pour établir l'attestation RE2020 à l'achèvement.",
            ),
        ],
    ),
    (
        "ventilation_check",
        "Contrôle des systèmes de ventilation",
        &[
            (
                DOCUMENT,
                "thermal_study",
                BEFORE,
                "Étude thermique RE2020 (RSEE)",
                "Les débits de ventilation retenus y figurent.",
            ),
            (
                DOCUMENT,
                "plan",
                BEFORE,
                "Plan de ventilation (réseaux et bouches)",
                "Emplacement du caisson, des bouches d'extraction et des entrées d'air.",
            ),
            (
                DOCUMENT,
                "manual",
                BEFORE,
                "Notice du caisson de VMC",
                "Fiche technique du modèle posé (simple flux hygroréglable, double flux…).",
            ),
            (DATA, "", BEFORE, "Type de ventilation installée", "Par exemple : simple flux hygro B, double flux."),
            (
                DOCUMENT,
                "certificate",
                AFTER,
                "Attestation de mise en service de la VMC",
                "Remise par l'installateur à la mise en service.",
            ),
        ],
    ),
    (
        "maintenance_ventilation_heating",
        "Entretien VMC / chauffage",
        &[
            (
                DATA,
                "",
                BEFORE,
                "Marque et modèle de l'appareil",
                "Sur la plaque signalétique de la chaudière, de la pompe à chaleur ou du caisson de VMC.",
            ),
            (
                DATA,
                "",
                BEFORE,
                "Accès et contact sur place",
                "Occupant ou gardien à prévenir, code d'accès, créneaux possibles.",
            ),
            (
                DOCUMENT,
                "certificate",
                BEFORE,
                "Dernière attestation d'entretien",
                "Celle du passage précédent, s'il y en a eu un.",
            ),
            (
                DOCUMENT,
                "supporting_document",
                AFTER,
                "Bon d'intervention signé",
                "Signé par l'occupant ou le gestionnaire à la fin du passage.",
            ),
        ],
    ),
];

/// Inserts the services the tenant does not have yet (by code), each with its templates; a
/// service the firm already has, even archived or edited, is left alone.
pub async fn seed_defaults(tx: &mut Tx, tenant: TenantId) -> Result<(), sqlx::Error> {
    for (position, (code, label, templates)) in DEFAULT_SERVICES.iter().enumerate() {
        let inserted: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
            "INSERT INTO services (tenant_id, code, label, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, code) DO NOTHING RETURNING id"
        )
        .bind(tenant)
        .bind(*code)
        .bind(*label)
        .bind(position as i64)
        .fetch_optional(c)
        .await)?;
        let Some(service) = inserted else { continue };
        for (position, (kind, document_type, stage, label, hint)) in templates.iter().enumerate() {
            exec_tx!(tx, |c| sqlx::query(
                "INSERT INTO requirement_templates (tenant_id, service_id, label, kind, document_type, stage, hint,
                                                   position)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            )
            .bind(tenant)
            .bind(service)
            .bind(*label)
            .bind(*kind)
            .bind(*document_type)
            .bind(*stage)
            .bind(*hint)
            .bind(position as i64)
            .execute(c)
            .await)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::documents::types::DEFAULTS;

    #[test]
    fn default_templates_use_known_document_types() {
        for (_, _, templates) in DEFAULT_SERVICES {
            for (kind, document_type, stage, label, _) in templates.iter() {
                assert!(*stage == BEFORE || *stage == AFTER, "{label}");
                if *kind == DOCUMENT {
                    assert!(DEFAULTS.iter().any(|(c, _)| c == document_type), "{label}: {document_type}");
                } else {
                    assert_eq!(*kind, DATA);
                    assert!(document_type.is_empty(), "{label}");
                }
            }
        }
    }
}
