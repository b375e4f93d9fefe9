//! The `tacker` binary against a small in-process HTTP server playing the VNFM: paged
//! lists followed through `Link`, tasks followed from `Location` to their end (exit 2
//! with the error detail when they fail), ProblemDetails printed, the `Version` header
//! and the credentials sent, packages uploaded and onboarded, bodies from files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    version: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON request body")
    }
}

#[derive(Default)]
struct Fake {
    base: String,
    seen: Vec<Seen>,
    polls: HashMap<String, u32>,
    uploaded: bool,
    retried: bool,
}

type Shared = Arc<Mutex<Fake>>;

const BASIC: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret
const BEARER: &str = "Bearer tok-123";

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "status": status.as_u16(),
        "title": status.canonical_reason().unwrap_or(""),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn accepted(location: String) -> Response {
    (StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response()
}

fn op(id: &str, operation: &str, state: &str, entered: &str) -> Value {
    json!({
        "id": id,
        "operation": operation,
        "operationState": state,
        "vnfInstanceId": "v1",
        "startTime": "2025-01-01T00:00:00Z",
        "stateEnteredTime": entered,
        "isCancelPending": false,
    })
}

fn package(state: &str) -> Value {
    json!({
        "id": "pkg1",
        "onboardingState": state,
        "operationalState": "DISABLED",
        "usageState": "NOT_IN_USE",
        "userDefinedData": {"owner": "ops"},
    })
}

async fn handle(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        version: headers
            .get("version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        body: body.to_vec(),
    };
    let mut fake = fake.lock().expect("lock");
    fake.seen.push(seen.clone());
    let path = uri.path();
    let wanted = if path.starts_with("/vnflcm/v2/") {
        "2.3.0"
    } else if path.starts_with("/vnfpkgm/v2/") {
        "2.4.0"
    } else if path == "/vims" || path.starts_with("/vims/") {
        "1.0.0"
    } else {
        return problem(StatusCode::NOT_FOUND, "no such API");
    };
    if seen.version.as_deref() != Some(wanted) {
        return problem(StatusCode::BAD_REQUEST, "Version header missing or wrong");
    }
    if !matches!(seen.authorization.as_deref(), Some(BASIC | BEARER)) {
        return problem(StatusCode::UNAUTHORIZED, "bad credentials");
    }
    let base = fake.base.clone();
    let poll = |fake: &mut Fake, key: &str| {
        let n = fake.polls.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["vnflcm", "v2", "vnf_instances"]) => {
            let vnf = |id: &str| {
                json!({"id": id, "vnfInstanceName": format!("name-{id}"),
                       "instantiationState": "NOT_INSTANTIATED", "vnfdId": "d1",
                       "vnfProductName": "Sample"})
            };
            if seen.query.as_deref() == Some("nextpage_opaque_marker=2") {
                json_response(StatusCode::OK, json!([vnf("v3")]))
            } else {
                let mut response = json_response(StatusCode::OK, json!([vnf("v1"), vnf("v2")]));
                let link = format!(
                    "<{base}/vnflcm/v2/vnf_instances?nextpage_opaque_marker=2>; rel=\"next\""
                );
                response
                    .headers_mut()
                    .insert(header::LINK, link.parse().expect("link"));
                response
            }
        }
        ("GET", ["vnflcm", "v2", "vnf_instances", "missing"]) => {
            problem(StatusCode::NOT_FOUND, "VNF instance missing not found")
        }
        ("POST", ["vnflcm", "v2", "vnf_instances", _, "instantiate"]) => {
            accepted(format!("{base}/vnflcm/v2/vnf_lcm_op_occs/op-ok"))
        }
        ("POST", ["vnflcm", "v2", "vnf_instances", _, "scale"]) => {
            accepted(format!("{base}/vnflcm/v2/vnf_lcm_op_occs/op-fail"))
        }
        ("POST", ["vnflcm", "v2", "vnf_instances", id, "terminate"]) => problem(
            StatusCode::CONFLICT,
            &format!("VNF instance {id} has an operation in progress"),
        ),
        ("GET", ["vnflcm", "v2", "vnf_lcm_op_occs", "op-ok"]) => {
            let state = if poll(&mut fake, "op-ok") < 3 {
                "PROCESSING"
            } else {
                "COMPLETED"
            };
            json_response(StatusCode::OK, op("op-ok", "INSTANTIATE", state, "t1"))
        }
        ("GET", ["vnflcm", "v2", "vnf_lcm_op_occs", "op-fail"]) => {
            let n = poll(&mut fake, "op-fail");
            let body = if fake.retried {
                // The old FAILED_TEMP lingers for a while after the retry is accepted.
                match n {
                    ..=3 => op("op-fail", "SCALE", "FAILED_TEMP", "t2"),
                    4 => op("op-fail", "SCALE", "PROCESSING", "t3"),
                    _ => op("op-fail", "SCALE", "COMPLETED", "t4"),
                }
            } else if n < 3 {
                op("op-fail", "SCALE", "PROCESSING", "t1")
            } else {
                let mut failed = op("op-fail", "SCALE", "FAILED_TEMP", "t2");
                failed["error"] = json!({"status": 500, "title": "Internal Server Error",
                                         "detail": "VIM quota exceeded for cores"});
                failed
            };
            json_response(StatusCode::OK, body)
        }
        ("POST", ["vnflcm", "v2", "vnf_lcm_op_occs", "op-fail", "retry"]) => {
            fake.retried = true;
            fake.polls.insert("op-fail".to_owned(), 0);
            accepted(format!("{base}/vnflcm/v2/vnf_lcm_op_occs/op-fail"))
        }
        ("POST", ["vnfpkgm", "v2", "vnf_packages"]) => {
            json_response(StatusCode::CREATED, package("CREATED"))
        }
        ("PUT", ["vnfpkgm", "v2", "vnf_packages", "pkg1", "package_content"]) => {
            if seen.content_type.as_deref() != Some("application/zip")
                || !seen.body.starts_with(b"PK")
            {
                return problem(StatusCode::BAD_REQUEST, "not a zip");
            }
            fake.uploaded = true;
            StatusCode::ACCEPTED.into_response()
        }
        ("GET", ["vnfpkgm", "v2", "vnf_packages", "pkg1"]) => {
            let state = if !fake.uploaded {
                "CREATED"
            } else if poll(&mut fake, "pkg1") < 3 {
                "PROCESSING"
            } else {
                "ONBOARDED"
            };
            json_response(StatusCode::OK, package(state))
        }
        ("POST", ["vims"]) => {
            let mut vim = seen.json();
            if let Some(map) = vim.as_object_mut() {
                map.remove("accessInfo");
                map.insert("id".into(), json!("vim1"));
            }
            json_response(StatusCode::CREATED, vim)
        }
        _ => problem(StatusCode::NOT_FOUND, &format!("{method} {path}")),
    }
}

/// Starts the fake VNFM on 127.0.0.1:0 in a thread of its own; returns its base URL
/// and state.
fn start() -> (String, Shared) {
    let fake: Shared = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let state = fake.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tx.send(addr).expect("send addr");
            let app = Router::new().fallback(handle).with_state(state);
            axum::serve(listener, app).await.expect("serve");
        });
    });
    let addr = rx.recv().expect("server address");
    let base = format!("http://{addr}");
    fake.lock().expect("lock").base = base.clone();
    (base, fake)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tacker-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The `tacker` binary with a clean environment: no TACKER_* variables, no config
/// file unless `config_home` holds one.
fn tacker(config_home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tacker"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TACKER_") {
            command.env_remove(name);
        }
    }
    command
        .env("XDG_CONFIG_HOME", config_home)
        .env("HOME", config_home);
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run tacker");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `tacker` with the endpoint as a flag and basic credentials from the environment.
fn tacker_at(base: &str, home: &Path, args: &[&str]) -> (i32, String, String) {
    run(tacker(home)
        .args(["--endpoint", base])
        .env("TACKER_USERNAME", "admin")
        .env("TACKER_PASSWORD", "secret")
        .args(args))
}

fn seen(fake: &Shared) -> Vec<Seen> {
    fake.lock().expect("lock").seen.clone()
}

#[test]
fn lists_follow_next_links_with_version_and_basic_auth() {
    let (base, fake) = start();
    let home = scratch("list");
    let (code, stdout, stderr) = tacker_at(
        &base,
        &home,
        &[
            "vnf",
            "list",
            "--filter",
            "(eq,vnfdId,d1);(in,id,v1,v3)",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let items: Value = serde_json::from_str(&stdout).expect("JSON array");
    let ids: Vec<&str> = items
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(ids, ["v1", "v2", "v3"]);
    let requests = seen(&fake);
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].query.as_deref(),
        Some("filter=%28eq%2CvnfdId%2Cd1%29%3B%28in%2Cid%2Cv1%2Cv3%29")
    );
    assert_eq!(
        requests[1].query.as_deref(),
        Some("nextpage_opaque_marker=2")
    );
    for request in &requests {
        assert_eq!(request.path, "/vnflcm/v2/vnf_instances");
        assert_eq!(request.version.as_deref(), Some("2.3.0"));
        assert_eq!(request.authorization.as_deref(), Some(BASIC));
    }

    // The table, aligned.
    let (code, stdout, stderr) = tacker_at(&base, &home, &["vnf", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("ID  NAME     STATE"), "{stdout}");
    assert!(
        lines[1].starts_with("v1  name-v1  NOT_INSTANTIATED  -"),
        "{stdout}"
    );

    // YAML.
    let (code, stdout, _) = tacker_at(&base, &home, &["vnf", "list", "-o", "yaml"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("id: v3"), "{stdout}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_task_is_followed_from_its_location_to_completion() {
    let (base, fake) = start();
    let home = scratch("task");
    let body = home.join("instantiate.yaml");
    std::fs::write(
        &body,
        "flavourId: from-file\nextVirtualLinks:\n  - id: ext1\n    resourceId: net0\n\
         additionalParams:\n  fromFile: true\n",
    )
    .expect("body file");
    let body = body.to_string_lossy().into_owned();
    let (code, stdout, stderr) = tacker_at(
        &base,
        &home,
        &[
            "vnf",
            "instantiate",
            "v1",
            "--flavour",
            "simple",
            "--level",
            "l1",
            "--param",
            "k=v",
            "--param",
            "n:=2",
            "--body",
            &body,
            "--wait",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("op-ok") && stdout.contains("COMPLETED"),
        "{stdout}"
    );
    assert!(stderr.contains("INSTANTIATE op-ok: PROCESSING"), "{stderr}");
    assert!(stderr.contains("INSTANTIATE op-ok: COMPLETED"), "{stderr}");
    let requests = seen(&fake);
    let post = requests
        .iter()
        .find(|r| r.method == "POST")
        .expect("the instantiate request");
    assert_eq!(post.path, "/vnflcm/v2/vnf_instances/v1/instantiate");
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        post.json(),
        json!({
            "flavourId": "simple",
            "instantiationLevelId": "l1",
            "extVirtualLinks": [{"id": "ext1", "resourceId": "net0"}],
            "additionalParams": {"fromFile": true, "k": "v", "n": 2},
        })
    );
    let polls = requests
        .iter()
        .filter(|r| r.path == "/vnflcm/v2/vnf_lcm_op_occs/op-ok")
        .count();
    assert!(polls >= 3, "{polls} polls");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_failed_task_exits_2_with_the_error_and_a_retry_is_followed_past_the_old_state() {
    let (base, _fake) = start();
    let home = scratch("fail");
    let (code, stdout, stderr) = tacker_at(
        &base,
        &home,
        &[
            "vnf", "scale", "v1", "--aspect", "A", "--out", "--wait", "-o", "json",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "error: operation op-fail (SCALE) ended FAILED_TEMP: 500 Internal Server Error: \
             VIM quota exceeded for cores"
        ),
        "{stderr}"
    );
    let op: Value = serde_json::from_str(&stdout).expect("the op as JSON");
    assert_eq!(op["operationState"], "FAILED_TEMP");

    let (code, stdout, stderr) = tacker_at(
        &base,
        &home,
        &["op", "retry", "op-fail", "--wait", "-o", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let op: Value = serde_json::from_str(&stdout).expect("the op as JSON");
    assert_eq!(op["operationState"], "COMPLETED");
    assert!(stderr.contains("SCALE op-fail: PROCESSING"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn problem_details_are_printed_and_fail_the_command() {
    let (base, _fake) = start();
    let home = scratch("problem");
    let (code, stdout, stderr) = tacker_at(&base, &home, &["vnf", "terminate", "v1"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.trim(),
        "error: 409 Conflict: VNF instance v1 has an operation in progress"
    );
    let (code, _, stderr) = tacker_at(&base, &home, &["vnf", "show", "missing"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "error: 404 Not Found: VNF instance missing not found"
    );
    // Wrong credentials from flags beat the environment's right ones.
    let (code, _, stderr) = tacker_at(
        &base,
        &home,
        &["vnf", "list", "--username", "admin", "--password", "wrong"],
    );
    assert_eq!(code, 1);
    assert_eq!(stderr.trim(), "error: 401 Unauthorized: bad credentials");
    // Nobody listening.
    let (code, _, stderr) =
        run(tacker(&home).args(["--endpoint", "http://127.0.0.1:1", "op", "list"]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: cannot reach the VNFM"),
        "{stderr}"
    );
    // A bad command line.
    let (code, _, _) = run(tacker(&home).args(["vnf", "scale"]));
    assert_eq!(code, 64);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_package_directory_is_uploaded_as_a_zip_and_followed_to_onboarded() {
    let (base, fake) = start();
    let home = scratch("package");
    let (code, stdout, stderr) = tacker_at(
        &base,
        &home,
        &[
            "package",
            "create",
            "--user-data",
            "owner=ops",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("JSON");
    let id = created["id"].as_str().expect("id");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf");
    let sample = sample.to_string_lossy().into_owned();
    let (code, stdout, stderr) =
        tacker_at(&base, &home, &["package", "upload", id, &sample, "--wait"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ONBOARDED"), "{stdout}");
    assert!(
        stderr.contains(&format!("package {id} onboarding: ONBOARDED")),
        "{stderr}"
    );
    let requests = seen(&fake);
    let create = &requests[0];
    assert_eq!(create.path, "/vnfpkgm/v2/vnf_packages");
    assert_eq!(create.json(), json!({"userDefinedData": {"owner": "ops"}}));
    let put = requests.iter().find(|r| r.method == "PUT").expect("PUT");
    assert_eq!(put.path, "/vnfpkgm/v2/vnf_packages/pkg1/package_content");
    assert!(
        requests
            .iter()
            .all(|r| r.version.as_deref() == Some("2.4.0"))
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn the_config_file_supplies_endpoint_and_token_and_vims_speak_1_0_0() {
    let (base, fake) = start();
    let home = scratch("config");
    let config_dir = home.join("tacker");
    std::fs::create_dir_all(&config_dir).expect("mkdir");
    std::fs::write(
        config_dir.join("config.yaml"),
        format!("endpoint: {base}\ntoken: tok-123\n"),
    )
    .expect("config");
    let (code, stdout, stderr) = run(tacker(&home).args([
        "vim",
        "register",
        "--name",
        "site-a",
        "--type",
        "ETSINFV.OPENSTACK_KEYSTONE.V_3",
        "--vim-endpoint",
        "http://keystone:5000/v3",
        "--access",
        "username=nfv",
        "--access",
        "password=pw",
        "--default",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("vim1") && stdout.contains("site-a"),
        "{stdout}"
    );
    assert!(!stdout.contains("pw"));
    let requests = seen(&fake);
    assert_eq!(requests.len(), 1);
    let post = &requests[0];
    assert_eq!(post.path, "/vims");
    assert_eq!(post.version.as_deref(), Some("1.0.0"));
    assert_eq!(post.authorization.as_deref(), Some(BEARER));
    assert_eq!(
        post.json(),
        json!({
            "name": "site-a",
            "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3",
            "isDefault": true,
            "interfaceInfo": {"endpoint": "http://keystone:5000/v3"},
            "accessInfo": {"username": "nfv", "password": "pw"},
        })
    );
    let _ = std::fs::remove_dir_all(&home);
}
