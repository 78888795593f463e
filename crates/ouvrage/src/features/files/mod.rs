//! Files: stored bytes (content-addressed) and the rows that give them an owner and a scope.
//!
//! Other capabilities take files through [`store_upload`] (or [`upload::check`] +
//! [`upload::put_bytes`] + [`upload::insert_file`] inside their own transaction) and link to
//! `/fichiers/{id}`, which checks the actor's scope.

pub mod kind;
pub mod multipart;
pub mod queries;
mod routes;
pub mod storage;
pub mod sweep;
pub mod upload;

pub use kind::FileKind;
pub use routes::{content_disposition, routes, serve_stored};
pub use storage::FileStore;
pub use upload::{UploadError, store_upload};

/// A size the French way, in binary units as file explorers show them: `850 octets`,
/// `12,3 Ko`, `4,5 Mo`, `25 Mo`.
pub fn fr_size(bytes: i64) -> String {
    const KO: i64 = 1024;
    const MO: i64 = 1024 * 1024;
    fn one_decimal(value: f64, unit: &str) -> String {
        let rounded = (value * 10.0).round() / 10.0;
        let text = if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded:.1}") };
        format!("{}\u{a0}{unit}", text.replace('.', ","))
    }
    if bytes < KO {
        format!("{bytes}\u{a0}octet{}", if bytes > 1 { "s" } else { "" })
    } else if bytes < MO {
        one_decimal(bytes as f64 / KO as f64, "Ko")
    } else {
        one_decimal(bytes as f64 / MO as f64, "Mo")
    }
}

#[cfg(test)]
mod tests {
    use super::fr_size;

    #[test]
    fn sizes_read_in_ko_and_mo() {
        assert_eq!(fr_size(1), "1\u{a0}octet");
        assert_eq!(fr_size(850), "850\u{a0}octets");
        assert_eq!(fr_size(12_595), "12,3\u{a0}Ko");
        assert_eq!(fr_size(25 * 1024 * 1024), "25\u{a0}Mo");
        assert_eq!(fr_size(4_718_592), "4,5\u{a0}Mo");
    }
}
