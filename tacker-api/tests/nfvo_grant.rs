//! Granting with an NFVO over HTTP: the engine on the simulated VIM asks the test NFVO
//! (`tests/nfvo`) through [`HttpGrantProvider`] for every LCM operation; every
//! GrantRequest it sends is validated against the ETSI schema; synchronous and
//! asynchronous grants, refusals, an NFVO that is down for a while or for good, one that
//! never decides, and OAuth 2.0 client credentials.

#[allow(dead_code)]
#[path = "../../tacker-core/tests/etsi/harness.rs"]
mod harness;
mod nfvo;

use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tacker_api::HttpGrantProvider;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, HealVnfRequest, InstantiateVnfRequest,
    LcmOperationStateType as State, OperateVnfRequest, ScaleType, ScaleVnfRequest,
    TerminateVnfRequest, TerminationType, VnfLcmOpOcc, VnfOperationalStateType,
};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver};
use tacker_core::store::MemoryStore;
use tacker_core::vim::VimRegistration;
use tacker_core::{Result, TenantId, Vnfm};

use nfvo::{Scenario, TestNfvo};

const WAIT: Duration = Duration::from_secs(60);

/// The sample VNF's package.
fn sample_package() -> Vec<u8> {
    sample_package_as(None)
}

/// The sample VNF's package, under another vnfdId when one is given (the manifest's
/// digest of the changed template follows).
fn sample_package_as(vnfd_id: Option<&str>) -> Vec<u8> {
    const ORIGINAL: &str = "7f3c2c1a-5d59-4e0c-9b6e-2f0f6f1d0a01";
    let sha256 = |bytes: &[u8]| {
        let mut reader = bytes;
        tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut reader)
            .expect("digest")
    };
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
    if let Some(vnfd_id) = vnfd_id {
        let mut replaced = Vec::new();
        for (_, content) in &mut files {
            let text = String::from_utf8_lossy(content).into_owned();
            if text.contains(ORIGINAL) {
                let before = sha256(content);
                *content = text.replace(ORIGINAL, vnfd_id).into_bytes();
                replaced.push((before, sha256(content)));
            }
        }
        for (name, content) in &mut files {
            if name.ends_with(".mf") {
                let mut text = String::from_utf8_lossy(content).into_owned();
                for (before, after) in &replaced {
                    text = text.replace(before, after);
                }
                *content = text.into_bytes();
            }
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

/// The NFVO's provider with quick retries and polling.
fn provider(nfvo: &TestNfvo) -> tacker_api::grant::HttpGrantProviderBuilder {
    HttpGrantProvider::builder(&nfvo.url)
        .outbound_policy(OutboundPolicy::default().allow_loopback(true))
        .retries(3, Duration::from_millis(10), Duration::from_millis(40))
        .polling(
            Duration::from_millis(10),
            Duration::from_millis(40),
            Duration::from_secs(5),
        )
}

struct Env {
    vnfm: Vnfm,
    tenant: TenantId,
    vnfd_id: String,
}

impl Env {
    async fn new(grants: HttpGrantProvider) -> Self {
        let vnfm = Vnfm::builder()
            .store(Arc::new(MemoryStore::new()))
            .vim_type(SimInfraDriver::builder().build().as_vim_type())
            .register_default_vim(VimRegistration::new("sim", SIM_VIM_TYPE).as_default())
            .grant_provider(Arc::new(grants))
            .lcm_config(LcmConfig {
                poll_interval: Duration::from_millis(20),
                ..LcmConfig::default()
            })
            .build()
            .expect("vnfm");
        vnfm.start().await.expect("start");
        let tenant = TenantId::default();
        let package = vnfm
            .packages()
            .create(&tenant, CreateVnfPkgInfoRequest::default())
            .await
            .expect("package");
        let onboarded = vnfm
            .packages()
            .upload_content(&tenant, &package.id, sample_package().into())
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

    async fn create(&self) -> String {
        self.lcm()
            .create_vnf(
                &self.tenant,
                CreateVnfRequest {
                    vnfd_id: self.vnfd_id.clone(),
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

    async fn instantiate(&self, id: &str) -> VnfLcmOpOcc {
        self.finish(
            self.lcm()
                .instantiate(
                    &self.tenant,
                    id,
                    InstantiateVnfRequest {
                        flavour_id: "simple".into(),
                        ext_virtual_links: ext_links("net-a"),
                        ..InstantiateVnfRequest::default()
                    },
                )
                .await,
        )
        .await
    }
}

/// The external virtual link `ext-1` of the web servers' external CP on `network`.
fn ext_links(network: &str) -> Vec<tacker_core::model::ExtVirtualLinkData> {
    serde_json::from_value(serde_json::json!([{
        "id": "ext-1", "resourceId": network,
        "extCps": [{"cpdId": "WEB_CP_EXT", "cpConfig": {"web-ext": {"cpProtocolData": [
            {"layerProtocol": "IP_OVER_ETHERNET", "ipOverEthernet": {"ipAddresses": [
                {"type": "IPV4", "numDynamicAddresses": 1}]}}]}}}]
    }]))
    .expect("external links")
}

fn completed(op: &VnfLcmOpOcc) {
    assert_eq!(
        op.operation_state,
        State::Completed,
        "{} {:?}",
        op.operation,
        op.error
    );
}

/// Every grant request was a valid ETSI GrantRequest.
fn all_valid(nfvo: &TestNfvo) {
    for seen in nfvo.grant_requests() {
        assert!(
            seen.schema_errors.is_empty(),
            "{}: {:?}",
            seen.body,
            seen.schema_errors
        );
        assert_eq!(seen.version.as_deref(), Some("1.7.0"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lcm_operation_is_granted_by_the_nfvo() {
    granted_life(Scenario::Sync).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lcm_operation_waits_for_asynchronous_grants() {
    granted_life(Scenario::Async { polls: 1 }).await;
}

/// Every LCM operation type that changes resources, each granted by the NFVO
/// answering as `scenario` says.
async fn granted_life(scenario: Scenario) {
    let nfvo = TestNfvo::start(scenario).await;
    let env = Env::new(provider(&nfvo).build().expect("provider")).await;
    let other_package = env
        .vnfm
        .packages()
        .create(&env.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("package");
    let other_vnfd = env
        .vnfm
        .packages()
        .upload_content(
            &env.tenant,
            &other_package.id,
            sample_package_as(Some("0b1e7c55-0000-4000-8000-000000000002")).into(),
        )
        .await
        .expect("the second package onboards")
        .vnfd_id
        .expect("vnfdId");
    let id = env.create().await;
    let op = env.instantiate(&id).await;
    completed(&op);
    let grant_id = op.grant_id.clone().expect("the NFVO's grant");
    assert_eq!(
        op.links.grant.as_ref().map(|l| l.href.clone()),
        Some(format!("{}/grant/v1/grants/{grant_id}", nfvo.url)),
        "the op occurrence links the NFVO's grant"
    );
    let scale = |scale_type| ScaleVnfRequest {
        scale_type,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    };
    let lcm = env.lcm();
    let t = &env.tenant;
    completed(
        &env.finish(lcm.scale(t, &id, scale(ScaleType::ScaleOut)).await)
            .await,
    );
    completed(
        &env.finish(lcm.scale(t, &id, scale(ScaleType::ScaleIn)).await)
            .await,
    );
    completed(
        &env.finish(lcm.heal(t, &id, HealVnfRequest::default()).await)
            .await,
    );
    let operate = |state| OperateVnfRequest {
        change_state_to: state,
        stop_type: None,
        graceful_stop_timeout: None,
        additional_params: Default::default(),
    };
    completed(
        &env.finish(
            lcm.operate(t, &id, operate(VnfOperationalStateType::Stopped))
                .await,
        )
        .await,
    );
    completed(
        &env.finish(
            lcm.operate(t, &id, operate(VnfOperationalStateType::Started))
                .await,
        )
        .await,
    );
    let change_ext_conn: tacker_core::model::ChangeExtVnfConnectivityRequest =
        serde_json::from_value(serde_json::json!({
            "extVirtualLinks": serde_json::to_value(ext_links("net-b")).expect("links")
        }))
        .expect("change of external connectivity");
    completed(
        &env.finish(lcm.change_ext_conn(t, &id, change_ext_conn).await)
            .await,
    );
    let change_vnfpkg: tacker_core::model::ChangeCurrentVnfPkgRequest =
        serde_json::from_value(serde_json::json!({"vnfdId": other_vnfd})).expect("request");
    completed(
        &env.finish(lcm.change_vnfpkg(t, &id, change_vnfpkg).await)
            .await,
    );
    let terminate = TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: Default::default(),
    };
    completed(&env.finish(lcm.terminate(t, &id, terminate).await).await);

    let operations: Vec<String> = nfvo
        .grant_requests()
        .iter()
        .map(|s| s.body["operation"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        operations,
        [
            "INSTANTIATE",
            "SCALE",
            "SCALE",
            "HEAL",
            "OPERATE",
            "OPERATE",
            "CHANGE_EXT_CONN",
            "CHANGE_VNFPKG",
            "TERMINATE"
        ]
    );
    let requests = nfvo.grant_requests();
    assert_eq!(
        requests[7].body["dstVnfdId"],
        other_vnfd.as_str(),
        "the change of package names its target: {}",
        requests[7].body
    );
    all_valid(&nfvo);
    // What the requests asked for: a scale-out adds a web VNFC, a scale-in removes one.
    let requests = nfvo.grant_requests();
    assert_eq!(
        requests[1].body["addResources"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        requests[2].body["removeResources"].as_array().map(Vec::len),
        Some(1)
    );
    // The flavour's anti-affinity rule for the web VDU: none while there is one web
    // VNFC; at the scale-out, the new VNFC apart from the one that stays.
    assert!(
        requests[0].body.get("placementConstraints").is_none(),
        "{}",
        requests[0].body
    );
    let constraint = &requests[1].body["placementConstraints"][0];
    assert_eq!(constraint["affinityOrAntiAffinity"], "ANTI_AFFINITY");
    assert_eq!(constraint["scope"], "NFVI_NODE");
    let refs: Vec<&str> = constraint["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["idType"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(refs, ["GRANT", "RES_MGMT"], "{constraint}");
    assert_eq!(
        constraint["resource"][0]["resourceId"],
        requests[1].body["addResources"][0]["id"]
    );
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_grant_is_polled_until_it_is_decided() {
    let nfvo = TestNfvo::start(Scenario::Async { polls: 2 }).await;
    let env = Env::new(provider(&nfvo).build().expect("provider")).await;
    let id = env.create().await;
    let op = env.instantiate(&id).await;
    completed(&op);
    let polls = nfvo.seen().iter().filter(|s| s.method == "GET").count();
    assert_eq!(polls, 3, "two answers 202, then the grant");
    all_valid(&nfvo);
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_rolls_the_operation_back_with_the_nfvos_reason() {
    let nfvo = TestNfvo::start(Scenario::Refuse {
        detail: "zone-1 has no capacity for 2 more VNFCs".into(),
    })
    .await;
    let env = Env::new(provider(&nfvo).build().expect("provider")).await;
    let id = env.create().await;
    let op = env.instantiate(&id).await;
    assert_eq!(op.operation_state, State::RolledBack);
    let error = op.error.expect("the reason");
    assert_eq!(error.status, 403);
    assert!(
        error
            .detail
            .contains("the NFVO refused the grant: zone-1 has no capacity"),
        "{}",
        error.detail
    );

    // Every other operation type is refused the same way, the instance left as it was.
    nfvo.set_scenario(Scenario::Sync);
    let id = env.create().await;
    completed(&env.instantiate(&id).await);
    let before = env
        .lcm()
        .instance(&env.tenant, &id)
        .await
        .expect("instance");
    nfvo.set_scenario(Scenario::Refuse {
        detail: "maintenance of the NFVI".into(),
    });
    let lcm = env.lcm();
    let t = &env.tenant;
    for what in ["scale", "heal", "terminate"] {
        let op = match what {
            "scale" => {
                let scale = ScaleVnfRequest {
                    scale_type: ScaleType::ScaleOut,
                    aspect_id: "web".into(),
                    number_of_steps: Some(1),
                    additional_params: Default::default(),
                };
                lcm.scale(t, &id, scale).await
            }
            "heal" => lcm.heal(t, &id, HealVnfRequest::default()).await,
            _ => {
                let terminate = TerminateVnfRequest {
                    termination_type: TerminationType::Forceful,
                    graceful_termination_timeout: None,
                    additional_params: Default::default(),
                };
                lcm.terminate(t, &id, terminate).await
            }
        };
        let op = env.finish(op).await;
        assert_eq!(op.operation_state, State::RolledBack, "{what}");
        let detail = op.error.map(|e| e.detail).unwrap_or_default();
        assert!(
            detail.contains("maintenance of the NFVI"),
            "{what}: {detail}"
        );
        let after = env
            .lcm()
            .instance(&env.tenant, &id)
            .await
            .expect("instance");
        assert_eq!(
            after.instantiated_vnf_info, before.instantiated_vnf_info,
            "{what} changed nothing"
        );
    }
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_that_leaves_resources_out_is_a_refusal() {
    let nfvo = TestNfvo::start(Scenario::Partial).await;
    let env = Env::new(provider(&nfvo).build().expect("provider")).await;
    let id = env.create().await;
    let op = env.instantiate(&id).await;
    assert_eq!(op.operation_state, State::RolledBack);
    let detail = op.error.map(|e| e.detail).unwrap_or_default();
    assert!(
        detail.contains("the NFVO did not approve addResources"),
        "{detail}"
    );
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nfvo_that_is_down_is_retried_then_the_operation_waits_for_a_retry() {
    // Down for two requests: the provider's own retries get through.
    let nfvo = TestNfvo::start(Scenario::Down { failures: 2 }).await;
    let env = Env::new(provider(&nfvo).build().expect("provider")).await;
    let id = env.create().await;
    completed(&env.instantiate(&id).await);
    assert_eq!(nfvo.grant_requests().len(), 3);

    // Down for longer than the retries: FAILED_TEMP, and a retry once it is back.
    nfvo.set_scenario(Scenario::Down { failures: 100 });
    let other = env.create().await;
    let op = env.instantiate(&other).await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let detail = op.error.map(|e| e.detail).unwrap_or_default();
    assert!(
        detail.contains("the grant could not be obtained yet") && detail.contains("503"),
        "{detail}"
    );
    nfvo.set_scenario(Scenario::Sync);
    let retried = env.lcm().retry(&env.tenant, &op.id).await;
    let op = env.finish(retried).await;
    completed(&op);
    assert!(op.grant_id.is_some());
    all_valid(&nfvo);
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nfvo_that_never_decides_fails_the_operation_at_the_deadline() {
    let nfvo = TestNfvo::start(Scenario::Slow).await;
    let grants = provider(&nfvo)
        .polling(
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_millis(300),
        )
        .build()
        .expect("provider");
    let env = Env::new(grants).await;
    let id = env.create().await;
    let op = env.instantiate(&id).await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let detail = op.error.map(|e| e.detail).unwrap_or_default();
    assert!(detail.contains("did not decide the grant"), "{detail}");
    env.vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_client_credentials_reach_the_nfvo() {
    let nfvo = TestNfvo::start(Scenario::Sync).await;
    nfvo.require_oauth2("vnfm-1", "s3cret");
    let grants = provider(&nfvo)
        .oauth2(format!("{}/token", nfvo.url), "vnfm-1", "s3cret")
        .build()
        .expect("provider");
    let env = Env::new(grants).await;
    let id = env.create().await;
    completed(&env.instantiate(&id).await);
    let first = nfvo.grant_requests();
    assert!(
        first[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer token-")),
        "{:?}",
        first[0].authorization
    );
    // A token the NFVO no longer accepts is replaced once.
    nfvo.revoke_tokens();
    let other = env.create().await;
    completed(&env.instantiate(&other).await);
    let tokens = nfvo
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/token"))
        .count();
    assert_eq!(tokens, 2);

    // Wrong credentials: the operation cannot be granted and says why.
    let wrong = provider(&nfvo)
        .oauth2(format!("{}/token", nfvo.url), "vnfm-1", "wrong")
        .build()
        .expect("provider");
    let env = Env::new(wrong).await;
    let id = env.create().await;
    let op = env.instantiate(&id).await;
    assert_ne!(op.operation_state, State::Completed);
    let detail = op.error.map(|e| e.detail).unwrap_or_default();
    assert!(
        detail.contains("no OAuth 2.0 token") && detail.contains("invalid_client"),
        "{detail}"
    );
}

/// A CA made with openssl: its certificate, and certificates it signs.
struct TestCa {
    dir: std::path::PathBuf,
    name: String,
}

impl TestCa {
    fn new(dir: &Path, name: &str) -> Self {
        let ca = Self {
            dir: dir.to_path_buf(),
            name: name.to_owned(),
        };
        ca.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &ca.path("ca.key"),
            "-out",
            &ca.path("ca.crt"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        ca
    }

    fn path(&self, file: &str) -> String {
        self.dir
            .join(format!("{}-{file}", self.name))
            .display()
            .to_string()
    }

    fn openssl(&self, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    }

    /// A certificate for `cn` (with `extensions`): `(certificate PEM, key PEM)`.
    fn issue(&self, cn: &str, extensions: &str) -> (String, String) {
        let (key, csr, crt, ext) = (
            self.path(&format!("{cn}.key")),
            self.path(&format!("{cn}.csr")),
            self.path(&format!("{cn}.crt")),
            self.path(&format!("{cn}.ext")),
        );
        std::fs::write(&ext, extensions).expect("extensions");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &self.path("ca.crt"),
            "-CAkey",
            &self.path("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ]);
        (
            std::fs::read_to_string(crt).expect("certificate"),
            std::fs::read_to_string(key).expect("key"),
        )
    }

    fn certificate(&self) -> String {
        std::fs::read_to_string(self.path("ca.crt")).expect("CA certificate")
    }
}

/// Serves `router` over TLS with `server` (certificate and key PEM), requiring client
/// certificates issued by `client_ca`.
async fn serve_mutual_tls(
    router: axum::Router,
    server: (String, String),
    client_ca: &str,
) -> String {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(client_ca.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(server.0.as_bytes())
        .collect::<std::result::Result<_, _>>()
        .expect("server certificate");
    let key = PrivateKeyDer::from_pem_slice(server.1.as_bytes()).expect("server key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server identity");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(router))
                        .await;
                }
            });
        }
    });
    format!("https://127.0.0.1:{}/nfvo", address.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_reaches_an_nfvo_that_requires_one() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("tacker-nfvo-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = TestCa::new(&dir, "nfvo-ca");
    let stranger = TestCa::new(&dir, "stranger-ca");
    let server = ca.issue(
        "nfvo",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    );
    let client_ext = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";
    let (client_cert, client_key) = ca.issue("vnfm", client_ext);
    let (stranger_cert, stranger_key) = stranger.issue("vnfm", client_ext);

    let (nfvo, router) = TestNfvo::new(Scenario::Sync, String::new());
    let url = serve_mutual_tls(router, server, &ca.certificate()).await;
    let with = |identity: Option<String>| {
        let mut builder = HttpGrantProvider::builder(&url)
            .outbound_policy(OutboundPolicy::default().allow_loopback(true))
            .retries(1, Duration::from_millis(10), Duration::from_millis(10))
            .extra_ca_pem(ca.certificate());
        if let Some(identity) = identity {
            builder = builder.client_identity_pem(identity);
        }
        builder.build().expect("provider")
    };

    let env = Env::new(with(Some(format!("{client_cert}{client_key}")))).await;
    let id = env.create().await;
    completed(&env.instantiate(&id).await);
    assert_eq!(nfvo.grant_requests().len(), 1);

    for (identity, what) in [
        (None, "no client certificate"),
        (
            Some(format!("{stranger_cert}{stranger_key}")),
            "a certificate of another CA",
        ),
    ] {
        let env = Env::new(with(identity)).await;
        let id = env.create().await;
        let op = env.instantiate(&id).await;
        assert_eq!(op.operation_state, State::FailedTemp, "{what}");
        assert_eq!(
            nfvo.grant_requests().len(),
            1,
            "{what}: the NFVO saw no request"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
