//! `tacker package validate --json` on every valid package of `../shared/corpus`
//! prints exactly the facts of its `expected.json`; an invalid package exits non-zero
//! with the file, line and rule.

use std::path::Path;
use std::process::Command;

use tacker_core::testkit::corpus;

fn run<'a>(
    package: &Path,
    missing_ok: impl IntoIterator<Item = &'a String>,
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tacker"));
    command
        .args(["package", "validate"])
        .arg(package)
        .arg("--json");
    for path in missing_ok {
        command.args(["--missing-ok", path]);
    }
    command.output().expect("run tacker")
}

#[test]
fn validate_json_reproduces_every_valid_package_s_facts() {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    let mut checked = 0;
    for package in corpus::packages(&dir).into_iter().filter(|p| p.valid()) {
        let output = run(&package.dir, &package.missing_ok);
        let (name, expected) = (&package.name, &package.expected);
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let facts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
        let keys: Vec<&String> = facts.as_object().expect("object").keys().collect();
        assert_eq!(
            keys.len(),
            corpus::FACT_FIELDS.len() + 2,
            "{name}: exactly the documented fields: {keys:?}"
        );
        for field in corpus::FACT_FIELDS {
            assert_eq!(facts[field], expected[field], "{name}: {field}");
        }
        let flavours = facts["flavours"].as_array().expect("flavours");
        let wanted = expected["flavours"].as_array().expect("expected flavours");
        assert_eq!(flavours.len(), wanted.len(), "{name}: flavours");
        for (got, want) in flavours.iter().zip(wanted) {
            assert_eq!(
                got.as_object().map(|o| o.len()),
                Some(corpus::FLAVOUR_FIELDS.len()),
                "{name}: flavour fields"
            );
            for field in corpus::FLAVOUR_FIELDS {
                assert_eq!(
                    got[field], want[field],
                    "{name}: flavour {} {field}",
                    want["id"]
                );
            }
        }
        assert!(facts["warnings"].is_array());
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} valid packages found");
}

#[test]
fn validate_names_file_line_and_rule_of_an_invalid_package() {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    let output = run(
        &dir.join("inv-csar-invalid-instantiation-level/package"),
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Definitions/tosca_with_vdus.yaml:118:13"),
        "{stderr}"
    );
    assert!(stderr.contains("instantiation_level_3"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn validate_reads_zip_files_too() {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    let Some(package) = corpus::packages(&dir)
        .into_iter()
        .find(|p| p.name == "v1-meta-only")
    else {
        panic!("v1-meta-only is missing from the corpus");
    };
    let zip_path = std::env::temp_dir().join(format!("tacker-cli-{}.zip", std::process::id()));
    let file = std::fs::File::create(&zip_path).expect("create zip");
    let mut writer = zip::ZipWriter::new(file);
    for (name, path) in corpus::files_below(&package.dir) {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        std::io::copy(&mut std::fs::File::open(&path).expect("open"), &mut writer).expect("copy");
    }
    writer.finish().expect("finish");
    let output = run(&zip_path, &package.missing_ok);
    let _ = std::fs::remove_file(&zip_path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(facts["vnfd_id"], package.expected["vnfd_id"]);
}

#[test]
fn the_sample_package_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf");
    let output = Command::new(env!("CARGO_BIN_EXE_tacker"))
        .args(["package", "validate"])
        .arg(&dir)
        .output()
        .expect("run tacker");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
