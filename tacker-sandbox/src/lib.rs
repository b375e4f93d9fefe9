//! Confined runs of the Python code that VNF packages carry: Tacker-style user-data
//! classes that compute Heat parameters, and LCM scripts.
//!
//! A package's code is the package author's, not the operator's, so it runs under
//! [bubblewrap](https://github.com/containers/bubblewrap) with:
//!
//! - a read-only view of the system (`/usr` and the interpreter's prefixes) and of the
//!   job's own scratch folder (mounted at [`JOB_DIR`]), nothing else of the host: not the
//!   VNFM's data, keys or configuration;
//! - a private, empty `/tmp`, its own process, IPC and UTS namespaces and no network
//!   (unless the job asks for [`Network::Shared`]);
//! - no capabilities and an empty environment;
//! - a wall-clock limit (the whole process tree is killed when it passes), an address
//!   space limit (`prlimit`) and a bound on what it may print.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tacker_sandbox::SandboxError> {
//! use tacker_sandbox::{Job, Sandbox, SandboxConfig};
//! let sandbox = Sandbox::new(SandboxConfig::default()).await?;
//! let scratch = sandbox.scratch().await?;
//! scratch.write("main.py", b"print(input().upper())").await?;
//! let output = sandbox
//!     .run(&Job::python(&scratch, "main.py").stdin(b"hello\n".to_vec()))
//!     .await?;
//! assert_eq!(output.stdout, b"HELLO\n");
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Where the job's scratch folder appears inside the sandbox (read-only).
pub const JOB_DIR: &str = "/job";

/// The limits and tools of a [`Sandbox`].
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The Python interpreter; a virtual environment's `bin/python` brings its packages
    /// (e.g. the helper modules user-data classes import).
    pub python: PathBuf,
    /// bubblewrap (`None`: `bwrap` on `PATH`).
    pub bwrap: Option<PathBuf>,
    /// util-linux `prlimit` (`None`: on `PATH`).
    pub prlimit: Option<PathBuf>,
    /// Wall-clock limit of one run.
    pub time_limit: Duration,
    /// Address-space limit of the process (bytes).
    pub memory_limit: u64,
    /// The most a run may print on stdout; more fails the run.
    pub output_limit: usize,
    /// How much of the end of stderr is kept for the error report.
    pub stderr_limit: usize,
    /// Where scratch folders are made (`None`: the system's temporary folder).
    pub scratch_root: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            python: PathBuf::from("python3"),
            bwrap: None,
            prlimit: None,
            time_limit: Duration::from_secs(60),
            memory_limit: 1 << 30,
            output_limit: 16 << 20,
            stderr_limit: 16 << 10,
            scratch_root: None,
        }
    }
}

/// Why a run did not produce an output.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The sandbox cannot run here (a tool is missing or does not work).
    #[error("the script sandbox is not available: {0}")]
    Unavailable(String),
    /// A job was malformed (e.g. a scratch path that leaves the folder).
    #[error("invalid sandbox job: {0}")]
    Invalid(String),
    /// Reading or writing the scratch folder, or starting the process, failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The run outlasted its time limit and was killed.
    #[error("the script did not finish within {limit:?} and was stopped{}", tail(.stderr))]
    TimedOut {
        /// The limit.
        limit: Duration,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    /// The run printed more than the output limit and was stopped.
    #[error("the script printed more than {limit} bytes and was stopped")]
    OutputTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The script exited unsuccessfully (or was killed by a signal).
    #[error("the script failed ({status}){}", tail(.stderr))]
    Failed {
        /// `exit code N` or `signal N`.
        status: String,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
}

fn tail(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(": {trimmed}")
    }
}

impl SandboxError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// Whether a job may reach the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// A network namespace of its own with nothing in it (the default).
    #[default]
    None,
    /// The host's network (for scripts that configure VNFCs over the network).
    Shared,
}

/// A private folder for one job: written by the VNFM, read-only inside the sandbox
/// (at [`JOB_DIR`]), removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// The folder on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `relative` (folders made as needed). `relative` must stay
    /// inside the folder.
    pub async fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), SandboxError> {
        let target = self.resolve(relative)?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(SandboxError::io(format!("create {}", parent.display())))?;
        }
        tokio::fs::write(&target, bytes)
            .await
            .map_err(SandboxError::io(format!("write {}", target.display())))
    }

    /// Writes the chunks of `stream` to `relative` as they come (folders made as
    /// needed), so that a large file never sits in memory whole.
    pub async fn write_stream<S, B, E>(
        &self,
        relative: &str,
        mut stream: S,
    ) -> Result<(), SandboxError>
    where
        S: futures::Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        use futures::StreamExt;
        let target = self.resolve(relative)?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(SandboxError::io(format!("create {}", parent.display())))?;
        }
        let mut file = tokio::fs::File::create(&target)
            .await
            .map_err(SandboxError::io(format!("create {}", target.display())))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| SandboxError::Io {
                context: format!("read what goes to {relative}"),
                source: std::io::Error::other(e.to_string()),
            })?;
            file.write_all(chunk.as_ref())
                .await
                .map_err(SandboxError::io(format!("write {}", target.display())))?;
        }
        file.flush()
            .await
            .map_err(SandboxError::io(format!("write {}", target.display())))
    }

    /// Writes `bytes` to `relative` readable by its owner only (a private key).
    pub async fn write_private(&self, relative: &str, bytes: &[u8]) -> Result<(), SandboxError> {
        use std::os::unix::fs::PermissionsExt;
        self.write(relative, bytes).await?;
        let target = self.resolve(relative)?;
        tokio::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
            .await
            .map_err(SandboxError::io(format!("protect {}", target.display())))
    }

    /// The host path of `relative`, refused when it would leave the folder.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, SandboxError> {
        let path = Path::new(relative);
        let plain = !relative.is_empty()
            && path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !plain {
            return Err(SandboxError::Invalid(format!(
                "{relative:?} is not a relative path inside the job folder"
            )));
        }
        Ok(self.path.join(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "cannot remove a sandbox scratch folder");
        }
    }
}

/// One run: a Python file of the scratch folder with its arguments and input.
#[derive(Debug)]
pub struct Job<'a> {
    scratch: &'a Scratch,
    script: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
    network: Network,
    files: Vec<(String, String)>,
}

impl<'a> Job<'a> {
    /// Runs `script` (a path inside `scratch`) with the sandbox's Python.
    pub fn python(scratch: &'a Scratch, script: impl Into<String>) -> Self {
        Self {
            scratch,
            script: script.into(),
            args: Vec::new(),
            stdin: Vec::new(),
            env: Vec::new(),
            network: Network::None,
            files: Vec::new(),
        }
    }

    /// Shows the scratch file `relative` (read-only) at the absolute path `target`
    /// inside the sandbox, e.g. a one-line `/etc/passwd` for tools that look the user
    /// up (OpenSSH's client does).
    pub fn file_at(mut self, relative: impl Into<String>, target: impl Into<String>) -> Self {
        self.files.push((relative.into(), target.into()));
        self
    }

    /// Arguments after the script.
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// What the script reads on stdin.
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = bytes;
        self
    }

    /// An environment variable (the environment is otherwise empty but for `PATH`,
    /// `HOME` and `LANG`).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The job's network.
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }
}

/// What a successful run printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Everything it printed on stdout.
    pub stdout: Vec<u8>,
    /// The end of what it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs Python confined; see the crate documentation. Cheap to share (`Arc`) across
/// concurrent runs.
#[derive(Debug)]
pub struct Sandbox {
    config: SandboxConfig,
    bwrap: PathBuf,
    prlimit: PathBuf,
    /// The interpreter as the sandbox sees it (same path as on the host).
    python: PathBuf,
    /// The interpreter's prefixes, mounted read-only.
    prefixes: Vec<PathBuf>,
}

impl Sandbox {
    /// Checks the tools and learns where the interpreter lives; fails (naming what is
    /// missing) when the sandbox cannot run here.
    pub async fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let bwrap = find_tool(config.bwrap.as_deref(), "bwrap", "bubblewrap")?;
        let prlimit = find_tool(config.prlimit.as_deref(), "prlimit", "util-linux")?;
        let python = find_tool(Some(&config.python), "python3", "python3")?;
        let probe = Command::new(&python)
            .args([
                "-I",
                "-c",
                "import json, sys; print(json.dumps([sys.executable, sys.prefix, \
                 sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]))",
            ])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let probe = tokio::time::timeout(Duration::from_secs(30), probe)
            .await
            .map_err(|_| {
                SandboxError::Unavailable(format!("{} did not answer in 30 s", python.display()))
            })?
            .map_err(|e| SandboxError::Unavailable(format!("{}: {e}", python.display())))?;
        if !probe.status.success() {
            return Err(SandboxError::Unavailable(format!(
                "{} does not run: {}",
                python.display(),
                String::from_utf8_lossy(&probe.stderr).trim()
            )));
        }
        let answer: Vec<String> = serde_json::from_slice(&probe.stdout).map_err(|e| {
            SandboxError::Unavailable(format!("{} gave no prefixes: {e}", python.display()))
        })?;
        let Some((executable, prefixes)) = answer.split_first() else {
            return Err(SandboxError::Unavailable(format!(
                "{} gave no prefixes",
                python.display()
            )));
        };
        // The interpreter itself, not a launcher (a pyenv shim) that may not run inside.
        let python = PathBuf::from(executable);
        let mut unique = BTreeSet::new();
        for prefix in prefixes {
            let path = PathBuf::from(prefix);
            // `/usr` is mounted anyway; the interpreter's own prefix may be a symlink.
            if !path.starts_with("/usr") {
                unique.insert(path.clone());
                if let Ok(real) = std::fs::canonicalize(&path) {
                    unique.insert(real);
                }
            }
        }
        let sandbox = Self {
            config,
            bwrap,
            prlimit,
            python,
            prefixes: unique.into_iter().collect(),
        };
        // bubblewrap needs user namespaces (or privileges) that some hosts withhold.
        let scratch = sandbox.scratch().await?;
        scratch.write("probe.py", b"print('ok')").await?;
        let output = sandbox.run(&Job::python(&scratch, "probe.py")).await?;
        if output.stdout != b"ok\n" {
            return Err(SandboxError::Unavailable(format!(
                "a probe run printed {:?}",
                String::from_utf8_lossy(&output.stdout)
            )));
        }
        Ok(sandbox)
    }

    /// The sandbox's settings.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// A new, empty scratch folder.
    pub async fn scratch(&self) -> Result<Scratch, SandboxError> {
        let root = self
            .config
            .scratch_root
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("tacker-sandbox"));
        let path = root.join(uuid::Uuid::new_v4().to_string());
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(SandboxError::io(format!("create {}", path.display())))?;
        Ok(Scratch { path })
    }

    fn command(&self, job: &Job<'_>) -> Result<Command, SandboxError> {
        let script = job.scratch.resolve(&job.script)?;
        if !script.is_file() {
            return Err(SandboxError::Invalid(format!(
                "{} is not a file of the job folder",
                job.script
            )));
        }
        let mut args: Vec<OsString> = vec![
            format!("--as={}", self.config.memory_limit).into(),
            "--core=0".into(),
            "--nofile=1024".into(),
            "--".into(),
            self.bwrap.clone().into(),
            "--unshare-all".into(),
        ];
        if job.network == Network::Shared {
            args.push("--share-net".into());
        }
        for flag in [
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--chdir",
            "/tmp",
            "--setenv",
            "PATH",
            "/usr/local/bin:/usr/bin:/bin",
            "--setenv",
            "HOME",
            "/tmp",
            "--setenv",
            "LANG",
            "C.UTF-8",
        ] {
            args.push(flag.into());
        }
        // The merged-/usr links (or the real folders on older systems).
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64"] {
            let path = Path::new(top);
            match std::fs::read_link(path) {
                Ok(target) => {
                    args.extend(["--symlink".into(), target.into(), top.into()]);
                }
                Err(_) if path.is_dir() => {
                    args.extend(["--ro-bind".into(), top.into(), top.into()]);
                }
                Err(_) => {}
            }
        }
        let mut etc = vec!["/etc/ld.so.cache", "/etc/localtime"];
        if job.network == Network::Shared {
            etc.extend([
                "/etc/hosts",
                "/etc/resolv.conf",
                "/etc/nsswitch.conf",
                "/etc/ssl",
                "/etc/ca-certificates",
            ]);
        }
        for file in etc {
            args.extend(["--ro-bind-try".into(), file.into(), file.into()]);
        }
        for prefix in &self.prefixes {
            args.extend(["--ro-bind".into(), prefix.into(), prefix.into()]);
        }
        args.extend([
            "--ro-bind".into(),
            job.scratch.path().into(),
            JOB_DIR.into(),
        ]);
        for (relative, target) in &job.files {
            if !target.starts_with('/') || target.contains("..") {
                return Err(SandboxError::Invalid(format!(
                    "{target:?} is not an absolute path to show {relative} at"
                )));
            }
            args.extend([
                "--ro-bind".into(),
                job.scratch.resolve(relative)?.into(),
                target.into(),
            ]);
        }
        for (name, value) in &job.env {
            args.extend(["--setenv".into(), name.into(), value.into()]);
        }
        args.extend([
            "--".into(),
            self.python.clone().into(),
            // No user site, no PYTHON* variables, no bytecode written.
            "-I".into(),
            "-B".into(),
            Path::new(JOB_DIR).join(&job.script).into(),
        ]);
        args.extend(job.args.iter().map(OsString::from));
        let mut command = Command::new(&self.prlimit);
        command
            .args(args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Ok(command)
    }

    /// Runs `job`; its stdout when it exits with status 0.
    pub async fn run(&self, job: &Job<'_>) -> Result<Output, SandboxError> {
        let started = Instant::now();
        let mut child = self
            .command(job)?
            .spawn()
            .map_err(SandboxError::io(format!("start {}", self.bwrap.display())))?;
        let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Unavailable(
                "the sandboxed process has no pipes".into(),
            ));
        };
        let input = job.stdin.clone();
        let writer = tokio::spawn(async move {
            // A script that does not read its input closes the pipe early: not an error.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
        let stderr_limit = self.config.stderr_limit;
        let errors = tokio::spawn(async move { read_tail(stderr, stderr_limit).await });
        let limit = self.config.output_limit;
        let work = async {
            let mut out = Vec::new();
            let mut buffer = [0u8; 8192];
            loop {
                let n = stdout
                    .read(&mut buffer)
                    .await
                    .map_err(SandboxError::io("read the script's output"))?;
                if n == 0 {
                    break;
                }
                if out.len() + n > limit {
                    return Err(SandboxError::OutputTooLarge { limit });
                }
                out.extend_from_slice(&buffer[..n]);
            }
            let status = child
                .wait()
                .await
                .map_err(SandboxError::io("wait for the script"))?;
            Ok((out, status))
        };
        let outcome = tokio::time::timeout(self.config.time_limit, work).await;
        let result = match outcome {
            Ok(Ok((stdout, status))) => Ok((stdout, status)),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(SandboxError::TimedOut {
                limit: self.config.time_limit,
                stderr: String::new(),
            }),
        };
        if result.is_err() {
            // bubblewrap dies, and with it (--die-with-parent, its own PID namespace)
            // everything the script started.
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        writer.abort();
        let stderr = errors.await.unwrap_or_default();
        let elapsed = started.elapsed();
        match result {
            Ok((stdout, status)) if status.success() => {
                tracing::debug!(script = %job.script, ?elapsed, "sandboxed run finished");
                Ok(Output {
                    stdout,
                    stderr,
                    elapsed,
                })
            }
            Ok((_, status)) => Err(SandboxError::Failed {
                status: match (status.code(), status.signal()) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(signal)) => format!("signal {signal}"),
                    (None, None) => "unknown status".into(),
                },
                stderr,
            }),
            Err(SandboxError::TimedOut { limit, .. }) => {
                Err(SandboxError::TimedOut { limit, stderr })
            }
            Err(other) => Err(other),
        }
    }
}

/// The end of `text`: its last `n` characters at most (for quoting a script's stderr
/// in an error).
pub fn last_chars(text: &str, n: usize) -> &str {
    let count = text.chars().count();
    if count <= n {
        return text;
    }
    let skip = text
        .char_indices()
        .nth(count - n)
        .map(|(i, _)| i)
        .unwrap_or_default();
    &text[skip..]
}

/// Reads `reader` to its end, keeping the last `limit` bytes (as lossy UTF-8).
async fn read_tail(mut reader: impl AsyncRead + Unpin, limit: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&buffer[..n]);
                if kept.len() > 2 * limit.max(1) {
                    kept.drain(..kept.len() - limit);
                }
            }
        }
    }
    if kept.len() > limit {
        kept.drain(..kept.len() - limit);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// `configured`, or `name` on `PATH`.
fn find_tool(
    configured: Option<&Path>,
    name: &str,
    package: &str,
) -> Result<PathBuf, SandboxError> {
    let wanted = configured.unwrap_or(Path::new(name));
    if wanted.components().count() > 1 {
        return if wanted.is_file() {
            Ok(wanted.to_path_buf())
        } else {
            Err(SandboxError::Unavailable(format!(
                "{} does not exist",
                wanted.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(wanted))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            SandboxError::Unavailable(format!(
                "{} is not on PATH (install {package})",
                wanted.display()
            ))
        })
}
