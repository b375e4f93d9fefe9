//! `VnfPackageManager`: SOL005 VNF package management over a [`Store`] and an
//! [`ObjectStore`] that keeps the package bytes.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt as _;

use super::content::{self, ContentStream, ObjectReader, SpoolFile, object_error};
use super::notifications::pkgm_filter_matches;
use super::{PackageFiles, PackageSource, VnfPackage};
use crate::csar::{Csar, CsarOptions};
use crate::filter::Filter;
use crate::model::{
    Checksum, ContainerFormat, CreateVnfPkgInfoRequest, DiskFormat, KeyValuePairs, Link,
    PackageChangeType, PackageOnboardingStateType as Onboarding,
    PackageOperationalStateType as Operational, PackageUsageStateType as Usage, PkgmLinks,
    PkgmNotificationType, ProblemDetails, UploadVnfPackageFromUriRequest, VnfPackageArtifactInfo,
    VnfPackageChangeNotification, VnfPackageOnboardingNotification, VnfPackageSoftwareImageInfo,
    VnfPkgInfo, VnfPkgInfoLinks, VnfPkgInfoModifications,
};
use crate::notify::{NotificationSink, OutboxSignal, Subscriptions};
use crate::store::{
    ListQuery, NewNotification, Page, PkgmSubscriptionRecord, Record, RecordKind, Store, StoreExt,
    UploadClaim, Versioned, VnfPackageRecord, Write,
};
use crate::vnfd::{Vnfd, VnfdReport};
use crate::{Error, Result, TenantId, new_id};

/// Fetches a package from an `http`/`https` URI (the embedder's HTTP client).
#[async_trait]
pub trait PackageFetcher: Send + Sync + std::fmt::Debug {
    /// The content at `uri`, at most `limit` bytes, with HTTP basic credentials if given.
    async fn fetch(&self, uri: &str, basic_auth: Option<(&str, &str)>, limit: u64)
    -> Result<Bytes>;

    /// Writes the content at `uri` to `out` as it arrives and returns its size; more
    /// than `limit` bytes is `TooLarge` naming the limit. The default fetches the whole
    /// content with [`PackageFetcher::fetch`] first: implement it to stream.
    async fn fetch_to(
        &self,
        uri: &str,
        basic_auth: Option<(&str, &str)>,
        limit: u64,
        out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    ) -> Result<u64> {
        use tokio::io::AsyncWriteExt as _;
        let content = self.fetch(uri, basic_auth, limit).await?;
        let size = u64::try_from(content.len()).unwrap_or(u64::MAX);
        if size > limit {
            return Err(Error::TooLarge(format!(
                "the package at the URI is {size} bytes; at most {limit} bytes (the maximum package size) are accepted"
            )));
        }
        out.write_all(&content)
            .await
            .map_err(|e| Error::Internal(format!("cannot write the downloaded package: {e}")))?;
        Ok(size)
    }
}

/// How the package manager behaves.
#[derive(Debug, Clone)]
pub struct PackageManagerConfig {
    /// The absolute URI prefix of the API, for `_links` (e.g. `http://127.0.0.1:9890`).
    pub api_root: String,
    /// Limits and options for reading packages.
    pub csar: CsarOptions,
    /// The largest package accepted, in bytes (uploaded or fetched from a URI).
    pub max_package_size: u64,
    /// Where packages are spooled while they are uploaded, downloaded or zipped for a
    /// download (default: the system's temporary directory). Use a disk, not a tmpfs:
    /// a spooled package takes its size here.
    pub spool_dir: Option<std::path::PathBuf>,
    /// How long the claim of an upload on its package lasts without renewal (renewed
    /// every third of it): how soon a package whose onboarding process stopped goes back
    /// from UPLOADING or PROCESSING to CREATED.
    pub upload_claim_ttl: std::time::Duration,
    /// Which package signers are trusted and what each tenant's packages must show
    /// (SOL004 security options). `None`: signatures are not looked at.
    #[cfg(feature = "signatures")]
    pub trust: Option<crate::csar::PackageTrust>,
}

impl PackageManagerConfig {
    /// The same with another package size limit.
    pub fn with_max_package_size(mut self, max_package_size: u64) -> Self {
        self.max_package_size = max_package_size;
        self
    }

    /// The same checking package signatures with `trust`.
    #[cfg(feature = "signatures")]
    pub fn with_trust(mut self, trust: crate::csar::PackageTrust) -> Self {
        self.trust = Some(trust);
        self
    }

    /// The same spooling to `dir`.
    pub fn with_spool_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }
}

impl Default for PackageManagerConfig {
    fn default() -> Self {
        Self {
            api_root: "http://127.0.0.1:9890".to_owned(),
            csar: CsarOptions::default(),
            max_package_size: 8 << 30,
            spool_dir: None,
            upload_claim_ttl: std::time::Duration::from_secs(60),
            #[cfg(feature = "signatures")]
            trust: None,
        }
    }
}

/// What the signatures of a package showed.
#[cfg(feature = "signatures")]
type Signatures = crate::csar::SignatureReport;

/// Without signature checks: nothing.
#[cfg(not(feature = "signatures"))]
#[derive(Debug, Default)]
struct Signatures {
    security_option: Option<crate::model::PackageSecurityOption>,
    signing_certificate: Option<String>,
}

/// A package read from the object store, kept for the VNFD and file reads that follow.
#[derive(Debug)]
struct Opened {
    csar: Csar,
    report: VnfdReport,
}

/// Files of an opened package.
#[derive(Debug)]
struct OpenedFiles(Arc<Opened>);

#[async_trait]
impl PackageFiles for OpenedFiles {
    fn paths(&self) -> Vec<String> {
        self.0.csar.paths().map(str::to_owned).collect()
    }

    async fn read(&self, path: &str) -> Result<Vec<u8>> {
        if !self.0.csar.contains(path) {
            return Err(Error::not_found("package file", path));
        }
        let mut files = read_members(self.0.clone(), vec![path.to_owned()]).await?;
        Ok(files.pop().map(|(_, content)| content).unwrap_or_default())
    }

    async fn stream(&self, path: &str) -> Result<super::FileStream> {
        let Some(size) = self.0.csar.size(path) else {
            return Err(Error::not_found("package file", path));
        };
        let content = Content {
            size,
            source: Source::Member {
                opened: self.0.clone(),
                path: path.to_owned(),
            },
        };
        content.stream(None).await
    }
}

/// Reads members of an opened package on a blocking thread (the package may be read
/// from the object store by ranges, which blocks).
async fn read_members(opened: Arc<Opened>, paths: Vec<String>) -> Result<Vec<(String, Vec<u8>)>> {
    tokio::task::spawn_blocking(move || {
        paths
            .into_iter()
            .map(|path| {
                let content = opened.csar.read(&path)?;
                Ok((path, content))
            })
            .collect()
    })
    .await
    .map_err(|e| Error::Internal(format!("package read task failed: {e}")))?
}

/// Bytes of a package to send: the stored zip, one of its files, or an archive spooled
/// to a file. Streams whole or by a range, never holding more than a few chunks.
#[derive(Debug)]
pub struct Content {
    size: u64,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Object {
        objects: Arc<dyn ObjectStore>,
        key: ObjectPath,
    },
    Member {
        opened: Arc<Opened>,
        path: String,
    },
    Spooled(SpoolFile),
}

impl Content {
    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes, or those of `range` (which must lie within the size: resolve it
    /// against [`Content::size`] first).
    pub async fn stream(self, range: Option<Range<u64>>) -> Result<ContentStream> {
        let size = self.size;
        let range = range.unwrap_or(0..size);
        if range.end > size || range.start > range.end {
            return Err(Error::InvalidRequest(format!(
                "range {}-{} is outside the content's {size} bytes",
                range.start,
                range.end.saturating_sub(1)
            )));
        }
        if range.is_empty() {
            return Ok(Box::pin(futures::stream::empty()));
        }
        match self.source {
            Source::Object { objects, key } => {
                let options = object_store::GetOptions {
                    range: Some(object_store::GetRange::Bounded(range)),
                    ..object_store::GetOptions::default()
                };
                let result = objects
                    .get_opts(&key, options)
                    .await
                    .map_err(object_error)?;
                Ok(Box::pin(futures::StreamExt::map(
                    result.into_stream(),
                    |chunk| chunk.map_err(object_error),
                )))
            }
            Source::Member { opened, path } => Ok(content::blocking_stream(move |send| {
                opened
                    .csar
                    .with_reader(&path, |reader| {
                        content::pump(reader, range.start, range.end - range.start, send)
                    })
                    .map_err(Error::from)
            })),
            Source::Spooled(spool) => Ok(content::blocking_stream(move |send| {
                let mut file = crate::csar::SharedFile::open(spool.path())
                    .map_err(|e| Error::Internal(format!("cannot read the archive: {e}")))?;
                content::pump(&mut file, range.start, range.end - range.start, send)
                    .map_err(|e| Error::Internal(format!("cannot read the archive: {e}")))?;
                drop(spool);
                Ok(())
            })),
        }
    }
}

struct Inner {
    store: Arc<dyn Store>,
    objects: Arc<dyn ObjectStore>,
    config: PackageManagerConfig,
    fetcher: Option<Arc<dyn PackageFetcher>>,
    subscriptions: Subscriptions<PkgmSubscriptionRecord>,
    outbox: OutboxSignal,
    opened: Mutex<HashMap<String, Arc<Opened>>>,
}

/// SOL005 VNF package management: create, upload (bytes, file or URI), onboard,
/// enable/disable, delete, and read the VNFD, manifest, content and artifacts. Cheap to
/// clone.
#[derive(Clone)]
pub struct VnfPackageManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for VnfPackageManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnfPackageManager")
            .field("api_root", &self.inner.config.api_root)
            .finish_non_exhaustive()
    }
}

fn content_key(tenant: &TenantId, id: &str) -> ObjectPath {
    ObjectPath::from(format!("vnf_packages/{tenant}/{id}/package.zip"))
}

/// An onboarding task's hold on a package; its renewer stops when it is dropped.
#[derive(Debug)]
struct Claim {
    id: String,
    token: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

fn not_created(id: &str, state: Onboarding) -> Error {
    Error::Conflict(format!(
        "package {id} is {}; content can only be uploaded to a CREATED package",
        serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    ))
}

fn failure_details(error: &Error) -> ProblemDetails {
    ProblemDetails {
        problem_type: None,
        title: Some("Onboarding failed".to_owned()),
        status: error.status(),
        detail: error.to_string(),
        instance: None,
        user_script_err_handling_data: None,
    }
}

/// Whether a package is UPLOADING or PROCESSING under a claim that lapsed (or none).
fn lapsed(record: &VnfPackageRecord) -> bool {
    matches!(
        record.info.onboarding_state,
        Onboarding::Uploading | Onboarding::Processing
    ) && record
        .upload_claim
        .as_ref()
        .is_none_or(|claim| claim.until < Utc::now())
}

fn container_format(text: &str) -> Option<ContainerFormat> {
    serde_json::from_value(serde_json::Value::String(text.to_ascii_uppercase())).ok()
}

fn disk_format(text: &str) -> Option<DiskFormat> {
    serde_json::from_value(serde_json::Value::String(text.to_ascii_uppercase())).ok()
}

/// Builds a [`VnfPackageManager`] (the [`crate::Vnfm`] façade builds one for you).
#[derive(Debug)]
pub struct VnfPackageManagerBuilder {
    store: Arc<dyn Store>,
    objects: Arc<dyn ObjectStore>,
    config: PackageManagerConfig,
    fetcher: Option<Arc<dyn PackageFetcher>>,
    sink: Option<Arc<dyn NotificationSink>>,
    sealer: Option<crate::vim::Sealer>,
    outbox: OutboxSignal,
}

impl VnfPackageManagerBuilder {
    /// The configuration (default: [`PackageManagerConfig::default`]).
    pub fn config(mut self, config: PackageManagerConfig) -> Self {
        self.config = config;
        self
    }

    /// Fetches packages for uploads from a URI (without one, they are refused).
    pub fn fetcher(mut self, fetcher: Arc<dyn PackageFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Checks subscription callbacks with `sink` before accepting a subscription.
    pub fn notification_sink(mut self, sink: Arc<dyn NotificationSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Seals subscription credentials: the key the notification sender opens them
    /// with. Required with a persistent store.
    pub fn sealer(mut self, sealer: crate::vim::Sealer) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Rung after every commit that queued notifications, to wake the sender.
    pub fn outbox_signal(mut self, signal: OutboxSignal) -> Self {
        self.outbox = signal;
        self
    }

    /// The manager. Fails when the store is persistent and no sealer was given.
    pub fn build(self) -> Result<VnfPackageManager> {
        let sealer =
            crate::vim::Sealer::required(self.sealer, self.store.as_ref(), "VnfPackageManager")?;
        let subscriptions = Subscriptions::new(
            self.store.clone(),
            self.sink,
            sealer,
            self.config.api_root.clone(),
        );
        Ok(VnfPackageManager {
            inner: Arc::new(Inner {
                store: self.store,
                objects: self.objects,
                config: self.config,
                fetcher: self.fetcher,
                subscriptions,
                outbox: self.outbox,
                opened: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl VnfPackageManager {
    /// A builder over a store and an object store for package files.
    pub fn builder(
        store: Arc<dyn Store>,
        objects: Arc<dyn ObjectStore>,
    ) -> VnfPackageManagerBuilder {
        VnfPackageManagerBuilder {
            store,
            objects,
            config: PackageManagerConfig::default(),
            fetcher: None,
            sink: None,
            sealer: None,
            outbox: OutboxSignal::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PackageManagerConfig {
        &self.inner.config
    }

    /// Commits `writes` and wakes the notification sender.
    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> Result<Vec<u64>> {
        let versions = self.inner.store.commit(tenant, writes).await?;
        self.inner.outbox.ring();
        Ok(versions)
    }

    fn links(&self, id: &str) -> VnfPkgInfoLinks {
        let base = format!(
            "{}/vnfpkgm/v2/vnf_packages/{id}",
            self.inner.config.api_root
        );
        VnfPkgInfoLinks {
            self_: Link::new(base.clone()),
            vnfd: Link::new(format!("{base}/vnfd")),
            package_content: Link::new(format!("{base}/package_content")),
        }
    }

    /// Creates an empty package resource (CREATED, DISABLED, NOT_IN_USE).
    pub async fn create(
        &self,
        tenant: &TenantId,
        request: CreateVnfPkgInfoRequest,
    ) -> Result<VnfPkgInfo> {
        let id = new_id();
        let info = VnfPkgInfo {
            id: id.clone(),
            vnfd_id: None,
            vnf_provider: None,
            vnf_product_name: None,
            vnf_software_version: None,
            vnfd_version: None,
            compatible_specification_versions: Vec::new(),
            checksum: None,
            package_security_option: None,
            signing_certificate: None,
            software_images: Vec::new(),
            additional_artifacts: Vec::new(),
            onboarding_state: Onboarding::Created,
            operational_state: Operational::Disabled,
            usage_state: Usage::NotInUse,
            vnfm_info: Vec::new(),
            user_defined_data: request.user_defined_data,
            onboarding_failure_details: None,
            links: self.links(&id),
        };
        let record = VnfPackageRecord {
            info: info.clone(),
            content_location: None,
            created_at: Utc::now(),
            upload_claim: None,
        };
        self.inner.store.insert(tenant, record).await?;
        Ok(info)
    }

    /// One package.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<VnfPkgInfo> {
        Ok(self.record(tenant, id).await?.value.info)
    }

    /// The package record, sent back to CREATED first if its upload was interrupted.
    async fn record(&self, tenant: &TenantId, id: &str) -> Result<Versioned<VnfPackageRecord>> {
        let record = self.raw_record(tenant, id).await?;
        self.repair_if_lapsed(tenant, record).await
    }

    async fn raw_record(&self, tenant: &TenantId, id: &str) -> Result<Versioned<VnfPackageRecord>> {
        self.inner
            .store
            .get_typed::<VnfPackageRecord>(tenant, id)
            .await
    }

    /// A package left UPLOADING or PROCESSING by an onboarding task that stopped (its
    /// process ended) goes back to CREATED with `onboardingFailureDetails`, so it can
    /// be uploaded again.
    async fn repair_if_lapsed(
        &self,
        tenant: &TenantId,
        mut record: Versioned<VnfPackageRecord>,
    ) -> Result<Versioned<VnfPackageRecord>> {
        if !lapsed(&record.value) {
            return Ok(record);
        }
        let id = record.value.info.id.clone();
        tracing::warn!(
            package = id,
            "an interrupted upload left the package; back to CREATED"
        );
        record.value.info.onboarding_state = Onboarding::Created;
        record.value.info.onboarding_failure_details = Some(failure_details(&Error::Conflict(
            "the upload was interrupted before the package was onboarded (the VNFM handling it stopped); upload the content again".to_owned(),
        )));
        record.value.upload_claim = None;
        match self
            .inner
            .store
            .update(tenant, record.value.clone(), record.version)
            .await
        {
            Ok(version) => {
                record.version = version;
                Ok(record)
            }
            // Someone else changed it meanwhile: their state stands.
            Err(error) if error.is_conflict() => self.raw_record(tenant, &id).await,
            Err(other) => Err(other),
        }
    }

    /// Packages, filtered and paged.
    pub async fn list(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<VnfPkgInfo>> {
        let mut page = self
            .inner
            .store
            .list_typed::<VnfPackageRecord>(tenant, query)
            .await?;
        for item in &mut page.items {
            if lapsed(&item.value) {
                *item = self.repair_if_lapsed(tenant, item.clone()).await?;
            }
        }
        Ok(page.map(|v| v.value.info))
    }

    /// Packages, filtered and paged, each as a list shows it by default (without its
    /// complex attributes, as JSON text). A page holding a package whose upload lapsed
    /// is read as [`list`](Self::list) reads it, which repairs it first.
    pub async fn summaries(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<String>> {
        let page = self
            .inner
            .store
            .list_summaries(tenant, RecordKind::VnfPackage, query)
            .await?;
        // Summaries are compact JSON written by this VNFM, so an unsettled state shows
        // as exactly this text (a string value holding it would have its quotes
        // escaped; a false alarm only costs the slower read).
        let settled = page.items.iter().all(|summary| {
            !summary.contains("\"onboardingState\":\"UPLOADING\"")
                && !summary.contains("\"onboardingState\":\"PROCESSING\"")
        });
        if settled {
            return Ok(page);
        }
        let page = self.list(tenant, query).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for info in page.items {
            let view = serde_json::to_value(info).map_err(|e| Error::Internal(e.to_string()))?;
            items.push(RecordKind::VnfPackage.summary_of(view));
        }
        Ok(Page {
            items,
            next_marker: page.next_marker,
        })
    }

    /// Creates a package and onboards the zip (CSAR) at `path` into it, reading it from
    /// the file without holding it in memory. Returns the package as onboarding left
    /// it; a package that fails validation is kept in CREATED with the reason, and the
    /// error says why.
    pub async fn onboard_file(
        &self,
        tenant: &TenantId,
        path: &std::path::Path,
    ) -> Result<VnfPkgInfo> {
        let package = self
            .create(tenant, CreateVnfPkgInfoRequest::default())
            .await?;
        self.upload_content_from_file(tenant, &package.id, path)
            .await
    }

    /// Creates a package and onboards the unpacked package directory `dir` (the layout
    /// of a CSAR: `TOSCA-Metadata/TOSCA.meta` or a root YAML, definitions, manifest,
    /// artifacts). The directory is zipped into a spool file first; more than
    /// `max_package_size` bytes of files is refused.
    pub async fn onboard_directory(
        &self,
        tenant: &TenantId,
        dir: &std::path::Path,
    ) -> Result<VnfPkgInfo> {
        let (spool, file) = SpoolFile::create(&self.spool_dir(), "directory").await?;
        let file = file.into_std().await;
        let root = dir.to_path_buf();
        let limit = self.inner.config.max_package_size;
        tokio::task::spawn_blocking(move || content::zip_directory(&root, file, limit))
            .await
            .map_err(|e| Error::Internal(format!("zipping the package directory failed: {e}")))??;
        self.onboard_file(tenant, spool.path()).await
    }

    /// Uploads the package zip and onboards it synchronously. On success the package
    /// is ONBOARDED and ENABLED; when validation fails it goes back to CREATED with
    /// `onboardingFailureDetails`, its content is discarded, and the error says why.
    ///
    /// The bytes are spooled to a file first and onboarded like
    /// [`VnfPackageManager::upload_content_from_file`]; for large packages give the file.
    pub async fn upload_content(
        &self,
        tenant: &TenantId,
        id: &str,
        content: Bytes,
    ) -> Result<VnfPkgInfo> {
        self.check_size(u64::try_from(content.len()).unwrap_or(u64::MAX))?;
        self.ensure_created(tenant, id).await?;
        let (spool, mut file) = SpoolFile::create(&self.spool_dir(), "package").await?;
        let write_error = |e: std::io::Error| {
            Error::Internal(format!("cannot write the package to a temporary file: {e}"))
        };
        file.write_all(&content).await.map_err(write_error)?;
        file.flush().await.map_err(write_error)?;
        drop(file);
        drop(content);
        self.upload_content_from_file(tenant, id, spool.path())
            .await
    }

    /// Uploads a package from a zip file (for example a request body spooled to disk)
    /// and onboards it synchronously, like [`VnfPackageManager::upload_content`]. The
    /// package is never held in memory: the zip is read from the file (only its
    /// central directory and the members validation needs), artifacts are hashed in
    /// chunks, and the file is stored in parts while its checksum is computed. A file
    /// above `max_package_size` is refused with `TooLarge` before anything changes.
    pub async fn upload_content_from_file(
        &self,
        tenant: &TenantId,
        id: &str,
        path: &std::path::Path,
    ) -> Result<VnfPkgInfo> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::InvalidRequest(format!("cannot read {}: {e}", path.display())))?
            .len();
        self.check_size(size)?;
        let claim = self.claim(tenant, id, Onboarding::Processing).await?;
        self.process(tenant, claim, path).await
    }

    /// Fetches the package from an `http` or `https` URI and onboards it, waiting for
    /// the end: [`VnfPackageManager::start_upload_from_uri`] and then its task.
    pub async fn upload_from_uri(
        &self,
        tenant: &TenantId,
        id: &str,
        request: &UploadVnfPackageFromUriRequest,
        basic_auth: Option<(&str, &str)>,
    ) -> Result<VnfPkgInfo> {
        let credentials = basic_auth.map(|(user, password)| (user.to_owned(), password.to_owned()));
        self.start_upload_from_uri(tenant, id, request, credentials)
            .await?
            .await
            .map_err(|e| Error::Internal(format!("the upload task failed: {e}")))?
    }

    /// Starts fetching the package from an `http` or `https` URI and returns once the
    /// package is UPLOADING, with the task that downloads it (streamed to a spool file,
    /// at most `max_package_size` bytes), validates it (PROCESSING) and onboards it
    /// (ONBOARDED), or sends it back to CREATED with `onboardingFailureDetails`. The
    /// task runs on its own: dropping the handle does not stop it. A process that stops
    /// midway leaves a claim that lapses, and the package then goes back to CREATED.
    pub async fn start_upload_from_uri(
        &self,
        tenant: &TenantId,
        id: &str,
        request: &UploadVnfPackageFromUriRequest,
        basic_auth: Option<(String, String)>,
    ) -> Result<tokio::task::JoinHandle<Result<VnfPkgInfo>>> {
        let uri = request.address_information.trim().to_owned();
        let scheme_ok = uri.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") && !rest.is_empty()
        });
        if !scheme_ok {
            return Err(Error::InvalidRequest(format!(
                "addressInformation '{uri}' must be an http or https URI"
            )));
        }
        let fetcher = self.inner.fetcher.clone().ok_or_else(|| {
            Error::NotSupported("uploads from a URI need a PackageFetcher".to_owned())
        })?;
        let claim = self.claim(tenant, id, Onboarding::Uploading).await?;
        let manager = self.clone();
        let tenant = tenant.clone();
        Ok(tokio::spawn(async move {
            let limit = manager.inner.config.max_package_size;
            let downloaded: Result<SpoolFile> = async {
                let (spool, mut file) = SpoolFile::create(&manager.spool_dir(), "download").await?;
                let credentials = basic_auth
                    .as_ref()
                    .map(|(user, password)| (user.as_str(), password.as_str()));
                fetcher
                    .fetch_to(&uri, credentials, limit, &mut file)
                    .await
                    .map_err(|error| match error {
                        // The address the client gave cannot be fetched: an error in
                        // the request (SOL013 6.4: 400), not in this server.
                        Error::Driver { .. } => {
                            Error::InvalidRequest(format!("the package cannot be fetched: {error}"))
                        }
                        other => other,
                    })?;
                file.flush().await.map_err(|e| {
                    Error::Internal(format!("cannot write the downloaded package: {e}"))
                })?;
                drop(file);
                Ok(spool)
            }
            .await;
            let spool = match downloaded {
                Ok(spool) => spool,
                Err(error) => {
                    manager.fail_onboarding(&tenant, &claim, &error).await;
                    return Err(error);
                }
            };
            let size = tokio::fs::metadata(spool.path())
                .await
                .map(|m| m.len())
                .unwrap_or(u64::MAX);
            if let Err(error) = manager.check_size(size) {
                manager.fail_onboarding(&tenant, &claim, &error).await;
                return Err(error);
            }
            if let Err(error) = manager
                .transition(&tenant, &claim, |record| {
                    record.info.onboarding_state = Onboarding::Processing;
                })
                .await
            {
                manager.fail_onboarding(&tenant, &claim, &error).await;
                return Err(error);
            }
            manager.process(&tenant, claim, spool.path()).await
        }))
    }

    fn spool_dir(&self) -> std::path::PathBuf {
        self.inner
            .config
            .spool_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
    }

    /// `TooLarge` naming the limit when `size` is above it.
    fn check_size(&self, size: u64) -> Result<()> {
        let limit = self.inner.config.max_package_size;
        if size > limit {
            return Err(Error::TooLarge(format!(
                "the package is {size} bytes; at most {limit} bytes (the maximum package size) are accepted"
            )));
        }
        Ok(())
    }

    async fn ensure_created(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let record = self.record(tenant, id).await?;
        if record.value.info.onboarding_state != Onboarding::Created {
            return Err(not_created(id, record.value.info.onboarding_state));
        }
        Ok(())
    }

    /// Takes a CREATED package into `state` (UPLOADING or PROCESSING) under a new
    /// claim, renewed until the returned value is dropped.
    async fn claim(&self, tenant: &TenantId, id: &str, state: Onboarding) -> Result<Claim> {
        let mut record = self.record(tenant, id).await?;
        if record.value.info.onboarding_state != Onboarding::Created {
            return Err(not_created(id, record.value.info.onboarding_state));
        }
        let token = new_id();
        record.value.info.onboarding_state = state;
        record.value.info.onboarding_failure_details = None;
        record.value.upload_claim = Some(UploadClaim {
            token: token.clone(),
            until: self.claim_until(),
        });
        self.inner
            .store
            .update(tenant, record.value.clone(), record.version)
            .await?;
        let renewer = {
            let manager = self.clone();
            let tenant = tenant.clone();
            let id = id.to_owned();
            let token = token.clone();
            let period =
                (self.inner.config.upload_claim_ttl / 3).max(std::time::Duration::from_millis(10));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(period).await;
                    let until = manager.claim_until();
                    let renewed = manager
                        .transition_by(&tenant, &id, &token, |record| {
                            if let Some(claim) = &mut record.upload_claim {
                                claim.until = until;
                            }
                        })
                        .await;
                    if let Err(error) = renewed {
                        tracing::warn!(package = id, %error, "cannot renew the upload claim");
                    }
                }
            })
        };
        Ok(Claim {
            id: id.to_owned(),
            token,
            renewer,
        })
    }

    fn claim_until(&self) -> chrono::DateTime<Utc> {
        let ttl = chrono::Duration::from_std(self.inner.config.upload_claim_ttl)
            .unwrap_or(chrono::Duration::seconds(60));
        Utc::now() + ttl
    }

    async fn transition(
        &self,
        tenant: &TenantId,
        claim: &Claim,
        change: impl Fn(&mut VnfPackageRecord),
    ) -> Result<Versioned<VnfPackageRecord>> {
        self.transition_by(tenant, &claim.id, &claim.token, change)
            .await
    }

    /// Changes the package while the claim `token` holds it, retrying when the record
    /// moved under it (the renewer and the task both write it).
    async fn transition_by(
        &self,
        tenant: &TenantId,
        id: &str,
        token: &str,
        change: impl Fn(&mut VnfPackageRecord),
    ) -> Result<Versioned<VnfPackageRecord>> {
        let mut last = None;
        for _ in 0..8 {
            let mut record = self.held(tenant, id, token).await?;
            change(&mut record.value);
            match self
                .inner
                .store
                .update(tenant, record.value.clone(), record.version)
                .await
            {
                Ok(version) => {
                    record.version = version;
                    return Ok(record);
                }
                Err(error) if error.is_conflict() => last = error.conflict_reason(),
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "package {id} keeps changing: {}",
            last.unwrap_or_default()
        )))
    }

    /// The package as long as the claim `token` still holds it.
    async fn held(
        &self,
        tenant: &TenantId,
        id: &str,
        token: &str,
    ) -> Result<Versioned<VnfPackageRecord>> {
        let record = self.raw_record(tenant, id).await?;
        let holds = record
            .value
            .upload_claim
            .as_ref()
            .is_some_and(|claim| claim.token == token)
            && matches!(
                record.value.info.onboarding_state,
                Onboarding::Uploading | Onboarding::Processing
            );
        if !holds {
            return Err(Error::Conflict(format!(
                "the upload of package {id} was interrupted: its claim lapsed"
            )));
        }
        Ok(record)
    }

    /// Validates the package zip at `path` and stores it, ending ONBOARDED or (with the
    /// error) back in CREATED.
    async fn process(
        &self,
        tenant: &TenantId,
        claim: Claim,
        path: &std::path::Path,
    ) -> Result<VnfPkgInfo> {
        let options = self.inner.config.csar.clone();
        let file = path.to_owned();
        #[cfg(feature = "signatures")]
        let trust = self.inner.config.trust.clone();
        #[cfg(feature = "signatures")]
        let owner = tenant.clone();
        let validated = tokio::task::spawn_blocking(move || -> Result<(Opened, Signatures)> {
            let csar = Csar::from_zip_file(&file, &options)?;
            let report = crate::vnfd::validate(&csar, &options)?;
            #[cfg(feature = "signatures")]
            let signatures = match &trust {
                Some(trust) => trust.verify(&csar, &owner)?,
                None => Signatures::default(),
            };
            #[cfg(not(feature = "signatures"))]
            let signatures = Signatures::default();
            Ok((Opened { csar, report }, signatures))
        })
        .await
        .map_err(|e| Error::Internal(format!("package validation task failed: {e}")))
        .and_then(|validated| validated);
        let (opened, signatures) = match validated {
            Ok(validated) => validated,
            Err(error) => {
                self.fail_onboarding(tenant, &claim, &error).await;
                return Err(error);
            }
        };
        let key = content_key(tenant, &claim.id);
        let checksum = match content::store_file(&self.inner.objects, &key, path).await {
            Ok(checksum) => checksum,
            Err(error) => {
                self.fail_onboarding(tenant, &claim, &error).await;
                return Err(error);
            }
        };
        self.finish_onboarding(tenant, claim, &opened, &signatures, checksum, key)
            .await
    }

    /// Back to CREATED with `onboardingFailureDetails`, if the claim still holds; a
    /// failure to record it is logged (the claim lapses and the package goes back to
    /// CREATED anyway).
    async fn fail_onboarding(&self, tenant: &TenantId, claim: &Claim, error: &Error) {
        claim.renewer.abort();
        let details = failure_details(error);
        let failed = self
            .transition(tenant, claim, |record| {
                record.info.onboarding_state = Onboarding::Created;
                record.info.onboarding_failure_details = Some(details.clone());
                record.upload_claim = None;
            })
            .await;
        if let Err(failure) = failed {
            tracing::warn!(package = claim.id, %failure, cause = %error, "cannot record the failed onboarding");
        }
    }

    async fn finish_onboarding(
        &self,
        tenant: &TenantId,
        claim: Claim,
        opened: &Opened,
        signatures: &Signatures,
        checksum: String,
        key: ObjectPath,
    ) -> Result<VnfPkgInfo> {
        claim.renewer.abort();
        let id = claim.id.clone();
        let mut last = Error::Conflict(format!("package {id} keeps changing"));
        for _ in 0..8 {
            let record = match self.held(tenant, &id, &claim.token).await {
                Ok(record) => record,
                Err(error) => {
                    last = error;
                    break;
                }
            };
            let mut info = record.value.info.clone();
            self.describe(&mut info, opened, checksum.clone());
            info.package_security_option = signatures.security_option;
            info.signing_certificate = signatures.signing_certificate.clone();
            info.onboarding_state = Onboarding::Onboarded;
            info.operational_state = Operational::Enabled;
            let updated = VnfPackageRecord {
                info: info.clone(),
                content_location: Some(key.to_string()),
                created_at: record.value.created_at,
                upload_claim: None,
            };
            let mut writes = vec![Write::Update {
                record: Record::from(updated),
                expected_version: record.version,
            }];
            writes.extend(
                self.notifications(
                    tenant,
                    &info,
                    PkgmNotificationType::VnfPackageOnboardingNotification,
                    None,
                )
                .await?,
            );
            match self.commit(tenant, writes).await {
                Ok(_) => {
                    if let Ok(mut cache) = self.inner.opened.lock() {
                        cache.remove(&key.to_string());
                    }
                    return Ok(info);
                }
                // The renewer wrote the record meanwhile: read it again.
                Err(error) if error.is_conflict() => {
                    let message = error.conflict_reason().unwrap_or_default();
                    last = Error::Conflict(format!("cannot onboard package {id}: {message}"));
                }
                Err(other) => {
                    last = Error::Internal(other.to_string());
                    break;
                }
            }
        }
        let _ = self.inner.objects.delete(&key).await;
        self.fail_onboarding(tenant, &claim, &last).await;
        Err(last)
    }

    fn describe(&self, info: &mut VnfPkgInfo, opened: &Opened, checksum: String) {
        let vnfd = &opened.report.vnfd;
        info.vnfd_id = Some(vnfd.descriptor_id.clone());
        info.vnf_provider = Some(vnfd.provider.clone());
        info.vnf_product_name = Some(vnfd.product_name.clone());
        info.vnf_software_version = Some(vnfd.software_version.clone());
        info.vnfd_version = Some(vnfd.descriptor_version.clone());
        info.vnfm_info = vnfd.vnfm_info.clone();
        info.checksum = Some(Checksum {
            algorithm: "SHA-256".to_owned(),
            hash: checksum,
        });
        info.compatible_specification_versions = opened
            .csar
            .manifest
            .as_ref()
            .and_then(|m| m.metadata.get("compatible_specification_versions"))
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut image_paths = BTreeSet::new();
        let mut images = Vec::new();
        for flavour in &vnfd.flavours {
            let nodes = flavour
                .vdus
                .iter()
                .map(|v| (&v.id, v.sw_image.as_ref()))
                .chain(
                    flavour
                        .virtual_storages
                        .iter()
                        .map(|s| (&s.id, s.sw_image.as_ref())),
                );
            for (node, image) in nodes {
                let Some(image) = image else { continue };
                let (Some(container), Some(disk)) = (
                    container_format(&image.container_format),
                    disk_format(&image.disk_format),
                ) else {
                    continue;
                };
                if images
                    .iter()
                    .any(|i: &VnfPackageSoftwareImageInfo| &i.id == node)
                {
                    continue;
                }
                if let Some(file) = &image.file {
                    image_paths.insert(file.clone());
                }
                images.push(VnfPackageSoftwareImageInfo {
                    id: node.clone(),
                    name: image.name.clone(),
                    provider: vnfd.provider.clone(),
                    version: image.version.clone(),
                    checksum: Checksum {
                        // One spelling for images and artifacts (the VNFD may say
                        // sha-256 where the manifest says SHA-256).
                        algorithm: image
                            .checksum_algorithm
                            .as_deref()
                            .map(|name| {
                                crate::csar::HashAlgorithm::parse(name)
                                    .map_or_else(|| name.to_owned(), |a| a.as_str().to_owned())
                            })
                            .unwrap_or_default(),
                        hash: image.checksum_hash.clone().unwrap_or_default(),
                    },
                    is_encrypted: false,
                    container_format: container,
                    disk_format: disk,
                    created_at: Utc::now(),
                    min_disk: image.min_disk,
                    min_ram: image.min_ram,
                    size: image.size,
                    user_metadata: KeyValuePairs::new(),
                    image_path: image.file.clone().filter(|f| !f.contains("://")),
                    image_uri: image.file.clone().filter(|f| f.contains("://")),
                });
            }
        }
        info.software_images = images;
        info.additional_artifacts = opened
            .csar
            .listed_artifacts()
            .into_iter()
            .filter(|a| !image_paths.contains(&a.path))
            .map(|a| VnfPackageArtifactInfo {
                artifact_path: (!a.is_remote()).then(|| a.path.clone()),
                artifact_uri: a.is_remote().then(|| a.path.clone()),
                checksum: Checksum {
                    algorithm: a.algorithm.as_str().to_owned(),
                    hash: a.hash.clone(),
                },
                is_encrypted: false,
                non_mano_artifact_set_id: None,
                artifact_classification: None,
                metadata: KeyValuePairs::new(),
            })
            .collect();
    }

    /// Notifications of `kind` about `info` for every matching subscription.
    async fn notifications(
        &self,
        tenant: &TenantId,
        info: &VnfPkgInfo,
        kind: PkgmNotificationType,
        change: Option<PackageChangeType>,
    ) -> Result<Vec<Write>> {
        let subscriptions = self
            .inner
            .store
            .list_typed::<PkgmSubscriptionRecord>(tenant, &ListQuery::all())
            .await?;
        let mut writes = Vec::new();
        for subscription in subscriptions.items {
            let subscription = subscription.value.subscription;
            if !pkgm_filter_matches(subscription.filter.as_ref(), kind, info) {
                continue;
            }
            let links = PkgmLinks {
                vnf_package: Link::new(info.links.self_.href.clone()),
                subscription: Link::new(subscription.links.self_.href.clone()),
            };
            let vnfd_id = info.vnfd_id.clone().unwrap_or_default();
            let payload = match change {
                None => serde_json::to_value(VnfPackageOnboardingNotification {
                    id: new_id(),
                    notification_type: kind,
                    subscription_id: subscription.id.clone(),
                    time_stamp: Utc::now(),
                    vnf_pkg_id: info.id.clone(),
                    vnfd_id,
                    vnfm_info: info.vnfm_info.clone(),
                    links,
                }),
                Some(change_type) => serde_json::to_value(VnfPackageChangeNotification {
                    id: new_id(),
                    notification_type: kind,
                    subscription_id: subscription.id.clone(),
                    time_stamp: Utc::now(),
                    vnf_pkg_id: info.id.clone(),
                    vnfd_id,
                    change_type,
                    operational_state: (change_type == PackageChangeType::OpStateChange)
                        .then_some(info.operational_state),
                    links,
                }),
            }
            .map_err(|e| Error::Internal(e.to_string()))?;
            writes.push(Write::Notify(NewNotification {
                subscription_id: subscription.id,
                payload,
            }));
        }
        Ok(writes)
    }

    /// Enables or disables the package and/or merges `userDefinedData`. Returns the
    /// modifications applied.
    pub async fn modify(
        &self,
        tenant: &TenantId,
        id: &str,
        modifications: VnfPkgInfoModifications,
    ) -> Result<VnfPkgInfoModifications> {
        if modifications.operational_state.is_none() && modifications.user_defined_data.is_none() {
            return Err(Error::InvalidRequest(
                "give operationalState, userDefinedData or both".to_owned(),
            ));
        }
        let record = self.record(tenant, id).await?;
        let mut info = record.value.info.clone();
        let mut writes = Vec::new();
        if let Some(state) = modifications.operational_state {
            if info.onboarding_state != Onboarding::Onboarded {
                return Err(Error::Conflict(format!(
                    "package {id} is not ONBOARDED; only onboarded packages can be enabled or disabled"
                )));
            }
            if info.operational_state == state {
                return Err(Error::Conflict(format!(
                    "package {id} is already {}",
                    serde_json::to_value(state).unwrap_or_default()
                )));
            }
            info.operational_state = state;
        }
        if let Some(patch) = &modifications.user_defined_data {
            crate::model::merge_patch(&mut info.user_defined_data, patch);
        }
        if modifications.operational_state.is_some() {
            writes.extend(
                self.notifications(
                    tenant,
                    &info,
                    PkgmNotificationType::VnfPackageChangeNotification,
                    Some(PackageChangeType::OpStateChange),
                )
                .await?,
            );
        }
        let updated = VnfPackageRecord {
            info,
            ..record.value
        };
        writes.insert(
            0,
            Write::Update {
                record: updated.into(),
                expected_version: record.version,
            },
        );
        self.commit(tenant, writes).await?;
        Ok(modifications)
    }

    /// Deletes a package that is DISABLED and NOT_IN_USE (or never onboarded).
    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let record = self.record(tenant, id).await?;
        let info = &record.value.info;
        if matches!(
            info.onboarding_state,
            Onboarding::Uploading | Onboarding::Processing
        ) {
            return Err(Error::Conflict(format!("package {id} is being onboarded")));
        }
        if info.operational_state == Operational::Enabled {
            return Err(Error::Conflict(format!(
                "package {id} is ENABLED; disable it first"
            )));
        }
        if info.usage_state == Usage::InUse {
            return Err(Error::Conflict(format!(
                "package {id} is IN_USE by VNF instances"
            )));
        }
        let mut writes = vec![Write::Delete {
            kind: RecordKind::VnfPackage,
            id: id.to_owned(),
            expected_version: Some(record.version),
        }];
        if info.onboarding_state == Onboarding::Onboarded {
            writes.extend(
                self.notifications(
                    tenant,
                    info,
                    PkgmNotificationType::VnfPackageChangeNotification,
                    Some(PackageChangeType::PkgDelete),
                )
                .await?,
            );
        }
        self.commit(tenant, writes).await?;
        if let Some(location) = &record.value.content_location {
            if let Ok(mut cache) = self.inner.opened.lock() {
                cache.remove(location);
            }
            match self
                .inner
                .objects
                .delete(&ObjectPath::from(location.as_str()))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => {
                    tracing::warn!(package = id, %error, "package content left in the object store")
                }
            }
        }
        Ok(())
    }

    /// The package zip, or a byte range of it, with the total size. This holds the
    /// bytes in memory: for large packages use [`VnfPackageManager::content`].
    pub async fn package_content(
        &self,
        tenant: &TenantId,
        id: &str,
        range: Option<Range<u64>>,
    ) -> Result<(Bytes, u64)> {
        let content = self.content(tenant, id).await?;
        let size = content.size();
        let mut stream = content.stream(range).await?;
        let mut bytes = bytes::BytesMut::new();
        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok((bytes.freeze(), size))
    }

    /// The stored package zip, to stream whole or by a range.
    pub async fn content(&self, tenant: &TenantId, id: &str) -> Result<Content> {
        let record = self.record(tenant, id).await?;
        let location = record.value.content_location.ok_or_else(|| {
            Error::Conflict(format!(
                "package {id} has no content; it is {}",
                serde_json::to_value(record.value.info.onboarding_state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ))
        })?;
        let key = ObjectPath::from(location.as_str());
        let size = self
            .inner
            .objects
            .head(&key)
            .await
            .map_err(object_error)?
            .size;
        Ok(Content {
            size,
            source: Source::Object {
                objects: self.inner.objects.clone(),
                key,
            },
        })
    }

    async fn opened(&self, tenant: &TenantId, id: &str) -> Result<(Arc<Opened>, VnfPkgInfo)> {
        let record = self.record(tenant, id).await?;
        if record.value.info.onboarding_state != Onboarding::Onboarded {
            return Err(Error::Conflict(format!("package {id} is not ONBOARDED")));
        }
        let location = record.value.content_location.clone().ok_or_else(|| {
            Error::Internal(format!("onboarded package {id} has no content location"))
        })?;
        if let Some(opened) = self
            .inner
            .opened
            .lock()
            .ok()
            .and_then(|c| c.get(&location).cloned())
        {
            return Ok((opened, record.value.info));
        }
        let key = ObjectPath::from(location.as_str());
        let size = self
            .inner
            .objects
            .head(&key)
            .await
            .map_err(object_error)?
            .size;
        let reader = ObjectReader::new(
            self.inner.objects.clone(),
            key,
            size,
            tokio::runtime::Handle::current(),
        );
        let options = self.inner.config.csar.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<Opened> {
            let csar = Csar::from_zip_source(Box::new(reader), &options)?;
            let report = crate::vnfd::read_vnfd(&csar, &options.missing_ok)?;
            Ok(Opened { csar, report })
        })
        .await
        .map_err(|e| Error::Internal(format!("package read task failed: {e}")))??;
        let opened = Arc::new(opened);
        if let Ok(mut cache) = self.inner.opened.lock() {
            cache.insert(location, opened.clone());
        }
        Ok((opened, record.value.info))
    }

    /// The VNFD of an onboarded package.
    pub async fn vnfd(&self, tenant: &TenantId, id: &str) -> Result<Arc<Vnfd>> {
        let (opened, _) = self.opened(tenant, id).await?;
        Ok(Arc::new(opened.report.vnfd.clone()))
    }

    /// The VNFD's TOSCA files: every template reached from the Entry-Definitions.
    pub async fn vnfd_files(&self, tenant: &TenantId, id: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let (opened, _) = self.opened(tenant, id).await?;
        let paths = opened.report.templates.clone();
        read_members(opened, paths).await
    }

    /// The VNFD as one YAML file; `NotAcceptable` when it spans several files.
    pub async fn vnfd_yaml(&self, tenant: &TenantId, id: &str) -> Result<Vec<u8>> {
        let mut files = self.vnfd_files(tenant, id).await?;
        if files.len() != 1 {
            return Err(Error::NotAcceptable(format!(
                "the VNFD of package {id} spans {} files; ask for application/zip",
                files.len()
            )));
        }
        Ok(files.remove(0).1)
    }

    /// The VNFD's files as a zip, with TOSCA.meta when the package has one.
    pub async fn vnfd_zip(&self, tenant: &TenantId, id: &str) -> Result<Vec<u8>> {
        let (opened, _) = self.opened(tenant, id).await?;
        let mut paths = opened.report.templates.clone();
        if opened.csar.contains("TOSCA-Metadata/TOSCA.meta") {
            paths.insert(0, "TOSCA-Metadata/TOSCA.meta".to_owned());
        }
        let files = read_members(opened, paths).await?;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (path, content) in files {
            writer
                .start_file(path, options)
                .map_err(|e| Error::Internal(e.to_string()))?;
            writer
                .write_all(&content)
                .map_err(|e| Error::Internal(e.to_string()))?;
        }
        Ok(writer
            .finish()
            .map_err(|e| Error::Internal(e.to_string()))?
            .into_inner())
    }

    /// The manifest file.
    pub async fn manifest(&self, tenant: &TenantId, id: &str) -> Result<Vec<u8>> {
        let (opened, _) = self.opened(tenant, id).await?;
        let path = opened
            .csar
            .manifest_path
            .clone()
            .ok_or_else(|| Error::not_found("manifest of package", id))?;
        let mut files = read_members(opened, vec![path]).await?;
        Ok(files.pop().map(|(_, content)| content).unwrap_or_default())
    }

    /// An artifact of the package (a file TOSCA.meta or the manifest lists, or a
    /// software image), optionally a byte range of it. This holds the bytes in memory:
    /// for large artifacts use [`VnfPackageManager::artifact_content`].
    pub async fn artifact(
        &self,
        tenant: &TenantId,
        id: &str,
        path: &str,
        range: Option<Range<u64>>,
    ) -> Result<Vec<u8>> {
        let content = self.artifact_content(tenant, id, path).await?;
        let size = content.size();
        if let Some(range) = &range
            && (range.start >= range.end || range.start >= size)
        {
            return Err(Error::InvalidRequest(format!(
                "range {}-{} is outside the artifact's {size} bytes",
                range.start, range.end
            )));
        }
        let range = range.map(|r| r.start..r.end.min(size));
        let mut stream = content.stream(range).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }

    /// An artifact of the package (a file TOSCA.meta or the manifest lists, or a
    /// software image), to stream whole or by a range.
    pub async fn artifact_content(
        &self,
        tenant: &TenantId,
        id: &str,
        path: &str,
    ) -> Result<Content> {
        let (opened, info) = self.opened(tenant, id).await?;
        let listed = info
            .additional_artifacts
            .iter()
            .any(|a| a.artifact_path.as_deref() == Some(path))
            || info
                .software_images
                .iter()
                .any(|i| i.image_path.as_deref() == Some(path));
        let size = match opened.csar.size(path) {
            Some(size) if listed => size,
            _ => return Err(Error::not_found("artifact", path)),
        };
        Ok(Content {
            size,
            source: Source::Member {
                opened,
                path: path.to_owned(),
            },
        })
    }

    /// A zip (entries stored, in the package's layout) of the artifacts at `paths`
    /// that the package lists and carries (others are left out), spooled to a file and
    /// streamed from there.
    pub async fn artifacts_zip(
        &self,
        tenant: &TenantId,
        id: &str,
        paths: Vec<String>,
    ) -> Result<Content> {
        let (opened, info) = self.opened(tenant, id).await?;
        let paths: Vec<String> = paths
            .into_iter()
            .filter(|path| {
                let listed = info
                    .additional_artifacts
                    .iter()
                    .any(|a| a.artifact_path.as_deref() == Some(path.as_str()))
                    || info
                        .software_images
                        .iter()
                        .any(|i| i.image_path.as_deref() == Some(path.as_str()));
                listed && opened.csar.contains(path)
            })
            .collect();
        let (spool, file) = SpoolFile::create(&self.spool_dir(), "artifacts").await?;
        let file = file.into_std().await;
        let size = tokio::task::spawn_blocking(move || -> Result<u64> {
            let failed = |e: &dyn std::fmt::Display| {
                Error::Internal(format!("building the artifacts archive failed: {e}"))
            };
            let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
            for path in paths {
                let size = opened.csar.size(&path).unwrap_or(0);
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(size >= u64::from(u32::MAX));
                writer.start_file(&*path, options).map_err(|e| failed(&e))?;
                opened
                    .csar
                    .with_reader(&path, |reader| std::io::copy(reader, &mut writer))?;
            }
            let mut file = writer.finish().map_err(|e| failed(&e))?;
            file.flush().map_err(|e| failed(&e))?;
            let file = file.into_inner().map_err(|e| failed(&e))?;
            file.metadata().map(|m| m.len()).map_err(|e| failed(&e))
        })
        .await
        .map_err(|e| Error::Internal(format!("building the artifacts archive failed: {e}")))??;
        Ok(Content {
            size,
            source: Source::Spooled(spool),
        })
    }

    /// The package management subscriptions (`/vnfpkgm/v2/subscriptions`).
    pub fn subscriptions(&self) -> &Subscriptions<PkgmSubscriptionRecord> {
        &self.inner.subscriptions
    }

    async fn onboarded_by_vnfd(
        &self,
        tenant: &TenantId,
        vnfd_id: &str,
    ) -> Result<Versioned<VnfPackageRecord>> {
        let filter = Filter::eq("vnfdId", vnfd_id).and(
            crate::filter::FilterOp::Eq,
            "onboardingState",
            ["ONBOARDED"],
        );
        let page = self
            .inner
            .store
            .list_typed::<VnfPackageRecord>(tenant, &ListQuery::filtered(filter).with_limit(1))
            .await?;
        page.items
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("onboarded VNF package with vnfdId", vnfd_id))
    }
}

#[async_trait]
impl PackageSource for VnfPackageManager {
    async fn package_for_vnfd(
        &self,
        tenant: &TenantId,
        vnfd_id: &str,
        for_new_instance: bool,
    ) -> Result<VnfPackage> {
        let record = self.onboarded_by_vnfd(tenant, vnfd_id).await?;
        if for_new_instance && record.value.info.operational_state != Operational::Enabled {
            return Err(Error::Conflict(format!(
                "the VNF package of vnfdId {vnfd_id} is DISABLED"
            )));
        }
        let (opened, info) = self.opened(tenant, &record.value.info.id).await?;
        Ok(VnfPackage {
            info,
            vnfd: Arc::new(opened.report.vnfd.clone()),
            files: Arc::new(OpenedFiles(opened)),
        })
    }

    async fn set_in_use(&self, tenant: &TenantId, vnfd_id: &str, in_use: bool) -> Result<()> {
        let wanted = if in_use {
            Usage::InUse
        } else {
            Usage::NotInUse
        };
        for _ in 0..5 {
            let mut record = self.onboarded_by_vnfd(tenant, vnfd_id).await?;
            if record.value.info.usage_state == wanted {
                return Ok(());
            }
            record.value.info.usage_state = wanted;
            match self
                .inner
                .store
                .update(tenant, record.value, record.version)
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if error.is_conflict() => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "the package of vnfdId {vnfd_id} keeps changing; usageState not updated"
        )))
    }
}
