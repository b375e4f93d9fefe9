//! A small but complete VNF package for tests: `tests/vnfd/*` with TOSCA.meta, a
//! manifest and a management-driver script.

#![allow(dead_code)]

use bytes::Bytes;
use std::io::{Cursor, Write};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

pub const TOP: &str = include_str!("../vnfd/top.yaml");
pub const TYPES: &str = include_str!("../vnfd/types.yaml");
pub const FLAVOUR: &str = include_str!("../vnfd/df_simple.yaml");
pub const SCRIPT: &str = "print('hook')\n";
pub const VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000001";

pub fn sha256(data: &[u8]) -> String {
    let mut reader = data;
    tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut reader)
        .expect("digest")
}

/// The package zip, with the top template given (to vary the VNFD).
pub fn package_zip(top: &str) -> Bytes {
    package_zip_with(top, FLAVOUR)
}

/// The package zip with both the top template and the flavour given.
pub fn package_zip_with(top: &str, flavour: &str) -> Bytes {
    let meta = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: test\nEntry-Definitions: Definitions/top.yaml\nETSI-Entry-Manifest: manifest.mf\n";
    let manifest = format!(
        "metadata:\n  vnf_provider_id: Example\n  vnf_product_name: Reader Test VNF\n  vnf_release_date_time: 2026-01-01T00:00:00+00:00\n  vnf_package_version: 1.0\n  compatible_specification_versions: 2.6.1, 3.3.1\n\nSource: Scripts/mgmt.py\nAlgorithm: SHA-256\nHash: {}\n",
        sha256(SCRIPT.as_bytes())
    );
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in [
        ("TOSCA-Metadata/TOSCA.meta", meta),
        ("manifest.mf", manifest.as_str()),
        ("Definitions/top.yaml", top),
        ("Definitions/types.yaml", TYPES),
        ("Definitions/df_simple.yaml", flavour),
        ("Scripts/mgmt.py", SCRIPT),
    ] {
        writer
            .start_file(name, SimpleFileOptions::default())
            .expect("start");
        writer.write_all(content.as_bytes()).expect("write");
    }
    Bytes::from(writer.finish().expect("finish").into_inner())
}
