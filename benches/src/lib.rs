//! Benchmarks of the tacker VNF Manager.
//!
//! - `cargo bench -p tacker-benches --bench onboarding`: onboarding of every valid
//!   package of `../shared/corpus` (zip in memory → ONBOARDED).
//! - `benches/hash_vs_sha256sum.sh`: digest verification of a 1 GiB package file
//!   against `sha256sum` on the same file (uses the `hash-verify` binary of this crate).
