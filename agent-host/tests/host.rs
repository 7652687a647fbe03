//! The host against the real `sophia-memory` binary over stdio and Streamable HTTP (both on one
//! store file), a server that cannot start, tool filters, and the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_core::testing::HttpChild;
use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::{HostError, Hub};

fn host_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sophia-host"))
}

fn config(v: Value) -> HostConfig {
    HostConfig::parse(&v.to_string(), "test").unwrap()
}

fn structured(r: &rmcp::model::CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "{r:?}");
    r.structured_content.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_over_stdio_and_http_become_one_tool_list_and_a_dead_one_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let db = db.to_str().unwrap();
    let memory = memory_bin();
    let remote = HttpChild::spawn(
        &memory,
        &[],
        &[("SOPHIA_MEMORY_DB", db), ("SOPHIA_EMBEDDER", "none")],
    )
    .await
    .unwrap();
    let cfg = config(json!({"mcpServers": {
        "memory": {"command": memory, "env": {"SOPHIA_MEMORY_DB": db, "SOPHIA_EMBEDDER": "none"}},
        "remote": {"url": format!("{}/mcp", remote.base)},
        "broken": {"command": "/nonexistent/sophia-nothing"},
        "off": {"command": "whatever", "disabled": true}
    }}));
    let hub = Hub::connect(&cfg, Duration::from_secs(30)).await;
    let status = hub.status();
    assert!(status["memory"].starts_with("up ("), "{status:?}");
    assert!(status["remote"].starts_with("up ("), "{status:?}");
    assert!(
        status["broken"].starts_with("failed: cannot start"),
        "{status:?}"
    );
    assert_eq!(status["off"], "disabled");

    let names: Vec<&str> = hub.tools().iter().map(|t| t.name.as_str()).collect();
    for n in [
        "memory__create_entities",
        "memory__search_nodes",
        "remote__create_entities",
        "remote__semantic_search",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // Schemas and annotations travel unchanged; only the name is qualified.
    let listed = hub.find("remote__search_nodes").unwrap().as_listed();
    assert_eq!(listed.name, "remote__search_nodes");
    assert!(listed.output_schema.is_some());
    assert_eq!(listed.annotations.unwrap().read_only_hint, Some(true));

    // Written through the stdio server, read through the HTTP one: the same store behind both.
    let created = hub
        .call(
            "memory.create_entities",
            json!({"entities": [{"name": "Acme", "entityType": "company", "observations": ["renewal in May"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(structured(&created)["entities"][0]["name"], "Acme");
    let found = hub
        .call("remote__search_nodes", json!({"query": "renewal"}))
        .await
        .unwrap();
    assert_eq!(structured(&found)["entities"][0]["name"], "Acme");

    // A tool error stays a tool result (isError), not a host failure.
    let failed = hub
        .call(
            "memory__add_observations",
            json!({"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));

    assert!(matches!(
        hub.call("memory.no_such_tool", json!({})).await,
        Err(HostError::UnknownTool(_))
    ));
    assert!(matches!(
        hub.call("memory.read_graph", json!([1, 2])).await,
        Err(HostError::BadArguments(_))
    ));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_allow_lists_hide_tools_and_refuse_calls() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let memory = memory_bin();
    let env = json!({"SOPHIA_MEMORY_DB": db, "SOPHIA_EMBEDDER": "none"});
    let cfg = config(json!({"mcpServers": {
        "ro": {"command": memory, "env": env, "readOnly": true},
        "few": {"command": memory, "env": env, "allowedTools": ["read_graph", "create_entities"], "disabledTools": ["create_entities"]}
    }}));
    let hub = Hub::connect(&cfg, Duration::from_secs(30)).await;
    let status = hub.status();
    assert!(status.values().all(|s| s.starts_with("up")), "{status:?}");
    let ro: Vec<&str> = hub
        .tools()
        .iter()
        .filter(|t| t.server == "ro")
        .map(|t| t.tool.name.as_ref())
        .collect();
    assert!(ro.contains(&"search_nodes") && ro.contains(&"semantic_search"));
    assert!(!ro.contains(&"create_entities") && !ro.contains(&"store_memory"));
    let few: Vec<&str> = hub
        .tools()
        .iter()
        .filter(|t| t.server == "few")
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(few, vec!["few__read_graph"]);
    assert!(matches!(
        hub.call("ro.create_entities", json!({"entities": []}))
            .await,
        Err(HostError::UnknownTool(_))
    ));
    hub.shutdown().await;
}

fn host(config: &Path, args: &[&str]) -> std::process::Output {
    let path = format!(
        "{}:{}",
        memory_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = config.parent().unwrap();
    std::process::Command::new(host_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("PATH", path)
        .env("SOPHIA_MEMORY_DB", dir.join("cli.db"))
        .env("SOPHIA_EMBEDDER", "none")
        .env("SOPHIA_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn the_example_desktop_config_works_as_a_host_config_from_the_command_line() {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../claude_desktop_config.example.json");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("host.json");
    std::fs::copy(&example, &cfg).unwrap();
    let parsed = HostConfig::load(&cfg).unwrap();
    assert!(parsed.servers.contains_key("sophia-memory"));

    let out = host(&cfg, &["tools", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        listed["servers"]["sophia-memory"]
            .as_str()
            .unwrap()
            .starts_with("up ("),
        "{listed}"
    );
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"sophia-memory__store_memory"), "{names:?}");

    let out = host(
        &cfg,
        &[
            "call",
            "sophia-memory.create_entities",
            r#"{"entities":[{"name":"Globex","entityType":"company","observations":[]}]}"#,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entities"][0]["name"], "Globex");
    // A tool error: exit code 1, the message on stderr.
    let out = host(
        &cfg,
        &[
            "call",
            "sophia-memory__add_observations",
            r#"{"observations":[{"entityName":"Nobody","contents":["x"]}]}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nobody"));
    // Bad JSON arguments: usage error, nothing called.
    let out = host(&cfg, &["call", "sophia-memory.read_graph", "{not json"]);
    assert_eq!(out.status.code(), Some(2));
}
