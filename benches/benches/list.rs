//! The server's CPU per listed item, at the REST router of `tacker-api` in-process (no
//! sockets, one thread): an SQLite file store holding 10,000 VNF instances (every
//! other one INSTANTIATED, with bodies the size of real ones, and its instantiation's op
//! occurrence) and 100 ONBOARDED packages, and `GET` of one page of 100 of each as a
//! client sends it. The time of one
//! request is the CPU it costs the server, less the HTTP/1.1 parsing of the request
//! line and headers. Group `list` is the wall time a client waits; group `list-cpu` the
//! CPU time of every thread of the process per request (the database driver works on
//! threads of its own); criterion's throughput line gives the cost per listed item.
//!
//! `cargo bench -p tacker-benches --bench list`

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tacker_api::{Api, ApiConfig};
use tacker_core::sim::SimInfraDriver;
use tacker_core::vim::SealingKey;
use tacker_core::{TenantId, Vnfm, new_id};
use tacker_store::SqlStore;
use tower::ServiceExt;

const INSTANCES: usize = 10_000;
const PACKAGES: usize = 100;

/// The lists measured: name, URI, `Version` header, items on the page.
const LISTS: &[(&str, &str, &str, usize)] = &[
    (
        "instances, first page",
        "/vnflcm/v2/vnf_instances",
        "2.3.0",
        100,
    ),
    (
        "instances, a later page",
        "/vnflcm/v2/vnf_instances?nextpage_opaque_marker=",
        "2.3.0",
        100,
    ),
    (
        "instances, all_fields",
        "/vnflcm/v2/vnf_instances?all_fields",
        "2.3.0",
        100,
    ),
    ("op occurrences", "/vnflcm/v2/vnf_lcm_op_occs", "2.3.0", 100),
    ("packages", "/vnfpkgm/v2/vnf_packages", "2.4.0", 100),
];

async fn router(path: &std::path::Path) -> Router {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = SqlStore::connect(&url).await.expect("SQLite");
    tacker_benches::seed::seed(&store, &TenantId::default(), INSTANCES, PACKAGES, 2_000)
        .await
        .expect("seeded");
    let vnfm = Vnfm::builder()
        .store(Arc::new(store))
        .sealing_key(SealingKey::generate().expect("a sealing key"))
        .vim_type(SimInfraDriver::default().as_vim_type())
        .remote_executor()
        .build()
        .expect("the VNFM");
    Api::new(&vnfm, ApiConfig::default()).router()
}

/// One GET; returns the body and the `Link` header.
async fn get(router: &Router, uri: &str, version: &str) -> (bytes::Bytes, Option<String>) {
    let request = Request::get(uri)
        .header("Version", version)
        .header("Accept", "application/json")
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let link = response
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (body, link)
}

/// The marker of the page after `pages` pages, from the `Link` headers.
async fn marker_after(router: &Router, pages: usize) -> String {
    let mut uri = "/vnflcm/v2/vnf_instances".to_owned();
    for _ in 0..pages {
        let (_, link) = get(router, &uri, "2.3.0").await;
        let link = link.expect("a next page");
        let start = link.find("/vnflcm").expect("a link to the API");
        let end = link.find('>').expect("a closed link");
        uri = link[start..end].to_owned();
    }
    uri.split("nextpage_opaque_marker=")
        .nth(1)
        .expect("a marker")
        .to_owned()
}

/// The CPU time every thread of this process has had so far, in nanoseconds as the
/// scheduler counts it (`/proc/self/task/*/schedstat`).
fn process_cpu() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

fn list_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let path = std::env::temp_dir().join(format!("tacker-list-bench-{}.db", new_id()));
    let router = runtime.block_on(router(&path));
    let marker = runtime.block_on(marker_after(&router, 50));
    let lists: Vec<(&str, String, &str, usize)> = LISTS
        .iter()
        .map(|(name, uri, version, items)| {
            let uri = if uri.ends_with('=') {
                format!("{uri}{marker}")
            } else {
                (*uri).to_owned()
            };
            (*name, uri, *version, *items)
        })
        .collect();
    for (name, uri, version, items) in &lists {
        let (body, _) = runtime.block_on(get(&router, uri, version));
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON array");
        assert_eq!(listed.len(), *items, "{name}");
        println!("{name}: {} bytes of JSON", body.len());
    }
    // Wall time: the answer as one client waits for it.
    let mut group = c.benchmark_group("list");
    for (name, uri, version, items) in &lists {
        group.throughput(Throughput::Elements(*items as u64));
        group.bench_function(*name, |b| {
            b.iter(|| runtime.block_on(get(&router, uri, version)))
        });
    }
    group.finish();
    // CPU time of the whole process (every thread: the runtime's and the database
    // driver's), which is what a request costs a busy server.
    let mut group = c.benchmark_group("list-cpu");
    for (name, uri, version, items) in &lists {
        group.throughput(Throughput::Elements(*items as u64));
        group.bench_function(*name, |b| {
            b.iter_custom(|iterations| {
                let before = process_cpu();
                for _ in 0..iterations {
                    runtime.block_on(get(&router, uri, version));
                }
                process_cpu().saturating_sub(before)
            })
        });
    }
    group.finish();
    drop(router);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = list_benches
}
criterion_main!(benches);
