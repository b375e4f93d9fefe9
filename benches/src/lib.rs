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
