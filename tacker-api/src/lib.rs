//! The HTTP side of the tacker VNF Manager.
//!
//! It holds the HTTP clients the VNFM core needs from an embedder:
//!
//! - [`HttpNotificationSink`] ([`notify`]): a
//!   [`NotificationSink`](tacker_core::notify::NotificationSink) that posts SOL003/SOL005
//!   notifications to subscribers' callbacks with the SOL013 `Version` header and
//!   BASIC or OAuth 2.0 client-credentials authentication, and tests callbacks with
//!   `GET` before a subscription is created;
//! - [`HttpPackageFetcher`] ([`fetch`]): a
//!   [`PackageFetcher`](tacker_core::package::PackageFetcher) that downloads VNF packages
//!   for "upload from URI" with a size limit, bounded redirects and optional basic
//!   credentials.
//!
//! Both use rustls with the ring provider, which their constructors install as the
//! process default when no provider is installed yet.
//!
//! And it serves the ETSI NFV REST APIs ([`rest`]): VNF LCM (`/vnflcm/v2`), VNF package
//! management (`/vnfpkgm/v2`, `/vnfpkgm/v1`) and the VIM registry (`/vims`), as an axum
//! `Router` an embedder can mount ([`rest::Api`]).

pub mod coordination;
pub mod fetch;
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod fuzzing;
pub mod grant;
mod http;
#[cfg(feature = "server")]
pub mod metrics;
pub mod nfvo;
pub mod nfvo_packages;
pub mod notify;
mod oauth;
#[cfg(feature = "server")]
pub mod rest;
#[cfg(feature = "server")]
pub mod serve;

pub use coordination::HttpLcmCoordinator;
pub use fetch::HttpPackageFetcher;
pub use grant::HttpGrantProvider;
pub use nfvo::NfvoConnection;
pub use nfvo_packages::NfvoPackageSource;
pub use notify::HttpNotificationSink;
#[cfg(feature = "server")]
pub use rest::{Api, ApiConfig, Principal};

/// Gives a [`VnfmBuilder`](tacker_core::VnfmBuilder) the HTTP clients of this crate,
/// both keeping to the builder's outbound policy
/// ([`VnfmBuilder::outbound_policy`](tacker_core::VnfmBuilder::outbound_policy)):
/// [`HttpNotificationSink`] delivers notifications to subscribers' callbacks and
/// [`HttpPackageFetcher`] downloads packages for "upload from URI".
///
/// ```
/// use tacker_api::HttpClients;
///
/// # fn main() -> tacker_core::Result<()> {
/// let vnfm = tacker_core::Vnfm::builder()
///     .outbound_policy(tacker_core::outbound::OutboundPolicy::default().allow_loopback(false))
///     .http_clients()?
///     .build()?;
/// # drop(vnfm);
/// # Ok(())
/// # }
/// ```
pub trait HttpClients: Sized {
    /// The builder with both clients set.
    fn http_clients(self) -> tacker_core::Result<Self>;
}

impl HttpClients for tacker_core::VnfmBuilder {
    fn http_clients(self) -> tacker_core::Result<Self> {
        let policy = self.outbound().clone();
        let fetcher = HttpPackageFetcher::builder()
            .outbound_policy(policy.clone())
            .build()?;
        let sink = HttpNotificationSink::builder()
            .outbound_policy(policy)
            .build()?;
        Ok(self
            .package_fetcher(std::sync::Arc::new(fetcher))
            .notification_sink(std::sync::Arc::new(sink)))
    }
}
