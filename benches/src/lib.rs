//! Benchmarks of the tacker VNF Manager live in `benches/`; this library is empty.
