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
use tacker_benches::seed::Result;
use tacker_core::TenantId;
use tacker_store::SqlStore;

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
    /// Write to this database (`postgres://…`, as `vnfm --database-url`) instead of
    /// the data directory's SQLite file.
    #[arg(long)]
    database_url: Option<String>,
}

async fn seed(args: &Args) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    let path = args.data_dir.join("tacker.db");
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", path.display()),
    };
    let store = SqlStore::connect(&url).await?;
    let tenant = TenantId::new(args.tenant.clone());
    let started = Instant::now();
    let seeded =
        tacker_benches::seed::seed(&store, &tenant, args.instances, args.packages, args.batch)
            .await?;
    // The attribute index included: a server started next finds it current.
    store.index_pending().await?;
    let elapsed = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(format!("{}-wal", path.display()))
            .map(|m| m.len())
            .unwrap_or(0);
    let place = match &args.database_url {
        Some(_) => "the database".to_owned(),
        None => format!(
            "{} ({:.1} MiB)",
            path.display(),
            size as f64 / (1024.0 * 1024.0)
        ),
    };
    println!(
        "seeded {} instance(s) and {} package(s) into {place} in {elapsed:.2} s ({:.0} records/s); \
         mean stored body {} B",
        args.instances,
        args.packages,
        (args.instances + args.packages) as f64 / elapsed.max(1e-9),
        seeded.mean_body_bytes,
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    tacker_benches::run_to_exit("seed-instances", seed(&args))
}
