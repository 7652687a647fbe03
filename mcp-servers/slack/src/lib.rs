//! sophia-slack: the Slack Web API as MCP tools — channels, history, threads, search, users,
//! posts, replies and reactions — with cursor paging inside the response budget, user ids
//! resolved to names from a lazily filled cache (start-up never waits on Slack), write tools
//! limited to `SLACK_WRITE_CHANNELS`, and Slack's error codes turned into errors a model can act on.

pub use mcp_core::call;
pub mod client;
pub mod directory;
mod errors;
mod pager;
mod resolve;
mod tools;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::Budget;
use mcp_core::upstream::RetryPolicy;
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{
        Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
        Tool,
    },
    service::RequestContext,
    tool_handler,
};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub use client::{SlackClient, TokenKind};
pub use directory::Directory;

/// Binary name.
pub const NAME: &str = "sophia-slack";
/// Default HTTP port.
pub const PORT: u16 = 9003;
/// The tool that needs the user token; left out of `tools/list` without one.
pub const SEARCH_TOOL: &str = "message_search";

/// Typed configuration, built once in `main` (tests build it directly).
#[derive(Clone)]
pub struct SlackConfig {
    /// `SLACK_API_BASE_URL` (default `https://slack.com/api`).
    pub base_url: String,
    /// `SLACK_BOT_TOKEN` (xoxb-).
    pub bot_token: Option<SecretString>,
    /// `SLACK_USER_TOKEN` (xoxp-), needed by `message_search`.
    pub user_token: Option<SecretString>,
    /// `SLACK_WRITE_CHANNELS`: ids or names the write tools may touch (empty: any).
    pub write_channels: Vec<String>,
    pub budget: Budget,
    /// Remove every tool that is not read-only.
    pub read_only: bool,
    /// Total timeout of one HTTP request to Slack.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl SlackConfig {
    /// Defaults against `base_url` with the given tokens.
    pub fn new(
        base_url: impl Into<String>,
        bot_token: Option<SecretString>,
        user_token: Option<SecretString>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            bot_token,
            user_token,
            write_channels: Vec::new(),
            budget: Budget::default(),
            read_only: false,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("base_url", &self.base_url)
            .field("bot_token", &self.bot_token.as_ref().map(|_| "[set]"))
            .field("user_token", &self.user_token.as_ref().map(|_| "[set]"))
            .field("write_channels", &self.write_channels)
            .field("budget", &self.budget)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// Whether `s` looks like a Slack conversation id (`C…`, `G…`, `D…`).
pub fn looks_like_channel_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('C' | 'G' | 'D'))
        && s.len() >= 9
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `SLACK_WRITE_CHANNELS`, parsed: ids as given, names without `#`, lower case.
#[derive(Debug, Clone, Default)]
pub struct WriteChannels {
    ids: HashSet<String>,
    names: HashSet<String>,
}

impl WriteChannels {
    pub fn parse(entries: &[String]) -> Self {
        let mut w = Self::default();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if looks_like_channel_id(e) {
                w.ids.insert(e.to_string());
            } else {
                w.names
                    .insert(e.trim_start_matches('#').to_lowercase().to_string());
            }
        }
        w
    }

    /// No restriction configured.
    pub fn is_open(&self) -> bool {
        self.ids.is_empty() && self.names.is_empty()
    }

    pub fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    pub fn allows(&self, id: &str, name: Option<&str>) -> bool {
        self.is_open()
            || self.ids.contains(id)
            || name.is_some_and(|n| self.names.contains(&n.to_lowercase()))
    }

    /// For messages: the allowed entries.
    pub fn describe(&self) -> String {
        let mut all: Vec<String> = self.ids.iter().cloned().collect();
        all.extend(self.names.iter().map(|n| format!("#{n}")));
        all.sort();
        all.join(", ")
    }
}

pub(crate) struct Shared {
    pub client: SlackClient,
    pub dir: Directory,
    pub budget: Budget,
    pub write: WriteChannels,
}

/// The server. Cheap to clone: rmcp's per-session factory clones it; the state is shared.
#[derive(Clone)]
pub struct SlackServer {
    pub(crate) shared: Arc<Shared>,
    tool_router: Arc<ToolRouter<Self>>,
    /// What `tools/list` shows: the router minus `message_search` when no user token is set.
    listed: Arc<Vec<Tool>>,
}

impl SlackServer {
    /// Build the client and the router (with `--read-only` applied). Never calls Slack.
    pub fn new(config: SlackConfig) -> Result<Self, String> {
        let client = SlackClient::new(
            &config.base_url,
            config.bot_token,
            config.user_token,
            config.timeout,
            config.retry,
        )?;
        let mut router = Self::read_router();
        router.merge(Self::write_router());
        if config.read_only {
            mcp_core::serve::retain_read_only(&mut router);
        }
        let listed: Vec<Tool> = router
            .list_all()
            .into_iter()
            .filter(|t| client.has_user_token() || t.name != SEARCH_TOOL)
            .collect();
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                dir: Directory::default(),
                budget: config.budget,
                write: WriteChannels::parse(&config.write_channels),
            }),
            tool_router: Arc::new(router),
            listed: Arc::new(listed),
        })
    }

    /// The user and channel caches (for benchmarks and tests).
    pub fn directory(&self) -> &Directory {
        &self.shared.dir
    }

    pub(crate) fn client(&self) -> &SlackClient {
        &self.shared.client
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SlackServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Slack: read channels, history, threads and users; search messages (with a user \
                 token); post, reply and react. Channels are given by id (C0123ABCD) or #name. \
                 Lists page: pass next_cursor back as cursor with the same arguments.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.listed.as_ref().clone(),
        ))
    }
}

impl mcp_core::SophiaServer for SlackServer {
    fn tools(&self) -> Vec<Tool> {
        self.listed.as_ref().clone()
    }

    async fn health(&self) -> serde_json::Value {
        let c = self.client();
        serde_json::json!({
            "api": c.base_url(),
            "bot_token": if c.has_bot_token() { "set" } else { "missing: set SLACK_BOT_TOKEN" },
            "user_token": if c.has_user_token() { "set" } else { "not set (message_search off)" },
            "search": c.has_user_token(),
            "write_channels": if self.shared.write.is_open() { "any".to_string() } else { self.shared.write.describe() },
            "cached_users": self.shared.dir.user_count(),
            "cached_channels": self.shared.dir.channel_count(),
        })
    }

    async fn check(&self) -> Result<String, String> {
        check(self.client()).await
    }
}

/// `--check`: `auth.test` with each configured token; team, bot user and scopes.
async fn check(client: &SlackClient) -> Result<String, String> {
    use client::{Args, AuthTest};
    if !client.has_bot_token() {
        return Err(
            "SLACK_BOT_TOKEN is not set: create a Slack app, install it, and copy its Bot User OAuth Token (xoxb-...)"
                .into(),
        );
    }
    let ct = CancellationToken::new();
    let (me, headers) = client
        .call_with_headers::<AuthTest>(
            "auth.test",
            TokenKind::Bot,
            Args::Json(serde_json::json!({})),
            &ct,
        )
        .await
        .map_err(|e| format!("auth.test with SLACK_BOT_TOKEN: {}", errors::describe(&e)))?;
    let scopes = headers
        .get("x-oauth-scopes")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(not reported)")
        .to_string();
    let mut line = format!(
        "team {} ({}), bot user {} ({}), scopes: {scopes}",
        me.team.unwrap_or_default(),
        me.team_id.unwrap_or_default(),
        me.user.unwrap_or_default(),
        me.user_id.unwrap_or_default(),
    );
    if client.has_user_token() {
        let user = client
            .call::<AuthTest>(
                "auth.test",
                TokenKind::User,
                Args::Json(serde_json::json!({})),
                &ct,
            )
            .await
            .map_err(|e| format!("auth.test with SLACK_USER_TOKEN: {}", errors::describe(&e)))?;
        line.push_str(&format!(
            "; search on (user token of {})",
            user.user.unwrap_or_default()
        ));
    } else {
        line.push_str("; search off (set SLACK_USER_TOKEN to enable message_search)");
    }
    Ok(line)
}
