//! Real peer clients against `sophia-host serve --transport http`, with the real `sophia-memory`
//! behind it over stdio and the bundled workflows as tools:
//!
//! * the official MCP conformance suite (`@modelcontextprotocol/conformance`): every server
//!   scenario that applies to any server, against the gateway's `/mcp`;
//! * the Python `mcp` SDK client over `/mcp` and `/sse`;
//! * the MCP Inspector CLI over `/mcp` and `/sse`.
//!
//! Scenarios left out, and why (`conformance list` names them all): `tools-call-*`,
//! `json-schema-2020-12`, `elicitation-*` and `server-sse-polling` call fixture tools
//! (`test_simple_text`, `test_reconnection`, ...) that only the suite's reference server has;
//! `logging-set-level` and `completion-complete` test optional capabilities the gateway does not
//! declare; `resources-subscribe`/`-unsubscribe` test subscriptions the gateway does not offer,
//! and the `prompts-*` and resource-reading scenarios read fixture prompts and resources
//! (`test://…`) of the suite's own server. `resources-list` runs.
//!
//! The peers are installed and run by `mcp_core::testing` (`.ci/install-peers.sh`, pinned in
//! `.ci/peers/`); SOPHIA_SKIP_PEERS=1 skips these tests explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};

use common::*;
use mcp_core::peer;
use mcp_core::testing::{
    Conformance, HttpChild, Inspector, PeerRun, TestError, clip, path_str, py_client_check,
    run_peer,
};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const HOST: &str = env!("CARGO_BIN_EXE_sophia-host");

/// Tools every client of this gateway must see: memory's tools under their namespaced names and
/// a bundled workflow.
const EXPECTED: [&str; 4] = [
    "sophia-memory__create_entities",
    "sophia-memory__search_nodes",
    "sophia-memory__open_nodes",
    "workflow__quickstart",
];

/// The gateway over HTTP on a free port with a fresh `sophia-memory` database behind it.
async fn gateway(dir: &Path) -> Result<HttpChild, TestError> {
    let config = dir.join("host.json");
    let cfg = json!({"mcpServers": {"sophia-memory": {"command": memory_bin(), "env": {
        "SOPHIA_MEMORY_DB": dir.join("m.db"), "SOPHIA_MEMORY_SYNC": "normal",
        "SOPHIA_EMBEDDER": "none"}}}});
    std::fs::write(&config, cfg.to_string())?;
    let workflows: PathBuf = repo().join("workflows");
    HttpChild::spawn_command(
        Path::new(HOST),
        &["--config", path_str(&config)?, "serve"],
        &["--workflows", path_str(&workflows)?],
        &[("SOPHIA_LOG", "info")],
    )
    .await
}

fn log_of(gateway: &HttpChild) -> String {
    gateway.stderr.lock().map(|s| clip(&s)).unwrap_or_default()
}

fn entity(name: &str, observation: &str) -> Value {
    json!({"name": name, "entityType": "peer-probe", "observations": [observation]})
}

/// `sophia-memory__open_nodes` through the gateway with rmcp's client: what another client sees.
async fn open_via_gateway(gateway: &HttpChild, name: &str) -> Result<Value, TestError> {
    let client = gateway.mcp_client().await?;
    let Value::Object(args) = json!({"names": [name]}) else {
        unreachable!()
    };
    let result = client
        .call_tool(CallToolRequestParams::new("sophia-memory__open_nodes").with_arguments(args))
        .await;
    let _ = client.cancel().await;
    Ok(serde_json::to_value(result?)?)
}

// -------------------------------------------------------------------------------------------------
// (a) The official conformance suite

/// One server scenario against a fresh gateway's `/mcp`: every check SUCCESS (or INFO/SKIPPED),
/// none FAILURE or WARNING.
async fn conformance(scenario: &str) -> Result<(), TestError> {
    let Some(suite) = Conformance::find()? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path()).await?;
    let url = format!("{}/mcp", gateway.base);
    suite
        .check(&url, scenario, &dir.path().join("results"))
        .await
        .map_err(|e| {
            format!(
                "against sophia-host serve: {e}\ngateway log:\n{}",
                log_of(&gateway)
            )
            .into()
        })
}

#[tokio::test]
async fn conformance_server_initialize() -> Result<(), TestError> {
    conformance("server-initialize").await
}

#[tokio::test]
async fn conformance_ping() -> Result<(), TestError> {
    conformance("ping").await
}

#[tokio::test]
async fn conformance_tools_list() -> Result<(), TestError> {
    conformance("tools-list").await
}

#[tokio::test]
async fn conformance_server_sse_multiple_streams() -> Result<(), TestError> {
    conformance("server-sse-multiple-streams").await
}

#[tokio::test]
async fn conformance_dns_rebinding_protection() -> Result<(), TestError> {
    conformance("dns-rebinding-protection").await
}

// -------------------------------------------------------------------------------------------------
// (b) The Python `mcp` SDK client

/// The summary line of py_client_check.py: connected to the gateway (not to the server behind
/// it), every expected tool listed, the call succeeded with `structured`.
fn check_py_summary(
    run: &PeerRun,
    transport: &str,
    tool: &str,
    structured: &Value,
) -> Result<(), TestError> {
    let summary = run.json_line()?;
    assert!(
        run.success() && summary["ok"] == json!(true),
        "Python client over {transport} failed: {}",
        run.report()
    );
    assert_eq!(summary["transport"], transport);
    assert_eq!(summary["server"]["name"], "sophia-host", "{}", run.report());
    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for t in EXPECTED {
        assert!(
            tools.contains(&t),
            "tools/list over {transport} lacks {t}: {tools:?}"
        );
    }
    assert_eq!(summary["call"]["name"], tool);
    assert_eq!(summary["call"]["isError"], json!(false), "{}", run.report());
    assert_eq!(
        &summary["call"]["structuredContent"],
        structured,
        "{tool} over {transport}: {}",
        run.report()
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_streamable_http() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path()).await?;
    let created = entity("PyGateway", "created by the Python SDK through the gateway");
    let args = json!({"entities": [created]});
    let run = run_peer(
        &python,
        &[
            path_str(&py_client_check())?,
            "http",
            &format!("{}/mcp", gateway.base),
            "sophia-memory__create_entities",
            &args.to_string(),
            "--expect-text",
            "PyGateway",
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(&run, "http", "sophia-memory__create_entities", &args)?;
    // It reached the server behind the gateway: another client reads it back.
    let opened = open_via_gateway(&gateway, "PyGateway").await?;
    assert_eq!(
        opened["structuredContent"],
        json!({"entities": [created], "relations": []}),
        "open_nodes after the Python client's create: {opened}\n{}",
        log_of(&gateway)
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_legacy_sse() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path()).await?;
    let url = format!("{}/sse", gateway.base);
    let created = entity(
        "PyGatewaySse",
        "created by the Python SDK over the gateway's /sse",
    );
    let args = json!({"entities": [created]});
    let create = run_peer(
        &python,
        &[
            path_str(&py_client_check())?,
            "sse",
            &url,
            "sophia-memory__create_entities",
            &args.to_string(),
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(&create, "sse", "sophia-memory__create_entities", &args)?;
    // A second SSE session finds it.
    let search = run_peer(
        &python,
        &[
            path_str(&py_client_check())?,
            "sse",
            &url,
            "sophia-memory__search_nodes",
            r#"{"query":"pygatewaysse"}"#,
            "--expect-text",
            "over the gateway's /sse",
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &search,
        "sse",
        "sophia-memory__search_nodes",
        &json!({"entities": [created], "relations": []}),
    )?;
    Ok(())
}

// -------------------------------------------------------------------------------------------------
// (c) The MCP Inspector CLI

async fn inspector_lists_expected_tools(
    inspector: &Inspector,
    target: &[&str],
) -> Result<(), TestError> {
    let names = inspector.tool_names(target).await?;
    for t in EXPECTED {
        assert!(
            names.iter().any(|n| n == t),
            "inspector tools/list lacks {t}: {names:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_streamable_http() -> Result<(), TestError> {
    let home = tempfile::tempdir()?;
    let Some(inspector) = Inspector::find(home.path())? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path()).await?;
    let url = format!("{}/mcp", gateway.base);
    let target = [url.as_str(), "--transport", "http"];
    inspector_lists_expected_tools(&inspector, &target).await?;
    let created = entity(
        "InspectorGateway",
        "created by the Inspector CLI through /mcp",
    );
    let result = inspector
        .call_ok(
            &target,
            "sophia-memory__create_entities",
            &json!({"entities": [created]}),
        )
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    let opened = open_via_gateway(&gateway, "InspectorGateway").await?;
    assert_eq!(
        opened["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    // The server's tool error comes through the gateway as one (exit 5, isError), with the
    // server's own message.
    inspector
        .call_err(
            &target,
            "sophia-memory__add_observations",
            &json!({"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
            "Entity with name Nobody not found",
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_legacy_sse() -> Result<(), TestError> {
    let home = tempfile::tempdir()?;
    let Some(inspector) = Inspector::find(home.path())? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let gateway = gateway(dir.path()).await?;
    let url = format!("{}/sse", gateway.base);
    let target = [url.as_str(), "--transport", "sse"];
    inspector_lists_expected_tools(&inspector, &target).await?;
    let created = entity(
        "InspectorGatewaySse",
        "created by the Inspector CLI through /sse",
    );
    inspector
        .call_ok(
            &target,
            "sophia-memory__create_entities",
            &json!({"entities": [created]}),
        )
        .await?;
    let result = inspector
        .call_ok(
            &target,
            "sophia-memory__open_nodes",
            &json!({"names": ["InspectorGatewaySse"]}),
        )
        .await?;
    assert_eq!(
        result["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    Ok(())
}

// Resources are served too now (the memory graph, named sophia-memory__…); the scenarios that
// list and read resources apply. Subscriptions are not offered by the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_resources_list() -> Result<(), TestError> {
    conformance("resources-list").await
}
