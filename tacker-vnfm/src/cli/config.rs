//! Where the CLI finds the VNFM and its credentials: flags, then the environment, then
//! the config file.
//!
//! Each source is read into a [`Partial`]; [`resolve`] merges three of them into the
//! [`Settings`] the client uses. Merging is a pure function so that precedence can be
//! tested without touching the process environment.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use super::Error;

/// The endpoint used when no source names one.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9890";

/// The environment variables the CLI reads, in the order of the [`Partial`] fields.
pub const ENV_VARS: [&str; 6] = [
    "TACKER_ENDPOINT",
    "TACKER_USERNAME",
    "TACKER_PASSWORD",
    "TACKER_TOKEN",
    "TACKER_CA_CERT",
    "TACKER_INSECURE",
];

/// What one source (flags, environment or config file) says; `None` leaves the decision
/// to a lower source. The config file is this structure in YAML (camelCase keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Partial {
    /// Base URL of the VNFM, e.g. `https://vnfm.example.net:9890`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// User name for HTTP basic authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for HTTP basic authentication.
    #[serde(default)]
    pub password: Option<String>,
    /// Bearer token (OAuth 2.0 access token).
    #[serde(default)]
    pub token: Option<String>,
    /// A PEM file of CA certificates trusted in addition to the system roots.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Skip TLS certificate verification (testing only).
    #[serde(default)]
    pub insecure: Option<bool>,
}

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
            Auth::Bearer(_) => f.write_str("Bearer(..)"),
        }
    }
}

/// The merged connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Base URL of the VNFM.
    pub endpoint: Url,
    /// Authentication.
    pub auth: Auth,
    /// Extra trusted CA certificates (PEM file).
    pub ca_cert: Option<PathBuf>,
    /// Whether TLS certificate verification is off.
    pub insecure: bool,
}

/// Reads the environment's [`Partial`] through `get` (which returns a variable's value),
/// so tests can pass a map instead of the process environment. Empty values count as
/// unset.
pub fn env_partial(get: impl Fn(&str) -> Option<String>) -> Result<Partial, Error> {
    let var = |name: &str| get(name).filter(|v| !v.is_empty());
    let insecure = match var("TACKER_INSECURE") {
        None => None,
        Some(v) => Some(parse_bool(&v).ok_or_else(|| {
            Error::Usage(format!(
                "TACKER_INSECURE: expected true or false, not {v:?}"
            ))
        })?),
    };
    Ok(Partial {
        endpoint: var("TACKER_ENDPOINT"),
        username: var("TACKER_USERNAME"),
        password: var("TACKER_PASSWORD"),
        token: var("TACKER_TOKEN"),
        ca_cert: var("TACKER_CA_CERT").map(PathBuf::from),
        insecure,
    })
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses a config file's text. A relative `caCert` is taken relative to `dir`, the
/// file's directory.
pub fn parse_config(text: &str, dir: &Path) -> Result<Partial, Error> {
    if text.trim().is_empty() {
        return Ok(Partial::default());
    }
    let mut partial: Partial =
        tacker_core::vnfd::yaml::from_str(text).map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(ca) = &partial.ca_cert
        && ca.is_relative()
    {
        partial.ca_cert = Some(dir.join(ca));
    }
    Ok(partial)
}

/// The config file to read: `explicit` (from `--config`) if given; otherwise
/// `$XDG_CONFIG_HOME/tacker/config.yaml`, or `$HOME/.config/tacker/config.yaml`, when
/// that file exists. `get` returns an environment variable's value.
pub fn config_path(
    explicit: Option<&Path>,
    get: impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let base = get("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            get("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    let path = base.join("tacker").join("config.yaml");
    path.is_file().then_some(path)
}

/// Reads and parses the config file at `path`. Warns on stderr when a file holding a
/// password or token can be read by other users.
pub fn load_config(path: &Path) -> Result<Partial, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("config file {}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let partial = parse_config(&text, dir)
        .map_err(|e| Error::Usage(format!("config file {}: {e}", path.display())))?;
    #[cfg(unix)]
    if partial.password.is_some() || partial.token.is_some() {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} holds credentials but others may read it (chmod 600)",
                path.display()
            );
        }
    }
    Ok(partial)
}

/// Merges the sources: each setting comes from `flags` if set there, else from `env`,
/// else from `file`, else its default.
///
/// Credentials are chosen as a whole: the highest source that names a token or a user
/// decides between bearer and basic authentication (naming both in one source is an
/// error); the password is then looked up flags → env → file.
pub fn resolve(flags: &Partial, env: &Partial, file: &Partial) -> Result<Settings, Error> {
    let sources = [
        ("flags", flags),
        ("environment", env),
        ("config file", file),
    ];
    fn first<T: Clone>(
        sources: &[(&str, &Partial); 3],
        pick: impl Fn(&Partial) -> Option<&T>,
    ) -> Option<T> {
        sources.iter().find_map(|(_, s)| pick(s).cloned())
    }
    let endpoint_text =
        first(&sources, |s| s.endpoint.as_ref()).unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let endpoint = parse_endpoint(&endpoint_text)?;
    let auth = match sources
        .iter()
        .find(|(_, s)| s.token.is_some() || s.username.is_some())
    {
        None => Auth::None,
        Some((name, source)) => match (&source.token, &source.username) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage(format!(
                    "the {name} give both a token and a user name; choose one"
                )));
            }
            (Some(token), None) => Auth::Bearer(token.clone()),
            (None, Some(username)) => {
                let password = first(&sources, |s| s.password.as_ref()).ok_or_else(|| {
                    Error::Usage(format!(
                        "no password for user {username} (--password, TACKER_PASSWORD or \
                         the config file's password)"
                    ))
                })?;
                Auth::Basic {
                    username: username.clone(),
                    password,
                }
            }
            (None, None) => Auth::None,
        },
    };
    Ok(Settings {
        endpoint,
        auth,
        ca_cert: first(&sources, |s| s.ca_cert.as_ref()),
        insecure: first(&sources, |s| s.insecure.as_ref()).unwrap_or(false),
    })
}

/// Parses an endpoint URL: http or https, no query or fragment, no credentials.
pub fn parse_endpoint(text: &str) -> Result<Url, Error> {
    let url =
        Url::parse(text.trim()).map_err(|e| Error::Usage(format!("endpoint {text:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Usage(format!(
            "endpoint {text:?}: the scheme must be http or https"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Usage(format!(
            "endpoint {text:?}: no query or fragment allowed"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Usage(format!(
            "endpoint {text:?}: give credentials with --username/--password or --token"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn partial(endpoint: Option<&str>, username: Option<&str>, token: Option<&str>) -> Partial {
        Partial {
            endpoint: endpoint.map(str::to_owned),
            username: username.map(str::to_owned),
            token: token.map(str::to_owned),
            ..Partial::default()
        }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let none = Partial::default();
        let settings = resolve(&none, &none, &none).expect("settings");
        assert_eq!(settings.endpoint.as_str(), "http://127.0.0.1:9890/");
        assert_eq!(settings.auth, Auth::None);
        assert!(!settings.insecure);
        assert_eq!(settings.ca_cert, None);
    }

    #[test]
    fn flags_override_env_override_file() {
        let flags = partial(Some("https://flag:1"), None, None);
        let env = partial(Some("https://env:2"), None, None);
        let file = Partial {
            endpoint: Some("https://file:3".into()),
            insecure: Some(true),
            ca_cert: Some("/etc/ca.pem".into()),
            ..Partial::default()
        };
        let s = resolve(&flags, &env, &file).expect("settings");
        assert_eq!(s.endpoint.as_str(), "https://flag:1/");
        assert!(s.insecure);
        assert_eq!(s.ca_cert, Some(PathBuf::from("/etc/ca.pem")));
        let s = resolve(&Partial::default(), &env, &file).expect("settings");
        assert_eq!(s.endpoint.as_str(), "https://env:2/");
        let s = resolve(&Partial::default(), &Partial::default(), &file).expect("settings");
        assert_eq!(s.endpoint.as_str(), "https://file:3/");
        let no = Partial {
            insecure: Some(false),
            ..Partial::default()
        };
        assert!(
            !resolve(&no, &Partial::default(), &file)
                .expect("s")
                .insecure
        );
    }

    #[test]
    fn credentials_come_from_the_highest_source_naming_them() {
        let file = Partial {
            token: Some("file-token".into()),
            ..Partial::default()
        };
        let env = Partial {
            username: Some("envuser".into()),
            password: Some("envpass".into()),
            ..Partial::default()
        };
        // env's user beats the file's token
        let s = resolve(&Partial::default(), &env, &file).expect("settings");
        assert_eq!(
            s.auth,
            Auth::Basic {
                username: "envuser".into(),
                password: "envpass".into()
            }
        );
        // a flag token beats env's user
        let flags = partial(None, None, Some("flag-token"));
        let s = resolve(&flags, &env, &file).expect("settings");
        assert_eq!(s.auth, Auth::Bearer("flag-token".into()));
        // a flag user takes the password from env
        let flags = partial(None, Some("admin"), None);
        let s = resolve(&flags, &env, &file).expect("settings");
        assert_eq!(
            s.auth,
            Auth::Basic {
                username: "admin".into(),
                password: "envpass".into()
            }
        );
        // the file's token alone
        let s = resolve(&Partial::default(), &Partial::default(), &file).expect("s");
        assert_eq!(s.auth, Auth::Bearer("file-token".into()));
    }

    #[test]
    fn a_user_without_password_or_with_a_token_is_refused() {
        let flags = partial(None, Some("admin"), None);
        let none = Partial::default();
        assert!(resolve(&flags, &none, &none).is_err());
        let both = partial(None, Some("admin"), Some("t"));
        assert!(resolve(&none, &both, &none).is_err());
    }

    #[test]
    fn bad_endpoints_are_refused() {
        for bad in ["ftp://x", "not a url", "http://u:p@host", "http://h/?a=b"] {
            let flags = partial(Some(bad), None, None);
            assert!(
                resolve(&flags, &Partial::default(), &Partial::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn env_is_read_through_the_getter() {
        let vars: HashMap<&str, &str> = [
            ("TACKER_ENDPOINT", "https://vnfm:9890"),
            ("TACKER_TOKEN", "tok"),
            ("TACKER_USERNAME", ""),
            ("TACKER_INSECURE", "yes"),
        ]
        .into();
        let env = env_partial(|k| vars.get(k).map(|v| (*v).to_owned())).expect("env");
        assert_eq!(env.endpoint.as_deref(), Some("https://vnfm:9890"));
        assert_eq!(env.token.as_deref(), Some("tok"));
        assert_eq!(env.username, None);
        assert_eq!(env.insecure, Some(true));
        let bad: HashMap<&str, &str> = [("TACKER_INSECURE", "maybe")].into();
        assert!(env_partial(|k| bad.get(k).map(|v| (*v).to_owned())).is_err());
    }

    #[test]
    fn config_file_is_yaml_with_camel_case_keys() {
        let text = "endpoint: https://vnfm.example.net\nusername: admin\npassword: s3cret\n\
                    caCert: certs/ca.pem\ninsecure: false\n";
        let p = parse_config(text, Path::new("/home/op/.config/tacker")).expect("config");
        assert_eq!(p.endpoint.as_deref(), Some("https://vnfm.example.net"));
        assert_eq!(p.username.as_deref(), Some("admin"));
        assert_eq!(p.password.as_deref(), Some("s3cret"));
        assert_eq!(
            p.ca_cert,
            Some(PathBuf::from("/home/op/.config/tacker/certs/ca.pem"))
        );
        assert_eq!(p.insecure, Some(false));
        assert_eq!(
            parse_config("", Path::new("/")).expect("empty"),
            Partial::default()
        );
        assert!(parse_config("endpont: x\n", Path::new("/")).is_err());
    }

    #[test]
    fn config_path_prefers_explicit_then_xdg_then_home() {
        let explicit = Path::new("/tmp/explicit.yaml");
        assert_eq!(
            config_path(Some(explicit), |_| None),
            Some(explicit.to_path_buf())
        );
        let dir = std::env::temp_dir().join(format!("tacker-cli-cfg-{}", std::process::id()));
        let file = dir.join("tacker").join("config.yaml");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, "endpoint: http://x\n").expect("write");
        let xdg = dir.to_string_lossy().into_owned();
        assert_eq!(
            config_path(None, |k| (k == "XDG_CONFIG_HOME").then(|| xdg.clone())),
            Some(file.clone())
        );
        assert_eq!(
            config_path(None, |k| (k == "XDG_CONFIG_HOME")
                .then(|| "/nonexistent".into())),
            None
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
