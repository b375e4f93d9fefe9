//! VNF package management (SOL005 clause 9): `VnfPkgInfo`, subscriptions, notifications.

use serde::{Deserialize, Serialize};

use super::common::{
    DateTime, KeyValuePairs, Link, NotificationLink, ProblemDetails, SubscriptionAuthentication,
    VnfProductsFromProvider,
};
use super::lccn::SelfLink;

/// `PackageOnboardingStateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PackageOnboardingStateType {
    /// The package resource exists; no content yet (or onboarding failed).
    Created,
    /// Content is being uploaded.
    Uploading,
    /// Content is being validated.
    Processing,
    /// The package is ready to use.
    Onboarded,
    /// Onboarding failed for good.
    Error,
}

/// `PackageOperationalStateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PackageOperationalStateType {
    /// New VNF instances may use the package.
    Enabled,
    /// New VNF instances may not use the package.
    Disabled,
}

/// `PackageUsageStateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PackageUsageStateType {
    /// At least one VNF instance uses the package.
    InUse,
    /// No VNF instance uses the package.
    NotInUse,
}

/// `Checksum` (SOL005).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// The algorithm, e.g. `SHA-256`.
    pub algorithm: String,
    /// The hexadecimal digest.
    pub hash: String,
}

/// `VnfPkgInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPkgInfo {
    /// The package's identifier.
    pub id: String,
    /// The VNFD in the package (after onboarding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_id: Option<String>,
    /// The VNF provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_provider: Option<String>,
    /// The VNF product name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_product_name: Option<String>,
    /// The VNF software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnf_software_version: Option<String>,
    /// The VNFD version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnfd_version: Option<String>,
    /// The SOL004 versions the package complies with, from its manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatible_specification_versions: Vec<String>,
    /// The checksum of the package file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// The SOL004 security option used to sign the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_security_option: Option<PackageSecurityOption>,
    /// The signing certificate (PEM), when the package carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate: Option<String>,
    /// Software images in or referenced by the package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software_images: Vec<VnfPackageSoftwareImageInfo>,
    /// Other artifacts of the package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_artifacts: Vec<VnfPackageArtifactInfo>,
    /// Onboarding state.
    pub onboarding_state: PackageOnboardingStateType,
    /// Operational state.
    pub operational_state: PackageOperationalStateType,
    /// Usage state.
    pub usage_state: PackageUsageStateType,
    /// The VNFMs the VNFD declares compatible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfm_info: Vec<String>,
    /// Data the client attached to the package.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub user_defined_data: KeyValuePairs,
    /// Why the last onboarding failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding_failure_details: Option<ProblemDetails>,
    /// Links.
    #[serde(rename = "_links")]
    pub links: VnfPkgInfoLinks,
}

/// `packageSecurityOption` of `VnfPkgInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PackageSecurityOption {
    /// Each artifact is signed (SOL004 option 1).
    #[serde(rename = "OPTION_1")]
    Option1,
    /// The whole package is signed (SOL004 option 2).
    #[serde(rename = "OPTION_2")]
    Option2,
}

/// `_links` of a `VnfPkgInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPkgInfoLinks {
    /// This resource.
    #[serde(rename = "self")]
    pub self_: Link,
    /// The VNFD.
    pub vnfd: Link,
    /// The package content.
    pub package_content: Link,
}

/// `VnfPackageSoftwareImageInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPackageSoftwareImageInfo {
    /// The software image descriptor.
    pub id: String,
    /// The image name.
    pub name: String,
    /// The image provider.
    pub provider: String,
    /// The image version.
    pub version: String,
    /// The image checksum.
    pub checksum: Checksum,
    /// Whether the image is encrypted.
    pub is_encrypted: bool,
    /// The container format.
    pub container_format: ContainerFormat,
    /// The disk format.
    pub disk_format: DiskFormat,
    /// When the image was created.
    pub created_at: DateTime,
    /// Minimal disk in bytes.
    pub min_disk: u64,
    /// Minimal RAM in bytes.
    pub min_ram: u64,
    /// Size in bytes.
    pub size: u64,
    /// User metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub user_metadata: KeyValuePairs,
    /// Path of the image in the package, from its root; absent for an image that is not
    /// in the package (one named in the VIM, or at `imageUri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_path: Option<String>,
    /// URI of an external image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
}

/// `containerFormat` of a software image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerFormat {
    /// Amazon kernel image.
    Aki,
    /// Amazon machine image.
    Ami,
    /// Amazon ramdisk image.
    Ari,
    /// No container.
    Bare,
    /// A Docker image.
    Docker,
    /// OVF package in a tarball.
    Ova,
    /// Open Virtualization Format.
    Ovf,
}

/// `diskFormat` of a software image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DiskFormat {
    /// Amazon kernel image.
    Aki,
    /// Amazon machine image.
    Ami,
    /// Amazon ramdisk image.
    Ari,
    /// An optical disc image.
    Iso,
    /// QEMU copy-on-write v2.
    Qcow2,
    /// Raw disk image.
    Raw,
    /// VirtualBox disk image.
    Vdi,
    /// Virtual hard disk.
    Vhd,
    /// Virtual hard disk v2.
    Vhdx,
    /// VMware disk.
    Vmdk,
}

/// `VnfPackageArtifactInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPackageArtifactInfo {
    /// Path of the artifact in the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_path: Option<String>,
    /// URI of an external artifact.
    #[serde(
        rename = "artifactURI",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_uri: Option<String>,
    /// The artifact checksum.
    pub checksum: Checksum,
    /// Whether the artifact is encrypted.
    pub is_encrypted: bool,
    /// The non-MANO artifact set the artifact belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_mano_artifact_set_id: Option<String>,
    /// HISTORY, TESTING or LICENSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_classification: Option<ArtifactClassification>,
    /// Artifact metadata.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub metadata: KeyValuePairs,
}

/// `artifactClassification` of an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArtifactClassification {
    /// The change log.
    History,
    /// Test files.
    Testing,
    /// License terms.
    License,
}

/// `CreateVnfPkgInfoRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVnfPkgInfoRequest {
    /// Data to attach to the package.
    #[serde(default, skip_serializing_if = "KeyValuePairs::is_empty")]
    pub user_defined_data: KeyValuePairs,
}

/// `VnfPkgInfoModifications`: the body of PATCH on a package.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPkgInfoModifications {
    /// New operational state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_state: Option<PackageOperationalStateType>,
    /// Merge patch of the user-defined data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined_data: Option<KeyValuePairs>,
}

/// `UploadVnfPackageFromUriRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadVnfPackageFromUriRequest {
    /// Where to fetch the package from.
    pub address_information: String,
    /// How to authenticate to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<UploadAuthType>,
    /// Client credentials for OAUTH2_CLIENT_CREDENTIALS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_oauth2_client_credentials: Option<UploadOauth2ClientCredentials>,
}

/// `authType` of `UploadVnfPackageFromUriRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadAuthType {
    /// OAuth 2.0 client credentials grant.
    Oauth2ClientCredentials,
}

/// `paramsOauth2ClientCredentials` of `UploadVnfPackageFromUriRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadOauth2ClientCredentials {
    /// Client identifier.
    pub client_id: String,
    /// Client password.
    pub client_password: String,
    /// The token endpoint.
    pub token_endpoint: String,
}

/// The notification types of the VNF package management interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PkgmNotificationType {
    /// A package was onboarded.
    VnfPackageOnboardingNotification,
    /// A package's operational state changed, or it was deleted.
    VnfPackageChangeNotification,
}

/// `PkgmNotificationsFilter`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PkgmNotificationsFilter {
    /// Which notification types; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_types: Vec<PkgmNotificationType>,
    /// Packages of these providers' products.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_products_from_providers: Vec<VnfProductsFromProvider>,
    /// Packages with these VNFDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfd_id: Vec<String>,
    /// These packages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnf_pkg_id: Vec<String>,
    /// Packages in these operational states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operational_state: Vec<PackageOperationalStateType>,
    /// Packages in these usage states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_state: Vec<PackageUsageStateType>,
    /// Packages for these VNFMs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnfm_info: Vec<String>,
}

/// `PkgmSubscriptionRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PkgmSubscriptionRequest {
    /// What to be notified of; everything when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<PkgmNotificationsFilter>,
    /// Where to send notifications.
    pub callback_uri: String,
    /// How to authenticate to the callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<SubscriptionAuthentication>,
}

/// `PkgmSubscription`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PkgmSubscription {
    /// The subscription's identifier.
    pub id: String,
    /// What the subscriber is notified of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<PkgmNotificationsFilter>,
    /// Where notifications go.
    pub callback_uri: String,
    /// Links.
    #[serde(rename = "_links")]
    pub links: SelfLink,
}

/// `PkgmLinks`: the links of a package notification.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PkgmLinks {
    /// The package.
    pub vnf_package: NotificationLink,
    /// The subscription.
    pub subscription: NotificationLink,
}

/// `PackageChangeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PackageChangeType {
    /// The operational state changed.
    OpStateChange,
    /// The package was deleted.
    PkgDelete,
}

/// `VnfPackageOnboardingNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPackageOnboardingNotification {
    /// The notification's identifier.
    pub id: String,
    /// Always `VnfPackageOnboardingNotification`.
    pub notification_type: PkgmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the package was onboarded.
    pub time_stamp: DateTime,
    /// The package.
    pub vnf_pkg_id: String,
    /// Its VNFD.
    pub vnfd_id: String,
    /// The VNFMs the VNFD declares compatible.
    pub vnfm_info: Vec<String>,
    /// Links.
    #[serde(rename = "_links")]
    pub links: PkgmLinks,
}

/// `VnfPackageChangeNotification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnfPackageChangeNotification {
    /// The notification's identifier.
    pub id: String,
    /// Always `VnfPackageChangeNotification`.
    pub notification_type: PkgmNotificationType,
    /// The subscription.
    pub subscription_id: String,
    /// When the change happened.
    pub time_stamp: DateTime,
    /// The package.
    pub vnf_pkg_id: String,
    /// Its VNFD.
    pub vnfd_id: String,
    /// What changed.
    pub change_type: PackageChangeType,
    /// The new operational state (OP_STATE_CHANGE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_state: Option<PackageOperationalStateType>,
    /// Links.
    #[serde(rename = "_links")]
    pub links: PkgmLinks,
}
