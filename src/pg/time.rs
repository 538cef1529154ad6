//! Time at the SQL boundary, one rule each.
//!
//! - **Epochs.** PostgreSQL stores a `timestamptz` as microseconds since 2000-01-01 UTC; the
//!   crates count microseconds since 1970-01-01 UTC (Unix), as Arrow does. The offset comes
//!   from PostgreSQL's own Julian dates ([`UNIX_TO_PG_US`]).
//! - **Range.** A time outside PostgreSQL's `timestamptz` range, or `±infinity` where a time
//!   is needed, is 22008 (datetime out of range).
//! - **Lengths.** An interval used as a length (a bucket, a liveness, a gap) must have a fixed
//!   length and be positive: months and years are refused (22023), as are zero and negative
//!   lengths.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys;

use crate::error::{ErrorKind, SensorError, SensorResult};

/// Microseconds in a day.
pub const USECS_PER_DAY: i64 = 86_400_000_000;

/// Microseconds from the Unix epoch (1970-01-01) to PostgreSQL's (2000-01-01).
pub const UNIX_TO_PG_US: i64 =
    (pg_sys::POSTGRES_EPOCH_JDATE as i64 - pg_sys::UNIX_EPOCH_JDATE as i64) * USECS_PER_DAY;

/// PostgreSQL's valid `timestamptz` range in its own microseconds: MIN <= t < END
/// (utils/datetime.h: Julian day 0 to TIMESTAMP_END_JULIAN), infinities excluded.
const MIN_PG_US: i64 =
    (pg_sys::DATETIME_MIN_JULIAN as i64 - pg_sys::POSTGRES_EPOCH_JDATE as i64) * USECS_PER_DAY;
const END_PG_US: i64 =
    (pg_sys::TIMESTAMP_END_JULIAN as i64 - pg_sys::POSTGRES_EPOCH_JDATE as i64) * USECS_PER_DAY;

fn out_of_range(what: &str) -> SensorError {
    SensorError::new(
        ErrorKind::DatetimeOutOfRange,
        format!("{what} is out of range for timestamptz"),
    )
}

/// A finite time argument, in PostgreSQL microseconds; `±infinity` is 22008.
pub fn pg_micros(ts: TimestampWithTimeZone, argument: &str) -> SensorResult<i64> {
    finite_pg_micros(ts.into(), argument)
}

/// [`pg_micros`] of a raw `timestamptz` value (a version-1 function's argument).
pub fn finite_pg_micros(us: i64, argument: &str) -> SensorResult<i64> {
    if us == i64::MIN || us == i64::MAX {
        return Err(SensorError::new(
            ErrorKind::DatetimeOutOfRange,
            format!("\"{argument}\" must be a finite timestamp"),
        ));
    }
    Ok(us)
}

/// A finite time argument, in Unix microseconds; `±infinity` is 22008.
pub fn unix_micros(ts: TimestampWithTimeZone, argument: &str) -> SensorResult<i64> {
    Ok(pg_micros(ts, argument)? + UNIX_TO_PG_US)
}

/// A row's time in Unix microseconds; `None` for `±infinity`, which no window holds.
pub fn row_unix_micros(ts: TimestampWithTimeZone) -> Option<i64> {
    raw_row_unix_micros(ts.into())
}

/// [`row_unix_micros`] of a raw `timestamptz` value (a version-1 function's argument).
pub fn raw_row_unix_micros(us: i64) -> Option<i64> {
    (us != i64::MIN && us != i64::MAX).then(|| us + UNIX_TO_PG_US)
}

/// Unix microseconds as PostgreSQL microseconds, if `timestamptz` can hold them.
pub fn pg_from_unix(unix_us: i64) -> Option<i64> {
    let pg = unix_us.checked_sub(UNIX_TO_PG_US)?;
    (MIN_PG_US..END_PG_US).contains(&pg).then_some(pg)
}

/// A `timestamptz` from PostgreSQL microseconds; 22008 outside its range.
pub fn timestamptz(pg_us: i64) -> SensorResult<TimestampWithTimeZone> {
    if !(MIN_PG_US..END_PG_US).contains(&pg_us) {
        return Err(out_of_range("a time"));
    }
    TimestampWithTimeZone::try_from(pg_us).map_err(|_| out_of_range("a time"))
}

/// A `timestamptz` from Unix microseconds; 22008 outside its range.
pub fn timestamptz_from_unix(unix_us: i64) -> SensorResult<TimestampWithTimeZone> {
    pg_from_unix(unix_us)
        .ok_or_else(|| out_of_range("a time"))
        .and_then(timestamptz)
}

/// A duration in microseconds as an `interval` (days folded into hours, as `age` does not);
/// `None` when it does not fit.
pub fn interval(us: i64) -> Option<Interval> {
    Interval::new(0, 0, us).ok()
}

/// An interval used as a length, in microseconds: fixed (no months or years) and positive.
pub fn length_micros(value: Interval, argument: &str) -> SensorResult<i64> {
    if value.months() != 0 {
        return Err(SensorError::invalid_parameter(format!(
            "{argument} must not contain months or years (they have no fixed length)"
        )));
    }
    i64::from(value.days())
        .checked_mul(USECS_PER_DAY)
        .and_then(|d| d.checked_add(value.micros()))
        .filter(|us| *us > 0)
        .ok_or_else(|| {
            SensorError::invalid_parameter(format!("{argument} must be a positive interval"))
        })
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use super::{
        length_micros, pg_from_unix, pg_micros, row_unix_micros, timestamptz_from_unix,
        unix_micros, Interval, TimestampWithTimeZone, UNIX_TO_PG_US, USECS_PER_DAY,
    };
    use crate::error::ErrorKind;

    #[pg_test]
    fn the_epoch_offset_is_postgresqls_and_the_arrow_mappings() {
        assert_eq!(UNIX_TO_PG_US, 946_684_800_000_000);
        // The pgrx-free Arrow crate keeps its own copy; both must agree.
        assert_eq!(
            UNIX_TO_PG_US,
            clickhouse_arrow::pg_values::PG_EPOCH_OFFSET_MICROS
        );
        let t =
            Spi::get_one::<TimestampWithTimeZone>("SELECT timestamptz '1970-01-01 00:00:00+00'")
                .unwrap()
                .unwrap();
        assert_eq!(unix_micros(t, "t").unwrap(), 0);
    }

    #[pg_test]
    fn one_rule_for_infinity_range_and_lengths() {
        let infinity = Spi::get_one::<TimestampWithTimeZone>("SELECT 'infinity'::timestamptz")
            .unwrap()
            .unwrap();
        assert_eq!(
            pg_micros(infinity, "to").unwrap_err().kind,
            ErrorKind::DatetimeOutOfRange
        );
        assert_eq!(row_unix_micros(infinity), None);
        // PostgreSQL's range ends in 294276 AD: beyond i64::MAX Unix microseconds
        // converted, not beyond its own.
        assert!(timestamptz_from_unix(i64::MAX).is_ok());
        assert_eq!(
            super::timestamptz(i64::MAX).unwrap_err().kind,
            ErrorKind::DatetimeOutOfRange
        );
        assert_eq!(pg_from_unix(i64::MIN), None);
        let month = Interval::new(1, 0, 0).unwrap();
        assert_eq!(
            length_micros(month, "bucket").unwrap_err().message,
            "bucket must not contain months or years (they have no fixed length)"
        );
        let zero = Interval::new(0, 0, 0).unwrap();
        assert_eq!(
            length_micros(zero, "gap").unwrap_err().kind,
            ErrorKind::InvalidParameter
        );
        assert_eq!(
            length_micros(Interval::new(0, 1, 5).unwrap(), "x").unwrap(),
            USECS_PER_DAY + 5
        );
    }
}
