//! The host's configuration: the `mcpServers` format Claude Desktop and Cursor already use, so
//! `claude_desktop_config.example.json` works unchanged, plus optional per-server keys
//! (`allowedTools`, `disabledTools`, `timeoutSeconds`, `readOnly`, `disabled`).
//!
//! ```json
//! {"mcpServers": {
//!   "memory": {"command": "sophia-memory", "args": [], "env": {"SOPHIA_LOG": "warn"}},
//!   "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer …"}},
//!   "legacy": {"type": "sse", "url": "http://127.0.0.1:9000/sse"}
//! }}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default per-call timeout when a server does not set `timeoutSeconds`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
pub struct HostConfig {
    #[serde(rename = "mcpServers")]
    pub servers: BTreeMap<String, ServerEntry>,
}

/// One server as configured.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerEntry {
    /// stdio: the program to start.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Added to the host's environment for the child.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Remote: the endpoint (`/mcp` for Streamable HTTP, `/sse` for the legacy transport).
    #[serde(default)]
    pub url: Option<String>,
    /// Remote: extra request headers (e.g. `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `stdio`, `http` (`streamable-http`, `streamableHttp`) or `sse`; inferred when absent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Only these tools (by the server's own names) are offered.
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    /// These tools are never offered.
    #[serde(default)]
    pub disabled_tools: Vec<String>,
    /// Per-call timeout.
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// Offer only tools annotated `readOnlyHint: true`.
    #[serde(default)]
    pub read_only: bool,
    /// Skip this server entirely.
    #[serde(default)]
    pub disabled: bool,
}

impl std::fmt::Debug for ServerEntry {
    // Values of `env` and `headers` are credentials more often than not: names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEntry")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
    Sse,
}

impl ServerEntry {
    /// The transport this entry asks for, or why the entry is unusable.
    pub fn transport(&self) -> Result<Transport, String> {
        let kind = self
            .kind
            .as_deref()
            .map(|k| k.trim().to_ascii_lowercase().replace(['-', '_'], ""));
        match (kind.as_deref(), &self.command, &self.url) {
            (Some("stdio") | None, Some(_), None) => Ok(Transport::Stdio),
            (Some("http" | "streamablehttp"), None, Some(_)) => Ok(Transport::Http),
            (Some("sse"), None, Some(_)) => Ok(Transport::Sse),
            (None, None, Some(url)) => Ok(if url.trim_end_matches('/').ends_with("/sse") {
                Transport::Sse
            } else {
                Transport::Http
            }),
            (_, Some(_), Some(_)) => Err("give either `command` or `url`, not both".into()),
            (_, None, None) => Err("needs `command` (stdio) or `url` (remote)".into()),
            (Some(k), _, _) => Err(format!(
                "type {k:?} does not fit the entry: use stdio with `command`, http or sse with `url`"
            )),
        }
    }

    /// The per-call timeout.
    pub fn call_timeout(&self) -> Duration {
        self.timeout_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_CALL_TIMEOUT)
    }

    /// Whether a tool of this server is offered.
    pub fn offers(&self, tool: &str, read_only_hint: Option<bool>) -> bool {
        if self.disabled_tools.iter().any(|t| t == tool) {
            return false;
        }
        if let Some(allowed) = &self.allowed_tools
            && !allowed.iter().any(|t| t == tool)
        {
            return false;
        }
        !self.read_only || read_only_hint == Some(true)
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a host configuration: {reason}")]
    Parse { path: String, reason: String },
}

impl HostConfig {
    /// Parse a configuration text.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            reason: e.to_string(),
        })
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_are_inferred_and_contradictions_refused() {
        let e = |v: serde_json::Value| serde_json::from_value::<ServerEntry>(v).unwrap();
        assert_eq!(
            e(serde_json::json!({"command": "x"})).transport(),
            Ok(Transport::Stdio)
        );
        assert_eq!(
            e(serde_json::json!({"url": "http://h/mcp"})).transport(),
            Ok(Transport::Http)
        );
        assert_eq!(
            e(serde_json::json!({"url": "http://h/sse"})).transport(),
            Ok(Transport::Sse)
        );
        assert_eq!(
            e(serde_json::json!({"type": "streamable-http", "url": "http://h/x"})).transport(),
            Ok(Transport::Http)
        );
        assert!(
            e(serde_json::json!({"command": "x", "url": "http://h"}))
                .transport()
                .is_err()
        );
        assert!(e(serde_json::json!({})).transport().is_err());
        assert!(
            e(serde_json::json!({"type": "sse", "command": "x"}))
                .transport()
                .is_err()
        );
    }

    #[test]
    fn tool_filters_combine() {
        let entry: ServerEntry = serde_json::from_value(serde_json::json!({
            "command": "x", "allowedTools": ["a", "b"], "disabledTools": ["b"], "readOnly": true
        }))
        .unwrap();
        assert!(entry.offers("a", Some(true)));
        assert!(!entry.offers("a", None), "readOnly needs an explicit hint");
        assert!(!entry.offers("b", Some(true)));
        assert!(!entry.offers("c", Some(true)));
    }

    #[test]
    fn debug_output_names_secrets_but_never_shows_them() {
        let entry: ServerEntry = serde_json::from_value(serde_json::json!({
            "command": "x", "env": {"SLACK_BOT_TOKEN": "xoxb-secret-1"},
            "headers": {"Authorization": "Bearer hunter2"}
        }))
        .unwrap();
        let shown = format!("{entry:?}");
        assert!(shown.contains("SLACK_BOT_TOKEN"));
        assert!(!shown.contains("xoxb-secret-1") && !shown.contains("hunter2"));
    }
}
