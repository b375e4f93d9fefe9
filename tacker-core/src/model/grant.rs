//! Granting (SOL003 clause 9): the VNFM asks the NFVO for permission and resources.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::common::{KeyValuePairs, Link, ResourceHandle, VimConnectionInfo};
use super::requests::{ExtManagedVirtualLinkData, ExtVirtualLinkData};

/// `GrantedLcmOperationType`: the operations that are granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantedLcmOperationType {
    /// Instantiate VNF.
    Instantiate,
    /// Scale VNF.
    Scale,
    /// Scale VNF to level.
    ScaleToLevel,
    /// Change VNF flavour.
    ChangeFlavour,
    /// Terminate VNF.
    Terminate,
    /// Heal VNF.
    Heal,
    /// Operate VNF.
    Operate,
    /// Change external VNF connectivity.
    ChangeExtConn,
    /// Change current VNF package.
    ChangeVnfpkg,
    /// Create VNF snapshot.
    CreateSnapshot,
    /// Revert to VNF snapshot.
    RevertToSnapshot,
}

impl GrantedLcmOperationType {
    /// The granted form of an LCM operation; MODIFY_INFO is never granted.
    pub fn from_operation(op: super::LcmOperationType) -> Option<Self> {
        use super::LcmOperationType as Op;
        Some(match op {
            Op::Instantiate => Self::Instantiate,
            Op::Scale => Self::Scale,
            Op::ScaleToLevel => Self::ScaleToLevel,
            Op::ChangeFlavour => Self::ChangeFlavour,
            Op::Terminate => Self::Terminate,
            Op::Heal => Self::Heal,
            Op::Operate => Self::Operate,
            Op::ChangeExtConn => Self::ChangeExtConn,
            Op::ChangeVnfpkg => Self::ChangeVnfpkg,
            Op::CreateSnapshot => Self::CreateSnapshot,
            Op::RevertToSnapshot => Self::RevertToSnapshot,
            Op::ModifyInfo => return None,
        })
    }
}

/// `GrantRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRequest {
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// The operation occurrence asking.
    pub vnf_lcm_op_occ_id: String,
    /// The VNFD of the instance.
    pub vnfd_id: String,
    /// The VNFD after CHANGE_VNFPKG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_vnfd_id: Option<String>,
    /// The deployment flavour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavour_id: Option<String>,
    /// The operation.
    pub operation: GrantedLcmOperationType,
    /// Whether a policy started the operation.
    pub is_automatic_invocation: bool,
    /// The instantiation level (INSTANTIATE, SCALE_TO_LEVEL, CHANGE_FLAVOUR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiation_level_id: Option<String>,
    /// Resources to be added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_resources: Vec<ResourceDefinition>,
    /// Resources used temporarily.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temp_resources: Vec<ResourceDefinition>,
    /// Resources to be removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_resources: Vec<ResourceDefinition>,
    /// Resources to be modified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub update_resources: Vec<ResourceDefinition>,
    /// Placement constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_constraints: Vec<PlacementConstraint>,
    /// Constraints on the VIMs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vim_constraints: Vec<VimConstraint>,
    /// Operation-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
    /// Links.
    #[serde(rename = "_links")]
    pub links: GrantRequestLinks,
}

/// `_links` of a `GrantRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRequestLinks {
    /// The operation occurrence.
    pub vnf_lcm_op_occ: Link,
    /// The VNF instance.
    pub vnf_instance: Link,
}

/// `type` of a `ResourceDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceType {
    /// A compute resource (one VNFC).
    Compute,
    /// A virtual link.
    Vl,
    /// A storage resource.
    Storage,
    /// A link port.
    Linkport,
}

/// `ResourceDefinition`: a resource to add, remove or change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDefinition {
    /// Local identifier, unique within the grant request.
    pub id: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// The VDU (for COMPUTE, and STORAGE or LINKPORT of a VDU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdu_id: Option<String>,
    /// The VNFD, when it differs from the request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The descriptor (VDU, VL, storage or CP) of the resource.
    pub resource_template_id: String,
    /// A second descriptor (e.g. the VL of a LINKPORT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_resource_template_id: Option<String>,
    /// The existing resource (for remove and update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceHandle>,
    /// The snapshot the resource is created from (REVERT_TO_SNAPSHOT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_res_def: Option<SnapshotResourceDefinition>,
}

/// `SnapshotResourceDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotResourceDefinition {
    /// The VNF snapshot.
    pub vnf_snapshot_id: String,
    /// The VNFC snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfc_snapshot_id: Option<String>,
    /// The storage snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_snapshot_id: Option<String>,
    /// The snapshot in the VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_resource: Option<ResourceHandle>,
}

/// `PlacementConstraint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraint {
    /// AFFINITY or ANTI_AFFINITY.
    pub affinity_or_anti_affinity: AffinityType,
    /// Where the rule applies.
    pub scope: PlacementScope,
    /// The resources the rule covers.
    pub resource: Vec<ConstraintResourceRef>,
    /// Whether the NFVO may fall back to best effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_best_effort: Option<bool>,
}

/// AFFINITY or ANTI_AFFINITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AffinityType {
    /// Place together.
    Affinity,
    /// Place apart.
    AntiAffinity,
}

/// `scope` of a placement constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlacementScope {
    /// An NFVI point of presence.
    NfviPop,
    /// A zone.
    Zone,
    /// A zone group.
    ZoneGroup,
    /// A compute host.
    NfviNode,
}

/// `ConstraintResourceRef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintResourceRef {
    /// RES_MGMT (an existing resource) or GRANT (a `ResourceDefinition.id`).
    pub id_type: ConstraintIdType,
    /// The referenced resource.
    pub resource_id: String,
    /// The VIM of an existing resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider of an existing resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
}

/// `idType` of `ConstraintResourceRef`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConstraintIdType {
    /// A resource in a VIM.
    ResMgmt,
    /// A resource definition of this grant request.
    Grant,
}

/// `VimConstraint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimConstraint {
    /// Whether the resources must share a resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_resource_group: Option<bool>,
    /// The resources the constraint covers.
    pub resource: Vec<ConstraintResourceRef>,
}

/// `Grant`: the NFVO's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// The grant's identifier.
    pub id: String,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// The operation occurrence.
    pub vnf_lcm_op_occ_id: String,
    /// The VIMs to use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vim_connection_info: BTreeMap<String, VimConnectionInfo>,
    /// Zones to place resources in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneInfo>,
    /// Zone groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zone_groups: Vec<ZoneGroupInfo>,
    /// Granted additions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_resources: Vec<GrantInfo>,
    /// Granted temporary resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temp_resources: Vec<GrantInfo>,
    /// Granted removals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_resources: Vec<GrantInfo>,
    /// Granted modifications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub update_resources: Vec<GrantInfo>,
    /// Flavours and images to use in the VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_assets: Option<VimAssets>,
    /// External virtual links the NFVO provides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_virtual_links: Vec<ExtVirtualLinkData>,
    /// Externally managed internal virtual links the NFVO provides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_managed_virtual_links: Vec<ExtManagedVirtualLinkData>,
    /// NFVO-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
    /// Links.
    #[serde(rename = "_links")]
    pub links: GrantLinks,
}

/// `_links` of a `Grant`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantLinks {
    /// The grant.
    #[serde(rename = "self")]
    pub self_: Link,
    /// The operation occurrence.
    pub vnf_lcm_op_occ: Link,
    /// The VNF instance.
    pub vnf_instance: Link,
}

/// `ZoneInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneInfo {
    /// Local identifier used by `GrantInfo.zoneId`.
    pub id: String,
    /// The zone in the VIM.
    pub zone_id: String,
    /// The VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
}

/// `ZoneGroupInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneGroupInfo {
    /// The zones of the group (`ZoneInfo.id`).
    pub zone_id: Vec<String>,
}

/// `GrantInfo`: how one resource definition is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantInfo {
    /// The `ResourceDefinition.id` granted.
    pub resource_definition_id: String,
    /// A reservation to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// The VIM to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The zone (`ZoneInfo.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// The resource group in the VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
}

/// `vimAssets` of a `Grant`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimAssets {
    /// Flavours per virtual compute descriptor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compute_resource_flavours: Vec<VimComputeResourceFlavour>,
    /// Images per software image descriptor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software_images: Vec<VimSoftwareImage>,
    /// Snapshots to use (REVERT_TO_SNAPSHOT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_resources: Vec<VimSnapshotResource>,
}

/// `VimSnapshotResource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimSnapshotResource {
    /// The VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The VNF snapshot.
    pub vnf_snapshot_id: String,
    /// The VNFC snapshot.
    pub vnfc_snapshot_id: String,
    /// The storage snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_snapshot_id: Option<String>,
    /// The snapshot in the VIM.
    pub vim_snapshot_resource_id: String,
}

/// `VimComputeResourceFlavour`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimComputeResourceFlavour {
    /// The VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The virtual compute descriptor.
    pub vnfd_virtual_compute_desc_id: String,
    /// The flavour in the VIM.
    pub vim_flavour_id: String,
}

/// `VimSoftwareImage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimSoftwareImage {
    /// The VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The software image descriptor.
    pub vnfd_software_image_id: String,
    /// The image in the VIM.
    pub vim_software_image_id: String,
}
