//! `cargo run -p tacker-embedding-example`: an NFVO's VNFM in its own process, on
//! SQLite in a temporary directory, with the lab cloud and the web configuration
//! driver; it onboards the example package, instantiates and scales a VNF, and prints
//! the notifications it receives in process.

use std::time::Duration;

use tacker_core::model::{InstantiateVnfRequest, ScaleType, ScaleVnfRequest};
use tacker_core::{Result, TenantId};
use tacker_embedding_example::{LabCloud, WebConfig, create_example_vnf, embed, lab_vim};

#[tokio::main]
async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("tacker-embedding-{}", std::process::id()));
    let (lab, web) = (LabCloud::new(3), WebConfig::default());
    let (vnfm, mut events) = embed(&dir, &lab, &web).await?;
    let tenant = TenantId::default();
    let instance = create_example_vnf(&vnfm, &tenant).await?;
    let vims = [("lab".to_owned(), lab_vim())].into();
    let instantiate = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        vim_connection_info: vims,
        ..Default::default()
    };
    let op = vnfm
        .lcm()
        .instantiate(&tenant, &instance.id, instantiate)
        .await?;
    vnfm.lcm()
        .wait_for(&tenant, &op.id, &[], Duration::from_secs(30))
        .await?;
    let scale = ScaleVnfRequest {
        scale_type: ScaleType::ScaleOut,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    };
    let op = vnfm.lcm().scale(&tenant, &instance.id, scale).await?;
    let op = vnfm
        .lcm()
        .wait_for(&tenant, &op.id, &[], Duration::from_secs(30))
        .await?;
    println!("scale out: {}", op.operation_state);
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
        println!(
            "notified: {} {}",
            n["notificationType"], n["operationState"]
        );
    }
    println!("lab cloud calls: {:?}", lab.audit());
    println!("configurations pushed: {:?}", web.pushed());
    vnfm.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
