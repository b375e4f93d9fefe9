//! One CNF driven through the Kubernetes infra driver, recorded as the engine records
//! it, for the operation tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::cluster::Cluster;
use tacker_core::infra::{InfraContext, InfraDriver, InfraOutcome, ScaleTarget};
use tacker_core::model::{
    ChangeType, HealVnfRequest, InstantiateVnfRequest, KeyValuePairs, ScaleInfo, ScaleType,
    TerminateVnfRequest, TerminationType, VimConnectionInfo, VnfInstance,
};
use tacker_core::package::InMemoryPackageFiles;
use tacker_core::sim::{self, AppliedOperation};
use tacker_core::vnfd::Vnfd;
use tacker_core::{TenantId, new_id};
use tacker_drivers_k8s::{INSTANCE_LABEL, KubernetesInfraDriver};

/// One CNF driven through the driver, recorded as the engine records it.
pub struct Cnf {
    pub driver: KubernetesInfraDriver,
    pub cluster: Arc<Cluster>,
    pub vnfd: Vnfd,
    pub package: Arc<InMemoryPackageFiles>,
    pub vim: VimConnectionInfo,
    pub record: VnfInstance,
    pub tenant: TenantId,
    pub cancel: CancellationToken,
}

impl Cnf {
    pub fn new(
        cluster: Arc<Cluster>,
        vnfd: Vnfd,
        package: InMemoryPackageFiles,
        timeout: Duration,
    ) -> Self {
        let vim = cluster.vim();
        let mut record = sim::sample_instance(&new_id(), &vnfd.descriptor_id);
        record
            .vim_connection_info
            .insert("vim-k8s".into(), vim.clone());
        Self {
            driver: KubernetesInfraDriver::new().with_timeout(timeout),
            cluster,
            vnfd,
            package: Arc::new(package),
            vim,
            record,
            tenant: TenantId::new("cnf-tests"),
            cancel: CancellationToken::new(),
        }
    }

    pub fn ctx<'a>(&'a self, op_id: &'a str) -> InfraContext<'a> {
        let flavour_id = self.record.instantiated_vnf_info.as_ref().map_or_else(
            || {
                // Before instantiation: `simple`, else the VNFD's only flavour.
                self.vnfd
                    .flavour("simple")
                    .or(self.vnfd.flavours.first())
                    .map_or("simple", |f| f.id.as_str())
            },
            |i| i.flavour_id.as_str(),
        );
        InfraContext::new(
            &self.tenant,
            op_id,
            &self.record,
            &self.vnfd,
            self.vnfd.flavour(flavour_id).expect("the flavour exists"),
            "vim-k8s",
            &self.vim,
        )
        .with_package(self.package.as_ref())
        .with_cancel(&self.cancel)
    }

    pub fn record(&mut self, operation: AppliedOperation<'_>, outcome: &InfraOutcome) {
        let vnfd = match operation {
            AppliedOperation::ChangeVnfpkg(new) => new,
            _ => &self.vnfd,
        };
        self.record = sim::apply_outcome(&self.record, vnfd, operation, outcome)
            .expect("the outcome records");
        for (key, value) in &outcome.metadata {
            self.record.metadata.insert(key.clone(), value.clone());
        }
    }

    /// An instantiate request of manifest files; on the real cluster in the test's
    /// namespace.
    pub fn instantiate_request(&self, files: &[&str]) -> InstantiateVnfRequest {
        let mut additional_params = super::def_files(files);
        if self.cluster.is_real() {
            additional_params.insert(
                tacker_drivers_k8s::NAMESPACE_PARAM.into(),
                serde_json::json!(self.cluster.namespace()),
            );
        }
        InstantiateVnfRequest {
            flavour_id: "simple".to_owned(),
            additional_params,
            ..InstantiateVnfRequest::default()
        }
    }

    pub async fn instantiate(&mut self, files: &[&str]) -> InfraOutcome {
        self.instantiate_with(self.instantiate_request(files)).await
    }

    pub async fn instantiate_with(&mut self, request: InstantiateVnfRequest) -> InfraOutcome {
        let op = new_id();
        let outcome = self
            .driver
            .instantiate(&self.ctx(&op), &request)
            .await
            .unwrap_or_else(|e| panic!("instantiate failed: {e}"));
        self.record(AppliedOperation::Instantiate(&request), &outcome);
        outcome
    }

    pub async fn scale(&mut self, aspect: &str, level: u32, scale_type: ScaleType) -> InfraOutcome {
        let target = ScaleTarget::new(
            vec![ScaleInfo {
                aspect_id: aspect.to_owned(),
                vnfd_id: None,
                scale_level: level,
            }],
            Some(scale_type),
        );
        let op = new_id();
        let outcome = self
            .driver
            .scale(&self.ctx(&op), &target)
            .await
            .unwrap_or_else(|e| panic!("scale of {aspect} to {level} failed: {e}"));
        self.record(AppliedOperation::Scale(&target), &outcome);
        outcome
    }

    pub async fn heal(&mut self, vnfcs: Vec<String>) -> InfraOutcome {
        let request = HealVnfRequest {
            vnfc_instance_id: vnfcs,
            ..HealVnfRequest::default()
        };
        let op = new_id();
        let outcome = self
            .driver
            .heal(&self.ctx(&op), &request)
            .await
            .unwrap_or_else(|e| panic!("heal failed: {e}"));
        self.record(AppliedOperation::Heal, &outcome);
        outcome
    }

    pub async fn terminate(&mut self) -> InfraOutcome {
        let request = TerminateVnfRequest {
            termination_type: TerminationType::Graceful,
            graceful_termination_timeout: Some(5),
            additional_params: KeyValuePairs::new(),
        };
        let op = new_id();
        let outcome = self
            .driver
            .terminate(&self.ctx(&op), &request)
            .await
            .unwrap_or_else(|e| panic!("terminate failed: {e}"));
        self.record(AppliedOperation::Terminate, &outcome);
        outcome
    }

    pub async fn labelled(&self) -> Vec<(String, String, String)> {
        self.cluster
            .objects_labelled(INSTANCE_LABEL, &self.record.id)
            .await
    }

    pub fn counts(&self) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for vnfc in self
            .record
            .instantiated_vnf_info
            .iter()
            .flat_map(|i| i.vnfc_resource_info.iter())
        {
            *counts.entry(vnfc.vdu_id.clone()).or_insert(0) += 1;
        }
        counts
    }

    pub fn vnfc_of(&self, vdu: &str) -> (String, String) {
        self.record
            .instantiated_vnf_info
            .iter()
            .flat_map(|i| i.vnfc_resource_info.iter())
            .find(|v| v.vdu_id == vdu)
            .map(|v| (v.id.clone(), v.compute_resource.resource_id.clone()))
            .unwrap_or_else(|| panic!("no VNFC of {vdu}"))
    }
}

pub fn changed(outcome: &InfraOutcome, change_type: ChangeType) -> BTreeSet<String> {
    outcome
        .resource_changes
        .affected_vnfcs
        .iter()
        .filter(|c| c.change_type == change_type)
        .map(|c| c.id.clone())
        .collect()
}
