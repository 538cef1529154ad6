//! The downsampling aggregates, all combinable and PARALLEL SAFE (their support
//! functions are declared here; the `CREATE AGGREGATE`s are in sql/downsample.sql):
//!
//! - `sensor.downsample_agg(time, value, from, to, points[, method])` → `sensor.timevector`:
//!   equal-time buckets fixed by `from`, `to` and `points` (the crate's `BucketedState`),
//!   so each partial state is small and merges; works per group with `GROUP BY series`.
//! - `sensor.m4_summary(time, value)` → `sensor.m4`: first, min, max and last (each with
//!   its time), count and sum of a bucket, to store in a materialized view or a
//!   continuous aggregate.
//! - `sensor.downsample_summaries(bucket, summary, from, to, points[, method])` →
//!   `sensor.timevector`: merges stored `sensor.m4` summaries into `points` points.
//!
//! States are Rust values owned by the aggregate's memory context (dropped when it is
//! reset) and serialize to versioned bytes for parallel workers and partial aggregation.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use ::downsample::{
    bins_for, merge_summaries, BucketedState, DownsampleOptions, M4Summary, Method, Point,
    DEFAULT_RATIO,
};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, Internal, PgMemoryContexts};

use super::{kernel_time, parse_method, points_arg, row_time, timestamp_of};
use crate::error::{RaiseError, SensorError, SensorResult, SqlResult};
use crate::pg::composite::sensor_composite;

type Composite = PgHeapTuple<'static, AllocatedByRust>;

/// Moves `value` into the calling aggregate's memory context, as its new state.
fn new_state<T>(fcinfo: pg_sys::FunctionCallInfo, value: T) -> SensorResult<Internal> {
    let mut context: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: fcinfo is this call's; AggCheckCallContext only reads it.
    let in_aggregate = unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } != 0;
    if !in_aggregate || context.is_null() {
        return Err(SensorError::not_supported(
            "this is an aggregate support function; call the aggregate instead",
        ));
    }
    let ptr = PgMemoryContexts::For(context).leak_and_drop_on_delete(value);
    Ok(Internal::from(Some(pg_sys::Datum::from(ptr))))
}

/// A state made by a deserialize function: owned by the current (per-call) context; the
/// combine function copies what it keeps into the aggregate context.
fn transient_state<T>(value: T) -> Internal {
    Internal::new(value)
}

fn mismatch(what: &str) -> SensorError {
    SensorError::invalid_parameter(format!("{what} must be the same for every row of a group"))
}

/// A `sensor.timevector` of kernel points.
fn timevector(points: &[Point]) -> SensorResult<Composite> {
    let times = points
        .iter()
        .map(|p| timestamp_of(p.t))
        .collect::<SensorResult<Vec<_>>>()?;
    let values: Vec<f64> = points.iter().map(|p| p.v).collect();
    sensor_composite(c"timevector", [times.into_datum(), values.into_datum()])
}

fn method_index(method: Method) -> u8 {
    Method::ALL
        .iter()
        .position(|&m| m == method)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

fn method_at(index: u8) -> SensorResult<Method> {
    Method::ALL
        .get(usize::from(index))
        .copied()
        .ok_or_else(|| bad_state("unknown method"))
}

fn bad_state(what: &str) -> SensorError {
    SensorError::invalid_input(format!("malformed aggregate state: {what}"))
}

/// Per-row parameters of the range aggregates, checked once per group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RangeArgs {
    from: i64,
    to: i64,
    points: usize,
    method: Method,
}

/// The method text of the previous row, so that each row costs a comparison, not a parse.
fn same_method(previous: &mut String, current: &str, method: Method) -> SensorResult<()> {
    if previous.as_str() != current {
        if parse_method(current)? != method {
            return Err(mismatch("method"));
        }
        *previous = current.to_string();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// downsample_agg

/// State of `downsample_agg`: the crate's mergeable bucket state and its method.
#[derive(Clone)]
struct DownsampleAggState {
    method: Method,
    method_text: String,
    buckets: BucketedState,
}

/// Serialization format version of [`DownsampleAggState`] (then the crate's own bytes).
const DOWNSAMPLE_AGG_STATE_VERSION: u8 = 1;

impl DownsampleAggState {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![DOWNSAMPLE_AGG_STATE_VERSION, method_index(self.method)];
        out.extend_from_slice(&self.buckets.to_bytes());
        out
    }

    fn from_bytes(bytes: &[u8]) -> SensorResult<Self> {
        let [version, method, rest @ ..] = bytes else {
            return Err(bad_state("truncated"));
        };
        if *version != DOWNSAMPLE_AGG_STATE_VERSION {
            return Err(bad_state(&format!("unsupported version {version}")));
        }
        let method = method_at(*method)?;
        let buckets = BucketedState::from_bytes(rest)?;
        // The layout must be the one the method would have made.
        if bins_for(method, buckets.points(), buckets.ratio()).ok() != Some(buckets.bucket_count())
        {
            return Err(bad_state("bucket layout does not match the method"));
        }
        Ok(DownsampleAggState {
            method,
            method_text: method.name().to_string(),
            buckets,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn downsample_agg_step(
    mut state: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: &str,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Internal> {
    let (Some(time), Some(value), Some(from), Some(to), Some(points)) =
        (time.and_then(row_time), value, from, to, points)
    else {
        return Ok(state);
    };
    let (from, to) = (kernel_time(from, "from")?, kernel_time(to, "to")?);
    // SAFETY: this function's state is always a DownsampleAggState.
    match unsafe { state.get_mut::<DownsampleAggState>() } {
        Some(s) => {
            if s.buckets.from() != from || s.buckets.to() != to {
                return Err(mismatch("\"from\" and \"to\""));
            }
            if i64::try_from(s.buckets.points()).ok() != Some(i64::from(points)) {
                return Err(mismatch("points"));
            }
            same_method(&mut s.method_text, method, s.method)?;
            s.buckets.push(time, value);
            Ok(state)
        }
        None => {
            let method_parsed = parse_method(method)?;
            let n = points_arg(points, method_parsed)?;
            if from >= to {
                return Err(SensorError::invalid_parameter(
                    "the window is empty: \"from\" must be before \"to\"",
                ));
            }
            let mut buckets = BucketedState::for_method(from, to, n, method_parsed, DEFAULT_RATIO)?;
            buckets.push(time, value);
            new_state(
                fcinfo,
                DownsampleAggState {
                    method: method_parsed,
                    method_text: method.to_string(),
                    buckets,
                },
            )
        }
    }
}

/// Transition function of `sensor.downsample_agg` (6 arguments).
#[pg_extern(immutable, parallel_safe, name = "downsample_agg_transition")]
#[allow(clippy::too_many_arguments)]
fn downsample_agg_transition_method(
    state: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let Some(method) = method else {
        return Ok(state);
    };
    Ok(downsample_agg_step(
        state, time, value, from, to, points, method, fcinfo,
    )?)
}

/// Transition function of `sensor.downsample_agg` (5 arguments: method minmax_lttb).
#[pg_extern(immutable, parallel_safe)]
fn downsample_agg_transition(
    state: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    Ok(downsample_agg_step(
        state,
        time,
        value,
        from,
        to,
        points,
        Method::MinMaxLttb.name(),
        fcinfo,
    )?)
}

#[pg_extern(immutable, parallel_safe)]
fn downsample_agg_final(
    state: Internal,
) -> Option<pgrx::composite_type!('static, "sensor.timevector")> {
    // SAFETY: this aggregate's state is always a DownsampleAggState.
    let s = unsafe { state.get::<DownsampleAggState>() }?;
    s.buckets
        .finish(s.method)
        .map_err(SensorError::from)
        .and_then(|points| timevector(&points))
        .map(Some)
        .or_raise()
}

#[pg_extern(immutable, parallel_safe)]
fn downsample_agg_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: both are DownsampleAggStates.
    let other = unsafe { b.get::<DownsampleAggState>() };
    match (unsafe { a.get_mut::<DownsampleAggState>() }, other) {
        (_, None) => Ok(a),
        (None, Some(other)) => Ok(new_state(fcinfo, other.clone())?),
        (Some(s), Some(other)) => {
            if s.method != other.method {
                return Err(mismatch("method").into());
            }
            s.buckets
                .merge(&other.buckets)
                .map_err(|_| mismatch("\"from\", \"to\" and points"))?;
            Ok(a)
        }
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn downsample_agg_serialize(state: Internal) -> Option<Vec<u8>> {
    // SAFETY: a DownsampleAggState.
    unsafe { state.get::<DownsampleAggState>() }.map(DownsampleAggState::to_bytes)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn downsample_agg_deserialize(bytes: &[u8], _state: Internal) -> SqlResult<Internal> {
    Ok(transient_state(DownsampleAggState::from_bytes(bytes)?))
}

// ---------------------------------------------------------------------------------------
// m4_summary

/// A `sensor.m4` value: first, min, max, last (time and value each), count, sum.
fn m4_composite(s: &M4Summary) -> SensorResult<Composite> {
    let point =
        |p: &Point| -> SensorResult<_> { Ok((timestamp_of(p.t)?.into_datum(), p.v.into_datum())) };
    let (ft, fv) = point(&s.first)?;
    let (nt, nv) = point(&s.min)?;
    let (xt, xv) = point(&s.max)?;
    let (lt, lv) = point(&s.last)?;
    sensor_composite(
        c"m4",
        [
            ft,
            fv,
            nt,
            nv,
            xt,
            xv,
            lt,
            lv,
            i64::try_from(s.count).unwrap_or(i64::MAX).into_datum(),
            s.sum.into_datum(),
        ],
    )
}

/// A `sensor.m4` value read back, validated.
fn m4_of(summary: &PgHeapTuple<'_, AllocatedByRust>) -> SensorResult<M4Summary> {
    let at = |i: usize| NonZeroUsize::new(i).unwrap_or(NonZeroUsize::MIN);
    let bad = || SensorError::invalid_input("a sensor.m4 summary must not have NULL fields");
    let time = |i: usize| -> SensorResult<i64> {
        let t = summary
            .get_by_index::<TimestampWithTimeZone>(at(i))
            .map_err(|e| SensorError::invalid_input(format!("bad sensor.m4 summary: {e}")))?
            .ok_or_else(bad)?;
        kernel_time(t, "sensor.m4 time")
    };
    let value = |i: usize| -> SensorResult<f64> {
        summary
            .get_by_index::<f64>(at(i))
            .map_err(|e| SensorError::invalid_input(format!("bad sensor.m4 summary: {e}")))?
            .ok_or_else(bad)
    };
    let point = |i: usize| -> SensorResult<Point> { Ok(Point::new(time(i)?, value(i + 1)?)) };
    let count = summary
        .get_by_index::<i64>(at(9))
        .map_err(|e| SensorError::invalid_input(format!("bad sensor.m4 summary: {e}")))?
        .ok_or_else(bad)?;
    let s = M4Summary {
        first: point(1)?,
        min: point(3)?,
        max: point(5)?,
        last: point(7)?,
        count: u64::try_from(count).map_err(|_| bad())?,
        sum: value(10)?,
    };
    s.validate().map_err(|_| {
        SensorError::invalid_input(
            "inconsistent sensor.m4 summary: it needs first_time <= min_time, max_time <= last_time and min_value <= first_value, last_value <= max_value",
        )
    })?;
    Ok(s)
}

#[pg_extern(immutable, parallel_safe)]
fn m4_summary_transition(
    mut state: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // NULL, NaN and infinite values and infinite times are skipped.
    let (Some(t), Some(value)) = (time.and_then(row_time), value) else {
        return Ok(state);
    };
    // SAFETY: this aggregate's state is always an M4Summary.
    match unsafe { state.get_mut::<M4Summary>() } {
        Some(s) => {
            s.push(t, value);
            Ok(state)
        }
        None => match M4Summary::new(t, value) {
            Some(s) => Ok(new_state(fcinfo, s)?),
            None => Ok(state),
        },
    }
}

#[pg_extern(immutable, parallel_safe)]
fn m4_summary_final(state: Internal) -> Option<pgrx::composite_type!('static, "sensor.m4")> {
    // SAFETY: an M4Summary.
    let s = unsafe { state.get::<M4Summary>() }?;
    m4_composite(s).map(Some).or_raise()
}

#[pg_extern(immutable, parallel_safe)]
fn m4_summary_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: both are M4Summaries.
    let other = unsafe { b.get::<M4Summary>() }.copied();
    match (unsafe { a.get_mut::<M4Summary>() }, other) {
        (_, None) => Ok(a),
        (None, Some(other)) => Ok(new_state(fcinfo, other)?),
        (Some(s), Some(other)) => {
            s.merge(&other);
            Ok(a)
        }
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn m4_summary_serialize(state: Internal) -> Option<Vec<u8>> {
    // SAFETY: an M4Summary.
    unsafe { state.get::<M4Summary>() }.map(M4Summary::to_bytes)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn m4_summary_deserialize(bytes: &[u8], _state: Internal) -> SqlResult<Internal> {
    Ok(transient_state(
        M4Summary::from_bytes(bytes).map_err(SensorError::from)?,
    ))
}

// ---------------------------------------------------------------------------------------
// downsample_summaries

/// Stored summaries merged per output bin (so memory is bounded by the bins, not by the
/// number of summaries), each with the first bucket start seen in that bin.
#[derive(Debug, Clone)]
pub(crate) struct SummaryBins {
    args: RangeArgs,
    method_text: String,
    count: u64,
    bins: BTreeMap<u64, (i64, M4Summary)>,
}

/// Serialization format version of [`SummaryBins`].
const SUMMARY_BINS_VERSION: u8 = 1;

impl SummaryBins {
    pub(crate) fn new(from: i64, to: i64, points: usize, method: Method) -> SensorResult<Self> {
        if from >= to {
            return Err(SensorError::invalid_parameter(
                "the window is empty: \"from\" must be before \"to\"",
            ));
        }
        Ok(SummaryBins {
            args: RangeArgs {
                from,
                to,
                points,
                method,
            },
            method_text: method.name().to_string(),
            count: bins_for(method, points, DEFAULT_RATIO)?,
            bins: BTreeMap::new(),
        })
    }

    /// The crate's equal-time bin of `t` over `[from, to)` (the same exact arithmetic as
    /// `merge_summaries`, so a bin's summaries stay together there).
    fn bin_of(&self, t: i64) -> Option<u64> {
        let d = i128::from(t) - i128::from(self.args.from);
        let width = i128::from(self.args.to) - i128::from(self.args.from);
        if d < 0 || d >= width {
            return None;
        }
        u64::try_from(d * i128::from(self.count) / width).ok()
    }

    /// Adds the summary of the bucket starting at `start` (ignored outside the window).
    pub(crate) fn push(&mut self, start: i64, summary: &M4Summary) {
        if let Some(j) = self.bin_of(start) {
            self.bins
                .entry(j)
                .and_modify(|(s, m)| {
                    *s = (*s).min(start);
                    m.merge(summary);
                })
                .or_insert((start, *summary));
        }
    }

    fn merge(&mut self, other: &SummaryBins) -> SensorResult<()> {
        if self.args != other.args {
            return Err(mismatch("\"from\", \"to\", points and method"));
        }
        for (&j, &(start, summary)) in &other.bins {
            self.bins
                .entry(j)
                .and_modify(|(s, m)| {
                    *s = (*s).min(start);
                    m.merge(&summary);
                })
                .or_insert((start, summary));
        }
        Ok(())
    }

    pub(crate) fn finish(&self) -> SensorResult<Vec<Point>> {
        Ok(merge_summaries(
            self.bins.values().copied(),
            self.args.from,
            self.args.to,
            self.args.points,
            self.args.method,
            &DownsampleOptions::default(),
        )?)
    }

    /// ```text
    /// u8 version = 1, u8 method (index in Method::ALL), i64 from, i64 to, u32 points,
    /// u32 bins, then per bin: u64 index, i64 first bucket start, u16 length, M4Summary bytes
    /// ```
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![SUMMARY_BINS_VERSION, method_index(self.args.method)];
        out.extend_from_slice(&self.args.from.to_le_bytes());
        out.extend_from_slice(&self.args.to.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(self.args.points)
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(
            &u32::try_from(self.bins.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for (&j, (start, summary)) in &self.bins {
            let bytes = summary.to_bytes();
            out.extend_from_slice(&j.to_le_bytes());
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> SensorResult<Self> {
        let mut rest = bytes;
        let mut take = |n: usize| -> SensorResult<&[u8]> {
            if rest.len() < n {
                return Err(bad_state("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        fn array<const N: usize>(b: &[u8]) -> [u8; N] {
            let mut out = [0u8; N];
            out.copy_from_slice(&b[..N]);
            out
        }
        let version = take(1)?[0];
        if version != SUMMARY_BINS_VERSION {
            return Err(bad_state(&format!("unsupported version {version}")));
        }
        let method = method_at(take(1)?[0])?;
        let from = i64::from_le_bytes(array(take(8)?));
        let to = i64::from_le_bytes(array(take(8)?));
        let points = u32::from_le_bytes(array(take(4)?)) as usize;
        let n = u32::from_le_bytes(array(take(4)?));
        let mut state =
            SummaryBins::new(from, to, points, method).map_err(|e| bad_state(&e.message))?;
        for _ in 0..n {
            let j = u64::from_le_bytes(array(take(8)?));
            let start = i64::from_le_bytes(array(take(8)?));
            let len = u16::from_le_bytes(array(take(2)?));
            let summary = M4Summary::from_bytes(take(usize::from(len))?)?;
            if state.bin_of(start) != Some(j) {
                return Err(bad_state("bucket start outside its bin"));
            }
            state.bins.insert(j, (start, summary));
        }
        if !rest.is_empty() {
            return Err(bad_state("trailing bytes"));
        }
        Ok(state)
    }
}

#[allow(clippy::too_many_arguments)]
fn downsample_summaries_step(
    mut state: Internal,
    bucket: Option<TimestampWithTimeZone>,
    summary: Option<PgHeapTuple<'_, AllocatedByRust>>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: &str,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Internal> {
    let (Some(bucket), Some(summary), Some(from), Some(to), Some(points)) =
        (bucket, summary, from, to, points)
    else {
        return Ok(state);
    };
    let (from, to) = (kernel_time(from, "from")?, kernel_time(to, "to")?);
    let start = kernel_time(bucket, "bucket")?;
    let summary = m4_of(&summary)?;
    // SAFETY: this aggregate's state is always a SummaryBins.
    match unsafe { state.get_mut::<SummaryBins>() } {
        Some(s) => {
            if s.args.from != from || s.args.to != to {
                return Err(mismatch("\"from\" and \"to\""));
            }
            if i64::try_from(s.args.points).ok() != Some(i64::from(points)) {
                return Err(mismatch("points"));
            }
            let m = s.args.method;
            same_method(&mut s.method_text, method, m)?;
            s.push(start, &summary);
            Ok(state)
        }
        None => {
            let m = parse_method(method)?;
            let mut s = SummaryBins::new(from, to, points_arg(points, m)?, m)?;
            s.method_text = method.to_string();
            s.push(start, &summary);
            new_state(fcinfo, s)
        }
    }
}

/// Transition function of `sensor.downsample_summaries` (6 arguments).
#[pg_extern(immutable, parallel_safe, name = "downsample_summaries_transition")]
#[allow(clippy::too_many_arguments)]
fn downsample_summaries_transition_method(
    state: Internal,
    bucket: Option<TimestampWithTimeZone>,
    summary: Option<pgrx::composite_type!('_, "sensor.m4")>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let Some(method) = method else {
        return Ok(state);
    };
    Ok(downsample_summaries_step(
        state, bucket, summary, from, to, points, method, fcinfo,
    )?)
}

/// Transition function of `sensor.downsample_summaries` (5 arguments: minmax_lttb).
#[pg_extern(immutable, parallel_safe)]
fn downsample_summaries_transition(
    state: Internal,
    bucket: Option<TimestampWithTimeZone>,
    summary: Option<pgrx::composite_type!('_, "sensor.m4")>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    Ok(downsample_summaries_step(
        state,
        bucket,
        summary,
        from,
        to,
        points,
        Method::MinMaxLttb.name(),
        fcinfo,
    )?)
}

#[pg_extern(immutable, parallel_safe)]
fn downsample_summaries_final(
    state: Internal,
) -> Option<pgrx::composite_type!('static, "sensor.timevector")> {
    // SAFETY: a SummaryBins.
    let s = unsafe { state.get::<SummaryBins>() }?;
    s.finish()
        .and_then(|points| timevector(&points))
        .map(Some)
        .or_raise()
}

#[pg_extern(immutable, parallel_safe)]
fn downsample_summaries_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: both are SummaryBins.
    let other = unsafe { b.get::<SummaryBins>() };
    match (unsafe { a.get_mut::<SummaryBins>() }, other) {
        (_, None) => Ok(a),
        (None, Some(other)) => Ok(new_state(fcinfo, other.clone())?),
        (Some(s), Some(other)) => {
            s.merge(other)?;
            Ok(a)
        }
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn downsample_summaries_serialize(state: Internal) -> Option<Vec<u8>> {
    // SAFETY: a SummaryBins.
    unsafe { state.get::<SummaryBins>() }.map(SummaryBins::to_bytes)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn downsample_summaries_deserialize(bytes: &[u8], _state: Internal) -> SqlResult<Internal> {
    Ok(transient_state(SummaryBins::from_bytes(bytes)?))
}
