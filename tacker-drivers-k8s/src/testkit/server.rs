//! The HTTP layer of the API-server double: discovery, the verbs on collections and
//! objects, the `scale` and `status` subresources, watches, reviews and `Status` errors.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::fields::{self, Part};
use super::resources::{self, RESOURCE_TYPES, ResourceType};
use super::state::{
    FieldSelector, Key, LabelSelector, json_patch, merge_patch, meta_mut, name_of,
    strategic_merge_patch, uid_of,
};
use super::{Shared, controller};

/// A failure answered as a Kubernetes `Status` object.
#[derive(Debug)]
pub struct Failure {
    code: StatusCode,
    reason: &'static str,
    message: String,
    details: Value,
}

impl Failure {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: json!({}),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    fn not_found(t: &ResourceType, name: &str) -> Self {
        let mut failure = Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(t)),
        );
        failure.details = details(t, name);
        failure
    }

    fn conflict(t: &ResourceType, name: &str) -> Self {
        let mut failure = Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(t)
            ),
        );
        failure.details = details(t, name);
        failure
    }

    fn status_body(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code.as_u16(),
        })
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        json_response(self.code, &self.status_body())
    }
}

fn qualified(t: &ResourceType) -> String {
    if t.group.is_empty() {
        t.plural.to_owned()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

/// The `details` of a `Status` about an object: no `group` for the core group, as the
/// API server leaves it out.
fn details(t: &ResourceType, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": t.plural});
    if !t.group.is_empty() {
        details["group"] = json!(t.group);
    }
    details
}

/// The API server's plain-text 404, for paths outside the API groups it serves.
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

/// 422 `Invalid` for a name that the kind's naming rule refuses, as the API server
/// words it.
fn check_name(t: &ResourceType, name: &str) -> Result<(), Failure> {
    let label = |part: &str| {
        !part.is_empty()
            && part.len() <= 63
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let (valid, rule) = match (t.group, t.kind) {
        // Services: an RFC 1035 label (a letter first); namespaces: an RFC 1123 label.
        ("", "Service") => (
            label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()),
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
        ("", "Namespace") => (
            label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        _ => (
            name.len() <= 253 && name.split('.').all(label),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
    };
    if valid {
        return Ok(());
    }
    let cause = format!("Invalid value: \"{name}\": {rule}");
    let qualified_kind = if t.group.is_empty() {
        t.kind.to_owned()
    } else {
        format!("{}.{}", t.kind, t.group)
    };
    let mut failure = Failure::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        format!("{qualified_kind} \"{name}\" is invalid: metadata.name: {cause}"),
    );
    failure.details = json!({"name": name, "kind": t.kind, "causes": [
        {"reason": "FieldValueInvalid", "message": cause, "field": "metadata.name"},
    ]});
    if !t.group.is_empty() {
        failure.details["group"] = json!(t.group);
    }
    Err(failure)
}

/// The manager of a write: `fieldManager`, else the client's User-Agent.
fn manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    fields::manager_of(
        query.get("fieldManager").map(String::as_str),
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

type Answer = Result<Response, Failure>;

/// The one handler behind every path.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(failure) = authenticate(&shared, &headers) {
        return failure.into_response();
    }
    let query = parse_query(uri.query().unwrap_or(""));
    let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    if !watching && injected_failure(&shared, &method, uri.path()) {
        return Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: the test double was told to fail this request",
        )
        .into_response();
    }
    match route(&shared, &method, uri.path(), &query, &headers, &body).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    }
}

/// Whether a failure injected with `fail_nth_request` hits this request.
fn injected_failure(shared: &Shared, method: &Method, path: &str) -> bool {
    let mut faults = shared
        .request_faults
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let Some(index) = faults
        .iter()
        .position(|(m, fragment, _)| m == method.as_str() && path.contains(fragment.as_str()))
    else {
        return false;
    };
    if faults[index].2 > 0 {
        faults[index].2 -= 1;
        return false;
    }
    faults.remove(index);
    true
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), Failure> {
    let Some(expected) = &shared.config.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if given.strip_prefix("Bearer ").map(str::trim) == Some(expected.as_str()) {
        return Ok(());
    }
    Err(Failure::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Unauthorized",
    ))
}

fn parse_query(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Where a resource path points.
struct Target {
    t: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => Ok(json_response(StatusCode::OK, &version(shared))),
        ["healthz"] | ["readyz"] | ["livez"] => Ok((StatusCode::OK, "ok").into_response()),
        ["api"] => Ok(json_response(
            StatusCode::OK,
            &json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.address}],
            }),
        )),
        ["apis"] => Ok(json_response(StatusCode::OK, &group_list())),
        // Older clients validate against the OpenAPI v2 document, which they read as
        // protobuf; an empty document (no definitions) makes them skip validation.
        ["openapi", "v2"] => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Vec::<u8>::new(),
        )
            .into_response()),
        ["openapi", "v3"] => Ok(json_response(StatusCode::OK, &openapi_root())),
        ["openapi", "v3", "api", "v1"] => Ok(json_response(
            StatusCode::OK,
            &openapi_group_version("", "v1"),
        )),
        ["openapi", "v3", "apis", group, version] => {
            if resources::groups()
                .iter()
                .any(|(g, vs)| g == group && vs.contains(version))
            {
                Ok(json_response(
                    StatusCode::OK,
                    &openapi_group_version(group, version),
                ))
            } else {
                Err(Failure::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the server could not find the requested resource",
                ))
            }
        }
        ["apis", group, ..] if !resources::groups().iter().any(|(g, _)| g == group) => {
            Ok(page_not_found())
        }
        ["apis", group] => group_doc(group)
            .map(|doc| json_response(StatusCode::OK, &doc))
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        ["api", "v1"] => Ok(json_response(StatusCode::OK, &resource_list("", "v1"))),
        ["apis", group, version] => {
            if resources::groups()
                .iter()
                .any(|(g, vs)| g == group && vs.contains(version))
            {
                Ok(json_response(
                    StatusCode::OK,
                    &resource_list(group, version),
                ))
            } else {
                Err(Failure::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the server could not find the requested resource",
                ))
            }
        }
        ["api", "v1", rest @ ..] => {
            let target = target("", "v1", rest)?;
            serve(shared, method, target, query, headers, body).await
        }
        ["apis", group, version, rest @ ..] => {
            let target = target(group, version, rest)?;
            serve(shared, method, target, query, headers, body).await
        }
        _ => Ok(page_not_found()),
    }
}

fn version(shared: &Shared) -> Value {
    let (major, minor) = &shared.config.version;
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The OpenAPI v3 discovery document: one entry per group version.
fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "api/v1".into(),
        json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=0"}),
    );
    for (group, versions) in resources::groups() {
        for version in versions {
            paths.insert(
                format!("apis/{group}/{version}"),
                json!({"serverRelativeURL": format!("/openapi/v3/apis/{group}/{version}?hash=0")}),
            );
        }
    }
    json!({"paths": paths})
}

/// The OpenAPI v3 document of one group version, as far as clients read it: the
/// operations on each resource with their group-version-kind and query parameters
/// (clients look for `fieldValidation` to choose server-side validation). Schemas are
/// left out.
fn openapi_group_version(group: &str, version: &str) -> Value {
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let parameter = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let mut paths = serde_json::Map::new();
    for t in RESOURCE_TYPES
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let operation = |action: &str| {
            json!({
                "operationId": format!("{action}{}", t.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [parameter("dryRun"), parameter("fieldManager"), parameter("fieldValidation")],
                "responses": {"200": {"description": "OK"}},
            })
        };
        let base = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{prefix}/{}", t.plural)
        };
        paths.insert(
            base.clone(),
            json!({"post": operation("post"), "get": operation("list")}),
        );
        if !t.review {
            paths.insert(
                format!("{base}/{{name}}"),
                json!({"get": operation("get"), "put": operation("put"), "patch": operation("patch"), "delete": operation("delete")}),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

fn group_doc(group: &str) -> Option<Value> {
    let (name, versions) = resources::groups().into_iter().find(|(g, _)| *g == group)?;
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    Some(json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": entries,
        "preferredVersion": entries[0],
    }))
}

fn group_list() -> Value {
    let groups: Vec<Value> = resources::groups()
        .into_iter()
        .filter_map(|(g, _)| {
            let mut doc = group_doc(g)?;
            let map = doc.as_object_mut()?;
            map.remove("kind");
            map.remove("apiVersion");
            Some(doc)
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(group: &str, version: &str) -> Value {
    let mut entries = Vec::new();
    for t in RESOURCE_TYPES
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let mut entry = json!({
            "name": t.plural,
            "singularName": t.singular(),
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            entry["shortNames"] = json!(t.short_names);
        }
        entries.push(entry);
        if !t.review {
            entries.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if t.scale {
            entries.push(json!({
                "name": format!("{}/scale", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    })
}

fn target(group: &str, version: &str, rest: &[&str]) -> Result<Target, Failure> {
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let namespaced_path = rest.len() >= 3
        && rest[0] == "namespaces"
        && resources::find(group, version, rest[2]).is_some_and(|t| t.namespaced);
    let (namespace, rest) = if namespaced_path {
        (Some(rest[1].to_owned()), &rest[2..])
    } else {
        (None, rest)
    };
    let plural = rest.first().ok_or_else(not_found)?;
    let t = resources::find(group, version, plural).ok_or_else(not_found)?;
    if rest.len() > 3 {
        return Err(not_found());
    }
    Ok(Target {
        t,
        namespace,
        name: rest.get(1).map(|s| (*s).to_owned()),
        subresource: rest.get(2).map(|s| (*s).to_owned()),
    })
}

async fn serve(
    shared: &Arc<Shared>,
    method: &Method,
    target: Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let answer = match (method, &target.name, target.subresource.as_deref()) {
        (&Method::GET, None, None) => {
            if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch(shared, &target, query);
            }
            list(shared, &target, query)
        }
        (&Method::POST, None, None) => create(shared, &target, query, headers, body),
        (&Method::DELETE, None, None) => delete_collection(shared, &target, query),
        (&Method::GET, Some(name), None) => get(shared, &target, name),
        (&Method::PUT, Some(name), None) => {
            replace(shared, &target, name, query, headers, body, false)
        }
        (&Method::PATCH, Some(name), None) => {
            patch(shared, &target, name, query, headers, body, false)
        }
        (&Method::DELETE, Some(name), None) => delete(shared, &target, name, query, body),
        (&Method::GET, Some(name), Some("scale")) if target.t.scale => {
            scale_get(shared, &target, name)
        }
        (&Method::PUT, Some(name), Some("scale")) | (&Method::PATCH, Some(name), Some("scale"))
            if target.t.scale =>
        {
            scale_set(shared, &target, name, method, query, headers, body)
        }
        (&Method::GET, Some(name), Some("status")) => get(shared, &target, name),
        (&Method::PUT, Some(name), Some("status")) => {
            replace(shared, &target, name, query, headers, body, true)
        }
        (&Method::PATCH, Some(name), Some("status")) => {
            patch(shared, &target, name, query, headers, body, true)
        }
        _ => Err(Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    };
    shared.changed.notify_one();
    answer
}

fn namespace_of(target: &Target) -> String {
    target.namespace.clone().unwrap_or_default()
}

/// Sets `apiVersion` and `kind` of an object as served at `t`.
fn served(t: &ResourceType, mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(t.api_version()));
        map.insert("kind".into(), json!(t.kind));
    }
    object
}

fn selectors(query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), Failure> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
        .map_err(Failure::bad_request)?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
        .map_err(Failure::bad_request)?;
    Ok((labels, fields))
}

fn list(shared: &Shared, target: &Target, query: &HashMap<String, String>) -> Answer {
    let (labels, fields) = selectors(query)?;
    let store = shared.lock();
    let items: Vec<Value> = store
        .of_type(target.t.group, target.t.plural, target.namespace.as_deref())
        .filter(|(_, o)| labels.matches(o) && fields.matches(o))
        .map(|(_, o)| served(target.t, o.clone()))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", target.t.kind),
            "apiVersion": target.t.api_version(),
            "metadata": {"resourceVersion": store.rv.to_string()},
            "items": items,
        }),
    ))
}

fn watch(shared: &Arc<Shared>, target: &Target, query: &HashMap<String, String>) -> Answer {
    let (labels, fields) = selectors(query)?;
    // Subscribe before reading the state, so nothing falls between the two; the stream
    // skips what the backlog already holds by resourceVersion.
    let receiver = shared.events.subscribe();
    let store = shared.lock();
    let in_scope = |key: &Key, object: &Value| {
        key.group == target.t.group
            && key.plural == target.t.plural
            && target
                .namespace
                .as_deref()
                .is_none_or(|ns| key.namespace == ns)
            && labels.matches(object)
            && fields.matches(object)
    };
    let (backlog, after_rv) = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => {
            let current: Vec<Value> = store
                .objects
                .iter()
                .filter(|(k, o)| in_scope(k, o))
                .map(|(_, o)| json!({"type": "ADDED", "object": served(target.t, o.clone())}))
                .collect();
            (current, store.rv)
        }
        Some(rv) => {
            let rv: u64 = rv
                .parse()
                .map_err(|_| Failure::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            match store.events_since(rv) {
                Some(events) => (
                    events
                        .iter()
                        .filter(|e| in_scope(&e.key, &e.object))
                        .map(|e| json!({"type": e.kind, "object": served(target.t, e.object.clone())}))
                        .collect(),
                    store.rv,
                ),
                None => {
                    let gone = Failure::new(
                        StatusCode::GONE,
                        "Expired",
                        format!("too old resource version: {rv} ({})", store.rv),
                    );
                    (
                        vec![json!({"type": "ERROR", "object": gone.status_body()})],
                        u64::MAX,
                    )
                }
            }
        }
    };
    drop(store);
    Ok(stream_response(
        shared, receiver, backlog, after_rv, target, labels, fields, query,
    ))
}

#[allow(clippy::too_many_arguments)]
fn stream_response(
    shared: &Arc<Shared>,
    receiver: tokio::sync::broadcast::Receiver<Arc<super::state::Event>>,
    backlog: Vec<Value>,
    after_rv: u64,
    target: &Target,
    labels: LabelSelector,
    fields: FieldSelector,
    query: &HashMap<String, String>,
) -> Response {
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800)
        .min(1800);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let stop = shared.stop.clone();
    let t = target.t;
    let namespace = target.namespace.clone();
    struct Watch {
        receiver: tokio::sync::broadcast::Receiver<Arc<super::state::Event>>,
        backlog: std::vec::IntoIter<Value>,
        after_rv: u64,
    }
    let state = Watch {
        receiver,
        backlog: backlog.into_iter(),
        after_rv,
    };
    let stream = futures::stream::unfold(state, move |mut state| {
        let stop = stop.clone();
        let labels = labels.clone();
        let fields = fields.clone();
        let namespace = namespace.clone();
        async move {
            if let Some(line) = state.backlog.next() {
                return Some((
                    Ok::<_, std::io::Error>(Bytes::from(format!("{line}\n"))),
                    state,
                ));
            }
            if state.after_rv == u64::MAX {
                return None;
            }
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep_until(deadline) => return None,
                    received = state.receiver.recv() => match received {
                        Ok(event) => event,
                        // A lagging or closed watch ends; the client watches again.
                        Err(_) => return None,
                    },
                };
                if event.rv <= state.after_rv
                    || event.key.group != t.group
                    || event.key.plural != t.plural
                    || namespace
                        .as_deref()
                        .is_some_and(|ns| event.key.namespace != ns)
                    || !fields.matches(&event.object)
                {
                    continue;
                }
                if !labels.matches(&event.object) {
                    continue;
                }
                let line = json!({"type": event.kind, "object": served(t, event.object.clone())});
                return Some((Ok(Bytes::from(format!("{line}\n"))), state));
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Transfer-Encoding", "chunked")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn get(shared: &Shared, target: &Target, name: &str) -> Answer {
    let key = Key::new(target.t, &namespace_of(target), name);
    let store = shared.lock();
    let object = store
        .objects
        .get(&key)
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    Ok(json_response(
        StatusCode::OK,
        &served(target.t, object.clone()),
    ))
}

/// Parses a request body: JSON, or YAML (apply patches, `kubectl create` of YAML).
fn parse_body(body: &Bytes) -> Result<Value, Failure> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| Failure::bad_request("the request body is neither JSON nor UTF-8 YAML"))?;
    tacker_core::vnfd::yaml::from_str::<Value>(text)
        .map_err(|e| Failure::bad_request(format!("the request body does not parse: {e}")))
}

fn check_namespace(
    store: &super::state::Store,
    t: &ResourceType,
    namespace: &str,
) -> Result<(), Failure> {
    if !t.namespaced {
        return Ok(());
    }
    let ns_type = resources::find("", "v1", "namespaces").expect("namespaces are served");
    match store.objects.get(&Key::new(ns_type, "", namespace)) {
        None => Err(Failure::not_found(ns_type, namespace)),
        Some(ns) if ns["metadata"].get("deletionTimestamp").is_some() => Err(Failure::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                qualified(t)
            ),
        )),
        Some(_) => Ok(()),
    }
}

fn check_identity(t: &ResourceType, target_ns: &str, object: &Value) -> Result<(), Failure> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    if (!kind.is_empty() && kind != t.kind)
        || (!api_version.is_empty()
            && resources::by_kind(api_version, kind).is_none_or(|o| o.group != t.group))
    {
        return Err(Failure::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({}) or kind {kind}",
            t.api_version()
        )));
    }
    if t.namespaced
        && let Some(ns) = object["metadata"]["namespace"].as_str()
        && !ns.is_empty()
        && ns != target_ns
    {
        return Err(Failure::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn create(
    shared: &Shared,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let mut object = parse_body(body)?;
    let namespace = namespace_of(target);
    check_identity(target.t, &namespace, &object)?;
    if target.t.review {
        return Ok(json_response(
            StatusCode::CREATED,
            &served(target.t, review(shared, target.t, object)),
        ));
    }
    let name = match object["metadata"]["name"].as_str() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => match object["metadata"]["generateName"].as_str() {
            Some(prefix) => format!("{prefix}{}", random_suffix()),
            None => {
                return Err(Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        target.t.kind
                    ),
                ));
            }
        },
    };
    check_name(target.t, &name)?;
    if query.get("dryRun").is_some_and(|d| d == "All") {
        return Ok(json_response(
            StatusCode::CREATED,
            &served(target.t, object),
        ));
    }
    let mut store = shared.lock();
    check_namespace(&store, target.t, &namespace)?;
    let key = Key::new(target.t, &namespace, &name);
    if store.objects.contains_key(&key) {
        let mut failure = Failure::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(target.t)),
        );
        failure.details = details(target.t, &name);
        return Err(failure);
    }
    object = served(target.t, object);
    fields::record_update(
        None,
        &mut object,
        &manager(query, headers),
        &target.t.api_version(),
        None,
        Part::Main,
    );
    controller::defaults(target.t, &mut object);
    let stored = store.insert(key, object);
    Ok(json_response(StatusCode::CREATED, &stored))
}

fn review(shared: &Shared, t: &ResourceType, mut object: Value) -> Value {
    let allowed = shared.allow.load(std::sync::atomic::Ordering::SeqCst);
    let status = match t.kind {
        "TokenReview" => json!({"authenticated": true, "user": {"username": "tacker-double"}}),
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [],
            "incomplete": false,
        }),
        _ => {
            if allowed {
                json!({"allowed": true, "reason": "the test double allows everything"})
            } else {
                json!({"allowed": false, "denied": true, "reason": "the test double was told to deny"})
            }
        }
    };
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), status);
    }
    meta_mut(&mut object).insert("creationTimestamp".into(), Value::Null);
    object
}

fn replace(
    shared: &Shared,
    target: &Target,
    name: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    status_only: bool,
) -> Answer {
    let object = parse_body(body)?;
    let namespace = namespace_of(target);
    check_identity(target.t, &namespace, &object)?;
    if name_of(&object) != name {
        return Err(Failure::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&object)
        )));
    }
    let key = Key::new(target.t, &namespace, name);
    let mut store = shared.lock();
    let current = store
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    if let Some(rv) = object["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != current["metadata"]["resourceVersion"].as_str()
    {
        return Err(Failure::conflict(target.t, name));
    }
    let mut next = if status_only {
        let mut next = current.clone();
        next["status"] = object["status"].clone();
        next
    } else {
        let mut next = served(target.t, object);
        if let Some(status) = current.get("status") {
            next["status"] = status.clone();
        }
        next
    };
    // What the client sent of managedFields is the server's to keep.
    meta_mut(&mut next).insert(
        "managedFields".into(),
        current["metadata"]["managedFields"].clone(),
    );
    let (subresource, part) = if status_only {
        (Some("status"), Part::Status)
    } else {
        (None, Part::Main)
    };
    fields::record_update(
        Some(&current),
        &mut next,
        &manager(query, headers),
        &target.t.api_version(),
        subresource,
        part,
    );
    let stored = store
        .update(&key, next)
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    Ok(json_response(StatusCode::OK, &stored))
}

#[allow(clippy::too_many_arguments)]
fn patch(
    shared: &Shared,
    target: &Target,
    name: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    status_only: bool,
) -> Answer {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let patch_body = parse_body(body)?;
    let namespace = namespace_of(target);
    let key = Key::new(target.t, &namespace, name);
    let mut store = shared.lock();
    let current = store.objects.get(&key).cloned();
    match content_type.as_str() {
        "application/apply-patch+yaml" => {
            let manager = query
                .get("fieldManager")
                .filter(|m| !m.is_empty())
                .ok_or_else(|| {
                    Failure::bad_request("PATCH apply requires the fieldManager parameter")
                })?;
            check_identity(target.t, &namespace, &patch_body)?;
            if patch_body["metadata"]["name"].as_str() != Some(name) {
                return Err(Failure::bad_request(format!(
                    "the name of the applied object ({}) does not match the name on the URL ({name})",
                    name_of(&patch_body)
                )));
            }
            let part = if status_only {
                Part::Status
            } else {
                Part::Main
            };
            let api_version = target.t.api_version();
            match current {
                None => {
                    if status_only {
                        return Err(Failure::not_found(target.t, name));
                    }
                    check_name(target.t, name)?;
                    check_namespace(&store, target.t, &namespace)?;
                    let object = fields::apply(
                        None,
                        &patch_body,
                        manager,
                        &api_version,
                        part,
                        strategic_merge_patch,
                    );
                    let mut object = served(target.t, object);
                    controller::defaults(target.t, &mut object);
                    let stored = store.insert(key, object);
                    Ok(json_response(StatusCode::CREATED, &stored))
                }
                Some(current) => {
                    if let Some(rv) = patch_body["metadata"]["resourceVersion"].as_str()
                        && Some(rv) != current["metadata"]["resourceVersion"].as_str()
                    {
                        return Err(Failure::conflict(target.t, name));
                    }
                    let mut applied = patch_body;
                    if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
                        meta.remove("resourceVersion");
                    }
                    let mut next = if status_only {
                        fields::apply(
                            Some(&current),
                            &json!({"status": applied["status"].clone()}),
                            manager,
                            &api_version,
                            part,
                            strategic_merge_patch,
                        )
                    } else {
                        fields::apply(
                            Some(&current),
                            &applied,
                            manager,
                            &api_version,
                            part,
                            strategic_merge_patch,
                        )
                    };
                    if !status_only {
                        match current.get("status") {
                            Some(status) => next["status"] = status.clone(),
                            None => {
                                if let Some(map) = next.as_object_mut() {
                                    map.remove("status");
                                }
                            }
                        }
                    }
                    let stored = store
                        .update(&key, served(target.t, next))
                        .ok_or_else(|| Failure::not_found(target.t, name))?;
                    Ok(json_response(StatusCode::OK, &stored))
                }
            }
        }
        "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/json-patch+json" => {
            let current = current.ok_or_else(|| Failure::not_found(target.t, name))?;
            let mut next = current.clone();
            match content_type.as_str() {
                "application/merge-patch+json" => merge_patch(&mut next, &patch_body),
                "application/strategic-merge-patch+json" => {
                    strategic_merge_patch(&mut next, &patch_body)
                }
                _ => json_patch(&mut next, &patch_body)
                    .map_err(|e| Failure::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e))?,
            }
            if let Some(rv) = patch_body["metadata"]["resourceVersion"].as_str()
                && Some(rv) != current["metadata"]["resourceVersion"].as_str()
            {
                return Err(Failure::conflict(target.t, name));
            }
            if status_only {
                let status = next["status"].clone();
                next = current.clone();
                next["status"] = status;
            } else if let Some(status) = current.get("status") {
                next["status"] = status.clone();
            }
            meta_mut(&mut next).insert(
                "managedFields".into(),
                current["metadata"]["managedFields"].clone(),
            );
            let (subresource, part) = if status_only {
                (Some("status"), Part::Status)
            } else {
                (None, Part::Main)
            };
            fields::record_update(
                Some(&current),
                &mut next,
                &manager(query, headers),
                &target.t.api_version(),
                subresource,
                part,
            );
            let stored = store
                .update(&key, served(target.t, next))
                .ok_or_else(|| Failure::not_found(target.t, name))?;
            Ok(json_response(StatusCode::OK, &stored))
        }
        other => Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
            ),
        )),
    }
}

fn delete(
    shared: &Shared,
    target: &Target,
    name: &str,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Answer {
    let options = if body.is_empty() {
        json!({})
    } else {
        parse_body(body)?
    };
    let policy = options["propagationPolicy"]
        .as_str()
        .or(query.get("propagationPolicy").map(String::as_str))
        .unwrap_or("Background")
        .to_owned();
    let key = Key::new(target.t, &namespace_of(target), name);
    let mut store = shared.lock();
    let current = store
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    if let Some(uid) = options["preconditions"]["uid"].as_str()
        && uid_of(&current).as_deref() != Some(uid)
    {
        return Err(Failure::conflict(target.t, name));
    }
    let (code, object) = controller::delete(&mut store, &key, &policy);
    let gone = !store.objects.contains_key(&key);
    if gone && !returns_deleted_object(target.t) {
        let mut details = details(target.t, name);
        details["uid"] = json!(uid_of(&object));
        return Ok(json_response(
            code,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        ));
    }
    Ok(json_response(code, &served(target.t, object)))
}

/// Whether the API server answers a deletion that removed the object with the object
/// (its registries with `ReturnDeletedObject`), not with a `Status` of success.
fn returns_deleted_object(t: &ResourceType) -> bool {
    matches!(
        (t.group, t.plural),
        (
            "",
            "pods"
                | "services"
                | "serviceaccounts"
                | "resourcequotas"
                | "podtemplates"
                | "nodes"
                | "namespaces"
                | "persistentvolumes"
                | "persistentvolumeclaims"
        ) | ("storage.k8s.io", "storageclasses")
            | ("batch", "jobs")
    )
}

fn delete_collection(shared: &Shared, target: &Target, query: &HashMap<String, String>) -> Answer {
    let (labels, fields) = selectors(query)?;
    let policy = query
        .get("propagationPolicy")
        .cloned()
        .unwrap_or_else(|| "Background".to_owned());
    let mut store = shared.lock();
    let keys: Vec<Key> = store
        .of_type(target.t.group, target.t.plural, target.namespace.as_deref())
        .filter(|(_, o)| labels.matches(o) && fields.matches(o))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = Vec::new();
    for key in keys {
        let (_, object) = controller::delete(&mut store, &key, &policy);
        items.push(served(target.t, object));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", target.t.kind),
            "apiVersion": target.t.api_version(),
            "metadata": {"resourceVersion": store.rv.to_string()},
            "items": items,
        }),
    ))
}

fn scale_of(object: &Value) -> Value {
    let selector = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = &object["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {
            "replicas": object["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector,
        },
    })
}

fn scale_get(shared: &Shared, target: &Target, name: &str) -> Answer {
    let key = Key::new(target.t, &namespace_of(target), name);
    let store = shared.lock();
    let object = store
        .objects
        .get(&key)
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    Ok(json_response(StatusCode::OK, &scale_of(object)))
}

fn scale_set(
    shared: &Shared,
    target: &Target,
    name: &str,
    method: &Method,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let request = parse_body(body)?;
    let key = Key::new(target.t, &namespace_of(target), name);
    let mut store = shared.lock();
    let current = store
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    let mut scale = scale_of(&current);
    if method == Method::PUT {
        if let Some(rv) = request["metadata"]["resourceVersion"].as_str()
            && !rv.is_empty()
            && Some(rv) != current["metadata"]["resourceVersion"].as_str()
        {
            return Err(Failure::conflict(target.t, name));
        }
        scale = request;
    } else {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("application/json-patch+json") {
            json_patch(&mut scale, &request)
                .map_err(|e| Failure::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e))?;
        } else {
            merge_patch(&mut scale, &request);
        }
    }
    let replicas = scale["spec"]["replicas"].as_i64().ok_or_else(|| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Required value"),
        )
    })?;
    if replicas < 0 {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!(
                "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            ),
        ));
    }
    let mut next = current.clone();
    next["spec"]["replicas"] = json!(replicas);
    fields::record_update(
        Some(&current),
        &mut next,
        &manager(query, headers),
        &target.t.api_version(),
        Some("scale"),
        Part::Main,
    );
    let stored = store
        .update(&key, next)
        .ok_or_else(|| Failure::not_found(target.t, name))?;
    Ok(json_response(StatusCode::OK, &scale_of(&stored)))
}
