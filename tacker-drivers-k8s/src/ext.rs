//! External connectivity of a CNF.
//!
//! On a Kubernetes VIM an external CP of the VNF is what exposes its VDU's pods
//! outside: a Service of the VNF's manifests (or chart) that carries the annotation
//! [`EXT_CP_ANNOTATION`] with the CP's id (a `VnfExtCp` or the `VduCp` it exposes;
//! several ids separated by commas). NetworkPolicies may carry the same annotation to
//! guard the CP. The request's external virtual links then map as follows:
//!
//! - the fixed addresses of an external CP's `cpProtocolData` become the Service's
//!   `spec.externalIPs` (none asked for: the Service keeps the addresses the cluster
//!   gives it, which are reported as dynamic);
//! - the link's `resourceId` is the external network. Where it is a CIDR, every
//!   NetworkPolicy of the CP admits ingress from that network only (each ingress rule's
//!   peers become that `ipBlock`); a NetworkPolicy of a CP whose link names no CIDR is
//!   refused;
//! - the Service is the CP's port on the link (`extLinkPorts`), and every VNFC of the
//!   CP's VDU has a `vnfcCpInfo` that names the external CP.
//!
//! Links are applied with the rest of the manifests (server-side apply), so every
//! operation that applies them again keeps the recorded connectivity, and a change of
//! connectivity is the recorded manifests applied with the new links (its rollback,
//! with the recorded ones). What has no meaning on a Kubernetes VIM is refused with the
//! reason before anything is applied: pre-created link ports, more than one `cpConfig`
//! per CP (one Service, one set of addresses), an address of the wrong family, a CP that
//! no Service exposes, or an annotated object of another kind.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::{Value, json};
use tacker_core::infra::InfraContext;
use tacker_core::model::{
    CpProtocolInfo, ExtLinkPortInfo, ExtVirtualLinkData, ExtVirtualLinkInfo, IpAddressInfo,
    IpAddressType, IpOverEthernetAddressInfo, LayerProtocol, ResourceHandle, VnfExtCpData,
    VnfExtCpInfo, VnfInstance, VnfcCpInfo, VnfcResourceInfo,
};
use tacker_core::vnfd::{DeploymentFlavour, VduCp};
use tacker_core::{Error, Result};

use crate::manifest::ManifestObject;

/// The annotation naming the external CPs a Service exposes (or a NetworkPolicy
/// guards): CPD ids separated by commas.
pub const EXT_CP_ANNOTATION: &str = "tacker-vnfm/ext-cp";

/// The external links in effect after an operation: those the instance records, with
/// the links of `changes` replacing the recorded ones of the same id.
pub(crate) fn effective_links(
    instance: &VnfInstance,
    changes: &[ExtVirtualLinkData],
) -> Vec<ExtVirtualLinkData> {
    let mut links: Vec<ExtVirtualLinkData> = instance
        .instantiated_vnf_info
        .as_ref()
        .map(|info| {
            info.ext_virtual_link_info
                .iter()
                .map(ExtVirtualLinkInfo::to_data)
                .collect()
        })
        .unwrap_or_default();
    for change in changes {
        match links.iter_mut().find(|l| l.id == change.id) {
            Some(link) => *link = change.clone(),
            None => links.push(change.clone()),
        }
    }
    // A CP moved to another link leaves the link it was on.
    let moved: BTreeSet<&str> = changes
        .iter()
        .flat_map(|l| l.ext_cps.iter().map(|c| c.cpd_id.as_str()))
        .collect();
    let changed: BTreeSet<&str> = changes.iter().map(|l| l.id.as_str()).collect();
    links.retain_mut(|link| {
        if changed.contains(link.id.as_str()) {
            return true;
        }
        link.ext_cps.retain(|c| !moved.contains(c.cpd_id.as_str()));
        !link.ext_cps.is_empty()
    });
    links
}

/// The VduCp an external CP of the request names (itself or the VduCp of a VnfExtCp).
fn vdu_cp_of<'f>(flavour: &'f DeploymentFlavour, cpd_id: &str) -> Option<&'f VduCp> {
    flavour
        .vdu_cps
        .iter()
        .find(|cp| cp.id == cpd_id)
        .or_else(|| {
            let ext = flavour.ext_cps.iter().find(|e| e.id == cpd_id)?;
            flavour.vdu_cps.iter().find(|cp| cp.id == ext.vdu_cp)
        })
}

/// Every id that names the CP `cpd_id`: itself, its VduCp and the VnfExtCps on it.
fn names_of<'f>(flavour: &'f DeploymentFlavour, cpd_id: &'f str) -> BTreeSet<&'f str> {
    let mut names = BTreeSet::from([cpd_id]);
    if let Some(vdu_cp) = vdu_cp_of(flavour, cpd_id) {
        names.insert(&vdu_cp.id);
        names.extend(
            flavour
                .ext_cps
                .iter()
                .filter(|e| e.vdu_cp == vdu_cp.id)
                .map(|e| e.id.as_str()),
        );
    }
    names
}

/// The CP ids an object's annotation names.
fn annotated(object: &Value) -> Vec<&str> {
    object["metadata"]["annotations"][EXT_CP_ANNOTATION]
        .as_str()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `object` is annotated for the external CP `cpd_id`.
pub(crate) fn serves(object: &Value, flavour: &DeploymentFlavour, cpd_id: &str) -> bool {
    let names = names_of(flavour, cpd_id);
    annotated(object).iter().any(|n| names.contains(n))
}

/// One external CP of the request: the link it is on, its data and its config id.
struct CpOnLink<'a> {
    link: &'a ExtVirtualLinkData,
    cp: &'a VnfExtCpData,
    fixed: Vec<IpAddr>,
}

/// The external CPs of `links`, checked against what a Kubernetes VIM can do.
fn cps_of<'a>(
    flavour: &DeploymentFlavour,
    links: &'a [ExtVirtualLinkData],
) -> Result<Vec<CpOnLink<'a>>> {
    let mut out = Vec::new();
    for link in links {
        let at = |cp: &str| format!("external CP {cp} of external virtual link {}", link.id);
        if !link.ext_link_ports.is_empty() {
            return Err(Error::Unprocessable(format!(
                "external virtual link {}: extLinkPorts (ports created beforehand) have no meaning on a Kubernetes VIM, where a Service of the VNF is the port",
                link.id
            )));
        }
        for cp in &link.ext_cps {
            if vdu_cp_of(flavour, &cp.cpd_id).is_none() {
                return Err(Error::Unprocessable(format!(
                    "{}: flavour {} has no VduCp or VnfExtCp {}",
                    at(&cp.cpd_id),
                    flavour.id,
                    cp.cpd_id
                )));
            }
            if cp.cp_config.len() > 1 {
                return Err(Error::Unprocessable(format!(
                    "{}: on a Kubernetes VIM one Service exposes the CP with one set of addresses, so cpConfig takes one entry, not {}",
                    at(&cp.cpd_id),
                    cp.cp_config.len()
                )));
            }
            let (config_id, config) = match cp.cp_config.iter().next() {
                Some((id, config)) => (id.clone(), Some(config)),
                None => (String::new(), None),
            };
            let mut fixed = Vec::new();
            for config in config.into_iter() {
                if config.link_port_id.is_some() || config.parent_cp_config_id.is_some() {
                    return Err(Error::Unprocessable(format!(
                        "{} (cpConfig {config_id}): linkPortId and parentCpConfigId have no meaning on a Kubernetes VIM",
                        at(&cp.cpd_id)
                    )));
                }
                for data in &config.cp_protocol_data {
                    for address in data.ip_over_ethernet.iter().flat_map(|ip| &ip.ip_addresses) {
                        for text in &address.fixed_addresses {
                            let parsed: IpAddr = text.parse().map_err(|_| {
                                Error::InvalidRequest(format!(
                                    "{} (cpConfig {config_id}): fixed address {text:?} is not an IP address",
                                    at(&cp.cpd_id)
                                ))
                            })?;
                            let family = match parsed {
                                IpAddr::V4(_) => IpAddressType::Ipv4,
                                IpAddr::V6(_) => IpAddressType::Ipv6,
                            };
                            if family != address.ip_type {
                                return Err(Error::InvalidRequest(format!(
                                    "{} (cpConfig {config_id}): fixed address {text} is not of type {:?}",
                                    at(&cp.cpd_id),
                                    address.ip_type
                                )));
                            }
                            fixed.push(parsed);
                        }
                    }
                }
            }
            out.push(CpOnLink { link, cp, fixed });
        }
    }
    Ok(out)
}

/// Whether `text` is an IP network in CIDR notation.
fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => prefix <= 32,
        Ok(IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// Connects the VNF's `objects` to `links`: the Services of each external CP get its
/// fixed addresses, its NetworkPolicies admit its link's network. Refuses (before
/// anything is applied) what a Kubernetes VIM cannot do.
pub(crate) fn connect(
    objects: &mut [ManifestObject],
    flavour: &DeploymentFlavour,
    links: &[ExtVirtualLinkData],
) -> Result<()> {
    for object in objects.iter() {
        if !annotated(&object.value).is_empty()
            && !matches!(object.kind(), "Service" | "NetworkPolicy")
        {
            return Err(Error::Unprocessable(format!(
                "{}: only a Service or a NetworkPolicy may carry the annotation {EXT_CP_ANNOTATION}",
                object.describe()
            )));
        }
    }
    for on in cps_of(flavour, links)? {
        let cpd_id = &on.cp.cpd_id;
        let mut services = 0;
        for object in objects.iter_mut() {
            if !serves(&object.value, flavour, cpd_id) {
                continue;
            }
            match object.kind() {
                "Service" => {
                    services += 1;
                    if object.value["spec"]["type"].as_str() == Some("ExternalName") {
                        return Err(Error::Unprocessable(format!(
                            "{}: an ExternalName Service cannot expose external CP {cpd_id}",
                            object.describe()
                        )));
                    }
                    if !on.fixed.is_empty() {
                        let addresses: Vec<String> =
                            on.fixed.iter().map(ToString::to_string).collect();
                        object.value["spec"]["externalIPs"] = json!(addresses);
                    }
                }
                _ => {
                    if !is_cidr(&on.link.resource_id) {
                        return Err(Error::Unprocessable(format!(
                            "{} guards external CP {cpd_id}, so external virtual link {} must name its network as a CIDR in resourceId, not {:?}",
                            object.describe(),
                            on.link.id,
                            on.link.resource_id
                        )));
                    }
                    let peers = json!([{"ipBlock": {"cidr": on.link.resource_id}}]);
                    let spec = &mut object.value["spec"];
                    match spec["ingress"].as_array_mut() {
                        Some(rules) if !rules.is_empty() => {
                            for rule in rules {
                                rule["from"] = peers.clone();
                            }
                        }
                        _ => spec["ingress"] = json!([{"from": peers}]),
                    }
                    if let Some(types) = spec["policyTypes"].as_array_mut()
                        && !types.iter().any(|t| t == "Ingress")
                    {
                        types.push(json!("Ingress"));
                    }
                }
            }
        }
        if services == 0 {
            let vdu = vdu_cp_of(flavour, cpd_id)
                .map(|cp| cp.vdu_id.as_str())
                .unwrap_or_default();
            return Err(Error::Unprocessable(format!(
                "external CP {cpd_id} of external virtual link {} is exposed by no Service of the VNF: annotate the Service of VDU {vdu}'s pods with {EXT_CP_ANNOTATION}: {cpd_id}",
                on.link.id
            )));
        }
    }
    Ok(())
}

/// The Service exposing an external CP, as the cluster holds it.
#[derive(Debug, Clone)]
pub(crate) struct LiveService {
    pub name: String,
    pub object: Value,
}

/// What an instance's external connectivity is: `extVirtualLinkInfo` and `extCpInfo`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtConnectivity {
    links: Vec<ExtVirtualLinkInfo>,
    cps: Vec<VnfExtCpInfo>,
}

/// The id of the external CP for `cpd_id` in config `config_id`.
fn ext_cp_id(cpd_id: &str, config_id: &str) -> String {
    if config_id.is_empty() {
        cpd_id.to_owned()
    } else {
        format!("{cpd_id}-{config_id}")
    }
}

/// The addresses of a Service: its external IPs when it has them (fixed), else the
/// cluster IPs (dynamic).
fn addresses_of(service: &Value) -> Vec<IpAddressInfo> {
    let list = |field: &str| -> Vec<String> {
        service["spec"][field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|s| s.parse::<IpAddr>().is_ok())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let external = list("externalIPs");
    let (addresses, dynamic) = if external.is_empty() {
        let mut ips = list("clusterIPs");
        if ips.is_empty() {
            ips = service["spec"]["clusterIP"]
                .as_str()
                .filter(|s| s.parse::<IpAddr>().is_ok())
                .map(|s| vec![s.to_owned()])
                .unwrap_or_default();
        }
        (ips, true)
    } else {
        (external, false)
    };
    let mut by_type: BTreeMap<bool, Vec<String>> = BTreeMap::new();
    for address in addresses {
        let v6 = matches!(address.parse::<IpAddr>(), Ok(IpAddr::V6(_)));
        by_type.entry(v6).or_default().push(address);
    }
    by_type
        .into_iter()
        .map(|(v6, addresses)| IpAddressInfo {
            ip_type: if v6 {
                IpAddressType::Ipv6
            } else {
                IpAddressType::Ipv4
            },
            addresses,
            is_dynamic: Some(dynamic),
            address_range: None,
            subnet_id: None,
        })
        .collect()
}

impl ExtConnectivity {
    /// What the instance records.
    pub(crate) fn recorded(ctx: &InfraContext<'_>) -> Self {
        ctx.vnf_instance
            .instantiated_vnf_info
            .as_ref()
            .map(|info| Self {
                links: info.ext_virtual_link_info.clone(),
                cps: info.ext_cp_info.clone(),
            })
            .unwrap_or_default()
    }

    /// The connectivity of `links` through the Services `service` finds for each
    /// external CP (by CPD id).
    pub(crate) fn of(
        ctx: &InfraContext<'_>,
        links: &[ExtVirtualLinkData],
        service: impl Fn(&str) -> Option<LiveService>,
    ) -> Result<Self> {
        let mut out = Self::default();
        for link in links {
            let mut ports = Vec::new();
            for cp in &link.ext_cps {
                let configs: Vec<&str> = if cp.cp_config.is_empty() {
                    vec![""]
                } else {
                    cp.cp_config.keys().map(String::as_str).collect()
                };
                let live = service(&cp.cpd_id).ok_or_else(|| {
                    Error::driver(
                        crate::client::DRIVER,
                        true,
                        format!(
                            "the Service exposing external CP {} of external virtual link {} is not in the cluster",
                            cp.cpd_id, link.id
                        ),
                    )
                })?;
                for config_id in configs {
                    let id = ext_cp_id(&cp.cpd_id, config_id);
                    let port_id = format!("{}-{id}", link.id);
                    ports.push(ExtLinkPortInfo {
                        id: port_id.clone(),
                        resource_handle: ResourceHandle {
                            vim_connection_id: Some(ctx.vim_connection_id.to_owned()),
                            resource_provider_id: None,
                            resource_id: live.name.clone(),
                            vim_level_resource_type: Some("Service".to_owned()),
                        },
                        cp_instance_id: Some(id.clone()),
                        secondary_cp_instance_id: None,
                        trunk_resource_id: None,
                    });
                    out.cps.push(VnfExtCpInfo {
                        id,
                        cpd_id: cp.cpd_id.clone(),
                        cp_config_id: config_id.to_owned(),
                        vnfd_id: None,
                        cp_protocol_info: vec![CpProtocolInfo {
                            layer_protocol: LayerProtocol::IpOverEthernet,
                            ip_over_ethernet: Some(IpOverEthernetAddressInfo {
                                ip_addresses: addresses_of(&live.object),
                                ..IpOverEthernetAddressInfo::default()
                            }),
                        }],
                        ext_link_port_id: Some(port_id),
                        metadata: Default::default(),
                        associated_vnfc_cp_id: None,
                        associated_vip_cp_id: None,
                        associated_vnf_virtual_link_id: None,
                    });
                }
            }
            out.links.push(ExtVirtualLinkInfo {
                id: link.id.clone(),
                resource_handle: ResourceHandle {
                    vim_connection_id: Some(
                        link.vim_connection_id
                            .clone()
                            .unwrap_or_else(|| ctx.vim_connection_id.to_owned()),
                    ),
                    resource_provider_id: link.resource_provider_id.clone(),
                    resource_id: link.resource_id.clone(),
                    vim_level_resource_type: None,
                },
                ext_link_ports: ports,
                current_vnf_ext_cp_data: link.ext_cps.clone(),
            });
        }
        Ok(out)
    }

    /// `vnfcs` with a CP for each external CP on their VDU (replacing the CPs they had).
    pub(crate) fn attach(&self, flavour: &DeploymentFlavour, vnfcs: &mut [VnfcResourceInfo]) {
        for vnfc in vnfcs.iter_mut() {
            vnfc.vnfc_cp_info.clear();
            for ext in &self.cps {
                let Some(vdu_cp) = vdu_cp_of(flavour, &ext.cpd_id) else {
                    continue;
                };
                if vdu_cp.vdu_id != vnfc.vdu_id {
                    continue;
                }
                vnfc.vnfc_cp_info.push(VnfcCpInfo {
                    id: format!("{}-{}", vnfc.id, ext.id),
                    cpd_id: vdu_cp.id.clone(),
                    vnf_ext_cp_id: Some(ext.id.clone()),
                    cp_protocol_info: Vec::new(),
                    vnf_link_port_id: None,
                    parent_cp_id: None,
                    metadata: Default::default(),
                });
            }
        }
    }

    /// Into `extVirtualLinkInfo` and `extCpInfo`.
    pub(crate) fn into_parts(self) -> (Vec<ExtVirtualLinkInfo>, Vec<VnfExtCpInfo>) {
        (self.links, self.cps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacker_core::model::{
        CpProtocolData, IpAddressData, IpOverEthernetAddressData, VnfExtCpConfig,
    };
    use tacker_core::vnfd::{ExtCp, Vdu};

    fn flavour() -> DeploymentFlavour {
        DeploymentFlavour {
            id: "simple".to_owned(),
            vdus: vec![Vdu {
                id: "VDU1".to_owned(),
                name: "vdu1".to_owned(),
                ..Vdu::default()
            }],
            vdu_cps: vec![VduCp {
                id: "VDU1_CP1".to_owned(),
                vdu_id: "VDU1".to_owned(),
                ..VduCp::default()
            }],
            ext_cps: vec![ExtCp {
                id: "EXT1".to_owned(),
                vdu_cp: "VDU1_CP1".to_owned(),
            }],
            ..DeploymentFlavour::default()
        }
    }

    fn link(resource_id: &str, fixed: &[&str]) -> ExtVirtualLinkData {
        ExtVirtualLinkData {
            id: "ext-vl".to_owned(),
            resource_id: resource_id.to_owned(),
            ext_cps: vec![VnfExtCpData {
                cpd_id: "EXT1".to_owned(),
                cp_config: BTreeMap::from([(
                    "c1".to_owned(),
                    VnfExtCpConfig {
                        cp_protocol_data: vec![CpProtocolData {
                            layer_protocol: LayerProtocol::IpOverEthernet,
                            ip_over_ethernet: Some(IpOverEthernetAddressData {
                                ip_addresses: vec![IpAddressData {
                                    ip_type: IpAddressType::Ipv4,
                                    fixed_addresses: fixed
                                        .iter()
                                        .map(|s| (*s).to_owned())
                                        .collect(),
                                    num_dynamic_addresses: None,
                                    address_range: None,
                                    subnet_id: None,
                                }],
                                ..IpOverEthernetAddressData::default()
                            }),
                        }],
                        ..VnfExtCpConfig::default()
                    },
                )]),
            }],
            vim_connection_id: None,
            resource_provider_id: None,
            ext_link_ports: Vec::new(),
        }
    }

    fn object(kind: &str, annotation: &str, spec: Value) -> ManifestObject {
        ManifestObject {
            file: "Files/kubernetes/x.yaml".to_owned(),
            value: json!({
                "apiVersion": if kind == "NetworkPolicy" { "networking.k8s.io/v1" } else { "v1" },
                "kind": kind,
                "metadata": {"name": "x", "annotations": {EXT_CP_ANNOTATION: annotation}},
                "spec": spec,
            }),
        }
    }

    #[test]
    fn fixed_addresses_become_the_services_external_ips() {
        let mut objects = vec![
            object("Service", "VDU1_CP1", json!({"ports": [{"port": 80}]})),
            object(
                "NetworkPolicy",
                "EXT1",
                json!({"podSelector": {}, "policyTypes": ["Egress"]}),
            ),
        ];
        connect(
            &mut objects,
            &flavour(),
            &[link("192.0.2.0/24", &["198.51.100.7"])],
        )
        .expect("connects");
        assert_eq!(
            objects[0].value["spec"]["externalIPs"],
            json!(["198.51.100.7"])
        );
        assert_eq!(
            objects[1].value["spec"]["ingress"],
            json!([{"from": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}])
        );
        assert_eq!(
            objects[1].value["spec"]["policyTypes"],
            json!(["Egress", "Ingress"])
        );
    }

    #[test]
    fn what_a_kubernetes_vim_cannot_do_is_refused_with_the_reason() {
        let service = || object("Service", "EXT1", json!({}));
        let policy = || object("NetworkPolicy", "EXT1", json!({"podSelector": {}}));
        let cases: Vec<(Vec<ManifestObject>, ExtVirtualLinkData, &str)> = vec![
            (vec![], link("net", &[]), "exposed by no Service"),
            (vec![service(), policy()], link("net-a", &[]), "as a CIDR"),
            (
                vec![service()],
                link("net", &["not-an-ip"]),
                "is not an IP address",
            ),
            (
                vec![service()],
                link("net", &["2001:db8::1"]),
                "is not of type",
            ),
            (
                vec![service(), object("ConfigMap", "EXT1", Value::Null)],
                link("net", &[]),
                "only a Service or a NetworkPolicy",
            ),
        ];
        for (mut objects, link, expected) in cases {
            let error = connect(&mut objects, &flavour(), &[link]).expect_err(expected);
            assert!(
                error.to_string().contains(expected),
                "{error} lacks {expected:?}"
            );
        }
        let mut two = link("net", &[]);
        let config = two.ext_cps[0].cp_config["c1"].clone();
        two.ext_cps[0].cp_config.insert("c2".to_owned(), config);
        let error = connect(&mut [service()], &flavour(), &[two]).expect_err("two configs");
        assert!(error.to_string().contains("one entry"), "{error}");
        let mut ported = link("net", &[]);
        ported
            .ext_link_ports
            .push(tacker_core::model::ExtLinkPortData {
                id: "port-1".to_owned(),
                resource_handle: ResourceHandle {
                    vim_connection_id: None,
                    resource_provider_id: None,
                    resource_id: "p".to_owned(),
                    vim_level_resource_type: None,
                },
                trunk_resource_id: None,
            });
        let error = connect(&mut [service()], &flavour(), &[ported]).expect_err("ports");
        assert!(error.to_string().contains("extLinkPorts"), "{error}");
    }

    #[test]
    fn cidrs_are_recognised() {
        for good in ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"] {
            assert!(is_cidr(good), "{good}");
        }
        for bad in ["10.0.0.0", "10.0.0.0/33", "net-1", "2001:db8::/129", "a/8"] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }

    #[test]
    fn addresses_are_the_external_ips_else_the_cluster_ips() {
        let fixed = addresses_of(
            &json!({"spec": {"externalIPs": ["198.51.100.7"], "clusterIP": "10.96.0.9"}}),
        );
        assert_eq!(fixed.len(), 1);
        assert_eq!(fixed[0].addresses, ["198.51.100.7"]);
        assert_eq!(fixed[0].is_dynamic, Some(false));
        let dynamic = addresses_of(&json!({"spec": {"clusterIPs": ["10.96.0.9", "fd00::9"]}}));
        assert_eq!(dynamic.len(), 2);
        assert!(dynamic.iter().all(|a| a.is_dynamic == Some(true)));
    }
}
