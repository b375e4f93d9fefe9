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

pub mod fetch;
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
#[cfg(feature = "server")]
pub mod metrics;
pub mod notify;
#[cfg(feature = "server")]
pub mod rest;
#[cfg(feature = "server")]
pub mod serve;

pub use fetch::HttpPackageFetcher;
pub use notify::HttpNotificationSink;
#[cfg(feature = "server")]
pub use rest::{Api, ApiConfig, Principal};
