//! `KubernetesVimDriver`: checks a Kubernetes VIM's credentials (the server version,
//! and a SelfSubjectAccessReview that the identity may create Deployments) and records
//! the cluster version.

use async_trait::async_trait;
use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use std::sync::Arc;

use tacker_core::model::VimConnectionInfo;
use tacker_core::outbound::OutboundPolicy;
use tacker_core::vim::{VimDescription, VimDriver};
use tacker_core::{Error, Result};

use crate::client::{DRIVER, KUBERNETES_VIM_TYPE, api_error, connect_with_policy};

/// The Kubernetes VIM driver.
#[derive(Debug, Clone, Default)]
pub struct KubernetesVimDriver {
    policy: Arc<OutboundPolicy>,
}

impl KubernetesVimDriver {
    /// The driver, under the default [`OutboundPolicy`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects only to API servers that `policy` allows.
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }
}

#[async_trait]
impl VimDriver for KubernetesVimDriver {
    fn vim_type(&self) -> &str {
        KUBERNETES_VIM_TYPE
    }

    async fn validate(&self, vim: &VimConnectionInfo) -> Result<VimDescription> {
        let client = connect_with_policy(vim, &self.policy).await?;
        let version = client
            .apiserver_version()
            .await
            .map_err(|e| api_error("reading the API server version", e))?;
        let (resource, _) = kube::discovery::pinned_kind(
            &client,
            &GroupVersionKind::gvk("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
        )
        .await
        .map_err(|e| api_error("discovering SelfSubjectAccessReview", e))?;
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let review: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {"group": "apps", "resource": "deployments", "verb": "create"}},
        }))
        .map_err(|e| Error::driver(DRIVER, false, e.to_string()))?;
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| api_error("asking whether the identity may create Deployments", e))?;
        if answer.data["status"]["allowed"] != true {
            let reason = answer.data["status"]["reason"]
                .as_str()
                .unwrap_or("no reason given");
            return Err(Error::InvalidRequest(format!(
                "the Kubernetes VIM's credentials may not create Deployments: {reason}"
            )));
        }
        Ok(VimDescription::new()
            .with_regions(vec!["kubernetes".to_owned()])
            .with_version(Some(format!("{}.{}", version.major, version.minor)))
            .with_extra("gitVersion", json!(version.git_version))
            .with_extra("platform", json!(version.platform)))
    }
}
