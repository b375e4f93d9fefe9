//! Every package of `../shared/corpus`: valid ones onboard and reproduce the facts of
//! their `expected.json`; invalid ones are refused as OpenStack Tacker refuses them,
//! except where Tacker's TOSCA parser demands that the abstract VNF node fulfil its own
//! virtual_link requirements (those onboard with a warning).

use tacker_core::csar::{Csar, CsarOptions};
use tacker_core::testkit::corpus::{self, CorpusPackage};

fn validate(package: &CorpusPackage) -> tacker_core::Result<serde_json::Value> {
    let options = CsarOptions {
        missing_ok: package.missing_ok.clone(),
        ..CsarOptions::default()
    };
    let csar = Csar::from_dir(&package.dir, &options)?;
    let report = tacker_core::vnfd::validate(&csar, &options)?;
    Ok(serde_json::to_value(report.facts(&csar.entry_definitions)).expect("facts serialize"))
}

/// Tacker's problems with a package, split into those it refuses for only because of
/// its TOSCA parser's occurrence check, and those about files the corpus leaves out
/// (which no reader of the corpus can see).
fn problem_kinds(expected: &serde_json::Value) -> (bool, bool, bool) {
    let problems: Vec<&str> = expected["problems"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    let occurrence = |p: &&str| p.contains("occurs 0 time(s)");
    let unseeable = |p: &&str| p.contains("omitted from corpus");
    let other = problems.iter().any(|p| !occurrence(p) && !unseeable(p));
    (
        problems.iter().any(occurrence),
        problems.iter().any(unseeable),
        other,
    )
}

/// Why each invalid package is refused: Tacker's reason, in our words.
const REFUSAL_REASONS: &[(&str, &str)] = &[
    (
        "inv-csar-invalid-instantiation-level",
        "instantiation level(s) instantiation_level_3 not defined",
    ),
    (
        "inv-csar-multiple-sw-image-data",
        "more than one tosca.artifacts.nfv.SwImage artifact",
    ),
    ("inv-csar-without-flavour-info", "no deployment flavour"),
    (
        "inv-csar-without-sw-image-data",
        "but no sw_image_data property",
    ),
    ("inv-csar-without-vnfd-info", "has no properties"),
    ("inv-meta-false-algorithm", "algorithm 'SHA-255'"),
    (
        "inv-meta-manifest-false-ext",
        "'manifest.mf1' is not a .mf file",
    ),
    ("inv-meta-manifest-false-hash", "has 63 digits"),
    ("inv-meta-missing-key", "lacks Algorithm"),
    (
        "inv-short-notation-without-sw-image-data",
        "no node template derived from tosca.nodes.nfv.VNF",
    ),
    ("mgmt-k8s-private-registry", "'<Calculated value here>'"),
    (
        "v1-no-meta-single-vnfd-legacy",
        "is not defined in any template reached",
    ),
    (
        "v2-fixture-change-vnfpkg-cnf",
        "does not exist in the package",
    ),
    ("v2-fixture-sample2-cnf", "does not exist in the package"),
    ("v2-fixture-standard-sample", "is not in the package"),
];

#[test]
fn corpus_verdicts_and_facts_match() {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for package in corpus::packages(&dir) {
        let (name, expected) = (package.name.clone(), &package.expected);
        let category = package.category();
        let valid = package.valid();
        checked += 1;
        let result = validate(&package);
        let (occurrence, unseeable, other) = problem_kinds(expected);
        if unseeable && !other {
            // Refused by Tacker for the digest of a file the corpus omits: either
            // verdict is all a reader of the corpus can give; it must not crash.
            continue;
        }
        let should_onboard = valid || (occurrence && !other);
        match (should_onboard, &result) {
            (true, Ok(facts)) => {
                for field in corpus::FACT_FIELDS {
                    if facts[field] != expected[field] {
                        failures.push(format!(
                            "{name}: {field} is {} but expected {}",
                            facts[field], expected[field]
                        ));
                    }
                }
                let flavours = facts["flavours"].as_array().cloned().unwrap_or_default();
                let expected_flavours =
                    expected["flavours"].as_array().cloned().unwrap_or_default();
                if flavours.len() != expected_flavours.len() {
                    failures.push(format!(
                        "{name}: {} flavours, expected {}",
                        flavours.len(),
                        expected_flavours.len()
                    ));
                }
                for (got, want) in flavours.iter().zip(expected_flavours.iter()) {
                    for field in corpus::FLAVOUR_FIELDS {
                        if got[field] != want[field] {
                            failures.push(format!(
                                "{name}: flavour {} {field} is {} but expected {}",
                                want["id"], got[field], want[field]
                            ));
                        }
                    }
                }
                if !valid && facts["warnings"].as_array().is_none_or(Vec::is_empty) {
                    failures.push(format!(
                        "{name}: onboards over Tacker's occurrence check but reports no warning"
                    ));
                }
            }
            (true, Err(error)) => {
                failures.push(format!("{name}: refused but should onboard: {error}"))
            }
            (false, Ok(_)) if category == "fixture-partial" => {}
            (false, Ok(_)) => failures.push(format!(
                "{name}: onboarded but Tacker refuses it: {}",
                expected["expected_error"]
            )),
            (false, Err(error)) => {
                let reason = REFUSAL_REASONS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, r)| *r);
                match reason {
                    Some(reason) if error.to_string().contains(reason) => {}
                    Some(reason) => failures.push(format!(
                        "{name}: refused for '{error}', expected a refusal naming '{reason}'"
                    )),
                    None if category == "fixture-partial" => {}
                    None => failures.push(format!(
                        "{name}: no expected refusal reason recorded for: {error}"
                    )),
                }
            }
        }
    }
    assert!(checked >= 60, "only {checked} corpus packages found");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "prints every verdict; run by hand"]
fn print_verdicts() {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    for package in corpus::packages(&dir) {
        let result = validate(&package);
        println!(
            "{}: {}",
            package.name,
            match result {
                Ok(facts) => format!(
                    "OK warnings={}",
                    facts["warnings"].as_array().map_or(0, Vec::len)
                ),
                Err(e) => format!("ERR {e}"),
            }
        );
    }
}

/// Tacker's packages name the VIM flavour of a VDU as a requested additional
/// capability, which the VNFD model keeps for the drivers.
#[test]
fn requested_additional_capabilities_are_read() {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    let package = corpus::packages(&dir)
        .into_iter()
        .find(|p| p.name == "v2-os-basic-lcms-min")
        .expect("the corpus has v2-os-basic-lcms-min");
    let options = CsarOptions {
        missing_ok: package.missing_ok.clone(),
        ..CsarOptions::default()
    };
    let csar = Csar::from_dir(&package.dir, &options).expect("the package opens");
    let vnfd = tacker_core::vnfd::validate(&csar, &options)
        .expect("the package is valid")
        .vnfd;
    let flavour = vnfd.flavour("simple").expect("flavour simple");
    for vdu in &flavour.vdus {
        let names = vdu
            .virtual_compute
            .as_ref()
            .map(|c| c.requested_additional_capability_names.clone());
        assert_eq!(names, Some(vec!["m1.tiny".to_owned()]), "VDU {}", vdu.id);
    }
}
