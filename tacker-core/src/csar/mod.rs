//! Reading ETSI SOL004 VNF packages (CSAR): from zip bytes, a zip file or stream, or an
//! unpacked directory.
//!
//! [`Csar::from_zip_bytes`] (and the other constructors) check the archive before
//! anything else reads it: entry count, sizes and compression ratio within
//! [`CsarLimits`]; no absolute paths, no `..`, no symlinks, no duplicate names. Then the
//! entry points are found: `TOSCA-Metadata/TOSCA.meta` (its `Entry-Definitions` and
//! `ETSI-Entry-Manifest`), or, without it, the single YAML file at the root and the `.mf`
//! of the same name. [`Csar::verify_hashes`] checks the digest of every artifact that
//! TOSCA.meta and the manifest list, image files included, reading each file in chunks.
//! Every refusal is a [`CsarError`] that names the entry, file or line.

mod archive;
mod meta;
#[cfg(feature = "signatures")]
mod signature;

pub use archive::{
    ArchiveSource, Csar, CsarLimits, CsarOptions, HashCheck, HashOutcome, SharedFile, digest_hex,
    seek_position,
};
pub use meta::{ArtifactEntry, HashAlgorithm, Manifest, ToscaMeta};
#[cfg(feature = "signatures")]
pub use signature::{PackageTrust, SignaturePolicy, SignatureReport};

/// Why a CSAR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsarError {
    /// Not a readable zip archive.
    #[error("the package is not a readable zip archive: {0}")]
    NotAZip(String),
    /// More entries than allowed.
    #[error("the package has {count} entries; at most {limit} are allowed")]
    TooManyEntries {
        /// Entries found.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry, or the whole package, is larger than allowed uncompressed.
    #[error("entry '{entry}' is {size} bytes uncompressed; at most {limit} are allowed")]
    TooLarge {
        /// The entry (`*` for the whole package).
        entry: String,
        /// Its uncompressed size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry compresses suspiciously well (a zip bomb).
    #[error("entry '{entry}' expands {ratio}:1; at most {limit}:1 is allowed")]
    CompressionRatio {
        /// The entry.
        entry: String,
        /// Its expansion ratio.
        ratio: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry name that would escape the package root or is not a plain relative path.
    #[error("entry '{entry}' has an unsafe path: {reason}")]
    UnsafePath {
        /// The entry name as stored.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbolic link in the package.
    #[error("entry '{entry}' is a symbolic link; packages may not contain links")]
    Symlink {
        /// The entry.
        entry: String,
    },
    /// Two entries with one name.
    #[error("entry '{entry}' appears more than once in the package")]
    DuplicateEntry {
        /// The entry.
        entry: String,
    },
    /// Neither TOSCA-Metadata nor exactly one root YAML file, or a root manifest whose
    /// name does not match.
    #[error("cannot find the entry definitions: {0}")]
    NoEntryDefinitions(String),
    /// A file that TOSCA.meta or the manifest names is not in the package.
    #[error("'{path}' named by {referenced_by} does not exist in the package")]
    MissingFile {
        /// The missing path.
        path: String,
        /// Who names it (`TOSCA-Metadata/TOSCA.meta:4`).
        referenced_by: String,
    },
    /// A syntax or rule violation in TOSCA.meta or the manifest.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A digest that does not match the file.
    #[error(
        "hash mismatch for '{path}' ({declared_in}): {algorithm} is {actual}, the package declares {expected}"
    )]
    HashMismatch {
        /// The artifact.
        path: String,
        /// Where the digest is declared (`manifest.mf:12`).
        declared_in: String,
        /// The algorithm.
        algorithm: String,
        /// The declared digest.
        expected: String,
        /// The computed digest.
        actual: String,
    },
    /// A file is not UTF-8 text where text is required.
    #[error("'{path}' is not UTF-8 text (byte {offset})")]
    NotUtf8 {
        /// The file.
        path: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A signature that does not hold, or a package that lacks one its tenant's policy
    /// requires.
    #[error("signature check of '{file}' failed: {reason}")]
    Signature {
        /// The file whose signature is refused (the manifest, an artifact).
        file: String,
        /// Why.
        reason: String,
    },
    /// Reading an entry failed.
    #[error("cannot read '{entry}': {message}")]
    Io {
        /// The entry.
        entry: String,
        /// What went wrong.
        message: String,
    },
}

impl CsarError {
    pub(crate) fn syntax(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self::Syntax {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl From<CsarError> for crate::Error {
    fn from(error: CsarError) -> Self {
        match error {
            CsarError::Io { .. } => crate::Error::Internal(error.to_string()),
            other => crate::Error::Unprocessable(other.to_string()),
        }
    }
}
