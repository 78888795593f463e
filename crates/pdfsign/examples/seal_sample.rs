//! Seals a sample PDF (or the file given as first argument) and writes it to the second
//! argument, printing how long sealing took: a quick manual check, not a test
//! (`cargo run --release -p ouvrage-pdfsign --example seal_sample`).

use std::time::Instant;

use ouvrage_pdfsign::{Anchor, Evidence, SealInput, SigningIdentity, Stamp, StampPage, sample_pdf, seal};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let original = match args.get(1).filter(|a| a.as_str() != "-") {
        Some(path) => std::fs::read(path).expect("read input"),
        None => sample_pdf(10, "Devis n° 2026-001"),
    };
    let output = args.get(2).cloned().unwrap_or_else(|| "/tmp/sealed.pdf".to_string());
    let identity = SigningIdentity::generate("Sceau électronique", "Bâtiments Dupont & Fils").expect("identity");
    let png = signature_png();
    let input = SealInput {
        original: &original,
        stamp: Some(Stamp {
            page: StampPage::Last,
            anchor: Anchor::BottomRight,
            png: &png,
            caption: "Signé par Jean Dupont le 23/11/2026 à 14:05".to_string(),
        }),
        evidence: Evidence {
            title: "Attestation de signature électronique".to_string(),
            lines: vec![
                ("Signataire".to_string(), "Jean Dupont (jean.dupont@example.fr)".to_string()),
                ("Document".to_string(), "Devis n° 2026-001 – « Rénovation façade »".to_string()),
                ("Horodatage".to_string(), "23/11/2026 à 14:05:09 (heure de Paris)".to_string()),
            ],
        },
        reason: "Signature électronique du client".to_string(),
        location: "Lyon".to_string(),
        signer_name: "Jean Dupont".to_string(),
        signing_time_unix: 1_795_442_709,
    };
    let mut times = Vec::new();
    let mut sealed = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        sealed = seal(&input, &identity).expect("seal");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let first = times[0];
    times.sort_by(f64::total_cmp);
    std::fs::write(&output, &sealed).expect("write output");
    println!(
        "sealed {} bytes -> {} bytes: first {first:.2} ms, median {:.2} ms, worst {:.2} ms (20 runs): {output}",
        original.len(),
        sealed.len(),
        times[times.len() / 2],
        times[times.len() - 1]
    );
}

/// A 300×100 RGBA PNG with a dark diagonal stroke on a transparent background.
fn signature_png() -> Vec<u8> {
    let (width, height) = (300u32, 100u32);
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    for x in 0..width {
        let y = (x * height / width).min(height - 1);
        for dy in 0..4 {
            let yy = (y + dy).min(height - 1);
            let at = ((yy * width + x) * 4) as usize;
            pixels[at..at + 4].copy_from_slice(&[20, 30, 120, 255]);
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().expect("header").write_image_data(&pixels).expect("data");
    png
}
