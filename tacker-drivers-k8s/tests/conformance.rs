//! The infra-driver conformance suite of `tacker-core`, run against the Kubernetes
//! driver on the API-server double with the CNF corpus package `v1-cnf-scale` (a
//! Deployment as VDU1, scaled by `vdu1_aspect`, in two flavours).

mod support;

use std::sync::Arc;
use std::time::Duration;

use tacker_core::testkit::infra::{self, InfraFixture};
use tacker_drivers_k8s::KubernetesInfraDriver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_on_the_api_server_double() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let double = Arc::new(support::double(Duration::from_millis(20)).await);
    let (vnfd, package) = support::corpus_package(&corpus, "v1-cnf-scale");
    let file = "Files/kubernetes/deployment_scale.yaml";
    let original = std::fs::read_to_string(corpus.join("v1-cnf-scale/package").join(file))
        .expect("the manifest reads");
    let upgraded_manifest = original.replace("image: nginx", "image: nginx:1.27");
    assert_ne!(
        original, upgraded_manifest,
        "the new package changes the image"
    );
    let new_package = support::with_changed_file(&corpus, "v1-cnf-scale", file, &upgraded_manifest);

    let mut fixture = InfraFixture::new("vim-k8s", support::vim_of(&double));
    fixture.vnfd = vnfd.clone();
    fixture.flavour_id = "simple".to_owned();
    fixture.scale_aspect_id = "vdu1_aspect".to_owned();
    fixture.ext_virtual_links = Vec::new();
    fixture.instantiate_additional_params = support::def_files(&[file]);
    fixture.package = Arc::new(package);
    fixture.new_package = Some((infra::upgraded(&vnfd), Arc::new(new_package)));
    fixture.inspector = Some(Arc::new(support::Inspector(double.clone())));
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
