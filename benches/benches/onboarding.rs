//! Onboarding of each valid package of `../shared/corpus`: a zip in memory is uploaded
//! to a fresh `VnfPackageManager` (memory store, memory object store) and ends ONBOARDED.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use object_store::memory::InMemory;
use tacker_core::TenantId;
use tacker_core::csar::CsarOptions;
use tacker_core::model::{CreateVnfPkgInfoRequest, PackageOnboardingStateType};
use tacker_core::package::{PackageManagerConfig, VnfPackageManager};
use tacker_core::store::MemoryStore;

fn zip_dir(root: &Path) -> Bytes {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut stack = vec![root.to_path_buf()];
    let mut files: Vec<PathBuf> = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for path in files {
        let name = path
            .strip_prefix(root)
            .expect("relative")
            .to_string_lossy()
            .replace('\\', "/");
        writer.start_file(name, options).expect("start file");
        writer
            .write_all(&std::fs::read(&path).expect("read file"))
            .expect("write");
    }
    Bytes::from(writer.finish().expect("finish zip").into_inner())
}

struct Sample {
    name: String,
    zip: Bytes,
    missing_ok: BTreeSet<String>,
}

fn corpus() -> Vec<Sample> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let mut samples = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("../shared/corpus not found: nothing to benchmark");
        return samples;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("expected.json")) else {
            continue;
        };
        let expected: serde_json::Value = serde_json::from_str(&text).expect("expected.json");
        if expected["valid"] != true {
            continue;
        }
        samples.push(Sample {
            name: expected["name"].as_str().unwrap_or_default().to_owned(),
            zip: zip_dir(&entry.path().join("package")),
            missing_ok: expected["omitted_files"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    samples.sort_by(|a, b| b.zip.len().cmp(&a.zip.len()).then(a.name.cmp(&b.name)));
    samples
}

fn onboarding(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let tenant = TenantId::default();
    let samples = corpus();
    if let Some(largest) = samples.first() {
        println!(
            "largest valid package: {} ({} bytes zipped)",
            largest.name,
            largest.zip.len()
        );
    }
    let mut group = c.benchmark_group("onboard");
    for sample in &samples {
        let config = PackageManagerConfig {
            csar: CsarOptions {
                missing_ok: sample.missing_ok.clone(),
                ..CsarOptions::default()
            },
            ..PackageManagerConfig::default()
        };
        group.bench_function(format!("{} ({} B)", sample.name, sample.zip.len()), |b| {
            b.iter_batched(
                || {
                    let manager = VnfPackageManager::new(
                        Arc::new(MemoryStore::new()),
                        Arc::new(InMemory::new()),
                        config.clone(),
                    );
                    let created = runtime
                        .block_on(manager.create(&tenant, CreateVnfPkgInfoRequest::default()))
                        .expect("create");
                    (manager, created.id)
                },
                |(manager, id)| {
                    let info = runtime
                        .block_on(manager.upload_content(&tenant, &id, sample.zip.clone()))
                        .expect("onboard");
                    assert_eq!(info.onboarding_state, PackageOnboardingStateType::Onboarded);
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = onboarding
}
criterion_main!(benches);
