//! A 100k-row result spread over partitions, read to the row cap through `execute_query`
//! (in-process MCP client, fake SQL API on 127.0.0.1): time per call and peak RSS, next to the
//! same call on a 1k-row result (memory should follow the cap, not the result size), and the
//! overhead of a small query through the server over the same HTTP call made directly.
//!
//! Run: `cargo bench -p sophia-snowflake --bench partitions`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn time_calls(
    client: &mcp_core::testing::Client,
    args: serde_json::Value,
    n: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let v = ok_call(client, "execute_query", args.clone()).await;
        out.push(t.elapsed());
        assert!(v["rows"].as_array().is_some());
    }
    out.sort();
    out
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let fake = Fake::start().await;
        fake.on("SELECT * FROM BIG", Reply::Generated { total: 100_000, partition_size: 4_000 });
        fake.on("SELECT * FROM HUGE", Reply::Generated { total: 1_000_000, partition_size: 4_000 });
        fake.on("SELECT * FROM SMALL", Reply::Generated { total: 1_000, partition_size: 4_000 });
        fake.on("SELECT 1", Reply::rows(&[("N", "fixed")], vec![vec![json!("1")]]));
        let mut cfg = config(&fake);
        // Let the page hold the whole cap: the point is the 10k-row read, not the budget.
        cfg.budget = mcp_core::Budget::new(50_000_000);
        let client = client(cfg).await;

        // Direct HTTP to the fake vs the same statement through the server.
        let http = reqwest::Client::new();
        let jwt = {
            let pem = std::fs::read_to_string(fixture("test_only_rsa_key.p8")).unwrap();
            sophia_snowflake::auth::KeyPairJwt::new(ACCOUNT, USER, &pem).unwrap()
        };
        let token = jwt.token().unwrap();
        use secrecy::ExposeSecret;
        let mut direct = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            let r = http
                .post(format!("{}/api/v2/statements?requestId={}", fake.url, uuid::Uuid::new_v4()))
                .bearer_auth(token.expose_secret())
                .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
                .header("Accept", "application/json")
                .header("User-Agent", "bench/0")
                .json(&json!({"statement": "SELECT 1"}))
                .send()
                .await
                .unwrap();
            let _ = r.bytes().await.unwrap();
            direct.push(t.elapsed());
        }
        direct.sort();
        let through = time_calls(&client, json!({"statement": "SELECT 1"}), 300).await;
        println!(
            "small query: direct HTTP p50 {:?} p99 {:?}; through sophia-snowflake (in-process MCP) p50 {:?} p99 {:?}; added p50 {:?}",
            pct(&direct, 0.5), pct(&direct, 0.99), pct(&through, 0.5), pct(&through, 0.99),
            pct(&through, 0.5).saturating_sub(pct(&direct, 0.5))
        );

        let base = peak_rss_kib();
        let small = time_calls(&client, json!({"statement": "SELECT * FROM SMALL", "limit": 10000}), 20).await;
        let after_small = peak_rss_kib();
        let big = time_calls(&client, json!({"statement": "SELECT * FROM BIG", "limit": 10000}), 20).await;
        let after_big = peak_rss_kib();
        let big_default = time_calls(&client, json!({"statement": "SELECT * FROM BIG"}), 20).await;
        let gets = fake.partition_gets().len();
        let huge = time_calls(&client, json!({"statement": "SELECT * FROM HUGE", "limit": 10000}), 20).await;
        let after_huge = peak_rss_kib();
        println!("1k-row result, cap 10000 (all 1000 rows): p50 {:?} p99 {:?}; peak RSS {} KiB (before: {} KiB)", pct(&small, 0.5), pct(&small, 0.99), after_small, base);
        println!("100k-row result in 25 partitions, cap 10000: p50 {:?} p99 {:?}; peak RSS {} KiB", pct(&big, 0.5), pct(&big, 0.99), after_big);
        println!("100k-row result, default cap 200: p50 {:?} p99 {:?}; partition GETs over all 40 big calls: {gets} (2 per 10k-row call: partitions 1 and 2 of 25; none for cap 200)", pct(&big_default, 0.5), pct(&big_default, 0.99));
        println!("1M-row result in 250 partitions, cap 10000: p50 {:?} p99 {:?}; peak RSS {} KiB", pct(&huge, 0.5), pct(&huge, 0.99), after_huge);
    });
}
