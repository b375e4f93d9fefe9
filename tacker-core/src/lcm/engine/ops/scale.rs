//! Scale VNF and scale VNF to level: aspects move to new scale levels, and the VDUs
//! they govern gain or lose VNFCs.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Acceptance, Applied, GrantInput, Operation, Work, check_level};
use crate::infra::{InfraOutcome, Rollback, ScaleTarget};
use crate::lcm::grant::GrantResources;
use crate::model::{
    InstantiatedVnfInfo, KeyValuePairs, ScaleInfo, ScaleType, ScaleVnfRequest,
    ScaleVnfToLevelRequest,
};
use crate::vnfd::DeploymentFlavour;
use crate::{Error, Result};

/// The scale level of each aspect of an instantiated VNF.
fn current_levels(info: &InstantiatedVnfInfo) -> BTreeMap<String, u32> {
    info.scale_status
        .iter()
        .map(|s| (s.aspect_id.clone(), s.scale_level))
        .collect()
}

fn levels_vec(levels: BTreeMap<String, u32>) -> Vec<ScaleInfo> {
    levels
        .into_iter()
        .map(|(aspect_id, scale_level)| ScaleInfo {
            aspect_id,
            vnfd_id: None,
            scale_level,
        })
        .collect()
}

/// The levels a scale request moves the aspects to, checked against the flavour.
trait ScaleRequest: Send + Sync {
    fn target(
        &self,
        flavour: &DeploymentFlavour,
        info: Option<&InstantiatedVnfInfo>,
    ) -> Result<ScaleTarget>;
}

impl ScaleRequest for ScaleVnfRequest {
    fn target(
        &self,
        flavour: &DeploymentFlavour,
        info: Option<&InstantiatedVnfInfo>,
    ) -> Result<ScaleTarget> {
        let levels = info.map(current_levels).unwrap_or_default();
        let aspect = flavour.scaling_aspect(&self.aspect_id).ok_or_else(|| {
            Error::Unprocessable(format!(
                "aspectId '{}' is not a scaling aspect of flavour {}",
                self.aspect_id, flavour.id
            ))
        })?;
        let steps = self.number_of_steps.unwrap_or(1);
        if steps == 0 {
            return Err(Error::InvalidRequest(
                "numberOfSteps must be at least 1".to_owned(),
            ));
        }
        let current = levels.get(&aspect.id).copied().unwrap_or(0);
        let target = match self.scale_type {
            ScaleType::ScaleOut => current
                .checked_add(steps)
                .filter(|t| *t <= aspect.max_scale_level),
            ScaleType::ScaleIn => current.checked_sub(steps),
        }
        .ok_or_else(|| {
            Error::Unprocessable(format!(
                "scaling aspect {} is at level {current} of 0..{}; {} by {steps} step(s) leaves that range",
                aspect.id,
                aspect.max_scale_level,
                if self.scale_type == ScaleType::ScaleOut {
                    "SCALE_OUT"
                } else {
                    "SCALE_IN"
                }
            ))
        })?;
        Ok(ScaleTarget {
            scale_levels: vec![ScaleInfo {
                aspect_id: aspect.id.clone(),
                vnfd_id: None,
                scale_level: target,
            }],
            scale_type: Some(self.scale_type),
            additional_params: self.additional_params.clone(),
        })
    }
}

impl ScaleRequest for ScaleVnfToLevelRequest {
    fn target(
        &self,
        flavour: &DeploymentFlavour,
        _info: Option<&InstantiatedVnfInfo>,
    ) -> Result<ScaleTarget> {
        let targets: BTreeMap<String, u32> =
            match (&self.instantiation_level_id, self.scale_info.is_empty()) {
                (Some(_), false) => {
                    return Err(Error::InvalidRequest(
                        "give instantiationLevelId or scaleInfo, not both".to_owned(),
                    ));
                }
                (None, true) => {
                    return Err(Error::InvalidRequest(
                        "give instantiationLevelId or scaleInfo".to_owned(),
                    ));
                }
                (Some(level), true) => {
                    check_level(flavour, Some(level))?;
                    flavour.scale_levels_at(Some(level))
                }
                (None, false) => {
                    let mut targets = BTreeMap::new();
                    for info in &self.scale_info {
                        let aspect = flavour.scaling_aspect(&info.aspect_id).ok_or_else(|| {
                            Error::Unprocessable(format!(
                                "scaleInfo: aspectId '{}' is not a scaling aspect of flavour {}",
                                info.aspect_id, flavour.id
                            ))
                        })?;
                        if info.scale_level > aspect.max_scale_level {
                            return Err(Error::Unprocessable(format!(
                                "scaleInfo: level {} of aspect {} is above its max_scale_level {}",
                                info.scale_level, aspect.id, aspect.max_scale_level
                            )));
                        }
                        targets.insert(aspect.id.clone(), info.scale_level);
                    }
                    targets
                }
            };
        Ok(ScaleTarget {
            scale_levels: levels_vec(targets),
            scale_type: None,
            additional_params: self.additional_params.clone(),
        })
    }
}

/// The grant of a move to `target`: new VNFCs of the VDUs that grow, and the last
/// VNFCs of those that shrink.
fn grant_target(
    flavour: &DeploymentFlavour,
    info: &InstantiatedVnfInfo,
    target: &ScaleTarget,
    resources: &mut GrantResources,
) {
    let before = current_levels(info);
    let mut after = before.clone();
    for level in &target.scale_levels {
        after.insert(level.aspect_id.clone(), level.scale_level);
    }
    for vdu in &flavour.vdus {
        let (old, new) = (
            flavour.vdu_instances(vdu, &before),
            flavour.vdu_instances(vdu, &after),
        );
        if new > old {
            resources.add_vnfcs(flavour, &vdu.id, new - old);
        } else if old > new {
            let mut victims: Vec<&str> = info
                .vnfc_resource_info
                .iter()
                .filter(|v| v.vdu_id == vdu.id)
                .map(|v| v.id.as_str())
                .collect();
            let keep = usize::try_from(new)
                .unwrap_or(usize::MAX)
                .min(victims.len());
            let victims = victims.split_off(keep);
            resources.remove_vnfcs(info, victims);
        }
    }
}

/// The scale status after a move to the request's target.
fn applied_levels<R: ScaleRequest>(request: &R, cx: &mut Applied<'_>) {
    if let (Some(info), Some(flavour)) = (cx.previous(), cx.flavour) {
        let mut levels = current_levels(info);
        if let Ok(target) = request.target(flavour, Some(info)) {
            for level in target.scale_levels {
                levels.insert(level.aspect_id, level.scale_level);
            }
        }
        cx.scale_status = levels_vec(levels);
    }
}

/// The operation logic both scale requests share; only their target differs.
macro_rules! scale_operation {
    ($request:ty) => {
        #[async_trait]
        impl Operation for $request {
            fn additional_params(&self) -> Option<&KeyValuePairs> {
                Some(&self.additional_params)
            }

            async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
                self.target(cx.flavour()?, cx.info()).map(|_| ())
            }

            fn grant(&self, cx: &GrantInput<'_>, resources: &mut GrantResources) -> Result<()> {
                if let (Some(info), Some(flavour)) = (cx.info, cx.current_flavour()) {
                    grant_target(flavour, info, &self.target(flavour, Some(info))?, resources);
                }
                Ok(())
            }

            async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
                let target = self.target(cx.ctx.flavour, cx.info())?;
                cx.driver.scale(cx.ctx, &target).await
            }

            async fn rollback(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
                let target = self.target(cx.ctx.flavour, cx.info())?;
                cx.driver.rollback(cx.ctx, &Rollback::Scale(&target)).await
            }

            fn apply(&self, cx: &mut Applied<'_>) {
                applied_levels(self, cx);
            }
        }
    };
}

scale_operation!(ScaleVnfRequest);
scale_operation!(ScaleVnfToLevelRequest);
