//! A `MgmtDriver` that installs a Kubernetes cluster on the VMs of a VNF over SSH and
//! registers the cluster as a new VIM.
//!
//! It holds no functionality yet.
