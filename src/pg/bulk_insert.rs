//! Bulk insertion the way `COPY … FROM` writes rows, for the loaders (`load_tdms`,
//! `load_tsv`). A loader describes its table as a [`TargetTable`] (the columns a row fills, all
//! of by-value types) and pushes rows of datums; what a row means stays with the loader.
//!
//! **Direct path** ([`BulkInsert`]). Batches of 1000 virtual slots go into the heap through
//! `table_multi_insert` with a `BulkInsertState` (one WAL record per page instead of per row, a
//! bulk-write buffer ring), then into every index through the executor's
//! `ExecInsertIndexTuples`, so a unique index still rejects a duplicate (23505) as it does for
//! COPY; all in a per-batch memory context. Values arrive as binary datums: nothing is parsed.
//!
//! It skips the executor's other duties, so it is taken only when none apply (`why_not_direct`):
//! a plain table (relkind `r`) without triggers (foreign
//! keys, deferrable constraints and older hypertables have some) or rules, INSERT privilege for
//! the current role, no row-level security, no CHECK
//! constraints or generated columns, exactly the target's columns with their types and no type
//! modifier (dropped columns stay NULL), and no deferrable unique or exclusion index. Otherwise
//! rows go through batched `INSERT … SELECT FROM ROWS FROM (unnest($1), …)` ([`SqlBatch`]),
//! which the executor handles in full (chunk routing, triggers, policies, permission errors).
//! A TimescaleDB hypertable's rows go to its chunks, each on its own direct path
//! ([`chunks`]), when the hypertable's shape allows it.
//!
//! **Deferred indexes** ([`Indexes::RebuildIfEmpty`]). Into an empty table (no pages yet, as
//! after TRUNCATE or CREATE) that this transaction can lock against other writers, index entries
//! are not inserted row by row: the indexes are rebuilt once, sorted, when the load ends
//! (`reindex_relation`, as pg_restore builds indexes after the data), and the rebuild checks
//! uniqueness like any index build (23505). Readers are not blocked while rows go in; from the
//! rebuild until the transaction ends the indexes are locked exclusively (as during REINDEX).
//!
//! **Upsert** ([`SqlBatch::upsert`]): `INSERT … ON CONFLICT (key) DO UPDATE`, for rows that
//! replace existing ones.
//!
//! Error paths do no cleanup: an error aborts the (sub)transaction, which releases the buffer
//! pins, relation references, locks and memory the direct path holds, as it does for COPY. An
//! early return without an error releases them when the inserter is dropped.

use std::ffi::{c_char, CStr};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;
use pgrx::PgMemoryContexts;

use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::quoting::quote_identifier;

mod chunks;
use chunks::ChunkRouter;

/// Rows per `table_multi_insert` call (COPY's MAX_BUFFERED_TUPLES).
const DIRECT_BATCH: usize = 1000;
/// Rows per statement on the SQL path.
const SQL_BATCH: usize = 10_000;

pub fn spi_error(err: &pgrx::spi::Error) -> SensorError {
    SensorError::internal_query("loading rows", err)
}

/// A column a row fills: its name and its (by-value) type.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub type_oid: pg_sys::Oid,
}

impl Column {
    pub const fn new(name: &'static str, type_oid: pg_sys::Oid) -> Self {
        Column { name, type_oid }
    }
}

/// A table a loader writes: its schema-qualified name and the columns of a row, in row order.
#[derive(Debug, Clone, Copy)]
pub struct TargetTable<const N: usize> {
    pub table: &'static str,
    pub columns: [Column; N],
}

impl<const N: usize> TargetTable<N> {
    /// The table's OID (sensor.create_storage() makes the tables of schema sensor_data).
    pub fn relid(&self) -> SensorResult<pg_sys::Oid> {
        let oid = Spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
            &[self.table.into()],
        )
        .map_err(|e| spi_error(&e))?;
        oid.filter(|o| *o != pg_sys::InvalidOid).ok_or_else(|| {
            SensorError::new(
                ErrorKind::UndefinedObject,
                format!("table {} does not exist", self.table),
            )
            .with_hint("sensor.create_storage() creates schema sensor_data and its tables when it is missing.")
        })
    }
}

/// How the direct path maintains indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexes {
    /// Index entries go in batch by batch, as COPY's do.
    RowByRow,
    /// Into an empty table that can be locked against other writers, the indexes are rebuilt
    /// once at the end instead (see the module docs); otherwise row by row.
    RebuildIfEmpty,
}

/// Rows into a table: on the direct path when it is sound (see the module docs), else through
/// batched `INSERT` statements.
pub struct BulkInsert<const N: usize> {
    path: Path<N>,
    rows: u64,
}

enum Path<const N: usize> {
    Direct(DirectInsert<N>),
    /// A hypertable's rows, each into its chunk's direct path.
    Chunks(ChunkRouter<N>),
    Sql(SqlBatch<N>),
}

impl<const N: usize> Path<N> {
    fn finish(self) -> SensorResult<()> {
        match self {
            Path::Direct(d) => d.finish(),
            Path::Chunks(c) => c.finish()?,
            Path::Sql(mut s) => s.flush()?,
        }
        Ok(())
    }
}

impl<const N: usize> BulkInsert<N> {
    pub fn open(target: &TargetTable<N>, indexes: Indexes) -> SensorResult<Self> {
        let path = match Self::try_direct(target, indexes)? {
            Ok(path) => path,
            Err(reason) => {
                pgrx::debug1!(
                    "rows go into {} through INSERT statements because {reason}",
                    target.table
                );
                Path::Sql(SqlBatch::insert(target)?)
            }
        };
        Ok(BulkInsert { path, rows: 0 })
    }

    fn try_direct(
        target: &TargetTable<N>,
        indexes: Indexes,
    ) -> SensorResult<Result<Path<N>, String>> {
        let relid = target.relid()?;
        if crate::pg::timescaledb::is_hypertable(relid)? {
            return Ok(ChunkRouter::open(target, relid)?
                .map(Path::Chunks)
                .map_err(|reason| format!("it is a TimescaleDB hypertable and {reason}")));
        }
        Ok(DirectInsert::open(target, relid, indexes, &[]).map(Path::Direct))
    }

    /// Why the direct path cannot be used for `target`, or `None` if it can.
    #[cfg(any(test, feature = "pg_test"))]
    pub fn direct_path_blocker(target: &TargetTable<N>) -> SensorResult<Option<String>> {
        match Self::try_direct(target, Indexes::RowByRow)? {
            Ok(path) => path.finish().map(|()| None),
            Err(reason) => Ok(Some(reason)),
        }
    }

    /// Whether rows take the direct path (into a hypertable's chunks, for a hypertable).
    pub fn is_direct(&self) -> bool {
        matches!(self.path, Path::Direct(_) | Path::Chunks(_))
    }

    /// True while index entries wait for [`Self::build_deferred_indexes`]: the table was empty,
    /// so the only rows in it are the ones this inserter wrote.
    pub fn indexes_deferred(&self) -> bool {
        matches!(&self.path, Path::Direct(d) if d.indexes_deferred)
    }

    /// Ends the deferred mode: writes the buffered rows, rebuilds every index of the table
    /// (checking uniqueness), and inserts index entries batch by batch from then on.
    pub fn build_deferred_indexes(&mut self) {
        if let Path::Direct(d) = &mut self.path {
            d.build_deferred_indexes();
        }
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows pushed so far on a direct path (a hypertable's rows of new or compressed
    /// chunks go through INSERT statements).
    pub fn direct_rows(&self) -> u64 {
        match &self.path {
            Path::Direct(_) => self.rows,
            Path::Chunks(c) => c.direct_rows(),
            Path::Sql(_) => 0,
        }
    }

    /// Adds one row: `row[i]` is the value of `columns[i]` of the target.
    #[inline]
    pub fn push(&mut self, row: [pg_sys::Datum; N]) -> SensorResult<()> {
        self.rows += 1;
        match &mut self.path {
            Path::Direct(d) => {
                d.push(row);
                Ok(())
            }
            Path::Chunks(c) => c.push(row),
            Path::Sql(s) => s.push(row),
        }
    }

    /// Writes the buffered rows now (so that a query sees them).
    pub fn flush(&mut self) -> SensorResult<()> {
        match &mut self.path {
            Path::Direct(d) => {
                d.flush();
                Ok(())
            }
            Path::Chunks(c) => c.flush(),
            Path::Sql(s) => s.flush(),
        }
    }

    /// Writes the last rows (and builds deferred indexes), releases the table. Returns the rows
    /// pushed.
    pub fn finish(self) -> SensorResult<u64> {
        self.path.finish()?;
        Ok(self.rows)
    }
}

/// The COPY FROM path: see the module docs. Lives within the transaction that opened it.
struct DirectInsert<const N: usize> {
    relid: pg_sys::Oid,
    rel: pg_sys::Relation,
    estate: *mut pg_sys::EState,
    result_rel: *mut pg_sys::ResultRelInfo,
    bistate: pg_sys::BulkInsertState,
    slots: Vec<*mut pg_sys::TupleTableSlot>,
    used: usize,
    /// Attribute positions of the target's columns.
    attnums: [usize; N],
    natts: usize,
    /// Rows go into the heap only; `build_deferred_indexes` indexes them all at once.
    indexes_deferred: bool,
    released: bool,
}

impl<const N: usize> DirectInsert<N> {
    /// Opens `relid` for the direct path, or says why it cannot take it (the relation is then
    /// closed again, keeping its lock). `guaranteed_checks` names CHECK constraints that
    /// every row pushed satisfies (a chunk's time range); any other refuses the direct path.
    /// Must run inside a transaction.
    fn open(
        target: &TargetTable<N>,
        relid: pg_sys::Oid,
        indexes: Indexes,
        guaranteed_checks: &[String],
    ) -> Result<Self, String> {
        // SAFETY: relid is an existing relation (TargetTable::relid); the sequence is CopyFrom()'s
        // (copyfrom.c) without its trigger, partition and FDW branches, which `why_not_direct`
        // rules out. What is allocated lives in the executor state's memory context.
        unsafe {
            let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let attnums = match why_not_direct(target, rel, guaranteed_checks) {
                Ok(attnums) => attnums,
                Err(reason) => {
                    pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
                    return Err(reason);
                }
            };
            let natts = (*(*rel).rd_att).natts as usize;
            let indexes_deferred =
                indexes == Indexes::RebuildIfEmpty && can_defer_indexes(relid, rel);
            let estate = pg_sys::CreateExecutorState();
            let mut query_cx = PgMemoryContexts::For((*estate).es_query_cxt);
            let (result_rel, slots, bistate) = query_cx.switch_to(|_| {
                let result_rel = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>())
                    .cast::<pg_sys::ResultRelInfo>();
                (*result_rel).type_ = pg_sys::NodeTag::T_ResultRelInfo;
                pg_sys::InitResultRelInfo(result_rel, rel, 1, std::ptr::null_mut(), 0);
                if !indexes_deferred {
                    pg_sys::ExecOpenIndices(result_rel, false);
                }
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
                (result_rel, slots, pg_sys::GetBulkInsertState())
            });
            Ok(DirectInsert {
                relid,
                rel,
                estate,
                result_rel,
                bistate,
                slots,
                used: 0,
                attnums,
                natts,
                indexes_deferred,
                released: false,
            })
        }
    }

    #[inline]
    fn push(&mut self, row: [pg_sys::Datum; N]) {
        // SAFETY: slots[used] is an empty (cleared after the last flush) virtual slot of this
        // relation's descriptor, whose arrays hold natts entries; the datums are by-value.
        unsafe {
            let slot = self.slots[self.used];
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, self.natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, self.natts);
            // Dropped columns stay NULL.
            nulls.fill(true);
            for (&att, datum) in self.attnums.iter().zip(row) {
                values[att] = datum;
                nulls[att] = false;
            }
            pg_sys::ExecStoreVirtualTuple(slot);
        }
        self.used += 1;
        if self.used == DIRECT_BATCH {
            self.flush();
        }
    }

    /// The batch's heap tuples, then its index entries, as CopyMultiInsertBufferFlush does.
    fn flush(&mut self) {
        if self.used == 0 {
            return;
        }
        pgrx::check_for_interrupts!();
        // SAFETY: the slots hold rows of this relation; heap_multi_insert sets their tts_tid,
        // which the index entries point to.
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
                    // Each time: the loaders run statements between batches.
                    pg_sys::GetCurrentCommandId(true),
                    0,
                    self.bistate,
                );
                // No index is open while they are deferred.
                if (*self.result_rel).ri_NumIndices > 0 {
                    let (rri, estate) = (self.result_rel, self.estate);
                    let (conflict, arbiters) = (std::ptr::null_mut(), std::ptr::null_mut());
                    for &slot in &self.slots[..used] {
                        // Deferrable indexes were refused at open, so nothing to recheck.
                        #[cfg(feature = "pg15")]
                        pg_sys::ExecInsertIndexTuples(
                            rri, slot, estate, false, false, conflict, arbiters,
                        );
                        #[cfg(not(feature = "pg15"))]
                        pg_sys::ExecInsertIndexTuples(
                            rri, slot, estate, false, false, conflict, arbiters, false,
                        );
                    }
                }
            });
            for &slot in &self.slots[..used] {
                pg_sys::ExecClearTuple(slot);
            }
            pg_sys::MemoryContextReset(per_batch);
        }
        self.used = 0;
    }

    fn build_deferred_indexes(&mut self) {
        if !self.indexes_deferred {
            return;
        }
        self.flush();
        self.indexes_deferred = false;
        // SAFETY: none of the table's indexes is open in this backend (can_defer_indexes),
        // which reindex_index requires; it runs index functions as the table owner.
        unsafe {
            let mut params = pg_sys::ReindexParams {
                options: 0,
                tablespaceOid: pg_sys::InvalidOid,
            };
            let flags = pg_sys::REINDEX_REL_CHECK_CONSTRAINTS as std::ffi::c_int;
            #[cfg(not(feature = "pg17"))]
            pg_sys::reindex_relation(self.relid, flags, &mut params);
            #[cfg(feature = "pg17")]
            pg_sys::reindex_relation(std::ptr::null(), self.relid, flags, &params);
            PgMemoryContexts::For((*self.estate).es_query_cxt)
                .switch_to(|_| pg_sys::ExecOpenIndices(self.result_rel, false));
        }
    }

    fn finish(mut self) {
        self.flush();
        self.release();
    }

    fn release(&mut self) {
        // Never leave rows that the indexes do not know about: even on an early return (whose
        // rows the caller then rolls back) the indexes are rebuilt over what was written.
        self.build_deferred_indexes();
        self.released = true;
        // SAFETY: releases what `open` acquired, in reverse order.
        unsafe {
            pg_sys::FreeBulkInsertState(self.bistate);
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

impl<const N: usize> Drop for DirectInsert<N> {
    fn drop(&mut self) {
        // On an early return (a file error) the buffered rows are dropped, not written: the
        // caller's (sub)transaction is about to be rolled back. While a PostgreSQL error
        // unwinds, the abort releases everything; calling into PostgreSQL now would be wrong.
        if !self.released && !std::thread::panicking() {
            self.used = 0;
            self.release();
        }
    }
}

/// The attribute positions of the target's columns, or why `rel` cannot take the direct path
/// (every check either loader ever needed; the hypertable check needs SPI and is done before).
///
/// # Safety
/// `rel` must be an open relation.
unsafe fn why_not_direct<const N: usize>(
    target: &TargetTable<N>,
    rel: pg_sys::Relation,
    guaranteed_checks: &[String],
) -> Result<[usize; N], String> {
    unsafe {
        let form = &*(*rel).rd_rel;
        let relid = form.oid;
        if form.relkind as u8 != pg_sys::RELKIND_RELATION {
            return Err("it is not a plain table (e.g. partitioned or foreign)".into());
        }
        if !(*rel).trigdesc.is_null() {
            return Err("it has triggers (a TimescaleDB hypertable has one)".into());
        }
        // (Not relhasrules: it stays set once the last rule is dropped.)
        if !(*rel).rd_rules.is_null() {
            return Err("it has rules".into());
        }
        if pg_sys::pg_class_aclcheck(relid, pg_sys::GetUserId(), pg_sys::ACL_INSERT as _)
            != pg_sys::AclResult::ACLCHECK_OK
        {
            // SQL raises the usual "permission denied".
            return Err("the current role has no INSERT privilege on it".into());
        }
        if form.relrowsecurity {
            return Err("it has row-level security enabled".into());
        }
        let desc = (*rel).rd_att;
        let constr = (*desc).constr;
        if !constr.is_null() {
            let checks = (0..usize::from((*constr).num_check))
                .map(|i| CStr::from_ptr((*(*constr).check.add(i)).ccname).to_string_lossy());
            let unchecked = checks
                .into_iter()
                .any(|name| !guaranteed_checks.iter().any(|g| *g == name));
            if unchecked || (*constr).has_generated_stored {
                return Err("it has CHECK constraints or generated columns".into());
            }
        }
        let natts = (*desc).natts as usize;
        let mut attnums = [usize::MAX; N];
        for (i, att) in (*desc).attrs.as_slice(natts).iter().enumerate() {
            if att.attisdropped {
                continue;
            }
            let name = CStr::from_ptr(att.attname.data.as_ptr()).to_string_lossy();
            let Some(k) = target.columns.iter().position(|c| c.name == name) else {
                return Err(format!("it has another column ({name})"));
            };
            if att.atttypid != target.columns[k].type_oid {
                return Err(format!("its column {name} has another type"));
            }
            // timestamptz(0) would round what we store as is.
            if att.atttypmod != -1 {
                return Err(format!("its column {name} has a type modifier"));
            }
            if att.attgenerated != 0 {
                return Err(format!("its column {name} is generated"));
            }
            attnums[k] = i;
        }
        if attnums.contains(&usize::MAX) {
            return Err("a column is missing".into());
        }
        // Deferred uniqueness checks would need the after-trigger queue. (Such indexes come
        // with a constraint trigger, refused above; this keeps the guarantee local.)
        if has_deferrable_index(rel) {
            return Err("it has a deferrable unique or exclusion index".into());
        }
        Ok(attnums)
    }
}

/// # Safety
/// `rel` must be an open relation.
unsafe fn has_deferrable_index(rel: pg_sys::Relation) -> bool {
    unsafe {
        let list = pg_sys::RelationGetIndexList(rel);
        if list.is_null() {
            return false;
        }
        let mut deferrable = false;
        for i in 0..usize::try_from((*list).length).unwrap_or(0) {
            let oid = (*(*list).elements.add(i)).oid_value;
            // The lock ExecOpenIndices takes.
            let index = pg_sys::index_open(oid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            deferrable |= !(*(*index).rd_index).indimmediate;
            pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        }
        pg_sys::list_free(list);
        deferrable
    }
}

/// Whether index maintenance can wait for one rebuild at the end: the table has no pages, no
/// one else in this session has it open, and no other transaction can write to it until ours
/// ends (a self-exclusive lock, taken without waiting so two loaders cannot deadlock).
///
/// # Safety
/// `rel` must be the open relation `relid`.
unsafe fn can_defer_indexes(relid: pg_sys::Oid, rel: pg_sys::Relation) -> bool {
    unsafe {
        let empty =
            || pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM) == 0;
        if (*rel).rd_refcnt != 1 || !empty() {
            return false;
        }
        let lock = pg_sys::ShareRowExclusiveLock as pg_sys::LOCKMODE;
        if !pg_sys::ConditionalLockRelationOid(relid, lock) {
            return false;
        }
        // Another transaction may have written between the check and the lock.
        if empty() {
            return true;
        }
        pg_sys::UnlockRelationOid(relid, lock);
        false
    }
}

/// Rows through batched `INSERT … SELECT * FROM ROWS FROM (unnest($1), …)` statements (one
/// array per column), prepared once: the fallback of the direct path, and the upsert.
pub struct SqlBatch<const N: usize> {
    table: &'static str,
    statement: OwnedPreparedStatement,
    elements: [Element; N],
    columns: [Vec<pg_sys::Datum>; N],
}

/// What `construct_array` needs to know about a column's type.
#[derive(Clone, Copy)]
struct Element {
    type_oid: pg_sys::Oid,
    array_oid: pg_sys::Oid,
    len: i16,
    by_value: bool,
    align: c_char,
}

impl<const N: usize> SqlBatch<N> {
    /// Plain `INSERT`.
    pub fn insert(target: &TargetTable<N>) -> SensorResult<Self> {
        Self::prepare(target, String::new())
    }

    /// `INSERT … ON CONFLICT (key) DO UPDATE`: a row replaces the one with the same key (its
    /// other columns take the new values). Rows of one batch must have distinct keys.
    pub fn upsert(target: &TargetTable<N>, key: &[&str]) -> SensorResult<Self> {
        let conflict = key
            .iter()
            .map(|k| quote_identifier(k))
            .collect::<Vec<_>>()
            .join(", ");
        let update = target
            .columns
            .iter()
            .filter(|c| !key.contains(&c.name))
            .map(|c| {
                let q = quote_identifier(c.name);
                format!("{q} = EXCLUDED.{q}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        Self::prepare(
            target,
            format!(" ON CONFLICT ({conflict}) DO UPDATE SET {update}"),
        )
    }

    fn prepare(target: &TargetTable<N>, on_conflict: String) -> SensorResult<Self> {
        let mut elements = [Element {
            type_oid: pg_sys::InvalidOid,
            array_oid: pg_sys::InvalidOid,
            len: 0,
            by_value: false,
            align: 0,
        }; N];
        for (element, column) in elements.iter_mut().zip(&target.columns) {
            element.type_oid = column.type_oid;
            // SAFETY: catalog lookups of a built-in type.
            unsafe {
                element.array_oid = pg_sys::get_array_type(column.type_oid);
                pg_sys::get_typlenbyvalalign(
                    column.type_oid,
                    &mut element.len,
                    &mut element.by_value,
                    &mut element.align,
                );
            }
        }
        let names = target
            .columns
            .iter()
            .map(|c| quote_identifier(c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let unnests = (1..=N)
            .map(|i| format!("pg_catalog.unnest(${i})"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} AS t ({names}) SELECT * FROM ROWS FROM ({unnests}){on_conflict}",
            target.table
        );
        let args: Vec<_> = elements.iter().map(|e| e.array_oid.into()).collect();
        let statement = Spi::connect(|client| client.prepare_mut(&sql, &args).map(|s| s.keep()))
            .map_err(|e| {
                SensorError::new(
                    ErrorKind::Io,
                    format!("could not prepare the INSERT into {}: {e}", target.table),
                )
            })?;
        Ok(SqlBatch {
            table: target.table,
            statement,
            elements,
            columns: std::array::from_fn(|_| Vec::with_capacity(SQL_BATCH)),
        })
    }

    /// Adds one row: `row[i]` is the value of `columns[i]` of the target.
    pub fn push(&mut self, row: [pg_sys::Datum; N]) -> SensorResult<()> {
        for (column, datum) in self.columns.iter_mut().zip(row) {
            column.push(datum);
        }
        if self.columns.first().map_or(0, Vec::len) >= SQL_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Runs the statement over the buffered rows.
    pub fn flush(&mut self) -> SensorResult<()> {
        let rows = self.columns.first().map_or(0, Vec::len);
        if rows == 0 {
            return Ok(());
        }
        let SqlBatch {
            statement,
            elements,
            columns,
            ..
        } = self;
        // The arrays are built inside the SPI connection, in its memory, freed at its end.
        Spi::connect_mut(|client| {
            let args: Vec<DatumWithOid> = columns
                .iter_mut()
                .zip(elements.iter())
                .map(|(column, e)| {
                    // SAFETY: `rows` datums of the element type (by value), described by the
                    // catalog; the array is palloc'd in the SPI context and passed with its type.
                    unsafe {
                        let array = pg_sys::construct_array(
                            column.as_mut_ptr(),
                            rows as i32,
                            e.type_oid,
                            e.len.into(),
                            e.by_value,
                            e.align,
                        );
                        DatumWithOid::new(pg_sys::Datum::from(array), e.array_oid)
                    }
                })
                .collect();
            client.update(&*statement, None, &args).map(|_| ())
        })
        .map_err(|e| {
            SensorError::new(
                ErrorKind::Io,
                format!("could not write rows into {}: {e}", self.table),
            )
        })?;
        for column in &mut self.columns {
            column.clear();
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("tests/bulk_insert.rs");
}
