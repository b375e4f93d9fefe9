//! `/vnfpkgm/v2` and `/vnfpkgm/v1`: SOL005 VNF package management.
//!
//! `/vnfpkgm/v2` (API 2.4.0) follows SOL005 v3.7.1; `/vnfpkgm/v1` (API 1.3.0) serves
//! the same packages in the v2.6.1 shape python-tackerclient speaks (see [`v1`] for
//! what differs). Both answer every error with a `ProblemDetails`.
//!
//! | Resource | Methods | Notes |
//! |---|---|---|
//! | `/api_versions` | GET | no `Version` header needed |
//! | `/vnf_packages` | GET, POST | SOL013 filter, selectors and paging; 201 + `Location` |
//! | `/vnf_packages/{id}` | GET, PATCH, DELETE | PATCH takes `application/merge-patch+json` (or JSON) and answers 200 with the modifications; DELETE answers 409 while the package is ENABLED, IN_USE or being onboarded |
//! | `…/package_content` | PUT, GET | see below |
//! | `…/package_content/upload_from_uri` | POST | 202 at once (the package is UPLOADING); the download, validation and onboarding go on in the background |
//! | `…/vnfd` | GET | `Accept` negotiation between `text/plain` and `application/zip` |
//! | `…/manifest` | GET | `text/plain` |
//! | `…/artifacts` | GET | v2 only: a zip of the package's artifacts, `Range` supported |
//! | `…/artifacts/{path}` | GET | one artifact, `Range` supported |
//! | `/subscriptions`, `/subscriptions/{id}` | GET, POST, DELETE | 201 + `Location` |
//!
//! Package content uploads (`PUT …/package_content`) take the zip as the body
//! (`application/zip`, also `application/octet-stream`/`application/binary`;
//! multipart is refused with 415, a missing `Content-Type` with 400). The body is
//! streamed to a temporary file (in `ApiConfig::spool_dir`) and never held in memory;
//! a declared or actual size above `ApiConfig::max_package_size` is refused with 413
//! (ProblemDetails naming the limit) as soon as it shows, the package stays CREATED,
//! and the file is removed on every path. Onboarding then reads the zip from the file
//! and stores it in parts: memory use does not grow with the package size.
//! A package that is not CREATED is refused with 409 before the body is read.
//! Onboarding runs in a task of its own, so a client hanging up cannot leave the
//! package half-onboarded; the answer (202, no body) comes once the package is
//! ONBOARDED, and a package that fails validation is answered with the error (and goes
//! back to CREATED with `onboardingFailureDetails`).
//!
//! `upload_from_uri` answers 202 once the request is checked (an `http`/`https`
//! address, a CREATED package) and the package is UPLOADING. The download streams to
//! a spool file (more than the maximum package size stops it), then the package is
//! PROCESSING, then ONBOARDED, or back to CREATED with `onboardingFailureDetails`
//! (status 413 for a package too large, 400 when the address cannot be fetched, 422
//! when it is not a valid package). A VNFM that stops midway leaves the package under
//! a claim that lapses; the package then goes back to CREATED when next read.
//!
//! Downloads (`GET …/package_content`, `…/artifacts`, `…/artifacts/{path}`) are
//! streamed from the object store (the archive of `…/artifacts` from a spool file), say
//! `Accept-Ranges: bytes` and honour a single range (`bytes=a-b`, `bytes=a-`,
//! `bytes=-n`) with 206 and `Content-Range`; a malformed, multi-range or unsatisfiable
//! range is 416 with `Content-Range: bytes */length`.

mod content;
#[doc(hidden)]
pub use content::parse_range;
mod v1;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, PackageOnboardingStateType, UploadAuthType,
    UploadVnfPackageFromUriRequest, VnfPkgInfo, VnfPkgInfoModifications,
};

use super::sol013::{
    ApiError, ApiResult, EtsiJson, Listing, Selector, api_versions, json_response, located,
    page_response, summary_page_response,
};
use super::{AppState, Caller, VNFPKGM_V1_VERSION, VNFPKGM_VERSION};
use crate::rest::subscriptions;
use content::{has_flag, query_flags};
use tacker_core::store::PkgmSubscriptionRecord;

/// The complex attributes of `VnfPkgInfo` left out of lists by default.
pub(crate) const PACKAGE_COMPLEX: &[&str] = tacker_core::store::VNF_PKG_INFO_COMPLEX;

/// Which API a request came in on: the resources' shape, URIs and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `/vnfpkgm/v2`, SOL005 v3.7.1.
    V2,
    /// `/vnfpkgm/v1`, SOL005 v2.6.1.
    V1,
}

impl Shape {
    fn prefix(self) -> &'static str {
        match self {
            Self::V2 => "/vnfpkgm/v2",
            Self::V1 => "/vnfpkgm/v1",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Self::V2 => VNFPKGM_VERSION,
            Self::V1 => VNFPKGM_V1_VERSION,
        }
    }

    fn complex(self) -> &'static [&'static str] {
        match self {
            Self::V2 => PACKAGE_COMPLEX,
            Self::V1 => v1::PACKAGE_COMPLEX,
        }
    }

    fn package(self, value: Value) -> Value {
        match self {
            Self::V2 => value,
            Self::V1 => v1::package(value),
        }
    }

    fn subscription(self, value: Value) -> Value {
        let value = super::sol013::subscription_view(value);
        match self {
            Self::V2 => value,
            Self::V1 => v1::subscription(value),
        }
    }

    fn package_uri(self, state: &AppState, id: &str) -> String {
        state.uri(&format!("{}/vnf_packages/{id}", self.prefix()))
    }

    fn subscription_uri(self, state: &AppState, id: &str) -> String {
        state.uri(&format!("{}/subscriptions/{id}", self.prefix()))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<Value> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn shared(shape: Shape) -> Router<AppState> {
    let router = Router::new()
        .route("/api_versions", get(versions))
        .route("/vnf_packages", get(list_packages).post(create_package))
        .route(
            "/vnf_packages/{id}",
            get(show_package)
                .patch(modify_package)
                .delete(delete_package),
        )
        .route(
            "/vnf_packages/{id}/package_content",
            get(fetch_content).put(upload_content),
        )
        .route("/vnf_packages/{id}/vnfd", get(fetch_vnfd))
        .route("/vnf_packages/{id}/manifest", get(fetch_manifest))
        .route(
            "/vnf_packages/{id}/artifacts/{*artifact_path}",
            get(fetch_artifact),
        )
        .route(
            "/vnf_packages/{id}/package_content/upload_from_uri",
            match shape {
                Shape::V2 => post(upload_from_uri),
                Shape::V1 => post(upload_from_uri_v1),
            },
        );
    subscriptions::routes::<PkgmSubscriptionRecord, Shape>(router)
}

impl subscriptions::SubscriptionShape for Shape {
    fn subscription_uri(&self, state: &AppState, id: &str) -> String {
        Shape::subscription_uri(*self, state, id)
    }

    fn subscription(&self, value: Value) -> Value {
        Shape::subscription(*self, value)
    }
}

/// `/vnfpkgm/v2`.
pub(crate) fn routes_v2() -> Router<AppState> {
    shared(Shape::V2)
        .route("/vnf_packages/{id}/artifacts", get(fetch_artifacts))
        .layer(Extension(Shape::V2))
}

/// `/vnfpkgm/v1`.
pub(crate) fn routes_v1() -> Router<AppState> {
    shared(Shape::V1)
        .layer(Extension(Shape::V1))
        .layer(Extension(super::sol013::NullsAsAbsent))
}

async fn versions(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
) -> ApiResult<Response> {
    json_response(
        StatusCode::OK,
        &api_versions(&state.uri(shape.prefix()), shape.version()),
    )
}

// ----- Packages ------------------------------------------------------------------------

async fn create_package(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
    caller: Caller,
    EtsiJson(request): EtsiJson<CreateVnfPkgInfoRequest>,
) -> ApiResult<Response> {
    let info = state.packages().create(caller.tenant(), request).await?;
    located(
        StatusCode::CREATED,
        &shape.package_uri(&state, &info.id),
        &shape.package(to_json(&info)?),
    )
}

async fn list_packages(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Listing(params): Listing,
) -> ApiResult<Response> {
    let query = params.query(state.config().page_size);
    if params.selector == Selector::Default {
        let mut page = state.packages().summaries(caller.tenant(), &query).await?;
        // The v2.6.1 shape keeps a subset of what the current one shows by default.
        if shape == Shape::V1 {
            for item in &mut page.items {
                let value: Value = serde_json::from_str(item)
                    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                *item = shape.package(value).to_string();
            }
        }
        return summary_page_response(page, &state.config().api_root, &uri);
    }
    let page = state.packages().list(caller.tenant(), &query).await?;
    page_response(page, &state.config().api_root, &uri, |value| {
        let mut value = shape.package(value);
        params.selector.apply(&mut value, shape.complex());
        value
    })
}

async fn show_package(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let info = state.packages().get(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &shape.package(to_json(&info)?))
}

async fn modify_package(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    EtsiJson(request): EtsiJson<VnfPkgInfoModifications>,
) -> ApiResult<Response> {
    let applied = state
        .packages()
        .modify(caller.tenant(), &id, request)
        .await?;
    json_response(StatusCode::OK, &applied)
}

async fn delete_package(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.packages().delete(caller.tenant(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- Package content -----------------------------------------------------------------

/// 409 unless the package can take content (CREATED), checked before a body is read.
fn ensure_created(info: &VnfPkgInfo) -> ApiResult<()> {
    if info.onboarding_state == PackageOnboardingStateType::Created {
        return Ok(());
    }
    let state = to_json(&info.onboarding_state)?;
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "package {} is {}; content can only be uploaded to a CREATED package",
            info.id,
            state.as_str().unwrap_or("not CREATED")
        ),
    ))
}

/// Awaits onboarding work run in a task of its own, so that a client hanging up does
/// not cancel it halfway (which would leave the package PROCESSING).
async fn detached<F>(work: F) -> ApiResult<()>
where
    F: Future<Output = tacker_core::Result<VnfPkgInfo>> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.into()),
        Err(error) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the onboarding task failed: {error}"),
        )),
    }
}

async fn upload_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    content::check_package_media_type(&headers)?;
    let info = state.packages().get(caller.tenant(), &id).await?;
    ensure_created(&info)?;
    let spool_dir = state
        .config()
        .spool_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let file = content::spool(&headers, body, state.config().max_package_size, &spool_dir).await?;
    let packages = state.packages().clone();
    let tenant = caller.tenant().clone();
    detached(async move {
        let result = packages
            .upload_content_from_file(&tenant, &id, file.path())
            .await;
        drop(file);
        result
    })
    .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Starts the upload and answers 202 as soon as the package is UPLOADING (SOL005
/// 10.4.5a.3.1): the download, validation and onboarding continue on their own, and the
/// package ends ONBOARDED, or CREATED with `onboardingFailureDetails` saying why.
async fn start_upload_from_uri(
    state: &AppState,
    caller: &Caller,
    id: String,
    request: UploadVnfPackageFromUriRequest,
    basic_auth: Option<(String, String)>,
) -> ApiResult<StatusCode> {
    let info = state.packages().get(caller.tenant(), &id).await?;
    ensure_created(&info)?;
    let task = state
        .packages()
        .start_upload_from_uri(caller.tenant(), &id, &request, basic_auth)
        .await?;
    drop(task);
    Ok(StatusCode::ACCEPTED)
}

async fn upload_from_uri(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    EtsiJson(request): EtsiJson<UploadVnfPackageFromUriRequest>,
) -> ApiResult<StatusCode> {
    if request.auth_type == Some(UploadAuthType::Oauth2ClientCredentials)
        || request.params_oauth2_client_credentials.is_some()
    {
        // 400, not 422: SOL005 documents no 422 for this operation (SOL013 6.4 makes 400
        // the answer to client input no other code fits).
        return Err(ApiError::bad_request(
            "authType OAUTH2_CLIENT_CREDENTIALS is not supported for uploads from a URI; give a URI that needs no credentials",
        ));
    }
    start_upload_from_uri(&state, &caller, id, request, None).await
}

async fn upload_from_uri_v1(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    EtsiJson(request): EtsiJson<v1::UploadFromUriRequest>,
) -> ApiResult<StatusCode> {
    let basic_auth = match (request.user_name, request.password) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "request body: userName and password go together; give both or neither",
            ));
        }
    };
    let request = UploadVnfPackageFromUriRequest {
        address_information: request.address_information,
        auth_type: None,
        params_oauth2_client_credentials: None,
    };
    start_upload_from_uri(&state, &caller, id, request, basic_auth).await
}

async fn fetch_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let content = state.packages().content(caller.tenant(), &id).await?;
    content::serve_content(&headers, "application/zip", content).await
}

// ----- VNFD, manifest, artifacts -------------------------------------------------------

async fn fetch_vnfd(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let flags = query_flags(query.as_deref(), &["include_signatures"])?;
    let accept = content::acceptable(&headers);
    let signatures = has_flag(&flags, "include_signatures");
    if !accept.zip && (signatures || !accept.text) {
        let asked = headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let detail = if !accept.present {
            "the Accept header is missing; the VNFD is served as text/plain (a single-file VNFD) or application/zip".to_owned()
        } else if signatures {
            format!(
                "include_signatures needs application/zip, which the Accept header '{asked}' does not allow"
            )
        } else {
            format!(
                "the VNFD is served as text/plain (a single-file VNFD) or application/zip; the Accept header '{asked}' allows neither"
            )
        };
        return Err(ApiError::new(StatusCode::NOT_ACCEPTABLE, detail));
    }
    let packages = state.packages();
    let plain = accept.text && !signatures && {
        // Both acceptable: plain text when the VNFD is a single file.
        !accept.zip || packages.vnfd_files(caller.tenant(), &id).await?.len() == 1
    };
    if plain {
        let yaml = packages.vnfd_yaml(caller.tenant(), &id).await?;
        content::typed_response("text/plain", yaml)
    } else {
        let zip = packages.vnfd_zip(caller.tenant(), &id).await?;
        content::typed_response("application/zip", zip)
    }
}

async fn fetch_manifest(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    query_flags(query.as_deref(), &["include_signatures"])?;
    let manifest = state.packages().manifest(caller.tenant(), &id).await?;
    content::typed_response("text/plain", manifest)
}

async fn fetch_artifact(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, artifact_path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    query_flags(query.as_deref(), &["include_signatures"])?;
    let artifact = state
        .packages()
        .artifact_content(caller.tenant(), &id, &artifact_path)
        .await?;
    content::serve_content(&headers, content::media_type_of(&artifact_path), artifact).await
}

/// The query parameters of `GET …/artifacts`.
const ARTIFACTS_PARAMETERS: &[&str] = &[
    "include_signatures",
    "exclude_all_mano_artifacts",
    "exclude_all_non_mano_artifacts",
    "select_non_mano_artifact_sets",
    "include_external_artifacts",
];

/// The paths of the artifacts `GET …/artifacts` puts in its archive.
fn selected_artifacts(info: &VnfPkgInfo, flags: &[(String, String)]) -> ApiResult<Vec<String>> {
    let no_mano = has_flag(flags, "exclude_all_mano_artifacts");
    let no_non_mano = has_flag(flags, "exclude_all_non_mano_artifacts");
    let sets: Option<BTreeSet<&str>> = flags
        .iter()
        .find(|(name, _)| name == "select_non_mano_artifact_sets")
        .map(|(_, value)| {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        });
    if no_non_mano && sets.is_some() {
        return Err(ApiError::bad_request(
            "exclude_all_non_mano_artifacts and select_non_mano_artifact_sets cannot be combined",
        ));
    }
    let mut paths = BTreeSet::new();
    if !no_mano {
        for image in &info.software_images {
            if let Some(path) = &image.image_path {
                paths.insert(path.clone());
            }
        }
    }
    for artifact in &info.additional_artifacts {
        let Some(path) = &artifact.artifact_path else {
            continue;
        };
        let wanted = match &artifact.non_mano_artifact_set_id {
            None => !no_mano,
            Some(set) => !no_non_mano && sets.as_ref().is_none_or(|s| s.contains(set.as_str())),
        };
        if wanted {
            paths.insert(path.clone());
        }
    }
    Ok(paths.into_iter().collect())
}

/// A zip of every artifact of the package (SOL005 "fetch VNF package artifacts").
/// Signatures and external artifacts are not kept by this VNFM, so
/// `include_signatures` and `include_external_artifacts` add nothing.
async fn fetch_artifacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let flags = query_flags(query.as_deref(), ARTIFACTS_PARAMETERS)?;
    let packages = state.packages();
    let info = packages.get(caller.tenant(), &id).await?;
    if info.onboarding_state != PackageOnboardingStateType::Onboarded {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("package {id} is not ONBOARDED; it has no artifacts to fetch yet"),
        ));
    }
    let paths = selected_artifacts(&info, &flags)?;
    // Software images the VNFD names but the package does not carry are left out.
    let archive = packages.artifacts_zip(caller.tenant(), &id, paths).await?;
    content::serve_content(&headers, "application/zip", archive).await
}

// ----- Subscriptions -------------------------------------------------------------------
