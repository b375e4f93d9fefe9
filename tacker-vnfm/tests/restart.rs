//! A `vnfm` server on SQLite killed with SIGKILL while operations run restarts on the
//! same data directory and loses no accepted operation or notification.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Client, Receiver, Server, corpus_package, temp_dir};
use serde_json::json;

const INSTANCES: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarts_without_losing_operations_or_notifications() {
    let Some(package_dir) = corpus_package("v1-cnf-scale") else {
        return;
    };
    let data = temp_dir("restart");
    let args = ["--sim-latency-ms", "1500", "--op-lease-ttl", "2"];
    let receiver = Receiver::start().await;
    let server = Server::start(&data, &args);
    let api = Client::new(&server.url);
    let subscribed = api
        .post(
            "/vnflcm/v2/subscriptions",
            json!({"callbackUri": receiver.callback}),
        )
        .await;
    assert_eq!(
        subscribed.status,
        StatusCode::CREATED,
        "{:?}",
        subscribed.body
    );
    let package = api.onboard(&package_dir).await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();

    let mut ops = Vec::new();
    for n in 0..INSTANCES {
        let created = api
            .post(
                "/vnflcm/v2/vnf_instances",
                json!({"vnfdId": vnfd_id, "vnfInstanceName": format!("r{n}")}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().expect("id").to_owned();
        let accepted = api
            .post(
                &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
                json!({"flavourId": "simple"}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
        let location = accepted.location();
        let op_id = location.rsplit('/').next().expect("op id").to_owned();
        ops.push(op_id);
    }
    // Kill the server while the operations are under way.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = api
        .get("/vnflcm/v2/vnf_lcm_op_occs?filter=(in,operationState,STARTING,PROCESSING)")
        .await;
    assert!(
        running.body.as_array().is_some_and(|ops| !ops.is_empty()),
        "operations are under way when the server is killed"
    );
    server.kill();

    let server = Server::start(&data, &args);
    let api = Client::new(&server.url);
    for op_id in &ops {
        let path = format!("/vnflcm/v2/vnf_lcm_op_occs/{op_id}");
        let mut op = api.wait_for_op(&path).await;
        if op["operationState"] == "FAILED_TEMP" {
            // Killed in the middle of a step: the operator (here the test) retries it.
            let retried = api.post(&format!("{path}/retry"), json!({})).await;
            assert_eq!(retried.status, StatusCode::ACCEPTED, "{:?}", retried.body);
            op = api.wait_for_op(&path).await;
        }
        assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    }
    let instances = api
        .get("/vnflcm/v2/vnf_instances?filter=(eq,instantiationState,INSTANTIATED)")
        .await;
    assert_eq!(instances.body.as_array().map(Vec::len), Some(INSTANCES));

    // Every accepted operation's STARTING and COMPLETED notifications were delivered,
    // whichever process queued them.
    let wanted: BTreeSet<String> = ops.iter().cloned().collect();
    let notified = |state: &str, all: &[serde_json::Value]| -> BTreeSet<String> {
        all.iter()
            .filter(|n| n["operationState"] == state)
            .filter_map(|n| n["vnfLcmOpOccId"].as_str().map(str::to_owned))
            .collect()
    };
    let all = receiver
        .wait_until("a COMPLETED notification of every operation", |all| {
            notified("COMPLETED", all).is_superset(&wanted)
        })
        .await;
    assert!(notified("STARTING", &all).is_superset(&wanted));
    assert!(server.terminate());
    let _ = std::fs::remove_dir_all(&data);
}
