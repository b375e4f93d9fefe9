//! OAuth 2.0 bearer tokens: JWTs in the JWS compact serialization, signed with HS256,
//! RS256 or ES256 by a configured key, and their claims.
//!
//! The `jsonwebtoken` crate (its RustCrypto backend) checks the structure and the
//! signature, allowing only the algorithm of the key it is given. Before it, this module
//! picks the candidate keys from the header (`kid`, `alg`), so that every refusal says
//! what is wrong; after it, it checks the claims against a clock it is given (`exp`,
//! `nbf` and `iat` with the leeway, `iss`, `aud`) and maps them to a principal.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tacker_core::TenantId;

use super::keys::{self, Key};
use super::{AuthConfigError, JwsAlgorithm, JwtKey, OAuth2Config, Principal, printable};

/// The longest token accepted, in bytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;

impl JwsAlgorithm {
    /// The name in the JOSE `alg` header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Self::Hs256),
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    /// The algorithm of the `jsonwebtoken` crate.
    fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

/// One key tokens may be signed with; it only ever checks its own algorithm.
struct VerifyingKey {
    kid: Option<String>,
    alg: JwsAlgorithm,
    key: jsonwebtoken::DecodingKey,
    /// The signature check of `alg` alone; the claims are checked afterwards.
    validation: Validation,
}

impl VerifyingKey {
    fn new(kid: Option<String>, key: Key) -> Self {
        let mut validation = Validation::new(key.alg.jsonwebtoken());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        Self {
            kid,
            alg: key.alg,
            key: key.key,
            validation,
        }
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenError {
    /// The token is not valid (401, `invalid_token`).
    Invalid(String),
    /// The token is valid but names no tenant and there is no default (403).
    NoTenant(String),
}

fn invalid(detail: impl Into<String>) -> TokenError {
    TokenError::Invalid(detail.into())
}

/// The JOSE header fields that choose the keys.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Checks bearer tokens against the configured keys and claims.
pub(super) struct JwtVerifier {
    keys: Vec<VerifyingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: f64,
    tenant_claim: String,
    default_tenant: Option<TenantId>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|key| match &key.kid {
                Some(kid) => format!("{} ({kid})", key.alg.name()),
                None => key.alg.name().to_owned(),
            })
            .collect();
        f.debug_struct("JwtVerifier")
            .field("keys", &keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("tenant_claim", &self.tenant_claim)
            .field("default_tenant", &self.default_tenant)
            .finish()
    }
}

fn configured_key(index: usize, key: &JwtKey) -> Result<VerifyingKey, AuthConfigError> {
    let name = match &key.kid {
        Some(kid) => format!("oauth2.keys[{index}] (kid '{kid}')"),
        None => format!("oauth2.keys[{index}]"),
    };
    let error = |detail: String| AuthConfigError::new(format!("{name}: {detail}"));
    let kid = key.kid.clone();
    match key.alg {
        JwsAlgorithm::Hs256 => {
            if key.public_key_pem.is_some() {
                return Err(error(
                    "an HS256 key takes a secret, not publicKeyPem".to_owned(),
                ));
            }
            let secret = match (&key.secret, &key.secret_base64) {
                (Some(secret), None) => secret.as_bytes().to_vec(),
                (None, Some(encoded)) => {
                    let encoded = encoded.trim();
                    STANDARD_PAD_INDIFFERENT
                        .decode(encoded)
                        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
                        .map_err(|_| error("secretBase64 is not base64".to_owned()))?
                }
                _ => {
                    return Err(error(
                        "an HS256 key needs exactly one of secret and secretBase64".to_owned(),
                    ));
                }
            };
            keys::secret(&secret)
                .map(|key| VerifyingKey::new(kid, key))
                .map_err(error)
        }
        JwsAlgorithm::Rs256 | JwsAlgorithm::Es256 => {
            if key.secret.is_some() || key.secret_base64.is_some() {
                return Err(error(format!(
                    "an {} key takes publicKeyPem, not a secret",
                    key.alg.name()
                )));
            }
            let pem = key
                .public_key_pem
                .as_deref()
                .ok_or_else(|| error("publicKeyPem is missing".to_owned()))?;
            keys::public_key_pem(key.alg, pem)
                .map(|key| VerifyingKey::new(kid, key))
                .map_err(error)
        }
    }
}

fn jwks_keys(text: &str) -> Result<Vec<VerifyingKey>, AuthConfigError> {
    let jwks: JwkSet = serde_json::from_str(text).map_err(|error| {
        AuthConfigError::new(format!(
            "oauth2.jwks is not a JWK Set ({{\"keys\": [...]}}): {error}"
        ))
    })?;
    let mut keys = Vec::new();
    for (index, jwk) in jwks.keys.iter().enumerate() {
        let kid = jwk.common.key_id.clone();
        match keys::jwk_key(jwk) {
            Ok(Some(key)) => keys.push(VerifyingKey::new(kid, key)),
            Ok(None) => tracing::info!(
                index,
                kid = kid.as_deref().unwrap_or(""),
                "skipping a JWKS key this server does not verify with"
            ),
            Err(detail) => {
                let name = match &kid {
                    Some(kid) => format!("oauth2.jwks key {index} (kid '{kid}')"),
                    None => format!("oauth2.jwks key {index}"),
                };
                return Err(AuthConfigError::new(format!("{name}: {detail}")));
            }
        }
    }
    if keys.is_empty() {
        return Err(AuthConfigError::new(
            "oauth2.jwks has no RS256, ES256 or HS256 signing key",
        ));
    }
    Ok(keys)
}

/// A NumericDate claim, or `None` when absent.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(format!("the '{name}' claim is not a usable number"))),
        Some(_) => Err(invalid(format!(
            "the '{name}' claim is not a number of seconds"
        ))),
    }
}

/// A NumericDate as RFC 3339 text.
fn timestamp(seconds: f64) -> String {
    chrono::DateTime::from_timestamp(seconds.floor() as i64, 0).map_or_else(
        || format!("{seconds} s after the epoch"),
        |time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// The strings of a claim that is a space-separated string or an array of strings.
fn scope_list(value: &Value, name: &str, scopes: &mut Vec<String>) -> Result<(), TokenError> {
    match value {
        Value::String(text) => scopes.extend(text.split_whitespace().map(str::to_owned)),
        Value::Array(items) => {
            for item in items {
                let text = item.as_str().ok_or_else(|| {
                    invalid(format!("the '{name}' claim holds something not a string"))
                })?;
                scopes.push(text.to_owned());
            }
        }
        _ => {
            return Err(invalid(format!(
                "the '{name}' claim is neither a string nor an array"
            )));
        }
    }
    Ok(())
}

/// Decodes a base64url part of the token.
fn part(text: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid(format!("the token's {what} is not base64url")))
}

impl JwtVerifier {
    /// The verifier of an `oauth2` configuration.
    pub(super) fn new(config: &OAuth2Config) -> Result<Self, AuthConfigError> {
        // The RustCrypto backend, unless the embedder installed one before.
        let _already_installed =
            jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut keys = config
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| configured_key(index, key))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(jwks) = &config.jwks {
            keys.extend(jwks_keys(jwks)?);
        }
        if keys.is_empty() {
            return Err(AuthConfigError::new(
                "oauth2 needs at least one key (keys or jwks)",
            ));
        }
        if config.tenant_claim.is_empty() {
            return Err(AuthConfigError::new("oauth2.tenantClaim is empty"));
        }
        Ok(Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_seconds as f64,
            tenant_claim: config.tenant_claim.clone(),
            default_tenant: config.default_tenant.clone(),
        })
    }

    /// Verifies a compact JWS at time `now` (seconds since the epoch) and maps its
    /// claims to a principal.
    pub(super) fn verify(&self, token: &str, now: f64) -> Result<Principal, TokenError> {
        let claims = self.verified_claims(token)?;
        self.check_claims(&claims, now)?;
        self.principal(&claims)
    }

    /// The claims of a token whose signature a configured key verifies.
    fn verified_claims(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid(format!(
                "the token is longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header_part, payload_part, signature_part] = parts[..] else {
            return Err(invalid(if parts.len() == 5 {
                "encrypted tokens (JWE) are not supported".to_owned()
            } else {
                "the token is not a JWT (three base64url parts separated by '.')".to_owned()
            }));
        };
        let header: Header = serde_json::from_slice(&part(header_part, "header")?)
            .map_err(|_| invalid("the token's header is not a valid JOSE header"))?;
        let alg_name = header
            .alg
            .ok_or_else(|| invalid("the token's header has no 'alg'"))?;
        let alg = match JwsAlgorithm::from_name(&alg_name) {
            Some(alg) => alg,
            None if alg_name.eq_ignore_ascii_case("none") => {
                return Err(invalid("unsigned tokens (alg 'none') are never accepted"));
            }
            None => {
                return Err(invalid(format!(
                    "the token's alg '{}' is not supported (HS256, RS256, ES256 are)",
                    printable(&alg_name, 16)
                )));
            }
        };
        if header.crit.is_some() {
            return Err(invalid(
                "the token's header has critical extensions ('crit') this server does not understand",
            ));
        }
        let candidates: Vec<&VerifyingKey> = match &header.kid {
            Some(kid) => {
                let with_kid: Vec<&VerifyingKey> = self
                    .keys
                    .iter()
                    .filter(|key| key.kid.as_deref() == Some(kid.as_str()))
                    .collect();
                if with_kid.is_empty() {
                    return Err(invalid(format!(
                        "the token's key id (kid '{}') is unknown",
                        printable(kid, 64)
                    )));
                }
                let matching: Vec<&VerifyingKey> = with_kid
                    .iter()
                    .copied()
                    .filter(|key| key.alg == alg)
                    .collect();
                if matching.is_empty() {
                    return Err(invalid(format!(
                        "the key '{}' is for {}, not for the token's alg {}",
                        printable(kid, 64),
                        with_kid
                            .first()
                            .map_or("another algorithm", |key| key.alg.name()),
                        alg.name()
                    )));
                }
                matching
            }
            None => {
                let matching: Vec<&VerifyingKey> =
                    self.keys.iter().filter(|key| key.alg == alg).collect();
                if matching.is_empty() {
                    return Err(invalid(format!(
                        "no key for the token's alg {} is configured",
                        alg.name()
                    )));
                }
                matching
            }
        };
        // Checked here so that what the crate reports below can only be about the
        // signature or the payload's JSON.
        part(signature_part, "signature")?;
        part(payload_part, "payload")?;
        if jsonwebtoken::decode_header(token).is_err() {
            return Err(invalid("the token's header is not a valid JOSE header"));
        }
        let mut unusable = None;
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &key.validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) => match error.kind() {
                    ErrorKind::InvalidSignature => {}
                    ErrorKind::Json(_) => {
                        return Err(invalid("the token's payload is not a JSON object"));
                    }
                    ErrorKind::InvalidToken => {
                        return Err(invalid(
                            "the token is not a valid JWS (its header asks for what this server does not do)",
                        ));
                    }
                    _ => unusable = Some(error),
                },
            }
        }
        Err(invalid(match unusable {
            Some(error) => format!("the token could not be checked: {error}"),
            None => "the token's signature is not valid".to_owned(),
        }))
    }

    /// The time and audience checks.
    fn check_claims(&self, claims: &Map<String, Value>, now: f64) -> Result<(), TokenError> {
        let expiry = numeric_date(claims, "exp")?
            .ok_or_else(|| invalid("the token has no expiry ('exp' claim)"))?;
        if now >= expiry + self.leeway {
            return Err(invalid(format!(
                "the token expired at {}",
                timestamp(expiry)
            )));
        }
        if let Some(not_before) = numeric_date(claims, "nbf")?
            && now + self.leeway < not_before
        {
            return Err(invalid(format!(
                "the token is not valid before {}",
                timestamp(not_before)
            )));
        }
        if let Some(issued) = numeric_date(claims, "iat")?
            && now + self.leeway < issued
        {
            return Err(invalid(format!(
                "the token is issued in the future, at {}",
                timestamp(issued)
            )));
        }
        if let Some(issuer) = &self.issuer {
            match claims.get("iss") {
                Some(Value::String(iss)) if iss == issuer => {}
                Some(Value::String(iss)) => {
                    return Err(invalid(format!(
                        "the token's issuer '{}' is not the one this server trusts",
                        printable(iss, 128)
                    )));
                }
                _ => return Err(invalid("the token has no issuer ('iss' claim)")),
            }
        }
        if let Some(audience) = &self.audience {
            let meant_for_us = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
                Some(_) => return Err(invalid("the token's 'aud' claim is malformed")),
                None => return Err(invalid("the token has no audience ('aud' claim)")),
            };
            if !meant_for_us {
                return Err(invalid(format!(
                    "the token is for another audience, not '{audience}'"
                )));
            }
        }
        Ok(())
    }

    /// The principal the claims describe.
    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, TokenError> {
        let subject = ["sub", "client_id", "azp"]
            .iter()
            .find_map(|name| claims.get(*name).and_then(Value::as_str))
            .filter(|subject| !subject.is_empty())
            .ok_or_else(|| invalid("the token has no subject ('sub' claim)"))?
            .to_owned();
        let mut scopes = Vec::new();
        for name in ["scope", "scp"] {
            if let Some(value) = claims.get(name) {
                scope_list(value, name, &mut scopes)?;
            }
        }
        let mut seen = std::collections::HashSet::new();
        scopes.retain(|scope| seen.insert(scope.clone()));
        let tenant = match claims.get(&self.tenant_claim) {
            Some(Value::String(tenant)) if !tenant.is_empty() => TenantId::new(tenant.as_str()),
            Some(Value::String(_)) | None => match &self.default_tenant {
                Some(tenant) => tenant.clone(),
                None => {
                    return Err(TokenError::NoTenant(format!(
                        "the token names no tenant (claim '{}') and this server has no default tenant",
                        self.tenant_claim
                    )));
                }
            },
            Some(_) => {
                return Err(invalid(format!(
                    "the token's '{}' claim is not a string",
                    self.tenant_claim
                )));
            }
        };
        Ok(Principal {
            subject,
            tenant,
            scopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::hmac;

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
    }

    fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", encode(header), encode(claims));
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn verifier(config: OAuth2Config) -> JwtVerifier {
        JwtVerifier::new(&config).expect("verifier")
    }

    fn hs_config() -> OAuth2Config {
        OAuth2Config {
            keys: vec![JwtKey {
                alg: JwsAlgorithm::Hs256,
                kid: None,
                secret: Some(SECRET.to_owned()),
                secret_base64: None,
                public_key_pem: None,
            }],
            default_tenant: Some(TenantId::new("fallback")),
            ..OAuth2Config::default()
        }
    }

    #[test]
    fn maps_claims_to_a_principal() {
        let verifier = verifier(hs_config());
        let token = hs256(
            SECRET.as_bytes(),
            &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
            &serde_json::json!({
                "sub": "alice", "exp": 2000.5, "scope": "vnflcm vims:readonly",
                "scp": ["vnflcm", "vnfpkgm"],
            }),
        );
        let principal = verifier.verify(&token, 1000.0).expect("valid");
        assert_eq!(principal.subject, "alice");
        assert_eq!(principal.tenant, TenantId::new("fallback"));
        assert_eq!(principal.scopes, ["vnflcm", "vims:readonly", "vnfpkgm"]);
        // Within the leeway, then past it.
        assert!(verifier.verify(&token, 2050.0).is_ok());
        let Err(TokenError::Invalid(detail)) = verifier.verify(&token, 2061.0) else {
            panic!("expired");
        };
        assert_eq!(detail, "the token expired at 1970-01-01T00:33:20Z");
    }

    #[test]
    fn refuses_malformed_tokens() {
        let verifier = verifier(hs_config());
        for token in [
            "",
            "a.b",
            "a.b.c.d.e",
            "!!.e30.AA",
            "e30.e30.AA",
            &hs256(
                SECRET.as_bytes(),
                &serde_json::json!({"alg": "HS256", "crit": ["b64"]}),
                &serde_json::json!({"sub": "a", "exp": 2000}),
            ),
            &hs256(
                SECRET.as_bytes(),
                &serde_json::json!({"alg": "HS256"}),
                &serde_json::json!({"sub": "a", "exp": "2000"}),
            ),
            &hs256(
                SECRET.as_bytes(),
                &serde_json::json!({"alg": "HS256"}),
                &serde_json::json!({"sub": "a"}),
            ),
            &hs256(
                SECRET.as_bytes(),
                &serde_json::json!({"alg": "HS256"}),
                &serde_json::json!(["not", "an", "object"]),
            ),
            &"a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(
                matches!(verifier.verify(token, 1000.0), Err(TokenError::Invalid(_))),
                "{token}"
            );
        }
    }

    #[test]
    fn only_the_algorithm_of_the_key_is_tried() {
        // The HS256 key's secret is the text of an RSA public key: a token "signed" with
        // it under RS256 is refused for want of an RS256 key, not checked as HMAC.
        let rsa = include_str!("../../../tests/fixtures/rsa2048-public.pem");
        let verifier = verifier(OAuth2Config {
            keys: vec![JwtKey {
                alg: JwsAlgorithm::Hs256,
                kid: Some("h".to_owned()),
                secret: Some(rsa.to_owned()),
                secret_base64: None,
                public_key_pem: None,
            }],
            ..hs_config()
        });
        let claims = serde_json::json!({"sub": "a", "exp": 2000});
        let token = hs256(
            rsa.as_bytes(),
            &serde_json::json!({"alg": "RS256"}),
            &claims,
        );
        assert_eq!(
            verifier.verify(&token, 1000.0),
            Err(TokenError::Invalid(
                "no key for the token's alg RS256 is configured".to_owned()
            ))
        );
        let token = hs256(
            rsa.as_bytes(),
            &serde_json::json!({"alg": "RS256", "kid": "h"}),
            &claims,
        );
        assert_eq!(
            verifier.verify(&token, 1000.0),
            Err(TokenError::Invalid(
                "the key 'h' is for HS256, not for the token's alg RS256".to_owned()
            ))
        );
        let token = hs256(
            rsa.as_bytes(),
            &serde_json::json!({"alg": "HS256"}),
            &claims,
        );
        assert!(verifier.verify(&token, 1000.0).is_ok());
        // Unencoded payloads (RFC 7797) are not for JWTs.
        let token = hs256(
            rsa.as_bytes(),
            &serde_json::json!({"alg": "HS256", "b64": false}),
            &claims,
        );
        assert!(matches!(
            verifier.verify(&token, 1000.0),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn needs_a_tenant_without_a_default() {
        let verifier = verifier(OAuth2Config {
            default_tenant: None,
            tenant_claim: "https://example.com/tenant".to_owned(),
            ..hs_config()
        });
        let header = serde_json::json!({"alg": "HS256"});
        let without = hs256(
            SECRET.as_bytes(),
            &header,
            &serde_json::json!({"sub": "a", "exp": 2000}),
        );
        assert!(matches!(
            verifier.verify(&without, 1000.0),
            Err(TokenError::NoTenant(_))
        ));
        let with = hs256(
            SECRET.as_bytes(),
            &header,
            &serde_json::json!({"sub": "a", "exp": 2000, "https://example.com/tenant": "t1"}),
        );
        let principal = verifier.verify(&with, 1000.0).expect("valid");
        assert_eq!(principal.tenant, TenantId::new("t1"));
    }

    #[test]
    fn refuses_bad_key_configurations() {
        let key = |alg, secret: Option<&str>, pem: Option<&str>| OAuth2Config {
            keys: vec![JwtKey {
                alg,
                kid: None,
                secret: secret.map(str::to_owned),
                secret_base64: None,
                public_key_pem: pem.map(str::to_owned),
            }],
            ..OAuth2Config::default()
        };
        let rsa = include_str!("../../../tests/fixtures/rsa2048-public.pem");
        let ec = include_str!("../../../tests/fixtures/ec-p256-public.pem");
        assert!(JwtVerifier::new(&OAuth2Config::default()).is_err());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Hs256, Some("short"), None)).is_err());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Hs256, None, Some(rsa))).is_err());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Rs256, None, Some(ec))).is_err());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Es256, None, Some(rsa))).is_err());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Rs256, Some(SECRET), Some(rsa))).is_err());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Rs256, None, Some(rsa))).is_ok());
        assert!(JwtVerifier::new(&key(JwsAlgorithm::Es256, None, Some(ec))).is_ok());
        let jwks = |text: &str| OAuth2Config {
            jwks: Some(text.to_owned()),
            ..OAuth2Config::default()
        };
        assert!(JwtVerifier::new(&jwks("{}")).is_err());
        assert!(JwtVerifier::new(&jwks(r#"{"keys": []}"#)).is_err());
        // Only keys of unsupported kinds: nothing to verify with.
        assert!(
            JwtVerifier::new(&jwks(
                r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}, {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}]}"#
            ))
            .is_err()
        );
        // A supported kind, malformed.
        assert!(
            JwtVerifier::new(&jwks(
                r#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}"#
            ))
            .is_err()
        );
        // A kind this server verifies with, without its members.
        let Err(error) = JwtVerifier::new(&jwks(r#"{"keys": [{"kty": "RSA", "kid": "r"}]}"#))
        else {
            panic!("an RSA key without n and e must be refused");
        };
        assert!(
            error
                .to_string()
                .contains("(kid 'r'): an RSA key needs 'n' and 'e'"),
            "{error}"
        );
        // Keys for other algorithms are skipped, not refused.
        let k = URL_SAFE_NO_PAD.encode(SECRET);
        assert!(
            JwtVerifier::new(&jwks(&format!(
                r#"{{"keys": [{{"kty": "oct", "alg": "HS512", "k": "{k}"}}, {{"kty": "oct", "k": "{k}"}}]}}"#
            )))
            .is_ok_and(|verifier| verifier.keys.len() == 1)
        );
        assert!(
            JwtVerifier::new(&jwks(&format!(
                r#"{{"keys": [{{"kty": "oct", "kid": "h", "k": "{k}"}}]}}"#
            )))
            .is_ok()
        );
    }
}
