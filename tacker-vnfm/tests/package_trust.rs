//! `vnfm --package-trust-ca … --package-signatures …`: SOL004 signatures checked at
//! onboarding through the REST API, with a per-tenant policy.

mod common;
#[allow(dead_code)]
#[path = "../../tacker-core/tests/signing/mod.rs"]
mod signing;

use axum::http::StatusCode;
use serde_json::json;

use common::{Client, Server, temp_dir};
use signing::{Ca, Package, Scratch};

/// Uploads a package directory; returns the PUT's status and the package afterwards.
async fn upload(client: &Client, dir: &std::path::Path) -> (StatusCode, serde_json::Value) {
    let created = client.post("/vnfpkgm/v2/vnf_packages", json!({})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let zip = tacker_vnfm::zip_package_dir(dir).expect("zip");
    let uploaded = client
        .send(
            reqwest::Method::PUT,
            &format!("/vnfpkgm/v2/vnf_packages/{id}/package_content"),
            Some(("application/zip", zip)),
        )
        .await;
    let package = client.get(&format!("/vnfpkgm/v2/vnf_packages/{id}")).await;
    (uploaded.status, package.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_onboards_signed_packages_and_refuses_unsigned_and_untrusted_ones() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "operator-ca");
    let signer = ca.issue("vendor-signer", true, None, "signer");
    let signed = Package::new(&scratch.0, "signed");
    signed.sign(&signer, false);
    let rogue = Package::new(&scratch.0, "rogue");
    rogue.sign(
        &Ca::new(&scratch.0, "rogue-ca").issue("rogue", false, None, "signer"),
        false,
    );
    let unsigned = Package::new(&scratch.0, "unsigned");
    unsigned.write("manifest.mf", unsigned.manifest_body(""));
    unsigned.write("Files/Certificates/signer.cert", signer.pem());

    let bundle = scratch.0.join("operator-ca.pem");
    let server = Server::start(
        &temp_dir("package-trust"),
        &[
            "--package-trust-ca",
            bundle.to_str().expect("utf-8"),
            "--package-signatures",
            "require",
        ],
    );
    let client = Client::new(&server.url);

    let (status, package) = upload(&client, &signed.root).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{package:#}");
    assert_eq!(package["onboardingState"], "ONBOARDED", "{package:#}");
    assert_eq!(package["packageSecurityOption"], "OPTION_1", "{package:#}");
    assert_eq!(package["signingCertificate"], signer.pem().as_str());

    for (dir, reason) in [
        (&rogue.root, "not issued by a trusted CA"),
        (&unsigned.root, "the package is not signed"),
    ] {
        let (status, package) = upload(&client, dir).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{package:#}");
        assert_eq!(package["onboardingState"], "CREATED", "{package:#}");
        let detail = package["onboardingFailureDetails"]["detail"]
            .as_str()
            .expect("failure details");
        assert!(detail.contains("manifest.mf"), "{detail}");
        assert!(detail.contains(reason), "{detail}");
    }
    drop(server);

    // The same server with the default tenant relaxed to if-present: the unsigned
    // package onboards, the rogue one is still refused.
    let server = Server::start(
        &temp_dir("package-trust-tenant"),
        &[
            "--package-trust-ca",
            bundle.to_str().expect("utf-8"),
            "--package-signatures",
            "require",
            "--package-signatures-tenant",
            "default=if-present",
        ],
    );
    let client = Client::new(&server.url);
    let (status, package) = upload(&client, &unsigned.root).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{package:#}");
    assert!(
        package.get("packageSecurityOption").is_none(),
        "{package:#}"
    );
    let (status, _) = upload(&client, &rogue.root).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn a_bad_policy_or_ca_bundle_stops_the_server_with_the_reason() {
    let scratch = Scratch::new();
    let junk = scratch.0.join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("junk");
    for (args, expected) in [
        (
            vec!["--package-signatures", "sometimes"],
            "unknown signature policy 'sometimes'",
        ),
        (
            vec!["--package-trust-ca", junk.to_str().expect("utf-8")],
            "no certificate",
        ),
        (
            vec!["--package-signatures-tenant", "=require"],
            "names no tenant",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_vnfm"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(temp_dir("package-trust-bad"))
            .args(&args)
            .output()
            .expect("vnfm runs");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
