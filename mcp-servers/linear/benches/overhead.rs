//! What sophia-linear adds over calling Linear directly, measured against the test fake on
//! 127.0.0.1: p50/p99 of a tool call through the server over stdio versus the same GraphQL
//! request sent straight to the fake, and the server's resident memory with 10k users cached.
//!
//! Run: `cargo bench -p sophia-linear --bench overhead`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

const WARMUP: usize = 200;
const CALLS: usize = 2_000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn summary(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (pct(&v, 0.50), pct(&v, 0.99))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn direct(fake: &Fake, doc: &sophia_linear::gql::Doc, vars: Value) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let body = json!({"query": doc.text, "variables": vars, "operationName": doc.name}).to_string();
    let mut out = Vec::with_capacity(CALLS);
    for n in 0..WARMUP + CALLS {
        let t = Instant::now();
        let r = http
            .post(&fake.url)
            .header("authorization", API_KEY)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let _ = r.bytes().await.unwrap();
        if n >= WARMUP {
            out.push(t.elapsed());
        }
    }
    out
}

fn main() {
    // One thread for the fake and the client: with the server's own thread that is two busy
    // threads on this two-core machine, so scheduling noise stays out of the numbers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut state = FakeState::default();
        for n in 0..10_000 {
            state.users.push(json!({
                "id": format!("u-gen-{n}"), "name": format!("Generated User {n}"),
                "displayName": format!("gen{n}"), "email": format!("user{n}@example.com"), "active": true,
            }));
        }
        let fake = Fake::start(state).await;

        let (transport, _) = TokioChildProcess::builder(
            tokio::process::Command::new(bin()).configure(|cmd| {
                cmd.env("LINEAR_API_URL", &fake.url)
                    .env("LINEAR_API_KEY", API_KEY)
                    .env("SOPHIA_LOG", "warn");
            }),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let pid = transport.id().unwrap();
        let client = ().serve(transport).await.unwrap();
        let rss_start = rss_kib(pid);

        let cases: Vec<(&str, Value, &sophia_linear::gql::Doc, Value)> = vec![
            ("team_list", json!({}), &sophia_linear::gql::TEAMS, json!({"first": 50, "after": null})),
            ("issue_get", json!({"issue": "ENG-1"}), &sophia_linear::gql::ISSUE_GET, json!({"id": "ENG-1"})),
        ];
        println!("| call | direct p50 | direct p99 | via sophia-linear (stdio) p50 | p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        for (tool, args, doc, vars) in cases {
            let d = summary(direct(&fake, doc, vars).await);
            let mut via = Vec::with_capacity(CALLS);
            for n in 0..WARMUP + CALLS {
                let t = Instant::now();
                let r = client
                    .call_tool(
                        CallToolRequestParams::new(tool)
                            .with_arguments(args.as_object().unwrap().clone()),
                    )
                    .await
                    .unwrap();
                assert_ne!(r.is_error, Some(true));
                if n >= WARMUP {
                    via.push(t.elapsed());
                }
            }
            let s = summary(via);
            println!(
                "| {tool} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs |",
                us(d.0),
                us(d.1),
                us(s.0),
                us(s.1),
                us(s.0) - us(d.0),
                us(s.1) - us(d.1)
            );
        }
        let rss_warm = rss_kib(pid);
        // Resolve a name that is on the last page: the whole user list (10,003 users, 41 pages
        // of 250) is read and cached.
        let t = Instant::now();
        let r = client
            .call_tool(
                CallToolRequestParams::new("issue_list").with_arguments(
                    json!({"assignee": "user9999@example.com"}).as_object().unwrap().clone(),
                ),
            )
            .await
            .unwrap();
        assert_ne!(r.is_error, Some(true), "{r:?}");
        let fill = t.elapsed();
        let rss_cached = rss_kib(pid);
        // Later resolutions are served from the cache: issue_list by a user's email versus the
        // same call without a name to resolve.
        let mut by_name = Vec::new();
        let mut plain = Vec::new();
        for n in 0..400 {
            let args = json!({"assignee": format!("user{}@example.com", (n * 37) % 10_000)});
            let t = Instant::now();
            client
                .call_tool(
                    CallToolRequestParams::new("issue_list")
                        .with_arguments(args.as_object().unwrap().clone()),
                )
                .await
                .unwrap();
            by_name.push(t.elapsed());
            let t = Instant::now();
            client
                .call_tool(
                    CallToolRequestParams::new("issue_list")
                        .with_arguments(json!({"assignee": "me"}).as_object().unwrap().clone()),
                )
                .await
                .unwrap();
            plain.push(t.elapsed());
        }
        let (named_p50, _) = summary(by_name);
        let (plain_p50, _) = summary(plain);
        println!();
        println!("| memory (VmRSS of the server) | KiB |");
        println!("|---|---|");
        println!("| after initialize | {rss_start} |");
        println!("| after the latency runs | {rss_warm} |");
        println!("| with 10,003 users cached | {rss_cached} |");
        println!();
        println!(
            "filling the user cache (41 pages from the fake): {:.1} ms; then issue_list by email among 10k cached users p50 {:.0} µs vs by \"me\" (nothing to resolve) p50 {:.0} µs",
            fill.as_secs_f64() * 1e3,
            us(named_p50),
            us(plain_p50)
        );
        client.cancel().await.unwrap();
    });
}
