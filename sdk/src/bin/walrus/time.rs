//! Wall-clock times as the commands print them: milliseconds since the Unix epoch (the
//! chain's unit) as RFC 3339 UTC text, and spans relative to now.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Milliseconds since the Unix epoch as a UTC time (`2024-03-01T12:00:00Z`).
pub fn format_utc_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    let of_day = seconds % 86_400;
    // Days to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// A span of `ms` milliseconds, to the second: `9m 12s`, `2h 5m`, `1d 1h`.
pub fn format_span_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    ) {
        (0, 0, 0, s) => format!("{s}s"),
        (0, 0, m, s) => format!("{m}m {s}s"),
        (0, h, m, _) => format!("{h}h {m}m"),
        (d, h, _, _) => format!("{d}d {h}h"),
    }
}

/// `at_ms` relative to `now_ms`: `in 9m 12s` or `3s ago`.
pub fn relative_time(at_ms: u64, now_ms: u64) -> String {
    if at_ms >= now_ms {
        format!("in {}", format_span_ms(at_ms - now_ms))
    } else {
        format!("{} ago", format_span_ms(now_ms - at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times_and_spans() {
        assert_eq!(format_utc_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc_ms(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc_ms(1_709_294_399_999), "2024-03-01T11:59:59Z");
        // No panic at the extremes.
        assert!(format_utc_ms(u64::MAX).ends_with('Z'));
        assert_eq!(relative_time(5_000, 0), "in 5s");
        assert_eq!(relative_time(0, 3_600_000), "1h 0m ago");
        assert_eq!(relative_time(90_061_000, 0), "in 1d 1h");
        assert_eq!(format_span_ms(600_000), "10m 0s");
        assert_eq!(format_span_ms(999), "0s");
    }
}
