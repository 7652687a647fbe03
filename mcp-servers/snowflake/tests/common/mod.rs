//! A fake Snowflake SQL API v2 on 127.0.0.1, answering as Snowflake's reference documents it
//! (docs.snowflake.com/en/developer-guide/sql-api/reference, handling-responses, handling-errors,
//! authenticating): `POST /api/v2/statements?requestId=…[&retry=true]` → 200 ResultSet, 202
//! QueryStatus (`code` 333334) or 422 QueryFailureStatus `{code, sqlState, message,
//! statementHandle}`; `GET /api/v2/statements/{handle}?partition=N`; `POST …/cancel`; 401
//! `{"code":"390144","message":"JWT token is invalid. …"}`. Key-pair JWTs are verified: RS256
//! signature with ring's `UnparsedPublicKey` against the openssl-written public key, `iss`, `sub`,
//! `iat`/`exp`, and the `X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT` header. A repeated
//! `requestId` with `retry=true` never runs the statement again.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mcp_core::testing::Client;
use mcp_core::upstream::RetryPolicy;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use sophia_snowflake::{ClientOptions, SnowflakeConfig, SnowflakeServer};

pub const ACCOUNT: &str = "xy12345.us-east-2.aws";
pub const USER: &str = "sophia_bot";
pub const TOKEN: &str = "fake-oauth-token-9f8e7d6c5b4a";

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// What a statement answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A result: rowType entries and rows of strings/nulls, cut into partitions.
    Rows {
        columns: Vec<Value>,
        rows: Vec<Vec<Value>>,
        partition_size: usize,
    },
    /// `total` generated rows `[ID FIXED, NAME TEXT]`, cut into partitions.
    Generated { total: usize, partition_size: usize },
    /// 422 with this QueryFailureStatus.
    Error {
        code: &'static str,
        sql_state: &'static str,
        message: String,
    },
    /// 202 this many times, then the inner reply.
    Pending(u32, Box<Reply>),
    /// 202 forever (until cancelled).
    Hang,
    /// This status and body, as is (a proxy error page, a 408, a 503).
    Raw(u16, String),
}

impl Reply {
    pub fn rows(columns: &[(&str, &str)], rows: Vec<Vec<Value>>) -> Self {
        Reply::Rows {
            columns: columns
                .iter()
                .map(|(n, t)| json!({"name": n, "database": "", "schema": "", "table": "", "type": t, "scale": if *t == "fixed" { json!(0) } else { Value::Null }, "precision": if *t == "fixed" { json!(38) } else { Value::Null }, "nullable": true, "byteLength": null, "length": null, "collation": null}))
                .collect(),
            rows,
            partition_size: 1000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Wh {
    pub name: String,
    pub state: String,
    pub size: String,
    pub auto_suspend: Option<i64>,
    pub auto_resume: bool,
    pub running: i64,
    pub queued: i64,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Value,
    pub token_type: Option<String>,
    pub bearer: Option<String>,
}

#[derive(Debug, Clone)]
struct Running {
    reply: Reply,
    polls_left: u32,
    cancelled: bool,
}

pub enum Auth {
    KeyPair {
        pkcs1: Vec<u8>,
        issuer: String,
        subject: String,
    },
    Token {
        token: String,
        kind: String,
    },
}

pub struct FakeState {
    pub rules: Vec<(String, Reply)>,
    pub warehouses: Vec<Wh>,
    pub log: Vec<Logged>,
    statements: HashMap<String, Running>,
    by_request: HashMap<String, String>,
    /// Statements actually run (a retried requestId does not count).
    pub executions: Vec<String>,
    /// Answer 401 to this many coming requests.
    pub reject_next: u32,
    /// Answer 429 to this many coming submissions.
    pub throttle_next: u32,
    pub cancels: Vec<String>,
    pub auth: Auth,
    pub jwts: Vec<String>,
}

#[derive(Clone)]
pub struct Fake {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn err(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

fn key_pair_auth() -> Auth {
    let pem = std::fs::read_to_string(fixture("test_only_rsa_key.pub")).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = STANDARD.decode(b64).unwrap();
    // SPKI of a 2048-bit key: a 24-byte header, then the PKCS#1 RSAPublicKey.
    assert_eq!(&spki[..4], &[0x30, 0x82, 0x01, 0x22]);
    let fp = std::fs::read_to_string(fixture("test_only_rsa_key.fingerprint")).unwrap();
    Auth::KeyPair {
        pkcs1: spki[24..].to_vec(),
        issuer: format!("XY12345.SOPHIA_BOT.SHA256:{}", fp.trim()),
        subject: "XY12345.SOPHIA_BOT".into(),
    }
}

impl Fake {
    pub async fn start() -> Self {
        Self::start_with(key_pair_auth()).await
    }

    pub async fn start_token(kind: &str) -> Self {
        Self::start_with(Auth::Token {
            token: TOKEN.into(),
            kind: kind.into(),
        })
        .await
    }

    async fn start_with(auth: Auth) -> Self {
        let state = Arc::new(Mutex::new(FakeState {
            rules: Vec::new(),
            warehouses: vec![
                Wh {
                    name: "COMPUTE_WH".into(),
                    state: "STARTED".into(),
                    size: "X-Small".into(),
                    auto_suspend: Some(600),
                    auto_resume: true,
                    running: 2,
                    queued: 1,
                },
                Wh {
                    name: "etl wh".into(),
                    state: "SUSPENDED".into(),
                    size: "Large".into(),
                    auto_suspend: None,
                    auto_resume: false,
                    running: 0,
                    queued: 0,
                },
            ],
            log: Vec::new(),
            statements: HashMap::new(),
            by_request: HashMap::new(),
            executions: Vec::new(),
            reject_next: 0,
            throttle_next: 0,
            cancels: Vec::new(),
            auth,
            jwts: Vec::new(),
        }));
        let app = Router::new()
            .route("/api/v2/statements", post(submit))
            .route("/api/v2/statements/{handle}", get(status))
            .route("/api/v2/statements/{handle}/cancel", post(cancel))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake {
            url: format!("http://{addr}"),
            state,
        }
    }

    pub fn on(&self, prefix: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .rules
            .push((prefix.to_uppercase(), reply));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn executions(&self) -> Vec<String> {
        self.state.lock().unwrap().executions.clone()
    }

    pub fn submissions(&self) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.method == "POST" && l.path == "/api/v2/statements")
            .collect()
    }

    pub fn partition_gets(&self) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.method == "GET" && l.query.contains_key("partition"))
            .collect()
    }
}

/// Verify the request's credentials as Snowflake would; `Err` is the 401 to send.
fn check_auth(st: &mut FakeState, headers: &HeaderMap) -> Result<(), Response> {
    let bad = || {
        err(
            StatusCode::UNAUTHORIZED,
            "390144",
            "JWT token is invalid. [7fb87e37-2f26-4a10-9f9c-72276ea898bf]",
        )
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(bad)?
        .to_string();
    let kind = headers
        .get("x-snowflake-authorization-token-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "391903",
            "Accept header must be application/json",
        ));
    }
    if headers.get("user-agent").is_none() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "391903",
            "User-Agent is required",
        ));
    }
    match &st.auth {
        Auth::Token { token, kind: want } => {
            if bearer != *token || kind != *want {
                return Err(err(
                    StatusCode::UNAUTHORIZED,
                    "390303",
                    "Invalid OAuth access token. [1]",
                ));
            }
        }
        Auth::KeyPair {
            pkcs1,
            issuer,
            subject,
        } => {
            if kind != "KEYPAIR_JWT" {
                return Err(bad());
            }
            let parts: Vec<&str> = bearer.split('.').collect();
            if parts.len() != 3 {
                return Err(bad());
            }
            let header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).map_err(|_| bad())?)
                    .map_err(|_| bad())?;
            if header["alg"] != "RS256" {
                return Err(bad());
            }
            let sig = URL_SAFE_NO_PAD.decode(parts[2]).map_err(|_| bad())?;
            let key = ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                pkcs1,
            );
            key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
                .map_err(|_| bad())?;
            let claims: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).map_err(|_| bad())?)
                    .map_err(|_| bad())?;
            let (iat, exp) = (
                claims["iat"].as_u64().unwrap_or(0),
                claims["exp"].as_u64().unwrap_or(0),
            );
            if claims["iss"] != *issuer
                || claims["sub"] != *subject
                || exp <= now()
                || exp - iat > 3600
                || iat > now() + 60
            {
                return Err(bad());
            }
            st.jwts.push(bearer.clone());
        }
    }
    Ok(())
}

fn log(
    st: &mut FakeState,
    method: &str,
    path: &str,
    q: &HashMap<String, String>,
    body: Value,
    headers: &HeaderMap,
) {
    st.log.push(Logged {
        method: method.into(),
        path: path.into(),
        query: q.clone(),
        body,
        token_type: headers
            .get("x-snowflake-authorization-token-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        bearer: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
}

fn size_shown(literal: &str) -> String {
    match literal {
        "XSMALL" => "X-Small",
        "SMALL" => "Small",
        "MEDIUM" => "Medium",
        "LARGE" => "Large",
        "XLARGE" => "X-Large",
        "XXLARGE" => "2X-Large",
        "XXXLARGE" => "3X-Large",
        other => other,
    }
    .to_string()
}

/// SHOW WAREHOUSES and ALTER WAREHOUSE against the fake's state.
fn warehouse_reply(st: &mut FakeState, sql: &str) -> Option<Reply> {
    let upper = sql.trim().to_uppercase();
    if upper == "SHOW WAREHOUSES" {
        let rows = st
            .warehouses
            .iter()
            .map(|w| {
                vec![
                    json!(w.name),
                    json!(w.state),
                    json!("STANDARD"),
                    json!(w.size),
                    json!("1"),
                    json!("1"),
                    json!(w.running.to_string()),
                    json!(w.queued.to_string()),
                    w.auto_suspend
                        .map(|s| json!(s.to_string()))
                        .unwrap_or(Value::Null),
                    json!(w.auto_resume.to_string()),
                    json!("SYSADMIN"),
                    json!(""),
                    json!("null"),
                ]
            })
            .collect();
        return Some(Reply::rows(
            &[
                ("name", "text"),
                ("state", "text"),
                ("type", "text"),
                ("size", "text"),
                ("min_cluster_count", "fixed"),
                ("max_cluster_count", "fixed"),
                ("running", "fixed"),
                ("queued", "fixed"),
                ("auto_suspend", "fixed"),
                ("auto_resume", "text"),
                ("owner", "text"),
                ("comment", "text"),
                ("resource_monitor", "text"),
            ],
            rows,
        ));
    }
    let rest = sql.trim().strip_prefix("ALTER WAREHOUSE \"")?;
    // The quoted name, "" unescaped.
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    loop {
        match chars.next()? {
            '"' if chars.peek() == Some(&'"') => {
                chars.next();
                name.push('"');
            }
            '"' => break,
            c => name.push(c),
        }
    }
    let action: String = chars.collect();
    let not_found = Reply::Error {
        code: "002003",
        sql_state: "02000",
        message: format!(
            "SQL compilation error:\nObject '{name}' does not exist or not authorized."
        ),
    };
    let Some(w) = st.warehouses.iter_mut().find(|w| w.name == name) else {
        return Some(not_found);
    };
    let words: Vec<String> = action.split_whitespace().map(|s| s.to_string()).collect();
    match words.first().map(String::as_str) {
        Some("SUSPEND") => w.state = "SUSPENDED".into(),
        Some("RESUME") => w.state = "STARTED".into(),
        Some("SET") => {
            let mut i = 1;
            while i + 2 < words.len() + 1 && i < words.len() {
                let (k, v) = (&words[i], words.get(i + 2).cloned().unwrap_or_default());
                match k.as_str() {
                    "WAREHOUSE_SIZE" => w.size = size_shown(v.trim_matches('\'')),
                    "AUTO_SUSPEND" => w.auto_suspend = v.parse().ok().filter(|n| *n != 0),
                    "AUTO_RESUME" => w.auto_resume = v == "TRUE",
                    _ => {}
                }
                i += 3;
            }
        }
        _ => {
            return Some(Reply::Error {
                code: "001003",
                sql_state: "42000",
                message: "SQL compilation error: syntax error".into(),
            });
        }
    }
    Some(Reply::rows(
        &[("status", "text")],
        vec![vec![json!("Statement executed successfully.")]],
    ))
}

fn rule_reply(st: &mut FakeState, sql: &str) -> Reply {
    if let Some(r) = warehouse_reply(st, sql) {
        return r;
    }
    let upper = sql.trim().to_uppercase();
    st.rules
        .iter()
        .find(|(prefix, _)| upper.starts_with(prefix.as_str()))
        .map(|(_, r)| r.clone())
        .unwrap_or(Reply::Error {
            code: "002003",
            sql_state: "02000",
            message: "SQL compilation error:\nObject 'X' does not exist or not authorized.".into(),
        })
}

fn generated_row(i: usize) -> Vec<Value> {
    vec![json!(i.to_string()), json!(format!("name-{i}"))]
}

fn result_body(handle: &str, reply: &Reply, partition: usize) -> Response {
    let (columns, total, psize): (Vec<Value>, usize, usize) = match reply {
        Reply::Rows {
            columns,
            rows,
            partition_size,
        } => (columns.clone(), rows.len(), *partition_size),
        Reply::Generated {
            total,
            partition_size,
        } => (
            vec![
                json!({"name": "ID", "type": "fixed", "scale": 0, "precision": 38, "nullable": false}),
                json!({"name": "NAME", "type": "text", "nullable": true, "length": 16777216}),
            ],
            *total,
            *partition_size,
        ),
        _ => unreachable!(),
    };
    let partitions = total.div_ceil(psize).max(1);
    if partition >= partitions {
        return err(
            StatusCode::BAD_REQUEST,
            "391917",
            "Invalid partition number",
        );
    }
    let start = partition * psize;
    let end = (start + psize).min(total);
    let data: Vec<Vec<Value>> = (start..end)
        .map(|i| match reply {
            Reply::Rows { rows, .. } => rows[i].clone(),
            _ => generated_row(i),
        })
        .collect();
    if partition > 0 {
        return axum::Json(json!({"data": data})).into_response();
    }
    let info: Vec<Value> = (0..partitions)
        .map(|p| {
            let n = (total - p * psize).min(psize);
            json!({"rowCount": n, "uncompressedSize": n * 40, "compressedSize": n * 10})
        })
        .collect();
    axum::Json(json!({
        "resultSetMetaData": {"numRows": total, "format": "jsonv2", "partitionInfo": info, "rowType": columns},
        "data": data,
        "code": "090001",
        "statementStatusUrl": format!("/api/v2/statements/{handle}?requestId=x"),
        "sqlState": "00000",
        "statementHandle": handle,
        "message": "Statement executed successfully.",
        "createdOn": 1620151693299u64,
    }))
    .into_response()
}

fn answer(handle: &str, run: &mut Running, partition: usize) -> Response {
    if run.cancelled {
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"code": "000604", "sqlState": "57014", "message": "SQL execution canceled", "statementHandle": handle}))).into_response();
    }
    match &run.reply {
        Reply::Hang => pending(handle),
        Reply::Raw(status, body) => (
            StatusCode::from_u16(*status).unwrap(),
            [("content-type", if body.starts_with('{') { "application/json" } else { "text/html" })],
            body.replace("{handle}", handle),
        )
            .into_response(),
        Reply::Pending(_, inner) => {
            if run.polls_left > 0 {
                run.polls_left -= 1;
                pending(handle)
            } else {
                let inner = (**inner).clone();
                run.reply = inner;
                answer(handle, run, partition)
            }
        }
        Reply::Error { code, sql_state, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"code": code, "sqlState": sql_state, "message": message, "statementHandle": handle, "createdOn": 1620151693299u64, "statementStatusUrl": format!("/api/v2/statements/{handle}")})),
        )
            .into_response(),
        r => result_body(handle, r, partition),
    }
}

fn pending(handle: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "code": "333334",
            "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
            "statementHandle": handle,
            "statementStatusUrl": format!("/api/v2/statements/{handle}"),
        })),
    )
        .into_response()
}

async fn submit(
    State(state): State<Arc<Mutex<FakeState>>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    log(
        &mut st,
        "POST",
        "/api/v2/statements",
        &q,
        body.clone(),
        &headers,
    );
    if st.reject_next > 0 {
        st.reject_next -= 1;
        return err(
            StatusCode::UNAUTHORIZED,
            "390144",
            "JWT token is invalid. [5b0c1f7e-0d1e-4c2b-9d59-1b2f3c4d5e6f]",
        );
    }
    if let Err(r) = check_auth(&mut st, &headers) {
        return r;
    }
    if st.throttle_next > 0 {
        st.throttle_next -= 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            axum::Json(json!({"code": "390120", "message": "Too many requests"})),
        )
            .into_response();
    }
    let Some(request_id) = q.get("requestId").cloned() else {
        return err(
            StatusCode::BAD_REQUEST,
            "390140",
            "requestId is required by this fake",
        );
    };
    let sql = body["statement"].as_str().unwrap_or_default().to_string();
    if sql.trim().is_empty() {
        return err(StatusCode::BAD_REQUEST, "391906", "statement is required");
    }
    // A resubmission of a known requestId: the same statement, never run again.
    if let Some(handle) = st.by_request.get(&request_id).cloned() {
        if q.get("retry").map(String::as_str) != Some("true") {
            return err(
                StatusCode::CONFLICT,
                "391908",
                "requestId was already used; set retry=true to resubmit",
            );
        }
        let mut run = st.statements.get(&handle).cloned().unwrap();
        let resp = answer(&handle, &mut run, 0);
        st.statements.insert(handle, run);
        return resp;
    }
    let reply = rule_reply(&mut st, &sql);
    st.executions.push(sql);
    let handle = uuid::Uuid::new_v4().to_string();
    st.by_request.insert(request_id, handle.clone());
    let polls_left = match &reply {
        Reply::Pending(n, _) => *n,
        _ => 0,
    };
    let mut run = Running {
        reply,
        polls_left,
        cancelled: false,
    };
    let resp = match &run.reply {
        Reply::Pending(..) | Reply::Hang => pending(&handle),
        _ => answer(&handle, &mut run, 0),
    };
    st.statements.insert(handle, run);
    resp
}

async fn status(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(handle): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut st = state.lock().unwrap();
    log(
        &mut st,
        "GET",
        &format!("/api/v2/statements/{handle}"),
        &q,
        Value::Null,
        &headers,
    );
    if st.reject_next > 0 {
        st.reject_next -= 1;
        return err(
            StatusCode::UNAUTHORIZED,
            "390144",
            "JWT token is invalid. [2]",
        );
    }
    if let Err(r) = check_auth(&mut st, &headers) {
        return r;
    }
    let partition: usize = q.get("partition").and_then(|p| p.parse().ok()).unwrap_or(0);
    let Some(mut run) = st.statements.get(&handle).cloned() else {
        return err(StatusCode::NOT_FOUND, "000709", "Statement not found");
    };
    let resp = answer(&handle, &mut run, partition);
    st.statements.insert(handle, run);
    resp
}

async fn cancel(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(handle): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut st = state.lock().unwrap();
    log(
        &mut st,
        "POST",
        &format!("/api/v2/statements/{handle}/cancel"),
        &q,
        Value::Null,
        &headers,
    );
    if let Err(r) = check_auth(&mut st, &headers) {
        return r;
    }
    st.cancels.push(handle.clone());
    if let Some(run) = st.statements.get_mut(&handle) {
        run.cancelled = true;
    }
    axum::Json(json!({"code": "000604", "sqlState": "57014", "message": "SQL execution canceled", "statementHandle": handle})).into_response()
}

pub fn fast_options() -> ClientOptions {
    ClientOptions {
        http_timeout: Duration::from_secs(10),
        poll_initial: Duration::from_millis(5),
        poll_max: Duration::from_millis(20),
        timeout_grace: Duration::from_millis(200),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_total: Duration::from_secs(5),
        },
    }
}

/// Key-pair configuration against the fake.
pub fn config(fake: &Fake) -> SnowflakeConfig {
    SnowflakeConfig {
        account: Some(ACCOUNT.into()),
        user: Some(USER.into()),
        private_key_path: Some(fixture("test_only_rsa_key.p8")),
        base_url: Some(fake.url.clone()),
        options: fast_options(),
        ..Default::default()
    }
}

pub fn server(config: SnowflakeConfig) -> SnowflakeServer {
    SnowflakeServer::new(config).unwrap()
}

pub async fn client(config: SnowflakeConfig) -> Client {
    mcp_core::testing::in_process(server(config)).await.unwrap()
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(tool.to_string())
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
}

pub async fn ok_call(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args).await;
    assert_ne!(r.is_error, Some(true), "{tool} failed: {:?}", r.content);
    r.structured_content
        .unwrap_or_else(|| panic!("{tool}: no structured content"))
}

pub async fn err_call(client: &Client, tool: &str, args: Value) -> String {
    let r = call(client, tool, args).await;
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} should fail: {:?}",
        r.structured_content
    );
    r.content[0]
        .as_text()
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_sophia-snowflake"))
}
