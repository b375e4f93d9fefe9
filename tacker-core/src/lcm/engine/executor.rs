//! The executor: claims operation occurrences with leases and runs them step by step.

use super::*;
use crate::model::{
    CoordinationEndpointType, LcmCoordRequest, LcmCoordRequestLinks, LcmCoordResultType,
};
use crate::vnfd::LcmCoordination;

/// How often a step that failed on a transient store error (a retryable one, or a
/// concurrent change of the op) is tried again in place.
const STORE_RETRIES: u32 = 3;

/// The executor-side view of one operation: everything a step needs.
struct Job {
    tenant: TenantId,
    /// The lease this run holds; checked (and renewed) before each step and each record,
    /// so a run that lost its lease stops instead of working beside the new holder.
    lease: OpLease,
    op: Versioned<OpOccRecord>,
    request: OpRequest,
    instance: Versioned<VnfInstanceRecord>,
    package: VnfPackage,
    cancel: CancellationToken,
    /// Cancelled when the executor shuts down: no further step starts, and the op is
    /// handed back to the store as it is.
    handoff: CancellationToken,
}

impl Job {
    /// The context of an infra driver call of this job on `vim`.
    fn infra_context<'a>(
        &'a self,
        vnfd: &'a Vnfd,
        flavour: &'a DeploymentFlavour,
        vim_id: &'a str,
        vim: &'a VimConnectionInfo,
    ) -> InfraContext<'a> {
        InfraContext {
            tenant: &self.tenant,
            vnf_lcm_op_occ_id: &self.op.value.op.id,
            vnf_instance: &self.instance.value.instance,
            vnfd,
            flavour,
            vim_connection_id: vim_id,
            vim,
            grant: self.op.value.grant.as_ref(),
            grant_request: self.op.value.grant_request.as_ref(),
            package: self.package.files.as_ref(),
            cancel: &self.cancel,
        }
    }
}

/// The executor of an [`Engine`]: it claims runnable op occurrences from the store
/// (across tenants, under a lease it renews), drives each through its steps (grant,
/// hooks, driver work, completion; rollback steps when asked), records every step, and
/// moves the op to a state on every error.
#[derive(Clone)]
struct OpExecutor {
    engine: Engine,
}

impl std::ops::Deref for OpExecutor {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// Counts a running executor of its engine while it lives.
struct Running(Engine);

impl Drop for Running {
    fn drop(&mut self) {
        self.0
            .inner
            .executors
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts an executor of `engine` on the current tokio runtime.
pub(super) fn start(engine: &Engine) -> Executor {
    let stop = CancellationToken::new();
    engine
        .inner
        .executors
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let running = Running(engine.clone());
    let executor = OpExecutor {
        engine: engine.clone(),
    };
    let task_stop = stop.clone();
    let task = tokio::spawn(async move {
        let _running = running;
        executor.run(task_stop).await;
    });
    Executor {
        stop,
        tasks: vec![task],
    }
}

impl OpExecutor {
    async fn run(self, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.inner.config.max_concurrent_ops.max(1)));
        // Owned here: when this task is aborted (a simulated crash), dropping the set
        // aborts every operation it runs.
        let mut running = tokio::task::JoinSet::new();
        while !stop.is_cancelled() {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            if free > 0 {
                // Each claim holds its leases under a name of its own (the executor's id
                // and a fresh suffix): a run that releases or renews late can never
                // touch the lease of a newer run of the same operation, even on this
                // executor.
                let owner = format!("{}#{}", self.inner.config.executor_id, new_id());
                let claimed = self
                    .store()
                    .claim_ops(&owner, Utc::now(), self.inner.config.lease_ttl, free)
                    .await;
                match claimed {
                    Ok(claimed) => {
                        for op in claimed {
                            // An op this executor still runs (its renewals came late, or
                            // the run is ending): the running task keeps it, under this
                            // claim's lease, and releases that lease when it ends; a
                            // second task would repeat steps. `running` stays locked
                            // while the lease is handed over, so a run that is ending
                            // either sees the new lease or is gone already.
                            let handed_over = self.inner.running.lock().is_ok_and(|running| {
                                if !running.contains_key(&op.op.value.op.id) {
                                    return false;
                                }
                                if let Ok(mut leases) = self.inner.leases.lock() {
                                    leases.insert(op.op.value.op.id.clone(), op.lease.clone());
                                }
                                true
                            });
                            if handed_over {
                                continue;
                            }
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                let _ = self.store().release_op_lease(&op.lease).await;
                                continue;
                            };
                            let engine = self.clone();
                            let handoff = stop.clone();
                            running.spawn(async move {
                                engine.run_claimed(op, handoff).await;
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

    async fn run_claimed(&self, claimed: ClaimedOp, handoff: CancellationToken) {
        let op_id = claimed.op.value.op.id.clone();
        let token = CancellationToken::new();
        if let Ok(mut running) = self.inner.running.lock() {
            running.insert(op_id.clone(), token.clone());
        }
        if let Ok(mut leases) = self.inner.leases.lock() {
            leases.insert(op_id.clone(), claimed.lease.clone());
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
            result = self.drive(claimed, token.clone(), lease_lost.clone(), handoff) => result,
            () = renewer => {
                tracing::warn!(op = op_id, tenant = %tenant, "the lease of the operation was lost; its new holder goes on");
                Ok(())
            }
        };
        // The lease as held now (a later claim may have handed the run a new one),
        // taken while `running` is locked: see the claim loop.
        let lease = match self.inner.running.lock() {
            Ok(mut running) => {
                running.remove(&op_id);
                self.inner
                    .leases
                    .lock()
                    .ok()
                    .and_then(|mut leases| leases.remove(&op_id))
                    .unwrap_or(lease)
            }
            Err(_) => lease,
        };
        match result {
            Ok(()) => {
                let _ = self.store().release_op_lease(&lease).await;
            }
            Err(error) => {
                // Not even the failure could be recorded (the store is unreachable, or
                // refuses this op). The lease is kept until it lapses, so the op is not
                // claimed again at once; the next claim finds an expired owner and
                // records that this run stopped.
                tracing::error!(op = op_id, tenant = %tenant, %error, "operation failure could not be recorded; its lease lapses before it is claimed again");
            }
        }
    }

    async fn renew_lease(
        self,
        mut lease: OpLease,
        token: CancellationToken,
        lost: CancellationToken,
    ) {
        let period = self.inner.config.lease_ttl / 3;
        let current = |fallback: &OpLease| {
            self.inner
                .leases
                .lock()
                .ok()
                .and_then(|leases| leases.get(&fallback.op_occ_id).cloned())
                .unwrap_or_else(|| fallback.clone())
        };
        loop {
            tokio::time::sleep(period).await;
            lease = current(&lease);
            let renewed = match self
                .store()
                .renew_op_lease(&lease, Utc::now(), self.inner.config.lease_ttl)
                .await
            {
                Ok(renewed) => Ok(renewed),
                // A claim may have handed this run a new lease meanwhile.
                Err(error) => {
                    let now_held = current(&lease);
                    if now_held.owner == lease.owner {
                        Err(error)
                    } else {
                        lease = now_held;
                        self.store()
                            .renew_op_lease(&lease, Utc::now(), self.inner.config.lease_ttl)
                            .await
                    }
                }
            };
            match renewed {
                Ok(renewed) => {
                    if let Ok(mut leases) = self.inner.leases.lock()
                        && leases
                            .get(&renewed.op_occ_id)
                            .is_some_and(|held| held.owner == renewed.owner)
                    {
                        leases.insert(renewed.op_occ_id.clone(), renewed.clone());
                    }
                    lease = renewed;
                }
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
        handoff: CancellationToken,
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
            // The executor's id, without the suffix of its claim.
            let previous = previous.split('#').next().unwrap_or(previous);
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
            lease: claimed.lease.clone(),
            op,
            request,
            instance,
            package,
            cancel: token,
            handoff,
        };
        // Attempts left for a step that failed on a store error worth retrying (a lost
        // connection, a busy database): retried here a few times before the failure is
        // recorded, so that a short outage does not fail an operation.
        let mut store_retries = STORE_RETRIES;
        loop {
            if lease_lost.is_cancelled() {
                return Ok(());
            }
            if job.handoff.is_cancelled() {
                tracing::info!(op = job.op.value.op.id, state = %job.op.value.op.operation_state, "executor stopping: the operation is handed back before its next step");
                return Ok(());
            }
            let step = match job.op.value.op.operation_state {
                State::Starting => self.run_starting(&mut job).await,
                State::Processing => self.run_processing(&mut job).await,
                State::RollingBack => self.run_rolling_back(&mut job).await,
                _ => return Ok(()),
            };
            if let Err(error) = step {
                if lease_lost.is_cancelled() {
                    // Whoever holds the lease now records what happens next.
                    return Ok(());
                }
                // A retryable store error, or a write that met a concurrent change of
                // the op (a cancel request): tried again on the op as stored now.
                let transient = matches!(
                    error,
                    Error::Store {
                        retryable: true,
                        ..
                    }
                ) || matches!(error, Error::StaleVersion { .. });
                if transient && store_retries > 0 {
                    store_retries -= 1;
                    let attempt = STORE_RETRIES - store_retries;
                    tracing::warn!(op = job.op.value.op.id, %error, attempt, "a step met a transient store error; trying again");
                    tokio::time::sleep(Duration::from_millis(200) * attempt).await;
                    if let Err(error) = self.refresh(&mut job).await {
                        return self.record_failure(&mut job, &error).await;
                    }
                    continue;
                }
                return self.record_failure(&mut job, &error).await;
            }
        }
    }

    /// Ends a step that failed outside the places that record their own failure (a
    /// request the instance no longer allows, a store error, a conflict): the op moves
    /// on to a state with the error recorded, so that it is never claimed again only to
    /// fail the same way. A STARTING op that cannot start is ROLLED_BACK (nothing was
    /// done yet); a PROCESSING or ROLLING_BACK one is FAILED_TEMP, where retry,
    /// rollback and fail are up to the client.
    async fn record_failure(&self, job: &mut Job, error: &Error) -> Result<()> {
        tracing::warn!(op = job.op.value.op.id, state = %job.op.value.op.operation_state, %error, "operation step failed; recording the failure");
        let mut last = None;
        // A concurrent cancel or lease renewal can move the version under us: a few
        // attempts, each on the op as stored now.
        for _ in 0..5 {
            if let Err(error) = self.refresh(job).await {
                last = Some(error);
                continue;
            }
            let pending_cancel = job.op.value.op.is_cancel_pending;
            // A cancel asked for meanwhile is what ends the op, and what it records.
            let cancelled;
            let error = if pending_cancel {
                cancelled = Error::Cancelled(format!(
                    "cancelled while {} (the step in progress ended with: {error})",
                    job.op.value.op.operation_state
                ));
                &cancelled
            } else {
                error
            };
            let event = match job.op.value.op.operation_state {
                State::Starting | State::Processing | State::RollingBack if pending_cancel => {
                    OpEvent::Cancel
                }
                State::Starting => OpEvent::GrantRefused,
                State::Processing => OpEvent::StepFailed,
                State::RollingBack => OpEvent::RollbackFailed,
                // Someone else already moved it on.
                _ => return Ok(()),
            };
            match self
                .finish(&job.tenant, &mut job.op, event, Some(error), None)
                .await
            {
                Ok(()) => return Ok(()),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| Error::Internal("the failure could not be recorded".into())))
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

    /// Re-reads the op (to see a cancel request made since it was claimed), dropping
    /// whatever the job changed in its copy.
    async fn refresh(&self, job: &mut Job) -> Result<()> {
        job.op = self
            .store()
            .get_typed::<OpOccRecord>(&job.tenant, &job.op.value.op.id)
            .await?;
        Ok(())
    }

    /// [`refresh`](Self::refresh) where the job's copy is the op as this run last
    /// read or wrote it (no change of it is pending): read again only when its stored
    /// version moved on (a cancel request, or another executor).
    async fn refresh_clean(&self, job: &mut Job) -> Result<()> {
        if let Some(op) = self
            .store()
            .get_typed_if_changed::<OpOccRecord>(&job.tenant, &job.op.value.op.id, job.op.version)
            .await?
        {
            job.op = op;
        }
        Ok(())
    }

    async fn run_starting(&self, job: &mut Job) -> Result<()> {
        self.refresh_clean(job).await?;
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
        self.fence(job).await?;
        match self.inner.grants.grant(&job.tenant, &request).await {
            Ok(grant) => {
                record_grant(&mut job.op.value, grant, request);
                self.finish(&job.tenant, &mut job.op, OpEvent::Granted, None, None)
                    .await
            }
            // An NFVO that cannot answer now (unreachable, 5xx, no decision in time):
            // the operation goes on to FAILED_TEMP, and a retry asks for the grant again.
            Err(error) if error.is_retryable() => {
                self.finish(&job.tenant, &mut job.op, OpEvent::Granted, None, None)
                    .await?;
                let error = Error::driver(
                    "grant",
                    true,
                    format!("the grant could not be obtained yet (retry asks again): {error}"),
                );
                self.finish(
                    &job.tenant,
                    &mut job.op,
                    OpEvent::StepFailed,
                    Some(&error),
                    None,
                )
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
        let info = instance.instantiated_vnf_info.as_ref();
        let logic = ops::of(&job.request);
        let mut resources = GrantResources::default();
        let input = ops::GrantInput {
            vnfd: &job.package.vnfd,
            info,
        };
        logic.grant(&input, &mut resources)?;
        let (flavour_id, level_id) = match logic.target_flavour() {
            Some((flavour, level)) => (Some(flavour), level),
            None => (info.map(|i| i.flavour_id.as_str()), None),
        };
        let op = &job.op.value.op;
        let mut request = grant_request(
            operation,
            &instance.id,
            &op.id,
            &instance.vnfd_id,
            flavour_id,
            level_id,
            op.is_automatic_invocation,
            resources,
            (op.links.self_.clone(), op.links.vnf_instance.clone()),
        );
        request.dst_vnfd_id = logic.target_vnfd_id().map(str::to_owned);
        let vnfd = &job.package.vnfd;
        let flavour = flavour_id.and_then(|id| vnfd.flavour(id));
        if let Some(flavour) = flavour {
            request.placement_constraints =
                crate::lcm::grant::placement_constraints(flavour, &request, info);
        }
        Ok(request)
    }

    /// The flavour the operation runs against, and the hooks it calls.
    fn flavour_of<'v>(&self, job: &Job, vnfd: &'v Vnfd) -> Result<&'v DeploymentFlavour> {
        let requested = ops::of(&job.request).requested_flavour();
        let id = match (
            requested,
            job.instance.value.instance.instantiated_vnf_info.as_ref(),
        ) {
            (Some(id), _) => id,
            (None, Some(info)) => info.flavour_id.as_str(),
            (None, None) => vnfd
                .flavours
                .first()
                .map(|f| f.id.as_str())
                .unwrap_or_default(),
        };
        vnfd.flavour(id)
            .ok_or_else(|| Error::Unprocessable(format!("the VNFD has no flavour {id}")))
    }

    /// Asks again for the grant of an operation whose grant could not be obtained
    /// when it started (see [`Executor::run_starting`]); `Ok(false)` when the operation
    /// failed again and was moved to FAILED_TEMP.
    async fn obtain_missing_grant(&self, job: &mut Job) -> Result<bool> {
        let operation = job.op.value.op.operation;
        let Some(granted_operation) = GrantedLcmOperationType::from_operation(operation) else {
            return Ok(true);
        };
        if job.op.value.grant.is_some() || job.op.value.steps.iter().any(|s| s.name == "grant") {
            return Ok(true);
        }
        let request = self.grant_request_for(job, granted_operation)?;
        self.fence(job).await?;
        let error = match self.inner.grants.grant(&job.tenant, &request).await {
            Ok(grant) => {
                self.record_change(job, "grant", |record| {
                    record_grant(record, grant.clone(), request.clone());
                })
                .await?;
                return Ok(true);
            }
            Err(Error::Forbidden(reason)) => Error::Forbidden(format!(
                "the grant was refused (roll the operation back): {reason}"
            )),
            Err(error) => Error::driver(
                "grant",
                error.is_retryable(),
                format!("the grant could not be obtained: {error}"),
            ),
        };
        self.finish(
            &job.tenant,
            &mut job.op,
            OpEvent::StepFailed,
            Some(&error),
            None,
        )
        .await?;
        Ok(false)
    }

    async fn run_processing(&self, job: &mut Job) -> Result<()> {
        if !self.obtain_missing_grant(job).await? {
            return Ok(());
        }
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
        let coordinations: Vec<&LcmCoordination> = flavour
            .lcm_coordinations
            .iter()
            .filter(|c| c.operation == operation)
            .collect();
        let mut steps = Vec::new();
        for coordination in coordinations.iter().filter(|c| c.at_start()) {
            steps.push(Step::Coordinate((*coordination).clone()));
        }
        if bound(HookPhase::Start) {
            steps.push(Step::Hook(LcmHook::new(operation, HookPhase::Start)));
        }
        steps.push(Step::Work);
        if bound(HookPhase::End) {
            steps.push(Step::Hook(LcmHook::new(operation, HookPhase::End)));
        }
        for coordination in coordinations.iter().filter(|c| !c.at_start()) {
            steps.push(Step::Coordinate((*coordination).clone()));
        }
        for step in steps {
            let name = step.name();
            if job.op.value.steps.iter().any(|s| s.name == name) {
                continue;
            }
            if job.handoff.is_cancelled() {
                return Ok(());
            }
            self.refresh_clean(job).await?;
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
            if job.op.value.op.operation_state != State::Processing {
                return Ok(());
            }
            self.fence(job).await?;
            let output = match &step {
                Step::Coordinate(coordination) => self.coordinate(job, coordination).await,
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
        self.refresh_clean(job).await?;
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
        // A terminated instance's VIMs (those its hooks produced) go with it.
        if operation == Op::Terminate
            && let Err(error) = self
                .cluster_vims()
                .release_produced_vims(&job.tenant, &job.instance.value.instance.id, None)
                .await
        {
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
    /// Proves this run still holds the op's lease (renewing it); fails when another
    /// executor took the op over.
    async fn fence(&self, job: &mut Job) -> Result<()> {
        job.lease = self
            .store()
            .renew_op_lease(&job.lease, Utc::now(), self.inner.config.lease_ttl)
            .await?;
        Ok(())
    }

    async fn record_step(&self, job: &mut Job, step: OpStep) -> Result<()> {
        let name = step.name.clone();
        self.record_change(job, &name, |record| record.steps.push(step.clone()))
            .await
    }

    /// Records what step `name` changed in the op (`change` applied to the op as stored
    /// now), unless the op left the state it was in while the step ran.
    async fn record_change(
        &self,
        job: &mut Job,
        name: &str,
        change: impl Fn(&mut OpOccRecord),
    ) -> Result<()> {
        for attempt in 0..10 {
            let state = job.op.value.op.operation_state;
            // The first time the job's copy is clean; after a stale write it holds the
            // change that was refused.
            if attempt == 0 {
                self.refresh_clean(job).await?;
            } else {
                self.refresh(job).await?;
            }
            if job.op.value.op.operation_state != state {
                return Err(Error::Conflict(format!(
                    "operation {} moved to {} while step {name} ran; the step is not recorded",
                    job.op.value.op.id, job.op.value.op.operation_state
                )));
            }
            self.fence(job).await?;
            change(&mut job.op.value);
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
                Err(Error::StaleVersion { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "operation {} keeps changing; step {name} not recorded",
            job.op.value.op.id
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
        // What the failed run recorded, then what earlier hooks of this run returned.
        let mut hook_data = job.op.value.hook_data.clone();
        for step in &job.op.value.steps {
            if (step.name.ends_with("_start") || step.name.ends_with("_end"))
                && let Ok(earlier) = serde_json::from_value::<MgmtOutcome>(step.output.clone())
                && !earlier.hook_data.is_empty()
            {
                hook_data
                    .get_or_insert_with(KeyValuePairs::new)
                    .extend(earlier.hook_data);
            }
        }
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
            grant_request: job.op.value.grant_request.as_ref(),
            hook_data: hook_data.as_ref(),
            package: job.package.files.as_ref(),
            cancel: &job.cancel,
        };
        let outcome = driver.run_hook(&ctx).await.map_err(|e| match e {
            Error::Driver { .. } | Error::Cancelled(_) => e,
            other => Error::driver(driver.name(), false, format!("{name} failed: {other}")),
        })?;
        // The VIMs the hook produced or tore down go to the registry before the step
        // is recorded; the record keeps them without credentials.
        let outcome = self
            .cluster_vims()
            .apply_hook_vims(&job.tenant, &instance.id, outcome)
            .await
            .map_err(|e| {
                Error::driver(
                    driver.name(),
                    e.is_retryable(),
                    format!("{name}: the VIM registry refused the hook's VIMs: {e}"),
                )
            })?;
        Ok(Some(serde_json::to_value(outcome).unwrap_or_default()))
    }

    /// The instance a hook sees: before the work for `*_start`, after it for `*_end`.
    /// Runs a coordination action with the coordinator: CONTINUE goes on (the
    /// coordination is recorded as the step's output); ABORT and CANCELLED fail the
    /// operation with the coordination's reason.
    async fn coordinate(
        &self,
        job: &mut Job,
        coordination: &LcmCoordination,
    ) -> Result<Option<serde_json::Value>> {
        let Some(coordinator) = &self.inner.coordinator else {
            return Err(Error::Unprocessable(format!(
                "the VNFD declares the LCM coordination action '{}', but no coordination \
                 endpoint is configured",
                coordination.action_name
            )));
        };
        let op = &job.op.value.op;
        let root = self.inner.config.api_root.trim_end_matches('/');
        let request = LcmCoordRequest {
            vnf_instance_id: op.vnf_instance_id.clone(),
            vnf_lcm_op_occ_id: op.id.clone(),
            lcm_operation_type: op.operation,
            coordination_action_name: coordination.action_name.clone(),
            input_params: Default::default(),
            links: LcmCoordRequestLinks {
                vnf_lcm_op_occ: Link::new(format!("{root}/vnflcm/v2/vnf_lcm_op_occs/{}", op.id)),
                vnf_instance: Link::new(format!(
                    "{root}/vnflcm/v2/vnf_instances/{}",
                    op.vnf_instance_id
                )),
            },
        };
        let started = Utc::now();
        let result = coordinator.coordinate(&job.tenant, &request).await?;
        // The op occurrence shows the coordination (`lcmCoordinations`), whatever it
        // decided.
        let entry = crate::model::LcmCoordination {
            id: result.id.clone(),
            coordination_action_name: coordination.action_name.clone(),
            coordination_result: Some(result.coordination_result),
            start_time: started,
            end_time: Some(Utc::now()),
            delay: None,
            endpoint_type: if coordination.endpoint_type.as_deref() == Some("vnf") {
                CoordinationEndpointType::Vnf
            } else {
                CoordinationEndpointType::Mgmt
            },
        };
        let step = format!("coordinate:{}", coordination.action_name);
        self.record_change(job, &step, |record| {
            record.op.lcm_coordinations.push(entry.clone())
        })
        .await?;
        match result.coordination_result {
            LcmCoordResultType::Continue => Ok(Some(serde_json::json!({
                "coordinationId": result.id,
                "coordinationResult": "CONTINUE",
                "outputParams": result.output_params,
            }))),
            outcome => {
                let reason = result
                    .error
                    .as_ref()
                    .map(|e| crate::outbound::sanitize_reason(&e.detail, 1000))
                    .or_else(|| {
                        result
                            .output_params
                            .get("reason")
                            .and_then(serde_json::Value::as_str)
                            .map(|r| crate::outbound::sanitize_reason(r, 1000))
                    })
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                Err(Error::Conflict(format!(
                    "the LCM coordination action '{}' answered {}{reason}",
                    coordination.action_name,
                    if outcome == LcmCoordResultType::Abort {
                        "ABORT"
                    } else {
                        "CANCELLED"
                    }
                )))
            }
        }
    }

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
        let logic = ops::of(&job.request);
        if !logic.uses_infra() {
            return Ok(Some(serde_json::Value::Null));
        }
        let (vim_id, vim, driver) = self.job_vim(job).await?;
        let ctx = job.infra_context(vnfd, flavour, &vim_id, &vim);
        let work = ops::Work {
            engine: self,
            operation: job.op.value.op.operation,
            ctx: &ctx,
            driver: driver.as_ref(),
        };
        let outcome = logic.run(&work).await?;
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
        self.fence(job).await?;
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
            // A rolled back instantiation leaves no VIM its hooks produced.
            if operation == Op::Instantiate {
                self.cluster_vims()
                    .release_produced_vims(&job.tenant, &job.instance.value.instance.id, None)
                    .await?;
            }
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

    /// The VIM an operation's infra calls (and their rollback) act on: the instance's or
    /// request's VIM, as the grant placed it, with its credentials; and its driver.
    async fn job_vim(
        &self,
        job: &Job,
    ) -> Result<(String, VimConnectionInfo, Arc<dyn InfraDriver>)> {
        let (vim_id, vim) = self.vim_of(&job.instance.value.instance, &job.request)?;
        let vim = job
            .op
            .value
            .grant
            .as_ref()
            .and_then(|g| g.vim_connection_info.get(&vim_id).cloned())
            .unwrap_or(vim);
        let vim = self.credentials(&job.tenant, &vim_id, vim).await?;
        let driver = self.driver_for(&vim)?;
        Ok((vim_id, vim, driver))
    }

    async fn run_rollback_work(
        &self,
        job: &Job,
        vnfd: &Vnfd,
        flavour: &DeploymentFlavour,
    ) -> Result<Option<InfraOutcome>> {
        let logic = ops::of(&job.request);
        if !logic.uses_infra() {
            return Ok(None);
        }
        let (vim_id, vim, driver) = self.job_vim(job).await?;
        let ctx = job.infra_context(vnfd, flavour, &vim_id, &vim);
        let work = ops::Work {
            engine: self,
            operation: job.op.value.op.operation,
            ctx: &ctx,
            driver: driver.as_ref(),
        };
        logic.rollback(&work).await.map(Some)
    }

    async fn completed_instance(&self, job: &Job, vnfd: &Vnfd) -> Result<Completion> {
        let before = &job.instance.value.instance;
        if let OpRequest::ModifyInfo(r) = &job.request {
            let (mut instance, changes) = ops::modified(self, &job.tenant, before, r).await?;
            apply_hook_outcomes(&mut instance, &job.op.value.steps);
            record_configuration(&mut instance, &job.op.value, r);
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
        apply_hook_outcomes(&mut instance, &job.op.value.steps);
        // The VIMs hooks produced or tore down, in the order the hooks ran.
        for step in &job.op.value.steps {
            if (step.name.ends_with("_start") || step.name.ends_with("_end"))
                && let Ok(mgmt) = serde_json::from_value::<MgmtOutcome>(step.output.clone())
            {
                vims::merge_hook_vims(&mut instance, &mgmt);
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

    /// The VNFD the operation moves the VNF to, if it changes it.
    async fn target_vnfd(&self, job: &Job) -> Result<Option<Arc<Vnfd>>> {
        match ops::of(&job.request).target_vnfd_id() {
            Some(vnfd_id) => Ok(Some(
                self.inner
                    .packages
                    .package_for_vnfd(&job.tenant, vnfd_id, false)
                    .await?
                    .vnfd,
            )),
            None => Ok(None),
        }
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
        let logic = ops::of(request);
        let previous = before.instantiated_vnf_info.as_ref();
        let vnfd = new_vnfd.unwrap_or(vnfd);
        let (flavour_id, level) = match (logic.target_flavour(), previous) {
            (Some((flavour, level)), _) => (flavour.to_owned(), Some(level)),
            (None, Some(info)) => (info.flavour_id.clone(), None),
            (None, None) => (String::new(), None),
        };
        let flavour = vnfd.flavour(&flavour_id);
        // A flavour and level chosen by the request give the scale levels; otherwise
        // the operation keeps (or changes) those the instance had.
        let scale_status = match (level, flavour) {
            (Some(level), Some(flavour)) => flavour
                .scale_levels_at(level)
                .into_iter()
                .map(|(aspect_id, scale_level)| ScaleInfo {
                    aspect_id,
                    vnfd_id: None,
                    scale_level,
                })
                .collect(),
            _ => previous.map(|i| i.scale_status.clone()).unwrap_or_default(),
        };
        let mut applied = ops::Applied {
            engine: self,
            before,
            instance: before.clone(),
            flavour,
            scale_status,
            vnf_state: previous.map_or(VnfOperationalStateType::Started, |i| i.vnf_state),
            localization_language: previous.and_then(|i| i.localization_language.clone()),
            terminated: false,
        };
        logic.apply(&mut applied);
        let ops::Applied {
            mut instance,
            scale_status,
            vnf_state,
            localization_language,
            terminated,
            ..
        } = applied;
        if terminated {
            instance.instantiation_state = InstantiationState::NotInstantiated;
            instance.instantiated_vnf_info = None;
            instance.links = self.instance_links(&instance.id, InstantiationState::NotInstantiated);
            return (instance, None);
        }
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
                .map(|i| i.monitoring_parameters.clone())
                .unwrap_or_default(),
            localization_language,
            vnfc_resource_info: resources.vnfc_resource_info.clone(),
            vnf_virtual_link_resource_info: resources.vnf_virtual_link_resource_info.clone(),
            virtual_storage_resource_info: resources.virtual_storage_resource_info.clone(),
            vnfc_info,
        });
        for (key, value) in &outcome.metadata {
            instance.metadata.insert(key.clone(), value.clone());
        }
        let mut pkg_change = None;
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
        Engine::event(&mut op.value, event)?;
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
        let finished = &op.value.op;
        if matches!(
            finished.operation_state,
            State::Completed | State::FailedTemp | State::Failed | State::RolledBack
        ) {
            let _ = self.inner.events.send(OpFinished {
                tenant: tenant.clone(),
                op_id: finished.id.clone(),
                vnf_instance_id: finished.vnf_instance_id.clone(),
                operation: finished.operation,
                state: finished.operation_state,
                duration: (finished.state_entered_time - finished.start_time)
                    .to_std()
                    .unwrap_or_default(),
            });
        }
        if let Some((_, old_vnfd_id)) = &moved_from {
            let _ = self.release_package_if_unused(tenant, old_vnfd_id).await;
        }
        Ok(())
    }

    // ----- Notification sender -----------------------------------------------------------
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
    Coordinate(LcmCoordination),
    Hook(LcmHook),
    Work,
}

impl Step {
    fn name(&self) -> String {
        match self {
            Self::Coordinate(coordination) => {
                format!("coordinate:{}", coordination.action_name)
            }
            Self::Hook(hook) => hook.sol001_name(),
            Self::Work => "work".to_owned(),
        }
    }
}

/// What the operation's hooks reported (`metadata`, `vnfConfigurableProperties`,
/// `extensions`), in the order they ran.
fn apply_hook_outcomes(instance: &mut VnfInstance, steps: &[OpStep]) {
    for step in steps {
        if !(step.name.ends_with("_start") || step.name.ends_with("_end")) {
            continue;
        }
        let Ok(mgmt) = serde_json::from_value::<MgmtOutcome>(step.output.clone()) else {
            continue;
        };
        for (key, value) in mgmt.metadata {
            instance.metadata.insert(key, value);
        }
        crate::mgmt::merge_entries(
            &mut instance.vnf_configurable_properties,
            &mgmt.vnf_configurable_properties,
        );
        crate::mgmt::merge_entries(&mut instance.extensions, &mgmt.extensions);
    }
}

/// Records in the instance's `metadata` ([`crate::mgmt::CONFIGURATION_STATE`]) how a change of
/// `vnfConfigurableProperties` reached the VNF: which `modify_information_*` hooks ran
/// and when the last of them finished, or that none is bound and the change is only
/// recorded.
fn record_configuration(
    instance: &mut VnfInstance,
    record: &OpOccRecord,
    request: &crate::model::VnfInfoModificationRequest,
) {
    let Some(changed) = request
        .vnf_configurable_properties
        .as_ref()
        .filter(|p| !p.is_empty())
    else {
        return;
    };
    let hooks: Vec<&OpStep> = record
        .steps
        .iter()
        .filter(|s| s.name.starts_with("modify_information_") && !s.output.is_null())
        .collect();
    let properties: Vec<&String> = changed.keys().collect();
    let state = match hooks.last() {
        Some(last) => serde_json::json!({
            "applied": true,
            "appliedAt": last.finished_at,
            "hooks": hooks.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "vnfLcmOpOccId": record.op.id,
            "properties": properties,
        }),
        None => serde_json::json!({
            "applied": false,
            "reason": "the VNFD binds no modify_information hook: the properties are recorded, not sent to the VNF",
            "vnfLcmOpOccId": record.op.id,
            "properties": properties,
        }),
    };
    instance
        .metadata
        .insert(crate::mgmt::CONFIGURATION_STATE.to_owned(), state);
}

/// Records an obtained grant in the operation: its id, the grant, the request and the
/// `grant` step.
fn record_grant(
    record: &mut OpOccRecord,
    grant: crate::model::Grant,
    request: crate::model::GrantRequest,
) {
    record.op.grant_id = Some(grant.id.clone());
    record.steps.push(OpStep {
        name: "grant".to_owned(),
        finished_at: Utc::now(),
        output: serde_json::to_value(&grant).unwrap_or_default(),
    });
    record.grant = Some(grant);
    record.grant_request = Some(request);
}
