//! Running the exported query: SPI prepares it (which also describes its result without
//! running it), a cursor runs it, and each fetch of `batch_rows` rows goes from the
//! executor's slots straight into Arrow column builders through our own `DestReceiver`:
//! no tuple copies into an SPI tuple table, no text round trip.

use std::ffi::{CStr, CString};

use clickhouse_arrow::{BatchBuilder, ColumnSpec};
use pgrx::list::PgList;
use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;
use pgrx::IntoDatum;

use super::columns::{not_null_columns, value_failure, ColumnReader, ResultColumn, SourceType};
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::quoting::quote_identifier;

/// An SPI connection, finished when dropped. While connected, `CurrentMemoryContext` is
/// SPI's procedure context: anything that must outlive the connection is allocated in a
/// context captured before connecting.
pub struct SpiConnection(());

impl SpiConnection {
    pub fn connect() -> SensorResult<SpiConnection> {
        // SAFETY: plain SPI call; its status is checked.
        let status = unsafe { pg_sys::SPI_connect() };
        if status != pg_sys::SPI_OK_CONNECT as i32 {
            return Err(SensorError::new(
                ErrorKind::Io,
                format!("could not connect to SPI (status {status})"),
            ));
        }
        Ok(SpiConnection(()))
    }
}

impl Drop for SpiConnection {
    fn drop(&mut self) {
        // SAFETY: pairs with the successful SPI_connect above; it only returns a status.
        unsafe {
            pg_sys::SPI_finish();
        }
    }
}

/// The time window of an incremental export: `column >= from AND column < to`.
#[derive(Debug, Clone, Copy)]
pub struct TimeWindow<'a> {
    pub column: &'a str,
    pub from: Option<TimestampWithTimeZone>,
    pub to: Option<TimestampWithTimeZone>,
}

/// A prepared query and the description of its result.
pub struct PreparedQuery {
    plan: pg_sys::SPIPlanPtr,
    params: Vec<Datum>,
    pub columns: Vec<ResultColumn>,
}

impl PreparedQuery {
    /// Prepares `query` (one statement that returns rows), restricted to `window` if given,
    /// and describes its result columns. Needs an SPI connection.
    pub fn prepare(
        _spi: &SpiConnection,
        query: &str,
        window: Option<&TimeWindow>,
    ) -> SensorResult<PreparedQuery> {
        let query = strip_terminator(query);
        let Some(window) = window else {
            return prepare_statement(query, &[]);
        };
        // Describe the query alone first, to check the time column by name and type.
        let inner = prepare_statement(query, &[])?;
        let Some(column) = inner.columns.iter().find(|c| c.name == window.column) else {
            return Err(SensorError::invalid_parameter(format!(
                "time_column \"{}\" is not a column of the query",
                window.column
            ))
            .with_hint(format!(
                "The query returns: {}.",
                column_list(&inner.columns)
            )));
        };
        if !SourceType::of(column.type_oid, column.typmod).is_time_column() {
            return Err(SensorError::invalid_parameter(format!(
                "time_column \"{}\" must be timestamptz, timestamp or date, not {}",
                window.column,
                type_name(column.type_oid)
            )));
        }
        let (sql, params) = windowed_sql(query, window);
        prepare_statement(&sql, &params)
    }

    /// Opens a cursor on the query, run with a fresh snapshot. The cursor outlives the SPI
    /// connection (until it is closed or the transaction ends).
    pub fn open_cursor(&self) -> SensorResult<Cursor> {
        let nulls = vec![b' ' as std::ffi::c_char; self.params.len()];
        let mut params = self.params.clone();
        // SAFETY: the plan is valid for the current SPI connection; params match its
        // argument types (timestamptz datums are by value).
        let portal = unsafe {
            pg_sys::SPI_cursor_open(
                std::ptr::null(),
                self.plan,
                if params.is_empty() {
                    std::ptr::null_mut()
                } else {
                    params.as_mut_ptr()
                },
                if nulls.is_empty() {
                    std::ptr::null()
                } else {
                    nulls.as_ptr()
                },
                false,
            )
        };
        if portal.is_null() {
            return Err(SensorError::new(
                ErrorKind::Io,
                "could not open a cursor on the query",
            ));
        }
        // SAFETY: a live portal's name is a valid C string.
        let name = unsafe { CStr::from_ptr((*portal).name) }.to_owned();
        Ok(Cursor { name })
    }
}

/// The query without trailing semicolons and blanks, so that it can be wrapped.
fn strip_terminator(query: &str) -> &str {
    query.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// `SELECT * FROM (<query>) WHERE column >= $1 AND column < $2`. The query goes on lines
/// of its own so that a trailing `--` comment cannot swallow the rest; operators are
/// schema-qualified for callers with any `search_path`.
fn windowed_sql(query: &str, window: &TimeWindow) -> (String, Vec<(Oid, Datum)>) {
    let column = quote_identifier(window.column);
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    for (bound, operator) in [(window.from, ">="), (window.to, "<")] {
        if let Some(value) = bound.and_then(|b| b.into_datum()) {
            params.push((pg_sys::TIMESTAMPTZOID, value));
            conditions.push(format!(
                "sensor_window.{column} OPERATOR(pg_catalog.{operator}) ${}",
                params.len()
            ));
        }
    }
    let sql = format!(
        "SELECT * FROM (\n{query}\n) AS sensor_window\nWHERE {}",
        if conditions.is_empty() {
            "true".to_string()
        } else {
            conditions.join(" AND ")
        }
    );
    (sql, params)
}

fn prepare_statement(sql: &str, params: &[(Oid, Datum)]) -> SensorResult<PreparedQuery> {
    let c_sql = CString::new(sql)
        .map_err(|_| SensorError::invalid_parameter("the query must not contain NUL characters"))?;
    let mut types: Vec<Oid> = params.iter().map(|(oid, _)| *oid).collect();
    // SAFETY: connected to SPI (the caller holds a SpiConnection); a syntax or name error
    // raises PostgreSQL's own ERROR.
    let plan = unsafe {
        pg_sys::SPI_prepare(
            c_sql.as_ptr(),
            i32::try_from(types.len()).unwrap_or(0),
            if types.is_empty() {
                std::ptr::null_mut()
            } else {
                types.as_mut_ptr()
            },
        )
    };
    if plan.is_null() {
        return Err(SensorError::invalid_parameter(
            "could not prepare the query",
        ));
    }
    // SAFETY: the plan was just prepared; its plan sources are valid while connected.
    unsafe {
        let sources =
            PgList::<pg_sys::CachedPlanSource>::from_pg(pg_sys::SPI_plan_get_plan_sources(plan));
        if sources.len() != 1 {
            return Err(SensorError::invalid_parameter(format!(
                "the query must be exactly one statement, not {}",
                sources.len()
            )));
        }
        let source = sources.head().unwrap_or(std::ptr::null_mut());
        let desc = if source.is_null() {
            std::ptr::null_mut()
        } else {
            (*source).resultDesc
        };
        if desc.is_null() {
            return Err(SensorError::invalid_parameter(
                "the query returns no rows: it must be a SELECT, VALUES or TABLE statement (or a statement with RETURNING)",
            ));
        }
        let natts = usize::try_from((*desc).natts).unwrap_or(0);
        let not_null = not_null_columns(source, natts);
        let mut columns = Vec::with_capacity(natts);
        for (i, not_null) in not_null.into_iter().enumerate() {
            let attribute = (*desc).attrs.as_ptr().add(i);
            columns.push(ResultColumn {
                name: attribute_name(&(*attribute).attname)?,
                type_oid: (*attribute).atttypid,
                typmod: (*attribute).atttypmod,
                not_null,
            });
        }
        Ok(PreparedQuery {
            plan,
            params: params.iter().map(|(_, d)| *d).collect(),
            columns,
        })
    }
}

/// A column name from the catalog as UTF-8.
fn attribute_name(name: &pg_sys::NameData) -> SensorResult<String> {
    // SAFETY: NameData is NUL-terminated within its 64 bytes.
    let bytes = unsafe { CStr::from_ptr(name.data.as_ptr()) };
    // SAFETY: as above; the conversion allocates in the current memory context.
    unsafe {
        let len = i32::try_from(bytes.to_bytes().len()).unwrap_or(0);
        let converted =
            pg_sys::pg_server_to_any(bytes.as_ptr(), len, pg_sys::pg_enc::PG_UTF8 as i32);
        CStr::from_ptr(converted)
            .to_str()
            .map(str::to_string)
            .map_err(|_| SensorError::invalid_input("a column name is not valid UTF-8"))
    }
}

pub fn column_list(columns: &[ResultColumn]) -> String {
    columns
        .iter()
        .map(|c| quote_identifier(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `format_type_be`: the SQL name of a type.
pub fn type_name(oid: Oid) -> String {
    // SAFETY: format_type_be returns a palloc'd string (or "???" for unknown OIDs).
    unsafe { CStr::from_ptr(pg_sys::format_type_be(oid)) }
        .to_string_lossy()
        .into_owned()
}

/// An open cursor, found again by name at each fetch (it may be fetched from in later
/// calls of a set-returning function).
pub struct Cursor {
    name: CString,
}

impl Cursor {
    fn portal(&self) -> SensorResult<pg_sys::Portal> {
        // SAFETY: a lookup in the portal hash table by name.
        let portal = unsafe { pg_sys::SPI_cursor_find(self.name.as_ptr()) };
        if portal.is_null() {
            return Err(SensorError::new(
                ErrorKind::UndefinedObject,
                format!(
                    "the export cursor \"{}\" was closed",
                    self.name.to_string_lossy()
                ),
            ));
        }
        Ok(portal)
    }

    /// Runs the next `count` rows of the query into `sink`'s column builders; returns
    /// how many rows were fetched (fewer than `count` at the end).
    pub fn fetch(&self, sink: &mut BatchSink, count: i64) -> SensorResult<u64> {
        let portal = self.portal()?;
        let mut receiver = ArrowReceiver {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(receive_slot),
                rStartup: Some(startup),
                rShutdown: Some(shutdown),
                rDestroy: Some(shutdown),
                mydest: pg_sys::CommandDest::DestNone,
            },
            sink: sink as *mut BatchSink,
        };
        // SAFETY: the portal is a live cursor of a row-returning query; the receiver and
        // the sink outlive the call (the receiver is only used during it).
        let fetched = unsafe {
            pg_sys::PortalRunFetch(
                portal,
                pg_sys::FetchDirection::FETCH_FORWARD,
                std::ffi::c_long::try_from(count).unwrap_or(std::ffi::c_long::MAX),
                std::ptr::addr_of_mut!(receiver).cast(),
            )
        };
        match sink.error.take() {
            Some(err) => Err(err),
            None => Ok(fetched),
        }
    }

    /// Closes the cursor (it is closed at the end of the transaction otherwise).
    pub fn close(self) {
        if let Ok(portal) = self.portal() {
            // SAFETY: a live portal of this transaction that is not running.
            unsafe { pg_sys::SPI_cursor_close(portal) };
        }
    }
}

/// Receives the cursor's rows into a [`BatchSink`].
#[repr(C)]
struct ArrowReceiver {
    base: pg_sys::DestReceiver,
    sink: *mut BatchSink,
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_slot(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    // SAFETY: the executor passes back the receiver we built in `Cursor::fetch`.
    let sink = &mut *(*receiver.cast::<ArrowReceiver>()).sink;
    if sink.error.is_some() {
        return false;
    }
    match sink.push_row(slot) {
        Ok(()) => true,
        Err(err) => {
            // Stops the executor; `fetch` returns the error.
            sink.error = Some(err);
            false
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    _receiver: *mut pg_sys::DestReceiver,
    _operation: std::ffi::c_int,
    _desc: pg_sys::TupleDesc,
) {
}

#[pg_guard]
unsafe extern "C-unwind" fn shutdown(_receiver: *mut pg_sys::DestReceiver) {}

/// Converts rows into the current Arrow batch.
pub struct BatchSink {
    readers: Vec<ColumnReader>,
    pub batch: BatchBuilder,
    /// Detoasted copies and output text of one row; reset after each row.
    row_context: pg_sys::MemoryContext,
    error: Option<SensorError>,
}

impl BatchSink {
    /// Readers for `columns`, whose specs made `batch`. Output functions and the row
    /// context are allocated under `context`, which must outlive the sink (the row
    /// context is deleted with it).
    ///
    /// # Safety
    /// `context` must be a valid memory context that outlives the sink.
    pub unsafe fn new(
        specs: &[ColumnSpec],
        sources: &[SourceType],
        batch: BatchBuilder,
        context: pg_sys::MemoryContext,
    ) -> BatchSink {
        let readers = specs
            .iter()
            .zip(sources)
            .map(|(spec, source)| ColumnReader::new(spec.clone(), source, context))
            .collect();
        let row_context = pg_sys::AllocSetContextCreateExtended(
            context,
            c"sensor arrow export row".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        BatchSink {
            readers,
            batch,
            row_context,
            error: None,
        }
    }

    unsafe fn push_row(&mut self, slot: *mut pg_sys::TupleTableSlot) -> SensorResult<()> {
        let natts = self.readers.len();
        let desc = (*slot).tts_tupleDescriptor;
        if desc.is_null() || usize::try_from((*desc).natts).ok() != Some(natts) {
            return Err(SensorError::new(
                ErrorKind::FeatureNotSupported,
                "the query's rows do not have the columns it was described with",
            ));
        }
        if usize::try_from((*slot).tts_nvalid).unwrap_or(0) < natts {
            pg_sys::slot_getsomeattrs_int(slot, (*desc).natts);
        }
        let values = std::slice::from_raw_parts((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
        let previous = pg_sys::MemoryContextSwitchTo(self.row_context);
        let mut result = Ok(());
        for ((reader, out), (value, null)) in self
            .readers
            .iter_mut()
            .zip(self.batch.columns_mut())
            .zip(values.iter().zip(nulls))
        {
            result = if *null {
                reader.push_null(out)
            } else {
                reader.push(out, *value)
            };
            if result.is_err() {
                break;
            }
        }
        pg_sys::MemoryContextSwitchTo(previous);
        if !(*self.row_context).isReset {
            pg_sys::MemoryContextReset(self.row_context);
        }
        result
    }
}

/// Maps a crate error of a whole batch (finishing or writing it) to a SensorError.
pub fn batch_failure(specs: &[ColumnSpec], err: clickhouse_arrow::ExportError) -> SensorError {
    match &err {
        clickhouse_arrow::ExportError::InvalidData { column, .. } => {
            match specs.iter().find(|s| &s.name == column) {
                Some(spec) => value_failure(spec, err),
                None => SensorError::from(err),
            }
        }
        _ => SensorError::from(err),
    }
}
