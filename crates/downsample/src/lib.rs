//! Downsampling kernels for Grafana time-series panels, in pure Rust.
//!
//! Points are `(t, v)`: `t` in microseconds (`i64`), `v` an `f64`. Every API
//! skips non-finite values (NaN, ±∞) and returns points with strictly
//! increasing timestamps, taken from the input (exact `t` and `v`) except for
//! `avg`.
//!
//! Three API families:
//! 1. Batch: [`downsample`] / [`downsample_points`] over a whole series;
//!    `lttb` is bit-identical to the `lttb` crate (equal-count buckets).
//! 2. Streaming, for a SQL function fed by one time-ordered range scan with
//!    memory independent of the row count: [`TimeRangeDownsampler`]
//!    (equal-TIME bins over a known `[from, to)`: `minmax_lttb`, `m4`,
//!    `minmax`, `avg`, `uniform`) and [`LttbStream`] (exact equal-count LTTB
//!    when the count is known in advance, keeping only bucket hulls).
//! 3. Mergeable per-time-bucket summaries for SQL aggregates: [`M4Summary`],
//!    [`BucketedState`] and [`merge_summaries`] (zooming out of a continuous
//!    aggregate of stored summaries), and the states of the SQL aggregates built on them,
//!    [`MethodBuckets`] and [`SummaryBins`], with their partial bytes.
//!
//! [`gap_breaks`] tells where a plotted line should be broken by a NULL row.

// Safe code only, but for the two feature-checked calls of `kernels::dispatch`.
#![deny(unsafe_code)]

mod aggregate_states;
mod batch;
mod bins;
mod bucketed;
mod error;
mod kernels;
mod lttb;
mod lttb_stream;
mod series;
mod series_buckets;
mod summary;
mod wire;

pub use aggregate_states::{
    MethodBuckets, SummaryBins, METHOD_BUCKETS_FORMAT_VERSION, SUMMARY_BINS_FORMAT_VERSION,
};
pub use batch::{downsample, downsample_points, gap_breaks};
pub use bucketed::{
    bins_for, merge_summaries, BucketedState, TimeRangeDownsampler, BUCKETED_STATE_FORMAT_VERSION,
    MAX_BUCKETS,
};
pub use error::{DownsampleError, Result};
pub use key_groups::GroupKey;
pub use lttb_stream::{LttbStream, MAX_EXACT_TIME};
pub use series::{clean_series, DownsampleOptions, Method, Point, DEFAULT_RATIO, MAX_RATIO};
pub use series_buckets::{SeriesBuckets, SERIES_BUCKETS_FORMAT_VERSION};
pub use summary::{M4Summary, M4_SUMMARY_FORMAT_VERSION};
