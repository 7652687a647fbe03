//! Our opaque cursor over Gong's cursors, and a page collector within `limit` and the budget.
//!
//! A position is Gong's cursor of the upstream page we stopped in (`None` = the first page) and
//! how many of that page's records were already consumed. Gong pages are fixed in size and the
//! same cursor with the same request gives the same page, so a call continues exactly.

use mcp_core::ToolError;
use mcp_core::budget::{Budget, decode_cursor, encode_cursor, json_chars};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pos {
    /// Gong's cursor of the page; `None` = the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
    /// Records of that page already consumed.
    #[serde(default)]
    pub s: usize,
    /// The end of the window the scan started with (a default `to` is "now", which moves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
}

impl Pos {
    /// Decode a tool's `cursor` argument (absent or empty: the start).
    pub fn start(kind: &str, cursor: Option<&str>) -> Result<Self, ToolError> {
        match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => decode_cursor(kind, c),
            None => Ok(Self::default()),
        }
    }

    pub fn encode(&self, kind: &str) -> String {
        encode_cursor(kind, self)
    }
}

/// Items of one result, within a count limit and the response budget.
pub struct Collector<T> {
    limit: usize,
    available: usize,
    used: usize,
    pub items: Vec<T>,
}

impl<T: Serialize> Collector<T> {
    /// `reserve`: characters the rest of the result needs besides the items.
    pub fn new(limit: usize, budget: Budget, reserve: usize) -> Self {
        Self {
            limit: limit.max(1),
            available: budget.item_chars().saturating_sub(reserve).max(200),
            used: 0,
            items: Vec::new(),
        }
    }

    pub fn full(&self) -> bool {
        self.items.len() >= self.limit
    }

    /// Add `item` unless the limit is reached or it does not fit (the first always fits).
    pub fn push(&mut self, item: T) -> bool {
        if self.full() {
            return false;
        }
        let size = json_chars(&item) + 1;
        if !self.items.is_empty() && self.used + size > self.available {
            return false;
        }
        self.used += size;
        self.items.push(item);
        true
    }
}

/// A count argument: default when absent, an error outside 1..=max.
pub fn limit(given: Option<u32>, default: u32, max: u32, name: &str) -> Result<usize, ToolError> {
    match given {
        None => Ok(default as usize),
        Some(0) => Err(ToolError::InvalidInput(format!(
            "{name} must be at least 1"
        ))),
        Some(n) if n > max => Err(ToolError::InvalidInput(format!(
            "{name} is {n}; the most is {max}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_collector_bounds() {
        let p = Pos {
            c: Some("abc".into()),
            s: 3,
            t: None,
        };
        assert_eq!(Pos::start("k", Some(&p.encode("k"))).unwrap(), p);
        assert!(Pos::start("other", Some(&p.encode("k"))).is_err());
        assert_eq!(Pos::start("k", None).unwrap(), Pos::default());
        let mut c = Collector::new(2, Budget::default(), 0);
        assert!(c.push("a") && c.push("b") && !c.push("c"));
        let mut c = Collector::new(100, Budget::new(1_000), 0);
        let big = "x".repeat(600);
        assert!(c.push(big.clone()), "the first item always fits");
        assert!(!c.push(big));
        assert!(limit(Some(0), 1, 5, "limit").is_err());
        assert!(limit(Some(6), 1, 5, "limit").is_err());
        assert_eq!(limit(None, 3, 5, "limit").unwrap(), 3);
    }
}
