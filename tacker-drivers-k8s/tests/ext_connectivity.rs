//! External connectivity of a CNF: the package's Service for VDU1 exposes the external
//! CP `VDU1_EXT` (annotation `tacker-vnfm/ext-cp`), a NetworkPolicy guards it.
//! Instantiate puts the requested fixed address on the Service and admits the link's
//! network; scale keeps it; change of external connectivity moves the CP to another
//! link and its rollback moves it back; what a Kubernetes VIM cannot do is refused
//! before anything changes. On the API-server double and on the real cluster.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::cluster::Cluster;
use support::cnf::Cnf;
use tacker_core::infra::{InfraDriver, InfraRequestContext, Rollback};
use tacker_core::lcm::OpRequest;
use tacker_core::model::{
    ChangeExtVnfConnectivityRequest, CpProtocolData, ExtVirtualLinkData, IpAddressData,
    IpAddressType, IpOverEthernetAddressData, LayerProtocol, ScaleType, VnfExtCpConfig,
    VnfExtCpData,
};
use tacker_core::new_id;
use tacker_core::sim::AppliedOperation;
use tacker_core::vnfd::{ExtCp, VduCp};

const FILE: &str = "Files/kubernetes/deployment_scale.yaml";

/// The Service and NetworkPolicy of VDU1's pods, both for the external CP.
const EXPOSED: &str = "---
apiVersion: v1
kind: Service
metadata:
  name: vdu1-web
  annotations:
    tacker-vnfm/ext-cp: VDU1_EXT
spec:
  selector:
    app: webserver
  ports:
  - port: 80
    protocol: TCP
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: vdu1-web-ingress
  annotations:
    tacker-vnfm/ext-cp: VDU1_EXT
spec:
  podSelector:
    matchLabels:
      app: webserver
  policyTypes: [Ingress]
  ingress:
  - ports:
    - port: 80
      protocol: TCP
";

fn link(id: &str, network: &str, address: Option<&str>) -> ExtVirtualLinkData {
    ExtVirtualLinkData {
        id: id.to_owned(),
        vim_connection_id: None,
        resource_provider_id: None,
        resource_id: network.to_owned(),
        ext_cps: vec![VnfExtCpData {
            cpd_id: "VDU1_EXT".to_owned(),
            cp_config: BTreeMap::from([(
                "web".to_owned(),
                VnfExtCpConfig {
                    cp_protocol_data: vec![CpProtocolData {
                        layer_protocol: LayerProtocol::IpOverEthernet,
                        ip_over_ethernet: Some(IpOverEthernetAddressData {
                            ip_addresses: vec![IpAddressData {
                                ip_type: IpAddressType::Ipv4,
                                fixed_addresses: address.map(str::to_owned).into_iter().collect(),
                                num_dynamic_addresses: address.is_none().then_some(1),
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
        ext_link_ports: Vec::new(),
    }
}

/// What the cluster holds for the CP: the Service's external IPs and the network the
/// NetworkPolicy admits.
async fn in_cluster(cnf: &Cnf, ns: &str) -> (Value, Value) {
    let service = cnf
        .cluster
        .object("", "services", ns, "vdu1-web")
        .await
        .expect("the Service exists");
    let policy = cnf
        .cluster
        .object(
            "networking.k8s.io",
            "networkpolicies",
            ns,
            "vdu1-web-ingress",
        )
        .await
        .expect("the NetworkPolicy exists");
    (
        service["spec"]["externalIPs"].clone(),
        policy["spec"]["ingress"][0]["from"].clone(),
    )
}

fn admitted(cidr: &str) -> Value {
    json!([{"ipBlock": {"cidr": cidr}}])
}

/// The recorded external links: id → network, and the CP's addresses.
fn recorded(cnf: &Cnf) -> (BTreeMap<String, String>, Vec<String>) {
    let info = cnf
        .record
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiated");
    let links = info
        .ext_virtual_link_info
        .iter()
        .map(|l| (l.id.clone(), l.resource_handle.resource_id.clone()))
        .collect();
    let addresses = info
        .ext_cp_info
        .iter()
        .flat_map(|cp| cp.cp_protocol_info.iter())
        .filter_map(|p| p.ip_over_ethernet.as_ref())
        .flat_map(|ip| ip.ip_addresses.iter())
        .flat_map(|a| a.addresses.iter().cloned())
        .collect();
    (links, addresses)
}

/// The pods of the recorded VNFCs.
fn recorded_pods(cnf: &Cnf) -> Vec<String> {
    cnf.record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
        .map(|v| v.compute_resource.resource_id.clone())
        .collect()
}

/// Every VNFC of VDU1 has a CP on the external CP, and the port of the CP is the
/// Service.
fn assert_vnfcs_connected(cnf: &Cnf, what: &str) {
    let info = cnf
        .record
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiated");
    assert_eq!(info.ext_cp_info.len(), 1, "{what}: one external CP");
    let ext_cp = &info.ext_cp_info[0];
    assert_eq!(ext_cp.cpd_id, "VDU1_EXT");
    assert_eq!(ext_cp.cp_config_id, "web");
    let port = info
        .ext_virtual_link_info
        .iter()
        .flat_map(|l| l.ext_link_ports.iter())
        .find(|p| Some(&p.id) == ext_cp.ext_link_port_id.as_ref())
        .unwrap_or_else(|| panic!("{what}: the port of the external CP is on its link"));
    assert_eq!(port.resource_handle.resource_id, "vdu1-web");
    assert_eq!(
        port.resource_handle.vim_level_resource_type.as_deref(),
        Some("Service")
    );
    assert!(!info.vnfc_resource_info.is_empty());
    for vnfc in &info.vnfc_resource_info {
        assert!(
            vnfc.vnfc_cp_info
                .iter()
                .any(|cp| cp.cpd_id == "VDU1_CP1" && cp.vnf_ext_cp_id.as_ref() == Some(&ext_cp.id)),
            "{what}: VNFC {} has its CP on the external CP: {:?}",
            vnfc.id,
            vnfc.vnfc_cp_info
        );
    }
}

async fn change(cnf: &mut Cnf, links: Vec<ExtVirtualLinkData>) -> tacker_core::Result<()> {
    let request = ChangeExtVnfConnectivityRequest {
        ext_virtual_links: links,
        ..ChangeExtVnfConnectivityRequest::default()
    };
    let op = new_id();
    let outcome = cnf.driver.change_ext_conn(&cnf.ctx(&op), &request).await?;
    assert!(
        outcome
            .changed_ext_connectivity
            .iter()
            .all(|l| request.ext_virtual_links.iter().any(|r| r.id == l.id))
            && !outcome.changed_ext_connectivity.is_empty(),
        "changedExtConnectivity reports the changed links"
    );
    cnf.record(AppliedOperation::ChangeExtConn, &outcome);
    Ok(())
}

async fn external_connectivity(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = if cluster.is_real() {
        cluster.namespace().to_owned()
    } else {
        "default".to_owned()
    };
    let (mut vnfd, _) = cluster.package(&corpus, "v1-cnf-scale");
    for flavour in &mut vnfd.flavours {
        flavour.vdu_cps.push(VduCp {
            id: "VDU1_CP1".to_owned(),
            vdu_id: "VDU1".to_owned(),
            ..VduCp::default()
        });
        flavour.ext_cps.push(ExtCp {
            id: "VDU1_EXT".to_owned(),
            vdu_cp: "VDU1_CP1".to_owned(),
        });
    }
    let package = cluster.package_with(&corpus, "v1-cnf-scale", |path, bytes| {
        if path != FILE {
            return bytes;
        }
        let manifest = String::from_utf8(bytes).expect("the manifest is text");
        format!("{manifest}\n{EXPOSED}").into_bytes()
    });
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(60));

    // Instantiate on the first link.
    let mut request = cnf.instantiate_request(&[FILE]);
    request.ext_virtual_links = vec![link("ext-a", "192.0.2.0/24", Some("198.51.100.10"))];
    cnf.instantiate_with(request).await;
    assert_eq!(
        in_cluster(&cnf, &ns).await,
        (json!(["198.51.100.10"]), admitted("192.0.2.0/24"))
    );
    let (links, addresses) = recorded(&cnf);
    assert_eq!(
        links,
        BTreeMap::from([("ext-a".into(), "192.0.2.0/24".into())])
    );
    assert_eq!(addresses, ["198.51.100.10"]);
    assert_vnfcs_connected(&cnf, "instantiate");

    // Scale out keeps the connectivity, and the new VNFC is on the CP too.
    cnf.scale("vdu1_aspect", 1, ScaleType::ScaleOut).await;
    assert_eq!(cnf.counts()["VDU1"], 2);
    assert_eq!(recorded(&cnf).0, links, "scale keeps the external links");
    assert_vnfcs_connected(&cnf, "scale out");
    let pods = recorded_pods(&cnf);

    // Change: the CP moves to another link, with another address.
    let before = cnf.record.clone();
    change(
        &mut cnf,
        vec![link("ext-b", "203.0.113.0/24", Some("198.51.100.20"))],
    )
    .await
    .expect("change of external connectivity");
    assert_eq!(
        in_cluster(&cnf, &ns).await,
        (json!(["198.51.100.20"]), admitted("203.0.113.0/24"))
    );
    let (links, addresses) = recorded(&cnf);
    assert_eq!(
        links,
        BTreeMap::from([("ext-b".into(), "203.0.113.0/24".into())]),
        "the CP left its old link"
    );
    assert_eq!(addresses, ["198.51.100.20"]);
    assert_vnfcs_connected(&cnf, "change of external connectivity");
    let pods_after = recorded_pods(&cnf);
    assert_eq!(pods_after, pods, "no pod is replaced");

    // Its rollback, from the record before the change, restores the first link.
    let changed = std::mem::replace(&mut cnf.record, before);
    let op = new_id();
    let request = ChangeExtVnfConnectivityRequest {
        ext_virtual_links: changed
            .instantiated_vnf_info
            .as_ref()
            .map(|i| {
                i.ext_virtual_link_info
                    .iter()
                    .map(|l| l.to_data())
                    .collect()
            })
            .unwrap_or_default(),
        ..ChangeExtVnfConnectivityRequest::default()
    };
    let rolled_back = cnf
        .driver
        .rollback(&cnf.ctx(&op), &Rollback::ChangeExtConn(&request))
        .await
        .expect("rollback of the change");
    cnf.record(AppliedOperation::Rollback, &rolled_back);
    assert_eq!(
        in_cluster(&cnf, &ns).await,
        (json!(["198.51.100.10"]), admitted("192.0.2.0/24"))
    );
    assert_eq!(
        recorded(&cnf).0,
        BTreeMap::from([("ext-a".into(), "192.0.2.0/24".into())])
    );
    assert_vnfcs_connected(&cnf, "rollback");

    // Refused before anything changes: a NetworkPolicy needs a CIDR; a fixed address
    // must be an address of its type; a CP of no Service.
    let refusals = [
        (link("ext-c", "external-net", None), "as a CIDR"),
        (
            link("ext-c", "192.0.2.0/24", Some("2001:db8::5")),
            "is not of type",
        ),
    ];
    for (bad, expected) in refusals {
        // Refused before the engine accepts the operation, and by the operation itself.
        let request = OpRequest::ChangeExtConn(ChangeExtVnfConnectivityRequest {
            ext_virtual_links: vec![bad.clone()],
            ..ChangeExtVnfConnectivityRequest::default()
        });
        let flavour = cnf.vnfd.flavour("simple").expect("flavour simple");
        let ctx = InfraRequestContext::new(
            &cnf.tenant,
            &cnf.record,
            &cnf.vnfd,
            flavour,
            cnf.package.as_ref(),
        );
        let error = cnf
            .driver
            .validate_request(&ctx, &request)
            .await
            .expect_err("refused up front");
        assert!(
            error.to_string().contains(expected),
            "{error} says {expected:?}"
        );
        let error = change(&mut cnf, vec![bad]).await.expect_err("refused");
        assert!(
            error.to_string().contains(expected),
            "{error} says {expected:?}"
        );
        assert_eq!(
            in_cluster(&cnf, &ns).await,
            (json!(["198.51.100.10"]), admitted("192.0.2.0/24")),
            "a refused change leaves the cluster as it was"
        );
    }
    let mut unknown = link("ext-c", "192.0.2.0/24", None);
    unknown.ext_cps[0].cpd_id = "VDU9_CP".to_owned();
    let error = change(&mut cnf, vec![unknown]).await.expect_err("refused");
    assert!(
        error.to_string().contains("has no VduCp or VnfExtCp"),
        "{error}"
    );

    // A dynamic address only: the Service keeps its cluster address, reported as
    // dynamic, and no longer has the external IP.
    change(&mut cnf, vec![link("ext-d", "198.18.0.0/15", None)])
        .await
        .expect("change to a dynamic address");
    let (external, admitted_now) = in_cluster(&cnf, &ns).await;
    assert_eq!(external, Value::Null, "no external IP is left");
    assert_eq!(admitted_now, admitted("198.18.0.0/15"));
    let info = cnf
        .record
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiated");
    let address = &info.ext_cp_info[0].cp_protocol_info[0]
        .ip_over_ethernet
        .as_ref()
        .expect("IP over Ethernet")
        .ip_addresses[0];
    assert_eq!(address.is_dynamic, Some(true));
    assert_eq!(
        address.addresses.len(),
        1,
        "the cluster address: {address:?}"
    );

    cnf.terminate().await;
    assert!(cnf.labelled().await.is_empty(), "terminate leaves nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_connectivity_on_the_double() {
    external_connectivity(Cluster::double(Duration::from_millis(20)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_connectivity_on_the_real_cluster() {
    if let Some(cluster) = Cluster::real("external_connectivity").await {
        external_connectivity(cluster).await;
    }
}
