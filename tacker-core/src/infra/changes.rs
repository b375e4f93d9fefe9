//! The `resourceChanges` between the instance as recorded before an operation and the
//! resources a driver reports after a call: [`resource_changes`].

use std::collections::{BTreeMap, BTreeSet};

use super::{VNFC_POWER_STATE, VnfResources};
use crate::model::{
    AffectedExtLinkPort, AffectedVirtualLink, AffectedVirtualStorage, AffectedVnfc, ChangeType,
    ExtLinkPortInfo, ExtManagedVirtualLinkInfo, ExtVirtualLinkInfo, InstantiatedVnfInfo,
    KeyValuePairs, PortChangeType, ResourceChanges, VirtualLinkChangeType,
    VirtualStorageResourceInfo, VnfLinkPortInfo, VnfVirtualLinkResourceInfo, VnfcResourceInfo,
};

fn by_id<T>(items: &[T], id: impl Fn(&T) -> &str) -> BTreeMap<&str, &T> {
    items.iter().map(|item| (id(item), item)).collect()
}

fn without_power(metadata: &KeyValuePairs) -> KeyValuePairs {
    let mut copy = metadata.clone();
    copy.remove(VNFC_POWER_STATE);
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

/// The `resourceChanges` of a call: what differs between the instance as recorded
/// before the operation (`before`, `None` when it was not instantiated) and the
/// resources a driver found after the call.
///
/// VNFCs, storage, internal links and external link ports are matched by their ids:
/// one only after the call is ADDED, one only before is REMOVED. A VNFC whose compute
/// resource, VDU, storage, connection points or metadata differ is MODIFIED; a change
/// of its power state ([`VNFC_POWER_STATE`]) alone is not a resource change. An
/// internal link whose network differs is MODIFIED, and its link ports that come or go
/// are LINK_PORT_ADDED or LINK_PORT_REMOVED. Externally managed links are never created
/// or removed by the VNFM: only their ports are reported. Drivers that read their
/// resources back from the VIM use this so that every driver reports changes the same
/// way.
pub fn resource_changes(
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
