//! A window's scan split into partitions that parallel workers read with the serial
//! stream's per-row cost (no aggregate machinery per row): the leader runs one query,
//! `Gather` over a `Parallel Append` of `sensor.downsample_partition` calls, each of which
//! scans its part of the window in whichever process runs it and returns its per-series
//! buckets as bytes; the leader merges them exactly (the methods of
//! [`super::parallel_series`]). A plain table (or materialized view) read whole is cut into
//! block ranges (TID range scans), one read through an index into equal time ranges, a
//! hypertable at its chunks' time boundaries (each chunk read by one partition).

use ::downsample::MethodBuckets;
use pgrx::prelude::*;

use super::aggregates::BoundedSeries;
use super::aggregates::RangeBins;
use super::parallel_series::{
    emit_series, merges_exactly, timestamptz_literal, window_terms, ParallelSeries,
};
use super::window_call::WindowCall;
use super::{Emit, GroupedSink, RelationWindow, Request, Source};
use crate::error::{SensorError, SensorResult, SqlResult};
use crate::pg::args::{RegClass, SqlName};
use crate::pg::quoting::quote_literal;
use crate::pg::row_groups::{IntWidth, KeyColumn};
use crate::pg::row_stream::{
    parallel_plan, stream_rows_if_parallel, stream_rows_serial, Row, RowSink,
};
use crate::pg::time;

/// What the partitioned path did.
pub(super) enum Partitioned {
    Done,
    /// Not taken (no parallel plan, not a plain table or a hypertable by its time column):
    /// nothing emitted.
    NotTaken,
    /// The series did not fit in `work_mem`: nothing emitted, and an aggregate would not
    /// fit either.
    OverBudget,
}

/// Windows downsampled by partitions (tests check that the path was taken).
#[cfg(any(test, feature = "pg_test"))]
pub(super) static PARTITIONED_WINDOWS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Where a partition's rows are, beyond the window's own conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    /// Its time range, within the window (µs since the Unix epoch).
    from: i64,
    to: i64,
    /// Its heap blocks `[first, end)` (`end` None: to the end of the table).
    blocks: Option<(i64, Option<i64>)>,
}

/// Downsamples the window by partitions when the planner would read it in parallel.
pub(super) fn partitioned_window(
    source: &Source,
    origin: &RelationWindow,
    request: &Request,
    emit: &mut Emit<'_>,
) -> SensorResult<Partitioned> {
    // Before `ALTER EXTENSION ... UPDATE` to 0.4.0 the catalog has no such function.
    if !crate::pg::spi::function_exists(PARTITION_SIGNATURE)? {
        return Ok(Partitioned::NotTaken);
    }
    // The planner's own decision for this window: a parallel count also means that the
    // filter is parallel safe, so workers may evaluate it.
    let (_, _, conditions) = window_terms(source, request)?;
    let probe = format!(
        "SELECT pg_catalog.count(*) FROM {} WHERE {conditions}",
        source.relation
    );
    let Some(plan) = parallel_plan(&probe)? else {
        return Ok(Partitioned::NotTaken);
    };
    let parts = partitions(
        origin,
        request,
        plan.sequential,
        crate::pg::partitions::partition_count()?,
    )?;
    if parts.len() < 2 {
        return Ok(Partitioned::NotTaken);
    }
    let calls: Vec<String> = parts
        .iter()
        .map(|part| partition_call(origin, request, part))
        .collect::<SensorResult<_>>()?;
    let mut sink = MergeSink { merged: None };
    if stream_rows_if_parallel(&calls.join(" UNION ALL "), 1, &mut sink)?.is_none() {
        return Ok(Partitioned::NotTaken);
    }
    let Some(state) = sink.merged else {
        return Ok(Partitioned::Done);
    };
    if let ParallelSeries::NotTaken = emit_series(state, emit)? {
        return Ok(Partitioned::OverBudget);
    }
    #[cfg(any(test, feature = "pg_test"))]
    PARTITIONED_WINDOWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Partitioned::Done)
}

const PARTITION_SIGNATURE: &str = "sensor.downsample_partition(regclass, name, name, name, text, timestamptz, timestamptz, integer, text, timestamptz, timestamptz, bigint, bigint)";

/// The window's partitions: time ranges cut at a hypertable's chunk starts (by its time
/// column); block ranges of a plain table or materialized view the planner would read
/// whole, else equal time ranges (each an index range); none for anything else.
fn partitions(
    origin: &RelationWindow,
    request: &Request,
    sequential: bool,
    count: usize,
) -> SensorResult<Vec<Part>> {
    if crate::pg::timescaledb::is_hypertable(origin.relation)? {
        let cuts = crate::pg::timescaledb::window_chunk_starts(
            origin.relation,
            &origin.time_column,
            time::timestamptz_from_unix(request.from)?,
            time::timestamptz_from_unix(request.to)?,
        )?;
        let Some(cuts) = cuts else {
            return Ok(Vec::new());
        };
        let cuts: Vec<i64> = cuts
            .into_iter()
            .map(|t| time::unix_micros(t, "chunk start"))
            .collect::<SensorResult<_>>()?;
        return Ok(time_parts(request.from, request.to, &cuts, count));
    }
    let blocks = crate::pg::spi::get_one_with_args::<i64>(
        "SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) ANY ('{r,m}') \
         THEN pg_catalog.pg_relation_size(c.oid) OPERATOR(pg_catalog./) pg_catalog.current_setting('block_size')::pg_catalog.int8 END \
         FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
        &[origin.relation.into()],
    )
    .map_err(|e| SensorError::internal_query("reading a table's size", e))?;
    Ok(match blocks {
        None => Vec::new(),
        Some(blocks) if sequential => block_parts(request.from, request.to, blocks, count),
        Some(_) => {
            let span = i128::from(request.to) - i128::from(request.from);
            let cuts: Vec<i64> = (1..count)
                .filter_map(|i| {
                    i64::try_from(i128::from(request.from) + span * i as i128 / count as i128).ok()
                })
                .collect();
            time_parts(request.from, request.to, &cuts, count)
        }
    })
}

/// `[from, to)` cut at up to `count - 1` of `cuts` (ascending), evenly chosen.
fn time_parts(from: i64, to: i64, cuts: &[i64], count: usize) -> Vec<Part> {
    crate::pg::partitions::bounds(from, to, cuts, count)
        .windows(2)
        .map(|b| Part {
            from: b[0],
            to: b[1],
            blocks: None,
        })
        .collect()
}

/// `blocks` heap blocks in `count` ranges (the last open: rows a concurrent insert adds
/// beyond them are not in the snapshot, but the scan stays complete).
fn block_parts(from: i64, to: i64, blocks: i64, count: usize) -> Vec<Part> {
    let count = i64::try_from(count).unwrap_or(1).clamp(1, blocks.max(1));
    (0..count)
        .map(|i| Part {
            from,
            to,
            blocks: Some((
                blocks * i / count,
                (i + 1 < count).then(|| blocks * (i + 1) / count),
            )),
        })
        .collect()
}

/// One partition's `SELECT` in the leader's `UNION ALL`.
fn partition_call(origin: &RelationWindow, request: &Request, part: &Part) -> SensorResult<String> {
    let name = |n: &str| format!("CAST({} AS pg_catalog.name)", quote_literal(n));
    let bigint = |b: Option<i64>| b.map_or_else(|| "NULL".to_string(), |b| b.to_string());
    Ok(format!(
        "SELECT s FROM sensor.downsample_partition(CAST(CAST({oid} AS pg_catalog.oid) AS pg_catalog.regclass), \
         {time}, {value}, {series}, {filter}, {from}, {to}, {points}, {method}, {part_from}, {part_to}, \
         {first_block}, {end_block}) s",
        oid = origin.relation.to_u32(),
        time = name(&origin.time_column),
        value = name(&origin.value_column),
        series = origin.series_column.as_deref().map_or_else(|| "NULL".to_string(), name),
        filter = origin
            .filter
            .as_deref()
            .map_or_else(|| "NULL".to_string(), quote_literal),
        from = timestamptz_literal(request.from)?,
        to = timestamptz_literal(request.to)?,
        points = request.points,
        method = quote_literal(request.method.name()),
        part_from = timestamptz_literal(part.from)?,
        part_to = timestamptz_literal(part.to)?,
        first_block = bigint(part.blocks.map(|b| b.0)),
        end_block = bigint(part.blocks.and_then(|b| b.1)),
    ))
}

/// Merges the partitions' states as they arrive.
struct MergeSink {
    merged: Option<BoundedSeries>,
}

impl RowSink for MergeSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let Some(state) = row.with_text(0, |bytes| bytes.map(BoundedSeries::decode)) else {
            return Err(SensorError::invalid_input("a NULL partition state"));
        };
        let state = state?;
        match &mut self.merged {
            Some(merged) => merged.merge(&state),
            None => {
                self.merged = Some(state);
                Ok(())
            }
        }
    }
}

/// One partition of `sensor.downsample`'s window, read in the process that calls it (a
/// parallel worker, or the leader): the rows of `[part_from, part_to)` (and of heap blocks
/// `[first_block, end_block)` when given) binned over the whole window `[from, to)`, as
/// the bytes of per-series buckets that merge exactly. Internal to `sensor.downsample`
/// under a parallel plan; the caller needs SELECT on the relation, as for
/// `sensor.downsample`.
#[pg_extern(
    stable,
    parallel_safe,
    sql = "CREATE FUNCTION sensor.downsample_partition(relation regclass, time_column name, value_column name, series_column name, filter text, \"from\" timestamptz, \"to\" timestamptz, points integer, method text, part_from timestamptz, part_to timestamptz, first_block bigint, end_block bigint) RETURNS bytea
LANGUAGE c STABLE PARALLEL SAFE COST 1000000 AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
#[allow(clippy::too_many_arguments)]
fn downsample_partition(
    relation: Option<RegClass>,
    time_column: Option<SqlName>,
    value_column: Option<SqlName>,
    series_column: Option<SqlName>,
    filter: Option<&str>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    points: Option<i32>,
    method: Option<&str>,
    part_from: Option<TimestampWithTimeZone>,
    part_to: Option<TimestampWithTimeZone>,
    first_block: Option<i64>,
    end_block: Option<i64>,
) -> SqlResult<Option<Vec<u8>>> {
    let Some(call) = WindowCall::of(
        (relation, time_column, value_column, series_column),
        (from, to, points, method, None),
        filter,
    )?
    else {
        return Ok(None);
    };
    let (Some(part_from), Some(part_to)) = (part_from, part_to) else {
        return Ok(None);
    };
    let request = call.request;
    if !merges_exactly(request.method) {
        return Err(SensorError::invalid_parameter(format!(
            "method {} has no partitioned form (m4, minmax, minmax_lttb and uniform do)",
            request.method.name()
        ))
        .into());
    }
    let mut source = call.source()?;
    // Without a series column the scan's leading column is absent (NULL): one group.
    let key = source
        .series
        .as_ref()
        .map_or(KeyColumn::Integer(IntWidth::Int8), |s| s.key);
    if let Some(first) = first_block {
        source.conditions.push(block_condition(first, end_block)?);
    }
    let scan = Request {
        from: time::unix_micros(part_from, "part_from")?,
        to: time::unix_micros(part_to, "part_to")?,
        ..request
    };
    let (sql, columns) = match &source.series {
        Some(series) => (source.grouped_scan_sql(series), 3.into()),
        None => {
            let scan = source.scan_sql(false);
            (scan.sql, scan.columns)
        }
    };
    // The serial stream's kernels, per series; their states leave as mergeable buckets.
    let mut sink = GroupedSink::new(&request, source.axis, key)?;
    let streamed = stream_rows_serial(&sql, &source.all_params(&scan), columns, &mut sink);
    let mut state = BoundedSeries::new(request.from, request.to, request.points, request.method)?;
    if sink.over_budget {
        // Over work_mem the sink stopped the scan; the state says so.
        state.over_budget = true;
        return Ok(Some(state.to_bytes()));
    }
    streamed?;
    for (key, kernel) in sink.groups.into_sorted() {
        let (buckets, method) = kernel.into_state();
        state
            .buckets
            .add_series(&key, MethodBuckets { method, buckets })
            .map_err(SensorError::from)?;
    }
    Ok(Some(state.to_bytes()))
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION sensor.downsample_partition(regclass, name, name, name, text, timestamptz, timestamptz, integer, text, timestamptz, timestamptz, bigint, bigint) IS
    'Internal to sensor.downsample under a parallel plan: one partition of the window (a time range, and heap blocks [first_block, end_block) when given) read in the process that calls it, returned as per-series buckets over the whole window that sensor.downsample merges. Its bytes are internal (they may change in any version); call sensor.downsample instead.';
"#,
    name = "downsample_partition_comment",
    requires = [downsample_partition]
);

/// `ctid` within heap blocks `[first, end)`: a TID range scan reads only those.
fn block_condition(first: i64, end: Option<i64>) -> SensorResult<String> {
    let block = |b: i64| -> SensorResult<u32> {
        u32::try_from(b).map_err(|_| SensorError::invalid_parameter("a block number out of range"))
    };
    let mut condition = format!(
        "ctid OPERATOR(pg_catalog.>=) CAST('({},0)' AS pg_catalog.tid)",
        block(first)?
    );
    if let Some(end) = end {
        condition.push_str(&format!(
            " AND ctid OPERATOR(pg_catalog.<) CAST('({},0)' AS pg_catalog.tid)",
            block(end)?
        ));
    }
    Ok(condition)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn block_parts_cover_every_block_once_and_leave_the_last_open() {
        let parts = block_parts(0, 1, 10, 4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].blocks, Some((0, Some(2))));
        assert_eq!(parts[3].blocks, Some((7, None)));
        for pair in parts.windows(2) {
            assert_eq!(
                pair[0].blocks.and_then(|b| b.1),
                pair[1].blocks.map(|b| b.0)
            );
        }
        // Fewer blocks than partitions: one per block; an empty table: one part.
        assert_eq!(block_parts(0, 1, 2, 6).len(), 2);
        assert_eq!(block_parts(0, 1, 0, 6).len(), 1);
    }
}
