//! `/vnffm/v1`: SOL003/SOL002 VNF fault management (alarms, FM subscriptions).

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use tacker_core::model::AlarmModifications;

use super::sol013::{ApiResult, EtsiJson, FilterOnly, api_versions, json_response, page_response};
use super::subscriptions::{self, Plain};
use super::{AppState, Caller, VNFFM_VERSION};
use axum::Extension;
use tacker_core::store::FmSubscriptionRecord;

pub(crate) fn routes() -> Router<AppState> {
    let router = Router::new()
        .route("/api_versions", get(versions))
        .route("/alarms", get(list_alarms))
        .route("/alarms/{id}", get(show_alarm).patch(modify_alarm));
    subscriptions::routes::<FmSubscriptionRecord, Plain>(router)
        .layer(Extension(Plain("/vnffm/v1")))
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
    let page = state
        .fm()
        .alarms(caller.tenant(), &params.query(state.config().page_size))
        .await?;
    page_response(page, &state.config().api_root, &uri, |value| value)
}

async fn show_alarm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let alarm = state.fm().alarm(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &alarm)
}

async fn modify_alarm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    EtsiJson(request): EtsiJson<AlarmModifications>,
) -> ApiResult<Response> {
    let changed = state
        .fm()
        .modify_alarm(caller.tenant(), &id, request)
        .await?;
    json_response(StatusCode::OK, &changed)
}
