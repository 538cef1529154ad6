//! Conversions of PostgreSQL's internal value representations to Arrow's, by integer
//! arithmetic only.

/// Microseconds between 1970-01-01 (Unix/Arrow epoch) and 2000-01-01 (PostgreSQL epoch):
/// 946 684 800 s.
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// Days between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;

/// Microseconds in a day; PostgreSQL's `time` accepts `24:00:00`, so this value is
/// included in the valid range of [`push_time_us`](crate::ColumnBuilder::push_time_us).
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Why a PostgreSQL value cannot become an Arrow value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    /// `infinity` or `-infinity` (timestamps, dates, numeric).
    Infinite,
    /// Numeric `NaN`.
    NotANumber,
    /// The value does not fit the target type (epoch shift overflow, decimal precision).
    OutOfRange,
    /// The text is not a number.
    Malformed,
}

impl ValueError {
    /// Short English description, used in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            ValueError::Infinite => "infinite value",
            ValueError::NotANumber => "NaN",
            ValueError::OutOfRange => "value out of range",
            ValueError::Malformed => "malformed number",
        }
    }
}

/// Converts PostgreSQL `timestamp`/`timestamptz` microseconds since 2000-01-01 to
/// microseconds since 1970-01-01.
///
/// `i64::MAX` (`infinity`) and `i64::MIN` (`-infinity`) give [`ValueError::Infinite`];
/// a value whose shift overflows i64 gives [`ValueError::OutOfRange`].
#[inline]
pub fn pg_timestamp_to_unix_micros(pg_micros: i64) -> Result<i64, ValueError> {
    if pg_micros == i64::MAX || pg_micros == i64::MIN {
        return Err(ValueError::Infinite);
    }
    pg_micros
        .checked_add(PG_EPOCH_OFFSET_MICROS)
        .ok_or(ValueError::OutOfRange)
}

/// Converts PostgreSQL `date` days since 2000-01-01 to days since 1970-01-01 (Date32).
///
/// `i32::MAX` (`infinity`) and `i32::MIN` (`-infinity`) give [`ValueError::Infinite`];
/// a value whose shift overflows i32 gives [`ValueError::OutOfRange`].
#[inline]
pub fn pg_date_to_unix_days(pg_days: i32) -> Result<i32, ValueError> {
    if pg_days == i32::MAX || pg_days == i32::MIN {
        return Err(ValueError::Infinite);
    }
    pg_days
        .checked_add(PG_EPOCH_OFFSET_DAYS)
        .ok_or(ValueError::OutOfRange)
}

/// `10^exp` for `exp <= 38`, `None` beyond.
#[inline]
pub fn pow10_i128(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Exponents beyond this magnitude are clamped while parsing; any non-zero number with
/// such an exponent overflows (or rounds to zero) at every Decimal128 scale anyway.
const EXPONENT_CLAMP: i64 = 1_000_000;

/// Parses numeric text (PostgreSQL's `numeric_out` form such as `-12.3400`, also
/// `+1.5`, `.5`, `1e-3` and surrounding ASCII whitespace) into an unscaled i128 at
/// `scale` decimal digits, checking that it has at most `precision` digits.
///
/// Rounding: digits beyond `scale` are rounded half away from zero, as PostgreSQL's
/// `numeric` rounds (`round(2.5) = 3`, `(-2.5)::numeric(2,0) = -3`).
///
/// `NaN` gives [`ValueError::NotANumber`]; `Infinity`/`inf` (any case, optional sign)
/// gives [`ValueError::Infinite`]; more than `precision` digits after rounding give
/// [`ValueError::OutOfRange`]; anything else that is not a number gives
/// [`ValueError::Malformed`]. `precision` must be 1..=38 and `scale <= precision`
/// (otherwise [`ValueError::OutOfRange`]).
pub fn parse_numeric_scaled(text: &str, precision: u8, scale: u8) -> Result<i128, ValueError> {
    let limit = numeric_limit(precision, scale)?;
    let bytes = text
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .as_bytes();
    let (negative, body) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    reject_special(bytes, body)?;
    let (int_digits, frac_digits, exponent) = split_decimal(body)?;
    let unscaled = unscaled_at(int_digits, frac_digits, exponent, scale, limit)?;
    Ok(if negative { -unscaled } else { unscaled })
}

/// `10^precision`, the bound an unscaled value must stay below, for a valid
/// `numeric(precision, scale)`.
fn numeric_limit(precision: u8, scale: u8) -> Result<i128, ValueError> {
    match pow10_i128(u32::from(precision)) {
        Some(limit) if (1..=38).contains(&precision) && scale <= precision => Ok(limit),
        _ => Err(ValueError::OutOfRange),
    }
}

/// Rejects `NaN` and infinities; `body` is `bytes` without its sign.
fn reject_special(bytes: &[u8], body: &[u8]) -> Result<(), ValueError> {
    if body.eq_ignore_ascii_case(b"nan") {
        // PostgreSQL does not accept a signed NaN; neither do we.
        return if body.len() == bytes.len() {
            Err(ValueError::NotANumber)
        } else {
            Err(ValueError::Malformed)
        };
    }
    if body.eq_ignore_ascii_case(b"infinity") || body.eq_ignore_ascii_case(b"inf") {
        return Err(ValueError::Infinite);
    }
    Ok(())
}

/// An unsigned decimal split into its integer digits, fraction digits and
/// exponent; at least one digit, and only digits around the point.
fn split_decimal(body: &[u8]) -> Result<(&[u8], &[u8], i64), ValueError> {
    let mantissa_end = body
        .iter()
        .position(|b| *b == b'e' || *b == b'E')
        .unwrap_or(body.len());
    let (mantissa, exponent_part) = body.split_at(mantissa_end);
    let (int_digits, frac_digits) = match mantissa.iter().position(|b| *b == b'.') {
        Some(dot) => (&mantissa[..dot], &mantissa[dot + 1..]),
        None => (mantissa, &mantissa[mantissa.len()..]),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(ValueError::Malformed);
    }
    if !int_digits.iter().chain(frac_digits).all(u8::is_ascii_digit) {
        return Err(ValueError::Malformed);
    }
    let exponent = match exponent_part.split_first() {
        None => 0,
        Some((_, digits)) => parse_exponent(digits)?,
    };
    Ok((int_digits, frac_digits, exponent))
}

/// The magnitude `int_digits.frac_digits × 10^exponent` unscaled at `scale`
/// digits, rounded half away from zero; `OutOfRange` unless below `limit`.
fn unscaled_at(
    int_digits: &[u8],
    frac_digits: &[u8],
    exponent: i64,
    scale: u8,
    limit: i128,
) -> Result<i128, ValueError> {
    // value = D * 10^(exponent - frac_len), D = all mantissa digits as an integer;
    // unscaled = D * 10^shift with shift = exponent - frac_len + scale.
    let frac_len = i64::try_from(frac_digits.len()).map_err(|_| ValueError::OutOfRange)?;
    let shift = exponent - frac_len + i64::from(scale);
    let digit_count = int_digits.len() + frac_digits.len();
    let digit_count_i64 = i64::try_from(digit_count).map_err(|_| ValueError::OutOfRange)?;
    // Digits with a non-negative power in the unscaled value are kept; the first dropped
    // digit decides rounding (half away from zero only needs that digit).
    let keep = digit_count_i64.saturating_add(shift.min(0)).max(0);
    let keep = usize::try_from(keep).map_err(|_| ValueError::OutOfRange)?;
    let mut unscaled: i128 = 0;
    let mut round_up = false;
    for (index, digit) in int_digits.iter().chain(frac_digits).enumerate() {
        let value = i128::from(digit - b'0');
        if index < keep {
            unscaled = unscaled
                .checked_mul(10)
                .and_then(|v| v.checked_add(value))
                .ok_or(ValueError::OutOfRange)?;
            if unscaled >= limit {
                return Err(ValueError::OutOfRange);
            }
        } else {
            round_up = value >= 5;
            break;
        }
    }
    if round_up {
        unscaled += 1;
    }
    if shift > 0 && unscaled != 0 {
        let shift = u32::try_from(shift).map_err(|_| ValueError::OutOfRange)?;
        let factor = pow10_i128(shift).ok_or(ValueError::OutOfRange)?;
        unscaled = unscaled.checked_mul(factor).ok_or(ValueError::OutOfRange)?;
    }
    if unscaled >= limit {
        return Err(ValueError::OutOfRange);
    }
    Ok(unscaled)
}

/// Parses the digits (with optional sign) of an exponent, clamping its magnitude.
fn parse_exponent(text: &[u8]) -> Result<i64, ValueError> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ValueError::Malformed);
    }
    let mut value: i64 = 0;
    for digit in digits {
        value = (value * 10 + i64::from(digit - b'0')).min(EXPONENT_CLAMP);
    }
    Ok(if negative { -value } else { value })
}

/// Parses numeric text as f64 (for the Float64 export of unconstrained numeric).
///
/// `NaN`, `Infinity` and `-Infinity` are accepted and kept (ClickHouse Float64 has them).
pub fn parse_numeric_f64(text: &str) -> Result<f64, ValueError> {
    text.trim_matches(|c: char| c.is_ascii_whitespace())
        .parse::<f64>()
        .map_err(|_| ValueError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timestamp_epoch_shift() {
        assert_eq!(pg_timestamp_to_unix_micros(0), Ok(946_684_800_000_000));
        assert_eq!(pg_timestamp_to_unix_micros(-946_684_800_000_000), Ok(0));
        // 2024-01-02 03:04:05.678901 UTC
        assert_eq!(
            pg_timestamp_to_unix_micros(1_704_164_645_678_901 - PG_EPOCH_OFFSET_MICROS),
            Ok(1_704_164_645_678_901)
        );
        assert_eq!(pg_timestamp_to_unix_micros(-1), Ok(946_684_799_999_999));
    }

    #[test]
    fn timestamp_infinity_and_overflow() {
        assert_eq!(
            pg_timestamp_to_unix_micros(i64::MAX),
            Err(ValueError::Infinite)
        );
        assert_eq!(
            pg_timestamp_to_unix_micros(i64::MIN),
            Err(ValueError::Infinite)
        );
        assert_eq!(
            pg_timestamp_to_unix_micros(i64::MAX - 1),
            Err(ValueError::OutOfRange)
        );
        assert!(pg_timestamp_to_unix_micros(i64::MIN + 1).is_ok());
    }

    #[test]
    fn date_epoch_shift_and_infinity() {
        assert_eq!(pg_date_to_unix_days(0), Ok(10_957));
        assert_eq!(pg_date_to_unix_days(-10_957), Ok(0));
        assert_eq!(pg_date_to_unix_days(i32::MAX), Err(ValueError::Infinite));
        assert_eq!(pg_date_to_unix_days(i32::MIN), Err(ValueError::Infinite));
        assert_eq!(
            pg_date_to_unix_days(i32::MAX - 1),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            pg_date_to_unix_days(i32::MIN + 1),
            Ok(i32::MIN + 1 + 10_957)
        );
    }

    #[test]
    fn numeric_exact() {
        assert_eq!(parse_numeric_scaled("-12.3400", 10, 4), Ok(-123_400));
        assert_eq!(parse_numeric_scaled("0", 1, 0), Ok(0));
        assert_eq!(parse_numeric_scaled("-0.00", 5, 2), Ok(0));
        assert_eq!(parse_numeric_scaled("123", 5, 2), Ok(12_300));
        assert_eq!(parse_numeric_scaled(" +1.5 ", 5, 1), Ok(15));
        assert_eq!(parse_numeric_scaled(".5", 5, 1), Ok(5));
        assert_eq!(parse_numeric_scaled("5.", 5, 1), Ok(50));
        assert_eq!(parse_numeric_scaled("1.5e3", 10, 2), Ok(150_000));
        assert_eq!(parse_numeric_scaled("15E-1", 10, 2), Ok(150));
        assert_eq!(parse_numeric_scaled("0e1000000000", 10, 2), Ok(0));
        assert_eq!(
            parse_numeric_scaled("123.4500000000000000000000000000000000000000000", 5, 2),
            Ok(12_345)
        );
        assert_eq!(
            parse_numeric_scaled("0000000000000000000000000000000000000000001.25", 3, 2),
            Ok(125)
        );
    }

    #[test]
    fn numeric_max_precision() {
        let nines = "9".repeat(38);
        assert_eq!(
            parse_numeric_scaled(&nines, 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(
            parse_numeric_scaled(&format!("-{nines}"), 38, 0),
            Ok(-99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(
            parse_numeric_scaled(&format!("1{nines}"), 38, 0),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            parse_numeric_scaled("99999999999999999999999999999.999999999", 38, 9),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(
            parse_numeric_scaled("99999999999999999999999999999.9999999995", 38, 9),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            parse_numeric_scaled("1e38", 38, 0),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            parse_numeric_scaled("1e1000000000000000000000", 38, 0),
            Err(ValueError::OutOfRange)
        );
    }

    #[test]
    fn numeric_rounding_half_away_from_zero() {
        assert_eq!(parse_numeric_scaled("2.5", 5, 0), Ok(3));
        assert_eq!(parse_numeric_scaled("-2.5", 5, 0), Ok(-3));
        assert_eq!(parse_numeric_scaled("2.4999999", 5, 0), Ok(2));
        assert_eq!(parse_numeric_scaled("-2.4999999", 5, 0), Ok(-2));
        assert_eq!(parse_numeric_scaled("0.0000000005", 38, 9), Ok(1));
        assert_eq!(parse_numeric_scaled("0.0000000004999", 38, 9), Ok(0));
        assert_eq!(parse_numeric_scaled("0.00000000005", 38, 9), Ok(0));
        assert_eq!(
            parse_numeric_scaled("9.95", 2, 1),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(parse_numeric_scaled("9.94", 2, 1), Ok(99));
        assert_eq!(parse_numeric_scaled("1e-1000000000", 38, 9), Ok(0));
    }

    #[test]
    fn numeric_special_and_malformed() {
        assert_eq!(
            parse_numeric_scaled("NaN", 10, 2),
            Err(ValueError::NotANumber)
        );
        assert_eq!(
            parse_numeric_scaled("nan", 10, 2),
            Err(ValueError::NotANumber)
        );
        assert_eq!(
            parse_numeric_scaled("-NaN", 10, 2),
            Err(ValueError::Malformed)
        );
        for text in ["Infinity", "-Infinity", "+infinity", "inf", "-INF"] {
            assert_eq!(
                parse_numeric_scaled(text, 10, 2),
                Err(ValueError::Infinite),
                "{text}"
            );
        }
        for text in [
            "", " ", "-", "+", ".", "-.", "1..2", "1.2.3", "abc", "1e", "1e+", "1e5x", "1 2",
            "--1", "0x1F", "1_000", "١",
        ] {
            assert_eq!(
                parse_numeric_scaled(text, 10, 2),
                Err(ValueError::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn numeric_bad_target() {
        assert_eq!(parse_numeric_scaled("1", 0, 0), Err(ValueError::OutOfRange));
        assert_eq!(
            parse_numeric_scaled("1", 39, 0),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(parse_numeric_scaled("1", 5, 6), Err(ValueError::OutOfRange));
    }

    #[test]
    fn numeric_f64() {
        assert_eq!(parse_numeric_f64("-12.3400"), Ok(-12.34));
        assert!(parse_numeric_f64("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_numeric_f64("Infinity"), Ok(f64::INFINITY));
        assert_eq!(parse_numeric_f64("-Infinity"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_numeric_f64("x"), Err(ValueError::Malformed));
    }

    proptest! {
        /// Formatting an unscaled value at its scale and parsing it back is the identity.
        #[test]
        fn numeric_roundtrip(unscaled in -(10i128.pow(38) - 1)..10i128.pow(38), scale in 0u8..=38) {
            let digits = unscaled.unsigned_abs().to_string();
            let scale_usize = usize::from(scale);
            let padded = format!("{digits:0>width$}", width = scale_usize + 1);
            let (int_part, frac_part) = padded.split_at(padded.len() - scale_usize);
            let sign = if unscaled < 0 { "-" } else { "" };
            let text = if scale == 0 { format!("{sign}{int_part}") } else { format!("{sign}{int_part}.{frac_part}") };
            prop_assert_eq!(parse_numeric_scaled(&text, 38, scale), Ok(unscaled));
        }

        /// Dropping digits rounds half away from zero, matching i128 arithmetic.
        #[test]
        fn numeric_rounding_matches_integer_rounding(value in -10i128.pow(20)..10i128.pow(20), drop in 1u32..6) {
            let text = format!("{}{}", if value < 0 { "-" } else { "" }, value.unsigned_abs());
            // Interpret `text` as having `drop` fractional digits at input, scale 0 at output.
            let shifted = format!("{text}e-{drop}");
            let divisor = 10i128.pow(drop);
            let magnitude = value.abs();
            let mut expected = magnitude / divisor;
            if (magnitude % divisor) * 2 >= divisor { expected += 1; }
            if value < 0 { expected = -expected; }
            prop_assert_eq!(parse_numeric_scaled(&shifted, 38, 0), Ok(expected));
        }

        /// Arbitrary text never panics.
        #[test]
        fn numeric_never_panics(text in ".{0,64}", precision in 0u8..45, scale in 0u8..45) {
            let _ = parse_numeric_scaled(&text, precision, scale);
        }
    }
}
