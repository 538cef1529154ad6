//! `availability_report` over a table of status events: per equipment, per bucket. One
//! scan of the window streams the events from the executor into per-equipment states; the
//! state in force before the window is each equipment's last earlier event, found by index
//! probes ([`EventSource`], shared with [`super::timeline`]).

use std::collections::HashMap;

use ::availability::{BucketSpec, BucketStates};
use pgrx::datum::{Interval as PgInterval, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;

use super::config;
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::args::RegClass;
use crate::pg::quoting::{quote_identifier, timestamptz_literal};
use crate::pg::row_groups::{GroupKey, KeyColumn, RowGroups};
use crate::pg::row_store::{RowStore, StoredRow};
use crate::pg::row_stream::{stream_rows_serial, Param, Row, RowSink};
use crate::pg::{search_path, time};

/// Receives the window's events from the executor: per equipment, the bucket states.
struct ReportSink<'a> {
    spec: &'a BucketSpec,
    groups: RowGroups<BucketStates>,
    /// The statuses seen so far (a handful), already checked as UTF-8.
    statuses: Vec<(Vec<u8>, String)>,
}

impl RowSink for ReportSink<'_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let Some(t) = row.i64(1) else { return Ok(()) };
        let spec = self.spec;
        let statuses = &mut self.statuses;
        let group = self.groups.group_of(row, |_| Ok(BucketStates::default()))?;
        row.with_text(2, |state| {
            // A NULL status is a status nobody knows.
            let state = match state {
                None => ::availability::UNKNOWN,
                Some(bytes) => match statuses.iter().position(|(b, _)| b.as_slice() == bytes) {
                    Some(i) => statuses[i].1.as_str(),
                    None => {
                        let text = std::str::from_utf8(bytes).map_err(|_| {
                            SensorError::invalid_input("a status is not valid UTF-8")
                        })?;
                        // Remember the first few; a column of free text is just checked per row.
                        if statuses.len() >= 64 {
                            return Ok(group.push(spec, t, text)?);
                        }
                        statuses.push((bytes.to_vec(), text.to_string()));
                        statuses
                            .last()
                            .map(|(_, t)| t.as_str())
                            .unwrap_or(::availability::UNKNOWN)
                    }
                },
            };
            Ok(group.push(spec, t, state)?)
        })
    }
}

/// The identifiers and window of a report, validated and quoted once.
pub(super) struct EventSource {
    pub relid: pg_sys::Oid,
    /// The columns' names, unquoted.
    pub time_column: String,
    pub state_column: String,
    pub equipment_column: Option<String>,
    pub relation: String,
    pub time: String,
    pub state: String,
    pub equipment: Option<String>,
    pub from: i64,
    pub to: i64,
}

/// The time, state and (optional) equipment columns of an event table.
pub(super) type EventColumns<'a> = (&'a str, &'a str, Option<&'a str>);

impl EventSource {
    /// The rows of a set-returning function over a table's events in [from, to): `fill`
    /// computes them from the checked source under the pinned search_path, into a
    /// tuplestore (work_mem, then a temporary file), not a vector.
    pub fn rows<R: StoredRow + 'static>(
        relation: RegClass,
        columns: EventColumns<'_>,
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
        fill: impl FnOnce(&EventSource, &mut RowStore<R>) -> SensorResult<()>,
    ) -> Result<TableIterator<'static, R>, ErrorReport> {
        let mut rows = RowStore::new();
        EventSource::pinned(relation, columns, from, to, |source| {
            fill(source, &mut rows)
        })?;
        Ok(TableIterator::new(rows.into_rows()))
    }

    /// `f` of the checked source, under the search_path the availability functions pin
    /// (their SQL runs there, in the leader as in a parallel worker).
    pub fn pinned<T>(
        relation: RegClass,
        (time_column, state_column, equipment_column): EventColumns<'_>,
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
        f: impl FnOnce(&EventSource) -> SensorResult<T>,
    ) -> SensorResult<T> {
        search_path::pinned(|| {
            let source = EventSource::new(
                relation.0,
                time_column,
                state_column,
                equipment_column,
                from,
                to,
            )?;
            f(&source)
        })
    }

    pub fn new(
        relation: pg_sys::Oid,
        time_column: &str,
        state_column: &str,
        equipment_column: Option<&str>,
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
    ) -> SensorResult<Self> {
        let (from, to) = (time::pg_micros(from, "from")?, time::pg_micros(to, "to")?);
        if from >= to {
            return Err(SensorError::invalid_parameter(
                "\"to\" must be after \"from\"",
            ));
        }
        let relation_name = RegClass(relation).qualified_name()?;
        for column in [Some(time_column), Some(state_column), equipment_column]
            .into_iter()
            .flatten()
        {
            let exists = crate::pg::spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
                &[relation.into(), column.into()],
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if !exists {
                return Err(SensorError::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{column}\" of relation {relation_name} does not exist"),
                ));
            }
        }

        Ok(EventSource {
            relid: relation,
            time_column: time_column.to_string(),
            state_column: state_column.to_string(),
            equipment_column: equipment_column.map(str::to_string),
            relation: relation_name,
            time: quote_identifier(time_column),
            state: quote_identifier(state_column),
            equipment: equipment_column.map(quote_identifier),
            from,
            to,
        })
    }

    pub fn window_literals(&self) -> SensorResult<(String, String)> {
        Ok((
            timestamptz_literal(time::timestamptz(self.from)?),
            timestamptz_literal(time::timestamptz(self.to)?),
        ))
    }

    /// Each equipment's last event before `from` (an SQL expression): columns equipment
    /// (as text when `as_text`, else of its column's type), time, state text. One index
    /// probe per equipment (a loose index scan), not a scan of history.
    pub fn last_events_sql(&self, from: &str, as_text: bool) -> String {
        let (rel, t, s) = (&self.relation, &self.time, &self.state);
        match &self.equipment {
            Some(e) => format!(
                "WITH RECURSIVE eq(v) AS (
                    (SELECT {e} FROM {rel} WHERE {e} IS NOT NULL ORDER BY {e} LIMIT 1)
                    UNION ALL
                    SELECT (SELECT {e} FROM {rel} WHERE {e} > eq.v ORDER BY {e} LIMIT 1) FROM eq WHERE eq.v IS NOT NULL)
                 SELECT eq.v{cast}, last.t, last.s
                 FROM eq CROSS JOIN LATERAL (
                    SELECT {t}::timestamptz AS t, {s}::text AS s FROM {rel}
                    WHERE {e} = eq.v AND {t} < {from} ORDER BY {t} DESC LIMIT 1) last
                 WHERE eq.v IS NOT NULL",
                cast = if as_text { "::text" } else { "" },
            ),
            None => format!(
                "SELECT NULL::text, {t}::timestamptz, {s}::text FROM {rel} WHERE {t} < {from} ORDER BY {t} DESC LIMIT 1"
            ),
        }
    }

    /// The state in force at `from` for each equipment: its last event before the window.
    fn carry_ins(&self) -> SensorResult<HashMap<Option<String>, (i64, String)>> {
        let (from, _) = self.window_literals()?;
        let query = self.last_events_sql(&from, true);
        let mut out = HashMap::new();
        crate::pg::spi::select(&query, &[], None, |row| {
            let equipment = row.get::<String>(1)?;
            let (Some(time), state) = (row.get::<TimestampWithTimeZone>(2)?, row.get::<String>(3)?)
            else {
                return Ok(());
            };
            out.insert(
                equipment,
                (
                    i64::from(time),
                    state.unwrap_or_else(|| ::availability::UNKNOWN.to_string()),
                ),
            );
            Ok(())
        })
        .map_err(spi_error)?;
        Ok(out)
    }
}

/// Per equipment, per bucket of `bucket` length from `from`: availability, uptime,
/// downtime, unknown time, outages and the last state. One scan of the window streams its
/// rows from the executor into per-bucket states (serially, in heap order, so they stay
/// exact with small buffers); the state in force at `from` is each equipment's last
/// earlier event, found by index probes, and carries from bucket to bucket.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn availability_report(
    relation: Option<RegClass>,
    time_column: Option<&str>,
    state_column: Option<&str>,
    equipment_column: Option<&str>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    bucket: default!(Option<PgInterval>, "'1 hour'"),
    weights: default!(Option<JsonB>, "NULL"),
    liveness: default!(Option<PgInterval>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(equipment, Option<String>),
            name!(time, Option<TimestampWithTimeZone>),
            name!(availability, Option<f64>),
            name!(uptime, Option<PgInterval>),
            name!(downtime, Option<PgInterval>),
            name!(unknown_time, Option<PgInterval>),
            name!(outages, Option<i64>),
            name!(last_state, Option<String>),
            name!(approximate, bool),
        ),
    >,
    ErrorReport,
> {
    // NULL for a required argument gives no rows, as a STRICT function would.
    let (Some(relation), Some(time_column), Some(state_column), Some(from), Some(to), Some(bucket)) =
        (relation, time_column, state_column, from, to, bucket)
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let columns = (time_column, state_column, equipment_column);
    EventSource::rows(relation, columns, from, to, |source, rows| {
        report_rows(source, bucket, weights, liveness, rows)
    })
}

type ReportSqlRow = (
    Option<String>,
    Option<TimestampWithTimeZone>,
    Option<f64>,
    Option<PgInterval>,
    Option<PgInterval>,
    Option<PgInterval>,
    Option<i64>,
    Option<String>,
    bool,
);

fn report_rows(
    source: &EventSource,
    bucket: PgInterval,
    weights: Option<JsonB>,
    liveness: Option<PgInterval>,
    rows: &mut RowStore<ReportSqlRow>,
) -> SensorResult<()> {
    let width = time::length_micros(bucket, "bucket")?;
    if (source.to - source.from) / width >= 10_000_000 {
        return Err(SensorError::invalid_parameter(
            "bucket is too small for the window (more than 10,000,000 buckets)",
        ));
    }
    let spec = BucketSpec {
        config: config(weights, liveness, None)?,
        from: source.from,
        to: source.to,
        width,
    };
    let key = match &source.equipment_column {
        Some(column) => KeyColumn::of(source.relid, column)?,
        None => KeyColumn::Text,
    };
    // In parallel when the setting allows and the planner says so: by shares where rows
    // have heap positions (report_share), by partitions elsewhere, as on compressed chunks
    // (report_partitions); else one serial scan.
    let parallel = if !super::report_share::parallel_report_enabled() {
        None
    } else if super::report_share::rows_have_heap_positions(source.relid)? {
        super::report_share::parallel_groups(source, &spec, key)?
    } else {
        super::report_partitions::partitioned_groups(source, &spec)?
    };
    let groups = match parallel {
        Some(groups) => groups,
        None => serial_groups(source, &spec, key)?,
    };
    let carry = source.carry_ins()?;
    let mut groups: HashMap<Option<String>, BucketStates> = groups
        .into_iter()
        .map(|(key, states)| (key.label(), states))
        .collect();
    for e in carry.keys() {
        groups.entry(e.clone()).or_default();
    }
    let mut groups: Vec<(Option<String>, BucketStates)> = groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (e, states) in groups {
        for r in states.into_rows(&spec, carry.get(&e).cloned()) {
            let r = r?;
            rows.push((
                e.clone(),
                time::timestamptz(r.time).ok(),
                r.availability,
                time::interval(r.uptime),
                time::interval(r.downtime),
                time::interval(r.unknown),
                r.outages,
                r.last_state,
                r.approximate,
            ));
        }
    }
    Ok(())
}

/// Each equipment's bucket states from one serial scan: in heap order, so the states stay
/// exact with small buffers (a Gather would interleave workers' rows).
pub(super) fn serial_groups(
    source: &EventSource,
    spec: &BucketSpec,
    key: KeyColumn,
) -> SensorResult<Vec<(GroupKey, BucketStates)>> {
    let equipment = match &source.equipment {
        Some(e) => key.select_expr(e),
        None => "NULL::pg_catalog.text".to_string(),
    };
    let query = format!(
        "SELECT {equipment}, {t}::timestamptz, {s}::text FROM {rel} WHERE {t} >= $1 AND {t} < $2",
        t = source.time,
        s = source.state,
        rel = source.relation
    );
    let mut sink = ReportSink {
        spec,
        groups: RowGroups::new(key, 0),
        statuses: Vec::new(),
    };
    stream_rows_serial(
        &query,
        &[
            Param::timestamptz(source.from),
            Param::timestamptz(source.to),
        ],
        3,
        &mut sink,
    )?;
    Ok(sink.groups.into_sorted())
}

fn spi_error(err: pgrx::spi::SpiError) -> SensorError {
    SensorError::internal_query("reading the events", err)
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION sensor.availability_report(regclass, text, text, text, timestamptz, timestamptz, interval, jsonb, interval) IS
    'One row per equipment per bucket over [from, to): availability, uptime, downtime, unknown time, outages and the last state (approximate is true only if a bucket received more than 1,024 events out of time order). The state in force before "from" is looked up per equipment (its last earlier event) and carried into every bucket.';
"#,
    name = "availability_report",
    requires = [availability_report]
);
