//! Which LCM subscriptions a notification goes to, and the notification each receives.

use chrono::Utc;

use crate::model::{
    LccnLinks, LccnSubscription, LcmNotificationType, LcmOpOccNotificationVerbosityType, Link,
    NotificationStatus, VnfIdentifierCreationNotification, VnfIdentifierDeletionNotification,
    VnfInstance, VnfInstanceSubscriptionFilter, VnfLcmOpOcc, VnfLcmOperationOccurrenceNotification,
};
use crate::new_id;
use crate::store::{NewNotification, Write};

/// Whether a VNF instance filter selects `instance`. Empty lists match everything.
pub fn instance_filter_matches(
    filter: &VnfInstanceSubscriptionFilter,
    instance: &VnfInstance,
) -> bool {
    if !filter.vnfd_ids.is_empty() && !filter.vnfd_ids.contains(&instance.vnfd_id) {
        return false;
    }
    if !filter.vnf_instance_ids.is_empty() && !filter.vnf_instance_ids.contains(&instance.id) {
        return false;
    }
    if !filter.vnf_instance_names.is_empty()
        && !instance
            .vnf_instance_name
            .as_ref()
            .is_some_and(|n| filter.vnf_instance_names.contains(n))
    {
        return false;
    }
    if !filter.vnf_products_from_providers.is_empty() {
        return filter.vnf_products_from_providers.iter().any(|provider| {
            provider.vnf_provider == instance.vnf_provider
                && (provider.vnf_products.is_empty()
                    || provider.vnf_products.iter().any(|product| {
                        product.vnf_product_name == instance.vnf_product_name
                            && (product.versions.is_empty()
                                || product.versions.iter().any(|version| {
                                    version.vnf_software_version == instance.vnf_software_version
                                        && (version.vnfd_versions.is_empty()
                                            || version
                                                .vnfd_versions
                                                .contains(&instance.vnfd_version))
                                }))
                    }))
        });
    }
    true
}

/// Whether a subscription wants a notification of `kind` about `instance` (and, for
/// operation occurrence notifications, about `op`).
pub fn subscription_matches(
    subscription: &LccnSubscription,
    kind: LcmNotificationType,
    instance: &VnfInstance,
    op: Option<&VnfLcmOpOcc>,
) -> bool {
    let Some(filter) = &subscription.filter else {
        return true;
    };
    if !filter.notification_types.is_empty() && !filter.notification_types.contains(&kind) {
        return false;
    }
    if let Some(instance_filter) = &filter.vnf_instance_subscription_filter
        && !instance_filter_matches(instance_filter, instance)
    {
        return false;
    }
    if let Some(op) = op {
        if !filter.operation_types.is_empty() && !filter.operation_types.contains(&op.operation) {
            return false;
        }
        if !filter.operation_states.is_empty()
            && !filter.operation_states.contains(&op.operation_state)
        {
            return false;
        }
    }
    true
}

fn links(
    subscription: &LccnSubscription,
    instance: &VnfInstance,
    op: Option<&VnfLcmOpOcc>,
) -> LccnLinks {
    LccnLinks {
        vnf_instance: Link::new(instance.links.self_.href.clone()),
        subscription: Link::new(subscription.links.self_.href.clone()),
        vnf_lcm_op_occ: op.map(|op| Link::new(op.links.self_.href.clone())),
    }
}

/// The notification of an op occurrence's state change for one subscription.
pub fn op_occ_notification(
    subscription: &LccnSubscription,
    instance: &VnfInstance,
    op: &VnfLcmOpOcc,
) -> serde_json::Value {
    use crate::model::LcmOperationStateType as S;
    let status = match op.operation_state {
        S::Starting | S::Processing | S::RollingBack => NotificationStatus::Start,
        S::Completed | S::FailedTemp | S::Failed | S::RolledBack => NotificationStatus::Result,
    };
    let full = subscription.verbosity == LcmOpOccNotificationVerbosityType::Full
        && status == NotificationStatus::Result;
    let changes = op
        .resource_changes
        .clone()
        .filter(|_| full)
        .unwrap_or_default();
    let notification = VnfLcmOperationOccurrenceNotification {
        id: new_id(),
        notification_type: LcmNotificationType::VnfLcmOperationOccurrenceNotification,
        subscription_id: subscription.id.clone(),
        time_stamp: Utc::now(),
        notification_status: status,
        operation_state: op.operation_state,
        vnf_instance_id: instance.id.clone(),
        operation: op.operation,
        is_automatic_invocation: op.is_automatic_invocation,
        verbosity: Some(subscription.verbosity),
        vnf_lcm_op_occ_id: op.id.clone(),
        affected_vnfcs: changes.affected_vnfcs,
        affected_virtual_links: changes.affected_virtual_links,
        affected_ext_link_ports: changes.affected_ext_link_ports,
        affected_virtual_storages: changes.affected_virtual_storages,
        changed_info: op.changed_info.clone().filter(|_| full),
        affected_vip_cps: Vec::new(),
        changed_ext_connectivity: if full {
            op.changed_ext_connectivity.clone()
        } else {
            Vec::new()
        },
        modifications_triggered_by_vnf_pkg_change: op
            .modifications_triggered_by_vnf_pkg_change
            .clone()
            .filter(|_| full),
        error: op.error.clone(),
        links: links(subscription, instance, Some(op)),
    };
    serde_json::to_value(notification).unwrap_or(serde_json::Value::Null)
}

/// Outbox writes for an op occurrence's new state, one per matching subscription.
pub fn op_occ_writes(
    subscriptions: &[LccnSubscription],
    instance: &VnfInstance,
    op: &VnfLcmOpOcc,
) -> Vec<Write> {
    subscriptions
        .iter()
        .filter(|s| {
            subscription_matches(
                s,
                LcmNotificationType::VnfLcmOperationOccurrenceNotification,
                instance,
                Some(op),
            )
        })
        .map(|s| {
            Write::Notify(NewNotification {
                subscription_id: s.id.clone(),
                payload: op_occ_notification(s, instance, op),
            })
        })
        .collect()
}

/// Outbox writes for the creation or deletion of a VNF identifier.
pub fn identifier_writes(
    subscriptions: &[LccnSubscription],
    instance: &VnfInstance,
    created: bool,
) -> Vec<Write> {
    let kind = if created {
        LcmNotificationType::VnfIdentifierCreationNotification
    } else {
        LcmNotificationType::VnfIdentifierDeletionNotification
    };
    subscriptions
        .iter()
        .filter(|s| subscription_matches(s, kind, instance, None))
        .map(|s| {
            let payload = if created {
                serde_json::to_value(VnfIdentifierCreationNotification {
                    id: new_id(),
                    notification_type: kind,
                    subscription_id: s.id.clone(),
                    time_stamp: Utc::now(),
                    vnf_instance_id: instance.id.clone(),
                    links: links(s, instance, None),
                })
            } else {
                serde_json::to_value(VnfIdentifierDeletionNotification {
                    id: new_id(),
                    notification_type: kind,
                    subscription_id: s.id.clone(),
                    time_stamp: Utc::now(),
                    vnf_instance_id: instance.id.clone(),
                    links: links(s, instance, None),
                })
            };
            Write::Notify(NewNotification {
                subscription_id: s.id.clone(),
                payload: payload.unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}
