//! The contract between the driver and the installation script: how it is called and
//! what it prints. See the crate documentation for the full description.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The prefix of the stdout lines the driver reads: `tacker.<key>=<value>`.
pub const MARKER: &str = "tacker.";

/// What the script is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Install the first master and print the cluster's access information.
    Install,
    /// Print fresh join parameters (on a master).
    Token,
    /// Join this node as another master.
    JoinMaster,
    /// Join this node as a worker.
    JoinWorker,
    /// Drain and delete another node (on a master); for a master, remove its etcd member.
    RemoveNode,
}

impl Action {
    /// The script's first argument.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Token => "token",
            Self::JoinMaster => "join-master",
            Self::JoinWorker => "join-worker",
            Self::RemoveNode => "remove-node",
        }
    }
}

/// Quotes a word for a POSIX shell.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The command line that runs the uploaded script: the parameters as environment
/// variables (`env K8S_…='…'`), then `bash <script> <action>`.
pub fn command_line(script: &str, action: Action, env: &[(&str, String)]) -> String {
    let mut line = String::from("env");
    for (name, value) in env {
        line.push(' ');
        line.push_str(name);
        line.push('=');
        line.push_str(&shell_quote(value));
    }
    line.push_str(" bash ");
    line.push_str(&shell_quote(script));
    line.push(' ');
    line.push_str(action.as_str());
    line
}

/// The `tacker.<key>=<value>` lines a script printed (the last value of a key wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptOutput {
    values: BTreeMap<String, String>,
}

impl ScriptOutput {
    /// Reads the marked lines.
    pub fn parse(lines: &[String]) -> Self {
        let mut values = BTreeMap::new();
        for line in lines {
            if let Some((key, value)) = line
                .strip_prefix(MARKER)
                .and_then(|rest| rest.split_once('='))
            {
                values.insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
        Self { values }
    }

    /// A value, if printed and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A value that must be there.
    pub fn require(&self, key: &str) -> Result<&str, String> {
        self.get(key)
            .ok_or_else(|| format!("the script printed no {MARKER}{key}= line"))
    }
}

/// The credentials of the cluster's API as the install action prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessInfo {
    /// `server`: the API endpoint, e.g. `https://10.0.0.10:6443`.
    pub server: String,
    /// `bearer_token`, or `username` and `password`.
    pub auth: ApiAuth,
    /// `ssl_ca_cert_b64` decoded: the cluster CA certificate (PEM).
    pub ssl_ca_cert: String,
    /// `ssl_ca_cert_hash`: `sha256:<hex>` of the CA's public key, for joins.
    pub ssl_ca_cert_hash: String,
}

impl std::fmt::Debug for AccessInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessInfo")
            .field("server", &self.server)
            .field("ssl_ca_cert_hash", &self.ssl_ca_cert_hash)
            .finish_non_exhaustive()
    }
}

/// How clients authenticate to the cluster's API.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiAuth {
    /// A bearer token (a service account's).
    BearerToken(String),
    /// Basic authentication.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
}

/// The parameters another node joins with.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinInfo {
    /// `join_token`: a kubeadm bootstrap token.
    pub token: String,
    /// `ssl_ca_cert_hash`.
    pub ca_cert_hash: String,
    /// `certificate_key`: decrypts the uploaded control-plane certificates (masters).
    pub certificate_key: Option<String>,
}

impl std::fmt::Debug for JoinInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinInfo")
            .field("ca_cert_hash", &self.ca_cert_hash)
            .finish_non_exhaustive()
    }
}

impl AccessInfo {
    /// Reads the access information of an `install` run.
    pub fn from_output(output: &ScriptOutput) -> Result<Self, String> {
        let server = output.require("server")?.to_owned();
        if !server.starts_with("https://") && !server.starts_with("http://") {
            return Err(format!("{MARKER}server is '{server}', not an http(s) URL"));
        }
        let auth = match (
            output.get("bearer_token"),
            output.get("username"),
            output.get("password"),
        ) {
            (Some(token), _, _) => ApiAuth::BearerToken(token.to_owned()),
            (None, Some(username), Some(password)) => ApiAuth::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            },
            _ => {
                return Err(format!(
                    "the script printed neither {MARKER}bearer_token= nor {MARKER}username= and {MARKER}password="
                ));
            }
        };
        let ca = output.require("ssl_ca_cert_b64")?;
        let ssl_ca_cert = STANDARD
            .decode(ca)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|pem| pem.contains("-----BEGIN CERTIFICATE-----"))
            .ok_or_else(|| {
                format!("{MARKER}ssl_ca_cert_b64 is not the base64 of a PEM certificate")
            })?;
        Ok(Self {
            server,
            auth,
            ssl_ca_cert,
            ssl_ca_cert_hash: ca_cert_hash(output)?,
        })
    }
}

fn ca_cert_hash(output: &ScriptOutput) -> Result<String, String> {
    let hash = output.require("ssl_ca_cert_hash")?;
    let hex = hash.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{MARKER}ssl_ca_cert_hash is '{hash}', not sha256: and 64 hex digits"
        ));
    }
    Ok(hash.to_owned())
}

impl JoinInfo {
    /// Reads the join parameters of an `install` or `token` run; `masters` when a
    /// master will join (then `certificate_key` is required).
    pub fn from_output(output: &ScriptOutput, masters: bool) -> Result<Self, String> {
        let certificate_key = output.get("certificate_key").map(str::to_owned);
        if masters && certificate_key.is_none() {
            return Err(format!(
                "the script printed no {MARKER}certificate_key= line, which masters need to join"
            ));
        }
        Ok(Self {
            token: output.require("join_token")?.to_owned(),
            ca_cert_hash: ca_cert_hash(output)?,
            certificate_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(lines: &[&str]) -> ScriptOutput {
        ScriptOutput::parse(&lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let line = command_line(
            "/tmp/x.sh",
            Action::JoinWorker,
            &[("K8S_NODE_ADDRESS", "10.0.0.1".to_owned())],
        );
        assert_eq!(
            line,
            "env K8S_NODE_ADDRESS='10.0.0.1' bash '/tmp/x.sh' join-worker"
        );
    }

    #[test]
    fn access_information() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let hash = format!("sha256:{}", "ab".repeat(32));
        let b64 = format!("tacker.ssl_ca_cert_b64={}", STANDARD.encode(pem));
        let hash_line = format!("tacker.ssl_ca_cert_hash={hash}");
        let out = output(&[
            "tacker.server=https://10.0.0.10:6443",
            "tacker.bearer_token=abc.def",
            &b64,
            &hash_line,
            "tacker.join_token=abcdef.0123456789abcdef",
            "tacker.certificate_key=00ff",
        ]);
        let access = AccessInfo::from_output(&out).expect("access");
        assert_eq!(access.ssl_ca_cert, pem);
        assert!(matches!(access.auth, ApiAuth::BearerToken(ref t) if t == "abc.def"));
        let join = JoinInfo::from_output(&out, true).expect("join");
        assert_eq!(join.certificate_key.as_deref(), Some("00ff"));
        assert!(!format!("{join:?}").contains("abcdef"));

        let missing = output(&["tacker.server=https://10.0.0.10:6443"]);
        assert!(AccessInfo::from_output(&missing).is_err());
        let no_key = output(&["tacker.join_token=t", &hash_line]);
        assert!(JoinInfo::from_output(&no_key, true).is_err());
        assert!(JoinInfo::from_output(&no_key, false).is_ok());
        let bad_hash = output(&["tacker.join_token=t", "tacker.ssl_ca_cert_hash=md5:1"]);
        assert!(JoinInfo::from_output(&bad_hash, false).is_err());
    }
}
