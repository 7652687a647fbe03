//! UTC timestamps without a date-time crate: RFC 3339 text of Unix time.

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDThh:mm:ssZ` of Unix seconds (Howard Hinnant's civil_from_days).
pub fn iso_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now, UTC, to the millisecond: `YYYY-MM-DDThh:mm:ss.mmmZ`.
pub fn now_iso_millis() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = iso_from_unix(d.as_secs() as i64);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_from_unix(1_795_820_645), "2026-11-27T23:04:05Z");
        assert_eq!(iso_from_unix(-1), "1969-12-31T23:59:59Z");
        let now = now_iso_millis();
        assert_eq!(now.len(), 24, "{now}");
    }
}
