//! Runs one read-only query and hands each result row to Rust while the executor produces
//! it: a prepared SPI plan executed by `SPI_execute_plan_extended` into our own
//! `DestReceiver`. Nothing is materialized (an SPI cursor's fetched batches stay allocated
//! until `SPI_finish`), so memory does not grow with the row count, and because the plan
//! runs to completion in one call the planner may choose a parallel plan.

use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::{ErrorKind, SensorError, SensorResult};

/// Rows between two interrupt checks of our own (the executor checks as well).
const INTERRUPT_CHECK_ROWS: u64 = 1 << 14;

/// Which leading result columns a sink reads: `read` of them, the first `absent` of which
/// the query leaves out (they read as NULL). A scan of a hypertable whose target list is
/// its columns alone needs no projection (a `Result` node per row above the chunks'
/// `Append`), which a constant column would add.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub read: usize,
    pub absent: usize,
}

impl From<usize> for Columns {
    fn from(read: usize) -> Self {
        Columns { read, absent: 0 }
    }
}

/// One result row, valid during [`RowSink::row`].
pub struct Row {
    slot: *mut pg_sys::TupleTableSlot,
    absent: usize,
}

impl Row {
    /// The executor's slot, for sinks that read every column at once.
    pub fn slot(&self) -> *mut pg_sys::TupleTableSlot {
        self.slot
    }

    /// The datum of column `index` (0-based), `None` for NULL.
    #[inline]
    pub fn datum(&self, index: usize) -> Option<pg_sys::Datum> {
        let index = index.checked_sub(self.absent)?;
        // SAFETY: the slot is the executor's current output slot; `index` is below the
        // column count checked at startup, so deforming up to it is in bounds.
        unsafe {
            super::slot::deform(self.slot, index + 1);
            if *(*self.slot).tts_isnull.add(index) {
                None
            } else {
                Some(*(*self.slot).tts_values.add(index))
            }
        }
    }

    /// A `float8` column.
    pub fn f64(&self, index: usize) -> Option<f64> {
        self.datum(index).map(|d| f64::from_bits(d.value() as u64))
    }

    /// An `int8` or `timestamptz` column (both are 64-bit integers passed by value).
    pub fn i64(&self, index: usize) -> Option<i64> {
        self.datum(index).map(|d| d.value() as i64)
    }

    /// An `int4` column.
    pub fn i32(&self, index: usize) -> Option<i32> {
        self.datum(index).map(|d| d.value() as i32)
    }

    /// An `int2` column.
    pub fn i16(&self, index: usize) -> Option<i16> {
        self.datum(index).map(|d| d.value() as i16)
    }

    /// A `text` column's bytes, passed to `f` (detoasted if needed, freed afterwards).
    pub fn with_text<R>(&self, index: usize, f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        let Some(datum) = self.datum(index) else {
            return f(None);
        };
        let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
        // SAFETY: a non-NULL text datum; pg_detoast_datum_packed returns it or a palloc'd
        // plain copy, which we free so long scans do not accumulate copies.
        unsafe {
            // Inline values (the usual case) are read in place: only compressed or
            // out-of-line ones need the (guarded, so not free) detoast call.
            if !pgrx::varatt_is_4b_c(raw) && !pgrx::varatt_is_1b_e(raw) {
                let len = pgrx::varsize_any_exhdr(raw);
                let data = pgrx::vardata_any(raw) as *const u8;
                return f(Some(std::slice::from_raw_parts(data, len)));
            }
            let plain = pg_sys::pg_detoast_datum_packed(raw);
            let len = pgrx::varsize_any_exhdr(plain);
            let data = pgrx::vardata_any(plain) as *const u8;
            let result = f(Some(std::slice::from_raw_parts(data, len)));
            if plain != raw {
                pg_sys::pfree(plain.cast());
            }
            result
        }
    }
}

/// Receives the rows of [`stream_rows`].
pub trait RowSink {
    /// Called once per row, in the query's order; an error stops the query.
    fn row(&mut self, row: &Row) -> SensorResult<()>;
}

/// A query parameter: its type and value (`None` = NULL).
#[derive(Clone, Copy)]
pub struct Param {
    pub type_oid: pg_sys::Oid,
    pub value: Option<pg_sys::Datum>,
}

impl Param {
    pub fn timestamptz(micros_since_2000: i64) -> Self {
        Param {
            type_oid: pg_sys::TIMESTAMPTZOID,
            value: Some(pg_sys::Datum::from(micros_since_2000)),
        }
    }

    pub fn int8(value: i64) -> Self {
        Param {
            type_oid: pg_sys::INT8OID,
            value: Some(pg_sys::Datum::from(value)),
        }
    }

    pub fn int4(value: i32) -> Self {
        Param {
            type_oid: pg_sys::INT4OID,
            value: Some(pg_sys::Datum::from(value)),
        }
    }
}

/// The one `DestReceiver` of the extension: rows go to a [`RowSink`] while the executor
/// produces them, for a plan run to completion ([`stream_rows`]) and for a cursor's
/// fetches ([`super::cursor::Cursor::fetch`]). PostgreSQL sees the first field.
#[repr(C)]
pub struct SinkReceiver<'a> {
    base: pg_sys::DestReceiver,
    columns: Columns,
    sink: &'a mut dyn RowSink,
    error: Option<SensorError>,
    rows: u64,
}

impl<'a> SinkReceiver<'a> {
    /// A receiver that passes rows to `sink`, which reads their first `columns` columns.
    pub fn new(columns: impl Into<Columns>, sink: &'a mut dyn RowSink) -> Self {
        SinkReceiver {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(receive_slot),
                rStartup: Some(startup),
                rShutdown: Some(shutdown),
                rDestroy: Some(shutdown),
                mydest: pg_sys::CommandDest::DestNone,
            },
            columns: columns.into(),
            sink,
            error: None,
            rows: 0,
        }
    }

    /// The pointer the executor takes; valid while `self` is.
    pub fn dest(&mut self) -> *mut pg_sys::DestReceiver {
        std::ptr::addr_of_mut!(self.base)
    }

    /// The rows received, or the error that stopped the executor.
    pub fn finish(mut self) -> SensorResult<u64> {
        match self.error.take() {
            Some(err) => Err(err),
            None => Ok(self.rows),
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_slot(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    // SAFETY: `receiver` is the `base` field of a live `SinkReceiver` (see `dest`).
    let this = unsafe { &mut *receiver.cast::<SinkReceiver>() };
    if this.error.is_some() {
        return false; // startup found too few columns to read
    }
    this.rows += 1;
    if this.rows % INTERRUPT_CHECK_ROWS == 0 {
        pgrx::check_for_interrupts!();
    }
    let row = Row {
        slot,
        absent: this.columns.absent,
    };
    match this.sink.row(&row) {
        Ok(()) => true,
        Err(err) => {
            this.error = Some(err);
            false // stops the executor
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    receiver: *mut pg_sys::DestReceiver,
    _operation: std::ffi::c_int,
    typeinfo: pg_sys::TupleDesc,
) {
    // SAFETY: as in receive_slot; typeinfo is the plan's result descriptor.
    let this = unsafe { &mut *receiver.cast::<SinkReceiver>() };
    let natts = unsafe { (*typeinfo).natts };
    let expected = this.columns.read.saturating_sub(this.columns.absent);
    if usize::try_from(natts).unwrap_or(0) < expected {
        this.error = Some(SensorError::new(
            ErrorKind::InvalidParameter,
            format!("query returns {natts} columns, {expected} expected"),
        ));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn shutdown(_receiver: *mut pg_sys::DestReceiver) {}

/// Runs `sql` (read-only, with `params` as $1, $2, …) and passes every row to `sink`.
/// `columns` is how many leading result columns the sink reads. Returns the row count.
/// Errors of the query itself (a missing column, a permission) are PostgreSQL's own.
/// The planner may choose a parallel plan, so rows of an unordered query may arrive
/// interleaved from several workers.
pub fn stream_rows(
    sql: &str,
    params: &[Param],
    columns: impl Into<Columns>,
    sink: &mut dyn RowSink,
) -> SensorResult<u64> {
    run(
        sql,
        params,
        columns.into(),
        sink,
        pg_sys::CURSOR_OPT_PARALLEL_OK as i32,
        false,
    )
    .map(|rows| rows.unwrap_or(0))
}

/// [`stream_rows`] with a serial plan: an unordered scan then delivers rows in heap order.
pub fn stream_rows_serial(
    sql: &str,
    params: &[Param],
    columns: impl Into<Columns>,
    sink: &mut dyn RowSink,
) -> SensorResult<u64> {
    run(sql, params, columns.into(), sink, 0, false).map(|rows| rows.unwrap_or(0))
}

/// [`stream_rows`] only if the planner chooses a parallel plan (one with a Gather); `None`,
/// with nothing run, otherwise. Give the values as literals: with parameters the planner
/// would estimate the rows of a generic plan.
pub fn stream_rows_if_parallel(
    sql: &str,
    columns: usize,
    sink: &mut dyn RowSink,
) -> SensorResult<Option<u64>> {
    run(
        sql,
        &[],
        columns.into(),
        sink,
        pg_sys::CURSOR_OPT_PARALLEL_OK as i32,
        true,
    )
}

/// How the planner would read `sql` (literals, no parameters) in parallel; nothing runs.
pub struct ParallelPlan {
    /// Its scan reads the relation's every block (a sequential scan), not an index range.
    pub sequential: bool,
}

/// The parallel plan the planner gives `sql` (literals, no parameters), if it gives one.
pub fn parallel_plan(sql: &str) -> SensorResult<Option<ParallelPlan>> {
    let c_sql = query_text(sql)?;
    Spi::connect(|_client| {
        // SAFETY: inside an SPI connection; the plan is freed before it ends.
        unsafe {
            let plan = prepare(&c_sql, &mut [], pg_sys::CURSOR_OPT_PARALLEL_OK as i32)?;
            let parallel = parallel_scan(plan);
            pg_sys::SPI_freeplan(plan);
            Ok(parallel)
        }
    })
}

/// `sql` for SPI: a query text never holds a NUL byte.
fn query_text(sql: &str) -> SensorResult<CString> {
    CString::new(sql)
        .map_err(|_| SensorError::invalid_parameter("a query text must not contain NUL bytes"))
}

/// `sql` prepared with parameters of `argtypes`: an unsaved plan, freed by the caller.
///
/// # Safety
/// Inside an SPI connection.
unsafe fn prepare(
    sql: &CString,
    argtypes: &mut [pg_sys::Oid],
    cursor_options: i32,
) -> SensorResult<pg_sys::SPIPlanPtr> {
    let nargs = i32::try_from(argtypes.len())
        .map_err(|_| SensorError::invalid_parameter("too many query parameters"))?;
    // SAFETY: see above; SPI copies the text and the types into the plan.
    let plan = unsafe {
        pg_sys::SPI_prepare_cursor(sql.as_ptr(), nargs, argtypes.as_mut_ptr(), cursor_options)
    };
    if plan.is_null() {
        return Err(spi_failure("prepare", unsafe { pg_sys::SPI_result }));
    }
    Ok(plan)
}

/// [`parallel_plan`] of an SPI plan: its first statement's, when parallel, with the first
/// scan down its outer (left) branch.
///
/// # Safety
/// `plan` is a valid SPI plan, inside an SPI connection.
unsafe fn parallel_scan(plan: pg_sys::SPIPlanPtr) -> Option<ParallelPlan> {
    unsafe {
        let cached = pg_sys::SPI_plan_get_cached_plan(plan);
        if cached.is_null() {
            return None;
        }
        let statements =
            pgrx::list::old_list::PgList::<pg_sys::PlannedStmt>::from_pg((*cached).stmt_list);
        let found = statements
            .get_ptr(0)
            .filter(|stmt| !stmt.is_null() && (**stmt).parallelModeNeeded)
            .map(|stmt| {
                let mut node = (*stmt).planTree;
                let mut sequential = false;
                while !node.is_null() {
                    match (*node).type_ {
                        pg_sys::NodeTag::T_SeqScan => {
                            sequential = true;
                            break;
                        }
                        pg_sys::NodeTag::T_IndexScan
                        | pg_sys::NodeTag::T_IndexOnlyScan
                        | pg_sys::NodeTag::T_BitmapHeapScan => break,
                        _ => node = (*node).lefttree,
                    }
                }
                ParallelPlan { sequential }
            });
        // An unsaved plan's cached plan has no resource owner (SPI_plan_get_cached_plan).
        pg_sys::ReleaseCachedPlan(cached, std::ptr::null_mut());
        found
    }
}

fn run(
    sql: &str,
    params: &[Param],
    columns: Columns,
    sink: &mut dyn RowSink,
    cursor_options: i32,
    only_parallel: bool,
) -> SensorResult<Option<u64>> {
    let c_sql = query_text(sql)?;
    let nargs = i32::try_from(params.len())
        .map_err(|_| SensorError::invalid_parameter("too many query parameters"))?;
    let mut argtypes: Vec<pg_sys::Oid> = params.iter().map(|p| p.type_oid).collect();
    let mut receiver = SinkReceiver::new(columns, sink);
    Spi::connect(|_client| {
        // SAFETY: inside an SPI connection; the plan, parameter list and receiver outlive
        // the execution, which runs to completion (tcount 0) before they are dropped.
        unsafe {
            let plan = prepare(&c_sql, &mut argtypes, cursor_options)?;
            if only_parallel && parallel_scan(plan).is_none() {
                pg_sys::SPI_freeplan(plan);
                return Ok(false);
            }
            let list = pg_sys::makeParamList(nargs);
            let slots = (*list).params.as_mut_slice(params.len());
            for (slot, param) in slots.iter_mut().zip(params) {
                *slot = pg_sys::ParamExternData {
                    value: param.value.unwrap_or(pg_sys::Datum::from(0)),
                    isnull: param.value.is_none(),
                    pflags: pg_sys::PARAM_FLAG_CONST as u16,
                    ptype: param.type_oid,
                };
            }
            let options = pg_sys::SPIExecuteOptions {
                params: list,
                read_only: true,
                allow_nonatomic: false,
                must_return_tuples: false,
                tcount: 0,
                dest: receiver.dest(),
                owner: std::ptr::null_mut(),
            };
            let rc = pg_sys::SPI_execute_plan_extended(plan, &options);
            pg_sys::SPI_freeplan(plan);
            if rc < 0 {
                return Err(spi_failure("execute", rc));
            }
            Ok(true)
        }
    })?
    .then(|| receiver.finish())
    .transpose()
}

fn spi_failure(action: &str, code: i32) -> SensorError {
    // SAFETY: SPI_result_code_string returns a static string for any code.
    let text = unsafe {
        std::ffi::CStr::from_ptr(pg_sys::SPI_result_code_string(code))
            .to_string_lossy()
            .into_owned()
    };
    SensorError::internal_query(&format!("could not {action} a query"), text)
}
