//! The LCM engine, operation by operation and state by state, on the memory store, the
//! package manager and the simulated VIM:
//!
//! - every operation type through success, failure then retry, failure then fail,
//!   failure then rollback (or its refusal), and GRACEFUL and FORCEFUL cancel;
//! - every transition of the op-state machine, reached through the engine;
//! - every validation refusal, with nothing stored;
//! - LCM notifications as the store's outbox holds them, per subscription filter.

mod support;

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::memory::InMemory;
use tacker_core::grant::GrantProvider;
use tacker_core::infra::{InfraCapabilities, InfraOperation};
use tacker_core::lcm::{LcmConfig, LocalGrantProvider, OpEvent, OpRequest, VnfLcm, transition};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    CancelModeType, ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeType,
    ChangeVnfFlavourRequest, CpProtocolData, CreateVnfPkgInfoRequest, CreateVnfRequest,
    ExtManagedVirtualLinkData, ExtVirtualLinkData, Grant, GrantRequest, HealVnfRequest,
    InstantiateVnfRequest, InstantiationState, IpAddressData, IpAddressType,
    IpOverEthernetAddressData, KeyValuePairs, LayerProtocol, LccnSubscriptionRequest,
    LcmNotificationType, LcmOpOccNotificationVerbosityType, LcmOperationStateType as State,
    LcmOperationType as Op, LifecycleChangeNotificationsFilter, NotificationStatus,
    OperateVnfRequest, PackageOperationalStateType, PackageUsageStateType, ScaleInfo, ScaleType,
    ScaleVnfRequest, ScaleVnfToLevelRequest, StopType, TerminateVnfRequest, TerminationType,
    VimConnectionInfo, VnfExtCpConfig, VnfExtCpData, VnfIdentifierCreationNotification,
    VnfIdentifierDeletionNotification, VnfInfoModificationRequest, VnfInstance,
    VnfInstanceSubscriptionFilter, VnfLcmOpOcc, VnfLcmOperationOccurrenceNotification,
    VnfOperationalStateType, VnfPkgInfoModifications, VnfProduct, VnfProductsFromProvider,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SimInfraDriver, SimOperation, sample_vim};
use tacker_core::store::{ListQuery, MemoryStore, OutboxEntry, Store};
use tacker_core::{Error, TenantId};

const WAIT: Duration = Duration::from_secs(20);
/// Release 1.0, flavours `simple` and `big`.
const V1: &str = support::TWO_FLAVOURS_VNFD_ID;
/// Release 2.0 of the same VNF, flavour `simple` only.
const V2: &str = support::V2_VNFD_ID;
/// Another product of the same provider.
const OTHER: &str = support::OTHER_PRODUCT_VNFD_ID;

// ----- Test doubles ----------------------------------------------------------------------

/// A MgmtDriver that records its calls, fails the hooks it is told to (once each), and
/// can take its time (watching the cancellation token like a real one).
#[derive(Debug, Default)]
struct Hooks {
    calls: Mutex<Vec<String>>,
    failures: Mutex<BTreeMap<String, u32>>,
    delay: Mutex<Duration>,
}

impl Hooks {
    fn fail_once(&self, hook: &str) {
        *self
            .failures
            .lock()
            .expect("failures")
            .entry(hook.to_owned())
            .or_default() += 1;
    }

    fn set_delay(&self, delay: Duration) {
        *self.delay.lock().expect("delay") = delay;
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    fn count(&self, hook: &str) -> usize {
        self.calls().iter().filter(|c| *c == hook).count()
    }
}

#[async_trait]
impl MgmtDriver for Hooks {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> tacker_core::Result<MgmtOutcome> {
        let name = ctx.hook.sol001_name();
        self.calls.lock().expect("calls").push(name.clone());
        let delay = *self.delay.lock().expect("delay");
        if !delay.is_zero() {
            tokio::select! {
                () = ctx.cancel.cancelled() => {
                    return Err(Error::Cancelled(format!("hook {name}")));
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
        let fail = {
            let mut failures = self.failures.lock().expect("failures");
            match failures.get_mut(&name) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    true
                }
                _ => false,
            }
        };
        if fail {
            return Err(Error::driver(
                "mgmt_driver",
                false,
                format!("{name}: injected hook failure"),
            ));
        }
        Ok(MgmtOutcome::new().with_metadata_entry("hooked", name))
    }
}

/// The local grant provider, which can be told to refuse or to take its time.
#[derive(Debug)]
struct Grants {
    inner: LocalGrantProvider,
    refuse: AtomicBool,
    delay: Mutex<Duration>,
    asked: Mutex<Vec<String>>,
}

impl Grants {
    fn new() -> Self {
        Self {
            inner: LocalGrantProvider::new(BTreeMap::from([("vim1".to_owned(), sample_vim())])),
            refuse: AtomicBool::new(false),
            delay: Mutex::new(Duration::ZERO),
            asked: Mutex::new(Vec::new()),
        }
    }

    fn asked(&self) -> usize {
        self.asked.lock().expect("asked").len()
    }
}

#[async_trait]
impl GrantProvider for Grants {
    async fn grant(&self, tenant: &TenantId, request: &GrantRequest) -> tacker_core::Result<Grant> {
        self.asked
            .lock()
            .expect("asked")
            .push(request.vnf_lcm_op_occ_id.clone());
        let delay = *self.delay.lock().expect("delay");
        tokio::time::sleep(delay).await;
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Error::Forbidden(format!(
                "no capacity for {} new resources",
                request.add_resources.len()
            )));
        }
        self.inner.grant(tenant, request).await
    }
}

// ----- Fixture ---------------------------------------------------------------------------

struct Fixture {
    store: Arc<MemoryStore>,
    packages: VnfPackageManager,
    sim: SimInfraDriver,
    hooks: Arc<Hooks>,
    grants: Arc<Grants>,
    tenant: TenantId,
    /// Package id by VNFD id.
    package_ids: BTreeMap<&'static str, String>,
}

fn config() -> LcmConfig {
    LcmConfig {
        lease_ttl: Duration::from_secs(3),
        poll_interval: Duration::from_millis(20),
        ..LcmConfig::default()
    }
}

async fn fixture() -> Fixture {
    fixture_with(SimInfraDriver::default()).await
}

async fn fixture_with(sim: SimInfraDriver) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
        .build()
        .expect("package manager");
    let tenant = TenantId::default();
    let mut package_ids = BTreeMap::new();
    for (vnfd_id, zip) in [
        (V1, support::package_zip_two_flavours()),
        (V2, support::package_zip(support::TOP_V2)),
        (OTHER, support::package_zip(support::TOP_OTHER_PRODUCT)),
    ] {
        let pkg = packages
            .create(&tenant, CreateVnfPkgInfoRequest::default())
            .await
            .expect("create package");
        packages
            .upload_content(&tenant, &pkg.id, zip)
            .await
            .expect("onboard");
        let info = packages.get(&tenant, &pkg.id).await.expect("package");
        assert_eq!(info.vnfd_id.as_deref(), Some(vnfd_id), "the package's VNFD");
        package_ids.insert(vnfd_id, pkg.id);
    }
    Fixture {
        store,
        packages,
        sim,
        hooks: Arc::new(Hooks::default()),
        grants: Arc::new(Grants::new()),
        tenant,
        package_ids,
    }
}

/// How an engine of the fixture is wired.
struct Wiring {
    sim: Option<SimInfraDriver>,
    mgmt: bool,
    default_vim: bool,
}

impl Default for Wiring {
    fn default() -> Self {
        Self {
            sim: None,
            mgmt: true,
            default_vim: true,
        }
    }
}

impl Fixture {
    fn engine(&self) -> VnfLcm {
        self.engine_wired(Wiring::default())
    }

    fn engine_wired(&self, wiring: Wiring) -> VnfLcm {
        let sim = wiring.sim.unwrap_or_else(|| self.sim.clone());
        let mut builder = VnfLcm::builder()
            .store(self.store.clone())
            .packages(Arc::new(self.packages.clone()))
            .infra_driver(Arc::new(sim))
            .grant_provider(self.grants.clone())
            .config(config());
        if wiring.mgmt {
            builder = builder.mgmt_driver(self.hooks.clone());
        }
        if wiring.default_vim {
            builder = builder.default_vim("vim1", sample_vim());
        }
        builder.build().expect("engine")
    }

    async fn create(&self, lcm: &VnfLcm, vnfd_id: &str, name: &str) -> String {
        let request = CreateVnfRequest {
            vnfd_id: vnfd_id.into(),
            vnf_instance_name: Some(name.into()),
            ..CreateVnfRequest::default()
        };
        lcm.create_vnf(&self.tenant, request)
            .await
            .expect("create VNF")
            .id
    }

    async fn instantiate(&self, lcm: &VnfLcm, id: &str, flavour: &str, level: Option<&str>) {
        let request = instantiate_request(flavour, level);
        let op = lcm
            .instantiate(&self.tenant, id, request)
            .await
            .expect("accepted");
        let op = settle(lcm, &self.tenant, &op.id).await;
        assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    }

    async fn instance(&self, lcm: &VnfLcm, id: &str) -> VnfInstance {
        lcm.instance(&self.tenant, id).await.expect("instance")
    }

    async fn usage(&self, vnfd_id: &str) -> PackageUsageStateType {
        self.packages
            .get(&self.tenant, &self.package_ids[vnfd_id])
            .await
            .expect("package")
            .usage_state
    }

    /// The package of `vnfd_id` reaches `usage` (releasing the package an instance left
    /// follows the commit of the operation's result).
    async fn usage_becomes(&self, vnfd_id: &str, usage: PackageUsageStateType) {
        let deadline = Instant::now() + WAIT;
        while self.usage(vnfd_id).await != usage {
            assert!(
                Instant::now() < deadline,
                "{vnfd_id} never became {usage:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn ops_of(&self, lcm: &VnfLcm, id: &str) -> Vec<VnfLcmOpOcc> {
        lcm.op_occs(&self.tenant, &ListQuery::all())
            .await
            .expect("op occurrences")
            .items
            .into_iter()
            .filter(|op| op.vnf_instance_id == id)
            .collect()
    }

    /// Every queued notification, in outbox order, acknowledged (so removed).
    async fn drain(&self) -> Vec<OutboxEntry> {
        let mut all = Vec::new();
        loop {
            let claimed = self
                .store
                .claim_notifications(
                    "matrix-test",
                    chrono::Utc::now(),
                    Duration::from_secs(60),
                    1000,
                )
                .await
                .expect("claim");
            if claimed.is_empty() {
                break;
            }
            for entry in claimed {
                self.store.ack_notification(&entry).await.expect("ack");
                all.push(entry);
            }
        }
        all.sort_by_key(|e| e.seq);
        all
    }

    /// The instance's VNFCs, VNFD, flavour, power and external links are what the VIM
    /// holds.
    fn assert_vim_matches(&self, instance: &VnfInstance) {
        let deployment = self.sim.deployment(&self.tenant, &instance.id);
        let Some(info) = instance.instantiated_vnf_info.as_ref() else {
            assert!(
                deployment.is_none(),
                "nothing is left in the VIM: {deployment:?}"
            );
            return;
        };
        let deployment = deployment.expect("a deployment in the VIM");
        assert_eq!(deployment.vnfd_id, instance.vnfd_id);
        assert_eq!(deployment.flavour_id, info.flavour_id);
        let recorded: BTreeMap<&str, &str> = info
            .vnfc_resource_info
            .iter()
            .map(|v| (v.id.as_str(), v.compute_resource.resource_id.as_str()))
            .collect();
        let held: BTreeMap<&str, &str> = deployment
            .servers
            .iter()
            .map(|s| (s.vnfc_id.as_str(), s.resource_id.as_str()))
            .collect();
        assert_eq!(
            recorded, held,
            "the VNFCs and compute resources recorded are those in the VIM"
        );
        for server in &deployment.servers {
            assert_eq!(server.power_state, info.vnf_state, "{}", server.vnfc_id);
        }
        let links: Vec<&str> = info
            .ext_virtual_link_info
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(deployment.ext_virtual_links, links);
    }
}

// ----- Requests --------------------------------------------------------------------------

fn ext_link(id: &str, network: &str) -> ExtVirtualLinkData {
    ExtVirtualLinkData {
        id: id.into(),
        vim_connection_id: None,
        resource_provider_id: None,
        resource_id: network.into(),
        ext_cps: vec![VnfExtCpData {
            cpd_id: "CP1".into(),
            cp_config: BTreeMap::from([(
                "CP1_config".to_owned(),
                VnfExtCpConfig {
                    cp_protocol_data: vec![CpProtocolData {
                        layer_protocol: LayerProtocol::IpOverEthernet,
                        ip_over_ethernet: Some(IpOverEthernetAddressData {
                            ip_addresses: vec![IpAddressData {
                                ip_type: IpAddressType::Ipv4,
                                fixed_addresses: Vec::new(),
                                num_dynamic_addresses: Some(1),
                                address_range: None,
                                subnet_id: None,
                            }],
                            ..IpOverEthernetAddressData::default()
                        }),
                    }],
                    ..VnfExtCpConfig::default()
                },
            )]),
        }],
        ext_link_ports: Vec::new(),
    }
}

fn instantiate_request(flavour: &str, level: Option<&str>) -> InstantiateVnfRequest {
    InstantiateVnfRequest {
        flavour_id: flavour.into(),
        instantiation_level_id: level.map(str::to_owned),
        ext_virtual_links: vec![ext_link("ext-vl-1", "net-a")],
        ..InstantiateVnfRequest::default()
    }
}

fn scale(kind: ScaleType, steps: u32) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type: kind,
        aspect_id: "worker".into(),
        number_of_steps: Some(steps),
        additional_params: KeyValuePairs::new(),
    }
}

fn operate(to: VnfOperationalStateType, stop_type: Option<StopType>) -> OperateVnfRequest {
    OperateVnfRequest {
        change_state_to: to,
        stop_type,
        graceful_stop_timeout: None,
        additional_params: KeyValuePairs::new(),
    }
}

fn rename(name: &str) -> VnfInfoModificationRequest {
    VnfInfoModificationRequest {
        vnf_instance_name: Some(name.into()),
        ..VnfInfoModificationRequest::default()
    }
}

fn object(value: serde_json::Value) -> KeyValuePairs {
    value.as_object().cloned().expect("a JSON object")
}

// ----- Checks on operation occurrences ---------------------------------------------------

async fn settle(lcm: &VnfLcm, tenant: &TenantId, op_id: &str) -> VnfLcmOpOcc {
    let op = lcm
        .wait_for(tenant, op_id, &[], WAIT)
        .await
        .expect("the operation settles");
    check_op(&op);
    op
}

/// The SOL003 rules every snapshot of an operation occurrence follows.
fn check_op(op: &VnfLcmOpOcc) {
    let state = op.operation_state;
    let cancellable = matches!(
        state,
        State::Starting | State::Processing | State::RollingBack
    ) && !op.is_cancel_pending;
    assert_eq!(
        op.links.cancel.is_some(),
        cancellable,
        "cancel link of a {state} op (cancel pending: {})",
        op.is_cancel_pending
    );
    let failed_temp = state == State::FailedTemp;
    assert_eq!(
        op.links.retry.is_some(),
        failed_temp,
        "retry link in {state}"
    );
    assert_eq!(op.links.fail.is_some(), failed_temp, "fail link in {state}");
    if !failed_temp {
        assert!(op.links.rollback.is_none(), "rollback link in {state}");
    }
    assert!(op.links.self_.href.ends_with(&op.id));
    assert!(op.links.vnf_instance.href.ends_with(&op.vnf_instance_id));
    if op.is_cancel_pending {
        assert!(
            op.cancel_mode.is_some(),
            "cancelMode while a cancel is pending"
        );
    }
    if state.is_final() {
        assert!(!op.is_cancel_pending, "no cancel is pending in {state}");
    }
    if matches!(state, State::FailedTemp | State::Failed) {
        assert!(op.error.is_some(), "error in {state}");
    }
    if state == State::Completed {
        assert!(op.error.is_none(), "no error in COMPLETED: {:?}", op.error);
    }
    assert!(op.state_entered_time >= op.start_time);
}

/// Follows one operation occurrence: `startTime` stays, `stateEnteredTime` advances
/// with each change of state.
struct Track {
    start_time: chrono::DateTime<chrono::Utc>,
    state: State,
    entered: chrono::DateTime<chrono::Utc>,
}

impl Track {
    fn new(accepted: &VnfLcmOpOcc) -> Self {
        assert_eq!(accepted.operation_state, State::Starting);
        assert_eq!(accepted.state_entered_time, accepted.start_time);
        check_op(accepted);
        Self {
            start_time: accepted.start_time,
            state: accepted.operation_state,
            entered: accepted.state_entered_time,
        }
    }

    /// Follows an operation occurrence from the state it is in.
    fn resume(op: &VnfLcmOpOcc) -> Self {
        check_op(op);
        Self {
            start_time: op.start_time,
            state: op.operation_state,
            entered: op.state_entered_time,
        }
    }

    fn observe(&mut self, op: &VnfLcmOpOcc) {
        check_op(op);
        assert_eq!(op.start_time, self.start_time, "startTime never changes");
        if op.operation_state == self.state {
            assert!(op.state_entered_time >= self.entered);
        } else {
            assert!(
                op.state_entered_time > self.entered,
                "stateEnteredTime advances from {} to {}",
                self.state,
                op.operation_state
            );
        }
        self.state = op.operation_state;
        self.entered = op.state_entered_time;
    }
}

/// What an instance is, without what a VIM hands out anew when it recreates a resource
/// (resource ids, CP and storage instance ids, ports, addresses): everything outside
/// `instantiatedVnfInfo`, and in it the flavour, state, levels, external links, and each
/// VNFC with its id, VDU, CPDs and storage count.
fn logical(instance: &VnfInstance) -> serde_json::Value {
    let mut value = serde_json::to_value(instance).expect("JSON");
    let Some(info) = instance.instantiated_vnf_info.as_ref() else {
        return value;
    };
    let sorted = |mut items: Vec<serde_json::Value>| {
        items.sort_by_key(|v| v.to_string());
        items
    };
    value["instantiatedVnfInfo"] = serde_json::json!({
        "flavourId": info.flavour_id,
        "vnfState": info.vnf_state,
        "scaleStatus": info.scale_status,
        "maxScaleLevels": info.max_scale_levels,
        "localizationLanguage": info.localization_language,
        "monitoringParameters": info.monitoring_parameters,
        "extVirtualLinks": info.ext_virtual_link_info.iter().map(|l| serde_json::json!({
            "id": l.id,
            "network": l.resource_handle.resource_id,
            "currentVnfExtCpData": l.current_vnf_ext_cp_data,
            "ports": l.ext_link_ports.len(),
        })).collect::<Vec<_>>(),
        "extManagedVirtualLinks": info.ext_managed_virtual_link_info.len(),
        "extCps": sorted(info.ext_cp_info.iter().map(|c| serde_json::json!([c.cpd_id, c.cp_config_id])).collect()),
        "vnfcs": sorted(info.vnfc_resource_info.iter().map(|v| serde_json::json!({
            "id": v.id,
            "vduId": v.vdu_id,
            "cpds": v.vnfc_cp_info.iter().map(|c| c.cpd_id.clone()).collect::<Vec<_>>(),
            "storages": v.storage_resource_ids.len(),
        })).collect()),
        "vnfcInfo": info.vnfc_info,
        "virtualLinks": sorted(info.vnf_virtual_link_resource_info.iter().map(|l| serde_json::json!([l.vnf_virtual_link_desc_id, l.vnf_link_ports.len()])).collect()),
        "storages": sorted(info.virtual_storage_resource_info.iter().map(|s| serde_json::json!(s.virtual_storage_desc_id)).collect()),
    });
    value
}

/// The paths where two JSON values differ, for readable assertion messages.
fn differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for key in keys {
                    let null = serde_json::Value::Null;
                    let (l, r) = (x.get(key).unwrap_or(&null), y.get(key).unwrap_or(&null));
                    walk(l, r, &format!("{path}.{key}"), out);
                }
            }
            (serde_json::Value::Array(x), serde_json::Value::Array(y)) if x.len() == y.len() => {
                for (index, (l, r)) in x.iter().zip(y).enumerate() {
                    walk(l, r, &format!("{path}[{index}]"), out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} != {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out
}

/// The instance is the same but for the ids of the resources the VIM recreated.
fn assert_logically_equal(after: &VnfInstance, before: &VnfInstance, what: &str) {
    let found = differences(&logical(after), &logical(before));
    assert!(found.is_empty(), "{what}: {found:#?}");
}

fn vnfc_changes(op: &VnfLcmOpOcc, kind: ChangeType) -> Vec<String> {
    op.resource_changes
        .iter()
        .flat_map(|c| c.affected_vnfcs.iter())
        .filter(|v| v.change_type == kind)
        .map(|v| v.id.clone())
        .collect()
}

fn info(instance: &VnfInstance) -> &tacker_core::model::InstantiatedVnfInfo {
    instance
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiatedVnfInfo")
}

fn vnfc_ids(instance: &VnfInstance, vdu: &str) -> Vec<String> {
    instance
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
        .filter(|v| v.vdu_id == vdu)
        .map(|v| v.id.clone())
        .collect()
}

fn level_of(instance: &VnfInstance, aspect: &str) -> Option<u32> {
    info(instance)
        .scale_status
        .iter()
        .find(|s| s.aspect_id == aspect)
        .map(|s| s.scale_level)
}

fn compute_ids(instance: &VnfInstance) -> BTreeMap<String, String> {
    instance
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
        .map(|v| (v.id.clone(), v.compute_resource.resource_id.clone()))
        .collect()
}

// ----- The matrix ------------------------------------------------------------------------

/// The instance an operation starts from.
#[derive(Debug, Clone, Copy)]
enum Setup {
    NotInstantiated,
    /// Flavour `simple` at its default level (one VNFC), on `ext-vl-1`.
    Simple,
    /// Flavour `simple` at level `large` (three VNFCs).
    SimpleLarge,
    /// Flavour `big` at its default level.
    Big,
}

/// Where a failure is injected.
#[derive(Debug, Clone, Copy)]
enum Inject {
    Sim(SimOperation),
    Hook(&'static str),
}

/// What rolling back does.
#[derive(Debug, Clone, Copy)]
enum Rollback {
    /// The simulated VIM undoes it with this call.
    Sim(SimOperation),
    /// Nothing to undo in the VIM.
    Engine,
    /// Refused: the driver cannot undo it.
    Refused,
}

struct Case {
    op: Op,
    setup: Setup,
    inject: Inject,
    rollback: Rollback,
    request: fn(&VnfInstance) -> OpRequest,
    /// Checks a completed operation: the fixture, the instance before and after, the op.
    effect: fn(&Fixture, &VnfInstance, &VnfInstance, &VnfLcmOpOcc),
}

async fn prepare(f: &Fixture, lcm: &VnfLcm, setup: Setup) -> String {
    let id = f.create(lcm, V1, "matrix").await;
    match setup {
        Setup::NotInstantiated => {}
        Setup::Simple => f.instantiate(lcm, &id, "simple", None).await,
        Setup::SimpleLarge => f.instantiate(lcm, &id, "simple", Some("large")).await,
        Setup::Big => f.instantiate(lcm, &id, "big", None).await,
    }
    id
}

fn inject_once(f: &Fixture, inject: Inject) {
    match inject {
        Inject::Sim(op) => f.sim.fail_once(op),
        Inject::Hook(hook) => f.hooks.fail_once(hook),
    }
}

/// A failure after part of the work, so that a rollback has something to undo.
fn inject_partial(f: &Fixture, inject: Inject) {
    match inject {
        Inject::Sim(op) => f.sim.fail_after_partial(op),
        Inject::Hook(hook) => f.hooks.fail_once(hook),
    }
}

fn set_latency(f: &Fixture, inject: Inject, latency: Duration) {
    match inject {
        Inject::Sim(op) => f.sim.set_latency(op, latency),
        Inject::Hook(_) => f.hooks.set_delay(latency),
    }
}

fn started_calls(f: &Fixture, inject: Inject) -> usize {
    match inject {
        Inject::Sim(op) => usize::try_from(f.sim.calls(op)).expect("count"),
        Inject::Hook(hook) => f.hooks.count(hook),
    }
}

/// Waits until the slow step has been entered.
async fn step_entered(f: &Fixture, inject: Inject, before: usize) {
    let deadline = Instant::now() + WAIT;
    while started_calls(f, inject) <= before {
        assert!(Instant::now() < deadline, "the step never started");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: tacker_core::Result<T>, what: &str) {
    assert!(
        matches!(result, Err(Error::Conflict(_))),
        "{what}: expected Conflict, got {result:?}"
    );
}

async fn refused_tasks(lcm: &VnfLcm, tenant: &TenantId, op: &VnfLcmOpOcc) {
    assert_conflict(lcm.retry(tenant, &op.id).await, "retry");
    assert_conflict(lcm.rollback(tenant, &op.id).await, "rollback");
    assert_conflict(lcm.fail(tenant, &op.id).await, "fail");
    for mode in [CancelModeType::Graceful, CancelModeType::Forceful] {
        assert_conflict(lcm.cancel(tenant, &op.id, mode).await, "cancel");
    }
}

async fn run_matrix(case: Case) {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    succeed(&f, &lcm, &case).await;
    fail_then_retry(&f, &lcm, &case).await;
    fail_then_fail(&f, &lcm, &case).await;
    fail_then_roll_back(&f, &lcm, &case).await;
    cancel_graceful(&f, &lcm, &case).await;
    cancel_forceful(&f, &lcm, &case).await;
    executor.shutdown().await;
}

async fn succeed(f: &Fixture, lcm: &VnfLcm, case: &Case) {
    let id = prepare(f, lcm, case.setup).await;
    let before = f.instance(lcm, &id).await;
    let accepted = lcm
        .request(&f.tenant, &id, (case.request)(&before), false)
        .await
        .expect("accepted");
    assert_eq!(accepted.operation, case.op);
    assert!(!accepted.is_automatic_invocation);
    assert!(!accepted.is_cancel_pending && accepted.cancel_mode.is_none());
    assert!(accepted.error.is_none() && accepted.resource_changes.is_none());
    let mut track = Track::new(&accepted);
    let done = settle(lcm, &f.tenant, &accepted.id).await;
    track.observe(&done);
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    assert!(!done.is_automatic_invocation);
    assert_eq!(
        done.grant_id.is_some(),
        case.op != Op::ModifyInfo,
        "every operation but MODIFY_INFO is granted"
    );
    assert!(
        done.links.grant.is_none(),
        "local grants are not served: no grant link"
    );
    let after = f.instance(lcm, &id).await;
    (case.effect)(f, &before, &after, &done);
    f.assert_vim_matches(&after);
    refused_tasks(lcm, &f.tenant, &done).await;
    if case.op == Op::ChangeVnfpkg {
        assert_eq!(
            f.usage(V2).await,
            PackageUsageStateType::InUse,
            "the new package is in use as soon as the instance refers to it"
        );
        // No instance uses release 1.0 any more.
        f.usage_becomes(V1, PackageUsageStateType::NotInUse).await;
    }
}

async fn fail_then_retry(f: &Fixture, lcm: &VnfLcm, case: &Case) {
    let id = prepare(f, lcm, case.setup).await;
    let before = f.instance(lcm, &id).await;
    inject_once(f, case.inject);
    let accepted = lcm
        .request(&f.tenant, &id, (case.request)(&before), true)
        .await
        .expect("accepted");
    assert!(accepted.is_automatic_invocation);
    let mut track = Track::new(&accepted);
    let failed = settle(lcm, &f.tenant, &accepted.id).await;
    track.observe(&failed);
    assert_eq!(failed.operation_state, State::FailedTemp);
    let error = failed.error.clone().expect("error");
    assert!(error.detail.contains("injected"), "{}", error.detail);
    assert_eq!(error.status, 500);
    assert!(failed.resource_changes.is_none());
    assert_eq!(
        f.instance(lcm, &id).await,
        before,
        "a failed operation leaves the instance as it was"
    );
    let refused = lcm
        .request(&f.tenant, &id, OpRequest::ModifyInfo(rename("x")), false)
        .await;
    assert!(
        matches!(&refused, Err(Error::OperationInProgress { vnf_lcm_op_occ_id, .. }) if vnf_lcm_op_occ_id == &failed.id),
        "FAILED_TEMP holds the instance: {refused:?}"
    );
    for mode in [CancelModeType::Graceful, CancelModeType::Forceful] {
        assert_conflict(
            lcm.cancel(&f.tenant, &failed.id, mode).await,
            "cancel of FAILED_TEMP",
        );
    }
    let retried = lcm.retry(&f.tenant, &failed.id).await.expect("retry");
    assert_eq!(retried.operation_state, State::Processing);
    track.observe(&retried);
    assert!(retried.error.is_none(), "retry clears the error");
    assert!(retried.is_automatic_invocation);
    let done = settle(lcm, &f.tenant, &failed.id).await;
    track.observe(&done);
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    assert!(done.is_automatic_invocation);
    let after = f.instance(lcm, &id).await;
    (case.effect)(f, &before, &after, &done);
    f.assert_vim_matches(&after);
}

async fn fail_then_fail(f: &Fixture, lcm: &VnfLcm, case: &Case) {
    let id = prepare(f, lcm, case.setup).await;
    let before = f.instance(lcm, &id).await;
    inject_once(f, case.inject);
    let accepted = lcm
        .request(&f.tenant, &id, (case.request)(&before), false)
        .await
        .expect("accepted");
    let mut track = Track::new(&accepted);
    let failed = settle(lcm, &f.tenant, &accepted.id).await;
    track.observe(&failed);
    assert_eq!(failed.operation_state, State::FailedTemp);
    let ended = lcm.fail(&f.tenant, &failed.id).await.expect("fail");
    track.observe(&ended);
    assert_eq!(ended.operation_state, State::Failed);
    assert_eq!(ended.error, failed.error, "FAILED keeps the error");
    let ended = settle(lcm, &f.tenant, &failed.id).await;
    assert_eq!(ended.operation_state, State::Failed);
    refused_tasks(lcm, &f.tenant, &ended).await;
    assert_eq!(f.instance(lcm, &id).await, before);
    let next = lcm
        .request(&f.tenant, &id, OpRequest::ModifyInfo(rename("next")), false)
        .await
        .expect("FAILED frees the instance");
    let next = settle(lcm, &f.tenant, &next.id).await;
    assert_eq!(next.operation_state, State::Completed, "{:?}", next.error);
}

async fn fail_then_roll_back(f: &Fixture, lcm: &VnfLcm, case: &Case) {
    let id = prepare(f, lcm, case.setup).await;
    let before = f.instance(lcm, &id).await;
    inject_partial(f, case.inject);
    let accepted = lcm
        .request(&f.tenant, &id, (case.request)(&before), false)
        .await
        .expect("accepted");
    let mut track = Track::new(&accepted);
    let failed = settle(lcm, &f.tenant, &accepted.id).await;
    track.observe(&failed);
    assert_eq!(failed.operation_state, State::FailedTemp);
    match case.rollback {
        Rollback::Refused => {
            assert!(
                failed.links.rollback.is_none(),
                "no rollback link where rolling back is not allowed"
            );
            let refused = lcm.rollback(&f.tenant, &failed.id).await;
            assert!(
                matches!(&refused, Err(Error::Conflict(m)) if m.contains("cannot roll back")),
                "{refused:?}"
            );
            let still = settle(lcm, &f.tenant, &failed.id).await;
            assert_eq!(still.operation_state, State::FailedTemp);
            assert_eq!(still.state_entered_time, failed.state_entered_time);
            let ended = lcm.fail(&f.tenant, &failed.id).await.expect("fail");
            assert_eq!(ended.operation_state, State::Failed);
        }
        Rollback::Sim(_) | Rollback::Engine => {
            assert!(failed.links.rollback.is_some());
            let calls = match case.rollback {
                Rollback::Sim(op) => f.sim.calls(op),
                _ => 0,
            };
            let rolling = lcm.rollback(&f.tenant, &failed.id).await.expect("rollback");
            track.observe(&rolling);
            assert_eq!(rolling.operation_state, State::RollingBack);
            assert_eq!(
                rolling.error, failed.error,
                "ROLLING_BACK after FAILED_TEMP keeps the error"
            );
            let done = settle(lcm, &f.tenant, &failed.id).await;
            track.observe(&done);
            assert_eq!(done.operation_state, State::RolledBack, "{:?}", done.error);
            assert!(done.resource_changes.is_none());
            if let Rollback::Sim(op) = case.rollback {
                assert_eq!(f.sim.calls(op), calls + 1, "one {op} call");
            }
            let after = f.instance(lcm, &id).await;
            assert_logically_equal(&after, &before, "a rolled back operation");
            f.assert_vim_matches(&after);
            refused_tasks(lcm, &f.tenant, &done).await;
        }
    }
}

async fn cancel_graceful(f: &Fixture, lcm: &VnfLcm, case: &Case) {
    let id = prepare(f, lcm, case.setup).await;
    let before = f.instance(lcm, &id).await;
    let latency = Duration::from_millis(300);
    set_latency(f, case.inject, latency);
    let calls = started_calls(f, case.inject);
    let accepted = lcm
        .request(&f.tenant, &id, (case.request)(&before), false)
        .await
        .expect("accepted");
    let mut track = Track::new(&accepted);
    step_entered(f, case.inject, calls).await;
    let cancelled = lcm
        .cancel(&f.tenant, &accepted.id, CancelModeType::Graceful)
        .await
        .expect("cancel");
    let asked = Instant::now();
    track.observe(&cancelled);
    assert_eq!(cancelled.operation_state, State::Processing);
    assert!(cancelled.is_cancel_pending);
    assert_eq!(cancelled.cancel_mode, Some(CancelModeType::Graceful));
    assert_conflict(
        lcm.cancel(&f.tenant, &accepted.id, CancelModeType::Forceful)
            .await,
        "a second cancel",
    );
    let done = settle(lcm, &f.tenant, &accepted.id).await;
    track.observe(&done);
    assert_eq!(done.operation_state, State::FailedTemp, "{:?}", done.error);
    assert!(!done.is_cancel_pending);
    let error = done.error.clone().expect("error");
    assert!(error.detail.contains("cancel"), "{}", error.detail);
    assert!(
        asked.elapsed() >= latency / 2,
        "GRACEFUL lets the running step finish"
    );
    assert_eq!(
        started_calls(f, case.inject),
        calls + 1,
        "no further step was started"
    );
    assert_eq!(f.instance(lcm, &id).await, before);
    set_latency(f, case.inject, Duration::ZERO);
    lcm.retry(&f.tenant, &done.id).await.expect("retry");
    let done = settle(lcm, &f.tenant, &done.id).await;
    track.observe(&done);
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    assert_eq!(
        started_calls(f, case.inject),
        calls + 1,
        "the step that finished before the cancel is not run again"
    );
    let after = f.instance(lcm, &id).await;
    (case.effect)(f, &before, &after, &done);
    f.assert_vim_matches(&after);
}

async fn cancel_forceful(f: &Fixture, lcm: &VnfLcm, case: &Case) {
    let id = prepare(f, lcm, case.setup).await;
    let before = f.instance(lcm, &id).await;
    set_latency(f, case.inject, Duration::from_secs(60));
    let calls = started_calls(f, case.inject);
    let accepted = lcm
        .request(&f.tenant, &id, (case.request)(&before), false)
        .await
        .expect("accepted");
    let mut track = Track::new(&accepted);
    step_entered(f, case.inject, calls).await;
    let asked = Instant::now();
    let cancelled = lcm
        .cancel(&f.tenant, &accepted.id, CancelModeType::Forceful)
        .await
        .expect("cancel");
    track.observe(&cancelled);
    assert!(cancelled.is_cancel_pending);
    assert_eq!(cancelled.cancel_mode, Some(CancelModeType::Forceful));
    let done = settle(lcm, &f.tenant, &accepted.id).await;
    track.observe(&done);
    assert_eq!(done.operation_state, State::FailedTemp, "{:?}", done.error);
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "FORCEFUL stops the running step"
    );
    assert!(!done.is_cancel_pending);
    let error = done.error.clone().expect("error");
    assert!(error.detail.contains("cancel"), "{}", error.detail);
    assert_eq!(f.instance(lcm, &id).await, before);
    set_latency(f, case.inject, Duration::ZERO);
    match case.rollback {
        Rollback::Refused => {
            let ended = lcm.fail(&f.tenant, &done.id).await.expect("fail");
            track.observe(&ended);
            assert_eq!(ended.operation_state, State::Failed);
        }
        Rollback::Sim(_) | Rollback::Engine => {
            lcm.rollback(&f.tenant, &done.id).await.expect("rollback");
            let ended = settle(lcm, &f.tenant, &done.id).await;
            track.observe(&ended);
            assert_eq!(
                ended.operation_state,
                State::RolledBack,
                "{:?}",
                ended.error
            );
        }
    }
    let after = f.instance(lcm, &id).await;
    assert_logically_equal(&after, &before, "cancelled, then undone");
    f.assert_vim_matches(&after);
}

// ----- The cases -------------------------------------------------------------------------

fn instantiate_case() -> Case {
    Case {
        op: Op::Instantiate,
        setup: Setup::NotInstantiated,
        inject: Inject::Sim(SimOperation::Instantiate),
        rollback: Rollback::Sim(SimOperation::RollbackInstantiate),
        request: |_| OpRequest::Instantiate(instantiate_request("simple", None)),
        effect: |_, before, after, op| {
            assert_eq!(
                before.instantiation_state,
                InstantiationState::NotInstantiated
            );
            assert_eq!(after.instantiation_state, InstantiationState::Instantiated);
            let info = info(after);
            assert_eq!(info.flavour_id, "simple");
            assert_eq!(info.vnf_state, VnfOperationalStateType::Started);
            assert_eq!(level_of(after, "worker"), Some(0));
            assert_eq!(info.max_scale_levels[0].scale_level, 2);
            assert_eq!(vnfc_ids(after, "VDU1").len(), 1);
            assert_eq!(info.vnfc_info.len(), 1);
            assert_eq!(info.virtual_storage_resource_info.len(), 1);
            assert_eq!(info.ext_virtual_link_info[0].id, "ext-vl-1");
            assert!(!info.ext_cp_info.is_empty(), "CP1 is an external CP");
            assert!(after.vim_connection_info.contains_key("vim1"));
            assert_eq!(after.metadata["hooked"], "instantiate_end");
            assert!(after.links.terminate.is_some() && after.links.instantiate.is_none());
            let changes = op.resource_changes.as_ref().expect("resourceChanges");
            assert_eq!(vnfc_changes(op, ChangeType::Added), vnfc_ids(after, "VDU1"));
            assert_eq!(changes.affected_virtual_storages.len(), 1);
            assert_eq!(changes.affected_virtual_links.len(), 1, "VL1");
        },
    }
}

fn scale_out_case() -> Case {
    Case {
        op: Op::Scale,
        setup: Setup::Simple,
        inject: Inject::Sim(SimOperation::Scale),
        rollback: Rollback::Sim(SimOperation::RollbackScale),
        request: |_| OpRequest::Scale(scale(ScaleType::ScaleOut, 2)),
        effect: |_, before, after, op| {
            assert_eq!(level_of(after, "worker"), Some(2));
            let old = vnfc_ids(before, "VDU1");
            let new = vnfc_ids(after, "VDU1");
            assert_eq!(new.len(), 3);
            assert!(old.iter().all(|v| new.contains(v)), "scale-out keeps VNFCs");
            let added = vnfc_changes(op, ChangeType::Added);
            assert_eq!(added.len(), 2);
            assert!(added.iter().all(|v| !old.contains(v)));
            assert_eq!(
                op.resource_changes
                    .as_ref()
                    .map(|c| c.affected_virtual_storages.len()),
                Some(2)
            );
        },
    }
}

fn scale_in_case() -> Case {
    Case {
        op: Op::Scale,
        setup: Setup::SimpleLarge,
        inject: Inject::Sim(SimOperation::Scale),
        rollback: Rollback::Sim(SimOperation::RollbackScale),
        request: |_| OpRequest::Scale(scale(ScaleType::ScaleIn, 2)),
        effect: |_, before, after, op| {
            assert_eq!(level_of(before, "worker"), Some(2));
            assert_eq!(level_of(after, "worker"), Some(0));
            let old = vnfc_ids(before, "VDU1");
            let new = vnfc_ids(after, "VDU1");
            assert_eq!(new, old[..1].to_vec(), "the most recent VNFCs go first");
            assert_eq!(vnfc_changes(op, ChangeType::Removed), old[1..].to_vec());
        },
    }
}

fn scale_to_level_case() -> Case {
    Case {
        op: Op::ScaleToLevel,
        setup: Setup::Simple,
        inject: Inject::Sim(SimOperation::Scale),
        rollback: Rollback::Sim(SimOperation::RollbackScale),
        request: |_| {
            OpRequest::ScaleToLevel(ScaleVnfToLevelRequest {
                instantiation_level_id: Some("large".into()),
                ..ScaleVnfToLevelRequest::default()
            })
        },
        effect: |_, _, after, op| {
            assert_eq!(level_of(after, "worker"), Some(2));
            assert_eq!(vnfc_ids(after, "VDU1").len(), 3);
            assert_eq!(vnfc_changes(op, ChangeType::Added).len(), 2);
        },
    }
}

fn scale_to_level_by_aspect_case() -> Case {
    Case {
        op: Op::ScaleToLevel,
        setup: Setup::SimpleLarge,
        inject: Inject::Sim(SimOperation::Scale),
        rollback: Rollback::Sim(SimOperation::RollbackScale),
        request: |_| {
            OpRequest::ScaleToLevel(ScaleVnfToLevelRequest {
                scale_info: vec![ScaleInfo {
                    aspect_id: "worker".into(),
                    vnfd_id: None,
                    scale_level: 1,
                }],
                ..ScaleVnfToLevelRequest::default()
            })
        },
        effect: |_, _, after, op| {
            assert_eq!(level_of(after, "worker"), Some(1));
            assert_eq!(vnfc_ids(after, "VDU1").len(), 2);
            assert_eq!(vnfc_changes(op, ChangeType::Removed).len(), 1);
        },
    }
}

fn heal_vnf_case() -> Case {
    Case {
        op: Op::Heal,
        setup: Setup::SimpleLarge,
        inject: Inject::Sim(SimOperation::Heal),
        rollback: Rollback::Refused,
        request: |_| {
            OpRequest::Heal(HealVnfRequest {
                cause: Some("everything is slow".into()),
                ..HealVnfRequest::default()
            })
        },
        effect: |_, before, after, op| {
            let (old, new) = (compute_ids(before), compute_ids(after));
            assert_eq!(
                old.keys().collect::<Vec<_>>(),
                new.keys().collect::<Vec<_>>(),
                "VNFC ids stay"
            );
            for (vnfc, resource) in &old {
                assert_ne!(&new[vnfc], resource, "{vnfc} has a new compute resource");
            }
            let mut modified = vnfc_changes(op, ChangeType::Modified);
            modified.sort();
            assert_eq!(modified, old.keys().cloned().collect::<Vec<_>>());
        },
    }
}

fn heal_vnfc_case() -> Case {
    Case {
        op: Op::Heal,
        setup: Setup::SimpleLarge,
        inject: Inject::Sim(SimOperation::Heal),
        rollback: Rollback::Refused,
        request: |instance| {
            OpRequest::Heal(HealVnfRequest {
                vnfc_instance_id: vec![vnfc_ids(instance, "VDU1")[1].clone()],
                cause: Some("unresponsive".into()),
                ..HealVnfRequest::default()
            })
        },
        effect: |_, before, after, op| {
            let victim = vnfc_ids(before, "VDU1")[1].clone();
            let (old, new) = (compute_ids(before), compute_ids(after));
            for (vnfc, resource) in &old {
                assert_eq!(
                    &new[vnfc] != resource,
                    *vnfc == victim,
                    "only {victim} is healed"
                );
            }
            assert_eq!(vnfc_changes(op, ChangeType::Modified), vec![victim]);
        },
    }
}

fn change_flavour_case() -> Case {
    Case {
        op: Op::ChangeFlavour,
        setup: Setup::Simple,
        inject: Inject::Sim(SimOperation::ChangeFlavour),
        rollback: Rollback::Sim(SimOperation::RollbackChangeFlavour),
        request: |_| {
            OpRequest::ChangeFlavour(ChangeVnfFlavourRequest {
                new_flavour_id: "big".into(),
                ..ChangeVnfFlavourRequest::default()
            })
        },
        effect: |f, _, after, op| {
            let info = info(after);
            assert_eq!(info.flavour_id, "big");
            assert_eq!(level_of(after, "worker"), Some(1), "big's default level");
            assert_eq!(vnfc_ids(after, "VDU1").len(), 2);
            assert_eq!(vnfc_ids(after, "VDU2").len(), 1);
            assert_eq!(
                f.sim.deployment(&f.tenant, &after.id).map(|d| d.flavour_id),
                Some("big".to_owned())
            );
            let added = vnfc_changes(op, ChangeType::Added);
            assert!(
                vnfc_ids(after, "VDU2").iter().all(|v| added.contains(v)),
                "VDU2 is new: {added:?}"
            );
        },
    }
}

fn operate_case() -> Case {
    Case {
        op: Op::Operate,
        setup: Setup::SimpleLarge,
        inject: Inject::Sim(SimOperation::Operate),
        rollback: Rollback::Refused,
        request: |_| {
            OpRequest::Operate(operate(
                VnfOperationalStateType::Stopped,
                Some(StopType::Graceful),
            ))
        },
        effect: |f, _, after, op| {
            let info = info(after);
            assert_eq!(info.vnf_state, VnfOperationalStateType::Stopped);
            assert!(
                info.vnfc_info
                    .iter()
                    .all(|v| v.vnfc_state == VnfOperationalStateType::Stopped)
            );
            let deployment = f.sim.deployment(&f.tenant, &after.id).expect("deployment");
            assert!(
                deployment
                    .servers
                    .iter()
                    .all(|s| s.power_state == VnfOperationalStateType::Stopped)
            );
            assert!(
                op.resource_changes.is_none(),
                "powering off changes no resource: {:?}",
                op.resource_changes
            );
        },
    }
}

fn change_ext_conn_case() -> Case {
    Case {
        op: Op::ChangeExtConn,
        setup: Setup::Simple,
        inject: Inject::Sim(SimOperation::ChangeExtConn),
        rollback: Rollback::Sim(SimOperation::RollbackChangeExtConn),
        request: |_| {
            OpRequest::ChangeExtConn(ChangeExtVnfConnectivityRequest {
                ext_virtual_links: vec![ext_link("ext-vl-2", "net-b")],
                ..ChangeExtVnfConnectivityRequest::default()
            })
        },
        effect: |f, before, after, op| {
            assert_eq!(info(before).ext_virtual_link_info[0].id, "ext-vl-1");
            let links = &info(after).ext_virtual_link_info;
            assert_eq!(links.len(), 1, "CP1 left ext-vl-1: {links:?}");
            assert_eq!(links[0].id, "ext-vl-2");
            assert_eq!(links[0].resource_handle.resource_id, "net-b");
            assert!(!info(after).ext_cp_info.is_empty());
            assert_eq!(
                op.changed_ext_connectivity
                    .iter()
                    .map(|l| l.id.as_str())
                    .collect::<Vec<_>>(),
                vec!["ext-vl-2"]
            );
            assert_eq!(
                f.sim
                    .deployment(&f.tenant, &after.id)
                    .map(|d| d.ext_virtual_links),
                Some(vec!["ext-vl-2".to_owned()])
            );
            assert_eq!(compute_ids(before), compute_ids(after), "no server changes");
        },
    }
}

fn change_vnfpkg_case() -> Case {
    Case {
        op: Op::ChangeVnfpkg,
        setup: Setup::Simple,
        inject: Inject::Sim(SimOperation::ChangeVnfpkg),
        rollback: Rollback::Sim(SimOperation::RollbackChangeVnfpkg),
        request: |_| {
            OpRequest::ChangeVnfpkg(ChangeCurrentVnfPkgRequest {
                vnfd_id: V2.into(),
                ..ChangeCurrentVnfPkgRequest::default()
            })
        },
        effect: |f, before, after, op| {
            assert_eq!(before.vnfd_id, V1);
            assert_eq!(after.vnfd_id, V2);
            assert_eq!(after.vnf_software_version, "2.0");
            assert_eq!(after.vnfd_version, "2.0");
            assert_eq!(after.vnf_product_name, before.vnf_product_name);
            assert_eq!(info(after).flavour_id, "simple");
            let change = op
                .modifications_triggered_by_vnf_pkg_change
                .as_ref()
                .expect("modificationsTriggeredByVnfPkgChange");
            assert_eq!(change.vnfd_id.as_deref(), Some(V2));
            assert_eq!(change.vnf_software_version.as_deref(), Some("2.0"));
            let old = compute_ids(before);
            let mut modified = vnfc_changes(op, ChangeType::Modified);
            modified.sort();
            assert_eq!(modified, old.keys().cloned().collect::<Vec<_>>());
            assert_eq!(
                f.sim.deployment(&f.tenant, &after.id).map(|d| d.vnfd_id),
                Some(V2.to_owned())
            );
        },
    }
}

fn modify_info_case() -> Case {
    Case {
        op: Op::ModifyInfo,
        setup: Setup::Big,
        inject: Inject::Hook("modify_information_start"),
        rollback: Rollback::Engine,
        request: |_| {
            OpRequest::ModifyInfo(VnfInfoModificationRequest {
                vnf_instance_name: Some("renamed".into()),
                metadata: Some(object(serde_json::json!({"owner": "ops"}))),
                extensions: Some(object(serde_json::json!({"tier": {"gold": true}}))),
                ..VnfInfoModificationRequest::default()
            })
        },
        effect: |f, before, after, op| {
            assert_eq!(after.vnf_instance_name.as_deref(), Some("renamed"));
            assert_eq!(after.metadata["owner"], "ops");
            assert_eq!(after.extensions["tier"]["gold"], true);
            assert_eq!(after.instantiated_vnf_info, before.instantiated_vnf_info);
            let changed = op.changed_info.as_ref().expect("changedInfo");
            assert_eq!(changed.vnf_instance_name.as_deref(), Some("renamed"));
            assert!(op.resource_changes.is_none());
            assert!(f.hooks.count("modify_information_start") >= 1);
        },
    }
}

fn terminate_case() -> Case {
    Case {
        op: Op::Terminate,
        setup: Setup::SimpleLarge,
        inject: Inject::Sim(SimOperation::Terminate),
        rollback: Rollback::Refused,
        request: |_| {
            OpRequest::Terminate(TerminateVnfRequest {
                termination_type: TerminationType::Graceful,
                graceful_termination_timeout: Some(1),
                additional_params: KeyValuePairs::new(),
            })
        },
        effect: |f, before, after, op| {
            assert_eq!(
                after.instantiation_state,
                InstantiationState::NotInstantiated
            );
            assert!(after.instantiated_vnf_info.is_none());
            assert!(after.links.instantiate.is_some() && after.links.terminate.is_none());
            assert!(f.sim.deployment(&f.tenant, &after.id).is_none());
            let mut removed = vnfc_changes(op, ChangeType::Removed);
            removed.sort();
            assert_eq!(removed, compute_ids(before).into_keys().collect::<Vec<_>>());
        },
    }
}

macro_rules! matrix {
    ($($name:ident => $case:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run_matrix($case).await;
            }
        )*
    };
}

matrix! {
    matrix_instantiate => instantiate_case();
    matrix_scale_out => scale_out_case();
    matrix_scale_in => scale_in_case();
    matrix_scale_to_level => scale_to_level_case();
    matrix_scale_to_level_by_aspect => scale_to_level_by_aspect_case();
    matrix_heal_vnf => heal_vnf_case();
    matrix_heal_vnfc => heal_vnfc_case();
    matrix_change_flavour => change_flavour_case();
    matrix_operate => operate_case();
    matrix_change_ext_conn => change_ext_conn_case();
    matrix_change_vnfpkg => change_vnfpkg_case();
    matrix_modify_info => modify_info_case();
    matrix_terminate => terminate_case();
}

/// Every operation type the engine supports has a row in the matrix.
#[test]
fn the_matrix_covers_every_supported_operation() {
    let cases = [
        instantiate_case(),
        scale_out_case(),
        scale_in_case(),
        scale_to_level_case(),
        scale_to_level_by_aspect_case(),
        heal_vnf_case(),
        heal_vnfc_case(),
        change_flavour_case(),
        operate_case(),
        change_ext_conn_case(),
        change_vnfpkg_case(),
        modify_info_case(),
        terminate_case(),
    ];
    let covered: BTreeSet<String> = cases.iter().map(|c| c.op.to_string()).collect();
    let supported: BTreeSet<String> = Op::ALL
        .into_iter()
        .filter(|op| InfraCapabilities::ALL.supports(*op))
        .map(|op| op.to_string())
        .collect();
    assert_eq!(covered, supported);
    for case in &cases {
        let rollback_supported = InfraCapabilities::ALL.supports_rollback(case.op);
        assert_eq!(
            !matches!(case.rollback, Rollback::Refused),
            rollback_supported,
            "{}",
            case.op
        );
    }
}

// ----- Transitions of the op-state machine -----------------------------------------------

/// Which event of the state machine a notified change of state was.
fn event_of(from: State, to: State, error: Option<&tacker_core::model::ProblemDetails>) -> OpEvent {
    let cancelled = error.is_some_and(|e| e.detail.contains("cancel"));
    match (from, to) {
        (State::Starting, State::Processing) => OpEvent::Granted,
        (State::Starting, State::RolledBack) if cancelled => OpEvent::Cancel,
        (State::Starting, State::RolledBack) => OpEvent::GrantRefused,
        (State::Processing, State::Completed) => OpEvent::Succeeded,
        (State::Processing, State::FailedTemp) if cancelled => OpEvent::Cancel,
        (State::Processing, State::FailedTemp) => OpEvent::StepFailed,
        (State::FailedTemp, State::Processing) => OpEvent::Retry,
        (State::FailedTemp, State::RollingBack) => OpEvent::Rollback,
        (State::FailedTemp, State::Failed) => OpEvent::Fail,
        (State::RollingBack, State::RolledBack) => OpEvent::RollbackSucceeded,
        (State::RollingBack, State::FailedTemp) if cancelled => OpEvent::Cancel,
        (State::RollingBack, State::FailedTemp) => OpEvent::RollbackFailed,
        other => panic!("not a transition of the state machine: {other:?}"),
    }
}

/// The operation-occurrence notifications of the outbox, per op, in order.
fn op_notifications(
    entries: &[OutboxEntry],
) -> BTreeMap<String, Vec<VnfLcmOperationOccurrenceNotification>> {
    let mut by_op: BTreeMap<String, Vec<VnfLcmOperationOccurrenceNotification>> = BTreeMap::new();
    for entry in entries {
        if entry.payload["notificationType"] != "VnfLcmOperationOccurrenceNotification" {
            continue;
        }
        let notification: VnfLcmOperationOccurrenceNotification =
            serde_json::from_value(entry.payload.clone()).expect("a notification");
        by_op
            .entry(notification.vnf_lcm_op_occ_id.clone())
            .or_default()
            .push(notification);
    }
    by_op
}

async fn subscribe_all(f: &Fixture, lcm: &VnfLcm) -> String {
    lcm.subscriptions()
        .subscribe(
            &f.tenant,
            LccnSubscriptionRequest {
                filter: None,
                callback_uri: "http://127.0.0.1:9/all".into(),
                authentication: None,
                verbosity: None,
            },
        )
        .await
        .expect("subscribe")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transition_of_the_op_state_machine_is_reached_through_the_engine() {
    let f = fixture().await;
    let lcm = f.engine();
    subscribe_all(&f, &lcm).await;
    let executor = lcm.start();
    let tenant = &f.tenant;

    // STARTING → ROLLED_BACK by a GRACEFUL cancel: the grant is waited for, the VIM never
    // touched.
    let id = f.create(&lcm, V1, "starting").await;
    *f.grants.delay.lock().expect("delay") = Duration::from_millis(300);
    let asked = f.grants.asked();
    let op = lcm
        .instantiate(tenant, &id, instantiate_request("simple", None))
        .await
        .expect("accepted");
    let mut track = Track::new(&op);
    while f.grants.asked() == asked {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cancelled = lcm
        .cancel(tenant, &op.id, CancelModeType::Graceful)
        .await
        .expect("cancel");
    track.observe(&cancelled);
    assert_eq!(cancelled.operation_state, State::Starting);
    assert!(cancelled.is_cancel_pending);
    let op = settle(&lcm, tenant, &op.id).await;
    track.observe(&op);
    assert_eq!(op.operation_state, State::RolledBack);
    assert!(!op.is_cancel_pending);
    assert_eq!(
        f.sim.calls(SimOperation::Instantiate),
        0,
        "the VIM was never touched"
    );
    assert_eq!(f.grants.asked(), asked + 1, "the grant was asked for once");
    assert_eq!(
        f.instance(&lcm, &id).await.instantiation_state,
        InstantiationState::NotInstantiated
    );
    // … and by a FORCEFUL one.
    let op = lcm
        .instantiate(tenant, &id, instantiate_request("simple", None))
        .await
        .expect("accepted");
    lcm.cancel(tenant, &op.id, CancelModeType::Forceful)
        .await
        .expect("cancel");
    let op = settle(&lcm, tenant, &op.id).await;
    assert_eq!(op.operation_state, State::RolledBack);
    assert_eq!(f.sim.calls(SimOperation::Instantiate), 0);
    *f.grants.delay.lock().expect("delay") = Duration::ZERO;

    // STARTING → PROCESSING → COMPLETED.
    f.instantiate(&lcm, &id, "simple", None).await;
    let before = f.instance(&lcm, &id).await;

    // STARTING → ROLLED_BACK by a refused grant, with the reason.
    f.grants.refuse.store(true, Ordering::SeqCst);
    let op = lcm
        .scale(tenant, &id, scale(ScaleType::ScaleOut, 1))
        .await
        .expect("accepted");
    let op = settle(&lcm, tenant, &op.id).await;
    assert_eq!(op.operation_state, State::RolledBack);
    let error = op.error.clone().expect("the reason");
    assert_eq!(error.status, 403);
    assert!(error.detail.contains("no capacity"), "{}", error.detail);
    assert_eq!(f.sim.calls(SimOperation::Scale), 0);
    assert_eq!(f.instance(&lcm, &id).await, before);
    f.grants.refuse.store(false, Ordering::SeqCst);

    // PROCESSING → FAILED_TEMP by a failure; FAILED_TEMP → ROLLING_BACK; ROLLING_BACK →
    // FAILED_TEMP by a failed rollback; ROLLING_BACK → ROLLED_BACK.
    f.sim.fail_after_partial(SimOperation::Scale);
    let op = lcm
        .scale(tenant, &id, scale(ScaleType::ScaleOut, 2))
        .await
        .expect("accepted");
    let mut track = Track::new(&op);
    let failed = settle(&lcm, tenant, &op.id).await;
    track.observe(&failed);
    assert_eq!(failed.operation_state, State::FailedTemp);
    f.sim.fail_once(SimOperation::RollbackScale);
    let rolling = lcm.rollback(tenant, &op.id).await.expect("rollback");
    track.observe(&rolling);
    assert_eq!(rolling.operation_state, State::RollingBack);
    let failed_again = settle(&lcm, tenant, &op.id).await;
    track.observe(&failed_again);
    assert_eq!(failed_again.operation_state, State::FailedTemp);
    let detail = failed_again.error.clone().expect("error").detail;
    assert!(detail.contains("rollback_scale"), "{detail}");
    lcm.rollback(tenant, &op.id).await.expect("rollback again");
    let done = settle(&lcm, tenant, &op.id).await;
    track.observe(&done);
    assert_eq!(done.operation_state, State::RolledBack, "{:?}", done.error);
    assert_eq!(f.instance(&lcm, &id).await, before);
    f.assert_vim_matches(&before);

    // PROCESSING → FAILED_TEMP by a cancel; FAILED_TEMP → PROCESSING → COMPLETED.
    f.sim
        .set_latency(SimOperation::Scale, Duration::from_secs(60));
    let calls = f.sim.calls(SimOperation::Scale);
    let op = lcm
        .scale(tenant, &id, scale(ScaleType::ScaleOut, 1))
        .await
        .expect("accepted");
    while f.sim.calls(SimOperation::Scale) == calls {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    lcm.cancel(tenant, &op.id, CancelModeType::Forceful)
        .await
        .expect("cancel");
    let cancelled = settle(&lcm, tenant, &op.id).await;
    assert_eq!(cancelled.operation_state, State::FailedTemp);
    f.sim.set_latency(SimOperation::Scale, Duration::ZERO);
    lcm.retry(tenant, &op.id).await.expect("retry");
    let done = settle(&lcm, tenant, &op.id).await;
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    let before = f.instance(&lcm, &id).await;

    // FAILED_TEMP → FAILED.
    f.sim.fail_once(SimOperation::Heal);
    let op = lcm
        .heal(tenant, &id, HealVnfRequest::default())
        .await
        .expect("accepted");
    assert_eq!(
        settle(&lcm, tenant, &op.id).await.operation_state,
        State::FailedTemp
    );
    lcm.fail(tenant, &op.id).await.expect("fail");

    // ROLLING_BACK → FAILED_TEMP by a FORCEFUL cancel, and by a GRACEFUL one.
    for mode in [CancelModeType::Forceful, CancelModeType::Graceful] {
        f.sim.fail_after_partial(SimOperation::Scale);
        let op = lcm
            .scale(tenant, &id, scale(ScaleType::ScaleOut, 1))
            .await
            .expect("accepted");
        assert_eq!(
            settle(&lcm, tenant, &op.id).await.operation_state,
            State::FailedTemp
        );
        let latency = match mode {
            CancelModeType::Forceful => Duration::from_secs(60),
            CancelModeType::Graceful => Duration::from_millis(300),
        };
        f.sim.set_latency(SimOperation::RollbackScale, latency);
        let calls = f.sim.calls(SimOperation::RollbackScale);
        let rolling = lcm.rollback(tenant, &op.id).await.expect("rollback");
        let mut track = Track::resume(&rolling);
        while f.sim.calls(SimOperation::RollbackScale) == calls {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let cancelled = lcm.cancel(tenant, &op.id, mode).await.expect("cancel");
        track.observe(&cancelled);
        assert_eq!(cancelled.operation_state, State::RollingBack);
        assert!(cancelled.is_cancel_pending);
        assert_eq!(cancelled.cancel_mode, Some(mode));
        let stopped = settle(&lcm, tenant, &op.id).await;
        track.observe(&stopped);
        assert_eq!(stopped.operation_state, State::FailedTemp, "{mode:?}");
        assert!(!stopped.is_cancel_pending);
        let detail = stopped.error.clone().expect("error").detail;
        assert!(detail.contains("cancel"), "{detail}");
        f.sim
            .set_latency(SimOperation::RollbackScale, Duration::ZERO);
        lcm.rollback(tenant, &op.id).await.expect("rollback again");
        let done = settle(&lcm, tenant, &op.id).await;
        track.observe(&done);
        assert_eq!(done.operation_state, State::RolledBack, "{:?}", done.error);
        let after = f.instance(&lcm, &id).await;
        assert_eq!(after, before);
        f.assert_vim_matches(&after);
    }
    executor.shutdown().await;

    // Every (state, event) pair the machine allows happened, as the notifications
    // show; and every notification is a change of state.
    let mut reached = BTreeSet::new();
    for (op, notifications) in op_notifications(&f.drain().await) {
        assert_eq!(notifications[0].operation_state, State::Starting, "{op}");
        for pair in notifications.windows(2) {
            let (from, to) = (pair[0].operation_state, pair[1].operation_state);
            assert_ne!(
                from, to,
                "op {op}: a notification without a change of state"
            );
            let event = event_of(from, to, pair[1].error.as_ref());
            assert_eq!(transition(from, event), Some(to));
            reached.insert(format!("{from} + {event:?}"));
        }
    }
    let allowed: BTreeSet<String> = State::ALL
        .into_iter()
        .flat_map(|state| {
            OpEvent::ALL
                .into_iter()
                .filter(move |event| transition(state, *event).is_some())
                .map(move |event| format!("{state} + {event:?}"))
        })
        .collect();
    assert_eq!(reached, allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_failed_rollback_redoes_the_undone_work() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.create(&lcm, V1, "undo").await;
    f.hooks.fail_once("instantiate_end");
    let op = lcm
        .instantiate(&f.tenant, &id, instantiate_request("simple", Some("large")))
        .await
        .expect("accepted");
    let failed = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(failed.operation_state, State::FailedTemp);
    assert_eq!(
        f.sim.deployment(&f.tenant, &id).map(|d| d.servers.len()),
        Some(3)
    );
    // The rollback removes two of the three servers, then fails.
    f.sim.fail_after_partial(SimOperation::RollbackInstantiate);
    lcm.rollback(&f.tenant, &op.id).await.expect("rollback");
    let failed = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(failed.operation_state, State::FailedTemp);
    assert_eq!(
        f.sim.deployment(&f.tenant, &id).map(|d| d.servers.len()),
        Some(1)
    );
    let calls = f.sim.calls(SimOperation::Instantiate);
    lcm.retry(&f.tenant, &op.id).await.expect("retry");
    let done = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    assert_eq!(
        f.sim.calls(SimOperation::Instantiate),
        calls + 1,
        "the work the rollback undid is done again"
    );
    let instance = f.instance(&lcm, &id).await;
    assert_eq!(vnfc_ids(&instance, "VDU1").len(), 3);
    f.assert_vim_matches(&instance);
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_start_hook_stops_before_the_vim_and_runs_again_on_retry() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.create(&lcm, V1, "hooked").await;
    f.instantiate(&lcm, &id, "big", None).await;
    let before = f.instance(&lcm, &id).await;
    f.hooks.fail_once("heal_start");
    let op = lcm
        .heal(&f.tenant, &id, HealVnfRequest::default())
        .await
        .expect("accepted");
    let failed = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(failed.operation_state, State::FailedTemp);
    let detail = failed.error.clone().expect("error").detail;
    assert!(
        detail.contains("heal_start: injected hook failure"),
        "{detail}"
    );
    assert_eq!(
        f.sim.calls(SimOperation::Heal),
        0,
        "the VIM was not touched"
    );
    assert_eq!(f.instance(&lcm, &id).await, before);
    lcm.retry(&f.tenant, &op.id).await.expect("retry");
    let done = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    assert_eq!(f.hooks.count("heal_start"), 2);
    assert_eq!(f.sim.calls(SimOperation::Heal), 1);
    let after = f.instance(&lcm, &id).await;
    assert_eq!(compute_ids(&after).len(), 3, "two VDU1 and one VDU2");
    f.assert_vim_matches(&after);

    // A failing end hook: the rollback undoes the finished work.
    let other = f.create(&lcm, V1, "hooked-2").await;
    f.hooks.fail_once("instantiate_end");
    let op = lcm
        .instantiate(&f.tenant, &other, instantiate_request("simple", None))
        .await
        .expect("accepted");
    assert_eq!(
        settle(&lcm, &f.tenant, &op.id).await.operation_state,
        State::FailedTemp
    );
    assert!(f.sim.deployment(&f.tenant, &other).is_some());
    lcm.rollback(&f.tenant, &op.id).await.expect("rollback");
    let done = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(done.operation_state, State::RolledBack, "{:?}", done.error);
    let instance = f.instance(&lcm, &other).await;
    assert_eq!(
        instance.instantiation_state,
        InstantiationState::NotInstantiated
    );
    f.assert_vim_matches(&instance);
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_info_moves_a_not_instantiated_vnf_to_another_release_of_its_package() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.create(&lcm, V1, "moving").await;
    assert_eq!(f.usage(V1).await, PackageUsageStateType::InUse);
    assert_eq!(f.usage(V2).await, PackageUsageStateType::NotInUse);
    let op = lcm
        .modify_info(
            &f.tenant,
            &id,
            VnfInfoModificationRequest {
                vnfd_id: Some(V2.into()),
                ..VnfInfoModificationRequest::default()
            },
        )
        .await
        .expect("accepted");
    let done = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    let changed = done.changed_info.clone().expect("changedInfo");
    assert_eq!(changed.vnfd_id.as_deref(), Some(V2));
    assert_eq!(changed.vnf_software_version.as_deref(), Some("2.0"));
    let instance = f.instance(&lcm, &id).await;
    assert_eq!(instance.vnfd_id, V2);
    assert_eq!(instance.vnf_software_version, "2.0");
    assert_eq!(f.usage(V2).await, PackageUsageStateType::InUse);
    f.usage_becomes(V1, PackageUsageStateType::NotInUse).await;
    lcm.delete_vnf(&f.tenant, &id).await.expect("delete");
    assert_eq!(f.usage(V2).await, PackageUsageStateType::NotInUse);
    executor.shutdown().await;
}

// ----- Validation refusals ---------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Refusal {
    Conflict,
    /// `WrongInstantiationState`: the instance is (not) instantiated.
    WrongState,
    /// `OperationInProgress`: another operation holds the instance.
    InProgress,
    Unprocessable,
    InvalidRequest,
    NotSupported,
}

impl Refusal {
    fn matches(self, error: &Error) -> bool {
        matches!(
            (self, error),
            (Self::Conflict, Error::Conflict(_))
                | (Self::WrongState, Error::WrongInstantiationState { .. })
                | (Self::InProgress, Error::OperationInProgress { .. })
                | (Self::Unprocessable, Error::Unprocessable(_))
                | (Self::InvalidRequest, Error::InvalidRequest(_))
                | (Self::NotSupported, Error::OperationNotSupported { .. })
        )
    }
}

/// The request is refused with `refusal` (and a message naming `mentions`), and nothing
/// is stored: no op occurrence, no change of the instance, no notification.
async fn assert_refused(
    f: &Fixture,
    lcm: &VnfLcm,
    id: &str,
    request: OpRequest,
    refusal: Refusal,
    mentions: &str,
) {
    let what = format!("{} {:?}", request.operation(), request.to_params());
    let instance = f.instance(lcm, id).await;
    let ops = f.ops_of(lcm, id).await;
    f.drain().await;
    match lcm.request(&f.tenant, id, request, false).await {
        Err(error) if refusal.matches(&error) => {
            assert!(
                error.to_string().contains(mentions),
                "{what}: the message names '{mentions}': {error}"
            );
        }
        other => panic!("{what}: expected {refusal:?}, got {other:?}"),
    }
    assert_eq!(f.ops_of(lcm, id).await, ops, "{what}: no op occurrence");
    assert_eq!(f.instance(lcm, id).await, instance, "{what}: the instance");
    assert!(f.drain().await.is_empty(), "{what}: no notification");
}

fn every_request_but_instantiate() -> Vec<OpRequest> {
    vec![
        OpRequest::Terminate(TerminateVnfRequest {
            termination_type: TerminationType::Forceful,
            graceful_termination_timeout: None,
            additional_params: KeyValuePairs::new(),
        }),
        OpRequest::Scale(scale(ScaleType::ScaleOut, 1)),
        OpRequest::ScaleToLevel(ScaleVnfToLevelRequest {
            instantiation_level_id: Some("large".into()),
            ..ScaleVnfToLevelRequest::default()
        }),
        OpRequest::Heal(HealVnfRequest::default()),
        OpRequest::ChangeFlavour(ChangeVnfFlavourRequest {
            new_flavour_id: "big".into(),
            ..ChangeVnfFlavourRequest::default()
        }),
        OpRequest::Operate(operate(VnfOperationalStateType::Stopped, None)),
        OpRequest::ChangeExtConn(ChangeExtVnfConnectivityRequest {
            ext_virtual_links: vec![ext_link("ext-vl-2", "net-b")],
            ..ChangeExtVnfConnectivityRequest::default()
        }),
        OpRequest::ChangeVnfpkg(ChangeCurrentVnfPkgRequest {
            vnfd_id: V2.into(),
            ..ChangeCurrentVnfPkgRequest::default()
        }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_by_the_state_of_the_instance() {
    let f = fixture().await;
    let lcm = f.engine();
    subscribe_all(&f, &lcm).await;
    let executor = lcm.start();
    let id = f.create(&lcm, V1, "state").await;
    for request in every_request_but_instantiate() {
        assert_refused(
            &f,
            &lcm,
            &id,
            request,
            Refusal::WrongState,
            "NOT_INSTANTIATED",
        )
        .await;
    }
    f.instantiate(&lcm, &id, "simple", None).await;
    assert_refused(
        &f,
        &lcm,
        &id,
        OpRequest::Instantiate(instantiate_request("simple", None)),
        Refusal::WrongState,
        "already INSTANTIATED",
    )
    .await;
    let refused = lcm.delete_vnf(&f.tenant, &id).await;
    assert!(
        matches!(
            &refused,
            Err(Error::WrongInstantiationState {
                expected: InstantiationState::NotInstantiated,
                actual: InstantiationState::Instantiated,
                ..
            })
        ),
        "delete of INSTANTIATED: {refused:?}"
    );

    // An operation in progress (here: FAILED_TEMP) holds the instance for every request.
    f.sim.fail_once(SimOperation::Operate);
    let op = lcm
        .operate(
            &f.tenant,
            &id,
            operate(VnfOperationalStateType::Stopped, None),
        )
        .await
        .expect("accepted");
    assert_eq!(
        settle(&lcm, &f.tenant, &op.id).await.operation_state,
        State::FailedTemp
    );
    let mut requests = every_request_but_instantiate();
    requests.retain(|r| !matches!(r, OpRequest::Operate(_)));
    requests.push(OpRequest::ModifyInfo(rename("busy")));
    for request in requests {
        assert_refused(&f, &lcm, &id, request, Refusal::InProgress, "in progress").await;
    }
    lcm.fail(&f.tenant, &op.id).await.expect("fail");

    let missing = lcm
        .request(
            &f.tenant,
            "no-such-vnf",
            OpRequest::ModifyInfo(rename("x")),
            false,
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_requests_that_do_not_fit_the_vnfd_or_the_instance() {
    let f = fixture().await;
    let lcm = f.engine();
    subscribe_all(&f, &lcm).await;
    let executor = lcm.start();
    let fresh = f.create(&lcm, V1, "fresh").await;
    let instantiate = |edit: fn(&mut InstantiateVnfRequest)| {
        let mut request = instantiate_request("simple", None);
        edit(&mut request);
        OpRequest::Instantiate(request)
    };
    let cases: Vec<(OpRequest, Refusal, &str)> = vec![
        (
            instantiate(|r| r.flavour_id = "huge".into()),
            Refusal::Unprocessable,
            "huge",
        ),
        (
            instantiate(|r| r.instantiation_level_id = Some("medium".into())),
            Refusal::Unprocessable,
            "medium",
        ),
        (
            instantiate(|r| r.ext_virtual_links[0].ext_cps[0].cpd_id = "CPX".into()),
            Refusal::Unprocessable,
            "CPX",
        ),
        (
            instantiate(|r| {
                r.ext_managed_virtual_links = vec![ExtManagedVirtualLinkData {
                    id: "mgd".into(),
                    vnf_virtual_link_desc_id: "VLX".into(),
                    vim_connection_id: None,
                    resource_provider_id: None,
                    resource_id: "net-m".into(),
                    vnf_link_port: Vec::new(),
                    ext_managed_multisite_virtual_link_id: None,
                }];
            }),
            Refusal::Unprocessable,
            "VLX",
        ),
        (
            OpRequest::ModifyInfo(VnfInfoModificationRequest {
                vnfd_id: Some(OTHER.into()),
                ..VnfInfoModificationRequest::default()
            }),
            Refusal::Unprocessable,
            "not the same VNF",
        ),
        (
            OpRequest::ModifyInfo(VnfInfoModificationRequest {
                vnfd_id: Some("no-such-vnfd".into()),
                ..VnfInfoModificationRequest::default()
            }),
            Refusal::Unprocessable,
            "no-such-vnfd",
        ),
        (
            OpRequest::ModifyInfo(VnfInfoModificationRequest {
                vnf_pkg_id: Some(f.package_ids[V2].clone()),
                ..VnfInfoModificationRequest::default()
            }),
            Refusal::Unprocessable,
            "vnfPkgId",
        ),
    ];
    for (request, refusal, mentions) in cases {
        assert_refused(&f, &lcm, &fresh, request, refusal, mentions).await;
    }

    let id = f.create(&lcm, V1, "running").await;
    f.instantiate(&lcm, &id, "simple", None).await;
    let scale_to = |level: Option<&str>, aspect: Option<(&str, u32)>| {
        OpRequest::ScaleToLevel(ScaleVnfToLevelRequest {
            instantiation_level_id: level.map(str::to_owned),
            scale_info: aspect
                .map(|(aspect_id, scale_level)| ScaleInfo {
                    aspect_id: aspect_id.into(),
                    vnfd_id: None,
                    scale_level,
                })
                .into_iter()
                .collect(),
            ..ScaleVnfToLevelRequest::default()
        })
    };
    let cases: Vec<(OpRequest, Refusal, &str)> = vec![
        (
            OpRequest::Terminate(TerminateVnfRequest {
                termination_type: TerminationType::Forceful,
                graceful_termination_timeout: Some(10),
                additional_params: KeyValuePairs::new(),
            }),
            Refusal::InvalidRequest,
            "gracefulTerminationTimeout",
        ),
        (
            OpRequest::Scale(ScaleVnfRequest {
                aspect_id: "db".into(),
                ..scale(ScaleType::ScaleOut, 1)
            }),
            Refusal::Unprocessable,
            "db",
        ),
        (
            OpRequest::Scale(scale(ScaleType::ScaleOut, 0)),
            Refusal::InvalidRequest,
            "numberOfSteps",
        ),
        (
            OpRequest::Scale(scale(ScaleType::ScaleOut, 3)),
            Refusal::Unprocessable,
            "0..2",
        ),
        (
            OpRequest::Scale(scale(ScaleType::ScaleIn, 1)),
            Refusal::Unprocessable,
            "SCALE_IN",
        ),
        (
            scale_to(Some("large"), Some(("worker", 1))),
            Refusal::InvalidRequest,
            "not both",
        ),
        (
            scale_to(None, None),
            Refusal::InvalidRequest,
            "instantiationLevelId",
        ),
        (
            scale_to(Some("medium"), None),
            Refusal::Unprocessable,
            "medium",
        ),
        (
            scale_to(None, Some(("db", 1))),
            Refusal::Unprocessable,
            "db",
        ),
        (
            scale_to(None, Some(("worker", 3))),
            Refusal::Unprocessable,
            "max_scale_level",
        ),
        (
            OpRequest::Heal(HealVnfRequest {
                vnfc_instance_id: vec!["ghost".into()],
                ..HealVnfRequest::default()
            }),
            Refusal::Unprocessable,
            "ghost",
        ),
        (
            OpRequest::ChangeFlavour(ChangeVnfFlavourRequest {
                new_flavour_id: "simple".into(),
                ..ChangeVnfFlavourRequest::default()
            }),
            Refusal::Conflict,
            "already uses flavour simple",
        ),
        (
            OpRequest::ChangeFlavour(ChangeVnfFlavourRequest {
                new_flavour_id: "huge".into(),
                ..ChangeVnfFlavourRequest::default()
            }),
            Refusal::Unprocessable,
            "huge",
        ),
        (
            OpRequest::ChangeFlavour(ChangeVnfFlavourRequest {
                new_flavour_id: "big".into(),
                instantiation_level_id: Some("large".into()),
                ..ChangeVnfFlavourRequest::default()
            }),
            Refusal::Unprocessable,
            "large",
        ),
        (
            OpRequest::Operate(operate(VnfOperationalStateType::Started, None)),
            Refusal::Conflict,
            "already STARTED",
        ),
        (
            OpRequest::ChangeExtConn(ChangeExtVnfConnectivityRequest::default()),
            Refusal::InvalidRequest,
            "extVirtualLinks",
        ),
        (
            OpRequest::ChangeExtConn(ChangeExtVnfConnectivityRequest {
                ext_virtual_links: vec![ExtVirtualLinkData {
                    ext_cps: vec![VnfExtCpData {
                        cpd_id: "CPX".into(),
                        cp_config: BTreeMap::new(),
                    }],
                    ..ext_link("ext-vl-2", "net-b")
                }],
                ..ChangeExtVnfConnectivityRequest::default()
            }),
            Refusal::Unprocessable,
            "CPX",
        ),
        (
            OpRequest::ChangeVnfpkg(ChangeCurrentVnfPkgRequest {
                vnfd_id: V1.into(),
                ..ChangeCurrentVnfPkgRequest::default()
            }),
            Refusal::Conflict,
            "already uses vnfdId",
        ),
        (
            OpRequest::ChangeVnfpkg(ChangeCurrentVnfPkgRequest {
                vnfd_id: "no-such-vnfd".into(),
                ..ChangeCurrentVnfPkgRequest::default()
            }),
            Refusal::Unprocessable,
            "no-such-vnfd",
        ),
        (
            OpRequest::ChangeVnfpkg(ChangeCurrentVnfPkgRequest {
                vnfd_id: OTHER.into(),
                ..ChangeCurrentVnfPkgRequest::default()
            }),
            Refusal::Unprocessable,
            "Other Test VNF",
        ),
        (
            OpRequest::ModifyInfo(VnfInfoModificationRequest {
                vnfd_id: Some(V2.into()),
                ..VnfInfoModificationRequest::default()
            }),
            Refusal::WrongState,
            "change_vnfpkg",
        ),
    ];
    for (request, refusal, mentions) in cases {
        assert_refused(&f, &lcm, &id, request, refusal, mentions).await;
    }

    // Starting a stopped VNF takes no stop parameters.
    let op = lcm
        .operate(
            &f.tenant,
            &id,
            operate(VnfOperationalStateType::Stopped, None),
        )
        .await
        .expect("accepted");
    assert_eq!(
        settle(&lcm, &f.tenant, &op.id).await.operation_state,
        State::Completed
    );
    assert_refused(
        &f,
        &lcm,
        &id,
        OpRequest::Operate(operate(VnfOperationalStateType::Stopped, None)),
        Refusal::Conflict,
        "already STOPPED",
    )
    .await;
    assert_refused(
        &f,
        &lcm,
        &id,
        OpRequest::Operate(operate(
            VnfOperationalStateType::Started,
            Some(StopType::Forceful),
        )),
        Refusal::InvalidRequest,
        "stopType",
    )
    .await;
    let mut start = operate(VnfOperationalStateType::Started, None);
    start.graceful_stop_timeout = Some(5);
    assert_refused(
        &f,
        &lcm,
        &id,
        OpRequest::Operate(start),
        Refusal::InvalidRequest,
        "gracefulStopTimeout",
    )
    .await;

    // The new package must have the instance's flavour, and be enabled.
    let big = f.create(&lcm, V1, "big").await;
    f.instantiate(&lcm, &big, "big", None).await;
    let to_v2 = OpRequest::ChangeVnfpkg(ChangeCurrentVnfPkgRequest {
        vnfd_id: V2.into(),
        ..ChangeCurrentVnfPkgRequest::default()
    });
    assert_refused(
        &f,
        &lcm,
        &big,
        to_v2.clone(),
        Refusal::Unprocessable,
        "no flavour big",
    )
    .await;
    f.packages
        .modify(
            &f.tenant,
            &f.package_ids[V2],
            VnfPkgInfoModifications {
                operational_state: Some(PackageOperationalStateType::Disabled),
                user_defined_data: None,
            },
        )
        .await
        .expect("disable");
    assert_refused(&f, &lcm, &id, to_v2, Refusal::Conflict, "DISABLED").await;

    // An instance of a disabled package cannot be instantiated.
    f.packages
        .modify(
            &f.tenant,
            &f.package_ids[V1],
            VnfPkgInfoModifications {
                operational_state: Some(PackageOperationalStateType::Disabled),
                user_defined_data: None,
            },
        )
        .await
        .expect("disable");
    assert_refused(
        &f,
        &lcm,
        &fresh,
        OpRequest::Instantiate(instantiate_request("simple", None)),
        Refusal::Conflict,
        "DISABLED",
    )
    .await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_by_what_the_engine_and_its_drivers_can_do() {
    let f = fixture().await;
    subscribe_all(&f, &f.engine()).await;

    // No VIM at all, or a VIM no infra driver serves.
    let no_vim = f.engine_wired(Wiring {
        default_vim: false,
        ..Wiring::default()
    });
    let id = f.create(&no_vim, V1, "nowhere").await;
    assert_refused(
        &f,
        &no_vim,
        &id,
        OpRequest::Instantiate(instantiate_request("simple", None)),
        Refusal::Unprocessable,
        "no VIM",
    )
    .await;
    let mut request = instantiate_request("simple", None);
    request.vim_connection_info = BTreeMap::from([(
        "os".to_owned(),
        VimConnectionInfo {
            vim_type: "ETSINFV.OPENSTACK_KEYSTONE.V_3".into(),
            ..sample_vim()
        },
    )]);
    assert_refused(
        &f,
        &no_vim,
        &id,
        OpRequest::Instantiate(request),
        Refusal::Unprocessable,
        "no infra driver",
    )
    .await;

    // A hook the VNFD binds and no MgmtDriver serves.
    let no_mgmt = f.engine_wired(Wiring {
        mgmt: false,
        ..Wiring::default()
    });
    assert_refused(
        &f,
        &no_mgmt,
        &id,
        OpRequest::Instantiate(instantiate_request("simple", None)),
        Refusal::Unprocessable,
        "instantiate_end",
    )
    .await;
    {
        let lcm = f.engine();
        let executor = lcm.start();
        let big = f.create(&lcm, V1, "big").await;
        f.instantiate(&lcm, &big, "big", None).await;
        executor.shutdown().await;
        assert_refused(
            &f,
            &no_mgmt,
            &big,
            OpRequest::Heal(HealVnfRequest::default()),
            Refusal::Unprocessable,
            "heal_start",
        )
        .await;
        assert_refused(
            &f,
            &no_mgmt,
            &big,
            OpRequest::ModifyInfo(rename("x")),
            Refusal::Unprocessable,
            "modify_information_start",
        )
        .await;
    }

    // A driver without the capabilities.
    let bare = SimInfraDriver::builder()
        .capabilities(InfraCapabilities::new().with(InfraOperation::HealVnfc))
        .build();
    let lcm = f.engine_wired(Wiring {
        sim: Some(bare.clone()),
        ..Wiring::default()
    });
    let executor = lcm.start();
    let id = f.create(&lcm, V1, "bare").await;
    // Instantiate is always supported, its rollback is not.
    bare.fail_once(SimOperation::Instantiate);
    let op = lcm
        .instantiate(&f.tenant, &id, instantiate_request("simple", None))
        .await
        .expect("accepted");
    let failed = settle(&lcm, &f.tenant, &op.id).await;
    assert_eq!(failed.operation_state, State::FailedTemp);
    assert!(
        failed.links.rollback.is_none(),
        "rolling back is not allowed"
    );
    let refused = lcm.rollback(&f.tenant, &op.id).await;
    assert!(
        matches!(&refused, Err(Error::Conflict(m)) if m.contains("cannot roll back")),
        "{refused:?}"
    );
    lcm.retry(&f.tenant, &op.id).await.expect("retry");
    assert_eq!(
        settle(&lcm, &f.tenant, &op.id).await.operation_state,
        State::Completed
    );
    let mut unsupported = every_request_but_instantiate();
    unsupported.retain(|r| !matches!(r, OpRequest::Terminate(_) | OpRequest::Heal(_)));
    for request in unsupported {
        assert_refused(
            &f,
            &lcm,
            &id,
            request,
            Refusal::NotSupported,
            "does not support",
        )
        .await;
    }
    assert_refused(
        &f,
        &lcm,
        &id,
        OpRequest::Heal(HealVnfRequest::default()),
        Refusal::NotSupported,
        "whole VNF",
    )
    .await;
    let vnfc = vnfc_ids(&f.instance(&lcm, &id).await, "VDU1")[0].clone();
    let only_whole = SimInfraDriver::builder()
        .capabilities(InfraCapabilities::ALL.without(InfraOperation::HealVnfc))
        .build();
    let whole_only = f.engine_wired(Wiring {
        sim: Some(only_whole),
        ..Wiring::default()
    });
    assert_refused(
        &f,
        &whole_only,
        &id,
        OpRequest::Heal(HealVnfRequest {
            vnfc_instance_id: vec![vnfc],
            ..HealVnfRequest::default()
        }),
        Refusal::NotSupported,
        "single VNFCs",
    )
    .await;
    executor.shutdown().await;
}

// ----- Notifications ---------------------------------------------------------------------

/// What a subscription should receive, in order: an identifier notification, or an op
/// occurrence notification of an operation in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Created(String),
    Deleted(String),
    Op {
        instance: String,
        op: String,
        operation: Op,
        state: State,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscription_gets_exactly_the_notifications_its_filter_selects() {
    let f = fixture().await;
    let lcm = f.engine();
    let subscribe = |filter: Option<LifecycleChangeNotificationsFilter>,
                     verbosity: Option<LcmOpOccNotificationVerbosityType>| {
        let lcm = lcm.clone();
        let tenant = f.tenant.clone();
        async move {
            lcm.subscriptions()
                .subscribe(
                    &tenant,
                    LccnSubscriptionRequest {
                        filter,
                        callback_uri: "http://127.0.0.1:9/notify".into(),
                        authentication: None,
                        verbosity,
                    },
                )
                .await
                .expect("subscribe")
                .id
        }
    };
    let op_notifications_only = |operation_types: Vec<Op>, operation_states: Vec<State>| {
        Some(LifecycleChangeNotificationsFilter {
            notification_types: vec![LcmNotificationType::VnfLcmOperationOccurrenceNotification],
            operation_types,
            operation_states,
            ..LifecycleChangeNotificationsFilter::default()
        })
    };
    let all = subscribe(None, None).await;
    let short = subscribe(None, Some(LcmOpOccNotificationVerbosityType::Short)).await;
    let scale_and_terminate = subscribe(
        op_notifications_only(vec![Op::Scale, Op::Terminate], vec![]),
        None,
    )
    .await;
    let results = subscribe(
        op_notifications_only(vec![], vec![State::Completed, State::RolledBack]),
        None,
    )
    .await;
    let identifiers = subscribe(
        Some(LifecycleChangeNotificationsFilter {
            notification_types: vec![
                LcmNotificationType::VnfIdentifierCreationNotification,
                LcmNotificationType::VnfIdentifierDeletionNotification,
            ],
            ..LifecycleChangeNotificationsFilter::default()
        }),
        None,
    )
    .await;
    let other_product = subscribe(
        Some(LifecycleChangeNotificationsFilter {
            vnf_instance_subscription_filter: Some(VnfInstanceSubscriptionFilter {
                vnf_products_from_providers: vec![VnfProductsFromProvider {
                    vnf_provider: "Example".into(),
                    vnf_products: vec![VnfProduct {
                        vnf_product_name: "Other Test VNF".into(),
                        versions: Vec::new(),
                    }],
                }],
                ..VnfInstanceSubscriptionFilter::default()
            }),
            ..LifecycleChangeNotificationsFilter::default()
        }),
        None,
    )
    .await;
    let named_alpha = subscribe(
        Some(LifecycleChangeNotificationsFilter {
            vnf_instance_subscription_filter: Some(VnfInstanceSubscriptionFilter {
                vnf_instance_names: vec!["alpha".into()],
                ..VnfInstanceSubscriptionFilter::default()
            }),
            ..LifecycleChangeNotificationsFilter::default()
        }),
        None,
    )
    .await;
    let executor = lcm.start();

    let alpha = f.create(&lcm, V1, "alpha").await;
    let beta = f.create(&lcm, OTHER, "beta").await;
    let mut ops: Vec<(String, String, Op, Vec<State>)> = Vec::new();
    let a_inst = lcm
        .instantiate(&f.tenant, &alpha, instantiate_request("simple", None))
        .await
        .expect("accepted")
        .id;
    settle(&lcm, &f.tenant, &a_inst).await;
    ops.push((
        alpha.clone(),
        a_inst.clone(),
        Op::Instantiate,
        vec![State::Starting, State::Processing, State::Completed],
    ));
    let b_inst = lcm
        .request(
            &f.tenant,
            &beta,
            OpRequest::Instantiate(instantiate_request("simple", None)),
            true,
        )
        .await
        .expect("accepted")
        .id;
    settle(&lcm, &f.tenant, &b_inst).await;
    ops.push((
        beta.clone(),
        b_inst.clone(),
        Op::Instantiate,
        vec![State::Starting, State::Processing, State::Completed],
    ));
    f.sim.fail_once(SimOperation::Scale);
    let a_scale = lcm
        .scale(&f.tenant, &alpha, scale(ScaleType::ScaleOut, 1))
        .await
        .expect("accepted")
        .id;
    settle(&lcm, &f.tenant, &a_scale).await;
    lcm.rollback(&f.tenant, &a_scale).await.expect("rollback");
    settle(&lcm, &f.tenant, &a_scale).await;
    ops.push((
        alpha.clone(),
        a_scale.clone(),
        Op::Scale,
        vec![
            State::Starting,
            State::Processing,
            State::FailedTemp,
            State::RollingBack,
            State::RolledBack,
        ],
    ));
    let a_term = lcm
        .terminate(
            &f.tenant,
            &alpha,
            TerminateVnfRequest {
                termination_type: TerminationType::Forceful,
                graceful_termination_timeout: None,
                additional_params: KeyValuePairs::new(),
            },
        )
        .await
        .expect("accepted")
        .id;
    settle(&lcm, &f.tenant, &a_term).await;
    ops.push((
        alpha.clone(),
        a_term.clone(),
        Op::Terminate,
        vec![State::Starting, State::Processing, State::Completed],
    ));
    lcm.delete_vnf(&f.tenant, &alpha).await.expect("delete");
    executor.shutdown().await;

    // What each subscription is to receive, in order.
    let expected = |wants: &dyn Fn(&Expect) -> bool| -> Vec<Expect> {
        let mut list = vec![
            Expect::Created(alpha.clone()),
            Expect::Created(beta.clone()),
        ];
        for (instance, op, operation, states) in &ops {
            for state in states {
                list.push(Expect::Op {
                    instance: instance.clone(),
                    op: op.clone(),
                    operation: *operation,
                    state: *state,
                });
            }
        }
        list.push(Expect::Deleted(alpha.clone()));
        list.into_iter().filter(|e| wants(e)).collect()
    };
    let is_op = |e: &Expect| matches!(e, Expect::Op { .. });
    let of_instance = |id: String| {
        move |e: &Expect| match e {
            Expect::Created(i) | Expect::Deleted(i) | Expect::Op { instance: i, .. } => *i == id,
        }
    };
    let wanted: BTreeMap<&str, Vec<Expect>> = BTreeMap::from([
        (all.as_str(), expected(&|_| true)),
        (short.as_str(), expected(&|_| true)),
        (
            scale_and_terminate.as_str(),
            expected(
                &|e| matches!(e, Expect::Op { operation, .. } if matches!(operation, Op::Scale | Op::Terminate)),
            ),
        ),
        (
            results.as_str(),
            expected(
                &|e| matches!(e, Expect::Op { state, .. } if matches!(state, State::Completed | State::RolledBack)),
            ),
        ),
        (identifiers.as_str(), expected(&|e| !is_op(e))),
        (other_product.as_str(), expected(&of_instance(beta.clone()))),
        (named_alpha.as_str(), expected(&of_instance(alpha.clone()))),
    ]);

    let mut received: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for entry in f.drain().await {
        assert_eq!(
            entry.payload["subscriptionId"],
            entry.subscription_id.as_str()
        );
        received
            .entry(entry.subscription_id.clone())
            .or_default()
            .push(entry.payload);
    }
    assert_eq!(
        received.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        wanted.keys().copied().collect::<BTreeSet<_>>()
    );
    for (subscription, expectations) in &wanted {
        let got = &received[*subscription];
        let got_as: Vec<Expect> = got
            .iter()
            .map(|payload| match payload["notificationType"].as_str() {
                Some("VnfIdentifierCreationNotification") => {
                    let n: VnfIdentifierCreationNotification =
                        serde_json::from_value(payload.clone()).expect("creation");
                    Expect::Created(n.vnf_instance_id)
                }
                Some("VnfIdentifierDeletionNotification") => {
                    let n: VnfIdentifierDeletionNotification =
                        serde_json::from_value(payload.clone()).expect("deletion");
                    Expect::Deleted(n.vnf_instance_id)
                }
                _ => {
                    let n: VnfLcmOperationOccurrenceNotification =
                        serde_json::from_value(payload.clone()).expect("op notification");
                    Expect::Op {
                        instance: n.vnf_instance_id,
                        op: n.vnf_lcm_op_occ_id,
                        operation: n.operation,
                        state: n.operation_state,
                    }
                }
            })
            .collect();
        assert_eq!(&got_as, expectations, "subscription {subscription}");
        for payload in got {
            assert!(
                payload["_links"]["subscription"]["href"]
                    .as_str()
                    .is_some_and(|h| h.ends_with(*subscription))
            );
            if payload["notificationType"] != "VnfLcmOperationOccurrenceNotification" {
                assert!(payload["_links"].get("vnfLcmOpOcc").is_none());
                continue;
            }
            let n: VnfLcmOperationOccurrenceNotification =
                serde_json::from_value(payload.clone()).expect("op notification");
            let status = match n.operation_state {
                State::Starting | State::Processing | State::RollingBack => {
                    NotificationStatus::Start
                }
                _ => NotificationStatus::Result,
            };
            assert_eq!(n.notification_status, status, "{:?}", n.operation_state);
            assert_eq!(n.is_automatic_invocation, n.vnf_lcm_op_occ_id == b_inst);
            assert_eq!(
                n.error.is_some(),
                matches!(n.operation_state, State::FailedTemp | State::RollingBack),
                "error in FAILED_TEMP, and in ROLLING_BACK after it"
            );
            assert!(n.links.vnf_lcm_op_occ.is_some());
            let full = *subscription != short.as_str();
            let verbosity = if full {
                LcmOpOccNotificationVerbosityType::Full
            } else {
                LcmOpOccNotificationVerbosityType::Short
            };
            assert_eq!(n.verbosity, Some(verbosity));
            let with_changes = n.operation_state == State::Completed && full;
            assert_eq!(
                !n.affected_vnfcs.is_empty(),
                with_changes,
                "affectedVnfcs in a FULL RESULT notification only: {n:?}"
            );
        }
    }
    assert!(
        f.drain().await.is_empty(),
        "acknowledged notifications are gone"
    );
}
