//! Times the phases of onboarding one package directory, many times:
//! `onboard-profile <package-dir> [iterations] [missing-ok…]`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tacker_core::csar::{Csar, CsarOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: onboard-profile <package-dir> [iterations] [missing-ok…]");
        return;
    };
    let iterations: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let options = CsarOptions {
        missing_ok: args.collect::<BTreeSet<String>>(),
        ..CsarOptions::default()
    };
    let mut open = Duration::ZERO;
    let mut hashes = Duration::ZERO;
    let mut vnfd = Duration::ZERO;
    for _ in 0..iterations {
        let started = Instant::now();
        let Ok(csar) = Csar::from_dir(&dir, &options) else {
            eprintln!("cannot open the package");
            return;
        };
        let opened = Instant::now();
        if let Err(error) = csar.verify_hashes(&options) {
            eprintln!("{error}");
            return;
        }
        let hashed = Instant::now();
        if let Err(error) = tacker_core::vnfd::read_vnfd(&csar, &options.missing_ok) {
            eprintln!("{error}");
            return;
        }
        vnfd += hashed.elapsed();
        hashes += hashed - opened;
        open += opened - started;
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(iterations);
    println!(
        "open {:.3} ms, digests {:.3} ms, VNFD {:.3} ms",
        per(open),
        per(hashes),
        per(vnfd)
    );
}
