//! Downsampling for Grafana panels, over the `downsample` crate's kernels:
//! `sensor.downsample` (a window of any table, streamed), `sensor.downsample_arrays`
//! (the batch kernel on arrays), the aggregates of [`aggregates`] and the channel windows
//! of [`channels`].
//!
//! `sensor.downsample` builds one query over the caller's relation and streams its rows
//! into per-series kernels ([`crate::pg::row_stream`]): no row is materialized, so memory is
//! O(points × ratio) per series whatever the window holds. The equal-time-bin methods
//! (`minmax_lttb`, `m4`, `minmax`, `uniform`, `avg`) do not depend on row order, so
//! without a series column the query has no ORDER BY and the planner picks the cheapest
//! scan (index, bitmap, sequential, parallel). With a series column the rows come
//! `ORDER BY series, time`, which a `(series, time)` index serves without a sort, and
//! each series' kernel finishes when the next series starts. Exact `lttb` needs the
//! point count first: without a series column one pass in heap order through a spill
//! ([`heap_order`]), else (or when rows come out of time order) a `count(*)` query, then
//! the ordered stream (a second stream only for series whose rows hold NULL or non-finite
//! values or repeated timestamps, which the count cannot see).
//!
//! Kernel time is Unix microseconds (what other tools use), converted from PostgreSQL's
//! microseconds since 2000 on the way in and back on the way out.

mod aggregates;
mod channels;
mod filter;
mod heap_order;
mod parallel_partitions;
mod parallel_series;
mod tiers;
mod window_call;

pub(crate) use filter::filter_mentions_only;
#[cfg(any(test, feature = "pg_test"))]
pub(crate) use heap_order::HEAP_ORDER_PASSES;
use heap_order::{exact_in_heap_order, OnePass};
use parallel_series::ParallelSeries;
use window_call::WindowCall;

use std::collections::{HashMap, HashSet};

use ::downsample::{
    bins_for, gap_breaks, DownsampleOptions, LttbStream, M4Summary, Method, Point,
    TimeRangeDownsampler, DEFAULT_RATIO,
};
use pgrx::prelude::*;

use pgrx::pg_sys::panic::ErrorReport;

use crate::error::{SensorError, SensorResult};

use crate::pg::args::{RegClass, SqlName};
use crate::pg::row_groups::{KeyColumn, RowGroups};
use crate::pg::row_store::RowStore;
use crate::pg::row_stream::{stream_rows, stream_rows_serial, Columns, Param, Row, RowSink};
use crate::pg::time;

/// What a window's x axis holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// `timestamptz`; kernels see Unix microseconds.
    Time,
    /// A sample index (`bigint`), used as is.
    Index,
}

impl Axis {
    fn to_kernel(self, stored: i64) -> i64 {
        match self {
            Axis::Time => stored.saturating_add(time::UNIX_TO_PG_US),
            Axis::Index => stored,
        }
    }

    fn to_stored(self, x: i64) -> i64 {
        match self {
            Axis::Time => x.saturating_sub(time::UNIX_TO_PG_US),
            Axis::Index => x,
        }
    }

    fn sql_type(self) -> &'static str {
        match self {
            Axis::Time => "pg_catalog.timestamptz",
            Axis::Index => "pg_catalog.int8",
        }
    }

    fn param(self, stored: i64) -> Param {
        match self {
            Axis::Time => Param::timestamptz(stored),
            Axis::Index => Param::int8(stored),
        }
    }
}

/// A validated downsampling request: method, point count, window `[from, to)` and gap,
/// in kernel units of its axis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    pub method: Method,
    pub points: usize,
    pub from: i64,
    pub to: i64,
    pub gap: Option<i64>,
}

impl Request {
    pub(crate) fn new(
        method: &str,
        points: i32,
        from: i64,
        to: i64,
        gap: Option<i64>,
    ) -> SensorResult<Self> {
        let method = parse_method(method)?;
        let points = points_arg(points, method)?;
        if from >= to {
            return Err(SensorError::invalid_parameter(
                "the window is empty: \"from\" must be before \"to\"",
            ));
        }
        Ok(Request {
            method,
            points,
            from,
            to,
            gap,
        })
    }

    fn options() -> DownsampleOptions {
        DownsampleOptions::default()
    }
}

pub(crate) fn parse_method(method: &str) -> SensorResult<Method> {
    // The crate's message lists the methods.
    method.parse::<Method>().map_err(SensorError::from)
}

/// `points` as a count, checked against the method's minimum and the bucket limit.
pub(crate) fn points_arg(points: i32, method: Method) -> SensorResult<usize> {
    let n = usize::try_from(points).unwrap_or(0);
    method.check_points(n)?;
    bins_for(method, n, DEFAULT_RATIO)?;
    Ok(n)
}

/// Where a window's rows come from: a relation, its x, value and optional series
/// columns (quoted SQL), and extra WHERE terms with their parameters ($3, $4, …).
pub(crate) struct Source {
    pub relation: String,
    pub x: String,
    pub value: String,
    pub series: Option<Series>,
    pub conditions: Vec<String>,
    pub params: Vec<Param>,
    pub axis: Axis,
    /// The `sensor.downsample` arguments it was made from, when a relation's window.
    pub origin: Option<RelationWindow>,
}

/// The checked `sensor.downsample` arguments behind a relation's window: what a parallel
/// worker's `sensor.downsample_partition` is given to check and read again.
pub(crate) struct RelationWindow {
    pub relation: pg_sys::Oid,
    pub time_column: String,
    pub value_column: String,
    pub series_column: Option<String>,
    pub filter: Option<String>,
}

/// A scan of the window and the columns its sinks read (series text, x, value).
pub(crate) struct Scan {
    pub sql: String,
    pub columns: Columns,
}

/// A series column: its quoted name and how the grouped scan reads it.
pub(crate) struct Series {
    pub column: String,
    pub key: KeyColumn,
}

impl Source {
    fn where_clause(&self) -> String {
        // Operators qualified: the query runs under the caller's search_path (for `filter`).
        let mut terms = vec![format!(
            "{x} OPERATOR(pg_catalog.>=) $1 AND {x} OPERATOR(pg_catalog.<) $2",
            x = self.x
        )];
        terms.extend(self.conditions.iter().cloned());
        terms.join(" AND ")
    }

    /// The series as text, named so that ORDER BY and GROUP BY below mean the table's
    /// column, not this output (text sorts 10 before 9, and defeats a (series, x) index).
    fn series_text(&self) -> String {
        match &self.series {
            Some(s) => format!("CAST({} AS pg_catalog.text) AS sensor_series", s.column),
            None => "NULL::pg_catalog.text".to_string(),
        }
    }

    /// Columns: series text, x, value float8; ordered by series, then x (when asked).
    /// Without a series column the query leaves the series out (it reads as NULL): a
    /// target list of columns alone needs no projection above a hypertable's chunks.
    fn scan_sql(&self, ordered: bool) -> Scan {
        let order = match (&self.series, ordered) {
            (Some(s), _) => format!(" ORDER BY {}, {}", s.column, self.x),
            (None, true) => format!(" ORDER BY {}", self.x),
            (None, false) => String::new(),
        };
        match self.series {
            Some(_) => Scan {
                sql: self.select_sql(&format!("{}, ", self.series_text()), &order),
                columns: 3.into(),
            },
            None => Scan {
                sql: self.select_sql("", &order),
                columns: Columns { read: 3, absent: 1 },
            },
        }
    }

    /// Columns: the series key as [`KeyColumn`] reads it, x, value float8; in any order.
    fn grouped_scan_sql(&self, series: &Series) -> String {
        self.select_sql(&format!("{}, ", series.key.select_expr(&series.column)), "")
    }

    /// Streams the rows of [`Self::scan_sql`] over `request`'s window to `sink`, in a
    /// serial plan when `serial` (heap order for an unordered scan).
    fn stream_scan(
        &self,
        ordered: bool,
        request: &Request,
        serial: bool,
        sink: &mut dyn RowSink,
    ) -> SensorResult<u64> {
        let scan = self.scan_sql(ordered);
        let params = self.all_params(request);
        if serial {
            stream_rows_serial(&scan.sql, &params, scan.columns, sink)
        } else {
            stream_rows(&scan.sql, &params, scan.columns, sink)
        }
    }

    /// `series` is the first column's expression and a comma, or empty.
    fn select_sql(&self, series: &str, order: &str) -> String {
        format!(
            "SELECT {series}CAST({x} AS {xt}), CAST({v} AS pg_catalog.float8) FROM {rel} WHERE {w}{order}",
            x = self.x,
            xt = self.axis.sql_type(),
            v = self.value,
            rel = self.relation,
            w = self.where_clause(),
        )
    }

    /// Columns: series text, row count. Only the x column is read, so an index on it
    /// can answer with an index-only scan.
    fn count_sql(&self) -> String {
        let group = match &self.series {
            Some(s) => format!(" GROUP BY {}", s.column),
            None => String::new(),
        };
        format!(
            "SELECT {series}, pg_catalog.count(*) FROM {rel} WHERE {w}{group}",
            series = self.series_text(),
            rel = self.relation,
            w = self.where_clause(),
        )
    }

    fn all_params(&self, request: &Request) -> Vec<Param> {
        let mut params = vec![
            self.axis.param(self.axis.to_stored(request.from)),
            self.axis.param(self.axis.to_stored(request.to)),
        ];
        params.extend(self.params.iter().copied());
        params
    }
}

/// A series label: the text of its series value (`None` for NULL or no series column).
pub(crate) type Label = Option<Vec<u8>>;

/// The downsampled points of one series.
pub(crate) struct SeriesPoints {
    pub label: Label,
    pub points: Vec<Point>,
}

/// Where [`downsample_window`] hands each series' points, as soon as the series is done.
pub(crate) type Emit<'e> = dyn FnMut(SeriesPoints) -> SensorResult<()> + 'e;

/// Downsamples the window `request` of `source`, one result per series, in key order.
/// The binned methods keep no finished series: memory is the kernels' (bounded by
/// `work_mem` with a series column, else one series at a time). Exact `lttb` keeps every
/// series' points until its recount pass is done.
pub(crate) fn downsample_window(
    source: &Source,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<()> {
    if request.method == Method::Lttb {
        exact_lttb_window(source, request, emit)
    } else {
        binned_window(source, request, emit)
    }
}

/// The binned methods: every series in one scan (in parallel workers when the plan has
/// them), or, over `work_mem`, one series at a time from rows ordered by series.
fn binned_window(source: &Source, request: &Request, emit: &mut Emit<'_>) -> SensorResult<()> {
    let series = source.series.as_ref();
    if let ParallelSeries::Done =
        parallel_series::parallel_series_window(source, series, request, emit)?
    {
        return Ok(());
    }
    if let Some(series) = series {
        if grouped_window(source, series, request, emit)? {
            return Ok(());
        }
    }
    let mut sink = WindowSink::new(source, request, None, None);
    sink.emit = Some(emit);
    source.stream_scan(source.series.is_some(), request, false, &mut sink)?;
    sink.finish()?;
    Ok(())
}

/// Exact LTTB: one pass when a single series' rows come in time order; else per-series
/// row counts, then the rows of each series in time order (heap order when it is time
/// order), and a last pass for series whose count included points the kernel skips.
fn exact_lttb_window(source: &Source, request: &Request, emit: &mut Emit<'_>) -> SensorResult<()> {
    // Compressed chunks count their rows from batch metadata: counting first costs
    // nothing there, and the one pass then needs no temporary file.
    if source.series.is_none() && !counts_for_free(source, request)? {
        match heap_order::exact_in_one_pass(source, request)? {
            OnePass::Points(points) => {
                return emit(SeriesPoints {
                    label: None,
                    points,
                })
            }
            OnePass::NoRows => return Ok(()),
            OnePass::OutOfOrder => {}
        }
    }
    let mut counter = CountSink::default();
    stream_rows(
        &source.count_sql(),
        &source.all_params(request),
        2,
        &mut counter,
    )?;
    let mut results = match exact_in_heap_order(source, request, &counter.counts)? {
        Some(results) => results,
        None => {
            let mut sink = WindowSink::new(source, request, Some(&counter.counts), None);
            source.stream_scan(true, request, false, &mut sink)?;
            sink.finish()?
        }
    };
    recount_miscounted(source, request, &mut results)?;
    for (label, result) in results {
        match result {
            SeriesResult::Points(points) => emit(SeriesPoints { label, points })?,
            SeriesResult::Skipped => {}
            SeriesResult::Miscounted { .. } => return Err(rows_changed()),
        }
    }
    Ok(())
}

/// Whether the window's rows are mostly in compressed chunks of a hypertable (see
/// [`crate::pg::timescaledb::window_mostly_compressed`]).
fn counts_for_free(source: &Source, request: &Request) -> SensorResult<bool> {
    if source.axis != Axis::Time {
        return Ok(false);
    }
    crate::pg::timescaledb::window_mostly_compressed(
        &source.relation,
        time::timestamptz_from_unix(request.from)?,
        time::timestamptz_from_unix(request.to)?,
    )
}

/// Series whose rows held points the kernel skips: their exact count is now known, so
/// their rows are read again with it.
fn recount_miscounted(
    source: &Source,
    request: &Request,
    results: &mut [(Label, SeriesResult)],
) -> SensorResult<()> {
    let recount: HashMap<Label, u64> = results
        .iter()
        .filter_map(|(label, r)| match r {
            SeriesResult::Miscounted { accepted } => Some((label.clone(), *accepted)),
            _ => None,
        })
        .collect();
    if recount.is_empty() {
        return Ok(());
    }
    let only: HashSet<Label> = recount.keys().cloned().collect();
    let mut again = WindowSink::new(source, request, Some(&recount), Some(&only));
    source.stream_scan(true, request, false, &mut again)?;
    let mut redone: HashMap<Label, SeriesResult> = again.finish()?.into_iter().collect();
    for (label, result) in results.iter_mut() {
        if let Some(r) = redone.remove(label) {
            *result = r;
        }
    }
    Ok(())
}

/// [`downsample_window`] into a vector: for windows of one series.
pub(crate) fn downsample_window_points(
    source: &Source,
    request: &Request,
) -> SensorResult<Vec<SeriesPoints>> {
    let mut out = Vec::new();
    downsample_window(source, request, &mut |series| {
        out.push(series);
        Ok(())
    })?;
    Ok(out)
}

/// The binned methods with a series column: one kernel per series, rows in any order (a
/// sequential or parallel scan, no sort). `false`, having emitted nothing, when the kernels
/// would need more than `work_mem`: the caller then reads one series at a time.
fn grouped_window(
    source: &Source,
    series: &Series,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<bool> {
    let mut sink = GroupedSink::new(request, source.axis, series.key)?;
    let streamed = stream_rows(
        &source.grouped_scan_sql(series),
        &source.all_params(request),
        3,
        &mut sink,
    );
    if sink.over_budget {
        return Ok(false);
    }
    streamed?;
    for (key, kernel) in sink.groups.into_sorted() {
        emit(SeriesPoints {
            label: key.label().map(String::into_bytes),
            points: kernel.finish()?,
        })?;
    }
    Ok(true)
}

/// Feeds scanned rows (series key, x, value) to the kernel of their series.
struct GroupedSink<'a> {
    request: &'a Request,
    axis: Axis,
    groups: RowGroups<TimeRangeDownsampler>,
    rows: u64,
    /// Bins of one kernel: each row fills at most one more.
    bins: u64,
    /// `work_mem`, in bytes.
    budget: u64,
    over_budget: bool,
}

impl<'a> GroupedSink<'a> {
    /// Kernels of `request` for the groups of the key in column 0 (read as `key`).
    fn new(request: &'a Request, axis: Axis, key: KeyColumn) -> SensorResult<Self> {
        Ok(GroupedSink {
            request,
            axis,
            groups: RowGroups::new(key, 0),
            rows: 0,
            bins: bins_for(request.method, request.points, DEFAULT_RATIO)?,
            budget: crate::pg::work_mem_bytes(),
            over_budget: false,
        })
    }

    /// A bound of the kernels' memory: each holds its fixed part and up to `points` raw
    /// points, and every row fills at most one more bin of its series.
    fn bytes(&self) -> u64 {
        let kernels = self.groups.len() as u64;
        let fixed = (std::mem::size_of::<TimeRangeDownsampler>() + 64) as u64
            + self.request.points as u64 * std::mem::size_of::<Point>() as u64;
        let bin = (std::mem::size_of::<M4Summary>() + 48) as u64;
        kernels * fixed + self.rows.min(kernels.saturating_mul(self.bins)) * bin
    }
}

impl RowSink for GroupedSink<'_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let (Some(x), Some(v)) = (row.i64(1), row.f64(2)) else {
            return Ok(());
        };
        let (r, groups_before) = (self.request, self.groups.len());
        let kernel = self.groups.group_of(row, |_| {
            Ok(TimeRangeDownsampler::new(
                r.from,
                r.to,
                r.points,
                r.method,
                &Request::options(),
            )?)
        })?;
        kernel.push(self.axis.to_kernel(x), v);
        self.rows += 1;
        if (self.groups.len() != groups_before || self.rows.is_multiple_of(65_536))
            && self.bytes() > self.budget
        {
            self.over_budget = true;
            // Stops the executor; grouped_window reads the window again, by series.
            return Err(SensorError::not_supported("over work_mem"));
        }
        Ok(())
    }
}

fn rows_changed() -> SensorError {
    SensorError::invalid_parameter(
        "the rows of the window changed between counting and reading them",
    )
    .with_hint("Is the filter volatile? Exact lttb reads the window twice.")
}

/// Rows per series, from [`Source::count_sql`].
#[derive(Default)]
struct CountSink {
    counts: HashMap<Label, u64>,
}

impl RowSink for CountSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let label = row.with_text(0, |l| l.map(<[u8]>::to_vec));
        let count = u64::try_from(row.i64(1).unwrap_or(0)).unwrap_or(0);
        *self.counts.entry(label).or_insert(0) += count;
        Ok(())
    }
}

/// The kernel of the series being read.
enum Kernel {
    Binned(Box<TimeRangeDownsampler>),
    Exact {
        stream: Box<LttbStream>,
        total: u64,
    },
    /// A series this pass does not compute.
    Skip,
}

enum SeriesResult {
    Points(Vec<Point>),
    /// Exact LTTB was told more points than the kernel accepted.
    Miscounted {
        accepted: u64,
    },
    Skipped,
}

impl Kernel {
    fn push(&mut self, x: i64, v: f64) -> SensorResult<()> {
        match self {
            Kernel::Binned(k) => {
                k.push(x, v);
                Ok(())
            }
            Kernel::Exact { stream, .. } => stream.push(x, v).map_err(|e| match e {
                ::downsample::DownsampleError::InvalidParameter(_) => rows_changed(),
                other => other.into(),
            }),
            Kernel::Skip => Ok(()),
        }
    }

    fn finish(self) -> SensorResult<SeriesResult> {
        match self {
            Kernel::Binned(k) => Ok(SeriesResult::Points(k.finish()?)),
            Kernel::Exact { mut stream, total } => {
                if stream.accepted() != total {
                    return Ok(SeriesResult::Miscounted {
                        accepted: stream.accepted(),
                    });
                }
                Ok(SeriesResult::Points(stream.finish()?))
            }
            Kernel::Skip => Ok(SeriesResult::Skipped),
        }
    }
}

/// Feeds scanned rows (series text, x, value) to one kernel per series.
struct WindowSink<'a, 'e> {
    request: &'a Request,
    axis: Axis,
    by_series: bool,
    /// Exact LTTB: points per series (the rows counted, or the exact count).
    counts: Option<&'a HashMap<Label, u64>>,
    /// Only these series are computed (a second exact-LTTB pass).
    only: Option<&'a HashSet<Label>>,
    current: Option<(Label, Kernel)>,
    /// Where finished series' points go; without it they are kept in `done`.
    emit: Option<&'e mut Emit<'e>>,
    done: Vec<(Label, SeriesResult)>,
}

impl<'a, 'e> WindowSink<'a, 'e> {
    fn new(
        source: &Source,
        request: &'a Request,
        counts: Option<&'a HashMap<Label, u64>>,
        only: Option<&'a HashSet<Label>>,
    ) -> Self {
        WindowSink {
            request,
            axis: source.axis,
            by_series: source.series.is_some(),
            counts,
            only,
            current: None,
            emit: None,
            done: Vec::new(),
        }
    }

    fn start_series(&mut self, label: Label) -> SensorResult<()> {
        self.finish_series()?;
        let r = self.request;
        let kernel = if self.only.is_some_and(|only| !only.contains(&label)) {
            Kernel::Skip
        } else if let Some(counts) = self.counts {
            let total = counts.get(&label).copied().unwrap_or(0);
            // One series at a time: whole buckets within work_mem (else hulls).
            let work_mem = crate::pg::work_mem_bytes();
            Kernel::Exact {
                stream: Box::new(LttbStream::with_memory(total, r.points, work_mem)?),
                total,
            }
        } else {
            Kernel::Binned(Box::new(TimeRangeDownsampler::new(
                r.from,
                r.to,
                r.points,
                r.method,
                &Request::options(),
            )?))
        };
        self.current = Some((label, kernel));
        Ok(())
    }

    fn finish_series(&mut self) -> SensorResult<()> {
        if let Some((label, kernel)) = self.current.take() {
            match (kernel.finish()?, &mut self.emit) {
                (SeriesResult::Points(points), Some(emit)) => emit(SeriesPoints { label, points })?,
                (result, _) => self.done.push((label, result)),
            }
        }
        Ok(())
    }

    fn finish(mut self) -> SensorResult<Vec<(Label, SeriesResult)>> {
        self.finish_series()?;
        Ok(self.done)
    }
}

impl RowSink for WindowSink<'_, '_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        if self.by_series {
            let same = row.with_text(
                0,
                |label| matches!(&self.current, Some((current, _)) if current.as_deref() == label),
            );
            if !same {
                self.start_series(row.with_text(0, |l| l.map(<[u8]>::to_vec)))?;
            }
        } else if self.current.is_none() {
            self.start_series(None)?;
        }
        let (Some(x), Some(v)) = (row.i64(1), row.f64(2)) else {
            return Ok(());
        };
        let x = self.axis.to_kernel(x);
        match &mut self.current {
            Some((_, kernel)) => kernel.push(x, v),
            None => Ok(()),
        }
    }
}

/// The points with a NULL-value point (`None`) after every point that is followed by
/// one more than `gap` later, so that a plotted line breaks there.
pub(crate) fn with_gaps(
    points: &[Point],
    gap: Option<i64>,
) -> SensorResult<Vec<(i64, Option<f64>)>> {
    let breaks = match gap {
        Some(gap) => gap_breaks(points, gap)?,
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(points.len() + breaks.len());
    let mut next_break = breaks.iter().peekable();
    for (i, p) in points.iter().enumerate() {
        if next_break.peek().is_some_and(|&&b| b == i) {
            next_break.next();
            if let Some(prev) = i.checked_sub(1).and_then(|j| points.get(j)) {
                // Any time strictly between the neighbours breaks the line.
                out.push((prev.t + 1, None));
            }
        }
        out.push((p.t, Some(p.v)));
    }
    Ok(out)
}

/// Downsamples `[from, to)` of `relation` to about `points` points per series, streaming
/// the rows (see the module docs). SECURITY INVOKER: the query, and `filter` in it, run
/// with the caller's privileges.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments)]
// pgrx reads the column names and types from the signature itself, not from an alias.
#[allow(clippy::type_complexity)]
fn downsample(
    relation: Option<RegClass>,
    time_column: Option<SqlName>,
    value_column: Option<SqlName>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: default!(Option<&str>, "'minmax_lttb'"),
    series_column: default!(Option<SqlName>, "NULL"),
    filter: default!(Option<&str>, "NULL"),
    gap: default!(Option<Interval>, "NULL"),
    source: default!(Option<&str>, "'auto'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(series, Option<String>),
            name!(time, TimestampWithTimeZone),
            name!(value, Option<f64>),
        ),
    >,
    ErrorReport,
> {
    // NULL for a required argument gives no rows, as a STRICT function would.
    let Some(call) = WindowCall::of(
        (relation, time_column, value_column, series_column),
        (from, to, points, method, gap),
        filter,
    )?
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let choice = tiers::SourceChoice::parse(source)?;
    let request = call.request;
    let rows_source = call.source()?;
    let plan = call.plan(choice)?;
    let (series_column, value_column) = (call.series_column, call.value_column);
    // Rows wait in a tuplestore (work_mem, then a temporary file), not in a vector.
    let mut rows = RowStore::new();
    let mut emit = |series: SeriesPoints| -> SensorResult<()> {
        let label = match (&series.label, &series_column) {
            (Some(bytes), _) => Some(String::from_utf8_lossy(bytes).into_owned()),
            (None, Some(_)) => None,
            // Without a series column the series is named after the value column.
            (None, None) => Some(value_column.0.clone()),
        };
        for (t, v) in with_gaps(&series.points, request.gap)? {
            rows.push((label.clone(), time::timestamptz_from_unix(t)?, v));
        }
        Ok(())
    };
    match &plan {
        Some(plan) => tiers::serve(&rows_source, plan, &mut emit)?,
        None => downsample_window(&rows_source, &request, &mut emit)?,
    }
    Ok(TableIterator::new(rows.into_rows()))
}

/// Which source `sensor.downsample` with the same arguments reads: raw rows, or a rollup
/// tier over a widened window (its bounds and point count), with raw rows after `raw_from`.
#[pg_extern(stable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::type_complexity)]
fn window_source(
    relation: Option<RegClass>,
    time_column: Option<SqlName>,
    value_column: Option<SqlName>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: default!(Option<&str>, "'minmax_lttb'"),
    series_column: default!(Option<SqlName>, "NULL"),
    filter: default!(Option<&str>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(source, String),
            name!(rollup, Option<String>),
            name!(tier, Option<Interval>),
            name!(from, TimestampWithTimeZone),
            name!(to, TimestampWithTimeZone),
            name!(points, i32),
            name!(raw_from, Option<TimestampWithTimeZone>),
        ),
    >,
    ErrorReport,
> {
    let Some(call) = WindowCall::of(
        (relation, time_column, value_column, series_column),
        (from, to, points, method, None),
        filter,
    )?
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let plan = call.plan(tiers::SourceChoice::Auto)?;
    let (from, to, points) = (
        time::timestamptz_from_unix(call.request.from)?,
        time::timestamptz_from_unix(call.request.to)?,
        i32::try_from(call.request.points).unwrap_or(i32::MAX),
    );
    let points_out = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let row = match plan {
        None => ("raw".to_string(), None, None, from, to, points, None),
        Some(plan) => {
            let r = &plan.request;
            let raw_from = (plan.raw_from < r.to)
                .then(|| time::timestamptz_from_unix(plan.raw_from))
                .transpose()?;
            (
                "rollup".to_string(),
                Some(plan.tier.rollup.clone()),
                time::interval(plan.tier.width),
                time::timestamptz_from_unix(r.from)?,
                time::timestamptz_from_unix(r.to)?,
                points_out(r.points),
                raw_from,
            )
        }
    };
    Ok(TableIterator::new(vec![row]))
}

/// The batch kernel on arrays: `lttb` is identical to the `lttb` crate (equal-count
/// buckets); the other methods use equal-time bins over the points' own time span.
#[pg_extern(immutable, parallel_safe)]
fn downsample_arrays(
    time: Option<Array<'_, TimestampWithTimeZone>>,
    value: Option<Array<'_, f64>>,
    points: Option<i32>,
    method: default!(Option<&str>, "'minmax_lttb'"),
) -> Result<
    TableIterator<'static, (name!(time, TimestampWithTimeZone), name!(value, f64))>,
    ErrorReport,
> {
    let (Some(time), Some(value), Some(points), Some(method)) = (time, value, points, method)
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let method = parse_method(method)?;
    let points = points_arg(points, method)?;
    if time.len() != value.len() {
        return Err(SensorError::invalid_parameter(format!(
            "time and value must have the same length (got {} and {})",
            time.len(),
            value.len()
        ))
        .into());
    }
    let mut ts = Vec::with_capacity(time.len());
    let mut vs = Vec::with_capacity(value.len());
    for (t, v) in time.iter().zip(value.iter()) {
        // NULL elements are skipped, like NULL rows.
        if let (Some(t), Some(v)) = (t, v) {
            ts.push(time::unix_micros(t, "time")?);
            vs.push(v);
        }
    }
    let out = ::downsample::downsample(&ts, &vs, points, method, &Request::options())
        .map_err(SensorError::from)?;
    let rows = out
        .into_iter()
        .map(|p| Ok((time::timestamptz_from_unix(p.t)?, p.v)))
        .collect::<SensorResult<Vec<_>>>()?;
    Ok(TableIterator::new(rows))
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION sensor.downsample(regclass, name, name, timestamptz, timestamptz, integer, text, name, text, interval, text) IS
    'Downsamples [from, to) of a table to about points points per series (methods minmax_lttb (default), lttb (exact, equal-count buckets), m4, minmax, uniform, avg), streaming the rows: memory O(points) per series. Returns (series, time, value); series is the series_column value as text, or the value column name. filter is an SQL boolean expression added to the WHERE clause; the function is SECURITY INVOKER, so the query and the filter run with the caller''s privileges. gap inserts a NULL-value row between output neighbours farther apart than gap, so Grafana breaks the line. When the table has rollup tiers (sensor.enable_rollups) and source is ''auto'' (the default), a window long enough is served from the coarsest tier that gives the points, widened to whole buckets (sensor.window_source tells which and how): exact for m4, minmax, minmax_lttb, uniform and avg, approximate for lttb; a filter that mentions another column than the series column falls back to raw rows. source => ''raw'' forces raw rows, ''rollups'' requires a tier. PARALLEL RESTRICTED: the relation may be a temporary table, which parallel workers cannot read; its own query may use a parallel plan.';
COMMENT ON FUNCTION sensor.window_source(regclass, name, name, timestamptz, timestamptz, integer, text, name, text) IS
    'Which source sensor.downsample with the same arguments reads: ''raw'', or ''rollup'' with the tier (its continuous aggregate or table and width), the widened window [from, to) and point count it serves, and raw_from, where the materialized tiers end and raw rows take over (NULL when they cover the window).';
COMMENT ON FUNCTION sensor.downsample_arrays(timestamptz[], float8[], integer, text) IS
    'The batch kernel on arrays of times and values: lttb is identical to the lttb crate (equal-count buckets); other methods use equal-time bins over the points'' span. NULL elements, NaN and infinite values are skipped.';
"#,
    name = "downsample_comments",
    requires = [downsample, downsample_arrays, window_source]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("downsample/tests.rs");
}
