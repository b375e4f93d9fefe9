//! The one error type of the VNFM, with its mapping to ETSI `ProblemDetails`.

use crate::model::{InstantiationState, LcmOperationType, ProblemDetails};

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
    /// The request conflicts with the resource's state in a way none of the structured
    /// conflicts below names (a flavour already in use, an alarm already acknowledged,
    /// a key another resource holds). 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Another LCM operation is in progress on the VNF instance: SOL003 allows one at
    /// a time. 409.
    #[error("conflict: {}", in_progress_text(vnf_instance_id, vnf_lcm_op_occ_id, *operation))]
    OperationInProgress {
        /// The VNF instance.
        vnf_instance_id: String,
        /// The operation occurrence in progress.
        vnf_lcm_op_occ_id: String,
        /// Its operation, when the one who noticed knows it.
        operation: Option<LcmOperationType>,
    },
    /// The VNF instance is not in the instantiation state the request needs (an
    /// instantiate of an INSTANTIATED instance, a scale of a NOT_INSTANTIATED one). 409.
    #[error("conflict: {detail}")]
    WrongInstantiationState {
        /// The VNF instance.
        vnf_instance_id: String,
        /// The state the request needs.
        expected: InstantiationState,
        /// The state the instance is in.
        actual: InstantiationState,
        /// What was refused and why, for people.
        detail: String,
    },
    /// A record changed since it was read: the write was made against a stale version.
    /// Reading the record again and redoing the change may succeed. 409.
    #[error("conflict: {}", stale_text(kind, id, *read, *current))]
    StaleVersion {
        /// The kind of record, e.g. `VnfInstance`.
        kind: &'static str,
        /// Its identifier.
        id: String,
        /// The version the writer read.
        read: u64,
        /// The version stored now.
        current: u64,
    },
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
    /// An operation its implementer (a driver, say) does not offer: the structured form
    /// of [`Error::NotSupported`] for callers that branch on what is missing. 501.
    #[error("not supported: {implementer} does not support {operation}")]
    OperationNotSupported {
        /// The operation, as people name it (e.g. `scale`, `rollback of change flavour`).
        operation: String,
        /// Who lacks it, as people name it (e.g. `the ETSINFV.KUBERNETES.V_1 infra
        /// driver`).
        implementer: String,
    },
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

    /// [`Error::OperationInProgress`].
    pub fn operation_in_progress(
        vnf_instance_id: impl Into<String>,
        vnf_lcm_op_occ_id: impl Into<String>,
        operation: Option<LcmOperationType>,
    ) -> Self {
        Self::OperationInProgress {
            vnf_instance_id: vnf_instance_id.into(),
            vnf_lcm_op_occ_id: vnf_lcm_op_occ_id.into(),
            operation,
        }
    }

    /// [`Error::WrongInstantiationState`]: the instance is `actual`, the request needs
    /// it `expected`; `detail` says so for people.
    pub fn wrong_instantiation_state(
        vnf_instance_id: impl Into<String>,
        expected: InstantiationState,
        actual: InstantiationState,
        detail: impl Into<String>,
    ) -> Self {
        Self::WrongInstantiationState {
            vnf_instance_id: vnf_instance_id.into(),
            expected,
            actual,
            detail: detail.into(),
        }
    }

    /// [`Error::StaleVersion`].
    pub fn stale_version(
        kind: &'static str,
        id: impl Into<String>,
        read: u64,
        current: u64,
    ) -> Self {
        Self::StaleVersion {
            kind,
            id: id.into(),
            read,
            current,
        }
    }

    /// [`Error::OperationNotSupported`].
    pub fn operation_not_supported(
        operation: impl Into<String>,
        implementer: impl Into<String>,
    ) -> Self {
        Self::OperationNotSupported {
            operation: operation.into(),
            implementer: implementer.into(),
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

    /// Whether the request conflicts with the state of a resource: [`Error::Conflict`]
    /// or one of its structured forms ([`Error::OperationInProgress`],
    /// [`Error::WrongInstantiationState`], [`Error::StaleVersion`]).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Conflict(_)
                | Self::OperationInProgress { .. }
                | Self::WrongInstantiationState { .. }
                | Self::StaleVersion { .. }
        )
    }

    /// What a conflict is about, without the `conflict: ` its message starts with
    /// (`None` for an error that is no conflict, see [`Error::is_conflict`]).
    pub fn conflict_reason(&self) -> Option<String> {
        match self {
            Self::Conflict(reason) => Some(reason.clone()),
            Self::OperationInProgress {
                vnf_instance_id,
                vnf_lcm_op_occ_id,
                operation,
            } => Some(in_progress_text(
                vnf_instance_id,
                vnf_lcm_op_occ_id,
                *operation,
            )),
            Self::WrongInstantiationState { detail, .. } => Some(detail.clone()),
            Self::StaleVersion {
                kind,
                id,
                read,
                current,
            } => Some(stale_text(kind, id, *read, *current)),
            _ => None,
        }
    }

    /// Whether the operation is not supported: [`Error::NotSupported`] or
    /// [`Error::OperationNotSupported`].
    pub fn is_not_supported(&self) -> bool {
        matches!(
            self,
            Self::NotSupported(_) | Self::OperationNotSupported { .. }
        )
    }

    /// The HTTP status the ETSI APIs answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::Conflict(_)
            | Self::OperationInProgress { .. }
            | Self::WrongInstantiationState { .. }
            | Self::StaleVersion { .. } => 409,
            Self::InvalidRequest(_) => 400,
            Self::Unprocessable(_) => 422,
            Self::NotSupported(_) | Self::OperationNotSupported { .. } => 501,
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
            Self::Conflict(_)
            | Self::OperationInProgress { .. }
            | Self::WrongInstantiationState { .. }
            | Self::StaleVersion { .. } => "Conflict",
            Self::InvalidRequest(_) => "Bad Request",
            Self::Unprocessable(_) => "Unprocessable Entity",
            Self::NotSupported(_) | Self::OperationNotSupported { .. } => "Not Implemented",
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
        let mut hook_data = None;
        while let Some(cause) = source {
            if let Some(failure) = cause.downcast_ref::<crate::mgmt::HookFailure>()
                && !failure.data.is_empty()
            {
                hook_data = Some(failure.data.clone());
            }
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
            user_script_err_handling_data: hook_data,
        }
    }
}

/// The text of [`Error::OperationInProgress`].
fn in_progress_text(
    vnf_instance_id: &str,
    vnf_lcm_op_occ_id: &str,
    operation: Option<LcmOperationType>,
) -> String {
    match operation {
        Some(operation) => format!(
            "operation {vnf_lcm_op_occ_id} ({operation}) is in progress on VNF instance {vnf_instance_id}"
        ),
        None => format!(
            "another LCM operation ({vnf_lcm_op_occ_id}) is in progress on VNF instance {vnf_instance_id}"
        ),
    }
}

/// The text of [`Error::StaleVersion`].
fn stale_text(kind: &str, id: &str, read: u64, current: u64) -> String {
    format!("{kind} {id} was changed concurrently (version {read} read, {current} current)")
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
            (
                Error::operation_in_progress("vnf-1", "op-1", Some(LcmOperationType::Scale)),
                409,
            ),
            (
                Error::wrong_instantiation_state(
                    "vnf-1",
                    InstantiationState::Instantiated,
                    InstantiationState::NotInstantiated,
                    "VNF instance vnf-1 is NOT_INSTANTIATED",
                ),
                409,
            ),
            (Error::stale_version("VnfInstance", "vnf-1", 3, 4), 409),
            (Error::InvalidRequest("bad".into()), 400),
            (Error::Unprocessable("no flavour".into()), 422),
            (Error::NotSupported("heal".into()), 501),
            (
                Error::operation_not_supported("heal", "the X infra driver"),
                501,
            ),
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
    fn structured_conflicts_read_as_their_messages_did() {
        let cases = [
            (
                Error::operation_in_progress("vnf-1", "op-1", None),
                "conflict: another LCM operation (op-1) is in progress on VNF instance vnf-1",
            ),
            (
                Error::operation_in_progress("vnf-1", "op-1", Some(LcmOperationType::Heal)),
                "conflict: operation op-1 (HEAL) is in progress on VNF instance vnf-1",
            ),
            (
                Error::stale_version("VnfInstance", "vnf-1", 3, 4),
                "conflict: VnfInstance vnf-1 was changed concurrently (version 3 read, 4 current)",
            ),
            (
                Error::operation_not_supported("operate", "the ETSINFV.X.V_1 infra driver"),
                "not supported: the ETSINFV.X.V_1 infra driver does not support operate",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_problem_details().detail, text);
        }
        assert!(Error::stale_version("VnfInstance", "vnf-1", 3, 4).is_conflict());
        for error in [
            Error::stale_version("VnfInstance", "vnf-1", 3, 4),
            Error::operation_in_progress("vnf-1", "op-1", None),
            Error::Conflict("busy".into()),
        ] {
            assert_eq!(
                format!("conflict: {}", error.conflict_reason().unwrap_or_default()),
                error.to_string()
            );
        }
        assert_eq!(Error::Internal("x".into()).conflict_reason(), None);
        assert!(Error::Conflict("x".into()).is_conflict());
        assert!(!Error::Cancelled("x".into()).is_conflict());
        assert!(Error::operation_not_supported("a", "b").is_not_supported());
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
