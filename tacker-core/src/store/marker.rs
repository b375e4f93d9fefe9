//! Paging markers: the opaque `nextpage_opaque_marker` of SOL013 lists. A marker is the
//! hex form of the id of the last record of a page; stores list from the record after it.

use crate::{Error, Result};

/// The longest marker accepted, in characters (an id of up to 256 bytes).
pub const MAX_MARKER_CHARS: usize = 512;

/// The marker of a page that ended at record `id`.
pub fn encode(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The id a marker names. `InvalidRequest` for anything [`encode`] does not make, and
/// for an id holding a control character (no stored id has one).
pub fn decode(marker: &str) -> Result<String> {
    let invalid = || {
        Error::InvalidRequest(format!(
            "invalid paging marker '{}': pass nextpage_opaque_marker as the Link header gave it",
            crate::error::bounded_reason(marker)
        ))
    };
    if marker.len() > MAX_MARKER_CHARS || !marker.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes = (0..marker.len())
        .step_by(2)
        .map(|i| {
            marker
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(invalid)
        })
        .collect::<Result<Vec<u8>>>()?;
    let id = String::from_utf8(bytes).map_err(|_| invalid())?;
    if id.chars().any(char::is_control) {
        return Err(invalid());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_garbage_is_refused() {
        let id = "0190a5b4-7c1e-7000-8000-000000000001";
        assert_eq!(decode(&encode(id)).expect("round trip"), id);
        for bad in ["a", "zz", "00", "c3", "é0", &"61".repeat(300), "ff"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
