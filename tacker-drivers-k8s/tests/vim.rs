//! The Kubernetes VIM driver against the API-server double and, when
//! `TACKER_TEST_K8S_SERVER` is set, the real cluster of `scripts/k8s-cluster.sh`: bearer
//! token and client certificate, the cluster CA verified, and the access review under
//! RBAC (an identity without a binding is refused, then accepted once bound).

mod support;

use std::time::Duration;

use serde_json::json;
use tacker_core::Error;
use tacker_core::vim::VimDriver;
use tacker_drivers_k8s::KubernetesVimDriver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_reads_the_version_and_checks_the_identity_may_create_workloads() {
    let double = support::double(Duration::from_millis(20)).await;
    let driver = KubernetesVimDriver::new();
    let vim = support::vim_of(&double);
    let description = driver.validate(&vim).await.expect("the credentials work");
    assert_eq!(description.version.as_deref(), Some("1.33"));
    assert_eq!(description.extra["gitVersion"], "v1.33.0");

    double.set_access_allowed(false);
    match driver.validate(&vim).await {
        Err(Error::InvalidRequest(m)) => assert!(m.contains("may not create Deployments"), "{m}"),
        other => panic!("a denied identity must be refused, not {other:?}"),
    }
    double.set_access_allowed(true);

    let mut wrong = vim.clone();
    wrong
        .access_info
        .insert("bearer_token".into(), json!("not-the-token"));
    match driver.validate(&wrong).await {
        Err(Error::Driver { source, .. }) => {
            assert!(source.to_string().contains("401"), "{source}")
        }
        other => panic!("a wrong token must fail, not {other:?}"),
    }

    let mut no_endpoint = vim.clone();
    no_endpoint.interface_info.remove("endpoint");
    match driver.validate(&no_endpoint).await {
        Err(Error::InvalidRequest(m)) => assert!(m.contains("interfaceInfo.endpoint"), "{m}"),
        other => panic!("a missing endpoint must be InvalidRequest, not {other:?}"),
    }
    let mut no_credentials = vim;
    no_credentials.access_info.clear();
    assert!(matches!(
        driver.validate(&no_credentials).await,
        Err(Error::InvalidRequest(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_verified_unless_the_vim_says_otherwise() {
    let double = tacker_drivers_k8s::testkit::ApiServerDouble::start(
        tacker_drivers_k8s::testkit::ApiServerConfig {
            https: true,
            ..Default::default()
        },
    )
    .await
    .expect("the double serves HTTPS on loopback");
    assert!(double.endpoint().starts_with("https://127.0.0.1:"));
    let driver = KubernetesVimDriver::new();
    let mut vim = support::vim_of(&double);

    match driver.validate(&vim).await {
        Err(Error::Driver { source, .. }) => {
            let message = source.to_string();
            assert!(message.contains("version"), "{message}");
        }
        other => panic!("an unknown certificate must be refused, not {other:?}"),
    }

    vim.interface_info.insert(
        "ssl_ca_cert".into(),
        json!(tacker_drivers_k8s::testkit::TEST_CA_CERT),
    );
    let description = driver.validate(&vim).await.expect("the CA is trusted");
    assert_eq!(description.version.as_deref(), Some("1.33"));

    vim.interface_info.remove("ssl_ca_cert");
    vim.interface_info
        .insert("skip_certificate_verification".into(), json!(true));
    driver
        .validate(&vim)
        .await
        .expect("verification is off when the VIM says so");

    vim.interface_info
        .insert("skip_certificate_verification".into(), json!("yes"));
    assert!(matches!(
        driver.validate(&vim).await,
        Err(Error::InvalidRequest(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbound_policy_refuses_api_servers_it_denies() {
    let double = support::double(Duration::from_millis(20)).await;
    let vim = support::vim_of(&double);
    let endpoint = vim.interface_info["endpoint"]
        .as_str()
        .expect("an endpoint")
        .to_owned();
    let denied = tacker_core::outbound::OutboundPolicy::default()
        .deny(tacker_core::outbound::Cidr::parse("127.0.0.0/8").expect("CIDR"))
        .deny(tacker_core::outbound::Cidr::parse("::1").expect("CIDR"));
    let error = KubernetesVimDriver::new()
        .outbound_policy(denied.clone())
        .validate(&vim)
        .await
        .expect_err("loopback is denied");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error}");
    assert!(error.to_string().contains("rule deny"), "{error}");

    let mut by_name = vim.clone();
    by_name.interface_info.insert(
        "endpoint".into(),
        json!(endpoint.replace("127.0.0.1", "localhost")),
    );
    let error = KubernetesVimDriver::new()
        .outbound_policy(denied)
        .validate(&by_name)
        .await
        .expect_err("localhost resolves to denied addresses");
    assert!(error.to_string().contains("localhost"), "{error}");

    let mut metadata = vim.clone();
    metadata
        .interface_info
        .insert("endpoint".into(), json!("https://169.254.169.254:6443"));
    let error = KubernetesVimDriver::new()
        .validate(&metadata)
        .await
        .expect_err("metadata is denied by default");
    assert!(error.to_string().contains("169.254.169.254/32"), "{error}");
}

/// Registering a Kubernetes VIM whose API server cannot be reached, or that refuses the
/// token, is a 4xx problem of the registration (`InvalidRequest`), saying what the VIM
/// answered; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_refusing_vim_is_a_bad_registration() {
    use std::sync::Arc;
    use tacker_core::store::MemoryStore;
    use tacker_core::vim::{Sealer, SealingKey, VimRegistration, VimRegistry};

    let registry = VimRegistry::new(
        Arc::new(MemoryStore::new()),
        Sealer::new(&SealingKey::generate().expect("a key")),
        vec![Arc::new(KubernetesVimDriver::new())],
    );
    let tenant = tacker_core::TenantId::default();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let double = support::double(Duration::from_millis(20)).await;
    let reachable = support::vim_of(&double);
    let mut unreachable = reachable.clone();
    unreachable
        .interface_info
        .insert("endpoint".into(), json!(format!("http://{closed}")));
    let mut refused = reachable.clone();
    refused
        .access_info
        .insert("bearer_token".into(), json!("not-the-token"));
    for (vim, answer) in [(unreachable, "could not be validated"), (refused, "401")] {
        let registration = VimRegistration {
            name: "edge".to_owned(),
            vim_type: vim.vim_type.clone(),
            interface_info: vim.interface_info.clone(),
            access_info: vim.access_info.clone(),
            ..VimRegistration::default()
        };
        match registry.register(&tenant, registration).await {
            Err(Error::InvalidRequest(detail)) => {
                assert!(detail.contains(answer), "{detail}");
                assert!(!detail.contains("not-the-token"), "{detail}");
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }
    assert!(
        registry
            .list(&tenant, &Default::default())
            .await
            .expect("list")
            .items
            .is_empty(),
        "nothing was registered"
    );
}

// ---------------------------------------------------------------------------------------
// The real cluster of scripts/k8s-cluster.sh (when TACKER_TEST_K8S_SERVER is set): RBAC
// is on, so the access review answers for real.
// ---------------------------------------------------------------------------------------

mod real {
    use std::path::Path;
    use std::time::Duration;

    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    use serde_json::{Value, json};
    use tacker_core::Error;
    use tacker_core::model::VimConnectionInfo;
    use tacker_core::vim::{VimDescription, VimDriver};
    use tacker_drivers_k8s::KubernetesVimDriver;

    use crate::support;
    use crate::support::cluster::{Cluster, access_allowed, poll, vim_info};

    /// What the VIM driver answers must agree with what RBAC says of the identity:
    /// allowed to create Deployments cluster-wide, or refused, saying so.
    fn assert_agrees(result: Result<VimDescription, Error>, allowed: bool, who: &str) {
        match (result, allowed) {
            (Ok(_), true) => {}
            (Err(Error::InvalidRequest(m)), false) => {
                assert!(m.contains("may not create Deployments"), "{who}: {m}")
            }
            (other, allowed) => {
                panic!("{who}: RBAC says allowed={allowed}, but the VIM driver answers {other:?}")
            }
        }
    }

    /// The version the cluster reports, as the VIM records it.
    fn assert_version(description: &VimDescription) {
        let Ok(version) = std::env::var("TACKER_TEST_K8S_VERSION") else {
            return;
        };
        let minor: String = version
            .trim_start_matches('v')
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        assert_eq!(description.version.as_deref(), Some(minor.as_str()));
        assert_eq!(description.extra["gitVersion"], version.as_str());
    }

    /// Refused without a binding, accepted once `subject` is bound cluster-wide to the
    /// ClusterRole `edit`; the binding is removed again.
    async fn refused_then_accepted(cluster: &Cluster, vim: &VimConnectionInfo, subject: Value) {
        let real = cluster.real_parts().expect("the real cluster");
        let driver = KubernetesVimDriver::new();
        match driver.validate(vim).await {
            Err(Error::InvalidRequest(m)) => {
                assert!(m.contains("may not create Deployments"), "{subject}: {m}")
            }
            other => panic!("{subject} without a binding must be refused, not {other:?}"),
        }
        let name = format!("tacker-test-probe-{}", cluster.suffix());
        let bindings: Api<ClusterRoleBinding> = Api::all(real.admin.clone());
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [subject],
        }))
        .expect("a ClusterRoleBinding");
        bindings
            .patch(
                &name,
                &PatchParams::apply("tacker-tests").force(),
                &Patch::Apply(&binding),
            )
            .await
            .expect("the binding is applied");
        // RBAC answers from its caches: the binding takes effect shortly.
        let description = poll(
            "the bound identity is accepted",
            Duration::from_secs(20),
            || async { driver.validate(vim).await.ok() },
        )
        .await;
        assert_version(&description);
        bindings
            .delete(&name, &DeleteParams::default())
            .await
            .expect("the binding is deleted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_vim_user_by_token_and_by_certificate_as_rbac_says() {
        let Some(cluster) = Cluster::real("the_vim_user_by_token_and_by_certificate").await else {
            return;
        };
        let real = cluster.real_parts().expect("the real cluster");
        let env = &real.env;
        let driver = KubernetesVimDriver::new();
        // The tests bind the VIM user in their own namespaces only: it may not create
        // Deployments cluster-wide, unless someone bound it so.
        let allowed = access_allowed(
            &real.admin,
            &env.user,
            &["tacker-vims", "system:authenticated"],
            None,
            "apps",
            "deployments",
            "create",
        )
        .await;
        assert_agrees(driver.validate(&env.vim_by_token()).await, allowed, "token");
        assert_agrees(
            driver.validate(&env.vim_by_certificate()).await,
            allowed,
            "client certificate",
        );

        let mut wrong = env.vim_by_token();
        wrong
            .access_info
            .insert("bearer_token".into(), json!("not-the-token"));
        match driver.validate(&wrong).await {
            Err(Error::Driver { source, .. }) => {
                assert!(source.to_string().contains("401"), "{source}")
            }
            other => panic!("a wrong token must fail, not {other:?}"),
        }
        let mut other_key = env.vim_by_certificate();
        other_key.access_info.insert(
            "client_cert".into(),
            json!(tacker_drivers_k8s::testkit::TEST_CA_CERT),
        );
        assert!(
            driver.validate(&other_key).await.is_err(),
            "a certificate that does not go with the key is refused"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cluster_certificate_is_verified_unless_the_vim_says_otherwise() {
        let Some(cluster) = Cluster::real("the_cluster_certificate_is_verified").await else {
            return;
        };
        let real = cluster.real_parts().expect("the real cluster");
        let env = &real.env;
        let driver = KubernetesVimDriver::new();
        let allowed = access_allowed(
            &real.admin,
            &env.user,
            &["tacker-vims", "system:authenticated"],
            None,
            "apps",
            "deployments",
            "create",
        )
        .await;
        let token = [("bearer_token", env.token.as_str())];
        for (ca, what) in [
            (None, "no CA"),
            (
                Some(tacker_drivers_k8s::testkit::TEST_CA_CERT),
                "another CA",
            ),
        ] {
            match driver.validate(&vim_info(&env.server, ca, token)).await {
                Err(Error::Driver { source, .. }) => {
                    let message = source.to_string();
                    assert!(message.contains("version"), "{what}: {message}");
                }
                other => panic!("{what}: the cluster's certificate must be refused, not {other:?}"),
            }
        }
        assert_agrees(
            driver
                .validate(&vim_info(&env.server, Some(&env.ca_pem), token))
                .await,
            allowed,
            "the cluster's CA",
        );
        let mut skip = vim_info(&env.server, None, token);
        skip.interface_info
            .insert("skip_certificate_verification".into(), json!(true));
        assert_agrees(driver.validate(&skip).await, allowed, "verification off");
    }

    /// A ServiceAccount's token: refused until bound, then accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_token_identity_is_refused_until_rbac_binds_it() {
        let Some(cluster) = Cluster::real("a_token_identity_is_refused_until_rbac_binds_it").await
        else {
            return;
        };
        let real = cluster.real_parts().expect("the real cluster");
        let ns = cluster.namespace();
        let accounts: Api<ServiceAccount> = Api::namespaced(real.admin.clone(), ns);
        let account: ServiceAccount = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vim-probe"},
        }))
        .expect("a ServiceAccount");
        accounts
            .create(&PostParams::default(), &account)
            .await
            .expect("the ServiceAccount is created");
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: Vec::new(),
                expiration_seconds: Some(600),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let token = accounts
            .create_token_request("vim-probe", &PostParams::default(), &request)
            .await
            .expect("a token of the ServiceAccount")
            .status
            .expect("the token request's status")
            .token;
        let vim = vim_info(
            &real.env.server,
            Some(&real.env.ca_pem),
            [("bearer_token", token.as_str())],
        );
        refused_then_accepted(
            &cluster,
            &vim,
            json!({"kind": "ServiceAccount", "name": "vim-probe", "namespace": ns}),
        )
        .await;
    }

    /// A client certificate the cluster signs for a new user (by a
    /// CertificateSigningRequest; the key and request made by `openssl`): refused until
    /// bound, then accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_certificate_identity_is_refused_until_rbac_binds_it() {
        let Some(cluster) =
            Cluster::real("a_certificate_identity_is_refused_until_rbac_binds_it").await
        else {
            return;
        };
        let real = cluster.real_parts().expect("the real cluster");
        let user = format!("tacker-test-probe-{}", cluster.suffix());
        let work = support::scratch_dir("csr");
        let (key, csr) = (work.join("probe.key"), work.join("probe.csr"));
        let made = tokio::process::Command::new("openssl")
            .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj"])
            .arg(format!("/CN={user}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr)
            .output()
            .await
            .expect("openssl runs (scripts/k8s-cluster.sh needs it too)");
        assert!(made.status.success(), "openssl req: {made:?}");
        let read = |path: &Path| std::fs::read_to_string(path).expect("openssl's output reads");
        let (key_pem, csr_pem) = (read(&key), read(&csr));
        let _ = std::fs::remove_dir_all(&work);

        let requests: Api<CertificateSigningRequest> = Api::all(real.admin.clone());
        let request: CertificateSigningRequest = serde_json::from_value(json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": user},
            "spec": {
                "request": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &csr_pem),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "expirationSeconds": 3600,
                "usages": ["client auth"],
            },
        }))
        .expect("a CertificateSigningRequest");
        requests
            .create(&PostParams::default(), &request)
            .await
            .expect("the CertificateSigningRequest is created");
        let approval = json!({"status": {"conditions": [{
            "type": "Approved", "status": "True", "reason": "TackerTest",
            "message": "a test identity of the Kubernetes VIM driver",
        }]}});
        requests
            .patch_approval(&user, &PatchParams::default(), &Patch::Merge(&approval))
            .await
            .expect("the request is approved");
        let certificate = poll(
            "the controller-manager signs the certificate",
            Duration::from_secs(30),
            || async {
                requests
                    .get(&user)
                    .await
                    .ok()
                    .and_then(|r| r.status)
                    .and_then(|s| s.certificate)
            },
        )
        .await;
        let cert_pem = String::from_utf8(certificate.0).expect("a PEM certificate");
        let vim = vim_info(
            &real.env.server,
            Some(&real.env.ca_pem),
            [
                ("client_cert", cert_pem.as_str()),
                ("client_key", key_pem.as_str()),
            ],
        );
        refused_then_accepted(
            &cluster,
            &vim,
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}),
        )
        .await;
        requests
            .delete(&user, &DeleteParams::default())
            .await
            .expect("the request is deleted");
    }
}
