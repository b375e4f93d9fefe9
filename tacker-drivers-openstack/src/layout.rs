//! From a stack's resources (`nested_depth` levels deep) to the resource part of
//! `instantiatedVnfInfo`.
//!
//! A server resource whose name is a VDU id is a VNFC of that VDU; the ports next to it
//! (in the same stack) named after the VDU's CPs are its connection points; volumes
//! named after a virtual storage of the VDU are its storage; networks named after a
//! virtual link of the flavour are internal virtual links. Whatever sits inside a
//! server, port, volume or network resource (a provider template standing in for it)
//! is not looked at. A server inside a scaling group's member keeps the member's name
//! in its path (`VDU1_scale_group/<member>/VDU1`), which Heat keeps when it replaces
//! the member on heal.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde_json::{Value, json};
use tacker_core::infra::{VNFC_POWER_STATE, VnfResources};
use tacker_core::model::{
    CpInstanceType, CpProtocolInfo, ExtLinkPortInfo, ExtManagedVirtualLinkData,
    ExtManagedVirtualLinkInfo, ExtVirtualLinkData, ExtVirtualLinkInfo, InstantiatedVnfInfo,
    IpAddressInfo, IpAddressType, IpOverEthernetAddressInfo, KeyValuePairs, LayerProtocol,
    ResourceHandle, VirtualStorageResourceInfo, VnfExtCpInfo, VnfLinkPortInfo,
    VnfVirtualLinkResourceInfo, VnfcCpInfo, VnfcResourceInfo,
};
use tacker_core::vnfd::DeploymentFlavour;

use crate::heat::{HeatResource, StackRef};
use crate::nfv::vdu_cp_of;

/// Heat's type of a server.
pub const SERVER: &str = "OS::Nova::Server";
/// Heat's type of a port.
pub const PORT: &str = "OS::Neutron::Port";
/// Heat's type of a network.
pub const NET: &str = "OS::Neutron::Net";
/// Heat's type of a volume.
pub const VOLUME: &str = "OS::Cinder::Volume";

const LEAF_TYPES: [&str; 5] = [SERVER, PORT, NET, VOLUME, "OS::Neutron::Subnet"];
const GROUP_TYPES: [&str; 2] = ["OS::Heat::AutoScalingGroup", "OS::Heat::ResourceGroup"];

/// VNFC metadata: the server's path in the stack.
pub const META_HEAT_RESOURCE: &str = "heatResource";
/// VNFC metadata: when Heat created the server (or its group member).
pub const META_CREATION_TIME: &str = "creationTime";
/// VNFC metadata: the flavour and image the stack was given for the VDU.
pub const META_FLAVOUR: &str = "computeFlavourId";
/// VNFC metadata: the image the stack was given for the VDU.
pub const META_IMAGE: &str = "vcImageId";
/// VNFC metadata key: the index `n` of a VNFC held by its own top-level resource
/// `<VDU>-<n>` (as user-data classes lay VNFCs out and read them back).
pub const META_VDU_IDX: &str = "vdu_idx";

/// Where a VNFC's server sits, for marking it unhealthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealTarget {
    /// The stack holding the resource to mark.
    pub stack: StackRef,
    /// The resource to mark: the group member, or the server itself.
    pub resource: String,
}

/// A VNFC found in the stack.
#[derive(Debug, Clone)]
pub struct FoundVnfc {
    /// The VNFC as reported.
    pub info: VnfcResourceInfo,
    /// What to mark unhealthy to replace it.
    pub heal_target: HealTarget,
    /// The volumes of the VNFC: (stack, resource name).
    pub volumes: Vec<HealTarget>,
}

/// What the stack holds, as the driver reports it.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The resources.
    pub resources: VnfResources,
    /// Per VNFC id, how to replace it.
    pub vnfcs: BTreeMap<String, FoundVnfc>,
}

/// The physical ids of every server, port, volume, network and subnet of the stack
/// (not what stands inside them), sorted.
pub fn leaf_ids(resources: &[HeatResource], stack: &StackRef) -> Vec<String> {
    let tree = Tree::new(resources, stack);
    let mut ids: Vec<String> = (0..resources.len())
        .filter(|i| !tree.inside_leaf(*i))
        .map(|i| &resources[i])
        .filter(|r| !r.resource_status.starts_with("DELETE"))
        .filter(|r| LEAF_TYPES.contains(&r.resource_type.as_str()))
        .filter_map(|r| r.physical_resource_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids
}

/// The inputs of [`read_layout`] besides the resources.
#[derive(Debug, Clone, Copy)]
pub struct LayoutInputs<'a> {
    /// The top stack.
    pub stack: &'a StackRef,
    /// The flavour deployed.
    pub flavour: &'a DeploymentFlavour,
    /// The key of the VIM in `vimConnectionInfo`.
    pub vim_connection_id: &'a str,
    /// The instance as recorded before the operation.
    pub recorded: Option<&'a InstantiatedVnfInfo>,
    /// The external virtual links in effect.
    pub ext_virtual_links: &'a [ExtVirtualLinkData],
    /// The externally managed internal virtual links in effect.
    pub ext_managed_virtual_links: &'a [ExtManagedVirtualLinkData],
    /// The `nfv` parameter of the stack (for the images and flavours per VDU).
    pub nfv: Option<&'a Value>,
    /// Power states to report, per VNFC id (default `STARTED`).
    pub power_states: &'a BTreeMap<String, String>,
}

fn handle(vim: &str, id: &str, kind: &str) -> ResourceHandle {
    ResourceHandle {
        vim_connection_id: Some(vim.to_owned()),
        resource_provider_id: None,
        resource_id: id.to_owned(),
        vim_level_resource_type: Some(kind.to_owned()),
    }
}

struct Tree<'a> {
    resources: &'a [HeatResource],
    top: &'a StackRef,
    /// The index of the resource that is each nested stack, by stack id.
    by_nested: HashMap<String, usize>,
}

impl<'a> Tree<'a> {
    fn new(resources: &'a [HeatResource], top: &'a StackRef) -> Self {
        let by_nested = resources
            .iter()
            .enumerate()
            .filter_map(|(index, resource)| resource.nested().map(|n| (n.id, index)))
            .collect();
        Self {
            resources,
            top,
            by_nested,
        }
    }

    fn parent(&self, index: usize) -> Option<usize> {
        let stack = self.resources[index].stack()?;
        if stack.id == self.top.id {
            return None;
        }
        self.by_nested.get(&stack.id).copied()
    }

    fn ancestors(&self, index: usize) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut current = index;
        while let Some(parent) = self.parent(current) {
            if chain.contains(&parent) || chain.len() > 16 {
                break;
            }
            chain.push(parent);
            current = parent;
        }
        chain
    }

    fn inside_leaf(&self, index: usize) -> bool {
        self.ancestors(index)
            .iter()
            .any(|a| LEAF_TYPES.contains(&self.resources[*a].resource_type.as_str()))
    }

    fn path(&self, index: usize) -> String {
        let mut names: Vec<&str> = self
            .ancestors(index)
            .iter()
            .map(|a| self.resources[*a].resource_name.as_str())
            .collect();
        names.reverse();
        names.push(&self.resources[index].resource_name);
        names.join("/")
    }

    /// The group member holding the resource, when its parent is a member of a group.
    fn member(&self, index: usize) -> Option<usize> {
        let parent = self.parent(index)?;
        let group = self.parent(parent)?;
        GROUP_TYPES
            .contains(&self.resources[group].resource_type.as_str())
            .then_some(parent)
    }
}

fn same_stack(a: &HeatResource, b: &HeatResource) -> bool {
    match (a.stack(), b.stack()) {
        (Some(x), Some(y)) => x.id == y.id,
        _ => false,
    }
}

fn protocol_info(port: &HeatResource) -> Vec<CpProtocolInfo> {
    let Some(attributes) = &port.attributes else {
        return Vec::new();
    };
    let mac = attributes
        .get("mac_address")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut addresses = Vec::new();
    if let Some(fixed) = attributes.get("fixed_ips").and_then(Value::as_array) {
        for entry in fixed {
            let Some(address) = entry.get("ip_address").and_then(Value::as_str) else {
                continue;
            };
            let ip_type = match address.parse::<IpAddr>() {
                Ok(IpAddr::V6(_)) => IpAddressType::Ipv6,
                _ => IpAddressType::Ipv4,
            };
            addresses.push(IpAddressInfo {
                ip_type,
                addresses: vec![address.to_owned()],
                is_dynamic: None,
                address_range: None,
                subnet_id: entry
                    .get("subnet_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    if mac.is_none() && addresses.is_empty() {
        return Vec::new();
    }
    vec![CpProtocolInfo {
        layer_protocol: LayerProtocol::IpOverEthernet,
        ip_over_ethernet: Some(IpOverEthernetAddressInfo {
            mac_address: mac,
            segmentation_id: None,
            ip_addresses: addresses,
        }),
    }]
}

fn nfv_value(nfv: Option<&Value>, vdu: &str, key: &str) -> Option<Value> {
    nfv?.get("VDU")?.get(vdu)?.get(key).cloned()
}

/// Reads what the stack holds.
pub fn read_layout(resources: &[HeatResource], inputs: &LayoutInputs<'_>) -> Layout {
    let tree = Tree::new(resources, inputs.stack);
    let flavour = inputs.flavour;
    let vim = inputs.vim_connection_id;
    let visible: Vec<usize> = (0..resources.len())
        .filter(|i| !tree.inside_leaf(*i))
        .filter(|i| !resources[*i].resource_status.starts_with("DELETE"))
        .collect();

    // Servers of VDUs, oldest first.
    struct Server {
        index: usize,
        vdu: String,
        path: String,
        created: String,
        member: Option<usize>,
    }
    let mut servers: Vec<Server> = visible
        .iter()
        .copied()
        .filter(|i| resources[*i].resource_type == SERVER)
        .filter(|i| flavour.vdu(&resources[*i].resource_name).is_some())
        .filter(|i| {
            resources[*i]
                .physical_resource_id
                .as_deref()
                .is_some_and(|p| !p.is_empty())
        })
        .map(|index| {
            let member = tree.member(index);
            let created = member
                .and_then(|m| resources[m].creation_time.clone())
                .or_else(|| resources[index].creation_time.clone())
                .unwrap_or_default();
            Server {
                index,
                vdu: resources[index].resource_name.clone(),
                path: tree.path(index),
                created,
                member,
            }
        })
        .collect();
    servers.sort_by(|a, b| (&a.created, &a.path).cmp(&(&b.created, &b.path)));

    // VNFC ids: kept for a server at the same path; a server at a new path takes the id
    // of a recorded VNFC of its VDU whose path is gone (a re-created stack); else new.
    let recorded: Vec<&VnfcResourceInfo> = inputs
        .recorded
        .map(|info| info.vnfc_resource_info.iter().collect())
        .unwrap_or_default();
    let recorded_path = |vnfc: &VnfcResourceInfo| {
        vnfc.metadata
            .get(META_HEAT_RESOURCE)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut ids: Vec<Option<String>> = servers
        .iter()
        .map(|s| {
            recorded
                .iter()
                .find(|v| recorded_path(v).as_deref() == Some(s.path.as_str()))
                .map(|v| v.id.clone())
        })
        .collect();
    let current_paths: Vec<&str> = servers.iter().map(|s| s.path.as_str()).collect();
    let mut orphans: Vec<&VnfcResourceInfo> = recorded
        .iter()
        .copied()
        .filter(|v| recorded_path(v).is_none_or(|p| !current_paths.contains(&p.as_str())))
        .collect();
    for (server, id) in servers.iter().zip(ids.iter_mut()) {
        if id.is_some() {
            continue;
        }
        if let Some(pos) = orphans.iter().position(|v| v.vdu_id == server.vdu) {
            *id = Some(orphans.remove(pos).id.clone());
        }
    }

    let mut vnfcs = Vec::new();
    let mut found = BTreeMap::new();
    let mut storages = Vec::new();
    let mut ext_cps = Vec::new();
    let mut link_ports: BTreeMap<String, Vec<VnfLinkPortInfo>> = BTreeMap::new();
    let mut ext_ports: BTreeMap<String, Vec<ExtLinkPortInfo>> = BTreeMap::new();
    for (server, id) in servers.iter().zip(ids) {
        let resource = &resources[server.index];
        let vnfc_id = id.unwrap_or_else(|| match server.member {
            Some(member) => format!("{}-{}", server.vdu, resources[member].resource_name),
            None => server.path.replace('/', "-"),
        });
        let Some(vdu) = flavour.vdu(&server.vdu) else {
            continue;
        };
        let mut cps = Vec::new();
        for cpd in flavour.cps_of(&vdu.id) {
            let Some(port) = visible.iter().map(|i| &resources[*i]).find(|r| {
                r.resource_type == PORT && r.resource_name == cpd.id && same_stack(r, resource)
            }) else {
                continue;
            };
            let port_id = port.physical_resource_id.clone().unwrap_or_default();
            let cp_id = format!("{vnfc_id}-{}", cpd.id);
            let mut cp = VnfcCpInfo {
                id: cp_id.clone(),
                cpd_id: cpd.id.clone(),
                vnf_ext_cp_id: None,
                cp_protocol_info: protocol_info(port),
                vnf_link_port_id: None,
                parent_cp_id: None,
                metadata: KeyValuePairs::new(),
            };
            let ext = inputs.ext_virtual_links.iter().find_map(|link| {
                link.ext_cps
                    .iter()
                    .find(|c| vdu_cp_of(flavour, &c.cpd_id) == cpd.id)
                    .map(|c| (link, c))
            });
            if let Some((link, ext_cp)) = ext {
                let ext_cp_id = format!("{cp_id}-ext");
                let ext_port_id = format!("{cp_id}-extport");
                ext_ports
                    .entry(link.id.clone())
                    .or_default()
                    .push(ExtLinkPortInfo {
                        id: ext_port_id.clone(),
                        resource_handle: handle(vim, &port_id, PORT),
                        cp_instance_id: Some(ext_cp_id.clone()),
                        secondary_cp_instance_id: None,
                        trunk_resource_id: None,
                    });
                ext_cps.push(VnfExtCpInfo {
                    id: ext_cp_id.clone(),
                    cpd_id: ext_cp.cpd_id.clone(),
                    cp_config_id: ext_cp.cp_config.keys().next().cloned().unwrap_or_default(),
                    vnfd_id: None,
                    cp_protocol_info: cp.cp_protocol_info.clone(),
                    ext_link_port_id: Some(ext_port_id),
                    metadata: KeyValuePairs::new(),
                    associated_vnfc_cp_id: Some(cp_id.clone()),
                    associated_vip_cp_id: None,
                    associated_vnf_virtual_link_id: None,
                });
                cp.vnf_ext_cp_id = Some(ext_cp_id);
            } else if let Some(vl) = &cpd.virtual_link {
                let link_port_id = format!("{cp_id}-port");
                link_ports
                    .entry(vl.clone())
                    .or_default()
                    .push(VnfLinkPortInfo {
                        id: link_port_id.clone(),
                        resource_handle: handle(vim, &port_id, PORT),
                        cp_instance_id: Some(cp_id.clone()),
                        cp_instance_type: Some(CpInstanceType::VnfcCp),
                        vip_cp_instance_id: None,
                        trunk_resource_id: None,
                    });
                cp.vnf_link_port_id = Some(link_port_id);
            }
            cps.push(cp);
        }

        let mut storage_ids = Vec::new();
        let mut volumes = Vec::new();
        for desc in &vdu.virtual_storages {
            let Some(volume) = visible.iter().map(|i| &resources[*i]).find(|r| {
                r.resource_type == VOLUME && &r.resource_name == desc && same_stack(r, resource)
            }) else {
                continue;
            };
            let storage_id = format!("{vnfc_id}-{desc}");
            storages.push(VirtualStorageResourceInfo {
                id: storage_id.clone(),
                virtual_storage_desc_id: desc.clone(),
                vnfd_id: None,
                storage_resource: handle(
                    vim,
                    volume.physical_resource_id.as_deref().unwrap_or_default(),
                    VOLUME,
                ),
                zone_id: None,
                reservation_id: None,
                metadata: KeyValuePairs::new(),
            });
            storage_ids.push(storage_id);
            if let Some(stack) = volume.stack() {
                volumes.push(HealTarget {
                    stack,
                    resource: volume.resource_name.clone(),
                });
            }
        }

        let mut metadata = KeyValuePairs::new();
        metadata.insert(META_HEAT_RESOURCE.into(), json!(server.path));
        metadata.insert(META_CREATION_TIME.into(), json!(server.created));
        // A VNFC of its own resource `<VDU>-<n>` (the layout of Tacker's standard
        // user-data class): its index, and its entry of the `nfv` parameter.
        let indexed = tree
            .parent(server.index)
            .map(|p| resources[p].resource_name.as_str())
            .filter(|name| {
                name.strip_prefix(vdu.id.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            });
        if let Some(name) = indexed
            && let Some(Ok(index)) = name.rsplit_once('-').map(|(_, n)| n.parse::<u32>())
        {
            metadata.insert(META_VDU_IDX.into(), json!(index));
        }
        for key in [META_FLAVOUR, META_IMAGE] {
            let value = nfv_value(inputs.nfv, &vdu.id, key)
                .or_else(|| indexed.and_then(|name| nfv_value(inputs.nfv, name, key)));
            if let Some(value) = value {
                metadata.insert(key.into(), value);
            }
        }
        let power = inputs
            .power_states
            .get(&vnfc_id)
            .cloned()
            .unwrap_or_else(|| "STARTED".to_owned());
        metadata.insert(VNFC_POWER_STATE.into(), json!(power));

        let heal_target = match server.member {
            Some(member) => HealTarget {
                stack: resources[member]
                    .stack()
                    .unwrap_or_else(|| inputs.stack.clone()),
                resource: resources[member].resource_name.clone(),
            },
            None => HealTarget {
                stack: resource.stack().unwrap_or_else(|| inputs.stack.clone()),
                resource: resource.resource_name.clone(),
            },
        };
        let info = VnfcResourceInfo {
            id: vnfc_id.clone(),
            vdu_id: vdu.id.clone(),
            vnfd_id: None,
            compute_resource: handle(
                vim,
                resource.physical_resource_id.as_deref().unwrap_or_default(),
                SERVER,
            ),
            zone_id: nfv_value(inputs.nfv, &vdu.id, "locationConstraints")
                .and_then(|v| v.as_str().map(str::to_owned))
                .filter(|z| !z.is_empty()),
            storage_resource_ids: storage_ids,
            reservation_id: None,
            vnfc_cp_info: cps,
            metadata,
        };
        found.insert(
            vnfc_id,
            FoundVnfc {
                info: info.clone(),
                heal_target,
                volumes,
            },
        );
        vnfcs.push(info);
    }
    vnfcs.sort_by(|a, b| a.id.cmp(&b.id));
    storages.sort_by(|a, b| a.id.cmp(&b.id));
    ext_cps.sort_by(|a, b| a.id.cmp(&b.id));

    let managed_descs: Vec<&str> = inputs
        .ext_managed_virtual_links
        .iter()
        .map(|l| l.vnf_virtual_link_desc_id.as_str())
        .collect();
    let mut links: Vec<VnfVirtualLinkResourceInfo> = visible
        .iter()
        .map(|i| &resources[*i])
        .filter(|r| r.resource_type == NET)
        .filter(|r| {
            flavour
                .virtual_links
                .iter()
                .any(|vl| vl.id == r.resource_name)
        })
        .filter(|r| !managed_descs.contains(&r.resource_name.as_str()))
        .map(|net| {
            let mut ports = link_ports.remove(&net.resource_name).unwrap_or_default();
            ports.sort_by(|a, b| a.id.cmp(&b.id));
            VnfVirtualLinkResourceInfo {
                id: net.resource_name.clone(),
                vnf_virtual_link_desc_id: net.resource_name.clone(),
                vnfd_id: None,
                network_resource: handle(
                    vim,
                    net.physical_resource_id.as_deref().unwrap_or_default(),
                    NET,
                ),
                zone_id: None,
                reservation_id: None,
                vnf_link_ports: ports,
                metadata: KeyValuePairs::new(),
            }
        })
        .collect();
    links.sort_by(|a, b| a.id.cmp(&b.id));
    // Ports of links that are neither created here nor managed externally name no link.
    let managed: Vec<ExtManagedVirtualLinkInfo> = inputs
        .ext_managed_virtual_links
        .iter()
        .map(|link| {
            let mut ports = link_ports
                .remove(&link.vnf_virtual_link_desc_id)
                .unwrap_or_default();
            ports.sort_by(|a, b| a.id.cmp(&b.id));
            ExtManagedVirtualLinkInfo {
                id: link.id.clone(),
                vnf_virtual_link_desc_id: link.vnf_virtual_link_desc_id.clone(),
                vnfd_id: None,
                network_resource: ResourceHandle {
                    vim_connection_id: Some(
                        link.vim_connection_id
                            .clone()
                            .unwrap_or_else(|| vim.to_owned()),
                    ),
                    resource_provider_id: link.resource_provider_id.clone(),
                    resource_id: link.resource_id.clone(),
                    vim_level_resource_type: Some(NET.to_owned()),
                },
                vnf_link_ports: ports,
                ext_managed_multisite_virtual_link_id: link
                    .ext_managed_multisite_virtual_link_id
                    .clone(),
            }
        })
        .collect();
    for vnfc in &mut vnfcs {
        for cp in &mut vnfc.vnfc_cp_info {
            let dangling = cp.vnf_link_port_id.as_ref().is_some_and(|port| {
                link_ports
                    .values()
                    .any(|ports| ports.iter().any(|p| &p.id == port))
            });
            if dangling {
                cp.vnf_link_port_id = None;
            }
        }
    }
    for entry in found.values_mut() {
        if let Some(vnfc) = vnfcs.iter().find(|v| v.id == entry.info.id) {
            entry.info = vnfc.clone();
        }
    }

    let ext_links: Vec<ExtVirtualLinkInfo> = inputs
        .ext_virtual_links
        .iter()
        .map(|link| {
            let mut ports = ext_ports.remove(&link.id).unwrap_or_default();
            ports.sort_by(|a, b| a.id.cmp(&b.id));
            ExtVirtualLinkInfo {
                id: link.id.clone(),
                resource_handle: ResourceHandle {
                    vim_connection_id: Some(
                        link.vim_connection_id
                            .clone()
                            .unwrap_or_else(|| vim.to_owned()),
                    ),
                    resource_provider_id: link.resource_provider_id.clone(),
                    resource_id: link.resource_id.clone(),
                    vim_level_resource_type: Some(NET.to_owned()),
                },
                ext_link_ports: ports,
                current_vnf_ext_cp_data: link.ext_cps.clone(),
            }
        })
        .collect();

    Layout {
        resources: VnfResources::default()
            .with_vnfc_resource_info(vnfcs)
            .with_vnf_virtual_link_resource_info(links)
            .with_virtual_storage_resource_info(storages)
            .with_ext_cp_info(ext_cps)
            .with_ext_virtual_link_info(ext_links)
            .with_ext_managed_virtual_link_info(managed),
        vnfcs: found,
    }
}
