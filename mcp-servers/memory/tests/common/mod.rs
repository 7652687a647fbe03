//! Helpers shared by sophia-memory's integration tests.
#![allow(dead_code)]

use mcp_core::testing::Client;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::Value;
use sophia_memory::{MemoryConfig, MemoryServer, Store};

/// A server on a fresh in-memory store with the given budget.
pub fn server_with_budget(max_chars: usize) -> MemoryServer {
    let mut config = MemoryConfig::new(":memory:");
    config.budget = mcp_core::Budget::new(max_chars);
    MemoryServer::from_store(Store::open_in_memory().expect("in-memory store"), config)
}

pub fn server() -> MemoryServer {
    server_with_budget(mcp_core::budget::DEFAULT_MAX_RESULT_CHARS)
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// The structured content of a successful call.
pub async fn ok(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args).await;
    assert_ne!(r.is_error, Some(true), "{tool} failed: {}", text(&r));
    r.structured_content.clone().expect("structured content")
}

/// The error text of a failed call (asserts it failed).
pub async fn err(client: &Client, tool: &str, args: Value) -> String {
    let r = call(client, tool, args).await;
    assert_eq!(r.is_error, Some(true), "{tool} should have failed: {:?}", r.structured_content);
    text(&r)
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn names(v: &Value) -> Vec<String> {
    v["entities"]
        .as_array()
        .map(|a| a.iter().map(|e| e["name"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}
