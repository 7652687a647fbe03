//! Every tool in-process against the fake HubSpot: paging over several pages, the search body's
//! filterGroups, 404, 207, 429 then success, 401, malformed bodies, writes read back (with a
//! property that did not take), notes, pipelines/owners/properties, the response budget, the
//! 10,000-result cap, the read-only filter and the missing credential.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::BTreeSet;

use common::*;
use mcp_core::Budget;
use serde_json::{Value, json};
use sophia_hubspot::{HubSpotConfig, HubSpotServer};

#[tokio::test]
async fn search_pages_through_several_pages_with_after() {
    let fake = Fake::start(FakeState::default()).await;
    fake.with(|s| s.page_cap = 2);
    let client = fake.client().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args =
            json!({"object_type": "contact", "limit": 2, "properties": ["email", "jobtitle"]});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let v = ok_call(&client, "object_search", args).await;
        pages += 1;
        assert_eq!(v["total"], 5);
        seen.extend(ids(&v));
        match v["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(v["truncated"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert_eq!(v["truncated"], false);
                break;
            }
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec!["201", "202", "203", "204", "205"]);
    // A cursor continues only its own search.
    let first = ok_call(
        &client,
        "object_search",
        json!({"object_type": "contacts", "limit": 2}),
    )
    .await;
    let e = err_call(
        &client,
        "object_search",
        json!({"object_type": "contacts", "limit": 2, "query": "a", "cursor": first["next_cursor"]}),
    )
    .await;
    assert!(e.contains("different search"), "{e}");
    let reqs = fake.requests("POST /crm/v3/objects/contacts/search");
    assert_eq!(reqs.len(), 4);
    assert!(reqs[0].body.get("after").is_none());
    assert_eq!(reqs[1].body["after"], "2");
    assert_eq!(reqs[2].body["after"], "4");
    assert_eq!(reqs[0].body["properties"], json!(["email", "jobtitle"]));
    assert_eq!(
        reqs[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn search_filters_become_one_filter_group_and_values_stay_strings() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let v = ok_call(
        &client,
        "object_search",
        json!({
            "object_type": "deals",
            "filters": [
                {"property": "dealstage", "operator": "IN", "values": ["qualifiedtobuy", "closedwon"]},
                {"property": "amount", "operator": "GT", "value": 900},
                {"property": "closedate", "operator": "BETWEEN", "value": "2026-01-01", "high_value": "2026-03-31"}
            ],
            "sort_by": "amount",
            "sort_direction": "desc",
            "properties": ["amount", "dealstage"]
        }),
    )
    .await;
    // 1002 (2500.50, Feb), 1004 (4000, Mar); 1009 has 750 (not > 900); 1003 no amount.
    assert_eq!(ids(&v), vec!["1004", "1002"]);
    assert_eq!(v["items"][0]["properties"]["amount"], "4000");
    assert!(v.get("notes").is_none());
    let req = &fake.requests("POST /crm/v3/objects/deals/search")[0];
    assert_eq!(
        req.body["filterGroups"],
        json!([{"filters": [
            {"propertyName": "dealstage", "operator": "IN", "values": ["qualifiedtobuy", "closedwon"]},
            {"propertyName": "amount", "operator": "GT", "value": "900"},
            {"propertyName": "closedate", "operator": "BETWEEN", "value": "1767225600000", "highValue": "1774915200000"}
        ]}])
    );
    assert_eq!(
        req.body["sorts"],
        json!([{"propertyName": "amount", "direction": "DESCENDING"}])
    );
    // Free text.
    let v = ok_call(
        &client,
        "object_search",
        json!({"object_type": "contacts", "query": "grace"}),
    )
    .await;
    assert_eq!(ids(&v), vec!["202"]);
    assert_eq!(v["items"][0]["properties"]["email"], "grace@navy.mil");
    // Bad input is refused before any request.
    let before = fake.requests("POST").len();
    let e = err_call(&client, "object_search", json!({"object_type": "deals", "filters": [{"property": "amount", "operator": "BETWEEN", "value": "1"}]})).await;
    assert!(e.contains("high_value"), "{e}");
    let e = err_call(&client, "object_search", json!({"object_type": "widgets"})).await;
    assert!(e.contains("unknown object_type"), "{e}");
    let e = err_call(
        &client,
        "object_search",
        json!({"object_type": "deals", "limit": 500}),
    )
    .await;
    assert!(e.contains("maximum of 200"), "{e}");
    assert_eq!(fake.requests("POST").len(), before);
}

#[tokio::test]
async fn a_long_search_result_stays_inside_the_budget_and_continues_exactly() {
    let fake = Fake::start(FakeState::default()).await;
    fake.with(|s| {
        for o in s.objects.get_mut("contacts").unwrap().values_mut() {
            o.props.insert("bio".into(), "x".repeat(300));
        }
    });
    let mut config = fake.config();
    config.budget = Budget::new(1_000);
    let client = fake.client_with(config).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first_page_len = None;
    for _ in 0..10 {
        let mut args = json!({"object_type": "contacts", "limit": 5, "properties": ["bio"]});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let r = client.call_tool(call("object_search", args)).await.unwrap();
        let v = r.structured_content.clone().unwrap();
        assert!(
            serde_json::to_string(&v).unwrap().len() <= 1_000,
            "over budget: {}",
            serde_json::to_string(&v).unwrap().len()
        );
        first_page_len.get_or_insert(ids(&v).len());
        seen.extend(ids(&v));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(
        first_page_len.unwrap() < 5,
        "the budget, not the limit, cut the page"
    );
    assert_eq!(
        seen,
        vec!["201", "202", "203", "204", "205"],
        "no item lost or repeated"
    );
}

#[tokio::test]
async fn search_says_so_at_hubspots_10k_cap() {
    let fake = Fake::start(FakeState::default()).await;
    fake.with(|s| {
        let m = s.objects.get_mut("contacts").unwrap();
        for i in 0..10_050u64 {
            m.insert(
                100_000 + i,
                Obj {
                    props: [("email".to_string(), format!("c{i}@bulk.example"))].into(),
                },
            );
        }
    });
    // A budget large enough for full pages of 200: the cap, not the budget, is under test.
    let mut config = fake.config();
    config.budget = Budget::new(1_000_000);
    let client = fake.client_with(config).await;
    let mut cursor: Option<String> = None;
    let mut count = 0;
    let mut last = Value::Null;
    for page in 0..60 {
        let mut args = json!({"object_type": "contacts", "limit": 200, "query": "bulk.example"});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let v = ok_call(&client, "object_search", args).await;
        if page == 0 {
            assert_eq!(v["total"], 10_050);
            assert!(
                v["notes"][0].as_str().unwrap().contains("at most 10000"),
                "{v}"
            );
        }
        count += ids(&v).len();
        cursor = v["next_cursor"].as_str().map(str::to_string);
        last = v;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(count, 10_000);
    assert!(
        last["notes"][0]
            .as_str()
            .unwrap()
            .contains("reached HubSpot's limit"),
        "{last}"
    );
    assert_eq!(last["truncated"], false);
}

#[tokio::test]
async fn object_get_reads_properties_and_associations_with_a_partial_batch_read() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let v = ok_call(
        &client,
        "object_get",
        json!({"object_type": "deals", "id": "1001", "properties": ["amount", "hubspot_owner_id"]}),
    )
    .await;
    assert_eq!(v["object"]["id"], "1001");
    assert_eq!(v["object"]["properties"]["amount"], "1000");
    assert_eq!(v["object"]["properties"]["hubspot_owner_id"], "101");
    let get = &fake.requests("GET /crm/v3/objects/deals/1001")[0];
    assert!(
        get.query.contains("properties=amount%2Chubspot_owner_id"),
        "{}",
        get.query
    );
    let groups = v["associations"].as_array().unwrap();
    let contacts = groups
        .iter()
        .find(|g| g["object_type"] == "contacts")
        .unwrap();
    assert_eq!(
        contacts["items"][0],
        json!({"id": "201", "name": "Ada Lovelace <ada@acme.com>"})
    );
    assert_eq!(
        contacts["items"][1],
        json!({"id": "202", "name": "Grace Hopper <grace@navy.mil>", "labels": ["Decision maker"]})
    );
    assert_eq!(
        contacts["items"][2],
        json!({"id": "299"}),
        "the 207's missing record has no name"
    );
    let companies = groups
        .iter()
        .find(|g| g["object_type"] == "companies")
        .unwrap();
    assert_eq!(
        companies["items"][0],
        json!({"id": "301", "name": "Acme (acme.com)", "labels": ["Primary"]})
    );
    assert!(!groups.iter().any(|g| g["object_type"] == "tickets"));
    let note = v["notes"][0].as_str().unwrap();
    assert!(
        note.contains("could not read 1") && note.contains("299"),
        "{note}"
    );
    assert_eq!(
        fake.requests("GET /crm/v4/objects/deals/1001/associations/")
            .len(),
        3
    );
    // By a unique property.
    let v = ok_call(
        &client,
        "object_get",
        json!({"object_type": "contacts", "id": "grace@navy.mil", "id_property": "email", "associations": []}),
    )
    .await;
    assert_eq!(v["object"]["id"], "202");
}

#[tokio::test]
async fn a_missing_record_is_a_clear_not_found() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let e = err_call(
        &client,
        "object_get",
        json!({"object_type": "contacts", "id": "999"}),
    )
    .await;
    assert!(e.contains("contacts 999 not found"), "{e}");
    assert!(e.contains("correlationId"), "{e}");
    let e = err_call(
        &client,
        "object_update",
        json!({"object_type": "deals", "id": "999", "properties": {"amount": "1"}}),
    )
    .await;
    assert!(
        e.contains("deals 999 not found") && e.contains("nothing was changed"),
        "{e}"
    );
    let e = err_call(
        &client,
        "object_get",
        json!({"object_type": "contacts", "id": "ada"}),
    )
    .await;
    assert!(e.contains("id_property"), "{e}");
}

const RATE_LIMIT_BODY: &str = r#"{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c033cdaa-2c40-4a64-ae48-b4cec88dad24","policyName":"SECONDLY","requestId":"3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd"}"#;

#[tokio::test]
async fn rate_limited_without_retry_after_is_retried_then_succeeds() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "POST /crm/v3/objects/contacts/search",
        429,
        &[("content-type", "application/json")],
        RATE_LIMIT_BODY,
    );
    let client = fake.client().await;
    let v = ok_call(&client, "object_search", json!({"object_type": "contacts"})).await;
    assert_eq!(ids(&v).len(), 5);
    assert_eq!(
        fake.requests("POST /crm/v3/objects/contacts/search").len(),
        2
    );
    // Still limited after every retry: a tool error saying to retry later.
    for _ in 0..4 {
        fake.script("GET /crm/v3/owners", 429, &[], RATE_LIMIT_BODY);
    }
    let e = err_call(&client, "owner_list", json!({})).await;
    assert!(
        e.contains("rate limiting") && e.contains("retry after"),
        "{e}"
    );
    assert_eq!(fake.requests("GET /crm/v3/owners").len(), 4);
}

#[tokio::test]
async fn writes_are_not_retried() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "PATCH /crm/v3/objects/contacts/201",
        503,
        &[],
        "{\"status\":\"error\",\"message\":\"unavailable\"}",
    );
    let client = fake.client().await;
    let e = err_call(
        &client,
        "object_update",
        json!({"object_type": "contacts", "id": "201", "properties": {"jobtitle": "x"}}),
    )
    .await;
    assert!(e.contains("HTTP 503"), "{e}");
    assert_eq!(fake.requests("PATCH").len(), 1);
}

#[tokio::test]
async fn a_bad_token_names_the_variable_and_never_echoes_it() {
    let fake = Fake::start(FakeState::default()).await;
    let mut config = fake.config();
    config.token = Some("pat-na1-wrong-token-value".to_string().into());
    let client = fake.client_with(config).await;
    let e = err_call(&client, "pipeline_list", json!({})).await;
    assert!(
        e.contains("HUBSPOT_ACCESS_TOKEN") && e.contains("401"),
        "{e}"
    );
    assert!(!e.contains("pat-na1-wrong-token-value"));
    // Not retried.
    assert_eq!(fake.requests("GET /crm/v3/pipelines/deals").len(), 1);
}

#[tokio::test]
async fn without_a_token_every_tool_says_what_to_set() {
    let fake = Fake::start(FakeState::default()).await;
    let config = HubSpotConfig::new(fake.url.clone(), None);
    let client = fake.client_with(config).await;
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOLS.len());
    for (tool, args) in [
        ("object_search", json!({"object_type": "deals"})),
        ("pipeline_summary", json!({})),
        ("owner_list", json!({})),
    ] {
        let e = err_call(&client, tool, args).await;
        assert!(e.contains("set HUBSPOT_ACCESS_TOKEN"), "{e}");
    }
    assert!(fake.requests("").is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_tool_errors() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "GET /crm/v3/pipelines/deals",
        200,
        &[("content-type", "text/html")],
        "<html>oops</html>",
    );
    fake.script(
        "GET /crm/v3/pipelines/deals",
        200,
        &[("content-type", "application/json")],
        "{\"results\": 5}",
    );
    let client = fake.client().await;
    let e = err_call(&client, "pipeline_list", json!({})).await;
    assert!(
        e.contains("malformed response") && e.contains("not JSON"),
        "{e}"
    );
    let e = err_call(&client, "pipeline_list", json!({})).await;
    assert!(
        e.contains("malformed response") && e.contains("pipelines"),
        "{e}"
    );
    ok_call(&client, "pipeline_list", json!({})).await;
}

#[tokio::test]
async fn create_reads_back_and_conflicts_are_reported() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let v = ok_call(
        &client,
        "object_create",
        json!({"object_type": "contacts", "properties": {"email": "new@acme.com", "firstname": "Nia", "age": 41}}),
    )
    .await;
    let id = v["object"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["object"]["properties"]["email"], "new@acme.com");
    assert_eq!(v["object"]["properties"]["age"], "41");
    assert_eq!(v["not_applied"], json!([]));
    let post = &fake.requests("POST /crm/v3/objects/contacts")[0];
    assert_eq!(
        post.body,
        json!({"properties": {"age": "41", "email": "new@acme.com", "firstname": "Nia"}})
    );
    // Read back with the written properties named.
    let get = fake.requests(&format!("GET /crm/v3/objects/contacts/{id}"));
    assert!(
        get[0].query.contains("properties=age%2Cemail%2Cfirstname"),
        "{}",
        get[0].query
    );
    let e = err_call(
        &client,
        "object_create",
        json!({"object_type": "contacts", "properties": {"email": "ada@acme.com"}}),
    )
    .await;
    assert!(
        e.contains("Contact already exists. Existing ID: 201"),
        "{e}"
    );
}

#[tokio::test]
async fn an_update_reports_the_property_that_did_not_take() {
    let fake = Fake::start(FakeState::default()).await;
    fake.with(|s| s.ignore_on_write = vec!["hs_lead_status".into()]);
    let client = fake.client().await;
    let v = ok_call(
        &client,
        "object_update",
        json!({"object_type": "deals", "id": "1002", "properties": {"amount": "2600", "hs_lead_status": "BOGUS"}}),
    )
    .await;
    assert_eq!(v["object"]["properties"]["amount"], "2600");
    assert_eq!(
        v["not_applied"],
        json!([{"property": "hs_lead_status", "requested": "BOGUS"}])
    );
    let patch = &fake.requests("PATCH /crm/v3/objects/deals/1002")[0];
    assert_eq!(
        patch.body,
        json!({"properties": {"amount": "2600", "hs_lead_status": "BOGUS"}})
    );
}

#[tokio::test]
async fn a_note_is_associated_with_its_record() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let v = ok_call(
        &client,
        "note_create",
        json!({"object_type": "deal", "id": "1001", "body": "Call went well; pricing next week.", "timestamp": "1767225600000", "owner_id": "101"}),
    )
    .await;
    assert_eq!(v["associated"], true);
    assert_eq!(v["object_type"], "deals");
    assert_eq!(
        v["note"]["properties"]["hs_note_body"],
        "Call went well; pricing next week."
    );
    assert_eq!(v["not_applied"], json!([]));
    let post = &fake.requests("POST /crm/v3/objects/notes")[0];
    assert_eq!(
        post.body["associations"],
        json!([{"to": {"id": "1001"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}])
    );
    assert_eq!(post.body["properties"]["hs_timestamp"], "1767225600000");
    assert_eq!(post.body["properties"]["hubspot_owner_id"], "101");
    let e = err_call(
        &client,
        "note_create",
        json!({"object_type": "contacts", "id": "999", "body": "x"}),
    )
    .await;
    assert!(e.contains("No contacts with ID 999"), "{e}");
}

#[tokio::test]
async fn pipelines_owners_and_properties() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let v = ok_call(&client, "pipeline_list", json!({})).await;
    assert_eq!(v["items"][0]["id"], "default", "display order");
    let stages: Vec<(String, f64)> = v["items"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["probability"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        vec![
            ("appointmentscheduled".to_string(), 0.2),
            ("qualifiedtobuy".to_string(), 0.4),
            ("closedwon".to_string(), 1.0),
            ("closedlost".to_string(), 0.0)
        ]
    );
    assert_eq!(v["items"][0]["stages"][2]["is_closed"], true);
    assert_eq!(v["items"][1]["stages"][0]["id"], "r-open");
    let t = ok_call(&client, "pipeline_list", json!({"object_type": "tickets"})).await;
    assert_eq!(t["items"][0]["stages"][1]["ticket_state"], "CLOSED");

    let o = ok_call(&client, "owner_list", json!({"limit": 2})).await;
    assert_eq!(ids(&o), vec!["101", "102"]);
    assert_eq!(o["items"][0]["name"], "Ada Owner");
    assert_eq!(o["items"][0]["teams"], json!(["EMEA"]));
    let o2 = ok_call(
        &client,
        "owner_list",
        json!({"limit": 2, "cursor": o["next_cursor"]}),
    )
    .await;
    assert_eq!(ids(&o2), vec!["103"]);
    assert!(o2.get("next_cursor").is_none());
    let one = ok_call(&client, "owner_list", json!({"email": "bob@example.com"})).await;
    assert_eq!(ids(&one), vec!["102"]);

    let p = ok_call(
        &client,
        "property_list",
        json!({"object_type": "contacts", "custom_only": true}),
    )
    .await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1);
    assert_eq!(p["items"][0]["name"], "favorite_color");
    assert_eq!(p["items"][0]["options"], json!(["red", "blue"]));
    assert_eq!(p["items"][0]["custom"], true);
    let p = ok_call(
        &client,
        "property_list",
        json!({"object_type": "contacts", "query": "record"}),
    )
    .await;
    assert_eq!(p["items"][0]["name"], "hs_object_id");
    assert_eq!(p["items"][0]["read_only"], true);
    assert_eq!(p["items"][0]["custom"], false);
}

#[tokio::test]
async fn read_only_removes_every_write() {
    let fake = Fake::start(FakeState::default()).await;
    let mut config = fake.config();
    config.read_only = true;
    let client = fake.client_with(config).await;
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, READ_TOOLS);
    let r = client
        .call_tool(call(
            "object_create",
            json!({"object_type": "contacts", "properties": {"email": "x@y.z"}}),
        ))
        .await;
    assert!(r.is_err() || r.unwrap().is_error == Some(true));
    assert!(fake.requests("POST /crm/v3/objects/contacts").is_empty());
}

#[tokio::test]
async fn schemas_match_the_snapshots_and_pass_the_lint() {
    let server = HubSpotServer::new(HubSpotConfig::new("http://127.0.0.1:1", None)).unwrap();
    let tools = mcp_core::SophiaServer::tools(&server);
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, TOOLS.iter().map(|s| s.to_string()).collect());
    for t in &tools {
        let a = t.annotations.as_ref().unwrap();
        assert!(
            a.read_only_hint.is_some()
                && a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{}: all four hints",
            t.name
        );
        assert!(t.output_schema.is_some(), "{}: output schema", t.name);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/hubspot");
    let problems = mcp_core::schema::check_snapshots(&dir, &tools);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn config_debug_hides_the_token() {
    let c = HubSpotConfig::new("http://x", Some(TOKEN.to_string().into()));
    assert!(!format!("{c:?}").contains(TOKEN));
}

#[tokio::test]
async fn searches_are_paced_to_hubspots_search_limit() {
    let fake = Fake::start(FakeState::default()).await;
    let mut config = fake.config();
    config.search_per_second = 10;
    let client = fake.client_with(config).await;
    let t = std::time::Instant::now();
    for _ in 0..5 {
        ok_call(&client, "object_search", json!({"object_type": "contacts"})).await;
    }
    // Five searches at 10 per second cannot take less than four intervals of 100 ms (a lower
    // bound only: pacing is the behaviour under test).
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(390),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        fake.requests("POST /crm/v3/objects/contacts/search").len(),
        5
    );
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out() {
    let fake = Fake::start(FakeState::default()).await;
    fake.with(|s| s.search_delay = Some((0, std::time::Duration::from_secs(30))));
    let mut config = fake.config();
    config.timeout = std::time::Duration::from_millis(200);
    config.retry.max_attempts = 2;
    let client = fake.client_with(config).await;
    let e = err_call(&client, "object_search", json!({"object_type": "deals"})).await;
    assert!(e.contains("timed out") && e.contains("temporary"), "{e}");
    assert_eq!(
        fake.requests("POST /crm/v3/objects/deals/search").len(),
        2,
        "retried once"
    );
}
