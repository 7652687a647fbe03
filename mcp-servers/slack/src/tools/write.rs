//! Write tools: message_post, thread_reply, reaction_add. Limited to `SLACK_WRITE_CHANNELS`
//! when set, removed by `--read-only`, and each reports what Slack stored (read back).

use mcp_core::ToolError;
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use rmcp::{RoleServer, service::RequestContext};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Reaction, cut};
use crate::SlackServer;
use crate::call::Call;
use crate::client::{Args, Empty, Permalink, Posted, ReactionsOf, SlackError};
use crate::errors::{Subject, to_tool};
use crate::resolve::ChannelRef;

/// Slack cuts messages above this many characters.
const MAX_POST_CHARS: usize = 40_000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PostParams {
    /// Channel id (C0123ABCD) or #name
    pub channel: String,
    /// Message text (Slack mrkdwn: *bold*, _italic_, <@U0123ABCD> mentions)
    pub text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReplyParams {
    /// Channel id (C0123ABCD) or #name
    pub channel: String,
    /// ts of the thread's parent message
    pub thread_ts: String,
    /// Reply text (Slack mrkdwn)
    pub text: String,
    /// Also show the reply in the channel (default false)
    #[serde(default)]
    pub broadcast: Option<bool>,
}

/// The message as Slack stored it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PostOutput {
    /// Channel id
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// The new message's ts (its id in the channel)
    pub ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// The text as stored (Slack may escape or reformat it)
    pub text: String,
    /// Author (the app's bot user)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Link to the message; absent if Slack would not give one
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    /// What could not be confirmed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReactionParams {
    /// Channel id (C0123ABCD) or #name
    pub channel: String,
    /// ts of the message
    pub ts: String,
    /// Emoji name without colons, e.g. thumbsup or white_check_mark
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReactionOutput {
    pub channel: String,
    pub ts: String,
    pub name: String,
    /// The app had already added this reaction
    pub already_present: bool,
    /// The message's reactions as read back; absent if they could not be read
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<Reaction>>,
    /// What could not be confirmed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An emoji name compared as Slack stores it: no skin tone, `thumbsup`/`thumbsdown` as `+1`/`-1`.
fn emoji_key(name: &str) -> String {
    let base = name.split("::").next().unwrap_or(name);
    match base {
        "thumbsup" => "+1".into(),
        "thumbsdown" => "-1".into(),
        other => other.to_string(),
    }
}

impl SlackServer {
    /// Resolve a channel for a write and enforce `SLACK_WRITE_CHANNELS`.
    async fn writable(&self, given: &str, call: &Call) -> Result<ChannelRef, ToolError> {
        let mut channel = self.channel(given, call).await?;
        let write = &self.shared.write;
        if write.is_open() {
            return Ok(channel);
        }
        if !write.allows(&channel.id, channel.name.as_deref()) && write.has_names() {
            channel = self.channel_named(channel, call).await?;
        }
        if !write.allows(&channel.id, channel.name.as_deref()) {
            return Err(ToolError::Forbidden(format!(
                "{} is not in SLACK_WRITE_CHANNELS ({}); writes are limited to those channels",
                channel.label(),
                write.describe()
            )));
        }
        Ok(channel)
    }

    async fn post(
        &self,
        given: &str,
        text: &str,
        thread_ts: Option<&str>,
        broadcast: bool,
        call: &Call,
    ) -> Result<Json<PostOutput>, ToolError> {
        if text.trim().is_empty() {
            return Err(ToolError::InvalidInput("text is empty".into()));
        }
        let chars = text.chars().count();
        if chars > MAX_POST_CHARS {
            return Err(ToolError::InvalidInput(format!(
                "text is {chars} characters; Slack keeps at most {MAX_POST_CHARS}: split it"
            )));
        }
        let channel = self.writable(given, call).await?;
        let label = channel.label();
        let mut body = json!({ "channel": channel.id, "text": text });
        if let Some(t) = thread_ts {
            body["thread_ts"] = json!(t);
            if broadcast {
                body["reply_broadcast"] = json!(true);
            }
        }
        let token = self.client().main_token();
        let posted: Posted = self
            .client()
            .call("chat.postMessage", token, Args::Json(body), &call.ct)
            .await
            .map_err(|e| to_tool(e, Subject::channel(&label).item(thread_ts.unwrap_or(""))))?;
        let stored = posted.message.unwrap_or_default();
        // The post is done: a failed read-back is reported, not turned into an error.
        let permalink = self
            .client()
            .call::<Permalink>(
                "chat.getPermalink",
                token,
                Args::Query(vec![
                    ("channel", posted.channel.clone()),
                    ("message_ts", posted.ts.clone()),
                ]),
                &CancellationToken::new(),
            )
            .await;
        let (permalink, note) = match permalink {
            Ok(p) => (Some(p.permalink), None),
            Err(e) => (
                None,
                Some(format!(
                    "posted, but the permalink could not be read: {}",
                    to_tool(e, Subject::channel(&label))
                )),
            ),
        };
        let text = cut(stored.text.as_deref().unwrap_or(text), self.text_cap()).0;
        Ok(Json(PostOutput {
            channel: posted.channel,
            channel_name: channel.name,
            thread_ts: stored.thread_ts.or(thread_ts.map(str::to_string)),
            ts: posted.ts,
            text,
            user: stored.user.or(stored.bot_id),
            permalink,
            note,
        }))
    }
}

#[tool_router(router = write_router, vis = "pub(crate)")]
impl SlackServer {
    /// Post a message to a channel; returns it as stored, with its permalink.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn message_post(
        &self,
        Parameters(p): Parameters<PostParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PostOutput>, ToolError> {
        let call = Call::new(&ctx);
        self.post(&p.channel, &p.text, None, false, &call).await
    }

    /// Reply in a thread; returns the reply as stored, with its permalink.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn thread_reply(
        &self,
        Parameters(p): Parameters<ReplyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PostOutput>, ToolError> {
        let call = Call::new(&ctx);
        let ts = p.thread_ts.trim();
        if ts.is_empty() {
            return Err(ToolError::InvalidInput("thread_ts is empty".into()));
        }
        self.post(
            &p.channel,
            &p.text,
            Some(ts),
            p.broadcast.unwrap_or(false),
            &call,
        )
        .await
    }

    /// Add an emoji reaction to a message; returns the message's reactions as read back.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn reaction_add(
        &self,
        Parameters(p): Parameters<ReactionParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ReactionOutput>, ToolError> {
        let call = Call::new(&ctx);
        let name = p.name.trim().trim_matches(':').to_string();
        if name.is_empty() {
            return Err(ToolError::InvalidInput("name is empty".into()));
        }
        let ts = p.ts.trim().to_string();
        if ts.is_empty() {
            return Err(ToolError::InvalidInput("ts is empty".into()));
        }
        let channel = self.writable(&p.channel, &call).await?;
        let label = channel.label();
        let token = self.client().main_token();
        let added = self
            .client()
            .call::<Empty>(
                "reactions.add",
                token,
                Args::Json(json!({ "channel": channel.id, "timestamp": ts, "name": name })),
                &call.ct,
            )
            .await;
        let already_present = match added {
            Ok(_) => false,
            Err(SlackError::Api { code, .. }) if code == "already_reacted" => true,
            Err(e) => return Err(to_tool(e, Subject::channel(&label).item(&ts))),
        };
        let read = self
            .client()
            .call::<ReactionsOf>(
                "reactions.get",
                token,
                Args::Query(vec![
                    ("channel", channel.id.clone()),
                    ("timestamp", ts.clone()),
                    ("full", "true".into()),
                ]),
                &CancellationToken::new(),
            )
            .await;
        let (reactions, note) = match read {
            Ok(r) => {
                let reactions: Vec<Reaction> = r
                    .message
                    .map(|m| m.reactions)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| Reaction {
                        name: r.name,
                        count: r.count,
                    })
                    .collect();
                let wanted = emoji_key(&name);
                let note = (!reactions.iter().any(|r| emoji_key(&r.name) == wanted)).then(|| {
                    format!("Slack accepted the reaction but the message does not show :{name}: on reading back (it may be stored under another alias)")
                });
                (Some(reactions), note)
            }
            Err(e) => (
                None,
                Some(format!(
                    "added, but the reactions could not be read back: {}",
                    to_tool(e, Subject::channel(&label).item(&ts))
                )),
            ),
        };
        Ok(Json(ReactionOutput {
            channel: channel.id,
            ts,
            name,
            already_present,
            reactions,
            note,
        }))
    }
}
