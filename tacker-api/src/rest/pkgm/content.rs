//! The non-JSON side of package management: request bodies spooled to a temporary
//! file under a size limit, single byte ranges (RFC 9110), `Accept` negotiation,
//! media types guessed from file names, and flag-style query parameters.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;

use axum::body::Body;
use axum::http::header::{ACCEPT, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::Body as _;
use tokio::io::AsyncWriteExt as _;

use crate::rest::sol013::{ApiError, ApiResult};
use tacker_core::package::{ContentStream, SpoolFile};

// ----- Spooling ------------------------------------------------------------------------

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the package is larger than the {limit} bytes this server accepts"),
    )
}

fn write_failed(error: &std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot write the package to a temporary file: {error}"),
    )
}

/// Streams a request body to a temporary file, never holding more than one chunk in
/// memory. Refuses with 413 as soon as the declared `Content-Length` or the bytes
/// received exceed `limit`, and with 400 when the body is empty.
pub(super) async fn spool(
    headers: &HeaderMap,
    mut body: Body,
    limit: u64,
    dir: &Path,
) -> ApiResult<SpoolFile> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let (temp, mut file) = SpoolFile::create(dir, "package-upload").await?;
    let mut received: u64 = 0;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("reading the package body failed: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received = received.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        if received > limit {
            return Err(too_large(limit));
        }
        file.write_all(&data).await.map_err(|e| write_failed(&e))?;
    }
    if received == 0 {
        return Err(ApiError::bad_request(
            "the request body is empty; send the package zip as the body",
        ));
    }
    file.flush().await.map_err(|e| write_failed(&e))?;
    Ok(temp)
}

/// The media types `PUT package_content` takes: the zip itself, as SOL005 asks
/// (`application/zip`), or as opaque bytes.
pub(super) fn check_package_media_type(headers: &HeaderMap) -> ApiResult<()> {
    match crate::rest::sol013::request_media_type(headers).as_deref() {
        Some(
            "application/zip"
            | "application/x-zip-compressed"
            | "application/octet-stream"
            | "application/binary",
        ) => Ok(()),
        Some("multipart/form-data") => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "multipart/form-data uploads are not supported; send the package zip itself as the body with Content-Type: application/zip",
        )),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type '{other}' is not a package; send the zip with Content-Type: application/zip"
            ),
        )),
        // SOL013 4.2.2 makes Content-Type mandatory on a request with a body.
        None => Err(ApiError::bad_request(
            "the Content-Type header is missing; send the package zip with Content-Type: application/zip",
        )),
    }
}

// ----- Byte ranges ---------------------------------------------------------------------

/// One byte range of a `Range` header, before the length of the content is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-` or `bytes=first-last` (last inclusive).
    From(u64, Option<u64>),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// Parses a `Range` header: a single range of unit `bytes`. Anything else (another
/// unit, several ranges, a last position before the first) is an error text.
pub fn parse_range(value: &HeaderValue) -> Result<ByteRange, String> {
    let text = value
        .to_str()
        .map_err(|_| "the Range header is not readable text".to_owned())?
        .trim();
    let Some((unit, spec)) = text.split_once('=') else {
        return Err(format!(
            "Range '{text}' is not of the form bytes=first-last"
        ));
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Err(format!(
            "Range unit '{}' is not supported; only bytes ranges are",
            unit.trim()
        ));
    }
    let spec = spec.trim();
    if spec.contains(',') {
        return Err(format!(
            "Range '{text}' asks for several ranges; only a single range is supported"
        ));
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Err(format!(
            "Range '{text}' is not of the form bytes=first-last"
        ));
    };
    let number = |part: &str| -> Result<u64, String> {
        let part = part.trim();
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("Range '{text}': '{part}' is not a byte position"));
        }
        part.parse()
            .map_err(|_| format!("Range '{text}': '{part}' is too large"))
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => Err(format!("Range '{text}' names no byte position")),
        (true, false) => Ok(ByteRange::Suffix(number(last)?)),
        (false, true) => Ok(ByteRange::From(number(first)?, None)),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return Err(format!(
                    "Range '{text}': the last byte position is before the first"
                ));
            }
            Ok(ByteRange::From(first, Some(last)))
        }
    }
}

impl ByteRange {
    /// The half-open range of content of `length` bytes this range selects; `None`
    /// when it selects nothing (a start at or past the end, an empty suffix).
    pub(super) fn resolve(self, length: u64) -> Option<Range<u64>> {
        match self {
            Self::From(first, _) if first >= length => None,
            Self::From(first, last) => {
                let end = last.map_or(length, |last| last.saturating_add(1).min(length));
                Some(first..end)
            }
            Self::Suffix(0) => None,
            Self::Suffix(_) if length == 0 => None,
            Self::Suffix(n) => Some(length.saturating_sub(n)..length),
        }
    }
}

/// 416 Range Not Satisfiable with `Content-Range: bytes */length`.
pub(super) fn unsatisfiable(length: u64, detail: impl Into<String>) -> ApiError {
    let error = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, detail);
    match HeaderValue::from_str(&format!("bytes */{length}")) {
        Ok(value) => error.with_header(CONTENT_RANGE, value),
        Err(_) => error,
    }
}

/// The range a request's `Range` header selects from content of `length` bytes:
/// `None` without the header or with an empty one, 416 when it is malformed or selects
/// nothing.
pub(super) fn requested_range(headers: &HeaderMap, length: u64) -> ApiResult<Option<Range<u64>>> {
    let Some(value) = headers.get(axum::http::header::RANGE) else {
        return Ok(None);
    };
    // An empty `Range` names no range unit and no range: it is no range request, and
    // RFC 9110 14.2 lets a server ignore a Range it cannot use; the whole content
    // follows (the SOL005 documents answer 416 only to a range "not satisfiable").
    if value.as_bytes().iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let range = parse_range(value).map_err(|detail| unsatisfiable(length, detail))?;
    range.resolve(length).map(Some).ok_or_else(|| {
        unsatisfiable(
            length,
            format!(
                "Range '{}' selects no byte of the {length} bytes of the content",
                value.to_str().unwrap_or("?")
            ),
        )
    })
}

fn header_value(text: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(text)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A 200 answer with the whole content, or a 206 with the part `range` selects of a
/// content of `length` bytes (`body` then holds only that part). Both say
/// `Accept-Ranges: bytes`.
pub(super) fn ranged_response(
    content_type: &str,
    body: impl Into<Body>,
    range: Option<Range<u64>>,
    length: u64,
) -> ApiResult<Response> {
    let body: Body = body.into();
    let mut response = match &range {
        None => (StatusCode::OK, body).into_response(),
        Some(range) => {
            let mut response = (StatusCode::PARTIAL_CONTENT, body).into_response();
            response.headers_mut().insert(
                CONTENT_RANGE,
                header_value(&format!(
                    "bytes {}-{}/{length}",
                    range.start,
                    range.end.saturating_sub(1)
                ))?,
            );
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, header_value(content_type)?);
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let sent = range.map_or(length, |range| range.end - range.start);
    headers.insert(CONTENT_LENGTH, header_value(&sent.to_string())?);
    Ok(response)
}

/// Streams stored content (the package zip, an artifact, an archive) whole with 200,
/// or the single range the request asks for with 206: the content is never held in
/// memory.
pub(super) async fn serve_content(
    headers: &HeaderMap,
    content_type: &str,
    content: tacker_core::package::Content,
) -> ApiResult<Response> {
    let length = content.size();
    let range = requested_range(headers, length)?;
    let stream: ContentStream = content.stream(range.clone()).await?;
    let body = Body::from_stream(stream);
    ranged_response(content_type, body, range, length)
}

/// A 200 answer with a body of a media type.
pub(super) fn typed_response(content_type: &str, body: impl Into<Body>) -> ApiResult<Response> {
    let mut response = (StatusCode::OK, body.into()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, header_value(content_type)?);
    Ok(response)
}

// ----- Negotiation ---------------------------------------------------------------------

/// Which of `text/plain` and `application/zip` a request's `Accept` header allows
/// (wildcards count; `q=0` excludes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Acceptable {
    /// `text/plain` is acceptable.
    pub(super) text: bool,
    /// `application/zip` is acceptable.
    pub(super) zip: bool,
    /// The request carried an `Accept` header at all.
    pub(super) present: bool,
}

pub(super) fn acceptable(headers: &HeaderMap) -> Acceptable {
    let mut result = Acceptable::default();
    for value in headers.get_all(ACCEPT) {
        result.present = true;
        let Ok(text) = value.to_str() else { continue };
        for range in text.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|param| {
                param.split_once('=').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("q")
                        && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            if refused {
                continue;
            }
            match media.as_str() {
                "*/*" => {
                    result.text = true;
                    result.zip = true;
                }
                "text/plain" | "text/*" => result.text = true,
                "application/zip" | "application/*" => result.zip = true,
                _ => {}
            }
        }
    }
    result
}

// ----- Query flags ---------------------------------------------------------------------

/// The flag-style query parameters of a request (SOL013 flags carry no value), each
/// checked against `allowed` so a typo is refused instead of ignored. Also gives the
/// value of each, for the few that carry one.
pub(super) fn query_flags(
    query: Option<&str>,
    allowed: &[&str],
) -> ApiResult<Vec<(String, String)>> {
    let mut seen = BTreeSet::new();
    let mut flags = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(ApiError::bad_request(format!(
                "unknown query parameter '{name}'{}",
                if allowed.is_empty() {
                    String::new()
                } else {
                    format!(" (this resource takes {})", allowed.join(", "))
                }
            )));
        }
        if !seen.insert(name.to_string()) {
            return Err(ApiError::bad_request(format!(
                "query parameter {name} is given more than once"
            )));
        }
        flags.push((name.into_owned(), value.into_owned()));
    }
    Ok(flags)
}

/// Whether a flag is among the parsed query parameters.
pub(super) fn has_flag(flags: &[(String, String)], name: &str) -> bool {
    flags.iter().any(|(n, _)| n == name)
}

// ----- Media types ---------------------------------------------------------------------

/// The media type of a package file, guessed from its extension;
/// `application/octet-stream` when unknown.
pub(super) fn media_type_of(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    if name.ends_with(".tar.gz") {
        return "application/gzip";
    }
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension {
        "yaml" | "yml" => "application/yaml",
        "json" => "application/json",
        "txt" | "mf" | "meta" | "log" | "cfg" | "conf" | "ini" | "j2" | "tpl" | "env" => {
            "text/plain"
        }
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "sh" => "application/x-sh",
        "py" => "text/x-python",
        "zip" | "csar" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "pem" | "crt" | "cert" => "application/x-pem-file",
        "cms" | "p7s" | "sm" => "application/cms",
        "iso" => "application/x-iso9660-image",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Result<ByteRange, String> {
        parse_range(&HeaderValue::from_str(text).expect("header"))
    }

    #[test]
    fn single_byte_ranges_are_parsed_and_resolved() {
        assert_eq!(range("bytes=0-9"), Ok(ByteRange::From(0, Some(9))));
        assert_eq!(range("bytes=5-"), Ok(ByteRange::From(5, None)));
        assert_eq!(range("bytes=-3"), Ok(ByteRange::Suffix(3)));
        assert_eq!(range("Bytes = 1-2"), Ok(ByteRange::From(1, Some(2))));
        for bad in [
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
            "bytes=a-b",
            "0-1",
        ] {
            assert!(range(bad).is_err(), "{bad}");
        }
        assert_eq!(ByteRange::From(0, Some(9)).resolve(100), Some(0..10));
        assert_eq!(ByteRange::From(90, Some(200)).resolve(100), Some(90..100));
        assert_eq!(ByteRange::From(100, None).resolve(100), None);
        assert_eq!(ByteRange::From(10, None).resolve(100), Some(10..100));
        assert_eq!(ByteRange::Suffix(3).resolve(100), Some(97..100));
        assert_eq!(ByteRange::Suffix(300).resolve(100), Some(0..100));
        assert_eq!(ByteRange::Suffix(0).resolve(100), None);
    }

    #[test]
    fn accept_headers_are_negotiated() {
        let of = |text: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_str(text).expect("header"));
            let a = acceptable(&headers);
            (a.text, a.zip)
        };
        assert_eq!(of("text/plain"), (true, false));
        assert_eq!(of("application/zip"), (false, true));
        assert_eq!(of("text/plain, application/zip"), (true, true));
        assert_eq!(of("text/plain,application/zip;q=0"), (true, false));
        assert_eq!(of("*/*"), (true, true));
        assert_eq!(of("application/json"), (false, false));
        assert!(!acceptable(&HeaderMap::new()).present);
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(media_type_of("Scripts/install.sh"), "application/x-sh");
        assert_eq!(
            media_type_of("Files/images/cirros.QCOW2"),
            "application/octet-stream"
        );
        assert_eq!(media_type_of("Definitions/top.yaml"), "application/yaml");
        assert_eq!(media_type_of("charts/a.tar.gz"), "application/gzip");
        assert_eq!(media_type_of("README"), "application/octet-stream");
    }

    #[tokio::test]
    async fn temporary_files_go_away_on_every_path() {
        let dir = std::env::temp_dir();
        let (temp, _file) = SpoolFile::create(&dir, "test").await.expect("created");
        let path = temp.path().to_owned();
        assert!(path.exists());
        drop(temp);
        assert!(!path.exists());

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
        let spooled = spool(&headers, Body::from(vec![1u8; 100]), 1000, &dir)
            .await
            .expect("spooled");
        assert_eq!(std::fs::read(spooled.path()).expect("read").len(), 100);
        let path = spooled.path().to_owned();
        drop(spooled);
        assert!(!path.exists());
        let error = spool(&headers, Body::from(vec![1u8; 100]), 99, &dir)
            .await
            .expect_err("too large");
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn unknown_flags_are_refused() {
        let flags = query_flags(Some("include_signatures"), &["include_signatures"]).expect("ok");
        assert!(has_flag(&flags, "include_signatures"));
        let error =
            query_flags(Some("include_signature"), &["include_signatures"]).expect_err("typo");
        assert!(error.detail().contains("include_signature'"), "{error}");
    }
}
