//! The OpenStack drivers against real Keystone and Heat, and (when
//! `TACKER_TEST_OS_FULL=1`) real Nova, Neutron, Placement and Glance.
//!
//! `.ci/run` starts the whole set with `../shared/tools/openstack-full/run-openstack-full.sh`
//! and exports the `OS_*` variables of its `env demo`. There the VNFs' servers, ports
//! and networks are real: Nova servers (fake virt driver) with Neutron ports and fixed
//! addresses. Cinder is not there, so the test VIM carries a `heatEnvironment` (the
//! documented per-VIM extra environment) that maps its resource types to
//! `OS::Heat::None`; the two scenarios whose servers boot from volumes, and the
//! deadline scenario (see `deadline`), keep stand-ins for servers and ports too. Without the full set (Keystone and Heat only,
//! `../shared/tools/openstack`), every Nova and Neutron type maps to a stand-in:
//! provider templates in `tests/fixtures/` that accept the real properties, expose the
//! attributes the driver reads, and are replaced on heal like the real resources, and a
//! double of Nova's compute API serves operate. Faults are injected the same way (a
//! server group that fails or is slow).
//!
//! Every scenario runs as a task of one test so that the Keystone token requests of the
//! whole run can be counted: they must be bounded by the sessions (plus the renewals
//! the test provokes: a token it revoked, a token about to expire), not by the number
//! of Heat calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Json, Path as AxumPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tacker_core::csar::{Csar, CsarOptions};
use tacker_core::infra::{InfraContext, InfraDriver, InfraOutcome, Rollback, ScaleTarget};
use tacker_core::model::{
    ChangeExtVnfConnectivityRequest, ChangeType, Grant, GrantRequest, HealVnfRequest,
    InstantiateVnfRequest, KeyValuePairs, OperateVnfRequest, ScaleInfo, ScaleType, StopType,
    TerminateVnfRequest, TerminationType, VimConnectionInfo, VnfInstance, VnfOperationalStateType,
};
use tacker_core::package::InMemoryPackageFiles;
use tacker_core::sim;
use tacker_core::testkit::corpus;
use tacker_core::testkit::infra::{self as suite, InfraFixture, InfraInspector};
use tacker_core::vim::VimDriver;
use tacker_core::vnfd::Vnfd;
use tacker_core::{Error, TenantId, new_id};
use tacker_drivers_openstack::{
    OpenStackInfraDriver, OpenStackOptions, OpenStackVimDriver, VIM_TYPE, stack_name,
};
use tokio_util::sync::CancellationToken;

mod cloud;

const VIM_ID: &str = "openstack";

/// The cloud the `OS_*` variables describe.
#[derive(Debug, Clone)]
struct Cloud {
    auth_url: String,
    username: String,
    password: String,
    project: String,
    user_domain_id: String,
    project_domain_id: String,
    region: Option<String>,
    /// Real Nova, Neutron and Glance beside Keystone and Heat (`TACKER_TEST_OS_FULL=1`).
    full: bool,
}

fn cloud() -> Option<Cloud> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let Some(auth_url) = var("OS_AUTH_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but OS_AUTH_URL is unset: .ci/run must start Keystone and Heat and export \
             the variables of `run-openstack.sh env demo`"
        );
        eprintln!(
            "skipped: OS_AUTH_URL is unset (start ../shared/tools/openstack/run-openstack.sh up \
             and eval \"$(run-openstack.sh env demo)\")"
        );
        return None;
    };
    Some(Cloud {
        auth_url,
        username: var("OS_USERNAME").unwrap_or_else(|| "demo".into()),
        password: var("OS_PASSWORD").unwrap_or_default(),
        project: var("OS_PROJECT_NAME").unwrap_or_else(|| "demo".into()),
        user_domain_id: var("OS_USER_DOMAIN_ID").unwrap_or_else(|| "default".into()),
        project_domain_id: var("OS_PROJECT_DOMAIN_ID").unwrap_or_else(|| "default".into()),
        region: var("OS_REGION_NAME"),
        full: var("TACKER_TEST_OS_FULL").as_deref() == Some("1"),
    })
}

/// The cloud's administrator (`OS_ADMIN_USERNAME`, `OS_ADMIN_PASSWORD`,
/// `OS_ADMIN_PROJECT_NAME`): Heat's policy lets only administrators use some resource
/// types (`OS::Cinder::VolumeType`), even when the environment maps them to stand-ins.
fn admin(cloud: &Cloud) -> Cloud {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Cloud {
        username: var("OS_ADMIN_USERNAME").unwrap_or_else(|| "admin".into()),
        password: var("OS_ADMIN_PASSWORD").unwrap_or_else(|| "admin-secret".into()),
        project: var("OS_ADMIN_PROJECT_NAME").unwrap_or_else(|| "admin".into()),
        ..cloud.clone()
    }
}

fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How the VIM's `OS::Nova::ServerGroup` behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    FailOnCreate,
    Slow,
}

/// The test VIM: on the full set, real servers, ports and networks (only Cinder's types
/// map to `OS::Heat::None`); else [`standin_vim`].
fn vim(cloud: &Cloud, fault: Fault) -> VimConnectionInfo {
    if !cloud.full {
        return standin_vim(cloud, fault);
    }
    let mut registry = json!({
        "OS::Cinder::Volume": "OS::Heat::None",
        "OS::Cinder::VolumeType": "OS::Heat::None",
    });
    let mut files = json!({});
    match fault {
        Fault::None => {}
        // The group fails before any server needs it.
        Fault::FailOnCreate => {
            let name = "failing-standin.yaml";
            registry["OS::Nova::ServerGroup"] = json!(name);
            files[name] = json!(fixture_text(name));
        }
        // The deadline scenario keeps stand-in servers (see `deadline`).
        Fault::Slow => {
            let name = "slow-standin.yaml";
            registry["OS::Nova::ServerGroup"] = json!(name);
            files[name] = json!(fixture_text(name));
        }
    }
    vim_with(cloud, registry, files)
}

/// The server group stand-in that injects `fault`.
fn fault_standin(fault: Fault) -> Option<&'static str> {
    match fault {
        Fault::None => None,
        Fault::FailOnCreate => Some("failing-standin.yaml"),
        Fault::Slow => Some("slow-standin.yaml"),
    }
}

/// A test VIM whose Nova, Neutron and Cinder types all map to stand-ins.
fn standin_vim(cloud: &Cloud, fault: Fault) -> VimConnectionInfo {
    let mut registry = json!({
        "OS::Nova::Server": "server-standin.yaml",
        "OS::Neutron::Port": "port-standin.yaml",
        "OS::Neutron::Net": "OS::Heat::None",
        "OS::Neutron::Subnet": "OS::Heat::None",
        "OS::Cinder::Volume": "OS::Heat::None",
        "OS::Cinder::VolumeType": "OS::Heat::None",
        "OS::Nova::ServerGroup": "OS::Heat::None",
    });
    let mut files = json!({
        "server-standin.yaml": fixture_text("server-standin.yaml"),
        "port-standin.yaml": fixture_text("port-standin.yaml"),
    });
    if let Some(name) = fault_standin(fault) {
        registry["OS::Nova::ServerGroup"] = json!(name);
        files[name] = json!(fixture_text(name));
    }
    vim_with(cloud, registry, files)
}

/// The VIM of `cloud` with `registry` and `files` as its Heat environment.
fn vim_with(cloud: &Cloud, registry: Value, files: Value) -> VimConnectionInfo {
    let mut access = KeyValuePairs::new();
    access.insert("username".into(), json!(cloud.username));
    access.insert("password".into(), json!(cloud.password));
    access.insert("project".into(), json!(cloud.project));
    access.insert("userDomainId".into(), json!(cloud.user_domain_id));
    access.insert("projectDomainId".into(), json!(cloud.project_domain_id));
    if let Some(region) = &cloud.region {
        access.insert("region".into(), json!(region));
    }
    let mut interface = KeyValuePairs::new();
    interface.insert("endpoint".into(), json!(cloud.auth_url));
    let mut extra = KeyValuePairs::new();
    extra.insert(
        "heatEnvironment".into(),
        json!({ "resource_registry": registry }),
    );
    extra.insert("heatFiles".into(), files);
    VimConnectionInfo {
        vim_id: Some("test-openstack".into()),
        vim_type: VIM_TYPE.into(),
        interface_info: interface,
        access_info: access,
        extra,
    }
}

/// A corpus package: its VNFD and its files.
#[derive(Clone)]
struct Package {
    vnfd: Vnfd,
    files: Arc<InMemoryPackageFiles>,
}

fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    assert!(
        dir.is_dir(),
        "the corpus {} is missing (../shared must be beside the repository)",
        dir.display()
    );
    dir
}

fn package(name: &str) -> Package {
    let corpus = corpus_dir();
    let found = corpus::packages(&corpus)
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("corpus package {name} is missing"));
    let options = CsarOptions {
        missing_ok: found.missing_ok.clone(),
        ..CsarOptions::default()
    };
    let csar = Csar::from_dir(&found.dir, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let report = tacker_core::vnfd::validate(&csar, &options)
        .unwrap_or_else(|e| panic!("{name}: {}", e.to_problem_details().detail));
    let mut files = InMemoryPackageFiles::new();
    for path in csar.paths().map(str::to_owned).collect::<Vec<_>>() {
        if found.missing_ok.contains(&path) {
            continue;
        }
        let bytes = csar
            .read(&path)
            .unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
        files = files.with_file(path, bytes);
    }
    Package {
        vnfd: report.vnfd,
        files: Arc::new(files),
    }
}

/// Looks into Heat for the conformance suite.
#[derive(Debug)]
struct StackInspector {
    driver: OpenStackInfraDriver,
    vim: VimConnectionInfo,
}

#[async_trait]
impl InfraInspector for StackInspector {
    async fn resource_ids(&self, _tenant: &TenantId, vnf_instance_id: &str) -> Vec<String> {
        self.driver
            .resource_ids(&self.vim, vnf_instance_id)
            .await
            .unwrap_or_else(|e| panic!("listing the stack of {vnf_instance_id}: {e}"))
    }
}

/// One instance driven by hand (outside the conformance suite).
struct Instance {
    record: VnfInstance,
    package: Package,
    flavour_id: String,
    vim: VimConnectionInfo,
    tenant: TenantId,
    cancel: CancellationToken,
}

impl Instance {
    fn new(package: Package, flavour_id: &str, vim: VimConnectionInfo) -> Self {
        let id = new_id();
        let mut record = sim::sample_instance(&id, &package.vnfd.descriptor_id);
        record
            .vim_connection_info
            .insert(VIM_ID.into(), vim.clone());
        Self {
            record,
            package,
            flavour_id: flavour_id.into(),
            vim,
            tenant: TenantId::new("openstack-tests"),
            cancel: CancellationToken::new(),
        }
    }

    fn ctx<'a>(&'a self, op: &'a str) -> InfraContext<'a> {
        let flavour = self
            .package
            .vnfd
            .flavour(&self.flavour_id)
            .expect("the flavour exists");
        InfraContext::new(
            &self.tenant,
            op,
            &self.record,
            &self.package.vnfd,
            flavour,
            VIM_ID,
            &self.vim,
        )
        .with_package(self.package.files.as_ref())
        .with_cancel(&self.cancel)
    }

    fn instantiate_request(&self) -> InstantiateVnfRequest {
        InstantiateVnfRequest {
            flavour_id: self.flavour_id.clone(),
            ..InstantiateVnfRequest::default()
        }
    }

    fn record(&mut self, op: sim::AppliedOperation<'_>, outcome: &InfraOutcome) {
        self.record = sim::apply_outcome(&self.record, &self.package.vnfd, op, outcome)
            .expect("the outcome applies");
    }
}

fn forceful() -> TerminateVnfRequest {
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: KeyValuePairs::new(),
    }
}

fn detail(error: &Error) -> String {
    error.to_problem_details().detail
}

// ---------------------------------------------------------------------------------------
// A double of Nova
// ---------------------------------------------------------------------------------------

/// What the Nova double knows: the status of every server it was asked about, and the
/// actions it received.
#[derive(Debug, Default)]
struct NovaState {
    status: HashMap<String, String>,
    actions: Vec<(String, String)>,
}

type Nova = Arc<Mutex<NovaState>>;

fn nova_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ kind: {"code": status.as_u16(), "message": message} })),
    )
        .into_response()
}

/// `GET /v2.1/servers/{id}`: a server Heat made is `ACTIVE` until it is stopped.
async fn nova_show(
    State(nova): State<Nova>,
    headers: HeaderMap,
    AxumPath(id): AxumPath<String>,
) -> Response {
    if headers.get("x-auth-token").is_none() {
        return nova_error(StatusCode::UNAUTHORIZED, "unauthorized", "no token");
    }
    let mut state = nova.lock().expect("nova state");
    let status = state
        .status
        .entry(id.clone())
        .or_insert_with(|| "ACTIVE".to_owned())
        .clone();
    Json(json!({"server": {"id": id, "status": status, "name": "standin"}})).into_response()
}

/// `POST /v2.1/servers/{id}/action` with `os-start` or `os-stop`: 202, and 409 when the
/// server is already in the state asked for (as Nova answers).
async fn nova_action(
    State(nova): State<Nova>,
    headers: HeaderMap,
    AxumPath(id): AxumPath<String>,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("x-auth-token").is_none() {
        return nova_error(StatusCode::UNAUTHORIZED, "unauthorized", "no token");
    }
    let Some(action) = body.as_object().and_then(|o| o.keys().next().cloned()) else {
        return nova_error(StatusCode::BAD_REQUEST, "badRequest", "no action");
    };
    let target = match action.as_str() {
        "os-start" => "ACTIVE",
        "os-stop" => "SHUTOFF",
        other => {
            return nova_error(
                StatusCode::BAD_REQUEST,
                "badRequest",
                &format!("unsupported action {other}"),
            );
        }
    };
    let mut state = nova.lock().expect("nova state");
    let current = state
        .status
        .entry(id.clone())
        .or_insert_with(|| "ACTIVE".to_owned());
    if current == target {
        return nova_error(
            StatusCode::CONFLICT,
            "conflictingRequest",
            &format!("Cannot '{action}' instance {id} while it is {target}"),
        );
    }
    *current = target.to_owned();
    state.actions.push((id, action));
    StatusCode::ACCEPTED.into_response()
}

/// Starts the Nova double on loopback and returns its endpoint URL and state.
async fn start_nova() -> (String, Nova) {
    let nova = Nova::default();
    let app = Router::new()
        .route("/v2.1/servers/{id}", get(nova_show))
        .route("/v2.1/servers/{id}/action", post(nova_action))
        .with_state(nova.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the Nova double");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/v2.1"), nova)
}

/// Registers `url` as the public `compute` endpoint of the cloud's region in
/// Keystone (with the administrator's token), replacing an earlier run's.
async fn register_compute_endpoint(cloud: &Cloud, url: &str) {
    let admin = admin(cloud);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = cloud.auth_url.trim_end_matches('/').to_owned();
    let auth = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": admin.username, "domain": {"id": admin.user_domain_id},
            "password": admin.password}}},
        "scope": {"project": {"name": admin.project, "domain": {"id": admin.project_domain_id}}}
    }});
    let response = http
        .post(format!("{base}/auth/tokens"))
        .json(&auth)
        .send()
        .await
        .expect("admin token");
    assert_eq!(response.status().as_u16(), 201, "admin token");
    let token = response
        .headers()
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .expect("X-Subject-Token")
        .to_owned();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .header("X-Auth-Token", &token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.expect("keystone call");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        }
    };
    let services = call(reqwest::Method::GET, "/services?type=compute".into(), None).await;
    let service_id = match services["services"].as_array().and_then(|s| s.first()) {
        Some(service) => service["id"].as_str().expect("service id").to_owned(),
        None => call(
            reqwest::Method::POST,
            "/services".into(),
            Some(json!({"service": {"type": "compute", "name": "nova"}})),
        )
        .await["service"]["id"]
            .as_str()
            .expect("service id")
            .to_owned(),
    };
    let region = cloud.region.clone().unwrap_or_else(|| "RegionOne".into());
    let endpoints = call(
        reqwest::Method::GET,
        format!("/endpoints?service_id={service_id}&interface=public"),
        None,
    )
    .await;
    match endpoints["endpoints"].as_array().and_then(|e| e.first()) {
        Some(endpoint) => {
            let id = endpoint["id"].as_str().expect("endpoint id");
            call(
                reqwest::Method::PATCH,
                format!("/endpoints/{id}"),
                Some(json!({"endpoint": {"url": url, "region_id": region}})),
            )
            .await;
        }
        None => {
            call(
                reqwest::Method::POST,
                "/endpoints".into(),
                Some(json!({"endpoint": {
                    "service_id": service_id, "interface": "public",
                    "url": url, "region_id": region}})),
            )
            .await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// The infra-driver conformance suite on `v2-os-basic-lcms-min` (a scaling group of
/// VDU1, a single VDU2, an internal network), with the package's next version (new
/// images) for change_vnfpkg. Operate goes through real Nova, else through the Nova
/// double that the test registered in Keystone's catalog.
async fn conformance(driver: OpenStackInfraDriver, cloud: Cloud, nova: Option<Nova>) {
    let vim = vim(&cloud, Fault::None);
    let package = package("v2-os-basic-lcms-min");
    let mut fixture = InfraFixture::new(VIM_ID, vim.clone());
    fixture.vnfd = package.vnfd.clone();
    fixture.flavour_id = "simple".into();
    fixture.scale_aspect_id = "VDU1_scale".into();
    fixture.ext_virtual_links = Vec::new();
    fixture.package = package.files.clone();
    fixture.new_package = Some((suite::upgraded(&package.vnfd), package.files.clone()));
    fixture.inspector = Some(Arc::new(StackInspector {
        driver: driver.clone(),
        vim,
    }));
    let fixture = Arc::new(fixture);
    let mut checks = Vec::new();
    macro_rules! check {
        ($name:literal, $check:path) => {{
            let (driver, fixture) = (driver.clone(), fixture.clone());
            checks.push((
                $name,
                tokio::spawn(async move { $check(&driver, &fixture).await }),
            ));
        }};
    }
    // Each check works on an instance of its own, so they run side by side.
    check!("lifecycle", suite::lifecycle);
    check!("heal of the whole VNF", suite::heal_of_the_whole_vnf);
    check!(
        "heal of an unknown VNFC",
        suite::heal_of_an_unknown_vnfc_is_refused
    );
    check!(
        "rollback of instantiate",
        suite::rollback_of_instantiate_removes_everything
    );
    check!(
        "rollback of scale out",
        suite::rollback_of_scale_out_restores_the_vnfcs
    );
    check!(
        "retry after partial failure",
        suite::retry_after_partial_failure_converges
    );
    check!("change ext conn", suite::change_ext_conn_and_its_rollback);
    check!("change vnfpkg", suite::change_vnfpkg_and_its_rollback);
    check!("operate", suite::operate_stops_and_starts);
    check!(
        "capabilities agree with the methods",
        suite::capabilities_agree_with_the_methods
    );
    let mut failed = Vec::new();
    for (name, task) in checks {
        if let Err(error) = task.await {
            eprintln!("conformance check '{name}' failed: {error}");
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "conformance checks failed: {failed:?}");
    let Some(nova) = nova else {
        return;
    };
    let state = nova.lock().expect("nova state");
    let stops = state.actions.iter().filter(|(_, a)| a == "os-stop").count();
    let starts = state
        .actions
        .iter()
        .filter(|(_, a)| a == "os-start")
        .count();
    assert!(
        stops >= 2 && stops == starts,
        "operate stopped and started every server through Nova: {:?}",
        state.actions
    );
}

/// Change flavour and its rollback on `v2-os-instantiate-old-image-or-volume`, whose
/// flavours `simple` (servers booted from images) and `volume` (servers booted from
/// volumes) have BaseHOTs of their own.
async fn change_flavour(driver: OpenStackInfraDriver, cloud: Cloud) {
    // The `volume` flavour boots from Cinder volumes, which the cloud does not have.
    let vim = standin_vim(&admin(&cloud), Fault::None);
    let package = package("v2-os-instantiate-old-image-or-volume");
    let mut fixture = InfraFixture::new(VIM_ID, vim.clone());
    fixture.vnfd = package.vnfd.clone();
    fixture.flavour_id = "simple".into();
    fixture.scale_aspect_id = "VDU1_scale".into();
    fixture.ext_virtual_links = Vec::new();
    fixture.package = package.files.clone();
    fixture.change_flavour_to = Some(("volume".into(), None));
    fixture.inspector = Some(Arc::new(StackInspector {
        driver: driver.clone(),
        vim,
    }));
    suite::change_flavour_and_its_rollback(&driver, &fixture).await;
}

/// `v2-os-basic-lcms-max` (volumes, external links with fixed addresses, several
/// CPs): instantiate, heal one VNFC, terminate; the VNFCs, their storage and their
/// addresses come from the stack.
async fn corpus_max(driver: OpenStackInfraDriver, cloud: Cloud) {
    let package = package("v2-os-basic-lcms-max");
    // Its servers boot from Cinder volumes, which the cloud does not have.
    let mut instance = Instance::new(package, "simple", standin_vim(&admin(&cloud), Fault::None));
    let mut request = instance.instantiate_request();
    request.ext_virtual_links = serde_json::from_value(json!([
        {
            "id": "ext-net-1", "resourceId": "net-ext-1",
            "extCps": [
                {"cpdId": "VDU1_CP1", "cpConfig": {"VDU1_CP1_1": {"cpProtocolData": [
                    {"layerProtocol": "IP_OVER_ETHERNET", "ipOverEthernet": {"ipAddresses": [
                        {"type": "IPV4", "numDynamicAddresses": 1, "subnetId": "subnet-ext-1"}]}}]}}},
                {"cpdId": "VDU2_CP2", "cpConfig": {"VDU2_CP2_1": {"cpProtocolData": [
                    {"layerProtocol": "IP_OVER_ETHERNET", "ipOverEthernet": {"ipAddresses": [
                        {"type": "IPV4", "fixedAddresses": ["10.10.0.102"], "subnetId": "subnet-ext-1"}]}}]}}}
            ]
        },
        {
            "id": "ext-net-2", "resourceId": "net-ext-2",
            "extCps": [
                {"cpdId": "VDU1_CP2", "cpConfig": {"VDU1_CP2_1": {"cpProtocolData": [
                    {"layerProtocol": "IP_OVER_ETHERNET", "ipOverEthernet": {"ipAddresses": [
                        {"type": "IPV4", "numDynamicAddresses": 1, "subnetId": "subnet-ext-2"}]}}]}}}
            ]
        }
    ]))
    .expect("ext links parse");
    let op = new_id();
    let outcome = driver
        .instantiate(&instance.ctx(&op), &request)
        .await
        .unwrap_or_else(|e| panic!("instantiate v2-os-basic-lcms-max: {}", detail(&e)));
    let vnfcs = &outcome.resources.vnfc_resource_info;
    let vdus: Vec<&str> = vnfcs.iter().map(|v| v.vdu_id.as_str()).collect();
    assert_eq!(
        vdus.iter().filter(|v| **v == "VDU1").count(),
        1,
        "VDU1 at the default level: {vdus:?}"
    );
    assert_eq!(vdus.iter().filter(|v| **v == "VDU2").count(), 1, "{vdus:?}");
    for vnfc in vnfcs {
        assert_eq!(
            vnfc.compute_resource.vim_level_resource_type.as_deref(),
            Some("OS::Nova::Server")
        );
        assert_eq!(
            vnfc.storage_resource_ids.len(),
            1,
            "VNFC {} has its volume",
            vnfc.id
        );
        assert!(!vnfc.vnfc_cp_info.is_empty(), "VNFC {} has CPs", vnfc.id);
    }
    let vdu2 = vnfcs.iter().find(|v| v.vdu_id == "VDU2").expect("VDU2");
    let cp2 = vdu2
        .vnfc_cp_info
        .iter()
        .find(|c| c.cpd_id == "VDU2_CP2")
        .expect("VDU2_CP2");
    assert!(cp2.vnf_ext_cp_id.is_some(), "VDU2_CP2 is an external CP");
    let address = cp2.cp_protocol_info[0]
        .ip_over_ethernet
        .as_ref()
        .expect("IP over Ethernet");
    assert_eq!(address.mac_address.as_deref(), Some("fa:16:3e:00:00:20"));
    assert_eq!(address.ip_addresses[0].addresses, vec!["192.0.2.20"]);
    assert_eq!(outcome.resources.ext_virtual_link_info.len(), 2);
    assert_eq!(
        outcome.resources.virtual_storage_resource_info.len(),
        2,
        "one volume per VNFC"
    );
    assert_eq!(
        outcome
            .resources
            .vnf_virtual_link_resource_info
            .iter()
            .map(|l| l.id.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["internalVL1", "internalVL2", "internalVL3"])
    );
    let added: BTreeSet<&str> = outcome
        .resource_changes
        .affected_vnfcs
        .iter()
        .filter(|c| c.change_type == ChangeType::Added)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(added.len(), 2, "both VNFCs ADDED");
    instance.record(sim::AppliedOperation::Instantiate(&request), &outcome);

    // Heal VDU2 (a server at the top of the stack) with its volume.
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![vdu2.id.clone()],
        additional_params: serde_json::from_value(json!({"all": true})).expect("params"),
        ..HealVnfRequest::default()
    };
    let op = new_id();
    let healed = driver
        .heal(&instance.ctx(&op), &heal)
        .await
        .unwrap_or_else(|e| panic!("heal VDU2: {}", detail(&e)));
    let new_vdu2 = healed
        .resources
        .vnfc_resource_info
        .iter()
        .find(|v| v.id == vdu2.id)
        .expect("VDU2 keeps its id");
    assert_ne!(
        new_vdu2.compute_resource.resource_id, vdu2.compute_resource.resource_id,
        "the server of VDU2 is replaced"
    );
    let modified: Vec<&str> = healed
        .resource_changes
        .affected_vnfcs
        .iter()
        .filter(|c| c.change_type == ChangeType::Modified)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(modified, vec![vdu2.id.as_str()], "only VDU2 is MODIFIED");
    instance.record(sim::AppliedOperation::Heal, &healed);

    // Change external connectivity: ext-net-1 moves to another network; the rollback
    // returns to the recorded one.
    let change: ChangeExtVnfConnectivityRequest = serde_json::from_value(json!({
        "extVirtualLinks": [{
            "id": "ext-net-1", "resourceId": "net-ext-3",
            "extCps": [
                {"cpdId": "VDU1_CP1", "cpConfig": {"VDU1_CP1_1": {"cpProtocolData": [
                    {"layerProtocol": "IP_OVER_ETHERNET", "ipOverEthernet": {"ipAddresses": [
                        {"type": "IPV4", "numDynamicAddresses": 1, "subnetId": "subnet-ext-3"}]}}]}}},
                {"cpdId": "VDU2_CP2", "cpConfig": {"VDU2_CP2_1": {"cpProtocolData": [
                    {"layerProtocol": "IP_OVER_ETHERNET", "ipOverEthernet": {"ipAddresses": [
                        {"type": "IPV4", "fixedAddresses": ["10.30.0.102"], "subnetId": "subnet-ext-3"}]}}]}}}
            ]
        }]
    }))
    .expect("change request");
    let op = new_id();
    let changed = driver
        .change_ext_conn(&instance.ctx(&op), &change)
        .await
        .unwrap_or_else(|e| panic!("change ext conn: {}", detail(&e)));
    let moved = changed
        .changed_ext_connectivity
        .iter()
        .find(|l| l.id == "ext-net-1")
        .expect("ext-net-1 is reported changed");
    assert_eq!(moved.resource_handle.resource_id, "net-ext-3");
    assert_eq!(moved.ext_link_ports.len(), 2, "both CPs are on it");
    assert_eq!(
        changed
            .resources
            .ext_virtual_link_info
            .iter()
            .find(|l| l.id == "ext-net-2")
            .map(|l| l.resource_handle.resource_id.as_str()),
        Some("net-ext-2"),
        "the other link stays"
    );
    let rolled_back = driver
        .rollback(&instance.ctx(&op), &Rollback::ChangeExtConn(&change))
        .await
        .unwrap_or_else(|e| panic!("rollback of change ext conn: {}", detail(&e)));
    assert_eq!(
        rolled_back
            .resources
            .ext_virtual_link_info
            .iter()
            .find(|l| l.id == "ext-net-1")
            .map(|l| l.resource_handle.resource_id.as_str()),
        Some("net-ext-1")
    );

    let op = new_id();
    let terminated = driver
        .terminate(&instance.ctx(&op), &forceful())
        .await
        .unwrap_or_else(|e| panic!("terminate: {}", detail(&e)));
    assert_eq!(terminated.resource_changes.affected_vnfcs.len(), 2);
    assert!(
        driver
            .resource_ids(&instance.vim, &instance.record.id)
            .await
            .expect("listing")
            .is_empty(),
        "the stack is gone"
    );
}

/// A resource that fails on create: the error is retryable and quotes Heat's reason;
/// a retry after the fault is cleared completes the same stack; rollback removes it.
async fn failure_retry_rollback(driver: OpenStackInfraDriver, cloud: Cloud) {
    let package = package("v2-os-basic-lcms-min");
    let mut instance = Instance::new(package, "simple", vim(&cloud, Fault::FailOnCreate));
    let request = instance.instantiate_request();
    let op = new_id();
    let error = driver
        .instantiate(&instance.ctx(&op), &request)
        .await
        .expect_err("the injected fault fails the create");
    let text = detail(&error);
    assert!(error.is_retryable(), "a failed stack is retryable: {text}");
    assert!(
        text.contains("CREATE_FAILED") && text.contains("Test Resource failed"),
        "the error quotes Heat: {text}"
    );
    assert!(
        text.contains(&stack_name(&instance.record.id)),
        "the error names the stack: {text}"
    );
    // What the retry meets: Heat marks the stack failed as soon as one resource fails,
    // while others may still be winding down (the race the retry waits out).
    let heat = tacker_drivers_openstack::heat::HeatClient::new(
        driver.session(&instance.vim).expect("session"),
    );
    if let Ok(Some(stack)) = heat.find_stack(&stack_name(&instance.record.id)).await {
        let busy: Vec<String> = heat
            .resources(&stack.reference(), 2)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.resource_status.ends_with("_IN_PROGRESS"))
            .map(|r| format!("{} {}", r.resource_name, r.resource_status))
            .collect();
        eprintln!(
            "after {}: {} resource(s) still in progress {busy:?}",
            stack.stack_status,
            busy.len()
        );
    }
    // The fault is cleared (the VIM no longer maps the server group to it); the
    // retry of the same operation updates the failed stack instead of failing.
    instance.vim = vim(&cloud, Fault::None);
    let retried = driver
        .instantiate(&instance.ctx(&op), &request)
        .await
        .unwrap_or_else(|e| panic!("retry after the fault is cleared: {}", detail(&e)));
    assert_eq!(retried.resources.vnfc_resource_info.len(), 2);
    let held = driver
        .resource_ids(&instance.vim, &instance.record.id)
        .await
        .expect("listing");
    assert!(!held.is_empty());
    let rolled_back = driver
        .rollback(&instance.ctx(&op), &Rollback::Instantiate(&request))
        .await
        .unwrap_or_else(|e| panic!("rollback: {}", detail(&e)));
    assert!(rolled_back.resources.vnfc_resource_info.is_empty());
    assert!(
        driver
            .resource_ids(&instance.vim, &instance.record.id)
            .await
            .expect("listing")
            .is_empty(),
        "rollback leaves nothing"
    );
    // Rollback again is safe.
    driver
        .rollback(&instance.ctx(&op), &Rollback::Instantiate(&request))
        .await
        .unwrap_or_else(|e| panic!("second rollback: {}", detail(&e)));
    instance.record(sim::AppliedOperation::Terminate, &rolled_back);
}

/// A create slower than the operation's deadline fails (retryable) naming the state
/// it was left in; the retry waits for the running create and completes.
async fn deadline(cloud: Cloud) {
    let driver = OpenStackInfraDriver::new(OpenStackOptions {
        operation_timeout: Duration::from_secs(8),
        ..OpenStackOptions::default()
    });
    let package = package("v2-os-basic-lcms-min");
    // Stand-in servers even on the full set: Heat times a create out after the first
    // attempt's timeout (a minute), and the update that follows then waits on real
    // servers still booting beside every other scenario's, for longer than a test
    // should; what this checks is the driver's deadline and its wait for a running
    // create.
    let instance = Instance::new(package, "simple", standin_vim(&cloud, Fault::Slow));
    let request = instance.instantiate_request();
    let op = new_id();
    let error = driver
        .instantiate(&instance.ctx(&op), &request)
        .await
        .expect_err("the create outlasts the deadline");
    let text = detail(&error);
    assert!(error.is_retryable(), "{text}");
    assert!(
        text.contains("did not finish CREATE in time") && text.contains("CREATE_IN_PROGRESS"),
        "{text}"
    );
    // The retry waits for the running create: it completes, or on a loaded machine Heat
    // times it out (a minute) and the retry updates the failed stack. The deadline is
    // a bound, not the expected duration (about 40 s alone).
    let patient = OpenStackInfraDriver::new(OpenStackOptions {
        operation_timeout: Duration::from_secs(300),
        ..OpenStackOptions::default()
    });
    let done = patient
        .instantiate(&instance.ctx(&op), &request)
        .await
        .unwrap_or_else(|e| panic!("retry with time to finish: {}", detail(&e)));
    assert_eq!(done.resources.vnfc_resource_info.len(), 2);
    patient
        .terminate(&instance.ctx(&new_id()), &forceful())
        .await
        .unwrap_or_else(|e| panic!("terminate: {}", detail(&e)));
}

/// With Heat's own rollback on, the transient CREATE_FAILED is not taken as the end:
/// the driver waits for Heat's rollback and reports it.
async fn heat_rollback(cloud: Cloud) {
    let driver = OpenStackInfraDriver::new(OpenStackOptions {
        operation_timeout: Duration::from_secs(120),
        heat_rollback: true,
        ..OpenStackOptions::default()
    });
    let package = package("v2-os-basic-lcms-min");
    let instance = Instance::new(package, "simple", vim(&cloud, Fault::FailOnCreate));
    let request = instance.instantiate_request();
    let op = new_id();
    let error = driver
        .instantiate(&instance.ctx(&op), &request)
        .await
        .expect_err("the injected fault fails the create");
    let text = detail(&error);
    // Heat rolls the stack back itself. Under load its own rollback can fail (a nested
    // stack it had not created yet is "not found"); the VNFM's rollback then has to
    // clean up what Heat left.
    let heat_rolled_back = text.contains("ROLLBACK_COMPLETE");
    assert!(
        heat_rolled_back || text.contains("ROLLBACK_FAILED"),
        "{text}"
    );
    if heat_rolled_back {
        assert!(
            driver
                .resource_ids(&instance.vim, &instance.record.id)
                .await
                .expect("listing")
                .is_empty(),
            "Heat rolled the resources back"
        );
    }
    driver
        .rollback(&instance.ctx(&op), &Rollback::Instantiate(&request))
        .await
        .unwrap_or_else(|e| panic!("rollback: {}", detail(&e)));
    assert!(
        driver
            .resource_ids(&instance.vim, &instance.record.id)
            .await
            .expect("listing")
            .is_empty(),
        "nothing is left after the rollback"
    );
}

/// The cloud's administrator, for what the tests prepare and read back.
async fn admin_api(cloud: &Cloud) -> cloud::Admin {
    let admin = admin(cloud);
    cloud::Admin::login(
        &cloud.auth_url,
        &admin.username,
        &admin.password,
        &admin.project,
    )
    .await
}

/// The images the packages of these tests name (the next version's too), and quotas
/// for the scenarios that run side by side, on the full set.
async fn prepare_full_cloud(cloud: &Cloud) {
    let admin_cloud = admin(cloud);
    let api = admin_api(cloud).await;
    // `v2-os-basic-lcms-max` names storage images whose artifact the corpus leaves out
    // (its volumes are stand-ins here).
    for image in [
        "cirros-0.5.2-x86_64-disk",
        "cirros-0.5.2-x86_64-disk-v2",
        "VDU1-VirtualStorage-image",
        "VDU2-VirtualStorage-image",
    ] {
        api.ensure_image(image).await;
    }
    for project in [&cloud.project, &admin_cloud.project] {
        let id = api.project_id(project).await;
        api.raise_quotas(&id).await;
    }
}

/// The compute resource ids of the VNFCs an instance records.
fn recorded_servers(record: &VnfInstance) -> BTreeSet<String> {
    record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
        .map(|v| v.compute_resource.resource_id.clone())
        .collect()
}

/// What Nova and Neutron hold after an operation agrees with the record and with the
/// operation's `resourceChanges`: exactly the VNFCs' servers (in `status`), each with
/// a port holding every address its CPs record; the servers that came are those the
/// changes add (or give to a healed VNFC), those that went are those of the VNFCs the
/// changes remove or heal. Answers what Nova holds now.
async fn assert_cloud_matches(
    api: &cloud::Admin,
    project: &str,
    before: (&VnfInstance, &BTreeMap<String, cloud::Server>),
    after: (&VnfInstance, &InfraOutcome),
    status: &str,
    what: &str,
) -> BTreeMap<String, cloud::Server> {
    let (was, servers_before) = before;
    let (record, outcome) = after;
    let now = api.servers(project).await;
    let held: BTreeSet<String> = now.keys().cloned().collect();
    assert_eq!(
        held,
        recorded_servers(record),
        "{what}: Nova holds exactly the servers of the recorded VNFCs"
    );
    for vnfc in record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
    {
        let server = &now[&vnfc.compute_resource.resource_id];
        assert_eq!(server.status, status, "{what}: VNFC {}'s server", vnfc.id);
        let recorded: BTreeSet<String> = vnfc
            .vnfc_cp_info
            .iter()
            .flat_map(|cp| cp.cp_protocol_info.iter())
            .filter_map(|p| p.ip_over_ethernet.as_ref())
            .flat_map(|ip| ip.ip_addresses.iter())
            .flat_map(|a| a.addresses.iter().cloned())
            .collect();
        assert!(
            !recorded.is_empty() && recorded.is_subset(&server.addresses),
            "{what}: VNFC {} records {recorded:?}; Neutron's ports of its server hold {:?}",
            vnfc.id,
            server.addresses
        );
    }
    let came: BTreeSet<String> = held
        .iter()
        .filter(|id| !servers_before.contains_key(*id))
        .cloned()
        .collect();
    let went: BTreeSet<String> = servers_before
        .keys()
        .filter(|id| !now.contains_key(*id))
        .cloned()
        .collect();
    let changes = &outcome.resource_changes.affected_vnfcs;
    let added: BTreeSet<String> = changes
        .iter()
        .filter(|c| matches!(c.change_type, ChangeType::Added | ChangeType::Modified))
        .map(|c| c.compute_resource.resource_id.clone())
        .filter(|id| !servers_before.contains_key(id))
        .collect();
    assert_eq!(
        came, added,
        "{what}: the new servers are those resourceChanges add"
    );
    let old_server = |vnfc_id: &str| {
        was.instantiated_vnf_info
            .iter()
            .flat_map(|i| i.vnfc_resource_info.iter())
            .find(|v| v.id == vnfc_id)
            .map(|v| v.compute_resource.resource_id.clone())
    };
    let removed: BTreeSet<String> = changes
        .iter()
        .filter(|c| matches!(c.change_type, ChangeType::Removed | ChangeType::Modified))
        .filter_map(|c| old_server(&c.id))
        .filter(|id| !now.contains_key(id))
        .collect();
    assert_eq!(
        went, removed,
        "{what}: the servers gone are those resourceChanges remove or replace"
    );
    now
}

/// `VDU1_scale` to `level`.
fn vdu1_scale(level: u32, scale_type: ScaleType) -> ScaleTarget {
    ScaleTarget::new(
        vec![ScaleInfo {
            aspect_id: "VDU1_scale".into(),
            vnfd_id: None,
            scale_level: level,
        }],
        Some(scale_type),
    )
}

/// On the full set: a VNF of `v2-os-basic-lcms-min` through instantiate, scale out,
/// heal of one VNFC, stop, start, scale in and terminate, with Nova's servers and
/// Neutron's ports and networks compared with the record and `resourceChanges` after
/// every operation; terminate leaves no server, port or network of the VNF.
async fn servers_and_ports_match_the_record(driver: OpenStackInfraDriver, cloud: Cloud) {
    // The administrator's project, where no other scenario makes real servers.
    let admin_cloud = admin(&cloud);
    let api = admin_api(&cloud).await;
    let project = api.project_id(&admin_cloud.project).await;
    let ports_before = api.ports(&project).await;
    let networks_before = api.networks(&project).await;
    let package = package("v2-os-basic-lcms-min");
    let mut instance = Instance::new(package, "simple", vim(&admin_cloud, Fault::None));
    let mut servers = api.servers(&project).await;
    assert!(
        servers.is_empty(),
        "no server in the project yet: {servers:?}"
    );

    // Records `outcome` of the operation `what` and compares the cloud with it.
    macro_rules! recorded {
        ($outcome:expr, $applied:expr, $status:literal, $what:literal) => {{
            let outcome = $outcome.unwrap_or_else(|e| panic!("{}: {}", $what, detail(&e)));
            let was = instance.record.clone();
            instance.record($applied, &outcome);
            servers = assert_cloud_matches(
                &api,
                &project,
                (&was, &servers),
                (&instance.record, &outcome),
                $status,
                $what,
            )
            .await;
        }};
    }

    let request = instance.instantiate_request();
    let outcome = driver.instantiate(&instance.ctx(&new_id()), &request).await;
    recorded!(
        outcome,
        sim::AppliedOperation::Instantiate(&request),
        "ACTIVE",
        "instantiate"
    );
    let internal: BTreeSet<String> = instance
        .record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnf_virtual_link_resource_info.iter())
        .map(|l| l.network_resource.resource_id.clone())
        .collect();
    let networks_now: BTreeSet<String> = api
        .networks(&project)
        .await
        .difference(&networks_before)
        .cloned()
        .collect();
    assert_eq!(
        networks_now, internal,
        "Neutron holds the internal virtual links' networks"
    );

    let out = vdu1_scale(1, ScaleType::ScaleOut);
    let outcome = driver.scale(&instance.ctx(&new_id()), &out).await;
    recorded!(
        outcome,
        sim::AppliedOperation::Scale(&out),
        "ACTIVE",
        "scale out"
    );
    assert_eq!(servers.len(), 3, "a third server");

    let vdu2 = instance
        .record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
        .find(|v| v.vdu_id == "VDU2")
        .map(|v| v.id.clone())
        .expect("a VNFC of VDU2");
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![vdu2],
        ..HealVnfRequest::default()
    };
    let outcome = driver.heal(&instance.ctx(&new_id()), &heal).await;
    recorded!(
        outcome,
        sim::AppliedOperation::Heal,
        "ACTIVE",
        "heal of a VNFC"
    );

    for (state, status) in [
        (VnfOperationalStateType::Stopped, "SHUTOFF"),
        (VnfOperationalStateType::Started, "ACTIVE"),
    ] {
        let operate = OperateVnfRequest {
            change_state_to: state,
            stop_type: Some(StopType::Forceful),
            graceful_stop_timeout: None,
            additional_params: KeyValuePairs::new(),
        };
        let outcome = driver
            .operate(&instance.ctx(&new_id()), &operate)
            .await
            .unwrap_or_else(|e| panic!("operate: {}", detail(&e)));
        instance.record(sim::AppliedOperation::Operate(&operate), &outcome);
        let now = api.servers(&project).await;
        assert!(
            now.values().all(|s| s.status == status) && now.len() == servers.len(),
            "operate {state:?}: every server {status}: {now:?}"
        );
    }

    let back = vdu1_scale(0, ScaleType::ScaleIn);
    let outcome = driver.scale(&instance.ctx(&new_id()), &back).await;
    recorded!(
        outcome,
        sim::AppliedOperation::Scale(&back),
        "ACTIVE",
        "scale in"
    );
    assert_eq!(servers.len(), 2);

    let outcome = driver
        .terminate(&instance.ctx(&new_id()), &forceful())
        .await;
    recorded!(
        outcome,
        sim::AppliedOperation::Terminate,
        "ACTIVE",
        "terminate"
    );
    assert!(servers.is_empty(), "terminate leaves no server");
    assert_eq!(
        api.ports(&project).await.keys().collect::<BTreeSet<_>>(),
        ports_before.keys().collect::<BTreeSet<_>>(),
        "terminate leaves no port"
    );
    assert_eq!(
        api.networks(&project).await,
        networks_before,
        "terminate leaves no network"
    );
}

/// On the full set: `v2-os-basic-lcms-min` with VDU1's software image carried in the
/// package (a 1 MiB artifact under a name Glance does not know, its SHA-512 in the
/// VNFD). Instantiate uploads it (Glance's own SHA-512 of the data is the VNFD's), a
/// second instance of the package uses the same image, and a package whose artifact
/// does not match its checksum is refused, leaving no image behind.
async fn images_from_the_package(driver: OpenStackInfraDriver, cloud: Cloud) {
    use sha2::Digest as _;
    let api = admin_api(&cloud).await;
    let name = format!("tacker-test-image-{}", new_id());
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let hash: String = sha2::Sha512::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let variant = |checksum: &str| {
        let mut package = package("v2-os-basic-lcms-min");
        for flavour in &mut package.vnfd.flavours {
            if let Some(image) = flavour
                .vdus
                .iter_mut()
                .find(|v| v.id == "VDU1")
                .and_then(|v| v.sw_image.as_mut())
            {
                image.name = name.clone();
                image.checksum_algorithm = Some("sha-512".into());
                image.checksum_hash = Some(checksum.to_owned());
                image.disk_format = "raw".into();
                // The cloud's flavour is smaller than the VNFD's image asks for.
                image.min_ram = 0;
                image.min_disk = 0;
                image.container_format = "bare".into();
                image.file = Some("Files/images/test-image.img".into());
            }
        }
        let mut files = InMemoryPackageFiles::new();
        for path in tacker_core::package::PackageFiles::paths(package.files.as_ref()) {
            let bytes = futures_lite_read(package.files.as_ref(), &path);
            files = files.with_file(path, bytes);
        }
        package.files = Arc::new(files.with_file("Files/images/test-image.img", data.clone()));
        package
    };

    // A checksum the artifact does not have: refused, and no image stays.
    let wrong = variant(&"0".repeat(128));
    let instance = Instance::new(wrong, "simple", vim(&cloud, Fault::None));
    let error = driver
        .instantiate(&instance.ctx(&new_id()), &instance.instantiate_request())
        .await
        .expect_err("a package whose image does not match its checksum is refused");
    assert!(
        matches!(error, Error::Unprocessable(_)) && detail(&error).contains("checksum"),
        "{}",
        detail(&error)
    );
    assert!(
        api.images(&name).await.is_empty(),
        "the refused image is deleted from Glance"
    );
    driver
        .rollback(
            &instance.ctx(&new_id()),
            &Rollback::Instantiate(&instance.instantiate_request()),
        )
        .await
        .unwrap_or_else(|e| panic!("rollback: {}", detail(&e)));

    // The package's image, uploaded once for two instances.
    let mut instances = Vec::new();
    for _ in 0..2 {
        let mut instance = Instance::new(variant(&hash), "simple", vim(&cloud, Fault::None));
        let request = instance.instantiate_request();
        let outcome = driver
            .instantiate(&instance.ctx(&new_id()), &request)
            .await
            .unwrap_or_else(|e| panic!("instantiate with the package's image: {}", detail(&e)));
        instance.record(sim::AppliedOperation::Instantiate(&request), &outcome);
        instances.push(instance);
    }
    let images = api.images(&name).await;
    assert_eq!(images.len(), 1, "one image for both instances: {images:?}");
    let image = &images[0];
    assert_eq!(image["status"], "active");
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(
        image["os_hash_value"],
        hash.as_str(),
        "Glance holds the package's image"
    );
    assert!(
        image["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "tacker-vnfm")),
        "{image}"
    );
    for instance in instances {
        driver
            .terminate(&instance.ctx(&new_id()), &forceful())
            .await
            .unwrap_or_else(|e| panic!("terminate: {}", detail(&e)));
    }
    api.delete_images(&name).await;
}

/// On the full set: the zone a grant gives VDU2 of `v2-os-basic-lcms-min` (whose HOT
/// here hands `nfv.VDU.VDU2.locationConstraints` to the server's `availability_zone`, as
/// Tacker's samples do) is the zone Nova puts its server in; a zone Nova does not have
/// fails the instantiation with Nova's reason, and its rollback leaves nothing.
async fn granted_zones_reach_nova(driver: OpenStackInfraDriver, cloud: Cloud) {
    // The demo project: the administrator's is kept to the scenario that compares
    // every server of the project with its record.
    let api = admin_api(&cloud).await;
    let mut package = package("v2-os-basic-lcms-min");
    let hot = "BaseHOT/simple/sample2.yaml";
    let text = String::from_utf8(futures_lite_read(&package.files, hot)).expect("HOT text");
    let zoned = text.replacen(
        "      name: VDU2\n",
        "      name: VDU2\n      availability_zone: { get_param: [ nfv, VDU, VDU2, locationConstraints ] }\n",
        1,
    );
    assert_ne!(zoned, text, "the HOT names VDU2's server");
    package.files = Arc::new((*package.files).clone().with_file(hot, zoned.into_bytes()));
    for (zone, succeeds) in [("nova", true), ("no-such-zone", false)] {
        let mut instance = Instance::new(package.clone(), "simple", vim(&cloud, Fault::None));
        let op = new_id();
        let request: GrantRequest = serde_json::from_value(json!({
            "vnfInstanceId": instance.record.id, "vnfLcmOpOccId": op,
            "vnfdId": instance.package.vnfd.descriptor_id, "operation": "INSTANTIATE",
            "isAutomaticInvocation": false,
            "addResources": [
                {"id": "r1", "type": "COMPUTE", "vduId": "VDU1", "resourceTemplateId": "VDU1"},
                {"id": "r2", "type": "COMPUTE", "vduId": "VDU2", "resourceTemplateId": "VDU2"}],
            "_links": {"vnfLcmOpOcc": {"href": "x"}, "vnfInstance": {"href": "x"}}
        }))
        .expect("grant request");
        let grant: Grant = serde_json::from_value(json!({
            "id": "g", "vnfInstanceId": instance.record.id, "vnfLcmOpOccId": op,
            "zones": [{"id": "z", "zoneId": zone}],
            "addResources": [{"resourceDefinitionId": "r1"}, {"resourceDefinitionId": "r2", "zoneId": "z"}],
            "_links": {"self": {"href": "x"}, "vnfLcmOpOcc": {"href": "x"}, "vnfInstance": {"href": "x"}}
        }))
        .expect("grant");
        let instantiate = instance.instantiate_request();
        let ctx = instance
            .ctx(&op)
            .with_grant(Some(&grant))
            .with_grant_request(Some(&request));
        let outcome = driver.instantiate(&ctx, &instantiate).await;
        if succeeds {
            let outcome =
                outcome.unwrap_or_else(|e| panic!("instantiate in {zone}: {}", detail(&e)));
            let vdu2 = outcome
                .resources
                .vnfc_resource_info
                .iter()
                .find(|v| v.vdu_id == "VDU2")
                .expect("a VNFC of VDU2");
            assert_eq!(
                vdu2.zone_id.as_deref(),
                Some(zone),
                "the VNFC records its zone"
            );
            assert_eq!(
                api.server_zone(&vdu2.compute_resource.resource_id).await,
                zone,
                "Nova placed VDU2's server in the granted zone"
            );
            instance.record(sim::AppliedOperation::Instantiate(&instantiate), &outcome);
            let terminated = driver
                .terminate(&instance.ctx(&new_id()), &forceful())
                .await
                .unwrap_or_else(|e| panic!("terminate: {}", detail(&e)));
            instance.record(sim::AppliedOperation::Terminate, &terminated);
        } else {
            let error = outcome.expect_err("Nova has no such zone");
            let text = detail(&error).to_ascii_lowercase();
            assert!(
                text.contains("availability zone") || text.contains(zone),
                "the error quotes Nova's reason: {text}"
            );
            driver
                .rollback(&ctx, &Rollback::Instantiate(&instantiate))
                .await
                .unwrap_or_else(|e| panic!("rollback: {}", detail(&e)));
            assert!(
                driver
                    .resource_ids(&instance.vim, &instance.record.id)
                    .await
                    .expect("listing")
                    .is_empty(),
                "the rollback leaves nothing"
            );
        }
    }
}

/// The bytes of a package file (the test packages are in memory).
fn futures_lite_read(files: &InMemoryPackageFiles, path: &str) -> Vec<u8> {
    futures::executor::block_on(tacker_core::package::PackageFiles::read(files, path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A token Keystone revoked while the driver holds it: Heat answers 401, the session
/// authenticates once more and the operation completes.
async fn revoked_token(driver: OpenStackInfraDriver, cloud: Cloud) {
    let package = package("v2-os-basic-lcms-min");
    let mut instance = Instance::new(package, "simple", vim(&cloud, Fault::None));
    let request = instance.instantiate_request();
    let session = driver.session(&instance.vim).expect("session");
    let (token, expires_at) = user_token(&cloud, true).await;
    session
        .adopt_token(token, expires_at)
        .await
        .expect("adopt the token");
    let op = new_id();
    let outcome = driver
        .instantiate(&instance.ctx(&op), &request)
        .await
        .unwrap_or_else(|e| panic!("instantiate with a revoked token: {}", detail(&e)));
    instance.record(sim::AppliedOperation::Instantiate(&request), &outcome);
    // A valid token about to expire is renewed before use, not after a 401.
    let (token, _) = user_token(&cloud, false).await;
    let expiring = chrono::Utc::now() + chrono::Duration::milliseconds(500);
    session
        .adopt_token(token, expiring)
        .await
        .expect("adopt the token");
    tokio::time::sleep(Duration::from_millis(600)).await;
    driver
        .terminate(&instance.ctx(&new_id()), &forceful())
        .await
        .unwrap_or_else(|e| panic!("terminate: {}", detail(&e)));
}

/// A token of the cloud's user (revoked by Keystone when `revoke`), and its expiry.
async fn user_token(cloud: &Cloud, revoke: bool) -> (String, chrono::DateTime<chrono::Utc>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = format!("{}/auth/tokens", cloud.auth_url.trim_end_matches('/'));
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": cloud.username, "domain": {"id": cloud.user_domain_id},
            "password": cloud.password}}},
        "scope": {"project": {"name": cloud.project, "domain": {"id": cloud.project_domain_id}}}
    }});
    let response = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status().as_u16(), 201, "a token for the test");
    let token = response
        .headers()
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .expect("X-Subject-Token")
        .to_owned();
    let value: Value = response.json().await.expect("token body");
    let expires_at = value["token"]["expires_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("expires_at")
        .with_timezone(&chrono::Utc);
    if !revoke {
        return (token, expires_at);
    }
    let revoke = http
        .delete(&url)
        .header("X-Auth-Token", &token)
        .header("X-Subject-Token", &token)
        .send()
        .await
        .expect("revocation");
    assert_eq!(revoke.status().as_u16(), 204, "Keystone revokes the token");
    (token, expires_at)
}

/// Registering a VIM checks its credentials: a wrong password and an unreachable
/// Keystone are registration errors that say what Keystone (or the network) answered;
/// good credentials give the regions and Heat's endpoint.
async fn vim_registration(cloud: Cloud) -> u64 {
    let driver = OpenStackVimDriver::new();
    let good = vim(&cloud, Fault::None);
    let description = driver
        .validate(&good)
        .await
        .unwrap_or_else(|e| panic!("good credentials: {}", detail(&e)));
    assert!(
        !description.regions.is_empty(),
        "regions: {:?}",
        description.regions
    );
    assert_eq!(description.extra.get("orchestration"), Some(&json!(true)));

    let mut wrong = good.clone();
    wrong
        .access_info
        .insert("password".into(), json!("not-the-password"));
    let error = driver
        .validate(&wrong)
        .await
        .expect_err("a wrong password is refused");
    let text = detail(&error);
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    assert!(text.contains("401"), "says what Keystone answered: {text}");
    assert!(text.contains(&cloud.username), "names the user: {text}");

    let mut unreachable = good.clone();
    unreachable
        .interface_info
        .insert("endpoint".into(), json!("http://127.0.0.1:9/v3"));
    let error = driver
        .validate(&unreachable)
        .await
        .expect_err("an unreachable Keystone is refused");
    assert!(detail(&error).contains("127.0.0.1:9"), "{}", detail(&error));

    let mut missing = good;
    missing.access_info.remove("password");
    let error = driver
        .validate(&missing)
        .await
        .expect_err("a missing password is refused");
    assert!(
        detail(&error).contains("accessInfo.password"),
        "{}",
        detail(&error)
    );
    driver.stats().token_requests()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openstack_drivers_against_real_keystone_and_heat() {
    let Some(cloud) = cloud() else {
        return;
    };
    let started = Instant::now();
    let nova = if cloud.full {
        prepare_full_cloud(&cloud).await;
        None
    } else {
        // Nova does not run here: a double of its compute API, registered in the real
        // Keystone catalog before any session authenticates, serves operate.
        let (nova_url, nova) = start_nova().await;
        register_compute_endpoint(&cloud, &nova_url).await;
        Some(nova)
    };
    let driver = OpenStackInfraDriver::new(OpenStackOptions {
        operation_timeout: Duration::from_secs(180),
        ..OpenStackOptions::default()
    });
    let mut tasks = Vec::new();
    // `TACKER_TEST_OS_ONLY=<name>[;<name>…]` runs only those scenarios;
    // `TACKER_TEST_OS_REPEAT=<n>` runs "failure, retry, rollback" n times in a row.
    let only: Option<Vec<String>> = std::env::var("TACKER_TEST_OS_ONLY")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.split(';').map(|n| n.trim().to_owned()).collect());
    let repeat: u32 = std::env::var("TACKER_TEST_OS_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .clamp(1, 100);
    macro_rules! scenario {
        ($name:expr, $future:expr) => {
            if only
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == $name))
            {
                let future = $future;
                tasks.push((
                    $name,
                    tokio::spawn(async move {
                        let begun = Instant::now();
                        future.await;
                        begun.elapsed()
                    }),
                ));
            }
        };
    }
    scenario!(
        "conformance suite",
        conformance(driver.clone(), cloud.clone(), nova.clone())
    );
    scenario!(
        "v2-os-basic-lcms-max",
        corpus_max(driver.clone(), cloud.clone())
    );
    scenario!("failure, retry, rollback", {
        let (driver, cloud) = (driver.clone(), cloud.clone());
        async move {
            for run in 1..=repeat {
                let begun = Instant::now();
                failure_retry_rollback(driver.clone(), cloud.clone()).await;
                if repeat > 1 {
                    eprintln!(
                        "'failure, retry, rollback' run {run}/{repeat} passed in {:.1?}",
                        begun.elapsed()
                    );
                }
            }
        }
    });
    scenario!(
        "revoked token",
        revoked_token(driver.clone(), cloud.clone())
    );
    scenario!(
        "change flavour",
        change_flavour(driver.clone(), cloud.clone())
    );
    scenario!("deadline", deadline(cloud.clone()));
    scenario!("heat rollback", heat_rollback(cloud.clone()));
    if cloud.full {
        scenario!(
            "Nova servers and Neutron ports",
            servers_and_ports_match_the_record(driver.clone(), cloud.clone())
        );
        scenario!(
            "images from the package",
            images_from_the_package(driver.clone(), cloud.clone())
        );
        scenario!(
            "granted zones reach Nova",
            granted_zones_reach_nova(driver.clone(), cloud.clone())
        );
    }
    let registration = only
        .is_none()
        .then(|| tokio::spawn(vim_registration(cloud.clone())));

    let mut failures = Vec::new();
    for (name, task) in tasks {
        match task.await {
            Ok(elapsed) => eprintln!("openstack scenario '{name}' passed in {elapsed:.1?}"),
            Err(error) => {
                eprintln!("openstack scenario '{name}' FAILED: {error}");
                failures.push(name);
            }
        }
    }
    let Some(registration) = registration else {
        assert!(failures.is_empty(), "failed scenarios: {failures:?}");
        return;
    };
    let registration_tokens = match registration.await {
        Ok(tokens) => tokens,
        Err(error) => {
            eprintln!("openstack scenario 'VIM registration' FAILED: {error}");
            failures.push("VIM registration");
            0
        }
    };
    let stats = driver.stats();
    let summary = format!(
        "Keystone token requests of the shared driver: {} for {} session(s) and {} service calls \
         (two renewals expected: after the revoked token and before the expiring one); VIM registration: {registration_tokens} \
         token requests for 4 checks; whole run {:.1?}",
        stats.token_requests(),
        stats.sessions(),
        stats.service_calls(),
        started.elapsed()
    );
    eprintln!("{summary}");
    // Kept for the CI log (.ci/run prints it after the tests).
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openstack-keystone.txt");
    if let Err(error) = std::fs::write(&report, format!("{summary}\n")) {
        eprintln!("cannot write {}: {error}", report.display());
    }
    assert!(failures.is_empty(), "failed scenarios: {failures:?}");
    assert_eq!(stats.sessions(), 2, "one session per user");
    assert!(
        stats.token_requests() <= stats.sessions() + 2,
        "token requests ({}) must be bounded by the sessions ({}) plus the two renewals",
        stats.token_requests(),
        stats.sessions()
    );
    assert!(
        stats.service_calls() > 10 * stats.token_requests(),
        "the token is reused across calls"
    );
}
