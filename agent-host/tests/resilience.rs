//! The host when servers misbehave, against `examples/flaky_server.rs`: a crashed server is
//! restarted on the next call, a read-only call interrupted by a crash is retried once, a
//! write interrupted by a crash is reported as uncertain, a timeout restarts on progress and
//! cancels on the server when it expires, and a dropped call is cancelled on the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::{HostError, Hub};

async fn hub(dir: &Path, timeout_s: f64) -> Hub {
    let cfg = HostConfig::parse(
        &json!({"mcpServers": {"f": {"command": flaky_bin(), "env": {"FLAKY_DIR": dir}, "timeoutSeconds": timeout_s}}})
            .to_string(),
        "test",
    )
    .unwrap();
    let hub = Hub::connect(&cfg, Duration::from_secs(30)).await;
    assert!(hub.status()["f"].starts_with("up"), "{:?}", hub.status());
    hub
}

async fn pid(hub: &Hub) -> u64 {
    let r = hub.call("f.pid", json!({})).await.unwrap();
    r.structured_content.unwrap()["pid"].as_u64().unwrap()
}

async fn log_has(dir: &Path, line: &str) -> bool {
    for _ in 0..100 {
        if std::fs::read_to_string(dir.join("log"))
            .unwrap_or_default()
            .lines()
            .any(|l| l == line)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_server_is_restarted_and_an_interrupted_write_is_reported_as_uncertain() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path(), 30.0).await;
    let first = pid(&hub).await;
    let e = hub.call("f.crash", json!({})).await.unwrap_err();
    match &e {
        HostError::ServerDown { server, reason } => {
            assert_eq!(server, "f");
            assert!(
                reason.contains("may or may not have taken effect"),
                "{reason}"
            );
        }
        other => panic!("{other}"),
    }
    // The write was not repeated: one crash in the log, not two.
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert_eq!(log.lines().filter(|l| l.starts_with("crash")).count(), 1);
    let second = pid(&hub).await;
    assert_ne!(first, second, "the same process answered after a crash");
    assert_eq!(hub.restarts().await["f"], 1);
    assert!(hub.status()["f"].starts_with("up"));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_call_cut_by_a_crash_is_retried_once_on_the_restarted_server() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path(), 30.0).await;
    let r = hub.call("f.read_once_dies", json!({})).await.unwrap();
    assert!(r.structured_content.unwrap()["pid"].as_u64().unwrap() > 0);
    assert_eq!(hub.restarts().await["f"], 1);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_restart_on_progress_and_cancel_on_the_server_when_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path(), 0.6).await;
    // 1.5 s of work with progress every 100 ms outlives a 0.6 s timeout.
    let r = hub
        .call("f.slow", json!({"ms": 1500, "progress_ms": 100}))
        .await
        .unwrap();
    assert_ne!(r.structured_content.unwrap()["pid"], json!(0));
    // Without progress it times out, and the server is told to stop.
    let e = hub
        .call("f.slow", json!({"ms": 3000, "progress_ms": 0}))
        .await
        .unwrap_err();
    assert!(matches!(e, HostError::Timeout { .. }), "{e}");
    assert!(
        log_has(dir.path(), "cancelled").await,
        "the server never heard of the timeout"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_call_is_cancelled_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path(), 30.0).await;
    let call = hub.call("f.slow", json!({"ms": 5000, "progress_ms": 0}));
    let gave_up: Result<Result<_, _>, _> =
        tokio::time::timeout(Duration::from_millis(300), call).await;
    assert!(gave_up.is_err());
    assert!(
        log_has(dir.path(), "cancelled").await,
        "the server kept working on a dropped call"
    );
    // The connection is still usable.
    let v: Value = hub
        .call("f.pid", json!({}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert!(v["pid"].as_u64().is_some());
    hub.shutdown().await;
}

/// A remote server that restarts (its sessions are gone: it answers 404 to the old session id)
/// is reached again without the caller noticing more than one slower call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_http_server_is_reconnected() {
    let memory = memory_bin();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    // A free port, then the server bound to it (twice).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let start = || {
        let mut child = std::process::Command::new(&memory)
            .args([
                "--transport",
                "http",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .env("SOPHIA_MEMORY_DB", &db)
            .env("SOPHIA_EMBEDDER", "none")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not listen");
    };
    let mut first = start();
    let cfg = HostConfig::parse(
        &json!({"mcpServers": {"r": {"url": format!("http://127.0.0.1:{port}/mcp")}}}).to_string(),
        "test",
    )
    .unwrap();
    let hub = Hub::connect(&cfg, Duration::from_secs(30)).await;
    assert!(hub.status()["r"].starts_with("up"), "{:?}", hub.status());
    let r = hub
        .call(
            "r.create_entities",
            json!({"entities": [{"name": "Before", "entityType": "x", "observations": []}]}),
        )
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = start();
    // Read-only: safe to repeat, so one retry on a fresh session is allowed.
    let r = hub
        .call("r.open_nodes", json!({"names": ["Before"]}))
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["entities"][0]["name"],
        "Before"
    );
    second.kill().unwrap();
    let _ = second.wait();
    hub.shutdown().await;
}
