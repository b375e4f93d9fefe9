//! The CSAR reader: hostile archives are refused with a typed error naming the entry,
//! and the real packages of `../shared/corpus` open with the entry points and digests
//! their `expected.json` records.

use std::io::{Cursor, Write};

use tacker_core::csar::{Csar, CsarError, CsarLimits, CsarOptions, HashOutcome};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const META: &str = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: test\n\
Entry-Definitions: Definitions/top.yaml\nETSI-Entry-Manifest: manifest.mf\n";
const TOP: &str = "tosca_definitions_version: tosca_simple_yaml_1_3\n";

fn sha256_hex(data: &[u8]) -> String {
    let mut reader = data;
    tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut reader)
        .expect("digest")
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        writer.start_file(*name, options).expect("start file");
        writer.write_all(content).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

fn good_package(script: &[u8], declared: &str) -> Vec<u8> {
    let manifest = format!(
        "metadata:\n  vnf_provider_id: Company\n  vnf_product_name: Sample\n  vnf_release_date_time: 2026-01-01T00:00:00Z\n  vnf_package_version: 1.0\n\nSource: Scripts/install.sh\nAlgorithm: SHA-256\nHash: {declared}\n"
    );
    zip_of(&[
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("Definitions/top.yaml", TOP.as_bytes()),
        ("manifest.mf", manifest.as_bytes()),
        ("Scripts/install.sh", script),
    ])
}

fn open(bytes: Vec<u8>) -> Result<Csar, CsarError> {
    Csar::from_zip_bytes(bytes, &CsarOptions::default())
}

#[test]
fn a_sound_package_opens_and_its_digests_verify() {
    let script = b"#!/bin/sh\necho hello\n";
    let csar = open(good_package(script, &sha256_hex(script))).expect("open");
    assert_eq!(csar.entry_definitions, "Definitions/top.yaml");
    assert_eq!(csar.manifest_path.as_deref(), Some("manifest.mf"));
    let manifest = csar.manifest.as_ref().expect("manifest");
    assert_eq!(manifest.metadata["vnf_provider_id"], "Company");
    let checks = csar.verify_hashes(&CsarOptions::default()).expect("verify");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].outcome, HashOutcome::Verified);
    assert_eq!(csar.read_text("Definitions/top.yaml").expect("read"), TOP);
}

#[test]
fn a_wrong_digest_names_the_artifact_and_its_declaration() {
    let wrong = sha256_hex(b"something else");
    let csar = open(good_package(b"echo hello\n", &wrong)).expect("open");
    match csar.verify_hashes(&CsarOptions::default()) {
        Err(CsarError::HashMismatch {
            path, declared_in, ..
        }) => {
            assert_eq!(path, "Scripts/install.sh");
            assert_eq!(declared_in, "manifest.mf:7");
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
}

#[test]
fn zip_slip_paths_are_refused() {
    for name in [
        "../evil.sh",
        "Definitions/../../evil.sh",
        "/etc/passwd",
        "C:/evil",
        "a\\..\\b",
        "a//b",
    ] {
        let bytes = zip_of(&[("TOSCA-Metadata/TOSCA.meta", META.as_bytes()), (name, b"x")]);
        match open(bytes) {
            Err(CsarError::UnsafePath { entry, .. }) => assert_eq!(entry, name),
            other => panic!("{name}: expected UnsafePath, got {other:?}"),
        }
    }
}

#[test]
fn symlink_entries_are_refused() {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    writer
        .start_file("TOSCA-Metadata/TOSCA.meta", options)
        .expect("start");
    writer.write_all(META.as_bytes()).expect("write");
    writer
        .add_symlink("Definitions/top.yaml", "/etc/passwd", options)
        .expect("symlink");
    let bytes = writer.finish().expect("finish").into_inner();
    match open(bytes) {
        Err(CsarError::Symlink { entry }) => assert_eq!(entry, "Definitions/top.yaml"),
        other => panic!("expected Symlink, got {other:?}"),
    }
}

#[test]
fn duplicate_entry_names_are_refused_by_name() {
    let mut bytes = zip_of(&[
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("Definitions/top.yaml", TOP.as_bytes()),
        ("Definitions/tip.yaml", TOP.as_bytes()),
    ]);
    // Rename the second entry to the first one's name, in every header.
    let (from, to) = (b"Definitions/tip.yaml", b"Definitions/top.yaml");
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(from.len()).position(|w| w == from) {
        bytes[at + found..at + found + to.len()].copy_from_slice(to);
        at += found + to.len();
    }
    match open(bytes) {
        Err(CsarError::DuplicateEntry { entry }) => assert_eq!(entry, "Definitions/top.yaml"),
        other => panic!("expected DuplicateEntry, got {other:?}"),
    }
}

#[test]
fn zip_bombs_are_refused_before_inflating() {
    let zeros = vec![0u8; 64 << 20];
    let bytes = zip_of(&[
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("Files/bomb.img", &zeros),
    ]);
    assert!(
        bytes.len() < 1 << 20,
        "the bomb compresses to {} bytes",
        bytes.len()
    );
    match open(bytes) {
        Err(CsarError::CompressionRatio { entry, ratio, .. }) => {
            assert_eq!(entry, "Files/bomb.img");
            assert!(ratio > 100);
        }
        other => panic!("expected CompressionRatio, got {other:?}"),
    }
}

#[test]
fn entry_count_and_size_limits_hold() {
    let limits = CsarLimits {
        max_entries: 3,
        ..CsarLimits::default()
    };
    let options = CsarOptions {
        limits,
        ..CsarOptions::default()
    };
    let bytes = zip_of(&[("a", b"1"), ("b", b"2"), ("c", b"3"), ("d", b"4")]);
    assert!(matches!(
        Csar::from_zip_bytes(bytes, &options),
        Err(CsarError::TooManyEntries { count: 4, limit: 3 })
    ));
    let small = CsarOptions {
        limits: CsarLimits {
            max_entry_size: 10,
            ..CsarLimits::default()
        },
        ..CsarOptions::default()
    };
    let bytes = zip_of(&[("TOSCA-Metadata/TOSCA.meta", META.as_bytes())]);
    match Csar::from_zip_bytes(bytes, &small) {
        Err(CsarError::TooLarge { entry, .. }) => assert_eq!(entry, "TOSCA-Metadata/TOSCA.meta"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_missing_entry_definitions_file_is_named() {
    let bytes = zip_of(&[
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("manifest.mf", b""),
    ]);
    match open(bytes) {
        Err(CsarError::MissingFile {
            path,
            referenced_by,
        }) => {
            assert_eq!(path, "Definitions/top.yaml");
            assert!(
                referenced_by.contains("Entry-Definitions"),
                "{referenced_by}"
            );
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }
}

#[test]
fn non_utf8_text_is_refused_with_its_offset() {
    let latin1_meta = b"Entry-Definitions: Definitions/caf\xe9.yaml\n".to_vec();
    match open(zip_of(&[("TOSCA-Metadata/TOSCA.meta", &latin1_meta)])) {
        Err(CsarError::NotUtf8 { path, offset }) => {
            assert_eq!(path, "TOSCA-Metadata/TOSCA.meta");
            assert_eq!(offset, 34);
        }
        other => panic!("expected NotUtf8, got {other:?}"),
    }
    let csar = open(zip_of(&[
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("Definitions/top.yaml", b"name: \xff\xfe\n"),
        ("manifest.mf", b""),
    ]))
    .expect("open");
    assert!(matches!(
        csar.read_text("Definitions/top.yaml"),
        Err(CsarError::NotUtf8 { offset: 6, .. })
    ));
}

#[test]
fn a_hundred_megabyte_yaml_is_refused_without_reading_it() {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    writer
        .start_file("TOSCA-Metadata/TOSCA.meta", stored)
        .expect("start");
    writer.write_all(META.as_bytes()).expect("write");
    writer.start_file("manifest.mf", stored).expect("start");
    writer
        .start_file("Definitions/top.yaml", stored)
        .expect("start");
    let line = b"key: valuevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevalue\n";
    for _ in 0..(100 << 20) / line.len() {
        writer.write_all(line).expect("write");
    }
    let bytes = writer.finish().expect("finish").into_inner();
    let csar = open(bytes).expect("open");
    match csar.read_text("Definitions/top.yaml") {
        Err(CsarError::TooLarge { entry, size, limit }) => {
            assert_eq!(entry, "Definitions/top.yaml");
            assert!(size >= (100 << 20) - 100);
            assert_eq!(limit, CsarLimits::default().max_text_size);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_package_without_metadata_needs_one_root_yaml_and_a_matching_manifest() {
    let csar = open(zip_of(&[
        ("vnfd.yaml", TOP.as_bytes()),
        ("vnfd.mf", b"Source: vnfd.yaml\n"),
    ]))
    .expect("open");
    assert_eq!(csar.entry_definitions, "vnfd.yaml");
    assert_eq!(csar.manifest_path.as_deref(), Some("vnfd.mf"));
    assert!(matches!(
        open(zip_of(&[
            ("a.yaml", TOP.as_bytes()),
            ("b.yaml", TOP.as_bytes())
        ])),
        Err(CsarError::NoEntryDefinitions(_))
    ));
    assert!(matches!(
        open(zip_of(&[("vnfd.yaml", TOP.as_bytes()), ("other.mf", b"")])),
        Err(CsarError::NoEntryDefinitions(_))
    ));
}

#[test]
fn a_stream_is_spooled_and_read_like_bytes() {
    let script = b"echo streamed\n";
    let bytes = good_package(script, &sha256_hex(script));
    let spool = std::env::temp_dir();
    let (csar, path) =
        Csar::from_zip_stream(&mut bytes.as_slice(), &spool, &CsarOptions::default())
            .expect("stream");
    assert!(csar.verify_hashes(&CsarOptions::default()).is_ok());
    drop(csar);
    std::fs::remove_file(path).expect("remove spool file");
}

/// Packages Tacker refuses for a reason that lives in the CSAR layer (TOSCA.meta,
/// manifest, digests, entry definitions) rather than in the VNFD.
const CSAR_LAYER_REFUSALS: &[&str] = &[
    "inv-meta-false-algorithm",
    "inv-meta-manifest-false-ext",
    "inv-meta-manifest-false-hash",
    "inv-meta-missing-key",
    "mgmt-k8s-private-registry",
    "v2-fixture-change-vnfpkg-cnf",
    "v2-fixture-sample2-cnf",
];

#[test]
fn corpus_packages_open_with_their_recorded_entry_points_and_digests() {
    let Some(corpus) = tacker_core::testkit::corpus::corpus_dir(env!("CARGO_MANIFEST_DIR")) else {
        return;
    };
    let mut checked = 0;
    for package in tacker_core::testkit::corpus::packages(&corpus) {
        let (name, expected) = (&package.name, &package.expected);
        let options = CsarOptions {
            missing_ok: package.missing_ok.clone(),
            ..CsarOptions::default()
        };
        let result = Csar::from_dir(&package.dir, &options)
            .and_then(|csar| csar.verify_hashes(&options).map(|_| csar));
        if CSAR_LAYER_REFUSALS.contains(&name.as_str()) {
            assert!(
                result.is_err(),
                "{name}: Tacker refuses it ({}) and so must we",
                expected["expected_error"]
            );
        } else {
            let csar =
                result.unwrap_or_else(|e| panic!("{name} (valid: {}): {e}", package.valid()));
            assert_eq!(
                csar.entry_definitions,
                expected["entry_definitions"].as_str().expect("entry"),
                "{name}"
            );
            assert_eq!(
                csar.manifest_path.as_deref(),
                expected["etsi_entry_manifest"].as_str(),
                "{name}: manifest"
            );
        }
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} corpus packages found");
}

/// A package file read through a source that counts the bytes it yields.
#[derive(Debug, Clone)]
struct Counting {
    inner: tacker_core::csar::SharedFile,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.read.fetch_add(
            u64::try_from(read).expect("size"),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(read)
    }
}

impl std::io::Seek for Counting {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl tacker_core::csar::ArchiveSource for Counting {
    fn clone_source(&self) -> Box<dyn tacker_core::csar::ArchiveSource> {
        Box::new(self.clone())
    }
}

fn temp_file(bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("tacker-csar-{}.zip", tacker_core::new_id()));
    std::fs::write(&path, bytes).expect("write");
    path
}

#[test]
fn a_package_file_is_read_in_place_member_by_member() {
    // An 8 MiB artifact (incompressible) listed in the manifest.
    let mut state: u32 = 0x2545_f491;
    let image: Vec<u8> = (0..8 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    let bytes = good_package(&image, &sha256_hex(&image));
    let path = temp_file(&bytes);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let source = Counting {
        inner: tacker_core::csar::SharedFile::open(&path).expect("open"),
        read: read.clone(),
    };
    let csar = Csar::from_zip_source(Box::new(source), &CsarOptions::default()).expect("csar");
    // Opening reads the central directory, TOSCA.meta and the manifest: not the image.
    let at_open = read.load(std::sync::atomic::Ordering::Relaxed);
    assert!(at_open < 1 << 20, "opening read {at_open} bytes");
    // The digest check streams the image once.
    let checks = csar.verify_hashes(&CsarOptions::default()).expect("verify");
    assert_eq!(checks[0].outcome, HashOutcome::Verified);
    let after = read.load(std::sync::atomic::Ordering::Relaxed);
    assert!(after >= 8 << 20, "hashing read {after} bytes");
    drop(csar);
    let csar = Csar::from_zip_file(&path, &CsarOptions::default()).expect("csar");
    let text = csar.read("Definitions/top.yaml").expect("read");
    assert_eq!(text, TOP.as_bytes());
    std::fs::remove_file(&path).expect("remove");
}

#[test]
fn duplicate_entry_names_in_a_file_are_refused_by_name() {
    let mut bytes = zip_of(&[
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("Definitions/top.yaml", TOP.as_bytes()),
        ("Definitions/tip.yaml", TOP.as_bytes()),
    ]);
    let (from, to) = (b"Definitions/tip.yaml", b"Definitions/top.yaml");
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(from.len()).position(|w| w == from) {
        bytes[at + found..at + found + to.len()].copy_from_slice(to);
        at += found + to.len();
    }
    let path = temp_file(&bytes);
    let opened = Csar::from_zip_file(&path, &CsarOptions::default());
    std::fs::remove_file(&path).expect("remove");
    match opened {
        Err(CsarError::DuplicateEntry { entry }) => assert_eq!(entry, "Definitions/top.yaml"),
        other => panic!("expected DuplicateEntry, got {other:?}"),
    }
}
