//! The Tacker-protocol script driver through the LCM engine on the simulated VIM: a
//! script of our own in that protocol (instance changes, configuration state, failure
//! data kept across a retry), hostile scripts stopped and reported, and the real
//! `sample_script.py` of Tacker's published source distribution (assembled by
//! `scripts/tacker-userdata.sh samples`, `TACKER_TEST_USERDATA_SAMPLES`).
//!
//! Skipped without bubblewrap (or the samples), except under `CI=true`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, KeyValuePairs,
    LcmOperationStateType as State, ScaleType, ScaleVnfRequest, TerminateVnfRequest,
    TerminationType, VnfInfoModificationRequest, VnfLcmOpOcc,
};
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver};
use tacker_core::store::{MemoryStore, OpOccRecord, StoreExt};
use tacker_core::vim::VimRegistration;
use tacker_core::{Result, TenantId, Vnfm};
use tacker_mgmt_scripts::PythonScriptMgmtDriver;
use tacker_sandbox::{Sandbox, SandboxConfig};

const WAIT: Duration = Duration::from_secs(60);

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
elif op == "instantiate_end":
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf");
    let df = std::fs::read_to_string(root.join("Definitions/sample_vnf_df_simple.yaml"))
        .expect("the sample's flavour");
    let hooks = [
        "instantiate_start",
        "instantiate_end",
        "terminate_start",
        "terminate_end",
        "scale_start",
        "scale_end",
        "modify_information_start",
        "modify_information_end",
    ]
    .iter()
    .map(|h| format!("          {h}:\n            implementation: config-script\n"))
    .collect::<String>();
    let bound = df.replacen(
        "        flavour_description: One database, one to three web servers\n",
        &format!(
            "        flavour_description: One database, one to three web servers\n      interfaces:\n        Vnflcm:\n{hooks}      artifacts:\n        config-script:\n          type: tosca.artifacts.Implementation.Python\n          file: ../Scripts/config.py\n"
        ),
        1,
    );
    assert_ne!(
        bound, df,
        "the flavour's VNF node is where the test expects it"
    );
    package_zip(
        &root,
        &[
            ("Definitions/sample_vnf_df_simple.yaml", bound.as_bytes()),
            ("Scripts/config.py", CONFIG_SCRIPT.as_bytes()),
        ],
    )
}

/// A zip of the package folder `root` with `replaced` files, its manifest (if it has
/// one) rewritten with every file's digest.
fn package_zip(root: &Path, replaced: &[(&str, &[u8])]) -> Vec<u8> {
    use sha2::Digest;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("package folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                files.push((name, std::fs::read(&path).expect("file")));
            }
        }
    }
    for (name, bytes) in replaced {
        files.retain(|(n, _)| n != name);
        files.push(((*name).to_owned(), bytes.to_vec()));
    }
    if let Some(manifest) = files
        .iter()
        .position(|(n, _)| n.ends_with(".mf") && !n.contains('/'))
    {
        let metadata = String::from_utf8_lossy(&files[manifest].1)
            .split("\n\n")
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut text = format!("{metadata}\n");
        for (name, bytes) in &files {
            if name.ends_with(".mf") && !name.contains('/') || name.starts_with("TOSCA-Metadata/") {
                continue;
            }
            let digest: String = sha2::Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            text.push_str(&format!(
                "\nSource: {name}\nAlgorithm: SHA-256\nHash: {digest}\n"
            ));
        }
        files[manifest].1 = text.into_bytes();
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in &files {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

/// The sandbox, or `None` (the test skips) where bubblewrap cannot run.
async fn sandbox(time_limit: Duration) -> Option<Arc<Sandbox>> {
    let config = SandboxConfig {
        time_limit,
        memory_limit: 512 << 20,
        ..SandboxConfig::default()
    };
    match Sandbox::new(config).await {
        Ok(sandbox) => Some(Arc::new(sandbox)),
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the sandbox cannot run: {error}"
            );
            eprintln!("skipped: {error}");
            None
        }
    }
}

struct Env {
    vnfm: Vnfm,
    store: Arc<MemoryStore>,
    tenant: TenantId,
}

impl Env {
    async fn new(driver: PythonScriptMgmtDriver, package: Vec<u8>) -> (Self, String) {
        let store = Arc::new(MemoryStore::new());
        let vnfm = Vnfm::builder()
            .store(store.clone())
            .vim_type(SimInfraDriver::builder().build().as_vim_type())
            .register_default_vim(VimRegistration::new("sim", SIM_VIM_TYPE).as_default())
            .mgmt_driver(Arc::new(driver))
            .lcm_config(LcmConfig {
                poll_interval: Duration::from_millis(20),
                ..LcmConfig::default()
            })
            .build()
            .expect("vnfm");
        vnfm.start().await.expect("start");
        let tenant = TenantId::default();
        let created = vnfm
            .packages()
            .create(&tenant, CreateVnfPkgInfoRequest::default())
            .await
            .expect("package");
        let onboarded = vnfm
            .packages()
            .upload_content(&tenant, &created.id, package.into())
            .await
            .expect("onboarding");
        let vnfd_id = onboarded.vnfd_id.expect("vnfdId");
        (
            Self {
                vnfm,
                store,
                tenant,
            },
            vnfd_id,
        )
    }

    fn lcm(&self) -> &VnfLcm {
        self.vnfm.lcm()
    }

    async fn create(&self, vnfd_id: &str) -> String {
        self.lcm()
            .create_vnf(
                &self.tenant,
                CreateVnfRequest {
                    vnfd_id: vnfd_id.to_owned(),
                    ..CreateVnfRequest::default()
                },
            )
            .await
            .expect("create")
            .id
    }

    async fn finish(&self, op: Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
        let op = op.expect("accepted");
        self.lcm()
            .wait_for(&self.tenant, &op.id, &[], WAIT)
            .await
            .expect("the operation ends")
    }

    async fn steps(&self, op_id: &str) -> Vec<(String, Value)> {
        self.store
            .get_typed::<OpOccRecord>(&self.tenant, op_id)
            .await
            .expect("record")
            .value
            .steps
            .into_iter()
            .map(|s| (s.name, s.output))
            .collect()
    }
}

fn instantiate(params: Value) -> InstantiateVnfRequest {
    let additional: KeyValuePairs = serde_json::from_value(params).expect("params");
    InstantiateVnfRequest {
        flavour_id: "simple".into(),
        additional_params: additional,
        ..InstantiateVnfRequest::default()
    }
}

fn terminate() -> TerminateVnfRequest {
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: KeyValuePairs::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_in_tackers_protocol_configures_the_vnf() {
    let Some(sandbox) = sandbox(Duration::from_secs(30)).await else {
        return;
    };
    let (env, vnfd_id) = Env::new(
        PythonScriptMgmtDriver::new("config-script", sandbox),
        config_package(),
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
    let Some(sandbox) = sandbox(Duration::from_secs(4)).await else {
        return;
    };
    let (env, vnfd_id) = Env::new(
        PythonScriptMgmtDriver::new("config-script", sandbox),
        config_package(),
    )
    .await;
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
    let Some(sandbox) = sandbox(Duration::from_secs(30)).await else {
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
        PythonScriptMgmtDriver::new("sample-script", sandbox),
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
