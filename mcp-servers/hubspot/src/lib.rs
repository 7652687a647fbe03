//! sophia-hubspot: the HubSpot CRM as MCP tools — search contacts, companies, deals, tickets (and
//! custom objects) with typed filters, read one record with its associations, create and update
//! records and add notes (every write reads the record back and reports what did not take), list
//! pipelines, owners and properties, and summarise the deal pipeline (count, total and weighted
//! amount per stage) across every page of deals.

pub mod client;
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
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use client::{DEFAULT_BASE_URL, HubSpotClient, TOKEN_VAR};

/// Binary name.
pub const NAME: &str = "sophia-hubspot";
/// Default HTTP port.
pub const PORT: u16 = 9002;

/// Typed configuration, built once in `main` (tests build it directly).
#[derive(Clone)]
pub struct HubSpotConfig {
    /// `HUBSPOT_API_BASE_URL`.
    pub base_url: String,
    /// `HUBSPOT_ACCESS_TOKEN`; None leaves every tool answering what to set.
    pub token: Option<SecretString>,
    /// Total time one HTTP request may take.
    pub timeout: Duration,
    /// Retries of reads (429/5xx).
    pub retry: RetryPolicy,
    /// `SOPHIA_MAX_RESULT_CHARS`.
    pub budget: Budget,
    /// `--read-only`: remove the write tools.
    pub read_only: bool,
    /// `HUBSPOT_SEARCH_PER_SECOND`: search requests per second at most (HubSpot's limit is 5;
    /// 0 = unpaced).
    pub search_per_second: u32,
}

impl std::fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotConfig")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl HubSpotConfig {
    /// Defaults for `base_url` with `token`.
    pub fn new(base_url: impl Into<String>, token: Option<SecretString>) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            budget: Budget::default(),
            read_only: false,
            search_per_second: 5,
        }
    }
}

struct Inner {
    client: HubSpotClient,
    budget: Budget,
}

/// The server. Cheap to clone: rmcp's per-session factory clones it; the state is shared.
#[derive(Clone)]
pub struct HubSpotServer {
    inner: Arc<Inner>,
    tool_router: Arc<ToolRouter<Self>>,
}

impl HubSpotServer {
    /// Build the server (no network).
    pub fn new(config: HubSpotConfig) -> Result<Self, String> {
        let client = HubSpotClient::new(
            config.base_url,
            config.token,
            config.timeout,
            config.retry,
            config.search_per_second,
        )?;
        let mut router = Self::object_router();
        router.merge(Self::write_router());
        router.merge(Self::meta_router());
        router.merge(Self::summary_router());
        if config.read_only {
            mcp_core::serve::retain_read_only(&mut router);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                budget: config.budget,
            }),
            tool_router: Arc::new(router),
        })
    }

    pub(crate) fn client(&self) -> &HubSpotClient {
        &self.inner.client
    }

    pub(crate) fn budget(&self) -> Budget {
        self.inner.budget
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HubSpotServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "HubSpot CRM. object_type is contacts, companies, deals, tickets or a custom \
                 object type id (2-…). Property names are HubSpot's internal names (see \
                 property_list); values are strings. Lists page: pass next_cursor back as cursor. \
                 Owners are referred to by owner id (owner_list). Writes read the record back and \
                 list any property that did not take in not_applied. pipeline_summary counts \
                 every matching deal, not one page.",
            )
    }
}

impl mcp_core::SophiaServer for HubSpotServer {
    fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    async fn health(&self) -> serde_json::Value {
        let client = &self.inner.client;
        json!({
            "api_base_url": client.base(),
            "configured": client.configured(),
            "missing": if client.configured() { None } else { Some(format!("set {TOKEN_VAR}")) },
        })
    }

    async fn check(&self) -> Result<String, String> {
        let client = &self.inner.client;
        if !client.configured() {
            return Err(format!(
                "no credential: set {TOKEN_VAR} (a private app access token: HubSpot > Settings > \
                 Integrations > Private Apps)"
            ));
        }
        let answer = client
            .get("/account-info/v3/details", &[], &CancellationToken::new())
            .await
            .map_err(|e| format!("{TOKEN_VAR} at {}: {e}", client.base()))?;
        let b = &answer.body;
        let text = |k: &str| match b.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => "?".to_string(),
        };
        Ok(format!(
            "HubSpot account {} ({}, {}, currency {}) at {} via {TOKEN_VAR} against {}",
            text("portalId"),
            text("accountType"),
            text("timeZone"),
            text("companyCurrency"),
            text("uiDomain"),
            client.base()
        ))
    }
}
