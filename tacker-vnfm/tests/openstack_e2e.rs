//! The `vnfm` server drives a VNF on real Keystone and Heat (with real Nova, Neutron and
//! Glance when `TACKER_TEST_OS_FULL=1`, as in CI): the OpenStack VIM is
//! registered over the REST API (a wrong password is refused there), a corpus package
//! is instantiated, scaled and terminated on it, and the op occurrences'
//! `resourceChanges` list the stack's servers.
//!
//! Needs the `OS_*` variables of `run-openstack.sh env demo` (`../shared/tools/openstack`
//! or `openstack-full`)
//! (set by `.ci/run`); skipped with a message without them, except under `CI=true`.

#[path = "../../tacker-drivers-openstack/tests/cloud/mod.rs"]
mod cloud;
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tacker_core::model::VimConnectionInfo;
use tacker_drivers_openstack::{OpenStackInfraDriver, OpenStackOptions};

use common::{Client, Server, corpus_package, registration, temp_dir};

/// Asserts that `answer` is a 400 ProblemDetails whose detail names `what`.
fn refused_naming(answer: &common::Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{:?}", answer.body);
    common::assert_problem(answer, what);
    assert!(
        answer.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(what)),
        "the refusal names {what}: {:?}",
        answer.body
    );
}

/// Posts `body` to the task resource `path`, which must accept it (202), and the
/// operation occurrence once it has COMPLETED.
async fn completed(api: &Client, path: &str, body: Value) -> Value {
    let op = api.run_op(path, body).await;
    assert_eq!(op["operationState"], "COMPLETED", "{path}: {op:#}");
    op
}

fn compute_ids(op: &Value, change_type: &str) -> BTreeSet<String> {
    op["resourceChanges"]["affectedVnfcs"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .filter(|c| c["changeType"] == change_type)
                .map(|c| {
                    assert_eq!(
                        c["computeResource"]["vimLevelResourceType"], "OS::Nova::Server",
                        "{c:#}"
                    );
                    c["computeResource"]["resourceId"]
                        .as_str()
                        .expect("resourceId")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_lives_on_openstack_through_the_rest_api() {
    let Some(registration) = registration() else {
        return;
    };
    let Some(package_dir) = corpus_package("v2-os-basic-lcms-min") else {
        return;
    };
    if std::env::var("TACKER_TEST_OS_FULL").as_deref() == Ok("1") {
        // The image the package names, in Glance.
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let admin = cloud::Admin::login(
            &var("OS_AUTH_URL", ""),
            &var("OS_ADMIN_USERNAME", "admin"),
            &var("OS_ADMIN_PASSWORD", "admin-secret"),
            &var("OS_ADMIN_PROJECT_NAME", "admin"),
        )
        .await;
        admin.ensure_image("cirros-0.5.2-x86_64-disk").await;
    }
    let data = temp_dir("openstack-e2e");
    // The corpus package binds its LCM hooks to Tacker's Python `sample-script` but its
    // copy in the corpus leaves the script file out: the operator skips those hooks.
    let server = Server::start(&data, &["--noop-mgmt-driver", "sample-script"]);
    let api = Client::new(&server.url);

    // Registration checks the credentials against Keystone.
    let mut wrong = registration.clone();
    wrong["accessInfo"]["password"] = json!("not-the-password");
    let refused = api.post("/vims", wrong).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        refused.body
    );
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Keystone") && detail.contains("401"),
        "{detail}"
    );
    let vim = api.post("/vims", registration.clone()).await;
    assert_eq!(vim.status, StatusCode::CREATED, "{:?}", vim.body);
    let vim_id = vim.body["id"].as_str().expect("vim id").to_owned();
    assert!(
        vim.body
            .get("accessInfo")
            .is_none_or(|a| a.get("password").is_none()),
        "credentials are never returned: {:?}",
        vim.body
    );

    let package = api.onboard(&package_dir).await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    let created = api
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": vnfd_id, "vnfInstanceName": "on-openstack"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let instance_path = format!("/vnflcm/v2/vnf_instances/{id}");

    let op = completed(
        &api,
        &format!("{instance_path}/instantiate"),
        json!({
            "flavourId": "simple",
            "vimConnectionInfo": {"openstack": {
                "vimId": vim_id,
                "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3"
            }}
        }),
    )
    .await;
    let added = compute_ids(&op, "ADDED");
    assert_eq!(added.len(), 2, "VDU1 and VDU2: {op:#}");

    // The servers reported are those of the Heat stack.
    let mut vim_info: VimConnectionInfo =
        serde_json::from_value(registration.clone()).expect("vim info");
    vim_info.vim_id = Some(vim_id.clone());
    let driver = OpenStackInfraDriver::new(OpenStackOptions::default());
    let in_heat: BTreeSet<String> = driver
        .resource_ids(&vim_info, &id)
        .await
        .expect("the stack's resources")
        .into_iter()
        .collect();
    assert!(
        added.is_subset(&in_heat),
        "{added:?} are servers of the stack {in_heat:?}"
    );

    let instance = api.get(&instance_path).await;
    assert_eq!(instance.body["instantiationState"], "INSTANTIATED");
    assert!(
        instance.body["vimConnectionInfo"]["openstack"]
            .get("accessInfo")
            .is_none(),
        "no credentials in the instance: {:#}",
        instance.body["vimConnectionInfo"]
    );

    // Scale out by one step of VDU1_scale.
    let op = completed(
        &api,
        &format!("{instance_path}/scale"),
        json!({"type": "SCALE_OUT", "aspectId": "VDU1_scale", "numberOfSteps": 1}),
    )
    .await;
    assert_eq!(compute_ids(&op, "ADDED").len(), 1, "{op:#}");

    // Terminate: every server REMOVED, the stack gone.
    let op = completed(
        &api,
        &format!("{instance_path}/terminate"),
        json!({"terminationType": "FORCEFUL"}),
    )
    .await;
    assert_eq!(compute_ids(&op, "REMOVED").len(), 3, "{op:#}");
    assert!(
        driver
            .resource_ids(&vim_info, &id)
            .await
            .expect("listing")
            .is_empty(),
        "the stack is gone"
    );
    let deleted = api.delete(&instance_path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(server.terminate(), "vnfm exits cleanly");
}

/// Tacker's sample package whose stack its `StandardUserData` class computes, through the
/// REST API of a `vnfm` started with `--user-data-python`: the engine's grant requests
/// reach the class; later requests find the class recorded; what the class does not
/// drive is refused up front. Needs `scripts/tacker-userdata.sh all` (as the driver's
/// `tests/userdata.rs`) and the full set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tacker_user_data_package_lives_through_the_rest_api() {
    let Some(registration) = registration() else {
        return;
    };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(python), Some(samples), Some("1")) = (
        var("TACKER_TEST_USERDATA_PYTHON"),
        var("TACKER_TEST_USERDATA_SAMPLES"),
        var("TACKER_TEST_OS_FULL").as_deref(),
    ) else {
        assert!(
            var("CI").as_deref() != Some("true"),
            "CI=true but the user-data samples or the full OpenStack set are missing"
        );
        eprintln!("skipped: needs scripts/tacker-userdata.sh all and the full OpenStack set");
        return;
    };
    let admin = cloud::Admin::login(
        &var("OS_AUTH_URL").unwrap_or_default(),
        &var("OS_ADMIN_USERNAME").unwrap_or_else(|| "admin".into()),
        &var("OS_ADMIN_PASSWORD").unwrap_or_else(|| "admin-secret".into()),
        &var("OS_ADMIN_PROJECT_NAME").unwrap_or_else(|| "admin".into()),
    )
    .await;
    admin.ensure_image("cirros-0.5.2-x86_64-disk").await;
    let package_dir = Path::new(&samples).join("basic_lcms_min_individual_vnfc");

    let data = temp_dir("openstack-userdata-e2e");
    let server = Server::start(
        &data,
        &[
            "--script-mgmt-driver",
            "sample-script",
            "--user-data-python",
            &python,
        ],
    );
    let api = Client::new(&server.url);
    let vim = api.post("/vims", registration.clone()).await;
    assert_eq!(vim.status, StatusCode::CREATED, "{:?}", vim.body);
    let vim_id = vim.body["id"].as_str().expect("vim id").to_owned();
    let package = api.onboard(&package_dir).await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    let created = api
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": vnfd_id, "vnfInstanceName": "user-data"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let instance_path = format!("/vnflcm/v2/vnf_instances/{id}");
    let vim_connection = json!({"openstack": {
        "vimId": vim_id,
        "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3"
    }});

    // A class the package lacks is refused before anything starts (400: SOL003 gives
    // the task resources no 422).
    let refused = api
        .post(
            &format!("{instance_path}/instantiate"),
            json!({
                "flavourId": "simple",
                "vimConnectionInfo": vim_connection,
                "additionalParams": {
                    "lcm-operation-user-data": "./UserData/missing.py",
                    "lcm-operation-user-data-class": "StandardUserData"
                }
            }),
        )
        .await;
    refused_naming(&refused, "UserData/missing.py");

    let op = completed(
        &api,
        &format!("{instance_path}/instantiate"),
        json!({
            "flavourId": "simple",
            "vimConnectionInfo": vim_connection,
            "additionalParams": {
                "lcm-operation-user-data": "./UserData/userdata_standard.py",
                "lcm-operation-user-data-class": "StandardUserData"
            }
        }),
    )
    .await;
    assert_eq!(
        compute_ids(&op, "ADDED").len(),
        2,
        "VDU1-0 and VDU2-0: {op:#}"
    );
    let instance = api.get(&instance_path).await;
    assert_eq!(
        instance.body["metadata"]["lcm-operation-user-data-class"], "StandardUserData",
        "{:#}",
        instance.body
    );

    // Scale out without repeating the class: the recorded one computes VDU1-1.
    let op = completed(
        &api,
        &format!("{instance_path}/scale"),
        json!({"type": "SCALE_OUT", "aspectId": "VDU1_scale", "numberOfSteps": 1}),
    )
    .await;
    assert_eq!(compute_ids(&op, "ADDED").len(), 1, "{op:#}");

    // What the class does not drive is refused up front, naming it.
    let refused = api
        .post(
            &format!("{instance_path}/heal"),
            json!({"cause": "whole VNF"}),
        )
        .await;
    refused_naming(&refused, "StandardUserData");

    // Scale in again: the grant removes one VNFC, the class deletes its resource.
    let op = completed(
        &api,
        &format!("{instance_path}/scale"),
        json!({"type": "SCALE_IN", "aspectId": "VDU1_scale", "numberOfSteps": 1}),
    )
    .await;
    assert_eq!(compute_ids(&op, "REMOVED").len(), 1, "{op:#}");

    let op = completed(
        &api,
        &format!("{instance_path}/terminate"),
        json!({"terminationType": "FORCEFUL"}),
    )
    .await;
    assert_eq!(compute_ids(&op, "REMOVED").len(), 2, "{op:#}");
    let deleted = api.delete(&instance_path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(server.terminate(), "vnfm exits cleanly");
}
