//! Records and ETSI resources for tests, filled the way the engine fills them.

use chrono::Utc;
use std::collections::BTreeMap;

use crate::model::{
    InstantiationState, LccnSubscription, LcmOpOccNotificationVerbosityType, LcmOperationStateType,
    LcmOperationType, Link, PackageOnboardingStateType, PackageOperationalStateType,
    PackageUsageStateType, PkgmSubscription, SelfLink, VnfInstance, VnfInstanceLinks, VnfLcmOpOcc,
    VnfLcmOpOccLinks, VnfPkgInfo, VnfPkgInfoLinks,
};
use crate::store::{
    LccnSubscriptionRecord, OpOccRecord, PkgmSubscriptionRecord, Sealed, VimRecord,
    VnfInstanceRecord, VnfPackageRecord,
};

const BASE: &str = "http://vnfm.test";

/// A VNF instance (NOT_INSTANTIATED) of `vnfd_id` named `name`.
pub fn instance(id: &str, vnfd_id: &str, name: &str) -> VnfInstanceRecord {
    VnfInstanceRecord {
        instance: VnfInstance {
            id: id.to_owned(),
            vnf_instance_name: Some(name.to_owned()),
            vnf_instance_description: None,
            vnfd_id: vnfd_id.to_owned(),
            vnf_provider: "Company".to_owned(),
            vnf_product_name: "Sample VNF".to_owned(),
            vnf_software_version: "1.0".to_owned(),
            vnfd_version: "1.0".to_owned(),
            vnf_configurable_properties: Default::default(),
            vim_connection_info: BTreeMap::new(),
            instantiation_state: InstantiationState::NotInstantiated,
            instantiated_vnf_info: None,
            metadata: Default::default(),
            extensions: Default::default(),
            links: VnfInstanceLinks {
                self_: Link::new(format!("{BASE}/vnflcm/v2/vnf_instances/{id}")),
                ..VnfInstanceLinks::default()
            },
        },
        vnf_pkg_id: None,
        created_at: Utc::now(),
    }
}

/// An operation occurrence on `vnf_instance_id` in `state`.
pub fn op_occ(
    id: &str,
    vnf_instance_id: &str,
    operation: LcmOperationType,
    state: LcmOperationStateType,
) -> OpOccRecord {
    let now = Utc::now();
    OpOccRecord {
        op: VnfLcmOpOcc {
            id: id.to_owned(),
            operation_state: state,
            state_entered_time: now,
            start_time: now,
            vnf_instance_id: vnf_instance_id.to_owned(),
            grant_id: None,
            operation,
            is_automatic_invocation: false,
            operation_params: None,
            is_cancel_pending: false,
            cancel_mode: None,
            error: None,
            resource_changes: None,
            changed_info: None,
            affected_vip_cps: Vec::new(),
            changed_ext_connectivity: Vec::new(),
            modifications_triggered_by_vnf_pkg_change: None,
            vnf_snapshot_info_id: None,
            lcm_coordinations: Vec::new(),
            rejected_lcm_coordinations: Vec::new(),
            warnings: Vec::new(),
            links: VnfLcmOpOccLinks {
                self_: Link::new(format!("{BASE}/vnflcm/v2/vnf_lcm_op_occs/{id}")),
                vnf_instance: Link::new(format!(
                    "{BASE}/vnflcm/v2/vnf_instances/{vnf_instance_id}"
                )),
                ..VnfLcmOpOccLinks::default()
            },
        },
        steps: Vec::new(),
        grant: None,
        grant_request: None,
        instance_before: None,
        hook_data: None,
    }
}

/// A package; ONBOARDED with `vnfd_id` when one is given, else CREATED.
pub fn package(id: &str, vnfd_id: Option<&str>) -> VnfPackageRecord {
    let onboarded = vnfd_id.is_some();
    VnfPackageRecord {
        info: VnfPkgInfo {
            id: id.to_owned(),
            vnfd_id: vnfd_id.map(str::to_owned),
            vnf_provider: onboarded.then(|| "Company".to_owned()),
            vnf_product_name: onboarded.then(|| "Sample VNF".to_owned()),
            vnf_software_version: onboarded.then(|| "1.0".to_owned()),
            vnfd_version: onboarded.then(|| "1.0".to_owned()),
            compatible_specification_versions: Vec::new(),
            checksum: None,
            package_security_option: None,
            signing_certificate: None,
            software_images: Vec::new(),
            additional_artifacts: Vec::new(),
            onboarding_state: if onboarded {
                PackageOnboardingStateType::Onboarded
            } else {
                PackageOnboardingStateType::Created
            },
            operational_state: if onboarded {
                PackageOperationalStateType::Enabled
            } else {
                PackageOperationalStateType::Disabled
            },
            usage_state: PackageUsageStateType::NotInUse,
            vnfm_info: Vec::new(),
            user_defined_data: Default::default(),
            onboarding_failure_details: None,
            links: VnfPkgInfoLinks {
                self_: Link::new(format!("{BASE}/vnfpkgm/v2/vnf_packages/{id}")),
                vnfd: Link::new(format!("{BASE}/vnfpkgm/v2/vnf_packages/{id}/vnfd")),
                package_content: Link::new(format!(
                    "{BASE}/vnfpkgm/v2/vnf_packages/{id}/package_content"
                )),
            },
        },
        content_location: None,
        created_at: Utc::now(),
        upload_claim: None,
    }
}

/// A VIM registration.
pub fn vim(id: &str, name: &str, is_default: bool) -> VimRecord {
    VimRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        description: None,
        vim_type: "ETSINFV.OPENSTACK_KEYSTONE.V_3".to_owned(),
        interface_info: serde_json::json!({"endpoint": "http://127.0.0.1:5000/v3"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        access_info: Sealed("sealed:opaque".to_owned()),
        extra: Default::default(),
        is_default,
        created_at: Utc::now(),
    }
}

/// An LCM subscription.
pub fn lccn_subscription(id: &str, callback_uri: &str) -> LccnSubscriptionRecord {
    LccnSubscriptionRecord {
        subscription: LccnSubscription {
            id: id.to_owned(),
            filter: None,
            callback_uri: callback_uri.to_owned(),
            verbosity: LcmOpOccNotificationVerbosityType::Full,
            links: SelfLink {
                self_: Link::new(format!("{BASE}/vnflcm/v2/subscriptions/{id}")),
            },
        },
        authentication: None,
        created_at: Utc::now(),
    }
}

/// A package management subscription.
pub fn pkgm_subscription(id: &str, callback_uri: &str) -> PkgmSubscriptionRecord {
    PkgmSubscriptionRecord {
        subscription: PkgmSubscription {
            id: id.to_owned(),
            filter: None,
            callback_uri: callback_uri.to_owned(),
            links: SelfLink {
                self_: Link::new(format!("{BASE}/vnfpkgm/v2/subscriptions/{id}")),
            },
        },
        authentication: None,
        created_at: Utc::now(),
    }
}

/// An FM subscription.
pub fn fm_subscription(id: &str, callback_uri: &str) -> crate::store::FmSubscriptionRecord {
    crate::store::FmSubscriptionRecord {
        subscription: crate::model::FmSubscription {
            id: id.to_owned(),
            filter: None,
            callback_uri: callback_uri.to_owned(),
            links: SelfLink {
                self_: Link::new(format!("{BASE}/vnffm/v1/subscriptions/{id}")),
            },
        },
        authentication: None,
        created_at: Utc::now(),
    }
}

/// An active, unacknowledged alarm about VNFC `vnfc_id` of `vnf_instance_id`.
pub fn alarm(id: &str, vnf_instance_id: &str, vnfc_id: &str) -> crate::store::AlarmRecord {
    use crate::model::{Alarm, AlarmLinks, EventType, PerceivedSeverityType};
    let now = Utc::now();
    crate::store::AlarmRecord {
        alarm: Alarm {
            id: id.to_owned(),
            managed_object_id: vnf_instance_id.to_owned(),
            root_cause_faulty_resource: None,
            alarm_raised_time: now,
            alarm_changed_time: None,
            alarm_cleared_time: None,
            alarm_acknowledged_time: None,
            ack_state: crate::model::AckState::Unacknowledged,
            perceived_severity: PerceivedSeverityType::Major,
            event_time: now,
            event_type: EventType::CommunicationsAlarm,
            fault_type: None,
            probable_cause: "probe failed".to_owned(),
            is_root_cause: true,
            correlated_alarm_ids: Vec::new(),
            fault_details: Vec::new(),
            links: AlarmLinks {
                self_: Link::new(format!("{BASE}/vnffm/v1/alarms/{id}")),
                object_instance: Some(Link::new(format!(
                    "{BASE}/vnflcm/v2/vnf_instances/{vnf_instance_id}"
                ))),
            },
        },
        fault_key: format!("{vnf_instance_id}/{vnfc_id}/test"),
        vnfc_id: Some(vnfc_id.to_owned()),
    }
}

/// A driver's state about VNF instance `vnf_instance_id`.
pub fn driver_state(id: &str, vnf_instance_id: &str) -> crate::store::DriverStateRecord {
    crate::store::DriverStateRecord {
        id: id.to_owned(),
        driver: "sim".to_owned(),
        vnf_instance_id: Some(vnf_instance_id.to_owned()),
        state: serde_json::json!({"servers": [{"id": "s1", "address": "127.64.0.1"}], "next": 2}),
    }
}
