//! Bulk insertion into `sensor.electrical_samples` the way `COPY … FROM` does it: rows go into
//! the heap in batches (`table_multi_insert`, one WAL record per page instead of per row) with a
//! bulk-write buffer ring, then into every index through the executor's own
//! `ExecInsertIndexTuples`, so the primary key still rejects a duplicate (23505) exactly as it
//! does for COPY. What COPY spends on parsing text is saved: values arrive as binary datums.
//!
//! Into an **empty** table (no pages yet, as after TRUNCATE or CREATE) that this transaction can
//! lock against other writers, index entries are not inserted row by row at all: the indexes are
//! rebuilt once, sorted, when the load ends (`reindex_relation`, as pg_restore builds indexes
//! after the data). The rebuild checks uniqueness like any index build (23505). Readers are not
//! blocked while rows go in, but from the rebuild until the transaction ends the indexes are
//! locked exclusively (queries on the table wait, as they would during REINDEX).
//!
//! Only a plain table qualifies: no triggers (TimescaleDB hypertables, foreign keys and user
//! triggers all have some), no rules, no CHECK constraints or generated columns, exactly the
//! columns `(time timestamptz, channel integer, value float8)`, INSERT privilege, and no
//! row-level security in force for the current user. Anything else goes through SQL
//! (`sample_writer`), which the executor handles in full.

use std::ffi::CStr;

use pgrx::pg_sys;

use crate::error::{ErrorKind, SensorError, SensorResult};

/// Rows per `table_multi_insert` call (COPY uses up to 1000 as well).
const BATCH: usize = 1000;

pub struct BulkInserter {
    relid: pg_sys::Oid,
    rel: pg_sys::Relation,
    estate: *mut pg_sys::EState,
    result_rel: *mut pg_sys::ResultRelInfo,
    slots: Vec<*mut pg_sys::TupleTableSlot>,
    bulk_state: pg_sys::BulkInsertState,
    used: usize,
    closed: bool,
    /// Rows go into the heap only; `build_deferred_indexes` indexes them all at once.
    indexes_deferred: bool,
}

/// The OID of `sensor.electrical_samples`.
pub fn samples_relid() -> SensorResult<pg_sys::Oid> {
    // SAFETY: catalog lookups by name; both return InvalidOid when absent (missing_ok).
    let oid = unsafe {
        let namespace = pg_sys::get_namespace_oid(c"sensor".as_ptr(), true);
        if namespace == pg_sys::InvalidOid {
            pg_sys::InvalidOid
        } else {
            pg_sys::get_relname_relid(c"electrical_samples".as_ptr(), namespace)
        }
    };
    if oid == pg_sys::InvalidOid {
        return Err(SensorError::new(
            ErrorKind::UndefinedObject,
            "relation sensor.electrical_samples does not exist",
        )
        .with_hint("Is the sensor_analytics extension installed in this database?"));
    }
    Ok(oid)
}

/// Whether `rel` is a plain table with exactly our three columns and nothing that a bulk
/// heap insert would bypass.
///
/// # Safety
/// `rel` must be an open relation.
unsafe fn qualifies(rel: pg_sys::Relation) -> bool {
    let r = &*rel;
    if (*r.rd_rel).relkind as u8 != pg_sys::RELKIND_RELATION
        || !r.trigdesc.is_null()
        || !r.rd_rules.is_null()
        || (*r.rd_rel).relhasrules
    {
        return false;
    }
    let desc = &*r.rd_att;
    if !desc.constr.is_null() {
        let constr = &*desc.constr;
        if constr.num_check > 0 || constr.has_generated_stored {
            return false;
        }
    }
    let expected: [(&CStr, pg_sys::Oid); 3] = [
        (c"time", pg_sys::TIMESTAMPTZOID),
        (c"channel", pg_sys::INT4OID),
        (c"value", pg_sys::FLOAT8OID),
    ];
    if desc.natts != 3 {
        return false;
    }
    let attrs = desc.attrs.as_slice(3);
    attrs.iter().zip(expected).all(|(attr, (name, type_oid))| {
        !attr.attisdropped
            && attr.attgenerated == 0
            && attr.atttypid == type_oid
            && CStr::from_ptr(attr.attname.data.as_ptr()) == name
    })
}

/// Whether index maintenance can wait for one rebuild at the end: the table has no pages, no
/// one else in this session has it open, and no other transaction can write to it until ours
/// ends (a self-exclusive lock, taken without waiting so two loaders cannot deadlock).
///
/// # Safety
/// `rel` must be the open relation `relid`.
unsafe fn can_defer_indexes(relid: pg_sys::Oid, rel: pg_sys::Relation) -> bool {
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

impl BulkInserter {
    /// Opens `relid` for bulk insertion, or `None` when it does not qualify (see the module
    /// documentation) and rows must go through SQL.
    pub fn open(relid: pg_sys::Oid) -> Option<Self> {
        // SAFETY: the sequence of CopyFrom() (copyfrom.c) without its trigger, partition and
        // FDW branches, which `qualifies` rules out. Everything allocated lives in the
        // executor state's memory context, freed by `close` (or with the transaction).
        unsafe {
            let user = pg_sys::GetUserId();
            if pg_sys::pg_class_aclcheck(relid, user, pg_sys::ACL_INSERT as pg_sys::AclMode)
                != pg_sys::AclResult::ACLCHECK_OK
            {
                return None; // SQL raises the usual "permission denied"
            }
            if pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, false)
                == pg_sys::CheckEnableRlsResult::RLS_ENABLED as std::ffi::c_int
            {
                return None; // policies apply: only the executor enforces them
            }
            let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            if !qualifies(rel) {
                pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
                return None;
            }
            let estate = pg_sys::CreateExecutorState();
            let old = pg_sys::MemoryContextSwitchTo((*estate).es_query_cxt);
            let result_rel = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>())
                as *mut pg_sys::ResultRelInfo;
            (*result_rel).type_ = pg_sys::NodeTag::T_ResultRelInfo;
            pg_sys::InitResultRelInfo(result_rel, rel, 1, std::ptr::null_mut(), 0);
            let indexes_deferred = can_defer_indexes(relid, rel);
            if !indexes_deferred {
                pg_sys::ExecOpenIndices(result_rel, false);
            }
            let slots = (0..BATCH)
                .map(|_| pg_sys::table_slot_create(rel, std::ptr::null_mut()))
                .collect();
            let bulk_state = pg_sys::GetBulkInsertState();
            pg_sys::MemoryContextSwitchTo(old);
            Some(BulkInserter {
                relid,
                rel,
                estate,
                result_rel,
                slots,
                bulk_state,
                used: 0,
                closed: false,
                indexes_deferred,
            })
        }
    }

    /// True while index entries wait for `build_deferred_indexes`: the table was empty, so
    /// the only rows in it are the ones this inserter wrote.
    pub fn indexes_deferred(&self) -> bool {
        self.indexes_deferred
    }

    /// Ends the deferred mode: writes the buffered rows, rebuilds every index of the table
    /// (checking uniqueness), and inserts index entries row by row from then on.
    pub fn build_deferred_indexes(&mut self) {
        if !self.indexes_deferred {
            return;
        }
        self.flush();
        self.indexes_deferred = false;
        // SAFETY: our own index relations are not open (refcount check in `open`), which
        // reindex_index requires; it runs index functions as the table owner.
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
            let old = pg_sys::MemoryContextSwitchTo((*self.estate).es_query_cxt);
            pg_sys::ExecOpenIndices(self.result_rel, false);
            pg_sys::MemoryContextSwitchTo(old);
        }
    }

    /// Inserts one channel's points (`time` in PostgreSQL microseconds, not NULL values).
    pub fn insert(&mut self, channel: i32, points: &[(i64, f64)]) {
        for &(time, value) in points {
            // SAFETY: slots[used] is a live slot of this relation's type; the three datums are
            // by-value (int8/int4/float8 on 64-bit), matching the checked tuple descriptor.
            unsafe {
                let slot = self.slots[self.used];
                pg_sys::ExecClearTuple(slot);
                let values = std::slice::from_raw_parts_mut((*slot).tts_values, 3);
                let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, 3);
                values[0] = pg_sys::Datum::from(time);
                values[1] = pg_sys::Datum::from(channel);
                values[2] = pg_sys::Datum::from(value.to_bits());
                nulls.fill(false);
                pg_sys::ExecStoreVirtualTuple(slot);
            }
            self.used += 1;
            if self.used == BATCH {
                self.flush();
            }
        }
    }

    /// Writes the buffered rows: heap first, then index entries (which check uniqueness).
    pub fn flush(&mut self) {
        if self.used == 0 {
            return;
        }
        pgrx::check_for_interrupts!();
        // SAFETY: as in CopyMultiInsertBufferFlush(): multi-insert in the per-tuple memory
        // context (it may leak), then index entries for each inserted slot (tts_tid is set).
        unsafe {
            let estate = self.estate;
            let econtext = if (*estate).es_per_tuple_exprcontext.is_null() {
                pg_sys::MakePerTupleExprContext(estate)
            } else {
                (*estate).es_per_tuple_exprcontext
            };
            let old = pg_sys::MemoryContextSwitchTo((*econtext).ecxt_per_tuple_memory);
            pg_sys::table_multi_insert(
                self.rel,
                self.slots.as_mut_ptr(),
                self.used as i32,
                pg_sys::GetCurrentCommandId(true),
                0,
                self.bulk_state,
            );
            pg_sys::MemoryContextSwitchTo(old);
            for &slot in &self.slots[..self.used] {
                if !self.indexes_deferred && (*self.result_rel).ri_NumIndices > 0 {
                    #[cfg(feature = "pg15")]
                    let recheck = pg_sys::ExecInsertIndexTuples(
                        self.result_rel,
                        slot,
                        estate,
                        false,
                        false,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    );
                    #[cfg(not(feature = "pg15"))]
                    let recheck = pg_sys::ExecInsertIndexTuples(
                        self.result_rel,
                        slot,
                        estate,
                        false,
                        false,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        false,
                    );
                    pg_sys::list_free(recheck);
                }
                pg_sys::ExecClearTuple(slot);
            }
            pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
        }
        self.used = 0;
    }

    /// Flushes and releases everything; the table lock is kept until the transaction ends.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.flush();
        self.release();
    }

    fn release(&mut self) {
        // Never leave rows that the indexes do not know about: even on an early return (whose
        // rows the caller then rolls back) the indexes are rebuilt over what was written.
        self.build_deferred_indexes();
        self.closed = true;
        // SAFETY: releases what `open` acquired, in reverse order.
        unsafe {
            pg_sys::FreeBulkInsertState(self.bulk_state);
            for &slot in &self.slots {
                pg_sys::ExecDropSingleTupleTableSlot(slot);
            }
            pg_sys::ExecCloseIndices(self.result_rel);
            pg_sys::FreeExecutorState(self.estate);
            pg_sys::table_close(self.rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        }
    }
}

impl Drop for BulkInserter {
    fn drop(&mut self) {
        // While a PostgreSQL error unwinds, the (sub)transaction abort releases the relation,
        // buffers and memory; calling into PostgreSQL now would be wrong.
        // On an early return (a file error), buffered rows are dropped, not written: the
        // caller's (sub)transaction is about to be rolled back anyway. While a PostgreSQL
        // error unwinds, the (sub)transaction abort takes the heap rows away with it.
        if !self.closed && !std::thread::panicking() {
            self.used = 0;
            self.release();
        }
    }
}
