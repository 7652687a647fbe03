//! Read tools: channel_list, channel_history, thread_replies, message_search, user_list, user_get.

use mcp_core::ToolError;
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use rmcp::{RoleServer, service::RequestContext};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ChannelOut, Message, cut, ts_time};
use crate::SlackServer;
use crate::call::Call;
use crate::client::{
    Args, ChannelsPage, MessagesPage, RawChannel, RawUser, SearchResult, SlackError, TokenKind,
    UserInfo, UsersPage, next_cursor,
};
use crate::errors::{Subject, to_tool};
use crate::pager::Pager;

/// Kinds of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Public,
    Private,
    Im,
    Mpim,
}

impl ChannelKind {
    fn slack(self) -> &'static str {
        match self {
            ChannelKind::Public => "public_channel",
            ChannelKind::Private => "private_channel",
            ChannelKind::Im => "im",
            ChannelKind::Mpim => "mpim",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ChannelListParams {
    /// Only channels whose name contains this text (case-insensitive)
    #[serde(default)]
    pub query: Option<String>,
    /// Kinds to list (default: those the token's scopes allow among public, private, im, mpim)
    #[serde(default)]
    pub types: Option<Vec<ChannelKind>>,
    /// Include archived channels (default false)
    #[serde(default)]
    pub include_archived: Option<bool>,
    /// Most channels to return (default 100, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A channel, private channel or direct message.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Channel {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// public, private, im or mpim
    pub kind: &'static str,
    #[serde(skip_serializing_if = "super::is_false")]
    pub is_archived: bool,
    /// Whether this app is a member (it can read history only where it is)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_member: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_members: Option<u64>,
    /// The other person of a direct message
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelListOutput {
    pub items: Vec<Channel>,
    /// Pass back as cursor for more; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryParams {
    /// Channel id (C0123ABCD) or #name
    pub channel: String,
    /// Only messages after this time: Unix seconds (1714560000) or a message ts
    #[serde(default)]
    pub oldest: Option<String>,
    /// Only messages before this time: Unix seconds or a message ts
    #[serde(default)]
    pub latest: Option<String>,
    /// Most messages to return, newest first (default 50, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryOutput {
    pub channel: ChannelOut,
    pub items: Vec<Message>,
    /// Pass back as cursor for older messages; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ThreadParams {
    /// Channel id (C0123ABCD) or #name
    pub channel: String,
    /// ts of the thread's parent message
    pub thread_ts: String,
    /// Most messages to return, parent first (default 50, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ThreadOutput {
    pub channel: ChannelOut,
    pub thread_ts: String,
    pub items: Vec<Message>,
    /// Pass back as cursor for more; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

/// Order of search results.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    Score,
    Timestamp,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchParams {
    /// Slack search syntax: words, "phrases", in:#channel, from:@user, before:2024-05-01, after:2024-04-01, has:link
    pub query: String,
    /// score (default) or timestamp (newest first)
    #[serde(default)]
    pub sort: Option<SearchSort>,
    /// Most matches to return (default 20, max 100)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A message found by search.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchHit {
    pub ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub channel: ChannelOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "super::is_false")]
    pub text_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutput {
    /// Matches in all, as Slack counts them
    pub total: u64,
    pub items: Vec<SearchHit>,
    /// Pass back as cursor for more; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UserListParams {
    /// Only users whose handle, name, display name or email contains this text (case-insensitive)
    #[serde(default)]
    pub query: Option<String>,
    /// Include deactivated users (default false)
    #[serde(default)]
    pub include_deleted: Option<bool>,
    /// Most users to return (default 100, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A workspace member.
#[derive(Debug, Serialize, JsonSchema)]
pub struct User {
    pub id: String,
    /// Handle (what @mentions use)
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Present when the token has users:read.email
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(skip_serializing_if = "super::is_false")]
    pub is_bot: bool,
    #[serde(skip_serializing_if = "super::is_false")]
    pub deleted: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserListOutput {
    pub items: Vec<User>,
    /// Pass back as cursor for more; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UserGetParams {
    /// User id (U0123ABCD) or @handle / display name
    pub user: String,
}

fn limit(given: Option<u32>, default: u32, max: u32, name: &str) -> Result<usize, ToolError> {
    match given {
        None => Ok(default as usize),
        Some(0) => Err(ToolError::InvalidInput(format!(
            "{name} must be at least 1"
        ))),
        Some(n) if n > max => Err(ToolError::InvalidInput(format!(
            "{name} is {n}; the most is {max}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

fn check_time(field: &str, value: &Option<String>) -> Result<Option<String>, ToolError> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = v.split('.').count() <= 2
        && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        && v.chars().next().is_some_and(|c| c.is_ascii_digit());
    if !ok {
        return Err(ToolError::InvalidInput(format!(
            "{field} {v:?} is not a time Slack accepts: use Unix seconds like 1714560000 or a message ts like 1714560000.000100"
        )));
    }
    Ok(Some(v.to_string()))
}

/// Which message listing to page through.
struct Listing<'a> {
    method: &'static str,
    kind: &'static str,
    base: Vec<(&'static str, String)>,
    channel_label: &'a str,
}

fn looks_like_user_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('U' | 'W' | 'B'))
        && s.len() >= 9
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn kind_of(c: &RawChannel) -> &'static str {
    if c.is_im {
        "im"
    } else if c.is_mpim {
        "mpim"
    } else if c.is_private || c.is_group {
        "private"
    } else {
        "public"
    }
}

fn project_user(u: RawUser) -> User {
    let p = u.profile.unwrap_or_default();
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    User {
        name: u.name.unwrap_or_else(|| u.id.clone()),
        id: u.id,
        real_name: nonempty(p.real_name).or(nonempty(u.real_name)),
        display_name: nonempty(p.display_name),
        title: nonempty(p.title),
        email: nonempty(p.email),
        tz: nonempty(u.tz),
        status_text: nonempty(p.status_text),
        is_bot: u.is_bot,
        deleted: u.deleted,
    }
}

impl SlackServer {
    /// The conversation types to list when the caller names none: what the bot's scopes allow,
    /// or public and private channels when the scopes are not known yet.
    fn default_types(&self) -> String {
        let Some(scopes) = self.client().bot_scopes() else {
            return "public_channel,private_channel".into();
        };
        let has = |s: &str| scopes.split(',').any(|x| x.trim() == s);
        let mut types = Vec::new();
        for (scope, kind) in [
            ("channels:read", "public_channel"),
            ("groups:read", "private_channel"),
            ("im:read", "im"),
            ("mpim:read", "mpim"),
        ] {
            if has(scope) {
                types.push(kind);
            }
        }
        if types.is_empty() {
            "public_channel".into()
        } else {
            types.join(",")
        }
    }

    /// One history-like listing (`conversations.history` / `.replies`) through the pager.
    async fn messages(
        &self,
        listing: Listing<'_>,
        limit: usize,
        cursor: Option<&str>,
        call: &Call,
    ) -> Result<(Vec<Message>, Option<String>, bool), ToolError> {
        let Listing {
            method,
            kind,
            base,
            channel_label,
        } = listing;
        let page_size = u32::try_from(limit.clamp(1, 200)).unwrap_or(200);
        let mut pager = Pager::start(kind, cursor, limit, page_size, self.shared.budget, 5)?;
        let mut out = Vec::new();
        loop {
            let (c, n) = pager.upstream();
            let mut query = base.clone();
            query.push(("limit", n.to_string()));
            if let Some(c) = c {
                query.push(("cursor", c));
            }
            let page: MessagesPage = self
                .client()
                .call(
                    method,
                    self.client().main_token(),
                    Args::Query(query),
                    &call.ct,
                )
                .await
                .map_err(|e| to_tool(e, Subject::channel(channel_label)))?;
            call.progress(format!("{kind}: read a page from Slack"))
                .await;
            let want = pager.skip()..pager.skip() + pager.wanted(out.len());
            let authors: Vec<&str> = page
                .messages
                .get(want.start.min(page.messages.len())..want.end.min(page.messages.len()))
                .unwrap_or_default()
                .iter()
                .flat_map(|m| {
                    m.user
                        .as_deref()
                        .into_iter()
                        .chain(super::mentions(m.text.as_deref().unwrap_or_default()))
                })
                .collect();
            self.learn_users(authors, call).await;
            let next = next_cursor(&page.response_metadata);
            let items = page
                .messages
                .into_iter()
                .map(|m| Some(self.message(m)))
                .collect();
            if !pager.offer(items, next, &mut out) {
                break;
            }
        }
        let (next_cursor, truncated) = pager.finish();
        Ok((out, next_cursor, truncated))
    }
}

#[tool_router(router = read_router, vis = "pub(crate)")]
impl SlackServer {
    /// List channels, private channels and DMs the app can see (filter by name).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn channel_list(
        &self,
        Parameters(p): Parameters<ChannelListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChannelListOutput>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let query = p
            .query
            .as_deref()
            .map(|q| q.trim().trim_start_matches('#').to_lowercase())
            .filter(|q| !q.is_empty());
        let explicit = p
            .types
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| t.iter().map(|k| k.slack()).collect::<Vec<_>>().join(","));
        let mut types = explicit.clone().unwrap_or_else(|| self.default_types());
        let (page_size, max_pages) = if query.is_some() {
            (1000, 20)
        } else {
            (u32::try_from(limit).unwrap_or(1000), 5)
        };
        let mut pager = Pager::start(
            "channel_list",
            p.cursor.as_deref(),
            limit,
            page_size,
            self.shared.budget,
            max_pages,
        )?;
        let mut out = Vec::new();
        loop {
            let (c, n) = pager.upstream();
            let mut q = vec![
                ("types", types.clone()),
                (
                    "exclude_archived",
                    (!p.include_archived.unwrap_or(false)).to_string(),
                ),
                ("limit", n.to_string()),
            ];
            if let Some(c) = &c {
                q.push(("cursor", c.clone()));
            }
            let page: ChannelsPage = match self
                .client()
                .call(
                    "conversations.list",
                    self.client().main_token(),
                    Args::Query(q),
                    &call.ct,
                )
                .await
            {
                Ok(page) => page,
                // Our default asked for more than the token may list: fall back to public.
                Err(SlackError::Api { code, .. })
                    if explicit.is_none()
                        && types != "public_channel"
                        && c.is_none()
                        && (code == "missing_scope" || code == "invalid_types") =>
                {
                    types = "public_channel".into();
                    continue;
                }
                Err(e) => return Err(to_tool(e, Subject::default())),
            };
            call.progress("channel_list: read a page from Slack").await;
            for c in &page.channels {
                if let Some(n) = c.name.as_deref().filter(|n| !n.is_empty()) {
                    self.shared.dir.put_channel(&c.id, n);
                }
            }
            let peers = page.channels.iter().filter_map(|c| c.user.as_deref());
            self.learn_users(peers, &call).await;
            let next = next_cursor(&page.response_metadata);
            let items = page
                .channels
                .into_iter()
                .map(|c| {
                    let matches = query.as_ref().is_none_or(|q| {
                        c.name
                            .as_deref()
                            .unwrap_or_default()
                            .to_lowercase()
                            .contains(q.as_str())
                    });
                    matches.then(|| Channel {
                        kind: kind_of(&c),
                        user_name: self.name_of(c.user.as_deref()),
                        id: c.id,
                        name: c.name.filter(|n| !n.is_empty()),
                        is_archived: c.is_archived,
                        is_member: c.is_member,
                        topic: c.topic.map(|t| t.value).filter(|t| !t.is_empty()),
                        purpose: c
                            .purpose
                            .map(|t| cut(&t.value, 300).0)
                            .filter(|t| !t.is_empty()),
                        num_members: c.num_members,
                        user: c.user,
                    })
                })
                .collect();
            if !pager.offer(items, next, &mut out) {
                break;
            }
        }
        let (next_cursor, truncated) = pager.finish();
        Ok(Json(ChannelListOutput {
            items: out,
            next_cursor,
            truncated,
        }))
    }

    /// Messages of a channel, newest first, optionally within oldest/latest.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn channel_history(
        &self,
        Parameters(p): Parameters<HistoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<HistoryOutput>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 50, 200, "limit")?;
        let oldest = check_time("oldest", &p.oldest)?;
        let latest = check_time("latest", &p.latest)?;
        let channel = self.channel(&p.channel, &call).await?;
        let mut base = vec![("channel", channel.id.clone())];
        if oldest.is_some() || latest.is_some() {
            base.push(("inclusive", "true".into()));
        }
        if let Some(o) = oldest {
            base.push(("oldest", o));
        }
        if let Some(l) = latest {
            base.push(("latest", l));
        }
        let (items, next_cursor, truncated) = self
            .messages(
                Listing {
                    method: "conversations.history",
                    kind: "channel_history",
                    base,
                    channel_label: &channel.label(),
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        Ok(Json(HistoryOutput {
            channel: ChannelOut {
                id: channel.id,
                name: channel.name,
            },
            items,
            next_cursor,
            truncated,
        }))
    }

    /// A thread: its parent message, then the replies.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn thread_replies(
        &self,
        Parameters(p): Parameters<ThreadParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ThreadOutput>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 50, 200, "limit")?;
        let thread_ts = check_time("thread_ts", &Some(p.thread_ts.clone()))?
            .ok_or_else(|| ToolError::InvalidInput("thread_ts is empty".into()))?;
        let channel = self.channel(&p.channel, &call).await?;
        let base = vec![("channel", channel.id.clone()), ("ts", thread_ts.clone())];
        let label = channel.label();
        let (items, next_cursor, truncated) = self
            .messages(
                Listing {
                    method: "conversations.replies",
                    kind: "thread_replies",
                    base,
                    channel_label: &label,
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await
            .map_err(|e| match e {
                ToolError::NotFound(m) if m.starts_with("message ") => {
                    ToolError::NotFound(format!("thread {thread_ts} not found in {label}"))
                }
                other => other,
            })?;
        Ok(Json(ThreadOutput {
            channel: ChannelOut {
                id: channel.id,
                name: channel.name,
            },
            thread_ts,
            items,
            next_cursor,
            truncated,
        }))
    }

    /// Search messages with Slack's query syntax (in:, from:, before:, after:). Needs SLACK_USER_TOKEN.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn message_search(
        &self,
        Parameters(p): Parameters<SearchParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SearchOutput>, ToolError> {
        let call = Call::new(&ctx);
        if !self.client().has_user_token() {
            return Err(ToolError::MissingCredential {
                service: "Slack message search (search.messages accepts only a user token, xoxp-; a bot token cannot search)",
                variable: "SLACK_USER_TOKEN",
            });
        }
        let limit = limit(p.limit, 20, 100, "limit")?;
        if p.query.trim().is_empty() {
            return Err(ToolError::InvalidInput("query is empty".into()));
        }
        let sort = match p.sort {
            Some(SearchSort::Timestamp) => "timestamp",
            _ => "score",
        };
        let page_size = u32::try_from(limit).unwrap_or(100);
        let mut pager = Pager::start(
            "message_search",
            p.cursor.as_deref(),
            limit,
            page_size,
            self.shared.budget,
            5,
        )?;
        let mut out = Vec::new();
        let mut total;
        loop {
            let (c, n) = pager.upstream();
            let page_no: u64 = c.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
            let q = vec![
                ("query", p.query.clone()),
                ("count", n.to_string()),
                ("page", page_no.to_string()),
                ("sort", sort.to_string()),
                ("sort_dir", "desc".to_string()),
            ];
            let result: SearchResult = self
                .client()
                .call("search.messages", TokenKind::User, Args::Query(q), &call.ct)
                .await
                .map_err(|e| to_tool(e, Subject::default()))?;
            call.progress(format!("message_search: read page {page_no} from Slack"))
                .await;
            let m = result.messages;
            total = m
                .paging
                .as_ref()
                .map(|p| p.total)
                .unwrap_or(m.total)
                .max(m.total);
            let pages = m.paging.as_ref().map(|p| p.pages).unwrap_or(0);
            // Slack serves at most 100 pages of a search.
            let next = (page_no < pages && page_no < 100).then(|| (page_no + 1).to_string());
            let authors: Vec<&str> = m
                .matches
                .iter()
                .flat_map(|h| {
                    h.user
                        .as_deref()
                        .into_iter()
                        .chain(super::mentions(h.text.as_deref().unwrap_or_default()))
                })
                .collect();
            self.learn_users(authors, &call).await;
            let cap = self.text_cap();
            let items = m
                .matches
                .into_iter()
                .map(|h| {
                    if let Some(n) = h.channel.name.as_deref().filter(|n| !n.is_empty())
                        && !h.channel.id.is_empty()
                        && !n.starts_with('U')
                    {
                        self.shared.dir.put_channel(&h.channel.id, n);
                    }
                    let named = self.name_mentions(h.text.as_deref().unwrap_or_default());
                    let (text, text_truncated) = cut(&named, cap);
                    Some(SearchHit {
                        time: ts_time(&h.ts),
                        ts: h.ts,
                        channel: ChannelOut {
                            id: h.channel.id,
                            name: h.channel.name.filter(|n| !n.is_empty()),
                        },
                        user_name: self.name_of(h.user.as_deref()).or(h.username),
                        user: h.user.filter(|u| !u.is_empty()),
                        text,
                        text_truncated,
                        permalink: h.permalink,
                    })
                })
                .collect();
            if !pager.offer(items, next, &mut out) {
                break;
            }
        }
        let (next_cursor, truncated) = pager.finish();
        Ok(Json(SearchOutput {
            total,
            items: out,
            next_cursor,
            truncated,
        }))
    }

    /// List workspace members (filter by name or email).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn user_list(
        &self,
        Parameters(p): Parameters<UserListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<UserListOutput>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let query = p
            .query
            .as_deref()
            .map(|q| q.trim().trim_start_matches('@').to_lowercase())
            .filter(|q| !q.is_empty());
        let include_deleted = p.include_deleted.unwrap_or(false);
        let from_start = p.cursor.is_none();
        let filtering = query.is_some() || !include_deleted;
        let (page_size, max_pages) = if filtering {
            (200, 50)
        } else {
            (u32::try_from(limit.min(200)).unwrap_or(200), 5)
        };
        let mut pager = Pager::start(
            "user_list",
            p.cursor.as_deref(),
            limit,
            page_size,
            self.shared.budget,
            max_pages,
        )?;
        let mut out = Vec::new();
        loop {
            let (c, n) = pager.upstream();
            let mut q = vec![("limit", n.to_string())];
            if let Some(c) = c {
                q.push(("cursor", c));
            }
            let page: UsersPage = self
                .client()
                .call(
                    "users.list",
                    self.client().main_token(),
                    Args::Query(q),
                    &call.ct,
                )
                .await
                .map_err(|e| to_tool(e, Subject::default()))?;
            call.progress("user_list: read a page from Slack").await;
            for u in &page.members {
                self.remember_user(u);
            }
            let next = next_cursor(&page.response_metadata);
            if next.is_none() && from_start && pager.skip() == 0 {
                self.shared.dir.set_users_complete();
            }
            let items = page
                .members
                .into_iter()
                .map(|u| {
                    let keep = (include_deleted || !u.deleted)
                        && query.as_ref().is_none_or(|q| {
                            let p = u.profile.as_ref();
                            [
                                u.name.as_deref(),
                                u.real_name.as_deref(),
                                p.and_then(|p| p.display_name.as_deref()),
                                p.and_then(|p| p.real_name.as_deref()),
                                p.and_then(|p| p.email.as_deref()),
                            ]
                            .into_iter()
                            .flatten()
                            .any(|s| s.to_lowercase().contains(q.as_str()))
                        });
                    keep.then(|| project_user(u))
                })
                .collect();
            if !pager.offer(items, next, &mut out) {
                break;
            }
        }
        let (next_cursor, truncated) = pager.finish();
        Ok(Json(UserListOutput {
            items: out,
            next_cursor,
            truncated,
        }))
    }

    /// One user's profile, by id or @handle.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn user_get(
        &self,
        Parameters(p): Parameters<UserGetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<User>, ToolError> {
        let call = Call::new(&ctx);
        let given = p.user.trim();
        if given.is_empty() {
            return Err(ToolError::InvalidInput("user is empty".into()));
        }
        let id = if looks_like_user_id(given) {
            given.to_string()
        } else {
            self.find_user(given, &call).await?.ok_or_else(|| {
                ToolError::NotFound(format!(
                    "no user named {given}; call user_list with query to find the id"
                ))
            })?
        };
        let info: UserInfo = self
            .client()
            .call(
                "users.info",
                self.client().main_token(),
                Args::Query(vec![("user", id.clone())]),
                &call.ct,
            )
            .await
            .map_err(|e| to_tool(e, Subject::default().item(&id)))?;
        self.remember_user(&info.user);
        Ok(Json(project_user(info.user)))
    }
}
