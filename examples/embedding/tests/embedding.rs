//! The embedded VNFM end to end: the NFVO's own VIM type, grants and management driver
//! on SQLite, notifications in process, and a restart on the same files.

use std::time::Duration;

use tacker_core::TenantId;
use tacker_core::model::{
    InstantiateVnfRequest, LcmOperationStateType as State, ScaleType, ScaleVnfRequest,
};
use tacker_embedding_example::{LabCloud, WebConfig, create_example_vnf, embed, lab_vim};

const WAIT: Duration = Duration::from_secs(30);

fn scale_out(steps: u32) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type: ScaleType::ScaleOut,
        aspect_id: "web".into(),
        number_of_steps: Some(steps),
        additional_params: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nfvo_runs_its_own_cloud_and_configuration_through_the_library() {
    let dir = std::env::temp_dir().join(format!("tacker-embedding-test-{}", tacker_core::new_id()));
    let (lab, web) = (LabCloud::new(3), WebConfig::default());
    let (vnfm, mut events) = embed(&dir, &lab, &web).await.expect("embedded");
    let tenant = TenantId::default();
    let instance = create_example_vnf(&vnfm, &tenant).await.expect("created");
    let lcm = vnfm.lcm();
    // The NFVO names the VIM, as SOL003 lets it; the grant confirms it.
    let instantiate = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        vim_connection_info: [("lab".to_owned(), lab_vim())].into(),
        ..InstantiateVnfRequest::default()
    };
    let op = lcm
        .instantiate(&tenant, &instance.id, instantiate)
        .await
        .expect("accepted");
    let done = lcm
        .wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    // The lab cloud ran it (on the granted lab VIM), and the hook configured one web server.
    assert_eq!(lab.audit(), vec![format!("instantiate {}", instance.id)]);
    assert_eq!(web.pushed(), vec![(instance.id.clone(), 1)]);
    let now = lcm.instance(&tenant, &instance.id).await.expect("instance");
    assert_eq!(
        now.metadata.get("webConfigVersion"),
        Some(&serde_json::json!(1))
    );

    // The in-process stream saw the identifier created and the operation complete.
    let mut seen = Vec::new();
    while !seen.contains(&"COMPLETED".to_owned()) {
        let n = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("in time")
            .expect("a notification");
        seen.push(
            n["operationState"]
                .as_str()
                .unwrap_or(n["notificationType"].as_str().unwrap_or_default())
                .to_owned(),
        );
    }
    assert_eq!(
        seen.first().map(String::as_str),
        Some("VnfIdentifierCreationNotification")
    );

    // Beyond the quota the lab refuses; the operation waits in FAILED_TEMP and rolls back.
    let op = lcm
        .scale(&tenant, &instance.id, scale_out(2))
        .await
        .expect("accepted");
    let failed = lcm
        .wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(failed.operation_state, State::FailedTemp);
    let reason = failed.error.map(|e| e.detail).unwrap_or_default();
    assert!(reason.contains("lab quota"), "{reason}");
    lcm.rollback(&tenant, &op.id)
        .await
        .expect("rollback accepted");
    let rolled = lcm
        .wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(rolled.operation_state, State::RolledBack);
    assert_eq!(
        web.pushed().len(),
        1,
        "no configuration for a refused scale"
    );

    // A restart on the same files finds everything (SQLite, packages, sealing key).
    vnfm.shutdown().await;
    drop(vnfm);
    let (again, _events) = embed(&dir, &lab, &web).await.expect("restarted");
    let op = again
        .lcm()
        .scale(&tenant, &instance.id, scale_out(1))
        .await
        .expect("accepted after the restart");
    let done = again
        .lcm()
        .wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(done.operation_state, State::Completed, "{:?}", done.error);
    assert_eq!(web.pushed().last(), Some(&(instance.id.clone(), 2)));
    again.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
