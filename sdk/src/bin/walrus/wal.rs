//! WAL amounts as people write them: decimal WAL in, exact FROST on chain (1 WAL = 10^9 FROST).

/// FROST in one WAL.
pub const FROST_PER_WAL: u64 = 1_000_000_000;
/// Decimal places of WAL (one FROST is 10^-9 WAL).
const WAL_DECIMALS: usize = 9;

/// Why a WAL amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalAmountError {
    /// Nothing was given.
    #[error("the amount is empty")]
    Empty,
    /// A minus sign.
    #[error("the amount cannot be negative")]
    Negative,
    /// Anything but `DIGITS` or `DIGITS.DIGITS`.
    #[error("not a decimal number of WAL (e.g. 1, 0.5 or 12.345)")]
    Malformed,
    /// More decimals than a FROST can express.
    #[error("more than 9 decimals: 1 FROST (0.000000001 WAL) is the smallest amount")]
    TooPrecise,
    /// Zero WAL.
    #[error("the amount must be more than zero")]
    Zero,
    /// More FROST than a coin can hold.
    #[error(
        "the amount is larger than any coin can hold ({} WAL)",
        format_wal(u64::MAX)
    )]
    TooLarge,
}

/// The exact FROST of a positive decimal WAL amount (`1`, `1.5`, `0.000000001`); refuses
/// zero, signs, more than 9 decimals and amounts beyond `u64::MAX` FROST.
pub fn parse_wal(text: &str) -> Result<u64, WalAmountError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WalAmountError::Empty);
    }
    if text.starts_with('-') {
        return Err(WalAmountError::Negative);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|fraction| !all_digits(fraction)) {
        return Err(WalAmountError::Malformed);
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > WAL_DECIMALS {
        return Err(WalAmountError::TooPrecise);
    }
    // Both parts are ASCII digits: only their size can make them fail to parse.
    let whole: u128 = whole.parse().map_err(|_| WalAmountError::TooLarge)?;
    let padded = format!("{fraction:0<WAL_DECIMALS$}");
    let fraction: u128 = padded.parse().map_err(|_| WalAmountError::Malformed)?;
    let frost = whole
        .checked_mul(u128::from(FROST_PER_WAL))
        .and_then(|frost| frost.checked_add(fraction))
        .and_then(|frost| u64::try_from(frost).ok())
        .ok_or(WalAmountError::TooLarge)?;
    if frost == 0 {
        return Err(WalAmountError::Zero);
    }
    Ok(frost)
}

/// `frost` as decimal WAL, exactly, without trailing zeros (`1500000000` -> `1.5`).
pub fn format_wal(frost: u64) -> String {
    let whole = frost / FROST_PER_WAL;
    let fraction = frost % FROST_PER_WAL;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0WAL_DECIMALS$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// `frost` for people: `1.5 WAL (1500000000 FROST)`.
pub fn describe_wal(frost: u64) -> String {
    format!("{} WAL ({frost} FROST)", format_wal(frost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_wal_becomes_exact_frost() {
        let cases = [
            ("1", 1_000_000_000),
            ("1.5", 1_500_000_000),
            ("0.000000001", 1),
            ("0.1", 100_000_000),
            ("007.250", 7_250_000_000),
            (" 2 ", 2_000_000_000),
            ("18446744073.709551615", u64::MAX),
            // 0.1 and 0.2 are exact here, unlike in floating point.
            ("0.3", 300_000_000),
        ];
        for (text, frost) in cases {
            assert_eq!(parse_wal(text), Ok(frost), "{text}");
        }
    }

    #[test]
    fn bad_amounts_are_refused_with_their_reason() {
        use WalAmountError::*;
        let cases = [
            ("", Empty),
            ("   ", Empty),
            ("-1", Negative),
            ("-0.5", Negative),
            ("0", Zero),
            ("0.000000000", Zero),
            ("0.0000000001", TooPrecise),
            ("1.1234567891", TooPrecise),
            ("18446744073.709551616", TooLarge),
            ("99999999999999999999999999999999999999999", TooLarge),
            ("1e9", Malformed),
            ("1,5", Malformed),
            ("+1", Malformed),
            (".5", Malformed),
            ("1.", Malformed),
            ("1.2.3", Malformed),
            ("NaN", Malformed),
            ("١", Malformed),
        ];
        for (text, error) in cases {
            assert_eq!(parse_wal(text), Err(error.clone()), "{text:?}");
        }
        assert!(TooPrecise.to_string().contains("9 decimals"));
        assert!(Zero.to_string().contains("more than zero"));
    }

    #[test]
    fn frost_prints_as_exact_decimal_wal() {
        assert_eq!(format_wal(0), "0");
        assert_eq!(format_wal(1), "0.000000001");
        assert_eq!(format_wal(1_500_000_000), "1.5");
        assert_eq!(format_wal(2_000_000_000), "2");
        assert_eq!(format_wal(1_000_000_010), "1.00000001");
        assert_eq!(format_wal(u64::MAX), "18446744073.709551615");
        assert_eq!(describe_wal(1_500_000_000), "1.5 WAL (1500000000 FROST)");
        for frost in [1, 7, 999_999_999, 1_000_000_001, 123_456_789_012, u64::MAX] {
            assert_eq!(parse_wal(&format_wal(frost)), Ok(frost));
        }
    }
}
