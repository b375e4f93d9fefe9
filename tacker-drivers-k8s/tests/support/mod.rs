//! Helpers shared by this crate's integration tests.
#![allow(dead_code)]

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

/// A fresh scratch directory under the system temporary directory.
pub fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tacker-k8s-{what}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}
