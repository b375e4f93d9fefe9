//! Fault injection: a [`Store`] that fails one chosen call, for tests that prove every
//! error an executor meets ends in a recorded state.
//!
//! [`FaultyStore`] wraps a store and counts the calls made through it (reads, listings,
//! commits and lease renewals). Armed with [`FaultyStore::fail_call`], the call with
//! that number fails with the chosen error instead of reaching the store; every other
//! call passes through unchanged. [`FaultyStore::fail_after_each_claim`] makes the fault
//! persistent: the `nth` call after every claim of an operation fails, as a step that
//! can never succeed would. It also counts how often each op occurrence is claimed, so a
//! test can bound the claims an operation needs to reach a state, it can slow commits
//! down to widen the window between a read and the commit built on it or let other
//! tasks run after each read, and it counts the commits refused with `Conflict`.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::DateTime;
use crate::store::{
    ClaimedOp, ListQuery, OpLease, OutboxEntry, Page, Record, RecordKind, Store, Versioned, Write,
};
use crate::{Error, Result, TenantId};

/// A store that fails the call armed with [`FaultyStore::fail_call`].
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    calls: AtomicU64,
    armed: Mutex<Option<Fault>>,
    commit_delay: Mutex<Duration>,
    read_yields: AtomicU64,
    conflicts: AtomicU64,
    fired: Mutex<Option<String>>,
    claims: Mutex<HashMap<String, u32>>,
    persistent: Option<bool>,
}

impl FaultyStore {
    /// A pass-through wrapper of `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            armed: Mutex::new(None),
            commit_delay: Mutex::new(Duration::ZERO),
            read_yields: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            fired: Mutex::new(None),
            claims: Mutex::new(HashMap::new()),
            persistent: None,
        }
    }

    /// The same wrapper, claiming to outlive the process (as a database does) whatever
    /// it wraps: for tests of what components demand of a persistent store.
    pub fn claiming_persistence(mut self) -> Self {
        self.persistent = Some(true);
        self
    }

    /// The calls counted so far (reads, listings, commits and lease renewals).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Fails the `nth` counted call from now on (1: the next one) with `error`.
    pub fn fail_call(&self, nth: u64, error: fn() -> Error) {
        self.arm(Fault {
            at: self.calls() + nth.max(1),
            nth,
            every_claim: false,
            error,
        });
    }

    /// Fails the `nth` counted call after each claim of an operation (1: the first call
    /// the executor makes), every time the operation is claimed again.
    pub fn fail_after_each_claim(&self, nth: u64, error: fn() -> Error) {
        self.arm(Fault {
            at: u64::MAX,
            nth,
            every_claim: true,
            error,
        });
    }

    /// After every read, lets other tasks run `times` times before answering (as a
    /// database round trip would), so that reads and writes of concurrent tasks
    /// interleave.
    pub fn yield_after_reads(&self, times: u64) {
        self.read_yields.store(times, Ordering::SeqCst);
    }

    /// How many commits the store refused with `Conflict`.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::SeqCst)
    }

    /// Disarms the fault.
    pub fn disarm(&self) {
        if let Ok(mut armed) = self.armed.lock() {
            *armed = None;
        }
    }

    /// Every commit waits this long before it reaches the store.
    pub fn delay_commits(&self, delay: Duration) {
        if let Ok(mut commit_delay) = self.commit_delay.lock() {
            *commit_delay = delay;
        }
    }

    fn arm(&self, fault: Fault) {
        if let Ok(mut armed) = self.armed.lock() {
            *armed = Some(fault);
        }
        if let Ok(mut fired) = self.fired.lock() {
            *fired = None;
        }
    }

    /// What the armed fault hit, once it fired (`commit`, `get VnfInstance`, …).
    pub fn fired(&self) -> Option<String> {
        self.fired.lock().ok().and_then(|fired| fired.clone())
    }

    /// How many times an op occurrence was claimed through this store.
    pub fn claims_of(&self, op_occ_id: &str) -> u32 {
        self.claims
            .lock()
            .ok()
            .and_then(|claims| claims.get(op_occ_id).copied())
            .unwrap_or(0)
    }

    fn count(&self, what: impl FnOnce() -> String) -> Result<()> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let Ok(mut armed) = self.armed.lock() else {
            return Ok(());
        };
        match armed.as_ref() {
            Some(fault) if fault.at == call => {
                let error = (fault.error)();
                if !fault.every_claim {
                    *armed = None;
                }
                if let Ok(mut fired) = self.fired.lock() {
                    *fired = Some(what());
                }
                Err(error)
            }
            _ => Ok(()),
        }
    }
}

/// An armed fault: the call numbered `at` fails with `error()`.
#[derive(Debug)]
struct Fault {
    at: u64,
    nth: u64,
    every_claim: bool,
    error: fn() -> Error,
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> Result<Versioned<Record>> {
        self.count(|| format!("get {kind:?}"))?;
        let found = self.inner.get(tenant, kind, id).await;
        for _ in 0..self.read_yields.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        found
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<Versioned<Record>>> {
        self.count(|| format!("list {kind:?}"))?;
        self.inner.list(tenant, kind, query).await
    }

    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        self.count(|| format!("commit of {} writes", writes.len()))?;
        let delay = self
            .commit_delay
            .lock()
            .map(|delay| *delay)
            .unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let result = self.inner.commit(tenant, writes).await;
        if result.as_ref().is_err_and(Error::is_conflict) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    async fn claim_ops(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedOp>> {
        let claimed = self.inner.claim_ops(owner, now, ttl, max).await?;
        if let Ok(mut claims) = self.claims.lock() {
            for op in &claimed {
                *claims.entry(op.op.value.op.id.clone()).or_default() += 1;
            }
        }
        if !claimed.is_empty()
            && let Ok(mut armed) = self.armed.lock()
            && let Some(fault) = armed.as_mut()
            && fault.every_claim
        {
            fault.at = self.calls() + fault.nth.max(1);
        }
        Ok(claimed)
    }

    async fn renew_op_lease(
        &self,
        lease: &OpLease,
        now: DateTime,
        ttl: Duration,
    ) -> Result<OpLease> {
        self.count(|| "renew_op_lease".to_owned())?;
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

    fn is_persistent(&self) -> bool {
        self.persistent
            .unwrap_or_else(|| self.inner.is_persistent())
    }
}
