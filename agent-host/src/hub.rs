//! Many MCP servers as one: every configured server connected concurrently (a failure is
//! reported and skipped, never fatal), every tool offered as `<server>__<tool>` with its schemas
//! and annotations intact, calls routed back with the server's timeout. Resources and prompts
//! likewise: each resource keeps its URI and is named `<server>__<name>` (reads are routed to
//! the server that listed the URI, or whose URI template matches it), each prompt is offered as
//! `<server>__<prompt>`.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::{StreamExt, future::join_all};
use rmcp::handler::client::progress::ProgressDispatcher;
use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification,
        CancelledNotificationParam, ClientRequest, GetPromptRequestParams, GetPromptResult,
        ProgressNotificationParam, Prompt, ReadResourceRequestParams, ReadResourceResult,
        RequestId, Resource, ResourceTemplate, ServerResult, Tool,
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

type Client = RunningService<RoleClient, HostClient>;

/// The host's side of each connection: routes the server's progress notifications to the call
/// that asked for them (tokens are per connection, so each connection has its own dispatcher).
#[derive(Clone, Default)]
pub struct HostClient {
    progress: ProgressDispatcher,
}

impl rmcp::ClientHandler for HostClient {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.progress.handle_notification(params).await;
    }

    fn get_info(&self) -> rmcp::model::ClientConfig {
        let mut info = rmcp::model::ClientConfig::default();
        info.client_info =
            rmcp::model::Implementation::new("sophia-host", env!("CARGO_PKG_VERSION"));
        info
    }
}

/// Where a call's progress notifications go (the gateway forwards them to its own client).
pub type ProgressSink = tokio::sync::mpsc::Sender<ProgressNotificationParam>;

/// Longest wait between two restarts of a server that keeps failing.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

/// A configured server and how it is doing.
pub struct ServerSlot {
    pub name: String,
    pub entry: ServerEntry,
    state: RwLock<ServerState>,
    /// Serialises reconnects; counts consecutive failures for the backoff.
    restart: tokio::sync::Mutex<Restart>,
    /// Resources, templates and prompts as listed when the server first came up.
    pub extras: Extras,
}

/// What a server offers besides tools (empty when it does not declare the capability).
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

/// One aggregated resource: the server's URI, its name as `<server>__<name>`.
#[derive(Debug, Clone)]
pub struct HostResource {
    pub name: String,
    pub server: String,
    pub resource: Resource,
}

impl HostResource {
    /// The resource under its aggregated name (URI and everything else unchanged).
    pub fn as_listed(&self) -> Resource {
        let mut r = self.resource.clone();
        r.name = self.name.clone();
        r
    }
}

/// One aggregated resource template.
#[derive(Debug, Clone)]
pub struct HostTemplate {
    pub name: String,
    pub server: String,
    pub template: ResourceTemplate,
}

impl HostTemplate {
    /// The template under its aggregated name.
    pub fn as_listed(&self) -> ResourceTemplate {
        let mut t = self.template.clone();
        t.name = self.name.clone();
        t
    }
}

/// One aggregated prompt: `<server>__<prompt>`.
#[derive(Debug, Clone)]
pub struct HostPrompt {
    pub name: String,
    pub server: String,
    pub prompt: Prompt,
}

impl HostPrompt {
    /// The prompt under its aggregated name (arguments unchanged).
    pub fn as_listed(&self) -> Prompt {
        let mut p = self.prompt.clone();
        p.name = self.name.clone();
        p
    }
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
    #[error("no server listed the resource {0:?} (or a template matching it)")]
    UnknownResource(String),
    #[error("no prompt {0:?}: `sophia-host tools` lists them (as server__prompt)")]
    UnknownPrompt(String),
    #[error("{what} failed: {reason}")]
    Request { what: String, reason: String },
    /// The server answered with a JSON-RPC error (kept whole, so the gateway passes it on).
    #[error("{what} failed: {}", .error.message)]
    Server {
        what: String,
        error: rmcp::ErrorData,
    },
}

/// The connected servers.
pub struct Hub {
    pub servers: Vec<ServerSlot>,
    tools: Vec<HostTool>,
    by_name: HashMap<String, usize>,
    resources: Vec<HostResource>,
    templates: Vec<HostTemplate>,
    prompts: Vec<HostPrompt>,
}

impl Hub {
    /// Connect to every enabled server at once; each gets `startup` to come up.
    pub async fn connect(config: &HostConfig, startup: Duration) -> Self {
        let attempts = config.servers.iter().map(|(name, entry)| async move {
            let mut extras = Extras::default();
            let state = if entry.disabled {
                ServerState::Disabled
            } else {
                let up = async {
                    let (client, tools) = connect_one(entry).await?;
                    let listed = list_extras(name, &client).await;
                    Ok::<_, String>((client, tools, listed))
                };
                match tokio::time::timeout(startup, up).await {
                    Ok(Ok((client, tools, listed))) => {
                        extras = listed;
                        ServerState::Up {
                            client: Arc::new(client),
                            tools,
                        }
                    }
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
                extras,
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
        let mut resources: Vec<(String, Resource)> = Vec::new();
        let mut templates: Vec<(String, ResourceTemplate)> = Vec::new();
        let mut prompts: Vec<(String, Prompt)> = Vec::new();
        for slot in &servers {
            let x = &slot.extras;
            resources.extend(x.resources.iter().map(|r| (slot.name.clone(), r.clone())));
            templates.extend(x.templates.iter().map(|t| (slot.name.clone(), t.clone())));
            prompts.extend(x.prompts.iter().map(|p| (slot.name.clone(), p.clone())));
        }
        let names = |pairs: Vec<(&str, &str)>| naming::assign(&pairs);
        let resources = names(
            resources
                .iter()
                .map(|(s, r)| (s.as_str(), r.name.as_str()))
                .collect(),
        )
        .into_iter()
        .zip(resources)
        .map(|(name, (server, resource))| HostResource {
            name,
            server,
            resource,
        })
        .collect();
        let templates = names(
            templates
                .iter()
                .map(|(s, t)| (s.as_str(), t.name.as_str()))
                .collect(),
        )
        .into_iter()
        .zip(templates)
        .map(|(name, (server, template))| HostTemplate {
            name,
            server,
            template,
        })
        .collect();
        let prompts = names(
            prompts
                .iter()
                .map(|(s, p)| (s.as_str(), p.name.as_str()))
                .collect(),
        )
        .into_iter()
        .zip(prompts)
        .map(|(name, (server, prompt))| HostPrompt {
            name,
            server,
            prompt,
        })
        .collect();
        Self {
            servers,
            tools,
            by_name,
            resources,
            templates,
            prompts,
        }
    }

    /// Every resource the servers listed, named `<server>__<name>`, URIs unchanged.
    pub fn resources(&self) -> &[HostResource] {
        &self.resources
    }

    /// Every resource template the servers listed, named `<server>__<name>`.
    pub fn resource_templates(&self) -> &[HostTemplate] {
        &self.templates
    }

    /// Every prompt, named `<server>__<prompt>`.
    pub fn prompts(&self) -> &[HostPrompt] {
        &self.prompts
    }

    /// A prompt by aggregated name (`server__prompt`) or as `server.prompt`.
    pub fn find_prompt(&self, name: &str) -> Option<&HostPrompt> {
        if let Some(p) = self.prompts.iter().find(|p| p.name == name) {
            return Some(p);
        }
        let (server, prompt) = name.split_once('.')?;
        self.prompts
            .iter()
            .find(|p| p.server == server && p.prompt.name == prompt)
    }

    /// The server that answers for `uri`: the one that listed it, else the first whose URI
    /// template matches it.
    pub fn resource_server(&self, uri: &str) -> Option<&str> {
        if let Some(r) = self.resources.iter().find(|r| r.resource.uri == uri) {
            return Some(&r.server);
        }
        self.templates
            .iter()
            .find(|t| template_matches(&t.template.uri_template, uri))
            .map(|t| t.server.as_str())
    }

    /// The aggregated name (`server__name`) of the resource or template that offers `uri`.
    pub fn resource_name(&self, uri: &str) -> Option<&str> {
        if let Some(r) = self.resources.iter().find(|r| r.resource.uri == uri) {
            return Some(&r.name);
        }
        self.templates
            .iter()
            .find(|t| template_matches(&t.template.uri_template, uri))
            .map(|t| t.name.as_str())
    }

    fn slot(&self, server: &str) -> Option<&ServerSlot> {
        self.servers.iter().find(|s| s.name == server)
    }

    /// `resources/read`, routed to the server that offers `uri`, within its timeout.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, HostError> {
        let slot = self
            .resource_server(uri)
            .and_then(|s| self.slot(s))
            .ok_or_else(|| HostError::UnknownResource(uri.to_string()))?;
        let client = slot.live_client().await?;
        let timeout = slot.entry.call_timeout();
        let what = format!("reading {uri} from {}", slot.name);
        let read = client
            .peer()
            .read_resource(ReadResourceRequestParams::new(uri));
        match tokio::time::timeout(timeout, read).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(ServiceError::McpError(error))) => Err(HostError::Server { what, error }),
            Ok(Err(e)) => Err(HostError::Request {
                what,
                reason: e.to_string(),
            }),
            Err(_) => Err(HostError::Timeout {
                tool: what,
                timeout,
            }),
        }
    }

    /// `prompts/get` by aggregated name, routed to its server under the server's own name.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, Value>>,
    ) -> Result<GetPromptResult, HostError> {
        let prompt = self
            .find_prompt(name)
            .ok_or_else(|| HostError::UnknownPrompt(name.to_string()))?;
        let slot = self
            .slot(&prompt.server)
            .ok_or_else(|| HostError::UnknownPrompt(name.to_string()))?;
        let client = slot.live_client().await?;
        let timeout = slot.entry.call_timeout();
        let mut params = GetPromptRequestParams::new(prompt.prompt.name.clone());
        if let Some(a) = arguments {
            params = params.with_arguments(a);
        }
        let what = format!("prompt {name}");
        match tokio::time::timeout(timeout, client.peer().get_prompt(params)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(ServiceError::McpError(error))) => Err(HostError::Server { what, error }),
            Ok(Err(e)) => Err(HostError::Request {
                what,
                reason: e.to_string(),
            }),
            Err(_) => Err(HostError::Timeout {
                tool: what,
                timeout,
            }),
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
        self.call_with_progress(name, arguments, None).await
    }

    /// [`Hub::call`], with the server's progress notifications sent to `progress`.
    pub async fn call_with_progress(
        &self,
        name: &str,
        arguments: Value,
        progress: Option<ProgressSink>,
    ) -> Result<CallToolResult, HostError> {
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
            match send_call(&client, params.clone(), timeout, progress.as_ref()).await {
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

    /// Whether each server is connected right now (a dead child counts as down until restarted).
    pub fn up(&self) -> BTreeMap<String, bool> {
        self.servers
            .iter()
            .map(|s| {
                let up = match s.state() {
                    ServerState::Up { client, .. } => !client.is_transport_closed(),
                    _ => false,
                };
                (s.name.clone(), up)
            })
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
    client: &Client,
    params: CallToolRequestParams,
    timeout: Duration,
    progress: Option<&ProgressSink>,
) -> Result<CallToolResult, ServiceError> {
    let peer = client.peer();
    let mut options = PeerRequestOptions::with_timeout(timeout);
    options.reset_timeout_on_progress = true;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = peer.send_request_with_option(request, options).await?;
    let mut guard = CancelOnDrop {
        peer: Some(peer.clone()),
        id: handle.id.clone(),
    };
    let subscription = match progress {
        Some(_) => Some(
            client
                .service()
                .progress
                .subscribe(handle.progress_token.clone())
                .await,
        ),
        None => None,
    };
    let response = handle.await_response();
    let response = match (subscription, progress) {
        (Some(mut updates), Some(sink)) => {
            tokio::pin!(response);
            loop {
                tokio::select! {
                    r = &mut response => break r,
                    Some(update) = updates.next() => {
                        // A caller that stopped listening does not stop the call.
                        let _ = sink.try_send(update);
                    }
                }
            }
        }
        _ => response.await,
    };
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
            HostClient::default()
                .serve(transport)
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
            HostClient::default()
                .serve(StreamableHttpClientTransport::from_config(config))
                .await
                .map_err(|e| format!("{url} did not initialize: {e}"))?
        }
        Transport::Sse => {
            let url = entry.url.clone().unwrap_or_default();
            let headers = crate::sse_client::header_map(&entry.headers)?;
            let transport = crate::sse_client::SseClientTransport::connect(&url, headers)
                .await
                .map_err(|e| e.to_string())?;
            HostClient::default()
                .serve(transport)
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

/// Resources, templates and prompts of a server that declares them. A listing that fails is
/// logged and left empty: the server's tools still work.
async fn list_extras(server: &str, client: &Client) -> Extras {
    let caps = client.peer_info().map(|i| i.capabilities.clone());
    let (has_resources, has_prompts) = caps
        .as_ref()
        .map(|c| (c.resources.is_some(), c.prompts.is_some()))
        .unwrap_or((false, false));
    let mut extras = Extras::default();
    let warn = |what: &str, e: ServiceError| {
        tracing::warn!(server = %server, "{what} failed: {e}");
    };
    if has_resources {
        match client.list_all_resources().await {
            Ok(r) => extras.resources = r,
            Err(e) => warn("resources/list", e),
        }
        match client.list_all_resource_templates().await {
            Ok(t) => extras.templates = t,
            // Optional in the protocol: a server with plain resources may not answer it.
            Err(e) => tracing::debug!(server = %server, "resources/templates/list: {e}"),
        }
    }
    if has_prompts {
        match client.list_all_prompts().await {
            Ok(p) => extras.prompts = p,
            Err(e) => warn("prompts/list", e),
        }
    }
    extras
}

/// Whether `uri` fits an RFC 6570 URI template: literal parts match exactly; a simple `{var}`
/// matches one or more characters other than `/`, `?` and `#`, any other expression (`{+path}`,
/// `{/segments}` …) one or more of any character.
pub fn template_matches(template: &str, uri: &str) -> bool {
    enum Part<'a> {
        Lit(&'a str),
        Var { any: bool },
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Lit(&rest[..open]));
        }
        let Some(close) = rest[open..].find('}') else {
            return false;
        };
        let expr = &rest[open + 1..open + close];
        parts.push(Part::Var {
            any: expr.starts_with(['+', '#', '/', '.', ';', '?', '&']),
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest));
    }
    fn go(parts: &[Part<'_>], uri: &str) -> bool {
        match parts.split_first() {
            None => uri.is_empty(),
            Some((Part::Lit(l), tail)) => uri.strip_prefix(l).is_some_and(|u| go(tail, u)),
            Some((Part::Var { any }, tail)) => {
                let mut end = 0;
                for (i, c) in uri.char_indices() {
                    if !any && matches!(c, '/' | '?' | '#') {
                        break;
                    }
                    end = i + c.len_utf8();
                    if go(tail, &uri[end..]) {
                        return true;
                    }
                }
                let _ = end;
                false
            }
        }
    }
    go(&parts, uri)
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
