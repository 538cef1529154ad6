//! Writes a file's points into `sensor.electrical_samples` with "the later row wins" semantics,
//! in bounded memory, as fast as the table allows.
//!
//! Points are buffered per channel (at most [`CHUNK_POINTS`] in all) and written a chunk at a
//! time. Within a chunk, repeated timestamps of a channel keep the later row. Then one indexed
//! probe per chunk asks which channels already have rows in the chunk's time range for them
//! (earlier files, or earlier chunks of this file):
//! * channels without such rows (the usual case: new data) are inserted: by [`BulkInserter`]
//!   when the table qualifies, else by a plain `INSERT … SELECT unnest(…)`; both still enforce
//!   the primary key, so a row committed concurrently in between makes the load fail (23505)
//!   rather than duplicate;
//! * channels with such rows go through `INSERT … ON CONFLICT (channel, time) DO UPDATE`,
//!   which overwrites the old values.
//!
//! Into an empty table the bulk inserter defers index maintenance to one rebuild at the end
//! (see `bulk_insert`); then the table holds only this file's rows, so the probe is answered
//! from memory: each channel's [first, last] time written so far. The first chunk that could
//! overlap them ends the deferred mode (indexes are built) and takes the path above.
//!
//! Sorting channel by channel also gives each channel's index entries in ascending order, which
//! keeps B-tree insertion on a few hot pages.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;

use super::bulk_insert::{samples_relid, BulkInserter};
use crate::error::{ErrorKind, SensorError, SensorResult};

/// Points buffered before a chunk is written (16 bytes each: 1 MiB).
pub const CHUNK_POINTS: usize = 1 << 16;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

const PROBE_SQL: &str = "SELECT pg_catalog.array_agg(r.c) FROM ROWS FROM (pg_catalog.unnest($1::int4[]), pg_catalog.unnest($2::timestamptz[]), pg_catalog.unnest($3::timestamptz[])) AS r(c, lo, hi) \
     WHERE EXISTS (SELECT 1 FROM sensor.electrical_samples s WHERE s.channel = r.c AND s.time >= r.lo AND s.time <= r.hi)";
const INSERT_SQL: &str = "INSERT INTO sensor.electrical_samples (time, channel, value) \
     SELECT u.t, u.c, u.v FROM ROWS FROM (pg_catalog.unnest($1::timestamptz[]), pg_catalog.unnest($2::int4[]), pg_catalog.unnest($3::float8[])) AS u(t, c, v)";
const UPSERT_SQL: &str = "INSERT INTO sensor.electrical_samples AS s (time, channel, value) \
     SELECT u.t, u.c, u.v FROM ROWS FROM (pg_catalog.unnest($1::timestamptz[]), pg_catalog.unnest($2::int4[]), pg_catalog.unnest($3::float8[])) AS u(t, c, v) \
     ON CONFLICT (channel, time) DO UPDATE SET value = EXCLUDED.value";

/// A file time (µs since the Unix epoch, UTC) as a `timestamptz` value.
pub fn timestamptz_of(unix_us: i64) -> SensorResult<TimestampWithTimeZone> {
    unix_us
        .checked_sub(PG_EPOCH_OFFSET_US)
        .and_then(|pg| TimestampWithTimeZone::try_from(pg).ok())
        .ok_or_else(|| {
            SensorError::new(
                ErrorKind::DatetimeOutOfRange,
                format!("timestamp {unix_us} µs since 1970 is out of range for timestamptz"),
            )
        })
}

fn pg_micros(unix_us: i64) -> SensorResult<i64> {
    timestamptz_of(unix_us).map(pg_sys::TimestampTz::from)
}

fn spi_error(what: &str, err: pgrx::spi::SpiError) -> SensorError {
    SensorError::new(ErrorKind::Io, format!("{what}: {err}"))
}

/// One channel's buffered points: (time in PostgreSQL µs, value).
#[derive(Default)]
struct ChannelBuffer {
    points: Vec<(i64, f64)>,
    /// False once a time did not strictly increase: the chunk needs sorting and de-duplication.
    increasing: bool,
}

impl ChannelBuffer {
    fn push(&mut self, time: i64, value: f64) {
        match self.points.last() {
            None => self.increasing = true,
            Some(&(last, _)) if time <= last => self.increasing = false,
            Some(_) => {}
        }
        self.points.push((time, value));
    }

    /// Sorts by time and keeps the last value of each repeated time (file order).
    fn sort_keep_last(&mut self) {
        if self.increasing {
            return;
        }
        // Stable: equal times stay in file order, so the last of a run is the file's last.
        self.points.sort_by_key(|p| p.0);
        let mut kept = 0usize;
        for i in 0..self.points.len() {
            let point = self.points[i];
            if kept > 0 && self.points[kept - 1].0 == point.0 {
                self.points[kept - 1] = point;
            } else {
                self.points[kept] = point;
                kept += 1;
            }
        }
        self.points.truncate(kept);
        self.increasing = true;
    }
}

/// Counters of how points reached the table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Points written by a plain (bulk or SQL) insert.
    pub inserted: u64,
    /// Points written by `ON CONFLICT … DO UPDATE` (their channel had rows in the chunk's range).
    pub upserted: u64,
    /// Whether the bulk path was available.
    pub bulk: bool,
    /// Whether indexes were built once at the end instead of row by row (empty table).
    pub indexes_deferred: bool,
}

pub struct SampleWriter {
    channel_ids: Vec<i32>,
    buffers: Vec<ChannelBuffer>,
    buffered: usize,
    bulk: Option<BulkInserter>,
    probe: OwnedPreparedStatement,
    insert: OwnedPreparedStatement,
    upsert: OwnedPreparedStatement,
    /// While indexes are deferred: per column, the time range written so far.
    written: Vec<Option<(i64, i64)>>,
    stats: WriteStats,
}

impl SampleWriter {
    /// A writer for a file whose column `i` is stored as channel `channel_ids[i]`.
    pub fn new(channel_ids: Vec<i32>) -> SensorResult<Self> {
        let bulk = BulkInserter::open(samples_relid()?);
        let arrays = [
            pg_sys::TIMESTAMPTZARRAYOID,
            pg_sys::INT4ARRAYOID,
            pg_sys::FLOAT8ARRAYOID,
        ];
        let probe_args = [
            pg_sys::INT4ARRAYOID,
            pg_sys::TIMESTAMPTZARRAYOID,
            pg_sys::TIMESTAMPTZARRAYOID,
        ];
        let (probe, insert, upsert) = Spi::connect(|client| {
            let prepare = |sql: &str, args: &[pg_sys::Oid]| {
                client
                    .prepare_mut(sql, &args.iter().map(|&o| o.into()).collect::<Vec<_>>())
                    .map(|s| s.keep())
            };
            Ok::<_, pgrx::spi::SpiError>((
                prepare(PROBE_SQL, &probe_args)?,
                prepare(INSERT_SQL, &arrays)?,
                prepare(UPSERT_SQL, &arrays)?,
            ))
        })
        .map_err(|e| spi_error("could not prepare the sample statements", e))?;
        let stats = WriteStats {
            bulk: bulk.is_some(),
            indexes_deferred: bulk.as_ref().is_some_and(BulkInserter::indexes_deferred),
            ..WriteStats::default()
        };
        Ok(SampleWriter {
            buffers: channel_ids
                .iter()
                .map(|_| ChannelBuffer::default())
                .collect(),
            written: vec![None; channel_ids.len()],
            channel_ids,
            buffered: 0,
            bulk,
            probe,
            insert,
            upsert,
            stats,
        })
    }

    /// Adds one row: `values[i]` belongs to column `i`; `None` cells are skipped.
    pub fn push(&mut self, unix_us: i64, values: &[Option<f64>]) -> SensorResult<()> {
        let time = pg_micros(unix_us)?;
        for (buffer, value) in self.buffers.iter_mut().zip(values) {
            if let Some(value) = *value {
                buffer.push(time, value);
                self.buffered += 1;
            }
        }
        if self.buffered >= CHUNK_POINTS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered chunk.
    pub fn flush(&mut self) -> SensorResult<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        for buffer in &mut self.buffers {
            buffer.sort_keep_last();
        }
        if self.write_deferred() {
            self.buffered = 0;
            return Ok(());
        }
        let mut probe_channels = Vec::new();
        let mut probe_lo = Vec::new();
        let mut probe_hi = Vec::new();
        for (buffer, &channel) in self.buffers.iter_mut().zip(&self.channel_ids) {
            if let (Some(first), Some(last)) = (buffer.points.first(), buffer.points.last()) {
                probe_channels.push(channel);
                probe_lo.push(timestamp_value(first.0)?);
                probe_hi.push(timestamp_value(last.0)?);
            }
        }
        let overlapping: Vec<i32> = Spi::connect_mut(|client| {
            let args = [
                DatumWithOid::from(probe_channels),
                DatumWithOid::from(probe_lo),
                DatumWithOid::from(probe_hi),
            ];
            client
                .update(&self.probe, None, &args)?
                .first()
                .get_one::<Vec<i32>>()
        })
        .map_err(|e| spi_error("could not look for existing samples", e))?
        .unwrap_or_default();

        let mut plain = SqlRows::default();
        let mut upsert = SqlRows::default();
        for (buffer, &channel) in self.buffers.iter_mut().zip(&self.channel_ids) {
            if buffer.points.is_empty() {
                continue;
            }
            let count = buffer.points.len() as u64;
            if overlapping.contains(&channel) {
                upsert.extend(channel, &buffer.points)?;
                self.stats.upserted += count;
            } else {
                match self.bulk.as_mut() {
                    Some(bulk) => bulk.insert(channel, &buffer.points),
                    None => plain.extend(channel, &buffer.points)?,
                }
                self.stats.inserted += count;
            }
            buffer.points.clear();
        }
        if let Some(bulk) = self.bulk.as_mut() {
            bulk.flush();
        }
        plain.execute(&self.insert)?;
        upsert.execute(&self.upsert)?;
        self.buffered = 0;
        Ok(())
    }

    /// While the bulk inserter defers indexes: writes the chunk without a probe if no channel's
    /// points can overlap what this writer already wrote (true), else builds the indexes and
    /// returns false so that the chunk takes the probing path.
    fn write_deferred(&mut self) -> bool {
        let Some(bulk) = self.bulk.as_mut().filter(|b| b.indexes_deferred()) else {
            return false;
        };
        let overlaps = self
            .buffers
            .iter()
            .zip(&self.written)
            .any(|(buffer, written)| {
                match (buffer.points.first(), buffer.points.last(), written) {
                    (Some(first), Some(last), Some((lo, hi))) => first.0 <= *hi && last.0 >= *lo,
                    _ => false,
                }
            });
        if overlaps {
            bulk.build_deferred_indexes();
            return false;
        }
        for ((buffer, written), &channel) in self
            .buffers
            .iter_mut()
            .zip(&mut self.written)
            .zip(&self.channel_ids)
        {
            let (Some(first), Some(last)) = (buffer.points.first(), buffer.points.last()) else {
                continue;
            };
            let (lo, hi) = (first.0, last.0);
            *written = Some(written.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            bulk.insert(channel, &buffer.points);
            self.stats.inserted += buffer.points.len() as u64;
            buffer.points.clear();
        }
        bulk.flush();
        true
    }

    /// Writes what is left and releases the table.
    pub fn finish(mut self) -> SensorResult<WriteStats> {
        self.flush()?;
        if let Some(bulk) = self.bulk.as_mut() {
            bulk.close();
        }
        Ok(self.stats)
    }
}

fn timestamp_value(pg_us: i64) -> SensorResult<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(pg_us)
        .map_err(|_| SensorError::new(ErrorKind::DatetimeOutOfRange, "timestamp out of range"))
}

/// Rows on their way to one SQL statement, as three parallel arrays.
#[derive(Default)]
struct SqlRows {
    times: Vec<TimestampWithTimeZone>,
    channels: Vec<i32>,
    values: Vec<f64>,
}

impl SqlRows {
    fn extend(&mut self, channel: i32, points: &[(i64, f64)]) -> SensorResult<()> {
        for &(time, value) in points {
            self.times.push(timestamp_value(time)?);
            self.channels.push(channel);
            self.values.push(value);
        }
        Ok(())
    }

    fn execute(self, statement: &OwnedPreparedStatement) -> SensorResult<()> {
        if self.times.is_empty() {
            return Ok(());
        }
        Spi::connect_mut(|client| {
            let args = [
                DatumWithOid::from(self.times),
                DatumWithOid::from(self.channels),
                DatumWithOid::from(self.values),
            ];
            client.update(statement, None, &args).map(|_| ())
        })
        .map_err(|e| spi_error("could not write samples", e))
    }
}
