//! `sensor.downsample` with an integer series column under a parallel plan: one
//! `sensor.downsample_series_agg` over the window instead of the stream, so that the
//! kernels run in the parallel workers (partial states merged exactly in the leader), not
//! all in the leader behind a Gather. Only where it gives the stream's rows: the methods
//! whose bins merge exactly (m4, minmax, minmax_lttb, uniform), time windows, and a plan
//! the planner makes parallel.

use ::downsample::Method;
use pgrx::datum::ToIsoString;

use super::aggregates::BoundedSeries;
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

/// Runs the window through `sensor.downsample_series_agg` when the planner gives that
/// query workers; see the module documentation.
pub(super) fn parallel_series_window(
    source: &Source,
    series: &Series,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<ParallelSeries> {
    let exact_merge = matches!(
        request.method,
        Method::M4 | Method::MinMax | Method::MinMaxLttb | Method::Uniform
    );
    if !exact_merge
        || !matches!(series.key, KeyColumn::Integer(_))
        || source.axis != Axis::Time
        || !source.params.is_empty()
    {
        return Ok(ParallelSeries::NotTaken);
    }
    // Before `ALTER EXTENSION ... UPDATE` to 0.4.0 the catalog has no such aggregate.
    if !crate::pg::spi::function_exists(
        "sensor.downsample_series_agg(bigint, timestamptz, float8, timestamptz, timestamptz, integer, text)",
    )? {
        return Ok(ParallelSeries::NotTaken);
    }
    // Literals, not parameters: the planner sizes the scan (and its workers) by them.
    let literal = |unix_us: i64| -> SensorResult<String> {
        let ts = time::timestamptz_from_unix(unix_us)?.to_iso_string();
        Ok(format!("{}::pg_catalog.timestamptz", quote_literal(&ts)))
    };
    let (from, to) = (literal(request.from)?, literal(request.to)?);
    // The window as the stream's query bounds it (the column itself, so an index on it
    // serves); the aggregate takes the time as timestamptz.
    let mut conditions = vec![format!(
        "{c} OPERATOR(pg_catalog.>=) {from} AND {c} OPERATOR(pg_catalog.<) {to}",
        c = source.x
    )];
    let x = format!("CAST({} AS pg_catalog.timestamptz)", source.x);
    conditions.extend(source.conditions.iter().cloned());
    let sql = format!(
        "SELECT sensor.downsample_series_agg(CAST({series} AS pg_catalog.int8), {x}, CAST({v} AS pg_catalog.float8), \
         {from}, {to}, {points}, {method}) FROM {rel} WHERE {w}",
        series = series.column,
        v = source.value,
        points = request.points,
        method = quote_literal(request.method.name()),
        rel = source.relation,
        w = conditions.join(" AND "),
    );
    let mut sink = StateSink { bytes: None };
    if stream_rows_if_parallel(&sql, 1, &mut sink)?.is_none() {
        return Ok(ParallelSeries::NotTaken);
    }
    let Some(bytes) = sink.bytes else {
        // No row in the window: no series.
        return Ok(ParallelSeries::Done);
    };
    let state = BoundedSeries::decode(&bytes)?;
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
