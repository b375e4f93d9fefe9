//! Unit tests of the simulated VIM's internals.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::deployment::{Blueprint, Deployment, Images, Work};
use super::{report, sample_ext_virtual_links, sample_vnfd};
use crate::model::{ChangeType, VnfExtCpData};

fn deployment_with(vdu1: u32, budget: Option<usize>) -> (Deployment, usize) {
    let vnfd = sample_vnfd();
    let flavour = &vnfd.flavours[0];
    let blueprint = Blueprint {
        vnfd_id: &vnfd.descriptor_id,
        flavour,
        images: Images::Grant(None),
    };
    let addresses = BTreeMap::new();
    let mut work = Work::new(&addresses, budget);
    let mut deployment = Deployment::new(&vnfd.descriptor_id, &flavour.id);
    deployment.set_ext_links(&sample_ext_virtual_links());
    deployment.converge_networks(flavour);
    let vdu = flavour.vdu("VDU1").expect("VDU1");
    deployment.converge_count(&blueprint, vdu, vdu1, &mut work);
    deployment.rewire(flavour);
    (deployment, work.used)
}

#[test]
fn pool_addresses_are_loopback_unique_and_skip_network_and_broadcast() {
    let (deployment, _) = deployment_with(300, None);
    let addresses: Vec<IpAddr> = deployment
        .servers
        .iter()
        .flat_map(|s| s.ports.iter().map(|p| p.address))
        .collect();
    assert_eq!(addresses.len(), 600, "two CPs per VDU1");
    let unique: BTreeSet<IpAddr> = addresses.iter().copied().collect();
    assert_eq!(unique.len(), 600);
    for address in &addresses {
        let IpAddr::V4(v4) = address else {
            panic!("IPv4 expected");
        };
        let [a, b, _, d] = v4.octets();
        assert_eq!((a, b), (127, 64));
        assert!(d != 0 && d != 255, "{address}");
    }
}

#[test]
fn a_deployment_reads_back_as_stored_and_macs_stay_unique() {
    let (deployment, _) = deployment_with(3, None);
    let stored = serde_json::to_value(&deployment).expect("serialize");
    let read: Deployment = serde_json::from_value(stored).expect("deserialize");
    assert_eq!(read, deployment, "a durable VIM reads back what it wrote");
    let macs: Vec<&str> = deployment
        .servers
        .iter()
        .flat_map(|s| s.ports.iter().map(|p| p.mac.as_str()))
        .collect();
    let unique: BTreeSet<&str> = macs.iter().copied().collect();
    assert_eq!(unique.len(), macs.len(), "{macs:?}");
    assert!(macs.iter().all(|m| m.starts_with("fa:16:3e:")));
}

#[test]
fn a_budget_stops_the_work_half_way() {
    let (_, used) = deployment_with(4, None);
    assert_eq!(used, 4);
    let (deployment, used) = deployment_with(4, Some(2));
    assert_eq!(used, 2);
    assert_eq!(deployment.servers.len(), 2);
}

#[test]
fn merged_links_take_over_the_cpds_they_name() {
    let (mut deployment, _) = deployment_with(1, None);
    let mut moved = sample_ext_virtual_links().remove(0);
    moved.id = "ext-vl-2".into();
    deployment.merge_ext_links(&[moved]);
    assert_eq!(
        deployment.ext_links.keys().cloned().collect::<Vec<_>>(),
        vec!["ext-vl-2".to_owned()],
        "the old link lost its only CPD and is dropped"
    );
    let mut other = sample_ext_virtual_links().remove(0);
    other.id = "ext-vl-3".into();
    other.ext_cps = vec![VnfExtCpData {
        cpd_id: "unrelated".into(),
        cp_config: BTreeMap::new(),
    }];
    deployment.merge_ext_links(&[other]);
    assert_eq!(deployment.ext_links.len(), 2);
}

#[test]
fn rewiring_to_another_external_link_keeps_the_external_cp() {
    let vnfd = sample_vnfd();
    let (mut deployment, _) = deployment_with(1, None);
    let before = report::resources(&deployment, "vim1");
    let mut moved = sample_ext_virtual_links().remove(0);
    moved.id = "ext-vl-2".into();
    deployment.merge_ext_links(&[moved]);
    deployment.rewire(&vnfd.flavours[0]);
    let after = report::resources(&deployment, "vim1");
    assert_eq!(before.ext_cp_info.len(), 1);
    assert_eq!(before.ext_cp_info[0].id, after.ext_cp_info[0].id);
    assert_ne!(
        before.ext_cp_info[0].ext_link_port_id, after.ext_cp_info[0].ext_link_port_id,
        "a new link port on the new link"
    );
    assert_eq!(after.ext_virtual_link_info[0].id, "ext-vl-2");
    assert_eq!(after.ext_virtual_link_info[0].ext_link_ports.len(), 1);
}

#[test]
fn changes_from_nothing_are_additions_and_to_nothing_removals() {
    let (deployment, _) = deployment_with(2, None);
    let resources = report::resources(&deployment, "vim1");
    let added = crate::infra::resource_changes(None, &resources);
    assert_eq!(added.affected_vnfcs.len(), 2);
    assert!(
        added
            .affected_vnfcs
            .iter()
            .all(|c| c.change_type == ChangeType::Added && c.affected_vnfc_cp_ids.len() == 2)
    );
    assert_eq!(added.affected_virtual_links.len(), 1);
    assert_eq!(added.affected_ext_link_ports.len(), 2);
    let unchanged = crate::infra::resource_changes(None, &crate::infra::VnfResources::default());
    assert!(unchanged.is_empty());
}
