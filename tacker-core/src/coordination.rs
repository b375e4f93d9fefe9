//! `LcmCoordinator`: runs the coordination actions an operation's VNFD declares
//! (SOL001 `LcmCoordinationAction`, SOL002 `VNFLCMCoordination`) with an EM or the NFVO.
//!
//! The engine runs an operation's actions whose `coordination_stage` is `start` right
//! after the grant, before any change (LCM scripts included), and the others after every
//! change, before the operation completes. Each is a step of the operation: a retry
//! does not run an action that already answered CONTINUE again. `CONTINUE` goes on;
//! `ABORT` and `CANCELLED` end the operation FAILED_TEMP with the coordination's reason
//! (rollback or retry are then the client's choice); an endpoint that cannot answer
//! fails it FAILED_TEMP too. An operation whose VNFD declares coordination actions is
//! refused at the request (422, naming them) when the VNFM has no coordinator.

use async_trait::async_trait;

use crate::Result;
use crate::TenantId;
use crate::model::{LcmCoord, LcmCoordRequest};

/// Runs coordination actions.
#[async_trait]
pub trait LcmCoordinator: Send + Sync + std::fmt::Debug {
    /// Runs `request` and returns its result once decided (an asynchronous
    /// coordination is waited for, within the coordinator's deadline).
    async fn coordinate(&self, tenant: &TenantId, request: &LcmCoordRequest) -> Result<LcmCoord>;
}
