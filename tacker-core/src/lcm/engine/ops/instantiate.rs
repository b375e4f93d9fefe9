//! Instantiate VNF: the VNF comes into being in the requested flavour and level.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Acceptance, Applied, GrantInput, Operation, Work, check_ext_cps, check_level};
use crate::infra::{InfraOutcome, Rollback};
use crate::lcm::grant::GrantResources;
use crate::model::{InstantiateVnfRequest, KeyValuePairs, VimConnectionInfo};
use crate::{Error, Result};

#[async_trait]
impl Operation for InstantiateVnfRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    fn requested_vims(&self) -> Option<&BTreeMap<String, VimConnectionInfo>> {
        Some(&self.vim_connection_info)
    }

    fn requested_flavour(&self) -> Option<&str> {
        Some(&self.flavour_id)
    }

    fn target_flavour(&self) -> Option<(&str, Option<&str>)> {
        Some((&self.flavour_id, self.instantiation_level_id.as_deref()))
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        let flavour = cx.flavour()?;
        check_level(flavour, self.instantiation_level_id.as_deref())?;
        check_ext_cps(flavour, &self.ext_virtual_links)?;
        for link in &self.ext_managed_virtual_links {
            if !flavour
                .virtual_links
                .iter()
                .any(|v| v.id == link.vnf_virtual_link_desc_id)
            {
                return Err(Error::Unprocessable(format!(
                    "extManagedVirtualLinks: vnfVirtualLinkDescId '{}' is not a virtual link of flavour {}",
                    link.vnf_virtual_link_desc_id, flavour.id
                )));
            }
        }
        Ok(())
    }

    fn grant(&self, cx: &GrantInput<'_>, resources: &mut GrantResources) -> Result<()> {
        if let Some(flavour) = cx.vnfd.flavour(&self.flavour_id) {
            super::grant_new_flavour(resources, flavour, self.instantiation_level_id.as_deref());
        }
        Ok(())
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver.instantiate(cx.ctx, self).await
    }

    async fn rollback(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver
            .rollback(cx.ctx, &Rollback::Instantiate(self))
            .await
    }

    fn apply(&self, cx: &mut Applied<'_>) {
        if self.vim_connection_info.is_empty() {
            if let Ok((id, vim)) = cx.engine.vim_of_requested(cx.before, None) {
                cx.instance.vim_connection_info.insert(id, vim);
            }
        } else {
            cx.instance.vim_connection_info = self.vim_connection_info.clone();
        }
        cx.instance
            .vnf_configurable_properties
            .extend(self.vnf_configurable_properties.clone());
        cx.instance.extensions.extend(self.extensions.clone());
        cx.localization_language = self.localization_language.clone();
    }
}
