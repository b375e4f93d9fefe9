//! Kubernetes drivers for the tacker VNF Manager.
//!
//! - [`KubernetesInfraDriver`] deploys CNFs on a Kubernetes VIM (vimType
//!   `ETSINFV.KUBERNETES.V_1`) with kube-rs: the manifests a VNF package lists are
//!   applied with server-side apply, VDUs map to workloads, readiness is awaited with
//!   watches.
//! - [`KubernetesVimDriver`] checks a Kubernetes VIM's credentials.
//! - [`testkit`] (feature `testkit`) is a test double of the Kubernetes API server.

#[cfg(feature = "testkit")]
pub mod testkit;
