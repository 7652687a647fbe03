//! Slack's error codes as tool errors a model (or the person configuring the app) can act on.
//! Codes from the method reference pages and <https://docs.slack.dev/apis/web-api/#errors>.

use mcp_core::ToolError;

use crate::client::{SERVICE, SlackError, TokenKind};

/// What a call was about, for the messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The channel as the caller named it, e.g. `#sales (C0123ABCD)`.
    pub channel: Option<&'a str>,
    /// The message (`ts`) or user the call was about.
    pub item: Option<&'a str>,
}

impl<'a> Subject<'a> {
    pub fn channel(channel: &'a str) -> Self {
        Self {
            channel: Some(channel),
            item: None,
        }
    }

    pub fn item(mut self, item: &'a str) -> Self {
        self.item = Some(item);
        self
    }
}

/// The tool error for a failed Slack call.
pub fn to_tool(e: SlackError, about: Subject<'_>) -> ToolError {
    let channel = about.channel.unwrap_or("the channel");
    match e {
        SlackError::MissingToken(kind) => ToolError::MissingCredential {
            service: SERVICE,
            variable: kind.variable(),
        },
        SlackError::Cancelled => ToolError::Cancelled,
        SlackError::Malformed(detail) => ToolError::Upstream {
            service: SERVICE,
            detail: format!("malformed answer: {detail}"),
            retryable: true,
        },
        SlackError::Send(e) => ToolError::Upstream {
            service: SERVICE,
            detail: e.to_string(),
            retryable: true,
        },
        SlackError::Http {
            status: 429,
            retry_after,
        } => ToolError::RateLimited {
            service: SERVICE,
            retry_after,
        },
        SlackError::Http { status, .. } => ToolError::Upstream {
            service: SERVICE,
            detail: format!("HTTP {status}"),
            retryable: status >= 500,
        },
        SlackError::Api {
            code,
            needed,
            provided,
            retry_after,
            token,
        } => api(&code, needed, provided, retry_after, token, channel, about),
    }
}

fn api(
    code: &str,
    needed: Option<String>,
    provided: Option<String>,
    retry_after: Option<std::time::Duration>,
    token: TokenKind,
    channel: &str,
    about: Subject<'_>,
) -> ToolError {
    let variable = token.variable();
    match code {
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked" | "token_expired" => {
            ToolError::Unauthorized {
                service: SERVICE,
                variable,
                detail: code.to_string(),
            }
        }
        "channel_not_found" => ToolError::NotFound(format!(
            "channel not found: {channel}; call channel_list to see the channels this Slack app can see (a private channel needs the app invited)"
        )),
        "not_in_channel" => ToolError::Forbidden(format!(
            "the Slack app is not a member of {channel}; invite it there (/invite @app-name) or use a channel it is in"
        )),
        "is_archived" => ToolError::Forbidden(format!("{channel} is archived")),
        "missing_scope" => {
            let needed = needed.unwrap_or_else(|| "(not named)".into());
            let has = provided
                .filter(|p| !p.is_empty())
                .map(|p| format!(" (it has: {p})"))
                .unwrap_or_default();
            ToolError::Forbidden(format!(
                "the Slack {} token ({variable}) lacks the scope {needed}{has}; add {needed} under OAuth & Permissions, reinstall the app and update {variable}",
                token.label()
            ))
        }
        "not_allowed_token_type" => ToolError::Forbidden(match token {
            TokenKind::Bot => format!(
                "Slack does not accept a bot token ({variable}) for this method; it needs a user token: set SLACK_USER_TOKEN (xoxp-...)"
            ),
            TokenKind::User => format!(
                "Slack does not accept the token in {variable} for this method; search needs a user token (xoxp-...), not a bot token"
            ),
        }),
        "ratelimited" | "rate_limited" => ToolError::RateLimited {
            service: SERVICE,
            retry_after,
        },
        "message_not_found" | "thread_not_found" => ToolError::NotFound(format!(
            "message {} not found in {channel}",
            about.item.unwrap_or("")
        )),
        "user_not_found" | "users_not_found" => ToolError::NotFound(format!(
            "user not found: {}; call user_list to see user ids",
            about.item.unwrap_or("")
        )),
        "invalid_cursor" => ToolError::InvalidInput(
            "Slack no longer accepts this cursor; omit cursor to start over".into(),
        ),
        "invalid_ts_latest" | "invalid_ts_oldest" | "bad_timestamp" => {
            ToolError::InvalidInput(format!(
                "Slack rejected a timestamp ({code}); use Unix seconds like 1714560000 or a message ts like 1714560000.000100"
            ))
        }
        "invalid_name" => ToolError::InvalidInput(
            "Slack does not know that emoji name; use a name without colons, like thumbsup".into(),
        ),
        "msg_too_long" => ToolError::InvalidInput("the message is too long for Slack".into()),
        "no_text" => ToolError::InvalidInput("the message has no text".into()),
        "restricted_action" | "cant_reply_to_message" | "thread_locked" | "access_denied" => {
            ToolError::Forbidden(format!("Slack refused the action in {channel} ({code})"))
        }
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
            ToolError::Upstream {
                service: SERVICE,
                detail: code.to_string(),
                retryable: true,
            }
        }
        other => ToolError::Upstream {
            service: SERVICE,
            detail: format!("error {other}"),
            retryable: false,
        },
    }
}

/// One line for `--check`.
pub fn describe(e: &SlackError) -> String {
    match e {
        SlackError::Api {
            code,
            needed,
            token,
            ..
        } => match code.as_str() {
            "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
            | "token_expired" => format!(
                "Slack rejected the token ({code}); check {}",
                token.variable()
            ),
            "missing_scope" => format!(
                "missing scope {}",
                needed.as_deref().unwrap_or("(not named)")
            ),
            _ => format!("Slack answered {code}"),
        },
        SlackError::MissingToken(kind) => format!("{} is not set", kind.variable()),
        SlackError::Http { status, .. } => format!("HTTP {status}"),
        SlackError::Malformed(d) => format!("malformed answer: {d}"),
        SlackError::Send(e) => e.to_string(),
        SlackError::Cancelled => "cancelled".into(),
    }
}
