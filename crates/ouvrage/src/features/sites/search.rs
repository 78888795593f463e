//! The criteria of the site lists as they travel in the URL (`?q=…&cp=44&du=…&tri=date`),
//! their validation into a [`SiteFilter`], and the links that keep them (sort headers, pages).

use serde::Deserialize;

use super::model::{Phase, SiteKind, SiteStatus, parse_day};
use super::store::{SiteFilter, SiteSort};
use crate::domain::text::search_key;
use crate::domain::{ClientId, ContactId, SiteId};
use crate::features::clients::ui::{FieldErrors, parse_opt_id, url_with};
use crate::http::AppError;

/// At most this many words of free text are searched (each must match).
const MAX_WORDS: usize = 6;

/// The query string of a site list. Every field is kept as typed, so the form shows it back.
#[derive(Deserialize, Default, Debug, Clone)]
pub struct ListQuery {
    /// Free text: name, address, permit number, owner.
    #[serde(default)]
    pub q: String,
    /// Postcode or its beginning ("44" finds the whole department).
    #[serde(default)]
    pub cp: String,
    #[serde(default)]
    pub ville: String,
    /// A contact id: the site manager.
    #[serde(default)]
    pub conducteur: String,
    /// Intervention dates from / to (expected or actual).
    #[serde(default)]
    pub du: String,
    #[serde(default)]
    pub au: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub statut: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub archives: String,
    /// "1": only sites whose client still has expected documents or data to send.
    #[serde(default)]
    pub incomplet: String,
    /// Back office: a client id (chosen in a list)…
    #[serde(default)]
    pub client: String,
    /// …or a client code (typed, for firms with too many clients to list).
    #[serde(default)]
    pub code: String,
    /// The dwellings of this residence (a site id).
    #[serde(default)]
    pub residence: String,
    #[serde(default)]
    pub tri: String,
    #[serde(default)]
    pub sens: String,
    #[serde(default)]
    pub page: String,
}

impl ListQuery {
    pub fn sort(&self) -> SiteSort {
        SiteSort::parse(&self.tri).unwrap_or_default()
    }

    pub fn desc(&self) -> bool {
        self.sens == "desc"
    }

    pub fn archived(&self) -> bool {
        self.archives == "1"
    }

    pub fn incomplete(&self) -> bool {
        self.incomplet == "1"
    }

    pub fn kind(&self) -> &'static str {
        SiteKind::parse(&self.kind).map(SiteKind::code).unwrap_or_default()
    }

    pub fn phase(&self) -> &'static str {
        Phase::parse(&self.phase).map(Phase::code).unwrap_or_default()
    }

    pub fn status(&self) -> &'static str {
        SiteStatus::parse(&self.statut).map(SiteStatus::code).unwrap_or_default()
    }

    /// The validated criteria and the French messages of the wrong ones. An id that is not a
    /// number is not found (404), like any forged id.
    pub fn filter(&self, staff: bool) -> Result<(SiteFilter, FieldErrors), AppError> {
        let mut e = FieldErrors::default();
        let cp = self.cp.trim();
        let postcode_prefix = if cp.is_empty() {
            String::new()
        } else if cp.len() <= 5 && cp.bytes().all(|b| b.is_ascii_digit()) {
            cp.to_string()
        } else {
            e.add(
                "cp",
                "Le code postal recherché s'écrit avec 1 à 5 chiffres (par exemple 44 pour tout le département).",
            );
            String::new()
        };
        let from = parse_day(&self.du).unwrap_or_else(|m| {
            e.add("du", m);
            None
        });
        let to = parse_day(&self.au).unwrap_or_else(|m| {
            e.add("au", m);
            None
        });
        if let (Some(f), Some(t)) = (&from, &to)
            && f > t
        {
            e.add("au", "La date de fin de la période précède sa date de début.");
        }
        let folded = search_key(&[&self.q]);
        let words = folded.split(' ').filter(|w| !w.is_empty()).take(MAX_WORDS).map(String::from).collect();
        let filter = SiteFilter {
            words,
            postcode_prefix,
            city: search_key(&[&self.ville]),
            client: if staff { parse_opt_id(&self.client)?.map(ClientId) } else { None },
            manager: parse_opt_id(&self.conducteur)?.map(ContactId),
            residence: parse_opt_id(&self.residence)?.map(SiteId),
            from,
            to,
            kind: Some(self.kind()).filter(|k| !k.is_empty()),
            phase: Some(self.phase()).filter(|k| !k.is_empty()),
            status: Some(self.status()).filter(|k| !k.is_empty()),
            archived: self.archived(),
            incomplete: self.incomplete(),
            sort: self.sort(),
            desc: self.desc(),
        };
        Ok((filter, e))
    }

    /// Whether any criterion narrows the list (beyond sort and archives).
    pub fn narrowed(&self) -> bool {
        [
            &self.q,
            &self.cp,
            &self.ville,
            &self.conducteur,
            &self.du,
            &self.au,
            &self.client,
            &self.code,
            &self.residence,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
            || !self.kind().is_empty()
            || !self.phase().is_empty()
            || !self.status().is_empty()
            || self.incomplete()
    }

    /// The list at `path` with these criteria, sorted by `sort`, at `page`.
    pub fn url(&self, path: &str, sort: SiteSort, desc: bool, page: i64) -> String {
        let page = if page > 1 { page.to_string() } else { String::new() };
        url_with(
            path,
            &[
                ("q", self.q.trim()),
                ("cp", self.cp.trim()),
                ("ville", self.ville.trim()),
                ("conducteur", self.conducteur.trim()),
                ("du", self.du.trim()),
                ("au", self.au.trim()),
                ("phase", self.phase()),
                ("statut", self.status()),
                ("type", self.kind()),
                ("archives", if self.archived() { "1" } else { "" }),
                ("incomplet", if self.incomplete() { "1" } else { "" }),
                ("client", self.client.trim()),
                ("code", self.code.trim()),
                ("residence", self.residence.trim()),
                ("tri", if sort == SiteSort::Name { "" } else { sort.code() }),
                ("sens", if desc { "desc" } else { "" }),
                ("page", &page),
            ],
        )
    }
}

/// A sortable column header: its link switches the direction when it is the current sort.
pub struct SortCol {
    pub label: &'static str,
    pub url: String,
    pub aria: &'static str,
    pub arrow: &'static str,
}

impl SortCol {
    pub fn new(q: &ListQuery, path: &str, sort: SiteSort, label: &'static str) -> SortCol {
        let current = q.sort() == sort;
        let desc_next = current && !q.desc();
        SortCol {
            label,
            url: q.url(path, sort, desc_next, 1),
            aria: match (current, q.desc()) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
            arrow: match (current, q.desc()) {
                (false, _) => "",
                (true, false) => "▲",
                (true, true) => "▼",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_are_validated_and_kept_in_links() {
        let q = ListQuery {
            q: "  Résidence  l'Erdre ".into(),
            cp: "44".into(),
            du: "01/03/2026".into(),
            au: "2026-03-31".into(),
            phase: "handover".into(),
            statut: "bogus".into(),
            tri: "date".into(),
            sens: "desc".into(),
            ..ListQuery::default()
        };
        let (f, e) = q.filter(false).unwrap();
        assert!(e.is_empty());
        assert_eq!(f.words, vec!["residence", "l", "erdre"]);
        assert_eq!(f.postcode_prefix, "44");
        assert_eq!(f.from.as_deref(), Some("2026-03-01"));
        assert_eq!(f.status, None);
        assert_eq!((f.sort, f.desc), (SiteSort::Date, true));
        assert_eq!(
            q.url("/espace/chantiers", SiteSort::Date, true, 2),
            "/espace/chantiers?q=R%C3%A9sidence++l%27Erdre&cp=44&du=01%2F03%2F2026&au=2026-03-31&phase=handover&tri=date&sens=desc&page=2"
        );
    }

    #[test]
    fn wrong_criteria_are_explained() {
        let q =
            ListQuery { cp: "44A".into(), du: "2026-04-01".into(), au: "2026-03-01".into(), ..ListQuery::default() };
        let (_, e) = q.filter(false).unwrap();
        assert!(e.get("cp").is_some() && e.get("au").is_some());
        let forged = ListQuery { conducteur: "12; DROP".into(), ..ListQuery::default() };
        assert!(forged.filter(false).is_err());
    }
}
