//! The OpenAPI 3.0 document of what this server serves, at `GET /openapi.json`.
//!
//! It is built from one table of operations ([`OPERATIONS`]); a test walks the table
//! against the router, so a route cannot be added or removed without the document
//! following. ETSI data types are referenced in the ETSI NFV OpenAPI documents
//! (SOL003 v3.7.1, SOL005 v3.7.1) the APIs implement; the VIM registry, this VNFM's own
//! API, has its schemas inline.

use serde_json::{Map, Value, json};

use super::{VIMS_VERSION, VNFFM_VERSION, VNFLCM_VERSION, VNFPKGM_V1_VERSION, VNFPKGM_VERSION};

const LCM_DEFS: &str = "https://forge.etsi.org/rep/nfv/SOL002-SOL003/raw/v3.7.1/SOL003/VNFLifecycleManagement/definitions/SOL003VNFLifecycleManagement_def.yaml#/definitions/";
const PKGM_DEFS: &str = "https://forge.etsi.org/rep/nfv/SOL005/raw/v3.7.1/SOL005/VNFPackageManagement/definitions/SOL005VNFPackageManagement_def.yaml#/definitions/";
const FM_DEFS: &str = "https://forge.etsi.org/rep/nfv/SOL002-SOL003/raw/v3.7.1/SOL003/VNFFaultManagement/definitions/SOL003VNFFaultManagement_def.yaml#/definitions/";
const PROBLEM: &str = "https://forge.etsi.org/rep/nfv/SOL002-SOL003/raw/v3.7.1/SOL003/General_Definitions/SOL003_def.yaml#/definitions/ProblemDetails";

/// What a request or response body is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body {
    /// None.
    Empty,
    /// JSON of an ETSI LCM type.
    Lcm(&'static str),
    /// A JSON array of an ETSI LCM type.
    LcmList(&'static str),
    /// JSON of an ETSI fault management type.
    Fm(&'static str),
    /// A JSON array of an ETSI fault management type.
    FmList(&'static str),
    /// JSON of an ETSI package management type.
    Pkgm(&'static str),
    /// A JSON array of an ETSI package management type.
    PkgmList(&'static str),
    /// JSON of a schema of this document (`#/components/schemas/…`).
    Local(&'static str),
    /// A JSON array of a schema of this document.
    LocalList(&'static str),
    /// Bytes of a media type.
    Bytes(&'static str),
    /// `ApiVersionInformation`.
    Versions,
}

/// One operation the server serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub request: Body,
    pub status: u16,
    pub response: Body,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    request: Body,
    status: u16,
    response: Body,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        request,
        status,
        response,
    }
}

use Body::*;

/// Every operation of the server, with the path as served.
pub(crate) const OPERATIONS: &[Operation] = &[
    // VNF lifecycle management.
    op(
        "get",
        "/vnflcm/api_versions",
        "API versions (without a major version in the path)",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vnflcm/v2/api_versions",
        "API versions",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vnflcm/v2/vnf_instances",
        "List VNF instances (SOL013 filter, selectors, paging)",
        Empty,
        200,
        LcmList("VnfInstance"),
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances",
        "Create a VNF identifier",
        Lcm("CreateVnfRequest"),
        201,
        Lcm("VnfInstance"),
    ),
    op(
        "get",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}",
        "Read a VNF instance",
        Empty,
        200,
        Lcm("VnfInstance"),
    ),
    op(
        "patch",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}",
        "Modify VNF information (merge patch)",
        Lcm("VnfInfoModificationRequest"),
        202,
        Empty,
    ),
    op(
        "delete",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}",
        "Delete a VNF identifier",
        Empty,
        204,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/instantiate",
        "Instantiate",
        Lcm("InstantiateVnfRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/terminate",
        "Terminate",
        Lcm("TerminateVnfRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/scale",
        "Scale",
        Lcm("ScaleVnfRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/scale_to_level",
        "Scale to level",
        Lcm("ScaleVnfToLevelRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/heal",
        "Heal",
        Lcm("HealVnfRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/change_flavour",
        "Change flavour",
        Lcm("ChangeVnfFlavourRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/operate",
        "Operate (start, stop)",
        Lcm("OperateVnfRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/change_ext_conn",
        "Change external connectivity",
        Lcm("ChangeExtVnfConnectivityRequest"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_instances/{vnfInstanceId}/change_vnfpkg",
        "Change the current VNF package",
        Lcm("ChangeCurrentVnfPkgRequest"),
        202,
        Empty,
    ),
    op(
        "get",
        "/vnflcm/v2/vnf_lcm_op_occs",
        "List operation occurrences",
        Empty,
        200,
        LcmList("VnfLcmOpOcc"),
    ),
    op(
        "get",
        "/vnflcm/v2/vnf_lcm_op_occs/{vnfLcmOpOccId}",
        "Read an operation occurrence",
        Empty,
        200,
        Lcm("VnfLcmOpOcc"),
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_lcm_op_occs/{vnfLcmOpOccId}/retry",
        "Retry a FAILED_TEMP operation",
        Empty,
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_lcm_op_occs/{vnfLcmOpOccId}/rollback",
        "Roll back a FAILED_TEMP operation",
        Empty,
        202,
        Empty,
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_lcm_op_occs/{vnfLcmOpOccId}/fail",
        "Mark a FAILED_TEMP operation FAILED",
        Empty,
        200,
        Lcm("VnfLcmOpOcc"),
    ),
    op(
        "post",
        "/vnflcm/v2/vnf_lcm_op_occs/{vnfLcmOpOccId}/cancel",
        "Cancel a running operation",
        Lcm("CancelMode"),
        202,
        Empty,
    ),
    op(
        "get",
        "/vnflcm/v2/subscriptions",
        "List LCM subscriptions",
        Empty,
        200,
        LcmList("LccnSubscription"),
    ),
    op(
        "post",
        "/vnflcm/v2/subscriptions",
        "Subscribe to LCM notifications",
        Lcm("LccnSubscriptionRequest"),
        201,
        Lcm("LccnSubscription"),
    ),
    op(
        "get",
        "/vnflcm/v2/subscriptions/{subscriptionId}",
        "Read an LCM subscription",
        Empty,
        200,
        Lcm("LccnSubscription"),
    ),
    op(
        "delete",
        "/vnflcm/v2/subscriptions/{subscriptionId}",
        "Delete an LCM subscription",
        Empty,
        204,
        Empty,
    ),
    // VNF fault management.
    op(
        "get",
        "/vnffm/api_versions",
        "API versions (without a major version in the path)",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vnffm/v1/api_versions",
        "API versions",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vnffm/v1/alarms",
        "List alarms",
        Empty,
        200,
        FmList("Alarm"),
    ),
    op(
        "get",
        "/vnffm/v1/alarms/{alarmId}",
        "Read an alarm",
        Empty,
        200,
        Fm("Alarm"),
    ),
    op(
        "patch",
        "/vnffm/v1/alarms/{alarmId}",
        "Acknowledge an alarm",
        Fm("AlarmModifications"),
        200,
        Fm("AlarmModifications"),
    ),
    op(
        "get",
        "/vnffm/v1/subscriptions",
        "List FM subscriptions",
        Empty,
        200,
        FmList("FmSubscription"),
    ),
    op(
        "post",
        "/vnffm/v1/subscriptions",
        "Subscribe to FM notifications",
        Fm("FmSubscriptionRequest"),
        201,
        Fm("FmSubscription"),
    ),
    op(
        "get",
        "/vnffm/v1/subscriptions/{subscriptionId}",
        "Read an FM subscription",
        Empty,
        200,
        Fm("FmSubscription"),
    ),
    op(
        "delete",
        "/vnffm/v1/subscriptions/{subscriptionId}",
        "Delete an FM subscription",
        Empty,
        204,
        Empty,
    ),
    // Health monitoring.
    op(
        "post",
        "/monitoring/v1/alertmanager",
        "Receive Prometheus Alertmanager alerts",
        Local("AlertmanagerPayload"),
        200,
        Local("AlertOutcome"),
    ),
    // VNF package management (v2; v1 serves the same paths under /vnfpkgm/v1).
    op(
        "get",
        "/vnfpkgm/api_versions",
        "API versions (without a major version in the path)",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vnfpkgm/v2/api_versions",
        "API versions",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages",
        "List VNF packages",
        Empty,
        200,
        PkgmList("VnfPkgInfo"),
    ),
    op(
        "post",
        "/vnfpkgm/v2/vnf_packages",
        "Create a VNF package",
        Pkgm("CreateVnfPkgInfoRequest"),
        201,
        Pkgm("VnfPkgInfo"),
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}",
        "Read a VNF package",
        Empty,
        200,
        Pkgm("VnfPkgInfo"),
    ),
    op(
        "patch",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}",
        "Enable, disable or change user data",
        Pkgm("VnfPkgInfoModifications"),
        200,
        Pkgm("VnfPkgInfoModifications"),
    ),
    op(
        "delete",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}",
        "Delete a VNF package",
        Empty,
        204,
        Empty,
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/vnfd",
        "The VNFD (text/plain or a zip, by Accept)",
        Empty,
        200,
        Bytes("text/plain"),
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/manifest",
        "The manifest",
        Empty,
        200,
        Bytes("text/plain"),
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/package_content",
        "The package (Range supported)",
        Empty,
        200,
        Bytes("application/zip"),
    ),
    op(
        "put",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/package_content",
        "Upload the package (streamed)",
        Bytes("application/zip"),
        202,
        Empty,
    ),
    op(
        "post",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/package_content/upload_from_uri",
        "Upload the package from a URI",
        Pkgm("UploadVnfPackageFromUriRequest"),
        202,
        Empty,
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/artifacts",
        "The artifacts as a zip archive",
        Empty,
        200,
        Bytes("application/zip"),
    ),
    op(
        "get",
        "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/artifacts/{artifactPath}",
        "One artifact (Range supported)",
        Empty,
        200,
        Bytes("application/octet-stream"),
    ),
    op(
        "get",
        "/vnfpkgm/v2/subscriptions",
        "List package subscriptions",
        Empty,
        200,
        PkgmList("PkgmSubscription"),
    ),
    op(
        "post",
        "/vnfpkgm/v2/subscriptions",
        "Subscribe to package notifications",
        Pkgm("PkgmSubscriptionRequest"),
        201,
        Pkgm("PkgmSubscription"),
    ),
    op(
        "get",
        "/vnfpkgm/v2/subscriptions/{subscriptionId}",
        "Read a package subscription",
        Empty,
        200,
        Pkgm("PkgmSubscription"),
    ),
    op(
        "delete",
        "/vnfpkgm/v2/subscriptions/{subscriptionId}",
        "Delete a package subscription",
        Empty,
        204,
        Empty,
    ),
    // VIM registry.
    op(
        "get",
        "/vims/api_versions",
        "API versions",
        Empty,
        200,
        Versions,
    ),
    op(
        "get",
        "/vims",
        "List VIMs (no credentials)",
        Empty,
        200,
        LocalList("VimInfo"),
    ),
    op(
        "post",
        "/vims",
        "Register a VIM (credentials are sealed at rest)",
        Local("VimRegistration"),
        201,
        Local("VimInfo"),
    ),
    op(
        "get",
        "/vims/default",
        "The tenant's default VIM",
        Empty,
        200,
        Local("VimInfo"),
    ),
    op(
        "get",
        "/vims/{vimId}",
        "Read a VIM",
        Empty,
        200,
        Local("VimInfo"),
    ),
    op(
        "patch",
        "/vims/{vimId}",
        "Update a VIM",
        Local("VimUpdate"),
        200,
        Local("VimInfo"),
    ),
    op(
        "delete",
        "/vims/{vimId}",
        "Deregister a VIM",
        Empty,
        204,
        Empty,
    ),
];

fn schema(body: Body) -> Option<(String, Value)> {
    let json_ref = |base: &str, name: &str| json!({"$ref": format!("{base}{name}")});
    let local = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    Some(match body {
        Empty => return None,
        Lcm(name) => ("application/json".into(), json_ref(LCM_DEFS, name)),
        LcmList(name) => (
            "application/json".into(),
            json!({"type": "array", "items": json_ref(LCM_DEFS, name)}),
        ),
        Fm(name) => ("application/json".into(), json_ref(FM_DEFS, name)),
        FmList(name) => (
            "application/json".into(),
            json!({"type": "array", "items": json_ref(FM_DEFS, name)}),
        ),
        Pkgm(name) => ("application/json".into(), json_ref(PKGM_DEFS, name)),
        PkgmList(name) => (
            "application/json".into(),
            json!({"type": "array", "items": json_ref(PKGM_DEFS, name)}),
        ),
        Local(name) => ("application/json".into(), local(name)),
        LocalList(name) => (
            "application/json".into(),
            json!({"type": "array", "items": local(name)}),
        ),
        Bytes(media) => (media.into(), json!({"type": "string", "format": "binary"})),
        Versions => ("application/json".into(), local("ApiVersionInformation")),
    })
}

fn content(body: Body) -> Option<Value> {
    schema(body).map(|(media, schema)| json!({ media: {"schema": schema} }))
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": PROBLEM}}},
    })
}

fn operation(o: &Operation, path: &str) -> Value {
    let mut parameters = Vec::new();
    for segment in path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            parameters.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
    }
    let versions = path.ends_with("/api_versions");
    let v1 = path.starts_with("/vnfpkgm/v1") || path.starts_with("/monitoring/v1");
    if !versions {
        parameters.push(json!({
            "name": "Version", "in": "header", "required": !v1,
            "description": "The API version (SOL013); missing: 400, unsupported: 406.",
            "schema": {"type": "string"},
        }));
    }
    let list = o.method == "get"
        && matches!(
            o.response,
            LcmList(_) | PkgmList(_) | FmList(_) | LocalList(_)
        );
    if list {
        parameters.push(json!({"name": "filter", "in": "query", "schema": {"type": "string"},
            "description": "SOL013 attribute filter, e.g. (eq,instantiationState,INSTANTIATED);(in,vnfProvider,a,b)"}));
        parameters.push(
            json!({"name": "nextpage_opaque_marker", "in": "query", "schema": {"type": "string"}}),
        );
        if !path.ends_with("/subscriptions")
            && !path.starts_with("/vims")
            && !path.starts_with("/vnffm")
        {
            for name in ["all_fields", "fields", "exclude_fields", "exclude_default"] {
                parameters.push(json!({"name": name, "in": "query", "schema": {"type": "string"}}));
            }
        }
    }
    let mut success = json!({"description": o.summary});
    if let Some(content) = content(o.response) {
        success["content"] = content;
    }
    if matches!(o.status, 201 | 202) {
        success["headers"] = json!({"Location": {"schema": {"type": "string", "format": "uri"}}});
    }
    if list {
        success["headers"] = json!({"Link": {"description": "<next page>; rel=\"next\" when more follow", "schema": {"type": "string"}}});
    }
    let mut responses = Map::new();
    responses.insert(o.status.to_string(), success);
    for (status, why) in [
        (
            "400",
            "Malformed request (the detail names the field or parameter)",
        ),
        ("401", "No valid credentials"),
        ("403", "Not allowed (scope)"),
        ("404", "No such resource"),
        ("406", "Unsupported Version or Accept"),
        ("409", "Conflict with the resource's state"),
        (
            "422",
            "Valid syntax, refused by the VNFD or the current state",
        ),
        ("500", "Internal error"),
        ("503", "The store is unavailable"),
    ] {
        responses.insert(status.to_owned(), problem(why));
    }
    let mut value = json!({
        "summary": o.summary,
        "operationId": format!("{}{}", o.method, path.replace(['/', '{', '}'], "_")),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(content) = content(o.request) {
        value["requestBody"] = json!({"required": true, "content": content});
    }
    value
}

/// The document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut entries = vec![o.path.to_owned()];
        // The v1 package API serves the same resources, except the artifacts archive.
        if o.path.starts_with("/vnfpkgm/v2")
            && o.path != "/vnfpkgm/v2/vnf_packages/{vnfPkgId}/artifacts"
        {
            entries.push(o.path.replacen("/vnfpkgm/v2", "/vnfpkgm/v1", 1));
        }
        for path in entries {
            let value = operation(o, &path);
            let item = paths
                .entry(path)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(item) = item {
                item.insert(o.method.to_owned(), value);
            }
        }
    }
    let kv = json!({"type": "object", "additionalProperties": true});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "tacker VNF Manager",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "ETSI NFV SOL003 VNF lifecycle management {VNFLCM_VERSION}, SOL003 VNF fault management {VNFFM_VERSION}, SOL005 VNF package management {VNFPKGM_VERSION} (and {VNFPKGM_V1_VERSION} under /vnfpkgm/v1), and the VIM registry {VIMS_VERSION}. ETSI data types are those of the ETSI NFV OpenAPI documents v3.7.1."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {
                "ApiVersionInformation": {
                    "type": "object",
                    "required": ["uriPrefix", "apiVersions"],
                    "properties": {
                        "uriPrefix": {"type": "string"},
                        "apiVersions": {"type": "array", "items": {
                            "type": "object", "required": ["version"],
                            "properties": {"version": {"type": "string"}, "isDeprecated": {"type": "boolean"}, "retirementDate": {"type": "string", "format": "date-time"}},
                        }},
                    },
                },
                "AlertmanagerPayload": {
                    "type": "object",
                    "required": ["alerts"],
                    "description": "The Alertmanager webhook payload (version 4). Alerts are about the VNF instance in the label vnf_instance_id and the VNFC in vnfc_id; severity, alertname, and aspect_id with scale_direction (out or in) are read too.",
                    "properties": {
                        "status": {"type": "string"},
                        "alerts": {"type": "array", "items": {
                            "type": "object", "required": ["status"],
                            "properties": {
                                "status": {"type": "string", "enum": ["firing", "resolved"]},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                                "startsAt": {"type": "string", "format": "date-time"},
                                "endsAt": {"type": "string", "format": "date-time"},
                            },
                        }},
                    },
                },
                "AlertOutcome": {
                    "type": "object",
                    "required": ["healthEvents", "scaleEvents", "ignored"],
                    "properties": {
                        "healthEvents": {"type": "integer"},
                        "scaleEvents": {"type": "integer"},
                        "ignored": {"type": "integer"},
                    },
                },
                "VimRegistration": {
                    "type": "object",
                    "required": ["name", "vimType"],
                    "properties": {
                        "name": {"type": "string"}, "description": {"type": "string"},
                        "vimType": {"type": "string", "example": "ETSINFV.OPENSTACK_KEYSTONE.V_3"},
                        "interfaceInfo": kv, "accessInfo": kv, "extra": kv,
                        "isDefault": {"type": "boolean"},
                    },
                },
                "VimUpdate": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"}, "description": {"type": "string"},
                        "interfaceInfo": kv, "accessInfo": kv, "extra": kv,
                        "isDefault": {"type": "boolean"},
                    },
                },
                "VimInfo": {
                    "type": "object",
                    "required": ["id", "name", "vimType", "interfaceInfo", "extra", "isDefault", "createdAt"],
                    "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
                        "vimType": {"type": "string"}, "interfaceInfo": kv, "extra": kv,
                        "isDefault": {"type": "boolean"}, "createdAt": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    })
}
