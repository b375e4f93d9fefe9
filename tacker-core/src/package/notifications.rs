//! Which package subscriptions a package notification goes to.

use crate::model::{PkgmNotificationType, PkgmNotificationsFilter, VnfPkgInfo};

/// Whether a subscription filter selects a notification of `kind` about `package`.
/// Empty lists match everything, as in SOL005.
pub fn pkgm_filter_matches(
    filter: Option<&PkgmNotificationsFilter>,
    kind: PkgmNotificationType,
    package: &VnfPkgInfo,
) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    let listed = |list: &[String], value: Option<&String>| {
        list.is_empty() || value.is_some_and(|v| list.contains(v))
    };
    if !filter.notification_types.is_empty() && !filter.notification_types.contains(&kind) {
        return false;
    }
    if !listed(&filter.vnfd_id, package.vnfd_id.as_ref())
        || !listed(&filter.vnf_pkg_id, Some(&package.id))
    {
        return false;
    }
    if !filter.operational_state.is_empty()
        && !filter
            .operational_state
            .contains(&package.operational_state)
    {
        return false;
    }
    if !filter.usage_state.is_empty() && !filter.usage_state.contains(&package.usage_state) {
        return false;
    }
    if !filter.vnfm_info.is_empty()
        && !package
            .vnfm_info
            .iter()
            .any(|v| filter.vnfm_info.contains(v))
    {
        return false;
    }
    if !filter.vnf_products_from_providers.is_empty() {
        let provider_matches = filter.vnf_products_from_providers.iter().any(|p| {
            package.vnf_provider.as_deref() == Some(p.vnf_provider.as_str())
                && (p.vnf_products.is_empty()
                    || p.vnf_products.iter().any(|product| {
                        package.vnf_product_name.as_deref()
                            == Some(product.vnf_product_name.as_str())
                            && (product.versions.is_empty()
                                || product.versions.iter().any(|version| {
                                    package.vnf_software_version.as_deref()
                                        == Some(version.vnf_software_version.as_str())
                                        && (version.vnfd_versions.is_empty()
                                            || package
                                                .vnfd_version
                                                .as_ref()
                                                .is_some_and(|v| version.vnfd_versions.contains(v)))
                                }))
                    }))
        });
        if !provider_matches {
            return false;
        }
    }
    true
}
