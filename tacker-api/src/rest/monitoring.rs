//! `/monitoring/v1`: the webhook that Prometheus Alertmanager posts alerts to.
//!
//! `POST /monitoring/v1/alertmanager` takes an Alertmanager webhook payload (version 4)
//! on behalf of the caller's tenant: alerts labelled with a watched VNF instance become
//! health events (FM alarms, automatic healing), alerts that name a scaling aspect and
//! direction go to the auto-scale policy. The answer counts what was done.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use tacker_core::monitor::AlertmanagerPayload;

use super::sol013::{ApiError, ApiResult, PlainJson, json_response};
use super::{AppState, Caller};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/alertmanager", post(alertmanager))
}

async fn alertmanager(
    State(state): State<AppState>,
    caller: Caller,
    PlainJson(payload): PlainJson<AlertmanagerPayload>,
) -> ApiResult<Response> {
    let Some(monitoring) = state.monitoring() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "health monitoring is not enabled in this server",
        ));
    };
    let outcome = monitoring
        .alertmanager
        .receive(caller.tenant(), payload)
        .await?;
    let scale_events = outcome.scale_events.len();
    for event in outcome.scale_events {
        monitoring.health.submit(event).await?;
    }
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "healthEvents": outcome.health_events,
            "scaleEvents": scale_events,
            "ignored": outcome.ignored,
        }),
    )
}
