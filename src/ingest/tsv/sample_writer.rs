//! Writes a file's points into `sensor_data.electrical_samples` with "the later row wins" semantics,
//! in bounded memory, as fast as the table allows.
//!
//! Points are buffered per channel (at most [`CHUNK_POINTS`] in all) and written a chunk at a
//! time. Within a chunk, repeated timestamps of a channel keep the later row. Then one indexed
//! probe per chunk asks which channels already have rows in the chunk's time range for them
//! (earlier files, or earlier chunks of this file):
//! * channels without such rows (the usual case: new data) are inserted by [`BulkInsert`]: on
//!   its direct path when the table qualifies, else by a plain `INSERT`; both still enforce
//!   the primary key, so a row committed concurrently in between makes the load fail (23505)
//!   rather than duplicate;
//! * channels with such rows go through `INSERT … ON CONFLICT (channel, time) DO UPDATE`,
//!   which overwrites the old values.
//!
//! Into an empty table the bulk inserter defers index maintenance to one rebuild at the end
//! ([`Indexes::RebuildIfEmpty`]); then the table holds only this file's rows, so the probe is
//! answered from memory: each channel's [first, last] time written so far. The first chunk
//! that could overlap them ends the deferred mode (indexes are built) and takes the path above.
//!
//! Sorting channel by channel also gives each channel's index entries in ascending order, which
//! keeps B-tree insertion on a few hot pages.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;

use super::spi_error;
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::bulk_insert::{BulkInsert, Column, Indexes, SqlBatch, TargetTable};
use crate::pg::time;

/// Points buffered before a chunk is written (16 bytes each: 1 MiB).
pub const CHUNK_POINTS: usize = 1 << 16;

/// `sensor_data.electrical_samples (time, channel, value)`, primary key `(channel, time)`; no
/// row-level security by design (sql/storage.sql).
const ELECTRICAL_SAMPLES: TargetTable<3> = TargetTable {
    table: "sensor_data.electrical_samples",
    columns: [
        Column::new("time", pg_sys::TIMESTAMPTZOID),
        Column::new("channel", pg_sys::INT4OID),
        Column::new("value", pg_sys::FLOAT8OID),
    ],
};
const PRIMARY_KEY: [&str; 2] = ["channel", "time"];

const PROBE_SQL: &str = "SELECT pg_catalog.array_agg(r.c) FROM ROWS FROM (pg_catalog.unnest($1::int4[]), pg_catalog.unnest($2::timestamptz[]), pg_catalog.unnest($3::timestamptz[])) AS r(c, lo, hi) \
     WHERE EXISTS (SELECT 1 FROM sensor_data.electrical_samples s WHERE s.channel = r.c AND s.time >= r.lo AND s.time <= r.hi)";

/// A file time (µs since the Unix epoch, UTC) in PostgreSQL microseconds; 22008 outside
/// the `timestamptz` range.
fn pg_micros(unix_us: i64) -> SensorResult<i64> {
    time::pg_from_unix(unix_us).ok_or_else(|| {
        SensorError::new(
            ErrorKind::DatetimeOutOfRange,
            format!("timestamp {unix_us} µs since 1970 is out of range for timestamptz"),
        )
    })
}

/// Pushes one channel's points (time in PostgreSQL µs) as rows of `sensor_data.electrical_samples`.
fn push_points(
    mut push: impl FnMut([pg_sys::Datum; 3]) -> SensorResult<()>,
    channel: i32,
    points: &[(i64, f64)],
) -> SensorResult<()> {
    for &(time, value) in points {
        push([time.into(), channel.into(), value.to_bits().into()])?;
    }
    Ok(())
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
    /// Points of channels without rows in the chunk's range.
    rows: BulkInsert<3>,
    /// Points that overwrite.
    upsert: SqlBatch<3>,
    probe: OwnedPreparedStatement,
    /// While indexes are deferred: per column, the time range written so far.
    written: Vec<Option<(i64, i64)>>,
    stats: WriteStats,
}

impl SampleWriter {
    /// A writer for a file whose column `i` is stored as channel `channel_ids[i]`.
    pub fn new(channel_ids: Vec<i32>) -> SensorResult<Self> {
        let rows = BulkInsert::open(&ELECTRICAL_SAMPLES, Indexes::RebuildIfEmpty)?;
        let upsert = SqlBatch::upsert(&ELECTRICAL_SAMPLES, &PRIMARY_KEY)?;
        let probe_args = [
            pg_sys::INT4ARRAYOID,
            pg_sys::TIMESTAMPTZARRAYOID,
            pg_sys::TIMESTAMPTZARRAYOID,
        ];
        let probe = Spi::connect(|client| {
            client
                .prepare_mut(PROBE_SQL, &probe_args.map(Into::into))
                .map(|s| s.keep())
        })
        .map_err(|e| spi_error("could not prepare the sample statements", e))?;
        let stats = WriteStats {
            bulk: rows.is_direct(),
            indexes_deferred: rows.indexes_deferred(),
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
            rows,
            upsert,
            probe,
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
        if self.write_deferred()? {
            self.buffered = 0;
            return Ok(());
        }
        let mut probe_channels = Vec::new();
        let mut probe_lo = Vec::new();
        let mut probe_hi = Vec::new();
        for (buffer, &channel) in self.buffers.iter_mut().zip(&self.channel_ids) {
            if let (Some(first), Some(last)) = (buffer.points.first(), buffer.points.last()) {
                probe_channels.push(channel);
                probe_lo.push(time::timestamptz(first.0)?);
                probe_hi.push(time::timestamptz(last.0)?);
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

        for (buffer, &channel) in self.buffers.iter_mut().zip(&self.channel_ids) {
            if buffer.points.is_empty() {
                continue;
            }
            let count = buffer.points.len() as u64;
            if overlapping.contains(&channel) {
                push_points(|row| self.upsert.push(row), channel, &buffer.points)?;
                self.stats.upserted += count;
            } else {
                push_points(|row| self.rows.push(row), channel, &buffer.points)?;
                self.stats.inserted += count;
            }
            buffer.points.clear();
        }
        // The next chunk's probe must see this one.
        self.rows.flush()?;
        self.upsert.flush()?;
        self.buffered = 0;
        Ok(())
    }

    /// While the bulk inserter defers indexes: writes the chunk without a probe if no channel's
    /// points can overlap what this writer already wrote (true), else builds the indexes and
    /// returns false so that the chunk takes the probing path.
    fn write_deferred(&mut self) -> SensorResult<bool> {
        if !self.rows.indexes_deferred() {
            return Ok(false);
        }
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
            self.rows.build_deferred_indexes();
            return Ok(false);
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
            push_points(|row| self.rows.push(row), channel, &buffer.points)?;
            self.stats.inserted += buffer.points.len() as u64;
            buffer.points.clear();
        }
        self.rows.flush()?;
        Ok(true)
    }

    /// Writes what is left and releases the table.
    pub fn finish(mut self) -> SensorResult<WriteStats> {
        self.flush()?;
        self.rows.finish()?;
        Ok(self.stats)
    }
}
