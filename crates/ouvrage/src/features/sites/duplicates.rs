//! Finding the same chantier twice. Before a site is created (form, thermal study, API), the
//! firm's sites within the actor's scope are searched for one that is the same building:
//! - the same building-permit number (spaces and punctuation ignored);
//! - or the same address and postcode, compared on a folded key where "r." and "rue",
//!   "av" and "avenue"… are the same word;
//! - or the same owner (maître d'ouvrage, civilities and legal forms ignored) and a close name.
//!
//! The keys are stored on each site (columns `permit_key`, `address_key`, `owner_key`) and
//! indexed, so the check is three index lookups whatever the number of sites.

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::{ClientId, SiteId};
use crate::{exec_tx, on_db, on_tx};

use super::model::{SiteData, SiteKind};
use super::store::Scope;

/// How close two folded names must be (Dice coefficient of their letter pairs) to count as
/// the same chantier when the owner is the same. 0.6 takes "Maison Perrin" and "Maison Perrin
/// lot 12", not "Maison Perrin" and "Maison Martin".
pub const CLOSE_NAME: f64 = 0.6;

/// The permit number without spaces or punctuation, upper case; empty when too short to mean
/// anything ("EN COURS", "NC"…).
pub fn permit_key(permit: &str) -> String {
    let key: String = permit.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if key.len() < 6 || key == "ENCOURS" || key.chars().all(|c| c == '0') { String::new() } else { key }
}

/// Street words as written in full (BAN spells them out; people abbreviate).
fn street_word(w: &str) -> &str {
    match w {
        "r" => "rue",
        "av" | "ave" => "avenue",
        "bd" | "bld" | "boul" => "boulevard",
        "ch" | "chem" => "chemin",
        "all" => "allee",
        "imp" => "impasse",
        "pl" => "place",
        "rte" => "route",
        "fg" | "fbg" => "faubourg",
        "sq" => "square",
        "crs" => "cours",
        "lot" | "lots" => "lotissement",
        "res" | "resid" => "residence",
        "st" => "saint",
        "ste" => "sainte",
        "b" => "bis",
        "t" => "ter",
        other => other,
    }
}

/// The folded words of `s`, punctuation dropped (`M. et Mme` → `m`, `et`, `mme`).
fn words(s: &str) -> Vec<String> {
    search_key(&[s]).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// The folded address (number and street); empty without a street.
pub fn address_key(number: &str, street: &str) -> String {
    if words(street).is_empty() {
        return String::new();
    }
    let all = words(&format!("{number} {street}"));
    all.iter()
        .map(String::as_str)
        .filter(|w| !matches!(*w, "de" | "du" | "des" | "la" | "le" | "les" | "l" | "d"))
        .map(street_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The folded owner without civilities, conjunctions and legal forms; empty when nothing
/// distinctive is left.
pub fn owner_key(owner: &str) -> String {
    const NOISE: &[&str] = &[
        "m",
        "mme",
        "mmes",
        "mr",
        "mrs",
        "mlle",
        "monsieur",
        "madame",
        "messieurs",
        "et",
        "ou",
        "sarl",
        "sas",
        "sasu",
        "sa",
        "sci",
        "eurl",
        "snc",
        "scop",
        "societe",
        "ste",
        "cie",
        "la",
        "le",
        "les",
        "de",
        "du",
        "des",
    ];
    words(owner).into_iter().filter(|w| !NOISE.contains(&w.as_str())).collect::<Vec<_>>().join(" ")
}

/// Dice coefficient of the letter pairs of two folded names: 1.0 when equal, 0.0 when they
/// share no pair.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    fn pairs(s: &str) -> Vec<(char, char)> {
        let chars: Vec<char> = s.chars().filter(|c| *c != ' ').collect();
        chars.windows(2).map(|w| (w[0], w[1])).collect()
    }
    if a == b {
        return 1.0;
    }
    let (pa, mut pb) = (pairs(a), pairs(b));
    if pa.is_empty() || pb.is_empty() {
        return 0.0;
    }
    let total = (pa.len() + pb.len()) as f64;
    let mut shared = 0usize;
    for p in &pa {
        if let Some(i) = pb.iter().position(|q| q == p) {
            pb.swap_remove(i);
            shared += 1;
        }
    }
    2.0 * shared as f64 / total
}

/// What a new site is compared on.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub permit_key: String,
    pub postcode: String,
    pub address_key: String,
    pub owner_key: String,
    pub name_key: String,
}

impl Probe {
    pub fn of(d: &SiteData) -> Probe {
        Probe {
            permit_key: permit_key(&d.permit_number),
            postcode: d.postcode.clone(),
            address_key: address_key(&d.street_number, &d.street),
            owner_key: owner_key(&d.owner_name),
            name_key: d.name_key(),
        }
    }

    fn is_empty(&self) -> bool {
        self.permit_key.is_empty() && self.address_key.is_empty() && self.owner_key.is_empty()
    }
}

/// Why a site is taken for the same chantier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Permit,
    Address,
    OwnerAndName,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Permit => "même numéro de permis",
            Reason::Address => "même adresse",
            Reason::OwnerAndName => "même maître d'ouvrage et nom proche",
        }
    }
}

/// An existing site that looks like the one being created.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: SiteId,
    pub client_id: ClientId,
    pub client_code: String,
    pub client_name: String,
    pub name: String,
    pub street_number: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub permit_number: String,
    pub owner_name: String,
    pub archived: bool,
    pub reasons: Vec<Reason>,
}

impl Candidate {
    /// "même numéro de permis, même adresse".
    pub fn reasons_text(&self) -> String {
        self.reasons.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
    }

    pub fn address(&self) -> String {
        let line = format!("{} {}", self.street_number, self.street).trim().to_string();
        format!("{line}, {} {}", self.postcode, self.city).trim_start_matches(", ").to_string()
    }
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    id: SiteId,
    client_id: ClientId,
    client_code: String,
    client_name: String,
    name: String,
    street_number: String,
    street: String,
    postcode: String,
    city: String,
    permit_number: String,
    owner_name: String,
    archived: bool,
    permit_key: String,
    address_key: String,
    owner_key: String,
    name_key: String,
}

/// The sites within `scope` that look like `probe` (dwellings aside: they share their
/// residence's address by nature), best matches first. `exclude` leaves out a site (the one
/// being edited).
pub async fn find(
    db: &Db,
    scope: Scope,
    probe: &Probe,
    exclude: Option<SiteId>,
) -> Result<Vec<Candidate>, sqlx::Error> {
    if probe.is_empty() {
        return Ok(Vec::new());
    }
    // Each alternative only when its key is known, so that each is an index lookup. Each names
    // the tenant and its partial index's condition, so that SQLite looks the three indexes up
    // (a multi-index OR) instead of scanning the firm's sites.
    let mut alternatives = Vec::new();
    if !probe.permit_key.is_empty() {
        alternatives.push("(s.tenant_id = $1 AND s.permit_key = $3 AND s.permit_key <> '')");
    }
    if !probe.address_key.is_empty() {
        alternatives.push("(s.tenant_id = $1 AND s.postcode = $4 AND s.address_key = $5 AND s.address_key <> '')");
    }
    if !probe.owner_key.is_empty() {
        alternatives.push("(s.tenant_id = $1 AND s.owner_key = $6 AND s.owner_key <> '')");
    }
    let sql = format!(
        "SELECT s.id, s.client_id, cl.code AS client_code, cl.name AS client_name, s.name, s.street_number, s.street,
                s.postcode, s.city, s.permit_number, s.owner_name, s.archived, s.permit_key, s.address_key,
                s.owner_key, s.name_key
         FROM sites s JOIN clients cl ON cl.id = s.client_id AND cl.tenant_id = s.tenant_id
         WHERE ({}) AND ($2 IS NULL OR s.client_id = $2) AND s.kind <> $7 AND s.id <> $8
         ORDER BY s.id LIMIT 200",
        alternatives.join(" OR ")
    );
    let rows: Vec<CandidateRow> = on_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.tenant)
        .bind(scope.client)
        .bind(&probe.permit_key)
        .bind(&probe.postcode)
        .bind(&probe.address_key)
        .bind(&probe.owner_key)
        .bind(SiteKind::Dwelling.code())
        .bind(exclude.map(|s| s.0).unwrap_or(-1))
        .fetch_all(p)
        .await)?;
    let mut out: Vec<Candidate> = rows
        .into_iter()
        .filter_map(|r| {
            let mut reasons = Vec::new();
            if !probe.permit_key.is_empty() && r.permit_key == probe.permit_key {
                reasons.push(Reason::Permit);
            }
            if !probe.address_key.is_empty() && r.postcode == probe.postcode && r.address_key == probe.address_key {
                reasons.push(Reason::Address);
            }
            if !probe.owner_key.is_empty()
                && r.owner_key == probe.owner_key
                && name_similarity(&r.name_key, &probe.name_key) >= CLOSE_NAME
            {
                reasons.push(Reason::OwnerAndName);
            }
            (!reasons.is_empty()).then_some(Candidate {
                id: r.id,
                client_id: r.client_id,
                client_code: r.client_code,
                client_name: r.client_name,
                name: r.name,
                street_number: r.street_number,
                street: r.street,
                postcode: r.postcode,
                city: r.city,
                permit_number: r.permit_number,
                owner_name: r.owner_name,
                archived: r.archived,
                reasons,
            })
        })
        .collect();
    // Current sites first, then the strongest evidence (a permit number outweighs the rest).
    out.sort_by_key(|c| (c.archived, !c.reasons.contains(&Reason::Permit), std::cmp::Reverse(c.reasons.len()), c.id.0));
    out.truncate(10);
    Ok(out)
}

/// Fills the keys of sites written before they existed (migration 7).
pub async fn fill_keys(tx: &mut Tx) -> Result<(), sqlx::Error> {
    let rows: Vec<(i64, String, String, String, String)> =
        on_tx!(tx, |c| sqlx::query_as("SELECT id, street_number, street, permit_number, owner_name FROM sites")
            .fetch_all(c)
            .await)?;
    for (id, number, street, permit, owner) in rows {
        let (p, a, o) = (permit_key(&permit), address_key(&number, &street), owner_key(&owner));
        if p.is_empty() && a.is_empty() && o.is_empty() {
            continue;
        }
        exec_tx!(tx, |c| sqlx::query(
            "UPDATE sites SET permit_key = $1, address_key = $2, owner_key = $3 WHERE id = $4"
        )
        .bind(&p)
        .bind(&a)
        .bind(&o)
        .bind(id)
        .execute(c)
        .await)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_compare_without_spaces_and_placeholders_are_ignored() {
        assert_eq!(permit_key("PC 044 109 25 A0012"), "PC04410925A0012");
        assert_eq!(permit_key("pc-044.109.25.a0012"), "PC04410925A0012");
        assert_eq!(permit_key("EN COURS"), "");
        assert_eq!(permit_key("NC"), "");
        assert_eq!(permit_key("000000"), "");
    }

    #[test]
    fn addresses_compare_with_street_words_spelled_out() {
        assert_eq!(address_key("12", "r. des Lilas"), address_key("12", "Rue des lilas"));
        assert_eq!(address_key("3 bis", "av. de la Gare"), address_key("3 b", "Avenue Gare"));
        assert_ne!(address_key("12", "rue des Lilas"), address_key("14", "rue des Lilas"));
        assert_eq!(address_key("12", ""), "");
    }

    #[test]
    fn owners_compare_without_civilities_or_legal_forms() {
        assert_eq!(owner_key("M. et Mme PERRIN"), owner_key("Monsieur et Madame Perrin"));
        assert_eq!(owner_key("SCI Les Hauts de Loire"), owner_key("Hauts Loire (SCI)"));
        assert_eq!(owner_key("M. et Mme"), "");
    }

    #[test]
    fn close_names_are_told_from_different_ones() {
        let k = |s: &str| search_key(&[s]);
        assert!(name_similarity(&k("Maison Perrin"), &k("Maison PERRIN lot 12")) >= CLOSE_NAME);
        assert!(name_similarity(&k("Maison Perrin"), &k("Maison Martin")) < CLOSE_NAME);
        assert!(name_similarity(&k("Résidence Les Terrasses"), &k("Residence les terrasses")) >= 0.99);
    }
}
