//! The infra-driver conformance suite (being written).
