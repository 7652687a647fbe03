//! Benchmarks against the fake HubSpot (tests/common), server binary over stdio:
//! 1. overhead of one tool call (`object_search`, one upstream POST) over calling the fake
//!    directly: p50 / p99 of each;
//! 2. `pipeline_summary` over 10,000 deals (50 pages of 200): wall time, upstream requests,
//!    the same requests replayed straight to the fake, the server's peak RSS (VmHWM) — once
//!    unpaced (the server's own cost) and once at the default pacing of 5 searches per second
//!    (HubSpot's documented search limit).
//!
//! Run: `cargo bench -p sophia-hubspot --bench overhead`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

const STAGES: &[(&str, &str)] = &[
    ("default", "appointmentscheduled"),
    ("default", "qualifiedtobuy"),
    ("default", "closedwon"),
    ("default", "closedlost"),
    ("renewals", "r-open"),
];

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let fake = Fake::start(FakeState::default()).await;
        // 10,000 deals: amount 100 + (i mod 50) × 10, stages round-robin.
        fake.with(|s| {
            let deals = s.objects.get_mut("deals").unwrap();
            deals.clear();
            for i in 0..10_000u64 {
                let (p, st) = STAGES[(i % STAGES.len() as u64) as usize];
                let mut props = std::collections::BTreeMap::new();
                props.insert("pipeline".to_string(), p.to_string());
                props.insert("dealstage".to_string(), st.to_string());
                props.insert("amount".to_string(), (100 + (i % 50) * 10).to_string());
                props.insert("hubspot_owner_id".to_string(), "101".to_string());
                props.insert("closedate".to_string(), "2026-03-01T00:00:00Z".to_string());
                deals.insert(10_000 + i, Obj { props });
            }
        });
        let spawn = |per_second: &'static str| {
            let url = fake.url.clone();
            async move {
                let (transport, _) = TokioChildProcess::builder(
                    tokio::process::Command::new(bin()).configure(|cmd| {
                        cmd.env("HUBSPOT_API_BASE_URL", &url)
                            .env("HUBSPOT_ACCESS_TOKEN", TOKEN)
                            .env("HUBSPOT_SEARCH_PER_SECOND", per_second)
                            .env("SOPHIA_LOG", "warn");
                    }),
                )
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
                let pid = transport.id().unwrap();
                (pid, ().serve(transport).await.unwrap())
            }
        };
        let (pid, client) = spawn("0").await;
        let http = reqwest::Client::new();
        let search_url = format!("{}/crm/v3/objects/contacts/search", fake.url);
        let body = json!({"limit": 5, "query": "a"});

        // 1. Overhead per call.
        let n = 2_000;
        for _ in 0..100 {
            ok_call(
                &client,
                "object_search",
                json!({"object_type": "contacts", "limit": 5, "query": "a"}),
            )
            .await;
            http.post(&search_url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        let mut direct = Vec::with_capacity(n);
        let mut served = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = http
                .post(&search_url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            r.bytes().await.unwrap();
            direct.push(t.elapsed());
            let t = Instant::now();
            ok_call(
                &client,
                "object_search",
                json!({"object_type": "contacts", "limit": 5, "query": "a"}),
            )
            .await;
            served.push(t.elapsed());
        }
        direct.sort();
        served.sort();
        println!("object_search, {n} sequential calls (fake HubSpot on 127.0.0.1):");
        println!(
            "  direct HTTP to the fake: p50 {}  p99 {}",
            us(pct(&direct, 0.5)),
            us(pct(&direct, 0.99))
        );
        println!(
            "  via sophia-hubspot stdio: p50 {}  p99 {}",
            us(pct(&served, 0.5)),
            us(pct(&served, 0.99))
        );
        println!(
            "  added by the server: p50 {}  p99 {}",
            us(pct(&served, 0.5).saturating_sub(pct(&direct, 0.5))),
            us(pct(&served, 0.99).saturating_sub(pct(&direct, 0.99)))
        );

        // 2. Pipeline summary over 10,000 deals, unpaced.
        let before = fake.requests("").len();
        let t = Instant::now();
        let v = ok_call(&client, "pipeline_summary", json!({})).await;
        let wall = t.elapsed();
        let after = fake.requests("");
        let made = &after[before..];
        assert_eq!(v["deal_count"], 10_000);
        let searches: Vec<_> = made
            .iter()
            .filter(|r| r.path.ends_with("/search"))
            .collect();
        // Replay the same search bodies straight to the fake: the upstream's share of the time.
        let t = Instant::now();
        for r in &searches {
            http.post(format!("{}{}", fake.url, r.path))
                .bearer_auth(TOKEN)
                .json(&r.body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        let replay = t.elapsed();
        let hwm = vm_hwm_kib(pid);
        println!("pipeline_summary over 10,000 deals:");
        println!(
            "  wall {:.1} ms; requests {} ({} searches of 200 + {} other); pages_fetched {}",
            wall.as_secs_f64() * 1e3,
            made.len(),
            searches.len(),
            made.len() - searches.len(),
            v["pages_fetched"]
        );
        println!(
            "  the same {} searches replayed straight to the fake: {:.1} ms",
            searches.len(),
            replay.as_secs_f64() * 1e3
        );
        println!(
            "  totals: {} deals, amount {}, weighted {}",
            v["deal_count"], v["total_amount"], v["weighted_amount"]
        );
        match hwm {
            Some(k) => println!("  server peak RSS (VmHWM): {:.1} MiB", k as f64 / 1024.0),
            None => println!("  server peak RSS: unavailable (no /proc)"),
        }
        client.cancel().await.unwrap();

        // 3. The same at the default pacing (5 searches per second).
        let (pid, client) = spawn("5").await;
        let t = Instant::now();
        let v = ok_call(&client, "pipeline_summary", json!({})).await;
        let wall = t.elapsed();
        assert_eq!(v["deal_count"], 10_000);
        println!(
            "pipeline_summary over 10,000 deals at 5 searches/s (default): wall {:.2} s, {} pages; server peak RSS {:.1} MiB",
            wall.as_secs_f64(),
            v["pages_fetched"],
            vm_hwm_kib(pid).unwrap_or(0) as f64 / 1024.0
        );
        client.cancel().await.unwrap();
    });
}
