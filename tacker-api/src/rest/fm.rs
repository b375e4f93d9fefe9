//! `/vnffm/v1`: SOL003/SOL002 VNF fault management (alarms, FM subscriptions).

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use tacker_core::model::{AlarmModifications, FmSubscriptionRequest};

use super::sol013::{
    ApiResult, EtsiJson, FilterOnly, api_versions, json_response, located, page_response,
    subscription_json, subscription_view, unsupported_content,
};
use super::{AppState, Caller, VNFFM_VERSION};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api_versions", get(versions))
        .route("/alarms", get(list_alarms))
        .route("/alarms/{id}", get(show_alarm).patch(modify_alarm))
        .route(
            "/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/subscriptions/{id}",
            get(show_subscription).delete(delete_subscription),
        )
}

async fn versions(State(state): State<AppState>) -> ApiResult<Response> {
    json_response(
        StatusCode::OK,
        &api_versions(&state.uri("/vnffm/v1"), VNFFM_VERSION),
    )
}

async fn list_alarms(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    FilterOnly(params): FilterOnly,
) -> ApiResult<Response> {
    let page = state.lcm().alarms(caller.tenant(), &params.query()).await?;
    page_response(page, &state.config().api_root, &uri, |value| value)
}

async fn show_alarm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let alarm = state.lcm().alarm(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &alarm)
}

async fn modify_alarm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    EtsiJson(request): EtsiJson<AlarmModifications>,
) -> ApiResult<Response> {
    let changed = state
        .lcm()
        .modify_alarm(caller.tenant(), &id, request)
        .await?;
    json_response(StatusCode::OK, &changed)
}

async fn create_subscription(
    State(state): State<AppState>,
    caller: Caller,
    EtsiJson(request): EtsiJson<FmSubscriptionRequest>,
) -> ApiResult<Response> {
    let subscription = state
        .lcm()
        .fm_subscribe(caller.tenant(), request)
        .await
        .map_err(unsupported_content)?;
    located(
        StatusCode::CREATED,
        &state.uri(&format!("/vnffm/v1/subscriptions/{}", subscription.id)),
        &subscription_json(&subscription)?,
    )
}

async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    FilterOnly(params): FilterOnly,
) -> ApiResult<Response> {
    let page = state
        .lcm()
        .fm_subscriptions_page(caller.tenant(), &params.query())
        .await?;
    page_response(page, &state.config().api_root, &uri, subscription_view)
}

async fn show_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let subscription = state.lcm().fm_subscription(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &subscription_json(&subscription)?)
}

async fn delete_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.lcm().fm_unsubscribe(caller.tenant(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
