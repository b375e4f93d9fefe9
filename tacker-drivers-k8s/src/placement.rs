//! Where a CNF's pods may run: the VNFD's affinity and anti-affinity rules, and the
//! zones the grant gives.
//!
//! - An `AffinityRule` / `AntiAffinityRule` targeting VDUs labels their pod templates
//!   with `placement.tacker.etsi/<rule>: member` and adds a required pod (anti-)affinity
//!   term over the members of the rule in this VNF instance, with the topology of the
//!   rule's scope: `nfvi_node` → `kubernetes.io/hostname`, `zone` →
//!   `topology.kubernetes.io/zone`, `zone_group` and `nfvi_pop` →
//!   `topology.kubernetes.io/region`.
//! - The zones the grant places a VDU's new VNFCs in (`addResources[].zoneId` →
//!   `zones[].zoneId`) become a required node affinity on `topology.kubernetes.io/zone`.
//!   They are recorded in the VNFCs' metadata (`zones`), so later operations whose grant
//!   adds nothing to the VDU render the same constraint (and do not roll the pods).
//!
//! The terms are added to what the manifest already asks for, never replacing it.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tacker_core::infra::InfraContext;
use tacker_core::model::ResourceType;
use tacker_core::vnfd::DeploymentFlavour;

use crate::manifest::{INSTANCE_LABEL, ManifestObject};

/// The node label of zones.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The VNFC metadata key recording the zones its VDU is constrained to.
pub const ZONES_METADATA: &str = "zones";

const RULE_LABEL_PREFIX: &str = "placement.tacker.etsi/";

/// The topology key of a rule's scope.
fn topology_key(scope: &str) -> &'static str {
    match scope {
        "zone" => ZONE_LABEL,
        "zone_group" | "nfvi_pop" => "topology.kubernetes.io/region",
        _ => "kubernetes.io/hostname",
    }
}

/// The label key marking the members of a rule: the rule's name made a valid label
/// name (at most 63 characters of letters, digits, `-`, `_` and `.`, alphanumeric at
/// both ends).
pub fn rule_label(rule: &str) -> String {
    let mut name: String = rule
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    while name.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        name.pop();
    }
    let name = name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    format!(
        "{RULE_LABEL_PREFIX}{}",
        if name.is_empty() { "rule" } else { name }
    )
}

/// The zones each VDU's pods are constrained to in this operation: those the grant
/// gives the VDU's new compute resources, else those recorded with its VNFCs.
pub fn zones(ctx: &InfraContext<'_>, flavour: &DeploymentFlavour) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for vdu in &flavour.vdus {
        let mut zones = granted_zones(ctx, &vdu.id);
        if zones.is_empty() {
            zones = recorded_zones(ctx, &vdu.id);
        }
        if !zones.is_empty() {
            out.insert(vdu.id.clone(), zones);
        }
    }
    out
}

fn granted_zones(ctx: &InfraContext<'_>, vdu_id: &str) -> Vec<String> {
    let (Some(grant), Some(request)) = (ctx.grant, ctx.grant_request) else {
        return Vec::new();
    };
    let mut zones: Vec<String> = Vec::new();
    for definition in request
        .add_resources
        .iter()
        .filter(|d| d.resource_type == ResourceType::Compute && d.vdu_id.as_deref() == Some(vdu_id))
    {
        let zone = grant
            .add_resources
            .iter()
            .find(|info| info.resource_definition_id == definition.id)
            .and_then(|info| info.zone_id.as_deref())
            .and_then(|id| grant.zones.iter().find(|z| z.id == id))
            .map(|z| z.zone_id.clone());
        if let Some(zone) = zone
            && !zones.contains(&zone)
        {
            zones.push(zone);
        }
    }
    zones.sort();
    zones
}

fn recorded_zones(ctx: &InfraContext<'_>, vdu_id: &str) -> Vec<String> {
    ctx.vnf_instance
        .instantiated_vnf_info
        .as_ref()
        .into_iter()
        .flat_map(|info| info.vnfc_resource_info.iter())
        .filter(|vnfc| vnfc.vdu_id == vdu_id)
        .find_map(|vnfc| vnfc.metadata.get(ZONES_METADATA))
        .and_then(Value::as_array)
        .map(|zones| {
            zones
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The pod template of a workload: the object of a Pod, `spec.template` of the
/// controllers, `spec.jobTemplate.spec.template` of a CronJob.
fn pod_template(object: &mut Value) -> Option<&mut Value> {
    match object["kind"].as_str().unwrap_or_default() {
        "Pod" => Some(object),
        "CronJob" => object
            .pointer_mut("/spec/jobTemplate/spec/template")
            .filter(|t| t.is_object()),
        _ => object
            .pointer_mut("/spec/template")
            .filter(|t| t.is_object()),
    }
}

/// Appends `term` to the array at `path` of `target` (made when missing) unless an equal
/// term is there.
fn append_term(target: &mut Value, path: &[&str], term: Value) {
    let mut at = target;
    for key in path {
        if !at[*key].is_object() && !at[*key].is_array() {
            at[*key] = if *key == path[path.len() - 1] {
                json!([])
            } else {
                json!({})
            };
        }
        at = &mut at[*key];
    }
    if let Some(terms) = at.as_array_mut()
        && !terms.contains(&term)
    {
        terms.push(term);
    }
}

/// Adds the placement of each VDU to its workload (`workload_of` names it).
pub fn place(
    objects: &mut [ManifestObject],
    flavour: &DeploymentFlavour,
    instance_id: &str,
    zones: &BTreeMap<String, Vec<String>>,
    workload_of: impl Fn(&ManifestObject, &str) -> bool,
) {
    for vdu in &flavour.vdus {
        let Some(workload) = objects.iter_mut().find(|o| workload_of(o, &vdu.id)) else {
            continue;
        };
        let Some(template) = pod_template(&mut workload.value) else {
            continue;
        };
        for rule in flavour
            .placement_rules
            .iter()
            .filter(|rule| rule.targets.iter().any(|t| t == &vdu.id))
        {
            let label = rule_label(&rule.id);
            template["metadata"]["labels"][label.as_str()] = json!("member");
            let term = json!({
                "labelSelector": {"matchLabels": {INSTANCE_LABEL: instance_id, label.as_str(): "member"}},
                "topologyKey": topology_key(&rule.scope),
            });
            let kind = if rule.anti_affinity {
                "podAntiAffinity"
            } else {
                "podAffinity"
            };
            append_term(
                &mut template["spec"],
                &[
                    "affinity",
                    kind,
                    "requiredDuringSchedulingIgnoredDuringExecution",
                ],
                term,
            );
        }
        if let Some(zones) = zones.get(&vdu.id) {
            let expression = json!({"key": ZONE_LABEL, "operator": "In", "values": zones});
            let required = &mut template["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
            if !required["nodeSelectorTerms"].is_array() {
                required["nodeSelectorTerms"] = json!([]);
            }
            if let Some(terms) = required["nodeSelectorTerms"].as_array_mut() {
                if terms.is_empty() {
                    terms.push(json!({"matchExpressions": []}));
                }
                // Each term is ORed: the zone must hold in every one of them.
                for term in terms {
                    append_term(term, &["matchExpressions"], expression.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacker_core::vnfd::{PlacementRule, Vdu};

    fn flavour(rules: Vec<PlacementRule>) -> DeploymentFlavour {
        DeploymentFlavour {
            vdus: vec![
                Vdu {
                    id: "VDU1".into(),
                    name: "vdu1".into(),
                    ..Vdu::default()
                },
                Vdu {
                    id: "VDU2".into(),
                    name: "vdu2".into(),
                    ..Vdu::default()
                },
            ],
            placement_rules: rules,
            ..DeploymentFlavour::default()
        }
    }

    fn deployment(name: &str, affinity: Option<Value>) -> ManifestObject {
        let mut value = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}}},
        });
        if let Some(affinity) = affinity {
            value["spec"]["template"]["spec"]["affinity"] = affinity;
        }
        ManifestObject {
            file: "Files/deployment.yaml".into(),
            value,
        }
    }

    #[test]
    fn rules_become_pod_affinity_terms_and_zones_a_node_affinity_kept_with_the_manifests() {
        let rules = vec![
            PlacementRule {
                id: "anti affinity/vdu1".into(),
                anti_affinity: true,
                scope: "nfvi_node".into(),
                targets: vec!["VDU1".into()],
            },
            PlacementRule {
                id: "together".into(),
                anti_affinity: false,
                scope: "zone".into(),
                targets: vec!["VDU1".into(), "VDU2".into()],
            },
        ];
        let flavour = flavour(rules);
        let existing = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}});
        let mut objects = vec![deployment("vdu1", None), deployment("vdu2", Some(existing))];
        let zones = BTreeMap::from([("VDU2".to_owned(), vec!["zone-1".to_owned()])]);
        let workload_of =
            |o: &ManifestObject, vdu: &str| o.name() == vdu.to_ascii_lowercase().as_str();
        place(&mut objects, &flavour, "vnf-1", &zones, workload_of);
        // Twice: nothing is added again.
        place(&mut objects, &flavour, "vnf-1", &zones, workload_of);

        let first = &objects[0].value["spec"]["template"];
        assert_eq!(
            first["metadata"]["labels"]["placement.tacker.etsi/anti-affinity-vdu1"],
            "member"
        );
        let anti = &first["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
        assert_eq!(anti.as_array().map(Vec::len), Some(1), "{anti}");
        assert_eq!(anti[0]["topologyKey"], "kubernetes.io/hostname");
        assert_eq!(
            anti[0]["labelSelector"]["matchLabels"][INSTANCE_LABEL],
            "vnf-1"
        );
        let together = &first["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
        assert_eq!(together[0]["topologyKey"], ZONE_LABEL);
        assert!(first["spec"]["affinity"].get("nodeAffinity").is_none());

        let second = &objects[1].value["spec"]["template"]["spec"]["affinity"];
        let terms = &second["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
        assert_eq!(terms.as_array().map(Vec::len), Some(1));
        let expressions = terms[0]["matchExpressions"]
            .as_array()
            .expect("expressions");
        assert_eq!(expressions.len(), 2, "{expressions:?}");
        assert_eq!(expressions[0]["key"], "disk");
        assert_eq!(
            expressions[1],
            json!({"key": ZONE_LABEL, "operator": "In", "values": ["zone-1"]})
        );
        assert!(second.get("podAntiAffinity").is_none());
    }

    #[test]
    fn rule_labels_are_valid_label_names() {
        assert_eq!(
            rule_label("anti_affinity_vdu1"),
            "placement.tacker.etsi/anti_affinity_vdu1"
        );
        assert_eq!(rule_label("--x y--"), "placement.tacker.etsi/x-y");
        assert_eq!(rule_label("***"), "placement.tacker.etsi/rule");
        assert_eq!(
            rule_label(&"a".repeat(100)).len(),
            "placement.tacker.etsi/".len() + 63
        );
    }
}
