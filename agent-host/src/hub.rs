//! Many MCP servers as one: every configured server connected concurrently (a failure is
//! reported and skipped, never fatal), every tool offered as `<server>__<tool>` with its schemas
//! and annotations intact, calls routed back with the server's timeout.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::join_all;
use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification,
        CancelledNotificationParam, ClientRequest, RequestId, ServerResult, Tool,
    },
    service::{Peer, PeerRequestOptions, RunningService},
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

/// Longest wait between two restarts of a server that keeps failing.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

/// A configured server and how it is doing.
pub struct ServerSlot {
    pub name: String,
    pub entry: ServerEntry,
    state: RwLock<ServerState>,
    /// Serialises reconnects; counts consecutive failures for the backoff.
    restart: tokio::sync::Mutex<Restart>,
}

#[derive(Default)]
struct Restart {
    failures: u32,
    not_before: Option<Instant>,
    restarts: u32,
}

/// Up with its tools, or why not.
#[derive(Clone)]
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
                state: RwLock::new(state),
                restart: tokio::sync::Mutex::new(Restart::default()),
            }
        });
        let servers = join_all(attempts).await;
        Self::from_slots(servers)
    }

    fn from_slots(servers: Vec<ServerSlot>) -> Self {
        let mut wanted: Vec<(String, String, Tool)> = Vec::new();
        for slot in &servers {
            if let ServerState::Up { tools, .. } = &slot.state() {
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

    /// Call a tool with JSON arguments. The server's timeout restarts whenever the server
    /// reports progress; when it runs out the server is told to cancel. Dropping the returned
    /// future (Ctrl-C) cancels the call on the server too. A server that died is started again
    /// (with backoff) before the call; if it dies during a call, a read-only or idempotent tool
    /// is retried once on the restarted server, anything else reports that the call may or may
    /// not have taken effect.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<CallToolResult, HostError> {
        let tool = self
            .find(name)
            .ok_or_else(|| HostError::UnknownTool(name.to_string()))?;
        let slot = self
            .servers
            .iter()
            .find(|s| s.name == tool.server)
            .ok_or_else(|| HostError::UnknownTool(name.to_string()))?;
        let args = match arguments {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => return Err(HostError::BadArguments(other.to_string())),
        };
        let timeout = slot.entry.call_timeout();
        let params = CallToolRequestParams::new(tool.tool.name.to_string()).with_arguments(args);
        let repeatable = tool
            .tool
            .annotations
            .as_ref()
            .is_some_and(|a| a.read_only_hint == Some(true) || a.idempotent_hint == Some(true));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = slot.live_client().await?;
            match send_call(client.peer(), params.clone(), timeout).await {
                Ok(result) => return Ok(result),
                Err(ServiceError::Timeout { .. }) => {
                    return Err(HostError::Timeout {
                        tool: tool.name.clone(),
                        timeout,
                    });
                }
                Err(e)
                    if client.is_transport_closed()
                        || matches!(e, ServiceError::TransportClosed) =>
                {
                    tracing::warn!(server = %slot.name, "the server went away during {}: {e}", tool.name);
                    if repeatable && attempt == 1 {
                        continue;
                    }
                    return Err(HostError::ServerDown {
                        server: slot.name.clone(),
                        reason: format!(
                            "it exited during the call to {} ({e}); it is restarted on the next \
                             call, and this call may or may not have taken effect",
                            tool.tool.name
                        ),
                    });
                }
                Err(e) => {
                    return Err(HostError::Protocol {
                        tool: tool.name.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// How often each server was restarted.
    pub async fn restarts(&self) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for s in &self.servers {
            out.insert(s.name.clone(), s.restart.lock().await.restarts);
        }
        out
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
            let state = slot.state();
            drop(slot);
            if let ServerState::Up { client, .. } = state
                && let Ok(client) = Arc::try_unwrap(client)
            {
                let _ = client.cancel().await;
            }
        }
    }
}

/// Send one `tools/call` with rmcp's request options (timeout reset by progress, a cancel
/// notification when it expires) and a cancel notification if the future is dropped.
async fn send_call(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    timeout: Duration,
) -> Result<CallToolResult, ServiceError> {
    let mut options = PeerRequestOptions::with_timeout(timeout);
    options.reset_timeout_on_progress = true;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = peer.send_request_with_option(request, options).await?;
    let mut guard = CancelOnDrop {
        peer: Some(peer.clone()),
        id: handle.id.clone(),
    };
    let response = handle.await_response().await;
    guard.peer = None;
    match response? {
        ServerResult::CallToolResult(r) => Ok(r),
        _ => Err(ServiceError::UnexpectedResponse),
    }
}

/// Tells the server to stop a request whose caller went away.
struct CancelOnDrop {
    peer: Option<Peer<RoleClient>>,
    id: RequestId,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(peer) = self.peer.take() else { return };
        let id = self.id.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let notification = CancelledNotification::new(CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the host's caller".into()),
                ));
                let _ = peer.send_notification(notification.into()).await;
            });
        }
    }
}

impl ServerSlot {
    /// The current state (a snapshot).
    pub fn state(&self) -> ServerState {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_state(&self, state: ServerState) {
        match self.state.write() {
            Ok(mut s) => *s = state,
            Err(p) => *p.into_inner() = state,
        }
    }

    /// A client whose connection is open: the current one, or a new one after a restart
    /// (waiting out the backoff of earlier failed restarts).
    async fn live_client(&self) -> Result<Arc<Client>, HostError> {
        if let ServerState::Up { client, .. } = self.state()
            && !client.is_transport_closed()
        {
            return Ok(client);
        }
        if matches!(self.state(), ServerState::Disabled) {
            return Err(HostError::ServerDown {
                server: self.name.clone(),
                reason: "disabled in the configuration".into(),
            });
        }
        let mut restart = self.restart.lock().await;
        // Another call may have restarted it while this one waited for the lock.
        if let ServerState::Up { client, .. } = self.state()
            && !client.is_transport_closed()
        {
            return Ok(client);
        }
        if let Some(t) = restart.not_before {
            let now = Instant::now();
            if t > now {
                tokio::time::sleep(t - now).await;
            }
        }
        tracing::warn!(server = %self.name, "restarting");
        match connect_one(&self.entry).await {
            Ok((client, tools)) => {
                let client = Arc::new(client);
                restart.failures = 0;
                restart.not_before = None;
                restart.restarts += 1;
                self.set_state(ServerState::Up {
                    client: client.clone(),
                    tools,
                });
                Ok(client)
            }
            Err(why) => {
                restart.failures += 1;
                let backoff = Duration::from_millis(500)
                    .saturating_mul(1 << restart.failures.min(6))
                    .min(MAX_RESTART_BACKOFF);
                restart.not_before = Some(Instant::now() + backoff);
                self.set_state(ServerState::Failed(why.clone()));
                Err(HostError::ServerDown {
                    server: self.name.clone(),
                    reason: format!(
                        "restart failed: {why} (next attempt in {}s)",
                        backoff.as_secs_f64()
                    ),
                })
            }
        }
    }

    /// `up (N tools)`, `failed: why` or `disabled`.
    pub fn describe(&self) -> String {
        match &self.state() {
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
            let url = entry.url.clone().unwrap_or_default();
            let headers = crate::sse_client::header_map(&entry.headers)?;
            let transport = crate::sse_client::SseClientTransport::connect(&url, headers)
                .await
                .map_err(|e| e.to_string())?;
            ().serve(transport)
                .await
                .map_err(|e| format!("{url} did not initialize: {e}"))?
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
