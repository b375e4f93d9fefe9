//! `MemoryStore`: the whole store in process memory, for tests, examples and embedders
//! that keep state elsewhere.

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{
    ClaimedOp, ListQuery, NewNotification, OpLease, OutboxEntry, Page, Record, RecordKind, Store,
    UniqueKey, Versioned, Write, lease_deadline, marker,
};
use crate::model::DateTime;
use crate::{Error, Result, TenantId};

/// A [`Store`] in memory. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::store("memory store lock poisoned by a panic", false))
    }
}

#[derive(Debug, Clone)]
struct Row {
    version: u64,
    record: Record,
    lease: Option<Lease>,
}

#[derive(Debug, Clone, PartialEq)]
struct Lease {
    owner: String,
    expires_at: DateTime,
}

#[derive(Debug, Clone)]
struct OutboxRow {
    tenant: TenantId,
    subscription_id: String,
    payload: serde_json::Value,
    attempts: u32,
    last_error: Option<String>,
    not_before: Option<DateTime>,
    lease: Option<Lease>,
}

type TableKey = (TenantId, RecordKind);
type UniqueSlot = (TenantId, &'static str, String);

#[derive(Debug, Default)]
struct State {
    tables: HashMap<TableKey, BTreeMap<String, Row>>,
    unique: HashMap<UniqueSlot, (RecordKind, String)>,
    /// Op occurrences in a runnable state, by id: what `claim_ops` scans.
    runnable: BTreeSet<(String, TenantId)>,
    outbox: BTreeMap<u64, OutboxRow>,
    next_seq: u64,
}

enum Undo {
    Row {
        tenant: TenantId,
        kind: RecordKind,
        id: String,
        prev: Option<Box<Row>>,
    },
    OutboxAdded(u64),
    OutboxRemoved(u64, OutboxRow),
}

fn is_runnable(record: &Record) -> bool {
    use crate::model::LcmOperationStateType as S;
    match record {
        Record::VnfLcmOpOcc(r) => matches!(
            r.op.operation_state,
            S::Starting | S::Processing | S::RollingBack
        ),
        _ => false,
    }
}

fn key_conflict(key: &UniqueKey, holder: &str) -> Error {
    match key.0 {
        "inProgressOn" => Error::operation_in_progress(&key.1, holder, None),
        other => Error::Conflict(describe_key_conflict(other, &key.1, holder)),
    }
}

fn describe_key_conflict(name: &str, value: &str, holder: &str) -> String {
    match name {
        "vnfdId" => format!("VNF package {holder} already provides vnfdId {value}"),
        "vimName" => format!("VIM {holder} already has the name '{value}'"),
        "defaultVim" => format!("VIM {holder} is already the default VIM"),
        "activeAlarm" => format!("alarm {holder} is already active for fault {value}"),
        other => format!("{other} '{value}' is already held by {holder}"),
    }
}

impl State {
    fn row(&self, tenant: &TenantId, kind: RecordKind, id: &str) -> Option<&Row> {
        self.tables.get(&(tenant.clone(), kind))?.get(id)
    }

    /// Replace (or remove) a row and keep every derived index in step. Returns the
    /// previous row, which `set_row` takes back on undo.
    fn set_row(
        &mut self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        new: Option<Row>,
    ) -> Option<Row> {
        let table = self.tables.entry((tenant.clone(), kind)).or_default();
        let prev = match new.clone() {
            Some(mut row) => {
                if !is_runnable(&row.record) {
                    row.lease = None;
                }
                table.insert(id.to_owned(), row)
            }
            None => table.remove(id),
        };
        if let Some(prev) = &prev {
            for (name, value) in prev.record.unique_keys() {
                let slot = (tenant.clone(), name, value);
                if self
                    .unique
                    .get(&slot)
                    .is_some_and(|(k, i)| *k == kind && i == id)
                {
                    self.unique.remove(&slot);
                }
            }
        }
        self.runnable.remove(&(id.to_owned(), tenant.clone()));
        if let Some(row) = &new {
            for (name, value) in row.record.unique_keys() {
                self.unique
                    .insert((tenant.clone(), name, value), (kind, id.to_owned()));
            }
            if is_runnable(&row.record) {
                self.runnable.insert((id.to_owned(), tenant.clone()));
            }
        }
        prev
    }

    fn check_unique(&self, tenant: &TenantId, record: &Record) -> Result<()> {
        let kind = record.kind();
        for key in record.unique_keys() {
            let slot = (tenant.clone(), key.0, key.1.clone());
            if let Some((holder_kind, holder_id)) = self.unique.get(&slot)
                && !(*holder_kind == kind && holder_id == record.id())
            {
                return Err(key_conflict(&key, holder_id));
            }
        }
        Ok(())
    }

    fn apply(&mut self, tenant: &TenantId, write: Write, undo: &mut Vec<Undo>) -> Result<u64> {
        match write {
            Write::Insert(record) => {
                let kind = record.kind();
                let id = record.id().to_owned();
                if self.row(tenant, kind, &id).is_some() {
                    return Err(Error::Conflict(format!(
                        "{} {id} already exists",
                        kind.resource_name()
                    )));
                }
                self.check_unique(tenant, &record)?;
                let row = Row {
                    version: 1,
                    record,
                    lease: None,
                };
                let prev = self.set_row(tenant, kind, &id, Some(row));
                undo.push(Undo::Row {
                    tenant: tenant.clone(),
                    kind,
                    id,
                    prev: prev.map(Box::new),
                });
                Ok(1)
            }
            Write::Update {
                record,
                expected_version,
            } => {
                let kind = record.kind();
                let id = record.id().to_owned();
                let current = self
                    .row(tenant, kind, &id)
                    .ok_or_else(|| Error::not_found(kind.resource_name(), &id))?;
                if current.version != expected_version {
                    return Err(Error::stale_version(
                        kind.resource_name(),
                        id,
                        expected_version,
                        current.version,
                    ));
                }
                let lease = current.lease.clone();
                self.check_unique(tenant, &record)?;
                let version = expected_version + 1;
                let row = Row {
                    version,
                    record,
                    lease,
                };
                let prev = self.set_row(tenant, kind, &id, Some(row));
                undo.push(Undo::Row {
                    tenant: tenant.clone(),
                    kind,
                    id,
                    prev: prev.map(Box::new),
                });
                Ok(version)
            }
            Write::Delete {
                kind,
                id,
                expected_version,
            } => {
                let current = self
                    .row(tenant, kind, &id)
                    .ok_or_else(|| Error::not_found(kind.resource_name(), &id))?;
                if let Some(expected) = expected_version
                    && current.version != expected
                {
                    return Err(Error::stale_version(
                        kind.resource_name(),
                        id,
                        expected,
                        current.version,
                    ));
                }
                let prev = self.set_row(tenant, kind, &id, None);
                undo.push(Undo::Row {
                    tenant: tenant.clone(),
                    kind,
                    id: id.clone(),
                    prev: prev.map(Box::new),
                });
                if kind.is_subscription() {
                    let doomed: Vec<u64> = self
                        .outbox
                        .iter()
                        .filter(|(_, row)| &row.tenant == tenant && row.subscription_id == id)
                        .map(|(seq, _)| *seq)
                        .collect();
                    for seq in doomed {
                        if let Some(row) = self.outbox.remove(&seq) {
                            undo.push(Undo::OutboxRemoved(seq, row));
                        }
                    }
                }
                Ok(0)
            }
            Write::Check {
                kind,
                id,
                expected_version,
            } => {
                let current = self
                    .row(tenant, kind, &id)
                    .ok_or_else(|| Error::not_found(kind.resource_name(), &id))?;
                if current.version != expected_version {
                    return Err(Error::stale_version(
                        kind.resource_name(),
                        id,
                        expected_version,
                        current.version,
                    ));
                }
                Ok(0)
            }
            Write::Notify(NewNotification {
                subscription_id,
                payload,
            }) => {
                let exists = RecordKind::SUBSCRIPTIONS
                    .into_iter()
                    .any(|kind| self.row(tenant, kind, &subscription_id).is_some());
                if !exists {
                    // The subscription is gone: nobody is left to notify.
                    return Ok(0);
                }
                self.next_seq += 1;
                let seq = self.next_seq;
                self.outbox.insert(
                    seq,
                    OutboxRow {
                        tenant: tenant.clone(),
                        subscription_id,
                        payload,
                        attempts: 0,
                        last_error: None,
                        not_before: None,
                        lease: None,
                    },
                );
                undo.push(Undo::OutboxAdded(seq));
                Ok(0)
            }
        }
    }

    fn undo(&mut self, undo: Vec<Undo>) {
        for step in undo.into_iter().rev() {
            match step {
                Undo::Row {
                    tenant,
                    kind,
                    id,
                    prev,
                } => {
                    self.set_row(&tenant, kind, &id, prev.map(|row| *row));
                }
                Undo::OutboxAdded(seq) => {
                    self.outbox.remove(&seq);
                }
                Undo::OutboxRemoved(seq, row) => {
                    self.outbox.insert(seq, row);
                }
            }
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get_if_changed(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        version: u64,
    ) -> Result<Option<Versioned<Record>>> {
        let state = self.lock()?;
        let row = state
            .row(tenant, kind, id)
            .ok_or_else(|| Error::not_found(kind.resource_name(), id))?;
        Ok((row.version != version).then(|| Versioned {
            version: row.version,
            value: row.record.clone(),
        }))
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> Result<Versioned<Record>> {
        let state = self.lock()?;
        let row = state
            .row(tenant, kind, id)
            .ok_or_else(|| Error::not_found(kind.resource_name(), id))?;
        Ok(Versioned {
            version: row.version,
            value: row.record.clone(),
        })
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<Versioned<Record>>> {
        let after = query.after.as_deref().map(marker::decode).transpose()?;
        let state = self.lock()?;
        let Some(table) = state.tables.get(&(tenant.clone(), kind)) else {
            return Ok(Page {
                items: Vec::new(),
                next_marker: None,
            });
        };
        let range = match &after {
            Some(id) => table.range::<String, _>((
                std::ops::Bound::Excluded(id.clone()),
                std::ops::Bound::Unbounded,
            )),
            None => table.range::<String, _>(..),
        };
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut next_marker = None;
        for (id, row) in range {
            if let Some(filter) = &query.filter
                && !filter.matches(&row.record.etsi_view())
            {
                continue;
            }
            if items.len() == limit {
                next_marker = items
                    .last()
                    .map(|last: &Versioned<Record>| marker::encode(last.value.id()));
                break;
            }
            let _ = id;
            items.push(Versioned {
                version: row.version,
                value: row.record.clone(),
            });
        }
        Ok(Page { items, next_marker })
    }

    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        let mut state = self.lock()?;
        let mut undo = Vec::new();
        let mut versions = Vec::with_capacity(writes.len());
        for write in writes {
            match state.apply(tenant, write, &mut undo) {
                Ok(version) => versions.push(version),
                Err(error) => {
                    state.undo(undo);
                    return Err(error);
                }
            }
        }
        Ok(versions)
    }

    async fn claim_ops(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedOp>> {
        let mut state = self.lock()?;
        let expires_at = lease_deadline(now, ttl);
        let candidates: Vec<(String, TenantId)> = state.runnable.iter().cloned().collect();
        let mut claimed = Vec::new();
        for (id, tenant) in candidates {
            if claimed.len() >= max {
                break;
            }
            let Some(row) = state
                .tables
                .get_mut(&(tenant.clone(), RecordKind::VnfLcmOpOcc))
                .and_then(|t| t.get_mut(&id))
            else {
                continue;
            };
            let expired_owner = match &row.lease {
                Some(lease) if lease.expires_at > now => continue,
                Some(lease) => Some(lease.owner.clone()),
                None => None,
            };
            row.lease = Some(Lease {
                owner: owner.to_owned(),
                expires_at,
            });
            let Record::VnfLcmOpOcc(op) = &row.record else {
                continue;
            };
            claimed.push(ClaimedOp {
                tenant: tenant.clone(),
                op: Versioned {
                    version: row.version,
                    value: (**op).clone(),
                },
                lease: OpLease {
                    tenant,
                    op_occ_id: id,
                    owner: owner.to_owned(),
                    expires_at,
                },
                expired_owner,
            });
        }
        Ok(claimed)
    }

    async fn renew_op_lease(
        &self,
        lease: &OpLease,
        now: DateTime,
        ttl: Duration,
    ) -> Result<OpLease> {
        let mut state = self.lock()?;
        let row = state
            .tables
            .get_mut(&(lease.tenant.clone(), RecordKind::VnfLcmOpOcc))
            .and_then(|t| t.get_mut(&lease.op_occ_id))
            .ok_or_else(|| Error::not_found("VnfLcmOpOcc", &lease.op_occ_id))?;
        match &mut row.lease {
            Some(held) if held.owner == lease.owner => {
                held.expires_at = lease_deadline(now, ttl);
                Ok(OpLease {
                    expires_at: held.expires_at,
                    ..lease.clone()
                })
            }
            _ => Err(Error::Conflict(format!(
                "the lease of {} is no longer held by {}",
                lease.op_occ_id, lease.owner
            ))),
        }
    }

    async fn release_op_lease(&self, lease: &OpLease) -> Result<()> {
        let mut state = self.lock()?;
        if let Some(row) = state
            .tables
            .get_mut(&(lease.tenant.clone(), RecordKind::VnfLcmOpOcc))
            .and_then(|t| t.get_mut(&lease.op_occ_id))
            && row.lease.as_ref().is_some_and(|l| l.owner == lease.owner)
        {
            row.lease = None;
        }
        Ok(())
    }

    async fn claim_notifications(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let mut state = self.lock()?;
        let expires_at = lease_deadline(now, ttl);
        let mut seen: HashSet<(TenantId, String)> = HashSet::new();
        let mut claimed = Vec::new();
        for (seq, row) in state.outbox.iter_mut() {
            if claimed.len() >= max {
                break;
            }
            if !seen.insert((row.tenant.clone(), row.subscription_id.clone())) {
                continue;
            }
            if row.lease.as_ref().is_some_and(|l| l.expires_at > now)
                || row.not_before.is_some_and(|t| t > now)
            {
                continue;
            }
            row.lease = Some(Lease {
                owner: owner.to_owned(),
                expires_at,
            });
            claimed.push(OutboxEntry {
                seq: *seq,
                tenant: row.tenant.clone(),
                subscription_id: row.subscription_id.clone(),
                payload: row.payload.clone(),
                attempts: row.attempts,
                last_error: row.last_error.clone(),
                lease_owner: owner.to_owned(),
                lease_expires_at: expires_at,
            });
        }
        Ok(claimed)
    }

    async fn ack_notification(&self, entry: &OutboxEntry) -> Result<()> {
        let mut state = self.lock()?;
        state.outbox.remove(&entry.seq);
        Ok(())
    }

    async fn retry_notification(
        &self,
        entry: &OutboxEntry,
        not_before: DateTime,
        error: &str,
    ) -> Result<()> {
        let mut state = self.lock()?;
        let row = state
            .outbox
            .get_mut(&entry.seq)
            .ok_or_else(|| Error::not_found("notification", entry.seq.to_string()))?;
        row.attempts += 1;
        row.last_error = Some(error.to_owned());
        row.not_before = Some(not_before);
        row.lease = None;
        Ok(())
    }

    async fn outbox_depth(&self) -> Result<u64> {
        Ok(self.lock()?.outbox.len() as u64)
    }

    fn is_persistent(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_reject_garbage() {
        let id = "0190-abc";
        assert_eq!(marker::decode(&marker::encode(id)).expect("decode"), id);
        assert!(marker::decode("zz").is_err());
        assert!(marker::decode("abc").is_err());
    }
}
