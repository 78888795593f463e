//! Password hashing with argon2id, off the async runtime (it is deliberately slow).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("valid params"))
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(hasher().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("argon2: {e}"))?.to_string())
}

/// Verifies `password` against `stored`; with no stored hash (unknown account) it still spends
/// the same time on a dummy hash, so response times do not reveal which e-mails exist.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash();
        let target = stored.as_deref().unwrap_or(dummy);
        let ok = PasswordHash::new(target)
            .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && stored.is_some()
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("ouvrage-dummy-password").expect("hashing works"))
}

/// A temporary password that is easy to type from an e-mail: 3 groups of 4 characters
/// without look-alikes (0/O, 1/l/I).
pub fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..3)
        .map(|_| (0..4).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("Chantier-2026".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Chantier-2026".into(), Some(h.clone())).await);
        assert!(!verify("chantier-2026".into(), Some(h)).await);
        assert!(!verify("ouvrage-dummy-password".into(), None).await);
        let t = temporary_password();
        assert_eq!(t.len(), 14);
        assert!(crate::domain::check_password_strength(&t, "x@y.fr").is_ok());
    }
}
