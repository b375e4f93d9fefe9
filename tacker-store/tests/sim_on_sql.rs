//! The simulated VIM on the SQL store (`SimInfraDriver::with_store`): an engine on an
//! SQLite file restarted between instantiate and scale, heal and terminate carries on;
//! two engines on one PostgreSQL database, each with its own simulated VIM driver,
//! operate the same instance in turn.
//!
//! PostgreSQL is selected by `TACKER_TEST_POSTGRES`; without it that test says
//! "skipped", except under `CI=true`.

#[path = "../../tacker-core/tests/support/mod.rs"]
mod support;

mod common;

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use tacker_core::TenantId;
use tacker_core::lcm::VnfLcm;
use tacker_core::model::{
    HealVnfRequest, InstantiationState, LcmOperationStateType as State, ScaleType, VnfInstance,
    VnfLcmOpOcc,
};
use tacker_core::sim::SimInfraDriver;
use tacker_core::store::{ListQuery, RecordKind, Store};
use tacker_store::SqlStore;

const WAIT: Duration = Duration::from_secs(30);

/// One VNFM process: a store connection, its simulated VIM and its engine.
struct Process {
    store: SqlStore,
    sim: SimInfraDriver,
    lcm: VnfLcm,
}

impl Process {
    fn new(store: SqlStore, files: Arc<dyn ObjectStore>, name: &str) -> Self {
        let sim = SimInfraDriver::with_store(Arc::new(store.clone()));
        let mgmt = Arc::new(common::CountingMgmt::default());
        let lcm = common::engine(
            &store,
            files,
            &sim,
            mgmt,
            common::config(name, Duration::from_secs(3)),
        );
        Self { store, sim, lcm }
    }

    /// Submits an operation through this process, runs the executor only here, and
    /// asserts that it completes.
    async fn run(&self, tenant: &TenantId, accepted: tacker_core::Result<VnfLcmOpOcc>) {
        let op = accepted.expect("accepted");
        let executor = self.lcm.start();
        let op = self
            .lcm
            .wait_for(tenant, &op.id, &[], WAIT)
            .await
            .expect("the operation ends in time");
        executor.shutdown().await;
        assert_eq!(
            op.operation_state,
            State::Completed,
            "{:?} (the simulated VIM must know the instance): {:?}",
            op.operation,
            op.error
        );
    }

    async fn instance(&self, tenant: &TenantId, id: &str) -> VnfInstance {
        self.lcm.instance(tenant, id).await.expect("instance")
    }

    /// Asserts that the VIM, as this process reads it from the store, holds the
    /// recorded servers.
    async fn assert_vim_matches(&self, tenant: &TenantId, id: &str) {
        let instance = self.instance(tenant, id).await;
        let mut in_vim: Vec<String> = self
            .sim
            .load_deployment(tenant, id)
            .await
            .expect("read the simulated VIM")
            .map(|d| d.servers.into_iter().map(|s| s.resource_id).collect())
            .unwrap_or_default();
        in_vim.sort();
        assert_eq!(common::recorded_servers(&instance), in_vim);
    }
}

async fn instantiate(p: &Process, tenant: &TenantId) -> String {
    let id = p
        .lcm
        .create_vnf(tenant, common::create_request("durable"))
        .await
        .expect("create")
        .id;
    p.run(
        tenant,
        p.lcm
            .instantiate(tenant, &id, common::instantiate_request())
            .await,
    )
    .await;
    p.assert_vim_matches(tenant, &id).await;
    id
}

async fn scale_out(p: &Process, tenant: &TenantId, id: &str) {
    p.run(
        tenant,
        p.lcm
            .scale(tenant, id, common::scale(ScaleType::ScaleOut, 1))
            .await,
    )
    .await;
    p.assert_vim_matches(tenant, id).await;
}

async fn heal(p: &Process, tenant: &TenantId, id: &str) {
    let before = p.instance(tenant, id).await;
    let victim = before
        .instantiated_vnf_info
        .as_ref()
        .and_then(|i| i.vnfc_resource_info.last())
        .expect("a VNFC")
        .clone();
    let request = HealVnfRequest {
        vnfc_instance_id: vec![victim.id.clone()],
        cause: Some("durable".into()),
        ..HealVnfRequest::default()
    };
    p.run(tenant, p.lcm.heal(tenant, id, request).await).await;
    p.assert_vim_matches(tenant, id).await;
    let after = p.instance(tenant, id).await;
    let healed = after
        .instantiated_vnf_info
        .as_ref()
        .and_then(|i| i.vnfc_resource_info.iter().find(|v| v.id == victim.id))
        .expect("the healed VNFC keeps its id");
    assert_ne!(
        healed.compute_resource.resource_id,
        victim.compute_resource.resource_id
    );
}

async fn terminate(p: &Process, tenant: &TenantId, id: &str) {
    p.run(
        tenant,
        p.lcm
            .terminate(tenant, id, common::terminate_request())
            .await,
    )
    .await;
    assert_eq!(
        p.instance(tenant, id).await.instantiation_state,
        InstantiationState::NotInstantiated
    );
    let left = p
        .store
        .list(tenant, RecordKind::DriverState, &ListQuery::all())
        .await
        .expect("list driver states");
    assert!(left.items.is_empty(), "terminate leaves nothing: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_restarted_on_sqlite_operates_what_it_instantiated() {
    let (url, path) = common::sqlite_file("sim-restart");
    let tenant = TenantId::default();
    let files: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = SqlStore::connect(&url).await.expect("connect");
    common::onboard(&common::package_manager(&store, files.clone()), &tenant).await;

    let first = Process::new(store, files.clone(), "first");
    let id = instantiate(&first, &tenant).await;
    drop(first);

    // Each step by a new process on the same file.
    let steps = ["scale", "heal", "terminate"];
    for (n, step) in steps.into_iter().enumerate() {
        let store = SqlStore::connect(&url).await.expect("reconnect");
        let p = Process::new(store, files.clone(), &format!("restart-{n}"));
        match step {
            "scale" => scale_out(&p, &tenant, &id).await,
            "heal" => heal(&p, &tenant, &id).await,
            _ => terminate(&p, &tenant, &id).await,
        }
    }
    common::remove_sqlite(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgresql_operate_the_same_instance() {
    let Some(database) = tacker_store::testkit::TestDatabase::create().await else {
        return;
    };
    let tenant = TenantId::default();
    let files: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let connect = || SqlStore::connect(&database.url);
    let a = Process::new(connect().await.expect("connect A"), files.clone(), "a");
    let b = Process::new(connect().await.expect("connect B"), files.clone(), "b");
    common::onboard(&common::package_manager(&a.store, files.clone()), &tenant).await;

    let id = instantiate(&a, &tenant).await;
    scale_out(&b, &tenant, &id).await;
    // A's own copy is stale now: it must work from the store.
    heal(&a, &tenant, &id).await;
    scale_out(&a, &tenant, &id).await;
    heal(&b, &tenant, &id).await;
    terminate(&b, &tenant, &id).await;
    assert_eq!(
        a.sim
            .load_deployment(&tenant, &id)
            .await
            .expect("read the simulated VIM"),
        None
    );
    drop((a, b));
    database.drop_database().await;
}
