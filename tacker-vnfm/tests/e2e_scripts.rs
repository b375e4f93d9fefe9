//! A Tacker v2 package whose hooks are bound to its Python `sample-script`, through the
//! REST API of the `vnfm` server on the simulated VIM: refused at instantiate without
//! a driver for its hooks (naming the hook, artifact and file); with
//! `--script-mgmt-driver sample-script` its real script (from Tacker's published
//! source distribution, `TACKER_TEST_USERDATA_SAMPLES`) runs in the sandbox in every
//! hook; a change of `vnfConfigurableProperties` goes through its
//! `modify_information_start` hook and the instance says when it was applied.
//!
//! Skipped without the samples or bubblewrap, except under `CI=true`.

mod common;

use std::path::PathBuf;

use axum::http::StatusCode;
use serde_json::json;

use common::{Client, Server, assert_problem, temp_dir};

fn sample() -> Option<PathBuf> {
    let Some(samples) = std::env::var("TACKER_TEST_USERDATA_SAMPLES")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but TACKER_TEST_USERDATA_SAMPLES is not set (.ci/run sets it)"
        );
        eprintln!("skipped: TACKER_TEST_USERDATA_SAMPLES is not set");
        return None;
    };
    Some(PathBuf::from(samples).join("basic_lcms_min_individual_vnfc"))
}

fn bwrap_available() -> bool {
    let found = std::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but bubblewrap is missing (.ci/run installs it)"
        );
        eprintln!("skipped: bubblewrap is missing");
    }
    found
}

/// Onboards the package and creates an instance of it.
async fn onboarded_instance(client: &Client, package: &std::path::Path) -> String {
    let vnfd_id = client.onboard(package).await["vnfdId"]
        .as_str()
        .expect("vnfdId")
        .to_owned();
    let created = client
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": vnfd_id}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tacker_package_runs_its_scripts_through_the_rest_api() {
    let Some(package) = sample() else {
        return;
    };
    if !bwrap_available() {
        return;
    }

    // Without a driver for its hooks the package cannot be instantiated.
    let bare = Server::start(&temp_dir("scripts-bare"), &[]);
    let client = Client::new(&bare.url);
    let id = onboarded_instance(&client, &package).await;
    let refused = client
        .post(
            &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
            json!({"flavourId": "simple"}),
        )
        .await;
    // SOL003 answers a task resource's unprocessable request with 400.
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        refused.body
    );
    assert_problem(&refused, "instantiate without a driver for the hooks");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("instantiate_start to artifact 'sample-script' (Scripts/sample_script.py)")
            && detail.contains("terminate_end"),
        "{detail}"
    );
    drop(bare);

    let server = Server::start(
        &temp_dir("scripts"),
        &[
            "--script-mgmt-driver",
            "sample-script",
            "--script-timeout",
            "60",
        ],
    );
    let client = Client::new(&server.url);
    let id = onboarded_instance(&client, &package).await;
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
            json!({"flavourId": "simple"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");

    let changed = client
        .patch(
            &format!("/vnflcm/v2/vnf_instances/{id}"),
            json!({"vnfConfigurableProperties": {"isAutohealEnabled": false, "dnsServer": "10.0.0.53"}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::ACCEPTED, "{:?}", changed.body);
    let op = client.wait_for_op(&changed.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{id}"))
        .await
        .body;
    assert_eq!(
        instance["vnfConfigurableProperties"]["dnsServer"],
        "10.0.0.53"
    );
    let state = &instance["metadata"]["vnfConfigurationState"];
    assert_eq!(state["applied"], true, "{instance:#}");
    assert_eq!(state["hooks"], json!(["modify_information_start"]));
    assert_eq!(state["vnfLcmOpOccId"], op["id"]);
    assert!(
        state["appliedAt"].as_str().is_some_and(|t| t.len() >= 20),
        "{state}"
    );
    assert_eq!(
        state["properties"],
        json!(["dnsServer", "isAutohealEnabled"])
    );

    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{id}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
}
