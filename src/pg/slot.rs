//! Reading a tuple table slot's leading columns, once per row on every scan we stream.
//!
//! `slot_getsomeattrs_int` through pgrx costs a `sigsetjmp` and a thread check per call
//! (its FFI guard): about a fifth of the time of a row streamed from a heap scan that needs
//! no projection (a hypertable chunk's rows, `perf` on `bench/downsample_series.sh`). The
//! slots PostgreSQL's heap scans and sorts produce deform by `slot_deform_heap_tuple`, which
//! only reads the tuple and never raises an error, so for those we call the slot's own
//! function directly; any other slot (a virtual one, an extension's custom slot such as a
//! TimescaleDB decompressed batch) goes through the guarded call.

use pgrx::pg_sys;

/// Makes the first `natts` columns of `slot` valid in `tts_values` / `tts_isnull`.
///
/// # Safety
/// `slot` is a live, non-empty slot whose descriptor has at least `natts` columns.
#[inline]
pub unsafe fn deform(slot: *mut pg_sys::TupleTableSlot, natts: usize) {
    let attnum = i16::try_from(natts).unwrap_or(i16::MAX);
    // SAFETY: per the function's contract.
    unsafe {
        if (*slot).tts_nvalid < attnum {
            deform_slow(slot, attnum);
        }
    }
}

unsafe fn deform_slow(slot: *mut pg_sys::TupleTableSlot, attnum: i16) {
    // SAFETY: per `deform`'s contract; the statics are PostgreSQL's slot callbacks, only
    // compared by address.
    unsafe {
        let ops = (*slot).tts_ops;
        let heap_slot = std::ptr::eq(ops, &raw const pg_sys::TTSOpsBufferHeapTuple)
            || std::ptr::eq(ops, &raw const pg_sys::TTSOpsHeapTuple)
            || std::ptr::eq(ops, &raw const pg_sys::TTSOpsMinimalTuple);
        let desc = (*slot).tts_tupleDescriptor;
        if heap_slot && !desc.is_null() && (*desc).natts >= i32::from(attnum) {
            if let Some(getsomeattrs) = (*ops).getsomeattrs {
                // slot_deform_heap_tuple: reads the tuple, raises nothing (execTuples.c).
                getsomeattrs(slot, i32::from(attnum));
                if (*slot).tts_nvalid >= attnum {
                    return;
                }
                // A tuple older than an added column: its defaults come from the
                // descriptor, through PostgreSQL's own (guarded) path below.
            }
        }
        pg_sys::slot_getsomeattrs_int(slot, i32::from(attnum));
    }
}
