//! The gateway's counters and latency histograms, rendered in the Prometheus text exposition
//! format (version 0.0.4) on `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    calls: BTreeMap<(String, String, &'static str), u64>,
    errors: BTreeMap<String, u64>,
    cache_hits: BTreeMap<String, u64>,
    rate_limited: BTreeMap<(String, &'static str), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Shared by the gateway, the policy (HTTP 429s) and the `/metrics` route.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ToolError,
    Denied,
    RateLimited,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Denied => "denied",
            Outcome::RateLimited => "rate_limited",
            Outcome::Cancelled => "cancelled",
        }
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// One finished call.
    pub fn call(&self, client: &str, tool: &str, outcome: Outcome, took: Duration, cached: bool) {
        self.with(|m| {
            *m.calls
                .entry((client.to_string(), tool.to_string(), outcome.as_str()))
                .or_default() += 1;
            if outcome != Outcome::Ok {
                *m.errors.entry(tool.to_string()).or_default() += 1;
            }
            if cached {
                *m.cache_hits.entry(tool.to_string()).or_default() += 1;
            }
            if matches!(outcome, Outcome::Ok | Outcome::ToolError) {
                let h = m.latency.entry(tool.to_string()).or_default();
                let secs = took.as_secs_f64();
                for (i, bound) in BUCKETS.iter().enumerate() {
                    if secs <= *bound {
                        h.counts[i] += 1;
                    }
                }
                h.count += 1;
                h.sum += secs;
            }
        });
    }

    /// One refusal by a rate limit (`scope`: `client` for the transport's 429, `tool`).
    pub fn rate_limited(&self, client: &str, scope: &'static str) {
        self.with(|m| {
            *m.rate_limited
                .entry((client.to_string(), scope))
                .or_default() += 1
        });
    }

    /// The exposition text; `servers` maps each backend to whether it is up, `restarts` to how
    /// often it was restarted.
    pub fn render(
        &self,
        servers: &BTreeMap<String, bool>,
        restarts: &BTreeMap<String, u32>,
    ) -> String {
        let m = self.with(|m| {
            (
                m.calls.clone(),
                m.errors.clone(),
                m.cache_hits.clone(),
                m.rate_limited.clone(),
                m.latency.clone(),
            )
        });
        let (calls, errors, hits, limited, latency) = m;
        let mut out = String::new();
        let section = |out: &mut String, name: &str, kind: &str, help: &str, body: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            out.push_str(&body);
        };
        let mut body = String::new();
        for ((client, tool, outcome), n) in &calls {
            let _ = writeln!(
                body,
                "sophia_gateway_calls_total{{client=\"{}\",tool=\"{}\",outcome=\"{outcome}\"}} {n}",
                escape(client),
                escape(tool)
            );
        }
        section(
            &mut out,
            "sophia_gateway_calls_total",
            "counter",
            "Tool calls by client, tool and outcome.",
            body,
        );
        let mut body = String::new();
        for (tool, n) in &errors {
            let _ = writeln!(
                body,
                "sophia_gateway_errors_total{{tool=\"{}\"}} {n}",
                escape(tool)
            );
        }
        section(
            &mut out,
            "sophia_gateway_errors_total",
            "counter",
            "Tool calls that did not succeed (tool errors, refusals, cancellations).",
            body,
        );
        let mut body = String::new();
        for (tool, n) in &hits {
            let _ = writeln!(
                body,
                "sophia_gateway_cache_hits_total{{tool=\"{}\"}} {n}",
                escape(tool)
            );
        }
        section(
            &mut out,
            "sophia_gateway_cache_hits_total",
            "counter",
            "Calls answered from the cache without reaching the server.",
            body,
        );
        let mut body = String::new();
        for ((client, scope), n) in &limited {
            let _ = writeln!(
                body,
                "sophia_gateway_rate_limited_total{{client=\"{}\",scope=\"{scope}\"}} {n}",
                escape(client)
            );
        }
        section(
            &mut out,
            "sophia_gateway_rate_limited_total",
            "counter",
            "Requests refused by a rate limit (scope client: HTTP 429; scope tool: a tool error).",
            body,
        );
        let mut body = String::new();
        for (tool, h) in &latency {
            let tool = escape(tool);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    body,
                    "sophia_gateway_call_duration_seconds_bucket{{tool=\"{tool}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                body,
                "sophia_gateway_call_duration_seconds_bucket{{tool=\"{tool}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                body,
                "sophia_gateway_call_duration_seconds_sum{{tool=\"{tool}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                body,
                "sophia_gateway_call_duration_seconds_count{{tool=\"{tool}\"}} {}",
                h.count
            );
        }
        section(
            &mut out,
            "sophia_gateway_call_duration_seconds",
            "histogram",
            "Time from the client's call to the answer (cache hits included), by tool.",
            body,
        );
        let mut body = String::new();
        for (server, up) in servers {
            let _ = writeln!(
                body,
                "sophia_gateway_server_up{{server=\"{}\"}} {}",
                escape(server),
                u8::from(*up)
            );
        }
        section(
            &mut out,
            "sophia_gateway_server_up",
            "gauge",
            "Whether each backend server is connected (1) or not (0).",
            body,
        );
        let mut body = String::new();
        for (server, n) in restarts {
            let _ = writeln!(
                body,
                "sophia_gateway_server_restarts_total{{server=\"{}\"}} {n}",
                escape(server)
            );
        }
        section(
            &mut out,
            "sophia_gateway_server_restarts_total",
            "counter",
            "Restarts of each backend server since the gateway started.",
            body,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.call("a", "t", Outcome::Ok, Duration::from_millis(3), false);
        m.call("a", "t", Outcome::Ok, Duration::from_micros(100), true);
        m.call("b\"x", "t", Outcome::RateLimited, Duration::ZERO, false);
        m.rate_limited("b\"x", "tool");
        let text = m.render(
            &BTreeMap::from([("mem".to_string(), true), ("slack".to_string(), false)]),
            &BTreeMap::from([("mem".to_string(), 2)]),
        );
        assert!(
            text.contains("sophia_gateway_calls_total{client=\"a\",tool=\"t\",outcome=\"ok\"} 2")
        );
        assert!(text.contains("client=\"b\\\"x\""), "{text}");
        assert!(text.contains("sophia_gateway_cache_hits_total{tool=\"t\"} 1"));
        assert!(text.contains("sophia_gateway_errors_total{tool=\"t\"} 1"));
        assert!(
            text.contains(
                "sophia_gateway_call_duration_seconds_bucket{tool=\"t\",le=\"0.0005\"} 1"
            )
        );
        assert!(
            text.contains("sophia_gateway_call_duration_seconds_bucket{tool=\"t\",le=\"0.005\"} 2")
        );
        assert!(
            text.contains("sophia_gateway_call_duration_seconds_bucket{tool=\"t\",le=\"+Inf\"} 2")
        );
        assert!(text.contains("sophia_gateway_server_up{server=\"slack\"} 0"));
        assert!(text.contains("sophia_gateway_server_restarts_total{server=\"mem\"} 2"));
    }
}
