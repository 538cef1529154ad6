//! `sensor.downsample` under a parallel plan, so that the kernels run in the parallel
//! workers (partial states merged exactly in the leader), not all in the leader behind a
//! Gather: the window's partitions ([`super::parallel_partitions`]) where the relation can
//! be cut, else one aggregate over the window (`sensor.downsample_series_agg` with an
//! integer series column, `sensor.downsample_agg` without one). Only where it gives the
//! stream's rows: the methods whose bins merge exactly (m4, minmax, minmax_lttb, uniform),
//! time windows, and a plan the planner makes parallel.

use ::downsample::{Method, Point};

use super::aggregates::BoundedSeries;
use super::parallel_partitions::{partitioned_window, Partitioned};
use super::{Axis, Emit, Request, Series, SeriesPoints, Source};
use crate::error::{SensorError, SensorResult};
use crate::pg::quoting::quote_literal;
use crate::pg::row_groups::KeyColumn;
use crate::pg::row_stream::{stream_rows_if_parallel, Row, RowSink};
use crate::pg::time;

/// What the aggregate path did.
pub(super) enum ParallelSeries {
    /// Every series emitted.
    Done,
    /// Not taken (a serial plan, another method or key): nothing emitted.
    NotTaken,
}

/// Windows downsampled under a parallel plan, by partitions or an aggregate (tests check
/// that one was taken).
#[cfg(any(test, feature = "pg_test"))]
pub(super) static PARALLEL_WINDOWS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Runs the window by partitions, else through an aggregate, when the planner gives it
/// workers; see the module documentation.
pub(super) fn parallel_series_window(
    source: &Source,
    series: Option<&Series>,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<ParallelSeries> {
    if !merges_exactly(request.method) || source.axis != Axis::Time || !source.params.is_empty() {
        return Ok(ParallelSeries::NotTaken);
    }
    let partitioned = match &source.origin {
        Some(origin) => partitioned_window(source, origin, request, emit)?,
        None => Partitioned::NotTaken,
    };
    let taken = match (partitioned, series) {
        (Partitioned::Done, _) => ParallelSeries::Done,
        (Partitioned::OverBudget, _) => ParallelSeries::NotTaken,
        // The aggregate's series argument is an integer.
        (Partitioned::NotTaken, Some(series)) if matches!(series.key, KeyColumn::Integer(_)) => {
            series_aggregate(source, series, request, emit)?
        }
        (Partitioned::NotTaken, Some(_)) => ParallelSeries::NotTaken,
        (Partitioned::NotTaken, None) => one_series_aggregate(source, request, emit)?,
    };
    #[cfg(any(test, feature = "pg_test"))]
    if let ParallelSeries::Done = taken {
        PARALLEL_WINDOWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(taken)
}

/// Whether `method`'s bins merge exactly, so that states of parts of a window combine to
/// the serial stream's (not avg: its float sums depend on the order of the rows; not
/// lttb: its equal-count buckets depend on every row).
pub(super) fn merges_exactly(method: Method) -> bool {
    matches!(
        method,
        Method::M4 | Method::MinMax | Method::MinMaxLttb | Method::Uniform
    )
}

/// The window's conditions and bounds as the aggregate query writes them: literals, not
/// parameters, so that the planner sizes the scan (and its workers) by them.
pub(super) fn window_terms(
    source: &Source,
    request: &Request,
) -> SensorResult<(String, String, String)> {
    let (from, to) = (
        timestamptz_literal(request.from)?,
        timestamptz_literal(request.to)?,
    );
    // The window as the stream's query bounds it (the column itself, so an index on it
    // serves); the aggregate takes the time as timestamptz.
    let mut conditions = vec![format!(
        "{c} OPERATOR(pg_catalog.>=) {from} AND {c} OPERATOR(pg_catalog.<) {to}",
        c = source.x
    )];
    conditions.extend(source.conditions.iter().cloned());
    Ok((from, to, conditions.join(" AND ")))
}

/// A `timestamptz` literal of `unix_us` (µs since the Unix epoch).
pub(super) fn timestamptz_literal(unix_us: i64) -> SensorResult<String> {
    Ok(crate::pg::quoting::timestamptz_literal(
        time::timestamptz_from_unix(unix_us)?,
    ))
}

/// Every series of a merged state, over work_mem or not (`NotTaken`, nothing emitted).
pub(super) fn emit_series(
    state: BoundedSeries,
    emit: &mut Emit<'_>,
) -> SensorResult<ParallelSeries> {
    if state.over_budget {
        return Ok(ParallelSeries::NotTaken);
    }
    for (key, points) in state.buckets.finish()? {
        emit(SeriesPoints {
            label: key.label().map(String::into_bytes),
            points,
        })?;
    }
    Ok(ParallelSeries::Done)
}

/// One `sensor.downsample_series_agg` over every series of the window.
fn series_aggregate(
    source: &Source,
    series: &Series,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<ParallelSeries> {
    // Before `ALTER EXTENSION ... UPDATE` to 0.4.0 the catalog has no such aggregate.
    if !crate::pg::spi::function_exists(
        "sensor.downsample_series_agg(bigint, timestamptz, float8, timestamptz, timestamptz, integer, text)",
    )? {
        return Ok(ParallelSeries::NotTaken);
    }
    let (from, to, conditions) = window_terms(source, request)?;
    let sql = format!(
        "SELECT sensor.downsample_series_agg(CAST({series} AS pg_catalog.int8), CAST({x} AS pg_catalog.timestamptz), \
         CAST({v} AS pg_catalog.float8), {from}, {to}, {points}, {method}) FROM {rel} WHERE {conditions}",
        series = series.column,
        x = source.x,
        v = source.value,
        points = request.points,
        method = quote_literal(request.method.name()),
        rel = source.relation,
    );
    let mut sink = StateSink { bytes: None };
    if stream_rows_if_parallel(&sql, 1, &mut sink)?.is_none() {
        return Ok(ParallelSeries::NotTaken);
    }
    let Some(bytes) = sink.bytes else {
        // No row in the window: no series.
        return Ok(ParallelSeries::Done);
    };
    emit_series(BoundedSeries::decode(&bytes)?, emit)
}

/// One `sensor.downsample_agg` over the window (a series of its own): its points as rows.
fn one_series_aggregate(
    source: &Source,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<ParallelSeries> {
    let (from, to, conditions) = window_terms(source, request)?;
    let sql = format!(
        "SELECT p.\"time\", p.value FROM sensor.points((SELECT sensor.downsample_agg(CAST({x} AS pg_catalog.timestamptz), \
         CAST({v} AS pg_catalog.float8), {from}, {to}, {points}, {method}) FROM {rel} WHERE {conditions})) p",
        x = source.x,
        v = source.value,
        points = request.points,
        method = quote_literal(request.method.name()),
        rel = source.relation,
    );
    let mut sink = PointSink { points: Vec::new() };
    if stream_rows_if_parallel(&sql, 2, &mut sink)?.is_none() {
        return Ok(ParallelSeries::NotTaken);
    }
    if !sink.points.is_empty() {
        emit(SeriesPoints {
            label: None,
            points: sink.points,
        })?;
    }
    Ok(ParallelSeries::Done)
}

/// Keeps the (time, value) rows of `sensor.points`, in their order.
struct PointSink {
    points: Vec<Point>,
}

impl RowSink for PointSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let (Some(t), Some(v)) = (row.i64(0), row.f64(1)) else {
            return Err(SensorError::invalid_input("a NULL point in sensor.points"));
        };
        self.points.push(Point::new(
            time::raw_row_unix_micros(t)
                .ok_or_else(|| SensorError::invalid_input("an infinite time in sensor.points"))?,
            v,
        ));
        Ok(())
    }
}

/// Keeps the aggregate's one value (its state's bytes, or NULL).
struct StateSink {
    bytes: Option<Vec<u8>>,
}

impl RowSink for StateSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        self.bytes = row.with_text(0, |bytes| bytes.map(<[u8]>::to_vec));
        if self.bytes.as_ref().is_some_and(Vec::is_empty) {
            return Err(SensorError::invalid_input("empty series state"));
        }
        Ok(())
    }
}
