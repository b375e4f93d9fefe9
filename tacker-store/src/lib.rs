//! SQL persistence for the tacker VNF Manager: [`SqlStore`] implements
//! [`tacker_core::store::Store`] on SQLite (the embedded default) and PostgreSQL
//! (several VNFM processes sharing one database), with sea-orm.
//!
//! One schema serves both databases (see [`migration`]): a `records` table with the
//! record as JSON beside typed, indexed columns for what the APIs filter and sort on;
//! `unique_keys` for the keys a record declares; `record_attrs`, the attribute index that
//! answers SOL013 filters on any attribute without testing every record; and the
//! notification `outbox`. The
//! invariant "one operation in progress per VNF instance" is also a partial unique
//! index. Every row carries its tenant and every query is scoped by it.
//!
//! ```no_run
//! # async fn demo() -> tacker_core::Result<()> {
//! let store = tacker_store::SqlStore::connect("sqlite://vnfm.db?mode=rwc").await?;
//! # let _ = store;
//! # Ok(())
//! # }
//! ```

mod attrs;
pub mod migration;
mod sql;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use sql::{SqlStore, SqlStoreOptions};
