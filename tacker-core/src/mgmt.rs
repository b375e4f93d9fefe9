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
///
/// # VIMs a hook produces
///
/// A hook that builds a VIM on the VNF's resources (a Kubernetes cluster installed on
/// its VMs) returns it in `registered_vims`; the engine, not the driver, keeps the VIM
/// registry in step with the instance:
/// - right after the hook, before the step is recorded, each VIM is registered in the
///   engine's [`VimRegistry`](crate::vim::VimRegistry) under its name, its
///   `accessInfo` sealed there, and marked as produced by the instance
///   (`extra.`[`PRODUCED_BY_VNF_INSTANCE`]). A VIM of that name that the same instance
///   registered before (the hook ran again after a crash or a retry, or a heal
///   re-installed the cluster) is updated instead; a VIM of that name registered by
///   anyone else fails the step;
/// - the recorded step keeps the VIM without its credentials;
/// - when the operation completes, the instance's `vimConnectionInfo` gets an entry
///   keyed by the name: `vimId`, `vimType`, `interfaceInfo`, the marker in `extra`,
///   no `accessInfo` (drivers get it from the registry). The instance's own operations
///   never run on a VIM it produced;
/// - names in `deregistered_vims` are removed from `vimConnectionInfo` and the registry;
/// - terminating the instance, or rolling back its instantiation, deregisters every VIM
///   it produced. A terminate request is refused (409, naming them) while other VNF
///   instances use one of them, unless its `additionalParams` hold
///   [`FORCE_TERMINATE`]` = true`; a forced terminate leaves a VIM that others still use
///   registered, since the registry never drops a VIM an instance refers to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MgmtOutcome {
    /// Entries to merge into the instance's `metadata`.
    pub metadata: KeyValuePairs,
    /// VIMs the hook created and the VNFM should register (for example a Kubernetes
    /// cluster installed on the VNF's VMs), with the name to register each under.
    pub registered_vims: Vec<(String, VimConnectionInfo)>,
    /// Names of VIMs this instance produced that the hook tore down: the VNFM removes
    /// them from the registry and from the instance's `vimConnectionInfo`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deregistered_vims: Vec<String>,
}

/// The key in a VIM's `extra` (in the registry and in `vimConnectionInfo`) naming the
/// VNF instance whose management hook produced the VIM.
pub const PRODUCED_BY_VNF_INSTANCE: &str = "producedByVnfInstanceId";

/// The `additionalParams` key of a terminate request that lets a VNF instance be
/// terminated while other instances still use a VIM it produced.
pub const FORCE_TERMINATE: &str = "force_terminate";

/// Whether `vim` was produced by the VNF instance `vnf_instance_id`.
pub fn produced_by(vim: &VimConnectionInfo, vnf_instance_id: &str) -> bool {
    vim.extra
        .get(PRODUCED_BY_VNF_INSTANCE)
        .and_then(|v| v.as_str())
        == Some(vnf_instance_id)
}

/// What a request-time check sees: the request before it is accepted.
#[derive(Debug, Clone, Copy)]
pub struct MgmtRequestContext<'a> {
    /// The tenant of the instance.
    pub tenant: &'a TenantId,
    /// The hook the VNFD binds to this driver for the requested operation.
    pub hook: LcmHook,
    /// The VNFD's binding of the hook.
    pub binding: &'a LcmOperationBinding,
    /// The request as the operation's `operationParams` will hold it.
    pub request: &'a serde_json::Value,
    /// The request's `additionalParams` (empty when it has none).
    pub additional_params: &'a KeyValuePairs,
    /// The instance as recorded now.
    pub vnf_instance: &'a VnfInstance,
    /// The VNFD.
    pub vnfd: &'a Vnfd,
    /// The flavour the operation runs in (the requested one for an instantiation).
    pub flavour: &'a DeploymentFlavour,
    /// The package files.
    pub package: &'a dyn PackageFiles,
    /// The engine's VIM registry, if it has one (to check, say, that a VIM name the
    /// hook will register is free).
    pub vims: Option<&'a crate::vim::VimRegistry>,
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

    /// Check a request before it is accepted, once for each hook of the operation
    /// bound to this driver: what the hook will need must be there and well-formed
    /// (`Unprocessable` naming the field), so the operation is refused up front rather
    /// than failed half way. The default accepts everything.
    async fn validate_request(&self, ctx: &MgmtRequestContext<'_>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }
}

/// A management driver that runs nothing: it accepts every hook bound to its name and
/// logs that the hook was skipped. For packages whose hooks
/// name a script this VNFM does not run (e.g. a Python `sample-script` written for
/// another VNFM), when the operator decides the VNF needs none of it.
#[derive(Debug, Clone)]
pub struct NoopMgmtDriver {
    name: String,
}

impl NoopMgmtDriver {
    /// A driver answering to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

#[async_trait]
impl MgmtDriver for NoopMgmtDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        let hook = ctx.hook.sol001_name();
        tracing::info!(
            driver = %self.name,
            %hook,
            vnf_instance = %ctx.vnf_instance.id,
            "management hook skipped (no-op driver)"
        );
        Ok(MgmtOutcome::default())
    }
}
