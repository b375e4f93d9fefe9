//! The ETSI NFV REST APIs of the tacker VNF Manager: VNF LCM (`/vnflcm/v2`), VNF
//! package management (`/vnfpkgm/v2`, `/vnfpkgm/v1`) and the VIM registry, as an axum
//! `Router` an embedder can mount.
//!
//! It holds no functionality yet.
