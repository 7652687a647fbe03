//! One page of a tool result assembled from one or more upstream pages, within the caller's
//! `limit` and the response budget. Our cursor is opaque (mcp-core's `encode_cursor`) and holds
//! the upstream position: Slack's cursor (or search page) of the upstream page we stopped in,
//! the page size we asked for, and how many of its items were already consumed. Fetching the
//! same upstream page again with the same size gives the same items, so we continue exactly.

use mcp_core::ToolError;
use mcp_core::budget::{Budget, decode_cursor, encode_cursor, json_chars};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Pos {
    /// Upstream cursor (or page number) of the page; `None` = the first page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    c: Option<String>,
    /// Upstream page size used for that page.
    n: u32,
    /// Items of that page already consumed.
    s: usize,
}

/// Bookkeeping of one tool call's paging.
pub struct Pager {
    kind: &'static str,
    limit: usize,
    /// Page size for upstream pages after the current one.
    page_size: u32,
    pos: Pos,
    available: usize,
    used: usize,
    pages: usize,
    max_pages: usize,
    done: bool,
}

impl Pager {
    /// Start from `cursor` (or the beginning). `page_size` is what new upstream pages ask for;
    /// `max_pages` bounds the upstream calls of one tool call (filtered scans).
    pub fn start(
        kind: &'static str,
        cursor: Option<&str>,
        limit: usize,
        page_size: u32,
        budget: Budget,
        max_pages: usize,
    ) -> Result<Self, ToolError> {
        let pos = match cursor.filter(|c| !c.trim().is_empty()) {
            Some(c) => decode_cursor::<Pos>(kind, c)?,
            None => Pos {
                c: None,
                n: page_size,
                s: 0,
            },
        };
        Ok(Self {
            kind,
            limit: limit.max(1),
            page_size,
            pos,
            available: budget.item_chars(),
            used: 0,
            pages: 0,
            max_pages: max_pages.max(1),
            done: false,
        })
    }

    /// The upstream cursor and page size to fetch next.
    pub fn upstream(&self) -> (Option<String>, u32) {
        (self.pos.c.clone(), self.pos.n)
    }

    /// Items of the current upstream page to skip (already returned by an earlier call).
    pub fn skip(&self) -> usize {
        self.pos.s
    }

    /// Room left for items, in count.
    pub fn wanted(&self, out_len: usize) -> usize {
        self.limit.saturating_sub(out_len)
    }

    /// Offer one upstream page: its items already projected (`None`: filtered out) and the
    /// upstream position after it (`None` at the end). Returns whether to fetch another page.
    pub fn offer<T: Serialize>(
        &mut self,
        items: Vec<Option<T>>,
        next: Option<String>,
        out: &mut Vec<T>,
    ) -> bool {
        self.pages += 1;
        let skip = self.pos.s;
        for (i, item) in items.into_iter().enumerate().skip(skip) {
            if out.len() >= self.limit {
                self.pos.s = i;
                return false;
            }
            let Some(item) = item else { continue };
            let size = json_chars(&item) + 1;
            if !out.is_empty() && self.used + size > self.available {
                self.pos.s = i;
                return false;
            }
            self.used += size;
            out.push(item);
        }
        match next {
            Some(c) => {
                self.pos = Pos {
                    c: Some(c),
                    n: self.page_size,
                    s: 0,
                };
                out.len() < self.limit && self.pages < self.max_pages
            }
            None => {
                self.done = true;
                false
            }
        }
    }

    /// `(next_cursor, truncated)`: a cursor while anything may remain.
    pub fn finish(self) -> (Option<String>, bool) {
        if self.done {
            (None, false)
        } else {
            (Some(encode_cursor(self.kind, &self.pos)), true)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn page(range: std::ops::Range<usize>) -> Vec<Option<String>> {
        range.map(|i| Some(format!("item-{i:04}"))).collect()
    }

    #[test]
    fn limit_mid_page_then_continue_exactly() {
        let budget = Budget::default();
        let mut p = Pager::start("t", None, 3, 5, budget, 10).unwrap();
        let mut out = Vec::new();
        assert!(!p.offer(page(0..5), Some("next".into()), &mut out));
        assert_eq!(out, vec!["item-0000", "item-0001", "item-0002"]);
        let (c, truncated) = p.finish();
        assert!(truncated);
        let mut p = Pager::start("t", c.as_deref(), 3, 5, budget, 10).unwrap();
        assert_eq!(p.upstream(), (None, 5));
        let mut out = Vec::new();
        // Two items left in that page, then the next page is wanted.
        assert!(p.offer(page(0..5), Some("next".into()), &mut out));
        assert_eq!(out, vec!["item-0003", "item-0004"]);
        assert_eq!(p.upstream(), (Some("next".into()), 5));
    }

    #[test]
    fn budget_cuts_and_first_item_always_fits() {
        let budget = Budget::new(1_000);
        let big: Vec<Option<String>> = (0..10)
            .map(|i| Some(format!("{i}{}", "x".repeat(400))))
            .collect();
        let mut p = Pager::start("t", None, 100, 10, budget, 10).unwrap();
        let mut out = Vec::new();
        assert!(!p.offer(big, None, &mut out));
        assert_eq!(out.len(), 1);
        assert!(p.finish().1);
    }

    #[test]
    fn end_of_upstream_gives_no_cursor() {
        let mut p = Pager::start("t", None, 100, 5, Budget::default(), 10).unwrap();
        let mut out = Vec::new();
        assert!(p.offer(page(0..5), Some("c2".into()), &mut out));
        assert_eq!(p.upstream(), (Some("c2".into()), 5));
        assert!(!p.offer(page(5..7), None, &mut out));
        assert_eq!(out.len(), 7);
        assert_eq!(p.finish(), (None, false));
    }

    #[test]
    fn foreign_cursor_is_refused() {
        let c = encode_cursor(
            "other",
            &Pos {
                c: None,
                n: 1,
                s: 0,
            },
        );
        assert!(Pager::start("t", Some(&c), 1, 1, Budget::default(), 1).is_err());
    }
}
