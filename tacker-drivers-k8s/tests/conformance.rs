//! The infra-driver conformance suite of `tacker-core`, run against the Kubernetes
//! driver with the CNF corpus package `v1-cnf-scale` (a Deployment as VDU1, scaled by
//! `vdu1_aspect`, in two flavours): on the API-server double (with its fault injection)
//! and on the real cluster of `scripts/k8s-cluster.sh` (when `TACKER_TEST_K8S_SERVER`
//! is set).

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::cluster::Cluster;
use tacker_core::testkit::infra::{self, InfraFixture};
use tacker_drivers_k8s::{KubernetesInfraDriver, NAMESPACE_PARAM};

async fn conformance_suite(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let (vnfd, package) = cluster.package(&corpus, "v1-cnf-scale");
    let file = "Files/kubernetes/deployment_scale.yaml";
    let mut upgraded = false;
    let new_package = cluster.package_with(&corpus, "v1-cnf-scale", |path, bytes| {
        if path != file {
            return bytes;
        }
        let manifest = String::from_utf8(bytes).expect("the manifest is text");
        let changed = manifest.replace("image: nginx", "image: nginx:1.27");
        upgraded = changed != manifest;
        changed.into_bytes()
    });
    assert!(upgraded, "the new package changes the image");

    let mut fixture = InfraFixture::new("vim-k8s", cluster.vim());
    fixture.vnfd = vnfd.clone();
    fixture.flavour_id = "simple".to_owned();
    fixture.scale_aspect_id = "vdu1_aspect".to_owned();
    fixture.ext_virtual_links = Vec::new();
    fixture.instantiate_additional_params = support::def_files(&[file]);
    if cluster.is_real() {
        fixture
            .instantiate_additional_params
            .insert(NAMESPACE_PARAM.into(), cluster.namespace().into());
    }
    fixture.package = Arc::new(package);
    fixture.new_package = Some((infra::upgraded(&vnfd), Arc::new(new_package)));
    fixture.inspector = Some(Arc::new(support::Inspector(cluster.clone())));
    // A stopped CNF has no pods: START runs its VNFCs on new ones.
    fixture.operate_replaces_compute = true;
    // The package's other flavour, at its largest level.
    fixture.change_flavour_to = Some((
        "scalingsteps".to_owned(),
        Some("instantiation_level_2".to_owned()),
    ));

    let driver = KubernetesInfraDriver::new().with_timeout(Duration::from_secs(60));
    infra::run_all(&driver, &fixture).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_on_the_api_server_double() {
    conformance_suite(Cluster::double(Duration::from_millis(20)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_on_the_real_cluster() {
    if let Some(cluster) = Cluster::real("conformance_suite").await {
        conformance_suite(cluster).await;
    }
}
