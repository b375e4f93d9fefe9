//! The one error type of the VNFM, with its mapping to ETSI `ProblemDetails`.

use crate::model::ProblemDetails;

/// A boxed error from a driver, a store back end or another dependency.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the VNFM, by meaning rather than by origin.
///
/// Each variant maps to one HTTP status of the ETSI APIs ([`Error::status`]);
/// [`Error::to_problem_details`] builds the response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource does not exist (or belongs to another tenant). 404.
    #[error("{kind} {id} not found")]
    NotFound {
        /// The kind of resource, e.g. `VnfInstance`.
        kind: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The request conflicts with the resource's state: another operation is in
    /// progress, the instance is in the wrong instantiation state, a stale version. 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed: a missing or ill-typed field, a bad filter. 400.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The request is well-formed but cannot be honoured against the VNFD or the
    /// instance (an unknown flavour, a scale beyond `max_scale_level`). 422.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// The operation is not supported by the driver or the VNFM. 501 for a task the
    /// VNFM never offers; the engine refuses up front, before accepting the request.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// The resource cannot be given in the representation asked for (a multi-file
    /// VNFD as plain YAML). 406.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// A precondition of the request (such as `If-Match`) failed. 412.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The caller is not allowed to do this. 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request content is larger than this VNFM accepts (a package above the
    /// configured maximum size); the message names the limit. 413.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A driver (VIM, MgmtDriver, NFVO) failed.
    #[error("{driver} driver failed: {source}")]
    Driver {
        /// Which driver, e.g. `sim` or `openstack`.
        driver: String,
        /// Whether trying again later may succeed (a timeout, a 503). The engine ends a
        /// failing operation in FAILED_TEMP either way; this guides automatic retry.
        retryable: bool,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The operation was cancelled through its cancellation token.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// The store failed (I/O, connection, corruption). 503 when `retryable`, else 500.
    #[error("store error: {message}")]
    Store {
        /// What failed.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// A bug or a broken invariant. 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// `NotFound` for a resource kind and identifier.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// A driver error.
    pub fn driver(driver: impl Into<String>, retryable: bool, source: impl Into<BoxError>) -> Self {
        Self::Driver {
            driver: driver.into(),
            retryable,
            source: source.into(),
        }
    }

    /// A store error.
    pub fn store(message: impl Into<String>, retryable: bool) -> Self {
        Self::Store {
            message: message.into(),
            retryable,
        }
    }

    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Driver { retryable, .. } | Self::Store { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The HTTP status the ETSI APIs answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::Conflict(_) => 409,
            Self::InvalidRequest(_) => 400,
            Self::Unprocessable(_) => 422,
            Self::NotSupported(_) => 501,
            Self::NotAcceptable(_) => 406,
            Self::PreconditionFailed(_) => 412,
            Self::Forbidden(_) => 403,
            Self::TooLarge(_) => 413,
            Self::Driver { .. } => 500,
            Self::Cancelled(_) => 409,
            Self::Store {
                retryable: true, ..
            } => 503,
            Self::Store { .. } | Self::Internal(_) => 500,
        }
    }

    /// The short, stable title of the problem type.
    pub fn title(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "Not Found",
            Self::Conflict(_) => "Conflict",
            Self::InvalidRequest(_) => "Bad Request",
            Self::Unprocessable(_) => "Unprocessable Entity",
            Self::NotSupported(_) => "Not Implemented",
            Self::NotAcceptable(_) => "Not Acceptable",
            Self::PreconditionFailed(_) => "Precondition Failed",
            Self::Forbidden(_) => "Forbidden",
            Self::TooLarge(_) => "Payload Too Large",
            Self::Driver { .. } => "Driver Error",
            Self::Cancelled(_) => "Cancelled",
            Self::Store {
                retryable: true, ..
            } => "Service Unavailable",
            Self::Store { .. } => "Store Error",
            Self::Internal(_) => "Internal Server Error",
        }
    }

    /// The ETSI `ProblemDetails` for this error. The detail names the cause, including
    /// the chain of sources of a driver error.
    pub fn to_problem_details(&self) -> ProblemDetails {
        let mut detail = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !detail.contains(&text) {
                detail.push_str(": ");
                detail.push_str(&text);
            }
            source = cause.source();
        }
        ProblemDetails {
            problem_type: None,
            title: Some(self.title().to_owned()),
            status: self.status(),
            detail,
            instance: None,
        }
    }
}

/// The longest reason quoted from another system in an error a client sees.
pub const MAX_QUOTED_REASON: usize = 300;

/// `text` fit to quote in an error a client sees: control characters replaced by
/// spaces, at most [`MAX_QUOTED_REASON`] characters (cut with `…`).
pub fn bounded_reason(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTED_REASON)
        .collect();
    if text.chars().count() > MAX_QUOTED_REASON {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_etsi_status() {
        let cases: Vec<(Error, u16)> = vec![
            (Error::not_found("VnfInstance", "x"), 404),
            (Error::Conflict("busy".into()), 409),
            (Error::InvalidRequest("bad".into()), 400),
            (Error::Unprocessable("no flavour".into()), 422),
            (Error::NotSupported("heal".into()), 501),
            (Error::NotAcceptable("multi-file VNFD".into()), 406),
            (Error::PreconditionFailed("etag".into()), 412),
            (Error::Forbidden("scope".into()), 403),
            (Error::TooLarge("package".into()), 413),
            (Error::driver("sim", true, "timeout"), 500),
            (Error::Cancelled("by user".into()), 409),
            (Error::store("down", true), 503),
            (Error::store("corrupt", false), 500),
            (Error::Internal("bug".into()), 500),
        ];
        for (error, status) in cases {
            let problem = error.to_problem_details();
            assert_eq!(problem.status, status, "{error}");
            assert_eq!(problem.title.as_deref(), Some(error.title()));
            assert!(!problem.detail.is_empty());
        }
    }

    #[test]
    fn driver_error_detail_names_driver_and_cause() {
        let error = Error::driver("openstack", false, "stack CREATE_FAILED: quota exceeded");
        let problem = error.to_problem_details();
        assert!(problem.detail.contains("openstack"));
        assert!(problem.detail.contains("quota exceeded"));
        assert!(!error.is_retryable());
        assert!(Error::driver("k8s", true, "timeout").is_retryable());
    }
}
