//! Mutual TLS: `vnfm --tls-client-ca` asks clients for a certificate and maps it to a
//! tenant (`--auth certificate`, the auth file's `clientCertificates`); notifications
//! to a subscription with `TLS_CERT` authentication present the VNFM's own client
//! certificate (`--notification-client-cert`) to a receiver that requires one.

mod common;
#[allow(dead_code)]
#[path = "../../tacker-core/tests/signing/mod.rs"]
mod signing;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use common::{Client, Server, install_ring, temp_dir};
use signing::{Ca, Scratch};
use tacker_api::serve::{ClientAuth, ClientCertificate};

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// An HTTPS client trusting `ca`, presenting `identity` when given.
fn https_client(ca: &Path, identity: Option<&Path>) -> reqwest::Client {
    install_ring();
    let mut builder = reqwest::Client::builder()
        .tls_certs_merge([
            reqwest::Certificate::from_pem(&std::fs::read(ca).expect("ca")).expect("ca pem"),
        ])
        .timeout(Duration::from_secs(10));
    if let Some(identity) = identity {
        builder = builder.identity(
            reqwest::Identity::from_pem(&std::fs::read(identity).expect("identity"))
                .expect("identity pem"),
        );
    }
    builder.build().expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_need_a_certificate_of_the_client_ca_and_it_names_their_tenant() {
    let scratch = Scratch::new();
    let server_ca = Ca::new(&scratch.0, "server-ca");
    let server_cert = server_ca.issue("vnfm.local", false, None, "tls-server");
    let client_ca = Ca::new(&scratch.0, "client-ca");
    let nfvo = client_ca.issue("nfvo.example", false, None, "tls-client");
    let stranger = client_ca.issue("stranger.example", false, None, "tls-client");
    let other_ca = Ca::new(&scratch.0, "other-ca");
    let impostor = other_ca.issue("nfvo.example", false, None, "tls-client");

    let auth = scratch.0.join("auth.yaml");
    std::fs::write(
        &auth,
        "clientCertificates:\n  - commonName: nfvo.example\n    tenant: operator-a\n    \
         scopes: [vnflcm]\n",
    )
    .expect("auth file");
    let server = Server::start(
        &temp_dir("mtls"),
        &[
            "--tls-cert",
            path(&server_cert.cert_path()),
            "--tls-key",
            path(&server_cert.key_path()),
            "--tls-client-ca",
            path(&client_ca.pem_path()),
            "--auth",
            "certificate",
            "--auth-config",
            path(&auth),
        ],
    );
    let instances = format!("{}/vnflcm/v2/vnf_instances", server.url);
    let get = |client: reqwest::Client| {
        let url = instances.clone();
        async move { client.get(url).header("Version", "2.0.0").send().await }
    };

    // No certificate, or one from another CA: the handshake fails.
    let without = get(https_client(&server_ca.pem_path(), None)).await;
    assert!(
        without.is_err(),
        "a client without a certificate got {without:?}"
    );
    let foreign = get(https_client(
        &server_ca.pem_path(),
        Some(&impostor.identity_path()),
    ))
    .await;
    assert!(
        foreign.is_err(),
        "a certificate of another CA got {foreign:?}"
    );

    // The known client acts for its tenant with its scopes.
    let client = https_client(&server_ca.pem_path(), Some(&nfvo.identity_path()));
    let listed = get(client.clone()).await.expect("mapped client");
    assert_eq!(listed.status(), StatusCode::OK);
    let created = client
        .post(&instances)
        .header("Version", "2.0.0")
        .json(&json!({"vnfdId": "not-onboarded"}))
        .send()
        .await
        .expect("post");
    assert_ne!(created.status(), StatusCode::UNAUTHORIZED);
    assert_ne!(created.status(), StatusCode::FORBIDDEN);
    let packages = client
        .get(format!("{}/vnfpkgm/v2/vnf_packages", server.url))
        .header("Version", "2.1.0")
        .send()
        .await
        .expect("packages");
    assert_eq!(
        packages.status(),
        StatusCode::FORBIDDEN,
        "the scope is vnflcm only"
    );

    // A certificate of the right CA that the auth file does not know: 401, naming it.
    let unknown = get(https_client(
        &server_ca.pem_path(),
        Some(&stranger.identity_path()),
    ))
    .await
    .expect("handshake passes");
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let body: Value = unknown.json().await.expect("problem");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("CN=stranger.example")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_optional_client_auth_other_credentials_still_work() {
    let scratch = Scratch::new();
    let server_ca = Ca::new(&scratch.0, "server-ca");
    let server_cert = server_ca.issue("vnfm.local", false, None, "tls-server");
    let client_ca = Ca::new(&scratch.0, "client-ca");
    let em = client_ca.issue("em.example", false, None, "tls-client");
    let hash = tacker_api::rest::auth::hash_password_with_iterations("s3cret-passw0rd", 600_000)
        .expect("hash");
    let auth = scratch.0.join("auth.yaml");
    std::fs::write(
        &auth,
        format!(
            "basic:\n  users:\n    - name: operator\n      passwordHash: \"{hash}\"\n      \
             scopes: [admin]\nclientCertificates:\n  - subject: \"CN=em.example, O=Example Vendor\"\n    \
             scopes: [\"vnflcm:readonly\"]\n"
        ),
    )
    .expect("auth file");
    let server = Server::start(
        &temp_dir("mtls-optional"),
        &[
            "--tls-cert",
            path(&server_cert.cert_path()),
            "--tls-key",
            path(&server_cert.key_path()),
            "--tls-client-ca",
            path(&client_ca.pem_path()),
            "--tls-client-auth",
            "optional",
            "--auth",
            "basic",
            "--auth-config",
            path(&auth),
        ],
    );
    let url = format!("{}/vnflcm/v2/vnf_instances", server.url);
    let anonymous = https_client(&server_ca.pem_path(), None);
    let refused = anonymous
        .get(&url)
        .header("Version", "2.0.0")
        .send()
        .await
        .expect("no certificate is allowed");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.expect("problem");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("client certificate")),
        "{body}"
    );
    let basic = anonymous
        .get(&url)
        .header("Version", "2.0.0")
        .basic_auth("operator", Some("s3cret-passw0rd"))
        .send()
        .await
        .expect("basic");
    assert_eq!(basic.status(), StatusCode::OK);
    let certificate = https_client(&server_ca.pem_path(), Some(&em.identity_path()));
    let read = certificate
        .get(&url)
        .header("Version", "2.0.0")
        .send()
        .await
        .expect("certificate");
    let status = read.status();
    let text = read.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::OK,
        "the subject matches in any order: {text}"
    );
    let write = certificate
        .post(&url)
        .header("Version", "2.0.0")
        .json(&json!({"vnfdId": "x"}))
        .send()
        .await
        .expect("certificate");
    assert_eq!(write.status(), StatusCode::FORBIDDEN, "readonly");
}

/// An HTTPS notification receiver that requires a client certificate of `client_ca`
/// and records who sent what.
struct MutualReceiver {
    callback: String,
    received: Arc<Mutex<Vec<(String, Value)>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl MutualReceiver {
    async fn start(cert: &Path, key: &Path, client_ca: &Path) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = Router::new().route(
            "/notifications",
            post(move |request: Request| {
                let sink = sink.clone();
                async move {
                    let sender = request
                        .extensions()
                        .get::<ClientCertificate>()
                        .map(|c| c.subject.clone())
                        .unwrap_or_default();
                    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
                        .await
                        .unwrap_or_default();
                    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    sink.lock().expect("received").push((sender, body));
                    StatusCode::NO_CONTENT
                }
            })
            .get(|| async { StatusCode::NO_CONTENT }),
        );
        let tls = tacker_api::serve::tls_config_with_clients(
            cert,
            key,
            Some((client_ca, ClientAuth::Required)),
        )
        .expect("receiver TLS");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(tacker_api::serve::serve(
            listener,
            app,
            Some(tls),
            async move {
                let _ = stop.await;
            },
            Duration::from_secs(1),
        ));
        Self {
            callback: format!("https://{address}/notifications"),
            received,
            _shutdown: shutdown,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_cert_notifications_reach_a_receiver_that_requires_the_client_certificate() {
    install_ring();
    let scratch = Scratch::new();
    let receiver_ca = Ca::new(&scratch.0, "receiver-ca");
    let receiver_cert = receiver_ca.issue("receiver.local", false, None, "tls-server");
    let vnfm_ca = Ca::new(&scratch.0, "vnfm-ca");
    let vnfm_identity = vnfm_ca.issue("vnfm.example", false, None, "tls-client");
    let receiver = MutualReceiver::start(
        &receiver_cert.cert_path(),
        &receiver_cert.key_path(),
        &vnfm_ca.pem_path(),
    )
    .await;

    // Without the VNFM's client certificate a TLS_CERT subscription is refused.
    let plain = Server::start(
        &temp_dir("tls-cert-none"),
        &["--notification-ca", path(&receiver_ca.pem_path())],
    );
    let refused = Client::new(&plain.url)
        .post(
            "/vnflcm/v2/subscriptions",
            json!({"callbackUri": receiver.callback, "authentication": {"authType": ["TLS_CERT"]}}),
        )
        .await;
    assert!(refused.status.is_client_error(), "{:?}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--notification-client-cert")),
        "{:?}",
        refused.body
    );
    drop(plain);

    let server = Server::start(
        &temp_dir("tls-cert"),
        &[
            "--notification-client-cert",
            path(&vnfm_identity.identity_path()),
            "--notification-ca",
            path(&receiver_ca.pem_path()),
        ],
    );
    let client = Client::new(&server.url);
    let subscription = client
        .post(
            "/vnflcm/v2/subscriptions",
            json!({"callbackUri": receiver.callback, "authentication": {"authType": ["TLS_CERT"]}}),
        )
        .await;
    assert_eq!(
        subscription.status,
        StatusCode::CREATED,
        "{:?}",
        subscription.body
    );
    assert!(
        subscription.body.get("authentication").is_none(),
        "no authentication data in the answer: {:?}",
        subscription.body
    );
    let package = client
        .onboard(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf"))
        .await;
    let created = client
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": package["vnfdId"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let received = receiver.received.lock().expect("received").clone();
        if let Some((sender, body)) = received
            .iter()
            .find(|(_, body)| body["notificationType"] == "VnfIdentifierCreationNotification")
        {
            assert!(sender.contains("CN=vnfm.example"), "{sender}");
            assert_eq!(body["vnfInstanceId"], created.body["id"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no notification arrived: {received:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
