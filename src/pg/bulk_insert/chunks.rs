//! The direct path into a TimescaleDB hypertable: each row goes to the chunk that holds its
//! time, on that chunk's own direct path (chunks are plain tables), which is what
//! TimescaleDB's COPY does with its per-chunk multi-insert buffers.
//!
//! Taken when the hypertable has one dimension, on a column of the row whose datum is the
//! dimension's internal time (`timestamptz`, `timestamp`, `bigint`) without a partitioning
//! function, no continuous aggregate (TimescaleDB records their invalidations in its own
//! insert path, not in a trigger), and neither triggers nor row-level security; otherwise
//! [`super::BulkInsert`] uses INSERT statements. TimescaleDB creates a missing chunk: the first row of its time
//! range goes in through an INSERT statement. A chunk that is compressed, frozen or
//! otherwise not plain (its status), or that its own checks keep off the direct path (a
//! trigger, a CHECK constraint other than its time range), gets its rows through INSERT
//! statements too, where TimescaleDB handles them.

use pgrx::prelude::*;

use super::{DirectInsert, Indexes, SqlBatch, TargetTable};
use crate::error::{SensorError, SensorResult};

/// Chunks kept open at once; a load in time order needs one or two.
const OPEN_CHUNKS: usize = 8;

/// Rows of a hypertable routed to its chunks.
pub(super) struct ChunkRouter<const N: usize> {
    target: TargetTable<N>,
    hypertable_id: i32,
    /// Position in a row of the dimension's column.
    time_index: usize,
    /// Added to that column's datum to get TimescaleDB's internal time (Unix microseconds
    /// for timestamps, the value itself for bigint).
    time_offset: i64,
    /// Open chunks, the most recently used first.
    chunks: Vec<OpenChunk<N>>,
    /// Rows that go through INSERT statements: new chunks' first rows, rows of chunks
    /// that are not plain.
    statements: SqlBatch<N>,
    /// Rows pushed on a chunk's direct path.
    direct_rows: u64,
}

/// A chunk's time range `[start, end)` and where its rows go.
struct OpenChunk<const N: usize> {
    start: i64,
    end: i64,
    insert: Option<DirectInsert<N>>,
}

/// A chunk as the catalog records it.
struct ChunkEntry {
    relid: pg_sys::Oid,
    start: i64,
    end: i64,
    plain: bool,
    /// Its CHECK constraints of the time range, which routing guarantees.
    range_checks: Vec<String>,
}

/// A row of [`hypertable_dimensions`]: hypertable id, column, column type, open without a
/// partitioning function, dimensions in all, has continuous aggregates.
type DimensionRow = (
    Option<i32>,
    Option<String>,
    Option<pg_sys::Oid>,
    Option<bool>,
    Option<i64>,
    Option<bool>,
);

/// A hypertable's dimensions, one row each.
fn hypertable_dimensions(relid: pg_sys::Oid) -> SensorResult<Vec<DimensionRow>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT h.id, d.column_name::pg_catalog.text, d.column_type::pg_catalog.oid, \
                    d.interval_length IS NOT NULL AND d.partitioning_func IS NULL, \
                    (SELECT pg_catalog.count(*) FROM _timescaledb_catalog.dimension a WHERE a.hypertable_id OPERATOR(pg_catalog.=) h.id), \
                    EXISTS (SELECT FROM _timescaledb_catalog.continuous_agg g WHERE g.raw_hypertable_id OPERATOR(pg_catalog.=) h.id) \
             FROM _timescaledb_catalog.hypertable h \
             JOIN _timescaledb_catalog.dimension d ON d.hypertable_id OPERATOR(pg_catalog.=) h.id \
             JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) h.table_name \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace AND n.nspname OPERATOR(pg_catalog.=) h.schema_name \
             WHERE c.oid OPERATOR(pg_catalog.=) $1",
            None,
            &[relid.into()],
        )?;
        let mut found = Vec::new();
        for row in rows {
            found.push((
                row.get::<i32>(1)?,
                row.get::<String>(2)?,
                row.get::<pg_sys::Oid>(3)?,
                row.get::<bool>(4)?,
                row.get::<i64>(5)?,
                row.get::<bool>(6)?,
            ));
        }
        Ok::<_, pgrx::spi::SpiError>(found)
    })
    .map_err(|e| SensorError::internal_query("reading the hypertable's dimensions", e))
}

/// Why the direct path may not insert into `relid` (what an INSERT would do besides
/// storing the row, or a missing privilege), if anything.
fn insert_refusal(relid: pg_sys::Oid) -> Option<&'static str> {
    // SAFETY: relid is an existing relation; the checks read its relcache entry.
    unsafe {
        let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
        let form = &*(*rel).rd_rel;
        let refused = if !(*rel).trigdesc.is_null() {
            Some("the hypertable has triggers")
        } else if form.relrowsecurity {
            Some("the hypertable has row-level security enabled")
        } else if pg_sys::pg_class_aclcheck(relid, pg_sys::GetUserId(), pg_sys::ACL_INSERT as _)
            != pg_sys::AclResult::ACLCHECK_OK
        {
            Some("the current role has no INSERT privilege on the hypertable")
        } else {
            None
        };
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        refused
    }
}

impl<const N: usize> ChunkRouter<N> {
    /// A router for hypertable `relid`, or why rows cannot be routed to its chunks.
    pub(super) fn open(
        target: &TargetTable<N>,
        relid: pg_sys::Oid,
    ) -> SensorResult<Result<Self, String>> {
        let dimension = hypertable_dimensions(relid)?;
        let [(Some(hypertable_id), Some(column), Some(column_type), Some(open), Some(1), caggs)] =
            dimension.as_slice()
        else {
            return Ok(Err("it has not exactly one dimension".into()));
        };
        if *caggs != Some(false) {
            // TimescaleDB records their invalidations in its own insert path.
            return Ok(Err("it has continuous aggregates".into()));
        }
        if !open {
            return Ok(Err("its time dimension has a partitioning function".into()));
        }
        let Some(time_index) = target.columns.iter().position(|c| c.name == column) else {
            return Ok(Err(format!("its dimension column {column} is not loaded")));
        };
        let internal_time = matches!(
            *column_type,
            pg_sys::TIMESTAMPTZOID | pg_sys::TIMESTAMPOID | pg_sys::INT8OID
        );
        if !internal_time || target.columns[time_index].type_oid != *column_type {
            return Ok(Err(format!(
                "its dimension column {column} is not a time or bigint"
            )));
        }
        let refused = insert_refusal(relid);
        if let Some(reason) = refused {
            return Ok(Err(reason.into()));
        }
        Ok(Ok(ChunkRouter {
            target: *target,
            hypertable_id: *hypertable_id,
            time_index,
            time_offset: match *column_type {
                pg_sys::INT8OID => 0,
                _ => crate::pg::time::UNIX_TO_PG_US,
            },
            chunks: Vec::new(),
            statements: SqlBatch::insert(target)?,
            direct_rows: 0,
        }))
    }

    #[inline]
    pub(super) fn push(&mut self, row: [pg_sys::Datum; N]) -> SensorResult<()> {
        let t = (row[self.time_index].value() as i64).saturating_add(self.time_offset);
        if let Some(first) = self.chunks.first_mut() {
            if first.start <= t && t < first.end {
                return match &mut first.insert {
                    Some(direct) => {
                        direct.push(row);
                        self.direct_rows += 1;
                        Ok(())
                    }
                    None => self.statements.push(row),
                };
            }
        }
        self.push_elsewhere(t, row)
    }

    /// A row outside the most recent chunk: another open chunk, a chunk to open, or a new
    /// chunk, which TimescaleDB creates for the row.
    #[cold]
    fn push_elsewhere(&mut self, t: i64, row: [pg_sys::Datum; N]) -> SensorResult<()> {
        if let Some(i) = self.chunks.iter().position(|c| c.start <= t && t < c.end) {
            let chunk = self.chunks.remove(i);
            self.chunks.insert(0, chunk);
            return self.push(row);
        }
        let entry = match self.chunk_of(t)? {
            Some(entry) => entry,
            None => {
                self.statements.push(row)?;
                self.statements.flush()?;
                // Now it exists (or a concurrent load made it); the row is in.
                return match self.chunk_of(t)? {
                    Some(entry) => self.open_chunk(entry),
                    None => Err(SensorError::internal_query(
                        "routing a row to its chunk",
                        format!(
                            "TimescaleDB made no chunk for time {t} of {}",
                            self.target.table
                        ),
                    )),
                };
            }
        };
        self.open_chunk(entry)?;
        self.push(row)
    }

    fn open_chunk(&mut self, entry: ChunkEntry) -> SensorResult<()> {
        let mut insert = if entry.plain {
            DirectInsert::open(
                &self.target,
                entry.relid,
                Indexes::RowByRow,
                &entry.range_checks,
            )
            .ok()
        } else {
            None
        };
        if insert.is_some() {
            // Locked now: a chunk compressed or dropped since it was looked up goes the
            // statements' way.
            let still = self.chunk_of(entry.start)?;
            if !still.is_some_and(|s| s.relid == entry.relid && s.plain) {
                if let Some(direct) = insert.take() {
                    direct.finish();
                }
            }
        }
        if self.chunks.len() >= OPEN_CHUNKS {
            if let Some(OpenChunk {
                insert: Some(direct),
                ..
            }) = self.chunks.pop()
            {
                direct.finish();
            }
        }
        self.chunks.insert(
            0,
            OpenChunk {
                start: entry.start,
                end: entry.end,
                insert,
            },
        );
        Ok(())
    }

    /// The chunk of this hypertable whose range holds `t`.
    fn chunk_of(&self, t: i64) -> SensorResult<Option<ChunkEntry>> {
        // Read-write: a chunk TimescaleDB has just made for our INSERT must be visible.
        Spi::connect_mut(|client| {
            let mut rows = client.update(
                // Through the chunk_constraint relation (a view since 2.22) and without
                // the old `dropped` column: the same query on every TimescaleDB 2.x. A
                // dropped chunk's table is gone, so to_regclass skips it.
                "SELECT r.relid, s.range_start, s.range_end, c.status OPERATOR(pg_catalog.=) 0, \
                        ARRAY(SELECT k.constraint_name::pg_catalog.text FROM _timescaledb_catalog.chunk_constraint k \
                              WHERE k.chunk_id OPERATOR(pg_catalog.=) c.id AND k.dimension_slice_id IS NOT NULL) \
                 FROM _timescaledb_catalog.chunk c \
                 JOIN _timescaledb_catalog.chunk_constraint cc ON cc.chunk_id OPERATOR(pg_catalog.=) c.id \
                 JOIN _timescaledb_catalog.dimension_slice s ON s.id OPERATOR(pg_catalog.=) cc.dimension_slice_id \
                 CROSS JOIN LATERAL (SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', c.schema_name, c.table_name))::pg_catalog.oid AS relid) r \
                 WHERE c.hypertable_id OPERATOR(pg_catalog.=) $1 AND NOT c.osm_chunk AND r.relid IS NOT NULL \
                   AND s.range_start OPERATOR(pg_catalog.<=) $2 AND $2 OPERATOR(pg_catalog.<) s.range_end \
                 LIMIT 1",
                None,
                &[self.hypertable_id.into(), t.into()],
            )?;
            let Some(row) = rows.next() else {
                return Ok(None);
            };
            let (relid, start, end, plain) = (
                row.get::<pg_sys::Oid>(1)?,
                row.get::<i64>(2)?,
                row.get::<i64>(3)?,
                row.get::<bool>(4)?,
            );
            let range_checks = row.get::<Vec<String>>(5)?.unwrap_or_default();
            Ok(match (relid, start, end, plain) {
                (Some(relid), Some(start), Some(end), Some(plain)) => Some(ChunkEntry {
                    relid,
                    start,
                    end,
                    plain,
                    range_checks,
                }),
                _ => None,
            })
        })
        .map_err(|e: pgrx::spi::SpiError| SensorError::internal_query("reading the chunk catalog", e))
    }

    /// Rows pushed on a chunk's direct path (the others went through INSERT statements).
    pub(super) fn direct_rows(&self) -> u64 {
        self.direct_rows
    }

    /// Writes the buffered rows of every chunk now (so that a query sees them).
    pub(super) fn flush(&mut self) -> SensorResult<()> {
        for chunk in &mut self.chunks {
            if let Some(direct) = &mut chunk.insert {
                direct.flush();
            }
        }
        self.statements.flush()
    }

    pub(super) fn finish(mut self) -> SensorResult<()> {
        for chunk in self.chunks.drain(..) {
            if let Some(direct) = chunk.insert {
                direct.finish();
            }
        }
        self.statements.flush()
    }
}
