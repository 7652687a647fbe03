//! `sophia-host serve`: one MCP endpoint in front of every configured server and every bundled
//! workflow, on the shared command line and transports of `mcp-core` (stdio, Streamable HTTP,
//! legacy SSE, `/healthz`, bearer token, Host/Origin checks, graceful shutdown).
//!
//! Tools keep their schemas and annotations under `<server>__<tool>`; each workflow becomes a
//! tool `workflow__<name>` whose input schema is the workflow's `inputs` and whose annotations
//! are derived from the tools it calls (read-only only when every step is). Calls cancelled by
//! the client are cancelled on the backend server too; the backend's progress notifications
//! reach the client under the client's own progress token.
//!
//! Beside the single `SOPHIA_HTTP_TOKEN`, a clients file ([`crate::policy`]) gives each HTTP
//! client its own token, tool allow-list, read-only flag and rate limits. Read-only tools may be
//! cached per client and arguments ([`crate::cache`]); every call can be written to an audit log
//! ([`crate::audit`]) and is counted for `GET /metrics` ([`crate::metrics`]).
//!
//! A workflow runs with the gateway's own access: granting a client `workflow__x` grants the
//! calls that workflow makes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, MetaObject, NumberOrString, PaginatedRequestParams,
        ProgressNotificationParam, ProgressToken, ServerCapabilities, ServerConfig, Tool,
        ToolAnnotations,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::audit::{Audit, Record};
use crate::cache::{self, Cache, CacheConfig};
use crate::hub::Hub;
use crate::metrics::{Metrics, Outcome};
use crate::naming;
use crate::policy::{Client, Policy};
use crate::workflow::Workflow;

/// Binary name.
pub const NAME: &str = "sophia-host";
/// Default HTTP port (SERVER-CONTRACT.md).
pub const PORT: u16 = 9100;

/// How clients that are not in a clients file are named in the audit log and metrics.
pub const DEFAULT_CLIENT: &str = "default";

struct Offered {
    tool: Tool,
    workflow: Option<usize>,
    read_only: bool,
    /// How long results are cached (zero: never; always zero for tools that are not read-only).
    ttl: Duration,
}

struct Inner {
    hub: Hub,
    workflows: Vec<Workflow>,
    tools: Vec<Offered>,
    policy: Option<Arc<Policy>>,
    cache: Option<Cache>,
    audit: Option<Audit>,
    metrics: Arc<Metrics>,
}

/// Everything `serve` can turn on besides the servers and workflows.
#[derive(Default)]
pub struct GatewayOptions {
    /// Offer only read-only tools.
    pub read_only: bool,
    /// Per-client tokens, tool allow-lists and rate limits (HTTP).
    pub policy: Option<Arc<Policy>>,
    /// Caching of read-only tools.
    pub cache: CacheConfig,
    /// The audit log.
    pub audit: Option<Audit>,
    /// Shared with the policy, which counts the transport's 429s.
    pub metrics: Arc<Metrics>,
}

/// The gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

fn tool_error(message: impl Into<String>) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(
        message.into(),
    )]))
}

impl Gateway {
    /// Offer the hub's tools and the workflows; `read_only` keeps only tools annotated
    /// read-only (workflows included, by their derived annotation).
    pub fn new(hub: Hub, workflows: Vec<Workflow>, read_only: bool) -> Self {
        Self::with_options(
            hub,
            workflows,
            GatewayOptions {
                read_only,
                ..GatewayOptions::default()
            },
        )
    }

    /// The gateway with clients, cache, audit and metrics as configured.
    pub fn with_options(hub: Hub, workflows: Vec<Workflow>, options: GatewayOptions) -> Self {
        let read_only = options.read_only;
        let mut tools: Vec<Offered> = hub
            .tools()
            .iter()
            .map(|t| Offered {
                tool: t.as_listed(),
                workflow: None,
                read_only: false,
                ttl: Duration::ZERO,
            })
            .collect();
        for (i, w) in workflows.iter().enumerate() {
            let name = w
                .file
                .name
                .clone()
                .unwrap_or_else(|| format!("workflow{i}"));
            let targets: Vec<Option<&crate::hub::HostTool>> = w
                .file
                .steps
                .iter()
                .map(|s| s.call.as_deref().and_then(|c| hub.find(c)))
                .collect();
            let hint = |f: fn(&ToolAnnotations) -> Option<bool>| {
                targets
                    .iter()
                    .map(|t| t.and_then(|t| t.tool.annotations.as_ref()).and_then(f))
                    .collect::<Vec<_>>()
            };
            let read_only = hint(|a| a.read_only_hint).iter().all(|h| *h == Some(true));
            let destructive = hint(|a| a.destructive_hint)
                .iter()
                .any(|h| *h != Some(false));
            let open_world = hint(|a| a.open_world_hint)
                .iter()
                .any(|h| *h != Some(false));
            let schema = match w.input_schema() {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            let mut tool = Tool::new(
                naming::assign(&[("workflow", name.as_str())]).remove(0),
                w.file
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("Workflow {name}")),
                Arc::new(schema),
            );
            tool.annotations = Some(
                ToolAnnotations::new()
                    .read_only(read_only)
                    .destructive(!read_only && destructive)
                    .idempotent(false)
                    .open_world(open_world),
            );
            tools.push(Offered {
                tool,
                workflow: Some(i),
                read_only: false,
                ttl: Duration::ZERO,
            });
        }
        for o in &mut tools {
            o.read_only = o.tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
            if o.read_only {
                o.ttl = options.cache.ttl(&o.tool.name);
            }
        }
        if read_only {
            tools.retain(|o| o.read_only);
        }
        let cache = options
            .cache
            .enabled()
            .then(|| Cache::new(options.cache.max_bytes));
        Self {
            inner: Arc::new(Inner {
                hub,
                workflows,
                tools,
                policy: options.policy,
                cache,
                audit: options.audit,
                metrics: options.metrics,
            }),
        }
    }

    /// The client of the clients file behind a request; `Err` when the request names a client
    /// the policy does not know (never for requests the guard let through).
    fn caller(&self, extensions: &rmcp::model::Extensions) -> Result<Option<&Client>, ()> {
        match (mcp_core::client_of(extensions), &self.inner.policy) {
            (None, _) => Ok(None),
            (Some(id), Some(policy)) => policy.client(&id).map(Some).ok_or(()),
            (Some(_), None) => Err(()),
        }
    }

    fn caller_or_refuse(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<&Client>, ErrorData> {
        self.caller(&context.extensions).map_err(|()| {
            ErrorData::invalid_request("this client is not in the clients file", None)
        })
    }

    fn visible(client: Option<&Client>, o: &Offered) -> bool {
        client.is_none_or(|c| c.allows(&o.tool.name, o.read_only))
    }

    /// One finished call, for the audit log and the metrics.
    fn record(&self, r: &Record<'_>) {
        self.inner
            .metrics
            .call(r.client, r.tool, r.outcome, r.took, r.cached);
        if let Some(audit) = &self.inner.audit {
            audit.write(r);
        }
    }

    /// The Prometheus text for `GET /metrics`.
    pub async fn metrics_text(&self) -> String {
        self.inner
            .metrics
            .render(&self.inner.hub.up(), &self.inner.hub.restarts().await)
    }

    async fn run_offered(
        &self,
        offered: &Offered,
        args: serde_json::Map<String, Value>,
        progress: Option<crate::hub::ProgressSink>,
    ) -> CallToolResponse {
        match offered.workflow {
            Some(i) => {
                let Some(w) = self.inner.workflows.get(i) else {
                    return tool_error("workflow missing");
                };
                let inputs = match w.resolve_inputs(&args) {
                    Ok(v) => v,
                    Err(e) => return tool_error(e.to_string()),
                };
                // Each finished step is a progress notification, when the client asked.
                let on_step = |done: usize, total: usize, id: &str| {
                    if let Some(sink) = &progress {
                        let update = ProgressNotificationParam::new(
                            ProgressToken(NumberOrString::Number(0)),
                            done as f64,
                        )
                        .with_total(total as f64)
                        .with_message(format!("step {id} done"));
                        let _ = sink.try_send(update);
                    }
                };
                match w.run_reporting(&self.inner.hub, inputs, &on_step).await {
                    Ok(report) => {
                        let structured = match report.output {
                            v @ Value::Object(_) => v,
                            other => json!({"result": other}),
                        };
                        let mut r = CallToolResult::success(vec![ContentBlock::text(
                            serde_json::to_string_pretty(&structured).unwrap_or_default(),
                        )]);
                        r.structured_content = Some(structured);
                        CallToolResponse::Complete(r)
                    }
                    Err(e) => tool_error(e.to_string()),
                }
            }
            None => match self
                .inner
                .hub
                .call_with_progress(&offered.tool.name, Value::Object(args), progress)
                .await
            {
                Ok(result) => CallToolResponse::Complete(result),
                Err(e) => tool_error(e.to_string()),
            },
        }
    }

    /// The hub behind the gateway.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Every Sophia server behind one endpoint: tools are named server__tool; \
                 workflow__<name> runs a bundled workflow.",
        )
    }

    // --- Resources and prompts of every server, namespaced by the hub. A client of the clients
    // file sees those whose `server__name` its globs allow (they only read).

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        let client = self.caller_or_refuse(&context)?;
        Ok(rmcp::model::ListResourcesResult::with_all_items(
            self.inner
                .hub
                .resources()
                .iter()
                .filter(|r| may_read(client, &r.name))
                .map(|r| r.as_listed())
                .collect(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        let client = self.caller_or_refuse(&context)?;
        Ok(rmcp::model::ListResourceTemplatesResult::with_all_items(
            self.inner
                .hub
                .resource_templates()
                .iter()
                .filter(|t| may_read(client, &t.name))
                .map(|t| t.as_listed())
                .collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        use crate::hub::HostError;
        let client = self.caller_or_refuse(&context)?;
        if !self
            .inner
            .hub
            .resource_name(&request.uri)
            .is_some_and(|name| may_read(client, name))
        {
            // Not offered to this client: as unknown as a resource no server has.
            return Err(ErrorData::invalid_params(
                HostError::UnknownResource(request.uri.clone()).to_string(),
                None,
            ));
        }
        let read = self.inner.hub.read_resource(&request.uri);
        let result = tokio::select! {
            r = read => r,
            _ = context.ct.cancelled() => {
                return Err(ErrorData::internal_error("cancelled by the client", None));
            }
        };
        match result {
            Ok(r) => Ok(r.into()),
            // -32602 for an unknown resource, as servers answer it.
            Err(e @ HostError::UnknownResource(_)) => {
                Err(ErrorData::invalid_params(e.to_string(), None))
            }
            // The server's own error (code and message) passes through.
            Err(HostError::Server { error, .. }) => Err(error),
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        let client = self.caller_or_refuse(&context)?;
        Ok(rmcp::model::ListPromptsResult::with_all_items(
            self.inner
                .hub
                .prompts()
                .iter()
                .filter(|p| may_read(client, &p.name))
                .map(|p| p.as_listed())
                .collect(),
        ))
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
        use crate::hub::HostError;
        let client = self.caller_or_refuse(&context)?;
        if !self
            .inner
            .hub
            .find_prompt(&request.name)
            .is_some_and(|p| may_read(client, &p.name))
        {
            return Err(ErrorData::invalid_params(
                HostError::UnknownPrompt(request.name.clone()).to_string(),
                None,
            ));
        }
        let get = self
            .inner
            .hub
            .get_prompt(&request.name, request.arguments.clone());
        let result = tokio::select! {
            r = get => r,
            _ = context.ct.cancelled() => {
                return Err(ErrorData::internal_error("cancelled by the client", None));
            }
        };
        match result {
            Ok(r) => Ok(r.into()),
            Err(e @ HostError::UnknownPrompt(_)) => {
                Err(ErrorData::invalid_params(e.to_string(), None))
            }
            Err(HostError::Server { error, .. }) => Err(error),
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }

    // --- End of resources and prompts.

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let client = self.caller_or_refuse(&context)?;
        Ok(ListToolsResult::with_all_items(
            self.inner
                .tools
                .iter()
                .filter(|o| Self::visible(client, o))
                .map(|o| o.tool.clone())
                .collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let client = self.caller_or_refuse(&context)?;
        let label = client.map_or(DEFAULT_CLIENT, |c| &*c.name);
        let args = request.arguments.clone().unwrap_or_default();
        let args_value = Value::Object(args.clone());
        let mut record = Record {
            client: label,
            tool: &request.name,
            took: Duration::ZERO,
            outcome: Outcome::Ok,
            result_bytes: 0,
            cached: false,
            args: &args_value,
        };
        // A tool the client may not see is as unknown to it as one that does not exist.
        let Some(offered) = self
            .inner
            .tools
            .iter()
            .find(|o| o.tool.name == request.name)
            .filter(|o| Self::visible(client, o))
        else {
            record.outcome = Outcome::Denied;
            record.took = started.elapsed();
            self.record(&record);
            return Err(ErrorData::invalid_params(
                format!("unknown tool {}", request.name),
                None,
            ));
        };
        if let (Some(c), Some(policy)) = (client, &self.inner.policy)
            && let Err((rate, wait)) = policy.take_tool(c, &request.name)
        {
            self.inner.metrics.rate_limited(label, "tool");
            record.outcome = Outcome::RateLimited;
            record.took = started.elapsed();
            self.record(&record);
            return Ok(tool_error(format!(
                "rate limit: client {label} may call {} {} times per {}s; retry in {:.1} s",
                request.name,
                rate.count,
                rate.period.as_secs(),
                wait.as_secs_f64().max(0.1)
            )));
        }
        let cache_key = match &self.inner.cache {
            Some(_) if !offered.ttl.is_zero() => {
                Some(cache::key(label, &request.name, &args_value))
            }
            _ => None,
        };
        if let (Some(cache), Some(key)) = (&self.inner.cache, &cache_key)
            && let Some((mut hit, age)) = cache.get(key, Instant::now())
        {
            mark_cache(&mut hit, true, Some(age));
            record.cached = true;
            record.took = started.elapsed();
            record.result_bytes = self.size_of(&hit);
            self.record(&record);
            return Ok(CallToolResponse::Complete(hit));
        }
        // The backend's progress reaches this client under the client's own token.
        let (sink, forward) = match context.meta.get_progress_token() {
            Some(token) => {
                let (tx, mut rx) =
                    tokio::sync::mpsc::channel::<rmcp::model::ProgressNotificationParam>(32);
                let peer = context.peer.clone();
                let forward = async move {
                    while let Some(mut update) = rx.recv().await {
                        update.progress_token = token.clone();
                        if let Err(e) = peer.notify_progress(update).await {
                            tracing::debug!(error = %e, "progress not forwarded");
                        }
                    }
                };
                (Some(tx), Some(forward))
            }
            None => (None, None),
        };
        let work = async {
            let (response, ()) = tokio::join!(self.run_offered(offered, args, sink), async {
                if let Some(f) = forward {
                    f.await;
                }
            });
            response
        };
        // The client's cancellation drops the backend call, which cancels it there too.
        let response = tokio::select! {
            r = work => r,
            _ = context.ct.cancelled() => {
                record.outcome = Outcome::Cancelled;
                record.took = started.elapsed();
                self.record(&record);
                return Ok(tool_error("cancelled by the client"));
            }
        };
        let CallToolResponse::Complete(mut result) = response else {
            record.took = started.elapsed();
            self.record(&record);
            return Ok(response);
        };
        let failed = result.is_error == Some(true);
        if let (Some(cache), Some(key)) = (&self.inner.cache, cache_key) {
            if !failed {
                cache.put(key, result.clone(), offered.ttl, Instant::now());
            }
            mark_cache(&mut result, false, None);
        }
        record.outcome = if failed {
            Outcome::ToolError
        } else {
            Outcome::Ok
        };
        record.took = started.elapsed();
        record.result_bytes = self.size_of(&result);
        self.record(&record);
        Ok(CallToolResponse::Complete(result))
    }
}

/// Whether `client` may list and read the resource or prompt named `name` (`server__name`).
fn may_read(client: Option<&Client>, name: &str) -> bool {
    client.is_none_or(|c| c.allows(name, true))
}

/// `_meta["io.sophia/cache"]`: whether this result came from the gateway's cache, and how old.
fn mark_cache(result: &mut CallToolResult, hit: bool, age: Option<Duration>) {
    let mut info = json!({"hit": hit});
    if let Some(age) = age {
        info["age_ms"] = json!(age.as_millis() as u64);
    }
    result
        .meta
        .get_or_insert_with(MetaObject::new)
        .0
        .insert("io.sophia/cache".into(), info);
}

impl Gateway {
    /// The result's size as JSON, when the audit log wants it.
    fn size_of(&self, result: &CallToolResult) -> usize {
        if self.inner.audit.is_none() {
            return 0;
        }
        serde_json::to_vec(result).map_or(0, |v| v.len())
    }
}

async fn metrics_route(State(gateway): State<Gateway>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        gateway.metrics_text().await,
    )
}

impl mcp_core::SophiaServer for Gateway {
    fn tools(&self) -> Vec<Tool> {
        self.inner.tools.iter().map(|o| o.tool.clone()).collect()
    }

    fn client_auth(&self) -> Option<Arc<dyn mcp_core::ClientAuth>> {
        self.inner
            .policy
            .clone()
            .map(|p| p as Arc<dyn mcp_core::ClientAuth>)
    }

    fn extra_routes(&self) -> Option<Router> {
        Some(
            Router::new()
                .route("/metrics", get(metrics_route))
                .with_state(self.clone()),
        )
    }

    async fn health(&self) -> Value {
        json!({
            "servers": self.inner.hub.status(),
            "restarts": self.inner.hub.restarts().await,
            "workflows": self.inner.workflows.iter().filter_map(|w| w.file.name.clone()).collect::<Vec<_>>(),
            "tools": self.inner.tools.len(),
            "clients": self.inner.policy.as_ref().map(|p| p.names()),
            "cache": self.inner.cache.as_ref().map(|c| {
                let (entries, bytes) = c.usage();
                json!({"entries": entries, "bytes": bytes})
            }),
        })
    }

    async fn check(&self) -> Result<String, String> {
        let status = self.inner.hub.status();
        let down: Vec<String> = status
            .iter()
            .filter(|(_, s)| s.starts_with("failed"))
            .map(|(n, s)| format!("{n}: {s}"))
            .collect();
        if down.is_empty() {
            Ok(format!(
                "{} servers up, {} tools, {} workflows",
                status.len(),
                self.inner.tools.len(),
                self.inner.workflows.len()
            ))
        } else {
            Err(format!("servers down: {}", down.join("; ")))
        }
    }
}
