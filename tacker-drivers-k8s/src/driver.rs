//! `KubernetesInfraDriver`: CNFs on a Kubernetes VIM.
//!
//! Every object of a VNF instance carries the label `vnf-instance-id=<id>`, so the
//! cluster itself records what belongs to the instance: terminate and rollbacks find
//! and delete everything so labelled (top-level objects; their dependents go with them
//! by foreground deletion), which makes every call converge. A VDU maps to the
//! workload (Deployment, StatefulSet, ReplicaSet, DaemonSet or Pod) named as the VDU's
//! `name`; each of its pods is one VNFC whose compute resource is the pod (resourceId =
//! pod name, vimLevelResourceType = workload kind). A VNFC keeps its id when heal
//! replaces its pod.

use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    PropagationPolicy, WatchEvent, WatchParams,
};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, Discovery, Scope, verbs};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

use tacker_core::infra::{
    InfraCapabilities, InfraContext, InfraDriver, InfraOperation, InfraOutcome,
    InfraRequestContext, Rollback, ScaleTarget, VNFC_POWER_STATE, VnfResources, not_supported,
    resource_changes,
};
use tacker_core::lcm::OpRequest;
use tacker_core::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest,
    ExtManagedVirtualLinkData, ExtVirtualLinkData, HealVnfRequest, InstantiateVnfRequest,
    KeyValuePairs, OperateVnfRequest, ResourceHandle, StopType, TerminateVnfRequest,
    TerminationType, VnfInstance, VnfOperationalStateType, VnfcResourceInfo,
};
use tacker_core::package::PackageFiles;
use tacker_core::vnfd::{DeploymentFlavour, Vdu, Vnfd};
use tacker_core::{Error, Result};

use crate::client::{DRIVER, KUBERNETES_VIM_TYPE, api_error, connect_with_policy, is_not_found};
use crate::manifest::{
    DEF_FILE_ANNOTATION, DEF_FILES_PARAM, INSTANCE_LABEL, ManifestObject, NAMESPACE_PARAM,
    WORKLOAD_KINDS, def_files_param, label, namespace_of, rank, read_manifests,
};
use tacker_core::outbound::OutboundPolicy;

use crate::ext::{ExtConnectivity, LiveService, effective_links};
use crate::helm::{HELM_CHART_PATH_PARAM, HelmConfig, HelmSource, helm_name_matches};

/// Our field manager for server-side apply.
pub const FIELD_MANAGER: &str = "tacker-vnfm";

/// The annotation by which the ReplicaSet controller picks the pods a scale in removes:
/// the lowest cost first (before the newest, which it ranks by creation time to the
/// second only, and in buckets).
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Kinds never swept by terminate: managed by the cluster for other objects.
const NOT_SWEPT: &[&str] = &["Endpoints", "EndpointSlice", "Event", "ControllerRevision"];

/// The Kubernetes infra driver.
#[derive(Debug, Clone)]
pub struct KubernetesInfraDriver {
    timeout: Duration,
    policy: Arc<OutboundPolicy>,
    helm: HelmConfig,
}

impl Default for KubernetesInfraDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl KubernetesInfraDriver {
    /// A driver that waits up to five minutes for objects to become ready or gone.
    pub fn new() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            policy: Arc::new(OutboundPolicy::default()),
            helm: HelmConfig::default(),
        }
    }

    /// How Helm charts are rendered (default: `helm` on `PATH`).
    pub fn helm(mut self, config: HelmConfig) -> Self {
        self.helm = config;
        self
    }

    /// Connects only to API servers that `policy` allows (default
    /// [`OutboundPolicy::default`]).
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Sets how long an operation waits for readiness (and deletion) before it fails.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A connected client with the cluster's discovery.
struct Session {
    client: kube::Client,
    discovery: Discovery,
    deadline: Instant,
    naming: Naming,
}

/// How the VNF's workloads carry their VDUs' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// Named exactly as the VDU (manifest files).
    Exact,
    /// Named as the VDU in lower case, alone or followed by a dash (Helm charts, whose
    /// objects carry the release's name too).
    Helm,
}

impl Naming {
    /// The VDU whose workload `workload` is: an exact name first, then the Helm form.
    fn vdu_of<'f>(self, flavour: &'f DeploymentFlavour, workload: &str) -> Option<&'f Vdu> {
        flavour
            .vdus
            .iter()
            .find(|v| v.name == workload)
            .or_else(|| {
                if self == Self::Helm {
                    flavour
                        .vdus
                        .iter()
                        .find(|v| helm_name_matches(&v.name, workload))
                } else {
                    None
                }
            })
    }

    /// Whether `workload` is the workload of `vdu`.
    fn is_workload_of(self, flavour: &DeploymentFlavour, vdu: &Vdu, workload: &str) -> bool {
        self.vdu_of(flavour, workload)
            .is_some_and(|v| v.id == vdu.id)
    }
}

/// An object ready to apply.
struct Planned {
    object: ManifestObject,
    resource: ApiResource,
    caps: ApiCapabilities,
    namespace: Option<String>,
}

impl Session {
    async fn open(
        ctx: &InfraContext<'_>,
        timeout: Duration,
        policy: &OutboundPolicy,
    ) -> Result<Self> {
        let client = connect_with_policy(ctx.vim, policy).await?;
        let discovery = Discovery::new(client.clone())
            .run()
            .await
            .map_err(|e| api_error("API discovery", e))?;
        // An instance deployed from charts recorded them; a new one sets its naming.
        let naming = match HelmSource::from_params(&ctx.vnf_instance.metadata, &ctx.vnf_instance.id)
        {
            Ok(Some(_)) => Naming::Helm,
            _ => Naming::Exact,
        };
        Ok(Self {
            client,
            discovery,
            deadline: Instant::now() + timeout,
            naming,
        })
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Option<(ApiResource, ApiCapabilities)> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        self.discovery
            .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
    }

    fn core(&self, kind: &str) -> Result<(ApiResource, ApiCapabilities)> {
        let api_version = match kind {
            "Pod" | "Service" | "Endpoints" | "PersistentVolumeClaim" => "v1",
            _ => "apps/v1",
        };
        self.resolve(api_version, kind).ok_or_else(|| {
            Error::driver(
                DRIVER,
                false,
                format!("the API server does not offer {api_version} {kind}"),
            )
        })
    }

    fn api(
        &self,
        resource: &ApiResource,
        caps: &ApiCapabilities,
        ns: Option<&str>,
    ) -> Api<DynamicObject> {
        match (caps.scope == Scope::Namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, resource),
            (true, None) => Api::all_with(self.client.clone(), resource),
            (false, _) => Api::all_with(self.client.clone(), resource),
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

fn instance_selector(id: &str) -> String {
    format!("{INSTANCE_LABEL}={id}")
}

fn timed_out(what: &str, timeout: Duration) -> Error {
    Error::driver(
        DRIVER,
        true,
        format!("{what} within {} s", timeout.as_secs()),
    )
}

/// Runs `work` until the session's deadline or the operation's cancellation.
async fn bounded<T>(
    session: &Session,
    ctx: &InfraContext<'_>,
    what: &str,
    timeout: Duration,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        () = ctx.cancel.cancelled() => Err(Error::Cancelled(format!("{what}: the operation was cancelled"))),
        result = tokio::time::timeout(session.remaining(), work) => match result {
            Ok(result) => result,
            Err(_) => Err(timed_out(what, timeout)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Planning and applying manifests
// ---------------------------------------------------------------------------------------

/// Prepares the objects of `files` for instance `instance_id` in `namespace`, with the
/// replica counts of the VDUs set.
/// Finds each VDU's workload among `objects` and sets its replicas to the VDU's count;
/// `Unprocessable` for a VDU without a workload, or with more instances than a bare Pod
/// can give.
fn fit_workloads(
    objects: &mut [ManifestObject],
    naming: Naming,
    flavour: &DeploymentFlavour,
    replicas: &BTreeMap<String, u32>,
) -> Result<()> {
    for vdu in &flavour.vdus {
        let workload = objects.iter_mut().find(|o| {
            WORKLOAD_KINDS.contains(&o.kind()) && naming.is_workload_of(flavour, vdu, o.name())
        });
        let Some(workload) = workload else {
            return Err(Error::Unprocessable(format!(
                "VDU {} needs a workload ({}) named {}, which none of the manifests has",
                vdu.id,
                WORKLOAD_KINDS.join(", "),
                vdu.name
            )));
        };
        if let Some(count) = replicas.get(&vdu.id) {
            match workload.kind() {
                "Deployment" | "StatefulSet" | "ReplicaSet" => {
                    workload.value["spec"]["replicas"] = json!(count)
                }
                "Pod" if *count > 1 => {
                    return Err(Error::Unprocessable(format!(
                        "VDU {} asks for {count} instances, but its workload is the single Pod {} in {}",
                        vdu.id, vdu.name, workload.file
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn plan(
    session: &Session,
    mut objects: Vec<ManifestObject>,
    namespace: &str,
    instance_id: &str,
    flavour: &DeploymentFlavour,
    replicas: &BTreeMap<String, u32>,
    zones: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Planned>> {
    fit_workloads(&mut objects, session.naming, flavour, replicas)?;
    let naming = session.naming;
    crate::placement::place(&mut objects, flavour, instance_id, zones, |o, vdu_id| {
        flavour.vdu(vdu_id).is_some_and(|vdu| {
            WORKLOAD_KINDS.contains(&o.kind()) && naming.is_workload_of(flavour, vdu, o.name())
        })
    });
    let mut planned = Vec::new();
    for mut object in objects {
        let (resource, caps) = session
            .resolve(object.api_version(), object.kind())
            .ok_or_else(|| {
                Error::Unprocessable(format!(
                    "{}: the API server offers no {} {}",
                    object.describe(),
                    object.api_version(),
                    object.kind()
                ))
            })?;
        let namespaced = caps.scope == Scope::Namespaced;
        if namespaced
            && object.value["metadata"]["namespace"]
                .as_str()
                .is_none_or(str::is_empty)
        {
            object.value["metadata"]["namespace"] = json!(namespace);
        }
        let own = object.value["metadata"]["namespace"]
            .as_str()
            .map(str::to_owned);
        label(&mut object, instance_id);
        planned.push(Planned {
            object,
            namespace: if namespaced { own } else { None },
            resource,
            caps,
        });
    }
    planned.sort_by_key(|p| rank(p.object.kind()));
    Ok(planned)
}

async fn apply(session: &Session, planned: &[Planned]) -> Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for item in planned {
        let api = session.api(&item.resource, &item.caps, item.namespace.as_deref());
        let object: DynamicObject = serde_json::from_value(item.object.value.clone())
            .map_err(|e| Error::Unprocessable(format!("{}: {e}", item.object.describe())))?;
        if item.caps.supports_operation(verbs::PATCH) {
            api.patch(item.object.name(), &params, &Patch::Apply(&object))
                .await
                .map_err(|e| api_error(&format!("applying {}", item.object.describe()), e))?;
        } else {
            // Create-only kinds (reviews) answer once and keep nothing.
            match api.create(&PostParams::default(), &object).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => {
                    return Err(api_error(
                        &format!("creating {}", item.object.describe()),
                        e,
                    ));
                }
            }
        }
    }
    Ok(())
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn generation_seen(object: &DynamicObject) -> bool {
    let generation = object.metadata.generation.unwrap_or(0);
    object.data["status"]["observedGeneration"]
        .as_i64()
        .unwrap_or(0)
        >= generation
}

fn has_condition(object: &DynamicObject, kind: &str) -> bool {
    object.data["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

/// Whether an object of `kind` is ready, from its status.
fn ready(kind: &str, object: &DynamicObject) -> bool {
    let spec = &object.data["spec"];
    let status = &object.data["status"];
    let desired = spec["replicas"].as_i64().unwrap_or(1);
    match kind {
        "Deployment" => {
            generation_seen(object)
                && int(&status["updatedReplicas"]) == desired
                && int(&status["replicas"]) == desired
                && int(&status["availableReplicas"]) == desired
        }
        "StatefulSet" => {
            generation_seen(object)
                && int(&status["readyReplicas"]) == desired
                && int(&status["updatedReplicas"]) == desired
                && int(&status["replicas"]) == desired
        }
        "ReplicaSet" => {
            generation_seen(object)
                && int(&status["readyReplicas"]) == desired
                && int(&status["replicas"]) == desired
        }
        "DaemonSet" => {
            generation_seen(object)
                && status.get("desiredNumberScheduled").is_some()
                && int(&status["numberReady"]) == int(&status["desiredNumberScheduled"])
                && int(&status["updatedNumberScheduled"]) == int(&status["desiredNumberScheduled"])
        }
        "Pod" => has_condition(object, "Ready"),
        "Job" => has_condition(object, "Complete"),
        "PersistentVolumeClaim" => status["phase"] == "Bound",
        _ => true,
    }
}

/// Waits, with watches, until every planned object is ready.
async fn await_ready(
    session: &Session,
    ctx: &InfraContext<'_>,
    planned: &[Planned],
    timeout: Duration,
) -> Result<()> {
    for item in planned {
        let kind = item.object.kind().to_owned();
        let name = item.object.name().to_owned();
        let what = format!("{} did not become ready", item.object.describe());
        if kind == "Service" {
            let selector = &item.object.value["spec"]["selector"];
            if selector.as_object().is_none_or(|s| s.is_empty())
                || item.object.value["spec"]["type"] == "ExternalName"
            {
                continue;
            }
            let (resource, caps) = session.core("Endpoints")?;
            let api = session.api(&resource, &caps, item.namespace.as_deref());
            let condition = |o: Option<&DynamicObject>| {
                o.is_some_and(|o| {
                    o.data["subsets"].as_array().is_some_and(|s| {
                        s.iter()
                            .any(|s| s["addresses"].as_array().is_some_and(|a| !a.is_empty()))
                    })
                })
            };
            let wait = async {
                kube::runtime::wait::await_condition(api, &name, condition)
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::driver(DRIVER, true, format!("watching {name}: {e}")))
            };
            // A Service waits for its pods: their reasons say why it has no endpoints.
            if let Err(error) = bounded(
                session,
                ctx,
                &format!("{what} (no endpoints)"),
                timeout,
                wait,
            )
            .await
            {
                return Err(with_pod_reasons(session, ctx.vnf_instance.id.as_str(), error).await);
            }
            continue;
        }
        if !matches!(
            kind.as_str(),
            "Deployment"
                | "StatefulSet"
                | "ReplicaSet"
                | "DaemonSet"
                | "Pod"
                | "Job"
                | "PersistentVolumeClaim"
        ) {
            continue;
        }
        let api = session.api(&item.resource, &item.caps, item.namespace.as_deref());
        let condition_kind = kind.clone();
        let wait = async {
            kube::runtime::wait::await_condition(api, &name, move |o: Option<&DynamicObject>| {
                o.is_some_and(|o| ready(&condition_kind, o))
            })
            .await
            .map(|_| ())
            .map_err(|e| Error::driver(DRIVER, true, format!("watching {name}: {e}")))
        };
        if let Err(error) = bounded(session, ctx, &what, timeout, wait).await {
            return Err(with_pod_reasons(session, ctx.vnf_instance.id.as_str(), error).await);
        }
    }
    Ok(())
}

/// Adds what the instance's pods wait for (image pull errors, unready containers) to a
/// readiness timeout.
async fn with_pod_reasons(session: &Session, instance_id: &str, error: Error) -> Error {
    let Error::Driver {
        source, retryable, ..
    } = &error
    else {
        return error;
    };
    let Ok((resource, caps)) = session.core("Pod") else {
        return error;
    };
    let api = session.api(&resource, &caps, None);
    let Ok(pods) = api
        .list(&ListParams::default().labels(&instance_selector(instance_id)))
        .await
    else {
        return error;
    };
    let mut reasons = Vec::new();
    for pod in pods {
        if ready("Pod", &pod) {
            continue;
        }
        let waiting: Vec<String> = pod.data["status"]["containerStatuses"]
            .as_array()
            .map(|statuses| {
                statuses
                    .iter()
                    .filter_map(|s| {
                        s["state"]["waiting"]["reason"]
                            .as_str()
                            .map(|r| format!("{} {r}", s["name"].as_str().unwrap_or("?")))
                            .or_else(|| {
                                (s["ready"] == false).then(|| {
                                    format!("{} not ready", s["name"].as_str().unwrap_or("?"))
                                })
                            })
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A pod no node takes has no containers yet: the scheduler says why.
        let unscheduled = pod.data["status"]["conditions"]
            .as_array()
            .and_then(|conditions| {
                conditions
                    .iter()
                    .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
                    .map(|c| {
                        // The reason code only (the message is the cluster's free text).
                        let reason: String = c["reason"]
                            .as_str()
                            .unwrap_or("Unschedulable")
                            .chars()
                            .filter(char::is_ascii_alphanumeric)
                            .take(64)
                            .collect();
                        format!("not scheduled ({reason})")
                    })
            });
        reasons.push(format!(
            "pod {}: {}",
            pod.metadata.name.clone().unwrap_or_default(),
            match (waiting.is_empty(), unscheduled) {
                (true, Some(unscheduled)) => unscheduled,
                (true, None) => "not ready".to_owned(),
                (false, _) => waiting.join(", "),
            }
        ));
    }
    if reasons.is_empty() {
        return error;
    }
    Error::driver(
        DRIVER,
        *retryable,
        format!("{source}; {}", reasons.join("; ")),
    )
}

// ---------------------------------------------------------------------------------------
// Observing pods and building the resource information
// ---------------------------------------------------------------------------------------

/// A pod of a VDU.
#[derive(Debug, Clone)]
struct PodOfVdu {
    vdu_id: String,
    kind: String,
    name: String,
    namespace: String,
    uid: String,
    created: String,
    ready: bool,
    /// Its `controller.kubernetes.io/pod-deletion-cost` (0 without one).
    deletion_cost: i32,
}

/// The live pods of the instance, each attributed to its VDU through its owners.
async fn pods_of(
    session: &Session,
    instance_id: &str,
    flavour: &DeploymentFlavour,
) -> Result<Vec<PodOfVdu>> {
    let selector = instance_selector(instance_id);
    let (pod_resource, pod_caps) = session.core("Pod")?;
    let pods = session
        .api(&pod_resource, &pod_caps, None)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error("listing the instance's pods", e))?;
    let (rs_resource, rs_caps) = session.core("ReplicaSet")?;
    let replica_sets = session
        .api(&rs_resource, &rs_caps, None)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error("listing the instance's ReplicaSets", e))?;
    let mut out = Vec::new();
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let phase = pod.data["status"]["phase"].as_str().unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let owner = pod
            .metadata
            .owner_references
            .as_ref()
            .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)));
        let (kind, workload) = match owner {
            None => ("Pod".to_owned(), name.clone()),
            Some(owner) if owner.kind == "ReplicaSet" => {
                let deployment = replica_sets
                    .iter()
                    .find(|rs| rs.metadata.uid.as_deref() == Some(owner.uid.as_str()))
                    .and_then(|rs| rs.metadata.owner_references.as_ref())
                    .and_then(|refs| refs.iter().find(|r| r.kind == "Deployment"));
                match deployment {
                    Some(d) => ("Deployment".to_owned(), d.name.clone()),
                    None => ("ReplicaSet".to_owned(), owner.name.clone()),
                }
            }
            Some(owner) => (owner.kind.clone(), owner.name.clone()),
        };
        let Some(vdu) = session.naming.vdu_of(flavour, &workload) else {
            continue;
        };
        let deletion_cost = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DELETION_COST))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        out.push(PodOfVdu {
            vdu_id: vdu.id.clone(),
            kind,
            deletion_cost,
            ready: ready("Pod", &pod),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            created: pod
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| format!("{:?}", t.0))
                .unwrap_or_default(),
            name,
        });
    }
    out.sort_by(|a, b| (&a.vdu_id, &a.created, &a.name).cmp(&(&b.vdu_id, &b.created, &b.name)));
    Ok(out)
}

/// Waits for the next change (at most 30 s) of the pods `selector` picks after
/// `version`; an expired version (410) just ends the wait, for a fresh list.
async fn next_pod_change(api: &Api<DynamicObject>, selector: &str, version: &str) -> Result<()> {
    let params = WatchParams::default().labels(selector).timeout(30);
    let mut stream = api
        .watch(&params, version)
        .await
        .map_err(|e| api_error("watching the instance's pods", e))?
        .boxed();
    match stream.try_next().await {
        Ok(Some(WatchEvent::Error(status))) if status.code == 410 => Ok(()),
        Ok(_) => Ok(()),
        Err(e) => Err(api_error("watching the instance's pods", e)),
    }
}

/// Waits, with a watch on the instance's pods, until every VDU with a count in
/// `expected` has exactly that many pods, all ready, none of them in `gone`, and the
/// other VDUs' pods are ready.
async fn await_pods(
    session: &Session,
    ctx: &InfraContext<'_>,
    flavour: &DeploymentFlavour,
    expected: &BTreeMap<String, u32>,
    gone: &BTreeSet<String>,
    timeout: Duration,
) -> Result<Vec<PodOfVdu>> {
    let instance_id = ctx.vnf_instance.id.as_str();
    let (resource, caps) = session.core("Pod")?;
    let api = session.api(&resource, &caps, None);
    let selector = instance_selector(instance_id);
    let settled = |pods: &[PodOfVdu]| {
        pods.iter().all(|p| p.ready && !gone.contains(&p.uid))
            && expected
                .iter()
                .all(|(vdu, n)| pods.iter().filter(|p| &p.vdu_id == vdu).count() == *n as usize)
    };
    let work = async {
        loop {
            let list = api
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| api_error("listing the instance's pods", e))?;
            let version = list.metadata.resource_version.clone().unwrap_or_default();
            let pods = pods_of(session, instance_id, flavour).await?;
            if settled(&pods) {
                return Ok(pods);
            }
            // Wait for the next change of the instance's pods.
            next_pod_change(&api, &selector, &version).await?;
        }
    };
    match bounded(
        session,
        ctx,
        "the VNF's pods did not become ready",
        timeout,
        work,
    )
    .await
    {
        Ok(pods) => Ok(pods),
        Err(error) => Err(with_pod_reasons(session, instance_id, error).await),
    }
}

/// Gives the pods of Deployments and ReplicaSets that are not recorded (a scale out
/// or change of flavour added them) a deletion cost below every other pod of the
/// instance, so that a scale in or a rollback removes them first: the most recently
/// added VNFCs, even when they were created in the same second as the others.
async fn mark_added_pods(
    session: &Session,
    ctx: &InfraContext<'_>,
    pods: &[PodOfVdu],
) -> Result<()> {
    let recorded: BTreeSet<String> = recorded_vnfcs(ctx)
        .iter()
        .filter_map(|v| pod_uid(v).map(str::to_owned))
        .collect();
    let added: Vec<&PodOfVdu> = pods
        .iter()
        .filter(|p| {
            matches!(p.kind.as_str(), "Deployment" | "ReplicaSet")
                && !recorded.contains(&p.uid)
                && p.deletion_cost >= 0
        })
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    let cost = pods
        .iter()
        .map(|p| p.deletion_cost)
        .min()
        .unwrap_or(0)
        .min(0)
        .saturating_sub(1);
    let (resource, caps) = session.core("Pod")?;
    for pod in added {
        let api = session.api(&resource, &caps, Some(&pod.namespace));
        let patch = json!({"metadata": {"annotations": {DELETION_COST: cost.to_string()}}});
        match api
            .patch(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(api_error(
                    &format!("marking pod {}/{} as added last", pod.namespace, pod.name),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Waits, with a watch on the instance's pods, until it has none left, not even
/// terminating ones.
async fn await_no_pods(session: &Session, ctx: &InfraContext<'_>, timeout: Duration) -> Result<()> {
    let instance_id = ctx.vnf_instance.id.as_str();
    let (resource, caps) = session.core("Pod")?;
    let api = session.api(&resource, &caps, None);
    let selector = instance_selector(instance_id);
    let work = async {
        loop {
            let list = api
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| api_error("listing the instance's pods", e))?;
            if list.items.is_empty() {
                return Ok(());
            }
            let version = list.metadata.resource_version.clone().unwrap_or_default();
            next_pod_change(&api, &selector, &version).await?;
        }
    };
    // A deadline of its own: the stop's grace period may be longer than the session's.
    tokio::select! {
        () = ctx.cancel.cancelled() => Err(Error::Cancelled("stopping the VNF: the operation was cancelled".to_owned())),
        result = tokio::time::timeout(timeout, work) => match result {
            Ok(result) => result,
            Err(_) => Err(timed_out("the VNF's pods were not gone", timeout)),
        },
    }
}

/// The VNFCs of the observed pods. Pods of recorded VNFCs keep their ids; the VNFCs in
/// `healed` whose pods are gone take the new pods of their VDU; other pods are new
/// VNFCs named after the pod.
fn vnfcs(
    ctx: &InfraContext<'_>,
    vnfd: &Vnfd,
    pods: &[PodOfVdu],
    healed: &BTreeSet<String>,
) -> Vec<VnfcResourceInfo> {
    let recorded = recorded_vnfcs(ctx);
    let zones = crate::placement::zones(ctx, ctx.flavour);
    let mut claimed: BTreeMap<String, String> = BTreeMap::new(); // pod name → VNFC id
    for vnfc in &recorded {
        if pods.iter().any(|p| {
            p.name == vnfc.compute_resource.resource_id
                && p.vdu_id == vnfc.vdu_id
                && !(healed.contains(&vnfc.id) && Some(p.uid.as_str()) == pod_uid(vnfc))
        }) {
            claimed.insert(vnfc.compute_resource.resource_id.clone(), vnfc.id.clone());
        }
    }
    for vnfc in recorded.iter().filter(|v| healed.contains(&v.id)) {
        if claimed.values().any(|id| id == &vnfc.id) {
            continue;
        }
        if let Some(pod) = pods
            .iter()
            .find(|p| p.vdu_id == vnfc.vdu_id && !claimed.contains_key(&p.name))
        {
            claimed.insert(pod.name.clone(), vnfc.id.clone());
        }
    }
    let mut out: Vec<VnfcResourceInfo> = pods
        .iter()
        .map(|pod| {
            let id = claimed
                .get(&pod.name)
                .cloned()
                .unwrap_or_else(|| pod.name.clone());
            let mut metadata = KeyValuePairs::new();
            metadata.insert("namespace".into(), json!(pod.namespace));
            metadata.insert("podUid".into(), json!(pod.uid));
            metadata.insert(VNFC_POWER_STATE.into(), json!("STARTED"));
            let vdu_zones = zones.get(&pod.vdu_id);
            if let Some(vdu_zones) = vdu_zones {
                metadata.insert(crate::placement::ZONES_METADATA.into(), json!(vdu_zones));
            }
            VnfcResourceInfo {
                id,
                vdu_id: pod.vdu_id.clone(),
                vnfd_id: Some(vnfd.descriptor_id.clone()),
                compute_resource: ResourceHandle {
                    vim_connection_id: Some(ctx.vim_connection_id.to_owned()),
                    resource_provider_id: None,
                    resource_id: pod.name.clone(),
                    vim_level_resource_type: Some(pod.kind.clone()),
                },
                // The zone when the VDU is held to exactly one.
                zone_id: vdu_zones
                    .filter(|zones| zones.len() == 1)
                    .and_then(|zones| zones.first().cloned()),
                storage_resource_ids: Vec::new(),
                reservation_id: None,
                vnfc_cp_info: Vec::new(),
                metadata,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.vdu_id, &a.id).cmp(&(&b.vdu_id, &b.id)));
    out
}

fn recorded_vnfcs(ctx: &InfraContext<'_>) -> Vec<VnfcResourceInfo> {
    ctx.vnf_instance
        .instantiated_vnf_info
        .as_ref()
        .map(|info| info.vnfc_resource_info.clone())
        .unwrap_or_default()
}

fn pod_uid(vnfc: &VnfcResourceInfo) -> Option<&str> {
    vnfc.metadata.get("podUid").and_then(Value::as_str)
}

/// What an operation reports: the VNFCs found, with a CP for each external CP of
/// their VDU in `ext`, and the changes from what the instance records.
fn outcome(
    ctx: &InfraContext<'_>,
    flavour: &DeploymentFlavour,
    mut vnfcs: Vec<VnfcResourceInfo>,
    ext: ExtConnectivity,
    metadata: KeyValuePairs,
) -> InfraOutcome {
    ext.attach(flavour, &mut vnfcs);
    let (links, cps) = ext.into_parts();
    let resources = VnfResources::default()
        .with_vnfc_resource_info(vnfcs)
        .with_ext_virtual_link_info(links)
        .with_ext_cp_info(cps);
    let changes = resource_changes(ctx.vnf_instance.instantiated_vnf_info.as_ref(), &resources);
    InfraOutcome::new(resources, changes).with_metadata(metadata)
}

/// The flavour a change of flavour moves to.
fn new_flavour<'v>(
    vnfd: &'v Vnfd,
    request: &ChangeVnfFlavourRequest,
) -> Result<&'v DeploymentFlavour> {
    vnfd.flavour(&request.new_flavour_id).ok_or_else(|| {
        Error::Unprocessable(format!(
            "VNFD {} has no flavour {}",
            vnfd.descriptor_id, request.new_flavour_id
        ))
    })
}

/// The namespace of a change of flavour and whether the manifests must agree with it:
/// the one the request names (strictly), else the recorded one.
fn flavour_namespace(params: &KeyValuePairs, recorded: Option<Value>) -> (Option<Value>, bool) {
    match params.get(NAMESPACE_PARAM) {
        Some(requested) => (Some(requested.clone()), true),
        None => (recorded, false),
    }
}

/// Refuses externally managed virtual links, which a Kubernetes VIM does not have.
fn no_managed_links(links: &[ExtManagedVirtualLinkData]) -> Result<()> {
    match links.first() {
        None => Ok(()),
        Some(link) => Err(Error::Unprocessable(format!(
            "extManagedVirtualLinks ({}): a Kubernetes VIM has no VIM networks to attach a CNF's internal virtual links to",
            link.id
        ))),
    }
}

/// The Service exposing each external CP of `links` among the `planned` objects, read
/// back from the cluster (for its uid and addresses).
async fn live_services(
    session: &Session,
    planned: &[Planned],
    flavour: &DeploymentFlavour,
    links: &[ExtVirtualLinkData],
) -> Result<BTreeMap<String, LiveService>> {
    let mut out = BTreeMap::new();
    for cp in links.iter().flat_map(|l| l.ext_cps.iter()) {
        let Some(item) = planned.iter().find(|p| {
            p.object.kind() == "Service" && crate::ext::serves(&p.object.value, flavour, &cp.cpd_id)
        }) else {
            continue;
        };
        let api = session.api(&item.resource, &item.caps, item.namespace.as_deref());
        let name = item.object.name();
        let live = api
            .get(name)
            .await
            .map_err(|e| api_error(&format!("reading {}", item.object.describe()), e))?;
        let object = serde_json::to_value(&live)
            .map_err(|e| Error::driver(DRIVER, false, format!("Service {name}: {e}")))?;
        out.insert(
            cp.cpd_id.clone(),
            LiveService {
                name: name.to_owned(),
                object,
            },
        );
    }
    Ok(out)
}

fn metadata(namespace: &str, source: &Source) -> KeyValuePairs {
    let mut metadata = KeyValuePairs::new();
    metadata.insert(NAMESPACE_PARAM.into(), json!(namespace));
    match source {
        Source::Files(files) => {
            metadata.insert(DEF_FILES_PARAM.into(), json!(files));
        }
        Source::Helm(helm) => metadata.extend(helm.recorded().clone()),
    }
    metadata
}

/// The metadata an operation on a deployed instance records again.
fn recorded_metadata(ctx: &InfraContext<'_>, found: &[Found]) -> Result<KeyValuePairs> {
    let (source, namespace) = Source::recorded(ctx, found)?;
    let namespace = namespace.as_deref().unwrap_or("default");
    Ok(match source {
        Some(source) => metadata(namespace, &source),
        None => metadata(namespace, &Source::Files(Vec::new())),
    })
}

/// Where a VNF's objects come from.
#[derive(Debug, Clone)]
enum Source {
    /// Manifest files of the package (`lcm-kubernetes-def-files`).
    Files(Vec<String>),
    /// Helm charts of the package.
    Helm(HelmSource),
}

impl Source {
    /// The source an instantiation's `params` must name.
    fn requested(params: &KeyValuePairs, instance_id: &str) -> Result<Self> {
        Self::from_params(params, instance_id)?.ok_or_else(|| {
            Error::InvalidRequest(format!(
                "additionalParams must name the package's Kubernetes manifests ({DEF_FILES_PARAM}) or a Helm chart ({HELM_CHART_PATH_PARAM}, or {})",
                crate::helm::HELM_INSTALL_PARAM
            ))
        })
    }

    /// The source `params` name: charts, else manifest files, else none.
    fn from_params(params: &KeyValuePairs, instance_id: &str) -> Result<Option<Self>> {
        if let Some(helm) = HelmSource::from_params(params, instance_id)? {
            return Ok(Some(Self::Helm(helm)));
        }
        Ok(def_files_param(params)?.map(Self::Files))
    }

    fn naming(&self) -> Naming {
        match self {
            Self::Files(_) => Naming::Exact,
            Self::Helm(_) => Naming::Helm,
        }
    }

    /// The source and namespace an instance was deployed from: its metadata, else
    /// (manifest files) what the objects in the cluster record.
    fn recorded(ctx: &InfraContext<'_>, found: &[Found]) -> Result<(Option<Self>, Option<String>)> {
        let (files, namespace) = recorded_files(ctx, found);
        if let Some(helm) =
            HelmSource::from_params(&ctx.vnf_instance.metadata, &ctx.vnf_instance.id)?
        {
            return Ok((Some(Self::Helm(helm)), namespace));
        }
        Ok(((!files.is_empty()).then_some(Self::Files(files)), namespace))
    }
}

// ---------------------------------------------------------------------------------------
// Finding, deleting what belongs to an instance
// ---------------------------------------------------------------------------------------

/// A top-level object of the instance found in the cluster.
struct Found {
    resource: ApiResource,
    caps: ApiCapabilities,
    object: DynamicObject,
}

impl Found {
    fn kind(&self) -> &str {
        &self.resource.kind
    }
    fn name(&self) -> String {
        self.object.metadata.name.clone().unwrap_or_default()
    }
    fn namespace(&self) -> Option<String> {
        self.object.metadata.namespace.clone()
    }
    fn describe(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.kind(), self.name()),
            None => format!("{} {}", self.kind(), self.name()),
        }
    }
}

/// Every top-level object (no owner) labelled with the instance, of every listable
/// kind the API server offers (listed eight kinds at a time: a real API server offers
/// some sixty).
async fn labelled(session: &Session, instance_id: &str) -> Result<Vec<Found>> {
    let selector = instance_selector(instance_id);
    let kinds: Vec<(ApiResource, ApiCapabilities)> = session
        .discovery
        .groups()
        .flat_map(|group| group.recommended_resources())
        .filter(|(resource, caps)| {
            caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE)
                && !NOT_SWEPT.contains(&resource.kind.as_str())
        })
        .collect();
    let selector = &selector;
    let lists: Vec<Result<Vec<Found>>> =
        futures::stream::iter(kinds.into_iter().map(|(resource, caps)| async move {
            let api = session.api(&resource, &caps, None);
            let list = match api.list(&ListParams::default().labels(selector)).await {
                Ok(list) => list,
                // Kinds the identity may not list hold nothing it created.
                Err(kube::Error::Api(status)) if (403..=405).contains(&status.code) => {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(api_error(&format!("listing {}", resource.plural), e)),
            };
            Ok(list
                .into_iter()
                .filter(|object| {
                    object
                        .metadata
                        .owner_references
                        .as_ref()
                        .is_none_or(|r| r.is_empty())
                })
                .map(|object| Found {
                    resource: resource.clone(),
                    caps: caps.clone(),
                    object,
                })
                .collect())
        }))
        .buffer_unordered(8)
        .collect()
        .await;
    let mut found = Vec::new();
    for list in lists {
        found.extend(list?);
    }
    found.sort_by(|a, b| {
        (
            std::cmp::Reverse(rank(a.kind())),
            a.kind(),
            a.namespace(),
            a.name(),
        )
            .cmp(&(
                std::cmp::Reverse(rank(b.kind())),
                b.kind(),
                b.namespace(),
                b.name(),
            ))
    });
    Ok(found)
}

/// Deletes objects (foreground) and waits until they are gone.
async fn delete_all(
    session: &Session,
    ctx: &InfraContext<'_>,
    objects: &[Found],
    grace: Option<u32>,
    timeout: Duration,
) -> Result<()> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        grace_period_seconds: grace,
        ..DeleteParams::default()
    };
    // Delete in reverse dependency order, one rank at a time, waiting for each rank to
    // be gone before the next.
    let mut ranks: Vec<u8> = objects.iter().map(|f| rank(f.kind())).collect();
    ranks.dedup();
    for current in ranks {
        let batch: Vec<&Found> = objects
            .iter()
            .filter(|f| rank(f.kind()) == current)
            .collect();
        for found in &batch {
            let api = session.api(&found.resource, &found.caps, found.namespace().as_deref());
            match api.delete(&found.name(), &params).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(api_error(&format!("deleting {}", found.describe()), e)),
            }
        }
        for found in batch {
            let api = session.api(&found.resource, &found.caps, found.namespace().as_deref());
            let uid = found.object.metadata.uid.clone().unwrap_or_default();
            let name = found.name();
            let wait = async {
                kube::runtime::wait::await_condition(
                    api,
                    &name,
                    kube::runtime::wait::conditions::is_deleted::<DynamicObject>(&uid),
                )
                .await
                .map(|_| ())
                .map_err(|e| Error::driver(DRIVER, true, format!("watching {name}: {e}")))
            };
            bounded(
                session,
                ctx,
                &format!("{} was not deleted", found.describe()),
                timeout,
                wait,
            )
            .await?;
        }
    }
    Ok(())
}

/// The manifest files and namespace an instance was deployed from: its metadata, else
/// what the objects in the cluster record.
fn recorded_files(ctx: &InfraContext<'_>, found: &[Found]) -> (Vec<String>, Option<String>) {
    let metadata = &ctx.vnf_instance.metadata;
    let mut files: Vec<String> = metadata
        .get(DEF_FILES_PARAM)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if files.is_empty() {
        let mut seen = BTreeSet::new();
        let mut ordered: Vec<&Found> = found.iter().collect();
        ordered.sort_by_key(|f| rank(f.kind()));
        for f in ordered {
            if let Some(file) = f
                .object
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEF_FILE_ANNOTATION))
                && seen.insert(file.clone())
            {
                files.push(file.clone());
            }
        }
    }
    let namespace = metadata
        .get(NAMESPACE_PARAM)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            found
                .iter()
                .find(|f| WORKLOAD_KINDS.contains(&f.kind()))
                .and_then(Found::namespace)
        });
    (files, namespace)
}

/// VNFC counts per VDU as recorded.
fn recorded_counts(ctx: &InfraContext<'_>) -> BTreeMap<String, u32> {
    counts_of(ctx.vnf_instance)
}

/// The VNFCs `instance` records, per VDU.
fn counts_of(instance: &VnfInstance) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for vnfc in instance
        .instantiated_vnf_info
        .iter()
        .flat_map(|info| info.vnfc_resource_info.iter())
    {
        *counts.entry(vnfc.vdu_id.clone()).or_insert(0) += 1;
    }
    counts
}

/// The pod counts a heal waits for: the recorded ones, except that a scalable
/// workload has as many pods as it asks for now (heal changes no count, and the
/// cluster converges to its own).
fn heal_counts(naming: Naming, ctx: &InfraContext<'_>, found: &[Found]) -> BTreeMap<String, u32> {
    let mut counts = recorded_counts(ctx);
    for (vdu_id, count) in &mut counts {
        let Some(vdu) = ctx.flavour.vdu(vdu_id) else {
            continue;
        };
        let asked = found
            .iter()
            .find(|f| scalable(f.kind()) && naming.is_workload_of(ctx.flavour, vdu, &f.name()))
            .and_then(|f| f.object.data["spec"]["replicas"].as_u64())
            .and_then(|n| u32::try_from(n).ok());
        if let Some(asked) = asked {
            *count = asked;
        }
    }
    counts
}

/// The VNFCs per VDU of `flavour` at instantiation level `level`.
fn level_counts(flavour: &DeploymentFlavour, level: Option<&str>) -> BTreeMap<String, u32> {
    flavour
        .vdus
        .iter()
        .map(|vdu| (vdu.id.clone(), flavour.vdu_instances_at_level(vdu, level)))
        .collect()
}

fn scalable(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "ReplicaSet")
}

/// The expected pod counts of the VDUs whose workloads have a replica count.
fn expected_counts(
    naming: Naming,
    planned: &[Planned],
    flavour: &DeploymentFlavour,
    replicas: &BTreeMap<String, u32>,
) -> BTreeMap<String, u32> {
    let mut expected = BTreeMap::new();
    for vdu in &flavour.vdus {
        let Some(item) = planned.iter().find(|p| {
            WORKLOAD_KINDS.contains(&p.object.kind())
                && naming.is_workload_of(flavour, vdu, p.object.name())
        }) else {
            continue;
        };
        match item.object.kind() {
            "Pod" => {
                expected.insert(vdu.id.clone(), 1);
            }
            kind if scalable(kind) => {
                let count = replicas.get(&vdu.id).copied().unwrap_or_else(|| {
                    u32::try_from(item.object.value["spec"]["replicas"].as_u64().unwrap_or(1))
                        .unwrap_or(1)
                });
                expected.insert(vdu.id.clone(), count);
            }
            _ => {}
        }
    }
    expected
}

/// The manifest a bare pod was created from (its file annotation names it), labelled
/// for the instance, when the instance's package has it.
async fn bare_pod_manifest(
    ctx: &InfraContext<'_>,
    pod: &DynamicObject,
    namespace: &str,
) -> Result<Option<Value>> {
    let Some(file) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEF_FILE_ANNOTATION))
    else {
        return Ok(None);
    };
    let name = pod.metadata.name.clone().unwrap_or_default();
    bare_pod_from_files(ctx, std::slice::from_ref(file), &name, namespace).await
}

/// The manifest of the bare pod `name` among `files` of the instance's package,
/// labelled for the instance, when one of them has it.
async fn bare_pod_from_files(
    ctx: &InfraContext<'_>,
    files: &[String],
    name: &str,
    namespace: &str,
) -> Result<Option<Value>> {
    let paths = ctx.package.paths();
    let files: Vec<String> = files
        .iter()
        .filter(|f| paths.iter().any(|p| p == *f))
        .cloned()
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    let objects = read_manifests(ctx.package, &files).await?;
    let Some(mut object) = objects
        .into_iter()
        .find(|o| o.kind() == "Pod" && o.name() == name)
    else {
        return Ok(None);
    };
    object.value["metadata"]["namespace"] = json!(namespace);
    label(&mut object, &ctx.vnf_instance.id);
    Ok(Some(object.value))
}

/// What creates a bare pod again: its manifest in the package, else its own spec.
async fn bare_pod_again(
    ctx: &InfraContext<'_>,
    pod: &DynamicObject,
    namespace: &str,
) -> Result<Value> {
    if let Some(manifest) = bare_pod_manifest(ctx, pod, namespace).await? {
        return Ok(manifest);
    }
    let mut again = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.metadata.name,
            "namespace": namespace,
            "labels": pod.metadata.labels,
            "annotations": pod.metadata.annotations,
        },
        "spec": pod.data["spec"].clone(),
    });
    if let Some(meta) = again["metadata"].as_object_mut() {
        meta.retain(|_, v| !v.is_null());
    }
    Ok(again)
}

/// The node selector that keeps a stopped DaemonSet's pods off every node.
const STOPPED_NODE_LABEL: &str = "tacker-vnfm/stopped-vnf";

impl KubernetesInfraDriver {
    /// Operate STOPPED: no workload of the VNF keeps a pod. Scalable workloads go to 0
    /// replicas, a DaemonSet gets a node selector no node has, a bare pod is deleted.
    /// Nothing needs recording: START applies the recorded objects with the recorded
    /// counts again. Repeating it changes nothing more.
    async fn stop(
        &self,
        session: &Session,
        ctx: &InfraContext<'_>,
        grace: Option<u32>,
    ) -> Result<InfraOutcome> {
        let found = labelled(session, &ctx.vnf_instance.id).await?;
        for workload in found.iter().filter(|f| WORKLOAD_KINDS.contains(&f.kind())) {
            let api = session.api(
                &workload.resource,
                &workload.caps,
                workload.namespace().as_deref(),
            );
            let name = workload.name();
            let result = match workload.kind() {
                kind if scalable(kind) => api
                    .patch_scale(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"spec": {"replicas": 0}})),
                    )
                    .await
                    .map(|_| ()),
                "DaemonSet" => api
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"spec": {"template": {"spec": {
                            "nodeSelector": {STOPPED_NODE_LABEL: "true"}}}}})),
                    )
                    .await
                    .map(|_| ()),
                "Pod" => {
                    let mut params = DeleteParams::default();
                    if let Some(grace) = grace {
                        params = params.grace_period(grace);
                    }
                    match api.delete(&name, &params).await {
                        Err(e) if is_not_found(&e) => Ok(()),
                        other => other.map(|_| ()),
                    }
                }
                _ => Ok(()),
            };
            result.map_err(|e| api_error(&format!("stopping {}", workload.describe()), e))?;
        }
        // Stopped when no pod of the VNF is left, terminating ones included (their
        // containers run until the grace period ends).
        let timeout = self
            .timeout
            .max(Duration::from_secs(grace.map_or(30, u64::from)));
        await_no_pods(session, ctx, timeout).await?;
        let vnfcs: Vec<VnfcResourceInfo> = recorded_vnfcs(ctx)
            .into_iter()
            .map(|mut vnfc| {
                vnfc.metadata
                    .insert(VNFC_POWER_STATE.into(), json!("STOPPED"));
                vnfc
            })
            .collect();
        Ok(outcome(
            ctx,
            ctx.flavour,
            vnfcs,
            ExtConnectivity::recorded(ctx),
            recorded_metadata(ctx, &found)?,
        ))
    }

    /// Operate STARTED: the recorded objects applied again with the recorded counts
    /// (bare pods created again, replicas restored) and the DaemonSets' node selector
    /// released; the VNFCs keep their ids on their new pods.
    async fn start(&self, session: &Session, ctx: &InfraContext<'_>) -> Result<InfraOutcome> {
        let found = labelled(session, &ctx.vnf_instance.id).await?;
        let (Some(source), namespace) = Source::recorded(ctx, &found)? else {
            return Err(Error::Unprocessable(format!(
                "VNF instance {} records neither manifest files nor a chart to start from",
                ctx.vnf_instance.id
            )));
        };
        let counts = recorded_counts(ctx);
        let namespace = namespace.map(Value::String);
        let objects = self
            .objects(
                &source,
                ctx.package,
                ctx.flavour,
                namespace.as_ref(),
                &counts,
                &effective_links(ctx.vnf_instance, &[]),
            )
            .await?;
        let namespace = namespace_of(&objects, namespace.as_ref(), false)?;
        let planned = plan(
            session,
            objects,
            &namespace,
            &ctx.vnf_instance.id,
            ctx.flavour,
            &counts,
            &crate::placement::zones(ctx, ctx.flavour),
        )?;
        apply(session, &planned).await?;
        for daemon_set in found.iter().filter(|f| f.kind() == "DaemonSet") {
            let api = session.api(
                &daemon_set.resource,
                &daemon_set.caps,
                daemon_set.namespace().as_deref(),
            );
            api.patch(
                &daemon_set.name(),
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"template": {"spec": {
                    "nodeSelector": {STOPPED_NODE_LABEL: null}}}}})),
            )
            .await
            .map_err(|e| api_error(&format!("starting {}", daemon_set.describe()), e))?;
        }
        let pods = await_pods(
            session,
            ctx,
            ctx.flavour,
            &counts,
            &BTreeSet::new(),
            self.timeout,
        )
        .await?;
        // Every VNFC is back on a new pod of its VDU.
        let restarted: BTreeSet<String> = recorded_vnfcs(ctx).into_iter().map(|v| v.id).collect();
        let vnfcs = vnfcs(ctx, ctx.vnfd, &pods, &restarted);
        Ok(outcome(
            ctx,
            ctx.flavour,
            vnfcs,
            ExtConnectivity::recorded(ctx),
            recorded_metadata(ctx, &found)?,
        ))
    }

    /// Applies `files` of `package` for the instance, waits until ready and reports.
    #[allow(clippy::too_many_arguments)]
    async fn deploy(
        &self,
        session: &Session,
        ctx: &InfraContext<'_>,
        vnfd: &Vnfd,
        flavour: &DeploymentFlavour,
        package: &dyn PackageFiles,
        source: &Source,
        namespace_param: Option<&Value>,
        requested_namespace: bool,
        replicas: &BTreeMap<String, u32>,
        prune: bool,
        ext_changes: &[ExtVirtualLinkData],
    ) -> Result<InfraOutcome> {
        let links = effective_links(ctx.vnf_instance, ext_changes);
        let objects = self
            .objects(source, package, flavour, namespace_param, replicas, &links)
            .await?;
        // Where the counts go down (a rollback), the pods not recorded go first.
        if !recorded_vnfcs(ctx).is_empty() {
            let pods = pods_of(session, &ctx.vnf_instance.id, flavour).await?;
            mark_added_pods(session, ctx, &pods).await?;
        }
        let namespace = namespace_of(&objects, namespace_param, requested_namespace)?;
        let planned = plan(
            session,
            objects,
            &namespace,
            &ctx.vnf_instance.id,
            flavour,
            replicas,
            &crate::placement::zones(ctx, flavour),
        )?;
        apply(session, &planned).await?;
        if prune {
            let keep: BTreeSet<(String, Option<String>, String)> = planned
                .iter()
                .map(|p| {
                    (
                        p.object.kind().to_owned(),
                        p.namespace.clone(),
                        p.object.name().to_owned(),
                    )
                })
                .collect();
            let stale: Vec<Found> = labelled(session, &ctx.vnf_instance.id)
                .await?
                .into_iter()
                .filter(|f| !keep.contains(&(f.kind().to_owned(), f.namespace(), f.name())))
                .filter(|f| f.kind() != "PersistentVolumeClaim")
                .collect();
            delete_all(session, ctx, &stale, None, self.timeout).await?;
        }
        await_ready(session, ctx, &planned, self.timeout).await?;
        let expected = expected_counts(session.naming, &planned, flavour, replicas);
        let pods = await_pods(
            session,
            ctx,
            flavour,
            &expected,
            &BTreeSet::new(),
            self.timeout,
        )
        .await?;
        let vnfcs = vnfcs(ctx, vnfd, &pods, &BTreeSet::new());
        let services = live_services(session, &planned, flavour, &links).await?;
        let ext = ExtConnectivity::of(ctx, &links, |cpd_id| services.get(cpd_id).cloned())?;
        let outcome = outcome(ctx, flavour, vnfcs, ext, metadata(&namespace, source));
        let changed: Vec<_> = outcome
            .resources
            .ext_virtual_link_info
            .iter()
            .filter(|l| ext_changes.iter().any(|c| c.id == l.id))
            .cloned()
            .collect();
        Ok(outcome.with_changed_ext_connectivity(changed))
    }

    /// The objects of `source`: the manifest files read, or the charts rendered for
    /// the namespace asked for (else `default`) with the VDUs' counts; connected to the
    /// external virtual `links`.
    async fn objects(
        &self,
        source: &Source,
        package: &dyn PackageFiles,
        flavour: &DeploymentFlavour,
        namespace_param: Option<&Value>,
        replicas: &BTreeMap<String, u32>,
        links: &[ExtVirtualLinkData],
    ) -> Result<Vec<ManifestObject>> {
        let mut objects = match source {
            Source::Files(files) => read_manifests(package, files).await?,
            Source::Helm(helm) => {
                helm.check_vdus(flavour)?;
                let namespace = namespace_of(&[], namespace_param, false)?;
                crate::helm::render(&self.helm, package, helm, &namespace, replicas).await?
            }
        };
        crate::ext::connect(&mut objects, flavour, links)?;
        Ok(objects)
    }

    /// What [`InfraDriver::validate_request`] checks: the objects of `source` (read or
    /// rendered, connected to `links`), their namespace (`namespace`: the parameter
    /// and whether it must agree with the manifests) and the VDUs' workloads.
    async fn check(
        &self,
        source: &Source,
        package: &dyn PackageFiles,
        flavour: &DeploymentFlavour,
        namespace: (Option<&Value>, bool),
        counts: &BTreeMap<String, u32>,
        links: &[ExtVirtualLinkData],
    ) -> Result<()> {
        let (param, strict) = namespace;
        let mut objects = self
            .objects(source, package, flavour, param, counts, links)
            .await?;
        namespace_of(&objects, param, strict)?;
        fit_workloads(&mut objects, source.naming(), flavour, counts)
    }

    async fn remove_everything(
        &self,
        ctx: &InfraContext<'_>,
        grace: Option<u32>,
        timeout: Duration,
    ) -> Result<InfraOutcome> {
        let session = Session::open(ctx, timeout, &self.policy).await?;
        let found = labelled(&session, &ctx.vnf_instance.id).await?;
        delete_all(&session, ctx, &found, grace, timeout).await?;
        Ok(outcome(
            ctx,
            ctx.flavour,
            Vec::new(),
            ExtConnectivity::default(),
            KeyValuePairs::new(),
        ))
    }

    /// Brings the scalable workloads of `vdus` to `counts`.
    async fn scale_to(
        &self,
        ctx: &InfraContext<'_>,
        counts: &BTreeMap<String, u32>,
    ) -> Result<InfraOutcome> {
        let session = Session::open(ctx, self.timeout, &self.policy).await?;
        let found = labelled(&session, &ctx.vnf_instance.id).await?;
        if let (Some(source @ Source::Helm(_)), namespace) = Source::recorded(ctx, &found)? {
            // A chart's replica values change with the counts: it is rendered again
            // and applied, so the release's objects and values agree.
            let mut all = recorded_counts(ctx);
            all.extend(counts.iter().map(|(vdu, n)| (vdu.clone(), *n)));
            let namespace = namespace.map(Value::String);
            let outcome = self
                .deploy(
                    &session,
                    ctx,
                    ctx.vnfd,
                    ctx.flavour,
                    ctx.package,
                    &source,
                    namespace.as_ref(),
                    false,
                    &all,
                    false,
                    &[],
                )
                .await?;
            let pods = pods_of(&session, &ctx.vnf_instance.id, ctx.flavour).await?;
            mark_added_pods(&session, ctx, &pods).await?;
            return Ok(outcome);
        }
        // A scale in, or the rollback of a scale out, removes the pods not recorded
        // (or added last) first.
        let before = pods_of(&session, &ctx.vnf_instance.id, ctx.flavour).await?;
        mark_added_pods(&session, ctx, &before).await?;
        for (vdu_id, count) in counts {
            let vdu = ctx.flavour.vdu(vdu_id).ok_or_else(|| {
                Error::Unprocessable(format!("flavour {} has no VDU {vdu_id}", ctx.flavour.id))
            })?;
            let workload = found
                .iter()
                .find(|f| {
                    WORKLOAD_KINDS.contains(&f.kind())
                        && session.naming.is_workload_of(ctx.flavour, vdu, &f.name())
                })
                .ok_or_else(|| {
                    Error::Unprocessable(format!(
                        "VDU {vdu_id}: the cluster holds no workload {} of VNF instance {}",
                        vdu.name, ctx.vnf_instance.id
                    ))
                })?;
            if !scalable(workload.kind()) {
                return Err(Error::Unprocessable(format!(
                    "VDU {vdu_id} is the {}, which has no scale subresource",
                    workload.describe()
                )));
            }
            let api = session.api(
                &workload.resource,
                &workload.caps,
                workload.namespace().as_deref(),
            );
            api.patch_scale(
                &workload.name(),
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": count}})),
            )
            .await
            .map_err(|e| api_error(&format!("scaling {}", workload.describe()), e))?;
        }
        let pods = await_pods(
            &session,
            ctx,
            ctx.flavour,
            counts,
            &BTreeSet::new(),
            self.timeout,
        )
        .await?;
        mark_added_pods(&session, ctx, &pods).await?;
        let vnfcs = vnfcs(ctx, ctx.vnfd, &pods, &BTreeSet::new());
        Ok(outcome(
            ctx,
            ctx.flavour,
            vnfcs,
            ExtConnectivity::recorded(ctx),
            recorded_metadata(ctx, &found)?,
        ))
    }

    fn scale_counts(
        ctx: &InfraContext<'_>,
        target: &ScaleTarget,
        apply_target: bool,
    ) -> Result<BTreeMap<String, u32>> {
        let flavour = ctx.flavour;
        let mut levels: BTreeMap<String, u32> = ctx
            .vnf_instance
            .instantiated_vnf_info
            .as_ref()
            .map(|info| {
                info.scale_status
                    .iter()
                    .map(|s| (s.aspect_id.clone(), s.scale_level))
                    .collect()
            })
            .unwrap_or_default();
        let mut vdus = BTreeSet::new();
        for level in &target.scale_levels {
            let aspect = flavour.scaling_aspect(&level.aspect_id).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "flavour {} has no scaling aspect {}",
                    flavour.id, level.aspect_id
                ))
            })?;
            if apply_target {
                levels.insert(aspect.id.clone(), level.scale_level);
            }
            vdus.extend(aspect.vdus().map(str::to_owned));
        }
        let mut counts = BTreeMap::new();
        for vdu_id in vdus {
            if let Some(vdu) = flavour.vdu(&vdu_id) {
                counts.insert(vdu_id, flavour.vdu_instances(vdu, &levels));
            }
        }
        Ok(counts)
    }

    /// Change (or roll back) the package: apply the manifests of `package` with the
    /// recorded counts, remove what they no longer hold, wait for the rollout.
    async fn switch_package(
        &self,
        ctx: &InfraContext<'_>,
        vnfd: &Vnfd,
        package: &dyn PackageFiles,
        requested: Option<&KeyValuePairs>,
        ext_changes: &[ExtVirtualLinkData],
    ) -> Result<InfraOutcome> {
        let mut session = Session::open(ctx, self.timeout, &self.policy).await?;
        let found = labelled(&session, &ctx.vnf_instance.id).await?;
        let (recorded, namespace) = Source::recorded(ctx, &found)?;
        let id = &ctx.vnf_instance.id;
        let source = match (requested, recorded) {
            // A new chart path keeps the recorded values and replica mapping.
            (Some(params), Some(Source::Helm(helm)))
                if params.contains_key(HELM_CHART_PATH_PARAM) =>
            {
                let mut merged = helm.recorded().clone();
                merged.extend(
                    params
                        .iter()
                        .filter(|(k, _)| k.starts_with("helm_"))
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                Source::from_params(&merged, id)?
            }
            (Some(params), recorded) => Source::from_params(params, id)?.or(recorded),
            (None, recorded) => recorded,
        }
        .ok_or_else(|| {
            Error::InvalidRequest(format!(
                "additionalParams.{DEF_FILES_PARAM} or .{HELM_CHART_PATH_PARAM} is needed: VNF instance {id} records neither manifest files nor a chart"
            ))
        })?;
        session.naming = source.naming();
        let flavour = vnfd.flavour(&ctx.flavour.id).ok_or_else(|| {
            Error::Unprocessable(format!(
                "VNFD {} has no flavour {}, which the instance uses",
                vnfd.descriptor_id, ctx.flavour.id
            ))
        })?;
        let counts = recorded_counts(ctx);
        let namespace = namespace.map(Value::String);
        self.deploy(
            &session,
            ctx,
            vnfd,
            flavour,
            package,
            &source,
            namespace.as_ref(),
            false,
            &counts,
            true,
            ext_changes,
        )
        .await
    }
}

#[async_trait]
impl InfraDriver for KubernetesInfraDriver {
    fn vim_type(&self) -> &str {
        KUBERNETES_VIM_TYPE
    }

    fn capabilities(&self) -> InfraCapabilities {
        InfraCapabilities::new()
            .with(InfraOperation::Scale)
            .with(InfraOperation::HealVnfc)
            .with(InfraOperation::HealVnf)
            .with(InfraOperation::ChangeVnfpkg)
            .with(InfraOperation::Operate)
            .with(InfraOperation::ChangeFlavour)
            .with(InfraOperation::RollbackChangeFlavour)
            .with(InfraOperation::ChangeExtConn)
            .with(InfraOperation::RollbackChangeExtConn)
            .with(InfraOperation::RollbackInstantiate)
            .with(InfraOperation::RollbackScale)
            .with(InfraOperation::RollbackChangeVnfpkg)
    }

    /// Reads (or renders) the objects the operation would apply, connected to its
    /// external links, and fits the VDUs' workloads, as the operation will: what it
    /// would refuse is refused before the operation is accepted.
    async fn validate_request(
        &self,
        ctx: &InfraRequestContext<'_>,
        request: &OpRequest,
    ) -> Result<()> {
        let instance = ctx.vnf_instance;
        let recorded = || Source::from_params(&instance.metadata, &instance.id);
        let recorded_namespace = instance.metadata.get(NAMESPACE_PARAM).cloned();
        match request {
            OpRequest::Instantiate(request) => {
                no_managed_links(&request.ext_managed_virtual_links)?;
                let source = Source::requested(&request.additional_params, &instance.id)?;
                let counts = level_counts(ctx.flavour, request.instantiation_level_id.as_deref());
                self.check(
                    &source,
                    ctx.package,
                    ctx.flavour,
                    (request.additional_params.get(NAMESPACE_PARAM), true),
                    &counts,
                    &request.ext_virtual_links,
                )
                .await
            }
            OpRequest::ChangeFlavour(request) => {
                no_managed_links(&request.ext_managed_virtual_links)?;
                let flavour = new_flavour(ctx.vnfd, request)?;
                let Some(source) =
                    Source::from_params(&request.additional_params, &instance.id)?.or(recorded()?)
                else {
                    return Ok(());
                };
                let (namespace, strict) =
                    flavour_namespace(&request.additional_params, recorded_namespace);
                let counts = level_counts(flavour, request.instantiation_level_id.as_deref());
                let links = effective_links(instance, &request.ext_virtual_links);
                self.check(
                    &source,
                    ctx.package,
                    flavour,
                    (namespace.as_ref(), strict),
                    &counts,
                    &links,
                )
                .await
            }
            OpRequest::ChangeExtConn(request) => {
                let Some(source) = recorded()? else {
                    return Ok(());
                };
                let links = effective_links(instance, &request.ext_virtual_links);
                self.check(
                    &source,
                    ctx.package,
                    ctx.flavour,
                    (recorded_namespace.as_ref(), false),
                    &counts_of(instance),
                    &links,
                )
                .await
            }
            OpRequest::ChangeVnfpkg(request) => {
                no_managed_links(&request.ext_managed_virtual_links)?;
                Source::from_params(&request.additional_params, &instance.id).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome> {
        no_managed_links(&request.ext_managed_virtual_links)?;
        let source = Source::requested(&request.additional_params, &ctx.vnf_instance.id)?;
        let mut session = Session::open(ctx, self.timeout, &self.policy).await?;
        session.naming = source.naming();
        let level = request.instantiation_level_id.as_deref();
        let replicas = level_counts(ctx.flavour, level);
        self.deploy(
            &session,
            ctx,
            ctx.vnfd,
            ctx.flavour,
            ctx.package,
            &source,
            request.additional_params.get(NAMESPACE_PARAM),
            true,
            &replicas,
            false,
            &request.ext_virtual_links,
        )
        .await
    }

    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome> {
        let (grace, timeout) = match request.termination_type {
            TerminationType::Forceful => (Some(0), self.timeout),
            TerminationType::Graceful => {
                let grace = request.graceful_termination_timeout.unwrap_or(30);
                (
                    Some(u32::try_from(grace).unwrap_or(u32::MAX)),
                    self.timeout.max(Duration::from_secs(grace)),
                )
            }
        };
        self.remove_everything(ctx, grace, timeout).await
    }

    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        let counts = Self::scale_counts(ctx, target, true)?;
        self.scale_to(ctx, &counts).await
    }

    async fn heal(&self, ctx: &InfraContext<'_>, request: &HealVnfRequest) -> Result<InfraOutcome> {
        let recorded = recorded_vnfcs(ctx);
        let victims: Vec<VnfcResourceInfo> = if request.vnfc_instance_id.is_empty() {
            recorded.clone()
        } else {
            request
                .vnfc_instance_id
                .iter()
                .map(|id| {
                    recorded
                        .iter()
                        .find(|v| &v.id == id)
                        .cloned()
                        .ok_or_else(|| {
                            Error::Unprocessable(format!(
                                "VNF instance {} has no VNFC {id}",
                                ctx.vnf_instance.id
                            ))
                        })
                })
                .collect::<Result<_>>()?
        };
        let session = Session::open(ctx, self.timeout, &self.policy).await?;
        if request.vnfc_instance_id.is_empty() {
            // The whole VNF: first bring every object back to its manifest.
            let found = labelled(&session, &ctx.vnf_instance.id).await?;
            if let (Some(source), namespace) = Source::recorded(ctx, &found)? {
                let namespace = namespace.map(Value::String);
                let objects = self
                    .objects(
                        &source,
                        ctx.package,
                        ctx.flavour,
                        namespace.as_ref(),
                        &recorded_counts(ctx),
                        &effective_links(ctx.vnf_instance, &[]),
                    )
                    .await?;
                let namespace = namespace_of(&objects, namespace.as_ref(), false)?;
                let planned = plan(
                    &session,
                    objects,
                    &namespace,
                    &ctx.vnf_instance.id,
                    ctx.flavour,
                    &recorded_counts(ctx),
                    &crate::placement::zones(ctx, ctx.flavour),
                )?;
                apply(&session, &planned).await?;
            }
        }
        let (pod_resource, pod_caps) = session.core("Pod")?;
        let mut gone = BTreeSet::new();
        for victim in &victims {
            let Some(uid) = pod_uid(victim) else { continue };
            gone.insert(uid.to_owned());
            let namespace = victim
                .metadata
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let api = session.api(&pod_resource, &pod_caps, Some(namespace));
            let name = &victim.compute_resource.resource_id;
            let current = match api.get_opt(name).await {
                Ok(current) => current,
                Err(e) => return Err(api_error(&format!("reading pod {namespace}/{name}"), e)),
            };
            // Replaced already by an earlier attempt: nothing to do.
            let Some(current) = current.filter(|p| p.metadata.uid.as_deref() == Some(uid)) else {
                continue;
            };
            let bare = victim.compute_resource.vim_level_resource_type.as_deref() == Some("Pod");
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            };
            match api.delete(name, &params).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(api_error(&format!("deleting pod {namespace}/{name}"), e)),
            }
            if bare {
                // A bare pod comes back only if we create it again, from its own spec.
                let wait = async {
                    kube::runtime::wait::await_condition(
                        api.clone(),
                        name,
                        kube::runtime::wait::conditions::is_deleted::<DynamicObject>(uid),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::driver(DRIVER, true, format!("watching {name}: {e}")))
                };
                bounded(
                    &session,
                    ctx,
                    &format!("pod {name} was not deleted"),
                    self.timeout,
                    wait,
                )
                .await?;
                let again = bare_pod_again(ctx, &current, namespace).await?;
                let object: DynamicObject = serde_json::from_value(again)
                    .map_err(|e| Error::driver(DRIVER, false, format!("pod {name}: {e}")))?;
                api.patch(
                    name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&object),
                )
                .await
                .map_err(|e| api_error(&format!("re-creating pod {namespace}/{name}"), e))?;
            }
        }
        let found = labelled(&session, &ctx.vnf_instance.id).await?;
        let counts = heal_counts(session.naming, ctx, &found);
        let pods = await_pods(&session, ctx, ctx.flavour, &counts, &gone, self.timeout).await?;
        let healed: BTreeSet<String> = victims.iter().map(|v| v.id.clone()).collect();
        let vnfcs = vnfcs(ctx, ctx.vnfd, &pods, &healed);
        Ok(outcome(
            ctx,
            ctx.flavour,
            vnfcs,
            ExtConnectivity::recorded(ctx),
            recorded_metadata(ctx, &found)?,
        ))
    }

    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        no_managed_links(&request.ext_managed_virtual_links)?;
        let flavour = new_flavour(ctx.vnfd, request)?;
        let mut session = Session::open(ctx, self.timeout, &self.policy).await?;
        let found = labelled(&session, &ctx.vnf_instance.id).await?;
        let (recorded, namespace) = Source::recorded(ctx, &found)?;
        // The new flavour's manifests or chart, else those of the current one.
        let source = Source::from_params(&request.additional_params, &ctx.vnf_instance.id)?
            .or(recorded)
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "additionalParams.{DEF_FILES_PARAM} or .{HELM_CHART_PATH_PARAM} is needed: VNF instance {} records neither manifest files nor a chart",
                    ctx.vnf_instance.id
                ))
            })?;
        session.naming = source.naming();
        let level = request.instantiation_level_id.as_deref();
        let counts = level_counts(flavour, level);
        let (namespace, strict) =
            flavour_namespace(&request.additional_params, namespace.map(Value::String));
        // The old flavour's objects that the new one does not have are removed.
        self.deploy(
            &session,
            ctx,
            ctx.vnfd,
            flavour,
            ctx.package,
            &source,
            namespace.as_ref(),
            strict,
            &counts,
            true,
            &request.ext_virtual_links,
        )
        .await
    }

    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> Result<InfraOutcome> {
        let session = Session::open(ctx, self.timeout, &self.policy).await?;
        match request.change_state_to {
            VnfOperationalStateType::Stopped => {
                let grace = match request.stop_type {
                    Some(StopType::Forceful) => Some(0),
                    _ => request
                        .graceful_stop_timeout
                        .map(|t| u32::try_from(t).unwrap_or(u32::MAX)),
                };
                self.stop(&session, ctx, grace).await
            }
            VnfOperationalStateType::Started => self.start(&session, ctx).await,
        }
    }

    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        new_package: &dyn PackageFiles,
    ) -> Result<InfraOutcome> {
        no_managed_links(&request.ext_managed_virtual_links)?;
        self.switch_package(
            ctx,
            new_vnfd,
            new_package,
            Some(&request.additional_params),
            &request.ext_virtual_links,
        )
        .await
    }

    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        // The recorded objects again, with the external CPs on their new links.
        self.switch_package(ctx, ctx.vnfd, ctx.package, None, &request.ext_virtual_links)
            .await
    }

    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> Result<InfraOutcome> {
        match rollback {
            Rollback::Instantiate(_) => self.remove_everything(ctx, Some(0), self.timeout).await,
            Rollback::Scale(target) => {
                // The workloads of the target's aspects, back at the recorded levels.
                let counts = Self::scale_counts(ctx, target, false)?;
                self.scale_to(ctx, &counts).await
            }
            // The recorded objects and external links of the old flavour, package or
            // connectivity, with the recorded counts.
            Rollback::ChangeFlavour(_) | Rollback::ChangeVnfpkg(_) => {
                self.switch_package(ctx, ctx.vnfd, ctx.package, None, &[])
                    .await
            }
            Rollback::ChangeExtConn(_) => {
                let outcome = self
                    .switch_package(ctx, ctx.vnfd, ctx.package, None, &[])
                    .await?;
                let links = outcome.resources.ext_virtual_link_info.clone();
                Ok(outcome.with_changed_ext_connectivity(links))
            }
            other => Err(not_supported(KUBERNETES_VIM_TYPE, other.operation())),
        }
    }
}
