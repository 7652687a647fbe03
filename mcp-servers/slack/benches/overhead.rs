//! What sophia-slack adds over calling Slack directly, and what its user cache costs.
//!
//! Against the in-process fake Slack (tests/common), sequential calls:
//! - direct: `GET conversations.history` with reqwest, body parsed as JSON;
//! - through the server: `channel_history` (same channel, same page size) from an rmcp client to
//!   the release binary over stdio, which makes that same upstream call, projects and names.
//!
//! Then the server's RSS before and after `user_list` walked 10,000 users into its cache, and
//! the time from spawn to a completed `initialize`.
//!
//! `cargo bench -p sophia-slack --bench overhead`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const WARMUP: usize = 200;
const CALLS: usize = 3_000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// RSS of our child `sophia-slack`, from /proc (Linux).
fn child_rss_kib() -> Option<u64> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat
            .get(stat.find('(').unwrap_or(0) + 1..close)
            .unwrap_or_default();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .unwrap_or_default();
        if comm == "sophia-slack" && ppid == me {
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            return status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok();
        }
    }
    None
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
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 20, |i| {
        format!("message {i} about the Q3 renewal")
    });

    // Direct and through the server (stdio), interleaved so both see the same machine load.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/conversations.history?channel=C0SALES001&limit=20",
        fake.url
    );
    let started = Instant::now();
    let client = mcp_core::testing::spawn_stdio(
        &bin(),
        &[],
        &[("SLACK_API_BASE_URL", &fake.url), ("SLACK_BOT_TOKEN", BOT)],
    )
    .await
    .unwrap();
    let cold = started.elapsed();
    let args = json!({"channel": "C0SALES001", "limit": 20})
        .as_object()
        .cloned()
        .unwrap();
    let mut direct = Vec::with_capacity(CALLS);
    let mut served = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let t = Instant::now();
        let v: Value = http
            .get(&url)
            .bearer_auth(BOT)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let d = t.elapsed();
        assert_eq!(v["ok"], true);
        let t = Instant::now();
        let r = client
            .call_tool(CallToolRequestParams::new("channel_history").with_arguments(args.clone()))
            .await
            .unwrap();
        let s = t.elapsed();
        assert_ne!(r.is_error, Some(true));
        if i >= WARMUP {
            direct.push(d);
            served.push(s);
        }
    }
    direct.sort();
    served.sort();

    // Memory with 10k users cached.
    let rss_before = child_rss_kib();
    {
        let mut st = fake.state.lock().unwrap();
        for i in 0..10_000 {
            st.users.push(json!({
                "id": format!("U1{i:08}"), "team_id": "T0FAKE01", "name": format!("user{i}"),
                "deleted": false, "real_name": format!("User Number {i}"), "tz": "Europe/Berlin",
                "profile": {"real_name": format!("User Number {i}"), "display_name": format!("u{i}"),
                            "email": format!("user{i}@example.com"), "title": "Engineer"}
            }));
        }
    }
    let mut cursor: Option<Value> = None;
    let mut listed = 0;
    loop {
        let mut a = json!({"limit": 1000});
        if let Some(c) = &cursor {
            a["cursor"] = c.clone();
        }
        let r = client
            .call_tool(
                CallToolRequestParams::new("user_list")
                    .with_arguments(a.as_object().cloned().unwrap()),
            )
            .await
            .unwrap();
        let v = r.structured_content.unwrap();
        listed += v["items"].as_array().map(Vec::len).unwrap_or(0);
        match v.get("next_cursor") {
            Some(c) => cursor = Some(c.clone()),
            None => break,
        }
    }
    let rss_after = child_rss_kib();
    client.cancel().await.unwrap();

    let (d50, d99) = (pct(&direct, 0.5), pct(&direct, 0.99));
    let (s50, s99) = (pct(&served, 0.5), pct(&served, 0.99));
    println!(
        "sophia-slack overhead ({CALLS} sequential calls each, interleaved, after {WARMUP} warm-up, 20 messages a page)"
    );
    println!("| path | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| direct GET conversations.history | {:.0} µs | {:.0} µs |",
        us(d50),
        us(d99)
    );
    println!(
        "| channel_history via sophia-slack (stdio) | {:.0} µs | {:.0} µs |",
        us(s50),
        us(s99)
    );
    println!(
        "| added by the server | {:.0} µs | {:.0} µs |",
        us(s50) - us(d50),
        us(s99) - us(d99)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average during the run: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "cold start to initialized: {:.1} ms",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "RSS: {} KiB after start, {} KiB with {listed} users listed and cached",
        rss_before.map(|v| v.to_string()).unwrap_or("?".into()),
        rss_after.map(|v| v.to_string()).unwrap_or("?".into()),
    );
}
