//! A kube-rs client for a Kubernetes VIM, built from its `VimConnectionInfo`.
//!
//! `interfaceInfo`: `endpoint` (the API server URL), `ssl_ca_cert` (PEM, optional) and
//! `skip_certificate_verification` (optional, `true` turns certificate checks off; off
//! by default). `accessInfo`: `bearer_token`, or `username` and `password`, or
//! `client_cert` and `client_key` (PEM).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use tacker_core::model::VimConnectionInfo;
use tacker_core::outbound::{self, OutboundPolicy};
use tacker_core::{Error, Result};

/// The `vimType` of a Kubernetes VIM.
pub const KUBERNETES_VIM_TYPE: &str = "ETSINFV.KUBERNETES.V_1";

/// The driver name in errors.
pub(crate) const DRIVER: &str = "kubernetes";

fn text<'a>(map: &'a tacker_core::model::KeyValuePairs, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// Checks the VIM type and builds a client under the default [`OutboundPolicy`]. Fails
/// with `InvalidRequest` naming the missing or malformed field.
pub async fn connect(vim: &VimConnectionInfo) -> Result<kube::Client> {
    connect_with_policy(vim, &OutboundPolicy::default()).await
}

/// Checks the VIM type and builds a client, after checking that the API server's URL
/// and every address its host resolves to now are allowed by `policy` (kube-rs
/// resolves again when connecting; the API server does not redirect). Fails with
/// `InvalidRequest` naming the missing or malformed field, or the policy's rule.
pub async fn connect_with_policy(
    vim: &VimConnectionInfo,
    policy: &OutboundPolicy,
) -> Result<kube::Client> {
    if vim.vim_type != KUBERNETES_VIM_TYPE {
        return Err(Error::InvalidRequest(format!(
            "the Kubernetes driver serves vimType {KUBERNETES_VIM_TYPE}, not {}",
            vim.vim_type
        )));
    }
    let endpoint = text(&vim.interface_info, "endpoint").ok_or_else(|| {
        Error::InvalidRequest("vimConnectionInfo.interfaceInfo.endpoint is missing".to_owned())
    })?;
    let url = url::Url::parse(endpoint).map_err(|e| {
        Error::InvalidRequest(format!(
            "vimConnectionInfo.interfaceInfo.endpoint {endpoint:?} is not a URL: {e}"
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(Error::InvalidRequest(format!(
            "vimConnectionInfo.interfaceInfo.endpoint {endpoint:?} is neither http nor https"
        )));
    }
    let host = url.host_str().unwrap_or_default();
    policy.check_target(url.scheme(), host).map_err(|refused| {
        Error::InvalidRequest(format!("the API server {endpoint}: {refused}"))
    })?;
    let port = url.port_or_known_default().unwrap_or(443);
    let found = policy.resolve(host, port).await.map_err(|e| match e {
        outbound::ResolveError::Refused(refused) => {
            Error::InvalidRequest(format!("the API server {endpoint}: {refused}"))
        }
        lookup => Error::driver(DRIVER, true, format!("the API server {endpoint}: {lookup}")),
    })?;
    tracing::debug!(%endpoint, addresses = ?found, "the API server's addresses are allowed");
    let mut cluster = json!({"server": endpoint});
    if let Some(ca) = text(&vim.interface_info, "ssl_ca_cert") {
        if !ca.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::InvalidRequest(
                "vimConnectionInfo.interfaceInfo.ssl_ca_cert is not a PEM certificate".to_owned(),
            ));
        }
        cluster["certificate-authority-data"] = json!(STANDARD.encode(ca));
    }
    let skip = match vim.interface_info.get("skip_certificate_verification") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::InvalidRequest(format!(
                "vimConnectionInfo.interfaceInfo.skip_certificate_verification must be a boolean, not {other}"
            )));
        }
    };
    if skip {
        cluster["insecure-skip-tls-verify"] = json!(true);
    }
    let access = &vim.access_info;
    let mut user = json!({});
    if let Some(token) = text(access, "bearer_token") {
        user["token"] = json!(token);
    } else if let Some(username) = text(access, "username") {
        let password = text(access, "password").ok_or_else(|| {
            Error::InvalidRequest(
                "vimConnectionInfo.accessInfo has a username but no password".to_owned(),
            )
        })?;
        user["username"] = json!(username);
        user["password"] = json!(password);
    } else if let Some(cert) = text(access, "client_cert") {
        let key = text(access, "client_key").ok_or_else(|| {
            Error::InvalidRequest(
                "vimConnectionInfo.accessInfo has a client_cert but no client_key".to_owned(),
            )
        })?;
        user["client-certificate-data"] = json!(STANDARD.encode(cert));
        user["client-key-data"] = json!(STANDARD.encode(key));
    } else {
        return Err(Error::InvalidRequest(
            "vimConnectionInfo.accessInfo needs bearer_token, username and password, or client_cert and client_key".to_owned(),
        ));
    }
    let kubeconfig: Kubeconfig = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "vim", "cluster": cluster}],
        "users": [{"name": "vim", "user": user}],
        "contexts": [{"name": "vim", "context": {"cluster": "vim", "user": "vim"}}],
        "current-context": "vim",
    }))
    .map_err(|e| Error::InvalidRequest(format!("the Kubernetes VIM's connection data: {e}")))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::InvalidRequest(format!("the Kubernetes VIM's connection data: {e}")))?;
    kube::Client::try_from(config).map_err(|e| {
        Error::driver(
            DRIVER,
            false,
            format!("cannot build a client for {endpoint}: {e}"),
        )
    })
}

/// Maps a kube-rs error: API errors keep the server's message; transport failures are
/// retryable.
pub(crate) fn api_error(what: &str, error: kube::Error) -> Error {
    match error {
        kube::Error::Api(status) => {
            let retryable = status.code >= 500 || status.code == 429 || status.code == 409;
            Error::driver(
                DRIVER,
                retryable,
                format!(
                    "{what}: the API server answered {} {}: {}",
                    status.code,
                    outbound::sanitize_reason(&status.reason, 64),
                    outbound::sanitize_reason(&status.message, 200)
                ),
            )
        }
        other => Error::driver(DRIVER, true, format!("{what}: {other}")),
    }
}

/// Whether a kube-rs error is the API server's 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
