//! `MonitorDriver` and `PolicyDriver`: noticing a broken VNF and deciding what to do.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::model::{DateTime, HealVnfRequest, KeyValuePairs, ScaleVnfRequest, VnfInstance};
use crate::{Result, TenantId};

/// Healthy or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    /// The probe succeeded (or an alert was resolved).
    Healthy,
    /// The probe failed the configured number of times (or an alert fired).
    Unhealthy,
}

/// A health observation of a VNF instance or one of its VNFCs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthEvent {
    /// The tenant of the instance.
    pub tenant: TenantId,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// The VNFC, when the observation is about one.
    pub vnfc_id: Option<String>,
    /// The status observed.
    pub status: HealthStatus,
    /// Which monitor observed it, e.g. `ping`, `http`, `alertmanager`.
    pub source: String,
    /// What was observed, for people.
    pub reason: String,
    /// When.
    pub observed_at: DateTime,
}

/// What to monitor: an instance and the parameters of its monitoring policy.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorTarget {
    /// The tenant of the instance.
    pub tenant: TenantId,
    /// The instance, with its VNFCs and their addresses.
    pub vnf_instance: VnfInstance,
    /// The monitor's parameters from the VNFD or `additionalParams`.
    pub params: KeyValuePairs,
}

/// Watches VNFCs and emits health events.
#[async_trait]
pub trait MonitorDriver: Send + Sync + std::fmt::Debug {
    /// The monitor's name, e.g. `ping`.
    fn name(&self) -> &str;

    /// Start (or, when already watching the instance, adjust to the new VNFC set)
    /// watching; events go to `events` until [`MonitorDriver::stop`]. Idempotent.
    async fn watch(&self, target: MonitorTarget, events: mpsc::Sender<HealthEvent>) -> Result<()>;

    /// Stop watching an instance. Idempotent.
    async fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()>;
}

/// An event a policy reacts to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PolicyEvent {
    /// A health observation.
    Health(HealthEvent),
    /// A performance measurement crossed into a policy's view.
    Metric {
        /// The tenant of the instance.
        tenant: TenantId,
        /// The VNF instance.
        vnf_instance_id: String,
        /// The metric, e.g. `VCpuUsageMeanVnf`.
        metric: String,
        /// Its value.
        value: f64,
        /// When it was measured.
        observed_at: DateTime,
    },
}

/// An LCM request a policy asks for; the engine runs it with
/// `isAutomaticInvocation = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PolicyAction {
    /// Heal the instance (or some of its VNFCs).
    Heal {
        /// The instance.
        vnf_instance_id: String,
        /// The request.
        request: HealVnfRequest,
    },
    /// Scale the instance.
    Scale {
        /// The instance.
        vnf_instance_id: String,
        /// The request.
        request: ScaleVnfRequest,
    },
}

/// Turns events into LCM requests (auto-heal, auto-scale), with its own dampening so
/// that one fault yields one action.
#[async_trait]
pub trait PolicyDriver: Send + Sync + std::fmt::Debug {
    /// The policy's name, e.g. `auto-heal`.
    fn name(&self) -> &str;

    /// React to an event about `instance`. Returns the actions to run now (often none).
    async fn on_event(
        &self,
        event: &PolicyEvent,
        instance: &VnfInstance,
    ) -> Result<Vec<PolicyAction>>;
}
