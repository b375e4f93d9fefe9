//! Tacker's own sample packages that carry a user-data class (`StandardUserData`), run
//! through the driver on real Keystone, Heat, Nova, Neutron and Glance: the class runs
//! in the sandbox with Tacker's published helper modules, and the cloud holds what the
//! record says.
//!
//! Needs the full OpenStack set (`TACKER_TEST_OS_FULL=1` and the `OS_*` variables) and
//! `scripts/tacker-userdata.sh all` (`TACKER_TEST_USERDATA_PYTHON`, the venv's Python,
//! and `TACKER_TEST_USERDATA_SAMPLES`, the folder of the assembled samples). Skipped
//! without them, except under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use tacker_core::csar::{Csar, CsarOptions};
use tacker_core::infra::{InfraContext, InfraDriver, InfraOutcome, Rollback, ScaleTarget};
use tacker_core::lcm::grant::{GrantResources, grant_request};
use tacker_core::model::{
    ChangeCurrentVnfPkgRequest, Grant, GrantRequest, GrantedLcmOperationType, HealVnfRequest,
    InstantiateVnfRequest, KeyValuePairs, Link, ScaleInfo, ScaleType, TerminateVnfRequest,
    TerminationType, VimConnectionInfo, VnfInstance,
};
use tacker_core::package::InMemoryPackageFiles;
use tacker_core::package::PackageFiles;
use tacker_core::sim;
use tacker_core::vnfd::Vnfd;
use tacker_core::{Error, TenantId, new_id};
use tacker_drivers_openstack::userdata::{USER_DATA, USER_DATA_CLASS, UserDataRunner};
use tacker_drivers_openstack::{OpenStackInfraDriver, OpenStackOptions};
use tacker_sandbox::{Sandbox, SandboxConfig};

mod cloud;

const VIM_ID: &str = "vim-1";

struct Setup {
    auth_url: String,
    user: (String, String, String),
    python: PathBuf,
    samples: PathBuf,
}

fn setup() -> Option<Setup> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let ci = var("CI").as_deref() == Some("true");
    let wanted = [
        "OS_AUTH_URL",
        "TACKER_TEST_USERDATA_PYTHON",
        "TACKER_TEST_USERDATA_SAMPLES",
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|n| var(n).is_none())
        .collect();
    let full = var("TACKER_TEST_OS_FULL").as_deref() == Some("1");
    if !missing.is_empty() || !full {
        assert!(
            !ci,
            "CI=true but {missing:?} unset or TACKER_TEST_OS_FULL is not 1: .ci/run must start \
             the full OpenStack set and run scripts/tacker-userdata.sh all"
        );
        eprintln!(
            "skipped: needs the full OpenStack set and scripts/tacker-userdata.sh ({missing:?} unset)"
        );
        return None;
    }
    Some(Setup {
        auth_url: var("OS_AUTH_URL")?,
        user: (
            var("OS_USERNAME").unwrap_or_else(|| "demo".into()),
            var("OS_PASSWORD").unwrap_or_default(),
            var("OS_PROJECT_NAME").unwrap_or_else(|| "demo".into()),
        ),
        python: var("TACKER_TEST_USERDATA_PYTHON")?.into(),
        samples: var("TACKER_TEST_USERDATA_SAMPLES")?.into(),
    })
}

fn vim(setup: &Setup) -> VimConnectionInfo {
    let (username, password, project) = &setup.user;
    let mut access = KeyValuePairs::new();
    access.insert("username".into(), json!(username));
    access.insert("password".into(), json!(password));
    access.insert("project".into(), json!(project));
    access.insert("userDomainId".into(), json!("default"));
    access.insert("projectDomainId".into(), json!("default"));
    let mut interface = KeyValuePairs::new();
    interface.insert("endpoint".into(), json!(setup.auth_url));
    VimConnectionInfo {
        vim_id: Some(VIM_ID.into()),
        vim_type: tacker_drivers_openstack::VIM_TYPE.into(),
        interface_info: interface,
        access_info: access,
        extra: KeyValuePairs::new(),
    }
}

struct Package {
    vnfd: Vnfd,
    files: Arc<InMemoryPackageFiles>,
}

fn sample(setup: &Setup, name: &str) -> Package {
    let dir = setup.samples.join(name);
    let options = CsarOptions::default();
    let csar = Csar::from_dir(&dir, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let report = tacker_core::vnfd::validate(&csar, &options)
        .unwrap_or_else(|e| panic!("{name}: {}", e.to_problem_details().detail));
    let mut files = InMemoryPackageFiles::new();
    for path in csar.paths().map(str::to_owned).collect::<Vec<_>>() {
        let bytes = csar
            .read(&path)
            .unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
        files = files.with_file(path, bytes);
    }
    Package {
        vnfd: report.vnfd,
        files: Arc::new(files),
    }
}

/// One VNF instance of a sample and its record, operation after operation.
struct Instance {
    record: VnfInstance,
    package: Package,
    vim: VimConnectionInfo,
    tenant: TenantId,
}

impl Instance {
    fn new(package: Package, vim: VimConnectionInfo) -> Self {
        let mut record = sim::sample_instance(&new_id(), &package.vnfd.descriptor_id);
        record
            .vim_connection_info
            .insert(VIM_ID.into(), vim.clone());
        Self {
            record,
            package,
            vim,
            tenant: TenantId::new("userdata-tests"),
        }
    }

    fn flavour(&self) -> &tacker_core::vnfd::DeploymentFlavour {
        self.package.vnfd.flavour("simple").expect("flavour simple")
    }

    /// The grant request of operation `op` with `resources`.
    fn grant_request(
        &self,
        op: &str,
        operation: GrantedLcmOperationType,
        resources: GrantResources,
    ) -> GrantRequest {
        grant_request(
            operation,
            &self.record.id,
            op,
            &self.package.vnfd.descriptor_id,
            Some("simple"),
            None,
            false,
            resources,
            (Link::new("op"), Link::new("instance")),
        )
    }

    fn ctx<'a>(&'a self, op: &'a str, grant_request: &'a GrantRequest) -> InfraContext<'a> {
        self.granted_ctx(op, grant_request, None)
    }

    fn granted_ctx<'a>(
        &'a self,
        op: &'a str,
        grant_request: &'a GrantRequest,
        grant: Option<&'a Grant>,
    ) -> InfraContext<'a> {
        InfraContext::new(
            &self.tenant,
            op,
            &self.record,
            &self.package.vnfd,
            self.flavour(),
            VIM_ID,
            &self.vim,
        )
        .with_package(self.package.files.as_ref())
        .with_grant_request(Some(grant_request))
        .with_grant(grant)
    }

    fn record(&mut self, op: sim::AppliedOperation<'_>, outcome: &InfraOutcome) {
        self.record = sim::apply_outcome(&self.record, &self.package.vnfd, op, outcome)
            .expect("the outcome applies");
    }

    fn servers(&self) -> BTreeMap<String, String> {
        self.record
            .instantiated_vnf_info
            .iter()
            .flat_map(|i| i.vnfc_resource_info.iter())
            .map(|v| (v.compute_resource.resource_id.clone(), v.vdu_id.clone()))
            .collect()
    }
}

fn user_data_params() -> KeyValuePairs {
    let mut params = KeyValuePairs::new();
    params.insert(USER_DATA.into(), json!("./UserData/userdata_standard.py"));
    params.insert(USER_DATA_CLASS.into(), json!("StandardUserData"));
    params
}

fn detail(error: &Error) -> String {
    error.to_problem_details().detail
}

/// The servers Nova holds in `project` beyond `before`, by id with their names.
async fn new_servers(
    api: &cloud::Admin,
    project: &str,
    before: &BTreeSet<String>,
) -> BTreeSet<String> {
    api.servers(project)
        .await
        .into_keys()
        .filter(|id| !before.contains(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tacker_sample_packages_run_through_their_user_data_class() {
    let Some(setup) = setup() else {
        return;
    };
    let sandbox = Sandbox::new(SandboxConfig {
        python: setup.python.clone(),
        time_limit: Duration::from_secs(60),
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox runs here");
    let driver = OpenStackInfraDriver::new(OpenStackOptions {
        operation_timeout: Duration::from_secs(240),
        user_data: Some(UserDataRunner::new(Arc::new(sandbox))),
        ..OpenStackOptions::default()
    });
    let admin_user = std::env::var("OS_ADMIN_USERNAME").unwrap_or_else(|_| "admin".into());
    let admin_password =
        std::env::var("OS_ADMIN_PASSWORD").unwrap_or_else(|_| "admin-secret".into());
    let admin_project = std::env::var("OS_ADMIN_PROJECT_NAME").unwrap_or_else(|_| "admin".into());
    let api = cloud::Admin::login(
        &setup.auth_url,
        &admin_user,
        &admin_password,
        &admin_project,
    )
    .await;
    let project = api.project_id(&setup.user.2).await;
    api.raise_quotas(&project).await;
    api.ensure_image("cirros-0.5.2-x86_64-disk").await;
    let before: BTreeSet<String> = api.servers(&project).await.into_keys().collect();
    let networks_before = api.networks(&project).await;

    // --- basic_lcms_min_individual_vnfc: instantiate, scale out and in, heal, terminate.
    let mut instance = Instance::new(
        sample(&setup, "basic_lcms_min_individual_vnfc"),
        vim(&setup),
    );
    let request = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        additional_params: user_data_params(),
        ..InstantiateVnfRequest::default()
    };
    let op = new_id();
    let mut resources = GrantResources::default();
    resources.add_vnfcs(instance.flavour(), "VDU1", 1);
    resources.add_vnfcs(instance.flavour(), "VDU2", 1);
    let granted = instance.grant_request(&op, GrantedLcmOperationType::Instantiate, resources);
    // The image of the second sample, which VDU1 changes to below, needs more memory than
    // the cloud's m1.tiny has (and a change of flavour would be a resize, which needs a
    // second compute host): the NFVO's grant gives VDU1 a larger flavour from the start,
    // which the class reads from `vimAssets`.
    let flavour = "vnf.small";
    api.ensure_flavor(flavour, 512, 1, 1).await;
    let grant = vdu1_flavour_grant(&instance, &op, flavour);
    let outcome = driver
        .instantiate(&instance.granted_ctx(&op, &granted, Some(&grant)), &request)
        .await
        .unwrap_or_else(|e| panic!("instantiate through StandardUserData: {}", detail(&e)));
    instance.record(sim::AppliedOperation::Instantiate(&request), &outcome);
    let info = instance
        .record
        .instantiated_vnf_info
        .clone()
        .expect("instantiated");
    let metadata = &instance.record.metadata;
    assert_eq!(
        metadata.get(USER_DATA_CLASS),
        Some(&json!("StandardUserData")),
        "the class is recorded for later operations"
    );
    assert!(
        metadata
            .get("nfv")
            .is_some_and(|n| n["VDU"]["VDU1-0"].is_object()),
        "{metadata:?}"
    );
    let mut indexes: Vec<(String, Value)> = info
        .vnfc_resource_info
        .iter()
        .map(|v| {
            (
                v.vdu_id.clone(),
                v.metadata.get("vdu_idx").cloned().unwrap_or_default(),
            )
        })
        .collect();
    indexes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        indexes,
        vec![("VDU1".into(), json!(0)), ("VDU2".into(), json!(0))]
    );
    let servers = instance.servers();
    assert_eq!(
        new_servers(&api, &project, &before).await,
        servers.keys().cloned().collect(),
        "Nova holds the servers the record names"
    );

    // Scale out VDU1 by one: the class adds resource VDU1-1.
    let op = new_id();
    let mut resources = GrantResources::default();
    resources.add_vnfcs(instance.flavour(), "VDU1", 1);
    let granted = instance.grant_request(&op, GrantedLcmOperationType::Scale, resources);
    let mut out = ScaleTarget::new(
        vec![ScaleInfo {
            aspect_id: "VDU1_scale".into(),
            vnfd_id: None,
            scale_level: 1,
        }],
        Some(ScaleType::ScaleOut),
    );
    out.additional_params = user_data_params();
    let outcome = driver
        .scale(&instance.ctx(&op, &granted), &out)
        .await
        .unwrap_or_else(|e| panic!("scale out: {}", detail(&e)));
    instance.record(sim::AppliedOperation::Scale(&out), &outcome);
    let after_out = instance.servers();
    assert_eq!(
        after_out.values().filter(|v| *v == "VDU1").count(),
        2,
        "{after_out:?}"
    );
    assert!(
        servers.keys().all(|id| after_out.contains_key(id)),
        "scale out keeps the servers"
    );
    assert_eq!(
        new_servers(&api, &project, &before).await,
        after_out.keys().cloned().collect()
    );

    // Scale in: the grant removes the new VNFC, and the class deletes its resource.
    let op = new_id();
    let added = instance
        .record
        .instantiated_vnf_info
        .as_ref()
        .and_then(|i| {
            i.vnfc_resource_info
                .iter()
                .find(|v| v.metadata.get("vdu_idx") == Some(&json!(1)))
        })
        .map(|v| v.id.clone())
        .expect("VDU1-1 is recorded");
    let mut resources = GrantResources::default();
    let recorded = instance
        .record
        .instantiated_vnf_info
        .clone()
        .expect("instantiated");
    resources.remove_vnfcs(&recorded, [added.as_str()]);
    let granted = instance.grant_request(&op, GrantedLcmOperationType::Scale, resources);
    let mut scale_in = ScaleTarget::new(
        vec![ScaleInfo {
            aspect_id: "VDU1_scale".into(),
            vnfd_id: None,
            scale_level: 0,
        }],
        Some(ScaleType::ScaleIn),
    );
    scale_in.additional_params = user_data_params();
    let outcome = driver
        .scale(&instance.ctx(&op, &granted), &scale_in)
        .await
        .unwrap_or_else(|e| panic!("scale in: {}", detail(&e)));
    instance.record(sim::AppliedOperation::Scale(&scale_in), &outcome);
    assert_eq!(
        instance.servers(),
        servers,
        "scale in removes exactly the added VNFC"
    );
    assert_eq!(
        new_servers(&api, &project, &before).await,
        servers.keys().cloned().collect()
    );

    // Heal VDU2's VNFC: a new Nova server in its place; the class gives its parameters.
    let op = new_id();
    let vdu2 = recorded
        .vnfc_resource_info
        .iter()
        .find(|v| v.vdu_id == "VDU2")
        .map(|v| v.id.clone())
        .expect("VDU2 is recorded");
    let mut resources = GrantResources::default();
    resources.update_vnfcs(&recorded, [vdu2.as_str()]);
    let granted = instance.grant_request(&op, GrantedLcmOperationType::Heal, resources);
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![vdu2.clone()],
        ..HealVnfRequest::default()
    };
    let outcome = driver
        .heal(&instance.ctx(&op, &granted), &heal)
        .await
        .unwrap_or_else(|e| panic!("heal: {}", detail(&e)));
    instance.record(sim::AppliedOperation::Heal, &outcome);
    let healed = instance.servers();
    assert_eq!(healed.len(), 2);
    let old_vdu2: Vec<&String> = servers
        .iter()
        .filter(|(_, v)| *v == "VDU2")
        .map(|(k, _)| k)
        .collect();
    assert!(
        old_vdu2.iter().all(|id| !healed.contains_key(*id)),
        "heal replaced VDU2's server: {servers:?} → {healed:?}"
    );
    assert_eq!(
        new_servers(&api, &project, &before).await,
        healed.keys().cloned().collect()
    );

    // Change of package to the second sample, whose VDU1 image is an artifact of the
    // package that the VIM lacks: the new package's class recomputes the whole stack,
    // VDU1 gets a new server from the uploaded image, VDU2 keeps its own. Then the
    // rollback of that change.
    let new_package = sample(&setup, "change_vnfpkg_or_update_min_individual_vnfc");
    let image = new_package
        .vnfd
        .flavour("simple")
        .and_then(|f| f.vdu("VDU1"))
        .and_then(|v| v.sw_image.clone())
        .expect("VDU1 has a software image");
    api.delete_images(&image.name).await;
    let op = new_id();
    let recorded = instance
        .record
        .instantiated_vnf_info
        .clone()
        .expect("instantiated");
    let mut resources = GrantResources::default();
    resources.update_vnfcs(
        &recorded,
        recorded.vnfc_resource_info.iter().map(|v| v.id.as_str()),
    );
    let mut granted = instance.grant_request(&op, GrantedLcmOperationType::ChangeVnfpkg, resources);
    granted.dst_vnfd_id = Some(new_package.vnfd.descriptor_id.clone());
    let grant = vdu1_flavour_grant(&instance, &op, flavour);
    let change = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_package.vnfd.descriptor_id.clone(),
        additional_params: user_data_params(),
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let outcome = driver
        .change_vnfpkg(
            &instance.granted_ctx(&op, &granted, Some(&grant)),
            &change,
            &new_package.vnfd,
            new_package.files.as_ref(),
        )
        .await
        .unwrap_or_else(|e| panic!("change of package: {}", detail(&e)));
    let changed: BTreeMap<String, (String, Option<Value>, Option<Value>)> = outcome
        .resources
        .vnfc_resource_info
        .iter()
        .map(|v| {
            (
                v.compute_resource.resource_id.clone(),
                (
                    v.vdu_id.clone(),
                    v.metadata.get("vcImageId").cloned(),
                    v.metadata.get("computeFlavourId").cloned(),
                ),
            )
        })
        .collect();
    let of_vdu = |servers: &BTreeMap<String, String>, vdu: &str| -> BTreeSet<String> {
        servers
            .iter()
            .filter(|(_, v)| *v == vdu)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let vdu1: Vec<_> = changed.values().filter(|(vdu, ..)| vdu == "VDU1").collect();
    assert_eq!(vdu1.len(), 1, "{changed:?}");
    assert_eq!(
        vdu1[0].1,
        Some(json!(image.name)),
        "VDU1 runs the new image"
    );
    assert_eq!(vdu1[0].2, Some(json!(flavour)), "on the granted flavour");
    // Heat rebuilds the server in place (the nested template's default image policy).
    assert_eq!(
        changed.keys().cloned().collect::<BTreeSet<_>>(),
        healed.keys().cloned().collect::<BTreeSet<_>>(),
        "the same servers, rebuilt"
    );
    assert_eq!(
        new_servers(&api, &project, &before).await,
        changed.keys().cloned().collect()
    );
    let uploaded = api.images(&image.name).await;
    assert_eq!(
        uploaded.len(),
        1,
        "one image uploaded from the package: {uploaded:?}"
    );
    let in_nova = api.servers(&project).await;
    for id in of_vdu(&healed, "VDU1") {
        assert_eq!(
            in_nova
                .get(&id)
                .map(|s| (s.status.as_str(), s.image.as_str())),
            Some(("ACTIVE", uploaded[0]["id"].as_str().unwrap_or_default())),
            "Nova runs VDU1 on the uploaded image"
        );
    }
    // The artifact's bytes have the VNFD's SHA-256, and Glance's own hash (SHA-512) of
    // what it holds is that of those bytes.
    let artifact = new_package
        .files
        .paths()
        .into_iter()
        .find(|p| p.starts_with("Files/images/"))
        .expect("the package carries the image");
    let bytes = new_package.files.read(&artifact).await.expect("artifact");
    let hex = |digest: &[u8]| {
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        Some(hex(&Sha256::digest(&bytes))),
        image.checksum_hash.clone().map(|h| h.to_lowercase()),
        "the VNFD's checksum is the artifact's"
    );
    assert_eq!(
        uploaded[0]["os_hash_algo"], "sha512",
        "Glance's hash algorithm: {:?}",
        uploaded[0]
    );
    assert_eq!(
        uploaded[0]["os_hash_value"].as_str().map(str::to_lowercase),
        Some(hex(&Sha512::digest(&bytes))),
        "Glance holds the package's image"
    );
    let outcome = driver
        .rollback(
            &instance.ctx(&op, &granted),
            &Rollback::ChangeVnfpkg(&change),
        )
        .await
        .unwrap_or_else(|e| panic!("rollback of the change of package: {}", detail(&e)));
    let restored: Vec<Option<Value>> = outcome
        .resources
        .vnfc_resource_info
        .iter()
        .filter(|v| v.vdu_id == "VDU1")
        .map(|v| v.metadata.get("vcImageId").cloned())
        .collect();
    assert_eq!(
        restored,
        vec![Some(json!("cirros-0.5.2-x86_64-disk"))],
        "VDU1 is back on the old image"
    );
    instance.record(sim::AppliedOperation::Rollback, &outcome);
    assert_eq!(instance.servers().len(), 2);
    assert_eq!(
        new_servers(&api, &project, &before).await,
        instance.servers().keys().cloned().collect()
    );

    let op = new_id();
    let granted = instance.grant_request(
        &op,
        GrantedLcmOperationType::Terminate,
        GrantResources::default(),
    );
    let terminate = TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: KeyValuePairs::new(),
    };
    driver
        .terminate(&instance.ctx(&op, &granted), &terminate)
        .await
        .unwrap_or_else(|e| panic!("terminate: {}", detail(&e)));
    assert!(
        new_servers(&api, &project, &before).await.is_empty(),
        "terminate leaves no server"
    );
    assert_eq!(
        api.networks(&project).await,
        networks_before,
        "terminate leaves no network"
    );

    // The second sample instantiates through its class too (its image is in Glance now,
    // and the grant gives VDU1 a flavour large enough for it).
    let instance = Instance::new(new_package, vim(&setup));
    let op = new_id();
    let mut resources = GrantResources::default();
    resources.add_vnfcs(instance.flavour(), "VDU1", 1);
    resources.add_vnfcs(instance.flavour(), "VDU2", 1);
    let granted = instance.grant_request(&op, GrantedLcmOperationType::Instantiate, resources);
    let grant = vdu1_flavour_grant(&instance, &op, flavour);
    let outcome = driver
        .instantiate(&instance.granted_ctx(&op, &granted, Some(&grant)), &request)
        .await
        .unwrap_or_else(|e| panic!("instantiate the second sample: {}", detail(&e)));
    assert_eq!(outcome.resources.vnfc_resource_info.len(), 2);
    assert_eq!(
        new_servers(&api, &project, &before).await.len(),
        2,
        "Nova holds its two servers"
    );
    let op = new_id();
    let granted = instance.grant_request(
        &op,
        GrantedLcmOperationType::Terminate,
        GrantResources::default(),
    );
    driver
        .terminate(&instance.ctx(&op, &granted), &terminate)
        .await
        .unwrap_or_else(|e| panic!("terminate the second sample: {}", detail(&e)));
    assert!(new_servers(&api, &project, &before).await.is_empty());
    api.delete_images(&image.name).await;
}

/// A grant whose `vimAssets` give VDU1 the flavour `flavour`.
fn vdu1_flavour_grant(instance: &Instance, op: &str, flavour: &str) -> Grant {
    serde_json::from_value(json!({
        "id": new_id(),
        "vnfInstanceId": instance.record.id,
        "vnfLcmOpOccId": op,
        "vimAssets": {"computeResourceFlavours": [
            {"vimConnectionId": VIM_ID, "vnfdVirtualComputeDescId": "VDU1", "vimFlavourId": flavour},
        ]},
        "_links": {
            "self": {"href": "grant"},
            "vnfLcmOpOcc": {"href": "op"},
            "vnfInstance": {"href": "instance"}
        },
    }))
    .expect("a grant")
}
