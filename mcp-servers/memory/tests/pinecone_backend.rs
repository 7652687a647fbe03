//! `SOPHIA_MEMORY_BACKEND=pinecone`: the same tool calls as on the local store, against a fake
//! Pinecone data plane on 127.0.0.1 that answers as Pinecone's 2025-10 API documents
//! (`common/pinecone_fake.rs`). One script of calls runs on both backends and must find the
//! same memories; then what differs (vectors required, no keyword index, id order) is checked,
//! the binary is run over stdio with the backend chosen by environment, and a store moves from
//! the local backend to Pinecone and back with `export` / `import --from`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "common/pinecone_fake.rs"]
mod pinecone_fake;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mcp_core::testing::{Client, in_process};
use mcp_core::upstream::RetryPolicy;
use pinecone_fake::{KEY, Shared, fake};
use secrecy::SecretString;
use serde_json::{Value, json};
use sophia_memory::backend::BackendChoice;
use sophia_memory::embed::hash::HashEmbedder;
use sophia_memory::embed::slot::{EmbedState, EmbedderSlot};
use sophia_memory::pinecone::PineconeConfig;
use sophia_memory::{MemoryConfig, MemoryServer, Store};

fn config(base: &str, key: &str) -> PineconeConfig {
    PineconeConfig {
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1),
            max_total: Duration::from_secs(5),
        },
        ..PineconeConfig::new(SecretString::from(key.to_string()), base)
    }
}

fn server(backend: BackendChoice, slot: EmbedderSlot, max_chars: Option<usize>) -> MemoryServer {
    let mut c = MemoryConfig::new(":memory:");
    c.embedder = slot;
    c.backend = backend;
    if let Some(m) = max_chars {
        c.budget = mcp_core::Budget::new(m);
    }
    MemoryServer::from_store(Store::open_in_memory().unwrap(), c)
}

fn hashed() -> EmbedderSlot {
    EmbedderSlot::ready(Arc::new(HashEmbedder::new(384)))
}

async fn pinecone_server() -> (Client, Shared) {
    let (base, state) = fake().await;
    let s = server(
        BackendChoice::Pinecone(Ok(config(&base, KEY))),
        hashed(),
        None,
    );
    (in_process(s).await.unwrap(), state)
}

fn contents(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["content"].as_str().unwrap().to_string())
        .collect()
}

/// The calls a user makes from a host, unchanged between backends. Returns what a model would
/// read from each answer, with backend-specific details (ids, times, scores) left out.
async fn script(client: &Client) -> Vec<Value> {
    let mut seen = Vec::new();
    let a = ok(client, "store_memory", json!({"content": "Acme asked for a discount on the enterprise tier", "tags": ["pricing"], "source": "gong:call/8123", "metadata": {"account": "Acme", "amount": 120000}, "entities": ["Acme"]})).await;
    seen.push(a["results"][0]["action"].clone());
    let acme = a["results"][0]["id"].as_str().unwrap().to_string();
    ok(client, "store_memory", json!({"content": "The EU cluster had an outage on Tuesday", "tags": ["ops"], "metadata": {"severity": 2}})).await;
    ok(
        client,
        "store_memory",
        json!({"content": "Globex renewed for two years without a discount", "metadata": {"account": "Globex", "amount": 80000}}),
    )
    .await;
    // The same text again is a duplicate, not a second memory.
    let dup = ok(
        client,
        "store_memory",
        json!({"content": "Acme asked for a  discount on the Enterprise tier"}),
    )
    .await;
    seen.push(dup["results"][0]["action"].clone());
    seen.push(json!(dup["results"][0]["id"] == json!(acme)));

    let s = ok(
        client,
        "semantic_search",
        json!({"query": "enterprise tier discount", "mode": "semantic", "top_k": 2}),
    )
    .await;
    seen.push(json!(contents(&s, "hits")));
    seen.push(s["hits"][0]["metadata"].clone());
    seen.push(s["hits"][0]["tags"].clone());
    seen.push(s["hits"][0]["source"].clone());
    let f = ok(client, "semantic_search", json!({"query": "discount", "mode": "semantic", "filters": {"metadata": [{"field": "amount", "op": "gte", "value": 100000}]}})).await;
    seen.push(json!(contents(&f, "hits")));
    let f = ok(
        client,
        "semantic_search",
        json!({"query": "discount", "mode": "semantic", "filters": {"tags_any": ["ops"]}}),
    )
    .await;
    seen.push(json!(contents(&f, "hits")));
    let f = ok(client, "semantic_search", json!({"query": "discount", "mode": "semantic", "filters": {"metadata": [{"field": "account", "op": "in", "value": ["Globex", "Initech"]}]}})).await;
    seen.push(json!(contents(&f, "hits")));
    let n = ok(
        client,
        "semantic_search",
        json!({"query": "discount", "mode": "semantic", "namespace": "other"}),
    )
    .await;
    seen.push(n["hits"].clone());

    let g = ok(client, "get_memory", json!({"ids": [acme, "nope"]})).await;
    seen.push(json!(contents(&g, "memories")));
    seen.push(g["missing"].clone());

    let u = ok(client, "update_memory", json!({"id": acme, "content": "Acme asked for a 15% discount on the enterprise tier", "metadata": {"stage": "negotiation"}})).await;
    seen.push(u["memory"]["content"].clone());
    seen.push(u["memory"]["metadata"].clone());
    let s = ok(
        client,
        "semantic_search",
        json!({"query": "15% discount", "mode": "semantic", "top_k": 1}),
    )
    .await;
    seen.push(json!(contents(&s, "hits")));

    let l = ok(client, "list_memories", json!({"limit": 10})).await;
    let mut listed = contents(&l, "items");
    listed.sort();
    seen.push(json!(listed));

    let st = ok(client, "memory_stats", json!({})).await;
    seen.push(st["namespaces"].clone());
    seen.push(st["total"].clone());

    let dry = ok(
        client,
        "delete_memory",
        json!({"filter": {"tags_any": ["ops"]}}),
    )
    .await;
    seen.push(json!([dry["count"], dry["dry_run"]]));
    let del = ok(
        client,
        "delete_memory",
        json!({"filter": {"tags_any": ["ops"]}, "confirm": true}),
    )
    .await;
    seen.push(json!([del["count"], del["dry_run"]]));
    let d = ok(client, "delete_memory", json!({"ids": [acme]})).await;
    seen.push(d["count"].clone());
    let l = ok(client, "list_memories", json!({})).await;
    seen.push(json!(contents(&l, "items")));
    seen
}

#[tokio::test]
async fn the_same_calls_find_the_same_memories_on_both_backends() {
    let local = in_process(server(BackendChoice::Local, hashed(), None))
        .await
        .unwrap();
    let on_local = script(&local).await;
    let (remote, state) = pinecone_server().await;
    let on_pinecone = script(&remote).await;
    for (i, (l, p)) in on_local.iter().zip(&on_pinecone).enumerate() {
        assert_eq!(l, p, "step {i} differs between local and pinecone");
    }
    assert_eq!(on_local.len(), on_pinecone.len());
    // Sanity: the script's answers are the ones expected, not two equal failures.
    assert_eq!(on_pinecone[0], "created");
    assert_eq!(on_pinecone[1], "deduplicated");
    assert_eq!(on_pinecone[2], true);
    assert_eq!(
        on_pinecone[on_pinecone.len() - 1],
        json!(["Globex renewed for two years without a discount"])
    );
    // And the memories really went through the fake index: text kept as metadata, numbers as
    // the 64-bit floats Pinecone stores, namespaces mapped to Pinecone namespaces.
    let s = state.lock().unwrap();
    let space = &s.namespaces["default"];
    assert_eq!(space.len(), 1);
    let (_, meta) = space.values().next().unwrap();
    assert_eq!(
        meta["_content"],
        "Globex renewed for two years without a discount"
    );
    assert_eq!(meta["amount"], json!(80000.0));
    assert!(s.seen.iter().any(|r| r.path == "/vectors/upsert"));
    assert!(s.seen.iter().any(|r| r.path == "/query"));
    assert!(s.seen.iter().any(|r| r.path == "/vectors/delete"));
}

#[tokio::test]
async fn hybrid_and_keyword_run_as_semantic_and_say_so() {
    let (client, _) = pinecone_server().await;
    ok(
        &client,
        "store_memory",
        json!({"content": "The EU cluster had an outage on Tuesday"}),
    )
    .await;
    for mode in [None, Some("keyword"), Some("hybrid")] {
        let mut args = json!({"query": "outage"});
        if let Some(m) = mode {
            args["mode"] = json!(m);
        }
        let r = ok(&client, "semantic_search", args).await;
        assert_eq!(r["mode_used"], "semantic");
        assert!(
            r["note"].as_str().unwrap().contains("no keyword index"),
            "{r}"
        );
        assert_eq!(
            r["hits"][0]["content"],
            "The EU cluster had an outage on Tuesday"
        );
        assert!(r["hits"][0]["scores"]["cosine"].is_number());
    }
    // source_prefix has no Pinecone operator: refused, not silently ignored.
    let e = err(
        &client,
        "semantic_search",
        json!({"query": "outage", "filters": {"source_prefix": "gong:"}}),
    )
    .await;
    assert!(e.contains("source_prefix is not supported"), "{e}");
}

#[tokio::test]
async fn without_vectors_nothing_is_written_and_the_error_says_retry() {
    let (base, state) = fake().await;
    let s = server(
        BackendChoice::Pinecone(Ok(config(&base, KEY))),
        EmbedderSlot::new(EmbedState::Loading("minilm".into())),
        None,
    );
    let client = in_process(s).await.unwrap();
    let e = err(&client, "store_memory", json!({"content": "hello"})).await;
    assert!(e.contains("embedder") && e.contains("retry"), "{e}");
    let e = err(&client, "semantic_search", json!({"query": "hello"})).await;
    assert!(e.contains("retry"), "{e}");
    assert!(state.lock().unwrap().namespaces.is_empty());
}

#[tokio::test]
async fn missing_configuration_names_the_variable_and_graph_tools_still_work() {
    let lookup = |k: &str| (k == "PINECONE_INDEX_HOST").then(|| "http://127.0.0.1:9".to_string());
    let choice = BackendChoice::from_lookup(Some("pinecone"), lookup).unwrap();
    let client = in_process(server(choice, hashed(), None)).await.unwrap();
    let e = err(&client, "store_memory", json!({"content": "x"})).await;
    assert!(e.contains("PINECONE_API_KEY"), "{e}");
    let e = err(&client, "memory_stats", json!({})).await;
    assert!(e.contains("PINECONE_API_KEY"), "{e}");
    ok(
        &client,
        "create_entities",
        json!({"entities": [{"name": "Acme", "entityType": "company", "observations": []}]}),
    )
    .await;
    let g = ok(&client, "search_nodes", json!({"query": "acme"})).await;
    assert_eq!(g["entities"][0]["name"], "Acme");
    assert!(BackendChoice::from_lookup(Some("qdrant"), |_| None).is_err());
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error_without_the_key() {
    let (base, _) = fake().await;
    let s = server(
        BackendChoice::Pinecone(Ok(config(&base, "pcsk_wrong_secret_123"))),
        hashed(),
        None,
    );
    let client = in_process(s).await.unwrap();
    let e = err(&client, "semantic_search", json!({"query": "x"})).await;
    assert!(e.contains("PINECONE_API_KEY"), "{e}");
    assert!(!e.contains("pcsk_wrong_secret_123"), "{e}");
}

#[tokio::test]
async fn lists_page_through_every_memory_once_and_filtered_deletes_count_first() {
    let (base, state) = fake().await;
    // A small budget so pages are also cut by size, not only by limit.
    let s = server(
        BackendChoice::Pinecone(Ok(config(&base, KEY))),
        hashed(),
        Some(2500),
    );
    let client = in_process(s).await.unwrap();
    let mut stored = Vec::new();
    for i in 0..23 {
        let text = format!(
            "note {i}: {}",
            "customer feedback about the roadmap ".repeat(3)
        );
        let r = ok(
            &client,
            "store_memory",
            json!({"content": text, "tags": [if i % 2 == 0 { "even" } else { "odd" }], "id": format!("m{i:02}")}),
        )
        .await;
        stored.push(r["results"][0]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(state.lock().unwrap().namespaces["default"].len(), 23);
    for filters in [json!(null), json!({"tags_any": ["even"]})] {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut args = json!({"limit": 5});
            if !filters.is_null() {
                args["filters"] = filters.clone();
            }
            if let Some(c) = &cursor {
                args["cursor"] = json!(c);
            }
            let page = ok(&client, "list_memories", args).await;
            pages += 1;
            for m in page["items"].as_array().unwrap() {
                ids.push(m["id"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 50, "paging does not end");
        }
        let mut expected: Vec<String> = if filters.is_null() {
            stored.clone()
        } else {
            stored.iter().step_by(2).cloned().collect()
        };
        expected.sort();
        let mut got = ids.clone();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), ids.len(), "an id came twice: {ids:?}");
        assert_eq!(got, expected);
        assert!(pages > 2);
    }
    let dry = ok(
        &client,
        "delete_memory",
        json!({"filter": {"tags_any": ["odd"]}}),
    )
    .await;
    assert_eq!(dry["count"], 11);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(state.lock().unwrap().namespaces["default"].len(), 23);
    let done = ok(
        &client,
        "delete_memory",
        json!({"filter": {"tags_any": ["odd"]}, "confirm": true}),
    )
    .await;
    assert_eq!(done["count"], 11);
    assert_eq!(state.lock().unwrap().namespaces["default"].len(), 12);
}

#[tokio::test]
async fn expired_memories_are_not_returned_and_linked_memories_come_from_the_index() {
    let (client, _) = pinecone_server().await;
    ok(
        &client,
        "store_memory",
        json!({"content": "Old promo code SPRING", "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    ok(
        &client,
        "store_memory",
        json!({"content": "Acme's champion is Maria", "entities": ["Acme"]}),
    )
    .await;
    let r = ok(
        &client,
        "semantic_search",
        json!({"query": "promo code SPRING"}),
    )
    .await;
    assert!(
        !contents(&r, "hits").contains(&"Old promo code SPRING".to_string()),
        "{r}"
    );
    ok(
        &client,
        "create_entities",
        json!({"entities": [{"name": "Acme", "entityType": "company", "observations": []}]}),
    )
    .await;
    let g = ok(
        &client,
        "search_nodes",
        json!({"query": "acme", "include_memories": true}),
    )
    .await;
    assert_eq!(g["memories"][0]["content"], "Acme's champion is Maria");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_pinecone_backend_and_moves_a_store_both_ways() {
    let (base, state) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let local_db = dir.path().join("local.db");
    let local_db = local_db.to_str().unwrap();
    // 1. A local store with a graph and memories (hash vectors), exported.
    let env_local = [
        ("SOPHIA_MEMORY_DB", local_db),
        ("SOPHIA_EMBEDDER", "hash"),
        ("SOPHIA_MEMORY_BACKEND", "local"),
    ];
    {
        let c = mcp_core::testing::spawn_stdio(&bin(), &[], &env_local)
            .await
            .unwrap();
        ok(&c, "create_entities", json!({"entities": [{"name": "Acme", "entityType": "company", "observations": ["enterprise"]}]})).await;
        // The embedder loads in the background: wait until a store is embedded.
        let mut embedded = false;
        for _ in 0..100 {
            let r = ok(
                &c,
                "store_memory",
                json!({"content": "Acme wants SSO before renewal", "entities": ["Acme"], "tags": ["deal"]}),
            )
            .await;
            if r["embedded"] == true {
                embedded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(embedded);
        ok(
            &c,
            "store_memory",
            json!({"content": "Globex churned over pricing", "namespace": "sales"}),
        )
        .await;
        c.cancel().await.unwrap();
    }
    let exported = dir.path().join("local.jsonl");
    let out = tokio::process::Command::new(bin())
        .args(["export", "--to", exported.to_str().unwrap()])
        .envs(env_local)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 2. Imported into Pinecone (graph into a second SQLite file).
    let remote_db = dir.path().join("remote.db");
    let env_remote = [
        ("SOPHIA_MEMORY_DB", remote_db.to_str().unwrap()),
        ("SOPHIA_EMBEDDER", "hash"),
        ("SOPHIA_MEMORY_BACKEND", "pinecone"),
        ("PINECONE_API_KEY", KEY),
        ("PINECONE_INDEX_HOST", base.as_str()),
    ];
    let out = tokio::process::Command::new(bin())
        .args(["import", "--from", exported.to_str().unwrap()])
        .envs(env_remote)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 memories written (2 with vectors kept)"),
        "{stdout}"
    );
    {
        let s = state.lock().unwrap();
        assert_eq!(s.namespaces["default"].len(), 1);
        assert_eq!(s.namespaces["sales"].len(), 1);
    }

    // 3. The server over stdio on the pinecone backend finds them with the same calls.
    {
        let c = mcp_core::testing::spawn_stdio(&bin(), &[], &env_remote)
            .await
            .unwrap();
        let mut found = Value::Null;
        for _ in 0..100 {
            let r = call(
                &c,
                "semantic_search",
                json!({"query": "Acme wants SSO before renewal"}),
            )
            .await;
            if r.is_error != Some(true) {
                found = r.structured_content.unwrap();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(found["hits"][0]["content"], "Acme wants SSO before renewal");
        let st = ok(&c, "memory_stats", json!({})).await;
        assert_eq!(st["backend"], "pinecone");
        assert_eq!(st["total"], 2);
        let g = ok(
            &c,
            "open_nodes",
            json!({"names": ["Acme"], "include_memories": true}),
        )
        .await;
        assert_eq!(g["entities"][0]["observations"], json!(["enterprise"]));
        assert_eq!(g["memories"][0]["content"], "Acme wants SSO before renewal");
        c.cancel().await.unwrap();
    }

    // 4. Exported back from Pinecone: the same memories, vectors and graph as the local export.
    let back = dir.path().join("back.jsonl");
    let out = tokio::process::Command::new(bin())
        .args(["export", "--to", back.to_str().unwrap()])
        .envs(env_remote)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let norm = |path: &std::path::Path| {
        let mut lines: Vec<Value> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                // Pinecone keeps vectors as float32 too; compare them at float32 precision.
                if let Some(e) = v.get_mut("embedding") {
                    *e = json!(
                        e.as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_f64().unwrap() as f32)
                            .collect::<Vec<f32>>()
                    );
                }
                v
            })
            .collect();
        lines.sort_by_key(|v| v.to_string());
        lines
    };
    assert_eq!(norm(&exported), norm(&back));

    // 5. --check calls Pinecone and says what it found.
    let out = tokio::process::Command::new(bin())
        .arg("--check")
        .envs(env_remote)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("2 records in 2 namespaces"), "{stdout}");
}
