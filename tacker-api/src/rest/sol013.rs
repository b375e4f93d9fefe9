//! ETSI GS NFV-SOL 013 plumbing shared by every API of the server: the `Version`
//! header, `ProblemDetails` errors, JSON bodies whose errors name the field, the query
//! parameters of lists (filter, attribute selectors, paging) and the responses that
//! carry them.

use std::collections::BTreeSet;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tacker_core::filter::Filter;

use super::limits::Nulls;
use tacker_core::model::ProblemDetails;
use tacker_core::store::{ListQuery, Page};

/// The SOL013 request and response header naming the API version.
pub const VERSION: HeaderName = HeaderName::from_static("version");

/// The media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The most items one page of a list holds.
pub const PAGE_SIZE: usize = 100;

/// The largest page size a server may be configured with.
pub const MAX_PAGE_SIZE: usize = 1000;

/// An error answer: a status and an ETSI `ProblemDetails` body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    /// Extra response headers; boxed so that `Result<_, ApiError>` stays small.
    headers: Option<Box<HeaderMap>>,
}

impl ApiError {
    /// An error with a status and a detail naming what is wrong.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            headers: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// The same error with one more response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers
            .get_or_insert_with(Box::default)
            .insert(name, value);
        self
    }

    /// The status of this error.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The detail of this error.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// This error as the answer of an operation whose ETSI document declares no 422:
    /// a 422 (content well-formed but not processable) becomes 400 with the same
    /// detail, SOL013 6.4 making 400 the answer to client input no other documented
    /// code fits. Other errors keep their status.
    pub fn without_422(self) -> Self {
        if self.status == StatusCode::UNPROCESSABLE_ENTITY {
            Self {
                status: StatusCode::BAD_REQUEST,
                ..self
            }
        } else {
            self
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl From<tacker_core::Error> for ApiError {
    fn from(error: tacker_core::Error) -> Self {
        let problem = error.to_problem_details();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A failure inside the VNFM says what failed in the log, not to the client: a
        // store's or a remote system's own message stays on this side.
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            let incident = tacker_core::new_id();
            tracing::warn!(%status, incident, error = %problem.detail, "request failed");
            let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
                format!("the VNFM's store is unavailable; try again later (incident {incident})")
            } else {
                format!("the request failed inside the VNFM (incident {incident})")
            };
            return Self::new(status, detail);
        }
        Self::new(status, problem.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = ProblemDetails {
            problem_type: None,
            title: self.status.canonical_reason().map(str::to_owned),
            status: self.status.as_u16(),
            detail: self.detail,
            instance: None,
            user_script_err_handling_data: None,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(headers) = self.headers {
            response.headers_mut().extend(*headers);
        }
        response
    }
}

/// An error of a request whose content asks for something this VNFM does not offer
/// (such as an authentication type of a subscription's callback): 422, the content
/// being well-formed but not processable (SOL013 6.4), instead of 501, which would say
/// that the operation itself is not implemented. Other errors keep their status.
pub fn unsupported_content(error: tacker_core::Error) -> ApiError {
    match error {
        tacker_core::Error::NotSupported(detail) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        }
        other => other.into(),
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

/// The version of one API this server implements, and how strictly the `Version`
/// request header is required.
#[derive(Debug, Clone, Copy)]
pub struct ApiVersion {
    /// The full version, e.g. `2.3.0`, sent in every response's `Version` header.
    pub full: &'static str,
    /// Whether a request without `Version` is refused (SOL013); the v1 package API
    /// lets it pass, as the clients that speak v1 never sent it.
    pub required: bool,
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    // `2.3.0`, also with a suffix such as `2.3.0-impl:etsi.org:ETSI_NFV_OpenAPI:1`.
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// Whether a client asking for `requested` can be served by `implemented`: same major
/// version, and not newer than what is implemented.
pub fn version_supported(implemented: &str, requested: &str) -> bool {
    match (parse_version(implemented), parse_version(requested)) {
        (Some(ours), Some(theirs)) => ours.0 == theirs.0 && theirs <= ours,
        _ => false,
    }
}

/// Middleware: checks the `Version` request header (missing: 400 when required,
/// unsupported: 406) and sets `Version` on every response of the API.
pub async fn negotiate_version(
    State(version): State<ApiVersion>,
    request: Request,
    next: Next,
) -> Response {
    // Inside the API's router the path no longer holds the API's prefix.
    let exempt = request.uri().path() == "/api_versions";
    let outcome = match request.headers().get(&VERSION) {
        _ if exempt => Ok(()),
        None if version.required => Err(ApiError::bad_request(format!(
            "the Version header is missing; this API implements version {}",
            version.full
        ))),
        None => Ok(()),
        Some(value) => match value.to_str() {
            Ok(requested) if version_supported(version.full, requested.trim()) => Ok(()),
            Ok(requested) => Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "API version '{requested}' is not supported; this API implements version {}",
                    version.full
                ),
            )),
            Err(_) => Err(ApiError::bad_request(
                "the Version header is not readable text",
            )),
        },
    };
    let mut response = match outcome {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    response
        .headers_mut()
        .insert(VERSION, HeaderValue::from_static(version.full));
    response
}

/// A JSON request body of an ETSI API. Refuses a missing body or `Content-Type` (400)
/// and other media types (415), and names the field of any error (400), e.g.
/// `request body: flavourId: invalid type: integer, expected a string`. Outside JSON
/// Merge Patch bodies, `null` is refused as a value (see [`Nulls::Refused`]).
pub struct EtsiJson<T>(pub T);

impl<S, T> FromRequest<S> for EtsiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> ApiResult<Self> {
        let refuse_null = request.extensions().get::<NullsAsAbsent>().is_none();
        read_json(request, refuse_null).await.map(Self)
    }
}

/// A request extension (set with `Extension` on a router) under which [`EtsiJson`]
/// reads a `null` as an absent attribute: for the v1 package API, whose older clients
/// may send them.
#[derive(Debug, Clone, Copy)]
pub struct NullsAsAbsent;

/// A JSON request body of an API that is not ETSI's (VIM registration, the
/// Alertmanager receiver, the v1 package API of older clients): as [`EtsiJson`], but a
/// `null` reads as an absent attribute.
pub struct PlainJson<T>(pub T);

impl<S, T> FromRequest<S> for PlainJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> ApiResult<Self> {
        read_json(request, false).await.map(Self)
    }
}

async fn read_json<T: DeserializeOwned>(request: Request, refuse_null: bool) -> ApiResult<T> {
    let media = request_media_type(request.headers());
    let Some(media) = media else {
        // SOL013 4.2.2 makes Content-Type mandatory on a request with a body.
        return Err(ApiError::bad_request(
            "the Content-Type header is missing; send the body as application/json",
        ));
    };
    if media != "application/json"
        && !(media.starts_with("application/") && media.ends_with("+json"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be application/json",
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), super::limits::MAX_JSON_BODY)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "reading the request body: {e}; a JSON body may have at most {} bytes",
                    super::limits::MAX_JSON_BODY
                ),
            )
        })?;
    let nulls = if refuse_null && media != "application/merge-patch+json" {
        Nulls::Refused
    } else {
        Nulls::Allowed
    };
    parse_body(&bytes, nulls)
}

/// The media type of a request's body, lower-case and without parameters; `None` when
/// the `Content-Type` header is missing, empty or not readable text.
pub fn request_media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// Deserializes the JSON body of an ETSI request, naming the field an error is about.
/// The body must be one object, within the limits of [`super::limits`] (sizes, depth,
/// the NUL character), without `null` values (see [`Nulls::Refused`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    parse_body(bytes, Nulls::Refused)
}

fn parse_body<T: DeserializeOwned>(bytes: &[u8], nulls: Nulls) -> ApiResult<T> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is missing; this operation takes an application/json body",
        ));
    }
    super::limits::check_body_size(bytes.len())?;
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::bad_request(format!("request body: {error}")))?;
    // Every request body of these APIs is one object (serde would read a struct from
    // an array as well).
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "request body: not a JSON object; this operation takes one object",
        ));
    }
    super::limits::check_value(&value, nulls)?;
    deserialize(value)
}

fn deserialize<T: DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("request body: {inner}"))
        } else {
            ApiError::bad_request(format!("request body: {path}: {inner}"))
        }
    })
}

/// A JSON response with a status.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> ApiResult<Response> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// A `201 Created` (or `202 Accepted`) answer with a `Location` header.
pub fn located<T: Serialize>(status: StatusCode, location: &str, value: &T) -> ApiResult<Response> {
    let mut response = json_response(status, value)?;
    let location = HeaderValue::from_str(location)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    response
        .headers_mut()
        .insert(axum::http::header::LOCATION, location);
    Ok(response)
}

/// A `202 Accepted` answer for a task, with `Location` naming the op occurrence and no body.
pub fn accepted(location: &str) -> ApiResult<Response> {
    let location = HeaderValue::from_str(location)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut response = StatusCode::ACCEPTED.into_response();
    response
        .headers_mut()
        .insert(axum::http::header::LOCATION, location);
    Ok(response)
}

/// A subscription as a client sees it: the user information of its `callbackUri`
/// (credentials some receivers take in the URI) replaced by `***`.
pub fn subscription_view(mut value: Value) -> Value {
    if let Some(Value::String(uri)) = value.get_mut("callbackUri")
        && let Ok(mut parsed) = url::Url::parse(uri)
        && (!parsed.username().is_empty() || parsed.password().is_some())
    {
        let _ = parsed.set_password(None);
        let _ = parsed.set_username("***");
        *uri = parsed.to_string();
    }
    value
}

/// [`subscription_view`] of a subscription type.
pub fn subscription_json<T: Serialize>(subscription: &T) -> ApiResult<Value> {
    serde_json::to_value(subscription)
        .map(subscription_view)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The SOL013 attribute selector of a GET.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Selector {
    /// No selector: the complex attributes excluded by default are left out.
    #[default]
    Default,
    /// `all_fields`: everything.
    AllFields,
    /// `fields` (optionally with `exclude_default`): the default exclusions, except the
    /// attributes named.
    Fields(Vec<Vec<String>>),
    /// `exclude_fields`: everything except the attributes named.
    ExcludeFields(Vec<Vec<String>>),
}

fn attribute_paths(parameter: &str, text: &str) -> ApiResult<Vec<Vec<String>>> {
    let mut paths = Vec::new();
    for item in text.split(',') {
        let path: Vec<String> = item
            .trim()
            .split('/')
            .map(|s| s.trim().to_owned())
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ApiError::bad_request(format!(
                "query parameter {parameter}: '{item}' is not an attribute name (names are separated by ',', nested names by '/')"
            )));
        }
        paths.push(path);
    }
    Ok(paths)
}

impl Selector {
    /// Applies the selector to a resource; `complex` lists the attributes excluded by
    /// default from this kind of resource.
    pub fn apply(&self, value: &mut Value, complex: &[&str]) {
        match self {
            Self::AllFields => {}
            Self::Default => remove_top(value, complex, &[]),
            Self::Fields(paths) => {
                let kept: Vec<&str> = paths
                    .iter()
                    .filter_map(|p| p.first().map(String::as_str))
                    .collect();
                remove_top(value, complex, &kept);
                // A nested path keeps only the named part of a default-excluded attribute.
                for name in complex {
                    let nested: Vec<&[String]> = paths
                        .iter()
                        .filter(|p| p.len() > 1 && p[0] == *name)
                        .map(|p| &p[1..])
                        .collect();
                    let whole = paths.iter().any(|p| p.len() == 1 && p[0] == *name);
                    if !nested.is_empty()
                        && !whole
                        && let Some(inner) = value.get_mut(*name)
                    {
                        keep_only(inner, &nested);
                    }
                }
            }
            Self::ExcludeFields(paths) => {
                for path in paths {
                    remove_path(value, path);
                }
            }
        }
    }
}

fn remove_top(value: &mut Value, names: &[&str], except: &[&str]) {
    if let Value::Object(map) = value {
        for name in names {
            if !except.contains(name) {
                map.remove(*name);
            }
        }
    }
}

fn remove_path(value: &mut Value, path: &[String]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| remove_path(item, path)),
        Value::Object(map) => match path {
            [] => {}
            [last] => {
                map.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(inner) = map.get_mut(first) {
                    remove_path(inner, rest);
                }
            }
        },
        _ => {}
    }
}

fn keep_only(value: &mut Value, paths: &[&[String]]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| keep_only(item, paths)),
        Value::Object(map) => {
            let names: BTreeSet<&str> = paths
                .iter()
                .filter_map(|p| p.first().map(String::as_str))
                .collect();
            map.retain(|key, _| names.contains(key.as_str()));
            for name in names {
                let deeper: Vec<&[String]> = paths
                    .iter()
                    .filter(|p| p.len() > 1 && p[0] == name)
                    .map(|p| &p[1..])
                    .collect();
                let whole = paths.iter().any(|p| p.len() == 1 && p[0] == name);
                if !deeper.is_empty()
                    && !whole
                    && let Some(inner) = map.get_mut(name)
                {
                    keep_only(inner, &deeper);
                }
            }
        }
        _ => {}
    }
}

/// The SOL013 query parameters of a list: `filter`, the attribute selectors and
/// `nextpage_opaque_marker`. Unknown parameters are refused, so a typo does not
/// silently return everything.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// The attribute filter.
    pub filter: Option<Filter>,
    /// The attribute selector.
    pub selector: Selector,
    /// Where the previous page ended.
    pub marker: Option<String>,
}

impl ListParams {
    /// Parses a query string. `selectors` says whether the resource supports the
    /// attribute selectors (subscriptions do not).
    pub fn parse(query: Option<&str>, selectors: bool) -> ApiResult<Self> {
        let mut params = Self::default();
        let mut all_fields = false;
        let mut fields = None;
        let mut exclude_fields = None;
        let mut exclude_default = false;
        let mut seen = BTreeSet::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !seen.insert(name.to_string()) {
                return Err(ApiError::bad_request(format!(
                    "query parameter {name} is given more than once"
                )));
            }
            match name.as_ref() {
                "filter" => {
                    let filter = Filter::parse(&value).map_err(|e| {
                        ApiError::bad_request(format!("query parameter filter: {e}"))
                    })?;
                    params.filter = Some(filter);
                }
                "nextpage_opaque_marker" => params.marker = Some(value.into_owned()),
                "all_fields" if selectors => all_fields = true,
                "exclude_default" if selectors => exclude_default = true,
                "fields" if selectors => fields = Some(attribute_paths("fields", &value)?),
                "exclude_fields" if selectors => {
                    exclude_fields = Some(attribute_paths("exclude_fields", &value)?);
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter '{other}'"
                    )));
                }
            }
        }
        params.selector = match (all_fields, fields, exclude_fields, exclude_default) {
            (true, None, None, false) => Selector::AllFields,
            (true, ..) => {
                return Err(ApiError::bad_request(
                    "all_fields cannot be combined with fields, exclude_fields or exclude_default",
                ));
            }
            (false, Some(_), Some(_), _) => {
                return Err(ApiError::bad_request(
                    "fields and exclude_fields cannot be combined",
                ));
            }
            (false, None, Some(_), true) => {
                return Err(ApiError::bad_request(
                    "exclude_fields and exclude_default cannot be combined",
                ));
            }
            (false, Some(paths), None, _) => Selector::Fields(paths),
            (false, None, Some(paths), false) => Selector::ExcludeFields(paths),
            (false, None, None, _) => Selector::Default,
        };
        Ok(params)
    }

    /// Refuses (400) attribute names in `filter`, `fields` and `exclude_fields` that the
    /// resource listed at `path` does not have (SOL013 5.2, 5.3). Resources of this
    /// VNFM's own APIs (the VIM registry) are not checked.
    pub fn check_attributes(&self, path: &str) -> ApiResult<()> {
        let Some(resource) = super::attributes::resource_of(path) else {
            return Ok(());
        };
        let mut named: Vec<(&str, &[String])> = Vec::new();
        if let Some(filter) = &self.filter {
            named.extend(filter.terms.iter().map(|t| ("filter", t.path.as_slice())));
        }
        match &self.selector {
            Selector::Fields(paths) => named.extend(paths.iter().map(|p| ("fields", p.as_slice()))),
            Selector::ExcludeFields(paths) => {
                named.extend(paths.iter().map(|p| ("exclude_fields", p.as_slice())));
            }
            Selector::Default | Selector::AllFields => {}
        }
        for (parameter, attribute) in named {
            if let Err(unknown) = super::attributes::check(resource, attribute) {
                return Err(ApiError::bad_request(format!(
                    "query parameter {parameter}: {resource} has no attribute '{unknown}'"
                )));
            }
        }
        Ok(())
    }

    /// The store query for one page of `page_size` items.
    pub fn query(&self, page_size: usize) -> ListQuery {
        ListQuery {
            filter: self.filter.clone(),
            limit: Some(page_size.clamp(1, MAX_PAGE_SIZE)),
            after: self.marker.clone(),
        }
    }
}

/// The list parameters of a request (attribute selectors allowed).
#[derive(Debug, Clone, Default)]
pub struct Listing(pub ListParams);

impl<S: Send + Sync> FromRequestParts<S> for Listing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let params = ListParams::parse(parts.uri.query(), true)?;
        params.check_attributes(&listed_path(parts))?;
        Ok(Self(params))
    }
}

/// The full path of a list request (nested routers see only their part of it).
fn listed_path(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.path(), |original| original.0.path())
        .to_owned()
}

/// The list parameters of a request on a resource without attribute selectors.
#[derive(Debug, Clone, Default)]
pub struct FilterOnly(pub ListParams);

impl<S: Send + Sync> FromRequestParts<S> for FilterOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let params = ListParams::parse(parts.uri.query(), false)?;
        params.check_attributes(&listed_path(parts))?;
        Ok(Self(params))
    }
}

/// The URI of the next page: the request's own, with the marker replaced.
pub fn next_page_link(api_root: &str, path: &str, query: Option<&str>, marker: &str) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != "nextpage_opaque_marker" {
            serializer.append_pair(&name, &value);
        }
    }
    serializer.append_pair("nextpage_opaque_marker", marker);
    format!("{api_root}{path}?{}", serializer.finish())
}

/// A page of resources as a JSON array, each shaped by `shape` (selectors applied
/// there), with `Link: <…>; rel="next"` when more follow.
pub fn page_response<T: Serialize>(
    page: Page<T>,
    api_root: &str,
    uri: &axum::http::Uri,
    mut shape: impl FnMut(Value) -> Value,
) -> ApiResult<Response> {
    let mut items = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let value = serde_json::to_value(item)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        items.push(shape(value));
    }
    let response = json_response(StatusCode::OK, &items)?;
    with_next_link(response, page.next_marker.as_deref(), api_root, uri)
}

/// [`page_response`] for a page of JSON texts (each a resource as a list shows it by
/// default), written as they are: no resource is decoded or encoded again.
pub fn summary_page_response(
    page: Page<String>,
    api_root: &str,
    uri: &axum::http::Uri,
) -> ApiResult<Response> {
    let length = page.items.iter().map(|item| item.len() + 1).sum::<usize>() + 2;
    let mut body = Vec::with_capacity(length);
    body.push(b'[');
    for (n, item) in page.items.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.as_bytes());
    }
    body.push(b']');
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    with_next_link(response, page.next_marker.as_deref(), api_root, uri)
}

/// Adds the `Link: <…>; rel="next"` header when a page follows.
fn with_next_link(
    mut response: Response,
    marker: Option<&str>,
    api_root: &str,
    uri: &axum::http::Uri,
) -> ApiResult<Response> {
    if let Some(marker) = marker {
        let link = next_page_link(api_root, uri.path(), uri.query(), marker);
        let value = HeaderValue::from_str(&format!("<{link}>; rel=\"next\""))
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        response.headers_mut().insert(LINK, value);
    }
    Ok(response)
}

/// The `ApiVersionInformation` of an API.
pub fn api_versions(uri_prefix: &str, version: &str) -> Value {
    serde_json::json!({
        "uriPrefix": uri_prefix,
        "apiVersions": [{"version": version, "isDeprecated": false}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_of_the_same_major_up_to_ours_are_served() {
        assert!(version_supported("2.3.0", "2.0.0"));
        assert!(version_supported("2.3.0", "2.3.0"));
        assert!(version_supported("2.3.0", "2"));
        assert!(!version_supported("2.3.0", "2.4.0"));
        assert!(!version_supported("2.3.0", "1.3.0"));
        assert!(!version_supported("2.3.0", "3.0.0"));
        assert!(!version_supported("2.3.0", "two"));
        assert!(!version_supported("2.3.0", ""));
    }

    #[test]
    fn selectors_follow_sol013() {
        let resource = json!({
            "id": "a",
            "vnfdId": "d",
            "instantiatedVnfInfo": {"flavourId": "simple", "vnfState": "STARTED", "vnfcResourceInfo": [{"id": "c1", "vduId": "VDU1"}]},
            "metadata": {"k": "v"},
        });
        let complex = ["instantiatedVnfInfo", "metadata"];
        let shaped = |selector: Selector| {
            let mut v = resource.clone();
            selector.apply(&mut v, &complex);
            v
        };
        assert_eq!(shaped(Selector::Default), json!({"id": "a", "vnfdId": "d"}));
        assert_eq!(shaped(Selector::AllFields), resource);
        assert_eq!(
            shaped(Selector::Fields(vec![vec!["metadata".into()]])),
            json!({"id": "a", "vnfdId": "d", "metadata": {"k": "v"}})
        );
        assert_eq!(
            shaped(Selector::Fields(vec![vec![
                "instantiatedVnfInfo".into(),
                "vnfcResourceInfo".into(),
                "vduId".into()
            ]])),
            json!({"id": "a", "vnfdId": "d", "instantiatedVnfInfo": {"vnfcResourceInfo": [{"vduId": "VDU1"}]}})
        );
        assert_eq!(
            shaped(Selector::ExcludeFields(vec![
                vec!["vnfdId".into()],
                vec!["instantiatedVnfInfo".into(), "vnfState".into()]
            ])),
            json!({"id": "a", "instantiatedVnfInfo": {"flavourId": "simple", "vnfcResourceInfo": [{"id": "c1", "vduId": "VDU1"}]}, "metadata": {"k": "v"}})
        );
    }

    #[test]
    fn list_parameters_are_checked() {
        let ok = ListParams::parse(
            Some("filter=(eq,instantiationState,INSTANTIATED)&exclude_default&fields=metadata"),
            true,
        )
        .expect("valid");
        assert!(ok.filter.is_some());
        assert_eq!(ok.selector, Selector::Fields(vec![vec!["metadata".into()]]));
        for (query, expected) in [
            ("all_fields&fields=a", "all_fields cannot be combined"),
            ("fields=a&exclude_fields=b", "cannot be combined"),
            ("filtr=(eq,a,b)", "unknown query parameter 'filtr'"),
            ("filter=(eq,a", "query parameter filter"),
            ("fields=a,,b", "query parameter fields"),
            ("filter=(eq,a,b)&filter=(eq,c,d)", "more than once"),
        ] {
            let error = ListParams::parse(Some(query), true).expect_err(query);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            assert!(error.detail().contains(expected), "{query}: {error}");
        }
        let error = ListParams::parse(Some("all_fields"), false).expect_err("no selectors");
        assert!(
            error
                .detail()
                .contains("unknown query parameter 'all_fields'")
        );
    }

    #[test]
    fn the_next_page_link_keeps_the_query_and_replaces_the_marker() {
        let link = next_page_link(
            "http://127.0.0.1:9890",
            "/vnflcm/v2/vnf_instances",
            Some("filter=(eq,vnfdId,x)&nextpage_opaque_marker=old"),
            "m1",
        );
        assert_eq!(
            link,
            "http://127.0.0.1:9890/vnflcm/v2/vnf_instances?filter=%28eq%2CvnfdId%2Cx%29&nextpage_opaque_marker=m1"
        );
    }

    #[tokio::test]
    async fn json_bodies_need_a_content_type_and_content() {
        let request = |content_type: Option<&str>, body: &'static str| {
            let mut builder = Request::builder().method("POST").uri("/x");
            if let Some(content_type) = content_type {
                builder = builder.header(CONTENT_TYPE, content_type);
            }
            builder.body(axum::body::Body::from(body)).expect("request")
        };
        let status = |request| async move {
            match EtsiJson::<Value>::from_request(request, &()).await {
                Ok(_) => StatusCode::OK,
                Err(error) => error.status(),
            }
        };
        for (content_type, body, expected) in [
            (Some("application/json"), "{}", StatusCode::OK),
            (
                Some("application/merge-patch+json; charset=utf-8"),
                "{}",
                StatusCode::OK,
            ),
            (None, "{}", StatusCode::BAD_REQUEST),
            (Some(""), "{}", StatusCode::BAD_REQUEST),
            (Some("application/json"), "", StatusCode::BAD_REQUEST),
            (Some("application/json"), "{", StatusCode::BAD_REQUEST),
            (Some("text/plain"), "{}", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ] {
            assert_eq!(
                status(request(content_type, body)).await,
                expected,
                "{content_type:?} {body:?}"
            );
        }
    }

    #[test]
    fn unsupported_content_is_unprocessable() {
        let error = unsupported_content(tacker_core::Error::NotSupported("TLS_CERT".into()));
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.detail(), "TLS_CERT");
        let error = unsupported_content(tacker_core::Error::InvalidRequest("x".into()));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn body_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Body {
            flavour_id: String,
            inner: Vec<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            n: u32,
        }
        let error = parse_json::<Body>(br#"{"flavourId": "a", "inner": [{"n": 1}, {"n": "x"}]}"#)
            .expect_err("bad");
        assert!(error.detail().contains("inner[1].n"), "{error}");
        let error = parse_json::<Body>(br#"{"inner": []}"#).expect_err("missing");
        assert!(error.detail().contains("flavourId"), "{error}");
    }
}
