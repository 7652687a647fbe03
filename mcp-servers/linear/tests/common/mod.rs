//! A fake of Linear's GraphQL API on 127.0.0.1, answering as Linear's docs show
//! (<https://linear.app/developers/graphql>, /pagination, /filtering, /rate-limiting):
//! `POST` of `{query, variables, operationName}`, `Authorization: <API_KEY>` or
//! `Bearer <OAUTH_TOKEN>` (the wrong form is refused with AUTHENTICATION_ERROR and HTTP 400),
//! connections as `nodes` + `pageInfo { hasNextPage endCursor }`, "Entity not found" with
//! `data: null`, RATELIMITED with HTTP 400 and `X-RateLimit-Requests-*` headers.
//!
//! It dispatches on `operationName`, evaluates the filters we send, and records every request;
//! it flags any request whose query text contains one of its variables' string values (user
//! input must travel only in variables).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use mcp_core::testing::Client;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use sophia_linear::{Credential, LinearConfig, LinearServer};

pub const API_KEY: &str = "lin_api_fake0123456789secret";
pub const OAUTH_TOKEN: &str = "lin_oauth_fake0123456789secret";

/// Which header form the fake accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    /// `Authorization: lin_api_...` exactly (no Bearer).
    ApiKey,
    /// `Authorization: Bearer lin_oauth_...`.
    OAuth,
}

/// A scripted answer for an operation, used before the normal one.
#[derive(Clone, Debug)]
pub enum Scripted {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Sleep this long, then answer normally (or be dropped by the client).
    Delay(Duration),
}

#[derive(Clone, Debug)]
pub struct Issue {
    pub id: String,
    pub identifier: String,
    pub title: String,
    pub description: Option<String>,
    pub priority: u8,
    pub estimate: Option<f64>,
    pub due_date: Option<String>,
    pub updated_at: String,
    pub state: String,
    pub assignee: Option<String>,
    pub team: String,
    pub project: Option<String>,
    pub cycle: Option<String>,
    pub parent: Option<String>,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub operation: String,
    pub query: String,
    pub variables: Value,
    pub authorization: Option<String>,
}

pub struct FakeState {
    pub auth: Auth,
    pub teams: Vec<Value>,
    pub users: Vec<Value>,
    pub viewer: String,
    pub states: Vec<Value>,
    pub labels: Vec<Value>,
    pub projects: Vec<Value>,
    pub cycles: Vec<Value>,
    pub issues: Vec<Issue>,
    pub comments: Vec<Value>,
    pub relations: Vec<Value>,
    /// Most nodes one page returns, whatever `first` asks.
    pub page_cap: usize,
    /// Input fields of issueCreate/issueUpdate the fake silently ignores (linear#1045).
    pub ignore_fields: Vec<String>,
    pub script: HashMap<String, VecDeque<Scripted>>,
    pub requests: Vec<Recorded>,
    pub violations: Vec<String>,
    pub next_id: usize,
}

fn team(id: &str, key: &str, name: &str) -> Value {
    json!({"id": id, "key": key, "name": name})
}

impl Default for FakeState {
    fn default() -> Self {
        let mut s = Self {
            auth: Auth::ApiKey,
            teams: vec![
                team("t-eng", "ENG", "Engineering"),
                team("t-ops", "OPS", "Operations"),
            ],
            users: vec![
                json!({"id":"u-ada","name":"Ada Lovelace","displayName":"ada","email":"ada@example.com","active":true}),
                json!({"id":"u-maria","name":"Maria Garcia","displayName":"maria","email":"maria@example.com","active":true}),
                json!({"id":"u-bob","name":"Bob Stone","displayName":"bob","email":"bob@example.com","active":true}),
            ],
            viewer: "u-ada".into(),
            states: vec![
                json!({"id":"s-eng-backlog","name":"Backlog","type":"backlog","position":0,"team":"t-eng"}),
                json!({"id":"s-eng-todo","name":"Todo","type":"unstarted","position":1,"team":"t-eng"}),
                json!({"id":"s-eng-prog","name":"In Progress","type":"started","position":2,"team":"t-eng"}),
                json!({"id":"s-eng-done","name":"Done","type":"completed","position":3,"team":"t-eng"}),
                json!({"id":"s-ops-todo","name":"Todo","type":"unstarted","position":0,"team":"t-ops"}),
                json!({"id":"s-ops-prog","name":"In Progress","type":"started","position":1,"team":"t-ops"}),
            ],
            labels: vec![
                json!({"id":"l-bug","name":"bug","team":null}),
                json!({"id":"l-feature","name":"feature","team":"t-eng"}),
                json!({"id":"l-infra","name":"infra","team":"t-ops"}),
            ],
            projects: vec![
                json!({"id":"p-apollo","name":"Apollo","url":"https://linear.app/acme/project/apollo","targetDate":"2026-12-31"}),
                json!({"id":"p-zeus","name":"Zeus","url":"https://linear.app/acme/project/zeus","targetDate":null}),
            ],
            cycles: vec![
                json!({"id":"c-eng-7","number":7,"name":"Sprint 7","startsAt":"2026-11-16T00:00:00.000Z","endsAt":"2026-11-30T00:00:00.000Z","isActive":true,"team":"t-eng"}),
                json!({"id":"c-eng-8","number":8,"name":null,"startsAt":"2026-11-30T00:00:00.000Z","endsAt":"2026-12-14T00:00:00.000Z","isActive":false,"team":"t-eng"}),
            ],
            issues: Vec::new(),
            comments: Vec::new(),
            relations: Vec::new(),
            page_cap: 250,
            ignore_fields: Vec::new(),
            script: HashMap::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            next_id: 1000,
        };
        s.add_issue("ENG", "Login crash on Safari", |i| {
            i.description = Some("The app crashes when logging in.".into());
            i.priority = 2;
            i.state = "s-eng-prog".into();
            i.assignee = Some("u-maria".into());
            i.labels = vec!["l-bug".into()];
            i.project = Some("p-apollo".into());
            i.cycle = Some("c-eng-7".into());
            i.updated_at = "2026-11-20T10:00:00.000Z".into();
        });
        s.add_issue("ENG", "Add dark mode", |i| {
            i.priority = 3;
            i.state = "s-eng-todo".into();
            i.assignee = Some("u-ada".into());
            i.labels = vec!["l-feature".into()];
            i.updated_at = "2026-11-10T10:00:00.000Z".into();
        });
        s.add_issue("OPS", "Rotate certificates", |i| {
            i.state = "s-ops-prog".into();
            i.assignee = Some("u-maria".into());
            i.labels = vec!["l-infra".into()];
            i.updated_at = "2026-11-01T10:00:00.000Z".into();
        });
        s
    }
}

impl FakeState {
    /// Add an issue to a team (by key); `f` adjusts it.
    pub fn add_issue(&mut self, team_key: &str, title: &str, f: impl FnOnce(&mut Issue)) -> String {
        let team = self
            .teams
            .iter()
            .find(|t| t["key"] == team_key)
            .unwrap()
            .clone();
        let team_id = team["id"].as_str().unwrap().to_string();
        let n = self.issues.iter().filter(|i| i.team == team_id).count() + 1;
        let first_state = self
            .states
            .iter()
            .find(|s| s["team"] == team_id.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut issue = Issue {
            id: format!("iss-{}-{n}", team_key.to_lowercase()),
            identifier: format!("{team_key}-{n}"),
            title: title.into(),
            description: None,
            priority: 0,
            estimate: None,
            due_date: None,
            updated_at: format!("2026-10-{:02}T00:00:00.000Z", (n % 28) + 1),
            state: first_state,
            assignee: None,
            team: team_id,
            project: None,
            cycle: None,
            parent: None,
            labels: Vec::new(),
        };
        f(&mut issue);
        let id = issue.id.clone();
        self.issues.push(issue);
        id
    }

    fn find<'a>(list: &'a [Value], id: &Option<String>) -> Option<&'a Value> {
        id.as_ref()
            .and_then(|id| list.iter().find(|v| v["id"] == id.as_str()))
    }

    fn team_ref(&self, id: &str) -> Value {
        self.teams
            .iter()
            .find(|t| t["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn user_ref(&self, id: &Option<String>) -> Value {
        Self::find(&self.users, id).cloned().unwrap_or(Value::Null)
    }

    fn issue_ref(&self, id: &str) -> Value {
        self.issues
            .iter()
            .find(|i| i.id == id)
            .map(|i| json!({"id": i.id, "identifier": i.identifier, "title": i.title}))
            .unwrap_or(Value::Null)
    }

    fn render_state(&self, s: &Value) -> Value {
        let mut s = s.clone();
        let t = s["team"].as_str().unwrap_or_default().to_string();
        s["team"] = self.team_ref(&t);
        s
    }

    fn render_label(&self, l: &Value) -> Value {
        let mut l = l.clone();
        if let Some(t) = l["team"].as_str().map(str::to_string) {
            l["team"] = self.team_ref(&t);
        }
        l
    }

    fn render_cycle(&self, c: &Value) -> Value {
        let mut c = c.clone();
        let t = c["team"].as_str().unwrap_or_default().to_string();
        c["team"] = self.team_ref(&t);
        c
    }

    fn render_issue(&self, i: &Issue) -> Value {
        let state = Self::find(&self.states, &Some(i.state.clone()))
            .map(|s| self.render_state(s))
            .unwrap_or(Value::Null);
        let labels: Vec<Value> = i
            .labels
            .iter()
            .filter_map(|l| Self::find(&self.labels, &Some(l.clone())))
            .map(|l| self.render_label(l))
            .collect();
        let comments: Vec<Value> = self
            .comments
            .iter()
            .filter(|c| c["issue"] == i.id.as_str())
            .map(|c| self.render_comment(c))
            .collect();
        let relations: Vec<Value> = self
            .relations
            .iter()
            .filter(|r| r["issue"] == i.id.as_str())
            .map(|r| self.render_relation(r))
            .collect();
        let inverse: Vec<Value> = self
            .relations
            .iter()
            .filter(|r| r["relatedIssue"] == i.id.as_str())
            .map(|r| self.render_relation(r))
            .collect();
        let priority_label =
            ["No priority", "Urgent", "High", "Medium", "Low"][i.priority as usize];
        json!({
            "id": i.id,
            "identifier": i.identifier,
            "title": i.title,
            "description": i.description,
            "priority": i.priority,
            "priorityLabel": priority_label,
            "estimate": i.estimate,
            "dueDate": i.due_date,
            "url": format!("https://linear.app/acme/issue/{}", i.identifier),
            "createdAt": "2026-09-01T00:00:00.000Z",
            "updatedAt": i.updated_at,
            "state": state,
            "assignee": self.user_ref(&i.assignee),
            "team": self.team_ref(&i.team),
            "project": Self::find(&self.projects, &i.project).cloned().unwrap_or(Value::Null),
            "cycle": Self::find(&self.cycles, &i.cycle).map(|c| self.render_cycle(c)).unwrap_or(Value::Null),
            "parent": i.parent.as_ref().map(|p| self.issue_ref(p)).unwrap_or(Value::Null),
            "labels": {"nodes": labels, "pageInfo": {"hasNextPage": false, "endCursor": null}},
            "comments": {"nodes": comments, "pageInfo": {"hasNextPage": false, "endCursor": null}},
            "relations": {"nodes": relations, "pageInfo": {"hasNextPage": false, "endCursor": null}},
            "inverseRelations": {"nodes": inverse, "pageInfo": {"hasNextPage": false, "endCursor": null}},
        })
    }

    fn render_comment(&self, c: &Value) -> Value {
        let mut out = c.clone();
        let user = c["user"].as_str().map(str::to_string);
        out["user"] = self.user_ref(&user);
        let issue = c["issue"].as_str().unwrap_or_default().to_string();
        out["issue"] = self.issue_ref(&issue);
        out
    }

    fn render_relation(&self, r: &Value) -> Value {
        json!({
            "id": r["id"],
            "type": r["type"],
            "issue": self.issue_ref(r["issue"].as_str().unwrap_or_default()),
            "relatedIssue": self.issue_ref(r["relatedIssue"].as_str().unwrap_or_default()),
        })
    }

    fn issue_by(&self, id: &str) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.id == id || i.identifier.eq_ignore_ascii_case(id))
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }
}

/// The running fake.
#[derive(Clone)]
pub struct Fake {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
    /// Set when a delayed request was dropped by the client before it was answered.
    pub aborted: Arc<AtomicBool>,
}

impl Fake {
    pub async fn start(state: FakeState) -> Self {
        let shared = Arc::new(Mutex::new(state));
        let aborted = Arc::new(AtomicBool::new(false));
        let app = Router::new()
            .route("/graphql", post(handle))
            .with_state((shared.clone(), aborted.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // TCP_NODELAY as a real API front end has it, so the benchmark measures us, not Nagle.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/graphql"),
            state: shared,
            aborted,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn script(&self, operation: &str, answers: Vec<Scripted>) {
        self.with(|s| {
            s.script
                .entry(operation.to_string())
                .or_default()
                .extend(answers)
        });
    }

    pub fn requests(&self, operation: &str) -> Vec<Recorded> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.operation == operation)
                .cloned()
                .collect()
        })
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// A config for this fake with an API key, fast retries and a short timeout.
    pub fn config(&self) -> LinearConfig {
        let mut c = LinearConfig::new(
            self.url.clone(),
            Some(Credential::ApiKey(API_KEY.to_string().into())),
        );
        c.retry = mcp_core::upstream::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(10),
        };
        c.timeout = Duration::from_secs(10);
        c
    }

    /// An in-process client of a server built from `config`.
    pub async fn client_with(&self, config: LinearConfig) -> Client {
        let server = LinearServer::new(config).unwrap();
        mcp_core::testing::in_process(server).await.unwrap()
    }

    pub async fn client(&self) -> Client {
        self.client_with(self.config()).await
    }
}

pub fn ratelimited_body() -> String {
    json!({"errors":[{"message":"Rate limit exceeded","extensions":{"type":"ratelimited","code":"RATELIMITED","statusCode":429,"userPresentableMessage":"Rate limit exceeded, please try again later."}}]}).to_string()
}

pub fn auth_error_body() -> String {
    json!({"errors":[{"message":"Authentication required, not authenticated","extensions":{"type":"authentication error","code":"AUTHENTICATION_ERROR","statusCode":401,"userPresentableMessage":"You need to authenticate to access this operation."}}]}).to_string()
}

fn gql_error(status: StatusCode, message: &str, code: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"errors":[{"message": message, "extensions": {"code": code}}]}).to_string(),
    )
        .into_response()
}

fn not_found(kind: &str, path: &str) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"data": null, "errors": [{
            "message": format!("Entity not found: {kind}"),
            "path": [path],
            "locations": [{"line": 2, "column": 3}],
            "extensions": {"type": "invalid input", "code": "INPUT_ERROR", "userError": true,
                "userPresentableMessage": format!("Could not find referenced {kind}.")}
        }]})
        .to_string(),
    )
        .into_response()
}

fn ok(data: Value) -> Response {
    (
        StatusCode::OK,
        [
            ("content-type", "application/json"),
            ("x-ratelimit-requests-limit", "2500"),
            ("x-ratelimit-requests-remaining", "2499"),
        ],
        json!({ "data": data }).to_string(),
    )
        .into_response()
}

/// Every string value inside `v` (recursively).
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

struct DropFlag(Arc<AtomicBool>, bool);
impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

type Shared = (Arc<Mutex<FakeState>>, Arc<AtomicBool>);

async fn handle(
    State((shared, aborted)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return gql_error(
            StatusCode::BAD_REQUEST,
            "Unexpected token in JSON",
            "BAD_REQUEST",
        );
    };
    let query = req["query"].as_str().unwrap_or_default().to_string();
    let operation = req["operationName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let variables = req.get("variables").cloned().unwrap_or(json!({}));
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let scripted = {
        let mut s = shared.lock().unwrap();
        s.requests.push(Recorded {
            operation: operation.clone(),
            query: query.clone(),
            variables: variables.clone(),
            authorization: authorization.clone(),
        });
        // User input travels in variables only.
        let mut values = Vec::new();
        strings(&variables, &mut values);
        for v in values.iter().filter(|v| v.len() >= 3) {
            if query.contains(v.as_str()) {
                s.violations.push(format!(
                    "{operation}: variable value {v:?} appears in the query text"
                ));
            }
        }
        if operation.is_empty()
            || !(query.contains(&format!("query {operation}"))
                || query.contains(&format!("mutation {operation}")))
        {
            s.violations.push(format!(
                "operationName {operation:?} does not name the document"
            ));
        }
        let expected = match s.auth {
            Auth::ApiKey => API_KEY.to_string(),
            Auth::OAuth => format!("Bearer {OAUTH_TOKEN}"),
        };
        if authorization.as_deref() != Some(expected.as_str()) {
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/json")],
                auth_error_body(),
            )
                .into_response();
        }
        s.script.get_mut(&operation).and_then(|q| q.pop_front())
    };
    match scripted {
        Some(Scripted::Respond {
            status,
            headers,
            body,
        }) => {
            let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            for (k, v) in headers {
                r.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            return r;
        }
        Some(Scripted::Delay(d)) => {
            let mut flag = DropFlag(aborted.clone(), false);
            tokio::time::sleep(d).await;
            flag.1 = true;
        }
        None => {}
    }
    let mut s = shared.lock().unwrap();
    dispatch(&mut s, &operation, &variables)
}

/// Page `items` per `first`/`after` (cursor = "c:<index after>").
fn paged(s: &FakeState, items: Vec<Value>, vars: &Value) -> Value {
    let first = vars["first"].as_u64().unwrap_or(50) as usize;
    let start = vars["after"]
        .as_str()
        .and_then(|c| c.strip_prefix("c:"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let take = first.min(s.page_cap);
    let nodes: Vec<Value> = items.iter().skip(start).take(take).cloned().collect();
    let end = start + nodes.len();
    json!({
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": end < items.len(),
            "endCursor": if nodes.is_empty() { Value::Null } else { json!(format!("c:{end}")) },
        }
    })
}

fn cmp_str(cmp: &Value, value: Option<&str>) -> Result<bool, String> {
    let mut ok = true;
    for (op, arg) in cmp.as_object().ok_or("comparator is not an object")? {
        ok &= match op.as_str() {
            "eq" => value == arg.as_str(),
            "in" => arg
                .as_array()
                .ok_or("in takes a list")?
                .iter()
                .any(|a| a.as_str() == value),
            "containsIgnoreCase" => value.is_some_and(|v| {
                v.to_lowercase()
                    .contains(&arg.as_str().unwrap_or_default().to_lowercase())
            }),
            "gte" => value.is_some_and(|v| v >= arg.as_str().unwrap_or_default()),
            other => return Err(format!("comparator {other} is not supported by the fake")),
        };
    }
    Ok(ok)
}

fn issue_matches(s: &FakeState, i: &Issue, f: &Value) -> Result<bool, String> {
    let mut ok = true;
    for (k, v) in f.as_object().ok_or("filter is not an object")? {
        ok &= match k.as_str() {
            "and" => {
                let mut all = true;
                for x in v.as_array().ok_or("and takes a list")? {
                    all &= issue_matches(s, i, x)?;
                }
                all
            }
            "or" => {
                let mut any = false;
                for x in v.as_array().ok_or("or takes a list")? {
                    any |= issue_matches(s, i, x)?;
                }
                any
            }
            "team" => cmp_str(&v["id"], Some(&i.team))?,
            "assignee" => {
                if v.get("null") == Some(&json!(true)) {
                    i.assignee.is_none()
                } else if let Some(me) = v.get("isMe") {
                    (i.assignee.as_deref() == Some(s.viewer.as_str())) == (me["eq"] == json!(true))
                } else {
                    cmp_str(&v["id"], i.assignee.as_deref())?
                }
            }
            "state" => {
                if let Some(t) = v.get("type") {
                    let ty = FakeState::find(&s.states, &Some(i.state.clone()))
                        .and_then(|st| st["type"].as_str());
                    cmp_str(t, ty)?
                } else {
                    cmp_str(&v["id"], Some(&i.state))?
                }
            }
            "labels" => {
                let some = v.get("some").ok_or("labels filter without some")?;
                let mut any = false;
                for l in &i.labels {
                    any |= cmp_str(&some["id"], Some(l))?;
                }
                any
            }
            "project" => cmp_str(&v["id"], i.project.as_deref())?,
            "cycle" => cmp_str(&v["id"], i.cycle.as_deref())?,
            "priority" => v["eq"].as_u64() == Some(i.priority as u64),
            "updatedAt" => cmp_str(v, Some(&i.updated_at))?,
            "title" => cmp_str(v, Some(&i.title))?,
            "description" => cmp_str(v, i.description.as_deref())?,
            other => {
                return Err(format!(
                    "Field \"{other}\" is not defined by type \"IssueFilter\"."
                ));
            }
        };
    }
    Ok(ok)
}

fn team_filter(v: &Value, team: Option<&str>) -> Result<bool, String> {
    let Some(f) = v.get("filter").filter(|f| !f.is_null()) else {
        return Ok(true);
    };
    if let Some(or) = f.get("or") {
        let mut any = false;
        for x in or.as_array().ok_or("or takes a list")? {
            any |= if x["team"].get("null") == Some(&json!(true)) {
                team.is_none()
            } else {
                cmp_str(&x["team"]["id"], team)?
            };
        }
        return Ok(any);
    }
    cmp_str(&f["team"]["id"], team)
}

fn dispatch(s: &mut FakeState, operation: &str, vars: &Value) -> Response {
    match operation {
        "Viewer" => {
            let viewer = s.user_ref(&Some(s.viewer.clone()));
            ok(json!({"viewer": viewer, "organization": {"name": "Acme", "urlKey": "acme"}}))
        }
        "Teams" => ok(json!({"teams": paged(s, s.teams.clone(), vars)})),
        "Users" => {
            let mut users = Vec::new();
            for u in &s.users {
                let keep = match vars.get("filter").filter(|f| !f.is_null()) {
                    None => true,
                    Some(f) => {
                        let mut any = false;
                        for x in f["or"].as_array().cloned().unwrap_or_default() {
                            let (k, cmp) = x.as_object().unwrap().iter().next().unwrap();
                            any |= cmp_str(cmp, u[k].as_str()).unwrap_or(false);
                        }
                        any
                    }
                };
                if keep {
                    users.push(u.clone());
                }
            }
            ok(json!({"users": paged(s, users, vars)}))
        }
        "WorkflowStates" => {
            let mut out = Vec::new();
            for st in &s.states {
                match team_filter(vars, st["team"].as_str()) {
                    Ok(true) => out.push(s.render_state(st)),
                    Ok(false) => {}
                    Err(e) => {
                        return gql_error(StatusCode::BAD_REQUEST, &e, "GRAPHQL_VALIDATION_FAILED");
                    }
                }
            }
            ok(json!({"workflowStates": paged(s, out, vars)}))
        }
        "IssueLabels" => {
            let mut out = Vec::new();
            for l in &s.labels {
                match team_filter(vars, l["team"].as_str()) {
                    Ok(true) => out.push(s.render_label(l)),
                    Ok(false) => {}
                    Err(e) => {
                        return gql_error(StatusCode::BAD_REQUEST, &e, "GRAPHQL_VALIDATION_FAILED");
                    }
                }
            }
            ok(json!({"issueLabels": paged(s, out, vars)}))
        }
        "Projects" => ok(json!({"projects": paged(s, s.projects.clone(), vars)})),
        "Cycles" => {
            let mut out = Vec::new();
            for c in &s.cycles {
                match team_filter(vars, c["team"].as_str()) {
                    Ok(true) => out.push(s.render_cycle(c)),
                    Ok(false) => {}
                    Err(e) => {
                        return gql_error(StatusCode::BAD_REQUEST, &e, "GRAPHQL_VALIDATION_FAILED");
                    }
                }
            }
            ok(json!({"cycles": paged(s, out, vars)}))
        }
        "IssueList" => {
            let mut list: Vec<&Issue> = Vec::new();
            for i in &s.issues {
                let keep = match vars.get("filter").filter(|f| !f.is_null()) {
                    None => true,
                    Some(f) => match issue_matches(s, i, f) {
                        Ok(k) => k,
                        Err(e) => {
                            return gql_error(
                                StatusCode::BAD_REQUEST,
                                &e,
                                "GRAPHQL_VALIDATION_FAILED",
                            );
                        }
                    },
                };
                if keep {
                    list.push(i);
                }
            }
            list.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
            let rendered: Vec<Value> = list.iter().map(|i| s.render_issue(i)).collect();
            ok(json!({"issues": paged(s, rendered, vars)}))
        }
        "IssueGet" => {
            let id = vars["id"].as_str().unwrap_or_default();
            match s.issue_by(id) {
                Some(i) => ok(json!({"issue": s.render_issue(i)})),
                None => not_found("Issue", "issue"),
            }
        }
        "IssueCreate" => {
            let input = vars["input"].clone();
            let team_id = input["teamId"].as_str().unwrap_or_default().to_string();
            let Some(team) = s
                .teams
                .iter()
                .find(|t| t["id"] == team_id.as_str())
                .cloned()
            else {
                return not_found("Team", "issueCreate");
            };
            let key = team["key"].as_str().unwrap().to_string();
            let title = input["title"].as_str().unwrap_or_default().to_string();
            let ignore = s.ignore_fields.clone();
            let id = s.add_issue(&key, &title, |_| {});
            apply(s, &id, &input, &ignore);
            let i = s.issue_by(&id).unwrap();
            ok(
                json!({"issueCreate": {"success": true, "lastSyncId": 1, "issue": {"id": i.id, "identifier": i.identifier}}}),
            )
        }
        "IssueUpdate" => {
            let id = vars["id"].as_str().unwrap_or_default().to_string();
            let Some(real) = s.issue_by(&id).map(|i| i.id.clone()) else {
                return not_found("Issue", "issueUpdate");
            };
            let ignore = s.ignore_fields.clone();
            apply(s, &real, &vars["input"], &ignore);
            let i = s.issue_by(&real).unwrap();
            ok(
                json!({"issueUpdate": {"success": true, "lastSyncId": 2, "issue": {"id": i.id, "identifier": i.identifier}}}),
            )
        }
        "CommentCreate" => {
            let input = &vars["input"];
            let issue = input["issueId"].as_str().unwrap_or_default().to_string();
            if s.issue_by(&issue).is_none() {
                return not_found("Issue", "commentCreate");
            }
            let id = s.new_id("cmt");
            let viewer = s.viewer.clone();
            s.comments.push(json!({
                "id": id, "body": input["body"], "createdAt": "2026-11-27T06:00:00.000Z",
                "url": format!("https://linear.app/acme/comment/{id}"), "user": viewer, "issue": issue,
            }));
            ok(json!({"commentCreate": {"success": true, "lastSyncId": 3, "comment": {"id": id}}}))
        }
        "CommentGet" => {
            let id = vars["id"].as_str().unwrap_or_default();
            match s.comments.iter().find(|c| c["id"] == id) {
                Some(c) => ok(json!({"comment": s.render_comment(c)})),
                None => not_found("Comment", "comment"),
            }
        }
        "IssueRelationCreate" => {
            let input = &vars["input"];
            let id = s.new_id("rel");
            s.relations.push(json!({
                "id": id, "type": input["type"], "issue": input["issueId"], "relatedIssue": input["relatedIssueId"],
            }));
            ok(
                json!({"issueRelationCreate": {"success": true, "lastSyncId": 4, "issueRelation": {"id": id}}}),
            )
        }
        "IssueRelationGet" => {
            let id = vars["id"].as_str().unwrap_or_default();
            match s.relations.iter().find(|r| r["id"] == id) {
                Some(r) => ok(json!({"issueRelation": s.render_relation(r)})),
                None => not_found("IssueRelation", "issueRelation"),
            }
        }
        other => gql_error(
            StatusCode::BAD_REQUEST,
            &format!("Unknown operation named \"{other}\"."),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    }
}

/// Apply issueCreate/issueUpdate input fields, skipping the ignored ones.
fn apply(s: &mut FakeState, id: &str, input: &Value, ignore: &[String]) {
    let Some(i) = s.issues.iter_mut().find(|i| i.id == id) else {
        return;
    };
    for (k, v) in input.as_object().cloned().unwrap_or_default() {
        if ignore.contains(&k) {
            continue;
        }
        let str_opt = v.as_str().map(str::to_string);
        match k.as_str() {
            "title" => i.title = str_opt.unwrap_or_default(),
            "description" => i.description = str_opt,
            "stateId" => i.state = str_opt.unwrap_or_default(),
            "assigneeId" => i.assignee = str_opt,
            "labelIds" => {
                i.labels = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect()
            }
            "priority" => i.priority = v.as_u64().unwrap_or(0) as u8,
            "estimate" => i.estimate = v.as_f64(),
            "projectId" => i.project = str_opt,
            "cycleId" => i.cycle = str_opt,
            "dueDate" => i.due_date = str_opt,
            "parentId" => i.parent = str_opt,
            _ => {}
        }
    }
    i.updated_at = "2026-11-27T06:00:00.000Z".into();
}

// ---------------------------------------------------------------------------------------------
// Client helpers.

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

pub async fn ok_call(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args).await;
    assert_ne!(r.is_error, Some(true), "{tool} failed: {}", text(&r));
    r.structured_content.clone().expect("structured content")
}

pub async fn err_call(client: &Client, tool: &str, args: Value) -> String {
    let r = call(client, tool, args).await;
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} should have failed: {:?}",
        r.structured_content
    );
    text(&r)
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn identifiers(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["identifier"].as_str().unwrap().to_string())
        .collect()
}

/// The built binary.
/// The server binary: Cargo names it for this crate's own tests; another package that includes
/// this fake (sophia-host's workflow tests) finds the binaries itself.
pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(option_env!("CARGO_BIN_EXE_sophia-linear").unwrap_or("sophia-linear"))
}

/// All tool names, sorted.
pub const TOOLS: &[&str] = &[
    "comment_create",
    "cycle_list",
    "issue_create",
    "issue_get",
    "issue_list",
    "issue_relation_create",
    "issue_update",
    "label_list",
    "project_list",
    "team_list",
    "user_list",
    "workflow_state_list",
];

pub const READ_TOOLS: &[&str] = &[
    "cycle_list",
    "issue_get",
    "issue_list",
    "label_list",
    "project_list",
    "team_list",
    "user_list",
    "workflow_state_list",
];
