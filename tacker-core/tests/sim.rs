//! The simulated VIM: the infra-driver conformance suite, latency, cancellation, fault
//! injection, addresses, grants and the VIM driver.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tacker_core::infra::{
    InfraCapabilities, InfraContext, InfraDriver, InfraOperation, InfraOutcome, Rollback,
    ScaleTarget, VnfResources, not_supported,
};
use tacker_core::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeType,
    ChangeVnfFlavourRequest, Grant, HealVnfRequest, InstantiateVnfRequest, InstantiationState,
    OperateVnfRequest, ScaleInfo, ScaleType, TerminateVnfRequest, TerminationType,
    VimConnectionInfo, VnfInstance, VnfOperationalStateType,
};
use tacker_core::package::{InMemoryPackageFiles, PackageFiles};
use tacker_core::sim::{
    self, AppliedOperation, SIM_VIM_TYPE, SimInfraDriver, SimOperation, SimVimDriver,
};
use tacker_core::store::{ListQuery, MemoryStore, RecordKind, Store};
use tacker_core::testkit::faults::FaultyStore;
use tacker_core::testkit::infra::{self as suite, InfraFixture};
use tacker_core::vim::VimDriver;
use tacker_core::vnfd::Vnfd;
use tacker_core::{Error, TenantId, new_id};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[allow(dead_code)]
#[path = "etsi/harness.rs"]
mod harness;

// ---------------------------------------------------------------------------------------
// The conformance suite
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sim_passes_the_infra_conformance_suite() {
    let sim = SimInfraDriver::new();
    suite::run_all(&sim, &InfraFixture::for_sim(&sim)).await;
    assert_eq!(
        sim.deployment_count(),
        0,
        "every check cleans up after itself"
    );
}

#[tokio::test]
async fn sim_passes_the_suite_without_an_inspector() {
    let sim = SimInfraDriver::new();
    let mut fixture = InfraFixture::for_sim(&sim);
    fixture.inspector = None;
    suite::run_all(&sim, &fixture).await;
}

#[tokio::test]
async fn restricted_sim_skips_what_it_lacks_and_refuses_it() {
    let capabilities = InfraCapabilities::new()
        .with(InfraOperation::Scale)
        .with(InfraOperation::HealVnf);
    let sim = SimInfraDriver::builder().capabilities(capabilities).build();
    assert_eq!(sim.capabilities(), capabilities);
    suite::run_all(&sim, &InfraFixture::for_sim(&sim)).await;
    assert_eq!(
        sim.calls(SimOperation::Operate),
        0,
        "a refused operation never reaches the VIM"
    );
    assert_eq!(sim.calls(SimOperation::RollbackScale), 0);
}

#[tokio::test]
async fn sim_with_a_custom_vim_type_passes_the_suite_and_refuses_other_types() {
    let sim = SimInfraDriver::builder()
        .vim_type("ETSINFV.TEST.V_1")
        .build();
    assert_eq!(sim.vim_type(), "ETSINFV.TEST.V_1");
    let fixture = InfraFixture::for_sim(&sim);
    assert_eq!(fixture.vim.vim_type, "ETSINFV.TEST.V_1");
    suite::lifecycle(&sim, &fixture).await;

    let vnf = Vnf::new(&sim);
    let error = vnf.instantiate().await.expect_err("wrong vim type");
    assert!(
        matches!(&error, Error::InvalidRequest(m) if m.contains(SIM_VIM_TYPE)),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// A VNF instance driven by hand
// ---------------------------------------------------------------------------------------

/// One VNF instance on a simulated VIM, recorded as the engine would record it.
struct Vnf {
    sim: SimInfraDriver,
    tenant: TenantId,
    vnfd: Vnfd,
    vim: VimConnectionInfo,
    record: VnfInstance,
    grant: Option<Grant>,
    package: InMemoryPackageFiles,
    cancel: CancellationToken,
    op_id: String,
    level: Option<String>,
}

impl Vnf {
    fn new(sim: &SimInfraDriver) -> Self {
        let vnfd = sim::sample_vnfd();
        let id = new_id();
        Self {
            sim: sim.clone(),
            tenant: TenantId::new("sim-tests"),
            record: sim::sample_instance(&id, &vnfd.descriptor_id),
            vnfd,
            vim: sim::sample_vim(),
            grant: None,
            package: InMemoryPackageFiles::new(),
            cancel: CancellationToken::new(),
            op_id: new_id(),
            level: None,
        }
    }

    fn at_level(mut self, level: &str) -> Self {
        self.level = Some(level.to_owned());
        self
    }

    fn ctx(&self) -> InfraContext<'_> {
        let flavour_id = self
            .record
            .instantiated_vnf_info
            .as_ref()
            .map_or("simple", |i| i.flavour_id.as_str());
        InfraContext::new(
            &self.tenant,
            &self.op_id,
            &self.record,
            &self.vnfd,
            self.vnfd.flavour(flavour_id).expect("flavour"),
            sim::SAMPLE_VIM_CONNECTION_ID,
            &self.vim,
        )
        .with_grant(self.grant.as_ref())
        .with_package(&self.package)
        .with_cancel(&self.cancel)
    }

    fn request(&self) -> InstantiateVnfRequest {
        InstantiateVnfRequest {
            instantiation_level_id: self.level.clone(),
            ..sim::sample_instantiate_request()
        }
    }

    async fn instantiate(&self) -> tacker_core::Result<InfraOutcome> {
        self.sim.instantiate(&self.ctx(), &self.request()).await
    }

    fn record(&mut self, operation: AppliedOperation<'_>, outcome: &InfraOutcome) {
        self.record = sim::apply_outcome(&self.record, &self.vnfd, operation, outcome)
            .expect("apply outcome");
        self.op_id = new_id();
    }

    async fn instantiated(mut self) -> Self {
        let outcome = self.instantiate().await.expect("instantiate");
        let request = self.request();
        self.record(AppliedOperation::Instantiate(&request), &outcome);
        self
    }

    fn scale_target(&self, level: u32) -> ScaleTarget {
        ScaleTarget::new(
            vec![ScaleInfo {
                aspect_id: "VDU1_scale".to_owned(),
                vnfd_id: None,
                scale_level: level,
            }],
            Some(ScaleType::ScaleOut),
        )
    }

    async fn scale_to(&mut self, level: u32) -> InfraOutcome {
        let target = self.scale_target(level);
        let outcome = self.sim.scale(&self.ctx(), &target).await.expect("scale");
        self.record(AppliedOperation::Scale(&target), &outcome);
        outcome
    }

    async fn terminate(&self) -> tacker_core::Result<InfraOutcome> {
        let request = TerminateVnfRequest {
            termination_type: TerminationType::Forceful,
            graceful_termination_timeout: None,
            additional_params: Default::default(),
        };
        self.sim.terminate(&self.ctx(), &request).await
    }

    fn servers(&self) -> usize {
        self.sim
            .deployment(&self.tenant, &self.record.id)
            .map_or(0, |d| d.servers.len())
    }

    fn resources_held(&self) -> Vec<String> {
        self.sim.resource_ids(&self.tenant, &self.record.id)
    }
}

fn vnfc_ids(outcome: &InfraOutcome) -> BTreeSet<String> {
    outcome
        .resources
        .vnfc_resource_info
        .iter()
        .map(|v| v.id.clone())
        .collect()
}

fn changed(outcome: &InfraOutcome, change_type: ChangeType) -> BTreeSet<String> {
    outcome
        .resource_changes
        .affected_vnfcs
        .iter()
        .filter(|c| c.change_type == change_type)
        .map(|c| c.id.clone())
        .collect()
}

fn first_address(outcome: &InfraOutcome, vnfc_id: &str) -> String {
    let vnfc = outcome
        .resources
        .vnfc_resource_info
        .iter()
        .find(|v| v.id == vnfc_id)
        .expect("vnfc");
    vnfc.vnfc_cp_info[0].cp_protocol_info[0]
        .ip_over_ethernet
        .as_ref()
        .expect("ip over ethernet")
        .ip_addresses[0]
        .addresses[0]
        .clone()
}

fn assert_injected(error: &Error, op: &str) {
    match error {
        Error::Driver {
            driver, retryable, ..
        } => {
            assert_eq!(driver, "sim");
            assert!(retryable, "injected faults are retryable");
            let text = error.to_problem_details().detail;
            assert!(text.contains("injected fault"), "{text}");
            assert!(text.contains(op), "the fault names the operation: {text}");
        }
        other => panic!("expected an injected driver fault, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// A durable VIM: deployments in a store
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn durable_sim_passes_the_infra_conformance_suite() {
    let store = Arc::new(MemoryStore::new());
    let sim = SimInfraDriver::with_store(store.clone());
    assert!(sim.is_durable());
    let fixture = InfraFixture::for_sim(&sim);
    suite::run_all(&sim, &fixture).await;
    assert_eq!(sim.deployment_count(), 0, "every check cleans up");
    let left = store
        .list(&fixture.tenant, RecordKind::DriverState, &ListQuery::all())
        .await
        .expect("list driver states");
    assert!(left.items.is_empty(), "nothing left in the store: {left:?}");
}

#[tokio::test]
async fn durable_sim_without_an_inspector_passes_the_suite() {
    let sim = SimInfraDriver::with_store(Arc::new(MemoryStore::new()));
    let mut fixture = InfraFixture::for_sim(&sim);
    fixture.inspector = None;
    suite::run_all(&sim, &fixture).await;
}

/// Scale, heal and terminate of an instance that `first` instantiated, through `second`.
async fn operate_through_another_driver(first: &SimInfraDriver, second: &SimInfraDriver) {
    let mut vnf = Vnf::new(first).instantiated().await;
    vnf.sim = second.clone();
    vnf.scale_to(1).await;
    assert_eq!(vnf.servers(), 3, "scaled out through the second driver");
    let vdu1 = vnf
        .record
        .instantiated_vnf_info
        .as_ref()
        .and_then(|i| i.vnfc_resource_info.iter().find(|v| v.vdu_id == "VDU1"))
        .expect("a VDU1 VNFC")
        .clone();
    let request = HealVnfRequest {
        vnfc_instance_id: vec![vdu1.id.clone()],
        ..HealVnfRequest::default()
    };
    let healed = vnf.sim.heal(&vnf.ctx(), &request).await.expect("heal");
    assert_eq!(
        changed(&healed, ChangeType::Modified),
        BTreeSet::from([vdu1.id])
    );
    vnf.record(AppliedOperation::Heal, &healed);
    let terminated = vnf.terminate().await.expect("terminate");
    vnf.record(AppliedOperation::Terminate, &terminated);
    assert!(vnf.resources_held().is_empty());
    for sim in [first, second] {
        assert_eq!(
            sim.load_deployment(&vnf.tenant, &vnf.record.id)
                .await
                .expect("load"),
            None,
            "no driver sees the terminated deployment"
        );
    }
}

#[tokio::test]
async fn a_durable_sim_outlives_its_driver_and_is_shared_through_the_store() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // A restart: the first driver is gone, a new one on the same store carries on.
    let before = SimInfraDriver::with_store(store.clone());
    let mut vnf = Vnf::new(&before).instantiated().await;
    let held = before.resource_ids(&vnf.tenant, &vnf.record.id);
    drop(before);
    let after = SimInfraDriver::with_store(store.clone());
    assert_eq!(
        after
            .load_resource_ids(&vnf.tenant, &vnf.record.id)
            .await
            .expect("load"),
        held,
        "a new driver on the store sees the resources"
    );
    vnf.sim = after.clone();
    let terminated = vnf.terminate().await.expect("terminate after a restart");
    vnf.record(AppliedOperation::Terminate, &terminated);

    // Two drivers at once (two processes sharing a database).
    let a = SimInfraDriver::with_store(store.clone());
    let b = SimInfraDriver::with_store(store.clone());
    operate_through_another_driver(&a, &b).await;
}

#[tokio::test]
async fn an_in_memory_sim_is_not_shared() {
    // What the durable form fixes: a second in-memory driver knows nothing.
    let first = SimInfraDriver::new();
    let mut vnf = Vnf::new(&first).instantiated().await;
    vnf.sim = SimInfraDriver::new();
    let target = vnf.scale_target(1);
    let error = vnf
        .sim
        .scale(&vnf.ctx(), &target)
        .await
        .expect_err("another in-memory VIM holds nothing");
    assert!(error.to_string().contains("holds no resources"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_through_two_durable_drivers_are_all_kept() {
    let store = Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())));
    store.yield_after_reads(4);
    let a = SimInfraDriver::with_store(store.clone());
    let b = SimInfraDriver::with_store(store.clone());
    let mut vnf = Vnf::new(&a).instantiated().await;
    vnf.scale_to(2).await;
    let conflicts_before = store.conflicts();
    let vnfcs: Vec<(String, String)> = vnf
        .record
        .instantiated_vnf_info
        .as_ref()
        .map(|i| {
            i.vnfc_resource_info
                .iter()
                .map(|v| (v.id.clone(), v.compute_resource.resource_id.clone()))
                .collect()
        })
        .unwrap_or_default();
    assert!(vnfcs.len() >= 4, "{vnfcs:?}");
    // Each VNFC healed through one of the two drivers, all at once: every heal reads,
    // changes and writes the one deployment, and none may undo another.
    let heals = vnfcs.iter().enumerate().map(|(n, (vnfc, _))| {
        let sim = if n % 2 == 0 { a.clone() } else { b.clone() };
        let request = HealVnfRequest {
            vnfc_instance_id: vec![vnfc.clone()],
            ..HealVnfRequest::default()
        };
        let ctx = vnf.ctx();
        async move { sim.heal(&ctx, &request).await }
    });
    for result in futures::future::join_all(heals).await {
        result.expect("heal");
    }
    let deployment = a
        .load_deployment(&vnf.tenant, &vnf.record.id)
        .await
        .expect("load")
        .expect("a deployment");
    for (vnfc, old) in &vnfcs {
        let server = deployment
            .servers
            .iter()
            .find(|s| &s.vnfc_id == vnfc)
            .expect("the VNFC is still there");
        assert_ne!(&server.resource_id, old, "the heal of {vnfc} was kept");
    }
    assert_eq!(deployment.servers.len(), vnfcs.len());
    assert!(
        store.conflicts() > conflicts_before,
        "the heals did race (some write met a newer version and was run again)"
    );
}

// ---------------------------------------------------------------------------------------
// Latency and cancellation
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn configured_latency_delays_each_call_kind() {
    let sim = SimInfraDriver::builder()
        .latency(SimOperation::Instantiate, Duration::from_secs(5))
        .default_latency(Duration::from_secs(1))
        .build();
    let vnf = Vnf::new(&sim);

    let start = Instant::now();
    vnf.instantiate().await.expect("instantiate");
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(5), "instantiate took {took:?}");
    assert!(took < Duration::from_secs(6), "instantiate took {took:?}");

    let start = Instant::now();
    vnf.terminate().await.expect("terminate");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "the default applies: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "terminate took {took:?}");

    sim.set_latency(SimOperation::Terminate, Duration::from_secs(30));
    let start = Instant::now();
    vnf.terminate().await.expect("terminate again");
    assert!(start.elapsed() >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn cancellation_during_the_latency_returns_cancelled_and_changes_nothing() {
    let sim = SimInfraDriver::builder()
        .default_latency(Duration::from_secs(60))
        .build();
    let vnf = Vnf::new(&sim);
    let token = vnf.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        token.cancel();
    });
    let start = Instant::now();
    let error = vnf.instantiate().await.expect_err("cancelled");
    assert!(matches!(error, Error::Cancelled(_)), "{error}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(60),
        "the call ends when cancelled: {took:?}"
    );
    assert_eq!(vnf.servers(), 0, "a cancelled call changes nothing");
    assert_eq!(sim.calls(SimOperation::Instantiate), 1);

    let error = vnf.instantiate().await.expect_err("already cancelled");
    assert!(matches!(error, Error::Cancelled(_)), "{error}");
    assert_eq!(
        start.elapsed(),
        took,
        "an already cancelled token fails at once"
    );
}

// ---------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn fail_nth_fails_exactly_the_nth_call() {
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim).instantiated().await;
    sim.fail_nth(SimOperation::Scale, 2);
    vnf.scale_to(1).await;
    let held = vnf.resources_held();
    let error = vnf
        .sim
        .scale(&vnf.ctx(), &vnf.scale_target(2))
        .await
        .expect_err("second scale fails");
    assert_injected(&error, "scale");
    assert_eq!(
        vnf.resources_held(),
        held,
        "the fault came before any change"
    );
    vnf.scale_to(2).await;
    assert_eq!(vnf.servers(), 4);
    vnf.scale_to(0).await;
    assert_eq!(sim.calls(SimOperation::Scale), 4);
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn fail_once_fails_one_call_then_succeeds() {
    let sim = SimInfraDriver::new();
    let vnf = Vnf::new(&sim);
    sim.fail_once(SimOperation::Instantiate);
    let error = vnf.instantiate().await.expect_err("first fails");
    assert_injected(&error, "instantiate");
    assert!(
        sim.deployment(&vnf.tenant, &vnf.record.id).is_none(),
        "an injected fault leaves nothing behind"
    );
    let outcome = vnf.instantiate().await.expect("then it succeeds");
    assert_eq!(outcome.resources.vnfc_resource_info.len(), 2);
    vnf.instantiate().await.expect("and keeps succeeding");
    assert_eq!(sim.calls(SimOperation::Instantiate), 3);
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn fail_always_fails_every_call_until_cleared() {
    let sim = SimInfraDriver::new();
    let vnf = Vnf::new(&sim).instantiated().await;
    sim.fail_always(SimOperation::Terminate);
    for _ in 0..3 {
        let error = vnf.terminate().await.expect_err("fails");
        assert_injected(&error, "terminate");
        assert_eq!(vnf.servers(), 2, "nothing removed");
    }
    let heal = HealVnfRequest::default();
    vnf.sim
        .heal(&vnf.ctx(), &heal)
        .await
        .expect("other operations are unaffected");
    sim.clear_faults();
    vnf.terminate().await.expect("cleared");
    assert_eq!(vnf.servers(), 0);
    assert_eq!(sim.calls(SimOperation::Terminate), 4);
}

#[tokio::test]
async fn partial_instantiate_then_retry_converges() {
    let sim = SimInfraDriver::new();
    let vnf = Vnf::new(&sim).at_level("instantiation_level_2");
    sim.fail_after_partial(SimOperation::Instantiate);
    let error = vnf.instantiate().await.expect_err("partial failure");
    assert_injected(&error, "instantiate");
    assert_eq!(vnf.servers(), 2, "two of the three servers were created");

    let outcome = vnf.instantiate().await.expect("retry");
    assert_eq!(vnf.servers(), 3);
    assert_eq!(
        changed(&outcome, ChangeType::Added),
        vnfc_ids(&outcome),
        "the retry reports every VNFC as ADDED"
    );
    let again = vnf.instantiate().await.expect("retry again");
    assert_eq!(outcome, again);

    sim.fail_after_partial(SimOperation::Terminate);
    let error = vnf.terminate().await.expect_err("partial terminate");
    assert_injected(&error, "terminate");
    assert_eq!(vnf.servers(), 1, "two of three servers removed");
    let terminated = vnf.terminate().await.expect("retry terminate");
    assert!(vnf.resources_held().is_empty());
    assert!(terminated.resource_changes.affected_vnfcs.is_empty());
}

#[tokio::test]
async fn partial_scale_out_then_retry_converges_and_rollback_restores() {
    let sim = SimInfraDriver::new();
    let vnf = Vnf::new(&sim).instantiated().await;
    let before = vnf
        .sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment");
    let target = vnf.scale_target(2);
    sim.fail_after_partial(SimOperation::Scale);
    vnf.sim
        .scale(&vnf.ctx(), &target)
        .await
        .expect_err("partial scale out");
    assert_eq!(vnf.servers(), 3, "one of the two new servers was created");
    let outcome = vnf.sim.scale(&vnf.ctx(), &target).await.expect("retry");
    assert_eq!(vnf.servers(), 4);
    assert_eq!(changed(&outcome, ChangeType::Added).len(), 2);

    let rolled_back = vnf
        .sim
        .rollback(&vnf.ctx(), &Rollback::Scale(&target))
        .await
        .expect("rollback");
    assert!(rolled_back.resource_changes.affected_vnfcs.is_empty());
    let after = vnf
        .sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment");
    assert_eq!(
        after.servers, before.servers,
        "back to the servers recorded"
    );
    vnf.terminate().await.expect("terminate");
}

// ---------------------------------------------------------------------------------------
// Addresses, images, heal, operate, change package
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn per_vdu_addresses_are_reported_as_configured() {
    let configured: Vec<IpAddr> = vec![
        "127.0.0.2".parse().expect("ip"),
        "127.0.0.3".parse().expect("ip"),
    ];
    let sim = SimInfraDriver::builder()
        .vdu_addresses("VDU1", configured.clone())
        .build();
    let mut vnf = Vnf::new(&sim)
        .at_level("instantiation_level_2")
        .instantiated()
        .await;
    let deployment = sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment");
    let vdu1: Vec<_> = deployment
        .servers
        .iter()
        .filter(|s| s.vdu_id == "VDU1")
        .collect();
    assert_eq!(vdu1.len(), 2);
    assert_eq!(vdu1[0].addresses[0], configured[0], "first VNFC, first CP");
    assert_eq!(vdu1[1].addresses[0], configured[1], "second VNFC, first CP");

    let info = vnf
        .record
        .instantiated_vnf_info
        .clone()
        .expect("instantiated");
    let outcome = InfraOutcome::new(
        VnfResources::default().with_vnfc_resource_info(info.vnfc_resource_info.clone()),
        Default::default(),
    );
    for (server, address) in vdu1.iter().zip(&configured) {
        assert_eq!(
            first_address(&outcome, &server.vnfc_id),
            address.to_string()
        );
    }
    let ext_addresses: BTreeSet<String> = info
        .ext_cp_info
        .iter()
        .flat_map(|cp| cp.cp_protocol_info.iter())
        .filter_map(|p| p.ip_over_ethernet.as_ref())
        .flat_map(|ip| {
            ip.ip_addresses
                .iter()
                .flat_map(|a| a.addresses.iter().cloned())
        })
        .collect();
    assert_eq!(
        ext_addresses,
        configured.iter().map(IpAddr::to_string).collect(),
        "VDU1's first CP is its external CP"
    );

    let pool = Ipv4Addr::new(127, 64, 0, 0);
    let mut all = BTreeSet::new();
    for server in &deployment.servers {
        for (position, address) in server.addresses.iter().enumerate() {
            assert!(all.insert(*address), "address {address} handed out twice");
            if server.vdu_id != "VDU1" || position > 0 {
                let IpAddr::V4(v4) = address else {
                    panic!("pool addresses are IPv4: {address}");
                };
                assert_eq!(
                    v4.octets()[..2],
                    pool.octets()[..2],
                    "{address} is from 127.64.0.0/16"
                );
            }
        }
    }

    vnf.scale_to(2).await;
    let third = sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment")
        .servers
        .into_iter()
        .filter(|s| s.vdu_id == "VDU1")
        .nth(2)
        .expect("third VDU1");
    let IpAddr::V4(v4) = third.addresses[0] else {
        panic!("IPv4");
    };
    assert_eq!(v4.octets()[1], 64, "with the list spent, the pool serves");
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn grant_assets_choose_images_and_flavours() {
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim);
    let grant: Grant = serde_json::from_value(json!({
        "id": "grant-1",
        "vnfInstanceId": vnf.record.id,
        "vnfLcmOpOccId": vnf.op_id,
        "vimAssets": {
            "softwareImages": [
                {"vnfdSoftwareImageId": "VDU1", "vimSoftwareImageId": "glance-image-1"}
            ],
            "computeResourceFlavours": [
                {"vnfdVirtualComputeDescId": "VDU1", "vimFlavourId": "m1.small"}
            ]
        },
        "_links": {
            "self": {"href": "http://nfvo/grants/grant-1"},
            "vnfLcmOpOcc": {"href": "http://vnfm/vnf_lcm_op_occs/1"},
            "vnfInstance": {"href": "http://vnfm/vnf_instances/1"}
        }
    }))
    .expect("grant");
    vnf.grant = Some(grant);
    let outcome = vnf.instantiate().await.expect("instantiate");
    for vnfc in &outcome.resources.vnfc_resource_info {
        let (image, flavour) = match vnfc.vdu_id.as_str() {
            "VDU1" => (json!("glance-image-1"), Some(json!("m1.small"))),
            _ => (json!("VDU2-image"), None),
        };
        assert_eq!(vnfc.metadata.get("image"), Some(&image), "{}", vnfc.vdu_id);
        assert_eq!(vnfc.metadata.get("vimFlavourId").cloned(), flavour);
        assert_eq!(
            vnfc.compute_resource.vim_level_resource_type.as_deref(),
            Some(sim::COMPUTE_RESOURCE_TYPE)
        );
    }
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn heal_with_storage_replaces_volumes_and_accepts_vnfc_info_ids() {
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim).instantiated().await;
    let info = vnf
        .record
        .instantiated_vnf_info
        .clone()
        .expect("instantiated");
    let vdu2 = info
        .vnfc_info
        .iter()
        .find(|v| v.vdu_id == "VDU2")
        .expect("VDU2 vnfcInfo");
    let mut params = tacker_core::model::KeyValuePairs::new();
    params.insert("all".into(), json!(true));
    let request = HealVnfRequest {
        vnfc_instance_id: vec![vdu2.id.clone()],
        additional_params: params,
        ..HealVnfRequest::default()
    };
    let healed = vnf.sim.heal(&vnf.ctx(), &request).await.expect("heal");
    let storages = &healed.resource_changes.affected_virtual_storages;
    assert_eq!(storages.len(), 1, "the volume of VDU2 is replaced");
    assert_eq!(storages[0].change_type, ChangeType::Modified);
    assert_eq!(
        changed(&healed, ChangeType::Modified),
        BTreeSet::from([vdu2.id.clone()])
    );
    let again = vnf.sim.heal(&vnf.ctx(), &request).await.expect("retry");
    assert_eq!(healed, again, "a retried heal replaces nothing more");
    vnf.record(AppliedOperation::Heal, &healed);
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn operate_sets_the_power_state() {
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim).instantiated().await;
    let request = OperateVnfRequest {
        change_state_to: VnfOperationalStateType::Stopped,
        stop_type: None,
        graceful_stop_timeout: None,
        additional_params: Default::default(),
    };
    let outcome = vnf
        .sim
        .operate(&vnf.ctx(), &request)
        .await
        .expect("operate");
    assert!(
        outcome.resource_changes.is_empty(),
        "power is not a resource change"
    );
    let deployment = sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment");
    assert!(
        deployment
            .servers
            .iter()
            .all(|s| s.power_state == VnfOperationalStateType::Stopped)
    );
    vnf.record(AppliedOperation::Operate(&request), &outcome);
    let info = vnf.record.instantiated_vnf_info.as_ref().expect("info");
    assert_eq!(info.vnf_state, VnfOperationalStateType::Stopped);
    assert!(
        info.vnfc_info
            .iter()
            .all(|v| v.vnfc_state == VnfOperationalStateType::Stopped)
    );
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn change_vnfpkg_rebuilds_servers_and_its_rollback_restores_images() {
    let sim = SimInfraDriver::new();
    let vnf = Vnf::new(&sim).instantiated().await;
    let new_vnfd = suite::upgraded(&vnf.vnfd);
    let request = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_vnfd.descriptor_id.clone(),
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let package = InMemoryPackageFiles::new();
    let outcome = vnf
        .sim
        .change_vnfpkg(&vnf.ctx(), &request, &new_vnfd, &package)
        .await
        .expect("change package");
    assert_eq!(changed(&outcome, ChangeType::Modified), vnfc_ids(&outcome));
    let deployment = sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment");
    assert_eq!(deployment.vnfd_id, new_vnfd.descriptor_id);
    assert!(
        deployment
            .servers
            .iter()
            .all(|s| s.image.as_deref().is_some_and(|i| i.ends_with("-v2")))
    );
    let again = vnf
        .sim
        .change_vnfpkg(&vnf.ctx(), &request, &new_vnfd, &package)
        .await
        .expect("retry");
    assert_eq!(outcome, again);

    vnf.sim
        .rollback(&vnf.ctx(), &Rollback::ChangeVnfpkg(&request))
        .await
        .expect("rollback");
    let deployment = sim
        .deployment(&vnf.tenant, &vnf.record.id)
        .expect("deployment");
    assert_eq!(deployment.vnfd_id, vnf.vnfd.descriptor_id);
    assert!(
        deployment
            .servers
            .iter()
            .all(|s| s.image.as_deref().is_some_and(|i| !i.ends_with("-v2")))
    );
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn rollback_of_scale_in_recreates_the_recorded_vnfcs() {
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim).instantiated().await;
    vnf.scale_to(2).await;
    let recorded = vnf.record.instantiated_vnf_info.clone().expect("info");
    let target = vnf.scale_target(0);
    vnf.sim.scale(&vnf.ctx(), &target).await.expect("scale in");
    assert_eq!(vnf.servers(), 2);
    let rolled_back = vnf
        .sim
        .rollback(&vnf.ctx(), &Rollback::Scale(&target))
        .await
        .expect("rollback");
    let ids: BTreeSet<String> = recorded
        .vnfc_resource_info
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert_eq!(
        vnfc_ids(&rolled_back),
        ids,
        "the recorded VNFC ids come back"
    );
    assert_eq!(
        changed(&rolled_back, ChangeType::Modified).len(),
        2,
        "the two recreated VNFCs have new compute resources"
    );
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn scale_beyond_the_maximum_is_unprocessable() {
    let sim = SimInfraDriver::new();
    let vnf = Vnf::new(&sim).instantiated().await;
    let error = vnf
        .sim
        .scale(&vnf.ctx(), &vnf.scale_target(3))
        .await
        .expect_err("beyond max");
    assert!(matches!(error, Error::Unprocessable(_)), "{error}");
    vnf.terminate().await.expect("terminate");
}

#[tokio::test]
async fn apply_outcome_records_an_instantiated_instance() {
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim)
        .at_level("instantiation_level_2")
        .instantiated()
        .await;
    let instance = &vnf.record;
    assert_eq!(
        instance.instantiation_state,
        InstantiationState::Instantiated
    );
    let info = instance.instantiated_vnf_info.as_ref().expect("info");
    assert_eq!(info.flavour_id, "simple");
    assert_eq!(info.vnf_state, VnfOperationalStateType::Started);
    assert_eq!(info.scale_status[0].scale_level, 1);
    assert_eq!(info.max_scale_levels[0].scale_level, 2);
    assert_eq!(info.vnfc_info.len(), 3);
    assert!(
        instance
            .vim_connection_info
            .contains_key(sim::SAMPLE_VIM_CONNECTION_ID)
    );
    assert!(instance.links.terminate.is_some() && instance.links.instantiate.is_none());
    let json = serde_json::to_value(instance).expect("json");
    assert_eq!(
        json["instantiatedVnfInfo"]["extCpInfo"][0]["cpConfigId"],
        "VDU1_CP1_config"
    );

    let outcome = vnf.terminate().await.expect("terminate");
    vnf.record(AppliedOperation::Terminate, &outcome);
    assert_eq!(
        vnf.record.instantiation_state,
        InstantiationState::NotInstantiated
    );
    assert!(vnf.record.instantiated_vnf_info.is_none());
    assert!(vnf.record.links.instantiate.is_some());
}

// ---------------------------------------------------------------------------------------
// The VIM driver
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sim_vim_driver_validates_and_describes() {
    let driver = SimVimDriver::default();
    assert_eq!(driver.vim_type(), SIM_VIM_TYPE);
    let description = driver.validate(&sim::sample_vim()).await.expect("valid");
    assert_eq!(description.regions, vec!["sim-region".to_owned()]);
    assert!(
        description
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("sim-"))
    );
    assert_eq!(description.extra["vimType"], SIM_VIM_TYPE);

    let mut vim = sim::sample_vim();
    vim.access_info.clear();
    let description = driver.validate(&vim).await.expect("no credentials needed");
    assert_eq!(description.regions, vec!["sim-region".to_owned()]);
    vim.access_info.insert("region".into(), json!("RegionTwo"));
    let description = driver.validate(&vim).await.expect("region");
    assert_eq!(description.regions, vec!["RegionTwo".to_owned()]);

    let mut refused = sim::sample_vim();
    refused.access_info.insert("fail".into(), json!(true));
    let error = driver.validate(&refused).await.expect_err("refused");
    assert!(
        matches!(
            &error,
            Error::Driver {
                retryable: false,
                ..
            }
        ),
        "{error}"
    );

    let mut bad_region = sim::sample_vim();
    bad_region.access_info.insert("region".into(), json!(7));
    let error = driver.validate(&bad_region).await.expect_err("bad region");
    assert!(
        matches!(&error, Error::InvalidRequest(m) if m.contains("accessInfo.region")),
        "{error}"
    );

    let mut bad_endpoint = sim::sample_vim();
    bad_endpoint
        .interface_info
        .insert("endpoint".into(), json!(["x"]));
    let error = driver
        .validate(&bad_endpoint)
        .await
        .expect_err("bad endpoint");
    assert!(
        matches!(&error, Error::InvalidRequest(m) if m.contains("interfaceInfo.endpoint")),
        "{error}"
    );

    let mut other_type = sim::sample_vim();
    other_type.vim_type = "ETSINFV.OPENSTACK_KEYSTONE.V_3".into();
    let error = driver.validate(&other_type).await.expect_err("other type");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error}");
}

#[tokio::test]
async fn sim_vim_driver_shares_faults_and_counters_with_its_infra_driver() {
    let sim = SimInfraDriver::new();
    let driver = sim.vim_driver();
    sim.fail_once(SimOperation::Validate);
    let error = driver
        .validate(&sim::sample_vim())
        .await
        .expect_err("injected");
    assert_injected(&error, "validate");
    driver
        .validate(&sim::sample_vim())
        .await
        .expect("then valid");
    assert_eq!(sim.calls(SimOperation::Validate), 2);
}

// ---------------------------------------------------------------------------------------
// The suite catches broken drivers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    /// None: the wrapper forwards every call.
    None,
    /// Instantiate starts over on every call: a retry creates new resources.
    DuplicatesOnRetry,
    /// Terminate reports everything removed but leaves it in the VIM.
    LeaksOnTerminate,
    /// Instantiate forgets to report the storage of the VNFCs.
    ForgetsStorage,
    /// Heal ignores what the recorded instance says and replaces again on a retry.
    HealsTwice,
    /// Instantiate leaves the external virtual links of the request unconnected.
    IgnoresExtVirtualLinks,
    /// Declares operate but leaves its method to the default (not supported).
    ClaimsOperateWithoutIt,
    /// Runs operate but leaves it out of its capabilities.
    HidesOperate,
}

/// The simulated VIM with one deliberate flaw.
#[derive(Debug)]
struct Flawed {
    sim: SimInfraDriver,
    flaw: Flaw,
}

#[async_trait::async_trait]
impl InfraDriver for Flawed {
    fn vim_type(&self) -> &str {
        self.sim.vim_type()
    }

    fn capabilities(&self) -> InfraCapabilities {
        if self.flaw == Flaw::HidesOperate {
            return self.sim.capabilities().without(InfraOperation::Operate);
        }
        self.sim.capabilities()
    }

    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> tacker_core::Result<InfraOutcome> {
        if self.flaw == Flaw::IgnoresExtVirtualLinks {
            let without = InstantiateVnfRequest {
                ext_virtual_links: Vec::new(),
                ..request.clone()
            };
            return self.sim.instantiate(ctx, &without).await;
        }
        if self.flaw == Flaw::DuplicatesOnRetry {
            self.sim
                .rollback(ctx, &Rollback::Instantiate(request))
                .await?;
        }
        let mut outcome = self.sim.instantiate(ctx, request).await?;
        if self.flaw == Flaw::ForgetsStorage {
            for vnfc in &mut outcome.resources.vnfc_resource_info {
                vnfc.storage_resource_ids.clear();
            }
        }
        Ok(outcome)
    }

    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> tacker_core::Result<InfraOutcome> {
        if self.flaw == Flaw::LeaksOnTerminate {
            let elsewhere = TenantId::new("nobody");
            let ctx = ctx.with_tenant(&elsewhere);
            return self.sim.terminate(&ctx, request).await;
        }
        self.sim.terminate(ctx, request).await
    }

    async fn scale(
        &self,
        ctx: &InfraContext<'_>,
        target: &ScaleTarget,
    ) -> tacker_core::Result<InfraOutcome> {
        self.sim.scale(ctx, target).await
    }

    async fn heal(
        &self,
        ctx: &InfraContext<'_>,
        request: &HealVnfRequest,
    ) -> tacker_core::Result<InfraOutcome> {
        if self.flaw != Flaw::HealsTwice {
            return self.sim.heal(ctx, request).await;
        }
        // Pretend the record says what the VIM has now, so an earlier replacement is
        // never noticed.
        let mut current = ctx.vnf_instance.clone();
        let deployment = self.sim.deployment(ctx.tenant, &ctx.vnf_instance.id);
        if let (Some(info), Some(deployment)) = (current.instantiated_vnf_info.as_mut(), deployment)
        {
            for vnfc in &mut info.vnfc_resource_info {
                if let Some(server) = deployment.servers.iter().find(|s| s.vnfc_id == vnfc.id) {
                    vnfc.compute_resource
                        .resource_id
                        .clone_from(&server.resource_id);
                }
            }
        }
        let ctx = ctx.with_vnf_instance(&current);
        self.sim.heal(&ctx, request).await
    }

    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> tacker_core::Result<InfraOutcome> {
        self.sim.change_flavour(ctx, request).await
    }

    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> tacker_core::Result<InfraOutcome> {
        self.sim.change_ext_conn(ctx, request).await
    }

    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        new_package: &dyn PackageFiles,
    ) -> tacker_core::Result<InfraOutcome> {
        self.sim
            .change_vnfpkg(ctx, request, new_vnfd, new_package)
            .await
    }

    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> tacker_core::Result<InfraOutcome> {
        if self.flaw == Flaw::ClaimsOperateWithoutIt {
            // What the trait's default answers.
            return Err(not_supported(self.vim_type(), InfraOperation::Operate));
        }
        self.sim.operate(ctx, request).await
    }

    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> tacker_core::Result<InfraOutcome> {
        self.sim.rollback(ctx, rollback).await
    }
}

/// A check of the suite, for [`failure_of`].
#[derive(Debug, Clone, Copy)]
enum Check {
    Lifecycle,
    ExtVirtualLinks,
    Agreement,
}

async fn suite_failure(flaw: Flaw) -> String {
    failure_of(flaw, Check::Lifecycle).await
}

/// The panic message of `check` on the simulated VIM with `flaw`.
async fn failure_of(flaw: Flaw, check: Check) -> String {
    let sim = SimInfraDriver::new();
    let fixture = InfraFixture::for_sim(&sim);
    let flawed = Flawed { sim, flaw };
    let result = tokio::spawn(async move {
        match check {
            Check::Lifecycle => suite::lifecycle(&flawed, &fixture).await,
            Check::ExtVirtualLinks => {
                suite::instantiate_connects_the_external_virtual_links(&flawed, &fixture).await;
            }
            Check::Agreement => suite::capabilities_agree_with_the_methods(&flawed, &fixture).await,
        }
    })
    .await;
    let error = result.expect_err("the suite must fail a flawed driver");
    let payload = error.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[tokio::test]
async fn suite_catches_a_driver_that_duplicates_on_retry() {
    let message = suite_failure(Flaw::DuplicatesOnRetry).await;
    assert!(message.contains("same outcome"), "{message}");
}

#[tokio::test]
async fn suite_catches_a_driver_that_leaks_on_terminate() {
    let message = suite_failure(Flaw::LeaksOnTerminate).await;
    assert!(message.contains("still holds resources"), "{message}");
}

#[tokio::test]
async fn suite_catches_a_driver_that_forgets_storage() {
    let message = suite_failure(Flaw::ForgetsStorage).await;
    assert!(
        message.contains("must have the storage its VDU"),
        "{message}"
    );
}

#[tokio::test]
async fn suite_catches_a_driver_that_heals_twice() {
    let message = suite_failure(Flaw::HealsTwice).await;
    assert!(message.contains("heal of one VNFC"), "{message}");
}

#[tokio::test]
async fn suite_catches_a_driver_that_ignores_external_virtual_links() {
    for check in [Check::Lifecycle, Check::ExtVirtualLinks] {
        let message = failure_of(Flaw::IgnoresExtVirtualLinks, check).await;
        assert!(
            message.contains("external virtual link ext-vl-1 of the request is missing"),
            "{check:?}: {message}"
        );
    }
}

#[tokio::test]
async fn suite_catches_capabilities_that_disagree_with_the_methods() {
    let message = failure_of(Flaw::ClaimsOperateWithoutIt, Check::Agreement).await;
    assert!(
        message.contains("declares operate among its capabilities"),
        "{message}"
    );
    let message = failure_of(Flaw::HidesOperate, Check::Agreement).await;
    assert!(
        message.contains("operate is not among the driver's capabilities"),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrapper_that_forwards_everything_passes_the_suite() {
    // What the checks above catch is the flaw, not the wrapper.
    let sim = SimInfraDriver::new();
    let fixture = InfraFixture::for_sim(&sim);
    let wrapper = Flawed {
        sim,
        flaw: Flaw::None,
    };
    suite::run_all(&wrapper, &fixture).await;
}

// ---------------------------------------------------------------------------------------
// ETSI conformance of what the simulator reports
// ---------------------------------------------------------------------------------------

fn assert_etsi(etsi: &harness::Etsi, def: &str, value: &serde_json::Value) {
    if let Err(report) = etsi.validate(harness::SOL003_LCM, def, value) {
        panic!("the simulator's {def} is not ETSI SOL003 data: {report}\n{value:#}");
    }
}

fn assert_changes_are_etsi(etsi: &harness::Etsi, outcome: &InfraOutcome) {
    let changes = serde_json::to_value(&outcome.resource_changes).expect("json");
    for (key, def) in [
        ("affectedVnfcs", "AffectedVnfc"),
        ("affectedVirtualLinks", "AffectedVirtualLink"),
        ("affectedExtLinkPorts", "AffectedExtLinkPort"),
        ("affectedVirtualStorages", "AffectedVirtualStorage"),
    ] {
        for change in changes[key].as_array().into_iter().flatten() {
            assert_etsi(etsi, def, change);
        }
    }
    for link in &outcome.changed_ext_connectivity {
        assert_etsi(
            etsi,
            "ExtVirtualLinkInfo",
            &serde_json::to_value(link).expect("json"),
        );
    }
}

#[tokio::test]
async fn instances_and_resource_changes_are_etsi_data() {
    let Some(etsi) = harness::etsi() else {
        return;
    };
    let sim = SimInfraDriver::new();
    let mut vnf = Vnf::new(&sim).at_level("instantiation_level_2");
    let request = vnf.request();
    let outcome = vnf.instantiate().await.expect("instantiate");
    assert_changes_are_etsi(etsi, &outcome);
    vnf.record(AppliedOperation::Instantiate(&request), &outcome);
    let instance = serde_json::to_value(&vnf.record).expect("json");
    assert_etsi(etsi, "VnfInstance", &instance);
    if let Err(report) = etsi.validate(harness::SOL002_LCM, "VnfInstance", &instance) {
        panic!("the recorded instance is not ETSI SOL002 data: {report}");
    }

    let out = vnf.scale_to(2).await;
    assert_changes_are_etsi(etsi, &out);
    let heal = HealVnfRequest::default();
    let healed = vnf.sim.heal(&vnf.ctx(), &heal).await.expect("heal");
    assert_changes_are_etsi(etsi, &healed);
    vnf.record(AppliedOperation::Heal, &healed);

    let mut moved = sim::sample_ext_virtual_links().remove(0);
    moved.id = "ext-vl-2".into();
    let change = ChangeExtVnfConnectivityRequest {
        ext_virtual_links: vec![moved],
        ..Default::default()
    };
    let changed = vnf
        .sim
        .change_ext_conn(&vnf.ctx(), &change)
        .await
        .expect("change ext conn");
    assert!(!changed.resource_changes.affected_ext_link_ports.is_empty());
    assert_changes_are_etsi(etsi, &changed);
    vnf.record(AppliedOperation::ChangeExtConn, &changed);
    assert_etsi(
        etsi,
        "VnfInstance",
        &serde_json::to_value(&vnf.record).expect("json"),
    );

    let terminated = vnf.terminate().await.expect("terminate");
    assert_changes_are_etsi(etsi, &terminated);
}
