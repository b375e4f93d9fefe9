//! OpenStack drivers for the tacker VNF Manager (vimType `ETSINFV.OPENSTACK_KEYSTONE.V_3`).
//!
//! - [`KeystoneSession`]: Keystone v3 authentication (password or application
//!   credential, project scope), the service catalog with region and interface
//!   selection, one cached token per session renewed before it expires and on 401.
//! - [`OpenStackInfraDriver`]: deploys a VNF as one Heat stack from the package's
//!   `BaseHOT/<flavourId>/` top template and its `nested/` files, with a single `nfv`
//!   parameter generated from the VNFD, the request and the grant ([`nfv`]), and reads
//!   the VNF's resources back from the stack.
//! - [`OpenStackVimDriver`]: checks a VIM's credentials at registration.
//!
//! # The VIM
//!
//! [`KeystoneConfig`] lists the `interfaceInfo` and `accessInfo` fields. Two optional
//! `extra` fields shape every stack of a VIM:
//! - `heatEnvironment`: a Heat environment merged into each stack (for example a
//!   `resource_registry` mapping a resource type to a site's own provider template);
//! - `heatFiles`: files (name → text) sent with each stack, such as those provider
//!   templates.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use tacker_drivers_openstack::{OpenStackInfraDriver, OpenStackOptions, OpenStackVimDriver};
//!
//! let infra = Arc::new(OpenStackInfraDriver::new(OpenStackOptions::default()));
//! let vims = Arc::new(OpenStackVimDriver::new());
//! // Hand `infra` to the LCM builder's `infra_driver(..)` and `vims` to the VIM registry.
//! # let _ = (infra, vims);
//! ```

mod driver;
mod glance;
pub mod heat;
mod keystone;
mod layout;
pub mod nfv;
mod nova;
mod ordering;
pub mod userdata;
mod vim;

pub use driver::{
    EXTRA_HEAT_ENVIRONMENT, EXTRA_HEAT_FILES, OpenStackInfraDriver, OpenStackOptions, stack_name,
};
pub use keystone::{
    Credential, DomainRef, KeystoneConfig, KeystoneSession, ProjectScope, SessionStats,
};
pub use layout::{META_CREATION_TIME, META_HEAT_RESOURCE};
pub use ordering::subnets_first;
pub use vim::OpenStackVimDriver;

/// The vimType this crate serves.
pub const VIM_TYPE: &str = "ETSINFV.OPENSTACK_KEYSTONE.V_3";

/// The `driver` name in errors.
pub(crate) const DRIVER: &str = "openstack";

/// The OpenStack VIM type as one unit for [`tacker_core::Vnfm`]: the Heat infra driver
/// with `options` and the Keystone VIM driver, both under `policy`.
pub fn vim_type(
    options: OpenStackOptions,
    policy: tacker_core::outbound::OutboundPolicy,
) -> tacker_core::Result<tacker_core::VimType> {
    tacker_core::VimType::new(
        std::sync::Arc::new(OpenStackInfraDriver::new(options).outbound_policy(policy.clone())),
        std::sync::Arc::new(OpenStackVimDriver::new().outbound_policy(policy)),
    )
}
