//! Heal VNF (SOL003) or VNFCs (SOL002): named VNFCs, or all of them, are replaced.

use async_trait::async_trait;

use super::{Acceptance, GrantInput, Operation, Work};
use crate::infra::InfraOutcome;
use crate::lcm::grant::GrantResources;
use crate::model::{HealVnfRequest, KeyValuePairs};
use crate::{Error, Result};

#[async_trait]
impl Operation for HealVnfRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        let known: Vec<&str> = cx
            .info()
            .map(|i| i.vnfc_resource_info.iter().map(|v| v.id.as_str()).collect())
            .unwrap_or_default();
        for vnfc in &self.vnfc_instance_id {
            if !known.contains(&vnfc.as_str()) {
                return Err(Error::Unprocessable(format!(
                    "vnfcInstanceId '{vnfc}' is not a VNFC of VNF instance {}",
                    cx.instance.id
                )));
            }
        }
        let driver = cx.driver()?;
        driver
            .capabilities()
            .require(crate::infra::heal_operation(self), driver.vim_type())
    }

    fn grant(&self, cx: &GrantInput<'_>, resources: &mut GrantResources) -> Result<()> {
        if let Some(info) = cx.info {
            if self.vnfc_instance_id.is_empty() {
                resources.update_vnfcs(info, info.vnfc_resource_info.iter().map(|v| v.id.as_str()));
            } else {
                resources.update_vnfcs(info, self.vnfc_instance_id.iter().map(String::as_str));
            }
        }
        Ok(())
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver.heal(cx.ctx, self).await
    }
}
