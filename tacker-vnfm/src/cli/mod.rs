//! The `tacker` command-line tool: `package validate` checks a package locally; every
//! other command is a client of the VNFM server's ETSI REST APIs (`/vnfpkgm/v2`,
//! `/vnflcm/v2`, `/vims`).
//!
//! - [`args`]: the command line (clap);
//! - [`config`]: endpoint and credentials from flags, environment and config file;
//! - [`client`]: HTTP with the `Version` header, authentication, ProblemDetails, paging;
//! - [`commands`]: what each command sends and prints;
//! - [`output`]: tables, JSON and YAML;
//! - [`body`]: `--body` files and `KEY=VALUE` flags;
//! - [`wait`]: `--wait` on operations and onboarding;
//! - [`validate`]: the local package check.

use std::process::ExitCode;

use clap::Parser;

pub mod args;
pub mod body;
pub mod client;
pub mod commands;
pub mod config;
pub mod output;
pub mod validate;
pub mod wait;

pub use args::Cli;
use args::{Command, GlobalArgs, PackageCommand};
use client::Problem;

/// Exit code of an operation that ended FAILED_TEMP, FAILED or ROLLED_BACK (or an
/// onboarding that ended in ERROR).
pub const EXIT_FAILED: u8 = 2;
/// Exit code of a `--wait` that timed out.
pub const EXIT_TIMEOUT: u8 = 3;
/// Exit code of a bad command line, configuration or input file.
pub const EXIT_USAGE: u8 = 64;

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// The server answered with a ProblemDetails (or another error status).
    Problem(Problem),
    /// The command line, a file it names, or the configuration is wrong.
    Usage(String),
    /// The server could not be reached.
    Transport(String),
    /// The server's answer is not what the API promises.
    Protocol(String),
    /// The awaited operation or onboarding did not succeed.
    Failed(String),
    /// `--wait` ran out of time.
    Timeout(String),
    /// Anything else.
    Other(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Failed(_) => EXIT_FAILED,
            Error::Timeout(_) => EXIT_TIMEOUT,
            Error::Usage(_) => EXIT_USAGE,
            _ => 1,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Problem(problem) => problem.fmt(f),
            Error::Transport(message) => write!(f, "cannot reach the VNFM: {message}"),
            Error::Usage(message)
            | Error::Protocol(message)
            | Error::Failed(message)
            | Error::Timeout(message)
            | Error::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// Reads an environment variable (unset or not Unicode: `None`).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The connection settings of this process: flags, then environment, then config file.
pub fn settings(global: &GlobalArgs) -> Result<config::Settings, Error> {
    let flags = config::Partial {
        endpoint: global.endpoint.clone(),
        username: global.username.clone(),
        password: global.password.clone(),
        token: global.token.clone(),
        ca_cert: global.ca_cert.clone(),
        insecure: global.insecure.then_some(true),
    };
    let env = config::env_partial(env_var)?;
    let file = match config::config_path(global.config.as_deref(), env_var) {
        Some(path) => config::load_config(&path)?,
        None => config::Partial::default(),
    };
    config::resolve(&flags, &env, &file)
}

/// Runs a parsed command line to its exit code, printing errors on stderr.
pub fn run(cli: Cli) -> ExitCode {
    if let Command::Package {
        command:
            PackageCommand::Validate {
                path,
                json,
                missing_ok,
            },
    } = cli.command
    {
        return match validate::validate(&path, json, missing_ok) {
            Ok(output) => {
                println!("{output}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("invalid package {}: {error}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("async runtime: {e}")))
        .and_then(|runtime| {
            runtime.block_on(async {
                let ctx = commands::Context {
                    client: client::Client::new(&settings(&cli.global)?)?,
                    format: cli.global.output,
                };
                commands::run(&ctx, cli.command).await
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Parses the process's arguments and runs them: the whole `tacker` program. A bad
/// command line exits with [`EXIT_USAGE`].
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(error) => {
            let _ = error.print();
            if error.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
