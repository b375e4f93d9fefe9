//! The ETSI NFV REST APIs as an axum [`Router`] an embedder can mount.
//!
//! | Prefix | API | Version |
//! |---|---|---|
//! | `/vnflcm/v2` | SOL003/SOL002 VNF lifecycle management | 2.3.0 |
//! | `/vnfpkgm/v2` | SOL005 VNF package management | 2.4.0 |
//! | `/vnfpkgm/v1` | the same, in the SOL005 v2.6.1 shape | 1.3.0 |
//! | `/vims` | the VIM registry (this VNFM's own API) | 1.0.0 |
//!
//! Every API follows SOL013: the `Version` header is required (400 when missing, 406
//! when unsupported; the v1 package API and `api_versions` let it pass), every error is
//! `application/problem+json`, lists take `filter`, the attribute selectors and
//! `nextpage_opaque_marker` and answer with `Link: <…>; rel="next"` when more follow.
//!
//! Who calls is a [`Principal`] the [`auth`] middleware puts into the request; without
//! authentication every request acts for the configured default tenant.

mod attributes;
pub mod auth;
mod fm;
pub mod guard;
mod lcm;
pub mod limits;
mod monitoring;
mod openapi;
pub(crate) mod pkgm;
pub mod sol013;
mod subscriptions;
mod vims;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use tacker_core::lcm::{VnfFm, VnfLcm};
use tacker_core::package::VnfPackageManager;
use tacker_core::vim::VimRegistry;
use tacker_core::{TenantId, Vnfm};

use sol013::{ApiError, ApiVersion};

/// The version of `/vnflcm/v2`.
pub const VNFLCM_VERSION: &str = "2.3.0";
/// The version of `/vnfpkgm/v2`.
pub const VNFPKGM_VERSION: &str = "2.4.0";
/// The version of `/vnfpkgm/v1`.
pub const VNFPKGM_V1_VERSION: &str = "1.3.0";
/// The version of `/vims`.
pub const VIMS_VERSION: &str = "1.0.0";
/// The version of the VNF fault management API (SOL003 v3.7.1 `/vnffm/v1`).
pub const VNFFM_VERSION: &str = "1.5.0";
/// The version of the monitoring webhook API (this VNFM's own).
pub const MONITORING_VERSION: &str = "1.0.0";

/// Who makes a request: set by the authentication middleware.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The user name or the token's subject.
    pub subject: String,
    /// The tenant every resource of the request belongs to.
    pub tenant: TenantId,
    /// What the caller may do, e.g. `vnflcm`, `vnfpkgm:readonly`.
    pub scopes: Vec<String>,
}

/// How the API behaves beyond what the [`Vnfm`] says (its API root, package size limit
/// and spool directory are the VNFM's).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiConfig {
    /// The tenant of requests no authentication assigned one.
    pub default_tenant: TenantId,
    /// Items per page of a list (SOL013 paging): 1 to [`sol013::MAX_PAGE_SIZE`],
    /// default [`sol013::PAGE_SIZE`].
    pub page_size: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            default_tenant: TenantId::new(TenantId::DEFAULT),
            page_size: sol013::PAGE_SIZE,
        }
    }
}

impl ApiConfig {
    /// The same with `page_size` items per page (kept within 1 to
    /// [`sol013::MAX_PAGE_SIZE`]).
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.clamp(1, sol013::MAX_PAGE_SIZE);
        self
    }
}

impl ApiConfig {
    /// The defaults with another default tenant.
    pub fn with_default_tenant(mut self, tenant: TenantId) -> Self {
        self.default_tenant = tenant;
        self
    }
}

/// What handlers read of the configuration: the API's and the VNFM's.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The absolute URI prefix clients reach the server at (for `Link` headers and
    /// `Location`): the VNFM's API root, which its `_links` use too.
    pub(crate) api_root: String,
    /// The tenant of requests no authentication assigned one.
    pub(crate) default_tenant: TenantId,
    /// The largest package body `PUT package_content` accepts, in bytes (the package
    /// manager's limit, which it applies to uploads from a URI too).
    pub(crate) max_package_size: u64,
    /// Where request bodies of `PUT package_content` are spooled (the package
    /// manager's spool directory; default: the system's temporary directory).
    pub(crate) spool_dir: Option<std::path::PathBuf>,
    /// Items per page of a list.
    pub(crate) page_size: usize,
}

struct Inner {
    vnfm: Vnfm,
    config: Settings,
    monitoring: std::sync::OnceLock<Monitoring>,
}

/// The health monitoring the webhook feeds.
#[derive(Debug, Clone)]
pub(crate) struct Monitoring {
    pub(crate) health: tacker_core::monitor::HealthService,
    pub(crate) alertmanager: Arc<tacker_core::monitor::AlertmanagerMonitor>,
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

impl AppState {
    pub(crate) fn lcm(&self) -> &VnfLcm {
        self.0.vnfm.lcm()
    }

    pub(crate) fn fm(&self) -> &VnfFm {
        self.0.vnfm.fm()
    }

    pub(crate) fn packages(&self) -> &VnfPackageManager {
        self.0.vnfm.packages()
    }

    pub(crate) fn vims(&self) -> &VimRegistry {
        self.0.vnfm.vims()
    }

    pub(crate) fn config(&self) -> &Settings {
        &self.0.config
    }

    pub(crate) fn monitoring(&self) -> Option<&Monitoring> {
        self.0.monitoring.get()
    }

    /// An absolute URI of a path of this server.
    pub(crate) fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.0.config.api_root)
    }
}

/// The caller of a request (the default tenant's anonymous principal when no
/// authentication middleware ran).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Principal);

impl Caller {
    pub(crate) fn tenant(&self) -> &TenantId {
        &self.0.tenant
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(
            parts
                .extensions
                .get::<Principal>()
                .cloned()
                .unwrap_or_else(|| Principal {
                    subject: "anonymous".to_owned(),
                    tenant: state.config().default_tenant.clone(),
                    scopes: Vec::new(),
                }),
        ))
    }
}

/// Where the NFVO posts its package notifications (see [`Api::with_nfvo_packages`]).
pub const NFVO_PACKAGE_NOTIFICATIONS: &str = "/nfvo/v1/vnf_package_notifications";

/// The REST APIs over the VNFM facades.
pub struct Api {
    state: AppState,
    authenticator: Option<Arc<auth::Authenticator>>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    nfvo_packages: Option<Arc<crate::NfvoPackageSource>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("config", self.state.config())
            .field("authenticated", &self.authenticator.is_some())
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl Api {
    /// The APIs over `vnfm`.
    pub fn new(vnfm: &Vnfm, config: ApiConfig) -> Self {
        let packages = vnfm.packages().config();
        let settings = Settings {
            api_root: vnfm.api_root().to_owned(),
            default_tenant: config.default_tenant,
            page_size: config.page_size.clamp(1, sol013::MAX_PAGE_SIZE),
            max_package_size: packages.max_package_size,
            spool_dir: packages.spool_dir.clone(),
        };
        let api = Self {
            state: AppState(Arc::new(Inner {
                vnfm: vnfm.clone(),
                config: settings,
                monitoring: std::sync::OnceLock::new(),
            })),
            authenticator: None,
            metrics: None,
            nfvo_packages: None,
        };
        match vnfm.alertmanager() {
            Some(alertmanager) => api.with_alertmanager(alertmanager.clone()),
            None => api,
        }
    }

    /// Serves the Alertmanager webhook (`POST /monitoring/v1/alertmanager`) for
    /// `alertmanager` (one of the VNFM's monitors), handing scale requests to the
    /// VNFM's health service. A VNFM built with its built-in monitors has this already
    /// (see `VnfmBuilder::builtin_monitors`). Without it the webhook answers 503.
    pub fn with_alertmanager(
        self,
        alertmanager: Arc<tacker_core::monitor::AlertmanagerMonitor>,
    ) -> Self {
        let _ = self.state.0.monitoring.set(Monitoring {
            health: self.state.0.vnfm.health().clone(),
            alertmanager,
        });
        self
    }

    /// Serves the callback of the NFVO's package notifications
    /// (`/nfvo/v1/vnf_package_notifications`, scope `nfvo`): `GET` answers 204 (the
    /// endpoint test), `POST` answers 204 and hands the notification to `source`, which
    /// reads the package's state from the NFVO again.
    pub fn with_nfvo_packages(mut self, source: Arc<crate::NfvoPackageSource>) -> Self {
        self.nfvo_packages = Some(source);
        self
    }

    /// Counts requests into `metrics` and serves them at `GET /metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Requires authentication on every request (see [`auth`]).
    pub fn with_authenticator(mut self, authenticator: auth::Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// `GET {apiName}/api_versions`: the newest major version of an API and its
    /// version, answered with a `Version` header like the versioned resources.
    fn unversioned_api_versions(
        &self,
        prefix: &'static str,
        version: &'static str,
    ) -> axum::routing::MethodRouter {
        let uri_prefix = self.state.uri(prefix);
        axum::routing::get(move || {
            let body = sol013::api_versions(&uri_prefix, version);
            async move {
                let mut response = sol013::json_response(axum::http::StatusCode::OK, &body)?;
                response.headers_mut().insert(
                    sol013::VERSION,
                    axum::http::HeaderValue::from_static(version),
                );
                Ok::<_, ApiError>(response)
            }
        })
        .fallback(method_not_allowed)
    }

    /// The router serving every API.
    pub fn router(&self) -> Router {
        let versioned = |routes: Router<AppState>, full: &'static str, required: bool| {
            let routes = match &self.metrics {
                Some(metrics) => {
                    routes.route_layer(from_fn_with_state(metrics.clone(), crate::metrics::track))
                }
                None => routes,
            };
            routes
                .method_not_allowed_fallback(method_not_allowed)
                .layer(from_fn_with_state(
                    ApiVersion { full, required },
                    sol013::negotiate_version,
                ))
                .with_state(self.state.clone())
        };
        let mut router = Router::new();
        if let Some(metrics) = &self.metrics {
            let metrics = metrics.clone();
            router = router.route(
                "/metrics",
                axum::routing::get(move || {
                    let metrics = metrics.clone();
                    async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            metrics.render().await,
                        )
                    }
                }),
            );
        }
        if let Some(source) = &self.nfvo_packages {
            let source = source.clone();
            router = router.route(
                NFVO_PACKAGE_NOTIFICATIONS,
                axum::routing::post(move |body: axum::body::Bytes| {
                    let source = source.clone();
                    async move {
                        if let Ok(notification) = serde_json::from_slice::<serde_json::Value>(&body)
                        {
                            tokio::spawn(async move { source.notified(&notification).await });
                        }
                        axum::http::StatusCode::NO_CONTENT
                    }
                })
                .get(|| async { axum::http::StatusCode::NO_CONTENT })
                .fallback(method_not_allowed),
            );
        }
        let router = router
            .route(
                "/openapi.json",
                axum::routing::get(|| async {
                    sol013::json_response(axum::http::StatusCode::OK, &openapi::document())
                }),
            )
            // SOL013 9.3: each API also tells its versions without a major version in
            // the path, and without a Version header.
            .route(
                "/vnflcm/api_versions",
                self.unversioned_api_versions("/vnflcm/v2", VNFLCM_VERSION),
            )
            .route(
                "/vnfpkgm/api_versions",
                self.unversioned_api_versions("/vnfpkgm/v2", VNFPKGM_VERSION),
            )
            .route(
                "/vnffm/api_versions",
                self.unversioned_api_versions("/vnffm/v1", VNFFM_VERSION),
            )
            .nest("/vnflcm/v2", versioned(lcm::routes(), VNFLCM_VERSION, true))
            .nest(
                "/vnfpkgm/v2",
                versioned(pkgm::routes_v2(), VNFPKGM_VERSION, true),
            )
            .nest(
                "/vnfpkgm/v1",
                versioned(pkgm::routes_v1(), VNFPKGM_V1_VERSION, false),
            )
            .nest("/vims", versioned(vims::routes(), VIMS_VERSION, true))
            .nest("/vnffm/v1", versioned(fm::routes(), VNFFM_VERSION, true))
            .nest(
                "/monitoring/v1",
                versioned(monitoring::routes(), MONITORING_VERSION, false),
            )
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        let router = match &self.authenticator {
            Some(authenticator) => router.layer(from_fn_with_state(
                authenticator.clone(),
                auth::authenticate,
            )),
            None => router,
        };
        router.layer(axum::middleware::from_fn(guard::guard))
    }
}

async fn not_found() -> axum::response::Response {
    ApiError::not_found("no resource of this server has this path").into_response()
}

async fn method_not_allowed() -> axum::response::Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "this resource does not support the method",
    )
    .into_response()
}
