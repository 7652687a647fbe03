//! The tool-error tier: the tool ran and failed. The result is a `CallToolResult` with
//! `isError: true` and a short message a model can act on. Protocol errors (unknown tool,
//! malformed JSON-RPC) stay `rmcp::ErrorData` and are produced by rmcp itself.

use std::time::Duration;

use rmcp::model::{ContentBlock, IntoContents};

/// Every way a Sophia tool can fail. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The caller's input was wrong in a way the schema could not express.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The thing asked for does not exist. The message is a whole sentence.
    #[error("{0}")]
    NotFound(String),
    /// A credential is not configured.
    #[error("{service} is not configured: set {variable}")]
    MissingCredential {
        service: &'static str,
        variable: &'static str,
    },
    /// The upstream refused our credentials.
    #[error("{service} rejected the credentials ({detail}); check {variable}")]
    Unauthorized {
        service: &'static str,
        variable: &'static str,
        detail: String,
    },
    /// The upstream kept rate limiting after our retries.
    #[error("{service} is rate limiting requests; {}", match retry_after {
        Some(d) => format!("retry after {}s", d.as_secs().max(1)),
        None => "retry later (it did not say when)".to_string(),
    })]
    RateLimited {
        service: &'static str,
        retry_after: Option<Duration>,
    },
    /// The upstream failed (5xx, timeout, malformed answer).
    #[error("{service} failed: {detail}{}", if *retryable { " (temporary; retry later)" } else { "" })]
    Upstream {
        service: &'static str,
        detail: String,
        retryable: bool,
    },
    /// The operation is refused by configuration (read-only, allow-lists).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The client cancelled the call before it finished.
    #[error("the call was cancelled")]
    Cancelled,
    /// A bug or a local failure (database, I/O) that the caller cannot fix.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.to_string())]
    }
}

/// What every tool returns: `Ok(Json(..))` or a tool error.
pub type ToolResult<T> = Result<rmcp::Json<T>, ToolError>;

#[cfg(test)]
mod tests {
    use rmcp::handler::server::tool::IntoCallToolResult;
    use rmcp::model::CallToolResponse;

    use super::*;

    #[test]
    fn tool_error_becomes_is_error_result_not_protocol_error() {
        let r: Result<rmcp::Json<serde_json::Value>, ToolError> =
            Err(ToolError::NotFound("channel not found: #x".into()));
        let Ok(CallToolResponse::Complete(result)) = r.into_call_tool_result() else {
            panic!("expected a complete tool result");
        };
        assert_eq!(result.is_error, Some(true));
        let text = result.content[0].as_text().map(|t| t.text.clone());
        assert_eq!(text.as_deref(), Some("channel not found: #x"));
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = ToolError::MissingCredential {
            service: "Slack",
            variable: "SLACK_BOT_TOKEN",
        };
        assert_eq!(
            e.to_string(),
            "Slack is not configured: set SLACK_BOT_TOKEN"
        );
        let e = ToolError::RateLimited {
            service: "Gong",
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            e.to_string(),
            "Gong is rate limiting requests; retry after 7s"
        );
        let e = ToolError::RateLimited {
            service: "Gong",
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "Gong is rate limiting requests; retry later (it did not say when)"
        );
        assert_eq!(ToolError::Cancelled.to_string(), "the call was cancelled");
    }
}
