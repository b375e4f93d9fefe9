//! LCM coordination over HTTP (SOL002 `VNFLCMCoordination`): the sample VNF with
//! coordination actions around scaling (`drain_traffic` at the start, `check_service` at
//! the end) runs them with the test NFVO acting as the EM through
//! [`HttpLcmCoordinator`]; every request validates against the ETSI schema. CONTINUE
//! goes on, ABORT fails the operation with the EM's reason (and a retry after the EM
//! agrees completes it), an asynchronous coordination is polled, a busy EM is retried,
//! and a VNFM without a coordinator refuses such operations up front.

#[allow(dead_code)]
#[path = "../../tacker-core/tests/etsi/harness.rs"]
mod harness;
mod nfvo;

use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tacker_api::{HttpGrantProvider, HttpLcmCoordinator};
use tacker_core::csar::{HashAlgorithm, digest_hex};
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, LcmCoordResultType,
    LcmOperationStateType as State, ScaleType, ScaleVnfRequest, VnfLcmOpOcc,
};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver};
use tacker_core::store::MemoryStore;
use tacker_core::vim::VimRegistration;
use tacker_core::{Error, Result, TenantId, Vnfm};

use nfvo::{Coordination, Scenario, TestNfvo};

const WAIT: Duration = Duration::from_secs(60);
const TYPES: &str = "Definitions/sample_vnf_types.yaml";
const DF: &str = "Definitions/sample_vnf_df_simple.yaml";

const COORDINATION_TYPES: &str = "
  tosca.policies.nfv.LcmCoordinationAction:
    derived_from: tosca.policies.Root
  tosca.policies.nfv.LcmCoordinationsForLcmOperation:
    derived_from: tosca.policies.Root
";

const COORDINATION_POLICIES: &str = "
    - drain_action:
        type: tosca.policies.nfv.LcmCoordinationAction
        properties:
          action_name: drain_traffic
          action:
            coordination_stage: start
            endpoint_type: mgmt
    - check_action:
        type: tosca.policies.nfv.LcmCoordinationAction
        properties:
          action_name: check_service
          action:
            coordination_stage: end
            endpoint_type: mgmt
    - scale_coordinations:
        type: tosca.policies.nfv.LcmCoordinationsForLcmOperation
        properties:
          vnf_lcm_operation: scale
          actions: [ drain_traffic, check_service ]
";

fn sha256(bytes: &[u8]) -> String {
    let mut reader = bytes;
    digest_hex(HashAlgorithm::Sha256, &mut reader).expect("digest")
}

/// The sample VNF's package with coordination actions around scaling (the manifest's
/// digests follow the changed files).
fn coordinated_package() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("package folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path
                .strip_prefix(&root)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            files.push((name, std::fs::read(&path).expect("file")));
        }
    }
    let mut replaced: Vec<(String, String)> = Vec::new();
    for (name, content) in &mut files {
        let addition = match name.as_str() {
            TYPES => COORDINATION_TYPES,
            DF => COORDINATION_POLICIES,
            _ => continue,
        };
        let before = sha256(content);
        let text = String::from_utf8(content.clone()).expect("text");
        *content = format!("{}\n{}", text.trim_end(), addition).into_bytes();
        replaced.push((before, sha256(content)));
    }
    for (name, content) in &mut files {
        if name.ends_with(".mf") {
            let mut text = String::from_utf8(content.clone()).expect("manifest");
            for (before, after) in &replaced {
                text = text.replace(before, after);
            }
            *content = text.into_bytes();
        }
    }
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        zip.write_all(&content).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

struct Env {
    vnfm: Vnfm,
    tenant: TenantId,
    vnfd_id: String,
}

impl Env {
    async fn new(coordinator: Option<HttpLcmCoordinator>) -> Self {
        let mut builder = Vnfm::builder()
            .store(Arc::new(MemoryStore::new()))
            .vim_type(SimInfraDriver::builder().build().as_vim_type())
            .register_default_vim(VimRegistration::new("sim", SIM_VIM_TYPE).as_default())
            .lcm_config(LcmConfig {
                poll_interval: Duration::from_millis(20),
                ..LcmConfig::default()
            });
        if let Some(coordinator) = coordinator {
            builder = builder.lcm_coordinator(Arc::new(coordinator));
        }
        let vnfm = builder.build().expect("vnfm");
        vnfm.start().await.expect("start");
        let tenant = TenantId::default();
        let package = vnfm
            .packages()
            .create(&tenant, CreateVnfPkgInfoRequest::default())
            .await
            .expect("package");
        let onboarded = vnfm
            .packages()
            .upload_content(&tenant, &package.id, coordinated_package().into())
            .await
            .expect("onboarding");
        Self {
            vnfm,
            tenant,
            vnfd_id: onboarded.vnfd_id.expect("vnfdId"),
        }
    }

    fn lcm(&self) -> &VnfLcm {
        self.vnfm.lcm()
    }

    async fn instance(&self) -> String {
        let id = self
            .lcm()
            .create_vnf(
                &self.tenant,
                CreateVnfRequest {
                    vnfd_id: self.vnfd_id.clone(),
                    ..CreateVnfRequest::default()
                },
            )
            .await
            .expect("create")
            .id;
        let op = self
            .finish(
                self.lcm()
                    .instantiate(
                        &self.tenant,
                        &id,
                        InstantiateVnfRequest {
                            flavour_id: "simple".into(),
                            ..InstantiateVnfRequest::default()
                        },
                    )
                    .await,
            )
            .await;
        assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
        id
    }

    async fn finish(&self, op: Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
        let op = op.expect("accepted");
        self.lcm()
            .wait_for(&self.tenant, &op.id, &[], WAIT)
            .await
            .expect("the operation ends")
    }

    async fn scale_out(&self, id: &str) -> Result<VnfLcmOpOcc> {
        self.lcm()
            .scale(
                &self.tenant,
                id,
                ScaleVnfRequest {
                    scale_type: ScaleType::ScaleOut,
                    aspect_id: "web".into(),
                    number_of_steps: Some(1),
                    additional_params: Default::default(),
                },
            )
            .await
    }

    async fn web_count(&self, id: &str) -> usize {
        self.lcm()
            .instance(&self.tenant, id)
            .await
            .expect("instance")
            .instantiated_vnf_info
            .map(|info| {
                info.vnfc_resource_info
                    .iter()
                    .filter(|v| v.vdu_id == "WEB")
                    .count()
            })
            .unwrap_or(0)
    }
}

fn coordinator(nfvo: &TestNfvo) -> HttpLcmCoordinator {
    let connection = HttpGrantProvider::builder(&nfvo.url)
        .outbound_policy(OutboundPolicy::default().allow_loopback(true))
        .retries(3, Duration::from_millis(10), Duration::from_millis(40))
        .build()
        .expect("connection")
        .connection();
    HttpLcmCoordinator::new(connection).polling(
        Duration::from_millis(10),
        Duration::from_millis(40),
        Duration::from_secs(5),
    )
}

/// The coordination requests' action names, each checked against the ETSI schema.
fn actions(nfvo: &TestNfvo) -> Vec<String> {
    nfvo.coordination_requests()
        .iter()
        .map(|seen| {
            assert!(
                seen.schema_errors.is_empty(),
                "{}: {:?}",
                seen.body,
                seen.schema_errors
            );
            assert_eq!(seen.version.as_deref(), Some("1.1.0"));
            assert_eq!(seen.body["lcmOperationType"], "SCALE");
            seen.body["coordinationActionName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_runs_its_coordination_actions_before_and_after_the_change() {
    let nfvo = TestNfvo::start(Scenario::Sync).await;
    let env = Env::new(Some(coordinator(&nfvo))).await;
    let id = env.instance().await;
    assert!(actions(&nfvo).is_empty(), "instantiation declares none");

    let op = env.finish(env.scale_out(&id).await).await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert_eq!(actions(&nfvo), ["drain_traffic", "check_service"]);
    assert_eq!(env.web_count(&id).await, 2);
    let shown: Vec<(String, Option<LcmCoordResultType>)> = op
        .lcm_coordinations
        .iter()
        .map(|c| (c.coordination_action_name.clone(), c.coordination_result))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "drain_traffic".to_owned(),
                Some(LcmCoordResultType::Continue)
            ),
            (
                "check_service".to_owned(),
                Some(LcmCoordResultType::Continue)
            ),
        ],
        "the op occurrence shows its coordinations"
    );

    // Asynchronous coordinations are polled until they answer.
    nfvo.set_coordination(Coordination::Async { polls: 2 });
    let op = env.finish(env.scale_out(&id).await).await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert_eq!(actions(&nfvo).len(), 4);
    assert_eq!(env.web_count(&id).await, 3);
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_fails_the_operation_before_any_change_and_a_retry_goes_on() {
    let nfvo = TestNfvo::start(Scenario::Sync).await;
    let env = Env::new(Some(coordinator(&nfvo))).await;
    let id = env.instance().await;

    nfvo.set_coordination(Coordination::Abort(
        "the web tier is serving a maintenance window".into(),
    ));
    let op = env.finish(env.scale_out(&id).await).await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let detail = op
        .error
        .as_ref()
        .map(|e| e.detail.clone())
        .unwrap_or_default();
    assert!(
        detail.contains("'drain_traffic' answered ABORT"),
        "{detail}"
    );
    assert!(detail.contains("maintenance window"), "{detail}");
    assert_eq!(env.web_count(&id).await, 1, "nothing changed");
    assert_eq!(
        op.lcm_coordinations
            .iter()
            .map(|c| c.coordination_result)
            .collect::<Vec<_>>(),
        [Some(LcmCoordResultType::Abort)]
    );
    assert_eq!(actions(&nfvo), ["drain_traffic"]);

    // The EM agrees now (after being busy once): the retry runs both actions.
    nfvo.set_coordination(Coordination::Down { failures: 1 });
    let retried = env.finish(env.lcm().retry(&env.tenant, &op.id).await).await;
    assert_eq!(
        retried.operation_state,
        State::Completed,
        "{:?}",
        retried.error
    );
    assert_eq!(env.web_count(&id).await, 2);
    let names = actions(&nfvo);
    assert_eq!(
        names[1..],
        ["drain_traffic", "drain_traffic", "check_service"],
        "the busy answer was tried again"
    );
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_coordinator_such_operations_are_refused_up_front() {
    let env = Env::new(None).await;
    let id = env
        .lcm()
        .create_vnf(
            &env.tenant,
            CreateVnfRequest {
                vnfd_id: env.vnfd_id.clone(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("create")
        .id;
    let refused = env
        .lcm()
        .instantiate(
            &env.tenant,
            &id,
            InstantiateVnfRequest {
                flavour_id: "simple".into(),
                ..InstantiateVnfRequest::default()
            },
        )
        .await
        .expect_err("refused");
    match refused {
        Error::Unprocessable(detail) => {
            assert!(detail.contains("'drain_traffic'"), "{detail}");
            assert!(detail.contains("'check_service'"), "{detail}");
            assert!(detail.contains("no coordination endpoint"), "{detail}");
        }
        other => panic!("expected a 422, not {other}"),
    }
    env.vnfm.shutdown().await;
}
