//! What the simulated VIM reports: a deployment as ETSI resource information.

use std::net::IpAddr;

use serde_json::json;

use super::deployment::{Attachment, Deployment, Port};
use super::{
    COMPUTE_RESOURCE_TYPE, NETWORK_RESOURCE_TYPE, PORT_RESOURCE_TYPE, VOLUME_RESOURCE_TYPE,
};
use crate::infra::VnfResources;
use crate::model::{
    CpInstanceType, CpProtocolInfo, ExtLinkPortInfo, ExtManagedVirtualLinkInfo, ExtVirtualLinkInfo,
    IpAddressInfo, IpAddressType, IpOverEthernetAddressInfo, KeyValuePairs, LayerProtocol,
    ResourceHandle, VirtualStorageResourceInfo, VnfExtCpInfo, VnfLinkPortInfo,
    VnfVirtualLinkResourceInfo, VnfcCpInfo, VnfcResourceInfo,
};

/// The VNFC metadata key of the power state; a change of it alone is not a resource
/// change.
pub(super) const POWER_STATE: &str = crate::infra::VNFC_POWER_STATE;

fn handle(vim_connection_id: &str, resource_id: &str, kind: &str) -> ResourceHandle {
    ResourceHandle {
        vim_connection_id: Some(vim_connection_id.to_owned()),
        resource_provider_id: None,
        resource_id: resource_id.to_owned(),
        vim_level_resource_type: Some(kind.to_owned()),
    }
}

fn protocol_info(port: &Port) -> Vec<CpProtocolInfo> {
    let ip_type = match port.address {
        IpAddr::V4(_) => IpAddressType::Ipv4,
        IpAddr::V6(_) => IpAddressType::Ipv6,
    };
    vec![CpProtocolInfo {
        layer_protocol: LayerProtocol::IpOverEthernet,
        ip_over_ethernet: Some(IpOverEthernetAddressInfo {
            mac_address: Some(port.mac.clone()),
            segmentation_id: None,
            ip_addresses: vec![IpAddressInfo {
                ip_type,
                addresses: vec![port.address.to_string()],
                is_dynamic: None,
                address_range: None,
                subnet_id: None,
            }],
        }),
    }]
}

fn link_port(vim: &str, port: &Port) -> VnfLinkPortInfo {
    VnfLinkPortInfo {
        id: port.link_port_id.clone(),
        resource_handle: handle(vim, &port.resource_id, PORT_RESOURCE_TYPE),
        cp_instance_id: Some(port.cp_id.clone()),
        cp_instance_type: Some(CpInstanceType::VnfcCp),
        vip_cp_instance_id: None,
        trunk_resource_id: None,
    }
}

/// The deployment as the resource part of `instantiatedVnfInfo`, every list sorted by id.
pub(super) fn resources(deployment: &Deployment, vim: &str) -> VnfResources {
    let ports = || deployment.servers.iter().flat_map(|s| s.ports.iter());
    let internal_ports = |vl: &str| -> Vec<VnfLinkPortInfo> {
        let mut list: Vec<VnfLinkPortInfo> = ports()
            .filter(|p| matches!(&p.attachment, Attachment::Internal { vl_desc_id } if vl_desc_id == vl))
            .map(|p| link_port(vim, p))
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    };

    let mut vnfcs: Vec<VnfcResourceInfo> = deployment
        .servers
        .iter()
        .map(|server| {
            let mut storage_ids: Vec<String> =
                server.volumes.iter().map(|v| v.id.clone()).collect();
            storage_ids.sort();
            let mut metadata = KeyValuePairs::new();
            if let Some(image) = &server.image {
                metadata.insert("image".into(), json!(image));
            }
            if let Some(flavour) = &server.vim_flavour {
                metadata.insert("vimFlavourId".into(), json!(flavour));
            }
            if let Some(vcpus) = server.template.vcpus {
                metadata.insert("vcpus".into(), json!(vcpus));
            }
            if let Some(memory) = server.template.memory {
                metadata.insert("memorySize".into(), json!(memory));
            }
            metadata.insert(POWER_STATE.into(), json!(server.power));
            let cps = server
                .ports
                .iter()
                .map(|port| VnfcCpInfo {
                    id: port.cp_id.clone(),
                    cpd_id: port.cpd_id.clone(),
                    vnf_ext_cp_id: match &port.attachment {
                        Attachment::External { ext_cp_id, .. } => Some(ext_cp_id.clone()),
                        _ => None,
                    },
                    cp_protocol_info: protocol_info(port),
                    vnf_link_port_id: match &port.attachment {
                        Attachment::Internal { .. } => Some(port.link_port_id.clone()),
                        _ => None,
                    },
                    parent_cp_id: None,
                    metadata: KeyValuePairs::new(),
                })
                .collect();
            VnfcResourceInfo {
                id: server.vnfc_id.clone(),
                vdu_id: server.vdu_id.clone(),
                vnfd_id: None,
                compute_resource: handle(vim, &server.resource_id, COMPUTE_RESOURCE_TYPE),
                zone_id: None,
                storage_resource_ids: storage_ids,
                reservation_id: None,
                vnfc_cp_info: cps,
                metadata,
            }
        })
        .collect();
    vnfcs.sort_by(|a, b| a.id.cmp(&b.id));

    let mut links: Vec<VnfVirtualLinkResourceInfo> = deployment
        .networks
        .iter()
        .map(|(desc_id, network)| VnfVirtualLinkResourceInfo {
            id: network.id.clone(),
            vnf_virtual_link_desc_id: desc_id.clone(),
            vnfd_id: None,
            network_resource: handle(vim, &network.resource_id, NETWORK_RESOURCE_TYPE),
            zone_id: None,
            reservation_id: None,
            vnf_link_ports: internal_ports(desc_id),
            metadata: KeyValuePairs::new(),
        })
        .collect();
    links.sort_by(|a, b| a.id.cmp(&b.id));

    let mut managed: Vec<ExtManagedVirtualLinkInfo> = deployment
        .ext_managed
        .iter()
        .map(|(desc_id, data)| ExtManagedVirtualLinkInfo {
            id: data.id.clone(),
            vnf_virtual_link_desc_id: desc_id.clone(),
            vnfd_id: None,
            network_resource: handle(
                data.vim_connection_id.as_deref().unwrap_or(vim),
                &data.resource_id,
                NETWORK_RESOURCE_TYPE,
            ),
            vnf_link_ports: internal_ports(desc_id),
            ext_managed_multisite_virtual_link_id: data
                .ext_managed_multisite_virtual_link_id
                .clone(),
        })
        .collect();
    managed.sort_by(|a, b| a.id.cmp(&b.id));

    let mut storages: Vec<VirtualStorageResourceInfo> = deployment
        .servers
        .iter()
        .flat_map(|s| s.volumes.iter())
        .map(|volume| {
            let mut metadata = KeyValuePairs::new();
            metadata.insert("size".into(), json!(volume.size));
            VirtualStorageResourceInfo {
                id: volume.id.clone(),
                virtual_storage_desc_id: volume.desc_id.clone(),
                vnfd_id: None,
                storage_resource: handle(vim, &volume.resource_id, VOLUME_RESOURCE_TYPE),
                zone_id: None,
                reservation_id: None,
                metadata,
            }
        })
        .collect();
    storages.sort_by(|a, b| a.id.cmp(&b.id));

    let mut ext_cps: Vec<VnfExtCpInfo> = ports()
        .filter_map(|port| match &port.attachment {
            Attachment::External {
                ext_cp_id,
                ext_cpd_id,
                cp_config_id,
                ..
            } => Some(VnfExtCpInfo {
                id: ext_cp_id.clone(),
                cpd_id: ext_cpd_id.clone(),
                cp_config_id: cp_config_id.clone(),
                vnfd_id: None,
                cp_protocol_info: protocol_info(port),
                ext_link_port_id: Some(port.link_port_id.clone()),
                metadata: KeyValuePairs::new(),
                associated_vnfc_cp_id: Some(port.cp_id.clone()),
                associated_vip_cp_id: None,
                associated_vnf_virtual_link_id: None,
            }),
            _ => None,
        })
        .collect();
    ext_cps.sort_by(|a, b| a.id.cmp(&b.id));

    let ext_links: Vec<ExtVirtualLinkInfo> = deployment
        .ext_links
        .values()
        .map(|data| {
            let mut link_ports: Vec<ExtLinkPortInfo> = ports()
                .filter_map(|port| match &port.attachment {
                    Attachment::External {
                        ext_vl_id,
                        ext_cp_id,
                        ..
                    } if ext_vl_id == &data.id => Some(ExtLinkPortInfo {
                        id: port.link_port_id.clone(),
                        resource_handle: handle(vim, &port.resource_id, PORT_RESOURCE_TYPE),
                        cp_instance_id: Some(ext_cp_id.clone()),
                        secondary_cp_instance_id: None,
                        trunk_resource_id: None,
                    }),
                    _ => None,
                })
                .collect();
            link_ports.sort_by(|a, b| a.id.cmp(&b.id));
            ExtVirtualLinkInfo {
                id: data.id.clone(),
                resource_handle: ResourceHandle {
                    vim_connection_id: Some(
                        data.vim_connection_id
                            .clone()
                            .unwrap_or_else(|| vim.to_owned()),
                    ),
                    resource_provider_id: data.resource_provider_id.clone(),
                    resource_id: data.resource_id.clone(),
                    vim_level_resource_type: Some(NETWORK_RESOURCE_TYPE.to_owned()),
                },
                ext_link_ports: link_ports,
                current_vnf_ext_cp_data: data.ext_cps.clone(),
            }
        })
        .collect();

    VnfResources {
        vnfc_resource_info: vnfcs,
        vnf_virtual_link_resource_info: links,
        virtual_storage_resource_info: storages,
        ext_cp_info: ext_cps,
        ext_virtual_link_info: ext_links,
        ext_managed_virtual_link_info: managed,
    }
}

/// Every VIM resource id the deployment holds: servers, ports, volumes, networks.
pub(super) fn resource_ids(deployment: &Deployment) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for server in &deployment.servers {
        ids.push(server.resource_id.clone());
        ids.extend(server.ports.iter().map(|p| p.resource_id.clone()));
        ids.extend(server.volumes.iter().map(|v| v.resource_id.clone()));
    }
    ids.extend(deployment.networks.values().map(|n| n.resource_id.clone()));
    ids.sort();
    ids
}
