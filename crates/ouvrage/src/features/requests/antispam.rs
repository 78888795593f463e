//! Protection of the public credential-request form without third-party services: the form
//! carries its issue time signed with the server's secret (a bot posting at once, replaying an
//! old form or forging a time is refused), a honeypot field people never see, and a rate limit
//! per address.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::time::{HOUR_MS, MINUTE_MS};
use crate::features::auth::store::Limit;

/// A form sent back faster than this was not filled in by a person.
pub const MIN_FILL_MS: i64 = 3_000;
/// A form older than this has expired.
pub const MAX_AGE_MS: i64 = 2 * HOUR_MS;
/// Submissions per address per hour; past it the address waits an hour.
pub const SUBMIT_LIMIT: Limit = Limit { max: 5, window_ms: HOUR_MS, lock_ms: HOUR_MS };
/// The honeypot field's name: a tempting one for bots.
pub const HONEYPOT_FIELD: &str = "site_web";

/// Allowed clock difference between app servers.
const CLOCK_SKEW_MS: i64 = MINUTE_MS;

/// The signed issue time carried by the form: `<ms>.<hex HMAC>`.
pub fn sign_issue_time(secret: &[u8], issued_ms: i64) -> String {
    format!("{issued_ms}.{}", mac(secret, issued_ms))
}

fn mac(secret: &[u8], issued_ms: i64) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(b"credential-request\0");
    m.update(issued_ms.to_string().as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Why a form token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Missing, malformed or not signed by us.
    Invalid,
    /// Sent back too quickly after it was issued.
    TooFast,
    /// Issued too long ago.
    Expired,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Invalid => {
                "Ce formulaire n'est pas valide (il a peut-être été modifié). Rechargez la page et renvoyez votre demande."
            }
            TokenError::TooFast => {
                "Le formulaire a été envoyé trop rapidement. Vérifiez vos informations, patientez quelques secondes puis renvoyez-le."
            }
            TokenError::Expired => {
                "Ce formulaire a expiré (plus de deux heures se sont écoulées). Vérifiez vos informations et renvoyez-le."
            }
        }
    }
}

/// Checks the token at `now_ms`; returns its issue time when it is acceptable.
pub fn check_issue_time(secret: &[u8], token: &str, now_ms: i64) -> Result<i64, TokenError> {
    let (time, sig) = token.trim().split_once('.').ok_or(TokenError::Invalid)?;
    if time.is_empty() || time.len() > 16 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Invalid);
    }
    let issued: i64 = time.parse().map_err(|_| TokenError::Invalid)?;
    let expected = mac(secret, issued);
    if !bool::from(sig.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(TokenError::Invalid);
    }
    let age = now_ms - issued;
    if age < -CLOCK_SKEW_MS {
        return Err(TokenError::Invalid);
    }
    if age < MIN_FILL_MS {
        return Err(TokenError::TooFast);
    }
    if age > MAX_AGE_MS {
        return Err(TokenError::Expired);
    }
    Ok(issued)
}

/// The host name of a `Host` header, lower-cased, without the port (`[::1]:80` → `[::1]`).
pub fn host_without_port(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    if h.starts_with('[') {
        return match h.find(']') {
            Some(end) => h[..=end].to_string(),
            None => h,
        };
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
        _ => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    #[test]
    fn a_token_is_accepted_between_three_seconds_and_two_hours() {
        let t = sign_issue_time(SECRET, 1_000_000);
        assert_eq!(check_issue_time(SECRET, &t, 1_000_000 + 3_000), Ok(1_000_000));
        assert_eq!(check_issue_time(SECRET, &t, 1_000_000 + 2 * HOUR_MS), Ok(1_000_000));
        assert_eq!(check_issue_time(SECRET, &t, 1_000_000 + 2_999), Err(TokenError::TooFast));
        assert_eq!(check_issue_time(SECRET, &t, 1_000_000 + 2 * HOUR_MS + 1), Err(TokenError::Expired));
    }

    #[test]
    fn forged_or_malformed_tokens_are_invalid() {
        let t = sign_issue_time(SECRET, 1_000_000);
        // Moving the time back keeps the old signature: refused.
        let forged = t.replacen("1000000", "990000", 1);
        assert_eq!(check_issue_time(SECRET, &forged, 1_010_000), Err(TokenError::Invalid));
        assert_eq!(check_issue_time(b"other", &t, 1_010_000), Err(TokenError::Invalid));
        for bad in ["", "abc", "123", ".abc", "-5.00", "12.34.56"] {
            assert_eq!(check_issue_time(SECRET, bad, 1_010_000), Err(TokenError::Invalid), "{bad}");
        }
        // Issued in the future (beyond clock skew): refused.
        let future = sign_issue_time(SECRET, 10_000_000);
        assert_eq!(check_issue_time(SECRET, &future, 1_000_000), Err(TokenError::Invalid));
    }

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(host_without_port("Extranet.Exemple.fr:8080"), "extranet.exemple.fr");
        assert_eq!(host_without_port("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_without_port("[::1]:8080"), "[::1]");
        assert_eq!(host_without_port(""), "");
    }
}
