//! The states of the SQL aggregates, with their partial bytes (parallel workers and
//! partial aggregation send them between processes; `tests/frozen_formats.rs` pins them):
//!
//! - [`MethodBuckets`]: `downsample_agg`, a [`BucketedState`] and the method it finishes with;
//! - [`SummaryBins`]: `downsample_summaries`, stored [`M4Summary`]s merged per output bin, so
//!   that memory is bounded by the bins, not by the number of summaries.

use std::collections::BTreeMap;

use crate::bucketed::{bins_for, merge_summaries, BucketedState};
use crate::error::{DownsampleError, Result};
use crate::series::{DownsampleOptions, Method, Point, DEFAULT_RATIO};
use crate::summary::M4Summary;
use crate::wire::{check_version, invalid, Reader};

/// Format version of [`MethodBuckets`] bytes (then [`BucketedState`]'s own).
pub const METHOD_BUCKETS_FORMAT_VERSION: u8 = 1;
/// Format version of [`SummaryBins`] bytes.
pub const SUMMARY_BINS_FORMAT_VERSION: u8 = 1;

pub(crate) fn method_index(method: Method) -> u8 {
    Method::ALL
        .iter()
        .position(|&m| m == method)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

pub(crate) fn method_at(index: u8) -> Result<Method> {
    Method::ALL
        .get(usize::from(index))
        .copied()
        .ok_or_else(|| invalid("unknown method"))
}

fn empty_window() -> DownsampleError {
    DownsampleError::InvalidParameter("the window is empty: \"from\" must be before \"to\"".into())
}

/// The state of `downsample_agg`: equal-time buckets over `[from, to)` and the method that
/// finishes them.
#[derive(Clone, Debug)]
pub struct MethodBuckets {
    pub method: Method,
    pub buckets: BucketedState,
}

impl MethodBuckets {
    /// The buckets `method` needs for `points` points of `[from, to)`.
    pub fn new(from: i64, to: i64, points: usize, method: Method) -> Result<Self> {
        if from >= to {
            return Err(empty_window());
        }
        let buckets = BucketedState::for_method(from, to, points, method, DEFAULT_RATIO)?;
        Ok(MethodBuckets { method, buckets })
    }

    /// Merges a state of the same window, point count and method.
    pub fn merge(&mut self, other: &MethodBuckets) -> Result<()> {
        if self.method != other.method {
            return Err(DownsampleError::InvalidParameter(
                "method must be the same for every row of a group".into(),
            ));
        }
        self.buckets.merge(&other.buckets)
    }

    /// `u8` version, `u8` method (index in [`Method::ALL`]), then [`BucketedState`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![METHOD_BUCKETS_FORMAT_VERSION, method_index(self.method)];
        out.extend_from_slice(&self.buckets.to_bytes());
        out
    }

    /// Reads [`MethodBuckets::to_bytes`], checking that the layout is the method's.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        check_version(r.u8("version")?, METHOD_BUCKETS_FORMAT_VERSION, "version")?;
        let method = method_at(r.u8("method")?)?;
        let buckets = BucketedState::from_bytes(r.rest())?;
        if bins_for(method, buckets.points(), buckets.ratio()).ok() != Some(buckets.bucket_count())
        {
            return Err(invalid("bucket layout does not match the method"));
        }
        Ok(MethodBuckets { method, buckets })
    }
}

/// The state of `downsample_summaries`: stored summaries merged per output bin, each with
/// the first bucket start seen in that bin.
#[derive(Clone, Debug)]
pub struct SummaryBins {
    from: i64,
    to: i64,
    points: usize,
    method: Method,
    count: u64,
    bins: BTreeMap<u64, (i64, M4Summary)>,
}

impl SummaryBins {
    pub fn new(from: i64, to: i64, points: usize, method: Method) -> Result<Self> {
        if from >= to {
            return Err(empty_window());
        }
        Ok(SummaryBins {
            from,
            to,
            points,
            method,
            count: bins_for(method, points, DEFAULT_RATIO)?,
            bins: BTreeMap::new(),
        })
    }

    pub fn from(&self) -> i64 {
        self.from
    }

    pub fn to(&self) -> i64 {
        self.to
    }

    pub fn points(&self) -> usize {
        self.points
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The equal-time bin of `t` over `[from, to)` (the exact arithmetic of
    /// [`merge_summaries`], so a bin's summaries stay together there).
    fn bin_of(&self, t: i64) -> Option<u64> {
        let d = i128::from(t) - i128::from(self.from);
        let width = i128::from(self.to) - i128::from(self.from);
        if d < 0 || d >= width {
            return None;
        }
        u64::try_from(d * i128::from(self.count) / width).ok()
    }

    fn add(&mut self, j: u64, start: i64, summary: &M4Summary) {
        self.bins
            .entry(j)
            .and_modify(|(s, m)| {
                *s = (*s).min(start);
                m.merge(summary);
            })
            .or_insert((start, *summary));
    }

    /// Adds the summary of the bucket starting at `start` (ignored outside the window).
    pub fn push(&mut self, start: i64, summary: &M4Summary) {
        if let Some(j) = self.bin_of(start) {
            self.add(j, start, summary);
        }
    }

    /// Merges a state of the same window, point count and method.
    pub fn merge(&mut self, other: &SummaryBins) -> Result<()> {
        if (self.from, self.to, self.points, self.method)
            != (other.from, other.to, other.points, other.method)
        {
            return Err(DownsampleError::InvalidParameter(
                "\"from\", \"to\", points and method must be the same for every row of a group"
                    .into(),
            ));
        }
        for (&j, (start, summary)) in &other.bins {
            self.add(j, *start, summary);
        }
        Ok(())
    }

    /// The downsampled points.
    pub fn finish(&self) -> Result<Vec<Point>> {
        merge_summaries(
            self.bins.values().copied(),
            self.from,
            self.to,
            self.points,
            self.method,
            &DownsampleOptions::default(),
        )
    }

    /// ```text
    /// u8 version = 1, u8 method (index in Method::ALL), i64 from, i64 to, u32 points,
    /// u32 bins, then per bin: u64 index, i64 first bucket start, u16 length, M4Summary bytes
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![SUMMARY_BINS_FORMAT_VERSION, method_index(self.method)];
        out.extend_from_slice(&self.from.to_le_bytes());
        out.extend_from_slice(&self.to.to_le_bytes());
        out.extend_from_slice(&u32::try_from(self.points).unwrap_or(u32::MAX).to_le_bytes());
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

    /// Reads [`SummaryBins::to_bytes`], checking that every bin holds its own buckets.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        check_version(r.u8("version")?, SUMMARY_BINS_FORMAT_VERSION, "version")?;
        let method = method_at(r.u8("method")?)?;
        let from = r.i64("from")?;
        let to = r.i64("to")?;
        let points = r.u32("points")? as usize;
        let n = r.u32("bin count")?;
        let mut state =
            SummaryBins::new(from, to, points, method).map_err(|e| invalid(&e.to_string()))?;
        for _ in 0..n {
            let j = r.u64("bin index")?;
            let start = r.i64("bucket start")?;
            let len = r.u16("summary length")?;
            let summary = M4Summary::from_bytes(r.bytes(usize::from(len), "summary")?)?;
            if state.bin_of(start) != Some(j) {
                return Err(invalid("bucket start outside its bin"));
            }
            state.bins.insert(j, (start, summary));
        }
        r.finish("summary bins")?;
        Ok(state)
    }
}
