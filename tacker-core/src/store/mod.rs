//! Persistence: the `Store` trait, the records it keeps, and the in-memory store.
//!
//! A store keeps six kinds of [`Record`] per tenant, each with a version for optimistic
//! concurrency, plus two queues: op-occurrence leases (who runs which operation) and
//! the notification outbox. All writes go through [`Store::commit`], which applies a
//! batch of [`Write`]s atomically: a state change and the notifications that report it
//! are stored together or not at all.
//!
//! Invariants every implementation enforces (the conformance suite in
//! `tacker_core::testkit::store` checks them):
//! - tenant scoping: nothing of one tenant is visible to another;
//! - versions: an update, check or delete naming a stale version fails with
//!   [`Error::StaleVersion`](crate::Error::StaleVersion);
//! - unique keys ([`Record::unique_keys`]): among them, *at most one operation in
//!   progress per VNF instance*, one onboarded package per vnfdId, one VIM per name and
//!   one default VIM per tenant — a violating write fails with `Conflict`, or with
//!   [`Error::OperationInProgress`](crate::Error::OperationInProgress) naming the
//!   holder when the key is the operation in progress of a VNF instance;
//! - listing is ordered by id (ids are UUIDv7, so by creation time) with keyset paging.

pub mod marker;
mod memory;
mod records;

pub use memory::MemoryStore;
pub use records::*;

use async_trait::async_trait;
use std::time::Duration;

use crate::filter::Filter;
use crate::model::DateTime;
use crate::{Result, TenantId};

/// A record with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The version: 1 after insert, +1 per update.
    pub version: u64,
    /// The record.
    pub value: T,
}

/// One write of a [`Store::commit`] batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Create a record; `Conflict` if its id or a unique key is taken.
    Insert(Record),
    /// Replace a record read at `expected_version`; `StaleVersion` if it changed since,
    /// `NotFound` if it is gone.
    Update {
        /// The new content.
        record: Record,
        /// The version the caller read.
        expected_version: u64,
    },
    /// Remove a record; with `expected_version`, only if unchanged (`StaleVersion`
    /// otherwise). Deleting a
    /// subscription also drops its undelivered notifications.
    Delete {
        /// The kind of record.
        kind: RecordKind,
        /// Its id.
        id: String,
        /// The version the caller read, if it wants the check.
        expected_version: Option<u64>,
    },
    /// Queue a notification for a subscription (in the commit's tenant).
    Notify(NewNotification),
    /// Change nothing, but fail the whole commit with `StaleVersion` unless the record is
    /// still at `expected_version` (`NotFound` if it is gone): a decision taken on a
    /// record read earlier is committed only if that record did not change since.
    Check {
        /// The kind of record.
        kind: RecordKind,
        /// Its id.
        id: String,
        /// The version the decision was taken on.
        expected_version: u64,
    },
}

/// A notification to queue in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// The subscription it is for.
    pub subscription_id: String,
    /// The notification, ready to send.
    pub payload: serde_json::Value,
}

/// A queued notification, claimed by a sender.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Position in the outbox; delivery follows it per subscription.
    pub seq: u64,
    /// The tenant of the subscription.
    pub tenant: TenantId,
    /// The subscription.
    pub subscription_id: String,
    /// The notification.
    pub payload: serde_json::Value,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// The claimer.
    pub lease_owner: String,
    /// Until when the claim holds.
    pub lease_expires_at: DateTime,
}

/// How to list records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Only records whose ETSI view ([`Record::etsi_view`]) matches.
    pub filter: Option<Filter>,
    /// At most this many records (all when `None`).
    pub limit: Option<usize>,
    /// Continue after this marker (`Page::next_marker` of the previous page).
    pub after: Option<String>,
}

impl ListQuery {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Records matching a filter.
    pub fn filtered(filter: Filter) -> Self {
        Self {
            filter: Some(filter),
            ..Self::default()
        }
    }

    /// Sets the page size.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after a marker.
    pub fn after(mut self, marker: Option<String>) -> Self {
        self.after = marker;
        self
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records, ordered by id.
    pub items: Vec<T>,
    /// Present when more records follow: pass it as `ListQuery::after`. Opaque.
    pub next_marker: Option<String>,
}

impl<T> Page<T> {
    /// The same page with every item converted.
    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(convert).collect(),
            next_marker: self.next_marker,
        }
    }
}

/// An operation occurrence claimed by an executor.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedOp {
    /// The tenant of the operation.
    pub tenant: TenantId,
    /// The operation, at its current version.
    pub op: Versioned<OpOccRecord>,
    /// The lease, to renew and release.
    pub lease: OpLease,
    /// The owner of an earlier lease that expired while the op was runnable: that
    /// executor stopped in the middle of the operation.
    pub expired_owner: Option<String>,
}

/// The right to run one operation occurrence until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpLease {
    /// The tenant of the operation.
    pub tenant: TenantId,
    /// The operation occurrence.
    pub op_occ_id: String,
    /// The executor holding it.
    pub owner: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime,
}

/// Persistence for packages, instances, op occurrences, VIMs, subscriptions, leases and
/// the notification outbox. Object safe: use it as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// One record. `NotFound` when it does not exist in this tenant.
    async fn get(&self, tenant: &TenantId, kind: RecordKind, id: &str)
    -> Result<Versioned<Record>>;

    /// One record unless it is still at `version`: `None` when it is (the caller's copy
    /// is current). `NotFound` when it does not exist in this tenant. A store that can
    /// tell the version apart from the record answers an unchanged one without reading
    /// or decoding it.
    async fn get_if_changed(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        version: u64,
    ) -> Result<Option<Versioned<Record>>> {
        let found = self.get(tenant, kind, id).await?;
        Ok((found.version != version).then_some(found))
    }

    /// Records of one kind, ordered by id, filtered and paged as asked.
    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<Versioned<Record>>>;

    /// [`list`](Self::list), each record given as its [`Record::summary`]: what a list
    /// with the default attribute selector shows. A store that keeps the summaries
    /// beside the records answers without decoding a record, unless the query's filter
    /// needs it.
    async fn list_summaries(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<String>> {
        Ok(self
            .list(tenant, kind, query)
            .await?
            .map(|record| record.value.summary()))
    }

    /// Apply the writes atomically, in order. Returns the new version of each Insert and
    /// Update, in order (0 for Delete, Notify and Check). On error nothing is applied.
    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>>;

    /// Claim up to `max` runnable op occurrences (STARTING, PROCESSING, ROLLING_BACK)
    /// that have no lease or whose lease expired before `now`, across tenants, oldest
    /// first. Two concurrent callers never receive the same op.
    async fn claim_ops(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedOp>>;

    /// Extend a lease. `Conflict` when it is no longer held by its owner.
    async fn renew_op_lease(
        &self,
        lease: &OpLease,
        now: DateTime,
        ttl: Duration,
    ) -> Result<OpLease>;

    /// Give a lease up. Committing an op that is no longer runnable (COMPLETED,
    /// FAILED_TEMP, FAILED, ROLLED_BACK) releases its lease too. Idempotent.
    async fn release_op_lease(&self, lease: &OpLease) -> Result<()>;

    /// Claim up to `max` notifications due at `now`: for each subscription only its
    /// oldest undelivered one, so delivery stays in order, and none claimed by another
    /// sender whose claim has not expired.
    async fn claim_notifications(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<OutboxEntry>>;

    /// The notification was delivered (or given up): remove it.
    async fn ack_notification(&self, entry: &OutboxEntry) -> Result<()>;

    /// Delivery failed: keep it for another attempt at `not_before`.
    async fn retry_notification(
        &self,
        entry: &OutboxEntry,
        not_before: DateTime,
        error: &str,
    ) -> Result<()>;

    /// How many notifications of every tenant wait for delivery (for monitoring).
    async fn outbox_depth(&self) -> Result<u64>;

    /// Whether what is stored outlives this process (a database: `true`, the default)
    /// or not ([`MemoryStore`]). Components that seal secrets into a persistent store
    /// need a sealing key that outlives the process too.
    fn is_persistent(&self) -> bool {
        true
    }
}

/// Typed conveniences over any [`Store`].
#[async_trait]
pub trait StoreExt: Store {
    /// One record of a known type.
    async fn get_typed<T: StoredRecord>(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<T>> {
        let found = self.get(tenant, T::KIND, id).await?;
        Ok(Versioned {
            version: found.version,
            value: T::from_record(found.value)?,
        })
    }

    /// One record of a known type unless it is still at `version` (see
    /// [`Store::get_if_changed`]).
    async fn get_typed_if_changed<T: StoredRecord>(
        &self,
        tenant: &TenantId,
        id: &str,
        version: u64,
    ) -> Result<Option<Versioned<T>>> {
        let Some(found) = self.get_if_changed(tenant, T::KIND, id, version).await? else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            version: found.version,
            value: T::from_record(found.value)?,
        }))
    }

    /// Records of a known type.
    async fn list_typed<T: StoredRecord>(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Versioned<T>>> {
        let page = self.list(tenant, T::KIND, query).await?;
        let items = page
            .items
            .into_iter()
            .map(|v| {
                Ok(Versioned {
                    version: v.version,
                    value: T::from_record(v.value)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_marker: page.next_marker,
        })
    }

    /// Insert one record; returns its version (1).
    async fn insert<T: StoredRecord>(&self, tenant: &TenantId, value: T) -> Result<u64> {
        let versions = self
            .commit(tenant, vec![Write::Insert(value.into_record())])
            .await?;
        Ok(versions.first().copied().unwrap_or(1))
    }

    /// Update one record read at `expected_version`; returns the new version.
    async fn update<T: StoredRecord>(
        &self,
        tenant: &TenantId,
        value: T,
        expected_version: u64,
    ) -> Result<u64> {
        let write = Write::Update {
            record: value.into_record(),
            expected_version,
        };
        let versions = self.commit(tenant, vec![write]).await?;
        Ok(versions.first().copied().unwrap_or(expected_version + 1))
    }

    /// Delete one record, optionally only at `expected_version`.
    async fn delete<T: StoredRecord>(
        &self,
        tenant: &TenantId,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<()> {
        let write = Write::Delete {
            kind: T::KIND,
            id: id.to_owned(),
            expected_version,
        };
        self.commit(tenant, vec![write]).await.map(|_| ())
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

#[async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> Result<Versioned<Record>> {
        (**self).get(tenant, kind, id).await
    }

    async fn get_if_changed(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        version: u64,
    ) -> Result<Option<Versioned<Record>>> {
        (**self).get_if_changed(tenant, kind, id, version).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<Versioned<Record>>> {
        (**self).list(tenant, kind, query).await
    }

    async fn list_summaries(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<String>> {
        (**self).list_summaries(tenant, kind, query).await
    }

    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        (**self).commit(tenant, writes).await
    }

    async fn claim_ops(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedOp>> {
        (**self).claim_ops(owner, now, ttl, max).await
    }

    async fn renew_op_lease(
        &self,
        lease: &OpLease,
        now: DateTime,
        ttl: Duration,
    ) -> Result<OpLease> {
        (**self).renew_op_lease(lease, now, ttl).await
    }

    async fn release_op_lease(&self, lease: &OpLease) -> Result<()> {
        (**self).release_op_lease(lease).await
    }

    async fn claim_notifications(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<OutboxEntry>> {
        (**self).claim_notifications(owner, now, ttl, max).await
    }

    async fn ack_notification(&self, entry: &OutboxEntry) -> Result<()> {
        (**self).ack_notification(entry).await
    }

    async fn retry_notification(
        &self,
        entry: &OutboxEntry,
        not_before: DateTime,
        error: &str,
    ) -> Result<()> {
        (**self).retry_notification(entry, not_before, error).await
    }

    async fn outbox_depth(&self) -> Result<u64> {
        (**self).outbox_depth().await
    }

    fn is_persistent(&self) -> bool {
        (**self).is_persistent()
    }
}

/// The deadline `ttl` after `now`.
pub fn lease_deadline(now: DateTime, ttl: Duration) -> DateTime {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}
