//! Arbitrary bytes as a JSON request body (the first byte chooses the request type),
//! through the size, depth and character limits and the field-naming deserializer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    tacker_api::fuzzing::json_body(kind, body);
});
