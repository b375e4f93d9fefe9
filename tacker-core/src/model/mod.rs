//! The ETSI NFV data types (SOL002/SOL003 v3.x VNF LCM and granting, SOL005 v3.x VNF
//! package management), as plain serde structs.
//!
//! Type and field names follow the ETSI documents; the JSON is exactly theirs
//! (camelCase, `_links`). Required attributes are plain fields, optional ones are
//! `Option`, and optional lists and maps are empty when absent. Enums carry the ETSI
//! spellings. `tests/etsi_schema.rs` checks every type against the ETSI OpenAPI schemas.

mod common;
mod fm;
mod grant;
mod instance;
mod lccn;
mod opocc;
mod package;
mod requests;

pub use common::*;
pub use fm::*;
pub use grant::*;
pub use instance::*;
pub use lccn::*;
pub use opocc::*;
pub use package::*;
pub use requests::*;
