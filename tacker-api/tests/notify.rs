//! `HttpNotificationSink` against local HTTP servers.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;
use tacker_api::HttpNotificationSink;
use tacker_core::Error;
use tacker_core::model::{
    AuthType, ParamsBasic, ParamsOauth2ClientCredentials, SubscriptionAuthentication,
};
use tacker_core::notify::{NotificationSink, NotificationTarget};
use tokio::sync::mpsc;

/// What a callback received.
#[derive(Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

fn target(address: SocketAddr, path: &str) -> NotificationTarget {
    NotificationTarget {
        subscription_id: "sub-1".to_owned(),
        callback_uri: format!("http://{address}{path}"),
        authentication: None,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn notification() -> serde_json::Value {
    json!({
        "id": "notif-1",
        "notificationType": "VnfLcmOperationOccurrenceNotification",
        "subscriptionId": "sub-1",
        "operationState": "COMPLETED",
    })
}

fn sink() -> HttpNotificationSink {
    HttpNotificationSink::new().expect("a sink with the defaults")
}

/// A callback that reports every request on a channel and answers with the status
/// its path names.
async fn recording_server() -> (SocketAddr, mpsc::UnboundedReceiver<Received>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let record = move |status: StatusCode, answer: &str| {
        let sender = sender.clone();
        let answer = answer.to_owned();
        move |headers: HeaderMap, body: Bytes| {
            let sender = sender.clone();
            let answer = answer.clone();
            async move {
                sender
                    .send(Received { headers, body })
                    .expect("the test listens");
                (status, answer)
            }
        }
    };
    let long_body = "x".repeat(10_000);
    let router = Router::new()
        .route(
            "/callback",
            post(record(StatusCode::NO_CONTENT, "")).get(|| async { StatusCode::NO_CONTENT }),
        )
        .route(
            "/ok200",
            post(record(StatusCode::OK, "{}")).get(|| async { "not 204" }),
        )
        .route(
            "/broken",
            post(record(
                StatusCode::INTERNAL_SERVER_ERROR,
                "boom: database down",
            )),
        )
        .route(
            "/refuses",
            post(record(StatusCode::BAD_REQUEST, "bad notification")),
        )
        .route("/chatty", post(record(StatusCode::BAD_GATEWAY, &long_body)));
    (common::serve(router).await, receiver)
}

#[tokio::test]
async fn delivery_posts_the_json_with_sol013_headers() {
    let (address, mut received) = recording_server().await;
    sink()
        .deliver(&target(address, "/callback"), &notification())
        .await
        .expect("delivered");
    let request = received.recv().await.expect("the callback was called");
    assert_eq!(header(&request.headers, "content-type"), "application/json");
    assert_eq!(header(&request.headers, "accept"), "application/json");
    assert_eq!(header(&request.headers, "version"), "2.0.0");
    assert!(request.headers.get("authorization").is_none());
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(body, notification());

    let packages = HttpNotificationSink::builder()
        .version("2.1.0")
        .build()
        .expect("a sink");
    assert_eq!(packages.version(), "2.1.0");
    packages
        .deliver(&target(address, "/callback"), &notification())
        .await
        .expect("delivered");
    let request = received.recv().await.expect("the callback was called");
    assert_eq!(header(&request.headers, "version"), "2.1.0");
}

#[tokio::test]
async fn any_2xx_is_accepted() {
    let (address, mut received) = recording_server().await;
    sink()
        .deliver(&target(address, "/ok200"), &notification())
        .await
        .expect("200 accepted");
    assert!(received.recv().await.is_some());
}

#[tokio::test]
async fn other_statuses_fail_naming_url_and_status_but_not_the_body() {
    let (address, _received) = recording_server().await;
    let sink = sink();

    let error = sink
        .deliver(&target(address, "/broken"), &notification())
        .await
        .expect_err("500 is a failure");
    let text = error.to_string();
    assert!(text.contains(&format!("http://{address}/broken")), "{text}");
    assert!(text.contains("500"), "{text}");
    assert!(
        !text.contains("boom") && !text.contains("database"),
        "{text}"
    );
    assert!(text.contains("notif-1") && text.contains("sub-1"), "{text}");
    assert!(error.is_retryable(), "a 5xx may pass later: {text}");

    let error = sink
        .deliver(&target(address, "/refuses"), &notification())
        .await
        .expect_err("400 is a failure");
    let text = error.to_string();
    assert!(text.contains("400"), "{text}");
    assert!(!text.contains("bad notification"), "{text}");
    assert!(!error.is_retryable(), "{text}");

    let error = sink
        .deliver(&target(address, "/chatty"), &notification())
        .await
        .expect_err("502 is a failure");
    let text = error.to_string();
    assert!(text.contains("502"), "{text}");
    assert!(text.len() < 500, "no body: {} bytes", text.len());
    assert!(!text.contains("xxx"), "{text}");
}

#[tokio::test]
async fn an_unreachable_callback_is_a_retryable_failure() {
    let address = common::closed_address().await;
    let sink = sink();
    let error = sink
        .deliver(&target(address, "/callback"), &notification())
        .await
        .expect_err("nobody listens");
    let text = error.to_string();
    assert!(error.is_retryable(), "{text}");
    assert!(matches!(error, Error::Driver { .. }), "{text}");
    assert!(
        text.contains(&format!("http://{address}/callback")),
        "{text}"
    );
    assert!(text.contains("connect"), "{text}");

    let error = sink
        .check_callback(&target(address, "/callback"))
        .await
        .expect_err("nobody listens");
    assert!(matches!(error, Error::Unprocessable(_)), "{error}");
    assert!(error.to_string().contains(&address.to_string()), "{error}");
}

#[tokio::test]
async fn a_silent_callback_times_out_retryably() {
    let address = common::serve(
        Router::new().route("/callback", post(futures::future::pending::<StatusCode>)),
    )
    .await;
    let sink = HttpNotificationSink::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .expect("a sink");
    let error = sink
        .deliver(&target(address, "/callback"), &notification())
        .await
        .expect_err("no answer");
    let text = error.to_string();
    assert!(error.is_retryable(), "{text}");
    assert!(
        text.contains(&format!("http://{address}/callback")),
        "{text}"
    );
    assert!(text.contains("300ms"), "{text}");
}

#[tokio::test]
async fn check_callback_wants_204() {
    let (address, _received) = recording_server().await;
    let sink = sink();
    sink.check_callback(&target(address, "/callback"))
        .await
        .expect("204");

    let error = sink
        .check_callback(&target(address, "/missing"))
        .await
        .expect_err("404");
    let text = error.to_string();
    assert!(matches!(error, Error::Unprocessable(_)), "{text}");
    assert!(
        text.contains(&format!("http://{address}/missing")),
        "{text}"
    );
    assert!(text.contains("404"), "{text}");

    let error = sink
        .check_callback(&target(address, "/ok200"))
        .await
        .expect_err("200 is not 204");
    let text = error.to_string();
    assert!(
        text.contains("200") && text.contains("204 was expected"),
        "{text}"
    );
}

#[tokio::test]
async fn unusable_targets_are_refused_up_front() {
    let sink = sink();
    let mut ftp = target(common::closed_address().await, "/callback");
    ftp.callback_uri = "ftp://127.0.0.1/callback".to_owned();
    let error = sink
        .deliver(&ftp, &notification())
        .await
        .expect_err("not http");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error}");

    let mut tls = target(common::closed_address().await, "/callback");
    tls.authentication = Some(SubscriptionAuthentication {
        auth_type: vec![AuthType::TlsCert],
        params_basic: None,
        params_oauth2_client_credentials: None,
    });
    let error = sink
        .check_callback(&tls)
        .await
        .expect_err("TLS_CERT is not supported");
    assert!(matches!(error, Error::NotSupported(_)), "{error}");
    assert!(error.to_string().contains("TLS_CERT"), "{error}");
}

fn basic(user: &str, password: &str) -> Option<SubscriptionAuthentication> {
    Some(SubscriptionAuthentication {
        auth_type: vec![AuthType::Basic],
        params_basic: Some(ParamsBasic {
            user_name: Some(user.to_owned()),
            password: Some(password.to_owned()),
        }),
        params_oauth2_client_credentials: None,
    })
}

#[tokio::test]
async fn basic_credentials_reach_the_callback() {
    async fn guarded(headers: HeaderMap) -> StatusCode {
        // user:s3cret
        if header(&headers, "authorization") == "Basic dXNlcjpzM2NyZXQ=" {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::UNAUTHORIZED
        }
    }
    let address = common::serve(Router::new().route("/callback", get(guarded).post(guarded))).await;
    let sink = sink();
    let mut good = target(address, "/callback");
    good.authentication = basic("user", "s3cret");
    sink.check_callback(&good).await.expect("accepted");
    sink.deliver(&good, &notification())
        .await
        .expect("accepted");

    let mut bad = target(address, "/callback");
    bad.authentication = basic("user", "wrong");
    let error = sink
        .deliver(&bad, &notification())
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("401"), "{error}");
    assert!(!error.is_retryable(), "{error}");

    let error = sink
        .deliver(&target(address, "/callback"), &notification())
        .await
        .expect_err("no credentials");
    assert!(error.to_string().contains("401"), "{error}");
}

/// A token endpoint and a callback that accepts the tokens it issued.
#[derive(Default)]
struct OauthServer {
    token_requests: AtomicUsize,
    refused_tokens: AtomicUsize,
    deliveries: AtomicUsize,
    valid: Mutex<HashSet<String>>,
}

impl OauthServer {
    fn issue(
        &self,
        headers: &HeaderMap,
        form: &Bytes,
        expires_in: u64,
    ) -> axum::response::Response {
        let n = self.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
        // client:c-secret
        let client_ok = header(headers, "authorization") == "Basic Y2xpZW50OmMtc2VjcmV0";
        let form_ok = header(headers, "content-type") == "application/x-www-form-urlencoded"
            && form.as_ref() == b"grant_type=client_credentials";
        if !client_ok || !form_ok {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_client"})),
            )
                .into_response();
        }
        let token = format!("token-{n}");
        self.valid
            .lock()
            .expect("not poisoned")
            .insert(token.clone());
        axum::Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
        }))
        .into_response()
    }

    fn callback(&self, headers: &HeaderMap) -> StatusCode {
        let token = header(headers, "authorization")
            .strip_prefix("Bearer ")
            .unwrap_or_default();
        if self.valid.lock().expect("not poisoned").contains(token) {
            self.deliveries.fetch_add(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT
        } else {
            self.refused_tokens.fetch_add(1, Ordering::SeqCst);
            StatusCode::UNAUTHORIZED
        }
    }

    fn revoke_all(&self) {
        self.valid.lock().expect("not poisoned").clear();
    }
}

async fn oauth_server() -> (SocketAddr, Arc<OauthServer>) {
    let state = Arc::new(OauthServer::default());
    let router = Router::new()
        .route(
            "/token",
            post(
                |State(s): State<Arc<OauthServer>>, headers: HeaderMap, form: Bytes| async move {
                    s.issue(&headers, &form, 3600)
                },
            ),
        )
        .route(
            "/short-token",
            post(
                |State(s): State<Arc<OauthServer>>, headers: HeaderMap, form: Bytes| async move {
                    s.issue(&headers, &form, 0)
                },
            ),
        )
        .route(
            "/callback",
            post(
                |State(s): State<Arc<OauthServer>>, headers: HeaderMap| async move {
                    s.callback(&headers)
                },
            )
            .get(
                |State(s): State<Arc<OauthServer>>, headers: HeaderMap| async move {
                    s.callback(&headers)
                },
            ),
        )
        .with_state(Arc::clone(&state));
    (common::serve(router).await, state)
}

fn oauth_target(address: SocketAddr, token_path: &str, secret: &str) -> NotificationTarget {
    let mut target = target(address, "/callback");
    target.authentication = Some(SubscriptionAuthentication {
        auth_type: vec![AuthType::Oauth2ClientCredentials],
        params_basic: None,
        params_oauth2_client_credentials: Some(ParamsOauth2ClientCredentials {
            client_id: Some("client".to_owned()),
            client_password: Some(secret.to_owned()),
            token_endpoint: Some(format!("http://{address}{token_path}")),
        }),
    });
    target
}

#[tokio::test]
async fn oauth2_tokens_are_cached_and_renewed_after_a_401() {
    let (address, server) = oauth_server().await;
    let sink = sink();
    let target = oauth_target(address, "/token", "c-secret");

    sink.check_callback(&target)
        .await
        .expect("callback answers");
    for _ in 0..3 {
        sink.deliver(&target, &notification())
            .await
            .expect("delivered");
    }
    assert_eq!(
        server.token_requests.load(Ordering::SeqCst),
        1,
        "one token, reused"
    );
    assert_eq!(server.deliveries.load(Ordering::SeqCst), 4);
    assert_eq!(server.refused_tokens.load(Ordering::SeqCst), 0);

    server.revoke_all();
    sink.deliver(&target, &notification())
        .await
        .expect("delivered with a new token");
    assert_eq!(
        server.refused_tokens.load(Ordering::SeqCst),
        1,
        "the old token was tried"
    );
    assert_eq!(
        server.token_requests.load(Ordering::SeqCst),
        2,
        "then a new one fetched"
    );
    assert_eq!(server.deliveries.load(Ordering::SeqCst), 5);

    sink.deliver(&target, &notification())
        .await
        .expect("delivered");
    assert_eq!(
        server.token_requests.load(Ordering::SeqCst),
        2,
        "the new token is cached"
    );
}

#[tokio::test]
async fn oauth2_tokens_without_lifetime_left_are_not_reused() {
    let (address, server) = oauth_server().await;
    let sink = sink();
    let target = oauth_target(address, "/short-token", "c-secret");
    for _ in 0..2 {
        sink.deliver(&target, &notification())
            .await
            .expect("delivered");
    }
    assert_eq!(server.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(server.deliveries.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn oauth2_wrong_client_credentials_name_the_token_endpoint() {
    let (address, server) = oauth_server().await;
    let error = sink()
        .deliver(&oauth_target(address, "/token", "wrong"), &notification())
        .await
        .expect_err("no token");
    let text = error.to_string();
    assert!(text.contains(&format!("http://{address}/token")), "{text}");
    assert!(
        text.contains("401") && text.contains("invalid_client"),
        "{text}"
    );
    assert!(!error.is_retryable(), "{text}");
    assert_eq!(server.deliveries.load(Ordering::SeqCst), 0);
    assert_eq!(server.refused_tokens.load(Ordering::SeqCst), 0);
}
