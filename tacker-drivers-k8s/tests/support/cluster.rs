//! Where a test runs: the API-server double, or the real control plane that
//! `scripts/k8s-cluster.sh` starts (when `TACKER_TEST_K8S_SERVER` is set).
//!
//! On the real cluster every test has a namespace of its own, created as admin and
//! deleted when the [`Cluster`] is dropped, so tests run in parallel; the names of the
//! cluster-scoped objects of a corpus package (StorageClasses, PersistentVolumes…) get
//! the namespace's suffix for the same reason. The VIM user (`TACKER_TEST_K8S_USER`,
//! by its bearer token) may do in that namespace what the driver does (a RoleBinding
//! to `cluster-admin`), and cluster-wide read everything and manage StorageClasses and
//! PersistentVolumes (the ClusterRole `tacker-test-vim`, created idempotently). It is
//! not bound to create workloads cluster-wide, so the VIM's access review of the VIM
//! user stays "not allowed" (see `tests/vim.rs`).
//!
//! What a test inspects (objects, pods, labelled objects) is read with the admin
//! kubeconfig on the real cluster and from the double's store otherwise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, Discovery, Scope, verbs};
use serde_json::{Value, json};

use tacker_core::csar::{HashAlgorithm, digest_hex};
use tacker_core::model::{KeyValuePairs, VimConnectionInfo};
use tacker_core::package::InMemoryPackageFiles;
use tacker_core::vnfd::Vnfd;
use tacker_drivers_k8s::KUBERNETES_VIM_TYPE;
use tacker_drivers_k8s::testkit::ApiServerDouble;

/// The label of the namespaces the tests create on the real cluster.
pub const TEST_NAMESPACE_LABEL: &str = "tacker-test";

/// The ClusterRole (and ClusterRoleBinding) of the VIM user for these tests.
pub const VIM_CLUSTER_ROLE: &str = "tacker-test-vim";

/// Our field manager for what the tests apply as admin.
const TEST_MANAGER: &str = "tacker-tests";

/// Cluster-scoped kinds whose objects of a corpus package get the test's suffix.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "StorageClass",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "Namespace",
];

/// The environment `scripts/k8s-cluster.sh env` exports.
#[derive(Debug, Clone)]
pub struct RealEnv {
    pub server: String,
    pub ca_file: PathBuf,
    pub ca_pem: String,
    pub user: String,
    pub token: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub admin_kubeconfig: PathBuf,
    pub version: Option<String>,
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("TACKER_TEST_K8S_SERVER is set, so {name} must be too (scripts/k8s-cluster.sh env)")
    })
}

fn read_text(path: &Path, what: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{what} {} cannot be read: {e}", path.display()))
}

impl RealEnv {
    /// The real cluster's environment, or `None` (after saying why the test is skipped)
    /// when `TACKER_TEST_K8S_SERVER` is not set. In CI (`CI` set) its absence fails.
    pub fn from_env(test: &str) -> Option<Self> {
        let Ok(server) = std::env::var("TACKER_TEST_K8S_SERVER") else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: CI must run the Kubernetes tests on the real cluster \
                     (scripts/k8s-cluster.sh up; eval \"$(scripts/k8s-cluster.sh env)\")"
                );
            }
            eprintln!(
                "skipped {test} on the real cluster: TACKER_TEST_K8S_SERVER is not set \
                 (scripts/k8s-cluster.sh up; eval \"$(scripts/k8s-cluster.sh env)\")"
            );
            return None;
        };
        let ca_file = PathBuf::from(required("TACKER_TEST_K8S_CA"));
        let admin_kubeconfig = std::env::var("TACKER_TEST_K8S_ADMIN_KUBECONFIG")
            .or_else(|_| std::env::var("KUBECONFIG"))
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                panic!("TACKER_TEST_K8S_ADMIN_KUBECONFIG (or KUBECONFIG) must name the admin kubeconfig")
            });
        Some(Self {
            server,
            ca_pem: read_text(&ca_file, "the CA certificate"),
            ca_file,
            user: std::env::var("TACKER_TEST_K8S_USER").unwrap_or_else(|_| "tacker-vim".into()),
            token: required("TACKER_TEST_K8S_TOKEN"),
            client_cert_pem: read_text(
                Path::new(&required("TACKER_TEST_K8S_CLIENT_CERT")),
                "the VIM user's certificate",
            ),
            client_key_pem: read_text(
                Path::new(&required("TACKER_TEST_K8S_CLIENT_KEY")),
                "the VIM user's key",
            ),
            admin_kubeconfig,
            version: std::env::var("TACKER_TEST_K8S_VERSION").ok(),
        })
    }

    /// A client with the admin kubeconfig.
    pub async fn admin_client(&self) -> kube::Client {
        admin_client(&self.admin_kubeconfig).await
    }

    /// The VIM by the VIM user's bearer token, trusting the cluster's CA.
    pub fn vim_by_token(&self) -> VimConnectionInfo {
        vim_info(
            &self.server,
            Some(&self.ca_pem),
            [("bearer_token", self.token.as_str())],
        )
    }

    /// The VIM by the VIM user's client certificate, trusting the cluster's CA.
    pub fn vim_by_certificate(&self) -> VimConnectionInfo {
        vim_info(
            &self.server,
            Some(&self.ca_pem),
            [
                ("client_cert", self.client_cert_pem.as_str()),
                ("client_key", self.client_key_pem.as_str()),
            ],
        )
    }
}

/// A `vimConnectionInfo` of a Kubernetes VIM.
pub fn vim_info<'a>(
    endpoint: &str,
    ca_pem: Option<&str>,
    access: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> VimConnectionInfo {
    let mut interface_info = KeyValuePairs::new();
    interface_info.insert("endpoint".into(), json!(endpoint));
    if let Some(ca) = ca_pem {
        interface_info.insert("ssl_ca_cert".into(), json!(ca));
    }
    let mut access_info = KeyValuePairs::new();
    for (key, value) in access {
        access_info.insert(key.into(), json!(value));
    }
    VimConnectionInfo {
        vim_id: Some("k8s".to_owned()),
        vim_type: KUBERNETES_VIM_TYPE.to_owned(),
        interface_info,
        access_info,
        extra: KeyValuePairs::new(),
    }
}

/// A kube-rs client from a kubeconfig file.
pub async fn admin_client(path: &Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("the admin kubeconfig {} reads: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("the admin kubeconfig {} is usable: {e}", path.display()));
    kube::Client::try_from(config).expect("a client of the admin kubeconfig")
}

/// Runs `check` every 250 ms until it answers `Some`, for at most `limit`.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The real cluster of one test: its namespace, the admin's client and discovery.
pub struct Real {
    pub env: RealEnv,
    pub admin: kube::Client,
    discovery: Discovery,
}

enum Backend {
    Double(Arc<ApiServerDouble>),
    Real(Box<Real>),
}

/// Where one test runs.
pub struct Cluster {
    backend: Backend,
    namespace: String,
    /// Appended to the names of cluster-scoped objects (empty on the double).
    suffix: String,
    vim: VimConnectionInfo,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("real", &self.is_real())
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Cluster {
    /// The double, whose pods become ready after `delay`; its namespace `default`.
    pub async fn double(delay: Duration) -> Self {
        let double = Arc::new(super::double(delay).await);
        Self::of_double(double)
    }

    /// A cluster of an existing double.
    pub fn of_double(double: Arc<ApiServerDouble>) -> Self {
        let vim = super::vim_of(&double);
        Self {
            backend: Backend::Double(double),
            namespace: "default".to_owned(),
            suffix: String::new(),
            vim,
        }
    }

    /// The real cluster with a fresh namespace for `test`, or `None` (skipped) without
    /// `TACKER_TEST_K8S_SERVER`.
    pub async fn real(test: &str) -> Option<Self> {
        let env = RealEnv::from_env(test)?;
        let admin = env.admin_client().await;
        let discovery = Discovery::new(admin.clone())
            .run()
            .await
            .expect("the admin's API discovery");
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let namespace = format!("tk-{suffix}");
        let vim = env.vim_by_token();
        let cluster = Self {
            backend: Backend::Real(Box::new(Real {
                env,
                admin,
                discovery,
            })),
            namespace,
            suffix,
            vim,
        };
        cluster.prepare(test).await;
        Some(cluster)
    }

    /// The namespace and the VIM user's permissions.
    async fn prepare(&self, test: &str) {
        let real = self.real_parts().expect("the real cluster");
        let admin = &real.admin;
        let user = &real.env.user;
        let apply = PatchParams::apply(TEST_MANAGER).force();
        ensure_vim_cluster_role(admin, user).await;
        let namespaces: Api<DynamicObject> = Api::all_with(admin.clone(), &namespace_resource());
        let test_label: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(63)
            .collect::<String>()
            .trim_matches('-')
            .to_owned();
        let namespace: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": {TEST_NAMESPACE_LABEL: "drivers-k8s", "tacker-test/name": test_label}},
        }))
        .expect("a Namespace");
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {}: {e}", self.namespace));
        let bindings: Api<DynamicObject> = Api::namespaced_with(
            admin.clone(),
            &self.namespace,
            &ApiResource::from_gvk_with_plural(
                &kube::core::GroupVersionKind::gvk(
                    "rbac.authorization.k8s.io",
                    "v1",
                    "RoleBinding",
                ),
                "rolebindings",
            ),
        );
        let binding: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "tacker-vim-admin", "namespace": self.namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }))
        .expect("a RoleBinding");
        bindings
            .patch("tacker-vim-admin", &apply, &Patch::Apply(&binding))
            .await
            .unwrap_or_else(|e| panic!("binding {user} in {}: {e}", self.namespace));
        // RBAC answers from its caches: wait until they know the bindings.
        for (namespace, group, resource, verb) in [
            (
                Some(self.namespace.as_str()),
                "apps",
                "deployments",
                "create",
            ),
            (None, "storage.k8s.io", "storageclasses", "create"),
            (None, "", "pods", "watch"),
        ] {
            poll(
                &format!("{user} may {verb} {resource}"),
                Duration::from_secs(20),
                || async {
                    access_allowed(admin, user, &[], namespace, group, resource, verb)
                        .await
                        .then_some(())
                },
            )
            .await;
        }
    }

    pub fn is_real(&self) -> bool {
        matches!(self.backend, Backend::Real(_))
    }

    /// The double, when the test runs on it.
    pub fn as_double(&self) -> Option<&Arc<ApiServerDouble>> {
        match &self.backend {
            Backend::Double(double) => Some(double),
            Backend::Real(_) => None,
        }
    }

    /// The real cluster, when the test runs on it.
    pub fn real_parts(&self) -> Option<&Real> {
        match &self.backend {
            Backend::Real(real) => Some(real),
            Backend::Double(_) => None,
        }
    }

    /// What names of this test's cluster-scoped objects end with (after a dash; empty
    /// on the double).
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The namespace of the test's objects.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The VIM the driver uses.
    pub fn vim(&self) -> VimConnectionInfo {
        self.vim.clone()
    }

    /// What a cluster-scoped object of a corpus package is called in this test.
    pub fn cluster_scoped_name(&self, name: &str) -> String {
        if self.suffix.is_empty() {
            name.to_owned()
        } else {
            format!("{name}-{}", self.suffix)
        }
    }

    /// How many nodes a DaemonSet without a node selector has a pod on.
    pub async fn schedulable_nodes(&self) -> u32 {
        match &self.backend {
            Backend::Double(_) => 1,
            Backend::Real(real) => {
                let nodes: Api<DynamicObject> = Api::all_with(real.admin.clone(), &node_resource());
                let list = nodes
                    .list(&ListParams::default())
                    .await
                    .expect("the nodes list");
                let count = list
                    .items
                    .iter()
                    .filter(|n| {
                        n.data["spec"]["unschedulable"] != true
                            && n.data["spec"]["taints"]
                                .as_array()
                                .is_none_or(|t| t.is_empty())
                    })
                    .count();
                u32::try_from(count).expect("a count of nodes")
            }
        }
    }

    /// One object: `plural` in `group` (`""` for core), `namespace` (`""` when
    /// cluster-scoped) and `name`.
    pub async fn object(
        &self,
        group: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        match &self.backend {
            Backend::Double(double) => double.object(group, plural, namespace, name),
            Backend::Real(real) => {
                let (resource, caps) = real.resource(group, plural);
                let api = real.api(&resource, &caps, Some(namespace));
                api.get_opt(name)
                    .await
                    .unwrap_or_else(|e| panic!("reading {plural} {namespace}/{name}: {e}"))
                    .map(|o| serde_json::to_value(o).expect("an object as JSON"))
            }
        }
    }

    /// The names of the pods in `namespace`, sorted.
    pub async fn pod_names(&self, namespace: &str) -> Vec<String> {
        match &self.backend {
            Backend::Double(double) => double.pod_names(namespace),
            Backend::Real(real) => {
                let (resource, caps) = real.resource("", "pods");
                let mut names: Vec<String> = real
                    .api(&resource, &caps, Some(namespace))
                    .list(&ListParams::default())
                    .await
                    .expect("the pods list")
                    .items
                    .into_iter()
                    .filter_map(|p| p.metadata.name)
                    .collect();
                names.sort();
                names
            }
        }
    }

    /// Every object (any kind, any namespace) labelled `key=value`, as `(kind,
    /// namespace, name)`, sorted. On the real cluster, the Endpoints and EndpointSlices
    /// that the cluster keeps for a deleted Service (with its labels) are waited for
    /// to go, for up to 15 s.
    pub async fn objects_labelled(&self, key: &str, value: &str) -> Vec<(String, String, String)> {
        let Backend::Real(real) = &self.backend else {
            return self
                .as_double()
                .expect("the double")
                .objects_labelled(key, value);
        };
        let selector = format!("{key}={value}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let objects = real.labelled(&selector).await;
            let services: BTreeSet<(String, String)> = objects
                .iter()
                .filter(|(kind, _)| kind == "Service")
                .map(|(_, o)| {
                    (
                        o.metadata.namespace.clone().unwrap_or_default(),
                        o.metadata.name.clone().unwrap_or_default(),
                    )
                })
                .collect();
            let orphaned = objects.iter().any(|(kind, o)| {
                let namespace = o.metadata.namespace.clone().unwrap_or_default();
                let service = match kind.as_str() {
                    "Endpoints" => o.metadata.name.clone(),
                    "EndpointSlice" => o
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("kubernetes.io/service-name").cloned()),
                    _ => return false,
                };
                service.is_some_and(|s| !services.contains(&(namespace, s)))
            });
            if !orphaned || tokio::time::Instant::now() >= deadline {
                let mut out: Vec<(String, String, String)> = objects
                    .into_iter()
                    .map(|(kind, o)| {
                        (
                            kind,
                            o.metadata.namespace.unwrap_or_default(),
                            o.metadata.name.unwrap_or_default(),
                        )
                    })
                    .collect();
                out.sort();
                return out;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The corpus package `name`, read as onboarding reads it; on the real cluster its
    /// manifests name this test's namespace instead of `default`, and its cluster-scoped
    /// objects (and the references to them) carry this test's suffix.
    pub fn package(&self, corpus: &Path, name: &str) -> (Vnfd, InMemoryPackageFiles) {
        let (vnfd, files) = super::corpus_package(corpus, name);
        if !self.is_real() {
            return (vnfd, files);
        }
        (vnfd, self.package_with(corpus, name, |_, bytes| bytes))
    }

    /// The files of [`Self::package`], each then changed by `change` (with the digests
    /// updated).
    pub fn package_with(
        &self,
        corpus: &Path,
        name: &str,
        mut change: impl FnMut(&str, Vec<u8>) -> Vec<u8>,
    ) -> InMemoryPackageFiles {
        let dir = corpus.join(name).join("package");
        let scoped = cluster_scoped_names(&dir);
        rewritten_package(&dir, |path, bytes| {
            let bytes = if is_manifest(path) && self.is_real() {
                match String::from_utf8(bytes) {
                    Ok(text) => self.adapt(&text, &scoped).into_bytes(),
                    Err(e) => e.into_bytes(),
                }
            } else {
                bytes
            };
            change(path, bytes)
        })
    }

    /// A manifest for this test: `namespace: default` becomes the test's namespace;
    /// the names in `scoped` get the suffix.
    pub fn adapt(&self, text: &str, scoped: &BTreeSet<String>) -> String {
        if !self.is_real() {
            return text.to_owned();
        }
        let mut out = text.replace(
            "namespace: default",
            &format!("namespace: {}", self.namespace),
        );
        for name in scoped {
            out = replace_word(&out, name, &self.cluster_scoped_name(name));
        }
        out
    }
}

impl Real {
    /// The resource `plural` of `group` in the admin's discovery.
    pub fn resource(&self, group: &str, plural: &str) -> (ApiResource, ApiCapabilities) {
        self.discovery
            .groups()
            .filter(|g| g.name() == group)
            .flat_map(|g| g.recommended_resources())
            .find(|(r, _)| r.plural == plural)
            .unwrap_or_else(|| panic!("the API server offers {plural} in group {group:?}"))
    }

    fn api(
        &self,
        resource: &ApiResource,
        caps: &ApiCapabilities,
        namespace: Option<&str>,
    ) -> Api<DynamicObject> {
        match (caps.scope == Scope::Namespaced, namespace) {
            (true, Some(ns)) if !ns.is_empty() => {
                Api::namespaced_with(self.admin.clone(), ns, resource)
            }
            _ => Api::all_with(self.admin.clone(), resource),
        }
    }

    /// Every object of every listable kind matching `selector`, with its kind (the
    /// kinds listed 16 at a time).
    async fn labelled(&self, selector: &str) -> Vec<(String, DynamicObject)> {
        use futures::StreamExt;
        let listable: Vec<ApiResource> = self
            .discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .filter(|(_, caps)| caps.supports_operation(verbs::LIST))
            .map(|(resource, _)| resource)
            .collect();
        let lists = futures::stream::iter(listable.into_iter().map(|resource| async move {
            let api: Api<DynamicObject> = Api::all_with(self.admin.clone(), &resource);
            match api.list(&ListParams::default().labels(selector)).await {
                Ok(list) => list
                    .items
                    .into_iter()
                    .map(|o| (resource.kind.clone(), o))
                    .collect(),
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 405 => {
                    Vec::new()
                }
                Err(e) => panic!("listing {} labelled {selector}: {e}", resource.plural),
            }
        }))
        .buffer_unordered(16)
        .collect::<Vec<Vec<(String, DynamicObject)>>>()
        .await;
        lists.into_iter().flatten().collect()
    }
}

impl Drop for Cluster {
    /// Deletes the test's namespace and its cluster-scoped objects (by their suffix),
    /// unless `TACKER_TEST_K8S_KEEP` is set.
    fn drop(&mut self) {
        let Backend::Real(real) = &self.backend else {
            return;
        };
        if std::env::var_os("TACKER_TEST_K8S_KEEP").is_some() {
            eprintln!("kept namespace {} (TACKER_TEST_K8S_KEEP)", self.namespace);
            return;
        }
        let kubeconfig = real.env.admin_kubeconfig.clone();
        let namespace = self.namespace.clone();
        let suffix = format!("-{}", self.suffix);
        // A runtime of its own: the test's may be ending.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the cleanup");
            runtime.block_on(async move {
                tokio::time::timeout(
                    Duration::from_secs(30),
                    clean_up(&kubeconfig, &namespace, &suffix),
                )
                .await
                .unwrap_or_else(|_| eprintln!("cleaning up {namespace} took over 30 s"));
            });
        });
        if cleanup.join().is_err() {
            eprintln!("cleaning up namespace {} failed", self.namespace);
        }
    }
}

/// Deletes `namespace` and the cluster-scoped objects whose names end in `suffix`.
async fn clean_up(kubeconfig: &Path, namespace: &str, suffix: &str) {
    let admin = admin_client(kubeconfig).await;
    let background = DeleteParams::background();
    let namespaces: Api<DynamicObject> = Api::all_with(admin.clone(), &namespace_resource());
    if let Err(e) = namespaces.delete(namespace, &background).await
        && !matches!(&e, kube::Error::Api(s) if s.code == 404)
    {
        eprintln!("deleting namespace {namespace}: {e}");
    }
    for (group, version, kind, plural) in [
        ("storage.k8s.io", "v1", "StorageClass", "storageclasses"),
        ("", "v1", "PersistentVolume", "persistentvolumes"),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
        (
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
        ),
        (
            "certificates.k8s.io",
            "v1",
            "CertificateSigningRequest",
            "certificatesigningrequests",
        ),
    ] {
        let resource = ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(group, version, kind),
            plural,
        );
        let api: Api<DynamicObject> = Api::all_with(admin.clone(), &resource);
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue;
        };
        for object in list.items {
            let name = object.metadata.name.unwrap_or_default();
            if name.ends_with(suffix) {
                let _ = api.delete(&name, &background).await;
            }
        }
    }
}

fn namespace_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("", "v1", "Namespace"),
        "namespaces",
    )
}

fn node_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("", "v1", "Node"),
        "nodes",
    )
}

/// The ClusterRole of the VIM user for these tests and its binding, applied (again)
/// as admin: read everything, manage StorageClasses and PersistentVolumes.
pub async fn ensure_vim_cluster_role(admin: &kube::Client, user: &str) {
    let apply = PatchParams::apply(TEST_MANAGER).force();
    let rbac = |kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", kind),
            plural,
        )
    };
    let roles: Api<DynamicObject> =
        Api::all_with(admin.clone(), &rbac("ClusterRole", "clusterroles"));
    let role: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": VIM_CLUSTER_ROLE},
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["*"]},
        ],
    }))
    .expect("a ClusterRole");
    roles
        .patch(VIM_CLUSTER_ROLE, &apply, &Patch::Apply(&role))
        .await
        .unwrap_or_else(|e| panic!("applying ClusterRole {VIM_CLUSTER_ROLE}: {e}"));
    let bindings: Api<DynamicObject> = Api::all_with(
        admin.clone(),
        &rbac("ClusterRoleBinding", "clusterrolebindings"),
    );
    let binding: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": VIM_CLUSTER_ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": VIM_CLUSTER_ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
    .expect("a ClusterRoleBinding");
    bindings
        .patch(VIM_CLUSTER_ROLE, &apply, &Patch::Apply(&binding))
        .await
        .unwrap_or_else(|e| panic!("applying ClusterRoleBinding {VIM_CLUSTER_ROLE}: {e}"));
}

/// Whether `user` may `verb` `resource` (in `namespace`, or cluster-wide), by a
/// SubjectAccessReview as admin.
pub async fn access_allowed(
    admin: &kube::Client,
    user: &str,
    groups: &[&str],
    namespace: Option<&str>,
    group: &str,
    resource: &str,
    verb: &str,
) -> bool {
    let reviews: Api<DynamicObject> = Api::all_with(
        admin.clone(),
        &ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("authorization.k8s.io", "v1", "SubjectAccessReview"),
            "subjectaccessreviews",
        ),
    );
    let mut attributes = json!({"group": group, "resource": resource, "verb": verb});
    if let Some(ns) = namespace {
        attributes["namespace"] = json!(ns);
    }
    let review: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {},
        "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
    }))
    .expect("a SubjectAccessReview");
    let answer = reviews
        .create(&PostParams::default(), &review)
        .await
        .expect("a SubjectAccessReview answers");
    answer.data["status"]["allowed"] == true
}

fn is_manifest(path: &str) -> bool {
    path.starts_with("Files/kubernetes/") && (path.ends_with(".yaml") || path.ends_with(".yml"))
}

/// The names of the cluster-scoped objects of the manifests below `package`.
fn cluster_scoped_names(package: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (path, absolute) in tacker_core::testkit::corpus::files_below(package) {
        if !is_manifest(&path) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(absolute) else {
            continue;
        };
        let Ok(documents) = serde_saphyr::from_multiple::<Value>(&text) else {
            continue;
        };
        for document in documents {
            if CLUSTER_SCOPED_KINDS.contains(&document["kind"].as_str().unwrap_or_default())
                && let Some(name) = document["metadata"]["name"].as_str()
            {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// `text` with every whole occurrence of `word` (not part of a longer name) replaced.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        out.push_str(&rest[..at]);
        let before = out.chars().last();
        let after = rest[at + word.len()..].chars().next();
        if before.is_some_and(part_of_name) || after.is_some_and(part_of_name) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// The files of the package in `dir` with `change` applied to each, and the SHA-256
/// digests that TOSCA.meta declares for changed files updated.
pub fn rewritten_package(
    dir: &Path,
    mut change: impl FnMut(&str, Vec<u8>) -> Vec<u8>,
) -> InMemoryPackageFiles {
    let mut digests = Vec::new();
    let mut contents = Vec::new();
    for (path, absolute) in tacker_core::testkit::corpus::files_below(dir) {
        let bytes = std::fs::read(absolute).expect("a corpus file reads");
        let changed = change(&path, bytes.clone());
        if changed != bytes {
            let old = digest_hex(HashAlgorithm::Sha256, &mut bytes.as_slice()).expect("hashing");
            let new = digest_hex(HashAlgorithm::Sha256, &mut changed.as_slice()).expect("hashing");
            digests.push((old, new));
        }
        contents.push((path, changed));
    }
    let mut files = InMemoryPackageFiles::new();
    for (path, mut bytes) in contents {
        let declares =
            path == "TOSCA-Metadata/TOSCA.meta" || (!path.contains('/') && path.ends_with(".mf"));
        if declares && !digests.is_empty() {
            let mut text = String::from_utf8(bytes).expect("TOSCA.meta is text");
            for (old, new) in &digests {
                text = text.replace(old.as_str(), new);
            }
            bytes = text.into_bytes();
        }
        files = files.with_file(path, bytes);
    }
    files
}
