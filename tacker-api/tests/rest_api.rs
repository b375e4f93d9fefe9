//! The router as a whole: the OpenAPI document matches what is routed, the VIM
//! registry never returns credentials, and the SOL013 rules hold on the LCM API.

mod support;

use support::{call, is_problem};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tacker_api::ApiConfig;
use tacker_core::sim::SIM_VIM_TYPE;
use tower::ServiceExt;

fn router() -> Router {
    support::api(ApiConfig::default()).0
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_what_is_routed() {
    let router = router();
    let document = call(&router, Method::GET, "/openapi.json", None).await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body["openapi"], "3.0.3");
    let paths = document.body["paths"].as_object().expect("paths");
    assert!(paths.len() > 40, "{}", paths.len());
    for (path, item) in paths {
        for method in item.as_object().expect("operations").keys() {
            let uri = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "00000000-0000-0000-0000-000000000000"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            let answer = call(&router, method.clone(), &uri, None).await;
            // Routed: whatever the answer, it is not the fallback of unknown paths or
            // methods.
            let detail = answer.body["detail"].as_str().unwrap_or_default();
            assert!(
                !detail.contains("no resource of this server has this path")
                    && answer.status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri} is documented but not routed: {} {detail}",
                answer.status
            );
        }
    }
    // And the reverse for a few routes an operator relies on.
    for path in [
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/scale_to_level",
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/package_content",
        "/vims/default",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from the document"
        );
    }
}

#[tokio::test]
async fn the_vim_registry_takes_credentials_and_never_returns_them() {
    let router = router();
    let registered = call(
        &router,
        Method::POST,
        "/vims",
        Some(json!({
            "name": "edge-1",
            "vimType": SIM_VIM_TYPE,
            "interfaceInfo": {"endpoint": "https://edge-1.example:5000/v3"},
            "accessInfo": {"region": "edge", "password": "s3cret"},
            "isDefault": true,
        })),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.body
    );
    let id = registered.body["id"].as_str().expect("id").to_owned();
    assert!(
        registered
            .location
            .as_deref()
            .is_some_and(|l| l.ends_with(&format!("/vims/{id}")))
    );
    for answer in [
        registered,
        call(&router, Method::GET, &format!("/vims/{id}"), None).await,
        call(&router, Method::GET, "/vims", None).await,
        call(&router, Method::GET, "/vims/default", None).await,
    ] {
        assert!(answer.status.is_success(), "{:?}", answer.body);
        let text = answer.body.to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("accessInfo"),
            "{text}"
        );
    }

    let duplicate = call(
        &router,
        Method::POST,
        "/vims",
        Some(json!({"name": "edge-1", "vimType": SIM_VIM_TYPE})),
    )
    .await;
    is_problem(&duplicate, StatusCode::CONFLICT, "edge-1");
    let no_type = call(&router, Method::POST, "/vims", Some(json!({"name": "x"}))).await;
    is_problem(&no_type, StatusCode::BAD_REQUEST, "vimType");

    let renamed = call(
        &router,
        Method::PATCH,
        &format!("/vims/{id}"),
        Some(json!({"name": "edge-one"})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "edge-one");
    let filtered = call(
        &router,
        Method::GET,
        "/vims?filter=(eq,name,edge-one)",
        None,
    )
    .await;
    assert_eq!(filtered.body.as_array().map(Vec::len), Some(1));

    let deleted = call(&router, Method::DELETE, &format!("/vims/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = call(&router, Method::GET, &format!("/vims/{id}"), None).await;
    is_problem(&gone, StatusCode::NOT_FOUND, &id);
    let no_default = call(&router, Method::GET, "/vims/default", None).await;
    is_problem(&no_default, StatusCode::NOT_FOUND, "default VIM");
}

#[tokio::test]
async fn the_lcm_api_follows_sol013_on_errors() {
    let router = router();
    let unknown = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances/nope/instantiate",
        Some(json!({"flavourId": "simple"})),
    )
    .await;
    is_problem(&unknown, StatusCode::NOT_FOUND, "nope");

    let no_package = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances",
        Some(json!({"vnfdId": "not-onboarded"})),
    )
    .await;
    assert!(no_package.status.is_client_error(), "{:?}", no_package.body);
    assert_eq!(no_package.content_type, "application/problem+json");

    let missing_field = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances/x/scale",
        Some(json!({"type": "SCALE_OUT"})),
    )
    .await;
    is_problem(&missing_field, StatusCode::BAD_REQUEST, "aspectId");
    let wrong_enum = call(
        &router,
        Method::POST,
        "/vnflcm/v2/vnf_instances/x/terminate",
        Some(json!({"terminationType": "SOON"})),
    )
    .await;
    is_problem(&wrong_enum, StatusCode::BAD_REQUEST, "terminationType");

    let typo = call(
        &router,
        Method::GET,
        "/vnflcm/v2/vnf_instances?exclude_defaults",
        None,
    )
    .await;
    is_problem(&typo, StatusCode::BAD_REQUEST, "exclude_defaults");
    let subscriptions = call(
        &router,
        Method::GET,
        "/vnflcm/v2/subscriptions?all_fields",
        None,
    )
    .await;
    is_problem(&subscriptions, StatusCode::BAD_REQUEST, "all_fields");

    let not_allowed = call(&router, Method::PUT, "/vnflcm/v2/vnf_instances", None).await;
    is_problem(&not_allowed, StatusCode::METHOD_NOT_ALLOWED, "method");
    let nowhere = call(&router, Method::GET, "/vnflcm/v2/nowhere", None).await;
    is_problem(&nowhere, StatusCode::NOT_FOUND, "path");

    let future = Request::builder()
        .uri("/vnflcm/v2/vnf_instances")
        .header("Version", "2.9.0")
        .body(Body::empty())
        .expect("request");
    let answer = router.clone().oneshot(future).await.expect("answer");
    assert_eq!(answer.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        answer
            .headers()
            .get("version")
            .and_then(|v| v.to_str().ok()),
        Some("2.3.0")
    );

    let no_version = Request::builder()
        .uri("/vnflcm/v2/api_versions")
        .body(Body::empty())
        .expect("request");
    let answer = router.clone().oneshot(no_version).await.expect("answer");
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "api_versions needs no Version"
    );
    let lookalike = Request::builder()
        .uri("/vnflcm/v2/vnf_instances/api_versions")
        .body(Body::empty())
        .expect("request");
    let answer = router.clone().oneshot(lookalike).await.expect("answer");
    assert_eq!(
        answer.status(),
        StatusCode::BAD_REQUEST,
        "only api_versions itself is exempt"
    );

    let text_body = Request::builder()
        .method(Method::POST)
        .uri("/vnflcm/v2/vnf_instances")
        .header("Version", "2.3.0")
        .header("Content-Type", "text/plain")
        .body(Body::from("vnfdId=x"))
        .expect("request");
    let answer = router.clone().oneshot(text_body).await.expect("answer");
    assert_eq!(answer.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn lists_are_paged_by_the_configured_size_and_the_last_page_links_nowhere() {
    let router = support::api(ApiConfig::default().with_page_size(2)).0;
    for name in ["vim-a", "vim-b", "vim-c", "vim-d"] {
        let created = call(
            &router,
            Method::POST,
            "/vims",
            Some(json!({"name": name, "vimType": SIM_VIM_TYPE})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    let mut names = Vec::new();
    let mut uri = "/vims".to_owned();
    let mut pages = 0;
    loop {
        let page = call(&router, Method::GET, &uri, None).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let items = page.body.as_array().expect("a page");
        assert!(items.len() <= 2, "{items:?}");
        names.extend(
            items
                .iter()
                .filter_map(|v| v["name"].as_str().map(str::to_owned)),
        );
        pages += 1;
        let Some(link) = page.link else {
            break;
        };
        let next = link
            .split_once("/vims")
            .and_then(|(_, rest)| rest.split_once(">;"))
            .map(|(rest, _)| format!("/vims{rest}"))
            .expect("a link to the next page");
        uri = next;
        assert!(pages < 5, "paging ends");
    }
    names.sort();
    assert_eq!(names, ["vim-a", "vim-b", "vim-c", "vim-d"]);
    assert_eq!(pages, 2, "two full pages, the last without a next link");
}
