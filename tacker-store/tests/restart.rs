//! A VNFM process on an SQLite file is killed (SIGKILL) with operations in flight and
//! notifications queued; a new process on the same file finds every accepted
//! operation and notification, fails the interrupted ones to FAILED_TEMP and
//! completes them on retry.
//!
//! The killed process is this test binary run again with `TACKER_RESTART_WORKER` set,
//! executing only [`restart_worker`].

#[path = "../../tacker-core/tests/support/mod.rs"]
mod support;

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::local::LocalFileSystem;
use tacker_core::TenantId;
use tacker_core::lcm::LcmConfig;
use tacker_core::model::{
    InstantiationState, LccnSubscriptionRequest, LcmOperationStateType as State,
};
use tacker_core::sim::{SimInfraDriver, SimOperation};
use tacker_core::store::Store;
use tacker_store::SqlStore;

const WORKER_ENV: &str = "TACKER_RESTART_WORKER";
const OPS: usize = 8;
const LEASE: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(60);

fn files(dir: &Path) -> Arc<LocalFileSystem> {
    Arc::new(LocalFileSystem::new_with_prefix(dir).expect("package directory"))
}

fn worker_config() -> LcmConfig {
    LcmConfig {
        max_concurrent_ops: 3,
        ..common::config("worker-process", LEASE)
    }
}

/// Appends a line to the log and makes it durable before going on.
fn log_line(log: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the log");
    writeln!(file, "{line}").expect("write the log");
    file.sync_all().expect("sync the log");
}

/// The worker: runs only in the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_worker() {
    let Ok(log) = std::env::var(WORKER_ENV) else {
        return;
    };
    let log = PathBuf::from(log);
    let url = std::env::var("TACKER_RESTART_DB").expect("database URL");
    let dir = std::env::var("TACKER_RESTART_FILES").expect("package directory");
    let store = SqlStore::connect(&url).await.expect("connect");
    let tenant = TenantId::default();
    let sim = SimInfraDriver::default();
    // Instantiations stay in the VIM until the process is killed.
    sim.set_latency(SimOperation::Instantiate, Duration::from_secs(600));
    let mgmt = Arc::new(common::CountingMgmt::default());
    let lcm = common::engine(&store, files(Path::new(&dir)), &sim, mgmt, worker_config());
    let _executor = lcm.start();
    let subscription = lcm
        .subscriptions()
        .subscribe(
            &tenant,
            LccnSubscriptionRequest {
                filter: None,
                callback_uri: "http://127.0.0.1:9/never".into(),
                authentication: None,
                verbosity: None,
            },
        )
        .await
        .expect("subscribe");
    log_line(&log, &format!("subscription {}", subscription.id));
    for n in 0..OPS {
        let instance = lcm
            .create_vnf(&tenant, common::create_request(&format!("vnf-{n}")))
            .await
            .expect("create");
        log_line(&log, &format!("vnf {}", instance.id));
        let op = lcm
            .instantiate(&tenant, &instance.id, common::instantiate_request())
            .await
            .expect("accepted");
        log_line(&log, &format!("op {}", op.id));
    }
    let deadline = Instant::now() + WAIT;
    while sim.calls(SimOperation::Instantiate) < 3 {
        assert!(Instant::now() < deadline, "nothing reached the VIM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log_line(&log, "ready");
    // Wait to be killed.
    tokio::time::sleep(Duration::from_secs(600)).await;
    panic!("the worker was not killed");
}

fn read_log(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (tag, value) = l.split_once(' ').unwrap_or((l, ""));
            (tag.to_owned(), value.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_loses_no_operation_or_notification_on_sqlite() {
    if std::env::var(WORKER_ENV).is_ok() {
        return;
    }
    let (url, path) = common::sqlite_file("restart");
    let dir = std::env::temp_dir().join(format!("tacker-restart-pkg-{}", tacker_core::new_id()));
    std::fs::create_dir_all(&dir).expect("package directory");
    let log = std::env::temp_dir().join(format!("tacker-restart-{}.log", tacker_core::new_id()));
    let tenant = TenantId::default();
    {
        let store = SqlStore::connect(&url).await.expect("connect");
        common::onboard(&common::package_manager(&store, files(&dir)), &tenant).await;
    }

    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "restart_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER_ENV, &log)
        .env("TACKER_RESTART_DB", &url)
        .env("TACKER_RESTART_FILES", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the worker");
    let deadline = Instant::now() + WAIT;
    loop {
        if read_log(&log).iter().any(|(tag, _)| tag == "ready") {
            break;
        }
        if let Some(status) = child.try_wait().expect("worker status") {
            panic!("the worker exited early: {status}");
        }
        assert!(Instant::now() < deadline, "the worker never got ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL the worker");
    let status = child.wait().expect("reap the worker");
    assert!(!status.success(), "killed, not exited: {status}");

    let entries = read_log(&log);
    let ops: Vec<String> = entries
        .iter()
        .filter(|(tag, _)| tag == "op")
        .map(|(_, v)| v.clone())
        .collect();
    let vnfs: Vec<String> = entries
        .iter()
        .filter(|(tag, _)| tag == "vnf")
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(ops.len(), OPS);
    assert_eq!(vnfs.len(), OPS);

    // A new process, once the killed one's leases ran out.
    tokio::time::sleep(LEASE + Duration::from_millis(500)).await;
    let store = SqlStore::connect(&url).await.expect("reopen the file");

    // The queued notifications survived (nothing sends them: no sink).
    // Delivery is in order per subscription: only the head is claimable, so claim and
    // acknowledge one at a time until the outbox is empty.
    let mut queued = Vec::new();
    loop {
        let heads = store
            .claim_notifications("checker", chrono::Utc::now(), WAIT, 100)
            .await
            .expect("claim notifications");
        if heads.is_empty() {
            break;
        }
        for head in heads {
            store.ack_notification(&head).await.expect("acknowledge");
            queued.push(head);
        }
        assert!(queued.len() < 10_000, "the outbox does not end");
    }
    let created = queued
        .iter()
        .filter(|n| n.payload["notificationType"] == "VnfIdentifierCreationNotification")
        .count();
    let starting = queued
        .iter()
        .filter(|n| {
            n.payload["notificationType"] == "VnfLcmOperationOccurrenceNotification"
                && n.payload["operationState"] == "STARTING"
        })
        .count();
    eprintln!("{} notifications queued after the kill", queued.len());
    assert_eq!(created, OPS, "one creation notification per VNF");
    assert_eq!(starting, OPS, "one STARTING notification per operation");

    let sim = SimInfraDriver::default();
    let lcm = common::engine(
        &store,
        files(&dir),
        &sim,
        Arc::new(common::CountingMgmt::default()),
        common::config("after-restart", LEASE),
    );
    let executor = lcm.start();
    let mut interrupted = 0;
    for op_id in &ops {
        let op = lcm
            .wait_for(&tenant, op_id, &[], WAIT)
            .await
            .expect("the accepted operation exists and ends");
        let op = match op.operation_state {
            State::FailedTemp => {
                let detail = op
                    .error
                    .as_ref()
                    .map(|e| e.detail.clone())
                    .unwrap_or_default();
                assert!(
                    detail.contains("worker-process") && detail.contains("stopped during step"),
                    "{detail}"
                );
                interrupted += 1;
                lcm.retry(&tenant, op_id).await.expect("retry");
                lcm.wait_for(&tenant, op_id, &[], WAIT)
                    .await
                    .expect("the retry ends")
            }
            _ => op,
        };
        assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    }
    eprintln!("{interrupted} of {OPS} operations were interrupted by the kill");
    assert!(interrupted >= 1, "some operation was in flight");
    for id in &vnfs {
        let instance = lcm.instance(&tenant, id).await.expect("instance");
        assert_eq!(
            instance.instantiation_state,
            InstantiationState::Instantiated
        );
        assert_eq!(
            common::recorded_servers(&instance),
            common::sim_servers(&sim, &tenant, id)
        );
    }
    executor.shutdown().await;
    drop(lcm);
    let _: &dyn Store = &store;
    drop(store);
    common::remove_sqlite(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}
