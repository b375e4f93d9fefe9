//! The Ansible driver through the LCM engine on the simulated VIM, whose VNFCs are sshd
//! servers on loopback addresses: the package's playbook changes real files on those
//! hosts at instantiate, scale out, heal and terminate; a failing task fails the
//! operation with Ansible's report; a host whose key the operator does not vouch for is
//! never configured.
//!
//! Needs `TACKER_TEST_ANSIBLE_PYTHON` (a Python with ansible-core: `scripts/ansible.sh`),
//! sshd and bubblewrap; skipped without them, except under `CI=true`.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tacker_core::model::{
    HealVnfRequest, KeyValuePairs, LcmOperationStateType as State, ScaleType, ScaleVnfRequest,
};
use tacker_core::sim::SimInfraDriver;
use tacker_mgmt_k8s_cluster::testkit::{SshHosts, sshd_available};
use tacker_mgmt_scripts::AnsibleMgmtDriver;

use support::{Env, instantiate, sample_package, sandbox, terminate};

const PLAYBOOK: &str = r#"- name: Configure the sample VNF
  hosts: all
  gather_facts: false
  tasks:
    - name: Refuse when asked to
      ansible.builtin.fail:
        msg: "the VNF refused {{ tacker_hook }} on {{ inventory_hostname }}"
      when: fail_hook is defined and fail_hook == tacker_hook
    - name: Write the VNFC's configuration
      ansible.builtin.copy:
        content: "hook={{ tacker_hook }} vdu={{ vdu_id }} vnfc={{ vnfc_id }} greeting={{ greeting }}\n"
        dest: "{{ out_dir }}/{{ ansible_host }}.conf"
        mode: "0644"
      when: tacker_hook != 'terminate_start'
    - name: Remove it at terminate
      ansible.builtin.file:
        path: "{{ out_dir }}/{{ ansible_host }}.conf"
        state: absent
      when: tacker_hook == 'terminate_start'
"#;

fn package() -> Vec<u8> {
    sample_package(
        &[
            "instantiate_end",
            "scale_end",
            "heal_end",
            "terminate_start",
        ],
        "site-playbook",
        "tosca.artifacts.Implementation.Ansible",
        &[("Scripts/site.yml", PLAYBOOK)],
    )
}

fn python() -> Option<String> {
    let python = std::env::var("TACKER_TEST_ANSIBLE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but TACKER_TEST_ANSIBLE_PYTHON is not set (.ci/run runs scripts/ansible.sh)"
        );
        eprintln!("skipped: TACKER_TEST_ANSIBLE_PYTHON is not set (scripts/ansible.sh)");
    }
    python
}

/// The simulated VIM whose DB VNFC is at `hosts.masters[0]` and WEB VNFCs at the
/// workers' addresses.
fn sim(hosts: &SshHosts) -> SimInfraDriver {
    let v4 = |a: &Ipv4Addr| IpAddr::V4(*a);
    SimInfraDriver::builder()
        .vdu_addresses("DB", hosts.masters.iter().map(v4))
        .vdu_addresses("WEB", hosts.workers.iter().map(v4))
        .build()
}

fn conf(out: &Path, address: Ipv4Addr) -> Option<String> {
    std::fs::read_to_string(out.join(format!("{address}.conf"))).ok()
}

fn params(hosts: &SshHosts, out: &Path, extra: Value) -> Value {
    let mut vars = json!({"out_dir": out, "greeting": "hello"});
    if let (Some(vars), Some(extra)) = (vars.as_object_mut(), extra.as_object()) {
        vars.extend(extra.clone());
    }
    json!({"ansible": {"port": hosts.port, "vars": vars}})
}

fn out_dir(label: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("tacker-ansible-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("out dir");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbooks_change_files_on_the_vnfcs_through_the_lifecycle() {
    let Some(python) = python() else { return };
    if !sshd_available() {
        return;
    }
    let Some(sandbox) = sandbox(Some(&python), Duration::from_secs(120)).await else {
        return;
    };
    let hosts = SshHosts::start(1, 3, &[]);
    let all: Vec<Ipv4Addr> = hosts
        .masters
        .iter()
        .chain(&hosts.workers)
        .copied()
        .collect();
    let driver = AnsibleMgmtDriver::new(
        "site-playbook",
        sandbox,
        hosts.client_key.clone(),
        hosts.known_hosts(&all),
    )
    .expect("driver")
    .default_user(hosts.username.clone());
    let (env, vnfd_id) = Env::new(Arc::new(driver), sim(&hosts), package()).await;
    let out = out_dir("lifecycle");
    let (db, web) = (hosts.masters[0], hosts.workers.clone());

    let id = env.create(&vnfd_id).await;
    let op = env
        .finish(
            env.lcm()
                .instantiate(
                    &env.tenant,
                    &id,
                    instantiate(params(&hosts, &out, json!({}))),
                )
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    for address in [db, web[0]] {
        let text = conf(&out, address).unwrap_or_default();
        assert!(
            text.starts_with("hook=instantiate_end "),
            "{address}: {text:?}"
        );
        assert!(text.ends_with("greeting=hello\n"), "{text:?}");
    }
    assert!(conf(&out, web[1]).is_none());
    assert!(conf(&out, db).is_some_and(|t| t.contains("vdu=DB")));

    // Scale out: the new VNFC is configured (the settings of the instantiation are used).
    let scale = |scale_type, additional_params| ScaleVnfRequest {
        scale_type,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params,
    };
    let op = env
        .finish(
            env.lcm()
                .scale(
                    &env.tenant,
                    &id,
                    scale(ScaleType::ScaleOut, KeyValuePairs::new()),
                )
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    assert!(
        conf(&out, web[1]).is_some_and(|t| t.starts_with("hook=scale_end vdu=WEB ")),
        "{:?}",
        conf(&out, web[1])
    );

    // Heal the first web VNFC: it is configured again, under its VNFC id after heal.
    let instance = env
        .lcm()
        .instance(&env.tenant, &id)
        .await
        .expect("instance");
    let first_web = instance
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiated")
        .vnfc_resource_info
        .iter()
        .find(|v| {
            v.vdu_id == "WEB"
                && serde_json::to_string(&v.vnfc_cp_info)
                    .unwrap_or_default()
                    .contains(&web[0].to_string())
        })
        .expect("the first web VNFC")
        .id
        .clone();
    let _ = std::fs::remove_file(out.join(format!("{}.conf", web[0])));
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![first_web],
        ..HealVnfRequest::default()
    };
    let op = env
        .finish(env.lcm().heal(&env.tenant, &id, heal).await)
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let healed = conf(&out, web[0]).unwrap_or_default();
    assert!(healed.starts_with("hook=heal_end vdu=WEB "), "{healed:?}");
    let instance = env
        .lcm()
        .instance(&env.tenant, &id)
        .await
        .expect("instance");
    let ids: Vec<String> = instance
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiated")
        .vnfc_resource_info
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert!(
        ids.iter().any(|i| healed.contains(&format!("vnfc={i} "))),
        "{healed} {ids:?}"
    );

    // A task that fails fails the operation with Ansible's own report.
    let refused: KeyValuePairs =
        serde_json::from_value(params(&hosts, &out, json!({"fail_hook": "scale_end"})))
            .expect("params");
    let op = env
        .finish(
            env.lcm()
                .scale(&env.tenant, &id, scale(ScaleType::ScaleOut, refused))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let detail = op.error.map(|e| e.detail).unwrap_or_default();
    assert!(
        detail.contains("scale_end failed") && detail.contains("the VNF refused scale_end"),
        "{detail}"
    );
    let op = env
        .finish(env.lcm().rollback(&env.tenant, &op.id).await)
        .await;
    assert_eq!(op.operation_state, State::RolledBack, "{:?}", op.error);

    // Terminate: the playbook removes what it wrote.
    let op = env
        .finish(env.lcm().terminate(&env.tenant, &id, terminate()).await)
        .await;
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    for address in [db, web[0], web[1]] {
        assert!(
            conf(&out, address).is_none(),
            "{address} keeps its configuration"
        );
    }
    env.vnfm.shutdown().await;
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_operator_does_not_vouch_for_is_never_configured() {
    let Some(python) = python() else { return };
    if !sshd_available() {
        return;
    }
    let Some(sandbox) = sandbox(Some(&python), Duration::from_secs(120)).await else {
        return;
    };
    let hosts = SshHosts::start(1, 1, &[]);
    // The operator's known_hosts has the DB host only.
    let driver = AnsibleMgmtDriver::new(
        "site-playbook",
        sandbox,
        hosts.client_key.clone(),
        hosts.known_hosts(&hosts.masters),
    )
    .expect("driver")
    .default_user(hosts.username.clone());
    let (env, vnfd_id) = Env::new(Arc::new(driver), sim(&hosts), package()).await;
    let out = out_dir("hostkey");
    let id = env.create(&vnfd_id).await;
    let op = env
        .finish(
            env.lcm()
                .instantiate(
                    &env.tenant,
                    &id,
                    instantiate(params(&hosts, &out, json!({}))),
                )
                .await,
        )
        .await;
    assert_ne!(op.operation_state, State::Completed);
    let detail = op.error.map(|e| e.detail).unwrap_or_default();
    assert!(
        detail.contains("instantiate_end failed")
            && detail.contains("Host key verification failed"),
        "{detail}"
    );
    assert!(
        conf(&out, hosts.workers[0]).is_none(),
        "the unknown host was configured"
    );

    // A request may not bring its own host keys unless the operator allows it.
    let mut own = params(&hosts, &out, json!({}));
    own["ansible"]["known_hosts"] = json!(hosts.worker_known_hosts());
    let id = env.create(&vnfd_id).await;
    let refused = env
        .lcm()
        .instantiate(&env.tenant, &id, instantiate(own))
        .await;
    let Err(tacker_core::Error::Unprocessable(message)) = refused else {
        panic!("refused up front: {refused:?}");
    };
    assert!(
        message.contains("additionalParams.ansible.known_hosts"),
        "{message}"
    );
    env.vnfm.shutdown().await;
    let _ = std::fs::remove_dir_all(&out);
}
