//! Subnets before the ports on their network.
//!
//! A Neutron port created on a network that has no subnet yet gets no fixed address,
//! and Nova then refuses to boot a server on it ("Port … requires a FixedIP in order to
//! be used"). Heat orders resources only by the references between them, and a port (or
//! a nested stack of ports) refers to its network, not to the network's subnet: templates
//! such as Tacker's samples, where both only name the network, race. Before a top
//! template is sent, every resource that refers to a network of the same template
//! (`get_resource: <net>`, anywhere in its properties) is made to depend on that
//! network's subnets (`depends_on`). A template that needs nothing added is sent as the
//! package has it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Whether `value` holds `{get_resource: name}` anywhere.
fn refers_to(value: &Value, name: &str) -> bool {
    match value {
        Value::Object(map) => {
            if map.len() == 1 && map.get("get_resource").and_then(Value::as_str) == Some(name) {
                return true;
            }
            map.values().any(|v| refers_to(v, name))
        }
        Value::Array(items) => items.iter().any(|v| refers_to(v, name)),
        _ => false,
    }
}

/// The names in a resource's `depends_on` (a name or a list of names).
fn depends_on(resource: &Map<String, Value>) -> Vec<String> {
    match resource.get("depends_on") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `text` with the dependencies added (as JSON, which Heat reads as YAML), or `None`
/// when none is missing or the template does not parse (Heat then says why).
pub fn subnets_first(text: &str) -> Option<String> {
    let mut template: Value = tacker_core::vnfd::yaml::from_str(text).ok()?;
    let resources = template.get_mut("resources")?.as_object_mut()?;
    // Network name → its subnets in this template.
    let mut subnets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, resource) in resources.iter() {
        if resource["type"] != "OS::Neutron::Subnet" {
            continue;
        }
        let network = &resource["properties"]["network"];
        let network = network
            .get("get_resource")
            .and_then(Value::as_str)
            .or_else(|| {
                resource["properties"]["network_id"]
                    .get("get_resource")?
                    .as_str()
            });
        if let Some(network) = network {
            subnets
                .entry(network.to_owned())
                .or_default()
                .push(name.clone());
        }
    }
    if subnets.is_empty() {
        return None;
    }
    let mut changed = false;
    for (name, resource) in resources.iter_mut() {
        let Some(resource) = resource.as_object_mut() else {
            continue;
        };
        if resource.get("type").and_then(Value::as_str) == Some("OS::Neutron::Subnet") {
            continue;
        }
        let mut wanted = depends_on(resource);
        let before = wanted.len();
        for (network, of_network) in &subnets {
            let uses = resource
                .get("properties")
                .is_some_and(|p| refers_to(p, network));
            if !uses {
                continue;
            }
            for subnet in of_network {
                if subnet != name && !wanted.contains(subnet) {
                    wanted.push(subnet.clone());
                }
            }
        }
        if wanted.len() != before {
            resource.insert(
                "depends_on".to_owned(),
                Value::Array(wanted.into_iter().map(Value::String).collect()),
            );
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_string(&template).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RACY: &str = "
heat_template_version: 2013-05-23
resources:
  group:
    type: OS::Heat::AutoScalingGroup
    properties:
      resource:
        type: VDU1.yaml
        properties:
          net5: { get_resource: net }
  port:
    type: OS::Neutron::Port
    depends_on: other
    properties:
      network: { get_resource: net }
  other:
    type: OS::Heat::None
  net:
    type: OS::Neutron::Net
  subnet:
    type: OS::Neutron::Subnet
    properties:
      network: { get_resource: net }
      cidr: 192.168.5.0/24
";

    #[test]
    fn users_of_a_network_wait_for_its_subnets() {
        let text = subnets_first(RACY).expect("dependencies are added");
        let template: Value = serde_json::from_str(&text).expect("JSON");
        let resources = &template["resources"];
        assert_eq!(
            resources["group"]["depends_on"],
            serde_json::json!(["subnet"])
        );
        assert_eq!(
            resources["port"]["depends_on"],
            serde_json::json!(["other", "subnet"])
        );
        assert!(resources["subnet"].get("depends_on").is_none());
        assert!(resources["net"].get("depends_on").is_none());
        assert_eq!(template["heat_template_version"], "2013-05-23");
        // Applied again: nothing is missing any more.
        assert_eq!(subnets_first(&text), None);
    }

    #[test]
    fn templates_without_the_race_are_sent_as_they_are() {
        assert_eq!(
            subnets_first(
                "heat_template_version: 2013-05-23\nresources:\n  s:\n    type: OS::Nova::Server\n"
            ),
            None
        );
        assert_eq!(subnets_first("resources: [unclosed"), None);
    }
}
