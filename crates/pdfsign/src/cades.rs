//! The CMS SignedData that goes in the PDF signature's /Contents: detached, CAdES baseline B
//! (signed attributes contentType, messageDigest and ESS signing-certificate-v2; the signing
//! time is the signature dictionary's /M, as PAdES wants).

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::SignError;
use crate::identity::{SigningIdentity, SigningKey};

const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// ESS `SigningCertificateV2` (RFC 5035), with only the certificate list.
#[derive(der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// ESS `ESSCertIDv2`; the hash algorithm is left out because SHA-256 is its DEFAULT.
#[derive(der::Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

#[derive(der::Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// DER of the ContentInfo(SignedData) over content whose SHA-256 is `content_digest`.
pub(crate) fn signed_data(content_digest: &[u8], identity: &SigningIdentity) -> Result<Vec<u8>, SignError> {
    let certificate = identity.certificate();
    let tbs = certificate.tbs_certificate();
    let sha256 = AlgorithmIdentifierOwned { oid: OID_SHA256, parameters: None };

    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: octets(&Sha256::digest(&identity.chain()[0]))?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                serial_number: tbs.serial_number().clone(),
            },
        }],
    };
    let signed_attributes: SignedAttributes = set(vec![
        attribute(OID_CONTENT_TYPE, Any::encode_from(&OID_DATA).map_err(der_error)?)?,
        attribute(OID_MESSAGE_DIGEST, Any::encode_from(&octets(content_digest)?).map_err(der_error)?)?,
        attribute(OID_SIGNING_CERTIFICATE_V2, Any::encode_from(&signing_certificate).map_err(der_error)?)?,
    ])?;
    // The signature covers the attributes' DER with their own SET OF tag (RFC 5652 §5.4).
    let to_sign = signed_attributes.to_der().map_err(der_error)?;
    let (signature_algorithm, signature) = match identity.key() {
        SigningKey::P256(key) => {
            let signature: p256::ecdsa::DerSignature = key.sign(&to_sign);
            (OID_ECDSA_WITH_SHA256, signature.to_vec())
        }
        SigningKey::Rsa(key) => {
            let signature =
                key.try_sign_with_rng(&mut rand::rng(), &to_sign).map_err(|e| SignError::internal("rsa", e))?;
            (OID_SHA256_WITH_RSA, signature.to_vec())
        }
    };
    let signature_parameters = match signature_algorithm {
        // RFC 4055: sha256WithRSAEncryption carries a NULL parameter.
        OID_SHA256_WITH_RSA => Some(Any::encode_from(&der::asn1::Null).map_err(der_error)?),
        _ => None,
    };

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(signed_attributes),
        signature_algorithm: AlgorithmIdentifierOwned { oid: signature_algorithm, parameters: signature_parameters },
        signature: octets(&signature)?,
        unsigned_attrs: None,
    };
    let certificates = identity
        .chain()
        .iter()
        .map(|der| Certificate::from_der(der).map(cms::cert::CertificateChoices::Certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(der_error)?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: set(vec![sha256])?,
        encap_content_info: EncapsulatedContentInfo { econtent_type: OID_DATA, econtent: None },
        certificates: Some(CertificateSet(set(certificates)?)),
        crls: None,
        signer_infos: SignerInfos(set(vec![signer_info])?),
    };
    let content_info =
        ContentInfo { content_type: OID_SIGNED_DATA, content: Any::encode_from(&signed_data).map_err(der_error)? };
    content_info.to_der().map_err(der_error)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SignError> {
    Ok(Attribute { oid, values: set(vec![value])? })
}

fn set<T: der::DerOrd>(items: Vec<T>) -> Result<SetOfVec<T>, SignError> {
    SetOfVec::try_from(items).map_err(der_error)
}

fn octets(bytes: &[u8]) -> Result<OctetString, SignError> {
    OctetString::new(bytes).map_err(der_error)
}

fn der_error(error: der::Error) -> SignError {
    SignError::internal("cms", error)
}
