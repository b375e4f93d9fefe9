//! What the simulated VIM reports: a deployment as ETSI resource information, and the
//! `resourceChanges` between the instance as recorded and the resources after a call.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::json;

use super::deployment::{Attachment, Deployment, Port};
use super::{
    COMPUTE_RESOURCE_TYPE, NETWORK_RESOURCE_TYPE, PORT_RESOURCE_TYPE, VOLUME_RESOURCE_TYPE,
};
use crate::infra::VnfResources;
use crate::model::{
    AffectedExtLinkPort, AffectedVirtualLink, AffectedVirtualStorage, AffectedVnfc, ChangeType,
    CpInstanceType, CpProtocolInfo, ExtLinkPortInfo, ExtManagedVirtualLinkInfo, ExtVirtualLinkInfo,
    InstantiatedVnfInfo, IpAddressInfo, IpAddressType, IpOverEthernetAddressInfo, KeyValuePairs,
    LayerProtocol, PortChangeType, ResourceChanges, ResourceHandle, VirtualLinkChangeType,
    VirtualStorageResourceInfo, VnfExtCpInfo, VnfLinkPortInfo, VnfVirtualLinkResourceInfo,
    VnfcCpInfo, VnfcResourceInfo,
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

fn by_id<T>(items: &[T], id: impl Fn(&T) -> &str) -> BTreeMap<&str, &T> {
    items.iter().map(|item| (id(item), item)).collect()
}

fn without_power(metadata: &KeyValuePairs) -> KeyValuePairs {
    let mut copy = metadata.clone();
    copy.remove(POWER_STATE);
    copy
}

fn sorted(ids: &[String]) -> BTreeSet<&str> {
    ids.iter().map(String::as_str).collect()
}

fn cp_ids(vnfc: &VnfcResourceInfo) -> Vec<String> {
    vnfc.vnfc_cp_info.iter().map(|cp| cp.id.clone()).collect()
}

fn affected_vnfc(vnfc: &VnfcResourceInfo, change_type: ChangeType) -> AffectedVnfc {
    AffectedVnfc {
        id: vnfc.id.clone(),
        vdu_id: vnfc.vdu_id.clone(),
        vnfd_id: vnfc.vnfd_id.clone(),
        change_type,
        compute_resource: vnfc.compute_resource.clone(),
        resource_definition_id: None,
        zone_id: vnfc.zone_id.clone(),
        metadata: KeyValuePairs::new(),
        affected_vnfc_cp_ids: Vec::new(),
        added_storage_resource_ids: Vec::new(),
        removed_storage_resource_ids: Vec::new(),
    }
}

fn vnfc_changes(before: &[VnfcResourceInfo], after: &[VnfcResourceInfo]) -> Vec<AffectedVnfc> {
    let old = by_id(before, |v| &v.id);
    let new = by_id(after, |v| &v.id);
    let ids: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let mut changes = Vec::new();
    for id in ids {
        match (old.get(id), new.get(id)) {
            (None, Some(added)) => {
                let mut change = affected_vnfc(added, ChangeType::Added);
                change.affected_vnfc_cp_ids = cp_ids(added);
                change.added_storage_resource_ids = added.storage_resource_ids.clone();
                changes.push(change);
            }
            (Some(removed), None) => {
                let mut change = affected_vnfc(removed, ChangeType::Removed);
                change.affected_vnfc_cp_ids = cp_ids(removed);
                change.removed_storage_resource_ids = removed.storage_resource_ids.clone();
                changes.push(change);
            }
            (Some(was), Some(now)) => {
                let old_storage = sorted(&was.storage_resource_ids);
                let new_storage = sorted(&now.storage_resource_ids);
                let old_cps = by_id(&was.vnfc_cp_info, |c| &c.id);
                let new_cps = by_id(&now.vnfc_cp_info, |c| &c.id);
                let cp_changed: Vec<String> = old_cps
                    .keys()
                    .chain(new_cps.keys())
                    .copied()
                    .collect::<BTreeSet<&str>>()
                    .into_iter()
                    .filter(|cp| old_cps.get(cp) != new_cps.get(cp))
                    .map(str::to_owned)
                    .collect();
                let modified = was.compute_resource != now.compute_resource
                    || was.vdu_id != now.vdu_id
                    || old_storage != new_storage
                    || without_power(&was.metadata) != without_power(&now.metadata)
                    || !cp_changed.is_empty();
                if modified {
                    let mut change = affected_vnfc(now, ChangeType::Modified);
                    change.affected_vnfc_cp_ids = cp_changed;
                    change.added_storage_resource_ids = new_storage
                        .difference(&old_storage)
                        .map(|s| (*s).to_owned())
                        .collect();
                    change.removed_storage_resource_ids = old_storage
                        .difference(&new_storage)
                        .map(|s| (*s).to_owned())
                        .collect();
                    changes.push(change);
                }
            }
            (None, None) => {}
        }
    }
    changes
}

fn affected_link(
    link: &VnfVirtualLinkResourceInfo,
    change_type: VirtualLinkChangeType,
    ports: Vec<String>,
) -> AffectedVirtualLink {
    AffectedVirtualLink {
        id: link.id.clone(),
        vnf_virtual_link_desc_id: link.vnf_virtual_link_desc_id.clone(),
        vnfd_id: link.vnfd_id.clone(),
        change_type,
        network_resource: link.network_resource.clone(),
        vnf_link_port_ids: ports,
        resource_definition_id: None,
        zone_id: link.zone_id.clone(),
        metadata: KeyValuePairs::new(),
    }
}

fn port_ids(ports: &[VnfLinkPortInfo]) -> BTreeSet<&str> {
    ports.iter().map(|p| p.id.as_str()).collect()
}

fn link_changes(
    before: &[VnfVirtualLinkResourceInfo],
    after: &[VnfVirtualLinkResourceInfo],
) -> Vec<AffectedVirtualLink> {
    let old = by_id(before, |l| &l.id);
    let new = by_id(after, |l| &l.id);
    let ids: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let mut changes = Vec::new();
    let owned = |ids: BTreeSet<&str>| ids.into_iter().map(str::to_owned).collect::<Vec<_>>();
    for id in ids {
        match (old.get(id), new.get(id)) {
            (None, Some(added)) => changes.push(affected_link(
                added,
                VirtualLinkChangeType::Added,
                owned(port_ids(&added.vnf_link_ports)),
            )),
            (Some(removed), None) => changes.push(affected_link(
                removed,
                VirtualLinkChangeType::Removed,
                owned(port_ids(&removed.vnf_link_ports)),
            )),
            (Some(was), Some(now)) => {
                if was.network_resource != now.network_resource {
                    changes.push(affected_link(
                        now,
                        VirtualLinkChangeType::Modified,
                        Vec::new(),
                    ));
                }
                let old_ports = port_ids(&was.vnf_link_ports);
                let new_ports = port_ids(&now.vnf_link_ports);
                let added: BTreeSet<&str> = new_ports.difference(&old_ports).copied().collect();
                let removed: BTreeSet<&str> = old_ports.difference(&new_ports).copied().collect();
                if !added.is_empty() {
                    changes.push(affected_link(
                        now,
                        VirtualLinkChangeType::LinkPortAdded,
                        owned(added),
                    ));
                }
                if !removed.is_empty() {
                    changes.push(affected_link(
                        now,
                        VirtualLinkChangeType::LinkPortRemoved,
                        owned(removed),
                    ));
                }
            }
            (None, None) => {}
        }
    }
    changes
}

/// Externally managed links are not created or removed by the VNFM; only their ports
/// change.
fn managed_link_changes(
    before: &[ExtManagedVirtualLinkInfo],
    after: &[ExtManagedVirtualLinkInfo],
) -> Vec<AffectedVirtualLink> {
    let as_link = |info: &ExtManagedVirtualLinkInfo| VnfVirtualLinkResourceInfo {
        id: info.id.clone(),
        vnf_virtual_link_desc_id: info.vnf_virtual_link_desc_id.clone(),
        vnfd_id: info.vnfd_id.clone(),
        network_resource: info.network_resource.clone(),
        zone_id: None,
        reservation_id: None,
        vnf_link_ports: info.vnf_link_ports.clone(),
        metadata: KeyValuePairs::new(),
    };
    let old: Vec<_> = before.iter().map(as_link).collect();
    let new: Vec<_> = after.iter().map(as_link).collect();
    let old_ids: BTreeSet<&str> = old.iter().map(|l| l.id.as_str()).collect();
    let new_ids: BTreeSet<&str> = new.iter().map(|l| l.id.as_str()).collect();
    let mut changes = Vec::new();
    for link in &new {
        if !old_ids.contains(link.id.as_str()) && !link.vnf_link_ports.is_empty() {
            let ports = port_ids(&link.vnf_link_ports)
                .into_iter()
                .map(str::to_owned)
                .collect();
            changes.push(affected_link(
                link,
                VirtualLinkChangeType::LinkPortAdded,
                ports,
            ));
        }
    }
    for link in &old {
        if !new_ids.contains(link.id.as_str()) && !link.vnf_link_ports.is_empty() {
            let ports = port_ids(&link.vnf_link_ports)
                .into_iter()
                .map(str::to_owned)
                .collect();
            changes.push(affected_link(
                link,
                VirtualLinkChangeType::LinkPortRemoved,
                ports,
            ));
        }
    }
    let both: Vec<&VnfVirtualLinkResourceInfo> = old
        .iter()
        .filter(|l| new_ids.contains(l.id.as_str()))
        .collect();
    for was in both {
        if let Some(now) = new.iter().find(|l| l.id == was.id) {
            changes.extend(
                link_changes(std::slice::from_ref(was), std::slice::from_ref(now))
                    .into_iter()
                    .filter(|c| c.change_type != VirtualLinkChangeType::Modified),
            );
        }
    }
    changes
}

fn affected_storage(
    storage: &VirtualStorageResourceInfo,
    change_type: ChangeType,
) -> AffectedVirtualStorage {
    AffectedVirtualStorage {
        id: storage.id.clone(),
        virtual_storage_desc_id: storage.virtual_storage_desc_id.clone(),
        vnfd_id: storage.vnfd_id.clone(),
        change_type,
        storage_resource: storage.storage_resource.clone(),
        resource_definition_id: None,
        zone_id: storage.zone_id.clone(),
        metadata: KeyValuePairs::new(),
    }
}

fn storage_changes(
    before: &[VirtualStorageResourceInfo],
    after: &[VirtualStorageResourceInfo],
) -> Vec<AffectedVirtualStorage> {
    let old = by_id(before, |s| &s.id);
    let new = by_id(after, |s| &s.id);
    let ids: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    ids.into_iter()
        .filter_map(|id| match (old.get(id), new.get(id)) {
            (None, Some(added)) => Some(affected_storage(added, ChangeType::Added)),
            (Some(removed), None) => Some(affected_storage(removed, ChangeType::Removed)),
            (Some(was), Some(now)) if was.storage_resource != now.storage_resource => {
                Some(affected_storage(now, ChangeType::Modified))
            }
            _ => None,
        })
        .collect()
}

fn ext_port_changes(
    before: &[ExtVirtualLinkInfo],
    after: &[ExtVirtualLinkInfo],
) -> Vec<AffectedExtLinkPort> {
    let flatten = |links: &[ExtVirtualLinkInfo]| -> BTreeMap<String, ExtLinkPortInfo> {
        links
            .iter()
            .flat_map(|l| l.ext_link_ports.iter())
            .map(|p| (p.id.clone(), p.clone()))
            .collect()
    };
    let old = flatten(before);
    let new = flatten(after);
    let affected = |port: &ExtLinkPortInfo, change_type: PortChangeType| AffectedExtLinkPort {
        id: port.id.clone(),
        change_type,
        ext_cp_instance_id: port.cp_instance_id.clone().unwrap_or_default(),
        resource_handle: port.resource_handle.clone(),
        resource_definition_id: None,
    };
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    ids.into_iter()
        .filter_map(|id| match (old.get(id), new.get(id)) {
            (None, Some(added)) => Some(affected(added, PortChangeType::Added)),
            (Some(removed), None) => Some(affected(removed, PortChangeType::Removed)),
            (Some(was), Some(now)) if was != now => Some(affected(now, PortChangeType::Modified)),
            _ => None,
        })
        .collect()
}

/// The changes from the instance as recorded (`None`: not instantiated) to `after`.
pub(crate) fn changes(
    before: Option<&InstantiatedVnfInfo>,
    after: &VnfResources,
) -> ResourceChanges {
    let (vnfcs, links, managed, storages, ext_links) = match before {
        Some(info) => (
            info.vnfc_resource_info.as_slice(),
            info.vnf_virtual_link_resource_info.as_slice(),
            info.ext_managed_virtual_link_info.as_slice(),
            info.virtual_storage_resource_info.as_slice(),
            info.ext_virtual_link_info.as_slice(),
        ),
        None => (&[][..], &[][..], &[][..], &[][..], &[][..]),
    };
    let mut affected_links = link_changes(links, &after.vnf_virtual_link_resource_info);
    affected_links.extend(managed_link_changes(
        managed,
        &after.ext_managed_virtual_link_info,
    ));
    ResourceChanges {
        affected_vnfcs: vnfc_changes(vnfcs, &after.vnfc_resource_info),
        affected_virtual_links: affected_links,
        affected_ext_link_ports: ext_port_changes(ext_links, &after.ext_virtual_link_info),
        affected_virtual_storages: storage_changes(storages, &after.virtual_storage_resource_info),
    }
}
