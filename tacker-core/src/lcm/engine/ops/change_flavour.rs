//! Change VNF flavour: the VNF is redeployed in another flavour of its VNFD.

use async_trait::async_trait;

use super::{Acceptance, GrantInput, Operation, Work, check_level};
use crate::infra::{InfraOutcome, Rollback};
use crate::lcm::grant::GrantResources;
use crate::model::{ChangeVnfFlavourRequest, KeyValuePairs};
use crate::{Error, Result};

#[async_trait]
impl Operation for ChangeVnfFlavourRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    fn target_flavour(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.new_flavour_id, self.instantiation_level_id.as_deref()))
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        let current = cx.flavour()?;
        if self.new_flavour_id == current.id {
            return Err(Error::Conflict(format!(
                "VNF instance {} already uses flavour {}",
                cx.instance.id, current.id
            )));
        }
        let flavour = cx.vnfd.flavour(&self.new_flavour_id).ok_or_else(|| {
            Error::Unprocessable(format!(
                "newFlavourId '{}' is not a flavour of VNFD {}",
                self.new_flavour_id, cx.vnfd.descriptor_id
            ))
        })?;
        check_level(flavour, self.instantiation_level_id.as_deref())
    }

    fn grant(&self, cx: &GrantInput<'_>, resources: &mut GrantResources) -> Result<()> {
        if let Some(info) = cx.info {
            resources.remove_all(info);
        }
        if let Some(flavour) = cx.vnfd.flavour(&self.new_flavour_id) {
            super::grant_new_flavour(resources, flavour, self.instantiation_level_id.as_deref());
        }
        Ok(())
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver.change_flavour(cx.ctx, self).await
    }

    async fn rollback(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver
            .rollback(cx.ctx, &Rollback::ChangeFlavour(self))
            .await
    }
}
