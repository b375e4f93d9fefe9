//! The library's conformance suites, run against this crate's driver and store as any
//! out-of-tree driver author runs them.

use tacker_core::testkit::infra::{self, InfraFixture};
use tacker_embedding_example::{LabCloud, lab_vim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_cloud_passes_the_infra_driver_suite() {
    let lab = LabCloud::new(100);
    infra::run_all(&lab, &InfraFixture::new("lab", lab_vim())).await;
    assert!(
        lab.audit()
            .iter()
            .any(|call| call.starts_with("instantiate"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_passes_the_store_suite() {
    let store = tacker_store::SqlStore::connect("sqlite::memory:")
        .await
        .expect("SQLite in memory");
    tacker_core::testkit::store::run_all(&store).await;
}
