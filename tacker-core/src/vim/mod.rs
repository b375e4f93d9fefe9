//! `VimDriver`: checks a VIM's credentials and reads what it offers.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::model::{KeyValuePairs, VimConnectionInfo};

/// What a VIM told the VNFM about itself.
///
/// Built from [`VimDescription::default`] (or [`VimDescription::new`]) with the
/// `with_*` methods (its fields can grow).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VimDescription {
    /// Regions (OpenStack) or the single cluster name (Kubernetes).
    pub regions: Vec<String>,
    /// The VIM's version as it reports it.
    pub version: Option<String>,
    /// Anything else worth showing (API endpoints, node count).
    pub extra: KeyValuePairs,
}

impl VimDescription {
    /// Nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the regions (OpenStack) or the cluster name (Kubernetes).
    #[must_use]
    pub fn with_regions(mut self, regions: Vec<String>) -> Self {
        self.regions = regions;
        self
    }

    /// With the version the VIM reports.
    #[must_use]
    pub fn with_version(mut self, version: Option<String>) -> Self {
        self.version = version;
        self
    }

    /// With one more fact worth showing.
    #[must_use]
    pub fn with_extra(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }
}

/// The driver that registers VIMs of one type.
#[async_trait]
pub trait VimDriver: Send + Sync + std::fmt::Debug {
    /// The `vimType` served, e.g. `ETSINFV.KUBERNETES.V_1`.
    fn vim_type(&self) -> &str;

    /// Connect with the given credentials and describe the VIM. Fails with
    /// `InvalidRequest` naming the missing or malformed field, or with a driver error
    /// saying what the VIM answered. Has no side effect on the VIM.
    async fn validate(&self, vim: &VimConnectionInfo) -> Result<VimDescription>;
}

mod registry;
mod seal;

pub use registry::{VimInfo, VimRegistration, VimRegistry, VimUpdate};
pub use seal::{Sealer, SealingKey};
