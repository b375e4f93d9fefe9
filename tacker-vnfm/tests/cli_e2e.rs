//! The same life of a VNF as `e2e_http.rs`, driven through the `tacker` CLI binary
//! against the `vnfm` server with HTTP basic authentication on.

mod common;

use std::process::Command;

use common::{Receiver, Server, corpus_package, temp_dir};
use serde_json::Value;

struct Cli {
    endpoint: String,
    password: String,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

impl Cli {
    fn run_as(&self, password: &str, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_tacker"))
            .args(args)
            .env("TACKER_ENDPOINT", &self.endpoint)
            .env("TACKER_USERNAME", "operator")
            .env("TACKER_PASSWORD", password)
            .env("HOME", std::env::temp_dir())
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .expect("run tacker");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed.
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run_as(&self.password, args);
        assert_eq!(
            run.code, 0,
            "tacker {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnf_lives_its_whole_life_through_the_cli() {
    let Some(package_dir) = corpus_package("v1-cnf-scale") else {
        return;
    };
    let data = temp_dir("cli-e2e");
    let password = "correct horse battery staple";
    let hash = tacker_api::rest::auth::hash_password_with_iterations(password, 1_000)
        .expect("a password hash");
    let auth = data.join("auth.yaml");
    std::fs::write(
        &auth,
        format!(
            "basic:\n  users:\n    - name: operator\n      passwordHash: \"{hash}\"\n      scopes: [admin]\n"
        ),
    )
    .expect("write the auth config");
    let server = Server::start(
        &data,
        &[
            "--auth",
            "basic",
            "--auth-config",
            auth.to_str().expect("utf-8 path"),
        ],
    );
    let cli = Cli {
        endpoint: server.url.clone(),
        password: password.to_owned(),
    };
    let receiver = Receiver::start().await;

    // Wrong credentials: 401 ProblemDetails, printed, non-zero exit.
    let refused = cli.run_as("wrong", &["vnf", "list"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);

    let subscription = cli
        .ok(&[
            "subscription",
            "create",
            "--callback",
            &receiver.callback,
            "-o",
            "json",
        ])
        .json();
    assert!(subscription["id"].is_string());

    let package = cli.ok(&["package", "create", "-o", "json"]).json();
    let package_id = package["id"].as_str().expect("package id").to_owned();
    let dir = package_dir;
    cli.ok(&[
        "package",
        "upload",
        &package_id,
        dir.to_str().expect("utf-8 path"),
        "--wait",
    ]);
    let package = cli
        .ok(&["package", "show", &package_id, "-o", "json"])
        .json();
    assert_eq!(package["onboardingState"], "ONBOARDED");
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    let table = cli.ok(&["package", "list"]).stdout;
    assert!(table.contains(&package_id), "{table}");

    let instance = cli
        .ok(&[
            "vnf",
            "create",
            "--vnfd-id",
            &vnfd_id,
            "--name",
            "cli",
            "-o",
            "json",
        ])
        .json();
    let id = instance["id"].as_str().expect("instance id").to_owned();
    cli.ok(&[
        "vnf",
        "instantiate",
        &id,
        "--flavour",
        "simple",
        "--level",
        "instantiation_level_1",
        "--wait",
    ]);
    cli.ok(&[
        "vnf",
        "scale",
        &id,
        "--aspect",
        "vdu1_aspect",
        "--out",
        "--wait",
    ]);
    cli.ok(&[
        "vnf",
        "scale",
        &id,
        "--aspect",
        "vdu1_aspect",
        "--in",
        "--wait",
    ]);
    let shown = cli.ok(&["vnf", "show", &id, "-o", "json"]).json();
    let vnfc = shown["instantiatedVnfInfo"]["vnfcResourceInfo"][0]["id"]
        .as_str()
        .expect("a VNFC")
        .to_owned();
    cli.ok(&["vnf", "heal", &id, "--vnfc", &vnfc, "--wait"]);
    cli.ok(&["vnf", "operate", &id, "--stop", "--wait"]);
    let shown = cli.ok(&["vnf", "show", &id, "-o", "yaml"]).stdout;
    assert!(shown.contains("vnfState: STOPPED"), "{shown}");

    // A refused request: the aspect does not exist (400 ProblemDetails: SOL003 documents
    // no 422 for the tasks).
    let refused = cli.run_as(
        password,
        &[
            "vnf",
            "scale",
            &id,
            "--aspect",
            "no_such_aspect",
            "--out",
            "--wait",
        ],
    );
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("400"), "{}", refused.stderr);

    cli.ok(&["vnf", "terminate", &id, "--wait"]);
    cli.ok(&["vnf", "delete", &id]);
    let ops = cli
        .ok(&[
            "op",
            "list",
            "--filter",
            &format!("(eq,vnfInstanceId,{id})"),
            "-o",
            "json",
        ])
        .json();
    let ops = ops.as_array().expect("an array");
    assert_eq!(ops.len(), 6, "{ops:#?}");
    assert!(ops.iter().all(|op| op["operationState"] == "COMPLETED"));

    receiver
        .wait_until("the deletion notification", |all| {
            all.iter()
                .any(|n| n["notificationType"] == "VnfIdentifierDeletionNotification")
        })
        .await;
    assert!(server.terminate());
    let _ = std::fs::remove_dir_all(&data);
}
