//! The firm's signing identity: certificate chain and private key, from a generated
//! self-signed certificate, an uploaded PKCS#12 file or the PEM text it is stored as.

use std::fmt;
use std::time::{Duration, SystemTime};

use der::asn1::{Any, BitString, Ia5String, ObjectIdentifier, Utf8StringRef};
use der::pem::LineEnding;
use der::{Decode, Encode};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, PrivateKeyInfoRef};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

use crate::SignError;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

/// How long a generated certificate lasts: ten years, leap days included.
const GENERATED_VALIDITY: Duration = Duration::from_secs(3653 * 24 * 3600);

/// The private key, by algorithm.
#[derive(Clone)]
pub(crate) enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// A certificate chain (DER, the signer's certificate first) and the signer's private key.
#[derive(Clone)]
pub struct SigningIdentity {
    chain: Vec<Vec<u8>>,
    certificate: Certificate,
    key: SigningKey,
}

impl fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("SigningIdentity")
            .field("subject", &self.subject())
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// A new self-signed certificate (ECDSA P-256, SHA-256, 10 years, CN = common_name,
    /// O = organisation), for a firm that did not upload its own.
    pub fn generate(common_name: &str, organisation: &str) -> Result<SigningIdentity, SignError> {
        let common_name = common_name.trim();
        let organisation = organisation.trim();
        if common_name.is_empty() || common_name.chars().count() > 64 || organisation.chars().count() > 64 {
            return Err(SignError::InvalidCertificateName);
        }
        let mut rng = rand::rng();
        let key = p256::ecdsa::SigningKey::generate_from_rng(&mut rng);
        let subject = name(common_name, organisation)?;
        let public_key =
            SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).map_err(|e| SignError::internal("spki", e))?;
        // An hour back so a verifier whose clock is a little behind still sees it valid.
        let now = SystemTime::now() - Duration::from_secs(3600);
        let validity = Validity::new(
            Time::try_from(now).map_err(|e| SignError::internal("validity", e))?,
            Time::try_from(now + GENERATED_VALIDITY).map_err(|e| SignError::internal("validity", e))?,
        );
        let builder =
            CertificateBuilder::new(SelfSignedSeal { subject }, SerialNumber::generate(&mut rng), validity, public_key)
                .map_err(|e| SignError::internal("certificate", e))?;
        let certificate =
            builder.build::<_, p256::ecdsa::DerSignature>(&key).map_err(|e| SignError::internal("certificate", e))?;
        let der = certificate.to_der().map_err(|e| SignError::internal("certificate", e))?;
        Ok(SigningIdentity { chain: vec![der], certificate, key: SigningKey::P256(key) })
    }

    /// From a PKCS#12 (.p12/.pfx) file the firm's admin uploads, with its password.
    pub fn from_pkcs12(bytes: &[u8], password: &str) -> Result<SigningIdentity, SignError> {
        let has_mac = match PfxOutline::from_der(bytes) {
            Ok(outline) if outline.version == 3 => outline.mac_data.is_some(),
            _ => return Err(SignError::NotPkcs12),
        };
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password).map_err(|error| match error {
            p12_keystore::error::Error::MacError(_) => SignError::WrongPassword,
            // Without an integrity check, a wrong password shows as garbage after decryption.
            _ if !has_mac => SignError::WrongPassword,
            _ => SignError::UnsupportedPkcs12,
        })?;
        if archive.keys.is_empty() {
            return Err(SignError::NoPrivateKey);
        }
        let certificates: Vec<Vec<u8>> = archive.certs.iter().map(|bag| bag.cert.as_der().to_vec()).collect();
        // The first key that has its certificate: files hold one in practice.
        let mut last_error = SignError::NoCertificateForKey;
        for bag in &archive.keys {
            match Self::from_parts(bag.key.as_der(), &certificates) {
                Ok(identity) => return Ok(identity),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// Reads the text [`SigningIdentity::to_pem`] wrote: certificates and a PKCS#8 private key.
    /// SEC1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY") keys are read too.
    pub fn from_pem(pem: &str) -> Result<SigningIdentity, SignError> {
        let mut certificates = Vec::new();
        let mut key: Option<Vec<u8>> = None;
        for block in pem_blocks(pem) {
            let (label, der) = der::pem::decode_vec(block.as_bytes()).map_err(|_| SignError::InvalidPem)?;
            match label {
                "CERTIFICATE" => certificates.push(der),
                "PRIVATE KEY" => key = Some(der),
                "EC PRIVATE KEY" => {
                    let secret = p256::SecretKey::from_sec1_der(&der).map_err(|_| SignError::UnsupportedKey)?;
                    key = Some(secret.to_pkcs8_der().map_err(|_| SignError::InvalidPem)?.as_bytes().to_vec());
                }
                "RSA PRIVATE KEY" => {
                    use rsa::pkcs1::DecodeRsaPrivateKey;
                    let secret = rsa::PrivateKey::from_pkcs1_der(&der).map_err(|_| SignError::InvalidPem)?;
                    key = Some(secret.to_pkcs8_der().map_err(|_| SignError::InvalidPem)?.as_bytes().to_vec());
                }
                "ENCRYPTED PRIVATE KEY" => return Err(SignError::EncryptedPemKey),
                _ => {}
            }
        }
        let key = key.ok_or(SignError::NoPrivateKey)?;
        if certificates.is_empty() {
            return Err(SignError::NoCertificateForKey);
        }
        Self::from_parts(&key, &certificates)
    }

    /// PEM text holding the certificate chain (signer first) and the PKCS#8 private key.
    pub fn to_pem(&self) -> String {
        let mut pem = String::new();
        for der in &self.chain {
            // Encoding bytes we decoded ourselves cannot fail.
            pem.push_str(&der::pem::encode_string("CERTIFICATE", LineEnding::LF, der).unwrap_or_default());
        }
        let key = match &self.key {
            SigningKey::P256(key) => key.to_pkcs8_der(),
            SigningKey::Rsa(key) => key.as_ref().as_ref().to_pkcs8_der(),
        };
        if let Ok(key) = key
            && let Ok(text) = key.to_pem("PRIVATE KEY", LineEnding::LF)
        {
            pem.push_str(text.as_str());
        }
        pem
    }

    /// The signer certificate's subject, most specific first, e.g. "CN=Jean Dupont, O=Dupont SARL".
    pub fn subject(&self) -> String {
        display_name(self.certificate.tbs_certificate().subject())
    }

    /// The signer certificate's issuer, same form as [`SigningIdentity::subject`].
    pub fn issuer(&self) -> String {
        display_name(self.certificate.tbs_certificate().issuer())
    }

    /// Whether the certificate signed itself (generated, or a self-made upload).
    pub fn is_self_signed(&self) -> bool {
        self.certificate.tbs_certificate().subject() == self.certificate.tbs_certificate().issuer()
    }

    /// Start of the certificate's validity, in Unix seconds.
    pub fn not_before(&self) -> i64 {
        unix_seconds(self.certificate.tbs_certificate().validity().not_before)
    }

    /// End of the certificate's validity, in Unix seconds.
    pub fn not_after(&self) -> i64 {
        unix_seconds(self.certificate.tbs_certificate().validity().not_after)
    }

    /// SHA-256 of the signer certificate (DER), lowercase hex.
    pub fn certificate_sha256(&self) -> String {
        hex(&Sha256::digest(&self.chain[0]))
    }

    /// "ECDSA P-256" or "RSA 2048 bits" and the like.
    pub fn key_description(&self) -> String {
        match &self.key {
            SigningKey::P256(_) => "ECDSA P-256".to_string(),
            SigningKey::Rsa(key) => {
                use rsa::traits::PublicKeyParts;
                format!("RSA {} bits", key.as_ref().as_ref().n().bit_width())
            }
        }
    }

    pub(crate) fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    pub(crate) fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The key (PKCS#8 DER) and, among `certificates`, the one whose public key is the key's,
    /// followed by its issuers as far as they are present.
    fn from_parts(pkcs8: &[u8], certificates: &[Vec<u8>]) -> Result<SigningIdentity, SignError> {
        let info = PrivateKeyInfoRef::try_from(pkcs8).map_err(|_| SignError::UnsupportedKey)?;
        let (key, public_key) = match info.algorithm.oid {
            OID_EC_PUBLIC_KEY => {
                let key = p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(|_| SignError::UnsupportedKey)?;
                let public_key = key.verifying_key().to_public_key_der().map_err(|_| SignError::UnsupportedKey)?;
                (SigningKey::P256(key), public_key)
            }
            OID_RSA_ENCRYPTION => {
                let key = rsa::PrivateKey::from_pkcs8_der(pkcs8).map_err(|_| SignError::UnsupportedKey)?;
                let public_key = key.to_public_key().to_public_key_der().map_err(|_| SignError::UnsupportedKey)?;
                (SigningKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))), public_key)
            }
            _ => return Err(SignError::UnsupportedKey),
        };
        let public_key = SubjectPublicKeyInfoOwned::from_der(public_key.as_bytes())
            .map_err(|_| SignError::UnsupportedKey)?
            .subject_public_key;

        let parsed: Vec<(Certificate, &Vec<u8>)> =
            certificates.iter().filter_map(|der| Certificate::from_der(der).ok().map(|cert| (cert, der))).collect();
        let signer = parsed
            .iter()
            .position(|(cert, _)| {
                same_key(&cert.tbs_certificate().subject_public_key_info().subject_public_key, &public_key)
            })
            .ok_or(SignError::NoCertificateForKey)?;
        let mut chain = vec![parsed[signer].1.clone()];
        let mut current = &parsed[signer].0;
        while current.tbs_certificate().issuer() != current.tbs_certificate().subject() && chain.len() < parsed.len() {
            let issuer = &current.tbs_certificate().issuer();
            let Some((next, der)) =
                parsed.iter().find(|(cert, der)| &cert.tbs_certificate().subject() == issuer && !chain.contains(der))
            else {
                break;
            };
            chain.push((*der).clone());
            current = next;
        }
        Ok(SigningIdentity { chain, certificate: parsed[signer].0.clone(), key })
    }
}

fn same_key(a: &BitString, b: &BitString) -> bool {
    a.raw_bytes() == b.raw_bytes()
}

/// The outer shape of a PFX: enough to tell a PKCS#12 file from anything else before
/// trying the password.
#[derive(der::Sequence)]
struct PfxOutline {
    version: u8,
    _auth_safe: Any,
    mac_data: Option<Any>,
}

/// Subject of a generated certificate: O then CN, each a UTF8String so accents survive.
fn name(common_name: &str, organisation: &str) -> Result<Name, SignError> {
    let mut rdns: Vec<RelativeDistinguishedName> = Vec::new();
    let mut push = |oid: ObjectIdentifier, value: &str| -> Result<(), SignError> {
        let value = Any::encode_from(&Utf8StringRef::new(value).map_err(|e| SignError::internal("name", e))?)
            .map_err(|e| SignError::internal("name", e))?;
        let rdn = RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid, value }])
            .map_err(|e| SignError::internal("name", e))?;
        rdns.push(rdn);
        Ok(())
    };
    if !organisation.is_empty() {
        push(OID_ORGANIZATION, organisation)?;
    }
    push(OID_COMMON_NAME, common_name)?;
    let der = RdnSequence::from(rdns).to_der().map_err(|e| SignError::internal("name", e))?;
    Name::from_der(&der).map_err(|e| SignError::internal("name", e))
}

/// The generated certificate's extensions: a signing key (digital signature and
/// non-repudiation), not a CA.
struct SelfSignedSeal {
    subject: Name,
}

impl BuilderProfile for SelfSignedSeal {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = Vec::new();
        let basic = BasicConstraints { ca: false, path_len_constraint: None };
        extensions.push(basic.to_extension(tbs.subject(), &extensions)?);
        let usage = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        extensions.push(usage.to_extension(tbs.subject(), &extensions)?);
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        extensions.push(ski.to_extension(tbs.subject(), &extensions)?);
        Ok(extensions)
    }
}

/// "CN=…, O=…": RDNs from the most specific (last) to the most general, as people read them.
fn display_name(name: &Name) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter_rdn().collect::<Vec<_>>().into_iter().rev() {
        for atv in rdn.iter() {
            let label = match atv.oid.to_string().as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                "2.5.4.5" => "SERIALNUMBER".to_string(),
                "2.5.4.97" => "organizationIdentifier".to_string(),
                "2.5.4.4" => "SN".to_string(),
                "2.5.4.42" => "GN".to_string(),
                "1.2.840.113549.1.9.1" => "E".to_string(),
                other => other.to_string(),
            };
            let value = if let Ok(text) = DirectoryString::try_from(&atv.value) {
                text.value().into_owned()
            } else if let Ok(text) = atv.value.decode_as::<Ia5String>() {
                text.to_string()
            } else {
                format!("#{}", hex(atv.value.value()))
            };
            parts.push(format!("{label}={value}"));
        }
    }
    parts.join(", ")
}

fn unix_seconds(time: Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `-----BEGIN …-----` … `-----END …-----` blocks of a PEM text, in order.
fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}
