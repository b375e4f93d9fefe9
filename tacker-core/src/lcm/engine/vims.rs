//! VIMs that management hooks produce (a Kubernetes cluster installed on the VNF's VMs),
//! and the request-time checks of management drivers. See [`MgmtOutcome`] for the rules.

use super::*;
use crate::mgmt::{FORCE_TERMINATE, MgmtRequestContext, PRODUCED_BY_VNF_INSTANCE, produced_by};
use crate::vim::{VimInfo, VimRegistration, VimUpdate};

/// The operation states in which an operation may still touch its VIM.
const IN_PROGRESS: [&str; 4] = ["STARTING", "PROCESSING", "FAILED_TEMP", "ROLLING_BACK"];

/// A VNF instance other than the producer that refers to a produced VIM.
struct VimUser {
    instance_id: String,
    /// INSTANTIATED on the VIM, or an operation of it is in progress: it has (or may
    /// have) resources there.
    deployed: bool,
}

fn vim_ids_of(value: Option<&serde_json::Value>) -> Vec<String> {
    value
        .and_then(|v| v.as_object())
        .map(|entries| {
            entries
                .values()
                .filter_map(|e| e.get("vimId").and_then(|id| id.as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Cluster-VIM handling: the VIMs an instance's management hooks produce (registered,
/// updated and released with the instance) and the request-time checks of management
/// drivers.
pub(super) struct ClusterVims<'e>(&'e Engine);

impl std::ops::Deref for ClusterVims<'_> {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        self.0
    }
}

impl Engine {
    /// The cluster-VIM part of the engine.
    pub(super) fn cluster_vims(&self) -> ClusterVims<'_> {
        ClusterVims(self)
    }
}

impl ClusterVims<'_> {
    /// Runs `validate_request` of the management driver of each hook the operation
    /// calls in `flavour`.
    pub(super) async fn validate_hook_requests(
        &self,
        tenant: &TenantId,
        instance: &VnfInstance,
        request: &OpRequest,
        package: &VnfPackage,
        flavour: &DeploymentFlavour,
    ) -> Result<()> {
        let params = request.to_params();
        let empty = KeyValuePairs::new();
        let additional = ops::of(request).additional_params().unwrap_or(&empty);
        for phase in [HookPhase::Start, HookPhase::End] {
            let hook = LcmHook::new(request.operation(), phase);
            let Some(binding) = flavour.lcm_operation(&hook.sol001_name()) else {
                continue;
            };
            if binding.implementation.is_none() {
                continue;
            }
            let Some(driver) = self.mgmt_driver(binding) else {
                continue;
            };
            let ctx = MgmtRequestContext {
                tenant,
                hook,
                binding,
                request: &params,
                additional_params: additional,
                vnf_instance: instance,
                vnfd: &package.vnfd,
                flavour,
                package: package.files.as_ref(),
                vims: self.inner.vims.as_ref(),
            };
            driver.validate_request(&ctx).await?;
        }
        Ok(())
    }

    /// The VIMs of the registry that `instance_id` produced.
    async fn produced_vims(&self, tenant: &TenantId, instance_id: &str) -> Result<Vec<VimInfo>> {
        let Some(vims) = &self.inner.vims else {
            return Ok(Vec::new());
        };
        Ok(vims
            .list(tenant, &ListQuery::all())
            .await?
            .items
            .into_iter()
            .filter(|v| {
                v.extra
                    .get(PRODUCED_BY_VNF_INSTANCE)
                    .and_then(|p| p.as_str())
                    == Some(instance_id)
            })
            .collect())
    }

    /// The VNF instances other than `producer` that refer to one of `vim_ids`: in their
    /// `vimConnectionInfo`, or in the request of an operation in progress.
    async fn vim_users(
        &self,
        tenant: &TenantId,
        producer: &str,
        vim_ids: &[String],
    ) -> Result<Vec<VimUser>> {
        let refers = |ids: Vec<String>| ids.iter().any(|id| vim_ids.contains(id));
        let mut users: BTreeMap<String, bool> = BTreeMap::new();
        let in_progress = self
            .store()
            .list_typed::<OpOccRecord>(
                tenant,
                &ListQuery::filtered(Filter::default().and(
                    FilterOp::In,
                    "operationState",
                    IN_PROGRESS,
                )),
            )
            .await?;
        for op in in_progress.items {
            let op = op.value.op;
            if op.vnf_instance_id != producer
                && refers(vim_ids_of(
                    op.operation_params
                        .as_ref()
                        .and_then(|p| p.get("vimConnectionInfo")),
                ))
            {
                users.insert(op.vnf_instance_id, true);
            }
        }
        let instances = self
            .store()
            .list_typed::<VnfInstanceRecord>(tenant, &ListQuery::all())
            .await?;
        for record in instances.items {
            let instance = record.value.instance;
            if instance.id == producer
                || !instance
                    .vim_connection_info
                    .values()
                    .any(|v| v.vim_id.as_ref().is_some_and(|id| vim_ids.contains(id)))
            {
                continue;
            }
            let deployed = instance.instantiation_state == InstantiationState::Instantiated
                || self.op_in_progress(tenant, &instance.id).await?.is_some();
            let entry = users.entry(instance.id).or_insert(false);
            *entry |= deployed;
        }
        Ok(users
            .into_iter()
            .map(|(instance_id, deployed)| VimUser {
                instance_id,
                deployed,
            })
            .collect())
    }

    /// Refuses to terminate an instance while other instances are deployed on a VIM
    /// it produced, unless `additionalParams.force_terminate` is true.
    pub(super) async fn check_produced_vims_unused(
        &self,
        tenant: &TenantId,
        instance: &VnfInstance,
        request: &crate::model::TerminateVnfRequest,
    ) -> Result<()> {
        let force = match request.additional_params.get(FORCE_TERMINATE) {
            None => false,
            Some(serde_json::Value::Bool(force)) => *force,
            Some(_) => {
                return Err(Error::InvalidRequest(format!(
                    "additionalParams.{FORCE_TERMINATE} must be a boolean"
                )));
            }
        };
        if force {
            return Ok(());
        }
        let produced = self.produced_vims(tenant, &instance.id).await?;
        if produced.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = produced.iter().map(|v| v.id.clone()).collect();
        let deployed: Vec<String> = self
            .vim_users(tenant, &instance.id, &ids)
            .await?
            .into_iter()
            .filter(|u| u.deployed)
            .map(|u| u.instance_id)
            .collect();
        if deployed.is_empty() {
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "VNF instance {} produced the VIM(s) {}, on which VNF instance(s) {} are still deployed; terminate them first, or set additionalParams.{FORCE_TERMINATE}: true",
            instance.id,
            produced
                .iter()
                .map(|v| format!("{} ({})", v.name, v.id))
                .collect::<Vec<_>>()
                .join(", "),
            deployed.join(", ")
        )))
    }

    /// Registers (or updates) the VIMs a hook of `instance_id` produced; returns them as
    /// the step records them: with their `vimId` and marker, without credentials.
    async fn register_produced_vims(
        &self,
        tenant: &TenantId,
        instance_id: &str,
        produced: &[(String, VimConnectionInfo)],
    ) -> Result<Vec<(String, VimConnectionInfo)>> {
        if produced.is_empty() {
            return Ok(Vec::new());
        }
        let vims = self.inner.vims.as_ref().ok_or_else(|| {
            Error::Unprocessable(
                "the hook produced a VIM, but this VNFM has no VIM registry to register it in"
                    .to_owned(),
            )
        })?;
        let registered = vims.list(tenant, &ListQuery::all()).await?.items;
        let mut recorded = Vec::with_capacity(produced.len());
        for (name, vim) in produced {
            let mut extra = vim.extra.clone();
            extra.insert(
                PRODUCED_BY_VNF_INSTANCE.to_owned(),
                serde_json::Value::String(instance_id.to_owned()),
            );
            let info = match registered.iter().find(|v| &v.name == name) {
                Some(existing)
                    if existing
                        .extra
                        .get(PRODUCED_BY_VNF_INSTANCE)
                        .and_then(|p| p.as_str())
                        == Some(instance_id)
                        && existing.vim_type == vim.vim_type =>
                {
                    vims.update(
                        tenant,
                        &existing.id,
                        VimUpdate {
                            interface_info: Some(vim.interface_info.clone()),
                            access_info: Some(vim.access_info.clone()),
                            extra: Some(extra.clone()),
                            ..VimUpdate::default()
                        },
                    )
                    .await?
                }
                Some(existing) => {
                    return Err(Error::Conflict(format!(
                        "a VIM named '{name}' ({}, {}) is already registered, and not as a {} VIM produced by VNF instance {instance_id}; choose another name",
                        existing.id, existing.vim_type, vim.vim_type
                    )));
                }
                None => {
                    vims.register(
                        tenant,
                        VimRegistration {
                            name: name.clone(),
                            description: Some(format!("produced by VNF instance {instance_id}")),
                            vim_type: vim.vim_type.clone(),
                            interface_info: vim.interface_info.clone(),
                            access_info: vim.access_info.clone(),
                            extra: extra.clone(),
                            is_default: false,
                        },
                    )
                    .await?
                }
            };
            tracing::info!(tenant = %tenant, vnf_instance = instance_id, vim = info.id, name, "registered the VIM a management hook produced");
            recorded.push((
                name.clone(),
                VimConnectionInfo {
                    vim_id: Some(info.id),
                    vim_type: vim.vim_type.clone(),
                    interface_info: vim.interface_info.clone(),
                    access_info: KeyValuePairs::new(),
                    extra,
                },
            ));
        }
        Ok(recorded)
    }

    /// Deregisters the VIMs `instance_id` produced (those named in `names`, or all).
    ///
    /// References to them are dropped first, since the registry keeps a VIM that an
    /// instance refers to: the producer's own entry, and the stale entries of instances
    /// not deployed on them. A VIM on which another instance is still deployed (a
    /// forced terminate) stays registered. Safe to run again.
    pub(super) async fn release_produced_vims(
        &self,
        tenant: &TenantId,
        instance_id: &str,
        names: Option<&[String]>,
    ) -> Result<()> {
        let Some(vims) = self.inner.vims.clone() else {
            return Ok(());
        };
        let targets: Vec<VimInfo> = self
            .produced_vims(tenant, instance_id)
            .await?
            .into_iter()
            .filter(|v| names.is_none_or(|names| names.contains(&v.name)))
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = targets.iter().map(|v| v.id.clone()).collect();
        let users = self.vim_users(tenant, instance_id, &ids).await?;
        let mut stale: Vec<&str> = users
            .iter()
            .filter(|u| !u.deployed)
            .map(|u| u.instance_id.as_str())
            .collect();
        stale.push(instance_id);
        for holder in stale {
            self.drop_vim_references(tenant, holder, &ids).await?;
        }
        for vim in targets {
            match vims.delete(tenant, &vim.id).await {
                Ok(()) | Err(Error::NotFound { .. }) => {
                    tracing::info!(tenant = %tenant, vnf_instance = instance_id, vim = vim.id, name = vim.name, "deregistered a VIM the instance produced");
                }
                Err(reason) if reason.is_conflict() => {
                    tracing::warn!(tenant = %tenant, vnf_instance = instance_id, vim = vim.id, name = vim.name, %reason, "a VIM the instance produced stays registered: other instances are deployed on it");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Removes the `vimConnectionInfo` entries of `holder` that refer to `vim_ids`.
    async fn drop_vim_references(
        &self,
        tenant: &TenantId,
        holder: &str,
        vim_ids: &[String],
    ) -> Result<()> {
        for _ in 0..10 {
            let current = match self
                .store()
                .get_typed::<VnfInstanceRecord>(tenant, holder)
                .await
            {
                Ok(current) => current,
                Err(Error::NotFound { .. }) => return Ok(()),
                Err(other) => return Err(other),
            };
            let mut record = current.value.clone();
            let before = record.instance.vim_connection_info.len();
            record
                .instance
                .vim_connection_info
                .retain(|_, v| v.vim_id.as_ref().is_none_or(|id| !vim_ids.contains(id)));
            if record.instance.vim_connection_info.len() == before {
                return Ok(());
            }
            match self
                .store()
                .commit(
                    tenant,
                    vec![Write::Update {
                        record: record.into(),
                        expected_version: current.version,
                    }],
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(Error::StaleVersion { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(format!(
            "VNF instance {holder} keeps changing; its references to VIM(s) {} were not removed",
            vim_ids.join(", ")
        )))
    }

    /// Applies the VIM changes of a hook's outcome to the registry and returns the
    /// outcome as the step records it (no credentials).
    pub(super) async fn apply_hook_vims(
        &self,
        tenant: &TenantId,
        instance_id: &str,
        mut outcome: MgmtOutcome,
    ) -> Result<MgmtOutcome> {
        outcome.registered_vims = self
            .register_produced_vims(tenant, instance_id, &outcome.registered_vims)
            .await?;
        if !outcome.deregistered_vims.is_empty() {
            self.release_produced_vims(tenant, instance_id, Some(&outcome.deregistered_vims))
                .await?;
        }
        Ok(outcome)
    }
}

/// The instance's `vimConnectionInfo` after the VIM changes its hooks recorded.
pub(super) fn merge_hook_vims(instance: &mut VnfInstance, outcome: &MgmtOutcome) {
    for (name, vim) in &outcome.registered_vims {
        instance
            .vim_connection_info
            .insert(name.clone(), vim.clone());
    }
    for name in &outcome.deregistered_vims {
        if instance
            .vim_connection_info
            .get(name)
            .is_some_and(|v| produced_by(v, &instance.id))
        {
            instance.vim_connection_info.remove(name);
        }
    }
}
