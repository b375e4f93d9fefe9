//! Kubernetes drivers for the tacker VNF Manager.
//!
//! This crate will provide an `InfraDriver` that deploys CNFs on a Kubernetes VIM
//! (vimType `ETSINFV.KUBERNETES.V_1`) and the matching `VimDriver`.
//! It holds no functionality yet.
