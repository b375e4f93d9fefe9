//! `tacker`: the command-line tool of the tacker VNF Manager.
//!
//! `tacker package validate <dir-or-zip> [--json] [--missing-ok PATH]…` checks a VNF
//! package (SOL004 CSAR with a SOL001 VNFD) the way onboarding does and prints its facts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tacker_core::csar::{Csar, CsarOptions};

#[derive(Parser)]
#[command(
    name = "tacker",
    about = "The tacker VNF Manager's command-line tool",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// VNF packages.
    Package {
        #[command(subcommand)]
        command: PackageCommand,
    },
}

#[derive(Subcommand)]
enum PackageCommand {
    /// Validate a package (a zip file or an unpacked directory) as onboarding would.
    Validate {
        /// The package: a `.zip`/`.csar` file or a directory.
        path: PathBuf,
        /// Print the package's facts as JSON.
        #[arg(long)]
        json: bool,
        /// Treat this package path as present but unavailable: no existence or digest
        /// check (repeatable).
        #[arg(long = "missing-ok", value_name = "PATH")]
        missing_ok: Vec<String>,
    },
}

fn validate(path: &Path, json: bool, missing_ok: Vec<String>) -> Result<String, String> {
    let options = CsarOptions {
        missing_ok: missing_ok.into_iter().collect::<BTreeSet<_>>(),
        ..CsarOptions::default()
    };
    let csar = if path.is_dir() {
        Csar::from_dir(path, &options)
    } else {
        Csar::from_zip_file(path, &options)
    }
    .map_err(|e| e.to_string())?;
    let report = tacker_core::vnfd::validate(&csar, &options).map_err(|e| match e {
        tacker_core::Error::Unprocessable(detail) => detail,
        other => other.to_string(),
    })?;
    let facts = report.facts(&csar.entry_definitions);
    if json {
        return serde_json::to_string_pretty(&facts).map_err(|e| e.to_string());
    }
    let mut out = format!(
        "valid: {} {} {} (vnfdId {})\n",
        facts.provider, facts.product_name, facts.software_version, facts.vnfd_id
    );
    for flavour in &facts.flavours {
        out.push_str(&format!(
            "  flavour {}: {} VDU(s), {} CP(s), {} virtual link(s), {} instantiation level(s)\n",
            flavour.id,
            flavour.vdus.len(),
            flavour.vdu_cps.len(),
            flavour.virtual_links.len(),
            flavour.instantiation_levels.len()
        ));
    }
    for warning in &facts.warnings {
        out.push_str(&format!("  warning: {warning}\n"));
    }
    Ok(out.trim_end().to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Package {
            command:
                PackageCommand::Validate {
                    path,
                    json,
                    missing_ok,
                },
        } => match validate(&path, json, missing_ok) {
            Ok(output) => {
                println!("{output}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("invalid package {}: {error}", path.display());
                ExitCode::FAILURE
            }
        },
    }
}
