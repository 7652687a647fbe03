//! sophia-gong: the Gong API v2 as MCP tools — calls in a date window, call details (parties,
//! CRM context, brief, key points, topics, trackers, interaction stats), transcripts read in
//! pieces with speakers named, call search by account / e-mail domain / CRM opportunity /
//! transcript keyword (a bounded, rate-limited, cancellable scan), users, the trackers and key
//! points that fired on a call, and a deterministic lexicon analysis of a call (talk ratio,
//! questions, longest monologue, sentiment). Every tool only reads.

pub mod client;
mod pager;
pub mod sentiment;
pub mod time;
mod tools;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_core::Budget;
use mcp_core::upstream::RetryPolicy;
use rmcp::{
    ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{Implementation, ServerCapabilities, ServerConfig, Tool},
    tool_handler,
};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub use client::GongClient;

/// Binary name.
pub const NAME: &str = "sophia-gong";
/// Default HTTP port.
pub const PORT: u16 = 9001;
/// Transcripts kept in memory for paging through with `offset` (most recent first out).
const TRANSCRIPT_CACHE: usize = 8;

/// Typed configuration, built once in `main` (tests build it directly).
#[derive(Clone)]
pub struct GongConfig {
    /// `GONG_API_BASE_URL` (default `https://api.gong.io`).
    pub base_url: String,
    /// `GONG_ACCESS_KEY`.
    pub access_key: Option<SecretString>,
    /// `GONG_ACCESS_KEY_SECRET`.
    pub access_key_secret: Option<SecretString>,
    pub budget: Budget,
    /// Remove every tool that is not read-only (all of them are read-only).
    pub read_only: bool,
    /// Total timeout of one HTTP request to Gong.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Requests per second to Gong, shared by every tool call (Gong documents 3).
    pub requests_per_second: f64,
}

impl GongConfig {
    /// Defaults against `base_url` with the given key pair.
    pub fn new(
        base_url: impl Into<String>,
        access_key: Option<SecretString>,
        access_key_secret: Option<SecretString>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            access_key,
            access_key_secret,
            budget: Budget::default(),
            read_only: false,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            requests_per_second: client::DEFAULT_REQUESTS_PER_SECOND,
        }
    }
}

impl std::fmt::Debug for GongConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GongConfig")
            .field("base_url", &self.base_url)
            .field("access_key", &self.access_key.as_ref().map(|_| "[set]"))
            .field(
                "access_key_secret",
                &self.access_key_secret.as_ref().map(|_| "[set]"),
            )
            .field("budget", &self.budget)
            .field("read_only", &self.read_only)
            .field("requests_per_second", &self.requests_per_second)
            .finish()
    }
}

/// A call's transcript with its parties, as the tools use it.
pub(crate) struct CallText {
    pub call_id: String,
    pub title: Option<String>,
    pub parties: Vec<client::Party>,
    pub monologues: Vec<client::Monologue>,
}

pub(crate) struct Shared {
    pub client: GongClient,
    pub budget: Budget,
    /// Recently read transcripts, so reading one in pieces costs Gong two requests, not 2×pieces.
    pub transcripts: Mutex<VecDeque<Arc<CallText>>>,
}

/// The server. Cheap to clone: rmcp's per-session factory clones it; the state is shared.
#[derive(Clone)]
pub struct GongServer {
    pub(crate) shared: Arc<Shared>,
    tool_router: Arc<ToolRouter<Self>>,
}

impl GongServer {
    /// Build the client and the router (with `--read-only` applied). Never calls Gong.
    pub fn new(config: GongConfig) -> Result<Self, String> {
        let client = GongClient::new(
            &config.base_url,
            config.access_key,
            config.access_key_secret,
            config.timeout,
            config.retry,
            config.requests_per_second,
        )?;
        let mut router = Self::calls_router();
        router.merge(Self::analysis_router());
        if config.read_only {
            mcp_core::serve::retain_read_only(&mut router);
        }
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                budget: config.budget,
                transcripts: Mutex::new(VecDeque::new()),
            }),
            tool_router: Arc::new(router),
        })
    }

    /// The Gong client (for benchmarks and tests: request counts).
    pub fn client(&self) -> &GongClient {
        &self.shared.client
    }

    pub(crate) fn cached_transcript(&self, call_id: &str) -> Option<Arc<CallText>> {
        let cache = self.shared.transcripts.lock().ok()?;
        cache.iter().find(|t| t.call_id == call_id).cloned()
    }

    pub(crate) fn cache_transcript(&self, text: Arc<CallText>) {
        if let Ok(mut cache) = self.shared.transcripts.lock() {
            cache.retain(|t| t.call_id != text.call_id);
            cache.push_front(text);
            cache.truncate(TRANSCRIPT_CACHE);
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for GongServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Gong: recorded sales calls. call_list lists calls in a date window; call_get gives \
                 one call's parties, CRM account/opportunity, brief, key points, trackers and stats; \
                 call_transcript reads a transcript in pieces (pass next_offset back as offset); \
                 call_search finds calls by account, e-mail domain, CRM opportunity or a keyword in \
                 transcripts; get_talking_points and analyze_call_sentiment analyse one call. \
                 Dates: 2024-05-01 or 2024-05-01T09:30:00Z. Everything is read-only.",
            )
    }
}

impl mcp_core::SophiaServer for GongServer {
    fn tools(&self) -> Vec<Tool> {
        self.tool_router.list_all()
    }

    async fn health(&self) -> serde_json::Value {
        let c = self.client();
        serde_json::json!({
            "api": c.base_url(),
            "credentials": match c.missing_credential() {
                None => "set".to_string(),
                Some(v) => format!("missing: set {v}"),
            },
            "requests_sent": c.requests_sent(),
            "cached_transcripts": self.shared.transcripts.lock().map(|c| c.len()).unwrap_or(0),
        })
    }

    async fn check(&self) -> Result<String, String> {
        check(self.client()).await
    }
}

/// `--check`: `GET /v2/users` (the cheapest authenticated read; Gong's endpoint has no page-size
/// parameter, so this reads its first page) and report the account's user count.
async fn check(client: &GongClient) -> Result<String, String> {
    if let Some(v) = client.missing_credential() {
        return Err(format!(
            "{v} is not set: create an access key on the Gong API page (Company settings → API, https://app.gong.io/company/api; technical administrators only) and set GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET"
        ));
    }
    let ct = CancellationToken::new();
    let page = client
        .get::<client::UsersPage>("/v2/users", &[], &ct)
        .await
        .map_err(|e| format!("GET /v2/users: {}", e.into_tool()))?;
    let (users, total) = match page {
        Some(p) => (
            p.users.len() as u64,
            p.records.total_records.unwrap_or(p.users.len() as u64),
        ),
        None => (0, 0),
    };
    Ok(format!(
        "{} answers with these credentials: {total} users ({users} on the first page)",
        client.base_url()
    ))
}
