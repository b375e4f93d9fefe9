//! Terminate VNF: the VNF's resources go, and with them the VIMs its hooks produced.

use async_trait::async_trait;

use super::{Acceptance, Applied, GrantInput, Operation, Work};
use crate::infra::InfraOutcome;
use crate::lcm::grant::GrantResources;
use crate::model::{KeyValuePairs, TerminateVnfRequest, TerminationType};
use crate::{Error, Result};

#[async_trait]
impl Operation for TerminateVnfRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        if self.graceful_termination_timeout.is_some()
            && self.termination_type == TerminationType::Forceful
        {
            return Err(Error::InvalidRequest(
                "gracefulTerminationTimeout is only allowed with GRACEFUL termination".to_owned(),
            ));
        }
        cx.engine
            .cluster_vims()
            .check_produced_vims_unused(cx.tenant, cx.instance, self)
            .await
    }

    fn grant(&self, cx: &GrantInput<'_>, resources: &mut GrantResources) -> Result<()> {
        if let Some(info) = cx.info {
            resources.remove_all(info);
        }
        Ok(())
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver.terminate(cx.ctx, self).await
    }

    fn apply(&self, cx: &mut Applied<'_>) {
        let id = cx.before.id.clone();
        cx.instance
            .vim_connection_info
            .retain(|_, vim| !crate::mgmt::produced_by(vim, &id));
        cx.terminated = true;
    }
}
