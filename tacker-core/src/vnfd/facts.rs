//! A package's facts in a stable, sorted form: what `tacker package validate --json`
//! prints and what tests compare.

use serde::Serialize;

use super::VnfdReport;
use super::model::DeploymentFlavour;

/// The facts of a valid package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageFacts {
    /// The main service template.
    pub entry_definitions: String,
    /// `descriptor_id`.
    pub vnfd_id: String,
    /// `provider`.
    pub provider: String,
    /// `product_name`.
    pub product_name: String,
    /// `software_version`.
    pub software_version: String,
    /// `descriptor_version`.
    pub descriptor_version: String,
    /// `vnfm_info`.
    pub vnfm_info: Vec<String>,
    /// The flavours, in the order the templates are reached from the Entry-Definitions.
    pub flavours: Vec<FlavourFacts>,
    /// Warnings of the reader.
    pub warnings: Vec<String>,
}

/// The facts of one flavour; every list sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlavourFacts {
    /// Flavour id.
    pub id: String,
    /// VDU node names.
    pub vdus: Vec<String>,
    /// VduCp node names.
    pub vdu_cps: Vec<String>,
    /// VnfVirtualLink node names.
    pub virtual_links: Vec<String>,
    /// VirtualBlockStorage node names.
    pub virtual_storages: Vec<String>,
    /// Scaling aspects.
    pub scaling_aspects: Vec<AspectFacts>,
    /// Instantiation level ids.
    pub instantiation_levels: Vec<String>,
    /// The default level.
    pub default_instantiation_level: Option<String>,
    /// `Vnflcm` operation names.
    pub lcm_interfaces: Vec<String>,
}

/// A scaling aspect's id and maximum level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AspectFacts {
    /// Aspect id.
    pub id: String,
    /// `max_scale_level`.
    pub max_scale_level: u32,
}

fn sorted(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items
}

fn flavour_facts(flavour: &DeploymentFlavour) -> FlavourFacts {
    let mut scaling_aspects: Vec<AspectFacts> = flavour
        .scaling_aspects
        .iter()
        .map(|a| AspectFacts {
            id: a.id.clone(),
            max_scale_level: a.max_scale_level,
        })
        .collect();
    scaling_aspects.sort_by(|a, b| a.id.cmp(&b.id));
    FlavourFacts {
        id: flavour.id.clone(),
        vdus: sorted(flavour.vdus.iter().map(|v| v.id.clone())),
        vdu_cps: sorted(flavour.vdu_cps.iter().map(|c| c.id.clone())),
        virtual_links: sorted(flavour.virtual_links.iter().map(|l| l.id.clone())),
        virtual_storages: sorted(
            flavour
                .virtual_storages
                .iter()
                .filter(|s| s.storage_type == "tosca.nodes.nfv.Vdu.VirtualBlockStorage")
                .map(|s| s.id.clone()),
        ),
        scaling_aspects,
        instantiation_levels: sorted(flavour.instantiation_levels.iter().map(|l| l.id.clone())),
        default_instantiation_level: flavour.default_instantiation_level.clone(),
        lcm_interfaces: sorted(flavour.lcm_operations.iter().map(|o| o.name.clone())),
    }
}

impl VnfdReport {
    /// The package's facts, with `entry_definitions` of the package it came from.
    pub fn facts(&self, entry_definitions: &str) -> PackageFacts {
        let flavours = self.vnfd.flavours.iter().map(flavour_facts).collect();
        PackageFacts {
            entry_definitions: entry_definitions.to_owned(),
            vnfd_id: self.vnfd.descriptor_id.clone(),
            provider: self.vnfd.provider.clone(),
            product_name: self.vnfd.product_name.clone(),
            software_version: self.vnfd.software_version.clone(),
            descriptor_version: self.vnfd.descriptor_version.clone(),
            vnfm_info: self.vnfd.vnfm_info.clone(),
            flavours,
            warnings: self.warnings.clone(),
        }
    }
}
