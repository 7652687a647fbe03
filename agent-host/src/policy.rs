//! The gateway's clients file: per-client tokens (stored as SHA-256 hashes), the tools each
//! client may see and call (globs), a read-only flag, and rate limits (token buckets) for the
//! whole client and per tool.
//!
//! ```yaml
//! clients:
//!   - name: analyst
//!     token_sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
//!     tools: ["sophia-memory__*", "workflow__*"]
//!     read_only: true
//!     rate_limit: 120/min          # every request; over it: HTTP 429 + Retry-After
//!     tool_limits:
//!       "sophia-snowflake__*": 10/min   # per tool; over it: a tool error saying when
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mcp_core::{ClientAuth, ClientId};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::metrics::Metrics;

/// A rate: `N` calls per `period`, as a token bucket of capacity `N` refilled evenly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    /// `"60/min"`, `"5/s"`, `"1000/h"`, `"10/30s"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "rate {text:?}: write COUNT/PERIOD, e.g. 60/min, 5/s, 1000/h or 10/30s \
                 (COUNT at least 1)"
            )
        };
        let (count, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(bad());
        }
        let period = period.trim();
        let split = period
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(period.len());
        let (n, unit) = period.split_at(split);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        if n == 0 {
            return Err(bad());
        }
        Ok(Self {
            count,
            period: Duration::from_secs(n * unit_secs),
        })
    }
}

/// One token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate.count),
            last: now,
        }
    }

    /// Take one token, or say how long until one is there.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(rate.count) / rate.period.as_secs_f64();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(f64::from(rate.count));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_sec))
        }
    }
}

/// `*` matches any run of characters, `?` one character; everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    clients: Vec<ClientSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSpec {
    name: String,
    token_sha256: String,
    #[serde(default)]
    tools: Option<Vec<String>>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    rate_limit: Option<String>,
    #[serde(default)]
    tool_limits: BTreeMap<String, String>,
}

/// One client of the clients file.
#[derive(Debug, Clone)]
pub struct Client {
    pub name: Arc<str>,
    hash: [u8; 32],
    /// Globs over offered tool names; `None` = every tool.
    pub tools: Option<Vec<String>>,
    pub read_only: bool,
    pub rate_limit: Option<Rate>,
    /// (glob, rate), first match wins.
    pub tool_limits: Vec<(String, Rate)>,
}

impl Client {
    /// Whether this client may see and call `tool` (`read_only`: the tool's annotation).
    pub fn allows(&self, tool: &str, read_only: bool) -> bool {
        if self.read_only && !read_only {
            return false;
        }
        match &self.tools {
            None => true,
            Some(globs) => globs.iter().any(|g| glob_match(g, tool)),
        }
    }

    fn tool_rate(&self, tool: &str) -> Option<Rate> {
        self.tool_limits
            .iter()
            .find(|(g, _)| glob_match(g, tool))
            .map(|(_, r)| *r)
    }
}

/// SHA-256 of a token, as stored in the clients file.
pub fn token_hash(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The loaded clients file with its rate-limit state.
pub struct Policy {
    clients: Vec<Client>,
    buckets: Mutex<HashMap<(usize, Option<String>), Bucket>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field(
                "clients",
                &self.clients.iter().map(|c| &*c.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Policy {
    /// Read a clients file (JSON, or YAML when the name ends in .yaml/.yml).
    pub fn load(path: &Path, metrics: Arc<Metrics>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the clients file {}: {e}", path.display()))?;
        let yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        let file: ClientsFile = if yaml {
            yaml_serde::from_str(&text).map_err(|e| e.to_string())
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        }
        .map_err(|e| format!("clients file {}: {e}", path.display()))?;
        Self::from_file(file, metrics).map_err(|e| format!("clients file {}: {e}", path.display()))
    }

    /// Parse a clients file from text (`yaml` picks the syntax).
    pub fn parse(text: &str, yaml: bool, metrics: Arc<Metrics>) -> Result<Self, String> {
        let file: ClientsFile = if yaml {
            yaml_serde::from_str(text).map_err(|e| e.to_string())?
        } else {
            serde_json::from_str(text).map_err(|e| e.to_string())?
        };
        Self::from_file(file, metrics)
    }

    fn from_file(file: ClientsFile, metrics: Arc<Metrics>) -> Result<Self, String> {
        if file.clients.is_empty() {
            return Err("no clients".into());
        }
        let mut clients: Vec<Client> = Vec::new();
        for spec in file.clients {
            let name = spec.name.trim().to_string();
            if name.is_empty() {
                return Err("a client without a name".into());
            }
            if clients.iter().any(|c| *c.name == *name) {
                return Err(format!("client {name:?} appears twice"));
            }
            let hash = parse_hash(&spec.token_sha256).ok_or_else(|| {
                format!(
                    "client {name:?}: token_sha256 must be 64 hex digits (the SHA-256 of the \
                     token; `sophia-host token` makes one)"
                )
            })?;
            if clients.iter().any(|c| c.hash == hash) {
                return Err(format!(
                    "client {name:?} has the same token as another client"
                ));
            }
            if let Some(globs) = &spec.tools
                && globs.iter().any(|g| g.trim().is_empty())
            {
                return Err(format!("client {name:?}: an empty tool pattern"));
            }
            let rate_limit = spec
                .rate_limit
                .as_deref()
                .map(Rate::parse)
                .transpose()
                .map_err(|e| format!("client {name:?}: rate_limit: {e}"))?;
            let mut tool_limits = Vec::new();
            for (glob, rate) in spec.tool_limits {
                let rate =
                    Rate::parse(&rate).map_err(|e| format!("client {name:?}: {glob}: {e}"))?;
                tool_limits.push((glob, rate));
            }
            clients.push(Client {
                name: name.into(),
                hash,
                tools: spec.tools,
                read_only: spec.read_only,
                rate_limit,
                tool_limits,
            });
        }
        Ok(Self {
            clients,
            buckets: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// The client with this name.
    pub fn client(&self, id: &ClientId) -> Option<&Client> {
        self.clients.iter().find(|c| c.name == id.0)
    }

    /// The clients' names.
    pub fn names(&self) -> Vec<String> {
        self.clients.iter().map(|c| c.name.to_string()).collect()
    }

    fn take(&self, key: (usize, Option<String>), rate: Rate) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(rate, now))
            .take(rate, now)
    }

    /// One call of `tool` by `client` against the client's per-tool limit.
    pub fn take_tool(&self, client: &Client, tool: &str) -> Result<(), (Rate, Duration)> {
        let Some(rate) = client.tool_rate(tool) else {
            return Ok(());
        };
        let index = self
            .clients
            .iter()
            .position(|c| c.name == client.name)
            .unwrap_or(usize::MAX);
        self.take((index, Some(tool.to_string())), rate)
            .map_err(|wait| (rate, wait))
    }
}

impl ClientAuth for Policy {
    fn authenticate(&self, bearer: &str) -> Option<ClientId> {
        let given = token_hash(bearer);
        // Compare with every client, so the time taken does not say which one nearly matched.
        let mut found = None;
        for c in &self.clients {
            if bool::from(c.hash.ct_eq(&given)) {
                found = Some(ClientId(c.name.clone()));
            }
        }
        found
    }

    fn admit(&self, id: &ClientId) -> Result<(), Duration> {
        let Some((index, client)) = self
            .clients
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == id.0)
        else {
            return Ok(());
        };
        let Some(rate) = client.rate_limit else {
            return Ok(());
        };
        let r = self.take((index, None), rate);
        if r.is_err() {
            self.metrics.rate_limited(&client.name, "client");
        }
        r
    }
}

/// A new random token (32 bytes, URL-safe hex) and its hash for the clients file.
pub fn new_token() -> Result<(String, String), String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random generator failed".to_string())?;
    let token = format!("sophia_{}", hex(&bytes));
    let hash = hex(&token_hash(&token));
    Ok((token, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(
            Rate::parse("60/min").unwrap(),
            Rate {
                count: 60,
                period: Duration::from_secs(60)
            }
        );
        assert_eq!(Rate::parse("5/s").unwrap().period, Duration::from_secs(1));
        assert_eq!(
            Rate::parse("10/30s").unwrap().period,
            Duration::from_secs(30)
        );
        assert_eq!(Rate::parse(" 2 / h ").unwrap().count, 2);
        for bad in ["", "60", "0/s", "x/min", "5/fortnight", "5/0s", "-1/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bucket_refuses_the_n_plus_first_and_refills() {
        let rate = Rate::parse("3/s").unwrap();
        let t0 = Instant::now();
        let mut b = Bucket::new(rate, t0);
        for _ in 0..3 {
            assert!(b.take(rate, t0).is_ok());
        }
        let wait = b.take(rate, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0 / 3.0).abs() < 1e-6, "{wait:?}");
        // One token back after a third of a second, not two.
        let t1 = t0 + Duration::from_millis(334);
        assert!(b.take(rate, t1).is_ok());
        assert!(b.take(rate, t1).is_err());
        // Never more than the capacity, however long it waited.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(rate, t2).is_ok());
        }
        assert!(b.take(rate, t2).is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match(
            "sophia-memory__*",
            "sophia-memory__search_nodes"
        ));
        assert!(!glob_match("sophia-memory__*", "sophia-slack__post"));
        assert!(glob_match("*__get_*", "sophia-hubspot__get_object"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b*", "xxbxxaxx"));
    }

    fn policy(text: &str) -> Result<Policy, String> {
        Policy::parse(text, true, Arc::new(Metrics::default()))
    }

    #[test]
    fn clients_file_is_checked() {
        let h = hex(&token_hash("t1"));
        let ok = policy(&format!(
            "clients:\n  - name: a\n    token_sha256: {h}\n    tools: ['x__*']\n    rate_limit: 2/s\n"
        ))
        .unwrap();
        assert_eq!(ok.names(), vec!["a"]);
        assert_eq!(
            ok.authenticate("t1"),
            Some(ClientId("a".into())),
            "the token whose hash is stored"
        );
        assert_eq!(ok.authenticate("t2"), None);
        assert_eq!(ok.authenticate(&h), None, "the hash itself is not a token");
        let cases = [
            ("clients: []", "no clients"),
            (
                "clients:\n  - name: a\n    token_sha256: abc\n",
                "64 hex digits",
            ),
            (
                &format!(
                    "clients:\n  - name: a\n    token_sha256: {h}\n  - name: a\n    token_sha256: {h}\n"
                ),
                "appears twice",
            ),
            (
                &format!(
                    "clients:\n  - name: a\n    token_sha256: {h}\n  - name: b\n    token_sha256: {h}\n"
                ),
                "same token",
            ),
            (
                &format!("clients:\n  - name: a\n    token_sha256: {h}\n    rate_limit: lots\n"),
                "COUNT/PERIOD",
            ),
            (
                &format!("clients:\n  - name: a\n    token_sha256: {h}\n    tols: ['*']\n"),
                "unknown field",
            ),
        ];
        for (text, want) in cases {
            let e = policy(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn tool_access_and_limits() {
        let h = hex(&token_hash("t1"));
        let p = policy(&format!(
            "clients:\n  - name: a\n    token_sha256: {h}\n    tools: ['mem__*', 'workflow__quick*']\n    read_only: true\n    tool_limits:\n      'mem__search*': 2/min\n"
        ))
        .unwrap();
        let c = p.client(&ClientId("a".into())).unwrap();
        assert!(c.allows("mem__search_nodes", true));
        assert!(!c.allows("mem__create_entities", false), "read-only client");
        assert!(!c.allows("slack__post", true));
        assert!(c.allows("workflow__quickstart", true));
        assert!(p.take_tool(c, "mem__search_nodes").is_ok());
        assert!(p.take_tool(c, "mem__search_nodes").is_ok());
        let (rate, wait) = p.take_tool(c, "mem__search_nodes").unwrap_err();
        assert_eq!(rate.count, 2);
        assert!(wait > Duration::from_secs(29), "{wait:?}");
        // Another tool has its own bucket; one without a limit is never refused.
        assert!(p.take_tool(c, "mem__search_memory").is_ok());
        for _ in 0..100 {
            assert!(p.take_tool(c, "mem__open_nodes").is_ok());
        }
    }

    #[test]
    fn new_tokens_are_random_and_hash_to_what_is_printed() {
        let (t1, h1) = new_token().unwrap();
        let (t2, _) = new_token().unwrap();
        assert_ne!(t1, t2);
        assert_eq!(hex(&token_hash(&t1)), h1);
        assert_eq!(h1.len(), 64);
    }
}
