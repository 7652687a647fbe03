//! Every tool in-process, bad input included, plus paging within the response budget, the
//! resource, --read-only and the schema snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use mcp_core::testing::in_process;
use rmcp::model::ReadResourceRequestParams;
use serde_json::json;

async fn seeded() -> mcp_core::testing::Client {
    let client = in_process(server()).await.expect("client");
    ok(
        &client,
        "create_entities",
        json!({"entities": [
            {"name": "Alice", "entityType": "person", "observations": ["Speaks Spanish", "Likes tea"]},
            {"name": "Bob", "entityType": "person", "observations": ["Plays chess"]},
            {"name": "Acme Corp", "entityType": "organization", "observations": ["Founded 1999"]}
        ]}),
    )
    .await;
    ok(
        &client,
        "create_relations",
        json!({"relations": [
            {"from": "Alice", "to": "Acme Corp", "relationType": "works_at"},
            {"from": "Bob", "to": "Alice", "relationType": "knows"},
            {"from": "Bob", "to": "Ghost", "relationType": "fears"}
        ]}),
    )
    .await;
    client
}

#[tokio::test]
async fn create_entities_skips_existing_names_and_returns_what_was_stored() {
    let client = seeded().await;
    let r = call(
        &client,
        "create_entities",
        json!({"entities": [
            {"name": "Alice", "entityType": "robot", "observations": ["new"]},
            {"name": "Carol", "entityType": "person", "observations": ["a", "a"]}
        ]}),
    )
    .await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(
        v,
        json!({"entities": [{"name": "Carol", "entityType": "person", "observations": ["a"]}]})
    );
    // Text block is the reference's pretty bare array.
    assert!(
        text(&r).starts_with("[\n  {\n    \"name\": \"Carol\""),
        "{}",
        text(&r)
    );
    let alice = ok(&client, "open_nodes", json!({"names": ["Alice"]})).await;
    assert_eq!(
        alice["entities"][0]["entityType"], "person",
        "existing entity untouched"
    );
}

#[tokio::test]
async fn create_relations_dedups_and_allows_missing_ends() {
    let client = seeded().await;
    let v = ok(
        &client,
        "create_relations",
        json!({"relations": [
            {"from": "Alice", "to": "Acme Corp", "relationType": "works_at"},
            {"from": "Acme Corp", "to": "Alice", "relationType": "employs"},
            {"from": "Nobody", "to": "Nowhere", "relationType": "goes"}
        ]}),
    )
    .await;
    assert_eq!(
        v,
        json!({"relations": [
            {"from": "Acme Corp", "to": "Alice", "relationType": "employs"},
            {"from": "Nobody", "to": "Nowhere", "relationType": "goes"}
        ]})
    );
}

#[tokio::test]
async fn add_observations_is_all_or_nothing() {
    let client = seeded().await;
    let v = ok(
        &client,
        "add_observations",
        json!({"observations": [{"entityName": "Alice", "contents": ["Likes tea", "Runs"]}]}),
    )
    .await;
    assert_eq!(
        v,
        json!({"results": [{"entityName": "Alice", "addedObservations": ["Runs"]}]})
    );
    let e = err(
        &client,
        "add_observations",
        json!({"observations": [
            {"entityName": "Bob", "contents": ["must not persist"]},
            {"entityName": "Missing", "contents": ["x"]}
        ]}),
    )
    .await;
    assert_eq!(e, "Entity with name Missing not found");
    let bob = ok(&client, "open_nodes", json!({"names": ["Bob"]})).await;
    assert_eq!(bob["entities"][0]["observations"], json!(["Plays chess"]));
}

#[tokio::test]
async fn deletes_cascade_and_ignore_unknowns() {
    let client = seeded().await;
    let r = call(
        &client,
        "delete_entities",
        json!({"entityNames": ["Bob", "Nonexistent"]}),
    )
    .await;
    assert_eq!(text(&r), "Entities deleted successfully");
    assert_eq!(
        r.structured_content,
        Some(json!({"success": true, "message": "Entities deleted successfully"}))
    );
    let g = ok(&client, "read_graph", json!({})).await;
    assert_eq!(names(&g), vec!["Alice", "Acme Corp"]);
    assert_eq!(
        g["relations"],
        json!([{"from": "Alice", "to": "Acme Corp", "relationType": "works_at"}])
    );

    ok(
        &client,
        "delete_observations",
        json!({"deletions": [
            {"entityName": "Alice", "observations": ["Likes tea", "absent"]},
            {"entityName": "Nobody", "observations": ["x"]}
        ]}),
    )
    .await;
    ok(
        &client,
        "delete_relations",
        json!({"relations": [{"from": "Alice", "to": "Acme Corp", "relationType": "works_at"}]}),
    )
    .await;
    let g = ok(&client, "read_graph", json!({})).await;
    assert_eq!(g["entities"][0]["observations"], json!(["Speaks Spanish"]));
    assert_eq!(g["relations"], json!([]));
}

#[tokio::test]
async fn search_is_lowercase_substring_over_name_type_observations() {
    let client = seeded().await;
    let by_name = ok(&client, "search_nodes", json!({"query": "ALI"})).await;
    assert_eq!(names(&by_name), vec!["Alice"]);
    // Relations with at least one end among the results (reference 2026.8.31 behaviour).
    assert_eq!(by_name["relations"].as_array().map(Vec::len), Some(2));
    let by_type = ok(&client, "search_nodes", json!({"query": "Organization"})).await;
    assert_eq!(names(&by_type), vec!["Acme Corp"]);
    let by_obs = ok(&client, "search_nodes", json!({"query": "chess"})).await;
    assert_eq!(names(&by_obs), vec!["Bob"]);
    assert_eq!(by_obs["relations"].as_array().map(Vec::len), Some(2));
    let not_regex = ok(&client, "search_nodes", json!({"query": ".*"})).await;
    assert_eq!(names(&not_regex), Vec::<String>::new());
    let not_tokens = ok(&client, "search_nodes", json!({"query": "chess plays"})).await;
    assert_eq!(names(&not_tokens), Vec::<String>::new());
    let relation_type_not_searched =
        ok(&client, "search_nodes", json!({"query": "works_at"})).await;
    assert_eq!(names(&relation_type_not_searched), Vec::<String>::new());
}

#[tokio::test]
async fn open_nodes_keeps_graph_order_and_skips_unknowns() {
    let client = seeded().await;
    let v = ok(
        &client,
        "open_nodes",
        json!({"names": ["Bob", "Alice", "Alice", "Unknown"]}),
    )
    .await;
    assert_eq!(names(&v), vec!["Alice", "Bob"]);
    let ghost = ok(&client, "open_nodes", json!({"names": ["Ghost"]})).await;
    assert_eq!(ghost, json!({"entities": [], "relations": []}));
}

#[tokio::test]
async fn bad_input_is_a_tool_error_and_writes_nothing() {
    let client = seeded().await;
    let before = ok(&client, "read_graph", json!({})).await;

    let e = err(
        &client,
        "create_entities",
        json!({"entities": [
            {"name": "Fine", "entityType": "t", "observations": []},
            {"name": "  ", "entityType": "t", "observations": []}
        ]}),
    )
    .await;
    assert!(e.contains("entity name at index 1 is empty"), "{e}");

    let many: Vec<_> = (0..1001)
        .map(|i| json!({"name": format!("E{i}"), "entityType": "t", "observations": []}))
        .collect();
    let e = err(&client, "create_entities", json!({"entities": many})).await;
    assert!(e.contains("1001 entities") && e.contains("1000"), "{e}");

    let big = "x".repeat(16 * 1024 + 1);
    let e = err(
        &client,
        "add_observations",
        json!({"observations": [{"entityName": "Alice", "contents": ["ok", big]}]}),
    )
    .await;
    assert!(e.contains("16 KiB"), "{e}");

    let e = err(&client, "create_entities", json!({"entities": "notalist"})).await;
    assert!(e.contains("expected a sequence"), "{e}");
    let e = err(
        &client,
        "create_entities",
        json!({"entities": [{"name": 42, "entityType": "t", "observations": []}]}),
    )
    .await;
    assert!(e.contains("expected a string"), "{e}");
    let e = err(
        &client,
        "create_relations",
        json!({"relations": [{"from": "A", "to": "", "relationType": "r"}]}),
    )
    .await;
    assert!(e.contains("'to'"), "{e}");
    let e = err(&client, "read_graph", json!({"limit": 0})).await;
    assert!(e.contains("limit"), "{e}");
    let e = err(&client, "read_graph", json!({"cursor": "bogus"})).await;
    assert!(e.contains("cursor is not valid"), "{e}");

    let after = ok(&client, "read_graph", json!({})).await;
    assert_eq!(before, after, "no partial write");
}

#[tokio::test]
async fn read_graph_pages_within_the_budget_and_the_cursor_continues_exactly() {
    let client = in_process(server_with_budget(4_000)).await.expect("client");
    let entities: Vec<_> = (0..120)
        .map(|i| json!({"name": format!("E{i:03}"), "entityType": "thing", "observations": [format!("observation number {i}")]}))
        .collect();
    ok(&client, "create_entities", json!({"entities": entities})).await;
    let relations: Vec<_> = (0..119)
        .map(|i| json!({"from": format!("E{i:03}"), "to": format!("E{:03}", i + 1), "relationType": "next"}))
        .collect();
    ok(&client, "create_relations", json!({"relations": relations})).await;

    let mut seen_entities = Vec::new();
    let mut seen_relations = 0;
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let r = call(&client, "read_graph", args).await;
        let t = text(&r);
        assert!(
            t.chars().count() <= 4_000,
            "page of {} chars over the 4000 budget",
            t.chars().count()
        );
        let v = r.structured_content.unwrap();
        seen_entities.extend(names(&v));
        seen_relations += v["relations"].as_array().map(Vec::len).unwrap_or(0);
        pages += 1;
        match v.get("next_cursor").and_then(|c| c.as_str()) {
            Some(c) => {
                assert_eq!(v["truncated"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert!(v.get("truncated").is_none());
                break;
            }
        }
        assert!(pages < 100, "paging does not terminate");
    }
    assert!(
        pages > 3,
        "the budget should force several pages, got {pages}"
    );
    let expected: Vec<String> = (0..120).map(|i| format!("E{i:03}")).collect();
    assert_eq!(
        seen_entities, expected,
        "every entity exactly once, in order"
    );
    assert_eq!(seen_relations, 119);

    // limit, and search paging with a cursor.
    let p = ok(
        &client,
        "search_nodes",
        json!({"query": "observation number 1", "limit": 5}),
    )
    .await;
    assert_eq!(names(&p), vec!["E001", "E010", "E011", "E012", "E013"]);
    let c = p["next_cursor"].as_str().unwrap().to_string();
    let p2 = ok(
        &client,
        "search_nodes",
        json!({"query": "observation number 1", "limit": 5, "cursor": c}),
    )
    .await;
    assert_eq!(names(&p2), vec!["E014", "E015", "E016", "E017", "E018"]);
    // A cursor from one tool is refused by another.
    let e = err(&client, "read_graph", json!({"cursor": c})).await;
    assert!(e.contains("cursor is not valid for read_graph"), "{e}");
}

#[tokio::test]
async fn resource_lists_and_reads_the_graph() {
    let client = seeded().await;
    let list = client.list_resources(None).await.unwrap();
    assert_eq!(list.resources.len(), 1);
    assert_eq!(list.resources[0].uri, "memory://knowledge-graph");
    let read = client
        .read_resource(ReadResourceRequestParams::new("memory://knowledge-graph"))
        .await
        .unwrap();
    let body = serde_json::to_value(&read.contents[0]).unwrap();
    let graph: serde_json::Value = serde_json::from_str(body["text"].as_str().unwrap()).unwrap();
    assert_eq!(names(&graph), vec!["Alice", "Bob", "Acme Corp"]);
    assert!(
        client
            .read_resource(ReadResourceRequestParams::new("memory://other"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn read_only_removes_every_write_tool() {
    let mut config = sophia_memory::MemoryConfig::new(":memory:");
    config.read_only = true;
    let server = sophia_memory::MemoryServer::from_store(
        sophia_memory::Store::open_in_memory().unwrap(),
        config,
    );
    let client = in_process(server).await.unwrap();
    let mut tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        vec![
            "get_memory",
            "list_memories",
            "memory_stats",
            "open_nodes",
            "read_graph",
            "search_nodes",
            "semantic_search"
        ]
    );
    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("create_entities")
                .with_arguments(json!({"entities": []}).as_object().unwrap().clone()),
        )
        .await;
    assert!(r.is_err(), "a removed tool cannot be called");
}

#[test]
fn schema_snapshots_match_and_every_tool_is_annotated() {
    use mcp_core::SophiaServer;
    let tools = server().tools();
    assert_eq!(tools.len(), TOOL_COUNT);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/memory");
    let problems = mcp_core::schema::check_snapshots(&dir, &tools);
    assert!(problems.is_empty(), "{problems:#?}");
    for t in &tools {
        let a = t.annotations.as_ref().unwrap();
        assert!(
            a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{}",
            t.name
        );
        assert!(t.output_schema.is_some(), "{} has an output schema", t.name);
    }
}

#[tokio::test]
async fn an_entity_larger_than_a_page_is_handed_out_over_several_pages() {
    let client = in_process(server_with_budget(3_000)).await.expect("client");
    let observations: Vec<String> = (0..200)
        .map(|i| format!("fact number {i:03} about the big one"))
        .collect();
    ok(
        &client,
        "create_entities",
        json!({"entities": [
            {"name": "Small", "entityType": "t", "observations": ["s"]},
            {"name": "Big", "entityType": "t", "observations": observations},
            {"name": "After", "entityType": "t", "observations": []}
        ]}),
    )
    .await;
    let mut got: Vec<String> = Vec::new();
    let mut order = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut args = json!({});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let r = call(&client, "read_graph", args).await;
        assert!(
            text(&r).chars().count() <= 3_000,
            "page over budget: {}",
            text(&r).chars().count()
        );
        let v = r.structured_content.unwrap();
        for e in v["entities"].as_array().unwrap() {
            order.push(e["name"].as_str().unwrap().to_string());
            if e["name"] == "Big" {
                got.extend(
                    e["observations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|o| o.as_str().unwrap().to_string()),
                );
            }
        }
        match v.get("next_cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(
        got, observations,
        "every observation of Big exactly once, in order"
    );
    order.dedup();
    assert_eq!(order, vec!["Small", "Big", "After"]);
}
