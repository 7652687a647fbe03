//! Every tool end to end, in process, against the fake Slack: paging, name resolution, the
//! error codes, 429, malformed bodies, cancellation, the read-only filter, the response budget,
//! the write allow-list, read-back of writes, secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use mcp_core::SophiaServer;
use rmcp::model::CallToolRequestParams;
use secrecy::SecretString;
use serde_json::{Value, json};

const ALL_TOOLS: [&str; 9] = [
    "channel_history",
    "channel_list",
    "message_post",
    "message_search",
    "reaction_add",
    "thread_replies",
    "thread_reply",
    "user_get",
    "user_list",
];

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// Follow next_cursor to the end; returns every item and the number of calls.
async fn walk(client: &mcp_core::testing::Client, tool: &str, args: Value) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut args = args;
    for n in 1..=200 {
        let page = ok_call(client, tool, args.clone()).await;
        all.extend(items(&page));
        match page.get("next_cursor") {
            Some(c) => {
                assert_eq!(page["truncated"], true);
                args["cursor"] = c.clone();
            }
            None => {
                assert_eq!(page["truncated"], false);
                return (all, n);
            }
        }
    }
    panic!("{tool} did not reach the end in 200 pages");
}

#[tokio::test]
async fn initialize_and_tools_list_never_call_slack() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ALL_TOOLS);
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("sophia-slack")
    );
}

#[tokio::test]
async fn channel_list_pages_across_several_upstream_pages() {
    let fake = Fake::start().await;
    {
        let mut st = fake.state.lock().unwrap();
        for i in 0..26 {
            st.channels.push(common::Chan {
                id: format!("C0PROJ{i:04}"),
                name: format!("proj-{i}"),
                private: false,
                is_member: i % 2 == 0,
                archived: i == 25,
            });
        }
    }
    let client = client(config(&fake)).await;
    let (all, calls) = walk(&client, "channel_list", json!({"limit": 7})).await;
    let names: Vec<&str> = all.iter().filter_map(|c| c["name"].as_str()).collect();
    // 4 seeded + 25 unarchived projects.
    assert_eq!(names.len(), 29, "{names:?}");
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        29,
        "no duplicates"
    );
    assert_eq!(calls, 5);
    assert!(fake.calls("conversations.list") >= 5);
    // Slack's own cursor went back upstream, with our page size.
    let log = fake.log();
    assert!(
        log.iter()
            .any(|(_, m, q)| m == "conversations.list" && q.contains("cursor=b2Zmc2V0"))
    );
    assert!(
        log.iter()
            .any(|(_, m, q)| m == "conversations.list" && q.contains("limit=7"))
    );
    let secret = all.iter().find(|c| c["name"] == "secret-deals").unwrap();
    assert_eq!(secret["kind"], "private");
    assert_eq!(secret["id"], "G0SECRET01");

    let filtered = ok_call(&client, "channel_list", json!({"query": "#PROJ-1"})).await;
    let names: Vec<String> = items(&filtered)
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names.len(), 11, "proj-1 and proj-10..19: {names:?}");
    let archived = ok_call(
        &client,
        "channel_list",
        json!({"query": "proj-25", "include_archived": true}),
    )
    .await;
    assert_eq!(items(&archived)[0]["is_archived"], true);
    let e = err_call(&client, "channel_list", json!({"limit": 5000})).await;
    assert!(e.contains("the most is 1000"), "{e}");
    let e = err_call(&client, "channel_list", json!({"cursor": "garbage"})).await;
    assert!(e.contains("cursor is not valid"), "{e}");
}

#[tokio::test]
async fn history_pages_by_name_and_names_the_authors_once() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 120, |i| format!("message {i}"));
    let client = client(config(&fake)).await;
    let (all, calls) = walk(
        &client,
        "channel_history",
        json!({"channel": "#sales", "limit": 50}),
    )
    .await;
    assert_eq!(calls, 3);
    assert_eq!(all.len(), 120);
    let texts: Vec<String> = all
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..120).map(|i| format!("message {i}")).collect();
    assert_eq!(texts, expected, "newest first, nothing skipped or repeated");
    let alice = all.iter().find(|m| m["user"] == "U0ALICE001").unwrap();
    assert_eq!(alice["user_name"], "Ali", "display name first");
    let bob = all.iter().find(|m| m["user"] == "U0BOB00001").unwrap();
    assert_eq!(
        bob["user_name"], "Bob Brown",
        "real name when no display name"
    );
    assert_eq!(alice["time"].as_str().map(|t| t.ends_with('Z')), Some(true));
    // Mentions are labelled with names too.
    fake.add_messages("C0GENERAL1", 1, |_| {
        "ping <@U0CAROL001> and <@U0NOBODY01>".into()
    });
    let general = ok_call(&client, "channel_history", json!({"channel": "C0GENERAL1"})).await;
    assert_eq!(
        items(&general)[0]["text"],
        "ping <@U0CAROL001|carol.c> and <@U0NOBODY01>"
    );
    // Three authors: three users.info calls for the whole walk; #sales resolved once.
    assert_eq!(fake.calls("users.info"), 4, "three authors, one unknown id");
    assert_eq!(fake.calls("conversations.list"), 1);
    let page = ok_call(
        &client,
        "channel_history",
        json!({"channel": "#sales", "limit": 1}),
    )
    .await;
    assert_eq!(
        page["channel"],
        json!({"id": "C0SALES001", "name": "sales"})
    );
    assert_eq!(fake.calls("conversations.list"), 1, "the name is cached");
}

#[tokio::test]
async fn history_time_window_and_bad_times() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 20, |i| format!("m{i}"));
    let client = client(config(&fake)).await;
    let ts = |i: u64| format!("{}.000100", 1_714_500_000 - i * 60);
    let page = ok_call(
        &client,
        "channel_history",
        json!({"channel": "C0SALES001", "oldest": ts(10), "latest": ts(5)}),
    )
    .await;
    let texts: Vec<String> = items(&page)
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, ["m5", "m6", "m7", "m8", "m9", "m10"]);
    let e = err_call(
        &client,
        "channel_history",
        json!({"channel": "C0SALES001", "oldest": "yesterday"}),
    )
    .await;
    assert!(e.contains("Unix seconds"), "{e}");
    assert_eq!(
        fake.calls("conversations.history"),
        1,
        "bad input never reaches Slack"
    );
}

#[tokio::test]
async fn unknown_channel_name_is_a_tool_error_that_points_at_channel_list() {
    let fake = Fake::start().await;
    {
        let mut st = fake.state.lock().unwrap();
        for i in 0..2500 {
            st.channels.push(common::Chan {
                id: format!("C1X{i:07}"),
                name: format!("bulk-{i}"),
                private: false,
                is_member: true,
                archived: false,
            });
        }
    }
    let client = client(config(&fake)).await;
    let e = err_call(&client, "channel_history", json!({"channel": "#nope"})).await;
    assert!(e.starts_with("channel not found: #nope"), "{e}");
    assert!(e.contains("channel_list"), "{e}");
    assert_eq!(
        fake.calls("conversations.list"),
        3,
        "paged through every channel"
    );
    assert_eq!(fake.calls("conversations.history"), 0);
    // An unknown id goes to Slack, whose channel_not_found is mapped the same way.
    let e = err_call(&client, "channel_history", json!({"channel": "C0UNKNOWN9"})).await;
    assert!(e.starts_with("channel not found: C0UNKNOWN9"), "{e}");
    // A late page of the scan finds a name.
    let page = ok_call(&client, "channel_history", json!({"channel": "bulk-2400"})).await;
    assert_eq!(page["channel"]["id"], "C1X0002400");
}

#[tokio::test]
async fn thread_replies_parent_first_and_missing_thread() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 3, |i| format!("m{i}"));
    let parent = "1714500000.000100";
    fake.add_thread("C0SALES001", parent, 7);
    let client = client(config(&fake)).await;
    let history = ok_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
    assert_eq!(items(&history)[0]["reply_count"], 7);
    let (all, calls) = walk(
        &client,
        "thread_replies",
        json!({"channel": "#sales", "thread_ts": parent, "limit": 3}),
    )
    .await;
    assert_eq!(calls, 3);
    assert_eq!(all.len(), 8);
    assert_eq!(all[0]["ts"], parent);
    assert_eq!(all[1]["text"], "reply 0");
    assert_eq!(all[2]["user_name"], "carol.c");
    assert_eq!(all[7]["user_name"], "Bob Brown");
    let e = err_call(
        &client,
        "thread_replies",
        json!({"channel": "#sales", "thread_ts": "1714000000.000001"}),
    )
    .await;
    assert!(
        e.contains("thread 1714000000.000001 not found in #sales (C0SALES001)"),
        "{e}"
    );
}

#[tokio::test]
async fn search_pages_with_the_user_token() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 30, |i| {
        if i % 2 == 0 {
            format!("renewal for acct {i}")
        } else {
            format!("other {i}")
        }
    });
    fake.add_messages("C0GENERAL1", 5, |i| format!("Renewal call {i}"));
    let client = client(config(&fake)).await;
    let first = ok_call(
        &client,
        "message_search",
        json!({"query": "renewal", "limit": 8}),
    )
    .await;
    assert_eq!(first["total"], 20);
    let hit = &items(&first)[0];
    assert_eq!(hit["channel"]["name"], "general");
    assert!(
        hit["permalink"]
            .as_str()
            .unwrap()
            .contains("/archives/C0GENERAL1/p")
    );
    assert!(hit["user_name"].is_string(), "{hit}");
    let (all, calls) = walk(
        &client,
        "message_search",
        json!({"query": "renewal", "limit": 8}),
    )
    .await;
    assert_eq!(calls, 3);
    assert_eq!(all.len(), 20);
    assert_eq!(
        all.iter()
            .map(|h| h["ts"].as_str().unwrap().to_string() + h["channel"]["id"].as_str().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        20
    );
    // The fake refuses search with the bot token: success proves the user token went.
    assert!(
        fake.log().iter().any(|(_, m, q)| m == "search.messages"
            && q.contains("page=3")
            && q.contains("count=8"))
    );
    // Search learned channel names: #general now resolves without conversations.list.
    ok_call(&client, "channel_history", json!({"channel": "#general"})).await;
    assert_eq!(fake.calls("conversations.list"), 0);
}

#[tokio::test]
async fn search_is_hidden_without_a_user_token_and_says_why_when_called() {
    let fake = Fake::start().await;
    let mut c = config(&fake);
    c.user_token = None;
    let client = client(c).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().all(|t| t.name != "message_search"));
    assert_eq!(tools.len(), 8);
    let e = err_call(&client, "message_search", json!({"query": "x"})).await;
    assert!(e.contains("set SLACK_USER_TOKEN"), "{e}");
    assert!(e.contains("user token"), "{e}");
    assert_eq!(fake.calls("search.messages"), 0);
    // A bot token put in SLACK_USER_TOKEN: Slack's not_allowed_token_type, explained.
    let mut c = config(&fake);
    c.user_token = Some(SecretString::from(BOT));
    let client = common::client(c).await;
    let e = err_call(&client, "message_search", json!({"query": "x"})).await;
    assert!(e.contains("SLACK_USER_TOKEN") && e.contains("xoxp-"), "{e}");
}

#[tokio::test]
async fn slack_error_codes_become_actionable_tool_errors() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    let cases: Vec<(common::Fault, &[&str])> = vec![
        (
            Fault::Api("invalid_auth", json!({})),
            &[
                "rejected the credentials (invalid_auth)",
                "check SLACK_BOT_TOKEN",
            ],
        ),
        (
            Fault::Api("not_authed", json!({})),
            &["rejected the credentials (not_authed)", "SLACK_BOT_TOKEN"],
        ),
        (
            Fault::Api("channel_not_found", json!({})),
            &["channel not found: C0SALES001", "channel_list"],
        ),
        (
            Fault::Api("not_in_channel", json!({})),
            &["not a member of C0SALES001", "/invite"],
        ),
        (
            Fault::Api(
                "missing_scope",
                json!({"needed": "channels:history", "provided": "channels:read,chat:write"}),
            ),
            &[
                "lacks the scope channels:history",
                "it has: channels:read,chat:write",
                "reinstall the app",
            ],
        ),
        (
            Fault::Api("not_allowed_token_type", json!({})),
            &["set SLACK_USER_TOKEN"],
        ),
        (
            // No Retry-After on an HTTP 200 `ratelimited`: no invented wait either.
            Fault::Api("ratelimited", json!({})),
            &["rate limiting", "retry later"],
        ),
        (
            Fault::Api("fatal_error", json!({})),
            &["fatal_error", "temporary; retry later"],
        ),
    ];
    for (fault, wanted) in cases {
        fake.fault("conversations.history", fault.clone());
        let e = err_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
        for w in wanted {
            assert!(e.contains(w), "{fault:?}: {e:?} lacks {w:?}");
        }
        assert!(!e.contains(BOT) && !e.contains(USER));
    }
    // The real thing: a channel the app is not in, and a wrong token.
    let e = err_call(&client, "channel_history", json!({"channel": "#random"})).await;
    assert!(e.contains("not a member of #random (C0RANDOM01)"), "{e}");
    let mut c = config(&fake);
    c.bot_token = Some(SecretString::from("xoxb-wrong-token"));
    let wrong = common::client(c).await;
    let e = err_call(&wrong, "user_list", json!({})).await;
    assert!(
        e.contains("invalid_auth") && e.contains("SLACK_BOT_TOKEN"),
        "{e}"
    );
    assert!(!e.contains("xoxb-wrong-token"));
}

#[tokio::test]
async fn http_429_is_retried_then_succeeds_and_gives_up_after_the_bound() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 3, |i| format!("m{i}"));
    let client = client(config(&fake)).await;
    fake.fault("conversations.history", Fault::RateLimited(1));
    fake.fault("conversations.history", Fault::RateLimited(1));
    let page = ok_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
    assert_eq!(items(&page).len(), 3);
    assert_eq!(fake.calls("conversations.history"), 3);

    for _ in 0..4 {
        fake.fault("users.list", Fault::RateLimited(7));
    }
    let e = err_call(&client, "user_list", json!({})).await;
    assert!(
        e.contains("Slack is rate limiting requests; retry after 7s"),
        "{e}"
    );
    assert_eq!(fake.calls("users.list"), 4);

    // A write refused with 429 was not applied: it is sent again, once.
    fake.fault("chat.postMessage", Fault::RateLimited(1));
    let posted = ok_call(
        &client,
        "message_post",
        json!({"channel": "C0SALES001", "text": "hello"}),
    )
    .await;
    assert_eq!(fake.calls("chat.postMessage"), 2);
    let history = ok_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
    assert_eq!(
        items(&history)
            .iter()
            .filter(|m| m["text"] == "hello")
            .count(),
        1
    );
    assert_eq!(items(&history)[0]["ts"], posted["ts"]);
    // A 5xx on a write is not repeated (it may have been applied).
    fake.fault("chat.postMessage", Fault::Unavailable);
    let e = err_call(
        &client,
        "message_post",
        json!({"channel": "C0SALES001", "text": "again"}),
    )
    .await;
    assert!(e.contains("HTTP 503") && e.contains("retry later"), "{e}");
    assert_eq!(fake.calls("chat.postMessage"), 3);
}

#[tokio::test]
async fn malformed_upstream_bodies_are_tool_errors() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    fake.fault("users.list", Fault::Malformed);
    let e = err_call(&client, "user_list", json!({})).await;
    assert!(
        e.contains("malformed answer") && e.contains("not JSON"),
        "{e}"
    );
    fake.fault("search.messages", Fault::WrongShape);
    let e = err_call(&client, "message_search", json!({"query": "x"})).await;
    assert!(e.contains("unexpected shape"), "{e}");
    // The server is fine afterwards.
    assert_eq!(
        items(&ok_call(&client, "user_list", json!({})).await).len(),
        4
    );
}

#[tokio::test]
async fn a_slow_upstream_call_stops_when_the_call_is_cancelled() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 3, |i| format!("m{i}"));
    let client = client(config(&fake)).await;
    fake.fault("conversations.history", Fault::Slow);
    let peer = client.peer().clone();
    let call = tokio::spawn(async move {
        let args = json!({"channel": "C0SALES001"})
            .as_object()
            .cloned()
            .unwrap();
        peer.call_tool(CallToolRequestParams::new("channel_history").with_arguments(args))
            .await
    });
    for _ in 0..500 {
        if fake.slow_started.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.slow_started.load(Ordering::SeqCst), 1);
    // Dropping the client's request sends notifications/cancelled.
    call.abort();
    let mut dropped = false;
    for _ in 0..1000 {
        if fake.slow_dropped.load(Ordering::SeqCst) == 1 {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        dropped,
        "the upstream request was not abandoned after cancel"
    );
    let page = ok_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
    assert_eq!(items(&page).len(), 3);
}

#[tokio::test]
async fn an_upstream_timeout_is_retried_for_reads_then_reported() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 2, |i| format!("m{i}"));
    let mut c = config(&fake);
    c.timeout = Duration::from_millis(300);
    let client = client(c).await;
    fake.fault("conversations.history", Fault::Slow);
    let page = ok_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
    assert_eq!(items(&page).len(), 2, "the timed-out read was sent again");
    for _ in 0..4 {
        fake.fault("conversations.history", Fault::Slow);
    }
    let e = err_call(&client, "channel_history", json!({"channel": "C0SALES001"})).await;
    assert_eq!(
        e,
        "Slack failed: request timed out (temporary; retry later)"
    );
}

#[tokio::test]
async fn read_only_removes_every_write_tool() {
    let fake = Fake::start().await;
    let mut c = config(&fake);
    c.read_only = true;
    let client = client(c).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: HashSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names.len(), 6);
    for w in ["message_post", "thread_reply", "reaction_add"] {
        assert!(!names.contains(w), "{w} listed in read-only mode");
    }
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );
    let args = json!({"channel": "C0SALES001", "text": "x"})
        .as_object()
        .cloned()
        .unwrap();
    let r = client
        .call_tool(CallToolRequestParams::new("message_post").with_arguments(args))
        .await;
    assert!(r.is_err(), "an unlisted write tool is not callable: {r:?}");
    assert_eq!(fake.calls("chat.postMessage"), 0);
}

#[tokio::test]
async fn long_history_respects_the_response_budget_and_continues_exactly() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 300, |i| {
        format!("{i:03} {}", "lorem ipsum ".repeat(20))
    });
    {
        let mut st = fake.state.lock().unwrap();
        st.history.get_mut("C0SALES001").unwrap()[5].text = "huge ".repeat(5_000);
    }
    let mut c = config(&fake);
    c.budget = mcp_core::Budget::new(4_000);
    let client = client(c).await;
    let mut args = json!({"channel": "C0SALES001", "limit": 200});
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = call(&client, "channel_history", args.clone()).await;
        let body = r.structured_content.clone().unwrap();
        let size = serde_json::to_string(&body).unwrap().chars().count();
        assert!(size <= 4_000, "page of {size} chars over the 4000 budget");
        assert!(text(&r).chars().count() <= 4_000);
        pages += 1;
        for m in items(&body) {
            if m["text"].as_str().unwrap().starts_with("huge") {
                assert_eq!(m["text_truncated"], true);
            } else {
                seen.push(m["text"].as_str().unwrap()[..3].to_string());
            }
        }
        match body.get("next_cursor") {
            Some(cur) => {
                assert_eq!(body["truncated"], true);
                args["cursor"] = cur.clone();
            }
            None => break,
        }
    }
    assert!(pages > 10, "{pages} pages");
    let expected: Vec<String> = (0..300)
        .filter(|i| *i != 5)
        .map(|i| format!("{i:03}"))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn writes_are_limited_to_slack_write_channels() {
    let fake = Fake::start().await;
    let mut c = config(&fake);
    c.write_channels = vec!["#Sales".into(), "C0GENERAL1".into()];
    let client = client(c).await;
    ok_call(
        &client,
        "message_post",
        json!({"channel": "#sales", "text": "a"}),
    )
    .await;
    ok_call(
        &client,
        "message_post",
        json!({"channel": "#general", "text": "b"}),
    )
    .await;
    // By id, allowed by name: the name is looked up.
    ok_call(
        &client,
        "message_post",
        json!({"channel": "C0SALES001", "text": "c"}),
    )
    .await;
    let e = err_call(
        &client,
        "message_post",
        json!({"channel": "C0RANDOM01", "text": "d"}),
    )
    .await;
    assert!(
        e.contains("#random (C0RANDOM01) is not in SLACK_WRITE_CHANNELS"),
        "{e}"
    );
    assert!(e.contains("#sales") && e.contains("C0GENERAL1"), "{e}");
    let e = err_call(
        &client,
        "reaction_add",
        json!({"channel": "#secret-deals", "ts": "1.2", "name": "eyes"}),
    )
    .await;
    assert!(e.contains("not in SLACK_WRITE_CHANNELS"), "{e}");
    let e = err_call(
        &client,
        "thread_reply",
        json!({"channel": "G0SECRET01", "thread_ts": "1.2", "text": "x"}),
    )
    .await;
    assert!(e.contains("not in SLACK_WRITE_CHANNELS"), "{e}");
    assert_eq!(fake.calls("chat.postMessage"), 3);
    assert_eq!(fake.calls("reactions.add"), 0);
}

#[tokio::test]
async fn message_post_returns_what_slack_stored_with_its_permalink() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    let out = ok_call(
        &client,
        "message_post",
        json!({"channel": "#sales", "text": "Q3 <renewal> & more"}),
    )
    .await;
    assert_eq!(out["text"], "Q3 &lt;renewal&gt; &amp; more", "as stored");
    assert_eq!(out["channel"], "C0SALES001");
    assert_eq!(out["channel_name"], "sales");
    assert_eq!(out["user"], BOT_USER);
    let ts = out["ts"].as_str().unwrap();
    assert_eq!(
        out["permalink"],
        format!(
            "https://fake-workspace.slack.com/archives/C0SALES001/p{}",
            ts.replace('.', "")
        )
    );
    assert!(out.get("note").is_none());
    let log = fake.log();
    let post = log
        .iter()
        .find(|(_, m, _)| m == "chat.postMessage")
        .unwrap();
    assert_eq!(post.0, "POST");
    assert!(post.2.contains("\"channel\":\"C0SALES001\""), "{post:?}");
    assert_eq!(
        fake.state.lock().unwrap().token_leaks,
        0,
        "token only in the header"
    );
    // not_in_channel on a post.
    let e = err_call(
        &client,
        "message_post",
        json!({"channel": "#random", "text": "x"}),
    )
    .await;
    assert!(e.contains("not a member of #random"), "{e}");
    // The permalink failing is reported, the post is not claimed failed.
    fake.fault("chat.getPermalink", Fault::Api("internal_error", json!({})));
    let out = ok_call(
        &client,
        "message_post",
        json!({"channel": "#sales", "text": "y"}),
    )
    .await;
    assert!(out.get("permalink").is_none());
    assert!(
        out["note"]
            .as_str()
            .unwrap()
            .contains("permalink could not be read"),
        "{out}"
    );
    let e = err_call(
        &client,
        "message_post",
        json!({"channel": "#sales", "text": "  "}),
    )
    .await;
    assert!(e.contains("text is empty"), "{e}");
}

#[tokio::test]
async fn thread_reply_lands_in_the_thread() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 2, |i| format!("m{i}"));
    let parent = "1714500000.000100";
    let client = client(config(&fake)).await;
    let out = ok_call(
        &client,
        "thread_reply",
        json!({"channel": "#sales", "thread_ts": parent, "text": "on it"}),
    )
    .await;
    assert_eq!(out["thread_ts"], parent);
    assert!(out["permalink"].is_string());
    let thread = ok_call(
        &client,
        "thread_replies",
        json!({"channel": "#sales", "thread_ts": parent}),
    )
    .await;
    let replies = items(&thread);
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[1]["text"], "on it");
    assert_eq!(replies[1]["ts"], out["ts"]);
    let post = fake
        .log()
        .into_iter()
        .find(|(_, m, _)| m == "chat.postMessage")
        .unwrap();
    assert!(
        post.2.contains(&format!("\"thread_ts\":\"{parent}\"")),
        "{post:?}"
    );
}

#[tokio::test]
async fn reaction_add_reads_the_reactions_back() {
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 2, |i| format!("m{i}"));
    let ts = "1714500000.000100";
    let client = client(config(&fake)).await;
    let out = ok_call(
        &client,
        "reaction_add",
        json!({"channel": "#sales", "ts": ts, "name": ":thumbsup:"}),
    )
    .await;
    assert_eq!(out["already_present"], false);
    assert_eq!(out["name"], "thumbsup");
    assert_eq!(out["reactions"], json!([{"name": "+1", "count": 1}]));
    assert!(out.get("note").is_none(), "{out}");
    let again = ok_call(
        &client,
        "reaction_add",
        json!({"channel": "#sales", "ts": ts, "name": "thumbsup"}),
    )
    .await;
    assert_eq!(again["already_present"], true);
    let e = err_call(
        &client,
        "reaction_add",
        json!({"channel": "#sales", "ts": "1.000001", "name": "eyes"}),
    )
    .await;
    assert!(
        e.contains("message 1.000001 not found in #sales (C0SALES001)"),
        "{e}"
    );
    // Without reactions:read the read-back is reported missing, not faked.
    fake.fault(
        "reactions.get",
        Fault::Api(
            "missing_scope",
            json!({"needed": "reactions:read", "provided": "reactions:write"}),
        ),
    );
    let out = ok_call(
        &client,
        "reaction_add",
        json!({"channel": "#sales", "ts": ts, "name": "eyes"}),
    )
    .await;
    assert!(out.get("reactions").is_none());
    assert!(
        out["note"].as_str().unwrap().contains("reactions:read"),
        "{out}"
    );
}

#[tokio::test]
async fn users_list_filter_page_and_get() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    let all = ok_call(&client, "user_list", json!({})).await;
    assert_eq!(
        items(&all).len(),
        4,
        "deactivated users left out by default"
    );
    let with_deleted = ok_call(&client, "user_list", json!({"include_deleted": true})).await;
    assert_eq!(items(&with_deleted).len(), 5);
    let carol = ok_call(&client, "user_list", json!({"query": "CAROL"})).await;
    assert_eq!(items(&carol).len(), 1);
    assert_eq!(items(&carol)[0]["email"], "carol@example.com");
    let (paged, calls) = walk(
        &client,
        "user_list",
        json!({"limit": 2, "include_deleted": true}),
    )
    .await;
    assert_eq!((paged.len(), calls), (5, 3));
    let u = ok_call(&client, "user_get", json!({"user": "@carol"})).await;
    assert_eq!(u["id"], "U0CAROL001");
    assert_eq!(u["display_name"], "carol.c");
    assert_eq!(u["title"], "Account Executive");
    let u = ok_call(&client, "user_get", json!({"user": "U0BOB00001"})).await;
    assert_eq!(u["real_name"], "Bob Brown");
    let e = err_call(&client, "user_get", json!({"user": "U0NOPE0001"})).await;
    assert!(e.contains("user not found: U0NOPE0001"), "{e}");
    let e = err_call(&client, "user_get", json!({"user": "@nobody"})).await;
    assert!(
        e.contains("no user named @nobody") && e.contains("user_list"),
        "{e}"
    );
}

#[tokio::test]
async fn user_get_by_handle_lists_users_lazily_once() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    ok_call(&client, "user_get", json!({"user": "@alice"})).await;
    ok_call(&client, "user_get", json!({"user": "Bob Brown"})).await;
    assert_eq!(
        fake.calls("users.list"),
        1,
        "the first lookup filled the cache"
    );
}

#[tokio::test]
async fn missing_token_starts_and_names_the_variable() {
    let fake = Fake::start().await;
    let mut c = config(&fake);
    c.bot_token = None;
    c.user_token = None;
    let client = client(c).await;
    assert_eq!(client.list_all_tools().await.unwrap().len(), 8);
    for (tool, args) in [
        ("channel_list", json!({})),
        ("channel_history", json!({"channel": "C0SALES001"})),
        ("user_get", json!({"user": "U0BOB00001"})),
        (
            "message_post",
            json!({"channel": "C0SALES001", "text": "x"}),
        ),
    ] {
        let e = err_call(&client, tool, args).await;
        assert_eq!(e, "Slack is not configured: set SLACK_BOT_TOKEN", "{tool}");
    }
    assert!(fake.log().is_empty());
}

#[tokio::test]
async fn secrets_stay_out_of_debug_health_and_results() {
    let fake = Fake::start().await;
    let c = config(&fake);
    let debug = format!("{c:?}");
    assert!(!debug.contains(BOT) && !debug.contains(USER), "{debug}");
    let s = server(c.clone());
    let health = s.health().await.to_string();
    assert!(!health.contains(BOT) && !health.contains(USER), "{health}");
    assert!(health.contains("\"search\":true"), "{health}");
    let client = client(c).await;
    fake.add_messages("C0SALES001", 5, |i| format!("m{i}"));
    for (tool, args) in [
        ("channel_list", json!({})),
        ("channel_history", json!({"channel": "#sales"})),
        ("message_search", json!({"query": "m"})),
        ("user_list", json!({})),
    ] {
        let r = call(&client, tool, args).await;
        let all = format!("{} {:?}", text(&r), r.structured_content);
        assert!(!all.contains(BOT) && !all.contains(USER), "{tool}");
    }
    assert_eq!(fake.state.lock().unwrap().token_leaks, 0);
    let log = fake.log();
    assert!(log.iter().all(|(_, _, q)| !q.contains("xox")));
}

#[tokio::test]
async fn check_reports_team_bot_user_and_scopes() {
    let fake = Fake::start().await;
    let line = server(config(&fake)).check().await.unwrap();
    assert!(line.contains("team Fake Workspace (T0FAKE01)"), "{line}");
    assert!(line.contains("bot user sophia (UBOT00001)"), "{line}");
    assert!(line.contains(&format!("scopes: {SCOPES}")), "{line}");
    assert!(line.contains("search on"), "{line}");
    let mut c = config(&fake);
    c.bot_token = Some(SecretString::from("xoxb-bad"));
    let e = server(c).check().await.unwrap_err();
    assert!(
        e.contains("invalid_auth") && e.contains("SLACK_BOT_TOKEN"),
        "{e}"
    );
    let mut c = config(&fake);
    c.bot_token = None;
    let e = server(c).check().await.unwrap_err();
    assert!(e.contains("SLACK_BOT_TOKEN is not set"), "{e}");
}

#[test]
fn schema_snapshots_match_and_every_tool_is_annotated() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tools = rt.block_on(async {
        let mut c = sophia_slack::SlackConfig::new(
            "http://127.0.0.1:9/api",
            Some(SecretString::from(BOT)),
            Some(SecretString::from(USER)),
        );
        c.retry = fast_retry();
        server(c).tools()
    });
    assert_eq!(tools.len(), ALL_TOOLS.len());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/slack");
    let problems = mcp_core::schema::check_snapshots(&dir, &tools);
    assert!(problems.is_empty(), "{problems:#?}");
    for t in &tools {
        let a = t.annotations.as_ref().unwrap();
        assert!(
            a.read_only_hint.is_some()
                && a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{}",
            t.name
        );
        assert!(t.output_schema.is_some(), "{} has an output schema", t.name);
        assert!(t.name.len() <= 20, "{} is short", t.name);
    }
    let writes: Vec<&str> = tools
        .iter()
        .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(false))
        .map(|t| t.name.as_ref())
        .collect();
    assert_eq!(writes, ["message_post", "reaction_add", "thread_reply"]);
}

/// A client that records progress notifications.
#[derive(Clone, Default)]
struct ProgressClient(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl rmcp::ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.0
            .lock()
            .unwrap()
            .push(params.message.unwrap_or_default());
    }
}

#[tokio::test]
async fn long_paging_sends_progress_when_asked() {
    use rmcp::ServiceExt;
    let fake = Fake::start().await;
    fake.add_messages("C0SALES001", 60, |i| format!("m{i}"));
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let s = server(config(&fake));
    tokio::spawn(async move {
        if let Ok(running) = s.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let seen = ProgressClient::default();
    let client = seen.clone().serve(client_io).await.unwrap();
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.set_progress_token(rmcp::model::ProgressToken(
        rmcp::model::NumberOrString::Number(7),
    ));
    let mut params = CallToolRequestParams::new("channel_history").with_arguments(
        json!({"channel": "#sales", "limit": 200})
            .as_object()
            .cloned()
            .unwrap(),
    );
    params.meta = Some(meta);
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(
        r.structured_content.unwrap()["items"]
            .as_array()
            .map(Vec::len),
        Some(60)
    );
    let both = |got: &[String]| {
        got.iter().any(|m| m.contains("conversations.list"))
            && got.iter().any(|m| m.contains("channel_history"))
    };
    for _ in 0..500 {
        if both(&seen.0.lock().unwrap()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = seen.0.lock().unwrap().clone();
    assert!(both(&got), "{got:?}");
}
