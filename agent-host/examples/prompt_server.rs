//! A small MCP server with prompts and resources for the host's tests (built by `cargo test`):
//! a prompt `account_brief(company, [tone])`, a resource `notes://index` and a resource template
//! `notes://{company}/summary`. Not shipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test fixture

use rmcp::{
    ErrorData, Json, RoleServer, ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{
        GetPromptRequestParams, GetPromptResponse, GetPromptResult, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams, Prompt,
        PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, ServerCapabilities,
        ServerConfig,
    },
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct Notes {
    tool_router: ToolRouter<Self>,
}

#[derive(Deserialize, JsonSchema)]
struct Empty {}

#[derive(Serialize, JsonSchema)]
struct Pong {
    pong: bool,
}

#[tool_router]
impl Notes {
    /// Answers pong.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn ping(&self, Parameters(_): Parameters<Empty>) -> Json<Pong> {
        Json(Pong { pong: true })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Notes {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "account_brief",
            Some("A brief on one account"),
            Some(vec![
                PromptArgument::new("company").with_required(true),
                PromptArgument::new("tone").with_required(false),
            ]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "account_brief" {
            return Err(ErrorData::invalid_params(
                format!("no prompt {}", request.name),
                None,
            ));
        }
        let args = request.arguments.unwrap_or_default();
        let Some(company) = args.get("company").and_then(|v| v.as_str()) else {
            return Err(ErrorData::invalid_params("company is required", None));
        };
        let tone = args
            .get("tone")
            .and_then(|v| v.as_str())
            .unwrap_or("neutral");
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Write a {tone} brief on {company}."),
        )])
        .with_description(format!("Brief on {company}"))
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "notes://index",
            "index",
        )]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("notes://{company}/summary", "summary"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let text = if uri == "notes://index" {
            "acme, initech".to_string()
        } else if let Some(company) = uri
            .strip_prefix("notes://")
            .and_then(|r| r.strip_suffix("/summary"))
        {
            format!("summary of {company}")
        } else {
            return Err(ErrorData::invalid_params(
                format!("Resource {uri} not found"),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = Notes {
        tool_router: Notes::tool_router(),
    };
    let running = server.serve(rmcp::transport::stdio()).await.unwrap();
    let _ = running.waiting().await;
}
