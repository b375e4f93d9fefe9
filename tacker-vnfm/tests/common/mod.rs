//! What the end-to-end tests of the `vnfm` server share: the server process, a local
//! receiver of notifications, and an HTTP client that checks SOL013 on every answer.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

/// How long any single wait of these tests lasts at most.
pub const WAIT: Duration = Duration::from_secs(60);

/// A `vnfm` process.
pub struct Server {
    child: Child,
    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `vnfm` on a free loopback port with `data_dir`, plus `args`.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vnfm"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--log")
            .arg("warn")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vnfm");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("vnfm says where it listens");
        let url = line
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        assert!(url.starts_with("http"), "{line}");
        Self {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM and returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local HTTP server receiving notifications.
pub struct Receiver {
    /// Its callback URI.
    pub callback: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts listening on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = Router::new().route(
            "/notifications",
            post(move |body: axum::Json<Value>| {
                let sink = sink.clone();
                async move {
                    sink.lock().expect("notifications").push(body.0);
                    StatusCode::NO_CONTENT
                }
            })
            .get(|| async { StatusCode::NO_CONTENT }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            callback: format!("http://{address}/notifications"),
            received,
        }
    }

    /// Everything received so far.
    pub fn all(&self) -> Vec<Value> {
        self.received.lock().expect("notifications").clone()
    }

    /// Waits until `check` holds for what was received.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let all = self.all();
            if check(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "never received {what}; got {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// An answer of the server.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: reqwest::header::HeaderMap,
    /// Its body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// Its raw body.
    pub bytes: Vec<u8>,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The `Location` header.
    pub fn location(&self) -> String {
        self.header("location").expect("a Location header")
    }
}

/// A client that sends the right `Version` to each API and checks that every error is
/// ProblemDetails.
pub struct Client {
    http: reqwest::Client,
    /// The server's base URL.
    pub base: String,
}

/// The version to send for a path.
pub fn version_for(path: &str) -> &'static str {
    if path.contains("/vnflcm/") {
        "2.3.0"
    } else if path.contains("/vnfpkgm/v2") {
        "2.4.0"
    } else if path.contains("/vnfpkgm/v1") {
        "1.3.0"
    } else {
        "1.0.0"
    }
}

impl Client {
    /// A client of the server at `base`.
    pub fn new(base: &str) -> Self {
        install_ring();
        Self {
            http: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("client"),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// Sends a request (`path` relative to the base, or an absolute URL).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("Version", version_for(&url));
        if let Some((content_type, bytes)) = body {
            request = request.header("Content-Type", content_type).body(bytes);
        }
        let response = request.send().await.expect("the server answers");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let answer = Answer {
            status,
            headers,
            body,
            bytes,
        };
        if !status.is_success() {
            assert_problem(&answer, &format!("{method} {path}"));
        }
        answer
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(
            reqwest::Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// PATCH a merge-patch body.
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(
            reqwest::Method::PATCH,
            path,
            Some((
                "application/merge-patch+json",
                body.to_string().into_bytes(),
            )),
        )
        .await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Posts `body` to the task resource `path`, which must accept it (202), and
    /// follows the operation occurrence to its end ([`Client::wait_for_op`]).
    pub async fn run_op(&self, path: &str, body: Value) -> Value {
        let accepted = self.post(path, body).await;
        assert_eq!(
            accepted.status,
            StatusCode::ACCEPTED,
            "{path}: {:?}",
            accepted.body
        );
        self.wait_for_op(&accepted.location()).await
    }

    /// Follows an operation (by its `Location`) until it leaves STARTING, PROCESSING
    /// and ROLLING_BACK.
    pub async fn wait_for_op(&self, location: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = self.get(location).await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            let state = answer.body["operationState"].as_str().unwrap_or_default();
            if !matches!(state, "STARTING" | "PROCESSING" | "ROLLING_BACK") {
                return answer.body;
            }
            assert!(Instant::now() < deadline, "{location} stays {state}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates a package from a directory, uploads it, waits until it is onboarded.
    pub async fn onboard(&self, package_dir: &Path) -> Value {
        let created = self
            .post("/vnfpkgm/v2/vnf_packages", serde_json::json!({}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().expect("package id").to_owned();
        let zip = tacker_vnfm::zip_package_dir(package_dir).expect("zip the package");
        let uploaded = self
            .send(
                reqwest::Method::PUT,
                &format!("/vnfpkgm/v2/vnf_packages/{id}/package_content"),
                Some(("application/zip", zip)),
            )
            .await;
        assert_eq!(uploaded.status, StatusCode::ACCEPTED, "{:?}", uploaded.body);
        let deadline = Instant::now() + WAIT;
        loop {
            let package = self.get(&format!("/vnfpkgm/v2/vnf_packages/{id}")).await;
            match package.body["onboardingState"].as_str() {
                Some("ONBOARDED") => return package.body,
                Some("ERROR") => panic!("onboarding failed: {:?}", package.body),
                _ => {}
            }
            assert!(Instant::now() < deadline, "package {id} never onboarded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Installs the ring provider as the process's rustls provider (once).
pub fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain GET (no `Version` header).
pub async fn plain_get(url: &str) -> reqwest::Response {
    install_ring();
    reqwest::get(url).await.expect("the server answers")
}

/// Asserts that an error answer is `application/problem+json` ProblemDetails whose
/// status matches the HTTP status.
pub fn assert_problem(answer: &Answer, what: &str) {
    let content_type = answer.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{what}: error {} is {content_type}, not ProblemDetails: {}",
        answer.status,
        String::from_utf8_lossy(&answer.bytes)
    );
    assert_eq!(
        answer.body["status"].as_u64(),
        Some(u64::from(answer.status.as_u16())),
        "{what}: {:?}",
        answer.body
    );
    assert!(
        answer.body["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: ProblemDetails without detail: {:?}",
        answer.body
    );
}

/// A package of the corpus in `../shared` beside the repository. `None` (the test then
/// skips) when the corpus is absent, except under `CI=true`, where that is a failure.
pub fn corpus_package(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name)
        .join("package");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the corpus package {} is missing (../shared must be beside the repository)",
        dir.display()
    );
    eprintln!("skipped: {} is absent", dir.display());
    None
}

/// A fresh temporary directory.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tacker-{label}-{}-{}",
        std::process::id(),
        tacker_core::new_id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn standin(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tacker-drivers-openstack/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The VIM registration body for the cloud of the `OS_*` variables, or `None`.
pub fn registration() -> Option<Value> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let Some(auth_url) = var("OS_AUTH_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but OS_AUTH_URL is unset: .ci/run must start Keystone and Heat"
        );
        eprintln!("skipped: OS_AUTH_URL is unset (see ../shared/tools/openstack)");
        return None;
    };
    // With the full set (`TACKER_TEST_OS_FULL=1`) the servers, ports and networks are
    // real; else Nova's and Neutron's types map to stand-ins.
    let extra = if var("TACKER_TEST_OS_FULL").as_deref() == Some("1") {
        serde_json::json!({"heatEnvironment": {"resource_registry": {
            "OS::Cinder::Volume": "OS::Heat::None",
        }}})
    } else {
        serde_json::json!({
            "heatEnvironment": {"resource_registry": {
                "OS::Nova::Server": "server-standin.yaml",
                "OS::Neutron::Port": "port-standin.yaml",
                "OS::Neutron::Net": "OS::Heat::None",
                "OS::Neutron::Subnet": "OS::Heat::None",
                "OS::Nova::ServerGroup": "OS::Heat::None",
            }},
            "heatFiles": {
                "server-standin.yaml": standin("server-standin.yaml"),
                "port-standin.yaml": standin("port-standin.yaml"),
            },
        })
    };
    Some(serde_json::json!({
        "name": "openstack-e2e",
        "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3",
        "interfaceInfo": {"endpoint": auth_url},
        "accessInfo": {
            "username": var("OS_USERNAME").unwrap_or_else(|| "demo".into()),
            "password": var("OS_PASSWORD").unwrap_or_default(),
            "project": var("OS_PROJECT_NAME").unwrap_or_else(|| "demo".into()),
            "userDomainId": var("OS_USER_DOMAIN_ID").unwrap_or_else(|| "default".into()),
            "projectDomainId": var("OS_PROJECT_DOMAIN_ID").unwrap_or_else(|| "default".into()),
            "region": var("OS_REGION_NAME").unwrap_or_else(|| "RegionOne".into()),
        },
        "extra": extra,
    }))
}
