//! VNF lifecycle management: the operation-occurrence state machine, and the engine
//! ([`VnfLcm`]) that validates requests, runs them with leases and records each step.

mod engine;
pub mod grant;
pub mod lccn;
mod request;
pub mod state;

pub use engine::{Executor, Fault, LcmConfig, OpFinished, VnfFm, VnfLcm, VnfLcmBuilder, fault_key};
pub use grant::LocalGrantProvider;
pub use request::OpRequest;
pub use state::{OpEvent, transition};
