//! VNF fault management (SOL002/SOL003 `/vnffm/v1`): alarms, FM subscriptions and the
//! notifications they receive.

use serde::{Deserialize, Serialize};

use super::common::{
    DateTime, Link, NotificationLink, ResourceHandle, SubscriptionAuthentication,
    VnfInstanceSubscriptionFilter,
};
use super::lccn::SelfLink;

/// `ackState` of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AckState {
    /// Nobody acknowledged the alarm yet.
    #[default]
    Unacknowledged,
    /// An operator acknowledged the alarm.
    Acknowledged,
}

/// `PerceivedSeverityType` (ITU-T X.733).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PerceivedSeverityType {
    /// Service affecting; immediate action required.
    Critical,
    /// Service affecting; urgent action required.
    Major,
    /// Not service affecting yet.
    Minor,
    /// A potential fault.
    Warning,
    /// Unknown severity.
    Indeterminate,
    /// The fault is cleared.
    Cleared,
}

/// `EventType` (ITU-T X.733).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// Conveying information failed.
    CommunicationsAlarm,
    /// A software or processing fault.
    ProcessingErrorAlarm,
    /// An environmental condition.
    EnvironmentalAlarm,
    /// Degraded quality of service.
    QosAlarm,
    /// An equipment fault.
    EquipmentAlarm,
}

/// `FaultyResourceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FaultyResourceType {
    /// A compute resource (a VNFC's server).
    Compute,
    /// A storage resource.
    Storage,
    /// A network resource.
    Network,
}

/// `FaultyResourceInfo`: the virtualised resource that causes a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultyResourceInfo {
    /// The faulty resource.
    pub faulty_resource: ResourceHandle,
    /// Its type.
    pub faulty_resource_type: FaultyResourceType,
}

/// `_links` of an [`Alarm`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmLinks {
    /// The alarm.
    #[serde(rename = "self")]
    pub self_: Link,
    /// The VNF instance the alarm is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_instance: Option<Link>,
}

/// `Alarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    /// The alarm's identifier.
    pub id: String,
    /// The VNF instance affected.
    pub managed_object_id: String,
    /// The virtualised resource causing the fault, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause_faulty_resource: Option<FaultyResourceInfo>,
    /// When the alarm was raised.
    pub alarm_raised_time: DateTime,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_changed_time: Option<DateTime>,
    /// When it was cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_cleared_time: Option<DateTime>,
    /// When it was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_acknowledged_time: Option<DateTime>,
    /// Acknowledged or not.
    pub ack_state: AckState,
    /// How urgent.
    pub perceived_severity: PerceivedSeverityType,
    /// When the fault was observed.
    pub event_time: DateTime,
    /// What kind of event.
    pub event_type: EventType,
    /// More about the type of fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_type: Option<String>,
    /// The probable cause.
    pub probable_cause: String,
    /// Whether this fault causes the correlated alarms.
    pub is_root_cause: bool,
    /// Correlated alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlated_alarm_ids: Vec<String>,
    /// Details, for people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fault_details: Vec<String>,
    /// Links.
    #[serde(rename = "_links")]
    pub links: AlarmLinks,
}

/// `AlarmModifications`: the body of `PATCH /alarms/{alarmId}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmModifications {
    /// The new acknowledgement state.
    pub ack_state: AckState,
}

/// The notification types of the VNF FM interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FmNotificationType {
    /// An alarm was raised or changed.
    AlarmNotification,
    /// An alarm was cleared.
    AlarmClearedNotification,
    /// The alarm list was rebuilt.
    AlarmListRebuiltNotification,
}

/// `FmNotificationsFilter`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FmNotificationsFilter {
    /// Which VNF instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_subscription_filter: Option<VnfInstanceSubscriptionFilter>,
    /// Which notification types; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_types: Vec<FmNotificationType>,
    /// Which faulty resource types; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faulty_resource_types: Vec<FaultyResourceType>,
    /// Which severities; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perceived_severities: Vec<PerceivedSeverityType>,
    /// Which event types; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<EventType>,
    /// Which probable causes; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probable_causes: Vec<String>,
}

/// `FmSubscriptionRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FmSubscriptionRequest {
    /// What to be notified of; everything when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FmNotificationsFilter>,
    /// Where to send notifications.
    pub callback_uri: String,
    /// How to authenticate to the callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<SubscriptionAuthentication>,
}

/// `FmSubscription`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FmSubscription {
    /// The subscription's identifier.
    pub id: String,
    /// What the subscriber is notified of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FmNotificationsFilter>,
    /// Where notifications go.
    pub callback_uri: String,
    /// Links.
    #[serde(rename = "_links")]
    pub links: SelfLink,
}

/// `_links` of an [`AlarmNotification`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmNotificationLinks {
    /// The subscription.
    pub subscription: NotificationLink,
}

/// `AlarmNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmNotification {
    /// The notification's identifier (the same for every subscription).
    pub id: String,
    /// `AlarmNotification`.
    pub notification_type: FmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the notification was generated.
    pub time_stamp: DateTime,
    /// The alarm.
    pub alarm: Alarm,
    /// Links.
    #[serde(rename = "_links")]
    pub links: AlarmNotificationLinks,
}

/// `_links` of an [`AlarmClearedNotification`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmClearedNotificationLinks {
    /// The subscription.
    pub subscription: NotificationLink,
    /// The alarm.
    pub alarm: NotificationLink,
}

/// `AlarmClearedNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmClearedNotification {
    /// The notification's identifier (the same for every subscription).
    pub id: String,
    /// `AlarmClearedNotification`.
    pub notification_type: FmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the notification was generated.
    pub time_stamp: DateTime,
    /// The alarm cleared.
    pub alarm_id: String,
    /// When it was cleared.
    pub alarm_cleared_time: DateTime,
    /// Links.
    #[serde(rename = "_links")]
    pub links: AlarmClearedNotificationLinks,
}
