//! `AlertmanagerMonitor`: alerts that Prometheus Alertmanager posts to the REST layer's
//! webhook become health events (and FM alarms); resolved alerts clear them.
//!
//! An alert is about a VNF instance when its labels carry `vnf_instance_id` (or
//! `vnfInstanceId`), and about one of its VNFCs with `vnfc_id` (or `vnfcInstanceId`).
//! Only instances whose monitoring configuration names `alertmanager` are listened to;
//! other alerts are counted as ignored. The `severity` label (`critical`, `major`,
//! `minor`, `warning`) becomes the alarm's severity and `alertname` its probable cause.
//! An alert that also carries `aspect_id` and `scale_direction` (`out` or `in`) asks
//! to scale instead: it becomes a [`PolicyEvent::Scale`] while firing.

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::mpsc;

use super::{HealthEvent, HealthStatus, MonitorDriver, MonitorTarget, PolicyEvent, ScaleDirection};
use crate::model::{DateTime, PerceivedSeverityType};
use crate::{Error, Result, TenantId};

/// The webhook payload of Alertmanager (version 4); fields this monitor does not use
/// are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    /// `firing` or `resolved` (of the group).
    #[serde(default)]
    pub status: Option<String>,
    /// The alerts.
    pub alerts: Vec<Alert>,
}

/// One alert of a payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started firing.
    #[serde(default)]
    pub starts_at: Option<DateTime>,
    /// When it was resolved (or will be, for firing alerts).
    #[serde(default)]
    pub ends_at: Option<DateTime>,
}

/// What a webhook call did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertOutcome {
    /// Health events emitted.
    pub health_events: usize,
    /// Scale requests to hand to the policies.
    pub scale_events: Vec<PolicyEvent>,
    /// Alerts about no watched instance, or without the instance label.
    pub ignored: usize,
}

type Watched = HashMap<(TenantId, String), mpsc::Sender<HealthEvent>>;

/// Receives Alertmanager alerts for the instances that asked for it.
#[derive(Debug, Default)]
pub struct AlertmanagerMonitor {
    watched: Mutex<Watched>,
}

fn label<'a>(alert: &'a Alert, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| alert.labels.get(*name))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn severity(alert: &Alert) -> PerceivedSeverityType {
    match label(alert, &["severity"])
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("critical") => PerceivedSeverityType::Critical,
        Some("major" | "error" | "page") => PerceivedSeverityType::Major,
        Some("minor") => PerceivedSeverityType::Minor,
        Some("warning" | "warn") => PerceivedSeverityType::Warning,
        _ => PerceivedSeverityType::Indeterminate,
    }
}

impl AlertmanagerMonitor {
    /// A monitor watching nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Watched>> {
        self.watched
            .lock()
            .map_err(|_| Error::Internal("alertmanager monitor state poisoned".to_owned()))
    }

    /// Handles a webhook call on behalf of `tenant`.
    pub async fn receive(
        &self,
        tenant: &TenantId,
        payload: AlertmanagerPayload,
    ) -> Result<AlertOutcome> {
        let mut outcome = AlertOutcome::default();
        for alert in payload.alerts {
            let Some(instance) = label(&alert, &["vnf_instance_id", "vnfInstanceId"]) else {
                outcome.ignored += 1;
                continue;
            };
            let sender = self
                .lock()?
                .get(&(tenant.clone(), instance.to_owned()))
                .cloned();
            let Some(sender) = sender else {
                outcome.ignored += 1;
                continue;
            };
            let firing = match alert.status.as_str() {
                "firing" => true,
                "resolved" => false,
                other => {
                    return Err(Error::InvalidRequest(format!(
                        "alerts[].status: expected firing or resolved, found '{other}'"
                    )));
                }
            };
            let observed_at = if firing {
                alert.starts_at.unwrap_or_else(Utc::now)
            } else {
                alert.ends_at.unwrap_or_else(Utc::now)
            };
            let alertname = label(&alert, &["alertname"]).unwrap_or("alert");
            if let (Some(aspect), Some(direction)) = (
                label(&alert, &["aspect_id", "aspectId"]),
                label(&alert, &["scale_direction", "scaleDirection"]),
            ) {
                let direction = match direction.to_ascii_lowercase().as_str() {
                    "out" | "scale_out" => ScaleDirection::Out,
                    "in" | "scale_in" => ScaleDirection::In,
                    other => {
                        return Err(Error::InvalidRequest(format!(
                            "alerts[].labels.scale_direction: expected out or in, found '{other}'"
                        )));
                    }
                };
                if firing {
                    outcome.scale_events.push(PolicyEvent::Scale {
                        tenant: tenant.clone(),
                        vnf_instance_id: instance.to_owned(),
                        aspect_id: aspect.to_owned(),
                        direction,
                        source: format!("alertmanager/{alertname}"),
                        observed_at,
                    });
                }
                continue;
            }
            let reason = alert
                .annotations
                .get("summary")
                .or_else(|| alert.annotations.get("description"))
                .cloned()
                .unwrap_or_else(|| format!("alert {alertname} is {}", alert.status));
            let event = HealthEvent {
                tenant: tenant.clone(),
                vnf_instance_id: instance.to_owned(),
                vnfc_id: label(&alert, &["vnfc_id", "vnfcInstanceId", "vnfc_instance_id"])
                    .map(str::to_owned),
                status: if firing {
                    HealthStatus::Unhealthy
                } else {
                    HealthStatus::Healthy
                },
                source: format!("alertmanager/{alertname}"),
                reason,
                severity: Some(severity(&alert)),
                observed_at,
            };
            if sender.send(event).await.is_ok() {
                outcome.health_events += 1;
            } else {
                outcome.ignored += 1;
            }
        }
        Ok(outcome)
    }
}

#[async_trait]
impl MonitorDriver for AlertmanagerMonitor {
    fn name(&self) -> &str {
        "alertmanager"
    }

    async fn watch(&self, target: MonitorTarget, events: mpsc::Sender<HealthEvent>) -> Result<()> {
        self.lock()?
            .insert((target.tenant, target.vnf_instance.id), events);
        Ok(())
    }

    async fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        self.lock()?
            .remove(&(tenant.clone(), vnf_instance_id.to_owned()));
        Ok(())
    }
}
