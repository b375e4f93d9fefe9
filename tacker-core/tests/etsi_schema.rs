//! ETSI NFV schema conformance of the data model (`tacker_core::model`).
//!
//! The fixtures under `tests/etsi/fixtures/<TypeName>/*.json` are hand-built ETSI documents:
//! for every type a minimal one (required attributes only) and richer ones. This test
//!
//! 1. validates every fixture against its ETSI definition (SOL002/SOL003/SOL005 v3.7.1 OpenAPI
//!    documents in `shared/etsi/openapi`), which proves that the fixtures are valid ETSI data;
//! 2. deserializes every fixture into its Rust type, serializes it back, and requires the
//!    result to equal the fixture (so a misspelt or dropped attribute is caught), and
//! 3. validates that re-serialized value against the ETSI definition again.
//!
//! When `shared/etsi` is absent the schema checks print `skipped: ../shared/etsi not found`
//! and pass, except under `CI=true`, where they fail.
//!
//! # Patched defects of the ETSI documents
//!
//! The documents have defects that reject valid ETSI data (or leave attributes unchecked).
//! `tests/etsi/harness.rs` patches them after loading the YAML, each patch a named function
//! that cites the specification text and that fails if the defect is no longer there:
//!
//! 1. `changed_info_at_most_one` — VnfLcmOpOcc (SOL003, SOL002): the top-level `oneOf` that
//!    requires exactly one of `changedInfo` / `modificationsTriggeredByVnfPkgChange` becomes
//!    "not both" (both are 0..1; note 2: "Not more than one … shall be present").
//! 2. `ip_address_info_alternatives_per_entry`, `ip_address_data_alternatives_per_entry` —
//!    IpOverEthernetAddressInfo / IpOverEthernetAddressData (SOL003, SOL002): the top-level
//!    `oneOf`s over keys of the `ipAddresses` entries move into the entries as "at most one"
//!    of `addresses` / `addressRange`, resp. `fixedAddresses` / `numDynamicAddresses` /
//!    `addressRange`.
//! 3. `vnf_instance_filter_alternatives` — VnfInstanceSubscriptionFilter (SOL003, SOL002): the
//!    `anyOf` of `oneOf`s (with the typo `vnfdId`) becomes "not both `vnfdIds` and
//!    `vnfProductsFromProviders`, not both `vnfInstanceIds` and `vnfInstanceNames`".
//! 4. `scale_info_scale_level` — ScaleInfo (SOL003, SOL002): the property `scaleToLevel`
//!    (string) becomes `scaleLevel`, an integer ≥ 0, the attribute the spec defines and the
//!    document requires.
//! 5. `pkgm_filter_notification_types_array`, `pkgm_filter_alternatives`,
//!    `pkgm_filter_vnf_products` — SOL005 PkgmNotificationsFilter: `notificationTypes` becomes
//!    an array of its enumeration (0..N); the top-level `oneOf` of `vnfProductsFromProviders` /
//!    `vnfdId` / `vnfPkgId` becomes "at most one"; the inner list of the
//!    `vnfProductsFromProviders` entries, misnamed `vnfProductsFromProviders`, becomes
//!    `vnfProducts` (as in the SOL003 copy of the type).
//! 6. `vnf_pkg_info_compatible_versions_array` — SOL005 VnfPkgInfo:
//!    `compatibleSpecificationVersions` becomes an array of strings (0..N).
//!
//! Further defects found while writing the fixtures:
//!
//! 7. `pkgm_subscription_id_identifier` — SOL005 PkgmSubscription: `id` is declared a Uri
//!    (`format: uri`) instead of an Identifier, which rejects a UUID; made a plain string.
//! 8. `vnfc_resource_info_parent_cp_id_per_cp` — SOL003 VnfcResourceInfo: `parentCpId`, an
//!    attribute of each `vnfcCpInfo` entry (as in the SOL002 and SOL005 copies), is declared
//!    on VnfcResourceInfo itself; moved into the `vnfcCpInfo` items.
//! 9. `vnf_info_modification_request_vnfd_id` — SOL003 VnfInfoModificationRequest: still
//!    declares the v2 attribute `vnfPkgId` instead of `vnfdId`; renamed.
//! 10. `vnf_link_ports_conditional` — SOL002 VnfVirtualLinkResourceInfo: `vnfLinkPorts` is
//!     listed as required although it is conditional ("May be present otherwise"); dropped
//!     from `required`.
//!
//! And tightenings, where the document accepts anything for an attribute or forgets a
//! mandatory one:
//!
//! 11. `vnf_instance_extensions_key_value_pairs` — SOL003 VnfInstance: `extensions` has no
//!     type at all; made an object (KeyValuePairs).
//! 12. `vip_cp_info_metadata_key_value_pairs` — SOL003 VipCpInfo: `metadata` carries a broken
//!     `type: array` with empty `items` beside its `$ref`; reduced to the `$ref`.
//! 13. `vnfc_info_state_enum` — SOL002 VnfcInfo: `vnfcState` has a stray `$ref` that hides
//!     its STARTED/STOPPED enum under draft 4; the `$ref` is dropped.
//! 14. `vnf_lcm_op_occ_links_required` — VnfLcmOpOcc (SOL003, SOL002): `_links` (cardinality
//!     1) is missing from `required`; added.

#[path = "etsi/harness.rs"]
mod harness;

use harness::{Fixture, differences, etsi, fixtures};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Write as _;

/// Deserializes a fixture into a model type and serializes it back.
type RoundTrip = fn(&Value) -> Result<Value, String>;

fn round_trip<T: Serialize + DeserializeOwned>(fixture: &Value) -> Result<Value, String> {
    let typed: T =
        serde_json::from_value(fixture.clone()).map_err(|err| format!("deserialize: {err}"))?;
    serde_json::to_value(&typed).map_err(|err| format!("serialize: {err}"))
}

/// Declares the round-trip table [`ROUND_TRIPS`] and one `round_trip::<TypeName>` test per
/// type. Each type is `tacker_core::model::<TypeName>`, and its fixtures are in
/// `tests/etsi/fixtures/<TypeName>/`.
macro_rules! round_trips {
    ($($ty:ident),* $(,)?) => {
        /// Every model type with its fixture directory and round trip.
        const ROUND_TRIPS: &[(&str, RoundTrip)] = &[
            $((stringify!($ty), round_trip::<tacker_core::model::$ty>)),*
        ];

        /// One round-trip test per model type.
        #[allow(non_snake_case)]
        mod round_trip {
            $(
                #[test]
                fn $ty() {
                    super::check_round_trips(
                        stringify!($ty),
                        super::round_trip::<tacker_core::model::$ty>,
                    );
                }
            )*
        }
    };
}

round_trips![
    Alarm,
    AlarmModifications,
    FmNotificationsFilter,
    FmSubscriptionRequest,
    FmSubscription,
    AlarmNotification,
    AlarmClearedNotification,
    VnfInstance,
    VnfcResourceInfo,
    VnfVirtualLinkResourceInfo,
    VirtualStorageResourceInfo,
    ExtVirtualLinkInfo,
    ExtManagedVirtualLinkInfo,
    VnfExtCpInfo,
    ScaleInfo,
    VimConnectionInfo,
    ResourceHandle,
    VnfLcmOpOcc,
    AffectedVnfc,
    AffectedVirtualLink,
    AffectedVirtualStorage,
    AffectedExtLinkPort,
    VnfInfoModifications,
    ProblemDetails,
    CreateVnfRequest,
    InstantiateVnfRequest,
    TerminateVnfRequest,
    ScaleVnfRequest,
    ScaleVnfToLevelRequest,
    HealVnfRequest,
    ChangeVnfFlavourRequest,
    OperateVnfRequest,
    ChangeExtVnfConnectivityRequest,
    ChangeCurrentVnfPkgRequest,
    VnfInfoModificationRequest,
    CancelMode,
    LccnSubscriptionRequest,
    LccnSubscription,
    LifecycleChangeNotificationsFilter,
    VnfLcmOperationOccurrenceNotification,
    VnfIdentifierCreationNotification,
    VnfIdentifierDeletionNotification,
    GrantRequest,
    Grant,
    VnfPkgInfo,
    CreateVnfPkgInfoRequest,
    VnfPkgInfoModifications,
    UploadVnfPackageFromUriRequest,
    PkgmSubscriptionRequest,
    PkgmSubscription,
    VnfPackageOnboardingNotification,
    VnfPackageChangeNotification,
    VnfcInfo,
];

/// Validates `value` (a fixture, or its round trip) against every ETSI definition that
/// applies to the fixture; returns the failures.
fn schema_failures(etsi: &harness::Etsi, fixture: &Fixture, value: &Value) -> Vec<String> {
    harness::targets_for(fixture.dir, &fixture.name)
        .filter_map(|target| etsi.validate(target.file, target.def, value).err())
        .collect()
}

/// The fixture `dir/name`.
fn fixture(dir: &'static str, name: &str) -> Fixture {
    fixtures(dir)
        .into_iter()
        .find(|fixture| fixture.name == name)
        .unwrap_or_else(|| panic!("fixture {dir}/{name} not found"))
}

/// Round trips every fixture of `dir` through a model type: the result must equal the
/// fixture and be valid against the fixture's ETSI definitions.
fn check_round_trips(dir: &'static str, round_trip: RoundTrip) {
    let etsi = etsi();
    let mut failures = Vec::new();
    for fixture in fixtures(dir) {
        let label = fixture.label();
        let serialized = match round_trip(&fixture.value) {
            Ok(serialized) => serialized,
            Err(err) => {
                failures.push(format!("{label}: {err}"));
                continue;
            }
        };
        let diffs = differences(&fixture.value, &serialized);
        if let Some((first, others)) = diffs.split_first() {
            let mut failure = format!("{label}: the round trip changed the document {first}");
            if !others.is_empty() {
                let paths: Vec<&str> = others.iter().map(|diff| diff.path.as_str()).collect();
                let _ = write!(
                    failure,
                    "\n    and {} more at: {}",
                    others.len(),
                    paths.join(", ")
                );
            }
            failures.push(failure);
        }
        if let Some(etsi) = etsi {
            for failure in schema_failures(etsi, &fixture, &serialized) {
                failures.push(format!("{label} after the round trip: {failure}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} round-trip failure(s) for {dir}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_is_valid_etsi() {
    let Some(etsi) = etsi() else { return };
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in harness::fixture_dirs() {
        for fixture in fixtures(dir) {
            checked += 1;
            for failure in schema_failures(etsi, &fixture, &fixture.value) {
                failures.push(format!("{}: {failure}", fixture.label()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixture check(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fixture_directories_match_the_tables() {
    let expected: Vec<String> = {
        let mut dirs: Vec<String> = harness::fixture_dirs()
            .into_iter()
            .map(str::to_owned)
            .collect();
        dirs.sort();
        dirs
    };
    assert_eq!(
        harness::existing_fixture_dirs(),
        expected,
        "every directory under tests/etsi/fixtures needs an ETSI definition in TARGETS"
    );
    let mut round_tripped: Vec<String> = ROUND_TRIPS
        .iter()
        .map(|(dir, _)| (*dir).to_owned())
        .collect();
    round_tripped.sort();
    assert_eq!(
        round_tripped, expected,
        "every fixture directory needs a round trip through its model type"
    );
    for dir in harness::fixture_dirs() {
        let found = fixtures(dir);
        assert!(
            found.len() >= 2,
            "{dir} needs at least two fixtures (a minimal and a rich one), found {}",
            found.len()
        );
    }
}

#[test]
fn every_patch_still_applies() {
    let Some(etsi) = etsi() else { return };
    etsi.load_all_patched_files()
        .unwrap_or_else(|err| panic!("{err}"));
    let applied = etsi.applied_patches();
    assert_eq!(
        applied.len(),
        harness::PATCHES.len(),
        "applied patches: {applied:#?}"
    );
}

/// The schema check rejects invalid data, so that passing it means something; including the
/// constraints that the patches keep or add.
#[test]
fn schema_check_rejects_invalid_documents() {
    let Some(etsi) = etsi() else { return };
    let instance = fixture("VnfInstance", "instantiated.json").value;
    let must_fail = |what: &str, file: &str, def: &str, value: &Value| {
        assert!(
            etsi.validate(file, def, value).is_err(),
            "{what} should not be valid against {def}"
        );
    };
    let lcm = harness::SOL003_LCM;

    let mut missing_id = instance.clone();
    missing_id
        .as_object_mut()
        .expect("a VnfInstance object")
        .remove("id");
    must_fail("a VnfInstance without id", lcm, "VnfInstance", &missing_id);

    let mut bad_state = instance.clone();
    bad_state["instantiationState"] = Value::from("RUNNING");
    must_fail("instantiationState RUNNING", lcm, "VnfInstance", &bad_state);

    let mut bad_level = instance.clone();
    bad_level["instantiatedVnfInfo"]["scaleStatus"][0]["scaleLevel"] = Value::from("1");
    must_fail("a string scaleLevel", lcm, "VnfInstance", &bad_level);

    let mut bad_time = fixture("VnfLcmOpOcc", "completed_instantiate.json").value;
    bad_time["startTime"] = Value::from("yesterday");
    must_fail("a non-RFC 3339 startTime", lcm, "VnfLcmOpOcc", &bad_time);

    let mut both_changes = fixture("VnfLcmOpOcc", "completed_instantiate.json").value;
    both_changes["changedInfo"] = serde_json::json!({});
    both_changes["modificationsTriggeredByVnfPkgChange"] = serde_json::json!({});
    must_fail(
        "changedInfo together with modificationsTriggeredByVnfPkgChange",
        lcm,
        "VnfLcmOpOcc",
        &both_changes,
    );

    let mut no_links = fixture("VnfLcmOpOcc", "completed_instantiate.json").value;
    no_links
        .as_object_mut()
        .expect("a VnfLcmOpOcc object")
        .remove("_links");
    must_fail(
        "a VnfLcmOpOcc without _links",
        lcm,
        "VnfLcmOpOcc",
        &no_links,
    );

    let both_filters = serde_json::json!({
        "vnfdIds": ["b1bb0ce7-ebca-4fa7-95ed-4840d70a1177"],
        "vnfProductsFromProviders": [{ "vnfProvider": "Company" }],
    });
    must_fail(
        "vnfdIds together with vnfProductsFromProviders",
        harness::SOL003_GENERAL,
        "VnfInstanceSubscriptionFilter",
        &both_filters,
    );

    let mut bad_vnfc_state = fixture("VnfcInfo", "rich.json").value;
    bad_vnfc_state["vnfcState"] = Value::from("RUNNING");
    must_fail(
        "vnfcState RUNNING",
        harness::SOL002_LCM,
        "VnfcInfo",
        &bad_vnfc_state,
    );
}

/// The rich VnfInstance fixture exercises every list of `instantiatedVnfInfo` that the model
/// needs to get right, including the SOL002 `vnfcInfo`.
#[test]
fn instantiated_vnf_instance_fixture_is_rich() {
    let instance = fixture("VnfInstance", "instantiated.json").value;
    assert_eq!(instance["instantiationState"], "INSTANTIATED");
    let info = &instance["instantiatedVnfInfo"];
    for key in [
        "vnfcResourceInfo",
        "vnfVirtualLinkResourceInfo",
        "virtualStorageResourceInfo",
        "extCpInfo",
        "scaleStatus",
        "maxScaleLevels",
        "vnfcInfo",
    ] {
        assert!(
            info[key].as_array().is_some_and(|list| !list.is_empty()),
            "instantiatedVnfInfo.{key} should be a non-empty list"
        );
    }
}

/// A misspelt attribute name must make the round trip fail: either the model rejects the
/// document, or the re-serialized document differs from the input. This is what makes the
/// equality check of the round trip meaningful.
#[test]
fn misspelt_field_names_are_caught() {
    let instance = fixture("VnfInstance", "instantiated.json").value;
    let round_trip = round_trip::<tacker_core::model::VnfInstance>;
    round_trip(&instance).expect("the unmodified fixture round-trips");

    // (JSON pointer of the parent object, attribute, misspelling)
    let mutations = [
        ("", "vnfProvider", "vnfProvidr"),
        ("", "vnfInstanceDescription", "vnfInstanceDescripton"),
        ("/instantiatedVnfInfo", "vnfState", "vnfStatus"),
        (
            "/instantiatedVnfInfo/vnfcResourceInfo/0",
            "storageResourceIds",
            "storageResourceId",
        ),
        (
            "/instantiatedVnfInfo/extCpInfo/0",
            "cpProtocolInfo",
            "cpProtocolInfos",
        ),
        (
            "/instantiatedVnfInfo/scaleStatus/0",
            "scaleLevel",
            "scaleToLevel",
        ),
        ("/instantiatedVnfInfo/vnfcInfo/0", "vnfcState", "vnfcStatus"),
    ];
    let mut missed = Vec::new();
    for (parent, from, to) in mutations {
        let mut mutated = instance.clone();
        let object = mutated
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("the fixture has an object at `{parent}`"));
        let value = object
            .remove(from)
            .unwrap_or_else(|| panic!("the fixture has `{parent}/{from}`"));
        object.insert(to.to_owned(), value);
        match round_trip(&mutated) {
            Err(_) => {}
            Ok(serialized) if serialized != mutated => {}
            Ok(_) => missed.push(format!("{parent}/{from} -> {to}")),
        }
    }
    assert!(
        missed.is_empty(),
        "misspelt attribute(s) survived the round trip unchanged: {missed:?}"
    );
}
