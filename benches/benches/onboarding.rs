//! Onboarding of each valid package of `../shared/corpus`: a zip in memory is uploaded
//! to a fresh `VnfPackageManager` (memory store, memory object store) and ends ONBOARDED.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use object_store::memory::InMemory;
use tacker_core::TenantId;
use tacker_core::csar::CsarOptions;
use tacker_core::model::{CreateVnfPkgInfoRequest, PackageOnboardingStateType};
use tacker_core::package::{PackageManagerConfig, VnfPackageManager};
use tacker_core::store::MemoryStore;
use tacker_core::testkit::corpus;

fn zip_dir(root: &Path) -> Bytes {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, path) in corpus::files_below(root) {
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

fn corpus_samples() -> Vec<Sample> {
    let Some(dir) = corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return Vec::new();
    };
    let mut samples: Vec<Sample> = corpus::packages(&dir)
        .into_iter()
        .filter(|p| p.valid())
        .map(|p| Sample {
            zip: zip_dir(&p.dir),
            name: p.name,
            missing_ok: p.missing_ok,
        })
        .collect();
    samples.sort_by(|a, b| b.zip.len().cmp(&a.zip.len()).then(a.name.cmp(&b.name)));
    samples
}

fn onboarding(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let tenant = TenantId::default();
    let samples = corpus_samples();
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
                    let manager = VnfPackageManager::builder(
                        Arc::new(MemoryStore::new()),
                        Arc::new(InMemory::new()),
                    )
                    .config(config.clone())
                    .build()
                    .expect("package manager");
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
