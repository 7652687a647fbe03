//! Many MCP servers as one: every configured server connected concurrently (a failure is
//! reported and skipped, never fatal), every tool offered as `<server>__<tool>` with its schemas
//! and annotations intact, calls routed back with the server's timeout.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, Tool},
    service::RunningService,
    transport::{
        StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;

use crate::config::{HostConfig, ServerEntry, Transport};
use crate::naming;

/// How long a server may take to start and answer `initialize` + `tools/list`.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

type Client = RunningService<RoleClient, ()>;

/// A configured server and how it is doing.
pub struct ServerSlot {
    pub name: String,
    pub entry: ServerEntry,
    pub state: ServerState,
}

/// Up with its tools, or why not.
pub enum ServerState {
    Up {
        client: Arc<Client>,
        tools: Vec<Tool>,
    },
    Failed(String),
    Disabled,
}

/// One aggregated tool.
#[derive(Debug, Clone)]
pub struct HostTool {
    /// `<server>__<tool>`, sanitised, at most 64 characters, unique.
    pub name: String,
    pub server: String,
    /// The tool as the server lists it (its own name).
    pub tool: Tool,
}

impl HostTool {
    /// The tool under its aggregated name (schemas and annotations unchanged).
    pub fn as_listed(&self) -> Tool {
        let mut t = self.tool.clone();
        t.name = self.name.clone().into();
        t
    }
}

/// Why a host call failed before or outside the tool itself.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("no tool {0:?}: `sophia-host tools` lists them (as server__tool or server.tool)")]
    UnknownTool(String),
    #[error("server {server:?} is not available: {reason}")]
    ServerDown { server: String, reason: String },
    #[error("{tool} did not answer within {}s (timeoutSeconds in the host config)", .timeout.as_secs_f64())]
    Timeout { tool: String, timeout: Duration },
    #[error("{tool} failed at the protocol level: {reason}")]
    Protocol { tool: String, reason: String },
    #[error("arguments must be a JSON object, not {0}")]
    BadArguments(String),
}

/// The connected servers.
pub struct Hub {
    pub servers: Vec<ServerSlot>,
    tools: Vec<HostTool>,
    by_name: HashMap<String, usize>,
}

impl Hub {
    /// Connect to every enabled server at once; each gets `startup` to come up.
    pub async fn connect(config: &HostConfig, startup: Duration) -> Self {
        let attempts = config.servers.iter().map(|(name, entry)| async move {
            let state = if entry.disabled {
                ServerState::Disabled
            } else {
                match tokio::time::timeout(startup, connect_one(entry)).await {
                    Ok(Ok((client, tools))) => ServerState::Up {
                        client: Arc::new(client),
                        tools,
                    },
                    Ok(Err(why)) => ServerState::Failed(why),
                    Err(_) => ServerState::Failed(format!(
                        "did not start within {}s",
                        startup.as_secs_f64()
                    )),
                }
            };
            if let ServerState::Failed(why) = &state {
                tracing::warn!(server = %name, "skipped: {why}");
            }
            ServerSlot {
                name: name.clone(),
                entry: entry.clone(),
                state,
            }
        });
        let servers = join_all(attempts).await;
        Self::from_slots(servers)
    }

    fn from_slots(servers: Vec<ServerSlot>) -> Self {
        let mut wanted: Vec<(String, String, Tool)> = Vec::new();
        for slot in &servers {
            if let ServerState::Up { tools, .. } = &slot.state {
                for t in tools {
                    let ro = t.annotations.as_ref().and_then(|a| a.read_only_hint);
                    if slot.entry.offers(&t.name, ro) {
                        wanted.push((slot.name.clone(), t.name.to_string(), t.clone()));
                    }
                }
            }
        }
        let names = naming::assign(
            &wanted
                .iter()
                .map(|(s, t, _)| (s.as_str(), t.as_str()))
                .collect::<Vec<_>>(),
        );
        let tools: Vec<HostTool> = wanted
            .into_iter()
            .zip(names)
            .map(|((server, _, tool), name)| HostTool { name, server, tool })
            .collect();
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Self {
            servers,
            tools,
            by_name,
        }
    }

    /// Every offered tool, in server order.
    pub fn tools(&self) -> &[HostTool] {
        &self.tools
    }

    /// A tool by aggregated name (`server__tool`) or as `server.tool`.
    pub fn find(&self, name: &str) -> Option<&HostTool> {
        if let Some(i) = self.by_name.get(name) {
            return self.tools.get(*i);
        }
        let (server, tool) = name.split_once('.')?;
        self.tools
            .iter()
            .find(|t| t.server == server && t.tool.name == tool)
    }

    /// Call a tool with JSON arguments, within its server's timeout.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<CallToolResult, HostError> {
        let tool = self
            .find(name)
            .ok_or_else(|| HostError::UnknownTool(name.to_string()))?;
        let slot = self
            .servers
            .iter()
            .find(|s| s.name == tool.server)
            .ok_or_else(|| HostError::UnknownTool(name.to_string()))?;
        let ServerState::Up { client, .. } = &slot.state else {
            return Err(HostError::ServerDown {
                server: slot.name.clone(),
                reason: slot.describe(),
            });
        };
        let args = match arguments {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => return Err(HostError::BadArguments(other.to_string())),
        };
        let params = CallToolRequestParams::new(tool.tool.name.to_string()).with_arguments(args);
        let timeout = slot.entry.call_timeout();
        match tokio::time::timeout(timeout, client.call_tool(params)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(HostError::Protocol {
                tool: tool.name.clone(),
                reason: e.to_string(),
            }),
            Err(_) => Err(HostError::Timeout {
                tool: tool.name.clone(),
                timeout,
            }),
        }
    }

    /// Each server's state, one line each.
    pub fn status(&self) -> BTreeMap<String, String> {
        self.servers
            .iter()
            .map(|s| (s.name.clone(), s.describe()))
            .collect()
    }

    /// Close every connection (stdio children exit when their stdin closes).
    pub async fn shutdown(self) {
        for slot in self.servers {
            if let ServerState::Up { client, .. } = slot.state
                && let Ok(client) = Arc::try_unwrap(client)
            {
                let _ = client.cancel().await;
            }
        }
    }
}

impl ServerSlot {
    /// `up (N tools)`, `failed: why` or `disabled`.
    pub fn describe(&self) -> String {
        match &self.state {
            ServerState::Up { tools, .. } => format!("up ({} tools)", tools.len()),
            ServerState::Failed(why) => format!("failed: {why}"),
            ServerState::Disabled => "disabled".into(),
        }
    }
}

async fn connect_one(entry: &ServerEntry) -> Result<(Client, Vec<Tool>), String> {
    let client = match entry.transport()? {
        Transport::Stdio => {
            let command = entry.command.clone().unwrap_or_default();
            let mut cmd = tokio::process::Command::new(resolve_command(&command));
            cmd.args(&entry.args).envs(&entry.env);
            // A stdio server's info lines would interleave with our output; warnings still show.
            if !entry.env.contains_key("SOPHIA_LOG") {
                cmd.env("SOPHIA_LOG", "warn");
            }
            if let Some(cwd) = &entry.cwd {
                cmd.current_dir(cwd);
            }
            let (transport, _) = TokioChildProcess::builder(cmd)
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start {command:?}: {e}"))?;
            ().serve(transport)
                .await
                .map_err(|e| format!("{command:?} did not initialize: {e}"))?
        }
        Transport::Http => {
            let url = entry.url.clone().unwrap_or_default();
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.clone());
            for (k, v) in &entry.headers {
                match v.strip_prefix("Bearer ") {
                    Some(token) if k.eq_ignore_ascii_case("authorization") => {
                        config.auth_header = Some(token.to_string());
                    }
                    _ => {
                        let name = http::HeaderName::from_bytes(k.as_bytes())
                            .map_err(|_| format!("header name {k:?} is not valid"))?;
                        let value = http::HeaderValue::from_str(v)
                            .map_err(|_| format!("the value of header {k:?} is not valid"))?;
                        config.custom_headers.insert(name, value);
                    }
                }
            }
            ().serve(StreamableHttpClientTransport::from_config(config))
                .await
                .map_err(|e| format!("{url} did not initialize: {e}"))?
        }
        Transport::Sse => {
            return Err(
                "the legacy SSE client transport is not supported by the host yet; use the \
                 server's Streamable HTTP endpoint (/mcp)"
                    .into(),
            );
        }
    };
    let tools = client
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list failed: {e}"))?;
    Ok((client, tools))
}

/// A bare program name not found on `PATH` is looked up next to the host's own executable, so
/// `target/release/sophia-host` finds `target/release/sophia-memory` (and an installed suite
/// finds its siblings) without touching `PATH`.
fn resolve_command(command: &str) -> std::path::PathBuf {
    let plain = std::path::PathBuf::from(command);
    if command.contains(std::path::MAIN_SEPARATOR) || command.contains('/') {
        return plain;
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|dir| dir.join(command).is_file()));
    if on_path {
        return plain;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(command)))
        .filter(|p| p.is_file())
        .unwrap_or(plain)
}
