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

/// A server process spoken to with raw newline-delimited JSON-RPC over stdio.
pub struct RawStdio {
    pub child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    next_id: i64,
}

impl RawStdio {
    pub async fn spawn(db: &std::path::Path, extra_env: &[(&str, &str)]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(bin())
            .env("SOPHIA_MEMORY_DB", db)
            .env("SOPHIA_MEMORY_SYNC", "normal")
            // No model download in tests (no network beyond 127.0.0.1); tests that need vectors
            // pass SOPHIA_EMBEDDER=hash.
            .env("SOPHIA_EMBEDDER", "none")
            .envs(extra_env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sophia-memory");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut me = Self {
            child,
            stdin,
            lines: tokio::io::BufReader::new(stdout).lines(),
            next_id: 0,
        };
        let init = me
            .request(
                "initialize",
                serde_json::json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}),
            )
            .await;
        assert!(init.get("result").is_some(), "{init}");
        me.send(&serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        me
    }

    pub async fn send(&mut self, msg: &Value) {
        use tokio::io::AsyncWriteExt;
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    /// Send a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await;
        id
    }

    /// Next line from stdout, parsed.
    pub async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("no reply within 30s")
            .expect("read")
            .expect("stdout closed");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        loop {
            let v = self.recv().await;
            if v.get("id") == Some(&serde_json::json!(id)) {
                return v;
            }
        }
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
