//! `InfraDriver`: the seam between the LCM engine and a VIM type (OpenStack Heat,
//! Kubernetes, the simulated VIM).
//!
//! The engine calls one method per step of an operation and records what it returns.
//! Every method is a *converging* call: it brings the VIM to the state the request asks
//! for, starting from whatever state it finds. Calling it again with the same context
//! (a retry after a crash or a FAILED_TEMP) must not create duplicates and must return
//! the same result. Resource changes are always computed against the instance *as
//! recorded before the operation* (`InfraContext::vnf_instance`), so a retried call
//! reports the same `resourceChanges` as a first call would have.
//!
//! Further rules every driver follows:
//! - `InfraContext::flavour` is the flavour the instance uses before the operation (for
//!   instantiate, the requested one); change flavour reads the new one from its request.
//! - Rollbacks converge back to `InfraContext::vnf_instance` and ignore the grant's
//!   `vimAssets`; their `resourceChanges` are relative to that recorded instance, so a
//!   complete rollback reports none.
//! - `vnfcInstanceId` in a heal request holds `VnfcInfo` ids, which this VNFM keeps equal
//!   to the `VnfcResourceInfo` ids; an unknown id is `Unprocessable`, naming it.
//! - A driver reports a VNFC's power state in its metadata under [`VNFC_POWER_STATE`]
//!   (`STARTED` or `STOPPED`), from which the engine fills `vnfcInfo`.
//! - A context whose VIM has another `vimType` than the driver's is `InvalidRequest`.

mod changes;

pub use changes::resource_changes;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest,
    ExtManagedVirtualLinkInfo, ExtVirtualLinkInfo, Grant, HealVnfRequest, InstantiateVnfRequest,
    KeyValuePairs, LcmOperationType, OperateVnfRequest, ResourceChanges, ScaleInfo, ScaleType,
    TerminateVnfRequest, VimConnectionInfo, VirtualStorageResourceInfo, VnfExtCpInfo, VnfInstance,
    VnfVirtualLinkResourceInfo, VnfcResourceInfo,
};
use crate::package::PackageFiles;
use crate::vnfd::{DeploymentFlavour, Vnfd};
use crate::{Error, Result, TenantId};

/// What an infra driver can do. The engine refuses an operation whose capability is
/// missing before it accepts the request, so nothing is accepted that would fail later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InfraCapabilities {
    /// Scale and scale to level.
    pub scale: bool,
    /// Heal of chosen VNFCs (SOL002).
    pub heal_vnfc: bool,
    /// Heal of the whole VNF (SOL003).
    pub heal_vnf: bool,
    /// Change flavour.
    pub change_flavour: bool,
    /// Change external connectivity.
    pub change_ext_conn: bool,
    /// Change current VNF package.
    pub change_vnfpkg: bool,
    /// Operate (start/stop).
    pub operate: bool,
    /// Rollback of instantiate.
    pub rollback_instantiate: bool,
    /// Rollback of scale (out and in) and scale to level.
    pub rollback_scale: bool,
    /// Rollback of change flavour.
    pub rollback_change_flavour: bool,
    /// Rollback of change external connectivity.
    pub rollback_change_ext_conn: bool,
    /// Rollback of change current VNF package.
    pub rollback_change_vnfpkg: bool,
}

impl InfraCapabilities {
    /// Everything.
    pub const ALL: Self = Self {
        scale: true,
        heal_vnfc: true,
        heal_vnf: true,
        change_flavour: true,
        change_ext_conn: true,
        change_vnfpkg: true,
        operate: true,
        rollback_instantiate: true,
        rollback_scale: true,
        rollback_change_flavour: true,
        rollback_change_ext_conn: true,
        rollback_change_vnfpkg: true,
    };

    /// Whether the driver runs this operation. Instantiate and terminate are always
    /// supported; MODIFY_INFO never reaches a driver.
    pub fn supports(&self, operation: LcmOperationType) -> bool {
        match operation {
            LcmOperationType::Instantiate | LcmOperationType::Terminate => true,
            LcmOperationType::Scale | LcmOperationType::ScaleToLevel => self.scale,
            LcmOperationType::Heal => self.heal_vnf || self.heal_vnfc,
            LcmOperationType::ChangeFlavour => self.change_flavour,
            LcmOperationType::ChangeExtConn => self.change_ext_conn,
            LcmOperationType::ChangeVnfpkg => self.change_vnfpkg,
            LcmOperationType::Operate => self.operate,
            LcmOperationType::ModifyInfo => true,
            LcmOperationType::CreateSnapshot | LcmOperationType::RevertToSnapshot => false,
        }
    }

    /// Whether the driver can roll this operation back.
    pub fn supports_rollback(&self, operation: LcmOperationType) -> bool {
        match operation {
            LcmOperationType::Instantiate => self.rollback_instantiate,
            LcmOperationType::Scale | LcmOperationType::ScaleToLevel => self.rollback_scale,
            LcmOperationType::ChangeFlavour => self.rollback_change_flavour,
            LcmOperationType::ChangeExtConn => self.rollback_change_ext_conn,
            LcmOperationType::ChangeVnfpkg => self.rollback_change_vnfpkg,
            LcmOperationType::ModifyInfo => true,
            _ => false,
        }
    }
}

/// Everything a driver call needs to know, borrowed from the engine.
#[derive(Debug, Clone, Copy)]
pub struct InfraContext<'a> {
    /// The tenant of the instance.
    pub tenant: &'a TenantId,
    /// The operation occurrence this call belongs to.
    pub vnf_lcm_op_occ_id: &'a str,
    /// The instance as recorded before the operation started.
    pub vnf_instance: &'a VnfInstance,
    /// The VNFD of the instance.
    pub vnfd: &'a Vnfd,
    /// The deployment flavour in use (for instantiate: the requested one).
    pub flavour: &'a DeploymentFlavour,
    /// The key of the VIM in `vimConnectionInfo`.
    pub vim_connection_id: &'a str,
    /// The VIM to act on.
    pub vim: &'a VimConnectionInfo,
    /// The grant the NFVO gave for this operation.
    pub grant: Option<&'a Grant>,
    /// The files of the instance's VNF package (templates, manifests, charts).
    pub package: &'a dyn PackageFiles,
    /// Cancelled when the operation is cancelled (FORCEFUL: stop now; GRACEFUL: the
    /// engine waits for the call to return). Long waits must watch it.
    pub cancel: &'a CancellationToken,
}

/// The resources of a VNF instance as a driver reports them: the resource part of
/// `instantiatedVnfInfo`. The engine owns the rest (flavour, state, scale status).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VnfResources {
    /// One entry per VNFC.
    pub vnfc_resource_info: Vec<VnfcResourceInfo>,
    /// Internal virtual links.
    pub vnf_virtual_link_resource_info: Vec<VnfVirtualLinkResourceInfo>,
    /// Storage.
    pub virtual_storage_resource_info: Vec<VirtualStorageResourceInfo>,
    /// External connection points.
    pub ext_cp_info: Vec<VnfExtCpInfo>,
    /// External virtual links.
    pub ext_virtual_link_info: Vec<ExtVirtualLinkInfo>,
    /// Externally managed internal virtual links.
    pub ext_managed_virtual_link_info: Vec<ExtManagedVirtualLinkInfo>,
}

/// What a driver call returns, to be recorded by the engine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InfraOutcome {
    /// The instance's resources after the call (empty after terminate).
    pub resources: VnfResources,
    /// What changed relative to the instance as recorded before the operation.
    pub resource_changes: ResourceChanges,
    /// The external connectivity after the call, when the call changed it.
    pub changed_ext_connectivity: Vec<ExtVirtualLinkInfo>,
    /// Driver-specific facts to keep with the instance (e.g. the Heat stack id).
    pub metadata: KeyValuePairs,
}

/// A scale or scale-to-level request resolved by the engine to target levels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScaleTarget {
    /// The target level of every aspect that changes.
    pub scale_levels: Vec<ScaleInfo>,
    /// SCALE_OUT or SCALE_IN for a SCALE operation; `None` for SCALE_TO_LEVEL.
    pub scale_type: Option<ScaleType>,
    /// The request's `additionalParams`.
    pub additional_params: KeyValuePairs,
}

/// The driver of one VIM type.
///
/// All methods converge and may be called again with the same context (see the module
/// documentation). A method that the driver does not support answers
/// [`Error::NotSupported`] and its capability is off.
#[async_trait]
pub trait InfraDriver: Send + Sync + std::fmt::Debug {
    /// The `vimType` this driver serves, e.g. `ETSINFV.OPENSTACK_KEYSTONE.V_3`.
    fn vim_type(&self) -> &str;

    /// What the driver supports.
    fn capabilities(&self) -> InfraCapabilities;

    /// Create the VNF's resources for `ctx.flavour` at the requested instantiation level.
    /// Returns every resource created, each as ADDED.
    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome>;

    /// Remove everything a failed instantiate created. Safe when nothing was created.
    async fn rollback_instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(self.vim_type(), "rollback of instantiate"))
    }

    /// Remove every resource of the VNF. Returns each as REMOVED. Safe when the
    /// resources are already gone.
    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome>;

    /// Bring the VDUs of the target aspects to the instance counts of the target levels.
    /// Scale-in removes the most recently created VNFCs first.
    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        let _ = (ctx, target);
        Err(not_supported(self.vim_type(), "scale"))
    }

    /// Return to the scale levels recorded in `ctx.vnf_instance`.
    async fn rollback_scale(
        &self,
        ctx: &InfraContext<'_>,
        target: &ScaleTarget,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, target);
        Err(not_supported(self.vim_type(), "rollback of scale"))
    }

    /// Replace the compute (and, if asked, storage) resources of the VNFCs named in
    /// `vnfcInstanceId`, or of the whole VNF when it is empty. VNFC identifiers stay;
    /// replaced VNFCs are reported MODIFIED with their new compute resource. A VNFC
    /// already replaced by an earlier attempt is not replaced again.
    async fn heal(&self, ctx: &InfraContext<'_>, request: &HealVnfRequest) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(self.vim_type(), "heal"))
    }

    /// Move the VNF to another deployment flavour.
    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(self.vim_type(), "change flavour"))
    }

    /// Return to the flavour recorded in `ctx.vnf_instance`.
    async fn rollback_change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(self.vim_type(), "rollback of change flavour"))
    }

    /// Connect the external CPs to other external virtual links or change their
    /// addresses.
    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(
            self.vim_type(),
            "change external connectivity",
        ))
    }

    /// Return to the external connectivity recorded in `ctx.vnf_instance`.
    async fn rollback_change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(
            self.vim_type(),
            "rollback of change external connectivity",
        ))
    }

    /// Move the VNF to the package of `new_vnfd` (images and templates change; the
    /// VNFCs are updated or replaced and reported MODIFIED).
    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        new_package: &dyn PackageFiles,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request, new_vnfd, new_package);
        Err(not_supported(self.vim_type(), "change current VNF package"))
    }

    /// Return to the package recorded in `ctx.vnf_instance`.
    async fn rollback_change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(
            self.vim_type(),
            "rollback of change current VNF package",
        ))
    }

    /// Start or stop the VNF's compute resources.
    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(self.vim_type(), "operate"))
    }
}

/// The metadata key of a VNFC's power state in `VnfcResourceInfo.metadata`.
pub const VNFC_POWER_STATE: &str = "powerState";

/// The `NotSupported` error of a driver that lacks an operation.
pub fn not_supported(vim_type: &str, what: &str) -> Error {
    Error::NotSupported(format!(
        "the {vim_type} infra driver does not support {what}"
    ))
}
