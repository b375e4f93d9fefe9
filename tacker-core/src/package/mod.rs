//! Where VNF packages come from: the `PackageSource` seam and the files of a package.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::VnfPkgInfo;
use crate::vnfd::Vnfd;
use crate::{Error, Result, TenantId};

/// Read access to the files of one VNF package (templates, manifests, charts, scripts).
#[async_trait]
pub trait PackageFiles: Send + Sync + std::fmt::Debug {
    /// Every file path in the package, `/`-separated, relative to the package root.
    fn paths(&self) -> Vec<String>;

    /// The content of a file. `NotFound` when the package has no such file.
    async fn read(&self, path: &str) -> Result<Vec<u8>>;

    /// The content of a file as a stream of chunks, for files too large to hold at once
    /// (software images). The default reads the whole file with [`PackageFiles::read`];
    /// the packages of the package manager stream it from storage.
    async fn stream(&self, path: &str) -> Result<FileStream> {
        let content = self.read(path).await?;
        Ok(Box::pin(futures::stream::once(async move {
            Ok(bytes::Bytes::from(content))
        })))
    }
}

/// The chunks of one package file.
pub type FileStream = futures::stream::BoxStream<'static, Result<bytes::Bytes>>;

/// A package held in memory: for tests, and for packages built by code.
#[derive(Debug, Clone, Default)]
pub struct InMemoryPackageFiles {
    files: BTreeMap<String, Arc<[u8]>>,
}

impl InMemoryPackageFiles {
    /// An empty package.
    pub const fn new() -> Self {
        Self {
            files: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a file.
    pub fn with_file(mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.into(), Arc::from(content.into()));
        self
    }
}

#[async_trait]
impl PackageFiles for InMemoryPackageFiles {
    fn paths(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    async fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.files
            .get(path)
            .map(|content| content.to_vec())
            .ok_or_else(|| Error::not_found("package file", path))
    }
}

/// An onboarded VNF package: its information, its VNFD and its files.
#[derive(Debug, Clone)]
pub struct VnfPackage {
    /// The package information.
    pub info: VnfPkgInfo,
    /// The VNFD it carries.
    pub vnfd: Arc<Vnfd>,
    /// Its files.
    pub files: Arc<dyn PackageFiles>,
}

/// Where the LCM engine finds the package of a VNFD: the local package manager, or an
/// NFVO over the SOL003 VNF package management interface.
#[async_trait]
pub trait PackageSource: Send + Sync + std::fmt::Debug {
    /// The onboarded package that carries `vnfd_id`. `NotFound` when there is none;
    /// `Conflict` when the package exists but is disabled and `for_new_instance` is set
    /// (SOL003: a disabled package cannot be instantiated).
    async fn package_for_vnfd(
        &self,
        tenant: &TenantId,
        vnfd_id: &str,
        for_new_instance: bool,
    ) -> Result<VnfPackage>;

    /// Called when the number of VNF instances using `vnfd_id` changes between zero and
    /// non-zero, so the source can keep `usageState` true. Idempotent.
    async fn set_in_use(&self, tenant: &TenantId, vnfd_id: &str, in_use: bool) -> Result<()>;
}

#[cfg(feature = "packages")]
mod content;
#[cfg(feature = "packages")]
mod manager;
mod notifications;

#[cfg(feature = "packages")]
pub use content::{ContentStream, SpoolFile};
#[cfg(feature = "packages")]
pub use manager::{Content, PackageFetcher, PackageManagerConfig, VnfPackageManager};
pub use notifications::pkgm_filter_matches;

/// Removes spool files a stopped process left behind in `dir`: those not written for an
/// hour (a live upload or download writes its file continuously, and onboarding one
/// takes minutes at most).
#[cfg(feature = "packages")]
pub fn remove_stale_spool_files(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with("tacker-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if stale {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed a stale spool file")
                }
                Err(error) => {
                    tracing::warn!(path = %entry.path().display(), %error, "cannot remove a stale spool file")
                }
            }
        }
    }
}
