//! Wire types (as HubSpot sends them) and the small projections the tools return.

use std::collections::BTreeMap;

use mcp_core::ToolError;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Any JSON scalar as a string: HubSpot sends every property value as a string, but a server
/// that sends a number or boolean is read the same way. `null` and `""` are "not set".
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `properties` of a CRM object: unset (null or empty) values are dropped.
fn de_props<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| scalar_string(&v).map(|s| (k, s)))
        .collect())
}

/// A string or a number (ids come as either depending on the endpoint).
fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    scalar_string(&v).ok_or_else(|| serde::de::Error::custom("expected an id"))
}

/// Lenient optional string for tool inputs: a model may send `5000` for `"5000"`.
pub fn de_opt_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<Value> = Option::deserialize(d)?;
    Ok(v.as_ref().and_then(scalar_string))
}

/// Lenient list of strings for tool inputs.
pub fn de_opt_lenient_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    let v: Option<Vec<Value>> = Option::deserialize(d)?;
    Ok(v.map(|items| items.iter().filter_map(scalar_string).collect()))
}

/// Lenient map of property values for writes: numbers and booleans become strings, `null`
/// becomes `""` (which clears the property in HubSpot).
pub fn de_prop_values<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: BTreeMap<String, Value> = BTreeMap::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| match &v {
            Value::Null => Ok((k, String::new())),
            Value::String(s) => Ok((k, s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok((k, scalar_string(&v).unwrap_or_default())),
            _ => Err(serde::de::Error::custom(format!(
                "property {k}: a value must be a string, number or boolean"
            ))),
        })
        .collect()
}

/// A CRM object as HubSpot returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WObject {
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    #[serde(default, deserialize_with = "de_props")]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WNext {
    #[serde(deserialize_with = "de_id")]
    pub after: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WPaging {
    #[serde(default)]
    pub next: Option<WNext>,
}

/// `{results, paging}` of any list endpoint (plus `total` for search).
#[derive(Debug, Deserialize)]
pub struct WList<T> {
    #[serde(default)]
    pub total: Option<u64>,
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<WPaging>,
}

impl<T> WList<T> {
    pub fn next_after(&self) -> Option<String> {
        self.paging
            .as_ref()
            .and_then(|p| p.next.as_ref())
            .map(|n| n.after.clone())
            .filter(|a| !a.is_empty())
    }
}

/// Parse a JSON body into `T`, or a "malformed response" tool error naming `what`.
pub fn parse<T: serde::de::DeserializeOwned>(body: Value, what: &str) -> Result<T, ToolError> {
    serde_json::from_value(body).map_err(|e| crate::client::malformed(format!("{what}: {e}")))
}

/// One CRM object in a tool result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ObjectOut {
    /// The record id (hs_object_id)
    pub id: String,
    /// Property values as HubSpot stores them (strings; unset properties are omitted)
    pub properties: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Present (true) only for archived records
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

impl From<WObject> for ObjectOut {
    fn from(o: WObject) -> Self {
        Self {
            id: o.id,
            properties: o.properties,
            created_at: o.created_at,
            updated_at: o.updated_at,
            archived: o.archived.filter(|a| *a),
        }
    }
}

/// Cut property values longer than `max_chars` (a note body, a long description) so one object
/// stays inside the response budget. Returns whether anything was cut.
pub fn cut_long_values(props: &mut BTreeMap<String, String>, max_chars: usize) -> bool {
    let mut cut = false;
    for v in props.values_mut() {
        let n = v.chars().count();
        if n > max_chars {
            let head: String = v.chars().take(max_chars).collect();
            *v = format!("{head}… [cut: {n} characters in all]");
            cut = true;
        }
    }
    cut
}

/// Parse a HubSpot number property ("1500", "1500.50", " 12 "); `None` when unset or not a
/// number.
pub fn parse_number(s: Option<&String>) -> Option<f64> {
    let t = s?.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Round to cents for display.
pub fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub use mcp_core::time::days_from_civil;

/// `YYYY-MM-DD` (optionally followed by a time, which is ignored) → days since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim();
    let date = t.get(..10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || parts.next().is_some() {
        return None;
    }
    if t.len() > 10 && !matches!(t.as_bytes()[10], b'T' | b' ') {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Milliseconds per day.
pub const DAY_MS: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn properties_drop_unset_values_and_read_numbers() {
        let o: WObject = serde_json::from_value(serde_json::json!({
            "id": "7",
            "properties": {"amount": "1500.50", "closedate": null, "dealname": "", "n": 3}
        }))
        .unwrap();
        assert_eq!(
            o.properties.get("amount").map(String::as_str),
            Some("1500.50")
        );
        assert!(!o.properties.contains_key("closedate"));
        assert!(!o.properties.contains_key("dealname"));
        assert_eq!(o.properties.get("n").map(String::as_str), Some("3"));
        assert_eq!(parse_number(o.properties.get("amount")), Some(1500.5));
        assert_eq!(parse_number(Some(&" ".to_string())), None);
        assert_eq!(parse_number(Some(&"abc".to_string())), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-03-31"), Some(20_543));
        assert_eq!(parse_date("2026-03-31T12:00:00Z"), Some(20_543));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("31/03/2026"), None);
    }
}
