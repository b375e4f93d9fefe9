//! The core of an embeddable ETSI NFV VNF Manager: the ETSI data model, the resolved
//! VNFD model, the driver traits, the store, and a simulated VIM.
//!
//! `tacker-core` stays light: no HTTP server, no SQL driver, no Kubernetes client. The
//! drivers (`tacker-drivers-openstack`, `tacker-drivers-k8s`), the SQL store
//! (`tacker-store`) and the REST binding (`tacker-api`) build on it.
//!
//! Where things are:
//! - [`model`]: ETSI SOL002/SOL003/SOL005 types (`VnfInstance`, `VnfLcmOpOcc`, …);
//! - [`vnfd`]: the VNFD as the engine and drivers read it;
//! - [`infra`], [`vim`], [`mgmt`], [`monitor`], [`grant`], [`package`], [`notify`]:
//!   the seams, each an object-safe trait used as `Arc<dyn …>`;
//! - [`store`]: the `Store` trait and [`store::MemoryStore`];
//! - [`filter`]: SOL013 attribute filters;
//! - [`outbound`]: the policy of the VNFM's outbound requests (SSRF protection);
//! - [`sim`]: the simulated VIM, the embedded default;
//! - `testkit` (feature `testkit`): conformance suites for stores and infra drivers;
//! - feature `monitors` (on by default): the built-in monitors of [`monitor`] (HTTP on
//!   `reqwest`, ping, Alertmanager); without it the crate has no HTTP client.
//!
//! ```
//! use tacker_core::store::{MemoryStore, StoreExt, ListQuery, VnfInstanceRecord};
//! use tacker_core::filter::Filter;
//! use tacker_core::TenantId;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> tacker_core::Result<()> {
//! let store = MemoryStore::new();
//! let tenant = TenantId::default();
//! let record = VnfInstanceRecord {
//!     instance: tacker_core::sim::sample_instance("vnf-1", "sample-vnfd"),
//!     vnf_pkg_id: None,
//!     created_at: chrono::Utc::now(),
//! };
//! store.insert(&tenant, record).await?;
//! let page = store
//!     .list_typed::<VnfInstanceRecord>(
//!         &tenant,
//!         &ListQuery::filtered(Filter::parse("(eq,instantiationState,NOT_INSTANTIATED)")?),
//!     )
//!     .await?;
//! assert_eq!(page.items[0].value.instance.id, "vnf-1");
//! # Ok(())
//! # }
//! ```

pub mod csar;
pub mod error;
pub mod filter;
pub mod grant;
pub mod infra;
pub mod lcm;
pub mod mgmt;
pub mod model;
pub mod monitor;
pub mod notify;
pub mod outbound;
pub mod package;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
mod tenant;
pub mod vim;
pub mod vnfd;
pub mod vnfm;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{BoxError, Error, Result};
pub use tenant::TenantId;
pub use vnfm::{VimType, Vnfm, VnfmBuilder};

// Crates whose types appear in this crate's public signatures, so that an embedder
// uses the same versions without naming them in its own manifest.
pub use ::async_trait::{self, async_trait};
pub use ::bytes;
pub use ::object_store;

/// A new resource identifier: a UUIDv7, so identifiers sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
