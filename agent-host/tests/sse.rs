//! The legacy HTTP+SSE client transport against the real `sophia-memory` binary's `/sse`
//! endpoint: tools listed and called through the host, the configured headers (the server's
//! `SOPHIA_HTTP_TOKEN`) sent with the stream and every message, and a server that restarts
//! re-initialised through the hub's restart path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::Hub;

const TOKEN: &str = "sse-test-token-7";

/// `sophia-memory --transport http` on `port`, killed on drop, once `/healthz` answers.
async fn memory_http(db: &Path, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(memory_bin())
        .args([
            "--transport",
            "http",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("SOPHIA_MEMORY_DB", db)
        .env("SOPHIA_EMBEDDER", "none")
        .env("SOPHIA_HTTP_TOKEN", TOKEN)
        .env("SOPHIA_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status().is_success()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sophia-memory did not listen on {port}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn structured(r: &rmcp::model::CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "{r:?}");
    r.structured_content.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_sse_transport_lists_calls_sends_headers_and_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let port = free_port();
    let server = memory_http(&db, port).await;
    let url = format!("http://127.0.0.1:{port}/sse");
    let cfg = HostConfig::parse(
        &json!({"mcpServers": {
            // `type` inferred from the /sse path.
            "legacy": {"url": url, "headers": {"Authorization": format!("Bearer {TOKEN}")}},
            "nokey": {"type": "sse", "url": url},
            "wrongkey": {"type": "sse", "url": url, "headers": {"Authorization": "Bearer nope"}}
        }})
        .to_string(),
        "test",
    )
    .unwrap();
    let hub = Hub::connect(&cfg, Duration::from_secs(30)).await;
    let status = hub.status();
    assert!(status["legacy"].starts_with("up ("), "{status:?}");
    // The token guards the stream itself: without it (or with a wrong one) no session opens.
    assert!(
        status["nokey"].starts_with("failed") && status["nokey"].contains("401"),
        "{status:?}"
    );
    assert!(status["wrongkey"].contains("401"), "{status:?}");
    assert!(!status["wrongkey"].contains("nope"), "{status:?}");

    let names: Vec<&str> = hub.tools().iter().map(|t| t.name.as_str()).collect();
    for n in [
        "legacy__create_entities",
        "legacy__search_nodes",
        "legacy__read_graph",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let listed = hub.find("legacy__search_nodes").unwrap().as_listed();
    assert!(listed.output_schema.is_some());
    assert_eq!(listed.annotations.unwrap().read_only_hint, Some(true));

    // Calls go out as POSTs (with the header) and come back on the stream, concurrently.
    let created = hub
        .call(
            "legacy.create_entities",
            json!({"entities": [{"name": "Acme", "entityType": "company", "observations": ["renewal in May"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(structured(&created)["entities"][0]["name"], "Acme");
    let searches = futures::future::join_all(
        (0..8).map(|_| hub.call("legacy__search_nodes", json!({"query": "renewal"}))),
    )
    .await;
    for r in searches {
        assert_eq!(structured(&r.unwrap())["entities"][0]["name"], "Acme");
    }
    let failed = hub
        .call(
            "legacy.add_observations",
            json!({"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));

    // The server restarts (same port, same store): the stream ended, so the next call
    // re-initialises a new SSE session through the hub's restart path.
    drop(server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _server = memory_http(&db, port).await;
    let found = hub
        .call("legacy.open_nodes", json!({"names": ["Acme"]}))
        .await
        .unwrap();
    assert_eq!(
        structured(&found)["entities"][0]["observations"],
        json!(["renewal in May"])
    );
    assert_eq!(hub.restarts().await["legacy"], 1);
    hub.shutdown().await;
}
