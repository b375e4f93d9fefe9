//! [`HttpLcmCoordinator`]: runs LCM coordination actions with an EM or the NFVO over
//! SOL002 `VNFLCMCoordination` (`POST {endpoint}/lcmcoord/v1/coordinations`).
//!
//! - **201 Created** with the `LcmCoord`: the result.
//! - **202 Accepted** with `Location`: the coordination runs; it is polled (`GET`, 202
//!   while it runs) with a growing interval until it answers 200 with the `LcmCoord`,
//!   within a deadline; one not finished by then fails retryably (the operation goes
//!   FAILED_TEMP; a retry runs the action again).
//! - **503, 5xx, 408, 429, no connection**: tried again with backoff (the connection's
//!   retries), then a retryable error. 409 (another coordination of the instance is
//!   running) counts as "cannot answer now" too.
//! - **another 4xx**: a non-retryable error naming the status.
//!
//! The `LcmCoord` must be for the operation and action asked; its `error` detail or
//! `outputParams.reason` is quoted (sanitised, bounded) when it aborts.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Method, Response, StatusCode};
use tacker_core::coordination::LcmCoordinator;
use tacker_core::model::{LcmCoord, LcmCoordRequest};
use tacker_core::{Error, Result, TenantId};
use url::Url;

use crate::http::{self, DRIVER};
use crate::nfvo::{NfvoConnection, Polled, Polling};

/// The `Version` of SOL002 VNF LCM coordination v1 sent.
pub const COORDINATION_API_VERSION: &str = "1.1.0";

const JSON: &str = "application/json";

/// Coordination actions over HTTP (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpLcmCoordinator {
    endpoint: NfvoConnection,
    version: HeaderValue,
    poll_interval: Duration,
    max_poll_interval: Duration,
    deadline: Duration,
}

impl HttpLcmCoordinator {
    /// Coordination at the API root of `endpoint` (an EM's or the NFVO's: the
    /// coordinations are at `{root}/lcmcoord/v1/coordinations`), polling from 1 s up
    /// to 10 s within 300 s.
    pub fn new(endpoint: NfvoConnection) -> Self {
        Self {
            endpoint,
            version: HeaderValue::from_static(COORDINATION_API_VERSION),
            poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
        }
    }

    /// The polling of a running coordination: the first interval (doubling), the
    /// longest, and how long it may run.
    pub fn polling(
        mut self,
        interval: Duration,
        max_interval: Duration,
        deadline: Duration,
    ) -> Self {
        self.poll_interval = interval;
        self.max_poll_interval = max_interval.max(interval);
        self.deadline = deadline;
        self
    }

    async fn answer(
        &self,
        method: &Method,
        url: &Url,
        mut response: Response,
        request: &LcmCoordRequest,
    ) -> Result<Polled<Box<LcmCoord>>> {
        let status = response.status();
        let shown = http::redact(url);
        match status {
            StatusCode::CREATED | StatusCode::OK => {
                let body = self
                    .endpoint
                    .read_answer(&mut response, method, url)
                    .await?;
                let coord: LcmCoord = serde_json::from_slice(&body).map_err(|e| {
                    Error::driver(
                        DRIVER,
                        false,
                        format!("{method} {shown} answered {status} without a valid LcmCoord: {e}"),
                    )
                })?;
                if coord.vnf_lcm_op_occ_id != request.vnf_lcm_op_occ_id
                    || coord.coordination_action_name != request.coordination_action_name
                {
                    return Err(Error::driver(
                        DRIVER,
                        false,
                        format!(
                            "{method} {shown} answered the coordination of another operation or action"
                        ),
                    ));
                }
                Ok(Polled::Done(Box::new(coord)))
            }
            StatusCode::ACCEPTED => Ok(Polled::Pending(self.endpoint.pending_location(
                method,
                url,
                &response,
                "the coordination's Location",
            )?)),
            StatusCode::CONFLICT => Err(Error::driver(
                DRIVER,
                true,
                format!(
                    "{method} {shown} answered 409: another coordination of the VNF instance is running"
                ),
            )),
            _ => {
                let message = http::status_message(method, url, response).await;
                Err(Error::driver(
                    DRIVER,
                    http::status_retryable(status),
                    message,
                ))
            }
        }
    }
}

#[async_trait]
impl LcmCoordinator for HttpLcmCoordinator {
    async fn coordinate(&self, _tenant: &TenantId, request: &LcmCoordRequest) -> Result<LcmCoord> {
        let url = self.endpoint.join("lcmcoord/v1/coordinations")?;
        let body = serde_json::to_vec(request).map(Bytes::from).map_err(|e| {
            Error::Internal(format!("cannot serialise a coordination request: {e}"))
        })?;
        let started = Instant::now();
        let response = self
            .endpoint
            .send_with_retries(&Method::POST, &url, Some(&body), &self.version, JSON)
            .await?;
        let pending = match self.answer(&Method::POST, &url, response, request).await? {
            Polled::Done(coord) => return Ok(*coord),
            Polled::Pending(next) => next,
        };
        let polling = Polling {
            interval: self.poll_interval,
            max_interval: self.max_poll_interval,
            deadline: self.deadline,
        };
        let late = |pending: &Url| {
            format!(
                "the coordination action '{}' did not finish within {:?} ({})",
                request.coordination_action_name,
                self.deadline,
                http::redact(pending)
            )
        };
        self.endpoint
            .poll(
                pending,
                &self.version,
                polling,
                started,
                late,
                |url, response| async move {
                    self.answer(&Method::GET, &url, response, request).await
                },
            )
            .await
            .map(|coord| *coord)
    }
}
