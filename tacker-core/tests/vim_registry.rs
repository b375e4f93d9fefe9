//! The VIM registry: credentials sealed at rest and never read back, one default VIM per
//! tenant, and the LCM engine using the tenant's default VIM.

mod support;

use std::sync::Arc;

use object_store::memory::InMemory;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, KeyValuePairs,
    LcmOperationStateType,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver};
use tacker_core::store::{MemoryStore, RecordKind, Store};
use tacker_core::vim::{Sealer, SealingKey, VimRegistration, VimRegistry, VimUpdate};
use tacker_core::{Error, TenantId};

/// The test package binds `instantiate_end` to `mgmt_driver`; this one does nothing.
#[derive(Debug)]
struct QuietMgmt;

#[async_trait::async_trait]
impl tacker_core::mgmt::MgmtDriver for QuietMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(
        &self,
        _ctx: &tacker_core::mgmt::MgmtContext<'_>,
    ) -> tacker_core::Result<tacker_core::mgmt::MgmtOutcome> {
        Ok(tacker_core::mgmt::MgmtOutcome::default())
    }
}

fn object(value: serde_json::Value) -> KeyValuePairs {
    value.as_object().cloned().unwrap_or_default()
}

fn registration(name: &str, password: &str, is_default: bool) -> VimRegistration {
    VimRegistration {
        name: name.into(),
        description: Some("a simulated cloud".into()),
        vim_type: SIM_VIM_TYPE.into(),
        interface_info: object(serde_json::json!({"endpoint": "http://127.0.0.1:5000/v3"})),
        access_info: object(
            serde_json::json!({"username": "admin", "password": password, "region": "RegionOne"}),
        ),
        extra: KeyValuePairs::new(),
        is_default,
    }
}

fn registry(store: Arc<MemoryStore>, sim: &SimInfraDriver) -> VimRegistry {
    let sealer = Sealer::new(&SealingKey::generate().expect("key"));
    VimRegistry::new(store, sealer, vec![Arc::new(sim.vim_driver())])
}

#[tokio::test]
async fn credentials_are_sealed_at_rest_and_never_read_back() {
    let store = Arc::new(MemoryStore::new());
    let sim = SimInfraDriver::default();
    let vims = registry(store.clone(), &sim);
    let tenant = TenantId::default();
    let info = vims
        .register(&tenant, registration("cloud-a", "hunter2-secret", true))
        .await
        .expect("register");
    let shown = serde_json::to_string(&info).expect("json");
    assert!(
        !shown.contains("hunter2") && !shown.contains("accessInfo"),
        "{shown}"
    );
    let raw = store
        .get(&tenant, RecordKind::Vim, &info.id)
        .await
        .expect("raw record");
    let stored = serde_json::to_string(&raw.value).expect("json");
    assert!(
        !stored.contains("hunter2"),
        "the store holds only ciphertext: {stored}"
    );
    let opened = vims.connection_info(&tenant, &info.id).await.expect("open");
    assert_eq!(opened.access_info["password"], "hunter2-secret");
    assert_eq!(opened.vim_id.as_deref(), Some(info.id.as_str()));
    let listed = serde_json::to_string(
        &vims
            .list(&tenant, &Default::default())
            .await
            .expect("list")
            .items,
    )
    .expect("json");
    assert!(!listed.contains("hunter2"));
    let other_key = VimRegistry::new(
        store.clone(),
        Sealer::new(&SealingKey::generate().expect("key")),
        vec![Arc::new(sim.vim_driver())],
    );
    assert!(
        other_key.connection_info(&tenant, &info.id).await.is_err(),
        "another key cannot open it"
    );
}

#[tokio::test]
async fn one_default_per_tenant_names_are_unique_and_bad_credentials_are_refused() {
    let store = Arc::new(MemoryStore::new());
    let sim = SimInfraDriver::default();
    let vims = registry(store, &sim);
    let tenant = TenantId::default();
    let a = vims
        .register(&tenant, registration("a", "pw", true))
        .await
        .expect("a");
    let b = vims
        .register(&tenant, registration("b", "pw", true))
        .await
        .expect("b");
    assert!(
        !vims.get(&tenant, &a.id).await.expect("a").is_default,
        "b replaced a as default"
    );
    assert_eq!(
        vims.default_vim(&tenant)
            .await
            .expect("default")
            .map(|(id, _)| id),
        Some(b.id.clone())
    );
    let (_, reference) = vims
        .default_vim(&tenant)
        .await
        .expect("default")
        .expect("some");
    assert!(
        reference.access_info.is_empty(),
        "the reference carries no credentials"
    );
    assert!(matches!(
        vims.register(&tenant, registration("a", "pw", false)).await,
        Err(Error::Conflict(_))
    ));
    let mut broken = registration("c", "pw", false);
    broken
        .access_info
        .insert("fail".into(), serde_json::json!(true));
    assert!(
        vims.register(&tenant, broken).await.is_err(),
        "the driver refuses the credentials"
    );
    let mut wrong_type = registration("d", "pw", false);
    wrong_type.vim_type = "ETSINFV.NOWHERE.V_1".into();
    assert!(matches!(
        vims.register(&tenant, wrong_type).await,
        Err(Error::Unprocessable(_))
    ));
    vims.update(
        &tenant,
        &a.id,
        VimUpdate {
            is_default: Some(true),
            ..VimUpdate::default()
        },
    )
    .await
    .expect("make a default");
    assert!(!vims.get(&tenant, &b.id).await.expect("b").is_default);
    let rotated = VimUpdate {
        access_info: Some(object(
            serde_json::json!({"username": "admin", "password": "rotated"}),
        )),
        ..VimUpdate::default()
    };
    vims.update(&tenant, &a.id, rotated).await.expect("rotate");
    assert_eq!(
        vims.connection_info(&tenant, &a.id)
            .await
            .expect("open")
            .access_info["password"],
        "rotated"
    );
    assert!(
        vims.default_vim(&TenantId::new("other"))
            .await
            .expect("other")
            .is_none(),
        "defaults are per tenant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instantiation_without_a_vim_uses_the_tenant_s_default_vim() {
    let store = Arc::new(MemoryStore::new());
    let sim = SimInfraDriver::default();
    let vims = registry(store.clone(), &sim);
    let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
        .build()
        .expect("package manager");
    let lcm = VnfLcm::builder()
        .store(store.clone())
        .packages(Arc::new(packages.clone()))
        .infra_driver(Arc::new(sim.clone()))
        .vim_registry(vims.clone())
        .mgmt_driver(Arc::new(QuietMgmt))
        .config(LcmConfig {
            poll_interval: std::time::Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .build()
        .expect("engine");
    let executor = lcm.start();
    for tenant in [TenantId::new("with-vim"), TenantId::new("without-vim")] {
        let pkg = packages
            .create(&tenant, CreateVnfPkgInfoRequest::default())
            .await
            .expect("package");
        packages
            .upload_content(&tenant, &pkg.id, support::package_zip(support::TOP))
            .await
            .expect("onboard");
    }
    let with = TenantId::new("with-vim");
    let vim = vims
        .register(&with, registration("cloud", "pw", true))
        .await
        .expect("register");
    let request = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        ..InstantiateVnfRequest::default()
    };
    let id = lcm
        .create_vnf(
            &with,
            CreateVnfRequest {
                vnfd_id: support::VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("create")
        .id;
    let op = lcm
        .instantiate(&with, &id, request.clone())
        .await
        .expect("accepted");
    let op = lcm
        .wait_for(&with, &op.id, &[], std::time::Duration::from_secs(20))
        .await
        .expect("ends");
    assert_eq!(
        op.operation_state,
        LcmOperationStateType::Completed,
        "{:?}",
        op.error
    );
    let instance = lcm.instance(&with, &id).await.expect("instance");
    let recorded = instance
        .vim_connection_info
        .get(&vim.id)
        .expect("the default VIM is recorded");
    assert!(
        recorded.access_info.is_empty(),
        "the instance records the VIM by reference only"
    );
    assert!(
        !serde_json::to_string(&op).expect("json").contains("\"pw\""),
        "no credentials in the op occurrence"
    );
    assert!(
        matches!(vims.delete(&with, &vim.id).await, Err(Error::Conflict(_))),
        "in use"
    );

    let without = TenantId::new("without-vim");
    let id = lcm
        .create_vnf(
            &without,
            CreateVnfRequest {
                vnfd_id: support::VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("create")
        .id;
    assert!(
        matches!(lcm.instantiate(&without, &id, request).await, Err(Error::Unprocessable(m)) if m.contains("no VIM"))
    );
    executor.shutdown().await;
}
