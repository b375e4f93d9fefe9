//! The embedded simulated VIM keeps its resources in the store: `vnfm` restarted
//! between instantiate and scale, heal and terminate on SQLite carries on, and two
//! `vnfm` processes on one PostgreSQL database operate the same instance.
//!
//! The PostgreSQL test needs `TACKER_TEST_POSTGRES` (a server URL such as
//! `postgres://postgres@127.0.0.1:5432`; the test creates its own database and drops
//! it); without it, it says "skipped", except under `CI=true`, where that is a failure.

mod common;

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use common::{Client, Server, corpus_package, temp_dir};
use serde_json::{Value, json};

/// The number of VNFCs an instance records.
fn vnfcs(instance: &Value) -> usize {
    instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default()
}

/// Creates an instance of the package and instantiates it; returns its path.
async fn instantiated(api: &Client, vnfd_id: &str, name: &str) -> String {
    let created = api
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": vnfd_id, "vnfInstanceName": name}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let path = format!("/vnflcm/v2/vnf_instances/{id}");
    run(
        api,
        &format!("{path}/instantiate"),
        json!({"flavourId": "simple"}),
    )
    .await;
    path
}

/// Submits an operation and asserts that it completes.
async fn run(api: &Client, path: &str, body: Value) {
    let op = api.run_op(path, body).await;
    assert_eq!(
        op["operationState"], "COMPLETED",
        "{path} (the simulated VIM must still know the instance): {op:#}"
    );
}

async fn scale_out(api: &Client, instance: &str) {
    let before = vnfcs(&api.get(instance).await.body);
    run(
        api,
        &format!("{instance}/scale"),
        json!({"type": "SCALE_OUT", "aspectId": "vdu1_aspect", "numberOfSteps": 1}),
    )
    .await;
    assert_eq!(vnfcs(&api.get(instance).await.body), before + 1);
}

async fn heal_first_vnfc(api: &Client, instance: &str) {
    let before = api.get(instance).await.body;
    let vnfc = &before["instantiatedVnfInfo"]["vnfcResourceInfo"][0];
    let vnfc_id = vnfc["id"].as_str().expect("a VNFC").to_owned();
    let old = vnfc["computeResource"]["resourceId"].clone();
    run(
        api,
        &format!("{instance}/heal"),
        json!({"vnfcInstanceId": [vnfc_id], "cause": "durable sim"}),
    )
    .await;
    let after = api.get(instance).await.body;
    let healed = after["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["id"] == vnfc_id.as_str()))
        .expect("the healed VNFC");
    assert_ne!(healed["computeResource"]["resourceId"], old, "a new server");
}

async fn terminate(api: &Client, instance: &str) {
    run(
        api,
        &format!("{instance}/terminate"),
        json!({"terminationType": "FORCEFUL"}),
    )
    .await;
    let after = api.get(instance).await.body;
    assert_eq!(after["instantiationState"], "NOT_INSTANTIATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_still_operates_what_it_instantiated() {
    let Some(package_dir) = corpus_package("v1-cnf-scale") else {
        return;
    };
    let data = temp_dir("sim-restart");
    let server = Server::start(&data, &[]);
    let api = Client::new(&server.url);
    let package = api.onboard(&package_dir).await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    let instance = instantiated(&api, &vnfd_id, "restarted").await;

    let restart = |server: Server| {
        assert!(server.terminate(), "vnfm stops cleanly");
        Server::start(&data, &[])
    };
    let server = restart(server);
    let api = Client::new(&server.url);
    scale_out(&api, &instance).await;

    let server = restart(server);
    let api = Client::new(&server.url);
    heal_first_vnfc(&api, &instance).await;

    // A crash, not a clean stop, before the last operation.
    server.kill();
    let server = Server::start(&data, &[]);
    let api = Client::new(&server.url);
    terminate(&api, &instance).await;
    assert!(server.terminate());
    let _ = std::fs::remove_dir_all(&data);
}

/// Pauses (SIGSTOP) or resumes (SIGCONT) a server, so that only the other one's
/// executor runs the next operation.
fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.pid().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name}");
}

fn start_on(data: &Path, database_url: &str) -> Server {
    Server::start(data, &["--database-url", database_url])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql_operate_the_same_instance() {
    let Some(package_dir) = corpus_package("v1-cnf-scale") else {
        return;
    };
    let Some(database) = tacker_store::testkit::TestDatabase::create().await else {
        return;
    };
    // One data directory (package files, sealing key) and one database for both.
    let data = temp_dir("sim-shared");
    let a = start_on(&data, &database.url);
    let api_a = Client::new(&a.url);
    let package = api_a.onboard(&package_dir).await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    // Only A runs: A's executor instantiates.
    let instance = instantiated(&api_a, &vnfd_id, "shared").await;

    let b = start_on(&data, &database.url);
    let api_b = Client::new(&b.url);
    // Only B's executor runs: B scales out what A instantiated.
    signal(&a, "STOP");
    scale_out(&api_b, &instance).await;
    // Only A's: A heals what B scaled (it must see B's new VNFC, not its own old view).
    signal(&a, "CONT");
    signal(&b, "STOP");
    heal_first_vnfc(&api_a, &instance).await;
    scale_out(&api_a, &instance).await;
    // Only B's again: B terminates all of it.
    signal(&b, "CONT");
    signal(&a, "STOP");
    terminate(&api_b, &instance).await;
    signal(&a, "CONT");

    // Both still serve the instance as terminated.
    let seen = api_a.get(&instance).await.body;
    assert_eq!(seen["instantiationState"], "NOT_INSTANTIATED");
    assert!(a.terminate());
    assert!(b.terminate());
    database.drop_database().await;
    let _ = std::fs::remove_dir_all(&data);
}
