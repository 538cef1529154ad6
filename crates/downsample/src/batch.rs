//! The batch API: downsample a whole in-memory series at once.

use crate::bins::TimeBins;
use crate::bucketed::{bins_for, emit};
use crate::error::{DownsampleError, Result};
use crate::extrema::first_argmin_argmax;
use crate::lttb::lttb_indices;
use crate::series::{cleaned, DownsampleOptions, Method, Point};
use crate::summary::M4Summary;

/// Downsamples the samples `(ts[i], vs[i])` (`ts` in µs) to at most `n`
/// points with `method`.
///
/// The input is first made canonical as by [`crate::clean_series`]: sorted by
/// time (stable), non-finite values skipped, one point per timestamp (the
/// first). With `N` such points:
/// - `n >= N`: the `N` points are returned unchanged (every method);
/// - `lttb`: exactly `n` points, identical to the `lttb` crate's output on the
///   same points (`x = t as f64`, `y = v`): equal-count buckets;
/// - `uniform`: exactly `n` points, indices `⌊i·(N−1)/(n−1)⌋`, `i in 0..n`;
/// - `m4`, `minmax`, `avg`, `minmax_lttb`: equal-time bins over
///   `[t_first, t_last + 1)` as in [`crate::TimeRangeDownsampler`] (same
///   output); lengths: `m4` ≤ 4·⌊n/4⌋, `minmax` ≤ 2·⌊(n−2)/2⌋ + 2, `avg` ≤ n
///   (one per non-empty bin), `minmax_lttb` = min(n, candidates).
///
/// Output points are input points (exact `t` and `v`), except for `avg`,
/// with strictly increasing timestamps; all but `avg` keep the first and
/// last point. `ts` and `vs` must have equal lengths.
///
/// Errors with [`DownsampleError::InvalidParameter`] for `n` below
/// [`Method::min_points`] ("points must be at least 3 for lttb"), a ratio
/// outside `2..=MAX_RATIO`, or slices of different lengths.
pub fn downsample(
    ts: &[i64],
    vs: &[f64],
    n: usize,
    method: Method,
    options: &DownsampleOptions,
) -> Result<Vec<Point>> {
    method.check_points(n)?;
    options.check()?;
    let (ts, vs) = cleaned(ts, vs)?;
    let (ts, vs) = (&*ts, &*vs);
    let len = ts.len();
    let at = |i: usize| -> Option<Point> {
        Some(Point {
            t: *ts.get(i)?,
            v: *vs.get(i)?,
        })
    };
    if n >= len {
        return Ok((0..len).filter_map(at).collect());
    }
    match method {
        Method::Lttb => Ok(lttb_indices(ts, vs, n).into_iter().filter_map(at).collect()),
        Method::Uniform => {
            let (last, steps) = ((len - 1) as u128, (n - 1) as u128);
            Ok((0..n as u128)
                .filter_map(|i| at((i * last / steps) as usize))
                .collect())
        }
        _ => Ok(time_binned(ts, vs, n, method, options)?),
    }
}

/// [`downsample`] for a slice of points.
pub fn downsample_points(
    points: &[Point],
    n: usize,
    method: Method,
    options: &DownsampleOptions,
) -> Result<Vec<Point>> {
    let ts: Vec<i64> = points.iter().map(|p| p.t).collect();
    let vs: Vec<f64> = points.iter().map(|p| p.v).collect();
    downsample(&ts, &vs, n, method, options)
}

/// Equal-time methods over `[ts[0], ts[last] + 1)` on a canonical series with
/// more than `n` points.
fn time_binned(
    ts: &[i64],
    vs: &[f64],
    n: usize,
    method: Method,
    options: &DownsampleOptions,
) -> Result<Vec<Point>> {
    let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
        return Ok(Vec::new());
    };
    let count = bins_for(method, n, options.ratio)?;
    let bins = TimeBins::with_width(first, i128::from(last) - i128::from(first) + 1, count)?;
    // Bin j is ts[bounds[j]..bounds[j + 1]].
    let mut bounds = Vec::with_capacity(count as usize + 1);
    let mut lo = 0usize;
    bounds.push(0);
    for j in 1..count {
        let start = bins.start(j);
        let rest = ts.get(lo..).unwrap_or(&[]);
        lo += rest.partition_point(|&t| t < start);
        bounds.push(lo);
    }
    bounds.push(ts.len());

    let summarize = |j: usize| -> Option<(u64, M4Summary)> {
        let (&lo, &hi) = (bounds.get(j)?, bounds.get(j + 1)?);
        let (bt, bv) = (ts.get(lo..hi)?, vs.get(lo..hi)?);
        let p = |i: usize| Point { t: bt[i], v: bv[i] };
        if bt.is_empty() {
            return None;
        }
        let s = if method == Method::MinMaxLttb {
            // Only first/min/max/last are used downstream; skip the sum.
            let (imin, imax) = first_argmin_argmax(bv);
            M4Summary {
                first: p(0),
                last: p(bt.len() - 1),
                min: p(imin.min(bt.len() - 1)),
                max: p(imax.min(bt.len() - 1)),
                count: bt.len() as u64,
                sum: 0.0,
            }
        } else {
            // Same pushes, in the same order, as the streaming path.
            let mut s = M4Summary::new(bt[0], bv[0])?;
            for (&t, &v) in bt.iter().zip(bv).skip(1) {
                s.push(t, v);
            }
            s
        };
        Some((j as u64, s))
    };
    let groups = collect_bins(count as usize, options.parallel, summarize);
    Ok(emit(method, n, &bins, &groups))
}

#[cfg(feature = "parallel")]
fn collect_bins<F>(count: usize, parallel: bool, f: F) -> Vec<(u64, M4Summary)>
where
    F: Fn(usize) -> Option<(u64, M4Summary)> + Sync,
{
    use rayon::prelude::*;
    if parallel {
        (0..count)
            .into_par_iter()
            .with_min_len(64)
            .filter_map(f)
            .collect()
    } else {
        (0..count).filter_map(f).collect()
    }
}

#[cfg(not(feature = "parallel"))]
fn collect_bins<F>(count: usize, _parallel: bool, f: F) -> Vec<(u64, M4Summary)>
where
    F: Fn(usize) -> Option<(u64, M4Summary)>,
{
    (0..count).filter_map(f).collect()
}

/// Where to break a plotted line: indices `i` such that
/// `points[i].t - points[i - 1].t > gap_us`, i.e. a NULL row should be
/// emitted between `points[i - 1]` and `points[i]` (at any time strictly
/// between them, e.g. `points[i - 1].t + 1`) so that Grafana does not
/// connect them. `points` should be time-ordered. Errors with
/// [`DownsampleError::InvalidParameter`] when `gap_us <= 0`.
pub fn gap_breaks(points: &[Point], gap_us: i64) -> Result<Vec<usize>> {
    if gap_us <= 0 {
        return Err(DownsampleError::InvalidParameter(format!(
            "gap must be positive (got {gap_us} µs)"
        )));
    }
    Ok(points
        .windows(2)
        .enumerate()
        .filter(|(_, w)| i128::from(w[1].t) - i128::from(w[0].t) > i128::from(gap_us))
        .map(|(i, _)| i + 1)
        .collect())
}
