//! SQL persistence for the tacker VNF Manager.
//!
//! This crate will implement [`tacker_core::store::Store`] on SQLite (the embedded
//! default) and PostgreSQL (several VNFM processes sharing one database), with the
//! same conformance suite that `tacker_core::testkit` runs against the in-memory store.
//! It holds no functionality yet; use `tacker_core::store::MemoryStore` meanwhile.
