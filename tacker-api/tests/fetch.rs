//! `HttpPackageFetcher` against local HTTP servers.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::StreamExt as _;
use tacker_api::HttpPackageFetcher;
use tacker_api::fetch::MAX_REDIRECTS;
use tacker_core::Error;
use tacker_core::package::PackageFetcher;

const MIB: u64 = 1 << 20;

/// The served package: 300 kB of a pattern that is not a repeated block.
fn package() -> Bytes {
    (0..300_000u32)
        .map(|i| u8::try_from((i * 31 + i / 251) % 251).expect("below 251"))
        .collect::<Vec<u8>>()
        .into()
}

const CHUNK: usize = 64 << 10;
/// The most chunks the endless body sends: 1 GiB.
const ENDLESS_CHUNKS: usize = 16 << 10;

#[derive(Default)]
struct Server {
    /// Chunks the endless body has produced.
    produced: AtomicUsize,
}

async fn package_server() -> (SocketAddr, Arc<Server>) {
    let state = Arc::new(Server::default());
    let router = Router::new()
        .route("/pkg.zip", get(|| async { package() }))
        .route(
            "/private.zip",
            get(|headers: HeaderMap| async move {
                // pkguser:pkgpass
                let authorization = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if authorization == Some("Basic cGtndXNlcjpwa2dwYXNz") {
                    package().into_response()
                } else {
                    (StatusCode::UNAUTHORIZED, "who are you?").into_response()
                }
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/pkg.zip") }))
        .route(
            "/moved-private",
            get(|| async { Redirect::to("/private.zip") }),
        )
        .route(
            "/hop/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    package().into_response()
                } else {
                    Redirect::to(&format!("/hop/{}", n - 1)).into_response()
                }
            }),
        )
        .route(
            "/to-ftp",
            get(|| async { Redirect::to("ftp://127.0.0.1/pkg.zip") }),
        )
        .route(
            "/unavailable",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }),
        )
        .route(
            "/announced-huge",
            get(|| async {
                // Announces 1 GiB and never sends a byte of it.
                let body =
                    Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
                Response::builder()
                    .header(header::CONTENT_LENGTH, 1u64 << 30)
                    .body(body)
                    .expect("a response")
            }),
        )
        .route(
            "/endless",
            get(|State(server): State<Arc<Server>>| async move {
                // A chunked body of up to 1 GiB, counting the chunks it produces.
                let chunk = Bytes::from(vec![7u8; CHUNK]);
                let chunks = futures::stream::iter(0..ENDLESS_CHUNKS).map(move |_| {
                    server.produced.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(chunk.clone())
                });
                Body::from_stream(chunks)
            }),
        )
        .with_state(Arc::clone(&state));
    (common::serve(router).await, state)
}

fn fetcher() -> HttpPackageFetcher {
    HttpPackageFetcher::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a fetcher")
}

/// Runs `fetch` with a deadline, so a fetcher that read everything fails the test
/// instead of hanging it.
async fn fetch(
    fetcher: &HttpPackageFetcher,
    uri: &str,
    basic_auth: Option<(&str, &str)>,
    limit: u64,
) -> Result<Bytes, Error> {
    tokio::time::timeout(
        Duration::from_secs(20),
        fetcher.fetch(uri, basic_auth, limit),
    )
    .await
    .expect("the fetch ends in time")
}

#[tokio::test]
async fn downloads_the_served_bytes() {
    let (address, _) = package_server().await;
    let content = fetch(&fetcher(), &format!("http://{address}/pkg.zip"), None, MIB)
        .await
        .expect("downloaded");
    assert_eq!(content, package());

    let exact = u64::try_from(package().len()).expect("fits");
    let content = fetch(
        &fetcher(),
        &format!("http://{address}/pkg.zip"),
        None,
        exact,
    )
    .await
    .expect("exactly the limit is fine");
    assert_eq!(content.len(), package().len());
}

#[tokio::test]
async fn basic_credentials_are_sent() {
    let (address, _) = package_server().await;
    let uri = format!("http://{address}/private.zip");
    let fetcher = fetcher();
    let content = fetch(&fetcher, &uri, Some(("pkguser", "pkgpass")), MIB)
        .await
        .expect("downloaded");
    assert_eq!(content, package());

    let error = fetch(&fetcher, &uri, None, MIB)
        .await
        .expect_err("no credentials");
    let text = error.to_string();
    assert!(text.contains(&uri) && text.contains("401"), "{text}");
    assert!(!text.contains("who are you?"), "no body in errors: {text}");
    assert!(!error.is_retryable(), "{text}");

    // Credentials survive a redirect on the same host.
    let content = fetch(
        &fetcher,
        &format!("http://{address}/moved-private"),
        Some(("pkguser", "pkgpass")),
        MIB,
    )
    .await
    .expect("downloaded after the redirect");
    assert_eq!(content, package());
}

#[tokio::test]
async fn an_announced_size_above_the_limit_is_refused_before_the_body() {
    let (address, _) = package_server().await;
    let uri = format!("http://{address}/announced-huge");
    let error = fetch(&fetcher(), &uri, None, MIB)
        .await
        .expect_err("too large");
    let text = error.to_string();
    assert!(matches!(error, Error::Unprocessable(_)), "{text}");
    assert!(
        text.contains(&uri) && text.contains("Content-Length"),
        "{text}"
    );

    let limit = u64::try_from(package().len()).expect("fits") - 1;
    let error = fetch(
        &fetcher(),
        &format!("http://{address}/pkg.zip"),
        None,
        limit,
    )
    .await
    .expect_err("one byte too large");
    assert!(matches!(error, Error::Unprocessable(_)), "{error}");
}

#[tokio::test]
async fn a_streamed_body_above_the_limit_is_cut_off() {
    let (address, server) = package_server().await;
    let uri = format!("http://{address}/endless");
    let limit = 200_000;
    let error = fetch(&fetcher(), &uri, None, limit)
        .await
        .expect_err("too large");
    let text = error.to_string();
    assert!(matches!(error, Error::Unprocessable(_)), "{text}");
    assert!(text.contains(&uri) && text.contains("200000"), "{text}");
    let produced = server.produced.load(Ordering::SeqCst);
    // Socket buffers hold a few MiB at most; the whole body is 1 GiB.
    assert!(
        produced < ENDLESS_CHUNKS / 16,
        "the server produced {produced} of {ENDLESS_CHUNKS} chunks"
    );
}

#[tokio::test]
async fn redirects_are_followed_within_bounds() {
    let (address, _) = package_server().await;
    let fetcher = fetcher();
    let content = fetch(&fetcher, &format!("http://{address}/moved"), None, MIB)
        .await
        .expect("downloaded after the redirect");
    assert_eq!(content, package());

    let hops = MAX_REDIRECTS;
    let content = fetch(&fetcher, &format!("http://{address}/hop/{hops}"), None, MIB)
        .await
        .expect("the most redirects allowed");
    assert_eq!(content, package());

    let uri = format!("http://{address}/hop/{}", hops + 1);
    let error = fetch(&fetcher, &uri, None, MIB)
        .await
        .expect_err("one redirect too many");
    let text = error.to_string();
    assert!(text.contains(&uri) && text.contains("redirects"), "{text}");
    assert!(!error.is_retryable(), "{text}");

    let error = fetch(&fetcher, &format!("http://{address}/to-ftp"), None, MIB)
        .await
        .expect_err("ftp is not followed");
    let text = error.to_string();
    assert!(text.contains("ftp://127.0.0.1/pkg.zip"), "{text}");
}

#[tokio::test]
async fn other_schemes_are_refused() {
    let fetcher = fetcher();
    for uri in ["ftp://127.0.0.1/pkg.zip", "file:///etc/passwd", "pkg.zip"] {
        let error = fetch(&fetcher, uri, None, MIB).await.expect_err("not http");
        assert!(matches!(error, Error::InvalidRequest(_)), "{uri}: {error}");
    }
}

#[tokio::test]
async fn error_statuses_name_the_url() {
    let (address, _) = package_server().await;
    let fetcher = fetcher();
    let uri = format!("http://{address}/missing.zip");
    let error = fetch(&fetcher, &uri, None, MIB).await.expect_err("404");
    let text = error.to_string();
    assert!(text.contains(&uri) && text.contains("404"), "{text}");
    assert!(!error.is_retryable(), "{text}");

    let uri = format!("http://{address}/unavailable");
    let error = fetch(&fetcher, &uri, None, MIB).await.expect_err("503");
    let text = error.to_string();
    assert!(text.contains(&uri) && text.contains("503"), "{text}");
    assert!(!text.contains("maintenance"), "no body in errors: {text}");
    assert!(error.is_retryable(), "{text}");

    let closed = common::closed_address().await;
    let error = fetch(&fetcher, &format!("http://{closed}/pkg.zip"), None, MIB)
        .await
        .expect_err("nobody listens");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains(&closed.to_string()), "{error}");
}
