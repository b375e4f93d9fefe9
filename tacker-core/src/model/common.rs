//! Data types shared by every ETSI NFV API (SOL002/SOL003/SOL005 "General definitions").

use serde::{Deserialize, Serialize};

/// `KeyValuePairs`: a JSON object with free-form content.
pub type KeyValuePairs = serde_json::Map<String, serde_json::Value>;

/// A point in time as ETSI `DateTime` (RFC 3339, UTC).
pub type DateTime = chrono::DateTime<chrono::Utc>;

/// `Link`: a reference to a resource by absolute URI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Link {
    /// The absolute URI of the referenced resource.
    pub href: String,
}

impl Link {
    /// A link to `href`.
    pub fn new(href: impl Into<String>) -> Self {
        Self { href: href.into() }
    }
}

/// `NotificationLink`: a link carried in a notification.
pub type NotificationLink = Link;

/// `ProblemDetails` (IETF RFC 9457), the body of every ETSI API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDetails {
    /// A URI that identifies the problem type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    /// A short, human-readable summary of the problem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTTP status code of this occurrence of the problem.
    pub status: u16,
    /// A human-readable explanation specific to this occurrence.
    pub detail: String,
    /// A URI reference that identifies this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// An extension member of an operation's error (the name Tacker gives it): what a
    /// failed LCM script recorded about its progress, given back to the scripts when
    /// the operation is retried.
    #[serde(
        rename = "userScriptErrHandlingData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_script_err_handling_data: Option<KeyValuePairs>,
}

/// `ResourceHandle`: where a virtualised resource lives in a VIM.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceHandle {
    /// Key of the `vimConnectionInfo` map entry of the VIM that manages the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_connection_id: Option<String>,
    /// The resource provider, when the resource is not managed by a VIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_provider_id: Option<String>,
    /// The resource's identifier in the VIM.
    pub resource_id: String,
    /// The resource type as the VIM names it (e.g. `OS::Nova::Server`, `Deployment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_level_resource_type: Option<String>,
}

/// `VimConnectionInfo`: how to reach a VIM (or another resource manager).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimConnectionInfo {
    /// The VIM's identifier, as the NFVO knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vim_id: Option<String>,
    /// The VIM type, e.g. `ETSINFV.OPENSTACK_KEYSTONE.V_3` or `ETSINFV.KUBERNETES.V_1`.
    pub vim_type: String,
    /// Endpoint information (for example `endpoint`, `ssl_ca_cert`).
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub interface_info: KeyValuePairs,
    /// Credentials and scoping (for example `username`, `password`, `project`).
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub access_info: KeyValuePairs,
    /// VIM-specific additional information.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub extra: KeyValuePairs,
}

/// `ScaleInfo`: the scale level of a VNF instance for one scaling aspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleInfo {
    /// The scaling aspect.
    pub aspect_id: String,
    /// The VNFD, when it differs from the instance's `vnfdId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The scale level, from 0 to the aspect's `max_scale_level`.
    pub scale_level: u32,
}

/// `VnfOperationalStateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VnfOperationalStateType {
    /// The VNF instance is up and running.
    Started,
    /// The VNF instance has been shut down.
    Stopped,
}

/// `LcmOperationType`: the kind of a VNF lifecycle management operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LcmOperationType {
    /// Instantiate VNF.
    Instantiate,
    /// Scale VNF.
    Scale,
    /// Scale VNF to level.
    ScaleToLevel,
    /// Change VNF flavour.
    ChangeFlavour,
    /// Terminate VNF.
    Terminate,
    /// Heal VNF.
    Heal,
    /// Operate VNF.
    Operate,
    /// Change external VNF connectivity.
    ChangeExtConn,
    /// Modify VNF information.
    ModifyInfo,
    /// Create VNF snapshot.
    CreateSnapshot,
    /// Revert to VNF snapshot.
    RevertToSnapshot,
    /// Change current VNF package.
    ChangeVnfpkg,
}

impl LcmOperationType {
    /// Every operation type, in ETSI order.
    pub const ALL: [Self; 12] = [
        Self::Instantiate,
        Self::Scale,
        Self::ScaleToLevel,
        Self::ChangeFlavour,
        Self::Terminate,
        Self::Heal,
        Self::Operate,
        Self::ChangeExtConn,
        Self::ModifyInfo,
        Self::CreateSnapshot,
        Self::RevertToSnapshot,
        Self::ChangeVnfpkg,
    ];

    /// The ETSI spelling, e.g. `SCALE_TO_LEVEL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instantiate => "INSTANTIATE",
            Self::Scale => "SCALE",
            Self::ScaleToLevel => "SCALE_TO_LEVEL",
            Self::ChangeFlavour => "CHANGE_FLAVOUR",
            Self::Terminate => "TERMINATE",
            Self::Heal => "HEAL",
            Self::Operate => "OPERATE",
            Self::ChangeExtConn => "CHANGE_EXT_CONN",
            Self::ModifyInfo => "MODIFY_INFO",
            Self::CreateSnapshot => "CREATE_SNAPSHOT",
            Self::RevertToSnapshot => "REVERT_TO_SNAPSHOT",
            Self::ChangeVnfpkg => "CHANGE_VNFPKG",
        }
    }
}

impl std::fmt::Display for LcmOperationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `LcmOperationStateType`: the state of a VNF lifecycle operation occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LcmOperationStateType {
    /// Accepted, waiting to run (granting, pre-checks).
    Starting,
    /// Running.
    Processing,
    /// Finished successfully (final).
    Completed,
    /// Failed; may be retried, rolled back or declared failed.
    FailedTemp,
    /// Failed for good (final).
    Failed,
    /// Being rolled back.
    RollingBack,
    /// Rolled back (final).
    RolledBack,
}

impl LcmOperationStateType {
    /// Every state, in ETSI order.
    pub const ALL: [Self; 7] = [
        Self::Starting,
        Self::Processing,
        Self::Completed,
        Self::FailedTemp,
        Self::Failed,
        Self::RollingBack,
        Self::RolledBack,
    ];

    /// COMPLETED, FAILED and ROLLED_BACK end an operation occurrence for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::RolledBack)
    }

    /// Every state that is not final keeps the VNF instance busy: SOL003 refuses another
    /// operation on the instance (409) while one is STARTING, PROCESSING, FAILED_TEMP or
    /// ROLLING_BACK.
    pub fn is_in_progress(self) -> bool {
        !self.is_final()
    }

    /// The ETSI spelling, e.g. `FAILED_TEMP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::FailedTemp => "FAILED_TEMP",
            Self::Failed => "FAILED",
            Self::RollingBack => "ROLLING_BACK",
            Self::RolledBack => "ROLLED_BACK",
        }
    }
}

impl std::fmt::Display for LcmOperationStateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `SubscriptionAuthentication`: how the VNFM authenticates to a subscriber's callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionAuthentication {
    /// The accepted authentication types.
    pub auth_type: Vec<AuthType>,
    /// Credentials for BASIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_basic: Option<ParamsBasic>,
    /// Credentials for OAUTH2_CLIENT_CREDENTIALS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_oauth2_client_credentials: Option<ParamsOauth2ClientCredentials>,
}

/// The authentication types of `SubscriptionAuthentication.authType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthType {
    /// HTTP Basic authentication.
    Basic,
    /// OAuth 2.0 bearer token from the client credentials grant.
    Oauth2ClientCredentials,
    /// Mutually authenticated TLS.
    TlsCert,
}

/// `paramsBasic` of `SubscriptionAuthentication`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamsBasic {
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `paramsOauth2ClientCredentials` of `SubscriptionAuthentication`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamsOauth2ClientCredentials {
    /// Client identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Client password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_password: Option<String>,
    /// The token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
}

/// `VnfInstanceSubscriptionFilter`: which VNF instances a subscription covers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfInstanceSubscriptionFilter {
    /// Match instances of these VNFDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfd_ids: Vec<String>,
    /// Match instances of these providers' products.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_products_from_providers: Vec<VnfProductsFromProvider>,
    /// Match these instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_instance_ids: Vec<String>,
    /// Match instances with these names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_instance_names: Vec<String>,
}

/// One entry of `vnfProductsFromProviders` in a VNF instance filter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfProductsFromProvider {
    /// The provider to match.
    pub vnf_provider: String,
    /// The products of that provider to match; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_products: Vec<VnfProduct>,
}

/// A product (and optionally versions) to match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfProduct {
    /// The product name to match.
    pub vnf_product_name: String,
    /// The versions to match; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VnfProductVersion>,
}

/// A software version (and optionally VNFD versions) to match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfProductVersion {
    /// The software version to match.
    pub vnf_software_version: String,
    /// The VNFD versions to match; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfd_versions: Vec<String>,
}

/// `ApiVersionInformation`: the answer of `GET {apiRoot}/{apiName}/api_versions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersionInformation {
    /// The URI prefix of the API, e.g. `/vnflcm/v2`.
    pub uri_prefix: String,
    /// The supported versions.
    pub api_versions: Vec<ApiVersion>,
}

/// One supported API version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersion {
    /// The version, e.g. `2.0.0`.
    pub version: String,
    /// Whether the version is deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deprecated: Option<bool>,
    /// When the version will be retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retirement_date: Option<DateTime>,
}

/// Applies an RFC 7396 JSON merge patch: `null` removes a key, objects merge
/// recursively, anything else replaces.
pub fn merge_patch(target: &mut KeyValuePairs, patch: &KeyValuePairs) {
    for (key, value) in patch {
        match value {
            serde_json::Value::Null => {
                target.remove(key);
            }
            serde_json::Value::Object(inner) => {
                let entry = target
                    .entry(key.clone())
                    .or_insert_with(|| serde_json::Value::Object(KeyValuePairs::new()));
                match entry {
                    serde_json::Value::Object(existing) => merge_patch(existing, inner),
                    other => {
                        let mut fresh = KeyValuePairs::new();
                        merge_patch(&mut fresh, inner);
                        *other = serde_json::Value::Object(fresh);
                    }
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}, "h": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let patch =
            serde_json::json!({"a": "z", "c": {"f": null}, "h": {"i": null, "j": 2}, "k": [1]})
                .as_object()
                .cloned()
                .unwrap_or_default();
        merge_patch(&mut target, &patch);
        assert_eq!(
            serde_json::Value::Object(target),
            serde_json::json!({"a": "z", "c": {"d": "e"}, "h": {"j": 2}, "k": [1]})
        );
    }
}
