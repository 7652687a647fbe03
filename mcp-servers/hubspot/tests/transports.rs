//! The built binary over each transport (stdio, Streamable HTTP `/mcp`, legacy SSE `/sse`)
//! against the fake HubSpot, stdout purity, `--print-tools`, `--read-only` and `--check`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::time::Duration;

use common::*;
use mcp_core::testing::{HttpChild, RawStdio, SseClient, spawn_stdio};
use serde_json::{Value, json};

fn env(fake: &Fake) -> Vec<(&'static str, String)> {
    vec![
        ("HUBSPOT_API_BASE_URL", fake.url.clone()),
        ("HUBSPOT_ACCESS_TOKEN", TOKEN.to_string()),
        ("SOPHIA_LOG", "debug".to_string()),
    ]
}

fn env_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn stdio_with_rmcp_client() {
    let fake = Fake::start(FakeState::default()).await;
    let e = env(&fake);
    let client = spawn_stdio(&bin(), &[], &env_refs(&e)).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("sophia-hubspot")
    );
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOLS.len());
    let r = client
        .call_tool(call(
            "object_search",
            json!({"object_type": "contacts", "query": "ada"}),
        ))
        .await
        .unwrap();
    assert_eq!(ids(&r.structured_content.unwrap()), vec!["201"]);
    client.cancel().await.unwrap();
    let auth = fake.requests("POST /crm/v3/objects/contacts/search")[0]
        .authorization
        .clone();
    assert_eq!(auth, Some(format!("Bearer {TOKEN}")));
}

#[tokio::test]
async fn streamable_http_with_rmcp_client_and_healthz() {
    let fake = Fake::start(FakeState::default()).await;
    let e = env(&fake);
    let server = HttpChild::spawn(&bin(), &[], &env_refs(&e)).await.unwrap();
    let client = server.mcp_client().await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOLS.len());
    let r = client
        .call_tool(call("pipeline_summary", json!({})))
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["deal_count"], 9);
    client.cancel().await.unwrap();
    let h = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&h).unwrap();
    assert_eq!(v["name"], "sophia-hubspot");
    assert_eq!(v["upstream"]["configured"], true);
    assert!(!h.contains(TOKEN), "no secret in /healthz");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !server.stderr.lock().unwrap().contains(TOKEN),
        "no secret in the logs"
    );
}

#[tokio::test]
async fn legacy_sse_with_a_2024_11_05_client() {
    let fake = Fake::start(FakeState::default()).await;
    let e = env(&fake);
    let server = HttpChild::spawn(&bin(), &[], &env_refs(&e)).await.unwrap();
    let mut sse = SseClient::connect(&server.base, None).await.unwrap();
    let init = sse.initialize().await.unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "sophia-hubspot");
    let tools = sse.request("tools/list", json!({})).await.unwrap();
    assert_eq!(
        tools["result"]["tools"].as_array().map(Vec::len),
        Some(TOOLS.len())
    );
    let r = sse
        .request("tools/call", json!({"name": "owner_list", "arguments": {}}))
        .await
        .unwrap();
    assert_eq!(r["result"]["structuredContent"]["items"][0]["id"], "101");
}

/// This server over raw stdio (stdout must carry only JSON-RPC).
async fn raw_stdio(env: &[(&str, &str)]) -> RawStdio {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.envs(env.iter().copied());
    RawStdio::spawn(cmd).await.unwrap()
}

#[tokio::test]
async fn stdout_carries_only_json_rpc() {
    let fake = Fake::start(FakeState::default()).await;
    let mut e = env(&fake);
    e.retain(|(k, _)| *k != "SOPHIA_LOG");
    e.push(("SOPHIA_LOG", "trace".into()));
    let mut p = raw_stdio(&env_refs(&e)).await;
    let r = p
        .request(
            "tools/call",
            json!({"name":"object_get","arguments":{"object_type":"deals","id":"1001"}}),
        )
        .await
        .unwrap();
    assert_eq!(r["result"]["structuredContent"]["object"]["id"], "1001");
    let failed = p
        .request(
            "tools/call",
            json!({"name":"object_get","arguments":{"object_type":"contacts","id":"999"}}),
        )
        .await
        .unwrap();
    assert_eq!(failed["result"]["isError"], true);
    let bad = p
        .request(
            "tools/call",
            json!({"name":"object_get","arguments":{"object_type": 5}}),
        )
        .await
        .unwrap();
    assert!(bad.get("error").is_some() || bad["result"]["isError"] == true);
    let unknown = p
        .request("tools/call", json!({"name":"nope","arguments":{}}))
        .await
        .unwrap();
    assert!(unknown.get("error").is_some());
    p.request("ping", json!({})).await.unwrap();

    let out = std::process::Command::new(bin())
        .arg("--print-tools")
        .env("SOPHIA_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("--print-tools prints JSON only");
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(TOOLS.len()));
    let ro = std::process::Command::new(bin())
        .args(["--print-tools", "--read-only"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&ro.stdout).unwrap();
    let mut names: Vec<String> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, READ_TOOLS);
}

#[tokio::test]
async fn without_a_token_the_server_starts_and_says_what_to_set() {
    let fake = Fake::start(FakeState::default()).await;
    let e = [
        ("HUBSPOT_API_BASE_URL", fake.url.as_str()),
        ("HUBSPOT_ACCESS_TOKEN", ""),
    ];
    let client = spawn_stdio(&bin(), &[], &e).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOLS.len());
    let r = client
        .call_tool(call("owner_list", json!({})))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("set HUBSPOT_ACCESS_TOKEN"));
    client.cancel().await.unwrap();

    let out = tokio::process::Command::new(bin())
        .arg("--check")
        .envs(e)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("sophia-hubspot: not ok:") && line.contains("HUBSPOT_ACCESS_TOKEN"),
        "{line}"
    );
}

#[tokio::test]
async fn check_reads_the_account_details() {
    let fake = Fake::start(FakeState::default()).await;
    let out = tokio::process::Command::new(bin())
        .arg("--check")
        .env("HUBSPOT_API_BASE_URL", &fake.url)
        .env("HUBSPOT_ACCESS_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with("sophia-hubspot: ok: HubSpot account 1234567 (STANDARD, US/Eastern, currency USD) at app.hubspot.com"),
        "{line}"
    );
    assert_eq!(fake.requests("GET /account-info/v3/details").len(), 1);
    let bad = tokio::process::Command::new(bin())
        .arg("--check")
        .env("HUBSPOT_API_BASE_URL", &fake.url)
        .env("HUBSPOT_ACCESS_TOKEN", "pat-na1-not-the-right-one")
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let line = String::from_utf8_lossy(&bad.stdout);
    assert!(
        line.contains("HUBSPOT_ACCESS_TOKEN") && line.contains("rejected"),
        "{line}"
    );
    assert!(!line.contains("pat-na1-not-the-right-one"));
}
