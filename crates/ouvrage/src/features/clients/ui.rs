//! Small helpers shared by the back-office forms and listings of clients, contacts, users and
//! settings: raw form data, per-field errors, select options, pagination and query strings.

use crate::http::AppError;

/// A submitted URL-encoded form, as the browser sent it (repeated keys kept, e.g. checkboxes).
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `key`, trimmed; empty when absent.
    pub fn get(&self, key: &str) -> String {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_string()).unwrap_or_default()
    }

    /// The value of `key` as typed (multi-line text keeps its inner line breaks), trimmed.
    pub fn text(&self, key: &str) -> String {
        self.get(key).replace("\r\n", "\n")
    }

    /// Every value of `key` (checkbox groups).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.trim().to_string()).collect()
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// Messages attached to form fields, shown next to each wrong field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn messages(&self) -> Vec<&str> {
        self.0.iter().map(|(_, m)| m.as_str()).collect()
    }

    /// Records the error of a parse result and yields the value (empty on error).
    pub fn check(&mut self, field: &'static str, result: Result<String, String>) -> String {
        match result {
            Ok(v) => v,
            Err(msg) => {
                self.add(field, msg);
                String::new()
            }
        }
    }

    /// A length limit on a free-text field.
    pub fn max_len(&mut self, field: &'static str, label: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("{label} ne doit pas dépasser {max} caractères."));
        }
    }
}

/// One `<option>` of a `<select>`.
#[derive(Debug, Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Opt {
        let value = value.into();
        let selected = value == current;
        Opt { value, label: label.into(), selected }
    }
}

/// A URL with its query string; empty values are left out so links stay short.
pub fn url_with(path: &str, params: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in params {
        if !v.is_empty() {
            ser.append_pair(k, v);
            any = true;
        }
    }
    if any { format!("{path}?{}", ser.finish()) } else { path.to_string() }
}

/// Position in a paginated listing.
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub first: i64,
    pub last: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The page number asked for in the URL, 1 when missing or invalid.
    pub fn requested(raw: &str) -> i64 {
        raw.trim().parse::<i64>().ok().filter(|p| *p >= 1).unwrap_or(1)
    }

    /// `page` clamped to the existing pages; `link(n)` builds the URL of page `n`.
    pub fn new(page: i64, per_page: i64, total: i64, link: impl Fn(i64) -> String) -> Pager {
        let pages = ((total + per_page - 1) / per_page).max(1);
        let page = page.clamp(1, pages);
        let first = if total == 0 { 0 } else { (page - 1) * per_page + 1 };
        let last = (page * per_page).min(total);
        Pager {
            page,
            pages,
            total,
            first,
            last,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }

    pub fn offset(page: i64, per_page: i64) -> i64 {
        (page.max(1) - 1) * per_page
    }
}

/// A positive id typed in a URL, a query string or a form field; `None` for anything else.
pub fn positive_id(raw: &str) -> Option<i64> {
    raw.trim().parse::<i64>().ok().filter(|v| *v > 0)
}

/// An id taken from the URL: anything that is not a positive number is simply not found.
pub fn parse_id(raw: &str) -> Result<i64, AppError> {
    positive_id(raw).ok_or(AppError::NotFound)
}

/// An optional id from a form or a query string: empty means none, garbage means not found.
pub fn parse_opt_id(raw: &str) -> Result<Option<i64>, AppError> {
    if raw.trim().is_empty() { Ok(None) } else { parse_id(raw).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_clamps_and_links() {
        let p = Pager::new(9, 50, 120, |n| format!("?page={n}"));
        assert_eq!((p.page, p.pages, p.first, p.last), (3, 3, 101, 120));
        assert_eq!(p.prev.as_deref(), Some("?page=2"));
        assert!(p.next.is_none());
        let empty = Pager::new(1, 50, 0, |n| n.to_string());
        assert_eq!((empty.pages, empty.first, empty.last), (1, 0, 0));
    }

    #[test]
    fn urls_skip_empty_criteria() {
        assert_eq!(
            url_with("/bo/clients", &[("q", "Saint Nazaire"), ("type", ""), ("page", "2")]),
            "/bo/clients?q=Saint+Nazaire&page=2"
        );
        assert_eq!(url_with("/bo/clients", &[("q", "")]), "/bo/clients");
        assert!(parse_id("12abc").is_err());
        assert_eq!(parse_opt_id("").unwrap(), None);
    }
}
