//! Points, methods, options, and the canonical cleaned series every method
//! works on.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::{DownsampleError, Result};

/// One sample: `t` in microseconds (any epoch), `v` the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Timestamp in microseconds.
    pub t: i64,
    /// Value.
    pub v: f64,
}

impl Point {
    /// A point at `t` µs with value `v`.
    pub const fn new(t: i64, v: f64) -> Self {
        Point { t, v }
    }
}

impl From<(i64, f64)> for Point {
    fn from((t, v): (i64, f64)) -> Self {
        Point { t, v }
    }
}

/// A downsampling method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Largest-Triangle-Three-Buckets (Steinarsson 2013) with equal-count
    /// buckets; batch output is identical to the `lttb` crate's.
    Lttb,
    /// MinMax preselection of `n × ratio` candidates in equal-time bins, then
    /// LTTB over them (Van Der Donckt et al., IEEE VIS 2023).
    MinMaxLttb,
    /// First, min, max and last point of each equal-time bin.
    M4,
    /// Min and max point of each equal-time bin, plus the first and last point.
    MinMax,
    /// Batch: an index stride. Time-range methods: the first point of each
    /// equal-time bin plus the last point.
    Uniform,
    /// Mean value of each equal-time bin, stamped with the bin's start time.
    Avg,
}

impl Method {
    /// All methods, in a fixed order.
    pub const ALL: [Method; 6] = [
        Method::Lttb,
        Method::MinMaxLttb,
        Method::M4,
        Method::MinMax,
        Method::Uniform,
        Method::Avg,
    ];

    /// The SQL-facing name (`lttb`, `minmax_lttb`, `m4`, `minmax`, `uniform`,
    /// `avg`).
    pub const fn name(self) -> &'static str {
        match self {
            Method::Lttb => "lttb",
            Method::MinMaxLttb => "minmax_lttb",
            Method::M4 => "m4",
            Method::MinMax => "minmax",
            Method::Uniform => "uniform",
            Method::Avg => "avg",
        }
    }

    /// Smallest number of output points the method accepts: 3 for `lttb` and
    /// `minmax_lttb` (first, one bucket, last), 4 for `m4` (one bin of four)
    /// and `minmax` (first, one bin of two, last), 2 for `uniform` (first and
    /// last), 1 for `avg`.
    pub const fn min_points(self) -> usize {
        match self {
            Method::Lttb | Method::MinMaxLttb => 3,
            Method::M4 | Method::MinMax => 4,
            Method::Uniform => 2,
            Method::Avg => 1,
        }
    }

    /// Errors with [`DownsampleError::InvalidParameter`] when `points` is
    /// below [`Method::min_points`].
    pub fn check_points(self, points: usize) -> Result<()> {
        if points < self.min_points() {
            return Err(DownsampleError::InvalidParameter(format!(
                "points must be at least {} for {} (got {points})",
                self.min_points(),
                self.name()
            )));
        }
        Ok(())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = DownsampleError;

    /// Parses a method name, case-insensitively; `minmaxlttb` is accepted for
    /// `minmax_lttb`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lttb" => Ok(Method::Lttb),
            "minmax_lttb" | "minmaxlttb" => Ok(Method::MinMaxLttb),
            "m4" => Ok(Method::M4),
            "minmax" => Ok(Method::MinMax),
            "uniform" => Ok(Method::Uniform),
            "avg" => Ok(Method::Avg),
            _ => Err(DownsampleError::InvalidParameter(format!(
                "unknown downsampling method {s:?} (expected lttb, minmax_lttb, m4, minmax, uniform or avg)"
            ))),
        }
    }
}

/// Default MinMaxLTTB preselection ratio (candidates per output point).
pub const DEFAULT_RATIO: usize = 4;
/// Largest accepted MinMaxLTTB ratio.
pub const MAX_RATIO: usize = 1024;

/// Options shared by the batch and time-bucketed APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownsampleOptions {
    /// MinMaxLTTB preselection ratio: `points × ratio / 2` equal-time bins
    /// each contribute their min and max. Must be in `2..=MAX_RATIO`.
    /// Default [`DEFAULT_RATIO`] (4).
    pub ratio: usize,
    /// Use rayon threads for the batch MinMax preselection. Only has an effect
    /// with the crate feature `parallel`; results are identical either way.
    pub parallel: bool,
}

impl Default for DownsampleOptions {
    fn default() -> Self {
        DownsampleOptions {
            ratio: DEFAULT_RATIO,
            parallel: false,
        }
    }
}

impl DownsampleOptions {
    pub(crate) fn check(&self) -> Result<()> {
        check_ratio(self.ratio)
    }
}

pub(crate) fn check_ratio(ratio: usize) -> Result<()> {
    if !(2..=MAX_RATIO).contains(&ratio) {
        return Err(DownsampleError::InvalidParameter(format!(
            "ratio must be between 2 and {MAX_RATIO} (got {ratio})"
        )));
    }
    Ok(())
}

/// The canonical series of a set of samples, as every method sees it:
/// stably sorted by time, non-finite values (NaN, ±∞) dropped, and of several
/// points with the same timestamp only the first finite one (in input order)
/// kept. Timestamps of the result are strictly increasing.
///
/// Errors with [`DownsampleError::InvalidParameter`] when the slices differ in
/// length.
pub fn clean_series(ts: &[i64], vs: &[f64]) -> Result<Vec<Point>> {
    let (ts, vs) = cleaned(ts, vs)?;
    Ok(ts
        .iter()
        .zip(vs.iter())
        .map(|(&t, &v)| Point { t, v })
        .collect())
}

/// Timestamps and values of a canonical series, borrowed when possible.
pub(crate) type CleanSeries<'a> = (Cow<'a, [i64]>, Cow<'a, [f64]>);

/// Borrows the input when it already is canonical (the common case), else
/// builds the cleaned copy.
pub(crate) fn cleaned<'a>(ts: &'a [i64], vs: &'a [f64]) -> Result<CleanSeries<'a>> {
    if ts.len() != vs.len() {
        return Err(DownsampleError::InvalidParameter(format!(
            "timestamps and values differ in length ({} vs {})",
            ts.len(),
            vs.len()
        )));
    }
    if crate::kernels::is_canonical(ts, vs) {
        return Ok((Cow::Borrowed(ts), Cow::Borrowed(vs)));
    }
    let mut pairs: Vec<(i64, f64)> = ts
        .iter()
        .zip(vs)
        .filter(|(_, v)| v.is_finite())
        .map(|(&t, &v)| (t, v))
        .collect();
    // Stable: equal timestamps keep input order, so dedup keeps the first.
    if !pairs.windows(2).all(|w| w[0].0 <= w[1].0) {
        pairs.sort_by_key(|p| p.0);
    }
    pairs.dedup_by_key(|p| p.0);
    let (t, v): (Vec<i64>, Vec<f64>) = pairs.into_iter().unzip();
    Ok((Cow::Owned(t), Cow::Owned(v)))
}

/// Drops every point whose timestamp is not greater than its predecessor's,
/// so that output timestamps are strictly increasing.
pub(crate) fn keep_strictly_increasing(points: &mut Vec<Point>) {
    let mut last: Option<i64> = None;
    points.retain(|p| {
        let keep = last.is_none_or(|l| p.t > l);
        if keep {
            last = Some(p.t);
        }
        keep
    });
}
