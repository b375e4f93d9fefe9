//! The simulated VIM's resources for one VNF instance, and the converging steps the
//! driver's operations are made of.
//!
//! Every step looks at what exists and changes only what differs from the target, so a
//! step run twice changes nothing the second time. Steps that create, remove or replace
//! a server draw on a [`Work`] budget: the "fail after partial work" fault runs an
//! operation with half the budget it needs, leaving a half-done deployment behind.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use crate::model::{
    ExtManagedVirtualLinkData, ExtVirtualLinkData, Grant, InstantiatedVnfInfo,
    VnfOperationalStateType,
};
use crate::new_id;
use crate::vnfd::{DeploymentFlavour, Vdu};

/// The first address of the default pool, 127.64.0.0/16.
const POOL_BASE: u32 = u32::from_be_bytes([127, 64, 0, 0]);
/// The number of addresses in the default pool.
const POOL_SIZE: u32 = 1 << 16;

/// The resources of one VNF instance in the simulated VIM. Serializable: a durable
/// simulated VIM keeps it in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Deployment {
    /// The deployment's own identifier (reported in the outcome's metadata).
    pub id: String,
    /// The VNFD the deployment was last built from.
    pub vnfd_id: String,
    /// The flavour in use.
    pub flavour_id: String,
    /// Servers, in creation order.
    pub servers: Vec<Server>,
    /// Networks of the internal virtual links, by VL descriptor id.
    pub networks: BTreeMap<String, Network>,
    /// Internal virtual links whose network the NFVO provides, by VL descriptor id.
    pub ext_managed: BTreeMap<String, ExtManagedVirtualLinkData>,
    /// External virtual links, by their id.
    pub ext_links: BTreeMap<String, ExtVirtualLinkData>,
    next_seq: u64,
    next_host: u32,
    /// The MAC counter of the deployment's ports (its start derives from the id, so
    /// deployments rarely share a MAC, as random OpenStack MACs rarely collide).
    next_mac: u64,
}

/// What a server was built from: when it differs from what the target VNFD asks for,
/// the server is replaced (change flavour, change package, and their rollbacks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Template {
    pub vnfd_id: String,
    pub sw_image: Option<String>,
    pub vcpus: Option<u32>,
    pub memory: Option<u64>,
}

impl Template {
    pub fn of(vnfd_id: &str, vdu: &Vdu) -> Self {
        Self {
            vnfd_id: vnfd_id.to_owned(),
            sw_image: vdu.sw_image.as_ref().map(|image| image.name.clone()),
            vcpus: vdu.virtual_compute.as_ref().map(|c| c.num_virtual_cpu),
            memory: vdu.virtual_compute.as_ref().map(|c| c.virtual_mem_size),
        }
    }
}

/// A server: the compute resource of one VNFC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Server {
    /// The VNFC id, stable for the VNFC's life (heal keeps it).
    pub vnfc_id: String,
    pub vdu_id: String,
    /// Creation order within the deployment.
    pub seq: u64,
    /// The compute resource id; a replacement gets a new one.
    pub resource_id: String,
    pub template: Template,
    /// The VIM image used.
    pub image: Option<String>,
    /// The VIM flavour used, when the grant named one.
    pub vim_flavour: Option<String>,
    pub power: VnfOperationalStateType,
    /// One per VduCp of the VDU, in CP order.
    pub ports: Vec<Port>,
    /// One per storage the VDU requires.
    pub volumes: Vec<Volume>,
}

/// A port: one connection point of a VNFC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Port {
    /// The VNFC CP instance id.
    pub cp_id: String,
    pub cpd_id: String,
    /// The port resource id.
    pub resource_id: String,
    /// The link port id (internal `VnfLinkPortInfo` or external `ExtLinkPortInfo`).
    pub link_port_id: String,
    pub mac: String,
    pub address: IpAddr,
    pub attachment: Attachment,
}

/// What a port is plugged into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub(super) enum Attachment {
    /// Nothing (an external CP that no external virtual link names).
    Detached,
    /// An internal virtual link (a network of the deployment or an externally managed one).
    Internal { vl_desc_id: String },
    /// An external virtual link, as an external CP.
    External {
        ext_vl_id: String,
        ext_cp_id: String,
        ext_cpd_id: String,
        cp_config_id: String,
    },
}

/// A volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Volume {
    pub id: String,
    pub desc_id: String,
    pub resource_id: String,
    pub size: u64,
}

/// A network of an internal virtual link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Network {
    pub id: String,
    pub resource_id: String,
}

/// The allocation state and the budget one run of an operation works with.
#[derive(Debug)]
pub(super) struct Work<'a> {
    vdu_addresses: &'a BTreeMap<String, Vec<IpAddr>>,
    budget: Option<usize>,
    /// Server creations, removals and replacements done (or attempted beyond the budget).
    pub used: usize,
    /// Heal moves a replaced VNFC's first CP to the VDU's next free configured address.
    pub heal_readdresses: bool,
}

impl<'a> Work<'a> {
    pub fn new(vdu_addresses: &'a BTreeMap<String, Vec<IpAddr>>, budget: Option<usize>) -> Self {
        Self {
            vdu_addresses,
            budget,
            used: 0,
            heal_readdresses: false,
        }
    }

    /// Takes one unit of work; false when the budget is spent.
    fn take(&mut self) -> bool {
        if self.budget.is_some_and(|budget| self.used >= budget) {
            return false;
        }
        self.used += 1;
        true
    }
}

/// Where (re)created servers take their image and VIM flavour from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Images<'a> {
    /// The grant's `vimAssets` (matched by VDU id), else the VDU's image name.
    Grant(Option<&'a Grant>),
    /// What the instance records for the VNFC (or another VNFC of its VDU), else the
    /// VDU's image name. Rollbacks use it: the operation's grant may name new images.
    Recorded(&'a InstantiatedVnfInfo),
}

impl Images<'_> {
    fn recorded_metadata(&self, vdu: &Vdu, vnfc_id: Option<&str>, key: &str) -> Option<String> {
        let Images::Recorded(info) = self else {
            return None;
        };
        let same = vnfc_id.and_then(|id| info.vnfc_resource_info.iter().find(|v| v.id == id));
        let sibling = || info.vnfc_resource_info.iter().find(|v| v.vdu_id == vdu.id);
        same.or_else(sibling)
            .and_then(|v| v.metadata.get(key))
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    }

    fn image(&self, vdu: &Vdu, vnfc_id: Option<&str>) -> Option<String> {
        let chosen = match self {
            Images::Grant(grant) => grant
                .and_then(|g| g.vim_assets.as_ref())
                .and_then(|assets| {
                    assets
                        .software_images
                        .iter()
                        .find(|image| image.vnfd_software_image_id == vdu.id)
                })
                .map(|image| image.vim_software_image_id.clone()),
            Images::Recorded(_) => self.recorded_metadata(vdu, vnfc_id, "image"),
        };
        chosen.or_else(|| vdu.sw_image.as_ref().map(|image| image.name.clone()))
    }

    fn vim_flavour(&self, vdu: &Vdu, vnfc_id: Option<&str>) -> Option<String> {
        match self {
            Images::Grant(grant) => grant
                .and_then(|g| g.vim_assets.as_ref())
                .and_then(|assets| {
                    assets
                        .compute_resource_flavours
                        .iter()
                        .find(|f| f.vnfd_virtual_compute_desc_id == vdu.id)
                })
                .map(|f| f.vim_flavour_id.clone()),
            Images::Recorded(_) => self.recorded_metadata(vdu, vnfc_id, "vimFlavourId"),
        }
    }
}

/// What servers are built from: the VNFD, the flavour and the image source.
#[derive(Debug, Clone, Copy)]
pub(super) struct Blueprint<'a> {
    pub vnfd_id: &'a str,
    pub flavour: &'a DeploymentFlavour,
    pub images: Images<'a>,
}

impl Deployment {
    pub fn new(vnfd_id: &str, flavour_id: &str) -> Self {
        let id = new_id();
        // FNV-1a of the id: where this deployment's MACs start.
        let next_mac = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        Self {
            id,
            vnfd_id: vnfd_id.to_owned(),
            flavour_id: flavour_id.to_owned(),
            servers: Vec::new(),
            networks: BTreeMap::new(),
            ext_managed: BTreeMap::new(),
            ext_links: BTreeMap::new(),
            next_seq: 0,
            next_host: 0,
            next_mac,
        }
    }

    /// A MAC address for a new port.
    fn mac(&mut self) -> String {
        self.next_mac = self.next_mac.wrapping_add(1);
        let n = self.next_mac;
        format!(
            "fa:16:3e:{:02x}:{:02x}:{:02x}",
            (n >> 16) & 0xff,
            (n >> 8) & 0xff,
            n & 0xff
        )
    }

    /// The index of the server of a VNFC.
    pub fn server_index(&self, vnfc_id: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.vnfc_id == vnfc_id)
    }

    /// The indexes of a VDU's servers, oldest first.
    fn vdu_server_indexes(&self, vdu_id: &str) -> Vec<usize> {
        let mut indexes: Vec<usize> = (0..self.servers.len())
            .filter(|&i| self.servers[i].vdu_id == vdu_id)
            .collect();
        indexes.sort_by_key(|&i| self.servers[i].seq);
        indexes
    }

    /// The index of the most recently created server that `pick` accepts.
    fn newest(&self, pick: impl Fn(&Server) -> bool) -> Option<usize> {
        (0..self.servers.len())
            .filter(|&i| pick(&self.servers[i]))
            .max_by_key(|&i| self.servers[i].seq)
    }

    /// Creates a server of `vdu` (with the given VNFC id, or a new one), its ports and
    /// its volumes. False when the budget is spent.
    pub fn create_server(
        &mut self,
        blueprint: &Blueprint<'_>,
        vdu: &Vdu,
        vnfc_id: Option<String>,
        power: VnfOperationalStateType,
        work: &mut Work<'_>,
    ) -> bool {
        if !work.take() {
            return false;
        }
        self.next_seq += 1;
        let vnfc_id = vnfc_id.unwrap_or_else(new_id);
        let server = Server {
            image: blueprint.images.image(vdu, Some(&vnfc_id)),
            vim_flavour: blueprint.images.vim_flavour(vdu, Some(&vnfc_id)),
            vnfc_id,
            vdu_id: vdu.id.clone(),
            seq: self.next_seq,
            resource_id: new_id(),
            template: Template::of(blueprint.vnfd_id, vdu),
            power,
            ports: Vec::new(),
            volumes: Vec::new(),
        };
        self.servers.push(server);
        self.converge_parts_of(self.servers.len() - 1, blueprint.flavour, work);
        true
    }

    /// Gives a server a new compute resource; with a blueprint, rebuilt from it (new
    /// image, new template). False when the budget is spent.
    pub fn replace_compute(
        &mut self,
        index: usize,
        rebuild: Option<(&Blueprint<'_>, &Vdu)>,
        work: &mut Work<'_>,
    ) -> bool {
        if !work.take() {
            return false;
        }
        let server = &mut self.servers[index];
        server.resource_id = new_id();
        if let Some((blueprint, vdu)) = rebuild {
            server.template = Template::of(blueprint.vnfd_id, vdu);
            server.image = blueprint.images.image(vdu, Some(&server.vnfc_id));
            server.vim_flavour = blueprint.images.vim_flavour(vdu, Some(&server.vnfc_id));
        }
        true
    }

    /// Moves a server's first port to the next address configured for its VDU (after
    /// its current one, wrapping) that no port of the deployment uses, as a replacement
    /// server that got a new address would. False when there is none.
    pub fn readdress(&mut self, index: usize, work: &Work<'_>) -> bool {
        let used: BTreeSet<IpAddr> = self
            .servers
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.address))
            .collect();
        let Some(server) = self.servers.get_mut(index) else {
            return false;
        };
        let Some(list) = work.vdu_addresses.get(&server.vdu_id) else {
            return false;
        };
        let Some(port) = server.ports.first_mut() else {
            return false;
        };
        let start = list
            .iter()
            .position(|a| *a == port.address)
            .map_or(0, |p| p + 1);
        let next = (0..list.len())
            .filter_map(|i| list.get((start + i) % list.len()))
            .find(|a| !used.contains(a));
        match next {
            Some(address) => {
                port.address = *address;
                true
            }
            None => false,
        }
    }

    /// Brings the number of `vdu`'s servers to `count`: removes the most recently
    /// created ones first, or creates new ones.
    pub fn converge_count(
        &mut self,
        blueprint: &Blueprint<'_>,
        vdu: &Vdu,
        count: u32,
        work: &mut Work<'_>,
    ) {
        let target = usize::try_from(count).unwrap_or(usize::MAX);
        loop {
            let current = self.servers.iter().filter(|s| s.vdu_id == vdu.id).count();
            if current > target {
                let Some(newest) = self.newest(|s| s.vdu_id == vdu.id) else {
                    return;
                };
                if !work.take() {
                    return;
                }
                self.servers.remove(newest);
            } else if current < target {
                let power = VnfOperationalStateType::Started;
                if !self.create_server(blueprint, vdu, None, power, work) {
                    return;
                }
            } else {
                return;
            }
        }
    }

    /// Removes the servers `remove` accepts, most recently created first. False when
    /// the budget ran out before all were removed.
    pub fn remove_servers(
        &mut self,
        remove: impl Fn(&Server) -> bool,
        work: &mut Work<'_>,
    ) -> bool {
        while let Some(newest) = self.newest(&remove) {
            if !work.take() {
                return false;
            }
            self.servers.remove(newest);
        }
        true
    }

    /// Removes the servers of VDUs that `flavour` does not have.
    pub fn remove_vdus_not_in(&mut self, flavour: &DeploymentFlavour, work: &mut Work<'_>) {
        self.remove_servers(|s| flavour.vdu(&s.vdu_id).is_none(), work);
    }

    /// Gives every server the ports and volumes its VDU asks for in `flavour`.
    pub fn converge_parts(&mut self, flavour: &DeploymentFlavour, work: &mut Work<'_>) {
        for index in 0..self.servers.len() {
            self.converge_parts_of(index, flavour, work);
        }
    }

    fn converge_parts_of(
        &mut self,
        index: usize,
        flavour: &DeploymentFlavour,
        work: &mut Work<'_>,
    ) {
        let vdu_id = self.servers[index].vdu_id.clone();
        let Some(vdu) = flavour.vdu(&vdu_id) else {
            return;
        };
        let cps = flavour.cps_of(&vdu_id);
        self.servers[index]
            .ports
            .retain(|p| cps.iter().any(|cp| cp.id == p.cpd_id));
        for (position, cp) in cps.iter().enumerate() {
            if self.servers[index].ports.iter().any(|p| p.cpd_id == cp.id) {
                continue;
            }
            let address = self.allocate_address(&vdu_id, position == 0, work);
            let port = Port {
                cp_id: new_id(),
                cpd_id: cp.id.clone(),
                resource_id: new_id(),
                link_port_id: new_id(),
                mac: self.mac(),
                address,
                attachment: Attachment::Detached,
            };
            self.servers[index].ports.push(port);
        }
        let position_of = |cpd_id: &str| cps.iter().position(|cp| cp.id == cpd_id);
        self.servers[index]
            .ports
            .sort_by_key(|p| position_of(&p.cpd_id));

        let volumes = &mut self.servers[index].volumes;
        volumes.retain(|v| vdu.virtual_storages.contains(&v.desc_id));
        for desc_id in &vdu.virtual_storages {
            if volumes.iter().any(|v| &v.desc_id == desc_id) {
                continue;
            }
            let size = flavour
                .virtual_storages
                .iter()
                .find(|s| &s.id == desc_id)
                .map(|s| s.size_of_storage)
                .unwrap_or(0);
            volumes.push(Volume {
                id: new_id(),
                desc_id: desc_id.clone(),
                resource_id: new_id(),
                size,
            });
        }
    }

    /// An address for a new port: the VDU's configured addresses go, in order, to the
    /// first CP of its VNFCs; everything else comes from 127.64.0.0/16, never handing
    /// out an address twice until the pool wraps.
    fn allocate_address(&mut self, vdu_id: &str, first_cp: bool, work: &Work<'_>) -> IpAddr {
        let used: BTreeSet<IpAddr> = self
            .servers
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.address))
            .collect();
        if first_cp
            && let Some(address) = work
                .vdu_addresses
                .get(vdu_id)
                .and_then(|list| list.iter().find(|a| !used.contains(a)))
        {
            return *address;
        }
        for _ in 0..POOL_SIZE {
            self.next_host = (self.next_host + 1) % POOL_SIZE;
            let low = self.next_host & 0xff;
            if low == 0 || low == 0xff {
                continue;
            }
            let address = IpAddr::V4(Ipv4Addr::from(POOL_BASE + self.next_host));
            if !used.contains(&address) {
                return address;
            }
        }
        // Only reachable with more than 65 000 ports in one deployment.
        IpAddr::V4(Ipv4Addr::from(POOL_BASE + 1))
    }

    /// A network for each internal virtual link of `flavour` that the NFVO does not
    /// provide; other networks are removed.
    pub fn converge_networks(&mut self, flavour: &DeploymentFlavour) {
        let wanted: BTreeSet<&str> = flavour
            .virtual_links
            .iter()
            .map(|vl| vl.id.as_str())
            .filter(|id| !self.ext_managed.contains_key(*id))
            .collect();
        self.networks.retain(|id, _| wanted.contains(id.as_str()));
        for id in wanted {
            self.networks
                .entry(id.to_owned())
                .or_insert_with(|| Network {
                    id: new_id(),
                    resource_id: new_id(),
                });
        }
    }

    /// Replaces the external virtual links.
    pub fn set_ext_links(&mut self, links: &[ExtVirtualLinkData]) {
        self.ext_links = links.iter().map(|l| (l.id.clone(), l.clone())).collect();
    }

    /// Adds or updates external virtual links: a CPD a new link names leaves the link
    /// that had it; links left without CPDs are dropped.
    pub fn merge_ext_links(&mut self, links: &[ExtVirtualLinkData]) {
        for link in links {
            let claimed: BTreeSet<&str> = link.ext_cps.iter().map(|c| c.cpd_id.as_str()).collect();
            for (id, other) in &mut self.ext_links {
                if id != &link.id {
                    other
                        .ext_cps
                        .retain(|c| !claimed.contains(c.cpd_id.as_str()));
                }
            }
            self.ext_links.insert(link.id.clone(), link.clone());
        }
        self.ext_links.retain(|_, link| !link.ext_cps.is_empty());
    }

    /// Replaces the externally managed internal virtual links.
    pub fn set_ext_managed(&mut self, links: &[ExtManagedVirtualLinkData]) {
        self.ext_managed = links
            .iter()
            .map(|l| (l.vnf_virtual_link_desc_id.clone(), l.clone()))
            .collect();
    }

    /// Plugs every port into what `flavour` and the external virtual links say. A port
    /// that moves to another network gets a new port resource and link port; an
    /// external CP keeps its id while it stays external.
    pub fn rewire(&mut self, flavour: &DeploymentFlavour) {
        let mut position_in_vdu = vec![0usize; self.servers.len()];
        let vdus: BTreeSet<String> = self.servers.iter().map(|s| s.vdu_id.clone()).collect();
        for vdu_id in &vdus {
            for (position, index) in self.vdu_server_indexes(vdu_id).into_iter().enumerate() {
                position_in_vdu[index] = position;
            }
        }
        let desired: Vec<Vec<Attachment>> = self
            .servers
            .iter()
            .enumerate()
            .map(|(index, server)| {
                server
                    .ports
                    .iter()
                    .map(|port| self.attachment_for(flavour, &port.cpd_id, position_in_vdu[index]))
                    .collect()
            })
            .collect();
        for (server, wanted) in self.servers.iter_mut().zip(desired) {
            for (port, target) in server.ports.iter_mut().zip(wanted) {
                rewire_port(port, target);
            }
        }
    }

    fn attachment_for(
        &self,
        flavour: &DeploymentFlavour,
        cpd_id: &str,
        position: usize,
    ) -> Attachment {
        let Some(cp) = flavour.vdu_cps.iter().find(|cp| cp.id == cpd_id) else {
            return Attachment::Detached;
        };
        if let Some(vl) = &cp.virtual_link {
            return Attachment::Internal {
                vl_desc_id: vl.clone(),
            };
        }
        let names: Vec<&str> = std::iter::once(cp.id.as_str())
            .chain(
                flavour
                    .ext_cps
                    .iter()
                    .filter(|ext| ext.vdu_cp == cp.id)
                    .map(|ext| ext.id.as_str()),
            )
            .collect();
        for (ext_vl_id, link) in &self.ext_links {
            let Some(data) = link
                .ext_cps
                .iter()
                .find(|data| names.contains(&data.cpd_id.as_str()))
            else {
                continue;
            };
            let keys: Vec<&String> = data.cp_config.keys().collect();
            let cp_config_id = keys
                .get(position.min(keys.len().saturating_sub(1)))
                .map(|key| (*key).clone())
                .unwrap_or_else(|| data.cpd_id.clone());
            return Attachment::External {
                ext_vl_id: ext_vl_id.clone(),
                ext_cp_id: String::new(),
                ext_cpd_id: data.cpd_id.clone(),
                cp_config_id,
            };
        }
        Attachment::Detached
    }

    /// Makes the deployment what `recorded` describes (the rollbacks): servers the
    /// record does not have are removed, recorded VNFCs that are missing are created
    /// again with their ids, servers built from another VNFD or VDU definition are
    /// rebuilt, and the external links are the recorded ones.
    pub fn restore(
        &mut self,
        recorded: &InstantiatedVnfInfo,
        blueprint: &Blueprint<'_>,
        work: &mut Work<'_>,
    ) {
        self.vnfd_id = blueprint.vnfd_id.to_owned();
        self.flavour_id = blueprint.flavour.id.clone();
        self.ext_links = recorded
            .ext_virtual_link_info
            .iter()
            .map(|info| (info.id.clone(), info.to_data()))
            .collect();
        self.ext_managed = recorded
            .ext_managed_virtual_link_info
            .iter()
            .map(|info| (info.vnf_virtual_link_desc_id.clone(), info.to_data()))
            .collect();
        self.converge_networks(blueprint.flavour);

        let keep: BTreeSet<&str> = recorded
            .vnfc_resource_info
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        self.remove_servers(|s| !keep.contains(s.vnfc_id.as_str()), work);
        for record in &recorded.vnfc_resource_info {
            let Some(vdu) = blueprint.flavour.vdu(&record.vdu_id) else {
                continue;
            };
            let power = record
                .metadata
                .get(crate::infra::VNFC_POWER_STATE)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or(recorded.vnf_state);
            match self.server_index(&record.id) {
                Some(index) => {
                    if self.servers[index].template != Template::of(blueprint.vnfd_id, vdu) {
                        self.replace_compute(index, Some((blueprint, vdu)), work);
                    }
                    self.servers[index].power = power;
                }
                None => {
                    self.create_server(blueprint, vdu, Some(record.id.clone()), power, work);
                }
            }
        }
        self.converge_parts(blueprint.flavour, work);
        self.rewire(blueprint.flavour);
    }
}

fn rewire_port(port: &mut Port, target: Attachment) {
    let same_network = match (&port.attachment, &target) {
        (Attachment::Detached, Attachment::Detached) => true,
        (Attachment::Internal { vl_desc_id: a }, Attachment::Internal { vl_desc_id: b }) => a == b,
        (Attachment::External { ext_vl_id: a, .. }, Attachment::External { ext_vl_id: b, .. }) => {
            a == b
        }
        _ => false,
    };
    let target = match (target, &port.attachment) {
        (
            Attachment::External {
                ext_vl_id,
                ext_cpd_id,
                cp_config_id,
                ..
            },
            current,
        ) => {
            let ext_cp_id = match current {
                Attachment::External { ext_cp_id, .. } => ext_cp_id.clone(),
                _ => new_id(),
            };
            Attachment::External {
                ext_vl_id,
                ext_cp_id,
                ext_cpd_id,
                cp_config_id,
            }
        }
        (other, _) => other,
    };
    if !same_network {
        port.resource_id = new_id();
        port.link_port_id = new_id();
    }
    port.attachment = target;
}
