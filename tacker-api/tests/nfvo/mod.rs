//! A test NFVO: the SOL003 granting interface on loopback, answering from a scripted
//! scenario, validating every request it receives (and every Grant it gives) against the
//! ETSI schemas of `../shared/etsi`, and recording what it saw. Optionally it requires
//! OAuth 2.0 bearer tokens from its own token endpoint.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::harness;

/// How the NFVO answers grant requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// 201 with the Grant.
    Sync,
    /// 202 with a Location; the grant answers 202 `polls` times, then 200.
    Async { polls: u32 },
    /// 403 with a ProblemDetails.
    Refuse { detail: String },
    /// 503 for the first `failures` requests, then as `Sync`.
    Down { failures: u32 },
    /// 202, and the grant is never decided.
    Slow,
    /// 201 with a Grant that approves none of the resources to add.
    Partial,
    /// 201 with the Grant placing every resource in `zone`, with the flavour `flavour`
    /// for every VDU.
    Zones { zone: String, flavour: String },
}

/// How the NFVO (as the EM of the VNF) answers coordination requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Coordination {
    /// 201 with CONTINUE.
    Continue,
    /// 201 with ABORT and this reason in `outputParams.reason`.
    Abort(String),
    /// 202 with a Location; the coordination answers 202 `polls` times, then CONTINUE.
    Async { polls: u32 },
    /// 503 for the first `failures` requests, then as `Continue`.
    Down { failures: u32 },
}

/// One request the NFVO received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub version: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
    /// Why the body is not a valid ETSI GrantRequest (empty: valid, or not a grant
    /// request).
    pub schema_errors: Vec<String>,
}

#[derive(Default)]
struct Inner {
    base: String,
    scenario: Option<Scenario>,
    seen: Vec<Seen>,
    grants: HashMap<String, (Value, u32)>,
    requests: u32,
    /// The client credentials the token endpoint accepts, and the tokens it gave.
    oauth: Option<(String, String)>,
    tokens: Vec<String>,
    /// vnfdId → the package it offers.
    packages: HashMap<String, Offered>,
    /// (id, callbackUri) of the package subscriptions it accepted.
    subscriptions: Vec<(String, String)>,
    /// How it coordinates, the coordinations it runs (LcmCoord, polls left) and how
    /// many coordination requests it got.
    coordination: Option<Coordination>,
    coordinations: HashMap<String, (Value, u32)>,
    coordination_requests: u32,
}

/// A package the NFVO offers over SOL003 VNF package management.
#[derive(Clone)]
struct Offered {
    info: Value,
    content: Bytes,
}

fn sha256_hex(mut bytes: &[u8]) -> String {
    tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut bytes)
        .expect("digest")
}

/// The running NFVO.
#[derive(Clone)]
pub struct TestNfvo {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl TestNfvo {
    /// Starts on a free loopback port with `scenario`.
    pub async fn start(scenario: Scenario) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("address");
        let (nfvo, router) = Self::new(scenario, format!("http://{address}/nfvo"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        nfvo
    }

    /// The NFVO reached at `url` and its router, for a test that serves it itself
    /// (over TLS, say).
    pub fn new(scenario: Scenario, url: String) -> (Self, Router) {
        let inner = Arc::new(Mutex::new(Inner {
            base: url.clone(),
            scenario: Some(scenario),
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/nfvo/grant/v1/grants", post(create))
            .route("/nfvo/grant/v1/grants/{id}", get(show))
            .route("/nfvo/token", post(token))
            .route(
                "/nfvo/vnfpkgm/v2/onboarded_vnf_packages/{vnfd_id}",
                get(package_info),
            )
            .route(
                "/nfvo/vnfpkgm/v2/onboarded_vnf_packages/{vnfd_id}/package_content",
                get(package_content),
            )
            .route("/nfvo/vnfpkgm/v2/subscriptions", post(subscribe))
            .route("/nfvo/lcmcoord/v1/coordinations", post(coordinate))
            .route("/nfvo/lcmcoord/v1/coordinations/{id}", get(coordination))
            .with_state(inner.clone());
        (Self { url, inner }, router)
    }

    /// Requires bearer tokens, which its token endpoint (`{url}/token`) gives to
    /// `client_id` with `secret`.
    pub fn require_oauth2(&self, client_id: &str, secret: &str) {
        self.lock().oauth = Some((client_id.to_owned(), secret.to_owned()));
    }

    /// Forgets the tokens it gave (as after a key rotation): the next request with one
    /// gets 401.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    pub fn set_scenario(&self, scenario: Scenario) {
        let mut inner = self.lock();
        inner.scenario = Some(scenario);
        inner.requests = 0;
    }

    /// Offers the package `zip` (its facts read from its VNFD), ENABLED; returns its
    /// `VnfPkgInfo`, which is checked against the ETSI schema.
    pub fn offer_package(&self, zip: Vec<u8>) -> Value {
        let options = tacker_core::csar::CsarOptions::default();
        let csar = tacker_core::csar::Csar::from_zip_bytes(zip.clone(), &options)
            .expect("the offered package opens");
        // Read without checking digests: a test may offer a package whose files do not
        // match its manifest.
        let report = tacker_core::vnfd::read_vnfd(&csar, &options.missing_ok)
            .expect("the offered package has a VNFD");
        let vnfd = &report.vnfd;
        let id = format!("nfvo-pkg-{}", tacker_core::new_id());
        let base = self.url.clone();
        let info = json!({
            "id": id,
            "vnfdId": vnfd.descriptor_id,
            "vnfProvider": vnfd.provider,
            "vnfProductName": vnfd.product_name,
            "vnfSoftwareVersion": vnfd.software_version,
            "vnfdVersion": vnfd.descriptor_version,
            "checksum": {"algorithm": "SHA-256", "hash": sha256_hex(&zip)},
            "packageSecurityOption": "OPTION_1",
            "onboardingState": "ONBOARDED",
            "operationalState": "ENABLED",
            "usageState": "NOT_IN_USE",
            "_links": {
                "self": {"href": format!("{base}/vnfpkgm/v2/onboarded_vnf_packages/{}", vnfd.descriptor_id)},
                "packageContent": {"href": format!("{base}/vnfpkgm/v2/onboarded_vnf_packages/{}/package_content", vnfd.descriptor_id)},
                "vnfd": {"href": format!("{base}/vnfpkgm/v2/onboarded_vnf_packages/{}/vnfd", vnfd.descriptor_id)},
            },
        });
        if let Some(etsi) = harness::etsi() {
            etsi.validate(harness::SOL003_PKGM, "VnfPkgInfo", &info)
                .expect("the NFVO's VnfPkgInfo is valid");
        }
        self.lock().packages.insert(
            vnfd.descriptor_id.clone(),
            Offered {
                info: info.clone(),
                content: Bytes::from(zip),
            },
        );
        info
    }

    /// Serves `content` for the package of `vnfd_id` from now on, keeping its
    /// `VnfPkgInfo` (and checksum) as it was.
    pub fn replace_content(&self, vnfd_id: &str, content: Vec<u8>) {
        if let Some(offered) = self.lock().packages.get_mut(vnfd_id) {
            offered.content = Bytes::from(content);
        }
    }

    /// Disables (or enables) the package of `vnfd_id`, or withdraws it (`None`), and
    /// notifies every package subscription (`VnfPackageChangeNotification`, checked
    /// against the ETSI schema). Returns the notifications' delivery statuses.
    pub async fn change_package(&self, vnfd_id: &str, enabled: Option<bool>) -> Vec<u16> {
        let (package_id, subscriptions) = {
            let mut inner = self.lock();
            let package_id = inner
                .packages
                .get(vnfd_id)
                .and_then(|o| o.info["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            match enabled {
                Some(enabled) => {
                    if let Some(offered) = inner.packages.get_mut(vnfd_id) {
                        offered.info["operationalState"] =
                            json!(if enabled { "ENABLED" } else { "DISABLED" });
                    }
                }
                None => {
                    inner.packages.remove(vnfd_id);
                }
            }
            (package_id, inner.subscriptions.clone())
        };
        let mut statuses = Vec::new();
        for (subscription, callback) in subscriptions {
            let mut notification = json!({
                "id": tacker_core::new_id(),
                "notificationType": "VnfPackageChangeNotification",
                "subscriptionId": subscription,
                "timeStamp": "2026-12-07T12:00:00Z",
                "vnfPkgId": package_id,
                "vnfdId": vnfd_id,
                "_links": {
                    "subscription": {"href": format!("{}/vnfpkgm/v2/subscriptions/{subscription}", self.url)},
                    "vnfPackage": {"href": format!("{}/vnfpkgm/v2/onboarded_vnf_packages/{vnfd_id}", self.url)},
                },
            });
            match enabled {
                Some(enabled) => {
                    notification["changeType"] = json!("OP_STATE_CHANGE");
                    notification["operationalState"] =
                        json!(if enabled { "ENABLED" } else { "DISABLED" });
                }
                None => notification["changeType"] = json!("PKG_DELETE"),
            }
            if let Some(etsi) = harness::etsi() {
                etsi.validate(
                    harness::SOL003_PKGM_NOTIF,
                    "VnfPackageChangeNotification",
                    &notification,
                )
                .expect("the NFVO's notification is valid");
            }
            let status = reqwest::Client::new()
                .post(&callback)
                .json(&notification)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            statuses.push(status);
        }
        statuses
    }

    /// The package subscriptions it accepted: (id, callbackUri).
    pub fn package_subscriptions(&self) -> Vec<(String, String)> {
        self.lock().subscriptions.clone()
    }

    /// Answers coordination requests as `coordination` says from now on.
    pub fn set_coordination(&self, coordination: Coordination) {
        let mut inner = self.lock();
        inner.coordination = Some(coordination);
        inner.coordination_requests = 0;
    }

    /// The coordination requests it received.
    pub fn coordination_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST" && s.path.ends_with("/coordinations"))
            .collect()
    }

    /// What it received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// The grant requests it received.
    pub fn grant_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST" && s.path.ends_with("/grants"))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("the NFVO's state")
    }
}

fn record(
    inner: &mut Inner,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Value,
    schema_errors: Vec<String>,
) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    inner.seen.push(Seen {
        method: method.to_owned(),
        path: path.to_owned(),
        version: header("version"),
        authorization: header("authorization"),
        body,
        schema_errors,
    });
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    if inner.oauth.is_none() {
        return true;
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| inner.tokens.iter().any(|given| given == t))
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({"status": status.as_u16(), "detail": detail}).to_string(),
    )
        .into_response()
}

/// The Grant approving every resource of `request`.
fn grant_for(request: &Value, id: &str, base: &str, zones: Option<(&str, &str)>) -> Value {
    let approved = |key: &str| -> Vec<Value> {
        request[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let mut info = json!({"resourceDefinitionId": d["id"]});
                if zones.is_some() {
                    info["zoneId"] = json!("zone-1");
                }
                info
            })
            .collect()
    };
    let mut grant = json!({
        "id": id,
        "vnfInstanceId": request["vnfInstanceId"],
        "vnfLcmOpOccId": request["vnfLcmOpOccId"],
        "addResources": approved("addResources"),
        "removeResources": approved("removeResources"),
        "updateResources": approved("updateResources"),
        "_links": {
            "self": {"href": format!("{base}/grant/v1/grants/{id}")},
            "vnfLcmOpOcc": request["_links"]["vnfLcmOpOcc"],
            "vnfInstance": request["_links"]["vnfInstance"],
        }
    });
    if let Some((zone, flavour)) = zones {
        grant["zones"] = json!([{"id": "zone-1", "zoneId": zone}]);
        let flavours: Vec<Value> = request["addResources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["type"] == "COMPUTE")
            .map(|d| {
                json!({
                    "vnfdVirtualComputeDescId": d["resourceTemplateId"],
                    "vimFlavourId": flavour,
                })
            })
            .collect();
        grant["vimAssets"] = json!({"computeResourceFlavours": flavours});
    }
    grant
}

fn grant_response(status: StatusCode, grant: &Value, location: Option<String>) -> Response {
    if let Some(etsi) = harness::etsi() {
        etsi.validate(harness::SOL003_GRANT, "Grant", grant)
            .unwrap_or_else(|e| panic!("the test NFVO gives an invalid Grant: {e}"));
    }
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        grant.to_string(),
    )
        .into_response();
    if let Some(location) = location
        && let Ok(value) = location.parse()
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn create(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let schema_errors = match harness::etsi() {
        Some(etsi) => etsi
            .validate(harness::SOL003_GRANT, "GrantRequest", &request)
            .err()
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let mut inner = inner.lock().expect("state");
    let base = inner.base.clone();
    record(
        &mut inner,
        "POST",
        "/nfvo/grant/v1/grants",
        &headers,
        request.clone(),
        schema_errors.clone(),
    );
    if !authorized(&inner, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    if !schema_errors.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "the grant request is not valid");
    }
    inner.requests += 1;
    let id = format!(
        "grant-{}",
        inner.requests + u32::try_from(inner.seen.len()).unwrap_or(0)
    );
    let scenario = inner.scenario.clone().unwrap_or(Scenario::Sync);
    match scenario {
        Scenario::Sync => grant_response(
            StatusCode::CREATED,
            &grant_for(&request, &id, &base, None),
            None,
        ),
        Scenario::Zones { zone, flavour } => grant_response(
            StatusCode::CREATED,
            &grant_for(&request, &id, &base, Some((&zone, &flavour))),
            None,
        ),
        Scenario::Down { failures } if inner.requests <= failures => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "the NFVO is starting")
        }
        Scenario::Down { .. } => grant_response(
            StatusCode::CREATED,
            &grant_for(&request, &id, &base, None),
            None,
        ),
        Scenario::Refuse { detail } => problem(StatusCode::FORBIDDEN, &detail),
        Scenario::Partial => {
            let mut grant = grant_for(&request, &id, &base, None);
            grant["addResources"] = json!([]);
            grant_response(StatusCode::CREATED, &grant, None)
        }
        Scenario::Async { polls } => {
            inner
                .grants
                .insert(id.clone(), (grant_for(&request, &id, &base, None), polls));
            (
                StatusCode::ACCEPTED,
                [(header::LOCATION, format!("/nfvo/grant/v1/grants/{id}"))],
            )
                .into_response()
        }
        Scenario::Slow => {
            inner.grants.insert(
                id.clone(),
                (grant_for(&request, &id, &base, None), u32::MAX),
            );
            (
                StatusCode::ACCEPTED,
                [(header::LOCATION, format!("{base}/grant/v1/grants/{id}"))],
            )
                .into_response()
        }
    }
}

async fn show(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().expect("state");
    record(
        &mut inner,
        "GET",
        &format!("/nfvo/grant/v1/grants/{id}"),
        &headers,
        Value::Null,
        Vec::new(),
    );
    if !authorized(&inner, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let Some((grant, polls)) = inner.grants.get_mut(&id) else {
        return problem(StatusCode::NOT_FOUND, "no such grant");
    };
    if *polls > 0 {
        *polls = polls.saturating_sub(1);
        return StatusCode::ACCEPTED.into_response();
    }
    let grant = grant.clone();
    grant_response(StatusCode::OK, &grant, None)
}

async fn token(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use base64::Engine;
    let mut inner = inner.lock().expect("state");
    record(
        &mut inner,
        "POST",
        "/nfvo/token",
        &headers,
        json!(String::from_utf8_lossy(&body)),
        Vec::new(),
    );
    let Some((client, secret)) = inner.oauth.clone() else {
        return problem(StatusCode::NOT_FOUND, "no token endpoint");
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"))
    );
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str())
        || !String::from_utf8_lossy(&body).contains("grant_type=client_credentials")
    {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}).to_string(),
        )
            .into_response();
    }
    let token = format!("token-{}", inner.tokens.len() + inner.seen.len());
    inner.tokens.push(token.clone());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).to_string(),
    )
        .into_response()
}

async fn package_info(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(vnfd_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().expect("state");
    record(
        &mut inner,
        "GET",
        &format!("/nfvo/vnfpkgm/v2/onboarded_vnf_packages/{vnfd_id}"),
        &headers,
        Value::Null,
        Vec::new(),
    );
    if !authorized(&inner, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    match inner.packages.get(&vnfd_id) {
        Some(offered) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            offered.info.to_string(),
        )
            .into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "no onboarded package has this vnfdId",
        ),
    }
}

async fn package_content(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(vnfd_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().expect("state");
    record(
        &mut inner,
        "GET",
        &format!("/nfvo/vnfpkgm/v2/onboarded_vnf_packages/{vnfd_id}/package_content"),
        &headers,
        Value::Null,
        Vec::new(),
    );
    if !authorized(&inner, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    match inner.packages.get(&vnfd_id) {
        Some(offered) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/zip")],
            offered.content.clone(),
        )
            .into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "no onboarded package has this vnfdId",
        ),
    }
}

async fn subscribe(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let schema_errors: Vec<String> = match harness::etsi() {
        Some(etsi) => etsi
            .validate(harness::SOL003_PKGM, "PkgmSubscriptionRequest", &request)
            .err()
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let (id, base) = {
        let mut inner = inner.lock().expect("state");
        record(
            &mut inner,
            "POST",
            "/nfvo/vnfpkgm/v2/subscriptions",
            &headers,
            request.clone(),
            schema_errors.clone(),
        );
        if !authorized(&inner, &headers) {
            return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        }
        if !schema_errors.is_empty() {
            return problem(
                StatusCode::BAD_REQUEST,
                "the subscription request is not valid",
            );
        }
        (
            format!("sub-{}", inner.subscriptions.len() + 1),
            inner.base.clone(),
        )
    };
    let Some(callback) = request["callbackUri"].as_str().map(str::to_owned) else {
        return problem(StatusCode::BAD_REQUEST, "no callbackUri");
    };
    // The endpoint test SOL013 asks for: GET must answer 204.
    let tested = reqwest::Client::new()
        .get(&callback)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    if tested != 204 {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("the callback answered {tested} to the endpoint test"),
        );
    }
    inner
        .lock()
        .expect("state")
        .subscriptions
        .push((id.clone(), callback.clone()));
    let subscription = json!({
        "id": id,
        "filter": request["filter"],
        "callbackUri": callback,
        "_links": {"self": {"href": format!("{base}/vnfpkgm/v2/subscriptions/{id}")}},
    });
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        subscription.to_string(),
    )
        .into_response()
}

fn coordination_response(status: StatusCode, coord: &Value, location: Option<String>) -> Response {
    if let Some(etsi) = harness::etsi() {
        etsi.validate(harness::SOL002_COORD, "LcmCoord", coord)
            .expect("the NFVO's LcmCoord is valid");
    }
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        coord.to_string(),
    )
        .into_response();
    if let Some(location) = location
        && let Ok(value) = location.parse()
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn coordinate(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let schema_errors: Vec<String> = match harness::etsi() {
        Some(etsi) => etsi
            .validate(harness::SOL002_COORD, "LcmCoordRequest", &request)
            .err()
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let mut inner = inner.lock().expect("state");
    let base = inner.base.clone();
    record(
        &mut inner,
        "POST",
        "/nfvo/lcmcoord/v1/coordinations",
        &headers,
        request.clone(),
        schema_errors.clone(),
    );
    if !authorized(&inner, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    if !schema_errors.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "the coordination request is not valid",
        );
    }
    inner.coordination_requests += 1;
    let id = format!("coord-{}", inner.seen.len());
    let mut coord = json!({
        "id": id,
        "coordinationResult": "CONTINUE",
        "vnfInstanceId": request["vnfInstanceId"],
        "vnfLcmOpOccId": request["vnfLcmOpOccId"],
        "lcmOperationType": request["lcmOperationType"],
        "coordinationActionName": request["coordinationActionName"],
        "_links": {
            "self": {"href": format!("{base}/lcmcoord/v1/coordinations/{id}")},
            "vnfLcmOpOcc": request["_links"]["vnfLcmOpOcc"],
            "vnfInstance": request["_links"]["vnfInstance"],
        },
    });
    match inner.coordination.clone().unwrap_or(Coordination::Continue) {
        Coordination::Continue => coordination_response(StatusCode::CREATED, &coord, None),
        Coordination::Abort(reason) => {
            coord["coordinationResult"] = json!("ABORT");
            coord["outputParams"] = json!({"reason": reason});
            coordination_response(StatusCode::CREATED, &coord, None)
        }
        Coordination::Down { failures } if inner.coordination_requests <= failures => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "the EM is busy")
        }
        Coordination::Down { .. } => coordination_response(StatusCode::CREATED, &coord, None),
        Coordination::Async { polls } => {
            inner.coordinations.insert(id.clone(), (coord, polls));
            let mut response = StatusCode::ACCEPTED.into_response();
            if let Ok(value) = format!("{base}/lcmcoord/v1/coordinations/{id}").parse() {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
    }
}

async fn coordination(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().expect("state");
    record(
        &mut inner,
        "GET",
        &format!("/nfvo/lcmcoord/v1/coordinations/{id}"),
        &headers,
        Value::Null,
        Vec::new(),
    );
    let Some((coord, polls)) = inner.coordinations.get_mut(&id) else {
        return problem(StatusCode::NOT_FOUND, "no such coordination");
    };
    if *polls > 0 {
        *polls -= 1;
        return StatusCode::ACCEPTED.into_response();
    }
    let coord = coord.clone();
    coordination_response(StatusCode::OK, &coord, None)
}
