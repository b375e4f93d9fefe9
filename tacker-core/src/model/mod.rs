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

/// Names of request parameters that hold secrets (for example the SSH credentials of
/// `k8s_cluster_installation_param`): [`redact_credentials`] drops them from
/// `operationParams`.
pub const SECRET_PARAMETERS: &[&str] = &[
    "password",
    "private_key",
    "privateKey",
    "bearer_token",
    "client_secret",
    "clientSecret",
];

/// Drops every credential from a serialized resource: the `accessInfo` of each
/// `vimConnectionInfo` entry, wherever the entries sit, and the [`SECRET_PARAMETERS`]
/// anywhere under `operationParams`. What the ETSI APIs show, and what their filters
/// see, has been through it.
pub fn redact_credentials(value: &mut serde_json::Value) {
    use serde_json::Value;
    fn drop_secrets(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|key, _| !SECRET_PARAMETERS.contains(&key.as_str()));
                map.values_mut().for_each(drop_secrets);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_secrets),
            _ => {}
        }
    }
    match value {
        Value::Object(map) => {
            if let Some(params) = map.get_mut("operationParams") {
                drop_secrets(params);
            }
            if let Some(Value::Object(entries)) = map.get_mut("vimConnectionInfo") {
                for entry in entries.values_mut() {
                    if let Value::Object(entry) = entry {
                        entry.remove("accessInfo");
                    }
                }
            }
            for (key, inner) in map.iter_mut() {
                if key != "vimConnectionInfo" {
                    redact_credentials(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_credentials),
        _ => {}
    }
}

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
