//! Operate VNF: the VNF's VNFCs are started or stopped.

use async_trait::async_trait;

use super::{Acceptance, Applied, Operation, Work};
use crate::infra::InfraOutcome;
use crate::model::{KeyValuePairs, OperateVnfRequest, VnfOperationalStateType};
use crate::{Error, Result};

#[async_trait]
impl Operation for OperateVnfRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        if cx.info().map(|i| i.vnf_state) == Some(self.change_state_to) {
            return Err(Error::Conflict(format!(
                "VNF instance {} is already {}",
                cx.instance.id,
                if self.change_state_to == VnfOperationalStateType::Started {
                    "STARTED"
                } else {
                    "STOPPED"
                }
            )));
        }
        if self.change_state_to == VnfOperationalStateType::Started
            && (self.stop_type.is_some() || self.graceful_stop_timeout.is_some())
        {
            return Err(Error::InvalidRequest(
                "stopType and gracefulStopTimeout are only allowed when stopping".to_owned(),
            ));
        }
        Ok(())
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver.operate(cx.ctx, self).await
    }

    fn apply(&self, cx: &mut Applied<'_>) {
        cx.vnf_state = self.change_state_to;
    }
}
