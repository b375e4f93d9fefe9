//! No operation gets stuck: every error the executor meets moves the op to a state, and
//! an operation is accepted only against the instance state it was validated on.
//!
//! - `concurrent_scales_are_accepted_only_on_the_state_they_were_checked_on` races scale
//!   requests on one instance against the operations that change its scale level.
//! - `an_error_at_any_store_call_of_the_executor_ends_in_a_state` fails, one run each,
//!   every store call an operation makes, and checks where the op ends.

mod support;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest,
    LcmOperationStateType as State, ScaleType, ScaleVnfRequest,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SimInfraDriver, sample_vim};
use tacker_core::store::{MemoryStore, Store};
use tacker_core::testkit::faults::FaultyStore;
use tacker_core::{Error, TenantId};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct NoopMgmt;

#[async_trait]
impl MgmtDriver for NoopMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, _ctx: &MgmtContext<'_>) -> tacker_core::Result<MgmtOutcome> {
        Ok(MgmtOutcome::default())
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    faulty: Arc<FaultyStore>,
    packages: VnfPackageManager,
    sim: SimInfraDriver,
    tenant: TenantId,
}

async fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
        .build()
        .expect("package manager");
    let tenant = TenantId::default();
    let pkg = packages
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create package");
    packages
        .upload_content(&tenant, &pkg.id, support::package_zip(support::TOP))
        .await
        .expect("onboard");
    Fixture {
        faulty: Arc::new(FaultyStore::new(store.clone())),
        store,
        packages,
        sim: SimInfraDriver::default(),
        tenant,
    }
}

impl Fixture {
    /// An engine on `store`; the executor of the tests runs on the faulty one, the
    /// requests and waits go through an engine on the plain store, so that only the
    /// executor's calls are counted.
    fn engine(&self, store: Arc<dyn Store>, lease_ttl: Duration) -> VnfLcm {
        VnfLcm::builder()
            .store(store)
            .packages(Arc::new(self.packages.clone()))
            .infra_driver(Arc::new(self.sim.clone()))
            .mgmt_driver(Arc::new(NoopMgmt))
            .default_vim("vim1", sample_vim())
            .config(LcmConfig {
                lease_ttl,
                poll_interval: Duration::from_millis(10),
                ..LcmConfig::default()
            })
            .build()
            .expect("engine")
    }

    async fn instantiated(&self, lcm: &VnfLcm) -> String {
        let id = lcm
            .create_vnf(
                &self.tenant,
                CreateVnfRequest {
                    vnfd_id: support::VNFD_ID.into(),
                    ..CreateVnfRequest::default()
                },
            )
            .await
            .expect("create VNF")
            .id;
        let op = lcm
            .instantiate(
                &self.tenant,
                &id,
                InstantiateVnfRequest {
                    flavour_id: "simple".into(),
                    ..InstantiateVnfRequest::default()
                },
            )
            .await
            .expect("instantiate accepted");
        let op = lcm
            .wait_for(&self.tenant, &op.id, &[], WAIT)
            .await
            .expect("instantiate ends");
        assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
        id
    }
}

fn scale(scale_type: ScaleType) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type,
        aspect_id: "worker".into(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    }
}

async fn level(lcm: &VnfLcm, tenant: &TenantId, id: &str) -> u32 {
    lcm.instance(tenant, id)
        .await
        .expect("instance")
        .instantiated_vnf_info
        .and_then(|info| info.scale_status.first().map(|s| s.scale_level))
        .unwrap_or_default()
}

/// Four clients each send scale requests, choosing the direction from the level they
/// read (out below the maximum of 2, in above 0), while the operations of the others
/// run. A request validated against a level that an operation ending meanwhile moved
/// must be refused (409), never accepted to fail in the executor; every accepted one
/// completes, each claimed once or twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scales_are_accepted_only_on_the_state_they_were_checked_on() {
    let f = fixture().await;
    let executor_engine = f.engine(f.faulty.clone(), Duration::from_secs(5));
    let executor = executor_engine.start();
    // Requests commit 40 ms after they were checked, long enough for the operation of
    // another client to be accepted, run and end in between.
    let slow = Arc::new(FaultyStore::new(f.store.clone()));
    slow.delay_commits(Duration::from_millis(40));
    let lcm = f.engine(slow, Duration::from_secs(5));
    let id = f.instantiated(&lcm).await;
    let mut clients = Vec::new();
    for client in 0..4u32 {
        let (lcm, tenant, id) = (lcm.clone(), f.tenant.clone(), id.clone());
        clients.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            let mut refused = 0u32;
            for _ in 0..40u32 {
                // Towards the edge the others move away from: at level 1, half the
                // clients scale out and half in, so that one ending first leaves the
                // other's request invalid.
                let current = level(&lcm, &tenant, &id).await;
                let direction = match current {
                    0 => ScaleType::ScaleOut,
                    2 => ScaleType::ScaleIn,
                    _ if client % 2 == 0 => ScaleType::ScaleOut,
                    _ => ScaleType::ScaleIn,
                };
                match lcm.scale(&tenant, &id, scale(direction)).await {
                    Ok(op) => {
                        let op = lcm
                            .wait_for(&tenant, &op.id, &[], WAIT)
                            .await
                            .expect("an accepted scale ends");
                        accepted.push(op);
                    }
                    Err(error) if error.is_conflict() => refused += 1,
                    Err(Error::Unprocessable(_)) => refused += 1,
                    Err(other) => panic!("unexpected refusal: {other}"),
                }
            }
            (accepted, refused)
        }));
    }
    let mut accepted = Vec::new();
    for client in clients {
        let (ops, _) = client.await.expect("client");
        accepted.extend(ops);
    }
    assert!(!accepted.is_empty(), "some scale requests were accepted");
    for op in &accepted {
        assert_eq!(
            op.operation_state,
            State::Completed,
            "an accepted scale failed: {:?}",
            op.error
        );
        let claims = f.faulty.claims_of(&op.id);
        assert!(
            (1..=2).contains(&claims),
            "op {} was claimed {claims} times",
            op.id
        );
    }
    executor.shutdown().await;
}

/// What one run with a fault at store call `nth` ended as: the op's state.
#[derive(Debug)]
enum Outcome {
    Ended(State),
}

/// Every store call the executor makes while it runs a scale out fails, in its own run,
/// each time the op is claimed (a step that can never succeed, as a request the instance
/// no longer allows): whatever step it hits, the op leaves STARTING / PROCESSING /
/// ROLLING_BACK within a bounded number of claims, with the error recorded; once the
/// fault is gone, a FAILED_TEMP op completes on retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_at_any_store_call_of_the_executor_ends_in_a_state() {
    // One clean run counts the calls an operation makes.
    let clean = run_with_fault(None).await;
    assert!(
        matches!(clean.0, Outcome::Ended(State::Completed)),
        "{clean:?}"
    );
    let calls = clean.1;
    assert!(
        calls > 5,
        "a scale makes several store calls, counted {calls}"
    );
    let errors: [fn() -> Error; 4] = [
        || Error::Store {
            message: "injected: connection reset".into(),
            retryable: true,
        },
        || Error::stale_version("VnfLcmOpOcc", "injected", 1, 2),
        || Error::Internal("injected: broken invariant".into()),
        || Error::Unprocessable("injected: scaling aspect worker is at level 2 of 0..2".into()),
    ];
    let mut hit = std::collections::BTreeSet::new();
    for nth in 1..=calls + 2 {
        let error = errors[usize::try_from(nth).unwrap_or_default() % errors.len()];
        let (outcome, _, fired) = run_with_fault(Some((nth, error))).await;
        if let Some(fired) = fired {
            hit.insert(fired);
        }
        match outcome {
            Outcome::Ended(State::Completed) => {}
            Outcome::Ended(State::FailedTemp | State::RolledBack) => {}
            Outcome::Ended(other) => panic!("fault at call {nth}: the op ended {other}"),
        }
    }
    assert!(
        hit.iter().any(|h| h.starts_with("commit")) && hit.iter().any(|h| h.starts_with("get")),
        "faults hit commits and reads: {hit:?}"
    );
}

/// Instantiates, then scales out once with the executor's `nth` store call after each
/// claim failing. Returns the outcome, the number of calls made from the request on,
/// and what the fault hit.
async fn run_with_fault(fault: Option<(u64, fn() -> Error)>) -> (Outcome, u64, Option<String>) {
    let f = fixture().await;
    // Short leases: an op whose failure could not be recorded is taken over soon.
    let executor_engine = f.engine(f.faulty.clone(), Duration::from_millis(600));
    let client = f.engine(f.store.clone(), Duration::from_millis(600));
    let executor = executor_engine.start();
    let id = f.instantiated(&client).await;
    let start = f.faulty.calls();
    if let Some((nth, error)) = fault {
        f.faulty.fail_after_each_claim(nth, error);
    }
    let accepted = client
        .scale(&f.tenant, &id, scale(ScaleType::ScaleOut))
        .await;
    let op = accepted.expect("the scale is accepted");
    let ended = client
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .unwrap_or_else(|error| panic!("{error}; the fault hit {:?}", f.faulty.fired()));
    let claims = f.faulty.claims_of(&op.id);
    assert!(
        claims <= 3,
        "op claimed {claims} times; the fault hit {:?}",
        f.faulty.fired()
    );
    if ended.operation_state != State::Completed {
        assert!(
            ended.error.is_some(),
            "a failed op records why; the fault hit {:?}",
            f.faulty.fired()
        );
    }
    let calls = f.faulty.calls() - start;
    f.faulty.disarm();
    if ended.operation_state == State::FailedTemp {
        let retried = client.retry(&f.tenant, &op.id).await.expect("retry");
        let retried = client
            .wait_for(&f.tenant, &retried.id, &[], WAIT)
            .await
            .expect("the retry ends");
        assert_eq!(
            retried.operation_state,
            State::Completed,
            "retry after a fault at {:?}: {:?}",
            f.faulty.fired(),
            retried.error
        );
    }
    executor.shutdown().await;
    (
        Outcome::Ended(ended.operation_state),
        calls,
        f.faulty.fired(),
    )
}
