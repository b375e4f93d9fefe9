//! Verifies the digests of an unpacked package directory and prints the time taken:
//! `hash-verify <package-dir>`. Used by `benches/hash_vs_sha256sum.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use tacker_core::csar::{Csar, CsarOptions};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: hash-verify <package-dir>");
        return ExitCode::FAILURE;
    };
    let options = CsarOptions::default();
    let started = Instant::now();
    let result = Csar::from_dir(&dir, &options).and_then(|csar| csar.verify_hashes(&options));
    match result {
        Ok(checks) => {
            println!(
                "{:.3} s for {} artifact(s)",
                started.elapsed().as_secs_f64(),
                checks.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
