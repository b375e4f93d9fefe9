//! Building a [`Vnfd`] from the TOSCA templates of a package, with the SOL001 rules a
//! VNFM relies on checked on the way.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::VnfdError;
use super::model::{
    DeploymentFlavour, ExtCp, InstantiationLevel, LcmCoordination, LcmOperationBinding,
    PlacementRule, ScalingAspect, SwImage, Vdu, VduCp, VirtualCompute, VirtualLink, VirtualStorage,
    Vnfd,
};
use super::tosca::{ToscaModel, resolve_path};
use super::yaml::{Node, Value};
use crate::csar::Csar;
use crate::model::LcmOperationType;

const VNF: &str = "tosca.nodes.nfv.VNF";
const VDU_COMPUTE: &str = "tosca.nodes.nfv.Vdu.Compute";
const VDU_CP: &str = "tosca.nodes.nfv.VduCp";
const VIRTUAL_LINK: &str = "tosca.nodes.nfv.VnfVirtualLink";
const BLOCK_STORAGE: &str = "tosca.nodes.nfv.Vdu.VirtualBlockStorage";
const OBJECT_STORAGE: &str = "tosca.nodes.nfv.Vdu.VirtualObjectStorage";
const FILE_STORAGE: &str = "tosca.nodes.nfv.Vdu.VirtualFileStorage";
const SW_IMAGE_ARTIFACT: &str = "tosca.artifacts.nfv.SwImage";

/// A VNFD read from a package, with what the reader noticed.
#[derive(Debug, Clone)]
pub struct VnfdReport {
    /// The VNFD.
    pub vnfd: Vnfd,
    /// Things worth flagging that do not make the package invalid.
    pub warnings: Vec<String>,
    /// The template that defines each flavour.
    pub flavour_files: BTreeMap<String, String>,
    /// The templates reached from the Entry-Definitions, in visit order.
    pub templates: Vec<String>,
    /// The VNF node template of the Entry-Definitions: (name, type).
    pub vnf_node: (String, String),
}

/// Reads the VNFD of an opened package. `missing_ok` lists files to treat as present
/// but unavailable.
pub fn read_vnfd(csar: &Csar, missing_ok: &BTreeSet<String>) -> Result<VnfdReport, VnfdError> {
    let model = ToscaModel::load(csar, missing_ok)?;
    check_types_are_defined(&model)?;
    let mut reader = Reader {
        csar,
        model: &model,
        missing_ok,
        warnings: Vec::new(),
    };
    reader.read()
}

fn check_types_are_defined(model: &ToscaModel) -> Result<(), VnfdError> {
    for template in &model.templates {
        let path = &template.path;
        let check = |node: &Node, what: &str| -> Result<(), VnfdError> {
            match node.as_str() {
                Some(name) if !model.is_known_type(name) => Err(VnfdError::at(
                    path,
                    node,
                    format!(
                        "{what} '{name}' is not defined in any template reached from the Entry-Definitions"
                    ),
                )),
                _ => Ok(()),
            }
        };
        // A value set on a node template or a policy is validated against the data type
        // of its property definition, so that data type must exist.
        let check_values = |owner: &Node| -> Result<(), VnfdError> {
            let Some(type_node) = owner.get("type") else {
                return Ok(());
            };
            check(type_node, "type")?;
            let Some(type_name) = type_node.as_str() else {
                return Ok(());
            };
            for (property, _) in owner
                .get("properties")
                .map(|p| p.entries().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                let Some(definition) = property
                    .as_str()
                    .and_then(|p| model.property_definition(type_name, p))
                else {
                    continue;
                };
                for data_type in [
                    definition.get("type"),
                    definition.get("entry_schema").and_then(|e| e.get("type")),
                ]
                .into_iter()
                .flatten()
                {
                    if let Some(name) = data_type.as_str()
                        && !model.is_known_type(name)
                    {
                        return Err(VnfdError::at(
                            path,
                            property,
                            format!(
                                "the value of '{}' is validated against data type '{name}', which is not defined in any template reached from the Entry-Definitions",
                                property.scalar_text().unwrap_or_default()
                            ),
                        ));
                    }
                }
            }
            Ok(())
        };
        let topology = template.root.get("topology_template");
        for (_, node) in topology
            .and_then(|t| t.get("node_templates"))
            .map(|n| n.entries().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            check_values(node)?;
        }
        for (_, policy) in policies(topology) {
            check_values(policy)?;
        }
        for section in [
            "node_types",
            "data_types",
            "policy_types",
            "capability_types",
            "relationship_types",
            "group_types",
        ] {
            for (_, definition) in template
                .root
                .get(section)
                .map(|s| s.entries().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if let Some(parent) = definition.get("derived_from") {
                    check(parent, "parent type")?;
                }
            }
        }
    }
    Ok(())
}

/// The policies of a topology: `- name: {…}` items, or a `name: {…}` mapping.
fn policies(topology: Option<&Node>) -> Vec<(&Node, &Node)> {
    let Some(policies) = topology.and_then(|t| t.get("policies")) else {
        return Vec::new();
    };
    match &policies.value {
        Value::Seq(items) => items.iter().flat_map(|item| item.entries()).collect(),
        Value::Map(_) => policies.entries().collect(),
        _ => Vec::new(),
    }
}

/// Parses a TOSCA `scalar-unit.size` such as `512 MB` or `1 GiB` into bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "kb" => 1e3,
        "kib" => 1024.0,
        "mb" => 1e6,
        "mib" => 1_048_576.0,
        "gb" => 1e9,
        "gib" => 1_073_741_824.0,
        "tb" => 1e12,
        "tib" => 1_099_511_627_776.0,
        _ => return None,
    };
    let bytes = number * factor;
    (0.0..1.8e19).contains(&bytes).then(|| bytes.round() as u64)
}

struct Reader<'a> {
    csar: &'a Csar,
    model: &'a ToscaModel,
    missing_ok: &'a BTreeSet<String>,
    warnings: Vec<String>,
}

impl<'a> Reader<'a> {
    fn read(&mut self) -> Result<VnfdReport, VnfdError> {
        let entry = self.model.templates.first().ok_or_else(|| {
            VnfdError::new(
                &self.csar.entry_definitions,
                0,
                0,
                "the Entry-Definitions template is missing",
            )
        })?;
        let entry_path = entry.path.clone();
        let (vnf_name, vnf_node) = self.vnf_node(&entry.root).ok_or_else(|| {
            VnfdError::new(
                &entry_path,
                1,
                1,
                format!("no node template derived from {VNF} in the Entry-Definitions"),
            )
        })?;
        let vnf_type = vnf_node
            .get("type")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_owned();
        if vnf_node
            .get("properties")
            .is_none_or(|p| p.entries().next().is_none())
        {
            return Err(VnfdError::at(
                &entry_path,
                vnf_node,
                format!(
                    "VNF node '{vnf_name}' has no properties; descriptor_id, provider, product_name, software_version and descriptor_version are mandatory"
                ),
            ));
        }
        let text = |property: &str| self.vnf_property(&entry_path, vnf_node, &vnf_type, property);
        let required = |property: &str| -> Result<String, VnfdError> {
            text(property)?.ok_or_else(|| {
                VnfdError::at(
                    &entry_path,
                    vnf_node,
                    format!("VNF node '{vnf_name}' lacks the mandatory property '{property}'"),
                )
            })
        };
        let mut vnfd = Vnfd {
            descriptor_id: required("descriptor_id")?,
            descriptor_version: required("descriptor_version")?,
            provider: required("provider")?,
            product_name: required("product_name")?,
            software_version: required("software_version")?,
            product_info_name: text("product_info_name")?,
            vnfm_info: self.vnfm_info(vnf_node, &vnf_type),
            flavours: Vec::new(),
        };
        let default_flavour_id = text("flavour_id")?;
        self.check_requirement_occurrences(&entry_path, &vnf_name, vnf_node, &vnf_type);
        let mut flavour_files = BTreeMap::new();
        for template in &self.model.templates {
            let Some(topology) = template.root.get("topology_template") else {
                continue;
            };
            let Some(mappings) = topology.get("substitution_mappings") else {
                continue;
            };
            let mapped_id = mappings
                .get("properties")
                .and_then(|p| p.get("flavour_id"))
                .and_then(Node::scalar_text);
            let node_id = self.vnf_node(&template.root).and_then(|(_, node)| {
                node.get("properties")?
                    .get("flavour_id")?
                    .as_str()
                    .map(str::to_owned)
            });
            // The top-level template declares the VNF (its node's flavour_id is the
            // VNF's default, not a flavour): it is a flavour only when its own
            // substitution_mappings name one.
            let node_id = node_id.filter(|_| template.path != entry_path);
            let Some(id) = node_id.or(mapped_id) else {
                continue;
            };
            if flavour_files.contains_key(&id) {
                return Err(VnfdError::at(
                    &template.path,
                    mappings,
                    format!("flavour '{id}' is defined twice"),
                ));
            }
            let flavour = self.flavour(&template.path, topology, &template.root, id.clone())?;
            flavour_files.insert(id, template.path.clone());
            vnfd.flavours.push(flavour);
        }
        // A single-template VNFD: the VNF node and its VDUs side by side, the flavour
        // named by the VNF node's own flavour_id. A template that substitutes the VNF
        // node (substitution_mappings) is a flavour only with a flavour_id of its own.
        if vnfd.flavours.is_empty()
            && let Some(topology) = entry.root.get("topology_template")
            && topology.get("substitution_mappings").is_none()
            && let Some(id) = default_flavour_id
            && topology.get("node_templates").is_some_and(|n| {
                n.entries().any(|(_, node)| {
                    node.get("type")
                        .and_then(Node::as_str)
                        .is_some_and(|t| self.model.is_a(t, VDU_COMPUTE))
                })
            })
        {
            let flavour = self.flavour(&entry_path, topology, &entry.root, id.clone())?;
            flavour_files.insert(id, entry_path.clone());
            vnfd.flavours.push(flavour);
        }
        if vnfd.flavours.is_empty() {
            return Err(VnfdError::new(
                &entry_path,
                1,
                1,
                "no deployment flavour: no template reached from the Entry-Definitions has substitution_mappings with a flavour_id",
            ));
        }
        Ok(VnfdReport {
            vnfd,
            warnings: std::mem::take(&mut self.warnings),
            flavour_files,
            templates: self
                .model
                .templates
                .iter()
                .map(|t| t.path.clone())
                .collect(),
            vnf_node: (vnf_name, vnf_type),
        })
    }

    fn vnf_node<'n>(&self, root: &'n Node) -> Option<(String, &'n Node)> {
        root.get("topology_template")?
            .get("node_templates")?
            .entries()
            .find(|(_, node)| {
                node.get("type")
                    .and_then(Node::as_str)
                    .is_some_and(|t| self.model.is_a(t, VNF))
            })
            .and_then(|(name, node)| Some((name.as_str()?.to_owned(), node)))
    }

    /// A VNF property: the literal on the node template, else the type's default.
    /// A literal must satisfy the type's `valid_values`.
    fn vnf_property(
        &self,
        file: &str,
        node: &Node,
        type_name: &str,
        property: &str,
    ) -> Result<Option<String>, VnfdError> {
        let literal = node
            .get("properties")
            .and_then(|p| p.get(property))
            .filter(|v| !v.is_map());
        let value = literal.or_else(|| {
            self.model
                .property_default(type_name, property)
                .filter(|v| !v.is_map())
        });
        let Some(value) = value else {
            return Ok(None);
        };
        let Some(text) = value.scalar_text() else {
            return Ok(None);
        };
        if let Some(literal) = literal
            && let Some(valid) = self.valid_values(type_name, property)
            && !valid.contains(&text)
        {
            return Err(VnfdError::at(
                file,
                literal,
                format!(
                    "property '{property}' is '{text}', which is not one of its valid_values {valid:?}"
                ),
            ));
        }
        Ok(Some(text))
    }

    fn valid_values(&self, type_name: &str, property: &str) -> Option<Vec<String>> {
        let definition = self.model.property_definition(type_name, property)?;
        definition
            .get("constraints")?
            .items()
            .iter()
            .find_map(|constraint| {
                Some(
                    constraint
                        .get("valid_values")?
                        .items()
                        .iter()
                        .filter_map(Node::scalar_text)
                        .collect(),
                )
            })
    }

    fn vnfm_info(&self, node: &Node, type_name: &str) -> Vec<String> {
        let literal = node
            .get("properties")
            .and_then(|p| p.get("vnfm_info"))
            .filter(|v| matches!(v.value, Value::Seq(_)));
        literal
            .or_else(|| self.model.property_default(type_name, "vnfm_info"))
            .map(|list| list.items().iter().filter_map(Node::scalar_text).collect())
            .unwrap_or_default()
    }

    /// SOL001 VNF requirements without `occurrences` default to [1, UNBOUNDED], which
    /// the abstract VNF node cannot meet (the NS descriptor binds them). Real packages
    /// rely on that; it is worth a warning, not a refusal.
    fn check_requirement_occurrences(
        &mut self,
        file: &str,
        name: &str,
        node: &Node,
        type_name: &str,
    ) {
        let present: BTreeSet<String> = node
            .get("requirements")
            .map(|r| {
                r.items()
                    .iter()
                    .flat_map(|i| i.entries())
                    .filter_map(|(k, _)| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for ancestor in self.model.ancestry(type_name) {
            let Some(definition) = self.model.types.get(ancestor) else {
                continue;
            };
            for (requirement, spec) in definition
                .node()
                .get("requirements")
                .map(|r| {
                    r.items()
                        .iter()
                        .flat_map(|i| i.entries())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
            {
                let Some(requirement) = requirement.as_str() else {
                    continue;
                };
                let lower = spec
                    .get("occurrences")
                    .and_then(|o| o.items().first())
                    .and_then(Node::as_u64)
                    .unwrap_or(1);
                if lower > 0 && !present.contains(requirement) {
                    self.warnings.push(format!(
                        "{file}: requirement '{requirement}' of VNF node '{name}' ({type_name}) is not fulfilled here although its type asks for at least {lower}; it is left to the NS descriptor"
                    ));
                }
            }
            break;
        }
    }

    fn flavour(
        &mut self,
        file: &str,
        topology: &Node,
        root: &Node,
        id: String,
    ) -> Result<DeploymentFlavour, VnfdError> {
        let empty = Node::synthetic(Value::Map(Vec::new()));
        let nodes = topology.get("node_templates").unwrap_or(&empty);
        let mut names: HashMap<String, String> = HashMap::new();
        for (name, node) in nodes.entries() {
            let Some(name_text) = name.as_str() else {
                return Err(VnfdError::at(
                    file,
                    name,
                    "a node template name must be a string",
                ));
            };
            let type_name = node.get("type").and_then(Node::as_str).ok_or_else(|| {
                VnfdError::at(
                    file,
                    node,
                    format!("node template '{name_text}' has no type"),
                )
            })?;
            names.insert(name_text.to_owned(), type_name.to_owned());
        }
        let kind_of = |name: &str| names.get(name).map(String::as_str);
        let mut flavour = DeploymentFlavour {
            id,
            description: self.vnf_node(root).and_then(|(_, n)| {
                n.get("properties")?
                    .get("flavour_description")?
                    .scalar_text()
            }),
            ..DeploymentFlavour::default()
        };
        for (name, node) in nodes.entries() {
            let name = name.as_str().unwrap_or_default();
            let type_name = kind_of(name).unwrap_or_default();
            self.check_requirements(file, name, node, &names)?;
            if self.model.is_a(type_name, VDU_COMPUTE) {
                flavour.vdus.push(self.vdu(file, name, node)?);
            } else if self.model.is_a(type_name, VDU_CP) {
                flavour.vdu_cps.push(self.vdu_cp(file, name, node, &names)?);
            } else if self.model.is_a(type_name, VIRTUAL_LINK) {
                flavour.virtual_links.push(VirtualLink {
                    id: name.to_owned(),
                    layer_protocols: strings(
                        node.get("properties")
                            .and_then(|p| p.get("connectivity_type"))
                            .and_then(|c| c.get("layer_protocols")),
                    ),
                    description: node
                        .get("properties")
                        .and_then(|p| p.get("description"))
                        .and_then(Node::scalar_text),
                    vl_profile: node
                        .get("properties")
                        .and_then(|p| p.get("vl_profile"))
                        .map(|v| v.to_json().as_object().cloned().unwrap_or_default())
                        .unwrap_or_default(),
                });
            } else if [BLOCK_STORAGE, OBJECT_STORAGE, FILE_STORAGE]
                .iter()
                .any(|b| self.model.is_a(type_name, b))
            {
                flavour
                    .virtual_storages
                    .push(self.storage(file, name, node, type_name)?);
            } else if self.model.is_a(type_name, VNF) {
                flavour.lcm_operations = self.lcm_operations(file, name, node)?;
            }
        }
        if let Some(mappings) = topology.get("substitution_mappings") {
            for (requirement, target) in mappings
                .get("requirements")
                .map(|r| r.entries().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                let cp = target
                    .items()
                    .first()
                    .or(Some(target))
                    .and_then(Node::as_str);
                let Some(cp) = cp else {
                    continue;
                };
                if kind_of(cp).is_none() {
                    self.warnings.push(format!(
                        "{file}:{}: substitution mapping '{}' names '{cp}', which is not a node template of this flavour",
                        target.line,
                        requirement.scalar_text().unwrap_or_default()
                    ));
                    continue;
                }
                flavour.ext_cps.push(ExtCp {
                    id: requirement.scalar_text().unwrap_or_default(),
                    vdu_cp: cp.to_owned(),
                });
            }
        }
        self.policies(file, topology, &names, &mut flavour)?;
        Ok(flavour)
    }

    fn check_requirements(
        &self,
        file: &str,
        name: &str,
        node: &Node,
        names: &HashMap<String, String>,
    ) -> Result<(), VnfdError> {
        for (requirement, target) in node
            .get("requirements")
            .map(|r| {
                r.items()
                    .iter()
                    .flat_map(|i| i.entries())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            let target_name = target
                .as_str()
                .or_else(|| target.get("node").and_then(Node::as_str));
            if let Some(target_name) = target_name
                && !names.contains_key(target_name)
            {
                return Err(VnfdError::at(
                    file,
                    target,
                    format!(
                        "requirement '{}' of '{name}' names '{target_name}', which is not a node template of {file}",
                        requirement.scalar_text().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn vdu(&mut self, file: &str, name: &str, node: &Node) -> Result<Vdu, VnfdError> {
        let properties = node.get("properties");
        let profile = properties.and_then(|p| p.get("vdu_profile"));
        let count = |key: &str| -> Result<u32, VnfdError> {
            match profile.and_then(|p| p.get(key)) {
                None => Ok(1),
                Some(value) => value
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| {
                        VnfdError::at(
                            file,
                            value,
                            format!("{key} of VDU '{name}' must be a non-negative integer"),
                        )
                    }),
            }
        };
        let min_instances = count("min_number_of_instances")?;
        let max_instances = count("max_number_of_instances")?;
        if min_instances > max_instances {
            return Err(VnfdError::at(
                file,
                profile.unwrap_or(node),
                format!(
                    "VDU '{name}' has min_number_of_instances {min_instances} > max_number_of_instances {max_instances}"
                ),
            ));
        }
        let sw_image = self.sw_image(file, name, node)?;
        let compute = node
            .get("capabilities")
            .and_then(|c| c.get("virtual_compute"))
            .and_then(|v| v.get("properties"));
        let virtual_compute = match compute {
            None => None,
            Some(compute) => Some(VirtualCompute {
                num_virtual_cpu: compute
                    .get("virtual_cpu")
                    .and_then(|c| c.get("num_virtual_cpu"))
                    .and_then(Node::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0),
                virtual_mem_size: self
                    .size(
                        file,
                        compute
                            .get("virtual_memory")
                            .and_then(|m| m.get("virtual_mem_size")),
                    )?
                    .unwrap_or(0),
                virtual_local_storage: compute
                    .get("virtual_local_storage")
                    .map(|s| {
                        s.items()
                            .iter()
                            .map(|item| {
                                self.size(file, item.get("size_of_storage"))
                                    .map(Option::unwrap_or_default)
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?
                    .unwrap_or_default(),
                requested_additional_capability_names: compute
                    .get("requested_additional_capabilities")
                    .map(|capabilities| {
                        capabilities
                            .entries()
                            .filter_map(|(_, c)| {
                                c.get("requested_additional_capability_name")
                                    .and_then(Node::scalar_text)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
        };
        let virtual_storages = node
            .get("requirements")
            .map(|r| {
                r.items()
                    .iter()
                    .flat_map(|i| i.entries())
                    .filter(|(k, _)| k.as_str() == Some("virtual_storage"))
                    .filter_map(|(_, v)| {
                        v.as_str()
                            .or_else(|| v.get("node").and_then(Node::as_str))
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Vdu {
            id: name.to_owned(),
            name: properties
                .and_then(|p| p.get("name"))
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| name.to_owned()),
            description: properties
                .and_then(|p| p.get("description"))
                .and_then(Node::scalar_text),
            min_instances,
            max_instances,
            initial_delta: min_instances,
            sw_image,
            virtual_compute,
            virtual_storages,
        })
    }

    fn size(&self, file: &str, node: Option<&Node>) -> Result<Option<u64>, VnfdError> {
        let Some(node) = node else {
            return Ok(None);
        };
        if let Some(bytes) = node.as_u64() {
            return Ok(Some(bytes));
        }
        let text = node.scalar_text().unwrap_or_default();
        parse_size(&text).map(Some).ok_or_else(|| {
            VnfdError::at(
                file,
                node,
                format!("'{text}' is not a size such as '512 MB' or '1 GiB'"),
            )
        })
    }

    /// The node's `sw_image_data` and its SwImage artifact. A SwImage artifact needs
    /// `sw_image_data`, and a node may carry only one.
    fn sw_image(
        &mut self,
        file: &str,
        name: &str,
        node: &Node,
    ) -> Result<Option<SwImage>, VnfdError> {
        let mut images = Vec::new();
        for (artifact_name, artifact) in node
            .get("artifacts")
            .map(|a| a.entries().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let (is_image, path) = match &artifact.value {
                Value::Str(path) => (true, Some(path.clone())),
                _ => (
                    artifact
                        .get("type")
                        .and_then(Node::as_str)
                        .is_some_and(|t| self.model.is_a(t, SW_IMAGE_ARTIFACT)),
                    artifact.get("file").and_then(Node::scalar_text),
                ),
            };
            if is_image {
                images.push((
                    artifact_name.scalar_text().unwrap_or_default(),
                    artifact,
                    path,
                ));
            }
        }
        if images.len() > 1 {
            let names: Vec<&str> = images.iter().map(|(n, _, _)| n.as_str()).collect();
            return Err(VnfdError::at(
                file,
                node,
                format!(
                    "node '{name}' has more than one {SW_IMAGE_ARTIFACT} artifact: {}",
                    names.join(", ")
                ),
            ));
        }
        let data = node.get("properties").and_then(|p| p.get("sw_image_data"));
        let image_file = match images.first() {
            Some((artifact_name, artifact, path)) => {
                if data.is_none() {
                    return Err(VnfdError::at(
                        file,
                        artifact,
                        format!(
                            "node '{name}' has the SwImage artifact '{artifact_name}' but no sw_image_data property"
                        ),
                    ));
                }
                match path {
                    Some(path) => {
                        Some(self.artifact_file(file, name, artifact_name, artifact, path, true)?)
                    }
                    None => None,
                }
            }
            None => None,
        };
        let Some(data) = data else {
            return Ok(None);
        };
        let checksum = data.get("checksum");
        Ok(Some(SwImage {
            name: data
                .get("name")
                .and_then(Node::scalar_text)
                .unwrap_or_default(),
            version: data
                .get("version")
                .and_then(Node::scalar_text)
                .unwrap_or_default(),
            checksum_algorithm: checksum
                .and_then(|c| c.get("algorithm"))
                .and_then(Node::scalar_text),
            checksum_hash: checksum
                .and_then(|c| c.get("hash"))
                .and_then(Node::scalar_text),
            container_format: data
                .get("container_format")
                .and_then(Node::scalar_text)
                .unwrap_or_default(),
            disk_format: data
                .get("disk_format")
                .and_then(Node::scalar_text)
                .unwrap_or_default(),
            min_disk: self.size(file, data.get("min_disk"))?.unwrap_or(0),
            min_ram: self.size(file, data.get("min_ram"))?.unwrap_or(0),
            size: self.size(file, data.get("size"))?.unwrap_or(0),
            file: image_file,
        }))
    }

    /// Resolves an artifact file: relative to the template, else (with a warning)
    /// relative to the package root. `required` makes a missing file an error.
    fn artifact_file(
        &mut self,
        file: &str,
        node: &str,
        artifact: &str,
        at: &Node,
        path: &str,
        required: bool,
    ) -> Result<String, VnfdError> {
        if path.starts_with('/') {
            self.warnings.push(format!("{file}: node '{node}' artifact '{artifact}' uses the absolute path '{path}', outside the package"));
            return Ok(path.to_owned());
        }
        let present = |p: &str| self.csar.contains(p) || self.missing_ok.contains(p);
        if let Some(resolved) = resolve_path(file, path)
            && present(&resolved)
        {
            return Ok(resolved);
        }
        let from_root = resolve_path("", path).unwrap_or_default();
        if present(&from_root) {
            self.warnings.push(format!(
                "{file}: node '{node}' artifact '{artifact}' file '{path}' resolves only relative to the package root, not to its template"
            ));
            return Ok(from_root);
        }
        if required {
            return Err(VnfdError::at(
                file,
                at,
                format!("node '{node}' artifact '{artifact}' file '{path}' is not in the package"),
            ));
        }
        self.warnings.push(format!(
            "{file}: node '{node}' artifact '{artifact}' file '{path}' is not in the package"
        ));
        Ok(path.to_owned())
    }

    fn vdu_cp(
        &self,
        file: &str,
        name: &str,
        node: &Node,
        names: &HashMap<String, String>,
    ) -> Result<VduCp, VnfdError> {
        let requirement = |key: &str| -> Option<String> {
            node.get("requirements")?
                .items()
                .iter()
                .flat_map(|i| i.entries())
                .find(|(k, _)| k.as_str() == Some(key))
                .and_then(|(_, v)| {
                    v.as_str()
                        .or_else(|| v.get("node").and_then(Node::as_str))
                        .map(str::to_owned)
                })
        };
        let vdu_id = requirement("virtual_binding").ok_or_else(|| {
            VnfdError::at(
                file,
                node,
                format!("VduCp '{name}' has no virtual_binding requirement"),
            )
        })?;
        if !names
            .get(&vdu_id)
            .is_some_and(|t| self.model.is_a(t, VDU_COMPUTE))
        {
            return Err(VnfdError::at(
                file,
                node,
                format!("VduCp '{name}' binds to '{vdu_id}', which is not a VDU"),
            ));
        }
        let properties = node.get("properties");
        Ok(VduCp {
            id: name.to_owned(),
            vdu_id,
            virtual_link: requirement("virtual_link"),
            order: properties
                .and_then(|p| p.get("order"))
                .and_then(Node::as_u64)
                .and_then(|v| u32::try_from(v).ok()),
            layer_protocols: strings(properties.and_then(|p| p.get("layer_protocols"))),
        })
    }

    fn storage(
        &mut self,
        file: &str,
        name: &str,
        node: &Node,
        type_name: &str,
    ) -> Result<VirtualStorage, VnfdError> {
        let properties = node.get("properties");
        let size_node = properties.and_then(|p| {
            p.get("virtual_block_storage_data")
                .and_then(|d| d.get("size_of_storage"))
                .or_else(|| {
                    p.get("virtual_object_storage_data")
                        .and_then(|d| d.get("max_size_of_storage"))
                })
                .or_else(|| p.get("size_of_storage"))
        });
        Ok(VirtualStorage {
            id: name.to_owned(),
            storage_type: [BLOCK_STORAGE, OBJECT_STORAGE, FILE_STORAGE]
                .into_iter()
                .find(|b| self.model.is_a(type_name, b))
                .unwrap_or(BLOCK_STORAGE)
                .to_owned(),
            size_of_storage: self.size(file, size_node)?.unwrap_or(0),
            sw_image: self.sw_image(file, name, node)?,
        })
    }

    fn lcm_operations(
        &mut self,
        file: &str,
        node_name: &str,
        node: &Node,
    ) -> Result<Vec<LcmOperationBinding>, VnfdError> {
        let Some(operations) = node.get("interfaces").and_then(|i| i.get("Vnflcm")) else {
            return Ok(Vec::new());
        };
        let mut bindings = Vec::new();
        for (operation, definition) in operations.entries() {
            let Some(name) = operation.as_str() else {
                continue;
            };
            if name == "type" || name == "inputs" || name == "notifications" {
                continue;
            }
            let implementation = match &definition.value {
                Value::Str(artifact) => Some(artifact.clone()),
                Value::Map(_) => definition.get("implementation").and_then(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .or_else(|| i.get("primary").and_then(Node::scalar_text))
                }),
                _ => None,
            };
            let artifact = implementation
                .as_deref()
                .and_then(|a| node.get("artifacts")?.get(a));
            let (artifact_file, artifact_type) = match (artifact, implementation.as_deref()) {
                (Some(artifact), Some(artifact_name)) => {
                    let path = artifact
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| artifact.get("file").and_then(Node::scalar_text));
                    let resolved = match path {
                        Some(path) => Some(self.artifact_file(
                            file,
                            node_name,
                            artifact_name,
                            artifact,
                            &path,
                            false,
                        )?),
                        None => None,
                    };
                    (resolved, artifact.get("type").and_then(Node::scalar_text))
                }
                _ => (None, None),
            };
            bindings.push(LcmOperationBinding {
                name: name.to_owned(),
                implementation,
                artifact_file,
                artifact_type,
                inputs: definition
                    .get("inputs")
                    .map(|i| i.to_json().as_object().cloned().unwrap_or_default())
                    .unwrap_or_default(),
            });
        }
        Ok(bindings)
    }

    fn policies(
        &self,
        file: &str,
        topology: &Node,
        names: &HashMap<String, String>,
        flavour: &mut DeploymentFlavour,
    ) -> Result<(), VnfdError> {
        let groups: BTreeSet<String> = topology
            .get("groups")
            .map(|g| {
                g.entries()
                    .filter_map(|(k, _)| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let policy_list = policies(Some(topology));
        let is = |policy: &Node, base: &str| {
            policy
                .get("type")
                .and_then(Node::as_str)
                .is_some_and(|t| self.model.is_a(t, &format!("tosca.policies.nfv.{base}")))
        };
        // Targets must exist.
        for (policy_name, policy) in &policy_list {
            for target in policy.get("targets").map(Node::items).unwrap_or_default() {
                let Some(target_name) = target.as_str() else {
                    continue;
                };
                if !names.contains_key(target_name) && !groups.contains(target_name) {
                    return Err(VnfdError::at(
                        file,
                        target,
                        format!(
                            "policy '{}' targets '{target_name}', which is not a node template or group of {file}",
                            policy_name.scalar_text().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        let vdu_targets = |policy_name: &Node, policy: &Node| -> Result<Vec<String>, VnfdError> {
            let mut out = Vec::new();
            for target in policy.get("targets").map(Node::items).unwrap_or_default() {
                let Some(target_name) = target.as_str() else {
                    continue;
                };
                if !names
                    .get(target_name)
                    .is_some_and(|t| self.model.is_a(t, VDU_COMPUTE))
                {
                    return Err(VnfdError::at(
                        file,
                        target,
                        format!(
                            "policy '{}' targets '{target_name}', which is not a VDU",
                            policy_name.scalar_text().unwrap_or_default()
                        ),
                    ));
                }
                out.push(target_name.to_owned());
            }
            Ok(out)
        };
        // Aspects and levels first: the other policies refer to them.
        for (_, policy) in &policy_list {
            let properties = policy.get("properties");
            if is(policy, "ScalingAspects") {
                for (aspect_id, aspect) in properties
                    .and_then(|p| p.get("aspects"))
                    .map(|a| a.entries().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    let id = aspect_id.scalar_text().unwrap_or_default();
                    let max = aspect.get("max_scale_level").and_then(Node::as_u64).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
                        VnfdError::at(file, aspect, format!("scaling aspect '{id}' needs a non-negative integer max_scale_level"))
                    })?;
                    flavour.scaling_aspects.push(ScalingAspect {
                        id: id.clone(),
                        name: aspect
                            .get("name")
                            .and_then(Node::scalar_text)
                            .unwrap_or_else(|| id.clone()),
                        description: aspect.get("description").and_then(Node::scalar_text),
                        max_scale_level: max,
                        step_deltas: strings(aspect.get("step_deltas")),
                        vdu_deltas: BTreeMap::new(),
                    });
                }
            } else if is(policy, "InstantiationLevels") {
                for (level_id, level) in properties
                    .and_then(|p| p.get("levels"))
                    .map(|l| l.entries().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    let scale_info = level
                        .get("scale_info")
                        .map(|s| {
                            s.entries()
                                .map(|(aspect, info)| {
                                    let value = info
                                        .get("scale_level")
                                        .and_then(Node::as_u64)
                                        .and_then(|v| u32::try_from(v).ok())
                                        .unwrap_or(0);
                                    (aspect.scalar_text().unwrap_or_default(), value)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    flavour.instantiation_levels.push(InstantiationLevel {
                        id: level_id.scalar_text().unwrap_or_default(),
                        description: level.get("description").and_then(Node::scalar_text),
                        scale_info,
                        vdu_instances: BTreeMap::new(),
                    });
                }
                if let Some(default) = properties.and_then(|p| p.get("default_level")) {
                    let default_id = default.scalar_text().unwrap_or_default();
                    if !flavour
                        .instantiation_levels
                        .iter()
                        .any(|l| l.id == default_id)
                    {
                        return Err(VnfdError::at(
                            file,
                            default,
                            format!(
                                "default_level '{default_id}' is not one of the defined instantiation levels"
                            ),
                        ));
                    }
                    flavour.default_instantiation_level = Some(default_id);
                }
            }
        }
        let level_ids: Vec<String> = flavour
            .instantiation_levels
            .iter()
            .map(|l| l.id.clone())
            .collect();
        for level in &flavour.instantiation_levels {
            for aspect in level.scale_info.keys() {
                if !flavour.scaling_aspects.iter().any(|a| &a.id == aspect) {
                    return Err(VnfdError::new(
                        file,
                        topology.line,
                        topology.column,
                        format!(
                            "instantiation level '{}' names scaling aspect '{aspect}', which is not defined",
                            level.id
                        ),
                    ));
                }
            }
        }
        // Coordination actions by name: (coordination_stage, endpoint_type); and the
        // operations' bindings: (policy, operation, action name, referenced only).
        let mut actions: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
        let mut bindings: Vec<(String, LcmOperationType, String, bool)> = Vec::new();
        for (policy_name, policy) in &policy_list {
            let properties = policy.get("properties");
            let policy_label = policy_name.scalar_text().unwrap_or_default();
            if is(policy, "VduScalingAspectDeltas") {
                let aspect_node = properties.and_then(|p| p.get("aspect"));
                let aspect_id = aspect_node.and_then(Node::scalar_text).unwrap_or_default();
                let Some(aspect) = flavour
                    .scaling_aspects
                    .iter_mut()
                    .find(|a| a.id == aspect_id)
                else {
                    return Err(VnfdError::at(
                        file,
                        aspect_node.unwrap_or(policy),
                        format!(
                            "policy '{policy_label}' names scaling aspect '{aspect_id}', which is not defined"
                        ),
                    ));
                };
                let deltas: BTreeMap<String, u32> = properties
                    .and_then(|p| p.get("deltas"))
                    .map(|d| {
                        d.entries()
                            .map(|(k, v)| {
                                (
                                    k.scalar_text().unwrap_or_default(),
                                    v.get("number_of_instances")
                                        .and_then(Node::as_u64)
                                        .and_then(|n| u32::try_from(n).ok())
                                        .unwrap_or(0),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                for vdu in vdu_targets(policy_name, policy)? {
                    aspect.vdu_deltas.insert(vdu, deltas.clone());
                }
            } else if is(policy, "VduInitialDelta") {
                let count = properties
                    .and_then(|p| p.get("initial_delta"))
                    .and_then(|d| d.get("number_of_instances"))
                    .and_then(Node::as_u64)
                    .and_then(|n| u32::try_from(n).ok());
                for vdu_id in vdu_targets(policy_name, policy)? {
                    if let (Some(vdu), Some(count)) =
                        (flavour.vdus.iter_mut().find(|v| v.id == vdu_id), count)
                    {
                        vdu.initial_delta = count;
                    }
                }
            } else if is(policy, "VduInstantiationLevels")
                || is(policy, "VirtualLinkInstantiationLevels")
            {
                let levels = properties.and_then(|p| p.get("levels"));
                let mut undefined = Vec::new();
                for (level, _) in levels
                    .map(|l| l.entries().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    let level = level.scalar_text().unwrap_or_default();
                    if !level_ids.contains(&level) {
                        undefined.push(level);
                    }
                }
                if !undefined.is_empty() {
                    return Err(VnfdError::at(
                        file,
                        levels.unwrap_or(policy),
                        format!(
                            "policy '{policy_label}' uses instantiation level(s) {} not defined by an InstantiationLevels policy (defined: {})",
                            undefined.join(", "),
                            if level_ids.is_empty() {
                                "none".to_owned()
                            } else {
                                level_ids.join(", ")
                            }
                        ),
                    ));
                }
                if is(policy, "VduInstantiationLevels") {
                    let targets = vdu_targets(policy_name, policy)?;
                    for (level_id, level) in levels
                        .map(|l| l.entries().collect::<Vec<_>>())
                        .unwrap_or_default()
                    {
                        let level_id = level_id.scalar_text().unwrap_or_default();
                        let count = level
                            .get("number_of_instances")
                            .and_then(Node::as_u64)
                            .and_then(|n| u32::try_from(n).ok())
                            .unwrap_or(0);
                        if let Some(level) = flavour
                            .instantiation_levels
                            .iter_mut()
                            .find(|l| l.id == level_id)
                        {
                            for vdu in &targets {
                                level.vdu_instances.insert(vdu.clone(), count);
                            }
                        }
                    }
                }
            } else if is(policy, "AffinityRule") || is(policy, "AntiAffinityRule") {
                flavour.placement_rules.push(PlacementRule {
                    id: policy_label,
                    anti_affinity: is(policy, "AntiAffinityRule"),
                    scope: properties
                        .and_then(|p| p.get("scope"))
                        .and_then(Node::scalar_text)
                        .unwrap_or_default(),
                    targets: strings(policy.get("targets")),
                });
            } else if is(policy, "LcmCoordinationAction") {
                let text = |node: Option<&Node>| node.and_then(Node::scalar_text);
                let Some(name) = text(properties.and_then(|p| p.get("action_name"))) else {
                    return Err(VnfdError::at(
                        file,
                        policy,
                        format!("coordination action policy '{policy_label}' has no action_name"),
                    ));
                };
                let action = properties.and_then(|p| p.get("action"));
                actions.insert(
                    name,
                    (
                        text(action.and_then(|a| a.get("coordination_stage"))),
                        text(action.and_then(|a| a.get("endpoint_type"))),
                    ),
                );
            } else if is(policy, "LcmCoordinationsForLcmOperation") {
                let operation_node = properties.and_then(|p| p.get("vnf_lcm_operation"));
                let operation_name = operation_node
                    .and_then(Node::scalar_text)
                    .unwrap_or_default();
                let Some(operation) = coordinated_operation(&operation_name) else {
                    return Err(VnfdError::at(
                        file,
                        operation_node.unwrap_or(policy),
                        format!(
                            "policy '{policy_label}' coordinates the operation '{operation_name}', which is not a VNF LCM operation"
                        ),
                    ));
                };
                for (key, referenced) in [
                    ("actions", false),
                    ("referenced_coordination_actions", true),
                ] {
                    for name in strings(properties.and_then(|p| p.get(key))) {
                        bindings.push((policy_label.clone(), operation, name, referenced));
                    }
                }
            }
        }
        for (policy_label, operation, name, referenced) in bindings {
            let (stage, endpoint_type) = match actions.get(&name) {
                Some(found) => found.clone(),
                None if referenced => (None, None),
                None => {
                    return Err(VnfdError::new(
                        file,
                        0,
                        0,
                        format!(
                            "policy '{policy_label}' lists the coordination action '{name}', which no LcmCoordinationAction policy declares (name it in referenced_coordination_actions if it is defined elsewhere)"
                        ),
                    ));
                }
            };
            flavour.lcm_coordinations.push(LcmCoordination {
                action_name: name,
                operation,
                stage,
                endpoint_type,
            });
        }
        Ok(())
    }
}

/// The LCM operation a `LcmCoordinationsForLcmOperation` names.
fn coordinated_operation(name: &str) -> Option<LcmOperationType> {
    Some(match name {
        "instantiate" => LcmOperationType::Instantiate,
        "scale" => LcmOperationType::Scale,
        "scale_to_level" => LcmOperationType::ScaleToLevel,
        "change_flavour" => LcmOperationType::ChangeFlavour,
        "terminate" => LcmOperationType::Terminate,
        "heal" => LcmOperationType::Heal,
        "operate" => LcmOperationType::Operate,
        "change_ext_conn" => LcmOperationType::ChangeExtConn,
        "modify_info" => LcmOperationType::ModifyInfo,
        "create_snapshot" => LcmOperationType::CreateSnapshot,
        "revert_to_snapshot" => LcmOperationType::RevertToSnapshot,
        "change_current_package" | "change_vnfpkg" => LcmOperationType::ChangeVnfpkg,
        _ => return None,
    })
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.map(|n| n.items().iter().filter_map(Node::scalar_text).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_tosca_units() {
        assert_eq!(parse_size("512 MB"), Some(512_000_000));
        assert_eq!(parse_size("1 GiB"), Some(1 << 30));
        assert_eq!(parse_size("3 GB"), Some(3_000_000_000));
        assert_eq!(parse_size("0 GB"), Some(0));
        assert_eq!(parse_size("1.5 KiB"), Some(1536));
        assert_eq!(parse_size("12"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("1 parsec"), None);
    }
}
