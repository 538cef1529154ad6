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
//! point count first: a `count(*)` query (index-only when an index covers the time
//! column), then the ordered stream (a second stream only for series whose rows hold
//! NULL or non-finite values or repeated timestamps, which the count cannot see).
//!
//! Kernel time is Unix microseconds (what other tools use), converted from PostgreSQL's
//! microseconds since 2000 on the way in and back on the way out.

mod aggregates;
mod channels;

use std::collections::{HashMap, HashSet};
use std::ffi::CString;

use ::downsample::{
    bins_for, gap_breaks, DownsampleOptions, LttbStream, Method, Point, TimeRangeDownsampler,
    DEFAULT_RATIO,
};
use pgrx::list::old_list::PgList;
use pgrx::prelude::*;

use pgrx::pg_sys::panic::ErrorReport;

use crate::error::{SensorError, SensorResult};

use crate::pg::args::{RegClass, SqlName};
use crate::pg::row_stream::{stream_rows, Param, Row, RowSink};
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
    pub series: Option<String>,
    pub conditions: Vec<String>,
    pub params: Vec<Param>,
    pub axis: Axis,
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

    fn series_text(&self) -> String {
        match &self.series {
            Some(s) => format!("CAST({s} AS pg_catalog.text)"),
            None => "NULL::pg_catalog.text".to_string(),
        }
    }

    /// Columns: series text, x, value float8.
    fn scan_sql(&self, ordered: bool) -> String {
        let order = match (&self.series, ordered) {
            (Some(s), _) => format!(" ORDER BY {s}, {}", self.x),
            (None, true) => format!(" ORDER BY {}", self.x),
            (None, false) => String::new(),
        };
        format!(
            "SELECT {series}, CAST({x} AS {xt}), CAST({v} AS pg_catalog.float8) FROM {rel} WHERE {w}{order}",
            series = self.series_text(),
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
            Some(s) => format!(" GROUP BY {s}"),
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

/// Downsamples the window `request` of `source`, one result per series in scan order.
pub(crate) fn downsample_window(
    source: &Source,
    request: &Request,
) -> SensorResult<Vec<SeriesPoints>> {
    if request.method != Method::Lttb {
        let mut sink = WindowSink::new(source, request, None, None);
        stream_rows(
            &source.scan_sql(false),
            &source.all_params(request),
            3,
            &mut sink,
        )?;
        return sink.into_points();
    }
    // Exact LTTB: per-series row counts, then the ordered stream.
    let mut counter = CountSink::default();
    stream_rows(
        &source.count_sql(),
        &source.all_params(request),
        2,
        &mut counter,
    )?;
    let mut sink = WindowSink::new(source, request, Some(&counter.counts), None);
    stream_rows(
        &source.scan_sql(true),
        &source.all_params(request),
        3,
        &mut sink,
    )?;
    let mut results = sink.finish()?;
    // Series whose rows held points the kernel skips: their exact count is now known.
    let recount: HashMap<Label, u64> = results
        .iter()
        .filter_map(|(label, r)| match r {
            SeriesResult::Miscounted { accepted } => Some((label.clone(), *accepted)),
            _ => None,
        })
        .collect();
    if !recount.is_empty() {
        let only: HashSet<Label> = recount.keys().cloned().collect();
        let mut again = WindowSink::new(source, request, Some(&recount), Some(&only));
        stream_rows(
            &source.scan_sql(true),
            &source.all_params(request),
            3,
            &mut again,
        )?;
        let mut redone: HashMap<Label, SeriesResult> = again.finish()?.into_iter().collect();
        for (label, result) in results.iter_mut() {
            if let Some(r) = redone.remove(label) {
                *result = r;
            }
        }
    }
    results
        .into_iter()
        .filter_map(|(label, r)| match r {
            SeriesResult::Points(points) => Some(Ok(SeriesPoints { label, points })),
            SeriesResult::Skipped => None,
            SeriesResult::Miscounted { .. } => Some(Err(rows_changed())),
        })
        .collect()
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
struct WindowSink<'a> {
    request: &'a Request,
    axis: Axis,
    by_series: bool,
    /// Exact LTTB: points per series (the rows counted, or the exact count).
    counts: Option<&'a HashMap<Label, u64>>,
    /// Only these series are computed (a second exact-LTTB pass).
    only: Option<&'a HashSet<Label>>,
    current: Option<(Label, Kernel)>,
    done: Vec<(Label, SeriesResult)>,
}

impl<'a> WindowSink<'a> {
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
            Kernel::Exact {
                stream: Box::new(LttbStream::new(total, r.points)?),
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
            self.done.push((label, kernel.finish()?));
        }
        Ok(())
    }

    fn finish(mut self) -> SensorResult<Vec<(Label, SeriesResult)>> {
        self.finish_series()?;
        Ok(self.done)
    }

    fn into_points(self) -> SensorResult<Vec<SeriesPoints>> {
        Ok(self
            .finish()?
            .into_iter()
            .filter_map(|(label, r)| match r {
                SeriesResult::Points(points) => Some(SeriesPoints { label, points }),
                _ => None,
            })
            .collect())
    }
}

impl RowSink for WindowSink<'_> {
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

/// Rejects a filter that is not exactly one SQL expression, so that it cannot change the
/// shape of the query it is put into (close our parenthesis, add an ORDER BY or LIMIT,
/// comment out the rest, or add a statement). It still runs with the caller's privileges.
pub(crate) fn check_filter(filter: &str) -> SensorResult<()> {
    let not_an_expression = || {
        SensorError::invalid_parameter("filter must be a single SQL boolean expression")
            .with_hint("For example: filter => 'sensor_id = 7 AND quality > 0'.")
    };
    let probe = CString::new(format!("SELECT {filter}\n")).map_err(|_| not_an_expression())?;
    let parsed = PgTryBuilder::new(|| {
        // SAFETY: raw_parser only builds a parse tree in the current memory context.
        let list =
            unsafe { pg_sys::raw_parser(probe.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT) };
        Ok(unsafe { is_single_expression(list) })
    })
    .catch_others(|cause| {
        let message = match &cause {
            pg_sys::panic::CaughtError::PostgresError(report)
            | pg_sys::panic::CaughtError::ErrorReport(report) => report.message().to_string(),
            pg_sys::panic::CaughtError::RustPanic { .. } => "could not parse".to_string(),
        };
        Err(not_an_expression().with_detail(message))
    })
    .execute()?;
    if parsed {
        Ok(())
    } else {
        Err(not_an_expression())
    }
}

/// Whether `list` (raw_parser output) is `SELECT <one unnamed expression>` and nothing else.
unsafe fn is_single_expression(list: *mut pg_sys::List) -> bool {
    let stmts = unsafe { PgList::<pg_sys::RawStmt>::from_pg(list) };
    if stmts.len() != 1 {
        return false;
    }
    let Some(raw) = stmts.get_ptr(0) else {
        return false;
    };
    let node = unsafe { (*raw).stmt };
    if node.is_null() || !unsafe { pgrx::is_a(node, pg_sys::NodeTag::T_SelectStmt) } {
        return false;
    }
    let s = unsafe { &*node.cast::<pg_sys::SelectStmt>() };
    let bare = s.distinctClause.is_null()
        && s.intoClause.is_null()
        && s.fromClause.is_null()
        && s.whereClause.is_null()
        && s.groupClause.is_null()
        && s.havingClause.is_null()
        && s.windowClause.is_null()
        && s.valuesLists.is_null()
        && s.sortClause.is_null()
        && s.limitOffset.is_null()
        && s.limitCount.is_null()
        && s.lockingClause.is_null()
        && s.withClause.is_null()
        && s.op == pg_sys::SetOperation::SETOP_NONE;
    if !bare {
        return false;
    }
    let targets = unsafe { PgList::<pg_sys::ResTarget>::from_pg(s.targetList) };
    if targets.len() != 1 {
        return false;
    }
    let Some(target) = targets.get_ptr(0) else {
        return false;
    };
    let target = unsafe { &*target };
    // `x AS name` or `*` would not be an expression.
    target.name.is_null()
        && target.indirection.is_null()
        && !target.val.is_null()
        && !unsafe { is_star(target.val) }
}

unsafe fn is_star(node: *mut pg_sys::Node) -> bool {
    if !unsafe { pgrx::is_a(node, pg_sys::NodeTag::T_ColumnRef) } {
        return false;
    }
    let fields =
        unsafe { PgList::<pg_sys::Node>::from_pg((*node.cast::<pg_sys::ColumnRef>()).fields) };
    (0..fields.len()).any(|i| {
        fields
            .get_ptr(i)
            .is_some_and(|f| unsafe { pgrx::is_a(f, pg_sys::NodeTag::T_A_Star) })
    })
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
    let (
        Some(relation),
        Some(time_column),
        Some(value_column),
        Some(from),
        Some(to),
        Some(points),
        Some(method),
    ) = (
        relation,
        time_column,
        value_column,
        from,
        to,
        points,
        method,
    )
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let request = Request::new(
        method,
        points,
        time::unix_micros(from, "from")?,
        time::unix_micros(to, "to")?,
        gap.map(|g| time::length_micros(g, "gap")).transpose()?,
    )?;
    let mut conditions = Vec::new();
    if let Some(filter) = filter {
        check_filter(filter)?;
        // On lines of its own: a trailing -- comment ends with the line.
        conditions.push(format!("(\n{filter}\n)"));
    }
    let source = Source {
        relation: relation.qualified_name()?,
        x: time_column.quoted(),
        value: value_column.quoted(),
        series: series_column.as_ref().map(SqlName::quoted),
        conditions,
        params: Vec::new(),
        axis: Axis::Time,
    };
    let mut rows = Vec::new();
    for series in downsample_window(&source, &request)? {
        let label = match (&series.label, &series_column) {
            (Some(bytes), _) => Some(String::from_utf8_lossy(bytes).into_owned()),
            (None, Some(_)) => None,
            // Without a series column the series is named after the value column.
            (None, None) => Some(value_column.0.clone()),
        };
        for (t, v) in with_gaps(&series.points, request.gap)? {
            rows.push((label.clone(), time::timestamptz_from_unix(t)?, v));
        }
    }
    Ok(TableIterator::new(rows))
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
COMMENT ON FUNCTION sensor.downsample(regclass, name, name, timestamptz, timestamptz, integer, text, name, text, interval) IS
    'Downsamples [from, to) of a table to about points points per series (methods minmax_lttb (default), lttb (exact, equal-count buckets), m4, minmax, uniform, avg), streaming the rows: memory O(points) per series. Returns (series, time, value); series is the series_column value as text, or the value column name. filter is an SQL boolean expression added to the WHERE clause; the function is SECURITY INVOKER, so the query and the filter run with the caller''s privileges. gap inserts a NULL-value row between output neighbours farther apart than gap, so Grafana breaks the line. PARALLEL RESTRICTED: the relation may be a temporary table, which parallel workers cannot read; its own query may use a parallel plan.';
COMMENT ON FUNCTION sensor.downsample_arrays(timestamptz[], float8[], integer, text) IS
    'The batch kernel on arrays of times and values: lttb is identical to the lttb crate (equal-count buckets); other methods use equal-time bins over the points'' span. NULL elements, NaN and infinite values are skipped.';
"#,
    name = "downsample_comments",
    requires = [downsample, downsample_arrays]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use crate::tests::{error_of, sqlstate_of};
    use pgrx::prelude::*;

    /// (time as text, value) rows of a query, in its order.
    fn points(sql: &str) -> Vec<(String, Option<f64>)> {
        Spi::connect(|client| {
            client
                .select(sql, None, &[])
                .unwrap()
                .map(|row| {
                    (
                        row.get::<String>(1).unwrap().unwrap_or_default(),
                        row.get::<f64>(2).unwrap(),
                    )
                })
                .collect()
        })
    }

    /// 20,000 noisy points of one series, 1 s apart, and three series of another table.
    fn setup() {
        Spi::run(
            "CREATE TABLE ds_one (ts timestamptz NOT NULL, v float8);
             INSERT INTO ds_one SELECT '2024-01-01'::timestamptz + i * interval '1 second',
                    sin(i / 300.0) + ((i * 7919) % 101) / 500.0 FROM generate_series(0, 19999) i;
             CREATE INDEX ON ds_one (ts);
             CREATE TABLE ds_multi (ts timestamptz NOT NULL, sensor text, v real);
             INSERT INTO ds_multi SELECT '2024-01-01'::timestamptz + (i / 3) * interval '1 second',
                    's' || (i % 3), cos(i / 900.0) * (1 + i % 3) FROM generate_series(0, 29999) i;
             CREATE INDEX ON ds_multi (sensor, ts);
             ANALYZE ds_one; ANALYZE ds_multi;",
        )
        .unwrap();
    }

    // From the first point of ds_one to just after its last: the span the batch kernel bins.
    const WINDOW: &str = "'2024-01-01', '2024-01-01 05:33:19.000001'";

    fn batch(points: i32, method: &str) -> Vec<(String, Option<f64>)> {
        self::points(&format!(
            "SELECT time::text, value FROM sensor.downsample_arrays(
                 (SELECT array_agg(ts ORDER BY ts) FROM ds_one),
                 (SELECT array_agg(v ORDER BY ts) FROM ds_one), {points}, '{method}')"
        ))
    }

    fn streamed(points: i32, method: &str) -> Vec<(String, Option<f64>)> {
        self::points(&format!(
            "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, {points}, '{method}')"
        ))
    }

    #[pg_test]
    fn streamed_methods_equal_the_batch_kernel() {
        setup();
        // The batch kernel bins [first, last + 1), which is exactly WINDOW here; exact lttb
        // is equal-count in both.
        for method in ["lttb", "minmax_lttb", "m4", "minmax", "avg"] {
            let want = batch(200, method);
            let got = streamed(200, method);
            assert!(!want.is_empty());
            assert_eq!(got.len(), want.len(), "{method}");
            assert_eq!(got, want, "{method}");
        }
        assert_eq!(streamed(200, "lttb").len(), 200);
        assert_eq!(streamed(200, "uniform").len(), 200);
    }

    #[pg_test]
    fn series_are_downsampled_separately() {
        setup();
        let all = points(
            "SELECT series || ' ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 50, 'lttb', series_column => 'sensor')",
        );
        assert_eq!(all.len(), 150);
        for s in ["s0", "s1", "s2"] {
            let one = points(&format!(
                "SELECT '{s} ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 50, 'lttb', filter => 'sensor = ''{s}''')"
            ));
            let part: Vec<_> = all
                .iter()
                .filter(|(k, _)| k.starts_with(s))
                .cloned()
                .collect();
            assert_eq!(part.len(), one.len(), "{s}");
            assert_eq!(part, one, "{s}");
        }
        // Without a series column the series is named after the value column.
        let name = Spi::get_one::<String>(
            "SELECT DISTINCT series FROM sensor.downsample('ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 10)",
        )
        .unwrap();
        assert_eq!(name.as_deref(), Some("v"));
    }

    #[pg_test]
    fn exact_lttb_skips_null_nan_and_repeated_times_like_the_batch_kernel() {
        setup();
        Spi::run(
            "INSERT INTO ds_one VALUES ('2024-01-01 00:10:00', NULL), ('2024-01-01 00:20:00', 'NaN'),
                                       ('2024-01-01 00:30:00', 42), ('2024-01-01 01:00:00', 'Infinity')",
        )
        .unwrap();
        // The batch kernel keeps the first of equal times in array order; give it the
        // same order as the stream (time, then the stored order of the duplicates).
        let want = points(
            "SELECT time::text, value FROM sensor.downsample_arrays(
                 (SELECT array_agg(ts ORDER BY ts, ctid) FROM ds_one),
                 (SELECT array_agg(v ORDER BY ts, ctid) FROM ds_one), 300, 'lttb')",
        );
        let got = points(&format!(
            "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 300, 'lttb')"
        ));
        assert_eq!(got.len(), 300);
        assert_eq!(got, want);
    }

    #[pg_test]
    fn gap_inserts_null_rows_between_distant_neighbours() {
        setup();
        Spi::run("DELETE FROM ds_one WHERE ts >= '2024-01-01 02:00' AND ts < '2024-01-01 03:00'")
            .unwrap();
        let rows = points(&format!(
            "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 100, 'm4', gap => '30 minutes')"
        ));
        let nulls: Vec<_> = rows.iter().filter(|(_, v)| v.is_none()).collect();
        assert_eq!(nulls.len(), 1, "{nulls:?}");
        assert_eq!(nulls[0].0, "2024-01-01 01:59:59.000001+00");
        let without = points(&format!(
            "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 100, 'm4')"
        ));
        assert_eq!(rows.len(), without.len() + 1);
        assert_eq!(
            sqlstate_of(&format!(
                "SELECT * FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 100, gap => '-1 second')"
            ))
            .as_deref(),
            Some("22023")
        );
    }

    #[pg_test]
    fn arguments_are_checked_with_deliberate_sqlstates() {
        setup();
        let call = |args: &str| format!("SELECT * FROM sensor.downsample({args})");
        let cases = [
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'lttb'", "22023"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'minmax_lttb'", "22023"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, 'spline'", "22023"),
            ("'ds_one', 'ts', 'v', '2024-01-02', '2024-01-01', 100", "22023"),
            ("'ds_one', 'ts', 'v', '-infinity', '2024-01-01', 100", "22008"),
            ("'ds_one', 'ts', 'nope', '2024-01-01', '2024-01-02', 100", "42703"),
            ("'ds_one', 'nope', 'v', '2024-01-01', '2024-01-02', 100", "42703"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, series_column => 'nope'", "42703"),
            ("'no_such_table', 'ts', 'v', '2024-01-01', '2024-01-02', 100", "42P01"),
            ("4294967295::oid::regclass, 'ts', 'v', '2024-01-01', '2024-01-02', 100", "42704"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'true) OR (true'", "22023"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'true; DROP TABLE ds_one'", "22023"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'true ORDER BY 1'", "22023"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'v > 0 --'", "OK"),
            ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'nope > 0'", "42703"),
        ];
        for (args, want) in cases {
            let got = sqlstate_of(&call(args)).unwrap_or_else(|| "OK".into());
            assert_eq!(got, want, "{args}");
        }
        assert_eq!(
            error_of(&call(
                "'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'lttb'"
            )),
            "22023|points must be at least 3 for lttb (got 2)"
        );
        assert_eq!(
            error_of(&call("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, 'spline'")),
            "22023|unknown downsampling method \"spline\" (expected lttb, minmax_lttb, m4, minmax, uniform or avg)"
        );
        // NULL for a required argument: no rows, as from a STRICT function.
        let n = Spi::get_one::<i64>(
            "SELECT count(*) FROM sensor.downsample('ds_one', 'ts', 'v', NULL, '2024-01-02', 100)",
        )
        .unwrap();
        assert_eq!(n, Some(0));
    }

    #[pg_test]
    fn the_query_runs_with_the_callers_privileges() {
        setup();
        Spi::run("CREATE ROLE ds_reader NOLOGIN").unwrap();
        Spi::run("GRANT USAGE ON SCHEMA tests, sensor TO ds_reader").unwrap();
        Spi::run("SET ROLE ds_reader").unwrap();
        let denied = sqlstate_of(
            "SELECT * FROM sensor.downsample('ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100)",
        );
        Spi::run("RESET ROLE").unwrap();
        Spi::run("GRANT SELECT ON ds_one TO ds_reader").unwrap();
        Spi::run("SET ROLE ds_reader").unwrap();
        let allowed = sqlstate_of(
            "SELECT * FROM sensor.downsample('ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100)",
        );
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(denied.as_deref(), Some("42501"));
        assert_eq!(allowed, None);
    }

    #[pg_test]
    fn an_index_serves_the_ordered_scan_without_a_sort() {
        setup();
        let source = super::Source {
            relation: "ds_multi".into(),
            x: "ts".into(),
            value: "v".into(),
            series: Some("sensor".into()),
            conditions: Vec::new(),
            params: Vec::new(),
            axis: super::Axis::Time,
        };
        Spi::run("SET LOCAL enable_seqscan = off").unwrap();
        Spi::run(&format!(
            "PREPARE ds_scan(timestamptz, timestamptz) AS {}",
            source.scan_sql(true)
        ))
        .unwrap();
        let plan = Spi::explain("EXECUTE ds_scan('2024-01-01', '2024-01-02')")
            .unwrap()
            .0
            .to_string();
        Spi::run("DEALLOCATE ds_scan").unwrap();
        assert!(plan.contains("Index"), "{plan}");
        assert!(!plan.contains("\"Sort\""), "{plan}");
    }

    #[pg_test]
    fn downsample_agg_groups_and_matches_the_stream() {
        setup();
        // Same equal-time bins as the stream: identical points per series.
        for method in ["m4", "minmax", "minmax_lttb"] {
            let agg = points(&format!(
                "SELECT s.sensor || ' ' || p.time::text, p.value FROM (
                     SELECT sensor, sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 40, '{method}') AS d
                     FROM ds_multi GROUP BY sensor) s, sensor.points(s.d) p ORDER BY s.sensor, p.time"
            ));
            let stream = points(&format!(
                "SELECT series || ' ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 40, '{method}', series_column => 'sensor')"
            ));
            assert!(!stream.is_empty());
            assert_eq!(agg.len(), stream.len(), "{method}");
            assert_eq!(agg, stream, "{method}");
        }
        let five = Spi::get_one::<i32>(
            "SELECT cardinality((sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 5)).time) FROM ds_one",
        )
        .unwrap();
        assert_eq!(five, Some(5));
        assert_eq!(
            sqlstate_of(
                "SELECT sensor.downsample_agg(ts, v, '2024-01-01', ts + interval '1 day', 5) FROM ds_one"
            )
            .as_deref(),
            Some("22023")
        );
        assert_eq!(
            sqlstate_of("SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 2, 'lttb') FROM ds_one")
                .as_deref(),
            Some("22023")
        );
        let empty = Spi::get_one::<bool>(
            "SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 5) IS NULL FROM ds_one WHERE false",
        )
        .unwrap();
        assert_eq!(empty, Some(true));
    }

    #[pg_test]
    fn parallel_partial_aggregation_equals_the_serial_plan() {
        Spi::run(
            "CREATE TABLE ds_big AS SELECT '2024-01-01'::timestamptz + i * interval '10 ms' AS ts,
                    (i % 4)::text AS sensor, sin(i / 1000.0) + ((i::int8 * 7919) % 101) / 500.0 AS v
             FROM generate_series(0, 399999) i;
             ANALYZE ds_big;",
        )
        .unwrap();
        let query = "SELECT concat_ws('|', sensor, d::text, (m).first_value, (m).max_time, (m).count,
                                      round((m).sum::numeric, 6))
                     FROM (SELECT sensor,
                                  sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-01 02:00', 60, 'minmax_lttb') AS d,
                                  sensor.m4_summary(ts, v) AS m
                           FROM ds_big GROUP BY sensor) g ORDER BY 1";
        let run = || -> Vec<String> {
            Spi::connect(|client| {
                client
                    .select(query, None, &[])
                    .unwrap()
                    .map(|row| row.get::<String>(1).unwrap().unwrap_or_default())
                    .collect()
            })
        };
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let serial = run();
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2",
        )
        .unwrap();
        let plan = Spi::explain(query).unwrap().0.to_string();
        assert!(plan.contains("Partial"), "{plan}");
        assert!(plan.contains("Gather"), "{plan}");
        let parallel = run();
        assert_eq!(serial.len(), 4);
        assert_eq!(parallel, serial);
    }

    #[pg_test]
    fn summaries_of_a_materialized_view_zoom_like_raw_rows() {
        setup();
        Spi::run(
            "CREATE MATERIALIZED VIEW ds_minutes AS
                 SELECT sensor, date_trunc('minute', ts) AS bucket, sensor.m4_summary(ts, v) AS summary
                 FROM ds_multi GROUP BY 1, 2",
        )
        .unwrap();
        // One day in 24 one-hour bins (m4, 96 points) or 1,000 bins of 86.4 s
        // (minmax_lttb, 500 points × 4 / 2): minute buckets nest in hour bins only.
        let from_summaries = points(
            "SELECT s.sensor || ' ' || p.time::text, p.value FROM (
                 SELECT sensor, sensor.downsample_summaries(bucket, summary, '2024-01-01', '2024-01-02', 96, 'm4') AS d
                 FROM ds_minutes GROUP BY sensor) s, sensor.points(s.d) p ORDER BY 1",
        );
        let from_rows = points(
            "SELECT series || ' ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 96, 'm4', series_column => 'sensor') ORDER BY 1",
        );
        assert!(!from_rows.is_empty());
        assert_eq!(from_summaries.len(), from_rows.len());
        assert_eq!(from_summaries, from_rows);
        // The summary itself: count and extremes of a minute.
        let (count, max) = Spi::get_two::<i64, f64>(
            "SELECT (summary).count, (summary).max_value FROM ds_minutes WHERE sensor = 's2' AND bucket = '2024-01-01 00:00'",
        )
        .unwrap();
        let (want_count, want_max) = Spi::get_two::<i64, f64>(
            "SELECT count(*), max(v)::float8 FROM ds_multi WHERE sensor = 's2' AND ts < '2024-01-01 00:01'",
        )
        .unwrap();
        assert_eq!(count, want_count);
        assert_eq!(max, want_max);
        // A forged inconsistent summary is refused.
        assert_eq!(
            sqlstate_of(
                "SELECT sensor.downsample_summaries(now(), ROW(now(), 1, now(), 5, now(), 0, now(), 1, 1, 1)::sensor.m4, now() - interval '1 day', now() + interval '1 day', 10)"
            )
            .as_deref(),
            Some("22P02")
        );
    }

    #[pg_test]
    fn aggregates_work_with_the_continuous_aggregate_search_path() {
        setup();
        let schema = Spi::get_one::<String>("SELECT current_schema()::text")
            .unwrap()
            .unwrap();
        Spi::run("SET LOCAL search_path = pg_catalog, pg_temp").unwrap();
        let n = Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM sensor.points((SELECT sensor.downsample_summaries(b, s, '2024-01-01', '2024-01-02', 20)
                 FROM (SELECT pg_catalog.date_trunc('minute', ts) b, sensor.m4_summary(ts, v) s FROM {schema}.ds_one GROUP BY 1) m))"
        ))
        .unwrap();
        assert_eq!(n, Some(20));
        let m = Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM sensor.downsample('{schema}.ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 20, 'lttb')"
        ))
        .unwrap();
        assert_eq!(m, Some(20));
    }
}
