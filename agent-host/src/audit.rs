//! The gateway's audit log: one JSON line per tool call (time, client, tool, duration, outcome,
//! result size, whether it was cached; the arguments only with `--audit-args`, with anything
//! that looks like a secret replaced).

use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::metrics::Outcome;

/// Argument keys whose values are never written (matched case-insensitively as substrings).
const SECRET_KEYS: [&str; 12] = [
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "cookie",
    "session",
    "signature",
];

/// Replace the values of secret-looking keys, and strings that look like credentials.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    if SECRET_KEYS.iter().any(|s| lower.contains(s)) {
                        (k.clone(), Value::String("[redacted]".into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) if looks_like_credential(s) => Value::String("[redacted]".into()),
        other => other.clone(),
    }
}

fn looks_like_credential(s: &str) -> bool {
    let lower = s.trim_start().to_ascii_lowercase();
    lower.starts_with("bearer ")
        || lower.starts_with("basic ")
        || lower.starts_with("xoxb-")
        || lower.starts_with("xoxp-")
        || lower.starts_with("lin_api_")
        || lower.starts_with("pat-")
        || lower.starts_with("sophia_")
        || lower.contains("-----begin")
}

/// One call, as written.
pub struct Record<'a> {
    pub client: &'a str,
    pub tool: &'a str,
    pub took: Duration,
    pub outcome: Outcome,
    pub result_bytes: usize,
    pub cached: bool,
    pub args: &'a Value,
}

/// An append-only JSON-lines file.
pub struct Audit {
    file: Mutex<std::fs::File>,
    with_args: bool,
}

impl Audit {
    /// Open (create or append) `path`.
    pub fn open(path: &Path, with_args: bool) -> Result<Self, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
        Ok(Self {
            file: Mutex::new(file),
            with_args,
        })
    }

    /// Write one line (one `write` call, so lines from concurrent calls never interleave).
    pub fn write(&self, r: &Record<'_>) {
        let mut line = json!({
            "ts": mcp_core::time::now_iso_millis(),
            "client": r.client,
            "tool": r.tool,
            "duration_ms": (r.took.as_secs_f64() * 1e6).round() / 1e3,
            "outcome": r.outcome.as_str(),
            "result_bytes": r.result_bytes,
            "cached": r.cached,
        });
        if self.with_args
            && let Value::Object(m) = &mut line
        {
            m.insert("args".into(), redact(r.args));
        }
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = f.write_all(&bytes) {
            tracing::warn!(error = %e, "audit line not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_every_level() {
        let v = redact(&json!({
            "query": "acme",
            "api_key": "k1",
            "nested": {"Authorization": "x", "list": [{"password": "p"}, "Bearer abc", "fine"]},
            "note": "xoxb-123-456",
            "count": 3
        }));
        assert_eq!(
            v,
            json!({
                "query": "acme",
                "api_key": "[redacted]",
                "nested": {"Authorization": "[redacted]", "list": [{"password": "[redacted]"}, "[redacted]", "fine"]},
                "note": "[redacted]",
                "count": 3
            })
        );
    }

    #[test]
    fn lines_are_json_with_args_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let args = json!({"q": "x", "token": "t0ps3cret"});
        for with_args in [false, true] {
            let a = Audit::open(&path, with_args).unwrap();
            a.write(&Record {
                client: "c",
                tool: "t",
                took: Duration::from_micros(1500),
                outcome: Outcome::Ok,
                result_bytes: 42,
                cached: false,
                args: &args,
            });
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("t0ps3cret"));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["duration_ms"], json!(1.5));
        assert_eq!(lines[0]["result_bytes"], json!(42));
        assert!(lines[0].get("args").is_none());
        assert_eq!(lines[1]["args"], json!({"q": "x", "token": "[redacted]"}));
    }
}
