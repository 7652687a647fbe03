//! What sophia-gong adds over calling Gong directly, and what a keyword scan costs.
//!
//! Against the in-process fake Gong (tests/common):
//! 1. Overhead, sequential calls: direct `POST /v2/calls/extensive` (one call by id) with reqwest,
//!    body parsed as JSON, vs `call_get` of the same call from an rmcp client to the release
//!    binary over stdio, which sends that same request, projects and answers. The server's own
//!    rate limiter is opened up for this part (`GONG_REQUESTS_PER_SECOND=1000000`) so it measures
//!    the server, not Gong's quota.
//! 2. A keyword scan over 500 calls with transcripts (5 pages of 100) at the default limit of
//!    3 requests/s: wall time, requests, observed request rate (from the fake's arrival times),
//!    and the server's peak RSS (VmHWM).
//!
//! `cargo bench -p sophia-gong --bench overhead`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};

const WARMUP: usize = 100;
const CALLS: usize = 2_000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn spawn(
    fake: &Fake,
    rate: &str,
) -> (rmcp::service::RunningService<rmcp::RoleClient, ()>, u32) {
    let url = fake.url.clone();
    let rate = rate.to_string();
    let (transport, _) =
        TokioChildProcess::builder(tokio::process::Command::new(bin()).configure(|cmd| {
            cmd.env("GONG_API_BASE_URL", &url)
                .env("GONG_ACCESS_KEY", KEY)
                .env("GONG_ACCESS_KEY_SECRET", SECRET)
                .env("GONG_REQUESTS_PER_SECOND", &rate)
                .env("SOPHIA_LOG", "warn");
        }))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().unwrap();
    (().serve(transport).await.unwrap(), pid)
}

async fn run() {
    // ---- 1. overhead ---------------------------------------------------------------------
    let fake = Fake::start().await;
    let http = reqwest::Client::new();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"))
    );
    let body = json!({
        "filter": {"callIds": [ACME]},
        "contentSelector": {"context": "Extended", "exposedFields": {"parties": true,
            "content": {"topics": true, "trackers": true, "brief": true, "keyPoints": true},
            "interaction": {"speakers": true, "personInteractionStats": true, "questions": true}}}
    });
    let url = format!("{}/v2/calls/extensive", fake.url);
    let mut direct = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let t = Instant::now();
        let v: Value = http
            .post(&url)
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["calls"][0]["metaData"]["id"], ACME);
        if i >= WARMUP {
            direct.push(t.elapsed());
        }
    }
    let (client, pid) = spawn(&fake, "1000000").await;
    let rss_start = status_kib(pid, "VmRSS:").unwrap_or(0);
    let args = json!({"call_id": ACME}).as_object().cloned().unwrap();
    let mut served = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let t = Instant::now();
        let r = client
            .call_tool(CallToolRequestParams::new("call_get").with_arguments(args.clone()))
            .await
            .unwrap();
        assert_eq!(r.structured_content.as_ref().unwrap()["id"], ACME);
        if i >= WARMUP {
            served.push(t.elapsed());
        }
    }
    let rss_after = status_kib(pid, "VmRSS:").unwrap_or(0);
    client.cancel().await.unwrap();
    direct.sort();
    served.sort();
    println!("## call_get over stdio vs the same Gong request direct ({CALLS} sequential calls)");
    println!("| | p50 µs | p99 µs |");
    println!("|---|---|---|");
    println!(
        "| direct POST /v2/calls/extensive | {:.0} | {:.0} |",
        us(pct(&direct, 0.5)),
        us(pct(&direct, 0.99))
    );
    println!(
        "| call_get through sophia-gong (stdio) | {:.0} | {:.0} |",
        us(pct(&served, 0.5)),
        us(pct(&served, 0.99))
    );
    println!(
        "| added by the server | {:.0} | {:.0} |",
        us(pct(&served, 0.5)) - us(pct(&direct, 0.5)),
        us(pct(&served, 0.99)) - us(pct(&direct, 0.99))
    );
    println!(
        "server RSS: {rss_start} KiB after start, {rss_after} KiB after {} calls",
        WARMUP + CALLS
    );

    // ---- 2. keyword scan over 500 transcripts at 3 requests/s --------------------------------
    let calls: Vec<FakeCall> = (0..500)
        .map(|i| {
            let said = if i % 25 == 0 {
                "The budget for next year is not approved yet."
            } else {
                "We mostly talked about the rollout plan."
            };
            let mut c = gen_call(i, if i % 2 == 0 { "globex.com" } else { "initech.com" }, "Globex", said);
            // About 2 KB of transcript per call.
            c.transcript.extend((0..20).map(|k| {
                json!({"speakerId": format!("sa{i}"), "sentences": [{"start": 10_000 + k * 5_000, "end": 14_000 + k * 5_000,
                    "text": format!("Sentence {k} of call {i}: we reviewed the integration steps and the timeline in some detail.")}]})
            }));
            c
        })
        .collect();
    let fake = Fake::with(calls, vec![], 100).await;
    let (client, pid) = spawn(&fake, "3").await;
    let t = Instant::now();
    let r = client
        .call_tool(
            CallToolRequestParams::new("call_search").with_arguments(
                json!({"from": "2024-05-01", "to": "2024-06-01", "keyword": "budget", "limit": 100, "max_pages": 20})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
    let wall = t.elapsed();
    let v = r.structured_content.unwrap();
    let hwm = status_kib(pid, "VmHWM:").unwrap_or(0);
    client.cancel().await.unwrap();
    let starts = fake.state.lock().unwrap().starts.clone();
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let min_gap = gaps.iter().min().copied().unwrap_or_default();
    let span = starts.last().unwrap().duration_since(starts[0]);
    let rate = (starts.len() as f64 - 1.0) / span.as_secs_f64();
    println!();
    println!(
        "## call_search keyword over 500 calls with transcripts (5 pages of 100), default 3 requests/s"
    );
    println!(
        "| wall time | requests | matches | transcripts scanned | observed rate | min gap between requests | server peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {:.2} s | {} | {} | {} | {:.2} req/s | {} ms | {} KiB |",
        wall.as_secs_f64(),
        starts.len(),
        v["items"].as_array().unwrap().len(),
        v["scanned"]["transcripts"],
        rate,
        min_gap.as_millis(),
        hwm
    );
    assert!(v["scanned"]["complete"] == true);
    assert_eq!(v["scanned"]["transcripts"], 500);
}
