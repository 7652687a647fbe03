//! `export` then `import --from` moves a whole store (graph, memories, vectors, times) losslessly;
//! `reembed` switches embedders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use serde_json::json;

fn run(args: &[&str], db: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env("SOPHIA_MEMORY_DB", db)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_is_lossless_and_reembed_switches_embedders() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    let file = dir.path().join("dump.jsonl");
    let hash = [("SOPHIA_EMBEDDER", "hash")];
    {
        let mut p = RawStdio::spawn(&a, &hash).await;
        for _ in 0..200 {
            let s = p.tool("memory_stats", json!({})).await;
            if s["embedder_status"].as_str().unwrap().starts_with("ready") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        p.tool("create_entities", json!({"entities":[{"name":"Acme","entityType":"company","observations":["renewed in May"]}]})).await;
        p.tool(
            "create_relations",
            json!({"relations":[{"from":"Dana","to":"Acme","relationType":"champions"}]}),
        )
        .await;
        p.tool("store_memory", json!({"content":"Acme wants SSO before renewal","tags":["security"],"metadata":{"arr":120000},"source":"gong:call/1","entities":["Acme"],"namespace":"sales"})).await;
        p.tool("store_memory", json!({"content":"Incident review moved to Friday","expires_at":"2999-01-01T00:00:00Z"})).await;
    }
    let out = run(&["export", "--to", file.to_str().unwrap()], &a, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = std::fs::read_to_string(&file).unwrap();
    assert_eq!(dump.lines().count(), 4);
    assert!(
        dump.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );

    let out = run(&["import", "--from", file.to_str().unwrap()], &b, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 memories written (2 with vectors kept)"),
        "{text}"
    );
    // Importing twice changes nothing.
    let again = run(&["import", "--from", file.to_str().unwrap()], &b, &[]);
    assert!(again.status.success());

    let out_b = run(&["export"], &b, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out_b.stdout),
        dump,
        "round trip is lossless"
    );

    // The imported store answers semantic searches with the kept vectors.
    let mut q = RawStdio::spawn(&b, &hash).await;
    for _ in 0..200 {
        let s = q.tool("memory_stats", json!({})).await;
        if s["embedder_status"].as_str().unwrap().starts_with("ready") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let r = q
        .tool(
            "semantic_search",
            json!({"query":"SSO renewal","namespace":"sales","mode":"semantic"}),
        )
        .await;
    assert_eq!(r["hits"][0]["content"], "Acme wants SSO before renewal");
    assert_eq!(
        r["hits"][0]["created_at"],
        serde_json::from_str::<serde_json::Value>(dump.lines().nth(2).unwrap()).unwrap()["created_at"]
    );
    drop(q);

    // A different embedder is refused until reembed.
    let out = run(&["reembed"], &b, &[("SOPHIA_EMBEDDER", "none")]);
    assert!(!out.status.success());
    let stats_before = run(&["export"], &b, &[]);
    assert!(String::from_utf8_lossy(&stats_before.stdout).contains("\"embedder\":\"hash-384\""));
    let out = run(&["reembed"], &b, &hash);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("re-embedded 2 memories with hash-384 (384-d)")
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("re-embedded 2/2"),
        "progress on stderr"
    );
}

#[test]
fn import_reports_bad_memory_lines_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let file = dir.path().join("in.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"type\":\"memory\",\"id\":\"m1\",\"namespace\":\"default\",\"content\":\"kept\",\"metadata\":{},\"tags\":[],\"created_at\":\"2026-01-01T00:00:00.000Z\",\"updated_at\":\"2026-01-01T00:00:00.000Z\"}\n",
            "{\"type\":\"memory\",\"id\":\"\",\"content\":\"no id\"}\n",
            "{\"type\":\"entity\",\"name\":\"E\",\"entityType\":\"t\",\"observations\":[]}\n"
        ),
    )
    .unwrap();
    let out = run(&["import", file.to_str().unwrap()], &db, &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 entities added") && text.contains("1 memories written"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2: skipped"));
}
