//! An embeddable ETSI NFV VNF Manager. Build one with [`Vnfm::builder`]: give it a
//! store, a sealing key, your VIM types and management drivers once, start it, and use
//! its handles ([`Vnfm::lcm`], [`Vnfm::packages`], [`Vnfm::vims`], [`Vnfm::fm`]).
//!
//! A complete embedding: a VIM type of your own (here an infra driver that logs each
//! instantiation and leaves the resources to the simulated VIM), a management driver
//! bound by the package's hooks, and LCM notifications received in process.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use tacker_core::infra::{InfraCapabilities, InfraContext, InfraDriver, InfraOutcome};
//! use tacker_core::model::{CreateVnfRequest, InstantiateVnfRequest, TerminateVnfRequest};
//! use tacker_core::sim::{SimInfraDriver, sample_vim};
//! use tacker_core::{Result, TenantId, VimType, Vnfm, async_trait};
//!
//! #[derive(Debug, Default)]
//! struct LoggingCloud { sim: SimInfraDriver, log: Mutex<Vec<String>> }
//!
//! #[async_trait]
//! impl InfraDriver for LoggingCloud {
//!     fn vim_type(&self) -> &str { self.sim.vim_type() }
//!     fn capabilities(&self) -> InfraCapabilities { InfraCapabilities::new() }
//!     async fn instantiate(&self, ctx: &InfraContext<'_>, r: &InstantiateVnfRequest) -> Result<InfraOutcome> {
//!         self.log.lock().unwrap().push(ctx.vnf_instance.id.clone());
//!         self.sim.instantiate(ctx, r).await
//!     }
//!     async fn terminate(&self, ctx: &InfraContext<'_>, r: &TerminateVnfRequest) -> Result<InfraOutcome> {
//!         self.sim.terminate(ctx, r).await
//!     }
//! }
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<()> {
//! let cloud = Arc::new(LoggingCloud::default());
//! let vnfm = Vnfm::builder() // the in-memory store; give `.store(..)` and `.sealing_key(..)` for a database
//!     .vim_type(VimType::new(cloud.clone(), Arc::new(cloud.sim.vim_driver()))?)
//!     .default_vim("vim1", sample_vim())
//!     .build()?;
//! vnfm.start().await?;
//! let tenant = TenantId::default();
//! let mut events = vnfm.lcm_notifications(&tenant, None).await?;
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/packages/sample-vnf");
//! let package = vnfm.packages().onboard_directory(&tenant, dir.as_ref()).await?;
//! let request = CreateVnfRequest { vnfd_id: package.vnfd_id.unwrap_or_default(), ..Default::default() };
//! let instance = vnfm.lcm().create_vnf(&tenant, request).await?;
//! let request = InstantiateVnfRequest { flavour_id: "simple".into(), ..Default::default() };
//! let op = vnfm.lcm().instantiate(&tenant, &instance.id, request).await?;
//! let op = vnfm.lcm().wait_for(&tenant, &op.id, &[], Duration::from_secs(30)).await?;
//! assert_eq!(op.operation_state.as_str(), "COMPLETED");
//! assert_eq!(cloud.log.lock().unwrap().as_slice(), [instance.id.clone()]);
//! let created = events.next().await.expect("a notification");
//! assert_eq!(created["notificationType"], "VnfIdentifierCreationNotification");
//! vnfm.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! `tacker-core` stays light: no HTTP server, no SQL driver, no Kubernetes client. The
//! SQL store (`tacker-store`), the drivers (`tacker-drivers-openstack`,
//! `tacker-drivers-k8s`, `tacker-mgmt-k8s-cluster`) and the REST binding and HTTP
//! clients (`tacker-api`) build on it; `tacker-vnfm` is the server and the CLI.
//!
//! Where things are:
//! - [`vnfm`]: the façade; [`lcm`] (LCM requests, the executor, fault management),
//!   [`package`] (onboarding), [`vim`] (the VIM registry and sealing), [`notify`] (the
//!   outbox sender, subscriptions, in-process streams);
//! - [`model`]: ETSI SOL002/SOL003/SOL005 types (`VnfInstance`, `VnfLcmOpOcc`, …);
//! - [`vnfd`]: the VNFD as the engine and drivers read it;
//! - [`infra`], [`vim`], [`mgmt`], [`monitor`], [`grant`], [`package`], [`notify`]:
//!   the seams, each an object-safe trait used as `Arc<dyn …>`;
//! - [`store`]: the `Store` trait and [`store::MemoryStore`];
//! - [`filter`]: SOL013 attribute filters;
//! - [`outbound`]: the policy of the VNFM's outbound requests (SSRF protection).
//!
//! Features: `sim` (default) the simulated VIM, the embedded default; `monitors`
//! (default) the built-in HTTP, ping and Alertmanager monitors (the only HTTP client of
//! the crate); `testkit` the conformance suites for stores and infra drivers, the
//! fault-injecting store, and `mockall` mocks of every driver trait.

pub mod coordination;
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
#[cfg(feature = "monitors")]
pub use vnfm::BuiltinMonitors;
pub use vnfm::{VimType, Vnfm, VnfmBuilder};

// Crates whose types appear in this crate's public signatures, so that an embedder
// uses the same versions without naming them in its own manifest.
pub use ::async_trait::{self, async_trait};
pub use ::bytes;
#[cfg(feature = "packages")]
pub use ::object_store;

/// A new resource identifier: a UUIDv7, so identifiers sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
