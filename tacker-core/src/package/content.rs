//! Package bytes without holding them: temporary spool files, streamed stores into the
//! object store (multipart, hashed on the way), and a seekable reader of a stored
//! package that fetches only the ranges the zip reader asks for.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::Digest as _;
use tokio::io::AsyncReadExt as _;

use crate::csar::{ArchiveSource, seek_position};
use crate::{Error, Result};

/// The size of the parts a package is stored in, and of each read of its file.
pub(crate) const PART_SIZE: usize = 8 << 20;
/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;
/// How much a [`ObjectReader`] fetches at a time.
const READ_AHEAD: u64 = 1 << 20;

/// A stream of the bytes of a package or of one of its files.
pub type ContentStream = BoxStream<'static, Result<Bytes>>;

/// A file in a spool directory that is removed when this value is dropped, on every
/// path: success, error, or the owning future being cancelled.
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
}

impl SpoolFile {
    /// Creates a new, empty file readable only by this process's user in `dir`
    /// (created when missing).
    pub async fn create(dir: &Path, purpose: &str) -> Result<(Self, tokio::fs::File)> {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            Error::Internal(format!(
                "cannot create the spool directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(format!("tacker-{purpose}-{}.zip", crate::new_id()));
        let mut options = tokio::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await.map_err(|e| {
            Error::Internal(format!(
                "cannot create a temporary file for the package in {}: {e}",
                dir.display()
            ))
        })?;
        Ok((Self { path }, file))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "temporary package file left behind");
        }
    }
}

/// Writes the files under `root` to `out` as a zip, entries in path order, names
/// relative to `root` with `/` separators. Refuses more than `limit` bytes of files,
/// symbolic links (a package directory holds files), and paths that are not UTF-8.
pub(crate) fn zip_directory(root: &Path, out: std::fs::File, limit: u64) -> Result<()> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Error::InvalidRequest(format!("{what} {}: {e}", path.display()))
    };
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    let mut total: u64 = 0;
    // Bounded: a directory tree of more than 100 000 entries is not a VNF package.
    let mut budget = 100_000usize;
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| io("cannot read the directory", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io("cannot read the directory", &dir, e))?;
            budget = budget.checked_sub(1).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "{} holds too many files for a package",
                    root.display()
                ))
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io("cannot read", &path, e))?;
            if kind.is_symlink() {
                return Err(Error::InvalidRequest(format!(
                    "{} is a symbolic link; a package directory holds files only",
                    path.display()
                )));
            }
            if kind.is_dir() {
                pending.push(path);
            } else {
                let size = entry
                    .metadata()
                    .map_err(|e| io("cannot read", &path, e))?
                    .len();
                total = total.saturating_add(size);
                if total > limit {
                    return Err(Error::TooLarge(format!(
                        "the package directory {} holds more than the {limit} bytes a package may have",
                        root.display()
                    )));
                }
                files.push(path);
            }
        }
    }
    files.sort();
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(out));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(total > u64::from(u32::MAX));
    for path in files {
        let name = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "{} is not a UTF-8 path under the package",
                    path.display()
                ))
            })?
            .replace('\\', "/");
        writer
            .start_file(name, options)
            .map_err(|e| Error::Internal(format!("cannot write the package zip: {e}")))?;
        let mut input = std::fs::File::open(&path).map_err(|e| io("cannot open", &path, e))?;
        std::io::copy(&mut input, &mut writer).map_err(|e| io("cannot read", &path, e))?;
    }
    let mut buffered = writer
        .finish()
        .map_err(|e| Error::Internal(format!("cannot write the package zip: {e}")))?;
    std::io::Write::flush(&mut buffered)
        .map_err(|e| Error::Internal(format!("cannot write the package zip: {e}")))?;
    Ok(())
}

pub(crate) fn object_error(error: object_store::Error) -> Error {
    match error {
        object_store::Error::NotFound { path, .. } => Error::not_found("package content", path),
        other => Error::store(format!("object store: {other}"), true),
    }
}

/// Stores the file at `path` under `key` in parts of [`PART_SIZE`] (at most
/// [`PARTS_IN_FLIGHT`] uploading at once) and returns its SHA-256 (hex). On any error
/// the upload is aborted: nothing is left under `key`.
pub(crate) async fn store_file(
    objects: &Arc<dyn ObjectStore>,
    key: &ObjectPath,
    path: &Path,
) -> Result<String> {
    let read_error =
        |e: std::io::Error| Error::Internal(format!("cannot read {}: {e}", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(read_error)?;
    let upload = objects.put_multipart(key).await.map_err(object_error)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; PART_SIZE];
    let result: Result<()> = async {
        loop {
            let read = file.read(&mut buffer).await.map_err(read_error)?;
            if read == 0 {
                return Ok(());
            }
            let chunk = &buffer[..read];
            hasher.update(chunk);
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(object_error)?;
            writer.write(chunk);
        }
    }
    .await;
    if let Err(error) = result {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(key = %key, error = %abort, "aborting a package upload failed");
        }
        return Err(error);
    }
    writer.finish().await.map_err(object_error)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// A stored package read by ranges of [`READ_AHEAD`] bytes: what the zip reader of an
/// onboarded package reads through. It blocks on the object store, so it must be used
/// on a blocking thread (`spawn_blocking`), never on an async worker.
#[derive(Debug, Clone)]
pub(crate) struct ObjectReader {
    objects: Arc<dyn ObjectStore>,
    key: ObjectPath,
    len: u64,
    position: u64,
    buffer: Bytes,
    buffer_start: u64,
    runtime: tokio::runtime::Handle,
}

impl ObjectReader {
    /// A reader of the object `key` of `len` bytes, blocking on `runtime`.
    pub(crate) fn new(
        objects: Arc<dyn ObjectStore>,
        key: ObjectPath,
        len: u64,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            objects,
            key,
            len,
            position: 0,
            buffer: Bytes::new(),
            buffer_start: 0,
            runtime,
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let buffered_end = self
            .buffer_start
            .saturating_add(u64::try_from(self.buffer.len()).unwrap_or(u64::MAX));
        if self.position < self.buffer_start || self.position >= buffered_end {
            let end = self.position.saturating_add(READ_AHEAD).min(self.len);
            let range = self.position..end;
            let objects = self.objects.clone();
            let key = self.key.clone();
            self.buffer = self
                .runtime
                .block_on(async move { objects.get_range(&key, range).await })
                .map_err(std::io::Error::other)?;
            self.buffer_start = self.position;
            if self.buffer.is_empty() {
                return Ok(0);
            }
        }
        let offset =
            usize::try_from(self.position - self.buffer_start).map_err(std::io::Error::other)?;
        let available = self.buffer.get(offset..).unwrap_or_default();
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.position = self
            .position
            .saturating_add(u64::try_from(count).unwrap_or(u64::MAX));
        Ok(count)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.position = seek_position(pos, self.position, self.len)?;
        Ok(self.position)
    }
}

impl ArchiveSource for ObjectReader {
    fn clone_source(&self) -> Box<dyn ArchiveSource> {
        Box::new(self.clone())
    }
}

/// Streams what `produce` writes from a blocking thread: each chunk goes through a
/// channel of a few chunks, so a slow client holds back the reader instead of memory
/// filling up. `produce` gets a sink to call with each chunk; the sink answers `false`
/// once the receiver is gone, and `produce` should then stop.
pub(crate) fn blocking_stream<F>(produce: F) -> ContentStream
where
    F: FnOnce(&mut dyn FnMut(Bytes) -> bool) -> Result<()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut send = |chunk: Bytes| sender.blocking_send(Ok(chunk)).is_ok();
        if let Err(error) = produce(&mut send) {
            let _ = sender.blocking_send(Err(error));
        }
    });
    Box::pin(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}

/// Copies `reader` into chunks of at most 64 KiB, skipping its first `skip` bytes and
/// stopping after `take` bytes.
pub(crate) fn pump(
    reader: &mut dyn Read,
    skip: u64,
    take: u64,
    send: &mut dyn FnMut(Bytes) -> bool,
) -> std::io::Result<()> {
    let skipped = std::io::copy(&mut reader.take(skip), &mut std::io::sink())?;
    if skipped < skip {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file ended before the range",
        ));
    }
    let mut reader = reader.take(take);
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        if !send(Bytes::copy_from_slice(&buffer[..read])) {
            return Ok(());
        }
    }
}
