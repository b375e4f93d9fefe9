//! `…/subscriptions` and `…/subscriptions/{id}` of every API (LCM, FM, package
//! management): one set of handlers over the core's generic
//! [`tacker_core::notify::Subscriptions`]. An API says where its subscriptions are
//! ([`RestSubscriptions`]) and how they look on the wire ([`SubscriptionShape`]).

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tacker_core::notify::{SubscriptionKind, Subscriptions};
use tacker_core::store::{FmSubscriptionRecord, LccnSubscriptionRecord, PkgmSubscriptionRecord};

use super::sol013::{
    ApiError, ApiResult, EtsiJson, FilterOnly, json_response, located, page_response,
    subscription_view, unsupported_content,
};
use super::{AppState, Caller};

/// A subscription kind the REST layer serves.
pub(crate) trait RestSubscriptions:
    SubscriptionKind<Request: DeserializeOwned, Subscription: Serialize>
{
    /// The subscriptions of this kind in the server's VNFM.
    fn of(state: &AppState) -> &Subscriptions<Self>;
}

impl RestSubscriptions for LccnSubscriptionRecord {
    fn of(state: &AppState) -> &Subscriptions<Self> {
        state.lcm().subscriptions()
    }
}

impl RestSubscriptions for FmSubscriptionRecord {
    fn of(state: &AppState) -> &Subscriptions<Self> {
        state.fm().subscriptions()
    }
}

impl RestSubscriptions for PkgmSubscriptionRecord {
    fn of(state: &AppState) -> &Subscriptions<Self> {
        state.packages().subscriptions()
    }
}

/// How an API version shows its subscriptions: their URI and their JSON.
pub(crate) trait SubscriptionShape: Clone + Send + Sync + 'static {
    /// The URI of subscription `id`.
    fn subscription_uri(&self, state: &AppState, id: &str) -> String;
    /// The subscription as served (credentials in the callback URI are always hidden).
    fn subscription(&self, value: Value) -> Value;
}

/// The shape of an API whose subscriptions live at `{prefix}/subscriptions`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plain(pub &'static str);

impl SubscriptionShape for Plain {
    fn subscription_uri(&self, state: &AppState, id: &str) -> String {
        state.uri(&format!("{}/subscriptions/{id}", self.0))
    }

    fn subscription(&self, value: Value) -> Value {
        subscription_view(value)
    }
}

/// The two subscription routes of kind `K` in shape `S` (an `Extension<S>` of the
/// router).
pub(crate) fn routes<K, S>(router: Router<AppState>) -> Router<AppState>
where
    K: RestSubscriptions,
    S: SubscriptionShape,
{
    router
        .route("/subscriptions", get(list::<K, S>).post(create::<K, S>))
        .route("/subscriptions/{id}", get(show::<K, S>).delete(delete::<K>))
}

fn to_json<T: Serialize>(value: &T) -> ApiResult<Value> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn create<K, S>(
    State(state): State<AppState>,
    Extension(shape): Extension<S>,
    caller: Caller,
    EtsiJson(request): EtsiJson<K::Request>,
) -> ApiResult<Response>
where
    K: RestSubscriptions,
    S: SubscriptionShape,
{
    let subscription = K::of(&state)
        .subscribe(caller.tenant(), request)
        .await
        .map_err(unsupported_content)?;
    located(
        StatusCode::CREATED,
        &shape.subscription_uri(&state, K::subscription_id(&subscription)),
        &shape.subscription(to_json(&subscription)?),
    )
}

async fn list<K, S>(
    State(state): State<AppState>,
    Extension(shape): Extension<S>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    FilterOnly(params): FilterOnly,
) -> ApiResult<Response>
where
    K: RestSubscriptions,
    S: SubscriptionShape,
{
    let page = K::of(&state)
        .list(caller.tenant(), &params.query(state.config().page_size))
        .await?;
    page_response(page, &state.config().api_root, &uri, |value| {
        shape.subscription(value)
    })
}

async fn show<K, S>(
    State(state): State<AppState>,
    Extension(shape): Extension<S>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response>
where
    K: RestSubscriptions,
    S: SubscriptionShape,
{
    let subscription = K::of(&state).get(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &shape.subscription(to_json(&subscription)?))
}

async fn delete<K>(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode>
where
    K: RestSubscriptions,
{
    K::of(&state).unsubscribe(caller.tenant(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
