//! `AutoHealPolicy` and `AutoScalePolicy`.

use async_trait::async_trait;
use chrono::Utc;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::{HealthStatus, PolicyAction, PolicyDriver, PolicyEvent, ScaleDirection};
use crate::model::{DateTime, HealVnfRequest, ScaleType, ScaleVnfRequest, VnfInstance};
use crate::{Error, Result, TenantId};

fn enabled(instance: &VnfInstance, property: &str) -> bool {
    instance
        .vnf_configurable_properties
        .get(property)
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

fn after(time: DateTime, duration: Duration) -> DateTime {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| time.checked_add_signed(d))
        .unwrap_or(time)
}

/// How [`AutoHealPolicy`] batches and escalates.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoHealConfig {
    /// Failures of one instance observed within this window after the first become one
    /// heal, decided when the window closes.
    pub window: Duration,
    /// Automatic heals of one VNFC after which, if it still fails, the whole VNF is
    /// healed; if it fails after that too, an alarm is raised and automatic healing of
    /// the instance stops until it is healthy again.
    pub max_vnfc_heals: u32,
}

impl Default for AutoHealConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(2),
            max_vnfc_heals: 2,
        }
    }
}

#[derive(Debug, Default)]
struct HealState {
    /// VNFCs waiting for the window to close.
    pending: BTreeSet<String>,
    /// The whole VNF waits to be healed.
    pending_whole: bool,
    /// When the current window closes.
    window_ends: Option<DateTime>,
    /// Automatic heals per VNFC since it was last healthy.
    heals: HashMap<String, u32>,
    /// The whole VNF was healed automatically since every VNFC was last healthy.
    whole_healed: bool,
    /// When the last heal was decided: failures observed before are covered by it.
    last_decision: Option<DateTime>,
    /// Automatic healing gave up.
    gave_up: bool,
}

/// Heals unhealthy VNFCs of instances with `isAutohealEnabled: true`: failures within
/// a window become one heal of the failed VNFCs; a VNFC that keeps failing after
/// [`AutoHealConfig::max_vnfc_heals`] heals gets a whole-VNF heal, then an
/// [`PolicyAction::Escalate`] and no more automatic action. A VNFC that recovers
/// within the window is not healed.
#[derive(Debug, Default)]
pub struct AutoHealPolicy {
    config: AutoHealConfig,
    state: Mutex<HashMap<(TenantId, String), HealState>>,
}

impl AutoHealPolicy {
    /// A policy with `config`.
    pub fn new(config: AutoHealConfig) -> Self {
        Self {
            config,
            state: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, HashMap<(TenantId, String), HealState>>> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("auto-heal policy state poisoned".to_owned()))
    }
}

#[async_trait]
impl PolicyDriver for AutoHealPolicy {
    fn name(&self) -> &str {
        "auto-heal"
    }

    async fn on_event(
        &self,
        event: &PolicyEvent,
        instance: &VnfInstance,
    ) -> Result<Vec<PolicyAction>> {
        let PolicyEvent::Health(health) = event else {
            return Ok(Vec::new());
        };
        let key = (health.tenant.clone(), health.vnf_instance_id.clone());
        let mut states = self.lock()?;
        if !enabled(instance, "isAutohealEnabled") {
            states.remove(&key);
            return Ok(Vec::new());
        }
        let state = states.entry(key).or_default();
        match health.status {
            HealthStatus::Healthy => {
                match &health.vnfc_id {
                    Some(vnfc) => {
                        state.heals.remove(vnfc);
                        state.pending.remove(vnfc);
                    }
                    None => {
                        state.heals.clear();
                        state.pending.clear();
                        state.pending_whole = false;
                    }
                }
                if state.heals.is_empty() {
                    state.whole_healed = false;
                    state.gave_up = false;
                }
                if state.pending.is_empty() && !state.pending_whole {
                    state.window_ends = None;
                }
                Ok(Vec::new())
            }
            HealthStatus::Unhealthy => {
                if state.gave_up
                    || state
                        .last_decision
                        .is_some_and(|decided| health.observed_at <= decided)
                {
                    return Ok(Vec::new());
                }
                let known = instance.instantiated_vnf_info.as_ref().is_some_and(|info| {
                    health
                        .vnfc_id
                        .as_ref()
                        .is_none_or(|id| info.vnfc_resource_info.iter().any(|v| &v.id == id))
                });
                if !known {
                    // A VNFC that is gone (scaled in, or the instance is terminated).
                    return Ok(Vec::new());
                }
                let exhausted = match &health.vnfc_id {
                    Some(vnfc) => {
                        state.heals.get(vnfc).copied().unwrap_or(0) >= self.config.max_vnfc_heals
                    }
                    None => state.whole_healed,
                };
                if exhausted && state.whole_healed {
                    state.gave_up = true;
                    state.pending.clear();
                    state.pending_whole = false;
                    state.window_ends = None;
                    return Ok(vec![PolicyAction::Escalate {
                        tenant: health.tenant.clone(),
                        vnf_instance_id: health.vnf_instance_id.clone(),
                        vnfc_id: health.vnfc_id.clone(),
                        reason: format!(
                            "automatic healing gave up: {} still fails after {} VNFC heals and a heal of the whole VNF ({})",
                            health.vnfc_id.as_deref().unwrap_or("the VNF"),
                            self.config.max_vnfc_heals,
                            health.reason
                        ),
                    }]);
                }
                match (&health.vnfc_id, exhausted) {
                    (Some(vnfc), false) => {
                        state.pending.insert(vnfc.clone());
                    }
                    _ => state.pending_whole = true,
                }
                if state.window_ends.is_none() {
                    state.window_ends = Some(after(health.observed_at, self.config.window));
                }
                Ok(Vec::new())
            }
        }
    }

    async fn due(&self, now: DateTime) -> Result<Vec<PolicyAction>> {
        let mut actions = Vec::new();
        let mut states = self.lock()?;
        for ((tenant, instance_id), state) in states.iter_mut() {
            let Some(ends) = state.window_ends else {
                continue;
            };
            if ends > now {
                continue;
            }
            state.window_ends = None;
            let request = if state.pending_whole {
                state.whole_healed = true;
                for vnfc in &state.pending {
                    state.heals.entry(vnfc.clone()).or_insert(0);
                }
                HealVnfRequest {
                    cause: Some("automatic heal of the VNF: VNFCs keep failing".to_owned()),
                    ..HealVnfRequest::default()
                }
            } else if state.pending.is_empty() {
                continue;
            } else {
                for vnfc in &state.pending {
                    *state.heals.entry(vnfc.clone()).or_insert(0) += 1;
                }
                HealVnfRequest {
                    vnfc_instance_id: state.pending.iter().cloned().collect(),
                    cause: Some("automatic heal: the VNFCs failed their health checks".to_owned()),
                    ..HealVnfRequest::default()
                }
            };
            state.pending.clear();
            state.pending_whole = false;
            state.last_decision = Some(now);
            actions.push(PolicyAction::Heal {
                tenant: tenant.clone(),
                vnf_instance_id: instance_id.clone(),
                request,
            });
        }
        Ok(actions)
    }
}

/// The aspect and direction of the first `vnfConfigurableProperties.autoscale` rule of
/// `metric` that `value` crosses (above `scaleOutAbove`, below `scaleInBelow`).
fn threshold_crossed(
    instance: &VnfInstance,
    metric: &str,
    value: f64,
) -> Result<Option<(String, ScaleDirection)>> {
    let Some(rules) = instance.vnf_configurable_properties.get("autoscale") else {
        return Ok(None);
    };
    let rules = rules.as_array().ok_or_else(|| {
        Error::InvalidRequest(format!(
            "VNF instance {}: vnfConfigurableProperties.autoscale must be a list of rules",
            instance.id
        ))
    })?;
    for (index, rule) in rules.iter().enumerate() {
        if rule.get("metric").and_then(serde_json::Value::as_str) != Some(metric) {
            continue;
        }
        let aspect = rule
            .get("aspectId")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "VNF instance {}: vnfConfigurableProperties.autoscale[{index}].aspectId is missing",
                    instance.id
                ))
            })?;
        let bound = |name: &str| rule.get(name).and_then(serde_json::Value::as_f64);
        if bound("scaleOutAbove").is_some_and(|limit| value > limit) {
            return Ok(Some((aspect.to_owned(), ScaleDirection::Out)));
        }
        if bound("scaleInBelow").is_some_and(|limit| value < limit) {
            return Ok(Some((aspect.to_owned(), ScaleDirection::In)));
        }
    }
    Ok(None)
}

/// How [`AutoScalePolicy`] paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoScaleConfig {
    /// After a scale of an aspect, requests for that aspect are ignored this long.
    pub cooldown: Duration,
}

impl Default for AutoScaleConfig {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(300),
        }
    }
}

/// Scales instances with `isAutoscaleEnabled: true` by one step of the aspect an alert
/// names ([`PolicyEvent::Scale`]), or of the aspect of a threshold a measurement
/// crosses ([`PolicyEvent::Metric`] against `vnfConfigurableProperties.autoscale`, a
/// list of `{"metric", "aspectId", "scaleOutAbove", "scaleInBelow"}`), within the
/// aspect's levels, at most once per cool-down per aspect.
#[derive(Debug, Default)]
pub struct AutoScalePolicy {
    config: AutoScaleConfig,
    last: Mutex<HashMap<(TenantId, String, String), DateTime>>,
}

impl AutoScalePolicy {
    /// A policy with `config`.
    pub fn new(config: AutoScaleConfig) -> Self {
        Self {
            config,
            last: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl PolicyDriver for AutoScalePolicy {
    fn name(&self) -> &str {
        "auto-scale"
    }

    async fn on_event(
        &self,
        event: &PolicyEvent,
        instance: &VnfInstance,
    ) -> Result<Vec<PolicyAction>> {
        let (tenant, vnf_instance_id, aspect_id, direction, source) = match event {
            PolicyEvent::Scale {
                tenant,
                vnf_instance_id,
                aspect_id,
                direction,
                source,
                ..
            } => (
                tenant,
                vnf_instance_id,
                aspect_id.clone(),
                *direction,
                source.clone(),
            ),
            PolicyEvent::Metric {
                tenant,
                vnf_instance_id,
                metric,
                value,
                ..
            } => match threshold_crossed(instance, metric, *value)? {
                Some((aspect, direction)) => (
                    tenant,
                    vnf_instance_id,
                    aspect,
                    direction,
                    format!("threshold on {metric} ({value})"),
                ),
                None => return Ok(Vec::new()),
            },
            _ => return Ok(Vec::new()),
        };
        let aspect_id = &aspect_id;
        let source = &source;
        if !enabled(instance, "isAutoscaleEnabled") {
            return Ok(Vec::new());
        }
        let Some(info) = &instance.instantiated_vnf_info else {
            return Ok(Vec::new());
        };
        let level = info
            .scale_status
            .iter()
            .find(|s| &s.aspect_id == aspect_id)
            .map(|s| s.scale_level);
        let max = info
            .max_scale_levels
            .iter()
            .find(|s| &s.aspect_id == aspect_id)
            .map(|s| s.scale_level);
        let (Some(level), Some(max)) = (level, max) else {
            tracing::warn!(
                vnf_instance = vnf_instance_id,
                aspect = aspect_id,
                "auto-scale: the instance has no such scaling aspect"
            );
            return Ok(Vec::new());
        };
        let within = match direction {
            ScaleDirection::Out => level < max,
            ScaleDirection::In => level > 0,
        };
        if !within {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let key = (tenant.clone(), vnf_instance_id.clone(), aspect_id.clone());
        let mut last = self
            .last
            .lock()
            .map_err(|_| Error::Internal("auto-scale policy state poisoned".to_owned()))?;
        if last
            .get(&key)
            .is_some_and(|at| after(*at, self.config.cooldown) > now)
        {
            return Ok(Vec::new());
        }
        last.insert(key, now);
        tracing::info!(
            vnf_instance = vnf_instance_id,
            aspect = aspect_id,
            trigger = source,
            "auto-scale: scaling by one step"
        );
        Ok(vec![PolicyAction::Scale {
            tenant: tenant.clone(),
            vnf_instance_id: vnf_instance_id.clone(),
            request: ScaleVnfRequest {
                scale_type: match direction {
                    ScaleDirection::Out => ScaleType::ScaleOut,
                    ScaleDirection::In => ScaleType::ScaleIn,
                },
                aspect_id: aspect_id.clone(),
                number_of_steps: Some(1),
                additional_params: crate::model::KeyValuePairs::new(),
            },
        }])
    }
}
