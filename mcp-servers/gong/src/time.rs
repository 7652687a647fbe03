//! Date-times as Gong wants them: ISO-8601 with a time part and a zone (`2024-05-01T00:00:00Z`,
//! `2024-05-01T09:30:00-07:00`). A bare date gets `T00:00:00Z`; a date-time without a zone is
//! taken as UTC.

use mcp_core::ToolError;

fn digits(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

fn valid_date(d: &str) -> bool {
    let parts: Vec<&str> = d.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| digits(p))
        && matches!(parts[1].parse::<u8>(), Ok(1..=12))
        && matches!(parts[2].parse::<u8>(), Ok(1..=31))
}

fn valid_time(t: &str) -> bool {
    // hh:mm or hh:mm:ss, optional fraction.
    let main = t.split('.').next().unwrap_or_default();
    let parts: Vec<&str> = main.split(':').collect();
    (parts.len() == 2 || parts.len() == 3) && parts.iter().all(|p| p.len() == 2 && digits(p))
}

/// Normalise a caller's date or date-time for Gong's `fromDateTime`/`toDateTime`.
pub fn gong_datetime(field: &str, value: &str) -> Result<String, ToolError> {
    let v = value.trim();
    let bad = || {
        ToolError::InvalidInput(format!(
            "{field} {v:?} is not a date Gong accepts: use 2024-05-01 or 2024-05-01T09:30:00Z (ISO-8601, with a zone or UTC)"
        ))
    };
    if valid_date(v) {
        return Ok(format!("{v}T00:00:00Z"));
    }
    let (date, rest) = v.split_once(['T', ' ']).ok_or_else(bad)?;
    if !valid_date(date) {
        return Err(bad());
    }
    let (time, zone) = if let Some(t) = rest.strip_suffix('Z').or(rest.strip_suffix('z')) {
        (t, "Z".to_string())
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let zone = &rest[pos..];
        let z = &zone[1..];
        let ok = (z.len() == 5 && z.as_bytes()[2] == b':' && digits(&z[..2]) && digits(&z[3..]))
            || (z.len() == 4 && digits(z));
        if !ok {
            return Err(bad());
        }
        (&rest[..pos], zone.to_string())
    } else {
        (rest, "Z".to_string())
    };
    if !valid_time(time) {
        return Err(bad());
    }
    let time = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_string()
    };
    Ok(format!("{date}T{time}{zone}"))
}

pub use mcp_core::time::iso_from_unix;

/// Now, UTC, to the second.
pub fn now_iso() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    iso_from_unix(secs)
}

/// `h:mm:ss` or `m:ss` of a number of seconds.
pub fn clock(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds as u64
    } else {
        0
    };
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_get_a_time_part() {
        let ok = |v: &str| gong_datetime("from", v).ok();
        assert_eq!(ok("2024-05-01").as_deref(), Some("2024-05-01T00:00:00Z"));
        assert_eq!(
            ok("2024-05-01T09:30:00Z").as_deref(),
            Some("2024-05-01T09:30:00Z")
        );
        assert_eq!(
            ok("2024-05-01T09:30-07:00").as_deref(),
            Some("2024-05-01T09:30:00-07:00")
        );
        assert_eq!(
            ok("2024-05-01T09:30:00").as_deref(),
            Some("2024-05-01T09:30:00Z")
        );
        assert!(ok("yesterday").is_none());
        assert!(ok("2024-13-01").is_none());
        assert!(ok("2024-05-01T9:30").is_none());
    }

    #[test]
    fn unix_to_iso_and_clock() {
        assert_eq!(iso_from_unix(1_714_560_000), "2024-05-01T10:40:00Z");
        assert_eq!(iso_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(clock(65.4), "01:05");
        assert_eq!(clock(3_725.0), "1:02:05");
    }
}
