//! Wall-clock times as the commands read and print them: milliseconds since the Unix epoch
//! (the chain's unit) to and from RFC 3339 UTC text, and spans relative to now.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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

/// A fixed-width decimal field of `text` at `range`, within `min..=max`.
fn field(text: &str, range: std::ops::Range<usize>, min: i64, max: i64) -> Result<i64> {
    let part = text.get(range).context("too short")?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        bail!("'{part}' is not a number");
    }
    let value: i64 = part.parse().context("not a number")?;
    if !(min..=max).contains(&value) {
        bail!("{value} is out of range {min}..={max}");
    }
    Ok(value)
}

/// An RFC 3339 time (`2024-03-20T15:00:00Z`, `2024-03-20T17:00:00.5+02:00`) or the relaxed
/// form `2024-03-20 15:00:00` (UTC), as milliseconds since the Unix epoch.
pub fn parse_rfc3339_ms(text: &str) -> Result<u64> {
    parse_time(text.trim())
        .with_context(|| format!("'{text}' is not an RFC 3339 time such as 2024-03-20T15:00:00Z"))
}

fn parse_time(text: &str) -> Result<u64> {
    let bytes = text.as_bytes();
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        bail!("expected YYYY-MM-DDTHH:MM:SS");
    }
    let year = field(text, 0..4, 1970, 9999)?;
    let month = field(text, 5..7, 1, 12)?;
    let day = field(text, 8..10, 1, 31)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > month_days {
        bail!("day {day} does not exist in month {month}");
    }
    let hour = field(text, 11..13, 0, 23)?;
    let minute = field(text, 14..16, 0, 59)?;
    let second = field(text, 17..19, 0, 59)?;
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            bail!("no digits after the decimal point");
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().context("fraction")?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        offset => {
            let sign = match offset.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => bail!("unexpected '{offset}' after the time"),
            };
            if offset.len() != 6 || offset.as_bytes()[3] != b':' {
                bail!("the offset '{offset}' is not +HH:MM or -HH:MM");
            }
            sign * (field(offset, 1..3, 0, 23)? * 60 + field(offset, 4..6, 0, 59)?)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    let ms = seconds * 1000 + millis;
    u64::try_from(ms).context("before 1970")
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

    #[test]
    fn parses_rfc3339_and_the_relaxed_form() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339_ms("2024-03-01T11:59:59.999Z").unwrap(),
            1_709_294_399_999
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29 00:00:00").unwrap(),
            951_782_400_000
        );
        // Offsets: the same instant.
        assert_eq!(
            parse_rfc3339_ms("2024-03-01T13:59:59.999+02:00").unwrap(),
            1_709_294_399_999
        );
        assert_eq!(
            parse_rfc3339_ms("2024-03-01T06:29:59.999123-05:30").unwrap(),
            1_709_294_399_999
        );
        // Round trips with the formatter at whole seconds.
        for ms in [0, 951_782_400_000, 1_709_294_399_000, 4_102_444_800_000] {
            assert_eq!(parse_rfc3339_ms(&format_utc_ms(ms)).unwrap(), ms);
        }
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "tomorrow",
            "2024-03-01",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T00:00:00.Z",
            "2024-03-01T00:00:00+0200",
            "2024-03-01T00:00:00 UTC",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "２024-03-01T00:00:00Z",
        ] {
            let error = parse_rfc3339_ms(bad).unwrap_err();
            assert!(
                format!("{error:#}").contains("RFC 3339"),
                "{bad}: {error:#}"
            );
        }
    }
}
