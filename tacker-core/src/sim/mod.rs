//! The simulated VIM: an [`InfraDriver`] ([`SimInfraDriver`]) and a
//! [`VimDriver`](crate::vim::VimDriver) ([`SimVimDriver`]) that keep each VNF instance's
//! resources in memory or, durable, in a [`Store`].
//!
//! It is the embedded default VIM and the reference implementation of the infra-driver
//! contract: every operation converges (see [`crate::infra`]), so a call retried with
//! the same context changes nothing and returns an equal [`InfraOutcome`], and
//! `resourceChanges` are always computed against the instance as recorded in
//! [`InfraContext::vnf_instance`].
//!
//! # What it simulates
//!
//! Per VNF instance (and tenant), a deployment holds:
//! - one server per VNFC, with a stable VNFC id and a compute resource id that heal and
//!   package changes replace; its image is the grant's `vimAssets.softwareImages` entry
//!   for the VDU when there is one, else the VDU's `sw_image` name; its vCPUs and memory
//!   come from the VDU's `virtual_compute`; it is started or stopped (operate);
//! - one port per VduCp of the VDU, with a MAC and an IP address, plugged into the
//!   network of its internal virtual link, into an externally managed link, or into the
//!   external virtual link of the request whose `extCps` name the CP (by VduCp id or by
//!   the flavour's external CP id) — then it is also an external CP;
//! - one network per internal virtual link the NFVO does not provide;
//! - one volume per storage the VDU requires.
//!
//! Reported resource types: [`COMPUTE_RESOURCE_TYPE`], [`PORT_RESOURCE_TYPE`],
//! [`NETWORK_RESOURCE_TYPE`], [`VOLUME_RESOURCE_TYPE`]. Lists are sorted by id.
//!
//! # Where the resources live
//!
//! [`SimInfraDriver::default`] keeps the deployments in this process's memory: they
//! are gone with the driver (the form for tests). [`SimInfraDriver::with_store`] (or
//! [`SimBuilder::store`]) keeps each deployment in the store as a
//! [`DriverStateRecord`] of the instance's tenant, with id
//! `sim/<vimType>/<vnfInstanceId>`: the resources survive a restart, and every driver on
//! the same store (processes sharing PostgreSQL) sees and changes the same ones. Each
//! call reads the deployment, changes it and writes it back at the version it read; when
//! another driver wrote in between, the call runs again on what that driver wrote, so
//! no change is lost. Latency, faults, call counters and configured addresses stay per
//! driver. The synchronous inspectors ([`SimInfraDriver::deployment`],
//! [`SimInfraDriver::resource_ids`], [`SimInfraDriver::deployment_count`]) show what
//! this driver last read or wrote; [`SimInfraDriver::load_deployment`] and
//! [`SimInfraDriver::load_resource_ids`] read the store.
//!
//! # Addresses
//!
//! [`SimBuilder::vdu_addresses`] gives a VDU a list of addresses, handed in order to the
//! first CP of each of its VNFCs (an address is free again when its VNFC is gone), so
//! tests can point monitors or SSH at real local hosts. All other addresses come from
//! 127.64.0.0/16: loopback, so anything that probes them stays on this machine. They
//! are not reused within a deployment until the 65 000 addresses of the pool are spent.
//!
//! With [`SimBuilder::heal_readdresses`] (or [`SimInfraDriver::set_heal_readdresses`]),
//! heal gives each replaced VNFC's first CP the VDU's next configured address that no
//! port uses (after its current one, wrapping), as a rebuilt server that got a new
//! address would; without a free one it keeps its address. A test can so point a
//! VNFC's health endpoint at a local server, stop that server, and have the healed
//! VNFC answer at a second configured address where a healthy server listens.
//!
//! # Latency, faults and counters
//!
//! Each call kind ([`SimOperation`]) can be given a latency (or a default for all),
//! slept with `tokio::time::sleep` and cut short by the context's cancellation token
//! (`Error::Cancelled`). Faults are injected per call kind: [`SimInfraDriver::fail_nth`],
//! [`SimInfraDriver::fail_once`], [`SimInfraDriver::fail_always`] fail before any state
//! changes; [`SimInfraDriver::fail_after_partial`] lets the call do the first half
//! (rounded up) of its server creations, removals and replacements, then fail. Either
//! way the error is a retryable `Error::Driver` of driver `sim` whose message names the
//! call kind and says "injected fault". [`SimInfraDriver::calls`] counts the calls.
//!
//! # Operations
//!
//! - instantiate: creates what `ctx.flavour` asks for at the request's instantiation
//!   level, and connects the external (and externally managed) links of the request
//!   and of the grant;
//! - terminate and rollback of instantiate: remove everything; fine when nothing is left;
//! - scale: brings the VDUs of the target aspects to the instance counts of the recorded
//!   scale status overlaid with the target levels; scale-in removes the most recently
//!   created VNFCs first;
//! - heal: gives the named VNFCs (`VnfcResourceInfo` or `VnfcInfo` ids; all when none are
//!   named) a new compute resource, unless the compute resource already differs from
//!   the recorded one (an earlier attempt replaced it). With `additionalParams.all:
//!   true` their volumes are replaced too. An unknown VNFC is `Unprocessable`;
//! - operate: sets the power state (the VNFC metadata `powerState`; not a resource
//!   change);
//! - change flavour: converges to the new flavour at the request's level, rebuilding
//!   servers whose VDU definition differs;
//! - change external connectivity: rewires the external CPs to the request's links and
//!   reports them in `changedExtConnectivity`;
//! - change current package: rebuilds every server from the new VNFD (MODIFIED);
//! - every other rollback: makes the deployment what `ctx.vnf_instance` records
//!   (recreating removed VNFCs under their recorded ids).

mod deployment;
mod report;
mod sample;
mod vim;

use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::infra::{
    InfraCapabilities, InfraContext, InfraDriver, InfraOperation, InfraOutcome, Rollback,
    ScaleTarget, heal_operation,
};
use crate::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest,
    HealVnfRequest, InstantiateVnfRequest, InstantiatedVnfInfo, KeyValuePairs, OperateVnfRequest,
    TerminateVnfRequest, VimConnectionInfo, VnfOperationalStateType, VnfcResourceInfo,
};
use crate::package::PackageFiles;
use crate::store::{DriverStateRecord, RecordKind, Store, StoreExt, Write};
use crate::vnfd::{DeploymentFlavour, Vdu, Vnfd};
use crate::{Error, Result, TenantId, new_id};

use deployment::{Blueprint, Deployment, Images, Template, Work};

pub use sample::{
    AppliedOperation, SAMPLE_VIM_CONNECTION_ID, apply_outcome, sample_ext_virtual_links,
    sample_instance, sample_instantiate_request, sample_vim, sample_vnfd,
};
pub use vim::SimVimDriver;

/// The `vimType` the simulated VIM serves unless built with another.
pub const SIM_VIM_TYPE: &str = "ETSINFV.SIMULATED.V_1";
/// `vimLevelResourceType` of a server.
pub const COMPUTE_RESOURCE_TYPE: &str = "SIM::Compute::Server";
/// `vimLevelResourceType` of a port.
pub const PORT_RESOURCE_TYPE: &str = "SIM::Network::Port";
/// `vimLevelResourceType` of a network.
pub const NETWORK_RESOURCE_TYPE: &str = "SIM::Network::Net";
/// `vimLevelResourceType` of a volume.
pub const VOLUME_RESOURCE_TYPE: &str = "SIM::Storage::Volume";

/// A kind of call to the simulated VIM, for latency, faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimOperation {
    /// [`InfraDriver::instantiate`].
    Instantiate,
    /// [`InfraDriver::rollback`] of an instantiate.
    RollbackInstantiate,
    /// [`InfraDriver::terminate`].
    Terminate,
    /// [`InfraDriver::scale`].
    Scale,
    /// [`InfraDriver::rollback`] of a scale.
    RollbackScale,
    /// [`InfraDriver::heal`].
    Heal,
    /// [`InfraDriver::operate`].
    Operate,
    /// [`InfraDriver::change_flavour`].
    ChangeFlavour,
    /// [`InfraDriver::rollback`] of a change of flavour.
    RollbackChangeFlavour,
    /// [`InfraDriver::change_ext_conn`].
    ChangeExtConn,
    /// [`InfraDriver::rollback`] of a change of external connectivity.
    RollbackChangeExtConn,
    /// [`InfraDriver::change_vnfpkg`].
    ChangeVnfpkg,
    /// [`InfraDriver::rollback`] of a change of the current package.
    RollbackChangeVnfpkg,
    /// [`VimDriver::validate`](crate::vim::VimDriver::validate) of [`SimVimDriver`].
    Validate,
}

impl SimOperation {
    /// Every call kind.
    pub const ALL: [Self; 14] = [
        Self::Instantiate,
        Self::RollbackInstantiate,
        Self::Terminate,
        Self::Scale,
        Self::RollbackScale,
        Self::Heal,
        Self::Operate,
        Self::ChangeFlavour,
        Self::RollbackChangeFlavour,
        Self::ChangeExtConn,
        Self::RollbackChangeExtConn,
        Self::ChangeVnfpkg,
        Self::RollbackChangeVnfpkg,
        Self::Validate,
    ];

    /// The snake_case name, e.g. `rollback_scale`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instantiate => "instantiate",
            Self::RollbackInstantiate => "rollback_instantiate",
            Self::Terminate => "terminate",
            Self::Scale => "scale",
            Self::RollbackScale => "rollback_scale",
            Self::Heal => "heal",
            Self::Operate => "operate",
            Self::ChangeFlavour => "change_flavour",
            Self::RollbackChangeFlavour => "rollback_change_flavour",
            Self::ChangeExtConn => "change_ext_conn",
            Self::RollbackChangeExtConn => "rollback_change_ext_conn",
            Self::ChangeVnfpkg => "change_vnfpkg",
            Self::RollbackChangeVnfpkg => "rollback_change_vnfpkg",
            Self::Validate => "validate",
        }
    }
}

impl std::fmt::Display for SimOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultMode {
    BeforeWork,
    AfterPartialWork,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The call with this number (as counted by `calls`).
    Call(u64),
    Always,
}

#[derive(Debug, Clone, Copy)]
struct FaultRule {
    op: SimOperation,
    trigger: Trigger,
    mode: FaultMode,
}

#[derive(Debug, Default)]
struct State {
    deployments: BTreeMap<(TenantId, String), Deployment>,
    calls: BTreeMap<SimOperation, u64>,
    faults: Vec<FaultRule>,
    latency: BTreeMap<SimOperation, Duration>,
    default_latency: Duration,
    vdu_addresses: BTreeMap<String, Vec<IpAddr>>,
    heal_readdresses: bool,
}

impl State {
    fn take_fault(&mut self, op: SimOperation, number: u64) -> Option<FaultMode> {
        let index = self.faults.iter().position(|rule| {
            rule.op == op
                && match rule.trigger {
                    Trigger::Call(n) => n == number,
                    Trigger::Always => true,
                }
        })?;
        let rule = self.faults[index];
        if rule.trigger != Trigger::Always {
            self.faults.remove(index);
        }
        Some(rule.mode)
    }
}

#[derive(Debug)]
struct Shared {
    vim_type: String,
    capabilities: InfraCapabilities,
    /// Where the deployments live when the VIM is durable; `State::deployments` is
    /// then what this driver last read or wrote.
    store: Option<Arc<dyn Store>>,
    state: Mutex<State>,
}

/// One admitted call: its kind, its number, and whether it is to fail after doing
/// half its work.
#[derive(Debug, Clone, Copy)]
struct Call {
    op: SimOperation,
    number: u64,
    partial: bool,
}

impl Call {
    fn injected(&self) -> Error {
        let what = if self.partial {
            "injected fault after partial work"
        } else {
            "injected fault"
        };
        Error::driver(
            "sim",
            true,
            format!("{what} in {} (call {})", self.op, self.number),
        )
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call, picks its fault, waits its latency (watching `cancel`), and
    /// fails it when the fault says so.
    async fn begin(
        &self,
        op: SimOperation,
        vim: Option<&VimConnectionInfo>,
        cancel: &CancellationToken,
    ) -> Result<Call> {
        if let Some(vim) = vim
            && vim.vim_type != self.vim_type
        {
            return Err(Error::InvalidRequest(format!(
                "vimType {} is not served by the simulated VIM ({})",
                vim.vim_type, self.vim_type
            )));
        }
        let (number, delay, fault) = {
            let mut state = self.lock();
            let counter = state.calls.entry(op).or_default();
            *counter += 1;
            let number = *counter;
            let fault = state.take_fault(op, number);
            let delay = state
                .latency
                .get(&op)
                .copied()
                .unwrap_or(state.default_latency);
            (number, delay, fault)
        };
        let cancelled = || Error::Cancelled(format!("{op} call to the simulated VIM"));
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        if !delay.is_zero() {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(cancelled()),
                () = tokio::time::sleep(delay) => {}
            }
        }
        let call = Call {
            op,
            number,
            partial: fault == Some(FaultMode::AfterPartialWork),
        };
        if fault == Some(FaultMode::BeforeWork) {
            return Err(call.injected());
        }
        Ok(call)
    }
}

/// The simulated VIM's [`InfraDriver`]. Cheap to clone: clones share the VIM.
///
/// See the [module documentation](self) for what it simulates.
#[derive(Debug, Clone)]
pub struct SimInfraDriver {
    shared: Arc<Shared>,
}

impl Default for SimInfraDriver {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Configures a [`SimInfraDriver`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    vim_type: String,
    capabilities: InfraCapabilities,
    latency: BTreeMap<SimOperation, Duration>,
    default_latency: Duration,
    vdu_addresses: BTreeMap<String, Vec<IpAddr>>,
    heal_readdresses: bool,
    store: Option<Arc<dyn Store>>,
}

impl SimBuilder {
    /// The `vimType` to serve (default [`SIM_VIM_TYPE`]).
    pub fn vim_type(mut self, vim_type: impl Into<String>) -> Self {
        self.vim_type = vim_type.into();
        self
    }

    /// The capabilities to declare (default [`InfraCapabilities::ALL`]). Operations
    /// left out answer `OperationNotSupported`, as a driver without them would.
    pub fn capabilities(mut self, capabilities: InfraCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The latency of one call kind.
    pub fn latency(mut self, op: SimOperation, latency: Duration) -> Self {
        self.latency.insert(op, latency);
        self
    }

    /// The latency of every call kind without its own (default none).
    pub fn default_latency(mut self, latency: Duration) -> Self {
        self.default_latency = latency;
        self
    }

    /// Addresses for the first CP of a VDU's VNFCs, handed out in order.
    pub fn vdu_addresses(
        mut self,
        vdu_id: impl Into<String>,
        addresses: impl IntoIterator<Item = IpAddr>,
    ) -> Self {
        self.vdu_addresses
            .insert(vdu_id.into(), addresses.into_iter().collect());
        self
    }

    /// Whether heal moves a replaced VNFC to the VDU's next free configured address
    /// (see the module documentation; default false).
    pub fn heal_readdresses(mut self, enabled: bool) -> Self {
        self.heal_readdresses = enabled;
        self
    }

    /// Keeps the deployments in `store` (as [`DriverStateRecord`]s) instead of in this
    /// process's memory: they survive a restart, and every driver on the same store
    /// (another process sharing the database) sees and changes the same resources.
    /// Latency, faults, counters and addresses stay per driver.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The driver.
    pub fn build(self) -> SimInfraDriver {
        let state = State {
            latency: self.latency,
            default_latency: self.default_latency,
            vdu_addresses: self.vdu_addresses,
            heal_readdresses: self.heal_readdresses,
            ..State::default()
        };
        SimInfraDriver {
            shared: Arc::new(Shared {
                vim_type: self.vim_type,
                capabilities: self.capabilities,
                store: self.store,
                state: Mutex::new(state),
            }),
        }
    }
}

/// A server of the simulated VIM, as [`SimInfraDriver::deployment`] shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimServer {
    /// The VNFC id.
    pub vnfc_id: String,
    /// The VDU.
    pub vdu_id: String,
    /// The compute resource id.
    pub resource_id: String,
    /// The image.
    pub image: Option<String>,
    /// Started or stopped.
    pub power_state: VnfOperationalStateType,
    /// The addresses of its CPs, in CP order.
    pub addresses: Vec<IpAddr>,
    /// The resource ids of its volumes.
    pub volume_resource_ids: Vec<String>,
}

/// What the simulated VIM holds for one VNF instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SimDeployment {
    /// The deployment id (also in the outcome's metadata as `simDeploymentId`).
    pub id: String,
    /// The VNFD the deployment was built from.
    pub vnfd_id: String,
    /// The flavour.
    pub flavour_id: String,
    /// The servers, oldest first.
    pub servers: Vec<SimServer>,
    /// The internal virtual links (descriptor ids) that have a network.
    pub networks: Vec<String>,
    /// The external virtual links (ids) connected.
    pub ext_virtual_links: Vec<String>,
}

fn unprocessable(message: String) -> Error {
    Error::Unprocessable(message)
}

fn check_level(flavour: &DeploymentFlavour, level: Option<&str>) -> Result<()> {
    match level {
        Some(id) if flavour.instantiation_level(id).is_none() => Err(unprocessable(format!(
            "flavour {} has no instantiation level {id}",
            flavour.id
        ))),
        _ => Ok(()),
    }
}

fn recorded<'a>(ctx: &InfraContext<'a>) -> Result<&'a InstantiatedVnfInfo> {
    ctx.vnf_instance
        .instantiated_vnf_info
        .as_ref()
        .ok_or_else(|| {
            Error::Conflict(format!(
                "VNF instance {} is not instantiated",
                ctx.vnf_instance.id
            ))
        })
}

fn existing<'d>(
    slot: &'d mut Option<Deployment>,
    ctx: &InfraContext<'_>,
) -> Result<&'d mut Deployment> {
    slot.as_mut().ok_or_else(|| {
        Error::Conflict(format!(
            "the simulated VIM holds no resources of VNF instance {}",
            ctx.vnf_instance.id
        ))
    })
}

fn scale_levels(info: &InstantiatedVnfInfo) -> BTreeMap<String, u32> {
    info.scale_status
        .iter()
        .map(|s| (s.aspect_id.clone(), s.scale_level))
        .collect()
}

/// Removes every server (most recent first) and, when all are gone, the deployment.
fn remove_all(slot: &mut Option<Deployment>, work: &mut Work<'_>) {
    if let Some(deployment) = slot.as_mut()
        && deployment.remove_servers(|_| true, work)
    {
        *slot = None;
    }
}

/// Rebuilds the servers of `vdu` that were built from another VNFD or VDU definition.
fn rebuild_stale(
    deployment: &mut Deployment,
    blueprint: &Blueprint<'_>,
    vdu: &Vdu,
    work: &mut Work<'_>,
) {
    let template = Template::of(blueprint.vnfd_id, vdu);
    let mut stale: Vec<usize> = (0..deployment.servers.len())
        .filter(|&i| {
            let server = &deployment.servers[i];
            server.vdu_id == vdu.id && server.template != template
        })
        .collect();
    stale.sort_by_key(|&i| deployment.servers[i].seq);
    for index in stale {
        if !deployment.replace_compute(index, Some((blueprint, vdu)), work) {
            return;
        }
    }
}

impl SimInfraDriver {
    /// A driver with the defaults: type [`SIM_VIM_TYPE`], every capability, no latency.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with the defaults.
    pub fn builder() -> SimBuilder {
        SimBuilder {
            vim_type: SIM_VIM_TYPE.to_owned(),
            capabilities: InfraCapabilities::ALL,
            latency: BTreeMap::new(),
            default_latency: Duration::ZERO,
            vdu_addresses: BTreeMap::new(),
            heal_readdresses: false,
            store: None,
        }
    }

    /// A driver with the defaults whose deployments live in `store` (see
    /// [`SimBuilder::store`]): the form a VNFM uses, so that the simulated resources
    /// outlive the process.
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        Self::builder().store(store).build()
    }

    /// Whether the deployments live in a store.
    pub fn is_durable(&self) -> bool {
        self.shared.store.is_some()
    }

    /// This VIM as a [`crate::VimType`]: this driver and its [`SimVimDriver`].
    pub fn as_vim_type(&self) -> crate::VimType {
        crate::VimType::from_parts(Arc::new(self.clone()), Arc::new(self.vim_driver()))
    }

    /// The [`SimVimDriver`] of this VIM (same type, latency, faults and counters).
    pub fn vim_driver(&self) -> SimVimDriver {
        SimVimDriver::new(self.shared.clone())
    }

    /// Sets the latency of one call kind.
    pub fn set_latency(&self, op: SimOperation, latency: Duration) {
        self.shared.lock().latency.insert(op, latency);
    }

    /// Sets the latency of every call kind without its own.
    pub fn set_default_latency(&self, latency: Duration) {
        self.shared.lock().default_latency = latency;
    }

    /// Sets whether heal moves a replaced VNFC to the VDU's next free configured address.
    pub fn set_heal_readdresses(&self, enabled: bool) {
        self.shared.lock().heal_readdresses = enabled;
    }

    /// Sets the addresses for the first CP of a VDU's VNFCs (used by VNFCs created
    /// from now on).
    pub fn set_vdu_addresses(&self, vdu_id: &str, addresses: impl IntoIterator<Item = IpAddr>) {
        self.shared
            .lock()
            .vdu_addresses
            .insert(vdu_id.to_owned(), addresses.into_iter().collect());
    }

    fn add_fault(&self, op: SimOperation, after: u64, trigger_always: bool, mode: FaultMode) {
        let mut state = self.shared.lock();
        let trigger = if trigger_always {
            Trigger::Always
        } else {
            let done = state.calls.get(&op).copied().unwrap_or(0);
            Trigger::Call(done + after.max(1))
        };
        state.faults.push(FaultRule { op, trigger, mode });
    }

    /// The `n`-th call of `op` from now (counting from 1) fails before changing
    /// anything.
    pub fn fail_nth(&self, op: SimOperation, n: u64) {
        self.add_fault(op, n, false, FaultMode::BeforeWork);
    }

    /// The next call of `op` fails before changing anything.
    pub fn fail_once(&self, op: SimOperation) {
        self.fail_nth(op, 1);
    }

    /// Every call of `op` fails before changing anything, until [`Self::clear_faults`].
    pub fn fail_always(&self, op: SimOperation) {
        self.add_fault(op, 0, true, FaultMode::BeforeWork);
    }

    /// The next call of `op` does the first half (rounded up) of its server creations,
    /// removals and replacements (and everything else it does), then fails.
    pub fn fail_after_partial(&self, op: SimOperation) {
        self.add_fault(op, 1, false, FaultMode::AfterPartialWork);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many calls of `op` were made (including failed and cancelled ones).
    pub fn calls(&self, op: SimOperation) -> u64 {
        self.shared.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// What the VIM holds for a VNF instance, if anything. For a durable VIM (see
    /// [`SimBuilder::store`]) this is what this driver last read or wrote; use
    /// [`Self::load_deployment`] to read the store.
    pub fn deployment(&self, tenant: &TenantId, vnf_instance_id: &str) -> Option<SimDeployment> {
        let state = self.shared.lock();
        state
            .deployments
            .get(&(tenant.clone(), vnf_instance_id.to_owned()))
            .map(snapshot)
    }

    /// What the VIM holds for a VNF instance, if anything, read from the store when
    /// the VIM is durable (what every driver on that store sees).
    pub async fn load_deployment(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
    ) -> Result<Option<SimDeployment>> {
        Ok(self
            .current(tenant, vnf_instance_id)
            .await?
            .0
            .as_ref()
            .map(snapshot))
    }

    /// Every VIM resource id (servers, ports, volumes, networks) held for a VNF
    /// instance, sorted; empty when nothing is. For a durable VIM, as this driver last
    /// read or wrote them; see [`Self::load_resource_ids`].
    pub fn resource_ids(&self, tenant: &TenantId, vnf_instance_id: &str) -> Vec<String> {
        self.shared
            .lock()
            .deployments
            .get(&(tenant.clone(), vnf_instance_id.to_owned()))
            .map(report::resource_ids)
            .unwrap_or_default()
    }

    /// [`Self::resource_ids`], read from the store when the VIM is durable.
    pub async fn load_resource_ids(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
    ) -> Result<Vec<String>> {
        Ok(self
            .current(tenant, vnf_instance_id)
            .await?
            .0
            .as_ref()
            .map(report::resource_ids)
            .unwrap_or_default())
    }

    /// How many VNF instances have resources in the VIM (for a durable VIM, among those
    /// this driver last read or wrote).
    pub fn deployment_count(&self) -> usize {
        self.shared.lock().deployments.len()
    }

    /// The id of the [`DriverStateRecord`] holding an instance's deployment.
    fn state_id(&self, vnf_instance_id: &str) -> String {
        format!("{STATE_DRIVER}/{}/{vnf_instance_id}", self.shared.vim_type)
    }

    /// The deployment of an instance and the version of its record (0 when in memory
    /// or absent). A durable read also refreshes this driver's copy.
    async fn current(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
    ) -> Result<(Option<Deployment>, u64)> {
        let key = (tenant.clone(), vnf_instance_id.to_owned());
        let Some(store) = &self.shared.store else {
            return Ok((self.shared.lock().deployments.get(&key).cloned(), 0));
        };
        let id = self.state_id(vnf_instance_id);
        let found = match store.get_typed::<DriverStateRecord>(tenant, &id).await {
            Ok(found) => Some(found),
            Err(Error::NotFound { .. }) => None,
            Err(other) => return Err(other),
        };
        let (deployment, version) = match found {
            Some(found) => {
                let deployment: Deployment =
                    serde_json::from_value(found.value.state).map_err(|e| {
                        Error::Internal(format!(
                            "the simulated VIM's record {id} is unreadable: {e}"
                        ))
                    })?;
                (Some(deployment), found.version)
            }
            None => (None, 0),
        };
        self.remember(key, deployment.clone());
        Ok((deployment, version))
    }

    /// Sets this driver's copy of a deployment.
    fn remember(&self, key: (TenantId, String), deployment: Option<Deployment>) {
        let mut state = self.shared.lock();
        match deployment {
            Some(deployment) => {
                state.deployments.insert(key, deployment);
            }
            None => {
                state.deployments.remove(&key);
            }
        }
    }

    /// Refuses an operation the driver was built without (see
    /// [`SimBuilder::capabilities`]), as a driver lacking it would.
    fn require(&self, operation: InfraOperation) -> Result<()> {
        self.shared
            .capabilities
            .require(operation, &self.shared.vim_type)
    }

    async fn begin(&self, op: SimOperation, ctx: &InfraContext<'_>) -> Result<Call> {
        self.shared.begin(op, Some(ctx.vim), ctx.cancel).await
    }

    /// Runs `body` on the instance's deployment and commits the result: in memory
    /// under the lock; in a store as a read-modify-write at the version read, run again
    /// on what another driver wrote when it changed in between. A failing body changes
    /// nothing. For a partial-work fault, a dry run on a copy measures the work, and the
    /// real run gets half of it.
    async fn apply(
        &self,
        call: &Call,
        ctx: &InfraContext<'_>,
        changed_ext: Option<&[String]>,
        body: impl Fn(&mut Option<Deployment>, &mut Work<'_>) -> Result<()>,
    ) -> Result<InfraOutcome> {
        let key = (ctx.tenant.clone(), ctx.vnf_instance.id.clone());
        let Some(store) = &self.shared.store else {
            let mut state = self.shared.lock();
            let current = state.deployments.get(&key).cloned();
            let slot = run_body(&state, call, current, &body)?;
            let outcome = outcome(slot.as_ref(), ctx, changed_ext);
            match slot {
                Some(deployment) => {
                    state.deployments.insert(key, deployment);
                }
                None => {
                    state.deployments.remove(&key);
                }
            }
            drop(state);
            return finish(call, outcome);
        };
        let id = self.state_id(&ctx.vnf_instance.id);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (current, version) = self.current(ctx.tenant, &ctx.vnf_instance.id).await?;
            let slot = run_body(&self.shared.lock(), call, current.clone(), &body)?;
            let outcome = outcome(slot.as_ref(), ctx, changed_ext);
            let write = match (&slot, version) {
                (after, _) if *after == current => None,
                (Some(deployment), version) => {
                    let record = DriverStateRecord {
                        id: id.clone(),
                        driver: STATE_DRIVER.to_owned(),
                        vnf_instance_id: Some(ctx.vnf_instance.id.clone()),
                        state: serde_json::to_value(deployment)
                            .map_err(|e| Error::Internal(e.to_string()))?,
                    };
                    Some(if version == 0 {
                        Write::Insert(record.into())
                    } else {
                        Write::Update {
                            record: record.into(),
                            expected_version: version,
                        }
                    })
                }
                (None, version) => Some(Write::Delete {
                    kind: RecordKind::DriverState,
                    id: id.clone(),
                    expected_version: Some(version),
                }),
            };
            let committed = match write {
                Some(write) => store.commit(ctx.tenant, vec![write]).await.map(|_| ()),
                None => Ok(()),
            };
            match committed {
                Ok(()) => {
                    self.remember(key, slot);
                    return finish(call, outcome);
                }
                // Another driver on the store changed (or removed) the deployment since
                // it was read: run again on what it wrote.
                Err(error)
                    if (error.is_conflict() || matches!(error, Error::NotFound { .. }))
                        && attempt < MAX_STORE_ATTEMPTS =>
                {
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                Err(error) if error.is_conflict() => {
                    let message = error.conflict_reason().unwrap_or_default();
                    return Err(Error::driver(
                        "sim",
                        true,
                        format!(
                            "{} call {}: the deployment of VNF instance {} kept changing \
                             under it ({message})",
                            call.op, call.number, ctx.vnf_instance.id
                        ),
                    ));
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// The rollbacks other than instantiate: back to what `ctx.vnf_instance` records.
    async fn restore(
        &self,
        op: SimOperation,
        ctx: &InfraContext<'_>,
        changed_ext: Option<&[String]>,
    ) -> Result<InfraOutcome> {
        let call = self.begin(op, ctx).await?;
        let recorded = ctx.vnf_instance.instantiated_vnf_info.as_ref();
        let flavour = recorded
            .and_then(|info| ctx.vnfd.flavour(&info.flavour_id))
            .unwrap_or(ctx.flavour);
        self.apply(&call, ctx, changed_ext, |slot, work| {
            let Some(info) = recorded else {
                remove_all(slot, work);
                return Ok(());
            };
            let blueprint = Blueprint {
                vnfd_id: &ctx.vnfd.descriptor_id,
                flavour,
                images: Images::Recorded(info),
            };
            let deployment =
                slot.get_or_insert_with(|| Deployment::new(&ctx.vnfd.descriptor_id, &flavour.id));
            deployment.restore(info, &blueprint, work);
            Ok(())
        })
        .await
    }
}

/// The driver name of the simulated VIM's [`DriverStateRecord`]s.
const STATE_DRIVER: &str = "sim";
/// How often a durable call reads, changes and writes its deployment before giving up
/// (each retry follows a write by another driver in between).
const MAX_STORE_ATTEMPTS: u32 = 20;

/// What a server looks like from outside.
fn snapshot(deployment: &Deployment) -> SimDeployment {
    let mut servers: Vec<&deployment::Server> = deployment.servers.iter().collect();
    servers.sort_by_key(|s| s.seq);
    SimDeployment {
        id: deployment.id.clone(),
        vnfd_id: deployment.vnfd_id.clone(),
        flavour_id: deployment.flavour_id.clone(),
        servers: servers
            .into_iter()
            .map(|s| SimServer {
                vnfc_id: s.vnfc_id.clone(),
                vdu_id: s.vdu_id.clone(),
                resource_id: s.resource_id.clone(),
                image: s.image.clone(),
                power_state: s.power,
                addresses: s.ports.iter().map(|p| p.address).collect(),
                volume_resource_ids: s.volumes.iter().map(|v| v.resource_id.clone()).collect(),
            })
            .collect(),
        networks: deployment.networks.keys().cloned().collect(),
        ext_virtual_links: deployment.ext_links.keys().cloned().collect(),
    }
}

/// Runs `body` on `current` (twice for a partial-work fault: a dry run measures the
/// work, the real run gets half of it) and returns the deployment it leaves.
fn run_body(
    state: &State,
    call: &Call,
    current: Option<Deployment>,
    body: &impl Fn(&mut Option<Deployment>, &mut Work<'_>) -> Result<()>,
) -> Result<Option<Deployment>> {
    let budget = if call.partial {
        let mut dry_run = current.clone();
        let mut work = Work::new(&state.vdu_addresses, None);
        work.heal_readdresses = state.heal_readdresses;
        body(&mut dry_run, &mut work)?;
        Some(work.used.div_ceil(2))
    } else {
        None
    };
    let mut slot = current;
    let mut work = Work::new(&state.vdu_addresses, budget);
    work.heal_readdresses = state.heal_readdresses;
    body(&mut slot, &mut work)?;
    Ok(slot)
}

/// The call's answer once its work is kept: the outcome, or the injected fault of a
/// partial-work call.
fn finish(call: &Call, outcome: InfraOutcome) -> Result<InfraOutcome> {
    if call.partial {
        return Err(call.injected());
    }
    Ok(outcome)
}

fn outcome(
    deployment: Option<&Deployment>,
    ctx: &InfraContext<'_>,
    changed_ext: Option<&[String]>,
) -> InfraOutcome {
    let resources = deployment
        .map(|d| report::resources(d, ctx.vim_connection_id))
        .unwrap_or_default();
    let resource_changes =
        crate::infra::resource_changes(ctx.vnf_instance.instantiated_vnf_info.as_ref(), &resources);
    let changed_ext_connectivity = match changed_ext {
        Some(ids) => resources
            .ext_virtual_link_info
            .iter()
            .filter(|link| ids.is_empty() || ids.contains(&link.id))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let mut metadata = KeyValuePairs::new();
    if let Some(deployment) = deployment {
        metadata.insert("simDeploymentId".into(), json!(deployment.id));
    }
    InfraOutcome {
        resources,
        resource_changes,
        changed_ext_connectivity,
        metadata,
    }
}

#[async_trait]
impl InfraDriver for SimInfraDriver {
    fn vim_type(&self) -> &str {
        &self.shared.vim_type
    }

    fn capabilities(&self) -> InfraCapabilities {
        self.shared.capabilities
    }

    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome> {
        let call = self.begin(SimOperation::Instantiate, ctx).await?;
        let flavour = ctx.flavour;
        let level = request.instantiation_level_id.as_deref();
        check_level(flavour, level)?;
        let blueprint = Blueprint {
            vnfd_id: &ctx.vnfd.descriptor_id,
            flavour,
            images: Images::Grant(ctx.grant),
        };
        self.apply(&call, ctx, None, |slot, work| {
            let deployment =
                slot.get_or_insert_with(|| Deployment::new(&ctx.vnfd.descriptor_id, &flavour.id));
            deployment.vnfd_id.clone_from(&ctx.vnfd.descriptor_id);
            deployment.flavour_id.clone_from(&flavour.id);
            deployment.set_ext_links(&request.ext_virtual_links);
            deployment.set_ext_managed(&request.ext_managed_virtual_links);
            if let Some(grant) = ctx.grant {
                // Links the NFVO provides in the grant complete (or override) the request's.
                deployment.merge_ext_links(&grant.ext_virtual_links);
                for link in &grant.ext_managed_virtual_links {
                    deployment
                        .ext_managed
                        .insert(link.vnf_virtual_link_desc_id.clone(), link.clone());
                }
            }
            deployment.converge_networks(flavour);
            deployment.remove_vdus_not_in(flavour, work);
            for vdu in &flavour.vdus {
                let count = flavour.vdu_instances_at_level(vdu, level);
                deployment.converge_count(&blueprint, vdu, count, work);
            }
            deployment.converge_parts(flavour, work);
            deployment.rewire(flavour);
            Ok(())
        })
        .await
    }

    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome> {
        let _ = request;
        let call = self.begin(SimOperation::Terminate, ctx).await?;
        self.apply(&call, ctx, None, |slot, work| {
            remove_all(slot, work);
            Ok(())
        })
        .await
    }

    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        self.require(InfraOperation::Scale)?;
        let call = self.begin(SimOperation::Scale, ctx).await?;
        let flavour = ctx.flavour;
        let mut levels = scale_levels(recorded(ctx)?);
        let mut vdus: Vec<&Vdu> = Vec::new();
        for info in &target.scale_levels {
            let aspect = flavour.scaling_aspect(&info.aspect_id).ok_or_else(|| {
                unprocessable(format!(
                    "flavour {} has no scaling aspect {}",
                    flavour.id, info.aspect_id
                ))
            })?;
            if info.scale_level > aspect.max_scale_level {
                return Err(unprocessable(format!(
                    "scale level {} of aspect {} is beyond its maximum {}",
                    info.scale_level, aspect.id, aspect.max_scale_level
                )));
            }
            levels.insert(aspect.id.clone(), info.scale_level);
            for vdu_id in aspect.vdus() {
                let vdu = flavour.vdu(vdu_id).ok_or_else(|| {
                    unprocessable(format!("aspect {} scales unknown VDU {vdu_id}", aspect.id))
                })?;
                if !vdus.iter().any(|v| v.id == vdu.id) {
                    vdus.push(vdu);
                }
            }
        }
        let blueprint = Blueprint {
            vnfd_id: &ctx.vnfd.descriptor_id,
            flavour,
            images: Images::Grant(ctx.grant),
        };
        self.apply(&call, ctx, None, |slot, work| {
            let deployment = existing(slot, ctx)?;
            for vdu in &vdus {
                let count = flavour.vdu_instances(vdu, &levels);
                deployment.converge_count(&blueprint, vdu, count, work);
            }
            deployment.converge_parts(flavour, work);
            deployment.rewire(flavour);
            Ok(())
        })
        .await
    }

    async fn heal(&self, ctx: &InfraContext<'_>, request: &HealVnfRequest) -> Result<InfraOutcome> {
        let whole = request.vnfc_instance_id.is_empty();
        self.require(heal_operation(request))?;
        let call = self.begin(SimOperation::Heal, ctx).await?;
        let info = recorded(ctx)?;
        let find = |id: &str| info.vnfc_resource_info.iter().find(|v| v.id == id);
        let mut targets: Vec<&VnfcResourceInfo> = Vec::new();
        if whole {
            targets.extend(info.vnfc_resource_info.iter());
        }
        for id in &request.vnfc_instance_id {
            let vnfc = find(id).or_else(|| {
                info.vnfc_info
                    .iter()
                    .find(|v| &v.id == id)
                    .and_then(|v| v.vnfc_resource_info_id.as_deref())
                    .and_then(find)
            });
            let vnfc = vnfc.ok_or_else(|| {
                unprocessable(format!(
                    "VNFC {id} is not a VNFC of VNF instance {}",
                    ctx.vnf_instance.id
                ))
            })?;
            if !targets.iter().any(|t| t.id == vnfc.id) {
                targets.push(vnfc);
            }
        }
        let heal_storage = request
            .additional_params
            .get("all")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let recorded_volumes: BTreeMap<&str, &str> = info
            .virtual_storage_resource_info
            .iter()
            .map(|s| (s.id.as_str(), s.storage_resource.resource_id.as_str()))
            .collect();
        let blueprint = Blueprint {
            vnfd_id: &ctx.vnfd.descriptor_id,
            flavour: ctx.flavour,
            images: Images::Grant(ctx.grant),
        };
        self.apply(&call, ctx, None, |slot, work| {
            let deployment = existing(slot, ctx)?;
            for vnfc in &targets {
                let Some(index) = deployment.server_index(&vnfc.id) else {
                    // Gone from the VIM: heal brings it back under its id.
                    if let Some(vdu) = ctx.flavour.vdu(&vnfc.vdu_id) {
                        let power = VnfOperationalStateType::Started;
                        deployment.create_server(
                            &blueprint,
                            vdu,
                            Some(vnfc.id.clone()),
                            power,
                            work,
                        );
                    }
                    continue;
                };
                let replaced =
                    if deployment.servers[index].resource_id == vnfc.compute_resource.resource_id {
                        let replaced = deployment.replace_compute(index, None, work);
                        if replaced && work.heal_readdresses {
                            deployment.readdress(index, work);
                        }
                        replaced
                    } else {
                        true
                    };
                if replaced && heal_storage {
                    for volume in &mut deployment.servers[index].volumes {
                        if recorded_volumes.get(volume.id.as_str())
                            == Some(&volume.resource_id.as_str())
                        {
                            volume.resource_id = new_id();
                        }
                    }
                }
            }
            deployment.converge_parts(ctx.flavour, work);
            deployment.rewire(ctx.flavour);
            Ok(())
        })
        .await
    }

    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        self.require(InfraOperation::ChangeFlavour)?;
        let call = self.begin(SimOperation::ChangeFlavour, ctx).await?;
        recorded(ctx)?;
        let flavour = ctx.vnfd.flavour(&request.new_flavour_id).ok_or_else(|| {
            unprocessable(format!(
                "VNFD {} has no flavour {}",
                ctx.vnfd.descriptor_id, request.new_flavour_id
            ))
        })?;
        let level = request.instantiation_level_id.as_deref();
        check_level(flavour, level)?;
        let blueprint = Blueprint {
            vnfd_id: &ctx.vnfd.descriptor_id,
            flavour,
            images: Images::Grant(ctx.grant),
        };
        let ext_ids: Vec<String> = request
            .ext_virtual_links
            .iter()
            .map(|l| l.id.clone())
            .collect();
        let changed_ext = (!ext_ids.is_empty()).then_some(ext_ids.as_slice());
        self.apply(&call, ctx, changed_ext, |slot, work| {
            let deployment = existing(slot, ctx)?;
            deployment.flavour_id.clone_from(&flavour.id);
            deployment.merge_ext_links(&request.ext_virtual_links);
            if !request.ext_managed_virtual_links.is_empty() {
                deployment.set_ext_managed(&request.ext_managed_virtual_links);
            }
            deployment.converge_networks(flavour);
            deployment.remove_vdus_not_in(flavour, work);
            for vdu in &flavour.vdus {
                rebuild_stale(deployment, &blueprint, vdu, work);
                let count = flavour.vdu_instances_at_level(vdu, level);
                deployment.converge_count(&blueprint, vdu, count, work);
            }
            deployment.converge_parts(flavour, work);
            deployment.rewire(flavour);
            Ok(())
        })
        .await
    }

    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        self.require(InfraOperation::ChangeExtConn)?;
        let call = self.begin(SimOperation::ChangeExtConn, ctx).await?;
        recorded(ctx)?;
        let ext_ids: Vec<String> = request
            .ext_virtual_links
            .iter()
            .map(|l| l.id.clone())
            .collect();
        self.apply(&call, ctx, Some(&ext_ids), |slot, _work| {
            let deployment = existing(slot, ctx)?;
            deployment.merge_ext_links(&request.ext_virtual_links);
            deployment.rewire(ctx.flavour);
            Ok(())
        })
        .await
    }

    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        new_package: &dyn PackageFiles,
    ) -> Result<InfraOutcome> {
        let _ = new_package;
        self.require(InfraOperation::ChangeVnfpkg)?;
        let call = self.begin(SimOperation::ChangeVnfpkg, ctx).await?;
        let info = recorded(ctx)?;
        let flavour = new_vnfd.flavour(&info.flavour_id).ok_or_else(|| {
            unprocessable(format!(
                "the new VNFD {} has no flavour {}",
                new_vnfd.descriptor_id, info.flavour_id
            ))
        })?;
        let levels = scale_levels(info);
        let blueprint = Blueprint {
            vnfd_id: &new_vnfd.descriptor_id,
            flavour,
            images: Images::Grant(ctx.grant),
        };
        let ext_ids: Vec<String> = request
            .ext_virtual_links
            .iter()
            .map(|l| l.id.clone())
            .collect();
        let changed_ext = (!ext_ids.is_empty()).then_some(ext_ids.as_slice());
        self.apply(&call, ctx, changed_ext, |slot, work| {
            let deployment = existing(slot, ctx)?;
            deployment.vnfd_id.clone_from(&new_vnfd.descriptor_id);
            deployment.merge_ext_links(&request.ext_virtual_links);
            if !request.ext_managed_virtual_links.is_empty() {
                deployment.set_ext_managed(&request.ext_managed_virtual_links);
            }
            deployment.remove_vdus_not_in(flavour, work);
            deployment.converge_networks(flavour);
            for vdu in &flavour.vdus {
                if ctx.flavour.vdu(&vdu.id).is_none() {
                    let count = flavour.vdu_instances(vdu, &levels);
                    deployment.converge_count(&blueprint, vdu, count, work);
                }
                rebuild_stale(deployment, &blueprint, vdu, work);
            }
            deployment.converge_parts(flavour, work);
            deployment.rewire(flavour);
            Ok(())
        })
        .await
    }

    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> Result<InfraOutcome> {
        self.require(InfraOperation::Operate)?;
        let call = self.begin(SimOperation::Operate, ctx).await?;
        recorded(ctx)?;
        self.apply(&call, ctx, None, |slot, _work| {
            let deployment = existing(slot, ctx)?;
            for server in &mut deployment.servers {
                server.power = request.change_state_to;
            }
            Ok(())
        })
        .await
    }

    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> Result<InfraOutcome> {
        self.require(rollback.operation())?;
        match rollback {
            Rollback::Instantiate(_) => {
                let call = self.begin(SimOperation::RollbackInstantiate, ctx).await?;
                self.apply(&call, ctx, None, |slot, work| {
                    remove_all(slot, work);
                    Ok(())
                })
                .await
            }
            Rollback::Scale(_) => self.restore(SimOperation::RollbackScale, ctx, None).await,
            Rollback::ChangeFlavour(request) => {
                let changed_ext = (!request.ext_virtual_links.is_empty()).then_some(&[][..]);
                self.restore(SimOperation::RollbackChangeFlavour, ctx, changed_ext)
                    .await
            }
            Rollback::ChangeExtConn(_) => {
                self.restore(SimOperation::RollbackChangeExtConn, ctx, Some(&[]))
                    .await
            }
            Rollback::ChangeVnfpkg(_) => {
                self.restore(SimOperation::RollbackChangeVnfpkg, ctx, None)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests;
