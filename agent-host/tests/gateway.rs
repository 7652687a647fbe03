//! `sophia-host serve`: the real `sophia-memory` behind the gateway, the bundled workflows as
//! tools, over Streamable HTTP, legacy SSE and stdio, with `--read-only`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::path::{Path, PathBuf};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("host.json");
    let cfg = json!({"mcpServers": {"sophia-memory": {"command": memory_bin(), "env": {
        "SOPHIA_MEMORY_DB": dir.join("m.db"), "SOPHIA_EMBEDDER": "none"}}}});
    std::fs::write(&path, cfg.to_string()).unwrap();
    path
}

async fn serve_http(cfg: &Path, extra: &[&str]) -> Served {
    let workflows = repo().join("workflows");
    let mut args = vec!["--workflows", workflows.to_str().unwrap()];
    args.extend_from_slice(extra);
    serve_gateway(cfg, &args, &[]).await
}

async fn call(
    client: &mcp_core::testing::Client,
    name: &str,
    args: Value,
) -> rmcp::model::CallToolResult {
    let Value::Object(map) = args else { panic!() };
    client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(map))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_and_workflow_behind_one_http_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_http(&config(dir.path()), &[]).await;
    let transport =
        rmcp::transport::StreamableHttpClientTransport::from_uri(format!("{}/mcp", served.base));
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let find = |n: &str| tools.iter().find(|t| t.name == n).cloned();
    assert!(find("sophia-memory__store_memory").is_some());
    let quick = find("workflow__quickstart").expect("the quickstart workflow is a tool");
    assert_eq!(
        quick.input_schema["properties"]["company"]["type"],
        "string"
    );
    let a = quick.annotations.unwrap();
    assert_eq!(a.read_only_hint, Some(false), "quickstart writes");

    let r = call(&client, "workflow__quickstart", json!({"company": "Hooli"})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let out = r.structured_content.unwrap();
    assert_eq!(out["company"], "Hooli");
    assert_eq!(out["stored"].as_array().unwrap().len(), 3);
    let r = call(
        &client,
        "sophia-memory__search_nodes",
        json!({"query": "hooli"}),
    )
    .await;
    assert_eq!(
        r.structured_content.unwrap()["entities"][0]["name"],
        "Hooli"
    );
    // A bad workflow input is a tool error, not a crash.
    let r = call(&client, "workflow__quickstart", json!({"company": 7})).await;
    assert_eq!(r.is_error, Some(true));

    let health: Value = reqwest::get(format!("{}/healthz", served.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        health["upstream"]["servers"]["sophia-memory"]
            .as_str()
            .unwrap()
            .starts_with("up"),
        "{health}"
    );

    // Legacy SSE clients see the same tools.
    let mut sse = mcp_core::testing::SseClient::connect(&served.base, None)
        .await
        .unwrap();
    sse.initialize().await.unwrap();
    let listed = sse.request("tools/list", json!({})).await.unwrap();
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"workflow__quickstart"), "{names:?}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_read_only_leaves_only_reading_tools() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let wf = repo().join("workflows");
    let client = mcp_core::testing::spawn_stdio(
        Path::new(env!("CARGO_BIN_EXE_sophia-host")),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "serve",
            "--read-only",
            "--workflows",
            wf.to_str().unwrap(),
        ],
        &[("SOPHIA_LOG", "trace")],
    )
    .await
    .unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"sophia-memory__search_nodes"));
    assert!(
        !names.contains(&"sophia-memory__create_entities"),
        "{names:?}"
    );
    assert!(!names.contains(&"workflow__quickstart"), "{names:?}");
    // A hidden tool is an unknown tool: a protocol error (-32602), as for any name not listed.
    let hidden = client
        .call_tool(
            CallToolRequestParams::new("sophia-memory__create_entities")
                .with_arguments(json!({"entities": []}).as_object().unwrap().clone()),
        )
        .await;
    assert!(hidden.is_err());
    client.cancel().await.unwrap();
}

/// The README's Claude Desktop setup: one entry, `sophia-host serve --config
/// claude_desktop_config.example.json`, offers every tool of all six servers (placeholder
/// credentials are enough to list them; no server calls its vendor to start) and every bundled
/// workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stdio_entry_offers_every_sophia_tool_and_workflow() {
    const SERVERS: [&str; 6] = [
        "sophia-memory",
        "sophia-slack",
        "sophia-linear",
        "sophia-hubspot",
        "sophia-gong",
        "sophia-snowflake",
    ];
    let bins = sibling_bins(&SERVERS);
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("claude_desktop_config.example.json");
    let wf = repo().join("workflows");
    let data = dir.path().to_str().unwrap();
    let client = mcp_core::testing::spawn_stdio(
        Path::new(env!("CARGO_BIN_EXE_sophia-host")),
        &[
            "--config",
            example.to_str().unwrap(),
            "serve",
            "--workflows",
            wf.to_str().unwrap(),
        ],
        // sophia-memory keeps its default store under XDG_DATA_HOME: a temporary one here.
        &[("XDG_DATA_HOME", data), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let offered: std::collections::BTreeSet<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&example).unwrap()).unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for server in SERVERS {
        // What the server itself lists, with the flags the example config gives it.
        let entry = &config["mcpServers"][server];
        let args: Vec<String> = entry["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let out = std::process::Command::new(bins.join(server))
            .args(&args)
            .arg("--print-tools")
            .envs(
                entry["env"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
            )
            .env("XDG_DATA_HOME", data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{server} --print-tools failed");
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        let tools = listed["tools"].as_array().unwrap();
        assert!(!tools.is_empty(), "{server}");
        for t in tools {
            expected.insert(format!("{server}__{}", t["name"].as_str().unwrap()));
        }
    }
    for f in std::fs::read_dir(&wf).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let w: Value = yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            expected.insert(format!("workflow__{}", w["name"].as_str().unwrap()));
        }
    }
    assert_eq!(offered, expected);
    client.cancel().await.unwrap();
}
