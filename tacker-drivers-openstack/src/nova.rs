//! The part of Nova's compute API that operate needs: start and stop a server and
//! wait for its status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tacker_core::{Error, Result};
use tokio_util::sync::CancellationToken;

use crate::DRIVER;
use crate::keystone::{KeystoneSession, error_message, retryable_status};

/// The catalog type of Nova.
pub const COMPUTE: &str = "compute";

/// Nova over one Keystone session.
#[derive(Debug, Clone)]
pub struct NovaClient {
    session: Arc<KeystoneSession>,
}

impl NovaClient {
    /// A client over `session`.
    pub fn new(session: Arc<KeystoneSession>) -> Self {
        Self { session }
    }

    /// The `status` of server `id` (`ACTIVE`, `SHUTOFF`, …).
    pub async fn status(&self, id: &str) -> Result<String> {
        let (url, response) = self
            .session
            .send(COMPUTE, Method::GET, &format!("servers/{id}"), |r| r)
            .await?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            crate::keystone::transport_error("reading Nova's answer to", url.as_str(), &e)
        })?;
        if !status.is_success() {
            return Err(Error::driver(
                DRIVER,
                retryable_status(status),
                format!(
                    "Nova refused to show server {id} ({url}): {status}: {}",
                    error_message(&body)
                ),
            ));
        }
        let value: Value = serde_json::from_str(&body).map_err(|e| {
            Error::driver(
                DRIVER,
                false,
                format!("Nova's answer for server {id} does not parse: {e}"),
            )
        })?;
        value
            .pointer("/server/status")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::driver(
                    DRIVER,
                    false,
                    format!("Nova's answer for server {id} has no status"),
                )
            })
    }

    /// Starts (`start`) or stops server `id` and waits until it is `ACTIVE` or
    /// `SHUTOFF`; a server already there is left alone.
    pub async fn set_power(
        &self,
        id: &str,
        start: bool,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let wanted = if start { "ACTIVE" } else { "SHUTOFF" };
        if self.status(id).await? == wanted {
            return Ok(());
        }
        let action = if start { "os-start" } else { "os-stop" };
        let body = json!({ action: null });
        let (url, response) = self
            .session
            .send(
                COMPUTE,
                Method::POST,
                &format!("servers/{id}/action"),
                |r| r.json(&body),
            )
            .await?;
        let status = response.status();
        if !(status.is_success() || status == StatusCode::CONFLICT) {
            let text = response.text().await.unwrap_or_default();
            return Err(Error::driver(
                DRIVER,
                retryable_status(status),
                format!(
                    "Nova refused {action} of server {id} ({url}): {status}: {}",
                    error_message(&text)
                ),
            ));
        }
        let mut pause = Duration::from_millis(200);
        loop {
            let current = self.status(id).await?;
            if current == wanted {
                return Ok(());
            }
            if current == "ERROR" {
                return Err(Error::driver(
                    DRIVER,
                    true,
                    format!("server {id} went to ERROR during {action}"),
                ));
            }
            if Instant::now() >= deadline {
                return Err(Error::driver(
                    DRIVER,
                    true,
                    format!("server {id} is still {current} after {action}, not {wanted}"),
                ));
            }
            tokio::select! {
                () = cancel.cancelled() => {
                    return Err(Error::Cancelled(format!("cancelled during {action} of server {id}")));
                }
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}
