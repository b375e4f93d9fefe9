//! What the router tests share: the whole API over the in-memory store, the in-memory
//! object store and the simulated VIM.

use std::sync::Arc;

use axum::Router;
use object_store::memory::InMemory;
use tacker_api::{Api, ApiConfig};
use tacker_core::lcm::VnfLcm;
use tacker_core::package::{PackageManagerConfig, VnfPackageManager};
use tacker_core::sim::SimInfraDriver;
use tacker_core::store::MemoryStore;
use tacker_core::vim::{Sealer, SealingKey, VimRegistry};

/// The router of an API with `config`, and its package manager.
pub fn api(config: ApiConfig) -> (Router, VnfPackageManager) {
    api_with(config, PackageManagerConfig::default(), None)
}

/// [`api`] with a package manager configured by `packages` and fetching packages for
/// `upload_from_uri` with `fetcher`.
pub fn api_with(
    config: ApiConfig,
    packages: PackageManagerConfig,
    fetcher: Option<Arc<dyn tacker_core::package::PackageFetcher>>,
) -> (Router, VnfPackageManager) {
    let store = Arc::new(MemoryStore::new());
    let mut packages = VnfPackageManager::new(store.clone(), Arc::new(InMemory::new()), packages);
    if let Some(fetcher) = fetcher {
        packages = packages.with_fetcher(fetcher);
    }
    let sim = SimInfraDriver::default();
    let vims = VimRegistry::new(
        store.clone(),
        Sealer::new(&SealingKey::generate().expect("a sealing key")),
        vec![Arc::new(sim.vim_driver())],
    );
    let lcm = VnfLcm::builder()
        .store(store)
        .packages(Arc::new(packages.clone()))
        .infra_driver(Arc::new(sim))
        .vim_registry(vims.clone())
        .build()
        .expect("the LCM engine");
    let router = Api::new(lcm, packages.clone(), vims, config).router();
    (router, packages)
}
