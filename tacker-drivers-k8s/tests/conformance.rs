//! The infra-driver conformance suite of `tacker-core`, run against the Kubernetes
//! driver with the CNF corpus package `v1-cnf-scale` (a Deployment as VDU1, scaled by
//! `vdu1_aspect`, in two flavours): on the API-server double (with its fault injection)
//! and on the real cluster of `scripts/k8s-cluster.sh` (when `TACKER_TEST_K8S_SERVER`
//! is set). The package gets a Service for VDU1's pods that exposes the external CP
//! `VDU1_CP1` (a VduCp added to the VNFD), so that external connectivity and its change
//! are checked too.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::cluster::Cluster;
use tacker_core::sim;
use tacker_core::testkit::infra::{self, InfraFixture};
use tacker_core::vnfd::VduCp;
use tacker_drivers_k8s::{KubernetesInfraDriver, NAMESPACE_PARAM};

/// The Service of VDU1's pods, exposing the external CP `VDU1_CP1`.
const SERVICE: &str = "---
apiVersion: v1
kind: Service
metadata:
  name: vdu1-scale-svc
  annotations:
    tacker-vnfm/ext-cp: VDU1_CP1
spec:
  selector:
    app: webserver
  ports:
  - port: 80
    protocol: TCP
";

async fn conformance_suite(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let (mut vnfd, _) = cluster.package(&corpus, "v1-cnf-scale");
    for flavour in &mut vnfd.flavours {
        flavour.vdu_cps.push(VduCp {
            id: "VDU1_CP1".to_owned(),
            vdu_id: "VDU1".to_owned(),
            ..VduCp::default()
        });
    }
    let file = "Files/kubernetes/deployment_scale.yaml";
    let with_service = |bytes: Vec<u8>| {
        let manifest = String::from_utf8(bytes).expect("the manifest is text");
        format!("{manifest}\n{SERVICE}")
    };
    let package = cluster.package_with(&corpus, "v1-cnf-scale", |path, bytes| {
        if path != file {
            return bytes;
        }
        with_service(bytes).into_bytes()
    });
    let mut upgraded = false;
    let new_package = cluster.package_with(&corpus, "v1-cnf-scale", |path, bytes| {
        if path != file {
            return bytes;
        }
        let manifest = with_service(bytes);
        let changed = manifest.replace("image: nginx", "image: nginx:1.27");
        upgraded = changed != manifest;
        changed.into_bytes()
    });
    assert!(upgraded, "the new package changes the image");

    let mut fixture = InfraFixture::new("vim-k8s", cluster.vim());
    fixture.vnfd = vnfd.clone();
    fixture.flavour_id = "simple".to_owned();
    fixture.scale_aspect_id = "vdu1_aspect".to_owned();
    fixture.ext_virtual_links = sim::sample_ext_virtual_links();
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
