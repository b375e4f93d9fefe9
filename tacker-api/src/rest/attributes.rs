//! The attribute names of the listed ETSI resources, for the SOL013 rule that a
//! `filter`, `fields` or `exclude_fields` naming an attribute the resource does not
//! have is a 400. The names are in `attributes.json`, written from the ETSI OpenAPI
//! definitions (SOL003 and SOL005 v3.7.1) by `scripts/attributes/generate.py`: per
//! resource, a tree where a name maps to its own attributes, to `true` (a leaf) or to
//! `"*"` (key-value pairs, where any name may follow). Arrays are transparent.

use std::sync::LazyLock;

use serde_json::Value;

static TREES: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("attributes.json")).unwrap_or(Value::Null));

/// The resource a list path returns, by its last segments.
pub(crate) fn resource_of(path: &str) -> Option<&'static str> {
    let path = path.trim_end_matches('/');
    let api = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    Some(match (api, last) {
        ("vnflcm", "vnf_instances") => "VnfInstance",
        ("vnflcm", "vnf_lcm_op_occs") => "VnfLcmOpOcc",
        ("vnflcm", "subscriptions") => "LccnSubscription",
        ("vnfpkgm", "vnf_packages") => "VnfPkgInfo",
        ("vnfpkgm", "subscriptions") => "PkgmSubscription",
        ("vnffm", "alarms") => "Alarm",
        ("vnffm", "subscriptions") => "FmSubscription",
        _ => return None,
    })
}

/// `Ok` when `resource` has the attribute `path`; else the part of the path that names
/// nothing (`instantiatedVnfInfo/flavourID`).
pub(crate) fn check(resource: &str, path: &[String]) -> Result<(), String> {
    let Some(mut node) = TREES.get(resource) else {
        return Ok(());
    };
    for (depth, name) in path.iter().enumerate() {
        match node {
            Value::String(open) if open == "*" => return Ok(()),
            Value::Object(children) => match children.get(name) {
                Some(child) => node = child,
                None => return Err(path[..=depth].join("/")),
            },
            // A leaf has no attributes below it.
            _ => return Err(path[..=depth].join("/")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Vec<String> {
        text.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn known_paths_pass_and_unknown_ones_are_named() {
        for ok in [
            "vnfInstanceName",
            "instantiatedVnfInfo/flavourId",
            "instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId",
            "metadata/anything/below",
            "vimConnectionInfo/vim1/vimType",
        ] {
            assert_eq!(check("VnfInstance", &path(ok)), Ok(()), "{ok}");
        }
        assert_eq!(
            check("VnfInstance", &path("vnfInstanceNam")),
            Err("vnfInstanceNam".to_owned())
        );
        assert_eq!(
            check("VnfInstance", &path("instantiatedVnfInfo/flavourID/x")),
            Err("instantiatedVnfInfo/flavourID".to_owned())
        );
        assert_eq!(
            check("VnfInstance", &path("id/deeper")),
            Err("id/deeper".to_owned())
        );
        assert_eq!(check("VnfLcmOpOcc", &path("operationState")), Ok(()));
        assert_eq!(check("Alarm", &path("perceivedSeverity")), Ok(()));
        assert_eq!(
            check("VnfPkgInfo", &path("softwareImages/checksum/algorithm")),
            Ok(())
        );
    }

    #[test]
    fn list_paths_name_their_resources() {
        assert_eq!(resource_of("/vnflcm/v2/vnf_instances"), Some("VnfInstance"));
        assert_eq!(
            resource_of("/vnfpkgm/v1/subscriptions"),
            Some("PkgmSubscription")
        );
        assert_eq!(resource_of("/vnffm/v1/alarms"), Some("Alarm"));
        assert_eq!(resource_of("/vims"), None);
    }
}
