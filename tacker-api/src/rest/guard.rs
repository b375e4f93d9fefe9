//! The outermost layer of the router: what every request goes through before any API
//! sees it, so that no request, however malformed, is answered by anything but a
//! ProblemDetails.
//!
//! - A handler that panics is answered 500 ProblemDetails (the panic is logged with the
//!   method and path); the connection stays up.
//! - A request target longer than [`MAX_URI_BYTES`] is answered 414, request headers
//!   larger than [`MAX_HEADER_BYTES`] in all 431, both ProblemDetails. (Targets and
//!   headers beyond the HTTP server's own parser limits never reach the router.)
//! - A path or query that percent-decodes to the NUL character, or a path that does not
//!   decode to UTF-8, is answered 400.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use super::sol013::ApiError;

/// The longest request target (path and query), in bytes.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// The most bytes all request headers (names and values) may take.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The guard middleware (see the module documentation).
pub async fn guard(request: Request, next: Next) -> Response {
    if let Err(error) = check(&request) {
        return error.into_response();
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let incident = tacker_core::new_id();
            tracing::error!(%method, path, incident, panic = message, "a request handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the server failed to handle the request (incident {incident})"),
            )
            .into_response()
        }
    }
}

/// The checks of the guard on a request's target and headers; `Err` is the answer.
pub fn check<B>(request: &axum::http::Request<B>) -> Result<(), ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the request target has {target} bytes; at most {MAX_URI_BYTES} are served"),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request headers take {headers} bytes; at most {MAX_HEADER_BYTES} are served"
            ),
        ));
    }
    let path: Vec<u8> = percent_encoding_decode(uri.path().as_bytes());
    if path.contains(&0) {
        return Err(ApiError::bad_request(
            "the path contains the NUL character (%00)",
        ));
    }
    if std::str::from_utf8(&path).is_err() {
        return Err(ApiError::bad_request(
            "the path does not decode to UTF-8 text",
        ));
    }
    if let Some(query) = uri.query()
        && url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(ApiError::bad_request(
            "the query contains the NUL character (%00)",
        ));
    }
    Ok(())
}

/// Decodes `%XX` escapes; anything else (a `%` without two hex digits too) is kept.
fn percent_encoding_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let byte = input[i];
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                input.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                input.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or_default());
            i += 3;
            continue;
        }
        out.push(byte);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_stray_percents_stay() {
        assert_eq!(percent_encoding_decode(b"/a%2Fb%00"), b"/a/b\0");
        assert_eq!(percent_encoding_decode(b"/100%"), b"/100%");
        assert_eq!(percent_encoding_decode(b"/%zz%C3%A9"), "/%zzé".as_bytes());
    }
}
