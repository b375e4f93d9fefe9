//! `vnfm --nfvo-url`: the server's operations are granted by an NFVO over HTTP (the test
//! NFVO of `tacker-api/tests/nfvo`, which validates every GrantRequest against the ETSI
//! schema): an approved instantiation links the NFVO's grant, a refused one is rolled
//! back with the NFVO's reason. Packages the VNFM has not onboarded come from the NFVO
//! (SOL003 VNF package management), verified like an upload, and follow the NFVO's
//! package notifications.

mod common;
#[allow(dead_code)]
#[path = "../../tacker-core/tests/etsi/harness.rs"]
mod harness;
#[path = "../../tacker-api/tests/nfvo/mod.rs"]
mod nfvo;
#[allow(dead_code)]
#[path = "../../tacker-core/tests/signing/mod.rs"]
mod signing;

use std::path::Path;
use std::time::{Duration, Instant};

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

/// The sample package under another vnfdId, with a manifest of its files' digests.
fn sample_as(scratch: &Path, vnfd_id: &str) -> signing::Package {
    let package = signing::Package::new(scratch, vnfd_id);
    let top = package.root.join("Definitions/sample_vnf_top.yaml");
    let text = std::fs::read_to_string(&top).expect("top");
    std::fs::write(
        &top,
        text.replace("7f3c2c1a-5d59-4e0c-9b6e-2f0f6f1d0a01", vnfd_id),
    )
    .expect("top");
    let meta = package.root.join("TOSCA-Metadata/TOSCA.meta");
    let text = std::fs::read_to_string(&meta).expect("meta");
    std::fs::write(
        &meta,
        text.replace(
            "ETSI-Entry-Certificate: Files/Certificates/signer.cert\n",
            "",
        ),
    )
    .expect("meta");
    package.write("manifest.mf", package.manifest_body(""));
    package
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_known_only_to_the_nfvo_are_fetched_verified_and_follow_its_notifications() {
    let scratch = signing::Scratch::new();
    let nfvo = TestNfvo::start(Scenario::Sync).await;
    let good = sample_as(&scratch.0, "0a6e3b52-0001-4c1e-9a55-6f3bd0a7e001");
    let good_zip = tacker_vnfm::zip_package_dir(&good.root).expect("zip");
    let offered = nfvo.offer_package(good_zip.clone());
    let vnfd_id = offered["vnfdId"].as_str().expect("vnfdId").to_owned();

    let server = Server::start(&temp_dir("nfvo-packages"), &["--nfvo-url", &nfvo.url]);
    let client = Client::new(&server.url);
    wait_for("the package subscription", async || {
        !nfvo.package_subscriptions().is_empty()
    })
    .await;
    let subscription = nfvo
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/vnfpkgm/v2/subscriptions"))
        .expect("a subscription request");
    assert!(
        subscription.schema_errors.is_empty(),
        "{:?}",
        subscription.schema_errors
    );
    assert_eq!(subscription.version.as_deref(), Some("2.1.0"));

    // An instance of a vnfdId only the NFVO has: the package is fetched and onboarded.
    let created = client
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": vnfd_id}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let packages = client.get("/vnfpkgm/v2/vnf_packages?all_fields").await;
    let copies: Vec<&serde_json::Value> = packages.body.as_array().expect("list").iter().collect();
    assert_eq!(copies.len(), 1, "{:#}", packages.body);
    assert_eq!(copies[0]["vnfdId"], vnfd_id.as_str());
    assert_eq!(copies[0]["onboardingState"], "ONBOARDED");
    assert_eq!(copies[0]["userDefinedData"]["nfvoVnfPkgId"], offered["id"]);
    let fetches = nfvo
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/package_content"))
        .count();
    assert_eq!(fetches, 1);
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
            json!({"flavourId": "simple"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");

    // A second instance uses the cached copy.
    let again = client
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": vnfd_id}))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    let fetches_after = nfvo
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/package_content"))
        .count();
    assert_eq!(fetches_after, 1, "the copy is the cache");

    // Tampered on the way: the content differs from the NFVO's checksum.
    let changed = sample_as(&scratch.0, "0a6e3b52-0002-4c1e-9a55-6f3bd0a7e002");
    let changed_zip = tacker_vnfm::zip_package_dir(&changed.root).expect("zip");
    let changed_info = nfvo.offer_package(changed_zip);
    let changed_id = changed_info["vnfdId"].as_str().expect("vnfdId").to_owned();
    let other = sample_as(&scratch.0, "0a6e3b52-0003-4c1e-9a55-6f3bd0a7e003");
    let df = other.root.join(signing::DF);
    let text = std::fs::read_to_string(&df).expect("df");
    std::fs::write(&df, format!("{text}\n# changed\n")).expect("df");
    nfvo.replace_content(
        &changed_id,
        tacker_vnfm::zip_package_dir(&other.root).expect("zip"),
    );
    let refused = client
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": changed_id}))
        .await;
    assert!(refused.status.is_client_error(), "{:?}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("does not match the NFVO's SHA-256 checksum")),
        "{:?}",
        refused.body
    );

    // Tampered at the source: a file differs from the package's own manifest (the
    // NFVO's checksum is of this very zip): the digest check refuses it.
    let tampered_info = nfvo.offer_package(tacker_vnfm::zip_package_dir(&other.root).expect("zip"));
    let tampered_id = tampered_info["vnfdId"].as_str().expect("vnfdId").to_owned();
    let refused = client
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": tampered_id}))
        .await;
    assert!(refused.status.is_client_error(), "{:?}", refused.body);
    let detail = refused.body["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("fetched from the NFVO is refused"),
        "{detail}"
    );
    assert!(detail.contains("hash mismatch"), "{detail}");
    assert!(detail.contains(signing::DF), "{detail}");
    let packages = client.get("/vnfpkgm/v2/vnf_packages").await;
    assert_eq!(
        packages.body.as_array().map(Vec::len),
        Some(1),
        "refused packages leave nothing behind: {:#}",
        packages.body
    );

    // The NFVO disables the package: the copy follows, and no new instance uses it.
    let package_state = async || {
        let packages = client.get("/vnfpkgm/v2/vnf_packages").await;
        packages.body[0]["operationalState"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(nfvo.change_package(&vnfd_id, Some(false)).await, vec![204]);
    wait_for("the copy to be disabled", async || {
        package_state().await == "DISABLED"
    })
    .await;
    let refused = client
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": vnfd_id}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(nfvo.change_package(&vnfd_id, Some(true)).await, vec![204]);
    wait_for("the copy to be enabled again", async || {
        package_state().await == "ENABLED"
    })
    .await;

    // The NFVO deletes it: the copy, still used by an instance, is disabled.
    assert_eq!(nfvo.change_package(&vnfd_id, None).await, vec![204]);
    wait_for("the copy to be disabled", async || {
        package_state().await == "DISABLED"
    })
    .await;
}
