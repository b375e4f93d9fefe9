//! Granting: the grant request an operation sends, and the local provider that approves
//! everything (the default when no NFVO takes part).

use async_trait::async_trait;
use std::collections::BTreeMap;

use crate::grant::GrantProvider;
use crate::model::{
    AffinityType, ConstraintIdType, ConstraintResourceRef, Grant, GrantInfo, GrantLinks,
    GrantRequest, GrantRequestLinks, GrantedLcmOperationType, InstantiatedVnfInfo, Link,
    PlacementConstraint, PlacementScope, ResourceDefinition, ResourceHandle, ResourceType,
    VimConnectionInfo,
};
use crate::vnfd::DeploymentFlavour;
use crate::{Result, TenantId, new_id};

/// Resource definitions of a grant request, numbered as they are added.
#[derive(Debug, Default)]
pub struct GrantResources {
    /// `addResources`.
    pub add: Vec<ResourceDefinition>,
    /// `removeResources`.
    pub remove: Vec<ResourceDefinition>,
    /// `updateResources`.
    pub update: Vec<ResourceDefinition>,
    next: usize,
}

impl GrantResources {
    fn definition(
        &mut self,
        kind: ResourceType,
        template: &str,
        vdu: Option<&str>,
        resource: Option<ResourceHandle>,
    ) -> ResourceDefinition {
        self.next += 1;
        ResourceDefinition {
            id: format!("res-{}", self.next),
            resource_type: kind,
            vdu_id: vdu.map(str::to_owned),
            vnfd_id: None,
            resource_template_id: template.to_owned(),
            secondary_resource_template_id: None,
            resource,
            snapshot_res_def: None,
        }
    }

    /// Adds `count` VNFCs of a VDU with their storage.
    pub fn add_vnfcs(&mut self, flavour: &DeploymentFlavour, vdu_id: &str, count: u32) {
        let storages: Vec<String> = flavour
            .vdu(vdu_id)
            .map(|v| v.virtual_storages.clone())
            .unwrap_or_default();
        for _ in 0..count {
            let compute = self.definition(ResourceType::Compute, vdu_id, Some(vdu_id), None);
            self.add.push(compute);
            for storage in &storages {
                let definition =
                    self.definition(ResourceType::Storage, storage, Some(vdu_id), None);
                self.add.push(definition);
            }
        }
    }

    /// Adds the internal virtual links of a flavour.
    pub fn add_virtual_links(&mut self, flavour: &DeploymentFlavour) {
        for link in &flavour.virtual_links {
            let definition = self.definition(ResourceType::Vl, &link.id, None, None);
            self.add.push(definition);
        }
    }

    /// Removes the given VNFCs of an instance (and their storage).
    pub fn remove_vnfcs<'a>(
        &mut self,
        info: &InstantiatedVnfInfo,
        vnfc_ids: impl IntoIterator<Item = &'a str>,
    ) {
        for vnfc_id in vnfc_ids {
            let Some(vnfc) = info.vnfc_resource_info.iter().find(|v| v.id == vnfc_id) else {
                continue;
            };
            let compute = self.definition(
                ResourceType::Compute,
                &vnfc.vdu_id,
                Some(&vnfc.vdu_id),
                Some(vnfc.compute_resource.clone()),
            );
            self.remove.push(compute);
            for storage_id in &vnfc.storage_resource_ids {
                if let Some(storage) = info
                    .virtual_storage_resource_info
                    .iter()
                    .find(|s| &s.id == storage_id)
                {
                    let definition = self.definition(
                        ResourceType::Storage,
                        &storage.virtual_storage_desc_id,
                        Some(&vnfc.vdu_id),
                        Some(storage.storage_resource.clone()),
                    );
                    self.remove.push(definition);
                }
            }
        }
    }

    /// Removes every resource of an instance.
    pub fn remove_all(&mut self, info: &InstantiatedVnfInfo) {
        let ids: Vec<String> = info
            .vnfc_resource_info
            .iter()
            .map(|v| v.id.clone())
            .collect();
        self.remove_vnfcs(info, ids.iter().map(String::as_str));
        for link in &info.vnf_virtual_link_resource_info {
            let definition = self.definition(
                ResourceType::Vl,
                &link.vnf_virtual_link_desc_id,
                None,
                Some(link.network_resource.clone()),
            );
            self.remove.push(definition);
        }
    }

    /// Marks VNFCs as updated (heal, change of package).
    pub fn update_vnfcs<'a>(
        &mut self,
        info: &InstantiatedVnfInfo,
        vnfc_ids: impl IntoIterator<Item = &'a str>,
    ) {
        for vnfc_id in vnfc_ids {
            if let Some(vnfc) = info.vnfc_resource_info.iter().find(|v| v.id == vnfc_id) {
                let definition = self.definition(
                    ResourceType::Compute,
                    &vnfc.vdu_id,
                    Some(&vnfc.vdu_id),
                    Some(vnfc.compute_resource.clone()),
                );
                self.update.push(definition);
            }
        }
    }
}

/// Approves every grant request and places every resource on the VIMs it was built
/// with: the grant provider of a VNFM that works without an NFVO.
#[derive(Debug, Clone, Default)]
pub struct LocalGrantProvider {
    vims: BTreeMap<String, VimConnectionInfo>,
    api_root: String,
}

impl LocalGrantProvider {
    /// A provider that assigns `vims` (keyed by vimConnectionId). With no VIMs, the grant
    /// names none and the operation uses the VIM of its request or instance.
    pub fn new(vims: BTreeMap<String, VimConnectionInfo>) -> Self {
        Self {
            vims,
            api_root: "http://127.0.0.1:9890".to_owned(),
        }
    }
}

#[async_trait]
impl GrantProvider for LocalGrantProvider {
    async fn grant(&self, _tenant: &TenantId, request: &GrantRequest) -> Result<Grant> {
        let vim_connection_id = self.vims.keys().next().cloned();
        let granted = |definitions: &[ResourceDefinition]| -> Vec<GrantInfo> {
            definitions
                .iter()
                .map(|d| GrantInfo {
                    resource_definition_id: d.id.clone(),
                    reservation_id: None,
                    vim_connection_id: vim_connection_id.clone(),
                    resource_provider_id: None,
                    zone_id: None,
                    resource_group_id: None,
                })
                .collect()
        };
        let id = new_id();
        Ok(Grant {
            id: id.clone(),
            vnf_instance_id: request.vnf_instance_id.clone(),
            vnf_lcm_op_occ_id: request.vnf_lcm_op_occ_id.clone(),
            vim_connection_info: self.vims.clone(),
            zones: Vec::new(),
            zone_groups: Vec::new(),
            add_resources: granted(&request.add_resources),
            temp_resources: granted(&request.temp_resources),
            remove_resources: granted(&request.remove_resources),
            update_resources: granted(&request.update_resources),
            vim_assets: None,
            ext_virtual_links: Vec::new(),
            ext_managed_virtual_links: Vec::new(),
            additional_params: Default::default(),
            links: GrantLinks {
                self_: Link::new(format!("{}/grant/v1/grants/{id}", self.api_root)),
                vnf_lcm_op_occ: request.links.vnf_lcm_op_occ.clone(),
                vnf_instance: request.links.vnf_instance.clone(),
            },
        })
    }
}

/// A grant request for an operation occurrence.
#[allow(clippy::too_many_arguments)]
pub fn grant_request(
    operation: GrantedLcmOperationType,
    vnf_instance_id: &str,
    vnf_lcm_op_occ_id: &str,
    vnfd_id: &str,
    flavour_id: Option<&str>,
    instantiation_level_id: Option<&str>,
    is_automatic_invocation: bool,
    resources: GrantResources,
    links: (Link, Link),
) -> GrantRequest {
    GrantRequest {
        vnf_instance_id: vnf_instance_id.to_owned(),
        vnf_lcm_op_occ_id: vnf_lcm_op_occ_id.to_owned(),
        vnfd_id: vnfd_id.to_owned(),
        dst_vnfd_id: None,
        flavour_id: flavour_id.map(str::to_owned),
        operation,
        is_automatic_invocation,
        instantiation_level_id: instantiation_level_id.map(str::to_owned),
        add_resources: resources.add,
        temp_resources: Vec::new(),
        remove_resources: resources.remove,
        update_resources: resources.update,
        placement_constraints: Vec::new(),
        vim_constraints: Vec::new(),
        additional_params: Default::default(),
        links: GrantRequestLinks {
            vnf_lcm_op_occ: links.0,
            vnf_instance: links.1,
        },
    }
}

/// The `placementConstraints` of a grant request: one per `AffinityRule` /
/// `AntiAffinityRule` of the flavour whose target VDUs get new VNFCs in the request,
/// covering those new VNFCs (`GRANT` references to their resource definitions) and the
/// VNFCs of the target VDUs that stay (`RES_MGMT` references to their compute
/// resources), when that is two or more. Rules with a scope SOL003 does not know, or that
/// target groups rather than VDUs, give none.
pub fn placement_constraints(
    flavour: &DeploymentFlavour,
    request: &GrantRequest,
    info: Option<&InstantiatedVnfInfo>,
) -> Vec<PlacementConstraint> {
    let removed: Vec<&str> = request
        .remove_resources
        .iter()
        .filter_map(|r| r.resource.as_ref())
        .map(|h| h.resource_id.as_str())
        .collect();
    let mut constraints = Vec::new();
    for rule in &flavour.placement_rules {
        let scope = match rule.scope.to_ascii_lowercase().as_str() {
            "nfvi_node" => PlacementScope::NfviNode,
            "zone" => PlacementScope::Zone,
            "zone_group" => PlacementScope::ZoneGroup,
            "nfvi_pop" => PlacementScope::NfviPop,
            _ => continue,
        };
        let targeted = |vdu: Option<&str>| vdu.is_some_and(|v| rule.targets.iter().any(|t| t == v));
        let mut resources: Vec<ConstraintResourceRef> = request
            .add_resources
            .iter()
            .filter(|d| d.resource_type == ResourceType::Compute && targeted(d.vdu_id.as_deref()))
            .map(|d| ConstraintResourceRef {
                id_type: ConstraintIdType::Grant,
                resource_id: d.id.clone(),
                vim_connection_id: None,
                resource_provider_id: None,
            })
            .collect();
        if resources.is_empty() {
            continue;
        }
        for vnfc in info
            .map(|i| i.vnfc_resource_info.as_slice())
            .unwrap_or_default()
        {
            let handle = &vnfc.compute_resource;
            if targeted(Some(&vnfc.vdu_id)) && !removed.contains(&handle.resource_id.as_str()) {
                resources.push(ConstraintResourceRef {
                    id_type: ConstraintIdType::ResMgmt,
                    resource_id: handle.resource_id.clone(),
                    vim_connection_id: handle.vim_connection_id.clone(),
                    resource_provider_id: handle.resource_provider_id.clone(),
                });
            }
        }
        if resources.len() < 2 {
            continue;
        }
        constraints.push(PlacementConstraint {
            affinity_or_anti_affinity: if rule.anti_affinity {
                AffinityType::AntiAffinity
            } else {
                AffinityType::Affinity
            },
            scope,
            resource: resources,
            fallback_best_effort: Some(false),
        });
    }
    constraints
}
