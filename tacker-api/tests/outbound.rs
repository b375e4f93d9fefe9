//! The outbound policy of the HTTP clients: callbacks, the callback check, package
//! downloads and their redirects, against servers on loopback addresses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use tacker_api::{Api, ApiConfig, HttpNotificationSink, HttpPackageFetcher};
use tacker_core::notify::{NotificationSink, NotificationTarget};
use tacker_core::outbound::{Cidr, OutboundPolicy};
use tacker_core::package::PackageFetcher;
use tacker_core::sim::SimInfraDriver;
use tacker_core::{Error, Vnfm};
use tokio::net::TcpListener;
use tower::ServiceExt;

const MIB: u64 = 1 << 20;

/// What a metadata service would answer; it must never reach an API client.
const SECRET: &str = "AKIA-SECRET-METADATA-CREDENTIALS";

fn cidr(text: &str) -> Cidr {
    Cidr::parse(text).expect("a CIDR")
}

/// A server on `ip` that counts its requests: `/secret` answers 200 with [`SECRET`],
/// `/cb` answers 204, `/pkg.zip` a few bytes, `/to/<url>` redirects to the rest of the
/// path.
async fn server(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = |hits: &Arc<AtomicUsize>| {
        let hits = hits.clone();
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (a, b, c) = (counted(&hits), counted(&hits), counted(&hits));
    let d = counted(&hits);
    let router = Router::new()
        .route(
            "/secret",
            get(move || async move {
                a();
                (StatusCode::OK, format!("{SECRET}\r\n\u{1b}[2Jmore"))
            }),
        )
        .route(
            "/cb",
            get(move || async move {
                b();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/pkg.zip",
            get(move || async move {
                c();
                (StatusCode::OK, "PK-not-really")
            }),
        )
        .route(
            "/to/{*target}",
            get(
                move |axum::extract::Path(target): axum::extract::Path<String>| async move {
                    d();
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, target.replacen("http:/", "http://", 1))],
                    )
                        .into_response()
                },
            ),
        );
    let listener = TcpListener::bind((ip, 0))
        .await
        .expect("bind a loopback address");
    let address = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the test server runs");
    });
    (address, hits)
}

fn sink(policy: OutboundPolicy) -> HttpNotificationSink {
    HttpNotificationSink::builder()
        .timeout(Duration::from_secs(10))
        .outbound_policy(policy)
        .build()
        .expect("a sink")
}

fn fetcher(policy: OutboundPolicy) -> HttpPackageFetcher {
    HttpPackageFetcher::builder()
        .timeout(Duration::from_secs(10))
        .outbound_policy(policy)
        .build()
        .expect("a fetcher")
}

fn target(uri: &str) -> NotificationTarget {
    NotificationTarget {
        subscription_id: "sub-1".to_owned(),
        callback_uri: uri.to_owned(),
        authentication: None,
    }
}

/// The REST API with an HTTP notification sink under `policy`.
fn api(policy: OutboundPolicy) -> Router {
    let vnfm = Vnfm::builder()
        .vim_type(SimInfraDriver::default().as_vim_type())
        // The router alone: operations are accepted and stay STARTING.
        .remote_executor()
        .notification_sink(Arc::new(sink(policy)))
        .build()
        .expect("the VNFM");
    Api::new(&vnfm, ApiConfig::default()).router()
}

async fn subscribe(router: &Router, callback: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/vnflcm/v2/subscriptions")
        .header("Version", "2.3.0")
        .header("Content-Type", "application/json")
        .body(Body::from(json!({"callbackUri": callback}).to_string()))
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_callback_at_a_denied_address_is_refused_with_400_naming_the_rule() {
    let router = api(OutboundPolicy::default());
    for callback in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://169.254.10.10:8080/cb",
    ] {
        let (status, body) = subscribe(&router, callback).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{callback}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("outbound policy"), "{callback}: {detail}");
        assert!(
            detail.contains("built-in rule deny"),
            "{callback}: {detail}"
        );
    }

    let (address, hits) = server("127.0.0.1").await;
    let strict = OutboundPolicy::default().deny(cidr("127.0.0.0/8"));
    let router = api(strict);
    let (status, body) = subscribe(&router, &format!("http://{address}/cb")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("rule deny 127.0.0.0/8"), "{detail}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was sent");

    let allowed = api(OutboundPolicy::default());
    let (status, body) = subscribe(&allowed, &format!("http://{address}/cb")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_host_name_is_checked_after_resolution() {
    let (address, hits) = server("127.0.0.1").await;
    let policy = OutboundPolicy::default()
        .deny(cidr("127.0.0.1/32"))
        .deny(cidr("::1/128"));
    let uri = format!("http://localhost:{}/cb", address.port());

    let error = sink(policy.clone())
        .check_callback(&target(&uri))
        .await
        .expect_err("localhost resolves to denied addresses");
    let text = error.to_string();
    assert!(matches!(error, Error::InvalidRequest(_)), "{text}");
    assert!(text.contains("localhost"), "{text}");
    assert!(text.contains("rule deny"), "{text}");

    let error = sink(policy.clone())
        .deliver(&target(&uri), &json!({"id": "n-1"}))
        .await
        .expect_err("refused");
    assert!(
        !error.is_retryable(),
        "a refusal does not pass later: {error}"
    );

    let error = fetcher(policy)
        .fetch(
            &format!("http://localhost:{}/pkg.zip", address.port()),
            None,
            MIB,
        )
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was sent");

    sink(OutboundPolicy::default())
        .check_callback(&target(&uri.replace("localhost", "127.0.0.1")))
        .await
        .expect("allowed by default");
}

#[tokio::test]
async fn a_redirect_to_a_denied_address_is_refused() {
    let (allowed, allowed_hits) = server("127.0.0.1").await;
    let (denied, denied_hits) = server("127.0.0.2").await;
    let policy = OutboundPolicy::default().deny(cidr("127.0.0.2/32"));
    let fetcher = fetcher(policy);

    let direct = fetcher
        .fetch(&format!("http://{allowed}/pkg.zip"), None, MIB)
        .await
        .expect("allowed");
    assert_eq!(&direct[..], b"PK-not-really");

    let uri = format!("http://{allowed}/to/http:/{denied}/pkg.zip");
    let error = fetcher
        .fetch(&uri, None, MIB)
        .await
        .expect_err("the hop to 127.0.0.2 is refused");
    let text = error.to_string();
    assert!(matches!(error, Error::InvalidRequest(_)), "{text}");
    assert!(text.contains("rule deny 127.0.0.2/32"), "{text}");
    assert_eq!(denied_hits.load(Ordering::SeqCst), 0, "nothing reached it");
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 2);

    let error = fetcher
        .fetch(
            &format!("http://{allowed}/to/http:/169.254.169.254/latest/meta-data/"),
            None,
            MIB,
        )
        .await
        .expect_err("metadata is refused by default");
    assert!(error.to_string().contains("169.254.169.254/32"), "{error}");
}

#[tokio::test]
async fn the_callback_check_never_quotes_the_body() {
    let (address, hits) = server("127.0.0.1").await;
    let error = sink(OutboundPolicy::default())
        .check_callback(&target(&format!("http://{address}/secret")))
        .await
        .expect_err("200 is not 204");
    let text = error.to_string();
    assert!(matches!(error, Error::Unprocessable(_)), "{text}");
    assert!(text.contains("200 OK"), "{text}");
    assert!(!text.contains(SECRET), "the body leaked: {text}");
    assert!(!text.contains("more"), "the body leaked: {text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let error = fetcher(OutboundPolicy::default())
        .fetch(&format!("http://{address}/secret/x"), None, MIB)
        .await
        .expect_err("404");
    assert!(!error.to_string().contains(SECRET), "{error}");
}

#[tokio::test]
async fn schemes_can_be_narrowed() {
    let (address, _) = server("127.0.0.1").await;
    let error = fetcher(OutboundPolicy::default().schemes(["https"]))
        .fetch(&format!("http://{address}/pkg.zip"), None, MIB)
        .await
        .expect_err("http is not allowed");
    assert!(error.to_string().contains("\"http\""), "{error}");
}

/// A host in a network namespace this test creates, at a link-local address (where
/// cloud metadata services live): a callback there is refused by default, before any
/// connection, and reached once the operator allows that range. Skipped where no
/// namespace can be made, except under `CI=true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_local_host_in_a_network_namespace_is_refused_until_allowed() {
    use tacker_core::testkit::netns::Namespace;
    let namespace = match Namespace::create("ob") {
        Ok(namespace) => namespace,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: no network namespace here ({why})");
            return;
        }
        Err(why) => panic!("CI=true but no network namespace: {why}"),
    };
    let port = 18080;
    // A server inside the namespace answering 204, logging each request to stdout.
    let script = format!(
        "import http.server, sys\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       print('GET', self.path, flush=True)\n\
         \x20       self.send_response(204); self.end_headers()\n\
         \x20   def log_message(self, *a): pass\n\
         http.server.HTTPServer(('{}', {port}), H).serve_forever()\n",
        namespace.address
    );
    let mut server = tokio::process::Command::new("ip")
        .args(["netns", "exec", namespace.name(), "python3", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server in the namespace");
    let url = format!("http://{}:{port}/cb", namespace.address);
    let address = SocketAddr::new(namespace.address, port);
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the namespace's server did not come up at {address}");

    let error = sink(OutboundPolicy::default())
        .check_callback(&target(&url))
        .await
        .expect_err("link-local is refused by default");
    let text = error.to_string();
    assert!(text.contains("link-local"), "{text}");
    assert!(text.contains(&namespace.address.to_string()), "{text}");

    let subnet = match namespace.address {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/30")
        }
        std::net::IpAddr::V6(_) => unreachable!("the namespace is IPv4"),
    };
    sink(OutboundPolicy::default().allow(cidr(&subnet)))
        .check_callback(&target(&url))
        .await
        .expect("an explicitly allowed range is reached");
    let _ = server.start_kill();
    let output = server.wait_with_output().await.expect("server output");
    let requests = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        requests.lines().filter(|l| l.starts_with("GET")).count(),
        1,
        "only the allowed check reached the host: {requests}"
    );
}
