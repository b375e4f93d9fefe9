//! Helpers shared by this crate's integration tests.
#![allow(dead_code)]

pub mod cluster;
pub mod cnf;

use std::path::PathBuf;
use std::time::Duration;

use tacker_drivers_k8s::testkit::{ApiServerConfig, ApiServerDouble};

/// The corpus directory beside the checkout, or `None` (after saying so) outside CI.
pub fn corpus() -> Option<PathBuf> {
    tacker_core::testkit::corpus::corpus_dir(env!("CARGO_MANIFEST_DIR"))
}

/// A double whose pods become ready after `delay`.
pub async fn double(delay: Duration) -> ApiServerDouble {
    ApiServerDouble::start(ApiServerConfig {
        pod_ready_delay: delay,
        ..ApiServerConfig::default()
    })
    .await
    .expect("the API-server double starts on loopback")
}

/// The `helm` v3 binary of the tests: `TACKER_TEST_HELM`, else `helm` on `PATH`. Outside
/// CI, `None` (after saying so) when there is none; in CI a missing binary fails.
pub fn helm_binary() -> Option<PathBuf> {
    let found = std::env::var_os("TACKER_TEST_HELM")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join("helm"))
                .find(|candidate| candidate.is_file())
        });
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI must provide helm (TACKER_TEST_HELM or helm on PATH)")
        }
        None => {
            eprintln!("skipped: no helm binary (set TACKER_TEST_HELM)");
            None
        }
    }
}

/// A fresh scratch directory under the system temporary directory.
pub fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tacker-k8s-{what}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}

use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use tacker_core::TenantId;
use tacker_core::csar::{Csar, CsarOptions};
use tacker_core::model::{KeyValuePairs, LcmOperationType, VimConnectionInfo};
use tacker_core::package::InMemoryPackageFiles;
use tacker_core::testkit::infra::InfraInspector;
use tacker_core::vnfd::Vnfd;
use tacker_drivers_k8s::{INSTANCE_LABEL, KUBERNETES_VIM_TYPE};

/// A corpus package: its VNFD (read as onboarding reads it) and its files.
pub fn corpus_package(corpus: &std::path::Path, name: &str) -> (Vnfd, InMemoryPackageFiles) {
    let dir = corpus.join(name).join("package");
    let options = CsarOptions::default();
    let csar = Csar::from_dir(&dir, &options).expect("the corpus package opens");
    let vnfd = tacker_core::vnfd::validate(&csar, &options)
        .expect("the corpus package is valid")
        .vnfd;
    let mut files = InMemoryPackageFiles::new();
    for (path, absolute) in tacker_core::testkit::corpus::files_below(&dir) {
        files = files.with_file(path, std::fs::read(absolute).expect("a corpus file reads"));
    }
    (vnfd, files)
}

/// The package with `path` replaced by `content` and its TOSCA.meta digest updated.
pub fn with_changed_file(
    corpus: &std::path::Path,
    name: &str,
    path: &str,
    content: impl AsRef<[u8]>,
) -> InMemoryPackageFiles {
    let content = content.as_ref();
    cluster::rewritten_package(&corpus.join(name).join("package"), |file, bytes| {
        if file == path {
            content.to_vec()
        } else {
            bytes
        }
    })
}

/// The `vimConnectionInfo` of a double.
pub fn vim_of(double: &ApiServerDouble) -> VimConnectionInfo {
    let mut interface_info = KeyValuePairs::new();
    interface_info.insert("endpoint".into(), json!(double.endpoint()));
    let mut access_info = KeyValuePairs::new();
    access_info.insert(
        "bearer_token".into(),
        json!(double.token().expect("the double has a token")),
    );
    VimConnectionInfo {
        vim_id: Some("double".to_owned()),
        vim_type: KUBERNETES_VIM_TYPE.to_owned(),
        interface_info,
        access_info,
        extra: KeyValuePairs::new(),
    }
}

/// `additionalParams` naming manifest files.
pub fn def_files(files: &[&str]) -> KeyValuePairs {
    let mut params = KeyValuePairs::new();
    params.insert("lcm-kubernetes-def-files".into(), json!(files));
    params
}

/// Kinds that the cluster's controllers create and remove for other objects.
const CLUSTER_MANAGED: &[&str] = &["Endpoints", "EndpointSlice", "Event", "ControllerRevision"];

/// Looks into the cluster for the conformance suite.
#[derive(Debug, Clone)]
pub struct Inspector(pub Arc<cluster::Cluster>);

#[async_trait]
impl InfraInspector for Inspector {
    async fn resource_ids(&self, _tenant: &TenantId, vnf_instance_id: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for (kind, namespace, name) in self
            .0
            .objects_labelled(INSTANCE_LABEL, vnf_instance_id)
            .await
        {
            // Kept by the cluster for other objects (a Service's Endpoints carry its
            // labels), gone when the cluster's controllers get to them: not the VNF's.
            if CLUSTER_MANAGED.contains(&kind.as_str()) {
                continue;
            }
            if kind == "Pod" {
                ids.push(name.clone());
            }
            ids.push(format!("{kind}/{namespace}/{name}"));
        }
        ids
    }

    /// On the double, instantiate and scale fail once they have applied their change,
    /// when they list the pods to wait for: instantiate's first pod listing answers
    /// 500; scale lists every labelled object (pods among them) before it scales, so
    /// its second. The real cluster cannot be told to fail.
    fn fail_next_after_partial_work(&self, operation: LcmOperationType) -> bool {
        let Some(double) = self.0.as_double() else {
            return false;
        };
        match operation {
            LcmOperationType::Instantiate => {
                double.fail_next_request("GET", "/pods");
                true
            }
            LcmOperationType::Scale => {
                double.fail_nth_request("GET", "/pods", 2);
                true
            }
            _ => false,
        }
    }
}
