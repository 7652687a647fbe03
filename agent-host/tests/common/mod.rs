//! What the host's tests share: the real binaries they drive, found next to the test executable
//! (`target/<profile>/`) and built on demand when this package's tests run alone.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Serialises on-demand builds between the tests of one binary.
static BUILD: Mutex<()> = Mutex::new(());

/// `target/<profile>/`
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// `cargo build ARGS`, one at a time.
fn cargo_build(args: &[&str]) {
    let status = std::process::Command::new(env!("CARGO"))
        .arg("build")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build {args:?} failed");
}

/// `path`, after `cargo build ARGS` when it does not exist yet.
pub fn built(path: PathBuf, cargo_args: &[&str]) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        cargo_build(cargo_args);
    }
    path
}

/// A server binary of the workspace, e.g. `sophia-memory`.
pub fn sibling_bin(name: &str) -> PathBuf {
    built(target_dir().join(name), &["-p", name])
}

/// The folder holding every named server binary, built together when any is missing.
pub fn sibling_bins(names: &[&str]) -> PathBuf {
    let dir = target_dir();
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if names.iter().any(|n| !dir.join(n).exists()) {
        let args: Vec<&str> = names.iter().flat_map(|n| ["-p", *n]).collect();
        cargo_build(&args);
    }
    dir
}

pub fn memory_bin() -> PathBuf {
    sibling_bin("sophia-memory")
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A `sophia-host serve --transport http` child on a free port; killed on drop.
pub struct Served {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// What it wrote to stderr so far.
    pub stderr: std::sync::Arc<Mutex<String>>,
}

/// `sophia-host --config CFG serve --transport http --bind 127.0.0.1:0 EXTRA...`, once it listens.
pub async fn serve_gateway(cfg: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"))
        .arg("--config")
        .arg(cfg)
        .args(["serve", "--transport", "http", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env("SOPHIA_LOG", "info")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = std::sync::Arc::new(Mutex::new(String::new()));
    let base = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(rest) = line.split("listening on http://").nth(1) {
                return format!("http://{}", rest.split_whitespace().next().unwrap());
            }
        }
        panic!(
            "the gateway exited before listening:\n{}",
            log.lock().unwrap()
        )
    })
    .await
    .unwrap();
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    Served {
        child,
        base,
        stderr: log,
    }
}

/// The test fixture server (`examples/flaky_server.rs`).
pub fn flaky_bin() -> PathBuf {
    built(
        target_dir().join("examples").join("flaky_server"),
        &["-p", "sophia-host", "--example", "flaky_server"],
    )
}
