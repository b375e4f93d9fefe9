//! The Tacker-protocol script driver through the LCM engine on the simulated VIM: a
//! script of our own in that protocol (instance changes, configuration state, failure
//! data kept across a retry), hostile scripts stopped and reported, and the real
//! `sample_script.py` of Tacker's published source distribution (assembled by
//! `scripts/tacker-userdata.sh samples`, `TACKER_TEST_USERDATA_SAMPLES`).
//!
//! Skipped without bubblewrap (or the samples), except under `CI=true`.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tacker_core::model::{
    KeyValuePairs, LcmOperationStateType as State, ScaleType, ScaleVnfRequest,
    VnfInfoModificationRequest,
};
use tacker_core::sim::SimInfraDriver;
use tacker_mgmt_scripts::PythonScriptMgmtDriver;

use support::{Env, instantiate, package_zip, sample_package, sandbox, terminate};

/// Our own script in Tacker's protocol.
const CONFIG_SCRIPT: &str = r#"import os
import pickle
import socket
import sys

d = pickle.load(sys.stdin.buffer)
op = d["operation"]
inst = d["vnf_instance"]
req = d["request"]
params = req.get("additionalParams") or {}
for key in ("grant_request", "grant_response", "tmp_csar_dir", "user_script_err_handling_data"):
    assert key in d, key
assert os.path.isfile(os.path.join(d["tmp_csar_dir"], "Scripts", "config.py"))
assert "accessInfo" not in repr(inst.get("vimConnectionInfo"))
out = {}
hostile = params.get("hostile")
if op == "instantiate_start" and hostile == "read":
    sys.stderr.write(open(params["path"]).read())
elif op == "instantiate_start" and hostile == "socket":
    socket.create_connection(("127.0.0.1", params["port"]), timeout=3).close()
elif op == "instantiate_start" and hostile == "loop":
    while True:
        pass
elif op == "instantiate_start" and hostile == "alloc":
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))
elif op == "instantiate_start":
    out["user_script_err_handling_data"] = {"started": "instantiate_start"}
elif op == "instantiate_end":
    assert d["user_script_err_handling_data"].get("started") == "instantiate_start", d["user_script_err_handling_data"]
    inst.setdefault("extensions", {})["configuredBy"] = "config.py"
    vnfcs = inst["instantiatedVnfInfo"]["vnfcResourceInfo"]
    inst.setdefault("metadata", {})["vnfcCount"] = len(vnfcs)
    out["vnf_instance"] = inst
elif op == "modify_information_end":
    inst.setdefault("metadata", {})["appliedConfig"] = req.get("vnfConfigurableProperties")
    inst["instantiatedVnfInfo"] = None
    out["vnf_instance"] = inst
elif op == "scale_end":
    attempts = d["user_script_err_handling_data"].get("attempts", 0) + 1
    if attempts < 2:
        sys.stdout.buffer.write(pickle.dumps({"user_script_err_handling_data": {"attempts": attempts}}))
        sys.stdout.flush()
        sys.stderr.write(f"the VNF is not ready for its new VNFCs (attempt {attempts})")
        sys.stderr.flush()
        os._exit(3)
    inst.setdefault("metadata", {})["scaleAttempts"] = attempts
    out["vnf_instance"] = inst
sys.stdout.buffer.write(pickle.dumps(out))
"#;

/// The sample VNF, its hooks bound to `config-script` (`Scripts/config.py`).
fn config_package() -> Vec<u8> {
    sample_package(
        &[
            "instantiate_start",
            "instantiate_end",
            "terminate_start",
            "terminate_end",
            "scale_start",
            "scale_end",
            "modify_information_start",
            "modify_information_end",
        ],
        "config-script",
        "tosca.artifacts.Implementation.Python",
        &[("Scripts/config.py", CONFIG_SCRIPT)],
    )
}

/// The engine with the config package onboarded and scripts limited to `time_limit`.
async fn config_env(time_limit: Duration) -> Option<(Env, String)> {
    let sandbox = sandbox(None, time_limit).await?;
    Some(
        Env::new(
            Arc::new(PythonScriptMgmtDriver::new("config-script", sandbox)),
            SimInfraDriver::builder().build(),
            config_package(),
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_in_tackers_protocol_configures_the_vnf() {
    let Some((env, vnfd_id)) = config_env(Duration::from_secs(30)).await else {
        return;
    };
    let id = env.create(&vnfd_id).await;
    let op = env
        .finish(
            env.lcm()
                .instantiate(&env.tenant, &id, instantiate(json!({})))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let instance = env
        .lcm()
        .instance(&env.tenant, &id)
        .await
        .expect("instance");
    assert_eq!(instance.extensions["configuredBy"], "config.py");
    assert_eq!(instance.metadata["vnfcCount"], 2);

    // A change of configuration reaches the VNF through modify_information_end, and the
    // instance says when it was applied; the script's attempt to drop the instance's
    // resources is ignored.
    let change = VnfInfoModificationRequest {
        vnf_configurable_properties: Some(
            serde_json::from_value(json!({"logLevel": "debug"})).expect("properties"),
        ),
        ..VnfInfoModificationRequest::default()
    };
    let op = env
        .finish(env.lcm().modify_info(&env.tenant, &id, change).await)
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let instance = env
        .lcm()
        .instance(&env.tenant, &id)
        .await
        .expect("instance");
    assert_eq!(instance.vnf_configurable_properties["logLevel"], "debug");
    assert_eq!(
        instance.metadata["appliedConfig"],
        json!({"logLevel": "debug"})
    );
    assert!(instance.instantiated_vnf_info.is_some());
    let state = &instance.metadata[tacker_core::mgmt::CONFIGURATION_STATE];
    assert_eq!(state["applied"], true, "{state}");
    assert_eq!(state["vnfLcmOpOccId"], op.id.as_str());
    assert_eq!(
        state["hooks"],
        json!(["modify_information_start", "modify_information_end"])
    );
    assert!(state["appliedAt"].as_str().is_some_and(|t| !t.is_empty()));

    // scale_end fails once, recording its progress; the retry gets it back.
    let scale = ScaleVnfRequest {
        scale_type: ScaleType::ScaleOut,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params: KeyValuePairs::new(),
    };
    let op = env
        .finish(env.lcm().scale(&env.tenant, &id, scale).await)
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let error = op.error.expect("the failure is recorded");
    assert!(
        error.detail.contains("scale_end failed")
            && error
                .detail
                .contains("not ready for its new VNFCs (attempt 1)"),
        "{}",
        error.detail
    );
    assert_eq!(
        error.user_script_err_handling_data,
        Some(serde_json::from_value(json!({"attempts": 1})).expect("data"))
    );
    let retried = env.finish(env.lcm().retry(&env.tenant, &op.id).await).await;
    assert_eq!(
        retried.operation_state,
        State::Completed,
        "{:?}",
        retried.error
    );
    let instance = env
        .lcm()
        .instance(&env.tenant, &id)
        .await
        .expect("instance");
    assert_eq!(instance.metadata["scaleAttempts"], 2);

    let op = env
        .finish(env.lcm().terminate(&env.tenant, &id, terminate()).await)
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let ran: Vec<String> = env
        .steps(&op.id)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        ran.contains(&"terminate_start".to_owned()) && ran.contains(&"terminate_end".to_owned()),
        "{ran:?}"
    );
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scripts_are_stopped_and_reported() {
    let Some((env, vnfd_id)) = config_env(Duration::from_secs(4)).await else {
        return;
    };
    // What the VNFM keeps: a secret file beside its data.
    let data_dir = std::env::temp_dir().join(format!("tacker-scripts-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let secret = data_dir.join("sealing.key");
    std::fs::write(&secret, "the VNFM's sealing key").expect("secret");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();

    let attacks = [
        (
            json!({"hostile": "read", "path": secret}),
            "No such file or directory",
        ),
        (json!({"hostile": "socket", "port": port}), "Errno"),
        (json!({"hostile": "loop"}), "did not finish within"),
        (json!({"hostile": "alloc"}), "MemoryError"),
    ];
    for (params, reported) in attacks {
        let id = env.create(&vnfd_id).await;
        let op = env
            .finish(
                env.lcm()
                    .instantiate(&env.tenant, &id, instantiate(params.clone()))
                    .await,
            )
            .await;
        assert_ne!(
            op.operation_state,
            State::Completed,
            "{params}: the attack worked"
        );
        let detail = op.error.map(|e| e.detail).unwrap_or_default();
        assert!(
            detail.contains("instantiate_start") && detail.contains(reported),
            "{params}: {detail}"
        );
        assert!(!detail.contains("sealing key"), "{detail}");
    }
    assert!(
        listener.accept().is_err(),
        "the script reached a socket on the host"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tackers_own_sample_script_runs_in_its_hooks() {
    let Some(samples) = std::env::var("TACKER_TEST_USERDATA_SAMPLES")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but TACKER_TEST_USERDATA_SAMPLES is not set (.ci/run sets it)"
        );
        eprintln!(
            "skipped: TACKER_TEST_USERDATA_SAMPLES is not set (scripts/tacker-userdata.sh samples)"
        );
        return;
    };
    let Some(sandbox) = sandbox(None, Duration::from_secs(30)).await else {
        return;
    };
    let root = Path::new(&samples).join("basic_lcms_min_individual_vnfc");
    let script = std::fs::read_to_string(root.join("Scripts/sample_script.py"))
        .expect("Tacker's sample script");
    assert!(
        script.contains("pickle.load(sys.stdin.buffer)"),
        "the real script"
    );
    let (env, vnfd_id) = Env::new(
        Arc::new(PythonScriptMgmtDriver::new("sample-script", sandbox)),
        SimInfraDriver::builder().build(),
        package_zip(&root, &[]),
    )
    .await;
    let id = env.create(&vnfd_id).await;
    let op = env
        .finish(
            env.lcm()
                .instantiate(&env.tenant, &id, instantiate(json!({})))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let ran = env.steps(&op.id).await;
    for hook in ["instantiate_start", "instantiate_end"] {
        assert!(
            ran.iter()
                .any(|(name, output)| name == hook && output.is_object()),
            "{hook} ran through the script: {ran:?}"
        );
    }
    let op = env
        .finish(env.lcm().terminate(&env.tenant, &id, terminate()).await)
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let ran = env.steps(&op.id).await;
    for hook in ["terminate_start", "terminate_end"] {
        assert!(
            ran.iter()
                .any(|(name, output)| name == hook && output.is_object()),
            "{hook} ran through the script: {ran:?}"
        );
    }
    env.vnfm.shutdown().await;
}
