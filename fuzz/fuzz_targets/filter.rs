//! Arbitrary text as a SOL013 `filter` expression; a filter that parses is matched
//! against a resource with nested objects, arrays and every JSON type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacker_core::filter::Filter;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let document = serde_json::json!({
        "id": "i-1",
        "vnfInstanceName": "é ü",
        "instantiatedVnfInfo": {
            "scaleStatus": [{"aspectId": "a", "scaleLevel": 2}],
            "vnfcResourceInfo": [{"vduId": "VDU1"}, {"vduId": null}]
        },
        "metadata": {"n": 1.5, "b": true, "list": [[1, "x"], {}]}
    });
    let _ = filter.matches(&document);
    for term in &filter.terms {
        let _ = term.path_string();
    }
});
