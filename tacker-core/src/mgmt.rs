//! `MgmtDriver`: the VNF-specific management hooks of the SOL001 `Vnflcm` interface
//! (`instantiate_start`, `instantiate_end`, `scale_start`, …).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::Result;
use crate::TenantId;
use crate::model::{Grant, KeyValuePairs, VimConnectionInfo, VnfInstance, VnfLcmOpOcc};
use crate::package::PackageFiles;
use crate::vnfd::{DeploymentFlavour, LcmHook, LcmOperationBinding, Vnfd};

/// Everything a hook may read.
#[derive(Debug, Clone, Copy)]
pub struct MgmtContext<'a> {
    /// The tenant of the instance.
    pub tenant: &'a TenantId,
    /// The hook being run.
    pub hook: LcmHook,
    /// The VNFD's binding of the hook (artifact, inputs).
    pub binding: &'a LcmOperationBinding,
    /// The operation occurrence; `operationParams` holds the request.
    pub op_occ: &'a VnfLcmOpOcc,
    /// The instance: as recorded before the operation for `*_start` hooks, with the
    /// infra driver's result applied for `*_end` hooks.
    pub vnf_instance: &'a VnfInstance,
    /// The VNFD.
    pub vnfd: &'a Vnfd,
    /// The flavour in use.
    pub flavour: &'a DeploymentFlavour,
    /// The VIM of the instance.
    pub vim: Option<&'a VimConnectionInfo>,
    /// The grant of the operation.
    pub grant: Option<&'a Grant>,
    /// The package files (the hook's scripts live there).
    pub package: &'a dyn PackageFiles,
    /// Cancelled when the operation is cancelled.
    pub cancel: &'a CancellationToken,
}

/// What a hook returns to be recorded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MgmtOutcome {
    /// Entries to merge into the instance's `metadata`.
    pub metadata: KeyValuePairs,
    /// VIMs the hook created and the VNFM should register (for example a Kubernetes
    /// cluster installed on the VNF's VMs), with the name to register each under.
    pub registered_vims: Vec<(String, VimConnectionInfo)>,
}

/// A management driver, selected by the artifact a VNFD binds to a `Vnflcm` operation.
///
/// A hook may be run again after a crash or a retry: it must tolerate finding its work
/// already (partly) done. An error fails the operation with the error's message.
#[async_trait]
pub trait MgmtDriver: Send + Sync + std::fmt::Debug {
    /// The name VNFDs use to select this driver: an artifact name, or the file name of
    /// the artifact's implementation (e.g. `kubernetes_mgmt.py`).
    fn name(&self) -> &str;

    /// Run one hook.
    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome>;
}
