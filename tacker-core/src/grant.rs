//! `GrantProvider`: asks the NFVO for permission before an operation changes resources.

use async_trait::async_trait;

use crate::Result;
use crate::TenantId;
use crate::model::{Grant, GrantRequest};

/// Grants LCM operations.
///
/// A refusal is `Error::Forbidden` with the NFVO's reason; the engine then ends the
/// operation ROLLED_BACK with that reason, as it does for any error that cannot pass
/// (a request the NFVO calls malformed). A retryable error (the NFVO unreachable,
/// answering 5xx, or not deciding in time) ends it FAILED_TEMP without a grant, and a
/// retry asks for the grant again. The same request may be sent again after a crash; a
/// provider should answer it the same way.
#[async_trait]
pub trait GrantProvider: Send + Sync + std::fmt::Debug {
    /// Ask for a grant.
    async fn grant(&self, tenant: &TenantId, request: &GrantRequest) -> Result<Grant>;

    /// Where a client can read a grant this provider gave (an NFVO's
    /// `…/grant/v1/grants/{grantId}`), for the `grant` link of op occurrences; `None`
    /// (the default) when the grant is not served anywhere, as local grants are not.
    fn grant_uri(&self, grant_id: &str) -> Option<String> {
        let _ = grant_id;
        None
    }
}
