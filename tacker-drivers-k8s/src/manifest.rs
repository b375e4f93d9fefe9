//! The Kubernetes manifests of a VNF package: read from the files that
//! `additionalParams.lcm-kubernetes-def-files` names (each a listed artifact whose
//! digest must match), split into objects, placed in one namespace, labelled with the
//! VNF instance and sorted in dependency order.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use tacker_core::csar::{ArtifactEntry, Manifest, ToscaMeta, digest_hex};
use tacker_core::model::KeyValuePairs;
use tacker_core::package::PackageFiles;
use tacker_core::{Error, Result};

/// The instantiate (and change package) parameter naming the manifest files.
pub const DEF_FILES_PARAM: &str = "lcm-kubernetes-def-files";
/// The parameter naming the namespace.
pub const NAMESPACE_PARAM: &str = "namespace";
/// The label every object of a VNF instance carries.
pub const INSTANCE_LABEL: &str = "vnf-instance-id";
/// The annotation recording the package file an object came from.
pub const DEF_FILE_ANNOTATION: &str = "tacker-vnfm/def-file";

/// The workload kinds a VDU maps to.
pub const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "DaemonSet",
    "Pod",
];

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    /// The package file it came from.
    pub file: String,
    /// The object.
    pub value: Value,
}

impl ManifestObject {
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
    /// `kind/name` from `file`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {} (from {})", self.kind(), self.name(), self.file)
    }
}

/// The file list of `additionalParams`, if given. `InvalidRequest` when it is not a list
/// of strings.
pub fn def_files_param(params: &KeyValuePairs) -> Result<Option<Vec<String>>> {
    match params.get(DEF_FILES_PARAM) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "additionalParams.{DEF_FILES_PARAM} must list file paths, found {item}"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => Err(Error::InvalidRequest(format!(
            "additionalParams.{DEF_FILES_PARAM} must be a non-empty list of file paths, not {other}"
        ))),
    }
}

/// The artifacts the package lists with digests (TOSCA.meta blocks and the manifest).
async fn listed_artifacts(package: &dyn PackageFiles) -> Result<Vec<ArtifactEntry>> {
    let mut artifacts = Vec::new();
    let meta_path = "TOSCA-Metadata/TOSCA.meta";
    let mut manifest_path = None;
    if package.paths().iter().any(|p| p == meta_path) {
        let text = read_text(package, meta_path).await?;
        let meta = ToscaMeta::parse(meta_path, &text)
            .map_err(|e| Error::Unprocessable(format!("{meta_path}: {e}")))?;
        manifest_path.clone_from(&meta.etsi_entry_manifest);
        artifacts.extend(meta.artifacts);
    }
    let manifest_path = manifest_path.or_else(|| {
        package
            .paths()
            .into_iter()
            .find(|p| !p.contains('/') && p.ends_with(".mf"))
    });
    if let Some(path) = manifest_path
        && package.paths().contains(&path)
    {
        let text = read_text(package, &path).await?;
        let manifest = Manifest::parse(&path, &text)
            .map_err(|e| Error::Unprocessable(format!("{path}: {e}")))?;
        artifacts.extend(manifest.artifacts);
    }
    Ok(artifacts)
}

async fn read_text(package: &dyn PackageFiles, path: &str) -> Result<String> {
    let bytes = package.read(path).await?;
    String::from_utf8(bytes)
        .map_err(|_| Error::Unprocessable(format!("package file {path} is not UTF-8 text")))
}

fn normalize(path: &str) -> &str {
    let mut path = path.trim();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.trim_start_matches('/')
}

/// The content of `file`, a package artifact listed with a digest that must match
/// (`param` names the parameter that named it, for messages).
pub(crate) async fn read_artifact(
    package: &dyn PackageFiles,
    file: &str,
    param: &str,
) -> Result<Vec<u8>> {
    let artifacts = listed_artifacts(package).await?;
    verified(package, &artifacts, file, param).await
}

async fn verified(
    package: &dyn PackageFiles,
    artifacts: &[ArtifactEntry],
    file: &str,
    param: &str,
) -> Result<Vec<u8>> {
    let path = normalize(file);
    let artifact = artifacts
        .iter()
        .find(|a| normalize(&a.path) == path)
        .ok_or_else(|| {
            Error::Unprocessable(format!(
                "{param} names {file}, which the package does not list as an artifact with a digest"
            ))
        })?;
    let bytes = package.read(path).await.map_err(|_| {
        Error::Unprocessable(format!("{param} names {file}, which is not in the package"))
    })?;
    let actual = digest_hex(artifact.algorithm, &mut bytes.as_slice())
        .map_err(|e| Error::Unprocessable(format!("{file}: {e}")))?;
    if !actual.eq_ignore_ascii_case(&artifact.hash) {
        return Err(Error::Unprocessable(format!(
            "{file}: the {} digest is {actual}, but {}:{} declares {}",
            artifact.algorithm.as_str(),
            artifact.declared_in,
            artifact.line,
            artifact.hash
        )));
    }
    Ok(bytes)
}

/// Reads the named manifest files: each must be an artifact the package lists with a
/// digest, and the digest must match. Returns their objects in file order.
pub async fn read_manifests(
    package: &dyn PackageFiles,
    files: &[String],
) -> Result<Vec<ManifestObject>> {
    let artifacts = listed_artifacts(package).await?;
    let mut objects = Vec::new();
    for file in files {
        let path = normalize(file);
        let bytes = verified(package, &artifacts, file, DEF_FILES_PARAM).await?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Unprocessable(format!("{file} is not UTF-8 text")))?;
        let documents: Vec<Value> = serde_saphyr::from_multiple_with_options(&text, yaml_options())
            .map_err(|e| Error::Unprocessable(format!("{file} is not valid YAML: {e}")))?;
        for (index, value) in documents.into_iter().enumerate() {
            if value.is_null() {
                continue;
            }
            let object = ManifestObject {
                file: path.to_owned(),
                value,
            };
            for (field, present) in [
                ("apiVersion", !object.api_version().is_empty()),
                ("kind", !object.kind().is_empty()),
                ("metadata.name", !object.name().is_empty()),
            ] {
                if !present {
                    return Err(Error::Unprocessable(format!(
                        "{file}: document {} has no {field}",
                        index + 1
                    )));
                }
            }
            objects.push(object);
        }
    }
    Ok(objects)
}

/// How manifests are read: the VNFM's safe settings, and integers with a leading zero
/// in base 8 as Kubernetes reads them (YAML 1.1: `defaultMode: 0644` is 420).
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    let mut options = tacker_core::vnfd::yaml::safe_options();
    options.legacy_octal_numbers = true;
    options
}

/// The namespace of the VNF's objects that name none. `strict` (the request's
/// `additionalParams.namespace`): that namespace, which every manifest naming a
/// namespace must agree with. Otherwise (what an instance recorded, or no parameter):
/// the parameter, else the one namespace the manifests name, else `default`; objects
/// that name a namespace keep it, so a VNF may span the namespaces its manifests name.
pub fn namespace_of(
    objects: &[ManifestObject],
    param: Option<&Value>,
    strict: bool,
) -> Result<String> {
    let requested = match param {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) if !ns.is_empty() => Some(ns.clone()),
        Some(other) => {
            return Err(Error::InvalidRequest(format!(
                "additionalParams.{NAMESPACE_PARAM} must be a namespace name, not {other}"
            )));
        }
    };
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for object in objects {
        if let Some(ns) = object.value["metadata"]["namespace"].as_str() {
            named
                .entry(ns.to_owned())
                .or_insert_with(|| object.describe());
        }
    }
    if let Some(ns) = &requested {
        if let Some((other, object)) = named.iter().find(|(n, _)| *n != ns && strict) {
            return Err(Error::Unprocessable(format!(
                "{object} is in namespace {other}, but additionalParams.{NAMESPACE_PARAM} is {ns}"
            )));
        }
        return Ok(ns.clone());
    }
    if named.len() == 1 {
        return Ok(named
            .into_keys()
            .next()
            .unwrap_or_else(|| "default".to_owned()));
    }
    Ok("default".to_owned())
}

/// Labels an object (and the pods and claims it makes) with the VNF instance and
/// records its file.
pub fn label(object: &mut ManifestObject, instance_id: &str) {
    let file = object.file.clone();
    let value = &mut object.value;
    value["metadata"]["labels"][INSTANCE_LABEL] = json!(instance_id);
    value["metadata"]["annotations"][DEF_FILE_ANNOTATION] = json!(file);
    if value["spec"]["template"].is_object() {
        value["spec"]["template"]["metadata"]["labels"][INSTANCE_LABEL] = json!(instance_id);
    }
    if value["spec"]["jobTemplate"]["spec"]["template"].is_object() {
        value["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"][INSTANCE_LABEL] =
            json!(instance_id);
    }
    // Looked up without indexing for writing, which would add a `spec` to objects
    // that have none (a ServiceAccount), and an API server refuses that field.
    if let Some(claims) = value
        .get_mut("spec")
        .and_then(|spec| spec.get_mut("volumeClaimTemplates"))
        .and_then(Value::as_array_mut)
    {
        for claim in claims {
            claim["metadata"]["labels"][INSTANCE_LABEL] = json!(instance_id);
        }
    }
}

/// The order objects are created in (deleted in reverse): namespaces, cluster
/// configuration, config, storage, RBAC, services, everything else, workloads,
/// autoscalers.
pub fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "ResourceQuota"
        | "LimitRange"
        | "PriorityClass"
        | "StorageClass"
        | "CustomResourceDefinition" => 1,
        "ServiceAccount" | "Secret" | "ConfigMap" => 2,
        "PersistentVolume" | "PersistentVolumeClaim" => 3,
        "ClusterRole" | "Role" => 4,
        "ClusterRoleBinding" | "RoleBinding" => 5,
        "Service" | "NetworkPolicy" | "Ingress" => 6,
        "Pod" | "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" => 8,
        "HorizontalPodAutoscaler" | "PodDisruptionBudget" => 9,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zero_integers_are_octal_as_kubernetes_reads_them() {
        let documents: Vec<Value> = serde_saphyr::from_multiple_with_options(
            "spec:\n  defaultMode: 0644\n  replicas: 10\n",
            yaml_options(),
        )
        .expect("the manifest parses");
        assert_eq!(documents[0]["spec"]["defaultMode"], 420);
        assert_eq!(documents[0]["spec"]["replicas"], 10);
    }

    #[test]
    fn labelling_adds_no_field_an_object_does_not_have() {
        let mut account = ManifestObject {
            file: "sa.yaml".into(),
            value: json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}),
        };
        label(&mut account, "vnf-1");
        assert_eq!(
            account.value,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
                "name": "sa",
                "labels": {INSTANCE_LABEL: "vnf-1"},
                "annotations": {DEF_FILE_ANNOTATION: "sa.yaml"}}})
        );
        let mut set = ManifestObject {
            file: "sts.yaml".into(),
            value: json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                "spec": {"template": {"metadata": {}}, "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}),
        };
        label(&mut set, "vnf-1");
        assert_eq!(
            set.value["spec"]["template"]["metadata"]["labels"][INSTANCE_LABEL],
            "vnf-1"
        );
        assert_eq!(
            set.value["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"][INSTANCE_LABEL],
            "vnf-1"
        );
    }
}
