//! The in-process NFVO example: its inventory places the VNFCs, refuses what does not
//! fit (the operation is rolled back with its reason) and frees what a scale-in removes.

use std::process::Command;

#[test]
fn the_inventory_grants_places_refuses_and_frees() {
    let output = Command::new(env!("CARGO_BIN_EXE_nfvo_inventory"))
        .output()
        .expect("run nfvo_inventory");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "inventory: zone-a 0/2, zone-b 0/1",
            "instantiate: COMPLETED",
            "inventory: zone-a 2/2, zone-b 0/1",
            "scale out: COMPLETED",
            "inventory: zone-a 2/2, zone-b 1/1",
            "scale out: ROLLED_BACK (forbidden: the grant was refused: no zone has room for another VNFC of VDU WEB: zone-a 2/2, zone-b 1/1)",
            "inventory: zone-a 2/2, zone-b 1/1",
            "scale in: COMPLETED",
            "inventory: zone-a 2/2, zone-b 0/1",
            "scale out: COMPLETED",
            "inventory: zone-a 2/2, zone-b 1/1",
        ],
        "{stdout}"
    );
}
