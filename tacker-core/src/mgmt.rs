//! `MgmtDriver`: the VNF-specific management hooks of the SOL001 `Vnflcm` interface
//! (`instantiate_start`, `instantiate_end`, `scale_start`, …).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::Result;
use crate::TenantId;
use crate::model::{
    Grant, GrantRequest, KeyValuePairs, VimConnectionInfo, VnfInstance, VnfLcmOpOcc,
};
use crate::package::{InMemoryPackageFiles, PackageFiles};
use crate::vim::VimRegistry;
use crate::vnfd::{DeploymentFlavour, LcmHook, LcmOperationBinding, Vnfd};

/// The package of a context built without one.
static NO_PACKAGE: InMemoryPackageFiles = InMemoryPackageFiles::new();

/// The cancellation token of a context built without one (never cancelled).
static NEVER_CANCELLED: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);

/// The `additionalParams` of a request that has none.
static NO_PARAMS: LazyLock<KeyValuePairs> = LazyLock::new(KeyValuePairs::new);

/// Everything a hook may read.
///
/// Built with [`MgmtContext::new`] and the `with_*` methods (its fields can grow).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
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
    /// The grant request that obtained it.
    pub grant_request: Option<&'a GrantRequest>,
    /// What hooks recorded about their progress: when this operation last failed
    /// ([`HookFailure::data`]), for a retry to pick up where they stopped, merged with
    /// what the hooks before this one in the operation returned
    /// ([`MgmtOutcome::hook_data`]).
    pub hook_data: Option<&'a KeyValuePairs>,
    /// The package files (the hook's scripts live there).
    pub package: &'a dyn PackageFiles,
    /// Cancelled when the operation is cancelled.
    pub cancel: &'a CancellationToken,
}

impl<'a> MgmtContext<'a> {
    /// A context for running `hook` (bound by `binding`) of the operation occurrence
    /// `op_occ` on `vnf_instance`, in `flavour` of `vnfd`: without a VIM or a grant,
    /// with an empty package and a token nobody cancels until the `with_*` methods say
    /// otherwise.
    pub fn new(
        tenant: &'a TenantId,
        hook: LcmHook,
        binding: &'a LcmOperationBinding,
        op_occ: &'a VnfLcmOpOcc,
        vnf_instance: &'a VnfInstance,
        vnfd: &'a Vnfd,
        flavour: &'a DeploymentFlavour,
    ) -> Self {
        Self {
            tenant,
            hook,
            binding,
            op_occ,
            vnf_instance,
            vnfd,
            flavour,
            vim: None,
            grant: None,
            grant_request: None,
            hook_data: None,
            package: &NO_PACKAGE,
            cancel: &NEVER_CANCELLED,
        }
    }

    /// With another tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: &'a TenantId) -> Self {
        self.tenant = tenant;
        self
    }

    /// With another hook and its binding.
    #[must_use]
    pub fn with_hook(mut self, hook: LcmHook, binding: &'a LcmOperationBinding) -> Self {
        self.hook = hook;
        self.binding = binding;
        self
    }

    /// With another operation occurrence.
    #[must_use]
    pub fn with_op_occ(mut self, op_occ: &'a VnfLcmOpOcc) -> Self {
        self.op_occ = op_occ;
        self
    }

    /// With another instance.
    #[must_use]
    pub fn with_vnf_instance(mut self, vnf_instance: &'a VnfInstance) -> Self {
        self.vnf_instance = vnf_instance;
        self
    }

    /// With another VNFD and flavour.
    #[must_use]
    pub fn with_vnfd(mut self, vnfd: &'a Vnfd, flavour: &'a DeploymentFlavour) -> Self {
        self.vnfd = vnfd;
        self.flavour = flavour;
        self
    }

    /// With the VIM of the instance (or none).
    #[must_use]
    pub fn with_vim(mut self, vim: Option<&'a VimConnectionInfo>) -> Self {
        self.vim = vim;
        self
    }

    /// With the grant of the operation (or none).
    #[must_use]
    pub fn with_grant(mut self, grant: Option<&'a Grant>) -> Self {
        self.grant = grant;
        self
    }

    /// With the grant request of the operation (or none).
    #[must_use]
    pub fn with_grant_request(mut self, grant_request: Option<&'a GrantRequest>) -> Self {
        self.grant_request = grant_request;
        self
    }

    /// With what hooks recorded when the operation last failed (or nothing).
    #[must_use]
    pub fn with_hook_data(mut self, hook_data: Option<&'a KeyValuePairs>) -> Self {
        self.hook_data = hook_data;
        self
    }

    /// With the package files.
    #[must_use]
    pub fn with_package(mut self, package: &'a dyn PackageFiles) -> Self {
        self.package = package;
        self
    }

    /// With the token the engine cancels when the operation is cancelled.
    #[must_use]
    pub fn with_cancel(mut self, cancel: &'a CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }
}

/// What a hook returns to be recorded.
///
/// # VIMs a hook produces
///
/// A hook that builds a VIM on the VNF's resources (a Kubernetes cluster installed on
/// its VMs) returns it in `registered_vims`; the engine, not the driver, keeps the VIM
/// registry in step with the instance:
/// - right after the hook, before the step is recorded, each VIM is registered in the
///   engine's [`VimRegistry`] under its name, its
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
    /// Entries to merge into the instance's `vnfConfigurableProperties` (a `null`
    /// value removes the key): what the hook found configured on the VNF.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vnf_configurable_properties: KeyValuePairs,
    /// Entries to merge into the instance's `extensions` (a `null` value removes the
    /// key).
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub extensions: KeyValuePairs,
    /// What the hook records about its progress for the hooks after it in the same
    /// operation (merged into their [`MgmtContext::hook_data`]), as a failed hook's
    /// [`HookFailure::data`] is for a retry.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub hook_data: KeyValuePairs,
    /// VIMs the hook created and the VNFM should register (for example a Kubernetes
    /// cluster installed on the VNF's VMs), with the name to register each under.
    pub registered_vims: Vec<(String, VimConnectionInfo)>,
    /// Names of VIMs this instance produced that the hook tore down: the VNFM removes
    /// them from the registry and from the instance's `vimConnectionInfo`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deregistered_vims: Vec<String>,
}

impl MgmtOutcome {
    /// Nothing to record (the same as [`MgmtOutcome::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// With one more entry to merge into the instance's `metadata` (a `null` value
    /// removes the key).
    #[must_use]
    pub fn with_metadata_entry(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// With entries to merge into the instance's `metadata`.
    #[must_use]
    pub fn with_metadata(mut self, metadata: KeyValuePairs) -> Self {
        self.metadata.extend(metadata);
        self
    }

    /// With a VIM the hook created, for the VNFM to register under `name`.
    #[must_use]
    pub fn with_registered_vim(mut self, name: impl Into<String>, vim: VimConnectionInfo) -> Self {
        self.registered_vims.push((name.into(), vim));
        self
    }

    /// With the name of a VIM the instance produced that the hook tore down.
    #[must_use]
    pub fn with_deregistered_vim(mut self, name: impl Into<String>) -> Self {
        self.deregistered_vims.push(name.into());
        self
    }
}

/// The `metadata` key where a modify-info that changes `vnfConfigurableProperties`
/// records how the change reached the VNF: `applied: true`, `appliedAt` (when the last
/// `modify_information_*` hook finished), `hooks`, `vnfLcmOpOccId` and `properties`; or
/// `applied: false` with the `reason` (the VNFD binds no such hook).
pub const CONFIGURATION_STATE: &str = "vnfConfigurationState";

/// A hook's failure with what the hook recorded about its progress: the engine keeps
/// [`HookFailure::data`] in the operation's error (`userScriptErrHandlingData`) and
/// gives it back to the hooks ([`MgmtContext::hook_data`]) when the operation is
/// retried. Return it as the source of an [`Error::driver`](crate::Error::driver).
#[derive(Debug, Clone, PartialEq)]
pub struct HookFailure {
    /// What failed.
    pub message: String,
    /// What the hook recorded (empty: nothing).
    pub data: KeyValuePairs,
}

impl std::fmt::Display for HookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HookFailure {}

/// Merges `entries` into `target` as a JSON merge patch of one level: a `null` value
/// removes the key.
pub fn merge_entries(target: &mut KeyValuePairs, entries: &KeyValuePairs) {
    for (key, value) in entries {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
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
///
/// Built with [`MgmtRequestContext::new`] and the `with_*` methods (its fields can
/// grow).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
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
    pub vims: Option<&'a VimRegistry>,
}

impl<'a> MgmtRequestContext<'a> {
    /// A check of `request` (as `operationParams` will hold it) against the hook
    /// `hook` bound by `binding`, on `vnf_instance` as recorded now, in `flavour` of
    /// `vnfd`: `additionalParams` taken from the request, an empty package and no VIM
    /// registry until the `with_*` methods say otherwise.
    pub fn new(
        tenant: &'a TenantId,
        hook: LcmHook,
        binding: &'a LcmOperationBinding,
        request: &'a serde_json::Value,
        vnf_instance: &'a VnfInstance,
        vnfd: &'a Vnfd,
        flavour: &'a DeploymentFlavour,
    ) -> Self {
        let additional_params = request
            .get("additionalParams")
            .and_then(serde_json::Value::as_object)
            .unwrap_or(&NO_PARAMS);
        Self {
            tenant,
            hook,
            binding,
            request,
            additional_params,
            vnf_instance,
            vnfd,
            flavour,
            package: &NO_PACKAGE,
            vims: None,
        }
    }

    /// With other `additionalParams`.
    #[must_use]
    pub fn with_additional_params(mut self, additional_params: &'a KeyValuePairs) -> Self {
        self.additional_params = additional_params;
        self
    }

    /// With the package files.
    #[must_use]
    pub fn with_package(mut self, package: &'a dyn PackageFiles) -> Self {
        self.package = package;
        self
    }

    /// With the engine's VIM registry (or none).
    #[must_use]
    pub fn with_vims(mut self, vims: Option<&'a VimRegistry>) -> Self {
        self.vims = vims;
        self
    }
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
