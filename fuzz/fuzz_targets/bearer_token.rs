//! Arbitrary text as an OAuth 2.0 bearer token (a JWS compact serialization), verified
//! against a fixed HS256 key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tacker_api::fuzzing::bearer_token(&String::from_utf8_lossy(data));
});
