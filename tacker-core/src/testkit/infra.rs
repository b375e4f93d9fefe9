//! The infra-driver conformance suite.
//!
//! Every [`InfraDriver`] runs it: the simulated VIM in `tests/sim.rs`, and the OpenStack
//! and Kubernetes drivers against their test doubles. A check is a plain `pub async fn`
//! taking the driver and an [`InfraFixture`] (the VIM, the VNFD, the package, the
//! external links to use) and panics with a readable message when the driver breaks the
//! contract of [`crate::infra`]:
//!
//! - results follow the VNFD: VNFC counts per VDU match the instantiation level and the
//!   scaling aspect deltas, and the resource information is consistent (every reference
//!   resolves, every id is unique, every compute resource names the VIM);
//! - `resourceChanges` say exactly what changed against the instance as recorded
//!   (ADDED, REMOVED, MODIFIED);
//! - every call converges: called again with the same context it returns an equal
//!   outcome and, when an [`InfraInspector`] can look into the VIM, creates nothing more;
//! - external virtual links of the request are connected: the links, the external CPs
//!   of every VNFC they name, their ports and requested addresses are reported;
//! - rollbacks return to the recorded state;
//! - the capabilities agree with the methods: every operation the driver's
//!   [`InfraCapabilities`](crate::infra::InfraCapabilities) hold is implemented (and
//!   checked by the check of that operation), every other one answers
//!   [`Error::OperationNotSupported`] naming it and the driver.
//!
//! Each check works on a VNF instance of its own (a fresh id), so the checks can share
//! one driver. [`run_all`] runs them all.

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::infra::{
    InfraContext, InfraDriver, InfraOperation, InfraOutcome, Rollback, ScaleTarget, VnfResources,
};
use crate::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeType,
    ChangeVnfFlavourRequest, ExtVirtualLinkData, Grant, HealVnfRequest, InstantiateVnfRequest,
    KeyValuePairs, LcmOperationType, OperateVnfRequest, PortChangeType, ResourceChanges, ScaleInfo,
    ScaleType, TerminateVnfRequest, TerminationType, VimConnectionInfo, VirtualLinkChangeType,
    VnfInstance, VnfOperationalStateType,
};
use crate::package::{InMemoryPackageFiles, PackageFiles};
use crate::sim::{self, AppliedOperation, SimInfraDriver, SimOperation};
use crate::vnfd::{DeploymentFlavour, Vnfd};
use crate::{Error, Result, TenantId, new_id};

/// A look into the VIM behind a driver, for the checks that prove "nothing duplicated"
/// and "nothing left", and a way to make the next call fail half-way.
#[async_trait]
pub trait InfraInspector: Send + Sync + std::fmt::Debug {
    /// Every VIM resource id (servers, ports, volumes, networks, …) the VIM holds for a
    /// VNF instance.
    async fn resource_ids(&self, tenant: &TenantId, vnf_instance_id: &str) -> Vec<String>;

    /// Makes the next call of `operation` do part of its work and then fail. False when
    /// the VIM cannot (the checks that need it are skipped).
    fn fail_next_after_partial_work(&self, operation: LcmOperationType) -> bool {
        let _ = operation;
        false
    }
}

#[async_trait]
impl InfraInspector for SimInfraDriver {
    async fn resource_ids(&self, tenant: &TenantId, vnf_instance_id: &str) -> Vec<String> {
        match self.load_resource_ids(tenant, vnf_instance_id).await {
            Ok(ids) => ids,
            Err(error) => panic!("reading the simulated VIM's store: {error}"),
        }
    }

    fn fail_next_after_partial_work(&self, operation: LcmOperationType) -> bool {
        let op = match operation {
            LcmOperationType::Instantiate => SimOperation::Instantiate,
            LcmOperationType::Terminate => SimOperation::Terminate,
            LcmOperationType::Scale | LcmOperationType::ScaleToLevel => SimOperation::Scale,
            LcmOperationType::Heal => SimOperation::Heal,
            LcmOperationType::ChangeFlavour => SimOperation::ChangeFlavour,
            LcmOperationType::ChangeExtConn => SimOperation::ChangeExtConn,
            LcmOperationType::ChangeVnfpkg => SimOperation::ChangeVnfpkg,
            LcmOperationType::Operate => SimOperation::Operate,
            _ => return false,
        };
        self.fail_after_partial(op);
        true
    }
}

/// What the checks need besides the driver. Built with [`InfraFixture::new`] (or
/// [`InfraFixture::for_sim`]), then adjusted field by field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InfraFixture {
    /// The tenant of the instances the checks create.
    pub tenant: TenantId,
    /// The key of the VIM in `vimConnectionInfo`.
    pub vim_connection_id: String,
    /// The VIM.
    pub vim: VimConnectionInfo,
    /// The VNFD (default [`sim::sample_vnfd`]).
    pub vnfd: Vnfd,
    /// The flavour to instantiate.
    pub flavour_id: String,
    /// The instantiation level; the flavour's default when `None`.
    pub instantiation_level_id: Option<String>,
    /// The aspect the scale checks scale; it must allow at least one step out.
    pub scale_aspect_id: String,
    /// The external virtual links of the instantiate request.
    pub ext_virtual_links: Vec<ExtVirtualLinkData>,
    /// The `additionalParams` of the instantiate request (a Kubernetes driver reads its
    /// manifest files from them).
    pub instantiate_additional_params: KeyValuePairs,
    /// The package files of the VNFD.
    pub package: Arc<dyn PackageFiles>,
    /// The grant passed with every call.
    pub grant: Option<Grant>,
    /// Another flavour of the VNFD (and its level) for the change-flavour check, which
    /// is skipped without one.
    pub change_flavour_to: Option<(String, Option<String>)>,
    /// A new VNFD and its package for the change-package check, which is skipped
    /// without one.
    pub new_package: Option<(Vnfd, Arc<dyn PackageFiles>)>,
    /// A look into the VIM, when the test can offer one.
    pub inspector: Option<Arc<dyn InfraInspector>>,
    /// Whether operate START gives the VNFCs new compute resources (containers: a
    /// stopped CNF has no pods, so its pods are new when it starts). The VNFCs keep
    /// their ids and each replaced compute resource is reported MODIFIED; without it,
    /// operate keeps every compute resource.
    pub operate_replaces_compute: bool,
}

impl InfraFixture {
    /// The sample VNFD ([`sim::sample_vnfd`]) with its external link
    /// ([`sim::sample_ext_virtual_links`]), an empty package and no grant, on `vim`.
    pub fn new(vim_connection_id: impl Into<String>, vim: VimConnectionInfo) -> Self {
        Self {
            tenant: TenantId::new("infra-suite"),
            vim_connection_id: vim_connection_id.into(),
            vim,
            vnfd: sim::sample_vnfd(),
            flavour_id: "simple".to_owned(),
            instantiation_level_id: None,
            scale_aspect_id: "VDU1_scale".to_owned(),
            ext_virtual_links: sim::sample_ext_virtual_links(),
            instantiate_additional_params: KeyValuePairs::new(),
            package: Arc::new(InMemoryPackageFiles::new()),
            grant: None,
            change_flavour_to: None,
            new_package: None,
            inspector: None,
            operate_replaces_compute: false,
        }
    }

    /// The fixture for a [`SimInfraDriver`]: the sample VIM, the driver as inspector, a
    /// second version of the sample VNFD (new images) as the new package, and a second
    /// flavour `large` (two `VDU1` at least) to change to.
    pub fn for_sim(driver: &SimInfraDriver) -> Self {
        let mut fixture = Self::new(sim::SAMPLE_VIM_CONNECTION_ID, sim::sample_vim());
        fixture.vim.vim_type = InfraDriver::vim_type(driver).to_owned();
        fixture.vnfd = sample_vnfd_with_large_flavour();
        fixture.change_flavour_to = Some(("large".to_owned(), None));
        fixture.new_package = Some((
            upgraded(&fixture.vnfd),
            Arc::new(InMemoryPackageFiles::new()),
        ));
        fixture.inspector = Some(Arc::new(driver.clone()));
        fixture
    }

    /// The flavour to instantiate.
    pub fn flavour(&self) -> &DeploymentFlavour {
        self.vnfd.flavour(&self.flavour_id).unwrap_or_else(|| {
            panic!(
                "fixture error: VNFD {} has no flavour {}",
                self.vnfd.descriptor_id, self.flavour_id
            )
        })
    }

    /// The instantiate request the checks send.
    pub fn instantiate_request(&self) -> InstantiateVnfRequest {
        InstantiateVnfRequest {
            flavour_id: self.flavour_id.clone(),
            instantiation_level_id: self.instantiation_level_id.clone(),
            ext_virtual_links: self.ext_virtual_links.clone(),
            additional_params: self.instantiate_additional_params.clone(),
            vim_connection_info: BTreeMap::from([(
                self.vim_connection_id.clone(),
                self.vim.clone(),
            )]),
            ..InstantiateVnfRequest::default()
        }
    }
}

/// The sample VNFD with a second flavour, `large`: the same VDUs with `VDU1` at two to
/// three instances and twice the memory.
pub fn sample_vnfd_with_large_flavour() -> Vnfd {
    let mut vnfd = sim::sample_vnfd();
    let mut large = vnfd.flavours[0].clone();
    large.id = "large".to_owned();
    large.description = Some("Two VDU1 at least, with more memory".to_owned());
    for vdu in &mut large.vdus {
        if vdu.id == "VDU1" {
            vdu.min_instances = 2;
            vdu.initial_delta = 2;
            if let Some(compute) = &mut vdu.virtual_compute {
                compute.virtual_mem_size *= 2;
            }
        }
    }
    for level in &mut large.instantiation_levels {
        if let Some(count) = level.vdu_instances.get_mut("VDU1") {
            *count = (*count).max(2);
        }
    }
    vnfd.flavours.push(large);
    vnfd
}

/// A new version of a VNFD: `-v2` appended to its id and image names, software
/// version 2.0.
pub fn upgraded(vnfd: &Vnfd) -> Vnfd {
    let mut next = vnfd.clone();
    next.descriptor_id = format!("{}-v2", vnfd.descriptor_id);
    next.descriptor_version = "2.0".to_owned();
    next.software_version = "2.0".to_owned();
    for flavour in &mut next.flavours {
        for vdu in &mut flavour.vdus {
            if let Some(image) = &mut vdu.sw_image {
                image.name = format!("{}-v2", image.name);
                image.version = "2.0".to_owned();
            }
        }
    }
    next
}

/// Runs every check.
pub async fn run_all(driver: &dyn InfraDriver, fixture: &InfraFixture) {
    lifecycle(driver, fixture).await;
    heal_of_the_whole_vnf(driver, fixture).await;
    heal_of_an_unknown_vnfc_is_refused(driver, fixture).await;
    operate_stops_and_starts(driver, fixture).await;
    rollback_of_instantiate_removes_everything(driver, fixture).await;
    rollback_of_scale_out_restores_the_vnfcs(driver, fixture).await;
    retry_after_partial_failure_converges(driver, fixture).await;
    change_ext_conn_and_its_rollback(driver, fixture).await;
    change_flavour_and_its_rollback(driver, fixture).await;
    change_vnfpkg_and_its_rollback(driver, fixture).await;
    instantiate_connects_the_external_virtual_links(driver, fixture).await;
    capabilities_agree_with_the_methods(driver, fixture).await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn ok<T>(result: Result<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!(
            "{what} failed: {} (status {})",
            error.to_problem_details().detail,
            error.status()
        ),
    }
}

/// Calls a driver method twice with the same context and checks both calls return an
/// equal outcome and the second creates nothing in the VIM.
/// With `op = id`, the calls belong to operation occurrence `id` (a rollback belongs
/// to the occurrence whose forward step it undoes, as the engine calls it).
macro_rules! retried {
    ($subject:expr, $what:expr, |$ctx:ident| $call:expr) => {{
        let op_id = new_id();
        retried!($subject, $what, op = &op_id, |$ctx| $call)
    }};
    ($subject:expr, $what:expr, op = $op:expr, |$ctx:ident| $call:expr) => {{
        let op_id: &str = $op;
        let what: &str = $what;
        let $ctx = $subject.ctx(op_id);
        let first = ok($call.await, what);
        let held = $subject.probe().await;
        let again = ok(
            $call.await,
            &format!("{what}, called again with the same context"),
        );
        assert_eq!(
            first, again,
            "{what}: a call repeated with the same context must return the same outcome"
        );
        assert_eq!(
            held,
            $subject.probe().await,
            "{what}: a call repeated with the same context must not change the VIM"
        );
        first
    }};
}

/// One VNF instance driven through the checks, recorded as the engine would record it.
struct Subject<'a> {
    driver: &'a dyn InfraDriver,
    fx: &'a InfraFixture,
    flavour: &'a DeploymentFlavour,
    record: VnfInstance,
    cancel: CancellationToken,
}

impl<'a> Subject<'a> {
    fn new(driver: &'a dyn InfraDriver, fx: &'a InfraFixture) -> Self {
        let id = new_id();
        let mut record = sim::sample_instance(&id, &fx.vnfd.descriptor_id);
        record.vnf_provider.clone_from(&fx.vnfd.provider);
        record.vnf_product_name.clone_from(&fx.vnfd.product_name);
        record
            .vnf_software_version
            .clone_from(&fx.vnfd.software_version);
        record.vnfd_version.clone_from(&fx.vnfd.descriptor_version);
        record
            .vim_connection_info
            .insert(fx.vim_connection_id.clone(), fx.vim.clone());
        Self {
            driver,
            fx,
            flavour: fx.flavour(),
            record,
            cancel: CancellationToken::new(),
        }
    }

    fn ctx<'b>(&'b self, op_id: &'b str) -> InfraContext<'b> {
        self.ctx_with(op_id, self.flavour)
    }

    fn ctx_with<'b>(&'b self, op_id: &'b str, flavour: &'b DeploymentFlavour) -> InfraContext<'b> {
        InfraContext::new(
            &self.fx.tenant,
            op_id,
            &self.record,
            &self.fx.vnfd,
            flavour,
            &self.fx.vim_connection_id,
            &self.fx.vim,
        )
        .with_grant(self.fx.grant.as_ref())
        .with_package(self.fx.package.as_ref())
        .with_cancel(&self.cancel)
    }

    fn id(&self) -> &str {
        &self.record.id
    }

    fn apply(&mut self, operation: AppliedOperation<'_>, outcome: &InfraOutcome) {
        let vnfd = match operation {
            AppliedOperation::ChangeVnfpkg(new_vnfd) => new_vnfd,
            _ => &self.fx.vnfd,
        };
        let next = ok(
            sim::apply_outcome(&self.record, vnfd, operation, outcome),
            "recording the outcome",
        );
        if let Some(info) = &next.instantiated_vnf_info
            && let Some(flavour) = self.fx.vnfd.flavour(&info.flavour_id)
        {
            self.flavour = flavour;
        }
        // The engine keeps what the driver recorded in the instance's metadata.
        let mut next = next;
        for (key, value) in &outcome.metadata {
            next.metadata.insert(key.clone(), value.clone());
        }
        self.record = next;
    }

    fn resources(&self) -> VnfResources {
        self.record
            .instantiated_vnf_info
            .as_ref()
            .map(VnfResources::recorded_in)
            .unwrap_or_default()
    }

    /// What the inspector sees in the VIM for this instance (`None` without one).
    async fn probe(&self) -> Option<BTreeSet<String>> {
        let inspector = self.fx.inspector.as_ref()?;
        Some(
            inspector
                .resource_ids(&self.fx.tenant, self.id())
                .await
                .into_iter()
                .collect(),
        )
    }

    async fn assert_nothing_left(&self, what: &str) {
        if let Some(left) = self.probe().await {
            assert!(
                left.is_empty(),
                "{what}: the VIM still holds resources of the instance: {left:?}"
            );
        }
    }

    async fn assert_vim_holds(&self, resources: &VnfResources, what: &str) {
        if let Some(held) = self.probe().await {
            for vnfc in &resources.vnfc_resource_info {
                assert!(
                    held.contains(&vnfc.compute_resource.resource_id),
                    "{what}: the VIM does not hold the compute resource {} of VNFC {}",
                    vnfc.compute_resource.resource_id,
                    vnfc.id
                );
            }
        }
    }

    async fn instantiate(&mut self) -> InfraOutcome {
        let request = self.fx.instantiate_request();
        let outcome = retried!(self, "instantiate", |ctx| self
            .driver
            .instantiate(&ctx, &request));
        self.apply(AppliedOperation::Instantiate(&request), &outcome);
        outcome
    }

    async fn terminate(&mut self) -> InfraOutcome {
        let request = terminate_request();
        let outcome = retried!(self, "terminate", |ctx| self
            .driver
            .terminate(&ctx, &request));
        self.apply(AppliedOperation::Terminate, &outcome);
        self.assert_nothing_left("after terminate").await;
        outcome
    }

    /// The level of the fixture's aspect in the recorded scale status.
    fn scale_level(&self) -> u32 {
        self.record
            .instantiated_vnf_info
            .as_ref()
            .and_then(|info| {
                info.scale_status
                    .iter()
                    .find(|s| s.aspect_id == self.fx.scale_aspect_id)
            })
            .map(|s| s.scale_level)
            .unwrap_or(0)
    }

    fn scale_target(&self, level: u32, scale_type: ScaleType) -> ScaleTarget {
        ScaleTarget::new(
            vec![ScaleInfo {
                aspect_id: self.fx.scale_aspect_id.clone(),
                vnfd_id: None,
                scale_level: level,
            }],
            Some(scale_type),
        )
    }

    /// The VNFC counts per VDU the VNFD asks for after scaling the fixture's aspect to
    /// `level`: VDUs of the aspect follow the deltas, the others keep their counts.
    fn counts_at_scale_level(&self, level: u32) -> BTreeMap<String, u32> {
        let flavour = self.flavour;
        let aspect = flavour
            .scaling_aspect(&self.fx.scale_aspect_id)
            .unwrap_or_else(|| panic!("fixture error: no aspect {}", self.fx.scale_aspect_id));
        let mut levels: BTreeMap<String, u32> = self
            .record
            .instantiated_vnf_info
            .as_ref()
            .map(|info| {
                info.scale_status
                    .iter()
                    .map(|s| (s.aspect_id.clone(), s.scale_level))
                    .collect()
            })
            .unwrap_or_default();
        levels.insert(aspect.id.clone(), level);
        let mut counts = vnfc_counts(&self.resources());
        for vdu_id in aspect.vdus() {
            if let Some(vdu) = flavour.vdu(vdu_id) {
                counts.insert(vdu.id.clone(), flavour.vdu_instances(vdu, &levels));
            }
        }
        counts.retain(|_, n| *n > 0);
        counts
    }
}

fn terminate_request() -> TerminateVnfRequest {
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: Default::default(),
    }
}

fn vnfc_counts(resources: &VnfResources) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for vnfc in &resources.vnfc_resource_info {
        *counts.entry(vnfc.vdu_id.clone()).or_insert(0) += 1;
    }
    counts
}

fn expected_at_level(flavour: &DeploymentFlavour, level: Option<&str>) -> BTreeMap<String, u32> {
    flavour
        .vdus
        .iter()
        .map(|vdu| (vdu.id.clone(), flavour.vdu_instances_at_level(vdu, level)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn vnfc_ids(resources: &VnfResources) -> BTreeSet<String> {
    resources
        .vnfc_resource_info
        .iter()
        .map(|v| v.id.clone())
        .collect()
}

fn compute_ids(resources: &VnfResources) -> BTreeMap<String, String> {
    resources
        .vnfc_resource_info
        .iter()
        .map(|v| (v.id.clone(), v.compute_resource.resource_id.clone()))
        .collect()
}

fn storage_ids(resources: &VnfResources) -> BTreeSet<String> {
    resources
        .virtual_storage_resource_info
        .iter()
        .map(|s| s.id.clone())
        .collect()
}

fn link_ids(resources: &VnfResources) -> BTreeSet<String> {
    resources
        .vnf_virtual_link_resource_info
        .iter()
        .map(|l| l.id.clone())
        .collect()
}

fn vnfcs_changed(changes: &ResourceChanges, change_type: ChangeType) -> BTreeSet<String> {
    changes
        .affected_vnfcs
        .iter()
        .filter(|c| c.change_type == change_type)
        .map(|c| c.id.clone())
        .collect()
}

fn storages_changed(changes: &ResourceChanges, change_type: ChangeType) -> BTreeSet<String> {
    changes
        .affected_virtual_storages
        .iter()
        .filter(|c| c.change_type == change_type)
        .map(|c| c.id.clone())
        .collect()
}

fn links_changed(
    changes: &ResourceChanges,
    change_type: VirtualLinkChangeType,
) -> BTreeSet<String> {
    changes
        .affected_virtual_links
        .iter()
        .filter(|c| c.change_type == change_type)
        .map(|c| c.id.clone())
        .collect()
}

fn ext_port_ids(resources: &VnfResources) -> BTreeSet<String> {
    resources
        .ext_virtual_link_info
        .iter()
        .flat_map(|l| l.ext_link_ports.iter().map(|p| p.id.clone()))
        .collect()
}

fn ext_ports_changed(changes: &ResourceChanges, change_type: PortChangeType) -> BTreeSet<String> {
    changes
        .affected_ext_link_ports
        .iter()
        .filter(|c| c.change_type == change_type)
        .map(|c| c.id.clone())
        .collect()
}

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

/// Checks that the resource information is consistent with itself, the VNFD and the VIM.
fn assert_consistent(
    fx: &InfraFixture,
    flavour: &DeploymentFlavour,
    resources: &VnfResources,
    what: &str,
) {
    let mut seen = BTreeSet::new();
    let mut cp_ids = BTreeSet::new();
    let mut computes = BTreeSet::new();
    let storages: BTreeMap<&str, &str> = resources
        .virtual_storage_resource_info
        .iter()
        .map(|s| (s.id.as_str(), s.virtual_storage_desc_id.as_str()))
        .collect();
    assert_eq!(
        storages.len(),
        resources.virtual_storage_resource_info.len(),
        "{what}: storage ids must be unique"
    );
    let mut link_ports: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for link in &resources.vnf_virtual_link_resource_info {
        assert!(
            flavour
                .virtual_links
                .iter()
                .any(|vl| vl.id == link.vnf_virtual_link_desc_id),
            "{what}: virtual link {} has descriptor {}, which flavour {} does not have",
            link.id,
            link.vnf_virtual_link_desc_id,
            flavour.id
        );
        for port in &link.vnf_link_ports {
            link_ports.insert(&port.id, port.cp_instance_id.as_deref());
        }
    }
    for link in &resources.ext_managed_virtual_link_info {
        for port in &link.vnf_link_ports {
            link_ports.insert(&port.id, port.cp_instance_id.as_deref());
        }
    }
    let ext_cps: BTreeSet<&str> = resources
        .ext_cp_info
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        ext_cps.len(),
        resources.ext_cp_info.len(),
        "{what}: external CP ids must be unique"
    );

    for vnfc in &resources.vnfc_resource_info {
        assert!(
            seen.insert(vnfc.id.as_str()),
            "{what}: VNFC id {} appears twice",
            vnfc.id
        );
        let vdu = flavour.vdu(&vnfc.vdu_id).unwrap_or_else(|| {
            panic!(
                "{what}: VNFC {} is of VDU {}, which flavour {} does not have",
                vnfc.id, vnfc.vdu_id, flavour.id
            )
        });
        assert_eq!(
            vnfc.compute_resource.vim_connection_id.as_deref(),
            Some(fx.vim_connection_id.as_str()),
            "{what}: the compute resource of VNFC {} must name the VIM",
            vnfc.id
        );
        assert!(
            !vnfc.compute_resource.resource_id.is_empty(),
            "{what}: VNFC {} has an empty compute resource id",
            vnfc.id
        );
        assert!(
            computes.insert(vnfc.compute_resource.resource_id.as_str()),
            "{what}: compute resource {} is shared by two VNFCs",
            vnfc.compute_resource.resource_id
        );
        let mut descs: Vec<&str> = Vec::new();
        for storage_id in &vnfc.storage_resource_ids {
            let desc = storages.get(storage_id.as_str()).unwrap_or_else(|| {
                panic!(
                    "{what}: VNFC {} names storage {storage_id}, which virtualStorageResourceInfo lacks",
                    vnfc.id
                )
            });
            descs.push(desc);
        }
        descs.sort_unstable();
        let mut wanted: Vec<&str> = vdu.virtual_storages.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        assert_eq!(
            descs, wanted,
            "{what}: VNFC {} must have the storage its VDU {} requires",
            vnfc.id, vdu.id
        );
        let vdu_cps: BTreeSet<&str> = flavour
            .cps_of(&vdu.id)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        for cp in &vnfc.vnfc_cp_info {
            assert!(
                cp_ids.insert(cp.id.as_str()),
                "{what}: CP id {} appears twice",
                cp.id
            );
            assert!(
                vdu_cps.contains(cp.cpd_id.as_str()),
                "{what}: CP {} of VNFC {} has descriptor {}, which is not a CP of VDU {}",
                cp.id,
                vnfc.id,
                cp.cpd_id,
                vdu.id
            );
            if let Some(port) = &cp.vnf_link_port_id {
                assert_eq!(
                    link_ports.get(port.as_str()),
                    Some(&Some(cp.id.as_str())),
                    "{what}: CP {} names link port {port}, which no virtual link has for it",
                    cp.id
                );
            }
            if let Some(ext_cp) = &cp.vnf_ext_cp_id {
                assert!(
                    ext_cps.contains(ext_cp.as_str()),
                    "{what}: CP {} names external CP {ext_cp}, which extCpInfo lacks",
                    cp.id
                );
            }
        }
    }
    let ext_ports: BTreeSet<&str> = resources
        .ext_virtual_link_info
        .iter()
        .flat_map(|l| l.ext_link_ports.iter().map(|p| p.id.as_str()))
        .collect();
    for ext_cp in &resources.ext_cp_info {
        if let Some(cp) = &ext_cp.associated_vnfc_cp_id {
            assert!(
                cp_ids.contains(cp.as_str()),
                "{what}: external CP {} is associated with VNFC CP {cp}, which no VNFC has",
                ext_cp.id
            );
        }
        if let Some(port) = &ext_cp.ext_link_port_id {
            assert!(
                ext_ports.contains(port.as_str()),
                "{what}: external CP {} names link port {port}, which no external virtual link has",
                ext_cp.id
            );
        }
    }
}

/// Checks the outcome of a (re)instantiation from nothing.
async fn assert_instantiated(subject: &Subject<'_>, outcome: &InfraOutcome, what: &str) {
    let fx = subject.fx;
    let resources = &outcome.resources;
    assert_eq!(
        vnfc_counts(resources),
        expected_at_level(subject.flavour, fx.instantiation_level_id.as_deref()),
        "{what}: VNFCs per VDU must match the instantiation level"
    );
    assert_consistent(fx, subject.flavour, resources, what);
    let changes = &outcome.resource_changes;
    assert_eq!(
        vnfcs_changed(changes, ChangeType::Added),
        vnfc_ids(resources),
        "{what}: every VNFC is ADDED"
    );
    assert_eq!(
        vnfcs_changed(changes, ChangeType::Removed),
        none(),
        "{what}: nothing REMOVED"
    );
    assert_eq!(
        vnfcs_changed(changes, ChangeType::Modified),
        none(),
        "{what}: nothing MODIFIED"
    );
    for change in &changes.affected_vnfcs {
        let vnfc = resources
            .vnfc_resource_info
            .iter()
            .find(|v| v.id == change.id);
        assert_eq!(
            vnfc.map(|v| &v.compute_resource),
            Some(&change.compute_resource),
            "{what}: the ADDED entry of VNFC {} must carry its compute resource",
            change.id
        );
    }
    assert_eq!(
        storages_changed(changes, ChangeType::Added),
        storage_ids(resources),
        "{what}: every storage is ADDED"
    );
    assert_eq!(
        links_changed(changes, VirtualLinkChangeType::Added),
        link_ids(resources),
        "{what}: every internal virtual link is ADDED"
    );
    assert_ext_connectivity(subject.flavour, &fx.ext_virtual_links, resources, what);
    assert_eq!(
        ext_ports_changed(changes, PortChangeType::Added),
        ext_port_ids(resources),
        "{what}: every port on an external virtual link is ADDED"
    );
    subject.assert_vim_holds(resources, what).await;
}

/// Checks that `resources` connect what the external virtual links `links` ask for.
fn assert_ext_connectivity(
    flavour: &DeploymentFlavour,
    links: &[ExtVirtualLinkData],
    resources: &VnfResources,
    what: &str,
) {
    for link in links {
        let info = resources
            .ext_virtual_link_info
            .iter()
            .find(|l| l.id == link.id)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: external virtual link {} of the request is missing from extVirtualLinkInfo",
                    link.id
                )
            });
        assert_eq!(
            info.resource_handle.resource_id, link.resource_id,
            "{what}: external virtual link {} must be on the requested network",
            link.id
        );
        if let Some(vim) = &link.vim_connection_id {
            assert_eq!(
                info.resource_handle.vim_connection_id.as_ref(),
                Some(vim),
                "{what}: external virtual link {} must be in the requested VIM",
                link.id
            );
        }
        if link.resource_provider_id.is_some() {
            assert_eq!(
                info.resource_handle.resource_provider_id, link.resource_provider_id,
                "{what}: external virtual link {} must keep the requested resource provider",
                link.id
            );
        }
        let link_ports: BTreeMap<&str, Option<&str>> = info
            .ext_link_ports
            .iter()
            .map(|p| (p.id.as_str(), p.cp_instance_id.as_deref()))
            .collect();
        for data in &link.ext_cps {
            let vdu_cp = flavour
                .vdu_cps
                .iter()
                .find(|cp| cp.id == data.cpd_id)
                .or_else(|| {
                    let ext = flavour.ext_cps.iter().find(|e| e.id == data.cpd_id)?;
                    flavour.vdu_cps.iter().find(|cp| cp.id == ext.vdu_cp)
                })
                .unwrap_or_else(|| {
                    panic!(
                        "fixture error: extCps names {}, which is no CP of flavour {}",
                        data.cpd_id, flavour.id
                    )
                });
            // The names of this CP: its VduCp id and the external CPs exposing it.
            let names: BTreeSet<&str> = std::iter::once(vdu_cp.id.as_str())
                .chain(std::iter::once(data.cpd_id.as_str()))
                .chain(
                    flavour
                        .ext_cps
                        .iter()
                        .filter(|e| e.vdu_cp == vdu_cp.id)
                        .map(|e| e.id.as_str()),
                )
                .collect();
            let vnfcs: Vec<_> = resources
                .vnfc_resource_info
                .iter()
                .filter(|v| v.vdu_id == vdu_cp.vdu_id)
                .collect();
            for vnfc in vnfcs {
                let cp = vnfc
                    .vnfc_cp_info
                    .iter()
                    .find(|cp| cp.cpd_id == vdu_cp.id)
                    .unwrap_or_else(|| {
                        panic!(
                            "{what}: VNFC {} has no CP {}, which external virtual link {} connects",
                            vnfc.id, vdu_cp.id, link.id
                        )
                    });
                let ext_cp_id = cp.vnf_ext_cp_id.as_deref().unwrap_or_else(|| {
                    panic!(
                        "{what}: CP {} of VNFC {} must be an external CP on external virtual link {} (vnfExtCpId is missing)",
                        cp.id, vnfc.id, link.id
                    )
                });
                let ext_cp = resources
                    .ext_cp_info
                    .iter()
                    .find(|e| e.id == ext_cp_id)
                    .unwrap_or_else(|| {
                        panic!("{what}: external CP {ext_cp_id} is missing from extCpInfo")
                    });
                assert!(
                    names.contains(ext_cp.cpd_id.as_str()),
                    "{what}: external CP {} has descriptor {}, not one of {names:?}",
                    ext_cp.id,
                    ext_cp.cpd_id
                );
                if !data.cp_config.is_empty() {
                    assert!(
                        data.cp_config.contains_key(&ext_cp.cp_config_id),
                        "{what}: external CP {} has cpConfigId {}, which the request's cpConfig of {} lacks",
                        ext_cp.id,
                        ext_cp.cp_config_id,
                        data.cpd_id
                    );
                }
                let port = ext_cp.ext_link_port_id.as_deref().unwrap_or_else(|| {
                    panic!(
                        "{what}: external CP {} has no port (extLinkPortId) on external virtual link {}",
                        ext_cp.id, link.id
                    )
                });
                assert_eq!(
                    link_ports.get(port),
                    Some(&Some(ext_cp.id.as_str())),
                    "{what}: external CP {} must have its port {port} on external virtual link {}, for it",
                    ext_cp.id,
                    link.id
                );
                let addresses: BTreeSet<&str> = ext_cp
                    .cp_protocol_info
                    .iter()
                    .filter_map(|p| p.ip_over_ethernet.as_ref())
                    .flat_map(|ip| ip.ip_addresses.iter())
                    .flat_map(|a| a.addresses.iter().map(String::as_str))
                    .collect();
                if let Some(config) = data.cp_config.get(&ext_cp.cp_config_id) {
                    for protocol in &config.cp_protocol_data {
                        for requested in protocol
                            .ip_over_ethernet
                            .iter()
                            .flat_map(|ip| ip.ip_addresses.iter())
                        {
                            for fixed in &requested.fixed_addresses {
                                assert!(
                                    addresses.contains(fixed.as_str()),
                                    "{what}: external CP {} must have the requested address {fixed}: {addresses:?}",
                                    ext_cp.id
                                );
                            }
                            if requested.num_dynamic_addresses.unwrap_or(0) > 0 {
                                assert!(
                                    !addresses.is_empty(),
                                    "{what}: external CP {} must have an address (numDynamicAddresses)",
                                    ext_cp.id
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Checks a terminate outcome against the instance as recorded before.
fn assert_terminated(before: &VnfResources, outcome: &InfraOutcome, what: &str) {
    let after = &outcome.resources;
    assert!(
        after.vnfc_resource_info.is_empty(),
        "{what}: no VNFC may remain"
    );
    assert!(
        after.vnf_virtual_link_resource_info.is_empty(),
        "{what}: no virtual link may remain"
    );
    assert!(
        after.virtual_storage_resource_info.is_empty(),
        "{what}: no storage may remain"
    );
    assert!(
        after.ext_cp_info.is_empty(),
        "{what}: no external CP may remain"
    );
    let changes = &outcome.resource_changes;
    assert_eq!(
        vnfcs_changed(changes, ChangeType::Removed),
        vnfc_ids(before),
        "{what}: every VNFC is REMOVED"
    );
    assert_eq!(
        vnfcs_changed(changes, ChangeType::Added),
        none(),
        "{what}: nothing ADDED"
    );
    assert_eq!(
        storages_changed(changes, ChangeType::Removed),
        storage_ids(before),
        "{what}: every storage is REMOVED"
    );
    assert_eq!(
        links_changed(changes, VirtualLinkChangeType::Removed),
        link_ids(before),
        "{what}: every internal virtual link is REMOVED"
    );
    assert_eq!(
        ext_ports_changed(changes, PortChangeType::Removed),
        ext_port_ids(before),
        "{what}: every port on an external virtual link is REMOVED"
    );
}

fn assert_not_supported<T: std::fmt::Debug>(
    driver: &dyn InfraDriver,
    result: Result<T>,
    operation: InfraOperation,
) {
    match result {
        Err(Error::OperationNotSupported {
            operation: named,
            implementer,
        }) => {
            assert_eq!(
                named,
                operation.name(),
                "the refusal of {operation} must name it"
            );
            assert!(
                implementer.contains(driver.vim_type()),
                "the refusal of {operation} must name the driver ({}): {implementer}",
                driver.vim_type()
            );
        }
        other => panic!(
            "{operation} is not among the driver's capabilities, so it must answer OperationNotSupported, not {other:?}"
        ),
    }
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

/// Instantiate → scale out → scale in → heal one VNFC → terminate, each call repeated
/// with the same context; then a new instantiation reuses nothing of the old one.
pub async fn lifecycle(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let caps = driver.capabilities();
    let mut subject = Subject::new(driver, fx);
    let instantiated = subject.instantiate().await;
    assert_instantiated(&subject, &instantiated, "instantiate").await;
    let mut seen_computes: BTreeSet<String> =
        compute_ids(&instantiated.resources).into_values().collect();

    if caps.contains(InfraOperation::Scale) {
        let aspect = fx
            .flavour()
            .scaling_aspect(&fx.scale_aspect_id)
            .unwrap_or_else(|| panic!("fixture error: no scaling aspect {}", fx.scale_aspect_id));
        let level = subject.scale_level();
        assert!(
            level < aspect.max_scale_level,
            "fixture error: aspect {} is already at its maximum level",
            aspect.id
        );
        let before = subject.resources();
        let expected = subject.counts_at_scale_level(level + 1);
        let target = subject.scale_target(level + 1, ScaleType::ScaleOut);
        let out = retried!(subject, "scale out", |ctx| driver.scale(&ctx, &target));
        assert_eq!(
            vnfc_counts(&out.resources),
            expected,
            "scale out: VNFCs per VDU must follow the aspect's deltas"
        );
        assert_consistent(fx, subject.flavour, &out.resources, "scale out");
        let added: BTreeSet<String> = vnfc_ids(&out.resources)
            .difference(&vnfc_ids(&before))
            .cloned()
            .collect();
        assert!(!added.is_empty(), "scale out must add VNFCs");
        assert_eq!(
            vnfcs_changed(&out.resource_changes, ChangeType::Added),
            added,
            "scale out: the new VNFCs are ADDED"
        );
        assert_eq!(
            vnfcs_changed(&out.resource_changes, ChangeType::Removed),
            none(),
            "scale out: nothing REMOVED"
        );
        assert_eq!(
            vnfcs_changed(&out.resource_changes, ChangeType::Modified),
            none(),
            "scale out: nothing MODIFIED"
        );
        let kept = compute_ids(&out.resources);
        for (vnfc, compute) in compute_ids(&before) {
            assert_eq!(
                kept.get(&vnfc),
                Some(&compute),
                "scale out must keep VNFC {vnfc} and its compute resource"
            );
        }
        subject.assert_vim_holds(&out.resources, "scale out").await;
        seen_computes.extend(kept.into_values());
        subject.apply(AppliedOperation::Scale(&target), &out);

        let expected = subject.counts_at_scale_level(level);
        let target = subject.scale_target(level, ScaleType::ScaleIn);
        let scaled_in = retried!(subject, "scale in", |ctx| driver.scale(&ctx, &target));
        assert_eq!(
            vnfc_counts(&scaled_in.resources),
            expected,
            "scale in: VNFCs per VDU must follow the aspect's deltas"
        );
        assert_consistent(fx, subject.flavour, &scaled_in.resources, "scale in");
        assert_eq!(
            compute_ids(&scaled_in.resources),
            compute_ids(&before),
            "scale in must remove the most recently created VNFCs (those scale out added)"
        );
        assert_eq!(
            vnfcs_changed(&scaled_in.resource_changes, ChangeType::Removed),
            added,
            "scale in: the removed VNFCs are REMOVED"
        );
        assert_eq!(
            vnfcs_changed(&scaled_in.resource_changes, ChangeType::Added),
            none(),
            "scale in: nothing ADDED"
        );
        assert_eq!(
            vnfcs_changed(&scaled_in.resource_changes, ChangeType::Modified),
            none(),
            "scale in: nothing MODIFIED"
        );
        subject.apply(AppliedOperation::Scale(&target), &scaled_in);
    }

    if caps.contains(InfraOperation::HealVnfc) {
        let before = subject.resources();
        let victim = before
            .vnfc_resource_info
            .first()
            .map(|v| v.id.clone())
            .unwrap_or_else(|| panic!("instantiate created no VNFC to heal"));
        let request = HealVnfRequest {
            vnfc_instance_id: vec![victim.clone()],
            cause: Some("conformance suite".to_owned()),
            ..HealVnfRequest::default()
        };
        let healed = retried!(subject, "heal of one VNFC", |ctx| driver
            .heal(&ctx, &request));
        assert_consistent(fx, subject.flavour, &healed.resources, "heal");
        assert_eq!(
            vnfc_ids(&healed.resources),
            vnfc_ids(&before),
            "heal keeps every VNFC id"
        );
        let old = compute_ids(&before);
        let new = compute_ids(&healed.resources);
        assert_ne!(
            old.get(&victim),
            new.get(&victim),
            "heal must replace the compute resource of VNFC {victim}"
        );
        for (vnfc, compute) in &old {
            if vnfc != &victim {
                assert_eq!(
                    new.get(vnfc),
                    Some(compute),
                    "heal of {victim} must not touch VNFC {vnfc}"
                );
            }
        }
        let changes = &healed.resource_changes;
        assert_eq!(
            vnfcs_changed(changes, ChangeType::Modified),
            BTreeSet::from([victim.clone()]),
            "heal: the healed VNFC is MODIFIED"
        );
        assert_eq!(
            vnfcs_changed(changes, ChangeType::Added),
            none(),
            "heal: nothing ADDED"
        );
        assert_eq!(
            vnfcs_changed(changes, ChangeType::Removed),
            none(),
            "heal: nothing REMOVED"
        );
        let modified = changes.affected_vnfcs.iter().find(|c| c.id == victim);
        assert_eq!(
            modified.map(|c| &c.compute_resource.resource_id),
            new.get(&victim),
            "heal: the MODIFIED entry carries the new compute resource"
        );
        seen_computes.extend(new.into_values());
        subject.apply(AppliedOperation::Heal, &healed);
    }

    let before = subject.resources();
    let terminated = subject.terminate().await;
    assert_terminated(&before, &terminated, "terminate");

    // Nothing of the old instance is left to be picked up by a new instantiation.
    let mut again = Subject::new(driver, fx);
    again.record.id = subject.id().to_owned();
    again.record.links = subject.record.links.clone();
    let reinstantiated = again.instantiate().await;
    assert_instantiated(&again, &reinstantiated, "instantiate after terminate").await;
    for compute in compute_ids(&reinstantiated.resources).values() {
        assert!(
            !seen_computes.contains(compute),
            "instantiate after terminate reused compute resource {compute}: terminate left it behind"
        );
    }
    let before = again.resources();
    let terminated = again.terminate().await;
    assert_terminated(&before, &terminated, "terminate after re-instantiation");
}

/// Heal of the whole VNF replaces every compute resource and keeps every VNFC id.
pub async fn heal_of_the_whole_vnf(driver: &dyn InfraDriver, fx: &InfraFixture) {
    if !driver.capabilities().contains(InfraOperation::HealVnf) {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let before = subject.resources();
    let request = HealVnfRequest {
        cause: Some("conformance suite: whole VNF".to_owned()),
        ..HealVnfRequest::default()
    };
    let healed = retried!(subject, "heal of the whole VNF", |ctx| driver
        .heal(&ctx, &request));
    assert_consistent(
        fx,
        subject.flavour,
        &healed.resources,
        "heal of the whole VNF",
    );
    assert_eq!(
        vnfc_ids(&healed.resources),
        vnfc_ids(&before),
        "heal of the whole VNF keeps every VNFC id"
    );
    let new = compute_ids(&healed.resources);
    for (vnfc, compute) in compute_ids(&before) {
        assert_ne!(
            new.get(&vnfc),
            Some(&compute),
            "heal of the whole VNF must replace VNFC {vnfc}"
        );
    }
    assert_eq!(
        vnfcs_changed(&healed.resource_changes, ChangeType::Modified),
        vnfc_ids(&before),
        "heal of the whole VNF: every VNFC is MODIFIED"
    );
    subject.apply(AppliedOperation::Heal, &healed);
    subject.terminate().await;
}

/// Heal of a VNFC the instance does not have is refused with `Unprocessable`, before
/// anything changes.
pub async fn heal_of_an_unknown_vnfc_is_refused(driver: &dyn InfraDriver, fx: &InfraFixture) {
    if !driver.capabilities().contains(InfraOperation::HealVnfc) {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let held = subject.probe().await;
    let unknown = format!("no-such-vnfc-{}", new_id());
    let request = HealVnfRequest {
        vnfc_instance_id: vec![unknown.clone()],
        ..HealVnfRequest::default()
    };
    let op_id = new_id();
    let result = driver.heal(&subject.ctx(&op_id), &request).await;
    match result {
        Err(Error::Unprocessable(message)) => assert!(
            message.contains(&unknown),
            "the refusal of an unknown VNFC must name it: {message}"
        ),
        other => panic!("heal of unknown VNFC {unknown} must be Unprocessable, not {other:?}"),
    }
    assert_eq!(
        held,
        subject.probe().await,
        "a refused heal must not change the VIM"
    );
    subject.terminate().await;
}

/// Operate stops and starts the VNF without adding, removing or replacing VNFCs.
pub async fn operate_stops_and_starts(driver: &dyn InfraDriver, fx: &InfraFixture) {
    if !driver.capabilities().contains(InfraOperation::Operate) {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    for state in [
        VnfOperationalStateType::Stopped,
        VnfOperationalStateType::Started,
    ] {
        let before = subject.resources();
        let request = OperateVnfRequest {
            change_state_to: state,
            stop_type: None,
            graceful_stop_timeout: None,
            additional_params: Default::default(),
        };
        let what = format!("operate to {state:?}");
        let outcome = retried!(subject, &what, |ctx| driver.operate(&ctx, &request));
        let (now, then) = (compute_ids(&outcome.resources), compute_ids(&before));
        if fx.operate_replaces_compute && state == VnfOperationalStateType::Started {
            assert_eq!(
                now.keys().collect::<Vec<_>>(),
                then.keys().collect::<Vec<_>>(),
                "{what} keeps every VNFC"
            );
            let modified = vnfcs_changed(&outcome.resource_changes, ChangeType::Modified);
            for (vnfc, compute) in &now {
                assert!(
                    then.get(vnfc) == Some(compute) || modified.contains(vnfc),
                    "{what}: VNFC {vnfc} has a new compute resource, which must be reported MODIFIED"
                );
            }
        } else {
            assert_eq!(now, then, "{what} keeps every VNFC and compute resource");
        }
        assert_eq!(
            vnfcs_changed(&outcome.resource_changes, ChangeType::Added),
            none(),
            "{what}: nothing ADDED"
        );
        assert_eq!(
            vnfcs_changed(&outcome.resource_changes, ChangeType::Removed),
            none(),
            "{what}: nothing REMOVED"
        );
        subject.apply(AppliedOperation::Operate(&request), &outcome);
    }
    subject.terminate().await;
}

/// Rollback of instantiate is safe with nothing created, removes everything a
/// successful (or, with an inspector that can inject it, a partial) instantiate
/// created, and a following instantiate works.
pub async fn rollback_of_instantiate_removes_everything(
    driver: &dyn InfraDriver,
    fx: &InfraFixture,
) {
    if !driver
        .capabilities()
        .contains(InfraOperation::RollbackInstantiate)
    {
        return;
    }
    let request = fx.instantiate_request();
    let mut subject = Subject::new(driver, fx);

    let nothing = retried!(
        subject,
        "rollback of an instantiate that created nothing",
        |ctx| driver.rollback(&ctx, &Rollback::Instantiate(&request))
    );
    assert!(
        nothing.resources.vnfc_resource_info.is_empty(),
        "nothing to roll back leaves nothing"
    );

    let op_id = new_id();
    let created = ok(
        driver.instantiate(&subject.ctx(&op_id), &request).await,
        "instantiate",
    );
    let rolled_back = retried!(subject, "rollback of instantiate", |ctx| driver
        .rollback(&ctx, &Rollback::Instantiate(&request)));
    assert_eq!(
        rolled_back.resources,
        VnfResources::default(),
        "rollback of instantiate leaves no resources"
    );
    subject
        .assert_nothing_left("after rollback of instantiate")
        .await;

    let again = subject.instantiate().await;
    assert_instantiated(&subject, &again, "instantiate after its rollback").await;
    let old: BTreeSet<String> = compute_ids(&created.resources).into_values().collect();
    for compute in compute_ids(&again.resources).values() {
        assert!(
            !old.contains(compute),
            "rollback of instantiate left compute resource {compute} behind"
        );
    }
    subject.terminate().await;

    let partial = fx
        .inspector
        .as_ref()
        .is_some_and(|i| i.fail_next_after_partial_work(LcmOperationType::Instantiate));
    if partial {
        let mut subject = Subject::new(driver, fx);
        let op_id = new_id();
        let failed = driver.instantiate(&subject.ctx(&op_id), &request).await;
        assert!(
            failed.is_err(),
            "the injected partial failure of instantiate must fail the call"
        );
        retried!(subject, "rollback of a partial instantiate", |ctx| driver
            .rollback(&ctx, &Rollback::Instantiate(&request)));
        subject
            .assert_nothing_left("after rollback of a partial instantiate")
            .await;
        let again = subject.instantiate().await;
        assert_instantiated(
            &subject,
            &again,
            "instantiate after the rollback of a partial one",
        )
        .await;
        subject.terminate().await;
    }
}

/// Rollback of a scale out returns to the VNFCs (and compute resources) recorded before
/// it.
pub async fn rollback_of_scale_out_restores_the_vnfcs(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let caps = driver.capabilities();
    if !(caps.contains(InfraOperation::Scale) && caps.contains(InfraOperation::RollbackScale)) {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let before = subject.resources();
    let target = subject.scale_target(subject.scale_level() + 1, ScaleType::ScaleOut);
    let op_id = new_id();
    let out = ok(
        driver.scale(&subject.ctx(&op_id), &target).await,
        "scale out",
    );
    assert!(
        vnfc_ids(&out.resources).len() > vnfc_ids(&before).len(),
        "scale out must add VNFCs"
    );
    let rolled_back = retried!(subject, "rollback of scale out", op = &op_id, |ctx| driver
        .rollback(&ctx, &Rollback::Scale(&target)));
    assert_consistent(
        fx,
        subject.flavour,
        &rolled_back.resources,
        "rollback of scale out",
    );
    assert_eq!(
        compute_ids(&rolled_back.resources),
        compute_ids(&before),
        "rollback of scale out must return to the VNFCs recorded before it"
    );
    if let Some(held) = subject.probe().await {
        for vnfc in &out.resources.vnfc_resource_info {
            if !compute_ids(&before).contains_key(&vnfc.id) {
                assert!(
                    !held.contains(&vnfc.compute_resource.resource_id),
                    "rollback of scale out left compute resource {} behind",
                    vnfc.compute_resource.resource_id
                );
            }
        }
    }
    subject.apply(AppliedOperation::Rollback, &rolled_back);
    subject.terminate().await;
}

/// With an inspector that can inject partial failures: an instantiate and a scale out
/// that failed half-way converge when retried with the same context.
pub async fn retry_after_partial_failure_converges(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let Some(inspector) = fx.inspector.as_ref() else {
        return;
    };
    if !inspector.fail_next_after_partial_work(LcmOperationType::Instantiate) {
        return;
    }
    let request = fx.instantiate_request();
    let mut subject = Subject::new(driver, fx);
    let op_id = new_id();
    let failed = driver.instantiate(&subject.ctx(&op_id), &request).await;
    assert!(
        failed.is_err(),
        "the injected partial failure of instantiate must fail the call"
    );
    let outcome = subject.instantiate().await;
    assert_instantiated(
        &subject,
        &outcome,
        "instantiate retried after a partial failure",
    )
    .await;

    if driver.capabilities().contains(InfraOperation::Scale)
        && inspector.fail_next_after_partial_work(LcmOperationType::Scale)
    {
        let before = subject.resources();
        let level = subject.scale_level();
        let expected = subject.counts_at_scale_level(level + 1);
        let target = subject.scale_target(level + 1, ScaleType::ScaleOut);
        let op_id = new_id();
        let failed = driver.scale(&subject.ctx(&op_id), &target).await;
        assert!(
            failed.is_err(),
            "the injected partial failure of scale must fail the call"
        );
        let out = retried!(
            subject,
            "scale out retried after a partial failure",
            |ctx| driver.scale(&ctx, &target)
        );
        assert_eq!(
            vnfc_counts(&out.resources),
            expected,
            "scale out retried after a partial failure: VNFCs per VDU"
        );
        let added: BTreeSet<String> = vnfc_ids(&out.resources)
            .difference(&vnfc_ids(&before))
            .cloned()
            .collect();
        assert_eq!(
            vnfcs_changed(&out.resource_changes, ChangeType::Added),
            added,
            "scale out retried after a partial failure: every new VNFC is ADDED"
        );
        subject.apply(AppliedOperation::Scale(&target), &out);
    }
    subject.terminate().await;
}

/// Change external connectivity moves the external CPs to a new external virtual link
/// and reports it; its rollback returns to the recorded links.
pub async fn change_ext_conn_and_its_rollback(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let caps = driver.capabilities();
    let Some(first) = fx.ext_virtual_links.first() else {
        return;
    };
    if !caps.contains(InfraOperation::ChangeExtConn) {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let before = subject.resources();
    let mut moved = first.clone();
    moved.id = format!("{}-moved", first.id);
    moved.resource_id = format!("{}-moved", first.resource_id);
    let request = ChangeExtVnfConnectivityRequest {
        ext_virtual_links: vec![moved.clone()],
        ..ChangeExtVnfConnectivityRequest::default()
    };
    let op_id = new_id();
    let changed = retried!(
        subject,
        "change external connectivity",
        op = &op_id,
        |ctx| driver.change_ext_conn(&ctx, &request)
    );
    assert_consistent(
        fx,
        subject.flavour,
        &changed.resources,
        "change external connectivity",
    );
    assert_eq!(
        compute_ids(&changed.resources),
        compute_ids(&before),
        "change external connectivity keeps every VNFC"
    );
    let link = changed
        .resources
        .ext_virtual_link_info
        .iter()
        .find(|l| l.id == moved.id)
        .unwrap_or_else(|| panic!("change external connectivity: link {} is missing", moved.id));
    assert_eq!(
        link.resource_handle.resource_id, moved.resource_id,
        "the new link is on the requested network"
    );
    assert!(
        !link.ext_link_ports.is_empty(),
        "external CPs are connected to the new link"
    );
    assert!(
        changed
            .changed_ext_connectivity
            .iter()
            .any(|l| l.id == moved.id),
        "changedExtConnectivity reports the new link"
    );
    assert_eq!(
        changed.resources.ext_cp_info.len(),
        before.ext_cp_info.len(),
        "change external connectivity keeps the number of external CPs"
    );

    if caps.contains(InfraOperation::RollbackChangeExtConn) {
        let rollback = Rollback::ChangeExtConn(&request);
        let rolled_back = retried!(
            subject,
            "rollback of change external connectivity",
            op = &op_id,
            |ctx| { driver.rollback(&ctx, &rollback) }
        );
        let ids = |r: &VnfResources| -> BTreeMap<String, String> {
            r.ext_virtual_link_info
                .iter()
                .map(|l| (l.id.clone(), l.resource_handle.resource_id.clone()))
                .collect()
        };
        assert_eq!(
            ids(&rolled_back.resources),
            ids(&before),
            "rollback returns to the recorded external links"
        );
        assert_eq!(
            compute_ids(&rolled_back.resources),
            compute_ids(&before),
            "rollback keeps every VNFC"
        );
        subject.apply(AppliedOperation::Rollback, &rolled_back);
    } else {
        subject.apply(AppliedOperation::ChangeExtConn, &changed);
    }
    subject.terminate().await;
}

/// Change flavour converges to the new flavour's VNFC counts; its rollback returns to
/// the recorded ones. Skipped without [`InfraFixture::change_flavour_to`].
pub async fn change_flavour_and_its_rollback(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let caps = driver.capabilities();
    let Some((new_flavour_id, level)) = &fx.change_flavour_to else {
        return;
    };
    if !caps.contains(InfraOperation::ChangeFlavour) {
        return;
    }
    let new_flavour = fx
        .vnfd
        .flavour(new_flavour_id)
        .unwrap_or_else(|| panic!("fixture error: no flavour {new_flavour_id}"));
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let before = subject.resources();
    let request = ChangeVnfFlavourRequest {
        new_flavour_id: new_flavour_id.clone(),
        instantiation_level_id: level.clone(),
        ..ChangeVnfFlavourRequest::default()
    };
    let op_id = new_id();
    let changed = retried!(subject, "change flavour", op = &op_id, |ctx| driver
        .change_flavour(&ctx, &request));
    assert_eq!(
        vnfc_counts(&changed.resources),
        expected_at_level(new_flavour, level.as_deref()),
        "change flavour: VNFCs per VDU must match the new flavour's level"
    );
    assert_consistent(fx, new_flavour, &changed.resources, "change flavour");
    let added: BTreeSet<String> = vnfc_ids(&changed.resources)
        .difference(&vnfc_ids(&before))
        .cloned()
        .collect();
    assert_eq!(
        vnfcs_changed(&changed.resource_changes, ChangeType::Added),
        added,
        "change flavour: new VNFCs are ADDED"
    );

    if caps.contains(InfraOperation::RollbackChangeFlavour) {
        let rollback = Rollback::ChangeFlavour(&request);
        let rolled_back = retried!(subject, "rollback of change flavour", op = &op_id, |ctx| {
            driver.rollback(&ctx, &rollback)
        });
        assert_eq!(
            vnfc_ids(&rolled_back.resources),
            vnfc_ids(&before),
            "rollback of change flavour returns to the recorded VNFCs"
        );
        assert_consistent(
            fx,
            subject.flavour,
            &rolled_back.resources,
            "rollback of change flavour",
        );
        subject.apply(AppliedOperation::Rollback, &rolled_back);
    } else {
        subject.apply(AppliedOperation::ChangeFlavour(&request), &changed);
    }
    subject.terminate().await;
}

/// Change current package updates or replaces every VNFC (each MODIFIED, or REMOVED and
/// ADDED) and keeps the counts; its rollback keeps them too. Skipped without
/// [`InfraFixture::new_package`].
pub async fn change_vnfpkg_and_its_rollback(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let caps = driver.capabilities();
    let Some((new_vnfd, new_package)) = &fx.new_package else {
        return;
    };
    if !caps.contains(InfraOperation::ChangeVnfpkg) {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let before = subject.resources();
    let request = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_vnfd.descriptor_id.clone(),
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let op_id = new_id();
    let changed = retried!(subject, "change current VNF package", op = &op_id, |ctx| {
        driver.change_vnfpkg(&ctx, &request, new_vnfd, new_package.as_ref())
    });
    assert_eq!(
        vnfc_counts(&changed.resources),
        vnfc_counts(&before),
        "change current VNF package keeps the VNFCs per VDU"
    );
    let changes = &changed.resource_changes;
    for vnfc in vnfc_ids(&before) {
        let modified = vnfcs_changed(changes, ChangeType::Modified).contains(&vnfc);
        let replaced = vnfcs_changed(changes, ChangeType::Removed).contains(&vnfc);
        assert!(
            modified || replaced,
            "change current VNF package must update (MODIFIED) or replace (REMOVED) VNFC {vnfc}"
        );
    }
    if caps.contains(InfraOperation::RollbackChangeVnfpkg) {
        let rollback = Rollback::ChangeVnfpkg(&request);
        let rolled_back = retried!(
            subject,
            "rollback of change current VNF package",
            op = &op_id,
            |ctx| { driver.rollback(&ctx, &rollback) }
        );
        assert_eq!(
            vnfc_counts(&rolled_back.resources),
            vnfc_counts(&before),
            "rollback of change current VNF package keeps the VNFCs per VDU"
        );
        assert_consistent(
            fx,
            subject.flavour,
            &rolled_back.resources,
            "rollback of change current VNF package",
        );
        subject.apply(AppliedOperation::Rollback, &rolled_back);
    } else {
        subject.apply(AppliedOperation::ChangeVnfpkg(new_vnfd), &changed);
    }
    subject.terminate().await;
}

/// An operation of the driver called on an instantiated subject, with a request that
/// the fixture allows (for an operation whose own check the fixture skips, whatever
/// the driver answers but "not supported" shows that it implements it).
async fn call_operation(
    driver: &dyn InfraDriver,
    subject: &Subject<'_>,
    ctx: &InfraContext<'_>,
    operation: InfraOperation,
) -> Result<InfraOutcome> {
    let fx = subject.fx;
    let target = subject.scale_target(subject.scale_level() + 1, ScaleType::ScaleOut);
    let first_vnfc = subject
        .resources()
        .vnfc_resource_info
        .first()
        .map(|v| v.id.clone())
        .unwrap_or_default();
    let (new_vnfd, new_package) = fx
        .new_package
        .clone()
        .unwrap_or_else(|| (fx.vnfd.clone(), fx.package.clone()));
    let pkg_request = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_vnfd.descriptor_id.clone(),
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let (new_flavour_id, level) = fx
        .change_flavour_to
        .clone()
        .unwrap_or_else(|| (fx.flavour_id.clone(), None));
    let flavour_request = ChangeVnfFlavourRequest {
        new_flavour_id,
        instantiation_level_id: level,
        ..ChangeVnfFlavourRequest::default()
    };
    let ext_request = ChangeExtVnfConnectivityRequest {
        ext_virtual_links: fx.ext_virtual_links.clone(),
        ..ChangeExtVnfConnectivityRequest::default()
    };
    let operate_request = OperateVnfRequest {
        change_state_to: VnfOperationalStateType::Stopped,
        stop_type: None,
        graceful_stop_timeout: None,
        additional_params: Default::default(),
    };
    let instantiate_request = fx.instantiate_request();
    match operation {
        InfraOperation::Instantiate => driver.instantiate(ctx, &instantiate_request).await,
        InfraOperation::Terminate => driver.terminate(ctx, &terminate_request()).await,
        InfraOperation::Scale => driver.scale(ctx, &target).await,
        InfraOperation::HealVnfc => {
            let request = HealVnfRequest {
                vnfc_instance_id: vec![first_vnfc],
                ..HealVnfRequest::default()
            };
            driver.heal(ctx, &request).await
        }
        InfraOperation::HealVnf => driver.heal(ctx, &HealVnfRequest::default()).await,
        InfraOperation::ChangeFlavour => driver.change_flavour(ctx, &flavour_request).await,
        InfraOperation::ChangeExtConn => driver.change_ext_conn(ctx, &ext_request).await,
        InfraOperation::ChangeVnfpkg => {
            driver
                .change_vnfpkg(ctx, &pkg_request, &new_vnfd, new_package.as_ref())
                .await
        }
        InfraOperation::Operate => driver.operate(ctx, &operate_request).await,
        InfraOperation::RollbackInstantiate => {
            driver
                .rollback(ctx, &Rollback::Instantiate(&instantiate_request))
                .await
        }
        InfraOperation::RollbackScale => driver.rollback(ctx, &Rollback::Scale(&target)).await,
        InfraOperation::RollbackChangeFlavour => {
            driver
                .rollback(ctx, &Rollback::ChangeFlavour(&flavour_request))
                .await
        }
        InfraOperation::RollbackChangeExtConn => {
            driver
                .rollback(ctx, &Rollback::ChangeExtConn(&ext_request))
                .await
        }
        InfraOperation::RollbackChangeVnfpkg => {
            driver
                .rollback(ctx, &Rollback::ChangeVnfpkg(&pkg_request))
                .await
        }
    }
}

/// Every operation the driver's capabilities leave out answers
/// [`Error::OperationNotSupported`] naming it and the driver, and changes nothing.
pub async fn unsupported_operations_answer_not_supported(
    driver: &dyn InfraDriver,
    fx: &InfraFixture,
) {
    let caps = driver.capabilities();
    let missing: Vec<InfraOperation> = InfraOperation::ALL
        .iter()
        .copied()
        .filter(|op| !caps.contains(*op))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    let held = subject.probe().await;
    let op_id = new_id();
    let ctx = subject.ctx(&op_id);
    for operation in missing {
        let result = call_operation(driver, &subject, &ctx, operation).await;
        assert_not_supported(driver, result, operation);
    }
    assert_eq!(
        held,
        subject.probe().await,
        "refused operations must not change the VIM"
    );
    subject.terminate().await;
}

/// Every operation the driver's capabilities hold is implemented: called, it does not
/// answer "not supported" (the answer of a method left to its default). The checks
/// above show that each works; this one covers the operations whose check the
/// fixture skips (no second flavour, no new package, no external link).
pub async fn declared_operations_are_implemented(driver: &dyn InfraDriver, fx: &InfraFixture) {
    let caps = driver.capabilities();
    // Rollback of instantiate last: it removes everything the others work on.
    let mut declared: Vec<InfraOperation> =
        caps.operations().filter(|op| !op.is_required()).collect();
    declared.sort_by_key(|op| *op == InfraOperation::RollbackInstantiate);
    let mut subject = Subject::new(driver, fx);
    subject.instantiate().await;
    for operation in declared {
        let op_id = new_id();
        let ctx = subject.ctx(&op_id);
        let result = call_operation(driver, &subject, &ctx, operation).await;
        if let Err(error) = &result {
            assert!(
                !error.is_not_supported(),
                "the driver declares {operation} among its capabilities, but answers: {error}"
            );
        }
        // The operate call stopped the VNF: start it again, so that every server it
        // stopped runs as before (a VIM's own checks may pair stops with starts).
        if operation == InfraOperation::Operate
            && let Ok(stopped) = &result
        {
            let operate = |state| OperateVnfRequest {
                change_state_to: state,
                stop_type: None,
                graceful_stop_timeout: None,
                additional_params: Default::default(),
            };
            let stop = operate(VnfOperationalStateType::Stopped);
            subject.apply(AppliedOperation::Operate(&stop), stopped);
            let start = operate(VnfOperationalStateType::Started);
            let op_id = new_id();
            let started = ok(
                driver.operate(&subject.ctx(&op_id), &start).await,
                "operate start after the declared operate",
            );
            subject.apply(AppliedOperation::Operate(&start), &started);
        }
    }
    let op_id = new_id();
    ok(
        driver
            .terminate(&subject.ctx(&op_id), &terminate_request())
            .await,
        "terminate after the calls of every declared operation",
    );
    subject.assert_nothing_left("after terminate").await;
}

/// Both halves of the agreement between [`InfraDriver::capabilities`] and the methods:
/// [`declared_operations_are_implemented`] and
/// [`unsupported_operations_answer_not_supported`].
pub async fn capabilities_agree_with_the_methods(driver: &dyn InfraDriver, fx: &InfraFixture) {
    declared_operations_are_implemented(driver, fx).await;
    unsupported_operations_answer_not_supported(driver, fx).await;
}

/// An instantiation with the fixture's external virtual links reports them: each link
/// in `extVirtualLinkInfo` on its network, the CPs each `extCps` entry names as
/// external CPs of every VNFC of their VDU, each with a port on its link and the
/// requested fixed addresses, every port ADDED; terminate removes them. Skipped without
/// external links in the fixture.
pub async fn instantiate_connects_the_external_virtual_links(
    driver: &dyn InfraDriver,
    fx: &InfraFixture,
) {
    if fx.ext_virtual_links.is_empty() {
        return;
    }
    let mut subject = Subject::new(driver, fx);
    let outcome = subject.instantiate().await;
    assert_instantiated(
        &subject,
        &outcome,
        "instantiate with external virtual links",
    )
    .await;
    let recorded = subject.resources();
    assert_ext_connectivity(
        subject.flavour,
        &fx.ext_virtual_links,
        &recorded,
        "the instance as recorded after instantiate",
    );
    let terminated = subject.terminate().await;
    assert_terminated(&recorded, &terminated, "terminate");
}
