//! The resolved VNFD model.
//!
//! The package reader turns a VNF package's TOSCA files into a [`Vnfd`]; the LCM engine
//! and the infra drivers read only this model. Sizes are in bytes, counts are plain
//! integers, and every cross-reference (a CP's VDU, a delta's VDU, a level's aspect) has
//! been checked when the VNFD was built.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::model::{KeyValuePairs, LcmOperationType};

/// A VNF descriptor: the `tosca.nodes.nfv.VNF` node and one entry per deployment flavour.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Vnfd {
    /// `descriptor_id`: the vnfdId.
    pub descriptor_id: String,
    /// `descriptor_version`.
    pub descriptor_version: String,
    /// `provider`.
    pub provider: String,
    /// `product_name`.
    pub product_name: String,
    /// `software_version`.
    pub software_version: String,
    /// `product_info_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_info_name: Option<String>,
    /// `vnfm_info`: the VNFMs that may manage the VNF.
    #[serde(default)]
    pub vnfm_info: Vec<String>,
    /// The deployment flavours.
    pub flavours: Vec<DeploymentFlavour>,
}

impl Vnfd {
    /// The flavour with this `flavour_id`.
    pub fn flavour(&self, flavour_id: &str) -> Option<&DeploymentFlavour> {
        self.flavours.iter().find(|f| f.id == flavour_id)
    }
}

/// One deployment flavour (`flavour_id` of a `substitution_mappings` topology).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeploymentFlavour {
    /// `flavour_id`.
    pub id: String,
    /// `flavour_description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `tosca.nodes.nfv.Vdu.Compute` nodes.
    pub vdus: Vec<Vdu>,
    /// `tosca.nodes.nfv.VduCp` nodes.
    pub vdu_cps: Vec<VduCp>,
    /// `tosca.nodes.nfv.VnfVirtualLink` nodes.
    pub virtual_links: Vec<VirtualLink>,
    /// `tosca.nodes.nfv.Vdu.VirtualBlockStorage` (and other storage) nodes.
    pub virtual_storages: Vec<VirtualStorage>,
    /// External CPs: the `virtual_link` requirements the flavour exposes through its
    /// substitution mappings, each bound to an internal VduCp.
    #[serde(default)]
    pub ext_cps: Vec<ExtCp>,
    /// `tosca.policies.nfv.ScalingAspects` with their `VduScalingAspectDeltas`.
    #[serde(default)]
    pub scaling_aspects: Vec<ScalingAspect>,
    /// `tosca.policies.nfv.InstantiationLevels` with the per-VDU levels.
    #[serde(default)]
    pub instantiation_levels: Vec<InstantiationLevel>,
    /// The default instantiation level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_instantiation_level: Option<String>,
    /// Affinity and anti-affinity rules.
    #[serde(default)]
    pub placement_rules: Vec<PlacementRule>,
    /// The LCM coordination actions operations run (`LcmCoordinationsForLcmOperation`
    /// with their `LcmCoordinationAction`s).
    #[serde(default)]
    pub lcm_coordinations: Vec<LcmCoordination>,
    /// The operations of the `Vnflcm` interface and what implements them.
    #[serde(default)]
    pub lcm_operations: Vec<LcmOperationBinding>,
}

impl DeploymentFlavour {
    /// The VDU with this node name.
    pub fn vdu(&self, vdu_id: &str) -> Option<&Vdu> {
        self.vdus.iter().find(|v| v.id == vdu_id)
    }

    /// The scaling aspect with this id.
    pub fn scaling_aspect(&self, aspect_id: &str) -> Option<&ScalingAspect> {
        self.scaling_aspects.iter().find(|a| a.id == aspect_id)
    }

    /// The instantiation level with this id.
    pub fn instantiation_level(&self, level_id: &str) -> Option<&InstantiationLevel> {
        self.instantiation_levels.iter().find(|l| l.id == level_id)
    }

    /// The connection points of a VDU, in `order` (then name) order.
    pub fn cps_of(&self, vdu_id: &str) -> Vec<&VduCp> {
        let mut cps: Vec<&VduCp> = self.vdu_cps.iter().filter(|c| c.vdu_id == vdu_id).collect();
        cps.sort_by(|a, b| (a.order, &a.id).cmp(&(b.order, &b.id)));
        cps
    }

    /// The scale level of every aspect at an instantiation level (0 for aspects the
    /// level does not name). `None` selects the default level, or all zeros without one.
    pub fn scale_levels_at(&self, level_id: Option<&str>) -> BTreeMap<String, u32> {
        let level = level_id
            .or(self.default_instantiation_level.as_deref())
            .and_then(|id| self.instantiation_level(id));
        self.scaling_aspects
            .iter()
            .map(|aspect| {
                let scale_level = level
                    .and_then(|l| l.scale_info.get(&aspect.id).copied())
                    .unwrap_or(0);
                (aspect.id.clone(), scale_level)
            })
            .collect()
    }

    /// How many instances of a VDU run at the given scale levels: the VDU's initial
    /// delta plus the deltas of every step taken in each aspect, kept within the VDU's
    /// `min_number_of_instances` and `max_number_of_instances`.
    pub fn vdu_instances(&self, vdu: &Vdu, scale_levels: &BTreeMap<String, u32>) -> u32 {
        let mut count = vdu.initial_delta;
        for aspect in &self.scaling_aspects {
            let level = scale_levels.get(&aspect.id).copied().unwrap_or(0);
            count += aspect.instances_added(&vdu.id, level);
        }
        count.clamp(vdu.min_instances, vdu.max_instances.max(vdu.min_instances))
    }

    /// How many instances of a VDU an instantiation level asks for: the level's
    /// `VduInstantiationLevels` entry when it has one, else what its scale levels give.
    pub fn vdu_instances_at_level(&self, vdu: &Vdu, level_id: Option<&str>) -> u32 {
        let level = level_id
            .or(self.default_instantiation_level.as_deref())
            .and_then(|id| self.instantiation_level(id));
        if let Some(count) = level.and_then(|l| l.vdu_instances.get(&vdu.id)) {
            return *count;
        }
        self.vdu_instances(vdu, &self.scale_levels_at(level_id))
    }

    /// The implementation bound to a `Vnflcm` operation such as `instantiate_end`.
    pub fn lcm_operation(&self, name: &str) -> Option<&LcmOperationBinding> {
        self.lcm_operations.iter().find(|op| op.name == name)
    }
}

/// A `tosca.nodes.nfv.Vdu.Compute` node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Vdu {
    /// The node name (the VDU id).
    pub id: String,
    /// `properties.name`.
    pub name: String,
    /// `properties.description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `vdu_profile.min_number_of_instances`.
    pub min_instances: u32,
    /// `vdu_profile.max_number_of_instances`.
    pub max_instances: u32,
    /// `VduInitialDelta.number_of_instances` (defaults to `min_instances`).
    pub initial_delta: u32,
    /// `sw_image_data` and the image artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sw_image: Option<SwImage>,
    /// `capabilities.virtual_compute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_compute: Option<VirtualCompute>,
    /// The storage nodes the VDU requires (`virtual_storage` requirements).
    #[serde(default)]
    pub virtual_storages: Vec<String>,
}

/// `sw_image_data` of a VDU or storage node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SwImage {
    /// Image name.
    pub name: String,
    /// Image version.
    pub version: String,
    /// Checksum algorithm, e.g. `sha-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    /// Checksum value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_hash: Option<String>,
    /// Container format, e.g. `bare`.
    pub container_format: String,
    /// Disk format, e.g. `qcow2`.
    pub disk_format: String,
    /// Minimal disk in bytes.
    pub min_disk: u64,
    /// Minimal RAM in bytes.
    pub min_ram: u64,
    /// Size in bytes.
    pub size: u64,
    /// The image file in the package, when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// `virtual_compute` capability of a VDU.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VirtualCompute {
    /// `virtual_cpu.num_virtual_cpu`.
    pub num_virtual_cpu: u32,
    /// `virtual_memory.virtual_mem_size` in bytes.
    pub virtual_mem_size: u64,
    /// `virtual_local_storage[].size_of_storage` in bytes.
    #[serde(default)]
    pub virtual_local_storage: Vec<u64>,
    /// `requested_additional_capabilities.*.requested_additional_capability_name`: the
    /// VIM's names for what the VDU needs (on OpenStack, a Nova flavour such as
    /// `m1.tiny`), in the order the VNFD lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requested_additional_capability_names: Vec<String>,
}

/// A `tosca.nodes.nfv.VduCp` node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VduCp {
    /// The node name (the CPD id).
    pub id: String,
    /// The VDU of its `virtual_binding` requirement.
    pub vdu_id: String,
    /// The internal virtual link of its `virtual_link` requirement; `None` for a CP
    /// that connects to an external virtual link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_link: Option<String>,
    /// `order`: the NIC position on the VDU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// `layer_protocols`.
    #[serde(default)]
    pub layer_protocols: Vec<String>,
}

/// A `tosca.nodes.nfv.VnfVirtualLink` node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VirtualLink {
    /// The node name.
    pub id: String,
    /// `connectivity_type.layer_protocols`.
    #[serde(default)]
    pub layer_protocols: Vec<String>,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `vl_profile` as declared (bitrate requirements, protocol data).
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub vl_profile: KeyValuePairs,
}

/// A storage node such as `tosca.nodes.nfv.Vdu.VirtualBlockStorage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VirtualStorage {
    /// The node name.
    pub id: String,
    /// The TOSCA type of the node.
    pub storage_type: String,
    /// `size_of_storage` in bytes.
    pub size_of_storage: u64,
    /// `sw_image_data`, when the volume is created from an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sw_image: Option<SwImage>,
}

/// An external connection point of a flavour: a `virtual_link` requirement mapped to an
/// internal VduCp in `substitution_mappings`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExtCp {
    /// The requirement name (the external CPD id).
    pub id: String,
    /// The VduCp that realises it.
    pub vdu_cp: String,
}

/// A `tosca.policies.nfv.ScalingAspects` aspect with its VDU deltas.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScalingAspect {
    /// The aspect id.
    pub id: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `max_scale_level`.
    pub max_scale_level: u32,
    /// `step_deltas`: the delta id applied at each step (the last repeats).
    #[serde(default)]
    pub step_deltas: Vec<String>,
    /// `VduScalingAspectDeltas`: per VDU, the instances added by each delta id.
    #[serde(default)]
    pub vdu_deltas: BTreeMap<String, BTreeMap<String, u32>>,
}

impl ScalingAspect {
    /// The instances of a VDU this aspect adds at `scale_level` (over level 0).
    pub fn instances_added(&self, vdu_id: &str, scale_level: u32) -> u32 {
        let Some(deltas) = self.vdu_deltas.get(vdu_id) else {
            return 0;
        };
        (0..scale_level)
            .map(|step| {
                let index = usize::try_from(step).unwrap_or(usize::MAX);
                let delta_id = self.step_deltas.get(index).or(self.step_deltas.last());
                delta_id.and_then(|d| deltas.get(d)).copied().unwrap_or(0)
            })
            .sum()
    }

    /// The VDUs this aspect scales.
    pub fn vdus(&self) -> impl Iterator<Item = &str> {
        self.vdu_deltas.keys().map(String::as_str)
    }
}

/// An instantiation level of `tosca.policies.nfv.InstantiationLevels`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InstantiationLevel {
    /// The level id.
    pub id: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `scale_info`: the level of each aspect.
    #[serde(default)]
    pub scale_info: BTreeMap<String, u32>,
    /// `VduInstantiationLevels`: instances of each VDU at this level.
    #[serde(default)]
    pub vdu_instances: BTreeMap<String, u32>,
}

/// A coordination action an LCM operation runs (SOL001 `LcmCoordinationAction`, bound
/// to the operation by `LcmCoordinationsForLcmOperation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LcmCoordination {
    /// `action_name`: the `coordinationActionName` of the coordination request.
    pub action_name: String,
    /// The operation that runs it.
    pub operation: LcmOperationType,
    /// `coordination_stage`: before (`start`) or after (`end`) every other change of
    /// the operation; unset (an intermediate stage the VNFD leaves to the VNFM): after
    /// the changes, before the operation completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `endpoint_type`: `mgmt` (an EM or the NFVO) or `vnf` (the VNF itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
}

impl LcmCoordination {
    /// Whether it runs before the operation's changes.
    pub fn at_start(&self) -> bool {
        self.stage.as_deref() == Some("start")
    }
}

/// An `AffinityRule` or `AntiAffinityRule` policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlacementRule {
    /// The policy name.
    pub id: String,
    /// Whether it is an anti-affinity rule.
    pub anti_affinity: bool,
    /// `scope`: `nfvi_node`, `zone`, `zone_group` or `nfvi_pop`.
    pub scope: String,
    /// The VDUs (or groups) it targets.
    pub targets: Vec<String>,
}

/// A `Vnflcm` interface operation and its implementation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LcmOperationBinding {
    /// The SOL001 operation name, e.g. `instantiate_end`.
    pub name: String,
    /// The artifact that implements it (its name in the VNFD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
    /// The artifact's file in the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_file: Option<String>,
    /// The artifact's TOSCA type, e.g. `tosca.artifacts.Implementation.Python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The operation's `inputs`.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub inputs: KeyValuePairs,
}

/// When a management hook runs relative to its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HookPhase {
    /// Before the infra driver runs.
    Start,
    /// After the infra driver succeeded.
    End,
    /// Before the infra driver rolls the operation back.
    RollbackStart,
    /// After the rollback succeeded.
    RollbackEnd,
}

/// A `Vnflcm` interface hook: an operation and a phase, e.g. `instantiate_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LcmHook {
    /// The LCM operation.
    pub operation: LcmOperationType,
    /// The phase.
    pub phase: HookPhase,
}

impl LcmHook {
    /// A hook of an operation.
    pub fn new(operation: LcmOperationType, phase: HookPhase) -> Self {
        Self { operation, phase }
    }

    /// The SOL001 `Vnflcm` operation name, e.g. `scale_start`, `heal_end`,
    /// `change_external_connectivity_start`, `instantiate_rollback_end`.
    pub fn sol001_name(&self) -> String {
        let base = match self.operation {
            LcmOperationType::Instantiate => "instantiate",
            LcmOperationType::Scale => "scale",
            LcmOperationType::ScaleToLevel => "scale_to_level",
            LcmOperationType::ChangeFlavour => "change_flavour",
            LcmOperationType::Terminate => "terminate",
            LcmOperationType::Heal => "heal",
            LcmOperationType::Operate => "operate",
            LcmOperationType::ChangeExtConn => "change_external_connectivity",
            LcmOperationType::ModifyInfo => "modify_information",
            LcmOperationType::CreateSnapshot => "create_snapshot",
            LcmOperationType::RevertToSnapshot => "revert_to_snapshot",
            LcmOperationType::ChangeVnfpkg => "change_current_package",
        };
        let suffix = match self.phase {
            HookPhase::Start => "start",
            HookPhase::End => "end",
            HookPhase::RollbackStart => "rollback_start",
            HookPhase::RollbackEnd => "rollback_end",
        };
        format!("{base}_{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flavour() -> DeploymentFlavour {
        DeploymentFlavour {
            id: "simple".into(),
            vdus: vec![Vdu {
                id: "VDU1".into(),
                name: "vdu1".into(),
                min_instances: 1,
                max_instances: 3,
                initial_delta: 1,
                ..Vdu::default()
            }],
            scaling_aspects: vec![ScalingAspect {
                id: "worker".into(),
                max_scale_level: 2,
                step_deltas: vec!["delta_1".into()],
                vdu_deltas: BTreeMap::from([(
                    "VDU1".into(),
                    BTreeMap::from([("delta_1".into(), 1)]),
                )]),
                ..ScalingAspect::default()
            }],
            instantiation_levels: vec![
                InstantiationLevel {
                    id: "instantiation_level_1".into(),
                    scale_info: BTreeMap::from([("worker".into(), 0)]),
                    vdu_instances: BTreeMap::from([("VDU1".into(), 1)]),
                    ..InstantiationLevel::default()
                },
                InstantiationLevel {
                    id: "instantiation_level_2".into(),
                    scale_info: BTreeMap::from([("worker".into(), 2)]),
                    ..InstantiationLevel::default()
                },
            ],
            default_instantiation_level: Some("instantiation_level_1".into()),
            ..DeploymentFlavour::default()
        }
    }

    #[test]
    fn vdu_instances_follow_aspect_deltas_within_bounds() {
        let f = flavour();
        let vdu = &f.vdus[0];
        let at = |level: u32| BTreeMap::from([("worker".to_string(), level)]);
        assert_eq!(f.vdu_instances(vdu, &at(0)), 1);
        assert_eq!(f.vdu_instances(vdu, &at(2)), 3);
        assert_eq!(f.vdu_instances(vdu, &at(5)), 3, "clamped to max_instances");
    }

    #[test]
    fn instantiation_level_gives_scale_levels_and_instances() {
        let f = flavour();
        let vdu = &f.vdus[0];
        assert_eq!(f.scale_levels_at(None)["worker"], 0);
        assert_eq!(
            f.scale_levels_at(Some("instantiation_level_2"))["worker"],
            2
        );
        assert_eq!(f.vdu_instances_at_level(vdu, None), 1);
        assert_eq!(
            f.vdu_instances_at_level(vdu, Some("instantiation_level_2")),
            3
        );
    }

    #[test]
    fn hook_names_follow_sol001() {
        use HookPhase::*;
        use LcmOperationType::*;
        assert_eq!(
            LcmHook::new(Instantiate, End).sol001_name(),
            "instantiate_end"
        );
        assert_eq!(
            LcmHook::new(ChangeExtConn, Start).sol001_name(),
            "change_external_connectivity_start"
        );
        assert_eq!(
            LcmHook::new(Scale, RollbackStart).sol001_name(),
            "scale_rollback_start"
        );
    }
}
