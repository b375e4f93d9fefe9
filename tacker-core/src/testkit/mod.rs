//! Conformance suites that every implementation of a seam runs (feature `testkit`).
//!
//! Each check is a plain `pub async fn` that panics with a readable message when the
//! implementation breaks the contract. [`store`] checks a [`crate::store::Store`];
//! [`infra`] checks an [`crate::infra::InfraDriver`]; [`faults`] injects store errors;
//! [`fixtures`] builds the records
//! the checks (and other tests) use.

pub mod corpus;
pub mod faults;
pub mod fixtures;
pub mod infra;
pub mod mocks;
pub mod netns;
pub mod store;
