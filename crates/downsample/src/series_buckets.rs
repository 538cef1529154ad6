//! The state of a multi-series range aggregate: one [`MethodBuckets`] per integer series
//! over one window, so that every series of a table is downsampled by one aggregate without GROUP BY
//! (a plain Agg: no hash table per row) whose partial states, one per parallel worker,
//! merge exactly.

use std::collections::HashMap;

use crate::aggregate_states::MethodBuckets;
use crate::error::{DownsampleError, Result};
use crate::series::{Method, Point};
use crate::wire::{invalid, put_i64, put_u8, put_varint, Reader};

/// Format version of [`SeriesBuckets`] bytes.
pub const SERIES_BUCKETS_FORMAT_VERSION: u8 = 1;

/// A series: integers by value, NULL last (the order results come in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesKey {
    Int(i64),
    Null,
}

/// Per-series buckets over one window, with the same point count and method.
#[derive(Clone, Debug)]
pub struct SeriesBuckets {
    from: i64,
    to: i64,
    points: usize,
    method: Method,
    series: Vec<(SeriesKey, MethodBuckets)>,
    by_int: HashMap<i64, usize>,
    null: Option<usize>,
    /// The series of the previous row (rows of one series often come together).
    last_int: Option<(i64, usize)>,
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
            series: Vec::new(),
            by_int: HashMap::new(),
            null: None,
            last_int: None,
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

    fn add(&mut self, key: SeriesKey) -> Result<usize> {
        let buckets = MethodBuckets::new(self.from, self.to, self.points, self.method)?;
        let i = self.series.len();
        match key {
            SeriesKey::Int(k) => {
                self.by_int.insert(k, i);
            }
            SeriesKey::Null => self.null = Some(i),
        }
        self.series.push((key, buckets));
        Ok(i)
    }

    fn index_of(&mut self, key: SeriesKey) -> Result<usize> {
        let found = match key {
            SeriesKey::Int(k) => self.by_int.get(&k).copied(),
            SeriesKey::Null => self.null,
        };
        match found {
            Some(i) => Ok(i),
            None => self.add(key),
        }
    }

    /// A row of a series (`None`: NULL).
    pub fn push(&mut self, key: Option<i64>, t: i64, v: f64) -> Result<()> {
        let i = match (key, self.last_int) {
            (Some(k), Some((last, i))) if last == k => i,
            (Some(k), _) => {
                let i = match self.by_int.get(&k) {
                    Some(&i) => i,
                    None => self.add(SeriesKey::Int(k))?,
                };
                self.last_int = Some((k, i));
                i
            }
            (None, _) => self.index_of(SeriesKey::Null)?,
        };
        if let Some((_, buckets)) = self.series.get_mut(i) {
            buckets.buckets.push(t, v);
        }
        Ok(())
    }

    /// Merges a state of the same window, point count and method, series by series.
    pub fn merge(&mut self, other: &SeriesBuckets) -> Result<()> {
        if self.window() != other.window() {
            return Err(DownsampleError::InvalidParameter(
                "method, \"from\", \"to\" and points must be the same for every row".into(),
            ));
        }
        for (key, buckets) in &other.series {
            let i = self.index_of(*key)?;
            if let Some((_, mine)) = self.series.get_mut(i) {
                mine.merge(buckets)?;
            }
        }
        Ok(())
    }

    /// Each series' points, series in key order.
    pub fn finish(&self) -> Result<Vec<(SeriesKey, Vec<Point>)>> {
        let mut out = self
            .series
            .iter()
            .map(|(key, b)| Ok((*key, b.buckets.finish(b.method)?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|(key, _)| *key);
        Ok(out)
    }

    /// `u8` version, `u8` method, `i64` from, `i64` to, varint points, varint series count,
    /// then per series: `u8` key kind (0 integer, 1 NULL), the key (`i64`, for an integer),
    /// varint length and [`MethodBuckets`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![
            SERIES_BUCKETS_FORMAT_VERSION,
            crate::aggregate_states::method_index(self.method),
        ];
        put_i64(&mut out, self.from);
        put_i64(&mut out, self.to);
        put_varint(&mut out, self.points as u64);
        put_varint(&mut out, self.series.len() as u64);
        for (key, buckets) in &self.series {
            match key {
                SeriesKey::Int(k) => {
                    put_u8(&mut out, 0);
                    put_i64(&mut out, *k);
                }
                SeriesKey::Null => put_u8(&mut out, 1),
            }
            let bytes = buckets.to_bytes();
            put_varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Reads [`SeriesBuckets::to_bytes`], checking every series' buckets against the window.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != SERIES_BUCKETS_FORMAT_VERSION {
            return Err(invalid(&format!("unsupported version {version}")));
        }
        let method = crate::aggregate_states::method_at(r.u8("method")?)?;
        let from = r.i64("from")?;
        let to = r.i64("to")?;
        let points = usize::try_from(r.varint("points")?).map_err(|_| invalid("points"))?;
        let mut state = SeriesBuckets::new(from, to, points, method)?;
        let count = r.varint("series count")?;
        for _ in 0..count {
            let key = match r.u8("key kind")? {
                0 => SeriesKey::Int(r.i64("key")?),
                1 => SeriesKey::Null,
                _ => return Err(invalid("unknown key kind")),
            };
            let len = usize::try_from(r.varint("buckets length")?)
                .map_err(|_| invalid("buckets length"))?;
            let buckets = MethodBuckets::from_bytes(r.bytes(len, "buckets")?)?;
            let b = &buckets.buckets;
            if buckets.method != method || b.from() != from || b.to() != to || b.points() != points
            {
                return Err(invalid("a series' buckets do not match the window"));
            }
            let i = state.index_of(key)?;
            if i + 1 != state.series.len() {
                return Err(invalid("a series appears twice"));
            }
            if let Some(slot) = state.series.get_mut(i) {
                slot.1 = buckets;
            }
        }
        r.finish("series buckets")?;
        Ok(state)
    }
}
