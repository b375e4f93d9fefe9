//! The README's first command works: the quickstart takes a VNF through its whole life.

use std::process::Command;

#[test]
fn the_quickstart_runs_a_vnf_through_its_whole_life() {
    let output = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .output()
        .expect("run quickstart");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "onboarded: Example Networks Sample Web VNF 1.0",
        "instantiate: accepted",
        "now: 2 VNFC(s)",
        "now: 4 VNFC(s)",
        "now: 3 VNFC(s)",
        "scale out with an injected VIM fault: FAILED_TEMP",
        "retried: COMPLETED",
        "deleted; the simulated VIM holds 0 deployment(s)",
    ] {
        assert!(stdout.contains(line), "missing '{line}' in:\n{stdout}");
    }
}
