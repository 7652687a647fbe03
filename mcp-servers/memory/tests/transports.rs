//! Each transport end to end with a real client, the HTTP guards, stdout purity, /healthz and
//! graceful shutdown, against the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::time::Duration;

use common::*;
use mcp_core::testing::{HttpChild, SseClient, spawn_stdio};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

fn db_env(dir: &tempfile::TempDir) -> String {
    dir.path().join("t.db").display().to_string()
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test]
async fn stdio_with_rmcp_client() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let client = spawn_stdio(
        &bin(),
        &[],
        &[
            ("SOPHIA_MEMORY_DB", &db),
            ("SOPHIA_EMBEDDER", "none"),
            ("SOPHIA_MEMORY_SYNC", "normal"),
        ],
    )
    .await
    .unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("sophia-memory")
    );
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOL_COUNT);
    let r = client
        .call_tool(
            CallToolRequestParams::new("create_entities").with_arguments(args(
                json!({"entities":[{"name":"Stdio","entityType":"t","observations":["o"]}]}),
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["entities"][0]["name"],
        "Stdio"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdout_carries_only_json_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    // Chatty logging must still go to stderr only.
    let mut p = RawStdio::spawn(&db, &[("SOPHIA_LOG", "trace")]).await;
    p.tool(
        "create_entities",
        json!({"entities":[{"name":"P","entityType":"t","observations":[]}]}),
    )
    .await;
    let bad = p
        .request(
            "tools/call",
            json!({"name":"create_entities","arguments":{"entities":"x"}}),
        )
        .await;
    assert_eq!(bad["result"]["isError"], true);
    let unknown = p
        .request("tools/call", json!({"name":"nope","arguments":{}}))
        .await;
    assert!(unknown.get("error").is_some());
    p.request("resources/list", json!({})).await;
    // Every line read so far was parsed as JSON by RawStdio::recv; check the envelope too.
    let v = p.request("ping", json!({})).await;
    assert_eq!(v["jsonrpc"], "2.0");

    // --print-tools: stdout is one JSON document even with trace logging.
    let out = std::process::Command::new(bin())
        .arg("--print-tools")
        .env("SOPHIA_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("--print-tools prints JSON only");
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(TOOL_COUNT));
}

#[tokio::test]
async fn streamable_http_with_rmcp_client_and_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[("SOPHIA_MEMORY_DB", &db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let client = server.mcp_client().await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOL_COUNT);
    let r = client
        .call_tool(
            CallToolRequestParams::new("create_entities").with_arguments(args(
                json!({"entities":[{"name":"Http","entityType":"t","observations":[]}]}),
            )),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["entities"][0]["name"], "Http");
    client.cancel().await.unwrap();

    let h: Value = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["name"], "sophia-memory");
    assert_eq!(h["status"], "ok");
    assert_eq!(h["upstream"]["counts"]["entities"], 1);
}

#[tokio::test]
async fn legacy_sse_with_a_2024_11_05_client() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[("SOPHIA_MEMORY_DB", &db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let mut sse = SseClient::connect(&server.base, None).await.unwrap();
    assert!(sse.post_url().contains("/message?sessionId="));
    let init = sse.initialize().await.unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "sophia-memory");
    let tools = sse.request("tools/list", json!({})).await.unwrap();
    assert_eq!(
        tools["result"]["tools"].as_array().map(Vec::len),
        Some(TOOL_COUNT)
    );
    let r = sse
        .request(
            "tools/call",
            json!({"name":"create_entities","arguments":{"entities":[{"name":"Sse","entityType":"t","observations":[]}]}}),
        )
        .await
        .unwrap();
    assert_eq!(
        r["result"]["structuredContent"]["entities"][0]["name"],
        "Sse"
    );

    let http = reqwest::Client::new();
    // Unknown session: 404. Missing session id: 400.
    let r = http
        .post(format!("{}/message?sessionId=nope", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/message", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Body over the limit: 413, and the session still works.
    let huge = "x".repeat(5 * 1024 * 1024);
    let r = http.post(sse.post_url()).body(huge).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let r = sse.request("ping", json!({})).await.unwrap();
    assert!(r.get("result").is_some());
}

#[tokio::test]
async fn token_auth_is_required_on_every_route_but_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let token = "t0ps3cret-token-value";
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[
            ("SOPHIA_MEMORY_DB", &db),
            ("SOPHIA_EMBEDDER", "none"),
            ("SOPHIA_HTTP_TOKEN", token),
        ],
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let post = |auth: Option<&str>| {
        let mut r = http
            .post(format!("{}/mcp", server.base))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some("Bearer wrong")).await.unwrap().status(), 401);
    assert_eq!(
        post(Some(&format!("Bearer {token}")))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{}/sse", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.post(format!("{}/message?sessionId=x", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let sse = SseClient::connect(&server.base, Some(token)).await;
    assert!(sse.is_ok(), "SSE works with the token");
    drop(sse);
    let h = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    let body = h.text().await.unwrap();
    assert!(!body.contains(token), "no secret in /healthz");
    assert!(
        !server.stderr.lock().unwrap().contains(token),
        "no secret in the logs"
    );
}

#[tokio::test]
async fn foreign_host_or_origin_is_refused_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[("SOPHIA_MEMORY_DB", &db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    for path in ["/mcp", "/sse", "/message?sessionId=x", "/healthz"] {
        let url = format!("{}{path}", server.base);
        let r = http
            .get(&url)
            .header("host", "evil.example:9000")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Host on {path}");
        let r = http
            .get(&url)
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Origin on {path}");
    }
    let ok = http
        .get(format!("{}/healthz", server.base))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn allowed_host_flag_admits_a_deployment_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let server = HttpChild::spawn(
        &bin(),
        &["--allowed-host", "memory.internal"],
        &[("SOPHIA_MEMORY_DB", &db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .header("host", "memory.internal:9000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn public_bind_without_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(bin())
        .args(["--transport", "http", "--bind", "0.0.0.0:0"])
        .env("SOPHIA_MEMORY_DB", db_env(&dir))
        .env_remove("SOPHIA_HTTP_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SOPHIA_HTTP_TOKEN"), "{err}");
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let mut server = HttpChild::spawn(
        &bin(),
        &[],
        &[("SOPHIA_MEMORY_DB", &db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let pid = server.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("exits within 15s")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// A client on protocol 2026-07-28 (no initialize: `server/discover`, then self-contained
/// requests that rmcp serves statelessly, a fresh server instance per request from the factory):
/// state must live in the shared store, not in the instance.
#[derive(Clone)]
struct Client20260728;

impl rmcp::ClientHandler for Client20260728 {}

#[tokio::test]
async fn stateless_2026_07_28_requests_share_one_store() {
    use rmcp::ClientServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[("SOPHIA_MEMORY_DB", &db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let transport =
        rmcp::transport::StreamableHttpClientTransport::from_uri(format!("{}/mcp", server.base));
    let client = Client20260728
        .serve_with_lifecycle(
            transport,
            rmcp::ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let negotiated = client.peer_info().map(|i| i.protocol_version.to_string());
    assert_eq!(negotiated.as_deref(), Some("2026-07-28"));
    client
        .call_tool(
            CallToolRequestParams::new("create_entities").with_arguments(args(
                json!({"entities":[{"name":"Stateless","entityType":"t","observations":["kept"]}]}),
            )),
        )
        .await
        .unwrap();
    let r = client
        .call_tool(
            CallToolRequestParams::new("open_nodes")
                .with_arguments(args(json!({"names":["Stateless"]}))),
        )
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["entities"][0]["observations"],
        json!(["kept"])
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn json_logs_are_json_lines_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_env(&dir);
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[
            ("SOPHIA_MEMORY_DB", &db),
            ("SOPHIA_EMBEDDER", "none"),
            ("SOPHIA_LOG_FORMAT", "json"),
            ("SOPHIA_LOG", "debug"),
        ],
    )
    .await
    .unwrap();
    let client = server.mcp_client().await.unwrap();
    client.list_all_tools().await.unwrap();
    client.cancel().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.lines().count() >= 2, "expected debug logs: {log}");
    for line in log.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
}

#[test]
fn check_prints_one_line_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new(bin())
        .arg("--check")
        .env("SOPHIA_MEMORY_DB", dir.path().join("c.db"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("sophia-memory: ok: store "), "{out}");
    assert!(
        out.contains("0 entities, 0 relations, 0 observations, 0 memories (0 embedded)"),
        "{out}"
    );

    // A database path under a regular file cannot be created.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let bad = std::process::Command::new(bin())
        .arg("--check")
        .env("SOPHIA_MEMORY_DB", blocker.join("sub/c.db"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(
        out.starts_with("sophia-memory: not ok: cannot open the memory store"),
        "{out}"
    );
}
