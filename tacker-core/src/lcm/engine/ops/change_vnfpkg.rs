//! Change current VNF package: the VNF moves to another VNFD of the same product.

use async_trait::async_trait;

use super::{Acceptance, GrantInput, Operation, Work};
use crate::infra::{InfraOutcome, Rollback};
use crate::lcm::grant::GrantResources;
use crate::model::{ChangeCurrentVnfPkgRequest, KeyValuePairs};
use crate::{Error, Result};

#[async_trait]
impl Operation for ChangeCurrentVnfPkgRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    fn target_vnfd_id(&self) -> Option<&str> {
        Some(&self.vnfd_id)
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        let instance = cx.instance;
        if self.vnfd_id == instance.vnfd_id {
            return Err(Error::Conflict(format!(
                "VNF instance {} already uses vnfdId {}",
                instance.id, self.vnfd_id
            )));
        }
        let target = cx
            .engine
            .onboarded_package(cx.tenant, &self.vnfd_id)
            .await?;
        if target.vnfd.provider != instance.vnf_provider
            || target.vnfd.product_name != instance.vnf_product_name
        {
            return Err(Error::Unprocessable(format!(
                "vnfdId {} is {} {}, not the same VNF as the instance's {} {}",
                self.vnfd_id,
                target.vnfd.provider,
                target.vnfd.product_name,
                instance.vnf_provider,
                instance.vnf_product_name
            )));
        }
        let current = cx.flavour()?;
        if target.vnfd.flavour(&current.id).is_none() {
            return Err(Error::Unprocessable(format!(
                "vnfdId {} has no flavour {}, the instance's flavour",
                self.vnfd_id, current.id
            )));
        }
        Ok(())
    }

    fn grant(&self, cx: &GrantInput<'_>, resources: &mut GrantResources) -> Result<()> {
        if let Some(info) = cx.info {
            resources.update_vnfcs(info, info.vnfc_resource_info.iter().map(|v| v.id.as_str()));
        }
        Ok(())
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        let target = cx
            .engine
            .inner
            .packages
            .package_for_vnfd(cx.ctx.tenant, &self.vnfd_id, false)
            .await?;
        cx.driver
            .change_vnfpkg(cx.ctx, self, &target.vnfd, target.files.as_ref())
            .await
    }

    async fn rollback(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver
            .rollback(cx.ctx, &Rollback::ChangeVnfpkg(self))
            .await
    }
}
