//! `tacker package validate --json` on every valid package of `../shared/corpus`
//! prints exactly the facts of its `expected.json`; an invalid package exits non-zero
//! with the file, line and rule.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the package corpus {} is missing",
        dir.display()
    );
    eprintln!("skipped: ../shared/corpus not found");
    None
}

const FIELDS: &[&str] = &[
    "entry_definitions",
    "vnfd_id",
    "provider",
    "product_name",
    "software_version",
    "descriptor_version",
    "vnfm_info",
];
const FLAVOUR_FIELDS: &[&str] = &[
    "id",
    "vdus",
    "vdu_cps",
    "virtual_links",
    "virtual_storages",
    "scaling_aspects",
    "instantiation_levels",
    "default_instantiation_level",
    "lcm_interfaces",
];

fn run(package: &Path, missing_ok: &[String]) -> std::process::Output {
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
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let mut checked = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .flatten()
        .map(|d| d.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(dir.join("expected.json")) else {
            continue;
        };
        let expected: serde_json::Value = serde_json::from_str(&text).expect("expected.json");
        if expected["valid"] != true {
            continue;
        }
        let missing_ok: Vec<String> = expected["omitted_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let output = run(&dir.join("package"), &missing_ok);
        let name = &expected["name"];
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let facts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
        let keys: Vec<&String> = facts.as_object().expect("object").keys().collect();
        assert_eq!(
            keys.len(),
            FIELDS.len() + 2,
            "{name}: exactly the documented fields: {keys:?}"
        );
        for field in FIELDS {
            assert_eq!(facts[field], expected[field], "{name}: {field}");
        }
        let flavours = facts["flavours"].as_array().expect("flavours");
        let wanted = expected["flavours"].as_array().expect("expected flavours");
        assert_eq!(flavours.len(), wanted.len(), "{name}: flavours");
        for (got, want) in flavours.iter().zip(wanted) {
            assert_eq!(
                got.as_object().map(|o| o.len()),
                Some(FLAVOUR_FIELDS.len()),
                "{name}: flavour fields"
            );
            for field in FLAVOUR_FIELDS {
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
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let output = run(
        &corpus.join("inv-csar-invalid-instantiation-level/package"),
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
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let package = corpus.join("v1-meta-only/package");
    let zip_path = std::env::temp_dir().join(format!("tacker-cli-{}.zip", std::process::id()));
    let file = std::fs::File::create(&zip_path).expect("create zip");
    let mut writer = zip::ZipWriter::new(file);
    let mut stack = vec![package.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .strip_prefix(&package)
                .expect("relative")
                .to_string_lossy()
                .replace('\\', "/");
            writer
                .start_file(name, zip::write::SimpleFileOptions::default())
                .expect("start");
            std::io::copy(&mut std::fs::File::open(&path).expect("open"), &mut writer)
                .expect("copy");
        }
    }
    writer.finish().expect("finish");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(corpus.join("v1-meta-only/expected.json")).expect("read"),
    )
    .expect("json");
    let missing_ok: Vec<String> = expected["omitted_files"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let output = run(&zip_path, &missing_ok);
    let _ = std::fs::remove_file(&zip_path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(facts["vnfd_id"], expected["vnfd_id"]);
}
