//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp 3.x no longer ships, bridged
//! onto rmcp's sink/stream transport.
//!
//! `GET /sse` opens a session: the first event is `endpoint` with the URL to POST to, then every
//! server message arrives as an `event: message`. `POST /message?sessionId=…` delivers one
//! client message and answers 202. Keep-alive comments flow every `keep_alive`; a session with no
//! client message for `idle_timeout` is closed; at most `max_sessions` live at once; an unknown
//! session is 404; bodies over `max_body_bytes` are 413.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Limits of the legacy SSE transport.
#[derive(Debug, Clone)]
pub struct SseConfig {
    pub max_sessions: usize,
    pub idle_timeout: Duration,
    pub keep_alive: Duration,
    pub max_body_bytes: usize,
}

impl Default for SseConfig {
    fn default() -> Self {
        Self {
            max_sessions: 128,
            idle_timeout: Duration::from_secs(30 * 60),
            keep_alive: Duration::from_secs(15),
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The transport handed to a new server session: where server messages go, where client
/// messages come from.
pub type SseTransport = (
    futures::channel::mpsc::Sender<ServerJsonRpcMessage>,
    tokio_stream::wrappers::ReceiverStream<ClientJsonRpcMessage>,
);

/// Starts one MCP server session on the given transport; it must stop when the token is cancelled.
pub type SessionStarter = Arc<dyn Fn(SseTransport, CancellationToken) + Send + Sync>;

struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    last_seen: Arc<Mutex<Instant>>,
    cancel: CancellationToken,
}

#[derive(Clone)]
struct SseState {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    config: SseConfig,
    start: SessionStarter,
    shutdown: CancellationToken,
}

/// Routes `GET /sse` and `POST /message` for a server started by `start`.
pub fn router(config: SseConfig, start: SessionStarter, shutdown: CancellationToken) -> Router {
    let max_body = config.max_body_bytes;
    let state = SseState {
        sessions: Arc::new(Mutex::new(HashMap::new())),
        config,
        start,
        shutdown,
    };
    Router::new()
        .route("/sse", get(open_session))
        .route(
            "/message",
            post(post_message).layer(DefaultBodyLimit::max(max_body)),
        )
        .with_state(state)
}

/// Removes the session and stops its server when the SSE stream is dropped.
struct SessionGuard {
    id: String,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    cancel: CancellationToken,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&self.id);
        }
        tracing::debug!(session = %self.id, "sse session closed");
    }
}

async fn open_session(State(state): State<SseState>) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let cancel = state.shutdown.child_token();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let (to_client, from_server) = futures::channel::mpsc::channel::<ServerJsonRpcMessage>(64);
    let last_seen = Arc::new(Mutex::new(Instant::now()));
    {
        let Ok(mut sessions) = state.sessions.lock() else {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "session table unavailable",
            )
                .into_response();
        };
        if sessions.len() >= state.config.max_sessions {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "5")],
                "too many SSE sessions; retry later or use Streamable HTTP on /mcp",
            )
                .into_response();
        }
        sessions.insert(
            id.clone(),
            Session {
                to_server,
                last_seen: last_seen.clone(),
                cancel: cancel.clone(),
            },
        );
    }
    (state.start)(
        (
            to_client,
            tokio_stream::wrappers::ReceiverStream::new(from_client),
        ),
        cancel.clone(),
    );
    spawn_idle_watch(
        id.clone(),
        last_seen,
        cancel.clone(),
        state.config.idle_timeout,
    );
    tracing::debug!(session = %id, "sse session opened");

    let guard = SessionGuard {
        id: id.clone(),
        sessions: state.sessions.clone(),
        cancel: cancel.clone(),
    };
    let endpoint = futures::stream::once(async move {
        Ok::<Event, Infallible>(
            Event::default()
                .event("endpoint")
                .data(format!("/message?sessionId={id}")),
        )
    });
    let messages = from_server.filter_map(|message| async move {
        match serde_json::to_string(&message) {
            Ok(json) => Some(Ok(Event::default().event("message").data(json))),
            Err(error) => {
                tracing::error!(%error, "could not serialise a server message");
                None
            }
        }
    });
    let stream = endpoint
        .chain(messages)
        .take_until(cancel.cancelled_owned());
    let stream = GuardedStream {
        inner: Box::pin(stream),
        _guard: guard,
    };
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(state.config.keep_alive))
        .into_response()
}

fn spawn_idle_watch(
    id: String,
    last_seen: Arc<Mutex<Instant>>,
    cancel: CancellationToken,
    idle: Duration,
) {
    tokio::spawn(async move {
        let tick = (idle / 4).max(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(tick) => {}
            }
            let since = last_seen.lock().map(|t| t.elapsed()).unwrap_or_default();
            if since >= idle {
                tracing::info!(session = %id, idle_s = since.as_secs(), "closing idle sse session");
                cancel.cancel();
                return;
            }
        }
    });
}

struct GuardedStream<S> {
    inner: std::pin::Pin<Box<S>>,
    _guard: SessionGuard,
}

impl<S: Stream> Stream for GuardedStream<S> {
    type Item = S::Item;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[derive(serde::Deserialize)]
struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

async fn post_message(
    State(state): State<SseState>,
    Query(query): Query<MessageQuery>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("message body over {} bytes", state.config.max_body_bytes),
            )
                .into_response();
        }
    };
    let Some(id) = query.session_id else {
        return (StatusCode::BAD_REQUEST, "missing sessionId query parameter").into_response();
    };
    let sender = {
        let Ok(sessions) = state.sessions.lock() else {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "session table unavailable",
            )
                .into_response();
        };
        match sessions.get(&id) {
            Some(session) if !session.cancel.is_cancelled() => {
                if let Ok(mut t) = session.last_seen.lock() {
                    *t = Instant::now();
                }
                session.to_server.clone()
            }
            _ => return (StatusCode::NOT_FOUND, "session not found").into_response(),
        }
    };
    let mut message: ClientJsonRpcMessage =
        match serde_json::from_slice::<ClientJsonRpcMessage>(&body) {
            Ok(m) => m,
            Err(error) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("invalid JSON-RPC message: {error}"),
                )
                    .into_response();
            }
        };
    // Handlers see the HTTP request parts, as on /mcp, with this connection's session id under
    // `mcp-session-id` so per-connection state (subscriptions) can be keyed the same way.
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        parts.headers.insert("mcp-session-id", value);
    }
    match &mut message {
        ClientJsonRpcMessage::Request(req) => {
            req.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(not) => {
            not.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    if sender.send(message).await.is_err() {
        return (StatusCode::NOT_FOUND, "session closed").into_response();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}
