//! `M4Summary`: a mergeable per-time-bucket summary (first, last, min, max,
//! count, sum) for SQL partial aggregation and continuous aggregates.

use std::cmp::Ordering;

use crate::error::Result;
use crate::series::Point;
use crate::wire::{check_version, invalid, put_f64, put_i64, put_u8, put_varint, Reader};

/// Serialization format version of [`M4Summary::to_bytes`].
pub const M4_SUMMARY_FORMAT_VERSION: u8 = 1;

/// First, last, min and max point plus count and sum of the finite values of
/// a set of samples.
///
/// Ties are resolved by total orders on the points, so that [`M4Summary::merge`]
/// is commutative and associative (exactly, for everything but `sum`):
/// - `first`: smallest time; equal times: smallest value;
/// - `last`: largest time; equal times: largest value;
/// - `min`: smallest value; equal values: earliest time;
/// - `max`: largest value; equal values: earliest time.
///
/// Values compare numerically (`-0.0 == 0.0`); only where both time and
/// numeric value tie does the sign of zero decide (`-0.0` counts as smaller). On a series
/// with distinct timestamps this is "first occurrence of the min/max", as the
/// batch kernels pick them.
///
/// A summary always describes at least one point (`count >= 1`). `sum` is a
/// plain `f64` sum, so it is associative only up to rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct M4Summary {
    /// Earliest point.
    pub first: Point,
    /// Latest point.
    pub last: Point,
    /// Point with the smallest value.
    pub min: Point,
    /// Point with the largest value.
    pub max: Point,
    /// Number of points summarized (at least 1).
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
}

fn cmp_value(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

// Final tie-break on the bit pattern (only ±0 get here for finite values).
fn cmp_bits(a: f64, b: f64) -> Ordering {
    a.total_cmp(&b)
}

/// Order for `first`/`last`: time, then value.
#[inline]
pub(crate) fn cmp_time_value(a: &Point, b: &Point) -> Ordering {
    a.t.cmp(&b.t)
        .then_with(|| cmp_value(a.v, b.v))
        .then_with(|| cmp_bits(a.v, b.v))
}

/// Order for `min`/`max` in "better is smaller" form: value, then time.
#[inline]
fn cmp_value_time(a: &Point, b: &Point) -> Ordering {
    cmp_value(a.v, b.v)
        .then_with(|| a.t.cmp(&b.t))
        .then_with(|| cmp_bits(a.v, b.v))
}

/// Order for `max`: larger value first, then earlier time.
#[inline]
fn cmp_max(a: &Point, b: &Point) -> Ordering {
    cmp_value(b.v, a.v)
        .then_with(|| a.t.cmp(&b.t))
        .then_with(|| cmp_bits(b.v, a.v))
}

fn same_point(a: &Point, b: &Point) -> bool {
    a.t == b.t && a.v.to_bits() == b.v.to_bits()
}

impl M4Summary {
    /// Summary of the single point `(t, v)`; `None` when `v` is not finite
    /// (NaN and ±∞ are skipped everywhere in this crate).
    pub fn new(t: i64, v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        let p = Point { t, v };
        Some(M4Summary {
            first: p,
            last: p,
            min: p,
            max: p,
            count: 1,
            sum: v,
        })
    }

    /// Adds the point `(t, v)`; returns `false` (and changes nothing) when `v`
    /// is not finite.
    pub fn push(&mut self, t: i64, v: f64) -> bool {
        match M4Summary::new(t, v) {
            Some(one) => {
                self.merge(&one);
                true
            }
            None => false,
        }
    }

    /// Adds one point with a finite value: [`M4Summary::merge`] with its one-point summary,
    /// without building it (the per-row path of the bucketed kernels).
    #[inline]
    pub(crate) fn add_point(&mut self, p: Point) {
        if cmp_time_value(&p, &self.first) == Ordering::Less {
            self.first = p;
        }
        if cmp_time_value(&p, &self.last) == Ordering::Greater {
            self.last = p;
        }
        if cmp_value_time(&p, &self.min) == Ordering::Less {
            self.min = p;
        }
        if cmp_max(&p, &self.max) == Ordering::Less {
            self.max = p;
        }
        self.count = self.count.saturating_add(1);
        self.sum += p.v;
    }

    /// Merges `other` into `self`. Commutative and associative (up to float
    /// rounding of `sum`); `count` saturates at `u64::MAX`.
    #[inline]
    pub fn merge(&mut self, other: &M4Summary) {
        if cmp_time_value(&other.first, &self.first) == Ordering::Less {
            self.first = other.first;
        }
        if cmp_time_value(&other.last, &self.last) == Ordering::Greater {
            self.last = other.last;
        }
        if cmp_value_time(&other.min, &self.min) == Ordering::Less {
            self.min = other.min;
        }
        if cmp_max(&other.max, &self.max) == Ordering::Less {
            self.max = other.max;
        }
        self.count = self.count.saturating_add(other.count);
        self.sum += other.sum;
    }

    /// Mean value (`sum / count`).
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// Checks the invariants a summary of real data satisfies: `count >= 1`,
    /// finite point values, `sum` not NaN, `first.t <= min.t, max.t <=
    /// last.t`, `min.v <= first.v, last.v <= max.v`, and all four points equal
    /// when `count == 1`. Errors with [`crate::DownsampleError::InvalidInput`].
    pub fn validate(&self) -> Result<()> {
        let pts = [self.first, self.last, self.min, self.max];
        if self.count == 0 {
            return Err(invalid("summary count is zero"));
        }
        if pts.iter().any(|p| !p.v.is_finite()) || self.sum.is_nan() {
            return Err(invalid("summary holds a non-finite value"));
        }
        let times_ok = self.first.t <= self.last.t
            && [self.min.t, self.max.t]
                .iter()
                .all(|&t| self.first.t <= t && t <= self.last.t);
        let values_ok = [self.first.v, self.last.v, self.min.v, self.max.v]
            .iter()
            .all(|&v| self.min.v <= v && v <= self.max.v);
        if !times_ok || !values_ok {
            return Err(invalid("summary points are inconsistent"));
        }
        if self.count == 1 && !pts.iter().all(|p| same_point(p, &self.first)) {
            return Err(invalid("single-point summary with distinct points"));
        }
        Ok(())
    }

    /// Serializes the summary (see [`M4Summary::from_bytes`] for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        put_u8(&mut out, M4_SUMMARY_FORMAT_VERSION);
        self.write_body(&mut out);
        out
    }

    /// Decodes and validates bytes written by [`M4Summary::to_bytes`].
    ///
    /// Format, little-endian (version 1):
    /// ```text
    /// u8      version = 1
    /// u8      flags: bit0 last==first, bit1 min==first, bit2 min==last,
    ///                bit3 max==first, bit4 max==last (other bits zero;
    ///                at most one of bit1/bit2 and of bit3/bit4)
    /// varint  count (LEB128)
    /// f64     sum
    /// i64,f64 first (t, v)
    /// then, for last, min and max unless a flag says it equals first/last:
    /// varint  t - first.t (as u64),  f64 v
    /// ```
    /// Errors with [`crate::DownsampleError::InvalidInput`] on any other
    /// version, truncated or trailing bytes, or a decoded summary that fails
    /// [`M4Summary::validate`]; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        check_version(
            r.u8("summary version")?,
            M4_SUMMARY_FORMAT_VERSION,
            "M4 summary format version",
        )?;
        let s = M4Summary::read_body(&mut r)?;
        r.finish("M4 summary")?;
        Ok(s)
    }

    pub(crate) fn write_body(&self, out: &mut Vec<u8>) {
        let last_is_first = same_point(&self.last, &self.first);
        let min_is_first = same_point(&self.min, &self.first);
        let min_is_last = !min_is_first && same_point(&self.min, &self.last);
        let max_is_first = same_point(&self.max, &self.first);
        let max_is_last = !max_is_first && same_point(&self.max, &self.last);
        let flags = u8::from(last_is_first)
            | u8::from(min_is_first) << 1
            | u8::from(min_is_last) << 2
            | u8::from(max_is_first) << 3
            | u8::from(max_is_last) << 4;
        put_u8(out, flags);
        put_varint(out, self.count);
        put_f64(out, self.sum);
        put_i64(out, self.first.t);
        put_f64(out, self.first.v);
        let mut put_rel = |p: &Point| {
            // Negative deltas only occur in summaries that fail validation;
            // they wrap here and are rejected on decode.
            put_varint(out, p.t.wrapping_sub(self.first.t) as u64);
            put_f64(out, p.v);
        };
        if !last_is_first {
            put_rel(&self.last);
        }
        if !(min_is_first || min_is_last) {
            put_rel(&self.min);
        }
        if !(max_is_first || max_is_last) {
            put_rel(&self.max);
        }
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<Self> {
        let flags = r.u8("summary flags")?;
        if flags & !0x1f != 0 || flags & 0b110 == 0b110 || flags & 0b11000 == 0b11000 {
            return Err(invalid(&format!("bad summary flags {flags:#04x}")));
        }
        let count = r.varint("summary count")?;
        let sum = r.f64("summary sum")?;
        let first = Point {
            t: r.i64("first time")?,
            v: r.f64("first value")?,
        };
        let mut read_rel = |what: &str| -> Result<Point> {
            let delta = r.varint(what)?;
            let t = first
                .t
                .checked_add_unsigned(delta)
                .ok_or_else(|| invalid(&format!("{what} overflows")))?;
            Ok(Point { t, v: r.f64(what)? })
        };
        let last = if flags & 1 != 0 {
            first
        } else {
            read_rel("last point")?
        };
        let min = match flags & 0b110 {
            0b010 => first,
            0b100 => last,
            _ => read_rel("min point")?,
        };
        let max = match flags & 0b11000 {
            0b01000 => first,
            0b10000 => last,
            _ => read_rel("max point")?,
        };
        let s = M4Summary {
            first,
            last,
            min,
            max,
            count,
            sum,
        };
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The per-row path equals merging one-point summaries, ties and signed zeros included.
        #[test]
        fn add_point_is_merge_of_a_one_point_summary(
            points in prop::collection::vec((0i64..20, prop::sample::select(vec![-1.5, -0.0, 0.0, 1.0, 2.5])), 1..40),
        ) {
            let (t0, v0) = points[0];
            let mut by_merge = M4Summary::new(t0, v0).expect("finite");
            let mut by_add = by_merge;
            for &(t, v) in &points[1..] {
                by_merge.merge(&M4Summary::new(t, v).expect("finite"));
                by_add.add_point(Point { t, v });
            }
            prop_assert_eq!(by_add.to_bytes(), by_merge.to_bytes());
        }
    }
}
