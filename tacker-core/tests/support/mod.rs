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

/// A second flavour, `big`: VDU1 with bigger servers plus a VDU2, levels `medium`
/// (default) and `huge`, and `heal_start`/`modify_information_start` hooks.
pub const FLAVOUR_BIG: &str = include_str!("../vnfd/df_big.yaml");
/// Release 1.0 of the test VNF with the flavours `simple` and `big`.
pub const TOP_TWO_FLAVOURS: &str = include_str!("../vnfd/top_two_flavours.yaml");
/// Its VNFD id.
pub const TWO_FLAVOURS_VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000011";
/// Release 2.0 of the same VNF (same provider and product), flavour `simple` only.
pub const TOP_V2: &str = include_str!("../vnfd/top_v2.yaml");
/// Its VNFD id.
pub const V2_VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000012";
/// Another product of the same provider, flavour `simple`.
pub const TOP_OTHER_PRODUCT: &str = include_str!("../vnfd/top_other_product.yaml");
/// Its VNFD id.
pub const OTHER_PRODUCT_VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000013";

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
    package_zip_files(top, flavour, &[])
}

/// The package with the `big` flavour file as well (for [`TOP_TWO_FLAVOURS`]).
pub fn package_zip_two_flavours() -> Bytes {
    package_zip_files(
        TOP_TWO_FLAVOURS,
        FLAVOUR,
        &[("Definitions/df_big.yaml", FLAVOUR_BIG)],
    )
}

/// The package zip with the top template and the flavour given, plus more files
/// (path in the package, content).
pub fn package_zip_files(top: &str, flavour: &str, extra: &[(&str, &str)]) -> Bytes {
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
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        writer
            .start_file(name, SimpleFileOptions::default())
            .expect("start");
        writer.write_all(content.as_bytes()).expect("write");
    }
    Bytes::from(writer.finish().expect("finish").into_inner())
}
