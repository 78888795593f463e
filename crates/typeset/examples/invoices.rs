//! Renders the sample invoice N times with one renderer, as a billing run would, and prints the
//! throughput; `bench/peers/run.sh` compares it with reportlab drawing the same invoice.
//!
//!     cargo run --release -p ouvrage-typeset --example invoices -- --count 200 [--json] [--out facture.pdf]
//!
//! Each invoice of the run has its own number and one different quantity (see `nth_invoice`).
//! The first render (typst's library and fonts warming up) is reported apart and not counted.

use std::time::Instant;

use ouvrage_typeset::{Invoice, Quantity, Renderer, sample_invoice};

/// The n-th invoice of the run: the sample with its own number and hours of installation, so
/// that each is laid out anew (typst memoizes: the very same invoice again would cost only its
/// PDF export). `bench/peers/peers.py` (`nth_invoice`) varies the reportlab side the same way.
fn nth_invoice(sample: &Invoice, n: u32) -> Invoice {
    let mut invoice = sample.clone();
    invoice.number = format!("F2026-{:05}", 100 + n);
    invoice.lines[3].quantity = Quantity::whole(8 + i64::from(n % 9));
    invoice
}

fn main() {
    let mut count = 100_u32;
    let mut json = false;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--count" => count = args.next().and_then(|n| n.parse().ok()).expect("--count N"),
            "--json" => json = true,
            "--out" => out = Some(args.next().expect("--out FILE")),
            other => panic!("unknown argument {other:?}; use --count N, --json, --out FILE"),
        }
    }
    let invoice = sample_invoice();

    let started = Instant::now();
    let renderer = Renderer::new();
    let setup = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let first = renderer.invoice_pdf(&invoice).expect("render");
    let first_render = started.elapsed().as_secs_f64();
    if let Some(path) = &out {
        std::fs::write(path, &first).expect("write the PDF");
    }

    let started = Instant::now();
    let mut bytes = 0;
    for n in 0..count {
        bytes += renderer.invoice_pdf(&nth_invoice(&invoice, n)).expect("render").len();
    }
    let seconds = started.elapsed().as_secs_f64();

    if json {
        println!(
            "{{\"count\":{count},\"seconds\":{seconds},\"setup_seconds\":{setup},\"first_render_seconds\":{first_render},\"bytes\":{}}}",
            first.len()
        );
    } else {
        println!("renderer set-up        {:8.1} ms", setup * 1000.0);
        println!("first invoice          {:8.1} ms", first_render * 1000.0);
        println!("{count} invoices          {:8.2} s", seconds);
        println!("throughput             {:8.1} invoices/s", f64::from(count) / seconds);
        println!("per invoice            {:8.2} ms", seconds * 1000.0 / f64::from(count));
        println!("PDF size               {:8} bytes", bytes / count.max(1) as usize);
    }
}
