//! [`VnfLcm`]: SOL003 VNF lifecycle management as an embedder calls it. It accepts
//! requests (validated against the VNFD and the instance, stored as an operation
//! occurrence in STARTING and answered at once), runs the tasks on operation
//! occurrences (retry, rollback, fail, cancel), answers queries, and holds the LCM
//! subscriptions. The executor ([`VnfLcm::start`]) runs what it accepted.

use super::*;
use crate::infra::InfraRequestContext;
use crate::notify::Subscriptions;

/// SOL003 VNF lifecycle management. Cheap to clone.
///
/// Requests are validated against the VNFD and the instance, stored as an operation
/// occurrence in STARTING, and answered at once; an executor ([`VnfLcm::start`]) runs them.
#[derive(Clone)]
pub struct VnfLcm {
    pub(super) engine: Engine,
}

impl std::fmt::Debug for VnfLcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnfLcm")
            .field("executor_id", &self.engine.inner.config.executor_id)
            .field(
                "vim_types",
                &self.engine.inner.infra.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl VnfLcm {
    /// A builder (the [`crate::Vnfm`] façade builds one for you).
    pub fn builder() -> VnfLcmBuilder {
        VnfLcmBuilder::default()
    }

    // ----- VNF identifiers -------------------------------------------------------------

    /// Creates a VNF identifier for an onboarded, enabled package's VNFD.
    pub async fn create_vnf(
        &self,
        tenant: &TenantId,
        request: CreateVnfRequest,
    ) -> Result<VnfInstance> {
        let package = self
            .engine
            .onboarded_package(tenant, &request.vnfd_id)
            .await?;
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
            links: self
                .engine
                .instance_links(&id, InstantiationState::NotInstantiated),
        };
        let record = VnfInstanceRecord {
            instance: instance.clone(),
            vnf_pkg_id: Some(package.info.id.clone()),
            created_at: Utc::now(),
        };
        let mut writes = vec![Write::Insert(record.into())];
        writes.extend(identifier_writes(
            &self.engine.subscriptions(tenant).await?,
            &instance,
            true,
        ));
        // The package is IN_USE before the instance exists, so nobody sees an instance
        // of a NOT_IN_USE package; a failed commit gives the mark back.
        self.engine
            .inner
            .packages
            .set_in_use(tenant, &instance.vnfd_id, true)
            .await?;
        if let Err(error) = self.engine.store().commit(tenant, writes).await {
            let _ = self
                .engine
                .release_package_if_unused(tenant, &instance.vnfd_id)
                .await;
            return Err(error);
        }
        self.engine.inner.outbox.ring();
        Ok(instance)
    }

    /// Deletes a NOT_INSTANTIATED VNF identifier with no operation in progress.
    pub async fn delete_vnf(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let record = self
            .engine
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
        if let Some(op) = self.engine.op_in_progress(tenant, id).await? {
            return Err(Error::operation_in_progress(id, op.id, Some(op.operation)));
        }
        let mut writes = vec![Write::Delete {
            kind: RecordKind::VnfInstance,
            id: id.to_owned(),
            expected_version: Some(record.version),
        }];
        writes.extend(identifier_writes(
            &self.engine.subscriptions(tenant).await?,
            &record.value.instance,
            false,
        ));
        self.engine.store().commit(tenant, writes).await?;
        self.engine.inner.outbox.ring();
        self.engine
            .release_package_if_unused(tenant, &record.value.instance.vnfd_id)
            .await
    }

    /// A VNF instance with its version, which changes whenever the instance does (the
    /// HTTP `ETag` of the instance).
    pub async fn instance_versioned(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<VnfInstance>> {
        let record = self
            .engine
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
            .engine
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
            .engine
            .store()
            .list_typed::<VnfInstanceRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.instance))
    }

    /// VNF instances, filtered and paged, each as a list shows it by default (without
    /// its complex attributes, as JSON text: [`Record::summary`](crate::store::Record::summary)).
    pub async fn instance_summaries(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<String>> {
        self.engine
            .store()
            .list_summaries(tenant, RecordKind::VnfInstance, query)
            .await
    }

    /// One operation occurrence.
    pub async fn op_occ(&self, tenant: &TenantId, id: &str) -> Result<VnfLcmOpOcc> {
        Ok(self
            .engine
            .store()
            .get_typed::<OpOccRecord>(tenant, id)
            .await?
            .value
            .op)
    }

    /// Operation occurrences, filtered and paged.
    pub async fn op_occs(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<VnfLcmOpOcc>> {
        let page = self
            .engine
            .store()
            .list_typed::<OpOccRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.op))
    }

    /// Operation occurrences, filtered and paged, each as a list shows it by default
    /// (without its complex attributes, as JSON text).
    pub async fn op_occ_summaries(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<String>> {
        self.engine
            .store()
            .list_summaries(tenant, RecordKind::VnfLcmOpOcc, query)
            .await
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
        self.engine.check_started()?;
        let instance = self
            .engine
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
            && let Some(vims) = &self.engine.inner.vims
            && let Some((vim_id, vim)) = vims.default_vim(tenant).await?
        {
            r.vim_connection_info.insert(vim_id, vim);
        }
        self.validate(tenant, &instance.value.instance, &request)
            .await?;
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
        op.links = self.engine.op_links(&op, false);
        let record = OpOccRecord {
            op: op.clone(),
            steps: Vec::new(),
            grant: None,
            grant_request: None,
            instance_before: Some(instance.value.instance.clone()),
            hook_data: None,
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
            &self.engine.subscriptions(tenant).await?,
            &instance.value.instance,
            &op,
        ));
        self.engine.store().commit(tenant, writes).await.map_err(|error| match error {
            stale @ Error::StaleVersion { .. } => Error::Conflict(format!(
                "VNF instance {id} changed while the request was checked (another operation ended); read it again and resend: {}",
                stale.conflict_reason().unwrap_or_default()
            )),
            other => other,
        })?;
        self.engine.committed();
        Ok(op)
    }

    /// Checks a request against the instance and its VNFD before anything is stored:
    /// the checks every operation shares here, its own in its module of `ops`.
    async fn validate(
        &self,
        tenant: &TenantId,
        instance: &VnfInstance,
        request: &OpRequest,
    ) -> Result<()> {
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
        let logic = ops::of(request);
        let package = self
            .engine
            .inner
            .packages
            .package_for_vnfd(tenant, &instance.vnfd_id, operation == Op::Instantiate)
            .await?;
        let vnfd = &package.vnfd;
        let driver = if logic.uses_infra() {
            let (_, vim) = self.engine.vim_of(instance, request)?;
            let driver = self.engine.driver_for(&vim)?;
            if !driver.capabilities().supports(operation) {
                return Err(Error::operation_not_supported(
                    operation.to_string(),
                    format!("the {} infra driver", driver.vim_type()),
                ));
            }
            Some(driver)
        } else {
            None
        };
        // The flavour the operation runs in, and whose hooks it calls.
        let flavour = match (logic.requested_flavour(), &instance.instantiated_vnf_info) {
            (Some(id), _) => Some(vnfd.flavour(id).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "flavourId '{id}' is not a flavour of VNFD {}",
                    vnfd.descriptor_id
                ))
            })?),
            (None, Some(info)) => vnfd.flavour(&info.flavour_id),
            (None, None) => vnfd.flavours.first(),
        };
        let cx = ops::Acceptance {
            engine: &self.engine,
            tenant,
            instance,
            vnfd,
            flavour,
            driver: driver.as_deref(),
        };
        logic.validate(&cx).await?;
        let flavour = match flavour {
            Some(flavour) => flavour,
            None if logic.uses_infra() => cx.flavour()?,
            None => return Ok(()),
        };
        // The infra driver checks what it would refuse once the operation runs.
        if let Some(driver) = &driver {
            let ctx =
                InfraRequestContext::new(tenant, instance, vnfd, flavour, package.files.as_ref());
            driver.validate_request(&ctx, request).await?;
        }
        self.check_hooks(flavour, operation)?;
        self.check_coordinations(flavour, operation)?;
        // The management drivers of the operation's hooks check what they will need.
        self.engine
            .cluster_vims()
            .validate_hook_requests(tenant, instance, request, &package, flavour)
            .await
    }

    /// Refuses an operation whose hooks no registered MgmtDriver serves. Instantiation
    /// checks every hook the flavour binds, so that an instance is never created whose
    /// later operations (scale, heal, terminate) could not run their hooks.
    fn check_hooks(&self, flavour: &DeploymentFlavour, operation: Op) -> Result<()> {
        let hooks: Vec<String> = [HookPhase::Start, HookPhase::End]
            .into_iter()
            .map(|phase| LcmHook::new(operation, phase).sol001_name())
            .collect();
        let unserved: Vec<String> = flavour
            .lcm_operations
            .iter()
            .filter(|binding| {
                operation == Op::Instantiate && is_hook_name(&binding.name)
                    || hooks.contains(&binding.name)
            })
            .filter(|binding| {
                binding.implementation.is_some() && self.engine.mgmt_driver(binding).is_none()
            })
            .map(|binding| {
                let artifact = binding.implementation.as_deref().unwrap_or_default();
                match &binding.artifact_file {
                    Some(file) => format!("{} to artifact '{artifact}' ({file})", binding.name),
                    None => format!("{} to artifact '{artifact}'", binding.name),
                }
            })
            .collect();
        if unserved.is_empty() {
            return Ok(());
        }
        Err(Error::Unprocessable(format!(
            "the VNFD binds {}, but no MgmtDriver serving that artifact name or file name is configured",
            unserved.join(", ")
        )))
    }

    /// Refuses an operation whose VNFD declares coordination actions when no
    /// coordinator is configured. Instantiation checks every operation's actions, as
    /// it checks every hook.
    fn check_coordinations(&self, flavour: &DeploymentFlavour, operation: Op) -> Result<()> {
        if self.engine.inner.coordinator.is_some() {
            return Ok(());
        }
        let declared: Vec<String> = flavour
            .lcm_coordinations
            .iter()
            .filter(|c| operation == Op::Instantiate || c.operation == operation)
            .map(|c| format!("'{}' ({:?})", c.action_name, c.operation))
            .collect();
        if declared.is_empty() {
            return Ok(());
        }
        Err(Error::Unprocessable(format!(
            "the VNFD declares the LCM coordination actions {}, but no coordination \
             endpoint is configured",
            declared.join(", ")
        )))
    }

    // ----- Tasks on operation occurrences --------------------------------------------

    async fn change_op(
        &self,
        tenant: &TenantId,
        op_id: &str,
        change: impl Fn(&mut OpOccRecord) -> Result<()>,
    ) -> Result<VnfLcmOpOcc> {
        for _ in 0..10 {
            let mut record = self
                .engine
                .store()
                .get_typed::<OpOccRecord>(tenant, op_id)
                .await?;
            let state_before = record.value.op.operation_state;
            change(&mut record.value)?;
            record.value.op.links = self.engine.record_links(&record.value);
            // SOL003 notifies changes of state; a cancel request is not one.
            let instance = if record.value.op.operation_state == state_before {
                None
            } else {
                self.engine.instance_or_before(tenant, &record.value).await
            };
            let mut writes = vec![Write::Update {
                record: record.value.clone().into(),
                expected_version: record.version,
            }];
            if let Some(instance) = instance {
                writes.extend(op_occ_writes(
                    &self.engine.subscriptions(tenant).await?,
                    &instance,
                    &record.value.op,
                ));
            }
            match self.engine.store().commit(tenant, writes).await {
                Ok(_) => {
                    self.engine.committed();
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

    /// Retry a FAILED_TEMP operation from the step that failed.
    pub async fn retry(&self, tenant: &TenantId, op_id: &str) -> Result<VnfLcmOpOcc> {
        self.change_op(tenant, op_id, |record| {
            Engine::event(record, OpEvent::Retry)?;
            if let Some(data) = record
                .op
                .error
                .take()
                .and_then(|e| e.user_script_err_handling_data)
            {
                record.hook_data = Some(data);
            }
            record.op.is_cancel_pending = false;
            Ok(())
        })
        .await
    }

    /// Roll a FAILED_TEMP operation back. Refused for operations its driver cannot undo.
    pub async fn rollback(&self, tenant: &TenantId, op_id: &str) -> Result<VnfLcmOpOcc> {
        let record = self
            .engine
            .store()
            .get_typed::<OpOccRecord>(tenant, op_id)
            .await?;
        let instance = match record.value.instance_before.clone() {
            Some(instance) => instance,
            None => {
                self.instance(tenant, &record.value.op.vnf_instance_id)
                    .await?
            }
        };
        self.engine.check_rollback(&record.value, &instance)?;
        self.change_op(tenant, op_id, |record| {
            Engine::event(record, OpEvent::Rollback)?;
            record.op.is_cancel_pending = false;
            // What the rollback undoes must be done again if the operation is retried
            // after a failed or cancelled rollback: only the grant stays.
            record.steps.retain(|step| step.name == "grant");
            Ok(())
        })
        .await
    }

    /// Declare a FAILED_TEMP operation failed for good.
    pub async fn fail(&self, tenant: &TenantId, op_id: &str) -> Result<VnfLcmOpOcc> {
        let op = self
            .change_op(tenant, op_id, |record| Engine::event(record, OpEvent::Fail))
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
                .engine
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
        self.engine.inner.events.subscribe()
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
            let changed = self.engine.inner.op_changed.notified();
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
            let idle = !self.engine.executor_running();
            if tokio::time::Instant::now() >= deadline {
                let hint = if idle && op.operation_state == State::Starting {
                    " (no executor of this engine runs: was it started?)"
                } else {
                    ""
                };
                return Err(Error::Conflict(format!(
                    "operation {op_id} is still {} after {timeout:?}{hint}",
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

    /// The LCM subscriptions (`/vnflcm/v2/subscriptions`): create with
    /// [`Subscriptions::subscribe`], read, page and remove; with a sink, a callback
    /// is checked before its subscription is accepted.
    pub fn subscriptions(&self) -> &Subscriptions<LccnSubscriptionRecord> {
        &self.engine.inner.subscriptions
    }

    // ----- Executor --------------------------------------------------------------------

    /// Starts this engine's executor on the current tokio runtime: it claims accepted
    /// operations from the store and runs them. Notifications are delivered by a
    /// [`crate::notify::NotificationSender`] (the [`crate::Vnfm`] façade starts both).
    pub fn start(&self) -> Executor {
        executor::start(&self.engine)
    }
}

/// Whether a `Vnflcm` operation name is a hook (`…_start` or `…_end`).
fn is_hook_name(name: &str) -> bool {
    name.ends_with("_start") || name.ends_with("_end")
}
