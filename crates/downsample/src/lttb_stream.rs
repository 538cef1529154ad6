//! Exact streaming LTTB: the batch `lttb` output (and so the `lttb` crate's)
//! from points pushed one at a time, without buffering whole buckets.
//!
//! LTTB picks in bucket `i` the point `p` maximising the triangle area with
//! the previously selected point `a` and the mean `c` of bucket `i + 1`,
//! which is only known once bucket `i + 1` has been read. In exact
//! arithmetic that area, `|E(p)|` with `E(p) = (ax−cx)(py−ay) − (ax−px)(cy−ay)`,
//! is the absolute value of an affine function of `p`, so its maximum over a
//! bucket is attained at a vertex of the bucket's convex hull. A bucket is
//! therefore reduced, while it is read, to its upper and lower hull chains
//! (Andrew's monotone chain in time order), and only those candidates are
//! evaluated — with the `lttb` crate's exact floating-point expression and
//! first-maximum tie-breaking — once `a` and `c` are known.
//!
//! Floating point: the oracle's computed area differs from `|E|` by rounding,
//! so a point just inside the hull, or any point on a hull edge (exactly
//! collinear points tie in exact arithmetic), can win in floating point. The
//! chains therefore keep every point within a tolerance band of the hull:
//! a point is dropped only when it lies more than
//! `BAND_REL · max(|v| seen so far) ` (2⁻³⁰ relative) below the upper
//! (above the lower) chain, which keeps collinear and duplicate-value runs
//! (constant data, quantized levels) entirely. When a bucket is evaluated the
//! rounding error of the oracle's expression is bounded from `a`, `c` and the
//! bucket's value and time extent (see `Hull::select`); if that bound could
//! exceed what the band covers (only when values later in the stream are
//! more than about 10⁵ times larger than all earlier ones, or near the
//! overflow or underflow limits of `f64`), the result may in rare cases differ
//! from batch and [`LttbStream::exactness_guaranteed`] turns `false`.
//!
//! Memory: the hull chains of at most two buckets at a time: O(log m) points
//! per bucket of `m` noisy points, but up to `m` for convex or concave runs
//! (a smooth curve) and for exactly collinear runs (constant or two-level
//! signals). [`LttbStream::peak_candidates`] reports the high-water mark.
//!
//! When two whole buckets fit in the memory the caller allows
//! ([`LttbStream::with_memory`]), the stream keeps every point of a bucket
//! instead of its hull: batch LTTB's own evaluation, bucket by bucket, exact
//! without a proof and several times cheaper per point than the hull (no
//! branchy chain updates).

use crate::error::{DownsampleError, Result};
use crate::lttb::{bucket_every, bucket_start, triangle_area};
use crate::series::Point;

/// Points closer than this fraction of the largest |value| so far to the
/// hull are kept.
const BAND_REL: f64 = 1.0 / (1u64 << 30) as f64;
/// Unit roundoff of f64.
const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
/// Largest |t| (µs) for which `t as f64` is exact (years ~1685 to ~2255).
pub const MAX_EXACT_TIME: i64 = 1 << 53;

#[derive(Debug, Clone, Copy)]
struct Cand {
    idx: u64,
    t: i64,
    v: f64,
}

/// One equal-count segment: the mean sums of all its points and, for area
/// buckets, the hull chains of its points.
#[derive(Debug, Clone)]
struct Hull {
    /// With `keep_all`, every point of the bucket, in index order.
    upper: Vec<Cand>,
    lower: Vec<Cand>,
    sx: f64,
    sy: f64,
    len: u64,
    vmin: f64,
    vmax: f64,
    tmin: i64,
    tmax: i64,
    /// Smallest proven vertical distance (value units) of any dropped point
    /// from the hull.
    min_band: f64,
    /// Keeps every point (no hull): see the module docs.
    keep_all: bool,
}

impl Hull {
    /// `keep_all` with room for `capacity` points, else hull chains.
    fn new(keep_all: bool, capacity: usize) -> Self {
        Hull {
            upper: if keep_all {
                Vec::with_capacity(capacity)
            } else {
                Vec::new()
            },
            lower: Vec::new(),
            sx: 0.0,
            sy: 0.0,
            len: 0,
            vmin: f64::INFINITY,
            vmax: f64::NEG_INFINITY,
            tmin: i64::MAX,
            tmax: i64::MIN,
            min_band: f64::INFINITY,
            keep_all,
        }
    }

    fn candidates(&self) -> usize {
        self.upper.len() + self.lower.len()
    }

    /// Adds a point to the mean sums (in index order, as the oracle adds).
    fn add_to_mean(&mut self, t: i64, v: f64) {
        self.sx += t as f64;
        self.sy += v;
        self.len += 1;
    }

    /// Adds a point to the hull chains.
    fn add_to_hull(&mut self, c: Cand, scale: f64) {
        if self.keep_all {
            self.upper.push(c);
            return;
        }
        self.vmin = self.vmin.min(c.v);
        self.vmax = self.vmax.max(c.v);
        self.tmin = self.tmin.min(c.t);
        self.tmax = self.tmax.max(c.t);
        push_chain(&mut self.upper, c, scale, 1.0, &mut self.min_band);
        push_chain(&mut self.lower, c, scale, -1.0, &mut self.min_band);
    }

    /// The oracle's choice among the candidates for previous point `a` and
    /// next mean `(cx, cy)`, and whether it is proven to be the oracle's
    /// choice among all of the bucket's points.
    fn select(&self, a: Point, cx: f64, cy: f64) -> Option<(Cand, bool)> {
        let (ax, ay) = (a.t as f64, a.v);
        let mut best: Option<Cand> = None;
        let mut max_area = -1f64;
        // Walk both chains in index order (each is index-sorted).
        let (mut i, mut j) = (0, 0);
        loop {
            let c = match (self.upper.get(i), self.lower.get(j)) {
                (Some(u), Some(l)) if u.idx == l.idx => {
                    i += 1;
                    j += 1;
                    *u
                }
                (Some(u), Some(l)) if u.idx < l.idx => {
                    i += 1;
                    *u
                }
                (_, Some(l)) => {
                    j += 1;
                    *l
                }
                (Some(u), None) => {
                    i += 1;
                    *u
                }
                (None, None) => break,
            };
            if best.is_none() {
                best = Some(c);
            }
            let area = triangle_area(ax, ay, cx, cy, c.t as f64, c.v);
            if area > max_area {
                max_area = area;
                best = Some(c);
            }
        }
        let best = best?;
        if self.min_band == f64::INFINITY {
            return Some((best, true));
        }
        // A dropped point q lies more than `min_band` (vertically) from both
        // hull chains, so some hull vertex h has |E(h)| ≥ |E(q)| + |D1|·band.
        // The oracle's computed area differs from |E| by at most
        // err ≤ 4u(|D1|·|py−ay| + |D2|·|ax−px|) per point; q cannot win
        // (not even tie) while |D1|·band > 2·err (plus an underflow margin).
        let d1 = (ax - cx).abs();
        let d2 = (cy - ay).abs();
        let ly = (self.vmax - ay).abs().max((self.vmin - ay).abs());
        let lx = (ax - self.tmin as f64)
            .abs()
            .max((ax - self.tmax as f64).abs());
        let err = 4.0 * UNIT_ROUNDOFF * (d1 * ly + d2 * lx);
        let proven =
            err.is_finite() && max_area.is_finite() && d1 * self.min_band > 2.0 * err + 1e-290;

        Some((best, proven))
    }
}

/// Points in a bucket of width `every`, at most (a saturating float-to-int conversion,
/// as in `bucket_start`).
fn bucket_capacity(every: f64) -> usize {
    (every.ceil() as usize).saturating_add(2)
}

/// Monotone-chain step with a tolerance band. `side` is 1 for the upper
/// chain (drop points below), −1 for the lower chain (drop points above).
fn push_chain(chain: &mut Vec<Cand>, q: Cand, scale: f64, side: f64, min_band: &mut f64) {
    while let [.., a, b] = chain.as_slice() {
        let (a, b) = (*a, *b);
        // Vertical distance of b from the segment a–q, positive when b is
        // strictly inside (below the upper / above the lower chain). Time
        // differences are exact: |t| < 2^53.
        let frac = (b.t - a.t) as f64 / (q.t - a.t) as f64;
        let line = a.v + (q.v - a.v) * frac;
        let inside = side * (line - b.v);
        let s = a.v.abs() + b.v.abs() + q.v.abs();
        let threshold = BAND_REL * scale.max(s) + f64::MIN_POSITIVE;
        // Error of `inside` as computed: well below 8u·s.
        let computation_error = 8.0 * UNIT_ROUNDOFF * s;
        if inside.is_finite() && inside > threshold {
            // b is at least this far inside the true hull (the segment a–q
            // lies inside it); record the closest dropped point.
            *min_band = min_band.min(inside - computation_error);
            chain.pop();
        } else {
            break;
        }
    }
    chain.push(q);
}

/// Exact streaming LTTB for a series whose point count `total` is known in
/// advance (e.g. counted by a first query): output identical to
/// [`crate::downsample`] with [`crate::Method::Lttb`] (and so to the `lttb`
/// crate) on the same points, whenever [`LttbStream::exactness_guaranteed`]
/// stays `true` (see the module docs).
///
/// Feed points in time order with [`LttbStream::push`]; non-finite values and
/// repeats of the previous timestamp are skipped and do not count. `total` is
/// the number of points that are NOT skipped (in SQL, with rows in time
/// order: `count(DISTINCT t) FILTER (WHERE isfinite(v))`, given that
/// duplicate timestamps arrive adjacent). Buckets are equal-count by position,
/// exactly as in batch LTTB.
#[derive(Debug, Clone)]
pub struct LttbStream {
    total: u64,
    n: usize,
    every: f64,
    accepted: u64,
    last: Option<Point>,
    abs_max: f64,
    /// `Some` while the input is passed through (`total <= n`).
    raw: Option<Vec<Point>>,
    out: Vec<Point>,
    prev: Option<Point>,
    seg: usize,
    seg_end: u64,
    cur: Hull,
    pending: Option<Hull>,
    /// Buckets keep every point (see [`LttbStream::with_memory`]).
    keep_all: bool,
    exact: bool,
    peak: usize,
    finished: bool,
}

impl LttbStream {
    /// Stream that selects `n` of `total` points. Errors with
    /// [`DownsampleError::InvalidParameter`] when `n < 3` ("points must be at
    /// least 3 for lttb").
    pub fn new(total: u64, n: usize) -> Result<Self> {
        Self::with_memory(total, n, 0)
    }

    /// As [`LttbStream::new`], keeping whole buckets instead of their hulls
    /// when two buckets of points fit in `bytes` (24 bytes a point): exact
    /// always ([`LttbStream::exactness_guaranteed`] stays `true`), and
    /// faster.
    pub fn with_memory(total: u64, n: usize, bytes: u64) -> Result<Self> {
        crate::Method::Lttb.check_points(n)?;
        let total_usize = usize::try_from(total).map_err(|_| {
            DownsampleError::InvalidParameter(format!(
                "total {total} does not fit in memory indices"
            ))
        })?;
        let passthrough = total <= n as u64;
        let every = bucket_every(total_usize, n);
        let bucket_points = bucket_capacity(every);
        let keep_all = (bucket_points as u64)
            .checked_mul(2 * std::mem::size_of::<Cand>() as u64)
            .is_some_and(|need| need <= bytes);
        Ok(LttbStream {
            total,
            n,
            every,
            accepted: 0,
            last: None,
            abs_max: 0.0,
            raw: passthrough.then(Vec::new),
            // Grows as buckets complete; no allocation sized by the arguments.
            out: Vec::new(),
            prev: None,
            seg: 0,
            seg_end: 0,
            cur: Hull::new(keep_all, bucket_points),
            pending: None,
            keep_all,
            exact: true,
            peak: 0,
            finished: false,
        })
    }

    /// End (exclusive index) of segment `s`: area bucket `s` for
    /// `s < n − 2`, the final mean range up to `total` for `s = n − 2`.
    fn segment_end(&self, s: usize) -> u64 {
        if s + 2 < self.n {
            (bucket_start(s + 1, self.every) as u64).min(self.total)
        } else {
            self.total
        }
    }

    /// Adds the next point. Errors with [`DownsampleError::InvalidInput`]
    /// when `t` is before the previous point's, with
    /// [`DownsampleError::InvalidParameter`] when more than `total` points
    /// arrive or after [`LttbStream::finish`], and with
    /// [`DownsampleError::Unsupported`] when `|t| >= 2^53`.
    pub fn push(&mut self, t: i64, v: f64) -> Result<()> {
        if self.finished {
            return Err(DownsampleError::InvalidParameter(
                "push after finish".into(),
            ));
        }
        if !v.is_finite() {
            return Ok(());
        }
        if let Some(last) = self.last {
            if t == last.t {
                return Ok(());
            }
            if t < last.t {
                return Err(DownsampleError::InvalidInput(format!(
                    "points must arrive in time order (got {t} after {})",
                    last.t
                )));
            }
        }
        if !(-MAX_EXACT_TIME..MAX_EXACT_TIME).contains(&t) {
            return Err(DownsampleError::Unsupported(format!(
                "streaming lttb needs |t| < 2^53 µs (got {t})"
            )));
        }
        if self.accepted >= self.total {
            return Err(DownsampleError::InvalidParameter(format!(
                "more points than the declared total of {}",
                self.total
            )));
        }
        let p = Point { t, v };
        let idx = self.accepted;
        self.accepted += 1;
        self.last = Some(p);
        self.abs_max = self.abs_max.max(v.abs());
        if let Some(raw) = &mut self.raw {
            raw.push(p);
            return Ok(());
        }
        if idx == 0 {
            self.out.push(p);
            self.prev = Some(p);
            self.seg = 0;
            self.seg_end = self.segment_end(0);
            return Ok(());
        }
        self.cur.add_to_mean(t, v);
        if self.seg + 2 < self.n {
            self.cur.add_to_hull(Cand { idx, t, v }, self.abs_max);
        }
        // Whole buckets only grow: their peak is taken when the segment completes.
        if !self.keep_all {
            self.note_peak();
        }
        if idx + 1 >= self.seg_end {
            self.complete_segment();
        }
        Ok(())
    }

    fn note_peak(&mut self) {
        let live = self.cur.candidates() + self.pending.as_ref().map_or(0, Hull::candidates);
        self.peak = self.peak.max(live);
    }

    fn complete_segment(&mut self) {
        self.note_peak();
        let next = Hull::new(self.keep_all, bucket_capacity(self.every));
        let done = std::mem::replace(&mut self.cur, next);
        let count = done.len as f64;
        let (cx, cy) = (done.sx / count, done.sy / count);
        if let (Some(pending), Some(a)) = (self.pending.take(), self.prev) {
            if let Some((chosen, proven)) = pending.select(a, cx, cy) {
                let p = Point {
                    t: chosen.t,
                    v: chosen.v,
                };
                self.out.push(p);
                self.prev = Some(p);
                self.exact &= proven;
            }
        }
        if self.seg + 2 < self.n {
            self.pending = Some(done);
        }
        self.seg += 1;
        self.seg_end = self.segment_end(self.seg);
    }

    /// The selected points (exactly `n`, or all `total` points when
    /// `total <= n`). Errors with [`DownsampleError::InvalidParameter`] when
    /// fewer than `total` points were pushed or when called twice.
    pub fn finish(&mut self) -> Result<Vec<Point>> {
        if self.finished {
            return Err(DownsampleError::InvalidParameter(
                "finish called twice".into(),
            ));
        }
        if self.accepted != self.total {
            return Err(DownsampleError::InvalidParameter(format!(
                "declared {} points but {} were pushed (after skipping non-finite values and repeated timestamps)",
                self.total, self.accepted
            )));
        }
        self.finished = true;
        if let Some(raw) = self.raw.take() {
            return Ok(raw);
        }
        let mut out = std::mem::take(&mut self.out);
        out.extend(self.last);
        Ok(out)
    }

    /// `false` if some bucket's choice could not be proven equal to batch
    /// LTTB's (see the module docs); `true` in all tested data.
    pub fn exactness_guaranteed(&self) -> bool {
        self.exact
    }

    /// Points accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Largest number of hull candidates held at once (memory high-water
    /// mark, 24 bytes each).
    pub fn peak_candidates(&self) -> usize {
        self.peak
    }
}
