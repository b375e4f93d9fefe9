//! The LCM engine on `SqlStore`: a VNF's whole life on an SQLite file and, when
//! `TACKER_TEST_POSTGRES` selects it, on PostgreSQL.

#[path = "../../tacker-core/tests/support/mod.rs"]
mod support;

mod common;

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use tacker_core::TenantId;
use tacker_core::lcm::VnfLcm;
use tacker_core::model::{
    HealVnfRequest, InstantiationState, LcmOperationStateType as State, LcmOperationType,
    ScaleType, VnfLcmOpOcc,
};
use tacker_core::sim::{SimInfraDriver, SimOperation};
use tacker_core::store::{ListQuery, Store};
use tacker_core::{Error, Result};
use tacker_store::SqlStore;

const WAIT: Duration = Duration::from_secs(30);

async fn run(lcm: &VnfLcm, tenant: &TenantId, accepted: Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
    let op = accepted.expect("accepted");
    assert_eq!(op.operation_state, State::Starting);
    let op = lcm
        .wait_for(tenant, &op.id, &[], WAIT)
        .await
        .expect("the operation ends in time");
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    op
}

async fn whole_life(store: SqlStore) {
    let tenant = TenantId::default();
    let files = Arc::new(InMemory::new());
    let packages = common::package_manager(&store, files.clone());
    common::onboard(&packages, &tenant).await;
    let sim = SimInfraDriver::default();
    let mgmt = Arc::new(common::CountingMgmt::default());
    let lcm = common::engine(
        &store,
        files,
        &sim,
        mgmt.clone(),
        common::config("sql-engine", Duration::from_secs(3)),
    );
    let executor = lcm.start();

    let created = lcm
        .create_vnf(&tenant, common::create_request("life"))
        .await
        .expect("create");
    let id = created.id.clone();
    let read = lcm.instance(&tenant, &id).await.expect("read back");
    assert_eq!(read, created, "the instance reads back as created");
    assert_eq!(
        read.instantiation_state,
        InstantiationState::NotInstantiated
    );

    let op = run(
        &lcm,
        &tenant,
        lcm.instantiate(&tenant, &id, common::instantiate_request())
            .await,
    )
    .await;
    assert_eq!(op.operation, LcmOperationType::Instantiate);
    assert!(op.grant_id.is_some());
    let instance = lcm.instance(&tenant, &id).await.expect("instance");
    assert_eq!(
        instance.instantiation_state,
        InstantiationState::Instantiated
    );
    let info = instance.instantiated_vnf_info.clone().expect("info");
    assert_eq!(info.flavour_id, "simple");
    assert_eq!(info.vnfc_resource_info.len(), 1);
    assert_eq!(info.scale_status[0].scale_level, 0);
    assert_eq!(instance.metadata["hooked"], "instantiate_end");
    assert_eq!(mgmt.hooks.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        common::recorded_servers(&instance),
        common::sim_servers(&sim, &tenant, &id)
    );

    run(
        &lcm,
        &tenant,
        lcm.scale(&tenant, &id, common::scale(ScaleType::ScaleOut, 2))
            .await,
    )
    .await;
    let instance = lcm.instance(&tenant, &id).await.expect("instance");
    let info = instance.instantiated_vnf_info.clone().expect("info");
    assert_eq!(info.vnfc_resource_info.len(), 3);
    assert_eq!(info.scale_status[0].scale_level, 2);
    assert_eq!(
        common::recorded_servers(&instance),
        common::sim_servers(&sim, &tenant, &id)
    );

    let victim = info.vnfc_resource_info[0].clone();
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![victim.id.clone()],
        cause: Some("unresponsive".into()),
        ..HealVnfRequest::default()
    };
    run(&lcm, &tenant, lcm.heal(&tenant, &id, heal).await).await;
    let healed = lcm.instance(&tenant, &id).await.expect("instance");
    let after = healed
        .instantiated_vnf_info
        .as_ref()
        .expect("info")
        .vnfc_resource_info
        .iter()
        .find(|v| v.id == victim.id)
        .cloned()
        .expect("the healed VNFC keeps its id");
    assert_ne!(
        after.compute_resource.resource_id, victim.compute_resource.resource_id,
        "a new server"
    );
    assert_eq!(
        common::recorded_servers(&healed),
        common::sim_servers(&sim, &tenant, &id)
    );

    run(
        &lcm,
        &tenant,
        lcm.terminate(&tenant, &id, common::terminate_request())
            .await,
    )
    .await;
    let instance = lcm.instance(&tenant, &id).await.expect("instance");
    assert_eq!(
        instance.instantiation_state,
        InstantiationState::NotInstantiated
    );
    assert!(instance.instantiated_vnf_info.is_none());
    assert!(sim.deployment(&tenant, &id).is_none());

    let ops = lcm
        .op_occs(&tenant, &ListQuery::all())
        .await
        .expect("op occurrences");
    assert_eq!(ops.items.len(), 4);
    assert!(
        ops.items
            .iter()
            .all(|o| o.operation_state == State::Completed)
    );
    for kind in [
        SimOperation::Instantiate,
        SimOperation::Scale,
        SimOperation::Heal,
        SimOperation::Terminate,
    ] {
        assert_eq!(sim.calls(kind), 1, "{kind:?} ran once");
    }
    lcm.delete_vnf(&tenant, &id).await.expect("delete");
    assert!(matches!(
        lcm.instance(&tenant, &id).await,
        Err(Error::NotFound { .. })
    ));

    executor.shutdown().await;
    let _: &dyn Store = &store;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_lives_its_whole_life_on_an_sqlite_file() {
    let (url, path) = common::sqlite_file("lcm");
    let store = SqlStore::connect(&url).await.expect("connect");
    whole_life(store).await;
    common::remove_sqlite(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_lives_its_whole_life_on_postgresql() {
    let Some(database) = tacker_store::testkit::TestDatabase::create().await else {
        return;
    };
    let store = SqlStore::connect(&database.url).await.expect("connect");
    whole_life(store.clone()).await;
    drop(store);
    database.drop_database().await;
}
