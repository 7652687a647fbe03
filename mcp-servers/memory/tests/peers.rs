//! Real peer clients against the built `sophia-memory` binary:
//!
//! * the official MCP conformance suite (`@modelcontextprotocol/conformance`), every server
//!   scenario that applies to this server, against `/mcp`;
//! * the Python `mcp` SDK client (`tests/fixtures/py_client_check.py`, shared) over stdio, `/mcp`, `/sse`;
//! * the MCP Inspector CLI (`@modelcontextprotocol/inspector@2.12.0`) over stdio, `/mcp`, `/sse`.
//!
//! The peers come from `.ci/install-peers.sh` (pinned in `.ci/peers/`), which writes
//! `target/ci-peers/env.sh` with SOPHIA_NODE22, SOPHIA_CONFORMANCE_CLI, SOPHIA_INSPECTOR_CLI and
//! SOPHIA_PYTHON. When those are not set, the tests run the (idempotent) script themselves, so
//! `cargo test --workspace` on a fresh clone runs them too; an install failure fails the test.
//! SOPHIA_SKIP_PEERS=1 skips them explicitly (offline work).
//!
//! Peer output is captured, never written to the harness's stdout; it is shown in failure
//! messages. The install and run helpers are shared with other servers' peer tests
//! (`mcp_core::testing`: `peer_tool`, `Conformance`, `Inspector`, `run_peer`).

use std::path::Path;

use mcp_core::peer;
use mcp_core::testing::{
    Conformance, HttpChild, Inspector, PeerRun, TestError, clip, path_str, py_client_check,
    run_peer as run,
};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use sophia_memory::{Durability, Store};

const BIN: &str = env!("CARGO_BIN_EXE_sophia-memory");
const TOOLS: [&str; 9] = [
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
];

/// A fresh database directory and the binary serving it over HTTP.
async fn http_server(dir: &Path) -> Result<HttpChild, TestError> {
    let db = dir.join("memory.db");
    HttpChild::spawn(
        Path::new(BIN),
        &[],
        &[
            ("SOPHIA_MEMORY_DB", path_str(&db)?),
            ("SOPHIA_MEMORY_SYNC", "normal"),
            ("SOPHIA_EMBEDDER", "none"),
        ],
    )
    .await
}

fn entity(name: &str, observation: &str) -> Value {
    json!({"name": name, "entityType": "peer-probe", "observations": [observation]})
}

/// The entities stored in the database file at `db` (read directly, after the server wrote it).
fn stored_entities(db: &Path) -> Result<Vec<Value>, TestError> {
    let mut store = Store::open(db, Durability::Normal)?;
    let graph = store.read_graph()?;
    Ok(graph
        .entities
        .into_iter()
        .map(|(_, e)| serde_json::to_value(e))
        .collect::<Result<_, _>>()?)
}

/// `open_nodes` over the server's `/mcp` with rmcp's client.
async fn open_over_mcp(server: &HttpChild, name: &str) -> Result<Value, TestError> {
    let client = server.mcp_client().await?;
    let args = json!({"names": [name]});
    let Value::Object(args) = args else {
        return Err("arguments are not an object".into());
    };
    let result = client
        .peer()
        .call_tool(CallToolRequestParams::new("open_nodes").with_arguments(args))
        .await;
    let _ = client.cancel().await;
    Ok(serde_json::to_value(result?)?)
}

// -------------------------------------------------------------------------------------------------
// (a) The official conformance suite

/// Run one server scenario against a fresh server's `/mcp`; every check must be SUCCESS (or
/// INFO/SKIPPED), none FAILURE or WARNING.
async fn conformance(scenario: &str) -> Result<(), TestError> {
    let Some(suite) = Conformance::find()? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/mcp", server.base);
    suite
        .check(&url, scenario, &dir.path().join("results"))
        .await
        .map_err(|e| {
            format!(
                "against sophia-memory: {e}\nserver log:\n{}",
                server.stderr.lock().map(|s| clip(&s)).unwrap_or_default()
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

#[tokio::test]
async fn conformance_resources_list() -> Result<(), TestError> {
    conformance("resources-list").await
}

#[tokio::test]
async fn conformance_resources_subscribe() -> Result<(), TestError> {
    conformance("resources-subscribe").await
}

#[tokio::test]
async fn conformance_resources_unsubscribe() -> Result<(), TestError> {
    conformance("resources-unsubscribe").await
}

// -------------------------------------------------------------------------------------------------
// (b) The Python `mcp` SDK client

/// Check the summary line of py_client_check.py: connected, all nine tools listed, the call
/// succeeded with the expected structured result.
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
    assert_eq!(
        summary["server"]["name"],
        "sophia-memory",
        "{}",
        run.report()
    );
    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for t in TOOLS {
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
async fn python_sdk_client_over_stdio() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("memory.db");
    let created = entity("PyStdio Ω", "created by the Python SDK over stdio");
    let args = json!({"entities": [created]}).to_string();
    let run = run(
        &python,
        &[
            path_str(&py_client_check())?,
            "--call",
            "create_entities",
            "--args",
            &args,
            "--expect-text",
            "PyStdio Ω",
            "--timeout",
            "60",
            "stdio",
            "--",
            BIN,
            "--db",
            path_str(&db)?,
            "--sync",
            "normal",
            "--embedder",
            "none",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &run,
        "stdio",
        "create_entities",
        &json!({"entities": [created]}),
    )?;
    assert_eq!(
        stored_entities(&db)?,
        vec![created],
        "the entity created over stdio is not in the database"
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_streamable_http() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let created = entity("PyHttp", "created by the Python SDK over /mcp");
    let run = run(
        &python,
        &[
            path_str(&py_client_check())?,
            "http",
            &format!("{}/mcp", server.base),
            "create_entities",
            &json!({"entities": [created]}).to_string(),
            "--expect-text",
            "PyHttp",
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &run,
        "http",
        "create_entities",
        &json!({"entities": [created]}),
    )?;
    // Another client sees it.
    let opened = open_over_mcp(&server, "PyHttp").await?;
    assert_eq!(
        opened["structuredContent"],
        json!({"entities": [created], "relations": []}),
        "open_nodes after the Python client's create: {opened}"
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_legacy_sse() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/sse", server.base);
    let created = entity("PySse", "created by the Python SDK over /sse");
    let create = run(
        &python,
        &[
            path_str(&py_client_check())?,
            "sse",
            &url,
            "create_entities",
            &json!({"entities": [created]}).to_string(),
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &create,
        "sse",
        "create_entities",
        &json!({"entities": [created]}),
    )?;
    // A second SSE session finds it.
    let search = run(
        &python,
        &[
            path_str(&py_client_check())?,
            "sse",
            &url,
            "search_nodes",
            r#"{"query":"pysse"}"#,
            "--expect-text",
            "created by the Python SDK over /sse",
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &search,
        "sse",
        "search_nodes",
        &json!({"entities": [created], "relations": []}),
    )?;
    Ok(())
}

// -------------------------------------------------------------------------------------------------
// (c) The MCP Inspector CLI

/// The Inspector CLI with its state in a temp HOME; `None` when SOPHIA_SKIP_PEERS=1.
fn inspector(home: &tempfile::TempDir) -> Result<Option<Inspector>, TestError> {
    Inspector::find(home.path())
}

/// tools/list over the Inspector lists all nine tools.
async fn list_tools(inspector: &Inspector, target: &[&str]) -> Result<(), TestError> {
    let names = inspector.tool_names(target).await?;
    for t in TOOLS {
        assert!(
            names.iter().any(|n| n == t),
            "inspector tools/list lacks {t}: {names:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_stdio() -> Result<(), TestError> {
    let home = tempfile::tempdir()?;
    let Some(inspector) = inspector(&home)? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("memory.db");
    let db_env = format!("SOPHIA_MEMORY_DB={}", path_str(&db)?);
    let target = [
        "-e",
        db_env.as_str(),
        "-e",
        "SOPHIA_MEMORY_SYNC=normal",
        "-e",
        "SOPHIA_EMBEDDER=none",
        BIN,
    ];
    list_tools(&inspector, &target).await?;
    let created = entity("InspectorStdio", "created by the Inspector CLI over stdio");
    let result = inspector
        .call_ok(&target, "create_entities", &json!({"entities": [created]}))
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    // A second process (a new stdio server on the same file) reads it back.
    let result = inspector
        .call_ok(&target, "search_nodes", &json!({"query": "inspectorstdio"}))
        .await?;
    assert_eq!(
        result["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    assert_eq!(stored_entities(&db)?, vec![created]);
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_streamable_http() -> Result<(), TestError> {
    let home = tempfile::tempdir()?;
    let Some(inspector) = inspector(&home)? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/mcp", server.base);
    let target = [url.as_str(), "--transport", "http"];
    list_tools(&inspector, &target).await?;
    let created = entity("InspectorHttp", "created by the Inspector CLI over /mcp");
    let result = inspector
        .call_ok(&target, "create_entities", &json!({"entities": [created]}))
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    let opened = open_over_mcp(&server, "InspectorHttp").await?;
    assert_eq!(
        opened["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    // A tool error is reported as one (exit code 5, tool_is_error), with our message.
    inspector
        .call_err(
            &target,
            "add_observations",
            &json!({"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
            "Entity with name Nobody not found",
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_legacy_sse() -> Result<(), TestError> {
    let home = tempfile::tempdir()?;
    let Some(inspector) = inspector(&home)? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/sse", server.base);
    let target = [url.as_str(), "--transport", "sse"];
    list_tools(&inspector, &target).await?;
    let created = entity("InspectorSse", "created by the Inspector CLI over /sse");
    let result = inspector
        .call_ok(&target, "create_entities", &json!({"entities": [created]}))
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    let result = inspector
        .call_ok(&target, "open_nodes", &json!({"names": ["InspectorSse"]}))
        .await?;
    assert_eq!(
        result["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("\"name\": \"InspectorSse\""),
        "open_nodes text: {text:?}"
    );
    Ok(())
}
