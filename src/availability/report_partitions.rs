//! `availability_report` under a parallel plan on a hypertable with compressed chunks,
//! where the shares of `report_share` cannot work (decompressed rows have no heap
//! position): the window cut at the chunks' starts, rounded to the report's bucket grid,
//! each part read by `sensor.availability_report_partition` in whichever process runs it
//! (one query, a `Gather` over a `Parallel Append`, as downsampling's partitions) with the
//! serial scan's own sink. A bucket's events all come from one part, so the parts' bucket
//! states merge to those of the serial scan; the leader carries the state from bucket to
//! bucket as the serial report does.

use std::collections::HashMap;

use ::availability::{BucketSpec, BucketStates};
use pgrx::prelude::*;

use super::report::{serial_groups, EventSource};
use crate::error::{SensorError, SensorResult, SqlResult};
use crate::pg::args::RegClass;
use crate::pg::quoting::{quote_literal, timestamptz_literal};
use crate::pg::row_groups::{GroupKey, KeyColumn};
use crate::pg::row_stream::{parallel_plan, stream_rows_if_parallel, Row, RowSink};
use crate::pg::time;

const PARTITION_SIGNATURE: &str = "sensor.availability_report_partition(regclass, text, text, text, bytea, timestamptz, timestamptz)";

/// Each equipment's bucket states read by partitions, or `None` (nothing run) when the
/// planner keeps the window serial or the relation is not a hypertable chunked by the
/// report's time column. For relations whose rows have no heap position (the report
/// chooses: see `report_rows`).
pub(super) fn partitioned_groups(
    source: &EventSource,
    spec: &BucketSpec,
) -> SensorResult<Option<Vec<(GroupKey, BucketStates)>>> {
    // Before `ALTER EXTENSION ... UPDATE` to 0.4.0 the catalog has no such function.
    if !crate::pg::spi::function_exists(PARTITION_SIGNATURE)? {
        return Ok(None);
    }
    let (from, to) = source.window_literals()?;
    let probe = format!(
        "SELECT pg_catalog.count(*) FROM {rel} WHERE {t} OPERATOR(pg_catalog.>=) {from} AND {t} OPERATOR(pg_catalog.<) {to}",
        t = source.time,
        rel = source.relation,
    );
    if parallel_plan(&probe)?.is_none() || !crate::pg::timescaledb::is_hypertable(source.relid)? {
        return Ok(None);
    }
    let time_column = source.time_column.as_str();
    let Some(starts) = crate::pg::timescaledb::window_chunk_starts(
        source.relid,
        time_column,
        time::timestamptz(source.from)?,
        time::timestamptz(source.to)?,
    )?
    else {
        return Ok(None);
    };
    let starts: Vec<i64> = starts
        .into_iter()
        .map(|t| time::pg_micros(t, "chunk start"))
        .collect::<SensorResult<_>>()?;
    let bounds = grid_bounds(spec, &starts, crate::pg::partitions::partition_count()?);
    if bounds.len() < 3 {
        return Ok(None);
    }
    let spec_hex = super::report_share::spec_hex(spec)?;
    let text = |v: Option<&str>| v.map_or_else(|| "NULL".to_string(), quote_literal);
    let calls = bounds
        .windows(2)
        .map(|part| -> SensorResult<String> {
            Ok(format!(
                "SELECT p FROM sensor.availability_report_partition(CAST(CAST({oid} AS pg_catalog.oid) AS pg_catalog.regclass), \
                 {time}, {state}, {equipment}, pg_catalog.decode('{spec_hex}', 'hex'), {from}, {to}) p",
                oid = source.relid.to_u32(),
                time = text(Some(time_column)),
                state = text(Some(&source.state_column)),
                equipment = text(source.equipment_column.as_deref()),
                from = timestamptz_literal(time::timestamptz(part[0])?),
                to = timestamptz_literal(time::timestamptz(part[1])?),
            ))
        })
        .collect::<SensorResult<Vec<_>>>()?;
    let mut sink = GroupsSink {
        groups: HashMap::new(),
    };
    if stream_rows_if_parallel(&calls.join(" UNION ALL "), 1, &mut sink)?.is_none() {
        return Ok(None);
    }
    let mut groups: Vec<(GroupKey, BucketStates)> = sink.groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(groups))
}

/// The window's bounds cut at up to `count - 1` of the chunk starts (PostgreSQL µs),
/// rounded down to the bucket grid so that no bucket spans two parts; ascending, `from`
/// and `to` included.
fn grid_bounds(spec: &BucketSpec, starts: &[i64], count: usize) -> Vec<i64> {
    let mut cuts: Vec<i64> = starts
        .iter()
        .map(|&s| spec.from + (s - spec.from).div_euclid(spec.width) * spec.width)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    crate::pg::partitions::bounds(spec.from, spec.to, &cuts, count)
}

/// Merges the parts' bucket states per equipment as they arrive.
struct GroupsSink {
    groups: HashMap<GroupKey, BucketStates>,
}

impl RowSink for GroupsSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let Some(groups) = row.with_text(0, |bytes| bytes.map(BucketStates::groups_from_bytes))
        else {
            return Err(SensorError::invalid_input("a NULL report partition"));
        };
        for (key, states) in groups.map_err(SensorError::from)? {
            match self.groups.get_mut(&key) {
                Some(mine) => mine.merge(states).map_err(SensorError::from)?,
                None => {
                    self.groups.insert(key, states);
                }
            }
        }
        Ok(())
    }
}

/// One part of `sensor.availability_report`'s window, read in the process that calls it
/// (a parallel worker, or the leader): each equipment's bucket states for the events of
/// `[part_from, part_to)`, binned by `spec` (the report's window, bucket width and
/// settings, as `availability_report` writes them), as bytes. Internal to
/// `sensor.availability_report` under a parallel plan; the caller needs SELECT on the
/// relation, as for the report.
#[pg_extern(
    stable,
    parallel_safe,
    sql = "CREATE FUNCTION sensor.availability_report_partition(relation regclass, time_column text, state_column text, equipment_column text, spec bytea, part_from timestamptz, part_to timestamptz) RETURNS bytea
LANGUAGE c STABLE PARALLEL SAFE COST 1000000 AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn availability_report_partition(
    relation: Option<RegClass>,
    time_column: Option<&str>,
    state_column: Option<&str>,
    equipment_column: Option<&str>,
    spec: Option<&[u8]>,
    part_from: Option<TimestampWithTimeZone>,
    part_to: Option<TimestampWithTimeZone>,
) -> SqlResult<Option<Vec<u8>>> {
    let (Some(relation), Some(time_column), Some(state_column), Some(spec), Some(from), Some(to)) = (
        relation,
        time_column,
        state_column,
        spec,
        part_from,
        part_to,
    ) else {
        return Ok(None);
    };
    let spec = BucketSpec::from_bytes(spec).map_err(SensorError::from)?;
    let columns = (time_column, state_column, equipment_column);
    let groups = EventSource::pinned(relation, columns, from, to, |source| {
        let key = match equipment_column {
            Some(column) => KeyColumn::of(relation.0, column)?,
            None => KeyColumn::Text,
        };
        serial_groups(source, &spec, key)
    })?;
    Ok(Some(BucketStates::groups_to_bytes(&groups)))
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION sensor.availability_report_partition(regclass, text, text, text, bytea, timestamptz, timestamptz) IS
    'Internal to sensor.availability_report under a parallel plan on a hypertable with compressed chunks: each equipment''s bucket states for the events of one part of the window, read in the process that calls it. Its arguments and bytes are internal (they may change in any version); call sensor.availability_report instead.';
"#,
    name = "availability_report_partition_comment",
    requires = [availability_report_partition]
);

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn grid_bounds_round_chunk_starts_down_to_buckets() {
        let spec = BucketSpec {
            config: ::availability::AvailabilityConfig::default(),
            from: 100,
            to: 1_000,
            width: 60,
        };
        // 130 -> 100 (the window's start, dropped), 250 -> 220, 610 -> 580, 2000 outside.
        assert_eq!(
            grid_bounds(&spec, &[130, 250, 610, 2_000], 8),
            vec![100, 220, 580, 1_000]
        );
        assert_eq!(grid_bounds(&spec, &[], 8), vec![100, 1_000]);
        // Many chunks, few parts: cuts chosen among them, still on the grid.
        let starts: Vec<i64> = (1..15).map(|i| 100 + i * 60).collect();
        let b = grid_bounds(&spec, &starts, 4);
        assert_eq!(b.len(), 5);
        assert!(b.iter().all(|x| (x - 100) % 60 == 0 || *x == 1_000));
    }
}
