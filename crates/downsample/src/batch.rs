//! The batch API: downsample a whole in-memory series at once.

use crate::bins::TimeBins;
use crate::bucketed::{bins_for, emit};
use crate::error::{DownsampleError, Result};
use crate::kernels::{scan_bins, Sweep};
use crate::lttb::{lttb_indices, lttb_indices_checked};
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
    if ts.len() != vs.len() {
        return Err(DownsampleError::InvalidParameter(format!(
            "timestamps and values differ in length ({} vs {})",
            ts.len(),
            vs.len()
        )));
    }
    // Large inputs are usually canonical already: the kernels validate as
    // they go and only fall back to cleaning a copy when they find otherwise.
    if n < ts.len() {
        match method {
            Method::Lttb => {
                if let Some(idx) = lttb_indices_checked(ts, vs, n) {
                    return Ok(points_at(ts, vs, idx));
                }
            }
            Method::MinMaxLttb | Method::M4 | Method::MinMax | Method::Avg => {
                if let Some(out) = time_binned(ts, vs, n, method, options)? {
                    return Ok(out);
                }
            }
            Method::Uniform => {}
        }
    }
    let (ts, vs) = cleaned(ts, vs)?;
    let (ts, vs) = (&*ts, &*vs);
    let len = ts.len();
    if n >= len {
        return Ok(points_at(ts, vs, 0..len));
    }
    match method {
        Method::Lttb => Ok(points_at(ts, vs, lttb_indices(ts, vs, n))),
        Method::Uniform => {
            let (last, steps) = ((len - 1) as u128, (n - 1) as u128);
            let idx = (0..n as u128).map(|i| (i * last / steps) as usize);
            Ok(points_at(ts, vs, idx))
        }
        _ => Ok(time_binned(ts, vs, n, method, options)?.unwrap_or_default()),
    }
}

fn points_at(ts: &[i64], vs: &[f64], idx: impl IntoIterator<Item = usize>) -> Vec<Point> {
    idx.into_iter()
        .filter_map(|i| {
            Some(Point {
                t: *ts.get(i)?,
                v: *vs.get(i)?,
            })
        })
        .collect()
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

/// Equal-time methods over `[ts[0], ts[last] + 1)` for `n < ts.len()`.
/// `Ok(None)` when the input turns out not to be canonical (checked during
/// the sweep, so canonical input needs no separate validation pass).
fn time_binned(
    ts: &[i64],
    vs: &[f64],
    n: usize,
    method: Method,
    options: &DownsampleOptions,
) -> Result<Option<Vec<Point>>> {
    let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
        return Ok(Some(Vec::new()));
    };
    if last < first || ts.len() != vs.len() {
        return Ok(None);
    }
    let count = bins_for(method, n, options.ratio)?;
    let bins = TimeBins::with_width(first, i128::from(last) - i128::from(first) + 1, count)?;
    let extrema = method == Method::MinMaxLttb;
    let runs = run_count(count, ts.len(), options.parallel);
    let sweeps = sweeps_of(ts, &bins, runs);
    let sweep = |&s: &Sweep| bin_summaries(ts, vs, &bins, s, extrema);
    let Some(parts) = map_runs(&sweeps, options.parallel, sweep) else {
        return Ok(None);
    };
    let groups: Vec<(u64, M4Summary)> = parts.into_iter().flatten().collect();
    Ok(Some(emit(method, n, &bins, &groups)))
}

/// Contiguous runs of bins, one sequential sweep each (several when
/// parallel); a run starts at the first index at or after its first bin.
fn sweeps_of(ts: &[i64], bins: &TimeBins, runs: u64) -> Vec<Sweep> {
    let count = bins.count();
    (0..runs)
        .map(|r| {
            let j0 = count * r / runs;
            let j1 = count * (r + 1) / runs;
            let at = |j: u64| {
                if j == 0 {
                    0
                } else if j >= count {
                    ts.len()
                } else {
                    let start = bins.start(j);
                    ts.partition_point(|&t| t < start)
                }
            };
            let (lo, hi) = (at(j0), at(j1));
            Sweep {
                j0,
                j1,
                lo,
                hi: hi.max(lo),
            }
        })
        .collect()
}

/// The summaries of the non-empty bins of one sweep, in bin order; `None`
/// when the sweep finds the input not canonical.
fn bin_summaries(
    ts: &[i64],
    vs: &[f64],
    bins: &TimeBins,
    s: Sweep,
    extrema: bool,
) -> Option<Vec<(u64, M4Summary)>> {
    let ranges = scan_bins(ts, vs, bins, s, extrema)?;
    ranges
        .into_iter()
        .map(|r| {
            let p = |i: usize| -> Option<Point> {
                Some(Point {
                    t: *ts.get(i)?,
                    v: *vs.get(i)?,
                })
            };
            let summary = if extrema {
                // Only first/min/max/last are used downstream; no sum.
                M4Summary {
                    first: p(r.lo)?,
                    last: p(r.hi - 1)?,
                    min: p(r.imin)?,
                    max: p(r.imax)?,
                    count: (r.hi - r.lo) as u64,
                    sum: 0.0,
                }
            } else {
                // Same pushes, in the same order, as the streaming path;
                // a non-finite value means the input is not canonical.
                let mut pts = ts.get(r.lo..r.hi)?.iter().zip(vs.get(r.lo..r.hi)?);
                let (&t0, &v0) = pts.next()?;
                let mut s = M4Summary::new(t0, v0)?;
                for (&t, &v) in pts {
                    if !s.push(t, v) {
                        return None;
                    }
                }
                s
            };
            Some((r.j, summary))
        })
        .collect()
}

/// How many sweeps to split the bins into.
fn run_count(bins: u64, points: usize, parallel: bool) -> u64 {
    #[cfg(feature = "parallel")]
    if parallel && points >= 1 << 16 {
        return (rayon::current_num_threads() as u64 * 4).clamp(1, bins);
    }
    let _ = (bins, points, parallel);
    1
}

#[cfg(feature = "parallel")]
fn map_runs<T, F>(runs: &[Sweep], parallel: bool, f: F) -> Option<Vec<T>>
where
    T: Send,
    F: Fn(&Sweep) -> Option<T> + Sync + Send,
{
    use rayon::prelude::*;
    if parallel && runs.len() > 1 {
        runs.par_iter().map(f).collect()
    } else {
        runs.iter().map(f).collect()
    }
}

#[cfg(not(feature = "parallel"))]
fn map_runs<T, F>(runs: &[Sweep], _parallel: bool, f: F) -> Option<Vec<T>>
where
    F: Fn(&Sweep) -> Option<T>,
{
    runs.iter().map(f).collect()
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
