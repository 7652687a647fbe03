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
