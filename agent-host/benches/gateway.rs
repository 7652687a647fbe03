//! What `sophia-host serve` costs: the same read-only call (`search_nodes` on a small seeded
//! graph) made directly to `sophia-memory --transport http`, and through `sophia-host serve
//! --transport http` with the same kind of memory server behind it over stdio (the host's normal
//! setup), at 1, 16 and 64 concurrent clients. Then through a second gateway with
//! `--cache-ttl 60`, where every timed call is a cache hit.
//!
//! Each client is its own rmcp Streamable HTTP session. Per concurrency level and round: every
//! client warms up, then all start together and each makes a fixed number of sequential calls;
//! calls/s is all calls over the wall time from the common start to the last reply; p50/p99 are
//! nearest-rank over every call's latency. The three targets are measured in turn within each
//! round (direct, gateway, cached gateway; the order rotates between rounds), so all see the
//! same machine load; the report gives the median over rounds.
//!
//! ```text
//! cargo bench -p sophia-host --bench gateway
//! ```
//!
//! Environment: `BENCH_CONCURRENCY` (`1,16,64`), `BENCH_CALLS` (4000: calls per level and
//! round, split over the clients, at least 50 each), `BENCH_WARMUP` (50 calls per client),
//! `BENCH_ROUNDS` (3), `BENCH_ENTITIES` (200: the seeded graph's size).
//!
//! Not a timed test: it prints a markdown report and exits 0 unless a call fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_core::testing::{Client, HttpChild};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value, json};
use tokio::sync::Barrier;

/// Five entities carry this word in an observation, whatever the graph's size.
const QUERY: &str = "zanzibar";
const MATCHES: usize = 5;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    // Nearest rank.
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One target: where to connect and which tool name to call.
struct Target {
    label: &'static str,
    server: HttpChild,
    tool: &'static str,
}

#[derive(Clone, Copy)]
struct Sample {
    calls_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU time (user + system) the serving processes spent per timed call: the server, or the
    /// gateway plus the server behind it.
    cpu_us: f64,
}

/// utime + stime of `pid` and its direct children, in clock ticks (Linux `/proc`).
fn cpu_ticks(pid: u32) -> u64 {
    let fields = |stat: &str| -> Option<(u32, u64)> {
        let close = stat.rfind(')')?;
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the name: state ppid ... utime (14th field) stime (15th).
        Some((
            f.get(1)?.parse().ok()?,
            f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
        ))
    };
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(this) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let Some((ppid, ticks)) = fields(&stat)
            && (this == pid || ppid == pid)
        {
            total += ticks;
        }
    }
    total
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("arguments are not an object"),
    }
}

async fn connect(base: &str) -> Client {
    ().serve(rmcp::transport::StreamableHttpClientTransport::from_uri(
        format!("{base}/mcp"),
    ))
    .await
    .unwrap()
}

async fn call(client: &Client, tool: &str, arguments: &Map<String, Value>) -> Value {
    let r = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments.clone()))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{tool} failed: {r:?}");
    r.structured_content.unwrap_or_default()
}

/// The same small graph in every memory server: `n` entities with three observations each,
/// five of them mentioning Zanzibar, and a ring of relations.
async fn seed(target: &Target, n: usize) {
    let client = connect(&target.server.base).await;
    let create = target.tool.replace("search_nodes", "create_entities");
    let relate = target.tool.replace("search_nodes", "create_relations");
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let entities: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let third = if i % (n / MATCHES).max(1) == 0 && i / (n / MATCHES).max(1) < MATCHES {
                    "Visited Zanzibar in the spring".to_string()
                } else {
                    format!("Prefers channel {}", i % 7)
                };
                json!({"name": format!("Person {i}"), "entityType": "person",
                       "observations": [format!("Works at Company {}", i % 13),
                                        format!("Joined in {}", 2000 + i % 25), third]})
            })
            .collect();
        call(&client, &create, &args(json!({"entities": entities}))).await;
    }
    let relations: Vec<Value> = (0..n)
        .map(|i| json!({"from": format!("Person {i}"), "to": format!("Person {}", (7 * i + 1) % n), "relationType": "knows"}))
        .collect();
    call(&client, &relate, &args(json!({"relations": relations}))).await;
    let found = call(&client, target.tool, &args(json!({"query": QUERY}))).await;
    assert_eq!(
        found["entities"].as_array().map(Vec::len),
        Some(MATCHES),
        "{} seeded wrongly: {found}",
        target.label
    );
    let _ = client.cancel().await;
}

/// `concurrency` sessions, each warmed up, then `per_client` timed calls each, all started
/// together.
async fn measure(target: &Target, concurrency: usize, per_client: usize, warmup: usize) -> Sample {
    let query = Arc::new(args(json!({"query": QUERY})));
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = connect(&target.server.base).await;
        let (query, barrier, tool) = (query.clone(), barrier.clone(), target.tool);
        tasks.push(tokio::spawn(async move {
            for _ in 0..warmup {
                call(&client, tool, &query).await;
            }
            barrier.wait().await;
            let mut lat = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let t = Instant::now();
                let r = client
                    .call_tool(
                        CallToolRequestParams::new(tool.to_string())
                            .with_arguments((*query).clone()),
                    )
                    .await
                    .unwrap();
                lat.push(t.elapsed());
                assert_ne!(r.is_error, Some(true), "{r:?}");
            }
            let done = Instant::now();
            let _ = client.cancel().await;
            (lat, done)
        }));
    }
    let pid = target.server.child.id().expect("the server is running");
    barrier.wait().await;
    let cpu_before = cpu_ticks(pid);
    let start = Instant::now();
    let mut all = Vec::with_capacity(concurrency * per_client);
    let mut end = start;
    for t in tasks {
        let (lat, done) = t.await.unwrap();
        all.extend(lat);
        end = end.max(done);
    }
    let cpu = (cpu_ticks(pid) - cpu_before) as f64 / TICKS_PER_S;
    all.sort();
    Sample {
        cpu_us: cpu * 1e6 / all.len() as f64,
        calls_per_s: all.len() as f64 / (end - start).as_secs_f64(),
        p50_us: us(pct(&all, 0.50)),
        p99_us: us(pct(&all, 0.99)),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let levels = env_list("BENCH_CONCURRENCY", &[1, 16, 64]);
    let total = env_num("BENCH_CALLS", 4000);
    let warmup = env_num("BENCH_WARMUP", 50);
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let entities = env_num("BENCH_ENTITIES", 200).max(MATCHES);

    // The release binaries: this package's, and sophia-memory built in the same profile.
    let host = PathBuf::from(env!("CARGO_BIN_EXE_sophia-host"));
    let memory = common::built(
        common::target_dir().join("sophia-memory"),
        &["--release", "-p", "sophia-memory"],
    );
    let dir = tempfile::tempdir().unwrap();
    let load_start = load();
    let started_at = Instant::now();

    let memory_env = |db: &Path| {
        vec![
            ("SOPHIA_MEMORY_DB".to_string(), db.display().to_string()),
            ("SOPHIA_MEMORY_SYNC".to_string(), "normal".to_string()),
            ("SOPHIA_EMBEDDER".to_string(), "none".to_string()),
        ]
    };
    let direct_db = dir.path().join("direct.db");
    let env = memory_env(&direct_db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let direct = Target {
        label: "direct",
        server: HttpChild::spawn(&memory, &[], &env).await.unwrap(),
        tool: "search_nodes",
    };
    let gateway = |name: &'static str, db: &str, extra: &'static [&'static str]| {
        let cfg_path = dir.path().join(format!("{name}.json"));
        let env: serde_json::Map<String, Value> = memory_env(&dir.path().join(db))
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let cfg = json!({"mcpServers": {"sophia-memory": {"command": memory, "env": env}}});
        std::fs::write(&cfg_path, cfg.to_string()).unwrap();
        let host = host.clone();
        async move {
            let cfg = cfg_path.display().to_string();
            Target {
                label: name,
                server: HttpChild::spawn_command(&host, &["--config", &cfg, "serve"], extra, &[])
                    .await
                    .unwrap(),
                tool: "sophia-memory__search_nodes",
            }
        }
    };
    let through = gateway("gateway", "gateway.db", &[]).await;
    let cached = gateway("gateway, cached", "cached.db", &["--cache-ttl", "60"]).await;
    let targets = [direct, through, cached];
    for t in &targets {
        seed(t, entities).await;
    }

    // results[target][level] = samples over rounds
    let mut results = vec![vec![Vec::<Sample>::new(); levels.len()]; targets.len()];
    for round in 0..rounds {
        for (li, &c) in levels.iter().enumerate() {
            let per_client = (total / c).max(50);
            for k in 0..targets.len() {
                let ti = (k + round) % targets.len();
                let s = measure(&targets[ti], c, per_client, warmup).await;
                eprintln!(
                    "round {} c={c:>2} {:<16} {:>8.0} calls/s  p50 {:>7.0} µs  p99 {:>7.0} µs  cpu {:>4.0} µs/call  (load {})",
                    round + 1,
                    targets[ti].label,
                    s.calls_per_s,
                    s.p50_us,
                    s.p99_us,
                    s.cpu_us,
                    load()
                );
                results[ti][li].push(s);
            }
        }
    }
    let load_end = load();
    let took = started_at.elapsed();

    let med = |ti: usize, li: usize, f: fn(&Sample) -> f64| -> f64 {
        median(results[ti][li].iter().map(f).collect())
    };
    println!(
        "### Results (median of {rounds} rounds; search_nodes \"{QUERY}\" on {entities} entities, {MATCHES} matches)\n"
    );
    println!(
        "| clients | direct calls/s | gateway calls/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | cached calls/s | cached p50 | cached p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (li, &c) in levels.iter().enumerate() {
        let (d_cps, g_cps, c_cps) = (
            med(0, li, |s| s.calls_per_s),
            med(1, li, |s| s.calls_per_s),
            med(2, li, |s| s.calls_per_s),
        );
        let (d50, g50, c50) = (
            med(0, li, |s| s.p50_us),
            med(1, li, |s| s.p50_us),
            med(2, li, |s| s.p50_us),
        );
        let (d99, g99, c99) = (
            med(0, li, |s| s.p99_us),
            med(1, li, |s| s.p99_us),
            med(2, li, |s| s.p99_us),
        );
        println!(
            "| {c} | {d_cps:.0} | {g_cps:.0} | {:.0}% | {d50:.0} µs | {g50:.0} µs | {:+.0} µs | {d99:.0} µs | {g99:.0} µs | {c_cps:.0} | {c50:.0} µs | {c99:.0} µs |",
            100.0 * g_cps / d_cps,
            g50 - d50
        );
    }
    println!(
        "\nCalls per level and round: {total} (at least 50 per client), after {warmup} warm-up calls per client. Load average (1/5/15 min): {load_start} at the start, {load_end} at the end. Took {:.0} s.",
        took.as_secs_f64()
    );
    println!(
        "\nServer-side CPU per call (user + system time of the server, or of the gateway and the server behind it, over the timed calls; median of rounds):\n"
    );
    println!("| clients | direct | gateway | gateway, cached |");
    println!("|---:|---:|---:|---:|");
    for (li, &c) in levels.iter().enumerate() {
        println!(
            "| {c} | {:.0} µs | {:.0} µs | {:.0} µs |",
            med(0, li, |s| s.cpu_us),
            med(1, li, |s| s.cpu_us),
            med(2, li, |s| s.cpu_us)
        );
    }
    println!("\nPer round (calls/s, p50, p99, server-side CPU per call):\n");
    println!("| clients | target | round | calls/s | p50 | p99 | CPU/call |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for (li, &c) in levels.iter().enumerate() {
        for (ti, t) in targets.iter().enumerate() {
            for (r, s) in results[ti][li].iter().enumerate() {
                println!(
                    "| {c} | {} | {} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs |",
                    t.label,
                    r + 1,
                    s.calls_per_s,
                    s.p50_us,
                    s.p99_us,
                    s.cpu_us
                );
            }
        }
    }
}
