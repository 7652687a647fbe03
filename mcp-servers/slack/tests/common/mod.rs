//! A fake Slack Web API on 127.0.0.1, answering as Slack's reference documents it:
//! `https://<host>/api/<method>`, the token in `Authorization: Bearer`, failures as HTTP 200 with
//! `{"ok":false,"error":code}` (`missing_scope` with `needed`/`provided`), HTTP 429 with
//! `Retry-After` for rate limits, cursor paging through `response_metadata.next_cursor` ("" at the
//! end), `search.messages` paged by `page`/`count` with `messages.paging`, and the token's scopes
//! in the `x-oauth-scopes` header. Faults are scripted per method.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::any,
};
use mcp_core::testing::Client;
use mcp_core::upstream::RetryPolicy;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use secrecy::SecretString;
use serde_json::{Value, json};
use sophia_slack::{SlackConfig, SlackServer};

pub const BOT: &str = "xoxb-fake-bot-token-1234567890";
pub const USER: &str = "xoxp-fake-user-token-0987654321";
pub const BOT_USER: &str = "UBOT00001";
pub const BOT_ID: &str = "BBOT00001";
pub const SCOPES: &str = "channels:read,groups:read,channels:history,groups:history,chat:write,reactions:write,reactions:read,users:read";

/// A scripted failure for the next call of one method.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429, `Retry-After: secs`, `{"ok":false,"error":"ratelimited"}`.
    RateLimited(u64),
    /// HTTP 200 `{"ok":false,"error":code}` plus extra fields (e.g. `needed`).
    Api(&'static str, Value),
    /// HTTP 200 with an HTML body (a proxy error page).
    Malformed,
    /// HTTP 200 `{"ok":true}` but missing the documented fields.
    WrongShape,
    /// Never answers (until the request is dropped).
    Slow,
    /// HTTP 503.
    Unavailable,
}

#[derive(Debug, Clone)]
pub struct Msg {
    pub ts: String,
    pub user: String,
    pub text: String,
    pub thread_ts: Option<String>,
    pub reactions: Vec<(String, Vec<String>)>,
    pub bot: bool,
}

impl Msg {
    fn json(&self) -> Value {
        let mut m = json!({"type": "message", "ts": self.ts, "user": self.user, "text": self.text, "team": "T0FAKE01"});
        if self.bot {
            m["bot_id"] = json!(BOT_ID);
            m["app_id"] = json!("A0FAKE01");
        }
        if let Some(t) = &self.thread_ts {
            m["thread_ts"] = json!(t);
        }
        if !self.reactions.is_empty() {
            m["reactions"] = Value::Array(
                self.reactions
                    .iter()
                    .map(|(n, users)| json!({"name": n, "users": users, "count": users.len()}))
                    .collect(),
            );
        }
        m
    }
}

#[derive(Debug, Clone)]
pub struct Chan {
    pub id: String,
    pub name: String,
    pub private: bool,
    pub is_member: bool,
    pub archived: bool,
}

#[derive(Default)]
pub struct FakeState {
    pub channels: Vec<Chan>,
    /// channel id → messages, newest first.
    pub history: HashMap<String, Vec<Msg>>,
    /// (channel, thread ts) → replies, oldest first (the parent is in history).
    pub replies: HashMap<(String, String), Vec<Msg>>,
    pub users: Vec<Value>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    /// (HTTP method, API method, query or body) of every request.
    pub log: Vec<(String, String, String)>,
    /// Requests that carried the token anywhere but the Authorization header.
    pub token_leaks: usize,
    pub bot_scopes: String,
    next_ts: u64,
}

#[derive(Clone)]
pub struct Fake {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
    /// Slow requests started / dropped before answering.
    pub slow_started: Arc<AtomicUsize>,
    pub slow_dropped: Arc<AtomicUsize>,
}

impl Fake {
    /// Start the fake with a small default workspace.
    pub async fn start() -> Fake {
        let mut st = FakeState {
            bot_scopes: SCOPES.into(),
            next_ts: 1_714_600_000,
            ..Default::default()
        };
        for (id, name, private, member) in [
            ("C0GENERAL1", "general", false, true),
            ("C0SALES001", "sales", false, true),
            ("C0RANDOM01", "random", false, false),
            ("G0SECRET01", "secret-deals", true, true),
        ] {
            st.channels.push(Chan {
                id: id.into(),
                name: name.into(),
                private,
                is_member: member,
                archived: false,
            });
        }
        for (id, name, real, display) in [
            ("U0ALICE001", "alice", "Alice Adams", "Ali"),
            ("U0BOB00001", "bob", "Bob Brown", ""),
            ("U0CAROL001", "carol", "Carol Chen", "carol.c"),
            (BOT_USER, "sophia", "Sophia Bot", ""),
        ] {
            st.users.push(json!({
                "id": id, "team_id": "T0FAKE01", "name": name, "deleted": false, "real_name": real,
                "tz": "Europe/Berlin", "is_bot": id == BOT_USER,
                "profile": {"real_name": real, "display_name": display, "email": format!("{name}@example.com"), "title": "Account Executive"}
            }));
        }
        st.users.push(json!({"id": "U0GONE0001", "name": "gone", "deleted": true, "profile": {"real_name": "Gone Person"}}));
        let state = Arc::new(Mutex::new(st));
        let fake = Fake {
            url: String::new(),
            state,
            slow_started: Arc::new(AtomicUsize::new(0)),
            slow_dropped: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/api/{method}", any(handle))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake {
            url: format!("http://{addr}/api"),
            ..fake
        }
    }

    /// Add `n` messages to a channel, newest first, `ts` counting down from `base`.
    pub fn add_messages(&self, channel: &str, n: usize, text: impl Fn(usize) -> String) {
        let users = ["U0ALICE001", "U0BOB00001", "U0CAROL001"];
        let mut st = self.state.lock().unwrap();
        let list = st.history.entry(channel.to_string()).or_default();
        let start = list.len();
        for i in start..start + n {
            list.push(Msg {
                ts: format!("{}.{:06}", 1_714_500_000 - i as u64 * 60, 100),
                user: users[i % 3].into(),
                text: text(i),
                thread_ts: None,
                reactions: vec![],
                bot: false,
            });
        }
    }

    pub fn add_thread(&self, channel: &str, parent_ts: &str, replies: usize) {
        let mut st = self.state.lock().unwrap();
        let list: Vec<Msg> = (0..replies)
            .map(|i| Msg {
                ts: format!("{}.{:06}", 1_714_500_100 + i as u64, 200),
                user: if i % 2 == 0 {
                    "U0BOB00001"
                } else {
                    "U0CAROL001"
                }
                .into(),
                text: format!("reply {i}"),
                thread_ts: Some(parent_ts.into()),
                reactions: vec![],
                bot: false,
            })
            .collect();
        st.replies
            .insert((channel.to_string(), parent_ts.to_string()), list);
    }

    pub fn fault(&self, method: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(method.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Calls of one API method so far.
    pub fn calls(&self, method: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(_, m, _)| m == method)
            .count()
    }

    pub fn log(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().log.clone()
    }
}

/// Counts a dropped slow request (the client went away before the answer).
struct SlowGuard(Arc<AtomicUsize>);
impl Drop for SlowGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn cursor_of(offset: usize) -> String {
    // Opaque to clients, like Slack's base64 cursors.
    format!("b2Zmc2V0{offset:x}Og==")
}

fn offset_of(cursor: &str) -> Option<usize> {
    let hex = cursor.strip_prefix("b2Zmc2V0")?.strip_suffix("Og==")?;
    usize::from_str_radix(hex, 16).ok()
}

fn ok(mut body: Value) -> Value {
    body["ok"] = json!(true);
    body
}

fn fail(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

/// Page `items` per Slack's cursor rules; an empty next_cursor at the end.
fn paginate(
    items: Vec<Value>,
    q: &HashMap<String, String>,
    default_limit: usize,
) -> Result<(Vec<Value>, String), &'static str> {
    let limit = match q.get("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| "invalid_limit")?,
        None => default_limit,
    };
    let limit = if limit == 0 {
        default_limit
    } else {
        limit.min(1000)
    };
    let start = match q.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => offset_of(c).ok_or("invalid_cursor")?,
        None => 0,
    };
    let end = (start + limit).min(items.len());
    let page = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let next = if end < items.len() {
        cursor_of(end)
    } else {
        String::new()
    };
    Ok((page, next))
}

fn chan_json(c: &Chan) -> Value {
    json!({
        "id": c.id, "name": c.name, "is_channel": !c.private, "is_group": false, "is_im": false,
        "is_mpim": false, "is_private": c.private, "is_archived": c.archived, "is_member": c.is_member,
        "topic": {"value": format!("{} topic", c.name), "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0}, "num_members": 3
    })
}

async fn handle(
    State(fake): State<Fake>,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let body_text = String::from_utf8_lossy(&body).to_string();
    let raw_query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let fault = {
        let mut st = fake.state.lock().unwrap();
        st.log.push((
            http_method.to_string(),
            method.clone(),
            if http_method == Method::GET {
                raw_query.join("&")
            } else {
                body_text.clone()
            },
        ));
        if q.contains_key("token")
            || body_text.contains(BOT)
            || body_text.contains(USER)
            || body_text.contains("\"token\"")
        {
            st.token_leaks += 1;
        }
        st.faults.get_mut(&method).and_then(|f| f.pop_front())
    };
    let token = auth.strip_prefix("Bearer ").unwrap_or_default();
    let is_bot = token == BOT;
    let scopes = fake.state.lock().unwrap().bot_scopes.clone();
    let respond = |status: StatusCode, body: Value| -> Response {
        let mut r = (status, axum::Json(body)).into_response();
        if is_bot && let Ok(v) = scopes.parse() {
            r.headers_mut().insert("x-oauth-scopes", v);
        }
        r
    };
    match fault {
        Some(Fault::RateLimited(secs)) => {
            let mut r = respond(StatusCode::TOO_MANY_REQUESTS, fail("ratelimited"));
            r.headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
            return r;
        }
        Some(Fault::Api(code, extra)) => {
            let mut b = fail(code);
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    b[k] = v;
                }
            }
            return respond(StatusCode::OK, b);
        }
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [("content-type", "text/html")],
                "<html><body>upstream proxy error</body></html>",
            )
                .into_response();
        }
        Some(Fault::WrongShape) => return respond(StatusCode::OK, json!({"ok": true})),
        Some(Fault::Unavailable) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
        Some(Fault::Slow) => {
            let _guard = SlowGuard(fake.slow_dropped.clone());
            fake.slow_started.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(120)).await;
            return respond(StatusCode::OK, fail("timeout"));
        }
        None => {}
    }
    if auth.is_empty() {
        return respond(StatusCode::OK, fail("not_authed"));
    }
    if token != BOT && token != USER {
        return respond(StatusCode::OK, fail("invalid_auth"));
    }
    let user_token = token == USER;
    let json_body: Value = if http_method == Method::POST {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ct.starts_with("application/json") {
            return respond(StatusCode::OK, fail("invalid_form_data"));
        }
        serde_json::from_slice(&body).unwrap_or(json!({}))
    } else {
        json!({})
    };
    let arg = |k: &str| -> Option<String> {
        q.get(k).cloned().or_else(|| {
            json_body.get(k).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        })
    };
    let mut st = fake.state.lock().unwrap();
    let find_chan = |st: &FakeState, id: &str| st.channels.iter().find(|c| c.id == id).cloned();
    let body = match method.as_str() {
        "auth.test" => ok(json!({
            "url": "https://fake-workspace.slack.com/", "team": "Fake Workspace", "team_id": "T0FAKE01",
            "user": if user_token { "alice" } else { "sophia" },
            "user_id": if user_token { "U0ALICE001" } else { BOT_USER },
            "bot_id": BOT_ID, "is_enterprise_install": false
        })),
        "conversations.list" => {
            let types = arg("types").unwrap_or_else(|| "public_channel".into());
            let exclude_archived = arg("exclude_archived").is_some_and(|v| v == "true" || v == "1");
            let items: Vec<Value> = st
                .channels
                .iter()
                .filter(|c| {
                    (if c.private {
                        types.contains("private_channel")
                    } else {
                        types.contains("public_channel")
                    }) && !(exclude_archived && c.archived)
                })
                .map(chan_json)
                .collect();
            match paginate(items, &q, 100) {
                Ok((page, next)) => {
                    ok(json!({"channels": page, "response_metadata": {"next_cursor": next}}))
                }
                Err(code) => fail(code),
            }
        }
        "conversations.info" => match arg("channel").and_then(|c| find_chan(&st, &c)) {
            Some(c) => ok(json!({"channel": chan_json(&c)})),
            None => fail("channel_not_found"),
        },
        "conversations.history" => {
            let id = arg("channel").unwrap_or_default();
            let Some(c) = find_chan(&st, &id) else {
                return respond(StatusCode::OK, fail("channel_not_found"));
            };
            if !c.is_member {
                return respond(StatusCode::OK, fail("not_in_channel"));
            }
            let num = |s: Option<String>| s.and_then(|s| s.parse::<f64>().ok());
            let (oldest, latest) = (num(arg("oldest")), num(arg("latest")));
            let inclusive = arg("inclusive").is_some_and(|v| v == "true" || v == "1");
            let items: Vec<Value> = st
                .history
                .get(&id)
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|m| {
                    let t: f64 = m.ts.parse().unwrap_or(0.0);
                    oldest.is_none_or(|o| if inclusive { t >= o } else { t > o })
                        && latest.is_none_or(|l| if inclusive { t <= l } else { t < l })
                })
                .map(|m| {
                    let mut v = m.json();
                    if let Some(r) = st.replies.get(&(id.clone(), m.ts.clone())) {
                        v["thread_ts"] = json!(m.ts);
                        v["reply_count"] = json!(r.len());
                    }
                    v
                })
                .collect();
            match paginate(items, &q, 100) {
                Ok((page, next)) => ok(json!({
                    "messages": page, "has_more": !next.is_empty(), "pin_count": 0,
                    "response_metadata": {"next_cursor": next}
                })),
                Err(code) => fail(code),
            }
        }
        "conversations.replies" => {
            let id = arg("channel").unwrap_or_default();
            let ts = arg("ts").unwrap_or_default();
            if find_chan(&st, &id).is_none() {
                return respond(StatusCode::OK, fail("channel_not_found"));
            }
            let parent = st
                .history
                .get(&id)
                .and_then(|h| h.iter().find(|m| m.ts == ts))
                .cloned();
            let Some(parent) = parent else {
                return respond(StatusCode::OK, fail("thread_not_found"));
            };
            let mut items = vec![{
                let mut p = parent.json();
                p["thread_ts"] = json!(ts);
                p
            }];
            items.extend(
                st.replies
                    .get(&(id, ts))
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(Msg::json),
            );
            match paginate(items, &q, 100) {
                Ok((page, next)) => ok(json!({
                    "messages": page, "has_more": !next.is_empty(),
                    "response_metadata": {"next_cursor": next}
                })),
                Err(code) => fail(code),
            }
        }
        "users.list" => match paginate(st.users.clone(), &q, 1000) {
            Ok((page, next)) => ok(json!({
                "members": page, "cache_ts": 1_714_600_000,
                "response_metadata": {"next_cursor": next}
            })),
            Err(code) => fail(code),
        },
        "users.info" => {
            let id = arg("user").unwrap_or_default();
            match st.users.iter().find(|u| u["id"] == json!(id)) {
                Some(u) => ok(json!({"user": u})),
                None => fail("user_not_found"),
            }
        }
        "search.messages" => {
            if !user_token {
                return respond(StatusCode::OK, fail("not_allowed_token_type"));
            }
            let query = arg("query").unwrap_or_default().to_lowercase();
            let count: usize = arg("count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(20)
                .min(100);
            let page: usize = arg("page").and_then(|c| c.parse().ok()).unwrap_or(1).max(1);
            // Slack's date modifiers (https://slack.com/help/articles/202528808): `after:DAY`
            // keeps messages of later days, `before:DAY` of earlier days; the other words are
            // matched as one text.
            let mut after: Option<String> = None;
            let mut before: Option<String> = None;
            let mut words = Vec::new();
            for w in query.split_whitespace() {
                if let Some(d) = w.strip_prefix("after:") {
                    after = Some(d.to_string());
                } else if let Some(d) = w.strip_prefix("before:") {
                    before = Some(d.to_string());
                } else {
                    words.push(w);
                }
            }
            let text_query = words.join(" ");
            let mut all = Vec::new();
            for c in &st.channels {
                for m in st.history.get(&c.id).cloned().unwrap_or_default() {
                    let day = utc_day(&m.ts);
                    if after.as_ref().is_some_and(|a| day.as_str() <= a.as_str())
                        || before.as_ref().is_some_and(|b| day.as_str() >= b.as_str())
                    {
                        continue;
                    }
                    if m.text.to_lowercase().contains(&text_query) {
                        all.push(json!({
                            "iid": format!("iid-{}", m.ts), "team": "T0FAKE01", "type": "message",
                            "channel": {"id": c.id, "name": c.name, "is_private": c.private, "is_mpim": false},
                            "user": m.user, "username": "", "ts": m.ts, "text": m.text,
                            "permalink": format!("https://fake-workspace.slack.com/archives/{}/p{}", c.id, m.ts.replace('.', ""))
                        }));
                    }
                }
            }
            let total = all.len();
            let pages = total.div_ceil(count).max(1);
            let matches: Vec<Value> = all
                .into_iter()
                .skip((page - 1) * count)
                .take(count)
                .collect();
            ok(json!({
                "query": query,
                "messages": {
                    "total": total,
                    "pagination": {"total_count": total, "page": page, "per_page": count, "page_count": pages, "first": (page - 1) * count + 1, "last": ((page - 1) * count + matches.len())},
                    "paging": {"count": count, "total": total, "page": page, "pages": pages},
                    "matches": matches
                }
            }))
        }
        "chat.postMessage" => {
            let id = arg("channel").unwrap_or_default();
            let Some(c) = find_chan(&st, &id) else {
                return respond(StatusCode::OK, fail("channel_not_found"));
            };
            if !c.is_member {
                return respond(StatusCode::OK, fail("not_in_channel"));
            }
            let text = arg("text").unwrap_or_default();
            if text.is_empty() {
                return respond(StatusCode::OK, fail("no_text"));
            }
            st.next_ts += 1;
            let ts = format!("{}.000100", st.next_ts);
            let thread_ts = arg("thread_ts");
            // Slack stores & < > escaped.
            let stored = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let msg = Msg {
                ts: ts.clone(),
                user: BOT_USER.into(),
                text: stored,
                thread_ts: thread_ts.clone(),
                reactions: vec![],
                bot: true,
            };
            if let Some(parent) = &thread_ts {
                st.replies
                    .entry((id.clone(), parent.clone()))
                    .or_default()
                    .push(msg.clone());
            } else {
                st.history
                    .entry(id.clone())
                    .or_default()
                    .insert(0, msg.clone());
            }
            ok(json!({"channel": id, "ts": ts, "message": msg.json()}))
        }
        "chat.getPermalink" => {
            let id = arg("channel").unwrap_or_default();
            let ts = arg("message_ts").unwrap_or_default();
            if find_chan(&st, &id).is_none() {
                return respond(StatusCode::OK, fail("channel_not_found"));
            }
            ok(
                json!({"channel": id, "permalink": format!("https://fake-workspace.slack.com/archives/{id}/p{}", ts.replace('.', ""))}),
            )
        }
        "reactions.add" | "reactions.get" => {
            let id = arg("channel").unwrap_or_default();
            let ts = arg("timestamp").unwrap_or_default();
            if find_chan(&st, &id).is_none() {
                return respond(StatusCode::OK, fail("channel_not_found"));
            }
            let name = arg("name").unwrap_or_default();
            let add = method == "reactions.add";
            let FakeState {
                history, replies, ..
            } = &mut *st;
            let msg = history
                .get_mut(&id)
                .and_then(|h| h.iter_mut().find(|m| m.ts == ts))
                .or_else(|| {
                    replies
                        .iter_mut()
                        .filter(|((c, _), _)| *c == id)
                        .flat_map(|(_, r)| r.iter_mut())
                        .find(|m| m.ts == ts)
                });
            let Some(msg) = msg else {
                return respond(StatusCode::OK, fail("message_not_found"));
            };
            if add {
                let stored = if name == "thumbsup" {
                    "+1".to_string()
                } else {
                    name.clone()
                };
                match msg.reactions.iter_mut().find(|(n, _)| *n == stored) {
                    Some((_, users)) if users.iter().any(|u| u == BOT_USER) => {
                        return respond(StatusCode::OK, fail("already_reacted"));
                    }
                    Some((_, users)) => users.push(BOT_USER.into()),
                    None => msg.reactions.push((stored, vec![BOT_USER.into()])),
                }
                ok(json!({}))
            } else {
                ok(json!({"type": "message", "channel": id, "message": msg.json()}))
            }
        }
        _ => fail("unknown_method"),
    };
    drop(st);
    respond(StatusCode::OK, body)
}

/// The UTC day (YYYY-MM-DD) of a Slack `ts` ("1714500000.000100").
fn utc_day(ts: &str) -> String {
    let secs: i64 = ts
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    mcp_core::time::iso_from_unix(secs)[..10].to_string()
}

/// A retry policy fast enough for tests (Retry-After is capped at 50 ms).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_total: Duration::from_secs(10),
    }
}

pub fn config(fake: &Fake) -> SlackConfig {
    let mut c = SlackConfig::new(
        fake.url.clone(),
        Some(SecretString::from(BOT)),
        Some(SecretString::from(USER)),
    );
    c.retry = fast_retry();
    c.timeout = Duration::from_secs(10);
    c
}

pub fn server(config: SlackConfig) -> SlackServer {
    SlackServer::new(config).unwrap()
}

pub async fn client(config: SlackConfig) -> Client {
    mcp_core::testing::in_process(server(config)).await.unwrap()
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// The structured content of a successful call.
pub async fn ok_call(client: &Client, tool: &str, args: Value) -> Value {
    let r = call(client, tool, args).await;
    assert_ne!(r.is_error, Some(true), "{tool} failed: {}", text(&r));
    r.structured_content.clone().expect("structured content")
}

/// The error text of a failed call (asserts it failed as a tool error).
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

/// The built binary.
/// The server binary: Cargo names it for this crate's own tests; another package that includes
/// this fake (sophia-host's workflow tests) finds the binaries itself.
pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(option_env!("CARGO_BIN_EXE_sophia-slack").unwrap_or("sophia-slack"))
}
