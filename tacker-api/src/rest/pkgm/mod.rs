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
//! | `…/package_content/upload_from_uri` | POST | 202 once fetched and onboarded; 400 when the address cannot be fetched |
//! | `…/vnfd` | GET | `Accept` negotiation between `text/plain` and `application/zip` |
//! | `…/manifest` | GET | `text/plain` |
//! | `…/artifacts` | GET | v2 only: a zip of the package's artifacts, `Range` supported |
//! | `…/artifacts/{path}` | GET | one artifact, `Range` supported |
//! | `/subscriptions`, `/subscriptions/{id}` | GET, POST, DELETE | 201 + `Location` |
//!
//! Package content uploads (`PUT …/package_content`) take the zip as the body
//! (`application/zip`, also `application/octet-stream`/`application/binary`;
//! multipart is refused with 415, a missing `Content-Type` with 400). The body is
//! streamed to a temporary file and never held in memory here; a declared or actual
//! size above `ApiConfig::max_package_size` is refused with 413 as soon as it shows,
//! and the file is removed on every path.
//! A package that is not CREATED is refused with 409 before the body is read.
//! Onboarding runs in a task of its own, so a client hanging up cannot leave the
//! package half-onboarded; the answer (202, no body) comes once the package is
//! ONBOARDED, and a package that fails validation is answered with the error (and goes
//! back to CREATED with `onboardingFailureDetails`).
//!
//! Downloads (`GET …/package_content`, `…/artifacts`, `…/artifacts/{path}`) say
//! `Accept-Ranges: bytes` and honour a single range (`bytes=a-b`, `bytes=a-`,
//! `bytes=-n`) with 206 and `Content-Range`; a malformed, multi-range or unsatisfiable
//! range is 416 with `Content-Range: bytes */length`.

mod content;
#[doc(hidden)]
pub use content::parse_range;
mod v1;

use std::collections::BTreeSet;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, PackageOnboardingStateType, PkgmSubscriptionRequest, UploadAuthType,
    UploadVnfPackageFromUriRequest, VnfPkgInfo, VnfPkgInfoModifications,
};

use super::sol013::{
    ApiError, ApiResult, EtsiJson, FilterOnly, Listing, api_versions, json_response, located,
    page_response, unsupported_content,
};
use super::{AppState, Caller, VNFPKGM_V1_VERSION, VNFPKGM_VERSION};
use content::{has_flag, query_flags};

/// The complex attributes of `VnfPkgInfo` left out of lists by default.
pub(crate) const PACKAGE_COMPLEX: &[&str] = &[
    "softwareImages",
    "additionalArtifacts",
    "userDefinedData",
    "checksum",
    "onboardingFailureDetails",
];

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
    Router::new()
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
            "/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/subscriptions/{id}",
            get(show_subscription).delete(delete_subscription),
        )
        .route(
            "/vnf_packages/{id}/package_content/upload_from_uri",
            match shape {
                Shape::V2 => post(upload_from_uri),
                Shape::V1 => post(upload_from_uri_v1),
            },
        )
}

/// `/vnfpkgm/v2`.
pub(crate) fn routes_v2() -> Router<AppState> {
    shared(Shape::V2)
        .route("/vnf_packages/{id}/artifacts", get(fetch_artifacts))
        .layer(Extension(Shape::V2))
}

/// `/vnfpkgm/v1`.
pub(crate) fn routes_v1() -> Router<AppState> {
    shared(Shape::V1).layer(Extension(Shape::V1))
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
    let page = state
        .packages()
        .list(caller.tenant(), &params.query())
        .await?;
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
    let file = content::spool(&headers, body, state.config().max_package_size).await?;
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

async fn start_upload_from_uri(
    state: &AppState,
    caller: &Caller,
    id: String,
    request: UploadVnfPackageFromUriRequest,
    basic_auth: Option<(String, String)>,
) -> ApiResult<StatusCode> {
    let info = state.packages().get(caller.tenant(), &id).await?;
    ensure_created(&info)?;
    let packages = state.packages().clone();
    let tenant = caller.tenant().clone();
    detached(async move {
        let credentials = basic_auth
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()));
        packages
            .upload_from_uri(&tenant, &id, &request, credentials)
            .await
            .map_err(|error| match error {
                // The address the client gave cannot be fetched: an error in the request
                // (SOL013 6.4: 400), not in this server.
                tacker_core::Error::Driver { .. } => tacker_core::Error::InvalidRequest(format!(
                    "the package cannot be fetched from {}: {error}",
                    request.address_information
                )),
                other => other,
            })
    })
    .await?;
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
    let packages = state.packages();
    if !headers.contains_key(axum::http::header::RANGE) {
        let (bytes, size) = packages.package_content(caller.tenant(), &id, None).await?;
        return content::ranged_response("application/zip", bytes, None, size);
    }
    // The size first (a one-byte read), to resolve the range against it.
    let (_, size) = packages
        .package_content(caller.tenant(), &id, Some(0..1))
        .await?;
    let range = content::requested_range(&headers, size)?;
    let (bytes, size) = packages
        .package_content(caller.tenant(), &id, range.clone())
        .await?;
    content::ranged_response("application/zip", bytes, range, size)
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
        .artifact(caller.tenant(), &id, &artifact_path, None)
        .await?;
    content::serve_bytes(
        &headers,
        content::media_type_of(&artifact_path),
        Bytes::from(artifact),
    )
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
    let mut files = Vec::new();
    for path in selected_artifacts(&info, &flags)? {
        match packages.artifact(caller.tenant(), &id, &path, None).await {
            Ok(content) => files.push((path, content)),
            // A software image the VNFD names but the package does not carry.
            Err(tacker_core::Error::NotFound { .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let archive = tokio::task::spawn_blocking(move || zip_files(files))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("building the artifacts archive failed: {e}"),
            )
        })??;
    content::serve_bytes(&headers, "application/zip", Bytes::from(archive))
}

/// A zip (entries stored, not compressed) of files, in the package's directory layout.
fn zip_files(files: Vec<(String, Vec<u8>)>) -> ApiResult<Vec<u8>> {
    use std::io::Write as _;
    let failed = |e: &dyn std::fmt::Display| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("building the artifacts archive failed: {e}"),
        )
    };
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in files {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(u64::try_from(content.len()).unwrap_or(u64::MAX) >= u64::from(u32::MAX));
        writer.start_file(path, options).map_err(|e| failed(&e))?;
        writer.write_all(&content).map_err(|e| failed(&e))?;
    }
    Ok(writer.finish().map_err(|e| failed(&e))?.into_inner())
}

// ----- Subscriptions -------------------------------------------------------------------

async fn create_subscription(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
    caller: Caller,
    EtsiJson(request): EtsiJson<PkgmSubscriptionRequest>,
) -> ApiResult<Response> {
    let subscription = state
        .packages()
        .subscribe(caller.tenant(), request)
        .await
        .map_err(unsupported_content)?;
    located(
        StatusCode::CREATED,
        &shape.subscription_uri(&state, &subscription.id),
        &shape.subscription(to_json(&subscription)?),
    )
}

async fn list_subscriptions(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    FilterOnly(params): FilterOnly,
) -> ApiResult<Response> {
    let page = state
        .packages()
        .subscriptions(caller.tenant(), &params.query())
        .await?;
    page_response(page, &state.config().api_root, &uri, |value| {
        shape.subscription(value)
    })
}

async fn show_subscription(
    State(state): State<AppState>,
    Extension(shape): Extension<Shape>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let subscription = state.packages().subscription(caller.tenant(), &id).await?;
    json_response(StatusCode::OK, &shape.subscription(to_json(&subscription)?))
}

async fn delete_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.packages().unsubscribe(caller.tenant(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
