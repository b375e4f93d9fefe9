//! `VnfLcm`: accepts LCM requests, runs them with an executor that holds a lease on each
//! operation occurrence, and records every step so retry resumes and rollback undoes.

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
use crate::infra::{InfraContext, InfraDriver, InfraOutcome, ScaleTarget, VNFC_POWER_STATE};
use crate::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use crate::model::{
    CancelModeType, CreateVnfRequest, GrantedLcmOperationType, InstantiatedVnfInfo,
    InstantiationState, KeyValuePairs, LccnSubscription, LccnSubscriptionRequest,
    LcmOpOccNotificationVerbosityType, LcmOperationStateType as State, LcmOperationType as Op,
    Link, ModificationsTriggeredByVnfPkgChange, ProblemDetails, ScaleInfo, ScaleType, SelfLink,
    VimConnectionInfo, VnfInfoModifications, VnfInstance, VnfInstanceLinks, VnfLcmOpOcc,
    VnfLcmOpOccLinks, VnfOperationalStateType, VnfcInfo,
};
use crate::notify::{NotificationSink, NotificationTarget};
use crate::package::{PackageSource, VnfPackage};
use crate::store::{
    ClaimedOp, LccnSubscriptionRecord, ListQuery, OpLease, OpOccRecord, OpStep, Page, Record,
    RecordKind, Store, StoreExt, Versioned, VnfInstanceRecord, Write,
};
use crate::vnfd::{DeploymentFlavour, HookPhase, LcmHook, Vnfd};
use crate::{Error, Result, TenantId, new_id};
pub use fm::{Fault, fault_key};

mod executor;
mod fm;
mod sender;
mod vims;

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
    /// First delay before redelivering a failed notification; doubles each attempt.
    pub notification_backoff: Duration,
    /// Longest delay between delivery attempts.
    pub notification_max_backoff: Duration,
    /// Attempts after which a notification is dropped.
    pub notification_max_attempts: u32,
}

impl Default for LcmConfig {
    fn default() -> Self {
        Self {
            api_root: "http://127.0.0.1:9890".to_owned(),
            executor_id: format!("vnfm-{}", new_id()),
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_concurrent_ops: 256,
            notification_backoff: Duration::from_millis(200),
            notification_max_backoff: Duration::from_secs(60),
            notification_max_attempts: 20,
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

/// Builds a [`VnfLcm`].
#[derive(Default)]
pub struct VnfLcmBuilder {
    store: Option<Arc<dyn Store>>,
    packages: Option<Arc<dyn PackageSource>>,
    infra: HashMap<String, Arc<dyn InfraDriver>>,
    mgmt: HashMap<String, Arc<dyn MgmtDriver>>,
    grants: Option<Arc<dyn GrantProvider>>,
    sink: Option<Arc<dyn NotificationSink>>,
    default_vims: BTreeMap<String, VimConnectionInfo>,
    vims: Option<crate::vim::VimRegistry>,
    sealer: Option<crate::vim::Sealer>,
    config: LcmConfig,
}

impl VnfLcmBuilder {
    /// Seals the credentials of subscriptions (default: [`crate::vim::Sealer::process_default`]).
    /// The package manager must seal with the same key, since this engine delivers its
    /// notifications too.
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

    /// Where notifications go; without one, they stay queued in the store.
    pub fn notification_sink(mut self, sink: Arc<dyn NotificationSink>) -> Self {
        self.sink = Some(sink);
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

    /// The engine. Fails when the store or the package source is missing.
    pub fn build(self) -> Result<VnfLcm> {
        let store = self
            .store
            .ok_or_else(|| Error::InvalidRequest("VnfLcm needs a store".to_owned()))?;
        let packages = self
            .packages
            .ok_or_else(|| Error::InvalidRequest("VnfLcm needs a package source".to_owned()))?;
        let grants = self
            .grants
            .unwrap_or_else(|| Arc::new(LocalGrantProvider::new(self.default_vims.clone())));
        Ok(VnfLcm {
            inner: Arc::new(Inner {
                store,
                packages,
                infra: self.infra,
                mgmt: self.mgmt,
                grants,
                sink: self.sink,
                default_vims: self.default_vims,
                vims: self.vims,
                sealer: self
                    .sealer
                    .unwrap_or_else(crate::vim::Sealer::process_default),
                config: self.config,
                wake: Notify::new(),
                op_changed: Notify::new(),
                outbox: Notify::new(),
                running: Mutex::new(HashMap::new()),
                events: broadcast::channel(1024).0,
            }),
        })
    }
}

struct Inner {
    store: Arc<dyn Store>,
    packages: Arc<dyn PackageSource>,
    infra: HashMap<String, Arc<dyn InfraDriver>>,
    mgmt: HashMap<String, Arc<dyn MgmtDriver>>,
    grants: Arc<dyn GrantProvider>,
    sink: Option<Arc<dyn NotificationSink>>,
    default_vims: BTreeMap<String, VimConnectionInfo>,
    vims: Option<crate::vim::VimRegistry>,
    sealer: crate::vim::Sealer,
    config: LcmConfig,
    wake: Notify,
    /// Signalled after every committed change of an op, for `wait_for`.
    op_changed: Notify,
    /// Signalled when notifications may be waiting, for the sender.
    outbox: Notify,
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Operations this executor finished, for observers such as metrics.
    events: broadcast::Sender<OpFinished>,
}

/// SOL003 VNF lifecycle management. Cheap to clone.
///
/// Requests are validated against the VNFD and the instance, stored as an operation
/// occurrence in STARTING, and answered at once; an executor ([`VnfLcm::start`]) runs them.
#[derive(Clone)]
pub struct VnfLcm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for VnfLcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnfLcm")
            .field("executor_id", &self.inner.config.executor_id)
            .field("vim_types", &self.inner.infra.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
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

impl VnfLcm {
    /// A builder.
    pub fn builder() -> VnfLcmBuilder {
        VnfLcmBuilder::default()
    }

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
        let page = self
            .store()
            .list_typed::<LccnSubscriptionRecord>(tenant, &ListQuery::all())
            .await?;
        Ok(page
            .items
            .into_iter()
            .map(|v| v.value.subscription)
            .collect())
    }

    // ----- VNF identifiers -------------------------------------------------------------

    /// Creates a VNF identifier for an onboarded, enabled package's VNFD.
    pub async fn create_vnf(
        &self,
        tenant: &TenantId,
        request: CreateVnfRequest,
    ) -> Result<VnfInstance> {
        let package = self
            .inner
            .packages
            .package_for_vnfd(tenant, &request.vnfd_id, true)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::Unprocessable(format!(
                    "no onboarded VNF package has vnfdId {}",
                    request.vnfd_id
                )),
                other => other,
            })?;
        let id = new_id();
        let vnfd = &package.vnfd;
        let instance = VnfInstance {
            id: id.clone(),
            vnf_instance_name: request.vnf_instance_name,
            vnf_instance_description: request.vnf_instance_description,
            vnfd_id: vnfd.descriptor_id.clone(),
            vnf_provider: vnfd.provider.clone(),
            vnf_product_name: vnfd.product_name.clone(),
            vnf_software_version: vnfd.software_version.clone(),
            vnfd_version: vnfd.descriptor_version.clone(),
            vnf_configurable_properties: KeyValuePairs::new(),
            vim_connection_info: BTreeMap::new(),
            instantiation_state: InstantiationState::NotInstantiated,
            instantiated_vnf_info: None,
            metadata: request.metadata,
            extensions: KeyValuePairs::new(),
            links: self.instance_links(&id, InstantiationState::NotInstantiated),
        };
        let record = VnfInstanceRecord {
            instance: instance.clone(),
            vnf_pkg_id: Some(package.info.id.clone()),
            created_at: Utc::now(),
        };
        let mut writes = vec![Write::Insert(record.into())];
        writes.extend(identifier_writes(
            &self.subscriptions(tenant).await?,
            &instance,
            true,
        ));
        // The package is IN_USE before the instance exists, so nobody sees an instance
        // of a NOT_IN_USE package; a failed commit gives the mark back.
        self.inner
            .packages
            .set_in_use(tenant, &instance.vnfd_id, true)
            .await?;
        if let Err(error) = self.store().commit(tenant, writes).await {
            let _ = self
                .release_package_if_unused(tenant, &instance.vnfd_id)
                .await;
            return Err(error);
        }
        self.inner.outbox.notify_one();
        Ok(instance)
    }

    /// Deletes a NOT_INSTANTIATED VNF identifier with no operation in progress.
    pub async fn delete_vnf(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let record = self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, id)
            .await?;
        if record.value.instance.instantiation_state != InstantiationState::NotInstantiated {
            return Err(Error::wrong_instantiation_state(
                id,
                InstantiationState::NotInstantiated,
                record.value.instance.instantiation_state,
                format!("VNF instance {id} is INSTANTIATED; terminate it first"),
            ));
        }
        if let Some(op) = self.op_in_progress(tenant, id).await? {
            return Err(Error::operation_in_progress(id, op.id, Some(op.operation)));
        }
        let mut writes = vec![Write::Delete {
            kind: RecordKind::VnfInstance,
            id: id.to_owned(),
            expected_version: Some(record.version),
        }];
        writes.extend(identifier_writes(
            &self.subscriptions(tenant).await?,
            &record.value.instance,
            false,
        ));
        self.store().commit(tenant, writes).await?;
        self.inner.outbox.notify_one();
        self.release_package_if_unused(tenant, &record.value.instance.vnfd_id)
            .await
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

    /// A VNF instance with its version, which changes whenever the instance does (the
    /// HTTP `ETag` of the instance).
    pub async fn instance_versioned(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<VnfInstance>> {
        let record = self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, id)
            .await?;
        Ok(Versioned {
            version: record.version,
            value: record.value.instance,
        })
    }

    /// One VNF instance.
    pub async fn instance(&self, tenant: &TenantId, id: &str) -> Result<VnfInstance> {
        Ok(self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, id)
            .await?
            .value
            .instance)
    }

    /// VNF instances, filtered and paged.
    pub async fn instances(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<VnfInstance>> {
        let page = self
            .store()
            .list_typed::<VnfInstanceRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.instance))
    }

    /// One operation occurrence.
    pub async fn op_occ(&self, tenant: &TenantId, id: &str) -> Result<VnfLcmOpOcc> {
        Ok(self
            .store()
            .get_typed::<OpOccRecord>(tenant, id)
            .await?
            .value
            .op)
    }

    /// Operation occurrences, filtered and paged.
    pub async fn op_occs(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<VnfLcmOpOcc>> {
        let page = self
            .store()
            .list_typed::<OpOccRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.op))
    }

    // ----- Operations ------------------------------------------------------------------

    /// Instantiate VNF.
    pub async fn instantiate(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::InstantiateVnfRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::Instantiate(request), false)
            .await
    }

    /// Terminate VNF.
    pub async fn terminate(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::TerminateVnfRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::Terminate(request), false)
            .await
    }

    /// Scale VNF.
    pub async fn scale(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::ScaleVnfRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::Scale(request), false)
            .await
    }

    /// Scale VNF to level.
    pub async fn scale_to_level(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::ScaleVnfToLevelRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::ScaleToLevel(request), false)
            .await
    }

    /// Heal VNF, or some of its VNFCs.
    pub async fn heal(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::HealVnfRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::Heal(request), false)
            .await
    }

    /// Change VNF flavour.
    pub async fn change_flavour(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::ChangeVnfFlavourRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::ChangeFlavour(request), false)
            .await
    }

    /// Operate VNF (start or stop).
    pub async fn operate(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::OperateVnfRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::Operate(request), false)
            .await
    }

    /// Change external VNF connectivity.
    pub async fn change_ext_conn(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::ChangeExtVnfConnectivityRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::ChangeExtConn(request), false)
            .await
    }

    /// Change current VNF package.
    pub async fn change_vnfpkg(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::ChangeCurrentVnfPkgRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::ChangeVnfpkg(request), false)
            .await
    }

    /// Modify VNF information (a JSON merge patch).
    pub async fn modify_info(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::VnfInfoModificationRequest,
    ) -> Result<VnfLcmOpOcc> {
        self.request(tenant, id, OpRequest::ModifyInfo(request), false)
            .await
    }

    /// [`Self::modify_info`] only while the instance is at `version` (the one
    /// [`Self::instance_versioned`] read, the HTTP `If-Match` of SOL003's PATCH);
    /// `PreconditionFailed` once it changed.
    pub async fn modify_info_if_match(
        &self,
        tenant: &TenantId,
        id: &str,
        request: crate::model::VnfInfoModificationRequest,
        version: u64,
    ) -> Result<VnfLcmOpOcc> {
        self.request_at(
            tenant,
            id,
            OpRequest::ModifyInfo(request),
            false,
            Some(version),
        )
        .await
    }

    /// Any operation; `automatic` marks one a policy started (`isAutomaticInvocation`).
    pub async fn request(
        &self,
        tenant: &TenantId,
        id: &str,
        request: OpRequest,
        automatic: bool,
    ) -> Result<VnfLcmOpOcc> {
        self.request_at(tenant, id, request, automatic, None).await
    }

    async fn request_at(
        &self,
        tenant: &TenantId,
        id: &str,
        mut request: OpRequest,
        automatic: bool,
        if_match: Option<u64>,
    ) -> Result<VnfLcmOpOcc> {
        let instance = self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, id)
            .await?;
        if let Some(expected) = if_match
            && expected != instance.version
        {
            return Err(Error::PreconditionFailed(format!(
                "VNF instance {id} changed since it was read (If-Match names version {expected}, it is at {}); read it again",
                instance.version
            )));
        }
        // An instantiation that names no VIM goes to the tenant's default VIM; the
        // request records which one (by reference, without credentials).
        if let OpRequest::Instantiate(r) = &mut request
            && r.vim_connection_info.is_empty()
            && let Some(vims) = &self.inner.vims
            && let Some((vim_id, vim)) = vims.default_vim(tenant).await?
        {
            r.vim_connection_info.insert(vim_id, vim);
        }
        let package = self
            .validate(tenant, &instance.value.instance, &request)
            .await?;
        let _ = package;
        let now = Utc::now();
        let mut op = VnfLcmOpOcc {
            id: new_id(),
            operation_state: State::Starting,
            state_entered_time: now,
            start_time: now,
            vnf_instance_id: id.to_owned(),
            grant_id: None,
            operation: request.operation(),
            is_automatic_invocation: automatic,
            operation_params: Some(request.to_params()),
            is_cancel_pending: false,
            cancel_mode: None,
            error: None,
            resource_changes: None,
            changed_info: None,
            affected_vip_cps: Vec::new(),
            changed_ext_connectivity: Vec::new(),
            modifications_triggered_by_vnf_pkg_change: None,
            vnf_snapshot_info_id: None,
            lcm_coordinations: Vec::new(),
            rejected_lcm_coordinations: Vec::new(),
            warnings: Vec::new(),
            links: VnfLcmOpOccLinks::default(),
        };
        op.links = self.op_links(&op, false);
        let record = OpOccRecord {
            op: op.clone(),
            steps: Vec::new(),
            grant: None,
            instance_before: Some(instance.value.instance.clone()),
        };
        // The request was validated against this version of the instance: it is
        // accepted only if no other operation changed the instance since (one that
        // finished between the read and this commit would have moved its scale levels,
        // flavour or state under the validation).
        let mut writes = vec![
            Write::Insert(record.into()),
            Write::Check {
                kind: RecordKind::VnfInstance,
                id: id.to_owned(),
                expected_version: instance.version,
            },
        ];
        writes.extend(op_occ_writes(
            &self.subscriptions(tenant).await?,
            &instance.value.instance,
            &op,
        ));
        self.store().commit(tenant, writes).await.map_err(|error| match error {
            stale @ Error::StaleVersion { .. } => Error::Conflict(format!(
                "VNF instance {id} changed while the request was checked (another operation ended); read it again and resend: {}",
                stale.conflict_reason().unwrap_or_default()
            )),
            other => other,
        })?;
        self.committed();
        Ok(op)
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
        let from_request = match request {
            OpRequest::Instantiate(r) => r.vim_connection_info.iter().next(),
            _ => None,
        };
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

    /// Checks a request against the instance and its VNFD before anything is stored.
    async fn validate(
        &self,
        tenant: &TenantId,
        instance: &VnfInstance,
        request: &OpRequest,
    ) -> Result<Option<VnfPackage>> {
        let instantiated = instance.instantiation_state == InstantiationState::Instantiated;
        let operation = request.operation();
        match (operation, instantiated) {
            (Op::Instantiate, true) => {
                return Err(Error::wrong_instantiation_state(
                    &instance.id,
                    InstantiationState::NotInstantiated,
                    InstantiationState::Instantiated,
                    format!("VNF instance {} is already INSTANTIATED", instance.id),
                ));
            }
            (Op::ModifyInfo, _) | (Op::Instantiate, false) => {}
            (_, false) => {
                return Err(Error::wrong_instantiation_state(
                    &instance.id,
                    InstantiationState::Instantiated,
                    InstantiationState::NotInstantiated,
                    format!(
                        "VNF instance {} is NOT_INSTANTIATED; {operation} needs an instantiated VNF",
                        instance.id
                    ),
                ));
            }
            _ => {}
        }
        if operation == Op::ModifyInfo {
            self.validate_modify(tenant, instance, request).await?;
            // Its hooks run in the flavour in use (the first one while NOT_INSTANTIATED).
            let package = self
                .inner
                .packages
                .package_for_vnfd(tenant, &instance.vnfd_id, false)
                .await?;
            let flavour = match instance.instantiated_vnf_info.as_ref() {
                Some(info) => package.vnfd.flavour(&info.flavour_id),
                None => package.vnfd.flavours.first(),
            };
            if let Some(flavour) = flavour {
                self.check_hooks(flavour, Op::ModifyInfo)?;
                self.validate_hook_requests(tenant, instance, request, &package, flavour)
                    .await?;
            }
            return Ok(None);
        }
        let package = self
            .inner
            .packages
            .package_for_vnfd(tenant, &instance.vnfd_id, operation == Op::Instantiate)
            .await?;
        let vnfd = package.vnfd.clone();
        let (_, vim) = self.vim_of(instance, request)?;
        let driver = self.driver_for(&vim)?;
        let capabilities = driver.capabilities();
        if !capabilities.supports(operation) {
            return Err(Error::operation_not_supported(
                operation.to_string(),
                format!("the {} infra driver", driver.vim_type()),
            ));
        }
        let info = instance.instantiated_vnf_info.as_ref();
        let current_flavour = || -> Result<&DeploymentFlavour> {
            let id = info.map(|i| i.flavour_id.as_str()).unwrap_or_default();
            vnfd.flavour(id)
                .ok_or_else(|| Error::Internal(format!("the VNFD has no flavour {id} any more")))
        };
        match request {
            OpRequest::Instantiate(r) => {
                let flavour = vnfd.flavour(&r.flavour_id).ok_or_else(|| {
                    Error::Unprocessable(format!(
                        "flavourId '{}' is not a flavour of VNFD {}",
                        r.flavour_id, vnfd.descriptor_id
                    ))
                })?;
                check_level(flavour, r.instantiation_level_id.as_deref())?;
                check_ext_cps(
                    flavour,
                    r.ext_virtual_links
                        .iter()
                        .flat_map(|l| l.ext_cps.iter().map(|c| c.cpd_id.as_str())),
                )?;
                for link in &r.ext_managed_virtual_links {
                    if !flavour
                        .virtual_links
                        .iter()
                        .any(|v| v.id == link.vnf_virtual_link_desc_id)
                    {
                        return Err(Error::Unprocessable(format!(
                            "extManagedVirtualLinks: vnfVirtualLinkDescId '{}' is not a virtual link of flavour {}",
                            link.vnf_virtual_link_desc_id, flavour.id
                        )));
                    }
                }
                self.check_hooks(flavour, Op::Instantiate)?;
            }
            OpRequest::Terminate(r) => {
                if r.graceful_termination_timeout.is_some()
                    && r.termination_type == crate::model::TerminationType::Forceful
                {
                    return Err(Error::InvalidRequest(
                        "gracefulTerminationTimeout is only allowed with GRACEFUL termination"
                            .to_owned(),
                    ));
                }
                self.check_hooks(current_flavour()?, Op::Terminate)?;
                self.check_produced_vims_unused(tenant, instance, r).await?;
            }
            OpRequest::Scale(r) => {
                let flavour = current_flavour()?;
                let target = scale_target(flavour, info, request)?;
                let _ = (r, target);
                self.check_hooks(flavour, Op::Scale)?;
            }
            OpRequest::ScaleToLevel(_) => {
                let flavour = current_flavour()?;
                scale_target(flavour, info, request)?;
                self.check_hooks(flavour, Op::ScaleToLevel)?;
            }
            OpRequest::Heal(r) => {
                let known: Vec<&str> = info
                    .map(|i| i.vnfc_resource_info.iter().map(|v| v.id.as_str()).collect())
                    .unwrap_or_default();
                for vnfc in &r.vnfc_instance_id {
                    if !known.contains(&vnfc.as_str()) {
                        return Err(Error::Unprocessable(format!(
                            "vnfcInstanceId '{vnfc}' is not a VNFC of VNF instance {}",
                            instance.id
                        )));
                    }
                }
                capabilities.require(crate::infra::heal_operation(r), driver.vim_type())?;
                self.check_hooks(current_flavour()?, Op::Heal)?;
            }
            OpRequest::ChangeFlavour(r) => {
                let current = current_flavour()?;
                if r.new_flavour_id == current.id {
                    return Err(Error::Conflict(format!(
                        "VNF instance {} already uses flavour {}",
                        instance.id, current.id
                    )));
                }
                let flavour = vnfd.flavour(&r.new_flavour_id).ok_or_else(|| {
                    Error::Unprocessable(format!(
                        "newFlavourId '{}' is not a flavour of VNFD {}",
                        r.new_flavour_id, vnfd.descriptor_id
                    ))
                })?;
                check_level(flavour, r.instantiation_level_id.as_deref())?;
                self.check_hooks(current, Op::ChangeFlavour)?;
            }
            OpRequest::Operate(r) => {
                let state = info.map(|i| i.vnf_state);
                if state == Some(r.change_state_to) {
                    return Err(Error::Conflict(format!(
                        "VNF instance {} is already {}",
                        instance.id,
                        if r.change_state_to == VnfOperationalStateType::Started {
                            "STARTED"
                        } else {
                            "STOPPED"
                        }
                    )));
                }
                if r.change_state_to == VnfOperationalStateType::Started
                    && (r.stop_type.is_some() || r.graceful_stop_timeout.is_some())
                {
                    return Err(Error::InvalidRequest(
                        "stopType and gracefulStopTimeout are only allowed when stopping"
                            .to_owned(),
                    ));
                }
                self.check_hooks(current_flavour()?, Op::Operate)?;
            }
            OpRequest::ChangeExtConn(r) => {
                let flavour = current_flavour()?;
                if r.ext_virtual_links.is_empty() {
                    return Err(Error::InvalidRequest(
                        "extVirtualLinks must not be empty".to_owned(),
                    ));
                }
                check_ext_cps(
                    flavour,
                    r.ext_virtual_links
                        .iter()
                        .flat_map(|l| l.ext_cps.iter().map(|c| c.cpd_id.as_str())),
                )?;
                self.check_hooks(flavour, Op::ChangeExtConn)?;
            }
            OpRequest::ChangeVnfpkg(r) => {
                if r.vnfd_id == instance.vnfd_id {
                    return Err(Error::Conflict(format!(
                        "VNF instance {} already uses vnfdId {}",
                        instance.id, r.vnfd_id
                    )));
                }
                let target = self
                    .inner
                    .packages
                    .package_for_vnfd(tenant, &r.vnfd_id, true)
                    .await
                    .map_err(|e| match e {
                        Error::NotFound { .. } => Error::Unprocessable(format!(
                            "no onboarded VNF package has vnfdId {}",
                            r.vnfd_id
                        )),
                        other => other,
                    })?;
                if target.vnfd.provider != instance.vnf_provider
                    || target.vnfd.product_name != instance.vnf_product_name
                {
                    return Err(Error::Unprocessable(format!(
                        "vnfdId {} is {} {}, not the same VNF as the instance's {} {}",
                        r.vnfd_id,
                        target.vnfd.provider,
                        target.vnfd.product_name,
                        instance.vnf_provider,
                        instance.vnf_product_name
                    )));
                }
                let current = current_flavour()?;
                if target.vnfd.flavour(&current.id).is_none() {
                    return Err(Error::Unprocessable(format!(
                        "vnfdId {} has no flavour {}, the instance's flavour",
                        r.vnfd_id, current.id
                    )));
                }
                self.check_hooks(current, Op::ChangeVnfpkg)?;
            }
            OpRequest::ModifyInfo(_) => {}
        }
        // The management drivers of the operation's hooks check what they will need.
        let hook_flavour = match request {
            OpRequest::Instantiate(r) => vnfd.flavour(&r.flavour_id),
            _ => info.and_then(|i| vnfd.flavour(&i.flavour_id)),
        };
        if let Some(flavour) = hook_flavour {
            self.validate_hook_requests(tenant, instance, request, &package, flavour)
                .await?;
        }
        Ok(Some(package))
    }

    async fn validate_modify(
        &self,
        tenant: &TenantId,
        instance: &VnfInstance,
        request: &OpRequest,
    ) -> Result<()> {
        let OpRequest::ModifyInfo(r) = request else {
            return Ok(());
        };
        if let Some(vnfd_id) = r.vnfd_id.as_ref() {
            if instance.instantiation_state == InstantiationState::Instantiated {
                return Err(Error::wrong_instantiation_state(
                    &instance.id,
                    InstantiationState::NotInstantiated,
                    InstantiationState::Instantiated,
                    "vnfdId can only be modified while NOT_INSTANTIATED; use change_vnfpkg",
                ));
            }
            let target = self
                .inner
                .packages
                .package_for_vnfd(tenant, vnfd_id, true)
                .await
                .map_err(|e| match e {
                    Error::NotFound { .. } => Error::Unprocessable(format!(
                        "no onboarded VNF package has vnfdId {vnfd_id}"
                    )),
                    other => other,
                })?;
            if target.vnfd.provider != instance.vnf_provider
                || target.vnfd.product_name != instance.vnf_product_name
            {
                return Err(Error::Unprocessable(format!(
                    "vnfdId {vnfd_id} is not the same VNF"
                )));
            }
        }
        if r.vnf_pkg_id.is_some() {
            return Err(Error::Unprocessable(
                "vnfPkgId is not modifiable here; give vnfdId".to_owned(),
            ));
        }
        Ok(())
    }

    fn check_hooks(&self, flavour: &DeploymentFlavour, operation: Op) -> Result<()> {
        for phase in [HookPhase::Start, HookPhase::End] {
            let name = LcmHook::new(operation, phase).sol001_name();
            if let Some(binding) = flavour.lcm_operation(&name)
                && let Some(implementation) = &binding.implementation
                && self.mgmt_driver(binding).is_none()
            {
                return Err(Error::Unprocessable(format!(
                    "the VNFD binds {name} to '{implementation}' but no MgmtDriver of that name is registered"
                )));
            }
        }
        Ok(())
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

    // ----- Tasks on operation occurrences --------------------------------------------

    async fn change_op(
        &self,
        tenant: &TenantId,
        op_id: &str,
        change: impl Fn(&mut OpOccRecord) -> Result<()>,
    ) -> Result<VnfLcmOpOcc> {
        for _ in 0..10 {
            let mut record = self.store().get_typed::<OpOccRecord>(tenant, op_id).await?;
            let state_before = record.value.op.operation_state;
            change(&mut record.value)?;
            record.value.op.links = self.record_links(&record.value);
            // SOL003 notifies changes of state; a cancel request is not one.
            let instance = if record.value.op.operation_state == state_before {
                None
            } else {
                self.instance_or_before(tenant, &record.value).await
            };
            let mut writes = vec![Write::Update {
                record: record.value.clone().into(),
                expected_version: record.version,
            }];
            if let Some(instance) = instance {
                writes.extend(op_occ_writes(
                    &self.subscriptions(tenant).await?,
                    &instance,
                    &record.value.op,
                ));
            }
            match self.store().commit(tenant, writes).await {
                Ok(_) => {
                    self.committed();
                    return Ok(record.value.op);
                }
                Err(Error::StaleVersion { .. }) => {
                    continue;
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "operation {op_id} keeps changing; try again"
        )))
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

    /// Retry a FAILED_TEMP operation from the step that failed.
    pub async fn retry(&self, tenant: &TenantId, op_id: &str) -> Result<VnfLcmOpOcc> {
        self.change_op(tenant, op_id, |record| {
            Self::event(record, OpEvent::Retry)?;
            record.op.error = None;
            record.op.is_cancel_pending = false;
            Ok(())
        })
        .await
    }

    /// Roll a FAILED_TEMP operation back. Refused for operations its driver cannot undo.
    pub async fn rollback(&self, tenant: &TenantId, op_id: &str) -> Result<VnfLcmOpOcc> {
        let record = self.store().get_typed::<OpOccRecord>(tenant, op_id).await?;
        let instance = match record.value.instance_before.clone() {
            Some(instance) => instance,
            None => {
                self.instance(tenant, &record.value.op.vnf_instance_id)
                    .await?
            }
        };
        self.check_rollback(&record.value, &instance)?;
        self.change_op(tenant, op_id, |record| {
            Self::event(record, OpEvent::Rollback)?;
            record.op.is_cancel_pending = false;
            // What the rollback undoes must be done again if the operation is retried
            // after a failed or cancelled rollback: only the grant stays.
            record.steps.retain(|step| step.name == "grant");
            Ok(())
        })
        .await
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

    /// Declare a FAILED_TEMP operation failed for good.
    pub async fn fail(&self, tenant: &TenantId, op_id: &str) -> Result<VnfLcmOpOcc> {
        let op = self
            .change_op(tenant, op_id, |record| Self::event(record, OpEvent::Fail))
            .await?;
        Ok(op)
    }

    /// Cancel a STARTING, PROCESSING or ROLLING_BACK operation. GRACEFUL lets the current
    /// step finish; FORCEFUL stops it.
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        op_id: &str,
        mode: CancelModeType,
    ) -> Result<VnfLcmOpOcc> {
        let op = self
            .change_op(tenant, op_id, |record| {
                if !matches!(record.op.operation_state, State::Starting | State::Processing | State::RollingBack) {
                    return Err(Error::Conflict(format!(
                        "operation {} is {}; only STARTING, PROCESSING or ROLLING_BACK operations can be cancelled",
                        record.op.id,
                        state_name(record.op.operation_state)
                    )));
                }
                if record.op.is_cancel_pending {
                    return Err(Error::Conflict(format!("operation {} is already being cancelled", record.op.id)));
                }
                record.op.is_cancel_pending = true;
                record.op.cancel_mode = Some(mode);
                Ok(())
            })
            .await?;
        if mode == CancelModeType::Forceful
            && let Some(token) = self
                .inner
                .running
                .lock()
                .ok()
                .and_then(|r| r.get(op_id).cloned())
        {
            token.cancel();
        }
        Ok(op)
    }

    /// Wakes whoever waits for a change: the executor, `wait_for`, the sender.
    /// Operations this engine's executor brings to FAILED_TEMP or a final state, as they
    /// happen (a slow receiver misses the oldest events, see `broadcast`).
    pub fn op_events(&self) -> broadcast::Receiver<OpFinished> {
        self.inner.events.subscribe()
    }

    fn committed(&self) {
        self.inner.wake.notify_one();
        self.inner.op_changed.notify_waiters();
        self.inner.outbox.notify_one();
    }

    /// Waits until an operation reaches one of `states` (COMPLETED, FAILED_TEMP, FAILED,
    /// ROLLED_BACK when empty): woken by this engine's commits, polling the store for
    /// other processes' changes; `Conflict` after `timeout`.
    pub async fn wait_for(
        &self,
        tenant: &TenantId,
        op_id: &str,
        states: &[State],
        timeout: Duration,
    ) -> Result<VnfLcmOpOcc> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Listen before reading, so a change between the read and the wait is seen.
            let changed = self.inner.op_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let op = self.op_occ(tenant, op_id).await?;
            let done = if states.is_empty() {
                op.operation_state.is_final() || op.operation_state == State::FailedTemp
            } else {
                states.contains(&op.operation_state)
            };
            if done {
                return Ok(op);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Conflict(format!(
                    "operation {op_id} is still {} after {timeout:?}",
                    state_name(op.operation_state)
                )));
            }
            // Another VNFM process sharing the store does not signal this one: poll too.
            let poll = tokio::time::Instant::now() + Duration::from_millis(50);
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep_until(poll.min(deadline)) => {}
            }
        }
    }

    // ----- Subscriptions -----------------------------------------------------------------

    /// Subscribes to LCM notifications; with a sink, the callback is checked first.
    pub async fn subscribe(
        &self,
        tenant: &TenantId,
        request: LccnSubscriptionRequest,
    ) -> Result<LccnSubscription> {
        let id = new_id();
        if let Some(sink) = &self.inner.sink {
            sink.check_callback(&NotificationTarget {
                subscription_id: id.clone(),
                callback_uri: request.callback_uri.clone(),
                authentication: request.authentication.clone(),
            })
            .await?;
        }
        let subscription = LccnSubscription {
            id: id.clone(),
            filter: request.filter,
            callback_uri: request.callback_uri,
            verbosity: request
                .verbosity
                .unwrap_or(LcmOpOccNotificationVerbosityType::Full),
            links: SelfLink {
                self_: Link::new(format!(
                    "{}/vnflcm/v2/subscriptions/{id}",
                    self.inner.config.api_root
                )),
            },
        };
        let authentication = request
            .authentication
            .map(|a| {
                self.inner
                    .sealer
                    .seal_json(&crate::vim::Sealer::subscription_context(tenant, &id), &a)
            })
            .transpose()?;
        self.store()
            .insert(
                tenant,
                LccnSubscriptionRecord {
                    subscription: subscription.clone(),
                    authentication,
                    created_at: Utc::now(),
                },
            )
            .await?;
        Ok(subscription)
    }

    /// One subscription.
    pub async fn subscription(&self, tenant: &TenantId, id: &str) -> Result<LccnSubscription> {
        Ok(self
            .store()
            .get_typed::<LccnSubscriptionRecord>(tenant, id)
            .await?
            .value
            .subscription)
    }

    /// Subscriptions, filtered and paged.
    pub async fn subscriptions_page(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<LccnSubscription>> {
        let page = self
            .store()
            .list_typed::<LccnSubscriptionRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.subscription))
    }

    /// Removes a subscription and its undelivered notifications.
    pub async fn unsubscribe(&self, tenant: &TenantId, id: &str) -> Result<()> {
        self.store()
            .delete::<LccnSubscriptionRecord>(tenant, id, None)
            .await
    }

    // ----- Executor --------------------------------------------------------------------

    /// Starts the executor (and, with a sink, the notification sender) on the current
    /// tokio runtime.
    pub fn start(&self) -> Executor {
        let stop = CancellationToken::new();
        let mut tasks = vec![tokio::spawn(self.clone().executor_loop(stop.clone()))];
        if self.inner.sink.is_some() {
            tasks.push(tokio::spawn(self.clone().sender_loop(stop.clone())));
        }
        Executor { stop, tasks }
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

fn check_level(flavour: &DeploymentFlavour, level: Option<&str>) -> Result<()> {
    if let Some(level) = level
        && flavour.instantiation_level(level).is_none()
    {
        return Err(Error::Unprocessable(format!(
            "instantiationLevelId '{level}' is not a level of flavour {} (levels: {})",
            flavour.id,
            flavour
                .instantiation_levels
                .iter()
                .map(|l| l.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

fn check_ext_cps<'a>(
    flavour: &DeploymentFlavour,
    cpd_ids: impl Iterator<Item = &'a str>,
) -> Result<()> {
    for cpd in cpd_ids {
        // An external CP: a substitution-mapped one, or a VduCp with no internal link.
        let known = flavour
            .ext_cps
            .iter()
            .any(|e| e.id == cpd || e.vdu_cp == cpd)
            || flavour
                .vdu_cps
                .iter()
                .any(|c| c.id == cpd && c.virtual_link.is_none());
        if !known {
            return Err(Error::Unprocessable(format!(
                "extVirtualLinks: cpdId '{cpd}' is not an external CP of flavour {}",
                flavour.id
            )));
        }
    }
    Ok(())
}

fn current_levels(info: &InstantiatedVnfInfo) -> BTreeMap<String, u32> {
    info.scale_status
        .iter()
        .map(|s| (s.aspect_id.clone(), s.scale_level))
        .collect()
}

fn levels_vec(levels: BTreeMap<String, u32>) -> Vec<ScaleInfo> {
    levels
        .into_iter()
        .map(|(aspect_id, scale_level)| ScaleInfo {
            aspect_id,
            vnfd_id: None,
            scale_level,
        })
        .collect()
}

/// The target levels of a SCALE or SCALE_TO_LEVEL request, checked against the flavour.
fn scale_target(
    flavour: &DeploymentFlavour,
    info: Option<&InstantiatedVnfInfo>,
    request: &OpRequest,
) -> Result<ScaleTarget> {
    let levels = info.map(current_levels).unwrap_or_default();
    match request {
        OpRequest::Scale(r) => {
            let aspect = flavour.scaling_aspect(&r.aspect_id).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "aspectId '{}' is not a scaling aspect of flavour {}",
                    r.aspect_id, flavour.id
                ))
            })?;
            let steps = r.number_of_steps.unwrap_or(1);
            if steps == 0 {
                return Err(Error::InvalidRequest(
                    "numberOfSteps must be at least 1".to_owned(),
                ));
            }
            let current = levels.get(&aspect.id).copied().unwrap_or(0);
            let target = match r.scale_type {
                ScaleType::ScaleOut => current.checked_add(steps).filter(|t| *t <= aspect.max_scale_level),
                ScaleType::ScaleIn => current.checked_sub(steps),
            }
            .ok_or_else(|| {
                Error::Unprocessable(format!(
                    "scaling aspect {} is at level {current} of 0..{}; {} by {steps} step(s) leaves that range",
                    aspect.id,
                    aspect.max_scale_level,
                    if r.scale_type == ScaleType::ScaleOut { "SCALE_OUT" } else { "SCALE_IN" }
                ))
            })?;
            Ok(ScaleTarget {
                scale_levels: vec![ScaleInfo {
                    aspect_id: aspect.id.clone(),
                    vnfd_id: None,
                    scale_level: target,
                }],
                scale_type: Some(r.scale_type),
                additional_params: r.additional_params.clone(),
            })
        }
        OpRequest::ScaleToLevel(r) => {
            let targets: BTreeMap<String, u32> = match (
                &r.instantiation_level_id,
                r.scale_info.is_empty(),
            ) {
                (Some(_), false) => {
                    return Err(Error::InvalidRequest(
                        "give instantiationLevelId or scaleInfo, not both".to_owned(),
                    ));
                }
                (None, true) => {
                    return Err(Error::InvalidRequest(
                        "give instantiationLevelId or scaleInfo".to_owned(),
                    ));
                }
                (Some(level), true) => {
                    check_level(flavour, Some(level))?;
                    flavour.scale_levels_at(Some(level))
                }
                (None, false) => {
                    let mut targets = BTreeMap::new();
                    for info in &r.scale_info {
                        let aspect = flavour.scaling_aspect(&info.aspect_id).ok_or_else(|| {
                            Error::Unprocessable(format!(
                                "scaleInfo: aspectId '{}' is not a scaling aspect of flavour {}",
                                info.aspect_id, flavour.id
                            ))
                        })?;
                        if info.scale_level > aspect.max_scale_level {
                            return Err(Error::Unprocessable(format!(
                                "scaleInfo: level {} of aspect {} is above its max_scale_level {}",
                                info.scale_level, aspect.id, aspect.max_scale_level
                            )));
                        }
                        targets.insert(aspect.id.clone(), info.scale_level);
                    }
                    targets
                }
            };
            Ok(ScaleTarget {
                scale_levels: levels_vec(targets),
                scale_type: None,
                additional_params: r.additional_params.clone(),
            })
        }
        other => Err(Error::Internal(format!(
            "{} is not a scale operation",
            other.operation()
        ))),
    }
}
