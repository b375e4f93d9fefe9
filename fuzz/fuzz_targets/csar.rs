//! Arbitrary bytes as a package zip: opening, digest checks and the VNFD reader must
//! answer with a typed error or a result, never panic or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacker_core::csar::{Csar, CsarLimits, CsarOptions};

fuzz_target!(|data: &[u8]| {
    let options = CsarOptions {
        limits: CsarLimits {
            max_entries: 256,
            max_entry_size: 4 << 20,
            max_total_size: 16 << 20,
            max_compression_ratio: 100,
            max_text_size: 1 << 20,
        },
        ..CsarOptions::default()
    };
    if let Ok(csar) = Csar::from_zip_bytes(data.to_vec(), &options) {
        let _ = tacker_core::vnfd::validate(&csar, &options);
    }
});
