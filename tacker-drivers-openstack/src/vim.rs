//! `OpenStackVimDriver`: registering an OpenStack VIM checks its credentials against
//! Keystone and records what its catalog offers.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use tacker_core::model::VimConnectionInfo;
use tacker_core::outbound::OutboundPolicy;
use tacker_core::vim::{VimDescription, VimDriver};
use tacker_core::{Error, Result};

use crate::VIM_TYPE;
use crate::heat::ORCHESTRATION;
use crate::keystone::{KeystoneConfig, KeystoneSession, SessionStats};

/// Checks OpenStack VIMs: authenticates (a wrong password or an unreachable Keystone is
/// a registration error) and reads the regions and whether Heat is offered.
#[derive(Debug, Clone, Default)]
pub struct OpenStackVimDriver {
    stats: Arc<SessionStats>,
    policy: Arc<OutboundPolicy>,
}

impl OpenStackVimDriver {
    /// A VIM driver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks VIMs only where `policy` allows (Keystone and the endpoints of its
    /// catalog; default [`OutboundPolicy::default`]).
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Token requests sent while checking VIMs.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }
}

#[async_trait]
impl VimDriver for OpenStackVimDriver {
    fn vim_type(&self) -> &str {
        VIM_TYPE
    }

    async fn validate(&self, vim: &VimConnectionInfo) -> Result<VimDescription> {
        if vim.vim_type != VIM_TYPE {
            return Err(Error::InvalidRequest(format!(
                "vimType {} is not {VIM_TYPE}",
                vim.vim_type
            )));
        }
        let config = KeystoneConfig::from_vim(vim)?;
        let session =
            KeystoneSession::with_policy(config, self.stats.clone(), self.policy.clone())?;
        session.check().await.map_err(|error| match error {
            Error::Driver { .. } => Error::InvalidRequest(format!(
                "the VIM's credentials were refused or Keystone could not be reached: {}",
                error.to_problem_details().detail
            )),
            other => other,
        })?;
        let regions = session.regions().await?;
        let orchestration = session.endpoint(ORCHESTRATION).await.ok();
        let mut description = VimDescription::new()
            .with_regions(regions)
            .with_version(Some("identity v3".to_owned()))
            .with_extra("orchestration", json!(orchestration.is_some()));
        if let Some(url) = orchestration {
            description = description.with_extra("orchestrationEndpoint", json!(url.as_str()));
        }
        if let Some(project) = session.project_id().await? {
            description = description.with_extra("projectId", json!(project));
        }
        Ok(description.with_extra("keystone", json!(session.config().auth_url.as_str())))
    }
}
