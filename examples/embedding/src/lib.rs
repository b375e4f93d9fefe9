//! An NFVO that embeds the tacker VNF Manager, as an out-of-tree crate would: its own VIM
//! type ([`LabCloud`], an infra driver with a VNFC quota and an audit log), its own
//! management driver ([`WebConfig`], which "pushes" the web servers' configuration after
//! instantiation and scaling), grants on its lab VIM, and the SQLite store — wired in
//! [`embed`], a few dozen lines. Its tests run the library's infra-driver and store
//! conformance suites against them, and use the library's mocks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tacker_core::async_trait;
use tacker_core::infra::{
    InfraCapabilities, InfraContext, InfraDriver, InfraOutcome, Rollback, ScaleTarget,
};
use tacker_core::lcm::{LcmConfig, LocalGrantProvider};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    CreateVnfRequest, InstantiateVnfRequest, TerminateVnfRequest, VimConnectionInfo, VnfInstance,
};
use tacker_core::notify::NotificationStream;
use tacker_core::sim::SimInfraDriver;
use tacker_core::{Error, Result, TenantId, VimType, Vnfm};

/// The `vimType` of the lab cloud.
pub const LAB_VIM_TYPE: &str = "EXAMPLE.LAB_CLOUD.V_1";

/// The lab cloud's connection information, as the NFVO knows it.
pub fn lab_vim() -> VimConnectionInfo {
    VimConnectionInfo {
        vim_id: Some("lab-1".into()),
        vim_type: LAB_VIM_TYPE.into(),
        ..VimConnectionInfo::default()
    }
}

/// The lab cloud: an infra driver that admits at most `quota` VNFCs per VNF and logs
/// every call. It keeps the resources themselves in a simulated VIM of the same type (a
/// driver for a real cloud would call its API where this one calls `sim`).
#[derive(Debug, Clone)]
pub struct LabCloud {
    sim: SimInfraDriver,
    quota: usize,
    audit: Arc<Mutex<Vec<String>>>,
}

impl LabCloud {
    /// A lab cloud admitting `quota` VNFCs per VNF.
    pub fn new(quota: usize) -> Self {
        Self {
            sim: SimInfraDriver::builder().vim_type(LAB_VIM_TYPE).build(),
            quota,
            audit: Arc::default(),
        }
    }

    /// This cloud as a VIM type: the lab driver and the VIM driver of its resources.
    pub fn vim_type(&self) -> Result<VimType> {
        VimType::new(Arc::new(self.clone()), Arc::new(self.sim.vim_driver()))
    }

    /// What was called, in order (`instantiate <instance>`, …).
    pub fn audit(&self) -> Vec<String> {
        self.audit.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn log(&self, call: &str, ctx: &InfraContext<'_>) {
        if let Ok(mut audit) = self.audit.lock() {
            audit.push(format!("{call} {}", ctx.vnf_instance.id));
        }
    }

    /// Refuses an outcome above the quota; the caller rolls back.
    fn admit(&self, outcome: InfraOutcome) -> Result<InfraOutcome> {
        let vnfcs = outcome.resources.vnfc_resource_info.len();
        if vnfcs > self.quota {
            return Err(Error::driver(
                LAB_VIM_TYPE,
                false,
                format!("the lab quota is {} VNFCs per VNF, not {vnfcs}", self.quota),
            ));
        }
        Ok(outcome)
    }
}

#[async_trait]
impl InfraDriver for LabCloud {
    fn vim_type(&self) -> &str {
        LAB_VIM_TYPE
    }

    fn capabilities(&self) -> InfraCapabilities {
        use tacker_core::infra::InfraOperation::*;
        InfraCapabilities::new()
            .with(Scale)
            .with(RollbackInstantiate)
            .with(RollbackScale)
    }

    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome> {
        self.log("instantiate", ctx);
        self.admit(self.sim.instantiate(ctx, request).await?)
    }

    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome> {
        self.log("terminate", ctx);
        self.sim.terminate(ctx, request).await
    }

    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        self.log("scale", ctx);
        self.admit(self.sim.scale(ctx, target).await?)
    }

    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> Result<InfraOutcome> {
        // Only the rollbacks this cloud declares; the others answer "not supported".
        self.capabilities()
            .require(rollback.operation(), LAB_VIM_TYPE)?;
        self.log("rollback", ctx);
        self.sim.rollback(ctx, rollback).await
    }
}

/// The management driver the package's `web_config` hooks name: it records which
/// configuration each instance got and marks the instance with its version.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pushed: Arc<Mutex<Vec<(String, usize)>>>,
}

impl WebConfig {
    /// The configurations pushed: instance and number of web servers.
    pub fn pushed(&self) -> Vec<(String, usize)> {
        self.pushed.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl MgmtDriver for WebConfig {
    fn name(&self) -> &str {
        "web_config"
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        let web = ctx
            .vnf_instance
            .instantiated_vnf_info
            .iter()
            .flat_map(|info| &info.vnfc_resource_info)
            .filter(|vnfc| vnfc.vdu_id == "WEB")
            .count();
        let mut pushed = self
            .pushed
            .lock()
            .map_err(|_| Error::Internal("web_config state poisoned".into()))?;
        pushed.push((ctx.vnf_instance.id.clone(), web));
        Ok(MgmtOutcome::new().with_metadata_entry("webConfigVersion", pushed.len()))
    }
}

/// Onboards the example package (`package/`, whose hooks name `web_config`) and creates
/// a VNF identifier of it.
pub async fn create_example_vnf(vnfm: &Vnfm, tenant: &TenantId) -> Result<VnfInstance> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("package");
    let package = vnfm.packages().onboard_directory(tenant, &dir).await?;
    let request = CreateVnfRequest {
        vnfd_id: package.vnfd_id.unwrap_or_default(),
        ..CreateVnfRequest::default()
    };
    vnfm.lcm().create_vnf(tenant, request).await
}

/// A started VNFM on the SQLite database in `dir`, with the lab cloud, its grants, the
/// web configuration driver, and an in-process stream of the tenant's LCM notifications.
pub async fn embed(
    dir: &Path,
    lab: &LabCloud,
    web: &WebConfig,
) -> Result<(Vnfm, NotificationStream)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::InvalidRequest(format!("{}: {e}", dir.display())))?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("vnfm.db").display());
    let store = Arc::new(tacker_store::SqlStore::connect(&url).await?);
    let grants = LocalGrantProvider::new(BTreeMap::from([("lab".to_owned(), lab_vim())]));
    let vnfm = Vnfm::builder()
        .store(store)
        .local_files(dir) // package files, spool and the sealing key
        .vim_type(lab.vim_type()?)
        .grant_provider(Arc::new(grants))
        .mgmt_driver(Arc::new(web.clone()))
        .lcm_config(LcmConfig {
            poll_interval: std::time::Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .build()?;
    vnfm.start().await?;
    let events = vnfm.lcm_notifications(&TenantId::default(), None).await?;
    Ok((vnfm, events))
}
