//! The sizes a client may send, checked on every JSON body before it is read into a
//! request type: bounded input keeps stored resources, list answers and the memory of
//! the server bounded, and every store keeps what it accepted.
//!
//! | What | Limit | Answer |
//! |---|---|---|
//! | a JSON request body | [`MAX_JSON_BODY`] bytes | 413 |
//! | nesting of objects and arrays | [`MAX_DEPTH`] levels | 400 |
//! | an attribute named `…Name` (`vnfInstanceName`, `name`, …) | [`MAX_NAME_CHARS`] characters | 400 |
//! | an attribute named `…Description` | [`MAX_DESCRIPTION_CHARS`] characters | 400 |
//! | any other string | [`MAX_STRING_BYTES`] bytes | 400 |
//! | `metadata`, `extensions`, `vnfConfigurableProperties`, `additionalParams` and the other key-value attributes | [`MAX_KEY_VALUE_BYTES`] bytes of JSON each | 400 |
//! | the NUL character (U+0000), which PostgreSQL cannot store | never | 400 |
//!
//! Every refusal names the attribute by its path in the body (`metadata/a/b`).

use axum::http::StatusCode;
use serde_json::Value;

use super::sol013::{ApiError, ApiResult};

/// The largest JSON request body, in bytes (1 MiB).
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// The deepest nesting of objects and arrays in a body.
pub const MAX_DEPTH: usize = 32;
/// The longest name (`vnfInstanceName`, `name`, `vimName`, …), in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The longest description (`vnfInstanceDescription`, …), in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
/// The longest other string, in bytes (a certificate bundle or a kubeconfig fits).
pub const MAX_STRING_BYTES: usize = 64 * 1024;
/// The most JSON one key-value attribute (`metadata`, `extensions`,
/// `vnfConfigurableProperties`, `additionalParams`, …) may hold, in bytes.
pub const MAX_KEY_VALUE_BYTES: usize = 64 * 1024;

/// The attributes holding free-form key-value pairs, each bounded by
/// [`MAX_KEY_VALUE_BYTES`].
const KEY_VALUE_ATTRIBUTES: &[&str] = &[
    "metadata",
    "extensions",
    "vnfConfigurableProperties",
    "additionalParams",
    "userDefinedData",
    "interfaceInfo",
    "accessInfo",
    "extra",
];

/// Refuses a body larger than [`MAX_JSON_BODY`] with 413.
pub fn check_body_size(len: usize) -> ApiResult<()> {
    if len > MAX_JSON_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body: {len} bytes; a JSON body may have at most {MAX_JSON_BODY}"),
        ));
    }
    Ok(())
}

/// Whether a body may hold `null` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// `null` is refused as the value of an attribute or an array item (400 naming it),
    /// except inside the free-form key-value attributes (`metadata`,
    /// `additionalParams`, …). The ETSI documents declare no attribute `nullable`:
    /// `null` is a value of none of them. An absent optional attribute is left out.
    Refused,
    /// `null` reads as an absent attribute: JSON Merge Patch (IETF RFC 7396), where it
    /// means removal, and the APIs that are not ETSI's.
    Allowed,
}

/// Checks a parsed body against the limits of this module, in one walk.
pub fn check_value(value: &Value, nulls: Nulls) -> ApiResult<()> {
    let mut path = Vec::new();
    walk(value, &mut path, 0, nulls)
}

fn refuse(path: &[String], what: String) -> ApiError {
    let at = if path.is_empty() {
        "request body".to_owned()
    } else {
        format!("request body: {}", path.join("/"))
    };
    ApiError::bad_request(format!("{at}: {what}"))
}

fn check_string(path: &[String], text: &str) -> ApiResult<()> {
    if text.contains('\0') {
        return Err(refuse(
            path,
            "contains the NUL character (U+0000), which cannot be stored".to_owned(),
        ));
    }
    let name = path.last().map(String::as_str).unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("name") {
        let chars = text.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(refuse(
                path,
                format!("{chars} characters; a name may have at most {MAX_NAME_CHARS}"),
            ));
        }
    } else if lower.ends_with("description") {
        let chars = text.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(refuse(
                path,
                format!(
                    "{chars} characters; a description may have at most {MAX_DESCRIPTION_CHARS}"
                ),
            ));
        }
    }
    if text.len() > MAX_STRING_BYTES {
        return Err(refuse(
            path,
            format!(
                "a string of {} bytes; a string may have at most {MAX_STRING_BYTES}",
                text.len()
            ),
        ));
    }
    Ok(())
}

fn walk(value: &Value, path: &mut Vec<String>, depth: usize, nulls: Nulls) -> ApiResult<()> {
    match value {
        Value::String(text) => check_string(path, text),
        Value::Null if nulls == Nulls::Refused && !path.is_empty() => Err(refuse(
            path,
            "null is not a value of this attribute; leave an absent attribute out".to_owned(),
        )),
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => Err(refuse(
            path,
            format!("nested deeper than {MAX_DEPTH} levels"),
        )),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                walk(item, path, depth + 1, nulls)?;
                path.pop();
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(key.clone());
                check_key(path, key)?;
                let mut inner = nulls;
                if is_key_value(key) && !item.is_null() {
                    let size = serde_json::to_vec(item).map_or(usize::MAX, |json| json.len());
                    if size > MAX_KEY_VALUE_BYTES {
                        return Err(refuse(
                            path,
                            format!(
                                "{size} bytes of JSON; {key} may hold at most {MAX_KEY_VALUE_BYTES}"
                            ),
                        ));
                    }
                    // Free-form pairs: any JSON below, null included.
                    inner = Nulls::Allowed;
                }
                walk(item, path, depth + 1, inner)?;
                path.pop();
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Whether the attribute `key` holds free-form key-value pairs, whose values may be
/// any JSON (`null` included).
fn is_key_value(key: &str) -> bool {
    KEY_VALUE_ATTRIBUTES.contains(&key) || key.ends_with("ConfigurableProperties")
}

fn check_key(path: &[String], key: &str) -> ApiResult<()> {
    if key.contains('\0') {
        return Err(refuse(
            path,
            "the attribute name contains the NUL character (U+0000)".to_owned(),
        ));
    }
    if key.len() > MAX_NAME_CHARS * 4 {
        return Err(refuse(
            &path[..path.len().saturating_sub(1)],
            format!(
                "an attribute name of {} bytes; names may have at most {}",
                key.len(),
                MAX_NAME_CHARS * 4
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(value: Value) -> String {
        check_value(&value, Nulls::Refused)
            .expect_err("refused")
            .detail()
            .to_owned()
    }

    #[test]
    fn names_descriptions_and_strings_are_bounded() {
        assert!(
            check_value(
                &json!({"vnfInstanceName": "a".repeat(MAX_NAME_CHARS)}),
                Nulls::Refused
            )
            .is_ok()
        );
        let detail = refused(json!({"vnfInstanceName": "a".repeat(MAX_NAME_CHARS + 1)}));
        assert!(detail.contains("vnfInstanceName"), "{detail}");
        let detail = refused(json!({"vnfInstanceDescription": "d".repeat(2 * 1024 * 1024)}));
        assert!(detail.contains("vnfInstanceDescription"), "{detail}");
        let detail = refused(json!({"a": [{"certificate": "x".repeat(MAX_STRING_BYTES + 1)}]}));
        assert!(detail.contains("a/0/certificate"), "{detail}");
    }

    #[test]
    fn key_value_attributes_and_depth_are_bounded() {
        let big: serde_json::Map<String, Value> = (0..2000)
            .map(|i| (format!("key{i}"), json!("v".repeat(40))))
            .collect();
        let detail = refused(json!({"metadata": big}));
        assert!(detail.contains("metadata"), "{detail}");
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!({ "n": deep });
        }
        let detail = refused(deep);
        assert!(detail.contains("nested deeper"), "{detail}");
    }

    #[test]
    fn nul_is_refused_in_values_and_names() {
        let detail = refused(json!({"vnfInstanceName": "a\u{0}b"}));
        assert!(
            detail.contains("vnfInstanceName") && detail.contains("NUL"),
            "{detail}"
        );
        let detail = refused(json!({"metadata": {"k\u{0}": 1}}));
        assert!(detail.contains("NUL"), "{detail}");
    }
}
