//! The whole life of a VNF on the embedded defaults: an SQLite store, the sample package
//! onboarded into local files, the simulated VIM.
//!
//! `cargo run -p tacker-examples --bin quickstart`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tacker_core::Vnfm;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfRequest, HealVnfRequest, InstantiateVnfRequest, LcmOperationStateType,
    OperateVnfRequest, ScaleType, ScaleVnfRequest, TerminateVnfRequest, TerminationType,
    VnfLcmOpOcc, VnfOperationalStateType,
};
use tacker_core::sim::{SimInfraDriver, SimOperation, sample_vim};
use tacker_core::vim::SealingKey;
use tacker_core::{Result, TenantId};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn run_op(
    lcm: &VnfLcm,
    tenant: &TenantId,
    what: &str,
    accepted: Result<VnfLcmOpOcc>,
) -> Result<VnfLcmOpOcc> {
    let op = accepted?;
    println!("{what}: accepted as {} ({})", op.id, op.operation_state);
    let op = lcm.wait_for(tenant, &op.id, &[], TIMEOUT).await?;
    if op.operation_state != LcmOperationStateType::Completed {
        let reason = op
            .error
            .as_ref()
            .map(|e| e.detail.clone())
            .unwrap_or_default();
        return Err(tacker_core::Error::Internal(format!(
            "{what} ended {}: {reason}",
            op.operation_state
        )));
    }
    Ok(op)
}

fn describe(instance: &tacker_core::model::VnfInstance) -> String {
    let Some(info) = &instance.instantiated_vnf_info else {
        return "not instantiated".to_owned();
    };
    let vnfcs: Vec<String> = info
        .vnfc_resource_info
        .iter()
        .map(|v| {
            let address = v
                .vnfc_cp_info
                .iter()
                .flat_map(|cp| cp.cp_protocol_info.iter())
                .filter_map(|p| p.ip_over_ethernet.as_ref())
                .flat_map(|ip| ip.ip_addresses.iter())
                .flat_map(|a| a.addresses.iter())
                .next()
                .cloned()
                .unwrap_or_default();
            format!(
                "{} on {} at {address}",
                v.vdu_id, v.compute_resource.resource_id
            )
        })
        .collect();
    format!(
        "{} VNFC(s), {:?}: {}",
        vnfcs.len(),
        info.vnf_state,
        vnfcs.join("; ")
    )
}

async fn quickstart() -> Result<()> {
    let tenant = TenantId::default();
    let content_dir =
        std::env::temp_dir().join(format!("tacker-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&content_dir)
        .map_err(|e| tacker_core::Error::Internal(e.to_string()))?;
    let database = content_dir.join("vnfm.db");
    let store = Arc::new(
        tacker_store::SqlStore::connect(&format!("sqlite://{}?mode=rwc", database.display()))
            .await?,
    );
    println!("store: SQLite at {}", database.display());
    let objects = object_store::local::LocalFileSystem::new_with_prefix(&content_dir)
        .map_err(|e| tacker_core::Error::Internal(e.to_string()))?;
    let sim = SimInfraDriver::default();
    sim.set_default_latency(Duration::from_millis(150));
    let vnfm = Vnfm::builder()
        .store(store)
        // A store that outlives the process needs a key that does too; this example's
        // database lives as long as the example, so a new key will do.
        .sealing_key(SealingKey::generate()?)
        .package_objects(Arc::new(objects))
        .vim_type(sim.as_vim_type())
        .default_vim("sim", sample_vim())
        .lcm_config(LcmConfig {
            poll_interval: Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .build()?;
    vnfm.start().await?;
    let lcm = vnfm.lcm().clone();

    let package_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packages/sample-vnf");
    let package = vnfm
        .packages()
        .onboard_directory(&tenant, &package_dir)
        .await?;
    println!(
        "package {} onboarded: {} {} {} (vnfdId {}), stored under {}",
        package.id,
        package.vnf_provider.as_deref().unwrap_or_default(),
        package.vnf_product_name.as_deref().unwrap_or_default(),
        package.vnf_software_version.as_deref().unwrap_or_default(),
        package.vnfd_id.as_deref().unwrap_or_default(),
        content_dir.display()
    );

    let mut notifications = vnfm.lcm_notifications(&tenant, None).await?;
    let printer = tokio::spawn(async move {
        while let Some(n) = notifications.next().await {
            let kind = n["notificationType"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match kind.as_str() {
                "VnfLcmOperationOccurrenceNotification" => println!(
                    "  notified: {} {} ({})",
                    n["operation"].as_str().unwrap_or_default(),
                    n["operationState"].as_str().unwrap_or_default(),
                    n["notificationStatus"].as_str().unwrap_or_default()
                ),
                other => println!("  notified: {other}"),
            }
        }
    });

    let vnfd_id = package.vnfd_id.clone().unwrap_or_default();
    let instance = lcm
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id,
                vnf_instance_name: Some("quickstart-vnf".into()),
                ..CreateVnfRequest::default()
            },
        )
        .await?;
    println!("VNF instance {} created", instance.id);
    let id = instance.id.clone();

    let instantiate = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        instantiation_level_id: Some("small".into()),
        ..InstantiateVnfRequest::default()
    };
    run_op(
        &lcm,
        &tenant,
        "instantiate",
        lcm.instantiate(&tenant, &id, instantiate).await,
    )
    .await?;
    println!("  now: {}", describe(&lcm.instance(&tenant, &id).await?));

    let out = ScaleVnfRequest {
        scale_type: ScaleType::ScaleOut,
        aspect_id: "web".into(),
        number_of_steps: Some(2),
        additional_params: Default::default(),
    };
    run_op(
        &lcm,
        &tenant,
        "scale out by 2",
        lcm.scale(&tenant, &id, out).await,
    )
    .await?;
    println!("  now: {}", describe(&lcm.instance(&tenant, &id).await?));

    let scale_in = ScaleVnfRequest {
        scale_type: ScaleType::ScaleIn,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    };
    run_op(
        &lcm,
        &tenant,
        "scale in by 1",
        lcm.scale(&tenant, &id, scale_in).await,
    )
    .await?;
    println!("  now: {}", describe(&lcm.instance(&tenant, &id).await?));

    let instance = lcm.instance(&tenant, &id).await?;
    let db = instance
        .instantiated_vnf_info
        .as_ref()
        .and_then(|i| i.vnfc_resource_info.iter().find(|v| v.vdu_id == "DB"))
        .map(|v| v.id.clone())
        .unwrap_or_default();
    let heal = HealVnfRequest {
        vnfc_instance_id: vec![db],
        cause: Some("the database stopped answering".into()),
        ..HealVnfRequest::default()
    };
    run_op(
        &lcm,
        &tenant,
        "heal the database VNFC",
        lcm.heal(&tenant, &id, heal).await,
    )
    .await?;
    println!("  now: {}", describe(&lcm.instance(&tenant, &id).await?));

    for state in [
        VnfOperationalStateType::Stopped,
        VnfOperationalStateType::Started,
    ] {
        let operate = OperateVnfRequest {
            change_state_to: state,
            stop_type: None,
            graceful_stop_timeout: None,
            additional_params: Default::default(),
        };
        run_op(
            &lcm,
            &tenant,
            &format!("operate to {state:?}"),
            lcm.operate(&tenant, &id, operate).await,
        )
        .await?;
    }

    sim.fail_once(SimOperation::Scale);
    let out = ScaleVnfRequest {
        scale_type: ScaleType::ScaleOut,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    };
    let op = lcm.scale(&tenant, &id, out).await?;
    let failed = lcm.wait_for(&tenant, &op.id, &[], TIMEOUT).await?;
    println!(
        "scale out with an injected VIM fault: {} ({})",
        failed.operation_state,
        failed
            .error
            .as_ref()
            .map(|e| e.detail.as_str())
            .unwrap_or_default()
    );
    // FAILED_TEMP is for faults that pass: retry (a few times, saying why each failed).
    let mut retried = failed;
    for _ in 0..3 {
        lcm.retry(&tenant, &op.id).await?;
        retried = lcm.wait_for(&tenant, &op.id, &[], TIMEOUT).await?;
        if retried.operation_state != LcmOperationStateType::FailedTemp {
            break;
        }
        println!(
            "  the retry failed too: {}",
            retried
                .error
                .as_ref()
                .map(|e| e.detail.as_str())
                .unwrap_or_default()
        );
    }
    println!("  retried: {}", retried.operation_state);

    let terminate = TerminateVnfRequest {
        termination_type: TerminationType::Graceful,
        graceful_termination_timeout: Some(10),
        additional_params: Default::default(),
    };
    run_op(
        &lcm,
        &tenant,
        "terminate",
        lcm.terminate(&tenant, &id, terminate).await,
    )
    .await?;
    lcm.delete_vnf(&tenant, &id).await?;
    println!(
        "VNF instance {id} deleted; the simulated VIM holds {} deployment(s)",
        sim.deployment_count()
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    vnfm.shutdown().await;
    printer.abort();
    let _ = std::fs::remove_dir_all(&content_dir);
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(quickstart()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}
