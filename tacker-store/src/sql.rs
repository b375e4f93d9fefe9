//! `SqlStore`: the `Store` trait over sea-orm connections.

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, QueryResult,
    Statement, TransactionTrait, Value,
};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

use tacker_core::filter::{Filter, FilterOp, FilterTerm};
use tacker_core::model::{DateTime, LcmOperationStateType};
use tacker_core::store::{
    ClaimedOp, ListQuery, NewNotification, OpLease, OpOccRecord, OutboxEntry, Page, Record,
    RecordKind, Store, StoredRecord, UniqueKey, Versioned, Write, lease_deadline, marker,
};
use tacker_core::{Error, Result, TenantId};

use crate::attrs::{self, Leaf};
use crate::migration::Migrator;

/// How to connect.
#[derive(Debug, Clone)]
pub struct SqlStoreOptions {
    /// Connections in the pool (SQLite in memory always uses one).
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How far the attribute index may fall behind the commits. A commit leaves the
    /// index of what it wrote to a task of the store, which writes it for every record
    /// changed in this period at once (a record changed several times is indexed once),
    /// off the commit's path. Filtered lists are exact meanwhile: they test every record
    /// whose index is behind. Zero writes the index in each commit.
    pub index_lag: Duration,
}

impl SqlStoreOptions {
    /// The defaults with a pool of `max_connections`.
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// The defaults with an attribute index that lags the commits by at most `lag`
    /// (zero: written in each commit).
    pub fn with_index_lag(mut self, lag: Duration) -> Self {
        self.index_lag = lag;
        self
    }
}

impl Default for SqlStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
            index_lag: Duration::from_millis(200),
        }
    }
}

/// A record the index task read, with its tenant and its leaves (`None`: too large to
/// index).
type ToIndex = (TenantId, Versioned<Record>, Option<Vec<Leaf>>);

/// A [`Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
    backend: DbBackend,
    /// SQLite allows one writer: commits of this process take turns here instead of
    /// failing when a read transaction cannot be upgraded to a write.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The task that writes the attribute index behind the commits (`None`: each
    /// commit writes it).
    indexer: Option<std::sync::Arc<Indexer>>,
}

/// The handle of a store's index task: commits wake it; it ends when the last clone of
/// its store is dropped.
#[derive(Debug)]
struct Indexer {
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

fn store_error(error: DbErr) -> Error {
    let text = error.to_string();
    if is_unique_violation(&text) {
        // The database's own words (table and index names) stay in the log.
        tracing::debug!(error = text, "a unique index refused a write");
        return Error::Conflict(
            "a uniqueness rule of the store refused the write (the resource or one of its unique keys exists)".to_owned(),
        );
    }
    Error::store(text, true)
}

fn is_unique_violation(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("unique constraint")
        || lower.contains("duplicate key")
        || lower.contains("unique_violation")
}

fn millis(time: DateTime) -> i64 {
    time.timestamp_millis()
}

fn kind_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::VnfPackage => "VnfPackage",
        RecordKind::VnfInstance => "VnfInstance",
        RecordKind::VnfLcmOpOcc => "VnfLcmOpOcc",
        RecordKind::Vim => "Vim",
        RecordKind::LccnSubscription => "LccnSubscription",
        RecordKind::PkgmSubscription => "PkgmSubscription",
        RecordKind::Alarm => "Alarm",
        RecordKind::FmSubscription => "FmSubscription",
        RecordKind::DriverState => "DriverState",
    }
}

fn is_runnable(record: &Record) -> bool {
    match record {
        Record::VnfLcmOpOcc(op) => matches!(
            op.op.operation_state,
            LcmOperationStateType::Starting
                | LcmOperationStateType::Processing
                | LcmOperationStateType::RollingBack
        ),
        _ => false,
    }
}

fn enum_text<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value)
        .ok()?
        .as_str()
        .map(str::to_owned)
}

/// The typed columns of a record.
#[derive(Default)]
struct Columns {
    vnfd_id: Option<String>,
    vnf_provider: Option<String>,
    vnf_product_name: Option<String>,
    vnf_instance_name: Option<String>,
    instantiation_state: Option<String>,
    vnf_instance_id: Option<String>,
    operation: Option<String>,
    operation_state: Option<String>,
    onboarding_state: Option<String>,
    operational_state: Option<String>,
    usage_state: Option<String>,
    name: Option<String>,
    is_default: bool,
    state_entered_at: Option<i64>,
}

fn columns(record: &Record) -> Columns {
    match record {
        Record::VnfPackage(r) => Columns {
            vnfd_id: r.info.vnfd_id.clone(),
            vnf_provider: r.info.vnf_provider.clone(),
            vnf_product_name: r.info.vnf_product_name.clone(),
            onboarding_state: enum_text(&r.info.onboarding_state),
            operational_state: enum_text(&r.info.operational_state),
            usage_state: enum_text(&r.info.usage_state),
            ..Columns::default()
        },
        Record::VnfInstance(r) => Columns {
            vnfd_id: Some(r.instance.vnfd_id.clone()),
            vnf_provider: Some(r.instance.vnf_provider.clone()),
            vnf_product_name: Some(r.instance.vnf_product_name.clone()),
            vnf_instance_name: r.instance.vnf_instance_name.clone(),
            instantiation_state: enum_text(&r.instance.instantiation_state),
            ..Columns::default()
        },
        Record::VnfLcmOpOcc(r) => Columns {
            vnf_instance_id: Some(r.op.vnf_instance_id.clone()),
            operation: enum_text(&r.op.operation),
            operation_state: enum_text(&r.op.operation_state),
            state_entered_at: Some(millis(r.op.state_entered_time)),
            ..Columns::default()
        },
        Record::Vim(r) => Columns {
            name: Some(r.name.clone()),
            is_default: r.is_default,
            ..Columns::default()
        },
        // An alarm's managed object is a VNF instance: the alarm list of an instance
        // is one index range.
        Record::Alarm(r) => Columns {
            vnf_instance_id: Some(r.alarm.managed_object_id.clone()),
            ..Columns::default()
        },
        Record::LccnSubscription(_)
        | Record::PkgmSubscription(_)
        | Record::FmSubscription(_)
        | Record::DriverState(_) => Columns::default(),
    }
}

/// The columns written from a record's content, in the order of [`content_values`].
const CONTENT_COLUMNS: &[&str] = &[
    "body",
    "vnfd_id",
    "vnf_provider",
    "vnf_product_name",
    "vnf_instance_name",
    "instantiation_state",
    "vnf_instance_id",
    "operation",
    "operation_state",
    "onboarding_state",
    "operational_state",
    "usage_state",
    "name",
    "is_default",
    "runnable",
    "state_entered_at",
    "summary",
];

/// What a write stores of a record: the values of [`CONTENT_COLUMNS`], and its
/// attribute index rows (`None`: not indexed).
struct Content {
    values: Vec<Value>,
    leaves: Option<Vec<Leaf>>,
}

/// The values of [`CONTENT_COLUMNS`] and, when `indexing`, the index rows of a record
/// (one ETSI view serves both).
fn content(record: &Record, indexing: bool) -> Result<Content> {
    let c = columns(record);
    let body = serde_json::to_string(record).map_err(|e| Error::Internal(e.to_string()))?;
    let kind = record.kind();
    let summarised = kind.complex_attributes().is_some();
    let indexing = indexing && attrs::indexed(kind);
    let view = (indexing || summarised).then(|| record.etsi_view());
    let leaves = view.as_ref().filter(|_| indexing).and_then(attrs::leaves);
    let summary = view
        .filter(|_| summarised)
        .map(|view| kind.summary_of(view));
    let values = vec![
        body.into(),
        c.vnfd_id.into(),
        c.vnf_provider.into(),
        c.vnf_product_name.into(),
        c.vnf_instance_name.into(),
        c.instantiation_state.into(),
        c.vnf_instance_id.into(),
        c.operation.into(),
        c.operation_state.into(),
        c.onboarding_state.into(),
        c.operational_state.into(),
        c.usage_state.into(),
        c.name.into(),
        i32::from(c.is_default).into(),
        i32::from(is_runnable(record)).into(),
        c.state_entered_at.into(),
        summary.into(),
    ];
    Ok(Content { values, leaves })
}

/// The column an ETSI attribute is stored in, for each kind (single-name paths only).
fn column_of(kind: RecordKind, attribute: &str) -> Option<&'static str> {
    Some(match (kind, attribute) {
        (_, "id") => "id",
        (RecordKind::VnfPackage | RecordKind::VnfInstance, "vnfdId") => "vnfd_id",
        (RecordKind::VnfPackage | RecordKind::VnfInstance, "vnfProvider") => "vnf_provider",
        (RecordKind::VnfPackage | RecordKind::VnfInstance, "vnfProductName") => "vnf_product_name",
        (RecordKind::VnfInstance, "vnfInstanceName") => "vnf_instance_name",
        (RecordKind::VnfInstance, "instantiationState") => "instantiation_state",
        (RecordKind::VnfLcmOpOcc, "vnfInstanceId") => "vnf_instance_id",
        (RecordKind::VnfLcmOpOcc, "operation") => "operation",
        (RecordKind::VnfLcmOpOcc, "operationState") => "operation_state",
        (RecordKind::VnfPackage, "onboardingState") => "onboarding_state",
        (RecordKind::VnfPackage, "operationalState") => "operational_state",
        (RecordKind::VnfPackage, "usageState") => "usage_state",
        (RecordKind::Vim, "name") => "name",
        (RecordKind::Alarm, "managedObjectId") => "vnf_instance_id",
        _ => return None,
    })
}

/// A statement with `?` placeholders, numbered for PostgreSQL.
pub(crate) struct Sql {
    pub(crate) text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            values: Vec::new(),
        }
    }

    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    pub(crate) fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub(crate) fn add(&mut self, value: impl Into<Value>) {
        self.values.push(value.into());
    }

    pub(crate) fn build(self, backend: DbBackend) -> Statement {
        let text = match backend {
            DbBackend::Postgres => {
                let mut numbered = String::with_capacity(self.text.len() + 16);
                let mut n = 0;
                for c in self.text.chars() {
                    if c == '?' {
                        n += 1;
                        numbered.push('$');
                        numbered.push_str(&n.to_string());
                    } else {
                        numbered.push(c);
                    }
                }
                numbered
            }
            _ => self.text,
        };
        Statement::from_sql_and_values(backend, text, self.values)
    }
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T> {
    row.try_get::<T>("", column)
        .map_err(|e| Error::store(format!("reading column {column}: {e}"), false))
}

/// What a listing makes of each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    /// The decoded records.
    Records,
    /// The kept summaries ([`Record::summary`]).
    Summaries,
}

fn decode_record(row: &QueryResult) -> Result<Versioned<Record>> {
    let body: String = get(row, "body")?;
    let version: i64 = get(row, "version")?;
    let record: Record = serde_json::from_str(&body)
        .map_err(|e| Error::store(format!("a stored record is unreadable: {e}"), false))?;
    Ok(Versioned {
        version: u64::try_from(version).unwrap_or_default(),
        value: record,
    })
}

fn conflict_message(name: &str, value: &str, holder: &str) -> String {
    match name {
        "vnfdId" => format!("VNF package {holder} already provides vnfdId {value}"),
        "vimName" => format!("VIM {holder} already has the name '{value}'"),
        "defaultVim" => format!("VIM {holder} is already the default VIM"),
        "activeAlarm" => format!("alarm {holder} is already active for fault {value}"),
        other => format!("{other} '{value}' is already held by {holder}"),
    }
}

/// Refuses a URL whose backend this build was compiled without, naming the feature.
fn check_backend_enabled(url: &str) -> Result<()> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (enabled, feature) = match scheme.as_str() {
        "sqlite" => (cfg!(feature = "sqlite"), "sqlite"),
        "postgres" | "postgresql" => (cfg!(feature = "postgres"), "postgres"),
        other => {
            return Err(Error::InvalidRequest(format!(
                "database URL scheme '{other}' is not supported: use sqlite:// or postgres://"
            )));
        }
    };
    if enabled {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "this build of tacker-store has no {scheme} support: enable its `{feature}` feature"
        )))
    }
}

impl SqlStore {
    /// One unfiltered page of kept summaries in one row: the database joins the page's
    /// ids and summaries with newlines (which compact JSON and ids never hold), so the
    /// page crosses from the database as one value rather than row by row. `None` when a
    /// row of the page has no current summary (none kept, or the row's version moved
    /// past it), a newline where none belongs, or (SQLite)
    /// the ids out of their byte order: the caller then walks the rows.
    async fn summary_page(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
        limit: usize,
    ) -> Result<Option<Page<String>>> {
        if limit == 0 {
            return Ok(None);
        }
        let after = query.after.as_deref().map(marker::decode).transpose()?;
        let (join_ids, join_summaries) = match self.backend {
            DbBackend::Postgres => (
                "string_agg(id, chr(10) ORDER BY id)",
                "string_agg(summary, chr(10) ORDER BY id)",
            ),
            // SQLite joins in the order the ordered subquery yields (checked below):
            // an ORDER BY in the aggregate would sort the page again.
            _ => (
                "group_concat(id, char(10))",
                "group_concat(summary, char(10))",
            ),
        };
        let mut sql = Sql::new(format!(
            "SELECT count(*) AS listed, count(CASE WHEN summary_version = version THEN summary END) AS kept, \
             {join_ids} AS ids, {join_summaries} AS summaries FROM (SELECT id, version, summary_version, summary \
             FROM records WHERE tenant = ? AND kind = ?"
        ))
        .bind(tenant.as_str())
        .bind(kind_name(kind));
        if let Some(after) = after {
            sql.push(" AND id > ?");
            sql.add(after);
        }
        sql.push(" ORDER BY id LIMIT ?) AS page");
        sql.add(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
        let Some(row) = self
            .db
            .query_one_raw(sql.build(self.backend))
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let listed = usize::try_from(get::<i64>(&row, "listed")?).unwrap_or_default();
        let kept = usize::try_from(get::<i64>(&row, "kept")?).unwrap_or_default();
        if kept < listed {
            return Ok(None);
        }
        if listed == 0 {
            return Ok(Some(Page {
                items: Vec::new(),
                next_marker: None,
            }));
        }
        let ids: String = get::<Option<String>>(&row, "ids")?.unwrap_or_default();
        let summaries: String = get::<Option<String>>(&row, "summaries")?.unwrap_or_default();
        let ids: Vec<&str> = ids.split('\n').collect();
        let summaries: Vec<&str> = summaries.split('\n').collect();
        if ids.len() != listed || summaries.len() != listed {
            return Ok(None);
        }
        if self.backend == DbBackend::Sqlite && !ids.windows(2).all(|pair| pair[0] < pair[1]) {
            return Ok(None);
        }
        let shown = listed.min(limit);
        Ok(Some(Page {
            items: summaries[..shown].iter().map(|s| (*s).to_owned()).collect(),
            next_marker: (listed > limit).then(|| marker::encode(ids[shown - 1])),
        }))
    }

    /// Walks the rows of `kind` in id order from the query's marker, in batches, keeping
    /// those the query's filter matches, and makes an item of each with `item` (the row,
    /// and its decoded record when the filter or [`Listed::Records`] needed it) until
    /// the page is full.
    async fn list_rows<T>(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
        listed: Listed,
        mut item: impl FnMut(&QueryResult, Option<Versioned<Record>>) -> Result<T>,
    ) -> Result<Page<T>> {
        let mut after = query.after.as_deref().map(marker::decode).transpose()?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let typed = |term: &FilterTerm| match term.path.as_slice() {
            [attribute]
                if matches!(term.op, FilterOp::Eq | FilterOp::In) && !term.values.is_empty() =>
            {
                column_of(kind, attribute)
            }
            _ => None,
        };
        // The filter's other positive terms through the attribute index: each batch is
        // then the next candidates in id order, joined to their rows.
        let candidates = query.filter.as_ref().and_then(|filter| {
            attrs::candidates(
                self.backend,
                tenant.as_str(),
                kind_name(kind),
                filter,
                |term| typed(term).is_some(),
            )
        });
        let p = if candidates.is_some() { "r." } else { "" };
        // Terms on a column become SQL; every term is also checked on the record.
        let mut pushed = Sql::new("");
        if let Some(filter) = &query.filter {
            for term in &filter.terms {
                let Some(column) = typed(term) else {
                    continue;
                };
                let marks = vec!["?"; term.values.len()].join(", ");
                pushed.push(&format!(" AND {p}{column} IN ({marks})"));
                for value in &term.values {
                    pushed.add(value.clone());
                }
            }
        }
        let decode = query.filter.is_some() || listed == Listed::Records;
        let current = format!("{p}summary_version = {p}version");
        let columns = match (listed, decode) {
            (Listed::Records, _) => format!("{p}id AS id, {p}version AS version, {p}body AS body"),
            (Listed::Summaries, true) => format!(
                "{p}id AS id, {p}version AS version, \
                 CASE WHEN {current} THEN {p}summary END AS summary, {p}body AS body"
            ),
            // The body only where no current summary was kept.
            (Listed::Summaries, false) => format!(
                "{p}id AS id, {p}version AS version, \
                 CASE WHEN {current} THEN {p}summary END AS summary, \
                 CASE WHEN {current} AND {p}summary IS NOT NULL THEN NULL ELSE {p}body END AS body"
            ),
        };
        let batch = limit.saturating_add(1).clamp(1, 500);
        let batch_size = i64::try_from(batch).unwrap_or(i64::MAX);
        let mut items = Vec::new();
        let mut last_id: Option<String> = None;
        loop {
            let sql = match &candidates {
                None => {
                    let mut sql = Sql::new(format!(
                        "SELECT {columns} FROM records WHERE tenant = ? AND kind = ?"
                    ))
                    .bind(tenant.as_str())
                    .bind(kind_name(kind));
                    if let Some(after) = &after {
                        sql.push(" AND id > ?");
                        sql.add(after.clone());
                    }
                    sql.push(&pushed.text);
                    sql.values.extend(pushed.values.iter().cloned());
                    sql.push(" ORDER BY id LIMIT ?");
                    sql.bind(batch_size)
                }
                // Every candidate yields a row (without the record's columns when its
                // record is gone or a typed column rules it out), so that a short batch
                // means the candidates are exhausted.
                Some(candidates) => {
                    let mut sql = Sql::new(format!(
                        "SELECT c.id AS cid, {columns} FROM (SELECT id FROM ({}) AS u",
                        candidates.text
                    ));
                    sql.values.extend(candidates.values.iter().cloned());
                    if let Some(after) = &after {
                        sql.push(" WHERE id > ?");
                        sql.add(after.clone());
                    }
                    sql.push(
                        " ORDER BY id LIMIT ?) AS c LEFT JOIN records r \
                         ON r.tenant = ? AND r.kind = ? AND r.id = c.id",
                    );
                    sql.add(batch_size);
                    sql.add(tenant.as_str());
                    sql.add(kind_name(kind));
                    sql.push(&pushed.text);
                    sql.values.extend(pushed.values.iter().cloned());
                    sql.push(" ORDER BY c.id");
                    sql
                }
            };
            let rows = self
                .db
                .query_all_raw(sql.build(self.backend))
                .await
                .map_err(store_error)?;
            let exhausted = rows.len() < batch;
            for row in &rows {
                if candidates.is_some() && get::<Option<i64>>(row, "version")?.is_none() {
                    after = Some(get(row, "cid")?);
                    continue;
                }
                let id: String = get(row, "id")?;
                let record = if decode {
                    let record = decode_record(row)?;
                    if query
                        .filter
                        .as_ref()
                        .is_some_and(|f: &Filter| !f.matches(&record.value.etsi_view()))
                    {
                        after = Some(id);
                        continue;
                    }
                    Some(record)
                } else {
                    None
                };
                if items.len() == limit {
                    return Ok(Page {
                        items,
                        next_marker: last_id.as_deref().map(marker::encode),
                    });
                }
                items.push(item(row, record)?);
                after = Some(id.clone());
                last_id = Some(id);
            }
            if exhausted {
                return Ok(Page {
                    items,
                    next_marker: None,
                });
            }
        }
    }

    /// Connects (`sqlite://path?mode=rwc`, `sqlite::memory:`, `postgres://…`) and applies
    /// the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, SqlStoreOptions::default()).await
    }

    /// Connects with options and applies the migrations.
    pub async fn connect_with(url: &str, options: SqlStoreOptions) -> Result<Self> {
        check_backend_enabled(url)?;
        let memory = url.contains(":memory:");
        let mut connect = ConnectOptions::new(url.to_owned());
        connect
            .max_connections(if memory { 1 } else { options.max_connections })
            .min_connections(1)
            .connect_timeout(options.connect_timeout)
            .sqlx_logging(false);
        let db = Database::connect(connect)
            .await
            .map_err(|e| Error::store(format!("cannot connect to {}: {e}", redact(url)), true))?;
        let backend = db.get_database_backend();
        if backend == DbBackend::Sqlite {
            for pragma in [
                "PRAGMA journal_mode = WAL",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA foreign_keys = ON",
            ] {
                db.execute_unprepared(pragma).await.map_err(store_error)?;
            }
        }
        Migrator::up(&db, None)
            .await
            .map_err(|e| Error::store(format!("migrating the schema: {e}"), false))?;
        let mut store = Self {
            db,
            backend,
            sqlite_writer: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            indexer: None,
        };
        if !options.index_lag.is_zero() {
            let indexer = store.start_indexer(options.index_lag);
            // Records left behind before this start (a crash, an older VNFM).
            indexer.wake.notify_one();
            store.indexer = Some(indexer);
        }
        Ok(store)
    }

    /// Starts the task that indexes the records the commits leave behind: woken by a
    /// commit, it waits `lag` for more, then indexes every record behind. A pass that
    /// fails is tried again a second later; meanwhile those records are only slower to
    /// filter.
    fn start_indexer(&self, lag: Duration) -> std::sync::Arc<Indexer> {
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let indexer = std::sync::Arc::new(Indexer { wake: wake.clone() });
        let alive = std::sync::Arc::downgrade(&indexer);
        let worker = Self {
            indexer: None,
            ..self.clone()
        };
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                if alive.strong_count() == 0 {
                    break;
                }
                tokio::time::sleep(lag).await;
                if let Err(error) = worker.index_pending().await {
                    tracing::warn!(%error, "writing the attribute index failed; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    wake.notify_one();
                }
            }
        });
        indexer
    }

    /// Whether this store's connection to the database is encrypted: always `false` for
    /// SQLite; on PostgreSQL what the server reports for the session (TLS is chosen by
    /// the URL's `sslmode`, e.g. `?sslmode=verify-full&sslrootcert=ca.pem`).
    pub async fn uses_tls(&self) -> Result<bool> {
        if self.backend != DbBackend::Postgres {
            return Ok(false);
        }
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.backend,
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ))
            .await
            .map_err(store_error)?;
        match row {
            Some(row) => get::<bool>(&row, "ssl"),
            None => Ok(false),
        }
    }

    /// The database kind.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Applies the migrations again (they are idempotent).
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None)
            .await
            .map_err(|e| Error::store(format!("migrating the schema: {e}"), false))?;
        self.index_pending().await.map(|_| ())
    }

    /// How many records the attribute index is behind on (those
    /// [`index_pending`](Self::index_pending) would index); records too large to
    /// index are not counted.
    pub async fn unindexed_records(&self) -> Result<u64> {
        let row = self
            .db
            .query_one_raw(
                Sql::new(format!(
                    "SELECT count(*) AS n FROM records WHERE {} AND kind <> ?",
                    attrs::PENDING
                ))
                .bind(kind_name(RecordKind::DriverState))
                .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        match row {
            Some(row) => Ok(u64::try_from(get::<i64>(&row, "n")?).unwrap_or_default()),
            None => Ok(0),
        }
    }

    /// Writes the attribute index of every record whose index is behind its version
    /// (left by the commits to the index task, written before the index existed, or by
    /// a VNFM that does not keep it), reading 200 records at a time and writing them in
    /// transactions of 16; how many it indexed. A record changed meanwhile waits for the next pass. One too large to
    /// index is marked so (its `attrs_version` is its version negated): it stays a
    /// candidate of every filter and is not read again until it changes.
    ///
    /// The index task runs this behind the commits; call it to have the index current
    /// now (after a bulk import, or in a test).
    pub async fn index_pending(&self) -> Result<usize> {
        let mut after: Option<(String, String, String)> = None;
        let mut indexed = 0usize;
        loop {
            let mut sql = Sql::new(format!(
                "SELECT tenant, kind, id, version, body FROM records WHERE {} AND kind <> ?",
                attrs::PENDING
            ))
            .bind(kind_name(RecordKind::DriverState));
            if let Some((tenant, kind, id)) = &after {
                sql.push(
                    " AND (tenant > ? OR (tenant = ? AND (kind > ? OR (kind = ? AND id > ?))))",
                );
                sql.add(tenant.as_str());
                sql.add(tenant.as_str());
                sql.add(kind.as_str());
                sql.add(kind.as_str());
                sql.add(id.as_str());
            }
            sql.push(" ORDER BY tenant, kind, id LIMIT 200");
            let rows = self
                .db
                .query_all_raw(sql.build(self.backend))
                .await
                .map_err(store_error)?;
            let Some(last) = rows.last() else {
                break;
            };
            after = Some((get(last, "tenant")?, get(last, "kind")?, get(last, "id")?));
            let mut batch = Vec::with_capacity(rows.len());
            for row in &rows {
                let tenant = TenantId::new(get::<String>(row, "tenant")?);
                let record = decode_record(row)?;
                let leaves = attrs::leaves(&record.value.etsi_view());
                batch.push((tenant, record, leaves));
            }
            // Short transactions: a record's row stays locked (and SQLite's writer
            // taken) only while a few records are indexed, so the commits that change
            // them meanwhile wait little.
            for chunk in batch.chunks(16) {
                indexed += self.index_chunk(chunk).await?;
            }
        }
        Ok(indexed)
    }

    /// Indexes `chunk` in one transaction; how many it indexed.
    async fn index_chunk(&self, chunk: &[ToIndex]) -> Result<usize> {
        let _turn = match self.backend {
            DbBackend::Sqlite => Some(self.sqlite_writer.lock().await),
            _ => None,
        };
        // Claimed at the version read, unless a commit or another process's pass got
        // there first. PostgreSQL skips a row a commit holds (it is indexed on the next
        // pass): this transaction never waits for a lock, so it cannot deadlock with a
        // commit that locks the same records in another order.
        let claim = match self.backend {
            DbBackend::Postgres => format!(
                "UPDATE records SET attrs_version = ? WHERE (tenant, kind, id) IN \
                 (SELECT tenant, kind, id FROM records WHERE tenant = ? AND kind = ? AND id = ? \
                 AND version = ? AND {} FOR UPDATE SKIP LOCKED)",
                attrs::STALE
            ),
            _ => format!(
                "UPDATE records SET attrs_version = ? \
                 WHERE tenant = ? AND kind = ? AND id = ? AND version = ? AND {}",
                attrs::STALE
            ),
        };
        let mut indexed = 0;
        let txn = self.db.begin().await.map_err(store_error)?;
        for (tenant, record, leaves) in chunk {
            let kind = record.value.kind();
            let version = i64::try_from(record.version).unwrap_or(i64::MAX);
            let claimed = txn
                .execute_raw(
                    Sql::new(claim.as_str())
                        .bind(if leaves.is_some() { version } else { -version })
                        .bind(tenant.as_str())
                        .bind(kind_name(kind))
                        .bind(record.value.id())
                        .bind(version)
                        .build(self.backend),
                )
                .await
                .map_err(store_error)?;
            if claimed.rows_affected() == 1 {
                self.write_attrs(
                    &txn,
                    tenant,
                    kind,
                    record.value.id(),
                    leaves.as_deref(),
                    true,
                )
                .await?;
                indexed += usize::from(leaves.is_some());
            }
        }
        txn.commit().await.map_err(store_error)?;
        Ok(indexed)
    }

    /// Commits `writes`, trying again while another process holds SQLite's write lock.
    async fn commit_retrying(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        for attempt in 0..5u32 {
            match self.try_commit(tenant, writes.clone()).await {
                Err(Error::Store { message, .. }) if is_busy(&message) && attempt < 4 => {
                    // Another process holds the SQLite write lock: wait and try again.
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                other => return other,
            }
        }
        Err(Error::store("the database stayed locked", true))
    }

    async fn key_holder<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantId,
        name: &str,
        value: &str,
    ) -> Result<Option<String>> {
        let row = db
            .query_one_raw(
                Sql::new("SELECT id FROM unique_keys WHERE tenant = ? AND name = ? AND value = ?")
                    .bind(tenant.as_str())
                    .bind(name)
                    .bind(value)
                    .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        row.map(|row| get(&row, "id")).transpose()
    }

    /// Takes the unique keys `record` declares. One statement per key: a key this record
    /// already holds is kept, a free one taken, and one held by another record reported
    /// by name (its holder read only then).
    async fn claim_keys<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantId,
        record: &Record,
    ) -> Result<()> {
        let kind = kind_name(record.kind());
        for (name, value) in record.unique_keys() {
            let taken = db
                .execute_raw(
                    Sql::new(
                        "INSERT INTO unique_keys (tenant, name, value, kind, id) VALUES (?, ?, ?, ?, ?) \
                         ON CONFLICT (tenant, name, value) DO UPDATE SET id = excluded.id \
                         WHERE unique_keys.kind = excluded.kind AND unique_keys.id = excluded.id",
                    )
                    .bind(tenant.as_str())
                    .bind(name)
                    .bind(value.clone())
                    .bind(kind)
                    .bind(record.id())
                    .build(self.backend),
                )
                .await
                .map_err(store_error)?;
            if taken.rows_affected() == 1 {
                continue;
            }
            let holder = self
                .key_holder(db, tenant, name, &value)
                .await?
                .unwrap_or_default();
            return Err(if name == "inProgressOn" {
                Error::operation_in_progress(value, holder, None)
            } else {
                Error::Conflict(conflict_message(name, &value, &holder))
            });
        }
        Ok(())
    }

    /// Gives up the unique keys a record holds, except those in `keep`. Nothing to do
    /// for the kinds that never hold one.
    async fn drop_keys<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        keep: &[UniqueKey],
    ) -> Result<()> {
        if !kind.may_hold_unique_keys() {
            return Ok(());
        }
        let mut sql = Sql::new("DELETE FROM unique_keys WHERE tenant = ? AND kind = ? AND id = ?")
            .bind(tenant.as_str())
            .bind(kind_name(kind))
            .bind(id);
        for (name, value) in keep {
            sql.push(" AND NOT (name = ? AND value = ?)");
            sql.add(*name);
            sql.add(value.as_str());
        }
        db.execute_raw(sql.build(self.backend))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Brings the attribute index rows of a record to `leaves`, none when it is not
    /// indexed (`replace`: it may have rows already; only those that differ are
    /// written).
    async fn write_attrs<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        leaves: Option<&[Leaf]>,
        replace: bool,
    ) -> Result<()> {
        if !attrs::indexed(kind) {
            return Ok(());
        }
        let Some(leaves) = leaves else {
            // Not indexed (any more): no rows.
            if replace {
                db.execute_raw(
                    Sql::new("DELETE FROM record_attrs WHERE tenant = ? AND kind = ? AND id = ?")
                        .bind(tenant.as_str())
                        .bind(kind_name(kind))
                        .bind(id)
                        .build(self.backend),
                )
                .await
                .map_err(store_error)?;
            }
            return Ok(());
        };
        if self.backend == DbBackend::Postgres {
            // One round trip, one statement text whatever the number of rows.
            db.execute_raw(attrs::sync_postgres(
                tenant.as_str(),
                kind_name(kind),
                id,
                leaves,
            )?)
            .await
            .map_err(store_error)?;
            return Ok(());
        }
        let insert = if replace {
            let rows = db
                .query_all_raw(
                    Sql::new(
                        "SELECT rowid AS rowid, path, value, num FROM record_attrs \
                         WHERE tenant = ? AND kind = ? AND id = ?",
                    )
                    .bind(tenant.as_str())
                    .bind(kind_name(kind))
                    .bind(id)
                    .build(self.backend),
                )
                .await
                .map_err(store_error)?;
            let stored = rows
                .iter()
                .map(|row| {
                    Ok(attrs::StoredLeaf {
                        rowid: get(row, "rowid")?,
                        leaf: Leaf {
                            path: get(row, "path")?,
                            value: get(row, "value")?,
                            num: get(row, "num")?,
                        },
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let (delete, insert) = attrs::diff(stored, leaves);
            for chunk in delete.chunks(500) {
                let mut sql = Sql::new("DELETE FROM record_attrs WHERE rowid IN (");
                for (n, rowid) in chunk.iter().enumerate() {
                    sql.push(if n == 0 { "?" } else { ", ?" });
                    sql.add(*rowid);
                }
                sql.push(")");
                db.execute_raw(sql.build(self.backend))
                    .await
                    .map_err(store_error)?;
            }
            insert
        } else {
            leaves.iter().collect()
        };
        for statement in attrs::inserts(self.backend, tenant.as_str(), kind_name(kind), id, &insert)
        {
            db.execute_raw(statement).await.map_err(store_error)?;
        }
        Ok(())
    }

    async fn current_version<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<u64>> {
        let row = db
            .query_one_raw(
                Sql::new("SELECT version FROM records WHERE tenant = ? AND kind = ? AND id = ?")
                    .bind(tenant.as_str())
                    .bind(kind_name(kind))
                    .bind(id)
                    .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        match row {
            Some(row) => Ok(Some(
                u64::try_from(get::<i64>(&row, "version")?).unwrap_or_default(),
            )),
            None => Ok(None),
        }
    }

    async fn apply<C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: &TenantId,
        write: Write,
    ) -> Result<u64> {
        let now = Utc::now().timestamp_millis();
        match write {
            Write::Insert(record) => {
                let kind = record.kind();
                let id = record.id().to_owned();
                // Keys first, so a taken key is reported by name; then one statement
                // both checks and inserts the row (an existing one is left alone and
                // reported; the commit's transaction undoes the keys).
                self.claim_keys(db, tenant, &record).await?;
                let indexing = self.indexer.is_none();
                let content = content(&record, indexing)?;
                // Behind (left to the index task), current, or too large to index.
                let attrs_version = match (indexing, content.leaves.is_some()) {
                    (false, _) => "NULL",
                    (true, true) => "1",
                    (true, false) => "-1",
                };
                let mut sql = Sql::new(format!(
                    "INSERT INTO records (tenant, kind, id, version, summary_version, attrs_version, created_at, updated_at, {}) \
                     VALUES (?, ?, ?, 1, 1, {attrs_version}, ?, ?, {}) ON CONFLICT (tenant, kind, id) DO NOTHING",
                    CONTENT_COLUMNS.join(", "),
                    vec!["?"; CONTENT_COLUMNS.len()].join(", ")
                ))
                .bind(tenant.as_str())
                .bind(kind_name(kind))
                .bind(id.as_str())
                .bind(now)
                .bind(now);
                for value in content.values {
                    sql.add(value);
                }
                let inserted = db
                    .execute_raw(sql.build(self.backend))
                    .await
                    .map_err(store_error)?;
                if inserted.rows_affected() == 0 {
                    return Err(Error::Conflict(format!(
                        "{} {id} already exists",
                        kind.resource_name()
                    )));
                }
                if indexing {
                    self.write_attrs(db, tenant, kind, &id, content.leaves.as_deref(), false)
                        .await?;
                }
                Ok(1)
            }
            Write::Update {
                record,
                expected_version,
            } => {
                let kind = record.kind();
                let id = record.id().to_owned();
                let runnable = is_runnable(&record);
                let expected = i64::try_from(expected_version).unwrap_or(i64::MAX);
                // An op that is no longer runnable gives its lease up.
                let lease = if runnable {
                    ""
                } else {
                    ", lease_owner = NULL, lease_expires_at = NULL"
                };
                let assignments: Vec<String> =
                    CONTENT_COLUMNS.iter().map(|c| format!("{c} = ?")).collect();
                let indexing = self.indexer.is_none();
                let content = content(&record, indexing)?;
                // Left behind for the index task (its rows are those of an earlier
                // version until then), current, or too large to index.
                let attrs_version = match (indexing, content.leaves.is_some()) {
                    (false, _) => "",
                    (true, true) => "attrs_version = version + 1, ",
                    (true, false) => "attrs_version = -(version + 1), ",
                };
                let mut sql = Sql::new(format!(
                    "UPDATE records SET version = version + 1, summary_version = version + 1, \
                     {attrs_version}updated_at = ?, {}{lease} \
                     WHERE tenant = ? AND kind = ? AND id = ? AND version = ?",
                    assignments.join(", ")
                ))
                .bind(now);
                for value in content.values {
                    sql.add(value);
                }
                let sql = sql
                    .bind(tenant.as_str())
                    .bind(kind_name(kind))
                    .bind(id.as_str())
                    .bind(expected);
                // Keys first: the new ones must be free before the row takes them.
                self.drop_keys(db, tenant, kind, &id, &record.unique_keys())
                    .await?;
                self.claim_keys(db, tenant, &record).await?;
                let result = db
                    .execute_raw(sql.build(self.backend))
                    .await
                    .map_err(store_error)?;
                if result.rows_affected() == 0 {
                    return Err(match self.current_version(db, tenant, kind, &id).await? {
                        None => Error::not_found(kind.resource_name(), id),
                        Some(current) => Error::stale_version(
                            kind.resource_name(),
                            id,
                            expected_version,
                            current,
                        ),
                    });
                }
                if indexing {
                    self.write_attrs(db, tenant, kind, &id, content.leaves.as_deref(), true)
                        .await?;
                }
                Ok(expected_version + 1)
            }
            Write::Delete {
                kind,
                id,
                expected_version,
            } => {
                let mut sql =
                    Sql::new("DELETE FROM records WHERE tenant = ? AND kind = ? AND id = ?")
                        .bind(tenant.as_str())
                        .bind(kind_name(kind))
                        .bind(id.as_str());
                if let Some(expected) = expected_version {
                    sql.push(" AND version = ?");
                    sql.add(i64::try_from(expected).unwrap_or(i64::MAX));
                }
                let result = db
                    .execute_raw(sql.build(self.backend))
                    .await
                    .map_err(store_error)?;
                if result.rows_affected() == 0 {
                    return Err(match self.current_version(db, tenant, kind, &id).await? {
                        None => Error::not_found(kind.resource_name(), id),
                        Some(current) => Error::stale_version(
                            kind.resource_name(),
                            id,
                            expected_version.unwrap_or_default(),
                            current,
                        ),
                    });
                }
                self.drop_keys(db, tenant, kind, &id, &[]).await?;
                self.write_attrs(db, tenant, kind, &id, None, true).await?;
                if kind.is_subscription() {
                    db.execute_raw(
                        Sql::new("DELETE FROM outbox WHERE tenant = ? AND subscription_id = ?")
                            .bind(tenant.as_str())
                            .bind(id.as_str())
                            .build(self.backend),
                    )
                    .await
                    .map_err(store_error)?;
                }
                Ok(0)
            }
            Write::Check {
                kind,
                id,
                expected_version,
            } => {
                // An update that changes nothing but takes the row's lock: a concurrent
                // transaction that changes the record either commits first (and this
                // one sees its version) or waits for this one.
                let expected = i64::try_from(expected_version).unwrap_or(i64::MAX);
                let result = db
                    .execute_raw(
                        Sql::new(
                            "UPDATE records SET version = version \
                             WHERE tenant = ? AND kind = ? AND id = ? AND version = ?",
                        )
                        .bind(tenant.as_str())
                        .bind(kind_name(kind))
                        .bind(id.as_str())
                        .bind(expected)
                        .build(self.backend),
                    )
                    .await
                    .map_err(store_error)?;
                if result.rows_affected() == 0 {
                    return Err(match self.current_version(db, tenant, kind, &id).await? {
                        None => Error::not_found(kind.resource_name(), id),
                        Some(current) => Error::stale_version(
                            kind.resource_name(),
                            id,
                            expected_version,
                            current,
                        ),
                    });
                }
                Ok(0)
            }
            Write::Notify(NewNotification {
                subscription_id,
                payload,
            }) => {
                // Queued only while its subscription exists, in one statement.
                db.execute_raw(
                    Sql::new(
                        "INSERT INTO outbox (tenant, subscription_id, payload, attempts) \
                         SELECT ?, ?, ?, 0 WHERE EXISTS (SELECT 1 FROM records \
                         WHERE tenant = ? AND kind IN (?, ?, ?) AND id = ?)",
                    )
                    .bind(tenant.as_str())
                    .bind(subscription_id.as_str())
                    .bind(payload.to_string())
                    .bind(tenant.as_str())
                    .bind(kind_name(RecordKind::LccnSubscription))
                    .bind(kind_name(RecordKind::PkgmSubscription))
                    .bind(kind_name(RecordKind::FmSubscription))
                    .bind(subscription_id.as_str())
                    .build(self.backend),
                )
                .await
                .map_err(store_error)?;
                Ok(0)
            }
        }
    }

    async fn claim_one_op(
        &self,
        owner: &str,
        now: i64,
        expires: i64,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(Option<String>, QueryResult)>> {
        let before = self
            .db
            .query_one_raw(
                Sql::new("SELECT lease_owner, lease_expires_at FROM records WHERE tenant = ? AND kind = ? AND id = ?")
                    .bind(tenant)
                    .bind(kind_name(RecordKind::VnfLcmOpOcc))
                    .bind(id)
                    .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        let Some(before) = before else {
            return Ok(None);
        };
        let previous: Option<String> = get(&before, "lease_owner")?;
        let previous_expiry: Option<i64> = get(&before, "lease_expires_at")?;
        // A guarded update: it claims only if nobody claimed in between.
        let mut sql = Sql::new("UPDATE records SET lease_owner = ?, lease_expires_at = ? WHERE tenant = ? AND kind = ? AND id = ? AND runnable = 1")
            .bind(owner)
            .bind(expires)
            .bind(tenant)
            .bind(kind_name(RecordKind::VnfLcmOpOcc))
            .bind(id);
        match previous_expiry {
            Some(expiry) => {
                if expiry > now {
                    return Ok(None);
                }
                sql.push(" AND lease_expires_at = ?");
                sql.add(expiry);
            }
            None => sql.push(" AND lease_expires_at IS NULL"),
        }
        let result = self
            .db
            .execute_raw(sql.build(self.backend))
            .await
            .map_err(store_error)?;
        if result.rows_affected() != 1 {
            return Ok(None);
        }
        let row = self
            .db
            .query_one_raw(
                Sql::new(
                    "SELECT version, body FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                )
                .bind(tenant)
                .bind(kind_name(RecordKind::VnfLcmOpOcc))
                .bind(id)
                .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        Ok(row.map(|row| (previous, row)))
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> Result<Versioned<Record>> {
        let row = self
            .db
            .query_one_raw(
                Sql::new(
                    "SELECT version, body FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                )
                .bind(tenant.as_str())
                .bind(kind_name(kind))
                .bind(id)
                .build(self.backend),
            )
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(kind.resource_name(), id))?;
        decode_record(&row)
    }

    async fn get_if_changed(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        version: u64,
    ) -> Result<Option<Versioned<Record>>> {
        let known = i64::try_from(version).unwrap_or(i64::MAX);
        let row = self
            .db
            .query_one_raw(
                Sql::new(
                    "SELECT version, CASE WHEN version = ? THEN NULL ELSE body END AS body \
                     FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                )
                .bind(known)
                .bind(tenant.as_str())
                .bind(kind_name(kind))
                .bind(id)
                .build(self.backend),
            )
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(kind.resource_name(), id))?;
        if get::<i64>(&row, "version")? == known {
            return Ok(None);
        }
        decode_record(&row).map(Some)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<Versioned<Record>>> {
        self.list_rows(tenant, kind, query, Listed::Records, |_, record| {
            record.ok_or_else(|| Error::Internal("a listed row without its record".into()))
        })
        .await
    }

    async fn list_summaries(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        query: &ListQuery,
    ) -> Result<Page<String>> {
        if query.filter.is_none()
            && let Some(limit) = query.limit
            && let Some(page) = self.summary_page(tenant, kind, query, limit).await?
        {
            return Ok(page);
        }
        self.list_rows(tenant, kind, query, Listed::Summaries, |row, record| {
            match (get::<Option<String>>(row, "summary")?, record) {
                (Some(summary), _) => Ok(summary),
                // A row written before summaries were kept, or since by a VNFM that
                // does not keep them (its version moved past the summary's).
                (None, Some(record)) => Ok(record.value.summary()),
                (None, None) => decode_record(row).map(|record| record.value.summary()),
            }
        })
        .await
    }

    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        let indexed_later = self.indexer.as_ref().filter(|_| {
            writes.iter().any(|write| match write {
                Write::Insert(record) | Write::Update { record, .. } => {
                    attrs::indexed(record.kind())
                }
                _ => false,
            })
        });
        let committed = {
            let _turn = match self.backend {
                DbBackend::Sqlite => Some(self.sqlite_writer.lock().await),
                _ => None,
            };
            self.commit_retrying(tenant, writes).await
        };
        if let (Ok(_), Some(indexer)) = (&committed, indexed_later) {
            indexer.wake.notify_one();
        }
        committed
    }

    async fn claim_ops(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedOp>> {
        let now_ms = millis(now);
        let expires = lease_deadline(now, ttl);
        let limit = i64::try_from(max.min(10_000)).unwrap_or(10_000);
        let mut claimed = Vec::new();
        if self.backend == DbBackend::Postgres {
            // Several VNFM processes: lock the candidates, skip what others hold.
            let rows = self
                .db
                .query_all_raw(
                    Sql::new(
                        "WITH picked AS (SELECT tenant, kind, id, lease_owner AS previous_owner FROM records \
                         WHERE runnable = 1 AND (lease_expires_at IS NULL OR lease_expires_at < ?) \
                         ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED) \
                         UPDATE records r SET lease_owner = ?, lease_expires_at = ? FROM picked p \
                         WHERE r.tenant = p.tenant AND r.kind = p.kind AND r.id = p.id \
                         RETURNING r.tenant, r.version, r.body, p.previous_owner",
                    )
                    .bind(now_ms)
                    .bind(limit)
                    .bind(owner)
                    .bind(millis(expires))
                    .build(self.backend),
                )
                .await
                .map_err(store_error)?;
            for row in rows {
                let tenant: String = get(&row, "tenant")?;
                let previous: Option<String> = get(&row, "previous_owner")?;
                claimed.push(self.claimed(tenant, &row, previous, owner, expires)?);
            }
        } else {
            let candidates = self
                .db
                .query_all_raw(
                    Sql::new("SELECT tenant, id FROM records WHERE runnable = 1 AND (lease_expires_at IS NULL OR lease_expires_at < ?) ORDER BY id LIMIT ?")
                        .bind(now_ms)
                        .bind(limit)
                        .build(self.backend),
                )
                .await
                .map_err(store_error)?;
            for candidate in candidates {
                let tenant: String = get(&candidate, "tenant")?;
                let id: String = get(&candidate, "id")?;
                if let Some((previous, row)) = self
                    .claim_one_op(owner, now_ms, millis(expires), &tenant, &id)
                    .await?
                {
                    claimed.push(self.claimed(tenant, &row, previous, owner, expires)?);
                }
            }
        }
        claimed.sort_by(|a, b| a.op.value.op.id.cmp(&b.op.value.op.id));
        Ok(claimed)
    }

    async fn renew_op_lease(
        &self,
        lease: &OpLease,
        now: DateTime,
        ttl: Duration,
    ) -> Result<OpLease> {
        let expires = lease_deadline(now, ttl);
        let result = self
            .db
            .execute_raw(
                Sql::new("UPDATE records SET lease_expires_at = ? WHERE tenant = ? AND kind = ? AND id = ? AND lease_owner = ?")
                    .bind(millis(expires))
                    .bind(lease.tenant.as_str())
                    .bind(kind_name(RecordKind::VnfLcmOpOcc))
                    .bind(lease.op_occ_id.as_str())
                    .bind(lease.owner.as_str())
                    .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::Conflict(format!(
                "the lease of {} is no longer held by {}",
                lease.op_occ_id, lease.owner
            )));
        }
        Ok(OpLease {
            expires_at: expires,
            ..lease.clone()
        })
    }

    async fn release_op_lease(&self, lease: &OpLease) -> Result<()> {
        self.db
            .execute_raw(
                Sql::new("UPDATE records SET lease_owner = NULL, lease_expires_at = NULL WHERE tenant = ? AND kind = ? AND id = ? AND lease_owner = ?")
                    .bind(lease.tenant.as_str())
                    .bind(kind_name(RecordKind::VnfLcmOpOcc))
                    .bind(lease.op_occ_id.as_str())
                    .bind(lease.owner.as_str())
                    .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn claim_notifications(
        &self,
        owner: &str,
        now: DateTime,
        ttl: Duration,
        max: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let now_ms = millis(now);
        let expires = lease_deadline(now, ttl);
        let heads = self
            .db
            .query_all_raw(
                Sql::new(
                    "SELECT seq, tenant, subscription_id, payload, attempts, last_error, lease_expires_at FROM outbox o \
                     WHERE seq IN (SELECT MIN(seq) FROM outbox GROUP BY tenant, subscription_id) \
                     AND (lease_expires_at IS NULL OR lease_expires_at <= ?) AND (not_before IS NULL OR not_before <= ?) \
                     ORDER BY seq LIMIT ?",
                )
                .bind(now_ms)
                .bind(now_ms)
                .bind(i64::try_from(max.min(10_000)).unwrap_or(10_000))
                .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        let mut claimed = Vec::new();
        for head in heads {
            let seq: i64 = get(&head, "seq")?;
            let previous: Option<i64> = get(&head, "lease_expires_at")?;
            let mut sql =
                Sql::new("UPDATE outbox SET lease_owner = ?, lease_expires_at = ? WHERE seq = ?")
                    .bind(owner)
                    .bind(millis(expires))
                    .bind(seq);
            match previous {
                Some(expiry) => {
                    sql.push(" AND lease_expires_at = ?");
                    sql.add(expiry);
                }
                None => sql.push(" AND lease_expires_at IS NULL"),
            }
            let result = self
                .db
                .execute_raw(sql.build(self.backend))
                .await
                .map_err(store_error)?;
            if result.rows_affected() != 1 {
                continue;
            }
            let payload: String = get(&head, "payload")?;
            let attempts: i32 = get(&head, "attempts")?;
            claimed.push(OutboxEntry {
                seq: u64::try_from(seq).unwrap_or_default(),
                tenant: TenantId::new(get::<String>(&head, "tenant")?),
                subscription_id: get(&head, "subscription_id")?,
                payload: serde_json::from_str(&payload).map_err(|e| {
                    Error::store(format!("an outbox entry is unreadable: {e}"), false)
                })?,
                attempts: u32::try_from(attempts).unwrap_or_default(),
                last_error: get(&head, "last_error")?,
                lease_owner: owner.to_owned(),
                lease_expires_at: expires,
            });
        }
        Ok(claimed)
    }

    async fn ack_notification(&self, entry: &OutboxEntry) -> Result<()> {
        self.db
            .execute_raw(
                Sql::new("DELETE FROM outbox WHERE seq = ?")
                    .bind(i64::try_from(entry.seq).unwrap_or(i64::MAX))
                    .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn retry_notification(
        &self,
        entry: &OutboxEntry,
        not_before: DateTime,
        error: &str,
    ) -> Result<()> {
        let result = self
            .db
            .execute_raw(
                Sql::new(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, not_before = ?, lease_owner = NULL, \
                     lease_expires_at = NULL WHERE seq = ?",
                )
                .bind(error)
                .bind(millis(not_before))
                .bind(i64::try_from(entry.seq).unwrap_or(i64::MAX))
                .build(self.backend),
            )
            .await
            .map_err(store_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found("notification", entry.seq.to_string()));
        }
        Ok(())
    }

    async fn outbox_depth(&self) -> Result<u64> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.backend,
                "SELECT COUNT(*) AS depth FROM outbox",
            ))
            .await
            .map_err(store_error)?;
        match row {
            Some(row) => Ok(u64::try_from(get::<i64>(&row, "depth")?).unwrap_or_default()),
            None => Ok(0),
        }
    }
}

fn is_busy(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("database is locked")
        || lower.contains("database is busy")
        || lower.contains("sqlite_busy")
}

impl SqlStore {
    /// One attempt at a commit: every write in one transaction, all or nothing.
    async fn try_commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let mut versions = Vec::with_capacity(writes.len());
        for write in writes {
            match self.apply(&txn, tenant, write).await {
                Ok(version) => versions.push(version),
                Err(error) => {
                    let _ = txn.rollback().await;
                    return Err(error);
                }
            }
        }
        txn.commit().await.map_err(store_error)?;
        Ok(versions)
    }

    fn claimed(
        &self,
        tenant: String,
        row: &QueryResult,
        previous: Option<String>,
        owner: &str,
        expires: DateTime,
    ) -> Result<ClaimedOp> {
        let record = decode_record(row)?;
        let op = OpOccRecord::from_record(record.value)?;
        let tenant = TenantId::new(tenant);
        Ok(ClaimedOp {
            lease: OpLease {
                tenant: tenant.clone(),
                op_occ_id: op.op.id.clone(),
                owner: owner.to_owned(),
                expires_at: expires,
            },
            tenant,
            op: Versioned {
                version: record.version,
                value: op,
            },
            expired_owner: previous,
        })
    }
}
