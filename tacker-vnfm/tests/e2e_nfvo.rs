//! `vnfm --nfvo-url`: the server's operations are granted by an NFVO over HTTP (the test
//! NFVO of `tacker-api/tests/nfvo`, which validates every GrantRequest against the ETSI
//! schema): an approved instantiation links the NFVO's grant, a refused one is rolled
//! back with the NFVO's reason.

mod common;
#[allow(dead_code)]
#[path = "../../tacker-core/tests/etsi/harness.rs"]
mod harness;
#[path = "../../tacker-api/tests/nfvo/mod.rs"]
mod nfvo;

use std::path::Path;

use axum::http::StatusCode;
use serde_json::json;

use common::{Client, Server, temp_dir};
use nfvo::{Scenario, TestNfvo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nfvo_grants_the_servers_operations() {
    let nfvo = TestNfvo::start(Scenario::Sync).await;
    let server = Server::start(&temp_dir("nfvo-e2e"), &["--nfvo-url", &nfvo.url]);
    let client = Client::new(&server.url);
    let package = client
        .onboard(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf"))
        .await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    let create = || async {
        let created = client
            .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": vnfd_id}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        created.body["id"].as_str().expect("id").to_owned()
    };

    let id = create().await;
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
            json!({"flavourId": "simple"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let grant_id = op["grantId"].as_str().expect("grantId");
    assert_eq!(
        op["_links"]["grant"]["href"],
        format!("{}/grant/v1/grants/{grant_id}", nfvo.url)
    );
    let requests = nfvo.grant_requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].schema_errors.is_empty(),
        "{:?}",
        requests[0].schema_errors
    );
    assert_eq!(requests[0].body["vnfInstanceId"], id.as_str());
    assert_eq!(requests[0].body["operation"], "INSTANTIATE");

    nfvo.set_scenario(Scenario::Refuse {
        detail: "the tenant's quota of VNFCs is used up".into(),
    });
    let id = create().await;
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
            json!({"flavourId": "simple"}),
        )
        .await;
    assert_eq!(op["operationState"], "ROLLED_BACK", "{op:#}");
    assert_eq!(op["error"]["status"], 403);
    assert!(
        op["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("quota of VNFCs is used up")),
        "{op:#}"
    );
}
