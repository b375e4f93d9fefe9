//! What the router tests share: the whole API over the in-memory store, the in-memory
//! object store and the simulated VIM.

#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bytes::Bytes;
use serde_json::Value;
use tacker_api::{Api, ApiConfig};
use tacker_core::Vnfm;
use tacker_core::package::{PackageManagerConfig, VnfPackageManager};
use tacker_core::sim::SimInfraDriver;
use tower::ServiceExt;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

/// The router of an API with `config`, and its package manager.
pub fn api(config: ApiConfig) -> (Router, VnfPackageManager) {
    api_with(config, PackageManagerConfig::default(), None)
}

/// [`api`] with a package manager configured by `packages` and fetching packages for
/// `upload_from_uri` with `fetcher`.
pub fn api_with(
    config: ApiConfig,
    packages: PackageManagerConfig,
    fetcher: Option<Arc<dyn tacker_core::package::PackageFetcher>>,
) -> (Router, VnfPackageManager) {
    let mut vnfm = Vnfm::builder()
        .vim_type(SimInfraDriver::default().as_vim_type())
        // The router alone: operations are accepted and stay STARTING.
        .remote_executor()
        .package_config(packages);
    if let Some(fetcher) = fetcher {
        vnfm = vnfm.package_fetcher(fetcher);
    }
    let vnfm = vnfm.build().expect("the VNFM");
    let router = Api::new(&vnfm, config).router();
    (router, vnfm.packages().clone())
}

/// The test package's VNFD, shared with `tacker-core`'s tests.
pub const TOP: &str = include_str!("../../../tacker-core/tests/vnfd/top.yaml");
pub const TYPES: &str = include_str!("../../../tacker-core/tests/vnfd/types.yaml");
pub const FLAVOUR: &str = include_str!("../../../tacker-core/tests/vnfd/df_simple.yaml");
pub const SCRIPT: &str = "print('hook')\n";
pub const VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000001";

pub fn sha256_hex(data: &[u8]) -> String {
    let mut reader = data;
    tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut reader)
        .expect("a digest of bytes in memory")
}

/// The test package as a CSAR zip: TOSCA.meta, a manifest that lists the hook script,
/// the three VNFD files and the script.
pub fn package_zip() -> Bytes {
    let meta = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: tacker-api tests\n\
                Entry-Definitions: Definitions/top.yaml\nETSI-Entry-Manifest: manifest.mf\n";
    let manifest = format!(
        "metadata:\n  vnf_provider_id: Example\n  vnf_product_name: Reader Test VNF\n  \
         vnf_release_date_time: 2026-01-01T00:00:00+00:00\n  vnf_package_version: 1.0\n  \
         compatible_specification_versions: 3.3.1\n\n\
         Source: Scripts/mgmt.py\nAlgorithm: SHA-256\nHash: {}\n",
        sha256_hex(SCRIPT.as_bytes())
    );
    let files = [
        ("TOSCA-Metadata/TOSCA.meta", meta),
        ("manifest.mf", &manifest),
        ("Definitions/top.yaml", TOP),
        ("Definitions/types.yaml", TYPES),
        ("Definitions/df_simple.yaml", FLAVOUR),
        ("Scripts/mgmt.py", SCRIPT),
    ];
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(name, SimpleFileOptions::default())
            .expect("a zip entry");
        zip.write_all(content.as_bytes()).expect("zip content");
    }
    Bytes::from(zip.finish().expect("a finished zip").into_inner())
}

/// What the router answered.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub location: Option<String>,
    pub link: Option<String>,
    pub body: Value,
}

/// Sends a request with the `Version` its API wants, and a JSON body if given.
pub async fn call(router: &Router, method: Method, uri: &str, body: Option<Value>) -> Answer {
    let version = if uri.starts_with("/vnflcm") {
        "2.3.0"
    } else if uri.starts_with("/vnfpkgm/v2") {
        "2.4.0"
    } else if uri.starts_with("/vnfpkgm/v1") {
        "1.3.0"
    } else {
        "1.0.0"
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("Version", version);
    let body = match body {
        Some(body) => {
            request = request.header("Content-Type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("an answer");
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let location = header("location");
    let link = header("link");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        content_type,
        location,
        link,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Checks that `answer` is a ProblemDetails of `status` whose detail mentions `needle`.
pub fn is_problem(answer: &Answer, status: StatusCode, needle: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.body["status"], status.as_u16());
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(needle),
        "'{detail}' should mention '{needle}'"
    );
}
