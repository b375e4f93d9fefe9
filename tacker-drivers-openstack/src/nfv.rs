//! The `nfv` parameter of a BaseHOT: what the VNFD, the instantiation level, the
//! request and the grant decide, in the layout the package's templates read with
//! `get_param: [nfv, …]`:
//!
//! ```yaml
//! VDU:
//!   VDU1:            # per VDU
//!     computeFlavourId: m1.small     # grant vimAssets, else the VDU id
//!     vcImageId: cirros-0.5.2        # grant vimAssets, else the VDU's image name
//!     locationConstraints: zone-a    # grant zones, when it gives one
//!     desired_capacity: 2            # VNFCs of the VDU at the target scale levels
//!   VDU1-VirtualStorage:             # per virtual storage with an image
//!     vcImageId: image-of-storage
//! CP:
//!   VDU1_CP1:        # per VDU CP connected to an external virtual link
//!     network: <extVirtualLinks[].resourceId>
//!     fixed_ips: [{ip_address: 10.0.0.5, subnet: <subnetId>}]
//!     port: <extLinkPorts[].resourceHandle.resourceId>   # when the NFVO made the port
//! VL:
//!   internalVL1:     # per externally managed internal virtual link
//!     network: <extManagedVirtualLinks[].resourceId>
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tacker_core::model::{ExtManagedVirtualLinkData, ExtVirtualLinkData, Grant};
use tacker_core::vnfd::{DeploymentFlavour, Vdu};

/// The inputs of the `nfv` parameter.
#[derive(Debug, Clone, Copy)]
pub struct NfvInputs<'a> {
    /// The flavour deployed.
    pub flavour: &'a DeploymentFlavour,
    /// VNFCs per VDU.
    pub counts: &'a BTreeMap<String, u32>,
    /// The grant of the operation.
    pub grant: Option<&'a Grant>,
    /// The external virtual links the VNF is connected to.
    pub ext_virtual_links: &'a [ExtVirtualLinkData],
    /// The externally managed internal virtual links.
    pub ext_managed_virtual_links: &'a [ExtManagedVirtualLinkData],
}

/// The VDU CP that an external CP descriptor id names: itself when it is a VDU CP,
/// else the VDU CP the flavour's external CP exposes.
pub fn vdu_cp_of<'a>(flavour: &'a DeploymentFlavour, cpd_id: &'a str) -> &'a str {
    if flavour.vdu_cps.iter().any(|cp| cp.id == cpd_id) {
        return cpd_id;
    }
    flavour
        .ext_cps
        .iter()
        .find(|ext| ext.id == cpd_id)
        .map(|ext| ext.vdu_cp.as_str())
        .unwrap_or(cpd_id)
}

fn flavour_id(grant: Option<&Grant>, vdu: &Vdu) -> String {
    grant
        .and_then(|g| g.vim_assets.as_ref())
        .and_then(|assets| {
            assets
                .compute_resource_flavours
                .iter()
                .find(|f| f.vnfd_virtual_compute_desc_id == vdu.id)
        })
        .map(|f| f.vim_flavour_id.clone())
        .unwrap_or_else(|| vdu.id.clone())
}

fn image_id(grant: Option<&Grant>, desc_id: &str, fallback: Option<&str>) -> Option<String> {
    grant
        .and_then(|g| g.vim_assets.as_ref())
        .and_then(|assets| {
            assets
                .software_images
                .iter()
                .find(|i| i.vnfd_software_image_id == desc_id)
        })
        .map(|i| i.vim_software_image_id.clone())
        .or_else(|| fallback.map(str::to_owned))
}

fn zone(grant: Option<&Grant>) -> Option<String> {
    let grant = grant?;
    let zone_of = |id: &str| {
        grant
            .zones
            .iter()
            .find(|z| z.id == id)
            .map(|z| z.zone_id.clone())
    };
    grant
        .add_resources
        .iter()
        .chain(grant.update_resources.iter())
        .find_map(|info| info.zone_id.as_deref().and_then(zone_of))
        .or_else(|| grant.zones.first().map(|z| z.zone_id.clone()))
}

/// The `nfv` parameter.
pub fn nfv_parameter(inputs: &NfvInputs<'_>) -> Value {
    let flavour = inputs.flavour;
    let mut vdus = Map::new();
    let zone = zone(inputs.grant);
    for vdu in &flavour.vdus {
        let mut entry = Map::new();
        entry.insert(
            "computeFlavourId".into(),
            json!(flavour_id(inputs.grant, vdu)),
        );
        if let Some(image) = image_id(
            inputs.grant,
            &vdu.id,
            vdu.sw_image.as_ref().map(|i| i.name.as_str()),
        ) {
            entry.insert("vcImageId".into(), json!(image));
        }
        if let Some(zone) = &zone {
            entry.insert("locationConstraints".into(), json!(zone));
        }
        entry.insert(
            "desired_capacity".into(),
            json!(inputs.counts.get(&vdu.id).copied().unwrap_or(0)),
        );
        vdus.insert(vdu.id.clone(), Value::Object(entry));
    }
    for storage in &flavour.virtual_storages {
        if let Some(image) = image_id(
            inputs.grant,
            &storage.id,
            storage.sw_image.as_ref().map(|i| i.name.as_str()),
        ) {
            vdus.insert(storage.id.clone(), json!({ "vcImageId": image }));
        }
    }

    let mut cps = Map::new();
    for link in inputs.ext_virtual_links {
        for ext_cp in &link.ext_cps {
            let cp_id = vdu_cp_of(flavour, &ext_cp.cpd_id);
            for (index, config) in ext_cp.cp_config.values().enumerate() {
                let mut entry = Map::new();
                entry.insert("network".into(), json!(link.resource_id));
                let mut fixed_ips = Vec::new();
                for protocol in &config.cp_protocol_data {
                    let Some(ip) = &protocol.ip_over_ethernet else {
                        continue;
                    };
                    for address in &ip.ip_addresses {
                        if address.fixed_addresses.is_empty() {
                            let mut fixed = Map::new();
                            if let Some(subnet) = &address.subnet_id {
                                fixed.insert("subnet".into(), json!(subnet));
                            }
                            fixed_ips.push(Value::Object(fixed));
                        }
                        for fixed_address in &address.fixed_addresses {
                            let mut fixed = Map::new();
                            fixed.insert("ip_address".into(), json!(fixed_address));
                            if let Some(subnet) = &address.subnet_id {
                                fixed.insert("subnet".into(), json!(subnet));
                            }
                            fixed_ips.push(Value::Object(fixed));
                        }
                    }
                    if let Some(mac) = &ip.mac_address {
                        entry.insert("mac_address".into(), json!(mac));
                    }
                }
                if !fixed_ips.is_empty() {
                    entry.insert("fixed_ips".into(), Value::Array(fixed_ips));
                }
                if let Some(port_id) = &config.link_port_id
                    && let Some(port) = link.ext_link_ports.iter().find(|p| &p.id == port_id)
                {
                    entry.insert("port".into(), json!(port.resource_handle.resource_id));
                }
                let entry = Value::Object(entry);
                cps.insert(format!("{cp_id}-{}", index + 1), entry.clone());
                if index == 0 {
                    cps.insert(cp_id.to_owned(), entry);
                }
            }
        }
    }

    let mut vls = Map::new();
    for link in inputs.ext_managed_virtual_links {
        vls.insert(
            link.vnf_virtual_link_desc_id.clone(),
            json!({ "network": link.resource_id }),
        );
    }

    json!({ "VDU": vdus, "CP": cps, "VL": vls })
}
