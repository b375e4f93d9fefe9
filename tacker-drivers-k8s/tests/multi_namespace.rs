//! A CNF whose manifests span two namespaces (the corpus package `v1-cnf-multi-ns`,
//! its second Deployment placed in the other namespace): the namespaces are created
//! with the VNF, each workload runs in its own, scale and heal find them there, and
//! terminate removes both namespaces with everything in them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::cluster::Cluster;
use support::cnf::Cnf;
use tacker_core::model::ScaleType;
use tacker_drivers_k8s::INSTANCE_LABEL;

const FILES: &[&str] = &[
    "Files/kubernetes/namespace01.yaml",
    "Files/kubernetes/namespace02.yaml",
    "Files/kubernetes/deployment_has_namespace.yaml",
    "Files/kubernetes/deployment_no_namespace.yaml",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_spans_the_namespaces_its_manifests_name() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let double = Arc::new(support::double(Duration::from_millis(20)).await);
    let (vnfd, _) = support::corpus_package(&corpus, "v1-cnf-multi-ns");
    let file = "Files/kubernetes/deployment_no_namespace.yaml";
    let placed = std::fs::read_to_string(corpus.join("v1-cnf-multi-ns/package").join(file))
        .expect("the manifest reads")
        .replace(
            "  name: vdu2\n",
            "  name: vdu2\n  namespace: multi-namespace01\n",
        );
    let package = support::with_changed_file(&corpus, "v1-cnf-multi-ns", file, placed);
    // On the double only: on the real cluster the VNF would create namespaces, which the
    // tests' VIM user may not.
    let cluster = Arc::new(Cluster::of_double(double.clone()));
    let mut cnf = Cnf::new(cluster, vnfd, package, Duration::from_secs(60));

    let outcome = cnf.instantiate(FILES).await;
    let mut placed: Vec<(String, String)> = outcome
        .resources
        .vnfc_resource_info
        .iter()
        .map(|v| {
            (
                v.vdu_id.clone(),
                v.metadata["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    placed.sort();
    assert_eq!(
        placed,
        [
            ("VDU1".to_owned(), "multi-namespace02".to_owned()),
            ("VDU2".to_owned(), "multi-namespace01".to_owned())
        ]
    );
    let labelled = cnf.labelled().await;
    for namespace in ["multi-namespace01", "multi-namespace02"] {
        assert!(
            labelled
                .iter()
                .any(|(kind, _, name)| kind == "Namespace" && name == namespace),
            "the VNF's namespace {namespace} is labelled with it: {labelled:?}"
        );
        assert_eq!(double.pod_names(namespace).len(), 1, "{namespace}");
    }

    cnf.scale("vdu1_aspect", 1, ScaleType::ScaleOut).await;
    assert_eq!(cnf.counts()["VDU1"], 2);
    assert_eq!(double.pod_names("multi-namespace02").len(), 2);
    let (vnfc, pod) = cnf.vnfc_of("VDU2");
    cnf.heal(vec![vnfc.clone()]).await;
    let (same, new_pod) = cnf.vnfc_of("VDU2");
    assert_eq!(same, vnfc);
    assert_ne!(new_pod, pod);
    assert_eq!(double.pod_names("multi-namespace01"), vec![new_pod]);

    cnf.terminate().await;
    assert_eq!(cnf.labelled().await, Vec::new(), "terminate leaves nothing");
    assert!(
        double
            .objects_labelled(INSTANCE_LABEL, &cnf.record.id)
            .is_empty()
    );
    for namespace in ["multi-namespace01", "multi-namespace02"] {
        assert!(double.pod_names(namespace).is_empty(), "{namespace}");
    }
}
