//! The `vnfm` server over HTTPS (rustls, ring): the CLI trusts it through `--ca-cert` and
//! refuses it without.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, temp_dir};

fn tacker(endpoint: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tacker"))
        .args(["vnf", "list", "--endpoint", endpoint])
        .args(extra)
        .env("HOME", std::env::temp_dir())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("TACKER_ENDPOINT")
        .output()
        .expect("run tacker")
}

#[test]
fn the_server_speaks_https_with_the_given_identity() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = fixtures.join("tls-cert.pem");
    let key = fixtures.join("tls-key.pem");
    let data = temp_dir("tls");
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8 path"),
            "--tls-key",
            key.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let trusted = tacker(
        &server.url,
        &["--ca-cert", cert.to_str().expect("utf-8 path")],
    );
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );

    let untrusted = tacker(&server.url, &[]);
    assert!(!untrusted.status.success());
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        stderr.to_ascii_lowercase().contains("certificate"),
        "the refusal names the certificate: {stderr}"
    );

    let plain = tacker(&server.url.replace("https://", "http://"), &[]);
    assert!(!plain.status.success(), "plain HTTP is not served");
    assert!(server.terminate());
    let _ = std::fs::remove_dir_all(&data);
}
