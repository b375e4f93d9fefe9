//! One module per LCM operation.
//!
//! The engine runs every operation through the same flow: acceptance (instantiation
//! state, the VIM's driver support, hook drivers), the grant, the start hook, the infra
//! driver call, the end hook and the completion, or the rollback hooks around the
//! driver's rollback. What differs between operations is behind [`Operation`], written
//! once per operation in the module named after it:
//! - what the request must satisfy beyond the common checks;
//! - the resources the grant asks for;
//! - which infra driver call does the work, and which restores the state recorded
//!   before it;
//! - what the completed operation changes on the instance.

use async_trait::async_trait;

use super::Engine;
use crate::infra::{InfraContext, InfraDriver, InfraOutcome};
use crate::lcm::grant::GrantResources;
use crate::lcm::request::OpRequest;
use crate::model::{
    InstantiatedVnfInfo, KeyValuePairs, ScaleInfo, VimConnectionInfo, VnfInstance,
    VnfOperationalStateType,
};
use crate::vnfd::{DeploymentFlavour, Vnfd};
use crate::{Error, Result, TenantId};

mod change_ext_conn;
mod change_flavour;
mod change_vnfpkg;
mod heal;
mod instantiate;
mod modify_info;
mod operate;
mod scale;
mod terminate;

pub(super) use modify_info::modified;

/// What one LCM operation adds to the engine's common flow. Every method but
/// [`Operation::run`] has the answer of an operation that does not take part in that
/// part of the flow.
#[async_trait]
pub(super) trait Operation: Send + Sync {
    /// The request's `additionalParams`.
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        None
    }

    /// Whether the operation calls the infra driver at all (modify info does not).
    fn uses_infra(&self) -> bool {
        true
    }

    /// The VIMs the request itself names (instantiate).
    fn requested_vims(&self) -> Option<&std::collections::BTreeMap<String, VimConnectionInfo>> {
        None
    }

    /// The flavour the request names for the operation to run in (instantiate). Other
    /// operations run in the instance's current flavour.
    fn requested_flavour(&self) -> Option<&str> {
        None
    }

    /// The flavour and instantiation level the VNF ends in, for operations that choose
    /// them (instantiate, change flavour).
    fn target_flavour(&self) -> Option<(&str, Option<&str>)> {
        None
    }

    /// The VNFD the VNF moves to (change current package).
    fn target_vnfd_id(&self) -> Option<&str> {
        None
    }

    /// The checks the request must pass at acceptance beyond the common ones.
    async fn validate(&self, _cx: &Acceptance<'_>) -> Result<()> {
        Ok(())
    }

    /// Adds the resources the operation creates, removes or updates to its grant.
    fn grant(&self, _cx: &GrantInput<'_>, _resources: &mut GrantResources) -> Result<()> {
        Ok(())
    }

    /// The infra driver call that does the operation's work.
    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome>;

    /// The infra driver call that restores the state recorded before the operation.
    async fn rollback(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        Err(Error::Conflict(format!(
            "{} cannot be rolled back",
            cx.operation
        )))
    }

    /// What the completed operation changes on the instance beyond the resources the
    /// driver reported.
    fn apply(&self, _cx: &mut Applied<'_>) {}
}

/// The logic of `request`'s operation.
pub(super) fn of(request: &OpRequest) -> &dyn Operation {
    match request {
        OpRequest::Instantiate(r) => r,
        OpRequest::Terminate(r) => r,
        OpRequest::Scale(r) => r,
        OpRequest::ScaleToLevel(r) => r,
        OpRequest::Heal(r) => r,
        OpRequest::ChangeFlavour(r) => r,
        OpRequest::Operate(r) => r,
        OpRequest::ChangeExtConn(r) => r,
        OpRequest::ChangeVnfpkg(r) => r,
        OpRequest::ModifyInfo(r) => r,
    }
}

/// What a request is checked against at acceptance.
pub(super) struct Acceptance<'a> {
    pub engine: &'a Engine,
    pub tenant: &'a TenantId,
    pub instance: &'a VnfInstance,
    pub vnfd: &'a Vnfd,
    /// The flavour the operation runs in: the requested one (checked to exist), else
    /// the instance's, else (for an instance not instantiated) the VNFD's first.
    pub flavour: Option<&'a DeploymentFlavour>,
    /// The driver of the VIM the operation runs on (none for an operation that does
    /// not use the infra driver).
    pub driver: Option<&'a dyn InfraDriver>,
}

impl Acceptance<'_> {
    /// The instance's instantiated info, when it is instantiated.
    pub fn info(&self) -> Option<&InstantiatedVnfInfo> {
        self.instance.instantiated_vnf_info.as_ref()
    }

    /// The flavour the operation runs in; an error when the VNFD lost it.
    pub fn flavour(&self) -> Result<&DeploymentFlavour> {
        self.flavour.ok_or_else(|| {
            Error::Internal(format!(
                "the VNFD has no flavour {} any more",
                self.info()
                    .map(|i| i.flavour_id.as_str())
                    .unwrap_or_default()
            ))
        })
    }

    /// The driver of the VIM the operation runs on.
    pub fn driver(&self) -> Result<&dyn InfraDriver> {
        self.driver
            .ok_or_else(|| Error::Internal("the operation has no infra driver".to_owned()))
    }
}

/// What a grant's contents are worked out from.
pub(super) struct GrantInput<'a> {
    pub vnfd: &'a Vnfd,
    pub info: Option<&'a InstantiatedVnfInfo>,
}

impl GrantInput<'_> {
    /// The flavour the instance is in now.
    pub fn current_flavour(&self) -> Option<&DeploymentFlavour> {
        self.info.and_then(|i| self.vnfd.flavour(&i.flavour_id))
    }
}

/// An infra driver call of an operation (its work or its rollback).
pub(super) struct Work<'a> {
    pub engine: &'a Engine,
    pub operation: crate::model::LcmOperationType,
    pub ctx: &'a InfraContext<'a>,
    pub driver: &'a dyn InfraDriver,
}

impl Work<'_> {
    /// The instance's instantiated info before the operation.
    pub fn info(&self) -> Option<&InstantiatedVnfInfo> {
        self.ctx.vnf_instance.instantiated_vnf_info.as_ref()
    }
}

/// The instance a completed operation leaves, taking shape. The engine fills it with
/// what the instance had (or what the target flavour and level give), the operation
/// changes what it changes, and the engine then records the driver's resources.
pub(super) struct Applied<'a> {
    pub engine: &'a Engine,
    pub before: &'a VnfInstance,
    pub instance: VnfInstance,
    /// The flavour the VNF ends in, in the VNFD it ends with.
    pub flavour: Option<&'a DeploymentFlavour>,
    pub scale_status: Vec<ScaleInfo>,
    pub vnf_state: VnfOperationalStateType,
    pub localization_language: Option<String>,
    /// Set by an operation that leaves the VNF NOT_INSTANTIATED.
    pub terminated: bool,
}

impl Applied<'_> {
    /// The instance's instantiated info before the operation.
    pub fn previous(&self) -> Option<&InstantiatedVnfInfo> {
        self.before.instantiated_vnf_info.as_ref()
    }
}

/// Checks that `level` is an instantiation level of `flavour`.
pub(super) fn check_level(flavour: &DeploymentFlavour, level: Option<&str>) -> Result<()> {
    if let Some(level) = level
        && flavour.instantiation_level(level).is_none()
    {
        return Err(Error::Unprocessable(format!(
            "instantiationLevelId '{level}' is not a level of flavour {} (levels: {})",
            flavour.id,
            flavour
                .instantiation_levels
                .iter()
                .map(|l| l.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Checks that every CPD an `extVirtualLinks` entry connects is an external CP of
/// `flavour`.
fn check_ext_cps(
    flavour: &DeploymentFlavour,
    links: &[crate::model::ExtVirtualLinkData],
) -> Result<()> {
    for cpd in links
        .iter()
        .flat_map(|l| l.ext_cps.iter().map(|c| c.cpd_id.as_str()))
    {
        // An external CP: a substitution-mapped one, or a VduCp with no internal link.
        let known = flavour
            .ext_cps
            .iter()
            .any(|e| e.id == cpd || e.vdu_cp == cpd)
            || flavour
                .vdu_cps
                .iter()
                .any(|c| c.id == cpd && c.virtual_link.is_none());
        if !known {
            return Err(Error::Unprocessable(format!(
                "extVirtualLinks: cpdId '{cpd}' is not an external CP of flavour {}",
                flavour.id
            )));
        }
    }
    Ok(())
}

/// Adds every VNFC of `flavour` at `level`, and its virtual links, to a grant.
fn grant_new_flavour(
    resources: &mut GrantResources,
    flavour: &DeploymentFlavour,
    level: Option<&str>,
) {
    for vdu in &flavour.vdus {
        resources.add_vnfcs(flavour, &vdu.id, flavour.vdu_instances_at_level(vdu, level));
    }
    resources.add_virtual_links(flavour);
}
