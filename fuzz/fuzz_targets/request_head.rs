//! Arbitrary bytes as a request target and a header value (split at the first newline),
//! through the guard layer, the `Range` parser and the `Version` check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (target, header) = data.split_at(split);
    let target = String::from_utf8_lossy(target);
    tacker_api::fuzzing::request_head(&target, header.get(1..).unwrap_or_default());
});
