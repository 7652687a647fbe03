//! Semantic memories across processes and crashes: two processes on one store lose and duplicate
//! nothing (dedupe included), a SIGKILL leaves each call's chunks all-or-none, and a foreign or
//! corrupt file is refused without being touched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::json;

const HASH: (&str, &str) = ("SOPHIA_EMBEDDER", "hash");

async fn list_all(p: &mut RawStdio) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut args = json!({"limit": 100});
    loop {
        let page = p.tool("list_memories", args.clone()).await;
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page.get("next_cursor") {
            Some(c) => args = json!({"limit": 100, "cursor": c}),
            None => return out,
        }
    }
}

async fn wait_embedder(p: &mut RawStdio) {
    for _ in 0..200 {
        let s = p.tool("memory_stats", json!({})).await;
        if s["embedder_status"]
            .as_str()
            .unwrap_or("")
            .starts_with("ready")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("embedder never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mut a = RawStdio::spawn(&db, &[HASH]).await;
    let mut b = RawStdio::spawn(&db, &[HASH]).await;
    wait_embedder(&mut a).await;
    wait_embedder(&mut b).await;
    let writer = |mut p: RawStdio, tag: &'static str| async move {
        for i in 0..60 {
            p.tool(
                "store_memory",
                json!({"content": format!("{tag} unique note number {i}")}),
            )
            .await;
            // Both processes store the same shared texts: each must exist once.
            p.tool(
                "store_memory",
                json!({"content": format!("shared fact {}", i % 20)}),
            )
            .await;
        }
        p
    };
    let (a, b) = tokio::join!(writer(a, "alpha"), writer(b, "beta"));
    drop((a, b));
    let mut c = RawStdio::spawn(&db, &[HASH]).await;
    let all = list_all(&mut c).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in &all {
        *counts
            .entry(m["content"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        all.len(),
        60 + 60 + 20,
        "every unique note and each shared fact once"
    );
    assert!(
        counts.values().all(|n| *n == 1),
        "duplicates: {:?}",
        counts.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    let stats = c.tool("memory_stats", json!({})).await;
    assert_eq!(stats["total"], 140);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_each_call_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let mut p = RawStdio::spawn(&db, &[HASH, ("SOPHIA_MEMORY_SYNC", "full")]).await;
    wait_embedder(&mut p).await;
    // Each document is long enough to be split into the same number of chunks.
    let doc = |i: usize| -> String {
        (0..120)
            .map(|w| format!("doc{i} word{w} lorem ipsum. "))
            .collect()
    };
    for i in 0..40 {
        p.send_request(
            "tools/call",
            json!({"name": "store_memory", "arguments": {"content": doc(i)}}),
        )
        .await;
    }
    let mut acked = Vec::new();
    let mut chunks_per_doc = 0;
    while acked.len() < 15 {
        let v = p.recv().await;
        if let Some(results) = v["result"]["structuredContent"]["results"].as_array() {
            chunks_per_doc = results.len();
            acked.push(
                v["result"]["structuredContent"]["document_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    p.child.start_kill().unwrap();
    let _ = p.child.wait().await;
    assert!(chunks_per_doc > 3);

    let mut q = RawStdio::spawn(&db, &[HASH]).await;
    let all = list_all(&mut q).await;
    let mut per_doc: HashMap<String, usize> = HashMap::new();
    for m in &all {
        *per_doc
            .entry(m["document_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for doc in &acked {
        assert_eq!(
            per_doc.get(doc),
            Some(&chunks_per_doc),
            "acknowledged document {doc} incomplete"
        );
    }
    assert!(
        per_doc.values().all(|n| *n == chunks_per_doc),
        "a partial document survived: {per_doc:?}"
    );
}

#[test]
fn foreign_or_corrupt_files_are_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // Another application's SQLite database.
    let foreign = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices(total) VALUES (9.5);").unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    let out = std::process::Command::new(bin())
        .arg("--check")
        .env("SOPHIA_MEMORY_DB", &foreign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not a sophia-memory store"), "{text}");
    assert!(
        std::fs::read(&foreign).unwrap() == before,
        "the foreign file was modified"
    );

    // Not a database at all.
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(
        &corrupt,
        b"this is not a database, it is a shopping list\n".repeat(200),
    )
    .unwrap();
    let before = std::fs::read(&corrupt).unwrap();
    let out = std::process::Command::new(bin())
        .arg("--check")
        .env("SOPHIA_MEMORY_DB", &corrupt)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not ok"));
    assert!(
        std::fs::read(&corrupt).unwrap() == before,
        "the corrupt file was modified"
    );
}
