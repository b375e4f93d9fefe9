//! `VnfLcmOpOcc`: one occurrence of a VNF lifecycle operation, and what it changed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::common::{
    DateTime, KeyValuePairs, LcmOperationStateType, LcmOperationType, Link, ProblemDetails,
    ResourceHandle, VimConnectionInfo,
};
use super::instance::ExtVirtualLinkInfo;
use super::requests::CancelModeType;

/// `VnfLcmOpOcc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfLcmOpOcc {
    /// The occurrence's identifier.
    pub id: String,
    /// The current state.
    pub operation_state: LcmOperationStateType,
    /// When the current state was entered.
    pub state_entered_time: DateTime,
    /// When the operation was accepted.
    pub start_time: DateTime,
    /// The VNF instance operated on.
    pub vnf_instance_id: String,
    /// The grant obtained for the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The operation.
    pub operation: LcmOperationType,
    /// Whether a policy (auto-heal, auto-scale) rather than a client started it.
    pub is_automatic_invocation: bool,
    /// The request body of the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_params: Option<serde_json::Value>,
    /// Whether a cancel request is being processed.
    pub is_cancel_pending: bool,
    /// The mode of the pending or last cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_mode: Option<CancelModeType>,
    /// Why the operation failed (FAILED_TEMP, FAILED, ROLLED_BACK after failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProblemDetails>,
    /// Virtualised resources added, removed or modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_changes: Option<ResourceChanges>,
    /// Changes of the instance's information (MODIFY_INFO).
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
    /// The VNF snapshot of CREATE_SNAPSHOT and REVERT_TO_SNAPSHOT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_snapshot_info_id: Option<String>,
    /// LCM coordinations run during the operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lcm_coordinations: Vec<LcmCoordination>,
    /// LCM coordinations the OSS/EM rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_lcm_coordinations: Vec<RejectedLcmCoordination>,
    /// Warnings raised while processing the operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Links to this resource and its tasks.
    #[serde(rename = "_links")]
    pub links: VnfLcmOpOccLinks,
}

/// Where an LCM coordination went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CoordinationEndpointType {
    /// The management (EM/OSS) side.
    Mgmt,
    /// The VNF itself.
    Vnf,
}

/// `LcmCoordResultType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LcmCoordResultType {
    /// Go on with the operation.
    Continue,
    /// Abort the operation.
    Abort,
    /// The coordination was cancelled.
    Cancelled,
}

/// One entry of `lcmCoordinations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LcmCoordination {
    /// The coordination's identifier.
    pub id: String,
    /// The coordination action.
    pub coordination_action_name: String,
    /// Its result, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordination_result: Option<LcmCoordResultType>,
    /// When it started.
    pub start_time: DateTime,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime>,
    /// When the delay asked for by the endpoint ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DateTime>,
    /// Who was asked.
    pub endpoint_type: CoordinationEndpointType,
}

/// One entry of `rejectedLcmCoordinations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLcmCoordination {
    /// The coordination action.
    pub coordination_action_name: String,
    /// When it was rejected.
    pub rejection_time: DateTime,
    /// Who rejected it.
    pub endpoint_type: CoordinationEndpointType,
    /// When to try again.
    pub delay: DateTime,
}

/// `_links` of a `VnfLcmOpOcc`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfLcmOpOccLinks {
    /// This resource.
    #[serde(rename = "self")]
    pub self_: Link,
    /// The VNF instance.
    pub vnf_instance: Link,
    /// The grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Link>,
    /// The cancel task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<Link>,
    /// The retry task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Link>,
    /// The rollback task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Link>,
    /// The fail task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<Link>,
    /// The VNF snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_snapshot: Option<Link>,
}

/// `resourceChanges` of a `VnfLcmOpOcc`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChanges {
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
}

impl ResourceChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.affected_vnfcs.is_empty()
            && self.affected_virtual_links.is_empty()
            && self.affected_ext_link_ports.is_empty()
            && self.affected_virtual_storages.is_empty()
    }

    /// Appends `other`'s changes to these.
    pub fn extend(&mut self, other: ResourceChanges) {
        self.affected_vnfcs.extend(other.affected_vnfcs);
        self.affected_virtual_links
            .extend(other.affected_virtual_links);
        self.affected_ext_link_ports
            .extend(other.affected_ext_link_ports);
        self.affected_virtual_storages
            .extend(other.affected_virtual_storages);
    }
}

/// `changeType` of `AffectedVnfc` and `AffectedVirtualStorage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeType {
    /// Created by the operation.
    Added,
    /// Deleted by the operation.
    Removed,
    /// Changed (e.g. replaced by heal, resized by change flavour).
    Modified,
    /// Created and deleted again within the operation.
    Temporary,
}

/// `changeType` of `AffectedVirtualLink`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VirtualLinkChangeType {
    /// Created by the operation.
    Added,
    /// Deleted by the operation.
    Removed,
    /// Changed.
    Modified,
    /// Created and deleted again within the operation.
    Temporary,
    /// Ports added to the link.
    LinkPortAdded,
    /// Ports removed from the link.
    LinkPortRemoved,
}

/// `changeType` of `AffectedExtLinkPort` and `AffectedVipCp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PortChangeType {
    /// Created by the operation.
    Added,
    /// Changed.
    Modified,
    /// Deleted by the operation.
    Removed,
}

/// `AffectedVnfc`: a VNFC the operation changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedVnfc {
    /// The VNFC (`VnfcResourceInfo.id`).
    pub id: String,
    /// Its VDU.
    pub vdu_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// What happened.
    pub change_type: ChangeType,
    /// The compute resource (after the change; before it for REMOVED).
    pub compute_resource: ResourceHandle,
    /// The grant's resource definition this change corresponds to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_definition_id: Option<String>,
    /// The zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Metadata of the VNFC.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
    /// The VNFC's CPs that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_vnfc_cp_ids: Vec<String>,
    /// Storage attached by the operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_storage_resource_ids: Vec<String>,
    /// Storage detached by the operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_storage_resource_ids: Vec<String>,
}

/// `AffectedVirtualLink`: an internal virtual link the operation changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedVirtualLink {
    /// The link (`VnfVirtualLinkResourceInfo.id`).
    pub id: String,
    /// Its descriptor.
    pub vnf_virtual_link_desc_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// What happened.
    pub change_type: VirtualLinkChangeType,
    /// The network.
    pub network_resource: ResourceHandle,
    /// Ports added or removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_link_port_ids: Vec<String>,
    /// The grant's resource definition this change corresponds to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_definition_id: Option<String>,
    /// The zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Metadata of the link.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `AffectedExtLinkPort`: an external link port the operation changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedExtLinkPort {
    /// The port (`ExtLinkPortInfo.id`).
    pub id: String,
    /// What happened.
    pub change_type: PortChangeType,
    /// The external CP bound to the port.
    pub ext_cp_instance_id: String,
    /// The port in the VIM.
    pub resource_handle: ResourceHandle,
    /// The grant's resource definition this change corresponds to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_definition_id: Option<String>,
}

/// `AffectedVirtualStorage`: a storage resource the operation changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedVirtualStorage {
    /// The storage (`VirtualStorageResourceInfo.id`).
    pub id: String,
    /// Its descriptor.
    pub virtual_storage_desc_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// What happened.
    pub change_type: ChangeType,
    /// The volume.
    pub storage_resource: ResourceHandle,
    /// The grant's resource definition this change corresponds to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_definition_id: Option<String>,
    /// The zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Metadata of the storage.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `AffectedVipCp`: a virtual IP CP the operation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedVipCp {
    /// The CP instance.
    pub cp_instance_id: String,
    /// Its descriptor.
    pub cpd_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// What happened.
    pub change_type: PortChangeType,
}

/// `VnfInfoModifications`: what a MODIFY_INFO operation changed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfInfoModifications {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_name: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_description: Option<String>,
    /// Changed configurable properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_configurable_properties: Option<KeyValuePairs>,
    /// Changed metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<KeyValuePairs>,
    /// Changed extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<KeyValuePairs>,
    /// Changed VIM connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_info: Option<BTreeMap<String, VimConnectionInfo>>,
    /// New VNFD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// New provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_provider: Option<String>,
    /// New product name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_product_name: Option<String>,
    /// New software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_software_version: Option<String>,
    /// New VNFD version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_version: Option<String>,
}

/// `ModificationsTriggeredByVnfPkgChange`: what CHANGE_VNFPKG changed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationsTriggeredByVnfPkgChange {
    /// Changed configurable properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_configurable_properties: Option<KeyValuePairs>,
    /// Changed metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<KeyValuePairs>,
    /// Changed extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<KeyValuePairs>,
    /// New VNFD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// New provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_provider: Option<String>,
    /// New product name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_product_name: Option<String>,
    /// New software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_software_version: Option<String>,
    /// New VNFD version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_version: Option<String>,
    /// Changed VIM connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_info: Option<BTreeMap<String, VimConnectionInfo>>,
}
