//! The rows a set-returning function has computed and not yet returned, kept the way
//! PostgreSQL's own set-returning functions keep theirs: in a tuplestore, in memory up to
//! `work_mem` and in a temporary file beyond it. A result of millions of rows then costs
//! the backend `work_mem`, not millions of Rust tuples.
//!
//! Make the store in the function's body (pgrx runs it in the multi-call memory context,
//! which lives until the last row is returned), push rows as they are computed, and
//! return `TableIterator::new(store.into_rows())`.

use std::marker::PhantomData;

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::{pg_sys, FromDatum, IntoDatum};

/// A column of a stored row: its SQL type and its way in and out of a datum.
pub trait StoredColumn: Sized {
    fn type_oid() -> pg_sys::Oid;
    /// The datum (allocated in the current memory context), `None` for NULL.
    fn to_stored(self) -> Option<pg_sys::Datum>;
    /// # Safety
    /// `datum` was made by [`StoredColumn::to_stored`] of this type, or `is_null`.
    unsafe fn from_stored(datum: pg_sys::Datum, is_null: bool) -> Self;
}

impl<T: IntoDatum + FromDatum> StoredColumn for Option<T> {
    fn type_oid() -> pg_sys::Oid {
        T::type_oid()
    }
    fn to_stored(self) -> Option<pg_sys::Datum> {
        self.and_then(IntoDatum::into_datum)
    }
    unsafe fn from_stored(datum: pg_sys::Datum, is_null: bool) -> Self {
        // SAFETY: the caller's contract.
        unsafe { T::from_datum(datum, is_null) }
    }
}

/// Columns that are never NULL.
macro_rules! not_null_column {
    ($($t:ty),*) => {$(
        impl StoredColumn for $t {
            fn type_oid() -> pg_sys::Oid {
                <$t as IntoDatum>::type_oid()
            }
            fn to_stored(self) -> Option<pg_sys::Datum> {
                self.into_datum()
            }
            unsafe fn from_stored(datum: pg_sys::Datum, is_null: bool) -> Self {
                // SAFETY: the caller's contract; we stored a value, never NULL.
                unsafe { <$t as FromDatum>::from_datum(datum, is_null) }
                    .unwrap_or_else(|| pgrx::error!("sensor_analytics: a stored row lost a value"))
            }
        }
    )*};
}
not_null_column!(TimestampWithTimeZone, bool, i64, f64, Interval);

/// A row of a [`RowStore`]: a tuple of [`StoredColumn`]s.
pub trait StoredRow: Sized {
    fn type_oids() -> Vec<pg_sys::Oid>;
    fn to_stored(self, values: &mut [pg_sys::Datum], nulls: &mut [bool]);
    /// # Safety
    /// `values` and `nulls` hold a row made by [`StoredRow::to_stored`].
    unsafe fn from_stored(values: &[pg_sys::Datum], nulls: &[bool]) -> Self;
}

macro_rules! stored_row {
    ($($c:ident $i:tt),+) => {
        impl<$($c: StoredColumn),+> StoredRow for ($($c,)+) {
            fn type_oids() -> Vec<pg_sys::Oid> {
                vec![$($c::type_oid()),+]
            }
            fn to_stored(self, values: &mut [pg_sys::Datum], nulls: &mut [bool]) {
                $(
                    match self.$i.to_stored() {
                        Some(d) => { values[$i] = d; nulls[$i] = false; }
                        None => { values[$i] = pg_sys::Datum::from(0); nulls[$i] = true; }
                    }
                )+
            }
            unsafe fn from_stored(values: &[pg_sys::Datum], nulls: &[bool]) -> Self {
                // SAFETY: the caller's contract.
                unsafe { ($($c::from_stored(values[$i], nulls[$i]),)+) }
            }
        }
    };
}
stored_row!(A 0, B 1, C 2);
stored_row!(A 0, B 1, C 2, D 3);
stored_row!(A 0, B 1, C 2, D 3, E 4);
stored_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);

/// Rows waiting to be returned: in memory up to `work_mem`, then in a temporary file.
pub struct RowStore<R: StoredRow> {
    store: *mut pg_sys::Tuplestorestate,
    /// The memory context the store lives in.
    context: pg_sys::MemoryContext,
    desc: pg_sys::TupleDesc,
    /// Where a row's datums are made; reset after each row.
    scratch: pg_sys::MemoryContext,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    rows: u64,
    _row: PhantomData<R>,
}

impl<R: StoredRow> RowStore<R> {
    /// An empty store in the current memory context.
    pub fn new() -> Self {
        let oids = R::type_oids();
        let width = oids.len();
        // SAFETY: plain allocations in the current memory context; attribute numbers run
        // from 1 to the descriptor's width.
        unsafe {
            let desc = pg_sys::CreateTemplateTupleDesc(width as i32);
            for (i, oid) in oids.into_iter().enumerate() {
                pg_sys::TupleDescInitEntry(desc, (i + 1) as i16, std::ptr::null(), oid, -1, 0);
            }
            let store = pg_sys::tuplestore_begin_heap(false, false, pg_sys::work_mem);
            let scratch = pg_sys::AllocSetContextCreateInternal(
                pg_sys::CurrentMemoryContext,
                c"sensor row store".as_ptr(),
                pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
                pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
                pg_sys::ALLOCSET_SMALL_MAXSIZE as usize,
            );
            RowStore {
                store,
                context: pg_sys::CurrentMemoryContext,
                desc,
                scratch,
                values: vec![pg_sys::Datum::from(0); width],
                nulls: vec![true; width],
                rows: 0,
                _row: PhantomData,
            }
        }
    }

    /// Stores one row (copied: its datums are freed at once).
    pub fn push(&mut self, row: R) {
        // SAFETY: the datums are made in `scratch` and copied by tuplestore_putvalues into
        // the store's own memory before `scratch` is reset.
        unsafe {
            let caller = pg_sys::MemoryContextSwitchTo(self.scratch);
            row.to_stored(&mut self.values, &mut self.nulls);
            pg_sys::tuplestore_putvalues(
                self.store,
                self.desc,
                self.values.as_mut_ptr(),
                self.nulls.as_mut_ptr(),
            );
            pg_sys::MemoryContextSwitchTo(caller);
            pg_sys::MemoryContextReset(self.scratch);
        }
        self.rows += 1;
        if self.rows.is_multiple_of(4096) {
            pgrx::check_for_interrupts!();
        }
    }

    /// The rows in the order they were pushed.
    pub fn into_rows(self) -> StoredRows<R> {
        // SAFETY: a slot for the store's minimal tuples, in the store's memory context.
        let slot =
            unsafe { pg_sys::MakeSingleTupleTableSlot(self.desc, &pg_sys::TTSOpsMinimalTuple) };
        StoredRows {
            store: self.store,
            context: self.context,
            slot,
            width: self.values.len(),
            _row: PhantomData,
        }
    }
}

impl<R: StoredRow> Default for RowStore<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// The rows of a [`RowStore`], read once.
pub struct StoredRows<R: StoredRow> {
    /// Null once every row has been read (and the store ended).
    store: *mut pg_sys::Tuplestorestate,
    /// The store's memory context: a tuple read back from the file is allocated in the
    /// current one, and the slot frees it at the next read, after the executor has reset
    /// the context of a single call.
    context: pg_sys::MemoryContext,
    slot: *mut pg_sys::TupleTableSlot,
    width: usize,
    _row: PhantomData<R>,
}

impl<R: StoredRow> Iterator for StoredRows<R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        if self.store.is_null() {
            return None;
        }
        // SAFETY: the store and slot are alive (the multi-call memory context holds them);
        // the slot's tuple stays the store's until the next read, and from_stored copies it.
        unsafe {
            let caller = pg_sys::MemoryContextSwitchTo(self.context);
            let found = pg_sys::tuplestore_gettupleslot(self.store, true, false, self.slot);
            pg_sys::MemoryContextSwitchTo(caller);
            if !found {
                // Closes its temporary file now rather than at the end of the query.
                pg_sys::ExecDropSingleTupleTableSlot(self.slot);
                pg_sys::tuplestore_end(self.store);
                self.store = std::ptr::null_mut();
                return None;
            }
            crate::pg::slot::deform(self.slot, self.width);
            let values = std::slice::from_raw_parts((*self.slot).tts_values, self.width);
            let nulls = std::slice::from_raw_parts((*self.slot).tts_isnull, self.width);
            Some(R::from_stored(values, nulls))
        }
    }
}

impl<R: StoredRow> Drop for StoredRows<R> {
    fn drop(&mut self) {
        // Not read to the end (a set-returning function in a target list under LIMIT):
        // close the file now. During an abort the resource owner has closed it already.
        // SAFETY: the store is alive; IsTransactionState is a plain read.
        unsafe {
            if !self.store.is_null() && !std::thread::panicking() && pg_sys::IsTransactionState() {
                pg_sys::tuplestore_end(self.store);
                self.store = std::ptr::null_mut();
            }
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    include!("tests/row_store.rs");
}
