//! `sophia-host serve` with a clients file, rate limits, the cache, the audit log and
//! `/metrics`, against `examples/flaky_server.rs` (which logs every call it serves, so the tests
//! count what reached the server) and the real `sophia-memory`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use sophia_host::policy::{hex, token_hash};

const READER: &str = "reader-token-0123456789";
const WRITER: &str = "writer-token-9876543210";
const TINY: &str = "tiny-token-5555555555";
const SHARED: &str = "shared-secret-4242";

/// Counts the progress notifications it receives.
#[derive(Clone, Default)]
struct Progress(Arc<AtomicUsize>);

impl ClientHandler for Progress {
    async fn on_progress(
        &self,
        _params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

type Client = RunningService<RoleClient, Progress>;

struct Setup {
    dir: tempfile::TempDir,
    served: Served,
}

impl Setup {
    fn flaky_dir(&self) -> PathBuf {
        self.dir.path().join("flaky")
    }

    fn audit(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// How many times the flaky server logged `line`.
    fn served(&self, line: &str) -> usize {
        std::fs::read_to_string(self.flaky_dir().join("log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == line)
            .count()
    }

    async fn client(&self, token: &str) -> Client {
        let config =
            StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", self.served.base))
                .auth_header(token.to_string());
        Progress::default()
            .serve(StreamableHttpClientTransport::from_config(config))
            .await
            .unwrap()
    }

    async fn metrics(&self, token: &str) -> String {
        let r = reqwest::Client::new()
            .get(format!("{}/metrics", self.served.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        r.text().await.unwrap()
    }

    /// One raw `initialize` POST to `/mcp`: (status, Retry-After).
    async fn raw_post(&self, token: Option<&str>) -> (u16, Option<String>) {
        let mut req = reqwest::Client::new()
            .post(format!("{}/mcp", self.served.base))
            .header("accept", "application/json, text/event-stream")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"}}}),
            );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (r.status().as_u16(), retry)
    }
}

/// The gateway in front of the flaky server and sophia-memory, with three clients.
async fn setup(extra: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let flaky = dir.path().join("flaky");
    std::fs::create_dir_all(&flaky).unwrap();
    let cfg = dir.path().join("host.json");
    std::fs::write(
        &cfg,
        json!({"mcpServers": {
            "flaky": {"command": flaky_bin(), "env": {"FLAKY_DIR": flaky}},
            "sophia-memory": {"command": memory_bin(), "env": {
                "SOPHIA_MEMORY_DB": dir.path().join("m.db"), "SOPHIA_EMBEDDER": "none"}}
        }})
        .to_string(),
    )
    .unwrap();
    let clients = dir.path().join("clients.yaml");
    std::fs::write(
        &clients,
        format!(
            "clients:
  - name: reader
    token_sha256: {}
    tools: ['flaky__echo', 'flaky__pid', 'flaky__note', 'sophia-memory__search_nodes', 'sophia-memory__read_graph']
    read_only: true
    tool_limits:
      'flaky__echo': 3/6s
  - name: writer
    token_sha256: {}
    tools: ['*']
  - name: tiny
    token_sha256: {}
    tools: ['flaky__pid']
    rate_limit: 4/8s
",
            hex(&token_hash(READER)),
            hex(&token_hash(WRITER)),
            hex(&token_hash(TINY)),
        ),
    )
    .unwrap();
    let workflows = dir.path().join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(
        workflows.join("two_steps.yaml"),
        "name: two_steps\ndescription: Two reads.\nsteps:\n  - id: a\n    call: flaky.pid\n  - id: b\n    call: flaky.echo\n    args: '{text: \"wf\"}'\noutput: '{pid: .steps.a.pid, text: .steps.b.text}'\n",
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mut args: Vec<&str> = vec![
        "--clients",
        clients.to_str().unwrap(),
        "--workflows",
        workflows.to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--audit-args",
    ];
    args.extend_from_slice(extra);
    let served = serve_gateway(&cfg, &args, &[("SOPHIA_HTTP_TOKEN", SHARED)]).await;
    Setup { dir, served }
}

async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else { panic!() };
    client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(map))
        .await
        .unwrap()
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

async fn names(client: &Client) -> BTreeSet<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

fn audit_lines(setup: &Setup) -> Vec<Value> {
    std::fs::read_to_string(setup.audit())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A strict reading of the Prometheus text format (0.0.4): every line is a HELP/TYPE comment or
/// a sample `name{label="value",…} number` of a declared family; histogram buckets are
/// cumulative and end with `+Inf` equal to `_count`. Returns sample → value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    fn ident(s: &str) -> bool {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, value) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
            );
            assert!(ident(name), "bad metric name in {line:?}");
            match kind {
                "HELP" => assert!(!value.is_empty(), "{line:?}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&value),
                        "{line:?}"
                    );
                    assert!(
                        types.insert(name.to_string(), value.to_string()).is_none(),
                        "TYPE twice: {line:?}"
                    );
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(ident(name), "bad sample name in {line:?}");
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("bad labels in {line:?}"));
            // label="value" pairs, values with \\ \" \n escapes.
            let mut rest = inner;
            while !rest.is_empty() {
                let (label, after) = rest.split_once("=\"").unwrap();
                assert!(ident(label), "bad label name in {line:?}");
                let mut end = None;
                let mut escaped = false;
                for (i, c) in after.char_indices() {
                    match (escaped, c) {
                        (true, '\\' | '"' | 'n') => escaped = false,
                        (true, _) => panic!("bad escape in {line:?}"),
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.unwrap_or_else(|| panic!("unterminated label in {line:?}"));
                rest = &after[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
        let family = [
            name,
            name.trim_end_matches("_bucket"),
            name.trim_end_matches("_sum"),
            name.trim_end_matches("_count"),
        ]
        .into_iter()
        .find(|f| types.contains_key(*f))
        .unwrap_or_else(|| panic!("sample of an undeclared family: {line:?}"));
        if family != name {
            assert_eq!(types[family], "histogram", "{line:?}");
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "sample twice: {line:?}"
        );
    }
    // Histograms: cumulative buckets, +Inf == _count.
    for (family, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        let mut per_series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (series, v) in &samples {
            if let Some(labels) = series.strip_prefix(&format!("{family}_bucket{{")) {
                let (others, le) = match labels.rsplit_once(",le=\"") {
                    Some(split) => split,
                    None => ("", labels.strip_prefix("le=\"").unwrap()),
                };
                let le = le.trim_end_matches("\"}");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                per_series
                    .entry(others.to_string())
                    .or_default()
                    .push((le, *v));
            }
        }
        for (labels, mut buckets) in per_series {
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{labels}");
            let (last_le, last) = *buckets.last().unwrap();
            assert_eq!(last_le, f64::INFINITY);
            let count = if labels.is_empty() {
                format!("{family}_count")
            } else {
                format!("{family}_count{{{labels}}}")
            };
            assert_eq!(samples[&count], last);
        }
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_sees_and_calls_only_its_tools() {
    let s = setup(&[]).await;
    let reader = s.client(READER).await;
    let writer = s.client(WRITER).await;
    // Read-only client: its globs, minus anything that writes (flaky__note is listed in its
    // globs but is not read-only).
    assert_eq!(
        names(&reader).await,
        BTreeSet::from(
            [
                "flaky__echo",
                "flaky__pid",
                "sophia-memory__read_graph",
                "sophia-memory__search_nodes"
            ]
            .map(String::from)
        )
    );
    // The same over legacy SSE: the token on each POST names the client.
    let mut sse = mcp_core::testing::SseClient::connect(&s.served.base, Some(READER))
        .await
        .unwrap();
    sse.initialize().await.unwrap();
    let listed = sse.request("tools/list", json!({})).await.unwrap();
    let over_sse: BTreeSet<String> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(over_sse, names(&reader).await);
    let all = names(&writer).await;
    for t in [
        "flaky__note",
        "flaky__crash",
        "sophia-memory__create_entities",
    ] {
        assert!(all.contains(t), "{t} in {all:?}");
    }
    // A tool outside the allow-list is refused, exactly like one that does not exist.
    let refused = reader
        .call_tool(
            CallToolRequestParams::new("flaky__note")
                .with_arguments(json!({"text": "x"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("unknown tool flaky__note"), "{refused}");
    assert_eq!(
        s.served("note x"),
        0,
        "the refused call never reached the server"
    );
    let r = call(&writer, "flaky__note", json!({"text": "y"})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(s.served("note y"), 1);

    // Resources follow the same globs: the writer sees and reads the memory graph; the reader,
    // whose globs name only some tools, neither sees nor reads it.
    let listed = writer.list_all_resources().await.unwrap();
    let graph = listed
        .iter()
        .find(|r| r.uri == "memory://knowledge-graph")
        .expect("the memory graph is offered");
    assert!(graph.name.starts_with("sophia-memory__"), "{}", graph.name);
    assert!(
        writer
            .read_resource(rmcp::model::ReadResourceRequestParams::new(
                "memory://knowledge-graph"
            ))
            .await
            .is_ok()
    );
    assert!(reader.list_all_resources().await.unwrap().is_empty());
    assert!(
        reader
            .read_resource(rmcp::model::ReadResourceRequestParams::new(
                "memory://knowledge-graph"
            ))
            .await
            .is_err()
    );

    // The shared SOPHIA_HTTP_TOKEN still works and sees everything; wrong or missing tokens
    // get 401 (and a client's token hash is not a token).
    let shared = s.client(SHARED).await;
    assert_eq!(names(&shared).await, all);
    assert_eq!(s.raw_post(None).await.0, 401);
    assert_eq!(s.raw_post(Some("nope")).await.0, 401);
    assert_eq!(s.raw_post(Some(&hex(&token_hash(READER)))).await.0, 401);

    // Audit: one line per call, by client, with the outcome; no token anywhere.
    let lines = audit_lines(&s);
    let find = |client: &str, tool: &str| {
        lines
            .iter()
            .find(|l| l["client"] == client && l["tool"] == tool)
            .unwrap_or_else(|| panic!("no audit line for {client} {tool}: {lines:?}"))
    };
    assert_eq!(find("reader", "flaky__note")["outcome"], "denied");
    let ok = find("writer", "flaky__note");
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(ok["args"], json!({"text": "y"}));
    assert!(ok["result_bytes"].as_u64().unwrap() > 0);
    assert!(ok["duration_ms"].as_f64().unwrap() >= 0.0);
    let raw = std::fs::read_to_string(s.audit()).unwrap();
    let log = s.served.stderr.lock().unwrap().clone();
    for secret in [READER, WRITER, TINY, SHARED] {
        assert!(!raw.contains(secret), "a token in the audit log");
        assert!(!log.contains(secret), "a token in the gateway's log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_refuse_the_next_call_and_recover() {
    let s = setup(&[]).await;
    let reader = s.client(READER).await;
    // Per tool: 3 per 6 s (a token back every 2 s, so a slow machine cannot refill one inside the
    // burst): the fourth call in a row is a tool error saying when to retry.
    for i in 0..3 {
        let r = call(&reader, "flaky__echo", json!({"text": format!("r{i}")})).await;
        assert_ne!(r.is_error, Some(true), "{r:?}");
    }
    let r = call(&reader, "flaky__echo", json!({"text": "r3"})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(t.contains("rate limit") && t.contains("retry in"), "{t}");
    assert_eq!(s.served("echo r3"), 0);
    // Other tools are not limited.
    let r = call(&reader, "flaky__pid", json!({})).await;
    assert_ne!(r.is_error, Some(true));
    // One token comes back after 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = call(&reader, "flaky__echo", json!({"text": "r4"})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(s.served("echo r4"), 1);

    // The whole client: 4 requests per 8 s, then HTTP 429 with Retry-After (a token every 2 s).
    for _ in 0..4 {
        assert_eq!(s.raw_post(Some(TINY)).await.0, 200);
    }
    let (status, retry) = s.raw_post(Some(TINY)).await;
    assert_eq!(status, 429);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // Other clients are not affected.
    assert_eq!(s.raw_post(Some(WRITER)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(s.raw_post(Some(TINY)).await.0, 200);

    let m = parse_prometheus(&s.metrics(WRITER).await);
    assert_eq!(
        m["sophia_gateway_rate_limited_total{client=\"reader\",scope=\"tool\"}"],
        1.0
    );
    assert_eq!(
        m["sophia_gateway_rate_limited_total{client=\"tiny\",scope=\"client\"}"],
        1.0
    );
    assert_eq!(
        m["sophia_gateway_calls_total{client=\"reader\",tool=\"flaky__echo\",outcome=\"ok\"}"],
        4.0
    );
    assert_eq!(
        m["sophia_gateway_calls_total{client=\"reader\",tool=\"flaky__echo\",outcome=\"rate_limited\"}"],
        1.0
    );
    let audit = audit_lines(&s);
    assert_eq!(
        audit
            .iter()
            .filter(|l| l["outcome"] == "rate_limited")
            .count(),
        1
    );
}

fn cache_info(r: &CallToolResult) -> Value {
    r.meta.as_ref().unwrap().0["io.sophia/cache"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_calls_do_not_reach_the_server_and_expire() {
    let s = setup(&["--cache-ttl", "60", "--cache-ttl-for", "flaky__echo=3"]).await;
    let writer = s.client(WRITER).await;
    let reader = s.client(READER).await;
    let first = call(&writer, "flaky__echo", json!({"text": "a"})).await;
    assert_eq!(cache_info(&first)["hit"], false);
    let second = call(&writer, "flaky__echo", json!({"text": "a"})).await;
    assert_eq!(cache_info(&second)["hit"], true);
    assert_eq!(second.structured_content, first.structured_content);
    assert_eq!(
        s.served("echo a"),
        1,
        "the cached call did not reach the server"
    );
    // Other arguments, and another client, are other entries.
    call(&writer, "flaky__echo", json!({"text": "b"})).await;
    assert_eq!(s.served("echo b"), 1);
    let r = call(&reader, "flaky__echo", json!({"text": "a"})).await;
    assert_eq!(cache_info(&r)["hit"], false);
    assert_eq!(s.served("echo a"), 2);
    // Writes are never cached, whatever the TTL.
    for _ in 0..2 {
        let r = call(&writer, "flaky__note", json!({"text": "n"})).await;
        assert!(r.meta.is_none() || cache_info(&r).is_null(), "{r:?}");
    }
    assert_eq!(s.served("note n"), 2);
    // After the TTL the server is asked again.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let r = call(&writer, "flaky__echo", json!({"text": "a"})).await;
    assert_eq!(cache_info(&r)["hit"], false);
    assert_eq!(s.served("echo a"), 3);

    let m = parse_prometheus(&s.metrics(WRITER).await);
    assert_eq!(
        m["sophia_gateway_cache_hits_total{tool=\"flaky__echo\"}"],
        1.0
    );
    let cached: Vec<Value> = audit_lines(&s)
        .into_iter()
        .filter(|l| l["cached"] == true)
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert_eq!(cached[0]["client"], "writer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_passes_through_and_a_backend_restart_keeps_the_session() {
    let s = setup(&[]).await;
    let writer = s.client(WRITER).await;
    let progress = writer.service().0.clone();
    let r = call(
        &writer,
        "flaky__slow",
        json!({"ms": 700, "progress_ms": 100}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let seen = progress.load(Ordering::SeqCst);
    assert!(
        seen >= 3,
        "only {seen} progress notifications reached the client"
    );
    // A workflow reports each finished step.
    progress.store(0, Ordering::SeqCst);
    let r = call(&writer, "workflow__two_steps", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(r.structured_content.unwrap()["text"], "wf");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        progress.load(Ordering::SeqCst),
        2,
        "one notification per step"
    );

    let before = call(&writer, "flaky__pid", json!({}))
        .await
        .structured_content
        .unwrap()["pid"]
        .clone();
    // The backend dies during a call: that call fails with a clear tool error …
    let r = call(&writer, "flaky__crash", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).contains("may or may not have taken effect"),
        "{}",
        text(&r)
    );
    // … and the same client session goes on, on a restarted server.
    let after = call(&writer, "flaky__pid", json!({})).await;
    assert_ne!(after.is_error, Some(true), "{after:?}");
    assert_ne!(after.structured_content.unwrap()["pid"], before);
    let m = parse_prometheus(&s.metrics(WRITER).await);
    assert_eq!(
        m["sophia_gateway_server_restarts_total{server=\"flaky\"}"],
        1.0
    );
    assert_eq!(m["sophia_gateway_server_up{server=\"flaky\"}"], 1.0);
    assert_eq!(m["sophia_gateway_server_up{server=\"sophia-memory\"}"], 1.0);
    assert!(
        m["sophia_gateway_call_duration_seconds_count{tool=\"flaky__slow\"}"] >= 1.0,
        "{m:?}"
    );
    let health: Value = reqwest::get(format!("{}/healthz", s.served.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["upstream"]["restarts"]["flaky"], 1, "{health}");
    assert_eq!(
        health["upstream"]["clients"],
        json!(["reader", "writer", "tiny"])
    );
}

#[test]
fn the_parser_catches_malformed_exposition_text() {
    let good = "# HELP x_total A.\n# TYPE x_total counter\nx_total{a=\"1\"} 2\n";
    assert_eq!(parse_prometheus(good)["x_total{a=\"1\"}"], 2.0);
    for bad in [
        "x_total 1\n",                  // undeclared
        "# TYPE x counter\nx{a=1} 2\n", // unquoted
        "# TYPE x counter\nx 1 2 3\n",  // value
        "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", // not cumulative
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_prometheus(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}

/// A client that cancels its call: the cancellation goes through the gateway to the backend,
/// which stops the work (the flaky server logs `cancelled`), and the audit log says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_cancelled_on_the_backend() {
    let s = setup(&[]).await;
    let writer = s.client(WRITER).await;
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(
        CallToolRequestParams::new("flaky__slow").with_arguments(
            json!({"ms": 20000, "progress_ms": 100})
                .as_object()
                .unwrap()
                .clone(),
        ),
    ));
    let handle = writer
        .send_request_with_option(request, rmcp::service::PeerRequestOptions::no_options())
        .await
        .unwrap();
    // Cancel once the backend is working on it (its first progress notification arrived).
    let progress = writer.service().0.clone();
    for _ in 0..200 {
        if progress.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        progress.load(Ordering::SeqCst) > 0,
        "the call never started"
    );
    handle.cancel(Some("test".into())).await.unwrap();
    let mut cancelled = false;
    for _ in 0..100 {
        if s.served("cancelled") == 1 {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cancelled, "the backend never saw the cancellation");
    assert_eq!(s.served("finished"), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let audit = audit_lines(&s);
    assert!(
        audit
            .iter()
            .any(|l| l["tool"] == "flaky__slow" && l["outcome"] == "cancelled"),
        "{audit:?}"
    );
}
