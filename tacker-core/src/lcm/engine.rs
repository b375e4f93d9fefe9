//! `VnfLcm`: accepts LCM requests, runs them with an executor that holds a lease on each
//! operation occurrence, and records every step so retry resumes and rollback undoes.

use chrono::Utc;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
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
    /// Stops claiming new work and waits for the operations in flight to reach
    /// FAILED_TEMP or a final state.
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

/// The executor-side view of one operation: everything a step needs.
struct Job {
    tenant: TenantId,
    op: Versioned<OpOccRecord>,
    request: OpRequest,
    instance: Versioned<VnfInstanceRecord>,
    package: VnfPackage,
    cancel: CancellationToken,
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
            grant: op.grant_id.as_ref().map(|g| {
                Link::new(format!(
                    "{}/grant/v1/grants/{g}",
                    self.inner.config.api_root
                ))
            }),
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
            return Err(Error::Conflict(format!(
                "VNF instance {id} is INSTANTIATED; terminate it first"
            )));
        }
        if let Some(op) = self.op_in_progress(tenant, id).await? {
            return Err(Error::Conflict(format!(
                "operation {} ({}) is in progress on VNF instance {id}",
                op.id, op.operation
            )));
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

    /// Any operation; `automatic` marks one a policy started (`isAutomaticInvocation`).
    pub async fn request(
        &self,
        tenant: &TenantId,
        id: &str,
        mut request: OpRequest,
        automatic: bool,
    ) -> Result<VnfLcmOpOcc> {
        let instance = self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, id)
            .await?;
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
        let mut writes = vec![Write::Insert(record.into())];
        writes.extend(op_occ_writes(
            &self.subscriptions(tenant).await?,
            &instance.value.instance,
            &op,
        ));
        self.store().commit(tenant, writes).await?;
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

    /// The VIM an instance's operations run on.
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
            .or_else(|| instance.vim_connection_info.iter().next())
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
                return Err(Error::Conflict(format!(
                    "VNF instance {} is already INSTANTIATED",
                    instance.id
                )));
            }
            (Op::ModifyInfo, _) | (Op::Instantiate, false) => {}
            (_, false) => {
                return Err(Error::Conflict(format!(
                    "VNF instance {} is NOT_INSTANTIATED; {operation} needs an instantiated VNF",
                    instance.id
                )));
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
            return Err(Error::NotSupported(format!(
                "the {} infra driver does not support {operation}",
                driver.vim_type()
            )));
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
                if r.vnfc_instance_id.is_empty() && !capabilities.heal_vnf {
                    return Err(Error::NotSupported(format!(
                        "the {} infra driver cannot heal a whole VNF",
                        driver.vim_type()
                    )));
                }
                if !r.vnfc_instance_id.is_empty() && !capabilities.heal_vnfc {
                    return Err(Error::NotSupported(format!(
                        "the {} infra driver cannot heal single VNFCs",
                        driver.vim_type()
                    )));
                }
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
                return Err(Error::Conflict(
                    "vnfdId can only be modified while NOT_INSTANTIATED; use change_vnfpkg"
                        .to_owned(),
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
                Err(Error::Conflict(message)) if message.contains("changed concurrently") => {
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

    async fn executor_loop(self, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.inner.config.max_concurrent_ops.max(1)));
        // Owned here: when this task is aborted (a simulated crash), dropping the set
        // aborts every operation it runs.
        let mut running = tokio::task::JoinSet::new();
        while !stop.is_cancelled() {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            if free > 0 {
                let claimed = self
                    .store()
                    .claim_ops(
                        &self.inner.config.executor_id,
                        Utc::now(),
                        self.inner.config.lease_ttl,
                        free,
                    )
                    .await;
                match claimed {
                    Ok(claimed) => {
                        for op in claimed {
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                let _ = self.store().release_op_lease(&op.lease).await;
                                continue;
                            };
                            let engine = self.clone();
                            running.spawn(async move {
                                engine.run_claimed(op).await;
                                drop(permit);
                                engine.inner.wake.notify_one();
                            });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "claiming operations failed"),
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(self.inner.config.poll_interval) => {}
            }
        }
        while running.join_next().await.is_some() {}
    }

    async fn run_claimed(&self, claimed: ClaimedOp) {
        let op_id = claimed.op.value.op.id.clone();
        let token = CancellationToken::new();
        if let Ok(mut running) = self.inner.running.lock() {
            running.insert(op_id.clone(), token.clone());
        }
        let lease_lost = CancellationToken::new();
        let tenant = claimed.tenant.clone();
        let lease = claimed.lease.clone();
        let renewer = self
            .clone()
            .renew_lease(lease.clone(), token.clone(), lease_lost.clone());
        // The renewer only returns when the lease is lost: then the work is abandoned
        // to whoever holds the lease now.
        let result = tokio::select! {
            result = self.drive(claimed, token.clone(), lease_lost.clone()) => result,
            () = renewer => Err(Error::Conflict(format!("the lease of operation {op_id} was lost"))),
        };
        if let Ok(mut running) = self.inner.running.lock() {
            running.remove(&op_id);
        }
        if let Err(error) = result {
            tracing::warn!(op = op_id, tenant = %tenant, %error, "operation step could not be recorded");
        }
        let _ = self.store().release_op_lease(&lease).await;
    }

    async fn renew_lease(
        self,
        mut lease: OpLease,
        token: CancellationToken,
        lost: CancellationToken,
    ) {
        let period = self.inner.config.lease_ttl / 3;
        loop {
            tokio::time::sleep(period).await;
            match self
                .store()
                .renew_op_lease(&lease, Utc::now(), self.inner.config.lease_ttl)
                .await
            {
                Ok(renewed) => lease = renewed,
                Err(_) => {
                    lost.cancel();
                    token.cancel();
                    return;
                }
            }
            if let Ok(op) = self
                .store()
                .get_typed::<OpOccRecord>(&lease.tenant, &lease.op_occ_id)
                .await
                && op.value.op.is_cancel_pending
                && op.value.op.cancel_mode == Some(CancelModeType::Forceful)
            {
                token.cancel();
            }
        }
    }

    /// Runs a claimed operation from its current state to FAILED_TEMP or a final state.
    async fn drive(
        &self,
        claimed: ClaimedOp,
        token: CancellationToken,
        lease_lost: CancellationToken,
    ) -> Result<()> {
        let tenant = claimed.tenant.clone();
        let mut op = claimed.op;
        if let Some(previous) = &claimed.expired_owner
            && matches!(
                op.value.op.operation_state,
                State::Processing | State::RollingBack
            )
        {
            let step = op.value.steps.len() + 1;
            let error = Error::Internal(format!(
                "the VNFM executor {previous} stopped during step {step} of the operation; retry or roll it back"
            ));
            let event = if op.value.op.operation_state == State::Processing {
                OpEvent::StepFailed
            } else {
                OpEvent::RollbackFailed
            };
            self.finish(&tenant, &mut op, event, Some(&error), None)
                .await?;
            return Ok(());
        }
        let request = OpRequest::from_params(
            op.value.op.operation,
            op.value
                .op
                .operation_params
                .as_ref()
                .unwrap_or(&serde_json::Value::Null),
        );
        let request = match request {
            Ok(request) => request,
            Err(error) => return self.fail_now(&tenant, &mut op, &error).await,
        };
        let instance = match self
            .store()
            .get_typed::<VnfInstanceRecord>(&tenant, &op.value.op.vnf_instance_id)
            .await
        {
            Ok(instance) => instance,
            Err(error) => return self.fail_now(&tenant, &mut op, &error).await,
        };
        let package = match self
            .inner
            .packages
            .package_for_vnfd(&tenant, &instance.value.instance.vnfd_id, false)
            .await
        {
            Ok(package) => package,
            Err(error) => return self.fail_now(&tenant, &mut op, &error).await,
        };
        let mut job = Job {
            tenant,
            op,
            request,
            instance,
            package,
            cancel: token,
        };
        loop {
            if lease_lost.is_cancelled() {
                return Ok(());
            }
            match job.op.value.op.operation_state {
                State::Starting => self.run_starting(&mut job).await?,
                State::Processing => self.run_processing(&mut job).await?,
                State::RollingBack => self.run_rolling_back(&mut job).await?,
                _ => return Ok(()),
            }
        }
    }

    async fn fail_now(
        &self,
        tenant: &TenantId,
        op: &mut Versioned<OpOccRecord>,
        error: &Error,
    ) -> Result<()> {
        let event = match op.value.op.operation_state {
            State::Starting => OpEvent::GrantRefused,
            State::RollingBack => OpEvent::RollbackFailed,
            _ => OpEvent::StepFailed,
        };
        self.finish(tenant, op, event, Some(error), None).await
    }

    /// Re-reads the op to see a cancel request made since it was claimed.
    async fn refresh(&self, job: &mut Job) -> Result<()> {
        job.op = self
            .store()
            .get_typed::<OpOccRecord>(&job.tenant, &job.op.value.op.id)
            .await?;
        Ok(())
    }

    async fn run_starting(&self, job: &mut Job) -> Result<()> {
        self.refresh(job).await?;
        if job.op.value.op.is_cancel_pending {
            let error = Error::Cancelled("cancelled before it started".to_owned());
            return self
                .finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::Cancel,
                    Some(&error),
                    None,
                )
                .await;
        }
        let operation = job.op.value.op.operation;
        let Some(granted_operation) = GrantedLcmOperationType::from_operation(operation) else {
            return self
                .finish(&job.tenant, &mut job.op, OpEvent::Granted, None, None)
                .await;
        };
        let request = self.grant_request_for(job, granted_operation)?;
        match self.inner.grants.grant(&job.tenant, &request).await {
            Ok(grant) => {
                job.op.value.op.grant_id = Some(grant.id.clone());
                job.op.value.grant = Some(grant.clone());
                job.op.value.steps.push(OpStep {
                    name: "grant".to_owned(),
                    finished_at: Utc::now(),
                    output: serde_json::to_value(&grant).unwrap_or_default(),
                });
                self.finish(&job.tenant, &mut job.op, OpEvent::Granted, None, None)
                    .await
            }
            Err(error) => {
                let error = match error {
                    Error::Forbidden(reason) => {
                        Error::Forbidden(format!("the grant was refused: {reason}"))
                    }
                    other => Error::Forbidden(format!("the grant could not be obtained: {other}")),
                };
                self.finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::GrantRefused,
                    Some(&error),
                    None,
                )
                .await
            }
        }
    }

    fn grant_request_for(
        &self,
        job: &Job,
        operation: GrantedLcmOperationType,
    ) -> Result<crate::model::GrantRequest> {
        let instance = &job.instance.value.instance;
        let vnfd = &job.package.vnfd;
        let info = instance.instantiated_vnf_info.as_ref();
        let mut resources = GrantResources::default();
        let (mut flavour_id, mut level_id) = (info.map(|i| i.flavour_id.clone()), None);
        match &job.request {
            OpRequest::Instantiate(r) => {
                flavour_id = Some(r.flavour_id.clone());
                level_id = r.instantiation_level_id.clone();
                if let Some(flavour) = vnfd.flavour(&r.flavour_id) {
                    for vdu in &flavour.vdus {
                        resources.add_vnfcs(
                            flavour,
                            &vdu.id,
                            flavour
                                .vdu_instances_at_level(vdu, r.instantiation_level_id.as_deref()),
                        );
                    }
                    resources.add_virtual_links(flavour);
                }
            }
            OpRequest::Terminate(_) => {
                if let Some(info) = info {
                    resources.remove_all(info);
                }
            }
            OpRequest::Scale(_) | OpRequest::ScaleToLevel(_) => {
                if let (Some(info), Some(flavour)) =
                    (info, info.and_then(|i| vnfd.flavour(&i.flavour_id)))
                {
                    let target = scale_target(flavour, Some(info), &job.request)?;
                    let before = current_levels(info);
                    let mut after = before.clone();
                    for level in &target.scale_levels {
                        after.insert(level.aspect_id.clone(), level.scale_level);
                    }
                    for vdu in &flavour.vdus {
                        let (old, new) = (
                            flavour.vdu_instances(vdu, &before),
                            flavour.vdu_instances(vdu, &after),
                        );
                        if new > old {
                            resources.add_vnfcs(flavour, &vdu.id, new - old);
                        } else if old > new {
                            let mut victims: Vec<&str> = info
                                .vnfc_resource_info
                                .iter()
                                .filter(|v| v.vdu_id == vdu.id)
                                .map(|v| v.id.as_str())
                                .collect();
                            let keep = usize::try_from(new)
                                .unwrap_or(usize::MAX)
                                .min(victims.len());
                            let victims = victims.split_off(keep);
                            resources.remove_vnfcs(info, victims);
                        }
                    }
                }
            }
            OpRequest::Heal(r) => {
                if let Some(info) = info {
                    if r.vnfc_instance_id.is_empty() {
                        resources.update_vnfcs(
                            info,
                            info.vnfc_resource_info.iter().map(|v| v.id.as_str()),
                        );
                    } else {
                        resources.update_vnfcs(info, r.vnfc_instance_id.iter().map(String::as_str));
                    }
                }
            }
            OpRequest::ChangeFlavour(r) => {
                level_id = r.instantiation_level_id.clone();
                flavour_id = Some(r.new_flavour_id.clone());
                if let Some(info) = info {
                    resources.remove_all(info);
                }
                if let Some(flavour) = vnfd.flavour(&r.new_flavour_id) {
                    for vdu in &flavour.vdus {
                        resources.add_vnfcs(
                            flavour,
                            &vdu.id,
                            flavour
                                .vdu_instances_at_level(vdu, r.instantiation_level_id.as_deref()),
                        );
                    }
                    resources.add_virtual_links(flavour);
                }
            }
            OpRequest::ChangeVnfpkg(_) => {
                if let Some(info) = info {
                    resources
                        .update_vnfcs(info, info.vnfc_resource_info.iter().map(|v| v.id.as_str()));
                }
            }
            _ => {}
        }
        let op = &job.op.value.op;
        let mut request = grant_request(
            operation,
            &instance.id,
            &op.id,
            &instance.vnfd_id,
            flavour_id.as_deref(),
            level_id.as_deref(),
            op.is_automatic_invocation,
            resources,
            (op.links.self_.clone(), op.links.vnf_instance.clone()),
        );
        if let OpRequest::ChangeVnfpkg(r) = &job.request {
            request.dst_vnfd_id = Some(r.vnfd_id.clone());
        }
        Ok(request)
    }

    /// The flavour the operation runs against, and the hooks it calls.
    fn flavour_of<'v>(&self, job: &Job, vnfd: &'v Vnfd) -> Result<&'v DeploymentFlavour> {
        let id = match (
            &job.request,
            job.instance.value.instance.instantiated_vnf_info.as_ref(),
        ) {
            (OpRequest::Instantiate(r), _) => r.flavour_id.clone(),
            (_, Some(info)) => info.flavour_id.clone(),
            (_, None) => vnfd
                .flavours
                .first()
                .map(|f| f.id.clone())
                .unwrap_or_default(),
        };
        vnfd.flavour(&id)
            .ok_or_else(|| Error::Unprocessable(format!("the VNFD has no flavour {id}")))
    }

    async fn run_processing(&self, job: &mut Job) -> Result<()> {
        let operation = job.op.value.op.operation;
        let vnfd = job.package.vnfd.clone();
        let flavour = match self.flavour_of(job, &vnfd) {
            Ok(flavour) => flavour.clone(),
            Err(error) => {
                return self
                    .finish(
                        &job.tenant,
                        &mut job.op,
                        OpEvent::StepFailed,
                        Some(&error),
                        None,
                    )
                    .await;
            }
        };
        let bound = |phase: HookPhase| {
            flavour
                .lcm_operation(&LcmHook::new(operation, phase).sol001_name())
                .is_some_and(|b| b.implementation.is_some())
        };
        let mut steps = Vec::new();
        if bound(HookPhase::Start) {
            steps.push(Step::Hook(LcmHook::new(operation, HookPhase::Start)));
        }
        steps.push(Step::Work);
        if bound(HookPhase::End) {
            steps.push(Step::Hook(LcmHook::new(operation, HookPhase::End)));
        }
        for step in steps {
            let name = step.name();
            if job.op.value.steps.iter().any(|s| s.name == name) {
                continue;
            }
            self.refresh(job).await?;
            if job.op.value.op.is_cancel_pending {
                let error = Error::Cancelled(format!("cancelled before step {name}"));
                return self
                    .finish(
                        &job.tenant,
                        &mut job.op,
                        OpEvent::Cancel,
                        Some(&error),
                        None,
                    )
                    .await;
            }
            let output = match &step {
                Step::Hook(hook) => self.run_hook(job, &vnfd, &flavour, *hook).await,
                Step::Work => self.run_work(job, &vnfd, &flavour).await,
            };
            match output {
                Ok(Some(output)) => {
                    let step = OpStep {
                        name: name.clone(),
                        finished_at: Utc::now(),
                        output,
                    };
                    self.record_step(job, step).await?;
                }
                Ok(None) => {}
                Err(error) => {
                    self.refresh(job).await?;
                    let event = if job.cancel.is_cancelled() || job.op.value.op.is_cancel_pending {
                        OpEvent::Cancel
                    } else {
                        OpEvent::StepFailed
                    };
                    return self
                        .finish(&job.tenant, &mut job.op, event, Some(&error), None)
                        .await;
                }
            }
        }
        // GRACEFUL: the running step was let finish; the operation still ends FAILED_TEMP.
        self.refresh(job).await?;
        if job.op.value.op.is_cancel_pending {
            let error = Error::Cancelled("cancelled after its last step finished".to_owned());
            return self
                .finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::Cancel,
                    Some(&error),
                    None,
                )
                .await;
        }
        let instance = self.completed_instance(job, &vnfd).await;
        match instance {
            Ok(instance) => {
                self.finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::Succeeded,
                    None,
                    Some(instance),
                )
                .await
            }
            Err(error) => {
                self.finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::StepFailed,
                    Some(&error),
                    None,
                )
                .await
            }
        }
    }

    /// Records a finished step on the op as stored now (a cancel request may have
    /// changed it while the step ran).
    async fn record_step(&self, job: &mut Job, step: OpStep) -> Result<()> {
        for _ in 0..10 {
            self.refresh(job).await?;
            job.op.value.steps.push(step.clone());
            job.op.value.op.links = self.record_links(&job.op.value);
            match self
                .store()
                .update(&job.tenant, job.op.value.clone(), job.op.version)
                .await
            {
                Ok(version) => {
                    job.op.version = version;
                    return Ok(());
                }
                Err(Error::Conflict(message)) if message.contains("changed concurrently") => {}
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "operation {} keeps changing; step {} not recorded",
            job.op.value.op.id, step.name
        )))
    }

    async fn run_hook(
        &self,
        job: &Job,
        vnfd: &Vnfd,
        flavour: &DeploymentFlavour,
        hook: LcmHook,
    ) -> Result<Option<serde_json::Value>> {
        let name = hook.sol001_name();
        let Some(binding) = flavour.lcm_operation(&name) else {
            return Ok(None);
        };
        if binding.implementation.is_none() {
            return Ok(None);
        }
        let driver = self.mgmt_driver(binding).ok_or_else(|| {
            Error::Unprocessable(format!("no MgmtDriver is registered for {name}"))
        })?;
        let instance = self.instance_for_hook(job, hook).await?;
        let vim = match self.vim_of(&instance, &job.request) {
            Ok((vim_id, vim)) => Some(self.credentials(&job.tenant, &vim_id, vim).await?),
            Err(_) => None,
        };
        let ctx = MgmtContext {
            tenant: &job.tenant,
            hook,
            binding,
            op_occ: &job.op.value.op,
            vnf_instance: &instance,
            vnfd,
            flavour,
            vim: vim.as_ref(),
            grant: job.op.value.grant.as_ref(),
            package: job.package.files.as_ref(),
            cancel: &job.cancel,
        };
        let outcome = driver.run_hook(&ctx).await.map_err(|e| match e {
            Error::Driver { .. } | Error::Cancelled(_) => e,
            other => Error::driver(driver.name(), false, format!("{name} failed: {other}")),
        })?;
        Ok(Some(serde_json::to_value(outcome).unwrap_or_default()))
    }

    /// The instance a hook sees: before the work for `*_start`, after it for `*_end`.
    async fn instance_for_hook(&self, job: &Job, hook: LcmHook) -> Result<VnfInstance> {
        let before = job.instance.value.instance.clone();
        if hook.phase != HookPhase::End {
            return Ok(before);
        }
        let outcome = job
            .op
            .value
            .steps
            .iter()
            .find(|s| s.name == "work")
            .map(|s| s.output.clone());
        match outcome.and_then(|o| serde_json::from_value::<InfraOutcome>(o).ok()) {
            Some(outcome) => {
                let new_vnfd = self.target_vnfd(job).await?;
                Ok(self
                    .apply(
                        &before,
                        &job.request,
                        &job.package.vnfd,
                        new_vnfd.as_deref(),
                        &outcome,
                    )
                    .0)
            }
            None => Ok(before),
        }
    }

    async fn run_work(
        &self,
        job: &Job,
        vnfd: &Vnfd,
        flavour: &DeploymentFlavour,
    ) -> Result<Option<serde_json::Value>> {
        if let OpRequest::ModifyInfo(_) = &job.request {
            return Ok(Some(serde_json::Value::Null));
        }
        let instance = &job.instance.value.instance;
        let (vim_id, vim) = self.vim_of(instance, &job.request)?;
        let vim = job
            .op
            .value
            .grant
            .as_ref()
            .and_then(|g| g.vim_connection_info.get(&vim_id).cloned())
            .unwrap_or(vim);
        let vim = self.credentials(&job.tenant, &vim_id, vim).await?;
        let driver = self.driver_for(&vim)?;
        let ctx = InfraContext {
            tenant: &job.tenant,
            vnf_lcm_op_occ_id: &job.op.value.op.id,
            vnf_instance: instance,
            vnfd,
            flavour,
            vim_connection_id: &vim_id,
            vim: &vim,
            grant: job.op.value.grant.as_ref(),
            package: job.package.files.as_ref(),
            cancel: &job.cancel,
        };
        let outcome = match &job.request {
            OpRequest::Instantiate(r) => driver.instantiate(&ctx, r).await?,
            OpRequest::Terminate(r) => driver.terminate(&ctx, r).await?,
            OpRequest::Scale(_) | OpRequest::ScaleToLevel(_) => {
                let target = scale_target(
                    flavour,
                    instance.instantiated_vnf_info.as_ref(),
                    &job.request,
                )?;
                driver.scale(&ctx, &target).await?
            }
            OpRequest::Heal(r) => driver.heal(&ctx, r).await?,
            OpRequest::ChangeFlavour(r) => driver.change_flavour(&ctx, r).await?,
            OpRequest::Operate(r) => driver.operate(&ctx, r).await?,
            OpRequest::ChangeExtConn(r) => driver.change_ext_conn(&ctx, r).await?,
            OpRequest::ChangeVnfpkg(r) => {
                let target = self
                    .inner
                    .packages
                    .package_for_vnfd(&job.tenant, &r.vnfd_id, false)
                    .await?;
                driver
                    .change_vnfpkg(&ctx, r, &target.vnfd, target.files.as_ref())
                    .await?
            }
            OpRequest::ModifyInfo(_) => InfraOutcome::default(),
        };
        Ok(Some(serde_json::to_value(outcome).unwrap_or_default()))
    }

    async fn run_rolling_back(&self, job: &mut Job) -> Result<()> {
        let operation = job.op.value.op.operation;
        let vnfd = job.package.vnfd.clone();
        let flavour = match self.flavour_of(job, &vnfd) {
            Ok(flavour) => flavour.clone(),
            Err(error) => {
                return self
                    .finish(
                        &job.tenant,
                        &mut job.op,
                        OpEvent::RollbackFailed,
                        Some(&error),
                        None,
                    )
                    .await;
            }
        };
        let result = async {
            self.run_hook(
                job,
                &vnfd,
                &flavour,
                LcmHook::new(operation, HookPhase::RollbackStart),
            )
            .await?;
            let outcome = self.run_rollback_work(job, &vnfd, &flavour).await?;
            self.run_hook(
                job,
                &vnfd,
                &flavour,
                LcmHook::new(operation, HookPhase::RollbackEnd),
            )
            .await?;
            Ok::<Option<InfraOutcome>, Error>(outcome)
        }
        .await;
        self.refresh(job).await?;
        match result {
            // GRACEFUL: the running step was let finish; the rollback still stops in
            // FAILED_TEMP (SOL003), from where it can be rolled back again.
            Ok(_) if job.op.value.op.is_cancel_pending => {
                let error =
                    Error::Cancelled("the rollback was cancelled after its last step".to_owned());
                self.finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::Cancel,
                    Some(&error),
                    None,
                )
                .await
            }
            Ok(outcome) => {
                job.op.value.op.resource_changes = None;
                // The VIM's resources after the rollback (a VNFC it recreated has a new
                // compute resource), on the instance as it was before the operation.
                let restored = outcome.and_then(|outcome| {
                    let instance = restored_instance(&job.instance.value.instance, &outcome)?;
                    Some(Completion {
                        instance,
                        changed_info: None,
                        pkg_change: None,
                        resource_changes: Default::default(),
                        changed_ext_connectivity: Vec::new(),
                    })
                });
                self.finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::RollbackSucceeded,
                    None,
                    restored,
                )
                .await
            }
            Err(error) => {
                let event = if job.op.value.op.is_cancel_pending {
                    OpEvent::Cancel
                } else {
                    OpEvent::RollbackFailed
                };
                self.finish(&job.tenant, &mut job.op, event, Some(&error), None)
                    .await
            }
        }
    }

    async fn run_rollback_work(
        &self,
        job: &Job,
        vnfd: &Vnfd,
        flavour: &DeploymentFlavour,
    ) -> Result<Option<InfraOutcome>> {
        if let OpRequest::ModifyInfo(_) = &job.request {
            return Ok(None);
        }
        let instance = &job.instance.value.instance;
        let (vim_id, vim) = self.vim_of(instance, &job.request)?;
        let vim = self.credentials(&job.tenant, &vim_id, vim).await?;
        let driver = self.driver_for(&vim)?;
        let ctx = InfraContext {
            tenant: &job.tenant,
            vnf_lcm_op_occ_id: &job.op.value.op.id,
            vnf_instance: instance,
            vnfd,
            flavour,
            vim_connection_id: &vim_id,
            vim: &vim,
            grant: job.op.value.grant.as_ref(),
            package: job.package.files.as_ref(),
            cancel: &job.cancel,
        };
        let outcome = match &job.request {
            OpRequest::Instantiate(r) => driver.rollback_instantiate(&ctx, r).await,
            OpRequest::Scale(_) | OpRequest::ScaleToLevel(_) => {
                let target = scale_target(
                    flavour,
                    instance.instantiated_vnf_info.as_ref(),
                    &job.request,
                )?;
                driver.rollback_scale(&ctx, &target).await
            }
            OpRequest::ChangeFlavour(r) => driver.rollback_change_flavour(&ctx, r).await,
            OpRequest::ChangeExtConn(r) => driver.rollback_change_ext_conn(&ctx, r).await,
            OpRequest::ChangeVnfpkg(r) => driver.rollback_change_vnfpkg(&ctx, r).await,
            other => Err(Error::Conflict(format!(
                "{} cannot be rolled back",
                other.operation()
            ))),
        };
        outcome.map(Some)
    }

    async fn completed_instance(&self, job: &Job, vnfd: &Vnfd) -> Result<Completion> {
        let before = &job.instance.value.instance;
        if let OpRequest::ModifyInfo(r) = &job.request {
            let (instance, changes) = self.modified(job, before, r).await?;
            return Ok(Completion {
                instance,
                changed_info: Some(changes),
                pkg_change: None,
                resource_changes: Default::default(),
                changed_ext_connectivity: Vec::new(),
            });
        }
        let outcome = job
            .op
            .value
            .steps
            .iter()
            .find(|s| s.name == "work")
            .and_then(|s| serde_json::from_value::<InfraOutcome>(s.output.clone()).ok())
            .ok_or_else(|| Error::Internal("the infra step left no outcome".to_owned()))?;
        let new_vnfd = self.target_vnfd(job).await?;
        let (mut instance, pkg_change) =
            self.apply(before, &job.request, vnfd, new_vnfd.as_deref(), &outcome);
        for step in &job.op.value.steps {
            if step.name.ends_with("_end")
                && let Ok(mgmt) = serde_json::from_value::<MgmtOutcome>(step.output.clone())
            {
                for (key, value) in mgmt.metadata {
                    instance.metadata.insert(key, value);
                }
            }
        }
        Ok(Completion {
            instance,
            changed_info: None,
            pkg_change,
            resource_changes: outcome.resource_changes,
            changed_ext_connectivity: outcome.changed_ext_connectivity,
        })
    }

    /// The VNFD a CHANGE_VNFPKG moves to.
    async fn target_vnfd(&self, job: &Job) -> Result<Option<Arc<Vnfd>>> {
        match &job.request {
            OpRequest::ChangeVnfpkg(r) => Ok(Some(
                self.inner
                    .packages
                    .package_for_vnfd(&job.tenant, &r.vnfd_id, false)
                    .await?
                    .vnfd,
            )),
            _ => Ok(None),
        }
    }

    async fn modified(
        &self,
        job: &Job,
        before: &VnfInstance,
        r: &crate::model::VnfInfoModificationRequest,
    ) -> Result<(VnfInstance, VnfInfoModifications)> {
        let mut instance = before.clone();
        let mut changes = VnfInfoModifications::default();
        if let Some(name) = &r.vnf_instance_name {
            instance.vnf_instance_name = Some(name.clone());
            changes.vnf_instance_name = Some(name.clone());
        }
        if let Some(description) = &r.vnf_instance_description {
            instance.vnf_instance_description = Some(description.clone());
            changes.vnf_instance_description = Some(description.clone());
        }
        if let Some(patch) = &r.metadata {
            crate::model::merge_patch(&mut instance.metadata, patch);
            changes.metadata = Some(patch.clone());
        }
        if let Some(patch) = &r.extensions {
            crate::model::merge_patch(&mut instance.extensions, patch);
            changes.extensions = Some(patch.clone());
        }
        if let Some(patch) = &r.vnf_configurable_properties {
            crate::model::merge_patch(&mut instance.vnf_configurable_properties, patch);
            changes.vnf_configurable_properties = Some(patch.clone());
        }
        if let Some(patch) = &r.vim_connection_info {
            let mut current = serde_json::to_value(&instance.vim_connection_info)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            crate::model::merge_patch(&mut current, patch);
            instance.vim_connection_info =
                serde_json::from_value(serde_json::Value::Object(current)).map_err(|e| {
                    Error::Unprocessable(format!(
                        "vimConnectionInfo after the merge patch is invalid: {e}"
                    ))
                })?;
            changes.vim_connection_info = Some(instance.vim_connection_info.clone());
        }
        if let Some(vnfd_id) = &r.vnfd_id {
            let target = self
                .inner
                .packages
                .package_for_vnfd(&job.tenant, vnfd_id, false)
                .await?;
            instance.vnfd_id = target.vnfd.descriptor_id.clone();
            instance.vnf_software_version = target.vnfd.software_version.clone();
            instance.vnfd_version = target.vnfd.descriptor_version.clone();
            changes.vnfd_id = Some(instance.vnfd_id.clone());
            changes.vnf_software_version = Some(instance.vnf_software_version.clone());
            changes.vnfd_version = Some(instance.vnfd_version.clone());
        }
        Ok((instance, changes))
    }

    /// The instance after an operation's infra outcome.
    fn apply(
        &self,
        before: &VnfInstance,
        request: &OpRequest,
        vnfd: &Vnfd,
        new_vnfd: Option<&Vnfd>,
        outcome: &InfraOutcome,
    ) -> (VnfInstance, Option<ModificationsTriggeredByVnfPkgChange>) {
        let mut instance = before.clone();
        let mut pkg_change = None;
        let previous = before.instantiated_vnf_info.clone();
        match request {
            OpRequest::Terminate(_) => {
                instance.instantiation_state = InstantiationState::NotInstantiated;
                instance.instantiated_vnf_info = None;
                instance.links =
                    self.instance_links(&instance.id, InstantiationState::NotInstantiated);
                return (instance, None);
            }
            OpRequest::Instantiate(r) => {
                if r.vim_connection_info.is_empty() {
                    if let Ok((id, vim)) = self.vim_of(before, request) {
                        instance.vim_connection_info.insert(id, vim);
                    }
                } else {
                    instance.vim_connection_info = r.vim_connection_info.clone();
                }
                instance
                    .vnf_configurable_properties
                    .extend(r.vnf_configurable_properties.clone());
                instance.extensions.extend(r.extensions.clone());
            }
            _ => {}
        }
        let vnfd = new_vnfd.unwrap_or(vnfd);
        let flavour_id = match (request, &previous) {
            (OpRequest::Instantiate(r), _) => r.flavour_id.clone(),
            (OpRequest::ChangeFlavour(r), _) => r.new_flavour_id.clone(),
            (_, Some(info)) => info.flavour_id.clone(),
            (_, None) => String::new(),
        };
        let flavour = vnfd.flavour(&flavour_id);
        let scale_status: Vec<ScaleInfo> = match (request, &previous, flavour) {
            (OpRequest::Instantiate(r), _, Some(flavour)) => {
                levels_vec(flavour.scale_levels_at(r.instantiation_level_id.as_deref()))
            }
            (OpRequest::ChangeFlavour(r), _, Some(flavour)) => {
                levels_vec(flavour.scale_levels_at(r.instantiation_level_id.as_deref()))
            }
            (OpRequest::Scale(_) | OpRequest::ScaleToLevel(_), Some(info), Some(flavour)) => {
                let mut levels = current_levels(info);
                if let Ok(target) = scale_target(flavour, Some(info), request) {
                    for level in target.scale_levels {
                        levels.insert(level.aspect_id, level.scale_level);
                    }
                }
                levels_vec(levels)
            }
            (_, Some(info), _) => info.scale_status.clone(),
            _ => Vec::new(),
        };
        let max_scale_levels = flavour
            .map(|f| {
                f.scaling_aspects
                    .iter()
                    .map(|a| ScaleInfo {
                        aspect_id: a.id.clone(),
                        vnfd_id: None,
                        scale_level: a.max_scale_level,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let vnf_state = match (request, &previous) {
            (OpRequest::Operate(r), _) => r.change_state_to,
            (_, Some(info)) => info.vnf_state,
            _ => VnfOperationalStateType::Started,
        };
        let resources = &outcome.resources;
        let vnfc_info = vnfc_info_of(&resources.vnfc_resource_info, vnf_state);
        instance.instantiation_state = InstantiationState::Instantiated;
        instance.instantiated_vnf_info = Some(InstantiatedVnfInfo {
            flavour_id,
            vnf_state,
            scale_status,
            max_scale_levels,
            ext_cp_info: resources.ext_cp_info.clone(),
            vip_cp_info: Vec::new(),
            ext_virtual_link_info: resources.ext_virtual_link_info.clone(),
            ext_managed_virtual_link_info: resources.ext_managed_virtual_link_info.clone(),
            monitoring_parameters: previous
                .as_ref()
                .map(|i| i.monitoring_parameters.clone())
                .unwrap_or_default(),
            localization_language: match request {
                OpRequest::Instantiate(r) => r.localization_language.clone(),
                _ => previous
                    .as_ref()
                    .and_then(|i| i.localization_language.clone()),
            },
            vnfc_resource_info: resources.vnfc_resource_info.clone(),
            vnf_virtual_link_resource_info: resources.vnf_virtual_link_resource_info.clone(),
            virtual_storage_resource_info: resources.virtual_storage_resource_info.clone(),
            vnfc_info,
        });
        for (key, value) in &outcome.metadata {
            instance.metadata.insert(key.clone(), value.clone());
        }
        if let Some(target) = new_vnfd {
            instance.vnfd_id = target.descriptor_id.clone();
            instance.vnf_software_version = target.software_version.clone();
            instance.vnfd_version = target.descriptor_version.clone();
            pkg_change = Some(ModificationsTriggeredByVnfPkgChange {
                vnfd_id: Some(target.descriptor_id.clone()),
                vnf_provider: Some(target.provider.clone()),
                vnf_product_name: Some(target.product_name.clone()),
                vnf_software_version: Some(target.software_version.clone()),
                vnfd_version: Some(target.descriptor_version.clone()),
                ..ModificationsTriggeredByVnfPkgChange::default()
            });
        }
        instance.links = self.instance_links(&instance.id, InstantiationState::Instantiated);
        (instance, pkg_change)
    }

    /// Moves the op to its next state, with the instance's new state when it completes,
    /// and queues the notifications, in one commit.
    async fn finish(
        &self,
        tenant: &TenantId,
        op: &mut Versioned<OpOccRecord>,
        event: OpEvent,
        error: Option<&Error>,
        completed: Option<Completion>,
    ) -> Result<()> {
        Self::event(&mut op.value, event)?;
        op.value.op.error = error.map(op_failure);
        if matches!(event, OpEvent::Cancel) {
            op.value.op.is_cancel_pending = false;
        }
        if matches!(
            event,
            OpEvent::StepFailed | OpEvent::RollbackFailed | OpEvent::Cancel
        ) {
            // A failed step is done again on retry: keep the steps before it.
        }
        let mut writes = Vec::new();
        let mut instance_now = None;
        if let Some(Completion {
            instance,
            changed_info,
            pkg_change,
            resource_changes,
            changed_ext_connectivity,
        }) = completed
        {
            op.value.op.changed_info = changed_info;
            op.value.op.modifications_triggered_by_vnf_pkg_change = pkg_change;
            op.value.op.resource_changes =
                (!resource_changes.is_empty()).then_some(resource_changes);
            op.value.op.changed_ext_connectivity = changed_ext_connectivity;
            let current = self
                .store()
                .get_typed::<VnfInstanceRecord>(tenant, &instance.id)
                .await?;
            let mut record = current.value.clone();
            record.instance = instance.clone();
            writes.push(Write::Update {
                record: record.into(),
                expected_version: current.version,
            });
            instance_now = Some(instance);
        }
        op.value.op.links = self.record_links(&op.value);
        let instance_for_notification = match instance_now.clone() {
            Some(instance) => Some(instance),
            None => self.instance_or_before(tenant, &op.value).await,
        };
        writes.insert(
            0,
            Write::Update {
                record: Record::from(op.value.clone()),
                expected_version: op.version,
            },
        );
        if let Some(instance) = &instance_for_notification {
            writes.extend(op_occ_writes(
                &self.subscriptions(tenant).await?,
                instance,
                &op.value.op,
            ));
        }
        // CHANGE_VNFPKG, or MODIFY_INFO of vnfdId: the instance uses another package.
        // It is IN_USE before the instance refers to it; the old one is released after.
        let moved_from = instance_now
            .as_ref()
            .zip(op.value.instance_before.as_ref())
            .filter(|(now, before)| {
                op.value.op.operation_state == State::Completed && now.vnfd_id != before.vnfd_id
            })
            .map(|(now, before)| (now.vnfd_id.clone(), before.vnfd_id.clone()));
        if let Some((new_vnfd_id, _)) = &moved_from {
            let _ = self
                .inner
                .packages
                .set_in_use(tenant, new_vnfd_id, true)
                .await;
        }
        let versions = self.store().commit(tenant, writes).await?;
        self.committed();
        op.version = versions.first().copied().unwrap_or(op.version + 1);
        if let Some((_, old_vnfd_id)) = &moved_from {
            let _ = self.release_package_if_unused(tenant, old_vnfd_id).await;
        }
        Ok(())
    }

    // ----- Notification sender -----------------------------------------------------------

    async fn sender_loop(self, stop: CancellationToken) {
        let Some(sink) = self.inner.sink.clone() else {
            return;
        };
        let owner = format!("{}-sender", self.inner.config.executor_id);
        // Deliveries run side by side; a subscription's next notification is not
        // claimable while its head is in flight, so each subscription stays in order and
        // a slow callback holds up only its own subscription.
        let mut in_flight = tokio::task::JoinSet::new();
        const MAX_IN_FLIGHT: usize = 64;
        while !stop.is_cancelled() {
            while in_flight.try_join_next().is_some() {}
            let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
            let mut claimed_any = false;
            if room > 0 {
                match self
                    .store()
                    .claim_notifications(&owner, Utc::now(), Duration::from_secs(60), room)
                    .await
                {
                    Ok(entries) => {
                        claimed_any = !entries.is_empty();
                        for entry in entries {
                            let sink = sink.clone();
                            let engine = self.clone();
                            in_flight.spawn(async move {
                                engine.deliver(sink.as_ref(), entry).await;
                                engine.inner.outbox.notify_one();
                            });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "claiming notifications failed"),
                }
            }
            if claimed_any {
                continue;
            }
            let idle = self
                .inner
                .config
                .notification_backoff
                .min(Duration::from_millis(50));
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.inner.outbox.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver(&self, sink: &dyn NotificationSink, entry: crate::store::OutboxEntry) {
        let target = match self.target(&entry).await {
            Ok(target) => target,
            Err(Error::NotFound { .. }) => {
                // The subscription is gone: nobody is left to notify.
                let _ = self.store().ack_notification(&entry).await;
                return;
            }
            Err(error) => {
                self.deliver_later(&entry, &error).await;
                return;
            }
        };
        match sink.deliver(&target, &entry.payload).await {
            Ok(()) => {
                let _ = self.store().ack_notification(&entry).await;
            }
            Err(error) => {
                // A refusal that will not change by itself (a 4xx, bad authentication
                // parameters) is given fewer attempts, so it does not hold the
                // subscription's later notifications back for long.
                let limit = if error.is_retryable() {
                    self.inner.config.notification_max_attempts
                } else {
                    self.inner.config.notification_max_attempts.min(3)
                };
                if entry.attempts + 1 >= limit {
                    tracing::warn!(
                        subscription = entry.subscription_id,
                        %error,
                        "notification dropped after {} attempts",
                        entry.attempts + 1
                    );
                    let _ = self.store().ack_notification(&entry).await;
                } else {
                    self.deliver_later(&entry, &error).await;
                }
            }
        }
    }

    async fn deliver_later(&self, entry: &crate::store::OutboxEntry, error: &Error) {
        let factor = 2u32.saturating_pow(entry.attempts.min(16));
        let delay = self
            .inner
            .config
            .notification_backoff
            .saturating_mul(factor)
            .min(self.inner.config.notification_max_backoff);
        let not_before = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        if let Err(store_error) = self
            .store()
            .retry_notification(entry, not_before, &error.to_string())
            .await
        {
            tracing::warn!(%store_error, "a failed notification could not be rescheduled; its claim expires instead");
        }
    }

    async fn target(&self, entry: &crate::store::OutboxEntry) -> Result<NotificationTarget> {
        let found = match self
            .store()
            .get(
                &entry.tenant,
                RecordKind::LccnSubscription,
                &entry.subscription_id,
            )
            .await
        {
            Ok(found) => found,
            Err(Error::NotFound { .. }) => {
                self.store()
                    .get(
                        &entry.tenant,
                        RecordKind::PkgmSubscription,
                        &entry.subscription_id,
                    )
                    .await?
            }
            Err(other) => return Err(other),
        };
        let (callback_uri, authentication) = match found.value {
            Record::LccnSubscription(r) => (
                r.subscription.callback_uri.clone(),
                r.authentication.clone(),
            ),
            Record::PkgmSubscription(r) => (
                r.subscription.callback_uri.clone(),
                r.authentication.clone(),
            ),
            _ => return Err(Error::Internal("not a subscription".to_owned())),
        };
        let authentication = match authentication {
            None => None,
            Some(sealed) => {
                let context =
                    crate::vim::Sealer::subscription_context(&entry.tenant, &entry.subscription_id);
                Some(self.inner.sealer.open_json(&context, &sealed)?)
            }
        };
        Ok(NotificationTarget {
            subscription_id: entry.subscription_id.clone(),
            callback_uri,
            authentication,
        })
    }
}

/// What a completed operation changed: the instance's new state and the op's report.
struct Completion {
    instance: VnfInstance,
    changed_info: Option<VnfInfoModifications>,
    pkg_change: Option<ModificationsTriggeredByVnfPkgChange>,
    resource_changes: crate::model::ResourceChanges,
    changed_ext_connectivity: Vec<crate::model::ExtVirtualLinkInfo>,
}

enum Step {
    Hook(LcmHook),
    Work,
}

impl Step {
    fn name(&self) -> String {
        match self {
            Self::Hook(hook) => hook.sol001_name(),
            Self::Work => "work".to_owned(),
        }
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
