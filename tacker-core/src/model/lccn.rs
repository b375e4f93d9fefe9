//! VNF LCM subscriptions (`LccnSubscription`) and the notifications they receive.

use serde::{Deserialize, Serialize};

use super::common::{
    DateTime, LcmOperationStateType, LcmOperationType, Link, NotificationLink, ProblemDetails,
    SubscriptionAuthentication, VnfInstanceSubscriptionFilter,
};
use super::instance::ExtVirtualLinkInfo;
use super::opocc::{
    AffectedExtLinkPort, AffectedVipCp, AffectedVirtualLink, AffectedVirtualStorage, AffectedVnfc,
    ModificationsTriggeredByVnfPkgChange, VnfInfoModifications,
};

/// The notification types of the VNF LCM interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LcmNotificationType {
    /// The state of an operation occurrence changed.
    VnfLcmOperationOccurrenceNotification,
    /// A VNF identifier was created.
    VnfIdentifierCreationNotification,
    /// A VNF identifier was deleted.
    VnfIdentifierDeletionNotification,
}

/// `LcmOpOccNotificationVerbosityType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LcmOpOccNotificationVerbosityType {
    /// Notifications carry the full change information.
    #[default]
    Full,
    /// Notifications carry only links; the subscriber reads the op occurrence.
    Short,
}

/// `LifecycleChangeNotificationsFilter`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleChangeNotificationsFilter {
    /// Which VNF instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_subscription_filter: Option<VnfInstanceSubscriptionFilter>,
    /// Which notification types; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_types: Vec<LcmNotificationType>,
    /// Which operations (for op occurrence notifications); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operation_types: Vec<LcmOperationType>,
    /// Which operation states; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operation_states: Vec<LcmOperationStateType>,
}

/// `LccnSubscriptionRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LccnSubscriptionRequest {
    /// What to be notified of; everything when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<LifecycleChangeNotificationsFilter>,
    /// Where to send notifications.
    pub callback_uri: String,
    /// How to authenticate to the callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<SubscriptionAuthentication>,
    /// FULL (default) or SHORT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<LcmOpOccNotificationVerbosityType>,
}

/// `LccnSubscription`. The authentication of the request is kept by the VNFM and never
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LccnSubscription {
    /// The subscription's identifier.
    pub id: String,
    /// What the subscriber is notified of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<LifecycleChangeNotificationsFilter>,
    /// Where notifications go.
    pub callback_uri: String,
    /// FULL or SHORT.
    pub verbosity: LcmOpOccNotificationVerbosityType,
    /// Links.
    #[serde(rename = "_links")]
    pub links: SelfLink,
}

/// `_links` holding only `self`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SelfLink {
    /// This resource.
    #[serde(rename = "self")]
    pub self_: Link,
}

/// `LccnLinks`: the links of an LCM notification.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LccnLinks {
    /// The VNF instance.
    pub vnf_instance: NotificationLink,
    /// The subscription.
    pub subscription: NotificationLink,
    /// The operation occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_lcm_op_occ: Option<NotificationLink>,
}

/// `notificationStatus` of `VnfLcmOperationOccurrenceNotification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationStatus {
    /// The operation entered STARTING or PROCESSING, or ROLLING_BACK.
    Start,
    /// The operation reached COMPLETED, FAILED_TEMP, FAILED or ROLLED_BACK.
    Result,
}

/// `VnfLcmOperationOccurrenceNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfLcmOperationOccurrenceNotification {
    /// The notification's identifier (the same across delivery attempts).
    pub id: String,
    /// Always `VnfLcmOperationOccurrenceNotification`.
    pub notification_type: LcmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the state change happened.
    pub time_stamp: DateTime,
    /// START or RESULT.
    pub notification_status: NotificationStatus,
    /// The state entered.
    pub operation_state: LcmOperationStateType,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// The operation.
    pub operation: LcmOperationType,
    /// Whether a policy started the operation.
    pub is_automatic_invocation: bool,
    /// FULL or SHORT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<LcmOpOccNotificationVerbosityType>,
    /// The operation occurrence.
    pub vnf_lcm_op_occ_id: String,
    /// VNFCs changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_vnfcs: Vec<AffectedVnfc>,
    /// Internal virtual links changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_virtual_links: Vec<AffectedVirtualLink>,
    /// External link ports changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_ext_link_ports: Vec<AffectedExtLinkPort>,
    /// Storage changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_virtual_storages: Vec<AffectedVirtualStorage>,
    /// Information changed by MODIFY_INFO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_info: Option<VnfInfoModifications>,
    /// Virtual IP CPs changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_vip_cps: Vec<AffectedVipCp>,
    /// External connectivity after the operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_ext_connectivity: Vec<ExtVirtualLinkInfo>,
    /// Changes made by CHANGE_VNFPKG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modifications_triggered_by_vnf_pkg_change: Option<ModificationsTriggeredByVnfPkgChange>,
    /// Why the operation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProblemDetails>,
    /// Links.
    #[serde(rename = "_links")]
    pub links: LccnLinks,
}

/// `VnfIdentifierCreationNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfIdentifierCreationNotification {
    /// The notification's identifier.
    pub id: String,
    /// Always `VnfIdentifierCreationNotification`.
    pub notification_type: LcmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the identifier was created.
    pub time_stamp: DateTime,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// Links.
    #[serde(rename = "_links")]
    pub links: LccnLinks,
}

/// `VnfIdentifierDeletionNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfIdentifierDeletionNotification {
    /// The notification's identifier.
    pub id: String,
    /// Always `VnfIdentifierDeletionNotification`.
    pub notification_type: LcmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the identifier was deleted.
    pub time_stamp: DateTime,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// Links.
    #[serde(rename = "_links")]
    pub links: LccnLinks,
}
