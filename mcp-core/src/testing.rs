//! Test helpers shared by every server's tests: an in-process client/server pair over
//! `tokio::io::duplex`, a built binary spawned over stdio or over HTTP on a free port, and a small
//! legacy (2024-11-05) SSE client.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::{
    RoleClient, ServerHandler, ServiceExt,
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// A connected rmcp client (no client-side handler).
pub type Client = RunningService<RoleClient, ()>;

/// Boxed error for test plumbing.
pub type TestError = Box<dyn std::error::Error + Send + Sync>;

/// Serve `server` in-process and connect an rmcp client to it over an in-memory duplex pipe.
pub async fn in_process<S: ServerHandler>(server: S) -> Result<Client, TestError> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    Ok(().serve(client_io).await?)
}

/// Spawn a built server binary over stdio and connect an rmcp client.
pub async fn spawn_stdio(
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Client, TestError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (transport, _) =
        TokioChildProcess::builder(tokio::process::Command::new(bin).configure(|cmd| {
            cmd.args(&args).envs(env.iter().map(|(k, v)| (k, v)));
        }))
        .stderr(Stdio::null())
        .spawn()?;
    Ok(().serve(transport).await?)
}

/// A server binary running over HTTP on a free loopback port; killed on drop.
pub struct HttpChild {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Everything the child wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl HttpChild {
    /// Start `bin --transport http --bind 127.0.0.1:0 ARGS...` and wait until it listens.
    pub async fn spawn(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Self, TestError> {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args(["--transport", "http", "--bind", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, mut rx) = mpsc::channel::<String>(1);
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(t) = tx.take()
                {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = t.send(addr).await;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .map_err(|_| "server did not start listening within 30s")?
            .ok_or("server exited before listening")?;
        Ok(Self {
            child,
            base: format!("http://{addr}"),
            stderr: log,
        })
    }

    /// Connect rmcp's Streamable HTTP client to `/mcp`.
    pub async fn mcp_client(&self) -> Result<Client, TestError> {
        let transport =
            rmcp::transport::StreamableHttpClientTransport::from_uri(format!("{}/mcp", self.base));
        Ok(().serve(transport).await?)
    }
}

/// A minimal client of the legacy 2024-11-05 HTTP+SSE transport.
pub struct SseClient {
    http: reqwest::Client,
    post_url: String,
    /// Sent on the GET and on every POST, as a client does.
    token: Option<String>,
    events: mpsc::Receiver<(String, String)>,
    next_id: i64,
    /// Messages received that were not the response being waited for (notifications).
    pub other: Vec<Value>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for SseClient {
    fn drop(&mut self) {
        // Closing the SSE stream is how a legacy client ends its session.
        self.reader.abort();
    }
}

impl SseClient {
    /// `GET {base}/sse`, wait for the `endpoint` event.
    pub async fn connect(base: &str, token: Option<&str>) -> Result<Self, TestError> {
        let http = reqwest::Client::new();
        let mut req = http.get(format!("{base}/sse"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let mut resp = req.send().await?;
        if !resp.status().is_success() {
            return Err(format!("GET /sse answered {}", resp.status()).into());
        }
        let (tx, mut events) = mpsc::channel(256);
        let reader = tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(pos) = buf.find("\n\n") {
                    let block: String = buf.drain(..pos + 2).collect();
                    let mut event = String::from("message");
                    let mut data = Vec::new();
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_string();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                        }
                    }
                    if !data.is_empty() && tx.send((event, data.join("\n"))).await.is_err() {
                        return;
                    }
                }
            }
        });
        let (event, path) = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .map_err(|_| "no endpoint event within 10s")?
            .ok_or("SSE stream closed before the endpoint event")?;
        if event != "endpoint" {
            return Err(format!("first SSE event was {event:?}, not endpoint").into());
        }
        let post_url = if path.starts_with("http") {
            path
        } else {
            format!("{base}{path}")
        };
        Ok(Self {
            http,
            post_url,
            token: token.map(str::to_string),
            events,
            next_id: 0,
            other: Vec::new(),
            reader,
        })
    }

    /// The URL messages are POSTed to.
    pub fn post_url(&self) -> &str {
        &self.post_url
    }

    /// POST one message; returns the HTTP status.
    pub async fn post(&self, message: &Value) -> Result<u16, TestError> {
        let mut req = self.http.post(&self.post_url).json(message);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await?;
        Ok(r.status().as_u16())
    }

    /// Send a request and wait for its response on the SSE stream.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, TestError> {
        self.next_id += 1;
        let id = self.next_id;
        let status = self
            .post(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await?;
        if status != 202 {
            return Err(format!("POST answered {status}").into());
        }
        loop {
            let (_, data) = tokio::time::timeout(Duration::from_secs(30), self.events.recv())
                .await
                .map_err(|_| "no response within 30s")?
                .ok_or("SSE stream closed")?;
            let msg: Value = serde_json::from_str(&data)?;
            if msg.get("id") == Some(&json!(id)) {
                return Ok(msg);
            }
            self.other.push(msg);
        }
    }

    /// initialize + notifications/initialized.
    pub async fn initialize(&mut self) -> Result<Value, TestError> {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"sse-test","version":"0"}}),
            )
            .await?;
        self.post(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await?;
        Ok(r)
    }
}
