//! T302 timestamps (`DD/MM/YY HH:MM:SS`) and their conversion from local time to UTC.

use chrono::{DateTime, LocalResult, Offset, TimeZone};
use chrono_tz::Tz;

use crate::error::{PowerviewError, Result};

const SECONDS_PER_DAY: i64 = 86_400;
const SECONDS_PER_HOUR: i64 = 3_600;

/// How a local time that occurs twice (the repeated hour when clocks go back) is mapped to UTC.
///
/// Local times that do not exist (skipped when clocks go forward) are always shifted forward by the
/// length of the gap: `02:30` on a day Europe/Paris jumps from 02:00 to 03:00 is read as `03:30` local
/// (`01:30` UTC), i.e. with the offset in force just before the gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmbiguousTime {
    /// Always the earlier instant (the first occurrence, with the summer offset).
    Earliest,
    /// Always the later instant (the second occurrence, with the winter offset).
    Latest,
    /// The earlier instant, unless the previous row of the file (in file order) already resolved to
    /// an instant after it: then the later one. A logger writing local time through the night the
    /// clocks go back writes the repeated hour twice; the first pass maps to the first occurrence and
    /// the second pass, which follows later instants, to the second occurrence, so no two rows of a
    /// time-ordered file collide. A file whose first row falls in the repeated hour gets the earlier
    /// instant for it.
    #[default]
    Sequential,
}

/// Parses an IANA time zone name (`Europe/Paris`, `UTC`; exact spelling first, then case-insensitive).
///
/// # Errors
/// [`PowerviewError::UnknownTimezone`] (an invalid parameter) if the name is not known.
pub fn parse_timezone(name: &str) -> Result<Tz> {
    lookup_timezone(name).ok_or_else(|| PowerviewError::UnknownTimezone {
        name: name.to_owned(),
    })
}

pub(crate) fn lookup_timezone(name: &str) -> Option<Tz> {
    let trimmed = name.trim();
    trimmed
        .parse::<Tz>()
        .ok()
        .or_else(|| Tz::from_str_insensitive(trimmed).ok())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

fn two_digits(bytes: &[u8], at: usize) -> Option<u32> {
    let tens = bytes.get(at)?.wrapping_sub(b'0');
    let ones = bytes.get(at + 1)?.wrapping_sub(b'0');
    if tens > 9 || ones > 9 {
        return None;
    }
    Some(u32::from(tens) * 10 + u32::from(ones))
}

/// Parses `DD/MM/YY HH:MM:SS` (also `DD/MM/YYYY HH:MM:SS`; surrounding blanks allowed) into seconds
/// since 1970-01-01 00:00:00 of the wall clock written in the file. Two-digit years are 2000–2099.
///
/// The date part is cached: consecutive rows of a logger file share it, so most rows only parse the
/// eight time bytes.
#[derive(Debug, Default)]
pub(crate) struct TimestampParser {
    cached_date: [u8; 10],
    cached_len: usize,
    cached_days: i64,
}

impl TimestampParser {
    pub(crate) fn parse(&mut self, cell: &[u8]) -> Option<i64> {
        let cell = cell.trim_ascii();
        if cell.get(2) != Some(&b'/') || cell.get(5) != Some(&b'/') {
            return None;
        }
        let date_len = if cell.get(8).is_some_and(u8::is_ascii_digit) {
            10
        } else {
            8
        };
        let date = cell.get(..date_len)?;
        let rest = cell.get(date_len..)?;
        let time = rest.trim_ascii_start();
        if time.len() == rest.len() || time.len() != 8 || time[2] != b':' || time[5] != b':' {
            return None;
        }
        let days = if self.cached_len == date_len && self.cached_date[..date_len] == *date {
            self.cached_days
        } else {
            let days = parse_date(date)?;
            self.cached_date[..date_len].copy_from_slice(date);
            self.cached_len = date_len;
            self.cached_days = days;
            days
        };
        let hour = two_digits(time, 0)?;
        let minute = two_digits(time, 3)?;
        let second = two_digits(time, 6)?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        Some(
            days * SECONDS_PER_DAY
                + i64::from(hour * 3600)
                + i64::from(minute * 60)
                + i64::from(second),
        )
    }
}

fn parse_date(date: &[u8]) -> Option<i64> {
    let day = two_digits(date, 0)?;
    let month = two_digits(date, 3)?;
    let year = match date.len() {
        8 => 2000 + i64::from(two_digits(date, 6)?),
        10 => i64::from(two_digits(date, 6)? * 100 + two_digits(date, 8)?),
        _ => return None,
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Converts wall-clock seconds to UTC seconds for one file: identity for UTC files, the zone's rules
/// otherwise. The UTC offset of the current local hour is cached when the whole hour maps to one
/// offset, so a time zone costs a lookup per hour of data, not per row.
#[derive(Debug)]
pub(crate) struct LocalClock {
    zone: Option<Tz>,
    ambiguous: AmbiguousTime,
    cached_hour: i64,
    cached_offset: i64,
    cache_valid: bool,
    previous_utc: Option<i64>,
}

impl LocalClock {
    pub(crate) fn new(zone: Option<Tz>, ambiguous: AmbiguousTime) -> Self {
        Self {
            zone,
            ambiguous,
            cached_hour: 0,
            cached_offset: 0,
            cache_valid: false,
            previous_utc: None,
        }
    }

    /// UTC seconds of a wall-clock time (seconds since 1970-01-01 of the local calendar).
    pub(crate) fn utc_of(&mut self, local: i64) -> i64 {
        let Some(zone) = self.zone else {
            return local;
        };
        let hour = local.div_euclid(SECONDS_PER_HOUR);
        let utc = if self.cache_valid && hour == self.cached_hour {
            local - self.cached_offset
        } else {
            let start = hour * SECONDS_PER_HOUR;
            match (
                single_offset(&zone, start),
                single_offset(&zone, start + SECONDS_PER_HOUR - 1),
            ) {
                (Some(a), Some(b)) if a == b => {
                    self.cached_hour = hour;
                    self.cached_offset = a;
                    self.cache_valid = true;
                    local - a
                }
                _ => resolve_exact(&zone, local, self.ambiguous, self.previous_utc),
            }
        };
        self.previous_utc = Some(utc);
        utc
    }
}

fn naive(seconds: i64) -> Option<chrono::NaiveDateTime> {
    DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc())
}

/// The offset (seconds east of UTC) of a local time if it maps to exactly one instant.
fn single_offset(zone: &Tz, local: i64) -> Option<i64> {
    match zone.from_local_datetime(&naive(local)?) {
        LocalResult::Single(t) => Some(i64::from(t.offset().fix().local_minus_utc())),
        _ => None,
    }
}

fn offset_at_utc(zone: &Tz, utc: i64) -> i64 {
    naive(utc)
        .map(|n| i64::from(zone.offset_from_utc_datetime(&n).fix().local_minus_utc()))
        .unwrap_or(0)
}

fn resolve_exact(zone: &Tz, local: i64, policy: AmbiguousTime, previous: Option<i64>) -> i64 {
    let Some(naive_local) = naive(local) else {
        return local;
    };
    match zone.from_local_datetime(&naive_local) {
        LocalResult::Single(t) => t.timestamp(),
        LocalResult::Ambiguous(a, b) => {
            let (early, late) = if a.timestamp() <= b.timestamp() {
                (a.timestamp(), b.timestamp())
            } else {
                (b.timestamp(), a.timestamp())
            };
            match policy {
                AmbiguousTime::Earliest => early,
                AmbiguousTime::Latest => late,
                AmbiguousTime::Sequential => match previous {
                    Some(p) if p > early => late,
                    _ => early,
                },
            }
        }
        LocalResult::None => {
            // In a gap the offset grows; the offset just before the gap is the smaller of the offsets
            // at the two candidate instants around the transition.
            let guess = offset_at_utc(zone, local);
            let first = offset_at_utc(zone, local - guess);
            let second = offset_at_utc(zone, local - first);
            local - first.min(second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * 3600 + mi * 60 + s
    }

    #[test]
    fn parses_t302_timestamps() {
        let mut p = TimestampParser::default();
        // In order: the parser caches the last date.
        for (text, expected) in [
            (&b"03/08/25 03:20:00"[..], civil(2025, 8, 3, 3, 20, 0)),
            (b"03/08/25 03:20:00", 1_754_191_200),
            // Cached date, other time.
            (b"03/08/25 23:59:59", civil(2025, 8, 3, 23, 59, 59)),
            (b" 29/02/24 00:00:00 ", civil(2024, 2, 29, 0, 0, 0)),
            (b"01/01/2020 01:00:02", civil(2020, 1, 1, 1, 0, 2)),
            (b"01/01/70 00:00:00", civil(2070, 1, 1, 0, 0, 0)),
        ] {
            let shown = String::from_utf8_lossy(text);
            assert_eq!(p.parse(text), Some(expected), "{shown}");
        }
    }

    #[test]
    fn rejects_malformed_timestamps() {
        let mut p = TimestampParser::default();
        for bad in [
            &b""[..],
            b"29/02/25 00:00:00",
            b"31/04/25 00:00:00",
            b"00/01/25 00:00:00",
            b"01/13/25 00:00:00",
            b"01/01/25 24:00:00",
            b"01/01/25 00:60:00",
            b"01/01/25 00:00:60",
            b"01/01/25",
            b"01/01/2500:00:00",
            b"01/01/25 0:00:00",
            b"01/01/25 00:00:00x",
            b"1/01/25 00:00:00",
            b"01-01-25 00:00:00",
            b"ab/cd/ef gh:ij:kl",
            b"END_DATA",
        ] {
            assert_eq!(p.parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        // A bad date after a cached good one is still rejected.
        assert!(p.parse(b"28/02/25 00:00:00").is_some());
        assert_eq!(p.parse(b"28/02/25 00:00:0x"), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn timezone_names() {
        assert_eq!(parse_timezone("Europe/Paris").unwrap(), Tz::Europe__Paris);
        assert_eq!(parse_timezone("europe/paris").unwrap(), Tz::Europe__Paris);
        assert_eq!(parse_timezone("UTC").unwrap(), Tz::UTC);
        let err = parse_timezone("Mars/Olympus").unwrap_err();
        assert_eq!(err.category(), crate::ErrorCategory::InvalidParameter);
        assert!(parse_timezone("").is_err());
    }

    fn to_utc_exact(zone: Tz, local: i64, policy: AmbiguousTime, previous: Option<i64>) -> i64 {
        resolve_exact(&zone, local, policy, previous)
    }

    #[test]
    fn paris_gap_shifts_forward() {
        let mut clock = LocalClock::new(Some(Tz::Europe__Paris), AmbiguousTime::Earliest);
        // 2026-03-29: 02:00 CET -> 03:00 CEST (01:00 UTC).
        assert_eq!(
            clock.utc_of(civil(2026, 3, 29, 1, 59, 59)),
            civil(2026, 3, 29, 0, 59, 59)
        );
        assert_eq!(
            clock.utc_of(civil(2026, 3, 29, 2, 30, 0)),
            civil(2026, 3, 29, 1, 30, 0)
        );
        assert_eq!(
            clock.utc_of(civil(2026, 3, 29, 3, 0, 0)),
            civil(2026, 3, 29, 1, 0, 0)
        );
    }

    #[test]
    fn new_york_gap_shifts_forward() {
        // 2026-03-08: 02:00 EST -> 03:00 EDT (07:00 UTC).
        let local = civil(2026, 3, 8, 2, 30, 0);
        assert_eq!(
            to_utc_exact(Tz::America__New_York, local, AmbiguousTime::Earliest, None),
            civil(2026, 3, 8, 7, 30, 0)
        );
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // Australia/Lord_Howe: 2025-10-05 02:00 (+10:30) -> 02:30 (+11:00).
        let local = civil(2025, 10, 5, 2, 15, 0);
        let utc = to_utc_exact(
            Tz::Australia__Lord_Howe,
            local,
            AmbiguousTime::Earliest,
            None,
        );
        assert_eq!(utc, local - (10 * 3600 + 1800));
    }

    #[test]
    fn paris_overlap_policies() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 local is 00:30 UTC and 01:30 UTC.
        let local = civil(2026, 10, 25, 2, 30, 0);
        let early = civil(2026, 10, 25, 0, 30, 0);
        let late = civil(2026, 10, 25, 1, 30, 0);
        let z = Tz::Europe__Paris;
        assert_eq!(to_utc_exact(z, local, AmbiguousTime::Earliest, None), early);
        assert_eq!(to_utc_exact(z, local, AmbiguousTime::Latest, None), late);
        assert_eq!(
            to_utc_exact(z, local, AmbiguousTime::Sequential, None),
            early
        );
        assert_eq!(
            to_utc_exact(z, local, AmbiguousTime::Sequential, Some(early - 600)),
            early
        );
        // A duplicated row stays on the first pass.
        assert_eq!(
            to_utc_exact(z, local, AmbiguousTime::Sequential, Some(early)),
            early
        );
        assert_eq!(
            to_utc_exact(z, local, AmbiguousTime::Sequential, Some(early + 1200)),
            late
        );
    }

    #[test]
    fn hour_cache_matches_exact_resolution() {
        // Every 7 minutes over two years in several zones: the cached path equals chrono's answer
        // wherever that answer is unique.
        for zone in [
            Tz::Europe__Paris,
            Tz::America__New_York,
            Tz::Australia__Lord_Howe,
            Tz::Asia__Kolkata,
            Tz::UTC,
        ] {
            let mut clock = LocalClock::new(Some(zone), AmbiguousTime::Earliest);
            let start = civil(2025, 1, 1, 0, 0, 0);
            let end = civil(2027, 1, 1, 0, 0, 0);
            let mut local = start;
            while local < end {
                let got = clock.utc_of(local);
                if let LocalResult::Single(t) = zone.from_local_datetime(&naive(local).unwrap()) {
                    assert_eq!(got, t.timestamp(), "{zone} local {local}");
                }
                local += 7 * 60;
            }
        }
    }

    #[test]
    fn utc_clock_is_identity() {
        let mut clock = LocalClock::new(None, AmbiguousTime::Sequential);
        assert_eq!(clock.utc_of(1_754_191_200), 1_754_191_200);
    }
}
