//! The built binary over stdio, Streamable HTTP (`/mcp`) and legacy SSE (`/sse`) against the fake
//! SQL API; stdout purity; `--check`; start-up without credentials; `/healthz` without secrets.

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

fn key_env(fake: &Fake) -> Vec<(&'static str, String)> {
    vec![
        ("SNOWFLAKE_BASE_URL", fake.url.clone()),
        ("SNOWFLAKE_ACCOUNT", ACCOUNT.into()),
        ("SNOWFLAKE_USER", USER.into()),
        (
            "SNOWFLAKE_PRIVATE_KEY_PATH",
            fixture("test_only_rsa_key.p8").display().to_string(),
        ),
    ]
}

fn env_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn stdio_with_rmcp_client() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::rows(&[("N", "fixed")], vec![vec![json!("41")]]),
    );
    let env = key_env(&fake);
    let client = spawn_stdio(&bin(), &[], &env_refs(&env)).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("sophia-snowflake")
    );
    assert_eq!(client.list_all_tools().await.unwrap().len(), 19);
    let r = client
        .call_tool(
            CallToolRequestParams::new("execute_query")
                .with_arguments(args(json!({"statement": "select 41"}))),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["rows"], json!([[41]]));
    assert_eq!(
        fake.submissions()[0].token_type.as_deref(),
        Some("KEYPAIR_JWT")
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn streamable_http_with_rmcp_client_and_healthz() {
    let fake = Fake::start().await;
    let mut env = key_env(&fake);
    env.push(("SNOWFLAKE_ALLOW_WRITE", "1".into()));
    env.push(("SNOWFLAKE_WAREHOUSE", "COMPUTE_WH".into()));
    let server = HttpChild::spawn(&bin(), &[], &env_refs(&env))
        .await
        .unwrap();
    let client = server.mcp_client().await.unwrap();
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        20,
        "query_write listed"
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("warehouse_suspend")
                .with_arguments(args(json!({"name": "COMPUTE_WH"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["warehouse"]["state"],
        "SUSPENDED"
    );
    client.cancel().await.unwrap();
    let h: Value = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["name"], "sophia-snowflake");
    assert_eq!(h["upstream"]["ready"], true);
    assert_eq!(h["upstream"]["write_tool"], true);
    assert_eq!(h["upstream"]["warehouse"], "COMPUTE_WH");
    let key = std::fs::read_to_string(fixture("test_only_rsa_key.p8")).unwrap();
    let line = key.lines().nth(1).unwrap();
    assert!(!h.to_string().contains(line));
    let jwt = fake.state.lock().unwrap().jwts[0].clone();
    let log = server.stderr.lock().unwrap().clone();
    assert!(!log.contains(&jwt) && !log.contains(line));
}

#[tokio::test]
async fn legacy_sse_with_a_2024_11_05_client() {
    let fake = Fake::start().await;
    let mut env = key_env(&fake);
    env.push(("SNOWFLAKE_ALLOW_WRITE", "1".into()));
    let server = HttpChild::spawn(&bin(), &["--read-only"], &env_refs(&env))
        .await
        .unwrap();
    let mut sse = SseClient::connect(&server.base, None).await.unwrap();
    let init = sse.initialize().await.unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "sophia-snowflake");
    let tools = sse.request("tools/list", json!({})).await.unwrap();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names.len(), 15, "{names:?}");
    assert!(!names.contains(&"query_write") && !names.contains(&"warehouse_suspend"));
    let r = sse
        .request(
            "tools/call",
            json!({"name": "warehouse_list", "arguments": {}}),
        )
        .await
        .unwrap();
    assert_eq!(
        r["result"]["structuredContent"]["items"][0]["name"],
        "COMPUTE_WH"
    );
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_and_startup_needs_no_credentials() {
    // No credentials at all: the server starts, lists tools, and each call names the variable.
    let mut cmd = tokio::process::Command::new(bin());
    cmd.env_remove("SNOWFLAKE_ACCOUNT")
        .env_remove("SNOWFLAKE_USER")
        .env_remove("SNOWFLAKE_PRIVATE_KEY_PATH")
        .env_remove("SNOWFLAKE_TOKEN")
        .env("SOPHIA_LOG", "trace");
    let mut p = RawStdio::spawn(cmd).await.unwrap();
    let messages = [
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}),
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"warehouse_list","arguments":{}}}),
        json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"execute_query","arguments":{"statement": 5}}}),
        json!({"jsonrpc":"2.0","id":5,"method":"resources/list","params":{}}),
        json!({"jsonrpc":"2.0","id":6,"method":"ping"}),
    ];
    for m in &messages {
        p.send(m).await.unwrap();
    }
    let replies = p.replies(5, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        replies[&2]["result"]["tools"].as_array().map(Vec::len),
        Some(19)
    );
    assert_eq!(replies[&3]["result"]["isError"], true);
    let text = replies[&3]["result"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        text,
        "Snowflake is not configured: set SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_TOKEN"
    );
    assert!(replies[&4].get("error").is_some() || replies[&4]["result"]["isError"] == true);
    assert_eq!(replies[&5]["result"]["resources"], json!([]));
    assert!(replies[&6].get("result").is_some());
    drop(p);

    let out = std::process::Command::new(bin())
        .arg("--print-tools")
        .env("SOPHIA_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("--print-tools prints JSON only");
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(19));
}

#[tokio::test]
async fn check_prints_one_line_and_sets_the_exit_code() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT CURRENT_ACCOUNT()",
        Reply::rows(
            &[
                ("CURRENT_ACCOUNT()", "text"),
                ("CURRENT_USER()", "text"),
                ("CURRENT_ROLE()", "text"),
                ("CURRENT_WAREHOUSE()", "text"),
            ],
            vec![vec![
                json!("XY12345"),
                json!("SOPHIA_BOT"),
                json!("SOPHIA_ADMIN"),
                Value::Null,
            ]],
        ),
    );
    let env = key_env(&fake);
    let run = move |drop_var: Option<&'static str>, key: Option<String>| {
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(bin());
            cmd.arg("--check").env_remove("SNOWFLAKE_TOKEN");
            for (k, v) in &env {
                if Some(*k) != drop_var {
                    cmd.env(k, v);
                } else {
                    cmd.env_remove(k);
                }
            }
            if let Some(k) = key {
                cmd.env("SNOWFLAKE_PRIVATE_KEY_PATH", k);
            }
            cmd.output().unwrap()
        })
    };
    let ok = run(None, None).await.unwrap();
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("sophia-snowflake: ok: account XY12345, user SOPHIA_BOT, role SOPHIA_ADMIN, warehouse (none) (key-pair JWT as XY12345.SOPHIA_BOT)"), "{out}");

    let missing = run(Some("SNOWFLAKE_USER"), None).await.unwrap();
    let out = String::from_utf8_lossy(&missing.stdout).to_string();
    assert_eq!(missing.status.code(), Some(1));
    assert!(out.contains("set SNOWFLAKE_USER"), "{out}");

    let enc = run(
        None,
        Some(fixture("test_only_encrypted_key.p8").display().to_string()),
    )
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&enc.stdout).to_string();
    assert_eq!(enc.status.code(), Some(1));
    assert!(
        out.contains("encrypted keys are not supported yet"),
        "{out}"
    );
}
