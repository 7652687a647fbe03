//! The SQL API client through `execute_query`, against the fake: JWT claims, signature and header
//! verified by the fake; 202 then polling; partitions fetched only as far as the row cap needs;
//! the 422 error body; an expired token renewed with the same requestId and retry=true; 429
//! retried without running twice; cancellation reaching the cancel endpoint; the read-only check
//! (nothing reaches Snowflake); bindings on the wire; a 100k-row result capped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::time::Duration;

use common::*;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

#[tokio::test]
async fn select_is_signed_bound_and_typed() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::rows(
            &[
                ("ID", "fixed"),
                ("NAME", "text"),
                ("DAY", "date"),
                ("OK", "boolean"),
                ("V", "variant"),
            ],
            vec![
                vec![
                    json!("7"),
                    json!("seven"),
                    json!("18262"),
                    json!("true"),
                    json!("{\"a\":1}"),
                ],
                vec![
                    json!("8"),
                    Value::Null,
                    Value::Null,
                    json!("false"),
                    json!("[1]"),
                ],
            ],
        ),
    );
    let client = client(config(&fake)).await;
    let out = ok_call(
        &client,
        "execute_query",
        json!({"statement": "select id, name from t where name = ? and n > ?", "bindings": [{"value": "x'; drop table t; --"}, {"type": "FIXED", "value": "3"}], "warehouse": "COMPUTE_WH"}),
    )
    .await;
    assert_eq!(
        out["rows"],
        json!([[7, "seven", "2020-01-01", true, {"a": 1}], [8, null, null, false, [1]]])
    );
    assert_eq!(
        out["columns"][2],
        json!({"name": "DAY", "type": "DATE", "nullable": true})
    );
    assert_eq!(out["total_rows"], 2);
    assert_eq!(out["truncated"], false);
    assert!(out.get("next_cursor").is_none());
    let sub = &fake.submissions()[0];
    assert_eq!(sub.token_type.as_deref(), Some("KEYPAIR_JWT"));
    assert!(sub.query["requestId"].len() == 36 && !sub.query.contains_key("retry"));
    assert_eq!(
        sub.body["bindings"],
        json!({"1": {"type": "TEXT", "value": "x'; drop table t; --"}, "2": {"type": "FIXED", "value": "3"}})
    );
    assert_eq!(
        sub.body["statement"],
        "select id, name from t where name = ? and n > ?"
    );
    assert_eq!(sub.body["warehouse"], "COMPUTE_WH");
    assert_eq!(sub.body["parameters"]["MULTI_STATEMENT_COUNT"], "1");
    assert_eq!(
        fake.state.lock().unwrap().jwts.len(),
        1,
        "the fake verified one JWT"
    );
}

#[tokio::test]
async fn read_only_check_refuses_before_anything_reaches_snowflake() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    for bad in [
        "delete from t",
        "select 1; drop table t",
        "with x as (select 1) delete from t",
        "/* select */ insert into t values (1)",
        "-- select\nupdate t set a = 1",
        "select system$cancel_all_queries(1)",
        "merge into t using s on 1=1 when matched then delete",
        "use role accountadmin",
    ] {
        let text = err_call(&client, "execute_query", json!({"statement": bad})).await;
        assert!(text.starts_with("not allowed:"), "{bad}: {text}");
    }
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    // A keyword inside a literal is just data.
    fake.on(
        "SELECT",
        Reply::rows(&[("X", "text")], vec![vec![json!("a")]]),
    );
    ok_call(
        &client,
        "execute_query",
        json!({"statement": "SELECT 'delete from t; drop table u' AS x"}),
    )
    .await;
    assert_eq!(fake.executions().len(), 1);
}

#[tokio::test]
async fn pending_statement_is_polled_until_done() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::Pending(
            3,
            Box::new(Reply::rows(&[("N", "fixed")], vec![vec![json!("1")]])),
        ),
    );
    let client = client(config(&fake)).await;
    let out = ok_call(&client, "execute_query", json!({"statement": "SELECT 1"})).await;
    assert_eq!(out["rows"], json!([[1]]));
    let polls = fake.log().iter().filter(|l| l.method == "GET").count();
    // Three polls answered 202 again, the fourth carried the result.
    assert_eq!(polls, 4, "{:?}", fake.log());
    assert_eq!(fake.executions().len(), 1);
}

#[tokio::test]
async fn error_body_becomes_a_tool_error_with_code_and_sql_state() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::Error {
            code: "001003",
            sql_state: "42000",
            message: "SQL compilation error:\nsyntax error line 1 at position 7 unexpected 'FORM'."
                .into(),
        },
    );
    let client = client(config(&fake)).await;
    let text = err_call(
        &client,
        "execute_query",
        json!({"statement": "SELECT * FORM t"}),
    )
    .await;
    assert!(
        text.contains("syntax error line 1")
            && text.contains("code 001003")
            && text.contains("SQL state 42000"),
        "{text}"
    );
    // Unknown objects get the case-sensitivity hint.
    let text = err_call(
        &client,
        "execute_query",
        json!({"statement": "SHOW TABLES IN SCHEMA nope"}),
    )
    .await;
    assert!(
        text.contains("002003") && text.contains("case-sensitive"),
        "{text}"
    );
}

#[tokio::test]
async fn rejected_token_is_renewed_and_the_statement_resubmitted_once_with_the_same_request_id() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::rows(&[("N", "fixed")], vec![vec![json!("1")]]),
    );
    let client = client(config(&fake)).await;
    ok_call(&client, "execute_query", json!({"statement": "SELECT 1"})).await;
    fake.state.lock().unwrap().reject_next = 1;
    let out = ok_call(&client, "execute_query", json!({"statement": "SELECT 2"})).await;
    assert_eq!(out["rows"], json!([[1]]));
    let subs = fake.submissions();
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[1].query["requestId"], subs[2].query["requestId"]);
    assert_eq!(subs[2].query.get("retry").map(String::as_str), Some("true"));
    assert_eq!(fake.executions().len(), 2, "each statement ran once");
    // Rejected twice in a row: a tool error naming the variable, no loop.
    fake.state.lock().unwrap().reject_next = 2;
    let text = err_call(&client, "execute_query", json!({"statement": "SELECT 3"})).await;
    assert!(
        text.contains("rejected the credentials")
            && text.contains("390144")
            && text.contains("SNOWFLAKE_PRIVATE_KEY_PATH"),
        "{text}"
    );
}

#[tokio::test]
async fn rate_limited_submission_is_retried_with_retry_true_and_runs_once() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::rows(&[("N", "fixed")], vec![vec![json!("5")]]),
    );
    fake.state.lock().unwrap().throttle_next = 1;
    let client = client(config(&fake)).await;
    let out = ok_call(&client, "execute_query", json!({"statement": "SELECT 5"})).await;
    assert_eq!(out["rows"], json!([[5]]));
    let subs = fake.submissions();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].query["requestId"], subs[1].query["requestId"]);
    assert_eq!(subs[1].query["retry"], "true");
    assert_eq!(fake.executions().len(), 1);
}

#[tokio::test]
async fn cancelled_call_reaches_the_cancel_endpoint() {
    let fake = Fake::start().await;
    fake.on("SELECT", Reply::Hang);
    let client = client(config(&fake)).await;
    let request = client.call_tool(
        CallToolRequestParams::new("execute_query").with_arguments(
            json!({"statement": "SELECT SLEEP"})
                .as_object()
                .cloned()
                .unwrap(),
        ),
    );
    // Drop the call once the statement is running: rmcp sends notifications/cancelled.
    let waited = tokio::time::timeout(Duration::from_millis(300), request).await;
    assert!(waited.is_err(), "a hanging statement must not finish");
    for _ in 0..200 {
        if !fake.state.lock().unwrap().cancels.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let st = fake.state.lock().unwrap();
    assert_eq!(
        st.cancels.len(),
        1,
        "{:?}",
        st.log.iter().map(|l| &l.path).collect::<Vec<_>>()
    );
    assert!(
        st.log
            .iter()
            .any(|l| l.path.ends_with("/cancel") && l.query.contains_key("requestId"))
    );
}

#[tokio::test]
async fn statement_timeout_cancels_in_snowflake() {
    let fake = Fake::start().await;
    fake.on("SELECT", Reply::Hang);
    let mut cfg = config(&fake);
    cfg.options.poll_max = Duration::from_millis(5);
    let client = client(cfg).await;
    // timeout_s = 1: Snowflake gets `timeout: 1`; we give up after it plus a grace period.
    let text = tokio::time::timeout(
        Duration::from_secs(60),
        err_call(
            &client,
            "execute_query",
            json!({"statement": "SELECT 1", "timeout_s": 1}),
        ),
    )
    .await;
    let text = text.expect("gave up within the grace period");
    assert!(text.contains("did not finish within 1s"), "{text}");
    assert_eq!(fake.submissions()[0].body["timeout"], 1);
    assert_eq!(fake.state.lock().unwrap().cancels.len(), 1);
}

#[tokio::test]
async fn large_result_fetches_only_the_partitions_the_cap_needs_and_pages_by_cursor() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::Generated {
            total: 100_000,
            partition_size: 3_000,
        },
    );
    let client = client(config(&fake)).await;
    let out = ok_call(
        &client,
        "execute_query",
        json!({"statement": "SELECT * FROM big", "limit": 5000}),
    )
    .await;
    let rows = out["rows"].as_array().unwrap();
    // The response budget (20000 chars) cuts the page before 5000 rows.
    assert!(!rows.is_empty() && rows.len() < 5000, "{}", rows.len());
    assert_eq!(rows[0], json!([0, "name-0"]));
    assert_eq!(out["total_rows"], 100_000);
    assert_eq!(out["truncated"], true);
    let gets = fake.partition_gets();
    assert_eq!(gets.len(), 1, "5000 rows need partitions 0 and 1 only");
    assert_eq!(gets[0].query["partition"], "1");
    // Continue from the cursor: no new statement, rows continue exactly.
    let n = rows.len() as u64;
    let next = ok_call(
        &client,
        "execute_query",
        json!({"cursor": out["next_cursor"], "limit": 10}),
    )
    .await;
    assert_eq!(next["offset"], n);
    assert_eq!(next["rows"][0], json!([n, format!("name-{n}")]));
    assert_eq!(next["rows"].as_array().unwrap().len(), 10);
    assert_eq!(fake.executions().len(), 1);
    // Far into the result: only the partition holding it is read.
    let before = fake.partition_gets().len();
    let far = sophia_snowflake::client::ResultCursor {
        h: out["statement_handle"].as_str().unwrap().into(),
        o: 99_998,
        p: vec![3_000; 33].into_iter().chain([1_000]).collect(),
        c: serde_json::from_value(
            json!([{"name": "ID", "type": "fixed", "scale": 0}, {"name": "NAME", "type": "text"}]),
        )
        .unwrap(),
    };
    let far_cursor = mcp_core::budget::encode_cursor("execute_query", &far);
    let last = ok_call(&client, "execute_query", json!({"cursor": far_cursor})).await;
    assert_eq!(
        last["rows"],
        json!([[99_998, "name-99998"], [99_999, "name-99999"]])
    );
    assert_eq!(last["truncated"], false);
    let gets = fake.partition_gets();
    assert_eq!(gets.len(), before + 1);
    assert_eq!(gets.last().unwrap().query["partition"], "33");
}

#[tokio::test]
async fn row_cap_limits_and_a_foreign_cursor_is_refused() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::Generated {
            total: 500,
            partition_size: 100,
        },
    );
    let client = client(config(&fake)).await;
    let out = ok_call(&client, "execute_query", json!({"statement": "SELECT 1"})).await;
    assert_eq!(out["rows"].as_array().unwrap().len(), 200, "default cap");
    assert_eq!(
        fake.partition_gets().len(),
        1,
        "partitions 0 and 1 hold rows 0..200"
    );
    let text = err_call(
        &client,
        "execute_query",
        json!({"statement": "SELECT 1", "limit": 10001}),
    )
    .await;
    assert!(text.contains("the most is 10000"), "{text}");
    let text = err_call(&client, "execute_query", json!({"cursor": "bm9wZQ"})).await;
    assert!(text.contains("cursor is not valid"), "{text}");
    // A forged cursor with a path in the handle never reaches a URL.
    let forged = mcp_core::budget::encode_cursor(
        "execute_query",
        &sophia_snowflake::client::ResultCursor {
            h: "../../x".into(),
            o: 0,
            p: vec![1],
            c: vec![],
        },
    );
    let text = err_call(&client, "execute_query", json!({"cursor": forged})).await;
    assert!(text.contains("not valid"), "{text}");
}

#[tokio::test]
async fn oauth_and_programmatic_tokens_are_sent_with_their_type() {
    let fake = Fake::start_token("PROGRAMMATIC_ACCESS_TOKEN").await;
    fake.on(
        "SELECT",
        Reply::rows(&[("N", "fixed")], vec![vec![json!("1")]]),
    );
    let mut cfg = config(&fake);
    cfg.private_key_path = None;
    cfg.token = Some(TOKEN.to_string().into());
    cfg.token_type = Some("programmatic_access_token".into());
    let client = client(cfg).await;
    ok_call(&client, "execute_query", json!({"statement": "SELECT 1"})).await;
    let sub = &fake.submissions()[0];
    assert_eq!(sub.token_type.as_deref(), Some("PROGRAMMATIC_ACCESS_TOKEN"));
    assert_eq!(
        sub.bearer.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    // A rejected static token cannot be renewed: one submission, a clear error.
    fake.state.lock().unwrap().reject_next = 1;
    let text = err_call(&client, "execute_query", json!({"statement": "SELECT 1"})).await;
    assert!(
        text.contains("SNOWFLAKE_TOKEN") && !text.contains(TOKEN),
        "{text}"
    );
    assert_eq!(fake.submissions().len(), 2);
}

#[tokio::test]
async fn missing_or_unusable_credentials_name_the_variable_and_never_call_out() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.private_key_path = None;
    let c = client(cfg).await;
    assert!(!c.list_all_tools().await.unwrap().is_empty());
    let text = err_call(&c, "warehouse_list", json!({})).await;
    assert_eq!(
        text,
        "Snowflake is not configured: set SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_TOKEN"
    );
    let mut cfg = config(&fake);
    cfg.user = None;
    let text = err_call(&client(cfg).await, "database_list", json!({})).await;
    assert!(text.contains("set SNOWFLAKE_USER"), "{text}");
    let mut cfg = config(&fake);
    cfg.private_key_path = Some(fixture("test_only_encrypted_key.p8"));
    let text = err_call(&client(cfg).await, "database_list", json!({})).await;
    assert!(
        text.contains("encrypted keys are not supported yet")
            && text.contains("SNOWFLAKE_PRIVATE_KEY_PATH"),
        "{text}"
    );
    assert!(fake.log().is_empty());
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
async fn polling_and_partitions_send_progress_when_asked() {
    use rmcp::ServiceExt;
    let fake = Fake::start().await;
    fake.on(
        "SELECT",
        Reply::Pending(
            2,
            Box::new(Reply::Generated {
                total: 5_000,
                partition_size: 1_000,
            }),
        ),
    );
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
    let mut params = CallToolRequestParams::new("execute_query").with_arguments(
        json!({"statement": "SELECT * FROM t", "limit": 2500})
            .as_object()
            .cloned()
            .unwrap(),
    );
    params.meta = Some(meta);
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(r.structured_content.unwrap()["total_rows"], 5_000);
    let both = |got: &[String]| {
        got.iter().any(|m| m.contains("still running"))
            && got.iter().any(|m| m.contains("read partition 3 of 5"))
    };
    for _ in 0..500 {
        if both(&seen.0.lock().unwrap()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = seen.0.lock().unwrap().clone();
    assert!(both(&got), "{got:?}");
    assert!(
        !got.iter().any(|m| m.contains("partition 4 of 5")),
        "{got:?}"
    );
}

#[tokio::test]
async fn timeout_408_malformed_200_and_persistent_503_are_tool_errors() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT 408",
        Reply::Raw(408, r#"{"code":"000630","sqlState":"57014","message":"Statement reached its statement timeout and was canceled.","statementHandle":"{handle}"}"#.into()),
    );
    fake.on(
        "SELECT HTML",
        Reply::Raw(200, "<html><body>proxy error</body></html>".into()),
    );
    fake.on(
        "SELECT 503",
        Reply::Raw(503, "<html>Service Unavailable</html>".into()),
    );
    let client = client(config(&fake)).await;
    let text = err_call(
        &client,
        "execute_query",
        json!({"statement": "SELECT 408", "timeout_s": 5}),
    )
    .await;
    assert!(
        text.contains("did not finish within 5s") && text.contains("statement timeout"),
        "{text}"
    );
    let text = err_call(
        &client,
        "execute_query",
        json!({"statement": "SELECT HTML"}),
    )
    .await;
    assert!(text.contains("unexpected answer"), "{text}");
    let text = err_call(&client, "execute_query", json!({"statement": "SELECT 503"})).await;
    assert!(
        text.contains("HTTP 503") && text.contains("retry later"),
        "{text}"
    );
    // The 503 was retried with the same requestId and retry=true, and ran once.
    let subs: Vec<_> = fake
        .submissions()
        .into_iter()
        .filter(|s| s.body["statement"] == "SELECT 503")
        .collect();
    assert_eq!(subs.len(), 3);
    assert!(
        subs.iter()
            .all(|s| s.query["requestId"] == subs[0].query["requestId"])
    );
    assert_eq!(subs[2].query["retry"], "true");
    assert_eq!(
        fake.executions()
            .iter()
            .filter(|e| *e == "SELECT 503")
            .count(),
        1
    );
}
