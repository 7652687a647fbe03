//! The gateway's cache of read-only tool results: per client, tool and arguments, with a TTL,
//! bounded by bytes (least recently used evicted first).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::policy::glob_match;

/// How long each tool's results are kept: a default and per-tool overrides (glob, first match).
#[derive(Debug, Clone, Default)]
pub struct CacheConfig {
    pub default_ttl: Duration,
    pub overrides: Vec<(String, Duration)>,
    pub max_bytes: usize,
}

impl CacheConfig {
    /// `GLOB=SECONDS`.
    pub fn parse_override(text: &str) -> Result<(String, Duration), String> {
        let (glob, secs) = text
            .rsplit_once('=')
            .ok_or_else(|| format!("--cache-ttl-for {text:?}: write TOOL_GLOB=SECONDS"))?;
        let secs: f64 = secs
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| format!("--cache-ttl-for {text:?}: SECONDS must be a number ≥ 0"))?;
        Ok((glob.trim().to_string(), Duration::from_secs_f64(secs)))
    }

    /// The TTL for `tool` (zero: not cached).
    pub fn ttl(&self, tool: &str) -> Duration {
        self.overrides
            .iter()
            .find(|(g, _)| glob_match(g, tool))
            .map_or(self.default_ttl, |(_, t)| *t)
    }

    /// Whether anything can be cached at all.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
            && (!self.default_ttl.is_zero() || self.overrides.iter().any(|(_, t)| !t.is_zero()))
    }
}

struct Entry {
    result: CallToolResult,
    bytes: usize,
    stored: Instant,
    ttl: Duration,
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    order: BTreeMap<u64, String>,
    seq: u64,
    bytes: usize,
}

/// The cache. All operations are O(log n) under one short lock.
pub struct Cache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

/// Arguments in a canonical form (object keys sorted at every level), so the same call with
/// keys in another order finds the same entry.
pub fn canonical(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    if let Some(v) = m.get(*k) {
                        write(v, out);
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The key of one call.
pub fn key(client: &str, tool: &str, args: &Value) -> String {
    format!("{client}\u{0}{tool}\u{0}{}", canonical(args))
}

impl Cache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A fresh entry and its age; an expired one is dropped.
    pub fn get(&self, key: &str, now: Instant) -> Option<(CallToolResult, Duration)> {
        self.with(|c| {
            let (fresh, old_seq) = {
                let e = c.map.get(key)?;
                (now.saturating_duration_since(e.stored) < e.ttl, e.seq)
            };
            if !fresh {
                if let Some(e) = c.map.remove(key) {
                    c.bytes -= e.bytes;
                }
                c.order.remove(&old_seq);
                return None;
            }
            c.seq += 1;
            let seq = c.seq;
            c.order.remove(&old_seq);
            c.order.insert(seq, key.to_string());
            let e = c.map.get_mut(key)?;
            e.seq = seq;
            Some((e.result.clone(), now.saturating_duration_since(e.stored)))
        })
    }

    /// Keep a result for `ttl`. Results bigger than an eighth of the cache are not kept.
    pub fn put(&self, key: String, result: CallToolResult, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        let bytes = key.len() + serde_json::to_vec(&result).map_or(usize::MAX, |v| v.len());
        if bytes > self.max_bytes / 8 {
            return;
        }
        self.with(|c| {
            if let Some(old) = c.map.remove(&key) {
                c.bytes -= old.bytes;
                c.order.remove(&old.seq);
            }
            while c.bytes + bytes > self.max_bytes {
                let Some((_, victim)) = c.order.pop_first() else {
                    break;
                };
                if let Some(e) = c.map.remove(&victim) {
                    c.bytes -= e.bytes;
                }
            }
            c.seq += 1;
            let seq = c.seq;
            c.order.insert(seq, key.clone());
            c.bytes += bytes;
            c.map.insert(
                key,
                Entry {
                    result,
                    bytes,
                    stored: now,
                    ttl,
                    seq,
                },
            );
        });
    }

    /// (entries, bytes)
    pub fn usage(&self) -> (usize, usize) {
        self.with(|c| (c.map.len(), c.bytes))
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;

    fn result(text: &str) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::text(text.to_string())])
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": {"d": [1, {"z": 0, "y": "q"}], "c": null}})),
            r#"{"a":{"c":null,"d":[1,{"y":"q","z":0}]},"b":1}"#
        );
        assert_eq!(
            key("c", "t", &json!({"x": 1, "y": 2})),
            key("c", "t", &json!({"y": 2, "x": 1}))
        );
        assert_ne!(
            key("c1", "t", &json!({})),
            key("c2", "t", &json!({})),
            "clients never share entries"
        );
    }

    #[test]
    fn expires_after_the_ttl() {
        let c = Cache::new(1 << 20);
        let t0 = Instant::now();
        c.put("k".into(), result("v"), Duration::from_secs(10), t0);
        let (r, age) = c.get("k", t0 + Duration::from_secs(9)).unwrap();
        assert_eq!(r, result("v"));
        assert_eq!(age, Duration::from_secs(9));
        assert!(c.get("k", t0 + Duration::from_secs(10)).is_none());
        assert_eq!(c.usage(), (0, 0), "an expired entry is dropped");
    }

    #[test]
    fn evicts_least_recently_used_within_the_byte_bound() {
        let one = key("c", "t", &json!({"i": 0})).len()
            + serde_json::to_vec(&result(&"x".repeat(100))).unwrap().len();
        let c = Cache::new(one * 8 + one / 2);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        for i in 0..8 {
            c.put(
                key("c", "t", &json!({"i": i})),
                result(&"x".repeat(100)),
                ttl,
                t0,
            );
        }
        assert_eq!(c.usage().0, 8);
        // Touch entry 0, so entry 1 is now the least recently used.
        assert!(c.get(&key("c", "t", &json!({"i": 0})), t0).is_some());
        c.put(
            key("c", "t", &json!({"i": 8})),
            result(&"x".repeat(100)),
            ttl,
            t0,
        );
        let (n, bytes) = c.usage();
        assert_eq!(n, 8);
        assert!(bytes <= one * 8 + one / 2);
        assert!(c.get(&key("c", "t", &json!({"i": 1})), t0).is_none());
        assert!(c.get(&key("c", "t", &json!({"i": 0})), t0).is_some());
        assert!(c.get(&key("c", "t", &json!({"i": 8})), t0).is_some());
        // Too big for the cache: not kept, nothing evicted for it.
        c.put("big".into(), result(&"y".repeat(one * 2)), ttl, t0);
        assert!(c.get("big", t0).is_none());
        assert_eq!(c.usage().0, 8);
    }

    #[test]
    fn ttl_overrides() {
        let cfg = CacheConfig {
            default_ttl: Duration::from_secs(30),
            overrides: vec![
                CacheConfig::parse_override("sophia-slack__*=0").unwrap(),
                CacheConfig::parse_override("*__get_*=300").unwrap(),
            ],
            max_bytes: 1 << 20,
        };
        assert_eq!(cfg.ttl("sophia-slack__get_x"), Duration::ZERO);
        assert_eq!(
            cfg.ttl("sophia-hubspot__get_object"),
            Duration::from_secs(300)
        );
        assert_eq!(
            cfg.ttl("sophia-memory__search_nodes"),
            Duration::from_secs(30)
        );
        assert!(CacheConfig::parse_override("x").is_err());
        assert!(CacheConfig::parse_override("x=-1").is_err());
        assert!(cfg.enabled());
        assert!(!CacheConfig::default().enabled());
    }
}
