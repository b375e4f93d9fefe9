//! Public keys from PEM text: the SubjectPublicKeyInfo of RFC 5280 (`PUBLIC KEY`) with
//! an RSA or a P-256 key, and the PKCS#1 `RSA PUBLIC KEY`. Only the little DER these
//! structures need is read here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;

/// A public key a token signature can be checked with.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum PublicKey {
    /// An RSA key: the big-endian modulus and public exponent, without leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// A P-256 key: the uncompressed point `04 || x || y`.
    EcP256(Vec<u8>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa { n, .. } => write!(f, "Rsa({} bits)", n.len() * 8),
            Self::EcP256(_) => f.write_str("EcP256"),
        }
    }
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// 1.2.840.113549.1.1.1
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.2.1
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7 (prime256v1, secp256r1)
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Parses a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1) block.
pub(super) fn parse_public_key_pem(text: &str) -> Result<PublicKey, String> {
    let (label, der) = decode_pem(text)?;
    match label.as_str() {
        "PUBLIC KEY" => parse_spki(&der),
        "RSA PUBLIC KEY" => parse_rsa_public_key(&der),
        other => Err(format!(
            "a PEM block labelled '{other}' is not a public key (expected BEGIN PUBLIC KEY)"
        )),
    }
}

/// The label and the DER bytes of the first PEM block of `text`.
pub(super) fn decode_pem(text: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty());
    let label = lines
        .next()
        .and_then(|line| line.strip_prefix("-----BEGIN "))
        .and_then(|line| line.strip_suffix("-----"))
        .ok_or("the text does not start with a PEM '-----BEGIN ...-----' line")?
        .to_owned();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            return Err("PEM headers (encrypted keys) are not supported".to_owned());
        }
        body.push_str(line);
    }
    if !ended {
        return Err(format!("the PEM block has no '{end}' line"));
    }
    let der = STANDARD_PAD_INDIFFERENT
        .decode(body.as_bytes())
        .map_err(|error| format!("the PEM body is not valid base64: {error}"))?;
    Ok((label, der))
}

/// Reads one DER element: its tag, its contents and what follows it.
fn read_element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let too_short = || "the DER data ends early".to_owned();
    let (&tag, rest) = input.split_first().ok_or_else(too_short)?;
    let (&first, rest) = rest.split_first().ok_or_else(too_short)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err("the DER data has an unsupported length encoding".to_owned());
        }
        if rest.len() < count {
            return Err(too_short());
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, rest)
    };
    if rest.len() < length {
        return Err(too_short());
    }
    let (contents, rest) = rest.split_at(length);
    Ok((tag, contents, rest))
}

/// Reads one element that must have `tag`.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let (found, contents, rest) = read_element(input)?;
    if found != tag {
        return Err(format!(
            "expected {what} (DER tag {tag:#04x}), found tag {found:#04x}"
        ));
    }
    Ok((contents, rest))
}

/// A non-negative DER INTEGER without its leading zeros.
fn positive_integer(contents: &[u8], what: &str) -> Result<Vec<u8>, String> {
    if contents.first().is_some_and(|&byte| byte & 0x80 != 0) {
        return Err(format!("the {what} is negative"));
    }
    let trimmed: Vec<u8> = contents.iter().copied().skip_while(|&b| b == 0).collect();
    if trimmed.is_empty() {
        return Err(format!("the {what} is zero"));
    }
    Ok(trimmed)
}

/// Parses a DER SubjectPublicKeyInfo holding an RSA or a P-256 key.
pub(super) fn parse_spki(der: &[u8]) -> Result<PublicKey, String> {
    let (spki, trailing) = expect(der, TAG_SEQUENCE, "a SubjectPublicKeyInfo SEQUENCE")?;
    if !trailing.is_empty() {
        return Err("unexpected data after the SubjectPublicKeyInfo".to_owned());
    }
    let (algorithm, rest) = expect(spki, TAG_SEQUENCE, "an AlgorithmIdentifier")?;
    let (bits, rest) = expect(rest, TAG_BIT_STRING, "the subjectPublicKey BIT STRING")?;
    if !rest.is_empty() {
        return Err("unexpected data in the SubjectPublicKeyInfo".to_owned());
    }
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err("the subjectPublicKey BIT STRING is not whole bytes".to_owned()),
    };
    let (oid, parameters) = expect(algorithm, TAG_OID, "the algorithm OID")?;
    if oid == OID_RSA_ENCRYPTION {
        // The parameters are NULL or absent.
        if !parameters.is_empty() {
            let (_, rest) = expect(parameters, TAG_NULL, "NULL RSA parameters")?;
            if !rest.is_empty() {
                return Err("unexpected RSA algorithm parameters".to_owned());
            }
        }
        parse_rsa_public_key(key)
    } else if oid == OID_EC_PUBLIC_KEY {
        let (curve, rest) = expect(parameters, TAG_OID, "a named curve")?;
        if curve != OID_P256 || !rest.is_empty() {
            return Err("only EC keys on the P-256 curve are supported".to_owned());
        }
        ec_point(key.to_vec())
    } else {
        Err("the public key is neither RSA nor EC (P-256)".to_owned())
    }
}

/// Parses a DER PKCS#1 `RSAPublicKey` (SEQUENCE { n INTEGER, e INTEGER }).
pub(super) fn parse_rsa_public_key(der: &[u8]) -> Result<PublicKey, String> {
    let (sequence, trailing) = expect(der, TAG_SEQUENCE, "an RSAPublicKey SEQUENCE")?;
    if !trailing.is_empty() {
        return Err("unexpected data after the RSAPublicKey".to_owned());
    }
    let (n, rest) = expect(sequence, TAG_INTEGER, "the RSA modulus")?;
    let (e, rest) = expect(rest, TAG_INTEGER, "the RSA exponent")?;
    if !rest.is_empty() {
        return Err("unexpected data in the RSAPublicKey".to_owned());
    }
    rsa_key(
        positive_integer(n, "RSA modulus")?,
        positive_integer(e, "RSA exponent")?,
    )
}

/// An RSA key from its big-endian modulus and exponent, refused when smaller than
/// 2048 bits (what RS256 verification accepts).
pub(super) fn rsa_key(n: Vec<u8>, e: Vec<u8>) -> Result<PublicKey, String> {
    let n: Vec<u8> = n.into_iter().skip_while(|&b| b == 0).collect();
    let e: Vec<u8> = e.into_iter().skip_while(|&b| b == 0).collect();
    let bits = match n.first() {
        Some(first) => n.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    };
    if bits < 2048 {
        return Err(format!(
            "the RSA key has {bits} bits; at least 2048 are needed"
        ));
    }
    if bits > 8192 {
        return Err(format!(
            "the RSA key has {bits} bits; at most 8192 are supported"
        ));
    }
    if e.is_empty() || e.len() > 4 {
        return Err("the RSA public exponent is not usable".to_owned());
    }
    Ok(PublicKey::Rsa { n, e })
}

/// A P-256 key from its uncompressed point.
pub(super) fn ec_point(point: Vec<u8>) -> Result<PublicKey, String> {
    if point.len() != 65 || point.first() != Some(&0x04) {
        return Err("the EC public key is not an uncompressed P-256 point".to_owned());
    }
    Ok(PublicKey::EcP256(point))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_SPKI: &str = include_str!("../../../tests/fixtures/rsa2048-public.pem");
    const RSA_PKCS1: &str = include_str!("../../../tests/fixtures/rsa2048-public-pkcs1.pem");
    const EC_SPKI: &str = include_str!("../../../tests/fixtures/ec-p256-public.pem");

    #[test]
    fn reads_openssl_public_keys() {
        let spki = parse_public_key_pem(RSA_SPKI).expect("RSA SPKI");
        let pkcs1 = parse_public_key_pem(RSA_PKCS1).expect("RSA PKCS#1");
        assert_eq!(spki, pkcs1);
        match &spki {
            PublicKey::Rsa { n, e } => {
                assert_eq!(n.len(), 256);
                assert_eq!(e, &[0x01, 0x00, 0x01]);
            }
            PublicKey::EcP256(_) => panic!("not RSA"),
        }
        match parse_public_key_pem(EC_SPKI).expect("EC SPKI") {
            PublicKey::EcP256(point) => assert_eq!(point.len(), 65),
            PublicKey::Rsa { .. } => panic!("not EC"),
        }
    }

    #[test]
    fn refuses_what_is_not_a_public_key() {
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(parse_public_key_pem(private).is_err());
        assert!(parse_public_key_pem("not pem").is_err());
        let unterminated = "-----BEGIN PUBLIC KEY-----\nMFkw\n";
        assert!(parse_public_key_pem(unterminated).is_err());
        // A truncated SPKI.
        let (_, der) = decode_pem(EC_SPKI).expect("pem");
        assert!(parse_spki(&der[..der.len() - 1]).is_err());
        assert!(parse_spki(&[]).is_err());
        assert!(rsa_key(vec![0xff; 128], vec![1, 0, 1]).is_err());
        assert!(ec_point(vec![0x02; 33]).is_err());
    }
}
