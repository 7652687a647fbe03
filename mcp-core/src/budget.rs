//! The response budget (`SOPHIA_MAX_RESULT_CHARS`, default 20000 characters of JSON) and opaque
//! cursors. Every list tool packs its page with [`Budget::pack`], so no result floods a model's
//! context and a trimmed page always carries a cursor that continues exactly where it stopped.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, de::DeserializeOwned};

use crate::error::ToolError;

/// Default size of one tool result, in characters of JSON.
pub const DEFAULT_MAX_RESULT_CHARS: usize = 20_000;
/// Below this a budget cannot hold a useful page; smaller settings are raised to it.
pub const MIN_MAX_RESULT_CHARS: usize = 1_000;
/// Room kept for the wrapper object, `truncated` and `next_cursor`.
const ENVELOPE_CHARS: usize = 256;

/// How large a single tool result may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_chars: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_chars: DEFAULT_MAX_RESULT_CHARS,
        }
    }
}

/// One page of items, as packed by [`Budget::pack`].
#[derive(Debug)]
pub struct Packed<T> {
    pub items: Vec<T>,
    /// Items remain after this page (because of the limit or the budget).
    pub more: bool,
    /// The budget (not the caller's limit) is what cut the page short.
    pub cut_by_budget: bool,
}

impl Budget {
    /// A budget of `max_chars`, raised to [`MIN_MAX_RESULT_CHARS`] if smaller.
    pub fn new(max_chars: usize) -> Self {
        Self {
            max_chars: max_chars.max(MIN_MAX_RESULT_CHARS),
        }
    }

    /// Parse the value of `SOPHIA_MAX_RESULT_CHARS` (None or unparsable: the default).
    pub fn from_setting(value: Option<&str>) -> Self {
        value
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(Self::new)
            .unwrap_or_default()
    }

    /// Read `SOPHIA_MAX_RESULT_CHARS` (called once, in `main`).
    pub fn from_env() -> Self {
        Self::from_setting(std::env::var("SOPHIA_MAX_RESULT_CHARS").ok().as_deref())
    }

    /// Characters available for list items after the envelope.
    pub fn item_chars(&self) -> usize {
        self.max_chars.saturating_sub(ENVELOPE_CHARS)
    }

    /// Take items from `items` while the page has fewer than `limit` items and their JSON fits in
    /// `available` characters. The first item is always taken so paging always advances.
    pub fn pack<T: Serialize>(
        available: usize,
        limit: usize,
        items: impl IntoIterator<Item = T>,
    ) -> Packed<T> {
        Self::pack_by(available, limit, items, |item| json_chars(item) + 1)
    }

    /// [`Budget::pack`] with the caller's measure of an item (e.g. its pretty-printed size when
    /// the text block is pretty JSON).
    pub fn pack_by<T>(
        available: usize,
        limit: usize,
        items: impl IntoIterator<Item = T>,
        size_of: impl Fn(&T) -> usize,
    ) -> Packed<T> {
        let mut out = Vec::new();
        let mut used = 0usize;
        let mut iter = items.into_iter().peekable();
        let mut cut_by_budget = false;
        while let Some(item) = iter.peek() {
            if out.len() >= limit {
                break;
            }
            let size = size_of(item);
            if !out.is_empty() && used + size > available {
                cut_by_budget = true;
                break;
            }
            used += size;
            if let Some(item) = iter.next() {
                out.push(item);
            }
        }
        let more = iter.peek().is_some();
        Packed {
            items: out,
            more,
            cut_by_budget: cut_by_budget && more,
        }
    }
}

/// Length of `value` as compact JSON, in characters.
pub fn json_chars<T: Serialize + ?Sized>(value: &T) -> usize {
    serde_json::to_string(value)
        .map(|s| s.chars().count())
        .unwrap_or(0)
}

/// Encode an opaque cursor for `kind` (the tool or list it belongs to).
pub fn encode_cursor<T: Serialize>(kind: &str, position: &T) -> String {
    let body = serde_json::json!({ "k": kind, "p": position });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

/// Decode a cursor made by [`encode_cursor`] for the same `kind`.
pub fn decode_cursor<T: DeserializeOwned>(kind: &str, cursor: &str) -> Result<T, ToolError> {
    let invalid = || {
        ToolError::InvalidInput(format!(
            "cursor is not valid for {kind}; pass the next_cursor of a previous {kind} result, or omit it to start over"
        ))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if value.get("k").and_then(|k| k.as_str()) != Some(kind) {
        return Err(invalid());
    }
    let position = value.get("p").cloned().ok_or_else(invalid)?;
    serde_json::from_value(position).map_err(|_| invalid())
}

/// A piece of one long text, cut on character boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextSlice {
    pub text: String,
    /// Character offset of `text` in the whole.
    pub offset: usize,
    /// Characters in the whole text.
    pub total_chars: usize,
    /// Where the next piece starts; absent when this piece reaches the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// Cut `text` to at most `max_chars` characters starting at character `offset`.
pub fn cut_text(text: &str, offset: usize, max_chars: usize) -> TextSlice {
    let total_chars = text.chars().count();
    let start = offset.min(total_chars);
    let piece: String = text.chars().skip(start).take(max_chars).collect();
    let end = start + piece.chars().count();
    TextSlice {
        text: piece,
        offset: start,
        total_chars,
        next_offset: (end < total_chars).then_some(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_parses_and_clamps() {
        assert_eq!(Budget::from_setting(None).max_chars, 20_000);
        assert_eq!(Budget::from_setting(Some("5000")).max_chars, 5_000);
        assert_eq!(Budget::from_setting(Some("10")).max_chars, 1_000);
        assert_eq!(Budget::from_setting(Some("lots")).max_chars, 20_000);
    }

    #[test]
    fn pack_stops_at_budget_and_always_advances() {
        let items: Vec<String> = (0..100).map(|i| format!("{i:0>98}")).collect();
        // each item is 100 chars of JSON + 1 separator
        let p = Budget::pack(1_000, 1_000, items.clone());
        assert_eq!(p.items.len(), 9);
        assert!(p.more && p.cut_by_budget);
        let p = Budget::pack(10, 1_000, items.clone());
        assert_eq!(p.items.len(), 1, "one oversized item still makes a page");
        let p = Budget::pack(100_000, 5, items.clone());
        assert_eq!(p.items.len(), 5);
        assert!(p.more && !p.cut_by_budget);
        let p = Budget::pack(100_000, 1_000, items);
        assert_eq!(p.items.len(), 100);
        assert!(!p.more);
    }

    #[test]
    fn cursor_round_trips_and_rejects_foreign_kinds() {
        let c = encode_cursor("read_graph", &(3u64, 9u64));
        assert_eq!(
            decode_cursor::<(u64, u64)>("read_graph", &c).ok(),
            Some((3, 9))
        );
        assert!(decode_cursor::<(u64, u64)>("search_nodes", &c).is_err());
        assert!(decode_cursor::<(u64, u64)>("read_graph", "garbage!").is_err());
    }

    #[test]
    fn cut_text_is_char_safe_and_continues() {
        let s = "héllo wörld";
        let a = cut_text(s, 0, 4);
        assert_eq!(a.text, "héll");
        assert_eq!(a.next_offset, Some(4));
        let b = cut_text(s, 4, 100);
        assert_eq!(b.text, "o wörld");
        assert_eq!(b.next_offset, None);
        assert_eq!(format!("{}{}", a.text, b.text), s);
    }
}
