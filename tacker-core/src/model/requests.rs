//! The request bodies of the VNF LCM task resources, and the connectivity data they carry.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::common::VnfOperationalStateType;
use super::common::{KeyValuePairs, ResourceHandle, ScaleInfo, VimConnectionInfo};

/// `ExtVirtualLinkData`: an external virtual link to connect the VNF to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtVirtualLinkData {
    /// The link's identifier.
    pub id: String,
    /// The VIM that manages the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider, when not a VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The network in the VIM.
    pub resource_id: String,
    /// The external CPs to connect, per CPD.
    pub ext_cps: Vec<VnfExtCpData>,
    /// Pre-created ports to use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_link_ports: Vec<ExtLinkPortData>,
}

/// `VnfExtCpData`: the configuration of the external CPs of one CPD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfExtCpData {
    /// The VnfExtCp descriptor.
    pub cpd_id: String,
    /// One entry per CP instance to create, keyed by `cpConfigId`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cp_config: BTreeMap<String, VnfExtCpConfig>,
}

/// `VnfExtCpConfig`: how one external CP instance connects.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfExtCpConfig {
    /// The parent CP configuration (trunk sub-ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_cp_config_id: Option<String>,
    /// A pre-created port (`ExtLinkPortData.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_port_id: Option<String>,
    /// Whether the VNFM creates an external link port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_ext_link_port: Option<bool>,
    /// Addresses to assign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cp_protocol_data: Vec<CpProtocolData>,
}

/// `CpProtocolData`: the addresses to assign to a connection point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpProtocolData {
    /// The layer protocol.
    pub layer_protocol: super::LayerProtocol,
    /// Addresses when the layer protocol is IP over Ethernet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_over_ethernet: Option<IpOverEthernetAddressData>,
}

/// `IpOverEthernetAddressData`: MAC and IP addresses to assign.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpOverEthernetAddressData {
    /// A fixed MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// VLAN or INHERIT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation_type: Option<SegmentationType>,
    /// The segmentation (VLAN) identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation_id: Option<String>,
    /// IP addresses to assign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<IpAddressData>,
}

/// `segmentationType` of `IpOverEthernetAddressData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SegmentationType {
    /// A VLAN of its own.
    Vlan,
    /// The parent port's segmentation.
    Inherit,
}

/// One entry of `ipAddresses` in `IpOverEthernetAddressData`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressData {
    /// IPV4 or IPV6.
    #[serde(rename = "type")]
    pub ip_type: super::IpAddressType,
    /// Fixed addresses to assign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_addresses: Vec<String>,
    /// How many dynamic addresses to assign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_dynamic_addresses: Option<u32>,
    /// A range of addresses to assign from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_range: Option<super::AddressRange>,
    /// The subnet in the VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

/// `ExtLinkPortData`: a pre-created port on an external virtual link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtLinkPortData {
    /// The port's identifier.
    pub id: String,
    /// The port in the VIM.
    pub resource_handle: ResourceHandle,
    /// The trunk the port belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_resource_id: Option<String>,
}

/// `ExtManagedVirtualLinkData`: an internal link whose network the NFVO provides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtManagedVirtualLinkData {
    /// The link's identifier.
    pub id: String,
    /// The VnfVirtualLink descriptor it realises.
    pub vnf_virtual_link_desc_id: String,
    /// The VIM that manages the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider, when not a VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The network in the VIM.
    pub resource_id: String,
    /// Pre-created ports to use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_link_port: Vec<VnfLinkPortData>,
    /// The multi-site link this link belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_managed_multisite_virtual_link_id: Option<String>,
}

/// `VnfLinkPortData`: a pre-created port on an externally managed internal link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfLinkPortData {
    /// The port's identifier.
    pub vnf_link_port_id: String,
    /// The port in the VIM.
    pub resource_handle: ResourceHandle,
}

/// `CreateVnfRequest`: create a VNF identifier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVnfRequest {
    /// The VNFD to base the instance on.
    pub vnfd_id: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_name: Option<String>,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_description: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `InstantiateVnfRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstantiateVnfRequest {
    /// The deployment flavour.
    pub flavour_id: String,
    /// The instantiation level; the flavour's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiation_level_id: Option<String>,
    /// External virtual links to connect to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_virtual_links: Vec<ExtVirtualLinkData>,
    /// Internal links whose networks the NFVO provides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_managed_virtual_links: Vec<ExtManagedVirtualLinkData>,
    /// The VIMs to use; the tenant's default VIM when absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vim_connection_info: BTreeMap<String, VimConnectionInfo>,
    /// The localization language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localization_language: Option<String>,
    /// VNF-specific parameters declared in the VNFD.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
    /// Extensions to set.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub extensions: KeyValuePairs,
    /// Configurable properties to set.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vnf_configurable_properties: KeyValuePairs,
}

/// `TerminateVnfRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminateVnfRequest {
    /// FORCEFUL or GRACEFUL.
    pub termination_type: TerminationType,
    /// Seconds to wait for graceful termination before forcing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_termination_timeout: Option<u64>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
}

/// `terminationType` of `TerminateVnfRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TerminationType {
    /// Shut down immediately.
    Forceful,
    /// Take the VNF out of service first, within the timeout.
    Graceful,
}

/// `ScaleVnfRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleVnfRequest {
    /// SCALE_OUT or SCALE_IN.
    #[serde(rename = "type")]
    pub scale_type: ScaleType,
    /// The scaling aspect.
    pub aspect_id: String,
    /// The number of steps; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_steps: Option<u32>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
}

/// `type` of `ScaleVnfRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScaleType {
    /// Add resources.
    ScaleOut,
    /// Remove resources.
    ScaleIn,
}

/// `ScaleVnfToLevelRequest`: either an instantiation level or per-aspect levels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleVnfToLevelRequest {
    /// The target instantiation level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiation_level_id: Option<String>,
    /// The target level of each aspect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_info: Vec<ScaleInfo>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
}

/// `HealVnfRequest`: SOL003 whole-VNF heal, or SOL002 heal of chosen VNFCs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealVnfRequest {
    /// SOL002: the VNFCs (`VnfcInfo.id`) to heal; the whole VNF when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfc_instance_id: Vec<String>,
    /// Why healing is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
    /// SOL002: a script or rule set for the healing procedure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_script: Option<String>,
}

/// `ChangeVnfFlavourRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeVnfFlavourRequest {
    /// The new deployment flavour.
    pub new_flavour_id: String,
    /// The instantiation level in the new flavour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiation_level_id: Option<String>,
    /// External virtual links to connect to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_virtual_links: Vec<ExtVirtualLinkData>,
    /// Internal links whose networks the NFVO provides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_managed_virtual_links: Vec<ExtManagedVirtualLinkData>,
    /// The VIMs to use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vim_connection_info: BTreeMap<String, VimConnectionInfo>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
    /// Extensions to set.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub extensions: KeyValuePairs,
    /// Configurable properties to set.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vnf_configurable_properties: KeyValuePairs,
}

/// `OperateVnfRequest`: start or stop the VNF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperateVnfRequest {
    /// The desired state.
    pub change_state_to: VnfOperationalStateType,
    /// How to stop (only when stopping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_type: Option<StopType>,
    /// Seconds to wait for a graceful stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_stop_timeout: Option<u64>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
}

/// `StopType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StopType {
    /// Stop immediately.
    Forceful,
    /// Stop after taking the VNF out of service.
    Graceful,
}

/// `ChangeExtVnfConnectivityRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeExtVnfConnectivityRequest {
    /// The external virtual links to change or connect.
    pub ext_virtual_links: Vec<ExtVirtualLinkData>,
    /// The VIMs to use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vim_connection_info: BTreeMap<String, VimConnectionInfo>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
}

/// `ChangeCurrentVnfPkgRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCurrentVnfPkgRequest {
    /// The VNFD of the new package.
    pub vnfd_id: String,
    /// External virtual links to connect to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_virtual_links: Vec<ExtVirtualLinkData>,
    /// Internal links whose networks the NFVO provides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_managed_virtual_links: Vec<ExtManagedVirtualLinkData>,
    /// The VIMs to use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vim_connection_info: BTreeMap<String, VimConnectionInfo>,
    /// VNF-specific parameters.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub additional_params: KeyValuePairs,
    /// Extensions to set.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub extensions: KeyValuePairs,
    /// Configurable properties to set.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vnf_configurable_properties: KeyValuePairs,
}

/// `VnfInfoModificationRequest`: a JSON merge patch of a VNF instance's information.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfInfoModificationRequest {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_name: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_description: Option<String>,
    /// A new package of the same VNF (SOL003 v3: `vnfPkgId`; SOL002: `vnfdId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_pkg_id: Option<String>,
    /// SOL002: a new VNFD of the same VNF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// Merge patch of the configurable properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_configurable_properties: Option<KeyValuePairs>,
    /// Merge patch of the metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<KeyValuePairs>,
    /// Merge patch of the extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<KeyValuePairs>,
    /// Merge patch of the VIM connection map (`null` removes an entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_info: Option<KeyValuePairs>,
    /// SOL002: per-VNFC configurable property changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfc_info_modifications: Vec<VnfcInfoModifications>,
}

/// `VnfcInfoModifications` (SOL002).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfcInfoModifications {
    /// The VNFC (`VnfcInfo.id`).
    pub id: String,
    /// Merge patch of its configurable properties.
    pub vnfc_configurable_properties: KeyValuePairs,
}

/// `CancelMode`: the body of the cancel task of an operation occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelMode {
    /// GRACEFUL or FORCEFUL.
    pub cancel_mode: CancelModeType,
}

/// `CancelModeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelModeType {
    /// Let the current step finish, then stop.
    Graceful,
    /// Stop the current step at once.
    Forceful,
}
