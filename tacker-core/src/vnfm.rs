//! [`Vnfm`]: the one assembly point of the library. It takes every component once (the
//! store, the sealing key, the API root, the package object store, the grant provider,
//! the notification sink, the VIM types, management drivers, monitors and policies),
//! builds the parts so that they share them, and starts and stops them together.
//!
//! ```
//! use std::sync::Arc;
//! use tacker_core::store::MemoryStore;
//! use tacker_core::{TenantId, Vnfm};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> tacker_core::Result<()> {
//! let vnfm = Vnfm::builder()
//!     .store(Arc::new(MemoryStore::new()))
//!     .api_root("https://vnfm.example.net")
//!     .vim_type(tacker_core::sim::SimInfraDriver::new().as_vim_type())
//!     .build()?;
//! vnfm.start().await?;
//! let tenant = TenantId::default();
//! let mut lcm_events = vnfm.lcm_notifications(&tenant, None).await?;
//! let packages = vnfm.packages().list(&tenant, &Default::default()).await?;
//! assert!(packages.items.is_empty());
//! # drop(lcm_events.callback_uri());
//! vnfm.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use crate::grant::GrantProvider;
use crate::infra::InfraDriver;
use crate::lcm::{Executor, LcmConfig, VnfFm, VnfLcm};
use crate::mgmt::MgmtDriver;
use crate::model::{
    FmNotificationsFilter, FmSubscriptionRequest, LccnSubscriptionRequest,
    LifecycleChangeNotificationsFilter, VimConnectionInfo,
};
#[cfg(feature = "packages")]
use crate::model::{PkgmNotificationsFilter, PkgmSubscriptionRequest};
use crate::monitor::{HealthConfig, HealthHandle, HealthService, MonitorDriver, PolicyDriver};
use crate::notify::{
    LocalRoutes, NotificationSender, NotificationSink, NotificationStream, OutboxSignal,
    RoutingSink, RunningSender, SenderConfig, SubscriptionKind, Subscriptions,
};
use crate::package::PackageSource;
#[cfg(feature = "packages")]
use crate::package::{PackageFetcher, PackageManagerConfig, VnfPackageManager};
use crate::store::{MemoryStore, Store};
use crate::vim::{Sealer, SealingKey, VimDriver, VimInfo, VimRegistration, VimRegistry};
use crate::{Error, Result, TenantId};

/// One kind of VIM as a unit: the infra driver that deploys on it and the VIM driver
/// that validates its registrations, for the same `vimType`.
#[derive(Debug, Clone)]
pub struct VimType {
    infra: Arc<dyn InfraDriver>,
    vim: Arc<dyn VimDriver>,
}

impl VimType {
    /// The unit of `infra` and `vim`. Fails when they declare different `vimType`s.
    pub fn new(infra: Arc<dyn InfraDriver>, vim: Arc<dyn VimDriver>) -> Result<Self> {
        if infra.vim_type() != vim.vim_type() {
            return Err(Error::InvalidRequest(format!(
                "a VIM type needs an infra driver and a VIM driver of one vimType, not {} and {}",
                infra.vim_type(),
                vim.vim_type()
            )));
        }
        Ok(Self { infra, vim })
    }

    /// The unit of two drivers known to declare the same `vimType`.
    #[cfg(feature = "sim")]
    pub(crate) fn from_parts(infra: Arc<dyn InfraDriver>, vim: Arc<dyn VimDriver>) -> Self {
        Self { infra, vim }
    }

    /// Its `vimType`.
    pub fn name(&self) -> &str {
        self.infra.vim_type()
    }

    /// The infra driver.
    pub fn infra_driver(&self) -> &Arc<dyn InfraDriver> {
        &self.infra
    }

    /// The VIM driver.
    pub fn vim_driver(&self) -> &Arc<dyn VimDriver> {
        &self.vim
    }
}

/// Builds a [`Vnfm`]; see the [module docs](self).
#[derive(Default)]
pub struct VnfmBuilder {
    store: Option<Arc<dyn Store>>,
    sealing_key: Option<SealingKey>,
    api_root: Option<String>,
    grants: Option<Arc<dyn GrantProvider>>,
    coordinator: Option<Arc<dyn crate::coordination::LcmCoordinator>>,
    sink: Option<Arc<dyn NotificationSink>>,
    vim_types: Vec<VimType>,
    vim_type_errors: Vec<Error>,
    mgmt: Vec<Arc<dyn MgmtDriver>>,
    monitors: Vec<Arc<dyn MonitorDriver>>,
    policies: Vec<Arc<dyn PolicyDriver>>,
    default_vims: Vec<(String, VimConnectionInfo)>,
    lcm_config: Option<LcmConfig>,
    health_config: Option<HealthConfig>,
    sender_config: Option<SenderConfig>,
    remote_executor: bool,
    local_files: Option<std::path::PathBuf>,
    #[cfg(feature = "packages")]
    package_manager: PackageManagerParts,
    package_source: Option<Arc<dyn PackageSource>>,
    #[cfg(feature = "packages")]
    package_source_over: Option<PackageSourceOver>,
    outbound: crate::outbound::OutboundPolicy,
    #[cfg(feature = "monitors")]
    builtin_monitors: Option<BuiltinMonitors>,
    default_vim_registrations: Vec<VimRegistration>,
}

/// Makes the engine's package source from the VNFM's package manager.
#[cfg(feature = "packages")]
type PackageSourceOver = Box<dyn FnOnce(VnfPackageManager) -> Arc<dyn PackageSource> + Send>;

/// What [`VnfmBuilder`] gathers for the package manager.
#[cfg(feature = "packages")]
#[derive(Default)]
struct PackageManagerParts {
    objects: Option<Arc<dyn object_store::ObjectStore>>,
    fetcher: Option<Arc<dyn PackageFetcher>>,
    config: Option<PackageManagerConfig>,
    spool_dir: Option<std::path::PathBuf>,
}

#[cfg(feature = "packages")]
impl PackageManagerParts {
    /// The package manager, with the local directories (when given) for what was not
    /// given explicitly.
    fn build(
        self,
        store: &Arc<dyn Store>,
        local: Option<&LocalFiles>,
        api_root: &str,
        sink: &Arc<dyn NotificationSink>,
        sealer: &Sealer,
        signal: &OutboxSignal,
    ) -> Result<VnfPackageManager> {
        let mut config = self.config.unwrap_or_default();
        config.api_root = api_root.to_owned();
        if self.spool_dir.is_some() {
            config.spool_dir = self.spool_dir;
        }
        let mut objects = self.objects;
        if let Some(local) = local {
            if objects.is_none() {
                objects = Some(local.objects()?);
            }
            if config.spool_dir.is_none() {
                config.spool_dir = Some(local.spool()?);
            }
        }
        let objects = objects.unwrap_or_else(|| Arc::new(object_store::memory::InMemory::new()));
        let mut packages = VnfPackageManager::builder(store.clone(), objects)
            .config(config)
            .notification_sink(sink.clone())
            .sealer(sealer.clone())
            .outbox_signal(signal.clone());
        if let Some(fetcher) = self.fetcher {
            packages = packages.fetcher(fetcher);
        }
        packages.build()
    }
}

/// The built-in monitors and policies of [`VnfmBuilder::builtin_monitors`]: HTTP and
/// ping probes, Alertmanager alerts, automatic heal and automatic scale.
#[cfg(feature = "monitors")]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuiltinMonitors {
    /// Probes run at once by each of the HTTP and ping monitors.
    pub max_concurrent_probes: usize,
    /// How automatic heal gathers failures and escalates.
    pub auto_heal: crate::monitor::AutoHealConfig,
    /// How automatic scale rests after a scale.
    pub auto_scale: crate::monitor::AutoScaleConfig,
    /// Where the HTTP monitor's probes may go. It is not the VNFM's outbound policy
    /// ([`VnfmBuilder::outbound_policy`]): probes go to the VNFCs' own addresses,
    /// usually private ones an operator closes to callbacks and downloads. Default:
    /// [`OutboundPolicy::default`](crate::outbound::OutboundPolicy::default), which
    /// refuses the cloud metadata and link-local addresses.
    pub probe_policy: crate::outbound::OutboundPolicy,
}

#[cfg(feature = "monitors")]
impl Default for BuiltinMonitors {
    fn default() -> Self {
        Self {
            max_concurrent_probes: 64,
            auto_heal: Default::default(),
            auto_scale: Default::default(),
            probe_policy: Default::default(),
        }
    }
}

#[cfg(feature = "monitors")]
impl BuiltinMonitors {
    /// At most `probes` probes at once per monitor.
    pub fn with_max_concurrent_probes(mut self, probes: usize) -> Self {
        self.max_concurrent_probes = probes;
        self
    }

    /// Automatic heal configured so.
    pub fn with_auto_heal(mut self, config: crate::monitor::AutoHealConfig) -> Self {
        self.auto_heal = config;
        self
    }

    /// The HTTP monitor's probes going only where `policy` allows.
    pub fn with_probe_policy(mut self, policy: crate::outbound::OutboundPolicy) -> Self {
        self.probe_policy = policy;
        self
    }

    /// Automatic scale configured so.
    pub fn with_auto_scale(mut self, config: crate::monitor::AutoScaleConfig) -> Self {
        self.auto_scale = config;
        self
    }
}

impl std::fmt::Debug for VnfmBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnfmBuilder")
            .field("api_root", &self.api_root)
            .field(
                "vim_types",
                &self.vim_types.iter().map(VimType::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl VnfmBuilder {
    /// The store (default: a [`MemoryStore`], which forgets everything at exit).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key sealing VIM and subscription credentials at rest. Required with a
    /// persistent store; keep it with the database.
    pub fn sealing_key(mut self, key: SealingKey) -> Self {
        self.sealing_key = Some(key);
        self
    }

    /// The absolute URI prefix of `_links` and `Location`s (default
    /// `http://127.0.0.1:9890`). Overrides the `api_root` of the configurations.
    pub fn api_root(mut self, api_root: impl Into<String>) -> Self {
        self.api_root = Some(api_root.into().trim_end_matches('/').to_owned());
        self
    }

    /// Keeps everything that is not in the store on local disk under `dir` (created
    /// when missing): package files in `dir/packages`, uploads spooled in `dir/spool`
    /// (stale spool files of a stopped process are removed), and, unless
    /// [`Self::sealing_key`] gives one, the sealing key in `dir/sealing.key`, created
    /// at first start. Explicit settings win over each of these.
    pub fn local_files(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.local_files = Some(dir.into());
        self
    }

    /// Where package uploads and downloads are spooled while they are onboarded
    /// (default: `dir/spool` of [`Self::local_files`], else the system's temporary
    /// directory). Use a disk, not a tmpfs.
    #[cfg(feature = "packages")]
    pub fn spool_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.package_manager.spool_dir = Some(dir.into());
        self
    }

    /// Where package files are kept (default: in memory).
    #[cfg(feature = "packages")]
    pub fn package_objects(mut self, objects: Arc<dyn object_store::ObjectStore>) -> Self {
        self.package_manager.objects = Some(objects);
        self
    }

    /// The packages the LCM engine instantiates from. Default: the package manager
    /// ([`Vnfm::packages`]); without the `packages` feature there is none, and this
    /// is required (e.g. the VNF packages an NFVO holds, read over SOL003).
    pub fn package_source(mut self, packages: Arc<dyn PackageSource>) -> Self {
        self.package_source = Some(packages);
        self
    }

    /// The packages the LCM engine instantiates from, made over the VNFM's own package
    /// manager: e.g. `tacker_api::NfvoPackageSource`, which falls back to the NFVO for
    /// the VNFDs not onboarded here. [`VnfmBuilder::package_source`] takes precedence.
    #[cfg(feature = "packages")]
    pub fn package_source_over_manager(
        mut self,
        make: impl FnOnce(VnfPackageManager) -> Arc<dyn PackageSource> + Send + 'static,
    ) -> Self {
        self.package_source_over = Some(Box::new(make));
        self
    }

    /// Who grants lifecycle operations (default: a local grant on the instance's VIM).
    pub fn grant_provider(mut self, grants: Arc<dyn GrantProvider>) -> Self {
        self.grants = Some(grants);
        self
    }

    /// Who runs the LCM coordination actions VNFDs declare (an EM or the NFVO:
    /// `tacker_api::HttpLcmCoordinator`). Without one, operations whose VNFD declares
    /// coordination actions are refused.
    pub fn lcm_coordinator(
        mut self,
        coordinator: Arc<dyn crate::coordination::LcmCoordinator>,
    ) -> Self {
        self.coordinator = Some(coordinator);
        self
    }

    /// Delivers notifications to subscribers' callback URIs (HTTP: `tacker-api`'s
    /// `HttpNotificationSink`). In-process streams ([`Vnfm::lcm_notifications`], …)
    /// need none; without one, notifications for other callbacks are retried and
    /// finally dropped as undeliverable.
    pub fn notification_sink(mut self, sink: Arc<dyn NotificationSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Fetches packages for `upload_from_uri` (without one, such uploads are refused).
    #[cfg(feature = "packages")]
    pub fn package_fetcher(mut self, fetcher: Arc<dyn PackageFetcher>) -> Self {
        self.package_manager.fetcher = Some(fetcher);
        self
    }

    /// A VIM type (its infra driver and VIM driver together).
    pub fn vim_type(mut self, vim_type: VimType) -> Self {
        self.vim_types.push(vim_type);
        self
    }

    /// A VIM type from its two drivers; a mismatch is reported by [`Self::build`].
    pub fn vim_drivers(self, infra: Arc<dyn InfraDriver>, vim: Arc<dyn VimDriver>) -> Self {
        match VimType::new(infra, vim) {
            Ok(vim_type) => self.vim_type(vim_type),
            Err(error) => {
                let mut this = self;
                this.vim_type_errors.push(error);
                this
            }
        }
    }

    /// A VIM given by its connection information rather than registered: used by an
    /// instantiation that names no VIM when the tenant has no default VIM in the
    /// registry either.
    pub fn default_vim(
        mut self,
        vim_connection_id: impl Into<String>,
        vim: VimConnectionInfo,
    ) -> Self {
        self.default_vims.push((vim_connection_id.into(), vim));
        self
    }

    /// A VIM registered at [`Vnfm::start`] as the default VIM of the default tenant,
    /// unless that tenant has a default VIM already (see [`Vnfm::ensure_default_vim`]).
    pub fn register_default_vim(mut self, registration: VimRegistration) -> Self {
        self.default_vim_registrations.push(registration);
        self
    }

    /// Where the VNFM may connect (callbacks, package downloads, VIM endpoints): the
    /// policy that HTTP clients and drivers built for this VNFM read with
    /// [`VnfmBuilder::outbound`]. The built-in monitors' probes have a policy of their
    /// own ([`BuiltinMonitors::probe_policy`]). Default:
    /// [`OutboundPolicy::default`](crate::outbound::OutboundPolicy::default).
    pub fn outbound_policy(mut self, policy: crate::outbound::OutboundPolicy) -> Self {
        self.outbound = policy;
        self
    }

    /// The outbound policy given so far.
    pub fn outbound(&self) -> &crate::outbound::OutboundPolicy {
        &self.outbound
    }

    /// The built-in monitors and policies: [`HttpMonitor`](crate::monitor::HttpMonitor)
    /// (under [`BuiltinMonitors::probe_policy`]), [`PingMonitor`](crate::monitor::PingMonitor),
    /// [`AlertmanagerMonitor`](crate::monitor::AlertmanagerMonitor) (see
    /// [`Vnfm::alertmanager`]), [`AutoHealPolicy`](crate::monitor::AutoHealPolicy) and
    /// [`AutoScalePolicy`](crate::monitor::AutoScalePolicy).
    #[cfg(feature = "monitors")]
    pub fn builtin_monitors(mut self, settings: BuiltinMonitors) -> Self {
        self.builtin_monitors = Some(settings);
        self
    }

    /// A management driver, selected by its name in the VNFD's `Vnflcm` bindings.
    pub fn mgmt_driver(mut self, driver: Arc<dyn MgmtDriver>) -> Self {
        self.mgmt.push(driver);
        self
    }

    /// A monitor of instance health.
    pub fn monitor(mut self, monitor: Arc<dyn MonitorDriver>) -> Self {
        self.monitors.push(monitor);
        self
    }

    /// A policy acting on health and alerts (auto-heal, auto-scale).
    pub fn policy(mut self, policy: Arc<dyn PolicyDriver>) -> Self {
        self.policies.push(policy);
        self
    }

    /// How the LCM engine runs (its `api_root` is replaced by [`Self::api_root`]'s).
    pub fn lcm_config(mut self, config: LcmConfig) -> Self {
        self.lcm_config = Some(config);
        self
    }

    /// How packages are handled (its `api_root` is replaced by [`Self::api_root`]'s).
    #[cfg(feature = "packages")]
    pub fn package_config(mut self, config: PackageManagerConfig) -> Self {
        self.package_manager.config = Some(config);
        self
    }

    /// How monitoring runs.
    pub fn health_config(mut self, config: HealthConfig) -> Self {
        self.health_config = Some(config);
        self
    }

    /// Operations are run by other processes sharing the store (this one only accepts
    /// them, as an API-only front end): requests are accepted before [`Vnfm::start`],
    /// which is otherwise a `Conflict` naming the missing start.
    pub fn remote_executor(mut self) -> Self {
        self.remote_executor = true;
        self
    }

    /// How notifications are retried.
    pub fn sender_config(mut self, config: SenderConfig) -> Self {
        self.sender_config = Some(config);
        self
    }

    /// The VNFM, not started yet. Fails on a persistent store without a sealing key,
    /// two VIM types of one `vimType`, or a VIM type whose drivers disagree.
    pub fn build(self) -> Result<Vnfm> {
        if let Some(error) = self.vim_type_errors.into_iter().next() {
            return Err(error);
        }
        let mut seen = std::collections::BTreeSet::new();
        for vim_type in &self.vim_types {
            if !seen.insert(vim_type.name().to_owned()) {
                return Err(Error::InvalidRequest(format!(
                    "vimType {} is registered twice",
                    vim_type.name()
                )));
            }
        }
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new()) as Arc<dyn Store>);
        let local = self.local_files.map(LocalFiles::new).transpose()?;
        let sealing_key = match (self.sealing_key, &local) {
            (Some(key), _) => Some(key),
            (None, Some(local)) => {
                Some(SealingKey::load_or_create(&local.dir.join("sealing.key"))?)
            }
            (None, None) => None,
        };
        let sealer = Sealer::required(
            sealing_key.as_ref().map(Sealer::new),
            store.as_ref(),
            "the VNFM",
        )?;
        let mut lcm_config = self.lcm_config.unwrap_or_default();
        let api_root = self
            .api_root
            .unwrap_or_else(|| lcm_config.api_root.trim_end_matches('/').to_owned());
        lcm_config.api_root = api_root.clone();
        let sender_config = self.sender_config.unwrap_or_else(|| {
            SenderConfig::default().with_owner(format!("{}-sender", lcm_config.executor_id))
        });

        let signal = OutboxSignal::new();
        let routes = LocalRoutes::new();
        let sink: Arc<dyn NotificationSink> = Arc::new(RoutingSink::new(routes.clone(), self.sink));
        #[cfg(feature = "packages")]
        let packages = self.package_manager.build(
            &store,
            local.as_ref(),
            &api_root,
            &sink,
            &sealer,
            &signal,
        )?;
        #[cfg(feature = "packages")]
        let over = self.package_source_over;
        let package_source: Arc<dyn PackageSource> = match self.package_source {
            Some(source) => source,
            #[cfg(feature = "packages")]
            None => match over {
                Some(make) => make(packages.clone()),
                None => Arc::new(packages.clone()),
            },
            #[cfg(not(feature = "packages"))]
            None => {
                return Err(Error::InvalidRequest(
                    "the VNFM has no packages to instantiate from: give VnfmBuilder::package_source, or enable the `packages` feature of tacker-core".to_owned(),
                ));
            }
        };
        let vims = VimRegistry::new(
            store.clone(),
            sealer.clone(),
            self.vim_types.iter().map(|t| t.vim.clone()).collect(),
        );
        let mut lcm = VnfLcm::builder()
            .store(store.clone())
            .packages(package_source)
            .vim_registry(vims.clone())
            .notification_sink(sink.clone())
            .sealer(sealer.clone())
            .outbox_signal(signal.clone())
            .require_started(!self.remote_executor)
            .config(lcm_config);
        for vim_type in &self.vim_types {
            lcm = lcm.infra_driver(vim_type.infra.clone());
        }
        for driver in self.mgmt {
            lcm = lcm.mgmt_driver(driver);
        }
        for (id, vim) in self.default_vims {
            lcm = lcm.default_vim(id, vim);
        }
        if let Some(coordinator) = self.coordinator {
            lcm = lcm.lcm_coordinator(coordinator);
        }
        if let Some(grants) = self.grants {
            lcm = lcm.grant_provider(grants);
        }
        let lcm = lcm.build()?;
        let fm = VnfFm::new(
            store.clone(),
            api_root.clone(),
            Subscriptions::new(store.clone(), Some(sink.clone()), sealer.clone(), &api_root),
            signal.clone(),
        );
        let sender = NotificationSender::new(store.clone(), sink, sealer, sender_config, signal);
        #[cfg_attr(not(feature = "monitors"), allow(unused_mut))]
        let (mut monitors, mut policies) = (self.monitors, self.policies);
        #[cfg(feature = "monitors")]
        let alertmanager = self.builtin_monitors.map(|settings| {
            use crate::monitor::{
                AlertmanagerMonitor, AutoHealPolicy, AutoScalePolicy, HttpMonitor, PingMonitor,
            };
            let alertmanager = Arc::new(AlertmanagerMonitor::new());
            monitors.push(Arc::new(
                HttpMonitor::new(settings.max_concurrent_probes)
                    .outbound_policy(settings.probe_policy),
            ));
            monitors.push(Arc::new(PingMonitor::new(settings.max_concurrent_probes)));
            monitors.push(alertmanager.clone());
            policies.push(Arc::new(AutoHealPolicy::new(settings.auto_heal)));
            policies.push(Arc::new(AutoScalePolicy::new(settings.auto_scale)));
            alertmanager
        });
        let monitoring = !monitors.is_empty() || !policies.is_empty();
        let health = HealthService::new(
            lcm.clone(),
            fm.clone(),
            monitors,
            policies,
            self.health_config.unwrap_or_default(),
        );
        Ok(Vnfm {
            inner: Arc::new(VnfmInner {
                store,
                api_root,
                lcm,
                fm,
                #[cfg(feature = "packages")]
                packages,
                vims,
                health,
                monitoring,
                sender,
                routes,
                outbound: self.outbound,
                #[cfg(feature = "monitors")]
                alertmanager,
                default_vim_registrations: self.default_vim_registrations,
                running: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

/// The local directory of [`VnfmBuilder::local_files`].
struct LocalFiles {
    dir: std::path::PathBuf,
}

impl LocalFiles {
    fn new(dir: std::path::PathBuf) -> Result<Self> {
        Ok(Self {
            dir: create_dir(dir)?,
        })
    }

    /// The package files, in `packages`.
    #[cfg(feature = "packages")]
    fn objects(&self) -> Result<Arc<dyn object_store::ObjectStore>> {
        let packages = create_dir(self.dir.join("packages"))?;
        let objects =
            object_store::local::LocalFileSystem::new_with_prefix(&packages).map_err(|e| {
                Error::InvalidRequest(format!("package files in {}: {e}", packages.display()))
            })?;
        Ok(Arc::new(objects))
    }

    /// The spool directory, `spool`, without the stale files of a stopped process.
    #[cfg(feature = "packages")]
    fn spool(&self) -> Result<std::path::PathBuf> {
        let spool = create_dir(self.dir.join("spool"))?;
        crate::package::remove_stale_spool_files(&spool);
        Ok(spool)
    }
}

fn create_dir(path: std::path::PathBuf) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(&path)
        .map(|()| path.clone())
        .map_err(|e| Error::InvalidRequest(format!("creating {}: {e}", path.display())))
}

struct Running {
    executor: Executor,
    sender: RunningSender,
    health: Option<HealthHandle>,
}

struct VnfmInner {
    store: Arc<dyn Store>,
    api_root: String,
    lcm: VnfLcm,
    fm: VnfFm,
    #[cfg(feature = "packages")]
    packages: VnfPackageManager,
    vims: VimRegistry,
    health: HealthService,
    /// Whether monitors or policies were given (the health service runs only then).
    monitoring: bool,
    sender: NotificationSender,
    routes: LocalRoutes,
    running: tokio::sync::Mutex<Option<Running>>,
    outbound: crate::outbound::OutboundPolicy,
    #[cfg(feature = "monitors")]
    alertmanager: Option<Arc<crate::monitor::AlertmanagerMonitor>>,
    default_vim_registrations: Vec<VimRegistration>,
}

/// An embeddable VNF Manager: LCM, packages, VIMs, fault management and health over one
/// store. Cheap to clone; every clone is the same VNFM.
#[derive(Clone)]
pub struct Vnfm {
    inner: Arc<VnfmInner>,
}

impl std::fmt::Debug for Vnfm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vnfm")
            .field("api_root", &self.inner.api_root)
            .field("lcm", &self.inner.lcm)
            .finish_non_exhaustive()
    }
}

impl Vnfm {
    /// A builder; see the [module docs](self).
    pub fn builder() -> VnfmBuilder {
        VnfmBuilder::default()
    }

    /// SOL003 lifecycle management.
    pub fn lcm(&self) -> &VnfLcm {
        &self.inner.lcm
    }

    /// Fault management: alarms and FM subscriptions.
    pub fn fm(&self) -> &VnfFm {
        &self.inner.fm
    }

    /// SOL005 package management.
    #[cfg(feature = "packages")]
    pub fn packages(&self) -> &VnfPackageManager {
        &self.inner.packages
    }

    /// The VIM registry.
    pub fn vims(&self) -> &VimRegistry {
        &self.inner.vims
    }

    /// Monitoring and policies (running after [`Self::start`] when monitors or policies
    /// were given).
    pub fn health(&self) -> &HealthService {
        &self.inner.health
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The API root of `_links`.
    pub fn api_root(&self) -> &str {
        &self.inner.api_root
    }

    /// The outbound policy the VNFM was built with.
    pub fn outbound_policy(&self) -> &crate::outbound::OutboundPolicy {
        &self.inner.outbound
    }

    /// The Alertmanager monitor of [`VnfmBuilder::builtin_monitors`], which a front
    /// end hands Alertmanager's webhook posts to.
    #[cfg(feature = "monitors")]
    pub fn alertmanager(&self) -> Option<&Arc<crate::monitor::AlertmanagerMonitor>> {
        self.inner.alertmanager.as_ref()
    }

    /// Starts the executor, the notification sender and (when monitors or policies
    /// were given) monitoring on the current tokio runtime; monitoring watches again the
    /// instances of the default tenant instantiated before (others:
    /// [`HealthService::sync_tenant`]). The VIMs of
    /// [`VnfmBuilder::register_default_vim`] are registered first. Starting a started
    /// VNFM does nothing.
    pub async fn start(&self) -> Result<()> {
        let mut running = self.inner.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        for registration in &self.inner.default_vim_registrations {
            if let Some(vim) = self
                .ensure_default_vim(&TenantId::default(), registration.clone())
                .await?
            {
                tracing::info!(
                    vim = vim.id,
                    vim_type = vim.vim_type,
                    "registered the default VIM"
                );
            }
        }
        let health = if self.inner.monitoring {
            Some(self.inner.health.start()?)
        } else {
            None
        };
        *running = Some(Running {
            executor: self.inner.lcm.start(),
            sender: self.inner.sender.start(),
            health,
        });
        drop(running);
        if self.inner.monitoring {
            self.inner.health.sync_tenant(&TenantId::default()).await?;
        }
        Ok(())
    }

    /// Whether [`Self::start`] ran and [`Self::shutdown`] did not.
    pub async fn is_running(&self) -> bool {
        self.inner.running.lock().await.is_some()
    }

    /// Stops monitoring, hands running operations back to the store (each resumes with
    /// its next step at the next start, here or in another process), and lets the
    /// notifications in flight end.
    pub async fn shutdown(&self) {
        let running = self.inner.running.lock().await.take();
        if let Some(running) = running {
            if let Some(health) = running.health {
                health.shutdown().await;
            }
            running.executor.shutdown().await;
            running.sender.shutdown().await;
        }
    }

    /// Registers `registration` for `tenant` unless the tenant has a default VIM already;
    /// returns the VIM registered, if one was.
    pub async fn ensure_default_vim(
        &self,
        tenant: &TenantId,
        registration: VimRegistration,
    ) -> Result<Option<VimInfo>> {
        if self.inner.vims.default_vim(tenant).await?.is_some() {
            return Ok(None);
        }
        self.inner
            .vims
            .register(tenant, registration)
            .await
            .map(Some)
    }

    /// LCM notifications (`VnfLcmOperationOccurrenceNotification`, …) of `tenant` as an
    /// in-process stream: a subscription with `filter` whose callback is this process.
    /// Dropping the stream removes the subscription.
    pub async fn lcm_notifications(
        &self,
        tenant: &TenantId,
        filter: Option<LifecycleChangeNotificationsFilter>,
    ) -> Result<NotificationStream> {
        self.in_process(self.inner.lcm.subscriptions(), tenant, |callback_uri| {
            LccnSubscriptionRequest {
                filter,
                callback_uri,
                authentication: None,
                verbosity: None,
            }
        })
        .await
    }

    /// FM notifications (`AlarmNotification`, …) of `tenant` as an in-process stream.
    pub async fn fm_notifications(
        &self,
        tenant: &TenantId,
        filter: Option<FmNotificationsFilter>,
    ) -> Result<NotificationStream> {
        self.in_process(self.inner.fm.subscriptions(), tenant, |callback_uri| {
            FmSubscriptionRequest {
                filter,
                callback_uri,
                authentication: None,
            }
        })
        .await
    }

    /// Package management notifications of `tenant` as an in-process stream.
    #[cfg(feature = "packages")]
    pub async fn package_notifications(
        &self,
        tenant: &TenantId,
        filter: Option<PkgmNotificationsFilter>,
    ) -> Result<NotificationStream> {
        self.in_process(
            self.inner.packages.subscriptions(),
            tenant,
            |callback_uri| PkgmSubscriptionRequest {
                filter,
                callback_uri,
                authentication: None,
            },
        )
        .await
    }

    async fn in_process<K: SubscriptionKind>(
        &self,
        subscriptions: &Subscriptions<K>,
        tenant: &TenantId,
        request: impl FnOnce(String) -> K::Request,
    ) -> Result<NotificationStream> {
        const STREAM_CAPACITY: usize = 256;
        let (uri, stream) = self.inner.routes.open(STREAM_CAPACITY);
        let subscription = subscriptions.subscribe(tenant, request(uri)).await?;
        let id = subscription_id::<K>(&subscription);
        let subscriptions = subscriptions.clone();
        let tenant = tenant.clone();
        Ok(stream.on_drop(move || {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = subscriptions.unsubscribe(&tenant, &id).await {
                        tracing::debug!(%error, subscription = id, "removing an in-process subscription failed");
                    }
                });
            }
        }))
    }
}

fn subscription_id<K: SubscriptionKind>(subscription: &K::Subscription) -> String {
    K::subscription_id(subscription).to_owned()
}
