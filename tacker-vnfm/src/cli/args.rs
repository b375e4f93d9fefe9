//! The command line, as clap parses it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use super::body::parse_pair;
use super::output::Format;
use super::wait::parse_duration;

/// The `tacker` command line.
#[derive(Debug, Parser)]
#[command(
    name = "tacker",
    about = "The tacker VNF Manager's command-line tool",
    long_about = "The tacker VNF Manager's command-line tool: checks VNF packages locally and \
                  drives a VNFM server through its ETSI NFV REST APIs.\n\n\
                  The endpoint and credentials come from the flags, else from TACKER_ENDPOINT, \
                  TACKER_USERNAME, TACKER_PASSWORD, TACKER_TOKEN, TACKER_CA_CERT and \
                  TACKER_INSECURE, else from the config file (--config, default \
                  $XDG_CONFIG_HOME/tacker/config.yaml or ~/.config/tacker/config.yaml; keys \
                  endpoint, username, password, token, caCert, insecure).\n\n\
                  Exit codes: 0 success; 1 error (a ProblemDetails from the server, the \
                  server unreachable or answering off the API); 2 the awaited operation \
                  ended FAILED_TEMP, FAILED or ROLLED_BACK (a rollback: anything but \
                  ROLLED_BACK), or onboarding ended in ERROR; 3 --wait timed out; 64 bad \
                  command line, configuration or input file.",
    version
)]
pub struct Cli {
    /// Connection and output options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Base URL of the VNFM [default: http://127.0.0.1:9890].
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// User name for HTTP basic authentication.
    #[arg(long, global = true, value_name = "NAME")]
    pub username: Option<String>,
    /// Password for HTTP basic authentication (prefer TACKER_PASSWORD or the config file).
    #[arg(long, global = true, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Bearer token (prefer TACKER_TOKEN or the config file).
    #[arg(long, global = true, value_name = "TOKEN", conflicts_with = "username")]
    pub token: Option<String>,
    /// Config file (YAML).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PEM file of CA certificates trusted besides the system roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify the server's TLS certificate (testing only).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value_t
    )]
    pub output: Format,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// VNF packages (`/vnfpkgm/v2/vnf_packages`).
    Package {
        /// The package command.
        #[command(subcommand)]
        command: PackageCommand,
    },
    /// VNF instances and their lifecycle (`/vnflcm/v2/vnf_instances`).
    Vnf {
        /// The VNF command.
        #[command(subcommand)]
        command: VnfCommand,
    },
    /// LCM operation occurrences (`/vnflcm/v2/vnf_lcm_op_occs`).
    Op {
        /// The op command.
        #[command(subcommand)]
        command: OpCommand,
    },
    /// VIMs (`/vims`).
    Vim {
        /// The VIM command.
        #[command(subcommand)]
        command: VimCommand,
    },
    /// Notification subscriptions (LCM or package management).
    Subscription {
        /// The subscription command.
        #[command(subcommand)]
        command: SubscriptionCommand,
    },
}

/// `--wait` and `--timeout`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Follow the operation until it ends; exit 2 if it does not succeed.
    #[arg(long)]
    pub wait: bool,
    /// Bound of --wait: seconds, or a number with ms, s, m or h.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Time between two polls of --wait.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration, hide = true)]
    pub poll_interval: Duration,
}

/// `--filter`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// SOL013 attribute filter, passed verbatim, e.g. `(eq,operationState,COMPLETED)`.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
}

/// `--body`.
#[derive(Debug, Clone, Args)]
pub struct BodyArgs {
    /// The request body as a JSON or YAML file (`-` reads stdin); flags override its
    /// attributes.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
}

/// `--param KEY=VALUE`: the task's `additionalParams`.
#[derive(Debug, Clone, Args)]
pub struct ParamArgs {
    /// An `additionalParams` entry: KEY=VALUE (a string) or KEY:=JSON (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub params: Vec<(String, Value)>,
}

/// A task's common arguments.
#[derive(Debug, Clone, Args)]
pub struct TaskArgs {
    /// The request body file.
    #[command(flatten)]
    pub body: BodyArgs,
    /// The additional parameters.
    #[command(flatten)]
    pub params: ParamArgs,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Package commands.
#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Create a package resource (then `upload` its content).
    Create {
        /// A `userDefinedData` entry: KEY=VALUE or KEY:=JSON (repeatable).
        #[arg(long = "user-data", value_name = "KEY=VALUE", value_parser = parse_pair)]
        user_data: Vec<(String, Value)>,
        /// The request body file.
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Upload a package's content: a zip file, a directory (zipped on the fly), or a URI
    /// the server fetches.
    #[command(group(ArgGroup::new("source").required(true).args(["path", "uri"])))]
    Upload {
        /// The package id.
        id: String,
        /// A `.zip`/`.csar` file or an unpacked package directory.
        path: Option<PathBuf>,
        /// Let the server fetch the package from this URI instead.
        #[arg(long, value_name = "URI")]
        uri: Option<String>,
        /// User name for --uri.
        #[arg(long, value_name = "NAME", requires = "uri")]
        uri_username: Option<String>,
        /// Password for --uri.
        #[arg(long, value_name = "PASSWORD", requires = "uri")]
        uri_password: Option<String>,
        /// Waiting for onboarding.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Show a package.
    Show {
        /// The package id.
        id: String,
    },
    /// List packages.
    List {
        /// Filtering.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Delete a package.
    Delete {
        /// The package id.
        id: String,
    },
    /// Enable a package (operationalState ENABLED).
    Enable {
        /// The package id.
        id: String,
    },
    /// Disable a package (operationalState DISABLED).
    Disable {
        /// The package id.
        id: String,
    },
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
    /// Fetch an onboarded package's VNFD (YAML text, or a zip with --zip).
    Vnfd {
        /// The package id.
        id: String,
        /// Ask for the zip of all VNFD files.
        #[arg(long)]
        zip: bool,
        /// Write to this file instead of stdout.
        #[arg(short = 'O', long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
    /// Fetch one artifact of an onboarded package.
    Artifact {
        /// The package id.
        id: String,
        /// The artifact's path in the package, e.g. `Files/images/image.qcow2`.
        path: String,
        /// Write to this file instead of stdout.
        #[arg(short = 'O', long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
}

/// Termination types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StopType {
    /// `FORCEFUL`.
    Forceful,
    /// `GRACEFUL`.
    Graceful,
}

impl StopType {
    /// The ETSI name.
    pub fn etsi(self) -> &'static str {
        match self {
            StopType::Forceful => "FORCEFUL",
            StopType::Graceful => "GRACEFUL",
        }
    }
}

/// VNF commands.
#[derive(Debug, Subcommand)]
pub enum VnfCommand {
    /// Create a VNF instance resource from an onboarded VNFD.
    Create {
        /// The VNFD's id.
        #[arg(long, value_name = "ID")]
        vnfd_id: Option<String>,
        /// `vnfInstanceName`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// `vnfInstanceDescription`.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// A `metadata` entry: KEY=VALUE or KEY:=JSON (repeatable).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair)]
        metadata: Vec<(String, Value)>,
        /// The request body file.
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Instantiate a VNF.
    Instantiate {
        /// The VNF instance id.
        id: String,
        /// `flavourId`.
        #[arg(long, value_name = "ID")]
        flavour: Option<String>,
        /// `instantiationLevelId`.
        #[arg(long, value_name = "ID")]
        level: Option<String>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Terminate a VNF (FORCEFUL unless --graceful).
    Terminate {
        /// The VNF instance id.
        id: String,
        /// `terminationType` GRACEFUL.
        #[arg(long)]
        graceful: bool,
        /// `gracefulTerminationTimeout` in seconds.
        #[arg(long, value_name = "SECONDS", requires = "graceful")]
        graceful_timeout: Option<u64>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Scale a VNF out or in by steps of one aspect.
    #[command(group(ArgGroup::new("direction").args(["out", "in_"])))]
    Scale {
        /// The VNF instance id.
        id: String,
        /// `aspectId`.
        #[arg(long, value_name = "ID")]
        aspect: Option<String>,
        /// SCALE_OUT.
        #[arg(long)]
        out: bool,
        /// SCALE_IN.
        #[arg(long = "in")]
        in_: bool,
        /// `numberOfSteps`.
        #[arg(long, value_name = "N")]
        steps: Option<u32>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Scale a VNF to an instantiation level or to given aspect levels.
    #[command(name = "scale-to-level")]
    ScaleToLevel {
        /// The VNF instance id.
        id: String,
        /// `instantiationLevelId`.
        #[arg(long, value_name = "ID", conflicts_with = "aspect_level")]
        level: Option<String>,
        /// A `scaleInfo` entry: ASPECT=LEVEL (repeatable).
        #[arg(long = "aspect-level", value_name = "ASPECT=LEVEL", value_parser = parse_aspect_level)]
        aspect_level: Vec<(String, u32)>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Heal a VNF, or some of its VNFC instances.
    Heal {
        /// The VNF instance id.
        id: String,
        /// A `vnfcInstanceId` to heal (repeatable; none heals the VNF).
        #[arg(long = "vnfc", value_name = "ID")]
        vnfc: Vec<String>,
        /// `cause`.
        #[arg(long, value_name = "TEXT")]
        cause: Option<String>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Change a VNF's deployment flavour.
    #[command(name = "change-flavour")]
    ChangeFlavour {
        /// The VNF instance id.
        id: String,
        /// `newFlavourId`.
        #[arg(long, value_name = "ID")]
        flavour: Option<String>,
        /// `instantiationLevelId`.
        #[arg(long, value_name = "ID")]
        level: Option<String>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Start or stop a VNF.
    #[command(group(ArgGroup::new("state").args(["start", "stop"])))]
    Operate {
        /// The VNF instance id.
        id: String,
        /// `changeStateTo` STARTED.
        #[arg(long)]
        start: bool,
        /// `changeStateTo` STOPPED.
        #[arg(long)]
        stop: bool,
        /// `stopType`.
        #[arg(long, value_enum, value_name = "TYPE")]
        stop_type: Option<StopType>,
        /// `gracefulStopTimeout` in seconds.
        #[arg(long, value_name = "SECONDS")]
        graceful_timeout: Option<u64>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Change a VNF's external connectivity (`extVirtualLinks` from --body).
    #[command(name = "change-ext-conn")]
    ChangeExtConn {
        /// The VNF instance id.
        id: String,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Change a VNF's current package.
    #[command(name = "change-pkg")]
    ChangePkg {
        /// The VNF instance id.
        id: String,
        /// The new `vnfdId`.
        #[arg(long, value_name = "ID")]
        vnfd_id: Option<String>,
        /// Body, parameters and waiting.
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Modify a VNF's information (name, description, metadata, …).
    Modify {
        /// The VNF instance id.
        id: String,
        /// New `vnfInstanceName`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// New `vnfInstanceDescription`.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// A `metadata` entry to set: KEY=VALUE or KEY:=JSON (`KEY:=null` removes it).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair)]
        metadata: Vec<(String, Value)>,
        /// The request body file.
        #[command(flatten)]
        body: BodyArgs,
        /// Waiting.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Show a VNF instance with all its attributes.
    Show {
        /// The VNF instance id.
        id: String,
    },
    /// List VNF instances.
    List {
        /// Filtering.
        #[command(flatten)]
        list: ListArgs,
        /// Ask for the complex attributes too (`all_fields`); fills the FLAVOUR and
        /// VNF STATE columns.
        #[arg(long)]
        all_fields: bool,
    },
    /// Delete a (not instantiated) VNF instance resource.
    Delete {
        /// The VNF instance id.
        id: String,
    },
}

fn parse_aspect_level(arg: &str) -> Result<(String, u32), String> {
    let (aspect, level) = arg
        .split_once('=')
        .ok_or_else(|| format!("expected ASPECT=LEVEL, got {arg:?}"))?;
    if aspect.is_empty() {
        return Err(format!("empty aspect in {arg:?}"));
    }
    let level = level
        .parse()
        .map_err(|e| format!("{arg:?}: the level must be a number: {e}"))?;
    Ok((aspect.to_owned(), level))
}

/// Op-occurrence commands.
#[derive(Debug, Subcommand)]
pub enum OpCommand {
    /// List operation occurrences.
    List {
        /// Filtering.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show an operation occurrence.
    Show {
        /// The op occurrence id.
        id: String,
    },
    /// Retry a FAILED_TEMP operation.
    Retry {
        /// The op occurrence id.
        id: String,
        /// Waiting.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Roll back a FAILED_TEMP operation (--wait succeeds on ROLLED_BACK).
    Rollback {
        /// The op occurrence id.
        id: String,
        /// Waiting.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Declare a FAILED_TEMP operation FAILED.
    Fail {
        /// The op occurrence id.
        id: String,
    },
    /// Cancel a running operation.
    Cancel {
        /// The op occurrence id.
        id: String,
        /// `cancelMode`.
        #[arg(long, value_enum, default_value = "graceful")]
        mode: StopType,
    },
}

/// VIM attributes shared by `register` and `update`.
#[derive(Debug, Clone, Args)]
pub struct VimArgs {
    /// `description`.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// `interfaceInfo.endpoint`, e.g. the Keystone URL.
    #[arg(long, value_name = "URL")]
    pub vim_endpoint: Option<String>,
    /// An `interfaceInfo` entry: KEY=VALUE or KEY:=JSON (repeatable).
    #[arg(long = "interface", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub interface: Vec<(String, Value)>,
    /// An `accessInfo` entry (credentials): KEY=VALUE or KEY:=JSON (repeatable; prefer
    /// --body for secrets).
    #[arg(long = "access", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub access: Vec<(String, Value)>,
    /// An `extra` entry: KEY=VALUE or KEY:=JSON (repeatable).
    #[arg(long = "extra", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub extra: Vec<(String, Value)>,
    /// The request body file.
    #[command(flatten)]
    pub body: BodyArgs,
}

/// VIM commands.
#[derive(Debug, Subcommand)]
pub enum VimCommand {
    /// Register a VIM.
    Register {
        /// `name`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// `vimType`, e.g. ETSINFV.OPENSTACK_KEYSTONE.V_3.
        #[arg(long = "type", value_name = "TYPE")]
        vim_type: Option<String>,
        /// Make it the default VIM (`isDefault`).
        #[arg(long)]
        default: bool,
        /// The other attributes.
        #[command(flatten)]
        vim: VimArgs,
    },
    /// List VIMs.
    List {
        /// Filtering.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show a VIM.
    Show {
        /// The VIM id.
        id: String,
    },
    /// Change a VIM (merge patch).
    Update {
        /// The VIM id.
        id: String,
        /// New `name`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Make it the default VIM, or no longer the default.
        #[arg(long, value_name = "BOOL")]
        default: Option<bool>,
        /// The other attributes.
        #[command(flatten)]
        vim: VimArgs,
    },
    /// Delete a VIM.
    Delete {
        /// The VIM id.
        id: String,
    },
}

/// Which API's subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SubscriptionApi {
    /// LCM notifications (`/vnflcm/v2/subscriptions`).
    #[default]
    Lcm,
    /// Package notifications (`/vnfpkgm/v2/subscriptions`).
    Pkgm,
}

/// `--api`.
#[derive(Debug, Clone, Args)]
pub struct ApiArg {
    /// Whose subscriptions: LCM or package management.
    #[arg(long, value_enum, default_value_t)]
    pub api: SubscriptionApi,
}

/// Verbosity of notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Verbosity {
    /// `FULL`.
    Full,
    /// `SHORT`.
    Short,
}

/// Subscription commands.
#[derive(Debug, Subcommand)]
pub enum SubscriptionCommand {
    /// Subscribe a callback URI to notifications.
    Create {
        /// Which API.
        #[command(flatten)]
        api: ApiArg,
        /// `callbackUri`.
        #[arg(long, value_name = "URI")]
        callback: Option<String>,
        /// `verbosity` (LCM only).
        #[arg(long, value_enum)]
        verbosity: Option<Verbosity>,
        /// A `filter.notificationTypes` entry (repeatable).
        #[arg(long = "notification-type", value_name = "TYPE")]
        notification_types: Vec<String>,
        /// The request body file.
        #[command(flatten)]
        body: BodyArgs,
    },
    /// List subscriptions.
    List {
        /// Which API.
        #[command(flatten)]
        api: ApiArg,
        /// Filtering.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show a subscription.
    Show {
        /// Which API.
        #[command(flatten)]
        api: ApiArg,
        /// The subscription id.
        id: String,
    },
    /// Delete a subscription.
    Delete {
        /// Which API.
        #[command(flatten)]
        api: ApiArg,
        /// The subscription id.
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere_and_tasks_take_wait() {
        let cli = Cli::try_parse_from([
            "tacker",
            "vnf",
            "scale",
            "v1",
            "--aspect",
            "A",
            "--out",
            "--steps",
            "2",
            "--wait",
            "--timeout",
            "10m",
            "-o",
            "json",
            "--endpoint",
            "http://x:1",
        ])
        .expect("parse");
        assert_eq!(cli.global.output, Format::Json);
        assert_eq!(cli.global.endpoint.as_deref(), Some("http://x:1"));
        let Command::Vnf {
            command:
                VnfCommand::Scale {
                    out,
                    in_,
                    steps,
                    task,
                    ..
                },
        } = cli.command
        else {
            panic!("not scale");
        };
        assert!(out && !in_);
        assert_eq!(steps, Some(2));
        assert!(task.wait.wait);
        assert_eq!(task.wait.timeout, Duration::from_secs(600));
        assert!(Cli::try_parse_from(["tacker", "vnf", "scale", "v1", "--out", "--in"]).is_err());
        assert!(Cli::try_parse_from(["tacker", "package", "upload", "p1"]).is_err());
    }
}
