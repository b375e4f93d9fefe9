//! The VNFD as the VNFM uses it: a resolved, typed view of an ETSI SOL001 TOSCA VNFD,
//! and the reader that builds it from a VNF package.

mod model;
pub mod yaml;

pub use model::*;
mod facts;
mod reader;
mod tosca;

pub use facts::{AspectFacts, FlavourFacts, PackageFacts};

pub use reader::{VnfdReport, parse_size, read_vnfd};
pub use tosca::ToscaModel;

/// Why a VNFD was refused: the file, the position and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct VnfdError {
    /// The template.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
    /// The rule broken.
    pub message: String,
}

impl VnfdError {
    /// An error at a position.
    pub fn new(file: &str, line: u64, column: u64, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error at a YAML node.
    pub fn at(file: &str, node: &yaml::Node, message: impl Into<String>) -> Self {
        Self::new(file, node.line, node.column, message)
    }
}

impl From<VnfdError> for crate::Error {
    fn from(error: VnfdError) -> Self {
        crate::Error::Unprocessable(error.to_string())
    }
}

/// Opens nothing itself: checks the digests of an opened package and reads its VNFD.
/// This is the whole validation a package goes through at onboarding.
pub fn validate(
    csar: &crate::csar::Csar,
    options: &crate::csar::CsarOptions,
) -> crate::Result<VnfdReport> {
    csar.verify_hashes(options)?;
    Ok(read_vnfd(csar, &options.missing_ok)?)
}
