//! The `nfv` parameter of a BaseHOT: what the VNFD, the instantiation level, the
//! request and the grant decide, in the layout the package's templates read with
//! `get_param: [nfv, …]`:
//!
//! ```yaml
//! VDU:
//!   VDU1:            # per VDU
//!     computeFlavourId: m1.small     # grant vimAssets, else the VDU's requested
//!                                    # additional capability name, else the VDU id
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
use tacker_core::model::{
    ExtManagedVirtualLinkData, ExtVirtualLinkData, Grant, GrantRequest, ResourceType,
};
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
    /// The grant request of the operation (which resources of which VDU the grant's
    /// `addResources` answer).
    pub grant_request: Option<&'a GrantRequest>,
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
        .or_else(|| {
            vdu.virtual_compute
                .as_ref()
                .and_then(|c| c.requested_additional_capability_names.first().cloned())
        })
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

/// The zone the grant gives a VDU's new compute resources. Without the grant request
/// (no way to tell the VDUs apart): the zone of any granted resource, else the first
/// zone of the grant.
fn zone(grant: Option<&Grant>, request: Option<&GrantRequest>, vdu_id: &str) -> Option<String> {
    let grant = grant?;
    let zone_of = |id: &str| {
        grant
            .zones
            .iter()
            .find(|z| z.id == id)
            .map(|z| z.zone_id.clone())
    };
    let Some(request) = request else {
        return grant
            .add_resources
            .iter()
            .chain(grant.update_resources.iter())
            .find_map(|info| info.zone_id.as_deref().and_then(zone_of))
            .or_else(|| grant.zones.first().map(|z| z.zone_id.clone()));
    };
    request
        .add_resources
        .iter()
        .filter(|d| d.resource_type == ResourceType::Compute && d.vdu_id.as_deref() == Some(vdu_id))
        .find_map(|definition| {
            grant
                .add_resources
                .iter()
                .find(|info| info.resource_definition_id == definition.id)
                .and_then(|info| info.zone_id.as_deref())
                .and_then(zone_of)
        })
}

/// The `nfv` parameter.
pub fn nfv_parameter(inputs: &NfvInputs<'_>) -> Value {
    let flavour = inputs.flavour;
    let mut vdus = Map::new();
    for vdu in &flavour.vdus {
        let zone = zone(inputs.grant, inputs.grant_request, &vdu.id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tacker_core::model::VnfExtCpData;

    #[test]
    fn the_grant_decides_flavours_images_and_zones_and_the_request_the_networks() {
        let vnfd = tacker_core::sim::sample_vnfd();
        let flavour = &vnfd.flavours[0];
        let vdu = &flavour.vdus[0];
        let grant: Grant = serde_json::from_value(json!({
            "id": "g", "vnfInstanceId": "i", "vnfLcmOpOccId": "o",
            "zones": [{"id": "z1", "zoneId": "nova-az-1"}],
            "addResources": [{"resourceDefinitionId": "r1", "zoneId": "z1"}],
            "vimAssets": {
                "computeResourceFlavours": [{"vnfdVirtualComputeDescId": vdu.id, "vimFlavourId": "m1.large"}],
                "softwareImages": [{"vnfdSoftwareImageId": vdu.id, "vimSoftwareImageId": "glance-img-7"}]
            },
            "_links": {"self": {"href": "x"}, "vnfLcmOpOcc": {"href": "x"}, "vnfInstance": {"href": "x"}}
        }))
        .expect("grant");
        let cp = &flavour.cps_of(&vdu.id)[0];
        let link = ExtVirtualLinkData {
            id: "ext-1".into(),
            vim_connection_id: None,
            resource_provider_id: None,
            resource_id: "net-public".into(),
            ext_cps: vec![VnfExtCpData {
                cpd_id: cp.id.clone(),
                cp_config: serde_json::from_value(json!({"c1": {"cpProtocolData": [{
                    "layerProtocol": "IP_OVER_ETHERNET",
                    "ipOverEthernet": {"ipAddresses": [
                        {"type": "IPV4", "fixedAddresses": ["10.0.0.5"], "subnetId": "sub-1"}]}}]}}))
                .expect("cp config"),
            }],
            ext_link_ports: Vec::new(),
        };
        let counts = BTreeMap::from([(vdu.id.clone(), 3)]);
        let nfv = nfv_parameter(&NfvInputs {
            flavour,
            counts: &counts,
            grant: Some(&grant),
            grant_request: None,
            ext_virtual_links: std::slice::from_ref(&link),
            ext_managed_virtual_links: &[],
        });
        let entry = &nfv["VDU"][&vdu.id];
        assert_eq!(entry["computeFlavourId"], "m1.large");
        assert_eq!(entry["vcImageId"], "glance-img-7");
        assert_eq!(entry["locationConstraints"], "nova-az-1");
        assert_eq!(entry["desired_capacity"], 3);
        assert_eq!(nfv["CP"][&cp.id]["network"], "net-public");
        assert_eq!(
            nfv["CP"][&cp.id]["fixed_ips"],
            json!([{"ip_address": "10.0.0.5", "subnet": "sub-1"}])
        );
        assert_eq!(nfv["CP"][format!("{}-1", cp.id)], nfv["CP"][&cp.id]);

        // Without a grant: the VDU id as flavour, the VNFD's image name, no zone.
        let bare = nfv_parameter(&NfvInputs {
            flavour,
            counts: &counts,
            grant: None,
            grant_request: None,
            ext_virtual_links: &[],
            ext_managed_virtual_links: &[],
        });
        let entry = &bare["VDU"][&vdu.id];
        assert_eq!(entry["computeFlavourId"], json!(vdu.id));
        assert_eq!(
            entry["vcImageId"],
            json!(vdu.sw_image.as_ref().map(|i| i.name.clone()))
        );
        assert!(entry.get("locationConstraints").is_none());

        // The VNFD's requested additional capability (Tacker's packages name the Nova
        // flavour there) comes before the VDU id.
        let mut named = flavour.clone();
        named.vdus[0]
            .virtual_compute
            .get_or_insert_with(Default::default)
            .requested_additional_capability_names = vec!["m1.tiny".to_owned()];
        let nfv = nfv_parameter(&NfvInputs {
            flavour: &named,
            counts: &counts,
            grant: None,
            grant_request: None,
            ext_virtual_links: &[],
            ext_managed_virtual_links: &[],
        });
        assert_eq!(nfv["VDU"][&named.vdus[0].id]["computeFlavourId"], "m1.tiny");
    }

    #[test]
    fn each_vdu_gets_the_zone_granted_to_its_own_resources() {
        let vnfd = tacker_core::sim::sample_vnfd();
        let mut flavour = vnfd.flavours[0].clone();
        let mut second = flavour.vdus[0].clone();
        second.id = "VDU_B".into();
        flavour.vdus.push(second);
        let first = flavour.vdus[0].id.clone();
        let grant: Grant = serde_json::from_value(json!({
            "id": "g", "vnfInstanceId": "i", "vnfLcmOpOccId": "o",
            "zones": [{"id": "z1", "zoneId": "az-1"}, {"id": "z2", "zoneId": "az-2"}],
            "addResources": [{"resourceDefinitionId": "r1", "zoneId": "z2"}, {"resourceDefinitionId": "r2", "zoneId": "z1"}],
            "_links": {"self": {"href": "x"}, "vnfLcmOpOcc": {"href": "x"}, "vnfInstance": {"href": "x"}}
        }))
        .expect("grant");
        let request: GrantRequest = serde_json::from_value(json!({
            "vnfInstanceId": "i", "vnfLcmOpOccId": "o", "vnfdId": "d", "operation": "INSTANTIATE",
            "isAutomaticInvocation": false,
            "addResources": [
                {"id": "r1", "type": "COMPUTE", "vduId": first, "resourceTemplateId": first},
                {"id": "r2", "type": "COMPUTE", "vduId": "VDU_B", "resourceTemplateId": "VDU_B"}],
            "_links": {"vnfLcmOpOcc": {"href": "x"}, "vnfInstance": {"href": "x"}}
        }))
        .expect("request");
        let counts = BTreeMap::new();
        let nfv = nfv_parameter(&NfvInputs {
            flavour: &flavour,
            counts: &counts,
            grant: Some(&grant),
            grant_request: Some(&request),
            ext_virtual_links: &[],
            ext_managed_virtual_links: &[],
        });
        assert_eq!(nfv["VDU"][&first]["locationConstraints"], "az-2");
        assert_eq!(nfv["VDU"]["VDU_B"]["locationConstraints"], "az-1");
    }
}
