//! The sandbox against hostile scripts: each is stopped or confined, and reported.

use std::time::Duration;

use tacker_sandbox::{Job, Sandbox, SandboxConfig, SandboxError};

/// A sandbox with short limits, or `None` (skipped) where bubblewrap is missing
/// outside CI.
async fn sandbox(time_limit: Duration) -> Option<Sandbox> {
    let config = SandboxConfig {
        time_limit,
        memory_limit: 512 << 20,
        output_limit: 1 << 20,
        ..SandboxConfig::default()
    };
    match Sandbox::new(config).await {
        Ok(sandbox) => Some(sandbox),
        Err(SandboxError::Unavailable(why)) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: {why}");
            None
        }
        Err(error) => panic!("the sandbox must run here: {error}"),
    }
}

async fn run(sandbox: &Sandbox, code: &str, stdin: &[u8]) -> Result<String, SandboxError> {
    let scratch = sandbox.scratch().await.expect("scratch");
    scratch
        .write("main.py", code.as_bytes())
        .await
        .expect("write");
    let output = sandbox
        .run(&Job::python(&scratch, "main.py").stdin(stdin.to_vec()))
        .await?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn input_in_output_out_and_failures_carry_stderr() {
    let Some(sandbox) = sandbox(Duration::from_secs(30)).await else {
        return;
    };
    let out = run(
        &sandbox,
        "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({'sum': d['a'] + d['b']}))",
        br#"{"a": 2, "b": 3}"#,
    )
    .await
    .expect("runs");
    assert_eq!(out.trim(), r#"{"sum": 5}"#);

    let error = run(
        &sandbox,
        "import sys\nprint('half-way')\nraise SystemExit('the package says no')",
        b"",
    )
    .await
    .expect_err("exit 1");
    let text = error.to_string();
    assert!(
        matches!(error, SandboxError::Failed { .. })
            && text.contains("exit code 1")
            && text.contains("the package says no"),
        "{text}"
    );
}

#[tokio::test]
async fn the_vnfm_data_and_the_network_are_out_of_reach() {
    let Some(sandbox) = sandbox(Duration::from_secs(30)).await else {
        return;
    };
    // Stands for the VNFM's data folder: sealed credentials, the store, keys.
    // (under the build folder, not /tmp, which the sandbox replaces anyway).
    let data = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnfm-data-{}", std::process::id()));
    std::fs::create_dir_all(&data).expect("data dir");
    let secret = data.join("vim-credentials.key");
    std::fs::write(&secret, "top secret").expect("secret");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let code = format!(
        r#"
import os, socket
found = []
for path in [{secret:?}, {data:?}, "/home", "/var/lib", "/proc/1/root/etc/shadow", "/etc/shadow"]:
    try:
        if os.path.isdir(path):
            found.append(path + ": " + ",".join(os.listdir(path)))
        else:
            found.append(path + ": " + open(path).read())
    except OSError as e:
        pass
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", {port}))
    found.append("connected")
except OSError:
    pass
try:
    open("/job/planted.py", "w").write("x")
    found.append("wrote the job folder")
except OSError:
    pass
print(repr(found))
"#,
        secret = secret.display().to_string(),
        data = data.display().to_string(),
    );
    let out = run(&sandbox, &code, b"").await.expect("runs");
    assert_eq!(out.trim(), "[]", "the script reached: {out}");
    drop(listener);
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test]
async fn a_script_that_loops_forever_is_stopped_with_its_children() {
    let Some(sandbox) = sandbox(Duration::from_secs(3)).await else {
        return;
    };
    let code = "import subprocess, sys\n\
                subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n\
                print('started', file=sys.stderr, flush=True)\n\
                while True:\n    pass\n";
    let started = std::time::Instant::now();
    let error = run(&sandbox, code, b"").await.expect_err("stopped");
    assert!(
        matches!(&error, SandboxError::TimedOut { stderr, .. } if stderr.contains("started")),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "killed promptly"
    );
    // No process of the run survives it (its PID namespace went with bubblewrap).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let survivors = std::process::Command::new("pgrep")
        .args(["-f", "while True: pass"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert!(survivors.is_empty(), "left running: {survivors}");
}

#[tokio::test]
async fn unbounded_allocation_and_output_are_stopped() {
    let Some(sandbox) = sandbox(Duration::from_secs(30)).await else {
        return;
    };
    let error = run(
        &sandbox,
        "x = []\nwhile True:\n    x.append(bytearray(64 << 20))\n",
        b"",
    )
    .await
    .expect_err("out of memory");
    assert!(
        matches!(&error, SandboxError::Failed { stderr, .. } if stderr.contains("MemoryError"))
            || matches!(&error, SandboxError::Failed { status, .. } if status.starts_with("signal")),
        "{error}"
    );
    let error = run(
        &sandbox,
        "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n",
        b"",
    )
    .await
    .expect_err("too much output");
    assert!(
        matches!(error, SandboxError::OutputTooLarge { limit } if limit == 1 << 20),
        "{error}"
    );
}

#[tokio::test]
async fn scratch_paths_stay_inside_the_job_folder() {
    let Some(sandbox) = sandbox(Duration::from_secs(30)).await else {
        return;
    };
    let scratch = sandbox.scratch().await.expect("scratch");
    for bad in ["../escape.py", "/etc/passwd", "", "a/../../b"] {
        let error = scratch.write(bad, b"x").await.expect_err(bad);
        assert!(matches!(error, SandboxError::Invalid(_)), "{bad}: {error}");
    }
    let folder = scratch.path().to_path_buf();
    scratch
        .write("a/b/c.py", b"print(1)")
        .await
        .expect("nested");
    drop(scratch);
    assert!(
        !folder.exists(),
        "the scratch folder is removed with its handle"
    );
}
