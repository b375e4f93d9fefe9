//! The authentication middleware: Basic users, JWT bearer tokens (HS256, RS256, ES256,
//! JWKS) and the scopes each API needs.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};
use tacker_api::Principal;
use tacker_api::rest::auth::{
    AuthConfig, Authenticator, BasicConfig, BasicUser, CertificateUser, JwsAlgorithm, JwtKey,
    OAuth2Config, authenticate, hash_password_with_iterations,
};
use tacker_core::TenantId;
use tower::ServiceExt as _;

const SECRET: &str = "a shared HS256 secret of 32+ bytes, for tests";
const RSA_PRIVATE_PEM: &str = include_str!("fixtures/rsa2048-private.pem");
const RSA_PUBLIC_PEM: &str = include_str!("fixtures/rsa2048-public.pem");
const ISSUER: &str = "https://idp.example.com/realms/nfv";
const AUDIENCE: &str = "tacker";

/// The DER of a PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("PEM base64")
}

/// The SubjectPublicKeyInfo PEM of a P-256 point.
fn ec_public_pem(point: &[u8]) -> String {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (point) }
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    der.extend_from_slice(point);
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("ASCII"))
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs() as i64)
        .expect("a clock after 1970")
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
}

/// The signing keys of the tests.
struct Keys {
    rng: SystemRandom,
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    ec_pem: String,
}

impl Keys {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::from_pkcs8(&pem_der(RSA_PRIVATE_PEM)).expect("the RSA fixture");
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("an EC key");
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the EC key");
        let ec_pem = ec_public_pem(ec.public_key().as_ref());
        Self {
            rng,
            rsa,
            ec,
            ec_pem,
        }
    }

    /// A token with `header` and `claims`, signed as the header's `alg` says.
    fn sign(&self, header: Value, claims: Value) -> String {
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let signature = match header["alg"].as_str() {
            Some("HS256") => hmac_sign(SECRET.as_bytes(), &input),
            Some("RS256") => {
                let mut signature = vec![0; self.rsa.public().modulus_len()];
                self.rsa
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &self.rng,
                        input.as_bytes(),
                        &mut signature,
                    )
                    .expect("RSA signature");
                signature
            }
            Some("ES256") => self
                .ec
                .sign(&self.rng, input.as_bytes())
                .expect("EC signature")
                .as_ref()
                .to_vec(),
            _ => Vec::new(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The JWK Set of the RSA and the EC public keys, with the kids `jwks-rsa` and
    /// `jwks-ec`.
    fn jwks(&self) -> String {
        let rsa = RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        let point = self.ec.public_key().as_ref();
        json!({"keys": [
            {"kty": "RSA", "kid": "jwks-rsa", "use": "sig", "alg": "RS256",
             "n": URL_SAFE_NO_PAD.encode(&rsa.n), "e": URL_SAFE_NO_PAD.encode(&rsa.e)},
            {"kty": "EC", "kid": "jwks-ec", "crv": "P-256",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"},
        ]})
        .to_string()
    }
}

fn hmac_sign(secret: &[u8], input: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
}

/// The claims of a valid token, for the tenant `t1`.
fn claims(scope: &str) -> Value {
    let now = now();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "client-1",
        "tenant": "t1",
        "scope": scope,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 300,
    })
}

fn key(alg: JwsAlgorithm, kid: &str) -> JwtKey {
    JwtKey {
        alg,
        kid: Some(kid.to_owned()),
        secret: None,
        secret_base64: None,
        public_key_pem: None,
    }
}

fn oauth2(keys: &Keys) -> OAuth2Config {
    OAuth2Config {
        keys: vec![
            JwtKey {
                secret: Some(SECRET.to_owned()),
                ..key(JwsAlgorithm::Hs256, "hs")
            },
            JwtKey {
                public_key_pem: Some(RSA_PUBLIC_PEM.to_owned()),
                ..key(JwsAlgorithm::Rs256, "rsa")
            },
            JwtKey {
                public_key_pem: Some(keys.ec_pem.clone()),
                ..key(JwsAlgorithm::Es256, "ec")
            },
        ],
        jwks: Some(keys.jwks()),
        issuer: Some(ISSUER.to_owned()),
        audience: Some(AUDIENCE.to_owned()),
        ..OAuth2Config::default()
    }
}

fn basic() -> BasicConfig {
    let hash = |password| hash_password_with_iterations(password, 1000).expect("a hash");
    BasicConfig {
        users: vec![
            BasicUser {
                name: "alice".to_owned(),
                password_hash: hash("wonderland"),
                tenant: TenantId::new("t-alice"),
                scopes: vec!["vnflcm".to_owned(), "vims:readonly".to_owned()],
            },
            BasicUser {
                name: "root".to_owned(),
                password_hash: hash("toor"),
                tenant: TenantId::default(),
                scopes: vec!["admin".to_owned()],
            },
        ],
        ..BasicConfig::default()
    }
}

/// What the echo handler saw.
async fn echo(principal: Option<Extension<Principal>>) -> Json<Value> {
    Json(match principal {
        Some(Extension(principal)) => json!({
            "subject": principal.subject,
            "tenant": principal.tenant.as_str(),
            "scopes": principal.scopes,
        }),
        None => Value::Null,
    })
}

fn app(config: AuthConfig) -> Router {
    let authenticator = Authenticator::new(config).expect("a valid configuration");
    Router::new()
        .route("/vnflcm/v2/vnf_instances", get(echo).post(echo))
        .route("/vnflcm/v2/vnf_instances/{id}", get(echo).delete(echo))
        .route("/vnflcm/v2/api_versions", get(echo))
        .route("/vims/vims", get(echo).post(echo))
        .route("/healthz", get(echo))
        .route("/metrics", get(echo))
        .layer(from_fn_with_state(Arc::new(authenticator), authenticate))
}

fn both(keys: &Keys) -> Router {
    app(AuthConfig {
        basic: Some(basic()),
        oauth2: Some(oauth2(keys)),
        ..AuthConfig::default()
    })
}

/// An answer: status, headers and the JSON body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn challenges(&self) -> Vec<String> {
        self.headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|value| value.to_str().expect("ASCII").to_owned())
            .collect()
    }

    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// Asserts a ProblemDetails answer with `status`.
    fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status.as_u16());
    }

    /// Asserts a 401 refusing a bearer token, whose detail contains `needle`.
    fn assert_bad_token(&self, needle: &str) {
        self.assert_problem(StatusCode::UNAUTHORIZED);
        assert!(self.detail().contains(needle), "{}", self.detail());
        let bearer = self
            .challenges()
            .into_iter()
            .find(|c| c.starts_with("Bearer "))
            .expect("a Bearer challenge");
        assert!(
            bearer.starts_with(
                r#"Bearer realm="tacker", error="invalid_token", error_description=""#
            ),
            "{bearer}"
        );
    }
}

async fn call(app: &Router, method: Method, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

async fn get_with(app: &Router, path: &str, authorization: &str) -> Answer {
    call(app, Method::GET, path, Some(authorization)).await
}

fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn basic_users_are_authenticated() {
    let app = app(AuthConfig {
        basic: Some(basic()),
        ..AuthConfig::default()
    });
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &basic_auth("alice", "wonderland"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"subject": "alice", "tenant": "t-alice", "scopes": ["vnflcm", "vims:readonly"]})
    );
    // Again (from the login cache), and with a lower-case scheme.
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &basic_auth("alice", "wonderland").replacen("Basic", "basic", 1),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);

    for authorization in [
        basic_auth("alice", "wonderland!"),
        basic_auth("alice", ""),
        basic_auth("bob", "wonderland"),
    ] {
        let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &authorization).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
        assert_eq!(answer.detail(), "the user name or the password is wrong");
        assert_eq!(
            answer.challenges(),
            [r#"Basic realm="tacker", charset="UTF-8""#]
        );
        assert!(!answer.body.to_string().contains("wonderland"));
    }
    for (authorization, detail) in [
        ("Basic !!!", "not base64"),
        ("Basic bm9jb2xvbg==", "user:password"),
        ("Bearer abc", "bearer tokens are not enabled"),
        ("Digest abc", "scheme 'Digest' is not supported"),
    ] {
        let answer = get_with(&app, "/vnflcm/v2/vnf_instances", authorization).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
        assert!(answer.detail().contains(detail), "{}", answer.detail());
    }
}

#[tokio::test]
async fn missing_credentials_get_a_challenge_per_scheme() {
    let keys = Keys::new();
    let app = both(&keys);
    let answer = call(&app, Method::GET, "/vnflcm/v2/vnf_instances", None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenges(),
        [
            r#"Basic realm="tacker", charset="UTF-8""#,
            r#"Bearer realm="tacker""#
        ]
    );
    assert!(
        answer.detail().contains("Basic or Bearer"),
        "{}",
        answer.detail()
    );
    // api_versions needs authentication too, and so does /metrics; /healthz does not.
    let answer = call(&app, Method::GET, "/vnflcm/v2/api_versions", None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);
    let answer = call(&app, Method::GET, "/metrics", None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);
    let answer = call(&app, Method::GET, "/healthz", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, Value::Null);
}

#[tokio::test]
async fn either_scheme_works_when_both_are_on() {
    let keys = Keys::new();
    let app = both(&keys);
    let answer = get_with(&app, "/vims/vims", &basic_auth("alice", "wonderland")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let token = keys.sign(json!({"alg": "RS256", "kid": "rsa"}), claims("vims"));
    let answer = get_with(&app, "/vims/vims", &bearer(&token)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["subject"], "client-1");
}

#[tokio::test]
async fn valid_tokens_of_every_algorithm_are_accepted() {
    let keys = Keys::new();
    let app = both(&keys);
    let headers = [
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"alg": "HS256", "kid": "hs"}),
        json!({"alg": "RS256"}),
        json!({"alg": "RS256", "kid": "rsa"}),
        json!({"alg": "RS256", "kid": "jwks-rsa"}),
        json!({"alg": "ES256"}),
        json!({"alg": "ES256", "kid": "ec"}),
        json!({"alg": "ES256", "kid": "jwks-ec"}),
    ];
    for header in headers {
        let token = keys.sign(header.clone(), claims("vnflcm vims:readonly"));
        let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{header}: {}", answer.body);
        assert_eq!(
            answer.body,
            json!({"subject": "client-1", "tenant": "t1", "scopes": ["vnflcm", "vims:readonly"]}),
            "{header}"
        );
    }
    // `aud` may be an array, `scp` an array.
    let mut claims = claims("");
    claims["aud"] = json!(["other", AUDIENCE]);
    claims["scp"] = json!(["vnflcm"]);
    let token = keys.sign(json!({"alg": "ES256"}), claims);
    let answer = call(
        &app,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(&bearer(&token)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["scopes"], json!(["vnflcm"]));
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let keys = Keys::new();
    let app = both(&keys);
    let header = json!({"alg": "RS256", "kid": "rsa"});

    let mut expired = claims("vnflcm");
    expired["exp"] = json!(now() - 3600);
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &bearer(&keys.sign(header.clone(), expired)),
    )
    .await;
    answer.assert_bad_token("the token expired at ");

    // Within the default leeway of 60 s.
    let mut just_expired = claims("vnflcm");
    just_expired["exp"] = json!(now() - 20);
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &bearer(&keys.sign(header.clone(), just_expired)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);

    let mut early = claims("vnflcm");
    early["nbf"] = json!(now() + 3600);
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &bearer(&keys.sign(header.clone(), early)),
    )
    .await;
    answer.assert_bad_token("not valid before");

    let mut future = claims("vnflcm");
    future["iat"] = json!(now() + 3600);
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &bearer(&keys.sign(header.clone(), future)),
    )
    .await;
    answer.assert_bad_token("issued in the future");

    let mut eternal = claims("vnflcm");
    eternal.as_object_mut().expect("claims").remove("exp");
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &bearer(&keys.sign(header, eternal)),
    )
    .await;
    answer.assert_bad_token("no expiry");
}

#[tokio::test]
async fn issuer_and_audience_are_checked() {
    let keys = Keys::new();
    let app = both(&keys);
    let header = json!({"alg": "ES256", "kid": "ec"});
    for (claim, value, detail) in [
        ("iss", json!("https://evil.example.com"), "issuer"),
        ("iss", Value::Null, "issuer"),
        ("aud", json!("someone-else"), "another audience"),
        ("aud", json!(["a", "b"]), "another audience"),
        ("aud", json!(42), "'aud' claim is malformed"),
    ] {
        let mut claims = claims("vnflcm");
        if value.is_null() {
            claims.as_object_mut().expect("claims").remove(claim);
        } else {
            claims[claim] = value;
        }
        let answer = get_with(
            &app,
            "/vnflcm/v2/vnf_instances",
            &bearer(&keys.sign(header.clone(), claims)),
        )
        .await;
        answer.assert_bad_token(detail);
    }
}

#[tokio::test]
async fn algorithm_confusion_and_unsigned_tokens_are_refused() {
    let keys = Keys::new();
    // Only the RSA key is configured.
    let app = app(AuthConfig {
        oauth2: Some(OAuth2Config {
            keys: vec![JwtKey {
                public_key_pem: Some(RSA_PUBLIC_PEM.to_owned()),
                ..key(JwsAlgorithm::Rs256, "rsa")
            }],
            default_tenant: Some(TenantId::default()),
            ..OAuth2Config::default()
        }),
        ..AuthConfig::default()
    });
    let rs256 = keys.sign(json!({"alg": "RS256"}), claims("vnflcm"));
    let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&rs256)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    // HS256 "signed" with the RSA public key (its PEM text and its DER) as the secret.
    for (header, secret) in [
        (json!({"alg": "HS256"}), RSA_PUBLIC_PEM.as_bytes().to_vec()),
        (
            json!({"alg": "HS256", "kid": "rsa"}),
            RSA_PUBLIC_PEM.as_bytes().to_vec(),
        ),
        (json!({"alg": "HS256"}), pem_der(RSA_PUBLIC_PEM)),
    ] {
        let input = format!("{}.{}", b64(&header), b64(&claims("vnflcm")));
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(hmac_sign(&secret, &input))
        );
        let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&token)).await;
        answer.assert_bad_token("HS256");
    }

    // alg none, with and without a signature part, in any case.
    for alg in ["none", "None", "NONE"] {
        let input = format!("{}.{}", b64(&json!({"alg": alg})), b64(&claims("vnflcm")));
        for token in [format!("{input}."), input.clone()] {
            let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&token)).await;
            answer.assert_bad_token("");
            if token.ends_with('.') {
                assert!(answer.detail().contains("'none'"), "{}", answer.detail());
            }
        }
    }

    // Other algorithms are not supported.
    let input = format!(
        "{}.{}",
        b64(&json!({"alg": "RS512"})),
        b64(&claims("vnflcm"))
    );
    let answer = get_with(
        &app,
        "/vnflcm/v2/vnf_instances",
        &bearer(&format!("{input}.AAAA")),
    )
    .await;
    answer.assert_bad_token("'RS512' is not supported");
}

#[tokio::test]
async fn tampered_tokens_and_unknown_keys_are_refused() {
    let keys = Keys::new();
    let app = both(&keys);
    for header in [
        json!({"alg": "RS256", "kid": "rsa"}),
        json!({"alg": "ES256", "kid": "ec"}),
        json!({"alg": "HS256", "kid": "hs"}),
    ] {
        let token = keys.sign(header.clone(), claims("vnflcm"));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // Another tenant in the payload, the signature kept.
        let mut forged = claims("vnflcm admin");
        forged["tenant"] = json!("someone-else");
        parts[1] = b64(&forged);
        let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&parts.join("."))).await;
        answer.assert_bad_token("signature is not valid");
        // A truncated signature.
        let token = keys.sign(header.clone(), claims("vnflcm"));
        let answer = get_with(
            &app,
            "/vnflcm/v2/vnf_instances",
            &bearer(&token[..token.len() - 4]),
        )
        .await;
        answer.assert_bad_token("signature");
        // No secrets in the answer.
        assert!(!answer.body.to_string().contains(SECRET));
    }

    let token = keys.sign(json!({"alg": "RS256", "kid": "retired"}), claims("vnflcm"));
    let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&token)).await;
    answer.assert_bad_token("kid 'retired') is unknown");

    // A kid naming a key of another algorithm.
    let token = keys.sign(json!({"alg": "ES256", "kid": "rsa"}), claims("vnflcm"));
    let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(&token)).await;
    answer.assert_bad_token("is for RS256");

    for garbage in ["", "abc", "a.b", "a.b.c.d.e", "e30.e30.e30"] {
        let answer = get_with(&app, "/vnflcm/v2/vnf_instances", &bearer(garbage)).await;
        answer.assert_bad_token("");
    }
}

#[tokio::test]
async fn scopes_decide_what_a_caller_may_do() {
    let keys = Keys::new();
    let app = both(&keys);
    let token = |scope| bearer(&keys.sign(json!({"alg": "HS256"}), claims(scope)));

    let reader = token("vnflcm:readonly");
    let answer = call(&app, Method::GET, "/vnflcm/v2/vnf_instances", Some(&reader)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = call(
        &app,
        Method::HEAD,
        "/vnflcm/v2/vnf_instances",
        Some(&reader),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = call(
        &app,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(&reader),
    )
    .await;
    answer.assert_problem(StatusCode::FORBIDDEN);
    assert!(
        answer.detail().contains("needs the scope 'vnflcm'"),
        "{}",
        answer.detail()
    );
    assert_eq!(
        answer.challenges(),
        [r#"Bearer realm="tacker", error="insufficient_scope", scope="vnflcm""#]
    );
    // Another API's scope does not help.
    let answer = call(&app, Method::GET, "/vims/vims", Some(&reader)).await;
    answer.assert_problem(StatusCode::FORBIDDEN);
    assert!(
        answer.detail().contains("'vims:readonly'"),
        "{}",
        answer.detail()
    );
    // api_versions needs no scope.
    let answer = call(
        &app,
        Method::GET,
        "/vnflcm/v2/api_versions",
        Some(&token("")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    // ... but a resource whose id is `api_versions` does.
    for method in [Method::GET, Method::DELETE] {
        let answer = call(
            &app,
            method,
            "/vnflcm/v2/vnf_instances/api_versions",
            Some(&token("")),
        )
        .await;
        answer.assert_problem(StatusCode::FORBIDDEN);
    }

    let writer = token("vnflcm");
    let answer = call(
        &app,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(&writer),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);

    let admin = token("admin");
    for (method, path) in [
        (Method::POST, "/vnflcm/v2/vnf_instances"),
        (Method::POST, "/vims/vims"),
        (Method::GET, "/metrics"),
    ] {
        let answer = call(&app, method, path, Some(&admin)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
    }

    // The same with Basic users: alice has vnflcm and vims:readonly.
    let alice = basic_auth("alice", "wonderland");
    let answer = call(&app, Method::POST, "/vnflcm/v2/vnf_instances", Some(&alice)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = call(&app, Method::GET, "/vims/vims", Some(&alice)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = call(&app, Method::POST, "/vims/vims", Some(&alice)).await;
    answer.assert_problem(StatusCode::FORBIDDEN);
    assert!(answer.challenges().is_empty());
    let root = basic_auth("root", "toor");
    let answer = call(&app, Method::POST, "/vims/vims", Some(&root)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn the_tenant_comes_from_the_configured_claim() {
    let keys = Keys::new();
    let mut config = oauth2(&keys);
    config.tenant_claim = "https://tacker.example/tenant".to_owned();
    let app = app(AuthConfig {
        oauth2: Some(config.clone()),
        admin_scope: "nfv-admin".to_owned(),
        ..AuthConfig::default()
    });
    let mut with = claims("nfv-admin");
    with["https://tacker.example/tenant"] = json!("tenant-x");
    let answer = get_with(
        &app,
        "/vims/vims",
        &bearer(&keys.sign(json!({"alg": "ES256"}), with)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["tenant"], "tenant-x");

    // Without the claim (the plain `tenant` claim does not count) and no default: 403.
    let answer = get_with(
        &app,
        "/vims/vims",
        &bearer(&keys.sign(json!({"alg": "ES256"}), claims("nfv-admin"))),
    )
    .await;
    answer.assert_problem(StatusCode::FORBIDDEN);
    assert!(
        answer.detail().contains("names no tenant"),
        "{}",
        answer.detail()
    );

    // With a default tenant.
    config.default_tenant = Some(TenantId::new("fallback"));
    let app = self::app(AuthConfig {
        oauth2: Some(config),
        admin_scope: "nfv-admin".to_owned(),
        ..AuthConfig::default()
    });
    let answer = get_with(
        &app,
        "/vims/vims",
        &bearer(&keys.sign(json!({"alg": "ES256"}), claims("nfv-admin"))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["tenant"], "fallback");
    assert_eq!(answer.body["scopes"], json!(["nfv-admin"]));
}

#[tokio::test]
async fn without_authentication_everything_acts_for_one_tenant() {
    let app = app(AuthConfig::none(TenantId::new("solo")));
    let answer = call(&app, Method::POST, "/vims/vims", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"subject": "anonymous", "tenant": "solo", "scopes": ["admin"]})
    );
}

#[tokio::test]
async fn a_configuration_file_is_understood() {
    let keys = Keys::new();
    let hash = hash_password_with_iterations("pw", 1000).expect("a hash");
    let config: AuthConfig = serde_json::from_value(json!({
        "basic": {"users": [{"name": "ops", "passwordHash": hash, "scopes": ["vims"]}]},
        "oauth2": {
            "issuer": ISSUER,
            "keys": [{"alg": "ES256", "kid": "ec", "publicKeyPem": keys.ec_pem}],
            "jwks": keys.jwks(),
            "leewaySeconds": 0,
            "defaultTenant": "t0",
        },
        "publicPaths": ["/healthz", "/docs/*"],
    }))
    .expect("a configuration");
    let app = app(config);
    let answer = get_with(&app, "/vims/vims", &basic_auth("ops", "pw")).await;
    assert_eq!(answer.body["tenant"], "default");
    let mut claims = claims("vims");
    claims["exp"] = json!(now() - 5);
    let token = keys.sign(json!({"alg": "RS256", "kid": "jwks-rsa"}), claims);
    let answer = get_with(&app, "/vims/vims", &bearer(&token)).await;
    answer.assert_bad_token("expired");

    // Unknown fields are refused.
    assert!(serde_json::from_value::<AuthConfig>(json!({"basic": {"user": []}})).is_err());
    assert!(
        serde_json::from_value::<AuthConfig>(json!({"oauth2": {"keys": [{"alg": "none"}]}}))
            .is_err()
    );
}

#[tokio::test]
async fn a_yaml_configuration_is_understood() {
    let keys = Keys::new();
    let hash = hash_password_with_iterations("pw", 1000).expect("a hash");
    let pem: String = RSA_PUBLIC_PEM
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    let yaml = format!(
        r#"
basic:
  users:
    - name: operator
      passwordHash: "{hash}"
      tenant: t-ops
      scopes: [vnflcm, "vims:readonly"]
oauth2:
  issuer: {ISSUER}
  audience: {AUDIENCE}
  leewaySeconds: 30
  tenantClaim: tenant
  keys:
    - kid: idp-2024
      alg: RS256
      publicKeyPem: |
{pem}  jwks: '{jwks}'
adminScope: nfv-admin
publicPaths: [/healthz]
realm: tacker
"#,
        jwks = keys.jwks()
    );
    let config: AuthConfig = serde_saphyr::from_str(&yaml).expect("the YAML configuration");
    let app = app(config);
    let answer = get_with(&app, "/vims/vims", &basic_auth("operator", "pw")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["tenant"], "t-ops");
    for kid in ["idp-2024", "jwks-rsa"] {
        let token = keys.sign(json!({"alg": "RS256", "kid": kid}), claims("vims"));
        let answer = get_with(&app, "/vims/vims", &bearer(&token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{kid}: {}", answer.body);
    }

    let config: AuthConfig = serde_saphyr::from_str("none:\n").expect("the none mode");
    let app = self::app(config);
    let answer = call(&app, Method::POST, "/vims/vims", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["tenant"], "default");
}

#[tokio::test]
async fn password_hashes_of_every_supported_form_are_understood() {
    use password_hash::PasswordHasher as _;

    let salt = b"sixteen byte slt";
    // PBKDF2-HMAC-SHA256 in the PHC form hash_password makes.
    let pbkdf2 = hash_password_with_iterations("pw-pbkdf2", 1000).expect("a hash");
    assert!(
        pbkdf2.starts_with("$pbkdf2-sha256$i=1000,l=32$"),
        "{pbkdf2}"
    );
    // Argon2id, as the argon2 tools make it (small costs for the test).
    let params = argon2::Params::new(64, 1, 1, None).expect("Argon2 parameters");
    let argon2id: password_hash::phc::PasswordHash =
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_with_salt(b"pw-argon2", salt)
            .expect("an Argon2id hash");
    let argon2id = argon2id.to_string();
    assert!(
        argon2id.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{argon2id}"
    );
    // The older form: pbkdf2-sha256$<iterations>$<salt>$<hash>, standard base64.
    let mut derived = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(1000).expect("non-zero"),
        salt,
        b"pw-older",
        &mut derived,
    );
    let older = format!(
        "pbkdf2-sha256$1000${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(derived)
    );
    let user = |name: &str, password_hash: &str| BasicUser {
        name: name.to_owned(),
        password_hash: password_hash.to_owned(),
        tenant: TenantId::new(name),
        scopes: vec!["vims".to_owned()],
    };
    let app = app(AuthConfig {
        basic: Some(BasicConfig {
            users: vec![
                user("pbkdf2", &pbkdf2),
                user("argon2", &argon2id),
                user("older", &older),
            ],
            cache_seconds: 0,
        }),
        ..AuthConfig::default()
    });
    for (name, password) in [
        ("pbkdf2", "pw-pbkdf2"),
        ("argon2", "pw-argon2"),
        ("older", "pw-older"),
    ] {
        let answer = get_with(&app, "/vims/vims", &basic_auth(name, password)).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.body);
        assert_eq!(answer.body["tenant"], name);
        let answer = get_with(&app, "/vims/vims", &basic_auth(name, "pw-pbkdf2x")).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
        assert_eq!(answer.detail(), "the user name or the password is wrong");
    }
    let answer = get_with(&app, "/vims/vims", &basic_auth("nobody", "pw-older")).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);

    // Hashes asking for more work than the bounds allow are refused when the
    // configuration is read, naming the user.
    let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c2l4dGVlbiBieXRlIHNsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let error = Authenticator::new(AuthConfig {
        basic: Some(BasicConfig {
            users: vec![user("greedy", greedy)],
            ..BasicConfig::default()
        }),
        ..AuthConfig::default()
    })
    .expect_err("a hash over the memory bound");
    assert!(
        error
            .to_string()
            .contains("('greedy'): the passwordHash asks for 4194304 KiB"),
        "{error}"
    );
}

#[test]
fn client_certificate_entries_are_checked_when_the_configuration_is_read() {
    let entry = |subject: Option<&str>, common_name: Option<&str>| CertificateUser {
        subject: subject.map(str::to_owned),
        common_name: common_name.map(str::to_owned),
        tenant: TenantId::default(),
        scopes: vec!["vnflcm".to_owned()],
    };
    for (users, expected) in [
        (
            vec![entry(None, None)],
            "clientCertificates[0]: give exactly one",
        ),
        (
            vec![entry(Some("CN=a"), None), entry(Some("CN=b"), Some("b"))],
            "clientCertificates[1]: give exactly one",
        ),
    ] {
        let error = Authenticator::new(AuthConfig {
            client_certificates: users,
            ..AuthConfig::default()
        })
        .expect_err("refused");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let error = Authenticator::new(AuthConfig {
        client_certificates: vec![entry(None, Some("nfvo"))],
        ..AuthConfig::none(TenantId::default())
    })
    .expect_err("none and certificates");
    assert!(
        error
            .to_string()
            .contains("none excludes clientCertificates"),
        "{error}"
    );
    Authenticator::new(AuthConfig {
        client_certificates: vec![entry(None, Some("nfvo"))],
        ..AuthConfig::default()
    })
    .expect("certificates alone are a mode");
}

#[tokio::test]
async fn without_a_certificate_a_certificate_only_server_says_what_it_needs() {
    let app = app(AuthConfig {
        client_certificates: vec![CertificateUser {
            subject: None,
            common_name: Some("nfvo.example".to_owned()),
            tenant: TenantId::new("operator"),
            scopes: vec!["vnflcm".to_owned()],
        }],
        ..AuthConfig::default()
    });
    let answer = call(&app, Method::GET, "/vnflcm/v2/vnf_instances", None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(
        answer.detail().contains("present a client certificate"),
        "{}",
        answer.detail()
    );
}
