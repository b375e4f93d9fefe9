//! SOL002 VNF LCM coordination (`VNFLCMCoordination`): what the VNFM asks an EM or the
//! NFVO at an operation's coordination points, and what it answers.

use serde::{Deserialize, Serialize};

use super::{KeyValuePairs, LcmCoordResultType, LcmOperationType, Link, ProblemDetails};

/// `LcmCoordRequest`: a coordination action to run for an operation occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LcmCoordRequest {
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// The operation occurrence.
    pub vnf_lcm_op_occ_id: String,
    /// The operation (`LcmOperationForCoordType`).
    pub lcm_operation_type: LcmOperationType,
    /// The action, as the VNFD names it.
    pub coordination_action_name: String,
    /// Input of the action.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub input_params: KeyValuePairs,
    /// Links.
    #[serde(rename = "_links")]
    pub links: LcmCoordRequestLinks,
}

/// `_links` of an `LcmCoordRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LcmCoordRequestLinks {
    /// The operation occurrence.
    pub vnf_lcm_op_occ: Link,
    /// The VNF instance.
    pub vnf_instance: Link,
}

/// `LcmCoord`: the result of a coordination action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LcmCoord {
    /// The coordination's identifier.
    pub id: String,
    /// Its result.
    pub coordination_result: LcmCoordResultType,
    /// The VNF instance.
    pub vnf_instance_id: String,
    /// The operation occurrence.
    pub vnf_lcm_op_occ_id: String,
    /// The operation.
    pub lcm_operation_type: LcmOperationType,
    /// The action.
    pub coordination_action_name: String,
    /// Output of the action (e.g. why it aborted).
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub output_params: KeyValuePairs,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<String>,
    /// Why it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProblemDetails>,
    /// Links.
    #[serde(rename = "_links")]
    pub links: LcmCoordLinks,
}

/// `_links` of an `LcmCoord`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LcmCoordLinks {
    /// This coordination.
    #[serde(rename = "self")]
    pub self_: Link,
    /// The operation occurrence.
    pub vnf_lcm_op_occ: Link,
    /// The VNF instance.
    pub vnf_instance: Link,
}
