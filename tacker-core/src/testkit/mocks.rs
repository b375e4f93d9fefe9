//! Mocks of every driver trait, for embedders' own tests, generated with `mockall`.
//!
//! The driver traits take borrowed contexts (`&InfraContext<'_>`, `&MgmtContext<'_>`)
//! and are async, which `mockall` cannot expect on directly. Each trait therefore has
//! a synchronous *behaviour* trait with owned arguments (`InfraBehaviour`, …), mocked by
//! `mockall::automock` (`MockInfraBehaviour`, …), and a driver (`MockInfraDriver`, …)
//! that implements the real trait by handing each call, its context copied into an
//! owned call record ([`InfraCall`], [`MgmtCall`]), to the mock.
//!
//! ```
//! use tacker_core::testkit::mocks::{MockInfraBehaviour, MockInfraDriver};
//! use tacker_core::infra::{InfraCapabilities, InfraDriver};
//!
//! let mut behaviour = MockInfraBehaviour::new();
//! behaviour
//!     .expect_capabilities()
//!     .returning(InfraCapabilities::new);
//! let driver = MockInfraDriver::new("MY.CLOUD", behaviour);
//! assert_eq!(driver.vim_type(), "MY.CLOUD");
//! assert!(driver.capabilities().operations().count() >= 2);
//! ```

use async_trait::async_trait;
use mockall::automock;
use tokio::sync::mpsc;

use crate::grant::GrantProvider;
use crate::infra::{
    InfraCapabilities, InfraContext, InfraDriver, InfraOperation, InfraOutcome, Rollback,
    ScaleTarget,
};
use crate::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome, MgmtRequestContext};
use crate::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest, Grant,
    GrantRequest, HealVnfRequest, InstantiateVnfRequest, KeyValuePairs, OperateVnfRequest,
    TerminateVnfRequest, VimConnectionInfo, VnfInstance, VnfLcmOpOcc,
};
use crate::monitor::{
    HealthEvent, MonitorDriver, MonitorTarget, PolicyAction, PolicyDriver, PolicyEvent,
};
use crate::notify::{NotificationSink, NotificationTarget};
use crate::package::PackageFiles;
use crate::vim::{VimDescription, VimDriver};
use crate::vnfd::{LcmHook, Vnfd};
use crate::{Result, TenantId};

/// What an infra driver call was given, owned.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InfraCall {
    /// The tenant.
    pub tenant: TenantId,
    /// The op occurrence.
    pub vnf_lcm_op_occ_id: String,
    /// The instance as the engine recorded it before the call.
    pub vnf_instance: VnfInstance,
    /// The VNFD's `descriptor_id`.
    pub vnfd_id: String,
    /// The deployment flavour.
    pub flavour_id: String,
    /// The VIM's key in `vimConnectionInfo`.
    pub vim_connection_id: String,
    /// The VIM.
    pub vim: VimConnectionInfo,
    /// The grant, if the operation has one.
    pub grant: Option<Grant>,
}

impl InfraCall {
    /// The call record of `ctx`.
    pub fn of(ctx: &InfraContext<'_>) -> Self {
        Self {
            tenant: ctx.tenant.clone(),
            vnf_lcm_op_occ_id: ctx.vnf_lcm_op_occ_id.to_owned(),
            vnf_instance: ctx.vnf_instance.clone(),
            vnfd_id: ctx.vnfd.descriptor_id.clone(),
            flavour_id: ctx.flavour.id.clone(),
            vim_connection_id: ctx.vim_connection_id.to_owned(),
            vim: ctx.vim.clone(),
            grant: ctx.grant.cloned(),
        }
    }
}

/// The calls of an [`InfraDriver`], synchronous and with owned arguments (mocked as
/// `MockInfraBehaviour`).
#[automock]
pub trait InfraBehaviour: Send + Sync {
    /// [`InfraDriver::capabilities`].
    fn capabilities(&self) -> InfraCapabilities;
    /// [`InfraDriver::instantiate`].
    fn instantiate(
        &self,
        call: &InfraCall,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome>;
    /// [`InfraDriver::terminate`].
    fn terminate(&self, call: &InfraCall, request: &TerminateVnfRequest) -> Result<InfraOutcome>;
    /// [`InfraDriver::scale`].
    fn scale(&self, call: &InfraCall, target: &ScaleTarget) -> Result<InfraOutcome>;
    /// [`InfraDriver::heal`].
    fn heal(&self, call: &InfraCall, request: &HealVnfRequest) -> Result<InfraOutcome>;
    /// [`InfraDriver::change_flavour`].
    fn change_flavour(
        &self,
        call: &InfraCall,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome>;
    /// [`InfraDriver::change_ext_conn`].
    fn change_ext_conn(
        &self,
        call: &InfraCall,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome>;
    /// [`InfraDriver::change_vnfpkg`], with the new VNFD's `descriptor_id`.
    fn change_vnfpkg(
        &self,
        call: &InfraCall,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd_id: &str,
    ) -> Result<InfraOutcome>;
    /// [`InfraDriver::operate`].
    fn operate(&self, call: &InfraCall, request: &OperateVnfRequest) -> Result<InfraOutcome>;
    /// [`InfraDriver::rollback`], with the rollback operation.
    fn rollback(&self, call: &InfraCall, operation: InfraOperation) -> Result<InfraOutcome>;
}

/// An [`InfraDriver`] of `vim_type` whose calls go to a [`MockInfraBehaviour`].
pub struct MockInfraDriver {
    vim_type: String,
    behaviour: MockInfraBehaviour,
}

impl MockInfraDriver {
    /// A driver of `vim_type` answering with `behaviour`'s expectations.
    pub fn new(vim_type: impl Into<String>, behaviour: MockInfraBehaviour) -> Self {
        Self {
            vim_type: vim_type.into(),
            behaviour,
        }
    }
}

impl std::fmt::Debug for MockInfraDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockInfraDriver")
            .field("vim_type", &self.vim_type)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl InfraDriver for MockInfraDriver {
    fn vim_type(&self) -> &str {
        &self.vim_type
    }

    fn capabilities(&self) -> InfraCapabilities {
        self.behaviour.capabilities()
    }

    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome> {
        self.behaviour.instantiate(&InfraCall::of(ctx), request)
    }

    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome> {
        self.behaviour.terminate(&InfraCall::of(ctx), request)
    }

    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        self.behaviour.scale(&InfraCall::of(ctx), target)
    }

    async fn heal(&self, ctx: &InfraContext<'_>, request: &HealVnfRequest) -> Result<InfraOutcome> {
        self.behaviour.heal(&InfraCall::of(ctx), request)
    }

    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        self.behaviour.change_flavour(&InfraCall::of(ctx), request)
    }

    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        self.behaviour.change_ext_conn(&InfraCall::of(ctx), request)
    }

    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        _new_package: &dyn PackageFiles,
    ) -> Result<InfraOutcome> {
        self.behaviour
            .change_vnfpkg(&InfraCall::of(ctx), request, &new_vnfd.descriptor_id)
    }

    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> Result<InfraOutcome> {
        self.behaviour.operate(&InfraCall::of(ctx), request)
    }

    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> Result<InfraOutcome> {
        self.behaviour
            .rollback(&InfraCall::of(ctx), rollback.operation())
    }
}

/// What a management hook was given, owned.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MgmtCall {
    /// The tenant.
    pub tenant: TenantId,
    /// The hook run.
    pub hook: LcmHook,
    /// The op occurrence.
    pub op_occ: VnfLcmOpOcc,
    /// The instance.
    pub vnf_instance: VnfInstance,
    /// The VNFD's `descriptor_id`.
    pub vnfd_id: String,
    /// The deployment flavour.
    pub flavour_id: String,
    /// The instance's VIM, if it has one yet.
    pub vim: Option<VimConnectionInfo>,
}

impl MgmtCall {
    /// The call record of `ctx`.
    pub fn of(ctx: &MgmtContext<'_>) -> Self {
        Self {
            tenant: ctx.tenant.clone(),
            hook: ctx.hook,
            op_occ: ctx.op_occ.clone(),
            vnf_instance: ctx.vnf_instance.clone(),
            vnfd_id: ctx.vnfd.descriptor_id.clone(),
            flavour_id: ctx.flavour.id.clone(),
            vim: ctx.vim.cloned(),
        }
    }
}

/// What a management driver's request check was given, owned.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MgmtRequestCall {
    /// The tenant.
    pub tenant: TenantId,
    /// The hook the request will run.
    pub hook: LcmHook,
    /// The request body.
    pub request: serde_json::Value,
    /// Its `additionalParams`.
    pub additional_params: KeyValuePairs,
    /// The instance.
    pub vnf_instance: VnfInstance,
}

impl MgmtRequestCall {
    /// The call record of `ctx`.
    pub fn of(ctx: &MgmtRequestContext<'_>) -> Self {
        Self {
            tenant: ctx.tenant.clone(),
            hook: ctx.hook,
            request: ctx.request.clone(),
            additional_params: ctx.additional_params.clone(),
            vnf_instance: ctx.vnf_instance.clone(),
        }
    }
}

/// The calls of a [`MgmtDriver`] (mocked as `MockMgmtBehaviour`).
#[automock]
pub trait MgmtBehaviour: Send + Sync {
    /// [`MgmtDriver::run_hook`].
    fn run_hook(&self, call: &MgmtCall) -> Result<MgmtOutcome>;
    /// [`MgmtDriver::validate_request`].
    fn validate_request(&self, call: &MgmtRequestCall) -> Result<()>;
}

/// A [`MgmtDriver`] named `name` whose calls go to a [`MockMgmtBehaviour`].
pub struct MockMgmtDriver {
    name: String,
    behaviour: MockMgmtBehaviour,
}

impl MockMgmtDriver {
    /// A driver named `name` answering with `behaviour`'s expectations.
    pub fn new(name: impl Into<String>, behaviour: MockMgmtBehaviour) -> Self {
        Self {
            name: name.into(),
            behaviour,
        }
    }
}

impl std::fmt::Debug for MockMgmtDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockMgmtDriver")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl MgmtDriver for MockMgmtDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        self.behaviour.run_hook(&MgmtCall::of(ctx))
    }

    async fn validate_request(&self, ctx: &MgmtRequestContext<'_>) -> Result<()> {
        self.behaviour.validate_request(&MgmtRequestCall::of(ctx))
    }
}

/// The calls of a [`VimDriver`] (mocked as `MockVimBehaviour`).
#[automock]
pub trait VimBehaviour: Send + Sync {
    /// [`VimDriver::validate`].
    fn validate(&self, vim: &VimConnectionInfo) -> Result<VimDescription>;
}

/// A [`VimDriver`] of `vim_type` whose calls go to a [`MockVimBehaviour`].
pub struct MockVimDriver {
    vim_type: String,
    behaviour: MockVimBehaviour,
}

impl MockVimDriver {
    /// A driver of `vim_type` answering with `behaviour`'s expectations.
    pub fn new(vim_type: impl Into<String>, behaviour: MockVimBehaviour) -> Self {
        Self {
            vim_type: vim_type.into(),
            behaviour,
        }
    }
}

impl std::fmt::Debug for MockVimDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockVimDriver")
            .field("vim_type", &self.vim_type)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl VimDriver for MockVimDriver {
    fn vim_type(&self) -> &str {
        &self.vim_type
    }

    async fn validate(&self, vim: &VimConnectionInfo) -> Result<VimDescription> {
        self.behaviour.validate(vim)
    }
}

/// The calls of a [`GrantProvider`] (mocked as `MockGrantBehaviour`).
#[automock]
pub trait GrantBehaviour: Send + Sync {
    /// [`GrantProvider::grant`].
    fn grant(&self, tenant: &TenantId, request: &GrantRequest) -> Result<Grant>;
    /// [`GrantProvider::grant_uri`].
    fn grant_uri(&self, grant_id: &str) -> Option<String>;
}

/// A [`GrantProvider`] whose calls go to a [`MockGrantBehaviour`].
pub struct MockGrantProvider(MockGrantBehaviour);

impl MockGrantProvider {
    /// A provider answering with `behaviour`'s expectations.
    pub fn new(behaviour: MockGrantBehaviour) -> Self {
        Self(behaviour)
    }
}

impl std::fmt::Debug for MockGrantProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockGrantProvider")
    }
}

#[async_trait]
impl GrantProvider for MockGrantProvider {
    async fn grant(&self, tenant: &TenantId, request: &GrantRequest) -> Result<Grant> {
        self.0.grant(tenant, request)
    }

    fn grant_uri(&self, grant_id: &str) -> Option<String> {
        self.0.grant_uri(grant_id)
    }
}

/// The calls of a [`NotificationSink`] (mocked as `MockSinkBehaviour`).
#[automock]
pub trait SinkBehaviour: Send + Sync {
    /// [`NotificationSink::deliver`].
    fn deliver(&self, target: &NotificationTarget, notification: &serde_json::Value) -> Result<()>;
    /// [`NotificationSink::check_callback`].
    fn check_callback(&self, target: &NotificationTarget) -> Result<()>;
}

/// A [`NotificationSink`] whose calls go to a [`MockSinkBehaviour`].
pub struct MockNotificationSink(MockSinkBehaviour);

impl MockNotificationSink {
    /// A sink answering with `behaviour`'s expectations.
    pub fn new(behaviour: MockSinkBehaviour) -> Self {
        Self(behaviour)
    }
}

impl std::fmt::Debug for MockNotificationSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockNotificationSink")
    }
}

#[async_trait]
impl NotificationSink for MockNotificationSink {
    async fn deliver(
        &self,
        target: &NotificationTarget,
        notification: &serde_json::Value,
    ) -> Result<()> {
        self.0.deliver(target, notification)
    }

    async fn check_callback(&self, target: &NotificationTarget) -> Result<()> {
        self.0.check_callback(target)
    }
}

/// The calls of a [`MonitorDriver`] (mocked as `MockMonitorBehaviour`).
#[automock]
pub trait MonitorBehaviour: Send + Sync {
    /// [`MonitorDriver::watch`].
    fn watch(&self, target: MonitorTarget, events: mpsc::Sender<HealthEvent>) -> Result<()>;
    /// [`MonitorDriver::stop`].
    fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()>;
}

/// A [`MonitorDriver`] named `name` whose calls go to a [`MockMonitorBehaviour`].
pub struct MockMonitorDriver {
    name: String,
    behaviour: MockMonitorBehaviour,
}

impl MockMonitorDriver {
    /// A monitor named `name` answering with `behaviour`'s expectations.
    pub fn new(name: impl Into<String>, behaviour: MockMonitorBehaviour) -> Self {
        Self {
            name: name.into(),
            behaviour,
        }
    }
}

impl std::fmt::Debug for MockMonitorDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockMonitorDriver")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl MonitorDriver for MockMonitorDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn watch(&self, target: MonitorTarget, events: mpsc::Sender<HealthEvent>) -> Result<()> {
        self.behaviour.watch(target, events)
    }

    async fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        self.behaviour.stop(tenant, vnf_instance_id)
    }
}

/// The calls of a [`PolicyDriver`] (mocked as `MockPolicyBehaviour`).
#[automock]
pub trait PolicyBehaviour: Send + Sync {
    /// [`PolicyDriver::on_event`].
    fn on_event(&self, event: &PolicyEvent, instance: &VnfInstance) -> Result<Vec<PolicyAction>>;
    /// [`PolicyDriver::due`].
    fn due(&self, now: crate::model::DateTime) -> Result<Vec<PolicyAction>>;
}

/// A [`PolicyDriver`] named `name` whose calls go to a [`MockPolicyBehaviour`].
pub struct MockPolicyDriver {
    name: String,
    behaviour: MockPolicyBehaviour,
}

impl MockPolicyDriver {
    /// A policy named `name` answering with `behaviour`'s expectations.
    pub fn new(name: impl Into<String>, behaviour: MockPolicyBehaviour) -> Self {
        Self {
            name: name.into(),
            behaviour,
        }
    }
}

impl std::fmt::Debug for MockPolicyDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockPolicyDriver")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PolicyDriver for MockPolicyDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn on_event(
        &self,
        event: &PolicyEvent,
        instance: &VnfInstance,
    ) -> Result<Vec<PolicyAction>> {
        self.behaviour.on_event(event, instance)
    }

    async fn due(&self, now: crate::model::DateTime) -> Result<Vec<PolicyAction>> {
        self.behaviour.due(now)
    }
}
