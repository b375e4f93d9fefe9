//! The resource types the API-server double serves, as its discovery documents list
//! them.

/// One resource type of the double.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Version served.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural resource name (the URL segment).
    pub plural: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names (`kubectl get deploy`).
    pub short_names: &'static [&'static str],
    /// Whether the type has a `scale` subresource.
    pub scale: bool,
    /// Whether the type only answers `create` (reviews), storing nothing.
    pub review: bool,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The verbs listed in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.review {
            vec!["create"]
        } else {
            vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }

    /// The singular name (lower-case kind).
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }
}

const fn rt(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        namespaced,
        short_names,
        scale: false,
        review: false,
    }
}

const fn scalable(mut t: ResourceType) -> ResourceType {
    t.scale = true;
    t
}

const fn review(mut t: ResourceType) -> ResourceType {
    t.review = true;
    t
}

/// Every resource type served.
pub const RESOURCE_TYPES: &[ResourceType] = &[
    rt("", "v1", "Namespace", "namespaces", false, &["ns"]),
    rt("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    rt("", "v1", "Secret", "secrets", true, &[]),
    rt("", "v1", "Service", "services", true, &["svc"]),
    rt("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    rt("", "v1", "Pod", "pods", true, &["po"]),
    rt("", "v1", "PodTemplate", "podtemplates", true, &[]),
    rt(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
    ),
    rt(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
    ),
    rt("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    rt(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
    ),
    rt("", "v1", "LimitRange", "limitranges", true, &["limits"]),
    rt("", "v1", "Node", "nodes", false, &["no"]),
    rt("", "v1", "Event", "events", true, &["ev"]),
    scalable(rt(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
    )),
    scalable(rt("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"])),
    scalable(rt(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
    )),
    rt("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]),
    rt(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
    ),
    rt("batch", "v1", "Job", "jobs", true, &[]),
    rt("batch", "v1", "CronJob", "cronjobs", true, &["cj"]),
    rt(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    ),
    rt(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
    ),
    rt(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
    ),
    rt(
        "storage.k8s.io",
        "v1",
        "VolumeAttachment",
        "volumeattachments",
        false,
        &[],
    ),
    rt(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    ),
    rt(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
    ),
    rt(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
    ),
    rt("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
    rt(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    ),
    rt(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        false,
        &[],
    ),
    review(rt(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
        &[],
    )),
    review(rt(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
        &[],
    )),
    review(rt(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        false,
        &[],
    )),
    review(rt(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        true,
        &[],
    )),
    review(rt(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        false,
        &[],
    )),
];

/// The type served at `group`/`version` under `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of an `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.api_version() == api_version && t.kind == kind)
}

/// The groups served, in discovery order, each with its versions (preferred first).
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for t in RESOURCE_TYPES {
        if t.group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) => {
                if !versions.contains(&t.version) {
                    versions.push(t.version);
                }
            }
            None => out.push((t.group, vec![t.version])),
        }
    }
    out
}
