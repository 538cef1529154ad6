//! Bulk insertion of sample rows `(channel_id, key, value)` into `sensor.samples`
//! (key = `time`) or `sensor.indexed_samples` (key = `sample_index`).
//!
//! The direct path is the one `COPY … FROM` takes: batches of 1000 slots through
//! `table_multi_insert` with a `BulkInsertState`, then index entries through the executor
//! (`ExecInsertIndexTuples`), all in a per-batch memory context. It skips the executor's
//! other duties, so it is used only when none apply: a plain table (relkind `r`) with no
//! triggers (a TimescaleDB hypertable has one), no row-level security, no CHECK
//! constraints or generated columns, no columns besides the three, no deferrable unique
//! or exclusion indexes, and INSERT privilege for the current role. Otherwise rows go
//! through batched SPI `INSERT … SELECT FROM ROWS FROM (unnest(…), …)`, which the executor handles in
//! full (hypertable chunk routing, triggers, policies, permission errors).
//!
//! Error paths do no cleanup here: an error aborts the (sub)transaction, which releases
//! the buffer pins, relation references, locks and memory the direct path holds — as it
//! does for COPY.

use std::ffi::CStr;

use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::error::{ErrorKind, SensorError, SensorResult};

/// Rows per `table_multi_insert` call (COPY's MAX_BUFFERED_TUPLES).
const DIRECT_BATCH: usize = 1000;
/// Rows per SPI INSERT on the fallback path.
const SPI_BATCH: usize = 10_000;

/// PostgreSQL's valid `timestamptz` range in microseconds since 2000-01-01:
/// MIN_TIMESTAMP <= t < END_TIMESTAMP (utils/datetime.h), infinities excluded.
const MIN_TIMESTAMP_US: i64 = -211_813_488_000_000_000;
const END_TIMESTAMP_US: i64 = 9_223_371_331_200_000_000;
/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
const UNIX_TO_PG_EPOCH_US: i64 = 946_684_800_000_000;

/// A Unix-epoch microsecond time as a PostgreSQL `timestamptz` value, if representable.
pub fn pg_timestamptz(unix_us: i64) -> Option<i64> {
    let pg = unix_us.checked_sub(UNIX_TO_PG_EPOCH_US)?;
    (MIN_TIMESTAMP_US..END_TIMESTAMP_US)
        .contains(&pg)
        .then_some(pg)
}

/// Which sample table, and so what the middle column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleTable {
    /// `sensor.samples (channel_id, time, value)`: key is a `timestamptz` in PostgreSQL microseconds.
    Timed,
    /// `sensor.indexed_samples (channel_id, sample_index, value)`: key is the sample index.
    Indexed,
}

impl SampleTable {
    pub const fn qualified_name(self) -> &'static str {
        match self {
            SampleTable::Timed => "sensor.samples",
            SampleTable::Indexed => "sensor.indexed_samples",
        }
    }

    const fn key_column(self) -> &'static str {
        match self {
            SampleTable::Timed => "time",
            SampleTable::Indexed => "sample_index",
        }
    }

    const fn key_type(self) -> pg_sys::Oid {
        match self {
            SampleTable::Timed => pg_sys::TIMESTAMPTZOID,
            SampleTable::Indexed => pg_sys::INT8OID,
        }
    }

    /// The table's OID (it must exist: it belongs to the extension).
    pub fn relid(self) -> SensorResult<pg_sys::Oid> {
        let oid = Spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
            &[self.qualified_name().into()],
        )
        .map_err(|e| spi_error(&e))?;
        oid.filter(|o| *o != pg_sys::InvalidOid).ok_or_else(|| {
            SensorError::new(
                ErrorKind::UndefinedObject,
                format!("table {} does not exist", self.qualified_name()),
            )
            .with_hint("Is the sensor_analytics extension installed in this database?")
        })
    }
}

pub fn spi_error(err: &pgrx::spi::Error) -> SensorError {
    SensorError::new(ErrorKind::Io, format!("internal query failed: {err}"))
}

/// Where rows go: the direct path or batched SPI INSERTs.
pub struct SampleSink {
    inner: Sink,
    rows: u64,
}

enum Sink {
    Direct(DirectInsert),
    Spi(SpiInsert),
}

impl SampleSink {
    /// Opens the table for inserting, on the direct path when it is sound (see the module docs).
    pub fn open(table: SampleTable) -> SensorResult<Self> {
        let relid = table.relid()?;
        // SAFETY: relid names an existing table; see DirectInsert::open.
        let inner = match unsafe { DirectInsert::open(table, relid) } {
            Ok(direct) => Sink::Direct(direct),
            Err(reason) => {
                pgrx::debug1!(
                    "rows go into {} through INSERT statements because {reason}",
                    table.qualified_name()
                );
                Sink::Spi(SpiInsert::new(table))
            }
        };
        Ok(SampleSink { inner, rows: 0 })
    }

    /// Why the direct path cannot be used for `table`, or `None` if it can.
    #[cfg(any(test, feature = "pg_test"))]
    pub fn direct_path_blocker(table: SampleTable) -> SensorResult<Option<String>> {
        let relid = table.relid()?;
        // SAFETY: opens and closes the relation; nothing is inserted.
        Ok(unsafe { DirectInsert::open(table, relid) }
            .map(|d| unsafe { d.finish() })
            .err())
    }

    #[cfg(any(test, feature = "pg_test"))]
    pub fn is_direct(&self) -> bool {
        matches!(self.inner, Sink::Direct(_))
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one row; `key` is a `timestamptz` (PostgreSQL microseconds) or a sample index.
    #[inline]
    pub fn push(&mut self, channel_id: i64, key: i64, value: f64) -> SensorResult<()> {
        self.rows += 1;
        match &mut self.inner {
            // SAFETY: the DirectInsert is open (it is consumed by finish).
            Sink::Direct(d) => {
                unsafe { d.push(channel_id, key, value) };
                Ok(())
            }
            Sink::Spi(s) => s.push(channel_id, key, value),
        }
    }

    /// Writes the last batch and releases the table. Returns the rows inserted.
    pub fn finish(self) -> SensorResult<u64> {
        match self.inner {
            // SAFETY: last use of the open DirectInsert.
            Sink::Direct(d) => unsafe { d.finish() },
            Sink::Spi(mut s) => s.flush()?,
        }
        Ok(self.rows)
    }
}

/// The COPY FROM path: see the module docs.
struct DirectInsert {
    rel: pg_sys::Relation,
    estate: *mut pg_sys::EState,
    result_rel: *mut pg_sys::ResultRelInfo,
    bistate: pg_sys::BulkInsertState,
    slots: Vec<*mut pg_sys::TupleTableSlot>,
    used: usize,
    cid: pg_sys::CommandId,
    /// Attribute positions of channel_id, key and value.
    attnums: [usize; 3],
    natts: usize,
}

impl DirectInsert {
    /// Opens `relid` for the direct path, or says why it cannot take it (the relation
    /// is then closed again, keeping its lock).
    ///
    /// # Safety
    /// `relid` must be an existing relation; must run inside a transaction.
    unsafe fn open(table: SampleTable, relid: pg_sys::Oid) -> Result<Self, String> {
        unsafe {
            let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let attnums = match Self::plain_table_layout(table, rel) {
                Ok(attnums) => attnums,
                Err(reason) => {
                    pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
                    return Err(reason);
                }
            };
            let natts = (*(*rel).rd_att).natts as usize;
            let estate = pg_sys::CreateExecutorState();
            let cid = pg_sys::GetCurrentCommandId(true);
            (*estate).es_output_cid = cid;
            let mut query_cx = PgMemoryContexts::For((*estate).es_query_cxt);
            let (result_rel, slots) = query_cx.switch_to(|_| {
                let result_rel = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>())
                    .cast::<pg_sys::ResultRelInfo>();
                (*result_rel).type_ = pg_sys::NodeTag::T_ResultRelInfo;
                pg_sys::InitResultRelInfo(result_rel, rel, 1, std::ptr::null_mut(), 0);
                pg_sys::ExecOpenIndices(result_rel, false);
                // Virtual slots (COPY uses the table's slot type): heap_multi_insert forms
                // the heap tuple in the per-batch context, and the index entries read the
                // values in place instead of deforming that tuple again.
                let slots: Vec<_> = (0..DIRECT_BATCH)
                    .map(|_| {
                        pg_sys::MakeSingleTupleTableSlot(
                            (*rel).rd_att,
                            &raw const pg_sys::TTSOpsVirtual,
                        )
                    })
                    .collect();
                (result_rel, slots)
            });
            let mut direct = DirectInsert {
                rel,
                estate,
                result_rel,
                bistate: std::ptr::null_mut(),
                slots,
                used: 0,
                cid,
                attnums,
                natts,
            };
            // Deferred uniqueness checks would need the after-trigger queue. (Such indexes
            // come with a constraint trigger, refused above; this keeps the guarantee local.)
            let n = usize::try_from((*result_rel).ri_NumIndices).unwrap_or(0);
            for i in 0..n {
                let index = *(*result_rel).ri_IndexRelationDescs.add(i);
                if !index.is_null() && !(*(*index).rd_index).indimmediate {
                    direct.release();
                    return Err("it has a deferrable unique or exclusion index".into());
                }
            }
            direct.bistate = pg_sys::GetBulkInsertState();
            Ok(direct)
        }
    }

    /// Attribute positions of the three columns, or why the table does not qualify.
    unsafe fn plain_table_layout(
        table: SampleTable,
        rel: pg_sys::Relation,
    ) -> Result<[usize; 3], String> {
        unsafe {
            let form = &*(*rel).rd_rel;
            if form.relkind as u8 != pg_sys::RELKIND_RELATION {
                return Err("it is not a plain table (e.g. partitioned or foreign)".into());
            }
            if !(*rel).trigdesc.is_null() {
                return Err("it has triggers (a TimescaleDB hypertable has one)".into());
            }
            if form.relrowsecurity {
                return Err("it has row-level security enabled".into());
            }
            let relid = form.oid;
            if pg_sys::pg_class_aclcheck(relid, pg_sys::GetUserId(), pg_sys::ACL_INSERT as _)
                != pg_sys::AclResult::ACLCHECK_OK
            {
                return Err("the current role has no INSERT privilege on it".into());
            }
            let desc = (*rel).rd_att;
            let constr = (*desc).constr;
            if !constr.is_null() && ((*constr).num_check > 0 || (*constr).has_generated_stored) {
                return Err("it has CHECK constraints or generated columns".into());
            }
            let natts = (*desc).natts as usize;
            let attrs = (*desc).attrs.as_slice(natts);
            let wanted = [
                ("channel_id", pg_sys::INT8OID),
                (table.key_column(), table.key_type()),
                ("value", pg_sys::FLOAT8OID),
            ];
            let mut attnums = [usize::MAX; 3];
            for (i, att) in attrs.iter().enumerate() {
                if att.attisdropped {
                    continue;
                }
                let name = CStr::from_ptr(att.attname.data.as_ptr()).to_string_lossy();
                match wanted.iter().position(|(n, _)| *n == name) {
                    Some(k) if wanted[k].1 == att.atttypid => attnums[k] = i,
                    Some(_) => return Err(format!("its column {name} has another type")),
                    None => return Err(format!("it has another column ({name})")),
                }
            }
            if attnums.contains(&usize::MAX) {
                return Err("a column is missing".into());
            }
            Ok(attnums)
        }
    }

    #[inline]
    unsafe fn push(&mut self, channel_id: i64, key: i64, value: f64) {
        unsafe {
            // Empty: cleared after the last flush.
            let slot = self.slots[self.used];
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, self.natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, self.natts);
            // Dropped columns stay NULL.
            nulls.fill(true);
            let [c, k, v] = self.attnums;
            values[c] = pg_sys::Datum::from(channel_id);
            values[k] = pg_sys::Datum::from(key);
            values[v] = pg_sys::Datum::from(value.to_bits());
            nulls[c] = false;
            nulls[k] = false;
            nulls[v] = false;
            pg_sys::ExecStoreVirtualTuple(slot);
            self.used += 1;
            if self.used == DIRECT_BATCH {
                self.flush();
            }
        }
    }

    /// The batch's heap tuples, then its index entries, as CopyMultiInsertBufferFlush does.
    unsafe fn flush(&mut self) {
        if self.used == 0 {
            return;
        }
        unsafe {
            let econtext = if (*self.estate).es_per_tuple_exprcontext.is_null() {
                pg_sys::MakePerTupleExprContext(self.estate)
            } else {
                (*self.estate).es_per_tuple_exprcontext
            };
            let per_batch = (*econtext).ecxt_per_tuple_memory;
            let used = self.used;
            // Both may leak into the current context: make it the per-batch one.
            PgMemoryContexts::For(per_batch).switch_to(|_| {
                pg_sys::table_multi_insert(
                    self.rel,
                    self.slots.as_mut_ptr(),
                    used as i32,
                    self.cid,
                    0,
                    self.bistate,
                );
                if (*self.result_rel).ri_NumIndices > 0 {
                    for &slot in &self.slots[..used] {
                        // Deferrable indexes were refused at open, so nothing to recheck.
                        pg_sys::ExecInsertIndexTuples(
                            self.result_rel,
                            slot,
                            self.estate,
                            false,
                            false,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                        );
                    }
                }
            });
            for &slot in &self.slots[..used] {
                pg_sys::ExecClearTuple(slot);
            }
            pg_sys::MemoryContextReset(per_batch);
            self.used = 0;
        }
    }

    unsafe fn finish(mut self) {
        unsafe {
            self.flush();
            self.release();
        }
    }

    unsafe fn release(&mut self) {
        unsafe {
            if !self.bistate.is_null() {
                pg_sys::FreeBulkInsertState(self.bistate);
                self.bistate = std::ptr::null_mut();
            }
            for slot in self.slots.drain(..) {
                pg_sys::ExecDropSingleTupleTableSlot(slot);
            }
            pg_sys::ExecCloseIndices(self.result_rel);
            pg_sys::FreeExecutorState(self.estate);
            // The lock is kept to the end of the transaction, as COPY does.
            pg_sys::table_close(self.rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        }
    }
}

/// The fallback: batched `INSERT … SELECT FROM ROWS FROM (unnest($1), unnest($2), unnest($3))` through SPI.
struct SpiInsert {
    table: SampleTable,
    channel_ids: Vec<i64>,
    keys: Vec<i64>,
    values: Vec<f64>,
}

impl SpiInsert {
    fn new(table: SampleTable) -> Self {
        SpiInsert {
            table,
            channel_ids: Vec::with_capacity(SPI_BATCH),
            keys: Vec::with_capacity(SPI_BATCH),
            values: Vec::with_capacity(SPI_BATCH),
        }
    }

    fn push(&mut self, channel_id: i64, key: i64, value: f64) -> SensorResult<()> {
        self.channel_ids.push(channel_id);
        self.keys.push(key);
        self.values.push(value);
        if self.values.len() >= SPI_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> SensorResult<()> {
        if self.values.is_empty() {
            return Ok(());
        }
        let (ids, keys, values) = (&self.channel_ids, &self.keys, &self.values);
        // The arrays are built inside the SPI connection, in its memory, freed at its end.
        let done = match self.table {
            SampleTable::Timed => {
                let times = keys
                    .iter()
                    .map(|&k| TimestampWithTimeZone::try_from(k))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        SensorError::new(ErrorKind::DatetimeOutOfRange, "timestamp out of range")
                    })?;
                Spi::connect_mut(|client| {
                    client
                        .update(
                            "INSERT INTO sensor.samples (channel_id, \"time\", value) SELECT * FROM ROWS FROM \
                             (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.timestamptz[]), pg_catalog.unnest($3::pg_catalog.float8[]))",
                            None,
                            &[ids.clone().into(), times.into(), values.clone().into()],
                        )
                        .map(|_| ())
                })
            }
            SampleTable::Indexed => Spi::connect_mut(|client| {
                client
                    .update(
                        "INSERT INTO sensor.indexed_samples (channel_id, sample_index, value) SELECT * FROM ROWS FROM \
                         (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.float8[]))",
                        None,
                        &[ids.clone().into(), keys.clone().into(), values.clone().into()],
                    )
                    .map(|_| ())
            }),
        };
        done.map_err(|e| spi_error(&e))?;
        self.channel_ids.clear();
        self.keys.clear();
        self.values.clear();
        Ok(())
    }
}
