//! Entry points for the fuzz targets in `fuzz/`: the parsers of client input that are
//! private to the REST layer, each reachable here with plain text. Not an API; it may
//! change with any release.

use axum::http::{HeaderValue, Request, Uri};

use crate::rest::{auth, guard, limits, pkgm, sol013};

/// The query string of a list: `filter`, the attribute selectors and the paging marker,
/// as a resource with (`selectors`) or without attribute selectors takes them; then
/// the selector applied to a sample resource.
pub fn list_query(query: &str, selectors: bool) {
    if let Ok(params) = sol013::ListParams::parse(Some(query), selectors) {
        let mut sample = serde_json::json!({
            "id": "x",
            "metadata": {"a": [1, {"b": "c"}]},
            "instantiatedVnfInfo": {"vnfcResourceInfo": [{"id": "v"}], "scaleStatus": []},
        });
        params
            .selector
            .apply(&mut sample, &["instantiatedVnfInfo", "metadata"]);
        if let Some(filter) = &params.filter {
            let _ = filter.matches(&sample);
        }
        if let Some(marker) = &params.marker {
            let _ = tacker_core::store::marker::decode(marker);
        }
    }
}

/// A JSON request body, checked against the limits and read as the request type the
/// `kind` selects (instance creation, instantiation, scaling, healing, modification, an
/// LCM, package or FM subscription, a VIM registration).
pub fn json_body(kind: u8, body: &[u8]) {
    use tacker_core::model as m;
    let _ = limits::check_body_size(body.len());
    match kind % 8 {
        0 => drop(sol013::parse_json::<m::CreateVnfRequest>(body)),
        1 => drop(sol013::parse_json::<m::InstantiateVnfRequest>(body)),
        2 => drop(sol013::parse_json::<m::ScaleVnfRequest>(body)),
        3 => drop(sol013::parse_json::<m::HealVnfRequest>(body)),
        4 => drop(sol013::parse_json::<m::VnfInfoModificationRequest>(body)),
        5 => drop(sol013::parse_json::<m::LccnSubscriptionRequest>(body)),
        6 => drop(sol013::parse_json::<m::PkgmSubscriptionRequest>(body)),
        _ => drop(sol013::parse_json::<serde_json::Value>(body)),
    }
}

/// A request target and headers as the guard layer sees them, then the `Range` and
/// `Version` headers as their parsers do.
pub fn request_head(target: &str, header: &[u8]) {
    if let Ok(uri) = target.parse::<Uri>() {
        let mut request = Request::builder().uri(uri);
        if let Ok(value) = HeaderValue::from_bytes(header) {
            request = request.header("x-fuzz", value);
        }
        if let Ok(request) = request.body(()) {
            let _ = guard::check(&request);
        }
    }
    if let Ok(value) = HeaderValue::from_bytes(header) {
        let _ = pkgm::parse_range(&value);
    }
    if let Ok(text) = std::str::from_utf8(header) {
        let _ = sol013::version_supported("2.3.0", text);
    }
}

/// A bearer token, verified with a fixed HS256 key and issuer.
pub fn bearer_token(token: &str) {
    auth::fuzz_verify_bearer(token);
}
