//! Every other tool end to end against the fake: catalog (with names quoted, never
//! interpolated), warehouses (change then read-back), cost, history, status, cancel, access,
//! the write tool's listing, `--read-only`, resources, secrets, schema snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use mcp_core::SophiaServer;
use serde_json::{Value, json};

const READ_TOOLS: [&str; 15] = [
    "cost_credits",
    "database_list",
    "execute_query",
    "grant_list",
    "query_history",
    "query_status",
    "query_top",
    "role_list",
    "schema_list",
    "storage_usage",
    "table_describe",
    "table_list",
    "table_sample",
    "user_list",
    "warehouse_list",
];

fn names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    let mut n: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn tool_lists_follow_allow_write_and_read_only() {
    let fake = Fake::start().await;
    let default = names(&server(config(&fake)).tools());
    assert!(!default.contains(&"query_write".to_string()));
    assert_eq!(default.len(), 19, "{default:?}");
    let mut cfg = config(&fake);
    cfg.allow_write = true;
    assert!(names(&server(cfg).tools()).contains(&"query_write".to_string()));
    let mut cfg = config(&fake);
    cfg.allow_write = true;
    cfg.read_only = true;
    assert_eq!(names(&server(cfg).tools()), READ_TOOLS);
    assert!(
        fake.log().is_empty(),
        "building the server never calls Snowflake"
    );
}

#[tokio::test]
async fn catalog_lists_quote_names_and_fill_resources() {
    let fake = Fake::start().await;
    fake.on(
        "SHOW DATABASES",
        Reply::rows(
            &[
                ("created_on", "timestamp_ltz"),
                ("name", "text"),
                ("is_default", "text"),
                ("owner", "text"),
                ("comment", "text"),
                ("kind", "text"),
            ],
            (0..150)
                .map(|i| {
                    vec![
                        json!("1616173619.000000000"),
                        json!(format!("DB{i:03}")),
                        json!("N"),
                        json!("SYSADMIN"),
                        json!(""),
                        json!("STANDARD"),
                    ]
                })
                .collect(),
        ),
    );
    fake.on(
        "SHOW SCHEMAS IN DATABASE",
        Reply::rows(
            &[("name", "text"), ("database_name", "text")],
            vec![vec![json!("PUBLIC"), json!("my \"db")]],
        ),
    );
    fake.on(
        "SHOW OBJECTS IN SCHEMA",
        Reply::rows(
            &[
                ("name", "text"),
                ("kind", "text"),
                ("rows", "fixed"),
                ("bytes", "fixed"),
                ("comment", "text"),
            ],
            vec![
                vec![
                    json!("ORDERS"),
                    json!("TABLE"),
                    json!("1200"),
                    json!("40960"),
                    json!("One row per order"),
                ],
                vec![
                    json!("V_ORDERS"),
                    json!("VIEW"),
                    Value::Null,
                    Value::Null,
                    json!(""),
                ],
            ],
        ),
    );
    fake.on(
        "DESCRIBE TABLE",
        Reply::rows(
            &[
                ("name", "text"),
                ("type", "text"),
                ("kind", "text"),
                ("null?", "text"),
                ("default", "text"),
                ("primary key", "text"),
                ("comment", "text"),
            ],
            vec![
                vec![
                    json!("ID"),
                    json!("NUMBER(38,0)"),
                    json!("COLUMN"),
                    json!("N"),
                    Value::Null,
                    json!("Y"),
                    json!("Order id"),
                ],
                vec![
                    json!("NOTE"),
                    json!("VARCHAR(16777216)"),
                    json!("COLUMN"),
                    json!("Y"),
                    Value::Null,
                    json!("N"),
                    Value::Null,
                ],
            ],
        ),
    );
    let client = client(config(&fake)).await;
    let first = ok_call(&client, "database_list", json!({})).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 100);
    assert_eq!(first["items"][0]["name"], "DB000");
    assert_eq!(first["items"][0]["created_on"], "2021-03-19T17:06:59Z");
    assert_eq!(first["truncated"], true);
    let second = ok_call(
        &client,
        "database_list",
        json!({"cursor": first["next_cursor"]}),
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 50);
    assert_eq!(second["items"][0]["name"], "DB100");
    assert!(second.get("next_cursor").is_none());
    assert_eq!(
        fake.executions().len(),
        1,
        "the second page reads the same result by handle"
    );

    ok_call(&client, "schema_list", json!({"database": "my \"db"})).await;
    assert_eq!(
        fake.executions().last().unwrap(),
        "SHOW SCHEMAS IN DATABASE \"my \"\"db\""
    );

    let tables = ok_call(
        &client,
        "table_list",
        json!({"database": "SALES", "schema": "PUBLIC"}),
    )
    .await;
    assert_eq!(
        tables["items"][0],
        json!({"name": "ORDERS", "kind": "TABLE", "rows": 1200, "bytes": 40960, "comment": "One row per order", "uri": "snowflake://SALES/PUBLIC/ORDERS"})
    );
    assert_eq!(
        fake.executions().last().unwrap(),
        "SHOW OBJECTS IN SCHEMA \"SALES\".\"PUBLIC\""
    );

    let d = ok_call(
        &client,
        "table_describe",
        json!({"database": "SALES", "schema": "PUBLIC", "table": "ORDERS"}),
    )
    .await;
    assert_eq!(d["comment"], "One row per order");
    assert_eq!(
        d["columns"][0],
        json!({"name": "ID", "type": "NUMBER(38,0)", "nullable": false, "primary_key": true, "comment": "Order id"})
    );
    assert_eq!(d["columns"][1]["nullable"], true);

    // Resources: listed from what table_list saw, read through DESCRIBE TABLE.
    let listed = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "snowflake://SALES/PUBLIC/ORDERS",
            "snowflake://SALES/PUBLIC/V_ORDERS"
        ]
    );
    assert_eq!(listed[0].description.as_deref(), Some("One row per order"));
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "snowflake://SALES/PUBLIC/ORDERS",
        ))
        .await
        .unwrap();
    let text = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["columns"][0]["comment"], "Order id");
}

#[tokio::test]
async fn injection_through_names_stays_one_quoted_identifier() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT * FROM",
        Reply::rows(&[("A", "fixed")], vec![vec![json!("1")]]),
    );
    let client = client(config(&fake)).await;
    let evil = "ORDERS\" ; DROP TABLE USERS; --";
    let out = ok_call(
        &client,
        "table_sample",
        json!({"database": "SALES", "schema": "PUBLIC", "table": evil, "rows": 3}),
    )
    .await;
    assert_eq!(out["rows"], json!([[1]]));
    let sql = fake.executions().last().unwrap().clone();
    assert_eq!(
        sql,
        "SELECT * FROM \"SALES\".\"PUBLIC\".\"ORDERS\"\" ; DROP TABLE USERS; --\" LIMIT 3"
    );
    // The statement is still one SELECT: the read-only check agrees.
    assert!(sophia_snowflake::sql::check_read_only(&sql).is_ok());
    for (tool, args) in [
        ("schema_list", json!({"database": "a\nb"})),
        ("table_list", json!({"database": "", "schema": "PUBLIC"})),
        ("warehouse_suspend", json!({"name": "x".repeat(300)})),
        ("grant_list", json!({"to_role": "R\u{0}"})),
    ] {
        let text = err_call(&client, tool, args).await;
        assert!(text.starts_with("invalid input:"), "{tool}: {text}");
    }
    assert_eq!(
        fake.executions().len(),
        1,
        "refused names never reach Snowflake"
    );
}

#[tokio::test]
async fn warehouses_change_and_read_back() {
    let fake = Fake::start().await;
    let client = client(config(&fake)).await;
    let list = ok_call(&client, "warehouse_list", json!({})).await;
    assert_eq!(
        list["items"][0],
        json!({"name": "COMPUTE_WH", "state": "STARTED", "size": "X-Small", "type": "STANDARD", "auto_suspend_s": 600, "auto_resume": true, "running": 2, "queued": 1, "min_cluster_count": 1, "max_cluster_count": 1, "owner": "SYSADMIN"})
    );
    assert!(list["items"][1].get("auto_suspend_s").is_none());

    let s = ok_call(&client, "warehouse_suspend", json!({"name": "COMPUTE_WH"})).await;
    assert_eq!(s["warehouse"]["state"], "SUSPENDED");
    assert!(s.get("not_applied").is_none());
    let r = ok_call(&client, "warehouse_resume", json!({"name": "etl wh"})).await;
    assert_eq!(r["warehouse"]["state"], "STARTED");
    assert!(
        fake.executions()
            .contains(&"ALTER WAREHOUSE \"etl wh\" RESUME IF SUSPENDED".to_string())
    );

    let u = ok_call(&client, "warehouse_update", json!({"name": "COMPUTE_WH", "size": "2X-Large", "auto_suspend_s": 300, "auto_resume": false})).await;
    assert_eq!(u["warehouse"]["size"], "2X-Large");
    assert_eq!(u["warehouse"]["auto_suspend_s"], 300);
    assert_eq!(u["warehouse"]["auto_resume"], false);
    assert!(u.get("not_applied").is_none(), "{u}");
    assert!(fake.executions().contains(&"ALTER WAREHOUSE \"COMPUTE_WH\" SET WAREHOUSE_SIZE = 'XXLARGE' AUTO_SUSPEND = 300 AUTO_RESUME = FALSE".to_string()));

    // A value that did not take is reported, not claimed.
    fake.state.lock().unwrap().warehouses[0].name = "COMPUTE_WH".into();
    let text = err_call(
        &client,
        "warehouse_update",
        json!({"name": "COMPUTE_WH", "auto_suspend_s": 30}),
    )
    .await;
    assert!(text.contains("at least 60"), "{text}");
    let text = err_call(&client, "warehouse_update", json!({"name": "COMPUTE_WH"})).await;
    assert!(text.contains("nothing to change"), "{text}");
    let text = err_call(&client, "warehouse_suspend", json!({"name": "compute_wh"})).await;
    assert!(
        text.contains("does not exist") && text.contains("case-sensitive"),
        "{text}"
    );
    let text = err_call(
        &client,
        "warehouse_update",
        json!({"name": "COMPUTE_WH", "size": "Huge"}),
    )
    .await;
    assert!(!text.is_empty());
}

#[tokio::test]
async fn cost_history_status_cancel_bind_every_value() {
    let fake = Fake::start().await;
    fake.on(
        "SELECT WAREHOUSE_NAME, TO_CHAR",
        Reply::rows(
            &[
                ("WAREHOUSE_NAME", "text"),
                ("DAY", "text"),
                ("CREDITS", "fixed"),
                ("CREDITS_COMPUTE", "fixed"),
                ("CREDITS_CLOUD_SERVICES", "fixed"),
            ],
            vec![vec![
                json!("COMPUTE_WH"),
                json!("2024-05-02"),
                json!("12.500000000"),
                json!("12.000000000"),
                json!("0.500000000"),
            ]],
        ),
    );
    let q_cols = [
        ("QUERY_ID", "text"),
        ("USER_NAME", "text"),
        ("WAREHOUSE_NAME", "text"),
        ("EXECUTION_STATUS", "text"),
        ("START_TIME", "timestamp_ltz"),
        ("TOTAL_ELAPSED_TIME", "fixed"),
        ("BYTES_SCANNED", "fixed"),
        ("QUERY_TEXT", "text"),
    ];
    let q_row = vec![
        json!("01b2c3d4-0000-1234-0000-000100020003"),
        json!("ANA"),
        json!("COMPUTE_WH"),
        json!("RUNNING"),
        json!("1714608000.000000000"),
        json!("93000"),
        json!("1048576"),
        json!("select * from huge"),
    ];
    fake.on("SELECT QUERY_ID", Reply::rows(&q_cols, vec![q_row.clone()]));
    fake.on(
        "SELECT SYSTEM$CANCEL_QUERY",
        Reply::rows(
            &[("R", "text")],
            vec![vec![json!(
                "query [01b2c3d4-0000-1234-0000-000100020003] terminated."
            )]],
        ),
    );
    fake.on(
        "SELECT DATABASE_NAME",
        Reply::rows(
            &[
                ("DATABASE_NAME", "text"),
                ("DAY", "text"),
                ("AVERAGE_DATABASE_BYTES", "real"),
                ("AVERAGE_FAILSAFE_BYTES", "real"),
            ],
            vec![vec![
                json!("SALES"),
                json!("2024-05-01"),
                json!("1.5E9"),
                json!("0"),
            ]],
        ),
    );
    let client = client(config(&fake)).await;

    let c = ok_call(
        &client,
        "cost_credits",
        json!({"days": 30, "warehouse": "COMPUTE_WH"}),
    )
    .await;
    assert_eq!(
        c["items"][0],
        json!({"warehouse": "COMPUTE_WH", "day": "2024-05-02", "credits": 12.5, "credits_compute": 12.0, "credits_cloud_services": 0.5})
    );
    let b = fake.submissions().last().unwrap().body["bindings"].clone();
    assert_eq!(b["1"], json!({"type": "FIXED", "value": "-30"}));
    assert_eq!(b["2"], json!({"type": "TEXT", "value": "COMPUTE_WH"}));

    let h = ok_call(
        &client,
        "query_history",
        json!({"user": "ANA", "status": "running", "start": "2024-05-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(h["items"][0]["elapsed_ms"], 93000);
    assert_eq!(h["items"][0]["start_time"], "2024-05-02T00:00:00Z");
    let b = fake.submissions().last().unwrap().body["bindings"].clone();
    assert_eq!(b["1"]["value"], "2024-05-01T00:00:00Z");
    assert_eq!(b["2"]["value"], Value::Null);
    assert_eq!(b["3"]["value"], "ANA");
    assert_eq!(b["7"]["value"], "RUNNING");

    let t = ok_call(
        &client,
        "query_top",
        json!({"by": "bytes_scanned", "limit": 5}),
    )
    .await;
    assert_eq!(t["items"][0]["bytes_scanned"], 1048576);
    assert!(
        fake.executions()
            .last()
            .unwrap()
            .contains("ORDER BY BYTES_SCANNED DESC NULLS LAST LIMIT 5")
    );

    let s = ok_call(
        &client,
        "query_status",
        json!({"query_id": "01b2c3d4-0000-1234-0000-000100020003"}),
    )
    .await;
    assert_eq!(s["status"], "RUNNING");

    let x = ok_call(
        &client,
        "query_cancel",
        json!({"query_id": "01b2c3d4-0000-1234-0000-000100020003"}),
    )
    .await;
    assert!(x["message"].as_str().unwrap().contains("terminated"));
    assert_eq!(
        x["query"]["query_id"],
        "01b2c3d4-0000-1234-0000-000100020003"
    );
    let cancel_sub = fake
        .submissions()
        .into_iter()
        .find(|s| s.body["statement"] == "SELECT SYSTEM$CANCEL_QUERY(?)")
        .unwrap();
    assert_eq!(
        cancel_sub.body["bindings"]["1"],
        json!({"type": "TEXT", "value": "01b2c3d4-0000-1234-0000-000100020003"})
    );
    let text = err_call(
        &client,
        "query_cancel",
        json!({"query_id": "x'); drop table t; --"}),
    )
    .await;
    assert!(text.starts_with("invalid input"), "{text}");

    let st = ok_call(&client, "storage_usage", json!({})).await;
    assert_eq!(
        st["items"][0],
        json!({"database": "SALES", "day": "2024-05-01", "database_bytes": 1.5e9, "failsafe_bytes": 0.0})
    );
}

#[tokio::test]
async fn access_users_roles_grants() {
    let fake = Fake::start().await;
    fake.on(
        "SHOW USERS",
        Reply::rows(
            &[
                ("name", "text"),
                ("login_name", "text"),
                ("disabled", "text"),
                ("default_role", "text"),
                ("has_rsa_public_key", "text"),
            ],
            vec![vec![
                json!("SOPHIA_BOT"),
                json!("SOPHIA_BOT"),
                json!("false"),
                json!("SOPHIA_ADMIN"),
                json!("true"),
            ]],
        ),
    );
    fake.on(
        "SHOW ROLES",
        Reply::rows(
            &[
                ("name", "text"),
                ("assigned_to_users", "fixed"),
                ("granted_roles", "fixed"),
            ],
            vec![vec![json!("SOPHIA_ADMIN"), json!("1"), json!("0")]],
        ),
    );
    fake.on(
        "SHOW GRANTS",
        Reply::rows(
            &[
                ("created_on", "timestamp_ltz"),
                ("privilege", "text"),
                ("granted_on", "text"),
                ("name", "text"),
                ("granted_to", "text"),
                ("grantee_name", "text"),
                ("grant_option", "text"),
                ("granted_by", "text"),
            ],
            vec![vec![
                json!("0.0"),
                json!("SELECT"),
                json!("TABLE"),
                json!("SALES.PUBLIC.ORDERS"),
                json!("ROLE"),
                json!("ANALYST"),
                json!("false"),
                json!("SYSADMIN"),
            ]],
        ),
    );
    let client = client(config(&fake)).await;
    let u = ok_call(&client, "user_list", json!({})).await;
    assert_eq!(
        u["items"][0],
        json!({"name": "SOPHIA_BOT", "login_name": "SOPHIA_BOT", "disabled": false, "default_role": "SOPHIA_ADMIN", "has_rsa_public_key": true})
    );
    let r = ok_call(&client, "role_list", json!({})).await;
    assert_eq!(r["items"][0]["assigned_to_users"], 1);
    let g = ok_call(
        &client,
        "grant_list",
        json!({"object_type": "TABLE", "object": ["SALES", "PUBLIC", "ORDERS"]}),
    )
    .await;
    assert_eq!(g["items"][0]["grantee_name"], "ANALYST");
    assert_eq!(
        fake.executions().last().unwrap(),
        "SHOW GRANTS ON TABLE \"SALES\".\"PUBLIC\".\"ORDERS\""
    );
    ok_call(&client, "grant_list", json!({"to_role": "ANALYST"})).await;
    assert_eq!(
        fake.executions().last().unwrap(),
        "SHOW GRANTS TO ROLE \"ANALYST\""
    );
    ok_call(&client, "grant_list", json!({"to_user": "ana"})).await;
    assert_eq!(
        fake.executions().last().unwrap(),
        "SHOW GRANTS TO USER \"ana\""
    );
    let text = err_call(
        &client,
        "grant_list",
        json!({"to_role": "A", "to_user": "B"}),
    )
    .await;
    assert!(text.contains("exactly one"), "{text}");
    let text = err_call(
        &client,
        "grant_list",
        json!({"object_type": "TABLE", "object": ["ORDERS"]}),
    )
    .await;
    assert!(text.contains("3 part"), "{text}");
}

#[tokio::test]
async fn query_write_runs_any_statement_once_and_reports_snowflakes_answer() {
    let fake = Fake::start().await;
    fake.on(
        "INSERT",
        Reply::rows(
            &[("number of rows inserted", "fixed")],
            vec![vec![json!("3")]],
        ),
    );
    let mut cfg = config(&fake);
    cfg.allow_write = true;
    let client = client(cfg).await;
    let out = ok_call(&client, "query_write", json!({"statement": "insert into t values (?), (?), (?)", "bindings": [{"type": "FIXED", "value": "1"}, {"type": "FIXED", "value": "2"}, {"type": "FIXED", "value": "3"}]})).await;
    assert_eq!(out["kind"], "INSERT");
    assert_eq!(out["rows"], json!([[3]]));
    assert_eq!(out["columns"][0]["name"], "number of rows inserted");
    let text = err_call(
        &client,
        "query_write",
        json!({"statement": "delete from a; delete from b"}),
    )
    .await;
    assert!(text.contains("more than one statement"), "{text}");
    assert_eq!(fake.executions().len(), 1);
    // Without SNOWFLAKE_ALLOW_WRITE the tool does not exist.
    let ro = common::client(config(&fake)).await;
    let r = ro
        .call_tool(
            rmcp::model::CallToolRequestParams::new("query_write").with_arguments(
                json!({"statement": "delete from t"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await;
    assert!(r.is_err() || r.unwrap().is_error == Some(true));
    assert_eq!(fake.executions().len(), 1);
}

#[tokio::test]
async fn secrets_stay_out_of_debug_health_and_errors() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.private_key_path = None;
    cfg.token = Some(TOKEN.to_string().into());
    assert!(!format!("{cfg:?}").contains(TOKEN));
    let s = server(cfg);
    let health = s.health().await.to_string();
    assert!(!health.contains(TOKEN), "{health}");
    assert!(health.contains("SNOWFLAKE_TOKEN (OAUTH)"), "{health}");
    let key = std::fs::read_to_string(fixture("test_only_rsa_key.p8")).unwrap();
    let key_line = key.lines().nth(1).unwrap();
    let s = server(config(&fake));
    let health = s.health().await.to_string();
    assert!(
        !health.contains(key_line) && health.contains("key-pair JWT as XY12345.SOPHIA_BOT"),
        "{health}"
    );
}

#[test]
fn schema_snapshots_match_and_every_tool_is_annotated() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tools = rt.block_on(async {
        let fake = Fake::start().await;
        let mut cfg = config(&fake);
        cfg.allow_write = true;
        server(cfg).tools()
    });
    assert_eq!(tools.len(), 20);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/snowflake");
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
}
