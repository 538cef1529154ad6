//! Running a query through a cursor: SPI prepares it (which also describes its result
//! without running it), a portal runs it, and each fetch hands the executor's slots to a
//! [`RowSink`] through the one `DestReceiver` of [`super::row_stream`]: no tuple copies
//! into an SPI tuple table, no text round trip.

use std::ffi::{CStr, CString};

use pgrx::list::PgList;
use pgrx::pg_sys::{self, Datum, Oid};

use super::row_stream::{RowSink, SinkReceiver};
use crate::error::{ErrorKind, SensorError, SensorResult};

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

/// One result column of a prepared statement.
#[derive(Debug, Clone)]
pub struct ColumnDescription {
    pub name: String,
    pub type_oid: Oid,
    pub typmod: i32,
}

/// A prepared statement and the description of its result.
pub struct Prepared {
    plan: pg_sys::SPIPlanPtr,
    params: Vec<Datum>,
    /// The plan source, for analyses of the parsed statement; valid while connected.
    pub source: *mut pg_sys::CachedPlanSource,
    pub columns: Vec<ColumnDescription>,
}

impl Prepared {
    /// Prepares `sql` (one statement that returns rows; `params` are $1, $2, …) and
    /// describes its result columns without running it. Needs an SPI connection.
    pub fn prepare(
        _spi: &SpiConnection,
        sql: &str,
        params: &[(Oid, Datum)],
    ) -> SensorResult<Prepared> {
        let c_sql = CString::new(sql).map_err(|_| {
            SensorError::invalid_parameter("the query must not contain NUL characters")
        })?;
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
            let sources = PgList::<pg_sys::CachedPlanSource>::from_pg(
                pg_sys::SPI_plan_get_plan_sources(plan),
            );
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
            let mut columns = Vec::with_capacity(natts);
            for i in 0..natts {
                let attribute = (*desc).attrs.as_ptr().add(i);
                columns.push(ColumnDescription {
                    name: attribute_name(&(*attribute).attname)?,
                    type_oid: (*attribute).atttypid,
                    typmod: (*attribute).atttypmod,
                });
            }
            Ok(Prepared {
                plan,
                params: params.iter().map(|(_, d)| *d).collect(),
                source,
                columns,
            })
        }
    }
}

impl Prepared {
    /// Opens a cursor on the statement, run with a fresh snapshot. The cursor outlives the SPI
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
                format!("the cursor \"{}\" was closed", self.name.to_string_lossy()),
            ));
        }
        Ok(portal)
    }

    /// Runs the next `count` rows of the query into `sink` (which reads the first
    /// `columns` columns); returns how many rows were fetched (fewer than `count` at the
    /// end).
    pub fn fetch(&self, sink: &mut dyn RowSink, columns: usize, count: i64) -> SensorResult<u64> {
        let portal = self.portal()?;
        let mut receiver = SinkReceiver::new(columns, sink);
        // SAFETY: the portal is a live cursor of a row-returning query; the receiver and
        // the sink outlive the call (the receiver is only used during it).
        let fetched = unsafe {
            pg_sys::PortalRunFetch(
                portal,
                pg_sys::FetchDirection::FETCH_FORWARD,
                std::ffi::c_long::try_from(count).unwrap_or(std::ffi::c_long::MAX),
                receiver.dest(),
            )
        };
        receiver.finish().map(|_| fetched)
    }

    /// Closes the cursor (it is closed at the end of the transaction otherwise).
    pub fn close(self) {
        if let Ok(portal) = self.portal() {
            // SAFETY: a live portal of this transaction that is not running.
            unsafe { pg_sys::SPI_cursor_close(portal) };
        }
    }
}
