//! sophia-linear: Linear's GraphQL API as MCP tools — issues (list with filters, get, create,
//! update), comments, relations, and the team's teams, users, workflow states, labels, projects
//! and cycles. Names a model gives are resolved to ids (with the valid choices when one does not
//! match), every write reads the issue back and reports any field that did not take, and every
//! list pages with a cursor inside the response budget.

pub mod catalog;
pub mod client;
pub mod gql;
pub mod model;
mod tools;

use std::sync::Arc;
use std::time::Duration;

use mcp_core::Budget;
use mcp_core::upstream::RetryPolicy;
use rmcp::{
    ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{Implementation, ServerCapabilities, ServerConfig},
    tool_handler,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use client::{Credential, DEFAULT_URL, LinearClient};

/// Binary name.
pub const NAME: &str = "sophia-linear";
/// Default HTTP port.
pub const PORT: u16 = 9004;

/// Typed configuration, built once in `main` (tests build it directly).
#[derive(Clone, Debug)]
pub struct LinearConfig {
    /// `LINEAR_API_URL`.
    pub api_url: String,
    /// `LINEAR_API_KEY` or `LINEAR_OAUTH_TOKEN`; None leaves every tool answering what to set.
    pub credential: Option<Credential>,
    /// Total time one HTTP request may take.
    pub timeout: Duration,
    /// Retries of queries (429/5xx, RATELIMITED).
    pub retry: RetryPolicy,
    /// `SOPHIA_MAX_RESULT_CHARS`.
    pub budget: Budget,
    /// `--read-only`: remove the write tools.
    pub read_only: bool,
}

impl LinearConfig {
    /// Defaults for `api_url` with `credential`.
    pub fn new(api_url: impl Into<String>, credential: Option<Credential>) -> Self {
        Self {
            api_url: api_url.into(),
            credential,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            budget: Budget::default(),
            read_only: false,
        }
    }
}

struct Inner {
    client: LinearClient,
    catalog: catalog::Catalog,
    budget: Budget,
}

/// The server. Cheap to clone: rmcp's per-session factory clones it; the state is shared.
#[derive(Clone)]
pub struct LinearServer {
    inner: Arc<Inner>,
    tool_router: Arc<ToolRouter<Self>>,
}

impl LinearServer {
    /// Build the server (no network: lists are fetched when a call first needs them).
    pub fn new(config: LinearConfig) -> Result<Self, String> {
        let client = LinearClient::new(
            config.api_url,
            config.credential,
            config.timeout,
            config.retry,
        )?;
        let mut router = Self::issue_router();
        router.merge(Self::write_router());
        router.merge(Self::list_router());
        if config.read_only {
            mcp_core::serve::retain_read_only(&mut router);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                catalog: catalog::Catalog::default(),
                budget: config.budget,
            }),
            tool_router: Arc::new(router),
        })
    }

    pub(crate) fn client(&self) -> &LinearClient {
        &self.inner.client
    }

    pub(crate) fn catalog(&self) -> &catalog::Catalog {
        &self.inner.catalog
    }

    pub(crate) fn budget(&self) -> Budget {
        self.inner.budget
    }

    /// Fill the user cache now (benchmarks); returns how many users are cached.
    pub async fn load_users(&self) -> Result<usize, mcp_core::ToolError> {
        self.inner
            .catalog
            .load_users(&self.inner.client, &CancellationToken::new())
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for LinearServer {
    /// Route the call, with its progress token available to long reads (catalog fills).
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        let progress = catalog::Progress::from_context(&context);
        let tcc = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        catalog::PROGRESS
            .scope(progress, self.tool_router.call(tcc))
            .await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Linear issues, comments and relations. Refer to teams by key (ENG), issues by \
                 identifier (ENG-123), people by email, name or \"me\", states and labels by name: \
                 the server resolves them and lists the valid choices when one does not match. \
                 Lists page: pass next_cursor back as cursor. Writes read the issue back and list \
                 any requested field that did not take in not_applied.",
            )
    }
}

impl mcp_core::SophiaServer for LinearServer {
    fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    async fn health(&self) -> serde_json::Value {
        let client = &self.inner.client;
        json!({
            "api_url": client.url(),
            "credential": client.credential_variable(),
            "configured": client.credential_variable().is_some(),
            "missing": if client.credential_variable().is_none() {
                Some("set LINEAR_API_KEY (personal API key) or LINEAR_OAUTH_TOKEN")
            } else {
                None
            },
            "cached_users": self.inner.catalog.cached_users(),
        })
    }

    async fn check(&self) -> Result<String, String> {
        let client = &self.inner.client;
        let Some(variable) = client.credential_variable() else {
            return Err(
                "no credential: set LINEAR_API_KEY (a personal API key from Linear > Settings > \
                 Security & access) or LINEAR_OAUTH_TOKEN"
                    .into(),
            );
        };
        let data = client
            .execute(&gql::VIEWER, json!({}), &CancellationToken::new())
            .await
            .map_err(|e| format!("{} at {}: {e}", variable, client.url()))?;
        let text = |p: &str| {
            data.pointer(p)
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string()
        };
        Ok(format!(
            "{} <{}> in workspace {} ({}) via {variable} at {}",
            text("/viewer/name"),
            text("/viewer/email"),
            text("/organization/name"),
            text("/organization/urlKey"),
            client.url()
        ))
    }
}
