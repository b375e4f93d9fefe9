//! The SOL005 v2.6.1 shape (API version 1.3.0, what python-tackerclient speaks) of the
//! package management resources, converted from the current (v3.7.1, API 2.4.0) JSON.
//!
//! What differs from `/vnfpkgm/v2`:
//!
//! - `VnfPkgInfo` keeps only the attributes v2.6.1 defines: `id`, `vnfdId`,
//!   `vnfProvider`, `vnfProductName`, `vnfSoftwareVersion`, `vnfdVersion`, `checksum`
//!   (`{algorithm, hash}`, the same in both), `softwareImages`, `additionalArtifacts`,
//!   `onboardingState`, `operationalState`, `usageState`, `userDefinedData` and `_links`.
//!   Dropped: `vnfmInfo`, `packageSecurityOption`, `signingCertificate`,
//!   `compatibleSpecificationVersions` and `onboardingFailureDetails` (added after
//!   v2.6.1; a failed onboarding shows as `onboardingState: CREATED` only).
//! - `softwareImages[]` drop `isEncrypted` and `imageUri`; `additionalArtifacts[]` keep
//!   `artifactPath`, `checksum` and `metadata`, and artifacts with no `artifactPath`
//!   (external artifacts, which v2.6.1 cannot express) are left out.
//! - The attributes a list leaves out by default are `softwareImages`,
//!   `additionalArtifacts`, `userDefinedData` and `checksum`.
//! - Every `_links` href points to `/vnfpkgm/v1/…` instead of `/vnfpkgm/v2/…`.
//! - `PkgmSubscription.filter` drops `vnfmInfo`.
//! - `upload_from_uri` takes `{addressInformation, userName, password}` (HTTP basic
//!   credentials) instead of `authType`/`paramsOauth2ClientCredentials`.
//! - There is no `GET …/artifacts` (the archive of all artifacts), and the `Version`
//!   request header is optional.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The attributes of a v2.6.1 `VnfPkgInfo`.
const PACKAGE_FIELDS: &[&str] = &[
    "id",
    "vnfdId",
    "vnfProvider",
    "vnfProductName",
    "vnfSoftwareVersion",
    "vnfdVersion",
    "checksum",
    "softwareImages",
    "additionalArtifacts",
    "onboardingState",
    "operationalState",
    "usageState",
    "userDefinedData",
    "_links",
];

/// The attributes of a v2.6.1 `VnfPackageSoftwareImageInfo`.
const IMAGE_FIELDS: &[&str] = &[
    "id",
    "name",
    "provider",
    "version",
    "checksum",
    "containerFormat",
    "diskFormat",
    "createdAt",
    "minDisk",
    "minRam",
    "size",
    "userMetadata",
    "imagePath",
];

/// The attributes of a v2.6.1 `VnfPackageArtifactInfo`.
const ARTIFACT_FIELDS: &[&str] = &["artifactPath", "checksum", "metadata"];

/// The attributes of a v2.6.1 `PkgmNotificationsFilter`.
const FILTER_FIELDS: &[&str] = &[
    "notificationTypes",
    "vnfProductsFromProviders",
    "vnfdId",
    "vnfPkgId",
    "operationalState",
    "usageState",
];

/// The complex attributes of a v2.6.1 `VnfPkgInfo` left out of lists by default.
pub(super) const PACKAGE_COMPLEX: &[&str] = &[
    "softwareImages",
    "additionalArtifacts",
    "userDefinedData",
    "checksum",
];

fn keep(map: &mut Map<String, Value>, fields: &[&str]) {
    map.retain(|key, _| fields.contains(&key.as_str()));
}

/// Points every `href` of a `_links` object at the v1 API.
fn v1_links(links: &mut Value) {
    if let Value::Object(links) = links {
        for link in links.values_mut() {
            if let Some(Value::String(href)) = link.get_mut("href")
                && let Some(at) = href.find("/vnfpkgm/v2/")
            {
                href.replace_range(at..at + "/vnfpkgm/v2/".len(), "/vnfpkgm/v1/");
            }
        }
    }
}

/// A `VnfPkgInfo` (current JSON) in the v2.6.1 shape.
pub(super) fn package(mut value: Value) -> Value {
    let Value::Object(map) = &mut value else {
        return value;
    };
    keep(map, PACKAGE_FIELDS);
    if let Some(Value::Array(images)) = map.get_mut("softwareImages") {
        for image in images.iter_mut() {
            if let Value::Object(image) = image {
                keep(image, IMAGE_FIELDS);
            }
        }
    }
    if let Some(Value::Array(artifacts)) = map.get_mut("additionalArtifacts") {
        artifacts.retain(|a| a.get("artifactPath").is_some_and(Value::is_string));
        for artifact in artifacts.iter_mut() {
            if let Value::Object(artifact) = artifact {
                keep(artifact, ARTIFACT_FIELDS);
            }
        }
        if artifacts.is_empty() {
            map.remove("additionalArtifacts");
        }
    }
    if let Some(links) = map.get_mut("_links") {
        v1_links(links);
    }
    value
}

/// A `PkgmSubscription` (current JSON) in the v2.6.1 shape.
pub(super) fn subscription(mut value: Value) -> Value {
    let Value::Object(map) = &mut value else {
        return value;
    };
    if let Some(Value::Object(filter)) = map.get_mut("filter") {
        keep(filter, FILTER_FIELDS);
    }
    if let Some(links) = map.get_mut("_links") {
        v1_links(links);
    }
    value
}

/// The v2.6.1 `UploadVnfPackageFromUriRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UploadFromUriRequest {
    /// Where to fetch the package from.
    pub(super) address_information: String,
    /// The user name of HTTP basic authentication.
    #[serde(default)]
    pub(super) user_name: Option<String>,
    /// The password of HTTP basic authentication.
    #[serde(default)]
    pub(super) password: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_package_loses_what_v2_6_1_does_not_define_and_links_to_v1() {
        let v2 = json!({
            "id": "p1",
            "vnfdId": "d1",
            "vnfmInfo": ["tacker"],
            "packageSecurityOption": "OPTION_1",
            "signingCertificate": "PEM",
            "compatibleSpecificationVersions": ["3.3.1"],
            "onboardingFailureDetails": {"status": 422, "detail": "x"},
            "checksum": {"algorithm": "SHA-256", "hash": "ab"},
            "softwareImages": [{"id": "VDU1", "isEncrypted": false, "imageUri": "http://x", "imagePath": "a.img"}],
            "additionalArtifacts": [
                {"artifactPath": "Scripts/a.sh", "isEncrypted": false, "checksum": {"algorithm": "SHA-256", "hash": "cd"}},
                {"artifactURI": "http://example.com/b", "isEncrypted": false, "checksum": {"algorithm": "SHA-256", "hash": "ef"}},
            ],
            "onboardingState": "ONBOARDED",
            "_links": {
                "self": {"href": "http://h/vnfpkgm/v2/vnf_packages/p1"},
                "vnfd": {"href": "http://h/vnfpkgm/v2/vnf_packages/p1/vnfd"},
                "packageContent": {"href": "http://h/vnfpkgm/v2/vnf_packages/p1/package_content"},
            },
        });
        let v1 = package(v2);
        assert_eq!(
            v1,
            json!({
                "id": "p1",
                "vnfdId": "d1",
                "checksum": {"algorithm": "SHA-256", "hash": "ab"},
                "softwareImages": [{"id": "VDU1", "imagePath": "a.img"}],
                "additionalArtifacts": [
                    {"artifactPath": "Scripts/a.sh", "checksum": {"algorithm": "SHA-256", "hash": "cd"}},
                ],
                "onboardingState": "ONBOARDED",
                "_links": {
                    "self": {"href": "http://h/vnfpkgm/v1/vnf_packages/p1"},
                    "vnfd": {"href": "http://h/vnfpkgm/v1/vnf_packages/p1/vnfd"},
                    "packageContent": {"href": "http://h/vnfpkgm/v1/vnf_packages/p1/package_content"},
                },
            })
        );
    }

    #[test]
    fn a_subscription_links_to_v1_and_filters_without_vnfm_info() {
        let v1 = subscription(json!({
            "id": "s1",
            "callbackUri": "http://cb",
            "filter": {"vnfmInfo": ["x"], "vnfdId": ["d1"]},
            "_links": {"self": {"href": "http://h/vnfpkgm/v2/subscriptions/s1"}},
        }));
        assert_eq!(
            v1,
            json!({
                "id": "s1",
                "callbackUri": "http://cb",
                "filter": {"vnfdId": ["d1"]},
                "_links": {"self": {"href": "http://h/vnfpkgm/v1/subscriptions/s1"}},
            })
        );
    }
}
