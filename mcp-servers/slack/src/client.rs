//! The Slack Web API client and its wire types.
//!
//! Written from Slack's public reference:
//! - Calling the Web API: every method is `https://slack.com/api/<method>`; the token goes in the
//!   `Authorization: Bearer` header; a failure is HTTP 200 with `{"ok":false,"error":"<code>"}`,
//!   and `missing_scope` adds `needed` and `provided`. <https://docs.slack.dev/apis/web-api/>
//! - Cursor paging: `cursor` + `limit` in, `response_metadata.next_cursor` out; an empty, null or
//!   absent `next_cursor` is the end. <https://docs.slack.dev/apis/web-api/pagination>
//! - Rate limits: HTTP 429 with `Retry-After` (seconds) and `{"ok":false,"error":"ratelimited"}`.
//!   <https://docs.slack.dev/apis/web-api/rate-limits>
//! - Scopes of the token: the `x-oauth-scopes` response header.
//!   <https://docs.slack.dev/authentication/tokens>
//! - Methods used: `conversations.list`, `conversations.history`, `conversations.replies`,
//!   `conversations.info`, `search.messages` (user token only; `page`/`count` paging with
//!   `messages.paging`), `users.list`, `users.info`, `chat.postMessage`, `chat.getPermalink`,
//!   `reactions.add`, `reactions.get`, `auth.test`.
//!   <https://docs.slack.dev/reference/methods/conversations.list> (and the sibling pages).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_core::upstream::{RetryPolicy, SendError, build_client, retry_after, send_with_retry};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// Service name used in tool errors.
pub const SERVICE: &str = "Slack";
/// The Slack Web API.
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api";

/// Which of the two tokens a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `SLACK_BOT_TOKEN` (xoxb-).
    Bot,
    /// `SLACK_USER_TOKEN` (xoxp-), needed by `search.messages`.
    User,
}

impl TokenKind {
    /// The environment variable holding this token.
    pub fn variable(self) -> &'static str {
        match self {
            TokenKind::Bot => "SLACK_BOT_TOKEN",
            TokenKind::User => "SLACK_USER_TOKEN",
        }
    }

    /// `bot` or `user`.
    pub fn label(self) -> &'static str {
        match self {
            TokenKind::Bot => "bot",
            TokenKind::User => "user",
        }
    }
}

/// How a Slack call failed.
#[derive(Debug)]
pub enum SlackError {
    /// The token this call needs is not configured.
    MissingToken(TokenKind),
    /// `{"ok":false,"error":code}` (HTTP 200, or 429 with `ratelimited`).
    Api {
        code: String,
        needed: Option<String>,
        provided: Option<String>,
        retry_after: Option<Duration>,
        token: TokenKind,
    },
    /// A non-2xx status without a Slack error body.
    Http {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The body was not what the method documents.
    Malformed(String),
    /// Transport failure (timeout, connect).
    Send(SendError),
    /// The MCP call was cancelled while waiting for Slack.
    Cancelled,
}

/// The arguments of one call.
pub enum Args {
    /// GET with a query string (read methods).
    Query(Vec<(&'static str, String)>),
    /// POST with a JSON body (write methods).
    Json(serde_json::Value),
}

struct Inner {
    http: reqwest::Client,
    base: String,
    bot: Option<SecretString>,
    user: Option<SecretString>,
    retry: RetryPolicy,
    /// The bot token's scopes as last seen in `x-oauth-scopes`.
    bot_scopes: Mutex<Option<String>>,
}

/// A cheap-to-clone Slack Web API client.
#[derive(Clone)]
pub struct SlackClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("base", &self.inner.base)
            .field("bot_token", &self.inner.bot.as_ref().map(|_| "[set]"))
            .field("user_token", &self.inner.user.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl SlackClient {
    /// A client of `base` (e.g. `https://slack.com/api`).
    pub fn new(
        base: &str,
        bot: Option<SecretString>,
        user: Option<SecretString>,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        let http = build_client("sophia-slack", env!("CARGO_PKG_VERSION"), timeout)
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: base.trim_end_matches('/').to_string(),
                bot,
                user,
                retry,
                bot_scopes: Mutex::new(None),
            }),
        })
    }

    /// The base URL (no secrets in it).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    pub fn has_bot_token(&self) -> bool {
        self.inner.bot.is_some()
    }

    pub fn has_user_token(&self) -> bool {
        self.inner.user.is_some()
    }

    /// The bot token's scopes, if a response has told us.
    pub fn bot_scopes(&self) -> Option<String> {
        self.inner.bot_scopes.lock().ok().and_then(|s| s.clone())
    }

    /// The token for reads and writes: the bot token, or the user token when only that is set.
    pub fn main_token(&self) -> TokenKind {
        if self.inner.bot.is_none() && self.inner.user.is_some() {
            TokenKind::User
        } else {
            TokenKind::Bot
        }
    }

    fn token(&self, kind: TokenKind) -> Option<&SecretString> {
        match kind {
            TokenKind::Bot => self.inner.bot.as_ref(),
            TokenKind::User => self.inner.user.as_ref(),
        }
    }

    /// Call `method` and decode its successful body as `T`; stops when `ct` is cancelled.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        token: TokenKind,
        args: Args,
        ct: &CancellationToken,
    ) -> Result<T, SlackError> {
        self.call_with_headers(method, token, args, ct)
            .await
            .map(|(t, _)| t)
    }

    /// [`SlackClient::call`] that also returns the response headers.
    pub async fn call_with_headers<T: DeserializeOwned>(
        &self,
        method: &str,
        token: TokenKind,
        args: Args,
        ct: &CancellationToken,
    ) -> Result<(T, HeaderMap), SlackError> {
        tokio::select! {
            biased;
            _ = ct.cancelled() => Err(SlackError::Cancelled),
            r = self.call_inner(method, token, args) => r,
        }
    }

    async fn call_inner<T: DeserializeOwned>(
        &self,
        method: &str,
        token: TokenKind,
        args: Args,
    ) -> Result<(T, HeaderMap), SlackError> {
        let secret = self
            .token(token)
            .ok_or(SlackError::MissingToken(token))?
            .expose_secret()
            .to_string();
        let url = format!("{}/{method}", self.inner.base);
        let http = &self.inner.http;
        let response = match &args {
            Args::Query(query) => {
                let url = reqwest::Url::parse_with_params(&url, query.iter()).map_err(|e| {
                    SlackError::Send(SendError::Other(format!(
                        "SLACK_API_BASE_URL does not make a valid URL ({url}): {e}"
                    )))
                })?;
                // Reads are idempotent: 429 and 5xx are retried by mcp-core.
                send_with_retry(
                    || http.get(url.clone()).bearer_auth(&secret),
                    true,
                    &self.inner.retry,
                )
                .await
            }
            Args::Json(body) => {
                // Not repeated on 5xx or timeouts (it may have been applied); a 429 (refused
                // unprocessed) is retried after `Retry-After` by `send_with_retry` itself.
                send_with_retry(
                    || http.post(&url).bearer_auth(&secret).json(body),
                    false,
                    &self.inner.retry,
                )
                .await
            }
        }
        .map_err(SlackError::Send)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if token == TokenKind::Bot
            && let Some(scopes) = headers.get("x-oauth-scopes").and_then(|v| v.to_str().ok())
            && let Ok(mut slot) = self.inner.bot_scopes.lock()
        {
            *slot = Some(scopes.to_string());
        }
        let wait = retry_after(&headers);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SlackError::Send(SendError::from(e)))?;
        let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        if !(200..300).contains(&status) {
            if let Some(code) = value
                .as_ref()
                .and_then(|v| v.get("error"))
                .and_then(|e| e.as_str())
            {
                return Err(api_error(code, value.as_ref(), wait, token));
            }
            return Err(SlackError::Http {
                status,
                retry_after: wait,
            });
        }
        let Some(value) = value else {
            return Err(SlackError::Malformed(format!(
                "{method} answered with a body that is not JSON"
            )));
        };
        match value.get("ok").and_then(|v| v.as_bool()) {
            Some(true) => {}
            Some(false) => {
                let code = value
                    .get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("unknown_error");
                return Err(api_error(code, Some(&value), wait, token));
            }
            None => {
                return Err(SlackError::Malformed(format!(
                    "{method} answered without the \"ok\" field"
                )));
            }
        }
        serde_json::from_value::<T>(value)
            .map(|t| (t, headers))
            .map_err(|e| {
                SlackError::Malformed(format!("{method} answered an unexpected shape: {e}"))
            })
    }
}

fn api_error(
    code: &str,
    body: Option<&serde_json::Value>,
    retry_after: Option<Duration>,
    token: TokenKind,
) -> SlackError {
    let field = |k: &str| {
        body.and_then(|b| b.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    SlackError::Api {
        code: code.to_string(),
        needed: field("needed"),
        provided: field("provided"),
        retry_after,
        token,
    }
}

// ---------------------------------------------------------------------------------------------
// Wire types: only the fields we project. Everything defaults so that a minimal, documented
// answer decodes.

#[derive(Debug, Default, Deserialize)]
pub struct ResponseMetadata {
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `response_metadata.next_cursor`, with "" and null meaning the end.
pub fn next_cursor(meta: &Option<ResponseMetadata>) -> Option<String> {
    meta.as_ref()
        .and_then(|m| m.next_cursor.clone())
        .filter(|c| !c.trim().is_empty())
}

#[derive(Debug, Default, Deserialize)]
pub struct TextValue {
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawChannel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_channel: bool,
    #[serde(default)]
    pub is_group: bool,
    #[serde(default)]
    pub is_im: bool,
    #[serde(default)]
    pub is_mpim: bool,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub is_member: Option<bool>,
    /// The other party of an IM.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub topic: Option<TextValue>,
    #[serde(default)]
    pub purpose: Option<TextValue>,
    #[serde(default)]
    pub num_members: Option<u64>,
}

/// `conversations.list`
#[derive(Debug, Deserialize)]
pub struct ChannelsPage {
    #[serde(default)]
    pub channels: Vec<RawChannel>,
    #[serde(default)]
    pub response_metadata: Option<ResponseMetadata>,
}

/// `conversations.info`
#[derive(Debug, Deserialize)]
pub struct ChannelInfo {
    pub channel: RawChannel,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawReaction {
    pub name: String,
    #[serde(default)]
    pub count: u64,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMessage {
    #[serde(default)]
    pub ts: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub reply_count: Option<u64>,
    #[serde(default)]
    pub reactions: Vec<RawReaction>,
    #[serde(default)]
    pub files: Vec<serde_json::Value>,
}

/// `conversations.history` and `conversations.replies`
#[derive(Debug, Deserialize)]
pub struct MessagesPage {
    #[serde(default)]
    pub messages: Vec<RawMessage>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub response_metadata: Option<ResponseMetadata>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawProfile {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub status_text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub profile: Option<RawProfile>,
}

/// `users.list`
#[derive(Debug, Deserialize)]
pub struct UsersPage {
    #[serde(default)]
    pub members: Vec<RawUser>,
    #[serde(default)]
    pub response_metadata: Option<ResponseMetadata>,
}

/// `users.info`
#[derive(Debug, Deserialize)]
pub struct UserInfo {
    pub user: RawUser,
}

#[derive(Debug, Default, Deserialize)]
pub struct MatchChannel {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMatch {
    #[serde(default)]
    pub ts: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub channel: MatchChannel,
    #[serde(default)]
    pub permalink: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub page: u64,
    #[serde(default)]
    pub pages: u64,
    #[serde(default)]
    pub total: u64,
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchMessages {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub paging: Option<Paging>,
    #[serde(default)]
    pub matches: Vec<RawMatch>,
}

/// `search.messages`
#[derive(Debug, Deserialize)]
pub struct SearchResult {
    pub messages: SearchMessages,
}

/// `chat.postMessage`
#[derive(Debug, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    #[serde(default)]
    pub message: Option<RawMessage>,
}

/// `chat.getPermalink`
#[derive(Debug, Deserialize)]
pub struct Permalink {
    pub permalink: String,
}

/// `reactions.get`
#[derive(Debug, Deserialize)]
pub struct ReactionsOf {
    #[serde(default)]
    pub message: Option<RawMessage>,
}

/// `reactions.add`, and any method whose success carries nothing we need.
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `auth.test`
#[derive(Debug, Deserialize)]
pub struct AuthTest {
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}
