//! Arbitrary text as a package's top Heat template, through the OpenStack driver's
//! reordering (subnets before the users of their network): it never panics, and what it
//! answers is a template that needs nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacker_drivers_openstack::subnets_first;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(reordered) = subnets_first(text) {
        assert_eq!(subnets_first(&reordered), None, "reordering is stable");
    }
});
