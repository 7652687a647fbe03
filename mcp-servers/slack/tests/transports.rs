//! The built binary over stdio, Streamable HTTP (`/mcp`) and legacy SSE (`/sse`) against the fake
//! Slack; stdout purity; `--check`; start-up that never waits on Slack; `/healthz` without secrets.

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
    fake.add_messages("C0SALES001", 3, |i| format!("m{i}"));
    let client = spawn_stdio(
        &bin(),
        &[],
        &[("SLACK_API_BASE_URL", &fake.url), ("SLACK_BOT_TOKEN", BOT)],
    )
    .await
    .unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("sophia-slack")
    );
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 8, "no user token: no message_search");
    let r = client
        .call_tool(
            CallToolRequestParams::new("channel_history")
                .with_arguments(args(json!({"channel": "#sales"}))),
        )
        .await
        .unwrap();
    let v = r.structured_content.unwrap();
    assert_eq!(v["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["items"][0]["user_name"], "Ali");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn streamable_http_with_rmcp_client_and_healthz() {
    let fake = Fake::start().await;
    let server = HttpChild::spawn(
        &bin(),
        &[],
        &[
            ("SLACK_API_BASE_URL", &fake.url),
            ("SLACK_BOT_TOKEN", BOT),
            ("SLACK_USER_TOKEN", USER),
            ("SLACK_WRITE_CHANNELS", "#sales"),
        ],
    )
    .await
    .unwrap();
    let client = server.mcp_client().await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 9);
    let r = client
        .call_tool(
            CallToolRequestParams::new("message_post")
                .with_arguments(args(json!({"channel": "#general", "text": "x"}))),
        )
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    let r = client
        .call_tool(
            CallToolRequestParams::new("message_post")
                .with_arguments(args(json!({"channel": "#sales", "text": "over http"}))),
        )
        .await
        .unwrap();
    let v = r.structured_content.unwrap();
    assert_eq!(v["text"], "over http");
    assert!(v["permalink"].as_str().unwrap().contains("C0SALES001"));
    client.cancel().await.unwrap();

    let h: Value = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["name"], "sophia-slack");
    assert_eq!(h["upstream"]["search"], true);
    assert_eq!(h["upstream"]["write_channels"], "#sales");
    let body = h.to_string();
    assert!(!body.contains(BOT) && !body.contains(USER), "{body}");
    let log = server.stderr.lock().unwrap().clone();
    assert!(!log.contains(BOT) && !log.contains(USER));
}

#[tokio::test]
async fn legacy_sse_with_a_2024_11_05_client() {
    let fake = Fake::start().await;
    let server = HttpChild::spawn(
        &bin(),
        &["--read-only"],
        &[("SLACK_API_BASE_URL", &fake.url), ("SLACK_BOT_TOKEN", BOT)],
    )
    .await
    .unwrap();
    let mut sse = SseClient::connect(&server.base, None).await.unwrap();
    let init = sse.initialize().await.unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "sophia-slack");
    let tools = sse.request("tools/list", json!({})).await.unwrap();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "channel_history",
            "channel_list",
            "thread_replies",
            "user_get",
            "user_list"
        ],
        "--read-only and no user token"
    );
    let r = sse
        .request(
            "tools/call",
            json!({"name": "user_get", "arguments": {"user": "@carol"}}),
        )
        .await
        .unwrap();
    assert_eq!(r["result"]["structuredContent"]["id"], "U0CAROL001");
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_and_startup_never_waits_on_slack() {
    // Slack unreachable (a closed port): the server still starts and lists tools at once.
    let mut cmd = tokio::process::Command::new(bin());
    cmd.env("SLACK_API_BASE_URL", "http://127.0.0.1:9/api")
        .env("SLACK_BOT_TOKEN", BOT)
        .env("SOPHIA_LOG", "trace");
    let mut p = RawStdio::spawn(cmd).await.unwrap();
    let messages = [
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}),
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"user_list","arguments":{}}}),
        json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"channel_history","arguments":{"channel":5}}}),
        json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope","arguments":{}}}),
        json!({"jsonrpc":"2.0","id":6,"method":"ping"}),
    ];
    for m in &messages {
        p.send(m).await.unwrap();
    }
    let replies = p.replies(5, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        replies[&2]["result"]["tools"].as_array().map(Vec::len),
        Some(8)
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
        .env("SLACK_USER_TOKEN", USER)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("--print-tools prints JSON only");
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(9));
}

#[tokio::test]
async fn check_prints_one_line_and_sets_the_exit_code() {
    let fake = Fake::start().await;
    let url = fake.url.clone();
    let run = move |token: Option<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(bin());
            cmd.arg("--check")
                .env("SLACK_API_BASE_URL", &url)
                .env_remove("SLACK_BOT_TOKEN")
                .env_remove("SLACK_USER_TOKEN");
            if let Some(t) = token {
                cmd.env("SLACK_BOT_TOKEN", t);
            }
            cmd.output().unwrap()
        })
    };
    let ok = run(Some(BOT)).await.unwrap();
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("sophia-slack: ok: team Fake Workspace (T0FAKE01), bot user sophia (UBOT00001), scopes: channels:read,"), "{out}");
    assert!(out.contains("search off (set SLACK_USER_TOKEN"), "{out}");

    let bad = run(Some("xoxb-nope")).await.unwrap();
    let out = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(1));
    assert!(out.starts_with("sophia-slack: not ok: auth.test with SLACK_BOT_TOKEN: Slack rejected the token (invalid_auth)"), "{out}");
    assert!(!out.contains("xoxb-nope"));

    let missing = run(None).await.unwrap();
    let out = String::from_utf8_lossy(&missing.stdout).to_string();
    assert_eq!(missing.status.code(), Some(1));
    assert!(out.contains("SLACK_BOT_TOKEN is not set"), "{out}");
}
