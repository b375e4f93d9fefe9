//! The requests of the LCM task resources, as one type the engine stores and replays.

use serde::{Deserialize, Serialize};

use crate::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest,
    HealVnfRequest, InstantiateVnfRequest, LcmOperationType, OperateVnfRequest, ScaleVnfRequest,
    ScaleVnfToLevelRequest, TerminateVnfRequest, VnfInfoModificationRequest,
};
use crate::{Error, Result};

/// An LCM operation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OpRequest {
    /// Instantiate VNF.
    Instantiate(InstantiateVnfRequest),
    /// Terminate VNF.
    Terminate(TerminateVnfRequest),
    /// Scale VNF.
    Scale(ScaleVnfRequest),
    /// Scale VNF to level.
    ScaleToLevel(ScaleVnfToLevelRequest),
    /// Heal VNF (SOL003) or VNFCs (SOL002).
    Heal(HealVnfRequest),
    /// Change VNF flavour.
    ChangeFlavour(ChangeVnfFlavourRequest),
    /// Operate VNF.
    Operate(OperateVnfRequest),
    /// Change external VNF connectivity.
    ChangeExtConn(ChangeExtVnfConnectivityRequest),
    /// Change current VNF package.
    ChangeVnfpkg(ChangeCurrentVnfPkgRequest),
    /// Modify VNF information.
    ModifyInfo(VnfInfoModificationRequest),
}

impl OpRequest {
    /// The operation type.
    pub fn operation(&self) -> LcmOperationType {
        match self {
            Self::Instantiate(_) => LcmOperationType::Instantiate,
            Self::Terminate(_) => LcmOperationType::Terminate,
            Self::Scale(_) => LcmOperationType::Scale,
            Self::ScaleToLevel(_) => LcmOperationType::ScaleToLevel,
            Self::Heal(_) => LcmOperationType::Heal,
            Self::ChangeFlavour(_) => LcmOperationType::ChangeFlavour,
            Self::Operate(_) => LcmOperationType::Operate,
            Self::ChangeExtConn(_) => LcmOperationType::ChangeExtConn,
            Self::ChangeVnfpkg(_) => LcmOperationType::ChangeVnfpkg,
            Self::ModifyInfo(_) => LcmOperationType::ModifyInfo,
        }
    }

    /// The request body as `operationParams` holds it.
    pub fn to_params(&self) -> serde_json::Value {
        let value = match self {
            Self::Instantiate(r) => serde_json::to_value(r),
            Self::Terminate(r) => serde_json::to_value(r),
            Self::Scale(r) => serde_json::to_value(r),
            Self::ScaleToLevel(r) => serde_json::to_value(r),
            Self::Heal(r) => serde_json::to_value(r),
            Self::ChangeFlavour(r) => serde_json::to_value(r),
            Self::Operate(r) => serde_json::to_value(r),
            Self::ChangeExtConn(r) => serde_json::to_value(r),
            Self::ChangeVnfpkg(r) => serde_json::to_value(r),
            Self::ModifyInfo(r) => serde_json::to_value(r),
        };
        value.unwrap_or(serde_json::Value::Null)
    }

    /// The request of an operation back from its `operationParams`.
    pub fn from_params(operation: LcmOperationType, params: &serde_json::Value) -> Result<Self> {
        fn parse<T: serde::de::DeserializeOwned>(params: &serde_json::Value) -> Result<T> {
            serde_json::from_value(params.clone())
                .map_err(|e| Error::Internal(format!("stored operationParams are unreadable: {e}")))
        }
        Ok(match operation {
            LcmOperationType::Instantiate => Self::Instantiate(parse(params)?),
            LcmOperationType::Terminate => Self::Terminate(parse(params)?),
            LcmOperationType::Scale => Self::Scale(parse(params)?),
            LcmOperationType::ScaleToLevel => Self::ScaleToLevel(parse(params)?),
            LcmOperationType::Heal => Self::Heal(parse(params)?),
            LcmOperationType::ChangeFlavour => Self::ChangeFlavour(parse(params)?),
            LcmOperationType::Operate => Self::Operate(parse(params)?),
            LcmOperationType::ChangeExtConn => Self::ChangeExtConn(parse(params)?),
            LcmOperationType::ChangeVnfpkg => Self::ChangeVnfpkg(parse(params)?),
            LcmOperationType::ModifyInfo => Self::ModifyInfo(parse(params)?),
            other => {
                return Err(Error::NotSupported(format!(
                    "{other} is not supported by this VNFM"
                )));
            }
        })
    }
}
