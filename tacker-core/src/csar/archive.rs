//! The CSAR container: zip or directory, its safety checks, entry points and digests.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::Digest;
use zip::ZipArchive;

use super::CsarError;
use super::meta::{ArtifactEntry, HashAlgorithm, Manifest, ToscaMeta};

const TOSCA_META: &str = "TOSCA-Metadata/TOSCA.meta";
const CHUNK: usize = 64 * 1024;

/// Limits that keep a hostile package from exhausting memory or disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsarLimits {
    /// Entries (files and directories) in the package.
    pub max_entries: usize,
    /// Uncompressed size of one entry.
    pub max_entry_size: u64,
    /// Uncompressed size of all entries together.
    pub max_total_size: u64,
    /// Expansion ratio of an entry larger than 1 MiB.
    pub max_compression_ratio: u64,
    /// Size of a text file read whole (TOSCA.meta, manifest, YAML).
    pub max_text_size: u64,
}

impl Default for CsarLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_entry_size: 64 << 30,
            max_total_size: 128 << 30,
            max_compression_ratio: 100,
            max_text_size: 16 << 20,
        }
    }
}

/// How to read a package.
#[derive(Debug, Clone, Default)]
pub struct CsarOptions {
    /// The limits.
    pub limits: CsarLimits,
    /// Paths treated as present but unavailable: no existence or digest check (for
    /// packages whose large or private files are kept elsewhere).
    pub missing_ok: BTreeSet<String>,
}

/// The result of checking one listed artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashCheck {
    /// The artifact as listed.
    pub artifact: ArtifactEntry,
    /// What was found.
    pub outcome: HashOutcome,
}

/// What checking an artifact's digest found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOutcome {
    /// The digest matches.
    Verified,
    /// Not checked, and why (a remote artifact, a path marked unavailable).
    Skipped(String),
}

/// A seekable source of a zip package that can be cloned cheaply, each clone with its
/// own position: a file read by position, or an object in an object store read by
/// ranges. Each read of a package member uses a clone, so reads do not wait for each
/// other and nothing of the package is held in memory but what a read asks for.
pub trait ArchiveSource: Read + Seek + Send + Sync + 'static {
    /// A clone with its own position.
    fn clone_source(&self) -> Box<dyn ArchiveSource>;
}

impl Clone for Box<dyn ArchiveSource> {
    fn clone(&self) -> Self {
        self.clone_source()
    }
}

/// A file read by position: clones share the open file, each with its own offset.
#[derive(Debug, Clone)]
pub struct SharedFile {
    file: Arc<File>,
    len: u64,
    position: u64,
}

impl SharedFile {
    /// Opens `path` for reading.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            file: Arc::new(file),
            len,
            position: 0,
        })
    }
}

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.len || buf.is_empty() {
            return Ok(0);
        }
        #[cfg(unix)]
        let read = std::os::unix::fs::FileExt::read_at(&*self.file, buf, self.position)?;
        #[cfg(windows)]
        let read = std::os::windows::fs::FileExt::seek_read(&*self.file, buf, self.position)?;
        self.position = self
            .position
            .saturating_add(u64::try_from(read).unwrap_or(u64::MAX));
        Ok(read)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.position = seek_position(pos, self.position, self.len)?;
        Ok(self.position)
    }
}

impl ArchiveSource for SharedFile {
    fn clone_source(&self) -> Box<dyn ArchiveSource> {
        Box::new(self.clone())
    }
}

/// The absolute offset a seek asks for, refusing one before the start.
pub fn seek_position(pos: std::io::SeekFrom, current: u64, len: u64) -> std::io::Result<u64> {
    let target = match pos {
        std::io::SeekFrom::Start(offset) => Some(offset),
        std::io::SeekFrom::End(delta) => len.checked_add_signed(delta),
        std::io::SeekFrom::Current(delta) => current.checked_add_signed(delta),
    };
    target.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "seek before the start of the package",
        )
    })
}

enum Backing {
    Bytes(ZipArchive<Cursor<Arc<[u8]>>>),
    Source(ZipArchive<Box<dyn ArchiveSource>>),
    Dir(PathBuf),
}

impl std::fmt::Debug for Backing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(_) => f.write_str("Bytes"),
            Self::Source(_) => f.write_str("Source"),
            Self::Dir(path) => write!(f, "Dir({})", path.display()),
        }
    }
}

/// An opened, checked VNF package.
#[derive(Debug)]
pub struct Csar {
    backing: Backing,
    files: BTreeMap<String, u64>,
    limits: CsarLimits,
    /// TOSCA.meta, when the package has one.
    pub tosca_meta: Option<ToscaMeta>,
    /// The manifest, when the package has one.
    pub manifest: Option<Manifest>,
    /// The manifest's path.
    pub manifest_path: Option<String>,
    /// The main service template.
    pub entry_definitions: String,
}

/// Checks an entry name and returns it as a clean relative path.
fn safe_path(name: &str) -> Result<String, CsarError> {
    let unsafe_path = |reason: &str| CsarError::UnsafePath {
        entry: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.contains('\0') {
        return Err(unsafe_path("it contains a NUL byte"));
    }
    if name.contains('\\') {
        return Err(unsafe_path("it contains a backslash"));
    }
    if name.starts_with('/') {
        return Err(unsafe_path("it is absolute"));
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err(unsafe_path("it starts with a drive letter"));
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    for component in trimmed.split('/') {
        match component {
            "" => return Err(unsafe_path("it has an empty path component")),
            "." | ".." => return Err(unsafe_path("it has a '.' or '..' component")),
            _ => {}
        }
    }
    Ok(trimmed.to_owned())
}

/// The largest central directory read to name a duplicate entry.
const MAX_DIRECTORY_SCAN: u64 = 64 << 20;

fn le16(bytes: &[u8], at: usize) -> Option<usize> {
    bytes
        .get(at..at.checked_add(2)?)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn le32(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..at.checked_add(4)?)
        .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// Where the central directory is, `(offset, size)`, from the tail of a zip (its last
/// 64 KiB and a bit): the end-of-central-directory record names it.
fn central_directory(tail: &[u8], tail_start: u64) -> Option<(u64, u64)> {
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| tail.get(at..at + 4) == Some(&[0x50, 0x4b, 0x05, 0x06]))?;
    let size = le32(tail, eocd + 12)?;
    let offset = le32(tail, eocd + 16)?;
    // Zip64 keeps the real values elsewhere; this is only for naming a duplicate.
    if offset == u64::from(u32::MAX) || offset.checked_add(size)? > tail_start + tail.len() as u64 {
        return None;
    }
    Some((offset, size))
}

/// The first name that appears twice in a central directory.
fn first_duplicate_in(directory: &[u8]) -> Option<String> {
    let mut at = 0usize;
    let mut seen = HashSet::new();
    while directory.get(at..at + 4) == Some(&[0x50, 0x4b, 0x01, 0x02]) {
        let name_len = le16(directory, at + 28)?;
        let skip = name_len + le16(directory, at + 30)? + le16(directory, at + 32)?;
        let name =
            String::from_utf8_lossy(directory.get(at + 46..at + 46 + name_len)?).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
        at += 46 + skip;
    }
    None
}

/// Reads the central directory of a zip held in memory to name its first duplicate
/// entry.
fn first_duplicate_name(zip: &[u8]) -> Option<String> {
    let (offset, size) = central_directory(zip, 0)?;
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    first_duplicate_in(zip.get(start..end)?)
}

/// Reads the tail and the central directory (never more than
/// [`MAX_DIRECTORY_SCAN`]) of a zip source to name its first duplicate entry.
fn first_duplicate_name_in(source: &mut dyn ArchiveSource) -> Option<String> {
    use std::io::SeekFrom;
    let len = source.seek(SeekFrom::End(0)).ok()?;
    let tail_start = len.saturating_sub(65_557 + 22);
    source.seek(SeekFrom::Start(tail_start)).ok()?;
    let mut tail = Vec::new();
    source.take(len - tail_start).read_to_end(&mut tail).ok()?;
    let (offset, size) = central_directory(&tail, tail_start)?;
    if size > MAX_DIRECTORY_SCAN {
        return None;
    }
    source.seek(SeekFrom::Start(offset)).ok()?;
    let mut directory = Vec::new();
    source.take(size).read_to_end(&mut directory).ok()?;
    first_duplicate_in(&directory)
}

fn check_zip<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    limits: &CsarLimits,
    duplicate: impl FnOnce() -> Option<String>,
) -> Result<BTreeMap<String, u64>, CsarError> {
    if archive.len() > limits.max_entries {
        return Err(CsarError::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        });
    }
    if archive.has_duplicate_names() {
        let entry = duplicate().unwrap_or_else(|| "(a name in the central directory)".to_owned());
        return Err(CsarError::DuplicateEntry { entry });
    }
    let mut files = BTreeMap::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| CsarError::NotAZip(format!("entry {index}: {e}")))?;
        let name = std::str::from_utf8(entry.name_raw()).map_err(|_| CsarError::UnsafePath {
            entry: String::from_utf8_lossy(entry.name_raw()).into_owned(),
            reason: "its name is not UTF-8".to_owned(),
        })?;
        let path = safe_path(name)?;
        if entry.is_symlink() {
            return Err(CsarError::Symlink { entry: path });
        }
        if entry.is_dir() {
            continue;
        }
        let size = entry.size();
        if size > limits.max_entry_size {
            return Err(CsarError::TooLarge {
                entry: path,
                size,
                limit: limits.max_entry_size,
            });
        }
        let compressed = entry.compressed_size().max(1);
        let ratio = size / compressed;
        if size > (1 << 20) && ratio > limits.max_compression_ratio {
            return Err(CsarError::CompressionRatio {
                entry: path,
                ratio,
                limit: limits.max_compression_ratio,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_size {
            return Err(CsarError::TooLarge {
                entry: "*".to_owned(),
                size: total,
                limit: limits.max_total_size,
            });
        }
        if files.insert(path.clone(), size).is_some() {
            return Err(CsarError::DuplicateEntry { entry: path });
        }
    }
    Ok(files)
}

fn scan_dir(root: &Path, limits: &CsarLimits) -> Result<BTreeMap<String, u64>, CsarError> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    let mut count = 0usize;
    let mut total: u64 = 0;
    let io = |path: &Path, e: std::io::Error| CsarError::Io {
        entry: path.display().to_string(),
        message: e.to_string(),
    };
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let item = item.map_err(|e| io(&dir, e))?;
            let path = item.path();
            let relative = path
                .strip_prefix(root)
                .map_err(|_| CsarError::UnsafePath {
                    entry: path.display().to_string(),
                    reason: "it is outside the package directory".to_owned(),
                })?
                .to_str()
                .ok_or_else(|| CsarError::UnsafePath {
                    entry: path.display().to_string(),
                    reason: "its name is not UTF-8".to_owned(),
                })?
                .replace(std::path::MAIN_SEPARATOR, "/");
            count += 1;
            if count > limits.max_entries {
                return Err(CsarError::TooManyEntries {
                    count,
                    limit: limits.max_entries,
                });
            }
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            if meta.file_type().is_symlink() {
                return Err(CsarError::Symlink { entry: relative });
            }
            if meta.is_dir() {
                pending.push(path);
                continue;
            }
            let size = meta.len();
            if size > limits.max_entry_size {
                return Err(CsarError::TooLarge {
                    entry: relative,
                    size,
                    limit: limits.max_entry_size,
                });
            }
            total = total.saturating_add(size);
            if total > limits.max_total_size {
                return Err(CsarError::TooLarge {
                    entry: "*".to_owned(),
                    size: total,
                    limit: limits.max_total_size,
                });
            }
            files.insert(relative, size);
        }
    }
    Ok(files)
}

/// A running digest of one of the SOL004 algorithms.
enum Hasher {
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha224 => Self::Sha224(sha2::Sha224::new()),
            HashAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha384 => Self::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha224(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    fn finish_hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Self::Sha224(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        };
        let mut hex = String::with_capacity(bytes.len() * 2);
        for byte in bytes {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
        }
        hex
    }
}

/// The digest of everything `reader` yields, read in chunks.
pub fn digest_hex(algorithm: HashAlgorithm, reader: &mut dyn Read) -> std::io::Result<String> {
    digest_hex_sized(algorithm, reader, CHUNK)
}

/// [`digest_hex`] with a read buffer no larger than the expected size needs.
fn digest_hex_sized(
    algorithm: HashAlgorithm,
    reader: &mut dyn Read,
    size_hint: usize,
) -> std::io::Result<String> {
    let mut hasher = Hasher::new(algorithm);
    let mut buffer = vec![0u8; size_hint.clamp(512, CHUNK)];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finish_hex());
        }
        hasher.update(&buffer[..read]);
    }
}

impl Csar {
    /// Opens a zip package held in memory.
    pub fn from_zip_bytes(
        bytes: impl Into<Arc<[u8]>>,
        options: &CsarOptions,
    ) -> Result<Self, CsarError> {
        let bytes: Arc<[u8]> = bytes.into();
        let mut archive = ZipArchive::new(Cursor::new(bytes.clone()))
            .map_err(|e| CsarError::NotAZip(e.to_string()))?;
        let files = check_zip(&mut archive, &options.limits, || {
            first_duplicate_name(&bytes)
        })?;
        Self::finish(Backing::Bytes(archive), files, options)
    }

    /// Opens a zip package file. Only the central directory and the members asked for
    /// are read, each when asked for: the package is never held in memory.
    pub fn from_zip_file(path: &Path, options: &CsarOptions) -> Result<Self, CsarError> {
        let source = SharedFile::open(path).map_err(|e| CsarError::Io {
            entry: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_zip_source(Box::new(source), options)
    }

    /// Opens a zip package from a seekable source (a file, an object in an object
    /// store). Like [`Csar::from_zip_file`], it reads only what is asked for.
    pub fn from_zip_source(
        source: Box<dyn ArchiveSource>,
        options: &CsarOptions,
    ) -> Result<Self, CsarError> {
        let mut probe = source.clone_source();
        let mut archive = ZipArchive::new(source).map_err(|e| CsarError::NotAZip(e.to_string()))?;
        let files = check_zip(&mut archive, &options.limits, || {
            first_duplicate_name_in(probe.as_mut())
        })?;
        Self::finish(Backing::Source(archive), files, options)
    }

    /// Opens a zip package from a stream, spooling it to a file in `spool_dir` first
    /// (never more than the total size limit). The file is removed when the `Csar`
    /// is no longer needed by the caller's cleanup; its path is returned with it.
    pub fn from_zip_stream(
        reader: &mut dyn Read,
        spool_dir: &Path,
        options: &CsarOptions,
    ) -> Result<(Self, PathBuf), CsarError> {
        let path = spool_dir.join(format!("csar-{}.zip", crate::new_id()));
        let io = |e: std::io::Error| CsarError::Io {
            entry: path.display().to_string(),
            message: e.to_string(),
        };
        let mut file = File::create(&path).map_err(io)?;
        let limit = options.limits.max_total_size;
        let copied = std::io::copy(&mut reader.take(limit + 1), &mut file).map_err(io)?;
        if copied > limit {
            let _ = std::fs::remove_file(&path);
            return Err(CsarError::TooLarge {
                entry: "*".to_owned(),
                size: copied,
                limit,
            });
        }
        drop(file);
        match Self::from_zip_file(&path, options) {
            Ok(csar) => Ok((csar, path)),
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(error)
            }
        }
    }

    /// Opens an unpacked package directory.
    pub fn from_dir(root: &Path, options: &CsarOptions) -> Result<Self, CsarError> {
        let files = scan_dir(root, &options.limits)?;
        Self::finish(Backing::Dir(root.to_path_buf()), files, options)
    }

    fn finish(
        backing: Backing,
        files: BTreeMap<String, u64>,
        options: &CsarOptions,
    ) -> Result<Self, CsarError> {
        let mut csar = Csar {
            backing,
            files,
            limits: options.limits,
            tosca_meta: None,
            manifest: None,
            manifest_path: None,
            entry_definitions: String::new(),
        };
        csar.find_entry_points(options)?;
        Ok(csar)
    }

    fn find_entry_points(&mut self, options: &CsarOptions) -> Result<(), CsarError> {
        if self.files.contains_key(TOSCA_META) {
            let meta = ToscaMeta::parse(TOSCA_META, &self.read_text(TOSCA_META)?)?;
            let entry = normalize(&meta.entry_definitions);
            if !self.files.contains_key(&entry) && !options.missing_ok.contains(&entry) {
                return Err(CsarError::MissingFile {
                    path: meta.entry_definitions.clone(),
                    referenced_by: format!("{TOSCA_META} (Entry-Definitions)"),
                });
            }
            if let Some(manifest) = &meta.etsi_entry_manifest {
                let path = normalize(manifest);
                if !self.files.contains_key(&path) {
                    return Err(CsarError::MissingFile {
                        path: manifest.clone(),
                        referenced_by: format!("{TOSCA_META} (ETSI-Entry-Manifest)"),
                    });
                }
                self.manifest = Some(Manifest::parse(&path, &self.read_text(&path)?)?);
                self.manifest_path = Some(path);
            }
            self.entry_definitions = entry;
            self.tosca_meta = Some(meta);
            return Ok(());
        }
        let root_yaml: Vec<&String> = self
            .files
            .keys()
            .filter(|p| !p.contains('/') && (p.ends_with(".yaml") || p.ends_with(".yml")))
            .collect();
        let [yaml] = root_yaml.as_slice() else {
            return Err(CsarError::NoEntryDefinitions(format!(
                "no {TOSCA_META}, and {} YAML files at the package root (exactly one is required)",
                root_yaml.len()
            )));
        };
        let yaml = (*yaml).clone();
        let stem = yaml
            .rsplit_once('.')
            .map_or(yaml.as_str(), |(s, _)| s)
            .to_owned();
        let root_manifests: Vec<String> = self
            .files
            .keys()
            .filter(|p| !p.contains('/') && p.ends_with(".mf"))
            .cloned()
            .collect();
        match root_manifests.as_slice() {
            [] => {}
            [manifest] if *manifest == format!("{stem}.mf") => {
                self.manifest = Some(Manifest::parse(manifest, &self.read_text(manifest)?)?);
                self.manifest_path = Some(manifest.clone());
            }
            other => {
                return Err(CsarError::NoEntryDefinitions(format!(
                    "the root manifest must be named {stem}.mf after the root YAML {yaml}, found {}",
                    other.join(", ")
                )));
            }
        }
        self.entry_definitions = yaml;
        Ok(())
    }

    /// Every file path in the package, `/`-separated.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The limits the package was read with.
    pub fn limits(&self) -> &CsarLimits {
        &self.limits
    }

    /// Whether the package has this file.
    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(&normalize(path))
    }

    /// The uncompressed size of a file.
    pub fn size(&self, path: &str) -> Option<u64> {
        self.files.get(&normalize(path)).copied()
    }

    /// Streams a file through `consume`, never holding more than a chunk of it.
    pub fn with_reader<T>(
        &self,
        path: &str,
        consume: impl FnOnce(&mut dyn Read) -> std::io::Result<T>,
    ) -> Result<T, CsarError> {
        let path = normalize(path);
        let size = *self
            .files
            .get(&path)
            .ok_or_else(|| CsarError::MissingFile {
                path: path.clone(),
                referenced_by: "the caller".to_owned(),
            })?;
        let io = |e: std::io::Error| CsarError::Io {
            entry: path.clone(),
            message: e.to_string(),
        };
        let zip_error = |e: zip::result::ZipError| CsarError::Io {
            entry: path.clone(),
            message: e.to_string(),
        };
        // Never trust the declared size: read at most one byte more and refuse.
        let limit = size.min(self.limits.max_entry_size) + 1;
        let result = match &self.backing {
            Backing::Bytes(archive) => {
                let mut archive = archive.clone();
                let file = archive.by_name(&path).map_err(zip_error)?;
                consume(&mut file.take(limit))
            }
            Backing::Source(archive) => {
                let mut archive = archive.clone();
                let file = archive.by_name(&path).map_err(zip_error)?;
                consume(&mut file.take(limit))
            }
            Backing::Dir(root) => {
                let file = File::open(root.join(&path)).map_err(io)?;
                consume(&mut file.take(limit))
            }
        };
        result.map_err(io)
    }

    /// The bytes of a file (at most the entry size limit).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, CsarError> {
        let expected = self.size(path).unwrap_or(0);
        let bytes = self.with_reader(path, |reader| {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes)?;
            Ok(bytes)
        })?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > expected {
            return Err(CsarError::TooLarge {
                entry: path.to_owned(),
                size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                limit: expected,
            });
        }
        Ok(bytes)
    }

    /// A text file (TOSCA.meta, manifest, YAML): UTF-8 and within the text size limit.
    pub fn read_text(&self, path: &str) -> Result<String, CsarError> {
        let size = self.size(path).unwrap_or(0);
        if size > self.limits.max_text_size {
            return Err(CsarError::TooLarge {
                entry: path.to_owned(),
                size,
                limit: self.limits.max_text_size,
            });
        }
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|e| CsarError::NotUtf8 {
            path: path.to_owned(),
            offset: e.utf8_error().valid_up_to(),
        })
    }

    /// Every artifact TOSCA.meta and the manifest list with a digest, without repeats.
    pub fn listed_artifacts(&self) -> Vec<&ArtifactEntry> {
        let mut seen = HashSet::new();
        self.tosca_meta
            .iter()
            .flat_map(|m| m.artifacts.iter())
            .chain(self.manifest.iter().flat_map(|m| m.artifacts.iter()))
            .filter(|a| seen.insert((a.path.clone(), a.algorithm, a.hash.to_ascii_lowercase())))
            .collect()
    }

    /// Checks the digest of every listed artifact, image files included. Remote
    /// artifacts and paths in `missing_ok` are skipped and reported so; a missing file
    /// or a wrong digest is an error naming the artifact and where it is declared.
    pub fn verify_hashes(&self, options: &CsarOptions) -> Result<Vec<HashCheck>, CsarError> {
        let mut checks = Vec::new();
        for artifact in self.listed_artifacts() {
            let declared_in = format!("{}:{}", artifact.declared_in, artifact.line);
            let path = normalize(&artifact.path);
            let outcome = if artifact.is_remote() {
                HashOutcome::Skipped("a remote artifact; fetching is not enabled".to_owned())
            } else if options.missing_ok.contains(&path) {
                HashOutcome::Skipped("marked present but unavailable".to_owned())
            } else if !self.files.contains_key(&path) {
                return Err(CsarError::MissingFile {
                    path: artifact.path.clone(),
                    referenced_by: declared_in,
                });
            } else {
                let size_hint = self
                    .size(&path)
                    .and_then(|s| usize::try_from(s).ok())
                    .unwrap_or(CHUNK)
                    .saturating_add(1);
                let actual = self.with_reader(&path, |r| {
                    digest_hex_sized(artifact.algorithm, r, size_hint)
                })?;
                if !actual.eq_ignore_ascii_case(&artifact.hash) {
                    return Err(CsarError::HashMismatch {
                        path: artifact.path.clone(),
                        declared_in,
                        algorithm: artifact.algorithm.as_str().to_owned(),
                        expected: artifact.hash.clone(),
                        actual,
                    });
                }
                HashOutcome::Verified
            };
            checks.push(HashCheck {
                artifact: artifact.clone(),
                outcome,
            });
        }
        Ok(checks)
    }
}

/// A package path as stored: no leading `./` or `/`.
fn normalize(path: &str) -> String {
    let mut path = path.trim();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.trim_start_matches('/').to_owned()
}
