//! Semantic memory tools in-process, on the deterministic hash embedder (meaning-free but
//! word-sensitive vectors): store, hybrid/semantic/keyword search, filters, dedupe, chunking,
//! update, delete with a dry run, paging, stats, background embedding, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::sync::Arc;

use common::*;
use mcp_core::testing::in_process;
use serde_json::json;
use sophia_memory::embed::hash::HashEmbedder;
use sophia_memory::embed::slot::{EmbedState, EmbedderSlot};
use sophia_memory::{EmbedderChoice, MemoryConfig, MemoryServer, Store};

fn server_with(slot: EmbedderSlot) -> MemoryServer {
    let mut config = MemoryConfig::new(":memory:");
    config.embedder = slot;
    MemoryServer::from_store(Store::open_in_memory().unwrap(), config)
}

fn hashed() -> MemoryServer {
    server_with(EmbedderSlot::ready(Arc::new(HashEmbedder::new(384))))
}

async fn store(client: &mcp_core::testing::Client, args: serde_json::Value) -> serde_json::Value {
    ok(client, "store_memory", args).await
}

#[tokio::test]
async fn store_then_find_by_hybrid_semantic_and_keyword_search() {
    let client = in_process(hashed()).await.unwrap();
    let a = store(&client, json!({"content": "Acme asked for a discount on the enterprise tier", "tags": ["pricing"], "source": "gong:call/8123", "metadata": {"account": "Acme", "amount": 120000}})).await;
    assert_eq!(a["results"][0]["action"], "created");
    assert_eq!(a["embedded"], true);
    store(
        &client,
        json!({"content": "The EU cluster had an outage on Tuesday", "tags": ["ops"]}),
    )
    .await;
    store(
        &client,
        json!({"content": "Globex renewed for two years without a discount"}),
    )
    .await;

    let r = ok(
        &client,
        "semantic_search",
        json!({"query": "enterprise tier discount"}),
    )
    .await;
    assert_eq!(r["mode_used"], "hybrid");
    let hits = r["hits"].as_array().unwrap();
    assert_eq!(
        hits[0]["content"],
        "Acme asked for a discount on the enterprise tier"
    );
    assert!(hits[0]["scores"]["bm25"].as_f64().unwrap() > 0.0);
    assert!(hits[0]["scores"]["cosine"].as_f64().unwrap() > 0.3);
    assert!(hits[0]["scores"]["fused"].is_number());
    assert_eq!(hits[0]["source"], "gong:call/8123");
    assert_eq!(hits[0]["metadata"]["amount"], 120000);

    let s = ok(
        &client,
        "semantic_search",
        json!({"query": "enterprise tier discount", "mode": "semantic", "top_k": 1}),
    )
    .await;
    assert_eq!(s["hits"].as_array().unwrap().len(), 1);
    assert!(s["hits"][0]["scores"].get("bm25").is_none());
    let k = ok(
        &client,
        "semantic_search",
        json!({"query": "outage", "mode": "keyword"}),
    )
    .await;
    assert_eq!(
        k["hits"][0]["content"],
        "The EU cluster had an outage on Tuesday"
    );

    // Filters narrow first.
    let f = ok(
        &client,
        "semantic_search",
        json!({"query": "discount", "filters": {"tags_any": ["pricing"]}}),
    )
    .await;
    assert_eq!(f["hits"].as_array().unwrap().len(), 1);
    let f = ok(&client, "semantic_search", json!({"query": "discount", "filters": {"metadata": [{"field": "amount", "op": "gt", "value": 100000}]}})).await;
    assert_eq!(f["hits"][0]["metadata"]["account"], "Acme");
    let f = ok(
        &client,
        "semantic_search",
        json!({"query": "discount", "filters": {"source_prefix": "slack:"}}),
    )
    .await;
    assert_eq!(f["hits"], json!([]));
    // Namespaces are separate.
    let n = ok(
        &client,
        "semantic_search",
        json!({"query": "discount", "namespace": "other"}),
    )
    .await;
    assert_eq!(n["hits"], json!([]));
}

#[tokio::test]
async fn near_duplicates_update_instead_of_adding() {
    let client = in_process(hashed()).await.unwrap();
    let a = store(&client, json!({"content": "Acme's champion is Dana Lee"})).await;
    let b = store(
        &client,
        json!({"content": "acme's  champion is dana lee", "tags": ["people"]}),
    )
    .await;
    assert_eq!(b["results"][0]["action"], "deduplicated");
    assert_eq!(b["results"][0]["id"], a["results"][0]["id"]);
    assert_eq!(b["results"][0]["duplicate_of_reason"], "same text");
    let stats = ok(&client, "memory_stats", json!({})).await;
    assert_eq!(stats["total"], 1);
    let got = ok(
        &client,
        "get_memory",
        json!({"ids": [a["results"][0]["id"]]}),
    )
    .await;
    assert_eq!(got["memories"][0]["tags"], json!(["people"]));
}

#[tokio::test]
async fn long_text_is_chunked_with_a_shared_document_id() {
    let client = in_process(hashed()).await.unwrap();
    let text: String = (0..400)
        .map(|i| format!("sentence number {i} of the call notes. "))
        .collect();
    let r = store(&client, json!({"content": text, "source": "gong:call/1"})).await;
    let doc = r["document_id"].as_str().unwrap().to_string();
    let results = r["results"].as_array().unwrap();
    assert!(results.len() > 5, "{} chunks", results.len());
    assert!(
        results
            .iter()
            .all(|x| x["id"].as_str().unwrap().starts_with(&doc))
    );
    let hit = ok(
        &client,
        "semantic_search",
        json!({"query": "sentence number 399", "mode": "keyword", "top_k": 1}),
    )
    .await;
    assert_eq!(hit["hits"][0]["document_id"], doc.as_str());
    assert!(hit["hits"][0]["content"].as_str().unwrap().contains("399"));
}

#[tokio::test]
async fn update_merges_metadata_and_re_embeds() {
    let client = in_process(hashed()).await.unwrap();
    let a = store(&client, json!({"content": "Initech uses our API for billing", "metadata": {"tier": "gold", "seats": 10}})).await;
    let id = a["results"][0]["id"].clone();
    let u = ok(&client, "update_memory", json!({"id": id, "content": "Initech moved billing to a competitor", "metadata": {"seats": 0}})).await;
    assert_eq!(
        u["memory"]["content"],
        "Initech moved billing to a competitor"
    );
    assert_eq!(u["memory"]["metadata"], json!({"tier": "gold", "seats": 0}));
    let s = ok(
        &client,
        "semantic_search",
        json!({"query": "competitor", "mode": "semantic", "top_k": 1}),
    )
    .await;
    assert_eq!(s["hits"][0]["id"], id);
    let r = ok(
        &client,
        "update_memory",
        json!({"id": id, "metadata": {"x": true}, "metadata_mode": "replace"}),
    )
    .await;
    assert_eq!(r["memory"]["metadata"], json!({"x": true}));
    let e = err(&client, "update_memory", json!({"id": "nope"})).await;
    assert!(e.contains("memory nope not found"), "{e}");
}

#[tokio::test]
async fn delete_by_filter_counts_first_and_needs_confirm() {
    let client = in_process(hashed()).await.unwrap();
    for i in 0..5 {
        store(
            &client,
            json!({"content": format!("ops note {i}"), "tags": ["ops"]}),
        )
        .await;
    }
    store(&client, json!({"content": "sales note", "tags": ["sales"]})).await;
    let dry = ok(
        &client,
        "delete_memory",
        json!({"filter": {"tags_any": ["ops"]}}),
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["count"], 5);
    assert_eq!(
        ok(&client, "memory_stats", json!({})).await["total"],
        6,
        "dry run deleted nothing"
    );
    let done = ok(
        &client,
        "delete_memory",
        json!({"filter": {"tags_any": ["ops"]}, "confirm": true}),
    )
    .await;
    assert_eq!(done["count"], 5);
    assert_eq!(done["dry_run"], false);
    let stats = ok(&client, "memory_stats", json!({})).await;
    assert_eq!(stats["total"], 1);
    let s = ok(
        &client,
        "semantic_search",
        json!({"query": "ops note", "mode": "semantic"}),
    )
    .await;
    assert!(
        s["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["content"] == "sales note")
    );
    let e = err(
        &client,
        "delete_memory",
        json!({"filter": {}, "confirm": true}),
    )
    .await;
    assert!(e.contains("empty filter"), "{e}");
}

#[tokio::test]
async fn list_pages_newest_first_without_gaps() {
    let client = in_process(hashed()).await.unwrap();
    for i in 0..25 {
        store(&client, json!({"content": format!("memory {i:02}")})).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = json!({"limit": 10});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let page = ok(&client, "list_memories", args).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["content"].as_str().unwrap().to_string()),
        );
        match page.get("next_cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("memory {i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn keyword_only_until_the_embedder_is_ready_then_backfilled() {
    let server = server_with(EmbedderSlot::new(EmbedState::Loading("minilm".into())));
    let client = in_process(server.clone()).await.unwrap();
    let a = store(
        &client,
        json!({"content": "Stored while the model was loading"}),
    )
    .await;
    assert_eq!(a["embedded"], false);
    let r = ok(
        &client,
        "semantic_search",
        json!({"query": "model loading"}),
    )
    .await;
    assert_eq!(r["mode_used"], "keyword");
    assert!(r["note"].as_str().unwrap().contains("keyword only"));
    assert_eq!(r["hits"].as_array().unwrap().len(), 1);
    let stats = ok(&client, "memory_stats", json!({})).await;
    assert_eq!(stats["embeddings_complete"], false);

    server.start_embedder(EmbedderChoice::Hash(384));
    let mut done = false;
    for _ in 0..100 {
        let stats = ok(&client, "memory_stats", json!({})).await;
        if stats["embeddings_complete"] == true {
            done = true;
            assert_eq!(stats["embedder"], "hash-384");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(done, "background embedding did not complete");
    let r = ok(
        &client,
        "semantic_search",
        json!({"query": "model loading", "mode": "semantic"}),
    )
    .await;
    assert_eq!(r["mode_used"], "semantic");
    assert_eq!(r["hits"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    let client = in_process(hashed()).await.unwrap();
    let e = err(
        &client,
        "store_memory",
        json!({"content": "x".repeat(32 * 1024 + 1)}),
    )
    .await;
    assert!(e.contains("32 KiB"), "{e}");
    let e = err(
        &client,
        "store_memory",
        json!({"content": "ok", "metadata": {"nested": {"a": 1}}}),
    )
    .await;
    assert!(e.contains("flat"), "{e}");
    let e = err(&client, "store_memory", json!({"content": "   "})).await;
    assert!(e.contains("empty"), "{e}");
    let e = err(
        &client,
        "store_memory",
        json!({"content": "ok", "expires_at": "tomorrow"}),
    )
    .await;
    assert!(e.contains("ISO-8601"), "{e}");
    let e = err(
        &client,
        "semantic_search",
        json!({"query": "x", "top_k": 101}),
    )
    .await;
    assert!(e.contains("100"), "{e}");
    let e = err(
        &client,
        "semantic_search",
        json!({"query": "x", "mode": "fuzzy"}),
    )
    .await;
    assert!(e.contains("hybrid"), "{e}");
    let e = err(&client, "semantic_search", json!({"query": "x", "filters": {"metadata": [{"field": "a') OR 1=1--", "op": "eq", "value": 1}]}})).await;
    assert!(e.contains("not allowed"), "{e}");
    assert_eq!(ok(&client, "memory_stats", json!({})).await["total"], 0);
}

#[tokio::test]
async fn expired_memories_are_not_found() {
    let client = in_process(hashed()).await.unwrap();
    store(
        &client,
        json!({"content": "old promo code SPRING", "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await;
    store(
        &client,
        json!({"content": "current promo code AUTUMN", "expires_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    let r = ok(
        &client,
        "semantic_search",
        json!({"query": "promo code", "mode": "semantic"}),
    )
    .await;
    let contents: Vec<&str> = r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["current promo code AUTUMN"]);
}

#[tokio::test]
async fn graph_lookups_can_return_linked_memories() {
    let client = in_process(hashed()).await.unwrap();
    ok(&client, "create_entities", json!({"entities": [{"name": "Acme", "entityType": "company", "observations": ["customer since 2021"]}, {"name": "Globex", "entityType": "company", "observations": []}]})).await;
    store(&client, json!({"content": "Acme wants SSO before they renew", "entities": ["Acme"], "source": "gong:call/9"})).await;
    store(
        &client,
        json!({"content": "Globex pilot starts in March", "entities": ["Globex"]}),
    )
    .await;
    let plain = ok(&client, "open_nodes", json!({"names": ["Acme"]})).await;
    assert!(
        plain.get("memories").is_none(),
        "the reference shape unless asked"
    );
    let with = ok(
        &client,
        "open_nodes",
        json!({"names": ["Acme"], "include_memories": true}),
    )
    .await;
    let memories = with["memories"].as_array().unwrap();
    assert_eq!(memories.len(), 1);
    assert_eq!(memories[0]["content"], "Acme wants SSO before they renew");
    assert_eq!(memories[0]["source"], "gong:call/9");
    let s = ok(
        &client,
        "search_nodes",
        json!({"query": "company", "include_memories": true}),
    )
    .await;
    assert_eq!(s["memories"].as_array().unwrap().len(), 2);
}
