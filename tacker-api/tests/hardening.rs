//! Input that once knocked the server over or past its limits: each is answered by a
//! ProblemDetails naming what is wrong, never a panic, a dropped connection or a 5xx.

mod support;

use support::{call, is_problem as problem};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use tacker_api::ApiConfig;
use tacker_api::rest::guard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Serves `router` through the server's own `serve` and sends `raw` as one HTTP/1.1
/// request; returns the whole answer as text.
async fn raw_exchange(router: Router, raw: &[u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tacker_api::serve::serve(
        listener,
        router,
        None,
        async move {
            let _ = stopped.await;
        },
        std::time::Duration::from_secs(1),
    ));
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(raw).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let _ = stop.send(());
    let _ = server.await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_filter_with_unicode_whitespace_is_refused_not_a_panic() {
    let (router, _) = support::api(ApiConfig::default());
    // Unicode whitespace around terms is whitespace.
    let answer = call(
        &router,
        Method::GET,
        "/vnflcm/v2/vnf_lcm_op_occs?filter=%C2%85(eq,id,x)%E3%80%80",
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    for filter in ["%C2%85", "%C2%85%C2%85x", "(eq,id,x)%E3%80%80%C2%85x"] {
        let answer = call(
            &router,
            Method::GET,
            &format!("/vnflcm/v2/vnf_lcm_op_occs?filter={filter}"),
            None,
        )
        .await;
        problem(&answer, StatusCode::BAD_REQUEST, "filter");
    }
    // Over a real connection: an answer, not an empty reply.
    let answer = raw_exchange(
        router,
        b"GET /vnflcm/v2/vnf_lcm_op_occs?filter=%C2%85%C2%85 HTTP/1.1\r\nHost: x\r\nVersion: 2.3.0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_problem_details_and_keeps_serving() {
    let router = Router::new()
        .route(
            "/boom",
            get(|| async {
                let empty: Vec<u8> = Vec::new();
                // An out-of-bounds index, as a parser bug would make.
                format!("{}", empty[usize::from(empty.is_empty())])
            }),
        )
        .route("/fine", get(|| async { "fine" }))
        .layer(axum::middleware::from_fn(guard::guard));
    let answer = call(&router, Method::GET, "/boom", None).await;
    problem(&answer, StatusCode::INTERNAL_SERVER_ERROR, "incident");
    let answer = raw_exchange(
        router,
        b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(
        answer.contains("\r\n\r\nfine") || answer.ends_with("fine"),
        "the connection serves the next request: {answer}"
    );
}

#[tokio::test]
async fn header_names_go_out_in_their_canonical_capitalisation() {
    let (router, _) = support::api(ApiConfig::default());
    let answer = raw_exchange(
        router,
        b"POST /vnflcm/v2/vnf_instances HTTP/1.1\r\nHost: x\r\nVersion: 2.3.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    assert!(answer.contains("\r\nContent-Type: "), "{answer}");
    assert!(answer.contains("\r\nVersion: "), "{answer}");
    assert!(!answer.contains("\r\ncontent-type: "), "{answer}");
}

#[tokio::test]
async fn long_targets_big_headers_nul_and_bad_utf8_are_problem_details() {
    let (router, _) = support::api(ApiConfig::default());
    let long = format!(
        "/vnflcm/v2/vnf_instances?filter=(eq,id,{})",
        "x".repeat(guard::MAX_URI_BYTES)
    );
    problem(
        &call(&router, Method::GET, &long, None).await,
        StatusCode::URI_TOO_LONG,
        "request target",
    );
    let mut request = Request::builder()
        .uri("/vnflcm/v2/vnf_instances")
        .header("Version", "2.3.0");
    for i in 0..20 {
        request = request.header(format!("x-padding-{i}"), "p".repeat(4000));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    problem(
        &call(&router, Method::GET, "/vnflcm/v2/vnf_instances/a%00b", None).await,
        StatusCode::BAD_REQUEST,
        "NUL",
    );
    problem(
        &call(
            &router,
            Method::GET,
            "/vnfpkgm/v2/vnf_packages/x/artifacts/%FF%FE",
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "UTF-8",
    );
}

#[tokio::test]
async fn bodies_and_filters_past_their_limits_are_refused_naming_the_field() {
    let (router, _) = support::api(ApiConfig::default());
    let create = |body: Value| {
        call(
            &router,
            Method::POST,
            "/vnflcm/v2/vnf_instances",
            Some(body),
        )
    };
    problem(
        &create(json!({"vnfdId": "x", "vnfInstanceName": "a\u{0}b"})).await,
        StatusCode::BAD_REQUEST,
        "vnfInstanceName",
    );
    problem(
        &create(json!({"vnfdId": "x", "vnfInstanceDescription": "d".repeat(1_900_000)})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "at most",
    );
    problem(
        &create(json!({"vnfdId": "x", "vnfInstanceDescription": "d".repeat(100_000)})).await,
        StatusCode::BAD_REQUEST,
        "vnfInstanceDescription",
    );
    let metadata: serde_json::Map<String, Value> = (0..3000)
        .map(|i| (format!("k{i}"), json!("value-value-value-value")))
        .collect();
    problem(
        &create(json!({"vnfdId": "x", "metadata": metadata})).await,
        StatusCode::BAD_REQUEST,
        "metadata",
    );
    let terms = vec!["(eq,vnfInstanceName,x)"; 200].join(";");
    problem(
        &call(
            &router,
            Method::GET,
            &format!("/vnflcm/v2/vnf_instances?filter={terms}"),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "at most 64",
    );
}

#[tokio::test]
async fn api_versions_without_a_major_version_name_the_versioned_prefix() {
    let (router, _) = support::api(ApiConfig::default());
    for (path, prefix) in [
        ("/vnflcm/api_versions", "/vnflcm/v2"),
        ("/vnfpkgm/api_versions", "/vnfpkgm/v2"),
        ("/vnffm/api_versions", "/vnffm/v1"),
        ("/vnflcm/v2/api_versions", "/vnflcm/v2"),
        ("/vnffm/v1/api_versions", "/vnffm/v1"),
    ] {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("json");
        let uri_prefix = body["uriPrefix"].as_str().unwrap_or_default();
        assert!(uri_prefix.ends_with(prefix), "{path}: {body}");
        assert!(
            body["apiVersions"][0]["version"].is_string(),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn unknown_attribute_names_in_filters_and_selectors_are_400() {
    let (router, _) = support::api(ApiConfig::default());
    for (query, unknown) in [
        ("filter=(eq,vnfInstanceNam,x)", "vnfInstanceNam"),
        (
            "fields=instantiatedVnfInfo/flavourID",
            "instantiatedVnfInfo/flavourID",
        ),
        ("exclude_fields=nonsense", "nonsense"),
    ] {
        problem(
            &call(
                &router,
                Method::GET,
                &format!("/vnflcm/v2/vnf_instances?{query}"),
                None,
            )
            .await,
            StatusCode::BAD_REQUEST,
            unknown,
        );
    }
    for query in [
        "filter=(eq,vnfInstanceName,x)",
        "filter=(eq,metadata/any/key,x)",
        "fields=instantiatedVnfInfo/vnfcResourceInfo",
    ] {
        let answer = call(
            &router,
            Method::GET,
            &format!("/vnflcm/v2/vnf_instances?{query}"),
            None,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {:?}", answer.body);
    }
    problem(
        &call(
            &router,
            Method::GET,
            "/vnflcm/v2/vnf_lcm_op_occs?filter=(eq,operationStat,STARTING)",
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VnfLcmOpOcc has no attribute 'operationStat'",
    );
}

#[tokio::test]
async fn patch_honours_if_match_with_the_etag_of_get() {
    let (router, packages) = support::api(ApiConfig::default());
    let tenant = tacker_core::TenantId::default();
    let package = packages
        .create(&tenant, Default::default())
        .await
        .expect("package");
    packages
        .upload_content(&tenant, &package.id, support::package_zip())
        .await
        .expect("onboard");
    let created = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(json!({"vnfdId": support::VNFD_ID})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let path = format!(
        "/vnflcm/v2/vnf_instances/{}",
        created.body["id"].as_str().unwrap_or_default()
    );
    let response = router
        .clone()
        .oneshot(
            Request::get(&path)
                .header("Version", "2.3.0")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .to_owned();
    let patch = |if_match: &str| {
        router.clone().oneshot(
            Request::patch(&path)
                .header("Version", "2.3.0")
                .header("Content-Type", "application/merge-patch+json")
                .header("If-Match", if_match)
                .body(Body::from(r#"{"vnfInstanceName":"renamed"}"#))
                .expect("request"),
        )
    };
    for stale in ["\"999\"", "W/\"1\"", "garbage"] {
        let response = patch(stale).await.expect("answer");
        assert_eq!(
            response.status(),
            StatusCode::PRECONDITION_FAILED,
            "{stale}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let response = patch(&etag).await.expect("answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn callback_user_information_is_never_echoed() {
    let (router, _) = support::api(ApiConfig::default());
    let created = call(
        &router,
        Method::POST,
        "/vnflcm/v2/subscriptions",
        Some(json!({"callbackUri": "http://receiver:s3cret-token@127.0.0.1:9/cb"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let shown = call(
        &router,
        Method::GET,
        &format!("/vnflcm/v2/subscriptions/{id}"),
        None,
    )
    .await;
    let listed = call(&router, Method::GET, "/vnflcm/v2/subscriptions", None).await;
    for answer in [&created.body, &shown.body, &listed.body[0]] {
        let uri = answer["callbackUri"].as_str().unwrap_or_default();
        assert_eq!(uri, "http://***@127.0.0.1:9/cb", "{answer}");
    }
}

#[tokio::test]
async fn null_attributes_and_non_object_bodies_of_etsi_requests_are_400() {
    let (router, _) = support::api(ApiConfig::default());
    // An attribute sent as null names no value of its type (no ETSI schema is nullable).
    let answer = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(json!({"vnfdId": "x", "vnfInstanceName": null})),
    )
    .await;
    problem(&answer, StatusCode::BAD_REQUEST, "vnfInstanceName: null");
    // Nested too, naming the path.
    let answer = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances/some-id/heal",
        Some(json!({"cause": null})),
    )
    .await;
    problem(&answer, StatusCode::BAD_REQUEST, "cause: null");
    // Inside a free-form key-value attribute a null is a value like any other: the
    // request goes on (and meets the unknown VNFD).
    let answer = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(json!({"vnfdId": "no-such-vnfd", "metadata": {"a": null}})),
    )
    .await;
    assert_ne!(answer.status, StatusCode::BAD_REQUEST, "{:?}", answer.body);
    // A body that is no object, which serde would read a struct from.
    let answer = call(
        &router,
        Method::POST,
        "/vnfpkgm/v2/vnf_packages",
        Some(json!([])),
    )
    .await;
    problem(&answer, StatusCode::BAD_REQUEST, "not a JSON object");
}
