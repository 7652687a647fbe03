//! The tools: reads in `read.rs`, writes in `write.rs`; the shapes they return here.

mod read;
mod write;

use schemars::JsonSchema;
use serde::Serialize;

use crate::SlackServer;
use crate::client::RawMessage;

/// Longest message text in a result; longer texts are cut and flagged.
pub const MAX_TEXT_CHARS: usize = 4_000;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A channel as the tools return it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChannelOut {
    pub id: String,
    /// Name without `#` (absent for direct messages)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An emoji reaction on a message.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Reaction {
    /// Emoji name without colons
    pub name: String,
    pub count: u64,
}

/// One message.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Message {
    /// The message id within its channel (Slack `ts`)
    pub ts: String,
    /// When it was posted, UTC (RFC 3339)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Author's user id
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Author's name as Slack shows it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub text: String,
    /// The text was longer and is cut here
    #[serde(skip_serializing_if = "is_false")]
    pub text_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    /// Thread this message belongs to (equals `ts` on a thread's parent)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// Replies in its thread (on a thread's parent)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_count: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Files attached
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
}

/// A text cut to `max` characters, and whether it was cut.
pub fn cut(text: &str, max: usize) -> (String, bool) {
    let slice = mcp_core::budget::cut_text(text, 0, max);
    let cut = slice.next_offset.is_some();
    (slice.text, cut)
}

/// User ids mentioned in a text (`<@U0123ABCD>` or `<@U0123ABCD|label>`).
pub fn mentions(text: &str) -> impl Iterator<Item = &str> {
    text.split("<@").skip(1).filter_map(|rest| {
        let end = rest.find(['>', '|'])?;
        let id = &rest[..end];
        (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
    })
}

/// RFC 3339 UTC time of a Slack ts (`1714560000.000100`).
pub fn ts_time(ts: &str) -> Option<String> {
    let secs: i64 = ts.split('.').next()?.parse().ok()?;
    Some(mcp_core::time::iso_from_unix(secs))
}

impl SlackServer {
    /// `<@U0123ABCD>` mentions labelled with the user's name, in Slack's own `<@id|label>` form.
    pub(crate) fn name_mentions(&self, text: &str) -> String {
        if !text.contains("<@") {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut rest = text;
        while let Some(at) = rest.find("<@") {
            out.push_str(&rest[..at]);
            let tail = &rest[at + 2..];
            match tail.find('>') {
                Some(end) if !tail[..end].contains('|') => {
                    let id = &tail[..end];
                    match self.name_of(Some(id)) {
                        Some(name) => out.push_str(&format!("<@{id}|{name}>")),
                        None => out.push_str(&format!("<@{id}>")),
                    }
                    rest = &tail[end + 1..];
                }
                _ => {
                    out.push_str("<@");
                    rest = tail;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Longest text one message may carry in a result, given the budget.
    pub(crate) fn text_cap(&self) -> usize {
        MAX_TEXT_CHARS.min(self.shared.budget.item_chars().saturating_sub(600).max(200))
    }

    /// Project a message, naming its author from the cache.
    pub(crate) fn message(&self, m: RawMessage) -> Message {
        let named = self.name_mentions(m.text.as_deref().unwrap_or_default());
        let (text, text_truncated) = cut(&named, self.text_cap());
        let user_name = self.name_of(m.user.as_deref()).or(m.username.clone());
        Message {
            time: ts_time(&m.ts),
            ts: m.ts,
            user: m.user.or(m.bot_id),
            user_name,
            text,
            text_truncated,
            subtype: m.subtype,
            thread_ts: m.thread_ts,
            reply_count: m.reply_count.filter(|n| *n > 0),
            reactions: m
                .reactions
                .into_iter()
                .map(|r| Reaction {
                    name: r.name,
                    count: r.count,
                })
                .collect(),
            files: (!m.files.is_empty()).then_some(m.files.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ts_to_time() {
        assert_eq!(
            super::ts_time("1714560000.000100").as_deref(),
            Some("2024-05-01T10:40:00Z")
        );
        assert_eq!(super::ts_time("0").as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(super::ts_time("x"), None);
    }

    #[test]
    fn mentions_are_found() {
        let ids: Vec<&str> = super::mentions("hi <@U1ABC> and <@W2|bob>, not <@!x> <@").collect();
        assert_eq!(ids, ["U1ABC", "W2"]);
    }
}
