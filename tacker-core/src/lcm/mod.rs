//! VNF lifecycle management: the operation-occurrence state machine and, on top of it,
//! the engine.

pub mod state;

pub use state::{OpEvent, transition};
