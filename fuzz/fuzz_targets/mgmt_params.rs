//! Arbitrary JSON as the `additionalParams` a request gives the management drivers: the
//! Kubernetes-cluster driver's `k8s_cluster_installation_param` and the Ansible
//! driver's `ansible` settings are read without panicking, and what is accepted reads
//! the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacker_mgmt_k8s_cluster::ClusterParams;
use tacker_mgmt_scripts::AnsibleSettings;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(params) = ClusterParams::parse(&value) {
        let again = ClusterParams::parse(&params.raw).expect("accepted parameters read again");
        assert_eq!(again.script_path, params.script_path);
    }
    let Some(map) = value.as_object() else {
        return;
    };
    for (user, request_keys) in [(Some("ubuntu"), true), (None, false)] {
        if let Ok(settings) = AnsibleSettings::parse(Some(map), user, request_keys) {
            assert!(settings.port > 0);
            assert!(!settings.user.is_empty());
        }
    }
});
