//! `/vims`: the VIM registry. Credentials are accepted on write and never returned.

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use tacker_core::vim::{VimRegistration, VimUpdate};

use super::sol013::{
    ApiError, ApiResult, FilterOnly, PlainJson, api_versions, json_response, located, page_response,
};
use super::{AppState, Caller, VIMS_VERSION};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api_versions", get(versions))
        .route("/", get(list).post(register))
        .route("/default", get(show_default))
        .route("/{id}", get(show).patch(update).delete(remove))
}

async fn versions(State(state): State<AppState>) -> ApiResult<Response> {
    json_response(
        StatusCode::OK,
        &api_versions(&state.uri("/vims"), VIMS_VERSION),
    )
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    PlainJson(registration): PlainJson<VimRegistration>,
) -> ApiResult<Response> {
    if registration.name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "request body: name: must not be empty",
        ));
    }
    if registration.vim_type.trim().is_empty() {
        return Err(ApiError::bad_request(
            "request body: vimType: must not be empty",
        ));
    }
    let vim = state.vims().register(caller.tenant(), registration).await?;
    located(
        StatusCode::CREATED,
        &state.uri(&format!("/vims/{}", vim.id)),
        &vim,
    )
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    FilterOnly(params): FilterOnly,
) -> ApiResult<Response> {
    let page = state
        .vims()
        .list(caller.tenant(), &params.query(state.config().page_size))
        .await?;
    page_response(page, &state.config().api_root, &uri, |value| value)
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let vim = state.vims().get(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &vim)
}

async fn show_default(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    match state.vims().default_vim(caller.tenant()).await? {
        Some((id, _)) => {
            let vim = state.vims().get(caller.tenant(), &id).await?;
            json_response(StatusCode::OK, &vim)
        }
        None => Err(ApiError::not_found("the tenant has no default VIM")),
    }
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    PlainJson(update): PlainJson<VimUpdate>,
) -> ApiResult<Response> {
    let vim = state.vims().update(caller.tenant(), &id, update).await?;
    json_response(StatusCode::OK, &vim)
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.vims().delete(caller.tenant(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
