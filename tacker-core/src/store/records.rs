//! The records a store keeps: the ETSI resource plus what the VNFM needs beside it.

use serde::{Deserialize, Serialize};

use crate::model::{
    Alarm, DateTime, FmSubscription, Grant, GrantRequest, KeyValuePairs, LccnSubscription,
    PackageOnboardingStateType, PkgmSubscription, VnfInstance, VnfLcmOpOcc, VnfPkgInfo,
};
use crate::{Error, Result};

/// The kinds of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordKind {
    /// [`VnfPackageRecord`].
    VnfPackage,
    /// [`VnfInstanceRecord`].
    VnfInstance,
    /// [`OpOccRecord`].
    VnfLcmOpOcc,
    /// [`VimRecord`].
    Vim,
    /// [`LccnSubscriptionRecord`].
    LccnSubscription,
    /// [`PkgmSubscriptionRecord`].
    PkgmSubscription,
    /// [`AlarmRecord`].
    Alarm,
    /// [`FmSubscriptionRecord`].
    FmSubscription,
    /// [`DriverStateRecord`].
    DriverState,
}

/// The complex attributes of `VnfInstance` that lists leave out by default (SOL003).
pub const VNF_INSTANCE_COMPLEX: &[&str] = &[
    "vnfConfigurableProperties",
    "vimConnectionInfo",
    "instantiatedVnfInfo",
    "metadata",
    "extensions",
];

/// The complex attributes of `VnfLcmOpOcc` that lists leave out by default (SOL003).
pub const VNF_LCM_OP_OCC_COMPLEX: &[&str] = &[
    "operationParams",
    "error",
    "resourceChanges",
    "changedInfo",
    "changedExtConnectivity",
    "lcmCoordinations",
    "modificationsTriggeredByVnfPkgChange",
    "warnings",
];

/// The complex attributes of `VnfPkgInfo` that lists leave out by default (SOL005).
pub const VNF_PKG_INFO_COMPLEX: &[&str] = &[
    "softwareImages",
    "additionalArtifacts",
    "userDefinedData",
    "checksum",
    "onboardingFailureDetails",
];

impl RecordKind {
    /// Whether records of this kind may hold unique keys ([`Record::unique_keys`]);
    /// a store need not look for the keys of the other kinds.
    pub fn may_hold_unique_keys(self) -> bool {
        matches!(
            self,
            Self::VnfLcmOpOcc | Self::VnfPackage | Self::Vim | Self::Alarm
        )
    }

    /// The attributes of the kind's ETSI resource that a list leaves out unless the
    /// client selects them (SOL013's default attribute selector); `None` for kinds whose
    /// lists show every attribute.
    pub fn complex_attributes(self) -> Option<&'static [&'static str]> {
        match self {
            Self::VnfInstance => Some(VNF_INSTANCE_COMPLEX),
            Self::VnfLcmOpOcc => Some(VNF_LCM_OP_OCC_COMPLEX),
            Self::VnfPackage => Some(VNF_PKG_INFO_COMPLEX),
            _ => None,
        }
    }

    /// `view` (a resource of this kind as the ETSI APIs show it) less the kind's
    /// [`complex_attributes`](Self::complex_attributes), as JSON text: what
    /// [`Record::summary`] gives.
    pub fn summary_of(self, mut view: serde_json::Value) -> String {
        if let (Some(complex), serde_json::Value::Object(map)) =
            (self.complex_attributes(), &mut view)
        {
            for name in complex {
                map.remove(*name);
            }
        }
        view.to_string()
    }

    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::VnfPackage,
        Self::VnfInstance,
        Self::VnfLcmOpOcc,
        Self::Vim,
        Self::LccnSubscription,
        Self::PkgmSubscription,
        Self::Alarm,
        Self::FmSubscription,
        Self::DriverState,
    ];

    /// The kinds whose records are subscriptions (targets of the outbox).
    pub const SUBSCRIPTIONS: [Self; 3] = [
        Self::LccnSubscription,
        Self::PkgmSubscription,
        Self::FmSubscription,
    ];

    /// The ETSI resource name, used in errors (`VnfInstance x not found`).
    pub fn resource_name(self) -> &'static str {
        match self {
            Self::VnfPackage => "VnfPkgInfo",
            Self::VnfInstance => "VnfInstance",
            Self::VnfLcmOpOcc => "VnfLcmOpOcc",
            Self::Vim => "Vim",
            Self::LccnSubscription => "LccnSubscription",
            Self::PkgmSubscription => "PkgmSubscription",
            Self::Alarm => "Alarm",
            Self::FmSubscription => "FmSubscription",
            Self::DriverState => "DriverState",
        }
    }

    /// Whether records of this kind are subscriptions (their outbox entries go with them).
    pub fn is_subscription(self) -> bool {
        matches!(
            self,
            Self::LccnSubscription | Self::PkgmSubscription | Self::FmSubscription
        )
    }
}

/// A stored record of any kind (boxed: the kinds differ much in size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record")]
pub enum Record {
    /// A VNF package.
    VnfPackage(Box<VnfPackageRecord>),
    /// A VNF instance.
    VnfInstance(Box<VnfInstanceRecord>),
    /// An LCM operation occurrence.
    VnfLcmOpOcc(Box<OpOccRecord>),
    /// A registered VIM.
    Vim(Box<VimRecord>),
    /// A VNF LCM subscription.
    LccnSubscription(Box<LccnSubscriptionRecord>),
    /// A VNF package management subscription.
    PkgmSubscription(Box<PkgmSubscriptionRecord>),
    /// A VNF alarm.
    Alarm(Box<AlarmRecord>),
    /// A VNF fault management subscription.
    FmSubscription(Box<FmSubscriptionRecord>),
    /// State an infra driver keeps about a VIM (e.g. the simulated VIM's resources).
    DriverState(Box<DriverStateRecord>),
}

/// A unique key: no two records of a tenant may hold the same (name, value) pair.
pub type UniqueKey = (&'static str, String);

impl Record {
    /// The kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::VnfPackage(_) => RecordKind::VnfPackage,
            Self::VnfInstance(_) => RecordKind::VnfInstance,
            Self::VnfLcmOpOcc(_) => RecordKind::VnfLcmOpOcc,
            Self::Vim(_) => RecordKind::Vim,
            Self::LccnSubscription(_) => RecordKind::LccnSubscription,
            Self::PkgmSubscription(_) => RecordKind::PkgmSubscription,
            Self::Alarm(_) => RecordKind::Alarm,
            Self::FmSubscription(_) => RecordKind::FmSubscription,
            Self::DriverState(_) => RecordKind::DriverState,
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        match self {
            Self::VnfPackage(r) => &r.info.id,
            Self::VnfInstance(r) => &r.instance.id,
            Self::VnfLcmOpOcc(r) => &r.op.id,
            Self::Vim(r) => &r.id,
            Self::LccnSubscription(r) => &r.subscription.id,
            Self::PkgmSubscription(r) => &r.subscription.id,
            Self::Alarm(r) => &r.alarm.id,
            Self::FmSubscription(r) => &r.subscription.id,
            Self::DriverState(r) => &r.id,
        }
    }

    /// The unique keys the record holds within its tenant:
    /// - an op occurrence in progress holds `("inProgressOn", vnfInstanceId)`: at most
    ///   one operation in progress per VNF instance;
    /// - an onboarded package holds `("vnfdId", vnfdId)`;
    /// - a VIM holds `("vimName", name)`, and the default VIM `("defaultVim", "")`;
    /// - an alarm not yet cleared holds `("activeAlarm", fault key)`: one active alarm
    ///   per fault (see [`AlarmRecord::fault_key`]).
    pub fn unique_keys(&self) -> Vec<UniqueKey> {
        match self {
            Self::VnfLcmOpOcc(r) if r.op.operation_state.is_in_progress() => {
                vec![("inProgressOn", r.op.vnf_instance_id.clone())]
            }
            Self::VnfPackage(r) => match (&r.info.vnfd_id, r.info.onboarding_state) {
                (Some(vnfd_id), PackageOnboardingStateType::Onboarded) => {
                    vec![("vnfdId", vnfd_id.clone())]
                }
                _ => Vec::new(),
            },
            Self::Vim(r) => {
                let mut keys = vec![("vimName", r.name.clone())];
                if r.is_default {
                    keys.push(("defaultVim", String::new()));
                }
                keys
            }
            Self::Alarm(r) if r.alarm.alarm_cleared_time.is_none() => {
                vec![("activeAlarm", r.fault_key.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// The record as an ETSI list shows it by default, as JSON text: its
    /// [`etsi_view`](Self::etsi_view) less the kind's
    /// [`complex_attributes`](RecordKind::complex_attributes). A store may keep it beside
    /// the record, so that a list answers without decoding records
    /// ([`Store::list_summaries`](super::Store::list_summaries)).
    pub fn summary(&self) -> String {
        self.kind().summary_of(self.etsi_view())
    }

    /// The record as the ETSI APIs show it, credentials left out
    /// ([`redact_credentials`](crate::model::redact_credentials)); filters are evaluated
    /// on this view, so no filter can test a credential.
    pub fn etsi_view(&self) -> serde_json::Value {
        let mut view = self.etsi_view_with_credentials();
        if matches!(self, Self::VnfInstance(_) | Self::VnfLcmOpOcc(_)) {
            crate::model::redact_credentials(&mut view);
        }
        view
    }

    fn etsi_view_with_credentials(&self) -> serde_json::Value {
        let view = match self {
            Self::VnfPackage(r) => serde_json::to_value(&r.info),
            Self::VnfInstance(r) => serde_json::to_value(&r.instance),
            Self::VnfLcmOpOcc(r) => serde_json::to_value(&r.op),
            Self::Vim(r) => serde_json::to_value(r.public_view()),
            Self::LccnSubscription(r) => serde_json::to_value(&r.subscription),
            Self::PkgmSubscription(r) => serde_json::to_value(&r.subscription),
            Self::Alarm(r) => serde_json::to_value(&r.alarm),
            Self::FmSubscription(r) => serde_json::to_value(&r.subscription),
            Self::DriverState(r) => serde_json::to_value(r),
        };
        view.unwrap_or(serde_json::Value::Null)
    }
}

/// A record type that a store keeps: the typed side of [`Record`].
pub trait StoredRecord: Sized + Send + Sync + 'static {
    /// Its kind.
    const KIND: RecordKind;
    /// Wrap into a [`Record`].
    fn into_record(self) -> Record;
    /// Unwrap from a [`Record`]; `Internal` if the kind differs.
    fn from_record(record: Record) -> Result<Self>;
}

macro_rules! stored_record {
    ($type:ty, $variant:ident) => {
        impl StoredRecord for $type {
            const KIND: RecordKind = RecordKind::$variant;

            fn into_record(self) -> Record {
                Record::$variant(Box::new(self))
            }

            fn from_record(record: Record) -> Result<Self> {
                match record {
                    Record::$variant(inner) => Ok(*inner),
                    other => Err(Error::Internal(format!(
                        "expected a {:?} record, found a {:?} record",
                        RecordKind::$variant,
                        other.kind()
                    ))),
                }
            }
        }

        impl From<$type> for Record {
            fn from(value: $type) -> Self {
                Record::$variant(Box::new(value))
            }
        }
    };
}

stored_record!(VnfPackageRecord, VnfPackage);
stored_record!(VnfInstanceRecord, VnfInstance);
stored_record!(OpOccRecord, VnfLcmOpOcc);
stored_record!(VimRecord, Vim);
stored_record!(LccnSubscriptionRecord, LccnSubscription);
stored_record!(PkgmSubscriptionRecord, PkgmSubscription);
stored_record!(AlarmRecord, Alarm);
stored_record!(FmSubscriptionRecord, FmSubscription);
stored_record!(DriverStateRecord, DriverState);

/// A VNF package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnfPackageRecord {
    /// The package information served by the API.
    pub info: VnfPkgInfo,
    /// Where the package content is kept in the object store, once uploaded.
    pub content_location: Option<String>,
    /// When the package resource was created.
    pub created_at: DateTime,
    /// While the package is UPLOADING or PROCESSING: who is onboarding it and until
    /// when that claim holds. The onboarding task renews it; a claim left to expire
    /// means the process doing the work stopped, and the package goes back to CREATED
    /// the next time it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_claim: Option<UploadClaim>,
}

/// The claim of an onboarding task on a package (see
/// [`VnfPackageRecord::upload_claim`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadClaim {
    /// Identifies the task.
    pub token: String,
    /// When the claim lapses unless renewed.
    pub until: DateTime,
}

/// A VNF instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnfInstanceRecord {
    /// The instance as served by the API.
    pub instance: VnfInstance,
    /// The package the instance's VNFD came from.
    pub vnf_pkg_id: Option<String>,
    /// When the VNF identifier was created.
    pub created_at: DateTime,
}

/// An LCM operation occurrence and the engine's progress through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpOccRecord {
    /// The operation occurrence as served by the API.
    pub op: VnfLcmOpOcc,
    /// The steps finished so far, in order; retry resumes after the last, rollback
    /// undoes them in reverse.
    pub steps: Vec<OpStep>,
    /// The grant obtained, if any.
    pub grant: Option<Grant>,
    /// The grant request that obtained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_request: Option<GrantRequest>,
    /// The instance as it was when the operation was accepted (for rollback).
    pub instance_before: Option<VnfInstance>,
    /// What the hooks recorded about their progress when the operation last failed
    /// (the error's `userScriptErrHandlingData`), kept across a retry, which clears the
    /// error, and given to the hooks again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_data: Option<KeyValuePairs>,
}

/// A finished step of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpStep {
    /// The step, e.g. `grant`, `instantiate_start`, `infra`, `instantiate_end`.
    pub name: String,
    /// When it finished.
    pub finished_at: DateTime,
    /// What it returned, to be reused on retry.
    pub output: serde_json::Value,
}

/// Credentials sealed at rest: an opaque, authenticated ciphertext that only the key
/// holder (the VIM registry) can open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

/// A registered VIM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VimRecord {
    /// The VIM's id.
    pub id: String,
    /// Its name, unique per tenant.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `vimType`.
    pub vim_type: String,
    /// Endpoint information (no secrets).
    pub interface_info: KeyValuePairs,
    /// The `accessInfo` (credentials), sealed.
    pub access_info: Sealed,
    /// VIM-specific extras (no secrets).
    pub extra: KeyValuePairs,
    /// Whether this is the tenant's default VIM.
    pub is_default: bool,
    /// When it was registered.
    pub created_at: DateTime,
}

impl VimRecord {
    /// The VIM without its credentials, as reads show it.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "vimType": self.vim_type,
            "interfaceInfo": self.interface_info,
            "extra": self.extra,
            "isDefault": self.is_default,
            "createdAt": self.created_at,
        })
    }
}

/// A VNF LCM subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LccnSubscriptionRecord {
    /// The subscription as served by the API.
    pub subscription: LccnSubscription,
    /// The callback's `SubscriptionAuthentication`, sealed.
    pub authentication: Option<Sealed>,
    /// When it was created.
    pub created_at: DateTime,
}

/// A VNF package management subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkgmSubscriptionRecord {
    /// The subscription as served by the API.
    pub subscription: PkgmSubscription,
    /// The callback's `SubscriptionAuthentication`, sealed.
    pub authentication: Option<Sealed>,
    /// When it was created.
    pub created_at: DateTime,
}

/// A VNF alarm and the fault it reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRecord {
    /// The alarm as served by the API.
    pub alarm: Alarm,
    /// What fault the alarm reports, e.g. `<vnfInstanceId>/<vnfcId>/<source>`: while
    /// the alarm is active no other alarm of the tenant holds the same key, so a fault
    /// seen again changes the alarm instead of raising a second one.
    pub fault_key: String,
    /// The VNFC the fault is about, if one.
    pub vnfc_id: Option<String>,
}

/// A VNF fault management subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FmSubscriptionRecord {
    /// The subscription as served by the API.
    pub subscription: FmSubscription,
    /// The callback's `SubscriptionAuthentication`, sealed.
    pub authentication: Option<Sealed>,
    /// When it was created.
    pub created_at: DateTime,
}

/// State an infra driver keeps for itself, so that every process sharing the store sees
/// it and it survives a restart: the simulated VIM keeps one per VNF instance (its
/// servers, ports, networks and volumes). Not an ETSI resource; no API serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverStateRecord {
    /// The id, chosen by the driver (unique per tenant among driver states).
    pub id: String,
    /// The driver that owns it, e.g. `sim`.
    pub driver: String,
    /// The VNF instance the state is about, if one.
    pub vnf_instance_id: Option<String>,
    /// The state, in the driver's own format.
    pub state: serde_json::Value,
}
