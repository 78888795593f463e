//! The firm's certificate upload (`SigningIdentity::from_pkcs12`): an identity or a French
//! refusal, never a panic. Seeds made by .ci/fuzz.sh use the password below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouvrage_pdfsign::SigningIdentity;

const PASSWORD: &str = "fuzz";

fuzz_target!(|data: &[u8]| {
    ouvrage_fuzz::run(|| {
        let Ok(identity) = SigningIdentity::from_pkcs12(data, PASSWORD) else { return };
        // What the settings page shows, and what the identity is stored as.
        let _ = (identity.subject(), identity.issuer(), identity.key_description(), identity.certificate_sha256());
        let _ = (identity.not_before(), identity.not_after(), identity.is_self_signed());
        let stored = SigningIdentity::from_pem(&identity.to_pem()).expect("the stored PEM reads back");
        assert_eq!(stored.certificate_sha256(), identity.certificate_sha256());
    });
});
