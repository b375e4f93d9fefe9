//! The LCM engine's own speed: instantiate and terminate of one VNF instance on the
//! memory store and a zero-latency simulated VIM, with the executor running on a tokio
//! runtime of two workers.
//!
//! - `lcm_cycle/*`: one full cycle (request instantiate, wait until COMPLETED, request
//!   terminate, wait); the throughput is in cycles per second.
//! - `lcm_instantiate/*`, `lcm_terminate/*`: one operation, from the request to
//!   COMPLETED (the other operation of the cycle runs untimed).
//!
//! Each is measured with two ways of waiting. `wait_for` is `VnfLcm::wait_for`, which
//! reads the op occurrence every 5 ms. `notified` wakes up whenever the store commits
//! (a [`Store`] wrapper signals a `Notify`) and then reads the op occurrence: a
//! prototype, outside the engine, of waking `wait_for` on the engine's own state
//! changes instead of polling. `engine_clock` waits with `wait_for` but reports the time
//! the engine itself recorded: the op's `stateEnteredTime` of COMPLETED minus the wall
//! clock just before the request, so no waiting artefact is in it (the engine stamps
//! that time just before its last commit, so the commit itself, some 20–40 µs, is not).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use object_store::memory::InMemory;
use tacker_core::lcm::{Executor, LcmConfig, VnfLcm};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::DateTime;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest,
    LcmOperationStateType as State, TerminateVnfRequest, TerminationType, VnfLcmOpOcc,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SimInfraDriver, sample_vim};
use tacker_core::store::MemoryStore;
use tacker_core::store::{
    ClaimedOp, ListQuery, OpLease, OutboxEntry, Page, Record, RecordKind, Store, Versioned,
    Write as StoreWrite,
};
use tacker_core::{Result, TenantId};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// The VNFD of `tacker-core`'s LCM tests (one VDU, flavour `simple`, an
/// `instantiate_end` hook bound to `mgmt_driver`).
const TOP: &str = include_str!("../../tacker-core/tests/vnfd/top.yaml");
const TYPES: &str = include_str!("../../tacker-core/tests/vnfd/types.yaml");
const FLAVOUR: &str = include_str!("../../tacker-core/tests/vnfd/df_simple.yaml");
const SCRIPT: &str = "print('hook')\n";
const VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000001";

/// The bound of every wait: an operation that takes longer fails the benchmark.
const WAIT: Duration = Duration::from_secs(10);

/// The `instantiate_end` hook, doing nothing.
#[derive(Debug)]
struct QuietMgmt;

#[async_trait]
impl MgmtDriver for QuietMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, _ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        Ok(MgmtOutcome::default())
    }
}

/// A [`MemoryStore`] that wakes every waiter on `committed` after each commit.
#[derive(Debug, Default)]
struct SignallingStore {
    inner: MemoryStore,
    committed: Arc<Notify>,
}

#[async_trait]
impl Store for SignallingStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> Result<Versioned<Record>> {
        self.inner.get(tenant, kind, id).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<Versioned<Record>>> {
        self.inner.list(tenant, kind, query).await
    }

    async fn commit(&self, tenant: &TenantId, writes: Vec<StoreWrite>) -> Result<Vec<u64>> {
        let versions = self.inner.commit(tenant, writes).await?;
        self.committed.notify_waiters();
        Ok(versions)
    }

    async fn claim_ops(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedOp>> {
        self.inner.claim_ops(owner, now, ttl, max).await
    }

    async fn renew_op_lease(
        &self,
        lease: &OpLease,
        now: DateTime,
        ttl: Duration,
    ) -> Result<OpLease> {
        self.inner.renew_op_lease(lease, now, ttl).await
    }

    async fn release_op_lease(&self, lease: &OpLease) -> Result<()> {
        self.inner.release_op_lease(lease).await
    }

    async fn claim_notifications(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<OutboxEntry>> {
        self.inner.claim_notifications(owner, now, ttl, max).await
    }

    async fn ack_notification(&self, entry: &OutboxEntry) -> Result<()> {
        self.inner.ack_notification(entry).await
    }

    async fn retry_notification(
        &self,
        entry: &OutboxEntry,
        not_before: DateTime,
        error: &str,
    ) -> Result<()> {
        self.inner
            .retry_notification(entry, not_before, error)
            .await
    }

    async fn outbox_depth(&self) -> Result<u64> {
        self.inner.outbox_depth().await
    }
}

fn package_zip() -> Bytes {
    let mut script = SCRIPT.as_bytes();
    let hash = tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut script)
        .expect("a digest of bytes in memory");
    let meta = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: tacker-benches\n\
                Entry-Definitions: Definitions/top.yaml\nETSI-Entry-Manifest: manifest.mf\n";
    let manifest = format!(
        "metadata:\n  vnf_provider_id: Example\n  vnf_product_name: Reader Test VNF\n  \
         vnf_release_date_time: 2026-01-01T00:00:00+00:00\n  vnf_package_version: 1.0\n  \
         compatible_specification_versions: 3.3.1\n\n\
         Source: Scripts/mgmt.py\nAlgorithm: SHA-256\nHash: {hash}\n"
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in [
        ("TOSCA-Metadata/TOSCA.meta", meta),
        ("manifest.mf", &manifest),
        ("Definitions/top.yaml", TOP),
        ("Definitions/types.yaml", TYPES),
        ("Definitions/df_simple.yaml", FLAVOUR),
        ("Scripts/mgmt.py", SCRIPT),
    ] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("a zip entry");
        zip.write_all(content.as_bytes()).expect("zip content");
    }
    Bytes::from(zip.finish().expect("a finished zip").into_inner())
}

/// How a benchmark waits for an operation to end.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// `VnfLcm::wait_for` (a 5 ms poll).
    WaitFor,
    /// Read the op occurrence after each commit to the store.
    Notified,
}

/// One NOT_INSTANTIATED VNF instance and a running engine.
struct Fixture {
    runtime: Runtime,
    lcm: VnfLcm,
    committed: Arc<Notify>,
    executor: Option<Executor>,
    tenant: TenantId,
    instance_id: String,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let tenant = TenantId::default();
        let store = Arc::new(SignallingStore::default());
        let committed = store.committed.clone();
        let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
            .build()
            .expect("package manager");
        let lcm = VnfLcm::builder()
            .store(store)
            .packages(Arc::new(packages.clone()))
            .infra_driver(Arc::new(SimInfraDriver::new()))
            .mgmt_driver(Arc::new(QuietMgmt))
            .default_vim("vim1", sample_vim())
            .config(LcmConfig {
                poll_interval: Duration::from_millis(1),
                ..LcmConfig::default()
            })
            .build()
            .expect("an engine");
        let instance_id = runtime.block_on(async {
            let package = packages
                .create(&tenant, CreateVnfPkgInfoRequest::default())
                .await
                .expect("a package");
            packages
                .upload_content(&tenant, &package.id, package_zip())
                .await
                .expect("the package onboards");
            let request = CreateVnfRequest {
                vnfd_id: VNFD_ID.to_owned(),
                vnf_instance_name: Some("bench".to_owned()),
                ..CreateVnfRequest::default()
            };
            lcm.create_vnf(&tenant, request)
                .await
                .expect("a VNF identifier")
                .id
        });
        let executor = {
            let _entered = runtime.enter();
            lcm.start()
        };
        Self {
            runtime,
            lcm,
            committed,
            executor: Some(executor),
            tenant,
            instance_id,
        }
    }

    async fn wait(&self, op: &VnfLcmOpOcc, wait: Wait) -> VnfLcmOpOcc {
        let done = match wait {
            Wait::WaitFor => self
                .lcm
                .wait_for(&self.tenant, &op.id, &[], WAIT)
                .await
                .expect("the operation ends in time"),
            Wait::Notified => {
                let deadline = tokio::time::Instant::now() + WAIT;
                loop {
                    // Registered before the read, so a commit in between is not missed.
                    let mut committed = std::pin::pin!(self.committed.notified());
                    committed.as_mut().enable();
                    let now = self
                        .lcm
                        .op_occ(&self.tenant, &op.id)
                        .await
                        .expect("the op occurrence");
                    if now.operation_state.is_final() || now.operation_state == State::FailedTemp {
                        break now;
                    }
                    tokio::time::timeout_at(deadline, committed)
                        .await
                        .expect("the operation ends in time");
                }
            }
        };
        assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
        done
    }

    async fn instantiate(&self, wait: Wait) -> VnfLcmOpOcc {
        let request = InstantiateVnfRequest {
            flavour_id: "simple".to_owned(),
            ..InstantiateVnfRequest::default()
        };
        let op = self
            .lcm
            .instantiate(&self.tenant, &self.instance_id, request)
            .await
            .expect("instantiate is accepted");
        self.wait(&op, wait).await
    }

    async fn terminate(&self, wait: Wait) -> VnfLcmOpOcc {
        let request = TerminateVnfRequest {
            termination_type: TerminationType::Forceful,
            graceful_termination_timeout: None,
            additional_params: Default::default(),
        };
        let op = self
            .lcm
            .terminate(&self.tenant, &self.instance_id, request)
            .await
            .expect("terminate is accepted");
        self.wait(&op, wait).await
    }

    /// Runs `timed` `iters` times, each between the untimed operations that make it
    /// possible, and adds up what `timed` measured.
    fn iterate<F, Fut>(&self, iters: u64, instantiating: bool, timed: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Duration>,
    {
        self.runtime.block_on(async {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if instantiating {
                    total += timed().await;
                    self.terminate(Wait::WaitFor).await;
                } else {
                    self.instantiate(Wait::WaitFor).await;
                    total += timed().await;
                }
            }
            total
        })
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(executor) = self.executor.take() {
            self.runtime.block_on(executor.shutdown());
        }
    }
}

/// The time from just before the request to the engine's COMPLETED, by its clock.
fn engine_time(requested: chrono::DateTime<Utc>, done: &VnfLcmOpOcc) -> Duration {
    (done.state_entered_time - requested)
        .to_std()
        .expect("COMPLETED is entered after the request")
}

fn cycles(c: &mut Criterion, fixture: &Fixture) {
    let mut group = c.benchmark_group("lcm_cycle");
    group.throughput(Throughput::Elements(1));
    for (name, wait) in [("wait_for", Wait::WaitFor), ("notified", Wait::Notified)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                fixture.runtime.block_on(async {
                    fixture.instantiate(wait).await;
                    fixture.terminate(wait).await;
                });
            });
        });
    }
    group.finish();
}

fn single_operations(c: &mut Criterion, fixture: &Fixture) {
    for instantiating in [true, false] {
        let mut group = c.benchmark_group(if instantiating {
            "lcm_instantiate"
        } else {
            "lcm_terminate"
        });
        let op = |wait: Wait| async move {
            if instantiating {
                fixture.instantiate(wait).await
            } else {
                fixture.terminate(wait).await
            }
        };
        for (name, wait) in [("wait_for", Wait::WaitFor), ("notified", Wait::Notified)] {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    fixture.iterate(iters, instantiating, || async {
                        let start = std::time::Instant::now();
                        op(wait).await;
                        start.elapsed()
                    })
                });
            });
        }
        group.bench_function("engine_clock", |b| {
            b.iter_custom(|iters| {
                fixture.iterate(iters, instantiating, || async {
                    let requested = Utc::now();
                    let done = op(Wait::WaitFor).await;
                    engine_time(requested, &done)
                })
            });
        });
        group.finish();
    }
}

fn lcm(c: &mut Criterion) {
    let fixture = Fixture::new();
    cycles(c, &fixture);
    single_operations(c, &fixture);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    targets = lcm
}
criterion_main!(benches);
