//! Arbitrary text as the query string of a list (`filter`, `fields`, `exclude_fields`,
//! `all_fields`, `exclude_default`, `nextpage_opaque_marker`); the first byte chooses a
//! resource with or without attribute selectors.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let query = String::from_utf8_lossy(rest);
    tacker_api::fuzzing::list_query(&query, selector % 2 == 0);
});
