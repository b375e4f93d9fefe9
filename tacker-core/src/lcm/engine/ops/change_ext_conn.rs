//! Change external VNF connectivity: external CPs move to other external virtual links.

use async_trait::async_trait;

use super::{Acceptance, Operation, Work, check_ext_cps};
use crate::infra::{InfraOutcome, Rollback};
use crate::model::{ChangeExtVnfConnectivityRequest, KeyValuePairs};
use crate::{Error, Result};

#[async_trait]
impl Operation for ChangeExtVnfConnectivityRequest {
    fn additional_params(&self) -> Option<&KeyValuePairs> {
        Some(&self.additional_params)
    }

    async fn validate(&self, cx: &Acceptance<'_>) -> Result<()> {
        if self.ext_virtual_links.is_empty() {
            return Err(Error::InvalidRequest(
                "extVirtualLinks must not be empty".to_owned(),
            ));
        }
        check_ext_cps(cx.flavour()?, &self.ext_virtual_links)
    }

    async fn run(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver.change_ext_conn(cx.ctx, self).await
    }

    async fn rollback(&self, cx: &Work<'_>) -> Result<InfraOutcome> {
        cx.driver
            .rollback(cx.ctx, &Rollback::ChangeExtConn(self))
            .await
    }
}
