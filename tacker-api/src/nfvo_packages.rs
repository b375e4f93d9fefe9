//! [`NfvoPackageSource`]: packages the VNFM has not onboarded come from the NFVO, over
//! the consumer side of SOL003 VNF package management
//! (`{nfvo}/vnfpkgm/v2/onboarded_vnf_packages/{vnfdId}`).
//!
//! When an instance names a `vnfdId` the tenant has no package for, the source reads
//! the NFVO's `VnfPkgInfo` of it (it must be ONBOARDED, and ENABLED for a new
//! instance), downloads `…/package_content` to a spool file (bounded by the package
//! manager's maximum size), checks the NFVO's checksum of it, and onboards it in the
//! tenant exactly as an upload is onboarded: zip safety, digests, signatures under the
//! tenant's policy, VNFD rules. A package that fails any of it is refused with the
//! reason and nothing of it is kept. The onboarded copy is the cache: its
//! `userDefinedData` names the NFVO's package (`nfvoVnfPkgId`).
//!
//! The NFVO's state of a cached package is checked again before each new instance, and
//! [`NfvoPackageSource::subscribe`] asks the NFVO for its package notifications: a
//! `VnfPackageChangeNotification` makes the source read the package's state from the
//! NFVO again (the notification itself is only a hint), disabling the copies of a
//! package the NFVO disabled or deleted, deleting those no instance uses, and enabling
//! them again when the NFVO does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::Digest as _;
use tacker_core::filter::Filter;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, KeyValuePairs, PackageOperationalStateType as Operational,
    PackageUsageStateType as Usage, VnfPkgInfoModifications,
};
use tacker_core::package::{PackageSource, SpoolFile, VnfPackage, VnfPackageManager};
use tacker_core::store::ListQuery;
use tacker_core::{Error, Result, TenantId};
use tokio::io::AsyncWriteExt as _;

use crate::http::{self, DRIVER};
use crate::nfvo::NfvoConnection;

/// The `Version` of SOL003 VNF package management v2 sent to the NFVO.
pub const PACKAGE_API_VERSION: &str = "2.1.0";

/// The `userDefinedData` key naming the NFVO's package a cached copy was fetched from.
pub const NFVO_PACKAGE_KEY: &str = "nfvoVnfPkgId";

/// What the NFVO says of a package.
#[derive(Debug, Clone)]
struct NfvoPackage {
    id: String,
    enabled: bool,
    checksum: Option<(String, String)>,
}

/// Whose turn it is to fetch a tenant's package of a vnfdId.
type Turns = HashMap<(TenantId, String), Arc<tokio::sync::Mutex<()>>>;

/// Packages from the local package manager, and from the NFVO for the `vnfdId`s the
/// tenant has not onboarded (see the module documentation).
pub struct NfvoPackageSource {
    nfvo: NfvoConnection,
    manager: VnfPackageManager,
    version: HeaderValue,
    /// One fetch at a time per tenant and vnfdId (entries only while fetches wait).
    fetching: Mutex<Turns>,
    /// vnfdId → tenants holding a copy fetched from the NFVO (filled as copies are
    /// fetched or used), for the package notifications.
    copies: Mutex<BTreeMap<String, BTreeSet<TenantId>>>,
    /// The id of the NFVO's subscription this source made.
    subscription: Mutex<Option<String>>,
}

impl std::fmt::Debug for NfvoPackageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfvoPackageSource")
            .field("nfvo", &self.nfvo)
            .finish_non_exhaustive()
    }
}

impl NfvoPackageSource {
    /// The package, fetched from the NFVO unless a fetch that went before got it.
    async fn fetch_once(
        &self,
        tenant: &TenantId,
        vnfd_id: &str,
        for_new_instance: bool,
    ) -> Result<VnfPackage> {
        match self
            .manager
            .package_for_vnfd(tenant, vnfd_id, for_new_instance)
            .await
        {
            Err(Error::NotFound { .. }) => {}
            done => return done,
        }
        let package = self.nfvo_package(vnfd_id).await?.ok_or_else(|| {
            Error::not_found("VNF package with vnfdId (here or at the NFVO)", vnfd_id)
        })?;
        if for_new_instance && !package.enabled {
            return Err(Error::Conflict(format!(
                "the NFVO's package of vnfdId {vnfd_id} is DISABLED"
            )));
        }
        self.fetch(tenant, vnfd_id, &package).await?;
        self.remember(tenant, vnfd_id);
        self.manager
            .package_for_vnfd(tenant, vnfd_id, for_new_instance)
            .await
    }

    /// Packages from `manager`, and from the NFVO of `nfvo` for the others.
    pub fn new(nfvo: NfvoConnection, manager: VnfPackageManager) -> Self {
        Self {
            nfvo,
            manager,
            version: HeaderValue::from_static(PACKAGE_API_VERSION),
            fetching: Mutex::new(HashMap::new()),
            copies: Mutex::new(BTreeMap::new()),
            subscription: Mutex::new(None),
        }
    }

    fn package_url(&self, vnfd_id: &str, tail: &str) -> Result<url::Url> {
        let encoded: String = url::form_urlencoded::byte_serialize(vnfd_id.as_bytes()).collect();
        self.nfvo.join(&format!(
            "vnfpkgm/v2/onboarded_vnf_packages/{encoded}{tail}"
        ))
    }

    fn remember(&self, tenant: &TenantId, vnfd_id: &str) {
        if let Ok(mut copies) = self.copies.lock() {
            copies
                .entry(vnfd_id.to_owned())
                .or_default()
                .insert(tenant.clone());
        }
    }

    /// The NFVO's `VnfPkgInfo` of `vnfd_id`; `None` when it has none (404).
    async fn nfvo_package(&self, vnfd_id: &str) -> Result<Option<NfvoPackage>> {
        let url = self.package_url(vnfd_id, "")?;
        let method = Method::GET;
        let mut response = self
            .nfvo
            .send_with_retries(&method, &url, None, &self.version, "application/json")
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let message = http::status_message(&method, &url, response).await;
            return Err(Error::driver(
                DRIVER,
                http::status_retryable(status),
                message,
            ));
        }
        let body = self.nfvo.read_answer(&mut response, &method, &url).await?;
        let info: Value = serde_json::from_slice(&body).map_err(|e| {
            Error::driver(
                DRIVER,
                false,
                format!("GET {} answered no VnfPkgInfo: {e}", http::redact(&url)),
            )
        })?;
        let text = |key: &str| info.get(key).and_then(Value::as_str);
        let shown = http::redact(&url);
        if text("vnfdId") != Some(vnfd_id) {
            return Err(Error::driver(
                DRIVER,
                false,
                format!("GET {shown} answered the VnfPkgInfo of another vnfdId"),
            ));
        }
        if text("onboardingState") != Some("ONBOARDED") {
            return Err(Error::Conflict(format!(
                "the NFVO's package of vnfdId {vnfd_id} is not ONBOARDED"
            )));
        }
        let id = text("id")
            .filter(|id| !id.is_empty() && id.len() <= 256)
            .ok_or_else(|| {
                Error::driver(
                    DRIVER,
                    false,
                    format!("GET {shown} answered a VnfPkgInfo without id"),
                )
            })?;
        let checksum = info.get("checksum").and_then(|c| {
            Some((
                c.get("algorithm")?.as_str()?.to_owned(),
                c.get("hash")?.as_str()?.to_owned(),
            ))
        });
        Ok(Some(NfvoPackage {
            id: id.to_owned(),
            enabled: text("operationalState") == Some("ENABLED"),
            checksum,
        }))
    }

    /// Downloads the NFVO's package of `vnfd_id` and onboards it in `tenant`.
    async fn fetch(&self, tenant: &TenantId, vnfd_id: &str, package: &NfvoPackage) -> Result<()> {
        let url = self.package_url(vnfd_id, "/package_content")?;
        let shown = http::redact(&url);
        let limit = self.manager.config().max_package_size;
        let spool_dir = self
            .manager
            .config()
            .spool_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let (spool, mut file) = SpoolFile::create(&spool_dir, "nfvo").await?;
        let method = Method::GET;
        let mut response = self
            .nfvo
            .send_with_retries(&method, &url, None, &self.version, "application/zip")
            .await?;
        let status = response.status();
        if !status.is_success() {
            let message = http::status_message(&method, &url, response).await;
            return Err(Error::driver(
                DRIVER,
                http::status_retryable(status),
                message,
            ));
        }
        if let Some(length) = response.content_length().filter(|&l| l > limit) {
            return Err(Error::TooLarge(format!(
                "the NFVO's package of vnfdId {vnfd_id} is {length} bytes, more than the \
                 maximum package size of {limit} bytes"
            )));
        }
        let mut sha256 = sha2::Sha256::new();
        let mut sha512 = sha2::Sha512::new();
        let mut received: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| http::transport_error(&method, &url, &e, self.nfvo.timeout))?
        {
            received = received.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
            if received > limit {
                return Err(Error::TooLarge(format!(
                    "GET {shown} sent more than the maximum package size of {limit} bytes; \
                     the download was stopped"
                )));
            }
            sha256.update(&chunk);
            sha512.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::Internal(format!("cannot spool the NFVO's package: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| Error::Internal(format!("cannot spool the NFVO's package: {e}")))?;
        drop(file);
        if let Some((algorithm, expected)) = &package.checksum {
            let actual = match algorithm.to_ascii_uppercase().as_str() {
                "SHA-256" | "SHA256" => Some(hex(&sha256.finalize())),
                "SHA-512" | "SHA512" => Some(hex(&sha512.finalize())),
                _ => None,
            };
            if let Some(actual) = actual
                && !actual.eq_ignore_ascii_case(expected)
            {
                return Err(Error::Unprocessable(format!(
                    "the package of vnfdId {vnfd_id} fetched from the NFVO does not match the \
                     NFVO's {algorithm} checksum: it was changed or corrupted on the way"
                )));
            }
        }
        let mut data = KeyValuePairs::default();
        data.insert(
            NFVO_PACKAGE_KEY.to_owned(),
            Value::String(package.id.clone()),
        );
        let created = self
            .manager
            .create(
                tenant,
                CreateVnfPkgInfoRequest {
                    user_defined_data: data,
                },
            )
            .await?;
        let onboarded = self
            .manager
            .upload_content_from_file(tenant, &created.id, spool.path())
            .await;
        let refused = match onboarded {
            Ok(info) if info.vnfd_id.as_deref() == Some(vnfd_id) => None,
            Ok(info) => Some(Error::Unprocessable(format!(
                "the NFVO's package of vnfdId {vnfd_id} carries the VNFD {}",
                info.vnfd_id.unwrap_or_default()
            ))),
            Err(error) => Some(error),
        };
        if let Some(error) = refused {
            self.discard(tenant, &created.id).await;
            return Err(match error {
                Error::Unprocessable(reason) => Error::Unprocessable(format!(
                    "the package of vnfdId {vnfd_id} fetched from the NFVO is refused: {reason}"
                )),
                other => other,
            });
        }
        if !package.enabled {
            self.set_enabled(tenant, &created.id, false).await?;
        }
        tracing::info!(%tenant, vnfd_id, package = created.id, "package fetched from the NFVO and onboarded");
        Ok(())
    }

    /// Removes a copy that must not stay (disabled first when it was onboarded).
    async fn discard(&self, tenant: &TenantId, id: &str) {
        let _ = self.set_enabled(tenant, id, false).await;
        if let Err(error) = self.manager.delete(tenant, id).await {
            tracing::warn!(%tenant, package = id, %error, "cannot remove a refused copy of an NFVO package");
        }
    }

    async fn set_enabled(&self, tenant: &TenantId, id: &str, enabled: bool) -> Result<()> {
        let state = if enabled {
            Operational::Enabled
        } else {
            Operational::Disabled
        };
        match self
            .manager
            .modify(
                tenant,
                id,
                VnfPkgInfoModifications {
                    operational_state: Some(state),
                    user_defined_data: None,
                },
            )
            .await
        {
            Ok(_) => Ok(()),
            // Already in that state.
            Err(Error::Conflict(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The tenant's copies of the NFVO's package of `vnfd_id`.
    async fn copies_in(
        &self,
        tenant: &TenantId,
        vnfd_id: &str,
    ) -> Result<Vec<(String, Usage, Operational)>> {
        let query = ListQuery::filtered(Filter::eq("vnfdId", vnfd_id));
        let page = self.manager.list(tenant, &query).await?;
        Ok(page
            .items
            .into_iter()
            .filter(|info| info.user_defined_data.contains_key(NFVO_PACKAGE_KEY))
            .map(|info| (info.id, info.usage_state, info.operational_state))
            .collect())
    }

    /// Reads the NFVO's state of `vnfd_id` again and brings every copy this process
    /// knows of in line: disabled (and deleted when unused) when the NFVO disabled or
    /// deleted it, enabled when the NFVO enables it.
    pub async fn refresh(&self, vnfd_id: &str) -> Result<()> {
        let tenants: Vec<TenantId> = self
            .copies
            .lock()
            .map(|copies| copies.get(vnfd_id).map(|t| t.iter().cloned().collect()))
            .unwrap_or_default()
            .unwrap_or_default();
        if tenants.is_empty() {
            return Ok(());
        }
        let state = self.nfvo_package(vnfd_id).await?;
        for tenant in tenants {
            for (id, usage, operational) in self.copies_in(&tenant, vnfd_id).await? {
                match &state {
                    Some(package) if package.enabled => {
                        if operational == Operational::Disabled {
                            self.set_enabled(&tenant, &id, true).await?;
                        }
                    }
                    Some(_) => self.set_enabled(&tenant, &id, false).await?,
                    None => {
                        self.set_enabled(&tenant, &id, false).await?;
                        if usage == Usage::NotInUse {
                            self.manager.delete(&tenant, &id).await?;
                        }
                    }
                }
                tracing::info!(%tenant, vnfd_id, package = id, nfvo_state = ?state.as_ref().map(|p| p.enabled), "copy of an NFVO package brought in line");
            }
        }
        Ok(())
    }

    /// Subscribes to the NFVO's package notifications (`VnfPackageChangeNotification`)
    /// with `callback_uri` (where the API serves [`crate::rest::NFVO_PACKAGE_NOTIFICATIONS`]:
    /// see [`crate::Api::with_nfvo_packages`]).
    /// Returns the subscription's id.
    pub async fn subscribe(&self, callback_uri: &str) -> Result<String> {
        let url = self.nfvo.join("vnfpkgm/v2/subscriptions")?;
        let body = serde_json::json!({
            "filter": {"notificationTypes": ["VnfPackageChangeNotification"]},
            "callbackUri": callback_uri,
        });
        let body = Bytes::from(body.to_string());
        let method = Method::POST;
        let mut response = self
            .nfvo
            .send_with_retries(
                &method,
                &url,
                Some(&body),
                &self.version,
                "application/json",
            )
            .await?;
        let status = response.status();
        if status != StatusCode::CREATED && status != StatusCode::SEE_OTHER {
            let message = http::status_message(&method, &url, response).await;
            return Err(Error::driver(
                DRIVER,
                http::status_retryable(status),
                message,
            ));
        }
        let id = if status == StatusCode::SEE_OTHER {
            response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_owned)
        } else {
            let body = self.nfvo.read_answer(&mut response, &method, &url).await?;
            serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
        }
        .ok_or_else(|| {
            Error::driver(
                DRIVER,
                false,
                format!(
                    "POST {} answered a subscription without id",
                    http::redact(&url)
                ),
            )
        })?;
        if let Ok(mut subscription) = self.subscription.lock() {
            *subscription = Some(id.clone());
        }
        tracing::info!(
            subscription = id,
            "subscribed to the NFVO's package notifications"
        );
        Ok(id)
    }

    /// Takes a notification the NFVO posted: a `VnfPackageChangeNotification` of this
    /// source's subscription makes it [`refresh`](Self::refresh) the package it names.
    /// Anything else is ignored (answered 204 all the same, as SOL013 asks).
    pub async fn notified(&self, notification: &Value) {
        let text = |key: &str| notification.get(key).and_then(Value::as_str);
        let ours = self
            .subscription
            .lock()
            .map(|s| {
                s.as_deref()
                    .is_some_and(|id| text("subscriptionId") == Some(id))
            })
            .unwrap_or(false);
        if !ours || text("notificationType") != Some("VnfPackageChangeNotification") {
            return;
        }
        let Some(vnfd_id) = text("vnfdId") else {
            return;
        };
        if let Err(error) = self.refresh(vnfd_id).await {
            tracing::warn!(vnfd_id, %error, "cannot bring the copies of an NFVO package in line");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[async_trait]
impl PackageSource for NfvoPackageSource {
    async fn package_for_vnfd(
        &self,
        tenant: &TenantId,
        vnfd_id: &str,
        for_new_instance: bool,
    ) -> Result<VnfPackage> {
        match self
            .manager
            .package_for_vnfd(tenant, vnfd_id, for_new_instance)
            .await
        {
            Err(Error::NotFound { .. }) => {}
            Ok(package) => {
                if !package
                    .info
                    .user_defined_data
                    .contains_key(NFVO_PACKAGE_KEY)
                {
                    return Ok(package);
                }
                self.remember(tenant, vnfd_id);
                if !for_new_instance {
                    return Ok(package);
                }
                // A new instance of a cached copy: the NFVO must still offer it.
                match self.nfvo_package(vnfd_id).await? {
                    Some(nfvo) if nfvo.enabled => return Ok(package),
                    _ => {
                        self.refresh(vnfd_id).await?;
                        return Err(Error::Conflict(format!(
                            "the NFVO no longer offers the package of vnfdId {vnfd_id} \
                             (disabled or deleted there)"
                        )));
                    }
                }
            }
            Err(other) => return Err(other),
        }
        let key = (tenant.clone(), vnfd_id.to_owned());
        let turn = self
            .fetching
            .lock()
            .map(|mut fetching| fetching.entry(key.clone()).or_default().clone())
            .map_err(|_| Error::Internal("the NFVO fetch table is poisoned".into()))?;
        let outcome = {
            let _turn = turn.lock().await;
            self.fetch_once(tenant, vnfd_id, for_new_instance).await
        };
        if let Ok(mut fetching) = self.fetching.lock()
            && Arc::strong_count(&turn) <= 2
        {
            fetching.remove(&key);
        }
        outcome
    }

    async fn set_in_use(&self, tenant: &TenantId, vnfd_id: &str, in_use: bool) -> Result<()> {
        self.manager.set_in_use(tenant, vnfd_id, in_use).await
    }
}
