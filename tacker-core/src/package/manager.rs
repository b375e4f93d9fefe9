//! `VnfPackageManager`: SOL005 VNF package management over a [`Store`] and an
//! [`ObjectStore`] that keeps the package bytes.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::notifications::pkgm_filter_matches;
use super::{PackageFiles, PackageSource, VnfPackage};
use crate::csar::{Csar, CsarOptions, HashAlgorithm, digest_hex};
use crate::filter::Filter;
use crate::model::{
    Checksum, ContainerFormat, CreateVnfPkgInfoRequest, DiskFormat, KeyValuePairs, Link,
    PackageChangeType, PackageOnboardingStateType as Onboarding,
    PackageOperationalStateType as Operational, PackageUsageStateType as Usage, PkgmLinks,
    PkgmNotificationType, PkgmSubscription, PkgmSubscriptionRequest, ProblemDetails, SelfLink,
    UploadVnfPackageFromUriRequest, VnfPackageArtifactInfo, VnfPackageChangeNotification,
    VnfPackageOnboardingNotification, VnfPackageSoftwareImageInfo, VnfPkgInfo, VnfPkgInfoLinks,
    VnfPkgInfoModifications,
};
use crate::notify::{NotificationSink, NotificationTarget};
use crate::store::{
    ListQuery, NewNotification, Page, PkgmSubscriptionRecord, Record, Store, StoreExt, Versioned,
    VnfPackageRecord, Write,
};
use crate::vnfd::{Vnfd, VnfdReport};
use crate::{Error, Result, TenantId, new_id};

/// Fetches a package from an `http`/`https` URI (the embedder's HTTP client).
#[async_trait]
pub trait PackageFetcher: Send + Sync + std::fmt::Debug {
    /// The content at `uri`, at most `limit` bytes, with HTTP basic credentials if given.
    async fn fetch(&self, uri: &str, basic_auth: Option<(&str, &str)>, limit: u64)
    -> Result<Bytes>;
}

/// How the package manager behaves.
#[derive(Debug, Clone)]
pub struct PackageManagerConfig {
    /// The absolute URI prefix of the API, for `_links` (e.g. `http://127.0.0.1:9890`).
    pub api_root: String,
    /// Limits and options for reading packages.
    pub csar: CsarOptions,
    /// The largest package accepted, in bytes.
    pub max_package_size: u64,
}

impl Default for PackageManagerConfig {
    fn default() -> Self {
        Self {
            api_root: "http://127.0.0.1:9890".to_owned(),
            csar: CsarOptions::default(),
            max_package_size: 8 << 30,
        }
    }
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
        Ok(self.0.csar.read(path)?)
    }
}

struct Inner {
    store: Arc<dyn Store>,
    objects: Arc<dyn ObjectStore>,
    config: PackageManagerConfig,
    fetcher: Option<Arc<dyn PackageFetcher>>,
    sink: Option<Arc<dyn NotificationSink>>,
    sealer: crate::vim::Sealer,
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

fn object_error(error: object_store::Error) -> Error {
    match error {
        object_store::Error::NotFound { path, .. } => Error::not_found("package content", path),
        other => Error::store(format!("object store: {other}"), true),
    }
}

fn container_format(text: &str) -> Option<ContainerFormat> {
    serde_json::from_value(serde_json::Value::String(text.to_ascii_uppercase())).ok()
}

fn disk_format(text: &str) -> Option<DiskFormat> {
    serde_json::from_value(serde_json::Value::String(text.to_ascii_uppercase())).ok()
}

impl VnfPackageManager {
    /// A manager over a store and an object store.
    pub fn new(
        store: Arc<dyn Store>,
        objects: Arc<dyn ObjectStore>,
        config: PackageManagerConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                objects,
                config,
                fetcher: None,
                sink: None,
                sealer: crate::vim::Sealer::process_default(),
                opened: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Uses `fetcher` for uploads from a URI.
    pub fn with_fetcher(self, fetcher: Arc<dyn PackageFetcher>) -> Self {
        self.rebuild(|inner| inner.fetcher = Some(fetcher))
    }

    /// Seals subscription credentials with `sealer` (default:
    /// [`crate::vim::Sealer::process_default`]); use the same as the LCM engine's, which
    /// delivers package notifications too.
    pub fn with_sealer(self, sealer: crate::vim::Sealer) -> Self {
        self.rebuild(|inner| inner.sealer = sealer)
    }

    /// Checks subscription callbacks with `sink` before accepting a subscription.
    pub fn with_notification_sink(self, sink: Arc<dyn NotificationSink>) -> Self {
        self.rebuild(|inner| inner.sink = Some(sink))
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let inner = &self.inner;
        let mut copy = Inner {
            store: inner.store.clone(),
            objects: inner.objects.clone(),
            config: inner.config.clone(),
            fetcher: inner.fetcher.clone(),
            sink: inner.sink.clone(),
            sealer: inner.sealer.clone(),
            opened: Mutex::new(HashMap::new()),
        };
        change(&mut copy);
        Self {
            inner: Arc::new(copy),
        }
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
        };
        self.inner.store.insert(tenant, record).await?;
        Ok(info)
    }

    /// One package.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<VnfPkgInfo> {
        Ok(self.record(tenant, id).await?.value.info)
    }

    async fn record(&self, tenant: &TenantId, id: &str) -> Result<Versioned<VnfPackageRecord>> {
        self.inner
            .store
            .get_typed::<VnfPackageRecord>(tenant, id)
            .await
    }

    /// Packages, filtered and paged.
    pub async fn list(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<VnfPkgInfo>> {
        let page = self
            .inner
            .store
            .list_typed::<VnfPackageRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.info))
    }

    /// Uploads the package zip and onboards it synchronously. On success the package
    /// is ONBOARDED and ENABLED; when validation fails it goes back to CREATED with
    /// `onboardingFailureDetails`, its content is discarded, and the error says why.
    pub async fn upload_content(
        &self,
        tenant: &TenantId,
        id: &str,
        content: Bytes,
    ) -> Result<VnfPkgInfo> {
        let limit = self.inner.config.max_package_size;
        if u64::try_from(content.len()).unwrap_or(u64::MAX) > limit {
            return Err(Error::Unprocessable(format!(
                "the package is {} bytes; at most {limit} are accepted",
                content.len()
            )));
        }
        let claimed = self.claim_for_upload(tenant, id).await?;
        let options = self.inner.config.csar.clone();
        let bytes = content.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<(Opened, String)> {
            let checksum = {
                let mut reader: &[u8] = &bytes;
                digest_hex(HashAlgorithm::Sha256, &mut reader)
                    .map_err(|e| Error::Internal(e.to_string()))?
            };
            let csar = Csar::from_zip_bytes(bytes.to_vec(), &options)?;
            let report = crate::vnfd::validate(&csar, &options)?;
            Ok((Opened { csar, report }, checksum))
        })
        .await
        .map_err(|e| Error::Internal(format!("package validation task failed: {e}")))?;
        match opened {
            Ok((opened, checksum)) => {
                self.finish_onboarding(tenant, claimed, opened, checksum, content)
                    .await
            }
            Err(error) => {
                self.fail_onboarding(tenant, claimed, &error).await?;
                Err(error)
            }
        }
    }

    /// Uploads a package from a file (for example a request body spooled to disk).
    pub async fn upload_content_from_file(
        &self,
        tenant: &TenantId,
        id: &str,
        path: &std::path::Path,
    ) -> Result<VnfPkgInfo> {
        let content = tokio::fs::read(path)
            .await
            .map_err(|e| Error::InvalidRequest(format!("cannot read {}: {e}", path.display())))?;
        self.upload_content(tenant, id, Bytes::from(content)).await
    }

    /// Fetches the package from an `http` or `https` URI and onboards it.
    pub async fn upload_from_uri(
        &self,
        tenant: &TenantId,
        id: &str,
        request: &UploadVnfPackageFromUriRequest,
        basic_auth: Option<(&str, &str)>,
    ) -> Result<VnfPkgInfo> {
        let uri = request.address_information.trim();
        let scheme_ok = uri.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") && !rest.is_empty()
        });
        if !scheme_ok {
            return Err(Error::InvalidRequest(format!(
                "addressInformation '{uri}' must be an http or https URI"
            )));
        }
        let fetcher = self.inner.fetcher.as_ref().ok_or_else(|| {
            Error::NotSupported("uploads from a URI need a PackageFetcher".to_owned())
        })?;
        let record = self.record(tenant, id).await?;
        if record.value.info.onboarding_state != Onboarding::Created {
            return Err(Error::Conflict(format!(
                "package {id} is {:?}; content can only be uploaded to a CREATED package",
                record.value.info.onboarding_state
            )));
        }
        let content = fetcher
            .fetch(uri, basic_auth, self.inner.config.max_package_size)
            .await?;
        self.upload_content(tenant, id, content).await
    }

    async fn claim_for_upload(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<VnfPackageRecord>> {
        let mut record = self.record(tenant, id).await?;
        if record.value.info.onboarding_state != Onboarding::Created {
            return Err(Error::Conflict(format!(
                "package {id} is {}; content can only be uploaded to a CREATED package",
                serde_json::to_value(record.value.info.onboarding_state).unwrap_or_default()
            )));
        }
        record.value.info.onboarding_state = Onboarding::Processing;
        record.value.info.onboarding_failure_details = None;
        let version = self
            .inner
            .store
            .update(tenant, record.value.clone(), record.version)
            .await?;
        record.version = version;
        Ok(record)
    }

    async fn fail_onboarding(
        &self,
        tenant: &TenantId,
        mut record: Versioned<VnfPackageRecord>,
        error: &Error,
    ) -> Result<()> {
        record.value.info.onboarding_state = Onboarding::Created;
        record.value.info.onboarding_failure_details = Some(ProblemDetails {
            problem_type: None,
            title: Some("Onboarding failed".to_owned()),
            status: error.status(),
            detail: error.to_string(),
            instance: None,
        });
        self.inner
            .store
            .update(tenant, record.value, record.version)
            .await?;
        Ok(())
    }

    async fn finish_onboarding(
        &self,
        tenant: &TenantId,
        record: Versioned<VnfPackageRecord>,
        opened: Opened,
        checksum: String,
        content: Bytes,
    ) -> Result<VnfPkgInfo> {
        let id = record.value.info.id.clone();
        let key = content_key(tenant, &id);
        if let Err(error) = self
            .inner
            .objects
            .put(&key, PutPayload::from(content))
            .await
        {
            let error = object_error(error);
            self.fail_onboarding(tenant, record, &error).await?;
            return Err(error);
        }
        let mut info = record.value.info.clone();
        self.describe(&mut info, &opened, checksum);
        info.onboarding_state = Onboarding::Onboarded;
        info.operational_state = Operational::Enabled;
        let updated = VnfPackageRecord {
            info: info.clone(),
            content_location: Some(key.to_string()),
            created_at: record.value.created_at,
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
        if let Err(error) = self.inner.store.commit(tenant, writes).await {
            let _ = self.inner.objects.delete(&key).await;
            let reason = match &error {
                Error::Conflict(message) => {
                    Error::Conflict(format!("cannot onboard package {id}: {message}"))
                }
                _ => Error::Internal(error.to_string()),
            };
            let fresh = self.record(tenant, &id).await?;
            self.fail_onboarding(tenant, fresh, &reason).await?;
            return Err(reason);
        }
        if let Ok(mut cache) = self.inner.opened.lock() {
            cache.insert(key.to_string(), Arc::new(opened));
        }
        Ok(info)
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
                                HashAlgorithm::parse(name)
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
        self.inner.store.commit(tenant, writes).await?;
        Ok(modifications)
    }

    /// Deletes a package that is DISABLED and NOT_IN_USE (or never onboarded).
    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let record = self.record(tenant, id).await?;
        let info = &record.value.info;
        if info.onboarding_state == Onboarding::Processing {
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
            kind: crate::store::RecordKind::VnfPackage,
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
        self.inner.store.commit(tenant, writes).await?;
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

    /// The package zip, or a byte range of it, with the total size.
    pub async fn package_content(
        &self,
        tenant: &TenantId,
        id: &str,
        range: Option<Range<u64>>,
    ) -> Result<(Bytes, u64)> {
        let record = self.record(tenant, id).await?;
        let location = record.value.content_location.ok_or_else(|| {
            Error::Conflict(format!(
                "package {id} has no content; it is {:?}",
                record.value.info.onboarding_state
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
        let bytes = match range {
            None => self
                .inner
                .objects
                .get(&key)
                .await
                .map_err(object_error)?
                .bytes()
                .await
                .map_err(object_error)?,
            Some(range) => {
                if range.start >= range.end || range.end > size {
                    return Err(Error::InvalidRequest(format!(
                        "range {}-{} is outside the package's {size} bytes",
                        range.start,
                        range.end.saturating_sub(1)
                    )));
                }
                self.inner
                    .objects
                    .get_range(&key, range)
                    .await
                    .map_err(object_error)?
            }
        };
        Ok((bytes, size))
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
        let bytes = self
            .inner
            .objects
            .get(&key)
            .await
            .map_err(object_error)?
            .bytes()
            .await
            .map_err(object_error)?;
        let options = self.inner.config.csar.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<Opened> {
            let csar = Csar::from_zip_bytes(bytes.to_vec(), &options)?;
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
        opened
            .report
            .templates
            .iter()
            .map(|path| Ok((path.clone(), opened.csar.read(path)?)))
            .collect()
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
        let mut files = self.vnfd_files(tenant, id).await?;
        if opened.csar.contains("TOSCA-Metadata/TOSCA.meta") {
            files.insert(
                0,
                (
                    "TOSCA-Metadata/TOSCA.meta".to_owned(),
                    opened.csar.read("TOSCA-Metadata/TOSCA.meta")?,
                ),
            );
        }
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
        Ok(opened.csar.read(&path)?)
    }

    /// An artifact of the package (a file TOSCA.meta or the manifest lists, or a
    /// software image), optionally a byte range of it.
    pub async fn artifact(
        &self,
        tenant: &TenantId,
        id: &str,
        path: &str,
        range: Option<Range<u64>>,
    ) -> Result<Vec<u8>> {
        let (opened, info) = self.opened(tenant, id).await?;
        let listed = info
            .additional_artifacts
            .iter()
            .any(|a| a.artifact_path.as_deref() == Some(path))
            || info
                .software_images
                .iter()
                .any(|i| i.image_path.as_deref() == Some(path));
        if !listed || !opened.csar.contains(path) {
            return Err(Error::not_found("artifact", path));
        }
        let content = opened.csar.read(path)?;
        match range {
            None => Ok(content),
            Some(range) => {
                let start = usize::try_from(range.start).unwrap_or(usize::MAX);
                let end = usize::try_from(range.end)
                    .unwrap_or(usize::MAX)
                    .min(content.len());
                content
                    .get(start..end)
                    .filter(|slice| !slice.is_empty())
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| {
                        Error::InvalidRequest(format!(
                            "range {}-{} is outside the artifact's {} bytes",
                            range.start,
                            range.end,
                            content.len()
                        ))
                    })
            }
        }
    }

    /// Subscribes to package notifications. With a notification sink configured, the
    /// callback must answer first.
    pub async fn subscribe(
        &self,
        tenant: &TenantId,
        request: PkgmSubscriptionRequest,
    ) -> Result<PkgmSubscription> {
        let id = new_id();
        if let Some(sink) = &self.inner.sink {
            sink.check_callback(&NotificationTarget {
                subscription_id: id.clone(),
                callback_uri: request.callback_uri.clone(),
                authentication: request.authentication.clone(),
            })
            .await?;
        }
        let subscription = PkgmSubscription {
            id: id.clone(),
            filter: request.filter,
            callback_uri: request.callback_uri,
            links: SelfLink {
                self_: Link::new(format!(
                    "{}/vnfpkgm/v2/subscriptions/{id}",
                    self.inner.config.api_root
                )),
            },
        };
        let authentication = request
            .authentication
            .map(|a| {
                self.inner
                    .sealer
                    .seal_json(&crate::vim::Sealer::subscription_context(tenant, &id), &a)
            })
            .transpose()?;
        self.inner
            .store
            .insert(
                tenant,
                PkgmSubscriptionRecord {
                    subscription: subscription.clone(),
                    authentication,
                    created_at: Utc::now(),
                },
            )
            .await?;
        Ok(subscription)
    }

    /// One subscription.
    pub async fn subscription(&self, tenant: &TenantId, id: &str) -> Result<PkgmSubscription> {
        Ok(self
            .inner
            .store
            .get_typed::<PkgmSubscriptionRecord>(tenant, id)
            .await?
            .value
            .subscription)
    }

    /// Subscriptions, filtered and paged.
    pub async fn subscriptions(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<PkgmSubscription>> {
        let page = self
            .inner
            .store
            .list_typed::<PkgmSubscriptionRecord>(tenant, query)
            .await?;
        Ok(page.map(|v| v.value.subscription))
    }

    /// Removes a subscription and its undelivered notifications.
    pub async fn unsubscribe(&self, tenant: &TenantId, id: &str) -> Result<()> {
        self.inner
            .store
            .delete::<PkgmSubscriptionRecord>(tenant, id, None)
            .await
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
                Err(Error::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "the package of vnfdId {vnfd_id} keeps changing; usageState not updated"
        )))
    }
}
