//! `tacker`: the command-line tool of the tacker VNF Manager.
//!
//! `tacker package validate <dir-or-zip> [--json] [--missing-ok PATH]…` checks a VNF
//! package (SOL004 CSAR with a SOL001 VNFD) the way onboarding does and prints its facts;
//! the `package`, `vnf`, `op`, `vim` and `subscription` commands drive a VNFM server
//! through its ETSI REST APIs. See `tacker --help` and `tacker_vnfm::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    tacker_vnfm::cli::main()
}
