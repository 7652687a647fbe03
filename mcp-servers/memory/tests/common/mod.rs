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
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} should have failed: {:?}",
        r.structured_content
    );
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
        .map(|a| {
            a.iter()
                .map(|e| e["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The built binary.
pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_sophia-memory"))
}

/// sophia-memory spoken to with raw newline-delimited JSON-RPC over stdio
/// (`mcp_core::testing::RawStdio` with this server's environment; failures panic).
pub struct RawStdio(pub mcp_core::testing::RawStdio);

impl std::ops::Deref for RawStdio {
    type Target = mcp_core::testing::RawStdio;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for RawStdio {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl RawStdio {
    pub async fn spawn(db: &std::path::Path, extra_env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.env("SOPHIA_MEMORY_DB", db)
            .env("SOPHIA_MEMORY_SYNC", "normal")
            // No model download in tests (no network beyond 127.0.0.1); tests that need vectors
            // pass SOPHIA_EMBEDDER=hash.
            .env("SOPHIA_EMBEDDER", "none")
            .envs(extra_env.iter().copied());
        Self(
            mcp_core::testing::RawStdio::spawn(cmd)
                .await
                .expect("spawn and initialize sophia-memory"),
        )
    }

    pub async fn send(&mut self, msg: &Value) {
        self.0.send(msg).await.expect("write");
    }

    /// Send a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.0.send_request(method, params).await.expect("write")
    }

    /// Next line from stdout, parsed.
    pub async fn recv(&mut self) -> Value {
        self.0.recv().await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        self.0
            .request(method, params)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn tool(&mut self, name: &str, args: Value) -> Value {
        let v = self
            .request(
                "tools/call",
                serde_json::json!({"name": name, "arguments": args}),
            )
            .await;
        assert!(
            v["result"]["isError"] != serde_json::json!(true),
            "{name}: {v}"
        );
        v["result"]["structuredContent"].clone()
    }
}

impl RawStdio {
    /// read_graph through every page.
    pub async fn read_all(&mut self) -> Value {
        let mut entities = Vec::new();
        let mut relations = Vec::new();
        let mut args = serde_json::json!({});
        loop {
            let page = self.tool("read_graph", args.clone()).await;
            entities.extend(page["entities"].as_array().cloned().unwrap_or_default());
            relations.extend(page["relations"].as_array().cloned().unwrap_or_default());
            match page.get("next_cursor") {
                Some(c) => args = serde_json::json!({ "cursor": c }),
                None => return serde_json::json!({"entities": entities, "relations": relations}),
            }
        }
    }
}

/// The nine graph tools of the reference server plus the seven semantic-memory tools.
pub const TOOL_COUNT: usize = 16;
