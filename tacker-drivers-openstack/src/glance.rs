//! Software images in Glance: a VDU's image found by name, or uploaded from the
//! package that carries it.
//!
//! Before a stack is created or updated for a forward operation, every software image
//! of the flavour that the grant does not map to a VIM image (`vimAssets`) must be in
//! Glance under the VNFD's image name, since the templates name it so:
//!
//! - an active image of that name is used as it is (shared by every instance of the
//!   package, and by later ones);
//! - else, when the package carries the image (`SwImageData` with an artifact), the
//!   image is created (private, `disk_format`, `container_format`, `min_disk`,
//!   `min_ram` from the VNFD, tags `tacker-vnfm` and `tacker-vnfd:<vnfdId>`) and the
//!   artifact is streamed to Glance while its checksum is computed: a checksum that
//!   differs from the VNFD's deletes the image and fails the operation (not
//!   retryable), as does a failed upload (retryable). Uploads of one image are
//!   serialized in this process; where another VNFM process uploaded the same image
//!   at the same time, the later copy is deleted.
//! - else the operation is refused: the VIM lacks the image and the package does not
//!   carry it.
//!
//! A VIM whose catalog lists no Glance is left alone: Heat resolves the names.
//!
//! Cleanup: images the VNFM uploaded stay in Glance, for the package's other and later
//! instances; they carry the tags above, so an operator (or an NFVO that deletes the
//! package) finds and removes them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::{Body, Method};
use serde_json::{Value, json};
use sha2::Digest as _;
use tacker_core::package::PackageFiles;
use tacker_core::vnfd::{DeploymentFlavour, SwImage, Vnfd};
use tacker_core::{Error, Result};
use tokio_util::sync::CancellationToken;

use crate::DRIVER;
use crate::keystone::{KeystoneSession, error_message, retryable_status, transport_error};

/// The catalog type of Glance.
pub const IMAGE: &str = "image";

/// The tag of every image the VNFM uploads.
pub const UPLOADED_TAG: &str = "tacker-vnfm";

/// Glance over one Keystone session.
#[derive(Debug, Clone)]
pub struct GlanceClient {
    session: Arc<KeystoneSession>,
}

/// An image as Glance lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct GlanceImage {
    /// Its id.
    pub id: String,
    /// Its status (`active`, `queued`, `saving`, …).
    pub status: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it was created (RFC 3339), to order copies.
    pub created_at: String,
}

fn image_of(value: &Value) -> Option<GlanceImage> {
    Some(GlanceImage {
        id: value["id"].as_str()?.to_owned(),
        status: value["status"].as_str().unwrap_or_default().to_owned(),
        tags: value["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        created_at: value["created_at"].as_str().unwrap_or_default().to_owned(),
    })
}

impl GlanceClient {
    /// A client over `session`.
    pub fn new(session: Arc<KeystoneSession>) -> Self {
        Self { session }
    }

    async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let what = format!("{method} {path}");
        let (url, response) = self
            .session
            .send(IMAGE, method, path, |r| match body {
                Some(body) => r.json(body),
                None => r,
            })
            .await?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error("reading Glance's answer to", url.as_str(), &e))?;
        if !status.is_success() {
            return Err(Error::driver(
                DRIVER,
                retryable_status(status),
                format!(
                    "Glance refused {what} ({url}): {status}: {}",
                    error_message(&text)
                ),
            ));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            Error::driver(
                DRIVER,
                false,
                format!("Glance's answer to {what} does not parse: {e}"),
            )
        })
    }

    /// The images named `name`, oldest first.
    pub async fn named(&self, name: &str) -> Result<Vec<GlanceImage>> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .append_pair("sort", "created_at:asc")
            .finish();
        let body = self
            .json(Method::GET, &format!("v2/images?{query}"), None)
            .await?;
        Ok(body["images"]
            .as_array()
            .map(|images| images.iter().filter_map(image_of).collect())
            .unwrap_or_default())
    }

    /// Whether an active image is named `name`.
    pub async fn has_active(&self, name: &str) -> Result<bool> {
        Ok(self.named(name).await?.iter().any(|i| i.status == "active"))
    }

    /// One image.
    pub async fn show(&self, id: &str) -> Result<Value> {
        self.json(Method::GET, &format!("v2/images/{id}"), None)
            .await
    }

    /// Creates the record of an image (no data yet); its id.
    pub async fn create(&self, spec: &Value) -> Result<String> {
        let body = self.json(Method::POST, "v2/images", Some(spec)).await?;
        body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::driver(DRIVER, false, "Glance created an image without an id"))
    }

    /// Sends the data of image `id`. The body is a stream: it is sent once, so the
    /// token is renewed first when it is about to expire.
    pub async fn upload(&self, id: &str, body: Body) -> Result<()> {
        let path = format!("v2/images/{id}/file");
        let body = Mutex::new(Some(body));
        let (url, response) = self
            .session
            .send(IMAGE, Method::PUT, &path, |r| {
                let r = r.header("Content-Type", "application/octet-stream");
                match body.lock().ok().and_then(|mut b| b.take()) {
                    Some(body) => r.body(body),
                    // A second attempt (the first token refused) has no data left.
                    None => r.body(Body::from(Vec::new())),
                }
            })
            .await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(Error::driver(
                DRIVER,
                true,
                format!(
                    "Glance refused the data of image {id} ({url}): {status}: {}",
                    error_message(&text)
                ),
            ));
        }
        Ok(())
    }

    /// Deletes image `id` (gone already is fine).
    pub async fn delete(&self, id: &str) -> Result<()> {
        let (url, response) = self
            .session
            .send(IMAGE, Method::DELETE, &format!("v2/images/{id}"), |r| r)
            .await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(Error::driver(
            DRIVER,
            retryable_status(status),
            format!(
                "Glance refused to delete image {id} ({url}): {status}: {}",
                error_message(&text)
            ),
        ))
    }
}

/// Serializes the uploads of one image (by VIM and name) in this process.
#[derive(Debug, Default)]
pub struct UploadLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl UploadLocks {
    fn of(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(key.to_owned()).or_default().clone()
    }
}

/// A running checksum of one of the VNFD's algorithms.
enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn of(algorithm: &str) -> Option<Self> {
        match algorithm.to_ascii_lowercase().replace('_', "-").as_str() {
            "sha-256" | "sha256" => Some(Self::Sha256(sha2::Sha256::new())),
            "sha-384" | "sha384" => Some(Self::Sha384(sha2::Sha384::new())),
            "sha-512" | "sha512" => Some(Self::Sha512(sha2::Sha512::new())),
            _ => None,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha384(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    fn hex(self) -> String {
        let bytes = match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The software images of `flavour` (its VDUs' and its storages'), by name, with the
/// VNFD descriptor ids that use them.
fn images_of(flavour: &DeploymentFlavour) -> BTreeMap<String, (&SwImage, Vec<&str>)> {
    let mut out: BTreeMap<String, (&SwImage, Vec<&str>)> = BTreeMap::new();
    let vdus = flavour
        .vdus
        .iter()
        .filter_map(|v| v.sw_image.as_ref().map(|i| (v.id.as_str(), i)));
    let storages = flavour
        .virtual_storages
        .iter()
        .filter_map(|s| s.sw_image.as_ref().map(|i| (s.id.as_str(), i)));
    for (desc, image) in vdus.chain(storages) {
        out.entry(image.name.clone())
            .or_insert_with(|| (image, Vec::new()))
            .1
            .push(desc);
    }
    out
}

/// What [`ensure_images`] works with.
pub struct Images<'a> {
    pub glance: GlanceClient,
    pub locks: &'a UploadLocks,
    /// Distinguishes VIMs in the upload locks.
    pub vim_key: &'a str,
    pub vnfd: &'a Vnfd,
    pub flavour: &'a DeploymentFlavour,
    pub package: &'a dyn PackageFiles,
    /// Whether the grant maps the software image of a descriptor to a VIM image.
    pub granted: &'a (dyn Fn(&str) -> bool + Sync),
    pub deadline: Instant,
    pub cancel: &'a CancellationToken,
}

/// Makes sure that every software image the flavour deploys by name is in Glance (see
/// the module documentation).
pub async fn ensure_images(images: &Images<'_>) -> Result<()> {
    // A cloud without Glance in its catalog: the templates' image names are Heat's to
    // resolve.
    if !images.glance.session.offers(IMAGE).await? {
        return Ok(());
    }
    for (name, (image, descs)) in images_of(images.flavour) {
        if descs.iter().all(|d| (images.granted)(d)) {
            continue;
        }
        if images.glance.has_active(&name).await? {
            continue;
        }
        let Some(file) = &image.file else {
            return Err(Error::Unprocessable(format!(
                "the VIM has no image '{name}' (software image of {}) and the package does not carry it: upload it to Glance, have the grant name a VIM image (vimAssets), or add the image artifact to the package",
                descs.join(", ")
            )));
        };
        let lock = images.locks.of(&format!("{}\n{name}", images.vim_key));
        let _held = lock.lock().await;
        // Uploaded by another operation while this one waited.
        if images.glance.has_active(&name).await? {
            continue;
        }
        upload(images, &name, image, file).await?;
    }
    Ok(())
}

async fn upload(images: &Images<'_>, name: &str, image: &SwImage, file: &str) -> Result<()> {
    let glance = &images.glance;
    let mut hasher = match (&image.checksum_algorithm, &image.checksum_hash) {
        (Some(algorithm), Some(_)) => Some(Hasher::of(algorithm).ok_or_else(|| {
            Error::Unprocessable(format!(
                "software image '{name}': checksum algorithm '{algorithm}' is not one of sha-256, sha-384, sha-512"
            ))
        })?),
        _ => None,
    };
    let spec = json!({
        "name": name,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk.div_ceil(1 << 30),
        "min_ram": image.min_ram.div_ceil(1 << 20),
        "visibility": "private",
        "tags": [UPLOADED_TAG, format!("tacker-vnfd:{}", images.vnfd.descriptor_id)],
    });
    let id = glance.create(&spec).await?;
    let result = async {
        let mut source = images.package.stream(file).await?;
        let (sender, receiver) = futures::channel::mpsc::channel::<std::result::Result<bytes::Bytes, std::io::Error>>(2);
        let body = Body::wrap_stream(receiver);
        let send = async {
            let mut sender = sender;
            while let Some(chunk) = source.next().await {
                match chunk {
                    Ok(chunk) => {
                        if let Some(hasher) = hasher.as_mut() {
                            hasher.update(&chunk);
                        }
                        if futures::SinkExt::send(&mut sender, Ok(chunk)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = futures::SinkExt::send(
                            &mut sender,
                            Err(std::io::Error::other(e.to_string())),
                        )
                        .await;
                        return Err(e);
                    }
                }
            }
            Ok(())
        };
        let (sent, uploaded) = tokio::join!(send, glance.upload(&id, body));
        sent?;
        uploaded?;
        if let (Some(hasher), Some(expected)) = (hasher.take(), &image.checksum_hash) {
            let actual = hasher.hex();
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(Error::Unprocessable(format!(
                    "software image '{name}': the package's {file} has checksum {actual}, but the VNFD says {expected}"
                )));
            }
        }
        wait_active(glance, &id, name, images.deadline, images.cancel).await
    }
    .await;
    if let Err(error) = result {
        let _ = glance.delete(&id).await;
        return Err(error);
    }
    // Another process may have uploaded the same image meanwhile: the oldest stays.
    let copies = glance.named(name).await?;
    if let Some(oldest) = copies.iter().find(|i| i.status == "active")
        && oldest.id != id
    {
        glance.delete(&id).await?;
    }
    tracing::info!(
        image = name,
        id,
        "uploaded the package's software image to Glance"
    );
    Ok(())
}

async fn wait_active(
    glance: &GlanceClient,
    id: &str,
    name: &str,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut pause = Duration::from_millis(200);
    loop {
        let shown = glance.show(id).await?;
        match shown["status"].as_str().unwrap_or_default() {
            "active" => return Ok(()),
            status @ ("killed" | "deleted" | "deactivated") => {
                return Err(Error::driver(
                    DRIVER,
                    true,
                    format!("Glance image '{name}' ({id}) went {status} after the upload"),
                ));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(Error::driver(
                DRIVER,
                true,
                format!("Glance image '{name}' ({id}) is not active in time"),
            ));
        }
        tokio::select! {
            () = cancel.cancelled() => {
                return Err(Error::Cancelled(format!("cancelled while image '{name}' was uploaded")));
            }
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
