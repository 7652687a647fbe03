//! Several processes on one database lose nothing; a SIGKILL loses no acknowledged write; the
//! import of a reference memory file is idempotent and reports bad lines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_writing_one_database_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let mut a = RawStdio::spawn(&db, &[]).await;
    let b = RawStdio::spawn(&db, &[]).await;
    a.tool(
        "create_entities",
        json!({"entities":[{"name":"Shared","entityType":"t","observations":[]}]}),
    )
    .await;

    let writer = |mut p: RawStdio, tag: &'static str| async move {
        for i in 0..150 {
            p.tool(
                "create_entities",
                json!({"entities":[{"name": format!("{tag}-{i}"), "entityType":"t", "observations":[format!("{tag} obs {i}")]}]}),
            )
            .await;
            p.tool(
                "add_observations",
                json!({"observations":[{"entityName":"Shared","contents":[format!("{tag} says {i}")]}]}),
            )
            .await;
            if i % 10 == 0 {
                p.tool(
                    "create_relations",
                    json!({"relations":[{"from": format!("{tag}-{i}"), "to":"Shared", "relationType":"feeds"}]}),
                )
                .await;
            }
        }
        p
    };
    let (a, b) = tokio::join!(writer(a, "a"), writer(b, "b"));
    drop((a, b));

    // A third process sees every write of both.
    let mut c = RawStdio::spawn(&db, &[]).await;
    let g = c.read_all().await;
    let entities = g["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 301, "1 shared + 150 + 150");
    let shared = entities.iter().find(|e| e["name"] == "Shared").unwrap();
    assert_eq!(
        shared["observations"].as_array().unwrap().len(),
        300,
        "every observation of both writers"
    );
    assert_eq!(g["relations"].as_array().unwrap().len(), 30);
    // And each writer saw the other's writes while running: search through process c.
    let s = c.tool("search_nodes", json!({"query": "b obs 149"})).await;
    assert_eq!(names(&s), vec!["b-149"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_sees_another_processes_writes_on_its_next_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mut a = RawStdio::spawn(&db, &[]).await;
    let mut b = RawStdio::spawn(&db, &[]).await;
    assert_eq!(b.tool("read_graph", json!({})).await["entities"], json!([]));
    a.tool(
        "create_entities",
        json!({"entities":[{"name":"FromA","entityType":"t","observations":["x"]}]}),
    )
    .await;
    let g = b.tool("search_nodes", json!({"query": "froma"})).await;
    assert_eq!(names(&g), vec!["FromA"]);
    b.tool("delete_entities", json!({"entityNames":["FromA"]}))
        .await;
    assert_eq!(a.tool("read_graph", json!({})).await["entities"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    // Default durability (full) for this one: it is the guarantee we advertise.
    let mut p = RawStdio::spawn(&db, &[("SOPHIA_MEMORY_SYNC", "full")]).await;
    // Pipeline 200 writes, then kill the process as soon as the 120th acknowledgement arrives.
    for i in 0..200 {
        p.send_request(
            "tools/call",
            json!({"name":"create_entities","arguments":{"entities":[{"name": format!("K{i}"), "entityType":"t","observations":[]}]}}),
        )
        .await;
    }
    let mut acked = Vec::new();
    while acked.len() < 120 {
        let v = p.recv().await;
        if v["result"]["structuredContent"]["entities"][0]["name"].is_string() {
            acked.push(
                v["result"]["structuredContent"]["entities"][0]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    p.child.start_kill().unwrap();
    let _ = p.child.wait().await;

    let mut q = RawStdio::spawn(&db, &[]).await;
    let g = q.read_all().await;
    let stored = names(&g);
    for name in &acked {
        assert!(stored.contains(name), "acknowledged {name} was lost");
    }
    assert!(stored.len() >= acked.len());
}

#[tokio::test]
async fn import_migrates_a_reference_file_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("i.db");
    let file = dir.path().join("memory.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"type\":\"entity\",\"name\":\"Alice\",\"entityType\":\"person\",\"observations\":[\"a\",\"b\"]}\n",
            "\n",
            "{\"type\":\"entity\",\"name\":\"Acme\",\"entityType\":\"org\",\"observations\":[]}\n",
            "this is not json\n",
            "{\"type\":\"relation\",\"from\":\"Alice\",\"to\":\"Acme\",\"relationType\":\"works_at\"}\n",
            "{\"type\":\"entity\",\"name\":\"Alice\",\"entityType\":\"person\",\"observations\":[\"c\"]}"
        ),
    )
    .unwrap();
    let run = || {
        std::process::Command::new(bin())
            .arg("import")
            .arg(&file)
            .env("SOPHIA_MEMORY_DB", &db)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        out.contains("2 entities added, 3 observations added, 1 relations added, 0 memories written (0 with vectors kept), 1 lines skipped"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("memory.jsonl:4: skipped"), "{err}");
    let second = run();
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(
        out.contains("0 entities added, 0 observations added, 0 relations added"),
        "{out}"
    );

    let mut p = RawStdio::spawn(&db, &[]).await;
    let g = p.tool("read_graph", json!({})).await;
    assert_eq!(
        g,
        json!({"entities":[
            {"name":"Alice","entityType":"person","observations":["a","b","c"]},
            {"name":"Acme","entityType":"org","observations":[]}
        ],"relations":[{"from":"Alice","to":"Acme","relationType":"works_at"}]})
    );
}

/// Several clients starting at once on a store that does not exist yet (a host starting a few
/// servers on one file): every one opens it. SQLite answers the concurrent switch to WAL with an
/// immediate SQLITE_BUSY that the busy timeout does not cover; the store waits it out.
#[test]
fn many_processes_starting_together_on_a_fresh_store_all_open_it() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(format!("fresh-{round}.db"));
        let children: Vec<std::process::Child> = (0..6)
            .map(|_| {
                std::process::Command::new(bin())
                    .arg("--check")
                    .env("SOPHIA_MEMORY_DB", &db)
                    .env("SOPHIA_EMBEDDER", "none")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
