//! Tacker-style user-data classes: packages written for Tacker's v2 OpenStack driver
//! name, in the request's `additionalParams`, a Python file of the package
//! (`lcm-operation-user-data`) and a class in it (`lcm-operation-user-data-class`)
//! whose static methods (`instantiate`, `scale`, `scale_rollback`, `heal`, …) compute
//! the stack's top template, nested files and `nfv` parameter from the request, the
//! instance, the grant request and the grant.
//!
//! The class runs in the [`tacker_sandbox`] sandbox: a read-only copy of the package
//! (without `Files/images`), no network, time and memory limits. The sandbox's Python
//! brings the helper modules such classes import (`tacker.sol_refactored…`), e.g. a
//! virtual environment with Tacker's published distribution (`scripts/tacker-userdata.sh
//! venv`). The instance the class sees carries no VIM credentials.
//!
//! Packages without the two parameters keep the driver's native `nfv` parameter.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tacker_core::infra::InfraContext;
use tacker_core::model::{KeyValuePairs, VnfInstance, without_access_info};
use tacker_core::package::PackageFiles;
use tacker_core::{Error, Result};
use tacker_sandbox::{JOB_DIR, Job, Sandbox, SandboxError, last_chars};

use crate::DRIVER;

/// `additionalParams` key: the package's Python file with the user-data class.
pub const USER_DATA: &str = "lcm-operation-user-data";
/// `additionalParams` key: the class's name.
pub const USER_DATA_CLASS: &str = "lcm-operation-user-data-class";

const RUNNER: &str = include_str!("userdata/runner.py");
/// Package folders not copied for the class (software images are large and unused).
const NOT_COPIED: &str = "Files/images/";
/// How much of the class's stderr an error quotes.
const QUOTED_STDERR: usize = 2048;

/// A package's user-data class, as a request (or the instance's record) names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDataClass {
    /// The Python file, relative to the package root (`./UserData/userdata.py`).
    pub path: String,
    /// The class in it.
    pub class: String,
}

impl UserDataClass {
    /// The class `params` (the `additionalParams` at `field`) name: `None` when they name
    /// none; an error naming the field when only one key is given or a value is not a
    /// plain relative Python path or class name.
    pub fn from_params(params: &KeyValuePairs, field: &str) -> Result<Option<Self>> {
        let given = |key: &str| params.get(key).filter(|v| !v.is_null());
        let (path, class) = match (given(USER_DATA), given(USER_DATA_CLASS)) {
            (None, None) => return Ok(None),
            (Some(Value::String(path)), Some(Value::String(class))) => (path, class),
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::InvalidRequest(format!(
                    "{field}.{USER_DATA} and {field}.{USER_DATA_CLASS} go together: the request \
                     gives only one"
                )));
            }
            _ => {
                return Err(Error::InvalidRequest(format!(
                    "{field}.{USER_DATA} and {field}.{USER_DATA_CLASS} must be strings"
                )));
            }
        };
        if normal_path(path).is_none() {
            return Err(Error::InvalidRequest(format!(
                "{field}.{USER_DATA} {path:?} must be the relative path of a .py file in the VNF \
                 package"
            )));
        }
        let identifier = class
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && class.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(Error::InvalidRequest(format!(
                "{field}.{USER_DATA_CLASS} {class:?} is not a Python class name"
            )));
        }
        Ok(Some(Self {
            path: path.clone(),
            class: class.clone(),
        }))
    }

    /// The class `params` name, else the one recorded in the instance at instantiation.
    pub fn of(instance: &VnfInstance, params: &KeyValuePairs, field: &str) -> Result<Option<Self>> {
        match Self::from_params(params, field)? {
            Some(named) => Ok(Some(named)),
            None => Self::recorded(instance),
        }
    }

    /// The class recorded in an instantiated `instance`'s metadata.
    pub fn recorded(instance: &VnfInstance) -> Result<Option<Self>> {
        if instance.instantiated_vnf_info.is_none() {
            return Ok(None);
        }
        Self::from_params(&instance.metadata, "metadata")
    }

    /// The path inside the package, normalised (`UserData/userdata.py`).
    pub fn package_path(&self) -> String {
        normal_path(&self.path).unwrap_or_default()
    }

    /// The metadata that records the class in the instance.
    pub fn metadata(&self) -> KeyValuePairs {
        let mut metadata = KeyValuePairs::new();
        metadata.insert(USER_DATA.into(), json!(self.path));
        metadata.insert(USER_DATA_CLASS.into(), json!(self.class));
        metadata
    }
}

/// `path` without `./` and empty segments, when it is a relative `.py` path that stays
/// inside the package.
fn normal_path(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    (!path.starts_with('/') && joined.ends_with(".py") && !joined.contains('\\')).then_some(joined)
}

/// What a class method returned.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// The top template (parsed), or the part of it to merge into the stack's.
    pub template: Option<Value>,
    /// Stack parameters (`nfv`).
    pub parameters: Map<String, Value>,
    /// Nested templates (name → text).
    pub files: KeyValuePairs,
    /// `false`: the fields replace the stack; else they merge into it.
    pub existing: bool,
}

/// One call of a class method.
pub struct Call<'a> {
    /// The class.
    pub class: &'a UserDataClass,
    /// The method: `instantiate`, `scale`, `heal`, …
    pub operation: &'a str,
    /// Whether the `_rollback` variant is called.
    pub rollback: bool,
    /// The operation's request, as the API received it.
    pub request: Value,
    /// The package whose files the class reads.
    pub package: &'a dyn PackageFiles,
}

/// Runs user-data classes in a sandbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UserDataRunner {
    sandbox: Arc<Sandbox>,
}

impl UserDataRunner {
    /// A runner over `sandbox`.
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Self { sandbox }
    }

    /// Calls `call` for the operation of `ctx`.
    pub async fn call(&self, ctx: &InfraContext<'_>, call: Call<'_>) -> Result<Fields> {
        let class = call.class;
        let method = format!(
            "{}.{}{}",
            class.class,
            call.operation,
            if call.rollback { "_rollback" } else { "" }
        );
        let Some(grant_request) = ctx.grant_request else {
            return Err(Error::driver(
                DRIVER,
                false,
                format!(
                    "user-data class {method} needs the operation's grant request, which the call lacks"
                ),
            ));
        };
        let paths = call.package.paths();
        let wanted = class.package_path();
        if !paths.contains(&wanted) {
            return Err(Error::Unprocessable(format!(
                "the VNF package has no {} ({USER_DATA})",
                class.path
            )));
        }
        let sandbox_error = |error: SandboxError| {
            Error::driver(DRIVER, false, format!("user-data class {method}: {error}"))
        };
        let scratch = self.sandbox.scratch().await.map_err(sandbox_error)?;
        scratch
            .write("runner.py", RUNNER.as_bytes())
            .await
            .map_err(sandbox_error)?;
        for path in paths.iter().filter(|p| !p.starts_with(NOT_COPIED)) {
            // Streamed: a package's other artifacts may be large.
            scratch
                .write_stream(&format!("csar/{path}"), call.package.stream(path).await?)
                .await
                .map_err(sandbox_error)?;
        }
        let mut instance =
            without_access_info(serde_json::to_value(ctx.vnf_instance).unwrap_or_default());
        // Classes read what the stack was given back from `instantiatedVnfInfo.metadata`
        // (Tacker's place for it); this VNFM keeps it in the instance's metadata.
        if let Some(info) = instance
            .get_mut("instantiatedVnfInfo")
            .and_then(Value::as_object_mut)
        {
            let mut recorded = Map::new();
            if let Some(nfv) = ctx.vnf_instance.metadata.get("nfv") {
                recorded.insert("nfv".into(), nfv.clone());
            }
            if let Some(id) = ctx.vnf_instance.metadata.get("stackId") {
                recorded.insert("stack_id".into(), id.clone());
            }
            info.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(Value::Object(metadata)) = info.get_mut("metadata") {
                metadata.extend(recorded);
            }
        }
        let grant = ctx
            .grant
            .map(|g| without_access_info(serde_json::to_value(g).unwrap_or_default()))
            .unwrap_or_else(|| json!({}));
        let mut grant_request = serde_json::to_value(grant_request).unwrap_or_default();
        if let Some(map) = grant_request.as_object_mut() {
            for key in ["addResources", "removeResources", "updateResources"] {
                map.entry(key).or_insert_with(|| json!([]));
            }
            // Tacker grants a heal or a change of package as the VNFCs removed (and
            // added again), and classes look for them there; this VNFM grants them as
            // updated.
            if matches!(call.operation, "heal" | "change_vnfpkg")
                && map
                    .get("removeResources")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                && let Some(updated) = map.get("updateResources").cloned()
            {
                map.insert("removeResources".into(), updated);
            }
        }
        let input = json!({
            "operation": call.operation,
            "isRollback": call.rollback,
            "userData": class.path,
            "userDataClass": class.class,
            "request": call.request,
            "vnfInstance": instance,
            "grantRequest": grant_request,
            "grant": grant,
            "csarDir": format!("{JOB_DIR}/csar"),
        });
        let output = self
            .sandbox
            .run(&Job::python(&scratch, "runner.py").stdin(input.to_string().into_bytes()))
            .await
            .map_err(|error| match error {
                SandboxError::Failed { status, stderr } => Error::driver(
                    DRIVER,
                    false,
                    format!(
                        "user-data class {method} failed ({status}): {}",
                        last_chars(stderr.trim(), QUOTED_STDERR)
                    ),
                ),
                // A slow or busy host may let the next attempt finish.
                SandboxError::TimedOut { limit, .. } => Error::driver(
                    DRIVER,
                    true,
                    format!("user-data class {method} did not finish within {limit:?}"),
                ),
                other => sandbox_error(other),
            })?;
        tracing::debug!(%method, elapsed = ?output.elapsed, "user-data class called");
        parse_fields(&output.stdout)
            .map_err(|why| Error::driver(DRIVER, false, format!("user-data class {method} {why}")))
    }
}

/// The fields of a method's JSON answer.
pub fn parse_fields(stdout: &[u8]) -> std::result::Result<Fields, String> {
    let answer: Value =
        serde_json::from_slice(stdout).map_err(|e| format!("returned no JSON object: {e}"))?;
    let Value::Object(mut answer) = answer else {
        return Err("returned no dict".into());
    };
    let template = match answer.remove("template") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            tacker_core::vnfd::yaml::from_str::<Value>(&text)
                .map_err(|e| format!("returned a template that is not YAML: {e}"))?,
        ),
        Some(object @ Value::Object(_)) => Some(object),
        Some(_) => return Err("returned a template that is neither text nor a dict".into()),
    };
    let parameters = match answer.remove("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(parameters)) => parameters,
        Some(_) => return Err("returned parameters that are not a dict".into()),
    };
    let mut files = KeyValuePairs::new();
    match answer.remove("files") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (name, content) in given {
                let text = match content {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                files.insert(name, Value::String(text));
            }
        }
        Some(_) => return Err("returned files that are not a dict".into()),
    }
    let existing = answer
        .remove("existing")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    Ok(Fields {
        template,
        parameters,
        files,
        existing,
    })
}

/// RFC 7396: `patch` merged into `target` (`null` removes a member).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, Value)]) -> KeyValuePairs {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn the_two_keys_go_together_and_stay_in_the_package() {
        let none = UserDataClass::from_params(&KeyValuePairs::new(), "additionalParams");
        assert_eq!(none.expect("no class"), None);
        let one = params(&[(USER_DATA, json!("./UserData/u.py"))]);
        let error = UserDataClass::from_params(&one, "additionalParams").expect_err("one key");
        assert!(error.to_string().contains("go together"), "{error}");
        for bad in ["../x.py", "/etc/x.py", "UserData/u.txt", "a/../../b.py"] {
            let given = params(&[(USER_DATA, json!(bad)), (USER_DATA_CLASS, json!("C"))]);
            let error = UserDataClass::from_params(&given, "additionalParams").expect_err(bad);
            assert!(
                error
                    .to_string()
                    .contains("additionalParams.lcm-operation-user-data"),
                "{error}"
            );
        }
        let bad_class = params(&[
            (USER_DATA, json!("./u.py")),
            (USER_DATA_CLASS, json!("a.b")),
        ]);
        assert!(UserDataClass::from_params(&bad_class, "additionalParams").is_err());
        let good = params(&[
            (USER_DATA, json!("./UserData/userdata_standard.py")),
            (USER_DATA_CLASS, json!("StandardUserData")),
        ]);
        let class = UserDataClass::from_params(&good, "additionalParams")
            .expect("valid")
            .expect("named");
        assert_eq!(class.package_path(), "UserData/userdata_standard.py");
    }

    #[test]
    fn fields_parse_and_merge_as_json_merge_patches() {
        let fields = parse_fields(
            br#"{"template": "resources:\n  VDU1-0: {type: VDU1.yaml}\n", "parameters": {"nfv": {"VDU": {}}}, "files": {"VDU1.yaml": "x: 1"}}"#,
        )
        .expect("fields");
        assert!(fields.existing);
        assert_eq!(
            fields.template,
            Some(json!({"resources": {"VDU1-0": {"type": "VDU1.yaml"}}}))
        );
        assert_eq!(fields.files["VDU1.yaml"], json!("x: 1"));
        let mut template = json!({"resources": {"VDU1-0": {"type": "a"}, "VDU1-1": {"type": "a"}}});
        merge_patch(
            &mut template,
            &json!({"resources": {"VDU1-1": null, "VDU2-0": {"type": "b"}}}),
        );
        assert_eq!(
            template,
            json!({"resources": {"VDU1-0": {"type": "a"}, "VDU2-0": {"type": "b"}}})
        );
        assert!(parse_fields(b"[1]").is_err());
        assert!(parse_fields(br#"{"template": 3}"#).is_err());
    }
}
