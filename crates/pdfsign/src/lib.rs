//! Seals a PDF that a client signed electronically: the drawn signature image goes on the
//! page staff chose, an evidence page is appended, and the result carries a PAdES signature
//! (CMS detached, `/ETSI.CAdES.detached`) made with the firm's certificate, so any later
//! change to the file shows in a PDF reader.
//!
//! The crate knows nothing of the application: callers hand it the PDF, the PNG, the texts
//! and the [`SigningIdentity`], and get the sealed bytes back.

mod cades;
mod identity;
mod pdf;
mod text;

pub use identity::SigningIdentity;
pub use pdf::{page_count, sample_pdf, sample_signature_png, seal};

// The identity is loaded once and shared by the request handlers' threads.
const _: fn() = || {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<SigningIdentity>();
};

/// Where the signature image goes on its page, inside a margin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Anchor {
    #[default]
    BottomRight,
    BottomLeft,
    BottomCenter,
    TopRight,
    TopLeft,
}

/// Which page of the original receives the signature image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StampPage {
    #[default]
    Last,
    /// 1-based.
    Number(u32),
}

/// The drawn signature put on a page of the original.
#[derive(Clone, Debug)]
pub struct Stamp<'a> {
    pub page: StampPage,
    pub anchor: Anchor,
    /// PNG bytes, as an HTML canvas exports them (RGBA 8-bit; any PNG is accepted).
    pub png: &'a [u8],
    /// Printed under the image, e.g. "Signé par Jean Dupont le 23/11/2026 à 14:05".
    pub caption: String,
}

/// The evidence page: a title and label/value lines.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub title: String,
    pub lines: Vec<(String, String)>,
}

/// Everything [`seal`] needs besides the identity.
#[derive(Clone, Debug)]
pub struct SealInput<'a> {
    pub original: &'a [u8],
    pub stamp: Option<Stamp<'a>>,
    pub evidence: Evidence,
    /// The signature dictionary's /Reason, e.g. "Signature électronique du client".
    pub reason: String,
    /// The signature dictionary's /Location.
    pub location: String,
    /// The signature dictionary's /Name: who signed.
    pub signer_name: String,
    /// The signature dictionary's /M.
    pub signing_time_unix: i64,
}

/// Why a PDF could not be sealed or a certificate not be read. The text is French: it is
/// shown to users.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    #[error("Le PDF à signer est illisible ou endommagé.")]
    UnreadablePdf,
    #[error("Le PDF est protégé par un mot de passe : déposez une version sans mot de passe.")]
    PasswordProtected,
    #[error("Le PDF ne contient aucune page.")]
    NoPages,
    #[error("La page {page} n'existe pas : ce document en compte {count}.")]
    PageOutOfRange { page: u32, count: u32 },
    #[error("L'image de la signature est illisible : une image PNG est attendue.")]
    InvalidImage,
    #[error("L'image de la signature est trop grande.")]
    ImageTooLarge,
    #[error("Le mot de passe du certificat est incorrect.")]
    WrongPassword,
    #[error("Ce fichier n'est pas un certificat PKCS#12 (.p12 ou .pfx).")]
    NotPkcs12,
    #[error("Ce certificat PKCS#12 utilise un format ou un chiffrement non pris en charge.")]
    UnsupportedPkcs12,
    #[error("Le certificat ne contient pas de clé privée.")]
    NoPrivateKey,
    #[error("Le fichier ne contient pas le certificat correspondant à la clé privée.")]
    NoCertificateForKey,
    #[error("Type de clé non pris en charge : seules les clés RSA et ECDSA P-256 sont acceptées.")]
    UnsupportedKey,
    #[error("Le certificat enregistré est illisible.")]
    InvalidPem,
    #[error("La clé privée est chiffrée : fournissez-la sans mot de passe.")]
    EncryptedPemKey,
    #[error("Le nom du certificat doit compter de 1 à 64 caractères.")]
    InvalidCertificateName,
    #[error("La signature du document a échoué ({context} : {detail}).")]
    Internal { context: &'static str, detail: String },
}

impl SignError {
    pub(crate) fn internal(context: &'static str, detail: impl std::fmt::Display) -> SignError {
        SignError::Internal { context, detail: detail.to_string() }
    }
}
