//! VNF fault management: alarms raised and cleared by health observations, operator
//! acknowledgement, FM subscriptions, and `AlarmNotification` /
//! `AlarmClearedNotification` through the same outbox as LCM notifications (an alarm's
//! change and its notifications are one commit).

use super::*;
use crate::model::{
    AckState, Alarm, AlarmClearedNotification, AlarmClearedNotificationLinks, AlarmLinks,
    AlarmModifications, AlarmNotification, AlarmNotificationLinks, EventType, FaultyResourceInfo,
    FaultyResourceType, FmNotificationType, FmSubscription, PerceivedSeverityType, ResourceHandle,
};
use crate::notify::OutboxSignal;
use crate::store::{AlarmRecord, FmSubscriptionRecord, NewNotification};

/// A fault to report as an alarm (see [`VnfFm::raise_alarm`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The VNF instance (the alarm's `managedObjectId`).
    pub vnf_instance_id: String,
    /// The VNFC at fault, if one: its compute resource becomes the
    /// `rootCauseFaultyResource`.
    pub vnfc_id: Option<String>,
    /// Who observed it, e.g. `http`, `ping`, `alertmanager`, `auto-heal`.
    pub source: String,
    /// How urgent.
    pub severity: PerceivedSeverityType,
    /// What kind of event.
    pub event_type: EventType,
    /// The probable cause.
    pub probable_cause: String,
    /// Details, for people.
    pub details: Vec<String>,
    /// When it was observed.
    pub observed_at: DateTime,
}

impl Fault {
    /// The key that identifies the fault: one active alarm per key.
    pub fn key(&self) -> String {
        fault_key(&self.vnf_instance_id, self.vnfc_id.as_deref(), &self.source)
    }
}

/// The fault key of a VNFC (or the whole instance) as seen by `source`.
pub fn fault_key(vnf_instance_id: &str, vnfc_id: Option<&str>, source: &str) -> String {
    format!("{vnf_instance_id}/{}/{source}", vnfc_id.unwrap_or("-"))
}

type DateTime = crate::model::DateTime;

/// Whether an FM subscription wants a notification of `kind` about `alarm`.
fn fm_subscription_matches(
    subscription: &FmSubscription,
    kind: FmNotificationType,
    alarm: &Alarm,
    instance: Option<&VnfInstance>,
) -> bool {
    let Some(filter) = &subscription.filter else {
        return true;
    };
    if !filter.notification_types.is_empty() && !filter.notification_types.contains(&kind) {
        return false;
    }
    if let Some(instance_filter) = &filter.vnf_instance_subscription_filter {
        match instance {
            Some(instance) => {
                if !super::super::lccn::instance_filter_matches(instance_filter, instance) {
                    return false;
                }
            }
            None => {
                if !instance_filter.vnf_instance_ids.is_empty()
                    && !instance_filter
                        .vnf_instance_ids
                        .contains(&alarm.managed_object_id)
                {
                    return false;
                }
            }
        }
    }
    if !filter.faulty_resource_types.is_empty()
        && !alarm.root_cause_faulty_resource.as_ref().is_some_and(|r| {
            filter
                .faulty_resource_types
                .contains(&r.faulty_resource_type)
        })
    {
        return false;
    }
    if !filter.perceived_severities.is_empty()
        && !filter
            .perceived_severities
            .contains(&alarm.perceived_severity)
    {
        return false;
    }
    if !filter.event_types.is_empty() && !filter.event_types.contains(&alarm.event_type) {
        return false;
    }
    if !filter.probable_causes.is_empty() && !filter.probable_causes.contains(&alarm.probable_cause)
    {
        return false;
    }
    true
}

/// SOL002/SOL003 VNF fault management: alarms raised and cleared by health
/// observations, operator acknowledgement, and FM subscriptions. Independent of the LCM
/// engine: its notifications leave through the outbox like every other. Cheap to clone.
#[derive(Clone)]
pub struct VnfFm {
    inner: Arc<FmInner>,
}

struct FmInner {
    store: Arc<dyn Store>,
    api_root: String,
    subscriptions: Subscriptions<FmSubscriptionRecord>,
    outbox: OutboxSignal,
}

impl std::fmt::Debug for VnfFm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnfFm")
            .field("api_root", &self.inner.api_root)
            .finish_non_exhaustive()
    }
}

impl VnfFm {
    /// Fault management over `store`, with links under `api_root`; `subscriptions`
    /// holds the FM subscriptions and `outbox` wakes the notification sender.
    pub fn new(
        store: Arc<dyn Store>,
        api_root: impl Into<String>,
        subscriptions: Subscriptions<FmSubscriptionRecord>,
        outbox: OutboxSignal,
    ) -> Self {
        Self {
            inner: Arc::new(FmInner {
                store,
                api_root: api_root.into(),
                subscriptions,
                outbox,
            }),
        }
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The FM subscriptions (`/vnffm/v1/subscriptions`).
    pub fn subscriptions(&self) -> &Subscriptions<FmSubscriptionRecord> {
        &self.inner.subscriptions
    }

    fn alarm_uri(&self, id: &str) -> String {
        format!("{}/vnffm/v1/alarms/{id}", self.inner.api_root)
    }

    async fn fm_subscriptions(&self, tenant: &TenantId) -> Result<Vec<FmSubscription>> {
        self.inner.subscriptions.all(tenant).await
    }

    /// Outbox writes announcing `alarm` (raised or changed, or cleared) to every FM
    /// subscription that wants it; one notification id for all of them.
    async fn alarm_writes(
        &self,
        tenant: &TenantId,
        alarm: &Alarm,
        cleared: bool,
    ) -> Result<Vec<Write>> {
        let instance = match self
            .store()
            .get_typed::<VnfInstanceRecord>(tenant, &alarm.managed_object_id)
            .await
        {
            Ok(found) => Some(found.value.instance),
            Err(Error::NotFound { .. }) => None,
            Err(other) => return Err(other),
        };
        let kind = if cleared {
            FmNotificationType::AlarmClearedNotification
        } else {
            FmNotificationType::AlarmNotification
        };
        let notification_id = new_id();
        let now = Utc::now();
        let mut writes = Vec::new();
        for subscription in self.fm_subscriptions(tenant).await? {
            if !fm_subscription_matches(&subscription, kind, alarm, instance.as_ref()) {
                continue;
            }
            let subscription_link = Link::new(subscription.links.self_.href.clone());
            let payload = if cleared {
                serde_json::to_value(AlarmClearedNotification {
                    id: notification_id.clone(),
                    notification_type: kind,
                    subscription_id: subscription.id.clone(),
                    time_stamp: now,
                    alarm_id: alarm.id.clone(),
                    alarm_cleared_time: alarm.alarm_cleared_time.unwrap_or(now),
                    links: AlarmClearedNotificationLinks {
                        subscription: subscription_link,
                        alarm: Link::new(alarm.links.self_.href.clone()),
                    },
                })
            } else {
                serde_json::to_value(AlarmNotification {
                    id: notification_id.clone(),
                    notification_type: kind,
                    subscription_id: subscription.id.clone(),
                    time_stamp: now,
                    alarm: alarm.clone(),
                    links: AlarmNotificationLinks {
                        subscription: subscription_link,
                    },
                })
            };
            writes.push(Write::Notify(NewNotification {
                subscription_id: subscription.id.clone(),
                payload: payload.map_err(|e| Error::Internal(e.to_string()))?,
            }));
        }
        Ok(writes)
    }

    /// The active alarm of a fault, if any.
    pub async fn active_alarm(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
        key: &str,
    ) -> Result<Option<Versioned<AlarmRecord>>> {
        let filter = Filter::parse(&format!("(eq,managedObjectId,{vnf_instance_id})"))?;
        let page = self
            .store()
            .list_typed::<AlarmRecord>(tenant, &ListQuery::filtered(filter))
            .await?;
        Ok(page
            .items
            .into_iter()
            .find(|a| a.value.fault_key == key && a.value.alarm.alarm_cleared_time.is_none()))
    }

    /// Raises an alarm for a fault, or, when the fault already has an active alarm,
    /// updates it (severity, event time, details) and notifies only if its severity
    /// changed. Returns the alarm and whether subscribers were notified.
    pub async fn raise_alarm(&self, tenant: &TenantId, fault: Fault) -> Result<(Alarm, bool)> {
        let key = fault.key();
        for _ in 0..8 {
            let now = Utc::now();
            if let Some(active) = self
                .active_alarm(tenant, &fault.vnf_instance_id, &key)
                .await?
            {
                let mut alarm = active.value.alarm.clone();
                let changed = alarm.perceived_severity != fault.severity;
                if !changed {
                    return Ok((alarm, false));
                }
                alarm.perceived_severity = fault.severity;
                alarm.event_time = fault.observed_at;
                alarm.alarm_changed_time = Some(now);
                alarm.fault_details = fault.details.clone();
                let mut writes = vec![Write::Update {
                    record: AlarmRecord {
                        alarm: alarm.clone(),
                        ..active.value.clone()
                    }
                    .into(),
                    expected_version: active.version,
                }];
                writes.extend(self.alarm_writes(tenant, &alarm, false).await?);
                match self.store().commit(tenant, writes).await {
                    Ok(_) => {
                        self.inner.outbox.ring();
                        return Ok((alarm, true));
                    }
                    Err(Error::Conflict(_) | Error::StaleVersion { .. }) => continue,
                    Err(other) => return Err(other),
                }
            }
            let faulty = match &fault.vnfc_id {
                Some(vnfc_id) => self
                    .store()
                    .get_typed::<VnfInstanceRecord>(tenant, &fault.vnf_instance_id)
                    .await
                    .ok()
                    .and_then(|found| found.value.instance.instantiated_vnf_info)
                    .and_then(|info| {
                        info.vnfc_resource_info
                            .into_iter()
                            .find(|v| &v.id == vnfc_id)
                    })
                    .map(|vnfc| FaultyResourceInfo {
                        faulty_resource: ResourceHandle {
                            vim_connection_id: vnfc.compute_resource.vim_connection_id,
                            resource_provider_id: vnfc.compute_resource.resource_provider_id,
                            resource_id: vnfc.compute_resource.resource_id,
                            vim_level_resource_type: vnfc.compute_resource.vim_level_resource_type,
                        },
                        faulty_resource_type: FaultyResourceType::Compute,
                    }),
                None => None,
            };
            let id = new_id();
            let mut details = fault.details.clone();
            if let Some(vnfc_id) = &fault.vnfc_id {
                details.insert(0, format!("vnfcInstanceId={vnfc_id}"));
            }
            details.insert(0, format!("source={}", fault.source));
            let alarm = Alarm {
                id: id.clone(),
                managed_object_id: fault.vnf_instance_id.clone(),
                root_cause_faulty_resource: faulty,
                alarm_raised_time: now,
                alarm_changed_time: None,
                alarm_cleared_time: None,
                alarm_acknowledged_time: None,
                ack_state: AckState::Unacknowledged,
                perceived_severity: fault.severity,
                event_time: fault.observed_at,
                event_type: fault.event_type,
                fault_type: None,
                probable_cause: fault.probable_cause.clone(),
                is_root_cause: true,
                correlated_alarm_ids: Vec::new(),
                fault_details: details,
                links: AlarmLinks {
                    self_: Link::new(self.alarm_uri(&id)),
                    object_instance: Some(Link::new(format!(
                        "{}/vnflcm/v2/vnf_instances/{}",
                        self.inner.api_root, fault.vnf_instance_id
                    ))),
                },
            };
            let mut writes = vec![Write::Insert(
                AlarmRecord {
                    alarm: alarm.clone(),
                    fault_key: key.clone(),
                    vnfc_id: fault.vnfc_id.clone(),
                }
                .into(),
            )];
            writes.extend(self.alarm_writes(tenant, &alarm, false).await?);
            match self.store().commit(tenant, writes).await {
                Ok(_) => {
                    self.inner.outbox.ring();
                    return Ok((alarm, true));
                }
                // Another observer raised it first: take that one.
                Err(Error::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "the alarm of fault {key} kept changing concurrently"
        )))
    }

    /// Clears the active alarm of a fault, if there is one, and notifies
    /// `AlarmClearedNotification`. Returns the cleared alarm.
    pub async fn clear_alarm(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
        key: &str,
    ) -> Result<Option<Alarm>> {
        for _ in 0..8 {
            let Some(active) = self.active_alarm(tenant, vnf_instance_id, key).await? else {
                return Ok(None);
            };
            let now = Utc::now();
            let mut alarm = active.value.alarm.clone();
            alarm.alarm_cleared_time = Some(now);
            alarm.alarm_changed_time = Some(now);
            alarm.perceived_severity = PerceivedSeverityType::Cleared;
            let mut writes = vec![Write::Update {
                record: AlarmRecord {
                    alarm: alarm.clone(),
                    ..active.value.clone()
                }
                .into(),
                expected_version: active.version,
            }];
            writes.extend(self.alarm_writes(tenant, &alarm, true).await?);
            match self.store().commit(tenant, writes).await {
                Ok(_) => {
                    self.inner.outbox.ring();
                    return Ok(Some(alarm));
                }
                Err(Error::Conflict(_) | Error::StaleVersion { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "the alarm of fault {key} kept changing concurrently"
        )))
    }

    /// Clears every active alarm of a VNF instance (it was terminated or deleted).
    pub async fn clear_alarms_of(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        let filter = Filter::parse(&format!("(eq,managedObjectId,{vnf_instance_id})"))?;
        let page = self
            .store()
            .list_typed::<AlarmRecord>(tenant, &ListQuery::filtered(filter))
            .await?;
        for alarm in page.items {
            if alarm.value.alarm.alarm_cleared_time.is_none() {
                self.clear_alarm(tenant, vnf_instance_id, &alarm.value.fault_key)
                    .await?;
            }
        }
        Ok(())
    }

    /// Clears the active alarms of VNFCs of an instance that are no longer among
    /// `present` (scaled in, or replaced under a new id).
    pub async fn clear_alarms_of_gone_vnfcs(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
        present: &[String],
    ) -> Result<()> {
        let filter = Filter::parse(&format!("(eq,managedObjectId,{vnf_instance_id})"))?;
        let page = self
            .store()
            .list_typed::<AlarmRecord>(tenant, &ListQuery::filtered(filter))
            .await?;
        for alarm in page.items {
            let gone = alarm
                .value
                .vnfc_id
                .as_ref()
                .is_some_and(|vnfc| !present.contains(vnfc));
            if gone && alarm.value.alarm.alarm_cleared_time.is_none() {
                self.clear_alarm(tenant, vnf_instance_id, &alarm.value.fault_key)
                    .await?;
            }
        }
        Ok(())
    }

    /// One alarm.
    pub async fn alarm(&self, tenant: &TenantId, id: &str) -> Result<Alarm> {
        Ok(self
            .store()
            .get_typed::<AlarmRecord>(tenant, id)
            .await?
            .value
            .alarm)
    }

    /// Alarms, filtered and paged.
    pub async fn alarms(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Alarm>> {
        let page = self
            .store()
            .list_typed::<AlarmRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.alarm))
    }

    /// Acknowledges (or un-acknowledges) an alarm. `Conflict` when the alarm already is
    /// in the requested state (SOL003 7.4.3.3.4).
    pub async fn modify_alarm(
        &self,
        tenant: &TenantId,
        id: &str,
        modifications: AlarmModifications,
    ) -> Result<AlarmModifications> {
        let found = self.store().get_typed::<AlarmRecord>(tenant, id).await?;
        let mut record = found.value;
        if record.alarm.ack_state == modifications.ack_state {
            return Err(Error::Conflict(format!(
                "alarm {id} is already {}",
                match modifications.ack_state {
                    AckState::Acknowledged => "ACKNOWLEDGED",
                    AckState::Unacknowledged => "UNACKNOWLEDGED",
                }
            )));
        }
        let now = Utc::now();
        record.alarm.ack_state = modifications.ack_state;
        record.alarm.alarm_changed_time = Some(now);
        record.alarm.alarm_acknowledged_time = match modifications.ack_state {
            AckState::Acknowledged => Some(now),
            AckState::Unacknowledged => None,
        };
        self.store().update(tenant, record, found.version).await?;
        Ok(modifications)
    }
}
