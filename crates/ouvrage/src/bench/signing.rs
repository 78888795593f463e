//! Sealing latency: a 10-page PDF signed electronically (drawn signature stamped on the last
//! page, evidence page, PAdES signature with the firm's ECDSA certificate), as the signature
//! page does it, without the database or HTTP around it.

use std::time::Instant;

use ouvrage_pdfsign::{Anchor, Evidence, SealInput, SigningIdentity, Stamp, StampPage};

pub const PAGES: u32 = 10;
pub const RUNS: usize = 200;

#[derive(Clone, Debug, serde::Serialize)]
pub struct SealBench {
    pub pages: u32,
    pub runs: usize,
    pub input_bytes: usize,
    pub output_bytes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn bench_seal(runs: usize) -> anyhow::Result<SealBench> {
    let identity = SigningIdentity::generate("Diagnostics Bench Atlantique", "Diagnostics Bench Atlantique")?;
    let original = ouvrage_pdfsign::sample_pdf(PAGES, "Procès-verbal de réception");
    let png = ouvrage_pdfsign::sample_signature_png(600, 200);
    let mut times = Vec::with_capacity(runs);
    let mut output_bytes = 0;
    for n in 0..runs.max(1) {
        let started = Instant::now();
        let input = SealInput {
            original: &original,
            stamp: Some(Stamp {
                page: StampPage::Last,
                anchor: Anchor::BottomRight,
                png: &png,
                caption: format!("Signé par Jean Dupont le 23/11/2026 à 14:{:02}", n % 60),
            }),
            evidence: Evidence {
                title: "Attestation de signature électronique".into(),
                lines: vec![
                    ("Signataire".into(), "Jean Dupont (jean.dupont@exemple.fr)".into()),
                    ("Entreprise".into(), "Maisons Bench".into()),
                    ("Date et heure".into(), "23/11/2026 14:05:09 (heure de Paris)".into()),
                    ("Adresse IP".into(), "203.0.113.7".into()),
                    ("Navigateur".into(), "Mozilla/5.0 (bench)".into()),
                    ("SHA-256 du document d'origine".into(), "0".repeat(64)),
                ],
            },
            reason: "Signature du justificatif".into(),
            location: "Espace client".into(),
            signer_name: "Jean Dupont".into(),
            signing_time_unix: 1_795_000_000 + n as i64,
        };
        let sealed = ouvrage_pdfsign::seal(&input, &identity)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        output_bytes = sealed.len();
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    Ok(SealBench {
        pages: PAGES,
        runs: times.len(),
        input_bytes: original.len(),
        output_bytes,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: *times.last().unwrap_or(&0.0),
    })
}
