//! Typesets business documents to PDF/A-3b with [typst] used as a library: today the French
//! invoice ([`Invoice`], [`Renderer::invoice_pdf`]).
//!
//! The crate knows nothing of the application. A [`Renderer`] holds what every document
//! shares — typst's standard library, the parsed fonts, the templates — so that a batch of
//! invoices pays for them once; it is cheap to clone and can be shared between threads.
//!
//! # Output
//!
//! PDF/A-3b (ISO 19005-3, the archival standard Factur-X builds on): XMP metadata with
//! `pdfaid:part=3`, an sRGB output intent, every font embedded (subset). The fonts are those
//! bundled by `typst-assets` (Libertinus Serif for the text, SIL Open Font License; New Computer
//! Modern and DejaVu Sans Mono as fallbacks), compiled into the binary: rendering never reads
//! the file system nor depends on the fonts installed.
//! Output is reproducible: the same invoice gives the same bytes (the document date is the
//! issue date, never the clock).
//!
//! # User text never becomes markup
//!
//! The template is fixed. The invoice reaches it as a JSON file of the in-memory world
//! (`/invoice.json`), read with typst's `json()` and printed as strings: a buyer named
//! `#import "x": *` or `]` or `\` is printed as typed, never evaluated. The world has no other
//! file, no package and no network access. A character that no bundled font can draw (an
//! emoji, a CJK name) is printed as `□`: PDF/A forbids the blank glyph typst would draw instead.
//!
//! # Amounts
//!
//! Amounts are cents in `i64`; quantities are thousandths ([`Quantity`]); VAT rates are basis
//! points ([`VatRate`]). Line amounts are rounded to the cent, then VAT is computed once per
//! rate on the sum of that rate's lines ([`Invoice::totals`]).

mod invoice;
mod sample;
mod world;

use std::sync::Arc;

use typst::diag::SourceDiagnostic;
use typst::foundations::Smart;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards};

pub use invoice::{
    Address, Buyer, Invoice, InvoiceLine, Mentions, OperationCategory, Quantity, Seller, Totals, VatRate, VatSubtotal,
    format_euros, fr_date,
};
pub use sample::sample_invoice;

/// How many renders an unused entry of typst's memoization cache survives. The cache is global
/// and would otherwise grow with every document of a long-running process; a few renders' worth
/// keeps what the next invoice reuses (the template's parse, the fonts' shaping tables).
const CACHE_MAX_AGE: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("La facture n'a aucune ligne.")]
    NoLines,
    #[error("La date d'échéance ({due}) précède la date de facture ({issue}).")]
    DueBeforeIssue { issue: String, due: String },
    #[error("Montant trop grand pour être facturé.")]
    AmountTooLarge,
    #[error("Quantité illisible : « {0} » (exemple : 1,5).")]
    InvalidQuantity(String),
    /// The template failed or the PDF could not be written: a bug of this crate, not of the input.
    #[error("Mise en page du document impossible : {0}")]
    Typeset(String),
}

/// Renders documents; build it once and reuse it (it holds the parsed fonts and library).
#[derive(Clone)]
pub struct Renderer {
    shared: Arc<world::Shared>,
}

impl Default for Renderer {
    fn default() -> Renderer {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer { shared: Arc::new(world::Shared::new()) }
    }

    /// The invoice as a one-page (or more, for long invoices) PDF/A-3b.
    pub fn invoice_pdf(&self, invoice: &Invoice) -> Result<Vec<u8>, Error> {
        let mut data = invoice.template_data()?;
        make_printable(&self.shared, &mut data);
        let data = serde_json::to_vec(&data).map_err(|e| Error::Typeset(e.to_string()))?;
        let world = self.shared.invoice_world(data);
        let compiled = typst::compile::<PagedDocument>(&world).output;
        let result = compiled.map_err(diagnostics).and_then(|document| {
            let options = PdfOptions {
                // A stable document identifier: re-rendering an invoice gives the same file.
                ident: Smart::Custom(format!("invoice {}", invoice.number)),
                standards: pdf_a_3b(),
                ..PdfOptions::default()
            };
            typst_pdf::pdf(&document, &options).map_err(diagnostics)
        });
        typst::comemo::evict(CACHE_MAX_AGE);
        result
    }
}

fn make_printable(shared: &world::Shared, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let Some(printable) = shared.printable(text) {
                *text = printable;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| make_printable(shared, item)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|field| make_printable(shared, field)),
        _ => {}
    }
}

fn pdf_a_3b() -> PdfStandards {
    PdfStandards::new(&[PdfStandard::A_3b]).expect("PDF/A-3b is a valid standard on its own")
}

fn diagnostics(errors: impl IntoIterator<Item = SourceDiagnostic>) -> Error {
    let messages: Vec<String> = errors.into_iter().map(|d| d.message.to_string()).collect();
    Error::Typeset(messages.join("; "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_renderer_can_serve_every_request_thread() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<super::Renderer>();
    }
}
