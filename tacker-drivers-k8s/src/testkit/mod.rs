//! A test double of the Kubernetes API server (feature `testkit`), for this crate's
//! tests and for other crates' tests that need a Kubernetes VIM.
//!
//! [`ApiServerDouble::start`] serves HTTP on a loopback port and speaks the wire format
//! of the Kubernetes API reference, so real clients (kube-rs, `kubectl`) drive it:
//!
//! - discovery: `/version`, `/api`, `/apis`, `/apis/{group}` and the resource lists of
//!   every group version (with the `status` and `scale` subresources);
//! - create, get, list, replace, JSON/merge/strategic-merge patch, server-side apply,
//!   delete and delete-collection, for namespaced and cluster-scoped objects; a global
//!   `resourceVersion`, 409 `Conflict` on a stale one, `AlreadyExists`, `NotFound` and
//!   the other errors as `Status` objects;
//! - label and field selectors; watches (`?watch=true`) from a `resourceVersion`, with
//!   410 `Expired` when the history no longer reaches it;
//! - the `scale` subresource of Deployments, ReplicaSets and StatefulSets;
//! - foreground, background and orphan deletion, and terminating namespaces;
//! - reviews (`SelfSubjectAccessReview` and friends) that allow, or deny when told to.
//!
//! A small controller plays kube-controller-manager and the kubelet: Deployments get
//! ReplicaSets, which get pods; StatefulSets get ordered pods and their claims;
//! DaemonSets get a pod on the one node; Jobs complete; pods become Ready after
//! [`ApiServerConfig::pod_ready_delay`] unless a fault ([`PodFault`]) set with
//! [`ApiServerDouble::inject_fault`] holds back pods whose image matches; deleted pods are
//! replaced; Services get Endpoints.

mod controller;
mod fields;
pub mod resources;
mod server;
mod state;

pub use state::PodFault;

use axum::Router;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use state::{Key, Store};

/// How the double behaves.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    /// The bearer token clients must send; `None` accepts anonymous requests.
    pub token: Option<String>,
    /// How long a new pod takes to become Ready.
    pub pod_ready_delay: Duration,
    /// The `major` and `minor` version `/version` reports.
    pub version: (String, String),
    /// Serve HTTPS with the double's certificate ([`TEST_CA_CERT`], for 127.0.0.1)
    /// instead of plain HTTP.
    pub https: bool,
}

/// The certificate the double serves HTTPS with (self-signed, for 127.0.0.1 and
/// localhost): the `ssl_ca_cert` a client must trust.
pub const TEST_CA_CERT: &str = include_str!("identity/tls-cert.pem");
const TEST_KEY: &str = include_str!("identity/tls-key.pem");

impl Default for ApiServerConfig {
    fn default() -> Self {
        Self {
            token: Some(format!("double-{}", uuid::Uuid::new_v4().simple())),
            pod_ready_delay: Duration::from_millis(200),
            version: ("1".to_owned(), "33".to_owned()),
            https: false,
        }
    }
}

/// What the handlers and the controller share.
#[derive(Debug)]
pub(crate) struct Shared {
    store: Mutex<Store>,
    events: broadcast::Sender<Arc<state::Event>>,
    changed: Notify,
    stop: CancellationToken,
    config: ApiServerConfig,
    address: String,
    allow: AtomicBool,
    /// One-shot request failures: (method, path fragment, matching requests to let
    /// through first).
    request_faults: Mutex<Vec<(String, String, u32)>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // A handler that panicked while holding the lock leaves a usable store.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running API-server double. Stops when dropped.
#[derive(Debug)]
pub struct ApiServerDouble {
    shared: Arc<Shared>,
    address: SocketAddr,
}

impl ApiServerDouble {
    /// Starts a double on `127.0.0.1` with a free port, with the namespaces
    /// `default`, `kube-system` and `kube-public` and one node.
    pub async fn start(config: ApiServerConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (events, _) = broadcast::channel(16_384);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(events.clone())),
            events,
            changed: Notify::new(),
            stop: CancellationToken::new(),
            config,
            address: address.to_string(),
            allow: AtomicBool::new(true),
            request_faults: Mutex::new(Vec::new()),
        });
        {
            let mut store = shared.lock();
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                store.insert(
                    Key::of("", "namespaces", "", ns),
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}),
                );
            }
            store.insert(
                Key::of("", "nodes", "", controller::NODE_NAME),
                json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": controller::NODE_NAME, "labels": {"kubernetes.io/hostname": controller::NODE_NAME}},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                }),
            );
        }
        let app = Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let stop = shared.stop.clone();
        if shared.config.https {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls_config()?);
            tokio::spawn(serve_tls(listener, app, acceptor, stop));
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
            });
        }
        let runner = shared.clone();
        tokio::spawn(async move { run_controller(runner).await });
        Ok(Self { shared, address })
    }

    /// The URL clients use, `http://127.0.0.1:<port>` (or `https://`).
    pub fn endpoint(&self) -> String {
        let scheme = if self.shared.config.https {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.address)
    }

    /// The bearer token clients must send, if any.
    pub fn token(&self) -> Option<&str> {
        self.shared.config.token.as_deref()
    }

    /// Makes pods whose container image contains `image` misbehave, from now on (pods
    /// already Ready stay so).
    pub fn inject_fault(&self, image: impl Into<String>, fault: PodFault) {
        self.shared.lock().faults.push((image.into(), fault));
        self.shared.changed.notify_one();
    }

    /// Makes the next request with this method whose path contains `path_fragment`
    /// (watches excluded) fail with 500 `InternalError`, once.
    pub fn fail_next_request(&self, method: &str, path_fragment: &str) {
        self.fail_nth_request(method, path_fragment, 1);
    }

    /// Like [`Self::fail_next_request`], for the `n`-th such request from now (`n` ≥ 1).
    pub fn fail_nth_request(&self, method: &str, path_fragment: &str, n: u32) {
        self.shared
            .request_faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((
                method.to_ascii_uppercase(),
                path_fragment.to_owned(),
                n.saturating_sub(1),
            ));
    }

    /// Clears every fault: held-back pods become Ready.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
        self.shared.changed.notify_one();
    }

    /// Whether access reviews allow (the default) or deny.
    pub fn set_access_allowed(&self, allowed: bool) {
        self.shared
            .allow
            .store(allowed, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every stored object (any resource, any namespace) whose labels include
    /// `key=value`, as `(kind, namespace, name)`, sorted.
    pub fn objects_labelled(&self, key: &str, value: &str) -> Vec<(String, String, String)> {
        let store = self.shared.lock();
        let mut out: Vec<(String, String, String)> = store
            .objects
            .iter()
            .filter(|(_, o)| o["metadata"]["labels"][key].as_str() == Some(value))
            .map(|(k, o)| {
                (
                    o["kind"].as_str().unwrap_or(&k.plural).to_owned(),
                    k.namespace.clone(),
                    k.name.clone(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// One stored object: `plural` in `group` (`""` for core), `namespace` (`""` when
    /// cluster-scoped) and `name`.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .lock()
            .objects
            .get(&Key::of(group, plural, namespace, name))
            .cloned()
    }

    /// The names of the pods in `namespace`, sorted.
    pub fn pod_names(&self, namespace: &str) -> Vec<String> {
        self.shared
            .lock()
            .of_type("", "pods", Some(namespace))
            .map(|(k, _)| k.name.clone())
            .collect()
    }
}

impl Drop for ApiServerDouble {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

fn tls_config() -> std::io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let certs = CertificateDer::pem_slice_iter(TEST_CA_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("the double's certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes())
        .map_err(|e| invalid(format!("the double's key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    acceptor: tokio_rustls::TlsAcceptor,
    stop: CancellationToken,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::select! {
                () = stop.cancelled() => {}
                _ = connection => {}
            }
        });
    }
}

async fn run_controller(shared: Arc<Shared>) {
    let delay = shared.config.pod_ready_delay;
    // The controller wakes on every write and, while pods wait for their time, on a
    // short tick.
    let tick = (delay / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
    loop {
        let waiting = {
            let mut store = shared.lock();
            let mut waiting = false;
            // A few passes let cascades (Deployment → ReplicaSet → Pod) settle.
            for _ in 0..4 {
                let before = store.rv;
                waiting = controller::reconcile(&mut store, delay);
                if store.rv == before {
                    break;
                }
            }
            waiting
        };
        let faulty = !shared.lock().faults.is_empty();
        let pause = if waiting || faulty {
            tick
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            () = shared.stop.cancelled() => return,
            () = shared.changed.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}
