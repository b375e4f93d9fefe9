//! The shared package corpus (`../shared/corpus` beside the checkout): real VNF packages
//! with the facts and verdicts expected of each.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The package-level facts `tacker package validate --json` prints, named as in
/// `expected.json`.
pub const FACT_FIELDS: &[&str] = &[
    "entry_definitions",
    "vnfd_id",
    "provider",
    "product_name",
    "software_version",
    "descriptor_version",
    "vnfm_info",
];

/// The facts of each flavour, named as in `expected.json`.
pub const FLAVOUR_FIELDS: &[&str] = &[
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

/// One corpus package.
#[derive(Debug, Clone)]
pub struct CorpusPackage {
    /// Its name (the directory name).
    pub name: String,
    /// The unpacked package (`<name>/package`).
    pub dir: PathBuf,
    /// Its `expected.json`.
    pub expected: serde_json::Value,
    /// Files of the real package the corpus leaves out (`omitted_files`).
    pub missing_ok: BTreeSet<String>,
}

impl CorpusPackage {
    /// Whether OpenStack Tacker accepts the package.
    pub fn valid(&self) -> bool {
        self.expected["valid"] == true
    }

    /// The package's category.
    pub fn category(&self) -> &str {
        self.expected["category"].as_str().unwrap_or_default()
    }
}

/// The corpus directory for a crate at `manifest_dir` (a workspace member). `None`
/// (after saying so) when it is absent; absent under `CI=true` is a failure.
pub fn corpus_dir(manifest_dir: &str) -> Option<PathBuf> {
    let dir = Path::new(manifest_dir).join("../../shared/corpus");
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

/// Every corpus package, by name.
pub fn packages(corpus: &Path) -> Vec<CorpusPackage> {
    let mut packages = Vec::new();
    let Ok(entries) = std::fs::read_dir(corpus) else {
        return packages;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("expected.json")) else {
            continue;
        };
        let Ok(expected) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let missing_ok = expected["omitted_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        packages.push(CorpusPackage {
            name: expected["name"].as_str().unwrap_or_default().to_owned(),
            dir: entry.path().join("package"),
            expected,
            missing_ok,
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// Every file below `root`, as (path relative to `root` with `/`, absolute path), sorted.
pub fn files_below(root: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.push((relative.to_string_lossy().replace('\\', "/"), path));
            }
        }
    }
    files.sort();
    files
}
