//! The LCM engine, split by responsibility:
//! - [`VnfLcm`] (`vnf_lcm.rs`): request acceptance, tasks on op occurrences, queries and
//!   LCM subscriptions;
//! - the executor (`executor.rs`): claims accepted operations, runs their steps under a
//!   lease, records every step so retry resumes and rollback undoes;
//! - cluster VIMs (`vims.rs`): VIMs that management hooks produce and the request-time
//!   checks of management drivers;
//! - one module per operation (`ops/instantiate.rs`, `ops/scale.rs`, …): what each
//!   operation adds to the common flow (its acceptance checks, grant contents, infra
//!   driver call and rollback, and what it changes on the instance);
//! - [`VnfFm`] (`fm.rs`): alarms and FM subscriptions;
//! - the shared core (`Engine`, here): configuration, drivers, links and the lookups
//!   every part uses.
//!
//! Notifications leave through the one [`crate::notify::NotificationSender`].

use chrono::Utc;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::grant::{GrantResources, LocalGrantProvider, grant_request};
use super::lccn::{identifier_writes, op_occ_writes};
use super::request::OpRequest;
use super::state::{OpEvent, transition};
use crate::filter::{Filter, FilterOp};
use crate::grant::GrantProvider;
use crate::infra::{InfraContext, InfraDriver, InfraOutcome, VNFC_POWER_STATE};
use crate::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use crate::model::{
    CancelModeType, CreateVnfRequest, GrantedLcmOperationType, InstantiatedVnfInfo,
    InstantiationState, KeyValuePairs, LccnSubscription, LcmOperationStateType as State,
    LcmOperationType as Op, Link, ModificationsTriggeredByVnfPkgChange, ProblemDetails, ScaleInfo,
    VimConnectionInfo, VnfInfoModifications, VnfInstance, VnfInstanceLinks, VnfLcmOpOcc,
    VnfLcmOpOccLinks, VnfOperationalStateType, VnfcInfo,
};
use crate::notify::{NotificationSink, OutboxSignal, Subscriptions};
use crate::package::{PackageSource, VnfPackage};
use crate::store::{
    ClaimedOp, LccnSubscriptionRecord, ListQuery, OpLease, OpOccRecord, OpStep, Page, Record,
    RecordKind, Store, StoreExt, Versioned, VnfInstanceRecord, Write,
};
use crate::vnfd::{DeploymentFlavour, HookPhase, LcmHook, Vnfd};
use crate::{Error, Result, TenantId, new_id};
pub use fm::{Fault, VnfFm, fault_key};
pub use vnf_lcm::VnfLcm;

mod executor;
mod fm;
mod ops;
mod vims;
mod vnf_lcm;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct LcmConfig {
    /// Absolute URI prefix for `_links`.
    pub api_root: String,
    /// This executor's name in leases (unique per process).
    pub executor_id: String,
    /// How long a lease holds without renewal.
    pub lease_ttl: Duration,
    /// How often the executor looks for work when nothing woke it.
    pub poll_interval: Duration,
    /// Operations run at once by this executor.
    pub max_concurrent_ops: usize,
}

impl Default for LcmConfig {
    fn default() -> Self {
        Self {
            api_root: "http://127.0.0.1:9890".to_owned(),
            executor_id: format!("vnfm-{}", new_id()),
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_concurrent_ops: 256,
        }
    }
}

/// An operation this engine's executor brought to FAILED_TEMP or a final state (see
/// [`VnfLcm::op_events`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OpFinished {
    /// The tenant of the operation.
    pub tenant: TenantId,
    /// The op occurrence.
    pub op_id: String,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// What it did.
    pub operation: Op,
    /// Where it ended.
    pub state: State,
    /// From its start time to this state.
    pub duration: Duration,
}

/// Builds a [`VnfLcm`] (the [`crate::Vnfm`] façade builds one for you).
#[derive(Default)]
pub struct VnfLcmBuilder {
    store: Option<Arc<dyn Store>>,
    packages: Option<Arc<dyn PackageSource>>,
    infra: HashMap<String, Arc<dyn InfraDriver>>,
    mgmt: HashMap<String, Arc<dyn MgmtDriver>>,
    grants: Option<Arc<dyn GrantProvider>>,
    coordinator: Option<Arc<dyn crate::coordination::LcmCoordinator>>,
    sink: Option<Arc<dyn NotificationSink>>,
    default_vims: BTreeMap<String, VimConnectionInfo>,
    vims: Option<crate::vim::VimRegistry>,
    sealer: Option<crate::vim::Sealer>,
    signal: Option<OutboxSignal>,
    require_started: bool,
    config: LcmConfig,
}

impl VnfLcmBuilder {
    /// Refuse operation requests while no executor of this engine runs (the
    /// [`crate::Vnfm`] façade does, unless built with `remote_executor()`); without it,
    /// requests are accepted for whichever executor, here or in another process, claims
    /// them first.
    pub fn require_started(mut self, require: bool) -> Self {
        self.require_started = require;
        self
    }

    /// Seals the credentials of subscriptions: the key the notification sender opens
    /// them with. Required with a persistent store (see [`Store::is_persistent`]).
    pub fn sealer(mut self, sealer: crate::vim::Sealer) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The VIM registry: an instantiation without `vimConnectionInfo` uses the tenant's
    /// default VIM, and drivers get the registered credentials of an instance's VIM.
    pub fn vim_registry(mut self, vims: crate::vim::VimRegistry) -> Self {
        self.vims = Some(vims);
        self
    }

    /// The store (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where VNF packages come from (required).
    pub fn packages(mut self, packages: Arc<dyn PackageSource>) -> Self {
        self.packages = Some(packages);
        self
    }

    /// An infra driver, for the VIM type it declares.
    pub fn infra_driver(mut self, driver: Arc<dyn InfraDriver>) -> Self {
        self.infra.insert(driver.vim_type().to_owned(), driver);
        self
    }

    /// A management driver, selected by its name in the VNFD's `Vnflcm` bindings.
    pub fn mgmt_driver(mut self, driver: Arc<dyn MgmtDriver>) -> Self {
        self.mgmt.insert(driver.name().to_owned(), driver);
        self
    }

    /// Who grants operations (default: [`LocalGrantProvider`] over the default VIMs).
    pub fn grant_provider(mut self, grants: Arc<dyn GrantProvider>) -> Self {
        self.grants = Some(grants);
        self
    }

    /// Runs the coordination actions operations' VNFDs declare (see
    /// [`crate::coordination`]). Without one, such operations are refused.
    pub fn lcm_coordinator(
        mut self,
        coordinator: Arc<dyn crate::coordination::LcmCoordinator>,
    ) -> Self {
        self.coordinator = Some(coordinator);
        self
    }

    /// Checks the callback of a subscription before accepting it (the sink a
    /// [`crate::notify::NotificationSender`] delivers with).
    pub fn notification_sink(mut self, sink: Arc<dyn NotificationSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Rung after every commit that queued notifications, to wake the sender.
    pub fn outbox_signal(mut self, signal: OutboxSignal) -> Self {
        self.signal = Some(signal);
        self
    }

    /// The VIM an instantiation uses when its request names none.
    pub fn default_vim(
        mut self,
        vim_connection_id: impl Into<String>,
        vim: VimConnectionInfo,
    ) -> Self {
        self.default_vims.insert(vim_connection_id.into(), vim);
        self
    }

    /// The configuration.
    pub fn config(mut self, config: LcmConfig) -> Self {
        self.config = config;
        self
    }

    /// The engine. Fails when the store or the package source is missing, or when
    /// the store is persistent and no sealer was given (a random key would lose every
    /// sealed credential at the next start).
    pub fn build(self) -> Result<VnfLcm> {
        let store = self
            .store
            .ok_or_else(|| Error::InvalidRequest("VnfLcm needs a store".to_owned()))?;
        let packages = self
            .packages
            .ok_or_else(|| Error::InvalidRequest("VnfLcm needs a package source".to_owned()))?;
        let sealer = crate::vim::Sealer::required(self.sealer, store.as_ref(), "VnfLcm")?;
        let grants = self
            .grants
            .unwrap_or_else(|| Arc::new(LocalGrantProvider::new(self.default_vims.clone())));
        let subscriptions = Subscriptions::new(
            store.clone(),
            self.sink,
            sealer.clone(),
            self.config.api_root.clone(),
        );
        Ok(VnfLcm {
            engine: Engine {
                inner: Arc::new(Inner {
                    store,
                    packages,
                    infra: self.infra,
                    mgmt: self.mgmt,
                    grants,
                    coordinator: self.coordinator,
                    subscriptions,
                    default_vims: self.default_vims,
                    vims: self.vims,
                    config: self.config,
                    wake: Notify::new(),
                    op_changed: Notify::new(),
                    outbox: self.signal.unwrap_or_default(),
                    running: Mutex::new(HashMap::new()),
                    leases: Mutex::new(HashMap::new()),
                    executors: std::sync::atomic::AtomicUsize::new(0),
                    require_started: self.require_started,
                    events: broadcast::channel(1024).0,
                }),
            },
        })
    }
}

struct Inner {
    store: Arc<dyn Store>,
    packages: Arc<dyn PackageSource>,
    infra: HashMap<String, Arc<dyn InfraDriver>>,
    mgmt: HashMap<String, Arc<dyn MgmtDriver>>,
    grants: Arc<dyn GrantProvider>,
    coordinator: Option<Arc<dyn crate::coordination::LcmCoordinator>>,
    subscriptions: Subscriptions<LccnSubscriptionRecord>,
    default_vims: BTreeMap<String, VimConnectionInfo>,
    vims: Option<crate::vim::VimRegistry>,
    config: LcmConfig,
    wake: Notify,
    /// Signalled after every committed change of an op, for `wait_for`.
    op_changed: Notify,
    /// Rung when notifications may be waiting, for the sender.
    outbox: OutboxSignal,
    running: Mutex<HashMap<String, CancellationToken>>,
    /// The lease each running op holds now (a claim made while its run still went on
    /// hands the run the new lease).
    leases: Mutex<HashMap<String, OpLease>>,
    /// Executors of this engine running now (for a clear error when none ever ran).
    executors: std::sync::atomic::AtomicUsize,
    /// Whether operations are refused while no executor of this engine runs.
    require_started: bool,
    /// Operations this executor finished, for observers such as metrics.
    events: broadcast::Sender<OpFinished>,
}

/// What every part of the engine shares. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<Inner>,
}

/// The running executor of a [`VnfLcm`].
#[derive(Debug)]
pub struct Executor {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Executor {
    /// Stops claiming new work, lets every running operation finish the step it is in,
    /// and hands the operations back to the store as they are (lease released, state
    /// and recorded steps kept), so this or another executor resumes each one with its
    /// next step. Returns when every operation has been handed back or has ended.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Stops everything at once, as a crash would (for tests of crash safety).
    pub fn abort(self) {
        self.stop.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn op_failure(error: &Error) -> ProblemDetails {
    error.to_problem_details()
}

fn state_name(state: State) -> &'static str {
    state.as_str()
}

impl Engine {
    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    fn instance_links(&self, id: &str, state: InstantiationState) -> VnfInstanceLinks {
        let base = format!(
            "{}/vnflcm/v2/vnf_instances/{id}",
            self.inner.config.api_root
        );
        let link = |task: &str| Some(Link::new(format!("{base}/{task}")));
        match state {
            InstantiationState::NotInstantiated => VnfInstanceLinks {
                self_: Link::new(base.clone()),
                instantiate: link("instantiate"),
                ..VnfInstanceLinks::default()
            },
            InstantiationState::Instantiated => VnfInstanceLinks {
                self_: Link::new(base.clone()),
                terminate: link("terminate"),
                scale: link("scale"),
                scale_to_level: link("scale_to_level"),
                change_flavour: link("change_flavour"),
                heal: link("heal"),
                operate: link("operate"),
                change_ext_conn: link("change_ext_conn"),
                change_current_vnf_pkg: link("change_vnfpkg"),
                ..VnfInstanceLinks::default()
            },
        }
    }

    /// The links of an op occurrence in its current state. SOL003: a task link is
    /// present only when the task is currently allowed, so `cancel` goes while a cancel
    /// is pending and `rollback` when the driver cannot roll the operation back.
    fn record_links(&self, record: &OpOccRecord) -> VnfLcmOpOccLinks {
        let rollback_allowed = record.op.operation_state == State::FailedTemp
            && record
                .instance_before
                .as_ref()
                .is_none_or(|instance| self.check_rollback(record, instance).is_ok());
        self.op_links(&record.op, rollback_allowed)
    }

    fn op_links(&self, op: &VnfLcmOpOcc, rollback_allowed: bool) -> VnfLcmOpOccLinks {
        let base = format!(
            "{}/vnflcm/v2/vnf_lcm_op_occs/{}",
            self.inner.config.api_root, op.id
        );
        let link = |task: &str| Some(Link::new(format!("{base}/{task}")));
        let cancellable = matches!(
            op.operation_state,
            State::Starting | State::Processing | State::RollingBack
        ) && !op.is_cancel_pending;
        let failed_temp = op.operation_state == State::FailedTemp;
        VnfLcmOpOccLinks {
            self_: Link::new(base.clone()),
            vnf_instance: Link::new(format!(
                "{}/vnflcm/v2/vnf_instances/{}",
                self.inner.config.api_root, op.vnf_instance_id
            )),
            // Linked only where the grant can be read: this VNFM serves no grants.
            grant: op
                .grant_id
                .as_deref()
                .and_then(|g| self.inner.grants.grant_uri(g))
                .map(Link::new),
            cancel: if cancellable { link("cancel") } else { None },
            retry: if failed_temp { link("retry") } else { None },
            rollback: if failed_temp && rollback_allowed {
                link("rollback")
            } else {
                None
            },
            fail: if failed_temp { link("fail") } else { None },
            vnf_snapshot: None,
        }
    }

    async fn subscriptions(&self, tenant: &TenantId) -> Result<Vec<LccnSubscription>> {
        self.inner.subscriptions.all(tenant).await
    }

    async fn release_package_if_unused(&self, tenant: &TenantId, vnfd_id: &str) -> Result<()> {
        let users = self
            .store()
            .list_typed::<VnfInstanceRecord>(
                tenant,
                &ListQuery::filtered(Filter::eq("vnfdId", vnfd_id)).with_limit(1),
            )
            .await?;
        if users.items.is_empty() {
            match self.inner.packages.set_in_use(tenant, vnfd_id, false).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    async fn op_in_progress(
        &self,
        tenant: &TenantId,
        instance_id: &str,
    ) -> Result<Option<VnfLcmOpOcc>> {
        let filter = Filter::eq("vnfInstanceId", instance_id).and(
            FilterOp::In,
            "operationState",
            ["STARTING", "PROCESSING", "FAILED_TEMP", "ROLLING_BACK"],
        );
        let page = self
            .store()
            .list_typed::<OpOccRecord>(tenant, &ListQuery::filtered(filter).with_limit(1))
            .await?;
        Ok(page.items.into_iter().next().map(|v| v.value.op))
    }

    fn driver_for(&self, vim: &VimConnectionInfo) -> Result<Arc<dyn InfraDriver>> {
        self.inner.infra.get(&vim.vim_type).cloned().ok_or_else(|| {
            Error::Unprocessable(format!(
                "no infra driver serves vimType {} (this VNFM has: {})",
                vim.vim_type,
                self.inner
                    .infra
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// The VIM an instance's operations run on. A VIM the instance's own management
    /// hooks produced (see [`MgmtOutcome`]) is never one.
    fn vim_of(
        &self,
        instance: &VnfInstance,
        request: &OpRequest,
    ) -> Result<(String, VimConnectionInfo)> {
        self.vim_of_requested(instance, ops::of(request).requested_vims())
    }

    /// [`Engine::vim_of`] with the VIMs a request named, if any.
    fn vim_of_requested(
        &self,
        instance: &VnfInstance,
        requested: Option<&BTreeMap<String, VimConnectionInfo>>,
    ) -> Result<(String, VimConnectionInfo)> {
        let from_request = requested.and_then(|vims| vims.iter().next());
        from_request
            .or_else(|| {
                instance
                    .vim_connection_info
                    .iter()
                    .find(|(_, vim)| !crate::mgmt::produced_by(vim, &instance.id))
            })
            .or_else(|| self.inner.default_vims.iter().next())
            .map(|(k, v)| (k.clone(), v.clone()))
            .ok_or_else(|| {
                Error::Unprocessable(
                    "no VIM: the request names none and no default VIM is configured".to_owned(),
                )
            })
    }

    /// `vim` with its credentials: a registered VIM named by `vimId` (or by its key)
    /// without `accessInfo` gets the registry's opened credentials.
    async fn credentials(
        &self,
        tenant: &TenantId,
        vim_connection_id: &str,
        vim: VimConnectionInfo,
    ) -> Result<VimConnectionInfo> {
        let Some(vims) = &self.inner.vims else {
            return Ok(vim);
        };
        if !vim.access_info.is_empty() {
            return Ok(vim);
        }
        let id = vim
            .vim_id
            .clone()
            .unwrap_or_else(|| vim_connection_id.to_owned());
        match vims.connection_info(tenant, &id).await {
            Ok(registered) => Ok(registered),
            Err(Error::NotFound { .. }) => Ok(vim),
            Err(other) => Err(other),
        }
    }

    fn mgmt_driver(
        &self,
        binding: &crate::vnfd::LcmOperationBinding,
    ) -> Option<Arc<dyn MgmtDriver>> {
        let by_name = binding
            .implementation
            .as_ref()
            .and_then(|n| self.inner.mgmt.get(n));
        let by_file = binding
            .artifact_file
            .as_ref()
            .and_then(|f| f.rsplit('/').next())
            .and_then(|f| self.inner.mgmt.get(f));
        by_name.or(by_file).cloned()
    }

    async fn instance_or_before(
        &self,
        tenant: &TenantId,
        record: &OpOccRecord,
    ) -> Option<VnfInstance> {
        match self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, &record.op.vnf_instance_id)
            .await
        {
            Ok(found) => Some(found.value.instance),
            Err(_) => record.instance_before.clone(),
        }
    }

    fn event(record: &mut OpOccRecord, event: OpEvent) -> Result<()> {
        let next = transition(record.op.operation_state, event).ok_or_else(|| {
            Error::Conflict(format!(
                "operation {} is {}; {event:?} is not allowed",
                record.op.id,
                state_name(record.op.operation_state)
            ))
        })?;
        record.op.operation_state = next;
        record.op.state_entered_time = Utc::now();
        Ok(())
    }

    /// Whether the driver of the instance's VIM can roll the operation back.
    fn check_rollback(&self, record: &OpOccRecord, instance: &VnfInstance) -> Result<()> {
        let operation = record.op.operation;
        if operation == Op::ModifyInfo {
            return Ok(());
        }
        let request = OpRequest::from_params(
            operation,
            record
                .op
                .operation_params
                .as_ref()
                .unwrap_or(&serde_json::Value::Null),
        )?;
        let (_, vim) = self.vim_of(instance, &request)?;
        let driver = self.driver_for(&vim)?;
        if !driver.capabilities().supports_rollback(operation) {
            return Err(Error::Conflict(format!(
                "the {} infra driver cannot roll back {operation}; retry it or declare it failed",
                driver.vim_type()
            )));
        }
        Ok(())
    }

    /// With [`VnfLcmBuilder::require_started`], refuses operations while no executor
    /// of this engine runs: nothing would run them.
    fn check_started(&self) -> Result<()> {
        if self.inner.require_started && !self.executor_running() {
            return Err(Error::Conflict(
                "this VNFM is not started, so nothing would run the operation: call Vnfm::start() (or VnfLcm::start()) first, or build it with remote_executor() when another process runs the operations"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The onboarded, enabled package of `vnfd_id`; `Unprocessable` when there is none
    /// (the request names a VNFD this VNFM cannot use).
    async fn onboarded_package(&self, tenant: &TenantId, vnfd_id: &str) -> Result<VnfPackage> {
        self.inner
            .packages
            .package_for_vnfd(tenant, vnfd_id, true)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => {
                    Error::Unprocessable(format!("no onboarded VNF package has vnfdId {vnfd_id}"))
                }
                other => other,
            })
    }

    /// Whether an executor of this engine runs now.
    fn executor_running(&self) -> bool {
        self.inner
            .executors
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    }

    fn committed(&self) {
        self.inner.wake.notify_one();
        self.inner.op_changed.notify_waiters();
        self.inner.outbox.ring();
    }
}

/// `vnfcInfo` for the VNFCs a driver reported: one per VNFC, with its power state.
fn vnfc_info_of(
    vnfcs: &[crate::model::VnfcResourceInfo],
    vnf_state: VnfOperationalStateType,
) -> Vec<VnfcInfo> {
    vnfcs
        .iter()
        .map(|v| VnfcInfo {
            id: v.id.clone(),
            vdu_id: v.vdu_id.clone(),
            vnfc_resource_info_id: Some(v.id.clone()),
            vnfc_state: match v.metadata.get(VNFC_POWER_STATE).and_then(|s| s.as_str()) {
                Some("STOPPED") => VnfOperationalStateType::Stopped,
                Some("STARTED") => VnfOperationalStateType::Started,
                _ => vnf_state,
            },
            vnfc_configurable_properties: KeyValuePairs::new(),
        })
        .collect()
}

/// The instance after a rollback: as recorded before the operation, with the resources
/// the VIM holds now. `None` for an instance that was not instantiated (a rolled back
/// instantiation leaves nothing to record).
fn restored_instance(before: &VnfInstance, outcome: &InfraOutcome) -> Option<VnfInstance> {
    let mut instance = before.clone();
    let info = instance.instantiated_vnf_info.as_mut()?;
    let resources = &outcome.resources;
    info.vnfc_resource_info = resources.vnfc_resource_info.clone();
    info.vnf_virtual_link_resource_info = resources.vnf_virtual_link_resource_info.clone();
    info.virtual_storage_resource_info = resources.virtual_storage_resource_info.clone();
    info.ext_cp_info = resources.ext_cp_info.clone();
    info.ext_virtual_link_info = resources.ext_virtual_link_info.clone();
    info.ext_managed_virtual_link_info = resources.ext_managed_virtual_link_info.clone();
    info.vnfc_info = vnfc_info_of(&resources.vnfc_resource_info, info.vnf_state);
    for (key, value) in &outcome.metadata {
        instance.metadata.insert(key.clone(), value.clone());
    }
    Some(instance)
}
