//! The library's mockall mocks in an embedder's own test: the NFVO checks what its VNFM
//! does when the cloud refuses an instantiation, without any cloud.

use std::sync::Arc;
use std::time::Duration;

use tacker_core::infra::{InfraCapabilities, InfraOperation};
use tacker_core::lcm::LcmConfig;
use tacker_core::model::{InstantiateVnfRequest, LcmOperationStateType as State};
use tacker_core::testkit::mocks::{
    MockInfraBehaviour, MockInfraDriver, MockMgmtBehaviour, MockMgmtDriver, MockVimBehaviour,
    MockVimDriver,
};
use tacker_core::{Error, TenantId, VimType, Vnfm};
use tacker_embedding_example::{LAB_VIM_TYPE, create_example_vnf, lab_vim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_instantiation_is_rolled_back_and_never_configured() {
    let mut cloud = MockInfraBehaviour::new();
    cloud
        .expect_capabilities()
        .returning(|| InfraCapabilities::new().with(InfraOperation::RollbackInstantiate));
    cloud
        .expect_instantiate()
        .times(1)
        .withf(|call, request| call.vim.vim_type == LAB_VIM_TYPE && request.flavour_id == "simple")
        .returning(|_, _| Err(Error::driver(LAB_VIM_TYPE, false, "no capacity left")));
    // Driver calls converge and may be repeated (the engine runs a step again when its
    // record met a concurrent write, as CI once saw under load): one rollback, perhaps
    // called twice.
    cloud
        .expect_rollback()
        .times(1..=2)
        .withf(|_, operation| *operation == InfraOperation::RollbackInstantiate)
        .returning(|call, _| {
            Ok(tacker_core::infra::InfraOutcome::from_resources(
                call.vnf_instance.instantiated_vnf_info.as_ref(),
                tacker_core::infra::VnfResources::default(),
            ))
        });
    let mut config = MockMgmtBehaviour::new();
    config.expect_validate_request().returning(|_| Ok(()));
    config.expect_run_hook().never();

    let vim_type = VimType::new(
        Arc::new(MockInfraDriver::new(LAB_VIM_TYPE, cloud)),
        Arc::new(MockVimDriver::new(LAB_VIM_TYPE, MockVimBehaviour::new())),
    )
    .expect("one vimType");
    let vnfm = Vnfm::builder()
        .vim_type(vim_type)
        .mgmt_driver(Arc::new(MockMgmtDriver::new("web_config", config)))
        .default_vim("lab", lab_vim())
        .lcm_config(LcmConfig {
            poll_interval: Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .build()
        .expect("vnfm");
    vnfm.start().await.expect("started");
    let tenant = TenantId::default();
    let instance = create_example_vnf(&vnfm, &tenant).await.expect("created");
    let lcm = vnfm.lcm();
    let request = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        ..InstantiateVnfRequest::default()
    };
    let op = lcm
        .instantiate(&tenant, &instance.id, request)
        .await
        .expect("accepted");
    let wait = Duration::from_secs(30);
    let failed = lcm
        .wait_for(&tenant, &op.id, &[], wait)
        .await
        .expect("ends");
    assert_eq!(failed.operation_state, State::FailedTemp);
    lcm.rollback(&tenant, &op.id)
        .await
        .expect("rollback accepted");
    let rolled = lcm
        .wait_for(&tenant, &op.id, &[], wait)
        .await
        .expect("ends");
    assert_eq!(rolled.operation_state, State::RolledBack);
    vnfm.shutdown().await;
    // The expectations (one instantiate, the rollback, no hook) are checked as the mocks
    // drop with the VNFM.
}
