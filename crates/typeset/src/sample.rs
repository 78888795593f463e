//! A realistic one-page invoice of a heating and thermal-study firm, for examples, tests and the
//! benchmark. `bench/peers/peers.py` (`SAMPLE_INVOICE`) has the same content for reportlab: keep
//! them in step.

use chrono::NaiveDate;

use crate::{Address, Buyer, Invoice, InvoiceLine, Mentions, Quantity, Seller, VatRate};

/// The sample invoice: eight lines at three VAT rates, a chantier address and the usual mentions.
pub fn sample_invoice() -> Invoice {
    let line = |description: &str, quantity: &str, unit: &str, unit_price_cents: i64, vat_rate: VatRate| InvoiceLine {
        description: description.to_string(),
        quantity: quantity.parse::<Quantity>().expect("sample quantity"),
        unit: unit.to_string(),
        unit_price_cents,
        vat_rate,
    };
    Invoice {
        number: "F2026-00042".to_string(),
        issue_date: NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"),
        due_date: NaiveDate::from_ymd_opt(2026, 12, 23).expect("date"),
        seller: Seller {
            legal_name: "Atlantique Thermique".to_string(),
            legal_form: Some("SAS".to_string()),
            share_capital_cents: Some(5_000_000),
            address: Address {
                lines: vec!["12 rue des Forges".to_string(), "ZA de la Chantrerie".to_string()],
                postcode: "44300".to_string(),
                city: "Nantes".to_string(),
                country: None,
            },
            siren: "852147963".to_string(),
            siret: "85214796300027".to_string(),
            vat_number: Some("FR32852147963".to_string()),
            registration: Some("RCS Nantes".to_string()),
            phone: Some("02 40 12 34 56".to_string()),
            email: Some("facturation@atlantique-thermique.fr".to_string()),
            iban: Some("FR76 3000 4000 0312 3456 7890 143".to_string()),
            bic: Some("BNPAFRPPXXX".to_string()),
            insurance: Some("SMABTP, contrat n° 123456789, travaux réalisés en France métropolitaine.".to_string()),
        },
        buyer: Buyer {
            name: "SCI Les Hauts de Loire".to_string(),
            address: Address {
                lines: vec!["Mme Claire Perrin".to_string(), "8 boulevard Guist'hau".to_string()],
                postcode: "44000".to_string(),
                city: "Nantes".to_string(),
                country: None,
            },
            siren: Some("501234567".to_string()),
            vat_number: Some("FR61501234567".to_string()),
            reference: Some("C00217".to_string()),
        },
        subject: Some("Remplacement de chaudière par une pompe à chaleur — maison Perrin".to_string()),
        delivery_address: Some(Address {
            lines: vec!["Chantier Perrin".to_string(), "27 rue des Lilas".to_string()],
            postcode: "44240".to_string(),
            city: "La Chapelle-sur-Erdre".to_string(),
            country: None,
        }),
        lines: vec![
            line(
                "Étude thermique réglementaire RE2020\nMaison individuelle, 1 bâtiment",
                "1",
                "forfait",
                85_000,
                VatRate::STANDARD,
            ),
            line("Test d'étanchéité à l'air en fin de chantier", "1", "u", 42_000, VatRate::STANDARD),
            line(
                "Pompe à chaleur air/eau 8 kW\nFourniture, unité extérieure et module hydraulique",
                "1",
                "u",
                689_000,
                VatRate::REDUCED,
            ),
            line("Pose et mise en service de la pompe à chaleur", "12", "h", 5_800, VatRate::REDUCED),
            line("Calorifugeage du réseau de chauffage", "18,5", "m", 1_420, VatRate::INTERMEDIATE),
            line("Radiateurs basse température, fourniture et pose", "6", "u", 31_250, VatRate::INTERMEDIATE),
            line("Dépose et évacuation de l'ancienne chaudière fioul", "1", "forfait", 28_000, VatRate::INTERMEDIATE),
            line("Déplacements", "3", "u", 4_500, VatRate::STANDARD),
        ],
        payment_terms: "30 jours à compter de la date de facture, par virement".to_string(),
        mentions: Mentions::default(),
    }
}
