//! Batch Largest-Triangle-Three-Buckets, bit-for-bit the `lttb` crate's
//! algorithm (itself a port of Steinarsson's flot-downsample): the same
//! bucket boundaries, the same floating-point expressions in the same order,
//! and the same tie-breaking (first point of maximal area wins).

use crate::series::Point;

/// Start index of equal-count bucket `k` (bucket `k` is
/// `bucket_start(k)..bucket_start(k + 1)`), exactly as the `lttb` crate
/// computes it. Saturating float-to-int conversion, like `as` in the crate.
#[inline]
pub(crate) fn bucket_start(k: usize, every: f64) -> usize {
    ((k as f64) * every) as usize + 1
}

/// The `lttb` crate's bucket width for `len` input and `n` output points.
#[inline]
pub(crate) fn bucket_every(len: usize, n: usize) -> f64 {
    (len.saturating_sub(2)) as f64 / (n.saturating_sub(2)) as f64
}

/// The `lttb` crate's triangle area for candidate `(px, py)` given the
/// previously selected point `(ax, ay)` and next bucket's mean `(cx, cy)`.
/// Keep the expression exactly as is: equality with the oracle depends on it.
#[inline(always)]
pub(crate) fn triangle_area(ax: f64, ay: f64, cx: f64, cy: f64, px: f64, py: f64) -> f64 {
    ((ax - cx) * (py - ay) - (ax - px) * (cy - ay)).abs() * 0.5
}

/// Sequential sums of `t as f64` and `v` over a range, in index order (the
/// order the oracle adds them in).
#[inline]
fn sums(ts: &[i64], vs: &[f64]) -> (f64, f64) {
    let mut sx = 0f64;
    let mut sy = 0f64;
    for (&t, &v) in ts.iter().zip(vs) {
        sx += t as f64;
        sy += v;
    }
    (sx, sy)
}

/// Indices LTTB selects from a cleaned series, for `3 <= n < ts.len()`;
/// otherwise all indices. `ts` and `vs` must have equal length.
///
/// The area pass over bucket `i` is fused with the (latency-bound,
/// necessarily sequential) mean sums of bucket `i + 2`, so that the two
/// dependency chains overlap; results are unchanged because every sum is
/// still accumulated in index order.
pub(crate) fn lttb_indices(ts: &[i64], vs: &[f64], n: usize) -> Vec<usize> {
    let len = ts.len().min(vs.len());
    if n >= len || n < 3 {
        return (0..len).collect();
    }
    let every = bucket_every(len, n);
    let buckets = n - 2;
    // Mean range of "next bucket" k: bucket_start(k)..min(bucket_start(k+1), len).
    let mean_range = |k: usize| {
        let s = bucket_start(k, every).min(len);
        let e = bucket_start(k + 1, every).min(len);
        (s, e.max(s))
    };
    let range_sums = |(s, e): (usize, usize)| match (ts.get(s..e), vs.get(s..e)) {
        (Some(t), Some(v)) => sums(t, v),
        _ => (0.0, 0.0),
    };

    let mut out = Vec::with_capacity(n);
    out.push(0);
    let mut a = 0usize;
    let mut next_range = mean_range(1);
    let mut next_sums = range_sums(next_range);

    for i in 0..buckets {
        let count = (next_range.1 - next_range.0) as f64;
        let cx = next_sums.0 / count;
        let cy = next_sums.1 / count;
        let ax = ts.get(a).map_or(0.0, |&t| t as f64);
        let ay = vs.get(a).copied().unwrap_or(0.0);

        let r0 = bucket_start(i, every).min(len);
        let r1 = bucket_start(i + 1, every).min(len).max(r0);
        // Sums for the bucket after next, overlapped with this area pass.
        let after = if i + 2 <= buckets {
            mean_range(i + 2)
        } else {
            (len, len)
        };
        let (Some(at), Some(av), Some(st), Some(sv)) = (
            ts.get(r0..r1),
            vs.get(r0..r1),
            ts.get(after.0..after.1),
            vs.get(after.0..after.1),
        ) else {
            break;
        };

        let mut max_area = -1f64;
        let mut best = 0usize;
        let mut sx = 0f64;
        let mut sy = 0f64;
        let common = at.len().min(st.len());
        let (at_head, at_tail) = at.split_at(common);
        let (av_head, av_tail) = av.split_at(common);
        let (st_head, st_tail) = st.split_at(common);
        let (sv_head, sv_tail) = sv.split_at(common);
        for (j, (((&pt, &pv), &qt), &qv)) in at_head
            .iter()
            .zip(av_head)
            .zip(st_head)
            .zip(sv_head)
            .enumerate()
        {
            let area = triangle_area(ax, ay, cx, cy, pt as f64, pv);
            if area > max_area {
                max_area = area;
                best = j;
            }
            sx += qt as f64;
            sy += qv;
        }
        for (j, (&pt, &pv)) in at_tail.iter().zip(av_tail).enumerate() {
            let area = triangle_area(ax, ay, cx, cy, pt as f64, pv);
            if area > max_area {
                max_area = area;
                best = common + j;
            }
        }
        for (&qt, &qv) in st_tail.iter().zip(sv_tail) {
            sx += qt as f64;
            sy += qv;
        }

        a = r0 + best;
        out.push(a);
        next_range = after;
        next_sums = (sx, sy);
    }
    out.push(len - 1);
    out
}

/// LTTB over a small, already clean candidate list (MinMaxLTTB's second
/// stage and the time-bucketed `lttb`).
pub(crate) fn lttb_points(points: &[Point], n: usize) -> Vec<Point> {
    if n >= points.len() {
        return points.to_vec();
    }
    let ts: Vec<i64> = points.iter().map(|p| p.t).collect();
    let vs: Vec<f64> = points.iter().map(|p| p.v).collect();
    lttb_indices(&ts, &vs, n)
        .into_iter()
        .filter_map(|i| points.get(i).copied())
        .collect()
}
