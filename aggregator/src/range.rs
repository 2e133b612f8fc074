//! The HTTP `Range` header (RFC 9110 §14): one byte range per request.

use std::ops::Range;

/// What a `Range` header asks of a blob of a given size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// Serve these bytes (206). Never empty.
    Satisfiable(Range<u64>),
    /// No byte of the blob is in the range (416 with `Content-Range: bytes */SIZE`).
    Unsatisfiable,
    /// Malformed, another unit, or several ranges: ignored, the whole blob is served (200), as
    /// RFC 9110 permits.
    Ignored,
}

/// Parses `header` (`bytes=a-b`, `bytes=a-` or the suffix `bytes=-n`) against a blob of `size`
/// bytes. The end is clamped to the last byte.
pub fn parse_range(header: &str, size: u64) -> ByteRange {
    let header = header.trim();
    let Some(spec) = header
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| &header[6..])
    else {
        return ByteRange::Ignored;
    };
    if spec.contains(',') {
        return ByteRange::Ignored;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return ByteRange::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    match (number(first), number(last)) {
        // `bytes=-n`: the last n bytes.
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Satisfiable(size - suffix.min(size)..size)
            }
        }
        // `bytes=a-` and `bytes=a-b`.
        (Some(start), end) if last.is_empty() || end.is_some() => {
            if end.is_some_and(|end| end < start) {
                ByteRange::Ignored
            } else if start >= size {
                ByteRange::Unsatisfiable
            } else {
                let end = end.map_or(size - 1, |end| end.min(size - 1));
                ByteRange::Satisfiable(start..end + 1)
            }
        }
        _ => ByteRange::Ignored,
    }
}

/// A run of decimal digits (saturating at `u64::MAX`: such a position is past any blob).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::{parse_range, ByteRange::*};

    #[test]
    fn single_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Satisfiable(0..10));
        assert_eq!(parse_range("bytes=10-", 100), Satisfiable(10..100));
        assert_eq!(parse_range("bytes=-10", 100), Satisfiable(90..100));
        assert_eq!(parse_range("bytes=-1000", 100), Satisfiable(0..100));
        assert_eq!(parse_range("bytes=90-1000", 100), Satisfiable(90..100));
        assert_eq!(parse_range("BYTES= 5 - 5 ", 100), Satisfiable(5..6));
        assert_eq!(parse_range("bytes=99-99", 100), Satisfiable(99..100));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 100),
            Unsatisfiable
        );
    }

    #[test]
    fn ignored_ranges() {
        for header in [
            "bytes=0-1,5-6",
            "bytes=9-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=1",
            "items=0-1",
            "bytes",
            "",
            "bytes=--1",
            "bytes=+1-2",
        ] {
            assert_eq!(parse_range(header, 100), Ignored, "{header}");
        }
    }
}
