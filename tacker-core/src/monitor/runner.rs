//! The per-instance probe loop of the probe monitors ([`super::HttpMonitor`],
//! [`super::PingMonitor`]), with failure counting and a bound on concurrent probes.

use async_trait::async_trait;
use chrono::Utc;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::probe::{ProbeSettings, VnfcEndpoint, vnfc_endpoints};
use super::{HealthEvent, HealthStatus, MonitorTarget};
use crate::model::KeyValuePairs;
use crate::{Error, Result, TenantId};

/// One kind of probe.
#[async_trait]
pub(crate) trait Probe: Send + Sync + 'static {
    /// How many times one probe may wait for the timeout (ping's `count`).
    fn attempts(&self) -> u32 {
        1
    }

    /// Probes one endpoint; `Err` says what failed.
    async fn probe(&self, endpoint: &VnfcEndpoint) -> std::result::Result<(), String>;
}

/// Builds a probe from a monitor's parameters (validated once, at watch time).
pub(crate) trait ProbeFactory: Send + Sync + std::fmt::Debug + 'static {
    /// The monitor's name.
    fn name(&self) -> &'static str;
    /// The probe for an instance's parameters.
    fn probe(&self, params: &KeyValuePairs, settings: &ProbeSettings) -> Result<Arc<dyn Probe>>;
}

type WatchKey = (TenantId, String);
type Watches = HashMap<WatchKey, (Vec<VnfcEndpoint>, CancellationToken)>;

/// Runs one probe loop per watched instance; at most `max_concurrent` probes at once
/// across all instances.
#[derive(Debug)]
pub(crate) struct ProbeRunner {
    watches: Mutex<Watches>,
    permits: Arc<Semaphore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Unknown,
    Healthy,
    Unhealthy,
}

impl ProbeRunner {
    pub(crate) fn new(max_concurrent: usize) -> Self {
        Self {
            watches: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Watches>> {
        self.watches
            .lock()
            .map_err(|_| Error::Internal("monitor state poisoned by a panic".to_owned()))
    }

    pub(crate) fn watching(&self) -> usize {
        self.lock().map(|w| w.len()).unwrap_or_default()
    }

    pub(crate) fn watch(
        &self,
        factory: &dyn ProbeFactory,
        target: MonitorTarget,
        events: mpsc::Sender<HealthEvent>,
    ) -> Result<()> {
        let settings = ProbeSettings::from_params(factory.name(), &target.params)?;
        let probe = factory.probe(&target.params, &settings)?;
        let mut endpoints = vnfc_endpoints(&target.vnf_instance, settings.cpd_id.as_deref());
        if let Some(vdus) = &settings.vdu_ids {
            endpoints.retain(|e| vdus.contains(&e.vdu_id));
        }
        let key = (target.tenant.clone(), target.vnf_instance.id.clone());
        let mut watches = self.lock()?;
        if let Some((current, _)) = watches.get(&key)
            && *current == endpoints
        {
            // The same VNFCs at the same addresses on the same resources: keep counting.
            return Ok(());
        }
        if let Some((_, stop)) = watches.remove(&key) {
            stop.cancel();
        }
        let stop = CancellationToken::new();
        watches.insert(key, (endpoints.clone(), stop.clone()));
        drop(watches);
        let source = factory.name();
        let permits = self.permits.clone();
        tokio::spawn(probe_loop(ProbeLoop {
            source,
            tenant: target.tenant,
            vnf_instance_id: target.vnf_instance.id,
            endpoints,
            settings,
            probe,
            permits,
            events,
            stop,
        }));
        Ok(())
    }

    pub(crate) fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        if let Some((_, stop)) = self
            .lock()?
            .remove(&(tenant.clone(), vnf_instance_id.to_owned()))
        {
            stop.cancel();
        }
        Ok(())
    }
}

impl Drop for ProbeRunner {
    fn drop(&mut self) {
        if let Ok(watches) = self.watches.get_mut() {
            for (_, stop) in watches.values() {
                stop.cancel();
            }
        }
    }
}

struct ProbeLoop {
    source: &'static str,
    tenant: TenantId,
    vnf_instance_id: String,
    endpoints: Vec<VnfcEndpoint>,
    settings: ProbeSettings,
    probe: Arc<dyn Probe>,
    permits: Arc<Semaphore>,
    events: mpsc::Sender<HealthEvent>,
    stop: CancellationToken,
}

/// Probes every endpoint each interval until stopped. A VNFC is reported unhealthy
/// after `failure_threshold` consecutive failures, and healthy at its first success
/// (after start or after being unhealthy); nothing is reported while its state holds.
async fn probe_loop(job: ProbeLoop) {
    let mut seen = vec![Seen::Unknown; job.endpoints.len()];
    let mut failures = vec![0u32; job.endpoints.len()];
    while !job.stop.is_cancelled() {
        let round = job.endpoints.iter().map(|endpoint| {
            let probe = job.probe.clone();
            let permits = job.permits.clone();
            let timeout = job
                .settings
                .timeout
                .saturating_mul(probe.attempts().max(1))
                .saturating_add(Duration::from_millis(50));
            async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return Err("the monitor is shutting down".to_owned());
                };
                match tokio::time::timeout(timeout, probe.probe(endpoint)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                }
            }
        });
        let results = tokio::select! {
            () = job.stop.cancelled() => return,
            results = futures::future::join_all(round) => results,
        };
        for (index, result) in results.into_iter().enumerate() {
            let Some(endpoint) = job.endpoints.get(index) else {
                continue;
            };
            let (status, reason) = match result {
                Ok(()) => {
                    failures[index] = 0;
                    if seen[index] == Seen::Healthy {
                        continue;
                    }
                    seen[index] = Seen::Healthy;
                    (
                        HealthStatus::Healthy,
                        format!("{} probe of {} succeeded", job.source, endpoint.address),
                    )
                }
                Err(error) => {
                    failures[index] = failures[index].saturating_add(1);
                    if failures[index] < job.settings.failure_threshold
                        || seen[index] == Seen::Unhealthy
                    {
                        continue;
                    }
                    seen[index] = Seen::Unhealthy;
                    (
                        HealthStatus::Unhealthy,
                        format!(
                            "{} probe of {} failed {} times in a row: {error}",
                            job.source, endpoint.address, failures[index]
                        ),
                    )
                }
            };
            let event = HealthEvent {
                tenant: job.tenant.clone(),
                vnf_instance_id: job.vnf_instance_id.clone(),
                vnfc_id: Some(endpoint.vnfc_id.clone()),
                status,
                source: job.source.to_owned(),
                reason,
                severity: None,
                observed_at: Utc::now(),
            };
            if job.events.send(event).await.is_err() {
                return;
            }
        }
        tokio::select! {
            () = job.stop.cancelled() => return,
            () = tokio::time::sleep(job.settings.interval) => {}
        }
    }
}

/// Replaces `{address}`, `{vnfcId}` and `{vduId}` in a template.
pub(crate) fn expand(template: &str, endpoint: &VnfcEndpoint) -> String {
    let address = match endpoint.address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    template
        .replace("{address}", &address)
        .replace("{vnfcId}", &endpoint.vnfc_id)
        .replace("{vduId}", &endpoint.vdu_id)
}
