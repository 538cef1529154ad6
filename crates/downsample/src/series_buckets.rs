//! The state of a multi-series range aggregate: one [`MethodBuckets`] per series (integer
//! keys through the aggregate, any key through the partitions of a parallel window) over one window, so that every series of a table is downsampled by one aggregate without GROUP BY
//! (a plain Agg: no hash table per row) whose partial states, one per parallel worker,
//! merge exactly.

use key_groups::{GroupKey, KeyGroups};

use crate::aggregate_states::MethodBuckets;
use crate::error::{DownsampleError, Result};
use crate::series::{Method, Point};
use crate::wire::{check_version, invalid, put_i64, put_varint, Reader};

/// Format version of [`SeriesBuckets`] bytes.
pub const SERIES_BUCKETS_FORMAT_VERSION: u8 = 1;

/// Per-series buckets over one window, with the same point count and method.
#[derive(Clone, Debug)]
pub struct SeriesBuckets {
    from: i64,
    to: i64,
    points: usize,
    method: Method,
    series: KeyGroups<MethodBuckets>,
}

impl SeriesBuckets {
    /// No series yet; errors as [`MethodBuckets::new`] does for the window and point count.
    pub fn new(from: i64, to: i64, points: usize, method: Method) -> Result<Self> {
        MethodBuckets::new(from, to, points, method)?;
        Ok(SeriesBuckets {
            from,
            to,
            points,
            method,
            series: KeyGroups::new(),
        })
    }

    /// `(from, to, points, method)`.
    pub fn window(&self) -> (i64, i64, usize, Method) {
        (self.from, self.to, self.points, self.method)
    }

    /// Number of series so far.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// A row of a series (`None`: NULL).
    pub fn push(&mut self, key: Option<i64>, t: i64, v: f64) -> Result<()> {
        let (from, to, points, method) = self.window();
        let buckets = self
            .series
            .of_int(key, |_| MethodBuckets::new(from, to, points, method))?;
        buckets.buckets.push(t, v);
        Ok(())
    }

    /// Adds a series' buckets, made by the caller over the same window (merged into the
    /// series' own when it has some already).
    pub fn add_series(&mut self, key: &GroupKey, buckets: MethodBuckets) -> Result<()> {
        let b = &buckets.buckets;
        if (buckets.method, b.from(), b.to(), b.points())
            != (self.method, self.from, self.to, self.points)
        {
            return Err(invalid("a series' buckets do not match the window"));
        }
        let mut incoming = Some(buckets);
        let mine = self.series.of_key(key, |_| {
            incoming
                .take()
                .ok_or_else(|| invalid("a series added twice at once"))
        })?;
        match incoming {
            Some(buckets) => mine.merge(&buckets),
            None => Ok(()),
        }
    }

    /// Merges a state of the same window, point count and method, series by series.
    pub fn merge(&mut self, other: &SeriesBuckets) -> Result<()> {
        if self.window() != other.window() {
            return Err(DownsampleError::InvalidParameter(
                "method, \"from\", \"to\" and points must be the same for every row".into(),
            ));
        }
        let (from, to, points, method) = self.window();
        for (key, buckets) in other.series.iter() {
            self.series
                .of_key(key, |_| MethodBuckets::new(from, to, points, method))?
                .merge(buckets)?;
        }
        Ok(())
    }

    /// Each series' points, series in key order.
    pub fn finish(&self) -> Result<Vec<(GroupKey, Vec<Point>)>> {
        let mut out = self
            .series
            .iter()
            .map(|(key, b)| Ok((key.clone(), b.buckets.finish(b.method)?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// `u8` version, `u8` method, `i64` from, `i64` to, varint points, varint series count,
    /// then per series: the key ([`GroupKey::write`]: `u8` kind 0 and `i64` for an integer,
    /// 1 for NULL), varint length and [`MethodBuckets`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![
            SERIES_BUCKETS_FORMAT_VERSION,
            crate::aggregate_states::method_index(self.method),
        ];
        put_i64(&mut out, self.from);
        put_i64(&mut out, self.to);
        put_varint(&mut out, self.points as u64);
        put_varint(&mut out, self.series.len() as u64);
        for (key, buckets) in self.series.iter() {
            key.write(&mut out);
            let bytes = buckets.to_bytes();
            put_varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Reads [`SeriesBuckets::to_bytes`], checking every series' buckets against the window.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        check_version(r.u8("version")?, SERIES_BUCKETS_FORMAT_VERSION, "version")?;
        let method = crate::aggregate_states::method_at(r.u8("method")?)?;
        let from = r.i64("from")?;
        let to = r.i64("to")?;
        let points = usize::try_from(r.varint("points")?).map_err(|_| invalid("points"))?;
        let mut state = SeriesBuckets::new(from, to, points, method)?;
        let count = r.varint("series count")?;
        for _ in 0..count {
            let (key, n) = GroupKey::read(r.peek()).ok_or_else(|| invalid("series key"))?;
            r.bytes(n, "series key")?;
            let len = usize::try_from(r.varint("buckets length")?)
                .map_err(|_| invalid("buckets length"))?;
            let buckets = MethodBuckets::from_bytes(r.bytes(len, "buckets")?)?;
            let b = &buckets.buckets;
            if buckets.method != method || b.from() != from || b.to() != to || b.points() != points
            {
                return Err(invalid("a series' buckets do not match the window"));
            }
            if state.series.insert_new(key, buckets).is_err() {
                return Err(invalid("a series appears twice"));
            }
        }
        r.finish("series buckets")?;
        Ok(state)
    }
}
