//! Modify VNF information: instance attributes change without the VIM; a
//! NOT_INSTANTIATED instance may also move to another VNFD of the same product.

use async_trait::async_trait;

use super::{Acceptance, Operation, Work};
use crate::infra::InfraOutcome;
use crate::lcm::engine::Engine;
use crate::model::{
    InstantiationState, VnfInfoModificationRequest, VnfInfoModifications, VnfInstance,
};
use crate::{Error, Result, TenantId};

#[async_trait]
impl Operation for VnfInfoModificationRequest {
    fn uses_infra(&self) -> bool {
        false
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        validate_modify(cx.engine, cx.tenant, cx.instance, self).await
    }

    async fn run(&self, _cx: &Work<'_>) -> Result<InfraOutcome> {
        Ok(InfraOutcome::default())
    }
}

/// The checks of a modification that need no flavour: run before anything else, since
/// a modification is accepted on an instance in any state.
async fn validate_modify(
    engine: &Engine,
    tenant: &TenantId,
    instance: &VnfInstance,
    r: &VnfInfoModificationRequest,
) -> Result<()> {
    if let Some(vnfd_id) = r.vnfd_id.as_ref() {
        if instance.instantiation_state == InstantiationState::Instantiated {
            return Err(Error::wrong_instantiation_state(
                &instance.id,
                InstantiationState::NotInstantiated,
                InstantiationState::Instantiated,
                "vnfdId can only be modified while NOT_INSTANTIATED; use change_vnfpkg",
            ));
        }
        let target = engine.onboarded_package(tenant, vnfd_id).await?;
        if target.vnfd.provider != instance.vnf_provider
            || target.vnfd.product_name != instance.vnf_product_name
        {
            return Err(Error::Unprocessable(format!(
                "vnfdId {vnfd_id} is not the same VNF"
            )));
        }
    }
    if r.vnf_pkg_id.is_some() {
        return Err(Error::Unprocessable(
            "vnfPkgId is not modifiable here; give vnfdId".to_owned(),
        ));
    }
    Ok(())
}

/// The instance after the modification, and what changed.
pub(in crate::lcm::engine) async fn modified(
    engine: &Engine,
    tenant: &TenantId,
    before: &VnfInstance,
    r: &VnfInfoModificationRequest,
) -> Result<(VnfInstance, VnfInfoModifications)> {
    let mut instance = before.clone();
    let mut changes = VnfInfoModifications::default();
    if let Some(name) = &r.vnf_instance_name {
        instance.vnf_instance_name = Some(name.clone());
        changes.vnf_instance_name = Some(name.clone());
    }
    if let Some(description) = &r.vnf_instance_description {
        instance.vnf_instance_description = Some(description.clone());
        changes.vnf_instance_description = Some(description.clone());
    }
    if let Some(patch) = &r.metadata {
        crate::model::merge_patch(&mut instance.metadata, patch);
        changes.metadata = Some(patch.clone());
    }
    if let Some(patch) = &r.extensions {
        crate::model::merge_patch(&mut instance.extensions, patch);
        changes.extensions = Some(patch.clone());
    }
    if let Some(patch) = &r.vnf_configurable_properties {
        crate::model::merge_patch(&mut instance.vnf_configurable_properties, patch);
        changes.vnf_configurable_properties = Some(patch.clone());
    }
    if let Some(patch) = &r.vim_connection_info {
        let mut current = serde_json::to_value(&instance.vim_connection_info)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        crate::model::merge_patch(&mut current, patch);
        instance.vim_connection_info = serde_json::from_value(serde_json::Value::Object(current))
            .map_err(|e| {
            Error::Unprocessable(format!(
                "vimConnectionInfo after the merge patch is invalid: {e}"
            ))
        })?;
        changes.vim_connection_info = Some(instance.vim_connection_info.clone());
    }
    if let Some(vnfd_id) = &r.vnfd_id {
        let target = engine
            .inner
            .packages
            .package_for_vnfd(tenant, vnfd_id, false)
            .await?;
        instance.vnfd_id = target.vnfd.descriptor_id.clone();
        instance.vnf_software_version = target.vnfd.software_version.clone();
        instance.vnfd_version = target.vnfd.descriptor_version.clone();
        changes.vnfd_id = Some(instance.vnfd_id.clone());
        changes.vnf_software_version = Some(instance.vnf_software_version.clone());
        changes.vnfd_version = Some(instance.vnfd_version.clone());
    }
    Ok((instance, changes))
}
