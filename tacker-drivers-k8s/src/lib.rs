//! Kubernetes drivers for the tacker VNF Manager.
//!
//! - [`KubernetesInfraDriver`] deploys CNFs on a Kubernetes VIM (vimType
//!   `ETSINFV.KUBERNETES.V_1`) with kube-rs. Instantiate reads the manifests that
//!   `additionalParams.lcm-kubernetes-def-files` names (listed artifacts whose digests
//!   must match), puts them in one namespace (`additionalParams.namespace` or the
//!   manifests'), labels every object `vnf-instance-id=<id>` and applies them with
//!   server-side apply in dependency order; VDUs map to the workloads named as the
//!   VDU's `name`, with the replica counts of the instantiation level; readiness is
//!   awaited with watches and a deadline. Scale uses the workloads' `scale`
//!   subresource, heal replaces pods, change of package rolls the new manifests out,
//!   change of flavour deploys the new flavour's workloads and removes the old ones,
//!   operate stops every workload (no pods left) and starts it again, terminate and
//!   rollbacks delete everything labelled with the instance. Objects that name a
//!   namespace keep it when the request names none, so a VNF may span namespaces. Helm charts
//!   of the package (Tacker's `helm_chart_path`, `helm_parameters`, `helm_value_names`,
//!   or v1's `using_helm_install_param`) are rendered by a real `helm` v3 binary
//!   (`helm template`; [`HelmConfig`]) and deployed the same way. External CPs are
//!   the Services annotated [`EXT_CP_ANNOTATION`] (fixed addresses as `externalIPs`,
//!   NetworkPolicies admitting the link's network), so instantiate and change of
//!   external connectivity connect them.
//! - [`KubernetesVimDriver`] checks a Kubernetes VIM's credentials.
//! - `testkit` (feature `testkit`) is a test double of the Kubernetes API server.
//!
//! A Kubernetes VIM's `vimConnectionInfo`: `interfaceInfo.endpoint`,
//! `interfaceInfo.ssl_ca_cert` (PEM), `interfaceInfo.skip_certificate_verification`
//! (off unless `true`), and in `accessInfo` a `bearer_token`, a `username` and
//! `password`, or a `client_cert` and `client_key`.

mod client;
mod driver;
mod ext;
mod helm;
mod manifest;
pub mod placement;
mod vim;

pub use client::{KUBERNETES_VIM_TYPE, connect, connect_with_policy};
pub use driver::{FIELD_MANAGER, KubernetesInfraDriver};
pub use ext::EXT_CP_ANNOTATION;
pub use helm::{
    HELM_CHART_PATH_PARAM, HELM_INSTALL_PARAM, HELM_PARAMETERS_PARAM, HELM_VALUE_NAMES_PARAM,
    HelmConfig,
};
pub use manifest::{DEF_FILE_ANNOTATION, DEF_FILES_PARAM, INSTANCE_LABEL, NAMESPACE_PARAM};
pub use vim::KubernetesVimDriver;

/// The Kubernetes VIM type as one unit for [`tacker_core::Vnfm`]: the infra driver and
/// the VIM driver, both under `policy`.
pub fn vim_type(
    policy: tacker_core::outbound::OutboundPolicy,
) -> tacker_core::Result<tacker_core::VimType> {
    vim_type_with(
        policy,
        HelmConfig::default(),
        std::time::Duration::from_secs(300),
    )
}

/// [`vim_type`] rendering Helm charts as `helm` says, each operation waiting up to
/// `timeout` for readiness.
pub fn vim_type_with(
    policy: tacker_core::outbound::OutboundPolicy,
    helm: HelmConfig,
    timeout: std::time::Duration,
) -> tacker_core::Result<tacker_core::VimType> {
    tacker_core::VimType::new(
        std::sync::Arc::new(
            KubernetesInfraDriver::new()
                .outbound_policy(policy.clone())
                .helm(helm)
                .with_timeout(timeout),
        ),
        std::sync::Arc::new(KubernetesVimDriver::new().outbound_policy(policy)),
    )
}

#[cfg(feature = "testkit")]
pub mod testkit;
