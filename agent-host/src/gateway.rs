//! `sophia-host serve`: one MCP endpoint in front of every configured server and every bundled
//! workflow, on the shared command line and transports of `mcp-core` (stdio, Streamable HTTP,
//! legacy SSE, `/healthz`, bearer token, Host/Origin checks, graceful shutdown).
//!
//! Tools keep their schemas and annotations under `<server>__<tool>`; each workflow becomes a
//! tool `workflow__<name>` whose input schema is the workflow's `inputs` and whose annotations
//! are derived from the tools it calls (read-only only when every step is). Calls cancelled by
//! the client are cancelled on the backend server too.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
        ToolAnnotations,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::hub::Hub;
use crate::naming;
use crate::workflow::Workflow;

/// Binary name.
pub const NAME: &str = "sophia-host";
/// Default HTTP port (SERVER-CONTRACT.md).
pub const PORT: u16 = 9100;

struct Offered {
    tool: Tool,
    workflow: Option<usize>,
}

struct Inner {
    hub: Hub,
    workflows: Vec<Workflow>,
    tools: Vec<Offered>,
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
        let mut tools: Vec<Offered> = hub
            .tools()
            .iter()
            .map(|t| Offered {
                tool: t.as_listed(),
                workflow: None,
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
            });
        }
        if read_only {
            tools.retain(|o| {
                o.tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true)
            });
        }
        Self {
            inner: Arc::new(Inner {
                hub,
                workflows,
                tools,
            }),
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

    // --- Resources and prompts of every server, namespaced by the hub (a self-contained block).

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        Ok(rmcp::model::ListResourcesResult::with_all_items(
            self.inner
                .hub
                .resources()
                .iter()
                .map(|r| r.as_listed())
                .collect(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        Ok(rmcp::model::ListResourceTemplatesResult::with_all_items(
            self.inner
                .hub
                .resource_templates()
                .iter()
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
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        Ok(rmcp::model::ListPromptsResult::with_all_items(
            self.inner
                .hub
                .prompts()
                .iter()
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
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }

    // --- End of resources and prompts.

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.inner.tools.iter().map(|o| o.tool.clone()).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(offered) = self
            .inner
            .tools
            .iter()
            .find(|o| o.tool.name == request.name)
        else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {}", request.name),
                None,
            ));
        };
        let args = request.arguments.clone().unwrap_or_default();
        let work = async {
            match offered.workflow {
                Some(i) => {
                    let Some(w) = self.inner.workflows.get(i) else {
                        return tool_error("workflow missing");
                    };
                    let inputs = match w.resolve_inputs(&args) {
                        Ok(v) => v,
                        Err(e) => return tool_error(e.to_string()),
                    };
                    match w.run(&self.inner.hub, inputs).await {
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
                    .call(&request.name, Value::Object(args.clone()))
                    .await
                {
                    Ok(result) => CallToolResponse::Complete(result),
                    Err(e) => tool_error(e.to_string()),
                },
            }
        };
        // The client's cancellation drops the backend call, which cancels it there too.
        tokio::select! {
            r = work => Ok(r),
            _ = context.ct.cancelled() => Ok(tool_error("cancelled by the client")),
        }
    }
}

impl mcp_core::SophiaServer for Gateway {
    fn tools(&self) -> Vec<Tool> {
        self.inner.tools.iter().map(|o| o.tool.clone()).collect()
    }

    async fn health(&self) -> Value {
        json!({
            "servers": self.inner.hub.status(),
            "restarts": self.inner.hub.restarts().await,
            "workflows": self.inner.workflows.iter().filter_map(|w| w.file.name.clone()).collect::<Vec<_>>(),
            "tools": self.inner.tools.len(),
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
