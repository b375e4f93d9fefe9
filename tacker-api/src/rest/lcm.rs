//! `/vnflcm/v2`: SOL003/SOL002 VNF lifecycle management.

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use tacker_core::model::{
    CancelMode, ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest,
    ChangeVnfFlavourRequest, CreateVnfRequest, HealVnfRequest, InstantiateVnfRequest,
    OperateVnfRequest, ScaleVnfRequest, ScaleVnfToLevelRequest, TerminateVnfRequest,
    VnfInfoModificationRequest, VnfLcmOpOcc,
};

use super::sol013::{
    ApiError, ApiResult, EtsiJson, Listing, Selector, accepted, api_versions, json_response,
    located, page_response, summary_page_response,
};
use super::subscriptions::{self, Plain};
use super::{AppState, Caller, VNFLCM_VERSION};
use axum::Extension;
use tacker_core::model::redact_credentials;
use tacker_core::store::LccnSubscriptionRecord;

/// The complex attributes of `VnfInstance` left out of lists by default.
pub(crate) const INSTANCE_COMPLEX: &[&str] = tacker_core::store::VNF_INSTANCE_COMPLEX;

/// The complex attributes of `VnfLcmOpOcc` left out of lists by default.
pub(crate) const OP_COMPLEX: &[&str] = tacker_core::store::VNF_LCM_OP_OCC_COMPLEX;

pub(crate) fn routes() -> Router<AppState> {
    let router = Router::new()
        .route("/api_versions", get(versions))
        .route("/vnf_instances", get(list_instances).post(create_instance))
        .route(
            "/vnf_instances/{id}",
            get(show_instance).patch(modify).delete(delete_instance),
        )
        .route("/vnf_instances/{id}/instantiate", post(instantiate))
        .route("/vnf_instances/{id}/terminate", post(terminate))
        .route("/vnf_instances/{id}/scale", post(scale))
        .route("/vnf_instances/{id}/scale_to_level", post(scale_to_level))
        .route("/vnf_instances/{id}/heal", post(heal))
        .route("/vnf_instances/{id}/change_flavour", post(change_flavour))
        .route("/vnf_instances/{id}/operate", post(operate))
        .route("/vnf_instances/{id}/change_ext_conn", post(change_ext_conn))
        .route("/vnf_instances/{id}/change_vnfpkg", post(change_vnfpkg))
        .route("/vnf_lcm_op_occs", get(list_ops))
        .route("/vnf_lcm_op_occs/{id}", get(show_op))
        .route("/vnf_lcm_op_occs/{id}/retry", post(retry))
        .route("/vnf_lcm_op_occs/{id}/rollback", post(rollback))
        .route("/vnf_lcm_op_occs/{id}/fail", post(fail))
        .route("/vnf_lcm_op_occs/{id}/cancel", post(cancel));
    subscriptions::routes::<LccnSubscriptionRecord, Plain>(router)
        .layer(Extension(Plain("/vnflcm/v2")))
}

async fn versions(State(state): State<AppState>) -> ApiResult<Response> {
    json_response(
        StatusCode::OK,
        &api_versions(&state.uri("/vnflcm/v2"), VNFLCM_VERSION),
    )
}

fn redacted<T: serde::Serialize>(value: &T) -> ApiResult<Value> {
    let mut value = serde_json::to_value(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    redact_credentials(&mut value);
    Ok(value)
}

fn instance_path(id: &str) -> String {
    format!("/vnflcm/v2/vnf_instances/{id}")
}

fn op_path(id: &str) -> String {
    format!("/vnflcm/v2/vnf_lcm_op_occs/{id}")
}

// ----- VNF instances -------------------------------------------------------------------

async fn create_instance(
    State(state): State<AppState>,
    caller: Caller,
    EtsiJson(request): EtsiJson<CreateVnfRequest>,
) -> ApiResult<Response> {
    let instance = state.lcm().create_vnf(caller.tenant(), request).await?;
    located(
        StatusCode::CREATED,
        &state.uri(&instance_path(&instance.id)),
        &redacted(&instance)?,
    )
}

async fn list_instances(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Listing(params): Listing,
) -> ApiResult<Response> {
    let query = params.query(state.config().page_size);
    if params.selector == Selector::Default {
        let page = state
            .lcm()
            .instance_summaries(caller.tenant(), &query)
            .await?;
        return summary_page_response(page, &state.config().api_root, &uri);
    }
    let page = state.lcm().instances(caller.tenant(), &query).await?;
    page_response(page, &state.config().api_root, &uri, |mut value| {
        params.selector.apply(&mut value, INSTANCE_COMPLEX);
        redact_credentials(&mut value);
        value
    })
}

async fn show_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let instance = state.lcm().instance_versioned(caller.tenant(), &id).await?;
    let mut response = json_response(StatusCode::OK, &redacted(&instance.value)?)?;
    if let Ok(etag) = HeaderValue::from_str(&entity_tag(instance.version)) {
        response.headers_mut().insert(ETAG, etag);
    }
    Ok(response)
}

/// The entity tag of a resource at `version`.
fn entity_tag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header allows (SOL003 PATCH): `None` without the header or
/// with `*`; 412 when it names no version this VNFM issued.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    // One entity tag: the one GET sent. A list or a weak tag never matches.
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "If-Match does not name the entity tag (ETag) of this VNF instance; read it again",
            )
        })
}

async fn delete_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .lcm()
        .delete_vnf(caller.tenant(), &id)
        .await
        .map_err(|e| ApiError::from(e).without_422())?;
    Ok(StatusCode::NO_CONTENT)
}

async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    EtsiJson(request): EtsiJson<VnfInfoModificationRequest>,
) -> ApiResult<Response> {
    let lcm = state.lcm();
    // SOL003 documents no 422 for PATCH: a modification that cannot be processed is
    // a 400 (SOL013 6.4).
    let op = match if_match(&headers)? {
        Some(version) => lcm
            .modify_info_if_match(caller.tenant(), &id, request, version)
            .await
            .map_err(|e| ApiError::from(e).without_422())?,
        None => lcm
            .modify_info(caller.tenant(), &id, request)
            .await
            .map_err(|e| ApiError::from(e).without_422())?,
    };
    task_accepted(&state, &op)
}

fn task_accepted(state: &AppState, op: &VnfLcmOpOcc) -> ApiResult<Response> {
    accepted(&state.uri(&op_path(&op.id)))
}

macro_rules! task {
    ($name:ident, $request:ty, $method:ident) => {
        async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<String>,
            EtsiJson(request): EtsiJson<$request>,
        ) -> ApiResult<Response> {
            // SOL003 documents no 422 for the tasks: a request that names what the
            // VNF does not have (an aspect, a flavour, a level, an external CP, a
            // package) is a 400 (SOL013 6.4), as are the request's own errors.
            let op = state
                .lcm()
                .$method(caller.tenant(), &id, request)
                .await
                .map_err(|e| ApiError::from(e).without_422())?;
            task_accepted(&state, &op)
        }
    };
}

task!(instantiate, InstantiateVnfRequest, instantiate);
task!(terminate, TerminateVnfRequest, terminate);
task!(scale, ScaleVnfRequest, scale);
task!(scale_to_level, ScaleVnfToLevelRequest, scale_to_level);
task!(heal, HealVnfRequest, heal);
task!(change_flavour, ChangeVnfFlavourRequest, change_flavour);
task!(operate, OperateVnfRequest, operate);
task!(
    change_ext_conn,
    ChangeExtVnfConnectivityRequest,
    change_ext_conn
);
task!(change_vnfpkg, ChangeCurrentVnfPkgRequest, change_vnfpkg);

// ----- Operation occurrences -----------------------------------------------------------

async fn list_ops(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Listing(params): Listing,
) -> ApiResult<Response> {
    let query = params.query(state.config().page_size);
    if params.selector == Selector::Default {
        let page = state
            .lcm()
            .op_occ_summaries(caller.tenant(), &query)
            .await?;
        return summary_page_response(page, &state.config().api_root, &uri);
    }
    let page = state.lcm().op_occs(caller.tenant(), &query).await?;
    page_response(page, &state.config().api_root, &uri, |mut value| {
        params.selector.apply(&mut value, OP_COMPLEX);
        redact_credentials(&mut value);
        value
    })
}

async fn show_op(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let op = state.lcm().op_occ(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &redacted(&op)?)
}

async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let op = state
        .lcm()
        .retry(caller.tenant(), &id)
        .await
        .map_err(|e| ApiError::from(e).without_422())?;
    task_accepted(&state, &op)
}

async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let op = state
        .lcm()
        .rollback(caller.tenant(), &id)
        .await
        .map_err(|e| ApiError::from(e).without_422())?;
    task_accepted(&state, &op)
}

async fn fail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let op = state
        .lcm()
        .fail(caller.tenant(), &id)
        .await
        .map_err(|e| ApiError::from(e).without_422())?;
    json_response(StatusCode::OK, &redacted(&op)?)
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    EtsiJson(request): EtsiJson<CancelMode>,
) -> ApiResult<Response> {
    let op = state
        .lcm()
        .cancel(caller.tenant(), &id, request.cancel_mode)
        .await
        .map_err(|e| ApiError::from(e).without_422())?;
    task_accepted(&state, &op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn access_info_is_removed_wherever_vim_connection_info_sits() {
        let mut op = json!({
            "operationParams": {"vimConnectionInfo": {"vim1": {"vimType": "x", "accessInfo": {"password": "p"}}}},
            "changedInfo": {"vimConnectionInfo": {"vim1": {"vimId": "v", "accessInfo": {"token": "t"}}}},
            "vimConnectionInfo": {"a": {"accessInfo": {}, "vimId": "v"}},
        });
        redact_credentials(&mut op);
        assert!(!op.to_string().contains("accessInfo"), "{op}");
        assert_eq!(op["changedInfo"]["vimConnectionInfo"]["vim1"]["vimId"], "v");
        let mut op = json!({"operationParams": {"additionalParams": {"k8s_cluster_installation_param": {
            "master_node": {"username": "ubuntu", "password": "p", "private_key": "k"}}}}});
        redact_credentials(&mut op);
        assert_eq!(
            op["operationParams"]["additionalParams"]["k8s_cluster_installation_param"]["master_node"],
            json!({"username": "ubuntu"})
        );
    }
}
