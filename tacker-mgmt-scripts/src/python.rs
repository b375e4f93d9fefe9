//! Tacker v2's LCM scripts.
//!
//! A Tacker v2 package binds a hook to a Python artifact:
//!
//! ```yaml
//! interfaces:
//!   Vnflcm:
//!     instantiate_end:
//!       implementation: sample-script
//! artifacts:
//!   sample-script:
//!     type: tosca.artifacts.Implementation.Python
//!     file: ../Scripts/sample_script.py
//! ```
//!
//! The driver runs the file as Tacker does: `python3 <script>` with a pickled dict on
//! stdin holding `operation` (the hook: `instantiate_start`, `scale_end`,
//! `modify_information_start`, `change_current_package_end`, …), `request` (the
//! operation's request), `vnf_instance` (the instance, SOL003 v2 shape, without VIM
//! credentials), `grant_request`, `grant_response` (without VIM credentials),
//! `tmp_csar_dir` (a read-only copy of the package) and `user_script_err_handling_data`
//! (what the script recorded when this operation last failed, else `{}`). A non-zero
//! exit fails the hook with the end of its stderr. On stdout the script may print a
//! pickled dict: `user_script_err_handling_data` is given to the scripts after it in
//! the operation and, when it fails, kept (in the operation's error as
//! `userScriptErrHandlingData`, and given back to the scripts on retry), and from
//! `vnf_instance` the changes to `vnfConfigurableProperties`, `metadata` and
//! `extensions` are applied to the instance when the operation completes; changes to
//! anything else (resources, VIMs) are ignored with a warning, since those belong to the
//! infrastructure driver.
//!
//! Unlike Tacker, the script runs in the sandbox: the pickles are made and read by a
//! small runner inside it (the VNFM exchanges JSON with the runner and never unpickles
//! anything), `/tmp` is private and empty, the network is off unless the operator
//! chose [`ScriptNetwork::Shared`], and the run is stopped at the sandbox's time and
//! memory limits. `new_csar_dir` (the new package of a change of package) is not given.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use tacker_core::mgmt::{HookFailure, MgmtContext, MgmtDriver, MgmtOutcome, MgmtRequestContext};
use tacker_core::model::{KeyValuePairs, without_access_info};
use tacker_core::{Error, Result};
use tacker_sandbox::{JOB_DIR, Job, Network, Sandbox, SandboxError};

use crate::{CSAR, bound_file, copy_package, last_chars, retryable};

/// The runner that speaks pickle with the script inside the sandbox.
const RUNNER: &str = include_str!("runner.py");

/// How much of a failed script's stderr goes into the error.
const QUOTED_STDERR: usize = 2000;

/// Whether the scripts may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScriptNetwork {
    /// No network at all (the default): scripts that only compute or check.
    #[default]
    None,
    /// The VNFM host's network: scripts that configure the VNFCs over the network.
    /// The outbound policy does not apply inside the sandbox; choose it only where the
    /// host's own firewall confines what the VNFM's host may reach.
    Shared,
}

/// Runs the Python scripts of Tacker v2 packages (see the module documentation).
#[derive(Debug, Clone)]
pub struct PythonScriptMgmtDriver {
    name: String,
    sandbox: Arc<Sandbox>,
    network: ScriptNetwork,
}

impl PythonScriptMgmtDriver {
    /// Runs the hooks bound to the artifact `name` (an artifact name such as Tacker's
    /// `sample-script`, or a file name), in `sandbox` (whose interpreter runs the
    /// scripts).
    pub fn new(name: impl Into<String>, sandbox: Arc<Sandbox>) -> Self {
        Self {
            name: name.into(),
            sandbox,
            network: ScriptNetwork::None,
        }
    }

    /// With network access for the scripts.
    #[must_use]
    pub fn network(mut self, network: ScriptNetwork) -> Self {
        self.network = network;
        self
    }

    fn error(&self, retryable: bool, message: String, data: KeyValuePairs) -> Error {
        Error::driver(self.name.clone(), retryable, HookFailure { message, data })
    }
}

#[async_trait]
impl MgmtDriver for PythonScriptMgmtDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn validate_request(&self, ctx: &MgmtRequestContext<'_>) -> Result<()> {
        bound_file(&ctx.hook.sol001_name(), ctx.binding, ctx.package, "script").map(|_| ())
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        let hook = ctx.hook.sol001_name();
        let script = bound_file(&hook, ctx.binding, ctx.package, "script")?;
        let sandbox_error = |error: SandboxError| {
            let retry = retryable(&error);
            self.error(
                retry,
                format!("{hook} ({script}): {error}"),
                KeyValuePairs::new(),
            )
        };
        let scratch = self.sandbox.scratch().await.map_err(sandbox_error)?;
        scratch
            .write("runner.py", RUNNER.as_bytes())
            .await
            .map_err(sandbox_error)?;
        copy_package(ctx.package, &scratch).await?;

        let instance =
            without_access_info(serde_json::to_value(ctx.vnf_instance).unwrap_or_default());
        let input = json!({
            "operation": hook,
            "request": ctx.op_occ.operation_params.clone().unwrap_or_else(|| json!({})),
            "vnf_instance": instance,
            "grant_request": ctx.grant_request.map(|g| serde_json::to_value(g).unwrap_or_default()),
            "grant_response": ctx.grant.map(|g| without_access_info(serde_json::to_value(g).unwrap_or_default())),
            "tmp_csar_dir": format!("{JOB_DIR}/{CSAR}"),
            "user_script_err_handling_data": ctx.hook_data.cloned().unwrap_or_default(),
        });
        let call = json!({
            "script": format!("{JOB_DIR}/{CSAR}/{script}"),
            "input": input,
        });
        let network = match self.network {
            ScriptNetwork::None => Network::None,
            ScriptNetwork::Shared => Network::Shared,
        };
        tracing::info!(driver = %self.name, %hook, %script, instance = %ctx.vnf_instance.id, "running the package's LCM script");
        let job = Job::python(&scratch, "runner.py")
            .stdin(call.to_string().into_bytes())
            .network(network);
        let output = tokio::select! {
            output = self.sandbox.run(&job) => output.map_err(sandbox_error)?,
            () = ctx.cancel.cancelled() => {
                return Err(Error::Cancelled(format!("{hook} ({script}) was cancelled")));
            }
        };
        let answer: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
            self.error(
                false,
                format!("{hook} ({script}): the script's runner gave no answer ({e})"),
                KeyValuePairs::new(),
            )
        })?;
        let data = match answer.get("user_script_err_handling_data") {
            Some(Value::Object(map)) => map.clone().into_iter().collect(),
            _ => KeyValuePairs::new(),
        };
        let code = answer
            .get("returncode")
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        if code != 0 {
            let stderr = output.stderr.trim();
            let mut data = data;
            if let Some(before) = ctx.hook_data {
                for (key, value) in before {
                    data.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
            return Err(self.error(
                false,
                format!(
                    "{hook} failed ({script} exited with {code}){}",
                    if stderr.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", last_chars(stderr, QUOTED_STDERR))
                    }
                ),
                data,
            ));
        }
        tracing::debug!(%hook, elapsed = ?output.elapsed, "LCM script finished");
        let mut outcome = match answer.get("vnf_instance") {
            Some(Value::Object(updated)) => self.changes(ctx, &hook, updated),
            _ => MgmtOutcome::new(),
        };
        // Tacker hands the dict a script updated to the scripts after it.
        outcome.hook_data = data;
        Ok(outcome)
    }
}

impl PythonScriptMgmtDriver {
    /// The instance changes a script returned, as an outcome.
    fn changes(
        &self,
        ctx: &MgmtContext<'_>,
        hook: &str,
        updated: &Map<String, Value>,
    ) -> MgmtOutcome {
        let before = serde_json::to_value(ctx.vnf_instance).unwrap_or_default();
        let mut outcome = MgmtOutcome::new();
        for (key, value) in updated {
            if before.get(key) == Some(value) {
                continue;
            }
            let target = match key.as_str() {
                "vnfConfigurableProperties" => &mut outcome.vnf_configurable_properties,
                "metadata" => &mut outcome.metadata,
                "extensions" => &mut outcome.extensions,
                _ => {
                    tracing::warn!(driver = %self.name, %hook, field = %key, "an LCM script changed an instance field that is not its to change; ignored");
                    continue;
                }
            };
            *target = diff(before.get(key), value);
        }
        outcome
    }
}

/// The merge entries that turn the map `old` into `new` (`null` for removed keys).
fn diff(old: Option<&Value>, new: &Value) -> KeyValuePairs {
    let empty = Map::new();
    let old = old.and_then(Value::as_object).unwrap_or(&empty);
    let Some(new) = new.as_object() else {
        return KeyValuePairs::new();
    };
    let mut entries = KeyValuePairs::new();
    for (key, value) in new {
        if old.get(key) != Some(value) {
            entries.insert(key.clone(), value.clone());
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            entries.insert(key.clone(), Value::Null);
        }
    }
    entries
}
