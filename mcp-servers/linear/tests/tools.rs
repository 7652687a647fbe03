//! Every tool end to end (rmcp client ↔ server in process ↔ fake Linear on 127.0.0.1): paging,
//! filters and name resolution, reads, writes with read-back, each error path, the response
//! budget, the read-only filter, auth header forms, variables-only user input, cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use mcp_core::SophiaServer;
use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use sophia_linear::{Credential, LinearServer};

fn many_issues(n: usize) -> FakeState {
    let mut s = FakeState::default();
    for k in 0..n {
        s.add_issue("ENG", &format!("Generated issue number {k}"), |i| {
            i.updated_at = format!("2026-08-{:02}T{:02}:00:00.000Z", 1 + k / 24, k % 24);
        });
    }
    s
}

#[tokio::test]
async fn issue_list_pages_across_several_linear_pages() {
    let mut state = many_issues(7);
    state.page_cap = 3; // Linear returns at most 3 per page, whatever we ask
    let fake = Fake::start(state).await;
    let client = fake.client().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"team": "ENG", "limit": 10});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let page = ok_call(&client, "issue_list", args).await;
        pages += 1;
        seen.extend(identifiers(&page));
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => {
                assert_eq!(page["truncated"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert_eq!(page["truncated"], false);
                break;
            }
        }
        assert!(pages < 10, "paging does not end");
    }
    // 2 seeded ENG issues + 7 generated.
    assert_eq!(seen.len(), 9, "{seen:?}");
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        9,
        "no duplicates"
    );
    assert_eq!(pages, 3);
    // The cursor went to Linear as the `after` variable.
    let after: Vec<Value> = fake
        .requests("IssueList")
        .iter()
        .map(|r| r.variables["after"].clone())
        .collect();
    assert_eq!(after, vec![Value::Null, json!("c:3"), json!("c:6")]);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn issue_list_limit_smaller_than_the_linear_page_continues_exactly() {
    let fake = Fake::start(many_issues(5)).await;
    let client = fake.client().await;
    let first = ok_call(&client, "issue_list", json!({"team":"ENG","limit":4})).await;
    let second = ok_call(
        &client,
        "issue_list",
        json!({"team":"ENG","limit":4,"cursor": first["next_cursor"]}),
    )
    .await;
    let mut all = identifiers(&first);
    all.extend(identifiers(&second));
    assert_eq!(all.len(), 7);
    assert!(second.get("next_cursor").is_none());
    let bad = err_call(&client, "issue_list", json!({"cursor":"not-a-cursor"})).await;
    assert!(bad.contains("cursor is not valid"), "{bad}");
}

#[tokio::test]
async fn issue_list_filters_resolve_names_to_ids_in_variables() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let page = ok_call(
        &client,
        "issue_list",
        json!({
            "team": "eng",
            "assignee": "MARIA@example.com",
            "state": "in progress",
            "labels": ["Bug"],
            "project": "apollo",
            "cycle": "current",
            "priority": 2,
            "updated_since": "2026-11-01",
            "query": "CRASH"
        }),
    )
    .await;
    assert_eq!(identifiers(&page), vec!["ENG-1"]);
    assert_eq!(page["items"][0]["state"], "In Progress");
    assert_eq!(page["items"][0]["assignee_email"], "maria@example.com");
    assert_eq!(page["items"][0]["labels"], json!(["bug"]));
    assert_eq!(page["items"][0]["cycle"], 7);
    let req = fake.requests("IssueList").pop().unwrap();
    let and = req.variables["filter"]["and"].as_array().unwrap().clone();
    assert!(and.contains(&json!({"team": {"id": {"eq": "t-eng"}}})));
    assert!(and.contains(&json!({"assignee": {"id": {"eq": "u-maria"}}})));
    assert!(and.contains(&json!({"state": {"id": {"in": ["s-eng-prog"]}}})));
    assert!(and.contains(&json!({"labels": {"some": {"id": {"in": ["l-bug"]}}}})));
    assert!(and.contains(&json!({"cycle": {"id": {"in": ["c-eng-7"]}}})));
    // The free text is a variable, never part of the document.
    assert!(!req.query.contains("CRASH"));
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    // "me" uses Linear's isMe comparator; a state type filters by category across teams.
    let mine = ok_call(&client, "issue_list", json!({"assignee": "me"})).await;
    assert_eq!(identifiers(&mine), vec!["ENG-2"]);
    let req = fake.requests("IssueList").pop().unwrap();
    assert_eq!(
        req.variables["filter"]["and"][0],
        json!({"assignee": {"isMe": {"eq": true}}})
    );
    let started = ok_call(&client, "issue_list", json!({"state_type": "started"})).await;
    assert_eq!(identifiers(&started), vec!["ENG-1", "OPS-1"]);
    // A state name without a team matches that state in every team.
    let in_progress = ok_call(&client, "issue_list", json!({"state": "In Progress"})).await;
    assert_eq!(identifiers(&in_progress), vec!["ENG-1", "OPS-1"]);
}

#[tokio::test]
async fn names_that_do_not_match_list_the_valid_choices() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let e = err_call(
        &client,
        "issue_list",
        json!({"team": "ENG", "state": "Doing"}),
    )
    .await;
    assert!(e.contains("no workflow state matches \"Doing\""), "{e}");
    for s in ["Backlog", "Todo", "In Progress", "Done"] {
        assert!(e.contains(s), "{e}");
    }
    let e = err_call(&client, "issue_list", json!({"team": "XYZ"})).await;
    assert!(
        e.contains("ENG (Engineering)") && e.contains("OPS (Operations)"),
        "{e}"
    );
    let e = err_call(
        &client,
        "issue_list",
        json!({"team": "OPS", "labels": ["feature"]}),
    )
    .await;
    assert!(
        e.contains("no label matches") && e.contains("bug") && e.contains("infra"),
        "{e}"
    );
    assert!(
        !e.contains("feature,"),
        "an ENG label is not a choice in OPS: {e}"
    );
    let e = err_call(
        &client,
        "issue_update",
        json!({"issue": "ENG-1", "assignee": "zoe@example.com"}),
    )
    .await;
    assert!(
        e.contains("maria@example.com") && e.contains("user_list"),
        "{e}"
    );
    let e = err_call(
        &client,
        "issue_update",
        json!({"issue": "ENG-1", "cycle": "99"}),
    )
    .await;
    assert!(e.contains("7 (Sprint 7)") && e.contains("current"), "{e}");
    let e = err_call(
        &client,
        "issue_create",
        json!({"team": "ENG", "title": "x", "project": "Hermes"}),
    )
    .await;
    assert!(e.contains("Apollo") && e.contains("Zeus"), "{e}");
    // Nothing was written on any of these paths.
    assert!(fake.requests("IssueUpdate").is_empty());
    assert!(fake.requests("IssueCreate").is_empty());
}

#[tokio::test]
async fn issue_get_by_identifier_with_everything() {
    let mut state = FakeState::default();
    state.comments.push(json!({"id":"cmt-1","body":"Seen on iOS too","createdAt":"2026-11-21T00:00:00.000Z","url":"u","user":"u-bob","issue":"iss-eng-1"}));
    state
        .relations
        .push(json!({"id":"rel-1","type":"blocks","issue":"iss-eng-1","relatedIssue":"iss-eng-2"}));
    state.relations.push(
        json!({"id":"rel-2","type":"duplicate","issue":"iss-ops-1","relatedIssue":"iss-eng-1"}),
    );
    let fake = Fake::start(state).await;
    let client = fake.client().await;
    let issue = ok_call(&client, "issue_get", json!({"issue": "eng-1"})).await;
    assert_eq!(issue["identifier"], "ENG-1");
    assert_eq!(issue["description"], "The app crashes when logging in.");
    assert_eq!(issue["state"], "In Progress");
    assert_eq!(issue["project"], "Apollo");
    assert_eq!(issue["team"], "ENG");
    assert_eq!(issue["comments"][0]["body"], "Seen on iOS too");
    assert_eq!(issue["comments"][0]["author"], "Bob Stone");
    let rel: Vec<(String, String)> = issue["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().into(),
                r["issue"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(rel.contains(&("blocks".into(), "ENG-2".into())), "{rel:?}");
    assert!(
        rel.contains(&("duplicated_by".into(), "OPS-1".into())),
        "{rel:?}"
    );
    let seen_from_2 = ok_call(&client, "issue_get", json!({"issue": "ENG-2"})).await;
    assert_eq!(seen_from_2["relations"][0]["type"], "blocked_by");
    // The identifier went to Linear as a variable of IssueGet.
    assert_eq!(
        fake.requests("IssueGet")[0].variables,
        json!({"id": "eng-1"})
    );
}

#[tokio::test]
async fn a_missing_issue_is_a_clear_not_found_error() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let e = err_call(&client, "issue_get", json!({"issue": "ENG-999"})).await;
    assert!(e.starts_with("issue not found: ENG-999"), "{e}");
    // data: {issue: null} without errors is not found too.
    fake.script(
        "IssueGet",
        vec![Scripted::Respond {
            status: 200,
            headers: vec![],
            body: json!({"data": {"issue": null}}).to_string(),
        }],
    );
    let e = err_call(&client, "issue_get", json!({"issue": "ENG-1"})).await;
    assert!(e.starts_with("issue not found: ENG-1"), "{e}");
    let e = err_call(
        &client,
        "comment_create",
        json!({"issue": "ENG-404", "body": "hi"}),
    )
    .await;
    assert!(e.contains("issue not found"), "{e}");
    assert!(fake.requests("CommentCreate").is_empty());
}

#[tokio::test]
async fn authentication_error_with_http_400_names_the_variable() {
    let fake = Fake::start(FakeState::default()).await;
    let mut config = fake.config();
    config.credential = Some(Credential::ApiKey("lin_api_wrong".to_string().into()));
    let client = fake.client_with(config).await;
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(e.contains("Linear rejected the credentials"), "{e}");
    assert!(e.contains("LINEAR_API_KEY"), "{e}");
    assert!(!e.contains("lin_api_wrong"), "no secret in errors: {e}");
    // Not retried: an auth failure will not heal.
    assert_eq!(fake.requests("Teams").len(), 1);
}

#[tokio::test]
async fn api_key_is_sent_bare_and_oauth_token_with_bearer() {
    // API key accepted as-is.
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    ok_call(&client, "team_list", json!({})).await;
    assert_eq!(
        fake.requests("Teams")[0].authorization.as_deref(),
        Some(API_KEY)
    );
    // A key pasted with "Bearer " in LINEAR_API_KEY is sent bare, as Linear wants it.
    let mut config = fake.config();
    config.credential = Some(Credential::ApiKey(format!("Bearer {API_KEY}").into()));
    ok_call(&fake.client_with(config).await, "team_list", json!({})).await;
    assert_eq!(
        fake.requests("Teams")[1].authorization.as_deref(),
        Some(API_KEY)
    );
    // The same key sent as an OAuth token ("Bearer lin_api_...") is refused by the fake.
    let mut config = fake.config();
    config.credential = Some(Credential::OAuth(API_KEY.to_string().into()));
    let wrong = fake.client_with(config).await;
    let e = err_call(&wrong, "team_list", json!({})).await;
    assert!(e.contains("LINEAR_OAUTH_TOKEN"), "{e}");
    assert_eq!(
        fake.requests("Teams")[2].authorization,
        Some(format!("Bearer {API_KEY}"))
    );

    // An OAuth workspace: Bearer accepted, a bare token refused.
    let oauth = Fake::start(FakeState {
        auth: Auth::OAuth,
        ..FakeState::default()
    })
    .await;
    let mut config = oauth.config();
    config.credential = Some(Credential::OAuth(OAUTH_TOKEN.to_string().into()));
    let good = oauth.client_with(config.clone()).await;
    let teams = ok_call(&good, "team_list", json!({})).await;
    assert_eq!(teams["items"][0]["key"], "ENG");
    config.credential = Some(Credential::ApiKey(OAUTH_TOKEN.to_string().into()));
    let bare = oauth.client_with(config).await;
    err_call(&bare, "team_list", json!({})).await;
    let auths: Vec<Option<String>> = oauth
        .requests("Teams")
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        auths,
        vec![
            Some(format!("Bearer {OAUTH_TOKEN}")),
            Some(OAUTH_TOKEN.to_string())
        ]
    );
}

fn reset_in(ms: u64) -> String {
    (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + ms)
        .to_string()
}

#[tokio::test]
async fn ratelimited_query_is_retried_then_succeeds() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "Teams",
        vec![Scripted::Respond {
            status: 400,
            headers: vec![
                ("X-RateLimit-Requests-Limit".into(), "2500".into()),
                ("X-RateLimit-Requests-Remaining".into(), "0".into()),
                ("X-RateLimit-Requests-Reset".into(), reset_in(200)),
            ],
            body: ratelimited_body(),
        }],
    );
    let client = fake.client().await;
    let teams = ok_call(&client, "team_list", json!({})).await;
    assert_eq!(teams["items"].as_array().unwrap().len(), 2);
    assert_eq!(fake.requests("Teams").len(), 2);
}

#[tokio::test]
async fn ratelimited_mutation_is_not_retried_and_says_when_to_retry() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "IssueUpdate",
        vec![Scripted::Respond {
            status: 400,
            headers: vec![
                ("X-RateLimit-Requests-Remaining".into(), "0".into()),
                ("X-RateLimit-Requests-Reset".into(), reset_in(30_000)),
            ],
            body: ratelimited_body(),
        }],
    );
    let client = fake.client().await;
    let e = err_call(
        &client,
        "issue_update",
        json!({"issue": "ENG-1", "title": "New"}),
    )
    .await;
    assert!(e.contains("rate limiting"), "{e}");
    assert!(
        e.contains("retry after 29s") || e.contains("retry after 30s"),
        "{e}"
    );
    assert_eq!(
        fake.requests("IssueUpdate").len(),
        1,
        "a mutation is sent once"
    );
    // Retries exhausted on a query: a rate-limit tool error, bounded attempts.
    let always = Scripted::Respond {
        status: 400,
        headers: vec![],
        body: ratelimited_body(),
    };
    fake.script(
        "Projects",
        vec![always.clone(), always.clone(), always.clone(), always],
    );
    let e = err_call(&client, "project_list", json!({})).await;
    assert!(e.contains("rate limiting"), "{e}");
    assert_eq!(fake.requests("Projects").len(), 3);
}

#[tokio::test]
async fn http_429_then_success() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "Users",
        vec![Scripted::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), "0".into())],
            body: "Too Many Requests".into(),
        }],
    );
    let client = fake.client().await;
    let users = ok_call(&client, "user_list", json!({"query": "MARIA"})).await;
    assert_eq!(users["items"][0]["email"], "maria@example.com");
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    assert_eq!(fake.requests("Users").len(), 2);
}

#[tokio::test]
async fn malformed_upstream_bodies_are_tool_errors() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    fake.script(
        "Teams",
        vec![
            Scripted::Respond {
                status: 200,
                headers: vec![],
                body: "<html>gateway</html>".into(),
            },
            Scripted::Respond {
                status: 200,
                headers: vec![],
                body: json!({"data": {"teams": {"nodes": "oops"}}}).to_string(),
            },
            Scripted::Respond {
                status: 502,
                headers: vec![],
                body: "bad gateway".into(),
            },
            Scripted::Respond {
                status: 502,
                headers: vec![],
                body: "bad gateway".into(),
            },
            Scripted::Respond {
                status: 502,
                headers: vec![],
                body: "bad gateway".into(),
            },
        ],
    );
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(e.contains("malformed response"), "{e}");
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(
        e.contains("malformed response") && e.contains("teams"),
        "{e}"
    );
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(e.contains("HTTP 502") && e.contains("temporary"), "{e}");
}

#[tokio::test]
async fn a_slow_upstream_call_stops_when_the_client_cancels() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script("IssueList", vec![Scripted::Delay(Duration::from_secs(60))]);
    let client = fake.client().await;
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("issue_list").with_arguments(serde_json::Map::new()),
    ));
    let handle = client
        .peer()
        .send_cancellable_request(
            request,
            PeerRequestOptions::with_timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    // The client times out and sends notifications/cancelled.
    assert!(handle.await_response().await.is_err());
    // The server drops its upstream request: the fake sees the connection go away.
    let mut waited = 0;
    while !fake.aborted.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(
            waited < 200,
            "the upstream request was not abandoned after cancellation"
        );
    }
    // And the server still answers.
    ok_call(&client, "team_list", json!({})).await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "Teams",
        vec![
            Scripted::Delay(Duration::from_secs(30)),
            Scripted::Delay(Duration::from_secs(30)),
            Scripted::Delay(Duration::from_secs(30)),
        ],
    );
    let mut config = fake.config();
    config.timeout = Duration::from_millis(300);
    config.retry.max_attempts = 2;
    let client = fake.client_with(config).await;
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(e.contains("timed out") && e.contains("temporary"), "{e}");
}

#[tokio::test]
async fn read_only_removes_every_write_tool() {
    let fake = Fake::start(FakeState::default()).await;
    let mut config = fake.config();
    config.read_only = true;
    let server = LinearServer::new(config.clone()).unwrap();
    let mut names: Vec<String> = server.tools().iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, READ_TOOLS);
    let client = fake.client_with(config).await;
    let r = client
        .call_tool(
            CallToolRequestParams::new("issue_create").with_arguments(
                json!({"team":"ENG","title":"x"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await;
    assert!(r.is_err(), "a removed tool cannot be called");
    assert!(fake.requests("IssueCreate").is_empty());
    // Without --read-only every tool is listed and all twelve are callable.
    let full = LinearServer::new(fake.config()).unwrap();
    let mut names: Vec<String> = full.tools().iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, TOOLS);
}

#[tokio::test]
async fn a_long_list_stays_within_the_response_budget() {
    let mut state = many_issues(60);
    for i in &mut state.issues {
        i.title = format!("{} {}", i.title, "long title words ".repeat(6));
    }
    let fake = Fake::start(state).await;
    let mut config = fake.config();
    config.budget = mcp_core::Budget::new(3_000);
    let client = fake.client_with(config).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"limit": 100});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let r = call(&client, "issue_list", args).await;
        let v = r.structured_content.clone().unwrap();
        let size = serde_json::to_string(&v).unwrap().chars().count();
        assert!(size <= 3_000, "page of {size} chars exceeds the budget");
        assert!(text(&r).chars().count() <= 3_000);
        pages += 1;
        let ids = identifiers(&v);
        assert!(!ids.is_empty());
        seen.extend(ids);
        match v.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(pages > 3, "the budget cut pages: {pages}");
    assert_eq!(seen.len(), 63);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 63);

    // A long description and many comments are cut too, with a way to read on.
    fake.with(|s| {
        // Quotes and newlines double in JSON: the cut must still fit.
        s.issues[0].description = Some("say \"hi\"\n".repeat(1_000));
        for n in 0..40 {
            s.comments.push(json!({"id": format!("c{n}"), "body": "comment ".repeat(20), "createdAt": "2026-11-01T00:00:00.000Z", "url": "u", "user": "u-bob", "issue": "iss-eng-1"}));
        }
    });
    let d = ok_call(&client, "issue_get", json!({"issue": "ENG-1"})).await;
    assert!(serde_json::to_string(&d).unwrap().chars().count() <= 3_000);
    assert_eq!(d["comments_truncated"], true);
    let next = d["description_next_offset"].as_u64().unwrap();
    let rest = ok_call(
        &client,
        "issue_get",
        json!({"issue": "ENG-1", "description_offset": next}),
    )
    .await;
    assert!(!rest["description"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn create_reads_back_and_reports_every_field() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let out = ok_call(
        &client,
        "issue_create",
        json!({
            "team": "ENG", "title": "Checkout times out", "description": "Seen at 9am.",
            "state": "todo", "assignee": "Maria Garcia", "labels": ["bug", "feature"],
            "priority": 1, "estimate": 3, "project": "Zeus", "cycle": "8",
            "due_date": "2026-12-24", "parent": "ENG-1"
        }),
    )
    .await;
    assert_eq!(out["not_applied"], json!([]), "{out}");
    assert!(out.get("warning").is_none());
    let applied: BTreeSet<String> = serde_json::from_value(out["applied"].clone()).unwrap();
    for f in [
        "title",
        "description",
        "state",
        "assignee",
        "labels",
        "priority",
        "estimate",
        "project",
        "cycle",
        "due_date",
        "parent",
    ] {
        assert!(applied.contains(f), "{f} missing from {applied:?}");
    }
    assert_eq!(out["issue"]["identifier"], "ENG-3");
    assert_eq!(out["issue"]["state"], "Todo");
    let input = &fake.requests("IssueCreate")[0].variables["input"];
    assert_eq!(input["teamId"], "t-eng");
    assert_eq!(input["assigneeId"], "u-maria");
    assert_eq!(input["labelIds"], json!(["l-bug", "l-feature"]));
    assert_eq!(input["cycleId"], "c-eng-8");
    assert_eq!(input["parentId"], "iss-eng-1");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_write_whose_field_did_not_take_is_reported() {
    // Linear accepts the mutation and answers success, but does not store these (linear#1045).
    let state = FakeState {
        ignore_fields: vec!["estimate".into(), "labelIds".into()],
        ..FakeState::default()
    };
    let fake = Fake::start(state).await;
    let client = fake.client().await;
    let out = ok_call(
        &client,
        "issue_update",
        json!({"issue": "ENG-1", "state": "Done", "estimate": 5, "add_labels": ["feature"]}),
    )
    .await;
    let not: Vec<String> = out["not_applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(not, vec!["estimate", "labels"], "{out}");
    assert_eq!(out["not_applied"][0]["requested"], "5");
    assert!(out["not_applied"][0].get("stored").is_none());
    assert_eq!(out["not_applied"][1]["stored"], "bug");
    assert_eq!(out["applied"], json!(["state"]));
    assert!(out["warning"].as_str().unwrap().contains("estimate"));
    assert_eq!(out["issue"]["state"], "Done");
}

#[tokio::test]
async fn update_resolves_names_in_the_issue_team_and_unsets() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let out = ok_call(
        &client,
        "issue_update",
        json!({"issue": "OPS-1", "state": "todo", "assignee": "none", "labels": [], "due_date": "none", "project": "apollo"}),
    )
    .await;
    assert_eq!(out["not_applied"], json!([]), "{out}");
    let input = &fake.requests("IssueUpdate")[0].variables["input"];
    assert_eq!(input["stateId"], "s-ops-todo", "the OPS Todo, not ENG's");
    assert_eq!(input["assigneeId"], Value::Null);
    assert_eq!(input["labelIds"], json!([]));
    let e = err_call(&client, "issue_update", json!({"issue": "OPS-1"})).await;
    assert!(e.contains("nothing to update"), "{e}");
    let e = err_call(
        &client,
        "issue_update",
        json!({"issue": "OPS-1", "due_date": "next friday"}),
    )
    .await;
    assert!(e.contains("YYYY-MM-DD"), "{e}");
}

#[tokio::test]
async fn comment_and_relation_are_read_back() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let c = ok_call(
        &client,
        "comment_create",
        json!({"issue": "ENG-2", "body": "Looks good"}),
    )
    .await;
    assert_eq!(c["comment"]["body"], "Looks good");
    assert_eq!(c["comment"]["author"], "Ada Lovelace");
    assert_eq!(c["issue"], "ENG-2");
    assert_eq!(c["not_applied"], json!([]));
    assert_eq!(
        fake.requests("CommentCreate")[0].variables["input"],
        json!({"issueId": "iss-eng-2", "body": "Looks good"})
    );
    // "blocked_by" is stored as the other issue blocking this one.
    let r = ok_call(
        &client,
        "issue_relation_create",
        json!({"issue": "ENG-2", "type": "blocked_by", "related_issue": "OPS-1"}),
    )
    .await;
    assert_eq!(r["type"], "blocked_by");
    assert_eq!(r["not_applied"], json!([]));
    assert_eq!(
        fake.requests("IssueRelationCreate")[0].variables["input"],
        json!({"issueId": "iss-ops-1", "relatedIssueId": "iss-eng-2", "type": "blocks"})
    );
    let issue = ok_call(&client, "issue_get", json!({"issue": "ENG-2"})).await;
    assert_eq!(issue["relations"][0]["type"], "blocked_by");
    assert_eq!(issue["relations"][0]["issue"], "OPS-1");
    // A comment Linear stored differently is reported.
    fake.script(
        "CommentGet",
        vec![Scripted::Respond {
            status: 200,
            headers: vec![],
            body: json!({"data": {"comment": {"id": "cmt-x", "body": "", "issue": {"id": "iss-eng-2", "identifier": "ENG-2"}}}}).to_string(),
        }],
    );
    let c = ok_call(
        &client,
        "comment_create",
        json!({"issue": "ENG-2", "body": "Second"}),
    )
    .await;
    assert_eq!(c["not_applied"][0]["field"], "body");
}

#[tokio::test]
async fn catalog_lists_page_and_filter_by_team() {
    let state = FakeState {
        page_cap: 2,
        ..FakeState::default()
    };
    let fake = Fake::start(state).await;
    let client = fake.client().await;
    let states = ok_call(&client, "workflow_state_list", json!({"team": "ENG"})).await;
    assert_eq!(states["items"].as_array().unwrap().len(), 2);
    let more = ok_call(
        &client,
        "workflow_state_list",
        json!({"team": "ENG", "cursor": states["next_cursor"]}),
    )
    .await;
    let names: Vec<&str> = states["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(more["items"].as_array().unwrap())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Backlog", "Todo", "In Progress", "Done"]);
    assert_eq!(more["truncated"], false);
    let labels = ok_call(&client, "label_list", json!({"team": "OPS", "limit": 10})).await;
    let names: BTreeSet<String> = labels["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains("bug") && !names.contains("feature"),
        "{names:?}"
    );
    let cycles = ok_call(&client, "cycle_list", json!({"team": "ENG"})).await;
    assert_eq!(cycles["items"][0]["number"], 7);
    assert_eq!(cycles["items"][0]["active"], true);
    let projects = ok_call(&client, "project_list", json!({})).await;
    assert_eq!(projects["items"][0]["name"], "Apollo");
    let e = err_call(&client, "team_list", json!({"limit": 1000})).await;
    assert!(e.contains("maximum of 250"), "{e}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn missing_credential_lists_tools_and_names_the_variable() {
    let fake = Fake::start(FakeState::default()).await;
    let mut config = fake.config();
    config.credential = None;
    let client = fake.client_with(config.clone()).await;
    assert_eq!(client.list_all_tools().await.unwrap().len(), TOOLS.len());
    let e = err_call(&client, "issue_list", json!({})).await;
    assert_eq!(
        e,
        "Linear is not configured: set LINEAR_API_KEY (a personal API key) or LINEAR_OAUTH_TOKEN"
    );
    assert!(
        fake.with(|s| s.requests.is_empty()),
        "nothing is sent without a credential"
    );
    let server = LinearServer::new(config).unwrap();
    let check = server.check().await.unwrap_err();
    assert!(
        check.contains("LINEAR_API_KEY") && check.contains("LINEAR_OAUTH_TOKEN"),
        "{check}"
    );
    let health = server.health().await;
    assert_eq!(health["configured"], false);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_errors_or_health() {
    let fake = Fake::start(FakeState::default()).await;
    let config = fake.config();
    assert!(!format!("{config:?}").contains(API_KEY));
    // An upstream error that echoes the key is scrubbed before the model sees it.
    fake.script(
        "Teams",
        vec![Scripted::Respond {
            status: 400,
            headers: vec![],
            body: json!({"errors":[{"message": format!("bad key {API_KEY}"), "extensions": {"code": "AUTHENTICATION_ERROR"}}]}).to_string(),
        }],
    );
    let client = fake.client_with(config.clone()).await;
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(!e.contains(API_KEY) && e.contains("[redacted]"), "{e}");
    let server = LinearServer::new(config).unwrap();
    let health = server.health().await.to_string();
    assert!(!health.contains(API_KEY), "{health}");
    assert!(health.contains("LINEAR_API_KEY"));
    let check = server.check().await.unwrap();
    assert!(
        check.contains("Ada Lovelace") && check.contains("Acme"),
        "{check}"
    );
    assert!(!check.contains(API_KEY));
}

#[tokio::test]
async fn the_fake_detects_user_input_in_the_query_text() {
    // The variables-only check above is only worth something if the fake catches a violation.
    let fake = Fake::start(FakeState::default()).await;
    reqwest::Client::new()
        .post(&fake.url)
        .header("authorization", API_KEY)
        .json(&json!({
            "query": "query IssueGet($id: String!) { issue(id: \"ENG-1\") { id } }",
            "variables": {"id": "ENG-1"},
            "operationName": "IssueGet"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(fake.violations().len(), 1, "{:?}", fake.violations());
}

#[test]
fn every_document_names_its_operation_and_has_no_literal_input() {
    for doc in sophia_linear::gql::ALL {
        let kind = if doc.mutation { "mutation" } else { "query" };
        assert!(
            doc.text.starts_with(&format!("{kind} {}", doc.name)),
            "{}",
            doc.name
        );
        // Arguments are variables or enum literals, never quoted strings.
        assert!(!doc.text.contains('"'), "{} has a string literal", doc.name);
    }
}

#[test]
fn schema_snapshots_match_and_every_tool_is_annotated() {
    let server = LinearServer::new(sophia_linear::LinearConfig::new(
        "http://127.0.0.1:9/graphql",
        None,
    ))
    .unwrap();
    let tools = server.tools();
    assert_eq!(tools.len(), TOOLS.len());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/linear");
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
        assert!(t.output_schema.is_some(), "{} has no output schema", t.name);
        assert!(
            format!("linear__{}", t.name).len() <= 64,
            "{} is too long",
            t.name
        );
    }
}

#[tokio::test]
async fn a_rate_limit_reset_far_away_is_reported_not_waited_for() {
    let fake = Fake::start(FakeState::default()).await;
    fake.script(
        "Teams",
        vec![Scripted::Respond {
            status: 400,
            headers: vec![
                ("X-RateLimit-Requests-Remaining".into(), "0".into()),
                ("X-RateLimit-Requests-Reset".into(), reset_in(600_000)),
            ],
            body: ratelimited_body(),
        }],
    );
    let client = fake.client().await;
    let e = err_call(&client, "team_list", json!({})).await;
    assert!(
        e.contains("retry after 599s") || e.contains("retry after 600s"),
        "{e}"
    );
    assert_eq!(fake.requests("Teams").len(), 1, "no futile retry");
}

#[derive(Clone, Default)]
struct ProgressLog(std::sync::Arc<std::sync::Mutex<Vec<(f64, String)>>>);

impl rmcp::ClientHandler for ProgressLog {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::service::RoleClient>,
    ) {
        self.0
            .lock()
            .unwrap()
            .push((params.progress, params.message.unwrap_or_default()));
    }
}

#[tokio::test]
async fn reading_a_long_list_reports_progress_when_asked() {
    use rmcp::ServiceExt;
    use rmcp::model::{NumberOrString, ProgressToken, RequestParamsMeta};
    let mut state = FakeState::default();
    for n in 0..600 {
        state.users.push(json!({"id": format!("u{n}"), "name": format!("User {n}"), "email": format!("user{n}@example.com"), "active": true}));
    }
    let fake = Fake::start(state).await;
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = LinearServer::new(fake.config()).unwrap();
    tokio::spawn(async move {
        if let Ok(r) = server.serve(server_io).await {
            let _ = r.waiting().await;
        }
    });
    let log = ProgressLog::default();
    let client = log.clone().serve(client_io).await.unwrap();
    let mut params = CallToolRequestParams::new("issue_list").with_arguments(
        json!({"assignee": "user599@example.com"})
            .as_object()
            .unwrap()
            .clone(),
    );
    params.set_progress_token(ProgressToken(NumberOrString::Number(7)));
    let r = client.call_tool(params).await.unwrap();
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    // 603 users in pages of 250: two progress notifications before the last page.
    for _ in 0..100 {
        if log.0.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = log.0.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![250.0, 500.0],
        "{seen:?}"
    );
    assert!(seen[0].1.contains("users"), "{seen:?}");
    assert_eq!(fake.requests("Users").len(), 3);
}

#[tokio::test]
async fn lists_are_read_once_and_a_miss_does_not_reread_a_fresh_list() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    for _ in 0..3 {
        ok_call(
            &client,
            "issue_list",
            json!({"team": "ENG", "state": "Todo"}),
        )
        .await;
    }
    err_call(
        &client,
        "issue_list",
        json!({"team": "ENG", "state": "Doing"}),
    )
    .await;
    err_call(&client, "issue_list", json!({"team": "ENGX"})).await;
    assert_eq!(fake.requests("Teams").len(), 1, "teams read once");
    assert_eq!(fake.requests("WorkflowStates").len(), 1, "states read once");
}
