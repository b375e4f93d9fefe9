//! The ETSI NFV data types (SOL002/SOL003 v3.x VNF LCM and granting, SOL005 v3.x VNF
//! package management), as plain serde structs.
//!
//! Type and field names follow the ETSI documents; the JSON is exactly theirs
//! (camelCase, `_links`). Required attributes are plain fields, optional ones are
//! `Option`, and optional lists and maps are empty when absent. Enums carry the ETSI
//! spellings. `tests/etsi_schema.rs` checks every type against the ETSI OpenAPI schemas.

mod common;
mod coordination;
mod fm;
mod grant;
mod instance;
mod lccn;
mod opocc;
mod package;
mod requests;

pub use common::*;
pub use coordination::*;
pub use fm::*;
pub use grant::*;
pub use instance::*;
pub use lccn::*;
pub use opocc::*;
pub use package::*;
pub use requests::*;

/// `value` (a serialized instance or grant) without the VIMs' `accessInfo`: for code
/// the VNFM does not trust with credentials, such as a package's scripts.
pub fn without_access_info(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(vims) = value
        .get_mut("vimConnectionInfo")
        .and_then(serde_json::Value::as_object_mut)
    {
        for vim in vims.values_mut() {
            if let Some(vim) = vim.as_object_mut() {
                vim.remove("accessInfo");
            }
        }
    }
    value
}
