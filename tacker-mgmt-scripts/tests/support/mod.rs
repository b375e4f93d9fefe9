//! What the script drivers' tests share: a package zip with its manifest redone, the
//! sandbox, and an engine on the simulated VIM.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::mgmt::MgmtDriver;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, KeyValuePairs,
    TerminateVnfRequest, TerminationType, VnfLcmOpOcc,
};
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver};
use tacker_core::store::{MemoryStore, OpOccRecord, StoreExt};
use tacker_core::vim::VimRegistration;
use tacker_core::{Result, TenantId, Vnfm};
use tacker_sandbox::{Sandbox, SandboxConfig};

pub const WAIT: Duration = Duration::from_secs(90);

/// The sample VNF with its flavour's VNF node given `interfaces` and `artifacts`: every
/// hook in `hooks` bound to `artifact` (of `artifact_type`), whose file is the first of
/// `files` (each added to the package with its content).
pub fn sample_package(
    hooks: &[&str],
    artifact: &str,
    artifact_type: &str,
    files: &[(&str, &str)],
) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf");
    let df = std::fs::read_to_string(root.join("Definitions/sample_vnf_df_simple.yaml"))
        .expect("the sample's flavour");
    let bindings = hooks
        .iter()
        .map(|h| format!("          {h}:\n            implementation: {artifact}\n"))
        .collect::<String>();
    let (file, _) = files.first().expect("the artifact's file");
    let bound = df.replacen(
        "        flavour_description: One database, one to three web servers\n",
        &format!(
            "        flavour_description: One database, one to three web servers\n      interfaces:\n        Vnflcm:\n{bindings}      artifacts:\n        {artifact}:\n          type: {artifact_type}\n          file: ../{file}\n"
        ),
        1,
    );
    assert_ne!(
        bound, df,
        "the flavour's VNF node is where the test expects it"
    );
    let mut replaced: Vec<(&str, &[u8])> =
        vec![("Definitions/sample_vnf_df_simple.yaml", bound.as_bytes())];
    replaced.extend(files.iter().map(|(n, c)| (*n, c.as_bytes())));
    package_zip(&root, &replaced)
}

/// A zip of the package folder `root` with `replaced` files, its manifest (if it has
/// one) rewritten with every file's digest.
pub fn package_zip(root: &Path, replaced: &[(&str, &[u8])]) -> Vec<u8> {
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
pub async fn sandbox(python: Option<&str>, time_limit: Duration) -> Option<Arc<Sandbox>> {
    let config = SandboxConfig {
        python: python.map_or_else(|| "python3".into(), Into::into),
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

pub struct Env {
    pub vnfm: Vnfm,
    pub store: Arc<MemoryStore>,
    pub tenant: TenantId,
}

impl Env {
    pub async fn new(
        driver: Arc<dyn MgmtDriver>,
        sim: SimInfraDriver,
        package: Vec<u8>,
    ) -> (Self, String) {
        let store = Arc::new(MemoryStore::new());
        let vnfm = Vnfm::builder()
            .store(store.clone())
            .vim_type(sim.as_vim_type())
            .register_default_vim(VimRegistration::new("sim", SIM_VIM_TYPE).as_default())
            .mgmt_driver(driver)
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

    pub fn lcm(&self) -> &VnfLcm {
        self.vnfm.lcm()
    }

    pub async fn create(&self, vnfd_id: &str) -> String {
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

    pub async fn finish(&self, op: Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
        let op = op.expect("accepted");
        self.lcm()
            .wait_for(&self.tenant, &op.id, &[], WAIT)
            .await
            .expect("the operation ends")
    }

    pub async fn steps(&self, op_id: &str) -> Vec<(String, Value)> {
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

pub fn instantiate(params: Value) -> InstantiateVnfRequest {
    let additional: KeyValuePairs = serde_json::from_value(params).expect("params");
    InstantiateVnfRequest {
        flavour_id: "simple".into(),
        additional_params: additional,
        ..InstantiateVnfRequest::default()
    }
}

pub fn terminate() -> TerminateVnfRequest {
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: KeyValuePairs::new(),
    }
}
