//! The LCM engine on the memory store, the package manager and the simulated VIM.

mod support;

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::memory::InMemory;
use tacker_core::grant::GrantProvider;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    CancelModeType, CreateVnfPkgInfoRequest, CreateVnfRequest, Grant, GrantRequest, HealVnfRequest,
    InstantiateVnfRequest, InstantiationState, LcmOperationStateType as State, LcmOperationType,
    OperateVnfRequest, PackageUsageStateType, ScaleType, ScaleVnfRequest, ScaleVnfToLevelRequest,
    TerminateVnfRequest, TerminationType, VnfInfoModificationRequest, VnfLcmOpOcc,
    VnfOperationalStateType,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SimInfraDriver, SimOperation, sample_vim};
use tacker_core::store::{MemoryStore, Store};
use tacker_core::{Error, TenantId};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct RecordingMgmt {
    calls: Mutex<Vec<String>>,
    fail: Mutex<Option<String>>,
}

#[async_trait]
impl MgmtDriver for RecordingMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> tacker_core::Result<MgmtOutcome> {
        let name = ctx.hook.sol001_name();
        self.calls.lock().expect("calls").push(name.clone());
        if self.fail.lock().expect("fail").as_deref() == Some(name.as_str()) {
            return Err(Error::driver(
                "mgmt_driver",
                false,
                "the cluster installer exited with status 2",
            ));
        }
        assert!(
            ctx.package.paths().iter().any(|p| p == "Scripts/mgmt.py"),
            "the hook sees the package"
        );
        Ok(MgmtOutcome::new().with_metadata_entry("hooked", name))
    }
}

#[derive(Debug)]
struct RefusingGrants;

/// An NFVO that cannot answer the first `failures` requests (as when it is down), then
/// approves like the local grant.
#[derive(Debug)]
struct UnreachableNfvo {
    failures: Mutex<u32>,
    calls: Mutex<u32>,
}

#[async_trait]
impl GrantProvider for UnreachableNfvo {
    async fn grant(&self, tenant: &TenantId, request: &GrantRequest) -> tacker_core::Result<Grant> {
        *self.calls.lock().expect("calls") += 1;
        let down = {
            let mut failures = self.failures.lock().expect("failures");
            let down = *failures > 0;
            *failures = failures.saturating_sub(1);
            down
        };
        if down {
            return Err(Error::driver(
                "nfvo",
                true,
                "POST http://127.0.0.1:1/grant/v1/grants: cannot connect",
            ));
        }
        tacker_core::lcm::LocalGrantProvider::default()
            .grant(tenant, request)
            .await
    }
}

#[async_trait]
impl GrantProvider for RefusingGrants {
    async fn grant(
        &self,
        _tenant: &TenantId,
        request: &GrantRequest,
    ) -> tacker_core::Result<Grant> {
        Err(Error::Forbidden(format!(
            "no capacity for {} new resources",
            request.add_resources.len()
        )))
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    sim: SimInfraDriver,
    mgmt: Arc<RecordingMgmt>,
    packages: VnfPackageManager,
    tenant: TenantId,
}

async fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
        .build()
        .expect("package manager");
    let tenant = TenantId::default();
    let pkg = packages
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create package");
    packages
        .upload_content(&tenant, &pkg.id, support::package_zip(support::TOP))
        .await
        .expect("onboard");
    Fixture {
        store,
        sim: SimInfraDriver::default(),
        mgmt: Arc::new(RecordingMgmt::default()),
        packages,
        tenant,
    }
}

fn config() -> LcmConfig {
    LcmConfig {
        lease_ttl: Duration::from_secs(3),
        poll_interval: Duration::from_millis(20),
        ..LcmConfig::default()
    }
}

impl Fixture {
    fn engine_with(&self, config: LcmConfig, grants: Option<Arc<dyn GrantProvider>>) -> VnfLcm {
        let mut builder = VnfLcm::builder()
            .store(self.store.clone())
            .packages(Arc::new(self.packages.clone()))
            .infra_driver(Arc::new(self.sim.clone()))
            .mgmt_driver(self.mgmt.clone())
            .default_vim("vim1", sample_vim())
            .config(config);
        if let Some(grants) = grants {
            builder = builder.grant_provider(grants);
        }
        builder.build().expect("engine")
    }

    fn engine(&self) -> VnfLcm {
        self.engine_with(config(), None)
    }

    async fn new_instance(&self, lcm: &VnfLcm) -> String {
        let request = CreateVnfRequest {
            vnfd_id: support::VNFD_ID.into(),
            vnf_instance_name: Some("vnf".into()),
            ..CreateVnfRequest::default()
        };
        lcm.create_vnf(&self.tenant, request)
            .await
            .expect("create VNF")
            .id
    }
}

fn instantiate_request() -> InstantiateVnfRequest {
    InstantiateVnfRequest {
        flavour_id: "simple".into(),
        ..InstantiateVnfRequest::default()
    }
}

fn scale(kind: ScaleType, steps: u32) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type: kind,
        aspect_id: "worker".into(),
        number_of_steps: Some(steps),
        additional_params: Default::default(),
    }
}

async fn run(lcm: &VnfLcm, tenant: &TenantId, op: tacker_core::Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
    let op = op.expect("accepted");
    assert_eq!(op.operation_state, State::Starting);
    lcm.wait_for(tenant, &op.id, &[], WAIT)
        .await
        .expect("op ends")
}

fn vnfc_count(instance: &tacker_core::model::VnfInstance) -> usize {
    instance
        .instantiated_vnf_info
        .as_ref()
        .map_or(0, |i| i.vnfc_resource_info.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_goes_through_its_whole_life() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.new_instance(&lcm).await;
    let pkg = f
        .packages
        .list(&f.tenant, &Default::default())
        .await
        .expect("packages")
        .items
        .remove(0);
    assert_eq!(pkg.usage_state, PackageUsageStateType::InUse);

    let op = run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert_eq!(op.operation, LcmOperationType::Instantiate);
    assert!(op.grant_id.is_some());
    let changes = op.resource_changes.clone().expect("resource changes");
    assert_eq!(changes.affected_vnfcs.len(), 1);
    let instance = lcm.instance(&f.tenant, &id).await.expect("instance");
    assert_eq!(
        instance.instantiation_state,
        InstantiationState::Instantiated
    );
    let info = instance.instantiated_vnf_info.clone().expect("info");
    assert_eq!(info.flavour_id, "simple");
    assert_eq!(info.scale_status[0].scale_level, 0);
    assert_eq!(info.max_scale_levels[0].scale_level, 2);
    assert_eq!(info.vnfc_info.len(), 1);
    assert_eq!(instance.metadata["hooked"], "instantiate_end");
    assert_eq!(
        f.mgmt.calls.lock().expect("calls").clone(),
        vec!["instantiate_end".to_string()]
    );
    assert!(instance.vim_connection_info.contains_key("vim1"));

    let op = run(
        &lcm,
        &f.tenant,
        lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleOut, 2))
            .await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let instance = lcm.instance(&f.tenant, &id).await.expect("instance");
    assert_eq!(vnfc_count(&instance), 3);
    assert_eq!(
        instance
            .instantiated_vnf_info
            .as_ref()
            .map(|i| i.scale_status[0].scale_level),
        Some(2)
    );

    let op = run(
        &lcm,
        &f.tenant,
        lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleIn, 1))
            .await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed);
    let instance = lcm.instance(&f.tenant, &id).await.expect("instance");
    assert_eq!(vnfc_count(&instance), 2);

    let victim = instance
        .instantiated_vnf_info
        .as_ref()
        .expect("info")
        .vnfc_resource_info[0]
        .clone();
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![victim.id.clone()],
        cause: Some("unresponsive".into()),
        ..HealVnfRequest::default()
    };
    let op = run(&lcm, &f.tenant, lcm.heal(&f.tenant, &id, heal).await).await;
    assert_eq!(op.operation_state, State::Completed);
    let healed = lcm.instance(&f.tenant, &id).await.expect("instance");
    let after = healed
        .instantiated_vnf_info
        .as_ref()
        .expect("info")
        .vnfc_resource_info
        .iter()
        .find(|v| v.id == victim.id)
        .cloned()
        .expect("same VNFC id");
    assert_ne!(
        after.compute_resource.resource_id,
        victim.compute_resource.resource_id
    );

    let stop = OperateVnfRequest {
        change_state_to: VnfOperationalStateType::Stopped,
        stop_type: None,
        graceful_stop_timeout: None,
        additional_params: Default::default(),
    };
    let op = run(
        &lcm,
        &f.tenant,
        lcm.operate(&f.tenant, &id, stop.clone()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed);
    assert!(
        matches!(
            lcm.operate(&f.tenant, &id, stop).await,
            Err(Error::Conflict(_))
        ),
        "already STOPPED"
    );
    let start = OperateVnfRequest {
        change_state_to: VnfOperationalStateType::Started,
        stop_type: None,
        graceful_stop_timeout: None,
        additional_params: Default::default(),
    };
    let op = run(&lcm, &f.tenant, lcm.operate(&f.tenant, &id, start).await).await;
    assert_eq!(op.operation_state, State::Completed);

    let level = ScaleVnfToLevelRequest {
        instantiation_level_id: Some("large".into()),
        ..ScaleVnfToLevelRequest::default()
    };
    let op = run(
        &lcm,
        &f.tenant,
        lcm.scale_to_level(&f.tenant, &id, level).await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed);
    assert_eq!(
        vnfc_count(&lcm.instance(&f.tenant, &id).await.expect("instance")),
        3
    );

    let modify = VnfInfoModificationRequest {
        vnf_instance_name: Some("renamed".into()),
        metadata: Some(
            serde_json::json!({"owner": "ops", "hooked": null})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        ..VnfInfoModificationRequest::default()
    };
    let op = run(
        &lcm,
        &f.tenant,
        lcm.modify_info(&f.tenant, &id, modify).await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed);
    assert_eq!(
        op.changed_info
            .as_ref()
            .and_then(|c| c.vnf_instance_name.as_deref()),
        Some("renamed")
    );
    let instance = lcm.instance(&f.tenant, &id).await.expect("instance");
    assert_eq!(instance.vnf_instance_name.as_deref(), Some("renamed"));
    assert_eq!(instance.metadata["owner"], "ops");
    assert!(
        !instance.metadata.contains_key("hooked"),
        "merge patch removes null keys"
    );

    let terminate = TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: Default::default(),
    };
    assert!(
        matches!(
            lcm.delete_vnf(&f.tenant, &id).await,
            Err(Error::WrongInstantiationState { .. })
        ),
        "INSTANTIATED"
    );
    let op = run(
        &lcm,
        &f.tenant,
        lcm.terminate(&f.tenant, &id, terminate).await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed);
    let instance = lcm.instance(&f.tenant, &id).await.expect("instance");
    assert_eq!(
        instance.instantiation_state,
        InstantiationState::NotInstantiated
    );
    assert!(
        f.sim.deployment(&f.tenant, &id).is_none(),
        "nothing left in the VIM"
    );
    lcm.delete_vnf(&f.tenant, &id).await.expect("delete");
    let pkg = f.packages.get(&f.tenant, &pkg.id).await.expect("package");
    assert_eq!(pkg.usage_state, PackageUsageStateType::NotInUse);
    let ops = lcm
        .op_occs(&f.tenant, &Default::default())
        .await
        .expect("ops");
    assert_eq!(ops.items.len(), 9);
    executor.shutdown().await;
}

#[tokio::test]
async fn requests_are_validated_before_anything_is_stored() {
    let f = fixture().await;
    let lcm = f.engine();
    let id = f.new_instance(&lcm).await;
    let unknown_flavour = InstantiateVnfRequest {
        flavour_id: "huge".into(),
        ..InstantiateVnfRequest::default()
    };
    assert!(
        matches!(lcm.instantiate(&f.tenant, &id, unknown_flavour).await, Err(Error::Unprocessable(m)) if m.contains("huge"))
    );
    let unknown_level = InstantiateVnfRequest {
        instantiation_level_id: Some("medium".into()),
        ..instantiate_request()
    };
    assert!(
        matches!(lcm.instantiate(&f.tenant, &id, unknown_level).await, Err(Error::Unprocessable(m)) if m.contains("medium"))
    );
    assert!(
        matches!(
            lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleOut, 1))
                .await,
            Err(Error::WrongInstantiationState { .. })
        ),
        "NOT_INSTANTIATED"
    );
    assert!(matches!(
        lcm.create_vnf(
            &f.tenant,
            CreateVnfRequest {
                vnfd_id: "nope".into(),
                ..CreateVnfRequest::default()
            }
        )
        .await,
        Err(Error::Unprocessable(_))
    ));
    assert!(matches!(
        lcm.instance(&f.tenant, "nope").await,
        Err(Error::NotFound { .. })
    ));
    let internal_cp = InstantiateVnfRequest {
        ext_virtual_links: vec![tacker_core::model::ExtVirtualLinkData {
            id: "ext-net".into(),
            vim_connection_id: None,
            resource_provider_id: None,
            resource_id: "net-1".into(),
            ext_cps: vec![tacker_core::model::VnfExtCpData {
                cpd_id: "CP2".into(),
                cp_config: Default::default(),
            }],
            ext_link_ports: Vec::new(),
        }],
        ..instantiate_request()
    };
    assert!(
        matches!(lcm.instantiate(&f.tenant, &id, internal_cp).await, Err(Error::Unprocessable(m)) if m.contains("CP2")),
        "CP2 is on an internal virtual link, not an external CP"
    );
    assert!(
        lcm.op_occs(&f.tenant, &Default::default())
            .await
            .expect("ops")
            .items
            .is_empty(),
        "nothing stored"
    );

    let executor = lcm.start();
    let op = run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::Completed);
    assert!(matches!(
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
        Err(Error::WrongInstantiationState { .. })
    ));
    assert!(
        matches!(lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleOut, 3)).await, Err(Error::Unprocessable(m)) if m.contains("0..2"))
    );
    assert!(matches!(
        lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleIn, 1))
            .await,
        Err(Error::Unprocessable(_))
    ));
    let unknown_aspect = ScaleVnfRequest {
        aspect_id: "db".into(),
        ..scale(ScaleType::ScaleOut, 1)
    };
    assert!(
        matches!(lcm.scale(&f.tenant, &id, unknown_aspect).await, Err(Error::Unprocessable(m)) if m.contains("db"))
    );
    let both = ScaleVnfToLevelRequest {
        instantiation_level_id: Some("large".into()),
        scale_info: vec![tacker_core::model::ScaleInfo {
            aspect_id: "worker".into(),
            vnfd_id: None,
            scale_level: 1,
        }],
        ..ScaleVnfToLevelRequest::default()
    };
    assert!(matches!(
        lcm.scale_to_level(&f.tenant, &id, both).await,
        Err(Error::InvalidRequest(_))
    ));
    let ghost = HealVnfRequest {
        vnfc_instance_id: vec!["ghost".into()],
        ..HealVnfRequest::default()
    };
    assert!(
        matches!(lcm.heal(&f.tenant, &id, ghost).await, Err(Error::Unprocessable(m)) if m.contains("ghost"))
    );
    let same = tacker_core::model::ChangeCurrentVnfPkgRequest {
        vnfd_id: support::VNFD_ID.into(),
        ..Default::default()
    };
    assert!(matches!(
        lcm.change_vnfpkg(&f.tenant, &id, same).await,
        Err(Error::Conflict(_))
    ));
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_a_hundred_concurrent_requests_on_one_instance_exactly_one_is_accepted() {
    let f = fixture().await;
    let lcm = f.engine();
    let id = f.new_instance(&lcm).await;
    let attempts = (0..100).map(|_| {
        let lcm = lcm.clone();
        let tenant = f.tenant.clone();
        let id = id.clone();
        tokio::spawn(async move { lcm.instantiate(&tenant, &id, instantiate_request()).await })
    });
    let mut accepted = 0;
    let mut conflicts = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(_) => accepted += 1,
            Err(error) if error.is_conflict() => conflicts += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!((accepted, conflicts), (1, 99));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_is_retried_from_where_it_failed() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.new_instance(&lcm).await;
    f.sim.fail_once(SimOperation::Instantiate);
    let op = run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let error = op.error.clone().expect("error");
    assert!(error.detail.contains("injected fault"), "{}", error.detail);
    assert!(op.links.retry.is_some() && op.links.rollback.is_some() && op.links.fail.is_some());
    assert!(
        matches!(
            lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleOut, 1))
                .await,
            Err(ref error) if error.is_conflict()
        ),
        "FAILED_TEMP blocks other operations"
    );
    let retried = lcm.retry(&f.tenant, &op.id).await.expect("retry");
    assert_eq!(retried.operation_state, State::Processing);
    let op = lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert!(op.error.is_none());
    assert_eq!(
        lcm.instance(&f.tenant, &id)
            .await
            .expect("instance")
            .instantiation_state,
        InstantiationState::Instantiated
    );
    assert!(
        matches!(lcm.retry(&f.tenant, &op.id).await, Err(Error::Conflict(_))),
        "COMPLETED is final"
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_undoes_a_failed_scale_out_and_fail_ends_an_operation() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.new_instance(&lcm).await;
    run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    let before = lcm.instance(&f.tenant, &id).await.expect("instance");
    f.sim.fail_after_partial(SimOperation::Scale);
    let op = run(
        &lcm,
        &f.tenant,
        lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleOut, 2))
            .await,
    )
    .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let rolled = lcm.rollback(&f.tenant, &op.id).await.expect("rollback");
    assert_eq!(rolled.operation_state, State::RollingBack);
    let op = lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(op.operation_state, State::RolledBack, "{:?}", op.error);
    assert_eq!(
        lcm.instance(&f.tenant, &id).await.expect("instance"),
        before,
        "the instance is as before"
    );
    let ids = f.sim.resource_ids(&f.tenant, &id);
    assert_eq!(
        f.sim.deployment(&f.tenant, &id).map(|d| d.servers.len()),
        Some(1),
        "the partial scale-out is undone: {ids:?}"
    );

    f.sim.fail_once(SimOperation::Heal);
    let op = run(
        &lcm,
        &f.tenant,
        lcm.heal(&f.tenant, &id, HealVnfRequest::default()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    assert!(
        matches!(lcm.rollback(&f.tenant, &op.id).await, Err(Error::Conflict(m)) if m.contains("cannot roll back"))
    );
    let failed = lcm.fail(&f.tenant, &op.id).await.expect("fail");
    assert_eq!(failed.operation_state, State::Failed);
    assert!(
        matches!(lcm.fail(&f.tenant, &op.id).await, Err(Error::Conflict(_))),
        "FAILED is final"
    );
    let op = run(
        &lcm,
        &f.tenant,
        lcm.scale(&f.tenant, &id, scale(ScaleType::ScaleOut, 1))
            .await,
    )
    .await;
    assert_eq!(
        op.operation_state,
        State::Completed,
        "the instance is free again"
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_nfvo_fails_the_operation_until_a_retry_gets_the_grant() {
    let f = fixture().await;
    let nfvo = Arc::new(UnreachableNfvo {
        failures: Mutex::new(2),
        calls: Mutex::new(0),
    });
    let lcm = f.engine_with(config(), Some(nfvo.clone()));
    let executor = lcm.start();
    let id = f.new_instance(&lcm).await;
    let op = run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let error = op.error.expect("reason");
    assert!(
        error.detail.contains("the grant could not be obtained yet")
            && error.detail.contains("cannot connect"),
        "{}",
        error.detail
    );
    assert_eq!(op.grant_id, None);
    assert_eq!(f.sim.calls(SimOperation::Instantiate), 0);

    // The NFVO is still down: the retry fails the same way.
    let retried = |op_id: String| {
        let lcm = lcm.clone();
        let tenant = f.tenant.clone();
        async move {
            let op = lcm.retry(&tenant, &op_id).await.expect("retry accepted");
            assert_eq!(op.operation_state, State::Processing);
            lcm.wait_for(&tenant, &op.id, &[], WAIT)
                .await
                .expect("op ends")
        }
    };
    let op = retried(op.id.clone()).await;
    assert_eq!(op.operation_state, State::FailedTemp);
    assert_eq!(*nfvo.calls.lock().expect("calls"), 2);

    // It is back: the retry gets the grant and completes.
    let op = retried(op.id.clone()).await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert!(op.grant_id.is_some());
    assert_eq!(*nfvo.calls.lock().expect("calls"), 3);
    assert_eq!(f.sim.calls(SimOperation::Instantiate), 1);
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_grant_rolls_the_operation_back_with_the_reason() {
    let f = fixture().await;
    let lcm = f.engine_with(config(), Some(Arc::new(RefusingGrants)));
    let executor = lcm.start();
    let id = f.new_instance(&lcm).await;
    let op = run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::RolledBack);
    let error = op.error.expect("reason");
    assert_eq!(error.status, 403);
    assert!(error.detail.contains("no capacity"), "{}", error.detail);
    assert_eq!(
        f.sim.calls(SimOperation::Instantiate),
        0,
        "the VIM was never touched"
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_fails_the_operation_with_its_message() {
    let f = fixture().await;
    let lcm = f.engine();
    let executor = lcm.start();
    let id = f.new_instance(&lcm).await;
    *f.mgmt.fail.lock().expect("fail") = Some("instantiate_end".into());
    let op = run(
        &lcm,
        &f.tenant,
        lcm.instantiate(&f.tenant, &id, instantiate_request()).await,
    )
    .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    assert!(
        op.error
            .as_ref()
            .is_some_and(|e| e.detail.contains("exited with status 2")),
        "{:?}",
        op.error
    );
    *f.mgmt.fail.lock().expect("fail") = None;
    let calls_before = f.sim.calls(SimOperation::Instantiate);
    lcm.retry(&f.tenant, &op.id).await.expect("retry");
    let op = lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(op.operation_state, State::Completed);
    assert_eq!(
        f.sim.calls(SimOperation::Instantiate),
        calls_before,
        "the finished infra step is not run again"
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_starting_and_processing_operations() {
    let f = fixture().await;
    let lcm = f.engine();
    let id = f.new_instance(&lcm).await;
    let op = lcm
        .instantiate(&f.tenant, &id, instantiate_request())
        .await
        .expect("accepted");
    let cancelled = lcm
        .cancel(&f.tenant, &op.id, CancelModeType::Graceful)
        .await
        .expect("cancel");
    assert!(cancelled.is_cancel_pending);
    assert!(matches!(
        lcm.cancel(&f.tenant, &op.id, CancelModeType::Graceful)
            .await,
        Err(Error::Conflict(_))
    ));
    let executor = lcm.start();
    let op = lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(
        op.operation_state,
        State::RolledBack,
        "cancelled while STARTING"
    );
    assert!(!op.is_cancel_pending);
    assert_eq!(op.cancel_mode, Some(CancelModeType::Graceful));

    f.sim
        .set_latency(SimOperation::Instantiate, Duration::from_secs(30));
    let op = lcm
        .instantiate(&f.tenant, &id, instantiate_request())
        .await
        .expect("accepted");
    lcm.wait_for(&f.tenant, &op.id, &[State::Processing], WAIT)
        .await
        .expect("processing");
    let started = Instant::now();
    lcm.cancel(&f.tenant, &op.id, CancelModeType::Forceful)
        .await
        .expect("cancel");
    let op = lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(op.operation_state, State::FailedTemp);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "FORCEFUL does not wait for the step"
    );
    assert!(
        matches!(
            lcm.cancel(&f.tenant, &op.id, CancelModeType::Forceful)
                .await,
            Err(Error::Conflict(_))
        ),
        "FAILED_TEMP cannot be cancelled"
    );
    f.sim.set_latency(SimOperation::Instantiate, Duration::ZERO);
    lcm.retry(&f.tenant, &op.id).await.expect("retry");
    assert_eq!(
        lcm.wait_for(&f.tenant, &op.id, &[], WAIT)
            .await
            .expect("ends")
            .operation_state,
        State::Completed
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_stops_mid_operation_is_taken_over_and_the_retry_completes() {
    let f = fixture().await;
    let short_lease = LcmConfig {
        lease_ttl: Duration::from_millis(600),
        executor_id: "engine-a".into(),
        ..config()
    };
    let a = f.engine_with(short_lease.clone(), None);
    let executor_a = a.start();
    let id = f.new_instance(&a).await;
    f.sim
        .set_latency(SimOperation::Instantiate, Duration::from_secs(60));
    let op = a
        .instantiate(&f.tenant, &id, instantiate_request())
        .await
        .expect("accepted");
    a.wait_for(&f.tenant, &op.id, &[State::Processing], WAIT)
        .await
        .expect("processing");
    // Stop engine A only once its VIM call is under way (the sim read its 60 s latency
    // when it counted the call), as a crash in the middle of the step would.
    let deadline = Instant::now() + WAIT;
    while f.sim.calls(SimOperation::Instantiate) == 0 {
        assert!(Instant::now() < deadline, "engine A never called the VIM");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    executor_a.abort();

    f.sim.set_latency(SimOperation::Instantiate, Duration::ZERO);
    let b = f.engine_with(
        LcmConfig {
            executor_id: "engine-b".into(),
            ..short_lease
        },
        None,
    );
    let executor_b = b.start();
    let op = b
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("taken over");
    assert_eq!(op.operation_state, State::FailedTemp);
    let detail = op
        .error
        .as_ref()
        .map(|e| e.detail.clone())
        .unwrap_or_default();
    assert!(
        detail.contains("engine-a") && detail.contains("stopped during step"),
        "{detail}"
    );
    b.retry(&f.tenant, &op.id).await.expect("retry");
    let op = b
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert_eq!(
        f.sim.deployment(&f.tenant, &id).map(|d| d.servers.len()),
        Some(1),
        "one VNFC, not two"
    );
    executor_b.shutdown().await;
}

/// In virtual time (paused tokio clock), so the check is about concurrency, not about
/// how fast this machine is: with 1 s per VIM call, 100 instantiations finishing within
/// 3 s means they ran side by side. (`benches/lcm.rs` measures real speed.)
#[tokio::test(start_paused = true)]
async fn a_hundred_instances_with_one_second_of_vim_latency_instantiate_together() {
    let f = fixture().await;
    f.sim
        .set_latency(SimOperation::Instantiate, Duration::from_secs(1));
    let lcm = f.engine();
    let executor = lcm.start();
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(f.new_instance(&lcm).await);
    }
    let started = tokio::time::Instant::now();
    let mut ops = Vec::new();
    for id in &ids {
        ops.push(
            lcm.instantiate(&f.tenant, id, instantiate_request())
                .await
                .expect("accepted")
                .id,
        );
    }
    for op in &ops {
        let op = lcm.wait_for(&f.tenant, op, &[], WAIT).await.expect("ends");
        assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "100 instantiations took {elapsed:?} of virtual time"
    );
    assert_eq!(f.sim.deployment_count(), 100);
    executor.shutdown().await;
    let _: &dyn Store = f.store.as_ref();
}

/// A store whose first read of an LCM subscription fails as a dropped connection would.
#[derive(Debug, Default)]
struct StoreWithOneBlip {
    inner: MemoryStore,
    blipped: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Store for StoreWithOneBlip {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: tacker_core::store::RecordKind,
        id: &str,
    ) -> tacker_core::Result<tacker_core::store::Versioned<tacker_core::store::Record>> {
        if kind == tacker_core::store::RecordKind::LccnSubscription
            && !self.blipped.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::store("connection reset by peer", true));
        }
        self.inner.get(tenant, kind, id).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: tacker_core::store::RecordKind,
        query: &tacker_core::store::ListQuery,
    ) -> tacker_core::Result<
        tacker_core::store::Page<tacker_core::store::Versioned<tacker_core::store::Record>>,
    > {
        self.inner.list(tenant, kind, query).await
    }

    async fn commit(
        &self,
        tenant: &TenantId,
        writes: Vec<tacker_core::store::Write>,
    ) -> tacker_core::Result<Vec<u64>> {
        self.inner.commit(tenant, writes).await
    }

    async fn claim_ops(
        &self,
        owner: &str,
        now: tacker_core::model::DateTime,
        ttl: Duration,
        max: usize,
    ) -> tacker_core::Result<Vec<tacker_core::store::ClaimedOp>> {
        self.inner.claim_ops(owner, now, ttl, max).await
    }

    async fn renew_op_lease(
        &self,
        lease: &tacker_core::store::OpLease,
        now: tacker_core::model::DateTime,
        ttl: Duration,
    ) -> tacker_core::Result<tacker_core::store::OpLease> {
        self.inner.renew_op_lease(lease, now, ttl).await
    }

    async fn release_op_lease(
        &self,
        lease: &tacker_core::store::OpLease,
    ) -> tacker_core::Result<()> {
        self.inner.release_op_lease(lease).await
    }

    async fn claim_notifications(
        &self,
        owner: &str,
        now: tacker_core::model::DateTime,
        ttl: Duration,
        max: usize,
    ) -> tacker_core::Result<Vec<tacker_core::store::OutboxEntry>> {
        self.inner.claim_notifications(owner, now, ttl, max).await
    }

    async fn ack_notification(
        &self,
        entry: &tacker_core::store::OutboxEntry,
    ) -> tacker_core::Result<()> {
        self.inner.ack_notification(entry).await
    }

    async fn retry_notification(
        &self,
        entry: &tacker_core::store::OutboxEntry,
        not_before: tacker_core::model::DateTime,
        error: &str,
    ) -> tacker_core::Result<()> {
        self.inner
            .retry_notification(entry, not_before, error)
            .await
    }

    async fn outbox_depth(&self) -> tacker_core::Result<u64> {
        self.inner.outbox_depth().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_error_while_delivering_delays_a_notification_but_never_drops_it() {
    let store = Arc::new(StoreWithOneBlip::default());
    let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
        .sealer(tacker_core::vim::Sealer::ephemeral().expect("key"))
        .build()
        .expect("package manager");
    let tenant = TenantId::default();
    let pkg = packages
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("package");
    packages
        .upload_content(&tenant, &pkg.id, support::package_zip(support::TOP))
        .await
        .expect("onboard");
    let (sink, mut received) = tacker_core::notify::ChannelNotificationSink::new();
    let sealer = tacker_core::vim::Sealer::ephemeral().expect("key");
    let lcm = VnfLcm::builder()
        .store(store.clone())
        .packages(Arc::new(packages))
        .infra_driver(Arc::new(SimInfraDriver::default()))
        .mgmt_driver(Arc::new(RecordingMgmt::default()))
        .default_vim("vim1", sample_vim())
        .sealer(sealer.clone())
        .config(config())
        .build()
        .expect("engine");
    let executor = lcm.start();
    // The one outbox sender, on its own: it needs nothing of the engine.
    let sender = tacker_core::notify::NotificationSender::new(
        store.clone(),
        Arc::new(sink),
        sealer,
        tacker_core::notify::SenderConfig::default()
            .with_backoff(Duration::from_millis(10), Duration::from_secs(60)),
        tacker_core::notify::OutboxSignal::new(),
    )
    .start();
    lcm.subscriptions()
        .subscribe(
            &tenant,
            tacker_core::model::LccnSubscriptionRequest {
                filter: None,
                callback_uri: "in-process://test".into(),
                authentication: None,
                verbosity: None,
            },
        )
        .await
        .expect("subscribe");
    let request = CreateVnfRequest {
        vnfd_id: support::VNFD_ID.into(),
        ..CreateVnfRequest::default()
    };
    let instance = lcm.create_vnf(&tenant, request).await.expect("create");
    let (_, first) = tokio::time::timeout(WAIT, received.recv())
        .await
        .expect("in time")
        .expect("delivered");
    assert_eq!(
        first["notificationType"],
        "VnfIdentifierCreationNotification"
    );
    assert_eq!(first["vnfInstanceId"], serde_json::json!(instance.id));
    executor.shutdown().await;
    sender.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_hands_the_operation_back_between_steps_and_it_resumes() {
    let f = fixture().await;
    let a = f.engine_with(
        LcmConfig {
            executor_id: "engine-a".into(),
            ..config()
        },
        None,
    );
    let executor_a = a.start();
    let id = f.new_instance(&a).await;
    f.sim
        .set_latency(SimOperation::Instantiate, Duration::from_millis(500));
    let op = a
        .instantiate(&f.tenant, &id, instantiate_request())
        .await
        .expect("accepted");
    let deadline = Instant::now() + WAIT;
    while f.sim.calls(SimOperation::Instantiate) == 0 {
        assert!(Instant::now() < deadline, "engine A never called the VIM");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The VIM call under way finishes; the instantiate_end hook that follows does not start.
    executor_a.shutdown().await;
    let handed_back = a.op_occ(&f.tenant, &op.id).await.expect("op");
    assert_eq!(handed_back.operation_state, State::Processing);
    assert!(
        f.mgmt.calls.lock().expect("calls").is_empty(),
        "no step starts after shutdown"
    );

    let b = f.engine_with(
        LcmConfig {
            executor_id: "engine-b".into(),
            ..config()
        },
        None,
    );
    let mut events = b.op_events();
    let executor_b = b.start();
    let op = b
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("resumed");
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert_eq!(
        f.sim.calls(SimOperation::Instantiate),
        1,
        "the VIM step is not repeated"
    );
    assert_eq!(
        f.mgmt.calls.lock().expect("calls").as_slice(),
        ["instantiate_end"]
    );
    let finished = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event")
        .expect("open channel");
    assert_eq!(finished.op_id, op.id);
    assert_eq!(finished.state, State::Completed);
    assert_eq!(finished.operation, LcmOperationType::Instantiate);
    executor_b.shutdown().await;
}
