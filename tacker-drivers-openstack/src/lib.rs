//! OpenStack drivers for the tacker VNF Manager.
//!
//! This crate will provide a Keystone v3 session, an `InfraDriver` that deploys VNFs
//! through Heat (vimType `ETSINFV.OPENSTACK_KEYSTONE.V_3`) and the matching `VimDriver`.
//! It holds no functionality yet.
