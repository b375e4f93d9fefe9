//! The keys tokens are checked with, as `jsonwebtoken` [`DecodingKey`]s: public keys
//! from PEM text (`PUBLIC KEY`, the SubjectPublicKeyInfo of RFC 5280, holding an RSA
//! or a P-256 key, and the PKCS#1 `RSA PUBLIC KEY`), keys of a JWK Set (RFC 7517) and
//! shared secrets. PEM, DER and the keys themselves are read by the RustCrypto crates
//! (`pem-rfc7468`, `spki`, `rsa`, `p256`); what is checked here is that a key suits the
//! algorithm it is configured for, so that a bad key is refused when the configuration
//! is read rather than when a token arrives.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;
use spki::ObjectIdentifier;

use super::JwsAlgorithm;

/// rsaEncryption (RFC 8017).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1, a.k.a. secp256r1 or P-256 (RFC 5480).
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: u32 = 2048;
/// The largest RSA modulus accepted, in bits.
const MAX_RSA_BITS: u32 = rsa::PublicKey::MAX_SIZE as u32;
/// The shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
pub(super) const MIN_SECRET_LEN: usize = 32;

/// A key and the one algorithm it verifies.
pub(super) struct Key {
    /// The algorithm.
    pub alg: JwsAlgorithm,
    /// The key.
    pub key: DecodingKey,
}

/// A public key read from PEM text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PublicKind {
    /// An RSA key of this many bits.
    Rsa(u32),
    /// A P-256 key.
    EcP256,
}

/// The label and the DER bytes of the first PEM block of `text`. Blank lines and the
/// blanks around lines (as indented configuration files leave them) do not matter.
fn decode_pem(text: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let begin = lines.next().unwrap_or_default();
    let label = begin
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.strip_suffix("-----"))
        .ok_or("the text does not start with a PEM '-----BEGIN ...-----' line")?;
    let end = format!("-----END {label}-----");
    let mut block = vec![begin];
    let mut ended = false;
    for line in lines {
        block.push(line);
        if line == end {
            ended = true;
            break;
        }
    }
    if !ended {
        return Err(format!("the PEM block has no '{end}' line"));
    }
    let mut normalized = block.join("\n");
    normalized.push('\n');
    let (label, der) = pem_rfc7468::decode_vec(normalized.as_bytes()).map_err(|e| match e {
        pem_rfc7468::Error::HeaderDisallowed => {
            "PEM headers (encrypted keys) are not supported".to_owned()
        }
        pem_rfc7468::Error::Base64(e) => format!("the PEM body is not valid base64: {e}"),
        other => format!("the text is not a valid PEM block: {other}"),
    })?;
    Ok((label.to_owned(), der))
}

/// The key of a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1) block, for `alg`.
pub(super) fn public_key_pem(alg: JwsAlgorithm, text: &str) -> Result<Key, String> {
    let (label, der) = decode_pem(text)?;
    let (kind, key) = match label.as_str() {
        "PUBLIC KEY" => spki_key(&der)?,
        "RSA PUBLIC KEY" => rsa_pkcs1(&der)?,
        other => {
            return Err(format!(
                "a PEM block labelled '{other}' is not a public key (expected BEGIN PUBLIC KEY)"
            ));
        }
    };
    match (alg, kind) {
        (JwsAlgorithm::Rs256, PublicKind::Rsa(_)) | (JwsAlgorithm::Es256, PublicKind::EcP256) => {
            Ok(Key { alg, key })
        }
        (JwsAlgorithm::Rs256, _) => Err("RS256 needs an RSA public key".to_owned()),
        (JwsAlgorithm::Es256, _) => Err("ES256 needs a P-256 public key".to_owned()),
        (JwsAlgorithm::Hs256, _) => Err("HS256 needs a shared secret, not a public key".to_owned()),
    }
}

/// The key of a DER SubjectPublicKeyInfo holding an RSA or a P-256 key.
fn spki_key(der: &[u8]) -> Result<(PublicKind, DecodingKey), String> {
    let info = spki::SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|e| format!("the public key is not a valid SubjectPublicKeyInfo: {e}"))?;
    let key = info
        .subject_public_key
        .as_bytes()
        .ok_or("the subjectPublicKey BIT STRING is not whole bytes")?;
    if info.algorithm.oid == RSA_ENCRYPTION {
        rsa_pkcs1(key)
    } else if info.algorithm.oid == EC_PUBLIC_KEY {
        if info.algorithm.parameters_oid().ok() != Some(P256) {
            return Err("only EC keys on the P-256 curve are supported".to_owned());
        }
        ec_point(key)
    } else {
        Err(format!(
            "the public key (algorithm {}) is neither RSA nor EC (P-256)",
            info.algorithm.oid
        ))
    }
}

/// The key of a DER PKCS#1 `RSAPublicKey`.
fn rsa_pkcs1(der: &[u8]) -> Result<(PublicKind, DecodingKey), String> {
    let key = rsa::PublicKey::from_pkcs1_der(der)
        .map_err(|e| format!("the RSA public key is not usable: {e}"))?;
    let bits = rsa_bits(key.n().bit_width())?;
    Ok((PublicKind::Rsa(bits), DecodingKey::from_rsa_der(der)))
}

/// Refuses an RSA modulus of a size RS256 is not checked with here.
fn rsa_bits(bits: u32) -> Result<u32, String> {
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "the RSA key has {bits} bits; at most {MAX_RSA_BITS} are supported"
        ));
    }
    Ok(bits)
}

/// The key of a SEC1-encoded P-256 point.
fn ec_point(point: &[u8]) -> Result<(PublicKind, DecodingKey), String> {
    p256::PublicKey::from_sec1_bytes(point)
        .map_err(|_| "the EC public key is not a point of the P-256 curve".to_owned())?;
    Ok((PublicKind::EcP256, DecodingKey::from_ec_der(point)))
}

/// The HS256 key of a shared secret of at least [`MIN_SECRET_LEN`] bytes.
pub(super) fn secret(secret: &[u8]) -> Result<Key, String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!(
            "the HS256 secret has {} bytes; at least {MIN_SECRET_LEN} are needed",
            secret.len()
        ));
    }
    let key = DecodingKey::from_secret(secret).map_err(|e| format!("the secret: {e}"))?;
    Ok(Key {
        alg: JwsAlgorithm::Hs256,
        key,
    })
}

/// A base64url member of a JWK (padding tolerated).
fn member(value: &str, kty: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("the {kty} key's '{name}' is not base64url"))
}

/// The key of one JWK; `None` for a key not meant for signatures or of a kind this
/// server does not verify with.
pub(super) fn jwk_key(jwk: &Jwk) -> Result<Option<Key>, String> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return Ok(None);
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::HS256) => Some(JwsAlgorithm::Hs256),
        Some(KeyAlgorithm::RS256) => Some(JwsAlgorithm::Rs256),
        Some(KeyAlgorithm::ES256) => Some(JwsAlgorithm::Es256),
        Some(_) => return Ok(None),
    };
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(params), None | Some(JwsAlgorithm::Rs256)) => {
            let n = member(&params.n, "RSA", "n")?;
            let e = member(&params.e, "RSA", "e")?;
            let strip = |bytes: &[u8]| -> Vec<u8> {
                bytes.iter().copied().skip_while(|&b| b == 0).collect()
            };
            let (n, e) = (strip(&n), strip(&e));
            let key = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(&n),
                rsa::BoxedUint::from_be_slice_vartime(&e),
            )
            .map_err(|e| format!("the RSA key is not usable: {e}"))?;
            rsa_bits(key.n().bit_width())?;
            Ok(Some(Key {
                alg: JwsAlgorithm::Rs256,
                key: DecodingKey::from_rsa_raw_components(&n, &e),
            }))
        }
        (AlgorithmParameters::EllipticCurve(params), None | Some(JwsAlgorithm::Es256)) => {
            if params.curve != EllipticCurve::P256 {
                return Ok(None);
            }
            let x = member(&params.x, "EC", "x")?;
            let y = member(&params.y, "EC", "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("a P-256 key needs 32-byte 'x' and 'y'".to_owned());
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let (_, key) = ec_point(&point)?;
            Ok(Some(Key {
                alg: JwsAlgorithm::Es256,
                key,
            }))
        }
        (AlgorithmParameters::OctetKey(params), None | Some(JwsAlgorithm::Hs256)) => {
            secret(&member(&params.value, "oct", "k")?).map(Some)
        }
        (AlgorithmParameters::Other(other), _) => {
            // A kind this server verifies with, but whose members did not parse.
            let kty = other.fields.get("kty").and_then(|kty| kty.as_str());
            let crv = other.fields.get("crv").and_then(|crv| crv.as_str());
            match (kty, crv) {
                (Some("RSA"), _) => Err("an RSA key needs 'n' and 'e' (strings)".to_owned()),
                (Some("EC"), Some("P-256")) => {
                    Err("a P-256 key needs 'x' and 'y' (strings)".to_owned())
                }
                (Some("oct"), _) => Err("an oct key needs 'k' (a string)".to_owned()),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_SPKI: &str = include_str!("../../../tests/fixtures/rsa2048-public.pem");
    const RSA_PKCS1: &str = include_str!("../../../tests/fixtures/rsa2048-public-pkcs1.pem");
    const EC_SPKI: &str = include_str!("../../../tests/fixtures/ec-p256-public.pem");

    fn kind(text: &str) -> Result<PublicKind, String> {
        let (label, der) = decode_pem(text)?;
        match label.as_str() {
            "PUBLIC KEY" => spki_key(&der).map(|(kind, _)| kind),
            "RSA PUBLIC KEY" => rsa_pkcs1(&der).map(|(kind, _)| kind),
            other => Err(format!("label {other}")),
        }
    }

    #[test]
    fn reads_openssl_public_keys() {
        assert_eq!(kind(RSA_SPKI), Ok(PublicKind::Rsa(2048)));
        assert_eq!(kind(RSA_PKCS1), Ok(PublicKind::Rsa(2048)));
        assert_eq!(kind(EC_SPKI), Ok(PublicKind::EcP256));
        // Indented, with blank lines and CRLF, as configuration files may hold them.
        let indented: String = RSA_SPKI
            .lines()
            .map(|line| format!("    {line}\r\n"))
            .collect();
        assert_eq!(
            kind(&format!("\n\n{indented}\n")),
            Ok(PublicKind::Rsa(2048))
        );
        assert!(public_key_pem(JwsAlgorithm::Rs256, RSA_PKCS1).is_ok());
        assert!(public_key_pem(JwsAlgorithm::Es256, EC_SPKI).is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_usable_public_key() {
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let refused = |alg, text: &str, needle: &str| match public_key_pem(alg, text) {
            Ok(_) => panic!("{text:?} must be refused"),
            Err(detail) => assert!(detail.contains(needle), "{needle}: {detail}"),
        };
        refused(JwsAlgorithm::Rs256, private, "labelled 'PRIVATE KEY'");
        refused(JwsAlgorithm::Rs256, "not pem", "does not start with a PEM");
        refused(
            JwsAlgorithm::Es256,
            "-----BEGIN PUBLIC KEY-----\nMFkw\n",
            "no '-----END PUBLIC KEY-----' line",
        );
        refused(
            JwsAlgorithm::Es256,
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "base64",
        );
        refused(
            JwsAlgorithm::Es256,
            RSA_SPKI,
            "ES256 needs a P-256 public key",
        );
        refused(
            JwsAlgorithm::Rs256,
            EC_SPKI,
            "RS256 needs an RSA public key",
        );
        refused(JwsAlgorithm::Hs256, EC_SPKI, "shared secret");
        // A truncated SPKI.
        let (_, der) = decode_pem(EC_SPKI).expect("pem");
        assert!(spki_key(der.get(..der.len() - 1).expect("shorter")).is_err());
        assert!(spki_key(&[]).is_err());
        // A point that is not on the curve.
        let mut point = der.get(der.len() - 65..).expect("the point").to_vec();
        if let Some(last) = point.last_mut() {
            *last ^= 1;
        }
        assert!(ec_point(&point).is_err());
        assert!(ec_point(&[0x04; 65]).is_err());
        assert!(ec_point(&[0x09; 33]).is_err());
        assert!(ec_point(&[]).is_err());
        assert!(rsa_bits(1024).is_err());
        assert!(rsa_bits(16384).is_err());
        assert!(secret(b"short").is_err());
        assert!(secret(&[7; 32]).is_ok());
    }
}
