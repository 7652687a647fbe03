//! Side-by-side benchmark: `sophia-memory` against the reference server
//! (`@modelcontextprotocol/server-memory`), both driven as child processes over stdio with raw
//! newline-delimited JSON-RPC by the same client code.
//!
//! Run after `cargo build --release -p sophia-memory` (or just `cargo bench -p sophia-memory
//! --bench compare`, which builds the binary in the same profile):
//!
//! ```text
//! cargo bench -p sophia-memory --bench compare
//! ```
//!
//! Environment:
//! * `SOPHIA_MEMORY_BIN`: the sophia-memory binary (default: the one Cargo built for this bench,
//!   i.e. `<workspace>/target/release/sophia-memory`).
//! * `REFERENCE_MEMORY_CMD`: the reference command line, split on whitespace, no shell
//!   (default `npx -y @modelcontextprotocol/server-memory@2026.8.31`).
//! * `BENCH_SIZES` (default `1000,10000`), `BENCH_CALLS` (200), `BENCH_COLD` (20),
//!   `BENCH_PIPELINE` (2000), `BENCH_WINDOW` (32 requests in flight for the sustained run).
//!
//! Not a timed test: it prints a markdown report and exits 0 unless sophia-memory itself fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error>>;

const DEFAULT_REFERENCE: &str = "npx -y @modelcontextprotocol/server-memory@2026.8.31";
/// The selective query: exactly five entities carry it in an observation, at every graph size.
const QUERY: &str = "Zanzibar";
const QUERY_MATCHES: usize = 5;
const BATCH: usize = 100;
const INIT_TIMEOUT: Duration = Duration::from_secs(120);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// Server processes

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Which {
    Sophia,
    Reference,
}

#[derive(Clone, Debug)]
struct Spec {
    which: Which,
    argv: Vec<String>,
}

impl Spec {
    /// Environment for a store at `dir` (a fresh file unless it already exists there).
    fn env(&self, dir: &Path, sync: &str) -> Vec<(String, String)> {
        match self.which {
            Which::Sophia => vec![
                (
                    "SOPHIA_MEMORY_DB".into(),
                    dir.join("memory.db").display().to_string(),
                ),
                ("SOPHIA_MEMORY_SYNC".into(), sync.into()),
            ],
            Which::Reference => vec![(
                "MEMORY_FILE_PATH".into(),
                dir.join("memory.jsonl").display().to_string(),
            )],
        }
    }
}

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    next_id: u64,
    stderr_path: PathBuf,
}

impl Server {
    /// Spawn and complete `initialize`; returns the server and the spawn-to-initialize time.
    fn start(spec: &Spec, env: &[(String, String)], stderr_path: &Path) -> Res<(Self, Duration)> {
        let stderr = std::fs::File::create(stderr_path)?;
        let mut cmd = Command::new(&spec.argv[0]);
        cmd.args(&spec.argv[1..])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            // Own process group, so a wrapper (npx) and its children can be ended together.
            .process_group(0);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {:?}: {e}", spec.argv))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            stdin: Some(stdin),
            rx,
            next_id: 1,
            stderr_path: stderr_path.to_path_buf(),
        };
        let init = server.request_with_timeout(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "sophia-bench", "version": "0"}
            }),
            INIT_TIMEOUT,
        );
        let elapsed = started.elapsed();
        if let Err(e) = init {
            let tail = server.stderr_tail();
            server.stop();
            return Err(format!("{e}; server stderr: {tail}").into());
        }
        server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok((server, elapsed))
    }

    /// The first fatal-looking stderr line, if any, and the last three lines.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let fatal = lines
            .iter()
            .find(|l| l.contains("FATAL") || l.contains("Error"))
            .map(|l| format!("{} … ", l.trim()))
            .unwrap_or_default();
        let tail = &lines[lines.len().saturating_sub(3)..];
        format!("{fatal}{}", tail.join(" | "))
    }

    fn send(&mut self, msg: &Value) -> Res<()> {
        let mut line = serde_json::to_string(msg)?;
        line.push('\n');
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        stdin.write_all(line.as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    fn recv(&self, timeout: Duration) -> Res<Value> {
        match self.rx.recv_timeout(timeout) {
            Ok(line) => Ok(serde_json::from_str(&line)?),
            Err(RecvTimeoutError::Timeout) => Err(format!("no reply within {timeout:?}").into()),
            Err(RecvTimeoutError::Disconnected) => Err("the server closed its stdout".into()),
        }
    }

    fn request_with_timeout(&mut self, method: &str, params: Value, t: Duration) -> Res<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let msg = self.recv(t)?;
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue; // a notification or a stray message
            }
            if let Some(err) = msg.get("error") {
                return Err(format!("{method}: JSON-RPC error {err}").into());
            }
            return msg.get("result").cloned().ok_or_else(|| "no result".into());
        }
    }

    /// `tools/call`; a result with `isError: true` is an error here.
    fn call(&mut self, tool: &str, args: Value) -> Res<Value> {
        let result = self.request_with_timeout(
            "tools/call",
            json!({"name": tool, "arguments": args}),
            CALL_TIMEOUT,
        )?;
        check_tool_result(tool, &result)?;
        Ok(result)
    }

    /// `n` copies of one tools/call with at most `window` requests in flight: a new request is
    /// written as soon as a reply arrives. Returns calls per second, first write to last reply.
    fn windowed(&mut self, n: usize, window: usize, tool: &str, args: &Value) -> Res<f64> {
        let first = self.next_id;
        self.next_id += n as u64;
        let line = |id: u64| -> Res<String> {
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": tool, "arguments": args}});
            Ok(serde_json::to_string(&msg)? + "\n")
        };
        let started = Instant::now();
        let mut sent = 0u64;
        let mut seen = HashSet::new();
        while seen.len() < n {
            let mut burst = String::new();
            while sent < n as u64 && sent - (seen.len() as u64) < window as u64 {
                burst.push_str(&line(first + sent)?);
                sent += 1;
            }
            if !burst.is_empty() {
                let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
                stdin.write_all(burst.as_bytes())?;
                stdin.flush()?;
            }
            let msg = self.recv(CALL_TIMEOUT)?;
            let Some(id) = msg.get("id").and_then(Value::as_u64) else {
                continue;
            };
            if id < first || id >= first + n as u64 {
                continue;
            }
            let result = msg
                .get("result")
                .ok_or_else(|| format!("pipelined {tool}: {msg}"))?;
            check_tool_result(tool, result)?;
            seen.insert(id);
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    /// Write `n` copies of one tools/call without waiting, then wait for all the replies.
    /// Returns calls per second, from the first byte written to the last reply read.
    fn pipelined(&mut self, n: usize, tool: &str, args: &Value) -> Res<f64> {
        let first = self.next_id;
        self.next_id += n as u64;
        let mut payload = String::new();
        for k in 0..n as u64 {
            let msg = json!({"jsonrpc": "2.0", "id": first + k, "method": "tools/call",
                "params": {"name": tool, "arguments": args}});
            payload.push_str(&serde_json::to_string(&msg)?);
            payload.push('\n');
        }
        let mut stdin = self.stdin.take().ok_or("stdin closed")?;
        let started = Instant::now();
        let writer = thread::spawn(move || -> std::io::Result<ChildStdin> {
            stdin.write_all(payload.as_bytes())?;
            stdin.flush()?;
            Ok(stdin)
        });
        let mut seen = HashSet::new();
        while seen.len() < n {
            let msg = self.recv(CALL_TIMEOUT)?;
            let Some(id) = msg.get("id").and_then(Value::as_u64) else {
                continue;
            };
            if id < first || id >= first + n as u64 {
                continue;
            }
            let result = msg
                .get("result")
                .ok_or_else(|| format!("pipelined {tool}: {msg}"))?;
            check_tool_result(tool, result)?;
            seen.insert(id);
        }
        let elapsed = started.elapsed();
        let stdin = writer.join().map_err(|_| "writer thread failed")??;
        self.stdin = Some(stdin);
        Ok(n as f64 / elapsed.as_secs_f64())
    }

    /// The process that actually serves: the deepest descendant (e.g. `node …/index.js` under
    /// `npx` → `sh`), or the child itself when there is no wrapper.
    fn server_pid(&self) -> u32 {
        deepest_descendant(self.child.id())
    }

    /// Close stdin, give the server a moment to exit, then end its process group.
    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        // Ends any wrapper children too (harmless if the group is already gone).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check_tool_result(tool: &str, result: &Value) -> Res<()> {
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(format!("{tool} returned isError: {result}").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// /proc helpers

/// (pid, ppid) of every process.
fn process_table() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid ...
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            out.push((pid, ppid));
        }
    }
    out
}

fn deepest_descendant(root: u32) -> u32 {
    let table = process_table();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, ppid) in table {
        children.entry(ppid).or_default().push(pid);
    }
    let (mut best, mut best_depth) = (root, 0);
    let mut stack = vec![(root, 0)];
    while let Some((pid, depth)) = stack.pop() {
        if depth > best_depth {
            (best, best_depth) = (pid, depth);
        }
        for &c in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
            stack.push((c, depth + 1));
        }
    }
    best
}

/// A numeric field of /proc/<pid>/status (`VmHWM` is in KiB).
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident set size (VmHWM) in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    proc_status(pid, "VmHWM")
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Workload

const TYPES: [&str; 5] = ["person", "project", "organization", "place", "tool"];
const CITIES: [&str; 8] = [
    "Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Hanoi", "Quito", "Perth",
];
const LIKES: [&str; 6] = ["chess", "jazz", "hiking", "rust", "tea", "sailing"];

fn entity(n: usize, i: usize) -> Value {
    let step = n / QUERY_MATCHES;
    let travel = if i % step == step / 2 {
        "Visited Zanzibar in the spring".to_string()
    } else {
        format!("Lives in {}", CITIES[i % CITIES.len()])
    };
    json!({
        "name": format!("entity-{i:05}"),
        "entityType": TYPES[i % TYPES.len()],
        "observations": [
            format!("Works on project-{} since {}", i % 50, 2000 + i % 25),
            travel,
            format!("Note {i}: likes {}", LIKES[i % LIKES.len()]),
        ]
    })
}

/// n entities (3 observations each) in batches of 100, then n relations in batches of 200.
fn populate(s: &mut Server, n: usize) -> Res<Duration> {
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let entities: Vec<Value> = chunk.iter().map(|&i| entity(n, i)).collect();
        s.call("create_entities", json!({ "entities": entities }))?;
    }
    for chunk in (0..n).collect::<Vec<_>>().chunks(2 * BATCH) {
        let relations: Vec<Value> = chunk
            .iter()
            .map(|&i| {
                json!({"from": format!("entity-{i:05}"),
                    "to": format!("entity-{:05}", (i * 7 + 1) % n),
                    "relationType": "knows"})
            })
            .collect();
        s.call("create_relations", json!({ "relations": relations }))?;
    }
    Ok(started.elapsed())
}

fn search_args() -> Value {
    json!({ "query": QUERY })
}

/// `calls` sequential search_nodes (after 10 warm-ups), checking the match count.
fn bench_search(s: &mut Server, calls: usize) -> Res<Vec<Duration>> {
    for _ in 0..10 {
        s.call("search_nodes", search_args())?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        let r = s.call("search_nodes", search_args())?;
        times.push(t.elapsed());
        let found = r
            .pointer("/structuredContent/entities")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if found != QUERY_MATCHES {
            return Err(
                format!("search_nodes found {found} entities, expected {QUERY_MATCHES}").into(),
            );
        }
    }
    Ok(times)
}

/// `calls` sequential create_entities, one new entity (3 observations) per call.
fn bench_create(s: &mut Server, calls: usize, tag: &str) -> Res<Vec<Duration>> {
    let mut times = Vec::with_capacity(calls);
    for k in 0..calls {
        let e = json!({"name": format!("new-{tag}-{k}"), "entityType": "person",
            "observations": ["Joined late", format!("Ticket {k}"), "Prefers email"]});
        let t = Instant::now();
        s.call("create_entities", json!({ "entities": [e] }))?;
        times.push(t.elapsed());
    }
    Ok(times)
}

#[derive(Default, Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
    min: f64,
}

/// Milliseconds; nearest-rank percentiles.
fn stats(times: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return Stats::default();
    }
    let rank = |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Stats {
        p50: rank(50.0),
        p99: rank(99.0),
        min: ms[0],
    }
}

#[derive(Default)]
struct SizeResult {
    populate: Option<Duration>,
    search: Option<Stats>,
    create_full: Option<Stats>,
    create_normal: Option<Stats>,
    rss_kib: Option<u64>,
    rss_after_window_kib: Option<u64>,
    throughput_window: Option<f64>,
    /// Calls/s of the all-at-once burst, or why it failed.
    burst: Option<Result<f64, String>>,
    rss_after_burst_kib: Option<u64>,
    threads_after_burst: Option<u64>,
    db_dir: Option<tempfile::TempDir>,
}

/// Results for one graph size.
struct SizeRow {
    n: usize,
    sophia: SizeResult,
    reference: SizeResult,
    sophia_loaded_cold: Option<Cold>,
    reference_loaded_cold: Option<Cold>,
}

struct Config {
    sizes: Vec<usize>,
    calls: usize,
    cold: usize,
    pipeline: usize,
    window: usize,
}

/// The main session for one server and size: populate, search, create, RSS, pipelined.
fn size_session(spec: &Spec, n: usize, cfg: &Config, out: &mut SizeResult) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let (mut s, _) = Server::start(
        spec,
        &spec.env(dir.path(), "full"),
        &dir.path().join("stderr"),
    )?;
    let run = (|| -> Res<()> {
        out.populate = Some(populate(&mut s, n)?);
        out.search = Some(stats(&bench_search(&mut s, cfg.calls)?));
        out.create_full = Some(stats(&bench_create(&mut s, cfg.calls, "full")?));
        out.rss_kib = vm_hwm_kib(s.server_pid());
        out.throughput_window =
            Some(s.windowed(cfg.pipeline, cfg.window, "search_nodes", &search_args())?);
        out.rss_after_window_kib = vm_hwm_kib(s.server_pid());
        // Last, as it may bring the server down.
        let pid = s.server_pid();
        out.burst = Some(
            s.pipelined(cfg.pipeline, "search_nodes", &search_args())
                .map_err(|e| format!("{e} ({})", s.stderr_tail())),
        );
        out.rss_after_burst_kib = vm_hwm_kib(pid);
        out.threads_after_burst = proc_status(pid, "Threads");
        Ok(())
    })();
    let run = run.map_err(|e| format!("{e} ({})", s.stderr_tail()));
    s.stop();
    out.db_dir = Some(dir);
    run?;
    Ok(())
}

/// sophia-memory with SOPHIA_MEMORY_SYNC=normal: fresh store, populate, create.
fn normal_session(spec: &Spec, n: usize, cfg: &Config) -> Res<Stats> {
    let dir = tempfile::tempdir()?;
    let (mut s, _) = Server::start(
        spec,
        &spec.env(dir.path(), "normal"),
        &dir.path().join("stderr"),
    )?;
    let run = (|| -> Res<Stats> {
        populate(&mut s, n)?;
        Ok(stats(&bench_create(&mut s, cfg.calls, "normal")?))
    })();
    s.stop();
    run
}

struct Cold {
    /// Spawn to the initialize reply.
    init: Stats,
    /// Spawn to the first search_nodes reply (only with a populated store).
    first_search: Option<Stats>,
    /// The serving process's command line, seen on the first spawn.
    served_by: Vec<String>,
}

/// `count` spawns, each timed from spawn to the initialize reply. `store` is an existing store
/// directory to reuse (None: a fresh, empty store per spawn); with a store, the first
/// search_nodes reply is timed too (from spawn).
fn cold_start(spec: &Spec, count: usize, store: Option<&Path>) -> Res<Cold> {
    let mut times = Vec::with_capacity(count);
    let mut first_search = Vec::new();
    let mut served_by = Vec::new();
    for k in 0..count {
        let fresh = tempfile::tempdir()?;
        let dir = store.unwrap_or(fresh.path());
        let spawned = Instant::now();
        let (mut s, t) = Server::start(
            spec,
            &spec.env(dir, "full"),
            &fresh.path().join(format!("stderr-{k}")),
        )?;
        times.push(t);
        let searched = match store {
            Some(_) => s
                .call("search_nodes", search_args())
                .map(|_| spawned.elapsed()),
            None => Ok(Duration::ZERO),
        };
        if k == 0 {
            served_by = cmdline(s.server_pid());
        }
        s.stop();
        if store.is_some() {
            first_search.push(searched?);
        }
    }
    Ok(Cold {
        init: stats(&times),
        first_search: store.map(|_| stats(&first_search)),
        served_by,
    })
}

// ---------------------------------------------------------------------------------------------
// Report

fn ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| {
        if v < 1.0 {
            format!("{v:.3} ms")
        } else if v < 100.0 {
            format!("{v:.2} ms")
        } else {
            format!("{v:.0} ms")
        }
    })
}

fn mib(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// `worse / better`: how many times sophia-memory is better.
fn ratio(reference: Option<f64>, sophia: Option<f64>) -> String {
    match (reference, sophia) {
        (Some(r), Some(s)) if s > 0.0 => format!("{:.1}x", r / s),
        _ => "n/a".into(),
    }
}

fn row(table: &mut Vec<String>, metric: &str, s: String, r: String, x: String) {
    table.push(format!("| {metric} | {s} | {r} | {x} |"));
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() -> Res<()> {
    let cfg = Config {
        sizes: std::env::var("BENCH_SIZES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .filter(|v: &Vec<usize>| !v.is_empty())
            .unwrap_or_else(|| vec![1000, 10_000]),
        calls: env_usize("BENCH_CALLS", 200).max(1),
        cold: env_usize("BENCH_COLD", 20).max(1),
        pipeline: env_usize("BENCH_PIPELINE", 2000).max(1),
        window: env_usize("BENCH_WINDOW", 32).max(1),
    };
    let sophia_bin = std::env::var("SOPHIA_MEMORY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sophia-memory").to_string());
    if !Path::new(&sophia_bin).exists() {
        return Err(format!(
            "{sophia_bin} not found: run `cargo build --release -p sophia-memory` first"
        )
        .into());
    }
    let sophia = Spec {
        which: Which::Sophia,
        argv: vec![sophia_bin.clone()],
    };
    let ref_cmd =
        std::env::var("REFERENCE_MEMORY_CMD").unwrap_or_else(|_| DEFAULT_REFERENCE.into());
    let reference = Spec {
        which: Which::Reference,
        argv: ref_cmd.split_whitespace().map(String::from).collect(),
    };

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "?".into());
    println!("# sophia-memory vs reference memory server\n");
    println!("- date: {}", shell("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]));
    println!(
        "- nproc: {}; CPU: {cpu}; kernel: {}",
        shell("nproc", &[]),
        shell("uname", &["-r"])
    );
    println!(
        "- temp dir filesystem: {}",
        shell(
            "sh",
            &["-c", "df -T \"${TMPDIR:-/tmp}\" | awk 'NR==2{print $2}'"]
        )
    );
    println!(
        "- sophia-memory: {sophia_bin} (source: git {})",
        shell("git", &["describe", "--always", "--dirty"])
    );
    println!(
        "- reference: `{ref_cmd}` (node {})",
        shell("node", &["--version"])
    );
    println!(
        "- sizes {:?}; {} sequential calls per latency figure; {} cold starts; {} pipelined calls ({} in flight, then all at once)",
        cfg.sizes, cfg.calls, cfg.cold, cfg.pipeline, cfg.window
    );
    println!(
        "- search query: {QUERY:?} (matches exactly {QUERY_MATCHES} entities by one observation, plus their relations)\n"
    );

    // Reference availability (also warms the npx cache so the cold starts measure startup only).
    let mut reference_ok = true;
    {
        let dir = tempfile::tempdir()?;
        eprintln!("checking the reference server: {ref_cmd}");
        match Server::start(
            &reference,
            &reference.env(dir.path(), "full"),
            &dir.path().join("stderr"),
        ) {
            Ok((s, t)) => {
                eprintln!("reference is up ({t:?} on first start)");
                s.stop();
            }
            Err(e) => {
                println!(
                    "**REFERENCE SERVER UNAVAILABLE** (`{ref_cmd}`): {e}. Reporting sophia-memory only.\n"
                );
                reference_ok = false;
            }
        }
    }

    // Cold starts.
    eprintln!("cold start: sophia-memory");
    let sophia_cold = cold_start(&sophia, cfg.cold, None)?.init;
    let mut ref_cold = None;
    let mut ref_direct_cold = None;
    if reference_ok {
        eprintln!("cold start: reference");
        let mut direct_argv = Vec::new();
        match cold_start(&reference, cfg.cold, None) {
            Ok(c) => {
                ref_cold = Some(c.init);
                if !c.served_by.is_empty() && c.served_by != reference.argv {
                    direct_argv = c.served_by;
                }
            }
            Err(e) => println!("reference cold start failed: {e}\n"),
        }
        if !direct_argv.is_empty() {
            eprintln!("cold start: reference, node direct: {direct_argv:?}");
            println!("- reference served by: `{}`", direct_argv.join(" "));
            let direct = Spec {
                which: Which::Reference,
                argv: direct_argv,
            };
            match cold_start(&direct, cfg.cold, None) {
                Ok(c) => ref_direct_cold = Some(c.init),
                Err(e) => println!("reference (direct) cold start failed: {e}\n"),
            }
        }
    }

    // Per-size sessions.
    let mut results: Vec<SizeRow> = Vec::new();
    for &n in &cfg.sizes {
        let mut s = SizeResult::default();
        eprintln!("{n} entities: sophia-memory (sync=full)");
        size_session(&sophia, n, &cfg, &mut s)?;
        eprintln!("{n} entities: sophia-memory (sync=normal)");
        s.create_normal = Some(normal_session(&sophia, n, &cfg)?);
        eprintln!("{n} entities: sophia-memory cold start on the populated store");
        let loaded_cold = match &s.db_dir {
            Some(d) => Some(cold_start(&sophia, cfg.cold, Some(d.path()))?),
            None => None,
        };
        let mut r = SizeResult::default();
        let mut ref_loaded_cold = None;
        if reference_ok {
            eprintln!("{n} entities: reference");
            if let Err(e) = size_session(&reference, n, &cfg, &mut r) {
                println!("- reference failed at {n} entities: {e}");
            }
            if let Some(d) = &r.db_dir {
                eprintln!("{n} entities: reference cold start on the populated store");
                match cold_start(&reference, cfg.cold, Some(d.path())) {
                    Ok(c) => ref_loaded_cold = Some(c),
                    Err(e) => println!("- reference cold start at {n} entities failed: {e}"),
                }
            }
        }
        results.push(SizeRow {
            n,
            sophia: s,
            reference: r,
            sophia_loaded_cold: loaded_cold,
            reference_loaded_cold: ref_loaded_cold,
        });
    }
    for row in &results {
        for (who, r) in [
            ("sophia-memory", &row.sophia),
            ("reference", &row.reference),
        ] {
            if let Some(Err(e)) = &r.burst {
                println!(
                    "- {who} at {} entities, burst of {}: FAILED: {e}",
                    row.n, cfg.pipeline
                );
            }
        }
    }
    println!();

    // Table.
    let mut t = vec![
        "| metric | sophia-memory | reference | advantage (x) |".to_string(),
        "|---|---:|---:|---:|".to_string(),
    ];
    let time_rows = |t: &mut Vec<String>, label: &str, s: Option<Stats>, r: Option<Stats>| {
        for (name, get) in [
            ("p50", (|c: Stats| c.p50) as fn(Stats) -> f64),
            ("p99", |c: Stats| c.p99),
        ] {
            let (s, r) = (s.map(get), r.map(get));
            row(t, &format!("{label} {name}"), ms(s), ms(r), ratio(r, s));
        }
    };
    time_rows(
        &mut t,
        "cold start (empty store)",
        Some(sophia_cold),
        ref_cold,
    );
    row(
        &mut t,
        "cold start (empty store) min",
        ms(Some(sophia_cold.min)),
        ms(ref_cold.map(|c| c.min)),
        ratio(ref_cold.map(|c| c.min), Some(sophia_cold.min)),
    );
    if ref_direct_cold.is_some() {
        time_rows(
            &mut t,
            "cold start (empty store), reference as `node …/mcp-server-memory`",
            Some(sophia_cold),
            ref_direct_cold,
        );
    }
    let f = |v: Option<u64>| v.map(|v| v as f64);
    let tp = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0} calls/s"));
    for SizeRow {
        n,
        sophia: s,
        reference: r,
        sophia_loaded_cold: lc,
        reference_loaded_cold: rlc,
    } in &results
    {
        let k = if n % 1000 == 0 {
            format!("{}k", n / 1000)
        } else {
            n.to_string()
        };
        let secs =
            |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.2} s", d.as_secs_f64()));
        row(
            &mut t,
            &format!("{k}: populate ({n} entities + {n} relations, batches)"),
            secs(s.populate),
            secs(r.populate),
            ratio(
                r.populate.map(|d| d.as_secs_f64()),
                s.populate.map(|d| d.as_secs_f64()),
            ),
        );
        let lci = lc.as_ref().map(|c| c.init);
        let rlci = rlc.as_ref().map(|c| c.init);
        row(
            &mut t,
            &format!("{k}: cold start p50, spawn to initialize (populated store)"),
            ms(lci.map(|c| c.p50)),
            ms(rlci.map(|c| c.p50)),
            ratio(rlci.map(|c| c.p50), lci.map(|c| c.p50)),
        );
        let lcf = lc.as_ref().and_then(|c| c.first_search);
        let rlcf = rlc.as_ref().and_then(|c| c.first_search);
        row(
            &mut t,
            &format!("{k}: cold start p50, spawn to first search_nodes reply"),
            ms(lcf.map(|c| c.p50)),
            ms(rlcf.map(|c| c.p50)),
            ratio(rlcf.map(|c| c.p50), lcf.map(|c| c.p50)),
        );
        time_rows(&mut t, &format!("{k}: search_nodes"), s.search, r.search);
        time_rows(
            &mut t,
            &format!("{k}: create_entities, sync=full"),
            s.create_full,
            r.create_full,
        );
        time_rows(
            &mut t,
            &format!("{k}: create_entities, sync=normal"),
            s.create_normal,
            r.create_full,
        );
        row(
            &mut t,
            &format!(
                "{k}: pipelined search_nodes, {} calls, {} in flight",
                cfg.pipeline, cfg.window
            ),
            tp(s.throughput_window),
            tp(r.throughput_window),
            ratio(s.throughput_window, r.throughput_window),
        );
        let burst = |b: &Option<Result<f64, String>>| match b {
            Some(Ok(v)) => format!("{v:.0} calls/s"),
            Some(Err(_)) => "FAILED (see above)".into(),
            None => "n/a".into(),
        };
        let ok =
            |b: &Option<Result<f64, String>>| b.as_ref().and_then(|b| b.as_ref().ok().copied());
        row(
            &mut t,
            &format!(
                "{k}: pipelined search_nodes, all {} written at once",
                cfg.pipeline
            ),
            burst(&s.burst),
            burst(&r.burst),
            ratio(ok(&s.burst), ok(&r.burst)),
        );
        row(
            &mut t,
            &format!("{k}: peak RSS (VmHWM) after populate + sequential calls"),
            mib(s.rss_kib),
            mib(r.rss_kib),
            ratio(f(r.rss_kib), f(s.rss_kib)),
        );
        row(
            &mut t,
            &format!(
                "{k}: peak RSS (VmHWM) after the {}-in-flight run",
                cfg.window
            ),
            mib(s.rss_after_window_kib),
            mib(r.rss_after_window_kib),
            ratio(f(r.rss_after_window_kib), f(s.rss_after_window_kib)),
        );
        row(
            &mut t,
            &format!("{k}: peak RSS (VmHWM) after the all-at-once burst"),
            mib(s.rss_after_burst_kib),
            mib(r.rss_after_burst_kib),
            ratio(f(r.rss_after_burst_kib), f(s.rss_after_burst_kib)),
        );
        row(
            &mut t,
            &format!("{k}: server threads after the burst"),
            s.threads_after_burst
                .map_or("n/a".into(), |v| v.to_string()),
            r.threads_after_burst
                .map_or("n/a".into(), |v| v.to_string()),
            String::new(),
        );
    }
    println!("{}\n", t.join("\n"));
    println!(
        "advantage = reference / sophia-memory for times and memory, sophia-memory / reference for throughput; > 1 means sophia-memory is better."
    );
    println!(
        "The reference has no sync setting: both create_entities sync rows compare against the same reference figures."
    );
    println!(
        "Reference RSS is the serving node process (the deepest process under the command), not the npx wrapper.\n"
    );

    // Targets.
    println!("## Targets\n");
    let verdict = |ok: bool| if ok { "MET" } else { "MISSED" };
    println!(
        "- cold start under 10 ms (p50, spawn to initialize, empty store): {:.2} ms -> {}",
        sophia_cold.p50,
        verdict(sophia_cold.p50 < 10.0)
    );
    if let Some(SizeRow {
        sophia: s,
        reference: r,
        ..
    }) = results.iter().find(|x| x.n == 10_000)
    {
        match (s.search, r.search) {
            (Some(s), Some(r)) => {
                let x = r.p50 / s.p50;
                println!(
                    "- search_nodes at 10k >= 20x faster at p50: {x:.1}x -> {}",
                    verdict(x >= 20.0)
                );
            }
            _ => println!(
                "- search_nodes at 10k >= 20x faster at p50: not measured (reference unavailable)"
            ),
        }
        for (what, v) in [
            ("after populate + sequential calls", s.rss_kib),
            (
                "including the pipelined runs",
                s.rss_after_burst_kib
                    .max(s.rss_after_window_kib)
                    .max(s.rss_kib),
            ),
        ] {
            if let Some(kib) = v {
                let m = kib as f64 / 1024.0;
                println!(
                    "- peak RSS under 20 MiB at 10k ({what}): {m:.1} MiB -> {}",
                    verdict(m < 20.0)
                );
            }
        }
    }
    Ok(())
}
