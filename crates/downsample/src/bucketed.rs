//! Equal-time bucketing: the streaming time-range downsampler, the mergeable
//! `BucketedState` for SQL aggregates, and `merge_summaries` for zooming out
//! of stored per-interval `M4Summary`s.

use std::collections::BTreeMap;

use crate::bins::TimeBins;
use crate::error::{DownsampleError, Result};
use crate::lttb::lttb_points;
use crate::series::{check_ratio, keep_strictly_increasing, DownsampleOptions, Method, Point};
use crate::summary::{cmp_time_value, M4Summary};
use crate::wire::{check_version, invalid, put_f64, put_i64, put_u8, put_varint, Reader};

/// Largest number of equal-time buckets any structure here allocates
/// (bounds memory: a bucket costs about 100 bytes while it holds data).
pub const MAX_BUCKETS: u64 = 1 << 22;

/// Serialization format version of [`BucketedState::to_bytes`].
pub const BUCKETED_STATE_FORMAT_VERSION: u8 = 1;

/// Number of equal-time output bins (or candidate bins for the LTTB methods)
/// `method` uses for `points` output points:
/// `m4`: ⌊points/4⌋ (four points each); `minmax`: ⌊(points−2)/2⌋ (two each,
/// plus first and last); `avg`: points; `uniform`: points−1 (plus last);
/// `minmax_lttb`: ⌊points·ratio/2⌋ (min and max each, plus first and last,
/// then LTTB); `lttb`: max(1, ⌊points·ratio/4⌋) (M4 of each, then LTTB).
pub fn bins_for(method: Method, points: usize, ratio: usize) -> Result<u64> {
    method.check_points(points)?;
    check_ratio(ratio)?;
    let p = points as u64;
    let r = ratio as u64;
    let bins = match method {
        Method::M4 => p / 4,
        Method::MinMax => (p - 2) / 2,
        Method::Avg => p,
        Method::Uniform => p - 1,
        Method::MinMaxLttb => p.saturating_mul(r) / 2,
        Method::Lttb => (p.saturating_mul(r) / 4).max(1),
    };
    if bins > MAX_BUCKETS {
        return Err(DownsampleError::InvalidParameter(format!(
            "{method} with {points} points (ratio {ratio}) needs {bins} time buckets, more than the limit of {MAX_BUCKETS}"
        )));
    }
    Ok(bins.max(1))
}

/// Pushes the points of one bin in time order (stable for equal times).
fn push_in_time_order<const K: usize>(out: &mut Vec<Point>, mut pts: [Point; K]) {
    pts.sort_by_key(|p| p.t);
    out.extend_from_slice(&pts);
}

/// Output points of `method` from its per-bin summaries (`groups` sorted by
/// bin index of `bins`).
pub(crate) fn emit(
    method: Method,
    points: usize,
    bins: &TimeBins,
    groups: &[(u64, M4Summary)],
) -> Vec<Point> {
    let first = groups.first().map(|(_, s)| s.first);
    let last = groups.last().map(|(_, s)| s.last);
    let mut out = Vec::with_capacity(groups.len().saturating_mul(4).min(1 << 24));
    match method {
        Method::M4 | Method::Lttb => {
            for (_, s) in groups {
                push_in_time_order(&mut out, [s.first, s.min, s.max, s.last]);
            }
        }
        Method::MinMax | Method::MinMaxLttb => {
            out.extend(first);
            for (_, s) in groups {
                push_in_time_order(&mut out, [s.min, s.max]);
            }
            out.extend(last);
        }
        Method::Uniform => {
            out.extend(groups.iter().map(|(_, s)| s.first));
            out.extend(last);
        }
        Method::Avg => {
            out.extend(groups.iter().map(|&(g, s)| Point {
                t: bins.start(g),
                v: s.mean(),
            }));
        }
    }
    keep_strictly_increasing(&mut out);
    if matches!(method, Method::Lttb | Method::MinMaxLttb) {
        out = lttb_points(&out, points);
    }
    out
}

/// Downsamples stored per-interval summaries (e.g. the 1-minute M4
/// summaries of a continuous aggregate) to at most `points` points over
/// `[from, to)`.
///
/// Each `(bucket_start, summary)` is assigned, by its `bucket_start` (µs),
/// to one of [`bins_for`]`(method, points, ratio)` equal-time bins over
/// `[from, to)`; summaries starting outside the range are ignored, and the
/// summaries of a bin are merged. Output per method: `m4` the bin's first,
/// min, max and last; `minmax` its min and max plus the overall first and
/// last; `avg` the bin's mean at the bin's start time; `uniform` its first
/// plus the overall last; `minmax_lttb` and `lttb` run LTTB (exact `lttb`
/// crate arithmetic) over those min/max (resp. M4) candidates — an
/// approximate MinMaxLTTB over time buckets. Points sharing a timestamp are
/// emitted once, so timestamps are strictly increasing. Input summaries are
/// trusted (decode them with [`M4Summary::from_bytes`], which validates) and
/// are expected to cover disjoint time intervals; output is at most `points`
/// long.
pub fn merge_summaries<I>(
    summaries: I,
    from: i64,
    to: i64,
    points: usize,
    method: Method,
    options: &DownsampleOptions,
) -> Result<Vec<Point>>
where
    I: IntoIterator<Item = (i64, M4Summary)>,
{
    options.check()?;
    let bins = TimeBins::new(from, to, bins_for(method, points, options.ratio)?)?;
    let mut merged: BTreeMap<u64, M4Summary> = BTreeMap::new();
    for (start, s) in summaries {
        if let Some(j) = bins.index(start) {
            merged.entry(j).and_modify(|m| m.merge(&s)).or_insert(s);
        }
    }
    let groups: Vec<(u64, M4Summary)> = merged.into_iter().collect();
    Ok(emit(method, points, &bins, &groups))
}

/// The bucket currently receiving in-order pushes, kept out of the map so
/// that a time-ordered scan costs no map lookup and no division per point.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hot {
    index: u32,
    lo: i64,
    hi: i64,
    summary: M4Summary,
}

/// Mergeable state of a time-bucketed downsampling aggregate: `buckets`
/// equal-time buckets over `[from, to)`, each an [`M4Summary`] of the points
/// that fell into it (only buckets with data are stored).
///
/// - [`BucketedState::new`] makes `⌊points·ratio/2⌋` buckets, enough for any
///   method; [`BucketedState::finish`]`(method)` then merges them into the
///   method's [`bins_for`] bins by bucket start time (so a bin edge may be
///   off by up to one bucket width, `(to − from)/buckets`).
/// - [`BucketedState::for_method`] makes exactly the method's bins, so that
///   `finish` of that method uses exact equal-time bins; this is what the
///   streaming [`TimeRangeDownsampler`] and the batch `m4`, `minmax`, `avg`
///   and `minmax_lttb` use, so they agree with it point for point.
///
/// Points: non-finite values and points outside `[from, to)` are skipped; a
/// point with the same timestamp as the previously accepted one is skipped
/// (first value wins, as in batch). Duplicates that do not arrive
/// consecutively (unordered input, or split across merged states) are kept
/// as distinct points and resolved by the [`M4Summary`] tie rules.
///
/// While at most `points` points were accepted the state also keeps them
/// verbatim, and `finish` returns them (time-sorted, one per timestamp):
/// downsampling to at least as many points as there are returns the input.
///
/// Memory: O(non-empty buckets + points), at most about
/// `100 · min(buckets, accepted) + 16 · points` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketedState {
    from: i64,
    to: i64,
    points: usize,
    ratio: usize,
    bins: TimeBins,
    buckets: BTreeMap<u32, M4Summary>,
    hot: Option<Hot>,
    raw: Option<Vec<Point>>,
    accepted: u64,
    last_t: Option<i64>,
}

fn check_bucket_points(points: usize) -> Result<()> {
    if points == 0 || points as u64 > MAX_BUCKETS {
        return Err(DownsampleError::InvalidParameter(format!(
            "points must be between 1 and {MAX_BUCKETS} (got {points})"
        )));
    }
    Ok(())
}

impl BucketedState {
    /// State with `⌊points·ratio/2⌋` buckets over `[from, to)` (µs).
    /// Errors with [`DownsampleError::InvalidParameter`] when `from >= to`,
    /// `points` is 0 or above [`MAX_BUCKETS`], `ratio` is outside
    /// `2..=`[`crate::MAX_RATIO`], or the bucket count exceeds
    /// [`MAX_BUCKETS`].
    pub fn new(from: i64, to: i64, points: usize, ratio: usize) -> Result<Self> {
        check_bucket_points(points)?;
        check_ratio(ratio)?;
        let buckets = (points as u64).saturating_mul(ratio as u64) / 2;
        if buckets > MAX_BUCKETS {
            return Err(DownsampleError::InvalidParameter(format!(
                "points × ratio / 2 = {buckets} exceeds the limit of {MAX_BUCKETS} buckets"
            )));
        }
        Self::with_buckets(from, to, points, ratio, buckets.max(1))
    }

    /// State whose buckets are exactly `method`'s [`bins_for`] bins (see the
    /// type docs); also checks `points` against [`Method::min_points`].
    pub fn for_method(
        from: i64,
        to: i64,
        points: usize,
        method: Method,
        ratio: usize,
    ) -> Result<Self> {
        check_bucket_points(points)?;
        let buckets = bins_for(method, points, ratio)?;
        Self::with_buckets(from, to, points, ratio, buckets)
    }

    fn with_buckets(from: i64, to: i64, points: usize, ratio: usize, buckets: u64) -> Result<Self> {
        Ok(BucketedState {
            from,
            to,
            points,
            ratio,
            bins: TimeBins::new(from, to, buckets)?,
            buckets: BTreeMap::new(),
            hot: None,
            raw: Some(Vec::new()),
            accepted: 0,
            last_t: None,
        })
    }

    /// Range start (µs, inclusive).
    pub fn from(&self) -> i64 {
        self.from
    }

    /// Range end (µs, exclusive).
    pub fn to(&self) -> i64 {
        self.to
    }

    /// Requested output points.
    pub fn points(&self) -> usize {
        self.points
    }

    /// MinMaxLTTB ratio.
    pub fn ratio(&self) -> usize {
        self.ratio
    }

    /// Number of equal-time buckets.
    pub fn bucket_count(&self) -> u64 {
        self.bins.count()
    }

    /// Number of points accepted so far (after skipping).
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Adds the sample `(t, v)` (see the type docs for what is skipped).
    pub fn push(&mut self, t: i64, v: f64) {
        if !v.is_finite() || self.last_t == Some(t) {
            return;
        }
        if let Some(hot) = &mut self.hot {
            if hot.lo <= t && t < hot.hi {
                hot.summary.add_point(Point { t, v });
                self.accepted_point(t, v);
                return;
            }
        }
        let Some(summary) = M4Summary::new(t, v) else {
            return;
        };
        let Some(j) = self.bins.index(t).and_then(|j| u32::try_from(j).ok()) else {
            return;
        };
        if let Some(old) = self.hot.take() {
            self.buckets.insert(old.index, old.summary);
        }
        let summary = match self.buckets.remove(&j) {
            Some(mut s) => {
                s.merge(&summary);
                s
            }
            None => summary,
        };
        self.hot = Some(Hot {
            index: j,
            lo: self.bins.start(u64::from(j)),
            hi: self.bins.start(u64::from(j) + 1),
            summary,
        });
        self.accepted_point(t, v);
    }

    fn accepted_point(&mut self, t: i64, v: f64) {
        self.last_t = Some(t);
        self.accepted = self.accepted.saturating_add(1);
        if let Some(raw) = &mut self.raw {
            if raw.len() < self.points {
                raw.push(Point { t, v });
            } else {
                self.raw = None;
            }
        }
    }

    /// Non-empty buckets as `(index, summary)`, by index.
    pub fn buckets(&self) -> Vec<(u32, M4Summary)> {
        let mut out: Vec<(u32, M4Summary)> = self.buckets.iter().map(|(&j, &s)| (j, s)).collect();
        if let Some(hot) = &self.hot {
            let at = out.partition_point(|(j, _)| *j < hot.index);
            out.insert(at, (hot.index, hot.summary));
        }
        out
    }

    /// Start time (µs) of bucket `index`.
    pub fn bucket_start(&self, index: u32) -> i64 {
        self.bins.start(u64::from(index))
    }

    fn same_layout(&self, other: &BucketedState) -> bool {
        self.from == other.from
            && self.to == other.to
            && self.points == other.points
            && self.ratio == other.ratio
            && self.bins == other.bins
    }

    /// Merges `other` (a state of the same range, points, ratio and bucket
    /// count; else [`DownsampleError::InvalidParameter`]) into `self`.
    /// Commutative and associative (up to float rounding of the bucket sums).
    pub fn merge(&mut self, other: &BucketedState) -> Result<()> {
        if !self.same_layout(other) {
            return Err(DownsampleError::InvalidParameter(
                "cannot merge downsampling states with different ranges, points, ratios or bucket counts".into(),
            ));
        }
        if let Some(old) = self.hot.take() {
            self.buckets.insert(old.index, old.summary);
        }
        for (j, s) in other.buckets() {
            self.buckets
                .entry(j)
                .and_modify(|m| m.merge(&s))
                .or_insert(s);
        }
        self.accepted = self.accepted.saturating_add(other.accepted);
        self.raw = match (self.raw.take(), &other.raw) {
            (Some(mut a), Some(b)) if a.len() + b.len() <= self.points => {
                a.extend_from_slice(b);
                // Order-independent canonical form, so merging commutes.
                a.sort_by(cmp_time_value);
                Some(a)
            }
            _ => None,
        };
        // Consecutive-duplicate detection only spans one ordered stream.
        self.last_t = None;
        Ok(())
    }

    /// The downsampled points for `method` (at most `points`; see
    /// [`merge_summaries`] for what each method emits). Errors with
    /// [`DownsampleError::InvalidParameter`] when `points` is below the
    /// method's minimum or the method needs more than [`MAX_BUCKETS`] bins.
    pub fn finish(&self, method: Method) -> Result<Vec<Point>> {
        method.check_points(self.points)?;
        if let Some(raw) = &self.raw {
            let mut pts = raw.clone();
            pts.sort_by_key(|p| p.t);
            keep_strictly_increasing(&mut pts);
            return Ok(pts);
        }
        let bins = self.bins;
        if bins
            == TimeBins::new(
                self.from,
                self.to,
                bins_for(method, self.points, self.ratio)?,
            )?
        {
            // Built for this method (`for_method`): the buckets are the method's bins, so
            // they are emitted as they are instead of being copied and re-binned.
            let mut groups: Vec<(u64, M4Summary)> = Vec::with_capacity(self.buckets.len() + 1);
            groups.extend(self.buckets.iter().map(|(&j, &s)| (u64::from(j), s)));
            if let Some(hot) = &self.hot {
                let at = groups.partition_point(|(j, _)| *j < u64::from(hot.index));
                groups.insert(at, (u64::from(hot.index), hot.summary));
            }
            return Ok(emit(method, self.points, &bins, &groups));
        }
        merge_summaries(
            self.buckets()
                .into_iter()
                .map(|(j, s)| (bins.start(u64::from(j)), s)),
            self.from,
            self.to,
            self.points,
            method,
            &DownsampleOptions {
                ratio: self.ratio,
                parallel: false,
            },
        )
    }

    /// Serializes the state; see [`BucketedState::from_bytes`] for the format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let buckets = self.buckets();
        let mut out = Vec::with_capacity(64 + buckets.len() * 48);
        put_u8(&mut out, BUCKETED_STATE_FORMAT_VERSION);
        put_i64(&mut out, self.from);
        put_i64(&mut out, self.to);
        put_varint(&mut out, self.points as u64);
        put_varint(&mut out, self.ratio as u64);
        put_varint(&mut out, self.bins.count());
        put_varint(&mut out, self.accepted);
        let flags = u8::from(self.raw.is_some()) | u8::from(self.last_t.is_some()) << 1;
        put_u8(&mut out, flags);
        if let Some(t) = self.last_t {
            put_i64(&mut out, t);
        }
        if let Some(raw) = &self.raw {
            put_varint(&mut out, raw.len() as u64);
            for p in raw {
                put_i64(&mut out, p.t);
                put_f64(&mut out, p.v);
            }
        }
        put_varint(&mut out, buckets.len() as u64);
        let mut next = 0u64;
        for (j, s) in &buckets {
            put_varint(&mut out, u64::from(*j) - next);
            next = u64::from(*j) + 1;
            s.write_body(&mut out);
        }
        out
    }

    /// Decodes and validates bytes written by [`BucketedState::to_bytes`].
    ///
    /// Format, little-endian (version 1):
    /// ```text
    /// u8      version = 1
    /// i64     from, i64 to                      (from < to)
    /// varint  points, varint ratio, varint bucket count
    ///         (points in 1..=MAX_BUCKETS, ratio in 2..=MAX_RATIO,
    ///          count = ⌊points·ratio/2⌋ or a method's bins_for count)
    /// varint  accepted point count
    /// u8      flags: bit0 raw points present, bit1 last timestamp present
    /// [i64    last accepted timestamp]          if bit1
    /// [varint k (<= points, == accepted), k × (i64 t, f64 v)]  if bit0
    /// varint  number of non-empty buckets (<= bucket count)
    /// per bucket, by increasing index:
    ///   varint index gap (index − previous index − 1; first: index)
    ///   M4 summary body (M4Summary::from_bytes format without the version
    ///   byte); its points must lie in the bucket's time range
    /// ```
    /// Errors with [`DownsampleError::InvalidInput`] on anything else;
    /// never panics and never allocates more than the input size allows.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        check_version(
            r.u8("state version")?,
            BUCKETED_STATE_FORMAT_VERSION,
            "downsampling state format version",
        )?;
        let mut state = Self::read_layout(&mut r)?;
        state.read_flagged(&mut r)?;
        let total = state.read_buckets(&mut r)?;
        r.finish("downsampling state")?;
        if total != state.accepted {
            return Err(invalid("bucket counts do not add up to the accepted count"));
        }
        Ok(state)
    }

    /// The range, points, ratio and bucket count (checked to be a layout
    /// [`Self::new`] or [`Self::for_method`] makes), and the accepted count:
    /// an empty state of that layout.
    fn read_layout(r: &mut Reader<'_>) -> Result<Self> {
        let from = r.i64("from")?;
        let to = r.i64("to")?;
        let points = usize::try_from(r.varint("points")?).map_err(|_| invalid("points"))?;
        let ratio = usize::try_from(r.varint("ratio")?).map_err(|_| invalid("ratio"))?;
        let count = r.varint("bucket count")?;
        let accepted = r.varint("accepted count")?;
        let layout_ok = from < to
            && check_bucket_points(points).is_ok()
            && check_ratio(ratio).is_ok()
            && (1..=MAX_BUCKETS).contains(&count)
            && (count == ((points as u64) * (ratio as u64) / 2).max(1)
                || Method::ALL
                    .iter()
                    .any(|&m| bins_for(m, points, ratio).ok() == Some(count)));
        if !layout_ok {
            return Err(invalid("bad range, points, ratio or bucket count"));
        }
        let mut state = Self::with_buckets(from, to, points, ratio, count)
            .map_err(|_| invalid("bad range or bucket count"))?;
        state.accepted = accepted;
        Ok(state)
    }

    /// The flags and what they announce: the last accepted timestamp and the
    /// verbatim points (at most `points`, as many as were accepted, each
    /// finite and in range).
    fn read_flagged(&mut self, r: &mut Reader<'_>) -> Result<()> {
        let flags = r.u8("state flags")?;
        if flags & !0b11 != 0 {
            return Err(invalid(&format!("bad state flags {flags:#04x}")));
        }
        self.last_t = if flags & 0b10 != 0 {
            Some(r.i64("last timestamp")?)
        } else {
            None
        };
        self.raw = if flags & 1 != 0 {
            let k = r.varint("raw point count")?;
            if k > self.points as u64 || k != self.accepted || k > (r.remaining() / 16) as u64 {
                return Err(invalid("bad raw point count"));
            }
            let mut raw = Vec::with_capacity(k as usize);
            for _ in 0..k {
                let t = r.i64("raw time")?;
                let v = r.f64("raw value")?;
                if !v.is_finite() || self.bins.index(t).is_none() {
                    return Err(invalid("raw point out of range or not finite"));
                }
                raw.push(Point { t, v });
            }
            Some(raw)
        } else {
            None
        };
        Ok(())
    }

    /// The non-empty buckets (gap-coded indices, each summary inside its
    /// bucket) into the state; returns the sum of their counts.
    fn read_buckets(&mut self, r: &mut Reader<'_>) -> Result<u64> {
        let count = self.bins.count();
        let n = r.varint("bucket count")?;
        if n > count {
            return Err(invalid("more buckets than the layout has"));
        }
        let mut next = 0u64;
        let mut total = 0u64;
        for _ in 0..n {
            let gap = r.varint("bucket index")?;
            let j = next
                .checked_add(gap)
                .filter(|&j| j < count)
                .ok_or_else(|| invalid("bucket index out of range"))?;
            next = j + 1;
            let s = M4Summary::read_body(r)?;
            let (lo, hi) = (self.bins.start(j), self.bins.start(j + 1));
            if s.first.t < lo || s.last.t >= hi {
                return Err(invalid("bucket summary outside its bucket"));
            }
            total = total.saturating_add(s.count);
            let j = u32::try_from(j).map_err(|_| invalid("bucket index"))?;
            self.buckets.insert(j, s);
        }
        Ok(total)
    }
}

/// Streaming downsampler over a known time range `[from, to)`, for a SQL
/// function fed rows in time order by one range scan: [`push`] one sample at
/// a time, then [`finish`]. Uses equal-TIME bins over the range (unlike the
/// batch `lttb`, whose buckets are equal-count): `minmax_lttb` keeps min and
/// max of each of `⌊points·ratio/2⌋` bins plus the first and last point and
/// runs LTTB over those candidates at the end; `m4`, `minmax`, `avg`,
/// `uniform` and `lttb` use their [`bins_for`] bins (for `lttb` that makes it
/// the approximate M4-candidate LTTB of [`merge_summaries`]; use
/// [`crate::LttbStream`] for exact streaming LTTB).
///
/// Memory: O(bins + points) — independent of the number of rows. Equivalent
/// to [`BucketedState::for_method`] + `finish`, and to the batch
/// [`crate::downsample`] of the same points with `[from, to)` =
/// `[first t, last t + 1)` for `m4`, `minmax`, `avg` and `minmax_lttb`.
///
/// [`push`]: TimeRangeDownsampler::push
/// [`finish`]: TimeRangeDownsampler::finish
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRangeDownsampler {
    state: BucketedState,
    method: Method,
}

impl TimeRangeDownsampler {
    /// Downsampler to at most `points` points of `method` over `[from, to)`
    /// (µs). Errors as [`BucketedState::for_method`].
    pub fn new(
        from: i64,
        to: i64,
        points: usize,
        method: Method,
        options: &DownsampleOptions,
    ) -> Result<Self> {
        options.check()?;
        Ok(TimeRangeDownsampler {
            state: BucketedState::for_method(from, to, points, method, options.ratio)?,
            method,
        })
    }

    /// Adds one sample; non-finite values, points outside the range and
    /// repeats of the previous timestamp are skipped.
    pub fn push(&mut self, t: i64, v: f64) {
        self.state.push(t, v);
    }

    /// The downsampled points, time-ordered with strictly increasing
    /// timestamps.
    pub fn finish(&self) -> Result<Vec<Point>> {
        self.state.finish(self.method)
    }

    /// The underlying mergeable state.
    pub fn state(&self) -> &BucketedState {
        &self.state
    }

    /// The underlying mergeable state, and the method it was made for.
    pub fn into_state(self) -> (BucketedState, Method) {
        (self.state, self.method)
    }
}
