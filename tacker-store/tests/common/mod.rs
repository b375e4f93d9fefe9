//! What the LCM-on-SQL tests share: a PostgreSQL database per test, a management
//! driver for the test package's `instantiate_end` hook, and engines on a `SqlStore`.

#![allow(dead_code)]

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tacker_core::vim::{Sealer, SealingKey};

use object_store::ObjectStore;
use tacker_core::TenantId;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, ScaleType, ScaleVnfRequest,
    TerminateVnfRequest, TerminationType, VnfInstance,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SimInfraDriver, sample_vim};
use tacker_store::SqlStore;

use crate::support;

/// A fresh SQLite file URL, and the files to remove afterwards.
pub fn sqlite_file(label: &str) -> (String, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("tacker-{label}-{}.db", tacker_core::new_id()));
    (format!("sqlite://{}?mode=rwc", path.display()), path)
}

/// Removes an SQLite file with its WAL and shared-memory files.
pub fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The management driver the test package binds `instantiate_end` to; counts hooks.
#[derive(Debug, Default)]
pub struct CountingMgmt {
    /// Hooks run.
    pub hooks: AtomicU64,
}

#[async_trait]
impl MgmtDriver for CountingMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> tacker_core::Result<MgmtOutcome> {
        self.hooks.fetch_add(1, Ordering::SeqCst);
        Ok(MgmtOutcome::new().with_metadata_entry("hooked", ctx.hook.sol001_name()))
    }
}

/// Uploads the test package through `packages`.
pub async fn onboard(packages: &VnfPackageManager, tenant: &TenantId) {
    let pkg = packages
        .create(tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create package");
    packages
        .upload_content(tenant, &pkg.id, support::package_zip(support::TOP))
        .await
        .expect("onboard the test package");
}

/// The sealer of every component in these tests: one fixed key, as a VNFM keeps one
/// key with its database.
pub fn sealer() -> Sealer {
    Sealer::new(&SealingKey::from_bytes([7; 32]))
}

/// A package manager on `store` and the shared package files.
pub fn package_manager(store: &SqlStore, files: Arc<dyn ObjectStore>) -> VnfPackageManager {
    VnfPackageManager::builder(Arc::new(store.clone()), files)
        .sealer(sealer())
        .build()
        .expect("package manager")
}

/// An engine on `store` driving `sim`.
pub fn engine(
    store: &SqlStore,
    files: Arc<dyn ObjectStore>,
    sim: &SimInfraDriver,
    mgmt: Arc<CountingMgmt>,
    config: LcmConfig,
) -> VnfLcm {
    VnfLcm::builder()
        .store(Arc::new(store.clone()))
        .packages(Arc::new(package_manager(store, files)))
        .infra_driver(Arc::new(sim.clone()))
        .mgmt_driver(mgmt)
        .default_vim("vim1", sample_vim())
        .sealer(sealer())
        .config(config)
        .build()
        .expect("engine")
}

/// Engine settings for tests: short lease, quick polling.
pub fn config(executor_id: &str, lease_ttl: Duration) -> LcmConfig {
    LcmConfig {
        executor_id: executor_id.to_owned(),
        lease_ttl,
        poll_interval: Duration::from_millis(20),
        ..LcmConfig::default()
    }
}

/// The request creating an instance of the test VNF.
pub fn create_request(name: &str) -> CreateVnfRequest {
    CreateVnfRequest {
        vnfd_id: support::VNFD_ID.into(),
        vnf_instance_name: Some(name.into()),
        ..CreateVnfRequest::default()
    }
}

/// Instantiation with the `simple` flavour.
pub fn instantiate_request() -> InstantiateVnfRequest {
    InstantiateVnfRequest {
        flavour_id: "simple".into(),
        ..InstantiateVnfRequest::default()
    }
}

/// Scaling the `worker` aspect.
pub fn scale(kind: ScaleType, steps: u32) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type: kind,
        aspect_id: "worker".into(),
        number_of_steps: Some(steps),
        additional_params: Default::default(),
    }
}

/// Forceful termination.
pub fn terminate_request() -> TerminateVnfRequest {
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: Default::default(),
    }
}

/// The VIM resource ids of an instance's recorded VNFCs, sorted.
pub fn recorded_servers(instance: &VnfInstance) -> Vec<String> {
    let mut ids: Vec<String> = instance
        .instantiated_vnf_info
        .as_ref()
        .map(|info| {
            info.vnfc_resource_info
                .iter()
                .map(|v| v.compute_resource.resource_id.clone())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The server resource ids the simulated VIM holds for an instance, sorted.
pub fn sim_servers(sim: &SimInfraDriver, tenant: &TenantId, id: &str) -> Vec<String> {
    let mut ids: Vec<String> = sim
        .deployment(tenant, id)
        .map(|d| d.servers.into_iter().map(|s| s.resource_id).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}
