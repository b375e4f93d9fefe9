//! Benchmarks of the tacker VNF Manager.
//!
//! - `cargo bench -p tacker-benches --bench onboarding`: onboarding of every valid
//!   package of `../shared/corpus` (zip in memory → ONBOARDED).
//! - `cargo bench -p tacker-benches --bench list`: the server's CPU per listed item: the
//!   REST router of `tacker-api` in-process over an SQLite store (`GET` of a page of
//!   100 of 10,000 VNF instances, a page of 100 op occurrences and of 100 packages).
//! - `benches/hash_vs_sha256sum.sh`: digest verification of a 1 GiB package file
//!   against `sha256sum` on the same file (uses the `hash-verify` binary of this crate).
//! - `benches/http-list.sh`: the REST list path of the `vnfm` server under load
//!   (`GET /vnflcm/v2/vnf_instances` with 10,000 instances from 1 and 8 clients, the
//!   package lists, and the server's memory with 100,000 instances), using the
//!   `seed-instances` and `http-load` binaries of this crate.
//! - `benches/http-filter.sh`: SOL013 filters over 10,000 VNF instances through `vnfm`
//!   on SQLite and PostgreSQL (a selective `eq` deep in arrays, a `cont`, and a filter
//!   the attribute index cannot answer), from 8 clients.
//! - `benches/lcm-processes.sh`: LCM state changes per second (instantiate and
//!   terminate in a closed loop on the simulated VIM) through one `vnfm` on SQLite, one
//!   on PostgreSQL, and two sharing one PostgreSQL database, with the `lcm-load` binary.
//! - `benches/side-by-side.sh`: the same workloads against `vnfm` and a real Tacker 16
//!   (when one is reachable), alternated, with the ratios.

pub mod seed;

use std::future::Future;
use std::process::ExitCode;

/// The nearest-rank percentile `p` (0–100) of sorted nanosecond values, in
/// milliseconds; NaN when there are none.
pub fn percentile_ms(sorted_nanos: &[u64], p: f64) -> f64 {
    if sorted_nanos.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_nanos.len() as f64).ceil() as usize;
    sorted_nanos[rank.clamp(1, sorted_nanos.len()) - 1] as f64 / 1e6
}

/// The `main` of a one-shot tool: runs `work` on a current-thread runtime and turns an
/// error into a message on stderr (prefixed with `name`) and a failure exit status.
pub fn run_to_exit<E: std::fmt::Display>(
    name: &str,
    work: impl Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}
