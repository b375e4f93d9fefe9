//! `VnfInstance` and the information an instantiated VNF carries (SOL003 clause 5.5.2).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::common::{
    KeyValuePairs, Link, ResourceHandle, ScaleInfo, VimConnectionInfo, VnfOperationalStateType,
};

/// Whether a VNF instance is instantiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstantiationState {
    /// The VNF identifier exists; no resources are allocated.
    NotInstantiated,
    /// The VNF runs on virtualised resources.
    Instantiated,
}

/// `VnfInstance`: a VNF instance as the VNFM reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfInstance {
    /// The instance's identifier.
    pub id: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_name: Option<String>,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_instance_description: Option<String>,
    /// The VNFD the instance is based on.
    pub vnfd_id: String,
    /// Provider of the VNF and the VNFD.
    pub vnf_provider: String,
    /// The VNF product name.
    pub vnf_product_name: String,
    /// The VNF software version.
    pub vnf_software_version: String,
    /// The VNFD version.
    pub vnfd_version: String,
    /// Configurable properties declared in the VNFD (e.g. `isAutohealEnabled`).
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vnf_configurable_properties: KeyValuePairs,
    /// The VIMs the instance uses, keyed by `vimConnectionId`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vim_connection_info: BTreeMap<String, VimConnectionInfo>,
    /// Whether the instance is instantiated.
    pub instantiation_state: InstantiationState,
    /// Present when `instantiationState` is INSTANTIATED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiated_vnf_info: Option<InstantiatedVnfInfo>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
    /// Extensions declared in the VNFD.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub extensions: KeyValuePairs,
    /// Links to this resource and the tasks it offers.
    #[serde(rename = "_links")]
    pub links: VnfInstanceLinks,
}

/// `_links` of a `VnfInstance`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfInstanceLinks {
    /// This resource.
    #[serde(rename = "self")]
    pub self_: Link,
    /// The VNF indicators of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicators: Option<Link>,
    /// The instantiate task (when NOT_INSTANTIATED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instantiate: Option<Link>,
    /// The terminate task (when INSTANTIATED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate: Option<Link>,
    /// The scale task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Link>,
    /// The scale-to-level task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_to_level: Option<Link>,
    /// The change-flavour task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_flavour: Option<Link>,
    /// The heal task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal: Option<Link>,
    /// The operate task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operate: Option<Link>,
    /// The change-external-connectivity task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_ext_conn: Option<Link>,
    /// The create-snapshot task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_snapshot: Option<Link>,
    /// The revert-to-snapshot task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_to_snapshot: Option<Link>,
    /// The change-current-VNF-package task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_current_vnf_pkg: Option<Link>,
}

/// `instantiatedVnfInfo` of a `VnfInstance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstantiatedVnfInfo {
    /// The deployment flavour in use.
    pub flavour_id: String,
    /// Whether the VNF is started or stopped.
    pub vnf_state: VnfOperationalStateType,
    /// The scale level of each scaling aspect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_status: Vec<ScaleInfo>,
    /// The maximum scale level of each scaling aspect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_scale_levels: Vec<ScaleInfo>,
    /// External connection points.
    pub ext_cp_info: Vec<VnfExtCpInfo>,
    /// Virtual IP connection points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vip_cp_info: Vec<VipCpInfo>,
    /// External virtual links the VNF is connected to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_virtual_link_info: Vec<ExtVirtualLinkInfo>,
    /// Externally managed internal virtual links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_managed_virtual_link_info: Vec<ExtManagedVirtualLinkInfo>,
    /// Monitoring parameters the VNFM tracks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitoring_parameters: Vec<MonitoringParameter>,
    /// The localization language of the VNF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localization_language: Option<String>,
    /// Compute resources (one per VNFC).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfc_resource_info: Vec<VnfcResourceInfo>,
    /// Internal virtual links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_virtual_link_resource_info: Vec<VnfVirtualLinkResourceInfo>,
    /// Storage resources. SOL002 spells the attribute `vnfVirtualStorageResourceInfo`;
    /// both spellings are read, the SOL003 one is written.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "vnfVirtualStorageResourceInfo"
    )]
    pub virtual_storage_resource_info: Vec<VirtualStorageResourceInfo>,
    /// VNFC information (SOL002), one per VNFC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfc_info: Vec<VnfcInfo>,
}

/// `VnfcResourceInfo`: the compute resource of one VNFC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfcResourceInfo {
    /// The VNFC's identifier, stable for the VNFC's life.
    pub id: String,
    /// The VDU the VNFC is an instance of.
    pub vdu_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The compute resource in the VIM.
    pub compute_resource: ResourceHandle,
    /// The zone the resource is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Storage attached to this VNFC (`VirtualStorageResourceInfo.id`s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_resource_ids: Vec<String>,
    /// A reservation the resource uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// The VNFC's connection points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfc_cp_info: Vec<VnfcCpInfo>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// One entry of `vnfcCpInfo`: a connection point of a VNFC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfcCpInfo {
    /// The CP instance's identifier.
    pub id: String,
    /// The VduCp descriptor.
    pub cpd_id: String,
    /// The external CP this CP is exposed as, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_ext_cp_id: Option<String>,
    /// Addresses of the CP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cp_protocol_info: Vec<CpProtocolInfo>,
    /// The internal link port the CP is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_link_port_id: Option<String>,
    /// The VNFC CP of the parent port when this CP is a trunk sub-port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_cp_id: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `VnfVirtualLinkResourceInfo`: an internal virtual link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfVirtualLinkResourceInfo {
    /// The link's identifier.
    pub id: String,
    /// The VnfVirtualLink descriptor.
    pub vnf_virtual_link_desc_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The network in the VIM.
    pub network_resource: ResourceHandle,
    /// The zone the resource is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// A reservation the resource uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// Ports on the link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_link_ports: Vec<VnfLinkPortInfo>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `VirtualStorageResourceInfo`: a storage resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualStorageResourceInfo {
    /// The storage's identifier.
    pub id: String,
    /// The VirtualStorage descriptor.
    pub virtual_storage_desc_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The volume in the VIM.
    pub storage_resource: ResourceHandle,
    /// The zone the resource is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// A reservation the resource uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `VnfLinkPortInfo`: a port on an internal virtual link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfLinkPortInfo {
    /// The port's identifier.
    pub id: String,
    /// The port in the VIM.
    pub resource_handle: ResourceHandle,
    /// The CP instance bound to the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cp_instance_id: Option<String>,
    /// Whether `cpInstanceId` is a VNFC CP or an external CP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cp_instance_type: Option<CpInstanceType>,
    /// A virtual IP CP bound to the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_cp_instance_id: Option<String>,
    /// The trunk the port belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_resource_id: Option<String>,
}

/// `cpInstanceType` of `VnfLinkPortInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CpInstanceType {
    /// A VNFC connection point.
    VnfcCp,
    /// An external connection point.
    ExtCp,
}

/// `VnfExtCpInfo`: an external connection point of the VNF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfExtCpInfo {
    /// The CP instance's identifier.
    pub id: String,
    /// The VnfExtCp descriptor.
    pub cpd_id: String,
    /// The `cpConfig` entry this CP was created from.
    pub cp_config_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// Addresses of the CP.
    pub cp_protocol_info: Vec<CpProtocolInfo>,
    /// The external link port the CP is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_link_port_id: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
    /// The VNFC CP this external CP exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_vnfc_cp_id: Option<String>,
    /// The virtual IP CP this external CP exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_vip_cp_id: Option<String>,
    /// The internal virtual link this external CP exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_vnf_virtual_link_id: Option<String>,
}

/// `CpProtocolInfo`: the protocol information of a connection point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpProtocolInfo {
    /// The layer protocol; ETSI defines `IP_OVER_ETHERNET` only.
    pub layer_protocol: LayerProtocol,
    /// Addresses when the layer protocol is IP over Ethernet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_over_ethernet: Option<IpOverEthernetAddressInfo>,
}

/// The layer protocol of a connection point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LayerProtocol {
    /// IP over Ethernet.
    IpOverEthernet,
}

/// `IpOverEthernetAddressInfo`: the MAC and IP addresses of a connection point.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpOverEthernetAddressInfo {
    /// The MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// The segmentation (VLAN) identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation_id: Option<String>,
    /// The IP addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<IpAddressInfo>,
}

/// One entry of `ipAddresses` in `IpOverEthernetAddressInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressInfo {
    /// IPV4 or IPV6.
    #[serde(rename = "type")]
    pub ip_type: IpAddressType,
    /// Fixed addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Whether the addresses were assigned dynamically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_dynamic: Option<bool>,
    /// A range of addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_range: Option<AddressRange>,
    /// The subnet in the VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

/// IPV4 or IPV6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IpAddressType {
    /// IP version 4.
    Ipv4,
    /// IP version 6.
    Ipv6,
}

/// An inclusive range of IP addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressRange {
    /// Lowest address.
    pub min_address: String,
    /// Highest address.
    pub max_address: String,
}

/// `VipCpInfo`: a virtual IP connection point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipCpInfo {
    /// The CP instance's identifier.
    pub cp_instance_id: String,
    /// The VipCp descriptor.
    pub cpd_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The external CP exposing this virtual IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_ext_cp_id: Option<String>,
    /// Addresses of the CP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cp_protocol_info: Vec<CpProtocolInfo>,
    /// The VNFC CPs sharing the virtual IP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associated_vnfc_cp_ids: Vec<String>,
    /// The internal link port of the virtual IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_link_port_id: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `ExtVirtualLinkInfo`: an external virtual link the VNF is connected to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtVirtualLinkInfo {
    /// The link's identifier (from `ExtVirtualLinkData.id`).
    pub id: String,
    /// The network in the VIM.
    pub resource_handle: ResourceHandle,
    /// Ports on the link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_link_ports: Vec<ExtLinkPortInfo>,
    /// The external CP configuration currently applied.
    pub current_vnf_ext_cp_data: Vec<super::VnfExtCpData>,
}

/// `ExtLinkPortInfo`: a port on an external virtual link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtLinkPortInfo {
    /// The port's identifier.
    pub id: String,
    /// The port in the VIM.
    pub resource_handle: ResourceHandle,
    /// The external CP bound to the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cp_instance_id: Option<String>,
    /// A secondary CP bound to the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_cp_instance_id: Option<String>,
    /// The trunk the port belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_resource_id: Option<String>,
}

/// `ExtManagedVirtualLinkInfo`: an internal link whose network is managed outside the VNFM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtManagedVirtualLinkInfo {
    /// The link's identifier.
    pub id: String,
    /// The VnfVirtualLink descriptor.
    pub vnf_virtual_link_desc_id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The network in the VIM.
    pub network_resource: ResourceHandle,
    /// Ports on the link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_link_ports: Vec<VnfLinkPortInfo>,
    /// The multi-site link this link belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_managed_multisite_virtual_link_id: Option<String>,
}

impl ExtVirtualLinkInfo {
    /// The link as request data (`ExtVirtualLinkData`), to deploy it again: its
    /// network and current external CP data; the link ports are the VIM's to make.
    pub fn to_data(&self) -> super::ExtVirtualLinkData {
        super::ExtVirtualLinkData {
            id: self.id.clone(),
            vim_connection_id: self.resource_handle.vim_connection_id.clone(),
            resource_provider_id: self.resource_handle.resource_provider_id.clone(),
            resource_id: self.resource_handle.resource_id.clone(),
            ext_cps: self.current_vnf_ext_cp_data.clone(),
            ext_link_ports: Vec::new(),
        }
    }
}

impl ExtManagedVirtualLinkInfo {
    /// The link as request data (`ExtManagedVirtualLinkData`), to deploy it again.
    pub fn to_data(&self) -> super::ExtManagedVirtualLinkData {
        super::ExtManagedVirtualLinkData {
            id: self.id.clone(),
            vnf_virtual_link_desc_id: self.vnf_virtual_link_desc_id.clone(),
            vim_connection_id: self.network_resource.vim_connection_id.clone(),
            resource_provider_id: self.network_resource.resource_provider_id.clone(),
            resource_id: self.network_resource.resource_id.clone(),
            vnf_link_port: Vec::new(),
            ext_managed_multisite_virtual_link_id: self
                .ext_managed_multisite_virtual_link_id
                .clone(),
        }
    }
}

/// `MonitoringParameter`: a parameter the VNFM monitors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringParameter {
    /// The parameter's identifier in the VNFD.
    pub id: String,
    /// The VNFD, when it differs from the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The performance metric monitored.
    pub performance_metric: String,
}

/// `VnfcInfo` (SOL002): a VNFC as the EM sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfcInfo {
    /// The VNFC's identifier (the target of SOL002 per-VNFC heal).
    pub id: String,
    /// The VDU the VNFC is an instance of.
    pub vdu_id: String,
    /// The `VnfcResourceInfo` of the VNFC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfc_resource_info_id: Option<String>,
    /// The VNFC's state: `STARTED` or `STOPPED`.
    pub vnfc_state: VnfOperationalStateType,
    /// VNFC configurable properties.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vnfc_configurable_properties: KeyValuePairs,
}
