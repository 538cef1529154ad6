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

/// Indices LTTB selects from a canonical series (strictly increasing `ts`,
/// finite `vs`), for `3 <= n < ts.len()`; otherwise all indices.
pub(crate) fn lttb_indices(ts: &[i64], vs: &[f64], n: usize) -> Vec<usize> {
    lttb_unchecked(ts, vs, n).unwrap_or_default()
}

/// As [`lttb_indices`] on any input, validating on the way: `None` when
/// `ts` is not strictly increasing or a value is not finite (the caller then
/// cleans the input and runs [`lttb_indices`]). Saves a separate validation
/// pass over large inputs.
pub(crate) fn lttb_indices_checked(ts: &[i64], vs: &[f64], n: usize) -> Option<Vec<usize>> {
    lttb_checked(ts, vs, n)
}

#[inline(always)]
fn lttb_unchecked_body(ts: &[i64], vs: &[f64], n: usize) -> Option<Vec<usize>> {
    lttb_body::<false>(ts, vs, n)
}

#[inline(always)]
fn lttb_checked_body(ts: &[i64], vs: &[f64], n: usize) -> Option<Vec<usize>> {
    lttb_body::<true>(ts, vs, n)
}

crate::kernels::dispatch!(fn lttb_unchecked(ts: &[i64], vs: &[f64], n: usize) -> Option<Vec<usize>> => lttb_unchecked_body);
crate::kernels::dispatch!(fn lttb_checked(ts: &[i64], vs: &[f64], n: usize) -> Option<Vec<usize>> => lttb_checked_body);

/// Mean ranges summed side by side: independent dependency chains.
const GROUP: usize = 4;
/// Lanes of the area pass.
const LANES: usize = 4;

/// Sequential (index-order) sums of `t as f64` and `v` over `GROUP`
/// consecutive ranges, advanced in lockstep so that the four addition chains
/// overlap. Each range is still summed in its own index order, so every sum
/// is bit-identical to the oracle's.
#[inline(always)]
fn group_sums(
    ts: &[i64],
    vs: &[f64],
    ranges: [(usize, usize); GROUP],
) -> Option<[(f64, f64); GROUP]> {
    let mut t = [&ts[..0]; GROUP];
    let mut v = [&vs[..0]; GROUP];
    for (l, &(s, e)) in ranges.iter().enumerate() {
        t[l] = ts.get(s..e)?;
        v[l] = vs.get(s..e)?;
    }
    let m = t.iter().map(|x| x.len()).min().unwrap_or(0);
    let (t0, t1, t2, t3) = (&t[0][..m], &t[1][..m], &t[2][..m], &t[3][..m]);
    let (v0, v1, v2, v3) = (&v[0][..m], &v[1][..m], &v[2][..m], &v[3][..m]);
    let mut sx = [0f64; GROUP];
    let mut sy = [0f64; GROUP];
    for j in 0..m {
        sx[0] += t0[j] as f64;
        sy[0] += v0[j];
        sx[1] += t1[j] as f64;
        sy[1] += v1[j];
        sx[2] += t2[j] as f64;
        sy[2] += v2[j];
        sx[3] += t3[j] as f64;
        sy[3] += v3[j];
    }
    let mut out = [(0f64, 0f64); GROUP];
    for l in 0..GROUP {
        for (&x, &y) in t[l][m..].iter().zip(&v[l][m..]) {
            sx[l] += x as f64;
            sy[l] += y;
        }
        out[l] = (sx[l], sy[l]);
    }
    Some(out)
}

/// Sequential sums of one range.
#[inline(always)]
fn range_sums(ts: &[i64], vs: &[f64], (s, e): (usize, usize)) -> Option<(f64, f64)> {
    let (mut sx, mut sy) = (0f64, 0f64);
    for (&x, &y) in ts.get(s..e)?.iter().zip(vs.get(s..e)?) {
        sx += x as f64;
        sy += y;
    }
    Some((sx, sy))
}

/// Index of the first maximal `triangle_area` over `(pt, pv)` (0 when none
/// exceeds -1, i.e. all are NaN, as in the oracle). Lane `l` keeps the
/// first maximum among elements `l, l + LANES, ...`; the lanes are then
/// reduced to the largest area, smallest index on ties, which is the
/// sequential first maximum. Areas are computed with the oracle's exact
/// expression in every lane.
///
/// With `CHECK`, also returns whether the slice is canonical (strictly
/// increasing times, finite values), folded into the same cache-warm pass.
#[inline(always)]
fn first_max_area<const CHECK: bool>(
    pt: &[i64],
    pv: &[f64],
    ax: f64,
    ay: f64,
    cx: f64,
    cy: f64,
) -> (usize, bool) {
    let len = pt.len().min(pv.len());
    let (pt, pv) = (&pt[..len], &pv[..len]);
    let mut finite = [true; LANES];
    let mut best = [-1f64; LANES];
    // Indices as f64 (exact below 2^53) so the lane select is a float blend.
    let mut best_idx = [0f64; LANES];
    let mut lane_idx = [0f64, 1.0, 2.0, 3.0];
    let chunks = len / LANES;
    for c in 0..chunks {
        let base = c * LANES;
        let (ct, cv) = (&pt[base..base + LANES], &pv[base..base + LANES]);
        for l in 0..LANES {
            let area = triangle_area(ax, ay, cx, cy, ct[l] as f64, cv[l]);
            if CHECK {
                finite[l] &= cv[l].is_finite();
            }
            let better = area > best[l];
            best[l] = if better { area } else { best[l] };
            best_idx[l] = if better { lane_idx[l] } else { best_idx[l] };
            lane_idx[l] += LANES as f64;
        }
    }
    let mut max_area = -1f64;
    let mut idx = 0usize;
    for l in 0..LANES {
        let i = best_idx[l] as usize;
        if best[l] > max_area || (best[l] == max_area && i < idx) {
            max_area = best[l];
            idx = i;
        }
    }
    for j in chunks * LANES..len {
        let area = triangle_area(ax, ay, cx, cy, pt[j] as f64, pv[j]);
        if area > max_area {
            max_area = area;
            idx = j;
        }
    }
    let ok = CHECK
        && finite.iter().all(|&f| f)
        && pv[chunks * LANES..].iter().all(|v| v.is_finite())
        && pt
            .iter()
            .zip(pt.iter().skip(1))
            .fold(true, |acc, (p, q)| acc & (p < q));
    (idx, ok)
}

/// The LTTB kernel. Bucket means do not depend on the selections, so they
/// are computed ahead in groups of four consecutive buckets (four
/// independent addition chains instead of one latency-bound chain), and the
/// area passes follow right behind while the group's data is in cache. With
/// `CHECK`, every index is also verified (strictly increasing `ts`, finite
/// `vs`) by the area passes, which visit each index but the first and the
/// final mean range (checked separately).
#[inline(always)]
fn lttb_body<const CHECK: bool>(ts: &[i64], vs: &[f64], n: usize) -> Option<Vec<usize>> {
    let len = ts.len();
    if CHECK && len != vs.len() {
        return None;
    }
    let len = len.min(vs.len());
    if n >= len || n < 3 {
        if CHECK && !canonical_inline(ts, vs) {
            return None;
        }
        return Some((0..len).collect());
    }
    let every = bucket_every(len, n);
    let buckets = n - 2;
    let mut valid = true;
    if CHECK {
        valid &= ends_canonical(ts, vs, bucket_start(buckets, every).min(len))?;
    }
    let mut means = vec![(0f64, 0f64); buckets + 1];
    let mut out = Vec::with_capacity(n);
    out.push(0);
    let mut a = 0usize;
    let mut next_area = 0usize;
    let mut k = 1usize;
    while k <= buckets {
        let k_end = (k + GROUP).min(buckets + 1);
        fill_means(ts, vs, every, len, &mut means, k, k_end)?;
        k = k_end;
        // Area passes for every bucket whose next mean is now known. Inline:
        // as a helper it cost the unchecked kernel ~2% more instructions.
        while next_area < buckets && next_area + 1 < k {
            let (cx, cy) = means[next_area + 1];
            let ax = ts.get(a).map_or(0.0, |&t| t as f64);
            let ay = vs.get(a).copied().unwrap_or(0.0);
            let r0 = bucket_start(next_area, every).min(len);
            let r1 = bucket_start(next_area + 1, every).min(len).max(r0);
            let (best, ok) =
                first_max_area::<CHECK>(ts.get(r0..r1)?, vs.get(r0..r1)?, ax, ay, cx, cy);
            if CHECK {
                // Within the bucket, and across its start.
                let before = r0.checked_sub(1).and_then(|i| ts.get(i));
                valid &= ok && before.zip(ts.get(r0)).is_none_or(|(p, q)| p < q);
            }
            a = r0 + best;
            out.push(a);
            next_area += 1;
        }
    }
    out.push(len - 1);
    if CHECK && !valid {
        return None;
    }
    Some(out)
}

/// Mean range of "next bucket" `k` (1..=buckets):
/// `bucket_start(k)..min(bucket_start(k+1), len)`.
#[inline(always)]
fn mean_range(k: usize, every: f64, len: usize) -> (usize, usize) {
    let s = bucket_start(k, every).min(len);
    let e = bucket_start(k + 1, every).min(len);
    (s, e.max(s))
}

/// Whether the indices the area passes do not visit are canonical: the
/// first point, and the final mean range from `tail` (with the point before
/// it, for the step into the range). The area passes check
/// `1..bucket_start(buckets)`.
#[inline(always)]
fn ends_canonical(ts: &[i64], vs: &[f64], tail: usize) -> Option<bool> {
    let head = canonical_inline(ts.get(..1)?, vs.get(..1)?);
    Some(head & canonical_inline(ts.get(tail - 1..)?, vs.get(tail - 1..)?))
}

/// The means of "next buckets" `k..k_end` into `means[k..k_end]`: a full
/// group summed side by side, a short final group one range at a time.
#[inline(always)]
fn fill_means(
    ts: &[i64],
    vs: &[f64],
    every: f64,
    len: usize,
    means: &mut [(f64, f64)],
    k: usize,
    k_end: usize,
) -> Option<()> {
    let range = |kk: usize| mean_range(kk, every, len);
    if k_end - k == GROUP {
        let sums = group_sums(ts, vs, [range(k), range(k + 1), range(k + 2), range(k + 3)])?;
        for (l, s) in sums.iter().enumerate() {
            let (lo, hi) = range(k + l);
            let count = (hi - lo) as f64;
            means[k + l] = (s.0 / count, s.1 / count);
        }
    } else {
        for (kk, mean) in means.iter_mut().enumerate().take(k_end).skip(k) {
            let r = range(kk);
            let s = range_sums(ts, vs, r)?;
            let count = (r.1 - r.0) as f64;
            *mean = (s.0 / count, s.1 / count);
        }
    }
    Some(())
}

#[inline(always)]
fn canonical_inline(ts: &[i64], vs: &[f64]) -> bool {
    crate::kernels::canonical_body(ts, vs)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The run-time-dispatched kernels (AVX2/AVX-512 where available) give
    /// the same result as the baseline build of the same code.
    #[test]
    fn dispatched_kernels_match_baseline() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in [5usize, 17, 100, 1000, 10_007] {
            let mut t = 1_700_000_000_000_000i64;
            let ts: Vec<i64> = (0..len)
                .map(|_| {
                    t += 1 + (next() % 5000) as i64;
                    t
                })
                .collect();
            let vs: Vec<f64> = (0..len)
                .map(|_| (next() % 2000) as f64 / 7.0 - 100.0)
                .collect();
            for n in [3usize, 4, 7, 50, len / 2] {
                let baseline = lttb_body::<false>(&ts, &vs, n);
                assert_eq!(lttb_unchecked(&ts, &vs, n), baseline);
                assert_eq!(lttb_checked(&ts, &vs, n), baseline);
                assert_eq!(lttb_body::<true>(&ts, &vs, n), baseline);
            }
            // Non-canonical input is detected by the checked variant.
            let mut bad = vs.clone();
            bad[len - 1] = f64::NAN;
            assert_eq!(lttb_checked(&ts, &bad, 3), None);
            let mut unsorted = ts.clone();
            unsorted.swap(1, len - 2);
            assert_eq!(lttb_checked(&unsorted, &vs, 3), None);
        }
    }
}
