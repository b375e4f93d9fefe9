//! Test infrastructure (feature `testkit`): real OpenSSH servers on loopback addresses
//! as the "VMs" of a VNF, and an installation script that starts a real Kubernetes
//! control plane (`scripts/k8s-cluster.sh`) on them.
//!
//! Nothing here is for production: the servers run as the test's user and the script
//! trusts the machine it runs on.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::hostkey::fingerprint;

static NEXT_HOSTS: AtomicU32 = AtomicU32::new(0);

/// Whether OpenSSH's server is installed. Under `CI=true` its absence is a failure
/// (`.ci/run` installs it).
pub fn sshd_available() -> bool {
    if Path::new("/usr/sbin/sshd").exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "/usr/sbin/sshd is missing: install openssh-server (.ci/run does)"
    );
    eprintln!("skipped: /usr/sbin/sshd is missing (apt-get install openssh-server)");
    false
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run a helper command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path));
}

/// The base64 of an OpenSSH public key file.
fn public_key_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("public key");
    text.split_whitespace()
        .nth(1)
        .expect("key field")
        .to_owned()
}

/// One `sshd -D` on one address; killed when dropped.
pub struct Sshd {
    child: Child,
    /// Where it listens.
    pub address: Ipv4Addr,
    /// Its host key's fingerprint.
    pub fingerprint: String,
    /// Its host public key (base64).
    pub public_key: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SSH "VMs" of one test: a temp directory, a client key, an sshd per address, all
/// on one port. Masters are at `127.<p>.<n>.10+i`, workers at `127.<p>.<n>.50+i`, with
/// `p` from the process id and `n` counting the harnesses of the process.
pub struct SshHosts {
    /// The temp directory (removed when dropped unless `TACKER_KEEP_TEST_DIRS` is set).
    pub dir: PathBuf,
    /// The user the nodes are logged in as (this process's user).
    pub username: String,
    /// The client private key (OpenSSH format).
    pub client_key: String,
    /// The client private key's file.
    pub client_key_file: PathBuf,
    /// The master addresses, in the order the VIM gives them out.
    pub masters: Vec<Ipv4Addr>,
    /// The worker addresses, likewise.
    pub workers: Vec<Ipv4Addr>,
    /// The SSH port of every node.
    pub port: u16,
    /// The servers, by address.
    pub sshds: BTreeMap<Ipv4Addr, Sshd>,
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        self.sshds.clear();
        if std::env::var_os("TACKER_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_on_all(addresses: &[Ipv4Addr], port: u16) -> bool {
    addresses
        .iter()
        .all(|a| TcpListener::bind(SocketAddr::from((*a, port))).is_ok())
}

impl SshHosts {
    /// Starts sshd on `masters` master and `workers` worker addresses, except on the
    /// addresses `down` names (indexes into the masters, then the workers), which stay
    /// silent until [`SshHosts::bring_up`]. Every address has its host key already.
    pub fn start(masters: usize, workers: usize, down: &[usize]) -> Self {
        let number = NEXT_HOSTS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let second = u8::try_from(100 + pid % 100).expect("octet");
        let third = u8::try_from(number % 250 + 1).expect("octet");
        let at = |base: usize, i: usize| {
            Ipv4Addr::new(127, second, third, u8::try_from(base + i).expect("octet"))
        };
        let masters_at: Vec<Ipv4Addr> = (0..masters).map(|i| at(10, i)).collect();
        let workers_at: Vec<Ipv4Addr> = (0..workers).map(|i| at(50, i)).collect();
        let dir = std::env::temp_dir().join(format!("tacker-ssh-hosts-{pid}-{number}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        // sshd running as root wants its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let username = run(Command::new("id").arg("-un")).trim().to_owned();
        let client_key_file = dir.join("client_key");
        keygen(&client_key_file);
        let client_key = std::fs::read_to_string(&client_key_file).expect("client key");
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");
        let all: Vec<Ipv4Addr> = masters_at.iter().chain(&workers_at).copied().collect();
        for address in &all {
            let node_dir = dir.join(format!("sshd-{address}"));
            std::fs::create_dir_all(&node_dir).expect("node dir");
            keygen(&node_dir.join("host_key"));
        }
        let mut hosts = Self {
            dir,
            username,
            client_key,
            client_key_file,
            masters: masters_at,
            workers: workers_at,
            port: 0,
            sshds: BTreeMap::new(),
        };
        let seed = u64::from(pid) * 7919 + u64::from(number) * 104_729;
        for attempt in 0..20u64 {
            let port = u16::try_from(20_000 + (seed + attempt * 1_543) % 40_000).expect("port");
            if !free_on_all(&all, port) {
                continue;
            }
            hosts.port = port;
            let mut started = true;
            for (_, address) in all.iter().enumerate().filter(|(i, _)| !down.contains(i)) {
                match hosts.start_sshd(*address) {
                    Ok(sshd) => {
                        hosts.sshds.insert(*address, sshd);
                    }
                    Err(error) => {
                        eprintln!("sshd on {address}:{port} did not start ({error}); another port");
                        started = false;
                        break;
                    }
                }
            }
            if started {
                return hosts;
            }
            hosts.sshds.clear();
        }
        panic!("no port was free for the test sshd servers");
    }

    fn start_sshd(&self, address: Ipv4Addr) -> Result<Sshd, String> {
        let node_dir = self.dir.join(format!("sshd-{address}"));
        let config = node_dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:{port}\nHostKey {host_key}\nPidFile {pid}\nAuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nMaxStartups 50\nLogLevel ERROR\n",
                port = self.port,
                host_key = node_dir.join("host_key").display(),
                pid = node_dir.join("sshd.pid").display(),
                keys = self.dir.join("authorized_keys").display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(node_dir.join("sshd.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        // Wait (bounded) until it accepts connections, or has exited.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(node_dir.join("sshd.log")).unwrap_or_default();
                return Err(format!("sshd exited with {status}: {text}"));
            }
            let target = SocketAddr::from((address, self.port));
            if TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("sshd did not listen within 10 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(Sshd {
            fingerprint: self.host_fingerprint(address),
            public_key: self.host_key(address),
            address,
            child,
        })
    }

    /// Starts the sshd of an address left down.
    pub fn bring_up(&mut self, address: Ipv4Addr) {
        let sshd = self.start_sshd(address).expect("sshd starts");
        self.sshds.insert(address, sshd);
    }

    /// Stops the sshd of an address.
    pub fn take_down(&mut self, address: Ipv4Addr) {
        self.sshds.remove(&address);
    }

    /// The host public key (base64) of an address.
    pub fn host_key(&self, address: Ipv4Addr) -> String {
        public_key_text(
            &self
                .dir
                .join(format!("sshd-{address}"))
                .join("host_key.pub"),
        )
    }

    /// The fingerprint of an address's host key.
    pub fn host_fingerprint(&self, address: Ipv4Addr) -> String {
        let key = russh::keys::parse_public_key_base64(&self.host_key(address)).expect("key");
        fingerprint(key.key_data())
    }

    /// The fingerprint of a key no node has (the client's own key).
    pub fn stranger_fingerprint(&self) -> String {
        let key = russh::keys::parse_public_key_base64(&public_key_text(
            &self.dir.join("client_key.pub"),
        ))
        .expect("key");
        fingerprint(key.key_data())
    }

    /// The fingerprints of the masters' host keys.
    pub fn master_fingerprints(&self) -> Vec<String> {
        self.masters
            .iter()
            .map(|a| self.host_fingerprint(*a))
            .collect()
    }

    /// `known_hosts` text for `addresses`.
    pub fn known_hosts(&self, addresses: &[Ipv4Addr]) -> String {
        addresses
            .iter()
            .map(|a| format!("[{a}]:{} ssh-ed25519 {}\n", self.port, self.host_key(*a)))
            .collect()
    }

    /// `known_hosts` text for the workers.
    pub fn worker_known_hosts(&self) -> String {
        self.known_hosts(&self.workers)
    }
}

/// The installation script that starts a real control plane on the first master and
/// makes nodes join and leave it as kwok nodes (see the script's header).
const LOCAL_K8S_SCRIPT: &str = include_str!("testkit/install_local_k8s.sh");

/// The real control planes the local installation script starts, one per first-master
/// address, under `state`; [`LocalControlPlanes::stop`] (or dropping it) stops them.
pub struct LocalControlPlanes {
    state: PathBuf,
    cluster_sh: PathBuf,
    cache: Option<String>,
}

impl LocalControlPlanes {
    /// With `scripts/k8s-cluster.sh` of this repository and its binaries' cache
    /// (`K8S_CLUSTER_CACHE` if this process has it, else the script's default).
    pub fn new(state: impl Into<PathBuf>) -> Self {
        let cluster_sh = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/k8s-cluster.sh")
            .canonicalize()
            .expect("scripts/k8s-cluster.sh exists");
        let state = state.into();
        std::fs::create_dir_all(&state).expect("state dir");
        Self {
            state,
            cluster_sh,
            cache: std::env::var("K8S_CLUSTER_CACHE")
                .ok()
                .filter(|c| !c.is_empty()),
        }
    }

    /// Whether the control plane's binaries are built (`scripts/k8s-cluster.sh build`).
    /// Under `CI=true` their absence is a failure (`.ci/run` builds them).
    pub fn available(&self) -> bool {
        let bin = self.cache.as_ref().map_or_else(
            || self.cluster_sh.with_file_name("../target/k8s-cluster/bin"),
            |c| Path::new(c).join("bin"),
        );
        let built = [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        ]
        .iter()
        .all(|b| bin.join(b).exists());
        if !built {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the control plane's binaries are not in {} (.ci/run builds them)",
                bin.display()
            );
            eprintln!(
                "skipped: no Kubernetes binaries in {} (scripts/k8s-cluster.sh build)",
                bin.display()
            );
        }
        built
    }

    /// The script as it goes into a package.
    pub fn script(&self) -> String {
        let cache = self.cache.as_ref().map_or_else(
            || ":".to_owned(),
            |c| format!("export K8S_CLUSTER_CACHE='{c}'"),
        );
        LOCAL_K8S_SCRIPT
            .replace("__CLUSTER_SH__", &self.cluster_sh.display().to_string())
            .replace("__STATE__", &self.state.display().to_string())
            .replace("__CLUSTER_CACHE__", &cache)
    }

    /// The admin kubeconfig of the cluster whose API is on `address`.
    pub fn admin_kubeconfig(&self, address: Ipv4Addr) -> PathBuf {
        self.state
            .join(format!("cluster-{address}"))
            .join("admin.kubeconfig")
    }

    /// Stops every control plane started under the state directory and removes its data.
    pub fn stop(&self) {
        let Ok(entries) = std::fs::read_dir(&self.state) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(address) = name.strip_prefix("cluster-") else {
                continue;
            };
            let mut down = Command::new("bash");
            down.arg(&self.cluster_sh)
                .args(["down", "--purge"])
                .env("K8S_CLUSTER_DIR", entry.path())
                .env("K8S_CLUSTER_ADDRESS", address)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(cache) = &self.cache {
                down.env("K8S_CLUSTER_CACHE", cache);
            }
            let _ = down.status();
        }
    }
}

impl Drop for LocalControlPlanes {
    fn drop(&mut self) {
        self.stop();
    }
}
