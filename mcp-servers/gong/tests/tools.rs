//! Every tool in-process against the fake Gong: paging (cursor in the query for GET, in the body
//! for POST), 404 as an empty result, 429 then success, 401, missing credentials, a malformed
//! body, the response budget on a long transcript, speaker resolution, talking points, the
//! sentiment numbers, progress, concurrency within one transcript page, cancellation of a long
//! scan, the read-only filter and schema snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use mcp_core::{Budget, SophiaServer};
use rmcp::{
    ClientHandler, ServiceExt,
    model::{CallToolRequestParams, ClientRequest, ProgressNotificationParam, Request},
    service::{NotificationContext, PeerRequestOptions},
};
use secrecy::SecretString;
use serde_json::{Value, json};

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn many_calls(n: usize) -> Vec<FakeCall> {
    (0..n)
        .map(|i| {
            let (domain, account) = if i.is_multiple_of(2) {
                ("globex.com", "Globex")
            } else {
                ("initech.com", "Initech")
            };
            let said = if i.is_multiple_of(3) {
                "Our budget is tight this quarter."
            } else {
                "Sounds fine."
            };
            gen_call(i, domain, account, said)
        })
        .collect()
}

#[tokio::test]
async fn call_list_pages_with_the_cursor_in_the_query_string() {
    let fake = Fake::with(many_calls(7), vec![], 3).await;
    let client = client_for(&fake).await;
    let all = ok_call(
        &client,
        "call_list",
        json!({"from": "2024-05-01", "to": "2024-06-01"}),
    )
    .await;
    let got = ids(&all);
    assert_eq!(got.len(), 7);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 7, "no page twice");
    assert_eq!(all["total"], 7);
    assert!(all.get("next_cursor").is_none());
    assert_eq!(all["truncated"], false);
    assert_eq!(
        all["from"], "2024-05-01T00:00:00Z",
        "a date gets a time part"
    );
    let log = fake.log();
    let gets: Vec<&String> = log
        .iter()
        .filter(|l| l.1 == "/v2/calls")
        .map(|l| &l.2)
        .collect();
    assert_eq!(gets.len(), 3);
    assert!(
        gets[0].contains("fromDateTime=2024-05-01T00%3A00%3A00Z"),
        "{}",
        gets[0]
    );
    assert!(
        !gets[0].contains("cursor=") && gets[1].contains("cursor=") && gets[2].contains("cursor=")
    );

    // limit smaller than a page: the cursor continues exactly where it stopped.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut args = json!({"from": "2024-05-01", "to": "2024-06-01", "limit": 2});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let page = ok_call(&client, "call_list", args).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page["truncated"], true);
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    assert_eq!(seen, got);
}

#[tokio::test]
async fn no_matching_calls_is_an_empty_result_not_an_error() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    let v = ok_call(
        &client,
        "call_list",
        json!({"from": "2023-01-01", "to": "2023-02-01"}),
    )
    .await;
    assert_eq!(v["items"], json!([]));
    assert_eq!(v["truncated"], false);
    let v = ok_call(
        &client,
        "call_search",
        json!({"from": "2023-01-01", "to": "2023-02-01", "keyword": "pricing"}),
    )
    .await;
    assert_eq!(v["items"], json!([]));
    assert_eq!(v["scanned"]["complete"], true);
    assert!(fake.hits("/v2/calls") == 1 && fake.hits("/v2/calls/extensive") == 1);
    // A single call that does not exist is a clear tool error instead.
    let e = err_call(&client, "call_get", json!({"call_id": "123"})).await;
    assert!(e.contains("call 123 not found"), "{e}");
}

#[tokio::test]
async fn extensive_paging_sends_the_cursor_in_the_json_body() {
    let fake = Fake::with(many_calls(7), vec![], 2).await;
    let client = client_for(&fake).await;
    let v = ok_call(
        &client,
        "call_search",
        json!({"from": "2024-05-01", "to": "2024-06-01", "account": "globex", "max_pages": 20}),
    )
    .await;
    let found: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    // Calls 0, 2, 4, 6 are Globex's; a cursor in the wrong place would give page 1 forever.
    assert_eq!(
        found,
        [
            "Call 0 with Globex",
            "Call 2 with Globex",
            "Call 4 with Globex",
            "Call 6 with Globex"
        ]
    );
    assert_eq!(v["scanned"]["pages"], 4);
    assert_eq!(v["scanned"]["calls"], 7);
    assert_eq!(v["scanned"]["complete"], true);
    assert_eq!(v["items"][0]["matched"], json!(["account"]));
    assert_eq!(v["items"][0]["accounts"], json!(["Globex"]));
    let st = fake.state.lock().unwrap();
    assert_eq!(st.misplaced_cursors, 0);
    let bodies: Vec<Value> = st
        .log
        .iter()
        .filter(|l| l.1 == "/v2/calls/extensive")
        .map(|l| serde_json::from_str(&l.3).unwrap())
        .collect();
    assert_eq!(bodies.len(), 4);
    assert!(bodies[0].get("cursor").is_none());
    assert!(bodies[1..].iter().all(|b| b["cursor"].is_string()));
    assert_eq!(bodies[0]["contentSelector"]["context"], "Extended");
    assert_eq!(bodies[0]["filter"]["fromDateTime"], "2024-05-01T00:00:00Z");
}

#[tokio::test]
async fn search_continues_from_its_cursor_within_max_pages() {
    let fake = Fake::with(many_calls(7), vec![], 2).await;
    let client = client_for(&fake).await;
    let args = json!({"from": "2024-05-01", "to": "2024-06-01", "email_domain": "initech.com", "max_pages": 2});
    let first = ok_call(&client, "call_search", args.clone()).await;
    assert_eq!(first["scanned"]["pages"], 2);
    assert_eq!(first["scanned"]["complete"], false);
    assert_eq!(first["truncated"], true);
    let mut args2 = args.clone();
    args2["cursor"] = first["next_cursor"].clone();
    let second = ok_call(&client, "call_search", args2).await;
    assert_eq!(second["scanned"]["complete"], true);
    let titles: Vec<String> = [first, second]
        .iter()
        .flat_map(|v| v["items"].as_array().unwrap().clone())
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        titles,
        [
            "Call 1 with Initech",
            "Call 3 with Initech",
            "Call 5 with Initech"
        ]
    );
}

#[tokio::test]
async fn search_by_domain_opportunity_and_keyword() {
    let mut calls = many_calls(4);
    calls.push(acme_call());
    // A call linked to a HubSpot deal: the CRM object is a Deal, not an Opportunity.
    let mut hub = gen_call(90, "hooli.com", "Hooli", "nothing");
    hub.context = vec![json!({"system": "HubSpot", "objects": [
        {"objectType": "Deal", "objectId": "9812345", "fields": [{"name": "dealname", "value": "Hooli renewal"}]}
    ]})];
    let hub_id = hub.id.clone();
    calls.push(hub);
    let fake = Fake::with(calls, vec![], 100).await;
    let client = client_for(&fake).await;
    let window = |extra: Value| {
        let mut a = json!({"from": "2024-05-01T00:00:00Z", "to": "2024-06-01T00:00:00Z"});
        a.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        a
    };
    let v = ok_call(
        &client,
        "call_search",
        window(json!({"email_domain": "@ACME.com"})),
    )
    .await;
    assert_eq!(ids(&v), [ACME]);
    let v = ok_call(
        &client,
        "call_search",
        window(json!({"opportunity_id": "006X000042"})),
    )
    .await;
    assert_eq!(ids(&v), [ACME]);
    assert_eq!(v["items"][0]["accounts"], json!(["Acme Corp"]));
    let v = ok_call(
        &client,
        "call_search",
        window(json!({"opportunity_id": "9812345"})),
    )
    .await;
    assert_eq!(ids(&v), [hub_id]);
    let v = ok_call(
        &client,
        "call_search",
        window(json!({"keyword": "PRICING"})),
    )
    .await;
    assert_eq!(ids(&v), [ACME]);
    let snip = &v["items"][0]["snippets"][0];
    assert_eq!(
        snip["speaker"], "Bob Buyer",
        "speaker resolved through parties"
    );
    assert_eq!(snip["at"], "00:10");
    assert!(
        snip["text"]
            .as_str()
            .unwrap()
            .contains("pricing is a problem")
    );
    assert_eq!(v["items"][0]["matched"], json!(["keyword"]));
    assert_eq!(v["scanned"]["transcripts"], 6);
    // Keyword and domain together: transcripts are fetched only for calls that passed the domain.
    let before = fake.log().len();
    let v = ok_call(
        &client,
        "call_search",
        window(json!({"keyword": "budget", "email_domain": "globex.com"})),
    )
    .await;
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        1,
        "call 0 (globex, says budget)"
    );
    assert_eq!(v["items"][0]["matched"], json!(["email_domain", "keyword"]));
    let log = fake.log();
    let t: Value = log[before..]
        .iter()
        .find(|l| l.1 == "/v2/calls/transcript")
        .map(|l| serde_json::from_str(&l.3).unwrap())
        .unwrap();
    assert_eq!(
        t["filter"]["callIds"].as_array().unwrap().len(),
        2,
        "globex calls 0 and 2 only"
    );
    let e = err_call(&client, "call_search", window(json!({}))).await;
    assert!(e.contains("at least one of"), "{e}");
}

#[tokio::test]
async fn rate_limited_then_success_honours_retry_after() {
    let fake = Fake::start().await;
    fake.fault("/v2/calls/extensive", Fault::RateLimited(1));
    let client = client_for(&fake).await;
    let v = ok_call(&client, "call_get", json!({"call_id": ACME})).await;
    assert_eq!(v["title"], "Acme discovery");
    assert_eq!(
        fake.hits("/v2/calls/extensive"),
        2,
        "the POST listing was retried"
    );
    // Still limited after every retry: a tool error saying to retry later.
    for _ in 0..3 {
        fake.fault("/v2/calls", Fault::RateLimited(0));
    }
    let e = err_call(&client, "call_list", json!({"from": "2024-05-01"})).await;
    assert!(e.contains("rate limiting"), "{e}");
}

#[tokio::test]
async fn unauthorized_and_missing_credentials_name_the_variables() {
    let fake = Fake::start().await;
    let mut c = config(&fake);
    c.access_key_secret = Some(SecretString::from("wrong-secret"));
    let client = mcp_core::testing::in_process(server(c)).await.unwrap();
    let e = err_call(&client, "call_list", json!({"from": "2024-05-01"})).await;
    assert!(
        e.contains("rejected the credentials")
            && e.contains("GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET"),
        "{e}"
    );
    assert!(e.contains("Access denied"), "Gong's own message: {e}");
    assert!(!e.contains("wrong-secret") && !e.contains(KEY));
    let hits = fake.log().len();

    let mut c = config(&fake);
    c.access_key = None;
    let s = server(c);
    assert!(s.check().await.unwrap_err().contains("GONG_ACCESS_KEY"));
    let client = mcp_core::testing::in_process(s).await.unwrap();
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        ALL_TOOLS.len(),
        "tools listed anyway"
    );
    let e = err_call(&client, "call_transcript", json!({"call_id": ACME})).await;
    assert!(e.contains("set GONG_ACCESS_KEY"), "{e}");
    assert_eq!(fake.log().len(), hits, "nothing sent without credentials");
}

#[tokio::test]
async fn malformed_and_failing_upstream_are_tool_errors() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    fake.fault("/v2/calls", Fault::Malformed);
    let e = err_call(&client, "call_list", json!({"from": "2024-05-01"})).await;
    assert!(
        e.contains("not what Gong documents") && e.contains("retry later"),
        "{e}"
    );
    for _ in 0..3 {
        fake.fault("/v2/users", Fault::Unavailable);
    }
    let e = err_call(&client, "user_list", json!({})).await;
    assert!(
        e.contains("HTTP 503") && e.contains("Service unavailable"),
        "{e}"
    );
    let e = err_call(&client, "call_list", json!({"from": "last week"})).await;
    assert!(e.contains("2024-05-01T09:30:00Z"), "{e}");
    let e = err_call(&client, "call_get", json!({"call_id": "abc"})).await;
    assert!(e.contains("not a Gong call id"), "{e}");
}

#[tokio::test]
async fn call_get_projects_parties_crm_content_and_interaction() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    let v = ok_call(&client, "call_get", json!({"call_id": ACME})).await;
    assert_eq!(v["id"], ACME);
    assert_eq!(v["started"], "2024-05-02T10:00:00Z");
    assert_eq!(v["parties"][0]["name"], "Ann Rep");
    assert_eq!(v["parties"][1]["speaker_id"], "s2");
    assert_eq!(
        v["parties"][2]["name"], "carl@acme.com",
        "no name: the e-mail"
    );
    assert_eq!(
        v["crm"],
        json!([
            {"system": "Salesforce", "object_type": "Account", "object_id": "001A000001", "name": "Acme Corp"},
            {"system": "Salesforce", "object_type": "Opportunity", "object_id": "006X000042", "name": "Acme expansion"}
        ])
    );
    assert!(
        v["brief"]
            .as_str()
            .unwrap()
            .contains("worried about pricing")
    );
    assert_eq!(
        v["key_points"],
        json!(["Budget approved for Q3", "Next step: security review"])
    );
    assert_eq!(
        v["topics"],
        json!([{"name": "Pricing", "duration_s": 320.0}])
    );
    assert_eq!(
        v["trackers"].as_array().unwrap().len(),
        2,
        "trackers that fired only"
    );
    assert_eq!(
        v["talk_time"][0],
        json!({"name": "Ann Rep", "talk_time_s": 16.0})
    );
    assert_eq!(v["questions"], json!({"company": 2, "non_company": 0}));
    assert_eq!(
        v["interaction_stats"][0],
        json!({"name": "Talk Ratio", "value": 0.62})
    );
}

#[tokio::test]
async fn transcript_names_speakers_and_offset_paging_reads_everything_once() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    let v = ok_call(&client, "call_transcript", json!({"call_id": ACME})).await;
    let text = v["text"].as_str().unwrap();
    assert!(text.starts_with("[00:00] Ann Rep: Thanks for joining, great to meet you. How is the rollout going?\n[00:10] Bob Buyer: Honestly"), "{text}");
    assert_eq!(
        v["speakers"][1],
        json!({"speaker_id": "s2", "name": "Bob Buyer", "affiliation": "External", "email": "bob@acme.com"})
    );
    assert_eq!(v["truncated"], false);

    // A long transcript under a small budget.
    let mut long = acme_call();
    long.id = "1000000000000000001".into();
    long.transcript = (0..600u64)
        .map(|i| {
            json!({"speakerId": if i.is_multiple_of(2) { "s1" } else { "s2" }, "sentences": [
                {"start": i * 5000, "end": i * 5000 + 4000, "text": format!("Marker S{i:04} says \"quoted\" words here.")}
            ]})
        })
        .collect();
    let fake = Fake::with(vec![long], vec![], 100).await;
    let mut c = config(&fake);
    c.budget = Budget::new(2_000);
    let client = mcp_core::testing::in_process(server(c)).await.unwrap();
    let mut whole = String::new();
    let mut offset = 0u64;
    let mut pieces = 0;
    loop {
        let r = call(
            &client,
            "call_transcript",
            json!({"call_id": "1000000000000000001", "offset": offset}),
        )
        .await;
        let v = r.structured_content.clone().unwrap();
        assert!(
            serde_json::to_string(&v).unwrap().chars().count() <= 2_000,
            "piece {pieces} over budget"
        );
        assert_eq!(v["offset"], offset);
        whole.push_str(v["text"].as_str().unwrap());
        pieces += 1;
        match v["next_offset"].as_u64() {
            Some(n) => {
                assert!(v["hint"].as_str().unwrap().contains(&format!("offset={n}")));
                offset = n;
            }
            None => {
                assert_eq!(
                    whole.chars().count() as u64,
                    v["total_chars"].as_u64().unwrap()
                );
                break;
            }
        }
        assert!(pieces < 200);
    }
    assert!(pieces > 10, "{pieces}");
    for i in 0..600 {
        assert_eq!(
            whole.matches(&format!("Marker S{i:04} ")).count(),
            1,
            "S{i:04}"
        );
    }
    assert!(whole.contains("] Bob Buyer: Marker S0001"));
    assert_eq!(
        fake.hits("/v2/calls/transcript") + fake.hits("/v2/calls/extensive"),
        2,
        "the transcript is read from Gong once and paged from memory"
    );
    // max_chars asks for less.
    let v = ok_call(
        &client,
        "call_transcript",
        json!({"call_id": "1000000000000000001", "offset": 5, "max_chars": 10}),
    )
    .await;
    assert_eq!(v["text"].as_str().unwrap().chars().count(), 10);
    assert_eq!(v["next_offset"], 15);
}

#[tokio::test]
async fn talking_points_quote_the_sentences_that_triggered_trackers() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    let v = ok_call(&client, "get_talking_points", json!({"call_id": ACME})).await;
    assert_eq!(
        v["key_points"],
        json!(["Budget approved for Q3", "Next step: security review"])
    );
    let trackers = v["trackers"].as_array().unwrap();
    let names: Vec<&str> = trackers
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Support", "Pricing"],
        "most frequent first; Competitors never fired"
    );
    assert_eq!(
        trackers[1]["occurrences"][0],
        json!({"at": "00:11", "time_s": 11.0, "speaker": "Bob Buyer", "affiliation": "External",
               "sentence": "Honestly the pricing is a problem and the setup was not easy."})
    );
    assert_eq!(trackers[0]["occurrences"][1]["speaker"], "Ann Rep");
    assert_eq!(
        trackers[0]["occurrences"][1]["sentence"],
        "Can we fix the setup issue?"
    );
    let body: Value = serde_json::from_str(
        &fake
            .log()
            .iter()
            .find(|l| l.1 == "/v2/calls/extensive" && l.3.contains("trackerOccurrences"))
            .unwrap()
            .3,
    )
    .unwrap();
    assert_eq!(
        body["contentSelector"]["exposedFields"]["content"]["trackerOccurrences"],
        true
    );
    let v = ok_call(
        &client,
        "get_talking_points",
        json!({"call_id": ACME, "max_occurrences": 1}),
    )
    .await;
    assert_eq!(v["trackers"][0]["occurrences"].as_array().unwrap().len(), 1);
    assert_eq!(v["truncated"], true);
}

#[tokio::test]
async fn sentiment_is_deterministic_and_equals_the_hand_computation() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    let a = ok_call(&client, "analyze_call_sentiment", json!({"call_id": ACME})).await;
    // A fresh server (no cache) gives the same numbers.
    let client2 = client_for(&fake).await;
    let b = ok_call(&client2, "analyze_call_sentiment", json!({"call_id": ACME})).await;
    assert_eq!(a, b);
    assert_eq!(a["method"], "sophia-lexicon-v1");
    assert_eq!(a["total_talk_time_s"], 26.0);
    assert_eq!(a["total_questions"], 2);
    let ann = &a["speakers"][0];
    assert_eq!(ann["name"], "Ann Rep");
    assert_eq!(ann["affiliation"], "Internal");
    // Ann: thanks +1, great +3 | sorry −1, issue −1 → (4 − 2) / 6.
    assert_eq!(ann["sentiment"]["score"], 0.333);
    assert_eq!(ann["sentiment"]["label"], "positive");
    assert_eq!(ann["sentiment"]["positive"], 4.0);
    assert_eq!(ann["sentiment"]["negative"], 2.0);
    assert_eq!(ann["talk_time_s"], 16.0);
    assert_eq!(ann["talk_ratio"], 0.615); // 16 / 26
    assert_eq!(ann["questions"], 2);
    assert_eq!(ann["longest_monologue_s"], 10.0);
    assert_eq!(ann["words"], 24);
    let bob = &a["speakers"][1];
    // Bob: problem −2, "not easy" −2 | helpful +2 → (2 − 4) / 6.
    assert_eq!(bob["sentiment"]["score"], -0.333);
    assert_eq!(bob["sentiment"]["label"], "negative");
    assert_eq!(bob["talk_ratio"], 0.385);
    assert_eq!(bob["questions"], 0);
    assert_eq!(bob["longest_monologue_s"], 10.0);
    assert_eq!(bob["words"], 17);
    assert_eq!(
        bob["sentiment"]["top_negative"],
        json!([{"word": "not easy", "count": 1, "contribution": -2}, {"word": "problem", "count": 1, "contribution": -2}])
    );
    // Everyone: P = 6, N = 6.
    assert_eq!(a["overall"]["score"], 0.0);
    assert_eq!(a["overall"]["label"], "neutral");
    assert_eq!(a["overall"]["lexicon_hits"], 7);
}

#[tokio::test]
async fn user_list_pages_and_filters() {
    let mut users: Vec<Value> = (0..7).map(|i| user(i, i != 3)).collect();
    users.push(json!({"id": "99", "emailAddress": "solo@ourco.com", "active": true, "firstName": null, "lastName": null}));
    let fake = Fake::with(vec![], users, 3).await;
    let client = client_for(&fake).await;
    let v = ok_call(&client, "user_list", json!({})).await;
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        7,
        "inactive user 3 left out"
    );
    assert_eq!(v["items"][0]["name"], "First0 Last0");
    assert_eq!(v["items"][6]["name"], "solo@ourco.com");
    assert_eq!(fake.hits("/v2/users"), 3);
    let v = ok_call(
        &client,
        "user_list",
        json!({"query": "sdr", "include_inactive": true}),
    )
    .await;
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["First1 Last1", "First3 Last3", "First5 Last5"]);
    let v = ok_call(&client, "user_list", json!({"limit": 4})).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 4);
    let mut more = json!({"limit": 4});
    more["cursor"] = v["next_cursor"].clone();
    let v2 = ok_call(&client, "user_list", more).await;
    assert_eq!(v2["items"][0]["name"], "First5 Last5");
    assert!(v2.get("next_cursor").is_none());
}

/// A client that records progress notifications.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<rmcp::RoleClient>,
    ) {
        self.0.lock().unwrap().push(params);
    }
}

async fn recording_client(
    fake: &Fake,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, Recorder>,
    Recorder,
) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let s = server(config(fake));
    tokio::spawn(async move {
        if let Ok(running) = s.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let rec = Recorder::default();
    let client = rec.clone().serve(client_io).await.unwrap();
    (client, rec)
}

#[tokio::test]
async fn keyword_scan_sends_progress_fetches_concurrently_and_holds_one_transcript_page() {
    let fake = Fake::with(many_calls(12), vec![], 3).await;
    fake.set_delay(Duration::from_millis(60));
    let (client, rec) = recording_client(&fake).await;
    let r = client
        .call_tool(
            CallToolRequestParams::new("call_search").with_arguments(
                json!({"from": "2024-05-01", "to": "2024-06-01", "keyword": "budget", "max_pages": 10})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
    let v = r.structured_content.unwrap();
    let titles: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Call 0 with Globex",
            "Call 3 with Initech",
            "Call 6 with Globex",
            "Call 9 with Initech"
        ]
    );
    assert_eq!(v["scanned"]["pages"], 4);
    assert_eq!(v["scanned"]["transcripts"], 12);
    assert_eq!(
        v["scanned"]["requests"], 8,
        "4 pages of calls + 4 of transcripts"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let progress = rec.0.lock().unwrap().clone();
    assert_eq!(progress.len(), 4, "one notification per page");
    assert_eq!(progress[3].progress, 4.0);
    assert_eq!(progress[3].total, Some(4.0));
    assert!(
        progress[3]
            .message
            .as_deref()
            .unwrap()
            .contains("scanned 12 calls")
    );
    assert_eq!(
        fake.max_inflight("/v2/calls/transcript"),
        1,
        "one transcript page at a time"
    );
    assert!(
        fake.max_inflight_total() >= 2,
        "the next page of calls is fetched during the transcript scan"
    );
    assert_eq!(fake.creates(), 0);
}

#[tokio::test]
async fn cancellation_stops_a_long_keyword_scan() {
    let fake = Fake::with(many_calls(400), vec![], 2).await;
    fake.set_delay(Duration::from_millis(100));
    let client = client_for(&fake).await;
    let handle = client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(
                CallToolRequestParams::new("call_search").with_arguments(
                    json!({"from": "2024-05-01", "to": "2024-06-01", "keyword": "nobody says this", "max_pages": 20})
                        .as_object()
                        .cloned()
                        .unwrap(),
                ),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    for _ in 0..100 {
        if fake.requests.load(std::sync::atomic::Ordering::SeqCst) >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle
        .cancel(Some("user changed their mind".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after_cancel = fake.requests.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = fake.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        later, after_cancel,
        "no request after the cancellation settled"
    );
    assert!(
        after_cancel < 10,
        "the scan of 40 requests stopped early: {after_cancel}"
    );
    // The server still answers.
    let v = ok_call(&client, "user_list", json!({})).await;
    assert!(v["items"].is_array());
}

#[tokio::test]
async fn every_tool_only_reads_and_never_posts_to_the_call_creating_endpoint() {
    let fake = Fake::start().await;
    let client = client_for(&fake).await;
    for (tool, args) in [
        ("call_list", json!({"from": "2024-05-01"})),
        ("call_get", json!({"call_id": ACME})),
        ("call_transcript", json!({"call_id": ACME})),
        (
            "call_search",
            json!({"from": "2024-05-01", "keyword": "setup", "account": "acme"}),
        ),
        ("user_list", json!({})),
        ("get_talking_points", json!({"call_id": ACME})),
        ("analyze_call_sentiment", json!({"call_id": ACME})),
    ] {
        ok_call(&client, tool, args).await;
    }
    assert_eq!(fake.creates(), 0);
    for (method, path, _, _) in fake.log() {
        assert!(
            method == "GET" || path == "/v2/calls/extensive" || path == "/v2/calls/transcript",
            "{method} {path}"
        );
    }
    // The client itself refuses any other POST.
    let s = server(config(&fake));
    let before = fake.log().len();
    let r = s
        .client()
        .post::<Value>(
            "/v2/calls",
            &json!({}),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    assert!(matches!(r, Err(sophia_gong::client::GongError::Refused(_))));
    assert_eq!(fake.log().len(), before);
}

#[tokio::test]
async fn read_only_filter_annotations_and_schema_snapshots() {
    let fake = Fake::start().await;
    let mut c = config(&fake);
    c.read_only = true;
    let ro = server(c).tools();
    let all = server(config(&fake)).tools();
    let names = |t: &[rmcp::model::Tool]| {
        let mut n: Vec<String> = t.iter().map(|t| t.name.to_string()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&all), ALL_TOOLS);
    assert_eq!(
        names(&ro),
        ALL_TOOLS,
        "every tool reads, so --read-only keeps them all"
    );
    for t in &all {
        let a = t.annotations.as_ref().unwrap();
        assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
        assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
        assert_eq!(a.idempotent_hint, Some(true), "{}", t.name);
        assert_eq!(a.open_world_hint, Some(true), "{}", t.name);
        assert!(t.output_schema.is_some(), "{}", t.name);
        assert!(t.name.len() <= 24, "{}", t.name);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/gong");
    let problems = mcp_core::schema::check_snapshots(&dir, &all);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn secrets_stay_out_of_debug_health_and_errors() {
    let fake = Fake::start().await;
    let c = config(&fake);
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(KEY) && !dbg.contains(SECRET), "{dbg}");
    let s = server(c);
    assert!(!format!("{:?}", s.client()).contains(SECRET));
    let h = s.health().await.to_string();
    assert!(
        !h.contains(KEY) && !h.contains(SECRET) && h.contains("\"credentials\":\"set\""),
        "{h}"
    );
    let line = s.check().await.unwrap();
    assert!(line.contains("3 users"), "{line}");
    let q = fake.log().last().unwrap().2.clone();
    assert!(
        q.is_empty(),
        "--check sends no parameters Gong does not document: {q}"
    );
}

#[tokio::test]
async fn a_default_to_is_kept_in_the_cursor_so_pages_read_one_window() {
    let fake = Fake::with(many_calls(7), vec![], 3).await;
    let client = client_for(&fake).await;
    let first = ok_call(
        &client,
        "call_list",
        json!({"from": "2024-05-01", "limit": 2}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = ok_call(
        &client,
        "call_list",
        json!({"from": "2024-05-01", "limit": 2, "cursor": first["next_cursor"]}),
    )
    .await;
    assert_eq!(first["to"], second["to"], "now, as of the first page");
    let tos: HashSet<String> = fake
        .log()
        .iter()
        .filter(|l| l.1 == "/v2/calls")
        .map(|l| {
            l.2.split('&')
                .find(|p| p.starts_with("toDateTime="))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tos.len(), 1, "{tos:?}");
}

/// `scanned.requests` counts this call's requests only, also while another call scans at the
/// same time on the same client (the workflows compare answers byte for byte).
#[tokio::test]
async fn concurrent_scans_each_count_their_own_requests() {
    let fake = Fake::with(many_calls(12), vec![], 3).await;
    fake.set_delay(Duration::from_millis(20));
    let client = client_for(&fake).await;
    let args =
        json!({"from": "2024-05-01", "to": "2024-06-01", "keyword": "budget", "max_pages": 10});
    let (a, b) = tokio::join!(
        ok_call(&client, "call_search", args.clone()),
        ok_call(&client, "call_search", args.clone())
    );
    assert_eq!(a["scanned"]["requests"], 8, "{a}");
    assert_eq!(b["scanned"]["requests"], 8, "{b}");
    assert_eq!(fake.log().len(), 16);
}
