//! SSH to the nodes with russh: connection with host key verification, bounded retries
//! and backoff; SFTP upload; remote commands with a timeout and bounded output.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::digest::hex_prefix;
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::hostkey::{HostKeyPolicy, HostKeyRejection};

/// How the driver talks SSH: timeouts, retries, where scripts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    /// Limit of one connection attempt: TCP connect, key exchange and authentication.
    pub connect_timeout: Duration,
    /// Connection attempts per node before the step fails (at least 1).
    pub connect_attempts: u32,
    /// Delay after the first failed attempt; doubles after each, up to `max_backoff`.
    pub backoff: Duration,
    /// Longest delay between attempts.
    pub max_backoff: Duration,
    /// Limit of one remote command (a cluster installation takes minutes).
    pub command_timeout: Duration,
    /// Limit of one SFTP upload.
    pub upload_timeout: Duration,
    /// The directory on the nodes that scripts are uploaded to (created if missing);
    /// a relative path is in the user's home directory.
    pub remote_dir: String,
}

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            connect_attempts: 10,
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            command_timeout: Duration::from_secs(30 * 60),
            upload_timeout: Duration::from_secs(120),
            remote_dir: ".tacker-k8s-cluster".to_owned(),
        }
    }
}

/// How to log in to a node.
#[derive(Clone)]
pub enum Credentials {
    /// Password authentication.
    Password(String),
    /// Public key authentication with this key.
    PrivateKey(Arc<PrivateKey>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(…)"),
            Self::PrivateKey(key) => write!(f, "PrivateKey({})", key.algorithm().as_str()),
        }
    }
}

/// One node to reach.
#[derive(Debug, Clone)]
pub struct Target {
    /// How messages name the node, e.g. `master node 0193… (VDU masterNode, 10.0.0.5:22)`.
    pub label: String,
    /// Its SSH address.
    pub host: String,
    /// Its SSH port.
    pub port: u16,
    /// The user to log in as.
    pub username: String,
    /// The credentials.
    pub credentials: Credentials,
    /// The host keys it may present.
    pub host_keys: Arc<HostKeyPolicy>,
}

/// A failure talking to a node; the message names the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshError {
    /// What went wrong.
    pub message: String,
    /// Whether trying again later may help (not for a refused host key).
    pub retryable: bool,
    /// The operation was cancelled.
    pub cancelled: bool,
}

impl std::fmt::Display for SshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SshError {}

fn failure(message: String) -> SshError {
    SshError {
        message,
        retryable: true,
        cancelled: false,
    }
}

/// The russh handler: accepts the server only if its key passes the node's policy.
struct Verifier {
    host: String,
    port: u16,
    policy: Arc<HostKeyPolicy>,
    rejection: Arc<Mutex<Option<HostKeyRejection>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(certificate) => certificate.public_key(),
        };
        match self.policy.check(&self.host, self.port, key) {
            Ok(()) => Ok(true),
            Err(rejection) => {
                if let Ok(mut slot) = self.rejection.lock() {
                    *slot = Some(rejection);
                }
                Ok(false)
            }
        }
    }
}

/// An authenticated SSH connection to a node.
pub struct Session {
    label: String,
    handle: Handle<Verifier>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// What a remote command did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// The exit status; `None` when the command ended by a signal or without a status.
    pub status: Option<u32>,
    /// The signal that ended it, if any.
    pub signal: Option<String>,
    /// Complete stdout lines starting with the marker the caller asked for, in order.
    pub marked_lines: Vec<String>,
    /// The last lines of stdout (bounded).
    pub stdout_tail: String,
    /// The last lines of stderr (bounded).
    pub stderr_tail: String,
}

/// Longest stdout or stderr tail kept, in bytes.
const TAIL_BYTES: usize = 4096;
/// Longest stdout line kept while looking for marked lines.
const MAX_LINE: usize = 256 * 1024;
/// Most marked lines kept.
const MAX_MARKED: usize = 1000;

/// Keeps the last `TAIL_BYTES` of a stream.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
        if self.0.len() > TAIL_BYTES {
            let cut = self.0.len() - TAIL_BYTES;
            self.0.drain(..cut);
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).trim_end().to_owned()
    }
}

/// Splits stdout into lines and keeps those starting with a marker.
struct Lines<'m> {
    marker: &'m str,
    partial: Vec<u8>,
    overlong: bool,
    marked: Vec<String>,
}

impl<'m> Lines<'m> {
    fn new(marker: &'m str) -> Self {
        Self {
            marker,
            partial: Vec::new(),
            overlong: false,
            marked: Vec::new(),
        }
    }

    fn push(&mut self, mut data: &[u8]) {
        while let Some(end) = data.iter().position(|b| *b == b'\n') {
            self.extend(&data[..end]);
            self.line_done();
            data = &data[end + 1..];
        }
        self.extend(data);
    }

    fn extend(&mut self, data: &[u8]) {
        if self.partial.len() + data.len() > MAX_LINE {
            self.overlong = true;
        } else {
            self.partial.extend_from_slice(data);
        }
    }

    fn line_done(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        let line = line.trim_end_matches('\r');
        if !self.overlong && line.starts_with(self.marker) && self.marked.len() < MAX_MARKED {
            self.marked.push(line.to_owned());
        }
        self.partial.clear();
        self.overlong = false;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            self.line_done();
        }
        self.marked
    }
}

async fn cancellable<T>(
    cancel: &CancellationToken,
    label: &str,
    future: impl Future<Output = T>,
) -> Result<T, SshError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(SshError {
            message: format!("{label}: cancelled"),
            retryable: false,
            cancelled: true,
        }),
        value = future => Ok(value),
    }
}

impl Session {
    /// Connects and logs in, verifying the host key first. Retries failed attempts
    /// (`connect_attempts`, with backoff) except a refused host key, which fails at once.
    pub async fn connect(
        target: &Target,
        settings: &SshSettings,
        cancel: &CancellationToken,
    ) -> Result<Self, SshError> {
        let attempts = settings.connect_attempts.max(1);
        let mut delay = settings.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            tracing::debug!(node = target.label, attempt, "connecting over SSH");
            match Self::attempt(target, settings, cancel).await {
                Ok(session) => return Ok(session),
                Err(error) if !error.retryable => return Err(error),
                Err(error) => last = error.message,
            }
            if attempt < attempts {
                tracing::info!(node = target.label, attempt, attempts, error = last, retry_in = ?delay, "SSH connection failed; retrying");
                cancellable(cancel, &target.label, tokio::time::sleep(delay)).await?;
                delay = (delay * 2).min(settings.max_backoff);
            }
        }
        Err(failure(format!(
            "{}: no SSH connection after {attempts} attempt(s): {last}",
            target.label
        )))
    }

    async fn attempt(
        target: &Target,
        settings: &SshSettings,
        cancel: &CancellationToken,
    ) -> Result<Self, SshError> {
        let rejection = Arc::new(Mutex::new(None));
        let verifier = Verifier {
            host: target.host.clone(),
            port: target.port,
            policy: target.host_keys.clone(),
            rejection: rejection.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 4,
            nodelay: true,
            ..client::Config::default()
        });
        let address = (target.host.clone(), target.port);
        let login = async {
            let mut handle = client::connect(config, address, verifier).await?;
            let authenticated = match &target.credentials {
                Credentials::Password(password) => {
                    handle
                        .authenticate_password(target.username.clone(), password.clone())
                        .await?
                }
                Credentials::PrivateKey(key) => {
                    let hash = handle.best_supported_rsa_hash().await?.flatten();
                    handle
                        .authenticate_publickey(
                            target.username.clone(),
                            PrivateKeyWithHashAlg::new(key.clone(), hash),
                        )
                        .await?
                }
            };
            Ok::<_, russh::Error>((handle, authenticated.success()))
        };
        let result = cancellable(
            cancel,
            &target.label,
            tokio::time::timeout(settings.connect_timeout, login),
        )
        .await?;
        let refused = rejection.lock().ok().and_then(|mut slot| slot.take());
        if let Some(rejection) = refused {
            return Err(SshError {
                message: format!(
                    "{}: the SSH host key is refused, {rejection}; nothing was sent to it",
                    target.label
                ),
                retryable: false,
                cancelled: false,
            });
        }
        match result {
            Err(_) => Err(failure(format!(
                "connecting to {}:{} timed out after {:?}",
                target.host, target.port, settings.connect_timeout
            ))),
            Ok(Err(error)) => Err(failure(format!(
                "connecting to {}:{} failed: {error}",
                target.host, target.port
            ))),
            Ok(Ok((_, false))) => Err(failure(format!(
                "{}:{} refused the login of user '{}'",
                target.host, target.port, target.username
            ))),
            Ok(Ok((handle, true))) => Ok(Self {
                label: target.label.clone(),
                handle,
            }),
        }
    }

    /// Uploads `content` as `<dir>/<16 hex digits of its SHA-256>-<name>` and returns
    /// that path. A file already there is kept when it holds the same content (a script
    /// running from it is never rewritten) and refused otherwise. The file appears
    /// whole, by a rename.
    pub async fn upload(
        &self,
        dir: &str,
        name: &str,
        content: &[u8],
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, SshError> {
        let path = format!(
            "{}/{}-{name}",
            dir.trim_end_matches('/'),
            hex_prefix(content)
        );
        let work = async {
            let channel = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| e.to_string())?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(|e| e.to_string())?;
            let sftp = SftpSession::new(channel.into_stream())
                .await
                .map_err(|e| format!("SFTP did not start: {e}"))?;
            let result = self.upload_with(&sftp, dir, &path, content).await;
            let _ = sftp.close().await;
            result
        };
        match cancellable(cancel, &self.label, tokio::time::timeout(timeout, work)).await? {
            Ok(Ok(())) => Ok(path),
            Ok(Err(message)) => Err(failure(format!(
                "{}: uploading {path} over SFTP failed: {message}",
                self.label
            ))),
            Err(_) => Err(failure(format!(
                "{}: uploading {path} over SFTP did not finish within {timeout:?}",
                self.label
            ))),
        }
    }

    async fn upload_with(
        &self,
        sftp: &SftpSession,
        dir: &str,
        path: &str,
        content: &[u8],
    ) -> Result<(), String> {
        if sftp.try_exists(path).await.map_err(|e| e.to_string())? {
            let present = sftp
                .read(path)
                .await
                .map_err(|e| format!("cannot read the existing {path}: {e}"))?;
            if present != content {
                return Err(format!(
                    "{path} exists with other content; it is not run (remove it, or choose another remote directory)"
                ));
            }
            return Ok(());
        }
        // mkdir -p, one component at a time (an existing one is fine).
        let mut prefix = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if dir.starts_with('/') || !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let exists = sftp
                .try_exists(prefix.as_str())
                .await
                .map_err(|e| e.to_string())?;
            // A concurrent upload may create it between the check and the mkdir.
            if !exists
                && let Err(error) = sftp.create_dir(prefix.as_str()).await
                && !sftp.try_exists(prefix.as_str()).await.unwrap_or(false)
            {
                return Err(format!("cannot create {prefix}: {error}"));
            }
        }
        let partial = format!("{path}.{}.part", tacker_core::new_id());
        let mut attributes = FileAttributes::empty();
        attributes.permissions = Some(0o700);
        let mut file = sftp
            .open_with_flags_and_attributes(
                partial.as_str(),
                OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE,
                attributes,
            )
            .await
            .map_err(|e| format!("cannot create {partial}: {e}"))?;
        let written = async {
            file.write_all(content).await?;
            file.flush().await?;
            file.shutdown().await
        }
        .await;
        drop(file);
        if let Err(error) = written {
            let _ = sftp.remove_file(partial.as_str()).await;
            return Err(format!("writing {partial} failed: {error}"));
        }
        if let Err(error) = sftp.rename(partial.as_str(), path).await {
            let _ = sftp.remove_file(partial.as_str()).await;
            // Another upload of the same content won the race: its file is whole.
            if !sftp.try_exists(path).await.unwrap_or(false) {
                return Err(format!("renaming {partial} to {path} failed: {error}"));
            }
        }
        Ok(())
    }

    /// Runs `command` (named `what` in messages), collecting the stdout lines that
    /// start with `marker`, the tails of stdout and stderr, and the exit status; at
    /// most `timeout`.
    pub async fn run(
        &self,
        command: &str,
        what: &str,
        marker: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<CommandOutput, SshError> {
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| failure(format!("{}: cannot open an SSH channel: {e}", self.label)))?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| failure(format!("{}: {what} was not started: {e}", self.label)))?;
        let mut lines = Lines::new(marker);
        let (mut stdout, mut stderr) = (Tail::default(), Tail::default());
        let mut output = CommandOutput::default();
        let collect = async {
            while let Some(message) = channel.wait().await {
                match message {
                    ChannelMsg::Data { data } => {
                        lines.push(&data);
                        stdout.push(&data);
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => stderr.push(&data),
                    ChannelMsg::ExitStatus { exit_status } => output.status = Some(exit_status),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        output.signal = Some(format!("{signal_name:?}"));
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
        };
        let finished =
            cancellable(cancel, &self.label, tokio::time::timeout(timeout, collect)).await;
        output.marked_lines = lines.finish();
        output.stdout_tail = stdout.text();
        output.stderr_tail = stderr.text();
        match finished {
            Ok(Ok(())) => Ok(output),
            Ok(Err(_)) => {
                // Best effort: OpenSSH passes the signal to the command.
                let _ = channel.signal(russh::Sig::TERM).await;
                let _ = channel.close().await;
                Err(failure(format!(
                    "{}: {what} did not finish within {timeout:?}{}",
                    self.label,
                    stderr_suffix(&output.stderr_tail)
                )))
            }
            Err(cancelled) => {
                let _ = channel.signal(russh::Sig::TERM).await;
                let _ = channel.close().await;
                Err(cancelled)
            }
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// `; stderr ends with:` and the last lines of stderr, or nothing when it is empty.
pub fn stderr_suffix(tail: &str) -> String {
    let lines: Vec<&str> = tail.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(20);
    format!("; stderr ends with:\n{}", lines[start..].join("\n"))
}

mod digest {
    //! The content digest used in upload names, from ring.

    /// The first 16 hex digits of the SHA-256 of `content`.
    pub fn hex_prefix(content: &[u8]) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, content);
        digest
            .as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_lines_across_chunks() {
        let mut lines = Lines::new("tacker.");
        lines.push(b"noise\ntacker.ser");
        lines.push(b"ver=https://x:6443\r\n");
        lines.push(b"tacker.bearer_token=abc");
        assert_eq!(
            lines.finish(),
            vec![
                "tacker.server=https://x:6443".to_owned(),
                "tacker.bearer_token=abc".to_owned()
            ]
        );
    }

    #[test]
    fn tails_are_bounded() {
        let mut tail = Tail::default();
        for _ in 0..1000 {
            tail.push(b"0123456789\n");
        }
        assert!(tail.0.len() <= TAIL_BYTES);
        assert!(stderr_suffix(&tail.text()).lines().count() <= 21);
        assert_eq!(stderr_suffix(""), "");
    }

    #[test]
    fn upload_names_follow_the_content() {
        assert_eq!(hex_prefix(b"a").len(), 16);
        assert_ne!(hex_prefix(b"a"), hex_prefix(b"b"));
    }
}
