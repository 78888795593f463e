//! The invoice as data, its totals in exact cents, and the French formatting of its values.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

use crate::Error;

/// A quantity in thousandths of its unit, so that `1,5 h` or `18,25 m²` stay exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    pub const fn from_milli(milli: i64) -> Quantity {
        Quantity(milli)
    }

    pub const fn whole(units: i64) -> Quantity {
        Quantity(units * 1000)
    }

    pub const fn milli(self) -> i64 {
        self.0
    }
}

impl FromStr for Quantity {
    type Err = Error;

    /// Reads `3`, `1,5`, `1.5`, `-2` or `12,125`; at most three decimals.
    fn from_str(text: &str) -> Result<Quantity, Error> {
        let invalid = || Error::InvalidQuantity(text.to_string());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = match digits.split_once([',', '.']) {
            Some((whole, fraction)) => (whole, fraction),
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || fraction.len() > 3 || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let fraction: i64 =
            if fraction.is_empty() { 0 } else { format!("{fraction:0<3}").parse().map_err(|_| invalid())? };
        let milli = whole.checked_mul(1000).and_then(|m| m.checked_add(fraction)).ok_or_else(invalid)?;
        Ok(Quantity(if negative { -milli } else { milli }))
    }
}

impl fmt::Display for Quantity {
    /// French style: `1,5`, `12`, `1 250`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let fraction = format!("{:03}", abs % 1000);
        let fraction = fraction.trim_end_matches('0');
        let separator = if fraction.is_empty() { "" } else { "," };
        write!(f, "{sign}{}{separator}{fraction}", group_thousands(abs / 1000))
    }
}

/// A VAT rate in hundredths of a percent (basis points): 2000 is 20 %, 550 is 5,5 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VatRate(u32);

impl VatRate {
    /// Taux normal.
    pub const STANDARD: VatRate = VatRate(2000);
    /// Taux intermédiaire (renovation work on dwellings over two years old).
    pub const INTERMEDIATE: VatRate = VatRate(1000);
    /// Taux réduit (energy-saving renovation work).
    pub const REDUCED: VatRate = VatRate(550);
    pub const ZERO: VatRate = VatRate(0);

    pub const fn from_basis_points(basis_points: u32) -> VatRate {
        VatRate(basis_points)
    }

    pub const fn basis_points(self) -> u32 {
        self.0
    }
}

impl fmt::Display for VatRate {
    /// French style: `20 %`, `5,5 %`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fraction = format!("{:02}", self.0 % 100);
        let fraction = fraction.trim_end_matches('0');
        let separator = if fraction.is_empty() { "" } else { "," };
        write!(f, "{}{separator}{fraction}\u{a0}%", self.0 / 100)
    }
}

/// A postal address: street lines, then postcode and city.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    pub lines: Vec<String>,
    pub postcode: String,
    pub city: String,
    /// Printed only when set (foreign addresses).
    pub country: Option<String>,
}

impl Address {
    fn printed_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.lines.iter().map(|l| clean(l)).filter(|l| !l.is_empty()).collect();
        let city = clean(&format!("{} {}", self.postcode.trim(), self.city.trim()));
        if !city.is_empty() {
            lines.push(city);
        }
        if let Some(country) = self.country.as_deref().map(clean).filter(|c| !c.is_empty()) {
            lines.push(country);
        }
        lines
    }
}

/// The firm that issues the invoice, with the identifiers French law requires on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seller {
    pub legal_name: String,
    /// `SAS`, `SARL`, `EURL`, `EI`…
    pub legal_form: Option<String>,
    /// Capital social, printed `au capital de 50 000 €`.
    pub share_capital_cents: Option<i64>,
    pub address: Address,
    /// 9 digits; printed grouped `123 456 789`.
    pub siren: String,
    /// 14 digits of the establishment that invoices.
    pub siret: String,
    /// Numéro de TVA intracommunautaire.
    pub vat_number: Option<String>,
    /// The register and its city, the SIREN is appended: `RCS Nantes`, `RM 44`.
    pub registration: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    /// Assurance décennale (insurer, policy, coverage), mandatory on building-work invoices.
    pub insurance: Option<String>,
}

/// The customer invoiced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Buyer {
    pub name: String,
    pub address: Address,
    /// Mandatory for business customers from September 2026.
    pub siren: Option<String>,
    pub vat_number: Option<String>,
    /// The firm's customer code.
    pub reference: Option<String>,
}

/// One invoiced line: its amount is quantity × unit price, rounded to the cent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceLine {
    /// The first line is the designation; further lines (after `\n`) are printed as details.
    pub description: String,
    pub quantity: Quantity,
    /// `u`, `h`, `m²`, `forfait`…
    pub unit: String,
    /// Prix unitaire hors taxes, in cents.
    pub unit_price_cents: i64,
    pub vat_rate: VatRate,
}

/// Catégorie de l'opération, a mention required from September 2026.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationCategory {
    Goods,
    Services,
    Mixed,
}

impl OperationCategory {
    fn label(self) -> &'static str {
        match self {
            OperationCategory::Goods => "livraison de biens",
            OperationCategory::Services => "prestation de services",
            OperationCategory::Mixed => "mixte (livraison de biens et prestation de services)",
        }
    }
}

/// The legal mentions printed under the totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mentions {
    /// Taux des pénalités de retard (Code de commerce L441-10).
    pub late_payment_penalties: String,
    /// Prints the 40 € indemnité forfaitaire pour frais de recouvrement (business customers).
    pub recovery_indemnity: bool,
    /// Conditions d'escompte, or that there is none.
    pub early_payment_discount: String,
    pub operation_category: Option<OperationCategory>,
    /// Option pour le paiement de la TVA d'après les débits.
    pub vat_on_debits: bool,
    /// Why VAT is not charged, e.g. `Autoliquidation (art. 283-2 nonies du CGI)`.
    pub vat_exemption: Option<String>,
    pub notes: Vec<String>,
}

impl Default for Mentions {
    /// The usual mentions of an invoice between businesses.
    fn default() -> Mentions {
        Mentions {
            late_payment_penalties: "En cas de retard de paiement, pénalités au taux directeur de la Banque centrale \
                                     européenne majoré de 10 points, exigibles dès le lendemain de l'échéance \
                                     (art. L441-10 du Code de commerce)."
                .to_string(),
            recovery_indemnity: true,
            early_payment_discount: "Pas d'escompte pour paiement anticipé.".to_string(),
            operation_category: Some(OperationCategory::Services),
            vat_on_debits: false,
            vat_exemption: None,
            notes: Vec::new(),
        }
    }
}

/// A French invoice (facture).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub seller: Seller,
    pub buyer: Buyer,
    /// Objet: what the invoice is for.
    pub subject: Option<String>,
    /// Adresse de livraison or of the chantier, when it differs from the buyer's.
    pub delivery_address: Option<Address>,
    pub lines: Vec<InvoiceLine>,
    /// `Paiement à 30 jours par virement`.
    pub payment_terms: String,
    pub mentions: Mentions,
}

/// The VAT owed at one rate: the rate applied once to the sum of its lines, rounded to the cent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VatSubtotal {
    pub rate: VatRate,
    pub base_cents: i64,
    pub vat_cents: i64,
}

/// An invoice's amounts, in cents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Each line's amount before tax, in the order of the lines.
    pub line_cents: Vec<i64>,
    /// One entry per rate, highest rate first.
    pub vat: Vec<VatSubtotal>,
    /// Total HT.
    pub excl_tax_cents: i64,
    /// Total TVA.
    pub vat_cents: i64,
    /// Total TTC, the amount to pay.
    pub incl_tax_cents: i64,
}

impl Invoice {
    /// Computes the amounts: each line rounded to the cent, then VAT per rate on the sum of that
    /// rate's lines (rounded half away from zero), as French invoices and EN 16931 do.
    pub fn totals(&self) -> Result<Totals, Error> {
        if self.lines.is_empty() {
            return Err(Error::NoLines);
        }
        let mut line_cents = Vec::with_capacity(self.lines.len());
        let mut vat: Vec<VatSubtotal> = Vec::new();
        for line in &self.lines {
            let amount = to_cents(div_round(i128::from(line.quantity.0) * i128::from(line.unit_price_cents), 1000))?;
            line_cents.push(amount);
            match vat.iter_mut().find(|v| v.rate == line.vat_rate) {
                Some(subtotal) => subtotal.base_cents = checked_add(subtotal.base_cents, amount)?,
                None => vat.push(VatSubtotal { rate: line.vat_rate, base_cents: amount, vat_cents: 0 }),
            }
        }
        vat.sort_by_key(|v| std::cmp::Reverse(v.rate));
        for subtotal in &mut vat {
            let owed = i128::from(subtotal.base_cents) * i128::from(subtotal.rate.0);
            subtotal.vat_cents = to_cents(div_round(owed, 10_000))?;
        }
        let excl_tax_cents = line_cents.iter().try_fold(0, |sum, &c| checked_add(sum, c))?;
        let vat_cents = vat.iter().try_fold(0, |sum, v| checked_add(sum, v.vat_cents))?;
        let incl_tax_cents = checked_add(excl_tax_cents, vat_cents)?;
        Ok(Totals { line_cents, vat, excl_tax_cents, vat_cents, incl_tax_cents })
    }

    /// Checks the invoice and turns it into the template's data: every value already formatted,
    /// every text a JSON string that the template prints as text, never as markup.
    pub(crate) fn template_data(&self) -> Result<Value, Error> {
        if self.due_date < self.issue_date {
            return Err(Error::DueBeforeIssue { issue: fr_date(self.issue_date), due: fr_date(self.due_date) });
        }
        let totals = self.totals()?;
        let seller = &self.seller;
        let buyer = &self.buyer;

        let mut contact = Vec::new();
        if let Some(phone) = non_empty(&seller.phone) {
            contact.push(format!("Tél. {phone}"));
        }
        if let Some(email) = non_empty(&seller.email) {
            contact.push(email);
        }

        let mut buyer_ids = Vec::new();
        if let Some(siren) = non_empty(&buyer.siren) {
            buyer_ids.push(format!("SIREN {}", group_siren(&siren)));
        }
        if let Some(vat_number) = non_empty(&buyer.vat_number) {
            buyer_ids.push(format!("N° TVA {vat_number}"));
        }

        let lines: Vec<Value> = self
            .lines
            .iter()
            .zip(&totals.line_cents)
            .map(|(line, &amount)| {
                let mut description = line.description.lines().map(clean).filter(|l| !l.is_empty());
                let designation = description.next().unwrap_or_default();
                json!({
                    "designation": designation,
                    "details": description.collect::<Vec<_>>(),
                    "quantity": line.quantity.to_string(),
                    "unit": clean(&line.unit),
                    "unit_price": format_euros(line.unit_price_cents),
                    "vat": line.vat_rate.to_string(),
                    "amount": format_euros(amount),
                })
            })
            .collect();
        let vat: Vec<Value> = totals
            .vat
            .iter()
            .map(|v| {
                json!({
                    "rate": v.rate.to_string(),
                    "base": format_euros(v.base_cents),
                    "amount": format_euros(v.vat_cents),
                })
            })
            .collect();

        let mut payment = vec![
            format!("Conditions de paiement : {}", clean(&self.payment_terms)),
            format!("Date d'échéance : {}", fr_date(self.due_date)),
        ];
        match (non_empty(&seller.iban), non_empty(&seller.bic)) {
            (Some(iban), Some(bic)) => payment.push(format!("IBAN {} · BIC {bic}", group_iban(&iban))),
            (Some(iban), None) => payment.push(format!("IBAN {}", group_iban(&iban))),
            _ => {}
        }

        let m = &self.mentions;
        let mut mentions = Vec::new();
        if let Some(exemption) = non_empty(&m.vat_exemption) {
            mentions.push(exemption);
        }
        if let Some(category) = m.operation_category {
            mentions.push(format!("Catégorie de l'opération : {}.", category.label()));
        }
        if m.vat_on_debits {
            mentions.push("Option pour le paiement de la taxe d'après les débits.".to_string());
        }
        mentions.push(clean(&m.late_payment_penalties));
        if m.recovery_indemnity {
            mentions.push(
                "Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : 40\u{a0}€ \
                 (art. L441-10 et D441-5 du Code de commerce)."
                    .to_string(),
            );
        }
        mentions.push(clean(&m.early_payment_discount));
        if let Some(insurance) = non_empty(&seller.insurance) {
            mentions.push(format!("Assurance décennale : {insurance}"));
        }
        mentions.extend(m.notes.iter().map(|n| clean(n)));
        mentions.retain(|m| !m.is_empty());

        Ok(json!({
            "title": "Facture",
            "number": clean(&self.number),
            "issue_date": fr_date(self.issue_date),
            "due_date": fr_date(self.due_date),
            "date": { "year": self.issue_date.year(), "month": self.issue_date.month(), "day": self.issue_date.day() },
            "seller": {
                "name": clean(&seller.legal_name),
                "address": seller.address.printed_lines(),
                "contact": contact,
                "legal": seller_legal_line(seller),
            },
            "buyer": {
                "name": clean(&buyer.name),
                "address": buyer.address.printed_lines(),
                "ids": buyer_ids,
                "reference": non_empty(&buyer.reference),
            },
            "subject": non_empty(&self.subject),
            "delivery": self.delivery_address.as_ref().map(Address::printed_lines).filter(|l| !l.is_empty()),
            "lines": lines,
            "vat": vat,
            "totals": {
                "excl_tax": format_euros(totals.excl_tax_cents),
                "vat": format_euros(totals.vat_cents),
                "incl_tax": format_euros(totals.incl_tax_cents),
            },
            "payment": payment,
            "mentions": mentions,
        }))
    }
}

/// The footer line of the seller's identity: `Atlantique Thermique SAS au capital de 50 000 € ·
/// RCS Nantes 123 456 789 · SIRET 123 456 789 00012 · TVA FR12 123456789`.
fn seller_legal_line(seller: &Seller) -> String {
    let mut identity = clean(&seller.legal_name);
    if let Some(form) = non_empty(&seller.legal_form) {
        identity = format!("{identity} {form}");
    }
    if let Some(capital) = seller.share_capital_cents {
        let capital = if capital % 100 == 0 {
            format!("{}\u{a0}€", group_thousands(capital.unsigned_abs() / 100))
        } else {
            format_euros(capital)
        };
        identity = format!("{identity} au capital de {capital}");
    }
    let mut parts = vec![identity];
    let siren = group_siren(&seller.siren);
    match non_empty(&seller.registration) {
        Some(registration) => parts.push(format!("{registration} {siren}")),
        None if !siren.is_empty() => parts.push(format!("SIREN {siren}")),
        None => {}
    }
    if !seller.siret.trim().is_empty() {
        parts.push(format!("SIRET {}", group_siren(&seller.siret)));
    }
    if let Some(vat_number) = non_empty(&seller.vat_number) {
        parts.push(format!("TVA {vat_number}"));
    }
    parts.join(" · ")
}

/// Formats cents the French way: `1 234,56 €` (narrow no-break space between thousands,
/// no-break space before the sign).
pub fn format_euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{},{:02}\u{a0}€", group_thousands(abs / 100), abs % 100)
}

/// `22/11/2026`.
pub fn fr_date(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(digit);
    }
    out
}

/// SIREN `123 456 789`, SIRET `123 456 789 00012`; anything else as typed.
fn group_siren(id: &str) -> String {
    let digits: String = id.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() != 9 && digits.len() != 14) {
        return clean(id);
    }
    let (siren, nic) = digits.split_at(9);
    let grouped = format!("{}\u{a0}{}\u{a0}{}", &siren[..3], &siren[3..6], &siren[6..]);
    if nic.is_empty() { grouped } else { format!("{grouped}\u{a0}{nic}") }
}

/// IBAN in groups of four, as printed on a RIB.
fn group_iban(iban: &str) -> String {
    let compact: Vec<char> = iban.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect();
    compact.chunks(4).map(|chunk| chunk.iter().collect::<String>()).collect::<Vec<_>>().join("\u{a0}")
}

/// A user's text made printable: control characters (tabs, stray line breaks) become spaces.
fn clean(text: &str) -> String {
    let spaced: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.trim().to_string()
}

fn non_empty(text: &Option<String>) -> Option<String> {
    text.as_deref().map(clean).filter(|t| !t.is_empty())
}

/// `n / d` rounded half away from zero (`d` > 0).
fn div_round(n: i128, d: i128) -> i128 {
    let half = d / 2;
    if n >= 0 { (n + half) / d } else { (n - half) / d }
}

fn to_cents(amount: i128) -> Result<i64, Error> {
    i64::try_from(amount).map_err(|_| Error::AmountTooLarge)
}

fn checked_add(a: i64, b: i64) -> Result<i64, Error> {
    a.checked_add(b).ok_or(Error::AmountTooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: &str, unit_price_cents: i64, rate: VatRate) -> InvoiceLine {
        InvoiceLine {
            description: "Prestation".to_string(),
            quantity: quantity.parse().unwrap(),
            unit: "u".to_string(),
            unit_price_cents,
            vat_rate: rate,
        }
    }

    fn invoice(lines: Vec<InvoiceLine>) -> Invoice {
        Invoice { lines, ..crate::sample_invoice() }
    }

    #[test]
    fn line_amounts_round_to_the_cent_half_away_from_zero() {
        // 1,5 × 0,33 € = 0,495 € → 0,50 €, and -0,495 € → -0,50 €.
        let totals =
            invoice(vec![line("1,5", 33, VatRate::STANDARD), line("-1,5", 33, VatRate::STANDARD)]).totals().unwrap();
        assert_eq!(totals.line_cents, vec![50, -50]);
        assert_eq!(totals.excl_tax_cents, 0);
    }

    #[test]
    fn vat_is_rounded_once_per_rate_not_per_line() {
        // Three lines of 0,05 € at 10 %: per line 0,005 → 0,01 each (0,03); per rate 0,15 × 10 % = 0,015 → 0,02.
        let totals = invoice(vec![
            line("1", 5, VatRate::INTERMEDIATE),
            line("1", 5, VatRate::INTERMEDIATE),
            line("1", 5, VatRate::INTERMEDIATE),
        ])
        .totals()
        .unwrap();
        assert_eq!(totals.vat, vec![VatSubtotal { rate: VatRate::INTERMEDIATE, base_cents: 15, vat_cents: 2 }]);
        assert_eq!((totals.excl_tax_cents, totals.vat_cents, totals.incl_tax_cents), (15, 2, 17));
    }

    #[test]
    fn totals_group_rates_highest_first() {
        let totals = invoice(vec![
            line("18,5", 1420, VatRate::INTERMEDIATE), // 262,70
            line("1", 689_000, VatRate::REDUCED),      // 6 890,00
            line("12", 5800, VatRate::REDUCED),        // 696,00
            line("3", 4500, VatRate::STANDARD),        // 135,00
        ])
        .totals()
        .unwrap();
        assert_eq!(totals.line_cents, vec![26_270, 689_000, 69_600, 13_500]);
        assert_eq!(
            totals.vat,
            vec![
                VatSubtotal { rate: VatRate::STANDARD, base_cents: 13_500, vat_cents: 2_700 },
                VatSubtotal { rate: VatRate::INTERMEDIATE, base_cents: 26_270, vat_cents: 2_627 },
                // 7 586,00 × 5,5 % = 417,23 exactly.
                VatSubtotal { rate: VatRate::REDUCED, base_cents: 758_600, vat_cents: 41_723 },
            ]
        );
        assert_eq!(totals.excl_tax_cents, 798_370);
        assert_eq!(totals.vat_cents, 47_050);
        assert_eq!(totals.incl_tax_cents, 845_420);
    }

    #[test]
    fn the_sample_invoice_adds_up() {
        let totals = crate::sample_invoice().totals().unwrap();
        assert_eq!(totals.excl_tax_cents, totals.line_cents.iter().sum::<i64>());
        assert_eq!(totals.incl_tax_cents, totals.excl_tax_cents + totals.vat_cents);
        assert_eq!(totals.vat.iter().map(|v| v.base_cents).sum::<i64>(), totals.excl_tax_cents);
    }

    #[test]
    fn an_invoice_needs_lines_and_amounts_that_fit() {
        assert!(matches!(invoice(vec![]).totals(), Err(Error::NoLines)));
        let huge = line("1000000", i64::MAX / 10, VatRate::STANDARD);
        assert!(matches!(invoice(vec![huge]).totals(), Err(Error::AmountTooLarge)));
        let mut late = crate::sample_invoice();
        late.due_date = late.issue_date.pred_opt().unwrap();
        let message = late.template_data().unwrap_err().to_string();
        assert!(message.contains("échéance"), "{message}");
    }

    #[test]
    fn quantities_read_and_print_the_french_way() {
        assert_eq!("1,5".parse::<Quantity>().unwrap(), Quantity::from_milli(1500));
        assert_eq!("1.5".parse::<Quantity>().unwrap(), Quantity::from_milli(1500));
        assert_eq!(" 12 ".parse::<Quantity>().unwrap(), Quantity::whole(12));
        assert_eq!("-0,125".parse::<Quantity>().unwrap(), Quantity::from_milli(-125));
        for bad in ["", ",5", "1,2345", "1e3", "1 000", "abc", "99999999999999999999"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad:?}");
        }
        assert_eq!(Quantity::from_milli(1500).to_string(), "1,5");
        assert_eq!(Quantity::whole(1250).to_string(), "1\u{202f}250");
        assert_eq!(Quantity::from_milli(-125).to_string(), "-0,125");
    }

    #[test]
    fn amounts_rates_and_ids_print_the_french_way() {
        assert_eq!(format_euros(123_456), "1\u{202f}234,56\u{a0}€");
        assert_eq!(format_euros(100_000_000), "1\u{202f}000\u{202f}000,00\u{a0}€");
        assert_eq!(format_euros(-5), "-0,05\u{a0}€");
        assert_eq!(VatRate::REDUCED.to_string(), "5,5\u{a0}%");
        assert_eq!(VatRate::STANDARD.to_string(), "20\u{a0}%");
        assert_eq!(VatRate::from_basis_points(210).to_string(), "2,1\u{a0}%");
        assert_eq!(group_siren("123456789"), "123\u{a0}456\u{a0}789");
        assert_eq!(group_siren("123 456 789 00012"), "123\u{a0}456\u{a0}789\u{a0}00012");
        assert_eq!(group_siren("n/a"), "n/a");
        assert_eq!(
            group_iban("fr7630004000031234567890143"),
            "FR76\u{a0}3000\u{a0}4000\u{a0}0312\u{a0}3456\u{a0}7890\u{a0}143"
        );
        assert_eq!(fr_date(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()), "02/11/2026");
    }

    #[test]
    fn the_seller_identity_line_carries_form_capital_register_and_ids() {
        let line = seller_legal_line(&crate::sample_invoice().seller);
        assert_eq!(
            line,
            "Atlantique Thermique SAS au capital de 50\u{202f}000\u{a0}€ · RCS Nantes 852\u{a0}147\u{a0}963 · \
             SIRET 852\u{a0}147\u{a0}963\u{a0}00027 · TVA FR32852147963"
        );
    }
}
