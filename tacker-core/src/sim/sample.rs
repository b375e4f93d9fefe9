//! A small, complete VNFD and VNF instance for examples and tests, and a helper that
//! records an [`InfraOutcome`] in a VNF instance the way the engine does.

use std::collections::BTreeMap;

use super::SIM_VIM_TYPE;
use crate::infra::{InfraOutcome, ScaleTarget};
use crate::model::{
    ChangeVnfFlavourRequest, CpProtocolData, ExtVirtualLinkData, InstantiateVnfRequest,
    InstantiatedVnfInfo, InstantiationState, IpAddressData, IpAddressType,
    IpOverEthernetAddressData, KeyValuePairs, LayerProtocol, Link, OperateVnfRequest, ScaleInfo,
    VimConnectionInfo, VnfExtCpConfig, VnfExtCpData, VnfInstance, VnfInstanceLinks,
    VnfOperationalStateType, VnfcInfo,
};
use crate::vnfd::{
    DeploymentFlavour, ExtCp, InstantiationLevel, PlacementRule, ScalingAspect, SwImage, Vdu,
    VduCp, VirtualCompute, VirtualLink, VirtualStorage, Vnfd,
};
use crate::{Error, Result};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The key under which the sample instantiate request names the simulated VIM.
pub const SAMPLE_VIM_CONNECTION_ID: &str = "vim1";

fn image(name: &str) -> SwImage {
    SwImage {
        name: name.to_owned(),
        version: "1.0".to_owned(),
        checksum_algorithm: Some("sha-256".to_owned()),
        checksum_hash: Some(
            "6513f21e44aa3da349f248188a44bc304a3653a04122d8fb4535423c8e1d14cd".to_owned(),
        ),
        container_format: "bare".to_owned(),
        disk_format: "qcow2".to_owned(),
        min_disk: GIB,
        min_ram: 256 * MIB,
        size: GIB,
        file: None,
    }
}

/// A small but complete VNFD (`descriptor_id` `sample-vnfd`) with one flavour, `simple`:
///
/// - `VDU1`: 1 to 3 instances (initial delta 1), 1 vCPU, 512 MiB, image `VDU1-image`;
///   CPs `VDU1_CP1` (external, exposed as `virtual_link_external1_1`) and `VDU1_CP2`
///   (on `internalVL1`);
/// - `VDU2`: exactly 1 instance, 2 vCPUs, 1 GiB, image `VDU2-image`, one 1 GiB block
///   storage `VirtualStorage`; CP `VDU2_CP1` on `internalVL1`;
/// - scaling aspect `VDU1_scale`: up to level 2, one `VDU1` per step;
/// - instantiation levels `instantiation_level_1` (the default: one of each VDU) and
///   `instantiation_level_2` (`VDU1_scale` at level 1: two `VDU1`).
pub fn sample_vnfd() -> Vnfd {
    let vdu = |id: &str, max: u32, vcpus: u32, memory: u64, storages: &[&str]| Vdu {
        id: id.to_owned(),
        name: id.to_owned(),
        description: Some(format!("{id} of the sample VNF")),
        min_instances: 1,
        max_instances: max,
        initial_delta: 1,
        sw_image: Some(image(&format!("{id}-image"))),
        virtual_compute: Some(VirtualCompute {
            num_virtual_cpu: vcpus,
            virtual_mem_size: memory,
            virtual_local_storage: vec![GIB],
            requested_additional_capability_names: Vec::new(),
        }),
        virtual_storages: storages.iter().map(|s| (*s).to_owned()).collect(),
    };
    let cp = |id: &str, vdu_id: &str, order: u32, link: Option<&str>| VduCp {
        id: id.to_owned(),
        vdu_id: vdu_id.to_owned(),
        virtual_link: link.map(str::to_owned),
        order: Some(order),
        layer_protocols: vec!["ipv4".to_owned()],
    };
    let flavour = DeploymentFlavour {
        id: "simple".to_owned(),
        description: Some("A simple flavour".to_owned()),
        vdus: vec![
            vdu("VDU1", 3, 1, 512 * MIB, &[]),
            vdu("VDU2", 1, 2, GIB, &["VirtualStorage"]),
        ],
        vdu_cps: vec![
            cp("VDU1_CP1", "VDU1", 0, None),
            cp("VDU1_CP2", "VDU1", 1, Some("internalVL1")),
            cp("VDU2_CP1", "VDU2", 0, Some("internalVL1")),
        ],
        virtual_links: vec![VirtualLink {
            id: "internalVL1".to_owned(),
            layer_protocols: vec!["ipv4".to_owned()],
            description: Some("Internal virtual link of the sample VNF".to_owned()),
            vl_profile: KeyValuePairs::new(),
        }],
        virtual_storages: vec![VirtualStorage {
            id: "VirtualStorage".to_owned(),
            storage_type: "tosca.nodes.nfv.Vdu.VirtualBlockStorage".to_owned(),
            size_of_storage: GIB,
            sw_image: None,
        }],
        ext_cps: vec![ExtCp {
            id: "virtual_link_external1_1".to_owned(),
            vdu_cp: "VDU1_CP1".to_owned(),
        }],
        scaling_aspects: vec![ScalingAspect {
            id: "VDU1_scale".to_owned(),
            name: "VDU1_scale".to_owned(),
            description: Some("Scale VDU1 one instance at a time".to_owned()),
            max_scale_level: 2,
            step_deltas: vec!["delta_1".to_owned()],
            vdu_deltas: BTreeMap::from([(
                "VDU1".to_owned(),
                BTreeMap::from([("delta_1".to_owned(), 1)]),
            )]),
        }],
        instantiation_levels: vec![
            InstantiationLevel {
                id: "instantiation_level_1".to_owned(),
                description: Some("Smallest size".to_owned()),
                scale_info: BTreeMap::from([("VDU1_scale".to_owned(), 0)]),
                vdu_instances: BTreeMap::from([("VDU1".to_owned(), 1), ("VDU2".to_owned(), 1)]),
            },
            InstantiationLevel {
                id: "instantiation_level_2".to_owned(),
                description: Some("Two VDU1".to_owned()),
                scale_info: BTreeMap::from([("VDU1_scale".to_owned(), 1)]),
                vdu_instances: BTreeMap::from([("VDU1".to_owned(), 2), ("VDU2".to_owned(), 1)]),
            },
        ],
        default_instantiation_level: Some("instantiation_level_1".to_owned()),
        placement_rules: vec![PlacementRule {
            id: "policy_antiaffinity_vdu1".to_owned(),
            anti_affinity: true,
            scope: "nfvi_node".to_owned(),
            targets: vec!["VDU1".to_owned()],
        }],
        lcm_coordinations: Vec::new(),
        lcm_operations: Vec::new(),
    };
    Vnfd {
        descriptor_id: "sample-vnfd".to_owned(),
        descriptor_version: "1.0".to_owned(),
        provider: "Company".to_owned(),
        product_name: "Sample VNF".to_owned(),
        software_version: "1.0".to_owned(),
        product_info_name: Some("Sample VNF".to_owned()),
        vnfm_info: vec!["Tacker".to_owned()],
        flavours: vec![flavour],
    }
}

/// A NOT_INSTANTIATED VNF instance of `vnfd_id`, with the provider, product and
/// versions of [`sample_vnfd`] and `_links` under `http://localhost:9890`.
pub fn sample_instance(id: &str, vnfd_id: &str) -> VnfInstance {
    let mut instance = VnfInstance {
        id: id.to_owned(),
        vnf_instance_name: Some(format!("sample-{id}")),
        vnf_instance_description: Some("A sample VNF instance".to_owned()),
        vnfd_id: vnfd_id.to_owned(),
        vnf_provider: "Company".to_owned(),
        vnf_product_name: "Sample VNF".to_owned(),
        vnf_software_version: "1.0".to_owned(),
        vnfd_version: "1.0".to_owned(),
        vnf_configurable_properties: KeyValuePairs::new(),
        vim_connection_info: BTreeMap::new(),
        instantiation_state: InstantiationState::NotInstantiated,
        instantiated_vnf_info: None,
        metadata: KeyValuePairs::new(),
        extensions: KeyValuePairs::new(),
        links: VnfInstanceLinks::default(),
    };
    instance.links = links_for(&instance);
    instance
}

/// A `VimConnectionInfo` of the simulated VIM (type [`SIM_VIM_TYPE`]).
pub fn sample_vim() -> VimConnectionInfo {
    let mut access_info = KeyValuePairs::new();
    access_info.insert("region".into(), "sim-region".into());
    VimConnectionInfo {
        vim_id: Some("sim-vim".to_owned()),
        vim_type: SIM_VIM_TYPE.to_owned(),
        interface_info: KeyValuePairs::new(),
        access_info,
        extra: KeyValuePairs::new(),
    }
}

/// One external virtual link, `ext-vl-1` (network `sim-net-external`), that connects
/// the external CP `VDU1_CP1` of [`sample_vnfd`] with one dynamic IPv4 address.
pub fn sample_ext_virtual_links() -> Vec<ExtVirtualLinkData> {
    vec![ExtVirtualLinkData {
        id: "ext-vl-1".to_owned(),
        vim_connection_id: None,
        resource_provider_id: None,
        resource_id: "sim-net-external".to_owned(),
        ext_cps: vec![VnfExtCpData {
            cpd_id: "VDU1_CP1".to_owned(),
            cp_config: BTreeMap::from([(
                "VDU1_CP1_config".to_owned(),
                VnfExtCpConfig {
                    cp_protocol_data: vec![CpProtocolData {
                        layer_protocol: LayerProtocol::IpOverEthernet,
                        ip_over_ethernet: Some(IpOverEthernetAddressData {
                            ip_addresses: vec![IpAddressData {
                                ip_type: IpAddressType::Ipv4,
                                fixed_addresses: Vec::new(),
                                num_dynamic_addresses: Some(1),
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
    }]
}

/// An instantiate request for [`sample_vnfd`]: flavour `simple`, the default level,
/// [`sample_ext_virtual_links`], and the simulated VIM as `vim1`.
pub fn sample_instantiate_request() -> InstantiateVnfRequest {
    InstantiateVnfRequest {
        flavour_id: "simple".to_owned(),
        ext_virtual_links: sample_ext_virtual_links(),
        vim_connection_info: BTreeMap::from([(SAMPLE_VIM_CONNECTION_ID.to_owned(), sample_vim())]),
        ..InstantiateVnfRequest::default()
    }
}

/// The operation an [`InfraOutcome`] came from, with what [`apply_outcome`] needs
/// besides the outcome.
#[derive(Debug, Clone, Copy)]
pub enum AppliedOperation<'a> {
    /// Instantiate: the flavour, level, VIMs and language come from the request.
    Instantiate(&'a InstantiateVnfRequest),
    /// Scale or scale to level: the target levels overlay the scale status.
    Scale(&'a ScaleTarget),
    /// Heal: only the resources change.
    Heal,
    /// Operate: the VNF state changes.
    Operate(&'a OperateVnfRequest),
    /// Change flavour: the flavour and scale status change.
    ChangeFlavour(&'a ChangeVnfFlavourRequest),
    /// Change external connectivity: only the resources change.
    ChangeExtConn,
    /// Change current VNF package: the VNFD and product information change.
    ChangeVnfpkg(&'a Vnfd),
    /// Terminate: the instance is NOT_INSTANTIATED again.
    Terminate,
    /// Any rollback: the instance keeps what it recorded except the resources (a
    /// rolled back instantiate leaves it NOT_INSTANTIATED).
    Rollback,
}

fn links_for(instance: &VnfInstance) -> VnfInstanceLinks {
    let base = format!(
        "http://localhost:9890/vnflcm/v2/vnf_instances/{}",
        instance.id
    );
    let task = |name: &str| Some(Link::new(format!("{base}/{name}")));
    let mut links = VnfInstanceLinks {
        self_: Link::new(base.clone()),
        ..VnfInstanceLinks::default()
    };
    match instance.instantiation_state {
        InstantiationState::NotInstantiated => links.instantiate = task("instantiate"),
        InstantiationState::Instantiated => {
            links.terminate = task("terminate");
            links.scale = task("scale");
            links.scale_to_level = task("scale_to_level");
            links.change_flavour = task("change_flavour");
            links.heal = task("heal");
            links.operate = task("operate");
            links.change_ext_conn = task("change_ext_conn");
            links.change_current_vnf_pkg = task("change_vnfpkg");
        }
    }
    links
}

fn scale_status(levels: &BTreeMap<String, u32>) -> Vec<ScaleInfo> {
    levels
        .iter()
        .map(|(aspect, level)| ScaleInfo {
            aspect_id: aspect.clone(),
            vnfd_id: None,
            scale_level: *level,
        })
        .collect()
}

fn max_scale_levels(flavour: &DeploymentFlavour) -> Vec<ScaleInfo> {
    let mut levels: Vec<ScaleInfo> = flavour
        .scaling_aspects
        .iter()
        .map(|a| ScaleInfo {
            aspect_id: a.id.clone(),
            vnfd_id: None,
            scale_level: a.max_scale_level,
        })
        .collect();
    levels.sort_by(|a, b| a.aspect_id.cmp(&b.aspect_id));
    levels
}

fn flavour_of<'a>(vnfd: &'a Vnfd, flavour_id: &str) -> Result<&'a DeploymentFlavour> {
    vnfd.flavour(flavour_id).ok_or_else(|| {
        Error::Unprocessable(format!(
            "VNFD {} has no flavour {flavour_id}",
            vnfd.descriptor_id
        ))
    })
}

/// Records an outcome in a VNF instance the way the engine does when the operation
/// completes: the resources replace the recorded ones, and the operation sets what it
/// owns (flavour, VNF state, scale status, `maxScaleLevels`, VNFD). `vnfcInfo` gets one
/// entry per VNFC with the VNFC's id. For tests and examples; the engine has its own.
///
/// `vnfd` is the instance's VNFD (for instantiate and change flavour, the one holding
/// the flavour). Fails with `Conflict` when the operation needs an instantiated
/// instance and `Unprocessable` when a flavour is unknown.
pub fn apply_outcome(
    instance: &VnfInstance,
    vnfd: &Vnfd,
    operation: AppliedOperation<'_>,
    outcome: &InfraOutcome,
) -> Result<VnfInstance> {
    let mut next = instance.clone();
    let recorded = instance.instantiated_vnf_info.as_ref();
    let not_instantiated =
        || Error::Conflict(format!("VNF instance {} is not instantiated", instance.id));
    let mut info = match operation {
        AppliedOperation::Terminate => {
            next.instantiation_state = InstantiationState::NotInstantiated;
            next.instantiated_vnf_info = None;
            next.links = links_for(&next);
            return Ok(next);
        }
        AppliedOperation::Rollback if recorded.is_none() => return Ok(next),
        AppliedOperation::Instantiate(request) => {
            let flavour = flavour_of(vnfd, &request.flavour_id)?;
            let levels = flavour.scale_levels_at(request.instantiation_level_id.as_deref());
            for (key, vim) in &request.vim_connection_info {
                next.vim_connection_info.insert(key.clone(), vim.clone());
            }
            InstantiatedVnfInfo {
                flavour_id: flavour.id.clone(),
                vnf_state: VnfOperationalStateType::Started,
                scale_status: scale_status(&levels),
                max_scale_levels: max_scale_levels(flavour),
                ext_cp_info: Vec::new(),
                vip_cp_info: Vec::new(),
                ext_virtual_link_info: Vec::new(),
                ext_managed_virtual_link_info: Vec::new(),
                monitoring_parameters: Vec::new(),
                localization_language: request.localization_language.clone(),
                vnfc_resource_info: Vec::new(),
                vnf_virtual_link_resource_info: Vec::new(),
                virtual_storage_resource_info: Vec::new(),
                vnfc_info: Vec::new(),
            }
        }
        AppliedOperation::Scale(target) => {
            let mut info = recorded.cloned().ok_or_else(not_instantiated)?;
            let mut levels: BTreeMap<String, u32> = info
                .scale_status
                .iter()
                .map(|s| (s.aspect_id.clone(), s.scale_level))
                .collect();
            for level in &target.scale_levels {
                levels.insert(level.aspect_id.clone(), level.scale_level);
            }
            info.scale_status = scale_status(&levels);
            info
        }
        AppliedOperation::Operate(request) => {
            let mut info = recorded.cloned().ok_or_else(not_instantiated)?;
            info.vnf_state = request.change_state_to;
            info
        }
        AppliedOperation::ChangeFlavour(request) => {
            let mut info = recorded.cloned().ok_or_else(not_instantiated)?;
            let flavour = flavour_of(vnfd, &request.new_flavour_id)?;
            let levels = flavour.scale_levels_at(request.instantiation_level_id.as_deref());
            info.flavour_id = flavour.id.clone();
            info.scale_status = scale_status(&levels);
            info.max_scale_levels = max_scale_levels(flavour);
            info
        }
        AppliedOperation::ChangeVnfpkg(new_vnfd) => {
            let info = recorded.cloned().ok_or_else(not_instantiated)?;
            next.vnfd_id = new_vnfd.descriptor_id.clone();
            next.vnf_provider = new_vnfd.provider.clone();
            next.vnf_product_name = new_vnfd.product_name.clone();
            next.vnf_software_version = new_vnfd.software_version.clone();
            next.vnfd_version = new_vnfd.descriptor_version.clone();
            info
        }
        AppliedOperation::Heal | AppliedOperation::ChangeExtConn | AppliedOperation::Rollback => {
            recorded.cloned().ok_or_else(not_instantiated)?
        }
    };
    let resources = &outcome.resources;
    info.vnfc_resource_info = resources.vnfc_resource_info.clone();
    info.vnf_virtual_link_resource_info = resources.vnf_virtual_link_resource_info.clone();
    info.virtual_storage_resource_info = resources.virtual_storage_resource_info.clone();
    info.ext_cp_info = resources.ext_cp_info.clone();
    info.ext_virtual_link_info = resources.ext_virtual_link_info.clone();
    info.ext_managed_virtual_link_info = resources.ext_managed_virtual_link_info.clone();
    info.vnfc_info = resources
        .vnfc_resource_info
        .iter()
        .map(|vnfc| VnfcInfo {
            id: vnfc.id.clone(),
            vdu_id: vnfc.vdu_id.clone(),
            vnfc_resource_info_id: Some(vnfc.id.clone()),
            vnfc_state: vnfc
                .metadata
                .get(super::report::POWER_STATE)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or(info.vnf_state),
            vnfc_configurable_properties: KeyValuePairs::new(),
        })
        .collect();
    next.instantiation_state = InstantiationState::Instantiated;
    next.instantiated_vnf_info = Some(info);
    // As the engine records it: the driver's facts merged into the instance's metadata.
    for (key, value) in &outcome.metadata {
        next.metadata.insert(key.clone(), value.clone());
    }
    next.links = links_for(&next);
    Ok(next)
}
