//! Registering an OpenStack VIM under the outbound policy, against stand-ins for
//! Keystone on loopback addresses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::json;
use tacker_core::Error;
use tacker_core::model::{KeyValuePairs, VimConnectionInfo};
use tacker_core::outbound::{Cidr, OutboundPolicy};
use tacker_core::vim::VimDriver;
use tacker_drivers_openstack::{OpenStackVimDriver, VIM_TYPE};
use tokio::net::TcpListener;

/// What an internal service would answer; it must never reach an API client.
const SECRET: &str = "INTERNAL-ONLY-SECRET";

fn vim(endpoint: &str) -> VimConnectionInfo {
    let mut access = KeyValuePairs::new();
    access.insert("username".into(), json!("admin"));
    access.insert("password".into(), json!("pw"));
    access.insert("project".into(), json!("admin"));
    let mut interface = KeyValuePairs::new();
    interface.insert("endpoint".into(), json!(endpoint));
    VimConnectionInfo {
        vim_id: Some("vim-1".into()),
        vim_type: VIM_TYPE.into(),
        interface_info: interface,
        access_info: access,
        extra: KeyValuePairs::new(),
    }
}

/// A stand-in on `ip`: `/plain/v3/auth/tokens` answers 404 with [`SECRET`] as text,
/// `/redirect/<addr>/v3/auth/tokens` answers 307 to `http://<addr>/plain/v3/auth/tokens`.
async fn keystone(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (plain, redirect) = (hits.clone(), hits.clone());
    let router = Router::new()
        .route(
            "/plain/v3/auth/tokens",
            post(move || async move {
                plain.fetch_add(1, Ordering::SeqCst);
                (StatusCode::NOT_FOUND, format!("<html>{SECRET}</html>"))
            }),
        )
        .route(
            "/redirect/{target}/v3/auth/tokens",
            post(
                move |axum::extract::Path(target): axum::extract::Path<String>| async move {
                    redirect.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(
                            header::LOCATION,
                            format!("http://{target}/plain/v3/auth/tokens"),
                        )],
                    )
                        .into_response()
                },
            ),
        );
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    (address, hits)
}

fn detail(error: &Error) -> String {
    error.to_problem_details().detail
}

#[tokio::test]
async fn a_keystone_url_at_a_metadata_address_is_refused() {
    let driver = OpenStackVimDriver::new();
    for endpoint in [
        "http://169.254.169.254/openstack/latest",
        "http://[::ffff:169.254.169.254]/v3",
        "http://169.254.1.1:5000/v3",
    ] {
        let error = driver.validate(&vim(endpoint)).await.expect_err(endpoint);
        assert!(matches!(error, Error::InvalidRequest(_)), "{error}");
        assert!(detail(&error).contains("built-in rule deny"), "{error}");
    }
}

#[tokio::test]
async fn a_keystone_name_resolving_to_a_denied_address_is_refused() {
    let (address, hits) = keystone("127.0.0.1").await;
    let driver = OpenStackVimDriver::new().outbound_policy(
        OutboundPolicy::default()
            .deny(Cidr::parse("127.0.0.1/32").expect("CIDR"))
            .deny(Cidr::parse("::1").expect("CIDR")),
    );
    let endpoint = format!("http://localhost:{}/plain/v3", address.port());
    let error = driver.validate(&vim(&endpoint)).await.expect_err("refused");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error}");
    assert!(detail(&error).contains("rule deny"), "{error}");
    assert!(detail(&error).contains("localhost"), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_redirect_to_a_denied_address_is_refused() {
    let (allowed, allowed_hits) = keystone("127.0.0.1").await;
    let (denied, denied_hits) = keystone("127.0.0.2").await;
    let driver = OpenStackVimDriver::new()
        .outbound_policy(OutboundPolicy::default().deny(Cidr::parse("127.0.0.2").expect("CIDR")));
    let endpoint = format!("http://{allowed}/redirect/{denied}/v3");
    let error = driver.validate(&vim(&endpoint)).await.expect_err("refused");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error}");
    assert!(detail(&error).contains("rule deny 127.0.0.2/32"), "{error}");
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
    assert_eq!(denied_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn keystone_errors_never_quote_a_body() {
    let (address, hits) = keystone("127.0.0.1").await;
    let error = OpenStackVimDriver::new()
        .validate(&vim(&format!("http://{address}/plain/v3")))
        .await
        .expect_err("404");
    let text = detail(&error);
    assert!(text.contains("404"), "{text}");
    assert!(!text.contains(SECRET), "the body leaked: {text}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
