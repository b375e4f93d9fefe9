//! The Kubernetes VIM driver against the API-server double.

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
