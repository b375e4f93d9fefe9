//! `MonitorDriver` and `PolicyDriver`: noticing a broken VNF and deciding what to do.
//!
//! - Monitors (with the crate feature `monitors`, on by default): `HttpMonitor` (GET a
//!   URL per VNFC), `PingMonitor` (ICMP echo, or a TCP connect where raw sockets are not
//!   allowed) and `AlertmanagerMonitor` (alerts posted by Prometheus Alertmanager to the
//!   REST layer's webhook). Without the feature, the [`MonitorDriver`] and
//!   [`PolicyDriver`] traits, the policies and [`HealthService`] remain, for monitors of
//!   one's own, and the crate has no HTTP client.
//! - Policies: [`AutoHealPolicy`] and [`AutoScalePolicy`].
//! - [`HealthService`] ties them to the LCM engine: it starts monitoring an instance
//!   after instantiate, adjusts it after every other completed operation and stops it at
//!   terminate; it turns health events into FM alarms and policy actions into LCM
//!   operations with `isAutomaticInvocation = true`.
//!
//! # Configuration
//!
//! Per VNF instance, in `vnfConfigurableProperties` (set at instantiate or by modify
//! info): `isAutohealEnabled`, `isAutoscaleEnabled`, and `monitoring`, an object with
//! one entry per monitor to run, named by [`MonitorDriver::name`], e.g.
//!
//! ```json
//! {"isAutohealEnabled": true,
//!  "monitoring": {
//!    "http": {"url": "http://{address}:8080/health", "expectedStatus": 200,
//!             "intervalMs": 1000, "timeoutMs": 500, "failureThreshold": 3},
//!    "ping": {"mode": "auto", "tcpPort": 22, "count": 3, "intervalMs": 1000,
//!             "timeoutMs": 500, "failureThreshold": 3},
//!    "alertmanager": {}}}
//! ```
//!
//! and `autoscale`, thresholds on measurements handed to the service as
//! [`PolicyEvent::Metric`]: `[{"metric": "VCpuUsageMeanVnf", "aspectId": "worker",
//! "scaleOutAbove": 80, "scaleInBelow": 20}]`.
//!
//! `{address}` is the VNFC's first IP address (the CP named by `cpdId` when given),
//! `{vnfcId}` and `{vduId}` its identifiers. `vduIds` limits a probe monitor to the
//! VNFCs of those VDUs.

#[cfg(feature = "monitors")]
mod alertmanager;
#[cfg(feature = "monitors")]
mod http;
#[cfg(feature = "monitors")]
mod ping;
mod policy;
mod probe;
#[cfg(feature = "monitors")]
mod runner;
mod service;

#[cfg(feature = "monitors")]
pub use alertmanager::{AlertOutcome, AlertmanagerMonitor, AlertmanagerPayload};
#[cfg(feature = "monitors")]
pub use http::HttpMonitor;
#[cfg(feature = "monitors")]
pub use ping::{PingMode, PingMonitor};
pub use policy::{AutoHealConfig, AutoHealPolicy, AutoScaleConfig, AutoScalePolicy};
pub use probe::{ProbeSettings, VnfcEndpoint, vnfc_endpoints};
pub use service::{HealthConfig, HealthHandle, HealthService};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::model::{
    DateTime, HealVnfRequest, KeyValuePairs, PerceivedSeverityType, ScaleVnfRequest, VnfInstance,
};
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
///
/// Built with [`HealthEvent::new`] and the `with_*` methods (its fields can grow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// How severe the monitor judges an unhealthy observation (`MAJOR` when absent).
    pub severity: Option<PerceivedSeverityType>,
    /// When.
    pub observed_at: DateTime,
}

impl HealthEvent {
    /// `status` of the VNF instance `vnf_instance_id`, observed now by the monitor
    /// `source` for `reason`; about the whole instance, of the monitor's default
    /// severity, until the `with_*` methods say otherwise.
    pub fn new(
        tenant: TenantId,
        vnf_instance_id: impl Into<String>,
        status: HealthStatus,
        source: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            tenant,
            vnf_instance_id: vnf_instance_id.into(),
            vnfc_id: None,
            status,
            source: source.into(),
            reason: reason.into(),
            severity: None,
            observed_at: chrono::Utc::now(),
        }
    }

    /// About one VNFC (or, with `None`, the whole instance).
    #[must_use]
    pub fn with_vnfc_id(mut self, vnfc_id: Option<String>) -> Self {
        self.vnfc_id = vnfc_id;
        self
    }

    /// With another status.
    #[must_use]
    pub fn with_status(mut self, status: HealthStatus) -> Self {
        self.status = status;
        self
    }

    /// Of this severity (or, with `None`, `MAJOR` when unhealthy).
    #[must_use]
    pub fn with_severity(mut self, severity: Option<PerceivedSeverityType>) -> Self {
        self.severity = severity;
        self
    }

    /// Observed at another time.
    #[must_use]
    pub fn with_observed_at(mut self, observed_at: DateTime) -> Self {
        self.observed_at = observed_at;
        self
    }
}

/// What to monitor: an instance and the parameters of its monitoring policy.
///
/// Built with [`MonitorTarget::new`] (its fields can grow).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MonitorTarget {
    /// The tenant of the instance.
    pub tenant: TenantId,
    /// The instance, with its VNFCs and their addresses.
    pub vnf_instance: VnfInstance,
    /// The monitor's parameters from the VNFD or `additionalParams`.
    pub params: KeyValuePairs,
}

impl MonitorTarget {
    /// Watch `vnf_instance` of `tenant` with the monitor's `params`.
    pub fn new(tenant: TenantId, vnf_instance: VnfInstance, params: KeyValuePairs) -> Self {
        Self {
            tenant,
            vnf_instance,
            params,
        }
    }
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

/// The direction of an automatic scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScaleDirection {
    /// Add one step.
    Out,
    /// Remove one step.
    In,
}

/// An event a policy reacts to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PolicyEvent {
    /// A health observation.
    Health(HealthEvent),
    /// A performance measurement crossed into a policy's view
    /// ([`PolicyEvent::metric`]).
    #[non_exhaustive]
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
    /// An alert or threshold asking to scale an aspect of an instance by one step
    /// ([`PolicyEvent::scale`]).
    #[non_exhaustive]
    Scale {
        /// The tenant of the instance.
        tenant: TenantId,
        /// The VNF instance.
        vnf_instance_id: String,
        /// The scaling aspect.
        aspect_id: String,
        /// Out or in.
        direction: ScaleDirection,
        /// Who asked, e.g. `alertmanager`.
        source: String,
        /// When it was observed.
        observed_at: DateTime,
    },
}

impl PolicyEvent {
    /// [`PolicyEvent::Metric`]: `metric` of the VNF instance measured `value` at
    /// `observed_at`.
    pub fn metric(
        tenant: TenantId,
        vnf_instance_id: impl Into<String>,
        metric: impl Into<String>,
        value: f64,
        observed_at: DateTime,
    ) -> Self {
        Self::Metric {
            tenant,
            vnf_instance_id: vnf_instance_id.into(),
            metric: metric.into(),
            value,
            observed_at,
        }
    }

    /// [`PolicyEvent::Scale`]: `source` asks at `observed_at` to scale `aspect_id` of
    /// the VNF instance one step in `direction`.
    pub fn scale(
        tenant: TenantId,
        vnf_instance_id: impl Into<String>,
        aspect_id: impl Into<String>,
        direction: ScaleDirection,
        source: impl Into<String>,
        observed_at: DateTime,
    ) -> Self {
        Self::Scale {
            tenant,
            vnf_instance_id: vnf_instance_id.into(),
            aspect_id: aspect_id.into(),
            direction,
            source: source.into(),
            observed_at,
        }
    }

    /// The tenant and instance the event is about.
    pub fn instance(&self) -> (&TenantId, &str) {
        match self {
            Self::Health(event) => (&event.tenant, &event.vnf_instance_id),
            Self::Metric {
                tenant,
                vnf_instance_id,
                ..
            }
            | Self::Scale {
                tenant,
                vnf_instance_id,
                ..
            } => (tenant, vnf_instance_id),
        }
    }
}

/// An LCM request a policy asks for; the engine runs it with
/// `isAutomaticInvocation = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PolicyAction {
    /// Heal the instance (or some of its VNFCs) ([`PolicyAction::heal`]).
    #[non_exhaustive]
    Heal {
        /// The tenant of the instance.
        tenant: TenantId,
        /// The instance.
        vnf_instance_id: String,
        /// The request.
        request: HealVnfRequest,
    },
    /// Scale the instance ([`PolicyAction::scale`]).
    #[non_exhaustive]
    Scale {
        /// The tenant of the instance.
        tenant: TenantId,
        /// The instance.
        vnf_instance_id: String,
        /// The request.
        request: ScaleVnfRequest,
    },
    /// Automatic action gave up: raise an alarm for people to act on
    /// ([`PolicyAction::escalate`]).
    #[non_exhaustive]
    Escalate {
        /// The tenant of the instance.
        tenant: TenantId,
        /// The instance.
        vnf_instance_id: String,
        /// The VNFC that keeps failing, if one.
        vnfc_id: Option<String>,
        /// What happened, for people.
        reason: String,
    },
}

impl PolicyAction {
    /// [`PolicyAction::Heal`] of the VNF instance with `request`.
    pub fn heal(
        tenant: TenantId,
        vnf_instance_id: impl Into<String>,
        request: HealVnfRequest,
    ) -> Self {
        Self::Heal {
            tenant,
            vnf_instance_id: vnf_instance_id.into(),
            request,
        }
    }

    /// [`PolicyAction::Scale`] of the VNF instance with `request`.
    pub fn scale(
        tenant: TenantId,
        vnf_instance_id: impl Into<String>,
        request: ScaleVnfRequest,
    ) -> Self {
        Self::Scale {
            tenant,
            vnf_instance_id: vnf_instance_id.into(),
            request,
        }
    }

    /// [`PolicyAction::Escalate`]: automatic action about the VNF instance (or its VNFC
    /// `vnfc_id`) gave up, for `reason`.
    pub fn escalate(
        tenant: TenantId,
        vnf_instance_id: impl Into<String>,
        vnfc_id: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Escalate {
            tenant,
            vnf_instance_id: vnf_instance_id.into(),
            vnfc_id,
            reason: reason.into(),
        }
    }

    /// The tenant and instance the action is about.
    pub fn instance(&self) -> (&TenantId, &str) {
        match self {
            Self::Heal {
                tenant,
                vnf_instance_id,
                ..
            }
            | Self::Scale {
                tenant,
                vnf_instance_id,
                ..
            }
            | Self::Escalate {
                tenant,
                vnf_instance_id,
                ..
            } => (tenant, vnf_instance_id),
        }
    }
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

    /// Actions whose time has come by `now`: a batching window that closed, a cool-down
    /// that ended. The [`HealthService`] calls it on every tick. None by default.
    async fn due(&self, now: DateTime) -> Result<Vec<PolicyAction>> {
        let _ = now;
        Ok(Vec::new())
    }
}
