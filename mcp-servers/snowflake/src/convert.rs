//! Result values arrive as strings (`jsonv2`); convert them by the column's `rowType`, as
//! <https://docs.snowflake.com/en/developer-guide/sql-api/handling-responses> ("Getting the data
//! from the results") documents: FIXED as a decimal string (scale 0 → integer), REAL as a float,
//! BOOLEAN, DATE as days since the epoch, TIME/TIMESTAMP_NTZ/TIMESTAMP_LTZ as
//! `seconds.nanos` since the epoch, TIMESTAMP_TZ as `seconds.nanos` followed by a space and the
//! offset encoded as minutes + 1440, VARIANT/OBJECT/ARRAY as JSON text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One column of `resultSetMetaData.rowType`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
}

/// Largest integer a JSON number carries exactly in every client (2^53 - 1).
const MAX_SAFE: i128 = 9_007_199_254_740_991;

/// Convert one cell.
pub fn cell(column: &Column, raw: Option<&str>) -> Value {
    let Some(raw) = raw else {
        return Value::Null;
    };
    let scale = column.scale.unwrap_or(0).clamp(0, 9) as u32;
    match column.kind.to_ascii_uppercase().as_str() {
        "FIXED" | "NUMBER" => fixed(raw, scale),
        "REAL" | "FLOAT" | "DOUBLE" => raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(raw.to_string())),
        "BOOLEAN" => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::String(raw.to_string()),
        },
        "DATE" => raw
            .trim()
            .parse::<i64>()
            .ok()
            .map(|d| Value::String(iso_date(d)))
            .unwrap_or_else(|| Value::String(raw.to_string())),
        "TIME" => epoch_nanos(raw)
            .map(|n| Value::String(time_of_day(n.rem_euclid(86_400_000_000_000), scale)))
            .unwrap_or_else(|| Value::String(raw.to_string())),
        "TIMESTAMP_NTZ" => epoch_nanos(raw)
            .map(|n| Value::String(iso_datetime(n, scale)))
            .unwrap_or_else(|| Value::String(raw.to_string())),
        "TIMESTAMP_LTZ" => epoch_nanos(raw)
            .map(|n| Value::String(format!("{}Z", iso_datetime(n, scale))))
            .unwrap_or_else(|| Value::String(raw.to_string())),
        "TIMESTAMP_TZ" => {
            timestamp_tz(raw, scale).unwrap_or_else(|| Value::String(raw.to_string()))
        }
        "VARIANT" | "OBJECT" | "ARRAY" | "MAP" | "GEOGRAPHY" | "GEOMETRY" => {
            serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
        }
        _ => Value::String(raw.to_string()),
    }
}

fn fixed(raw: &str, scale: u32) -> Value {
    let s = raw.trim();
    if scale == 0 || !s.contains('.') {
        if let Ok(n) = s.parse::<i128>()
            && n.abs() <= MAX_SAFE
            && let Ok(n) = i64::try_from(n)
        {
            return Value::from(n);
        }
        return Value::String(s.to_string());
    }
    // A decimal: a JSON number when it has at most 15 significant digits, else the exact string.
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if digits <= 15
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

/// `seconds[.fraction]` (possibly negative) → nanoseconds since the epoch.
fn epoch_nanos(raw: &str) -> Option<i128> {
    let s = raw.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i128 = secs.parse().ok()?;
    let mut frac: String = frac.chars().take(9).collect();
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    while frac.len() < 9 {
        frac.push('0');
    }
    let nanos: i128 = frac.parse().ok()?;
    let total = secs * 1_000_000_000 + nanos;
    Some(if negative { -total } else { total })
}

fn timestamp_tz(raw: &str, scale: u32) -> Option<Value> {
    let mut parts = raw.split_whitespace();
    let nanos = epoch_nanos(parts.next()?)?;
    let offset_min: i128 = match parts.next() {
        Some(o) => o.parse::<i128>().ok()? - 1440,
        None => 0,
    };
    let local = nanos + offset_min * 60 * 1_000_000_000;
    let sign = if offset_min < 0 { '-' } else { '+' };
    let abs = offset_min.abs();
    Some(Value::String(format!(
        "{}{sign}{:02}:{:02}",
        iso_datetime(local, scale),
        abs / 60,
        abs % 60
    )))
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (proleptic Gregorian; H. Hinnant's civil_from_days).
pub fn iso_date(days: i64) -> String {
    let (y, m, d) = mcp_core::time::civil_from_days(days);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y}-{m:02}-{d:02}")
    }
}

fn time_of_day(nanos: i128, scale: u32) -> String {
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let base = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if scale == 0 {
        base
    } else {
        let f = format!("{frac:09}");
        format!("{base}.{}", &f[..scale as usize])
    }
}

fn iso_datetime(nanos: i128, scale: u32) -> String {
    let day_nanos: i128 = 86_400_000_000_000;
    let days = nanos.div_euclid(day_nanos) as i64;
    let rest = nanos.rem_euclid(day_nanos);
    format!("{}T{}", iso_date(days), time_of_day(rest, scale))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn col(kind: &str, scale: Option<i64>) -> Column {
        Column {
            name: "C".into(),
            kind: kind.into(),
            scale,
            precision: None,
            nullable: Some(true),
        }
    }

    #[test]
    fn every_documented_type_converts() {
        assert_eq!(cell(&col("fixed", Some(0)), Some("42")), json!(42));
        assert_eq!(cell(&col("fixed", Some(0)), Some("-7")), json!(-7));
        assert_eq!(
            cell(
                &col("fixed", Some(0)),
                Some("123456789012345678901234567890")
            ),
            json!("123456789012345678901234567890")
        );
        assert_eq!(cell(&col("fixed", Some(2)), Some("12.50")), json!(12.5));
        assert_eq!(
            cell(&col("fixed", Some(10)), Some("1234567890.1234567890")),
            json!("1234567890.1234567890")
        );
        assert_eq!(cell(&col("real", None), Some("1.5")), json!(1.5));
        assert_eq!(cell(&col("real", None), Some("NaN")), json!("NaN"));
        assert_eq!(cell(&col("boolean", None), Some("true")), json!(true));
        assert_eq!(cell(&col("boolean", None), Some("0")), json!(false));
        assert_eq!(cell(&col("date", None), Some("18262")), json!("2020-01-01"));
        assert_eq!(cell(&col("date", None), Some("-1")), json!("1969-12-31"));
        assert_eq!(
            cell(&col("time", Some(3)), Some("82919.123000000")),
            json!("23:01:59.123")
        );
        assert_eq!(
            cell(&col("timestamp_ntz", Some(9)), Some("1616173619.000000001")),
            json!("2021-03-19T17:06:59.000000001")
        );
        assert_eq!(
            cell(&col("timestamp_ltz", Some(0)), Some("1616173619.000000000")),
            json!("2021-03-19T17:06:59Z")
        );
        assert_eq!(
            cell(&col("timestamp_ntz", Some(3)), Some("-1.500000000")),
            json!("1969-12-31T23:59:58.500")
        );
        // 960 = 1440 - 480: UTC-08:00.
        assert_eq!(
            cell(
                &col("timestamp_tz", Some(0)),
                Some("1616173619.000000000 960")
            ),
            json!("2021-03-19T09:06:59-08:00")
        );
        assert_eq!(
            cell(&col("timestamp_tz", Some(0)), Some("0.000000000 1500")),
            json!("1970-01-01T01:00:00+01:00")
        );
        assert_eq!(
            cell(&col("variant", None), Some("{\"a\": [1, 2]}")),
            json!({"a": [1, 2]})
        );
        assert_eq!(cell(&col("array", None), Some("[1,2]")), json!([1, 2]));
        assert_eq!(cell(&col("text", None), Some("hello")), json!("hello"));
        assert_eq!(cell(&col("text", None), None), Value::Null);
        assert_eq!(cell(&col("binary", None), Some("0AFF")), json!("0AFF"));
    }
}
