//! `SimVimDriver`: registers simulated VIMs.

use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::{Shared, SimInfraDriver, SimOperation};
use crate::model::VimConnectionInfo;
use crate::vim::{VimDescription, VimDriver};
use crate::{Error, Result};

/// The [`VimDriver`] of the simulated VIM.
///
/// It needs no credentials. What it checks, in order:
/// - `vimType` is the simulated VIM's type (else `InvalidRequest`);
/// - `interfaceInfo.endpoint`, when present, is a string (else `InvalidRequest`);
/// - `accessInfo.region`, when present, is a non-empty string (else `InvalidRequest`);
///   it is the region reported, `sim-region` by default;
/// - `accessInfo.fail: true` makes the VIM refuse the credentials: a non-retryable
///   driver error, as a real VIM answering 401 would.
///
/// It reports the region, the version `sim-<crate version>`, and in `extra` the VIM
/// type, the capabilities of the infra driver and how many deployments it holds (for a
/// durable VIM, how many this process last read or wrote).
/// Validation counts as [`SimOperation::Validate`] for latency, faults and call counts.
/// Obtained from [`SimInfraDriver::vim_driver`] it shares the infra driver's state;
/// [`SimVimDriver::default`] stands alone.
#[derive(Debug, Clone)]
pub struct SimVimDriver {
    shared: Arc<Shared>,
}

impl SimVimDriver {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl Default for SimVimDriver {
    fn default() -> Self {
        SimInfraDriver::default().vim_driver()
    }
}

fn invalid(message: &str) -> Error {
    Error::InvalidRequest(message.to_owned())
}

#[async_trait]
impl VimDriver for SimVimDriver {
    fn vim_type(&self) -> &str {
        &self.shared.vim_type
    }

    async fn validate(&self, vim: &VimConnectionInfo) -> Result<VimDescription> {
        let never = CancellationToken::new();
        let call = self
            .shared
            .begin(SimOperation::Validate, Some(vim), &never)
            .await?;
        if call.partial {
            return Err(call.injected());
        }
        if vim
            .interface_info
            .get("endpoint")
            .is_some_and(|endpoint| !endpoint.is_string())
        {
            return Err(invalid("interfaceInfo.endpoint must be a string"));
        }
        let region = match vim.access_info.get("region") {
            None => "sim-region".to_owned(),
            Some(Value::String(region)) if !region.is_empty() => region.clone(),
            Some(_) => return Err(invalid("accessInfo.region must be a non-empty string")),
        };
        if vim.access_info.get("fail") == Some(&Value::Bool(true)) {
            return Err(Error::driver(
                "sim",
                false,
                "the simulated VIM refused the credentials (accessInfo.fail is true)",
            ));
        }
        Ok(VimDescription::new()
            .with_regions(vec![region])
            .with_version(Some(format!("sim-{}", env!("CARGO_PKG_VERSION"))))
            .with_extra("vimType", json!(self.shared.vim_type))
            .with_extra(
                "capabilities",
                serde_json::to_value(self.shared.capabilities).unwrap_or(Value::Null),
            )
            .with_extra("deployments", json!(self.shared.lock().deployments.len())))
    }
}
