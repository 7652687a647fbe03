//! What the host adds to tool calls, against the real `sophia-memory` release binary over stdio
//! (100 entities in a temporary store, no embedder). "Direct" calls go through the hub's own rmcp
//! client to the same server process, so both sides share the process, its connection and its
//! warm caches; only the host's layers differ:
//!
//! - one call: rmcp's client calling `search_nodes` directly vs `Hub::call` (routing, timeout,
//!   cancel-on-drop guard);
//! - a 3-step chain (`search_nodes` → `open_nodes` with the first hit → `search_nodes` with its
//!   first observation): the same three calls made directly, arguments built in Rust, vs a
//!   workflow run by the engine (check, jq arguments, schema check per call, results collected);
//! - a `foreach` over 100 names (`open_nodes` per name) at concurrency 1, 4 and 16: direct calls
//!   with the same bound (`buffered(n)`) vs the workflow engine.
//!
//! Run: `cargo bench -p sophia-host --bench workflow_overhead` (prints the markdown tables).
//! Knobs: `BENCH_CALLS` (sequential single calls and chains, default 5000), `BENCH_RUNS`
//! (foreach runs per concurrency, default 100), `SOPHIA_MEMORY_BIN`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::Peer;
use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::{Hub, ServerState};
use sophia_host::workflow::Workflow;

const WARMUP: usize = 100;
const ENTITIES: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `target/release/sophia-memory`, built when missing.
fn memory_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SOPHIA_MEMORY_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("sophia-memory");
    if !bin.exists() {
        let profile = dir.file_name().unwrap().to_str().unwrap().to_string();
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "sophia-memory", "--profile", &profile])
            .status()
            .unwrap();
        assert!(status.success());
    }
    bin
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (pct(&v, 0.50), pct(&v, 0.99))
}

fn name(i: usize) -> String {
    format!("Entity {i:03}")
}

async fn call(peer: &Peer<RoleClient>, tool: &str, args: Value) -> CallToolResult {
    let r = peer
        .call_tool(
            CallToolRequestParams::new(tool.to_string())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    r
}

/// The chain made directly: the client builds each call's arguments from the last result.
async fn direct_chain(peer: &Peer<RoleClient>, q: &str) -> usize {
    let found = call(peer, "search_nodes", json!({"query": q})).await;
    let first = found.structured_content.unwrap()["entities"][0]["name"].clone();
    let opened = call(peer, "open_nodes", json!({"names": [first]})).await;
    let obs = opened.structured_content.unwrap()["entities"][0]["observations"][0].clone();
    let again = call(peer, "search_nodes", json!({"query": obs})).await;
    again.structured_content.unwrap()["entities"]
        .as_array()
        .unwrap()
        .len()
}

const CHAIN: &str = r#"
inputs:
  q: {type: string}
steps:
  - id: find
    call: m.search_nodes
    args: '{query: .inputs.q}'
  - id: open
    call: m.open_nodes
    args: '{names: [.steps.find.entities[0].name]}'
  - id: again
    call: m.search_nodes
    args: '{query: .steps.open.entities[0].observations[0]}'
output: '.steps.again.entities | length'
"#;

fn foreach_flow(concurrency: usize) -> String {
    format!(
        r#"
inputs:
  names: {{type: array}}
steps:
  - id: open
    foreach: '.inputs.names'
    concurrency: {concurrency}
    call: m.open_nodes
    args: '{{names: [.item]}}'
output: '[.steps.open[].entities[0].name]'
"#
    )
}

fn main() {
    let calls = env_usize("BENCH_CALLS", 5000);
    let runs = env_usize("BENCH_RUNS", 100);
    // What `sophia-host` itself runs on: a two-worker multi-thread runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let bin = memory_bin();
        let cfg = HostConfig::parse(
            &json!({"mcpServers": {"m": {"command": bin, "env": {
                "SOPHIA_MEMORY_DB": db, "SOPHIA_EMBEDDER": "none", "SOPHIA_LOG": "warn"}}}})
            .to_string(),
            "bench",
        )
        .unwrap();
        let hub = Hub::connect(&cfg, Duration::from_secs(30)).await;
        assert!(hub.status()["m"].starts_with("up"), "{:?}", hub.status());
        let ServerState::Up { client, .. } = hub.servers[0].state() else {
            panic!("not up")
        };
        let peer = client.peer().clone();
        drop(client);
        let entities: Vec<Value> = (0..ENTITIES)
            .map(|i| {
                json!({"name": name(i), "entityType": "bench",
                       "observations": [format!("note number {i:03} about {}", name(i))]})
            })
            .collect();
        call(&peer, "create_entities", json!({"entities": entities})).await;

        println!(
            "sophia-memory: {}; {ENTITIES} entities; {calls} sequential calls/chains after {WARMUP} warm-up; {runs} foreach runs per concurrency\n",
            bin.display()
        );

        // One call.
        let mut d = Vec::with_capacity(calls);
        let mut h = Vec::with_capacity(calls);
        for n in 0..WARMUP + calls {
            let q = json!({"query": format!("number {:03}", n % ENTITIES)});
            let t = Instant::now();
            call(&peer, "search_nodes", q.clone()).await;
            let e1 = t.elapsed();
            let t = Instant::now();
            let r = hub.call("m__search_nodes", q).await.unwrap();
            let e2 = t.elapsed();
            assert_ne!(r.is_error, Some(true));
            if n >= WARMUP {
                d.push(e1);
                h.push(e2);
            }
        }
        let (d50, d99) = p50_p99(d);
        let (h50, h99) = p50_p99(h);
        println!("| one `search_nodes` call | direct p50 | direct p99 | through the host p50 | p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| `Hub::call` vs rmcp client | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | **{:.0} µs** | {:.0} µs |\n",
            us(d50), us(d99), us(h50), us(h99), us(h50) - us(d50), us(h99) - us(d99)
        );

        // The 3-step chain.
        let chain = Workflow::parse(CHAIN, "chain").unwrap();
        let mut d = Vec::with_capacity(calls);
        let mut h = Vec::with_capacity(calls);
        for n in 0..WARMUP + calls {
            let q = format!("number {:03}", n % ENTITIES);
            let t = Instant::now();
            let a = direct_chain(&peer, &q).await;
            let e1 = t.elapsed();
            let inputs = json!({"q": q});
            let t = Instant::now();
            let report = chain.run(&hub, inputs).await.unwrap();
            let e2 = t.elapsed();
            assert_eq!(report.output, json!(a));
            if n >= WARMUP {
                d.push(e1);
                h.push(e2);
            }
        }
        let (d50, d99) = p50_p99(d);
        let (h50, h99) = p50_p99(h);
        println!("| 3-step chain | direct p50 | direct p99 | workflow p50 | workflow p99 | added per call p50 | added per call p99 |");
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| search → open → search | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | **{:.0} µs** | {:.0} µs |\n",
            us(d50), us(d99), us(h50), us(h99), (us(h50) - us(d50)) / 3.0, (us(h99) - us(d99)) / 3.0
        );

        // foreach over 100 items.
        let names: Vec<String> = (0..ENTITIES).map(name).collect();
        println!("| foreach over 100 `open_nodes` | direct wall p50 | direct p99 | workflow wall p50 | workflow p99 | added per item p50 |");
        println!("|---|---|---|---|---|---|");
        for concurrency in [1usize, 4, 16] {
            let flow = Workflow::parse(&foreach_flow(concurrency), "foreach").unwrap();
            let inputs = flow
                .resolve_inputs(json!({"names": names}).as_object().unwrap())
                .unwrap();
            let mut d = Vec::with_capacity(runs);
            let mut h = Vec::with_capacity(runs);
            for n in 0..runs + 2 {
                let t = Instant::now();
                let out: Vec<Value> = stream::iter(names.iter())
                    .map(|nm| {
                        let peer = peer.clone();
                        async move {
                            let r = call(&peer, "open_nodes", json!({"names": [nm]})).await;
                            r.structured_content.unwrap()["entities"][0]["name"].clone()
                        }
                    })
                    .buffered(concurrency)
                    .collect()
                    .await;
                let e1 = t.elapsed();
                let t = Instant::now();
                let report = flow.run(&hub, inputs.clone()).await.unwrap();
                let e2 = t.elapsed();
                assert_eq!(report.output, json!(out));
                if n >= 2 {
                    d.push(e1);
                    h.push(e2);
                }
            }
            let (d50, d99) = p50_p99(d);
            let (h50, h99) = p50_p99(h);
            println!(
                "| concurrency {concurrency} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | **{:.0} µs** |",
                ms(d50), ms(d99), ms(h50), ms(h99), (us(h50) - us(d50)) / ENTITIES as f64
            );
        }
        drop(peer);
        hub.shutdown().await;
    });
}
