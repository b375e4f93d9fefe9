//! Arbitrary text as the files of a package: the first line chooses which file the rest
//! becomes (TOSCA.meta, the manifest, or the VNFD YAML of a single-file package beside
//! a fixed TOSCA.meta), so the parsers are reached without a valid zip around them.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use tacker_core::csar::{Csar, CsarLimits, CsarOptions, Manifest, ToscaMeta};

fn zip_of(entries: &[(&str, &[u8])]) -> Option<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer.start_file(*name, zip::write::SimpleFileOptions::default()).ok()?;
        writer.write_all(content).ok()?;
    }
    Some(writer.finish().ok()?.into_inner())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    match selector % 3 {
        0 => {
            let _ = ToscaMeta::parse("TOSCA.meta", &text);
        }
        1 => {
            let _ = Manifest::parse("vnfd.mf", &text);
        }
        _ => {
            let meta = b"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: fuzz\nEntry-Definitions: Definitions/vnfd.yaml\n";
            let Some(zip) = zip_of(&[("TOSCA-Metadata/TOSCA.meta", meta), ("Definitions/vnfd.yaml", body)]) else {
                return;
            };
            let options = CsarOptions {
                limits: CsarLimits {
                    max_text_size: 1 << 20,
                    ..CsarLimits::default()
                },
                ..CsarOptions::default()
            };
            if let Ok(csar) = Csar::from_zip_bytes(zip, &options) {
                let _ = tacker_core::vnfd::validate(&csar, &options);
            }
        }
    }
});
