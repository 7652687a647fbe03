//! The built binary over stdio, Streamable HTTP (`/mcp`) and legacy SSE (`/sse`) against the fake
//! Gong; stdout purity; `--check`; start-up that never waits on Gong; `/healthz` without secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::time::Duration;

use common::*;
use mcp_core::testing::{HttpChild, RawStdio, SseClient, spawn_stdio};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test]
async fn stdio_with_rmcp_client() {
    let fake = Fake::start().await;
    let client = spawn_stdio(
        &bin(),
        &[],
        &[
            ("GONG_API_BASE_URL", &fake.url),
            ("GONG_ACCESS_KEY", KEY),
            ("GONG_ACCESS_KEY_SECRET", SECRET),
        ],
    )
    .await
    .unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("sophia-gong")
    );
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        ALL_TOOLS.len()
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("analyze_call_sentiment")
                .with_arguments(args(json!({"call_id": ACME}))),
        )
        .await
        .unwrap();
    let v = r.structured_content.unwrap();
    assert_eq!(v["speakers"][0]["name"], "Ann Rep");
    assert_eq!(v["speakers"][0]["sentiment"]["score"], 0.333);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn streamable_http_with_rmcp_client_and_healthz() {
    let fake = Fake::start().await;
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[
            ("GONG_API_BASE_URL", &fake.url),
            ("GONG_ACCESS_KEY", KEY),
            ("GONG_ACCESS_KEY_SECRET", SECRET),
        ],
    )
    .await
    .unwrap();
    let client = server.mcp_client().await.unwrap();
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        ALL_TOOLS.len()
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("call_transcript")
                .with_arguments(args(json!({"call_id": ACME, "max_chars": 40}))),
        )
        .await
        .unwrap();
    let v = r.structured_content.unwrap();
    assert_eq!(v["text"], "[00:00] Ann Rep: Thanks for joining, gre");
    assert_eq!(v["next_offset"], 40);
    client.cancel().await.unwrap();

    let h: Value = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["name"], "sophia-gong");
    assert_eq!(h["upstream"]["credentials"], "set");
    assert_eq!(h["upstream"]["cached_transcripts"], 1);
    let body = h.to_string();
    assert!(!body.contains(KEY) && !body.contains(SECRET), "{body}");
    let log = server.stderr.lock().unwrap().clone();
    assert!(!log.contains(KEY) && !log.contains(SECRET));
}

#[tokio::test]
async fn legacy_sse_with_a_2024_11_05_client() {
    let fake = Fake::start().await;
    let server = HttpChild::spawn(
        &bin(),
        &["--read-only"],
        &[
            ("GONG_API_BASE_URL", &fake.url),
            ("GONG_ACCESS_KEY", KEY),
            ("GONG_ACCESS_KEY_SECRET", SECRET),
        ],
    )
    .await
    .unwrap();
    let mut sse = SseClient::connect(&server.base, None).await.unwrap();
    let init = sse.initialize().await.unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "sophia-gong");
    let tools = sse.request("tools/list", json!({})).await.unwrap();
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ALL_TOOLS, "--read-only keeps every (read-only) tool");
    let r = sse
        .request(
            "tools/call",
            json!({"name": "get_talking_points", "arguments": {"call_id": ACME}}),
        )
        .await
        .unwrap();
    assert_eq!(
        r["result"]["structuredContent"]["trackers"][0]["name"],
        "Support"
    );
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_and_startup_never_waits_on_gong() {
    // Gong unreachable (a closed port): the server still starts and lists tools at once.
    let mut cmd = tokio::process::Command::new(bin());
    cmd.env("GONG_API_BASE_URL", "http://127.0.0.1:9")
        .env("GONG_ACCESS_KEY", KEY)
        .env("GONG_ACCESS_KEY_SECRET", SECRET)
        .env("SOPHIA_LOG", "trace");
    let mut p = RawStdio::spawn(cmd).await.unwrap();
    let messages = [
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}),
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"user_list","arguments":{}}}),
        json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"call_get","arguments":{"call_id":5}}}),
        json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope","arguments":{}}}),
        json!({"jsonrpc":"2.0","id":6,"method":"ping"}),
    ];
    for m in &messages {
        p.send(m).await.unwrap();
    }
    let replies = p.replies(5, Duration::from_secs(90)).await.unwrap();
    assert_eq!(
        replies[&2]["result"]["tools"].as_array().map(Vec::len),
        Some(ALL_TOOLS.len())
    );
    assert_eq!(replies[&3]["result"]["isError"], true);
    let text = replies[&3]["result"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("could not connect") && text.contains("retry later"),
        "{text}"
    );
    assert!(replies[&4].get("error").is_some() || replies[&4]["result"]["isError"] == true);
    assert!(replies[&5].get("error").is_some());
    assert!(replies[&6].get("result").is_some());
    drop(p);

    // --print-tools: one JSON document on stdout even with trace logging.
    let out = std::process::Command::new(bin())
        .arg("--print-tools")
        .env("SOPHIA_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("--print-tools prints JSON only");
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(ALL_TOOLS.len()));
}

#[tokio::test]
async fn check_prints_one_line_and_sets_the_exit_code() {
    let fake = Fake::start().await;
    let url = fake.url.clone();
    let run = move |secret: Option<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(bin());
            cmd.arg("--check")
                .env("GONG_API_BASE_URL", &url)
                .env("GONG_ACCESS_KEY", KEY)
                .env_remove("GONG_ACCESS_KEY_SECRET");
            if let Some(s) = secret {
                cmd.env("GONG_ACCESS_KEY_SECRET", s);
            }
            cmd.output().unwrap()
        })
    };
    let ok = run(Some(SECRET)).await.unwrap();
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("sophia-gong: ok: "), "{out}");
    assert!(out.contains("3 users"), "{out}");

    let bad = run(Some("nope")).await.unwrap();
    let out = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        out.starts_with("sophia-gong: not ok: GET /v2/users: Gong rejected the credentials"),
        "{out}"
    );
    assert!(!out.contains("nope\"") && !out.contains(KEY));

    let missing = run(None).await.unwrap();
    let out = String::from_utf8_lossy(&missing.stdout).to_string();
    assert_eq!(missing.status.code(), Some(1));
    assert!(out.contains("GONG_ACCESS_KEY_SECRET is not set"), "{out}");
    assert_eq!(
        fake.hits("/v2/users"),
        2,
        "--check reads GET /v2/users, and nothing without credentials"
    );
}
