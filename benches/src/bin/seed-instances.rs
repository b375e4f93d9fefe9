//! Writes VNF instance and package records straight into the SQLite database of a `vnfm`
//! data directory (`DIR/tacker.db`), before the server starts, for the HTTP list
//! benchmark (`benches/http-list.sh`):
//!
//! `seed-instances --data-dir DIR --instances 10000 [--packages 10] [--batch 2000]`
//!
//! Records are built like the engine builds them (`tacker_core::testkit::fixtures`), in
//! tenant `default` (the tenant of a server without authentication), and committed in
//! batches through `tacker_store::SqlStore`. Every other instance is INSTANTIATED, with an
//! `instantiatedVnfInfo` of two VNFCs, one external CP and one internal virtual link and a
//! `vimConnectionInfo` entry, so the stored bodies have the size of real ones; the others
//! are NOT_INSTANTIATED. When packages are seeded, the instances belong to the first one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::json;
use tacker_core::model::{InstantiatedVnfInfo, InstantiationState, Link, VimConnectionInfo};
use tacker_core::store::{Record, Store, VnfInstanceRecord, Write};
use tacker_core::testkit::fixtures;
use tacker_core::{TenantId, new_id};
use tacker_store::SqlStore;

/// Any failure, with its message.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Debug, Parser)]
#[command(
    name = "seed-instances",
    about = "Writes VNF instance and package records into a vnfm data directory's SQLite database"
)]
struct Args {
    /// The vnfm data directory (created if missing); the records go to `DIR/tacker.db`.
    #[arg(long)]
    data_dir: PathBuf,
    /// VNF instances to write.
    #[arg(long, default_value_t = 10_000)]
    instances: usize,
    /// ONBOARDED VNF packages to write (each with its own vnfdId).
    #[arg(long, default_value_t = 1)]
    packages: usize,
    /// Records per commit.
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
    /// The tenant of the records.
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: String,
}

/// The vnfdId of the `n`th seeded package.
fn vnfd_id(n: usize) -> String {
    format!("b1bb0ce7-ebca-4fa7-95ed-4840d70a{n:04}")
}

/// Turns a NOT_INSTANTIATED fixture into an INSTANTIATED instance as the engine leaves
/// it after an instantiation on a VIM.
fn instantiate(record: &mut VnfInstanceRecord, n: usize) -> Result<()> {
    let id = record.instance.id.clone();
    let vim_id = "9b5a6b4e-4c4e-4d5e-9f7a-0c1d2e3f4a5b";
    let vnfc = |vdu: &str| {
        json!({
            "id": format!("{vdu}-{id}"),
            "vduId": vdu,
            "computeResource": {
                "vimConnectionId": vim_id,
                "resourceId": format!("server-{vdu}-{n}"),
                "vimLevelResourceType": "OS::Nova::Server",
            },
            "vnfcCpInfo": [{"id": format!("{vdu}_CP1-{id}"), "cpdId": format!("{vdu}_CP1")}],
            "metadata": {"creation_time": "2026-01-01T00:00:00Z", "flavor": "m1.tiny"},
        })
    };
    let info = json!({
        "flavourId": "simple",
        "vnfState": "STARTED",
        "scaleStatus": [{"aspectId": "VDU1_scale", "scaleLevel": 0}],
        "maxScaleLevels": [{"aspectId": "VDU1_scale", "scaleLevel": 2}],
        "extCpInfo": [{
            "id": format!("VDU1_CP1-ext-{id}"),
            "cpdId": "VDU1_CP1",
            "cpConfigId": "VDU1_CP1_1",
            "cpProtocolInfo": [{
                "layerProtocol": "IP_OVER_ETHERNET",
                "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "isDynamic": true}]},
            }],
            "associatedVnfcCpId": format!("VDU1_CP1-{id}"),
        }],
        "vnfcResourceInfo": [vnfc("VDU1"), vnfc("VDU2")],
        "vnfVirtualLinkResourceInfo": [{
            "id": format!("internalVL1-{id}"),
            "vnfVirtualLinkDescId": "internalVL1",
            "networkResource": {
                "vimConnectionId": vim_id,
                "resourceId": format!("net-{n}"),
                "vimLevelResourceType": "OS::Neutron::Net",
            },
        }],
    });
    let vim = json!({
        "vimId": vim_id,
        "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3",
        "interfaceInfo": {"endpoint": "http://keystone.example:5000/v3"},
    });
    let instance = &mut record.instance;
    instance.instantiation_state = InstantiationState::Instantiated;
    instance.instantiated_vnf_info = Some(serde_json::from_value::<InstantiatedVnfInfo>(info)?);
    instance.vim_connection_info.insert(
        "vim1".to_owned(),
        serde_json::from_value::<VimConnectionInfo>(vim)?,
    );
    let base = instance.links.self_.href.clone();
    instance.links.instantiate = None;
    instance.links.terminate = Some(Link::new(format!("{base}/terminate")));
    instance.links.scale = Some(Link::new(format!("{base}/scale")));
    instance.links.heal = Some(Link::new(format!("{base}/heal")));
    instance.links.change_ext_conn = Some(Link::new(format!("{base}/change_ext_conn")));
    Ok(())
}

async fn seed(args: &Args) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    let path = args.data_dir.join("tacker.db");
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
    let tenant = TenantId::new(args.tenant.clone());
    let batch = args.batch.max(1);
    let started = Instant::now();

    let mut first_package = None;
    let packages: Vec<Write> = (0..args.packages)
        .map(|n| {
            let id = new_id();
            first_package.get_or_insert_with(|| id.clone());
            Write::Insert(fixtures::package(&id, Some(&vnfd_id(n))).into())
        })
        .collect();
    if !packages.is_empty() {
        store.commit(&tenant, packages).await?;
    }

    let vnfd = if args.packages > 0 {
        vnfd_id(0)
    } else {
        vnfd_id(9999)
    };
    let mut body_bytes = 0usize;
    for start in (0..args.instances).step_by(batch) {
        let mut writes = Vec::with_capacity(batch);
        for n in start..(start + batch).min(args.instances) {
            let mut record = fixtures::instance(&new_id(), &vnfd, &format!("vnf-{n}"));
            record.vnf_pkg_id = first_package.clone();
            record.instance.vnf_instance_description = Some(format!("benchmark instance {n}"));
            if n % 2 == 0 {
                instantiate(&mut record, n)?;
            }
            let record = Record::from(record);
            if n < 1_000 {
                body_bytes += serde_json::to_vec(&record)?.len();
            }
            writes.push(Write::Insert(record));
        }
        store.commit(&tenant, writes).await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(format!("{}-wal", path.display()))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "seeded {} instance(s) and {} package(s) into {} in {elapsed:.2} s ({:.0} records/s); \
         mean stored body {} B; database {:.1} MiB",
        args.instances,
        args.packages,
        path.display(),
        (args.instances + args.packages) as f64 / elapsed.max(1e-9),
        body_bytes / args.instances.clamp(1, 1_000),
        size as f64 / (1024.0 * 1024.0),
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("seed-instances: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(seed(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seed-instances: {error}");
            ExitCode::FAILURE
        }
    }
}
