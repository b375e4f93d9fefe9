//! An NFVO that embeds the VNFM and grants its operations in process, from its own
//! inventory: two zones with room for three VNFCs in all. Each grant places the new VNFCs
//! of a VDU in the zone holding the fewest of that VNF's VNFCs of the VDU (so
//! anti-affine VNFCs spread), frees what an operation removes, and refuses what does not
//! fit (the operation then ends ROLLED_BACK with the inventory's reason).
//!
//! `cargo run -p tacker-examples --bin nfvo_inventory`

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tacker_core::grant::GrantProvider;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfRequest, Grant, GrantInfo, GrantLinks, GrantRequest, InstantiateVnfRequest,
    LcmOperationStateType, Link, ResourceType, ScaleType, ScaleVnfRequest, VnfLcmOpOcc, ZoneInfo,
};
use tacker_core::sim::{SimInfraDriver, sample_vim};
use tacker_core::{Error, Result, TenantId, Vnfm};

const TIMEOUT: Duration = Duration::from_secs(60);

/// What the NFVO knows of its NFVI: per zone, its room for VNFCs and, per VNF instance
/// and VDU, the VNFCs placed there.
#[derive(Debug)]
struct Inventory {
    zones: Vec<Zone>,
}

#[derive(Debug)]
struct Zone {
    name: String,
    capacity: u32,
    placed: BTreeMap<(String, String), u32>,
}

impl Zone {
    fn used(&self) -> u32 {
        self.placed.values().sum()
    }
}

impl Inventory {
    fn describe(&self) -> String {
        self.zones
            .iter()
            .map(|z| format!("{} {}/{}", z.name, z.used(), z.capacity))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Grants from the inventory.
#[derive(Debug)]
struct InventoryGrants {
    inventory: Mutex<Inventory>,
}

impl InventoryGrants {
    fn new(zones: &[(&str, u32)]) -> Self {
        Self {
            inventory: Mutex::new(Inventory {
                zones: zones
                    .iter()
                    .map(|(name, capacity)| Zone {
                        name: (*name).to_owned(),
                        capacity: *capacity,
                        placed: BTreeMap::new(),
                    })
                    .collect(),
            }),
        }
    }

    fn describe(&self) -> String {
        self.inventory
            .lock()
            .map(|inventory| inventory.describe())
            .unwrap_or_default()
    }
}

#[async_trait]
impl GrantProvider for InventoryGrants {
    async fn grant(&self, _tenant: &TenantId, request: &GrantRequest) -> Result<Grant> {
        let mut inventory = self
            .inventory
            .lock()
            .map_err(|_| Error::Internal("the inventory is poisoned".into()))?;
        let instance = request.vnf_instance_id.clone();
        // Decide on a copy; the inventory changes only when everything fits.
        let mut zones: Vec<(String, u32, BTreeMap<(String, String), u32>)> = inventory
            .zones
            .iter()
            .map(|z| (z.name.clone(), z.capacity, z.placed.clone()))
            .collect();
        for removed in request
            .remove_resources
            .iter()
            .filter(|d| d.resource_type == ResourceType::Compute)
        {
            let vdu = removed.vdu_id.clone().unwrap_or_default();
            let key = (instance.clone(), vdu);
            if let Some((_, _, placed)) = zones
                .iter_mut()
                .filter(|(_, _, placed)| placed.get(&key).copied().unwrap_or(0) > 0)
                .max_by_key(|(_, _, placed)| placed.get(&key).copied().unwrap_or(0))
                && let Some(count) = placed.get_mut(&key)
            {
                *count -= 1;
            }
        }
        let mut added = Vec::new();
        for definition in request
            .add_resources
            .iter()
            .filter(|d| d.resource_type == ResourceType::Compute)
        {
            let vdu = definition.vdu_id.clone().unwrap_or_default();
            let key = (instance.clone(), vdu.clone());
            let zone = zones
                .iter_mut()
                .filter(|(_, capacity, placed)| placed.values().sum::<u32>() < *capacity)
                .min_by_key(|(_, _, placed)| placed.get(&key).copied().unwrap_or(0));
            let Some((name, _, placed)) = zone else {
                return Err(Error::Forbidden(format!(
                    "no zone has room for another VNFC of VDU {vdu}: {}",
                    inventory.describe()
                )));
            };
            *placed.entry(key).or_insert(0) += 1;
            added.push((definition.id.clone(), name.clone()));
        }
        for (zone, (_, _, placed)) in inventory.zones.iter_mut().zip(zones) {
            zone.placed = placed;
        }
        let used: Vec<&str> = {
            let mut names: Vec<&str> = added.iter().map(|(_, z)| z.as_str()).collect();
            names.sort();
            names.dedup();
            names
        };
        let info = |id: &str, zone: Option<&str>| GrantInfo {
            resource_definition_id: id.to_owned(),
            reservation_id: None,
            vim_connection_id: None,
            resource_provider_id: None,
            zone_id: zone.map(str::to_owned),
            resource_group_id: None,
        };
        let id = tacker_core::new_id();
        Ok(Grant {
            id: id.clone(),
            vnf_instance_id: request.vnf_instance_id.clone(),
            vnf_lcm_op_occ_id: request.vnf_lcm_op_occ_id.clone(),
            // Empty: the operation stays on the VIM of the instance.
            vim_connection_info: BTreeMap::new(),
            zones: used
                .iter()
                .map(|name| ZoneInfo {
                    id: (*name).to_owned(),
                    zone_id: (*name).to_owned(),
                    vim_connection_id: None,
                    resource_provider_id: None,
                })
                .collect(),
            zone_groups: Vec::new(),
            add_resources: request
                .add_resources
                .iter()
                .map(|d| {
                    let zone = added
                        .iter()
                        .find(|(id, _)| *id == d.id)
                        .map(|(_, z)| z.as_str());
                    info(&d.id, zone)
                })
                .collect(),
            temp_resources: request
                .temp_resources
                .iter()
                .map(|d| info(&d.id, None))
                .collect(),
            remove_resources: request
                .remove_resources
                .iter()
                .map(|d| info(&d.id, None))
                .collect(),
            update_resources: request
                .update_resources
                .iter()
                .map(|d| info(&d.id, None))
                .collect(),
            vim_assets: None,
            ext_virtual_links: Vec::new(),
            ext_managed_virtual_links: Vec::new(),
            additional_params: Default::default(),
            links: GrantLinks {
                self_: Link::new(format!("inventory:grants/{id}")),
                vnf_lcm_op_occ: request.links.vnf_lcm_op_occ.clone(),
                vnf_instance: request.links.vnf_instance.clone(),
            },
        })
    }
}

async fn run(lcm: &VnfLcm, tenant: &TenantId, what: &str, op: Result<VnfLcmOpOcc>) -> Result<()> {
    let op = lcm.wait_for(tenant, &op?.id, &[], TIMEOUT).await?;
    let reason = op
        .error
        .as_ref()
        .map(|e| e.detail.clone())
        .unwrap_or_default();
    if op.operation_state == LcmOperationStateType::Completed {
        println!("{what}: {}", op.operation_state);
    } else {
        println!("{what}: {} ({reason})", op.operation_state);
    }
    Ok(())
}

fn scale_web(scale_type: ScaleType) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type,
        aspect_id: "web".into(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    }
}

async fn nfvo_inventory() -> Result<()> {
    let tenant = TenantId::default();
    let grants = Arc::new(InventoryGrants::new(&[("zone-a", 2), ("zone-b", 1)]));
    let vnfm = Vnfm::builder()
        .vim_type(SimInfraDriver::default().as_vim_type())
        .default_vim("sim", sample_vim())
        .grant_provider(grants.clone())
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
    println!("inventory: {}", grants.describe());
    let instance = lcm
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: package.vnfd_id.clone().unwrap_or_default(),
                ..CreateVnfRequest::default()
            },
        )
        .await?;
    let id = instance.id;
    let instantiate = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        ..InstantiateVnfRequest::default()
    };
    run(
        &lcm,
        &tenant,
        "instantiate",
        lcm.instantiate(&tenant, &id, instantiate).await,
    )
    .await?;
    println!("inventory: {}", grants.describe());
    for _ in 0..2 {
        run(
            &lcm,
            &tenant,
            "scale out",
            lcm.scale(&tenant, &id, scale_web(ScaleType::ScaleOut))
                .await,
        )
        .await?;
        println!("inventory: {}", grants.describe());
    }
    run(
        &lcm,
        &tenant,
        "scale in",
        lcm.scale(&tenant, &id, scale_web(ScaleType::ScaleIn)).await,
    )
    .await?;
    println!("inventory: {}", grants.describe());
    run(
        &lcm,
        &tenant,
        "scale out",
        lcm.scale(&tenant, &id, scale_web(ScaleType::ScaleOut))
            .await,
    )
    .await?;
    println!("inventory: {}", grants.describe());
    vnfm.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match nfvo_inventory().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nfvo_inventory: {error}");
            ExitCode::FAILURE
        }
    }
}
