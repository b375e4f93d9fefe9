//! Helm charts of a VNF package.
//!
//! A chart is an artifact of the package (listed with a digest, like a manifest). The
//! driver renders it with a real `helm` binary (`helm template`, which needs no cluster
//! access and no credentials) and deploys the rendered objects as it deploys manifest
//! files: one namespace, every object labelled with the VNF instance, server-side
//! apply in dependency order, readiness by watches, removal of everything labelled.
//! The parameters are those of Tacker's Kubernetes drivers:
//! - v2: `helm_chart_path` (the chart), `helm_parameters` (values by their `--set`
//!   path) and `helm_value_names` (`{VDU: {replica: <value path>}}`, the value that
//!   holds each VDU's replica count), rendered as the release `vnf<instance id without
//!   dashes>`;
//! - v1: `using_helm_install_param`, a list of `{helmchartfile_path, helmreleasename,
//!   helmparameter: ["path=value", …], exthelmchart: false}`, one release each.
//!
//! A workload belongs to the VDU whose `name` it carries (charts name objects
//! `<vdu name>-<release>` or `<release>-<chart>`, so a name that starts with the VDU's
//! name and a dash counts, and names compare in lower case). Chart hooks and tests are
//! not rendered: the VNFM's own lifecycle hooks are the LCM hooks of the VNFD.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tacker_core::model::KeyValuePairs;
use tacker_core::package::PackageFiles;
use tacker_core::vnfd::DeploymentFlavour;
use tacker_core::{Error, Result};
use tokio::io::AsyncReadExt;

use crate::manifest::{ManifestObject, read_artifact};

/// The v2 parameter naming the chart.
pub const HELM_CHART_PATH_PARAM: &str = "helm_chart_path";
/// The v2 parameter holding the chart's values.
pub const HELM_PARAMETERS_PARAM: &str = "helm_parameters";
/// The v2 parameter mapping VDUs to the values that hold their replica counts.
pub const HELM_VALUE_NAMES_PARAM: &str = "helm_value_names";
/// The v1 parameter listing the releases to install.
pub const HELM_INSTALL_PARAM: &str = "using_helm_install_param";

/// The annotation that marks a chart hook (not rendered into the VNF).
const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// How the driver runs `helm`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HelmConfig {
    /// The `helm` v3 binary (default: `helm`, found on `PATH`).
    pub binary: PathBuf,
    /// How long one rendering may take.
    pub timeout: Duration,
    /// The most rendered YAML accepted from one chart, in bytes.
    pub max_output: usize,
}

impl Default for HelmConfig {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("helm"),
            timeout: Duration::from_secs(60),
            max_output: 16 << 20,
        }
    }
}

impl HelmConfig {
    /// `helm` at `binary`.
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = binary.into();
        self
    }

    /// Renderings bounded by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// One chart rendered as one release.
#[derive(Debug, Clone, PartialEq)]
struct ChartRelease {
    chart: String,
    release: String,
    /// Values by their `--set` path, in order.
    values: Vec<(String, Value)>,
}

/// The charts of a VNF and where its VDUs' replica counts go.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HelmSource {
    releases: Vec<ChartRelease>,
    /// VDU id → the value path of its replica count.
    replica_values: BTreeMap<String, String>,
    /// The parameters as given, recorded on the instance for later operations.
    params: KeyValuePairs,
}

fn invalid(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::InvalidRequest(format!("additionalParams.{what}: {detail}"))
}

/// A value path as `--set` reads it: names (which may hold a `/`, as label keys do),
/// dots and list indices only, so that no path can carry a second assignment.
fn check_path(what: &str, path: &str) -> Result<()> {
    let valid = !path.is_empty()
        && path.len() <= 256
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '[' | ']'))
        && !path.starts_with('.')
        && !path.ends_with('.');
    if valid {
        Ok(())
    } else {
        Err(invalid(
            what,
            format!("'{path}' is not a value path (letters, digits, _ - . / [ ] only)"),
        ))
    }
}

/// A release name Helm accepts: a DNS-1123 label of at most 53 characters.
fn check_release(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 53
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(invalid(
            HELM_INSTALL_PARAM,
            format!(
                "helmreleasename '{name}' is not a lower-case DNS label of at most 53 characters"
            ),
        ))
    }
}

fn string<'a>(what: &str, value: &'a Value) -> Result<&'a str> {
    value
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid(what, format!("must be a non-empty string, not {value}")))
}

impl HelmSource {
    /// The Helm source the parameters describe (an instantiate request's, or those an
    /// instance recorded); `None` when they name no chart.
    pub(crate) fn from_params(params: &KeyValuePairs, instance_id: &str) -> Result<Option<Self>> {
        let v2 = params.get(HELM_CHART_PATH_PARAM).filter(|v| !v.is_null());
        let v1 = params.get(HELM_INSTALL_PARAM).filter(|v| !v.is_null());
        let releases = match (v2, v1) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    HELM_CHART_PATH_PARAM,
                    format!("give it or {HELM_INSTALL_PARAM}, not both"),
                ));
            }
            (Some(chart), None) => {
                let chart = string(HELM_CHART_PATH_PARAM, chart)?.to_owned();
                let mut values = Vec::new();
                match params.get(HELM_PARAMETERS_PARAM) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(map)) => {
                        for (path, value) in map {
                            check_path(HELM_PARAMETERS_PARAM, path)?;
                            values.push((path.clone(), value.clone()));
                        }
                    }
                    Some(other) => {
                        return Err(invalid(
                            HELM_PARAMETERS_PARAM,
                            format!("must be an object of values, not {other}"),
                        ));
                    }
                }
                vec![ChartRelease {
                    chart,
                    release: format!("vnf{}", instance_id.replace('-', "")),
                    values,
                }]
            }
            (None, Some(Value::Array(entries))) if !entries.is_empty() => entries
                .iter()
                .map(Self::v1_release)
                .collect::<Result<Vec<_>>>()?,
            (None, Some(other)) => {
                return Err(invalid(
                    HELM_INSTALL_PARAM,
                    format!("must be a non-empty list of releases, not {other}"),
                ));
            }
        };
        let mut seen = std::collections::BTreeSet::new();
        for release in &releases {
            if !seen.insert(release.release.as_str()) {
                return Err(invalid(
                    HELM_INSTALL_PARAM,
                    format!("release {} is named twice", release.release),
                ));
            }
        }
        let mut replica_values = BTreeMap::new();
        match params.get(HELM_VALUE_NAMES_PARAM) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (vdu, names) in map {
                    let path = names
                        .get("replica")
                        .ok_or_else(|| {
                            invalid(HELM_VALUE_NAMES_PARAM, format!("{vdu} has no 'replica'"))
                        })
                        .and_then(|p| string(HELM_VALUE_NAMES_PARAM, p))?;
                    check_path(HELM_VALUE_NAMES_PARAM, path)?;
                    replica_values.insert(vdu.clone(), path.to_owned());
                }
            }
            Some(other) => {
                return Err(invalid(
                    HELM_VALUE_NAMES_PARAM,
                    format!("must map VDUs to {{\"replica\": <value path>}}, not {other}"),
                ));
            }
        }
        let recorded = [
            HELM_CHART_PATH_PARAM,
            HELM_PARAMETERS_PARAM,
            HELM_VALUE_NAMES_PARAM,
            HELM_INSTALL_PARAM,
        ]
        .into_iter()
        .filter_map(|key| Some((key.to_owned(), params.get(key)?.clone())))
        .collect();
        Ok(Some(Self {
            releases,
            replica_values,
            params: recorded,
        }))
    }

    fn v1_release(entry: &Value) -> Result<ChartRelease> {
        let what = HELM_INSTALL_PARAM;
        let external = match entry.get("exthelmchart") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(other) => return Err(invalid(what, format!("exthelmchart is {other}"))),
        };
        if external {
            return Err(Error::Unprocessable(format!(
                "additionalParams.{what}: charts from a Helm repository (exthelmchart) are not deployed by this VNFM; put the chart in the package and name it with helmchartfile_path"
            )));
        }
        let chart = string(
            what,
            entry.get("helmchartfile_path").unwrap_or(&Value::Null),
        )?
        .to_owned();
        let release = string(what, entry.get("helmreleasename").unwrap_or(&Value::Null))?;
        check_release(release)?;
        let mut values = Vec::new();
        match entry.get("helmparameter") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let text = string(what, item)?;
                    let (path, value) = text.split_once('=').ok_or_else(|| {
                        invalid(what, format!("helmparameter '{text}' is not path=value"))
                    })?;
                    check_path(what, path.trim())?;
                    // As `--set` reads it: numbers and booleans are typed, the rest text.
                    let value = serde_json::from_str::<Value>(value.trim())
                        .ok()
                        .filter(|v| v.is_number() || v.is_boolean())
                        .unwrap_or_else(|| Value::String(value.to_owned()));
                    values.push((path.trim().to_owned(), value));
                }
            }
            Some(other) => {
                return Err(invalid(
                    what,
                    format!("helmparameter must be a list of path=value, not {other}"),
                ));
            }
        }
        Ok(ChartRelease {
            chart,
            release: release.to_owned(),
            values,
        })
    }

    /// The parameters to record on the instance.
    pub(crate) fn recorded(&self) -> &KeyValuePairs {
        &self.params
    }

    /// Checks the VDUs of `helm_value_names` against the flavour.
    pub(crate) fn check_vdus(&self, flavour: &DeploymentFlavour) -> Result<()> {
        for vdu in self.replica_values.keys() {
            if flavour.vdu(vdu).is_none() {
                return Err(Error::Unprocessable(format!(
                    "additionalParams.{HELM_VALUE_NAMES_PARAM} names {vdu}, which is not a VDU of flavour {}",
                    flavour.id
                )));
            }
        }
        Ok(())
    }
}

/// A private scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("tacker-helm-{}", uuid::Uuid::new_v4()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| Error::Internal(format!("creating {}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Renders every release of `source` for `namespace`, each VDU of `replicas` with its
/// count in its replica value, and returns the objects (hooks and chart tests left out).
pub(crate) async fn render(
    config: &HelmConfig,
    package: &dyn PackageFiles,
    source: &HelmSource,
    namespace: &str,
    replicas: &BTreeMap<String, u32>,
) -> Result<Vec<ManifestObject>> {
    let scratch = Scratch::new()?;
    let mut objects = Vec::new();
    for (index, release) in source.releases.iter().enumerate() {
        let bytes = read_artifact(package, &release.chart, HELM_CHART_PATH_PARAM).await?;
        let chart_file = scratch.0.join(format!("chart-{index}.tgz"));
        tokio::fs::write(&chart_file, &bytes)
            .await
            .map_err(|e| Error::Internal(format!("writing {}: {e}", chart_file.display())))?;
        let mut values = release.values.clone();
        for (vdu, path) in &source.replica_values {
            if let Some(count) = replicas.get(vdu) {
                values.push((path.clone(), json!(count)));
            }
        }
        let text = run_template(config, &scratch.0, &chart_file, release, namespace, &values)
            .await
            .map_err(|e| match e {
                Error::Unprocessable(message) => Error::Unprocessable(format!(
                    "rendering chart {} as release {}: {message}",
                    release.chart, release.release
                )),
                other => other,
            })?;
        let documents: Vec<Value> =
            serde_saphyr::from_multiple_with_options(&text, crate::manifest::yaml_options())
                .map_err(|e| {
                    Error::Unprocessable(format!(
                        "chart {} rendered YAML that does not parse: {e}",
                        release.chart
                    ))
                })?;
        for value in documents {
            if value.is_null() || value["metadata"]["annotations"][HOOK_ANNOTATION].is_string() {
                continue;
            }
            let object = ManifestObject {
                file: release.chart.clone(),
                value,
            };
            if object.api_version().is_empty()
                || object.kind().is_empty()
                || object.name().is_empty()
            {
                return Err(Error::Unprocessable(format!(
                    "chart {} rendered an object without apiVersion, kind or metadata.name",
                    release.chart
                )));
            }
            objects.push(object);
        }
    }
    if objects.is_empty() {
        return Err(Error::Unprocessable(
            "the charts rendered no Kubernetes object".to_owned(),
        ));
    }
    Ok(objects)
}

/// `helm template` of one release, its standard output bounded by the configuration.
async fn run_template(
    config: &HelmConfig,
    scratch: &Path,
    chart_file: &Path,
    release: &ChartRelease,
    namespace: &str,
    values: &[(String, Value)],
) -> Result<String> {
    let mut command = tokio::process::Command::new(&config.binary);
    command
        .arg("template")
        .arg(&release.release)
        .arg(chart_file)
        .arg("--namespace")
        .arg(namespace)
        .arg("--skip-tests");
    for (path, value) in values {
        command.arg("--set-json").arg(format!("{path}={value}"));
    }
    // Helm keeps caches and configuration under these; none is shared with anyone.
    command
        .env_clear()
        .env("HOME", scratch)
        .env("HELM_CACHE_HOME", scratch.join("cache"))
        .env("HELM_CONFIG_HOME", scratch.join("config"))
        .env("HELM_DATA_HOME", scratch.join("data"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| {
        Error::Unprocessable(format!(
            "the helm binary {} cannot run ({e}); the VNFM renders charts with helm v3",
            config.binary.display()
        ))
    })?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::Internal(
            "helm's output pipes are missing".to_owned(),
        ));
    };
    let limit = config.max_output;
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut bounded_out =
            (&mut stdout).take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1));
        let mut bounded_err = (&mut stderr).take(64 << 10);
        let read_out = bounded_out.read_to_end(&mut out);
        let read_err = bounded_err.read_to_end(&mut err);
        let (read_out, read_err) = tokio::join!(read_out, read_err);
        read_out.map_err(|e| Error::Internal(format!("reading helm's output: {e}")))?;
        read_err.map_err(|e| Error::Internal(format!("reading helm's errors: {e}")))?;
        if out.len() > limit {
            return Err(Error::Unprocessable(format!(
                "the chart renders more than {limit} bytes of YAML"
            )));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| Error::Internal(format!("waiting for helm: {e}")))?;
        Ok((status, out, err))
    };
    let (status, out, err) = tokio::time::timeout(config.timeout, work)
        .await
        .map_err(|_| {
            Error::Unprocessable(format!(
                "helm template did not finish within {:?}",
                config.timeout
            ))
        })??;
    if !status.success() {
        let message = String::from_utf8_lossy(&err);
        let message: String = message.trim().chars().take(2000).collect();
        return Err(Error::Unprocessable(format!(
            "helm template failed ({status}): {message}"
        )));
    }
    String::from_utf8(out)
        .map_err(|_| Error::Unprocessable("helm rendered text that is not UTF-8".to_owned()))
}

/// Whether `workload` (a workload's name) is VDU `vdu_name`'s under the Helm naming:
/// the name itself in lower case, or it followed by a dash and more.
pub(crate) fn helm_name_matches(vdu_name: &str, workload: &str) -> bool {
    let vdu = vdu_name.to_ascii_lowercase();
    workload == vdu
        || workload
            .strip_prefix(vdu.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(value: Value) -> KeyValuePairs {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn v2_and_v1_parameters_are_read_and_checked() {
        let id = "0a1b2c3d-0000-4000-8000-000000000001";
        let v2 = HelmSource::from_params(
            &params(json!({
                "helm_chart_path": "Files/kubernetes/test-chart-0.1.0.tgz",
                "helm_parameters": {"service.port": 8081, "image.tag": "1.25"},
                "helm_value_names": {"VDU1": {"replica": "replicaCountVdu1"}},
                "namespace": "cnf"
            })),
            id,
        )
        .expect("valid")
        .expect("a chart");
        assert_eq!(v2.releases.len(), 1);
        assert_eq!(
            v2.releases[0].release,
            "vnf0a1b2c3d000040008000000000000001"
        );
        assert_eq!(v2.replica_values["VDU1"], "replicaCountVdu1");
        assert!(!v2.recorded().contains_key("namespace"));

        let v1 = HelmSource::from_params(
            &params(json!({"using_helm_install_param": [
                {"exthelmchart": "false", "helmchartfile_path": "Files/kubernetes/localhelm-0.1.0.tgz",
                 "helmreleasename": "vdu1", "helmparameter": ["service.port=8081", "name=web,x=1"]},
                {"exthelmchart": false, "helmchartfile_path": "Files/kubernetes/localhelm-0.1.0.tgz",
                 "helmreleasename": "vdu2"}
            ]})),
            id,
        )
        .expect("valid")
        .expect("charts");
        assert_eq!(v1.releases.len(), 2);
        assert_eq!(
            v1.releases[0].values[0],
            ("service.port".into(), json!(8081))
        );
        // A value with a comma stays one text value: it cannot add an assignment.
        assert_eq!(v1.releases[0].values[1], ("name".into(), json!("web,x=1")));

        assert!(
            HelmSource::from_params(&params(json!({"namespace": "x"})), id)
                .expect("valid")
                .is_none()
        );
        for bad in [
            json!({"helm_chart_path": ""}),
            json!({"helm_chart_path": "c.tgz", "helm_parameters": {"a,b=1": 1}}),
            json!({"helm_chart_path": "c.tgz", "helm_parameters": "a=1"}),
            json!({"helm_chart_path": "c.tgz", "helm_value_names": {"VDU1": {}}}),
            json!({"helm_chart_path": "c.tgz", "using_helm_install_param": []}),
            json!({"using_helm_install_param": [{"helmchartfile_path": "c.tgz", "helmreleasename": "Bad_Name"}]}),
            json!({"using_helm_install_param": [{"helmchartfile_path": "c.tgz", "helmreleasename": "a"},
                                                 {"helmchartfile_path": "c.tgz", "helmreleasename": "a"}]}),
        ] {
            let error = HelmSource::from_params(&params(bad.clone()), id).expect_err("refused");
            assert!(matches!(error, Error::InvalidRequest(_)), "{bad}: {error}");
        }
        let external = HelmSource::from_params(
            &params(json!({"using_helm_install_param": [
                {"exthelmchart": "true", "helmreleasename": "a", "helmchartname": "x", "helmrepositoryname": "r"}]})),
            id,
        )
        .expect_err("refused");
        assert!(
            matches!(&external, Error::Unprocessable(m) if m.contains("exthelmchart")),
            "{external}"
        );
    }

    #[test]
    fn helm_names_map_to_vdus() {
        assert!(helm_name_matches("vdu1", "vdu1-vnf0a1b"));
        assert!(helm_name_matches("VDU1", "vdu1-localhelm"));
        assert!(helm_name_matches("VDU1", "vdu1"));
        assert!(!helm_name_matches("vdu1", "vdu10-x"));
        assert!(!helm_name_matches("vdu1", "vdu1x"));
    }
}
