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
//! - One method, [`InfraDriver::rollback`], rolls back every operation that can be
//!   rolled back: it converges back to the recorded state, `InfraContext::vnf_instance`
//!   (see [`InfraContext::recorded`]), and ignores the grant's `vimAssets`; its
//!   `resourceChanges` are relative to that recorded instance, so a complete rollback
//!   reports none.
//! - What a driver supports is said once, by [`InfraDriver::capabilities`] (a set of
//!   [`InfraOperation`]s); a method of an operation outside the set keeps its default,
//!   which answers [`Error::OperationNotSupported`] (see [`not_supported`]).
//! - `vnfcInstanceId` in a heal request holds `VnfcInfo` ids, which this VNFM keeps equal
//!   to the `VnfcResourceInfo` ids; an unknown id is `Unprocessable`, naming it.
//! - A driver reports a VNFC's power state in its metadata under [`VNFC_POWER_STATE`]
//!   (`STARTED` or `STOPPED`), from which the engine fills `vnfcInfo`.
//! - A context whose VIM has another `vimType` than the driver's is `InvalidRequest`.
//!
//! # Growing without breaking drivers
//!
//! Drivers live outside this crate too, so every type a driver or its tests build can
//! gain fields and variants in a minor release: the structs are `#[non_exhaustive]`
//! and built with their constructors and `with_*` methods, the enums are
//! `#[non_exhaustive]`, and a new operation is a new trait method with a default (not
//! supported) plus a new [`InfraOperation`] that no driver declares until it
//! implements it.

mod capabilities;
mod changes;

pub use capabilities::{InfraCapabilities, InfraOperation};
pub use changes::resource_changes;

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest,
    ExtManagedVirtualLinkInfo, ExtVirtualLinkInfo, Grant, GrantRequest, HealVnfRequest,
    InstantiateVnfRequest, InstantiatedVnfInfo, KeyValuePairs, OperateVnfRequest, ResourceChanges,
    ScaleInfo, ScaleType, TerminateVnfRequest, VimConnectionInfo, VirtualStorageResourceInfo,
    VnfExtCpInfo, VnfInstance, VnfVirtualLinkResourceInfo, VnfcResourceInfo,
};
use crate::package::{InMemoryPackageFiles, PackageFiles};
use crate::vnfd::{DeploymentFlavour, Vnfd};
use crate::{Error, Result, TenantId};

/// The package of a context built without one.
static NO_PACKAGE: InMemoryPackageFiles = InMemoryPackageFiles::new();

/// The cancellation token of a context built without one: never cancelled by anyone
/// but a caller that reaches for it through the context (which drivers do not).
static NEVER_CANCELLED: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);

/// Everything a driver call needs to know, borrowed from the engine.
///
/// Built with [`InfraContext::new`] and the `with_*` methods (its fields can grow):
///
/// ```
/// use tacker_core::TenantId;
/// use tacker_core::infra::InfraContext;
/// use tacker_core::sim;
///
/// let tenant = TenantId::default();
/// let vnfd = sim::sample_vnfd();
/// let instance = sim::sample_instance("vnf-1", &vnfd.descriptor_id);
/// let vim = sim::sample_vim();
/// let cancel = tokio_util::sync::CancellationToken::new();
/// let ctx = InfraContext::new(
///     &tenant,
///     "op-1",
///     &instance,
///     &vnfd,
///     &vnfd.flavours[0],
///     sim::SAMPLE_VIM_CONNECTION_ID,
///     &vim,
/// )
/// .with_cancel(&cancel);
/// assert!(ctx.grant.is_none());
/// assert!(ctx.recorded().is_none());
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
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
    /// The grant request the operation sent (the resources it adds, removes and
    /// updates, by VDU and with their ids in the grant).
    pub grant_request: Option<&'a GrantRequest>,
    /// The files of the instance's VNF package (templates, manifests, charts).
    pub package: &'a dyn PackageFiles,
    /// Cancelled when the operation is cancelled (FORCEFUL: stop now; GRACEFUL: the
    /// engine waits for the call to return). Long waits must watch it.
    pub cancel: &'a CancellationToken,
}

impl<'a> InfraContext<'a> {
    /// A context for a call of operation occurrence `vnf_lcm_op_occ_id` on
    /// `vnf_instance` (as recorded before the operation), in `flavour` of `vnfd`, on
    /// the VIM `vim` keyed `vim_connection_id` in `vimConnectionInfo`: without a grant,
    /// with an empty package and a token nobody cancels until the `with_*` methods say
    /// otherwise.
    pub fn new(
        tenant: &'a TenantId,
        vnf_lcm_op_occ_id: &'a str,
        vnf_instance: &'a VnfInstance,
        vnfd: &'a Vnfd,
        flavour: &'a DeploymentFlavour,
        vim_connection_id: &'a str,
        vim: &'a VimConnectionInfo,
    ) -> Self {
        Self {
            tenant,
            vnf_lcm_op_occ_id,
            vnf_instance,
            vnfd,
            flavour,
            vim_connection_id,
            vim,
            grant: None,
            grant_request: None,
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

    /// With another operation occurrence.
    #[must_use]
    pub fn with_vnf_lcm_op_occ_id(mut self, vnf_lcm_op_occ_id: &'a str) -> Self {
        self.vnf_lcm_op_occ_id = vnf_lcm_op_occ_id;
        self
    }

    /// With another recorded instance.
    #[must_use]
    pub fn with_vnf_instance(mut self, vnf_instance: &'a VnfInstance) -> Self {
        self.vnf_instance = vnf_instance;
        self
    }

    /// With another VNFD.
    #[must_use]
    pub fn with_vnfd(mut self, vnfd: &'a Vnfd) -> Self {
        self.vnfd = vnfd;
        self
    }

    /// With another flavour.
    #[must_use]
    pub fn with_flavour(mut self, flavour: &'a DeploymentFlavour) -> Self {
        self.flavour = flavour;
        self
    }

    /// With another VIM, keyed `vim_connection_id` in `vimConnectionInfo`.
    #[must_use]
    pub fn with_vim(mut self, vim_connection_id: &'a str, vim: &'a VimConnectionInfo) -> Self {
        self.vim_connection_id = vim_connection_id;
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
    pub fn with_grant_request(mut self, request: Option<&'a GrantRequest>) -> Self {
        self.grant_request = request;
        self
    }

    /// With the files of the instance's package.
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

    /// The recorded state: `instantiatedVnfInfo` of the instance as recorded before the
    /// operation (`None` when it was not instantiated). Every `resourceChanges` is
    /// relative to it, and [`InfraDriver::rollback`] returns to it.
    pub fn recorded(&self) -> Option<&'a InstantiatedVnfInfo> {
        self.vnf_instance.instantiated_vnf_info.as_ref()
    }
}

/// The resources of a VNF instance as a driver reports them: the resource part of
/// `instantiatedVnfInfo`. The engine owns the rest (flavour, state, scale status).
///
/// Built from [`VnfResources::default`] (nothing) with the `with_*` methods, or from
/// what an instance records ([`VnfResources::recorded_in`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
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

impl VnfResources {
    /// The resources `info` records.
    pub fn recorded_in(info: &InstantiatedVnfInfo) -> Self {
        Self {
            vnfc_resource_info: info.vnfc_resource_info.clone(),
            vnf_virtual_link_resource_info: info.vnf_virtual_link_resource_info.clone(),
            virtual_storage_resource_info: info.virtual_storage_resource_info.clone(),
            ext_cp_info: info.ext_cp_info.clone(),
            ext_virtual_link_info: info.ext_virtual_link_info.clone(),
            ext_managed_virtual_link_info: info.ext_managed_virtual_link_info.clone(),
        }
    }

    /// With these VNFCs.
    #[must_use]
    pub fn with_vnfc_resource_info(mut self, vnfcs: Vec<VnfcResourceInfo>) -> Self {
        self.vnfc_resource_info = vnfcs;
        self
    }

    /// With these internal virtual links.
    #[must_use]
    pub fn with_vnf_virtual_link_resource_info(
        mut self,
        links: Vec<VnfVirtualLinkResourceInfo>,
    ) -> Self {
        self.vnf_virtual_link_resource_info = links;
        self
    }

    /// With this storage.
    #[must_use]
    pub fn with_virtual_storage_resource_info(
        mut self,
        storage: Vec<VirtualStorageResourceInfo>,
    ) -> Self {
        self.virtual_storage_resource_info = storage;
        self
    }

    /// With these external connection points.
    #[must_use]
    pub fn with_ext_cp_info(mut self, ext_cps: Vec<VnfExtCpInfo>) -> Self {
        self.ext_cp_info = ext_cps;
        self
    }

    /// With these external virtual links.
    #[must_use]
    pub fn with_ext_virtual_link_info(mut self, links: Vec<ExtVirtualLinkInfo>) -> Self {
        self.ext_virtual_link_info = links;
        self
    }

    /// With these externally managed internal virtual links.
    #[must_use]
    pub fn with_ext_managed_virtual_link_info(
        mut self,
        links: Vec<ExtManagedVirtualLinkInfo>,
    ) -> Self {
        self.ext_managed_virtual_link_info = links;
        self
    }
}

/// What a driver call returns, to be recorded by the engine.
///
/// Built with [`InfraOutcome::new`] (or [`InfraOutcome::from_resources`], which works
/// out the `resourceChanges`) and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
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

impl InfraOutcome {
    /// The outcome of a call that left `resources`, having changed `resource_changes`;
    /// no change of external connectivity, no metadata.
    pub fn new(resources: VnfResources, resource_changes: ResourceChanges) -> Self {
        Self {
            resources,
            resource_changes,
            ..Self::default()
        }
    }

    /// The outcome of a call that left `resources`, its `resourceChanges` worked out
    /// against the recorded state ([`InfraContext::recorded`]) by
    /// [`resource_changes`].
    pub fn from_resources(recorded: Option<&InstantiatedVnfInfo>, resources: VnfResources) -> Self {
        let changes = resource_changes(recorded, &resources);
        Self::new(resources, changes)
    }

    /// With the external connectivity the call changed.
    #[must_use]
    pub fn with_changed_ext_connectivity(mut self, links: Vec<ExtVirtualLinkInfo>) -> Self {
        self.changed_ext_connectivity = links;
        self
    }

    /// With driver-specific facts to keep with the instance.
    #[must_use]
    pub fn with_metadata(mut self, metadata: KeyValuePairs) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A scale or scale-to-level request resolved by the engine to target levels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScaleTarget {
    /// The target level of every aspect that changes.
    pub scale_levels: Vec<ScaleInfo>,
    /// SCALE_OUT or SCALE_IN for a SCALE operation; `None` for SCALE_TO_LEVEL.
    pub scale_type: Option<ScaleType>,
    /// The request's `additionalParams`.
    pub additional_params: KeyValuePairs,
}

impl ScaleTarget {
    /// A target of `scale_levels`, of a SCALE of `scale_type` (`None`: SCALE_TO_LEVEL),
    /// without `additionalParams`.
    pub fn new(scale_levels: Vec<ScaleInfo>, scale_type: Option<ScaleType>) -> Self {
        Self {
            scale_levels,
            scale_type,
            additional_params: KeyValuePairs::new(),
        }
    }

    /// With the request's `additionalParams`.
    #[must_use]
    pub fn with_additional_params(mut self, additional_params: KeyValuePairs) -> Self {
        self.additional_params = additional_params;
        self
    }
}

/// The operation a rollback undoes, with the request it ran with. The state to return
/// to is the recorded one: the instance as recorded before the operation,
/// `InfraContext::vnf_instance` ([`InfraContext::recorded`]).
///
/// More operations may become rollbackable in a later release, so a `match` on it
/// needs a `_` arm (answering [`not_supported`] with [`Rollback::operation`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Rollback<'a> {
    /// An instantiate: remove everything it created (safe when nothing was).
    Instantiate(&'a InstantiateVnfRequest),
    /// A scale or scale to level, resolved to its target: back to the recorded levels.
    Scale(&'a ScaleTarget),
    /// A change of flavour: back to the recorded flavour.
    ChangeFlavour(&'a ChangeVnfFlavourRequest),
    /// A change of external connectivity: back to the recorded links.
    ChangeExtConn(&'a ChangeExtVnfConnectivityRequest),
    /// A change of the current package: back to the recorded package.
    ChangeVnfpkg(&'a ChangeCurrentVnfPkgRequest),
}

impl Rollback<'_> {
    /// This rollback as an operation of the capability set, e.g.
    /// [`InfraOperation::RollbackScale`].
    pub fn operation(&self) -> InfraOperation {
        match self {
            Self::Instantiate(_) => InfraOperation::RollbackInstantiate,
            Self::Scale(_) => InfraOperation::RollbackScale,
            Self::ChangeFlavour(_) => InfraOperation::RollbackChangeFlavour,
            Self::ChangeExtConn(_) => InfraOperation::RollbackChangeExtConn,
            Self::ChangeVnfpkg(_) => InfraOperation::RollbackChangeVnfpkg,
        }
    }

    /// The operation rolled back, e.g. [`InfraOperation::Scale`].
    pub fn rolled_back(&self) -> InfraOperation {
        match self {
            Self::Instantiate(_) => InfraOperation::Instantiate,
            Self::Scale(_) => InfraOperation::Scale,
            Self::ChangeFlavour(_) => InfraOperation::ChangeFlavour,
            Self::ChangeExtConn(_) => InfraOperation::ChangeExtConn,
            Self::ChangeVnfpkg(_) => InfraOperation::ChangeVnfpkg,
        }
    }
}

/// What an infra driver checks a request against before the engine accepts it: the
/// instance as recorded, its VNFD and package, and the flavour the operation runs in.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct InfraRequestContext<'a> {
    /// The tenant of the instance.
    pub tenant: &'a TenantId,
    /// The instance as recorded now.
    pub vnf_instance: &'a VnfInstance,
    /// The instance's VNFD (for an instantiation, the one it is created from).
    pub vnfd: &'a Vnfd,
    /// The flavour the operation runs in: the requested one for an instantiation, else
    /// the instance's. A change of flavour names its new flavour in the request.
    pub flavour: &'a DeploymentFlavour,
    /// The files of the instance's package.
    pub package: &'a dyn PackageFiles,
}

impl std::fmt::Debug for InfraRequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfraRequestContext")
            .field("tenant", &self.tenant)
            .field("vnf_instance", &self.vnf_instance.id)
            .field("vnfd", &self.vnfd.descriptor_id)
            .field("flavour", &self.flavour.id)
            .finish_non_exhaustive()
    }
}

impl<'a> InfraRequestContext<'a> {
    /// A context for checking a request on `vnf_instance`.
    pub fn new(
        tenant: &'a TenantId,
        vnf_instance: &'a VnfInstance,
        vnfd: &'a Vnfd,
        flavour: &'a DeploymentFlavour,
        package: &'a dyn PackageFiles,
    ) -> Self {
        Self {
            tenant,
            vnf_instance,
            vnfd,
            flavour,
            package,
        }
    }
}

/// The driver of one VIM type.
///
/// All methods converge and may be called again with the same context (see the module
/// documentation). [`InfraDriver::capabilities`] says which operations the driver
/// runs; a driver implements the methods of those and leaves every other method to
/// its default, which answers [`Error::OperationNotSupported`] naming the operation
/// and the driver. Instantiate and terminate are always there.
#[async_trait]
pub trait InfraDriver: Send + Sync + std::fmt::Debug {
    /// The `vimType` this driver serves, e.g. `ETSINFV.OPENSTACK_KEYSTONE.V_3`.
    fn vim_type(&self) -> &str;

    /// The operations the driver runs. The engine refuses a request whose operation
    /// (or, for a rollback, whose rollback) is missing before accepting it.
    fn capabilities(&self) -> InfraCapabilities;

    /// Check `request` before the engine accepts it, from the request, the package and
    /// the instance's record alone (no call to the VIM): what the driver would refuse
    /// once the operation runs (a parameter of the wrong shape, a file the package lacks,
    /// a mapping the package does not have) is refused up front, `Unprocessable` or
    /// `InvalidRequest` naming what is wrong, instead of failing the operation after
    /// it started. The default accepts everything.
    async fn validate_request(
        &self,
        ctx: &InfraRequestContext<'_>,
        request: &crate::lcm::OpRequest,
    ) -> Result<()> {
        let _ = (ctx, request);
        Ok(())
    }

    /// Create the VNF's resources for `ctx.flavour` at the requested instantiation level.
    /// Returns every resource created, each as ADDED.
    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome>;

    /// Remove every resource of the VNF. Returns each as REMOVED. Safe when the
    /// resources are already gone.
    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome>;

    /// Bring the VDUs of the target aspects to the instance counts of the target levels.
    /// Scale-in removes the most recently created VNFCs first.
    /// [`InfraOperation::Scale`].
    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        let _ = (ctx, target);
        Err(not_supported(self.vim_type(), InfraOperation::Scale))
    }

    /// Replace the compute (and, if asked, storage) resources of the VNFCs named in
    /// `vnfcInstanceId`, or of the whole VNF when it is empty. VNFC identifiers stay;
    /// replaced VNFCs are reported MODIFIED with their new compute resource. A VNFC
    /// already replaced by an earlier attempt is not replaced again.
    /// [`InfraOperation::HealVnfc`] and [`InfraOperation::HealVnf`].
    async fn heal(&self, ctx: &InfraContext<'_>, request: &HealVnfRequest) -> Result<InfraOutcome> {
        let _ = ctx;
        Err(not_supported(self.vim_type(), heal_operation(request)))
    }

    /// Move the VNF to another deployment flavour. [`InfraOperation::ChangeFlavour`].
    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(
            self.vim_type(),
            InfraOperation::ChangeFlavour,
        ))
    }

    /// Connect the external CPs to other external virtual links or change their
    /// addresses. [`InfraOperation::ChangeExtConn`].
    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(
            self.vim_type(),
            InfraOperation::ChangeExtConn,
        ))
    }

    /// Move the VNF to the package of `new_vnfd` (images and templates change; the
    /// VNFCs are updated or replaced and reported MODIFIED).
    /// [`InfraOperation::ChangeVnfpkg`].
    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        new_package: &dyn PackageFiles,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request, new_vnfd, new_package);
        Err(not_supported(self.vim_type(), InfraOperation::ChangeVnfpkg))
    }

    /// Start or stop the VNF's compute resources. [`InfraOperation::Operate`].
    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> Result<InfraOutcome> {
        let _ = (ctx, request);
        Err(not_supported(self.vim_type(), InfraOperation::Operate))
    }

    /// Roll back an operation that failed (or was cancelled): converge to the recorded
    /// state, [`InfraContext::recorded`] (for an instantiate: nothing at all), whatever
    /// part of the operation was done. One method for every kind of rollback, each
    /// with its own [`InfraOperation`] ([`Rollback::operation`]) in the capability set.
    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> Result<InfraOutcome> {
        let _ = ctx;
        Err(not_supported(self.vim_type(), rollback.operation()))
    }
}

/// The kind of heal a request asks for: of single VNFCs when it names some, else of
/// the whole VNF.
pub fn heal_operation(request: &HealVnfRequest) -> InfraOperation {
    if request.vnfc_instance_id.is_empty() {
        InfraOperation::HealVnf
    } else {
        InfraOperation::HealVnfc
    }
}

/// The metadata key of a VNFC's power state in `VnfcResourceInfo.metadata`.
pub const VNFC_POWER_STATE: &str = "powerState";

/// The [`Error::OperationNotSupported`] of the driver of `vim_type` for an operation it
/// lacks, e.g. "the ETSINFV.KUBERNETES.V_1 infra driver does not support operate".
pub fn not_supported(vim_type: &str, operation: InfraOperation) -> Error {
    Error::operation_not_supported(operation.name(), format!("the {vim_type} infra driver"))
}
