//! SPI queries of read paths. pgrx's `Spi::get_one*` run as updates (they first assign
//! the transaction an ID) and its `select` runs read-write once the transaction has written
//! (a command counter increment first); inside a parallel query both fail ("cannot assign
//! XIDs during a parallel operation", "cannot start commands during a parallel
//! operation"), and the first spends an XID on a plain SELECT. These never assign an ID,
//! and run read-only in parallel mode (where this command cannot have written anything) or
//! while the transaction has written nothing; otherwise read-write, seeing its writes.

use std::ffi::CString;

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::pg_sys;
use pgrx::spi::{self, Spi, SpiError};

/// One result row of [`select`], valid during its callback.
pub struct SpiRow<'a> {
    table: *mut pg_sys::SPITupleTable,
    index: usize,
    _call: std::marker::PhantomData<&'a ()>,
}

impl SpiRow<'_> {
    /// Column `ordinal` (1-based, as pgrx's rows), converted to `A`.
    pub fn get<A: FromDatum + IntoDatum>(&self, ordinal: i32) -> spi::Result<Option<A>> {
        // SAFETY: the table is SPI's current result, alive during the callback; `index` is
        // below SPI_processed; SPI_getbinval checks `ordinal` (NULL for a bad one).
        unsafe {
            let tupdesc = (*self.table).tupdesc;
            if ordinal < 1 || ordinal > (*tupdesc).natts {
                return Err(SpiError::SpiError(spi::SpiErrorCodes::NoAttribute));
            }
            let tuple = *(*self.table).vals.add(self.index);
            let mut isnull = false;
            let datum = pg_sys::SPI_getbinval(tuple, tupdesc, ordinal, &mut isnull);
            let oid = pg_sys::SPI_gettypeid(tupdesc, ordinal);
            Ok(A::try_from_datum(datum, isnull, oid)?)
        }
    }
}

/// Whether a query may run read-only (see the module documentation).
fn read_only() -> bool {
    // SAFETY: both only read the backend's transaction state.
    unsafe {
        pg_sys::IsInParallelMode()
            || pg_sys::GetCurrentTransactionIdIfAny() == pg_sys::InvalidTransactionId
    }
}

/// Runs `query` with `args` as $1, $2, … (at most `limit` rows when given) and passes each
/// result row to `each`, in order.
pub fn select(
    query: &str,
    args: &[DatumWithOid<'_>],
    limit: Option<i64>,
    mut each: impl FnMut(&SpiRow<'_>) -> spi::Result<()>,
) -> spi::Result<()> {
    // The extension's own query texts, without NUL bytes; pgrx's errors have no better kind.
    let sql = CString::new(query).map_err(|_| SpiError::NoTupleTable)?;
    let mut types: Vec<pg_sys::Oid> = args.iter().map(DatumWithOid::oid).collect();
    let mut values: Vec<pg_sys::Datum> = args
        .iter()
        .map(|a| {
            a.datum()
                .map_or(pg_sys::Datum::from(0usize), |d| d.sans_lifetime())
        })
        .collect();
    let nulls: Vec<std::ffi::c_char> = args
        .iter()
        .map(|a| if a.datum().is_some() { b' ' } else { b'n' } as std::ffi::c_char)
        .collect();
    let n = i32::try_from(args.len()).map_err(|_| SpiError::NoTupleTable)?;
    Spi::connect(|_client| {
        // SAFETY: connected to SPI (Spi::connect); the arrays hold `n` entries and live
        // through the call; the result table is read before the connection ends.
        unsafe {
            let rc = pg_sys::SPI_execute_with_args(
                sql.as_ptr(),
                n,
                types.as_mut_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                read_only(),
                limit.unwrap_or(0),
            );
            Spi::check_status(rc)?;
            let table = pg_sys::SPI_tuptable;
            if table.is_null() {
                return Err(SpiError::NoTupleTable);
            }
            for index in 0..usize::try_from(pg_sys::SPI_processed).unwrap_or(0) {
                each(&SpiRow {
                    table,
                    index,
                    _call: std::marker::PhantomData,
                })?;
            }
            Ok(())
        }
    })
}

/// The first row of `query` read with `read`; `InvalidPosition` when there is none (as
/// pgrx's `get_one`).
fn first_row<R>(
    query: &str,
    args: &[DatumWithOid<'_>],
    read: impl FnOnce(&SpiRow<'_>) -> spi::Result<R>,
) -> spi::Result<R> {
    let mut read = Some(read);
    let mut out = None;
    select(query, args, Some(1), |row| {
        if let Some(read) = read.take() {
            out = Some(read(row)?);
        }
        Ok(())
    })?;
    out.ok_or(SpiError::InvalidPosition)
}

pub fn get_one<A: FromDatum + IntoDatum>(query: &str) -> spi::Result<Option<A>> {
    get_one_with_args(query, &[])
}

pub fn get_one_with_args<A: FromDatum + IntoDatum>(
    query: &str,
    args: &[DatumWithOid<'_>],
) -> spi::Result<Option<A>> {
    first_row(query, args, |row| row.get(1))
}

pub fn get_two_with_args<A: FromDatum + IntoDatum, B: FromDatum + IntoDatum>(
    query: &str,
    args: &[DatumWithOid<'_>],
) -> spi::Result<(Option<A>, Option<B>)> {
    first_row(query, args, |row| Ok((row.get(1)?, row.get(2)?)))
}

/// Whether the function or aggregate `signature` (e.g. `sensor.f(bigint, text)`) is in the
/// catalog: the objects a version adds are missing while a database runs the new library
/// before `ALTER EXTENSION ... UPDATE`.
pub fn function_exists(signature: &str) -> crate::error::SensorResult<bool> {
    get_one_with_args::<bool>(
        "SELECT pg_catalog.to_regprocedure($1) IS NOT NULL",
        &[signature.into()],
    )
    .map(|exists| exists == Some(true))
    .map_err(|e| crate::error::SensorError::internal_query("looking up a function", e))
}
