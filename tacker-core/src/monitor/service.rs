//! `HealthService`: runs the monitors and policies of the VNF instances next to the LCM
//! engine.
//!
//! - Lifecycle: after an operation completes on an instance (instantiate, scale, heal,
//!   …) its monitoring is (re)started from its `vnfConfigurableProperties.monitoring`;
//!   a monitor keeps its failure counts for VNFCs whose address and compute resource
//!   are unchanged and probes replaced VNFCs afresh; alarms of VNFCs that are gone
//!   (scaled in) are cleared. After terminate, monitoring stops and the instance's
//!   alarms are cleared.
//! - Faults: an unhealthy event raises (or updates) the FM alarm of its VNFC and
//!   source; a healthy event clears it, and the VNFC's escalation alarm (source
//!   `auto-heal`) if automatic healing had given up on it.
//! - Policies: events go to every policy; the actions they ask for run as LCM
//!   operations with `isAutomaticInvocation = true`. While an automatic action waits
//!   or runs on an instance, further failures of that instance are not handed to the
//!   policies, nor are failures observed before that action finished: one fault, one
//!   action. An action refused because another operation runs on the instance waits
//!   and is tried again (after re-reading the instance: VNFCs that are gone are left
//!   out) until [`HealthConfig::max_wait`], then escalated as an alarm.

use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    HealthEvent, HealthStatus, MonitorDriver, MonitorTarget, PolicyAction, PolicyDriver,
    PolicyEvent,
};
use crate::filter::Filter;
use crate::lcm::{Fault, OpFinished, OpRequest, VnfFm, VnfLcm, fault_key};
use crate::model::{
    DateTime, EventType, InstantiationState, LcmOperationStateType, LcmOperationType,
    PerceivedSeverityType,
};
use crate::store::ListQuery;
use crate::{Error, Result, TenantId};

/// How the [`HealthService`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// How often policies are asked for due actions and waiting actions are retried.
    pub tick: Duration,
    /// How long an action refused because the instance is busy waits before it is
    /// tried again (sooner when an operation on the instance finishes).
    pub busy_retry: Duration,
    /// How long an action may wait for a busy instance before it is escalated.
    pub max_wait: Duration,
    /// Health events buffered between monitors and the service.
    pub event_buffer: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(100),
            busy_retry: Duration::from_millis(500),
            max_wait: Duration::from_secs(600),
            event_buffer: 4096,
        }
    }
}

struct Inner {
    lcm: VnfLcm,
    fm: VnfFm,
    monitors: Vec<Arc<dyn MonitorDriver>>,
    policies: Vec<Arc<dyn PolicyDriver>>,
    config: HealthConfig,
    events: mpsc::Sender<HealthEvent>,
    policy_events: mpsc::Sender<PolicyEvent>,
    receivers: Mutex<Option<(mpsc::Receiver<HealthEvent>, mpsc::Receiver<PolicyEvent>)>>,
}

/// Monitors and policies tied to a [`VnfLcm`] and a [`VnfFm`]. Cheap to clone.
#[derive(Clone)]
pub struct HealthService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService")
            .field(
                "monitors",
                &self
                    .inner
                    .monitors
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>(),
            )
            .field(
                "policies",
                &self
                    .inner
                    .policies
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("config", &self.inner.config)
            .finish()
    }
}

/// The event channels' receiving ends, held by the running service.
type Receivers = (mpsc::Receiver<HealthEvent>, mpsc::Receiver<PolicyEvent>);

/// The running service; stop it with [`HealthHandle::shutdown`].
#[derive(Debug)]
pub struct HealthHandle {
    stop: CancellationToken,
    task: JoinHandle<Receivers>,
    service: HealthService,
}

impl HealthHandle {
    /// Stops the service and waits for it; the service can then be started again.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Ok(receivers) = self.task.await
            && let Ok(mut slot) = self.service.inner.receivers.lock()
        {
            *slot = Some(receivers);
        }
    }
}

type Key = (TenantId, String);

struct Waiting {
    action: PolicyAction,
    since: tokio::time::Instant,
    not_before: tokio::time::Instant,
}

#[derive(Default)]
struct Loop {
    waiting: Vec<Waiting>,
    /// Instances with an automatic action waiting (None) or running (the op id).
    busy: HashMap<Key, Option<String>>,
    /// When the last automatic action on an instance finished.
    finished: HashMap<Key, DateTime>,
}

impl HealthService {
    /// A service for `lcm` (whose operations policies request) and `fm` (where
    /// failures become alarms) with `monitors` and `policies`.
    pub fn new(
        lcm: VnfLcm,
        fm: VnfFm,
        monitors: Vec<Arc<dyn MonitorDriver>>,
        policies: Vec<Arc<dyn PolicyDriver>>,
        config: HealthConfig,
    ) -> Self {
        let (events, health_rx) = mpsc::channel(config.event_buffer.max(1));
        let (policy_events, policy_rx) = mpsc::channel(config.event_buffer.max(1));
        Self {
            inner: Arc::new(Inner {
                lcm,
                fm,
                monitors,
                policies,
                config,
                events,
                policy_events,
                receivers: Mutex::new(Some((health_rx, policy_rx))),
            }),
        }
    }

    /// Where monitors (and tests) send health events.
    pub fn events(&self) -> mpsc::Sender<HealthEvent> {
        self.inner.events.clone()
    }

    /// Hands an event (e.g. a scale request from an alert) to the policies.
    pub async fn submit(&self, event: PolicyEvent) -> Result<()> {
        self.inner
            .policy_events
            .send(event)
            .await
            .map_err(|_| Error::Internal("the health service is stopped".to_owned()))
    }

    /// Starts, adjusts or stops the monitoring of one instance to match its state and
    /// its `vnfConfigurableProperties.monitoring`.
    pub async fn sync(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        let instance = match self.inner.lcm.instance(tenant, vnf_instance_id).await {
            Ok(instance) => Some(instance),
            Err(Error::NotFound { .. }) => None,
            Err(other) => return Err(other),
        };
        let Some(instance) =
            instance.filter(|i| i.instantiation_state == InstantiationState::Instantiated)
        else {
            for monitor in &self.inner.monitors {
                monitor.stop(tenant, vnf_instance_id).await?;
            }
            return Ok(());
        };
        let config = match instance.vnf_configurable_properties.get("monitoring") {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map.clone(),
            Some(other) => {
                return Err(Error::InvalidRequest(format!(
                    "VNF instance {vnf_instance_id}: vnfConfigurableProperties.monitoring must be an object, found {other}"
                )));
            }
        };
        let present: Vec<String> = instance
            .instantiated_vnf_info
            .iter()
            .flat_map(|i| i.vnfc_resource_info.iter().map(|v| v.id.clone()))
            .collect();
        self.inner
            .fm
            .clear_alarms_of_gone_vnfcs(tenant, vnf_instance_id, &present)
            .await?;
        let mut errors = Vec::new();
        for monitor in &self.inner.monitors {
            match config.get(monitor.name()) {
                Some(serde_json::Value::Object(params)) => {
                    let target = MonitorTarget {
                        tenant: tenant.clone(),
                        vnf_instance: instance.clone(),
                        params: params.clone(),
                    };
                    if let Err(error) = monitor.watch(target, self.inner.events.clone()).await {
                        errors.push(format!("{}: {error}", monitor.name()));
                    }
                }
                Some(other) => errors.push(format!(
                    "vnfConfigurableProperties.monitoring.{} must be an object, found {other}",
                    monitor.name()
                )),
                None => monitor.stop(tenant, vnf_instance_id).await?,
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidRequest(format!(
                "VNF instance {vnf_instance_id}: monitoring not started: {}",
                errors.join("; ")
            )))
        }
    }

    /// [`HealthService::sync`], with a refused monitoring configuration reported as an
    /// FM alarm of the instance (source `monitoring`), cleared once a sync succeeds.
    async fn sync_reporting(&self, tenant: &TenantId, vnf_instance_id: &str) {
        let fm = &self.inner.fm;
        let outcome = match self.sync(tenant, vnf_instance_id).await {
            Ok(()) => fm
                .clear_alarm(
                    tenant,
                    vnf_instance_id,
                    &fault_key(vnf_instance_id, None, "monitoring"),
                )
                .await
                .map(|_| ()),
            Err(error) => {
                tracing::warn!(%error, vnf_instance = vnf_instance_id, "monitoring not started");
                fm.raise_alarm(
                    tenant,
                    Fault {
                        vnf_instance_id: vnf_instance_id.to_owned(),
                        vnfc_id: None,
                        source: "monitoring".to_owned(),
                        severity: PerceivedSeverityType::Warning,
                        event_type: EventType::ProcessingErrorAlarm,
                        probable_cause: "monitoring configuration refused".to_owned(),
                        details: vec![error.to_string()],
                        observed_at: Utc::now(),
                    },
                )
                .await
                .map(|_| ())
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, vnf_instance = vnf_instance_id, "reporting the monitoring state failed");
        }
    }

    /// Syncs every instance of a tenant (at start-up).
    pub async fn sync_tenant(&self, tenant: &TenantId) -> Result<()> {
        let filter = Filter::parse("(eq,instantiationState,INSTANTIATED)")?;
        let mut marker = None;
        // Bounded: at most 10 000 pages of 500.
        for _ in 0..10_000 {
            let page = self
                .inner
                .lcm
                .instances(
                    tenant,
                    &ListQuery::filtered(filter.clone())
                        .with_limit(500)
                        .after(marker.take()),
                )
                .await?;
            for instance in &page.items {
                self.sync_reporting(tenant, &instance.id).await;
            }
            match page.next_marker {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        Ok(())
    }

    /// Starts the service on the current tokio runtime. A started service is started
    /// again only after [`HealthHandle::shutdown`].
    pub fn start(&self) -> Result<HealthHandle> {
        let receivers = self
            .inner
            .receivers
            .lock()
            .map_err(|_| Error::Internal("health service state poisoned".to_owned()))?
            .take()
            .ok_or_else(|| Error::Conflict("the health service is already started".to_owned()))?;
        let stop = CancellationToken::new();
        let op_events = self.inner.lcm.op_events();
        let task = tokio::spawn(self.clone().run(receivers, op_events, stop.clone()));
        Ok(HealthHandle {
            stop,
            task,
            service: self.clone(),
        })
    }

    async fn run(
        self,
        (mut health, mut policy): Receivers,
        mut op_events: broadcast::Receiver<OpFinished>,
        stop: CancellationToken,
    ) -> Receivers {
        let mut state = Loop::default();
        let mut tick = tokio::time::interval(self.inner.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(event) = health.recv() => self.on_health(&mut state, event).await,
                Some(event) = policy.recv() => self.on_policy_event(&mut state, event).await,
                finished = op_events.recv() => match finished {
                    Ok(finished) => self.on_finished(&mut state, finished).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "health service missed operation events");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => self.on_tick(&mut state).await,
            }
        }
        (health, policy)
    }

    async fn on_health(&self, state: &mut Loop, event: HealthEvent) {
        let fm = &self.inner.fm;
        let outcome = match event.status {
            HealthStatus::Unhealthy => fm
                .raise_alarm(
                    &event.tenant,
                    Fault {
                        vnf_instance_id: event.vnf_instance_id.clone(),
                        vnfc_id: event.vnfc_id.clone(),
                        source: event.source.clone(),
                        severity: event.severity.unwrap_or(PerceivedSeverityType::Major),
                        event_type: EventType::CommunicationsAlarm,
                        probable_cause: probable_cause(&event.source),
                        details: vec![event.reason.clone()],
                        observed_at: event.observed_at,
                    },
                )
                .await
                .map(|_| ()),
            HealthStatus::Healthy => {
                // The fault is gone, and so is any escalation of it.
                let mut outcome = Ok(());
                for source in [event.source.as_str(), "auto-heal"] {
                    let key = fault_key(&event.vnf_instance_id, event.vnfc_id.as_deref(), source);
                    if let Err(error) = fm
                        .clear_alarm(&event.tenant, &event.vnf_instance_id, &key)
                        .await
                    {
                        outcome = Err(error);
                    }
                }
                outcome
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, vnf_instance = event.vnf_instance_id, "recording a health event as an alarm failed");
        }
        let key = (event.tenant.clone(), event.vnf_instance_id.clone());
        if event.status == HealthStatus::Unhealthy
            && (state.busy.contains_key(&key)
                || state
                    .finished
                    .get(&key)
                    .is_some_and(|at| event.observed_at <= *at))
        {
            // Covered by the automatic action waiting, running or just finished.
            return;
        }
        self.on_policy_event(state, PolicyEvent::Health(event))
            .await;
    }

    async fn on_policy_event(&self, state: &mut Loop, event: PolicyEvent) {
        let (tenant, id) = event.instance();
        let key = (tenant.clone(), id.to_owned());
        if matches!(event, PolicyEvent::Scale { .. }) && state.busy.contains_key(&key) {
            return;
        }
        let instance = match self.inner.lcm.instance(&key.0, &key.1).await {
            Ok(instance) => instance,
            Err(error) => {
                tracing::debug!(%error, vnf_instance = key.1, "event about an unreadable instance");
                return;
            }
        };
        for policy in &self.inner.policies {
            match policy.on_event(&event, &instance).await {
                Ok(actions) => {
                    for action in actions {
                        self.enqueue(state, action).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, policy = policy.name(), "policy failed on an event");
                }
            }
        }
    }

    async fn enqueue(&self, state: &mut Loop, action: PolicyAction) {
        if let PolicyAction::Escalate {
            tenant,
            vnf_instance_id,
            vnfc_id,
            reason,
        } = &action
        {
            self.escalate(tenant, vnf_instance_id, vnfc_id.clone(), reason.clone())
                .await;
            return;
        }
        let (tenant, id) = action.instance();
        let key = (tenant.clone(), id.to_owned());
        if state.busy.contains_key(&key) {
            // One automatic action per instance at a time.
            return;
        }
        state.busy.insert(key, None);
        let now = tokio::time::Instant::now();
        state.waiting.push(Waiting {
            action,
            since: now,
            not_before: now,
        });
        self.run_waiting(state).await;
    }

    async fn escalate(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
        vnfc_id: Option<String>,
        reason: String,
    ) {
        tracing::warn!(
            vnf_instance = vnf_instance_id,
            reason,
            "automatic action escalated"
        );
        let fault = Fault {
            vnf_instance_id: vnf_instance_id.to_owned(),
            vnfc_id,
            source: "auto-heal".to_owned(),
            severity: PerceivedSeverityType::Critical,
            event_type: EventType::ProcessingErrorAlarm,
            probable_cause: "automatic healing failed".to_owned(),
            details: vec![reason],
            observed_at: Utc::now(),
        };
        if let Err(error) = self.inner.fm.raise_alarm(tenant, fault).await {
            tracing::warn!(%error, "raising the escalation alarm failed");
        }
    }

    async fn on_finished(&self, state: &mut Loop, finished: OpFinished) {
        let key = (finished.tenant.clone(), finished.vnf_instance_id.clone());
        if let Some(Some(op_id)) = state.busy.get(&key)
            && *op_id == finished.op_id
        {
            state.busy.remove(&key);
            state.finished.insert(key.clone(), Utc::now());
        }
        if finished.state == LcmOperationStateType::Completed {
            if finished.operation == LcmOperationType::Terminate {
                for monitor in &self.inner.monitors {
                    if let Err(error) = monitor.stop(&key.0, &key.1).await {
                        tracing::warn!(%error, "stopping a monitor failed");
                    }
                }
                if let Err(error) = self.inner.fm.clear_alarms_of(&key.0, &key.1).await {
                    tracing::warn!(%error, "clearing the alarms of a terminated instance failed");
                }
                state.finished.remove(&key);
            } else {
                self.sync_reporting(&key.0, &key.1).await;
            }
        }
        // Whatever waited for this instance may go now.
        let now = tokio::time::Instant::now();
        for waiting in &mut state.waiting {
            if waiting.action.instance() == (&key.0, key.1.as_str()) {
                waiting.not_before = now;
            }
        }
        self.run_waiting(state).await;
    }

    async fn on_tick(&self, state: &mut Loop) {
        let now = Utc::now();
        for policy in &self.inner.policies {
            match policy.due(now).await {
                Ok(actions) => {
                    for action in actions {
                        self.enqueue(state, action).await;
                    }
                }
                Err(error) => tracing::warn!(%error, policy = policy.name(), "policy failed"),
            }
        }
        self.run_waiting(state).await;
    }

    /// Tries every waiting action whose time has come.
    async fn run_waiting(&self, state: &mut Loop) {
        let now = tokio::time::Instant::now();
        let waiting = std::mem::take(&mut state.waiting);
        for mut entry in waiting {
            if entry.not_before > now {
                state.waiting.push(entry);
                continue;
            }
            let (tenant, id) = entry.action.instance();
            let key = (tenant.clone(), id.to_owned());
            match self.try_action(&entry.action).await {
                Ok(Some(op_id)) => {
                    state.busy.insert(key, Some(op_id));
                }
                Ok(None) => {
                    state.busy.remove(&key);
                }
                Err(error) if error.is_conflict() => {
                    let reason = error.conflict_reason().unwrap_or_default();
                    if now.duration_since(entry.since) >= self.inner.config.max_wait {
                        state.busy.remove(&key);
                        self.escalate(
                            &key.0,
                            &key.1,
                            None,
                            format!(
                                "an automatic operation waited too long for the instance: {reason}"
                            ),
                        )
                        .await;
                    } else {
                        entry.not_before = now + self.inner.config.busy_retry;
                        state.waiting.push(entry);
                    }
                }
                Err(error) => {
                    state.busy.remove(&key);
                    self.escalate(
                        &key.0,
                        &key.1,
                        None,
                        format!("an automatic operation was refused: {error}"),
                    )
                    .await;
                }
            }
        }
    }

    /// Starts an action after re-checking it against the instance as it is now.
    /// `Ok(None)`: nothing is left to do.
    async fn try_action(&self, action: &PolicyAction) -> Result<Option<String>> {
        let (tenant, id) = action.instance();
        let lcm = &self.inner.lcm;
        let instance = match lcm.instance(tenant, id).await {
            Ok(instance) => instance,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        if instance.instantiation_state != InstantiationState::Instantiated {
            return Ok(None);
        }
        let request = match action {
            PolicyAction::Heal { request, .. } => {
                let mut request = request.clone();
                if !request.vnfc_instance_id.is_empty() {
                    let present: Vec<&str> = instance
                        .instantiated_vnf_info
                        .iter()
                        .flat_map(|i| i.vnfc_resource_info.iter().map(|v| v.id.as_str()))
                        .collect();
                    request
                        .vnfc_instance_id
                        .retain(|v| present.contains(&v.as_str()));
                    if request.vnfc_instance_id.is_empty() {
                        return Ok(None);
                    }
                }
                OpRequest::Heal(request)
            }
            PolicyAction::Scale { request, .. } => OpRequest::Scale(request.clone()),
            PolicyAction::Escalate { .. } => return Ok(None),
        };
        let op = lcm.request(tenant, id, request, true).await?;
        tracing::info!(
            vnf_instance = id,
            op = op.id,
            operation = ?op.operation,
            "automatic operation started"
        );
        Ok(Some(op.id))
    }
}

fn probable_cause(source: &str) -> String {
    match source.split_once('/') {
        Some(("alertmanager", alert)) => alert.to_owned(),
        _ => format!("{source} health check failed"),
    }
}
