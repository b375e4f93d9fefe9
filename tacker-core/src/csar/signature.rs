//! SOL004 package security: CMS signatures of the manifest and of single artifacts,
//! checked against the operator's trusted certificate authorities.
//!
//! A signed package carries a detached CMS (RFC 5652) `SignedData` at the end of its
//! manifest (the `-----BEGIN CMS-----` block); what it signs is every byte of the
//! manifest before that block. Single artifacts may carry their own signature: the
//! manifest names the signature file (`Signature:`) and, optionally, the certificate
//! file (`Certificate:`) in the artifact's block. The signing certificate is taken from
//! the CMS itself or from the package (`ETSI-Entry-Certificate` of TOSCA.meta, or the
//! `.cert` file beside a root manifest). It must chain to one of the trusted CAs, be
//! valid now, and, when it lists extended key usages, allow code signing.
//!
//! What a tenant's packages must show is its [`SignaturePolicy`]: `require` (the
//! manifest must be signed and every file of the package listed in it with a digest),
//! `if-present` (signatures found are checked; unsigned packages pass) or `ignore`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912, rfc8410};
use der::asn1::OctetString;
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::meta::HashAlgorithm;
use super::{Csar, CsarError, digest_hex};
use crate::TenantId;
use crate::model::PackageSecurityOption;

/// What a tenant's packages must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignaturePolicy {
    /// The manifest must carry a valid signature, and every file of the package must be
    /// listed in it with a digest.
    Require,
    /// Signatures found are checked; a package without any is accepted.
    IfPresent,
    /// Signatures are not looked at.
    Ignore,
}

impl SignaturePolicy {
    /// The name used in flags and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Require => "require",
            Self::IfPresent => "if-present",
            Self::Ignore => "ignore",
        }
    }
}

impl std::str::FromStr for SignaturePolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "require" => Ok(Self::Require),
            "if-present" => Ok(Self::IfPresent),
            "ignore" => Ok(Self::Ignore),
            other => Err(format!(
                "unknown signature policy '{other}' (one of require, if-present, ignore)"
            )),
        }
    }
}

impl std::fmt::Display for SignaturePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the signatures of an accepted package showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureReport {
    /// `OPTION_1` when the manifest's signature was verified.
    pub security_option: Option<PackageSecurityOption>,
    /// The subject of the certificate that signed the manifest.
    pub signer: Option<String>,
    /// The signing certificate (PEM) when the package holds it as a file.
    pub signing_certificate: Option<String>,
    /// Artifacts whose own signature was verified.
    pub signed_artifacts: Vec<String>,
}

/// The operator's trust in package signers: the CAs and each tenant's policy.
#[derive(Clone)]
pub struct PackageTrust {
    anchors: Vec<CertificateDer<'static>>,
    default_policy: SignaturePolicy,
    tenant_policies: BTreeMap<TenantId, SignaturePolicy>,
    at: Option<SystemTime>,
}

impl std::fmt::Debug for PackageTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageTrust")
            .field("anchors", &self.anchors.len())
            .field("default_policy", &self.default_policy)
            .field("tenant_policies", &self.tenant_policies)
            .finish_non_exhaustive()
    }
}

const CODE_SIGNING: &[usize] = &[1, 3, 6, 1, 5, 5, 7, 3, 3];
const ANY_EXTENDED_KEY_USAGE: &[usize] = &[2, 5, 29, 37, 0];

/// Accepts a signing certificate without extended key usages, or with code signing or
/// any usage among them.
struct CodeSigning;

impl ExtendedKeyUsageValidator for CodeSigning {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let mut listed = false;
        for purpose in iter {
            listed = true;
            let oid = purpose?.to_decoded_oid();
            if oid == CODE_SIGNING || oid == ANY_EXTENDED_KEY_USAGE {
                return Ok(());
            }
        }
        if listed {
            #[allow(deprecated)]
            return Err(webpki::Error::RequiredEkuNotFound);
        }
        Ok(())
    }
}

impl PackageTrust {
    /// Trust in no CA, with `policy` for every tenant: only useful with `ignore`, or to
    /// refuse signed packages under the other policies.
    pub fn new(policy: SignaturePolicy) -> Self {
        Self {
            anchors: Vec::new(),
            default_policy: policy,
            tenant_policies: BTreeMap::new(),
            at: None,
        }
    }

    /// Trust in the CA certificates of a PEM bundle, with `policy` for every tenant.
    pub fn from_pem(bundle: &[u8], policy: SignaturePolicy) -> Result<Self, String> {
        let mut trust = Self::new(policy);
        let text =
            std::str::from_utf8(bundle).map_err(|_| "the CA bundle is not PEM text".to_owned())?;
        for der in pem_blocks(text, &["CERTIFICATE"])? {
            let cert = CertificateDer::from(der);
            webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| format!("a CA certificate of the bundle is unusable: {e}"))?;
            trust.anchors.push(cert);
        }
        if trust.anchors.is_empty() {
            return Err("the CA bundle holds no certificate".to_owned());
        }
        Ok(trust)
    }

    /// The same with `policy` for `tenant`.
    pub fn with_tenant_policy(mut self, tenant: TenantId, policy: SignaturePolicy) -> Self {
        self.tenant_policies.insert(tenant, policy);
        self
    }

    /// The same, checking certificate validity at `time` instead of now.
    pub fn at(mut self, time: SystemTime) -> Self {
        self.at = Some(time);
        self
    }

    /// The policy for a tenant's packages.
    pub fn policy_for(&self, tenant: &TenantId) -> SignaturePolicy {
        self.tenant_policies
            .get(tenant)
            .copied()
            .unwrap_or(self.default_policy)
    }

    /// How many CA certificates are trusted.
    pub fn anchor_count(&self) -> usize {
        self.anchors.len()
    }

    /// Checks the signatures of an opened package (whose digests were checked) under
    /// the tenant's policy.
    pub fn verify(&self, csar: &Csar, tenant: &TenantId) -> Result<SignatureReport, CsarError> {
        let policy = self.policy_for(tenant);
        let mut report = SignatureReport::default();
        if policy == SignaturePolicy::Ignore {
            return Ok(report);
        }
        let manifest_path = csar.manifest_path.clone();
        let signed_manifest = csar
            .manifest
            .as_ref()
            .is_some_and(|m| m.signature.is_some());
        let entry_certificate = self.entry_certificate(csar)?;
        match (&manifest_path, signed_manifest) {
            (Some(path), true) => {
                let raw = read_limited(csar, path)?;
                let (content, block) = split_signed_manifest(&raw).ok_or_else(|| {
                    refused(path, "the manifest's signature block cannot be found")
                })?;
                let extra: Vec<Vec<u8>> = entry_certificate
                    .iter()
                    .flat_map(|entry| entry.ders.iter().cloned())
                    .collect();
                let signer = self
                    .verify_cms(path, block, &Signed::Bytes(content), &extra, csar)
                    .map_err(|reason| refused(path, &reason))?;
                report.security_option = Some(PackageSecurityOption::Option1);
                report.signer = Some(signer.subject);
                report.signing_certificate = entry_certificate
                    .as_ref()
                    .filter(|entry| entry.ders.contains(&signer.der))
                    .map(|entry| entry.pem.clone());
            }
            (path, false) if policy == SignaturePolicy::Require => {
                let file = path.as_deref().unwrap_or("the package");
                return Err(refused(
                    file,
                    "the package is not signed: the manifest carries no CMS signature, and \
                     this tenant's packages must be signed",
                ));
            }
            _ => {}
        }
        self.verify_artifacts(csar, &entry_certificate, &mut report)?;
        if policy == SignaturePolicy::Require {
            unlisted_files(csar, &entry_certificate)?;
        }
        Ok(report)
    }

    /// The package's own signing certificate file: its PEM text and certificates.
    fn entry_certificate(&self, csar: &Csar) -> Result<Option<EntryCertificate>, CsarError> {
        let declared = csar
            .tosca_meta
            .as_ref()
            .and_then(|meta| meta.etsi_entry_certificate.clone());
        let path = match declared {
            Some(path) => {
                if !csar.contains(&path) {
                    return Err(CsarError::MissingFile {
                        path,
                        referenced_by: "TOSCA-Metadata/TOSCA.meta (ETSI-Entry-Certificate)"
                            .to_owned(),
                    });
                }
                Some(path)
            }
            None => csar
                .manifest_path
                .as_deref()
                .and_then(|m| m.strip_suffix(".mf"))
                .map(|stem| format!("{stem}.cert"))
                .filter(|p| csar.contains(p)),
        };
        let Some(path) = path else {
            return Ok(None);
        };
        let pem = csar.read_text(&path)?;
        let ders = pem_blocks(&pem, &["CERTIFICATE"]).map_err(|reason| refused(&path, &reason))?;
        if ders.is_empty() {
            return Err(refused(&path, "the certificate file holds no certificate"));
        }
        Ok(Some(EntryCertificate {
            path: normalize(&path),
            pem,
            ders,
        }))
    }

    fn verify_artifacts(
        &self,
        csar: &Csar,
        entry_certificate: &Option<EntryCertificate>,
        report: &mut SignatureReport,
    ) -> Result<(), CsarError> {
        let Some(manifest) = &csar.manifest else {
            return Ok(());
        };
        for artifact in &manifest.artifacts {
            let Some(signature_path) = &artifact.signature else {
                continue;
            };
            if artifact.is_remote() {
                return Err(refused(
                    &artifact.path,
                    "a remote artifact cannot be checked against its signature",
                ));
            }
            if !csar.contains(signature_path) {
                return Err(CsarError::MissingFile {
                    path: signature_path.clone(),
                    referenced_by: format!(
                        "{}:{} (Signature)",
                        artifact.declared_in, artifact.line
                    ),
                });
            }
            let block = read_limited(csar, signature_path)?;
            let mut extra = Vec::new();
            match &artifact.certificate {
                Some(certificate) => {
                    if !csar.contains(certificate) {
                        return Err(CsarError::MissingFile {
                            path: certificate.clone(),
                            referenced_by: format!(
                                "{}:{} (Certificate)",
                                artifact.declared_in, artifact.line
                            ),
                        });
                    }
                    let pem = csar.read_text(certificate)?;
                    extra = pem_blocks(&pem, &["CERTIFICATE"])
                        .map_err(|reason| refused(certificate, &reason))?;
                }
                None => {
                    if let Some(entry) = entry_certificate {
                        extra.clone_from(&entry.ders);
                    }
                }
            }
            let signed = Signed::File(&artifact.path);
            self.verify_cms(signature_path, &block, &signed, &extra, csar)
                .map_err(|reason| {
                    refused(
                        &artifact.path,
                        &format!("its signature {signature_path} does not hold: {reason}"),
                    )
                })?;
            report.signed_artifacts.push(artifact.path.clone());
        }
        Ok(())
    }

    /// Checks one CMS signature of `signed`; returns who signed it.
    fn verify_cms(
        &self,
        file: &str,
        block: &[u8],
        signed: &Signed<'_>,
        extra_certificates: &[Vec<u8>],
        csar: &Csar,
    ) -> Result<Signer, String> {
        let der = cms_der(block)?;
        let info = ContentInfo::from_der(&der)
            .map_err(|e| format!("{file} is not a CMS structure: {e}"))?;
        if info.content_type != rfc5911::ID_SIGNED_DATA {
            return Err(format!(
                "{file} is CMS content of type {}, not SignedData",
                info.content_type
            ));
        }
        let data: SignedData = info
            .content
            .decode_as()
            .map_err(|e| format!("{file}: the SignedData cannot be read: {e}"))?;
        if let Some(content) = &data.encap_content_info.econtent {
            let Signed::Bytes(bytes) = signed else {
                return Err("the signature encloses content instead of signing the file".into());
            };
            let enclosed = content
                .decode_as::<OctetString>()
                .map_err(|e| format!("the enclosed content cannot be read: {e}"))?;
            if enclosed.as_bytes() != *bytes {
                return Err("the signature encloses other content than the signed file".into());
            }
        }
        let mut certificates: Vec<Vec<u8>> = extra_certificates.to_vec();
        if let Some(set) = &data.certificates {
            for choice in set.0.iter() {
                if let CertificateChoices::Certificate(cert) = choice {
                    let der = cert
                        .to_der()
                        .map_err(|e| format!("a certificate of the signature: {e}"))?;
                    if !certificates.contains(&der) {
                        certificates.push(der);
                    }
                }
            }
        }
        let signers: Vec<&SignerInfo> = data.signer_infos.0.iter().collect();
        let Some(first) = signers.first() else {
            return Err("the signature has no signer".into());
        };
        if signers.len() > 1 {
            return Err(format!(
                "the signature has {} signers; one is expected",
                signers.len()
            ));
        }
        self.verify_signer(first, &certificates, signed, csar)
    }

    fn verify_signer(
        &self,
        signer: &SignerInfo,
        certificates: &[Vec<u8>],
        signed: &Signed<'_>,
        csar: &Csar,
    ) -> Result<Signer, String> {
        let (cert, cert_der) = signing_certificate(&signer.sid, certificates)?;
        let subject = cert.tbs_certificate().subject().to_string();
        let digest = digest_algorithm(&signer.digest_alg.oid)?;
        let message = match &signer.signed_attrs {
            Some(attributes) => {
                let mut content_type = None;
                let mut message_digest = None;
                for attribute in attributes.iter() {
                    let value = attribute.values.iter().next();
                    if attribute.oid == rfc5911::ID_CONTENT_TYPE {
                        content_type = value.and_then(|v| v.decode_as::<ObjectIdentifier>().ok());
                    } else if attribute.oid == rfc5911::ID_MESSAGE_DIGEST {
                        message_digest = value.and_then(|v| v.decode_as::<OctetString>().ok());
                    }
                }
                if content_type != Some(rfc5911::ID_DATA) {
                    return Err("its signed attributes lack the content type id-data".into());
                }
                let Some(expected) = message_digest else {
                    return Err("its signed attributes lack the message digest".into());
                };
                let actual = signed.digest(digest, csar)?;
                if !hex(expected.as_bytes()).eq_ignore_ascii_case(&actual) {
                    return Err(format!(
                        "the content does not match the signature (the {} digest differs): \
                         it was changed after signing",
                        digest.as_str()
                    ));
                }
                attributes
                    .to_der()
                    .map_err(|e| format!("its signed attributes cannot be encoded: {e}"))?
            }
            None => signed.bytes(csar)?,
        };
        let candidates = signature_algorithms(&signer.signature_algorithm.oid, digest)?;
        let cert_der_ref = CertificateDer::from(cert_der.as_slice());
        let end_entity = EndEntityCert::try_from(&cert_der_ref)
            .map_err(|e| format!("the signing certificate of {subject} is unusable: {e}"))?;
        self.verify_chain(&end_entity, certificates, &cert_der, &subject)?;
        let signature = signer.signature.as_bytes();
        let mut last = None;
        for algorithm in candidates {
            match end_entity.verify_signature(algorithm, &message, signature) {
                Ok(()) => {
                    return Ok(Signer {
                        subject,
                        der: cert_der,
                    });
                }
                Err(error) => last = Some(error),
            }
        }
        Err(match last {
            Some(webpki::Error::InvalidSignatureForPublicKey) | None => {
                "the signature value does not verify with the signing certificate's key".into()
            }
            Some(other) => format!("the signature cannot be verified: {other}"),
        })
    }

    fn verify_chain(
        &self,
        end_entity: &EndEntityCert<'_>,
        certificates: &[Vec<u8>],
        own: &[u8],
        subject: &str,
    ) -> Result<(), String> {
        if self.anchors.is_empty() {
            return Err(format!(
                "no trusted CA is configured, so the certificate of {subject} cannot be trusted"
            ));
        }
        let anchors: Vec<TrustAnchor<'_>> = self
            .anchors
            .iter()
            .filter_map(|cert| webpki::anchor_from_trusted_cert(cert).ok())
            .collect();
        let intermediates: Vec<CertificateDer<'_>> = certificates
            .iter()
            .filter(|der| der.as_slice() != own)
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        let now = self.at.unwrap_or_else(SystemTime::now);
        let time = UnixTime::since_unix_epoch(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                CodeSigning,
                None,
                None,
            )
            .map(|_| ())
            .map_err(|error| chain_error(&error, subject))
    }
}

/// The package's own signing certificate file.
struct EntryCertificate {
    /// Its path in the package.
    path: String,
    /// Its text.
    pem: String,
    /// The certificates in it.
    ders: Vec<Vec<u8>>,
}

/// Who signed.
struct Signer {
    subject: String,
    der: Vec<u8>,
}

/// What a signature covers.
enum Signed<'a> {
    /// Bytes in memory (the manifest before its signature).
    Bytes(&'a [u8]),
    /// A file of the package, read in chunks.
    File(&'a str),
}

impl Signed<'_> {
    fn digest(&self, algorithm: HashAlgorithm, csar: &Csar) -> Result<String, String> {
        match self {
            Self::Bytes(bytes) => {
                let mut reader = *bytes;
                digest_hex(algorithm, &mut reader).map_err(|e| e.to_string())
            }
            Self::File(path) => csar
                .with_reader(path, |reader| digest_hex(algorithm, reader))
                .map_err(|e| e.to_string()),
        }
    }

    fn bytes(&self, csar: &Csar) -> Result<Vec<u8>, String> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.to_vec()),
            Self::File(path) => {
                let size = csar.size(path).unwrap_or(0);
                if size > csar.limits().max_text_size {
                    return Err(format!(
                        "a signature without signed attributes covers the whole file, and \
                         {path} ({size} bytes) is larger than the {} bytes read whole",
                        csar.limits().max_text_size
                    ));
                }
                csar.read(path).map_err(|e| e.to_string())
            }
        }
    }
}

fn refused(file: &str, reason: &str) -> CsarError {
    CsarError::Signature {
        file: file.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A small file read whole, within the text size limit.
fn read_limited(csar: &Csar, path: &str) -> Result<Vec<u8>, CsarError> {
    let size = csar.size(path).unwrap_or(0);
    if size > csar.limits().max_text_size {
        return Err(CsarError::TooLarge {
            entry: path.to_owned(),
            size,
            limit: csar.limits().max_text_size,
        });
    }
    csar.read(path)
}

/// The manifest bytes before its signature block, and the block.
fn split_signed_manifest(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut start = 0;
    while start < raw.len() {
        let end = raw[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| start + i + 1);
        let line = &raw[start..end];
        let trimmed = line.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            return Some((&raw[..start], &raw[start..]));
        }
        start = end;
    }
    None
}

/// The DER of a signature file: PEM (`CMS` or `PKCS7`) or DER as it is.
fn cms_der(block: &[u8]) -> Result<Vec<u8>, String> {
    let text_start = block.trim_ascii_start();
    if !text_start.starts_with(b"-----BEGIN") {
        return Ok(block.to_vec());
    }
    let text = std::str::from_utf8(text_start).map_err(|_| "the signature is not PEM text")?;
    let blocks = pem_blocks(text, &["CMS", "PKCS7"])?;
    match blocks.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("the signature holds no CMS block".into()),
        _ => Err("the signature holds more than one CMS block".into()),
    }
}

/// The DER of every PEM block with one of `labels`; blocks with other labels are an
/// error.
fn pem_blocks(text: &str, labels: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin..];
        let Some(label_end) = after["-----BEGIN ".len()..].find("-----") else {
            return Err("a PEM block has an unterminated header".into());
        };
        let label = &after["-----BEGIN ".len().."-----BEGIN ".len() + label_end];
        let footer = format!("-----END {label}-----");
        let Some(end) = after.find(&footer) else {
            return Err(format!("the PEM block {label} has no end line"));
        };
        let whole = &after[..end + footer.len()];
        if !labels.contains(&label) {
            return Err(format!(
                "a PEM block labelled {label}; expected {}",
                labels.join(" or ")
            ));
        }
        let (_, der) = pem_rfc7468::decode_vec(whole.as_bytes())
            .map_err(|e| format!("the PEM block {label} cannot be decoded: {e}"))?;
        out.push(der);
        rest = &after[end + footer.len()..];
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn signing_certificate(
    sid: &SignerIdentifier,
    certificates: &[Vec<u8>],
) -> Result<(Certificate, Vec<u8>), String> {
    for der in certificates {
        let Ok(cert) = Certificate::from_der(der) else {
            continue;
        };
        let tbs = cert.tbs_certificate();
        let matches = match sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => {
                tbs.serial_number() == &id.serial_number && tbs.issuer() == &id.issuer
            }
            SignerIdentifier::SubjectKeyIdentifier(id) => tbs
                .get_extension::<SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, own)| own.0.as_bytes() == id.0.as_bytes()),
        };
        if matches {
            return Ok((cert, der.clone()));
        }
    }
    Err("the signing certificate is neither in the signature nor in the package".into())
}

fn digest_algorithm(oid: &ObjectIdentifier) -> Result<HashAlgorithm, String> {
    match *oid {
        rfc5912::ID_SHA_224 => Ok(HashAlgorithm::Sha224),
        rfc5912::ID_SHA_256 => Ok(HashAlgorithm::Sha256),
        rfc5912::ID_SHA_384 => Ok(HashAlgorithm::Sha384),
        rfc5912::ID_SHA_512 => Ok(HashAlgorithm::Sha512),
        other => Err(format!(
            "the digest algorithm {other} is not one of SHA-224, SHA-256, SHA-384, SHA-512"
        )),
    }
}

/// The verification algorithms a CMS signature algorithm with `digest` may be: the
/// signing key decides among them.
fn signature_algorithms(
    oid: &ObjectIdentifier,
    digest: HashAlgorithm,
) -> Result<Vec<&'static dyn SignatureVerificationAlgorithm>, String> {
    use webpki::ring as alg;
    let rsa = matches!(
        *oid,
        rfc5912::RSA_ENCRYPTION
            | rfc5912::SHA_256_WITH_RSA_ENCRYPTION
            | rfc5912::SHA_384_WITH_RSA_ENCRYPTION
            | rfc5912::SHA_512_WITH_RSA_ENCRYPTION
    );
    let ecdsa = matches!(
        *oid,
        rfc5912::ID_EC_PUBLIC_KEY
            | rfc5912::ECDSA_WITH_SHA_256
            | rfc5912::ECDSA_WITH_SHA_384
            | rfc5912::ECDSA_WITH_SHA_512
    );
    // The digest a named algorithm uses must be the signer's digest.
    let named = match *oid {
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_256 => {
            Some(HashAlgorithm::Sha256)
        }
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_384 => {
            Some(HashAlgorithm::Sha384)
        }
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_512 => {
            Some(HashAlgorithm::Sha512)
        }
        _ => None,
    };
    if named.is_some_and(|named| named != digest) {
        return Err(format!(
            "the signature algorithm {oid} does not use the signer's digest {}",
            digest.as_str()
        ));
    }
    let algorithms = match digest {
        HashAlgorithm::Sha256 if rsa => vec![alg::RSA_PKCS1_2048_8192_SHA256],
        HashAlgorithm::Sha384 if rsa => vec![alg::RSA_PKCS1_2048_8192_SHA384],
        HashAlgorithm::Sha512 if rsa => vec![alg::RSA_PKCS1_2048_8192_SHA512],
        HashAlgorithm::Sha256 if ecdsa => vec![alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        HashAlgorithm::Sha384 if ecdsa => vec![alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        _ if *oid == rfc8410::ID_ED_25519 => vec![alg::ED25519],
        _ => {
            return Err(format!(
                "the signature algorithm {oid} with {} is not supported (RSA PKCS #1 v1.5 with \
                 SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384, Ed25519)",
                digest.as_str()
            ));
        }
    };
    Ok(algorithms)
}

fn chain_error(error: &webpki::Error, subject: &str) -> String {
    let when = |time: &UnixTime| {
        chrono::DateTime::from_timestamp(i64::try_from(time.as_secs()).unwrap_or(i64::MAX), 0)
            .map_or_else(|| time.as_secs().to_string(), |t| t.to_rfc3339())
    };
    match error {
        webpki::Error::CertExpired { not_after, .. } => {
            format!(
                "the signing certificate of {subject} expired at {}",
                when(not_after)
            )
        }
        webpki::Error::CertNotValidYet { not_before, .. } => format!(
            "the signing certificate of {subject} is not valid before {}",
            when(not_before)
        ),
        webpki::Error::UnknownIssuer => {
            format!("the signing certificate of {subject} is not issued by a trusted CA")
        }
        #[allow(deprecated)]
        webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_) => {
            format!("the signing certificate of {subject} does not allow code signing")
        }
        webpki::Error::CaUsedAsEndEntity => {
            format!("the signing certificate of {subject} is a CA certificate")
        }
        other => format!("the signing certificate of {subject} is not trusted: {other}"),
    }
}

/// Under `require`: every file of the package but TOSCA.meta, the manifest and the
/// signature and certificate files must be listed in the manifest with a digest.
fn unlisted_files(
    csar: &Csar,
    entry_certificate: &Option<EntryCertificate>,
) -> Result<(), CsarError> {
    let Some(manifest) = &csar.manifest else {
        return Ok(());
    };
    let mut exempt: BTreeSet<String> = BTreeSet::new();
    exempt.insert("TOSCA-Metadata/TOSCA.meta".to_owned());
    exempt.extend(csar.manifest_path.clone());
    exempt.extend(entry_certificate.iter().map(|entry| entry.path.clone()));
    let mut listed: BTreeSet<String> = BTreeSet::new();
    for artifact in &manifest.artifacts {
        listed.insert(normalize(&artifact.path));
        exempt.extend(artifact.signature.as_deref().map(normalize));
        exempt.extend(artifact.certificate.as_deref().map(normalize));
    }
    let unlisted: Vec<&str> = csar
        .paths()
        .filter(|path| !exempt.contains(*path) && !listed.contains(*path))
        .collect();
    if unlisted.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = unlisted.iter().take(5).copied().collect();
    let more = unlisted.len().saturating_sub(shown.len());
    let file = csar.manifest_path.as_deref().unwrap_or("the manifest");
    Err(refused(
        file,
        &format!(
            "the signed manifest does not list {}{} with a digest, and this tenant's packages \
             must be covered by the signature",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more files")
            } else {
                String::new()
            }
        ),
    ))
}

fn normalize(path: &str) -> String {
    let mut path = path.trim();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.trim_start_matches('/').to_owned()
}
