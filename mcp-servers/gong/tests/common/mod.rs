//! A fake Gong API v2 on 127.0.0.1, answering as Gong's reference documents it
//! (<https://help.gong.io/apidocs>): `Authorization: Basic base64(key:secret)` or 401 with
//! `{"requestId","errors":[...]}`; listings paged by `records.cursor`, read from the query
//! string for GET and from the JSON body for POST (a cursor in the query string of a POST is
//! ignored, so a client that puts it there gets page 1 forever); 404 with Gong's error body when
//! no call matches; `fromDateTime`/`toDateTime` rejected (400) without a time part; 429 with
//! `Retry-After`; `contentSelector` honoured (parties, CRM context, content and interaction only
//! when asked for); `POST /v2/calls` (which creates a call in Gong) recorded as a violation.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::any,
};
use base64::Engine;
use mcp_core::testing::Client;
use mcp_core::upstream::RetryPolicy;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use secrecy::SecretString;
use serde_json::{Value, json};
use sophia_gong::{GongConfig, GongServer};

pub const KEY: &str = "GONGKEY7Q2ZP4LX";
pub const SECRET: &str = "gong-secret-eyJhbGciOi-9f8e7d6c5b4a";

/// The server binary: Cargo names it for this crate's own tests; another package that includes
/// this fake (sophia-host's workflow tests) finds the binaries itself.
pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(option_env!("CARGO_BIN_EXE_sophia-gong").unwrap_or("sophia-gong"))
}

/// A scripted failure for the next request to one path.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: secs` and Gong's error body.
    RateLimited(u64),
    /// HTTP 200 with a body that is not JSON.
    Malformed,
    /// HTTP 503.
    Unavailable,
}

#[derive(Debug, Clone)]
pub struct FakeCall {
    pub id: String,
    pub title: String,
    pub started: String,
    pub duration: u64,
    pub parties: Vec<Value>,
    /// `context` as Gong sends it with `"context": "Extended"`.
    pub context: Vec<Value>,
    pub brief: Option<String>,
    pub key_points: Vec<String>,
    pub topics: Vec<Value>,
    pub trackers: Vec<Value>,
    pub interaction: Value,
    /// Monologues `{speakerId, topic, sentences:[{start,end,text}]}`.
    pub transcript: Vec<Value>,
}

impl FakeCall {
    pub fn basic(&self) -> Value {
        json!({
            "id": self.id, "url": format!("https://app.gong.io/call?id={}", self.id),
            "title": self.title, "scheduled": self.started, "started": self.started,
            "duration": self.duration, "primaryUserId": "234599484848423", "direction": "Conference",
            "system": "Zoom", "scope": "External", "media": "Video", "language": "eng",
            "workspaceId": "623457276584334", "sdrDisposition": null, "clientUniqueId": null,
            "customData": null, "purpose": null, "meetingUrl": "https://zoom.us/j/1", "isPrivate": false,
            "calendarEventId": null
        })
    }
}

pub struct FakeState {
    pub calls: Vec<FakeCall>,
    pub users: Vec<Value>,
    pub page_size: usize,
    pub faults: HashMap<String, VecDeque<Fault>>,
    /// (method, path, query, body) of every request.
    pub log: Vec<(String, String, String, String)>,
    /// `POST /v2/calls` requests: the call-creating endpoint. Must stay 0.
    pub creates: usize,
    /// Requests with a cursor in the query string of a POST.
    pub misplaced_cursors: usize,
    /// Delay of every answer.
    pub delay: Duration,
    pub inflight: HashMap<String, usize>,
    pub max_inflight: HashMap<String, usize>,
    pub inflight_total: usize,
    pub max_inflight_total: usize,
    /// When each request arrived.
    pub starts: Vec<std::time::Instant>,
}

#[derive(Clone)]
pub struct Fake {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
    pub requests: Arc<AtomicUsize>,
}

fn rid() -> String {
    "4al018gzaztcr8nbukw".to_string()
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"requestId": rid(), "errors": [message]})),
    )
        .into_response()
}

/// Ann (ours) and Bob (Acme) on call 7782342274025937895, with a transcript whose numbers the
/// sentiment test computes by hand.
pub fn acme_call() -> FakeCall {
    FakeCall {
        id: "7782342274025937895".into(),
        title: "Acme discovery".into(),
        started: "2024-05-02T10:00:00Z".into(),
        duration: 1800,
        parties: vec![
            json!({"id": "p1", "emailAddress": "ann@ourco.com", "name": "Ann Rep", "title": "AE",
                   "userId": "u1", "speakerId": "s1", "context": [], "affiliation": "Internal",
                   "phoneNumber": null, "methods": ["Invitee"]}),
            json!({"id": "p2", "emailAddress": "bob@acme.com", "name": "Bob Buyer", "title": "CTO",
                   "userId": null, "speakerId": "s2", "context": [], "affiliation": "External",
                   "methods": ["Invitee"]}),
            json!({"id": "p3", "emailAddress": "carl@acme.com", "name": null, "affiliation": "External",
                   "methods": ["Invitee"]}),
        ],
        context: vec![json!({"system": "Salesforce", "objects": [
            {"objectType": "Account", "objectId": "001A000001", "timing": "Now",
             "fields": [{"name": "Name", "value": "Acme Corp"}, {"name": "Industry", "value": "Manufacturing"}]},
            {"objectType": "Opportunity", "objectId": "006X000042", "timing": "Now",
             "fields": [{"name": "Name", "value": "Acme expansion"}, {"name": "Amount", "value": 50000}]}
        ]})],
        brief: Some(
            "Bob is worried about pricing and setup; Ann offered a security review.".into(),
        ),
        key_points: vec![
            "Budget approved for Q3".into(),
            "Next step: security review".into(),
        ],
        topics: vec![
            json!({"name": "Pricing", "duration": 320.0}),
            json!({"name": "Small Talk", "duration": 0.0}),
        ],
        trackers: vec![
            json!({"id": "t1", "name": "Pricing", "count": 1, "type": "Keyword",
                   "occurrences": [{"startTime": 11.0, "speakerId": "s2"}],
                   "phrases": [{"count": 1, "occurrences": [{"startTime": 11.0, "speakerId": "s2"}], "phrase": "pricing"}]}),
            json!({"id": "t2", "name": "Support", "count": 2, "type": "Smart",
                   "occurrences": [{"startTime": 17.5, "speakerId": "s2"}, {"startTime": 24.0, "speakerId": "s1"}],
                   "phrases": []}),
            json!({"id": "t3", "name": "Competitors", "count": 0, "type": "Keyword", "occurrences": [], "phrases": []}),
        ],
        interaction: json!({
            "speakers": [{"id": "p1", "userId": "u1", "talkTime": 16.0}, {"id": "p2", "userId": null, "talkTime": 10.0}],
            "interactionStats": [{"name": "Talk Ratio", "value": 0.62}, {"name": "Patience", "value": 0.9}],
            "video": [],
            "questions": {"companyCount": 2, "nonCompanyCount": 0}
        }),
        transcript: vec![
            json!({"speakerId": "s1", "topic": "Call Setup", "sentences": [
                {"start": 0, "end": 4000, "text": "Thanks for joining, great to meet you."},
                {"start": 4000, "end": 10000, "text": "How is the rollout going?"}]}),
            json!({"speakerId": "s2", "topic": "Pricing", "sentences": [
                {"start": 10000, "end": 16000, "text": "Honestly the pricing is a problem and the setup was not easy."},
                {"start": 16000, "end": 20000, "text": "But support has been helpful."}]}),
            json!({"speakerId": "s1", "topic": null, "sentences": [
                {"start": 20000, "end": 22000, "text": "I am sorry to hear that."},
                {"start": 22000, "end": 26000, "text": "Can we fix the setup issue?"}]}),
        ],
    }
}

/// A generated call: `domain` of the customer, `account` in the CRM, `said` in its transcript.
pub fn gen_call(i: usize, domain: &str, account: &str, said: &str) -> FakeCall {
    let day = 3 + (i / 100) % 20;
    FakeCall {
        id: format!("{}", 9_000_000_000_000u64 + i as u64),
        title: format!("Call {i} with {account}"),
        started: format!("2024-05-{day:02}T{:02}:{:02}:00Z", (i / 60) % 24, i % 60),
        duration: 600,
        parties: vec![
            json!({"id": format!("a{i}"), "emailAddress": "ann@ourco.com", "name": "Ann Rep",
                   "speakerId": format!("sa{i}"), "userId": "u1", "affiliation": "Internal"}),
            json!({"id": format!("c{i}"), "emailAddress": format!("buyer{i}@{domain}"),
                   "name": format!("Buyer {i}"), "speakerId": format!("sc{i}"), "affiliation": "External"}),
        ],
        context: vec![json!({"system": "Salesforce", "objects": [
            {"objectType": "Account", "objectId": format!("001G{i:06}"), "fields": [{"name": "Name", "value": account}]},
            {"objectType": "Opportunity", "objectId": format!("006G{i:06}"), "fields": [{"name": "Name", "value": format!("{account} deal")}]}
        ]})],
        brief: None,
        key_points: vec![],
        topics: vec![],
        trackers: vec![],
        interaction: json!({}),
        transcript: vec![
            json!({"speakerId": format!("sa{i}"), "topic": null, "sentences": [
                {"start": 0, "end": 3000, "text": format!("Hello buyer {i}, shall we review the plan?")}]}),
            json!({"speakerId": format!("sc{i}"), "topic": null, "sentences": [
                {"start": 3000, "end": 9000, "text": format!("Sure. {said}")}]}),
        ],
    }
}

pub fn user(i: usize, active: bool) -> Value {
    json!({
        "id": format!("{}", 234_599_484_848_000u64 + i as u64),
        "emailAddress": format!("user{i}@ourco.com"), "created": "2018-02-18T08:00:00Z",
        "active": active, "emailAliases": [], "trustedEmailAddress": null,
        "firstName": format!("First{i}"), "lastName": format!("Last{i}"),
        "title": if i.is_multiple_of(2) { "Account Executive" } else { "SDR" },
        "phoneNumber": null, "extension": null, "personalMeetingUrls": [],
        "settings": {"webConferencesRecorded": true}, "managerId": null,
        "meetingConsentPageUrl": null, "spokenLanguages": [{"language": "en-US", "primary": true}]
    })
}

impl Fake {
    pub async fn start() -> Fake {
        Self::with(
            vec![acme_call()],
            (0..3).map(|i| user(i, true)).collect(),
            100,
        )
        .await
    }

    pub async fn with(calls: Vec<FakeCall>, users: Vec<Value>, page_size: usize) -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            calls,
            users,
            page_size,
            faults: HashMap::new(),
            log: Vec::new(),
            creates: 0,
            misplaced_cursors: 0,
            delay: Duration::ZERO,
            inflight: HashMap::new(),
            max_inflight: HashMap::new(),
            inflight_total: 0,
            max_inflight_total: 0,
            starts: Vec::new(),
        }));
        let fake = Fake {
            url: String::new(),
            state,
            requests: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new().fallback(any(handle)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake {
            url: format!("http://{addr}"),
            ..fake
        }
    }

    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.to_string())
            .or_default()
            .push_back(fault);
    }

    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    /// Requests to `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(_, p, _, _)| p == path)
            .count()
    }

    pub fn log(&self) -> Vec<(String, String, String, String)> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn creates(&self) -> usize {
        self.state.lock().unwrap().creates
    }

    pub fn max_inflight(&self, path: &str) -> usize {
        *self
            .state
            .lock()
            .unwrap()
            .max_inflight
            .get(path)
            .unwrap_or(&0)
    }

    pub fn max_inflight_total(&self) -> usize {
        self.state.lock().unwrap().max_inflight_total
    }
}

struct Inflight(Arc<Mutex<FakeState>>, String);
impl Drop for Inflight {
    fn drop(&mut self) {
        let mut st = self.0.lock().unwrap();
        if let Some(n) = st.inflight.get_mut(&self.1) {
            *n = n.saturating_sub(1);
        }
        st.inflight_total = st.inflight_total.saturating_sub(1);
    }
}

fn cursor_of(offset: usize) -> String {
    // Opaque like Gong's JWT-looking cursors.
    format!("eyJhbGciOiJIUzI1NiJ9.eyJvZmZzZXQiO{offset:x}.sig")
}

fn offset_of(cursor: &str) -> Option<usize> {
    let hex = cursor
        .strip_prefix("eyJhbGciOiJIUzI1NiJ9.eyJvZmZzZXQiO")?
        .strip_suffix(".sig")?;
    usize::from_str_radix(hex, 16).ok()
}

/// A Gong date-time has a time part (`2024-05-01T00:00:00Z`).
fn valid_datetime(v: &str) -> bool {
    v.len() >= 20 && v.as_bytes().get(10) == Some(&b'T')
}

fn page_of(
    items: Vec<Value>,
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(Vec<Value>, Value), Response> {
    let start = match cursor {
        Some(c) => match offset_of(c) {
            Some(o) => o,
            None => return Err(error(StatusCode::BAD_REQUEST, "cursor: invalid value")),
        },
        None => 0,
    };
    let total = items.len();
    let end = (start + page_size).min(total);
    let page: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut records = json!({
        "totalRecords": total, "currentPageSize": page.len(),
        "currentPageNumber": start / page_size.max(1)
    });
    if end < total {
        records["cursor"] = json!(cursor_of(end));
    }
    Ok((page, records))
}

fn in_window(c: &FakeCall, from: Option<&str>, to: Option<&str>) -> bool {
    from.is_none_or(|f| c.started.as_str() >= f) && to.is_none_or(|t| c.started.as_str() < t)
}

fn extensive_json(c: &FakeCall, selector: &Value) -> Value {
    let fields = &selector["exposedFields"];
    let mut out = json!({ "metaData": c.basic() });
    match selector["context"].as_str() {
        Some("Extended") => out["context"] = json!(c.context),
        Some("Basic") => {
            let bare: Vec<Value> = c
                .context
                .iter()
                .map(|ctx| {
                    let objs: Vec<Value> = ctx["objects"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| json!({"objectType": o["objectType"], "objectId": o["objectId"]}))
                        .collect();
                    json!({"system": ctx["system"], "objects": objs})
                })
                .collect();
            out["context"] = json!(bare);
        }
        _ => {}
    }
    if fields["parties"] == json!(true) {
        out["parties"] = json!(c.parties);
    }
    let content = &fields["content"];
    if content.is_object() {
        let mut x = json!({});
        if content["topics"] == json!(true) {
            x["topics"] = json!(c.topics);
        }
        if content["trackers"] == json!(true) {
            let with_occ = content["trackerOccurrences"] == json!(true);
            let trackers: Vec<Value> = c
                .trackers
                .iter()
                .map(|t| {
                    let mut t = t.clone();
                    if !with_occ {
                        t.as_object_mut().unwrap().remove("occurrences");
                        if let Some(ps) = t["phrases"].as_array_mut() {
                            for p in ps {
                                p.as_object_mut().unwrap().remove("occurrences");
                            }
                        }
                    }
                    t
                })
                .collect();
            x["trackers"] = json!(trackers);
        }
        if content["brief"] == json!(true)
            && let Some(b) = &c.brief
        {
            x["brief"] = json!(b);
        }
        if content["keyPoints"] == json!(true) {
            x["keyPoints"] = json!(
                c.key_points
                    .iter()
                    .map(|k| json!({"text": k}))
                    .collect::<Vec<_>>()
            );
        }
        out["content"] = x;
    }
    let inter = &fields["interaction"];
    if inter.is_object() {
        let mut x = json!({});
        for (k, v) in [
            ("speakers", "speakers"),
            ("personInteractionStats", "interactionStats"),
            ("questions", "questions"),
        ] {
            if inter[k] == json!(true) && !c.interaction[v].is_null() {
                x[v] = c.interaction[v].clone();
            }
        }
        out["interaction"] = x;
    }
    out
}

async fn handle(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    let path = uri.path().to_string();
    let body_text = String::from_utf8_lossy(&body).to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (fault, delay, guard) = {
        let mut st = fake.state.lock().unwrap();
        st.starts.push(std::time::Instant::now());
        st.log.push((
            method.to_string(),
            path.clone(),
            uri.query().unwrap_or_default().to_string(),
            body_text.clone(),
        ));
        let n = st.inflight.entry(path.clone()).or_insert(0);
        *n += 1;
        let n = *n;
        let m = st.max_inflight.entry(path.clone()).or_insert(0);
        *m = (*m).max(n);
        st.inflight_total += 1;
        st.max_inflight_total = st.max_inflight_total.max(st.inflight_total);
        let fault = st.faults.get_mut(&path).and_then(VecDeque::pop_front);
        (fault, st.delay, Inflight(fake.state.clone(), path.clone()))
    };
    let _guard = guard;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"))
    );
    if auth != expected {
        return error(StatusCode::UNAUTHORIZED, "Access denied");
    }
    match fault {
        Some(Fault::RateLimited(secs)) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                axum::Json(json!({"requestId": rid(), "errors": ["API request limit exceeded"]})),
            )
                .into_response();
        }
        Some(Fault::Malformed) => {
            return (StatusCode::OK, "<html>proxy error</html>").into_response();
        }
        Some(Fault::Unavailable) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable");
        }
        None => {}
    }
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (calls, users, page_size) = {
        let mut st = fake.state.lock().unwrap();
        if method == Method::POST && q.contains_key("cursor") {
            st.misplaced_cursors += 1;
        }
        (st.calls.clone(), st.users.clone(), st.page_size)
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/v2/calls") => {
            let (Some(from), Some(to)) = (q.get("fromDateTime"), q.get("toDateTime")) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "fromDateTime and toDateTime are required",
                );
            };
            if !valid_datetime(from) || !valid_datetime(to) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "fromDateTime: invalid date-time format",
                );
            }
            let items: Vec<Value> = calls
                .iter()
                .filter(|c| in_window(c, Some(from), Some(to)))
                .map(FakeCall::basic)
                .collect();
            if items.is_empty() {
                return error(
                    StatusCode::NOT_FOUND,
                    "No calls found corresponding to the provided filters",
                );
            }
            match page_of(items, q.get("cursor").map(String::as_str), page_size) {
                Ok((page, records)) => {
                    axum::Json(json!({"requestId": rid(), "records": records, "calls": page}))
                        .into_response()
                }
                Err(r) => r,
            }
        }
        ("POST", "/v2/calls") => {
            fake.state.lock().unwrap().creates += 1;
            (
                StatusCode::CREATED,
                axum::Json(json!({"requestId": rid(), "callId": "1"})),
            )
                .into_response()
        }
        ("POST", "/v2/calls/extensive") | ("POST", "/v2/calls/transcript") => {
            let filter = &body_json["filter"];
            if !filter.is_object() {
                return error(StatusCode::BAD_REQUEST, "filter is required");
            }
            let from = filter["fromDateTime"].as_str();
            let to = filter["toDateTime"].as_str();
            if from.is_some_and(|f| !valid_datetime(f)) || to.is_some_and(|t| !valid_datetime(t)) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "fromDateTime: invalid date-time format",
                );
            }
            let ids: Option<Vec<String>> = filter["callIds"].as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            });
            let selected: Vec<&FakeCall> = calls
                .iter()
                .filter(|c| in_window(c, from, to))
                .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
                .collect();
            if selected.is_empty() {
                return error(
                    StatusCode::NOT_FOUND,
                    "No calls found corresponding to the provided filters",
                );
            }
            // The cursor of a POST listing is read from the body only.
            let cursor = body_json["cursor"].as_str();
            if path == "/v2/calls/extensive" {
                let selector = body_json["contentSelector"].clone();
                let items: Vec<Value> = selected
                    .iter()
                    .map(|c| extensive_json(c, &selector))
                    .collect();
                match page_of(items, cursor, page_size) {
                    Ok((page, records)) => {
                        axum::Json(json!({"requestId": rid(), "records": records, "calls": page}))
                            .into_response()
                    }
                    Err(r) => r,
                }
            } else {
                let items: Vec<Value> = selected
                    .iter()
                    .map(|c| json!({"callId": c.id, "transcript": c.transcript}))
                    .collect();
                match page_of(items, cursor, page_size) {
                    Ok((page, records)) => axum::Json(
                        json!({"requestId": rid(), "records": records, "callTranscripts": page}),
                    )
                    .into_response(),
                    Err(r) => r,
                }
            }
        }
        ("GET", "/v2/users") => {
            let items = users;
            match page_of(items, q.get("cursor").map(String::as_str), page_size) {
                Ok((page, records)) => {
                    axum::Json(json!({"requestId": rid(), "records": records, "users": page}))
                        .into_response()
                }
                Err(r) => r,
            }
        }
        _ => error(StatusCode::NOT_FOUND, "Not found"),
    }
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        max_total: Duration::from_secs(10),
    }
}

/// A config against the fake with the right key pair and a fast limiter for tests.
pub fn config(fake: &Fake) -> GongConfig {
    let mut c = GongConfig::new(
        fake.url.clone(),
        Some(SecretString::from(KEY)),
        Some(SecretString::from(SECRET)),
    );
    c.retry = fast_retry();
    c.requests_per_second = 1_000.0;
    c.timeout = Duration::from_secs(10);
    c
}

pub fn server(c: GongConfig) -> GongServer {
    GongServer::new(c).unwrap()
}

pub async fn client_for(fake: &Fake) -> Client {
    mcp_core::testing::in_process(server(config(fake)))
        .await
        .unwrap()
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(tool.to_string())
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .unwrap()
}

/// A successful call's structured content (panics with the error text otherwise).
pub async fn ok_call(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args.clone()).await;
    assert_ne!(r.is_error, Some(true), "{tool} {args}: {}", text(&r));
    r.structured_content.unwrap()
}

/// A failing call's message.
pub async fn err_call(client: &Client, tool: &str, args: Value) -> String {
    let r = call(client, tool, args.clone()).await;
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} {args} should fail: {}",
        text(&r)
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

pub const ACME: &str = "7782342274025937895";
pub const ALL_TOOLS: [&str; 7] = [
    "analyze_call_sentiment",
    "call_get",
    "call_list",
    "call_search",
    "call_transcript",
    "get_talking_points",
    "user_list",
];
