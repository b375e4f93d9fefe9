//! End to end over HTTP: the `vnfm` binary on a temporary data directory, a corpus
//! package uploaded, a VNF instantiated on the simulated VIM, scaled out and in, healed,
//! stopped, terminated and deleted, every notification received by a local HTTP server,
//! and every error answer ProblemDetails.

mod common;

use axum::http::StatusCode;
use common::{Client, Receiver, Server, assert_problem, corpus_package, temp_dir};
use serde_json::{Value, json};

fn count(notifications: &[Value], kind: &str, operation: &str, state: &str) -> usize {
    notifications
        .iter()
        .filter(|n| {
            n["notificationType"] == kind
                && n["operation"] == operation
                && n["operationState"] == state
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_lives_its_whole_life_over_http() {
    let Some(package_dir) = corpus_package("v1-cnf-scale") else {
        return;
    };
    let data = temp_dir("e2e-http");
    let server = Server::start(&data, &[]);
    let api = Client::new(&server.url);
    let receiver = Receiver::start().await;

    // SOL013 basics.
    let versions = api.get("/vnflcm/v2/api_versions").await;
    assert_eq!(versions.status, StatusCode::OK);
    assert_eq!(versions.body["apiVersions"][0]["version"], "2.3.0");
    let no_version = common::plain_get(&format!("{}/vnflcm/v2/vnf_instances", server.url)).await;
    assert_eq!(no_version.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        no_version
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );

    let subscription = api
        .post(
            "/vnflcm/v2/subscriptions",
            json!({"callbackUri": receiver.callback}),
        )
        .await;
    assert_eq!(
        subscription.status,
        StatusCode::CREATED,
        "{:?}",
        subscription.body
    );
    assert!(
        subscription
            .location()
            .ends_with(subscription.body["id"].as_str().expect("subscription id"))
    );

    // A corpus package (a CNF whose Deployment VDU scales by vdu1_aspect).
    let package = api.onboard(&package_dir).await;
    assert_eq!(package["operationalState"], "ENABLED");
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();

    // Bad input is refused before it reaches the engine, naming the field.
    let bad = api
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": 42}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("vnfdId")),
        "{:?}",
        bad.body
    );

    let created = api
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": vnfd_id, "vnfInstanceName": "e2e"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let instance_path = format!("/vnflcm/v2/vnf_instances/{id}");
    assert_eq!(created.location(), format!("{}{instance_path}", server.url));
    assert_eq!(
        created.body["_links"]["self"]["href"],
        format!("{}{instance_path}", server.url),
        "absolute links"
    );

    // Instantiate.
    let accepted = api
        .post(
            &format!("{instance_path}/instantiate"),
            json!({"flavourId": "simple", "instantiationLevelId": "instantiation_level_1"}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");

    // A second instantiation is a conflict.
    let again = api
        .post(
            &format!("{instance_path}/instantiate"),
            json!({"flavourId": "simple"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let vnfcs = |instance: &Value| {
        instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default()
    };
    let instance = api.get(&instance_path).await.body;
    assert_eq!(instance["instantiationState"], "INSTANTIATED");
    let before = vnfcs(&instance);
    assert!(before >= 1, "{instance:#}");

    // Scale out and in.
    for (direction, expected) in [("SCALE_OUT", before + 1), ("SCALE_IN", before)] {
        let accepted = api
            .post(
                &format!("{instance_path}/scale"),
                json!({"type": direction, "aspectId": "vdu1_aspect", "numberOfSteps": 1}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
        let op = api.wait_for_op(&accepted.location()).await;
        assert_eq!(op["operationState"], "COMPLETED", "{direction}: {op:#}");
        let instance = api.get(&instance_path).await.body;
        assert_eq!(vnfcs(&instance), expected, "{direction}");
    }

    // A scale beyond the aspect's levels is refused up front: 400, as SOL003 documents
    // no 422 for the tasks.
    let too_far = api
        .post(
            &format!("{instance_path}/scale"),
            json!({"type": "SCALE_IN", "aspectId": "vdu1_aspect", "numberOfSteps": 5}),
        )
        .await;
    assert_eq!(too_far.status, StatusCode::BAD_REQUEST);

    // Heal one VNFC; stop the VNF.
    let instance = api.get(&instance_path).await.body;
    let vnfc = instance["instantiatedVnfInfo"]["vnfcResourceInfo"][0]["id"]
        .as_str()
        .expect("a VNFC")
        .to_owned();
    let accepted = api
        .post(
            &format!("{instance_path}/heal"),
            json!({"vnfcInstanceId": [vnfc], "cause": "e2e"}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");

    let accepted = api
        .post(
            &format!("{instance_path}/operate"),
            json!({"changeStateTo": "STOPPED", "stopType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let instance = api.get(&instance_path).await.body;
    assert_eq!(instance["instantiatedVnfInfo"]["vnfState"], "STOPPED");

    // Lists: filters, selectors.
    let list = api
        .get("/vnflcm/v2/vnf_instances?filter=(eq,instantiationState,INSTANTIATED)")
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body.as_array().expect("an array");
    assert_eq!(items.len(), 1);
    assert!(
        items[0].get("instantiatedVnfInfo").is_none(),
        "complex attributes are excluded by default"
    );
    let full = api.get("/vnflcm/v2/vnf_instances?all_fields").await;
    assert!(full.body[0].get("instantiatedVnfInfo").is_some());
    // A default list (served from the summaries the store keeps) is the full list less
    // the complex attributes, item by item, for every resource that has them.
    for (list, complex) in [
        (
            "/vnflcm/v2/vnf_instances",
            tacker_core::store::VNF_INSTANCE_COMPLEX,
        ),
        (
            "/vnflcm/v2/vnf_lcm_op_occs",
            tacker_core::store::VNF_LCM_OP_OCC_COMPLEX,
        ),
        (
            "/vnfpkgm/v2/vnf_packages",
            tacker_core::store::VNF_PKG_INFO_COMPLEX,
        ),
        (
            "/vnfpkgm/v1/vnf_packages",
            &[
                "softwareImages",
                "additionalArtifacts",
                "userDefinedData",
                "checksum",
            ],
        ),
    ] {
        let brief = api.get(list).await;
        assert_eq!(brief.status, StatusCode::OK, "{list}: {:?}", brief.body);
        let mut expected = api.get(&format!("{list}?all_fields")).await.body;
        for item in expected.as_array_mut().expect("an array") {
            let item = item.as_object_mut().expect("an object");
            for name in complex {
                item.remove(*name);
            }
        }
        assert!(expected.as_array().is_some_and(|a| !a.is_empty()), "{list}");
        assert_eq!(brief.body, expected, "{list}");
    }
    let ops = api
        .get(&format!(
            "/vnflcm/v2/vnf_lcm_op_occs?filter=(eq,vnfInstanceId,{id});(in,operation,SCALE,HEAL)"
        ))
        .await;
    assert_eq!(ops.body.as_array().map(Vec::len), Some(3));
    let bad_filter = api
        .get("/vnflcm/v2/vnf_instances?filter=(eq,instantiationState")
        .await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);

    // Terminate and delete.
    let accepted = api
        .post(
            &format!("{instance_path}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let deleted = api.delete(&instance_path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api.get(&instance_path).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_problem(&gone, "GET of a deleted instance");

    // Every notification arrived.
    let all = receiver
        .wait_until("the deletion notification", |all| {
            all.iter()
                .any(|n| n["notificationType"] == "VnfIdentifierDeletionNotification")
        })
        .await;
    let occurrence = "VnfLcmOperationOccurrenceNotification";
    for operation in ["INSTANTIATE", "HEAL", "OPERATE", "TERMINATE"] {
        for state in ["STARTING", "PROCESSING", "COMPLETED"] {
            assert_eq!(
                count(&all, occurrence, operation, state),
                1,
                "{operation} {state}: {all:#?}"
            );
        }
    }
    assert_eq!(count(&all, occurrence, "SCALE", "COMPLETED"), 2);
    assert_eq!(
        all.iter()
            .filter(|n| n["notificationType"] == "VnfIdentifierCreationNotification")
            .count(),
        1
    );

    // Metrics saw the operations.
    let metrics = common::plain_get(&format!("{}/metrics", server.url))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "tacker_lcm_operation_duration_seconds_count{operation=\"INSTANTIATE\",state=\"COMPLETED\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("tacker_notification_outbox_depth"));

    assert!(server.terminate(), "vnfm exits cleanly on SIGTERM");
    let _ = std::fs::remove_dir_all(&data);
}
