//! The SOL005 package management API (`/vnfpkgm/v2` and `/vnfpkgm/v1`) over the
//! in-memory store: the whole life of a package, the errors, paging and the v1 shape.

mod support;

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use serde_json::{Value, json};
use tacker_api::ApiConfig;
use tacker_core::TenantId;
use tacker_core::model::CreateVnfPkgInfoRequest;
use tacker_core::package::VnfPackageManager;
use tower::ServiceExt;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

const V2: &str = "/vnfpkgm/v2";
const V1: &str = "/vnfpkgm/v1";
const ROOT: &str = "http://127.0.0.1:9890";
/// The sample package's VNFD id and its one artifact.
const SAMPLE_VNFD_ID: &str = "7f3c2c1a-5d59-4e0c-9b6e-2f0f6f1d0a01";
const SAMPLE_ARTIFACT: &str = "Scripts/README.txt";

struct Harness {
    router: Router,
    packages: VnfPackageManager,
}

fn harness_with(max_package_size: u64) -> Harness {
    let (router, packages) = support::api_with(
        ApiConfig::default(),
        tacker_core::package::PackageManagerConfig {
            max_package_size,
            ..Default::default()
        },
        None,
    );
    Harness { router, packages }
}

fn harness() -> Harness {
    harness_with(64 << 20)
}

/// One answer: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a `ProblemDetails` of `status` whose detail contains `needle`.
    fn problem(&self, status: StatusCode, needle: &str) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["status"], status.as_u16());
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(needle),
            "'{detail}' should mention '{needle}'"
        );
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A request with the v2 `Version` header and the headers given.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if uri.starts_with(V2)
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("version"))
        {
            builder = builder.header("Version", "2.4.0");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(body.into()).expect("a request"))
            .await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, &[], Body::empty()).await
    }

    async fn json(&self, method: Method, uri: &str, body: Value) -> Answer {
        self.call(
            method,
            uri,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    async fn create(&self, prefix: &str) -> String {
        let answer = self
            .json(
                Method::POST,
                &format!("{prefix}/vnf_packages"),
                json!({"userDefinedData": {"owner": "tests"}}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
        let id = answer.json()["id"].as_str().expect("an id").to_owned();
        assert_eq!(
            answer.header("location"),
            Some(format!("{ROOT}{prefix}/vnf_packages/{id}").as_str())
        );
        id
    }

    async fn upload(&self, prefix: &str, id: &str, zip: Bytes) -> Answer {
        self.call(
            Method::PUT,
            &format!("{prefix}/vnf_packages/{id}/package_content"),
            &[("content-type", "application/zip")],
            zip,
        )
        .await
    }

    async fn onboarded(&self, prefix: &str, zip: Bytes) -> String {
        let id = self.create(prefix).await;
        let answer = self.upload(prefix, &id, zip).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert!(answer.body.is_empty(), "202 has no body");
        id
    }
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf")
}

fn files_below(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the sample package")
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            files_below(root, &path, out);
        } else {
            let name = path
                .strip_prefix(root)
                .expect("below the root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((name, std::fs::read(&path).expect("a sample file")));
        }
    }
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Bytes {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(name.as_str(), SimpleFileOptions::default())
            .expect("start a zip entry");
        writer.write_all(content).expect("write a zip entry");
    }
    Bytes::from(writer.finish().expect("finish the zip").into_inner())
}

/// `examples/packages/sample-vnf` zipped: a three-file VNFD and one artifact.
fn sample_zip() -> Bytes {
    let root = sample_dir();
    let mut files = Vec::new();
    files_below(&root, &root, &mut files);
    zip_of(&files)
}

const SINGLE_VNFD: &str = r"tosca_definitions_version: tosca_simple_yaml_1_3
description: A VNF described by one file
node_types:
  tosca.nodes.nfv.VNF:
    derived_from: tosca.nodes.Root
    properties:
      descriptor_id: { type: string }
      descriptor_version: { type: string }
      provider: { type: string }
      product_name: { type: string }
      software_version: { type: string }
      vnfm_info: { type: list, entry_schema: { type: string } }
      flavour_id: { type: string }
      flavour_description: { type: string, default: '' }
  tosca.nodes.nfv.Vdu.Compute:
    derived_from: tosca.nodes.Root
  example.OneFileVnf:
    derived_from: tosca.nodes.nfv.VNF
topology_template:
  substitution_mappings:
    node_type: example.OneFileVnf
    properties:
      flavour_id: simple
  node_templates:
    VNF:
      type: example.OneFileVnf
      properties:
        descriptor_id: 5d0c2a8e-1111-4000-8000-000000000001
        descriptor_version: '1.0'
        provider: Example Networks
        product_name: One File VNF
        software_version: '1.0'
        vnfm_info: [ tacker ]
        flavour_id: simple
        flavour_description: The only flavour
    VDU1:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        name: vdu1
        description: The only VDU
        vdu_profile:
          min_number_of_instances: 1
          max_number_of_instances: 1
      capabilities:
        virtual_compute:
          properties:
            virtual_cpu:
              num_virtual_cpu: 1
            virtual_memory:
              virtual_mem_size: 512 MB
";

/// A package whose VNFD is a single file.
fn single_file_zip() -> Bytes {
    zip_of(&[
        (
            "TOSCA-Metadata/TOSCA.meta".to_owned(),
            b"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: tests\nEntry-Definitions: Definitions/vnfd.yaml\n".to_vec(),
        ),
        (
            "Definitions/vnfd.yaml".to_owned(),
            SINGLE_VNFD.as_bytes().to_vec(),
        ),
    ])
}

fn zip_names(bytes: &[u8]) -> Vec<String> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("a zip");
    archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect::<Vec<_>>()
}

fn zip_entry(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("a zip");
    let mut entry = archive.by_name(name).expect("the entry");
    let mut content = Vec::new();
    entry.read_to_end(&mut content).expect("read the entry");
    content
}

#[tokio::test]
async fn a_package_lives_from_creation_to_deletion() {
    let h = harness();
    let versions = h.get(&format!("{V2}/api_versions")).await;
    assert_eq!(versions.status, StatusCode::OK);
    assert_eq!(versions.json()["apiVersions"][0]["version"], "2.4.0");
    assert_eq!(versions.header("version"), Some("2.4.0"));

    // Create.
    let created = h
        .json(
            Method::POST,
            &format!("{V2}/vnf_packages"),
            json!({"userDefinedData": {"owner": "tests"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let info = created.json();
    let id = info["id"].as_str().expect("id").to_owned();
    assert_eq!(info["onboardingState"], "CREATED");
    assert_eq!(info["operationalState"], "DISABLED");
    assert_eq!(info["userDefinedData"]["owner"], "tests");
    assert_eq!(
        info["_links"]["self"]["href"],
        format!("{ROOT}{V2}/vnf_packages/{id}")
    );
    let package = format!("{V2}/vnf_packages/{id}");

    // Nothing to read before the upload.
    h.get(&format!("{package}/package_content"))
        .await
        .problem(StatusCode::CONFLICT, &id);
    h.call(
        Method::GET,
        &format!("{package}/vnfd"),
        &[("accept", "application/zip")],
        Body::empty(),
    )
    .await
    .problem(StatusCode::CONFLICT, "not ONBOARDED");

    // Upload and onboard.
    let zip = sample_zip();
    let uploaded = h.upload(V2, &id, zip.clone()).await;
    assert_eq!(
        uploaded.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );
    assert!(uploaded.body.is_empty());
    let info = h.get(&package).await.json();
    assert_eq!(info["onboardingState"], "ONBOARDED");
    assert_eq!(info["operationalState"], "ENABLED");
    assert_eq!(info["vnfdId"], SAMPLE_VNFD_ID);
    assert_eq!(info["vnfmInfo"], json!(["tacker"]));
    assert_eq!(info["checksum"]["algorithm"], "SHA-256");
    let artifacts: Vec<&str> = info["additionalArtifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["artifactPath"].as_str())
        .collect();
    assert!(artifacts.contains(&SAMPLE_ARTIFACT), "{artifacts:?}");

    // Enable/disable through merge patch.
    let patch = |state: &'static str| {
        let uri = package.clone();
        let h = &h;
        async move {
            h.call(
                Method::PATCH,
                &uri,
                &[("content-type", "application/merge-patch+json")],
                json!({"operationalState": state}).to_string(),
            )
            .await
        }
    };
    patch("ENABLED")
        .await
        .problem(StatusCode::CONFLICT, "already");
    let disabled = patch("DISABLED").await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.json(), json!({"operationalState": "DISABLED"}));
    assert_eq!(h.get(&package).await.json()["operationalState"], "DISABLED");
    let enabled = patch("ENABLED").await;
    assert_eq!(enabled.json(), json!({"operationalState": "ENABLED"}));
    let data = h
        .call(
            Method::PATCH,
            &package,
            &[("content-type", "application/merge-patch+json")],
            json!({"userDefinedData": {"owner": null, "team": "nfv"}}).to_string(),
        )
        .await;
    assert_eq!(data.status, StatusCode::OK);
    assert_eq!(
        h.get(&package).await.json()["userDefinedData"],
        json!({"team": "nfv"})
    );

    // The VNFD spans three files: zip only.
    let vnfd_zip = h
        .call(
            Method::GET,
            &format!("{package}/vnfd"),
            &[("accept", "application/zip")],
            Body::empty(),
        )
        .await;
    assert_eq!(vnfd_zip.status, StatusCode::OK);
    assert_eq!(vnfd_zip.header("content-type"), Some("application/zip"));
    let names = zip_names(&vnfd_zip.body);
    for name in [
        "TOSCA-Metadata/TOSCA.meta",
        "Definitions/sample_vnf_top.yaml",
        "Definitions/sample_vnf_df_simple.yaml",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    h.call(
        Method::GET,
        &format!("{package}/vnfd"),
        &[("accept", "text/plain")],
        Body::empty(),
    )
    .await
    .problem(StatusCode::NOT_ACCEPTABLE, "application/zip");
    let both = h
        .call(
            Method::GET,
            &format!("{package}/vnfd"),
            &[("accept", "text/plain, application/zip")],
            Body::empty(),
        )
        .await;
    assert_eq!(both.header("content-type"), Some("application/zip"));

    // The manifest.
    let manifest = h
        .get(&format!("{package}/manifest?include_signatures"))
        .await;
    assert_eq!(manifest.status, StatusCode::OK);
    assert_eq!(manifest.header("content-type"), Some("text/plain"));
    assert_eq!(
        manifest.body,
        std::fs::read(sample_dir().join("sample_vnf.mf")).expect("the manifest")
    );

    // One artifact, whole and in part.
    let readme = std::fs::read(sample_dir().join(SAMPLE_ARTIFACT)).expect("the artifact");
    let artifact_uri = format!("{package}/artifacts/{SAMPLE_ARTIFACT}");
    let whole = h.get(&artifact_uri).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.header("content-type"), Some("text/plain"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.body, readme);
    let part = h
        .call(
            Method::GET,
            &artifact_uri,
            &[("range", "bytes=0-4")],
            Body::empty(),
        )
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, readme[..5]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-4/{}", readme.len()).as_str())
    );
    let tail = h
        .call(
            Method::GET,
            &artifact_uri,
            &[("range", "bytes=-6")],
            Body::empty(),
        )
        .await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.body, readme[readme.len() - 6..]);
    h.get(&format!("{package}/artifacts/Scripts/missing.sh"))
        .await
        .problem(StatusCode::NOT_FOUND, "Scripts/missing.sh");

    // Every artifact as a zip.
    let all = h.get(&format!("{package}/artifacts")).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.header("content-type"), Some("application/zip"));
    let mut expected: Vec<String> = artifacts.iter().map(|a| (*a).to_owned()).collect();
    expected.sort();
    assert_eq!(zip_names(&all.body), expected);
    assert_eq!(zip_entry(&all.body, SAMPLE_ARTIFACT), readme);
    let head = h
        .call(
            Method::GET,
            &format!("{package}/artifacts"),
            &[("range", "bytes=0-3")],
            Body::empty(),
        )
        .await;
    assert_eq!(head.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(head.body.as_ref(), b"PK\x03\x04");
    assert_eq!(
        head.header("content-range"),
        Some(format!("bytes 0-3/{}", all.body.len()).as_str())
    );
    let none = h
        .get(&format!("{package}/artifacts?exclude_all_mano_artifacts"))
        .await;
    assert!(zip_names(&none.body).is_empty());

    // The package content, whole and in ranges.
    let content = h.get(&format!("{package}/package_content")).await;
    assert_eq!(content.status, StatusCode::OK);
    assert_eq!(content.header("content-type"), Some("application/zip"));
    assert_eq!(content.header("accept-ranges"), Some("bytes"));
    assert_eq!(content.body, zip);
    let len = zip.len();
    for (range, expected, start) in [
        ("bytes=10-19".to_owned(), zip.slice(10..20), 10),
        ("bytes=100-".to_owned(), zip.slice(100..), 100),
        ("bytes=-50".to_owned(), zip.slice(len - 50..), len - 50),
        (format!("bytes=5-{}", len + 100), zip.slice(5..), 5),
    ] {
        let part = h
            .call(
                Method::GET,
                &format!("{package}/package_content"),
                &[("range", range.as_str())],
                Body::empty(),
            )
            .await;
        assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(part.body, expected, "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {start}-{}/{len}", start + expected.len() - 1).as_str()),
            "{range}"
        );
    }

    // Delete: refused while enabled, then done.
    h.call(Method::DELETE, &package, &[], Body::empty())
        .await
        .problem(StatusCode::CONFLICT, "ENABLED");
    assert_eq!(patch("DISABLED").await.status, StatusCode::OK);
    let deleted = h.call(Method::DELETE, &package, &[], Body::empty()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    h.get(&package).await.problem(StatusCode::NOT_FOUND, &id);
}

#[tokio::test]
async fn a_single_file_vnfd_is_served_as_plain_text() {
    let h = harness();
    let id = h.onboarded(V2, single_file_zip()).await;
    let vnfd = format!("{V2}/vnf_packages/{id}/vnfd");
    for accept in ["text/plain", "text/plain,application/zip", "*/*"] {
        let answer = h
            .call(Method::GET, &vnfd, &[("accept", accept)], Body::empty())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{accept}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain"),
            "{accept}"
        );
        assert_eq!(answer.body, SINGLE_VNFD.as_bytes(), "{accept}");
    }
    let zipped = h
        .call(
            Method::GET,
            &vnfd,
            &[("accept", "application/zip")],
            Body::empty(),
        )
        .await;
    assert_eq!(zipped.header("content-type"), Some("application/zip"));
    assert_eq!(
        zip_entry(&zipped.body, "Definitions/vnfd.yaml"),
        SINGLE_VNFD.as_bytes()
    );
    // include_signatures asks for the archive.
    h.call(
        Method::GET,
        &format!("{vnfd}?include_signatures"),
        &[("accept", "text/plain")],
        Body::empty(),
    )
    .await
    .problem(StatusCode::NOT_ACCEPTABLE, "include_signatures");
    for (accept, needle) in [
        (None, "Accept header is missing"),
        (Some("application/json"), "application/json"),
        (Some("text/plain;q=0"), "allows neither"),
    ] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("accept", *a)).collect();
        h.call(Method::GET, &vnfd, &headers, Body::empty())
            .await
            .problem(StatusCode::NOT_ACCEPTABLE, needle);
    }
}

#[tokio::test]
async fn requests_are_checked_and_errors_are_problem_details() {
    let h = harness();
    let packages = format!("{V2}/vnf_packages");

    // The Version header.
    let request = Request::builder()
        .uri(&packages)
        .body(Body::empty())
        .expect("request");
    h.send(request)
        .await
        .problem(StatusCode::BAD_REQUEST, "Version header is missing");
    h.call(
        Method::GET,
        &packages,
        &[("version", "1.3.0")],
        Body::empty(),
    )
    .await
    .problem(StatusCode::NOT_ACCEPTABLE, "'1.3.0' is not supported");

    // Bodies name the bad field.
    h.json(
        Method::POST,
        &packages,
        json!({"userDefinedData": "not an object"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "userDefinedData");
    let id = h.create(V2).await;
    let package = format!("{packages}/{id}");
    h.json(
        Method::PATCH,
        &package,
        json!({"operationalState": "SLEEPING"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "operationalState");
    h.json(Method::PATCH, &package, json!({}))
        .await
        .problem(StatusCode::BAD_REQUEST, "operationalState, userDefinedData");
    h.json(
        Method::PATCH,
        &package,
        json!({"operationalState": "ENABLED"}),
    )
    .await
    .problem(StatusCode::CONFLICT, "not ONBOARDED");
    h.call(
        Method::POST,
        &packages,
        &[("content-type", "text/plain")],
        "{}",
    )
    .await
    .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json");
    h.get(&format!("{packages}?filtr=(eq,id,x)"))
        .await
        .problem(StatusCode::BAD_REQUEST, "filtr");

    // Unknown ids.
    for uri in [
        format!("{packages}/no-such-package"),
        format!("{packages}/no-such-package/package_content"),
        format!("{V2}/subscriptions/no-such-subscription"),
    ] {
        h.get(&uri).await.problem(StatusCode::NOT_FOUND, "no-such-");
    }
    h.upload(V2, "no-such-package", sample_zip())
        .await
        .problem(StatusCode::NOT_FOUND, "no-such-package");
    h.call(
        Method::DELETE,
        &format!("{packages}/no-such-package"),
        &[],
        Body::empty(),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "no-such-package");

    // Uploads: the media type, an empty body, an invalid package, a second upload.
    h.call(
        Method::PUT,
        &format!("{package}/package_content"),
        &[("content-type", "multipart/form-data; boundary=x")],
        "--x--",
    )
    .await
    .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "multipart");
    h.upload(V2, &id, Bytes::new())
        .await
        .problem(StatusCode::BAD_REQUEST, "empty");
    let broken = h
        .upload(V2, &id, Bytes::from_static(b"not a zip at all"))
        .await;
    assert!(broken.status.is_client_error(), "{}", broken.status);
    let after = h.get(&package).await.json();
    assert_eq!(after["onboardingState"], "CREATED");
    assert!(after.get("onboardingFailureDetails").is_some(), "{after}");
    assert_eq!(
        h.upload(V2, &id, sample_zip()).await.status,
        StatusCode::ACCEPTED
    );
    h.upload(V2, &id, sample_zip())
        .await
        .problem(StatusCode::CONFLICT, "CREATED");

    // Ranges that select nothing, or that are not single byte ranges.
    let len = sample_zip().len();
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 10, len + 20),
        "bytes=-0".to_owned(),
        "bytes=0-1,5-6".to_owned(),
        "bytes=9-3".to_owned(),
        "lines=1-2".to_owned(),
    ] {
        let answer = h
            .call(
                Method::GET,
                &format!("{package}/package_content"),
                &[("range", range.as_str())],
                Body::empty(),
            )
            .await;
        answer.problem(StatusCode::RANGE_NOT_SATISFIABLE, "Range");
        assert_eq!(
            answer.header("content-range"),
            Some(format!("bytes */{len}").as_str()),
            "{range}"
        );
    }
    let artifact = h
        .call(
            Method::GET,
            &format!("{package}/artifacts/{SAMPLE_ARTIFACT}"),
            &[("range", "bytes=100000-")],
            Body::empty(),
        )
        .await;
    artifact.problem(StatusCode::RANGE_NOT_SATISFIABLE, "selects no byte");
    // An empty Range asks for no range: the whole content (RFC 9110 14.2).
    for path in [
        format!("{package}/package_content"),
        format!("{package}/artifacts/{SAMPLE_ARTIFACT}"),
    ] {
        let whole = h
            .call(Method::GET, &path, &[("range", "")], Body::empty())
            .await;
        assert_eq!(whole.status, StatusCode::OK, "{path}");
        assert!(whole.header("content-range").is_none(), "{path}");
    }

    // Content negotiation and query flags.
    h.call(
        Method::GET,
        &format!("{package}/vnfd"),
        &[("accept", "application/json")],
        Body::empty(),
    )
    .await
    .problem(StatusCode::NOT_ACCEPTABLE, "application/json");
    h.get(&format!("{package}/manifest?include_signature"))
        .await
        .problem(StatusCode::BAD_REQUEST, "include_signature'");
    h.get(&format!(
        "{package}/artifacts?exclude_all_non_mano_artifacts&select_non_mano_artifact_sets=a"
    ))
    .await
    .problem(StatusCode::BAD_REQUEST, "cannot be combined");

    // Uploads from a URI: no fetcher configured, an unsupported scheme, OAuth.
    let fresh = h.create(V2).await;
    let from_uri = format!("{packages}/{fresh}/package_content/upload_from_uri");
    h.json(
        Method::POST,
        &from_uri,
        json!({"addressInformation": "ftp://example.com/p.zip"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "ftp://example.com/p.zip");
    h.json(
        Method::POST,
        &from_uri,
        json!({"addressInformation": "http://127.0.0.1:1/p.zip", "authType": "OAUTH2_CLIENT_CREDENTIALS",
               "paramsOauth2ClientCredentials": {"clientId": "a", "clientPassword": "b", "tokenEndpoint": "http://t"}}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "OAUTH2_CLIENT_CREDENTIALS");
    h.json(Method::POST, &from_uri, json!({}))
        .await
        .problem(StatusCode::BAD_REQUEST, "addressInformation");
    h.json(
        Method::POST,
        &format!("{package}/package_content/upload_from_uri"),
        json!({"addressInformation": "http://127.0.0.1:1/p.zip"}),
    )
    .await
    .problem(StatusCode::CONFLICT, "ONBOARDED");

    // Methods a resource does not have.
    h.call(
        Method::POST,
        &format!("{package}/manifest"),
        &[],
        Body::empty(),
    )
    .await
    .problem(StatusCode::METHOD_NOT_ALLOWED, "method");
}

#[tokio::test]
async fn uploads_above_the_limit_are_refused() {
    let h = harness_with(4096);
    let id = h.create(V2).await;
    let uri = format!("{V2}/vnf_packages/{id}/package_content");
    let big = Bytes::from(vec![7u8; 10_000]);
    // Declared too large.
    h.upload(V2, &id, big.clone())
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "4096 bytes");
    // Not declared (a stream of chunks): refused once the limit is passed.
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..10).map(|_| Ok(Bytes::from(vec![7u8; 1000]))).collect();
    let streamed = Body::from_stream(futures::stream::iter(chunks));
    let answer = h
        .call(
            Method::PUT,
            &uri,
            &[("content-type", "application/octet-stream")],
            streamed,
        )
        .await;
    answer.problem(StatusCode::PAYLOAD_TOO_LARGE, "4096 bytes");
    let info = h.get(&format!("{V2}/vnf_packages/{id}")).await.json();
    assert_eq!(info["onboardingState"], "CREATED");
}

#[tokio::test]
async fn bodies_larger_than_axum_s_default_limit_are_streamed() {
    let h = harness();
    let root = sample_dir();
    let mut files = Vec::new();
    files_below(&root, &root, &mut files);
    // 3 MiB of incompressible-enough filler, stored: above axum's 2 MB body default.
    let mut state: u32 = 0x1234_5678;
    let filler: Vec<u8> = (0..3 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    files.push(("Files/filler.bin".to_owned(), filler));
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in &files {
        writer
            .start_file(
                name.as_str(),
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
            )
            .expect("start");
        writer.write_all(content).expect("write");
    }
    let zip = Bytes::from(writer.finish().expect("finish").into_inner());
    assert!(zip.len() > 3 << 20);
    let id = h.onboarded(V2, zip.clone()).await;
    let content = h
        .get(&format!("{V2}/vnf_packages/{id}/package_content"))
        .await;
    assert_eq!(content.body.len(), zip.len());
}

#[tokio::test]
async fn lists_are_filtered_shaped_and_paged() {
    let h = harness();
    let tenant = TenantId::default();
    let onboarded = h.onboarded(V2, sample_zip()).await;
    for _ in 0..100 {
        h.packages
            .create(&tenant, CreateVnfPkgInfoRequest::default())
            .await
            .expect("a package");
    }
    let first = h.get(&format!("{V2}/vnf_packages")).await;
    assert_eq!(first.status, StatusCode::OK);
    let items = first.json();
    assert_eq!(items.as_array().map(Vec::len), Some(100));
    let link = first.header("link").expect("a Link header").to_owned();
    let prefix = format!("<{ROOT}{V2}/vnf_packages?nextpage_opaque_marker=");
    assert!(
        link.starts_with(&prefix) && link.ends_with(">; rel=\"next\""),
        "{link}"
    );
    let next = &link[ROOT.len() + 1..link.len() - ">; rel=\"next\"".len()];
    let second = h.get(next).await;
    assert_eq!(second.json().as_array().map(Vec::len), Some(1));
    assert!(second.header("link").is_none());

    // Filter, and the default exclusion of complex attributes.
    let filtered = h
        .get(&format!(
            "{V2}/vnf_packages?filter=(eq,onboardingState,ONBOARDED)"
        ))
        .await
        .json();
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    let listed = &filtered[0];
    assert_eq!(listed["id"], onboarded.as_str());
    for complex in [
        "softwareImages",
        "additionalArtifacts",
        "userDefinedData",
        "checksum",
        "onboardingFailureDetails",
    ] {
        assert!(listed.get(complex).is_none(), "{complex} in {listed}");
    }
    assert_eq!(listed["vnfdId"], SAMPLE_VNFD_ID);
    let all = h
        .get(&format!(
            "{V2}/vnf_packages?filter=(eq,onboardingState,ONBOARDED)&all_fields"
        ))
        .await
        .json();
    assert!(all[0].get("checksum").is_some() && all[0].get("additionalArtifacts").is_some());
    let some = h
        .get(&format!(
            "{V2}/vnf_packages?filter=(eq,onboardingState,ONBOARDED)&fields=checksum"
        ))
        .await
        .json();
    assert!(some[0].get("checksum").is_some() && some[0].get("additionalArtifacts").is_none());
}

#[tokio::test]
async fn subscriptions_are_created_listed_and_deleted() {
    let h = harness();
    let created = h
        .json(
            Method::POST,
            &format!("{V2}/subscriptions"),
            json!({"callbackUri": "http://127.0.0.1:1/callback",
                   "filter": {"notificationTypes": ["VnfPackageOnboardingNotification"], "vnfmInfo": ["tacker"]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let subscription = created.json();
    let id = subscription["id"].as_str().expect("id").to_owned();
    let uri = format!("{V2}/subscriptions/{id}");
    assert_eq!(
        created.header("location"),
        Some(format!("{ROOT}{uri}").as_str())
    );
    assert_eq!(
        subscription["_links"]["self"]["href"],
        format!("{ROOT}{uri}")
    );
    assert_eq!(h.get(&uri).await.json(), subscription);
    let listed = h.get(&format!("{V2}/subscriptions")).await.json();
    assert_eq!(listed, json!([subscription.clone()]));
    h.get(&format!("{V2}/subscriptions?all_fields"))
        .await
        .problem(StatusCode::BAD_REQUEST, "all_fields");
    h.json(
        Method::POST,
        &format!("{V2}/subscriptions"),
        json!({"filter": {}}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "callbackUri");

    // The v1 view of the same subscription.
    let v1 = h.get(&format!("{V1}/subscriptions/{id}")).await.json();
    assert_eq!(
        v1["_links"]["self"]["href"],
        format!("{ROOT}{V1}/subscriptions/{id}")
    );
    assert!(v1["filter"].get("vnfmInfo").is_none(), "{v1}");

    let deleted = h.call(Method::DELETE, &uri, &[], Body::empty()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    h.get(&uri).await.problem(StatusCode::NOT_FOUND, &id);
}

#[tokio::test]
async fn the_v1_api_speaks_sol005_v2_6_1() {
    let h = harness();
    // No Version header needed; the answer says 1.3.0.
    let versions = h.get(&format!("{V1}/api_versions")).await;
    assert_eq!(versions.json()["apiVersions"][0]["version"], "1.3.0");
    assert_eq!(versions.json()["uriPrefix"], format!("{ROOT}{V1}"));
    let id = h.create(V1).await;
    let package = format!("{V1}/vnf_packages/{id}");
    let created = h.get(&package).await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.header("version"), Some("1.3.0"));
    let uploaded = h.upload(V1, &id, sample_zip()).await;
    assert_eq!(uploaded.status, StatusCode::ACCEPTED);

    let info = h.get(&package).await.json();
    assert_eq!(info["onboardingState"], "ONBOARDED");
    for (name, link) in [
        ("self", String::new()),
        ("vnfd", "/vnfd".to_owned()),
        ("packageContent", "/package_content".to_owned()),
    ] {
        assert_eq!(
            info["_links"][name]["href"],
            format!("{ROOT}{package}{link}"),
            "{name}"
        );
    }
    for v2_only in [
        "vnfmInfo",
        "packageSecurityOption",
        "signingCertificate",
        "compatibleSpecificationVersions",
        "onboardingFailureDetails",
    ] {
        assert!(info.get(v2_only).is_none(), "{v2_only} in {info}");
    }
    assert_eq!(info["checksum"]["algorithm"], "SHA-256");
    assert!(info["checksum"]["hash"].is_string());
    for artifact in info["additionalArtifacts"].as_array().expect("artifacts") {
        let keys: Vec<&String> = artifact.as_object().expect("object").keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["artifactPath", "checksum", "metadata"].contains(&k.as_str())),
            "{artifact}"
        );
    }
    assert!(!info.to_string().contains("/vnfpkgm/v2/"), "{info}");

    // The v1 list leaves out the v2.6.1 complex attributes and still filters.
    let listed = h.get(&format!("{V1}/vnf_packages")).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(listed[0].get("checksum").is_none() && listed[0].get("softwareImages").is_none());
    assert_eq!(listed[0]["vnfdId"], SAMPLE_VNFD_ID);

    // The same reads as v2.
    let vnfd = h
        .call(
            Method::GET,
            &format!("{package}/vnfd"),
            &[("accept", "application/zip")],
            Body::empty(),
        )
        .await;
    assert_eq!(vnfd.status, StatusCode::OK);
    let artifact = h
        .call(
            Method::GET,
            &format!("{package}/artifacts/{SAMPLE_ARTIFACT}"),
            &[("range", "bytes=0-2")],
            Body::empty(),
        )
        .await;
    assert_eq!(artifact.status, StatusCode::PARTIAL_CONTENT);
    // No archive of all artifacts in v1.
    assert_eq!(
        h.get(&format!("{package}/artifacts")).await.status,
        StatusCode::NOT_FOUND
    );
    // A v1 client may still send a v1 Version header; a v2 one is refused.
    let answer = h
        .call(
            Method::GET,
            &package,
            &[("version", "1.3.0")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    h.call(
        Method::GET,
        &package,
        &[("version", "2.4.0")],
        Body::empty(),
    )
    .await
    .problem(StatusCode::NOT_ACCEPTABLE, "2.4.0");

    // PATCH and upload_from_uri in the v1 shape.
    let disabled = h
        .json(
            Method::PATCH,
            &package,
            json!({"operationalState": "DISABLED"}),
        )
        .await;
    assert_eq!(disabled.json(), json!({"operationalState": "DISABLED"}));
    let other = h.create(V1).await;
    h.json(
        Method::POST,
        &format!("{V1}/vnf_packages/{other}/package_content/upload_from_uri"),
        json!({"addressInformation": "http://127.0.0.1:1/p.zip", "userName": "only-a-user"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "userName and password");
    let deleted = h.call(Method::DELETE, &package, &[], Body::empty()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

/// A one-shot HTTP server on loopback that answers `GET` with `body` (announcing
/// `length` bytes) once `release` fires.
async fn held_package_server(
    body: Bytes,
    length: usize,
    release: tokio::sync::oneshot::Receiver<()>,
) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut buffer = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.expect("read");
            if read == 0 {
                return;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        let _ = release.await;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.write_all(&body).await;
        let _ = socket.shutdown().await;
    });
    format!("http://{address}/package.zip")
}

async fn wait_for_state(h: &Harness, id: &str, state: &str) -> Value {
    for _ in 0..200 {
        let info = h.get(&format!("{V2}/vnf_packages/{id}")).await.json();
        if info["onboardingState"] == state {
            return info;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("package {id} never reached {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_from_uri_answers_202_before_the_download_and_onboards_in_the_background() {
    let zip = sample_zip();
    let limit = u64::try_from(zip.len()).expect("size");
    let (router, packages) = support::api_with(
        ApiConfig::default(),
        tacker_core::package::PackageManagerConfig {
            max_package_size: limit,
            ..Default::default()
        },
        Some(Arc::new(
            tacker_api::HttpPackageFetcher::new().expect("a fetcher"),
        )),
    );
    let h = Harness { router, packages };

    // The server holds its answer: 202 comes while the package is UPLOADING.
    let (release, held) = tokio::sync::oneshot::channel();
    let uri = held_package_server(zip.clone(), zip.len(), held).await;
    let id = h.create(V2).await;
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        h.json(
            Method::POST,
            &format!("{V2}/vnf_packages/{id}/package_content/upload_from_uri"),
            json!({"addressInformation": uri}),
        ),
    )
    .await
    .expect("202 before the download ends");
    assert_eq!(
        answer.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let info = h.get(&format!("{V2}/vnf_packages/{id}")).await.json();
    assert_eq!(info["onboardingState"], "UPLOADING");
    // A second upload meanwhile is a conflict.
    h.json(
        Method::POST,
        &format!("{V2}/vnf_packages/{id}/package_content/upload_from_uri"),
        json!({"addressInformation": "http://127.0.0.1:1/p.zip"}),
    )
    .await
    .problem(StatusCode::CONFLICT, "UPLOADING");
    release.send(()).expect("release");
    let info = wait_for_state(&h, &id, "ONBOARDED").await;
    assert_eq!(info["vnfdId"], SAMPLE_VNFD_ID);

    // Announced above the maximum package size: back to CREATED with a 413 naming the
    // limit in onboardingFailureDetails.
    let (release, held) = tokio::sync::oneshot::channel();
    let uri = held_package_server(zip.clone(), zip.len() + 1, held).await;
    let id = h.create(V2).await;
    let answer = h
        .json(
            Method::POST,
            &format!("{V2}/vnf_packages/{id}/package_content/upload_from_uri"),
            json!({"addressInformation": uri}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    release.send(()).expect("release");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let info = wait_for_state(&h, &id, "CREATED").await;
    let details = &info["onboardingFailureDetails"];
    assert_eq!(details["status"], 413, "{info}");
    assert!(
        details["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&limit.to_string()),
        "{info}"
    );
}
