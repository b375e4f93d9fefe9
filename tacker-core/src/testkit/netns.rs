//! Network namespaces for tests: a host reachable from this one over a veth pair, that
//! a test can take away (`ip` from iproute2; root or CAP_NET_ADMIN).

use std::net::{IpAddr, Ipv4Addr};

/// A network namespace joined to this one by a veth pair, removed on drop.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    host_link: String,
    /// The address inside the namespace (link-local, 169.254.N.2/30; the host side is
    /// 169.254.N.1).
    pub address: IpAddr,
}

fn ip(args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    std::process::Command::new("ip")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
}

impl Namespace {
    /// Creates it, or says why it cannot be created here (no `ip`, no privilege).
    /// `purpose` (two letters) keeps the namespaces of different tests apart.
    pub fn create(purpose: &str) -> Result<Self, String> {
        let tag = format!("{:x}", std::process::id() % 0xfffff);
        let name = format!("tacker-{purpose}-{tag}");
        let host_link = format!("t{purpose}{tag}a");
        let inner_link = format!("t{purpose}{tag}b");
        let offset = purpose
            .bytes()
            .fold(0u32, |sum, b| sum.wrapping_add(u32::from(b)));
        let mut subnet = (std::process::id().wrapping_add(offset)) % 250 + 1;
        // 169.254.169.0/24 and 169.254.170.0/24 hold cloud metadata addresses, which the
        // outbound policy names as such rather than as link-local.
        if matches!(subnet, 169 | 170) {
            subnet += 2;
        }
        let host_address = format!("169.254.{subnet}.1/30");
        let address = IpAddr::V4(Ipv4Addr::new(
            169,
            254,
            u8::try_from(subnet).unwrap_or(1),
            2,
        ));
        let inner_address = format!("{address}/30");
        let namespace = Self {
            name: name.clone(),
            host_link: host_link.clone(),
            address,
        };
        let steps: [&[&str]; 7] = [
            &["netns", "add", &name],
            &[
                "link",
                "add",
                &host_link,
                "type",
                "veth",
                "peer",
                "name",
                &inner_link,
            ],
            &["link", "set", &inner_link, "netns", &name],
            &["addr", "add", &host_address, "dev", &host_link],
            &["link", "set", &host_link, "up"],
            &[
                "-n",
                &name,
                "addr",
                "add",
                &inner_address,
                "dev",
                &inner_link,
            ],
            &["-n", &name, "link", "set", &inner_link, "up"],
        ];
        for step in steps {
            match ip(step) {
                Ok(status) if status.success() => {}
                Ok(status) => return Err(format!("ip {} exited with {status}", step.join(" "))),
                Err(error) => return Err(format!("ip {}: {error}", step.join(" "))),
            }
        }
        Ok(namespace)
    }

    /// The name of the namespace (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Removes it (also done on drop).
    pub fn remove(&self) {
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_link]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.remove();
    }
}
