//! The tools, one file per group, and what they share: object type names, limits, paging.

mod meta;
mod objects;
mod summary;
mod writes;

use mcp_core::ToolError;
use schemars::JsonSchema;
use serde::Serialize;

/// A page of a list tool.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More items exist than this page shows
    pub truncated: bool,
}

/// The standard object types and their names in paths.
const STANDARD: &[(&str, &[&str])] = &[
    ("contacts", &["contacts", "contact", "0-1"]),
    ("companies", &["companies", "company", "0-2"]),
    ("deals", &["deals", "deal", "0-3"]),
    ("tickets", &["tickets", "ticket", "0-5"]),
    ("notes", &["notes", "note", "0-46"]),
];

/// The object type as HubSpot's paths spell it: a standard name (singular or plural accepted),
/// a custom object type id (`2-12345`), or a fully qualified name (`p_…`).
pub(crate) fn object_type(input: &str) -> Result<String, ToolError> {
    let t = input.trim().to_ascii_lowercase();
    for (name, aliases) in STANDARD {
        if aliases.contains(&t.as_str()) {
            return Ok((*name).to_string());
        }
    }
    let custom_id = t.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
    });
    let qualified = t.starts_with("p_")
        && t.len() > 2
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if custom_id || qualified {
        return Ok(input.trim().to_string());
    }
    Err(ToolError::InvalidInput(format!(
        "unknown object_type {input:?}: use contacts, companies, deals, tickets, or a custom object type id like 2-12345"
    )))
}

/// A limit within 1..=max, `default` when absent.
pub(crate) fn limit_of(limit: Option<u32>, default: usize, max: usize) -> Result<usize, ToolError> {
    match limit {
        None => Ok(default),
        Some(0) => Err(ToolError::InvalidInput(format!(
            "limit must be between 1 and {max}"
        ))),
        Some(n) if n as usize > max => Err(ToolError::InvalidInput(format!(
            "limit {n} is over the maximum of {max}; page with cursor instead"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// A record id: HubSpot ids are numbers; anything else is refused before a request is made
/// (unless the caller looks up by another unique property).
pub(crate) fn record_id(id: &str, by_property: bool) -> Result<String, ToolError> {
    let t = id.trim();
    if t.is_empty() {
        return Err(ToolError::InvalidInput("id is empty".into()));
    }
    if !by_property && !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(ToolError::InvalidInput(format!(
            "id {t:?} is not a HubSpot record id (a number); to look up by email or another unique property, set id_property"
        )));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn object_types() {
        assert_eq!(object_type("Deal").unwrap(), "deals");
        assert_eq!(object_type("0-1").unwrap(), "contacts");
        assert_eq!(object_type("2-1234").unwrap(), "2-1234");
        assert_eq!(object_type("p_cars").unwrap(), "p_cars");
        assert!(object_type("dealz").is_err());
        assert!(object_type("../x").is_err());
    }
}
