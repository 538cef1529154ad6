//! `state_timeline`: the status history as intervals, for Grafana's state-timeline panel.
//!
//! One stream ordered by equipment, then time, carries each equipment's last event before
//! the window and its events in the window. Memory does not grow with the history: an
//! equipment's timeline is cut into chunks of events, each chunk's intervals go to the row
//! store (work_mem, then a temporary file) when the chunk is full, and the next chunk
//! starts from the last event before it, so the intervals are those of the whole history.

use ::availability::{AvailabilityConfig, AvailabilityState};
use pgrx::datum::{Interval as PgInterval, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;

use super::config;
use super::report::EventSource;
use crate::error::{SensorError, SensorResult};
use crate::pg::args::RegClass;
use crate::pg::row_store::RowStore;
use crate::pg::row_stream::{stream_rows, Param, Row, RowSink};
use crate::pg::time;

/// Events per chunk of one equipment's timeline (about 1.5 MB of state); small in tests,
/// so that they cross chunk boundaries.
#[cfg(not(any(test, feature = "pg_test")))]
const CHUNK_EVENTS: u64 = 65_536;
#[cfg(any(test, feature = "pg_test"))]
const CHUNK_EVENTS: u64 = 100;

/// The status history as intervals per equipment; with `points`, at most that many
/// intervals per equipment, keeping the worst state of each slot (for Grafana's
/// state-timeline panel).
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn state_timeline(
    relation: Option<RegClass>,
    time_column: Option<&str>,
    state_column: Option<&str>,
    equipment_column: default!(Option<&str>, "NULL"),
    from: default!(Option<TimestampWithTimeZone>, "NULL"),
    to: default!(Option<TimestampWithTimeZone>, "NULL"),
    points: default!(Option<i32>, "NULL"),
    weights: default!(Option<JsonB>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(equipment, Option<String>),
            name!(state, Option<String>),
            name!(start, Option<TimestampWithTimeZone>),
            name!(end, Option<TimestampWithTimeZone>),
            name!(duration, Option<PgInterval>),
        ),
    >,
    ErrorReport,
> {
    // NULL for a required argument gives no rows, as a STRICT function would.
    let (Some(relation), Some(time_column), Some(state_column)) =
        (relation, time_column, state_column)
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let (Some(from), Some(to)) = (from, to) else {
        return Err(SensorError::invalid_parameter("\"from\" and \"to\" are required").into());
    };
    let columns = (time_column, state_column, equipment_column);
    EventSource::rows(relation, columns, from, to, |source, rows| {
        timeline_rows(source, points, weights, rows)
    })
}

type TimelineRow = (
    Option<String>,
    Option<String>,
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    Option<PgInterval>,
);

fn timeline_rows(
    source: &EventSource,
    points: Option<i32>,
    weights: Option<JsonB>,
    out: &mut RowStore<TimelineRow>,
) -> SensorResult<()> {
    let points = points
        .map(|p| {
            u64::try_from(p).map_err(|_| SensorError::invalid_parameter("points must be positive"))
        })
        .transpose()?;
    let config = config(weights, None, None)?;
    // One stream ordered by equipment (the column's own order, which an (equipment, time)
    // index serves) and time: each equipment's last earlier event, then its events in the
    // window. An equipment's timeline is done when the next equipment starts.
    let (rel, t, s) = (&source.relation, &source.time, &source.state);
    let query = match &source.equipment {
        Some(e) => format!(
            "SELECT u.e::text, u.t, u.s FROM (
                SELECT {e} AS e, {t}::timestamptz AS t, {s}::text AS s FROM {rel} WHERE {t} >= $1 AND {t} < $2
                UNION ALL
                ({carry})) u(e, t, s)
             ORDER BY u.e, u.t",
            carry = source.last_events_sql("$1", false),
        ),
        None => format!(
            "SELECT NULL::text, u.t, u.s FROM (
                SELECT {t}::timestamptz AS t, {s}::text AS s FROM {rel} WHERE {t} >= $1 AND {t} < $2
                UNION ALL
                (SELECT {t}::timestamptz, {s}::text FROM {rel} WHERE {t} < $1 ORDER BY {t} DESC LIMIT 1)) u(t, s)
             ORDER BY u.t"
        ),
    };
    let mut sink = TimelineSink {
        config,
        window: (source.from, source.to),
        points,
        current: None,
        out,
    };
    stream_rows(
        &query,
        &[
            Param::timestamptz(source.from),
            Param::timestamptz(source.to),
        ],
        3,
        &mut sink,
    )?;
    sink.finish_equipment()
}

/// One equipment's timeline being built: the state of its current chunk of events.
struct EquipmentTimeline {
    equipment: Option<String>,
    state: AvailabilityState,
    /// Events pushed into `state`.
    events: u64,
    /// The last event pushed: where the next chunk starts from.
    last_time: Option<i64>,
    last_status: String,
    /// The last interval handed out, held back: the next chunk's first interval may
    /// continue it.
    pending: Option<(String, i64, i64)>,
}

/// Rows ordered by equipment, then time: one equipment's timeline grows at a time, and its
/// intervals go to the row store chunk by chunk.
struct TimelineSink<'a> {
    config: AvailabilityConfig,
    window: (i64, i64),
    points: Option<u64>,
    current: Option<EquipmentTimeline>,
    out: &'a mut RowStore<TimelineRow>,
}

impl TimelineSink<'_> {
    /// Hands out the intervals of the current chunk that start before `until` (clipped to
    /// it) and holds back the last one.
    fn flush(&mut self, until: i64) {
        let Some(current) = &mut self.current else {
            return;
        };
        let (out, equipment, pending) = (&mut *self.out, &current.equipment, &mut current.pending);
        current.state.for_each_interval(|name, start, end| {
            if start < until {
                hand_out(out, equipment, pending, name, start, end.min(until));
            }
        });
    }

    fn finish_equipment(&mut self) -> SensorResult<()> {
        match self.points {
            None => self.flush(i64::MAX),
            Some(points) => {
                let Some(current) = &mut self.current else {
                    return Ok(());
                };
                let (from, to) = self.window;
                let reduced = ::availability::reduce_timeline(
                    &current.state.timeline(),
                    from,
                    to,
                    points,
                    self.config.weights(),
                )?;
                for iv in reduced {
                    hand_out(
                        self.out,
                        &current.equipment,
                        &mut current.pending,
                        &iv.state,
                        iv.start,
                        iv.end,
                    );
                }
            }
        }
        if let Some(current) = self.current.take() {
            if let Some((name, start, end)) = current.pending {
                self.out
                    .push(timeline_row(&current.equipment, &name, start, end));
            }
        }
        Ok(())
    }

    /// Starts a new chunk at `t` (after the last event): the chunk so far is final up to
    /// `t`, and the new one is seeded with the last event as its carry-in.
    fn next_chunk(&mut self, t: i64) -> SensorResult<()> {
        self.flush(t);
        let Some(current) = &mut self.current else {
            return Ok(());
        };
        let mut state = AvailabilityState::new(self.config.clone(), t, self.window.1, None)?;
        if let Some(last) = current.last_time {
            state.push(last, &current.last_status)?;
        }
        current.state = state;
        current.events = 0;
        Ok(())
    }
}

/// Adds the interval `[start, end)` of `name` to the held-back one if it continues it,
/// else hands out the held-back one and holds this one back.
fn hand_out(
    out: &mut RowStore<TimelineRow>,
    equipment: &Option<String>,
    pending: &mut Option<(String, i64, i64)>,
    name: &str,
    start: i64,
    end: i64,
) {
    if end <= start {
        return;
    }
    if let Some((held, _, held_end)) = pending {
        if held == name && *held_end == start {
            *held_end = end;
            return;
        }
    }
    if let Some((held, a, b)) = pending.replace((name.to_string(), start, end)) {
        out.push(timeline_row(equipment, &held, a, b));
    }
}

fn timeline_row(equipment: &Option<String>, name: &str, start: i64, end: i64) -> TimelineRow {
    (
        equipment.clone(),
        Some(name.to_string()),
        time::timestamptz(start).ok(),
        time::timestamptz(end).ok(),
        time::interval(end.saturating_sub(start).max(0)),
    )
}

impl RowSink for TimelineSink<'_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let Some(t) = row.i64(1) else { return Ok(()) };
        let same = row.with_text(0, |e| match (&self.current, e) {
            (Some(c), Some(e)) => c.equipment.as_deref().map(str::as_bytes) == Some(e),
            (Some(c), None) => c.equipment.is_none(),
            (None, _) => false,
        });
        if !same {
            self.finish_equipment()?;
            let (from, to) = self.window;
            self.current = Some(EquipmentTimeline {
                equipment: row.with_text(0, |e| e.map(|e| String::from_utf8_lossy(e).into_owned())),
                state: AvailabilityState::new(self.config.clone(), from, to, None)?,
                events: 0,
                last_time: None,
                last_status: String::new(),
                pending: None,
            });
        }
        // A full chunk ends between two distinct times (events at one time stay together).
        let full = self.points.is_none()
            && self.current.as_ref().is_some_and(|c| {
                c.events >= CHUNK_EVENTS
                    && c.last_time
                        .is_some_and(|last| t > last && t > self.window.0)
            });
        if full {
            self.next_chunk(t)?;
        }
        let Some(current) = &mut self.current else {
            return Ok(());
        };
        row.with_text(2, |s| {
            let s = match s {
                Some(bytes) => std::str::from_utf8(bytes)
                    .map_err(|_| SensorError::invalid_input("a status is not valid UTF-8"))?,
                None => ::availability::UNKNOWN,
            };
            current.state.push(t, s)?;
            current.events += 1;
            current.last_time = Some(t);
            current.last_status.clear();
            current.last_status.push_str(s);
            Ok(())
        })
    }
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION sensor.state_timeline(regclass, text, text, text, timestamptz, timestamptz, integer, jsonb) IS
    'Status history as intervals (equipment, state, start, end, duration) over [from, to), including the state carried in from before "from". With points, at most that many intervals per equipment, keeping the worst state of each slot (for Grafana state timelines).';
"#,
    name = "state_timeline",
    requires = [state_timeline]
);
