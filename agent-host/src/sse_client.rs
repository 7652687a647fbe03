//! The client side of the legacy HTTP+SSE transport (MCP protocol 2024-11-05), which rmcp 3.x
//! does not ship, as an rmcp [`Transport`]: `GET url` opens a server-sent event stream whose
//! first event, `endpoint`, names the URL to POST client messages to; every server message then
//! arrives as an `event: message` whose data is one JSON-RPC message. A POST is answered `202
//! Accepted` (the response travels on the stream). The configured headers (`Authorization` …)
//! go with the GET and with every POST; the endpoint must be on the same origin as the stream,
//! so those headers never leave it. When the stream ends the transport reports closed, and the
//! hub re-initialises the server on the next call.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

/// How long the server may take to name its message endpoint.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one POST of a client message may take.
const POST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the SSE transport failed.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("{0}")]
    Connect(String),
    #[error("POST to the message endpoint failed: {0}")]
    Post(String),
}

/// One open legacy SSE session.
pub struct SseClientTransport {
    http: reqwest::Client,
    post_url: Url,
    headers: HeaderMap,
    messages: mpsc::Receiver<ServerJsonRpcMessage>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for SseClientTransport {
    fn drop(&mut self) {
        // Closing the stream is how a legacy client ends its session.
        self.reader.abort();
    }
}

/// Request headers from the configuration's `headers`.
pub fn header_map(
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("header name {k:?} is not valid"))?;
        let mut value = HeaderValue::from_str(v)
            .map_err(|_| format!("the value of header {k:?} is not valid"))?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    Ok(map)
}

/// One server-sent event.
struct Event {
    name: String,
    data: String,
}

/// Incremental parser of a `text/event-stream` body (lines ending in LF, CRLF or CR are
/// accepted as LF/CRLF; `:` comments and unknown fields are ignored).
#[derive(Default)]
struct EventParser {
    buf: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
}

impl EventParser {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) {
        self.buf.extend_from_slice(chunk);
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(Event {
                        name: self.name.take().unwrap_or_else(|| "message".into()),
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                self.name = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => self.name = Some(value.to_string()),
                "data" => self.data.push(value.to_string()),
                _ => {}
            }
        }
    }
}

impl SseClientTransport {
    /// Open the stream at `url` and wait for the `endpoint` event.
    pub async fn connect(url: &str, headers: HeaderMap) -> Result<Self, SseError> {
        let stream_url =
            Url::parse(url).map_err(|e| SseError::Connect(format!("{url} is not a URL: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("sophia-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SseError::Connect(e.to_string()))?;
        let mut response = http
            .get(stream_url.clone())
            .headers(headers.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| SseError::Connect(format!("GET {url}: {}", e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SseError::Connect(format!("GET {url} answered {status}")));
        }
        let (endpoint_tx, endpoint_rx) = tokio::sync::oneshot::channel::<String>();
        let (tx, messages) = mpsc::channel::<ServerJsonRpcMessage>(256);
        let reader = tokio::spawn(async move {
            let mut parser = EventParser::default();
            let mut endpoint_tx = Some(endpoint_tx);
            let mut events = Vec::new();
            loop {
                let chunk = match response.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("the SSE stream failed: {}", e.without_url());
                        break;
                    }
                };
                parser.feed(&chunk, &mut events);
                for event in events.drain(..) {
                    match event.name.as_str() {
                        "endpoint" => {
                            if let Some(t) = endpoint_tx.take() {
                                let _ = t.send(event.data);
                            }
                        }
                        "message" => {
                            match serde_json::from_str::<ServerJsonRpcMessage>(&event.data) {
                                Ok(m) => {
                                    if tx.send(m).await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!("an SSE message is not JSON-RPC ({e}); skipped");
                                }
                            }
                        }
                        other => tracing::debug!("SSE event {other:?} ignored"),
                    }
                }
            }
        });
        let endpoint = match tokio::time::timeout(ENDPOINT_TIMEOUT, endpoint_rx).await {
            Ok(Ok(e)) => e,
            Ok(Err(_)) => {
                reader.abort();
                return Err(SseError::Connect(format!(
                    "{url} closed the stream before naming its message endpoint"
                )));
            }
            Err(_) => {
                reader.abort();
                return Err(SseError::Connect(format!(
                    "{url} sent no endpoint event within {}s",
                    ENDPOINT_TIMEOUT.as_secs()
                )));
            }
        };
        let post_url = match stream_url.join(endpoint.trim()) {
            Ok(u) if u.origin() == stream_url.origin() => u,
            Ok(u) => {
                reader.abort();
                return Err(SseError::Connect(format!(
                    "{url} named a message endpoint on another origin ({}); refused, the \
                     configured headers would go there",
                    u.origin().ascii_serialization()
                )));
            }
            Err(e) => {
                reader.abort();
                return Err(SseError::Connect(format!(
                    "{url} named a message endpoint that is not a URL ({endpoint:?}: {e})"
                )));
            }
        };
        Ok(Self {
            http,
            post_url,
            headers,
            messages,
            reader,
        })
    }

    /// Where client messages are POSTed.
    pub fn post_url(&self) -> &str {
        self.post_url.as_str()
    }
}

impl Transport<RoleClient> for SseClientTransport {
    type Error = SseError;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .http
            .post(self.post_url.clone())
            .headers(self.headers.clone())
            .timeout(POST_TIMEOUT)
            .json(&item);
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| SseError::Post(e.without_url().to_string()))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                let body = response.text().await.unwrap_or_default();
                let detail: String = body.chars().take(200).collect();
                Err(SseError::Post(format!("HTTP {status}: {detail}")))
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ServerJsonRpcMessage>> + Send {
        self.messages.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        self.messages.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_across_chunks_with_comments_and_crlf() {
        let mut p = EventParser::default();
        let mut out = Vec::new();
        p.feed(
            b": keep-alive\n\nevent: endpoint\r\ndata: /message?sess",
            &mut out,
        );
        assert!(out.is_empty());
        p.feed(b"ionId=1\r\n\r\ndata: {\"a\":\ndata:1}\n\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].name, "endpoint");
        assert_eq!(out[0].data, "/message?sessionId=1");
        assert_eq!(out[1].name, "message");
        assert_eq!(out[1].data, "{\"a\":\n1}");
    }
}
