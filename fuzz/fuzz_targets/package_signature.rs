//! Arbitrary bytes as the CMS signature of a manifest, of an artifact and as the
//! package's certificate file: the check must refuse with a reason, never panic.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use tacker_core::TenantId;
use tacker_core::csar::{Csar, CsarOptions, PackageTrust, SignaturePolicy};
use zip::write::SimpleFileOptions;

const BODY: &str = "metadata:\n  vnf_provider_id: Fuzz\n\nSource: Definitions/top.yaml\n\
                    Algorithm: SHA-256\n\
                    Hash: 0000000000000000000000000000000000000000000000000000000000000000\n\
                    Signature: top.sig\nCertificate: top.cert\n\n";

fuzz_target!(|data: &[u8]| {
    let third = data.len() / 3;
    let (signature, rest) = data.split_at(third);
    let (artifact_signature, certificate) = rest.split_at(third);
    let mut manifest = BODY.as_bytes().to_vec();
    manifest.extend_from_slice(b"-----BEGIN CMS-----\n");
    manifest.extend_from_slice(signature);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let files: [(&str, &[u8]); 6] = [
        (
            "TOSCA-Metadata/TOSCA.meta",
            b"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: fuzz\n\
              Entry-Definitions: Definitions/top.yaml\nETSI-Entry-Manifest: top.mf\n\
              ETSI-Entry-Certificate: top.cert\n",
        ),
        ("Definitions/top.yaml", b"tosca_definitions_version: tosca_simple_yaml_1_3\n"),
        ("top.mf", &manifest),
        ("top.sig", artifact_signature),
        ("top.cert", certificate),
        ("Scripts/other.sh", b"echo\n"),
    ];
    for (name, content) in files {
        if writer.start_file(name, SimpleFileOptions::default()).is_err()
            || writer.write_all(content).is_err()
        {
            return;
        }
    }
    let Ok(cursor) = writer.finish() else {
        return;
    };
    let Ok(csar) = Csar::from_zip_bytes(cursor.into_inner(), &CsarOptions::default()) else {
        return;
    };
    for policy in [SignaturePolicy::Require, SignaturePolicy::IfPresent] {
        let _ = PackageTrust::new(policy).verify(&csar, &TenantId::default());
    }
    let _ = PackageTrust::from_pem(certificate, SignaturePolicy::Require)
        .map(|trust| trust.verify(&csar, &TenantId::default()));
});
